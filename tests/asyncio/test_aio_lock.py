"""The asyncio lock: the sync Lock's key, token and scripts, awaited."""

import asyncio

import pytest

from rcit import key_for_slot
from rediscluster.exceptions import LockError, LockNotOwnedError

pytestmark = pytest.mark.usefixtures("flush")


def test_lock(arun, aclient, new_client):
    name = key_for_slot(900, "lock")
    sync = new_client()

    async def body():
        rc = aclient()
        lock = rc.lock(name, timeout=5)
        assert await lock.acquire(blocking=False) is True
        assert await lock.locked() and await lock.owned()
        other = rc.lock(name, timeout=5, sleep=0.01)
        assert await other.acquire(blocking=False) is False
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await other.acquire(blocking_timeout=0.1) is False
        assert loop.time() - t0 >= 0.08
        assert await lock.extend(10) is True
        assert 10000 < sync.pttl(name) <= 15000
        assert await lock.reacquire() is True
        assert 4000 < sync.pttl(name) <= 5000
        await lock.release()
        assert not await lock.locked()
        with pytest.raises(LockError, match="unlocked"):
            await lock.release()
        # a waiter gets it when the holder releases (the loop runs meanwhile)
        assert await lock.acquire()
        waiter = asyncio.create_task(other.acquire(blocking_timeout=2))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await lock.release()
        assert await waiter is True and await other.owned()
        # the token changed behind its back: not owned any more
        sync.set(name, "someone else")
        with pytest.raises(LockNotOwnedError):
            await other.release()
        sync.delete(name)
        async with rc.lock(name, timeout=1) as held:
            assert sync.get(name) == held.local.token
        assert sync.get(name) is None
        await rc.aclose()

    arun(body)
