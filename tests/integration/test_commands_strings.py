"""String and bitmap commands (rediscluster/commands/strings.py) on the real
cluster: every method, its return shape in both decode modes, argument errors,
hash-tagged and non-UTF-8 keys and values."""

import datetime
import time

import pytest

from rediscluster.commands.strings import BitFieldOperation
from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import MASTERS, NSLOTS, key_for_slot

pytestmark = pytest.mark.usefixtures("flush")

# keys spread over the three masters' slot ranges
SLOTS = [NSLOTS // MASTERS * i + 7 for i in range(MASTERS)]


def k(suffix, slot=SLOTS[0]):
    return key_for_slot(slot, suffix)


# ------------------------------------------------------------------ GET / SET


@pytest.mark.parametrize("slot", SLOTS)
def test_get_set_every_master(rc, rc_decoded, slot):
    key = k("gs", slot)
    assert rc.get(key) is None
    assert rc.set(key, "value") is True
    assert rc.get(key) == b"value"
    assert rc_decoded.get(key) == "value"
    assert rc_decoded.set(key, 12) is True
    assert rc.get(key) == b"12"


def test_set_nx_xx(rc, rc_decoded):
    key = k("nxxx")
    assert rc.set(key, "a", xx=True) is None
    assert rc.get(key) is None
    assert rc.set(key, "a", nx=True) is True
    assert rc.set(key, "b", nx=True) is None
    assert rc_decoded.set(key, "c", nx=True) is None
    assert rc.set(key, "c", xx=True) is True
    assert rc_decoded.get(key) == "c"


@pytest.mark.needs("redis7-commands")
def test_set_get_option(rc, rc_decoded):
    key = k("setget")
    assert rc.set(key, "one", get=True) is None
    assert rc.set(key, "two", get=True) == b"one"
    assert rc_decoded.set(key, "three", get=True) == "two"
    assert rc.set(key, "four", get=True, xx=True) == b"three"
    # NX + GET: not set, the current value comes back
    assert rc.set(key, "five", get=True, nx=True) == b"four"
    assert rc.get(key) == b"four"
    # the plain reply shape is unchanged afterwards
    assert rc.set(key, "six") is True
    rc.execute_command("RPUSH", key + "l", 1)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.set(key + "l", "x", get=True)


@pytest.mark.needs("redis7-commands")
def test_set_expiry_options(rc):
    key = k("setex")
    assert rc.set(key, "v", ex=100) is True
    assert 98 <= rc.ttl(key) <= 100
    assert rc.set(key, "v", ex=datetime.timedelta(seconds=200)) is True
    assert 198 <= rc.ttl(key) <= 200
    assert rc.set(key, "v", px=50000) is True
    assert 49000 <= rc.pttl(key) <= 50000
    assert rc.set(key, "v", px=datetime.timedelta(seconds=60)) is True
    assert 59000 <= rc.pttl(key) <= 60000
    assert rc.set(key, "w", keepttl=True) is True
    assert 59000 <= rc.pttl(key) <= 60000 and rc.get(key) == b"w"
    now = int(time.time())
    assert rc.set(key, "v", exat=now + 300) is True
    assert rc.expiretime(key) == now + 300
    when = datetime.datetime.now() + datetime.timedelta(seconds=400)
    assert rc.set(key, "v", exat=when) is True
    assert rc.expiretime(key) == int(when.timestamp())
    assert rc.set(key, "v", pxat=(now + 500) * 1000 + 123) is True
    assert rc.pexpiretime(key) == (now + 500) * 1000 + 123
    assert rc.set(key, "v", pxat=when) is True
    assert rc.pexpiretime(key) == int(when.timestamp() * 1000)
    assert rc.set(key, "v") is True
    assert rc.ttl(key) == -1


@pytest.mark.parametrize("kwargs, names", [
    (dict(nx=True, xx=True), ("nx", "xx")),
    (dict(ex=1, px=1000), ("ex", "px")),
    (dict(ex=1, keepttl=True), ("ex", "keepttl")),
    (dict(px=1, exat=1), ("px", "exat")),
    (dict(exat=1, pxat=1), ("exat", "pxat")),
    (dict(pxat=1, keepttl=True), ("pxat", "keepttl")),
])
def test_set_data_errors(rc, kwargs, names):
    key = k("bad")
    with pytest.raises(DataError, match="``%s`` and ``%s`` are mutually exclusive" % names):
        rc.set(key, "v", **kwargs)
    assert rc.get(key) is None


def test_mapping_dunders(rc, rc_decoded):
    key = k("dunder")
    with pytest.raises(KeyError):
        rc[key]
    assert key not in rc
    rc[key] = "x"
    assert rc[key] == b"x"
    assert rc_decoded[key] == "x"
    assert key in rc and key in rc_decoded
    del rc[key]
    assert key not in rc
    del rc[key]  # no error when absent, as redis-py
    with pytest.raises(KeyError):
        rc_decoded[key]


def test_non_utf8_keys_and_values(rc, rc_decoded, new_client):
    key = b"rcit:{\xff\xfe}:bin\x00\x80"
    value = b"\x00\xff\xfe\x80binary"
    assert rc.set(key, value) is True
    assert rc.get(key) == value
    assert rc.getset(key, b"\xc3\x28") == value
    assert rc.append(key, b"\xff") == 3
    assert rc.getrange(key, 0, -1) == b"\xc3\x28\xff"
    assert rc.strlen(key) == 3
    assert rc.getdel(key) == b"\xc3\x28\xff"
    assert rc.get(key) is None
    # decoding: strict by default (as redis-py), or as encoding_errors says
    rc.set(key, b"ok\xff")
    with pytest.raises(UnicodeDecodeError):
        rc_decoded.get(key)
    lenient = new_client(decode_responses=True, encoding_errors="replace")
    assert lenient.get(key) == "ok\ufffd"
    assert lenient.getex(key, persist=True) == "ok\ufffd"
    assert rc.keyslot(key) == rc.keyslot(b"{\xff\xfe}")


@pytest.mark.needs("redis7-commands")
def test_hash_tags(rc, rc_decoded):
    a, b = "rcit:{user:42}:name", "rcit:{user:42}:email"
    assert rc.keyslot(a) == rc.keyslot(b) == rc.keyslot("user:42")
    assert rc.set(a, "ann") and rc.set(b, "ann@example.com")
    assert rc.lcs(a, b) == b"ann"
    assert rc_decoded.lcs(a, b, len=True) == 3


# ------------------------------------------------------ GET* / SET* variants


def test_getdel(rc, rc_decoded):
    key = k("getdel")
    assert rc.getdel(key) is None
    rc.set(key, "v")
    assert rc_decoded.getdel(key) == "v"
    assert rc.get(key) is None
    rc.set(key, "w")
    assert rc.getdel(key) == b"w"


@pytest.mark.needs("redis7-commands")
def test_getex(rc, rc_decoded):
    key = k("getex")
    assert rc.getex(key) is None
    assert rc.getex(key, ex=10) is None
    rc.set(key, "v")
    assert rc.getex(key) == b"v" and rc.ttl(key) == -1
    assert rc_decoded.getex(key, ex=100) == "v"
    assert 98 <= rc.ttl(key) <= 100
    assert rc.getex(key, px=datetime.timedelta(seconds=50)) == b"v"
    assert 49000 <= rc.pttl(key) <= 50000
    assert rc.getex(key, ex=datetime.timedelta(minutes=2)) == b"v"
    assert 118 <= rc.ttl(key) <= 120
    now = int(time.time())
    assert rc.getex(key, exat=now + 300) == b"v"
    assert rc.expiretime(key) == now + 300
    assert rc.getex(key, pxat=(now + 400) * 1000) == b"v"
    assert rc.pexpiretime(key) == (now + 400) * 1000
    when = datetime.datetime.now() + datetime.timedelta(hours=1)
    assert rc.getex(key, exat=when) == b"v"
    assert rc.expiretime(key) == int(when.timestamp())
    assert rc.getex(key, pxat=when) == b"v"
    assert rc.pexpiretime(key) == int(when.timestamp() * 1000)
    assert rc.getex(key, persist=True) == b"v"
    assert rc.ttl(key) == -1


@pytest.mark.parametrize("kwargs", [dict(ex=1, px=1), dict(ex=1, persist=True),
                                    dict(exat=1, pxat=1), dict(px=1, exat=2)])
def test_getex_data_errors(rc, kwargs):
    with pytest.raises(DataError, match="mutually exclusive"):
        rc.getex(k("getex"), **kwargs)


def test_getset(rc, rc_decoded):
    key = k("getset")
    assert rc.getset(key, "a") is None
    assert rc.getset(key, "b") == b"a"
    assert rc_decoded.getset(key, "c") == "b"
    assert rc.get(key) == b"c"


def test_setex_psetex_setnx(rc, rc_decoded):
    key = k("setex2")
    assert rc.setex(key, 100, "v") is True
    assert 98 <= rc.ttl(key) <= 100
    assert rc.setex(key, datetime.timedelta(seconds=200), "w") is True
    assert 198 <= rc.ttl(key) <= 200 and rc.get(key) == b"w"
    assert rc_decoded.psetex(key, 30000, "x") is True
    assert 29000 <= rc.pttl(key) <= 30000
    assert rc.psetex(key, datetime.timedelta(seconds=40), "y") is True
    assert 39000 <= rc.pttl(key) <= 40000 and rc.get(key) == b"y"
    with pytest.raises(ResponseError, match="invalid expire time"):
        rc.setex(key, 0, "v")
    key2 = k("setnx")
    assert rc.setnx(key2, "1") is True
    assert rc.setnx(key2, "2") is False
    assert rc_decoded.setnx(key2, "3") is False
    assert rc.get(key2) == b"1"


# ----------------------------------------------------------- parts of strings


def test_append_getrange_substr_setrange_strlen(rc, rc_decoded):
    key = k("str")
    assert rc.strlen(key) == 0
    assert rc.append(key, "Hello") == 5
    assert rc.append(key, " World") == 11
    assert rc.getrange(key, 0, 4) == b"Hello"
    assert rc_decoded.getrange(key, -5, -1) == "World"
    assert rc.getrange(k("absent"), 0, -1) == b""
    assert rc.substr(key, 6) == b"World"
    assert rc_decoded.substr(key, 0, 0) == "H"
    assert rc.setrange(key, 6, "Redis") == 11
    assert rc.get(key) == b"Hello Redis"
    assert rc.setrange(key, 13, "!") == 14
    assert rc.get(key) == b"Hello Redis\x00\x00!"
    assert rc.strlen(key) == 14
    assert rc_decoded.strlen(key) == 14


@pytest.mark.needs("redis7-commands")
def test_lcs(rc, rc_decoded):
    a, b = k("lcs1"), k("lcs2")
    rc.set(a, "ohmytext")
    rc.set(b, "mynewtext")
    assert rc.lcs(a, b) == b"mytext"
    assert rc_decoded.lcs(a, b) == "mytext"
    assert rc.lcs(a, b, len=True) == 6
    assert rc.lcs(a, b, idx=True) == [
        b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6]
    assert rc.lcs(a, b, idx=True, minmatchlen=4, withmatchlen=True) == [
        b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]
    assert rc_decoded.lcs(a, b, idx=True, withmatchlen=True) == [
        "matches", [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], "len", 6]
    assert rc.lcs(a, k("nope")) == b""
    with pytest.raises(ClusterCrossSlotError):
        rc.lcs(a, k("lcs3", SLOTS[1]))


# -------------------------------------------------------------------- counters


def test_incr_decr(rc, rc_decoded):
    key = k("ctr")
    assert rc.incr(key) == 1
    assert rc.incr(key, 10) == 11
    assert rc.incrby(key) == 12
    assert rc_decoded.incrby(key, 3) == 15
    assert rc.decr(key) == 14
    assert rc.decr(key, 4) == 10
    assert rc.decrby(key) == 9
    assert rc.decrby(key, -1) == 10
    assert rc.get(key) == b"10"
    rc.set(key, "x")
    with pytest.raises(ResponseError, match="not an integer"):
        rc.incr(key)


def test_incrbyfloat(rc, rc_decoded):
    key = k("flt")
    assert rc.incrbyfloat(key) == 1.0
    assert rc.incrbyfloat(key, 1.5) == 2.5
    res = rc_decoded.incrbyfloat(key, -0.25)
    assert res == 2.25 and isinstance(res, float)
    assert rc.get(key) == b"2.25"


# --------------------------------------------------------------------- bitmaps


def test_getbit_setbit(rc, rc_decoded):
    key = k("bits")
    assert rc.getbit(key, 5) == 0
    assert rc.setbit(key, 5, True) == 0
    assert rc.setbit(key, 5, 1) == 1
    assert rc_decoded.getbit(key, 5) == 1
    assert rc.setbit(key, 5, False) == 1
    assert rc.setbit(key, 7, 1) == 0
    assert rc.get(key) == b"\x01"


@pytest.mark.needs("redis7-commands")
def test_bitcount(rc, rc_decoded):
    key = k("bitcount")
    rc.set(key, "foobar")
    assert rc.bitcount(key) == 26
    assert rc_decoded.bitcount(key, 0, 0) == 4
    assert rc.bitcount(key, 1, 1) == 6
    assert rc.bitcount(key, 5, 30, "BIT") == 17
    assert rc.bitcount(key, 0, 0, mode="BYTE") == 4
    assert rc.bitcount(k("absent")) == 0
    with pytest.raises(DataError, match="Both start and end must be specified"):
        rc.bitcount(key, 1)
    with pytest.raises(DataError, match="Both start and end must be specified"):
        rc.bitcount(key, end=3)


@pytest.mark.needs("redis7-commands")
def test_bitpos(rc, rc_decoded):
    key = k("bitpos")
    rc.set(key, b"\xff\xf0\x00")
    assert rc.bitpos(key, 0) == 12
    assert rc_decoded.bitpos(key, 1) == 0
    assert rc.bitpos(key, 1, 2) == -1
    assert rc.bitpos(key, 0, 1, 2) == 12
    assert rc.bitpos(key, 1, 7, 15, "BIT") == 7
    assert rc.bitpos(key, 0, 0, 0, mode="BYTE") == -1
    with pytest.raises(DataError, match="bit must be 0 or 1"):
        rc.bitpos(key, 2)
    with pytest.raises(DataError, match="start argument is not set"):
        rc.bitpos(key, 1, end=2)


def test_bitfield(rc, rc_decoded):
    key = k("bitfield")
    bf = rc.bitfield(key)
    assert isinstance(bf, BitFieldOperation)
    res = bf.set("u8", 0, 200).incrby("u8", 0, 100).get("u8", 0).execute()
    assert res == [0, 44, 44]  # WRAP by default
    assert bf.operations == []  # execute() resets
    res = (rc.bitfield(key).incrby("u8", 0, 250, overflow="SAT").get("u8", "#0")
           .overflow("fail").incrby("u8", 0, 1).execute())
    assert res == [255, 255, None]
    res = rc_decoded.bitfield(key, default_overflow="FAIL").incrby("i8", 8, 200).execute()
    assert res == [None]
    # '#n' offsets: the n-th field of that width
    assert rc.bitfield(key).set("u4", "#3", 9).get("u4", 12).execute() == [0, 9]
    op = rc.bitfield(key, default_overflow="sat").incrby("u2", 0, 1).get("i3", 2)
    assert op.command == ["BITFIELD", key, "OVERFLOW", "SAT", "INCRBY", "u2", 0, 1,
                          "GET", "i3", 2]
    op.reset()
    assert op.command == ["BITFIELD", key, "OVERFLOW", "SAT"]
    assert rc.bitfield(key).command == ["BITFIELD", key]
    assert rc.bitfield(k("absent")).get("u8", 0).execute() == [0]
    with pytest.raises(ResponseError):
        rc.bitfield(key).get("x9", 0).execute()


def test_bitfield_ro(rc, rc_decoded):
    key = k("bitfield_ro")
    rc.set(key, b"\x12\x34")
    assert rc.bitfield_ro(key, "u8", 0) == [0x12]
    assert rc_decoded.bitfield_ro(key, "u8", 0, [("u4", 8), ("u4", "#3")]) == [0x12, 3, 4]
    assert rc.bitfield_ro(key, "i16", 0, items=[]) == [0x1234]
