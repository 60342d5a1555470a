"""Topology discovery under gevent: its queries wait on the hub like any
command (csrc/topology.c runs them through the sync driver), so a discovery
that waits for a silent node does not freeze the other greenlets."""

import socket
import time

import gevent
import pytest

pytestmark = pytest.mark.timeout(60)


def test_discovery_waits_on_the_hub(client, ticker):
    rc = client(socket_timeout=1.0)
    pool = rc.connection_pool
    # a "node" that accepts connections (the kernel's backlog) and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        pool._set_startup_nodes([("127.0.0.1", silent.getsockname()[1])], False)
        refreshes = pool._stats()["refreshes"]
        before = ticker.ticks
        t0 = time.monotonic()
        pool._refresh_now()  # the silent seed times out, then a known node answers
        elapsed = time.monotonic() - t0
    finally:
        silent.close()
    assert pool._stats()["refreshes"] == refreshes + 1
    assert len(pool.nodes.slots) == 16384
    assert 0.9 < elapsed < 3.0, elapsed
    assert ticker.ticks - before >= 60, ticker.ticks - before


def test_refreshes_in_many_greenlets_are_single_flight(client):
    rc = client()
    pool = rc.connection_pool
    time.sleep(0.3)  # the rate limit of the constructor's discovery
    n = pool._stats()["refreshes"]
    jobs = [gevent.spawn(pool._refresh, True) for _ in range(20)]
    gevent.joinall(jobs, raise_error=True)
    assert pool._stats()["refreshes"] == n + 1
    assert all(rc.ping().values())
