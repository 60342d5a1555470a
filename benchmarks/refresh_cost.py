"""What one topology refresh costs: wall time, CPU time and allocations.

Against the local cluster (``make cluster-start``)::

    .venv/bin/python benchmarks/refresh_cost.py            # time, CPU per refresh
    PYTHONMALLOC=malloc valgrind --tool=memcheck --leak-check=no \\
        .venv/bin/python benchmarks/refresh_cost.py --count 0 --quiet
    PYTHONMALLOC=malloc valgrind --tool=memcheck --leak-check=no \\
        .venv/bin/python benchmarks/refresh_cost.py --count 100 --quiet

The difference of valgrind's "total heap usage" between the last two runs,
divided by 100, is the allocations (and bytes) of one refresh, Python's
included (PYTHONMALLOC=malloc sends them to malloc). A refresh here is
``NodeManager.initialize()``'s discovery: CLUSTER SLOTS from one node, parsed
and installed (docs/engine.md, Topology).
"""

import argparse
import os
import time

from rediscluster import RedisCluster


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("RC_CLUSTER_BASE_PORT", 7000)))
    ap.add_argument("--count", type=int, default=500, help="refreshes per measurement")
    ap.add_argument("--quiet", action="store_true", help="only run COUNT refreshes (for valgrind)")
    args = ap.parse_args()
    pool = RedisCluster(host=args.host, port=args.port).connection_pool
    for _ in range(20):
        pool._refresh_now()
    if args.quiet:
        for _ in range(args.count):
            pool._refresh_now()
        return
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(args.count):
            pool._refresh_now()
        best = min(best, (time.perf_counter() - t) / args.count)
    cpu = time.process_time()
    for _ in range(args.count):
        pool._refresh_now()
    cpu = (time.process_time() - cpu) / args.count
    print("one refresh: %.1f us wall (best of 5 x %d), %.1f us CPU"
          % (best * 1e6, args.count, cpu * 1e6))


if __name__ == "__main__":
    main()
