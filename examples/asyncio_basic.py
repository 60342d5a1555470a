"""The asyncio client: the same commands, awaited; many tasks share one client.

Commands awaited in the same loop iteration go out together (one write per
node); a command cancelled by a timeout never disturbs the others.
Usage: python examples/asyncio_basic.py [host] [port]
"""

import asyncio
import sys

from rediscluster.asyncio import RedisCluster


async def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    keys = ["example:aio:%d" % i for i in range(20)]
    # no I/O here: the first command discovers the cluster
    async with RedisCluster(host=host, port=port, decode_responses=True) as rc:
        try:
            print("set ->", await rc.set(keys[0], "hello"))
            print("get ->", await rc.get(keys[0]))

            # 20 tasks at once: their SETs share one round trip per node
            done = await asyncio.gather(*[rc.set(k, i) for i, k in enumerate(keys)])
            print("20 concurrent SETs ->", all(done))
            print("mget over many slots ->", await rc.mget(keys[:5]))

            async with rc.pipeline() as pipe:
                pipe.incr(keys[1]).incrby(keys[2], 10).get(keys[3])
                print("pipeline ->", await pipe.execute())

            # a timeout cancels the command; the client stays usable
            try:
                await asyncio.wait_for(rc.blpop(["example:aio:empty"], timeout=0), 0.2)
            except asyncio.TimeoutError:
                print("blpop cancelled after 0.2 s")
            print("still fine ->", await rc.get(keys[0]))

            found = sorted([k async for k in rc.scan_iter(match="example:aio:1*")])
            print("scan_iter ->", len(found), "keys")
        finally:
            print("deleted", await rc.delete(*keys), "keys")


if __name__ == "__main__":
    asyncio.run(main())
