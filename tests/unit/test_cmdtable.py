"""Key finding from the generated command table (csrc/commands.c), no server needed.

Tests ``rediscluster._core.command_keys(*args) -> list[int]``: args are exactly what
a client passes to execute_command (args[0] may be "XINFO STREAM"); the result holds
indices into *args as given*, increasing, for the keys (shard channels included);
[] for a keyless call; RedisClusterException for malformed arguments.
"""

import pytest

# Skip (not fail) while the extension is not built; import the package after that.
pytest.importorskip("rediscluster._core")

from rediscluster import _core
from rediscluster.exceptions import RedisClusterException

command_keys = _core.command_keys


KEYS = [
    # -- plain index/range specs
    ("get", ("GET", "k"), [1]),
    ("get-lower", ("get", "k"), [1]),
    ("get-mixed-bytes", (b"gEt", b"k"), [1]),
    ("set-options", ("SET", "k", "v", "EX", 10, "GET"), [1]),
    ("del-many", ("DEL", "a", "b", "c"), [1, 2, 3]),
    ("mset-step2", ("MSET", "a", 1, "b", 2), [1, 3]),
    ("msetnx", ("MSETNX", "a", 1, "b", 2, "c", 3), [1, 3, 5]),
    ("mget", ("MGET", "a", "b"), [1, 2]),
    ("blpop-lastkey-2", ("BLPOP", "a", "b", 0), [1, 2]),
    ("bzpopmin", ("BZPOPMIN", "a", 1.5), [1]),
    ("rename-same-name", ("RENAME", "a", "a"), [1, 2]),
    ("lmove", ("LMOVE", "a", "b", "LEFT", "RIGHT"), [1, 2]),
    ("blmove", ("BLMOVE", "a", "b", "LEFT", "RIGHT", 0), [1, 2]),
    ("rpoplpush", ("RPOPLPUSH", "a", "b"), [1, 2]),
    ("bitop-dest-first", ("BITOP", "AND", "d", "a", "b"), [2, 3, 4]),
    ("sinterstore", ("SINTERSTORE", "d", "a", "b"), [1, 2, 3]),
    ("pfmerge", ("PFMERGE", "d", "a"), [1, 2]),
    ("copy", ("COPY", "a", "b", "REPLACE"), [1, 2]),
    (
        "geosearchstore",
        ("GEOSEARCHSTORE", "d", "s", "FROMMEMBER", "m", "BYRADIUS", 1, "km"),
        [1, 2],
    ),
    ("zrangestore", ("ZRANGESTORE", "d", "s", 0, -1), [1, 2]),
    ("hset", ("HSET", "h", "f", "v"), [1]),
    ("xadd", ("XADD", "s", "*", "f", "v"), [1]),
    ("touch", ("TOUCH", "a"), [1]),
    # -- keynum specs
    ("eval-0", ("EVAL", "return 1", 0), []),
    ("eval-2", ("EVAL", "return 1", 2, "a", "b", "x"), [3, 4]),
    ("eval-numkeys-bytes", ("EVAL", "return 1", b"1", "a"), [3]),
    ("evalsha", ("EVALSHA", "0" * 40, 1, "k", "arg"), [3]),
    ("eval_ro", ("EVAL_RO", "return 1", 1, "k"), [3]),
    ("evalsha_ro", ("EVALSHA_RO", "0" * 40, 2, "a", "b"), [3, 4]),
    ("fcall", ("FCALL", "f", 1, "k", "arg"), [3]),
    ("fcall-0", ("FCALL", "f", 0, "arg"), []),
    ("fcall_ro", ("FCALL_RO", "f", 2, "a", "b"), [3, 4]),
    ("zunionstore", ("ZUNIONSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 2), [1, 3, 4]),
    ("zinterstore", ("ZINTERSTORE", "d", 1, "a"), [1, 3]),
    ("zdiffstore", ("ZDIFFSTORE", "d", 2, "a", "b"), [1, 3, 4]),
    ("zunion", ("ZUNION", 2, "a", "b", "WITHSCORES"), [2, 3]),
    ("zinter", ("ZINTER", 2, "a", "b"), [2, 3]),
    ("zdiff", ("ZDIFF", 1, "a"), [2]),
    ("zintercard", ("ZINTERCARD", 2, "a", "b", "LIMIT", 5), [2, 3]),
    ("sintercard", ("SINTERCARD", 2, "a", "b", "LIMIT", 5), [2, 3]),
    ("lmpop", ("LMPOP", 2, "a", "b", "LEFT", "COUNT", 3), [2, 3]),
    ("blmpop", ("BLMPOP", 0.5, 2, "a", "b", "RIGHT"), [3, 4]),
    ("zmpop", ("ZMPOP", 1, "a", "MIN"), [2]),
    ("bzmpop", ("BZMPOP", 0, 2, "a", "b", "MAX", "COUNT", 2), [3, 4]),
    # -- keyword specs
    ("xread", ("XREAD", "COUNT", 1, "STREAMS", "a", "b", 0, 0), [4, 5]),
    ("xread-lower-keyword", ("xread", "block", 0, "streams", "a", "$"), [4]),
    ("xread-key-named-streams", ("XREAD", "STREAMS", "STREAMS", 0), [2]),
    ("xread-odd-rounds-down", ("XREAD", "STREAMS", "a", "b", 0), [2]),
    (
        "xreadgroup",
        ("XREADGROUP", "GROUP", "g", "c", "COUNT", 1, "STREAMS", "a", "b", ">", ">"),
        [7, 8],
    ),
    (
        "xreadgroup-group-named-streams",
        ("XREADGROUP", "GROUP", "STREAMS", "c", "STREAMS", "a", ">"),
        [5],
    ),
    (
        "xreadgroup-noack",
        ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"),
        [6],
    ),
    ("georadius", ("GEORADIUS", "k", 0, 0, 1, "km"), [1]),
    ("georadius-store", ("GEORADIUS", "k", 0, 0, 1, "km", "STORE", "d"), [1, 7]),
    (
        "georadius-storedist",
        ("GEORADIUS", "k", 0, 0, 1, "km", "WITHDIST", "STOREDIST", "d"),
        [1, 8],
    ),
    (
        "georadius-both-sorted",
        ("GEORADIUS", "k", 0, 0, 1, "km", "STOREDIST", "d", "STORE", "e"),
        [1, 7, 9],
    ),
    (
        "georadiusbymember-store",
        ("GEORADIUSBYMEMBER", "k", "m", 1, "km", "STORE", "d"),
        [1, 6],
    ),
    ("georadius_ro", ("GEORADIUS_RO", "k", 0, 0, 1, "km"), [1]),
    # -- quirks: MIGRATE, SORT
    ("migrate-one", ("MIGRATE", "h", 6379, "k", 0, 5000), [3]),
    ("migrate-one-copy", ("MIGRATE", "h", 6379, "k", 0, 5000, "COPY", "REPLACE"), [3]),
    ("migrate-keys", ("MIGRATE", "h", 6379, "", 0, 5000, "KEYS", "a", "b"), [7, 8]),
    (
        "migrate-keys-auth",
        ("MIGRATE", "h", 6379, "", 0, 5000, "AUTH", "pw", "KEYS", "a"),
        [9],
    ),
    (
        "migrate-password-is-keys",
        ("MIGRATE", "h", 6379, "", 0, 5000, "AUTH", "KEYS", "KEYS", "a"),
        [9],
    ),
    (
        "migrate-auth2",
        ("MIGRATE", "h", 6379, "", 0, 5000, "AUTH2", "KEYS", "KEYS", "KEYS", "a", "b"),
        [10, 11],
    ),
    (
        "migrate-key-named-keys",
        ("MIGRATE", "h", 6379, "", 0, 5000, "KEYS", "KEYS", "b"),
        [7, 8],
    ),
    ("migrate-empty-key-no-keys-option", ("MIGRATE", "h", 6379, "", 0, 5000), [3]),
    ("migrate-keys-empty-list", ("MIGRATE", "h", 6379, "", 0, 5000, "KEYS"), []),
    ("sort", ("SORT", "k"), [1]),
    (
        "sort-patterns-not-keys",
        ("SORT", "k", "BY", "w_*", "GET", "#", "GET", "o_*"),
        [1],
    ),
    (
        "sort-store",
        ("SORT", "k", "BY", "w_*", "LIMIT", 0, 10, "GET", "#", "ALPHA", "STORE", "d"),
        [1, 11],
    ),
    ("sort-last-store-wins", ("SORT", "k", "STORE", "d", "STORE", "e"), [1, 5]),
    ("sort-store-as-pattern", ("SORT", "k", "GET", "STORE"), [1]),
    ("sort-ro", ("SORT_RO", "k", "BY", "w_*", "GET", "#"), [1]),
    # -- subcommands, either as "CONTAINER SUB" or as two tokens
    ("object-encoding-joined", ("OBJECT ENCODING", "k"), [1]),
    ("object-encoding-split", ("OBJECT", "ENCODING", "k"), [2]),
    ("object-encoding-lower", ("object", "encoding", "k"), [2]),
    ("object-freq", ("OBJECT", "FREQ", "k"), [2]),
    ("xinfo-stream-joined", ("XINFO STREAM", "s"), [1]),
    ("xinfo-stream-split", ("XINFO", "STREAM", "s", "FULL"), [2]),
    ("xinfo-groups", ("XINFO GROUPS", "s"), [1]),
    ("xinfo-consumers", ("XINFO", "CONSUMERS", "s", "g"), [2]),
    ("xinfo-help", ("XINFO", "HELP"), []),
    ("xgroup-create", ("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"), [2]),
    ("xgroup-create-joined", ("XGROUP CREATE", "s", "g", "$"), [1]),
    ("xgroup-setid", ("XGROUP SETID", "s", "g", 0), [1]),
    ("memory-usage", ("MEMORY USAGE", "k", "SAMPLES", 5), [1]),
    ("memory-usage-split", ("MEMORY", "USAGE", "k"), [2]),
    ("config-get", ("CONFIG GET", "maxmemory"), []),
    ("config-get-split", ("CONFIG", "GET", "maxmemory"), []),
    ("cluster-countkeysinslot", ("CLUSTER COUNTKEYSINSLOT", 1), []),
    ("cluster-setslot", ("CLUSTER SETSLOT", 1, "NODE", "abc"), []),
    ("cluster-keyslot", ("CLUSTER", "KEYSLOT", "k"), []),
    ("client-list", ("CLIENT LIST",), []),
    ("command-getkeys", ("COMMAND", "GETKEYS", "GET", "k"), []),
    ("command-alone", ("COMMAND",), []),
    ("unknown-subcommand", ("CONFIG", "NOSUCH"), []),
    # -- pubsub: shard channels route like keys, plain channels do not
    ("spublish", ("SPUBLISH", "ch", "msg"), [1]),
    ("ssubscribe", ("SSUBSCRIBE", "a", "b"), [1, 2]),
    ("sunsubscribe", ("SUNSUBSCRIBE", "a"), [1]),
    ("sunsubscribe-all", ("SUNSUBSCRIBE",), []),
    ("publish", ("PUBLISH", "ch", "msg"), []),
    ("subscribe", ("SUBSCRIBE", "ch"), []),
    ("pubsub-shardnumsub", ("PUBSUB SHARDNUMSUB", "ch"), []),
    # -- keyless
    ("ping", ("PING",), []),
    ("ping-msg", ("PING", "hello"), []),
    ("dbsize", ("DBSIZE",), []),
    ("info", ("INFO", "server"), []),
    ("keys", ("KEYS", "*"), []),
    ("scan", ("SCAN", 0, "MATCH", "*"), []),
    ("function-load", ("FUNCTION LOAD", "code"), []),
    ("script-load", ("SCRIPT", "LOAD", "return 1"), []),
]


@pytest.mark.parametrize(
    "args, expected", [c[1:] for c in KEYS], ids=[c[0] for c in KEYS]
)
def test_command_keys(args, expected):
    assert command_keys(*args) == expected


MALFORMED = [
    ("get-no-key", ("GET",)),
    ("get-two-keys", ("GET", "a", "b")),
    ("del-no-key", ("DEL",)),
    ("mset-no-pair", ("MSET", "a")),
    ("eval-numkeys-not-int", ("EVAL", "s", "x", "a")),
    ("eval-numkeys-float", ("EVAL", "s", 1.5, "a")),
    ("eval-numkeys-negative", ("EVAL", "s", -1)),
    ("eval-numkeys-too-big", ("EVAL", "s", 2, "a")),
    ("eval-numkeys-plus", ("EVAL", "s", "+1", "a")),
    ("eval-numkeys-leading-zero", ("EVAL", "s", "01", "a")),
    ("eval-numkeys-space", ("EVAL", "s", " 1", "a")),
    ("fcall-numkeys-too-big", ("FCALL", "f", 3, "a", "b")),
    ("zunionstore-numkeys-too-big", ("ZUNIONSTORE", "d", 3, "a", "b")),
    ("zunionstore-numkeys-zero", ("ZUNIONSTORE", "d", 0, "a")),
    ("zunion-numkeys-not-int", ("ZUNION", "two", "a", "b")),
    ("lmpop-numkeys-zero", ("LMPOP", 0, "a", "LEFT")),
    ("blmpop-numkeys-huge", ("BLMPOP", 0, 99999999999999999999, "a", "LEFT")),
    ("sintercard-numkeys-too-big", ("SINTERCARD", 3, "a", "b")),
    ("migrate-keys-with-key", ("MIGRATE", "h", 6379, "k", 0, 5000, "KEYS", "a")),
    ("xinfo-stream-no-key", ("XINFO", "STREAM")),
    ("object-encoding-no-key", ("OBJECT ENCODING",)),
    ("config-alone", ("CONFIG",)),
    ("xread-too-short", ("XREAD", "STREAMS", "a")),
]


@pytest.mark.parametrize(
    "args", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_command_keys_malformed(args):
    with pytest.raises(RedisClusterException):
        command_keys(*args)


def test_many_keys():
    keys = ["k%d" % i for i in range(10000)]
    assert command_keys("DEL", *keys) == list(range(1, 10001))
    pairs = [x for k in keys for x in (k, "v")]
    assert command_keys("MSET", *pairs) == list(range(1, 20001, 2))
    assert command_keys("EVAL", "s", len(keys), *keys, "arg") == list(range(3, 10003))


def test_xinfo_split_and_joined_agree():
    # The joined form's indices are into args as given: one less than the split form.
    assert command_keys("XINFO STREAM", "s") == [1]
    assert command_keys("XINFO", "STREAM", "s") == [2]
    assert command_keys("xinfo stream", "s") == [1]
