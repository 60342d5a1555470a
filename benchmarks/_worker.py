"""One benchmark worker: one implementation, one scenario, one mode -> one JSON line.

Runs unchanged under any of the three interpreters (Python 3.6+, stdlib only):

    python _worker.py --impl ours|rpc|redispy --op set|get|... --n N \
                      --mode rate|latency|count|probe --port 7000

impl     ours     `from rediscluster import RedisCluster` (this project, C engine)
         rpc      `from rediscluster import RedisCluster` inside benchmarks/.venv-rpc
                  (the original redis-py-cluster 2.1.3 on redis 3.5.3 + hiredis)
         redispy  `from redis.cluster import RedisCluster` (latest redis-py + hiredis)
mode     rate     warm up, then time n commands: wall ops/s and client CPU us/op
                  (getrusage(RUSAGE_SELF) user+sys delta around the loop only)
         latency  perf_counter_ns around every call; p50/p99/mean in us per call
         count    warm up, run n commands, print nothing but a short JSON line:
                  the harness runs this under callgrind with two n's and differences
                  the totals, so start-up, imports, connect and warm-up cancel out
         probe    import + connect; print version info and the supported scenarios

A scenario (see SCENARIOS) turns the client into (func, arg-tuples); the loop is
`deque(starmap(func, args), maxlen=0)`, a C loop, so harness overhead per command is
a few dozen instructions, the same for every implementation. `--n` always counts
commands (keys touched); scenarios that do several per call (pipeline, mget) run
ceil(n / per_call) calls.

Keys are `<prefix><i>` for i in range(keyspace), default `bench:cmp:0 .. 9999`; the
harness (compare.py) writes them all before any GET-type run and deletes them after
(a standalone run of this script leaves them: run compare.py once, or delete them).
"""
import argparse
import json
import os
import sys
import time
from collections import deque
from itertools import starmap

try:
    import resource
except ImportError:  # pragma: no cover - not on POSIX
    resource = None

# ----------------------------------------------------------------- client factories


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


def make_ours(host, port):
    import rediscluster
    from rediscluster import RedisCluster
    native = _native_modules("rediscluster")
    version = getattr(rediscluster, "__version__", "?")
    if not native and version == "2.1.3" and os.path.isfile(
            os.path.join(os.path.dirname(rediscluster.__file__ or ""), "nodemanager.py")):
        raise SystemExit("impl 'ours': the importable rediscluster is the original "
                         "redis-py-cluster (%s), not this project" % rediscluster.__file__)
    rc = RedisCluster(host=host, port=port)
    return rc, {"version": version, "file": rediscluster.__file__, "native": native}


def make_rpc(host, port):
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
    return rc, {"version": rediscluster.__version__, "redis": redis.__version__,
                "hiredis": bool(redis.connection.HIREDIS_AVAILABLE)}


def make_redispy(host, port):
    import redis
    from redis.cluster import RedisCluster
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # pragma: no cover
        HIREDIS_AVAILABLE = False
    rc = RedisCluster(host=host, port=port)
    return rc, {"version": redis.__version__, "hiredis": bool(HIREDIS_AVAILABLE)}


IMPLS = {"ours": make_ours, "rpc": make_rpc, "redispy": make_redispy}

# ----------------------------------------------------------------------- scenarios
#
# SCENARIOS[name] = Scenario(per_call, builder, doc).
# builder(rc, impl, keys, value, per_call) -> (func, list_of_arg_tuples) for the
# calls, or raise Unsupported(reason). It is given enough keys for ONE pass; the
# driver cycles the arg list to reach the requested number of calls.
# To add a scenario: write a builder and register it with @scenario(...); then add
# its name to compare.py's DEFAULT_SCENARIOS (and a redis-benchmark equivalent
# in compare.py's RB_SCENARIOS if one exists).


class Unsupported(Exception):
    pass


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


@scenario("set", doc="sequential SET key value, one round trip per command")
def _b_set(rc, impl, keys, value, per_call):
    return rc.set, [(k, value) for k in keys]


@scenario("get", needs_data=True, doc="sequential GET key (keys exist)")
def _b_get(rc, impl, keys, value, per_call):
    return rc.get, [(k,) for k in keys]


def _pipe_func(rc, cmd, value):
    if cmd == "set":
        def run(batch):
            p = rc.pipeline()
            for k in batch:
                p.set(k, value)
            return p.execute()
    else:
        def run(batch):
            p = rc.pipeline()
            for k in batch:
                p.get(k)
            return p.execute()
    return run


@scenario("pipeline-set", per_call=1000, doc="rc.pipeline(): 1000 SETs, execute()")
def _b_pipe_set(rc, impl, keys, value, per_call):
    _need(rc, "pipeline")
    return _pipe_func(rc, "set", value), [(b,) for b in _batches(keys, per_call)]


@scenario("pipeline-get", per_call=1000, needs_data=True,
          doc="rc.pipeline(): 1000 GETs, execute()")
def _b_pipe_get(rc, impl, keys, value, per_call):
    _need(rc, "pipeline")
    return _pipe_func(rc, "get", value), [(b,) for b in _batches(keys, per_call)]


@scenario("mset", per_call=100, doc="MSET of 100 keys across slots "
          "(rpc: mset(); redis-py: mset_nonatomic(); ours: mset())")
def _b_mset(rc, impl, keys, value, per_call):
    name = "mset_nonatomic" if impl == "redispy" else "mset"
    _need(rc, name)
    return getattr(rc, name), [(dict((k, value) for k in b),) for b in _batches(keys, per_call)]


@scenario("mget", per_call=100, needs_data=True, doc="MGET of 100 keys across slots "
          "(rpc: mget(); redis-py: mget_nonatomic(); ours: mget())")
def _b_mget(rc, impl, keys, value, per_call):
    name = "mget_nonatomic" if impl == "redispy" else "mget"
    _need(rc, name)
    return getattr(rc, name), [(b,) for b in _batches(keys, per_call)]


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


def _pct(sorted_vals, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 1)) - 1))
    return sorted_vals[k]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--impl", required=True, choices=sorted(IMPLS))
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

    out = {"impl": a.impl, "op": a.op, "mode": a.mode,
           "python": "%d.%d.%d" % sys.version_info[:3]}
    rc, info = IMPLS[a.impl](a.host, a.port)
    out["info"] = info

    if a.mode == "probe":
        sup = {}
        keys = ["%s%d" % (a.prefix, i) for i in range(1000)]
        for name, sc in sorted(SCENARIOS.items()):
            try:
                sc.builder(rc, a.impl, keys, a.value, sc.per_call)
                sup[name] = True
            except Unsupported as e:
                sup[name] = str(e)
        out["scenarios"] = sup
        print(json.dumps(out))
        return 0

    sc = SCENARIOS.get(a.op)
    if sc is None:
        ap.error("unknown --op %r (have %s)" % (a.op, ", ".join(sorted(SCENARIOS))))
    per = sc.per_call
    # one pass over the keyspace, rounded to whole calls
    npass = max(per, (a.keyspace // per) * per)
    keys = ["%s%d" % (a.prefix, i) for i in range(npass)]
    try:
        func, one_pass = sc.builder(rc, a.impl, keys, a.value, per)
    except Unsupported as e:
        out["unsupported"] = str(e)
        print(json.dumps(out))
        return 0

    calls = max(1, -(-a.n // per))
    wcalls = -(-a.warmup // per) if a.warmup > 0 else 0
    out.update(per_call=per, calls=calls, n=calls * per)
    run_args = _args_for(one_pass, calls)
    if wcalls:
        deque(starmap(func, _args_for(one_pass, wcalls)), maxlen=0)

    if a.mode == "count":
        deque(starmap(func, run_args), maxlen=0)
    elif a.mode == "rate":
        u0, s0 = _cpu()
        t0 = time.perf_counter()
        deque(starmap(func, run_args), maxlen=0)
        t1 = time.perf_counter()
        u1, s1 = _cpu()
        wall = t1 - t0
        cpu = (u1 - u0) + (s1 - s0)
        out.update(wall_s=wall, user_s=u1 - u0, sys_s=s1 - s0,
                   ops_per_s=out["n"] / wall, cpu_us_per_op=cpu * 1e6 / out["n"],
                   cpu_util=cpu / wall)
    else:  # latency
        ns = time.perf_counter_ns if hasattr(time, "perf_counter_ns") else None
        lat = [0] * calls
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
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
