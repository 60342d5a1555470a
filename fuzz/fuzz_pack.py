"""Fuzz target: the command packer and the key finder of ``rediscluster._core``.

The input bytes choose a command (a name from the Redis 7 table in random
case, a two-word name such as "XINFO STREAM", or arbitrary bytes/str) and up
to 11 arguments of every type the packer meets (bytes, str with non-ASCII and
lone surrogates, keywords such as STREAMS/STORE/KEYS/AUTH, numkeys-like
numbers, 64-bit and big ints, floats incl. nan/inf, bool, None, bytearray,
memoryviews, subclasses, containers). Then, with a Python reference of
redis-py 3.5's Encoder rules as the oracle:

* ``pack_command(*args)`` is exactly the reference RESP, or raises the same
  exception class (``DataError`` with redis-py's message, or
  ``UnicodeEncodeError``); the bytes also parse back through ``Reader``;
* ``command_keys(*args)`` gives strictly increasing argument indices in
  [1, len(args)) or raises ``RedisClusterException`` (malformed arguments, no
  command), the same after swapping the ASCII case of the name, and the same
  when a two-word name is passed as two arguments;
* ``key_slot(arg)`` is CRC16/XMODEM of the encoded key (its hash tag if it
  has one) modulo 16384, and ``crc16`` agrees with ``binascii.crc_hqx``.

The input format is this file's own (``_fuzzlib.Bytes``), so the corpus
replays without atheris.
"""

import binascii
import struct
import sys

from _fuzzlib import Bytes, load, main

_core, exceptions = load()

DataError = exceptions.DataError
RedisClusterException = exceptions.RedisClusterException

NAMES = [
    "GET", "SET", "MGET", "MSET", "DEL", "EXISTS", "INCR", "EVAL", "EVALSHA", "FCALL",
    "EVAL_RO", "ZUNIONSTORE", "ZUNION", "ZINTERCARD", "LMPOP", "BLMPOP", "ZMPOP",
    "SINTERCARD", "XREAD", "XREADGROUP", "GEORADIUS", "GEORADIUSBYMEMBER", "SORT",
    "SORT_RO", "MIGRATE", "OBJECT", "XINFO", "CONFIG", "CLUSTER", "MEMORY", "SPUBLISH",
    "SSUBSCRIBE", "PUBLISH", "BITOP", "LMOVE", "BLPOP", "RENAME", "COPY", "XADD",
    "GETEX", "PING", "INFO", "KEYS", "SCAN", "FOO", "COMMAND", "FUNCTION", "SCRIPT",
    "XINFO STREAM", "XINFO GROUPS", "OBJECT ENCODING", "CONFIG GET", "MEMORY USAGE",
    "CLUSTER KEYSLOT", "CLIENT LIST", "XGROUP CREATE", "  GET  ", "GET\tX", "",
]
KEYWORDS = [
    "STREAMS", "STORE", "STOREDIST", "KEYS", "AUTH", "AUTH2", "BY", "GET", "LIMIT",
    "COPY", "REPLACE", "WEIGHTS", "AGGREGATE", "COUNT", "BLOCK", "LEFT", "RIGHT",
    "ENCODING", "STREAM", "GROUPS", "USAGE", "{tag}", "{", "}", "{}", "$", "*",
]


class IntSub(int):
    pass


class FloatSub(float):
    pass


class StrSub(str):
    pass


class BytesSub(bytes):
    pass


class Weird(int):
    def __str__(self):
        return "weird"


def value(b):
    kind = b.int_in(0, 17)
    if kind == 0:
        return b.blob()
    if kind == 1:
        return b.blob().decode("latin-1")
    if kind == 2:
        return b.blob().decode("utf-8", "surrogateescape")  # lone surrogates
    if kind == 3:
        w = b.pick(KEYWORDS)
        return w.lower() if b.bool() else w
    if kind == 4:
        return str(b.int_in(-3, 12))
    if kind == 5:
        return b.int_in(0, 2**64 - 1) - 2**63
    if kind == 6:
        return (b.int_in(0, 2**64 - 1) + 1) * (2**64) * (-1 if b.bool() else 1)
    if kind == 7:
        return struct.unpack("<d", b.take(8).ljust(8, b"\0"))[0]
    if kind == 8:
        return b.bool()
    if kind == 9:
        return None
    if kind == 10:
        return bytearray(b.blob())
    if kind == 11:
        data = b.blob()
        return memoryview(data)[:: b.int_in(1, 3)]
    if kind == 12:
        return b.pick([IntSub, Weird])(b.int_in(-5, 5))
    if kind == 13:
        return FloatSub(b.int_in(-5, 5) / 4)
    if kind == 14:
        return StrSub(b.blob().decode("latin-1")) if b.bool() else BytesSub(b.blob())
    if kind == 15:
        return b.pick([[], {}, (), object(), 1j, b"".join])
    if kind == 16:
        return "".join(chr(0x1F600 + b.byte()) for _ in range(b.int_in(0, 4)))
    return b.int_in(-3, 12)


# ---------------------------------------------------------------- references


def encode(v):
    """redis-py 3.5's Encoder.encode, utf-8/strict."""
    if isinstance(v, bytes):
        return bytes(v)
    if isinstance(v, memoryview):
        return v.tobytes()
    if isinstance(v, str):
        return str.encode(v, "utf-8", "strict")
    if isinstance(v, bool):
        raise DataError(
            "Invalid input of type: '%s'. Convert to a bytes, string, int or float first."
            % type(v).__name__
        )
    if isinstance(v, float):
        return repr(v).encode()
    if isinstance(v, int):
        return str(v).encode()
    raise DataError(
        "Invalid input of type: '%s'. Convert to a bytes, string, int or float first."
        % type(v).__name__
    )


def name_tokens(name):
    """A str/bytes name with ASCII whitespace is split into words (if any)."""
    raw = None
    if isinstance(name, str):
        try:
            raw = str.encode(name, "utf-8")
        except UnicodeEncodeError:
            raw = None
    elif isinstance(name, bytes):
        raw = bytes(name)
    if raw is not None and any(c in raw for c in b" \t\n\r\x0b\x0c") and raw.split():
        return raw.split()
    return None


def tokens(args):
    if not args:
        raise DataError("empty command")
    words = name_tokens(args[0])
    out = list(words) if words else [encode(args[0])]
    out.extend(encode(a) for a in args[1:])
    return out, (len(words) if words else 1)


def resp(toks):
    return b"*%d\r\n" % len(toks) + b"".join(b"$%d\r\n%s\r\n" % (len(t), t) for t in toks)


def slot(key):
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key, 0) % 16384


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except (DataError, UnicodeEncodeError, RedisClusterException) as e:
        return "raise", type(e)


# ---------------------------------------------------------------- the target


def test_one_input(data):
    b = Bytes(data)
    nargs = b.int_in(0, 11)
    args = []
    if nargs:
        if b.int_in(0, 3):
            name = b.pick(NAMES)
            mode = b.int_in(0, 2)
            name = name.lower() if mode == 1 else name.encode() if mode == 2 else name
            args.append(name)
        else:
            args.append(value(b))
        args.extend(value(b) for _ in range(nargs - 1))

    # pack_command
    try:
        toks, words = tokens(args)
        want = resp(toks)
    except (DataError, UnicodeEncodeError) as e:
        toks, want, err = None, None, e
    try:
        got = _core.pack_command(*args)
    except (DataError, UnicodeEncodeError) as e:
        assert want is None and type(e) is type(err), (args, e, want)
        if type(e) is DataError:
            assert e.args == err.args, (e.args, err.args)
        got = None
    else:
        assert got == want, (args, got, want)
        r = _core.Reader()
        r.feed(got)
        assert r.gets() == toks and r.gets() is False

    # command_keys
    kind, keys = outcome(_core.command_keys, *args)
    if not args:
        assert (kind, keys) == ("raise", RedisClusterException), (kind, keys)
    elif got is None:
        assert kind == "raise" and keys in (DataError, UnicodeEncodeError), (args, kind, keys)
    elif kind == "raise":
        assert keys is RedisClusterException, (args, keys)
    else:
        assert type(keys) is list and all(type(i) is int for i in keys), keys
        assert keys == sorted(set(keys)), keys
        assert all(1 <= i < len(args) for i in keys), (args, keys)
    if got is not None and isinstance(args[0], str) and args[0].isascii():
        again = outcome(_core.command_keys, args[0].swapcase(), *args[1:])
        assert again == (kind, keys), (args, again, (kind, keys))
    if got is not None and words > 1:
        split = outcome(_core.command_keys, *toks[:words], *args[1:])
        if kind == "ok" and split[0] == "ok":
            shifted = [i - words + 1 for i in split[1] if i >= words]
            assert shifted == keys, (args, split, keys)
        else:
            assert split[0] == kind, (args, split, (kind, keys))

    # key_slot, crc16
    for a in args:
        try:
            want_slot = slot(encode(a))
        except (DataError, UnicodeEncodeError) as e:
            want_slot = type(e)
        k, s = outcome(_core.key_slot, a)
        assert s == want_slot, (a, s, want_slot)
        if isinstance(a, bytes):
            assert _core.crc16(a) == binascii.crc_hqx(a, 0)


if __name__ == "__main__":
    main(test_one_input)
