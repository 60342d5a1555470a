"""KeyCommands: generic key commands (EXPIRE*, TTL, TYPE, DUMP/RESTORE, COPY,
OBJECT, SORT, ...).

Methods only shape arguments and call ``execute_command``; reply parsers for
these commands are in ``RESPONSE_CALLBACKS`` below (merged into the one dict in
rediscluster/callbacks.py). Signatures and return shapes are redis-py 3.5.3's
for the commands it had (with current redis-py's new options: EXPIRE's
nx/xx/gt/lt, RESTORE's absttl/idletime/frequency), current redis-py's for the
newer ones (COPY, EXPIRETIME, PEXPIRETIME, SORT_RO).

Commands with several keys (COPY, SORT ... STORE, MIGRATE ... KEYS) need them in
one slot: the server answers CROSSSLOT otherwise. Across-slot DEL / EXISTS /
UNLINK / TOUCH / RENAME are in multikey.py; MOVE is blocked in cluster mode."""

from ._util import (
    DataError,
    list_or_args,
    to_millis,
    to_seconds,
    to_unix_millis,
    to_unix_seconds,
)

__all__ = ["KeyCommands", "RESPONSE_CALLBACKS"]


def _expire_flags(nx, xx, gt, lt):
    """The Redis 7 condition tokens of EXPIRE and friends (the server checks
    the combinations)."""
    flags = []
    if nx:
        flags.append("NX")
    if xx:
        flags.append("XX")
    if gt:
        flags.append("GT")
    if lt:
        flags.append("LT")
    return flags


def _sort_pieces(name, start, num, by, get, desc, alpha):
    if (start is not None and num is None) or (num is not None and start is None):
        raise DataError("``start`` and ``num`` must both be specified")
    pieces = [name]
    if by is not None:
        pieces.extend((b"BY", by))
    if start is not None:
        pieces.extend((b"LIMIT", start, num))
    if get is not None:
        # one pattern (a string) or several (any other iterable)
        if isinstance(get, (bytes, str)):
            pieces.extend((b"GET", get))
        else:
            for pattern in get:
                pieces.extend((b"GET", pattern))
    if desc:
        pieces.append(b"DESC")
    if alpha:
        pieces.append(b"ALPHA")
    return pieces


class KeyCommands:
    """Generic key commands (one key, or keys of one slot)."""

    # ------------------------------------------------------------------ expiry

    def expire(self, name, time, nx=False, xx=False, gt=False, lt=False):
        """Expire ``name`` in ``time`` seconds (int or timedelta); True if the
        timeout was set. ``nx``: only if it has no expiry, ``xx``: only if it has
        one, ``gt`` / ``lt``: only if the new expiry is later / earlier.
        https://redis.io/commands/expire"""
        return self.execute_command("EXPIRE", name, to_seconds(time),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpire(self, name, time, nx=False, xx=False, gt=False, lt=False):
        """Expire ``name`` in ``time`` milliseconds (int or timedelta); 1 if the
        timeout was set, else 0 (redis-py 3.5's int). Options as ``expire``.
        https://redis.io/commands/pexpire"""
        return self.execute_command("PEXPIRE", name, to_millis(time),
                                    *_expire_flags(nx, xx, gt, lt))

    def expireat(self, name, when, nx=False, xx=False, gt=False, lt=False):
        """Expire ``name`` at unix time ``when`` (seconds, or a datetime); True if
        the timeout was set. Options as ``expire``.
        https://redis.io/commands/expireat"""
        return self.execute_command("EXPIREAT", name, to_unix_seconds(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpireat(self, name, when, nx=False, xx=False, gt=False, lt=False):
        """Expire ``name`` at unix time ``when`` in milliseconds (or a datetime);
        1 if the timeout was set, else 0. Options as ``expire``.
        https://redis.io/commands/pexpireat"""
        return self.execute_command("PEXPIREAT", name, to_unix_millis(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def expiretime(self, key):
        """Unix time (seconds) at which ``key`` expires; -1 if it has no expiry,
        -2 if it does not exist. https://redis.io/commands/expiretime"""
        return self.execute_command("EXPIRETIME", key)

    def pexpiretime(self, key):
        """Unix time in milliseconds at which ``key`` expires; -1 / -2 as
        ``expiretime``. https://redis.io/commands/pexpiretime"""
        return self.execute_command("PEXPIRETIME", key)

    def persist(self, name):
        """Remove the expiry of ``name``; True if there was one.
        https://redis.io/commands/persist"""
        return self.execute_command("PERSIST", name)

    def ttl(self, name):
        """Seconds until ``name`` expires; -1 if it has no expiry, -2 if it does
        not exist. https://redis.io/commands/ttl"""
        return self.execute_command("TTL", name)

    def pttl(self, name):
        """Milliseconds until ``name`` expires; -1 / -2 as ``ttl``.
        https://redis.io/commands/pttl"""
        return self.execute_command("PTTL", name)

    # ------------------------------------------------------------- inspection

    def type(self, name):
        """Type of the value at ``name`` (``b'string'``, ``b'list'``, ...,
        ``b'none'`` if absent; str with decode_responses).
        https://redis.io/commands/type"""
        return self.execute_command("TYPE", name)

    def object(self, infotype, key, **kwargs):
        """OBJECT ``infotype`` of ``key``: ``'encoding'`` (e.g. ``b'embstr'``),
        ``'idletime'`` / ``'refcount'`` / ``'freq'`` (ints); None if the key
        does not exist. https://redis.io/commands/object-encoding"""
        return self.execute_command("OBJECT", infotype, key, infotype=infotype, **kwargs)

    def memory_usage(self, key, samples=None):
        """Bytes used by ``key`` and its value (None if absent). ``samples``:
        how many elements of a collection to sample (0: all; server default 5).
        https://redis.io/commands/memory-usage"""
        args = []
        if isinstance(samples, int):
            args.extend((b"SAMPLES", samples))
        return self.execute_command("MEMORY USAGE", key, *args)

    def randomkey(self):
        """A random key of a random node (replicas included), or None.
        https://redis.io/commands/randomkey"""
        return self.execute_command("RANDOMKEY")

    # ---------------------------------------------------- serialise and copy

    def dump(self, name):
        """Serialized value of ``name`` (for ``restore``), or None.
        https://redis.io/commands/dump"""
        return self.execute_command("DUMP", name)

    def restore(self, name, ttl, value, replace=False, absttl=False, idletime=None,
                frequency=None):
        """Create ``name`` from ``value`` (a ``dump``); ``ttl`` in ms (0: no
        expiry) or, with ``absttl``, a unix time in ms. ``replace`` overwrites an
        existing key; ``idletime`` (seconds) / ``frequency`` set the eviction
        data. Returns ``b'OK'`` (``'OK'`` with decode_responses).
        https://redis.io/commands/restore"""
        params = [name, ttl, value]
        if replace:
            params.append("REPLACE")
        if absttl:
            params.append("ABSTTL")
        if idletime is not None:
            try:
                params.extend(("IDLETIME", int(idletime)))
            except (TypeError, ValueError):
                raise DataError("idletime must be an integer") from None
        if frequency is not None:
            try:
                params.extend(("FREQ", int(frequency)))
            except (TypeError, ValueError):
                raise DataError("frequency must be an integer") from None
        return self.execute_command("RESTORE", *params)

    def copy(self, source, destination, destination_db=None, replace=False):
        """Copy the value of ``source`` to ``destination`` (same slot); True if
        copied. Without ``replace`` nothing is copied when ``destination``
        exists. ``destination_db`` can only be 0 in a cluster.
        https://redis.io/commands/copy"""
        params = [source, destination]
        if destination_db is not None:
            params.extend(("DB", destination_db))
        if replace:
            params.append("REPLACE")
        return self.execute_command("COPY", *params)

    def migrate(self, host, port, keys, destination_db, timeout, copy=False,
                replace=False, auth=None):
        """Move ``keys`` (one slot) to the Redis server ``host:port``, database
        ``destination_db``; ``timeout`` in ms. ``copy`` keeps them here,
        ``replace`` overwrites there, ``auth`` is the target's password.
        Returns ``b'OK'``, or ``b'NOKEY'`` if none of the keys exist.
        https://redis.io/commands/migrate"""
        keys = list_or_args(keys, [])
        if not keys:
            raise DataError("MIGRATE requires at least one key")
        pieces = []
        if copy:
            pieces.append(b"COPY")
        if replace:
            pieces.append(b"REPLACE")
        if auth:
            pieces.extend((b"AUTH", auth))
        pieces.append(b"KEYS")
        pieces.extend(keys)
        return self.execute_command("MIGRATE", host, port, "", destination_db, timeout,
                                    *pieces)

    def move(self, name, db):
        """MOVE to another database: blocked in cluster mode (raises
        RedisClusterException). https://redis.io/commands/move"""
        return self.execute_command("MOVE", name, db)

    # -------------------------------------------------------------------- sort

    def sort(self, name, start=None, num=None, by=None, get=None, desc=False,
             alpha=False, store=None, groups=False):
        """Sorted elements of the list, set or sorted set at ``name``.

        ``start``/``num``: a page (both or neither); ``by``: weight pattern
        (``*`` stands for the element); ``get``: pattern(s) of values to return
        instead; ``desc``; ``alpha``: sort as strings; ``store``: save to this
        key (returns the count); ``groups``: with two or more ``get`` patterns,
        return tuples. In a cluster ``store`` must be in ``name``'s slot (use a
        hash tag), and Redis 7.0 refuses ``by`` patterns (with ``*``) and
        ``get`` altogether. https://redis.io/commands/sort"""
        pieces = _sort_pieces(name, start, num, by, get, desc, alpha)
        if store is not None:
            pieces.extend((b"STORE", store))
        if groups:
            if not get or isinstance(get, (bytes, str)) or len(get) < 2:
                raise DataError('when using "groups" the "get" argument '
                                "must be specified and contain at least two keys")
        return self.execute_command("SORT", *pieces, groups=len(get) if groups else None)

    def sort_ro(self, key, start=None, num=None, by=None, get=None, desc=False,
                alpha=False):
        """Read-only SORT (no ``store``); arguments as ``sort``.
        https://redis.io/commands/sort_ro"""
        return self.execute_command("SORT_RO",
                                    *_sort_pieces(key, start, num, by, get, desc, alpha))


def _parse_object(response, infotype=None, **kwargs):
    """OBJECT: IDLETIME / REFCOUNT as int (or None), the rest as is."""
    if response is not None and str(infotype).lower() in ("idletime", "refcount"):
        return int(response)
    return response


def _sort_groups(response, groups=None, **kwargs):
    """SORT with ``groups=n``: the flat reply as a list of n-tuples."""
    if not response or not groups:
        return response
    return list(zip(*[response[i::groups] for i in range(groups)]))


def _int_or_none(response):
    return None if response is None else int(response)


#: upper-case command name -> reply parser, for the commands of this module
#: (the others return the reply as is, as in redis-py 3.5: TTL, PTTL, TYPE,
#: DUMP, RESTORE, MIGRATE, PEXPIRE, PEXPIREAT, EXPIRETIME, PEXPIRETIME, SORT_RO)
RESPONSE_CALLBACKS = {
    "COPY": bool,
    "EXPIRE": bool,
    "EXPIREAT": bool,
    "PERSIST": bool,
    "MEMORY USAGE": _int_or_none,
    "OBJECT": _parse_object,
    "RANDOMKEY": lambda r: r or None,
    "SORT": _sort_groups,
}
