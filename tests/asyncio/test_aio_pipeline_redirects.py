"""The asyncio pipeline (batch and one-slot transaction through the engine)
and redirects during a real slot migration (ASK, then MOVED)."""

import asyncio

import pytest

from rcit import key_for_slot, keys_for_slot
from rediscluster import exceptions

pytestmark = pytest.mark.usefixtures("flush")


def test_pipeline_batch_over_slots(arun, aclient, new_client):
    keys = [key_for_slot(i * 509 % 16384, "p") for i in range(200)]

    async def body():
        rc = aclient()
        async with rc.pipeline() as p:
            for i, k in enumerate(keys):
                assert p.set(k, i) is p
            for k in keys:
                p.incr(k)
            p.zadd(keys[0] + "z", {"a": 1}).zrange(keys[0] + "z", 0, -1, withscores=True)
            assert len(p) == 402
            res = await p.execute()
            assert len(p) == 0
        assert await rc.pipeline().execute() == []
        await rc.aclose()
        return res

    res = arun(body)
    assert res[:200] == [True] * 200
    assert res[200:400] == list(range(1, 201))
    assert res[400:] == [1, [(b"a", 1.0)]]
    assert new_client().get(keys[7]) == b"8"


def test_pipeline_errors(arun, aclient):
    k, l = key_for_slot(20, "e"), key_for_slot(21, "l")

    async def body():
        rc = aclient()
        await rc.rpush(l, "x")
        p = rc.pipeline()
        p.set(k, "1").get(l).get(k)
        with pytest.raises(exceptions.ResponseError, match=r"Command # 2 \(GET .*WRONGTYPE"):
            await p.execute()
        p.set(k, "2").get(l).get(k)
        res = await p.execute(raise_on_error=False)
        assert res[0] is True and res[2] == b"2"
        assert isinstance(res[1], exceptions.ResponseError)
        with pytest.raises(exceptions.RedisClusterException, match="several slots"):
            p.mget([key_for_slot(1, "a"), key_for_slot(2, "b")])
        with pytest.raises(exceptions.RedisClusterException, match="after a MULTI"):
            p.multi()
            p.watch(k)
        await rc.aclose()

    arun(body)


def test_transaction_one_slot(arun, aclient, new_client):
    a, b = keys_for_slot(33, 2)

    async def body():
        rc = aclient()
        async with rc.pipeline(transaction=True) as p:
            p.set(a, 5).incrby(a, 3).set(b, "x").mget([a, b])
            res = await p.execute()
        p = rc.pipeline(transaction=True)
        p.set(a, 1).set(key_for_slot(34, "other"), 2)
        with pytest.raises(exceptions.RedisClusterException, match="one slot"):
            await p.execute()
        # a command refused while queuing: EXECABORT, nothing applied
        p = rc.pipeline(transaction=True)
        p.set(a, "changed").execute_command("INCRBY", a)
        with pytest.raises(exceptions.ResponseError):
            await p.execute()
        await rc.aclose()
        return res

    assert arun(body) == [True, 8, True, [b"8", b"x"]]
    assert new_client().get(a) == b"8"


def test_ask_then_moved_during_migration(arun, aclient, cluster, migration):
    slot = 4242
    keys = keys_for_slot(slot, 20)
    m = migration(slot)

    async def body():
        rc = aclient()
        assert await asyncio.gather(*[rc.set(k, "v" + k) for k in keys]) == [True] * 20
        m.begin()
        m.move(keys[:10])
        # half the keys answered by ASK on the target, concurrently
        got = await asyncio.gather(*[rc.get(k) for k in keys])
        assert got == [("v" + k).encode() for k in keys]
        assert await rc.mget(keys) == got
        epoch = rc.connection_pool._stats()["epoch"]
        m.move_rest()
        m.finish()
        # MOVED: the map is patched, every reply still right
        got = await asyncio.gather(*[rc.get(k) for k in keys])
        assert got == [("v" + k).encode() for k in keys]
        assert rc.connection_pool._stats()["epoch"] > epoch
        assert rc.connection_pool.nodes.slots[slot][0]["port"] == m.dst
        async with rc.pipeline() as p:
            for k in keys:
                p.append(k, "!")
            assert await p.execute() == [len("v" + k) + 1 for k in keys]
        await rc.aclose()

    arun(body)
    assert cluster.raw(m.dst, "GET", keys[0]) == ("v" + keys[0] + "!").encode()


def test_client_with_old_map_follows_moved(arun, aclient, cluster, migration):
    slot = 4243
    k = key_for_slot(slot, "old")
    m = migration(slot)

    async def body():
        rc = aclient()
        assert await rc.set(k, "x") is True
        m.begin()
        m.move_rest()
        m.finish()
        assert await rc.set(k, "y") is True  # a write follows MOVED too
        assert rc.connection_pool.nodes.slots[slot][0]["port"] == m.dst
        await rc.aclose()

    arun(body)
    assert cluster.raw(m.dst, "GET", k) == b"y"
