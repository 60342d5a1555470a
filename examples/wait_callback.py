"""Plug your own event loop into the engine's waits with set_wait_callback.

The engine asks the function to wait for sockets (or to sleep); here a plain
select() stands in for an event loop's wait, and counts its calls. An
eventlet or other green-thread library would wait on its hub instead (see
docs/gevent.rst). Usage: python examples/wait_callback.py [host] [port]"""

import select
import sys

import rediscluster
from rediscluster import RedisCluster

calls = {"waits": 0, "sleeps": 0}


def select_wait(fds, timeout):
    """fds: [(fd, events)] with select.POLLIN / POLLOUT; timeout: seconds or None."""
    if not fds:
        calls["sleeps"] += 1
        select.select([], [], [], timeout or 0)
        return []
    calls["waits"] += 1
    readers = [fd for fd, ev in fds if ev & select.POLLIN]
    writers = [fd for fd, ev in fds if ev & select.POLLOUT]
    r, w, _ = select.select(readers, writers, [], timeout)
    return [(fd, select.POLLIN) for fd in r] + [(fd, select.POLLOUT) for fd in w]


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 7000
    rediscluster.set_wait_callback(select_wait)
    try:
        rc = RedisCluster(host=host, port=port, decode_responses=True)
        print("set ->", rc.set("example:{wait}:k", "v"))
        print("get ->", rc.get("example:{wait}:k"))
        p = rc.pipeline()
        for i in range(5):
            p.incr("example:{wait}:n")
        print("pipeline ->", p.execute())
        print("blpop 0.2 s ->", rc.blpop("example:{wait}:empty", 0.2))
        rc.delete("example:{wait}:k", "example:{wait}:n")
        print("the wait function ran:", calls["waits"] > 0)
    finally:
        rediscluster.set_wait_callback(None)  # back to the native driver
    print("native again:", rediscluster.get_wait_callback() is None)


if __name__ == "__main__":
    main()
