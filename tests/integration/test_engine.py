"""The engine's everyday path: routing over every slot, basic command
semantics, reply decoding, errors raised before anything is sent."""

import pytest

from rediscluster.exceptions import (
    ClusterCrossSlotError,
    RedisClusterException,
    ResponseError,
)

from rcit import NSLOTS, PREFIX, crc_slot, key_for_slot


def test_key_for_slot_matches_server_and_client(rc, cluster):
    sample = list(range(0, NSLOTS, 997)) + [NSLOTS - 1]
    with cluster.conn(cluster.base) as c:
        server = c.pipe([("CLUSTER", "KEYSLOT", key_for_slot(s, "x")) for s in sample])
    assert server == sample
    assert [rc.keyslot(key_for_slot(s, "x")) for s in range(NSLOTS)] == list(range(NSLOTS))
    assert rc.keyslot("foo") == rc.keyslot("{foo}bar") == crc_slot(b"foo") == 12182


def test_all_slots_set_get(rc, flush):
    keys = [key_for_slot(s, "all") for s in range(NSLOTS)]
    values = [b"v:" + k.encode() for k in keys]
    res = rc._execute_batch([(("SET", k, v), None) for k, v in zip(keys, values)])
    assert res == [True] * NSLOTS
    res = rc._execute_batch([(("GET", k), None) for k in keys])
    bad = [(k, r) for k, v, r in zip(keys, values, res) if r != v]
    assert not bad, bad[:5]
    # a sample through the single-command path, both ways
    for s in range(0, NSLOTS, 64):
        k = key_for_slot(s, "single")
        assert rc.set(k, "s:%d" % s) is True
        assert rc.get(k) == b"s:%d" % s
        assert rc.get(keys[s]) == values[s]


def test_every_slot_goes_to_its_master(rc, cluster, flush):
    # the client's slot map agrees with the server's, and keys land there
    view = cluster.slots_view()
    assert len(rc.connection_pool.nodes.slots) == NSLOTS
    for start, end, master, _ in view:
        for s in (start, (start + end) // 2, end):
            k = key_for_slot(s, "where")
            rc.set(k, b"x")  # (a MOVED left by an earlier test would patch the map here)
            assert rc.connection_pool.nodes.slots[s][0]["port"] == master
            assert cluster.raw(master, "EXISTS", k) == 1


def test_ping_all_nodes(rc, cluster):
    res = rc.ping()
    assert res == {"%s:%d" % (cluster.host, p): True for p in cluster.ports}


def test_incr_exists_delete(rc, flush):
    k = key_for_slot(1, "n")
    assert rc.exists(k) == 0
    assert rc.incr(k) == 1
    assert rc.incr(k, 41) == 42
    assert rc.incr(k, -2) == 40
    assert rc.get(k) == b"40"
    assert rc.exists(k) == 1
    k2 = key_for_slot(1, "m")  # same slot: multi-key EXISTS/DEL work
    rc.set(k2, "v")
    assert rc.exists(k, k2) == 2
    assert rc.delete(k) == 1
    assert rc.delete(k) == 0
    assert rc.exists(k) == 0
    assert rc.get(k) is None
    assert rc.delete(k, k2) == 1
    rc.set(k, "not a number")
    with pytest.raises(ResponseError, match="not an integer"):
        rc.incr(k)


def test_exists_across_slots_counts_per_slot(rc, flush):
    # The original raised CROSSSLOT here; we split by slot and add the counts.
    a, b, c = key_for_slot(10, "a"), key_for_slot(20, "b"), key_for_slot(9000, "c")
    rc.set(a, "1")
    rc.set(c, "1")
    assert rc.exists(a, b, c, a) == 3
    assert rc.exists(b) == 0


def test_same_slot_multi_key_uses_the_server_command(rc, flush):
    keys = ["{t:tag}1", "{t:tag}2"]
    for k in keys:
        rc.set(k, "1")
    before = _calls(rc, "exists", keys[0])
    assert rc.exists(*keys) == 2
    assert _calls(rc, "exists", keys[0]) == before + 1


def _calls(rc, command, key):
    """calls= of `command` in INFO commandstats on the master of `key`."""
    node = rc.connection_pool.nodes.slots[rc.keyslot(key)][0]
    info = rc.connection_pool._node_command(node["host"], node["port"], "INFO", "commandstats")
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_%s:" % command):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def test_delete_many_keys_across_slots(rc, flush):
    keys = [key_for_slot(s, "d") for s in (10, 6000, 12000)]
    for k in keys:
        rc.set(k, "1")
    assert rc.delete(*keys, key_for_slot(20, "missing")) == 3
    assert rc.exists(keys[0]) == 0


def test_decode_responses(rc, rc_decoded, flush):
    k = key_for_slot(100, "dec")
    assert rc_decoded.set(k, "h\u00e9llo \u5927\u5956") is True
    assert rc_decoded.get(k) == "h\u00e9llo \u5927\u5956"
    assert rc.get(k) == "h\u00e9llo \u5927\u5956".encode("utf-8")
    assert rc_decoded.incr(k + "n") == 1
    assert isinstance(rc_decoded.get(k + "n"), str)
    assert rc_decoded.get(k + "missing") is None
    assert rc_decoded.ping() == {n: True for n in rc.ping()}


def test_non_utf8_bytes_round_trip(rc, flush):
    tag = key_for_slot(200, "").encode()
    pairs = [
        (tag + b"\xff\xfe\x00\x80", b"\x00\x01\xff\xfe\r\n$3\r\n"),
        (tag + bytes(range(256)), bytes(range(255, -1, -1)) * 3),
        (b"\xc3\x28" + tag, b""),
    ]
    for k, v in pairs:
        assert rc.set(k, v) is True
    for k, v in pairs:
        assert rc.get(k) == v
    res = rc._execute_batch([(("GET", k), None) for k, _ in pairs])
    assert res == [v for _, v in pairs]
    # the raw bytes of the key pick the slot (tag inside)
    assert rc.keyslot(pairs[0][0]) == 200
    assert rc.delete(pairs[2][0]) == 1


def test_hash_tags_route_together(rc, cluster, flush):
    tag = "{%suser1000}" % PREFIX
    keys = [tag + ".following", tag + ".followers", "%s:x:%s" % (PREFIX, tag)]
    slot = rc.keyslot(keys[0])
    assert all(rc.keyslot(k) == slot for k in keys)
    for k in keys:
        rc.set(k, k)
    master = cluster.owner(slot)
    assert cluster.raw(master, "EXISTS", *keys) == 3
    # a multi-key command in one slot is fine
    assert rc.exists(*keys) == 3
    assert rc.execute_command("MGET", *keys) == [k.encode() for k in keys]
    # an empty tag does not count: the whole key is hashed
    assert rc.keyslot("foo{}bar") == crc_slot(b"foo{}bar")
    assert rc.keyslot("foo{bar}{zap}") == rc.keyslot("bar")


def test_unknown_command(rc):
    with pytest.raises(ResponseError, match="(?i)unknown command"):
        rc.execute_command("NOSUCHCOMMANDX", key_for_slot(5, "u"))


def test_execute_command_without_args(rc):
    with pytest.raises(RedisClusterException, match="Unable to determine command to use"):
        rc.execute_command()


def test_execute_command_missing_key(rc):
    with pytest.raises(RedisClusterException, match="Missing key"):
        rc.execute_command("GET")


def test_server_error_leaves_client_usable(rc, flush):
    k = key_for_slot(300, "wt")
    rc.execute_command("LPUSH", k, "a")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.get(k)
    assert rc.execute_command("LRANGE", k, 0, -1) == [b"a"]
    assert rc.set(key_for_slot(300, "ok"), "1") is True


def test_command_name_memo_keeps_every_check(rc, flush):
    """execute_command remembers the last command name object (an upper-case
    str) and its table entry; the same name object with the wrong number of
    arguments, a lower-case name, a name of another command and keys at other
    places still go the general way."""
    name = "".join(["G", "ET"])  # a str object of our own, not an interned literal
    k1, k2 = key_for_slot(100, "memo"), key_for_slot(9000, "memo")
    rc.set(k1, "one")
    rc.set(k2, "two")
    assert rc.execute_command(name, k1) == b"one"
    assert rc.execute_command(name, k2) == b"two"  # memo hit, other slot
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        rc.execute_command(name, k1, "extra")
    assert rc.execute_command(name, k1) == b"one"
    assert rc.execute_command("get", k2) == b"two"
    with pytest.raises(RedisClusterException, match="Missing key"):
        rc.execute_command(name)
    # keys at another place under another memoised name
    hset = "".join(["HS", "ET"])
    assert rc.execute_command(hset, k1 + "h", "f", "v") == 1
    assert rc.execute_command("HGET", k1 + "h", "f") == b"v"
    # a memoised name object dropped by its owner stays valid for the client
    del name
    assert rc.get(k1) == b"one"
