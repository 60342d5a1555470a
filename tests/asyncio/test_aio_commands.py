"""The asyncio client's command surface: the sync client's methods as
awaitables, same return shapes (checked against the sync client on the same
data), multi-key commands split per slot, fan-out per-node dicts, errors."""

import asyncio

import pytest

from rcit import PREFIX, key_for_slot, keys_for_slot
from rediscluster import exceptions
from rediscluster._core import AioOp
from rediscluster.asyncio import RedisCluster, StrictRedisCluster

pytestmark = pytest.mark.usefixtures("flush")


def spread(n, stem):
    """n keys, one per slot, over slots spread across the three masters."""
    return [key_for_slot((i * 16381) % 16384, stem) for i in range(n)]


def test_constructor_does_no_io_and_first_command_discovers(arun, aclient):
    async def body():
        # a port nobody listens on: the constructor must not notice
        bad = RedisCluster(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        with pytest.raises(exceptions.RedisClusterException):
            await bad.get("x")
        rc = aclient()
        assert rc.connection_pool._stats()["refreshes"] == 0
        assert await rc.set(PREFIX + "a", "1") is True
        assert rc.connection_pool._stats()["refreshes"] == 1
        assert await rc.get(PREFIX + "a") == b"1"
        await rc.aclose()

    arun(body)


def test_concurrent_first_commands_share_one_discovery(arun, aclient):
    async def body():
        rc = aclient()
        keys = spread(40, "first")
        assert await asyncio.gather(*[rc.set(k, k) for k in keys]) == [True] * 40
        assert rc.connection_pool._stats()["refreshes"] == 1
        assert await asyncio.gather(*[rc.get(k) for k in keys]) == [k.encode() for k in keys]
        await rc.aclose()

    arun(body)


def test_initialize_from_url_async_with_and_alias(arun, cluster_url):
    async def body():
        async with StrictRedisCluster.from_url(cluster_url, decode_responses=True) as rc:
            await rc.initialize()
            assert rc.connection_pool._stats()["refreshes"] == 1
            assert await rc.set(PREFIX + "u", "v") is True
            assert await rc.get(PREFIX + "u") == "v"
            with pytest.raises(TypeError, match="async with"):
                with rc:
                    pass

    arun(body)


def test_simple_commands_return_their_awaitable_directly(arun, aclient):
    async def body():
        rc = aclient()
        op = rc.get(PREFIX + "x")
        assert type(op) is AioOp
        assert await op is None
        with pytest.raises(RuntimeError, match="already awaited"):
            await op
        with pytest.raises(TypeError, match="not known before it is awaited"):
            bool(rc.get(PREFIX + "x"))
        await rc.aclose()

    arun(body)


def test_reply_shapes_match_the_sync_client(arun, aclient, new_client):
    sync = new_client()
    k, h, z, l, s = (key_for_slot(100, n) for n in "khzls")
    sync.set(k, "10")
    sync.hset(h, mapping={"a": "1", "b": "2"})
    sync.zadd(z, {"m1": 1.5, "m2": 2.5})
    sync.rpush(l, "a", "b", "c")
    sync.sadd(s, "x", "y")

    async def body():
        rc = aclient()
        calls = [
            ("get", (k,), {}), ("incr", (k,), {}), ("hgetall", (h,), {}),
            ("zrange", (z, 0, -1), {"withscores": True}), ("zscore", (z, "m1"), {}),
            ("lrange", (l, 0, -1), {}), ("smembers", (s,), {}), ("exists", (k, h, z), {}),
            ("type", (h,), {}), ("ttl", (k,), {}), ("hscan", (h,), {}),
        ]
        got = [await getattr(rc, name)(*a, **kw) for name, a, kw in calls]
        await rc.aclose()
        return got

    got = arun(body)
    sync.decr(k)  # undo the incr
    want = [getattr(sync, name)(*a, **kw) for name, a, kw in [
        ("get", (k,), {}), ("incr", (k,), {}), ("hgetall", (h,), {}),
        ("zrange", (z, 0, -1), {"withscores": True}), ("zscore", (z, "m1"), {}),
        ("lrange", (l, 0, -1), {}), ("smembers", (s,), {}), ("exists", (k, h, z), {}),
        ("type", (h,), {}), ("ttl", (k,), {}), ("hscan", (h,), {})]]
    assert got == want
    assert got[3] == [(b"m1", 1.5), (b"m2", 2.5)]


def test_fan_out_commands_give_per_node_dicts(arun, aclient, new_client):
    sync = new_client()

    async def body():
        rc = aclient()
        ping = await rc.ping()
        info = await rc.info("server")
        cinfo = await rc.cluster_info()
        nodes = await rc.cluster_nodes()
        # node id -> address lookup in Python, then a request to that node
        reports = await rc.cluster_count_failure_report(nodes[0]["id"])
        slot_keys = await rc.cluster_countkeysinslot(0)
        dbsize = await rc.dbsize()
        await rc.aclose()
        return ping, info, cinfo, nodes, (reports, slot_keys, dbsize)

    ping, info, cinfo, nodes, myid = arun(body)
    assert ping == sync.ping()
    assert set(info) == set(sync.info("server")) and len(info) == 6
    assert all(v["redis_mode"] == "cluster" for v in info.values())
    assert set(cinfo) == set(info)
    assert {n["id"] for n in nodes} == {n["id"] for n in sync.cluster_nodes()}
    assert myid[0] == 0 and myid[1] == sync.cluster_countkeysinslot(0)
    assert type(myid[2]) is type(sync.dbsize())


def test_multikey_commands_split_over_many_slots(arun, aclient, new_client):
    keys = spread(120, "mk")
    sync = new_client()

    async def body():
        rc = aclient()
        assert await rc.mset({k: "v" + k for k in keys}) is True
        values = await rc.mget(keys + [PREFIX + "missing"])
        assert await rc.exists(*keys) == len(keys)
        assert await rc.touch(*keys[:50]) == 50
        deleted = await rc.delete(*keys[:60])
        again = await rc.mget(keys)
        assert await rc.unlink(*keys[60:]) == 60
        await rc.aclose()
        return values, deleted, again

    values, deleted, again = arun(body)
    assert values == [("v" + k).encode() for k in keys] + [None]
    assert deleted == 60
    assert again == [None] * 60 + [("v" + k).encode() for k in keys[60:]]
    assert sync.exists(*keys) == 0


def test_multi_step_commands_run_to_their_end(arun, aclient, new_client):
    # commands whose Python code makes several requests in turn (the replay)
    a, b = key_for_slot(5, "a"), key_for_slot(9000, "b")
    s1, s2, dst = key_for_slot(1, "s"), key_for_slot(12000, "s"), key_for_slot(700, "d")
    h1, h2 = key_for_slot(300, "h"), key_for_slot(15000, "h")
    sync = new_client()

    async def body():
        rc = aclient()
        await rc.set(a, "moving")
        assert await rc.rename(a, b) is True
        await rc.sadd(s1, "x", "y", "z")
        await rc.sadd(s2, "y", "z", "w")
        inter = await rc.sinter(s1, s2)
        stored = await rc.sunionstore(dst, [s1, s2])
        await rc.pfadd(h1, "a", "b", "c")
        await rc.pfadd(h2, "c", "d")
        count = await rc.pfcount(h1, h2)
        moved = await rc.smove(s1, s2, "x")
        await rc.aclose()
        return inter, stored, count, moved

    inter, stored, count, moved = arun(body)
    assert sync.get(b) == b"moving" and sync.exists(a) == 0
    assert inter == {b"y", b"z"}
    assert stored == 4 and sync.smembers(dst) == {b"x", b"y", b"z", b"w"}
    assert count == 4
    assert moved == 1 and sync.sismember(s2, "x")  # SREM's count across slots, as sync


def test_scan_iterators(arun, aclient, new_client):
    keys = spread(30, "scan")
    sync = new_client()
    sync.mset({k: "1" for k in keys})
    h = key_for_slot(42, "hash")
    sync.hset(h, mapping={"f%d" % i: i for i in range(50)})

    async def body():
        rc = aclient()
        found = [k async for k in rc.scan_iter(match=PREFIX + "*:scan", count=100)]
        fields = {f: v async for f, v in rc.hscan_iter(h)}
        await rc.aclose()
        return found, fields

    found, fields = arun(body)
    assert sorted(found) == sorted(k.encode() for k in keys)
    assert len(fields) == 50 and fields[b"f7"] == b"7"


def test_scripts(arun, aclient):
    k = key_for_slot(77, "script")

    async def body():
        rc = aclient()
        await rc.script_flush()
        s = rc.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await s(keys=[k], args=[5]) == 5  # NOSCRIPT, then loaded
        assert await s(keys=[k], args=[2]) == 7
        assert await rc.eval("return KEYS[1]", 1, k) == k.encode()
        await rc.aclose()

    arun(body)


def test_errors(arun, aclient):
    k = key_for_slot(10, "err")

    async def body():
        rc = aclient()
        await rc.rpush(k, "x")
        with pytest.raises(exceptions.ResponseError, match="WRONGTYPE"):
            await rc.get(k)
        with pytest.raises(exceptions.DataError):
            await rc.set(k, None)
        with pytest.raises(exceptions.DataError):
            await rc.set(k, {"a": 1})
        with pytest.raises(exceptions.RedisClusterException, match="Missing key"):
            await rc.execute_command("GET")
        with pytest.raises(exceptions.RedisClusterException, match="Unable to determine"):
            await rc.execute_command()
        with pytest.raises(exceptions.RedisClusterException, match="blocked"):
            await rc.move(k, 1)
        with pytest.raises(exceptions.RedisClusterException, match="pipeline"):
            await rc.execute_command("MULTI")
        with pytest.raises(TypeError):
            await rc.get()
        with pytest.raises(exceptions.ClusterCrossSlotKeysError):
            await rc.eval("return 1", 2, key_for_slot(1, "a"), key_for_slot(2, "b"))
        with pytest.raises(TypeError, match="asyncio client"):
            rc[k]
        # still usable after all that
        assert await rc.lrange(k, 0, -1) == [b"x"]
        await rc.aclose()

    arun(body)


def test_decode_responses(arun, aclient):
    k = key_for_slot(11, "dec")

    async def body():
        rc = aclient(decode_responses=True)
        await rc.hset(k, mapping={"a": "é"})
        assert await rc.hgetall(k) == {"a": "é"}
        assert await rc.mget([k + "x", k + "y"]) == [None, None]
        await rc.aclose()

    arun(body)


def test_uvloop(aclient):
    uvloop = pytest.importorskip("uvloop")
    keys = spread(20, "uv")

    async def body():
        rc = aclient()
        assert await asyncio.gather(*[rc.set(k, k) for k in keys]) == [True] * 20
        assert await rc.mget(keys) == [k.encode() for k in keys]
        await rc.aclose()

    uvloop.run(body())
