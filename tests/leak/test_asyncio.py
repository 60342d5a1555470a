"""The asyncio client over many operations: RSS stays flat.

RC_LEAK_OPS / 5 operations (default 200 000) by 32 tasks sharing one client:
single commands (batched), cancelled commands (members dropped, and blocking
commands aborted with their connections), error replies, client-side errors,
mget over many slots (replayed), fan-out and pipelines. The RSS after a
warm-up (a tenth) is compared with the lowest of the last samples, as in
test_memory.py.
"""

import asyncio
import gc

import pytest

from rediscluster.asyncio import RedisCluster
from rediscluster.exceptions import DataError, ResponseError

from test_memory import MAX_GROWTH_MIB, OPS, rss_mib

pytestmark = [pytest.mark.leak, pytest.mark.slow]


def test_asyncio_rss_flat(cluster_addr, keys, report):
    names = keys(64, "aio")
    listkey = names[0] + ":l"
    total = max(OPS // 5, 20000)

    async def body():
        rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5.0)
        await rc.mset({k: k for k in names})
        await rc.set(listkey, "not a list")
        done = [0]

        async def worker(n, ops):
            i = 0
            while i < ops:
                k = names[(n + i) % 64]
                assert await rc.get(k) == k.encode()
                assert await rc.incr(names[n % 64] + ":n") > 0
                try:
                    await asyncio.wait_for(rc.get(k), 0)
                except asyncio.TimeoutError:
                    pass
                try:
                    await rc.lpush(listkey, "x")
                except ResponseError:
                    pass
                try:
                    await rc.set(k, object())
                except DataError:
                    pass
                i += 5
                if i % 200 == 0:
                    assert len(await rc.mget(names[:20])) == 20
                    await rc.dbsize()
                    p = rc.pipeline()
                    p.get(k).set(k, k).exists(k)
                    assert (await p.execute())[1] is True
                    try:
                        await asyncio.wait_for(rc.blpop([k + ":b"], timeout=1), 0.001)
                    except asyncio.TimeoutError:
                        pass
                    i += 25
            done[0] += i

        samples = []
        await asyncio.gather(*[worker(n, total // 320) for n in range(32)])  # warm-up
        gc.collect()
        start = rss_mib()
        for _ in range(9):
            await asyncio.gather(*[worker(n, total // 320) for n in range(32)])
            gc.collect()
            samples.append(rss_mib())
        await rc.delete(*[k + ":n" for k in names], listkey)
        await rc.aclose()
        return start, samples, done[0]

    start, samples, ops = asyncio.run(body())
    end = min(samples[-3:])
    report("asyncio: %d ops, RSS %.1f -> %.1f MiB" % (ops, start, end))
    assert end - start < MAX_GROWTH_MIB, (start, samples)
