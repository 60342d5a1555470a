"""Memory growth over many operations: RSS must stay flat.

``test_rss_flat`` runs RC_LEAK_OPS (default 1 000 000) mixed operations
against the cluster -- most of the volume in pipelines of 100, the rest single
commands, server errors, client-side errors, decode errors, fan-out, mget and
Client._execute_batch -- and compares the process RSS (/proc/self/statm) after
a warm-up (10 % of the operations) with the RSS at the end (the lowest of
the first three and of the last three of twelve samples, so that a transient
spike is not taken for growth): the growth must stay under
RC_LEAK_MAX_GROWTH_MIB (default 8). A leak of even a few bytes per
operation shows: 8 bytes x 900 000 operations is 7 MiB.

``test_tracemalloc_flat`` does a tenth as many operations under tracemalloc
and checks the Python-allocator side (objects the engine creates and drops)
the same way, with a finer bound, and names the top allocation sites if it
grows.

Keys: ``rcit:leak:mem:*``, a fixed set, overwritten again and again.
"""

import gc
import os
import resource
import time
import tracemalloc

import pytest

from rediscluster import _core
from rediscluster.exceptions import DataError, RedisClusterException, ResponseError

pytestmark = [pytest.mark.leak, pytest.mark.slow]

OPS = int(os.environ.get("RC_LEAK_OPS", "1000000"))
MAX_GROWTH_MIB = float(os.environ.get("RC_LEAK_MAX_GROWTH_MIB", "8"))
PAGE = resource.getpagesize()
NKEYS = 64


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class Workload:
    """One round is ~130 operations of every kind; ``run(ops)`` repeats rounds."""

    def __init__(self, rc, rc_decoded, keys):
        self.rc, self.rcd = rc, rc_decoded
        self.keys = keys(NKEYS, "mem")
        self.counter = self.keys[0] + ":n"
        self.listkey = self.keys[1] + ":l"
        self.binkey = self.keys[2] + ":bin"
        self.txtkey = self.keys[3] + ":txt"
        self.cleanup = [self.counter, self.listkey, self.binkey, self.txtkey]
        # Values of several sizes, so that buffers grow and shrink.
        self.values = [os.urandom(n) for n in (1, 10, 100, 1000, 10_000, 70_000)]
        self.bad = object()
        self.round = 0
        rc.set(self.binkey, b"\xff\xfe")
        rc.delete(self.listkey)

    def one_round(self):
        rc, keys, values = self.rc, self.keys, self.values
        r = self.round
        self.round += 1
        ops = 0

        # a pipeline of 100: SET/GET/INCR/LPUSH+LTRIM and an error in place
        p = rc.pipeline()
        for i in range(20):
            k = keys[(r + i) % NKEYS]
            p.set(k, values[(r + i) % 5])
            p.get(k)
            p.incr(self.counter)
            p.lpush(self.listkey, values[0])
            if i == 7:
                p.execute_command("LPUSH", k, b"x")  # WRONGTYPE, returned in place
            else:
                p.ltrim(self.listkey, 0, 9)
        res = p.execute(raise_on_error=False)
        assert isinstance(res[5 * 7 + 4], ResponseError)
        ops += 100

        # single commands
        k = keys[r % NKEYS]
        rc.set(k, values[r % len(values)])
        rc.get(k)
        rc.incr(self.counter)
        rc.set(k, values[1], ex=100, nx=True)
        ops += 4

        # server errors, client-side errors, decode errors
        try:
            rc.execute_command("LPUSH", k, b"x")
        except ResponseError:
            pass
        try:
            rc.execute_command("SET", k, self.bad)
        except DataError:
            pass
        try:
            rc.execute_command("GET")
        except RedisClusterException:
            pass
        try:
            self.rcd.get(self.binkey)
        except UnicodeDecodeError:
            pass
        ops += 4

        # a raising pipeline
        p = rc.pipeline()
        p.get(k)
        p.execute_command("INCR", k)  # not an integer
        try:
            p.execute()
        except ResponseError:
            pass
        ops += 2

        # multi-key, batch, fan-out (rarely: they touch every node)
        if hasattr(rc, "mget"):
            rc.mget(keys[:10])
            ops += 10
        res = _core.Client._execute_batch(
            rc, [(("GET", kk), {}) for kk in keys[(r % 4) * 10 : (r % 4) * 10 + 10]])
        assert len(res) == 10
        ops += 10
        if r % 20 == 0:
            rc.ping()
            self.rcd.set(self.txtkey, "välue 大奖")
            self.rcd.get(self.txtkey)
            ops += 3
        return ops

    def run(self, ops):
        done = 0
        while done < ops:
            done += self.one_round()
        return done


@pytest.fixture
def workload(rc, rc_decoded, keys):
    w = Workload(rc, rc_decoded, keys)
    yield w
    for k in w.cleanup:
        rc.delete(k)


def test_rss_flat(workload, report):
    warmup = max(OPS // 10, 1000)
    t0 = time.perf_counter()
    done = workload.run(warmup)
    gc.collect()
    samples = [rss_mib()]
    step = max((OPS - done) // 11, 1000)
    while done < OPS:
        done += workload.run(min(step, OPS - done))
        gc.collect()
        samples.append(rss_mib())
    elapsed = time.perf_counter() - t0
    # Transient spikes (a freed 70 KB buffer not yet trimmed, ...) are noise;
    # a leak lifts every sample: compare the lowest of the first and last three.
    growth = min(samples[-3:]) - min(samples[:3])
    report(
        "RSS: %.1f MiB after %d warm-up ops, %.1f MiB after %d ops (growth %+.2f MiB); "
        "%.1f s, %.0f ops/s; samples %s"
        % (samples[0], warmup, samples[-1], done, growth, elapsed, done / elapsed,
           " ".join("%.1f" % x for x in samples))
    )
    assert growth <= MAX_GROWTH_MIB, (
        "RSS grew by %.2f MiB over %d operations (samples: %s)" % (growth, done - warmup, samples))


def test_tracemalloc_flat(workload, report):
    ops = max(OPS // 10, 5000)
    workload.run(ops // 5)
    gc.collect()
    tracemalloc.start(10)
    try:
        workload.run(ops // 5)
        gc.collect()
        before = tracemalloc.take_snapshot()
        size0 = tracemalloc.get_traced_memory()[0]
        done = workload.run(ops)
        gc.collect()
        after = tracemalloc.take_snapshot()
        size1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    growth = (size1 - size0) / 2**10
    top = after.compare_to(before, "lineno")[:5]
    report("tracemalloc: %+.1f KiB traced over %d ops" % (growth, done))
    assert growth < 512, "Python-side memory grew by %.1f KiB over %d ops; top sites:\n%s" % (
        growth, done, "\n".join(str(s) for s in top))
