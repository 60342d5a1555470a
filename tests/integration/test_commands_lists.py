"""List commands (rediscluster/commands/lists.py) on the real cluster: every
method, its return shape with bytes and decoded replies, blocking commands,
same-slot rules for multi-key commands, hash tags and non-UTF-8 bytes."""

import threading

import pytest

from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import key_for_slot, parse_info, wait_for

# one slot on each master of a 3-master cluster (0-5460, 5461-10922, 10923-16383)
SLOTS = (200, 8000, 16000)


def _keys(slot, n):
    return [key_for_slot(slot, "l%d" % i) for i in range(n)]


def test_push_range_len_index(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "l")
    assert rc.llen(k) == 0
    assert rc.lrange(k, 0, -1) == []
    assert rc.rpush(k, "b", "c") == 2
    assert rc.lpush(k, "a") == 3
    assert rc.lpush(k, 1, 2.5) == 5  # [2.5, 1, a, b, c]
    assert rc.llen(k) == 5
    assert rc.lrange(k, 0, -1) == [b"2.5", b"1", b"a", b"b", b"c"]
    assert rc_decoded.lrange(k, 2, 3) == ["a", "b"]
    assert rc.lindex(k, 0) == b"2.5"
    assert rc.lindex(k, -1) == b"c"
    assert rc_decoded.lindex(k, 2) == "a"
    assert rc.lindex(k, 99) is None


def test_pushx(rc, flush):
    k = key_for_slot(SLOTS[1], "l")
    assert rc.lpushx(k, "x") == 0
    assert rc.rpushx(k, "x") == 0
    assert rc.exists(k) == 0
    rc.rpush(k, "m")
    assert rc.lpushx(k, "l1") == 2
    assert rc.rpushx(k, "r1") == 3
    assert rc.lpushx(k, "l2", "l3") == 5  # several values (Redis >= 4)
    assert rc.rpushx(k, value="r2") == 6  # redis-py 3.5 keyword
    assert rc.lrange(k, 0, -1) == [b"l3", b"l2", b"l1", b"m", b"r1", b"r2"]


def test_linsert(rc, flush):
    k = key_for_slot(SLOTS[2], "l")
    assert rc.linsert(k, "BEFORE", "x", "y") == 0  # no list
    rc.rpush(k, "a", "c")
    assert rc.linsert(k, "BEFORE", "c", "b") == 3
    assert rc.linsert(k, "after", "c", "d") == 4
    assert rc.linsert(k, "AFTER", "zz", "e") == -1
    assert rc.lrange(k, 0, -1) == [b"a", b"b", b"c", b"d"]
    with pytest.raises(ResponseError):
        rc.linsert(k, "NEAR", "a", "x")


def test_lpop_rpop(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[0], "l")
    assert rc.lpop(k) is None and rc.rpop(k) is None
    assert rc.lpop(k, 2) is None and rc.rpop(k, 2) is None  # no list: nil
    rc.rpush(k, "a", "b", "c", "d", "e", "f")
    assert rc.lpop(k) == b"a"
    assert rc.rpop(k) == b"f"
    assert rc.lpop(k, 2) == [b"b", b"c"]
    assert rc_decoded.rpop(k, 1) == ["e"]
    assert rc.rpop(k, 10) == [b"d"]
    assert rc.exists(k) == 0


def test_lrem_lset_ltrim(rc, flush):
    k = key_for_slot(SLOTS[1], "l")
    rc.rpush(k, "x", "a", "x", "b", "x", "c", "x")
    assert rc.lrem(k, 1, "x") == 1       # from the head
    assert rc.lrem(k, -1, "x") == 1      # from the tail
    assert rc.lrange(k, 0, -1) == [b"a", b"x", b"b", b"x", b"c"]
    assert rc.lrem(k, 0, "x") == 2       # all
    assert rc.lrem(k, 0, "nope") == 0
    assert rc.lset(k, 1, "B") is True
    assert rc.lset(k, -1, "C") is True
    assert rc.lrange(k, 0, -1) == [b"a", b"B", b"C"]
    with pytest.raises(ResponseError, match="index out of range"):
        rc.lset(k, 10, "z")
    assert rc.ltrim(k, 1, -1) is True
    assert rc.lrange(k, 0, -1) == [b"B", b"C"]
    assert rc.ltrim(k, 5, 10) is True    # empties, deletes the key
    assert rc.exists(k) == 0


def test_lpos(rc, rc_decoded, flush):
    k = key_for_slot(SLOTS[2], "l")
    assert rc.lpos(k, "a") is None
    assert rc.lpos(k, "a", count=0) == []
    rc.rpush(k, "a", "b", "c", "1", "2", "3", "c", "c")
    assert rc.lpos(k, "a") == 0
    assert rc.lpos(k, "c") == 2
    assert rc.lpos(k, "x") is None
    assert rc.lpos(k, "c", rank=2) == 6
    assert rc.lpos(k, "c", rank=-1) == 7
    assert rc.lpos(k, "c", count=2) == [2, 6]
    assert rc.lpos(k, "c", count=0) == [2, 6, 7]
    assert rc.lpos(k, "c", rank=-1, count=2) == [7, 6]
    assert rc.lpos(k, "c", count=0, maxlen=7) == [2, 6]
    assert rc.lpos(k, "c", rank=1, count=1, maxlen=2) == []
    assert rc.lpos(k, "x", count=3) == []
    assert rc_decoded.lpos(k, "3") == 5
    with pytest.raises(ResponseError):
        rc.lpos(k, "c", rank=0)


def test_lmove(rc, rc_decoded, flush):
    src, dst = _keys(SLOTS[0], 2)
    assert rc.lmove(src, dst) is None
    rc.rpush(src, "one", "two", "three")
    assert rc.lmove(src, dst) == b"one"                    # LEFT -> RIGHT
    assert rc.lmove(src, dst, "RIGHT", "LEFT") == b"three"
    assert rc_decoded.lmove(src, dst, src="LEFT", dest="LEFT") == "two"
    assert rc.lrange(dst, 0, -1) == [b"two", b"three", b"one"]
    assert rc.exists(src) == 0
    assert rc.lmove(dst, dst, "LEFT", "RIGHT") == b"two"   # rotate
    assert rc.lrange(dst, 0, -1) == [b"three", b"one", b"two"]


def test_blmove(rc, rc_decoded, flush):
    src, dst = _keys(SLOTS[1], 2)
    rc.rpush(src, "a", "b")
    assert rc.blmove(src, dst, 1) == b"a"
    assert rc_decoded.blmove(src, dst, 1, "RIGHT", "LEFT") == "b"
    assert rc.lrange(dst, 0, -1) == [b"b", b"a"]
    assert rc.blmove(src, dst, 0.1) is None                # empty: times out


@pytest.mark.needs("redis7-commands")
def test_lmpop(rc, rc_decoded, flush):
    k1, k2 = _keys(SLOTS[2], 2)
    assert rc.lmpop(2, k1, k2, direction="LEFT") is None
    rc.rpush(k2, "a", "b", "c", "d")
    assert rc.lmpop(2, k1, k2, direction="LEFT") == [k2.encode(), [b"a"]]
    assert rc.lmpop(2, k1, k2, direction="RIGHT", count=2) == [k2.encode(), [b"d", b"c"]]
    rc.rpush(k1, "x")
    assert rc_decoded.lmpop(2, k1, k2, direction="LEFT", count=5) == [k1, ["x"]]
    assert rc.lmpop(1, k2, direction="LEFT", count=None) == [k2.encode(), [b"b"]]
    with pytest.raises(TypeError):
        rc.lmpop(1, k2)  # direction is required (keyword-only, as redis-py)


@pytest.mark.needs("redis7-commands")
def test_blmpop(rc, rc_decoded, flush):
    k1, k2 = _keys(SLOTS[0], 2)
    rc.rpush(k1, "a", "b", "c")
    assert rc.blmpop(1, 2, k2, k1, direction="LEFT") == [k1.encode(), [b"a"]]
    assert rc_decoded.blmpop(1, 2, k2, k1, direction="RIGHT", count=5) == [k1, ["c", "b"]]
    assert rc.blmpop(0.1, 2, k1, k2, direction="LEFT") is None  # empty: times out


def test_blpop_brpop_with_data(rc, rc_decoded, flush):
    k1, k2 = _keys(SLOTS[1], 2)
    rc.rpush(k2, "a", "b", "c", "d")
    assert rc.blpop([k1, k2], timeout=1) == (k2.encode(), b"a")
    assert rc.brpop([k1, k2], 1) == (k2.encode(), b"d")
    assert rc_decoded.blpop(k2, 1) == (k2, "b")
    assert rc_decoded.brpop(k2, timeout=None) == (k2, "c")   # None means 0, data there
    rc.rpush(k1, "x")
    assert rc.blpop(k1) == (k1.encode(), b"x")               # default timeout 0


def test_blocking_timeouts_return_none(rc, new_client, flush):
    k1, k2 = _keys(SLOTS[2], 2)
    assert rc.blpop(k1, timeout=1) is None
    assert rc.brpop([k1, k2], timeout=0.1) is None
    # default socket_timeout (None): the client waits for the server's answer
    client = new_client(socket_timeout=None)
    assert client.blpop([k1, k2], 0.1) is None
    assert client.brpop(k1, 0.1) is None


def test_blpop_wakes_up_on_push(rc, new_client, cluster, flush):
    k = key_for_slot(SLOTS[0], "wake")
    master = cluster.owner(SLOTS[0])
    blocker = new_client(socket_timeout=None)
    result = []
    th = threading.Thread(target=lambda: result.append(blocker.blpop(k, timeout=10)))
    th.start()
    try:
        def blocked():
            return int(parse_info(cluster.raw(master, "INFO", "clients"))["blocked_clients"])

        wait_for(blocked, 5.0, message="BLPOP to block on %d" % master)
        assert rc.rpush(k, "hello") == 1
    finally:
        th.join(15)
    assert not th.is_alive()
    assert result == [(k.encode(), b"hello")]
    assert rc.exists(k) == 0


@pytest.mark.needs("redis7-commands")
def test_multi_key_commands_need_one_slot(rc, flush):
    a, b = key_for_slot(SLOTS[0], "a"), key_for_slot(SLOTS[1], "b")
    rc.rpush(a, "1")
    with pytest.raises(ClusterCrossSlotError):
        rc.blpop([a, b], 1)
    with pytest.raises(ClusterCrossSlotError):
        rc.brpop([a, b], 1)
    with pytest.raises(ClusterCrossSlotError):
        rc.lmpop(2, a, b, direction="LEFT")
    with pytest.raises(ClusterCrossSlotError):
        rc.blmpop(1, 2, a, b, direction="LEFT")
    assert rc.lrange(a, 0, -1) == [b"1"]  # nothing moved


@pytest.mark.needs("redis7-commands")
def test_lmove_blmove_across_slots(rc, flush):
    """Like rpoplpush across slots: pop then push, not atomic (issue 17)."""
    a, b = key_for_slot(SLOTS[0], "a"), key_for_slot(SLOTS[1], "b")
    rc.rpush(a, "1", "2", "3")
    assert rc.lmove(a, b) == b"1"  # LEFT of a -> RIGHT of b
    assert rc.blmove(a, b, 1, "RIGHT", "LEFT") == b"3"
    assert rc.lrange(a, 0, -1) == [b"2"] and rc.lrange(b, 0, -1) == [b"3", b"1"]
    assert rc.blmove(key_for_slot(SLOTS[0], "empty"), b, 0.05) is None


@pytest.mark.needs("redis7-commands")
def test_hash_tags(rc, flush):
    src, dst = "rcit:{queue7}:in", "rcit:{queue7}:out"
    assert rc.keyslot(src) == rc.keyslot(dst)
    rc.rpush(src, "job1", "job2")
    assert rc.lmove(src, dst) == b"job1"
    assert rc.blpop([dst, src], 1) == (dst.encode(), b"job1")
    assert rc.lmpop(2, dst, src, direction="LEFT") == [src.encode(), [b"job2"]]


@pytest.mark.needs("redis7-commands")
def test_non_utf8_bytes(rc, flush):
    k = b"rcit:{\xfa\xfb}:list"
    values = [b"\xff", b"\x00\x80", b"\xc3\x28"]
    assert rc.rpush(k, *values) == 3
    assert rc.lrange(k, 0, -1) == values
    assert rc.lindex(k, 1) == b"\x00\x80"
    assert rc.lpos(k, b"\xc3\x28") == 2
    assert rc.blpop(k, 1) == (k, b"\xff")
    assert rc.lmpop(1, k, direction="RIGHT") == [k, [b"\xc3\x28"]]
    assert rc.rpop(k, 5) == [b"\x00\x80"]


def test_bad_input(rc, flush):
    k = key_for_slot(SLOTS[1], "l")
    with pytest.raises(DataError):
        rc.rpush(k, None)
    with pytest.raises(DataError):
        rc.lpos(k, {"a": 1})
    assert rc.exists(k) == 0
    rc.set(k, "string")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.lpush(k, "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.blpop(k, 1)
