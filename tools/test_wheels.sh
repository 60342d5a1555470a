#!/usr/bin/env bash
# `make test-wheels`: each wheel of `make wheels`, installed into a clean venv,
# proven not to need the system's hiredis or OpenSSL.
#
# For each interpreter (one wheel each, cpXY matching):
#   1. a fresh venv (python -m venv), pytest and pytest-timeout from TEST_DEPS
#      (pip download'ed by the Makefile: this step needs no network), the
#      wheel with --no-index --no-deps; the test sources (tests/ and what
#      they read: cibuildwheel's test-sources in pyproject.toml) are copied
#      to a directory without the package, so the venv's copy is imported;
#   2. in a private mount namespace (unshare -m; unshare -rm when not root)
#      where /dev/null is bind-mounted over every copy of the system's
#      libhiredis.so*, libssl.so* and libcrypto.so* that the dynamic linker
#      could find (ldconfig's cache and the usual library directories):
#      pytest tests/unit, then tools/wheel_smoke.py against the local
#      cluster and the TLS cluster (it first checks that the hidden files
#      really fail to load, so the run cannot pass by accident);
#   3. the same namespace with only hiredis hidden: the system's OpenSSL is
#      loaded first (CPython's ssl module) and LD_DEBUG=bindings shows that
#      the extension and its bundled libraries bind nothing outside the wheel.
# The mount namespace covers only the test processes; the cluster runs outside.
#
# usage: tools/test_wheels.sh WHEELHOUSE TEST_DEPS PYTHON...
# env:   RC_CLUSTER_URL, RC_CLUSTER_TLS_URL (the Makefile exports them);
#        KEEP_TMP=1 keeps the venvs.
set -euo pipefail
HOUSE=${1:?usage: $0 WHEELHOUSE TEST_DEPS PYTHON...}
TEST_DEPS=${2:?usage: $0 WHEELHOUSE TEST_DEPS PYTHON...}
shift 2
[ "$#" -gt 0 ] || { echo "usage: $0 WHEELHOUSE TEST_DEPS PYTHON..." >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOUSE=$(cd "$HOUSE" && pwd)
TEST_DEPS=$(cd "$TEST_DEPS" && pwd)
CLUSTER_URL=${RC_CLUSTER_URL:-redis://127.0.0.1:7000}
TLS_URL=${RC_CLUSTER_TLS_URL:-rediss://127.0.0.1:7020}

step() { echo "== test-wheels: $*"; }
fail() { echo "test-wheels: error: $*" >&2; exit 1; }

HIREDIS_VERSION=$("$ROOT/tools/wheel_deps.sh" --print HIREDIS_VERSION)
OPENSSL_VERSION=$("$ROOT/tools/wheel_deps.sh" --print OPENSSL_VERSION)
VERSION=$(sed -n 's/^__version__[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$ROOT/rediscluster/_version.py")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rc-test-wheels.XXXXXX")
cleanup() { if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi; }
trap cleanup EXIT

# ------------------------------------------------------------------ what to hide
# Every file the dynamic linker could load as NAME*: ldconfig's cache and the
# usual directories (multiarch ones included), resolved to the real files.
system_libs() {  # NAME...
    {
        for name in "$@"; do
            ldconfig -p 2>/dev/null | awk -v n="$name" 'index($1, n) == 1 { print $NF }'
            for dir in /lib /lib64 /usr/lib /usr/lib64 /usr/local/lib /usr/local/lib64 \
                       /lib/*-linux-gnu* /usr/lib/*-linux-gnu* /usr/local/lib/*-linux-gnu*; do
                if [ -d "$dir" ]; then ls -d "$dir/$name"* 2>/dev/null || true; fi
            done
        done
    } | while read -r f; do if [ -e "$f" ]; then readlink -f "$f"; fi; done | sort -u
}

if [ "$(id -u)" = 0 ]; then UNSHARE=(unshare -m --propagation private); else UNSHARE=(unshare -rm --propagation private); fi
# hidden "FILE..." CMD...: CMD in a mount namespace where each FILE is /dev/null.
hidden() {
    local files=$1; shift
    "${UNSHARE[@]}" sh -c 'for f in $0; do mount --bind /dev/null "$f" || exit 97; done; exec "$@"' \
        "$files" "$@"
}

HIDE_HIREDIS=$(system_libs libhiredis.so libhiredis_ssl.so | tr '\n' ' ')
HIDE_ALL=$(system_libs libhiredis.so libhiredis_ssl.so libssl.so libcrypto.so | tr '\n' ' ')
[ -n "$HIDE_HIREDIS" ] || echo "note: no system libhiredis found: nothing of hiredis to hide"
step "hidden in the test namespaces: ${HIDE_ALL:-nothing}"
hidden "$HIDE_ALL" true || fail "cannot make a private mount namespace (${UNSHARE[*]}): root or user namespaces are needed"

# ------------------------------------------------------------------ the tests, outside the source tree
mkdir -p "$TMP/src"
# What the unit tests read besides the package: the same list as cibuildwheel's
# test-sources (pyproject.toml), the one place it is kept.
TEST_SOURCES=$(sed -n 's/^test-sources = \[\(.*\)\]$/\1/p' "$ROOT/pyproject.toml" | tr -d '",')
[ -n "$TEST_SOURCES" ] || fail "no test-sources in pyproject.toml's [tool.cibuildwheel]"
for src in $TEST_SOURCES; do cp -r "$ROOT/$src" "$TMP/src/"; done
find "$TMP/src" -name __pycache__ -type d -prune -exec rm -rf {} +

tested=()
for py in "$@"; do
    tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    shopt -s nullglob
    wheels=("$HOUSE"/rediscluster-"$VERSION"-"$tag"-"$tag"-*.whl)
    shopt -u nullglob
    [ "${#wheels[@]}" = 1 ] || fail "$tag: expected one wheel in $HOUSE, found ${#wheels[@]} (run make wheels)"
    wheel=${wheels[0]}
    step "$tag: $(basename "$wheel")"
    venv=$TMP/venv-$tag
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --no-index --find-links "$TEST_DEPS" pytest pytest-timeout \
        || fail "$tag: installing pytest from $TEST_DEPS failed (make wheel-test-deps)"
    "$venv/bin/python" -m pip install -q --no-index --no-deps "$wheel"

    cd "$TMP/src"
    step "$tag: pytest tests/unit, system hiredis and OpenSSL hidden"
    hidden "$HIDE_ALL" env -u PYTHONPATH "$venv/bin/python" -m pytest tests/unit -q -p no:cacheprovider
    step "$tag: smoke test against the clusters, system hiredis and OpenSSL hidden"
    # shellcheck disable=SC2086
    hidden "$HIDE_ALL" env -u PYTHONPATH "$venv/bin/python" "$ROOT/tools/wheel_smoke.py" \
        --cluster "$CLUSTER_URL" --tls-cluster "$TLS_URL" \
        --hiredis "$HIREDIS_VERSION" --openssl "$OPENSSL_VERSION" --hidden $HIDE_ALL
    step "$tag: smoke test beside the system's OpenSSL (hiredis hidden), LD_DEBUG=bindings"
    # shellcheck disable=SC2086
    hidden "$HIDE_HIREDIS" env -u PYTHONPATH LD_DEBUG=bindings LD_DEBUG_OUTPUT="$TMP/ld-$tag" \
        "$venv/bin/python" "$ROOT/tools/wheel_smoke.py" \
        --cluster "$CLUSTER_URL" --tls-cluster "$TLS_URL" \
        --hiredis "$HIREDIS_VERSION" --openssl "$OPENSSL_VERSION" --hidden $HIDE_HIREDIS \
        --system-ssl --bindings "$TMP/ld-$tag"
    rm -f "$TMP/ld-$tag".*
    cd "$ROOT"
    tested+=("$wheel")
done

# A wheel that no interpreter here could test is an error, not a silent skip.
for wheel in "$HOUSE"/rediscluster-"$VERSION"-*.whl; do
    case " ${tested[*]} " in *" $wheel "*) ;; *) fail "$(basename "$wheel"): no interpreter here tested it" ;; esac
done
step "ok: ${#tested[@]} wheels, each with tests/unit and the smoke tests, system hiredis and OpenSSL hidden"
