"""Smoke test of an installed wheel against the local clusters (`make
test-wheels`, tools/test_wheels.sh runs it with the venv's Python, from a
directory without the source tree).

    wheel_smoke.py --cluster URL --tls-cluster URL --hiredis 1.2.0 --openssl 3.5.7
                   [--hidden FILE...] [--system-ssl] [--bindings LD_DEBUG_OUTPUT]

--hidden FILE...  the system libraries that the caller bind-mounted /dev/null
                  over: each must now fail to load (else the hiding did not
                  work and the run proves nothing)
--system-ssl      load the system's OpenSSL first (import ssl, a default
                  context): our extension must still use its own copy
--bindings PATH   LD_DEBUG=bindings output (LD_DEBUG_OUTPUT=PATH, so the file
                  is PATH.<pid>): every symbol that the extension and its
                  bundled libraries bound must come from the bundled
                  libraries, never from a hiredis or OpenSSL outside the wheel

Then: rediscluster and rediscluster._core come from the venv; the hiredis
version compiled in and the OpenSSL version loaded are the pinned ones; the
mapped hiredis and OpenSSL are the wheel's (rediscluster.libs/); commands,
a pipeline and keys on every master work on the plain cluster and over TLS
(verifying with the TLS cluster's CA, whose path a first, non-verifying
connection reads with CONFIG GET).
"""

import argparse
import ctypes
import os
import re
import sys

BINDING = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: \w+ symbol `([^']+)'")
OUR_LIBS = re.compile(r"^lib(ssl|crypto|hiredis)[-.]")

checks = []


def ok(what):
    checks.append(what)
    print("  ok  %s" % what)


def fail(what):
    sys.exit("wheel-smoke: FAILED: %s" % what)


def mapped_files():
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                paths.add(parts[5].strip())
    return paths


def exercise(client, label, nkeys):
    """set/get/incr/delete on nkeys keys (all three masters), and a pipeline."""
    keys = ["rcwheel:%s:%d" % (label, i) for i in range(nkeys)]
    masters = {tuple(client.connection_pool.nodes.slots[client.keyslot(k)][0]["name"].split(":"))
               for k in keys}
    for k in keys:
        if client.set(k, k) is not True:
            fail("%s: SET %s" % (label, k))
    got = [client.get(k) for k in keys]
    if got != [k.encode() for k in keys]:
        fail("%s: GET gave %r..." % (label, got[:3]))
    pipe = client.pipeline()
    for k in keys:
        pipe.incr(k + ":n")
    if pipe.execute() != [1] * nkeys:
        fail("%s: pipeline INCR" % label)
    deleted = sum(client.delete(k) + client.delete(k + ":n") for k in keys)
    if deleted != 2 * nkeys:
        fail("%s: DEL removed %d of %d keys" % (label, deleted, 2 * nkeys))
    if len(masters) < 3:
        fail("%s: the keys reached %d masters, not 3" % (label, len(masters)))
    ok("%s: SET/GET/pipeline INCR/DEL of %d keys on %d masters" % (label, nkeys, len(masters)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--tls-cluster", required=True)
    ap.add_argument("--hiredis", required=True)
    ap.add_argument("--openssl", required=True)
    ap.add_argument("--hidden", nargs="*", default=[])
    ap.add_argument("--system-ssl", action="store_true")
    ap.add_argument("--bindings")
    args = ap.parse_args()

    for path in args.hidden:
        for name in (path, os.path.basename(path)):
            try:
                ctypes.CDLL(name)
            except OSError:
                continue
            fail("%s still loads: the system library is not hidden" % name)
    if args.hidden:
        ok("hidden from this process (they fail to load): %s" % " ".join(args.hidden))

    system_ssl = None
    if args.system_ssl:
        import ssl  # the system's OpenSSL, through CPython's _ssl module

        ssl.create_default_context()
        system_ssl = ssl.OPENSSL_VERSION
        ok("the system's OpenSSL is loaded too: %s" % system_ssl)

    import rediscluster
    import rediscluster._core as core
    from rediscluster import RedisCluster

    venv = os.path.realpath(sys.prefix)
    for mod in (rediscluster, core):
        if not os.path.realpath(mod.__file__).startswith(venv + os.sep):
            fail("%s imported from %s, not from %s" % (mod.__name__, mod.__file__, venv))
    ok("rediscluster %s from %s" % (rediscluster.__version__, os.path.dirname(core.__file__)))
    bundled_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(core.__file__))),
                               "rediscluster.libs")

    want = tuple(int(x) for x in args.hiredis.split("."))
    if tuple(core.hiredis_version)[: len(want)] != want:
        fail("hiredis %s compiled in, pinned %s" % (core.hiredis_version, args.hiredis))
    ok("hiredis %s compiled in" % ".".join(map(str, core.hiredis_version)))

    host, port = args.cluster.rsplit("//", 1)[-1].rsplit(":", 1)
    client = RedisCluster(host=host, port=int(port), socket_timeout=5.0)
    exercise(client, "plain", 60)
    client.close()

    host, port = args.tls_cluster.rsplit("//", 1)[-1].rsplit(":", 1)
    probe = RedisCluster(host=host, port=int(port), ssl=True, ssl_cert_reqs="none", socket_timeout=5.0)
    # {node: {"tls-ca-cert-file": path}} (CONFIG GET goes to every node)
    ca = sorted({conf.get("tls-ca-cert-file") for conf in probe.config_get("tls-ca-cert-file").values()})
    probe.close()
    if len(ca) != 1 or not os.path.isfile(ca[0]):
        fail("CONFIG GET tls-ca-cert-file gave %r" % (ca,))
    client = RedisCluster(host=host, port=int(port), ssl=True, ssl_ca_certs=ca[0],
                          ssl_cert_reqs="required", socket_timeout=5.0)
    exercise(client, "tls", 30)
    client.close()

    maps = mapped_files()
    ours = {p for p in maps if OUR_LIBS.match(os.path.basename(p))}
    inside = {os.path.basename(p).split("-")[0] for p in ours if p.startswith(bundled_dir + os.sep)}
    if inside != {"libssl", "libcrypto", "libhiredis"}:
        fail("mapped from %s: %s (all mapped: %s)" % (bundled_dir, sorted(inside), sorted(ours)))
    outside = sorted(p for p in ours if not p.startswith(bundled_dir + os.sep))
    if any("hiredis" in os.path.basename(p) for p in outside):
        fail("a hiredis outside the wheel is mapped: %s" % outside)
    if args.system_ssl and not outside:
        fail("--system-ssl, yet no system OpenSSL is mapped")
    if not args.system_ssl and outside:
        fail("an OpenSSL outside the wheel is mapped: %s" % outside)
    ok("hiredis and OpenSSL mapped from %s%s" % (
        bundled_dir, "; the system's too: %s" % " ".join(outside) if outside else ""))

    crypto = [p for p in ours if p.startswith(bundled_dir) and "libcrypto" in p][0]
    lib = ctypes.CDLL(crypto)
    lib.OpenSSL_version.restype = ctypes.c_char_p
    lib.OpenSSL_version.argtypes = [ctypes.c_int]
    loaded = lib.OpenSSL_version(0).decode()
    if not loaded.startswith("OpenSSL %s " % args.openssl):
        fail("the bundled libcrypto says %r, pinned %s" % (loaded, args.openssl))
    ok("bundled OpenSSL: %s" % loaded)

    if args.bindings:
        path = "%s.%d" % (args.bindings, os.getpid())
        with open(path, errors="replace") as f:
            bindings = [tuple(os.path.realpath(x) for x in m.groups()[:2]) + (m.group(3),)
                        for m in map(BINDING.search, f) if m]
        core_path = os.path.realpath(core.__file__)
        from_ours = [(src, dst, sym) for src, dst, sym in bindings
                     if src == core_path or src.startswith(bundled_dir + os.sep)]
        wrong = [(src, dst, sym) for src, dst, sym in from_ours
                 if OUR_LIBS.match(os.path.basename(dst)) and not dst.startswith(bundled_dir + os.sep)]
        if wrong:
            fail("bound outside the wheel: %s" % wrong[:5])
        to_bundled = {sym for src, dst, sym in from_ours
                      if src == core_path and dst.startswith(bundled_dir + os.sep)}
        # (the handshake runs without blocking: SSL_do_handshake, not SSL_connect)
        for sym in ("SSL_CTX_new", "SSL_do_handshake", "redisReaderCreateWithFunctions"):
            if sym not in to_bundled:
                fail("no binding of %s from the extension to the bundled libraries" % sym)
        others = {sym for src, dst, sym in bindings
                  if OUR_LIBS.match(os.path.basename(dst)) and not dst.startswith(bundled_dir + os.sep)}
        if args.system_ssl and "SSL_CTX_new" not in others:
            fail("--system-ssl, yet CPython's ssl module bound no SSL_CTX_new of its own")
        ok("LD_DEBUG bindings: %d from the extension and its libraries, none outside the wheel; "
           "%d symbols bound to the system's OpenSSL by others" % (len(from_ours), len(others)))

    print("wheel-smoke: %d checks passed" % len(checks))


if __name__ == "__main__":
    main()
