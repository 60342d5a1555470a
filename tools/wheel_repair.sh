#!/usr/bin/env bash
# Repair one wheel built against tools/wheel_deps.sh's PREFIX: auditwheel
# copies hiredis and OpenSSL into rediscluster.libs/ under mangled names, sets
# the extension's RPATH to them, strips, and retags the wheel manylinux_* /
# musllinux_*; then the libraries' licence texts go into the wheel and the
# result is checked (tools/wheel_tool.py). `make wheels` and cibuildwheel's
# repair-wheel-command (pyproject.toml) both run it.
#
# usage: tools/wheel_repair.sh WHEEL DEST_DIR PREFIX
# env:   AUDITWHEEL (auditwheel), PYTHON (python3)
set -euo pipefail
WHEEL=${1:?usage: $0 WHEEL DEST_DIR PREFIX}
DEST=${2:?usage: $0 WHEEL DEST_DIR PREFIX}
PREFIX=${3:?usage: $0 WHEEL DEST_DIR PREFIX}
AUDITWHEEL=${AUDITWHEEL:-auditwheel}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)

fail() { echo "wheel-repair: error: $*" >&2; exit 1; }
[ -f "$PREFIX/.rc-wheel-deps" ] || fail "$PREFIX: no libraries built by tools/wheel_deps.sh"
OPENSSL_VERSION=$("$HERE/wheel_deps.sh" --print OPENSSL_VERSION)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rc-wheel-repair.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$AUDITWHEEL" repair --strip -w "$TMP" "$WHEEL" >"$TMP/repair.log" 2>&1 \
    || { cat "$TMP/repair.log" >&2; fail "auditwheel repair $WHEEL failed"; }
shopt -s nullglob
repaired=("$TMP"/*.whl)
[ "${#repaired[@]}" = 1 ] || fail "auditwheel made ${#repaired[@]} wheels from $WHEEL"
"$PYTHON" "$HERE/wheel_tool.py" bundle-licenses "${repaired[0]}" "$PREFIX/share/licenses"
"$PYTHON" "$HERE/wheel_tool.py" check "${repaired[0]}" "$PREFIX" "$OPENSSL_VERSION"
mkdir -p "$DEST"
mv "${repaired[0]}" "$DEST/"
