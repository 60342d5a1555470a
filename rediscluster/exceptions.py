"""Exception hierarchy of rediscluster, and the table mapping server errors to it.

This module is pure Python on purpose (house style 7.7): the hierarchy stays
documented, picklable and subclassable, and the C extension ``rediscluster._core``
imports it once, from its exec slot, to get the classes it raises.

It must NOT import ``rediscluster._core``, nor anything else from the package
(``_core`` imports this module while the package is still initialising). Its only
optional import is redis-py.

What it defines:

* redis-py 3.5's base names (``RedisError``, ``ConnectionError``, ``ResponseError``,
  ...) with redis-py 3.5's relationships, plus ``ModuleError`` (redis-py 3.5.x does
  not have it; later redis-py does);
* the cluster classes of redis-py-cluster 2.1.3, with the same bases, constructors
  and attributes (``AskError.slot_id``/``host``/``port``/``node_addr``,
  ``ClusterDownError.message``, ...);
* ``ERROR_PREFIXES``, the one declarative table of server error codes, and
  ``error_from_reply()``, the pure-Python reference implementation of the mapping.
  ``_core`` implements the same rule in C from the same table; a unit test checks
  that they agree.

redis-py interoperability: if ``redis.exceptions`` can be imported, each class here
whose name also exists there gets the redis-py class as an extra, last base. So
``except redis.exceptions.ConnectionError`` still catches our ``ConnectionError``, and
``except redis.exceptions.ResponseError`` catches our ``MovedError``, as it did with
the original package, which derived its classes from redis-py's. Our classes always
come before redis-py's in every MRO, and each of our root classes pins
``__init__``/``__repr__``/``__str__``/``__reduce__`` to ``BaseException``'s, so
behaviour (args, repr, pickling) does not depend on whether redis-py is installed, or
on its version. If a future redis-py made the extra base impossible (an MRO conflict),
the class is built without it; ``tests/unit/test_exceptions.py`` fails in that case.
"""

try:
    import redis.exceptions as _rx
except Exception:  # not installed, blocked (sys.modules["redis"] = None), or broken
    _rx = None

__all__ = [
    "RedisError",
    "ConnectionError",
    "TimeoutError",
    "AuthenticationError",
    "AuthenticationWrongNumberOfArgsError",
    "BusyLoadingError",
    "InvalidResponse",
    "ResponseError",
    "DataError",
    "PubSubError",
    "WatchError",
    "NoScriptError",
    "ExecAbortError",
    "ReadOnlyError",
    "NoPermissionError",
    "ModuleError",
    "LockError",
    "LockNotOwnedError",
    "ChildDeadlockedError",
    "RedisClusterConfigError",
    "RedisClusterException",
    "SlotNotCoveredError",
    "RedisClusterError",
    "ClusterDownException",
    "ClusterError",
    "ClusterDownError",
    "MasterDownError",
    "ClusterCrossSlotError",
    "ClusterCrossSlotKeysError",
    "ClusterAuthenticationError",
    "AskError",
    "MovedError",
    "TryAgainError",
]


def _also_redis_py(name, bases, namespace):
    """Build class `name`, adding redis-py's namesake (if any) as an extra, last base.

    Used as ``metaclass=``: a callable metaclass only runs for the class statement
    that names it, so the class itself (and any user subclass) is a plain ``type``.
    A builtin base that the namesake already derives from (``Exception``,
    ``ValueError``) is dropped, since keeping it before the namesake would make the
    MRO inconsistent. If the combined bases still do not work, the class is built
    from `bases` alone.
    """
    theirs = getattr(_rx, name, None) if _rx is not None else None
    if isinstance(theirs, type) and issubclass(theirs, BaseException):
        combined = tuple(b for b in bases if not issubclass(theirs, b)) + (theirs,)
        try:
            return type(name, combined, namespace)
        except TypeError:  # MRO or layout conflict with a future redis-py
            pass
    return type(name, bases, namespace)


# Assigned in each root class below, so that redis-py's overrides (redis-py >= 5
# defines __init__ with a status_code keyword and a "server:ClassName" __repr__)
# never apply to our classes.
_PLAIN = (
    BaseException.__init__,
    BaseException.__repr__,
    BaseException.__str__,
    BaseException.__reduce__,
)


# --------------------------------------------------------------------------------
# redis-py 3.5 base names and relationships


class RedisError(Exception, metaclass=_also_redis_py):
    """Base class of every Redis error (redis-py's ``RedisError``)."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


class ConnectionError(RedisError, metaclass=_also_redis_py):
    """The connection to a node failed, or broke."""


class TimeoutError(RedisError, metaclass=_also_redis_py):
    """A socket operation timed out."""


class AuthenticationError(ConnectionError, metaclass=_also_redis_py):
    """The server refused our credentials (NOAUTH, WRONGPASS, invalid password)."""


class BusyLoadingError(ConnectionError, metaclass=_also_redis_py):
    """The server is loading its dataset into memory (LOADING)."""


class InvalidResponse(RedisError, metaclass=_also_redis_py):
    """The server sent bytes that are not valid RESP."""


class ResponseError(RedisError, metaclass=_also_redis_py):
    """The server answered with an error reply."""


class DataError(RedisError, metaclass=_also_redis_py):
    """An argument cannot be sent to Redis (wrong type or value)."""


class PubSubError(RedisError, metaclass=_also_redis_py):
    """Misuse of a PubSub object."""


class WatchError(RedisError, metaclass=_also_redis_py):
    """A watched key changed (kept for redis-py compatibility)."""


class NoScriptError(ResponseError, metaclass=_also_redis_py):
    """EVALSHA named a script the server does not know (NOSCRIPT)."""


class ExecAbortError(ResponseError, metaclass=_also_redis_py):
    """EXEC was aborted (EXECABORT)."""


class ReadOnlyError(ResponseError, metaclass=_also_redis_py):
    """A write was sent to a read-only replica (READONLY)."""


class NoPermissionError(ResponseError, metaclass=_also_redis_py):
    """The ACL user may not run this command (NOPERM)."""


class ModuleError(ResponseError, metaclass=_also_redis_py):
    """MODULE LOAD/UNLOAD failed."""


class AuthenticationWrongNumberOfArgsError(ResponseError, metaclass=_also_redis_py):
    """AUTH was sent with the wrong number of arguments for this server."""


class LockError(RedisError, ValueError, metaclass=_also_redis_py):
    """Errors acquiring or releasing a lock.

    Derives from ``ValueError`` too, as in redis-py (it once behaved like
    ``threading.Lock``).
    """


class LockNotOwnedError(LockError, metaclass=_also_redis_py):
    """Error trying to extend or release a lock that is (no longer) owned."""


class ChildDeadlockedError(Exception, metaclass=_also_redis_py):
    """A child process is deadlocked after a fork()."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


# --------------------------------------------------------------------------------
# redis-py-cluster 2.1.3 classes (API reference 6.1)


class RedisClusterConfigError(Exception, metaclass=_also_redis_py):
    """Invalid client configuration (``host_port_remap`` validation)."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


class RedisClusterException(Exception, metaclass=_also_redis_py):
    """Generic client-side cluster error: blocked command, no key, no startup nodes."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


class SlotNotCoveredError(RedisClusterException, metaclass=_also_redis_py):
    """No node is known to serve the slot; the client should refresh its slot map."""


class RedisClusterError(Exception, metaclass=_also_redis_py):
    """Defined by the original package, never raised."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


class ClusterDownException(Exception, metaclass=_also_redis_py):
    """Legacy name defined by the original package, never raised."""

    __init__, __repr__, __str__, __reduce__ = _PLAIN


class ClusterError(RedisError, metaclass=_also_redis_py):
    """Errors happened repeatedly and the request TTL ran out ('TTL exhausted.')."""


class ClusterDownError(ClusterError, ResponseError, metaclass=_also_redis_py):
    """The cluster is down (CLUSTERDOWN): some hash slot is not served.

    ``ClusterDownError(resp)``: ``args == (resp,)`` and ``message == resp``.
    """

    def __init__(self, resp):
        self.args = (resp,)
        self.message = resp


class MasterDownError(ClusterDownError, metaclass=_also_redis_py):
    """The replica lost its master and serves no stale data (MASTERDOWN)."""


class ClusterCrossSlotError(ResponseError, metaclass=_also_redis_py):
    """The keys of one command hash to different slots (CROSSSLOT)."""

    message = "Keys in request don't hash to the same slot"


class ClusterCrossSlotKeysError(ClusterCrossSlotError, RedisClusterException):
    """The keys of a command that needs them in one slot map to several, seen
    before sending (XREAD, XREADGROUP, BITOP, EVAL ...). redis-py-cluster 2.1.3
    raised ``RedisClusterException`` there, so this is both."""


class ClusterAuthenticationError(AuthenticationError, RedisClusterException):
    """The cluster refused our credentials while the client discovered the
    topology. redis-py-cluster 2.1.3 raised ``RedisClusterException`` there, so
    this is both."""


def _parse_redirect(resp):
    """Parse ``"SLOT HOST:PORT"`` into ``(slot, host, port)``, or None if malformed.

    The rules (the C parser in ``csrc/errors.c`` must agree): the text splits on
    whitespace into exactly two tokens; SLOT is ASCII digits below 16384; the
    address splits on its last ':' so IPv6 hosts work; PORT is ASCII digits in
    1..65535; one pair of brackets around the host is removed; the host may be
    empty (``":7000"``: the node that replied) or anything else. ``bytes`` are
    decoded as UTF-8 with replacement.
    """
    if isinstance(resp, (bytes, bytearray)):
        resp = bytes(resp).decode("utf-8", "replace")
    if not isinstance(resp, str):
        return None
    parts = resp.split()
    if len(parts) != 2:
        return None
    slot_text, addr = parts
    host, sep, port_text = addr.rpartition(":")
    if not sep:
        return None
    if not (slot_text.isascii() and slot_text.isdigit()):
        return None
    if not (port_text.isascii() and port_text.isdigit()):
        return None
    slot, port = int(slot_text), int(port_text)
    if slot >= 16384 or not 0 < port <= 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return slot, host, port


class AskError(ResponseError, metaclass=_also_redis_py):
    """The slot is being migrated: ask the named node (ASK), with ASKING first.

    ``AskError("3999 127.0.0.1:7002")`` has ``slot_id == 3999``,
    ``host == "127.0.0.1"``, ``port == 7002``, ``node_addr == ("127.0.0.1", 7002)``,
    ``args == (resp,)`` and ``message == resp``. Unlike the original, malformed text
    does not raise: ``slot_id``, ``host``, ``port`` and ``node_addr`` are then None.
    """

    def __init__(self, resp):
        self.args = (resp,)
        self.message = resp
        parsed = _parse_redirect(resp)
        if parsed is None:
            self.slot_id = self.host = self.port = self.node_addr = None
        else:
            self.slot_id, self.host, self.port = parsed
            self.node_addr = (self.host, self.port)


class MovedError(AskError, metaclass=_also_redis_py):
    """The slot now lives on another node (MOVED); same attributes as ``AskError``."""


class TryAgainError(ResponseError, metaclass=_also_redis_py):
    """The keys are split between two nodes during a migration (TRYAGAIN); retry.

    Like the original, ``__init__`` accepts and ignores anything. ``args`` still
    holds the positional arguments, because ``BaseException.__new__`` stores them.
    """

    def __init__(self, *args, **kwargs):
        pass


# --------------------------------------------------------------------------------
# Server error reply -> exception class


#: The one table of server error replies, searched in order; the first match wins.
#:
#: A key without a space is an error code: it matches when it equals the reply's
#: first space-separated word. A key with a space matches only a reply that equals
#: it exactly (redis-py's special ``ERR`` messages); those come first. In both cases
#: the exception gets the text after ``"CODE "`` (empty if there is none). A reply
#: that matches nothing becomes ``ResponseError(full_text)``.
#:
#: Rules: redis-py 3.5's ``EXCEPTION_CLASSES``, the cluster codes of
#: redis-py-cluster's ``ClusterParser``, and from current redis-py ``WRONGPASS``,
#: the Redis >= 6 "no password configured" message and the module errors.
ERROR_PREFIXES = (
    ("ERR max number of clients reached", ConnectionError),
    ("ERR Client sent AUTH, but no password is set", AuthenticationError),
    (
        "ERR AUTH <password> called without any password configured for the "
        "default user. Are you sure your configuration is correct?",
        AuthenticationError,
    ),
    ("ERR invalid password", AuthenticationError),
    (
        "ERR wrong number of arguments for 'auth' command",
        AuthenticationWrongNumberOfArgsError,
    ),
    (
        "ERR wrong number of arguments for 'AUTH' command",
        AuthenticationWrongNumberOfArgsError,
    ),
    ("ERR Error loading the extension. Please check the server logs.", ModuleError),
    ("ERR Error unloading module: no such module with that name", ModuleError),
    ("ERR Error unloading module: operation not possible.", ModuleError),
    (
        "ERR Error unloading module: the module exports one or more module-side "
        "data types, can't unload",
        ModuleError,
    ),
    ("ERR", ResponseError),
    ("MOVED", MovedError),
    ("ASK", AskError),
    ("TRYAGAIN", TryAgainError),
    ("CLUSTERDOWN", ClusterDownError),
    ("CROSSSLOT", ClusterCrossSlotError),
    ("MASTERDOWN", MasterDownError),
    ("LOADING", BusyLoadingError),
    ("NOSCRIPT", NoScriptError),
    ("READONLY", ReadOnlyError),
    ("NOAUTH", AuthenticationError),
    ("WRONGPASS", AuthenticationError),
    ("NOPERM", NoPermissionError),
    ("EXECABORT", ExecAbortError),
)


def error_from_reply(text):
    """Return the exception instance for a server error reply (without the ``-``).

    This is the reference for the C implementation and follows redis-py's
    ``parse_error``; ``bytes`` are decoded as UTF-8 with replacement, as redis-py's
    ``nativestr`` does.

    >>> error_from_reply("MOVED 3999 127.0.0.1:7002").node_addr
    ('127.0.0.1', 7002)
    >>> error_from_reply("ERR unknown command 'FOO'")
    ResponseError("unknown command 'FOO'")
    >>> error_from_reply("WRONGTYPE Operation against a key holding the wrong kind")
    ResponseError('WRONGTYPE Operation against a key holding the wrong kind')
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    code, _, message = text.partition(" ")
    for key, cls in ERROR_PREFIXES:
        if (key == text) if " " in key else (key == code):
            return cls(message)
    return ResponseError(text)
