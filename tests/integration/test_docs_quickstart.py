"""The quickstart on the manual's landing page (docs/index.rst) runs as printed:
each ``print(...)`` line prints what its ``# comment`` says."""

import contextlib
import io
import re
from pathlib import Path

INDEX = Path(__file__).resolve().parents[2] / "docs" / "index.rst"
KEYS = ("greeting", "a", "b", "missing", "hits")


def quickstart():
    text = INDEX.read_text(encoding="utf-8")
    section = text.split("\nQuickstart\n", 1)[1]
    block = section.split(".. code-block:: python\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines).strip() + "\n"


def test_quickstart_prints_what_it_says(cluster_addr):
    host, port = cluster_addr
    code = quickstart()
    expected = [m.group(1).strip() for line in code.splitlines()
                if line.lstrip().startswith("print(")
                for m in [re.search(r"#\s*(.+)$", line)] if m]
    assert len(expected) == 3, code
    assert 'host="127.0.0.1", port=7000' in code
    code = code.replace('host="127.0.0.1", port=7000', "host=%r, port=%d" % (host, port))
    from rediscluster import RedisCluster

    rc = RedisCluster(host=host, port=port)
    rc.delete(*KEYS)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(INDEX), "exec"), {})
    finally:
        rc.delete(*KEYS)
        rc.close()
    assert out.getvalue().splitlines() == expected
