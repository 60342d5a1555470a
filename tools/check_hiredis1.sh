#!/usr/bin/env bash
# Build rediscluster._core against hiredis 1.x (the Debian 13 series) as well as
# the OS's 0.14, without touching the OS: the C sources of hiredis 1.x come from
# the `hiredis` sdist on PyPI (it vendors them), are compiled into a static
# library under build/hiredis1/, and the extension is compiled against it with
# PKG_CONFIG_PATH pointing there, then imported and smoke-tested.
# Usage: tools/check_hiredis1.sh [python]   (default: python3)
set -euo pipefail
PY=${1:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/build/hiredis1
SDIST_VERSION=3.1.0   # vendors hiredis 1.2.0
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f prefix/lib/libhiredis.a ]; then
    rm -rf src prefix && mkdir -p src prefix/lib/pkgconfig prefix/include/hiredis
    "$PY" -m pip download -q --no-deps --no-binary :all: "hiredis==$SDIST_VERSION" -d src >/dev/null
    tar xzf src/hiredis-$SDIST_VERSION.tar.gz -C src
    V=src/hiredis-$SDIST_VERSION/vendor/hiredis
    for f in read.c sds.c alloc.c; do
        gcc -std=c99 -O2 -fPIC -c "$V/$f" -o "src/${f%.c}.o"
    done
    ar rcs prefix/lib/libhiredis.a src/read.o src/sds.o src/alloc.o
    cp "$V"/*.h prefix/include/hiredis/
    cat > prefix/lib/pkgconfig/hiredis.pc <<PC
prefix=$WORK/prefix
Name: hiredis
Description: hiredis 1.x (vendored copy for a build check)
Version: $(sed -n 's/#define HIREDIS_MAJOR \([0-9]*\)/\1/p' "$V/hiredis.h").$(sed -n 's/#define HIREDIS_MINOR \([0-9]*\)/\1/p' "$V/hiredis.h")
Cflags: -I\${prefix}/include -I\${prefix}/include/hiredis
Libs: -L\${prefix}/lib -lhiredis
PC
fi
OUT=$WORK/ext
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$ROOT"
PKG_CONFIG_PATH=$WORK/prefix/lib/pkgconfig RC_WERROR=1 "$PY" setup.py -q build_ext \
    --build-lib "$OUT" --build-temp "$WORK/tmp" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; echo "error: build against hiredis 1.x failed" >&2; exit 1; }
cp -r rediscluster/*.py rediscluster/commands "$OUT/rediscluster/" 2>/dev/null || true
cd "$OUT"
"$PY" - <<'PYCODE'
from rediscluster import _core
assert _core.hiredis_version[0] >= 1, _core.hiredis_version
r = _core.Reader()
r.feed(b"*3\r\n$3\r\nfoo\r\n:5\r\n_\r\n")   # RESP3 null parses under 1.x
print("hiredis", ".".join(map(str, _core.hiredis_version)), "build OK:", r.gets())
PYCODE
