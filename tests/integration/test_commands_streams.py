"""Stream commands on the real cluster: every method, return shapes in both
decode modes, argument errors, several streams in one slot and CROSSSLOT."""

import threading

import pytest

from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import key_for_slot, parse_info, wait_for

S = "rcit:{xs}:s1"
S2 = "rcit:{xs}:s2"
GRP = "g1"


@pytest.fixture
def other():
    return key_for_slot(3, "xother")


def _fill(rc, name=S, n=3):
    return [rc.xadd(name, {"i": i}, id="%d-0" % (i + 1)) for i in range(n)]


def test_xadd_ids_and_fields(rc, rc_decoded, flush):
    first = rc.xadd(S, {"f": "v"})
    assert isinstance(first, bytes) and b"-" in first
    assert rc.xadd(S, {"a": 1, "b": b"\x00\xff"}, id="99999999999999-1") == b"99999999999999-1"
    assert isinstance(rc_decoded.xadd(S, {"x": "y"}), str)
    assert rc.xlen(S) == 3
    assert rc.xrange(S, "99999999999999-1", "99999999999999-1") == [
        (b"99999999999999-1", {b"a": b"1", b"b": b"\x00\xff"})]
    with pytest.raises(ResponseError):  # id not greater than the top one
        rc.xadd(S, {"f": "v"}, id="1-1")


def test_xadd_trimming_options(rc, flush):
    for i in range(10):
        rc.xadd(S, {"i": i}, maxlen=5, approximate=False)
    assert rc.xlen(S) == 5
    rc.xadd(S, {"i": "x"}, maxlen=100)  # MAXLEN ~ 100
    assert rc.xlen(S) == 6
    ids = [e[0] for e in rc.xrange(S)]
    rc.xadd(S, {"i": "y"}, minid=ids[2], approximate=False)
    assert rc.xrange(S)[0][0] == ids[2]
    before = rc.xlen(S)
    assert rc.xadd(S, {"i": "z"}, maxlen=0, approximate=True, limit=10)
    assert rc.xlen(S) <= before + 1
    with pytest.raises(ResponseError):  # LIMIT needs the ~ (server rule)
        rc.xadd(S, {"i": "z"}, maxlen=0, approximate=False, limit=10)
    assert rc.xadd(S2, {"f": "v"}, nomkstream=True) is None
    assert rc.exists(S2) == 0
    assert rc.xadd(S2, {"f": "v"}, nomkstream=False)
    assert rc.xadd(S2, {"f": "w"}, nomkstream=True) is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(fields={}),
        dict(fields=[("a", 1)]),
        dict(fields={"a": 1}, maxlen=-1),
        dict(fields={"a": 1}, maxlen="5"),
        dict(fields={"a": 1}, maxlen=5, minid="1-0"),
        dict(fields={"a": 1}, limit=5),
    ],
)
def test_xadd_data_errors(rc, kwargs):
    with pytest.raises(DataError):
        rc.xadd(S, **kwargs)


def test_xtrim_xdel_xlen(rc, flush):
    ids = _fill(rc, n=10)
    assert rc.xtrim(S, 8, approximate=False) == 2
    assert rc.xtrim(S, maxlen=6, approximate=False) == 2
    assert rc.xtrim(S, minid=ids[6], approximate=False) == 2
    assert rc.xlen(S) == 4
    assert rc.xdel(S, ids[8], ids[9], b"1-9") == 2
    assert rc.xlen(S) == 2 and rc.xlen(S2) == 0
    assert rc.xtrim(S, maxlen=0, limit=100) in (0, 2)  # ~ with LIMIT: whole nodes only
    with pytest.raises(ResponseError):
        rc.xtrim(S, maxlen=0, approximate=False, limit=100)
    with pytest.raises(DataError):
        rc.xtrim(S)
    with pytest.raises(DataError):
        rc.xtrim(S, maxlen=1, minid="1-0")


def test_xrange_xrevrange(rc, rc_decoded, flush):
    _fill(rc, n=4)
    assert rc.xrange(S) == [(b"%d-0" % i, {b"i": b"%d" % (i - 1)}) for i in range(1, 5)]
    assert rc.xrange(S, "2-0", "3-0") == [(b"2-0", {b"i": b"1"}), (b"3-0", {b"i": b"2"})]
    assert rc.xrange(S, "(2-0", count=1) == [(b"3-0", {b"i": b"2"})]
    assert rc_decoded.xrange(S, count=1) == [("1-0", {"i": "0"})]
    assert rc.xrevrange(S, count=2) == [(b"4-0", {b"i": b"3"}), (b"3-0", {b"i": b"2"})]
    assert rc_decoded.xrevrange(S, "2-0", "1-0") == [("2-0", {"i": "1"}), ("1-0", {"i": "0"})]
    assert rc.xrange(S2) == [] and rc.xrevrange(S2) == []
    for call in (lambda: rc.xrange(S, count=0), lambda: rc.xrevrange(S, count="1")):
        with pytest.raises(DataError):
            call()


def test_xread(rc, rc_decoded, flush, other):
    _fill(rc, S, 2)
    rc.xadd(S2, {"k": "v"}, id="5-0")
    assert rc.xread({S: 0}) == [[S.encode(), [(b"1-0", {b"i": b"0"}), (b"2-0", {b"i": b"1"})]]]
    assert rc.xread({S: "1-0"}, count=5) == [[S.encode(), [(b"2-0", {b"i": b"1"})]]]
    both = rc_decoded.xread({S: "1-0", S2: "0-0"}, count=1)
    assert both == [[S, [("2-0", {"i": "1"})]], [S2, [("5-0", {"k": "v"})]]]
    assert rc.xread({S: "$"}, block=10) == []
    assert rc.xread({S: "2-0"}) == []
    with pytest.raises(ClusterCrossSlotError):
        rc.xread({S: 0, other: 0})
    for kwargs in (dict(streams={}), dict(streams=[(S, 0)]), dict(streams={S: 0}, count=0),
                   dict(streams={S: 0}, block=-1), dict(streams={S: 0}, block=1.5)):
        with pytest.raises(DataError):
            rc.xread(**kwargs)


def test_xread_block_wakes_up(rc, new_client, cluster, flush):
    master = cluster.master_of_slot(rc.keyslot(S))

    def blocked():
        return int(parse_info(cluster.raw(master, "INFO", "clients"))["blocked_clients"]) >= 1

    result = []
    t = threading.Thread(target=lambda: result.append(new_client().xread({S: "$"}, block=4000)))
    t.start()
    try:
        wait_for(blocked, 3, message="XREAD to block")
        rc.xadd(S, {"late": "yes"}, id="7-0")
    finally:
        t.join()
    assert result == [[[S.encode(), [(b"7-0", {b"late": b"yes"})]]]]


def test_groups_read_ack_pending(rc, rc_decoded, flush, other):
    _fill(rc, S, 3)
    assert rc.xgroup_create(S, GRP, id="0") is True
    with pytest.raises(ResponseError):  # BUSYGROUP
        rc.xgroup_create(S, GRP)
    assert rc.xgroup_create(S2, GRP, mkstream=True, id="$") is True
    assert rc.xgroup_createconsumer(S, GRP, "alice") == 1
    assert rc.xgroup_createconsumer(S, GRP, "alice") == 0

    got = rc.xreadgroup(GRP, "alice", {S: ">"}, count=2)
    assert got == [[S.encode(), [(b"1-0", {b"i": b"0"}), (b"2-0", {b"i": b"1"})]]]
    got = rc_decoded.xreadgroup(GRP, "bob", {S: ">", S2: ">"}, block=10)
    assert got == [[S, [("3-0", {"i": "2"})]]]
    assert rc.xreadgroup(GRP, "bob", {S: ">"}, block=10) == []
    # history of a consumer: its pending entries
    assert rc.xreadgroup(GRP, "alice", {S: "0"}) == [
        [S.encode(), [(b"1-0", {b"i": b"0"}), (b"2-0", {b"i": b"1"})]]]

    summary = rc.xpending(S, GRP)
    assert summary["pending"] == 3 and summary["min"] == b"1-0" and summary["max"] == b"3-0"
    assert sorted(summary["consumers"], key=lambda c: c["name"]) == [
        {"name": b"alice", "pending": 2}, {"name": b"bob", "pending": 1}]
    assert rc_decoded.xpending(S2, GRP) == {"pending": 0, "min": None, "max": None,
                                            "consumers": []}

    detail = rc.xpending_range(S, GRP, "-", "+", 10)
    assert [d["message_id"] for d in detail] == [b"1-0", b"2-0", b"3-0"]
    assert set(detail[0]) == {"message_id", "consumer", "time_since_delivered",
                              "times_delivered"}
    assert detail[0]["consumer"] == b"alice" and detail[0]["times_delivered"] == 2
    assert isinstance(detail[0]["time_since_delivered"], int)
    assert [d["message_id"] for d in rc_decoded.xpending_range(
        S, GRP, "-", "+", 10, consumername="bob")] == ["3-0"]
    assert rc.xpending_range(S, GRP, "-", "+", 10, idle=3600000) == []
    assert rc.xpending_range(S, GRP, None, None, None) == summary

    assert rc.xack(S, GRP, "1-0", "3-0", "9-0") == 2
    assert rc.xpending(S, GRP)["pending"] == 1
    assert rc.xreadgroup(GRP, "carol", {S: ">"}, noack=True) == []
    rc.xadd(S, {"i": 3}, id="4-0")
    assert rc.xreadgroup(GRP, "carol", {S: ">"}, noack=True)[0][1][0][0] == b"4-0"
    assert rc.xpending(S, GRP)["pending"] == 1
    # a pending entry deleted meanwhile: the server sends [id, nil], as redis-py -> (id, {})
    rc.xdel(S, "2-0")
    assert rc.xreadgroup(GRP, "alice", {S: "0"}) == [[S.encode(), [(b"2-0", {})]]]

    with pytest.raises(ClusterCrossSlotError):
        rc.xreadgroup(GRP, "alice", {S: ">", other: ">"})
    for kwargs in (dict(streams={}), dict(streams={S: ">"}, count=0),
                   dict(streams={S: ">"}, block=-5)):
        with pytest.raises(DataError):
            rc.xreadgroup(GRP, "alice", **kwargs)
    for args, kwargs in (((), dict(min="-")), ((), dict(min="-", max="+")),
                         ((), dict(min=None, max=None, count=None, consumername="x")),
                         ((), dict(min=None, max=None, count=None, idle=5)),
                         ((), dict(min="-", max="+", count=-1)),
                         ((), dict(min="-", max="+", count=1, idle=-1))):
        kwargs.setdefault("max", None)
        kwargs.setdefault("count", None)
        with pytest.raises(DataError):
            rc.xpending_range(S, GRP, *args, **kwargs)


@pytest.mark.needs("redis7-commands")
def test_group_admin(rc, flush):
    _fill(rc, S, 3)
    rc.xgroup_create(S, GRP, id="0", entries_read=0)
    assert rc.xgroup_setid(S, GRP, "2-0") is True
    assert rc.xgroup_setid(S, GRP, "0", entries_read=0) is True
    rc.xreadgroup(GRP, "alice", {S: ">"})
    assert rc.xgroup_delconsumer(S, GRP, "alice") == 3
    assert rc.xgroup_delconsumer(S, GRP, "ghost") == 0
    assert rc.xgroup_destroy(S, GRP) is True
    assert rc.xgroup_destroy(S, GRP) is False
    with pytest.raises(ResponseError):  # no such key
        rc.xgroup_create(S2, GRP)


@pytest.mark.needs("redis7-commands")
def test_xclaim_xautoclaim(rc, rc_decoded, flush):
    _fill(rc, S, 3)
    rc.xgroup_create(S, GRP, id="0")
    rc.xreadgroup(GRP, "alice", {S: ">"})
    assert rc.xclaim(S, GRP, "bob", 0, ["1-0"]) == [(b"1-0", {b"i": b"0"})]
    assert rc.xclaim(S, GRP, "bob", 0, ("2-0",), justid=True) == [b"2-0"]
    assert rc.xclaim(S, GRP, "bob", 0, ["1-0"], idle=1000, retrycount=5, justid=True) == [
        b"1-0"]
    assert rc.xclaim(S, GRP, "bob", 3600000, ["1-0"]) == []  # not idle for that long
    assert rc_decoded.xclaim(S, GRP, "carol", 0, ["3-0"], time=1, force=True) == [
        ("3-0", {"i": "2"})]
    by_id = {d["message_id"]: d for d in rc.xpending_range(S, GRP, "-", "+", 10)}
    assert by_id[b"1-0"]["consumer"] == b"bob" and by_id[b"1-0"]["times_delivered"] == 5

    res = rc.xautoclaim(S, GRP, "dave", 0, count=1)
    assert res[0] == b"2-0" and res[1] == [(b"1-0", {b"i": b"0"})] and res[2] == []
    assert rc.xautoclaim(S, GRP, "dave", 0, start_id="2-0", justid=True) == [b"2-0", b"3-0"]
    rc.xdel(S, "1-0")
    res = rc_decoded.xautoclaim(S, GRP, "erin", 0)
    assert res[0] == "0-0" and res[1] == [("2-0", {"i": "1"}), ("3-0", {"i": "2"})]
    assert res[2] == ["1-0"]

    for kwargs in (dict(min_idle_time=-1, message_ids=["1-0"]),
                   dict(min_idle_time="1", message_ids=["1-0"]),
                   dict(min_idle_time=0, message_ids=[]),
                   dict(min_idle_time=0, message_ids="1-0"),
                   dict(min_idle_time=0, message_ids=["1-0"], idle="5"),
                   dict(min_idle_time=0, message_ids=["1-0"], time=1.5),
                   dict(min_idle_time=0, message_ids=["1-0"], retrycount="x")):
        with pytest.raises(DataError):
            rc.xclaim(S, GRP, "bob", **kwargs)
    for kwargs in (dict(min_idle_time=-1), dict(min_idle_time=0, count=0)):
        with pytest.raises(DataError):
            rc.xautoclaim(S, GRP, "bob", **kwargs)


def test_xinfo(rc, rc_decoded, flush):
    _fill(rc, S, 3)
    rc.xgroup_create(S, GRP, id="0")
    rc.xreadgroup(GRP, "alice", {S: ">"}, count=2)

    info = rc.xinfo_stream(S)
    assert info["length"] == 3 and info["last-generated-id"] == b"3-0"
    assert info["first-entry"] == (b"1-0", {b"i": b"0"})
    assert info["last-entry"] == (b"3-0", {b"i": b"2"})
    assert info["groups"] == 1 and all(isinstance(k, str) for k in info)
    dinfo = rc_decoded.xinfo_stream(S)
    assert dinfo["first-entry"] == ("1-0", {"i": "0"}) and dinfo["last-generated-id"] == "3-0"

    full = rc.xinfo_stream(S, full=True)
    assert full["length"] == 3
    assert full["entries"] == {b"1-0": {b"i": b"0"}, b"2-0": {b"i": b"1"}, b"3-0": {b"i": b"2"}}
    (group,) = full["groups"]
    assert group["name"] == b"g1" and group["pel-count"] == 2
    (consumer,) = group["consumers"]
    assert consumer["name"] == b"alice" and consumer["pel-count"] == 2
    dfull = rc_decoded.xinfo_stream(S, full=True)
    assert dfull["groups"][0]["consumers"][0]["name"] == "alice"
    assert list(dfull["entries"]) == ["1-0", "2-0", "3-0"]
    # an empty stream
    rc.xgroup_create(S2, GRP, mkstream=True)
    empty = rc.xinfo_stream(S2)
    assert empty["length"] == 0 and empty["first-entry"] is None and empty["last-entry"] is None
    efull = rc.xinfo_stream(S2, full=True)
    assert efull["entries"] == {} and efull["groups"][0]["consumers"] == []

    groups = rc.xinfo_groups(S)
    assert len(groups) == 1 and groups[0]["name"] == b"g1" and groups[0]["pending"] == 2
    assert groups[0]["consumers"] == 1 and groups[0]["last-delivered-id"] == b"2-0"
    assert rc_decoded.xinfo_groups(S)[0]["name"] == "g1"
    consumers = rc.xinfo_consumers(S, GRP)
    assert consumers[0]["name"] == b"alice" and consumers[0]["pending"] == 2
    assert "idle" in consumers[0]
    assert rc_decoded.xinfo_consumers(S, GRP)[0]["name"] == "alice"
    with pytest.raises(ResponseError):
        rc.xinfo_stream("rcit:{xs}:missing")


def test_binary_stream(rc, rc_decoded, flush):
    key = b"rcit:{xs}:\xff\x00"
    rc.xadd(key, {b"\xfe": b"\xfd"}, id="1-0")
    assert rc.xrange(key) == [(b"1-0", {b"\xfe": b"\xfd"})]
    assert rc.xread({key: 0}) == [[key, [(b"1-0", {b"\xfe": b"\xfd"})]]]
    rc.xgroup_create(key, b"\x80grp", id="0")
    assert rc.xreadgroup(b"\x80grp", b"\x81c", {key: ">"}) == [
        [key, [(b"1-0", {b"\xfe": b"\xfd"})]]]
    assert rc.xinfo_groups(key)[0]["name"] == b"\x80grp"
    assert rc.xack(key, b"\x80grp", "1-0") == 1
    # decoding keeps going with undecodable bytes (replacement characters)
    assert rc_decoded.xlen(key) == 1


def test_wrongtype(rc, flush):
    rc.set(S, "string")
    with pytest.raises(ResponseError):
        rc.xadd(S, {"a": 1})
    with pytest.raises(ResponseError):
        rc.xrange(S)
