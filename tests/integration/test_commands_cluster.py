"""CLUSTER commands: reply shapes (§4.5, Appendix A), routing of the node-id
helpers to THAT node (the original ignored node_id), slot states, a manual
failover and back, DELSLOTS/ADDSLOTS and back.

Run on a private cluster: the failover, SETSLOT and DELSLOTS tests change the
cluster and restore it.
"""

import pytest

from rediscluster.commands.cluster import parse_cluster_nodes, parse_cluster_slots
from rediscluster.exceptions import DataError, RedisClusterException, RedisError, ResponseError

from rcit import crc_slot, key_for_slot, parse_info, wait_for

NODE_KEYS = {"id", "host", "port", "cluster-bus-port", "flags", "master", "ping-sent",
             "pong-recv", "link-state", "slots", "migrations"}


@pytest.fixture(scope="module")
def ids(cluster):
    """{port: node id}"""
    return {p: cluster.node_id(p) for p in cluster.ports}


def _name(cluster, port):
    return "%s:%d" % (cluster.host, port)


def _cluster_ok(cluster):
    for p in cluster.ports:
        info = parse_info(cluster.raw(p, "CLUSTER", "INFO"))
        if info["cluster_state"] != "ok" or info["cluster_slots_assigned"] != "16384":
            return False
    return True


def _myself(cluster, port):
    text = cluster.raw(port, "CLUSTER", "NODES")
    return next(n for n in parse_cluster_nodes(text) if "myself" in n["flags"])


# ---------------------------------------------------------------- views


@pytest.mark.parametrize("decoded", [False, True])
def test_cluster_slots(rc, rc_decoded, cluster, decoded):
    c = rc_decoded if decoded else rc
    slots = c.cluster_slots()
    want = {(start, end): {"master": (cluster.host, master),
                           "slaves": [(cluster.host, r) for r in replicas]}
            for start, end, master, replicas in cluster.slots_view()}
    assert slots == want


@pytest.mark.parametrize("decoded", [False, True])
def test_cluster_nodes_and_replicas(rc, rc_decoded, cluster, ids, decoded):
    c = rc_decoded if decoded else rc
    nodes = c.cluster_nodes()
    assert len(nodes) == len(cluster.ports)
    by_port = {n["port"]: n for n in nodes}
    assert set(by_port) == set(cluster.ports)
    masters = cluster.masters()
    for port, n in by_port.items():
        assert set(n) == NODE_KEYS
        assert n["id"] == ids[port] and n["host"] == cluster.host
        assert n["cluster-bus-port"] == port + 10000
        assert isinstance(n["flags"], tuple) and n["link-state"] == "connected"
        assert isinstance(n["ping-sent"], int) and isinstance(n["pong-recv"], int)
        if port in masters:
            assert "master" in n["flags"] and n["master"] is None
            assert isinstance(n["slots"], tuple)
            assert list(n["slots"]) == cluster.slots_of(port)
        else:
            assert "slave" in n["flags"] and n["master"] in ids.values()
            assert n["slots"] == []
        assert n["migrations"] == []
    for m in masters:
        for replicas in (c.cluster_slaves(ids[m]), c.cluster_replicas(ids[m])):
            assert [r["port"] for r in replicas] == [cluster.replica_of(m)]
            assert replicas[0]["master"] == ids[m]


def test_parsers_edge_cases():
    text = ("a1 127.0.0.1:7000@17000,host-a myself,master - 0 1 1 connected 0-2 5 "
            "[6->-b2] [7-<-c3]\n"
            "b2 :7001 slave,fail? a1 5 6 1 disconnected\n")
    a, b = parse_cluster_nodes(text.encode())
    assert a["host"] == "127.0.0.1" and a["port"] == 7000 and a["cluster-bus-port"] == 17000
    assert a["slots"] == (0, 1, 2, 5)
    assert a["migrations"] == [{"slot": 6, "node_id": "b2", "state": "migrating"},
                               {"slot": 7, "node_id": "c3", "state": "importing"}]
    assert b["host"] == "" and b["cluster-bus-port"] == 17001
    assert b["flags"] == ("slave", "fail?") and b["master"] == "a1"
    assert b["link-state"] == "disconnected" and b["slots"] == []
    assert parse_cluster_nodes([b"b2 :7001 slave a1 5 6 1 connected"], current_host="h")[0]["host"] == "h"
    reply = [[0, 10, [b"", 7000, b"id"], [b"10.0.0.2", 7003, b"id2", []]]]
    assert parse_cluster_slots(reply, current_host="10.0.0.1") == {
        (0, 10): {"master": ("10.0.0.1", 7000), "slaves": [("10.0.0.2", 7003)]}}


@pytest.mark.needs("cluster-shards")
@pytest.mark.parametrize("decoded", [False, True])
def test_cluster_info_myid_shards(rc, rc_decoded, cluster, ids, decoded):
    c = rc_decoded if decoded else rc
    info = c.cluster_info()
    assert set(info) == {_name(cluster, p) for p in cluster.ports}
    for v in info.values():
        assert v["cluster_state"] == "ok"
        assert v["cluster_slots_assigned"] == 16384
        assert v["cluster_known_nodes"] == len(cluster.ports)
    assert set(c.cluster("info")) == set(info)
    assert c.cluster_myid() == {_name(cluster, p): ids[p] for p in cluster.ports}
    shards = c.cluster_shards()
    assert len(shards) == len(cluster.masters())
    assert shards[0][0] == ("slots" if decoded else b"slots")


# ---------------------------------------------------------------- slots and keys


@pytest.mark.parametrize("decoded", [False, True])
def test_keyslot_countkeys_getkeys(rc, rc_decoded, decoded, flush):
    c = rc_decoded if decoded else rc
    assert c.cluster_keyslot("foo") == 12182 == c.keyslot("foo")
    assert c.cluster("keyslot", "{foo}bar") == 12182
    assert rc.cluster_keyslot(b"\xff\xfe") == crc_slot(b"\xff\xfe")
    slot = 4242
    keys = [key_for_slot(slot, "k%d" % i) for i in range(3)]
    # The shared cluster may hold other keys in this slot: count relative.
    before = c.cluster_countkeysinslot(slot)
    existing = set(c.cluster_get_keys_in_slot(slot, before + 10))
    for k in keys:
        c.set(k, "v")
    assert c.cluster_countkeysinslot(slot) == before + 3
    assert c.cluster_countkeysinslot(str(slot)) == before + 3
    got = set(c.cluster_get_keys_in_slot(slot, before + 10)) - existing
    assert sorted(got) == sorted(keys if decoded else [k.encode() for k in keys])
    assert len(c.cluster_get_keys_in_slot(str(slot), 2)) == 2


def test_count_failure_report_save_config(rc, cluster, ids):
    for port in cluster.ports:
        assert rc.cluster_count_failure_report(ids[port]) == 0
    assert rc.cluster_save_config() == {_name(cluster, p): True for p in cluster.ports}


# ---------------------------------------------------------------- node-id routing


def test_node_id_helpers_go_to_that_node(new_client, cluster, ids):
    c = new_client()
    pool = c.connection_pool
    sent = []
    real = pool._node_command

    def spy(host, port, *args):
        sent.append((port, args[0]))
        return real(host, port, *args)

    targets = [cluster.masters()[0], cluster.replica_of(cluster.masters()[0])]
    other = cluster.masters()[-1]
    pool._node_command = spy
    try:
        for port in targets:
            # meeting a known node: a short handshake, then nothing changes
            assert c.cluster_meet(ids[port], cluster.host, other) is True
        assert sent == [(p, "CLUSTER MEET") for p in targets]
    finally:
        del pool._node_command
        wait_for(lambda: not any(b"handshake" in cluster.raw(p, "CLUSTER", "NODES")
                                 for p in cluster.ports), 20, message="handshakes done")
    with pytest.raises(RedisClusterException, match="Unknown node id"):
        c.cluster_meet("0" * 40, cluster.host, cluster.ports[0])


def test_node_id_helpers_errors_come_from_that_node(rc, cluster, ids, flush):
    master = cluster.masters()[0]
    replica = cluster.replica_of(master)
    other = next(m for m in cluster.masters() if m != master)
    # a master with keys refuses CLUSTER RESET (nothing is reset)
    slot = cluster.slots_of(master)[0]
    rc.set(key_for_slot(slot, "reset"), "v")
    with pytest.raises(ResponseError, match="containing keys"):
        rc.cluster_reset(ids[master])
    with pytest.raises(ResponseError, match="containing keys"):
        rc.cluster_reset(ids[master], soft=False)
    # a master with slots cannot become a replica
    with pytest.raises(ResponseError, match="empty and without assigned slots"):
        rc.cluster_replicate(ids[other], node_id=ids[master])
    with pytest.raises(DataError):
        rc.cluster_replicate(ids[other])
    # only a replica can fail over
    with pytest.raises(ResponseError, match="replica"):
        rc.cluster_failover(ids[master])
    with pytest.raises(RedisError, match="Invalid option"):
        rc.cluster_failover(ids[replica], "soon")
    # a node that knows others cannot take a config epoch
    with pytest.raises(ResponseError, match="epoch"):
        rc.cluster_set_config_epoch(ids[master], 1)


def test_cluster_reset_all_nodes_sends_to_every_node(new_client, cluster):
    c = new_client()
    sent = []
    c._send_to_address = lambda address, *args, **kw: sent.append((address, args)) or True
    assert c.cluster_reset_all_nodes() == [True] * len(cluster.ports)
    assert sorted(sent) == sorted(((cluster.host, p), ("CLUSTER RESET", b"SOFT"))
                                  for p in cluster.ports)
    sent.clear()
    c.cluster_reset_all_nodes(soft=False)
    assert {args for _, args in sent} == {("CLUSTER RESET", b"HARD")}


def test_cluster_setslot_states(rc, cluster, ids):
    a = cluster.masters()[0]
    b = next(m for m in cluster.masters() if m != a)
    slot = cluster.slots_of(a)[-1]
    assert rc.cluster_countkeysinslot(slot) == 0
    try:
        assert rc.cluster_setslot(ids[a], slot, "importing", bind_to_node_id=ids[b]) is True
        assert _myself(cluster, b)["migrations"] == [
            {"slot": slot, "node_id": ids[a], "state": "importing"}]
        assert rc.cluster_setslot(ids[b], slot, "STABLE") is True
        assert _myself(cluster, b)["migrations"] == []
        assert rc.cluster_setslot(ids[b], slot, "MIGRATING") is True  # sent to the owner
        assert _myself(cluster, a)["migrations"] == [
            {"slot": slot, "node_id": ids[b], "state": "migrating"}]
        assert rc.cluster_setslot(None, slot, "STABLE") is True  # the owner
        assert _myself(cluster, a)["migrations"] == []
        assert rc.cluster_setslot(ids[a], slot, "NODE") is True
        assert cluster.owner(slot, a) == a
        with pytest.raises(RedisError, match="Invalid slot state"):
            rc.cluster_setslot(ids[a], slot, "LOST")
        with pytest.raises(DataError):
            rc.cluster_setslot(ids[a], slot, "IMPORTING")
    finally:
        for p in (a, b):
            cluster.raw(p, "CLUSTER", "SETSLOT", slot, "STABLE")


def test_cluster_delslots_addslots(rc, cluster, ids):
    a = cluster.masters()[-1]
    slots = cluster.slots_of(a)[-2:]
    assert all(rc.cluster_countkeysinslot(s) == 0 for s in slots)
    try:
        assert rc.cluster_delslots(*slots) == [True, True]
        assert not set(slots) & set(_myself(cluster, a)["slots"])
        assert rc.cluster_addslots(ids[a], *slots) is True
        assert set(slots) <= set(_myself(cluster, a)["slots"])
    finally:
        for s in slots:
            try:
                cluster.raw(a, "CLUSTER", "ADDSLOTS", s)
            except Exception:
                pass
        for s in slots:
            cluster.wait_owner(s, a)
        wait_for(lambda: _cluster_ok(cluster), 20, message="cluster state ok")
    with pytest.raises(RedisClusterException, match="not served"):
        rc.cluster_delslots(16384)


@pytest.mark.slow
def test_cluster_failover_and_back(new_client, cluster, ids, cluster_script, flush):
    c = new_client()
    master = cluster.masters()[1]
    replica = cluster.replica_of(master)
    slot = cluster.slots_of(master)[0]
    key = key_for_slot(slot, "fo")
    c.set(key, "before")
    try:
        assert c.cluster_failover(ids[replica]) is True
        wait_for(lambda: cluster.role(replica) == "master" and cluster.all_agree_owner(slot, replica),
                 20, message="replica promoted")
        assert c.get(key) == b"before"
        c.set(key, "after")
        cluster.wait_replica_synced(replica)
        assert c.cluster_failover(ids[master], "FORCE") is True
        wait_for(lambda: cluster.role(master) == "master" and cluster.all_agree_owner(slot, master),
                 20, message="old master back")
        assert c.get(key) == b"after"
    finally:
        if cluster.role(master) != "master":
            cluster_script("wait", "--restore-roles", timeout=180)
