"""Sharded Pub/Sub (Redis 7: SSUBSCRIBE, SPUBLISH).

A shard channel lives in a hash slot like a key: SPUBLISH goes to the node
owning that slot only, and the subscriber keeps one connection per node that
owns one of its channels. Messages have type 'smessage'.
Usage: python examples/sharded_pubsub.py [host] [port]
"""

import sys
import time

from rediscluster import RedisCluster


def wait_for(p, type_, timeout=5.0):
    """The next message of the given type, read with get_message(timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = p.get_message(timeout=0.5)
        if message is not None and message["type"] == type_:
            return message
    raise SystemExit("no %r message within %.0f s" % (type_, timeout))


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rc = RedisCluster(host=host, port=port, decode_responses=True)

    channels = ["example:orders:eu", "example:orders:us", "example:orders:asia"]
    for channel in channels:
        slot = rc.keyslot(channel)
        print("%-20s slot %5d on %s" % (
            channel, slot, rc.connection_pool.nodes.slots[slot][0]["name"]))

    p = rc.pubsub()
    try:
        # One SSUBSCRIBE per slot, sent to the slot's master; each channel is
        # confirmed by an 'ssubscribe' message.
        p.ssubscribe(*channels)
        for _ in channels:
            wait_for(p, "ssubscribe")
        print("subscribed to %d shard channels" % len(channels))

        # SPUBLISH returns the number of subscribers that got the message.
        for channel in channels:
            receivers = rc.spublish(channel, "new order for " + channel.rsplit(":", 1)[1])
            message = wait_for(p, "smessage")
            print("spublish -> %d receiver(s); received: %s on %s" % (
                receivers, message["data"], message["channel"]))

        # SUNSUBSCRIBE with no argument: all shard channels.
        p.sunsubscribe()
        for _ in channels:
            wait_for(p, "sunsubscribe")
        print("unsubscribed from all shard channels")
    finally:
        p.close()
        rc.close()
    print("done")


if __name__ == "__main__":
    main()
