"""Unit tests for rediscluster.exceptions: hierarchy, redis-py interop, pickling,
MOVED/ASK parsing and the server-error table. No server, no C extension needed."""

import ast
import copy
import doctest
import importlib
import json
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def _import(name):
    """Import ``rediscluster.<name>`` even when the package itself cannot be imported.

    The package ``__init__`` imports the C extension ``_core``. When that is not
    built (or ``rediscluster`` is not on the path at all), fall back to the source
    tree: register a bare package module whose ``__path__`` is ``rediscluster/``, so
    the submodule imports normally under its real name (pickling needs that). The
    repo root is appended to ``sys.path``, never prepended, so an installed package
    (a wheel under test) always wins.
    """
    if str(_REPO) not in sys.path:
        sys.path.append(str(_REPO))
    try:
        return importlib.import_module("rediscluster." + name)
    except ImportError:
        if "rediscluster" not in sys.modules:
            pkg = types.ModuleType("rediscluster")
            pkg.__path__ = [str(_REPO / "rediscluster")]
            sys.modules["rediscluster"] = pkg
        return importlib.import_module("rediscluster." + name)


E = _import("exceptions")

try:
    import redis.exceptions as rx
except ImportError:
    rx = None

needs_redis = pytest.mark.skipif(rx is None, reason="redis-py is not installed")

# Our classes and their direct parents: redis-py 3.5 for the base names,
# API reference 6.1 for the cluster ones.
HIERARCHY = {
    "RedisError": ("Exception",),
    "ConnectionError": ("RedisError",),
    "TimeoutError": ("RedisError",),
    "AuthenticationError": ("ConnectionError",),
    "AuthenticationWrongNumberOfArgsError": ("ResponseError",),
    "BusyLoadingError": ("ConnectionError",),
    "InvalidResponse": ("RedisError",),
    "ResponseError": ("RedisError",),
    "DataError": ("RedisError",),
    "PubSubError": ("RedisError",),
    "WatchError": ("RedisError",),
    "NoScriptError": ("ResponseError",),
    "ExecAbortError": ("ResponseError",),
    "ReadOnlyError": ("ResponseError",),
    "NoPermissionError": ("ResponseError",),
    "ModuleError": ("ResponseError",),
    "LockError": ("RedisError", "ValueError"),
    "LockNotOwnedError": ("LockError",),
    "ChildDeadlockedError": ("Exception",),
    "RedisClusterConfigError": ("Exception",),
    "RedisClusterException": ("Exception",),
    "SlotNotCoveredError": ("RedisClusterException",),
    "RedisClusterError": ("Exception",),
    "ClusterDownException": ("Exception",),
    "ClusterError": ("RedisError",),
    "ClusterDownError": ("ClusterError", "ResponseError"),
    "MasterDownError": ("ClusterDownError",),
    "ClusterCrossSlotError": ("ResponseError",),
    "ClusterCrossSlotKeysError": ("ClusterCrossSlotError", "RedisClusterException"),
    "ClusterAuthenticationError": ("AuthenticationError", "RedisClusterException"),
    "AskError": ("ResponseError",),
    "MovedError": ("AskError",),
    "TryAgainError": ("ResponseError",),
}

REDIRECT = "3999 127.0.0.1:7002"


def _is_ours(cls):
    return cls.__module__ == "rediscluster.exceptions"


def _fingerprint(module):
    """Everything observable about the classes that must not depend on redis-py.

    Run here and in a subprocess where redis-py is blocked; the results must match.
    """
    out = {"has_redis": module._rx is not None}
    for name in module.__all__:
        cls = getattr(module, name)
        visible = [k for k in cls.__mro__ if not k.__module__.startswith("redis.")]
        info = {
            "bases": [b.__name__ for b in cls.__bases__ if b in visible],
            "mro": [k.__name__ for k in visible],
        }
        arg = REDIRECT if issubclass(cls, module.AskError) else "boom"
        for label, args in (("one", (arg,)), ("none", ())):
            try:
                exc = cls(*args)
            except TypeError as err:
                info[label] = "TypeError: " + str(err)
                continue
            clone = pickle.loads(pickle.dumps(exc))
            info[label] = {
                "repr": repr(exc),
                "str": str(exc),
                "args": repr(exc.args),
                "dict": repr(sorted(vars(exc).items())),
                "pickle_same": type(clone) is cls
                and clone.args == exc.args
                and vars(clone) == vars(exc),
            }
        out[name] = info
    return out


# --- hierarchy --------------------------------------------------------------------


def test_all_lists_every_exception_class_once():
    assert len(E.__all__) == len(set(E.__all__))
    defined = {
        name
        for name, obj in vars(E).items()
        if isinstance(obj, type) and issubclass(obj, BaseException) and _is_ours(obj)
    }
    assert set(E.__all__) == defined == set(HIERARCHY)


@pytest.mark.parametrize("name", sorted(HIERARCHY))
def test_class_identity_and_parents(name):
    cls = getattr(E, name)
    assert cls.__name__ == cls.__qualname__ == name
    assert cls.__module__ == "rediscluster.exceptions"
    assert type(cls) is type  # the helper metaclass leaves no trace
    for parent in HIERARCHY[name]:
        base = getattr(E, parent, None) or getattr(__import__("builtins"), parent)
        assert issubclass(cls, base), (name, parent)


@pytest.mark.parametrize("name", sorted(HIERARCHY))
def test_ours_come_first_in_the_mro(name):
    mro = getattr(E, name).__mro__
    kinds = ["ours" if _is_ours(k) else "other" for k in mro]
    assert kinds == sorted(kinds, key=lambda k: k != "ours")


def test_relationships_users_rely_on():
    assert issubclass(E.ClusterDownError, E.ResponseError)
    assert issubclass(E.MasterDownError, E.ClusterError)
    assert issubclass(E.MovedError, E.AskError)
    assert issubclass(E.LockNotOwnedError, ValueError)
    assert issubclass(E.BusyLoadingError, E.ConnectionError)
    assert not issubclass(E.RedisClusterException, E.RedisError)
    assert not issubclass(E.ConnectionError, ConnectionError)  # not the builtin
    assert not issubclass(E.TimeoutError, TimeoutError)


def test_user_subclass_is_plain():
    class Mine(E.MovedError):
        pass

    assert type(Mine) is type
    assert Mine(REDIRECT).node_addr == ("127.0.0.1", 7002)


# --- constructors and attributes --------------------------------------------------


@pytest.mark.parametrize("cls", [E.AskError, E.MovedError])
def test_redirect_parsing(cls):
    e = cls(REDIRECT)
    assert e.args == (REDIRECT,)
    assert e.message == REDIRECT
    assert str(e) == REDIRECT
    assert repr(e) == f"{cls.__name__}('{REDIRECT}')"
    assert (e.slot_id, e.host, e.port) == (3999, "127.0.0.1", 7002)
    assert e.node_addr == ("127.0.0.1", 7002)


@pytest.mark.parametrize(
    "text, slot, host, port",
    [
        ("0 10.0.0.1:6379", 0, "10.0.0.1", 6379),
        ("16383 h:65535", 16383, "h", 65535),
        ("12 ::1:7000", 12, "::1", 7000),
        ("12 2001:db8::5:7000", 12, "2001:db8::5", 7000),
        ("12 [::1]:7000", 12, "::1", 7000),
        ("12 :7000", 12, "", 7000),  # empty host: the node that replied
        ("12 ?:7000", 12, "?", 7000),  # Redis 7 "unknown endpoint"
        ("12 redis-1.example.com:7000", 12, "redis-1.example.com", 7000),
        ("12  h:1\r\n", 12, "h", 1),
        (b"12 h:1", 12, "h", 1),
    ],
)
def test_redirect_parsing_variants(text, slot, host, port):
    e = E.MovedError(text)
    assert (e.slot_id, e.host, e.port, e.node_addr) == (slot, host, port, (host, port))
    assert e.args == (text,)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "3999",
        "3999 ",
        "x 127.0.0.1:7002",
        "-1 h:1",
        "+1 h:1",
        "1_0 h:1",
        "\u0661 h:1",  # ARABIC-INDIC DIGIT ONE: isdigit() but not ASCII
        "16384 h:1",
        "1 h",
        "1 h:",
        "1 h:x",
        "1 h:0",
        "1 h:65536",
        "1 h:1 extra",
        None,
        12,
    ],
)
def test_redirect_garbage_does_not_raise(text):
    e = E.AskError(text)
    assert e.args == (text,)
    assert e.message == text
    assert (e.slot_id, e.host, e.port, e.node_addr) == (None, None, None, None)


def test_redirect_needs_exactly_one_argument():
    with pytest.raises(TypeError):
        E.MovedError()
    with pytest.raises(TypeError):
        E.AskError("1 h:1", "extra")


@pytest.mark.parametrize("cls", [E.ClusterDownError, E.MasterDownError])
def test_cluster_down(cls):
    e = cls("CLUSTERDOWN error. Unable to rebuild the cluster")
    assert e.args == ("CLUSTERDOWN error. Unable to rebuild the cluster",)
    assert e.message == "CLUSTERDOWN error. Unable to rebuild the cluster"
    assert str(e) == e.message
    with pytest.raises(TypeError):
        cls()


def test_cross_slot_message_is_a_class_attribute():
    msg = "Keys in request don't hash to the same slot"
    assert E.ClusterCrossSlotError.message == msg
    e = E.ClusterCrossSlotError("server text")
    assert e.message == msg
    assert e.args == ("server text",)
    assert "message" not in vars(e)


def test_try_again_keeps_the_originals_quirks():
    # The original's __init__(*args, **kwargs) does nothing. BaseException.__new__
    # still stores the positional args, so args/str show the text (verified against
    # redis-py-cluster 2.1.3 on CPython); keyword arguments are accepted and dropped.
    e = E.TryAgainError("Multiple keys request during rehashing of slot", x=1)
    assert e.args == ("Multiple keys request during rehashing of slot",)
    assert str(e) == "Multiple keys request during rehashing of slot"
    assert vars(e) == {}
    assert E.TryAgainError().args == ()
    assert str(E.TryAgainError()) == ""


def test_plain_constructors():
    assert E.ClusterError("TTL exhausted.").args == ("TTL exhausted.",)
    assert repr(E.RedisClusterException("Missing key")) == (
        "RedisClusterException('Missing key')"
    )
    assert repr(E.ConnectionError("x")) == "ConnectionError('x')"
    assert E.LockError().args == ()
    assert E.LockError("a", "b").args == ("a", "b")
    with pytest.raises(TypeError):
        E.ResponseError("x", status_code="ERR")  # no redis-py >= 5 keywords


# --- pickling ---------------------------------------------------------------------


def _samples():
    for name in E.__all__:
        cls = getattr(E, name)
        if issubclass(cls, E.AskError):
            yield cls(REDIRECT)
            yield cls("not a redirect")
        else:
            yield cls("some text")
    yield E.TryAgainError()
    yield E.RedisError()
    yield E.ResponseError("a", 2, None)


@pytest.mark.parametrize("exc", list(_samples()), ids=repr)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(exc, protocol):
    clone = pickle.loads(pickle.dumps(exc, protocol))
    assert type(clone) is type(exc)
    assert clone.args == exc.args
    assert vars(clone) == vars(exc)
    assert str(clone) == str(exc)
    assert repr(clone) == repr(exc)


def test_copy_and_class_pickle():
    e = E.MovedError(REDIRECT)
    for clone in (copy.copy(e), copy.deepcopy(e)):
        assert clone.node_addr == e.node_addr and clone.args == e.args
    assert pickle.loads(pickle.dumps(E.MovedError)) is E.MovedError


def test_pickle_keeps_attributes_set_later():
    e = E.ResponseError("x")
    e.extra = {"node": "h:1"}
    assert pickle.loads(pickle.dumps(e)).extra == {"node": "h:1"}


# --- redis-py interop -------------------------------------------------------------


@needs_redis
def test_every_redis_py_namesake_is_a_base():
    shared = [n for n in E.__all__ if isinstance(getattr(rx, n, None), type)]
    assert "ResponseError" in shared and "ConnectionError" in shared
    for name in shared:
        assert issubclass(getattr(E, name), getattr(rx, name)), name


@needs_redis
def test_redis_py_except_clauses_catch_ours():
    assert isinstance(E.MovedError("1 h:1"), rx.ResponseError)
    assert isinstance(E.ClusterDownError("x"), rx.ResponseError)
    assert isinstance(E.BusyLoadingError("x"), rx.ConnectionError)
    assert isinstance(E.AuthenticationError("x"), rx.ConnectionError)
    assert isinstance(E.ClusterError("x"), rx.RedisError)
    assert isinstance(E.LockNotOwnedError("x"), rx.LockError)
    with pytest.raises(rx.ConnectionError):
        raise E.ConnectionError("down")
    with pytest.raises(rx.TimeoutError):
        raise E.TimeoutError("slow")


def test_behaviour_does_not_depend_on_redis_py():
    """Same hierarchy, reprs, args and pickling with redis-py blocked."""
    script = (
        "import importlib.util, json, sys\n"
        "sys.modules['redis'] = None\n"
        f"sys.path[:] = {json.dumps(sys.path)}\n"
        f"spec = importlib.util.spec_from_file_location('_t', {json.dumps(__file__)})\n"
        "t = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(t)\n"
        "print(json.dumps(t._fingerprint(t.E)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    without = json.loads(done.stdout)
    assert without.pop("has_redis") is False
    here = _fingerprint(E)
    assert here.pop("has_redis") is (rx is not None)
    for name in HIERARCHY:
        # exact direct parents when redis-py is not involved; with it, a root's
        # Exception base gives way to redis-py's class, so compare the MRO instead
        assert without[name].pop("bases") == list(HIERARCHY[name]), name
        here[name].pop("bases")
    assert here == without


# --- server error replies ---------------------------------------------------------

# Every rule the brief and redis-py require; the table may grow but not lose one.
REQUIRED_CODES = {
    "MOVED": "MovedError",
    "ASK": "AskError",
    "TRYAGAIN": "TryAgainError",
    "CLUSTERDOWN": "ClusterDownError",
    "CROSSSLOT": "ClusterCrossSlotError",
    "MASTERDOWN": "MasterDownError",
    "LOADING": "BusyLoadingError",
    "NOSCRIPT": "NoScriptError",
    "READONLY": "ReadOnlyError",
    "NOAUTH": "AuthenticationError",
    "WRONGPASS": "AuthenticationError",
    "NOPERM": "NoPermissionError",
    "EXECABORT": "ExecAbortError",
    "ERR": "ResponseError",
}
REQUIRED_ERR_MESSAGES = {
    "max number of clients reached": "ConnectionError",
    "Client sent AUTH, but no password is set": "AuthenticationError",
    "invalid password": "AuthenticationError",
    "wrong number of arguments for 'auth' command": (
        "AuthenticationWrongNumberOfArgsError"
    ),
    "wrong number of arguments for 'AUTH' command": (
        "AuthenticationWrongNumberOfArgsError"
    ),
}


def test_table_shape():
    table = E.ERROR_PREFIXES
    assert isinstance(table, tuple)
    keys = [key for key, _ in table]
    assert len(keys) == len(set(keys))
    for entry in table:
        key, cls = entry
        assert type(entry) is tuple and isinstance(key, str) and key
        assert key == key.strip() and "\r" not in key and "\n" not in key
        assert isinstance(cls, type) and _is_ours(cls), key
        assert issubclass(cls, E.RedisError)
    # an exact message must come before its bare code, or it could never match
    for i, (key, _) in enumerate(table):
        if " " in key:
            assert key.partition(" ")[0] not in keys[:i], key


def test_table_has_every_required_rule():
    table = dict(E.ERROR_PREFIXES)
    for code, name in REQUIRED_CODES.items():
        assert table[code] is getattr(E, name), code
    for message, name in REQUIRED_ERR_MESSAGES.items():
        assert table["ERR " + message] is getattr(E, name), message


def _reply_for(key):
    if " " in key:
        return key, key.partition(" ")[2]
    message = REDIRECT if key in ("MOVED", "ASK") else "some server text"
    return f"{key} {message}", message


@pytest.mark.parametrize("key, cls", E.ERROR_PREFIXES, ids=lambda v: str(v)[:40])
def test_every_table_entry(key, cls):
    reply, message = _reply_for(key)
    e = E.error_from_reply(reply)
    assert type(e) is cls
    assert e.args == (message,)


@pytest.mark.parametrize(
    "reply, cls, args",
    [
        ("MOVED 3999 127.0.0.1:7002", E.MovedError, ("3999 127.0.0.1:7002",)),
        ("ASK 12 ::1:7000", E.AskError, ("12 ::1:7000",)),
        ("ERR unknown command 'FOO'", E.ResponseError, ("unknown command 'FOO'",)),
        ("ERR", E.ResponseError, ("",)),
        ("ERR ", E.ResponseError, ("",)),
        ("MOVED", E.MovedError, ("",)),
        ("ERR invalid password ", E.ResponseError, ("invalid password ",)),
        ("ERR invalid password!", E.ResponseError, ("invalid password!",)),
        ("ERR Invalid password", E.ResponseError, ("Invalid password",)),
        (
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            E.ResponseError,
            ("WRONGTYPE Operation against a key holding the wrong kind of value",),
        ),
        ("BUSY Redis is busy", E.ResponseError, ("BUSY Redis is busy",)),
        ("err lower case", E.ResponseError, ("err lower case",)),
        ("MOVEDX 1 h:1", E.ResponseError, ("MOVEDX 1 h:1",)),
        ("MOVED\t1 h:1", E.ResponseError, ("MOVED\t1 h:1",)),  # only ' ' splits
        ("", E.ResponseError, ("",)),
        (" ERR x", E.ResponseError, (" ERR x",)),
        (b"LOADING Redis is loading", E.BusyLoadingError, ("Redis is loading",)),
        (b"ERR caf\xc3\xa9 \xff", E.ResponseError, ("caf\xe9 \ufffd",)),
    ],
)
def test_error_from_reply(reply, cls, args):
    e = E.error_from_reply(reply)
    assert type(e) is cls
    assert e.args == args


def test_error_from_reply_parses_redirects():
    e = E.error_from_reply("MOVED 3999 127.0.0.1:7002")
    assert (e.slot_id, e.node_addr) == (3999, ("127.0.0.1", 7002))
    e = E.error_from_reply("ASK 1")
    assert e.node_addr is None


def test_error_from_reply_matches_a_scan_of_the_table():
    """The documented rule, written out independently."""

    def by_rule(text):
        code = text.split(" ")[0]
        for key, cls in E.ERROR_PREFIXES:
            if (" " in key and text == key) or key == code:
                return cls, text[len(code) + 1 :]
        return E.ResponseError, text

    replies = [_reply_for(key)[0] for key, _ in E.ERROR_PREFIXES]
    replies += [r + " tail" for r in replies] + ["X y", "ERR", "", "NOAUTH"]
    for reply in replies:
        e = E.error_from_reply(reply)
        cls, message = by_rule(reply)
        assert (type(e), e.args) == (cls, (message,)), reply


# --- module rules -----------------------------------------------------------------


def _imports(path):
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


def test_exceptions_module_imports_only_redis_py():
    assert _imports(E.__file__) == ["redis.exceptions"]


def test_doctests():
    failed, attempted = doctest.testmod(E)
    assert attempted and not failed
