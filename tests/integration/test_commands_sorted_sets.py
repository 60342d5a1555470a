"""Sorted set commands on the real cluster: every method, its return shape in
both decode modes, argument errors, hash-tagged multi-key commands and CROSSSLOT."""

import math
import threading

import pytest

from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import key_for_slot, parse_info, wait_for

# every key of a test shares the {zs} hash tag (one slot); OTHER is elsewhere
A = "rcit:{zs}:a"
B = "rcit:{zs}:b"
C = "rcit:{zs}:c"
D = "rcit:{zs}:dest"


@pytest.fixture
def other():
    """A key in another slot than A."""
    return key_for_slot(1, "zother")


def _seed(rc, name=A, mapping=None):
    rc.zadd(name, mapping or {"a": 1, "b": 2, "c": 3})


def test_zadd_and_options(rc, flush):
    assert rc.zadd(A, {"a": 1, "b": 2}) == 2
    assert rc.zadd(A, {"a": 1, "c": 3}) == 1
    assert rc.zadd(A, {"a": 10, "d": 4}, ch=True) == 2
    assert rc.zadd(A, {"a": 99, "e": 5}, nx=True) == 1
    assert rc.zscore(A, "a") == 10.0
    assert rc.zadd(A, {"a": 20, "zz": 1}, xx=True) == 0
    assert rc.zscore(A, "a") == 20.0 and rc.zscore(A, "zz") is None
    # gt/lt only update in one direction but still add
    assert rc.zadd(A, {"a": 5, "f": 6}, gt=True, ch=True) == 1
    assert rc.zscore(A, "a") == 20.0
    assert rc.zadd(A, {"a": 5}, lt=True, ch=True) == 1
    assert rc.zscore(A, "a") == 5.0
    # incr returns the new score (float), None when a condition stops it
    assert rc.zadd(A, {"a": 2.5}, incr=True) == 7.5
    assert rc.zadd(A, {"new": 1}, incr=True, xx=True) is None
    assert rc.zadd(A, {"a": 1}, incr=True, nx=True) is None
    assert rc.zadd(A, {"a": -1}, incr=True, gt=True) is None
    assert rc.zadd(A, {"a": 1}, incr=True, gt=True) == 8.5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mapping={}),
        dict(mapping={"a": 1}, nx=True, xx=True),
        dict(mapping={"a": 1}, gt=True, lt=True),
        dict(mapping={"a": 1}, nx=True, gt=True),
        dict(mapping={"a": 1}, nx=True, lt=True),
        dict(mapping={"a": 1, "b": 2}, incr=True),
    ],
)
def test_zadd_data_errors(rc, kwargs):
    with pytest.raises(DataError):
        rc.zadd(A, **kwargs)


def test_card_count_lexcount_incr_score(rc, flush):
    _seed(rc)
    assert rc.zcard(A) == 3 and rc.zcard(B) == 0
    assert rc.zcount(A, 2, "+inf") == 2
    assert rc.zcount(A, "(1", 3) == 2
    rc.zadd(B, {"a": 0, "b": 0, "c": 0, "d": 0})
    assert rc.zlexcount(B, "[b", "+") == 3
    assert rc.zlexcount(B, "-", "(c") == 2
    assert rc.zincrby(A, 1.5, "a") == 2.5
    assert rc.zincrby(A, 1, "new") == 1.0
    assert rc.zscore(A, "a") == 2.5
    assert rc.zscore(A, "missing") is None
    assert rc.zscore(B, "a") == 0.0 and isinstance(rc.zscore(B, "a"), float)
    rc.zadd(C, {"inf": "+inf"})
    assert rc.zscore(C, "inf") == math.inf


def test_zmscore(rc, rc_decoded, flush):
    _seed(rc)
    assert rc.zmscore(A, ["a", "nope", "c"]) == [1.0, None, 3.0]
    assert rc_decoded.zmscore(A, ["b"]) == [2.0]
    with pytest.raises(DataError):
        rc.zmscore(A, [])


def test_rank(rc, rc_decoded, cluster, flush):
    _seed(rc)
    assert rc.zrank(A, "a") == 0 and rc.zrank(A, "c") == 2
    assert rc.zrevrank(A, "a") == 2
    assert rc.zrank(A, "x") is None and rc.zrevrank(A, "x") is None
    assert rc_decoded.zrank(A, "b") == 1
    version = cluster.raw(cluster.base, "INFO", "server").decode()
    version = tuple(int(x) for x in version.split("redis_version:")[1].split()[0].split(".")[:2])
    if version >= (7, 2):
        assert rc.zrank(A, "b", withscore=True) == [1, 2.0]
        assert rc.zrevrank(A, "b", withscore=True, score_cast_func=int) == [1, 2]
        assert rc.zrank(A, "x", withscore=True) is None
    else:
        with pytest.raises(ResponseError):
            rc.zrank(A, "b", withscore=True)


def test_zrange_shapes(rc, rc_decoded, flush):
    _seed(rc)
    assert rc.zrange(A, 0, -1) == [b"a", b"b", b"c"]
    assert rc_decoded.zrange(A, 0, -1) == ["a", "b", "c"]
    assert rc.zrange(A, 0, 1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert rc_decoded.zrange(A, 0, 1, withscores=True) == [("a", 1.0), ("b", 2.0)]
    assert rc.zrange(A, 0, -1, desc=True) == [b"c", b"b", b"a"]
    assert rc.zrange(A, 0, 0, True, True, int) == [(b"c", 3)]
    pairs = rc.zrange(A, 0, -1, withscores=True, score_cast_func=int)
    assert pairs == [(b"a", 1), (b"b", 2), (b"c", 3)] and all(type(s) is int for _, s in pairs)
    assert rc.zrange(B, 0, -1) == [] and rc.zrange(B, 0, -1, withscores=True) == []


def test_zrange_byscore_bylex_rev_limit(rc, rc_decoded, flush):
    _seed(rc, mapping={"a": 1, "b": 2, "c": 3, "d": 4})
    assert rc.zrange(A, 2, "+inf", byscore=True) == [b"b", b"c", b"d"]
    assert rc.zrange(A, "(1", 3, byscore=True, withscores=True) == [(b"b", 2.0), (b"c", 3.0)]
    assert rc.zrange(A, 4, 2, byscore=True, desc=True) == [b"d", b"c", b"b"]
    assert rc.zrange(A, "-inf", "+inf", byscore=True, offset=1, num=2) == [b"b", b"c"]
    with pytest.raises(ResponseError):  # LIMIT needs BYSCORE or BYLEX (server rule)
        rc.zrange(A, 0, -1, desc=True, offset=0, num=1)
    rc.zadd(B, {"a": 0, "b": 0, "c": 0, "d": 0})
    assert rc.zrange(B, "[b", "(d", bylex=True) == [b"b", b"c"]
    assert rc_decoded.zrange(B, "+", "[c", bylex=True, desc=True) == ["d", "c"]
    assert rc.zrange(B, "-", "+", bylex=True, offset=1, num=2) == [b"b", b"c"]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(byscore=True, bylex=True),
        dict(offset=1),
        dict(num=1),
        dict(bylex=True, withscores=True),
    ],
)
def test_zrange_data_errors(rc, kwargs):
    with pytest.raises(DataError):
        rc.zrange(A, 0, 1, **kwargs)


def test_zrangestore(rc, flush, other):
    _seed(rc, mapping={"a": 1, "b": 2, "c": 3, "d": 4})
    assert rc.zrangestore(D, A, 0, 1) == 2
    assert rc.zrange(D, 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert rc.zrangestore(D, A, 3, "+inf", byscore=True) == 2
    assert rc.zrange(D, 0, -1) == [b"c", b"d"]
    assert rc.zrangestore(D, A, "+inf", "-inf", byscore=True, desc=True, offset=0, num=1) == 1
    assert rc.zrange(D, 0, -1) == [b"d"]
    assert rc.zrangestore(D, A, "[a", "[b", bylex=True) == 2
    with pytest.raises(DataError):
        rc.zrangestore(D, A, 0, 1, offset=1)
    with pytest.raises(ClusterCrossSlotError):
        rc.zrangestore(other, A, 0, 1)


def test_zrevrange_and_by_score_lex(rc, rc_decoded, flush):
    _seed(rc, mapping={"a": 1, "b": 2, "c": 3, "d": 4})
    assert rc.zrevrange(A, 0, 1) == [b"d", b"c"]
    assert rc.zrevrange(A, 0, 0, withscores=True) == [(b"d", 4.0)]
    assert rc_decoded.zrevrange(A, 0, 0, withscores=True, score_cast_func=int) == [("d", 4)]
    assert rc.zrangebyscore(A, 2, 3) == [b"b", b"c"]
    assert rc.zrangebyscore(A, "-inf", "+inf", start=1, num=2, withscores=True) == [
        (b"b", 2.0), (b"c", 3.0)]
    assert rc.zrevrangebyscore(A, "+inf", "(2") == [b"d", b"c"]
    assert rc.zrevrangebyscore(A, 4, 1, 1, 1, True, int) == [(b"c", 3)]
    rc.zadd(B, {"a": 0, "b": 0, "c": 0})
    assert rc.zrangebylex(B, "-", "[b") == [b"a", b"b"]
    assert rc.zrangebylex(B, "-", "+", start=1, num=1) == [b"b"]
    assert rc_decoded.zrevrangebylex(B, "+", "(a") == ["c", "b"]
    assert rc.zrevrangebylex(B, "+", "-", 0, 1) == [b"c"]
    for call in (lambda: rc.zrangebyscore(A, 0, 1, start=1),
                 lambda: rc.zrevrangebyscore(A, 1, 0, num=1),
                 lambda: rc.zrangebylex(B, "-", "+", start=0),
                 lambda: rc.zrevrangebylex(B, "+", "-", num=0)):
        with pytest.raises(DataError):
            call()


def test_zrem_and_ranges(rc, flush):
    _seed(rc, mapping={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    assert rc.zrem(A, "a", "nope") == 1
    assert rc.zremrangebyrank(A, 0, 0) == 1
    assert rc.zremrangebyscore(A, 5, "+inf") == 1
    assert rc.zrange(A, 0, -1) == [b"c", b"d"]
    rc.zadd(B, {"a": 0, "b": 0, "c": 0})
    assert rc.zremrangebylex(B, "[a", "(c") == 2
    assert rc.zrange(B, 0, -1) == [b"c"]


def test_zpop(rc, rc_decoded, flush):
    _seed(rc, mapping={"a": 1, "b": 2, "c": 3, "d": 4})
    assert rc.zpopmax(A) == [(b"d", 4.0)]
    assert rc.zpopmin(A) == [(b"a", 1.0)]
    assert rc_decoded.zpopmin(A, 5) == [("b", 2.0), ("c", 3.0)]
    assert rc.zpopmax(A) == [] and rc.zpopmin(A, 2) == []


def test_bzpop(rc, rc_decoded, flush, other):
    _seed(rc, name=B, mapping={"x": 7, "y": 8})
    assert rc.bzpopmax([A, B], timeout=1) == (B.encode(), b"y", 8.0)
    assert rc_decoded.bzpopmin(B, 1) == (B, "x", 7.0)
    assert rc.bzpopmin([A, B], timeout=0.05) is None
    assert rc.bzpopmax(A, timeout=0.05) is None
    with pytest.raises(ClusterCrossSlotError):
        rc.bzpopmin([A, other], timeout=0.05)


def test_bzpopmin_wakes_up(rc, new_client, cluster, flush):
    """A blocked BZPOPMIN returns what another client adds meanwhile."""
    master = cluster.master_of_slot(rc.keyslot(C))

    def blocked():
        info = parse_info(cluster.raw(master, "INFO", "clients"))
        return int(info["blocked_clients"]) >= 1

    result = []
    t = threading.Thread(target=lambda: result.append(new_client().bzpopmin(C, timeout=4)))
    t.start()
    try:
        wait_for(blocked, 3, message="BZPOPMIN to block")
        rc.zadd(C, {"late": 42})
    finally:
        t.join()
    assert result == [(C.encode(), b"late", 42.0)]


@pytest.mark.needs("redis7-commands")
def test_zmpop_bzmpop(rc, rc_decoded, flush, other):
    _seed(rc, name=B, mapping={"a": 1, "b": 2, "c": 3})
    assert rc.zmpop(2, [A, B], min=True) == [B.encode(), [[b"a", 1.0]]]
    assert rc_decoded.zmpop(2, [A, B], max=True, count=5) == [B, [["c", 3.0], ["b", 2.0]]]
    assert rc.zmpop(2, [A, B], min=True) is None
    rc.zadd(A, {"q": 9})
    assert rc.bzmpop(1, 2, [A, B], max=True) == [A.encode(), [[b"q", 9.0]]]
    assert rc.bzmpop(0.05, 2, [A, B], min=True, count=2) is None
    for call in (lambda: rc.zmpop(1, [A]), lambda: rc.zmpop(1, [A], min=True, max=True),
                 lambda: rc.bzmpop(1, 1, [A]), lambda: rc.bzmpop(1, 1, [A], min=True, max=True)):
        with pytest.raises(DataError):
            call()
    with pytest.raises(ClusterCrossSlotError):
        rc.zmpop(2, [A, other], min=True)


def test_zrandmember(rc, rc_decoded, flush):
    _seed(rc)
    assert rc.zrandmember(A) in (b"a", b"b", b"c")
    assert rc_decoded.zrandmember(A) in ("a", "b", "c")
    assert rc.zrandmember(B) is None
    assert sorted(rc.zrandmember(A, 5)) == [b"a", b"b", b"c"]
    assert len(rc.zrandmember(A, -5)) == 5
    pairs = rc.zrandmember(A, 3, withscores=True)
    assert sorted(pairs) == [(b"a", 1.0), (b"b", 2.0), (b"c", 3.0)]
    assert sorted(rc_decoded.zrandmember(A, 2, withscores=True))[0][0] in ("a", "b")
    assert rc.zrandmember(B, 2) == [] and rc.zrandmember(B, 2, withscores=True) == []
    with pytest.raises(DataError):
        rc.zrandmember(A, withscores=True)


def test_zdiff_zdiffstore(rc, rc_decoded, flush, other):
    _seed(rc, name=A, mapping={"a": 1, "b": 2, "c": 3})
    _seed(rc, name=B, mapping={"b": 20})
    assert rc.zdiff([A, B]) == [b"a", b"c"]
    assert rc.zdiff([A, B], withscores=True) == [(b"a", 1.0), (b"c", 3.0)]
    assert rc_decoded.zdiff([A, B], withscores=True) == [("a", 1.0), ("c", 3.0)]
    assert rc.zdiffstore(D, [A, B]) == 2
    assert rc.zrange(D, 0, -1, withscores=True) == [(b"a", 1.0), (b"c", 3.0)]
    with pytest.raises(ClusterCrossSlotError):
        rc.zdiff([A, other])
    with pytest.raises(ClusterCrossSlotError):
        rc.zdiffstore(other, [A, B])


@pytest.mark.needs("redis7-commands")
def test_zinter_zunion(rc, rc_decoded, flush, other):
    _seed(rc, name=A, mapping={"a": 1, "b": 2, "c": 3})
    _seed(rc, name=B, mapping={"b": 10, "c": 20, "d": 30})
    assert rc.zinter([A, B]) == [b"b", b"c"]
    assert rc.zinter([A, B], withscores=True) == [(b"b", 12.0), (b"c", 23.0)]
    assert rc.zinter([A, B], aggregate="MAX", withscores=True) == [(b"b", 10.0), (b"c", 20.0)]
    assert rc.zinter({A: 2, B: 1}, aggregate="min", withscores=True) == [
        (b"b", 4.0), (b"c", 6.0)]
    assert rc.zunion([A, B]) == [b"a", b"b", b"c", b"d"]
    assert rc_decoded.zunion([A, B], withscores=True, score_cast_func=int) == [
        ("a", 1), ("b", 12), ("c", 23), ("d", 30)]
    assert rc.zunion({A: 10, B: 1}, aggregate="MIN", withscores=True) == [
        (b"a", 10.0), (b"b", 10.0), (b"c", 20.0), (b"d", 30.0)]
    assert rc.zintercard(2, [A, B]) == 2
    assert rc.zintercard(2, [A, B], limit=1) == 1
    with pytest.raises(DataError):
        rc.zinter([A, B], aggregate="AVG")
    with pytest.raises(DataError):
        rc.zunion([A, B], aggregate="median")
    for call in (lambda: rc.zinter([A, other]), lambda: rc.zunion([A, other]),
                 lambda: rc.zintercard(2, [A, other])):
        with pytest.raises(ClusterCrossSlotError):
            call()


def test_zinterstore_zunionstore(rc, flush, other):
    _seed(rc, name=A, mapping={"a": 1, "b": 2})
    _seed(rc, name=B, mapping={"b": 3, "c": 4})
    assert rc.zinterstore(D, [A, B]) == 1
    assert rc.zrange(D, 0, -1, withscores=True) == [(b"b", 5.0)]
    assert rc.zinterstore(D, {A: 10, B: 1}, aggregate="MAX") == 1
    assert rc.zscore(D, "b") == 20.0
    assert rc.zunionstore(D, [A, B]) == 3
    assert rc.zrange(D, 0, -1, withscores=True) == [(b"a", 1.0), (b"c", 4.0), (b"b", 5.0)]
    assert rc.zunionstore(D, {A: 1, B: 2}, aggregate="min") == 3
    assert rc.zscore(D, "b") == 2.0 and rc.zscore(D, "c") == 8.0
    with pytest.raises(DataError):
        rc.zunionstore(D, [A, B], aggregate="AVG")
    with pytest.raises(ClusterCrossSlotError):
        rc.zunionstore(other, [A, B])
    with pytest.raises(ClusterCrossSlotError):
        rc.zinterstore(D, [A, other])


def test_zscan_and_iter(rc, rc_decoded, flush):
    members = {"m%03d" % i: i for i in range(300)}  # big enough for a skiplist
    rc.zadd(A, members)
    cursor, items = rc.zscan(A, count=20)
    assert isinstance(cursor, int) and items and all(
        isinstance(m, bytes) and isinstance(s, float) for m, s in items)
    seen = dict(rc.zscan_iter(A, count=50))
    assert seen == {m.encode(): float(s) for m, s in members.items()}
    matched = dict(rc_decoded.zscan_iter(A, match="m00*", score_cast_func=int))
    assert matched == {"m%03d" % i: i for i in range(10)}
    rc.zadd(B, {"x": 1.5})
    assert rc.zscan(B) == (0, [(b"x", 1.5)])
    assert rc_decoded.zscan(B, 0, match="x") == (0, [("x", 1.5)])
    assert list(rc.zscan_iter(C)) == []


def test_binary_members_and_keys(rc, rc_decoded, flush):
    key = b"rcit:{zs}:\xff\xfe"
    rc.zadd(key, {b"\x80\x81": 1, b"plain": 2})
    assert rc.zrange(key, 0, -1, withscores=True) == [(b"\x80\x81", 1.0), (b"plain", 2.0)]
    assert rc.zscore(key, b"\x80\x81") == 1.0
    assert rc.zpopmin(key) == [(b"\x80\x81", 1.0)]
    assert rc_decoded.zrange(key, 0, -1) == ["plain"]
    assert dict(rc.zscan_iter(key)) == {b"plain": 2.0}


def test_wrongtype(rc, flush):
    rc.set(A, "string")
    with pytest.raises(ResponseError):
        rc.zadd(A, {"a": 1})
    with pytest.raises(ResponseError):
        rc.zrange(A, 0, -1)
