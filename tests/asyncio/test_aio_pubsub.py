"""The asyncio pubsub on the real cluster: messages published by another
client, get_message timeouts, listen() in a task, cancellation in the middle
of a flood, re-subscribing after a killed connection, and a shard channel
following a slot migration."""

import asyncio
import random
import time

import pytest

from rcaio import Ticker
from rcit import key_for_slot

from rediscluster import _core as rcaio_core

pytestmark = pytest.mark.usefixtures("flush")


async def next_message(p, timeout=5.0, accept=None, **kwargs):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        m = await p.get_message(timeout=0.1, **kwargs)
        if m is None:
            continue
        if accept is None or accept(m):
            return m
        seen.append(m)
    pytest.fail("no message within %.1fs (skipped: %r)" % (timeout, seen))


def test_subscribe_publish_and_timeouts(arun, aclient, new_client):
    publisher = new_client()

    async def body():
        async with aclient() as rc:
            p = rc.pubsub()
            with pytest.raises(RuntimeError):
                await p.get_message(timeout=0)
            await p.subscribe("aio-ps-a", "aio-ps-b")
            assert await next_message(p) == {"type": "subscribe", "pattern": None,
                                             "channel": b"aio-ps-a", "data": 1}
            assert (await next_message(p))["channel"] == b"aio-ps-b"
            # a timeout returns None after about that long, the loop running meanwhile
            ticker = Ticker(0.01)
            t0 = time.monotonic()
            assert await p.get_message(timeout=0.3) is None
            elapsed = time.monotonic() - t0
            ticker.cancel()
            assert 0.25 <= elapsed < 2.0
            assert ticker.ticks >= 10
            assert await p.get_message(timeout=0) is None
            publisher.publish("aio-ps-a", "hello")
            assert await next_message(p) == {"type": "message", "pattern": None,
                                             "channel": b"aio-ps-a", "data": b"hello"}
            await p.unsubscribe("aio-ps-a")
            assert (await next_message(p))["type"] == "unsubscribe"
            assert p.channels == {b"aio-ps-b": None}
            await rc.publish("aio-ps-b", "from-async")
            assert (await next_message(p))["data"] == b"from-async"
            await p.aclose()
            assert not p.subscribed

    arun(body)


def test_listen_in_a_task_handlers_and_patterns(arun, aclient, new_client):
    publisher = new_client()

    async def body():
        async with aclient(decode_responses=True) as rc:
            called = []

            async def async_handler(message):
                await asyncio.sleep(0)
                called.append(("async", message["data"]))

            async with rc.pubsub(ignore_subscribe_messages=True) as p:
                await p.subscribe("aio-ls-plain", **{"aio-ls-h": called.append})
                await p.psubscribe(**{"aio-lp-*": async_handler})
                got = []

                async def reader():
                    async for message in p.listen():
                        got.append(message)
                        if message["data"] == "last":
                            return

                task = asyncio.get_running_loop().create_task(reader())
                await asyncio.sleep(0.1)  # the reader waits in the loop
                for i in range(20):
                    await asyncio.get_running_loop().run_in_executor(
                        None, publisher.publish, "aio-ls-plain", str(i))
                await rc.publish("aio-ls-h", "to-handler")
                await rc.publish("aio-lp-x", "to-pattern")
                await rc.publish("aio-ls-plain", "last")
                await asyncio.wait_for(task, 10)
                assert [m["data"] for m in got] == [str(i) for i in range(20)] + ["last"]
                assert got[0] == {"type": "message", "pattern": None,
                                  "channel": "aio-ls-plain", "data": "0"}
                assert [m["data"] for m in called if isinstance(m, dict)] == ["to-handler"]
                assert ("async", "to-pattern") in called

    arun(body)


def test_cancelled_get_message_during_a_flood_loses_nothing(arun, aclient, cluster):
    """Thousands of get_message calls cancelled at random points while
    messages pour in: every message still arrives, once, in order."""
    n = 3000
    port = cluster.masters()[0]

    def flood():
        # bursts of PUBLISH pipelined on one node (the cluster forwards them)
        for start in range(0, n, 100):
            cluster.pipe(port, [("PUBLISH", "aio-flood", str(i))
                                for i in range(start, start + 100)])
            time.sleep(0.002)

    async def body():
        async with aclient() as rc:
            p = rc.pubsub()
            await p.subscribe("aio-flood")
            assert (await p.get_message(timeout=5))["type"] == "subscribe"
            loop = asyncio.get_running_loop()
            pub = loop.run_in_executor(None, flood)
            got, cancelled = [], 0
            rnd = random.Random(13)
            deadline = time.monotonic() + 60
            while len(got) < n and time.monotonic() < deadline:
                task = loop.create_task(p.get_message(timeout=0.5))
                for _ in range(rnd.randrange(3)):
                    await asyncio.sleep(0)
                if rnd.random() < 0.7:
                    task.cancel()
                try:
                    m = await task
                except asyncio.CancelledError:
                    cancelled += 1
                    continue
                if m is not None:
                    got.append(int(m["data"]))
            await pub
            assert cancelled > 500
            assert got == list(range(n))
            assert await p.get_message(timeout=0.2) is None
            await p.aclose()

    arun(body)


def test_resubscribes_after_the_connection_is_killed(arun, aclient, new_client, cluster):
    publisher = new_client()

    async def body():
        async with aclient() as rc:
            p = rc.pubsub(ignore_subscribe_messages=True)
            await p.subscribe("aio-rs-1")
            await p.psubscribe("aio-rp-*")
            assert await p.get_message(timeout=0.2) is None
            node = p._main.node
            port = int(node.rpartition(":")[2])
            cluster.raw(port, "CLIENT", "KILL", "TYPE", "pubsub")
            deadline = time.monotonic() + 20
            got = None
            i = 0
            while got is None and time.monotonic() < deadline:
                i += 1
                publisher.publish("aio-rs-1", "again-%d" % i)
                got = await p.get_message(timeout=0.1)
            assert got is not None and got["data"].startswith(b"again-")
            assert p._main is not None and p._main.open
            publisher.publish("aio-rp-z", "pattern-after")
            assert (await next_message(p, accept=lambda m: m["type"] == "pmessage"))[
                "data"] == b"pattern-after"
            await p.aclose()

    arun(body)


@pytest.mark.needs("sharded-pubsub")
def test_subscribe_wakes_a_waiting_reader(arun, aclient, new_client, cluster):
    """A reader waiting in listen() sees a shard channel subscribed meanwhile
    by another task (a new connection)."""
    masters = cluster.masters()
    ch = key_for_slot(cluster.slots_of(masters[1])[0], "wake")
    publisher = new_client()

    async def body():
        async with aclient() as rc:
            p = rc.pubsub(ignore_subscribe_messages=True)
            await p.subscribe(key_for_slot(cluster.slots_of(masters[0])[0], "main"))
            async def first():
                while True:  # (the ignored ssubscribe confirmation gives None)
                    m = await p.get_message(timeout=10)
                    if m is not None:
                        return m

            t0 = time.monotonic()
            got = asyncio.get_running_loop().create_task(first())
            await asyncio.sleep(0.1)
            await p.ssubscribe(ch)
            await asyncio.sleep(0.1)
            publisher.spublish(ch, "on-shard")
            m = await asyncio.wait_for(got, 10)
            # woken when the new connection came, not after its 10 s wait
            assert time.monotonic() - t0 < 5
            assert m == {"type": "smessage", "pattern": None, "channel": ch.encode(),
                         "data": b"on-shard"}
            await p.aclose()

    arun(body)


@pytest.mark.needs("sharded-pubsub")
def test_ssubscribe_follows_a_slot_migration(arun, aclient, new_client, cluster, migration):
    masters = cluster.masters()
    src = masters[0]
    slot = cluster.slots_of(src)[100]
    ch = key_for_slot(slot, "aio-mig")
    publisher = new_client()
    m = migration(slot)

    async def body():
        async with aclient() as rc:
            p = rc.pubsub()
            await p.ssubscribe(ch)
            assert (await next_message(p))["type"] == "ssubscribe"
            assert p._shard_node[ch.encode()] == "%s:%d" % (cluster.host, src)
            reader = asyncio.get_running_loop().create_task(next_message(p, timeout=20))
            await asyncio.sleep(0.05)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, m.begin)
            await loop.run_in_executor(None, m.move_rest)
            await loop.run_in_executor(None, m.finish)
            assert await reader == {"type": "sunsubscribe", "pattern": None,
                                    "channel": ch.encode(), "data": 0}
            assert await next_message(p) == {"type": "ssubscribe", "pattern": None,
                                             "channel": ch.encode(), "data": 1}
            assert p._shard_node[ch.encode()] == "%s:%d" % (cluster.host, m.dst)
            publisher.spublish(ch, "on-dst")
            assert (await next_message(p))["data"] == b"on-dst"
            await p.aclose()

    arun(body)


def test_sync_only_entry_points(arun, aclient):
    async def body():
        async with aclient() as rc:
            p = rc.pubsub()
            with pytest.raises(TypeError):
                p.run_in_thread()
            with pytest.raises(TypeError):
                with p:
                    pass

    arun(body)


@pytest.mark.needs("sharded-pubsub")
def test_subscribing_finds_connections_opened_from_the_loop(arun, aclient, cluster):
    """subscribe/ssubscribe open their connections with the loop's waits (a
    PING through the engine) before the shared subscription code checks
    them out: it takes an idle one and connects with no blocking call."""
    masters = cluster.masters()
    ch = [key_for_slot(cluster.slots_of(port)[3], "warm") for port in masters]

    async def body():
        async with aclient() as rc:
            await rc.initialize()
            pool = rc.connection_pool
            idle = []

            class Spy:
                def __getattr__(self, name):
                    return getattr(pool, name)

                def _connection(self, *where):
                    if len(where) == 1:
                        name = pool.get_master_node_by_slot(where[0])["name"]
                    else:
                        name = "%s:%d" % where
                    idle.append((name, pool._stats()["nodes"][name][1]))
                    return pool._connection(*where)

            p = rc.pubsub(ignore_subscribe_messages=True)
            p._sub = rcaio_core.Subscriber(pool)
            p.connection_pool = Spy()
            await p.subscribe(ch[0])
            await p.ssubscribe(*ch)
            assert len(idle) == len(masters) + 1  # (the classic one, and a shard one each)
            assert all(n >= 1 for _, n in idle), idle
            p.connection_pool = pool
            await p.aclose()

    arun(body)
