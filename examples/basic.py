"""The two-minute start: connect to the local cluster (`make cluster-start`) and
run a few commands. Usage: python examples/basic.py [host] [port]"""

import sys

from rediscluster import RedisCluster


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rc = RedisCluster(host=host, port=port, decode_responses=True)
    print("client:", rc)
    print("nodes:", sorted(rc.connection_pool.nodes.nodes))

    print("set foo=bar ->", rc.set("example:foo", "bar"))
    print("get foo ->", rc.get("example:foo"))
    print("incr counter ->", rc.incr("example:counter"))
    for key in ("example:a", "example:b", "example:c"):
        rc.set(key, key.upper())
        print("  %s lives in slot %5d on %s" % (
            key, rc.keyslot(key),
            rc.connection_pool.nodes.slots[rc.keyslot(key)][0]["name"]))
    print("exists ->", rc.exists("example:foo"))
    print("ping ->", rc.ping())
    keys = ("example:foo", "example:counter", "example:a", "example:b", "example:c")
    print("delete ->", sum(rc.delete(k) for k in keys))


if __name__ == "__main__":
    main()
