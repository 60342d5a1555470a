#!/usr/bin/env python3
"""Compare our rediscluster with redis-py-cluster 2.1.3, redis-py's cluster clients,
valkey-glide's clients and redis-benchmark, on the same cluster, in one run.

    python benchmarks/compare.py                      # every section, everything importable
    python benchmarks/compare.py --quick              # small n (make demo)
    python benchmarks/compare.py --sections sync --impls rpc,redispy --no-callgrind

Sections (tables); each row is one scenario, each column one implementation:
    sync     one thread, sequential and batched: SET, GET, pipelines of 1000,
             MSET/MGET of 100 keys -- ours, rpc, redispy, glide, redis-benchmark -c 1
    gevent   ours and rpc under gevent.monkey.patch_all(): sequential GET, pipelines
             of 1000 GETs, 50 greenlets sharing one client doing GETs
    threads  1 / 4 / 16 threads sharing one client doing GETs (aggregate ops/s):
             ours, rpc, glide, redis-benchmark -c 1/4/16
    async    64 tasks doing GETs, a pipeline of 1000 GETs, MGET of 100 keys over 100
             slots: ours (rediscluster.asyncio, skipped while it does not exist),
             redis-py's redis.asyncio.cluster, glide's asyncio client,
             redis-benchmark -c 64
Implementations (each runs benchmarks/_worker.py, the same code, in its own process):
    ours     the interpreter running this script (`import rediscluster` must give
             this project's client; skipped with a note otherwise)
    rpc      benchmarks/.venv-rpc/bin/python      (redis-py-cluster 2.1.3 + hiredis, gevent)
    redispy  benchmarks/.venv-redispy/bin/python  (redis-py + hiredis)
    glide    benchmarks/.venv-glide/bin/python    (valkey-glide-sync), and for the
             async section benchmarks/.venv-glide-async/bin/python (valkey-glide)
    rb       redis-benchmark, connections to one master (run unless --no-rb)
Run benchmarks/setup_peers.sh first to create the peers' venvs.

Metrics per row: ops/s (wall), client CPU us/op, p50/p99 latency per call (sync
section), user-space instructions per command (callgrind, difference of two runs;
sync SET and GET by default; ours with busy_poll=0 there, as its polling loop
would count waiting, not work), and under gevent the longest hub stall. See
benchmarks/README.md. Results go to stdout and benchmarks/results/latest.json.
Only the standard library is used, so any Python 3.6+ can run this harness.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "_worker.py")
RESULTS = os.path.join(HERE, "results")
IMPLS = ("ours", "rpc", "redispy", "glide")  # the Python clients (--impls)


def _venv_python(name):
    return os.path.join(HERE, name, "bin", "python")


# (impl, io) -> the peer's interpreter; ours runs with the interpreter running this
PEER_PYTHONS = {
    ("rpc", "sync"): _venv_python(".venv-rpc"),
    ("rpc", "gevent"): _venv_python(".venv-rpc"),
    ("redispy", "sync"): _venv_python(".venv-redispy"),
    ("redispy", "asyncio"): _venv_python(".venv-redispy"),
    ("glide", "sync"): _venv_python(".venv-glide"),
    ("glide", "asyncio"): _venv_python(".venv-glide-async"),
}
IMPL_LABEL = {"ours": "ours", "rpc": "rpc", "redispy": "redispy", "glide": "glide",
              "rb": "redis-benchmark"}


# --------------------------------------------------------------- sections and rows
#
# A section is one table: its rows are scenarios (the worker's --op, run with
# --concurrency threads/greenlets/tasks), its columns implementations, all run with
# the section's --io. To add a row: give it here (the op must exist in
# _worker.SCENARIOS); `rb` is its redis-benchmark equivalent, if any.


def _rb_key(tag):
    return "%s{%s}:__rand_int__" % (ARGS.prefix, tag)


# redis-benchmark equivalents: fn(tag, value) -> (extra-args, command-argv, commands per
# request). Keys carry a hash tag that lands on the master redis-benchmark talks to.
RB_COMMANDS = {
    "set": lambda tag, v: ([], ["SET", _rb_key(tag), v], 1),
    "get": lambda tag, v: ([], ["GET", _rb_key(tag)], 1),
    "pipeline-set": lambda tag, v: (["-P", "1000"], ["SET", _rb_key(tag), v], 1),
    "pipeline-get": lambda tag, v: (["-P", "1000"], ["GET", _rb_key(tag)], 1),
    "mset": lambda tag, v: ([], ["MSET"] + [_rb_key(tag), v] * 100, 100),
    "mget": lambda tag, v: ([], ["MGET"] + [_rb_key(tag)] * 100, 100),
}
PER_CALL = {"set": 1, "get": 1, "pipeline-set": 1000, "pipeline-get": 1000, "mset": 100,
            "mget": 100}


class Row(object):
    """One scenario of a section: `op` run by `concurrency` threads/greenlets/tasks;
    rb: the redis-benchmark command (a key of RB_COMMANDS) and its connections."""

    def __init__(self, name, op, title, concurrency=1, rb=None, rb_conns=1):
        self.name, self.op, self.title = name, op, title
        self.concurrency, self.per_call = concurrency, PER_CALL[op]
        self.rb, self.rb_conns = rb, rb_conns

    def describe(self):
        return {"name": self.name, "op": self.op, "title": self.title,
                "per_call": self.per_call, "concurrency": self.concurrency,
                "rb": ("-c %d %s" % (self.rb_conns, self.rb)) if self.rb else None}


class Section(object):
    """One table: `io` for every worker; `impls` its columns ("rb": redis-benchmark);
    `doc` a paragraph for the manual (reST)."""

    def __init__(self, name, io, title, impls, rows, doc):
        self.name, self.io, self.title = name, io, title
        self.impls, self.rows, self.doc = list(impls), list(rows), doc

    def describe(self):
        return {"title": self.title, "io": self.io, "doc": self.doc, "impls": self.impls,
                "rows": [r.describe() for r in self.rows]}


SYNC_ROWS = ["set", "get", "pipeline-set", "pipeline-get", "mset", "mget"]
# rows counted under callgrind unless --callgrind-ops says otherwise
DEFAULT_CALLGRIND = "get,set@ours+rpc+rb,pipeline-get@ours+rpc+rb,gevent:get"
SECTION_NAMES = ("sync", "gevent", "threads", "async")


def build_sections(a):
    """The sections of this run, from the options (thread counts, greenlets, tasks)."""
    sync_titles = {
        "set": "SET, sequential (1 round trip per command)",
        "get": "GET, sequential (1 round trip per command)",
        "pipeline-set": "pipeline of 1000 SET (glide: non-atomic ClusterBatch)",
        "pipeline-get": "pipeline of 1000 GET (glide: non-atomic ClusterBatch)",
        "mset": "MSET of 100 keys in 100 slots",
        "mget": "MGET of 100 keys in 100 slots",
    }
    out = {
        "sync": Section(
            "sync", "sync", "One thread: sequential and batched commands",
            ["ours", "rpc", "redispy", "glide", "rb"],
            [Row(s, s, sync_titles[s], rb=s) for s in SYNC_ROWS if s in a.scenarios],
            "One client in one thread. ``redis-benchmark``: one connection to one master."),
        "gevent": Section(
            "gevent", "gevent", "Under gevent: ours and the original, both monkey-patched",
            ["ours", "rpc"],
            [Row("get", "get", "GET, sequential"),
             Row("pipeline-get", "pipeline-get", "pipeline of 1000 GET"),
             Row("greenlets-%d" % a.greenlets, "get",
                 "%d greenlets sharing one client, GET (aggregate)" % a.greenlets,
                 concurrency=a.greenlets)],
            "Each in its own process after ``gevent.monkey.patch_all()``. Hub stall: the "
            "longest a greenlet sleeping 2 ms woke up late during the run (a client "
            "that waits without yielding to the hub stalls every other greenlet)."),
        "threads": Section(
            "threads", "sync", "Threads sharing one client: aggregate GET ops/s",
            ["ours", "rpc", "glide", "rb"],
            [Row("threads-%d" % t, "get", "%d thread%s sharing one client, GET"
                 % (t, "s" if t > 1 else ""), concurrency=t, rb="get", rb_conns=t)
             for t in a.threads],
            "n GETs split over the threads, one client object shared; CPU counts every "
            "thread of the process. ``redis-benchmark -c N``: N connections to one master."),
        "async": Section(
            "async", "asyncio", "asyncio clients",
            ["ours", "redispy", "glide", "rb"],
            [Row("tasks-%d" % a.tasks, "get", "%d concurrent tasks doing GET" % a.tasks,
                 concurrency=a.tasks, rb="get", rb_conns=a.tasks),
             Row("pipeline-get", "pipeline-get", "pipeline of 1000 GET"),
             Row("mget", "mget", "MGET of 100 keys over 100 slots")],
            "ours: ``rediscluster.asyncio.RedisCluster``; redis-py: "
            "``redis.asyncio.cluster.RedisCluster`` (``mget_nonatomic``); valkey-glide: its "
            "asyncio ``GlideClusterClient``; one event loop (asyncio's default)."),
    }
    return [out[s] for s in SECTION_NAMES if s in a.sections]


# ------------------------------------------------------------------------- targets
#
# Target(name, mine, ref, factor, higher): PASS when mine >= factor * ref (higher is
# better) or mine <= factor * ref (lower is better). mine and ref are (section, row,
# impl, metric) paths into the results.


class Target(object):
    def __init__(self, name, mine, ref, factor, higher=True, issue=None):
        self.name, self.mine, self.ref = name, mine, ref
        self.factor, self.higher, self.issue = factor, higher, issue


def target_list():
    out = []
    for op in ("set", "get"):
        O = op.upper()
        out += [
            Target("instructions per %s <= 1/10 of redis-py-cluster's" % O,
                   ("sync", op, "ours", "ir_per_op"), ("sync", op, "rpc", "ir_per_op"),
                   0.1, higher=False),
            Target("client CPU per %s <= 1.2x redis-benchmark's" % O,
                   ("sync", op, "ours", "cpu_us_per_op"), ("sync", op, "rb", "cpu_us_per_op"),
                   1.2, higher=False),
            Target("%s ops/s >= 0.9x redis-benchmark's (1 connection)" % O,
                   ("sync", op, "ours", "ops_per_s"), ("sync", op, "rb", "ops_per_s"), 0.9),
        ]
    out += [
        Target("mget >= 20x redis-py-cluster's", ("sync", "mget", "ours", "ops_per_s"),
               ("sync", "mget", "rpc", "ops_per_s"), 20.0),
        Target("mget >= 3x redis-py's (mget_nonatomic)", ("sync", "mget", "ours", "ops_per_s"),
               ("sync", "mget", "redispy", "ops_per_s"), 3.0),
        Target("gevent: GET >= 1.5x the original's", ("gevent", "get", "ours", "ops_per_s"),
               ("gevent", "get", "rpc", "ops_per_s"), 1.5, issue=12),
        Target("gevent: pipeline >= 5x the original's",
               ("gevent", "pipeline-get", "ours", "ops_per_s"),
               ("gevent", "pipeline-get", "rpc", "ops_per_s"), 5.0, issue=12),
        Target("16 threads >= 4 threads", ("threads", "threads-16", "ours", "ops_per_s"),
               ("threads", "threads-4", "ours", "ops_per_s"), 1.0, issue=12),
        Target("16 threads >= 0.8x redis-benchmark -c 16",
               ("threads", "threads-16", "ours", "ops_per_s"),
               ("threads", "threads-16", "rb", "ops_per_s"), 0.8, issue=12),
        Target("async: 64 tasks >= 2x glide", ("async", "tasks-64", "ours", "ops_per_s"),
               ("async", "tasks-64", "glide", "ops_per_s"), 2.0, issue=13),
        Target("async: 64 tasks >= 4x redis-py", ("async", "tasks-64", "ours", "ops_per_s"),
               ("async", "tasks-64", "redispy", "ops_per_s"), 4.0, issue=13),
        Target("async: 64 tasks >= 0.8x redis-benchmark -c 64",
               ("async", "tasks-64", "ours", "ops_per_s"),
               ("async", "tasks-64", "rb", "ops_per_s"), 0.8, issue=13),
        Target("async: pipeline >= 3x glide", ("async", "pipeline-get", "ours", "ops_per_s"),
               ("async", "pipeline-get", "glide", "ops_per_s"), 3.0, issue=13),
        Target("async: mget >= 2x glide", ("async", "mget", "ours", "ops_per_s"),
               ("async", "mget", "glide", "ops_per_s"), 2.0, issue=13),
    ]
    return out


def _get(res, path):
    section, row, impl, key = path
    return ((res.get(section) or {}).get(row) or {}).get(impl, {}).get(key)


def evaluate_targets(res, targets=None):
    """One dict per target whose section and row were measured (others are left out):
    status PASS / MISS / N/A, ours, limit, ratio (ours / reference) and a text."""
    out = []
    for t in target_list() if targets is None else targets:
        section, row = t.mine[0], t.mine[1]
        if row not in (res.get(section) or {}):
            continue
        key = t.mine[3]
        mine, ref = _get(res, t.mine), _get(res, t.ref)
        lim = ref * t.factor if ref else None
        cmp_ = ">=" if t.higher else "<="
        unit = UNITS[key]
        ref_name = "%s %s" % (IMPL_LABEL[t.ref[2]], t.ref[1]) if t.ref[1] != row \
            else IMPL_LABEL[t.ref[2]]
        ratio = mine / ref if (mine is not None and ref) else None
        if lim is None:
            status = "N/A"
            txt = "%s %s not measured" % (ref_name, METRIC_LABEL[t.ref[3]].strip())
            if mine is not None:
                txt = "ours %s %s; %s" % (fmt(mine, key), unit, txt)
        elif mine is None:
            status, txt = "N/A", "ours not measured; needs %s %s %s" % (cmp_, fmt(lim, key), unit)
        else:
            ok = mine >= lim if t.higher else mine <= lim
            status = "PASS" if ok else "MISS"
            txt = "ours %s %s = %.2fx %s, needs %s %s" % (
                fmt(mine, key), unit, ratio, ref_name, cmp_, fmt(lim, key))
        out.append({"target": t.name, "section": section, "op": row, "status": status,
                    "ours": mine, "reference": ref, "limit": lim, "ratio": ratio,
                    "factor": t.factor, "higher": t.higher, "issue": t.issue,
                    "detail": txt})
    return out


ARGS = None  # parsed options, module-global for the helpers

# ------------------------------------------------------------------ RESP client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
from _resp import Conn, RespError, parse_info  # noqa: E402  (scripts/_resp.py)


class Resp(Conn):
    """Just enough to read the topology, write and delete the benchmark keys
    (scripts/_resp.py; an error reply anywhere raises)."""

    def __init__(self, host, port, timeout=10.0):
        super().__init__(host, port, timeout)

    def pipeline(self, cmds, chunk=1000):
        out = self.pipe(cmds, chunk)
        for r in out:
            if isinstance(r, RespError):
                raise r
        return out


def _crc16(data):
    crc = 0
    for b in bytearray(data):
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def keyslot(key):
    k = key.encode() if not isinstance(key, bytes) else key
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return _crc16(k) % 16384


class Topology(object):
    def __init__(self, host, port):
        c = Resp(host, port)
        try:
            slots = c.call("CLUSTER", "SLOTS")
        finally:
            c.close()
        self.ranges = []  # (start, end, (host, port))
        nodes = set()
        for r in slots:
            h = r[2][0].decode() or host
            self.ranges.append((int(r[0]), int(r[1]), (h, int(r[2][1]))))
            for n in r[2:]:
                nodes.add((n[0].decode() or host, int(n[1])))
        self.masters = sorted(set(m for _, _, m in self.ranges))
        self.nodes = sorted(nodes)  # masters and replicas

    def server_cpu(self):
        """used_cpu_user + used_cpu_sys of every node (INFO CPU), in seconds."""
        tot = 0.0
        for node in self.nodes:
            c = Resp(*node)
            try:
                info = parse_info(c.call("INFO", "CPU"))
            finally:
                c.close()
            tot += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        return tot

    def node_for(self, key):
        s = keyslot(key)
        for a, b, m in self.ranges:
            if a <= s <= b:
                return m
        raise RuntimeError("slot %d not covered" % s)

    def group(self, keys):
        by = {}
        for k in keys:
            by.setdefault(self.node_for(k), []).append(k)
        return by


def worker_keys():
    return ["%s%d" % (ARGS.prefix, i) for i in range(ARGS.keyspace)]


def rb_keys(tag):
    # redis-benchmark's __rand_int__ with -r K: 12 zero-padded digits in [0, K)
    return ["%s{%s}:%012d" % (ARGS.prefix, tag, i) for i in range(ARGS.keyspace)]


def populate(topo, keys, value):
    for node, ks in topo.group(keys).items():
        c = Resp(*node)
        try:
            c.pipeline([("SET", k, value) for k in ks])
        finally:
            c.close()


def cleanup(topo, keys):
    """Delete the keys we know we wrote, then sweep `<prefix>*` leftovers on masters."""
    n = 0
    for node, ks in topo.group(keys).items():
        c = Resp(*node)
        try:
            n += sum(c.pipeline([("UNLINK", k) for k in ks]))
        finally:
            c.close()
    for node in topo.masters:
        c = Resp(*node)
        try:
            cursor = b"0"
            while True:
                cursor, found = c.call("SCAN", cursor, "MATCH", ARGS.prefix + "*", "COUNT", 1000)
                if found:
                    n += sum(c.pipeline([("UNLINK", k) for k in found]))
                if cursor in (b"0", 0):
                    break
        finally:
            c.close()
    return n


# ------------------------------------------------------------------------ running


def _env():
    """Environment for peer workers and redis-benchmark: the caller's PYTHONPATH is
    dropped, so a PYTHONPATH pointing at our package cannot shadow the original
    `rediscluster` inside .venv-rpc."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # deterministic dict/set layouts -> stable Ir counts
    env["PYTHONNOUSERSITE"] = "1"
    for k in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME"):
        env.pop(k, None)
    return env


def impl_cmd(impl, io):
    return OURS_CMD if impl == "ours" else [PEER_PYTHONS[(impl, io)]]


def worker_argv(impl, io, row, mode, n):
    return impl_cmd(impl, io) + [
        WORKER, "--impl", impl, "--io", io, "--concurrency", str(row.concurrency),
        "--op", row.op, "--mode", mode, "--n", str(n), "--host", ARGS.host,
        "--port", str(ARGS.port), "--keyspace", str(ARGS.keyspace), "--prefix", ARGS.prefix,
        "--warmup", str(ARGS.warmup)]


def run_json(argv, env=None, timeout=1800):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env or _env(), timeout=timeout, universal_newlines=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        msg = (p.stderr or p.stdout).strip().splitlines() or ["no output"]
        raise RuntimeError("%s failed (rc=%s): %s" % (" ".join(argv[:4]), p.returncode,
                                                     msg[-1][-400:]))
    out = json.loads(lines[-1])
    if "unsupported" in out:
        raise Unsupported(out["unsupported"])
    return out


class Unsupported(Exception):
    """The worker says this implementation has no such client or scenario."""


def probe_ours():
    """Find out whether the interpreter running us imports *our* rediscluster.

    1. `import rediscluster` in-process (what decides); if it gives a RedisCluster, the
       worker runs with the same interpreter and PYTHONPATH set to the directory the
       package was found in.
    2. Otherwise, try the repository root on PYTHONPATH (an in-place build, or an
       editable install whose finder is stale), and say so.
    The worker's probe (sync) then checks it is not the original redis-py-cluster.
    Returns (cmd, note) or (None, reason)."""
    global OURS_ENV_PATH
    cmd = [sys.executable]
    why = None
    try:
        import importlib
        mod = importlib.import_module("rediscluster")
        getattr(mod, "RedisCluster")
        OURS_ENV_PATH = os.path.dirname(os.path.dirname(os.path.abspath(mod.__file__)))
    except Exception as e:  # ImportError, AttributeError (namespace pkg), build errors
        why = "`from rediscluster import RedisCluster` fails in %s: %s: %s" % (
            sys.executable, type(e).__name__, e)
        if not os.path.isfile(os.path.join(ROOT, "rediscluster", "__init__.py")):
            return None, why
        OURS_ENV_PATH = ROOT
    try:
        run_json(cmd + [WORKER, "--impl", "ours", "--mode", "probe", "--host", ARGS.host,
                        "--port", str(ARGS.port)], env=_ours_env(), timeout=120)
    except Exception as e:
        return None, (why + "; with %s on PYTHONPATH: %s" % (ROOT, e)) if why else \
            "ours imports but the probe failed: %s" % e
    return cmd, (why + "; used %s on PYTHONPATH instead" % ROOT) if why else None


OURS_ENV_PATH = None
OURS_CMD = None


def _ours_env():
    """Ours runs with the caller's environment (PYTHONPATH kept) plus the directory the
    in-process `import rediscluster` found the package in."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONSTARTUP", None)
    if OURS_ENV_PATH:
        env["PYTHONPATH"] = OURS_ENV_PATH + (os.pathsep + env["PYTHONPATH"]
                                             if env.get("PYTHONPATH") else "")
    return env


def env_for(impl):
    return _ours_env() if impl == "ours" else _env()


def probe_impl(impl, io):
    """(info, {op: True | reason}) from the worker's probe, or raise with the reason
    this implementation cannot run under this io."""
    if impl == "ours":
        if OURS_CMD is None:
            raise Unsupported(OURS_SKIP)
    else:
        py = PEER_PYTHONS.get((impl, io))
        if py is None:
            raise Unsupported("no %s client" % io)
        if not os.access(py, os.X_OK):
            raise Unsupported("%s missing: run benchmarks/setup_peers.sh" % py)
    out = run_json(impl_cmd(impl, io) + [WORKER, "--impl", impl, "--io", io, "--mode", "probe",
                                         "--host", ARGS.host, "--port", str(ARGS.port)],
                   env=env_for(impl), timeout=120)
    return out["info"], out["scenarios"]


OURS_SKIP = None


def callgrind_total(outfile):
    tot = None
    with open(outfile) as f:
        for line in f:
            if line.startswith("totals:") or (tot is None and line.startswith("summary:")):
                tot = int(line.split()[1])
    if tot is None:
        raise RuntimeError("no totals/summary line in %s" % outfile)
    return tot


def callgrind_run(argv, outfile, env):
    """(total Ir, seconds) of one run of argv under callgrind."""
    full = ["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=" + outfile] + argv
    t0 = time.time()
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       universal_newlines=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("callgrind %s failed: %s" % (" ".join(argv[:5]), p.stderr.strip()[-600:]))
    return callgrind_total(outfile), time.time() - t0


# -------------------------------------------------------------- redis-benchmark side


def rb_target():
    """The master redis-benchmark talks to, and a hash tag whose slot it owns.

    redis-benchmark without --cluster cannot follow MOVED, so all its keys must hash
    to the node it connects to: --port if that is a master, else the first master."""
    node = None
    for m in TOPO.masters:
        if m[1] == ARGS.port:
            node = m
    node = node or TOPO.masters[0]
    for i in range(100000):
        tag = "rb%d" % i
        if TOPO.node_for("{%s}" % tag) == node:
            return node, tag
    raise RuntimeError("no hash tag found for %s" % (node,))


def rb_argv(row, n):
    extra, cmd, per = RB_COMMANDS[row.rb](RB_TAG, ARGS.value)
    calls = max(1, -(-n // per))
    return (["redis-benchmark", "-h", RB_NODE[0], "-p", str(RB_NODE[1]), "-c",
             str(row.rb_conns), "-n", str(calls), "-r", str(ARGS.keyspace), "--csv"]
            + extra + cmd), calls, per


def rb_rate(row, n):
    """One redis-benchmark run; CPU from os.wait4's rusage of exactly that child."""
    argv, calls, per = rb_argv(row, n)
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf)
        out = p.stdout.read()
        p.stdout.close()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    text = out.decode(errors="replace")
    rows = [l for l in text.splitlines() if l.startswith('"') and not l.startswith('"test"')]
    if p.returncode != 0 or not rows or "Error" in text + err:
        raise RuntimeError("redis-benchmark failed: %s %s" % (text[-400:], err[-400:]))
    f = [c.strip('"') for c in rows[-1].split(",")]
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    # "p99_latency_ms","max_latency_ms"
    rps = float(f[1])
    cpu = ru.ru_utime + ru.ru_stime
    return {"impl": "rb", "op": row.rb, "n": calls * per, "calls": calls, "per_call": per,
            "concurrency": row.rb_conns,
            "ops_per_s": rps * per, "cpu_us_per_op": cpu * 1e6 / (calls * per),
            "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "p50_us": float(f[4]) * 1000.0,
            "p99_us": float(f[6]) * 1000.0, "mean_us": float(f[2]) * 1000.0,
            "argv": " ".join(argv)}


# ------------------------------------------------------------------------ measure


def best(runs, key, higher):
    runs = [r for r in runs if r.get(key) is not None]
    if not runs:
        return None
    return (max if higher else min)(runs, key=lambda r: r[key])


def summarize(d, impl):
    """The figures of one (row, impl) cell from its rate runs: the best ops/s, the
    lowest CPU/op, the lowest hub stall (gevent)."""
    runs = d.get("rate_runs", [])
    b = best(runs, "ops_per_s", True)
    if not b:
        return
    c = best(runs, "cpu_us_per_op", False)
    d["ops_per_s"] = b["ops_per_s"]
    d["cpu_us_per_op"] = c["cpu_us_per_op"]
    d["sys_us_per_op"] = c["sys_s"] * 1e6 / c["n"]
    d["n"] = b["n"]
    sv = best(runs, "server_us_per_op", False)
    if sv:
        d["server_us_per_op"] = sv["server_us_per_op"]
    h = best(runs, "hub_stall_ms", False)
    if h:
        d["hub_stall_ms"] = h["hub_stall_ms"]
    if impl == "rb":  # redis-benchmark reports its own latency histogram
        d["p50_us"], d["p99_us"] = b["p50_us"], b["p99_us"]
        d["argv"] = b["argv"]


def measure_rates(section, cols, res, log):
    """Rate runs: ARGS.repeat per (row, impl), implementations interleaved so load
    changes hit all of them; then the latency pass (sync section only)."""
    for row in section.rows:
        cells = res.setdefault(row.name, {})
        for rep in range(ARGS.repeat):
            for impl in cols:
                if impl == "rb" and not row.rb:
                    continue
                d = cells.setdefault(impl, {})
                if "skipped" in d:
                    continue
                try:
                    cpu0 = TOPO.server_cpu()
                    if impl == "rb":
                        r = rb_rate(row, ARGS.n_rb)
                    else:
                        r = run_json(worker_argv(impl, section.io, row, "rate", ARGS.n),
                                     env=env_for(impl))
                    # the servers' CPU over the whole run, warm-up included
                    r["server_cpu_s"] = TOPO.server_cpu() - cpu0
                    r["server_us_per_op"] = r["server_cpu_s"] * 1e6 / (r["n"] + r.get("warmup_n", 0))
                except Unsupported as e:
                    d["skipped"] = str(e)
                    log("  %-8s %-8s %-13s skipped: %s" % (impl, section.name, row.name, e))
                    continue
                except Exception as e:
                    log("  %-8s %-8s %-13s rate: ERROR %s" % (impl, section.name, row.name, e))
                    d["error"] = str(e)
                    continue
                d.setdefault("rate_runs", []).append(r)
                log("  %-8s %-8s %-13s rate run %d: %10.0f ops/s %8.2f us CPU/op%s" % (
                    impl, section.name, row.name, rep + 1, r["ops_per_s"], r["cpu_us_per_op"],
                    ("  hub stall %.1f ms" % r["hub_stall_ms"]) if "hub_stall_ms" in r else ""))
        for impl, d in cells.items():
            summarize(d, impl)
    if section.io != "sync" or any(r.concurrency > 1 for r in section.rows):
        return
    for row in section.rows:
        for impl in cols:
            d = res[row.name].get(impl, {})
            if impl == "rb" or "rate_runs" not in d:
                continue
            try:
                r = run_json(worker_argv(impl, section.io, row, "latency", ARGS.n_latency),
                             env=env_for(impl))
            except Exception as e:
                log("  %-8s %-8s %-13s latency: ERROR %s" % (impl, section.name, row.name, e))
                continue
            d.update(p50_us=r["p50_us"], p99_us=r["p99_us"], latency_unit=r["unit"],
                     latency_n=r["n"])
            log("  %-8s %-8s %-13s latency: p50 %8.1f us  p99 %8.1f us (per call)" % (
                impl, section.name, row.name, r["p50_us"], r["p99_us"]))


def callgrind_jobs(sections, cols_of, res):
    """(section, row, impl, n, argv, outfile, env) for every callgrind run asked for:
    two per (row, impl), with n1 and n2 commands."""
    jobs = []
    for section in sections:
        for row in section.rows:
            n1, n2 = ARGS.cg_n if row.per_call == 1 else ARGS.cg_n_batch
            for impl in cols_of[section.name]:
                if not cg_wanted(section, row, impl):
                    continue
                d = res[section.name].get(row.name, {}).get(impl, {})
                if "rate_runs" not in d or (impl == "rb" and not row.rb):
                    continue
                for n in (n1, n2):
                    out = os.path.join(CG_TMP, "cg.%s.%s.%s.%d.out" % (
                        section.name, impl, row.name, n))
                    if impl == "rb":
                        argv, env = rb_argv(row, n)[0], _env()
                    else:
                        argv = worker_argv(impl, section.io, row, "count", n)
                        env = env_for(impl)
                    jobs.append((section, row, impl, n, argv, out, env))
    return jobs


def cg_wanted(section, row, impl):
    """--callgrind-ops: "all", or a comma list of rows: a sync row name or
    section:row, each optionally followed by @impl+impl (only those implementations;
    rb is redis-benchmark)."""
    if row.concurrency > 1:
        return False  # callgrind runs one thread at a time: no scaling to count
    for spec in ARGS.callgrind_ops:
        name, _, impls = spec.partition("@")
        if name == "all" or name == "%s:%s" % (section.name, row.name) or (
                section.name == "sync" and name == row.name):
            if not impls or impl in impls.split("+"):
                return True
    return False


CG_TMP = None


def measure_callgrind(sections, cols_of, res, log):
    """Two runs per (row, impl) under callgrind, in parallel (Ir counts do not care
    about load); Ir per command = (Ir(n2) - Ir(n1)) / (n2 - n1)."""
    global CG_TMP
    CG_TMP = tempfile.mkdtemp(prefix="bench-cg-")
    jobs = callgrind_jobs(sections, cols_of, res)
    if not jobs:
        return
    log("  callgrind: %d runs, %d at a time (slow: ~5-60 s each)" % (len(jobs), ARGS.cg_jobs))
    t0 = time.time()
    totals = {}
    with ThreadPoolExecutor(max_workers=ARGS.cg_jobs) as ex:
        futs = [(j, ex.submit(callgrind_run, j[4], j[5], j[6])) for j in jobs]
        for (section, row, impl, n, _argv, _out, _env_), fu in futs:
            try:
                totals[(section.name, row.name, impl, n)], secs = fu.result()
                log("  %-8s %-8s %-13s callgrind n=%d: %.0f s" % (
                    impl, section.name, row.name, n, secs))
            except Exception as e:
                log("  callgrind %s %s %s n=%d: ERROR %s" % (impl, section.name, row.name, n, e))
    for section, row, impl, n, _argv, _out, _env_ in jobs:
        if n != (ARGS.cg_n if row.per_call == 1 else ARGS.cg_n_batch)[0]:
            continue
        n1, n2 = ARGS.cg_n if row.per_call == 1 else ARGS.cg_n_batch
        a, b = totals.get((section.name, row.name, impl, n1)), \
            totals.get((section.name, row.name, impl, n2))
        if a is None or b is None:
            continue
        per = row.per_call
        c1, c2 = per * -(-n1 // per), per * -(-n2 // per)  # whole calls
        ir = (b - a) / float(c2 - c1)
        res[section.name][row.name][impl].update(
            ir_per_op=ir, callgrind={"n1": c1, "n2": c2, "Ir1": a, "Ir2": b})
        log("  %-8s %-8s %-13s callgrind: %10.0f Ir/op  (Ir %d @ %d, %d @ %d)" % (
            impl, section.name, row.name, ir, a, c1, b, c2))
    log("  callgrind took %.0f s" % (time.time() - t0))
    if not ARGS.keep_callgrind:
        shutil.rmtree(CG_TMP, ignore_errors=True)
    else:
        log("  callgrind out files kept in %s" % CG_TMP)


# ------------------------------------------------------------------------- report

# metric -> (label, higher is better, words for peer worse/better than the base)
METRICS = [
    ("ops_per_s", "ops/s (wall)", True, ("slower", "faster")),
    ("cpu_us_per_op", "client CPU us/op", False, ("more CPU", "less CPU")),
    ("sys_us_per_op", "  of which kernel", False, ("more", "less")),
    ("server_us_per_op", "server CPU us/op", False, ("more", "less")),
    ("p50_us", "p50 latency us/call", False, ("slower", "faster")),
    ("p99_us", "p99 latency us/call", False, ("slower", "faster")),
    ("ir_per_op", "instructions/op (Ir)", False, ("more", "fewer")),
    ("hub_stall_ms", "longest hub stall ms", False, ("longer", "shorter")),
]
METRIC_LABEL = dict((m[0], m[1]) for m in METRICS)
UNITS = {"ir_per_op": "Ir", "cpu_us_per_op": "us", "ops_per_s": "ops/s", "sys_us_per_op": "us",
         "server_us_per_op": "us",
         "p50_us": "us", "p99_us": "us", "hub_stall_ms": "ms"}


def fmt(v, key):
    if v is None:
        return "-"
    if key == "ops_per_s" or key == "ir_per_op":
        return "{:,.0f}".format(v)
    if v >= 100:
        return "%.0f" % v
    return "%.2f" % v if v < 10 else "%.1f" % v


def rel_text(key, higher, words, base, base_v, row):
    parts = []
    row = sorted(row, key=lambda iv: iv[0] != base)  # base first
    for impl, v in row:
        if v is None or base_v is None or v == 0 or base_v == 0:
            continue
        if impl == base:
            parts.append("%s 1.0x" % IMPL_LABEL[impl])
            continue
        worse = (v < base_v) if higher else (v > base_v)
        f = (base_v / v if higher else v / base_v) if worse else (v / base_v if higher else base_v / v)
        parts.append("%s %.1fx %s" % (IMPL_LABEL[impl], f, words[0] if worse else words[1]))
    return ", ".join(parts)


def report(sections, res, cols_of, notes_of=None):
    """The text tables: per section, per row, one line per metric measured."""
    lines = []
    for section in sections:
        cols = cols_of[section.name]
        sres = res.get(section.name) or {}
        lines.append("")
        lines.append("#### %s: %s (io: %s)" % (section.name, section.title, section.io))
        for n in (notes_of or {}).get(section.name, []):
            lines.append("   note: " + n)
        if not cols:
            lines.append("   (nothing measured)")
            continue
        measured = [c for c in cols if any("ops_per_s" in (sres.get(r.name) or {}).get(c, {})
                                           for r in section.rows)]
        base = "ours" if "ours" in measured else ("rb" if "rb" in measured else
                                                   (measured or cols)[0])
        w = 12
        for row in section.rows:
            cells = sres.get(row.name) or {}
            lines.append("")
            lines.append("== %s  [%s]" % (row.name, row.title))
            lines.append("   %-22s" % "metric" + "".join("%*s" % (w, IMPL_LABEL[c][:w - 1])
                                                         for c in cols)
                         + "   relative to %s" % IMPL_LABEL[base])
            for key, label, higher, words in METRICS:
                if row.concurrency > 1 and key in ("p50_us", "p99_us"):
                    continue  # only redis-benchmark has them there
                vals = [(c, (cells.get(c) or {}).get(key)) for c in cols]
                if all(v is None for _, v in vals):
                    continue
                base_v = dict(vals).get(base)
                lines.append("   %-22s" % label + "".join("%*s" % (w, fmt(v, key)) for _, v in vals)
                             + "   " + rel_text(key, higher, words, base, base_v, vals))
            notes = []
            for c in cols:
                d = cells.get(c) or {}
                if "error" in d:
                    notes.append("%s: error (%s)" % (IMPL_LABEL[c], d["error"][:160]))
                elif "skipped" in d:
                    notes.append("%s: %s" % (IMPL_LABEL[c], d["skipped"][:160]))
            if row.per_call > 1:
                notes.append("op = one key/command; %d per call; latency is per call" % row.per_call)
            if row.concurrency > 1:
                notes.append("%d %s share one client; ops/s is their sum" % (
                    row.concurrency, {"sync": "threads", "gevent": "greenlets",
                                      "asyncio": "tasks"}[section.io]))
            if row.rb and "rb" in cols:
                notes.append("redis-benchmark: -c %d, one master" % row.rb_conns)
            for n in notes:
                lines.append("   note: " + n)
    return lines


def target_lines(tg):
    lines = ["", "== targets"]
    if not tg:
        lines.append("   (none: no row with a target was measured)")
    for t in tg:
        lines.append("   %-4s  %-52s %s" % (t["status"], t["target"] + (
            " (issue %s)" % t["issue"] if t["issue"] else ""), t["detail"]))
    return lines

# --------------------------------------------------------------------------- main


def _csv(text):
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="ours vs redis-py-cluster vs redis-py vs valkey-glide vs redis-benchmark")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--sections", default=",".join(SECTION_NAMES),
                    help="comma list of " + ",".join(SECTION_NAMES))
    ap.add_argument("--impls", default=",".join(IMPLS),
                    help="comma list of " + ",".join(IMPLS) + " (redis-benchmark runs unless --no-rb)")
    ap.add_argument("--no-rb", action="store_true", help="skip redis-benchmark")
    ap.add_argument("--scenarios", default=",".join(SYNC_ROWS),
                    help="rows of the sync section: comma list of " + ",".join(SYNC_ROWS))
    ap.add_argument("--threads", default="1,4,16", help="thread counts of the threads section")
    ap.add_argument("--greenlets", type=int, default=50, help="greenlets of the gevent section's last row")
    ap.add_argument("--tasks", type=int, default=64, help="tasks of the async section's first row")
    ap.add_argument("--quick", action="store_true", help="small n, 1 repeat (make demo)")
    ap.add_argument("--no-callgrind", dest="callgrind", action="store_false")
    ap.add_argument("--callgrind-ops", default=None,
                    help="rows measured under callgrind: sync row names, section:row names, "
                         "or 'all', each optionally @impl+impl (default %s; --quick: get)"
                         % DEFAULT_CALLGRIND)
    ap.add_argument("--n", type=int, default=None, help="commands per rate run (default 20000)")
    ap.add_argument("--n-rb", type=int, default=None, help="redis-benchmark commands (default 100000)")
    ap.add_argument("--n-latency", type=int, default=None, help="commands in the latency pass (default 5000)")
    ap.add_argument("--cg-n", default=None, help="callgrind n1,n2 for 1-command calls (default 1000,6000)")
    ap.add_argument("--cg-n-batch", default=None, help="callgrind n1,n2 in commands for batched scenarios (default 2000,12000)")
    ap.add_argument("--cg-jobs", type=int, default=2, help="callgrind runs at once")
    ap.add_argument("--keep-callgrind", action="store_true", help="keep the callgrind out files")
    ap.add_argument("--repeat", type=int, default=None, help="rate runs per impl, best kept (default 3)")
    ap.add_argument("--warmup", type=int, default=500, help="commands before each measured loop")
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--prefix", default="bench:cmp:", help="key prefix (all keys deleted at the end)")
    ap.add_argument("--value", default="xxx", help="SET value (redis-benchmark's default is 3 bytes)")
    ap.add_argument("--json", default=os.path.join(RESULTS, "latest.json"))
    ap.add_argument("--publish", metavar="DIR", default=None,
                    help="also write the run as DIR/benchmarks.json and its charts as "
                         "DIR/benchmarks.png and DIR/benchmarks-concurrency.png "
                         "(make bench: docs/_static, for the manual)")
    a = ap.parse_args(argv)
    q = a.quick
    a.n = a.n or (2000 if q else 20000)
    a.n_rb = a.n_rb or (10000 if q else 100000)
    a.n_latency = a.n_latency or (1000 if q else 5000)
    a.repeat = a.repeat or (1 if q else 3)
    try:
        a.cg_n = [int(x) for x in _csv(a.cg_n or ("300,1300" if q else "1000,6000"))]
        a.cg_n_batch = [int(x) for x in _csv(a.cg_n_batch or ("2000,7000" if q else "2000,12000"))]
        a.threads = [int(x) for x in _csv(a.threads)]
    except ValueError as e:
        ap.error(str(e))
    a.callgrind_ops = _csv(a.callgrind_ops or ("get" if q else DEFAULT_CALLGRIND))
    a.impls = _csv(a.impls)
    a.scenarios = _csv(a.scenarios)
    a.sections = _csv(a.sections)
    for i in a.impls:
        if i not in IMPLS:
            ap.error("unknown impl %r (have %s)" % (i, ",".join(IMPLS)))
    for s in a.scenarios:
        if s not in SYNC_ROWS:
            ap.error("unknown scenario %r (have %s)" % (s, ",".join(SYNC_ROWS)))
    for s in a.sections:
        if s not in SECTION_NAMES:
            ap.error("unknown section %r (have %s)" % (s, ",".join(SECTION_NAMES)))
    if not a.threads or min(a.threads) < 1 or a.greenlets < 1 or a.tasks < 1:
        ap.error("--threads, --greenlets, --tasks: numbers >= 1")
    if a.keyspace < 1000:
        ap.error("--keyspace must be >= 1000 (one pipeline batch)")
    if len(a.cg_n) != 2 or a.cg_n[1] <= a.cg_n[0] or len(a.cg_n_batch) != 2 or a.cg_n_batch[1] <= a.cg_n_batch[0]:
        ap.error("callgrind n's: two increasing numbers")
    if a.callgrind and not shutil.which("valgrind"):
        print("valgrind not found: callgrind skipped")
        a.callgrind = False
    return a


def driver_note(info):
    """What ours' probe under gevent says about its driver."""
    io = info.get("io")
    if io == "gevent":
        return "ours: connection_pool.io == 'gevent' (its waits go to the hub)"
    if io is None:
        return ("ours: connection_pool.io does not exist: this engine has no gevent driver "
                "yet and waits in C without yielding (see the hub stall)")
    return "ours: connection_pool.io == %r under gevent: NOT the gevent driver" % io


def plan_columns(sections, log):
    """Probe every (impl, io) the sections need. Returns cols_of, res (with skipped
    cells), infos ({io: {impl: info}}), notes_of and the skipped implementations."""
    cols_of, res, infos, notes_of, skipped_impl, cache = {}, {}, {}, {}, {}, {}
    rb_ok = False
    if not ARGS.no_rb:
        if shutil.which("redis-benchmark"):
            rb_ok = True
        else:
            skipped_impl["rb"] = "redis-benchmark not on PATH"
    for section in sections:
        cols, sres, notes = [], {r.name: {} for r in section.rows}, []
        for impl in section.impls:
            if impl == "rb":
                if rb_ok and any(r.rb for r in section.rows):
                    cols.append("rb")
                continue
            if impl not in ARGS.impls:
                continue
            cols.append(impl)
            key = (impl, section.io)
            if key not in cache:
                try:
                    cache[key] = probe_impl(impl, section.io)
                except Exception as e:  # Unsupported, or the probe failed
                    cache[key] = e
            got = cache[key]
            if isinstance(got, Exception):
                why = str(got)
                skipped_impl.setdefault(impl, {})[section.io] = why
                notes.append("%s: skipped: %s" % (IMPL_LABEL[impl], why))
                for r in section.rows:
                    sres[r.name][impl] = {"skipped": why}
                continue
            info, sup = got
            infos.setdefault(section.io, {})[impl] = info
            if impl == "ours" and section.io == "gevent":
                notes.append(driver_note(info))
            for r in section.rows:
                if sup.get(r.op) is not True:
                    sres[r.name][impl] = {"skipped": "not supported: %s" % (sup.get(r.op) or "?")}
        cols_of[section.name], res[section.name], notes_of[section.name] = cols, sres, notes
        log("section %-8s columns %s" % (section.name, ", ".join(IMPL_LABEL[c] for c in cols)))
        for n in notes:
            log("  note: " + n)
    return cols_of, res, infos, notes_of, skipped_impl


def main(argv=None):
    global ARGS, TOPO, RB_NODE, RB_TAG, OURS_CMD, OURS_SKIP
    ARGS = parse_args(argv)
    t_start = time.time()

    def log(s):
        print(s, flush=True)

    TOPO = Topology(ARGS.host, ARGS.port)
    log("cluster: masters %s" % ", ".join("%s:%d" % m for m in TOPO.masters))
    sections = build_sections(ARGS)
    if "ours" in ARGS.impls:
        cmd, note = probe_ours()
        if cmd:
            OURS_CMD = cmd
            log("use  ours     %s (rediscluster from %s)%s" % (
                " ".join(cmd), OURS_ENV_PATH, ("; " + note) if note else ""))
        else:
            OURS_SKIP = note
            log("skip ours     %s" % note)
    if not ARGS.no_rb and shutil.which("redis-benchmark"):
        RB_NODE, RB_TAG = rb_target()
    cols_of, res, infos, notes_of, skipped_impl = plan_columns(sections, log)
    if "rb" in skipped_impl:
        log("skip rb       %s" % skipped_impl["rb"])
    if RB_NODE and any("rb" in c for c in cols_of.values()):
        v = subprocess.run(["redis-benchmark", "--version"], stdout=subprocess.PIPE,
                           universal_newlines=True).stdout.strip()
        infos.setdefault("rb", {})["rb"] = {"version": v, "node": "%s:%d" % RB_NODE,
                                            "hash_tag": RB_TAG}
        log("use  rb       %s, connections to master %s:%d, keys %s" % (
            v, RB_NODE[0], RB_NODE[1], _rb_key(RB_TAG)))
    if not any(cols_of.values()):
        log("nothing to measure")
        return 1

    log("settings: n=%d (rate, best of %d), n_rb=%d, latency n=%d, callgrind %s, keyspace %d, prefix %r"
        % (ARGS.n, ARGS.repeat, ARGS.n_rb, ARGS.n_latency,
           ("n=%s/%s batched %s/%s on %s" % (ARGS.cg_n[0], ARGS.cg_n[1], ARGS.cg_n_batch[0],
                                               ARGS.cg_n_batch[1], ",".join(ARGS.callgrind_ops)))
           if ARGS.callgrind else "off", ARGS.keyspace, ARGS.prefix))
    keys = worker_keys() + (rb_keys(RB_TAG) if RB_TAG else [])
    durations = {}
    try:
        populate(TOPO, keys, ARGS.value)  # GET-type scenarios read existing keys
        for section in sections:
            t0 = time.time()
            log("section %s" % section.name)
            measure_rates(section, cols_of[section.name], res[section.name], log)
            durations[section.name] = round(time.time() - t0, 1)
        if ARGS.callgrind:
            t0 = time.time()
            measure_callgrind(sections, cols_of, res, log)
            durations["callgrind"] = round(time.time() - t0, 1)
    finally:
        try:
            removed = cleanup(TOPO, keys)
            log("cleanup: %d keys under %r removed" % (removed, ARGS.prefix))
        except Exception as e:
            log("cleanup FAILED: %s" % e)

    tg = evaluate_targets(res)
    lines = report(sections, res, cols_of, notes_of) + target_lines(tg)
    lines.append("")
    lines.append("   time per part (s): %s" % ", ".join("%s %s" % kv for kv in durations.items()))
    log("\n".join(lines))

    try:
        la = os.getloadavg()
    except OSError:
        la = None
    doc = {
        "meta": {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
                 "cpus": os.cpu_count(), "loadavg": la, "python": sys.version.split()[0],
                 "machine": machine_info(),
                 "duration_s": round(time.time() - t_start, 1), "durations_s": durations,
                 "settings": {k: getattr(ARGS, k) for k in
                              ("host", "port", "n", "n_rb", "n_latency", "repeat", "cg_n",
                               "cg_n_batch", "callgrind", "callgrind_ops", "keyspace", "value",
                               "warmup", "quick", "prefix", "threads", "greenlets", "tasks")},
                 "sections": dict((s.name, dict(s.describe(), columns=cols_of[s.name],
                                                notes=notes_of[s.name]))
                                  for s in sections),
                 "section_order": [s.name for s in sections],
                 "impls": infos, "skipped": skipped_impl},
        "results": res, "targets": tg,
    }
    os.makedirs(os.path.dirname(os.path.abspath(ARGS.json)), exist_ok=True)
    with open(ARGS.json, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    log("\nwrote %s (%.0f s)" % (ARGS.json, time.time() - t_start))
    outputs = [(ARGS.json, os.path.dirname(os.path.abspath(ARGS.json)), "chart")]
    if ARGS.publish and ARGS.quick:
        log("not published to %s: a --quick run is not the manual's figures" % ARGS.publish)
    elif ARGS.publish:
        # The raw results next to the charts the manual shows (docs/benchmarks.rst
        # renders its tables from this JSON).
        os.makedirs(ARGS.publish, exist_ok=True)
        published = os.path.join(ARGS.publish, "benchmarks.json")
        shutil.copyfile(ARGS.json, published)
        log("wrote %s" % published)
        outputs.append((published, ARGS.publish, "benchmarks"))
    try:  # benchmarks/chart.py: PNGs next to the JSON when matplotlib is installed
        sys.path.insert(0, HERE)
        import chart
        for json_path, out_dir, stem in outputs:
            chart.write_charts(json_path, out_dir, stem, log=log)
    except Exception as e:
        log("chart: failed: %s: %s" % (type(e).__name__, e))
    return 0


def machine_info():
    """What the figures depend on: CPU model, memory, OS, Redis server version."""
    info = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if "cpu_model" not in info:
        info["cpu_model"] = platform.processor() or platform.machine()
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages * size / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        out = subprocess.run(["redis-server", "--version"], stdout=subprocess.PIPE,
                             universal_newlines=True, timeout=10).stdout
        info["redis_server"] = out.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


TOPO = RB_NODE = RB_TAG = None

if __name__ == "__main__":
    sys.exit(main())
