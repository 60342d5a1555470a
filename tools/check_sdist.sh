#!/usr/bin/env bash
# Packaging check (`make check-sdist`):
#
#   1. `python -m build` makes dist/rediscluster-X.tar.gz and, from that sdist
#      (not from the tree), the wheel;
#   2. the sdist holds every csrc/*.c and *.h (cmdtable_gen.h too: the build
#      must not need tools/ or .git), the stub, py.typed and the tests, and no
#      build products; the wheel holds _core*.so, _core.pyi, py.typed and every
#      module of the tree;
#   3. a fresh venv (python3 -m venv) installs the sdist (the extension is
#      compiled from it, with pip's build isolation) and runs tests/unit of the
#      unpacked sdist against the installed copy: the unpacked rediscluster/ is
#      removed first, PYTHONPATH is unset, and the import is checked to come
#      from the venv;
#   4. mypy, pointed at that venv (--python-executable), checks
#      tests/typecheck/public_api.py against the installed package (PEP 561:
#      needs py.typed and _core.pyi), and a wrong use of the stub must fail.
#
# usage: tools/check_sdist.sh PYTHON   (PYTHON: a venv's python with `build`
#        and `mypy` installed; the Makefile passes .venv's)
# env:   BASE_PYTHON (python3) makes the fresh venv; KEEP_TMP=1 keeps it.
set -euo pipefail

PY=${1:?usage: $0 PYTHON}
BASE_PYTHON=${BASE_PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

fail() { echo "check-sdist: error: $*" >&2; exit 1; }
step() { echo "== check-sdist: $*"; }

VERSION=$("$PY" -c 'import re, sys
text = open("rediscluster/_version.py", encoding="utf-8").read()
print(re.search(r"^__version__\s*=\s*[\x27\x22]([^\x27\x22]+)", text, re.M).group(1))')

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rc-check-sdist.XXXXXX")
cleanup() { if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi; }
trap cleanup EXIT

# ------------------------------------------------------------------ 1. build
step "python -m build (sdist, then the wheel from the sdist)"
rm -rf dist
"$PY" -m build --outdir dist . >"$TMP/build.log" 2>&1 || { tail -n 40 "$TMP/build.log" >&2; fail "python -m build failed (log above)"; }
SDIST=dist/rediscluster-$VERSION.tar.gz
shopt -s nullglob
WHEELS=(dist/rediscluster-"$VERSION"-*.whl)
shopt -u nullglob
[ -f "$SDIST" ] || fail "no $SDIST (dist/: $(ls dist))"
[ "${#WHEELS[@]}" = 1 ] || fail "expected one wheel in dist/, found: ${WHEELS[*]:-none}"
WHEEL=${WHEELS[0]}
echo "$SDIST"; echo "$WHEEL"

# ------------------------------------------------------------------ 2. contents
step "contents of the sdist and the wheel"
"$PY" - "$SDIST" "$WHEEL" "$VERSION" <<'EOF'
import glob, os, sys, tarfile, zipfile

sdist, wheel, version = sys.argv[1:]
top = "rediscluster-%s/" % version
with tarfile.open(sdist) as t:
    s_names = {m.name[len(top):] for m in t.getmembers() if m.name.startswith(top)}
with zipfile.ZipFile(wheel) as z:
    w_names = set(z.namelist())

problems = []
need = sorted(glob.glob("csrc/*.c") + glob.glob("csrc/*.h"))
need += ["csrc/cmdtable_gen.h", "setup.py", "pyproject.toml", "README.md", "MANIFEST.in",
         "CHANGELOG.md", "rediscluster/_core.pyi", "rediscluster/py.typed",
         "rediscluster/_version.py", "tests/conftest.py", "tests/typecheck/public_api.py"]
need += sorted(glob.glob("rediscluster/**/*.py", recursive=True))
need += sorted(glob.glob("tests/unit/*.py"))
for name in sorted(set(need)):
    if name not in s_names:
        problems.append("sdist lacks %s" % name)
for name in sorted(s_names):
    parts = name.split("/")
    if (name.endswith((".so", ".o", ".pyc"))
            or parts[0] in ("build", "dist")
            or any(p in (".git", ".tox", "__pycache__", "site-packages") or p.startswith(".venv")
                   for p in parts)):
        problems.append("sdist holds a build product or local file: %s" % name)
if len(s_names) > 500:
    problems.append("sdist holds %d files: something local got in (MANIFEST.in)" % len(s_names))

if not any(n.startswith("rediscluster/_core.") and n.endswith(".so") for n in w_names):
    problems.append("wheel lacks rediscluster/_core*.so")
for name in ["rediscluster/_core.pyi", "rediscluster/py.typed"] + sorted(
        glob.glob("rediscluster/**/*.py", recursive=True)):
    if name not in w_names:
        problems.append("wheel lacks %s" % name)
for name in sorted(w_names):
    if not name.startswith(("rediscluster/", "rediscluster-%s.dist-info/" % version)):
        problems.append("wheel holds something outside the package: %s" % name)

if problems:
    sys.exit("\n".join(problems))
print("sdist: %d files; wheel: %d files (%s)" % (
    len(s_names), len(w_names),
    ", ".join(sorted(n for n in w_names if n.endswith((".so", ".pyi", "py.typed"))))))
EOF

# ------------------------------------------------------------------ 3. install + unit tests
step "fresh venv ($("$BASE_PYTHON" --version 2>&1)), pip install $SDIST[test]"
"$BASE_PYTHON" -m venv "$TMP/venv"
VPY=$TMP/venv/bin/python
"$VPY" -m pip install -q --no-cache-dir --upgrade pip >/dev/null 2>&1 || true
"$VPY" -m pip install -q --no-cache-dir "$ROOT/$SDIST[test]" >"$TMP/install.log" 2>&1 \
    || { tail -n 40 "$TMP/install.log" >&2; fail "pip install of the sdist failed (log above)"; }

mkdir "$TMP/src"
tar -xzf "$SDIST" -C "$TMP/src" --strip-components=1
rm -rf "$TMP/src/rediscluster"     # the tests must import the installed copy

cd "$TMP/src"
env -u PYTHONPATH "$VPY" - "$TMP/venv" <<'EOF'
import os, sys
import rediscluster, rediscluster._core as core
venv = os.path.realpath(sys.argv[1])
for mod in (rediscluster, core):
    path = os.path.realpath(mod.__file__)
    if not path.startswith(venv + os.sep):
        sys.exit("check-sdist: %s imported from %s, not from the venv" % (mod.__name__, path))
print("installed:", os.path.dirname(os.path.realpath(core.__file__)), core.__file__.rsplit("/", 1)[-1],
      "version", rediscluster.__version__, "hiredis", ".".join(map(str, core.hiredis_version)))
EOF

step "pytest tests/unit (from the unpacked sdist, against the installed copy)"
env -u PYTHONPATH "$TMP/venv/bin/pytest" tests/unit -q -p no:cacheprovider

# ------------------------------------------------------------------ 4. typing of the installed copy
step "mypy on tests/typecheck/public_api.py against the installed copy"
mkdir "$TMP/typing"
cp "$TMP/src/tests/typecheck/public_api.py" "$TMP/typing/"
cat >"$TMP/typing/misuse.py" <<'EOF'
from rediscluster import _core

slot: str = _core.key_slot("foo")  # int: mypy must see the stub and refuse this
EOF
cd "$TMP/typing"
MYPY=("$PY" -m mypy --python-executable "$VPY" --python-version 3.9 --cache-dir "$TMP/mypy-cache"
      --config-file=
      --disallow-untyped-defs --disallow-incomplete-defs --check-untyped-defs
      --strict-equality --warn-redundant-casts --show-error-codes)
env -u PYTHONPATH -u MYPYPATH "${MYPY[@]}" public_api.py
if out=$(env -u PYTHONPATH -u MYPYPATH "${MYPY[@]}" misuse.py 2>&1); then
    fail "mypy accepted misuse.py: the installed stub is not used ($out)"
fi
echo "$out" | grep -q 'Incompatible types in assignment' \
    || fail "mypy failed on misuse.py for another reason: $out"
echo "misuse.py rejected as it should be: $(echo "$out" | head -n 1)"

step "ok: $SDIST and $WHEEL"
