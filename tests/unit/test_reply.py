"""The RESP reader of the engine: ``_core.Reader`` (feed/gets).

Every RESP2 type, byte-at-a-time and random chunkings, several replies in one
feed, errors as values, the deferred decode error, protocol errors, the nesting
limit of hiredis, and a reference/memory check over many parses.
"""

import gc
import random
import sys
import tracemalloc

import pytest

from rediscluster import _core
from rediscluster.exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    ResponseError,
    TryAgainError,
)

# (id, raw bytes, reply with decode_responses=False, reply with decode_responses=True)
REPLIES = [
    ("simple-string", b"+OK\r\n", b"OK", "OK"),
    ("empty-simple-string", b"+\r\n", b"", ""),
    ("bulk", b"$5\r\nhello\r\n", b"hello", "hello"),
    ("empty-bulk", b"$0\r\n\r\n", b"", ""),
    ("binary-bulk", b"$4\r\n\r\n\x00\n\r\n", b"\r\n\x00\n", "\r\n\x00\n"),
    ("utf8-bulk", b"$6\r\n\xe5\xa4\xa7\xe5\xa5\x96\r\n", "大奖".encode(), "大奖"),
    ("null-bulk", b"$-1\r\n", None, None),
    ("integer", b":42\r\n", 42, 42),
    ("integer-zero", b":0\r\n", 0, 0),
    ("integer-negative", b":-7\r\n", -7, -7),
    ("integer-max", b":9223372036854775807\r\n", 2**63 - 1, 2**63 - 1),
    ("integer-min", b":-9223372036854775808\r\n", -(2**63), -(2**63)),
    ("array", b"*3\r\n:1\r\n$1\r\na\r\n+b\r\n", [1, b"a", b"b"], [1, "a", "b"]),
    ("empty-array", b"*0\r\n", [], []),
    ("null-array", b"*-1\r\n", None, None),
    (
        "array-with-nulls",
        b"*3\r\n$-1\r\n*-1\r\n$0\r\n\r\n",
        [None, None, b""],
        [None, None, ""],
    ),
    (
        "nested",
        b"*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n*0\r\n",
        [[1, 2], [[]]],
        [[1, 2], [[]]],
    ),
    (
        "cluster-slots",
        b"*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n",
        [[0, 16383, [b"127.0.0.1", 7000, b"id"]]],
        [[0, 16383, ["127.0.0.1", 7000, "id"]]],
    ),
]
IDS = [r[0] for r in REPLIES]


def nested(depth, leaf=b":1\r\n"):
    return b"*1\r\n" * depth + leaf


def wrap(depth, value):
    for _ in range(depth):
        value = [value]
    return value


def read_all(reader):
    out = []
    while True:
        r = reader.gets()
        if r is False:
            return out
        out.append(r)


@pytest.mark.parametrize("raw,plain,decoded", [r[1:] for r in REPLIES], ids=IDS)
def test_whole(raw, plain, decoded):
    r = _core.Reader()
    r.feed(raw)
    assert r.gets() == plain
    assert r.gets() is False
    r = _core.Reader(decode_responses=True)
    r.feed(raw)
    assert r.gets() == decoded
    assert r.gets() is False


@pytest.mark.parametrize("raw,plain,decoded", [r[1:] for r in REPLIES], ids=IDS)
def test_types(raw, plain, decoded):
    r = _core.Reader()
    r.feed(raw)
    got = r.gets()
    assert type(got) is type(plain)
    if isinstance(plain, bytes):
        r = _core.Reader(decode_responses=True)
        r.feed(raw)
        assert type(r.gets()) is str


@pytest.mark.parametrize("raw,plain,decoded", [r[1:] for r in REPLIES], ids=IDS)
@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decode"])
def test_one_byte_at_a_time(raw, plain, decoded, decode):
    r = _core.Reader(decode_responses=decode)
    for i in range(len(raw) - 1):
        r.feed(raw[i : i + 1])
        assert r.gets() is False, "complete after %d of %d bytes" % (i + 1, len(raw))
    r.feed(raw[-1:])
    assert r.gets() == (decoded if decode else plain)
    assert r.gets() is False


def test_random_chunkings_of_a_stream():
    rnd = random.Random(1234)
    stream = b"".join(raw for _, raw, _, _ in REPLIES) * 3
    expected = [plain for _, _, plain, _ in REPLIES] * 3
    for _ in range(200):
        r = _core.Reader()
        got = []
        pos = 0
        while pos < len(stream):
            n = rnd.randrange(1, 40)
            r.feed(stream[pos : pos + n])
            pos += n
            got.extend(read_all(r))
        assert got == expected


def test_several_replies_in_one_feed():
    r = _core.Reader()
    r.feed(b"+OK\r\n:1\r\n$3\r\nabc\r\n*1\r\n$-1\r\n-ERR boom\r\n$-1\r\n")
    assert r.gets() == b"OK"
    assert r.gets() == 1
    assert r.gets() == b"abc"
    assert r.gets() == [None]
    err = r.gets()
    assert type(err) is ResponseError and err.args == ("boom",)
    assert r.gets() is None
    assert r.gets() is False


def test_feed_accepts_buffers():
    r = _core.Reader()
    r.feed(bytearray(b"+a\r\n"))
    r.feed(memoryview(b"+b\r\n"))
    assert read_all(r) == [b"a", b"b"]


def test_feed_rejects_str():
    r = _core.Reader()
    with pytest.raises(TypeError):
        r.feed("+OK\r\n")


def test_empty_feed():
    r = _core.Reader()
    r.feed(b"")
    assert r.gets() is False
    r.feed(b"+OK\r\n")
    assert r.gets() == b"OK"


def test_big_bulk():
    size = 4 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    r = _core.Reader()
    r.feed(b"$%d\r\n" % size)
    for i in range(0, size, 65536):
        r.feed(payload[i : i + 65536])
        assert r.gets() is False
    r.feed(b"\r\n")
    assert r.gets() == payload


def test_big_array():
    n = 100_000
    r = _core.Reader()
    r.feed(b"*%d\r\n" % n + b":7\r\n" * n)
    got = r.gets()
    assert len(got) == n and got[0] == 7 and got[-1] == 7


# ------------------------------------------------------------------ nesting


# hiredis before 1.0 has a fixed stack of 9 read tasks: 8 nested arrays plus their
# leaf parse, a 9th array is a protocol error ("No support for nested multi bulk
# replies with depth > 7"). hiredis 1.0 grows the stack (redis/hiredis#797); later
# patch releases cap the depth at 1024.
OLD_HIREDIS = _core.hiredis_version < (1, 0, 0)


@pytest.mark.parametrize("depth", range(1, 9))
def test_nesting_up_to_the_hiredis_limit(depth):
    r = _core.Reader()
    r.feed(nested(depth))
    assert r.gets() == wrap(depth, 1)


def test_nesting_depth_7_with_siblings():
    raw = b"*2\r\n" + nested(6, b"*2\r\n:1\r\n$1\r\nx\r\n") + b"+end\r\n"
    r = _core.Reader()
    r.feed(raw)
    assert r.gets() == [wrap(6, [1, b"x"]), b"end"]


@pytest.mark.skipif(not OLD_HIREDIS, reason="hiredis >= 1.0 has no depth-7 limit")
@pytest.mark.parametrize("depth", [9, 10, 20])
def test_nesting_past_the_limit_is_a_protocol_error(depth):
    r = _core.Reader()
    r.feed(nested(depth))
    with pytest.raises(ConnectionError, match="depth"):
        r.gets()


@pytest.mark.skipif(OLD_HIREDIS, reason="hiredis < 1.0 stops at depth 8")
@pytest.mark.parametrize("depth", [9, 10, 20, 100])
def test_deep_nesting_with_newer_hiredis(depth):
    r = _core.Reader()
    r.feed(nested(depth))
    assert r.gets() == wrap(depth, 1)


# ------------------------------------------------------------------ errors as values


@pytest.mark.parametrize(
    "raw,cls,args",
    [
        (b"-ERR unknown command 'FOO'\r\n", ResponseError, ("unknown command 'FOO'",)),
        (
            b"-WRONGTYPE Operation against a key\r\n",
            ResponseError,
            ("WRONGTYPE Operation against a key",),
        ),
        (b"-MOVED 3999 127.0.0.1:7002\r\n", MovedError, ("3999 127.0.0.1:7002",)),
        (b"-ASK 3999 127.0.0.1:7002\r\n", AskError, ("3999 127.0.0.1:7002",)),
        (
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
            TryAgainError,
            None,
        ),
        (
            b"-CLUSTERDOWN The cluster is down\r\n",
            ClusterDownError,
            ("The cluster is down",),
        ),
    ],
    ids=["ERR", "WRONGTYPE", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"],
)
def test_errors_are_values(raw, cls, args):
    for decode in (False, True):
        r = _core.Reader(decode_responses=decode)
        r.feed(raw + b"+after\r\n")
        err = r.gets()
        assert type(err) is cls
        if args is not None:
            assert err.args == args
        assert r.gets() == ("after" if decode else b"after")


def test_redirect_attributes():
    r = _core.Reader()
    r.feed(b"-MOVED 3999 127.0.0.1:7002\r\n-ASK 1 [::1]:7000\r\n")
    moved = r.gets()
    assert (moved.slot_id, moved.host, moved.port, moved.node_addr) == (
        3999,
        "127.0.0.1",
        7002,
        ("127.0.0.1", 7002),
    )
    ask = r.gets()
    assert (ask.slot_id, ask.host, ask.port) == (1, "::1", 7000)


def test_errors_inside_arrays():
    r = _core.Reader()
    r.feed(b"*3\r\n+OK\r\n-ERR inner\r\n-MOVED 1 h:1\r\n")
    ok, err, moved = r.gets()
    assert ok == b"OK"
    assert type(err) is ResponseError and err.args == ("inner",)
    assert type(moved) is MovedError and moved.node_addr == ("h", 1)


def test_error_reply_with_invalid_utf8_is_replaced():
    r = _core.Reader(decode_responses=True)
    r.feed(b"-ERR bad \xff byte\r\n+next\r\n")
    err = r.gets()
    assert type(err) is ResponseError
    assert err.args == ("bad \ufffd byte",)
    assert r.gets() == "next"


# ------------------------------------------------------------------ deferred decode errors


def test_deferred_decode_error_then_next_reply():
    r = _core.Reader(decode_responses=True)
    r.feed(b"$2\r\n\xff\xfe\r\n+next\r\n")
    with pytest.raises(UnicodeDecodeError):
        r.gets()
    assert r.gets() == "next"
    assert r.gets() is False


def test_deferred_decode_error_inside_an_array_consumes_the_whole_array():
    r = _core.Reader(decode_responses=True)
    r.feed(b"*3\r\n$1\r\n\xff\r\n*2\r\n$1\r\n\xfe\r\n:5\r\n+tail\r\n$2\r\nok\r\n")
    with pytest.raises(UnicodeDecodeError):
        r.gets()
    assert r.gets() == "ok"
    assert r.gets() is False


def test_deferred_decode_error_fed_byte_by_byte():
    raw = b"*2\r\n$1\r\n\xff\r\n:1\r\n:2\r\n"
    r = _core.Reader(decode_responses=True)
    for b in raw[:-5]:
        r.feed(bytes([b]))
        assert r.gets() is False
    r.feed(raw[-5:])
    with pytest.raises(UnicodeDecodeError):
        r.gets()
    assert r.gets() == 2


def test_invalid_utf8_is_fine_without_decoding():
    r = _core.Reader()
    r.feed(b"$2\r\n\xff\xfe\r\n")
    assert r.gets() == b"\xff\xfe"


def test_only_utf8_strict_is_supported():
    with pytest.raises(ValueError):
        _core.Reader(encoding="latin-1")


# ------------------------------------------------------------------ protocol errors


@pytest.mark.parametrize(
    "raw",
    [
        b"?foo\r\n",
        b"$abc\r\n",
        b"*x\r\n",
        b":12a\r\n",
        b"hello\r\n",
        b"$-5\r\n",
        b"\x00\r\n",
    ],
    ids=[
        "bad-type",
        "bad-bulk-len",
        "bad-array-len",
        "bad-int",
        "inline",
        "negative-bulk",
        "nul",
    ],
)
def test_protocol_garbage(raw):
    r = _core.Reader()
    with pytest.raises(ConnectionError):
        r.feed(raw)
        r.gets()
    # The reader stays broken: more input, even valid, does not revive it.
    with pytest.raises(ConnectionError):
        r.feed(b"+OK\r\n")
        r.gets()
    with pytest.raises(ConnectionError):
        r.gets()


def test_protocol_error_after_good_replies():
    r = _core.Reader()
    r.feed(b"+one\r\n?garbage\r\n")
    assert r.gets() == b"one"
    with pytest.raises(ConnectionError, match="Protocol error"):
        r.gets()


def test_protocol_error_inside_array():
    r = _core.Reader()
    r.feed(b"*2\r\n:1\r\n!x\r\n")
    with pytest.raises(ConnectionError):
        r.gets()


@pytest.mark.parametrize(
    "raw",
    [
        b"$5\r\nhel",
        b"$5\r\nhello",
        b"$5\r\nhello\r",
        b"*2\r\n:1\r\n",
        b"+OK",
        b"+OK\r",
        b":1",
        b"*",
        b"$",
    ],
)
def test_truncated_stays_incomplete(raw):
    r = _core.Reader()
    r.feed(raw)
    assert r.gets() is False
    assert r.gets() is False


def test_truncated_bulk_completes_later():
    r = _core.Reader()
    r.feed(b"$10\r\n01234")
    assert r.gets() is False
    r.feed(b"56789\r\n")
    assert r.gets() == b"0123456789"


def test_reader_reinit_resets_state():
    r = _core.Reader()
    r.feed(b"$10\r\n01234")
    r.__init__(decode_responses=True)
    r.feed(b"+fresh\r\n")
    assert r.gets() == "fresh"


def test_uninitialised_reader():
    r = _core.Reader.__new__(_core.Reader)
    with pytest.raises(RuntimeError):
        r.gets()
    with pytest.raises(RuntimeError):
        r.feed(b"+OK\r\n")


# ------------------------------------------------------------------ references and memory


def test_reply_references_are_sane():
    r = _core.Reader()
    r.feed(b"*2\r\n$5\r\nhello\r\n*1\r\n:100000\r\n")
    reply = r.gets()
    # Counted outside `assert` (pytest's rewriting keeps extra references): one
    # reference from the container (or the local name), one from the argument.
    counts = (
        sys.getrefcount(reply),
        sys.getrefcount(reply[0]),
        sys.getrefcount(reply[1]),
        sys.getrefcount(reply[1][0]),
    )
    assert counts == (2, 2, 2, 2)
    inner = reply[1]
    del reply
    n = sys.getrefcount(inner)
    assert n == 2  # the outer list released it


def test_shared_singletons_are_not_leaked():
    r = _core.Reader()
    raw = b"*4\r\n$-1\r\n*-1\r\n$-1\r\n$-1\r\n$-1\r\n"
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(1000):
        r.feed(raw)
        assert r.gets() == [None, None, None, None]
        assert r.gets() is None
    gc.collect()
    # Other threads or the interpreter may touch None a little; 5000 leaked refs would not hide.
    assert abs(sys.getrefcount(None) - before) < 100


def test_error_instances_are_not_leaked():
    r = _core.Reader()
    r.feed(b"-ERR x\r\n-MOVED 1 h:1\r\n")
    err = r.gets()
    moved = r.gets()
    counts = (sys.getrefcount(err), sys.getrefcount(moved))
    assert counts == (2, 2)


def _parse_loop(n):
    stream = (
        b"*3\r\n$5\r\nhello\r\n:12345678901\r\n*2\r\n+OK\r\n$-1\r\n"
        b"-ERR some error\r\n"
        b"-MOVED 12182 127.0.0.1:7001\r\n"
        b"$3\r\n\xff\xfe\xfd\r\n"
    )
    plain = _core.Reader()
    decoding = _core.Reader(decode_responses=True)
    for _ in range(n):
        plain.feed(stream)
        read_all(plain)
        decoding.feed(stream)
        decoding.gets()
        decoding.gets()
        decoding.gets()
        try:
            decoding.gets()
        except UnicodeDecodeError:
            pass
        else:
            raise AssertionError("no decode error")
        assert decoding.gets() is False


def test_no_memory_growth_over_many_parses():
    _parse_loop(1000)  # warm up caches and free lists
    gc.collect()
    tracemalloc.start()
    try:
        _parse_loop(100)
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        _parse_loop(10_000)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A leak of one small object per parse would be >= 10_000 * ~30 bytes.
    assert after - base < 64 * 1024, (base, after)
