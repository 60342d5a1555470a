"""Topology discovery in the engine (csrc/topology.c) on the real cluster:
the NodeManager view against what the servers say, the periodic check
(topology_check_interval), single flight under many threads."""

import threading
import time

import pytest

from rediscluster import RedisCluster
from rediscluster.nodemanager import NodeManager

from rcit import key_for_slot, parse_info

pytestmark = pytest.mark.timeout(120)


def _view(nm):
    """{slot range start: (master port, sorted replica ports)} of a NodeManager."""
    out = {}
    for slot, nodes in nm.slots.items():
        out[slot] = (nodes[0]["port"], sorted(n["port"] for n in nodes[1:]))
    return out


def _servers_view(cluster):
    out = {}
    for start, end, master, replicas in cluster.slots_view():
        for s in range(start, end + 1):
            out[s] = (master, sorted(replicas))
    return out


@pytest.mark.parametrize("decode", [False, True])
def test_view_is_what_the_servers_say(cluster, new_client, decode):
    rc = new_client(decode_responses=decode)
    nm = rc.connection_pool.nodes
    assert _view(nm) == _servers_view(cluster)
    names = {"%s:%d" % (cluster.host, p) for p in cluster.ports}
    assert set(nm.nodes) == names
    for name, node in nm.nodes.items():
        assert type(node["host"]) is str and type(node["port"]) is int
        assert node["name"] == name
        assert node["server_type"] == ("master" if node["port"] in cluster.masters() else "slave")
    assert {n["name"] for n in nm.all_masters()} == {
        "%s:%d" % (cluster.host, p) for p in cluster.masters()}
    assert len(list(nm.all_nodes())) == 6
    assert nm.node_from_slot(0)["port"] == cluster.owner(0)
    assert nm.random_node()["name"] in names


def test_standalone_nodemanager_follow_cluster(cluster):
    nm = NodeManager(startup_nodes=[{"host": cluster.host, "port": cluster.base}],
                     nodemanager_follow_cluster=True)
    assert nm.startup_nodes == [{"host": cluster.host, "port": cluster.base,
                                 "name": "%s:%d" % (cluster.host, cluster.base)}]
    nm.initialize()
    assert sorted(n["port"] for n in nm.startup_nodes) == cluster.ports
    assert nm.orig_startup_nodes == [{"host": cluster.host, "port": cluster.base,
                                      "name": "%s:%d" % (cluster.host, cluster.base)}]
    assert nm.cluster_require_full_coverage(nm.nodes) is True
    assert nm.cluster_require_full_coverage({}) is True  # {}: the current nodes


def _slots_calls(cluster):
    """CLUSTER SLOTS calls over all nodes (Redis 6.2 counts every CLUSTER
    subcommand as one: only CLUSTER SLOTS is sent while this is used)."""
    total = 0
    for p in cluster.ports:
        info = parse_info(cluster.raw(p, "INFO", "commandstats"))
        stat = info.get("cmdstat_cluster|slots") or info.get("cmdstat_cluster", "calls=0")
        total += int(dict(kv.split("=") for kv in stat.split(","))["calls"])
    return total


def test_refreshes_from_many_threads_are_single_flight_and_rate_limited(cluster, new_client):
    """16 threads asking for refreshes as fast as they can for a second: at
    most one discovery per 250 ms, one CLUSTER SLOTS each."""
    rc = new_client()
    pool = rc.connection_pool
    time.sleep(0.3)
    n0, calls0 = pool._stats()["refreshes"], _slots_calls(cluster)
    stop = time.monotonic() + 1.0

    def worker():
        while time.monotonic() < stop:
            pool._refresh(True)
            rc.get("rcit:{x}:single-flight")

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refreshes = pool._stats()["refreshes"] - n0
    calls = _slots_calls(cluster) - calls0
    assert 3 <= refreshes <= 6, refreshes
    assert calls == refreshes, (calls, refreshes)


def test_check_interval_notices_a_moved_slot(cluster, migration, new_client):
    """A slot moves while the client sends nothing to it: with
    topology_check_interval the next command after the interval (on another
    slot) refreshes, so the client knows the new owner before any MOVED."""
    slot, other_slot = 1111, 15000
    checking = new_client(topology_check_interval=0.3, reinitialize_steps=10 ** 6)
    plain = new_client(reinitialize_steps=10 ** 6)
    src = cluster.owner(slot)
    assert checking.connection_pool.nodes.slots[slot][0]["port"] == src
    m = migration(slot)
    m.begin()
    m.move_rest()
    m.finish()
    time.sleep(0.35)
    checking.get(key_for_slot(other_slot, "tick"))
    plain.get(key_for_slot(other_slot, "tick"))
    assert checking.connection_pool.nodes.slots[slot][0]["port"] == m.dst
    assert checking.connection_pool._stats()["moved"] == 0
    assert plain.connection_pool.nodes.slots[slot][0]["port"] == src  # until a MOVED
    assert checking.set(key_for_slot(slot, "after"), "v") is True
    assert checking.connection_pool._stats()["moved"] == 0


def test_check_interval_on_the_client_signature(cluster_addr):
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], topology_check_interval=60)
    assert rc.get("rcit:{x}:sig") is None
    rc.close()


def test_check_interval_before_a_transaction(new_client, flush):
    rc = new_client(topology_check_interval=0.2)
    pool = rc.connection_pool
    n = pool._stats()["refreshes"]
    time.sleep(0.25)
    p = rc.pipeline(transaction=True)
    p.set(key_for_slot(42, "tx"), "1")
    p.get(key_for_slot(42, "tx"))
    assert p.execute() == [True, b"1"]
    assert pool._stats()["refreshes"] == n + 1
