"""WATCH / MULTI / EXEC on a held connection with the asyncio pipeline, and
rc.transaction(): conflicts from another client, cancellation, a slot moved
under a watch."""

import asyncio

import pytest

from rcit import key_for_slot

from rediscluster.exceptions import RedisClusterException, WatchError

pytestmark = pytest.mark.usefixtures("flush")


def test_watch_conflict_raises_watcherror(arun, aclient, new_client, cluster):
    other = new_client()
    key = key_for_slot(1234, "w")

    async def body():
        async with aclient() as rc:
            await rc.set(key, "1")
            async with rc.pipeline() as pipe:
                assert await pipe.watch(key) is True
                assert pipe.watching
                assert await pipe.get(key) == b"1"  # at once, on the held connection
                other.set(key, "other")
                pipe.multi()
                assert pipe.set(key, "2") is pipe  # queued again
                with pytest.raises(WatchError):
                    await pipe.execute()
                assert await rc.get(key) == b"other"
                assert pipe._conn is None and not pipe.watching
                # reusable: no conflict this time
                await pipe.watch(key)
                value = await pipe.get(key)
                pipe.multi()
                pipe.set(key, value + b"+1").get(key)
                assert await pipe.execute() == [True, b"other+1"]
                # unwatch, and commands of another slot refused while watching
                await pipe.watch(key)
                with pytest.raises(RedisClusterException):
                    await pipe.watch(key_for_slot(99, "x"))
                assert await pipe.unwatch() is True
                assert not pipe.watching
                pipe.reset()

    arun(body)


def test_transaction_retries_after_a_conflict(arun, aclient, new_client):
    other = new_client()
    key = key_for_slot(4321, "t")
    calls = []

    async def body():
        async with aclient() as rc:
            await rc.set(key, "10")

            async def incr(pipe):
                value = int(await pipe.get(key))
                calls.append(value)
                if len(calls) == 1:
                    other.set(key, "20")  # the first attempt loses
                pipe.multi()
                pipe.set(key, value + 1)
                return value

            assert await rc.transaction(incr, key) == [True]
            assert calls == [10, 20]
            assert await rc.get(key) == b"21"
            # a plain function, value_from_callable
            def queue(pipe):
                pipe.multi()
                pipe.incr(key)
                return "done"

            assert await rc.transaction(queue, key, value_from_callable=True) == "done"
            assert await rc.get(key) == b"22"
            with pytest.raises(TypeError):
                await rc.transaction(queue, key, bogus=1)

    arun(body)


def test_cancelled_watched_command_closes_the_connection(arun, aclient):
    key = key_for_slot(777, "c")

    async def body():
        async with aclient() as rc:
            await rc.set(key, "v")
            async with rc.pipeline() as pipe:
                await pipe.watch(key)
                conn = pipe._conn
                # BLPOP on an empty list: the server answers in 5 s
                task = asyncio.get_running_loop().create_task(
                    pipe.blpop([key_for_slot(777, "empty")], timeout=5))
                await asyncio.sleep(0.1)  # sent; waiting for the reply
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert not conn.open  # its reply would be read by no one
                assert pipe._conn is None and not pipe.watching
                # a timeout the same way
                await pipe.watch(key)
                conn = pipe._conn
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(pipe.blpop([key_for_slot(777, "empty")], 5), 0.1)
                assert not conn.open
                await pipe.watch(key)
                pipe.multi()
                pipe.get(key)
                assert await pipe.execute() == [b"v"]

    arun(body)


def test_slot_moved_under_a_watch(arun, aclient, cluster, migration):
    src = cluster.masters()[0]
    slot = cluster.slots_of(src)[50]
    key = key_for_slot(slot, "m")
    m = migration(slot)

    async def body():
        async with aclient() as rc:
            await rc.set(key, "1")
            pipe = rc.pipeline()
            await pipe.watch(key)
            loop = asyncio.get_running_loop()
            for step in (m.begin, m.move_rest, m.finish):
                await loop.run_in_executor(None, step)
            # the held connection is src's: MOVED -> WatchError, watch dropped
            with pytest.raises(WatchError):
                await pipe.get(key)
            assert pipe._conn is None and not pipe.watching
            # transaction() retries on the new owner
            attempts = []

            async def bump(pipe):
                attempts.append(pipe._conn.node)
                value = int(await pipe.get(key))
                pipe.multi()
                pipe.set(key, value + 1)

            assert await rc.transaction(bump, key) == [True]
            assert attempts == ["%s:%d" % (cluster.host, m.dst)]
            assert await rc.get(key) == b"2"

    arun(body)


def test_slot_moved_before_exec(arun, aclient, cluster, migration):
    src = cluster.masters()[1]
    slot = cluster.slots_of(src)[60]
    key = key_for_slot(slot, "e")
    m = migration(slot)

    async def body():
        async with aclient() as rc:
            await rc.set(key, "1")
            async with rc.pipeline() as pipe:
                await pipe.watch(key)
                pipe.multi()
                pipe.set(key, "2")
                loop = asyncio.get_running_loop()
                for step in (m.begin, m.move_rest, m.finish):
                    await loop.run_in_executor(None, step)
                with pytest.raises(WatchError):
                    await pipe.execute()
            assert await rc.get(key) == b"1"

    arun(body)


def test_watch_as_the_first_request_of_a_client(arun, aclient, new_client):
    """No command before: the watch discovers the cluster from the loop."""
    key = key_for_slot(2024, "first")
    new_client().set(key, "5")

    async def body():
        async with aclient(decode_responses=True) as rc:
            async def double(pipe):
                value = int(await pipe.get(key))
                pipe.multi()
                pipe.set(key, value * 2)
                return value

            assert await rc.transaction(double, key, value_from_callable=True) == 5
            assert await rc.get(key) == "10"

    arun(body)
