"""``.. rc-benchmark-results:: _static/benchmarks.json``: the benchmark page's figures.

``make bench`` runs ``benchmarks/compare.py --publish docs/_static``, which writes
the run's raw results (``benchmarks.json``) and its charts (``benchmarks.png``,
``benchmarks-concurrency.png``) there. This directive renders, from that file
only, the run's setting (date, machine, CPU model, load, versions, repetitions),
then one part per section of the run (one thread; under gevent; threads; asyncio)
with its chart, its tables and its goals with their status; the figures on the
page are therefore always those of the committed file. While the file does not
exist, the directive's content is shown instead.

The functions that turn the JSON into reST lines (``results_lines``) do not need
Sphinx, so the unit tests call them directly.
"""

import json
import os

IMPL_NAMES = {"ours": "ours", "rpc": "redis-py-cluster 2.1.3", "redispy": "redis-py",
              "glide": "valkey-glide", "rb": "redis-benchmark"}
SECTION_ORDER = ["sync", "gevent", "threads", "async"]
SECTION_HEADINGS = {
    "sync": "One thread: sequential and batched commands",
    "gevent": "Under gevent",
    "threads": "Threads sharing one client",
    "async": "asyncio clients",
}
IO_IMPL_NAMES = {  # the column headings per section, where they differ
    "gevent": {"ours": "ours (gevent)", "rpc": "redis-py-cluster 2.1.3 (gevent)"},
    "threads": {"glide": "valkey-glide-sync"},
    "sync": {"glide": "valkey-glide-sync"},
    "async": {"ours": "ours (asyncio)", "redispy": "redis-py (asyncio)",
              "glide": "valkey-glide (asyncio)"},
}


def num(v):
    """A figure for a table cell: thousands separated, 3 significant digits below 100."""
    if v is None:
        return "–"
    if v >= 100:
        return "{:,.0f}".format(v)
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def redis_version(text):
    """'Redis server v=7.0.15 sha=...' -> 'Redis 7.0.15'."""
    for word in (text or "").split():
        if word.startswith("v="):
            return "Redis " + word[2:]
    return text or "Redis (version not recorded)"


def _version(info):
    v = str(info.get("version", "?"))
    if info.get("redis"):
        v += " with redis %s" % info["redis"]
    if info.get("hiredis"):
        v += " and hiredis"
    return v


# (io, impl, name) in the order the software line lists them; an implementation
# measured under several io's is named once
SOFTWARE = [("sync", "ours", "ours"), ("gevent", "ours", "ours"),
            ("sync", "rpc", "redis-py-cluster"), ("gevent", "rpc", "redis-py-cluster"),
            ("sync", "redispy", "redis-py"), ("asyncio", "redispy", "redis-py"),
            ("sync", "glide", "valkey-glide-sync"), ("asyncio", "glide", "valkey-glide")]


def _software(meta, machine):
    infos = meta.get("impls") or {}
    parts = ["Python %s" % meta.get("python", "?"), redis_version(machine.get("redis_server"))]
    seen = set()
    for io, impl, name in SOFTWARE:
        info = (infos.get(io) or {}).get(impl)
        if info and name not in seen:
            seen.add(name)
            parts.append("%s %s" % (name, _version(info)))
    gevent = sorted(set(i["gevent"] for by_impl in infos.values() for i in by_impl.values()
                        if isinstance(i, dict) and i.get("gevent")))
    if gevent:
        parts.append("gevent %s" % ", ".join(gevent))
    rb = (infos.get("rb") or {}).get("rb") or {}
    if rb:
        parts.append(rb.get("version", "redis-benchmark"))
    return "; ".join(parts)


def _table(caption, header, rows, widths=None):
    lines = [".. list-table:: %s" % caption, "   :header-rows: 1", "   :class: rc-figures"]
    if widths:
        lines.append("   :widths: %s" % " ".join(str(w) for w in widths))
    lines += ["", "   * - %s" % header[0]]
    lines += ["     - %s" % h for h in header[1:]]
    for r in rows:
        lines.append("   * - %s" % r[0])
        lines += ["     - %s" % c for c in r[1:]]
    lines.append("")
    return lines


def _cell(res, row, impl, key):
    return ((res.get(row) or {}).get(impl) or {}).get(key)


def _row_label(desc):
    return "``%s``" % desc["name"]


def _goal_lines(doc, section):
    out = []
    for t in doc.get("targets") or []:
        if t.get("section") != section:
            continue
        issue = " (issue %s)" % t["issue"] if t.get("issue") else ""
        out.append("* **%s** %s%s: %s." % (t["status"], t["target"].replace(">=", "≥")
                                           .replace("<=", "≤"), issue,
                                           t["detail"].replace(">=", "≥").replace("<=", "≤")))
    if out:
        out = ["Goals, as measured in this run:", ""] + out + [""]
    return out


def _notes(res, cols, names):
    """One line per column with no figure in any row: why (skipped, error)."""
    out = []
    for c in cols:
        cells = [r.get(c) or {} for r in res.values()]
        if cells and not any("ops_per_s" in x for x in cells):
            why = next((x.get("skipped") or x.get("error") for x in cells
                        if x.get("skipped") or x.get("error")), "not measured")
            out.append("* %s: no figures: %s" % (names.get(c, c), why.rstrip(".")))
    return out + [""] if out else []


def section_lines(doc, section, png_dir):
    """reST for one section of the run."""
    meta, allres = doc.get("meta") or {}, doc.get("results") or {}
    desc = ((meta.get("sections") or {}).get(section)) or {}
    res = allres.get(section) or {}
    rows = [r for r in desc.get("rows") or [] if r["name"] in res]
    cols = desc.get("columns") or sorted(set(i for r in res.values() for i in r))
    names = dict(IMPL_NAMES, **IO_IMPL_NAMES.get(section, {}))
    lines = [".. rubric:: %s" % SECTION_HEADINGS.get(section, desc.get("title", section)), ""]
    if desc.get("doc"):
        lines += [desc["doc"], ""]
    for n in desc.get("notes") or []:
        if "skipped" not in n:
            lines += ["Note: %s." % n.rstrip("."), ""]
    if section == "sync":
        lines += [".. image:: %s/benchmarks.png" % png_dir,
                  "   :target: %s/benchmarks.png" % png_dir, "   :width: 100%",
                  "   :alt: ops/s and client CPU per command of each client, per scenario", "",
                  "The chart at full size: click it. Per **command**: a 1000-command pipeline "
                  "counts 1000, an ``mget`` of 100 keys counts 100.", ""]
        for caption, key in [("commands per second (wall clock, best run)", "ops_per_s"),
                             ("client CPU per command, µs", "cpu_us_per_op"),
                             ("user-space instructions per command (callgrind)", "ir_per_op")]:
            body = [[_row_label(r)] + [num(_cell(res, r["name"], c, key)) for c in cols]
                    for r in rows if any(_cell(res, r["name"], c, key) is not None for c in cols)]
            if body:
                lines += _table(caption, ["scenario"] + [names.get(c, c) for c in cols], body)
    else:
        body = []
        for r in rows:
            body.append([_row_label(r)] + [num(_cell(res, r["name"], c, "ops_per_s"))
                                           for c in cols])
        header = ["row"] + [names.get(c, c) for c in cols]
        if "rb" in cols:
            header[-1] = "redis-benchmark -c N"
        lines += _table("commands per second (wall clock, best run)", header, body)
        for caption, key in [("client CPU per command, µs", "cpu_us_per_op"),
                             ("longest hub stall, ms (lower is better)", "hub_stall_ms"),
                             ("user-space instructions per command (callgrind)", "ir_per_op")]:
            body = [[_row_label(r)] + [num(_cell(res, r["name"], c, key)) for c in cols]
                    for r in rows if any(_cell(res, r["name"], c, key) is not None for c in cols)]
            if body:
                lines += _table(caption, header, body)
        lines += [
            "What each row runs: %s." % "; ".join(
                "``%s``: %s" % (r["name"], r["title"]) for r in rows), ""]
    lines += _notes(res, cols, names)
    lines += _goal_lines(doc, section)
    return lines


def results_lines(doc, rel):
    """The whole reST for a run (rel: the JSON's path as the directive names it)."""
    meta = doc.get("meta") or {}
    machine = meta.get("machine") or {}
    settings = meta.get("settings") or {}
    png_dir = os.path.dirname(rel) or "."
    la = meta.get("loadavg")
    load = (" Load average at the end of the run: %s (1, 5, 15 min)."
            % ", ".join("%.2f" % x for x in la)) if la else ""
    dur = meta.get("duration_s")
    order = meta.get("section_order") or [s for s in SECTION_ORDER
                                          if s in (doc.get("results") or {})]
    lines = [
        "Run of %s%s." % (meta.get("time", "?").replace("T", " "),
                          (", %.0f minutes" % (dur / 60.0)) if dur else ""),
        "",
        "* Machine: %s; %s CPUs, %s GiB of memory; %s. The six Redis nodes and the "
        "client share the machine.%s" % (machine.get("cpu_model", "CPU model not recorded"),
                                         machine.get("cpus", meta.get("cpus", "?")),
                                         machine.get("memory_gib", "?"),
                                         machine.get("platform", "?"), load),
        "* Software: %s." % _software(meta, machine),
        "* Runs: each figure is the best of %s runs of %s commands (redis-benchmark: %s), "
        "the implementations' runs interleaved; latency from a separate pass of %s "
        "commands; instructions from callgrind (n = %s)." % (
            settings.get("repeat", "?"), settings.get("n", "?"), settings.get("n_rb", "?"),
            settings.get("n_latency", "?"),
            "/".join(str(x) for x in settings.get("cg_n") or []) or "off"),
        "* Raw results: :download:`benchmarks.json <%s>` (every run, the settings, the "
        "versions, the server CPU per command)." % rel,
        "",
    ]
    for s in order:
        lines += section_lines(doc, s, png_dir)
        if s == "sync" and any(x in order for x in ("gevent", "threads", "async")):
            lines += [".. image:: %s/benchmarks-concurrency.png" % png_dir,
                      "   :target: %s/benchmarks-concurrency.png" % png_dir,
                      "   :width: 100%",
                      "   :alt: ops/s under gevent, with threads and of the asyncio clients",
                      "", "The chart of the three parts below, at full size: click it.", ""]
    return lines


try:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
except ImportError:  # the unit tests import this module without Sphinx
    SphinxDirective = object


class BenchmarkResults(SphinxDirective):
    required_arguments = 1
    has_content = True

    def _parse(self, lines):
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="rc_bench"), self.content_offset,
                                container)
        return container.children

    def run(self):
        rel = self.arguments[0]
        path = os.path.join(os.path.dirname(self.env.doc2path(self.env.docname)), rel)
        self.env.note_dependency(os.path.abspath(path))
        if not os.path.exists(path):
            return self._parse(list(self.content))
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return self._parse(results_lines(doc, rel))


def setup(app):
    app.add_directive("rc-benchmark-results", BenchmarkResults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
