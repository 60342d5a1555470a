"""A master dies (kill -9) while 32 tasks run SET/GET on its slots through
one asyncio client: no read ever returns a value that was not written to its
key, errors only while the replica is promoted, then recovery (the topology
refreshes run on the loop). The node is restarted and the roles restored
afterwards (``healthy_after``)."""

import asyncio

import pytest

from rcit import key_for_slot
from rediscluster.exceptions import ClusterError, ConnectionError, TimeoutError

ALLOWED = (ConnectionError, TimeoutError, ClusterError)
RECOVERY_BOUND = 15.0
STABLE_CHECKS = 30  # consecutive 50 ms checks without a new error that prove recovery


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_master_killed_under_async_load(arun, aclient, cluster, cluster_addr, cluster_script,
                                        flush, healthy_after):
    masters = cluster.masters()
    master = [p for p in masters if p != cluster_addr[1]][-1]
    owned = cluster.slots_of(master)
    keys = [key_for_slot(s, "afo") for s in owned[:: max(1, len(owned) // 64)]]
    history = {k: {b"%s|0" % k.encode()} for k in keys}

    async def body():
        rc = aclient(socket_timeout=1.0, socket_connect_timeout=1.0)
        await rc.mset({k: b"%s|0" % k.encode() for k in keys})
        cluster.wait_replica_synced(master)
        loop = asyncio.get_running_loop()
        errors, wrong = [], []
        state = {"killed": None, "clean": 0}

        async def worker(n):
            i = 0
            while True:
                k = keys[(n * 7 + i) % len(keys)]
                i += 1
                v = b"%s|%d.%d" % (k.encode(), n, i)
                history[k].add(v)  # even a failed SET may have been applied
                try:
                    await rc.set(k, v)
                    got = await rc.get(k)
                except ALLOWED as e:
                    errors.append((loop.time(), e))
                    continue
                if got not in history[k]:
                    wrong.append((k, got))

        async def killer():
            await asyncio.sleep(0.5)
            state["killed"] = loop.time()
            await loop.run_in_executor(None, cluster_script, "kill-node", master)

        tasks = [asyncio.create_task(worker(n)) for n in range(32)]
        kill = asyncio.create_task(killer())
        deadline = loop.time() + 90
        last_errors = 0
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if state["killed"] is None or not kill.done():
                continue
            state["clean"] = state["clean"] + 1 if len(errors) == last_errors else 0
            last_errors = len(errors)
            if state["clean"] >= STABLE_CHECKS and loop.time() - state["killed"] > 3:
                break
        assert state["clean"] >= STABLE_CHECKS, "no recovery: %d errors, last %r" % (
            len(errors), errors[-1:])
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await kill
        assert wrong == [], wrong[:5]
        if errors:
            assert errors[0][0] >= state["killed"] - 0.01, errors[:3]
            assert errors[-1][0] - state["killed"] < RECOVERY_BOUND, errors[-1]
        for k in keys:
            assert await rc.get(k) in history[k]
        await rc.aclose()

    arun(body)
    assert cluster.owner(owned[0]) != master
