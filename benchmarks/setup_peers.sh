#!/usr/bin/env bash
# Create the peer virtualenvs that benchmarks/compare.py measures against.
#
#   benchmarks/.venv-rpc          redis-py-cluster==2.1.3 + redis==3.5.3 (+ hiredis if one
#                                 works) + gevent (the gevent section monkey-patches it)
#   benchmarks/.venv-redispy      latest redis[hiredis]  (redis.cluster.RedisCluster and
#                                 redis.asyncio.cluster.RedisCluster)
#   benchmarks/.venv-glide        latest valkey-glide-sync  (glide_sync, Rust core)
#   benchmarks/.venv-glide-async  latest valkey-glide       (glide, asyncio, Rust core)
#
# The two glide packages each ship the same `glide_shared` package, so they get a
# venv each (two releases side by side would overwrite each other's files).
# Idempotent: a venv that already exists and imports what it should is left alone.
# Override the interpreter with PYTHON=/path/to/python3 (default: python3).
# FORCE=1 rebuilds every venv.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
RPC="$HERE/.venv-rpc"
RPY="$HERE/.venv-redispy"
PIP_FLAGS=(-q --disable-pip-version-check --no-input)

# The checks below run `python -c`, which puts the current directory on sys.path:
# from the repo root, our own rediscluster/ would shadow the original. Run from
# here (no packages in benchmarks/) and without the caller's PYTHONPATH.
cd "$HERE"
unset PYTHONPATH PYTHONHOME
export PYTHONNOUSERSITE=1

log() { echo "setup_peers: $*"; }

pipq() {  # pipq VENV ARGS... : pip install, output shown only when it fails
    local venv="$1" out rc=0; shift
    out=$("$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" "$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || printf '%s\n' "$out" >&2
    return "$rc"
}

# redis-py 3.5.3 silently falls back to its pure-Python parser when hiredis is
# missing or too new to import; this checks that the hiredis parser is really used
# and parses a reply the way redis 3.5.3 drives it.
RPC_HIREDIS_CHECK='
import warnings; warnings.simplefilter("ignore")
import redis.connection as c, hiredis
import rediscluster.connection as rc
assert c.HIREDIS_AVAILABLE and issubclass(rc.ClusterParser, c.HiredisParser), "redis 3.5.3 does not pick hiredis"
r = hiredis.Reader(protocolError=c.InvalidResponse, replyError=c.ResponseError)
r.feed(b"$3\r\nfoo\r\n+OK\r\n-ERR x\r\n")
assert r.gets() == b"foo" and r.gets() == b"OK" and isinstance(r.gets(), c.ResponseError)
assert r.gets() is False
print(hiredis.__version__)
'

venv_ok() {  # venv_ok DIR PYTHON-CODE
    [ -x "$1/bin/python" ] && "$1/bin/python" -c "$2" >/dev/null 2>&1
}

make_venv() {  # make_venv DIR
    rm -rf "$1"
    "$PY" -m venv "$1"
    pipq "$1" --upgrade pip 2>/dev/null || true
}

# ---------------------------------------------------------------- redis-py-cluster
RPC_CHECK='import rediscluster, redis; assert rediscluster.__version__ == "2.1.3", rediscluster.__version__; assert redis.__version__ == "3.5.3", redis.__version__; from rediscluster import RedisCluster'
if [ -z "${FORCE:-}" ] && venv_ok "$RPC" "$RPC_CHECK"; then
    log "$RPC present (redis-py-cluster 2.1.3, redis 3.5.3): skipped"
else
    log "creating $RPC"
    make_venv "$RPC"
    # setuptools: redis 3.5.3 imports distutils (gone from the stdlib in Python 3.12)
    pipq "$RPC" "redis-py-cluster==2.1.3" "redis==3.5.3" setuptools
    venv_ok "$RPC" "$RPC_CHECK" || { log "ERROR: $RPC does not import redis-py-cluster 2.1.3"; exit 1; }
fi
# gevent: the gevent section runs the original monkey-patched (it is pure Python)
if ! venv_ok "$RPC" 'import gevent.monkey'; then
    pipq "$RPC" gevent || { log "ERROR: gevent does not install into $RPC"; exit 1; }
fi
# hiredis: redis 3.5.3 predates hiredis 2.x/3.x; try newest first, older series after,
# keep the first that installs for this Python *and* passes the parser check.
# $RPC/.no-hiredis records that none did (delete it, or FORCE=1, to try again).
if ! venv_ok "$RPC" "$RPC_HIREDIS_CHECK" && [ ! -e "$RPC/.no-hiredis" ]; then
    hiredis_ok=""
    for spec in "hiredis" "hiredis<3" "hiredis<2"; do
        if pipq "$RPC" "$spec" 2>/dev/null && venv_ok "$RPC" "$RPC_HIREDIS_CHECK"; then
            hiredis_ok="$spec"; break
        fi
        "$RPC/bin/python" -m pip uninstall -q -y hiredis >/dev/null 2>&1 || true
    done
    if [ -z "$hiredis_ok" ]; then
        touch "$RPC/.no-hiredis"
        log "WARNING: no hiredis works with redis 3.5.3 on $("$RPC/bin/python" -V 2>&1): rpc runs WITHOUT hiredis (pure-Python parser)"
    fi
fi
if hv=$("$RPC/bin/python" -c "$RPC_HIREDIS_CHECK" 2>/dev/null); then
    log "rpc: redis-py-cluster 2.1.3, redis 3.5.3, hiredis $hv (used by redis 3.5.3), gevent $("$RPC/bin/python" -c 'import gevent; print(gevent.__version__)')"
else
    log "rpc: redis-py-cluster 2.1.3, redis 3.5.3, NO hiredis (pure-Python parser), gevent $("$RPC/bin/python" -c 'import gevent; print(gevent.__version__)')"
fi

# ---------------------------------------------------------------- redis-py (latest)
RPY_CHECK='import redis, hiredis; from redis.cluster import RedisCluster; from redis.asyncio.cluster import RedisCluster; from redis.utils import HIREDIS_AVAILABLE; assert HIREDIS_AVAILABLE'
if [ -z "${FORCE:-}" ] && venv_ok "$RPY" "$RPY_CHECK"; then
    log "$RPY present: skipped"
else
    log "creating $RPY"
    make_venv "$RPY"
    pipq "$RPY" "redis[hiredis]"
    venv_ok "$RPY" "$RPY_CHECK" || { log "ERROR: $RPY does not import redis.cluster with hiredis"; exit 1; }
fi
log "redispy: $("$RPY/bin/python" -c 'import redis, hiredis; print("redis", redis.__version__, "hiredis", hiredis.__version__)')"

# ---------------------------------------------------------------- valkey-glide (latest)
glide_venv() {  # glide_venv DIR PACKAGE MODULE
    local venv="$1" pkg="$2" mod="$3"
    local check="import $mod; from $mod import GlideClusterClient, GlideClusterClientConfiguration, NodeAddress, ClusterBatch"
    if [ -z "${FORCE:-}" ] && venv_ok "$venv" "$check"; then
        log "$venv present: skipped"
    else
        log "creating $venv"
        make_venv "$venv"
        pipq "$venv" "$pkg"
        venv_ok "$venv" "$check" || { log "ERROR: $venv does not import $mod"; exit 1; }
    fi
    log "$(basename "$venv" | sed 's/^.venv-//'): $pkg $("$venv/bin/python" -c "from importlib.metadata import version; print(version('$pkg'))")"
}
glide_venv "$HERE/.venv-glide" valkey-glide-sync glide_sync
glide_venv "$HERE/.venv-glide-async" valkey-glide glide
