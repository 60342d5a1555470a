#!/usr/bin/env python3
"""Bar charts of a compare.py run: ops/s and client CPU us/op per scenario, for
rediscluster (ours), redis-py-cluster, redis-py and redis-benchmark.

    python benchmarks/chart.py [results.json] [chart.png]

Defaults: benchmarks/results/latest.json -> benchmarks/results/chart.png.
Needs matplotlib (the optional `bench` extra: pip install '.[bench]'); without
it, prints one line saying so and writes nothing. compare.py calls write_chart()
at the end of a run.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
DEFAULT_JSON = os.path.join(RESULTS, "latest.json")
DEFAULT_PNG = os.path.join(RESULTS, "chart.png")

# implementation -> (legend label, colour), in bar order
IMPLS = [
    ("ours", "rediscluster (ours)", "#d62728"),
    ("rpc", "redis-py-cluster 2.1.3", "#1f77b4"),
    ("redispy", "redis-py RedisCluster", "#2ca02c"),
    ("rb", "redis-benchmark (C, 1 node)", "#7f7f7f"),
]
# metric -> (panel title, y label, higher is better)
METRICS = [
    ("ops_per_s", "Throughput (log scale)", "ops/s (wall clock)", True),
    ("cpu_us_per_op", "Client CPU per op (log scale)", "client CPU \u00b5s/op", False),
]
SCENARIO_ORDER = ["set", "get", "pipeline-set", "pipeline-get", "mset", "mget"]


def _fmt(v):
    if v >= 1e6:
        return "%.1fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    if v >= 10:
        return "%.0f" % v
    return "%.2g" % v


def write_chart(json_path=DEFAULT_JSON, png_path=DEFAULT_PNG, log=print):
    """Write the PNG; returns its path, or None (with one line logged) when
    matplotlib is missing or the results hold nothing to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("chart: matplotlib is not installed, no %s (pip install '.[bench]')"
            % png_path)
        return None
    with open(json_path) as f:
        doc = json.load(f)
    res = doc.get("results") or {}
    scenarios = [s for s in SCENARIO_ORDER if s in res] + sorted(set(res) - set(SCENARIO_ORDER))
    impls = [i for i in IMPLS if any(i[0] in res[s] for s in scenarios)]
    if not scenarios or not impls:
        log("chart: nothing to draw in %s" % json_path)
        return None

    fig, axes = plt.subplots(2, 1, figsize=(12, 9))
    width = 0.8 / len(impls)
    for ax, (key, title, ylabel, higher) in zip(axes, METRICS):
        for k, (impl, label, colour) in enumerate(impls):
            xs, ys = [], []
            for x, s in enumerate(scenarios):
                v = (res[s].get(impl) or {}).get(key)
                if v:
                    xs.append(x - 0.4 + width * (k + 0.5))
                    ys.append(v)
            bars = ax.bar(xs, ys, width, label=label, color=colour)
            for bar, v in zip(bars, ys):
                ax.annotate(_fmt(v), (bar.get_x() + bar.get_width() / 2, v),
                            xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7)
        ax.set_yscale("log")
        ax.set_title("%s \u2014 %s is better" % (title, "higher" if higher else "lower"))
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(len(scenarios)))
        ax.set_xticklabels(scenarios)
        ax.grid(axis="y", which="major", alpha=0.3)
        ax.margins(y=0.15)
    axes[0].legend(loc="upper left", fontsize=9, ncol=len(impls))
    meta = doc.get("meta") or {}
    fig.suptitle("rediscluster benchmarks (benchmarks/compare.py, %s, Python %s, %s CPUs)" % (
        meta.get("time", "?"), meta.get("python", "?"), meta.get("cpus", "?")))
    fig.text(0.5, 0.005, "op = one command (one key of MSET/MGET); pipeline = 1000 commands per call, "
             "mset/mget = 100 keys per call; redis-benchmark talks to one master over one connection",
             ha="center", fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    log("chart: wrote %s" % png_path)
    return png_path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    json_path = argv[0] if argv else DEFAULT_JSON
    png_path = argv[1] if len(argv) > 1 else DEFAULT_PNG
    write_chart(json_path, png_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
