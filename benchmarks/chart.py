#!/usr/bin/env python3
"""Bar charts of a compare.py run, two PNGs:

    STEM.png              the sync section: ops/s and client CPU us/op per scenario,
                          for ours, redis-py-cluster, redis-py, valkey-glide-sync and
                          redis-benchmark
    STEM-concurrency.png  the gevent, threads and async sections: ops/s per row

    python benchmarks/chart.py [results.json] [out-dir] [stem]

Defaults: benchmarks/results/latest.json -> benchmarks/results/chart.png and
chart-concurrency.png. Needs matplotlib (the optional `bench` extra: pip install
'.[bench]'); without it, prints one line saying so and writes nothing. compare.py
calls write_charts() at the end of a run.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
DEFAULT_JSON = os.path.join(RESULTS, "latest.json")

# implementation -> (legend label, colour), in bar order
IMPLS = [
    ("ours", "rediscluster (ours)", "#d62728"),
    ("rpc", "redis-py-cluster 2.1.3", "#1f77b4"),
    ("redispy", "redis-py", "#2ca02c"),
    ("glide", "valkey-glide", "#9467bd"),
    ("rb", "redis-benchmark (C, 1 node)", "#7f7f7f"),
]
IO_WORDS = {"gevent": "both monkey-patched", "sync": "", "asyncio": "asyncio clients"}


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


def section_order(doc):
    meta = doc.get("meta") or {}
    order = meta.get("section_order") or list((doc.get("results") or {}).keys())
    return [s for s in order if s in (doc.get("results") or {})]


def rows_of(doc, section):
    """Row names of a section, in the run's order."""
    desc = ((doc.get("meta") or {}).get("sections") or {}).get(section) or {}
    names = [r["name"] for r in desc.get("rows") or []]
    res = (doc.get("results") or {}).get(section) or {}
    return [n for n in names if n in res] + sorted(set(res) - set(names))


def _bars(ax, res, rows, impls, key, log_scale, label_size=10):
    """Grouped bars (one group per row, one bar per implementation), each labelled
    with its value. Returns the (impl, label, colour) actually drawn."""
    drawn = []
    width = 0.8 / max(1, len(impls))
    for k, (impl, label, colour) in enumerate(impls):
        xs, ys = [], []
        for x, r in enumerate(rows):
            v = ((res.get(r) or {}).get(impl) or {}).get(key)
            if v:
                xs.append(x - 0.4 + width * (k + 0.5))
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=label, color=colour)
        drawn.append((impl, label, colour))
        for bar, v in zip(bars, ys):
            ax.annotate(_fmt(v), (bar.get_x() + bar.get_width() / 2, v),
                        xytext=(0, 3), textcoords="offset points", rotation=90,
                        ha="center", va="bottom", fontsize=label_size, clip_on=False)
    heights = [b.get_height() for c in ax.containers for b in c if b.get_height() > 0]
    if heights:
        if log_scale:
            ax.set_yscale("log")
            # Room above the tallest bar for its (vertical) label: on a log axis, a
            # factor, not a margin (matplotlib's margins cut "1.8M" off at the frame).
            ax.set_ylim(min(heights) / 3, max(heights) * 8)
        else:
            ax.set_ylim(0, max(heights) * 1.35)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows, fontsize=12)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.tick_params(axis="y", labelsize=11)
    ax.grid(axis="y", which="major", alpha=0.3)
    return drawn


def _columns(doc, section):
    desc = ((doc.get("meta") or {}).get("sections") or {}).get(section) or {}
    cols = desc.get("columns")
    res = (doc.get("results") or {}).get(section) or {}
    if cols is None:
        cols = sorted(set(i for r in res.values() for i in r))
    return [i for i in IMPLS if i[0] in cols]


def _skipped_text(doc, section):
    """'ours: <why>' for columns of the section with no figure at all."""
    res = (doc.get("results") or {}).get(section) or {}
    out = []
    for impl, label, _c in _columns(doc, section):
        cells = [r.get(impl) or {} for r in res.values()]
        if cells and not any("ops_per_s" in c for c in cells):
            why = next((c.get("skipped") or c.get("error") for c in cells
                        if c.get("skipped") or c.get("error")), "not measured")
            out.append("%s: %s" % (label, why.split(":")[0]))
    return out


def _goals_text(doc, section, width=100):
    """'goals: GET >= 1.5x the original's: PASS; ...', wrapped to `width` columns."""
    import textwrap
    parts = []
    for t in doc.get("targets") or []:
        if t.get("section") == section and t.get("issue"):
            name = t["target"].split(": ", 1)[-1].replace(">=", "\u2265")
            parts.append("%s: %s" % (name, t["status"]))
    return "\n".join(textwrap.wrap("goals: " + "; ".join(parts), width)) if parts else ""


def _stall_text(doc):
    """The gevent section's longest hub stalls, per implementation and row."""
    res = (doc.get("results") or {}).get("gevent") or {}
    rows = rows_of(doc, "gevent")
    out = []
    for impl, label, _c in _columns(doc, "gevent"):
        vals = [((res.get(r) or {}).get(impl) or {}).get("hub_stall_ms") for r in rows]
        if any(v is not None for v in vals):
            out.append("%s %s" % (label.split(" (")[0], " / ".join(
                "-" if v is None else "%.3g" % v for v in vals)))
    return ("longest hub stall, ms (%s): " % " / ".join(rows) + "; ".join(out)) if out else ""


def _title(meta, what):
    return "rediscluster benchmarks, %s: %s, Python %s, %s CPUs" % (
        what, meta.get("time", "?")[:16].replace("T", " "), meta.get("python", "?"),
        meta.get("cpus", "?"))


def sync_chart(doc, png_path, plt, dpi=150):
    res = (doc.get("results") or {}).get("sync") or {}
    rows = rows_of(doc, "sync")
    impls = [i for i in _columns(doc, "sync")
             if any("ops_per_s" in ((res.get(r) or {}).get(i[0]) or {}) for r in rows)]
    if not rows or not impls:
        return None
    # Drawn to be read at full size (1650 x 1350 px) and still legible when the
    # manual shows it at its column width (736 px; it links to the full size).
    fig, axes = plt.subplots(2, 1, figsize=(11, 9))
    for ax, (key, title, ylabel, higher) in zip(axes, [
            ("ops_per_s", "Throughput (log scale)", "ops/s (wall clock)", True),
            ("cpu_us_per_op", "Client CPU per op (log scale)", "client CPU \u00b5s/op", False)]):
        _bars(ax, res, rows, impls, key, True)
        ax.set_title("%s \u2014 %s is better" % (title, "higher" if higher else "lower"),
                     fontsize=14)
        ax.set_ylabel(ylabel, fontsize=12)
    meta = doc.get("meta") or {}
    fig.suptitle(_title(meta, "one thread"), fontsize=15)
    fig.text(0.5, 0.008, "op = one command (one key of MSET/MGET); pipelines: 1000 commands per "
             "call (glide: non-atomic batch; redis-benchmark -P 1000);\nmset/mget: 100 keys in "
             "100 slots per call; redis-benchmark talks to one master over one connection;\n"
             "valkey-glide: its sync client (valkey-glide-sync)",
             ha="center", fontsize=10, color="#444444")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.955),
               ncol=len(impls), fontsize=11, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 0.92))
    fig.savefig(png_path, dpi=dpi)
    plt.close(fig)
    return png_path


PANELS = {  # section -> (panel title, log scale)
    "gevent": ("Under gevent, ours and the original both monkey-patched", True),
    "threads": ("Threads sharing one client, GET (aggregate; linear scale)", False),
    "async": ("asyncio clients", True),
}


def concurrency_chart(doc, png_path, plt, dpi=150):
    sections = [s for s in section_order(doc) if s in PANELS]
    if not sections:
        return None
    fig, axes = plt.subplots(len(sections), 1, figsize=(11, 3.9 * len(sections) + 1.2),
                             squeeze=False)
    seen = {}
    for ax, section in zip(axes[:, 0], sections):
        res = (doc.get("results") or {}).get(section) or {}
        rows = rows_of(doc, section)
        impls = _columns(doc, section)
        for impl in _bars(ax, res, rows, impls, "ops_per_s", PANELS[section][1]):
            seen[impl[0]] = impl
        title = PANELS[section][0] + " \u2014 ops/s, higher is better"
        goals = _goals_text(doc, section)
        ax.set_title(title + ("\n" + goals if goals else ""), fontsize=12)
        ax.set_ylabel("ops/s (wall clock)", fontsize=12)
        notes = ["no bars for " + s for s in _skipped_text(doc, section)]
        if section == "gevent" and _stall_text(doc):
            notes.append(_stall_text(doc))
        if notes:
            ax.text(0.01, 0.97, "\n".join(notes), transform=ax.transAxes, ha="left",
                    va="top", fontsize=10, color="#444444")
    meta = doc.get("meta") or {}
    fig.suptitle(_title(meta, "concurrency"), fontsize=15)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for i, _l, c in IMPLS if i in seen]
    labels = [l for i, l, _c in IMPLS if i in seen]
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.5 / fig.get_figheight()),
               ncol=len(labels), fontsize=11, frameon=False)
    fig.text(0.5, 0.006, "op = one GET; pipelines: 1000 GETs per call, mget: 100 keys in 100 "
             "slots per call; redis-benchmark: -c N connections to one master;\nhub stall: the "
             "longest a greenlet sleeping 2 ms woke up late (a client that does not yield "
             "to the hub stalls all other greenlets)",
             ha="center", fontsize=10, color="#444444")
    fig.tight_layout(rect=(0, 0.45 / fig.get_figheight(), 1, 1 - 0.85 / fig.get_figheight()))
    fig.savefig(png_path, dpi=dpi)
    plt.close(fig)
    return png_path


def write_charts(json_path=DEFAULT_JSON, out_dir=RESULTS, stem="chart", log=print, dpi=150):
    """Write STEM.png and STEM-concurrency.png into out_dir; returns the paths
    written, or [] (with one line logged) when matplotlib is missing or the results
    hold nothing to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("chart: matplotlib is not installed, no charts in %s (pip install '.[bench]')"
            % out_dir)
        return []
    with open(json_path) as f:
        doc = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for fn, name in ((sync_chart, stem + ".png"),
                     (concurrency_chart, stem + "-concurrency.png")):
        path = fn(doc, os.path.join(out_dir, name), plt, dpi)
        if path:
            log("chart: wrote %s" % path)
            written.append(path)
    if not written:
        log("chart: nothing to draw in %s" % json_path)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    json_path = argv[0] if argv else DEFAULT_JSON
    out_dir = argv[1] if len(argv) > 1 else RESULTS
    stem = argv[2] if len(argv) > 2 else "chart"
    write_charts(json_path, out_dir, stem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
