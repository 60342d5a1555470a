"""The extension's dynamic symbol table (setup.py, csrc/exports.map).

rediscluster._core exports PyInit__core and nothing else, so a process that
also loads hiredis-py, another OpenSSL or a second copy of hiredis never binds
to one of our functions (or to a copy of a library function linked into ours)
by accident. Checked with ``nm -D`` on the module that is imported, so
`make test-wheels` checks the repaired wheel's copy too. Linux (ELF) only;
skipped where binutils' nm is missing.
"""

import shutil
import subprocess
import sys

import pytest

import rediscluster._core as core

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="ELF dynamic symbol tables (Linux)"
)


def dynamic_symbols(path, *flags):
    """{name: type letter} from ``nm -D FLAGS path`` (versions stripped)."""
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not found")
    proc = subprocess.run(
        [nm, "-D", *flags, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    assert proc.returncode == 0, proc.stderr
    symbols = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            symbols[parts[-1].split("@")[0]] = parts[-2]
    return symbols


def test_only_the_init_function_is_exported():
    defined = dynamic_symbols(core.__file__, "--defined-only")
    assert defined == {"PyInit__core": "T"}, (
        "%s exports more than PyInit__core: %s" % (core.__file__, sorted(defined))
    )

