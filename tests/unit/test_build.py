"""Static checks of csrc/ (house style 7.3 and 7.12); they need no build.

- Every C file says its tier ("tier N" in its first lines; the generated
  cmdtable_gen.h belongs to commands.c, tier 0), and includes no local header
  of a higher tier.
- Tier-0 sources compile without Python: neither they nor the local headers
  they include (transitively) include Python.h.
- Every Py_BEGIN_ALLOW_THREADS has a matching Py_END_ALLOW_THREADS, with no
  `return` and no `goto` between them.
"""

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc"
TIER_RE = re.compile(r"\btier[ -](\d)\b")
GENERATED = {"cmdtable_gen.h": 0}  # generated, included by commands.c only
CSRC_FILES = sorted(p.name for p in CSRC.glob("*.[ch]"))


def tier(name):
    """The tier a csrc file declares in its first lines, or None."""
    if name in GENERATED:
        return GENERATED[name]
    head = "\n".join((CSRC / name).read_text(errors="replace").splitlines()[:6])
    m = TIER_RE.search(head)
    return int(m.group(1)) if m else None

COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
# Literals in the same alternation, so that "//" or "/*" inside a string is no comment.
NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)
TOKEN = re.compile(r"\b(Py_BEGIN_ALLOW_THREADS|Py_END_ALLOW_THREADS|return|goto)\b")


def blank(match):
    """Replace a comment or literal by spaces, keeping its newlines (line numbers)."""
    text = match.group(0)
    if text.startswith(('"', "'")):
        return text[0] + re.sub(r"[^\n]", " ", text[1:-1]) + text[-1]
    return re.sub(r"[^\n]", " ", text)


def strip_comments(source):
    return COMMENT.sub(blank, source)


def strip_code(source):
    """Comments, string/char literals and preprocessor lines blanked out."""
    source = NOISE.sub(blank, source)
    out = []
    continued = False
    for line in source.split("\n"):
        directive = continued or line.lstrip().startswith("#")
        continued = directive and line.rstrip().endswith("\\")
        out.append("" if directive else line)
    return "\n".join(out)


def includes(path):
    """(kind, name) of each #include in the file; kind is '<' or '"'."""
    return INCLUDE.findall(strip_comments(path.read_text(errors="replace")))


def python_h_chain(name, seen=()):
    """The include chain from csrc/<name> to Python.h, or None."""
    path = CSRC / name
    if name in seen or not path.is_file():
        return None
    for kind, inc in includes(path):
        if Path(inc).name == "Python.h":
            return [name, inc]
        if kind == '"':
            chain = python_h_chain(inc, seen + (name,))
            if chain:
                return [name] + chain
    return None


def test_there_are_c_files():
    assert "commands.c" in CSRC_FILES and "tls.c" in CSRC_FILES


@pytest.mark.parametrize("name", CSRC_FILES)
def test_every_c_file_declares_its_tier(name):
    assert tier(name) is not None, "csrc/%s: no 'tier N' in its first lines" % name


@pytest.mark.parametrize("name", CSRC_FILES)
def test_no_include_of_a_higher_tier(name):
    mine = tier(name)
    for kind, inc in includes(CSRC / name):
        if kind == '"' and (CSRC / inc).is_file():
            theirs = tier(inc)
            assert theirs is not None and theirs <= mine, (
                "csrc/%s (tier %s) includes %s (tier %s)" % (name, mine, inc, theirs))


@pytest.mark.parametrize("name", [n for n in CSRC_FILES if tier(n) == 0])
def test_tier0_does_not_include_python(name):
    chain = python_h_chain(name)
    assert chain is None, "tier-0 file includes Python.h: %s" % " -> ".join(chain)


def allow_threads_violations(source):
    """Messages for unbalanced or escaping Py_BEGIN/END_ALLOW_THREADS regions."""
    code = strip_code(source)
    problems = []
    begin_line = None
    for match in TOKEN.finditer(code):
        word = match.group(1)
        line = code.count("\n", 0, match.start()) + 1
        if word == "Py_BEGIN_ALLOW_THREADS":
            if begin_line is not None:
                problems.append("line %d: Py_BEGIN_ALLOW_THREADS inside the region opened at line %d" % (line, begin_line))
            begin_line = line
        elif word == "Py_END_ALLOW_THREADS":
            if begin_line is None:
                problems.append("line %d: Py_END_ALLOW_THREADS without Py_BEGIN_ALLOW_THREADS" % line)
            begin_line = None
        elif begin_line is not None:
            problems.append("line %d: `%s` between Py_BEGIN_ALLOW_THREADS (line %d) and Py_END_ALLOW_THREADS" % (line, word, begin_line))
    if begin_line is not None:
        problems.append("line %d: Py_BEGIN_ALLOW_THREADS without Py_END_ALLOW_THREADS" % begin_line)
    return problems


C_FILES = sorted(CSRC.glob("*.c"))


@pytest.mark.parametrize("path", C_FILES, ids=[p.name for p in C_FILES])
def test_allow_threads_regions(path):
    problems = allow_threads_violations(path.read_text(errors="replace"))
    assert not problems, "%s:\n  %s" % (path.name, "\n  ".join(problems))


def test_allow_threads_checker():
    """The checker itself, on snippets (so it is tested before csrc/ exists)."""
    good = """
        /* Py_BEGIN_ALLOW_THREADS in a comment, "return" in a string */
        #define X return
        Py_BEGIN_ALLOW_THREADS
        n = poll(fds, nfds, ms);   // goto in a comment
        msg = "return; goto";
        Py_END_ALLOW_THREADS
        if (n < 0) goto error;
        return n;
    """
    assert allow_threads_violations(good) == []
    assert len(allow_threads_violations("Py_BEGIN_ALLOW_THREADS\nif (x) return -1;\nPy_END_ALLOW_THREADS\n")) == 1
    assert len(allow_threads_violations("Py_BEGIN_ALLOW_THREADS\nif (x) goto fail;\nPy_END_ALLOW_THREADS\n")) == 1
    assert len(allow_threads_violations("Py_BEGIN_ALLOW_THREADS\nx();\n")) == 1
    assert len(allow_threads_violations("x();\nPy_END_ALLOW_THREADS\n")) == 1
    assert allow_threads_violations("int returned = 0;\nPy_BEGIN_ALLOW_THREADS\ngoto_count++;\nPy_END_ALLOW_THREADS\n") == []


def test_python_h_chain(tmp_path, monkeypatch):
    monkeypatch.setitem(globals(), "CSRC", tmp_path)
    (tmp_path / "a.h").write_text('#include "b.h"\n')
    (tmp_path / "b.h").write_text("#include <Python.h>\n")
    (tmp_path / "c.h").write_text("// #include <Python.h>\n#include <stdint.h>\n")
    assert python_h_chain("a.h") == ["a.h", "b.h", "Python.h"]
    assert python_h_chain("c.h") is None
