"""Multi-key commands across slots (rediscluster/commands/multikey.py).

Keys in several slots: one command per slot group, sent through the batch
engine, results put back in the caller's order. Keys in one slot: the server's
own command, once (checked with INFO commandstats on the node). Each split
command is compared with the server's command on the same data in one slot.
"""

import time

import pytest

from rediscluster.exceptions import (
    DataError,
    NoPermissionError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

from rcit import PREFIX, RespError, key_for_slot, keys_for_slot, parse_info


@pytest.fixture(scope="module")
def slots(cluster):
    """Four slots: a and b on one master, c and d on two others."""
    view = cluster.slots_view()
    masters = sorted({m for _, _, m, _ in view})
    first = {}
    for start, end, master, _ in view:
        first.setdefault(master, []).extend([start + 7, start + 8])
    a, b = first[masters[0]][:2]
    c = first[masters[1]][0]
    d = first[masters[2]][0]
    return {"a": a, "b": b, "c": c, "d": d,
            "owner": {s: cluster.owner(s) for s in (a, b, c, d)}}


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def client(request, rc, rc_decoded):
    return rc_decoded if request.param else rc


def k(slot, name):
    return key_for_slot(slot, name)


def spread(slots, name):
    """Four keys named ``name``, one in each test slot (three masters)."""
    return [k(slots[s], "%s%d" % (name, i)) for i, s in enumerate("abcd")]


def same(slots, name, n=4):
    """``n`` keys in slot a."""
    return keys_for_slot(slots["a"], n, stem=name)


def conv(client, value):
    """What ``client`` returns for the bytes/str ``value``."""
    if value is None:
        return None
    if isinstance(value, (set, list)):
        return type(value)(conv(client, v) for v in value)
    is_decoded = client.connection_pool.connection_kwargs.get("decode_responses")
    if is_decoded:
        return value.decode() if isinstance(value, bytes) else value
    return value.encode() if isinstance(value, str) else value


class Calls:
    """Per-command call counts (INFO commandstats) on the masters, as deltas."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.ports = cluster.masters()
        self.before = self._read()

    def _read(self):
        out = {}
        for port in self.ports:
            info = parse_info(self.cluster.raw(port, "INFO", "commandstats"))
            for key, value in info.items():
                if key.startswith("cmdstat_"):
                    calls = int(value.split(",")[0].split("=")[1])
                    out[(port, key[8:])] = calls
        return out

    def delta(self, command, port=None):
        now = self._read()
        ports = [port] if port is not None else self.ports
        return sum(now.get((p, command), 0) - self.before.get((p, command), 0) for p in ports)


# ---------------------------------------------------------------- mget / mset


def test_mget_order_duplicates_all_masters(client, slots, flush):
    keys = [k(slots[s], "v%d" % i) for i in range(5) for s in "abcd"]
    keys += [PREFIX + "plain%d" % i for i in range(40)]  # slots all over the ring
    client.mset({key: "val-" + key for key in keys})
    ask = [keys[7], PREFIX + "missing", keys[0], keys[7], keys[-1], keys[3], keys[7],
           k(slots["c"], "missing")] + keys[::-1]
    want = [None if "missing" in key else conv(client, "val-" + key) for key in ask]
    assert client.mget(ask) == want
    assert client.mget(ask[0], *ask[1:]) == want
    assert client.mget(iter(ask)) == want  # any iterable
    assert client.mget([]) == []
    assert client.mget(keys[2]) == [conv(client, "val-" + keys[2])]


def test_mget_mset_1000_keys(rc, cluster, flush):
    keys = [PREFIX + "big:%d" % i for i in range(1000)]
    assert rc.mset({key: b"\xff%d" % i for i, key in enumerate(keys)}) is True
    assert rc.mget(keys) == [b"\xff%d" % i for i in range(1000)]
    assert rc.mget(keys[::-1] + keys[:10]) == [b"\xff%d" % i for i in range(999, -1, -1)] + \
        [b"\xff%d" % i for i in range(10)]
    # written where they belong (checked over a raw socket, not with the client)
    for key in keys[::97]:
        assert cluster.raw(cluster.owner(rc.keyslot(key)), "GET", key) == \
            b"\xff%d" % keys.index(key)
    assert rc.exists(*keys) == 1000
    assert rc.delete(*keys) == 1000
    assert rc.mget(keys) == [None] * 1000


def test_mget_same_slot_is_one_server_mget(rc, cluster, slots, flush):
    keys = same(slots, "one", 5)
    rc.mset({key: key for key in keys})
    calls = Calls(cluster)
    assert rc.mget(keys + [keys[0]]) == [key.encode() for key in keys + [keys[0]]]
    assert calls.delta("mget") == 1
    assert calls.delta("get") == 0
    calls = Calls(cluster)
    assert rc.mset({key: "x" for key in keys}) is True
    assert calls.delta("mset") == 1 and calls.delta("set") == 0


def test_mget_one_command_per_slot_group(rc, cluster, slots, flush):
    keys = [k(slots["a"], "g1"), k(slots["b"], "g2"), k(slots["a"], "g3"),
            k(slots["c"], "g4"), k(slots["b"], "g5"), k(slots["a"], "g6")]
    owner = slots["owner"]
    calls = Calls(cluster)
    rc.mset({key: i for i, key in enumerate(keys)})
    assert calls.delta("mset", owner[slots["a"]]) == 2  # slots a and b
    assert calls.delta("mset", owner[slots["c"]]) == 1
    assert calls.delta("mset") == 3
    calls = Calls(cluster)
    assert rc.mget(keys) == [b"%d" % i for i in range(6)]
    assert calls.delta("mget", owner[slots["a"]]) == 2
    assert calls.delta("mget", owner[slots["c"]]) == 1
    assert calls.delta("mget") == 3 and calls.delta("get") == 0


def test_mget_non_string_key_as_server_mget(client, slots, flush):
    # MGET answers nil for a key of another type (no WRONGTYPE); the split
    # version gives the same answer as the server's command.
    for keys in (same(slots, "wt"), spread(slots, "wt")):
        client.set(keys[0], "s")
        client.rpush(keys[1], "l")
        client.sadd(keys[2], "m")
        assert client.mget(keys) == [conv(client, "s"), None, None, None]


@pytest.fixture
def acl_user(cluster):
    """A user that may only touch keys of slot a's tag (set on every node)."""
    ports = [p for p in cluster.ports if cluster.answers(p)]
    yield ports
    for port in ports:
        cluster.raw(port, "ACL", "DELUSER", "rcit-multikey")


def test_mget_error_in_a_group_is_raised(new_client, slots, acl_user, cluster, flush):
    allowed = same(slots, "acl", 2)
    tag = allowed[0][len(PREFIX):allowed[0].index("}") + 1]
    for port in acl_user:
        cluster.raw(port, "ACL", "SETUSER", "rcit-multikey", "reset", "on", ">pw",
                    "~" + PREFIX + tag + "*", "+@all")
    c = new_client(username="rcit-multikey", password="pw")
    assert c.mset({allowed[0]: "1", allowed[1]: "2"}) is True
    assert c.mget(allowed) == [b"1", b"2"]
    denied = k(slots["c"], "acl")
    with pytest.raises(NoPermissionError):
        c.mget([allowed[0], denied, allowed[1]])
    with pytest.raises(ResponseError):
        c.mset({allowed[0]: "3", denied: "4"})
    with pytest.raises(ResponseError):
        c.delete(allowed[0], denied)


def test_mset_arguments(client, slots, flush):
    keys = spread(slots, "arg")
    assert client.mset({keys[0]: 1, keys[1]: 2.5}) is True
    assert client.mset(**{keys[2]: "c"}) is True
    # a dict and kwargs together: the dict wins (as redis-py-cluster)
    assert client.mset({keys[3]: "dict"}, **{keys[3]: "kw"}) is True
    assert client.mget(keys) == [conv(client, v) for v in ("1", "2.5", "c", "dict")]
    assert client.mset({}) is True and client.mset() is True
    for bad in (([keys[0], 1],), ({keys[0]: 1}, {keys[1]: 2}), ("a", "b")):
        with pytest.raises(RedisError, match=r"^MSET requires \*\*kwargs or a single dict arg$"):
            client.mset(*bad)
        with pytest.raises(RedisError,
                           match=r"^MSETNX requires \*\*kwargs or a single dict arg$"):
            client.msetnx(*bad)
    with pytest.raises(DataError):
        client.mset({keys[2]: "x", keys[0]: None})  # nothing sent: the batch is packed first
    assert client.mget(keys[0], keys[2]) == [conv(client, "1"), conv(client, "c")]


def test_mset_mget_binary(rc, slots, flush):
    keys = [k(slots[s], "bin").encode() + b"\xff\x00\xfe" for s in "abcd"]
    values = [b"\x80\x81\x00" + bytes([i]) for i in range(4)]
    assert rc.mset(dict(zip(keys, values))) is True
    assert rc.mget(keys) == values
    assert rc.exists(*keys) == 4
    assert rc.delete(*keys) == 4


@pytest.mark.parametrize("layout", ["same", "spread"])
def test_msetnx(client, cluster, slots, layout, flush):
    keys = same(slots, "nx") if layout == "same" else spread(slots, "nx")
    calls = Calls(cluster)
    assert client.msetnx({key: "1" for key in keys}) is True
    assert calls.delta("msetnx") == (1 if layout == "same" else 4)
    assert client.mget(keys) == [conv(client, "1")] * 4
    fresh = keys[:3] + [k(slots["b"] if layout == "spread" else slots["a"], "nx-fresh")]
    client.delete(*fresh[:3])
    client.rpush(fresh[1], "any type counts")
    assert client.msetnx({key: "2" for key in fresh}) is False
    assert client.mget(fresh) == [None, None, None, None]  # nothing written
    assert client.msetnx(**{fresh[0]: "kw"}) is True
    assert client.get(fresh[0]) == conv(client, "kw")


# ---------------------------------------------------------------- counting keys


@pytest.mark.parametrize("layout", ["same", "spread"])
def test_delete_unlink_exists_touch(client, cluster, slots, layout, flush):
    keys = same(slots, "cnt") if layout == "same" else spread(slots, "cnt")
    client.mset({key: "v" for key in keys[:3]})
    missing = keys[3]
    assert client.exists(*keys) == 3
    assert client.exists(keys[0], keys[0], missing) == 2  # counted twice, as EXISTS
    assert (keys[0] in client) and not (missing in client)
    assert client.touch(*keys) == 3
    assert client.touch(keys[1], keys[1]) == 2
    calls = Calls(cluster)
    assert client.delete(keys[0], keys[0], missing) == 1
    assert calls.delta("del") == (1 if layout == "same" else 2)
    assert client.unlink(*keys) == 2
    assert client.exists(*keys) == 0
    assert client.delete(missing) == 0 and client.unlink(missing) == 0


def test_counting_without_keys(rc):
    assert rc.delete() == 0  # as redis-py-cluster (a loop over no keys)
    for method in (rc.exists, rc.unlink, rc.touch):
        with pytest.raises(RedisClusterException, match="Missing key"):
            method()


def test_delete_one_del_per_slot_group(rc, cluster, slots, flush):
    keys = [k(slots[s], "d%d" % i) for i in range(3) for s in "abcd"]
    rc.mset({key: 1 for key in keys})
    calls = Calls(cluster)
    assert rc.delete(*keys) == 12
    owner = slots["owner"]
    assert calls.delta("del", owner[slots["a"]]) == 2
    assert calls.delta("del", owner[slots["c"]]) == 1
    assert calls.delta("del", owner[slots["d"]]) == 1


# ---------------------------------------------------------------- sets


SETS = [{"1", "2", "3", "x"}, {"2", "3", "4"}, {"3", "5", "\u00e9"}, set()]


def fill_sets(client, keys):
    for key, members in zip(keys, SETS):
        if members:
            client.sadd(key, *members)


@pytest.mark.parametrize("op", ["sdiff", "sinter", "sunion"])
def test_set_ops_match_server(client, cluster, slots, op, flush):
    one, many = same(slots, "set"), spread(slots, "set")
    fill_sets(client, one)
    fill_sets(client, many)
    fn = getattr(client, op)
    orders = [[0, 1, 2], [1, 0], [2, 0, 1], [0], [0, 3], [3, 0], [0, 0, 1], [1, 2, 1, 0]]
    for order in orders:
        want = fn([one[i] for i in order])
        assert isinstance(want, set)
        assert fn([many[i] for i in order]) == want, order
        assert fn(many[order[0]], *[many[i] for i in order[1:]]) == want
    assert fn(one[0], one[1]) == conv(client, {
        "sdiff": {"1", "x"}, "sinter": {"2", "3"}, "sunion": {"1", "2", "3", "4", "x"}}[op])
    calls = Calls(cluster)
    fn(one[:3])
    assert calls.delta(op) == 1 and calls.delta("smembers") == 0
    calls = Calls(cluster)
    fn(many[:3])
    # one command per slot group (SDIFF subtracts the SUNION of the other groups)
    total = calls.delta(op) + (calls.delta("sunion") if op == "sdiff" else 0)
    assert total == 3


@pytest.mark.parametrize("op", ["sdiff", "sinter", "sunion"])
def test_set_ops_wrongtype(client, slots, op, flush):
    for keys in (same(slots, "swt"), spread(slots, "swt")):
        client.sadd(keys[0], "a")
        client.set(keys[2], "string")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            getattr(client, op)(keys[0], keys[1], keys[2])
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            getattr(client, op + "store")(keys[3], keys[0], keys[2])


@pytest.mark.parametrize("op", ["sdiffstore", "sinterstore", "sunionstore"])
def test_set_store_ops_match_server(client, slots, op, flush):
    one = same(slots, "st", 6)
    many = spread(slots, "st") + [k(slots["c"], "st-dest"), k(slots["d"], "st-dest2")]
    fill_sets(client, one)
    fill_sets(client, many)
    fn = getattr(client, op)
    for order in ([0, 1, 2], [1, 0], [0, 3], [3], [2, 1, 0]):
        client.sadd(one[4], "old")
        client.sadd(many[4], "old")
        want = fn(one[4], [one[i] for i in order])
        got = fn(many[4], [many[i] for i in order])
        assert got == want and isinstance(got, int), order
        assert client.smembers(many[4]) == client.smembers(one[4])
        if want == 0:
            assert client.exists(one[4], many[4]) == 0  # dest deleted
    # dest is also a source
    client.delete(one[5], many[5])
    client.sadd(one[5], "a", "1")
    client.sadd(many[5], "a", "1")
    want = fn(one[5], one[5], one[0])
    assert fn(many[5], many[5], many[0]) == want
    assert client.smembers(many[5]) == client.smembers(one[5])


def test_sunionstore_of_nothing_is_zero(client, slots, flush):
    dest, a, b = k(slots["a"], "u-dest"), k(slots["c"], "u-a"), k(slots["d"], "u-b")
    client.set(dest, "replaced")
    assert client.sunionstore(dest, [a, b]) == 0  # redis-py-cluster raised here
    assert client.exists(dest) == 0
    for fn in (client.sdiffstore, client.sinterstore):
        client.set(dest, "replaced")
        assert fn(dest, a, b) == 0
        assert client.exists(dest) == 0


def test_store_ops_same_slot_with_dest_is_one_command(rc, cluster, slots, flush):
    keys = same(slots, "one-st", 3)
    fill_sets(rc, keys)
    calls = Calls(cluster)
    assert rc.sunionstore(keys[2], keys[0], keys[1]) == 5
    assert calls.delta("sunionstore") == 1 and calls.delta("sadd") == 0


def test_smove(client, slots, flush):
    for src, dst, same_slot in ((k(slots["a"], "m-src"), k(slots["a"], "m-dst"), True),
                                (k(slots["a"], "m-src2"), k(slots["c"], "m-dst2"), False)):
        client.sadd(src, "a", "b")
        r = client.smove(src, dst, "a")
        assert r == 1 and (r is True if same_slot else type(r) is int)
        assert client.smove(src, dst, "zz") == 0
        assert client.smembers(src) == conv(client, {"b"})
        assert client.smembers(dst) == conv(client, {"a"})
        client.set(dst + "s", "string")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            client.smove(dst + "s", src, "b")


# ---------------------------------------------------------------- rename


@pytest.mark.parametrize("layout", ["same", "cross"])
def test_rename(client, slots, layout, flush):
    src = k(slots["a"], "r-src")
    dst = k(slots["a"] if layout == "same" else slots["c"], "r-dst")
    client.rpush(src, "a", "b", "\u00e9")
    client.pexpire(src, 100000)
    client.set(dst, "overwritten")
    assert client.rename(src, dst) is True
    assert client.exists(src) == 0
    assert client.lrange(dst, 0, -1) == conv(client, ["a", "b", "\u00e9"])
    assert 90000 < client.pttl(dst) <= 100000
    client.set(src, "no ttl")
    assert client.rename(src, dst, replace=True) is True
    assert client.get(dst) == conv(client, "no ttl") and client.ttl(dst) == -1
    with pytest.raises(ResponseError, match="^no such key$"):
        client.rename(src, dst)
    with pytest.raises(ResponseError, match="^source and destination objects are the same$"):
        client.rename(dst, dst)


def test_rename_binary_value_decoded_client(rc, rc_decoded, slots, flush):
    # the payload travels as bytes even when replies are decoded
    src, dst = k(slots["a"], "rb-src"), k(slots["d"], "rb-dst")
    value = bytes(range(256)) * 40
    rc.set(src, value)
    rc.pexpire(src, 50000)
    assert rc_decoded.rename(src, dst) is True
    assert rc.get(dst) == value and 0 < rc.pttl(dst) <= 50000
    assert rc_decoded.renamenx(dst, src) is True
    assert rc.get(src) == value and rc.exists(dst) == 0


def test_rename_binary_keys(rc, slots, flush):
    src = k(slots["a"], "rk").encode() + b"\xff"
    dst = k(slots["c"], "rk").encode() + b"\xfe"
    rc.set(src, b"\x00\xff")
    assert rc.rename(src, dst) is True
    assert rc.get(dst) == b"\x00\xff" and rc.exists(src) == 0


@pytest.mark.parametrize("layout", ["same", "cross"])
def test_renamenx(client, slots, layout, flush):
    src = k(slots["a"], "rn-src")
    dst = k(slots["a"] if layout == "same" else slots["d"], "rn-dst")
    client.hset(src, "f", "v")
    client.set(dst, "kept")
    assert client.renamenx(src, dst) is False
    assert client.get(dst) == conv(client, "kept") and client.exists(src) == 1
    client.delete(dst)
    assert client.renamenx(src, dst) is True
    assert client.hget(dst, "f") == conv(client, "v") and client.exists(src) == 0
    with pytest.raises(ResponseError, match="no such key"):
        client.renamenx(src, k(slots["c"], "rn-other"))
    with pytest.raises(ResponseError, match="no such key"):  # as the server: src first
        client.renamenx(src, dst)


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize("layout", ["same", "cross"])
def test_rpoplpush_brpoplpush(client, slots, layout, flush):
    src = k(slots["a"], "l-src")
    dst = k(slots["a"] if layout == "same" else slots["c"], "l-dst")
    client.rpush(src, "", "a", "b")
    assert client.rpoplpush(src, dst) == conv(client, "b")
    assert client.brpoplpush(src, dst, timeout=1) == conv(client, "a")
    assert client.rpoplpush(src, dst) == conv(client, "")  # an empty value is moved too
    assert client.lrange(dst, 0, -1) == conv(client, ["", "a", "b"])
    assert client.rpoplpush(src, dst) is None
    assert client.brpoplpush(src, dst, timeout=0.05) is None
    assert client.lrange(dst, 0, -1) == conv(client, ["", "a", "b"])
    client.set(src, "string")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        client.rpoplpush(src, dst)


MOVES = {
    # name: (call(client, src, dst), how to fill src, how to read src)
    "rpoplpush": (lambda c, s, d: c.rpoplpush(s, d), "list"),
    "brpoplpush": (lambda c, s, d: c.brpoplpush(s, d, timeout=1), "list"),
    "lmove": (lambda c, s, d: c.lmove(s, d, "LEFT", "RIGHT"), "list"),
    "blmove": (lambda c, s, d: c.blmove(s, d, 1, "RIGHT", "LEFT"), "list"),
    "smove": (lambda c, s, d: c.smove(s, d, "m1"), "set"),
}


def _fill(client, key, kind):
    if kind == "list":
        client.rpush(key, "e1", "e2", "e3")
    else:
        client.sadd(key, "m1", "m2")


def _contents(client, key, kind):
    return client.lrange(key, 0, -1) if kind == "list" else client.smembers(key)


@pytest.mark.parametrize("name", sorted(MOVES))
def test_cross_slot_move_into_wrong_type_loses_nothing(client, slots, name, flush):
    """Issue 17: the destination's type is checked before popping; the source
    is unchanged after the failure (the original popped and lost the element)."""
    move, kind = MOVES[name]
    src, dst = k(slots["a"], name + "-src"), k(slots["c"], name + "-dst")
    _fill(client, src, kind)
    before = _contents(client, src, kind)
    client.set(dst, "a string")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        move(client, src, dst)
    assert _contents(client, src, kind) == before
    assert client.get(dst) == conv(client, "a string")


@pytest.mark.parametrize("name", sorted(MOVES))
def test_cross_slot_move_destination_retyped_between_steps(client, slots, name, flush):
    """The destination becomes a string after the check and before the push:
    the element is put back where it was and the server's error raised."""
    move, kind = MOVES[name]
    src, dst = k(slots["a"], name + "-rsrc"), k(slots["c"], name + "-rdst")
    _fill(client, src, kind)
    before = _contents(client, src, kind)
    real = client._check_dest_type

    def check_then_retype(key, expected):
        real(key, expected)
        client.set(key, "retyped")

    client._check_dest_type = check_then_retype
    try:
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            move(client, src, dst)
    finally:
        del client._check_dest_type
    assert _contents(client, src, kind) == before


@pytest.mark.parametrize("name", sorted(MOVES))
def test_cross_slot_move_destination_deleted_between_steps(client, slots, name, flush):
    move, kind = MOVES[name]
    src, dst = k(slots["a"], name + "-dsrc"), k(slots["c"], name + "-ddst")
    _fill(client, src, kind)
    _fill(client, dst, kind)
    real = client._check_dest_type

    def check_then_delete(key, expected):
        real(key, expected)
        client.delete(key)

    client._check_dest_type = check_then_delete
    try:
        moved = move(client, src, dst)
    finally:
        del client._check_dest_type
    assert moved  # the element went to a new destination of the right type
    assert len(_contents(client, src, kind)) + len(_contents(client, dst, kind)) == \
        (3 if kind == "list" else 2)


def test_brpoplpush_socket_timeout_gives_none(new_client, slots, flush):
    c = new_client(socket_timeout=0.2)
    src = k(slots["a"], "bt-src")
    for dst in (k(slots["a"], "bt-dst"), k(slots["c"], "bt-dst")):
        assert c.brpoplpush(src, dst, timeout=5) is None  # as redis-py-cluster
    assert c.exists(src) == 0


def test_rpoplpush_rotates_one_list(rc, slots, flush):
    key = k(slots["b"], "rot")
    rc.rpush(key, "1", "2", "3")
    assert rc.rpoplpush(key, key) == b"3"
    assert rc.lrange(key, 0, -1) == [b"3", b"1", b"2"]


# ---------------------------------------------------------------- hyperloglog


def hll_keys(slots, name):
    return [k(slots[s], "%s%d" % (name, i)) for i, s in enumerate("abcd")], \
        same(slots, name + "-one", 4)


def no_temp_keys(cluster):
    for port in cluster.masters():
        cursor, found = b"0", []
        while True:
            cursor, keys = cluster.raw(port, "SCAN", cursor, "MATCH", "*rc-tmp*", "COUNT", 1000)
            found += keys
            if cursor == b"0":
                return not found


def test_pfcount_pfmerge_match_server(client, cluster, slots, flush):
    many, one = hll_keys(slots, "hll")
    for keys in (many, one):
        client.pfadd(keys[0], *range(0, 300))
        client.pfadd(keys[1], *range(200, 500))
        client.pfadd(keys[2], *["m%d" % i for i in range(50)])
    want = client.pfcount(*one[:3])
    assert 500 < want < 600
    calls = Calls(cluster)
    assert client.pfcount(*many[:3]) == want
    assert calls.delta("pfcount") == 1  # temp copies of the others, then one PFCOUNT
    assert client.pfcount(many[0], many[3], many[0]) == client.pfcount(one[0], one[3], one[0])
    assert client.pfcount(many[0]) == client.pfcount(one[0])
    # merge into a dest that already holds an HLL of its own
    client.pfadd(many[3], "own")
    client.pfadd(one[3], "own")
    assert client.pfmerge(one[3], *one[:3]) is True
    assert client.pfmerge(many[3], *many[:3]) is True
    assert client.pfcount(many[3]) == client.pfcount(one[3]) >= want
    fresh = k(slots["b"], "hll-fresh")
    assert client.pfmerge(fresh, many[2], many[0]) is True
    assert client.pfcount(fresh) == client.pfcount(one[2], one[0])
    assert no_temp_keys(cluster)


def test_pfmerge_missing_and_wrong_type(client, cluster, slots, flush):
    many, one = hll_keys(slots, "hw")
    client.pfadd(many[0], "a", "b")
    assert client.pfmerge(many[3], many[0], many[1], many[2]) is True  # missing: empty
    assert client.pfcount(many[3]) == 2
    assert client.pfcount(many[1], many[2]) == 0
    for keys in (one, many):
        client.rpush(keys[1], "list")
        client.set(keys[2], "not an hll")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            client.pfmerge(keys[3], keys[0], keys[1])
        with pytest.raises(ResponseError):
            client.pfcount(keys[0], keys[2])
    assert no_temp_keys(cluster)


def test_pfmerge_dest_without_hash_tag(rc, cluster, slots, flush):
    # dests whose whole name is hashed, or with odd braces
    src = k(slots["c"], "ht-src")
    rc.pfadd(src, "x", "y")
    for dest in (PREFIX + "plain-dest", PREFIX + "odd}{dest", PREFIX + "{}empty-tag"):
        assert rc.pfmerge(dest, src) is True
        assert rc.pfcount(dest) == 2
        assert rc.pfcount(dest, src) == 2
    assert no_temp_keys(cluster)


# ---------------------------------------------------------------- one batch per step


class Recorder:
    """Wraps a client's execute_command and _execute_batch to record calls."""

    def __init__(self, client):
        self.singles, self.batches = [], []
        real_single, real_batch = client.execute_command, client._execute_batch

        def single(*args, **options):
            self.singles.append(args[0])
            return real_single(*args, **options)

        def batch(commands):
            self.batches.append([c[0][0] for c in commands])
            return real_batch(commands)

        client.execute_command = single
        client._execute_batch = batch


def test_split_commands_go_in_one_batch(new_client, slots, flush):
    c = new_client()
    keys = spread(slots, "b") + spread(slots, "b2")
    rec = Recorder(c)
    c.mset({key: "1" for key in keys})
    c.mget(keys)
    c.exists(*keys)
    c.touch(*keys)
    sets = [key + "set" for key in keys]  # missing keys: empty sets
    c.sunion(sets)
    c.sinter(sets)
    c.sdiff(sets)
    c.delete(*keys)
    c.unlink(*keys)
    assert rec.singles == []
    assert rec.batches == [[cmd] * 4 for cmd in ("MSET", "MGET", "EXISTS", "TOUCH", "SUNION",
                                                 "SINTER")] + \
        [["SDIFF", "SUNION", "SUNION", "SUNION"], ["DEL"] * 4, ["UNLINK"] * 4]
    rec.batches.clear()
    assert c.msetnx({key: "2" for key in keys}) is True
    assert rec.batches == [["EXISTS"] * 4, ["MSETNX"] * 4] and rec.singles == []
    rec.batches.clear()
    hll = [key + "hll" for key in keys]
    c.pfadd(hll[0], "a")
    c.pfadd(hll[1], "b")
    c.pfadd(hll[3], "b")
    del rec.singles[:]
    assert c.pfcount(*hll[:4]) == 2  # hll[2] is missing: not copied
    assert rec.batches == [["DUMP", "PTTL"] * 3, ["RESTORE", "RESTORE", "PFCOUNT", "DEL"]]
    assert rec.singles == []


def test_same_slot_sends_the_server_command(new_client, slots, flush):
    c = new_client()
    keys = same(slots, "srv", 3)
    rec = Recorder(c)
    c.mset({key: "1" for key in keys})
    c.mget(keys)
    c.exists(*keys)
    c.delete(*keys)
    c.sadd(keys[0], "x")
    c.sunionstore(keys[1], keys)
    c.smove(keys[1], keys[2], "x")
    c.rename(keys[2], keys[1])
    c.renamenx(keys[1], keys[2])
    c.pfmerge(keys[0] + "h", keys[0] + "h2")
    c.pfcount(keys[0] + "h", keys[0] + "h2")
    # one server command each (the mget/mset/counting family through a
    # one-command batch, which can be split if a migration answers TRYAGAIN)
    assert rec.batches == [["MSET"], ["MGET"], ["EXISTS"], ["DEL"]]
    assert rec.singles == ["SADD", "SUNIONSTORE", "SMOVE", "RENAME", "RENAMENX", "PFMERGE",
                           "PFCOUNT"]


# ---------------------------------------------------------------- slot migration


@pytest.mark.needs("multikey-tryagain")
def test_split_slot_during_migration(rc, new_client, cluster, slots, migration):
    # keys of one slot split between two nodes: a multi-key command gets
    # TRYAGAIN until the engine gives up; the group is then sent key by key
    slot = slots["b"]
    m = migration(slot)
    keys = keys_for_slot(slot, 3, stem="mig")
    other = k(slots["c"], "mig")
    rc.mset({key: key for key in keys + [other]})
    m.begin()
    m.move(keys[:1])
    with pytest.raises(RespError, match="^TRYAGAIN"):
        cluster.raw(m.src, "MGET", *keys)
    c = new_client()
    t0 = time.monotonic()
    assert c.mget(keys + [other]) == [key.encode() for key in keys + [other]]
    assert c.mset({keys[0]: "n0", keys[2]: "n2", other: "n"}) is True
    assert time.monotonic() - t0 < 5
    assert cluster.pipe(m.dst, [("ASKING",), ("GET", keys[0])])[1] == b"n0"
    assert [cluster.raw(m.src, "GET", key) for key in keys[1:]] == [keys[1].encode(), b"n2"]
    m.move_rest()
    m.finish()
    assert c.mget(keys + [other]) == [b"n0", keys[1].encode(), b"n2", b"n"]
