"""MOVED / ASK handling against real slot migrations and a manual failover.

The slot is migrated by hand with raw admin commands (CLUSTER SETSLOT
IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE), exactly as redis-cli --cluster
reshard does it; the ``migration`` fixture moves it back afterwards.
"""

import threading
import time

import pytest

from rediscluster.exceptions import ClusterError

from rcit import RespError, keys_for_slot, key_for_slot, parse_info, wait_for

SLOT = 4321  # any slot works; a fixed one keeps failures reproducible


def asking_calls(cluster, port):
    info = parse_info(cluster.raw(port, "INFO", "commandstats"))
    stat = info.get("cmdstat_asking")
    if not stat:
        return 0
    return int(dict(f.split("=", 1) for f in stat.split(","))["calls"])


def where(cluster, m, key):
    """'src' / 'dst' / None: which node really holds ``key`` (raw, no redirects)."""
    on_src = cluster.pipe(m.src, [("EXISTS", key)])[0]
    on_dst = cluster.pipe(m.dst, [("ASKING",), ("EXISTS", key)])[1]
    assert not (on_src == 1 and on_dst == 1), "key %r on both nodes" % key
    if on_src == 1:
        return "src"
    if on_dst == 1:
        return "dst"
    return None


def slot_master(client, slot):
    return client.connection_pool.nodes.slots[slot][0]["port"]


def test_ask_then_moved_during_migration(new_client, cluster, migration):
    c = new_client()
    m = migration(SLOT)
    keys = keys_for_slot(SLOT, 20)
    for i, k in enumerate(keys):
        assert c.set(k, "v%d" % i) is True
    assert all(where(cluster, m, k) == "src" for k in keys)
    assert slot_master(c, SLOT) == m.src
    st0 = c.connection_pool._stats()

    m.begin()
    moved, staying = keys[:10], keys[10:]
    m.move(moved)
    assert all(where(cluster, m, k) == "dst" for k in moved)
    assert all(where(cluster, m, k) == "src" for k in staying)
    with pytest.raises(RespError, match="^ASK %d " % SLOT):
        cluster.raw(m.src, "GET", moved[0])

    asks0 = asking_calls(cluster, m.dst)
    for i, k in enumerate(keys):
        assert c.get(k) == b"v%d" % i, k
    # the moved keys were fetched with ASKING on the target ...
    assert asking_calls(cluster, m.dst) - asks0 >= len(moved)
    # ... and ASK did not touch the slot map
    assert slot_master(c, SLOT) == m.src
    st1 = c.connection_pool._stats()
    assert st1["epoch"] == st0["epoch"]
    assert st1["moved"] == st0["moved"]

    # writes during the migration: moved keys on the target, others on the source
    assert c.set(moved[0], "w0") is True
    assert c.set(staying[0], "w1") is True
    assert where(cluster, m, moved[0]) == "dst"
    assert where(cluster, m, staying[0]) == "src"
    assert cluster.pipe(m.dst, [("ASKING",), ("GET", moved[0])])[1] == b"w0"
    assert cluster.raw(m.src, "GET", staying[0]) == b"w1"
    assert c.get(moved[0]) == b"w0" and c.get(staying[0]) == b"w1"

    # a key that exists nowhere yet goes to the importing node (ASK), and the
    # client does not bounce between the two (MOVED ping-pong)
    new = key_for_slot(SLOT, "new")
    assert c.set(new, "fresh") is True
    assert where(cluster, m, new) == "dst"
    assert c.get(new) == b"fresh"
    ctr = key_for_slot(SLOT, "ctr")
    assert [c.incr(ctr) for _ in range(3)] == [1, 2, 3]
    assert where(cluster, m, ctr) == "dst"
    assert c.delete(new) == 1
    assert c.get(new) is None
    assert slot_master(c, SLOT) == m.src
    assert c.connection_pool._stats()["epoch"] == st0["epoch"]

    # the rest moves; everything is still served (now all by ASK)
    m.move_rest()
    assert all(where(cluster, m, k) == "dst" for k in keys)
    expect = {k: b"v%d" % i for i, k in enumerate(keys)}
    expect[moved[0]], expect[staying[0]] = b"w0", b"w1"
    assert {k: c.get(k) for k in keys} == expect
    assert slot_master(c, SLOT) == m.src

    # finish: the next command gets MOVED and patches the slot map
    m.finish()
    st2 = c.connection_pool._stats()
    assert c.get(keys[1]) == expect[keys[1]]
    st3 = c.connection_pool._stats()
    assert slot_master(c, SLOT) == m.dst
    assert st3["epoch"] > st2["epoch"]
    assert st3["moved"] > st2["moved"] or st3["refreshes"] > st2["refreshes"]
    # no more redirects needed: every key read straight from the new owner
    assert {k: c.get(k) for k in keys} == expect
    assert c.set(keys[2], "after") is True
    assert cluster.raw(m.dst, "GET", keys[2]) == b"after"
    assert c.get(ctr) == b"3"


def test_moved_for_a_client_with_an_old_map(new_client, cluster, migration):
    # a client that never saw the migration: its first command is MOVED
    c = new_client()
    m = migration(SLOT + 1)
    k = key_for_slot(SLOT + 1, "old")
    assert c.set(k, "x") is True
    m.begin()
    m.move_rest()
    m.finish()
    other = new_client()  # fresh map: already points at the target
    assert slot_master(other, SLOT + 1) == m.dst
    assert slot_master(c, SLOT + 1) == m.src
    ep = c.connection_pool._stats()["epoch"]
    assert c.set(k, "y") is True  # a write follows MOVED too
    assert slot_master(c, SLOT + 1) == m.dst
    assert c.connection_pool._stats()["epoch"] > ep
    assert cluster.raw(m.dst, "GET", k) == b"y"
    assert other.get(k) == b"y"


@pytest.mark.needs("multikey-tryagain")
def test_tryagain_for_a_split_multikey_command(new_client, cluster, migration):
    # MGET over keys of one slot, some moved and some not: the source answers
    # TRYAGAIN; the engine retries (bounded) and ends with TTL exhausted, or
    # succeeds once the migration has gone on
    c = new_client()
    slot = SLOT + 2
    m = migration(slot)
    a, b = keys_for_slot(slot, 2)
    c.set(a, "A")
    c.set(b, "B")
    m.begin()
    m.move([a])
    with pytest.raises(RespError, match="^TRYAGAIN"):
        cluster.raw(m.src, "MGET", a, b)
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="TTL exhausted"):
        c.execute_command("MGET", a, b)
    assert time.monotonic() - t0 < 10
    res = c._execute_batch([(("MGET", a, b), None), (("GET", a), None), (("GET", b), None)])
    assert isinstance(res[0], Exception) and res[1:] == [b"A", b"B"]
    assert c.get(a) == b"A" and c.get(b) == b"B"

    # a split MGET that is retrying completes once the rest has moved
    out = {}

    def mget():
        try:
            out["r"] = c.execute_command("MGET", a, b)
        except Exception as e:  # noqa: BLE001
            out["r"] = e

    th = threading.Thread(target=mget)
    th.start()
    m.move_rest()
    th.join(10)
    assert out["r"] == [b"A", b"B"]
    assert c.execute_command("MGET", a, b) == [b"A", b"B"]  # via ASK now
    assert slot_master(c, slot) == m.src


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_stale_map_after_manual_failover(new_client, cluster, flush, healthy_after):
    c = new_client()
    master = cluster.masters()[0]
    replica = cluster.replica_of(master)
    owned = cluster.slots_of(master)
    slots = owned[:: max(1, len(owned) // 20)]
    keys = {s: key_for_slot(s, "fo") for s in slots}
    for s, k in keys.items():
        assert c.set(k, "before:%d" % s) is True
    assert all(slot_master(c, s) == master for s in slots)
    cluster.wait_replica_synced(master)

    cluster.raw(replica, "CLUSTER", "FAILOVER")
    wait_for(lambda: cluster.role(replica) == "master" and cluster.role(master) == "slave",
             30, message="roles of %d and %d to swap" % (master, replica))
    cluster.wait_owner(slots[0], replica, timeout=30)

    # the client's map is stale: it still names the old master
    assert slot_master(c, slots[0]) == master
    for s, k in keys.items():
        assert c.get(k) == b"before:%d" % s
    assert slot_master(c, slots[0]) == replica
    for s, k in keys.items():
        assert c.set(k, "after:%d" % s) is True
    assert all(slot_master(c, s) == replica for s in slots)
    for s, k in keys.items():
        assert cluster.raw(replica, "GET", k) == b"after:%d" % s
        assert c.get(k) == b"after:%d" % s
