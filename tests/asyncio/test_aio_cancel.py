"""Cancellation and timeouts: a cancelled command closes the connections its
op held, so no later command ever reads its reply; the loop keeps running
while a command (BLPOP) waits; asyncio.timeout / wait_for behave."""

import asyncio
import random

import pytest

from rcit import key_for_slot
from rcaio import Ticker
from rediscluster.asyncio import RedisCluster

pytestmark = pytest.mark.usefixtures("flush")


def _registered(loop):
    """fds the loop's selector watches (the loop's own self-pipe excluded)."""
    own = {loop._ssock.fileno()} if getattr(loop, "_ssock", None) else set()
    return {k.fd for k in loop._selector.get_map().values()} - own


def test_random_cancellations_never_mix_replies(arun, aclient):
    keys = [key_for_slot((i * 97) % 16384, "c%d" % i) for i in range(300)]
    counters = [key_for_slot((i * 89) % 16384, "n%d" % i) for i in range(16)]
    streams = [key_for_slot((i * 83) % 16384, "s%d" % i) for i in range(8)]
    rng = random.Random(13)

    async def body():
        rc = aclient()
        await rc.mset({k: "value-of-" + k for k in keys})
        for st in streams:
            await rc.xadd(st, {"f": st})
        stats = {"ok": 0, "cancelled": 0, "wrong": 0}

        async def worker(seed):
            r = random.Random(seed)
            for _ in range(250):
                kind = r.random()
                delay = r.choice([0, 0.00002, 0.0001, 0.0005, 0.002, 1])
                try:
                    if kind < 0.6:
                        k = r.choice(keys)
                        v = await asyncio.wait_for(rc.get(k), delay)
                        stats["wrong"] += v != ("value-of-" + k).encode()
                    elif kind < 0.7:
                        # a blocking command: an op of its own, closed when cancelled
                        s = r.choice(streams)
                        got = await asyncio.wait_for(
                            rc.xread({s: 0}, count=1, block=5), delay)
                        stats["wrong"] += got[0][1][0][1] != {b"f": s.encode()}
                    elif kind < 0.8:
                        sample = r.sample(keys, 5)
                        vs = await asyncio.wait_for(rc.mget(sample), delay)
                        stats["wrong"] += vs != [("value-of-" + k).encode() for k in sample]
                    else:
                        async with asyncio.timeout(delay):
                            p = rc.pipeline()
                            k = r.choice(keys)
                            p.get(k).strlen(k).exists(k)
                            res = await p.execute()
                        stats["wrong"] += res != [("value-of-" + k).encode(),
                                                  len("value-of-" + k), 1]
                    stats["ok"] += 1
                except asyncio.TimeoutError:
                    stats["cancelled"] += 1

        await asyncio.gather(*[worker(rng.random()) for _ in range(24)])
        # afterwards: every reply belongs to its command, nothing left registered
        for k in keys:
            assert await rc.get(k) == ("value-of-" + k).encode()
        assert await asyncio.gather(*[rc.incr(c) for c in counters]) == [1] * 16
        assert _registered(asyncio.get_running_loop()) == set()
        await rc.aclose()
        return stats

    stats = arun(body)
    assert stats["wrong"] == 0, stats
    assert stats["cancelled"] > 500 and stats["ok"] > 500, stats


def test_cancelled_command_closes_its_connection(arun, aclient):
    k = key_for_slot(3, "blk")

    async def body():
        rc = aclient()
        await rc.initialize()
        task = asyncio.create_task(rc.blpop([k], timeout=0))
        await asyncio.sleep(0.1)
        during = rc.connection_pool._stats()["connections"]
        assert during >= 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert rc.connection_pool._stats()["connections"] == during - 1
        # the list gets a value: nobody reads it as the reply of another command
        await rc.rpush(k, "late")
        assert await rc.lrange(k, 0, -1) == [b"late"]
        assert await rc.blpop([k], timeout=1) == (k.encode(), b"late")
        await rc.aclose()

    arun(body)


def test_loop_ticks_during_blpop_and_timeouts(arun, aclient):
    k = key_for_slot(4, "tick")

    async def body():
        rc = aclient()
        await rc.ping()
        t = Ticker(0.01)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await rc.blpop([k], timeout=1) is None
        assert 0.9 < loop.time() - t0 < 2
        assert t.ticks >= 50
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rc.blpop([k], timeout=0), 0.2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await rc.brpop([k], timeout=0)
        # a value pushed while another task waits is delivered to it
        waiter = asyncio.create_task(rc.blpop([k], timeout=5))
        await asyncio.sleep(0.05)
        await rc.rpush(k, "v")
        assert await waiter == (k.encode(), b"v")
        t.cancel()
        await rc.aclose()

    arun(body)


def test_dropped_awaitable_does_nothing(arun, aclient):
    k = key_for_slot(6, "drop")

    async def body():
        rc = aclient()
        op = rc.set(k, "never")
        del op  # never awaited: no request is sent
        await asyncio.sleep(0.01)
        assert await rc.get(k) is None
        await rc.aclose()

    arun(body)


def test_uvloop_cancellations(aclient):
    uvloop = pytest.importorskip("uvloop")
    keys = [key_for_slot(i * 331 % 16384, "uvc") for i in range(50)]

    async def body():
        rc = aclient()
        await rc.mset({k: k for k in keys})
        wrong = 0
        for i in range(400):
            k = keys[i % 50]
            try:
                v = await asyncio.wait_for(rc.get(k), (0, 0.0001, 0.001, 1)[i % 4])
                wrong += v != k.encode()
            except asyncio.TimeoutError:
                pass
        assert wrong == 0
        t = Ticker(0.01)
        assert await rc.blpop([keys[0] + "l"], timeout=1) is None
        assert t.ticks >= 50
        t.cancel()
        await rc.aclose()

    uvloop.run(body())


def test_topology_refreshes_run_on_the_loop(arun, aclient):
    # topology_check_interval: every command after the interval asks for a
    # refresh, which the loop runs through the discovery's step machine
    keys = [key_for_slot(i * 401 % 16384, "rf") for i in range(40)]

    async def body():
        rc = aclient(topology_check_interval=0.05)
        await rc.mset({k: k for k in keys})
        hooked = []
        rc.connection_pool._refresh_hook = lambda: hooked.append(1)
        t = Ticker(0.005)
        loop = asyncio.get_running_loop()
        stop = loop.time() + 0.6
        wrong = 0
        while loop.time() < stop:
            got = await asyncio.gather(*[rc.get(k) for k in keys])
            wrong += got != [k.encode() for k in keys]
        t.cancel()
        assert wrong == 0
        assert len(hooked) >= 2  # (rate limited by the engine)
        assert t.ticks >= 40
        await rc.aclose()

    arun(body)


def test_connection_limit_shared_by_many_tasks(arun, aclient, cluster_addr):
    from rediscluster import exceptions
    from rediscluster.connection import ClusterBlockingConnectionPool

    keys = [key_for_slot(i * 211 % 16384, "lim") for i in range(60)]
    lists = [key_for_slot(500, "lim%d" % i) for i in range(6)]

    async def body():
        # blocking commands run on connections of their own: the plain pool
        # refuses past its limit, as the sync client does
        rc = aclient(max_connections=3)
        await rc.initialize()
        with pytest.raises(exceptions.RedisClusterException, match="Too many connections"):
            await asyncio.gather(*[rc.blpop([k], timeout=1) for k in lists])
        await rc.aclose()
        # the blocking pool's callers wait for a connection (the loop runs on)
        pool = ClusterBlockingConnectionPool(
            startup_nodes=[{"host": cluster_addr[0], "port": cluster_addr[1]}],
            init_slot_cache=False, max_connections=3, timeout=5)
        rc = RedisCluster(connection_pool=pool)
        await rc.mset({k: k for k in keys})
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await asyncio.gather(*[rc.blpop([k], timeout=0.2) for k in lists]) == [None] * 6
        assert loop.time() - t0 >= 0.35  # two turns of three
        for _ in range(3):
            assert await asyncio.gather(*[rc.get(k) for k in keys]) == [k.encode() for k in keys]
        assert rc.connection_pool._stats()["connections"] <= 3
        await rc.aclose()

    arun(body)


def test_concurrent_commands_share_one_round_trip(arun, aclient):
    # commands awaited in one loop iteration go out as one op: one write per
    # node, replies matched in order; a member cancelled meanwhile has its
    # reply read and dropped, the others are not disturbed
    keys = [key_for_slot(i * 163 % 16384, "b%d" % i) for i in range(90)]

    async def body():
        rc = aclient()
        await rc.mset({k: k for k in keys})
        await rc.ping()  # every master connected
        before = rc.connection_pool._stats()["connections"]
        tasks = [asyncio.create_task(rc.get(k)) for k in keys]
        await asyncio.sleep(0)  # all joined the batch, which has not run yet
        for t in tasks[::3]:
            t.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        for i, (k, r) in enumerate(zip(keys, done)):
            if i % 3 == 0:
                assert isinstance(r, asyncio.CancelledError)
            else:
                assert r == k.encode()
        # no connection was closed or added for it
        assert rc.connection_pool._stats()["connections"] == before
        # mixed commands and options in one batch, errors in place
        await rc.rpush(keys[1] + "l", "x")
        res = await asyncio.gather(rc.incr(keys[0] + "n"), rc.get(keys[1] + "l"),
                                   rc.zadd(keys[2] + "z", {"m": 2}),
                                   rc.zrange(keys[2] + "z", 0, -1, withscores=True),
                                   return_exceptions=True)
        assert res[0] == 1 and "WRONGTYPE" in str(res[1])
        assert res[2] == 1 and res[3] == [(b"m", 2.0)]
        await rc.aclose()

    arun(body)


def test_failing_discovery(arun, aclient):
    # initialize() raises the discovery's error; a refresh an op asked for
    # that fails is swallowed (the op's own retries report), as in the sync client
    k = key_for_slot(8, "disc")

    def boom():
        raise ValueError("discovery refused by the test hook")

    async def body():
        rc = aclient()
        rc.connection_pool._refresh_hook = boom
        with pytest.raises(ValueError, match="refused by the test hook"):
            await rc.initialize()
        with pytest.raises(ValueError, match="refused by the test hook"):
            await rc.get(k)  # the first command's discovery: raised as well
        rc.connection_pool._refresh_hook = None
        assert await rc.set(k, "v") is True
        rc2 = aclient(topology_check_interval=0.01)
        await rc2.initialize()
        rc2.connection_pool._refresh_hook = boom
        for _ in range(20):
            assert await rc2.get(k) == b"v"
            await asyncio.sleep(0.02)
        await rc.aclose()
        await rc2.aclose()

    arun(body)
