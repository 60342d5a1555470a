"""command_keys() (the C key finder, csrc/commands.c) against the live server's
COMMAND GETKEYS, over a broad sample of real invocations of every command family.

Talks to one node (--cluster-url, default 127.0.0.1:7000) with the tooling's
RESP client (scripts/_resp.py), so that it depends on nothing but the function
under test. COMMAND
GETKEYS only parses its arguments: nothing is executed, nothing is written.
"""

import pytest
from _resp import Conn, RespError  # scripts/_resp.py (on sys.path: tests/conftest.py)

# Skip (not fail) while the extension is not built; import the package after that.
pytest.importorskip("rediscluster._core")

from rediscluster import _core
from rediscluster.exceptions import RedisClusterException

command_keys = _core.command_keys

# The table is generated from Redis 7.0's key specs; a server without key
# specs (Redis 6.2) finds keys by older rules for some commands.
pytestmark = pytest.mark.needs("key-specs")


# ---------------------------------------------------------------------------
# Raw access to the server.


class _Err(str):
    """A server error reply (its text)."""


def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, (int, float)):
        return repr(x).encode()
    raise TypeError(type(x))


class _Resp(Conn):
    """scripts/_resp.py's client with error replies as _Err values."""

    def call(self, *args):
        reply = self.pipe([args])[0]
        return _Err(str(reply)) if isinstance(reply, RespError) else reply


@pytest.fixture(scope="module")
def node(pytestconfig):
    url = pytestconfig.getoption("--cluster-url", default="redis://127.0.0.1:7000")
    rest = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = rest.rpartition(":")
    try:
        conn = _Resp(host or "127.0.0.1", int(port or 6379))
        conn.call("PING")
    except OSError as e:
        pytest.skip(
            "no Redis server answers at %s (%s): cannot compare with COMMAND GETKEYS"
            % (url, e)
        )
    yield conn
    conn.close()


def _argv(args):
    """The argv the server sees: "XINFO STREAM" is two tokens."""
    return [*_b(args[0]).split(b" "), *args[1:]]


def _server_keys(node, args):
    """COMMAND GETKEYS as a sorted list of key names; [] if the server says the call has
    no keys; _Err for any other error."""
    reply = node.call("COMMAND", "GETKEYS", *_argv(args))
    if isinstance(reply, _Err):
        if "has no key arguments" in reply:
            return []
        return reply
    return sorted(reply)


def _our_keys(args):
    idx = command_keys(*args)
    assert idx == sorted(set(idx)), "indices not increasing: %r" % idx
    assert all(0 < i < len(args) for i in idx), idx
    return sorted(_b(args[i]) for i in idx)


# ---------------------------------------------------------------------------
# Invocations where we must agree with COMMAND GETKEYS exactly. Key names are
# distinct from every other argument, so the names identify the positions.

SAME = [
    # strings
    ("GET", "k1"),
    ("SET", "k1", "v", "EX", 10, "GET"),
    ("GETEX", "k1", "PERSIST"),
    ("MGET", "k1", "k2", "k3"),
    ("MSET", "k1", "v1", "k2", "v2"),
    ("MSETNX", "k1", "v1", "k2", "v2"),
    ("INCRBY", "k1", 5),
    ("APPEND", "k1", "v"),
    ("SETRANGE", "k1", 0, "v"),
    ("LCS", "k1", "k2", "LEN"),
    # bitmaps
    ("BITOP", "AND", "d1", "k1", "k2"),
    ("BITFIELD", "k1", "GET", "u8", 0),
    ("BITFIELD_RO", "k1", "GET", "u8", 0),
    ("BITCOUNT", "k1", 0, -1),
    # keys
    ("DEL", "k1", "k2", "k3"),
    ("UNLINK", "k1", "k2"),
    ("EXISTS", "k1", "k2"),
    ("RENAME", "k1", "k2"),
    ("RENAMENX", "k1", "k2"),
    ("COPY", "k1", "k2", "DB", 0, "REPLACE"),
    ("EXPIRE", "k1", 10, "NX"),
    ("OBJECT ENCODING", "k1"),
    ("OBJECT", "ENCODING", "k1"),
    ("OBJECT", "FREQ", "k1"),
    ("MEMORY USAGE", "k1", "SAMPLES", 5),
    ("DUMP", "k1"),
    ("RESTORE", "k1", 0, "payload", "REPLACE"),
    ("MIGRATE", "h", 6379, "k1", 0, 5000),
    ("MIGRATE", "h", 6379, "", 0, 5000, "COPY", "KEYS", "k1", "k2"),
    ("MIGRATE", "h", 6379, "", 0, 5000, "AUTH", "KEYS", "KEYS", "k1"),
    ("MIGRATE", "h", 6379, "", 0, 5000, "AUTH2", "u", "pw", "KEYS", "k1", "k2"),
    ("SORT", "k1"),
    ("SORT", "k1", "BY", "w_*", "GET", "#", "GET", "o_*"),
    ("SORT", "k1", "LIMIT", 0, 10, "ALPHA", "STORE", "d1"),
    ("SORT", "k1", "STORE", "d1", "STORE", "d2"),
    ("SORT_RO", "k1", "BY", "w_*", "GET", "#"),
    # lists
    ("LPUSH", "k1", "a", "b"),
    ("BLPOP", "k1", "k2", 0),
    ("BRPOP", "k1", 1.5),
    ("LMOVE", "k1", "k2", "LEFT", "RIGHT"),
    ("BLMOVE", "k1", "k2", "LEFT", "RIGHT", 0),
    ("RPOPLPUSH", "k1", "k2"),
    ("BRPOPLPUSH", "k1", "k2", 0),
    ("LMPOP", 2, "k1", "k2", "LEFT", "COUNT", 2),
    ("BLMPOP", 0, 1, "k1", "RIGHT"),
    # sets
    ("SADD", "k1", "m"),
    ("SINTERSTORE", "d1", "k1", "k2"),
    ("SUNIONSTORE", "d1", "k1"),
    ("SDIFF", "k1", "k2"),
    ("SMOVE", "k1", "k2", "m"),
    ("SINTERCARD", 2, "k1", "k2", "LIMIT", 1),
    # sorted sets
    ("ZADD", "k1", 1, "m"),
    ("ZUNIONSTORE", "d1", 2, "k1", "k2", "WEIGHTS", 1, 2),
    ("ZINTERSTORE", "d1", 1, "k1", "AGGREGATE", "MAX"),
    ("ZDIFFSTORE", "d1", 2, "k1", "k2"),
    ("ZUNION", 2, "k1", "k2", "WITHSCORES"),
    ("ZINTER", 3, "k1", "k2", "k3"),
    ("ZDIFF", 1, "k1"),
    ("ZINTERCARD", 2, "k1", "k2"),
    ("ZRANGESTORE", "d1", "k1", 0, -1),
    ("ZMPOP", 2, "k1", "k2", "MIN"),
    ("BZMPOP", 0, 1, "k1", "MAX", "COUNT", 3),
    ("BZPOPMIN", "k1", "k2", 0),
    # hashes, hyperloglog
    ("HSET", "k1", "f", "v"),
    ("HGETALL", "k1"),
    ("PFADD", "k1", "a"),
    ("PFCOUNT", "k1", "k2"),
    ("PFMERGE", "d1", "k1", "k2"),
    # geo
    ("GEOADD", "k1", 13.3, 38.1, "m"),
    ("GEORADIUS", "k1", 15, 37, 200, "km", "WITHDIST"),
    ("GEORADIUS", "k1", 15, 37, 200, "km", "STORE", "d1"),
    ("GEORADIUS", "k1", 15, 37, 200, "km", "STOREDIST", "d1", "STORE", "d2"),
    ("GEORADIUSBYMEMBER", "k1", "m", 100, "km", "STOREDIST", "d1"),
    ("GEORADIUS_RO", "k1", 15, 37, 200, "km"),
    ("GEOSEARCH", "k1", "FROMMEMBER", "m", "BYRADIUS", 1, "km"),
    ("GEOSEARCHSTORE", "d1", "k1", "FROMLONLAT", 15, 37, "BYBOX", 1, 1, "km"),
    # streams
    ("XADD", "k1", "*", "f", "v"),
    ("XRANGE", "k1", "-", "+"),
    ("XREAD", "STREAMS", "k1", 0),
    ("XREAD", "COUNT", 2, "BLOCK", 0, "STREAMS", "k1", "k2", "0-0", "$"),
    ("XREAD", "STREAMS", "STREAMS", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "k1", ">"),
    (
        "XREADGROUP",
        "GROUP",
        "STREAMS",
        "c",
        "COUNT",
        1,
        "NOACK",
        "STREAMS",
        "k1",
        "k2",
        ">",
        ">",
    ),
    ("XINFO STREAM", "k1", "FULL"),
    ("XINFO", "GROUPS", "k1"),
    ("XINFO", "CONSUMERS", "k1", "g"),
    ("XGROUP", "CREATE", "k1", "g", "$", "MKSTREAM"),
    ("XGROUP CREATECONSUMER", "k1", "g", "c"),
    ("XAUTOCLAIM", "k1", "g", "c", 0, "0-0"),
    # scripting and functions
    ("EVAL", "return 1", 0),
    ("EVAL", "return 1", 2, "k1", "k2", "arg"),
    ("EVALSHA", "a" * 40, 1, "k1"),
    ("EVAL_RO", "return 1", 1, "k1", "arg"),
    ("EVALSHA_RO", "a" * 40, 2, "k1", "k2"),
    ("FCALL", "f", 1, "k1", "arg"),
    ("FCALL_RO", "f", 0, "arg"),
    # keyless: server says "no key arguments", we say []
    ("PING", "hello"),
    ("ECHO", "x"),
    ("LATENCY", "LATEST"),
    ("KEYS", "*"),
    ("SCAN", 0, "MATCH", "*"),
    ("CONFIG GET", "maxmemory"),
    ("CLUSTER", "KEYSLOT", "k1"),
    ("CLUSTER COUNTKEYSINSLOT", 1),
    ("CLIENT", "LIST"),
    ("PUBLISH", "ch", "msg"),
    ("SCRIPT", "LOAD", "return 1"),
    ("FUNCTION", "LIST"),
    ("INFO", "server"),
    ("WAIT", 0, 0),
]


# Samples whose keys the server finds differently from the table on some
# servers (tests/conftest.py FEATURES).
SAMPLE_NEEDS = {
    ("GEORADIUS", "k1", 15, 37, 200, "km", "STOREDIST", "d1", "STORE", "d2"): ("table-key-specs",),
}


@pytest.mark.parametrize("args", [pytest.param(a, marks=pytest.mark.needs(*SAMPLE_NEEDS.get(a, ())))
                                  for a in SAME], ids=[" ".join(map(str, a))[:60] for a in SAME])
def test_same_as_command_getkeys(node, args):
    server = _server_keys(node, args)
    assert not isinstance(server, _Err), "server refused the sample: %s" % server
    assert _our_keys(args) == server


# Malformed: the server refuses to find keys, we raise.
MALFORMED = [
    ("ZUNIONSTORE", "d1", 3, "k1", "k2"),
    ("ZUNIONSTORE", "d1", 0, "k1"),
    ("LMPOP", -1, "k1", "LEFT"),
    ("MIGRATE", "h", 6379, "k1", 0, 5000, "KEYS", "k2"),
]


@pytest.mark.parametrize(
    "args", MALFORMED, ids=[" ".join(map(str, a))[:60] for a in MALFORMED]
)
def test_malformed_like_command_getkeys(node, args):
    server = _server_keys(node, args)
    assert isinstance(server, _Err), "server found keys: %r" % server
    with pytest.raises(RedisClusterException):
        command_keys(*args)


# Deliberate differences, each with its reason.
DIFFERENT = [
    # Shard channels are "not_key" key specs: COMMAND GETKEYS skips them, but they
    # hash to slots and route exactly like keys.
    (("SPUBLISH", "ch", "msg"), [1], "no key arguments"),
    (("SSUBSCRIBE", "ch1", "ch2"), [1, 2], "no key arguments"),
    (("SUNSUBSCRIBE", "ch1"), [1], "no key arguments"),
    # numkeys not an integer / larger than the remaining arguments: the server's
    # fallback (evalGetKeys) finds no key, we call it malformed (EVAL would fail).
    (("EVAL", "return 1", "x", "k1"), None, []),
    (("EVAL", "return 1", 2, "k1"), None, []),
]


@pytest.mark.parametrize(
    "args, ours, server", DIFFERENT, ids=[" ".join(map(str, d[0])) for d in DIFFERENT]
)
def test_deliberate_differences(node, args, ours, server):
    got = node.call("COMMAND", "GETKEYS", *_argv(args))
    if isinstance(got, _Err):
        assert server in got
    else:
        assert sorted(got) == server
    if ours is None:
        with pytest.raises(RedisClusterException):
            command_keys(*args)
    else:
        assert command_keys(*args) == ours


def test_joined_and_split_subcommand_forms(node):
    assert _server_keys(node, ("XINFO", "STREAM", "k1")) == [b"k1"]
    assert command_keys("XINFO STREAM", "k1") == [1]
    assert command_keys("XINFO", "STREAM", "k1") == [2]


@pytest.mark.needs("table-key-specs")
def test_sweep_fixed_key_commands(node):
    """Every command and subcommand of the live server whose keys sit at fixed
    positions (no movablekeys), called with the minimal number of distinct
    placeholder arguments, gives the same keys as COMMAND GETKEYS."""

    def kv(flat):
        return dict(zip(flat[::2], flat[1::2]))

    entries = []
    for cmd in node.call("COMMAND"):
        entries.append(cmd)
        entries.extend(cmd[9] or [])
    checked = 0
    mismatches = []
    for cmd in entries:
        name, arity, flags = cmd[0].decode(), cmd[1], {f.decode() for f in cmd[2]}
        if b"movablekeys" in cmd[2] or cmd[9]:
            continue  # needs real syntax (covered above) / a container
        if any(kv(kv(s)[b"begin_search"])[b"type"] != b"index" for s in cmd[8]):
            continue
        tokens = name.upper().split("|")
        nargs = abs(arity) - len(tokens)
        args = (" ".join(tokens), *["a%d" % i for i in range(nargs)])
        try:
            ours = _our_keys(args)
        except RedisClusterException as e:
            mismatches.append((args, "ours raised %s" % e))
            continue
        server = _server_keys(node, args)
        if isinstance(server, _Err):
            continue  # the server's own argument parsing needs more (e.g. numbers)
        if "pubsub" in flags and any(b"not_key" in kv(s)[b"flags"] for s in cmd[8]):
            continue  # shard channels: see test_deliberate_differences
        checked += 1
        if ours != server:
            mismatches.append((args, ours, server))
    assert not mismatches
    assert checked > 150
