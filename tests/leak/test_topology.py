"""Topology discovery (csrc/topology.c) neither leaks nor grows: thousands of
refreshes -- successful, and failing with an exception each time -- leave the
RSS, the gc population and the exception objects where they were."""

import gc
import resource
import socket

import pytest

from rediscluster.exceptions import RedisClusterException
from rediscluster.nodemanager import NodeManager

pytestmark = [pytest.mark.leak, pytest.mark.slow]

PAGE = resource.getpagesize()


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def _flat(fn, n, max_growth_mib=1.0):
    for _ in range(200):
        fn()
    gc.collect()
    rss0, objs0 = rss_mib(), len(gc.get_objects())
    excs0 = sum(1 for o in gc.get_objects() if isinstance(o, BaseException))
    for _ in range(n):
        fn()
    gc.collect()
    grown = rss_mib() - rss0
    assert grown < max_growth_mib, "RSS grew %.2f MiB over %d calls" % (grown, n)
    assert len(gc.get_objects()) - objs0 < 100
    assert sum(1 for o in gc.get_objects() if isinstance(o, BaseException)) - excs0 < 5


def test_refreshes(new_client):
    """5000 discoveries of the cluster (a 32 KiB leak each would be 160 MiB)."""
    pool = new_client().connection_pool
    n0 = pool._stats()["refreshes"]
    _flat(pool._refresh_now, 5000)
    assert pool._stats()["refreshes"] - n0 == 5200
    assert len(pool.nodes.slots) == 16384


def test_failing_discoveries():
    """Discoveries that fail: an unreachable startup node (the error names
    it), 3000 times."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    nm = NodeManager(startup_nodes=[{"host": "127.0.0.1", "port": port}], socket_timeout=1)

    def fail():
        try:
            nm.initialize()
        except RedisClusterException as e:
            assert "cannot be connected" in str(e)
        else:
            raise AssertionError("no error")

    _flat(fail, 3000)
