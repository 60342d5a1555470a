"""Set commands (rediscluster/commands/sets.py) on the real cluster: every method,
its return shape with bytes and decoded replies, same-slot rules, hash tags and
non-UTF-8 bytes. (SDIFF/SINTER/SUNION, their STORE forms and SMOVE are the
multi-key module's.)"""

import pytest

from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import key_for_slot

# one slot on each master of a 3-master cluster (0-5460, 5461-10922, 10923-16383)
SLOTS = (300, 9000, 14000)


def test_sadd_scard_srem(rc, flush):
    k = key_for_slot(SLOTS[0], "s")
    assert rc.scard(k) == 0
    assert rc.sadd(k, "a", "b", "c") == 3
    assert rc.sadd(k, "a", "d") == 1
    assert rc.sadd(k, 1, 2.5) == 2
    assert rc.scard(k) == 6
    assert rc.srem(k, "a", "missing") == 1
    assert rc.srem(k, "missing") == 0
    assert rc.scard(k) == 5


def test_sismember_smembers(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[1], "s")
    assert rc.smembers(k) == set() and isinstance(rc.smembers(k), set)
    assert rc.sismember(k, "a") is False
    rc.sadd(k, "a", "b", 3)
    assert rc.sismember(k, "a") is True
    assert rc.sismember(k, 3) is True
    assert rc_decoded.sismember(k, "z") is False
    assert rc.smembers(k) == {b"a", b"b", b"3"}
    assert rc_decoded.smembers(k) == {"a", "b", "3"}


def test_smismember(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[2], "s")
    assert rc.smismember(k, ["a", "b"]) == [0, 0]
    rc.sadd(k, "a", "c")
    assert rc.smismember(k, ["a", "b", "c"]) == [1, 0, 1]
    assert rc.smismember(k, "c", "a", "x") == [1, 1, 0]
    assert rc.smismember(k, "a") == [1]
    assert rc_decoded.smismember(k, ("x", "a")) == [0, 1]


def test_spop(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "s")
    assert rc.spop(k) is None
    assert rc.spop(k, 2) == []
    members = {b"a", b"b", b"c", b"d", b"e"}
    rc.sadd(k, *members)
    one = rc.spop(k)
    assert one in members
    two = rc.spop(k, 2)
    assert isinstance(two, list) and len(two) == 2 and set(two) <= members - {one}
    rest = rc_decoded.spop(k, 10)
    assert isinstance(rest, list) and len(rest) == 2 and all(isinstance(m, str) for m in rest)
    assert {one} | set(two) | {m.encode() for m in rest} == members
    assert rc.exists(k) == 0


def test_srandmember(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[1], "s")
    assert rc.srandmember(k) is None
    assert rc.srandmember(k, 3) == []
    members = {b"a", b"b", b"c"}
    rc.sadd(k, *members)
    assert rc.srandmember(k) in members
    assert rc_decoded.srandmember(k) in {"a", "b", "c"}
    two = rc.srandmember(k, 2)
    assert isinstance(two, list) and len(two) == 2 and len(set(two)) == 2
    assert set(two) <= members
    assert sorted(rc.srandmember(k, 10)) == sorted(members)
    repeats = rc.srandmember(k, -8)
    assert len(repeats) == 8 and set(repeats) <= members
    assert rc.scard(k) == 3  # nothing removed


@pytest.mark.needs("redis7-commands")
def test_sintercard(rc, rc_decoded, flush):
    a, b, c = (key_for_slot(SLOTS[2], n) for n in ("a", "b", "c"))
    assert rc.sintercard(2, [a, b]) == 0
    rc.sadd(a, 1, 2, 3, 4, 5)
    rc.sadd(b, 2, 3, 4, 9)
    rc.sadd(c, 3, 4)
    assert rc.sintercard(2, [a, b]) == 3
    assert rc.sintercard(3, [a, b, c]) == 2
    assert rc.sintercard(2, [a, b], limit=2) == 2
    assert rc_decoded.sintercard(2, (a, b), 0) == 3
    assert rc.sintercard(1, a) == 5   # one key given as a plain string
    with pytest.raises(ResponseError):
        rc.sintercard(3, [a, b])      # numkeys does not match


@pytest.mark.needs("redis7-commands")
def test_sintercard_needs_one_slot(rc, flush):
    a, b = key_for_slot(SLOTS[0], "a"), key_for_slot(SLOTS[1], "b")
    with pytest.raises(ClusterCrossSlotError):
        rc.sintercard(2, [a, b])


def test_sscan(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "s")
    assert rc.sscan(k) == (0, [])
    rc.sadd(k, "a1", "a2", "b1")
    cursor, members = rc.sscan(k)
    assert cursor == 0 and isinstance(cursor, int) and isinstance(members, list)
    assert sorted(members) == [b"a1", b"a2", b"b1"]
    cursor, members = rc.sscan(k, match="a*")
    assert cursor == 0 and sorted(members) == [b"a1", b"a2"]
    assert rc_decoded.sscan(k, 0, match="b*", count=100) == (0, ["b1"])


@pytest.mark.parametrize("slot", SLOTS)
def test_sscan_iter_large_set_on_each_master(rc, rc_decoded, cluster, slot, flush):
    k = key_for_slot(slot, "big")
    members = {("m%d" % i).encode() for i in range(700)}
    rc.sadd(k, *members)
    assert cluster.raw(cluster.owner(slot), "SCARD", k) == 700
    # the cursor really takes several steps on a hashtable-encoded set
    cursor, part = rc.sscan(k, count=10)
    assert cursor != 0 and 0 < len(part) < 700
    seen = list(rc.sscan_iter(k, count=50))
    assert len(seen) >= 700 and set(seen) == members  # SSCAN may repeat, never miss
    assert set(rc_decoded.sscan_iter(k, match="m1?")) == {"m%d" % i for i in range(10, 20)}
    assert list(rc.sscan_iter(key_for_slot(slot, "missing"))) == []


def test_intset_sscan_iter(rc, flush):
    k = key_for_slot(SLOTS[1], "ints")
    rc.sadd(k, *range(50))
    assert sorted(int(m) for m in rc.sscan_iter(k)) == list(range(50))


@pytest.mark.needs("redis7-commands")
def test_hash_tags(rc, flush):
    a, b = "rcit:{team9}:members", "rcit:{team9}:admins"
    assert rc.keyslot(a) == rc.keyslot(b)
    rc.sadd(a, "x", "y", "z")
    rc.sadd(b, "y")
    assert rc.sintercard(2, [a, b]) == 1
    assert rc.smismember(b, ["x", "y"]) == [0, 1]


def test_non_utf8_bytes(rc, flush):
    k = b"rcit:{\xf0\xf1}:set"
    members = {b"\xff", b"\x00\x80", b"\xc3\x28"}
    assert rc.sadd(k, *members) == 3
    assert rc.smembers(k) == members
    assert rc.sismember(k, b"\xff") is True
    assert rc.smismember(k, [b"\xc3\x28", b"\xc3"]) == [1, 0]
    assert set(rc.sscan_iter(k)) == members
    assert rc.srem(k, b"\x00\x80") == 1
    assert rc.spop(k, 5) and rc.exists(k) == 0


def test_bad_input(rc, flush):
    k = key_for_slot(SLOTS[2], "s")
    with pytest.raises(DataError):
        rc.sadd(k, None)
    with pytest.raises(DataError):
        rc.smismember(k, [["nested"]])
    assert rc.exists(k) == 0
    rc.set(k, "string")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.smembers(k)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        list(rc.sscan_iter(k))


def test_sscan_iter_with_read_from_replicas(rc, new_client, cluster, flush):
    slot = SLOTS[2]
    k = key_for_slot(slot, "rfr")
    members = {("m%d" % i).encode() for i in range(700)}
    rc.sadd(k, *members)
    cluster.wait_replica_synced(cluster.owner(slot))
    client = new_client(read_from_replicas=True)
    seen = list(client.sscan_iter(k, count=50))
    assert set(seen) == members
