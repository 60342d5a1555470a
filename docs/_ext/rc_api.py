"""Sphinx directives for the API reference and the argument tables, built from the package.

The reference cannot drift from the code: the method lists come from the classes,
the defaults from the signatures, and the build warns (so ``-W`` fails) when
something public is left out.

``.. rc-command-family:: rediscluster.commands.strings.StringCommands``
    ``automethod`` for every public method that ``RedisCluster`` gets from that
    mixin (the one it really uses: an override elsewhere wins), blocked methods
    left out, in alphabetical order.
``.. rc-client-members:: rediscluster.RedisCluster``
    ``autoclass`` with the class's own public methods and attributes and those of
    its C base (``execute_command``, ``connection_pool``, ...).
``.. rc-blocked-table::``
    One table of every method that raises instead of running: on the client
    (commands flagged ``blocked`` in ``NODES_FLAGS``) and in a pipeline
    (``rediscluster.pipeline._BLOCKED``).
``.. rc-arguments:: rediscluster.RedisCluster``
    A table of a constructor's arguments: name, default (from the signature) and
    the meaning written in the directive's content, one entry per argument::

        host
            Host name or address of one node ...
        socket_timeout = None
            (an explicit default, for ``**kwargs`` options)

    ``:names: module.DICT`` checks the entries against the keys of a dict instead
    of a signature; ``:skip: a, b`` names arguments documented elsewhere on the
    page. An argument of the signature without an entry, or an entry that is not
    an argument, is a warning.
``.. rc-url-options::``
    The query options ``from_url`` converts, from ``URL_QUERY_ARGUMENT_PARSERS``.

At the end of reading, every public method of ``RedisCluster`` must have been
documented exactly once (by a family, the client page or the blocked table), and a
method is blocked exactly when its docstring says so.
"""

import importlib
import inspect
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

_LITERAL = re.compile(r"""[bB]?["']([A-Z][A-Z0-9_\-]*(?: [A-Z][A-Z0-9_\-]*)?)["']""")
_URL = re.compile(r"\s*https?://\S+")


def _resolve(dotted):
    """Import ``a.b.C`` (module path, then attributes)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _client():
    from rediscluster import RedisCluster

    return RedisCluster


def _public_routines(cls):
    """Public names of ``cls`` that are methods (Python or C)."""
    out = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        obj = inspect.getattr_static(cls, name)
        if isinstance(obj, (staticmethod, classmethod)) or inspect.isroutine(obj):
            out.append(name)
    return out


def _command_of(func):
    """The first Redis command name a method's source sends (None if none found)."""
    from rediscluster.callbacks import NODES_FLAGS

    try:
        src = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    body = src.split('"""', 2)[-1] if src.count('"""') >= 2 else src
    for match in _LITERAL.finditer(body):
        if match.group(1) in NODES_FLAGS or " " not in match.group(1):
            return match.group(1)
    return None


def blocked_methods():
    """{method: command} of the client methods whose command is flagged blocked."""
    from rediscluster.callbacks import NODES_FLAGS

    cls = _client()
    out = {}
    for name in _public_routines(cls):
        func = getattr(cls, name)
        if not inspect.isfunction(func):
            continue
        command = _command_of(func)
        if command is not None and NODES_FLAGS.get(command) == "blocked":
            out[name] = command
    return out


def _says_blocked(func):
    doc = inspect.cleandoc(func.__doc__ or "")
    return bool(re.search(r"\bblocked in cluster mode\b", doc, re.I))


def _first_sentence(doc):
    text = " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())
    return _URL.sub("", text).strip()


def _record(env, names, docname):
    store = env.__dict__.setdefault("rc_api_documented", {})
    for name in names:
        store.setdefault(name, []).append(docname)


class _Generated(SphinxDirective):
    """Base: parse generated reST lines in place."""

    def _parse(self, lines):
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="rc_api:" + self.name),
                                self.content_offset, container)
        return container.children


class CommandFamily(_Generated):
    required_arguments = 1

    def run(self):
        mixin = _resolve(self.arguments[0])
        cls = _client()
        blocked = blocked_methods()
        names = []
        for name, func in vars(mixin).items():
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            if getattr(cls, name, None) is not func or name in blocked:
                continue
            names.append(name)
        if not names:
            raise self.error("%s gives RedisCluster no method" % self.arguments[0])
        _record(self.env, sorted(names), self.env.docname)
        lines = []
        for name in sorted(names):
            lines += [".. automethod:: rediscluster.RedisCluster.%s" % name, ""]
        return self._parse(lines)


class ClientMembers(_Generated):
    required_arguments = 1
    option_spec = {"exclude": lambda s: [x.strip() for x in s.split(",") if x.strip()]}

    def run(self):
        cls = _resolve(self.arguments[0])
        exclude = set(self.options.get("exclude", []))
        own = set()
        for base in cls.__mro__:
            if base is cls or base.__module__ == "rediscluster._core":
                own.update(n for n in vars(base) if not n.startswith("_"))
        members = sorted(own - exclude)
        _record(self.env, [m for m in members if m in _public_routines(cls)], self.env.docname)
        lines = [".. autoclass:: %s" % self.arguments[0],
                 "   :members: %s" % ", ".join(members), ""]
        return self._parse(lines)


def _blocked_in_2_1_3():
    """The names of ``pipeline._BLOCKED`` that come from redis-py-cluster 2.1.3: its
    source lists them first, then the comment ``# ours:`` and our additions."""
    import rediscluster.pipeline as pipeline

    src = inspect.getsource(pipeline)
    start = src.find("_BLOCKED = (")
    end = src.find("# ours", start) if start >= 0 else -1
    if end < 0:
        return None  # the layout changed: say nothing about the origin
    return {n for n in pipeline._BLOCKED if re.search(r"\b%s\b" % n, src[start:end])}


class BlockedTable(_Generated):
    def run(self):
        from rediscluster.pipeline import _BLOCKED

        cls = _client()
        blocked = blocked_methods()
        original = _blocked_in_2_1_3()
        _record(self.env, sorted(blocked), self.env.docname)
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 40 16 44",
                 "   :class: rc-blocked", "",
                 "   * - method", "     - raises on", "     - why, or what to use instead"]
        for name in sorted(set(blocked) | set(_BLOCKED)):
            func = getattr(cls, name, None)
            if name in blocked:
                # the docstring's reason, without its "Blocked in cluster mode"
                note = _first_sentence(func.__doc__)
                note = re.sub(r"^.*?blocked in cluster mode[.,]?\s*", "", note, flags=re.I)
                note = note.strip(" .()")
                note = re.sub(r"^raises RedisClusterException$", "", note)
                note = (note[0].upper() + note[1:]) if note else \
                    "``%s`` acts on one node or connection" % blocked[name]
                label, where = "``%s()``" % name, "client, pipeline"
            else:
                if original is None:
                    note = "Cannot be queued in a pipeline"
                elif name in original:
                    note = "As in redis-py-cluster 2.1.3"
                else:
                    note = "It sends to the nodes it chooses itself"
                where = "pipeline"
                label = (":meth:`~rediscluster.RedisCluster.%s`" % name
                         if inspect.isfunction(func) else "``%s()``" % name)
            lines += ["   * - %s" % label, "     - %s" % where,
                      "     - %s" % note.replace("|", "\\|")]
        return self._parse(lines)


def _parse_entries(content):
    """Definition-list content -> [(name, default or None, [description lines])]."""
    entries = []
    for line in content:
        if line and not line[0].isspace():
            name, _, default = line.partition("=")
            entries.append((name.strip(), default.strip() or None, []))
        elif entries:
            entries[-1][2].append(line.strip())
        elif line.strip():
            raise ValueError("description before the first argument name: %r" % line)
    return entries


def _default_text(param):
    if param.default is inspect.Parameter.empty:
        return "required"
    return "``%r``" % (param.default,)


class Arguments(_Generated):
    required_arguments = 1
    has_content = True
    option_spec = {
        "names": lambda s: s.strip(),
        "skip": lambda s: [x.strip() for x in s.split(",") if x.strip()],
        "ignore": lambda s: [x.strip() for x in s.split(",") if x.strip()],
    }

    def run(self):
        target = _resolve(self.arguments[0])
        try:
            entries = _parse_entries(self.content)
        except ValueError as e:
            raise self.error(str(e))
        if "names" in self.options:
            expected = {n: None for n in _resolve(self.options["names"])}
        else:
            sig = inspect.signature(target)
            expected = {n: p for n, p in sig.parameters.items()
                        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n != "self"}
        for name in self.options.get("ignore", []):
            expected.pop(name, None)
        skip = set(self.options.get("skip", []))
        written = [e[0] for e in entries]
        where = "rc-arguments:: %s" % self.arguments[0]
        for name in expected:
            if name not in written and name not in skip:
                logger.warning("%s: argument %r has no entry", where, name,
                               location=(self.env.docname, self.lineno))
        for name in written:
            if name not in expected:
                logger.warning("%s: %r is not an argument", where, name,
                               location=(self.env.docname, self.lineno))
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 14 56",
                 "   :class: rc-arguments", "",
                 "   * - argument", "     - default", "     - meaning"]
        for name, default, desc in entries:
            param = expected.get(name)
            if default is None:
                if param is None:
                    logger.warning("%s: %r needs an explicit default (name = value)", where,
                                   name, location=(self.env.docname, self.lineno))
                    default_text = ""
                else:
                    default_text = _default_text(param)
            else:
                default_text = default if default == "required" else "``%s``" % default
            lines += ["   * - ``%s``" % name, "     - %s" % default_text]
            body = desc or [""]
            lines.append("     - %s" % body[0])
            lines += ["       %s" % d for d in body[1:]]
        return self._parse(lines)


class UrlOptions(_Generated):
    def run(self):
        from rediscluster._urls import URL_QUERY_ARGUMENT_PARSERS

        kinds = {int: "integer", float: "number"}
        names = sorted(URL_QUERY_ARGUMENT_PARSERS)
        cells = []
        for name in names:
            conv = URL_QUERY_ARGUMENT_PARSERS[name]
            kind = kinds.get(conv) or ("boolean" if conv.__name__ == "to_bool" else conv.__name__)
            cells.append("``%s`` (%s)" % (name, kind))
        return self._parse([", ".join(cells) + "."])


class Examples(_Generated):
    """``.. rc-examples:: ../examples``: every ``*.py`` there, titled by its name."""

    def _parse(self, lines):
        from sphinx.util.nodes import nested_parse_with_titles

        container = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source="rc_api:" + self.name),
                                 container)
        return container.children


    required_arguments = 1

    def run(self):
        import ast
        import os

        rel = self.arguments[0]
        folder = os.path.normpath(os.path.join(os.path.dirname(self.env.doc2path(
            self.env.docname)), rel))
        lines = []
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            self.env.note_dependency(path)
            with open(path, encoding="utf-8") as f:
                doc = ast.get_docstring(ast.parse(f.read())) or ""
            first = _first_sentence(doc).split(". ")[0].rstrip(".")
            first = re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", first)
            title = "``%s``" % name
            lines += [title, "-" * len(title), ""]
            if first:
                lines += [first + ".", ""]
            lines += [".. literalinclude:: %s/%s" % (rel, name),
                      "   :language: python", ""]
        if not lines:
            raise self.error("no example in %s" % folder)
        return self._parse(lines)


def _purge(app, env, docname):
    store = getattr(env, "rc_api_documented", {})
    for name in list(store):
        store[name] = [d for d in store[name] if d != docname]
        if not store[name]:
            del store[name]


def _merge(app, env, docnames, other):
    store = env.__dict__.setdefault("rc_api_documented", {})
    for name, docs in getattr(other, "rc_api_documented", {}).items():
        store.setdefault(name, []).extend(docs)


def _check(app, env):
    store = getattr(env, "rc_api_documented", {})
    if not store:
        return  # a partial build without the API pages
    cls = _client()
    for name in _public_routines(cls):
        docs = store.get(name, [])
        if not docs:
            logger.warning("RedisCluster.%s is in no page of the API reference "
                           "(docs/api/: a family page, the client page or the blocked table)",
                           name)
        elif len(docs) > 1:
            logger.warning("RedisCluster.%s is documented %d times (%s)", name, len(docs),
                           ", ".join(sorted(docs)))
    blocked = blocked_methods()
    for name in _public_routines(cls):
        func = getattr(cls, name)
        if not inspect.isfunction(func):
            continue
        if (name in blocked) != _says_blocked(func):
            logger.warning("RedisCluster.%s: its docstring %s 'blocked in cluster mode' but "
                           "its command %s blocked in NODES_FLAGS", name,
                           "says" if _says_blocked(func) else "does not say",
                           "is" if name in blocked else "is not")


def _bases(app, name, obj, options, bases):
    """Hide the C base and the command mixins: they are implementation details."""
    bases[:] = [b for b in bases
                if not (getattr(b, "__module__", "") == "rediscluster._core"
                        or getattr(b, "__module__", "").startswith("rediscluster.commands"))]


def setup(app):
    app.add_directive("rc-command-family", CommandFamily)
    app.add_directive("rc-client-members", ClientMembers)
    app.add_directive("rc-blocked-table", BlockedTable)
    app.add_directive("rc-arguments", Arguments)
    app.add_directive("rc-url-options", UrlOptions)
    app.add_directive("rc-examples", Examples)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check)
    app.connect("autodoc-process-bases", _bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
