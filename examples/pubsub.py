"""Publish/subscribe (classic Pub/Sub: SUBSCRIBE, PSUBSCRIBE, PUBLISH).

The cluster forwards every PUBLISH to all nodes, so the subscriber needs one
connection only. Usage: python examples/pubsub.py [host] [port]
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

    p = rc.pubsub()
    try:
        # Subscribe to a channel and to a pattern; each is confirmed by a
        # message of type 'subscribe' / 'psubscribe' (read it to know the
        # subscription is active; or pubsub(ignore_subscribe_messages=True)).
        p.subscribe("example:news")
        print("confirmed:", wait_for(p, "subscribe"))
        p.psubscribe("example:alerts:*")
        print("confirmed:", wait_for(p, "psubscribe"))

        # PUBLISH from the normal client; messages arrive as dicts.
        rc.publish("example:news", "hello subscribers")
        message = wait_for(p, "message")
        print("received: %s on %s" % (message["data"], message["channel"]))

        rc.publish("example:alerts:disk", "disk almost full")
        message = wait_for(p, "pmessage")
        print("received: %s on %s (pattern %s)" % (
            message["data"], message["channel"], message["pattern"]))

        # Nothing more is waiting: get_message returns None after the timeout.
        print("next message ->", p.get_message(timeout=0.2))

        p.unsubscribe()
        p.punsubscribe()
    finally:
        p.close()
        rc.close()
    print("done")


if __name__ == "__main__":
    main()
