"""Geo commands on the real cluster: every method, return shapes in both decode
modes, argument errors, STORE/GEOSEARCHSTORE with hash tags and CROSSSLOT."""

import pytest

from rediscluster.exceptions import ClusterCrossSlotError, DataError, ResponseError

from rcit import key_for_slot

G = "rcit:{geo}:sicily"
DEST = "rcit:{geo}:dest"
PALERMO = (13.361389, 38.115556, "Palermo")
CATANIA = (15.087269, 37.502669, "Catania")
SICILY = PALERMO + CATANIA


@pytest.fixture
def sicily(rc, flush):
    assert rc.geoadd(G, SICILY) == 2
    return G


@pytest.fixture
def other():
    return key_for_slot(2, "geoother")


def test_geoadd_signatures_and_flags(rc, flush):
    assert rc.geoadd(G, list(PALERMO)) == 1
    assert rc.geoadd(G, *CATANIA) == 1  # redis-py 3.5: flat arguments
    assert rc.geoadd(G, [13.5, 38.0, "Palermo"], xx=True) == 0
    assert rc.geoadd(G, [13.4, 38.0, "Palermo", 1, 2, "x"], xx=True, ch=True) == 1
    assert rc.zcard(G) == 2
    assert rc.geoadd(G, [13.6, 38.0, "Palermo", 1, 2, "x"], nx=True) == 1
    assert rc.geopos(G, "Palermo")[0] == pytest.approx((13.4, 38.0), abs=1e-5)
    assert rc.geoadd(G, [1, 2, "x"], False, False, True) == 0  # positional nx, xx, ch
    assert rc.geoadd(G, [1.5, 2, "x"], False, True, True) == 1
    assert rc.geoadd(G, values=(1.6, 2, "x"), ch=True) == 1


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((SICILY[:2],), {}),
        (([],), {}),
        ((list(PALERMO), True, True), {}),
        ((list(PALERMO), False, False, False, False), {}),
        ((list(PALERMO),), dict(nx=True, xx=True)),
        ((1, 2), {}),
    ],
)
def test_geoadd_data_errors(rc, args, kwargs):
    with pytest.raises(DataError):
        rc.geoadd(G, *args, **kwargs)


def test_geoadd_bad_coordinates(rc, flush):
    with pytest.raises(ResponseError):
        rc.geoadd(G, [200, 100, "nowhere"])


def test_geodist(rc, rc_decoded, sicily):
    assert rc.geodist(G, "Palermo", "Catania") == pytest.approx(166274.1516, abs=0.01)
    assert rc_decoded.geodist(G, "Palermo", "Catania", "km") == pytest.approx(166.2742, abs=1e-3)
    assert rc.geodist(G, "Palermo", "Catania", "mi") == pytest.approx(103.3182, abs=1e-3)
    assert rc.geodist(G, "Palermo", "Atlantis") is None
    with pytest.raises(DataError):
        rc.geodist(G, "Palermo", "Catania", "parsec")


def test_geohash_geopos(rc, rc_decoded, sicily):
    assert rc.geohash(G, "Palermo", "Catania", "Atlantis") == [
        "sqc8b49rny0", "sqdtr74hyu0", None]
    assert rc_decoded.geohash(G, "Palermo") == ["sqc8b49rny0"]
    pos = rc.geopos(G, "Palermo", "Atlantis")
    assert pos[1] is None
    assert isinstance(pos[0], tuple) and all(isinstance(x, float) for x in pos[0])
    assert pos[0] == pytest.approx((13.361389, 38.115556), abs=1e-5)
    assert rc_decoded.geopos(G, "Catania")[0] == pytest.approx(CATANIA[:2], abs=1e-5)


def test_georadius_shapes(rc, rc_decoded, sicily):
    assert sorted(rc.georadius(G, 15, 37, 200, "km")) == [b"Catania", b"Palermo"]
    assert rc_decoded.georadius(G, 15, 37, 100, "km") == ["Catania"]
    assert rc.georadius(G, 15, 37, 200, "km", sort="ASC") == [b"Catania", b"Palermo"]
    assert rc.georadius(G, 15, 37, 200, "km", sort="DESC", count=1) == [b"Palermo"]
    res = rc.georadius(G, 15, 37, 200, "km", withdist=True, sort="ASC")
    assert res[0][0] == b"Catania" and res[0][1] == pytest.approx(56.4413, abs=1e-3)
    assert res[1][0] == b"Palermo" and res[1][1] == pytest.approx(190.4424, abs=1e-3)
    res = rc_decoded.georadius(G, 15, 37, 200, "km", withdist=True, withcoord=True,
                               withhash=True, sort="ASC")
    name, dist, ghash, coord = res[0]
    assert name == "Catania" and isinstance(dist, float) and isinstance(ghash, int)
    assert isinstance(coord, tuple) and coord == pytest.approx(CATANIA[:2], abs=1e-5)
    assert ghash == 3479447370796909
    res = rc.georadius(G, 15, 37, 200, "km", withhash=True, sort="ASC")
    assert res == [[b"Catania", 3479447370796909], [b"Palermo", 3479099956230698]]
    res = rc.georadius(G, 15, 37, 200, "km", withcoord=True, count=1, any=True)
    assert len(res) == 1 and len(res[0]) == 2 and isinstance(res[0][1], tuple)
    # default unit is metres
    assert rc.georadius(G, 15, 37, 60000) == [b"Catania"]


def test_georadiusbymember(rc, rc_decoded, sicily):
    assert rc.georadiusbymember(G, "Palermo", 100, "km") == [b"Palermo"]
    res = rc_decoded.georadiusbymember(G, "Palermo", 200, "km", withdist=True, sort="ASC")
    assert res[0] == ["Palermo", 0.0]
    assert res[1][0] == "Catania" and res[1][1] == pytest.approx(166.2742, abs=1e-3)
    with pytest.raises(ResponseError):
        rc.georadiusbymember(G, "Atlantis", 1, "km")


def test_georadius_store(rc, sicily, other):
    assert rc.georadius(G, 15, 37, 200, "km", store=DEST) == 2
    assert rc.zscore(DEST, "Palermo") == rc.zscore(G, "Palermo")
    assert rc.georadiusbymember(G, "Catania", 200, "km", store_dist=DEST) == 2
    assert rc.zscore(DEST, "Catania") == 0.0
    assert rc.zscore(DEST, "Palermo") == pytest.approx(166.2742, abs=1e-3)
    with pytest.raises(ClusterCrossSlotError):
        rc.georadius(G, 15, 37, 200, "km", store=other)
    with pytest.raises(ClusterCrossSlotError):
        rc.georadiusbymember(G, "Catania", 200, "km", store_dist=other)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(unit="parsec"),
        dict(sort="UP"),
        dict(store=DEST, store_dist=DEST),
        dict(any=True),
    ],
)
def test_georadius_data_errors(rc, kwargs):
    with pytest.raises(DataError):
        rc.georadius(G, 15, 37, 200, **kwargs)
    with pytest.raises(DataError):
        rc.georadiusbymember(G, "Palermo", 200, **kwargs)


@pytest.mark.needs("redis7-commands")
def test_geosearch(rc, rc_decoded, sicily):
    assert rc.geosearch(G, member="Palermo", radius=200, unit="km", sort="ASC") == [
        b"Palermo", b"Catania"]
    assert rc_decoded.geosearch(G, longitude=15, latitude=37, radius=100, unit="km") == [
        "Catania"]
    assert sorted(rc.geosearch(G, longitude=15, latitude=37, width=400, height=400,
                               unit="km")) == [b"Catania", b"Palermo"]
    res = rc.geosearch(G, longitude=15, latitude=37, radius=200, unit="km", sort="asc",
                       withdist=True, withcoord=True, withhash=True)
    assert res[0][0] == b"Catania" and res[0][1] == pytest.approx(56.4413, abs=1e-3)
    assert res[0][2] == 3479447370796909
    assert res[0][3] == pytest.approx(CATANIA[:2], abs=1e-5)
    assert rc.geosearch(G, member="Catania", radius=500, unit="KM", count=1, sort="DESC") == [
        b"Palermo"]
    res = rc_decoded.geosearch(G, member="Catania", radius=500, unit="km", count=1, any=True,
                               withdist=True)
    assert len(res) == 1 and isinstance(res[0][1], float)
    assert rc.geosearch(G, longitude=0, latitude=0, radius=1) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(radius=1),  # no centre
        dict(member="Palermo", longitude=1, latitude=2, radius=1),
        dict(longitude=1, radius=1),
        dict(member="Palermo"),  # no shape
        dict(member="Palermo", radius=1, width=1, height=1),
        dict(member="Palermo", width=1),
        dict(member="Palermo", radius=1, unit="parsec"),
        dict(member="Palermo", radius=1, unit=None),
        dict(member="Palermo", radius=1, sort="SIDEWAYS"),
        dict(member="Palermo", radius=1, any=True),
    ],
)
def test_geosearch_data_errors(rc, kwargs):
    with pytest.raises(DataError):
        rc.geosearch(G, **kwargs)
    with pytest.raises(DataError):
        rc.geosearchstore(DEST, G, **kwargs)


def test_geosearchstore(rc, sicily, other):
    assert rc.geosearchstore(DEST, G, longitude=15, latitude=37, radius=200, unit="km") == 2
    assert rc.zscore(DEST, "Catania") == rc.zscore(G, "Catania")
    assert rc.geosearchstore(DEST, G, member="Palermo", width=400, height=400, unit="km",
                             storedist=True, count=1, sort="DESC") == 1
    assert rc.zrange(DEST, 0, -1, withscores=True)[0][0] == b"Catania"
    assert rc.zscore(DEST, "Catania") == pytest.approx(166.2742, abs=1e-3)
    with pytest.raises(ClusterCrossSlotError):
        rc.geosearchstore(other, G, member="Palermo", radius=1)


def test_binary_key_and_member(rc, rc_decoded, flush):
    key = b"rcit:{geo}:\xfe\xff"
    assert rc.geoadd(key, [13.361389, 38.115556, b"\xc3\x28pal"]) == 1
    assert rc.georadius(key, 13.36, 38.11, 10, "km") == [b"\xc3\x28pal"]
    assert rc.geosearch(key, member=b"\xc3\x28pal", radius=1, withdist=True) == [
        [b"\xc3\x28pal", 0.0]]
    assert rc.geohash(key, b"\xc3\x28pal") == ["sqc8b49rny0"]
    assert rc_decoded.geodist(key, b"\xc3\x28pal", b"\xc3\x28pal") == 0.0
