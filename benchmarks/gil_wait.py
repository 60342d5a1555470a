#!/usr/bin/env python3
"""How long threads sharing one client wait for the GIL: uprobes on CPython's
take_gil (entry and return) while _worker.py runs N threads doing GETs.

    sudo .venv/bin/python benchmarks/gil_wait.py                 # ours, 1/4/16 threads
    sudo .venv/bin/python benchmarks/gil_wait.py --threads 16 --impl rpc \
        --python benchmarks/.venv-rpc/bin/python

Needs Linux `perf` with uprobes (root, or perf_event_paranoid <= 1 and access to
tracefs) and a CPython whose take_gil symbol perf can find (a pyenv or distribution
build; an interpreter without symbols is reported). The probes are added before and
removed after the run. Prints, per thread count: ops/s, take_gil calls per command,
and the wait per call (mean, p50, p90, p99) and in all (thread-seconds per second of
run: 1.0 means one thread waiting for the GIL at every moment). The uprobes slow each
GIL acquisition down by a few microseconds, so compare runs with each other, not with
compare.py's figures. GETs of keys that need not exist (bench:gil:*): the GIL is taken
the same way for a nil reply.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP = "rc_gil_wait"


def libpython(python):
    """The file holding take_gil for `python`: its shared libpython, or the binary."""
    code = ("import sysconfig, os, sys; d = sysconfig.get_config_var('LIBDIR') or ''; "
            "l = sysconfig.get_config_var('LDLIBRARY') or ''; p = os.path.join(d, l); "
            "print(p if l.endswith('.so') or '.so.' in l and os.path.exists(p) else "
            "os.path.realpath(sys.executable))")
    return subprocess.run([python, "-c", code], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.strip()


def perf(*args, **kw):
    return subprocess.run(["perf"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, **kw)


def waits_from_script(text):
    """take_gil wait durations (s) from `perf script -F tid,time,event` output."""
    start, waits = {}, []
    first = last = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        tid, t, ev = int(parts[0]), float(parts[1].rstrip(":")), parts[2]
        first = t if first is None else first
        last = t
        if ev.endswith("__return:"):
            if tid in start:
                waits.append(t - start.pop(tid))
        elif ev.endswith("take_gil:"):
            start[tid] = t
    return waits, (last - first) if first is not None else 0.0


def summary(waits, span):
    waits = sorted(waits)
    n = len(waits)
    if not n:
        return {"calls": 0}
    pick = lambda q: waits[min(n - 1, int(n * q))] * 1e6  # noqa: E731
    return {"calls": n, "mean_us": sum(waits) / n * 1e6, "p50_us": pick(0.5),
            "p90_us": pick(0.9), "p99_us": pick(0.99),
            "waiting_threads": sum(waits) / span if span else None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter running the worker")
    ap.add_argument("--impl", default="ours")
    ap.add_argument("--threads", default="1,4,16")
    ap.add_argument("--n", type=int, default=40000)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7000)
    a = ap.parse_args(argv)
    if not shutil.which("perf"):
        print("gil_wait: perf not found")
        return 1
    lib = libpython(a.python)
    perf("probe", "-q", "-d", GROUP + ":*")
    p = perf("probe", "-x", lib, "-a", "%s:take_gil=take_gil" % GROUP,
             "-a", "%s:take_gil_ret=take_gil%%return" % GROUP)  # perf adds __return
    if p.returncode != 0:
        print("gil_wait: cannot probe take_gil in %s: %s" % (lib, p.stderr.strip()[-300:]))
        return 1
    tmp = tempfile.mkdtemp(prefix="gil-wait-")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE)) if a.impl == "ours" else None
    try:
        for t in [int(x) for x in a.threads.split(",") if x.strip()]:
            data = os.path.join(tmp, "perf.%d.data" % t)
            run = perf("record", "-q", "-o", data, "-e", GROUP + ":take_gil",
                       "-e", GROUP + ":take_gil_ret__return", "--", a.python,
                       os.path.join(HERE, "_worker.py"), "--impl", a.impl, "--op", "get",
                       "--n", str(a.n), "--concurrency", str(t), "--prefix", "bench:gil:",
                       "--host", a.host, "--port", str(a.port), env=env)
            lines = [l for l in run.stdout.splitlines() if l.startswith("{")]
            if run.returncode != 0 or not lines:
                print("gil_wait: %d threads failed: %s" % (t, (run.stderr or run.stdout)[-400:]))
                continue
            out = json.loads(lines[-1])
            script = perf("script", "-i", data, "-F", "tid,time,event").stdout
            s = summary(*waits_from_script(script))
            if not s["calls"]:
                print("%2d threads: no take_gil events recorded" % t)
                continue
            print("%2d threads: %8.0f GET/s; take_gil %.2f per GET; wait per call mean %.1f us, "
                  "p50 %.1f, p90 %.1f, p99 %.1f; threads waiting for the GIL on average: %.2f" % (
                      t, out["ops_per_s"], s["calls"] / float(a.n + 500), s["mean_us"], s["p50_us"],
                      s["p90_us"], s["p99_us"], s["waiting_threads"] or 0.0))
    finally:
        perf("probe", "-q", "-d", GROUP + ":*")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
