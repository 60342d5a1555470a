#!/usr/bin/env python3
"""SET/GET mini benchmark, the equivalent of redis-py-cluster's benchmarks/simple.py.

    python benchmarks/simple.py --port 7000 --timeit                # n/2 SET + n/2 GET
    python benchmarks/simple.py --port 7000 --timeit --pipeline     # each SET+GET in a pipeline
    python benchmarks/simple.py --port 7000 --timeit -c 2           # 2 processes
    python benchmarks/simple.py --port 7000 --loop [--resetlastkey] # debug loop (see below)

Uses `from rediscluster import RedisCluster` from whatever interpreter runs it (ours
from the project's .venv; the original from benchmarks/.venv-rpc). Keys are
`bench:simple:foo<i>`; the ones written are deleted afterwards (untimed).

With --loop (or --resetlastkey) it runs the original's debug loop, used to watch a
client through failovers: SET foo<i>, GET foo<i>, SET __last__ i, sleep 0.05 s, resuming from
__last__ (--resetlastkey restarts at 0). Bounded here by --requests iterations and
--duration seconds; __last__ is kept only when stopped with Ctrl-C.

Differences from the original: the timed run is the default (--timeit is accepted and
changes nothing; the original ran the debug loop without it); argparse instead of
docopt; the client is built inside each process; the ops/s figure is requests /
seconds (the original printed twice that); --nocluster is not supported (rediscluster
has no single-node client).
"""
import argparse
import sys
import time
from multiprocessing import Process

PREFIX = "bench:simple:"


def client(args):
    from rediscluster import RedisCluster
    return RedisCluster(host=args.host, port=args.port)


def timeit(args, start, num):
    rc = client(args)
    for i in range(start, start + num // 2):
        s = "%sfoo%d" % (PREFIX, i)
        rc.set(s, i)
        rc.get(s)


def timeit_pipeline(args, start, num):
    rc = client(args)
    for i in range(start, start + num // 2):
        s = "%sfoo%d" % (PREFIX, i)
        p = rc.pipeline()
        p.set(s, i)
        p.get(s)
        p.execute()


def loop(args):
    rc = client(args)
    last_key = PREFIX + "__last__"
    if args.resetlastkey:
        rc.set(last_key, 0)
    last = False
    while last is False:
        try:
            last = rc.get(last_key)
            last = 0 if not last else int(last)
            print("starting at foo%d" % last)
        except Exception as e:
            print("error %s" % e)
            time.sleep(1)
    deadline = time.time() + args.duration
    i = last
    interrupted = False
    try:
        for i in range(last, last + args.requests):
            if time.time() > deadline:
                break
            try:
                print("SET foo%d %d" % (i, i))
                rc.set("%sfoo%d" % (PREFIX, i), i)
                got = rc.get("%sfoo%d" % (PREFIX, i))
                print("GET foo%d %s" % (i, got))
                rc.set(last_key, i)
            except Exception as e:
                print("error %s" % e)
            time.sleep(0.05)
    except KeyboardInterrupt:
        interrupted = True
    cleanup(rc, range(last, i + 1))
    if not interrupted:  # finished: leave nothing; after Ctrl-C keep __last__ to resume
        rc.delete(last_key)


def cleanup(rc, rng):
    for i in rng:
        try:
            rc.delete("%sfoo%d" % (PREFIX, i))
        except Exception as e:
            print("cleanup error %s" % e)
            return


def main():
    ap = argparse.ArgumentParser(description="rediscluster SET/GET mini benchmark")
    ap.add_argument("--host", default="127.0.0.1", help="a cluster node (default 127.0.0.1)")
    ap.add_argument("-p", "--port", type=int, default=7000, help="its port (default 7000)")
    ap.add_argument("-n", "--requests", type=int, default=100000, help="requests (default 100000)")
    ap.add_argument("-c", "--concurrent", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--timeit", action="store_true", help="run the mini benchmark (the default)")
    ap.add_argument("--loop", action="store_true", help="run the original's debug loop instead")
    ap.add_argument("--pipeline", action="store_true", help="SET/GET in pipelines (one per pair)")
    ap.add_argument("--nocluster", action="store_true", help="plain single-node client (not supported)")
    ap.add_argument("--resetlastkey", action="store_true", help="debug loop: restart at foo0 (implies --loop)")
    ap.add_argument("--duration", type=float, default=60.0, help="debug loop: stop after seconds")
    args = ap.parse_args()

    if args.nocluster:
        print("--nocluster: rediscluster has no single-node client; use redis-py or "
              "redis-benchmark for a single node. Skipped.")
        return 0
    try:
        from rediscluster import RedisCluster
    except ImportError as e:
        print("cannot import rediscluster.RedisCluster (%s): run with the project's .venv" % e)
        return 1
    if args.pipeline and not hasattr(RedisCluster, "pipeline"):
        print("--pipeline: this rediscluster has no RedisCluster.pipeline() yet. Skipped.")
        return 0
    if args.loop or args.resetlastkey:
        loop(args)
        return 0

    target = timeit_pipeline if args.pipeline else timeit
    per = args.requests // args.concurrent
    procs = [Process(target=target, args=(args, j * (per // 2), per)) for j in range(args.concurrent)]
    t1 = time.time()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    t2 = time.time() - t1
    bad = [p.exitcode for p in procs if p.exitcode]
    total = (per // 2) * 2 * args.concurrent
    cleanup(client(args), range(0, args.concurrent * (per // 2)))
    if bad:
        print("worker process failed (exit codes %s)" % bad)
        return 1
    print("Tested %gk SET & GET (each 50%%)%s operations took: %.3f seconds... %.0f operations per second"
          % (total / 1000.0, " pipelined" if args.pipeline else "", t2, total / t2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
