"""Sphinx directives that build the command tables from the package's own dicts.

``.. rc-routing-table:: FLAG`` lists the commands of ``rediscluster.callbacks.NODES_FLAGS``
with that flag, the methods that send them and how the per-node replies are merged
(``RESULT_CALLBACKS``). ``.. rc-multikey-table::`` lists the client-side multi-key
methods of ``rediscluster.commands.multikey.MultiKeyCommands`` with their docstrings.
Nothing here is written by hand, so the tables stay true when the dicts change.
"""

import inspect
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

_URL = re.compile(r"\s*https?://\S+")


def _methods():
    """{method name: source} of every public RedisCluster method (Python ones)."""
    from rediscluster import RedisCluster

    out = {}
    for name in dir(RedisCluster):
        if name.startswith("_"):
            continue
        fn = getattr(RedisCluster, name, None)
        if not inspect.isfunction(fn):
            continue
        try:
            out[name] = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
    return out


def _senders(command, methods):
    """Methods whose source names ``command`` as a quoted string."""
    needle = ('"%s"' % command, "'%s'" % command)
    return sorted(m for m, src in methods.items() if any(n in src for n in needle))


def _first_line(doc):
    doc = inspect.cleandoc(doc or "")
    text = " ".join(doc.split("\n\n")[0].split())
    return _URL.sub("", text).strip()


def _merge_text(flag, command):
    from rediscluster.callbacks import RESULT_CALLBACKS

    cb = RESULT_CALLBACKS.get(command)
    if flag == "blocked":
        return "raises ``RedisClusterException`` (blocked in cluster mode)"
    if cb is not None:
        return _first_line(cb.__doc__) or "merged by ``%s``" % cb.__name__
    if flag in ("random", "slot-id"):
        return "the one node's reply"
    return "the one node's reply; with several nodes ``RedisClusterException('More then 1 result ...')``"


def _esc(text):
    return text.replace("|", "\\|")


class _TableDirective(SphinxDirective):
    has_content = False

    def _render(self, lines):
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="rc_tables"), self.content_offset,
                                container)
        return container.children


class RoutingTable(SphinxDirective):
    """``.. rc-routing-table:: all-nodes`` (blocked, all-nodes, all-masters, random, slot-id)."""

    required_arguments = 1

    def run(self):
        from rediscluster.callbacks import NODES_FLAGS

        flag = self.arguments[0]
        methods = _methods()
        rows = sorted(name for name, f in NODES_FLAGS.items() if f == flag)
        if not rows:
            raise self.error("no command has the flag %r" % flag)
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 25 30 45", "",
                 "   * - command", "     - method(s)", "     - what the method returns"]
        for command in rows:
            senders = _senders(command, methods)
            lines += [
                "   * - ``%s``" % command,
                "     - %s" % (", ".join("``%s()``" % m for m in senders)
                               or "``execute_command('%s', ...)``" % command),
                "     - %s" % _esc(_merge_text(flag, command)),
            ]
        return _TableDirective._render(self, lines)


class MultiKeyTable(SphinxDirective):
    """``.. rc-multikey-table::``: MultiKeyCommands' public methods and docstrings."""

    def run(self):
        from rediscluster.commands.multikey import MultiKeyCommands

        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 20 80", "",
                 "   * - method", "     - what it returns, and how keys in several slots are handled"]
        for name, fn in sorted(vars(MultiKeyCommands).items()):
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            doc = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
            sig = str(inspect.signature(fn)).replace("(self, ", "(").replace("(self)", "()")
            lines += ["   * - ``%s%s``" % (name, sig),
                      "     - %s" % _esc(_URL.sub("", doc).strip())]
        return _TableDirective._render(self, lines)


class PipelineBlockedList(SphinxDirective):
    """``.. rc-pipeline-blocked::``: the methods ClusterPipeline refuses to queue."""

    def run(self):
        from rediscluster.pipeline import _BLOCKED

        text = ", ".join("``%s``" % n for n in sorted(_BLOCKED))
        return _TableDirective._render(self, [text])


def setup(app):
    app.add_directive("rc-routing-table", RoutingTable)
    app.add_directive("rc-multikey-table", MultiKeyTable)
    app.add_directive("rc-pipeline-blocked", PipelineBlockedList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
