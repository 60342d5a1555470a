#!/usr/bin/env python3
"""Check the built HTML manual as a reader sees it (`make docs` runs it).

    python tools/check_docs.py [HTML_DIR]            # static checks (CI)
    python tools/check_docs.py [HTML_DIR] --browser  # + measure in headless Chromium

HTML_DIR defaults to docs/_build/html. Static checks, with the standard library
only:

* code blocks: no line longer than the content column holds (furo's column is
  46em with 3em padding on each side; code is set at 81.25% of 16 px in a
  monospace font whose advance is 0.6em, inside 0.875rem of padding: 84
  characters at any window width from 1036 px up, where the column stops
  shrinking);
* tables: the widest unbreakable content of each column (a literal, a word)
  must fit the column when added up over the columns (an estimate with the
  same font metrics; tables may wrap their text, not their literals);
* leaked markup: reST or Markdown syntax in the rendered text (````x````,
  ```x```, ``:meth:`x```, ``**x**``, ``[x](y)``, ``|name|``), and option names
  whose ``--`` became a dash (``–cluster``);
* internal links: every relative ``href``/``src`` names an existing file, and
  every ``#fragment`` an id in that page;
* images: an image wider than the column is shrunk by the browser, so it must
  be a link to the full-size file.

--browser loads every page in Chromium (``chromium`` or ``chromium-browser`` on
PATH; Debian's package ``chromium``) at 1280x900 and reports what really
overflows: a ``<pre>`` or table wider than its box, an image shown smaller than
its pixels without a link to it. It also checks that the static limits above
still agree with the browser (so a theme update cannot silently make them
wrong).

Exit status: 0 when clean, 1 with one line per problem on stderr.
"""

import argparse
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from urllib.parse import unquote, urlsplit

# Furo's geometry (furo.css): `.content{width:46em;padding:0 3em}` at 16 px.
CONTENT_PX = 46 * 16                            # 736 px of text column (content-box)
CODE_FONT_PX = 16 * 0.8125                      # --code-font-size: 81.25%
CODE_CHAR_PX = CODE_FONT_PX * 0.6               # monospace advance: 0.6em
CODE_PAD_PX = 2 * 0.875 * 16                    # `.highlight pre{padding:.625rem .875rem}`
MAX_CODE_CHARS = int((CONTENT_PX - CODE_PAD_PX) / CODE_CHAR_PX)   # 84
INLINE_CODE_CHAR_PX = CODE_CHAR_PX              # `code.literal`: the same size
INLINE_CODE_PAD_PX = 0.2 * 13                   # `code.literal{padding:.1em .2em}`
TEXT_CHAR_PX = 16 * 0.5                         # average advance of the sans text (measured)
TABLE_CELL_PAD_PX = 2 * 4 + 2 * 4 + 1           # td padding .25rem + p margin .25rem + border
BROWSER_WIDTH = 1280

# Skipped: Sphinx's own pages and the search page, which hold no prose of ours.
SKIP_PAGES = {"search.html", "genindex.html", "py-modindex.html"}

LEAKS = [
    (re.compile(r"``"), "reST literal markup ``"),
    (re.compile(r"(?<![\w`])`[^`\s][^`\n]{0,80}`(?![\w`])"), "backquoted text (reST/Markdown)"),
    (re.compile(r":(?:py:)?(?:class|meth|func|attr|exc|mod|data|obj|doc|ref|term|envvar):`"),
     "a reST role"),
    (re.compile(r"(?:^|\s)\.\. [a-z][\w:-]*::"), "a reST directive"),
    (re.compile(r"\*\*[^*\s][^*]*\*\*"), "bold markup **"),
    (re.compile(r"\]\((?:https?://[^\s)]+|[\w./#-]+)\)"), "a Markdown link"),
    (re.compile(r"\|(?:release|version|today)\|"), "an unreplaced substitution"),
    (re.compile(r"(?:^|[\s(\[])[\u2013\u2014][a-z]"), "an option whose -- became a dash"),
]


class Page(html.parser.HTMLParser):
    """The parts of one page the checks need."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []            # [(tag, attrs)]
        self.ids = set()
        self.links = []            # (attr, url, line)
        self.images = []           # (src, inside <a href>, line)
        self.pres = []             # [text]
        self.texts = []            # (text, line) outside code
        self.tables = []           # [[[cell, ...] row] ...] cell = [(kind, text)]
        self._pre = None
        self._table = []           # nested tables being read
        self._cell = None
        self._in_article = 0

    def _inside(self, tag, cls=None):
        for t, a in self.stack:
            if t == tag and (cls is None or cls in (a.get("class") or "").split()):
                return True
        return False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        line = self.getpos()[0]
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        for attr in ("href", "src"):
            if a.get(attr) and tag in ("a", "img", "link", "script"):
                self.links.append((attr, a[attr], line))
        if tag == "img":
            self.images.append((a.get("src", ""), any(t == "a" and x.get("href")
                                                      for t, x in self.stack), line))
        if tag in self.VOID:
            return
        self.stack.append((tag, a))
        if tag == "pre":
            self._pre = []
        elif tag == "table":
            self._table.append([])
        elif tag == "tr" and self._table:
            self._table[-1].append([])
        elif tag in ("td", "th") and self._table and self._table[-1]:
            self._cell = []
            self._table[-1][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag == "pre" and self._pre is not None:
            self.pres.append("".join(self._pre))
            self._pre = None
        elif tag == "table" and self._table:
            self.tables.append(self._table.pop())
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._pre is not None:
            self._pre.append(data)
            return
        tags = [t for t, _ in self.stack]
        if "script" in tags or "style" in tags:
            return
        code = any(t in ("code", "kbd", "samp", "tt") for t in tags) or self._inside(
            "span", "pre")
        if self._cell is not None:
            self._cell.append(("code" if code else "text", data))
        if not code and data.strip() and any(
                t == "article" or a.get("role") == "main" for t, a in self.stack):
            self.texts.append((data, self.getpos()[0]))


def parse(path):
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    page.close()
    return page


def png_width(path):
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">I", head[16:20])[0]
    return None


def _cell_min_width(cell):
    """Widest run of the cell that cannot wrap: fragments (code or text) joined up to
    the next whitespace; a code fragment adds the inline literal's padding."""
    widest = run = 0.0
    for kind, data in cell:
        char = INLINE_CODE_CHAR_PX if kind == "code" else TEXT_CHAR_PX
        pieces = re.split(r"(\s+)", data)
        for i, piece in enumerate(pieces):
            if not piece:
                continue
            if piece.isspace():
                widest, run = max(widest, run), 0.0
                continue
            run += len(piece) * char + (INLINE_CODE_PAD_PX if kind == "code" and (
                i == 0 or i == len(pieces) - 1) else 0)
    return max(widest, run)


def _table_min_width(table):
    cols = {}
    for row in table:
        for i, cell in enumerate(row):
            cols[i] = max(cols.get(i, 0), _cell_min_width(cell) + TABLE_CELL_PAD_PX)
    return sum(cols.values())


def static_checks(root):
    problems = []
    pages = {}
    for dirpath, _dirs, files in os.walk(root):
        if "_static" in dirpath.split(os.sep) or "_sources" in dirpath.split(os.sep):
            continue
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(dirpath, name)
                pages[os.path.relpath(path, root)] = parse(path)
    if not pages:
        return ["%s: no HTML pages (build the docs first)" % root], pages
    for rel, page in sorted(pages.items()):
        if os.path.basename(rel) in SKIP_PAGES:
            continue
        for text in page.pres:
            for n, line in enumerate(text.expandtabs(8).splitlines(), 1):
                if len(line) > MAX_CODE_CHARS:
                    problems.append("%s: code line of %d characters (the column holds %d): %s"
                                    % (rel, len(line), MAX_CODE_CHARS, line.strip()[:60]))
        for table in page.tables:
            width = _table_min_width(table)
            if width > CONTENT_PX:
                first = " ".join(tok for _k, tok in (table[0][0] if table and table[0] else []))
                problems.append("%s: table needs about %d px, the column has %d (first cell: %s)"
                                % (rel, width, CONTENT_PX, first[:40]))
        for text, line in page.texts:
            for pattern, what in LEAKS:
                if pattern.search(text):
                    problems.append("%s:%d: leaked markup (%s): %r" % (
                        rel, line, what, text.strip()[:80]))
                    break  # one report per piece of text
        base = os.path.dirname(os.path.join(root, rel))
        for attr, url, line in page.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or url.startswith("mailto:"):
                continue
            target = os.path.normpath(os.path.join(base, unquote(parts.path))) if parts.path \
                else os.path.join(root, rel)
            if not os.path.exists(target):
                problems.append("%s:%d: broken link %s=%r (no %s)" % (
                    rel, line, attr, url, os.path.relpath(target, root)))
                continue
            if parts.fragment and target.endswith(".html"):
                other = pages.get(os.path.relpath(target, root))
                if other is not None and unquote(parts.fragment) not in other.ids:
                    problems.append("%s:%d: broken anchor %r (no id %r in %s)" % (
                        rel, line, url, parts.fragment, os.path.relpath(target, root)))
        for src, linked, line in page.images:
            if urlsplit(src).scheme:
                continue
            width = png_width(os.path.normpath(os.path.join(base, unquote(src))))
            if width and width > CONTENT_PX and not linked:
                problems.append("%s:%d: image %s is %d px wide, shown at most %d px, and "
                                "not linked at full size" % (rel, line, src, width, CONTENT_PX))
    return problems, pages


# ------------------------------------------------------------------ browser

HARNESS = r"""<!doctype html><meta charset="utf-8"><title>running</title>
<body><pre id="out"></pre><script>
const pages = %(pages)s, width = %(width)d, results = [];
function measure(doc, name) {
  const out = [], art = doc.querySelector("article") || doc.body;
  const col = art.getBoundingClientRect();
  for (const pre of art.querySelectorAll("pre")) {
    if (pre.scrollWidth > pre.clientWidth + 1)
      out.push(["pre", pre.scrollWidth - pre.clientWidth, pre.textContent.split("\n")
                .reduce((a, b) => a.length >= b.length ? a : b).trim().slice(0, 60)]);
    // (the longest line, to find it in the sources)
  }
  const mins = [];
  for (const t of art.querySelectorAll("table")) {
    const w = t.style.width; t.style.width = "min-content";
    mins.push(Math.round(t.getBoundingClientRect().width)); t.style.width = w;
    const box = t.parentElement;
    const over = Math.max(t.getBoundingClientRect().right - col.right,
                          box.scrollWidth - box.clientWidth);
    // 4 px: furo's table border and shadow may stand out of the column.
    if (over > 4) out.push(["table", Math.round(over),
                            t.textContent.replace(/\s+/g, " ").trim().slice(0, 50)]);
  }
  for (const img of art.querySelectorAll("img")) {
    if (img.naturalWidth > img.clientWidth + 1 && !img.closest("a[href]"))
      out.push(["img", img.naturalWidth, img.getAttribute("src")]);
  }
  let calib = null;
  const probe = art.querySelector("div.highlight pre");
  if (probe) {
    const s = doc.createElement("span");
    s.textContent = "x".repeat(200);
    probe.appendChild(s);
    const cs = doc.defaultView.getComputedStyle(probe);
    const pad = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
    calib = Math.floor((probe.clientWidth - pad) / (s.getBoundingClientRect().width / 200));
    s.remove();
  }
  return {page: name, problems: out, code_chars: calib, column: Math.round(col.width),
          table_min: mins};
}
function next(i) {
  if (i >= pages.length) {
    document.getElementById("out").textContent = JSON.stringify(results);
    document.title = "done";
    return;
  }
  const f = document.createElement("iframe");
  f.style.width = width + "px"; f.style.height = "900px";
  f.onload = () => {
    try { results.push(measure(f.contentDocument, pages[i])); }
    catch (e) { results.push({page: pages[i], error: String(e)}); }
    f.remove(); next(i + 1);
  };
  f.src = pages[i];
  document.body.appendChild(f);
}
next(0);
</script>
"""


def browser_checks(root, pages):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return ["--browser: no chromium on PATH (Debian: apt-get install chromium)"]
    names = sorted(p for p in pages if os.path.basename(p) not in SKIP_PAGES)
    fd, harness = tempfile.mkstemp(prefix="_check_", suffix=".html", dir=root)
    problems = []
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(HARNESS % {"pages": json.dumps(names), "width": BROWSER_WIDTH})
        with tempfile.TemporaryDirectory() as profile:
            proc = subprocess.run(
                [exe, "--headless", "--no-sandbox", "--disable-gpu",
                 "--allow-file-access-from-files", "--user-data-dir=" + profile,
                 "--window-size=%d,900" % (BROWSER_WIDTH + 40),
                 "--virtual-time-budget=120000", "--dump-dom", "file://" + harness],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        m = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
        if not m or not m.group(1).strip():
            return ["--browser: chromium gave no result (exit %d): %s"
                    % (proc.returncode, proc.stderr.strip()[-300:])]
        results = json.loads(html.unescape(m.group(1)))
    finally:
        os.unlink(harness)
    for r in results:
        if "error" in r:
            problems.append("%s: browser: %s" % (r["page"], r["error"]))
            continue
        for kind, amount, what in r["problems"]:
            if kind == "pre":
                problems.append("%s: browser: code block %d px wider than its box: %s"
                                % (r["page"], amount, what))
            elif kind == "table":
                problems.append("%s: browser: table %d px wider than the column: %s"
                                % (r["page"], amount, what))
            else:
                problems.append("%s: browser: image %s (%d px) shrunk and not linked"
                                % (r["page"], what, amount))
        if r.get("code_chars") is not None and r["code_chars"] < MAX_CODE_CHARS:
            problems.append("%s: browser: a code block holds %d characters, the static "
                            "check allows %d (update the font metrics in %s)"
                            % (r["page"], r["code_chars"], MAX_CODE_CHARS, __file__))
    chars = sorted({r["code_chars"] for r in results if r.get("code_chars")})
    columns = sorted({r["column"] for r in results if r.get("column")})
    print("check_docs: browser: %d pages measured at %d px: text column %s px, code blocks "
          "hold %s characters" % (len(results), BROWSER_WIDTH, "/".join(map(str, columns)),
                                  "/".join(map(str, chars))))
    return problems


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html_dir", nargs="?",
                    default=os.path.join(here, "..", "docs", "_build", "html"))
    ap.add_argument("--browser", action="store_true",
                    help="also measure the pages in headless Chromium")
    args = ap.parse_args(argv)
    root = os.path.abspath(args.html_dir)
    problems, pages = static_checks(root)
    if args.browser and pages:
        problems += browser_checks(root, pages)
    for p in problems:
        print("check_docs: " + p, file=sys.stderr)
    print("check_docs: %d pages, %d problems" % (len(pages), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
