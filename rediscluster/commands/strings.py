"""StringCommands: strings and bitmaps (GET, SET, INCRBY, GETEX, LCS, BITFIELD, ...).

Methods only shape arguments and call ``execute_command``; reply parsers for
these commands are in ``RESPONSE_CALLBACKS`` below (merged into the one dict in
rediscluster/callbacks.py). Signatures and return shapes are redis-py 3.5.3's
for the commands it had, current redis-py's for the newer ones (GETDEL, GETEX,
LCS, BITFIELD_RO, SET's ``get``/``exat``/``pxat``, BITCOUNT/BITPOS ``mode``).
Every command here has one key, except LCS (two keys, same slot)."""

from .. import _core
from ._util import (
    DataError,
    exclusive,
    to_millis,
    to_seconds,
    to_unix_millis,
    to_unix_seconds,
)

__all__ = ["StringCommands", "BitFieldOperation", "RESPONSE_CALLBACKS"]


def _expiry_pieces(ex, px, exat, pxat):
    """EX/PX/EXAT/PXAT tokens (at most one of them is set: callers check)."""
    if ex is not None:
        return ["EX", to_seconds(ex)]
    if px is not None:
        return ["PX", to_millis(px)]
    if exat is not None:
        return ["EXAT", to_unix_seconds(exat)]
    if pxat is not None:
        return ["PXAT", to_unix_millis(pxat)]
    return []


class BitFieldOperation:
    """Builds one BITFIELD command from chained sub-operations.

    ``rc.bitfield(key).set('u8', 0, 200).incrby('u8', 0, 100).get('u8', 0).execute()``
    sends ``BITFIELD key SET u8 0 200 INCRBY u8 0 100 GET u8 0`` and returns the
    list of results (an int, or None for an INCRBY that overflowed with FAIL).
    Offsets may be ints or ``'#n'`` strings (n times the field width).
    ``default_overflow`` (WRAP, SAT or FAIL) applies from the start; ``execute``
    resets the builder, so it can be reused. https://redis.io/commands/bitfield
    """

    def __init__(self, client, key, default_overflow=None):
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self):
        """Forget the queued operations (back to the state after construction)."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow):
        """Overflow behaviour (WRAP, SAT or FAIL) of the INCRBY operations that
        follow; an OVERFLOW token is queued only when it changes."""
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(self, fmt, offset, increment, overflow=None):
        """Add ``increment`` to the field ``fmt`` (e.g. ``'i5'``, ``'u8'``) at
        ``offset``; ``overflow`` switches the overflow mode first."""
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt, offset):
        """Read the field ``fmt`` at ``offset``."""
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt, offset, value):
        """Write ``value`` into the field ``fmt`` at ``offset`` (the old value
        is returned in the results)."""
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self):
        """The command as a list: ``['BITFIELD', key, op, args..., ...]``."""
        cmd = ["BITFIELD", self.key]
        for op in self.operations:
            cmd.extend(op)
        return cmd

    def execute(self):
        """Send the queued operations as one BITFIELD command (then reset);
        returns one result per GET/SET/INCRBY. In a pipeline the result comes
        with the pipeline's ``execute()``."""
        command = self.command
        self.reset()
        return self.client.execute_command(*command)


class StringCommands:
    """String and bitmap commands."""

    # -------------------------------------------------------------- get / set

    def get(self, name):
        """Value of ``name``, or None if it does not exist. https://redis.io/commands/get"""
        return self.execute_command("GET", name)

    def set(self, name, value, ex=None, px=None, nx=False, xx=False, keepttl=False,
            get=False, exat=None, pxat=None):
        """Set ``name`` to ``value``.

        ``ex`` / ``px``: expire in seconds / milliseconds (int or timedelta);
        ``exat`` / ``pxat``: expire at a unix time in seconds / milliseconds
        (int or datetime); ``keepttl``: keep the current TTL (at most one of
        these five). ``nx``: only if ``name`` does not exist; ``xx``: only if it
        does. Returns True, or None when NX/XX prevented the write. With
        ``get=True`` it returns the old value instead (None if there was none).
        https://redis.io/commands/set"""
        if (ex is None and px is None and exat is None and pxat is None
                and not (nx or xx or keepttl or get)):
            return self.execute_command("SET", name, value)  # the common case, kept cheap
        exclusive(nx=nx, xx=xx)
        exclusive(ex=ex is not None, px=px is not None, exat=exat is not None,
                  pxat=pxat is not None, keepttl=keepttl)
        pieces = [name, value]
        pieces.extend(_expiry_pieces(ex, px, exat, pxat))
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if keepttl:
            pieces.append("KEEPTTL")
        if get:
            pieces.append("GET")
            return self.execute_command("SET", *pieces, get=True)
        return self.execute_command("SET", *pieces)

    def __getitem__(self, name):
        """``rc[name]``: the value, or KeyError if ``name`` does not exist."""
        value = self.get(name)
        if value is not None:
            return value
        raise KeyError(name)

    def __setitem__(self, name, value):
        """``rc[name] = value``: SET."""
        self.set(name, value)

    def __delitem__(self, name):
        """``del rc[name]``: DEL (no error if it did not exist)."""
        self.delete(name)

    def __contains__(self, name):
        """``name in rc``: whether the key exists (EXISTS)."""
        return self.exists(name)

    def getdel(self, name):
        """Value of ``name`` (None if absent), deleting the key.
        https://redis.io/commands/getdel"""
        return self.execute_command("GETDEL", name)

    def getex(self, name, ex=None, px=None, exat=None, pxat=None, persist=False):
        """Value of ``name`` (None if absent), changing its expiry: ``ex`` /
        ``px`` relative (seconds / ms, int or timedelta), ``exat`` / ``pxat``
        absolute (unix s / ms, int or datetime), or ``persist`` to remove it
        (at most one). https://redis.io/commands/getex"""
        exclusive(ex=ex is not None, px=px is not None, exat=exat is not None,
                  pxat=pxat is not None, persist=persist)
        pieces = _expiry_pieces(ex, px, exat, pxat)
        if persist:
            pieces.append("PERSIST")
        return self.execute_command("GETEX", name, *pieces)

    def getset(self, name, value):
        """Set ``name`` to ``value`` and return the old value (or None).
        https://redis.io/commands/getset"""
        return self.execute_command("GETSET", name, value)

    def setex(self, name, time, value):
        """Set ``name`` to ``value`` expiring in ``time`` seconds (int or
        timedelta); True. https://redis.io/commands/setex"""
        return self.execute_command("SETEX", name, to_seconds(time), value)

    def psetex(self, name, time_ms, value):
        """Set ``name`` to ``value`` expiring in ``time_ms`` milliseconds (int or
        timedelta); True. https://redis.io/commands/psetex"""
        return self.execute_command("PSETEX", name, to_millis(time_ms), value)

    def setnx(self, name, value):
        """Set ``name`` to ``value`` if it does not exist; True if it was set.
        https://redis.io/commands/setnx"""
        return self.execute_command("SETNX", name, value)

    # -------------------------------------------------------- parts of strings

    def append(self, key, value):
        """Append ``value`` to the string at ``key`` (created if absent); returns
        the new length. https://redis.io/commands/append"""
        return self.execute_command("APPEND", key, value)

    def getrange(self, key, start, end):
        """Bytes ``start`` to ``end`` (inclusive, negative from the end) of the
        value of ``key``. https://redis.io/commands/getrange"""
        return self.execute_command("GETRANGE", key, start, end)

    def substr(self, name, start, end=-1):
        """Like ``getrange`` (the old SUBSTR command); ``end`` defaults to the
        last byte. https://redis.io/commands/substr"""
        return self.execute_command("SUBSTR", name, start, end)

    def setrange(self, name, offset, value):
        """Overwrite the value of ``name`` from byte ``offset`` with ``value``
        (zero-padded if the string is shorter); returns the new length.
        https://redis.io/commands/setrange"""
        return self.execute_command("SETRANGE", name, offset, value)

    def strlen(self, name):
        """Length in bytes of the value of ``name`` (0 if absent).
        https://redis.io/commands/strlen"""
        return self.execute_command("STRLEN", name)

    def lcs(self, key1, key2, len=False, idx=False, minmatchlen=0, withmatchlen=False):
        """Longest common subsequence of the strings at ``key1`` and ``key2``
        (same slot): the string; with ``len`` its length; with ``idx`` the raw
        match list ``[b'matches', [...], b'len', n]`` (``minmatchlen`` filters
        short matches, ``withmatchlen`` adds each match's length).
        https://redis.io/commands/lcs"""
        pieces = [key1, key2]
        if len:
            pieces.append("LEN")
        if idx:
            pieces.append("IDX")
        if minmatchlen:
            pieces.extend(("MINMATCHLEN", minmatchlen))
        if withmatchlen:
            pieces.append("WITHMATCHLEN")
        return self.execute_command("LCS", *pieces)

    # ---------------------------------------------------------------- counters

    def incr(self, name, amount=1):
        """Add ``amount`` to the integer at ``name`` (0 if absent); returns the
        new value. https://redis.io/commands/incrby"""
        return self.execute_command("INCRBY", name, amount)

    def incrby(self, name, amount=1):
        """Same as ``incr``. https://redis.io/commands/incrby"""
        return self.execute_command("INCRBY", name, amount)

    def decr(self, name, amount=1):
        """Subtract ``amount`` from the integer at ``name`` (0 if absent); returns
        the new value. https://redis.io/commands/decrby"""
        return self.execute_command("DECRBY", name, amount)

    def decrby(self, name, amount=1):
        """Same as ``decr``. https://redis.io/commands/decrby"""
        return self.execute_command("DECRBY", name, amount)

    def incrbyfloat(self, name, amount=1.0):
        """Add the float ``amount`` to the number at ``name``; returns the new
        value as a float. https://redis.io/commands/incrbyfloat"""
        return self.execute_command("INCRBYFLOAT", name, amount)

    # ----------------------------------------------------------------- bitmaps

    def getbit(self, name, offset):
        """The bit (0 or 1) at ``offset`` of the value of ``name``.
        https://redis.io/commands/getbit"""
        return self.execute_command("GETBIT", name, offset)

    def setbit(self, name, offset, value):
        """Set the bit at ``offset`` to ``value`` (any truthy value means 1);
        returns the previous bit. https://redis.io/commands/setbit"""
        return self.execute_command("SETBIT", name, offset, 1 if value else 0)

    def bitop(self, operation, dest, *keys):
        """BITOP ``operation`` (AND, OR, XOR, NOT) of ``keys`` into ``dest``;
        the length of ``dest``. All keys, ``dest`` included, must map to one
        slot (ClusterCrossSlotKeysError, a RedisClusterException, otherwise;
        2.1.3 blocked BITOP). https://redis.io/commands/bitop"""
        self._check_one_slot_keys("BITOP", (dest,) + keys)
        return self.execute_command("BITOP", operation, dest, *keys)

    def bitcount(self, key, start=None, end=None, mode=None):
        """Number of set bits in the value of ``key``, optionally in the range
        ``start`` to ``end`` (both or neither) of bytes, or of bits with
        ``mode='BIT'``. https://redis.io/commands/bitcount"""
        params = [key]
        if start is not None and end is not None:
            params.extend((start, end))
        elif start is not None or end is not None:
            raise DataError("Both start and end must be specified")
        if mode is not None:
            params.append(mode)
        return self.execute_command("BITCOUNT", *params)

    def bitpos(self, key, bit, start=None, end=None, mode=None):
        """Position of the first ``bit`` (0 or 1) in the value of ``key``,
        searching from byte ``start`` to ``end`` (bits with ``mode='BIT'``);
        -1 if there is none. https://redis.io/commands/bitpos"""
        if bit not in (0, 1):
            raise DataError("bit must be 0 or 1")
        params = [key, bit]
        if start is not None:
            params.append(start)
            if end is not None:
                params.append(end)
        elif end is not None:
            raise DataError("start argument is not set, when end is specified")
        if mode is not None:
            params.append(mode)
        return self.execute_command("BITPOS", *params)

    def bitfield(self, key, default_overflow=None):
        """A ``BitFieldOperation`` that builds one BITFIELD command on ``key``
        (chain ``.set``/``.get``/``.incrby``/``.overflow``, then ``.execute()``).
        https://redis.io/commands/bitfield"""
        return BitFieldOperation(self, key, default_overflow=default_overflow)

    def bitfield_ro(self, key, encoding, offset, items=None):
        """Read-only BITFIELD: the field ``encoding`` at ``offset``, then each
        ``(encoding, offset)`` of ``items``; returns the list of values.
        https://redis.io/commands/bitfield_ro"""
        params = [key, "GET", encoding, offset]
        for enc, off in items or ():
            params.extend(("GET", enc, off))
        return self.execute_command("BITFIELD_RO", *params)


def _set_ok_or_value(response, get=False):
    """SET's reply: with GET the old value, else True / None (NX/XX not met)."""
    if get:
        return response
    return _set_ok(response)


_set_ok = _core.set_ok
try:  # a C set_ok that takes ``get`` is used as is (the hot path stays in C)
    _set_ok(b"x", get=True)
    _parse_set = _set_ok
except TypeError:
    _parse_set = _set_ok_or_value


#: upper-case command name -> reply parser, for the commands of this module
#: (commands missing here return the reply as is, as in redis-py: APPEND,
#: GETRANGE, SUBSTR, GETSET, GETDEL, GETEX, LCS, BITFIELD, BITFIELD_RO)
RESPONSE_CALLBACKS = {
    "SET": _parse_set,
    "PSETEX": bool,
    "SETEX": bool,
    "SETNX": bool,
    "INCRBYFLOAT": float,
    "BITCOUNT": int,
    "BITPOS": int,
    "DECRBY": int,
    "GETBIT": int,
    "INCRBY": int,
    "SETBIT": int,
    "SETRANGE": int,
    "STRLEN": int,
}
