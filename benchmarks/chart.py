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

    # Drawn to be read at full size (1650 x 1350 px) and still legible when the
    # manual shows it at its column width (736 px; it links to the full size).
    fig, axes = plt.subplots(2, 1, figsize=(11, 9))
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
                            xytext=(0, 3), textcoords="offset points", rotation=90,
                            ha="center", va="bottom", fontsize=10, clip_on=False)
        ax.set_yscale("log")
        # Room above the tallest bar for its (vertical) label: on a log axis, a
        # factor, not a margin (matplotlib's margins cut "1.8M" off at the frame).
        top = max(b.get_height() for c in ax.containers for b in c)
        low = min(b.get_height() for c in ax.containers for b in c if b.get_height() > 0)
        ax.set_ylim(low / 3, top * 8)
        ax.set_title("%s \u2014 %s is better" % (title, "higher" if higher else "lower"),
                     fontsize=14)
        ax.set_ylabel(ylabel, fontsize=12)
        ax.set_xticks(range(len(scenarios)))
        ax.set_xticklabels(scenarios, fontsize=12)
        ax.tick_params(axis="y", labelsize=11)
        ax.grid(axis="y", which="major", alpha=0.3)

    meta = doc.get("meta") or {}
    fig.suptitle("rediscluster benchmarks: %s, Python %s, %s CPUs" % (
        meta.get("time", "?")[:16].replace("T", " "), meta.get("python", "?"),
        meta.get("cpus", "?")), fontsize=15)
    fig.text(0.5, 0.008, "op = one command (one key of MSET/MGET); pipelines: 1000 commands per "
             "call (redis-benchmark -P 1000);\nmset/mget: 100 keys per call; redis-benchmark "
             "talks to one master over one connection", ha="center", fontsize=10,
             color="#444444")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.955),
               ncol=len(impls), fontsize=11, frameon=False)
    fig.tight_layout(rect=(0, 0.045, 1, 0.92))
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    fig.savefig(png_path, dpi=150)
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
