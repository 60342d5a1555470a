"""A master killed with kill -9 while greenlets hammer its slots: every read
returns a value written to that key (an earlier one at worst: replication is
asynchronous), errors only during the promotion, and recovery afterwards."""

import time

import gevent
import pytest

from rediscluster.exceptions import ClusterError, ConnectionError, TimeoutError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ALLOWED = (ConnectionError, TimeoutError, ClusterError)


def _slots_of(client, port):
    return [s for s, nodes in client.connection_pool.nodes.slots.items()
            if nodes[0]["port"] == port]


def test_kill_master_under_gevent_load(client, cluster_addr, cluster_script):
    c = client(socket_timeout=1.0, socket_connect_timeout=1.0)
    masters = sorted({n["port"] for n in c.connection_pool.nodes.all_masters()})
    master = [p for p in masters if p != cluster_addr[1]][-1]
    owned = _slots_of(c, master)
    keys = []
    for s in owned[:: max(1, len(owned) // 20)]:
        i = 0
        while True:  # a key of slot s
            k = "rcit:gvfo:%d:%d" % (s, i)
            if c.keyslot(k) == s:
                keys.append(k)
                break
            i += 1
    written = {k: {b"0"} for k in keys}
    for k in keys:
        c.set(k, b"0")
    wrong, errors = [], []
    stop = {"at": None}

    def worker(n):
        i = 0
        while stop["at"] is None or time.monotonic() < stop["at"]:
            k = keys[(n + i) % len(keys)]
            v = b"%d-%d" % (n, i)
            written[k].add(v)  # before: a write cut off may still have landed
            try:
                c.set(k, v)
                got = c.get(k)
                if got is not None and got not in written[k]:
                    wrong.append((k, got))
            except ALLOWED as e:
                errors.append((time.monotonic(), e))
                gevent.sleep(0.05)
            i += 1
            gevent.sleep(0)

    jobs = [gevent.spawn(worker, n) for n in range(8)]
    try:
        gevent.sleep(1.0)
        killed_at = time.monotonic()
        cluster_script("kill-node", master)
        # recovered: a full second without errors, within 30 s
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            gevent.sleep(0.5)
            last = errors[-1][0] if errors else killed_at
            if time.monotonic() - last > 1.5:
                break
        stop["at"] = time.monotonic() + 0.5
        gevent.joinall(jobs, raise_error=True)
        assert wrong == []
        last = errors[-1][0] if errors else killed_at
        assert last - killed_at < 30, errors[-3:]
    finally:
        stop["at"] = stop["at"] or time.monotonic()
        gevent.joinall(jobs)
        cluster_script("wait", "--restore-roles", timeout=180)
        c.delete(*keys)
