"""``.. rc-benchmark-results:: _static/benchmarks.json``: the benchmark page's figures.

``make bench`` runs ``benchmarks/compare.py --publish docs/_static``, which writes
the run's raw results (``benchmarks.json``) and its chart (``benchmarks.png``)
there. This directive renders, from that file only, the run's setting (date,
machine, CPU model, versions, pipeline depths, repetitions), the chart linked
at full size, and the tables; the figures on the page are therefore always
those of the committed file. While the file does not exist, the directive's
content is shown instead.
"""

import json
import os

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

IMPLS = [("ours", "ours"), ("rpc", "redis-py-cluster 2.1.3"), ("redispy", "redis-py"),
         ("rb", "redis-benchmark")]
SCENARIOS = ["set", "get", "pipeline-set", "pipeline-get", "mset", "mget"]


def _num(v, digits=0):
    if v is None:
        return "–"
    if digits == 0 and v >= 100:
        return "{:,.0f}".format(v)
    if v >= 100:
        return "{:,.0f}".format(v)
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _redis_version(text):
    """'Redis server v=7.0.15 sha=...' -> 'Redis 7.0.15'."""
    for word in (text or "").split():
        if word.startswith("v="):
            return "Redis " + word[2:]
    return text or "Redis (version not recorded)"


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
        meta, res = doc.get("meta") or {}, doc.get("results") or {}
        machine = meta.get("machine") or {}
        settings = meta.get("settings") or {}
        infos = meta.get("impls") or {}
        impls = [(k, label) for k, label in IMPLS if any(k in res.get(s, {}) for s in res)]
        scenarios = [s for s in SCENARIOS if s in res] + sorted(set(res) - set(SCENARIOS))

        def version(k):
            i = infos.get(k) or {}
            v = str(i.get("version", "?"))
            if k == "rpc" and i.get("redis"):
                v += " with redis %s" % i["redis"]
            if i.get("hiredis"):
                v += " and hiredis"
            return v

        rb_depth = ""
        for s in ("pipeline-set", "pipeline-get"):
            argv = ((res.get(s) or {}).get("rb") or {}).get("argv", "")
            if " -P " in argv:
                rb_depth = argv.split(" -P ")[1].split()[0]
        png = rel[:-len(".json")] + ".png"
        lines = [
            "Run of %s." % meta.get("time", "?").replace("T", " "),
            "",
            "* Machine: %s; %s CPUs, %s GiB of memory; %s. The six Redis nodes and the "
            "client share the machine." % (machine.get("cpu_model", "CPU model not recorded"),
                                           machine.get("cpus", meta.get("cpus", "?")),
                                           machine.get("memory_gib", "?"),
                                           machine.get("platform", "?")),
            "* Software: Python %s; %s; ours %s; redis-py-cluster %s; redis-py %s; %s." % (
                meta.get("python", "?"), _redis_version(machine.get("redis_server")),
                version("ours"), version("rpc"), version("redispy"),
                (infos.get("rb") or {}).get("version", "redis-benchmark ?")),
            "* Runs: each figure is the best of %s runs of %s commands (redis-benchmark: %s), "
            "the implementations' runs interleaved; latency from a separate pass of %s "
            "commands; instructions from callgrind (n = %s)." % (
                settings.get("repeat", "?"), settings.get("n", "?"), settings.get("n_rb", "?"),
                settings.get("n_latency", "?"),
                "/".join(str(x) for x in settings.get("cg_n") or []) or "off"),
            "* Pipelines: 1000 commands per ``execute()`` for every client%s; ``mset``/"
            "``mget``: 100 keys in all slots (redis-benchmark: 100 keys on its one node)." % (
                (", and ``redis-benchmark -P %s``" % rb_depth) if rb_depth else ""),
            "* Raw results: :download:`benchmarks.json <%s>` (every run, the settings, the "
            "versions)." % rel,
            "",
            ".. image:: %s" % png,
            "   :target: %s" % png,
            "   :width: 100%",
            "   :alt: ops/s and client CPU per command of each client, per scenario",
            "",
            "The chart at full size: click it. Per **command**: a 1000-command pipeline counts "
            "1000, an ``mget`` of 100 keys counts 100.",
            "",
        ]
        tables = [
            ("commands per second (wall clock, best run)", "ops_per_s", 0),
            ("client CPU per command, µs", "cpu_us_per_op", 2),
            ("user-space instructions per command (callgrind)", "ir_per_op", 0),
        ]
        for caption, key, digits in tables:
            rows = [s for s in scenarios if any(
                (res[s].get(k) or {}).get(key) is not None for k, _ in impls)]
            if not rows:
                continue
            lines += [".. list-table:: %s" % caption, "   :header-rows: 1",
                      "   :class: rc-figures", "",
                      "   * - scenario"]
            lines += ["     - %s" % label for _k, label in impls]
            for s in rows:
                lines.append("   * - ``%s``" % s)
                lines += ["     - %s" % _num((res[s].get(k) or {}).get(key), digits)
                          for k, _ in impls]
            lines.append("")
        return self._parse(lines)


def setup(app):
    app.add_directive("rc-benchmark-results", BenchmarkResults)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
