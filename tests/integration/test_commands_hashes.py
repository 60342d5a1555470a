"""Hash commands (rediscluster/commands/hashes.py) on the real cluster: every
method, its return shape with bytes and decoded replies, argument errors, hash
tags and non-UTF-8 bytes."""

import warnings

import pytest

from rediscluster.exceptions import DataError, ResponseError

from rcit import key_for_slot

# one slot on each master of a 3-master cluster (0-5460, 5461-10922, 10923-16383)
SLOTS = (100, 7000, 15000)


def test_hset_forms(rc, flush):
    k = key_for_slot(SLOTS[0], "h")
    assert rc.hset(k, "f1", "v1") == 1
    assert rc.hset(k, "f1", "v1b") == 0  # updated, not added
    assert rc.hset(k, mapping={"f2": 2, "f3": 3.5}) == 2
    assert rc.hset(k, items=["f4", "v4", "f5", b"v5"]) == 2
    # all three at once: items, then key/value, then mapping
    assert rc.hset(k, "f6", "v6", mapping={"f7": "v7"}, items=["f8", "v8"]) == 3
    assert rc.hgetall(k) == {b"f1": b"v1b", b"f2": b"2", b"f3": b"3.5", b"f4": b"v4",
                             b"f5": b"v5", b"f6": b"v6", b"f7": b"v7", b"f8": b"v8"}
    assert rc.hlen(k) == 8


@pytest.mark.parametrize("kwargs", [{}, {"mapping": {}}, {"items": []}, {"value": "x"}])
def test_hset_without_pairs_is_a_data_error(rc, kwargs):
    with pytest.raises(DataError, match="'hset' with no key value pairs"):
        rc.hset(key_for_slot(SLOTS[0], "h"), **kwargs)


def test_hset_bad_value_type(rc, flush):
    k = key_for_slot(SLOTS[1], "h")
    with pytest.raises(DataError):
        rc.hset(k, "f", None)
    assert rc.exists(k) == 0


def test_hget_hexists_hdel_hlen(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[1], "h")
    assert rc.hget(k, "nope") is None
    assert rc.hexists(k, "a") is False
    assert rc.hlen(k) == 0
    rc.hset(k, mapping={"a": "1", "b": "2", "c": "3"})
    assert rc.hget(k, "a") == b"1"
    assert rc_decoded.hget(k, "a") == "1"
    assert rc.hexists(k, "a") is True
    assert rc_decoded.hexists(k, "zz") is False
    assert rc.hdel(k, "a", "b", "missing") == 2
    assert rc.hdel(k, "missing") == 0
    assert rc.hlen(k) == 1
    assert rc.hget(k, "a") is None


def test_hgetall_hkeys_hvals(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[2], "h")
    assert rc.hgetall(k) == {}
    assert rc.hkeys(k) == [] and rc.hvals(k) == []
    rc.hset(k, mapping={"x": "1", "y": "2"})
    assert rc.hgetall(k) == {b"x": b"1", b"y": b"2"}
    assert rc_decoded.hgetall(k) == {"x": "1", "y": "2"}
    assert sorted(rc.hkeys(k)) == [b"x", b"y"]
    assert sorted(rc_decoded.hkeys(k)) == ["x", "y"]
    assert sorted(rc.hvals(k)) == [b"1", b"2"]
    assert sorted(rc_decoded.hvals(k)) == ["1", "2"]
    assert isinstance(rc.hkeys(k), list) and isinstance(rc.hvals(k), list)


def test_hincrby_hincrbyfloat(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "h")
    assert rc.hincrby(k, "n") == 1
    assert rc.hincrby(k, "n", 10) == 11
    assert rc_decoded.hincrby(k, "n", -2) == 9
    assert rc.hincrbyfloat(k, "f") == 1.0
    r = rc.hincrbyfloat(k, "f", 0.5)
    assert r == 1.5 and isinstance(r, float)
    r = rc_decoded.hincrbyfloat(k, "f", "2.25")
    assert r == 3.75 and isinstance(r, float)
    rc.hset(k, "s", "text")
    with pytest.raises(ResponseError, match="not an integer"):
        rc.hincrby(k, "s", 1)


def test_hsetnx(rc, flush):
    k = key_for_slot(SLOTS[1], "h")
    assert rc.hsetnx(k, "f", "first") == 1
    assert rc.hsetnx(k, "f", "second") == 0
    assert rc.hget(k, "f") == b"first"


def test_hmset_warns_and_sets(rc, flush):
    k = key_for_slot(SLOTS[2], "h")
    message = r"RedisCluster\.hmset\(\) is deprecated\. Use RedisCluster\.hset\(\) instead\."
    with pytest.warns(DeprecationWarning, match=message):
        assert rc.hmset(k, {"a": 1, "b": b"2"}) is True
    assert rc.hgetall(k) == {b"a": b"1", b"b": b"2"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(DataError, match="'hmset' with 'mapping' of length 0"):
            rc.hmset(k, {})


def test_hmget(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "h")
    rc.hset(k, mapping={"a": "1", "b": "2"})
    assert rc.hmget(k, ["a", "missing", "b"]) == [b"1", None, b"2"]
    assert rc.hmget(k, "a", "b") == [b"1", b"2"]
    assert rc.hmget(k, "b") == [b"2"]
    assert rc_decoded.hmget(k, ("b", "a")) == ["2", "1"]


def test_hstrlen(rc, flush):
    k = key_for_slot(SLOTS[1], "h")
    rc.hset(k, "f", "hello")
    assert rc.hstrlen(k, "f") == 5
    assert rc.hstrlen(k, "missing") == 0


def test_hrandfield(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[2], "h")
    assert rc.hrandfield(k) is None
    assert rc.hrandfield(k, 2) == []
    fields = {b"a": b"1", b"b": b"2", b"c": b"3"}
    rc.hset(k, mapping=fields)
    assert rc.hrandfield(k) in fields
    assert rc_decoded.hrandfield(k) in ("a", "b", "c")
    two = rc.hrandfield(k, 2)
    assert isinstance(two, list) and len(two) == 2 and len(set(two)) == 2
    assert set(two) <= set(fields)
    assert sorted(rc.hrandfield(k, 10)) == sorted(fields)  # capped at the hash size
    repeats = rc.hrandfield(k, -7)
    assert len(repeats) == 7 and set(repeats) <= set(fields)
    # WITHVALUES: a flat [field, value, ...] list (current redis-py, RESP2)
    flat = rc.hrandfield(k, 3, withvalues=True)
    assert len(flat) == 6
    assert dict(zip(flat[::2], flat[1::2])) == fields
    flat = rc_decoded.hrandfield(k, -2, withvalues=True)
    assert len(flat) == 4 and all(isinstance(x, str) for x in flat)
    assert all({"a": "1", "b": "2", "c": "3"}[f] == v for f, v in zip(flat[::2], flat[1::2]))


def test_hscan(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "h")
    assert rc.hscan(k) == (0, {})
    rc.hset(k, mapping={"a1": "1", "a2": "2", "b1": "3"})
    cursor, data = rc.hscan(k)
    assert cursor == 0 and isinstance(cursor, int)
    assert data == {b"a1": b"1", b"a2": b"2", b"b1": b"3"}
    assert rc.hscan(k, match="a*") == (0, {b"a1": b"1", b"a2": b"2"})
    assert rc_decoded.hscan(k, 0, match="b*", count=100) == (0, {"b1": "3"})


@pytest.mark.parametrize("slot", SLOTS)
def test_hscan_iter_large_hash_on_each_master(rc, rc_decoded, cluster, slot, flush):
    k = key_for_slot(slot, "big")
    fields = {("f%d" % i).encode(): ("v%d" % i).encode() for i in range(600)}
    rc.hset(k, mapping=fields)
    assert cluster.raw(cluster.owner(slot), "HLEN", k) == 600
    # the cursor really takes several steps on a hashtable-encoded hash
    cursor, part = rc.hscan(k, count=10)
    assert cursor != 0 and 0 < len(part) < 600
    seen = list(rc.hscan_iter(k, count=50))
    assert all(isinstance(p, tuple) and len(p) == 2 for p in seen)
    assert dict(seen) == fields
    matched = dict(rc_decoded.hscan_iter(k, match="f1?"))
    assert matched == {"f%d" % i: "v%d" % i for i in range(10, 20)}
    assert list(rc.hscan_iter(key_for_slot(slot, "missing"))) == []


def test_non_utf8_bytes(rc, rc_decoded, flush):
    k = b"rcit:{\xfe\xff}:hash"
    field, value = b"\xff\x00f", b"\x80\x81v"
    assert rc.hset(k, field, value) == 1
    assert rc.hget(k, field) == value
    assert rc.hgetall(k) == {field: value}
    assert rc.hmget(k, [field, b"\xc3"]) == [value, None]
    assert list(rc.hscan_iter(k)) == [(field, value)]
    assert rc.hexists(k, field) is True
    assert rc.hstrlen(k, field) == 3
    # decoded replies of invalid UTF-8 do not crash the client
    assert rc_decoded.hlen(k) == 1
    assert rc.hdel(k, field) == 1


def test_hash_tag_keys_share_a_slot(rc, flush):
    a, b = "rcit:{user42}:profile", "rcit:{user42}:settings"
    assert rc.keyslot(a) == rc.keyslot(b)
    rc.hset(a, "name", "x")
    rc.hset(b, "theme", "dark")
    assert rc.hget(a, "name") == b"x" and rc.hget(b, "theme") == b"dark"


def test_wrong_type(rc, flush):
    k = key_for_slot(SLOTS[2], "str")
    rc.set(k, "v")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.hget(k, "f")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        list(rc.hscan_iter(k))


def test_hscan_iter_with_read_from_replicas(rc, new_client, cluster, flush):
    slot = SLOTS[1]
    k = key_for_slot(slot, "rfr")
    fields = {("f%d" % i).encode(): b"v" for i in range(600)}
    rc.hset(k, mapping=fields)
    cluster.wait_replica_synced(cluster.owner(slot))
    client = new_client(read_from_replicas=True)
    seen = list(client.hscan_iter(k, count=50))
    assert len(seen) == len(dict(seen)) == 600 and dict(seen) == fields
