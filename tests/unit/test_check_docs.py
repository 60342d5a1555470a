"""tools/check_docs.py, the check `make docs` runs over the built manual: each kind
of problem it exists for is found in a small page made here, and a clean page
passes. (The manual itself is checked by `make docs`, in CI.)"""

import importlib.util
import struct
import zlib
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_docs.py"


@pytest.fixture(scope="module")
def check_docs():
    spec = importlib.util.spec_from_file_location("check_docs", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def page(body, title="t"):
    return ('<!doctype html><html><head><title>%s</title></head><body><article role="main">'
            "%s</article></body></html>" % (title, body))


def png(path, width, height=10):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def problems(check_docs, tmp_path, files):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")
    found, _pages = check_docs.static_checks(str(tmp_path))
    return found


CLEAN = page('<h1 id="top">Title</h1><p>Text with <code class="docutils literal">'
             '<span class="pre">code</span></code>, 3.9\u20133.13 and a dash \u2013 here.</p>'
             '<div class="highlight"><pre>short = "line"\n</pre></div>'
             '<p><a href="other.html#sec">other</a> <a href="#top">top</a> '
             '<a href="https://example.com/x">out</a></p>')


def test_clean_pages_pass(check_docs, tmp_path):
    assert problems(check_docs, tmp_path, {
        "index.html": CLEAN,
        "other.html": page('<h2 id="sec">Section</h2><p>fine</p>'),
    }) == []


def test_code_wider_than_the_column(check_docs, tmp_path):
    line = "x = " + "1" * check_docs.MAX_CODE_CHARS
    found = problems(check_docs, tmp_path, {
        "index.html": page('<div class="highlight"><pre>%s\n</pre></div>' % line)})
    assert len(found) == 1 and "code line of" in found[0]
    assert check_docs.MAX_CODE_CHARS == 90  # furo at 16 px: see the module docstring


@pytest.mark.parametrize("text", [
    "Bytes <em>start</em>..``end`` of the value",        # strings.py's old docstring
    "see :meth:`RedisCluster.get` for",
    "a `backquoted` word",
    "a **bold** leak",
    "a [Markdown](https://example.com) link",
    "version |release| here",
    "redis-cli \u2013cluster reshard",                     # smartquotes' en dash
])
def test_leaked_markup(check_docs, tmp_path, text):
    found = problems(check_docs, tmp_path, {"index.html": page("<p>%s</p>" % text)})
    assert len(found) == 1 and "leaked markup" in found[0], found


def test_markup_inside_code_is_fine(check_docs, tmp_path):
    assert problems(check_docs, tmp_path, {"index.html": page(
        '<p><code class="docutils literal"><span class="pre">``x``</span></code></p>'
        "<pre>**kwargs and `ticks`\n</pre>")}) == []


def test_broken_links_and_anchors(check_docs, tmp_path):
    found = problems(check_docs, tmp_path, {
        "index.html": page('<a href="missing.html">a</a> <a href="other.html#nope">b</a> '
                           '<img src="_images/none.png" alt="">'),
        "other.html": page('<p id="yes">x</p>'),
    })
    assert len(found) == 3
    assert sum("broken link" in p for p in found) == 2
    assert sum("broken anchor" in p for p in found) == 1


def test_wide_image_must_link_to_full_size(check_docs, tmp_path):
    (tmp_path / "_images").mkdir()
    png(tmp_path / "_images" / "big.png", 1650)
    png(tmp_path / "_images" / "small.png", 300)
    found = problems(check_docs, tmp_path, {"index.html": page(
        '<img src="_images/big.png" alt=""><img src="_images/small.png" alt="">')})
    assert len(found) == 1 and "not linked at full size" in found[0]
    assert problems(check_docs, tmp_path, {"index.html": page(
        '<a class="image-reference" href="_images/big.png"><img src="_images/big.png" alt="">'
        "</a>")}) == []


def test_table_wider_than_the_column(check_docs, tmp_path):
    cell = '<td><code class="docutils literal"><span class="pre">%s</span></code></td>'
    narrow = "<table><tr>%s</tr></table>" % (cell % "short" * 3)
    wide = "<table><tr>%s</tr></table>" % (cell % ("x" * 40) * 4)
    assert problems(check_docs, tmp_path, {"index.html": page(narrow)}) == []
    found = problems(check_docs, tmp_path, {"index.html": page(wide)})
    assert len(found) == 1 and "table needs about" in found[0]
