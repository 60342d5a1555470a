"""``rediscluster/_core.pyi`` describes the built ``_core`` (house style 7.9).

The stub is read with ``ast`` (no mypy needed) next to the imported module, so
this also checks an installed copy (``make check-sdist``):

- the module's names are the stub's (functions, constants, types);
- each type's methods and attributes are the stub's, methods as ``def`` and
  getset attributes as properties (read-only) or annotated attributes
  (writable); ``@final`` exactly where the type cannot be subclassed;
- parameter names, kinds and defaults agree with each ``__text_signature__``;
- the constructors (no text signature) accept the stub's keywords with the
  stub's defaults, keyword-only, and nothing else; their keyword lists in
  csrc/ (``kwlist`` and the ``$`` of the format) are the stub's;
- constants have the stub's types; py.typed is there; no ``.pyi`` hides a
  ``.py`` from type checkers.

``make typecheck`` runs mypy's stubtest as well (types of defaults, overloads).
"""

import ast
import inspect
import re
import socket
from pathlib import Path

import pytest

import rediscluster
from rediscluster import _core

PKG = Path(_core.__file__).resolve().parent
STUB = PKG / "_core.pyi"
CSRC = Path(__file__).resolve().parents[2] / "csrc"

# Names every extension module has; not part of the stub.
MODULE_ATTRS = {"__doc__", "__file__", "__loader__", "__name__", "__package__", "__spec__"}
# Set on every type by Python itself.
TYPE_ATTRS = {"__doc__", "__module__", "__new__", "__dict__", "__weakref__"}
# Parameters the C docstrings get wrong (a text signature cannot express the
# real one, or says something else). Each is a bug in csrc/; the strict xfail
# fails once the docstring is fixed, so that the entry (and its line in
# tools/stubtest_allowlist.txt) is removed.
TEXT_SIGNATURE_BUGS = {}


def _decorators(node):
    names = set()
    for d in node.decorator_list:
        names.add(ast.unparse(d))
    return names


def _parse_stub():
    tree = ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))
    module = {}  # name -> node (functions: list of nodes, for overloads)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.FunctionDef):
            module.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.ClassDef):
            module[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if ast.unparse(node.annotation) == "TypeAlias":
                continue  # stub-only alias (_Arg, ...)
            module[node.target.id] = node
        elif isinstance(node, ast.Expr):
            continue
        else:
            raise AssertionError("unexpected statement in the stub: %s" % ast.unparse(node))
    return module


def _class_members(cls_node):
    """name -> ("method", [defs]) | ("property", writable) | ("attribute", None)"""
    members = {}
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef):
            decos = _decorators(node)
            if "property" in decos:
                members[node.name] = ("property", False)
            elif any(d.endswith(".setter") for d in decos):
                members[node.name] = ("property", True)
            else:
                members.setdefault(node.name, ("method", []))[1].append(node)
        elif isinstance(node, ast.AnnAssign):
            members[node.target.id] = ("attribute", None)
        elif isinstance(node, ast.Expr):
            continue  # docstring
        else:
            raise AssertionError("unexpected statement in class %s: %s"
                                 % (cls_node.name, ast.unparse(node)))
    return members


STUB_MODULE = _parse_stub()
STUB_CLASSES = {n: v for n, v in STUB_MODULE.items() if isinstance(v, ast.ClassDef)}
RUNTIME_CLASSES = sorted(n for n in dir(_core) if isinstance(getattr(_core, n), type))


def _stub_params(fn):
    """[(name, kind, default or inspect.Parameter.empty)] of a stub def, self dropped."""
    a = fn.args
    P = inspect.Parameter
    out = []
    positional = [(x, P.POSITIONAL_ONLY) for x in a.posonlyargs] + [
        (x, P.POSITIONAL_OR_KEYWORD) for x in a.args
    ]
    defaults = [P.empty] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for (arg, kind), default in zip(positional, defaults):
        out.append((arg.arg, kind, default))
    if a.vararg:
        out.append((a.vararg.arg, P.VAR_POSITIONAL, P.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, P.KEYWORD_ONLY, P.empty if default is None else default))
    if a.kwarg:
        out.append((a.kwarg.arg, P.VAR_KEYWORD, P.empty))
    if out and out[0][0] == "self":
        out = out[1:]
    return out


def _default_value(node):
    """A stub default as a Python value; ``...`` means 'some default'."""
    if node is inspect.Parameter.empty:
        return node
    return ast.literal_eval(node)


def _runtime_params(obj):
    sig = inspect.signature(obj)
    out = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
    if out and out[0][0] == "self":
        out = out[1:]
    return out


def _same_params(stub, runtime):
    if [(n, k) for n, k, _ in stub] != [(n, k) for n, k, _ in runtime]:
        return False
    for (_, _, sd), (_, _, rd) in zip(stub, runtime):
        if (sd is inspect.Parameter.empty) != (rd is inspect.Parameter.empty):
            return False
        if sd is not inspect.Parameter.empty and _default_value(sd) is not Ellipsis:
            if _default_value(sd) != rd:
                return False
    return True


# ---------------------------------------------------------------- the module


def test_stub_and_marker_are_installed_next_to_the_module():
    assert STUB.is_file(), STUB
    assert (PKG / "py.typed").is_file()
    assert Path(rediscluster.__file__).resolve().parent == PKG


def test_no_stub_hides_a_python_module():
    """A .pyi next to a .py makes type checkers ignore the .py entirely."""
    for stub in PKG.rglob("*.pyi"):
        assert not stub.with_suffix(".py").exists(), "%s hides %s" % (stub, stub.with_suffix(".py"))


def test_module_names_match():
    runtime = set(dir(_core)) - MODULE_ATTRS
    stub = set(STUB_MODULE)
    assert sorted(runtime - stub) == [], "in _core but not in _core.pyi"
    assert sorted(stub - runtime) == [], "in _core.pyi but not in _core"


CONSTANT_CHECKS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int),
    "tuple[int, int, int]": lambda v: (
        isinstance(v, tuple) and len(v) == 3 and all(isinstance(x, int) for x in v)
    ),
}


@pytest.mark.parametrize(
    "name", sorted(n for n, v in STUB_MODULE.items() if isinstance(v, ast.AnnAssign))
)
def test_constant_types(name):
    annotation = ast.unparse(STUB_MODULE[name].annotation)
    assert annotation in CONSTANT_CHECKS, "add a check for %r" % annotation
    assert CONSTANT_CHECKS[annotation](getattr(_core, name)), (name, getattr(_core, name))


def _callables():
    out = []
    for name, v in sorted(STUB_MODULE.items()):
        if isinstance(v, list):
            out.append((name, getattr(_core, name, None), v))
    for cname, cnode in sorted(STUB_CLASSES.items()):
        cls = getattr(_core, cname, None)
        for mname, (kind, defs) in sorted(_class_members(cnode).items()):
            if kind == "method" and mname != "__init__":
                out.append(("%s.%s" % (cname, mname), getattr(cls, mname, None), defs))
    return out


def _signature_params():
    params = []
    for name, obj, defs in _callables():
        marks = []
        if name in TEXT_SIGNATURE_BUGS:
            marks.append(pytest.mark.xfail(strict=True, reason=TEXT_SIGNATURE_BUGS[name]))
        params.append(pytest.param(name, obj, defs, id=name, marks=marks))
    return params


@pytest.mark.parametrize("name, obj, defs", _signature_params())
def test_signature_matches_text_signature(name, obj, defs):
    assert obj is not None, "%s is in the stub but not in _core" % name
    if len(defs) > 1:
        # overloads: each must be callable through the runtime's signature
        runtime = _runtime_params(obj)
        assert any(k == inspect.Parameter.VAR_POSITIONAL for _, k, _ in runtime), name
        return
    stub = _stub_params(defs[0])
    runtime = _runtime_params(obj)
    assert _same_params(stub, runtime), "%s: stub %s, runtime %s" % (
        name,
        [(n, k.name) for n, k, _ in stub],
        inspect.signature(obj),
    )


# ---------------------------------------------------------------- the types


@pytest.mark.parametrize("cname", RUNTIME_CLASSES)
def test_type_members_match(cname):
    cls = getattr(_core, cname)
    assert cname in STUB_CLASSES, "%s is not in the stub" % cname
    members = _class_members(STUB_CLASSES[cname])
    runtime = set(vars(cls)) - TYPE_ATTRS
    assert sorted(runtime - set(members)) == [], "in _core.%s but not in the stub" % cname
    assert sorted(set(members) - runtime) == [], "in the stub but not in _core.%s" % cname
    for name, (kind, _) in members.items():
        descr = vars(cls)[name]
        is_getset = inspect.isgetsetdescriptor(descr) or inspect.ismemberdescriptor(descr)
        if kind == "method":
            assert callable(descr) and not is_getset, "%s.%s is not a method" % (cname, name)
        else:
            assert is_getset, "%s.%s is a %s in the stub but not a C attribute" % (cname, name, kind)


@pytest.mark.parametrize("cname", RUNTIME_CLASSES)
def test_final_where_not_subclassable(cname):
    cls = getattr(_core, cname)
    subclassable = bool(cls.__flags__ & (1 << 10))  # Py_TPFLAGS_BASETYPE
    final = "final" in _decorators(STUB_CLASSES[cname])
    assert final != subclassable, "%s: @final in the stub must match (subclassable=%s)" % (
        cname, subclassable)


@pytest.fixture
def listener():
    """A listening socket nobody accepts on: enough for Pool._connection (no
    handshake without password, client name or READONLY)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()


def _instance(cname, listener):
    if cname == "Pool":
        return _core.Pool()
    if cname == "Client":
        return _core.Client(_core.Pool())
    if cname == "Reader":
        return _core.Reader()
    if cname == "Connection":
        return _core.Pool()._connection(*listener)
    if cname == "PipelineCommand":
        return _core.PipelineCommand(("GET", "k"))
    if cname == "Subscriber":
        return _core.Subscriber(_core.Pool())
    if cname == "AioOp":
        return _core.Client(_core.Pool())._aio_execute_command("GET", "k")
    raise AssertionError("add a way to make a %s" % cname)


@pytest.mark.parametrize("cname", RUNTIME_CLASSES)
def test_writable_attributes(cname, listener):
    """Annotated attributes can be set; properties without setter cannot."""
    obj = _instance(cname, listener)
    for name, (kind, writable) in _class_members(STUB_CLASSES[cname]).items():
        if kind == "method":
            continue
        writable = writable or kind == "attribute"
        value = getattr(obj, name)
        try:
            setattr(obj, name, value)
        except AttributeError:
            assert not writable, "%s.%s is read-only at run time" % (cname, name)
        else:
            assert writable, "%s.%s is writable at run time: annotate it, not @property" % (
                cname, name)
    if cname == "Connection":
        obj.close()


CONSTRUCTORS = {
    "Pool": (lambda **kw: _core.Pool(**kw), ("utf-8",)),
    "Client": (lambda **kw: _core.Client(_core.Pool(), **kw), (_core.Pool(), {})),
    "Reader": (lambda **kw: _core.Reader(**kw), (True,)),
}


@pytest.mark.parametrize("cname", sorted(CONSTRUCTORS))
def test_constructor_keywords(cname):
    """Every keyword-only parameter of the stub's __init__ is accepted with the
    stub's default; extra keywords and extra positionals are not."""
    make, too_many_positionals = CONSTRUCTORS[cname]
    kind, defs = _class_members(STUB_CLASSES[cname])["__init__"]
    params = _stub_params(defs[0])
    keywords = [(n, d) for n, k, d in params if k == inspect.Parameter.KEYWORD_ONLY]
    assert keywords, cname
    for name, default in keywords:
        value = _default_value(default)
        if value is Ellipsis:
            continue
        make(**{name: value})
    make(**{n: _default_value(d) for n, d in keywords if _default_value(d) is not Ellipsis})
    with pytest.raises(TypeError):
        make(no_such_option=1)
    with pytest.raises(TypeError):
        getattr(_core, cname)(*too_many_positionals)


def _c_init_keywords(cname):
    """(positional-or-keyword names, keyword-only names) of ``<cname>_init`` in
    csrc/*.c: its ``kwlist`` and the ``$`` in its PyArg_ParseTupleAndKeywords
    format. None if no source defines it."""
    for path in sorted(CSRC.glob("*.c")):
        text = path.read_text(errors="replace")
        start = re.search(r"^%s_init\s*\(" % re.escape(cname), text, re.M)
        if start is None:
            continue
        body = text[start.end():]
        kwlist = re.search(r"kwlist\[\]\s*=\s*\{(.*?)\};", body, re.S)
        fmt = re.search(r"PyArg_ParseTupleAndKeywords\(\s*\w+\s*,\s*\w+\s*,\s*\"([^\"]*)\"", body)
        assert kwlist and fmt, "%s: no kwlist / format in %s_init" % (path.name, cname)
        names = re.findall(r'"([^"]+)"', kwlist.group(1))
        units = fmt.group(1).split(":")[0]
        if "$" in units:
            positional = len(re.findall(r"[A-Za-z]", units[: units.index("$")]))
        else:
            positional = len(names)
        return names[:positional], names[positional:]
    return None


@pytest.mark.parametrize("cname", sorted(CONSTRUCTORS))
def test_constructor_keywords_match_c_source(cname):
    """The runtime cannot list a tp_init's keywords: read them from csrc/."""
    if not CSRC.is_dir():
        pytest.skip("no csrc/ next to the tests (installed copy without the sources)")
    found = _c_init_keywords(cname)
    assert found is not None, "no %s_init in csrc/*.c" % cname
    c_positional, c_keywords = found
    kind, defs = _class_members(STUB_CLASSES[cname])["__init__"]
    params = _stub_params(defs[0])
    P = inspect.Parameter
    stub_positional = [n for n, k, _ in params if k in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    stub_keywords = [n for n, k, _ in params if k == P.KEYWORD_ONLY]
    assert stub_positional == c_positional
    assert sorted(set(c_keywords) - set(stub_keywords)) == [], "keywords of %s missing in the stub" % cname
    assert sorted(set(stub_keywords) - set(c_keywords)) == [], "keywords of %s not in csrc" % cname
