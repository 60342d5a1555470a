#!/usr/bin/env python3
"""Compare our rediscluster with redis-py-cluster 2.1.3, redis-py's cluster client and
redis-benchmark, on the same cluster, in one run.

    python benchmarks/compare.py                      # everything importable
    python benchmarks/compare.py --quick              # small n (make demo)
    python benchmarks/compare.py --impls rpc,redispy --no-callgrind

Implementations (each runs benchmarks/_worker.py, the same code, in its own process):
    ours     the interpreter running this script (`import rediscluster` must give
             this project's client; skipped with a note otherwise)
    rpc      benchmarks/.venv-rpc/bin/python      (redis-py-cluster 2.1.3 + hiredis)
    redispy  benchmarks/.venv-redispy/bin/python  (redis.cluster.RedisCluster + hiredis)
    rb       redis-benchmark, one connection to one master (run unless --no-rb)
Run benchmarks/setup_peers.sh first to create the two venvs.

Metrics per scenario: ops/s (wall), client CPU us/op, p50/p99 latency per call, and
user-space instructions per command (callgrind, difference of two runs). See
benchmarks/README.md. Results go to stdout and benchmarks/results/latest.json.
Only the standard library is used, so any Python 3.6+ can run this harness.
"""
import argparse
import json
import os
import platform
import re
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

PEER_PYTHONS = {
    "rpc": os.path.join(HERE, ".venv-rpc", "bin", "python"),
    "redispy": os.path.join(HERE, ".venv-redispy", "bin", "python"),
}
IMPL_LABEL = {"ours": "ours", "rpc": "rpc", "redispy": "redispy", "rb": "redis-benchmark"}

# Scenario registry (the harness side). The worker side lives in _worker.SCENARIOS;
# per_call must agree. To add a scenario: register it in _worker.py, add it here, and
# (optionally) give redis-benchmark an equivalent in RB_SCENARIOS.
SCENARIOS = {
    "set":          {"per_call": 1,    "title": "SET, sequential (1 round trip per command)"},
    "get":          {"per_call": 1,    "title": "GET, sequential (1 round trip per command)"},
    "pipeline-set": {"per_call": 1000, "title": "pipeline of 1000 SET"},
    "pipeline-get": {"per_call": 1000, "title": "pipeline of 1000 GET"},
    "mset":         {"per_call": 100,  "title": "MSET of 100 keys (cluster-wide)"},
    "mget":         {"per_call": 100,  "title": "MGET of 100 keys (cluster-wide)"},
}
DEFAULT_SCENARIOS = ["set", "get", "pipeline-set", "pipeline-get", "mset", "mget"]
TARGET_SCENARIOS = ("set", "get")  # the PASS/MISS targets are about these
# mget calls/s of ours >= factor x the peer's (redis-py: mget_nonatomic)
MGET_TARGETS = (("rpc", 20.0, "redis-py-cluster's"),
                ("redispy", 3.0, "redis-py's (mget_nonatomic)"))


def _rb_key(tag):
    return "%s{%s}:__rand_int__" % (ARGS.prefix, tag)


# redis-benchmark equivalents: fn(tag, value) -> (extra-args, command-argv, commands per
# request). Keys carry a hash tag that lands on the master redis-benchmark talks to.
RB_SCENARIOS = {
    "set": lambda tag, v: ([], ["SET", _rb_key(tag), v], 1),
    "get": lambda tag, v: ([], ["GET", _rb_key(tag)], 1),
    "pipeline-set": lambda tag, v: (["-P", "1000"], ["SET", _rb_key(tag), v], 1),
    "pipeline-get": lambda tag, v: (["-P", "1000"], ["GET", _rb_key(tag)], 1),
    "mset": lambda tag, v: ([], ["MSET"] + [_rb_key(tag), v] * 100, 100),
    "mget": lambda tag, v: ([], ["MGET"] + [_rb_key(tag)] * 100, 100),
}

# metric -> (label, higher is better, words for peer worse/better than the base)
METRICS = [
    ("ops_per_s", "ops/s (wall)", True, ("slower", "faster")),
    ("cpu_us_per_op", "client CPU us/op", False, ("more CPU", "less CPU")),
    ("sys_us_per_op", "  of which kernel", False, ("more", "less")),
    ("p50_us", "p50 latency us/call", False, ("slower", "faster")),
    ("p99_us", "p99 latency us/call", False, ("slower", "faster")),
    ("ir_per_op", "instructions/op (Ir)", False, ("more", "fewer")),
]

ARGS = None  # parsed options, module-global for the helpers

# ------------------------------------------------------------------ RESP client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
from _resp import Conn, RespError  # noqa: E402  (scripts/_resp.py)


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
        for r in slots:
            h = r[2][0].decode() or host
            self.ranges.append((int(r[0]), int(r[1]), (h, int(r[2][1]))))
        self.masters = sorted(set(m for _, _, m in self.ranges))

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


def impl_cmd(impl):
    return OURS_CMD if impl == "ours" else [PEER_PYTHONS[impl]]


def worker_argv(impl, op, mode, n):
    return impl_cmd(impl) + [WORKER, "--impl", impl, "--op", op, "--mode", mode, "--n", str(n),
                             "--host", ARGS.host, "--port", str(ARGS.port),
                             "--keyspace", str(ARGS.keyspace), "--prefix", ARGS.prefix,
                             "--warmup", str(ARGS.warmup)]


def run_json(argv, env=None, timeout=1800):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env or _env(), timeout=timeout, universal_newlines=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        msg = (p.stderr or p.stdout).strip().splitlines() or ["no output"]
        raise RuntimeError("%s failed (rc=%s): %s" % (" ".join(argv[:4]), p.returncode, msg[-1][-400:]))
    return json.loads(lines[-1])


def probe_ours():
    """Find out whether the interpreter running us imports *our* rediscluster.

    1. `import rediscluster` in-process (what decides); if it gives a RedisCluster, the
       worker runs with the same interpreter and PYTHONPATH set to the directory the
       package was found in.
    2. Otherwise, try the repository root on PYTHONPATH (an in-place build, or an
       editable install whose finder is stale), and say so.
    The worker's probe then checks it is not the original redis-py-cluster.
    Returns (cmd, info) or (None, reason)."""
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
        info = run_json(cmd + [WORKER, "--impl", "ours", "--mode", "probe", "--host", ARGS.host,
                               "--port", str(ARGS.port)], env=_ours_env(), timeout=120)
    except Exception as e:
        return None, (why + "; with %s on PYTHONPATH: %s" % (ROOT, e)) if why else \
            "ours imports but the probe failed: %s" % e
    if why:
        info["info"]["note"] = why + "; used %s on PYTHONPATH instead" % ROOT
    return cmd, info


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


def probe_peer(impl):
    py = PEER_PYTHONS[impl]
    if not os.access(py, os.X_OK):
        return None, "%s missing: run benchmarks/setup_peers.sh" % py
    try:
        return [py], run_json([py, WORKER, "--impl", impl, "--mode", "probe", "--host", ARGS.host,
                               "--port", str(ARGS.port)], timeout=120)
    except Exception as e:
        return None, str(e)


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
    full = ["valgrind", "--tool=callgrind", "-q", "--callgrind-out-file=" + outfile] + argv
    p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       universal_newlines=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("callgrind %s failed: %s" % (" ".join(argv[:5]), p.stderr.strip()[-600:]))
    return callgrind_total(outfile)


# -------------------------------------------------------------- redis-benchmark side


def rb_target():
    """The master redis-benchmark talks to, and a hash tag whose slot it owns.

    A single-connection redis-benchmark cannot follow MOVED, so all its keys must hash
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


def rb_argv(op, n):
    extra, cmd, per = RB_SCENARIOS[op](RB_TAG, ARGS.value)
    calls = max(1, -(-n // per))
    return (["redis-benchmark", "-h", RB_NODE[0], "-p", str(RB_NODE[1]), "-c", "1", "-n",
             str(calls), "-r", str(ARGS.keyspace), "--csv"] + extra + cmd), calls, per


def rb_rate(op, n):
    """One redis-benchmark run; CPU from os.wait4's rusage of exactly that child."""
    argv, calls, per = rb_argv(op, n)
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
    return {"impl": "rb", "op": op, "n": calls * per, "calls": calls, "per_call": per,
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


def measure(impls, scenarios, supported, log):
    res = {op: {} for op in scenarios}
    # 1) rate: repeat, interleaving implementations so load changes hit all of them
    for op in scenarios:
        for rep in range(ARGS.repeat):
            for impl in impls:
                if supported[impl].get(op) is not True:
                    continue
                try:
                    if impl == "rb":
                        r = rb_rate(op, ARGS.n_rb)
                    else:
                        r = run_json(worker_argv(impl, op, "rate", ARGS.n), env=env_for(impl))
                except Exception as e:
                    log("  %s %s rate: ERROR %s" % (impl, op, e))
                    res[op].setdefault(impl, {})["error"] = str(e)
                    continue
                d = res[op].setdefault(impl, {})
                d.setdefault("rate_runs", []).append(r)
                log("  %-8s %-13s rate run %d: %10.0f ops/s %8.2f us CPU/op" % (
                    impl, op, rep + 1, r["ops_per_s"], r["cpu_us_per_op"]))
        for impl, d in res[op].items():
            runs = d.get("rate_runs", [])
            b = best(runs, "ops_per_s", True)
            c = best(runs, "cpu_us_per_op", False)
            if b:
                d["ops_per_s"] = b["ops_per_s"]
                d["cpu_us_per_op"] = c["cpu_us_per_op"]
                d["sys_us_per_op"] = c["sys_s"] * 1e6 / c["n"]
                d["n"] = b["n"]
            if impl == "rb" and b:  # redis-benchmark reports its own latency histogram
                d["p50_us"], d["p99_us"] = b["p50_us"], b["p99_us"]
                d["argv"] = b["argv"]
    # 2) latency pass (workers only), shorter
    for op in scenarios:
        for impl in impls:
            if impl == "rb" or supported[impl].get(op) is not True:
                continue
            try:
                r = run_json(worker_argv(impl, op, "latency", ARGS.n_latency), env=env_for(impl))
            except Exception as e:
                log("  %s %s latency: ERROR %s" % (impl, op, e))
                continue
            d = res[op].setdefault(impl, {})
            d.update(p50_us=r["p50_us"], p99_us=r["p99_us"], latency_unit=r["unit"],
                     latency_n=r["n"])
            log("  %-8s %-13s latency: p50 %8.1f us  p99 %8.1f us (per call)" % (
                impl, op, r["p50_us"], r["p99_us"]))
    # 3) callgrind: two runs per (impl, op), in parallel (Ir counts do not care about load)
    if ARGS.callgrind:
        cg_ops = [op for op in scenarios if ARGS.callgrind_ops == ["all"] or op in ARGS.callgrind_ops]
        tmp = tempfile.mkdtemp(prefix="bench-cg-")
        jobs = []
        for op in cg_ops:
            per = SCENARIOS[op]["per_call"]
            n1, n2 = ARGS.cg_n if per == 1 else ARGS.cg_n_batch
            for impl in impls:
                if supported[impl].get(op) is not True:
                    continue
                for n in (n1, n2):
                    out = os.path.join(tmp, "cg.%s.%s.%d.out" % (impl, op, n))
                    if impl == "rb":
                        argv, _, _ = rb_argv(op, n)
                        env = _env()
                    else:
                        argv = worker_argv(impl, op, "count", n)
                        env = env_for(impl)
                    jobs.append((op, impl, n, argv, out, env))
        log("  callgrind: %d runs, %d at a time (slow: ~10 s of interpreter start-up each)"
            % (len(jobs), ARGS.cg_jobs))
        t0 = time.time()
        with ThreadPoolExecutor(max_workers=ARGS.cg_jobs) as ex:
            futs = [(j, ex.submit(callgrind_run, j[3], j[4], j[5])) for j in jobs]
            totals = {}
            for (op, impl, n, argv, out, env), fu in futs:
                try:
                    totals[(op, impl, n)] = fu.result()
                except Exception as e:
                    log("  callgrind %s %s n=%d: ERROR %s" % (impl, op, n, e))
        for op in cg_ops:
            per = SCENARIOS[op]["per_call"]
            n1, n2 = ARGS.cg_n if per == 1 else ARGS.cg_n_batch
            for impl in impls:
                a, b = totals.get((op, impl, n1)), totals.get((op, impl, n2))
                if a is None or b is None:
                    continue
                # actual command counts (rounded to whole calls)
                c1, c2 = per * -(-n1 // per), per * -(-n2 // per)
                ir = (b - a) / float(c2 - c1)
                res[op].setdefault(impl, {}).update(
                    ir_per_op=ir, callgrind={"n1": c1, "n2": c2, "Ir1": a, "Ir2": b})
                log("  %-8s %-13s callgrind: %10.0f Ir/op  (Ir %d @ %d, %d @ %d)" % (
                    impl, op, ir, a, c1, b, c2))
        log("  callgrind took %.0f s" % (time.time() - t0))
        if not ARGS.keep_callgrind:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("  callgrind out files kept in %s" % tmp)
    return res


# ------------------------------------------------------------------------- report


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


def report(res, impls, scenarios, skipped):
    lines = []
    cols = [i for i in ["ours", "rpc", "redispy", "rb"] if i in impls]
    base = "ours" if "ours" in impls else ("rb" if "rb" in impls else cols[0])
    w = 12
    for op in scenarios:
        per = SCENARIOS[op]["per_call"]
        lines.append("")
        lines.append("== %s  [%s]" % (op, SCENARIOS[op]["title"]))
        lines.append("   %-22s" % "metric" + "".join("%*s" % (w, IMPL_LABEL[c][:w - 1]) for c in cols)
                     + "   relative to %s" % IMPL_LABEL[base])
        for key, label, higher, words in METRICS:
            row = [(c, res[op].get(c, {}).get(key)) for c in cols]
            if all(v is None for _, v in row):
                continue
            base_v = dict(row).get(base)
            lines.append("   %-22s" % label + "".join("%*s" % (w, fmt(v, key)) for _, v in row)
                         + "   " + rel_text(key, higher, words, base, base_v, row))
        notes = []
        for c in cols:
            d = res[op].get(c, {})
            if "error" in d:
                notes.append("%s: error (%s)" % (IMPL_LABEL[c], d["error"][:120]))
            elif c in skipped.get(op, {}):
                notes.append("%s: %s" % (IMPL_LABEL[c], skipped[op][c]))
        if per > 1:
            notes.append("op = one key/command; %d per call; latency is per call" % per)
        for n in notes:
            lines.append("   note: " + n)
    return lines


def targets(res):
    out = []

    def g(op, impl, key):
        return res.get(op, {}).get(impl, {}).get(key)

    for op in TARGET_SCENARIOS:
        if op not in res:
            continue
        O = op.upper()
        rpc_ir, rb_cpu, rb_ops = g(op, "rpc", "ir_per_op"), g(op, "rb", "cpu_us_per_op"), g(op, "rb", "ops_per_s")
        for name, mine, lim, higher, key in [
            ("instructions per %s <= 1/10 of redis-py-cluster's" % O, g(op, "ours", "ir_per_op"),
             rpc_ir / 10.0 if rpc_ir else None, False, "ir_per_op"),
            ("client CPU per %s <= 1.2x redis-benchmark's" % O, g(op, "ours", "cpu_us_per_op"),
             rb_cpu * 1.2 if rb_cpu else None, False, "cpu_us_per_op"),
            ("%s ops/s >= 0.9x redis-benchmark's (1 connection)" % O, g(op, "ours", "ops_per_s"),
             rb_ops * 0.9 if rb_ops else None, True, "ops_per_s"),
        ]:
            unit = {"ir_per_op": "Ir", "cpu_us_per_op": "us", "ops_per_s": "ops/s"}[key]
            cmp_ = ">=" if higher else "<="
            if lim is None:
                status, txt = "N/A", "reference not measured"
            elif mine is None:
                status, txt = "N/A", "ours not measured; needs %s %s %s" % (cmp_, fmt(lim, key), unit)
            else:
                ok = mine >= lim if higher else mine <= lim
                status = "PASS" if ok else "MISS"
                txt = "ours %s %s, needs %s %s" % (fmt(mine, key), unit, cmp_, fmt(lim, key))
            out.append({"target": name, "op": op, "status": status, "ours": mine, "limit": lim,
                        "detail": txt})
    if "mget" in res:
        per = SCENARIOS["mget"]["per_call"]
        ops = g("mget", "ours", "ops_per_s")
        mine = ops / per if ops else None
        for peer, factor, who in MGET_TARGETS:
            ref = g("mget", peer, "ops_per_s")
            lim = ref / per * factor if ref else None
            if lim is None:
                status, txt = "N/A", "reference not measured"
            elif mine is None:
                status, txt = "N/A", "ours not measured; needs >= %s calls/s" % fmt(lim, "ops_per_s")
            else:
                status = "PASS" if mine >= lim else "MISS"
                txt = "ours %s calls/s (%.1fx), needs >= %s calls/s" % (
                    fmt(mine, "ops_per_s"), mine / (lim / factor), fmt(lim, "ops_per_s"))
            out.append({"target": "mget calls/s >= %gx %s" % (factor, who), "op": "mget",
                        "status": status, "ours": mine, "limit": lim, "detail": txt})
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="ours vs redis-py-cluster vs redis-py vs redis-benchmark")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    ap.add_argument("--impls", default="ours,rpc,redispy",
                    help="comma list of ours,rpc,redispy (redis-benchmark runs unless --no-rb)")
    ap.add_argument("--no-rb", action="store_true", help="skip redis-benchmark")
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                    help="comma list of " + ",".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true", help="small n, 1 repeat (make demo)")
    ap.add_argument("--no-callgrind", dest="callgrind", action="store_false")
    ap.add_argument("--callgrind-ops", default=None,
                    help="scenarios measured under callgrind (default set,get; 'all')")
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
                    help="also write the run as DIR/benchmarks.json and its chart as "
                         "DIR/benchmarks.png (make bench: docs/_static, for the manual)")
    a = ap.parse_args(argv)
    q = a.quick
    a.n = a.n or (2000 if q else 20000)
    a.n_rb = a.n_rb or (10000 if q else 100000)
    a.n_latency = a.n_latency or (1000 if q else 5000)
    a.repeat = a.repeat or (1 if q else 3)
    a.cg_n = [int(x) for x in (a.cg_n or ("300,1300" if q else "1000,6000")).split(",")]
    a.cg_n_batch = [int(x) for x in (a.cg_n_batch or ("2000,7000" if q else "2000,12000")).split(",")]
    a.callgrind_ops = (a.callgrind_ops or ("get" if q else "set,get")).split(",")
    a.impls = [i.strip() for i in a.impls.split(",") if i.strip()]
    a.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    for i in a.impls:
        if i not in ("ours", "rpc", "redispy"):
            ap.error("unknown impl %r" % i)
    for s in a.scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r" % s)
    if a.keyspace < 1000:
        ap.error("--keyspace must be >= 1000 (one pipeline batch)")
    if len(a.cg_n) != 2 or a.cg_n[1] <= a.cg_n[0] or len(a.cg_n_batch) != 2 or a.cg_n_batch[1] <= a.cg_n_batch[0]:
        ap.error("callgrind n's: two increasing numbers")
    if a.callgrind and not shutil.which("valgrind"):
        print("valgrind not found: callgrind skipped")
        a.callgrind = False
    return a


def main(argv=None):
    global ARGS, TOPO, RB_NODE, RB_TAG, OURS_CMD
    ARGS = parse_args(argv)
    t_start = time.time()

    def log(s):
        print(s, flush=True)

    TOPO = Topology(ARGS.host, ARGS.port)
    log("cluster: masters %s" % ", ".join("%s:%d" % m for m in TOPO.masters))

    impls, skipped_impl, supported, infos = [], {}, {}, {}
    for impl in ARGS.impls:
        if impl == "ours":
            cmd, info = probe_ours()
            if cmd:
                OURS_CMD = cmd
        else:
            cmd, info = probe_peer(impl)
        if cmd is None:
            skipped_impl[impl] = info
            log("skip %-8s %s" % (impl, info))
            continue
        impls.append(impl)
        infos[impl] = info["info"]
        supported[impl] = info["scenarios"]
        log("use  %-8s %s %s" % (impl, " ".join(cmd), json.dumps(info["info"])))
    if not ARGS.no_rb:
        if shutil.which("redis-benchmark"):
            RB_NODE, RB_TAG = rb_target()
            impls.append("rb")
            supported["rb"] = dict((op, op in RB_SCENARIOS) for op in SCENARIOS)
            v = subprocess.run(["redis-benchmark", "--version"], stdout=subprocess.PIPE,
                               universal_newlines=True).stdout.strip()
            infos["rb"] = {"version": v, "node": "%s:%d" % RB_NODE, "hash_tag": RB_TAG}
            log("use  rb       %s, 1 connection to master %s:%d, keys %s" % (
                v, RB_NODE[0], RB_NODE[1], _rb_key(RB_TAG)))
        else:
            skipped_impl["rb"] = "redis-benchmark not on PATH"
    if not impls:
        log("nothing to measure")
        return 1

    skipped = {}
    for op in ARGS.scenarios:
        for impl in impls:
            s = supported[impl].get(op)
            if s is not True:
                skipped.setdefault(op, {})[impl] = "not supported: %s" % (s or "no equivalent")

    log("settings: n=%d (rate, best of %d), n_rb=%d, latency n=%d, callgrind %s, keyspace %d, prefix %r"
        % (ARGS.n, ARGS.repeat, ARGS.n_rb, ARGS.n_latency,
           ("n=%s/%s batched %s/%s on %s" % (ARGS.cg_n[0], ARGS.cg_n[1], ARGS.cg_n_batch[0],
                                               ARGS.cg_n_batch[1], ",".join(ARGS.callgrind_ops)))
           if ARGS.callgrind else "off", ARGS.keyspace, ARGS.prefix))
    keys = worker_keys() + (rb_keys(RB_TAG) if "rb" in impls else [])
    try:
        populate(TOPO, keys, ARGS.value)  # GET-type scenarios read existing keys
        res = measure(impls, ARGS.scenarios, supported, log)
    finally:
        try:
            removed = cleanup(TOPO, keys)
            log("cleanup: %d keys under %r removed" % (removed, ARGS.prefix))
        except Exception as e:
            log("cleanup FAILED: %s" % e)

    lines = report(res, impls, ARGS.scenarios, skipped)
    tg = targets(res)
    lines.append("")
    lines.append("== targets")
    if not tg:
        lines.append("   (none: the targets are about the set, get and mget scenarios)")
    for t in tg:
        lines.append("   %-4s  %-52s %s" % (t["status"], t["target"], t["detail"]))
    for impl, why in skipped_impl.items():
        lines.append("   (skipped %s: %s)" % (IMPL_LABEL.get(impl, impl), why))
    log("\n".join(lines))

    try:
        la = os.getloadavg()
    except OSError:
        la = None
    doc = {
        "meta": {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
                 "cpus": os.cpu_count(), "loadavg": la, "python": sys.version.split()[0],
                 "machine": machine_info(),
                 "duration_s": round(time.time() - t_start, 1),
                 "settings": {k: getattr(ARGS, k) for k in
                              ("host", "port", "n", "n_rb", "n_latency", "repeat", "cg_n",
                               "cg_n_batch", "callgrind", "callgrind_ops", "keyspace", "value",
                               "warmup", "quick", "prefix")},
                 "impls": infos, "skipped": skipped_impl},
        "results": res, "targets": tg,
    }
    os.makedirs(os.path.dirname(os.path.abspath(ARGS.json)), exist_ok=True)
    with open(ARGS.json, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    log("\nwrote %s (%.0f s)" % (ARGS.json, time.time() - t_start))
    outputs = [(ARGS.json, os.path.join(os.path.dirname(os.path.abspath(ARGS.json)),
                                        "chart.png"))]
    if ARGS.publish and ARGS.quick:
        log("not published to %s: a --quick run is not the manual's figures" % ARGS.publish)
    elif ARGS.publish:
        # The raw results next to the chart the manual shows (docs/benchmarks.rst
        # renders its tables from this JSON).
        os.makedirs(ARGS.publish, exist_ok=True)
        published = os.path.join(ARGS.publish, "benchmarks.json")
        shutil.copyfile(ARGS.json, published)
        log("wrote %s" % published)
        outputs.append((published, os.path.join(ARGS.publish, "benchmarks.png")))
    try:  # benchmarks/chart.py: a PNG next to the JSON when matplotlib is installed
        sys.path.insert(0, HERE)
        import chart
        for json_path, png_path in outputs:
            chart.write_chart(json_path, png_path, log=log)
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
