"""TLS: connect to a cluster whose nodes speak TLS only, verifying them with
the CA that signed their certificate (ssl_ca_certs).

Run the local TLS cluster with `make cluster-start-tls`; its certificates are in
${TMPDIR:-/tmp}/rediscluster-cluster-7020/tls/.
Usage: python examples/tls.py [host] [port] [ca.crt]
"""

import os
import sys
import tempfile

from rediscluster import RedisCluster


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7020
    ca = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        tempfile.gettempdir(), "rediscluster-cluster-%d" % port, "tls", "ca.crt")
    print("CA:", ca)

    # ssl=True + ssl_ca_certs: the nodes' certificates must be signed by that
    # CA and name the host (ssl_cert_reqs defaults to 'required'). For mutual
    # TLS add ssl_certfile= / ssl_keyfile= (the client's certificate).
    rc = RedisCluster(host=host, port=port, ssl=True, ssl_ca_certs=ca,
                      decode_responses=True)
    try:
        print("nodes:", sorted(rc.connection_pool.nodes.nodes))
        print("set ->", rc.set("example:tls", "secret"))
        print("get ->", rc.get("example:tls"))
    finally:
        print("deleted", rc.delete("example:tls"), "key")
        rc.close()

    # The same with a URL: rediss:// means TLS.
    rc = RedisCluster.from_url("rediss://%s:%d" % (host, port), ssl_ca_certs=ca)
    try:
        print("from_url ping ->", rc.ping())
    finally:
        rc.close()


if __name__ == "__main__":
    main()
