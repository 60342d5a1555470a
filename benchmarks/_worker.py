"""One benchmark worker: one implementation, one scenario, one mode -> one JSON line.

Runs unchanged under any of the peers' interpreters (Python 3.6+, stdlib only, plus
gevent for --io gevent):

    python _worker.py --impl ours|rpc|redispy|glide --op set|get|... --n N \
                      --mode rate|latency|count|probe --port 7000 \
                      [--io sync|gevent|asyncio] [--concurrency C]

impl     ours     `from rediscluster import RedisCluster` (this project, C engine);
                  with --io asyncio `from rediscluster.asyncio import RedisCluster`
         rpc      `from rediscluster import RedisCluster` inside benchmarks/.venv-rpc
                  (the original redis-py-cluster 2.1.3 on redis 3.5.3 + hiredis)
         redispy  `from redis.cluster import RedisCluster` (latest redis-py + hiredis);
                  with --io asyncio `from redis.asyncio.cluster import RedisCluster`
         glide    `glide_sync.GlideClusterClient` (valkey-glide-sync, Rust core);
                  with --io asyncio `glide.GlideClusterClient` (valkey-glide)
io       sync     plain threads (the default)
         gevent   `gevent.monkey.patch_all()` before anything else is imported, as a
                  gunicorn or Celery gevent worker does; concurrency = greenlets
         asyncio  the asyncio client of the implementation; concurrency = tasks
concurrency       C threads / greenlets / tasks sharing ONE client, each running its
                  share of the n commands; ops/s is the aggregate (default 1: the loop
                  runs in the main thread, nothing else)
mode     rate     warm up, then time n commands: wall ops/s and client CPU us/op
                  (getrusage(RUSAGE_SELF) user+sys delta around the loop only; it
                  counts every thread of the process, glide's Rust threads included)
         latency  perf_counter_ns around every call; p50/p99/mean in us per call
                  (sync, concurrency 1 only)
         count    warm up, run n commands, print nothing but a short JSON line:
                  the harness runs this under callgrind with two n's and differences
                  the totals, so start-up, imports, connect and warm-up cancel out
         probe    import + connect; print version info and the supported scenarios

A scenario (see SCENARIOS) turns the client into (func, arg-tuples); the loop is
`deque(starmap(func, args), maxlen=0)`, a C loop, so harness overhead per command is
a few dozen instructions, the same for every implementation (asyncio: a coroutine
that awaits func(*args) for each). `--n` always counts commands (keys touched);
scenarios that do several per call (pipeline, mget) run ceil(n / per_call) calls.

Keys are `<prefix><i>` for i in range(keyspace), default `bench:cmp:0 .. 9999`; the
harness (compare.py) writes them all before any GET-type run and deletes them after
(a standalone run of this script leaves them: run compare.py once, or delete them).
"""
import sys


def wanted_io(argv):
    """The --io value in argv (None if absent), read before argparse runs."""
    for i, arg in enumerate(argv):
        if arg == "--io" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--io="):
            return arg[len("--io="):]
    return None


if __name__ == "__main__" and wanted_io(sys.argv[1:]) == "gevent":
    # First thing, before argparse/json/threading/socket are imported, as a gevent
    # worker of gunicorn or Celery does it.
    from gevent import monkey
    monkey.patch_all()

import argparse  # noqa: E402
import binascii  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from itertools import starmap  # noqa: E402

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None

IOS = ("sync", "gevent", "asyncio")


class Unsupported(Exception):
    """This implementation cannot run this scenario (or this io): the reason."""


# ----------------------------------------------------------------- client factories
#
# FACTORIES[impl](host, port, io, counting) -> (client, info) for io sync/gevent
# (counting: the run is under callgrind);
# AFACTORIES[impl](host, port) -> coroutine giving (client, info) for io asyncio.
# A factory raises Unsupported when the implementation has no such client.


def _native_modules(pkg):
    """Names of extension modules loaded from package `pkg` (our C engine)."""
    import importlib.machinery as m
    sufs = tuple(m.EXTENSION_SUFFIXES)
    out = []
    for name, mod in list(sys.modules.items()):
        if name == pkg or name.startswith(pkg + "."):
            f = getattr(mod, "__file__", None) or ""
            if f.endswith(sufs):
                out.append(name)
    return sorted(out)


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # Python < 3.8, or not installed as a distribution
        return "?"


def _check_ours(rediscluster):
    native = _native_modules("rediscluster")
    version = getattr(rediscluster, "__version__", "?")
    if not native and version == "2.1.3" and os.path.isfile(
            os.path.join(os.path.dirname(rediscluster.__file__ or ""), "nodemanager.py")):
        raise SystemExit("impl 'ours': the importable rediscluster is the original "
                         "redis-py-cluster (%s), not this project" % rediscluster.__file__)
    return {"version": version, "file": rediscluster.__file__, "native": native}


def _gevent_info():
    import gevent
    from gevent import monkey
    return {"gevent": gevent.__version__,
            "patched_socket": bool(monkey.is_module_patched("socket"))}


def make_ours(host, port, io, counting=False):
    import rediscluster
    from rediscluster import RedisCluster
    info = _check_ours(rediscluster)
    # Under callgrind, no busy polling: its loop's instructions would count
    # the time spent waiting for replies (what a sleep costs in the kernel,
    # which callgrind does not see), not work done per command. The rate
    # runs keep the default, and their CPU time per command includes it.
    rc = RedisCluster(host=host, port=port, **({"busy_poll": 0} if counting else {}))
    info["busy_poll"] = 0 if counting else "default"
    # The driver the client picked: "native" or "gevent" once the engine has
    # pluggable waits (issue 12); None while the pool has no `io` attribute.
    info["io"] = getattr(rc.connection_pool, "io", None)
    if io == "gevent":
        info.update(_gevent_info())
    return rc, info


def make_rpc(host, port, io, counting=False):
    import warnings
    warnings.simplefilter("ignore")  # redis 3.5.3 uses distutils.version
    import rediscluster
    import redis
    import redis.connection
    from rediscluster import RedisCluster
    if getattr(rediscluster, "__version__", None) != "2.1.3":
        raise SystemExit("impl 'rpc' wants redis-py-cluster 2.1.3, found %s at %s"
                         % (getattr(rediscluster, "__version__", "?"), rediscluster.__file__))
    rc = RedisCluster(host=host, port=port)
    info = {"version": rediscluster.__version__, "redis": redis.__version__,
            "hiredis": bool(redis.connection.HIREDIS_AVAILABLE)}
    if io == "gevent":
        info.update(_gevent_info())
    return rc, info


def _redispy_info():
    import redis
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # pragma: no cover
        HIREDIS_AVAILABLE = False
    return {"version": redis.__version__, "hiredis": bool(HIREDIS_AVAILABLE)}


def make_redispy(host, port, io, counting=False):
    if io == "gevent":
        raise Unsupported("not measured under gevent")
    from redis.cluster import RedisCluster
    return RedisCluster(host=host, port=port), _redispy_info()


# glide's default request timeout (250 ms) is shorter than a batch of 1000 takes under
# valgrind, and so is its connection timeout on a loaded machine; they change nothing else.
GLIDE_TIMEOUT_MS = 60000


def glide_config(mod, host, port):
    return mod.GlideClusterClientConfiguration(
        [mod.NodeAddress(host, port)], request_timeout=GLIDE_TIMEOUT_MS,
        advanced_config=mod.AdvancedGlideClusterClientConfiguration(
            connection_timeout=GLIDE_TIMEOUT_MS))


def make_glide(host, port, io, counting=False):
    if io == "gevent":
        raise Unsupported("not measured under gevent")
    import glide_sync
    rc = glide_sync.GlideClusterClient.create(glide_config(glide_sync, host, port))
    return rc, {"version": _dist_version("valkey-glide-sync"), "package": "valkey-glide-sync"}


async def amake_ours(host, port):
    import rediscluster
    try:
        from rediscluster.asyncio import RedisCluster
    except ImportError as e:
        raise Unsupported("rediscluster.asyncio does not exist yet (issue 13): %s" % e)
    info = _check_ours(rediscluster)
    rc = RedisCluster(host=host, port=port)
    if hasattr(rc, "initialize"):
        await rc.initialize()
    return rc, info


async def amake_redispy(host, port):
    from redis.asyncio.cluster import RedisCluster
    rc = RedisCluster(host=host, port=port)
    await rc.initialize()
    return rc, _redispy_info()


async def amake_glide(host, port):
    import glide
    rc = await glide.GlideClusterClient.create(glide_config(glide, host, port))
    return rc, {"version": _dist_version("valkey-glide"), "package": "valkey-glide"}


FACTORIES = {"ours": make_ours, "rpc": make_rpc, "redispy": make_redispy, "glide": make_glide}
AFACTORIES = {"ours": amake_ours, "redispy": amake_redispy, "glide": amake_glide}


def close_client(rc):
    """Close what has a close() (glide's Rust core, redis-py's pools); errors ignored."""
    close = getattr(rc, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


async def aclose_client(rc):
    for name in ("aclose", "close"):
        close = getattr(rc, name, None)
        if close is None:
            continue
        try:
            r = close()
            if hasattr(r, "__await__"):
                await r
        except Exception:
            pass
        return


# ----------------------------------------------------------------------- scenarios
#
# SCENARIOS[name] = Scenario(per_call, builder, doc).
# builder(ctx) -> (func, list_of_arg_tuples) for the calls, or raise Unsupported(reason).
# ctx carries rc, impl, aio (func must then be a coroutine function), keys (enough
# for ONE pass; the driver cycles the arg list to reach the requested number of
# calls), value and per_call. To add a scenario: write a builder and register it with
# @scenario(...); then give it a row in compare.py's SECTIONS (and a redis-benchmark
# equivalent there if one exists).


class Ctx(object):
    def __init__(self, rc, impl, aio, keys, value, per_call):
        self.rc, self.impl, self.aio = rc, impl, aio
        self.keys, self.value, self.per_call = keys, value, per_call


class Scenario(object):
    def __init__(self, name, per_call, builder, doc, needs_data):
        self.name, self.per_call, self.builder = name, per_call, builder
        self.doc, self.needs_data = doc, needs_data


SCENARIOS = {}


def scenario(name, per_call=1, doc="", needs_data=False):
    def deco(fn):
        SCENARIOS[name] = Scenario(name, per_call, fn, doc or fn.__doc__, needs_data)
        return fn
    return deco


def _need(rc, *attrs):
    for a in attrs:
        if not hasattr(rc, a):
            raise Unsupported("client has no %s()" % a)


def _batches(keys, size):
    return [keys[i:i + size] for i in range(0, len(keys) - size + 1, size)]


def key_slot(key):
    """The cluster slot of a str key: CRC16/XMODEM (binascii.crc_hqx) of the hash tag
    or the whole key, modulo 16384."""
    k = key.encode()
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return binascii.crc_hqx(k, 0) % 16384


def slot_batches(keys, size):
    """Batches of `size` keys, each key of a batch in a different slot (so one
    call touches `size` slots), built greedily in key order; keys that fit no open
    batch are left out. Deterministic."""
    open_, done = [], []
    for k in keys:
        s = key_slot(k)
        for b in open_:
            if s not in b[0]:
                b[0].add(s)
                b[1].append(k)
                if len(b[1]) == size:
                    open_.remove(b)
                    done.append(b[1])
                break
        else:
            open_.append(({s}, [k]))
            if size == 1:
                done.append(open_.pop()[1])
    return done


@scenario("set", doc="sequential SET key value, one round trip per command")
def _b_set(ctx):
    _need(ctx.rc, "set")
    return ctx.rc.set, [(k, ctx.value) for k in ctx.keys]


@scenario("get", needs_data=True, doc="sequential GET key (keys exist)")
def _b_get(ctx):
    _need(ctx.rc, "get")
    return ctx.rc.get, [(k,) for k in ctx.keys]


def _pipe_fill(ctx, cmd):
    """fill(keys) -> a batch of `cmd` over keys, ready to run: a pipeline for the
    redis-py family (and ours), a non-atomic ClusterBatch for glide."""
    rc, value = ctx.rc, ctx.value
    if ctx.impl == "glide":
        if ctx.aio:
            from glide import ClusterBatch
        else:
            from glide_sync import ClusterBatch

        def fill(keys):
            b = ClusterBatch(is_atomic=False)
            for k in keys:
                b.set(k, value) if cmd == "set" else b.get(k)
            return b
        return fill
    _need(rc, "pipeline")

    def fill(keys):
        p = rc.pipeline()
        if cmd == "set":
            for k in keys:
                p.set(k, value)
        else:
            for k in keys:
                p.get(k)
        return p
    return fill


def _pipe_func(ctx, cmd):
    """One call: a batch of `cmd` over the keys given, run (glide: exec(batch,
    raise_on_error=True); the others: execute())."""
    fill, rc = _pipe_fill(ctx, cmd), ctx.rc
    if ctx.impl == "glide":
        if ctx.aio:
            async def run(keys):
                return await rc.exec(fill(keys), raise_on_error=True)
        else:
            def run(keys):
                return rc.exec(fill(keys), raise_on_error=True)
    elif ctx.aio:
        async def run(keys):
            return await fill(keys).execute()
    else:
        def run(keys):
            return fill(keys).execute()
    return run


@scenario("pipeline-set", per_call=1000,
          doc="1000 SETs in one batch (rc.pipeline() ... execute(); glide: ClusterBatch)")
def _b_pipe_set(ctx):
    return _pipe_func(ctx, "set"), [(b,) for b in _batches(ctx.keys, ctx.per_call)]


@scenario("pipeline-get", per_call=1000, needs_data=True,
          doc="1000 GETs in one batch (rc.pipeline() ... execute(); glide: ClusterBatch)")
def _b_pipe_get(ctx):
    return _pipe_func(ctx, "get"), [(b,) for b in _batches(ctx.keys, ctx.per_call)]


def _multi_name(ctx, base):
    # redis-py's cluster mget/mset want one slot; mget_nonatomic/mset_nonatomic split
    return base + "_nonatomic" if ctx.impl == "redispy" else base


@scenario("mset", per_call=100, doc="MSET of 100 keys in 100 different slots "
          "(ours, rpc, glide: mset(); redis-py: mset_nonatomic())")
def _b_mset(ctx):
    name = _multi_name(ctx, "mset")
    _need(ctx.rc, name)
    return getattr(ctx.rc, name), [(dict((k, ctx.value) for k in b),)
                                   for b in slot_batches(ctx.keys, ctx.per_call)]


@scenario("mget", per_call=100, needs_data=True, doc="MGET of 100 keys in 100 different "
          "slots (ours, rpc, glide: mget(); redis-py: mget_nonatomic())")
def _b_mget(ctx):
    name = _multi_name(ctx, "mget")
    _need(ctx.rc, name)
    return getattr(ctx.rc, name), [(b,) for b in slot_batches(ctx.keys, ctx.per_call)]


# -------------------------------------------------------------------------- driver


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _args_for(args_one_pass, calls):
    """A list of exactly `calls` arg tuples, cycling one pass of keys."""
    m = len(args_one_pass)
    if calls <= m:
        return args_one_pass[:calls]
    return [args_one_pass[i % m] for i in range(calls)]


def split(seq, parts):
    """`parts` interleaved shares of seq (sizes differ by at most one)."""
    return [seq[i::parts] for i in range(parts)]


def _pct(sorted_vals, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 1)) - 1))
    return sorted_vals[k]


def run_sequential(func, run_args):
    deque(starmap(func, run_args), maxlen=0)


def run_threads(func, run_args, conc, on_start=None):
    """conc threads share func; each runs its share of run_args. All start at a
    barrier; on_start() (the timer) is called as the main thread passes it.
    The first exception of any thread is raised here."""
    import threading
    errors = []
    barrier = threading.Barrier(conc + 1)

    def body(part):
        try:
            barrier.wait()
            deque(starmap(func, part), maxlen=0)
        except BaseException as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=body, args=(p,)) for p in split(run_args, conc)]
    for t in threads:
        t.daemon = True
        t.start()
    barrier.wait()
    if on_start:
        on_start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


TICK_S = 0.002  # the hub-stall probe's sleep


def run_greenlets(func, run_args, conc, on_start=None, probe_out=None):
    """conc greenlets share func (the process is monkey-patched); started together.

    With probe_out (a dict), a probe greenlet sleeps TICK_S in a loop meanwhile and
    records in probe_out["hub_stall_ms"] the longest it woke up late: how long the
    hub was kept from running other greenlets (a client that waits in C without
    yielding stalls it for as long as its loop runs)."""
    import gevent
    from gevent.event import Event
    go = Event()
    late, last = [0.0], [0.0]

    def body(part):
        go.wait()
        deque(starmap(func, part), maxlen=0)

    def tick():
        while True:
            gevent.sleep(TICK_S)
            now = time.perf_counter()
            late[0] = max(late[0], now - last[0] - TICK_S)
            last[0] = now
    gs = [gevent.spawn(body, p) for p in split(run_args, conc)]
    ticker = gevent.spawn(tick) if probe_out is not None else None
    gevent.sleep(0)  # every greenlet now waits on `go`, the probe sleeps
    last[0] = time.perf_counter()
    if on_start:
        on_start()
    go.set()
    try:
        gevent.joinall(gs, raise_error=True)
    finally:
        if ticker is not None:
            # a probe that never woke up again was stalled until now
            late[0] = max(late[0], time.perf_counter() - last[0] - TICK_S)
            ticker.kill()
            probe_out["hub_stall_ms"] = max(0.0, late[0]) * 1000.0


def run_concurrent(io, func, run_args, conc, on_start=None, probe_out=None):
    if io == "gevent":
        return run_greenlets(func, run_args, conc, on_start, probe_out)
    if conc <= 1:
        if on_start:
            on_start()
        return run_sequential(func, run_args)
    return run_threads(func, run_args, conc, on_start)


async def arun_concurrent(func, run_args, conc, on_start=None):
    import asyncio

    async def body(part):
        for args in part:
            await func(*args)
    coros = [body(p) for p in split(run_args, max(1, conc))]
    if on_start:
        on_start()
    await asyncio.gather(*coros)


class Timer(object):
    """Wall and CPU time from start() (called when the workers are released) to stop()."""

    def start(self):
        self.u0, self.s0 = _cpu()
        self.t0 = time.perf_counter()

    def stop(self, out):
        t1 = time.perf_counter()
        u1, s1 = _cpu()
        wall = t1 - self.t0
        cpu = (u1 - self.u0) + (s1 - self.s0)
        out.update(wall_s=wall, user_s=u1 - self.u0, sys_s=s1 - self.s0,
                   ops_per_s=out["n"] / wall, cpu_us_per_op=cpu * 1e6 / out["n"],
                   cpu_util=cpu / wall)


def probe(make_ctx, out):
    keys = ["key%d" % i for i in range(2000)]
    sup = {}
    for name, sc in sorted(SCENARIOS.items()):
        try:
            sc.builder(make_ctx(keys, sc.per_call))
            sup[name] = True
        except Unsupported as e:
            sup[name] = str(e)
    out["scenarios"] = sup


def plan(a, sc):
    """(keys for one pass, calls, warm-up calls) for scenario sc."""
    per = sc.per_call
    npass = max(per, (a.keyspace // per) * per)
    keys = ["%s%d" % (a.prefix, i) for i in range(npass)]
    calls = max(1, -(-a.n // per))
    wcalls = -(-a.warmup // per) if a.warmup > 0 else 0
    if a.concurrency > 1:  # every thread/greenlet/task has warmed up (and connected)
        wcalls = max(wcalls, a.concurrency * 4)
    return keys, calls, wcalls


def prepare(a, rc, is_async, out):
    """(func, run_args, warmup_args or None, per_call) of the run, or None when
    there is nothing to time (a probe, done here; an unsupported scenario: out
    says why). Shared by the sync and the asyncio runs."""
    def ctx(keys, per):
        return Ctx(rc, a.impl, is_async, keys, a.value, per)

    if a.mode == "probe":
        probe(ctx, out)
        return None
    sc = SCENARIOS[a.op]
    keys, calls, wcalls = plan(a, sc)
    try:
        func, one_pass = sc.builder(ctx(keys, sc.per_call))
    except Unsupported as e:
        out["unsupported"] = str(e)
        return None
    out.update(per_call=sc.per_call, calls=calls, n=calls * sc.per_call,
               warmup_n=wcalls * sc.per_call)
    return (func, _args_for(one_pass, calls), _args_for(one_pass, wcalls) if wcalls else None,
            sc.per_call)


def run_sync(a, out):
    try:
        rc, info = FACTORIES[a.impl](a.host, a.port, a.io, a.mode == "count")
    except Unsupported as e:
        out["unsupported"] = str(e)
        return
    out["info"] = info
    try:
        run = prepare(a, rc, False, out)
        if run is None:
            return
        func, run_args, warm_args, per_call = run
        if warm_args:
            run_concurrent(a.io, func, warm_args, a.concurrency)
        if a.mode == "count":
            run_concurrent(a.io, func, run_args, a.concurrency)
        elif a.mode == "rate":
            timer = Timer()
            run_concurrent(a.io, func, run_args, a.concurrency, timer.start, out)
            timer.stop(out)
        else:
            latency(func, run_args, per_call, out)
    finally:
        close_client(rc)


def run_asyncio(a, out):
    import asyncio

    async def amain():
        try:
            rc, info = await AFACTORIES[a.impl](a.host, a.port)
        except Unsupported as e:
            out["unsupported"] = str(e)
            return
        out["info"] = info
        try:
            run = prepare(a, rc, True, out)
            if run is None:
                return
            func, run_args, warm_args, _ = run
            if warm_args:
                await arun_concurrent(func, warm_args, a.concurrency)
            if a.mode == "count":
                await arun_concurrent(func, run_args, a.concurrency)
            else:
                timer = Timer()
                await arun_concurrent(func, run_args, a.concurrency, timer.start)
                timer.stop(out)
        finally:
            await aclose_client(rc)
    if a.impl not in AFACTORIES:
        out["unsupported"] = "no asyncio client"
        return
    asyncio.run(amain())


def latency(func, run_args, per, out):
    ns = time.perf_counter_ns if hasattr(time, "perf_counter_ns") else None
    lat = [0] * len(run_args)
    i = 0
    if ns is not None:
        for args in run_args:
            t = ns()
            func(*args)
            lat[i] = ns() - t
            i += 1
        lat_us = sorted(x / 1000.0 for x in lat)
    else:  # pragma: no cover - Python < 3.7
        pc = time.perf_counter
        for args in run_args:
            t = pc()
            func(*args)
            lat[i] = pc() - t
            i += 1
        lat_us = sorted(x * 1e6 for x in lat)
    out.update(unit="us per call (%d command%s)" % (per, "s" if per > 1 else ""),
               p50_us=_pct(lat_us, 0.50), p99_us=_pct(lat_us, 0.99),
               mean_us=sum(lat_us) / len(lat_us), max_us=lat_us[-1])


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", required=True, choices=sorted(FACTORIES))
    ap.add_argument("--io", default="sync", choices=IOS)
    ap.add_argument("--concurrency", type=int, default=1,
                    help="threads (sync), greenlets (gevent) or tasks (asyncio) sharing one client")
    ap.add_argument("--op", default="set", help="scenario: " + ", ".join(sorted(SCENARIOS)))
    ap.add_argument("--mode", default="rate", choices=["rate", "latency", "count", "probe"])
    ap.add_argument("--n", type=int, default=10000, help="commands (keys touched)")
    ap.add_argument("--warmup", type=int, default=500, help="commands before measuring")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--prefix", default="bench:cmp:",
                    help="key prefix (compare.py deletes <prefix>* at the end; a standalone "
                         "run leaves its keys)")
    ap.add_argument("--value", default="xxx", help="value for SET-type ops (redis-benchmark: 3 bytes)")
    a = ap.parse_args(argv)
    if a.mode != "probe" and a.op not in SCENARIOS:
        ap.error("unknown --op %r (have %s)" % (a.op, ", ".join(sorted(SCENARIOS))))
    if a.concurrency < 1:
        ap.error("--concurrency must be >= 1")
    if a.mode == "latency" and (a.concurrency > 1 or a.io == "asyncio"):
        ap.error("--mode latency: sync or gevent, concurrency 1")
    monkey = sys.modules.get("gevent.monkey")
    if a.io == "gevent" and not (monkey and monkey.is_module_patched("socket")):
        ap.error("--io gevent: run this file as a script (the process must be "
                 "monkey-patched before anything else is imported)")
    return a


def main(argv=None):
    a = parse_args(argv)
    out = {"impl": a.impl, "io": a.io, "concurrency": a.concurrency, "op": a.op,
           "mode": a.mode, "python": "%d.%d.%d" % sys.version_info[:3]}
    if a.io == "asyncio":
        run_asyncio(a, out)
    else:
        run_sync(a, out)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
