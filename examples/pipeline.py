"""Pipelines: queue many commands, send them in one go, get the replies in order.

A cluster pipeline groups the queued commands by the node that owns each key and
sends every group in one round trip (the groups in parallel), so keys may live
on any node. Usage: python examples/pipeline.py [host] [port]
"""

import sys

from rediscluster import RedisCluster


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rc = RedisCluster(host=host, port=port, decode_responses=True)

    keys = ["example:pipe:%d" % i for i in range(10)]
    tagged = ["example:{pipe}:a", "example:{pipe}:b"]
    try:
        # 1. Queue commands in a loop, then execute(): one list of replies,
        #    in the order the commands were queued.
        with rc.pipeline() as pipe:
            for i, key in enumerate(keys):
                pipe.set(key, i)
            print("10 SETs ->", pipe.execute())
        nodes = {rc.connection_pool.nodes.slots[rc.keyslot(k)][0]["name"] for k in keys}
        print("the 10 keys live on %d nodes: %s" % (len(nodes), ", ".join(sorted(nodes))))

        # 2. Commands return the pipeline, so they chain.
        replies = rc.pipeline().incr(keys[0]).incrby(keys[1], 10).get(keys[2]).execute()
        print("incr + incrby + get ->", replies)

        # 3. Inside a pipeline a multi-key command must have all its keys in one
        #    slot (as in redis-py-cluster): give them a common {hash tag}.
        print("mset + mget, one {hash tag} ->",
              rc.pipeline().mset({tagged[0]: "A", tagged[1]: "B"}).mget(tagged).execute())

        # 4. A failing command does not stop the others: with
        #    raise_on_error=False its reply is the exception object.
        pipe = rc.pipeline()
        pipe.set("example:pipe:text", "not a number")
        pipe.incr("example:pipe:text").get(keys[0])
        set_ok, incr_error, value = pipe.execute(raise_on_error=False)
        print("set ->", set_ok, "| incr ->", type(incr_error).__name__, incr_error,
              "| get ->", value)
    finally:
        # DELETE with keys in many slots: the client splits it per node.
        print("deleted", rc.delete(*keys, *tagged, "example:pipe:text"), "keys")
        rc.close()


if __name__ == "__main__":
    main()
