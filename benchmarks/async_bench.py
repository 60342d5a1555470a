"""The asyncio client's figures (issue 13): 64 concurrent tasks doing GET, a
pipeline of 1000 GETs, MGET of 100 keys over 100 slots.

    python benchmarks/async_bench.py [--url redis://127.0.0.1:7000] [--seconds 3] [--uvloop]

One line per case: operations (or calls) per second, best of --runs runs.
Peers (redis-py, valkey-glide) are not run here; benchmarks/README.md has
their figures from the issue.
"""

import argparse
import asyncio
import time

from rediscluster.asyncio import RedisCluster


async def _timed(seconds, body):
    """Run body() repeatedly for about `seconds`; units done per second."""
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        done += await body()
    return done / (time.perf_counter() - t0)


async def bench_get(rc, seconds, tasks=64):
    await rc.set("bench:get", b"x" * 16)
    stop = time.perf_counter() + seconds
    count = [0]

    async def worker():
        n = 0
        while time.perf_counter() < stop:
            for _ in range(50):
                await rc.get("bench:get")
            n += 50
        count[0] += n

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(tasks)])
    return count[0] / (time.perf_counter() - t0)


async def bench_pipeline(rc, seconds, size=1000):
    keys = ["bench:p:%d" % i for i in range(size)]
    await rc.mset({k: b"v" for k in keys})

    async def body():
        async with rc.pipeline() as p:
            for k in keys:
                p.get(k)
            await p.execute()
        return size

    return await _timed(seconds, body)


def _keys_over_slots(rc, n):
    """n keys in n different slots."""
    keys, slots, i = [], set(), 0
    while len(keys) < n:
        k = "bench:m:%d" % i
        s = rc.keyslot(k)
        if s not in slots:
            slots.add(s)
            keys.append(k)
        i += 1
    return keys


async def bench_mget(rc, seconds, n=100):
    keys = _keys_over_slots(rc, n)
    await rc.mset({k: b"v" for k in keys})

    async def body():
        await rc.mget(keys)
        return 1

    return await _timed(seconds, body)


async def main(args):
    rc = RedisCluster.from_url(args.url)
    await rc.initialize()
    cases = [("GET, 64 concurrent tasks", "ops/s", bench_get),
             ("pipeline of 1000 GETs", "ops/s", bench_pipeline),
             ("MGET 100 keys over 100 slots", "calls/s", bench_mget)]
    try:
        for name, unit, fn in cases:
            best = 0
            for _ in range(args.runs):
                best = max(best, await fn(rc, args.seconds))
            print("%-32s %10.0f %s" % (name, best, unit))
    finally:
        # leave the cluster as it was (the test suites check empty slots)
        await rc.delete("bench:get", *["bench:p:%d" % i for i in range(1000)],
                        *_keys_over_slots(rc, 100))
        await rc.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="redis://127.0.0.1:7000")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop (if installed)")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(main(a))
