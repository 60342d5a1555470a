"""Reads from replicas: read_from_replicas=True spreads read-only commands
(GET, MGET, HGETALL, ...) over a slot's master and its replicas; writes still
go to the master. Replication is asynchronous, so a read right after a write
may see the old value on a replica.
Usage: python examples/read_from_replicas.py [host] [port]
"""

import sys
import time

from rediscluster import RedisCluster

KEY = "example:replicated"
READS = 100


def get_calls(rc):
    """{node name: GET calls so far}, from each node's INFO commandstats."""
    stats = rc.info("commandstats")  # fans out to every node: {node: {...}}
    return {node: s.get("cmdstat_get", {}).get("calls", 0) for node, s in stats.items()}


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rc = RedisCluster(host=host, port=port, decode_responses=True,
                      read_from_replicas=True)
    try:
        rc.set(KEY, "hello")  # a write: always the master
        master, *replicas = rc.connection_pool.nodes.slots[rc.keyslot(KEY)]
        print("slot %d: master %s, replica(s) %s" % (
            rc.keyslot(KEY), master["name"], ", ".join(r["name"] for r in replicas)))

        # Wait until the replicas have the value (asynchronous replication).
        deadline = time.monotonic() + 5
        while rc.get(KEY) != "hello" and time.monotonic() < deadline:
            time.sleep(0.01)

        before = get_calls(rc)
        values = {rc.get(KEY) for _ in range(READS)}
        after = get_calls(rc)
        print("%d GETs returned %s" % (READS, sorted(values, key=str)))

        # Which node served the reads (other clients' GETs would count too).
        served = {n: after.get(n, 0) - before.get(n, 0) for n in after}
        name = master["name"]
        print("  master  %s served %d GETs" % (name, served.get(name, 0)))
        for r in replicas:
            print("  replica %s served %d GETs" % (r["name"], served.get(r["name"], 0)))
        if not any(served.get(r["name"], 0) for r in replicas):
            raise SystemExit("no GET reached a replica")
    finally:
        print("deleted", rc.delete(KEY), "key")
        rc.close()


if __name__ == "__main__":
    main()
