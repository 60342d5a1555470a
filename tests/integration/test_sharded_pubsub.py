"""Sharded Pub/Sub (Redis 7): SPUBLISH, and SSUBSCRIBE / SUNSUBSCRIBE on the
ClusterPubSub object: one connection per master owning a subscribed shard
channel, one SSUBSCRIBE per slot, messages of type ``smessage``. When the
server moves a shard channel's slot away (it pushes ``sunsubscribe``), a
manual failover happens, or a shard connection drops, the object subscribes
again on the slot's new owner by itself. The slot migration is done with raw
admin commands (the ``migration`` fixture moves it back afterwards).
"""

import time

import pytest

from rediscluster.exceptions import PubSubError

from rcit import key_for_slot, wait_for

pytestmark = pytest.mark.needs("sharded-pubsub")


def next_message(p, timeout=5.0, accept=None, **kwargs):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.1, **kwargs)
        if m is None:
            continue
        if accept is None or accept(m):
            return m
        seen.append(m)
    pytest.fail("no message within %.1fs (skipped: %r)" % (timeout, seen))


def no_message(p, timeout=0.2):
    m = p.get_message(timeout=timeout)
    assert m is None, m


def spublish_until(p, spublish, data_prefix, timeout=20.0):
    """SPUBLISH data_prefix+N until the subscriber gets one (messages sent
    while it re-subscribes are lost); returns the message."""
    deadline = time.monotonic() + timeout
    i = 0
    skipped = []
    while time.monotonic() < deadline:
        i += 1
        spublish(b"%s%d" % (data_prefix, i))
        until = time.monotonic() + 0.2
        while time.monotonic() < until:
            m = p.get_message(timeout=0.05)
            if m is None:
                continue
            if m["type"] == "smessage" and m["data"].startswith(data_prefix):
                return m
            skipped.append(m)
    pytest.fail("nothing received within %.1fs (skipped: %r)" % (timeout, skipped))


def node_name(cluster, port):
    return "%s:%d" % (cluster.host, port)


def shardnumsub(cluster, port, ch):
    return cluster.raw(port, "PUBSUB", "SHARDNUMSUB", ch)[1]


@pytest.fixture
def two_masters(cluster):
    masters = cluster.masters()
    assert len(masters) >= 2
    return masters[0], masters[1]


def channel_on(cluster, port, suffix="s", index=0):
    return key_for_slot(cluster.slots_of(port)[index], suffix)


def test_spublish_and_ssubscribe_on_two_masters(rc, cluster, two_masters):
    a, b = two_masters
    ca, cb = channel_on(cluster, a, "sa"), channel_on(cluster, b, "sb")
    p = rc.pubsub()
    p.ssubscribe(ca, cb)
    assert p.subscribed
    subs = [next_message(p), next_message(p)]
    assert sorted(subs, key=lambda m: m["channel"]) == sorted(
        [{"type": "ssubscribe", "pattern": None, "channel": ca.encode(), "data": 1},
         {"type": "ssubscribe", "pattern": None, "channel": cb.encode(), "data": 1}],
        key=lambda m: m["channel"])
    # one connection per owning master
    assert sorted(p._shard_conns) == sorted([node_name(cluster, a), node_name(cluster, b)])
    assert p.connection is None  # no classic connection needed
    assert shardnumsub(cluster, a, ca) == 1 and shardnumsub(cluster, b, cb) == 1

    assert rc.spublish(ca, "to-a") == 1
    assert next_message(p) == {"type": "smessage", "pattern": None,
                               "channel": ca.encode(), "data": b"to-a"}
    assert rc.spublish(cb, b"\xfe\x00to-b") == 1
    assert next_message(p) == {"type": "smessage", "pattern": None,
                               "channel": cb.encode(), "data": b"\xfe\x00to-b"}
    assert rc.spublish(channel_on(cluster, a, "nobody"), "x") == 0
    no_message(p)

    p.sunsubscribe(ca)
    assert next_message(p) == {"type": "sunsubscribe", "pattern": None,
                               "channel": ca.encode(), "data": 0}
    # the connection to a served only ca: closed
    assert list(p._shard_conns) == [node_name(cluster, b)]
    assert list(p.shard_channels) == [cb.encode()]
    p.sunsubscribe()
    assert next_message(p)["type"] == "sunsubscribe"
    assert not p.subscribed and p._shard_conns == {}
    wait_for(lambda: shardnumsub(cluster, b, cb) == 0, 5, message="server-side unsubscribe")
    p.close()


def test_channels_of_several_slots_on_one_master(rc, cluster, two_masters):
    a, _ = two_masters
    # different slots of one node: one SSUBSCRIBE per slot (no CROSSSLOT)
    chans = [channel_on(cluster, a, "m%d" % i, index=i * 7) for i in range(4)]
    assert len({rc.keyslot(c) for c in chans}) == 4
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.ssubscribe(*chans)
    assert list(p._shard_conns) == [node_name(cluster, a)]
    for i, c in enumerate(chans):
        assert rc.spublish(c, "v%d" % i) == 1
    got = [next_message(p) for _ in chans]
    assert [(m["channel"], m["data"]) for m in got] == [
        (c.encode(), b"v%d" % i) for i, c in enumerate(chans)]
    # SUNSUBSCRIBE is split per slot too
    p.sunsubscribe(*chans)
    wait_for(lambda: p.get_message(timeout=0.05) is None and not p.subscribed, 5,
             message="all confirmations")
    assert p._shard_conns == {}
    p.close()


def test_decoded_and_handlers(rc_decoded, cluster, two_masters):
    a, b = two_masters
    ca, cb = channel_on(cluster, a, "dh"), channel_on(cluster, b, "dh")
    got = []
    p = rc_decoded.pubsub()
    p.ssubscribe(**{ca: got.append})
    p.ssubscribe(cb)
    assert p.shard_channels == {ca: got.append, cb: None}
    assert {next_message(p)["channel"] for _ in range(2)} == {ca, cb}
    rc_decoded.spublish(ca, "h\u00e9")
    wait_for(lambda: p.get_message(timeout=0.05) is None and got, 5, message="handler call")
    assert got == [{"type": "smessage", "pattern": None, "channel": ca, "data": "h\u00e9"}]
    rc_decoded.spublish(cb, "plain")
    assert next_message(p) == {"type": "smessage", "pattern": None, "channel": cb,
                               "data": "plain"}
    with pytest.raises(PubSubError, match="Shard Channel: .* has no handler"):
        p.run_in_thread()
    p.close()


def test_classic_and_sharded_together(rc, cluster, two_masters):
    a, b = two_masters
    ch, sch = channel_on(cluster, a, "mix"), channel_on(cluster, b, "mixs")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    p.ssubscribe(sch)
    rc.publish(ch, "classic")
    rc.spublish(sch, "sharded")
    got = {(m["type"], m["data"]) for m in (next_message(p), next_message(p))}
    assert got == {("message", b"classic"), ("smessage", b"sharded")}
    p.close()
    assert p._shard_conns == {} and p.connection is None


def test_run_in_thread_sharded(rc, cluster, two_masters):
    a, b = two_masters
    ca, cb = channel_on(cluster, a, "thr"), channel_on(cluster, b, "thr")
    got = []
    p = rc.pubsub()
    p.ssubscribe(**{ca: got.append, cb: got.append})
    thread = p.run_in_thread(sleep_time=0.05, daemon=True, sharded_pubsub=True)
    rc.spublish(ca, "1")
    rc.spublish(cb, "2")
    wait_for(lambda: len(got) == 2, 5, message="handler calls")
    assert sorted(m["data"] for m in got) == [b"1", b"2"]
    thread.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert p._shard_conns == {} and not p.subscribed


def test_resubscribe_after_shard_connection_drop(rc, cluster, two_masters):
    a, b = two_masters
    ca, cb = channel_on(cluster, a, "drop"), channel_on(cluster, b, "drop")
    p = rc.pubsub()
    p.ssubscribe(ca, cb)
    next_message(p)
    next_message(p)
    cluster.raw(a, "CLIENT", "KILL", "TYPE", "pubsub")
    m = next_message(p)
    assert m == {"type": "ssubscribe", "pattern": None, "channel": ca.encode(), "data": 1}
    assert p._shard_node == {ca.encode(): node_name(cluster, a),
                             cb.encode(): node_name(cluster, b)}
    rc.spublish(ca, "back")
    assert next_message(p)["data"] == b"back"
    p.close()


def test_slot_migration_resubscribes_on_new_owner(rc, new_client, cluster, migration):
    masters = cluster.masters()
    src = masters[0]
    slots = cluster.slots_of(src)
    slot, other_slot = slots[100], slots[200]
    ch, stay = key_for_slot(slot, "mig"), key_for_slot(other_slot, "stay")
    got = []
    p = rc.pubsub()
    p.ssubscribe(ch)
    p.ssubscribe(**{stay: got.append})
    assert {next_message(p)["channel"] for _ in range(2)} == {ch.encode(), stay.encode()}
    assert p._shard_node[ch.encode()] == node_name(cluster, src)

    m = migration(slot)
    assert m.src == src
    m.begin()
    m.move_rest()
    m.finish()  # SETSLOT NODE on every master: src drops the slot's shard channels

    # the server pushed sunsubscribe (delivered), the object subscribed again
    # on the new owner
    assert next_message(p) == {"type": "sunsubscribe", "pattern": None,
                               "channel": ch.encode(), "data": 1}
    assert next_message(p) == {"type": "ssubscribe", "pattern": None,
                               "channel": ch.encode(), "data": 1}
    assert p._shard_node[ch.encode()] == node_name(cluster, m.dst)
    assert shardnumsub(cluster, m.dst, ch) == 1
    assert p.shard_channels == {ch.encode(): None, stay.encode(): got.append}
    publisher = new_client()
    assert publisher.spublish(ch, "on-dst") == 1
    assert next_message(p) == {"type": "smessage", "pattern": None,
                               "channel": ch.encode(), "data": b"on-dst"}
    # the other slot of src was not touched
    publisher.spublish(stay, "stayed")
    wait_for(lambda: p.get_message(timeout=0.05) is None and got, 5, message="handler call")
    assert got[0]["data"] == b"stayed"
    assert p._shard_node[stay.encode()] == node_name(cluster, src)

    # move it back: subscribed again on src
    cluster.move_slot(slot, m.dst, src)
    p.ignore_subscribe_messages = True
    msg = spublish_until(p, lambda d: publisher.spublish(ch, d), b"back-")
    assert msg["channel"] == ch.encode()
    assert p._shard_node[ch.encode()] == node_name(cluster, src)
    assert node_name(cluster, m.dst) not in p._shard_conns  # nothing left there
    p.close()


def test_stale_slot_map_follows_moved(rc, new_client, cluster, migration):
    # the subscriber's map still names the old owner: SSUBSCRIBE gets MOVED
    # and is sent to the new owner
    slot = cluster.slots_of(cluster.masters()[1])[50]
    ch = key_for_slot(slot, "stale")
    c = new_client()
    m = migration(slot)
    m.begin()
    m.move_rest()
    m.finish()
    assert c.connection_pool.nodes.slots[slot][0]["port"] == m.src  # stale
    p = c.pubsub()
    p.ssubscribe(ch)
    assert next_message(p) == {"type": "ssubscribe", "pattern": None,
                               "channel": ch.encode(), "data": 1}
    assert p._shard_node[ch.encode()] == node_name(cluster, m.dst)
    assert c.connection_pool.nodes.slots[slot][0]["port"] == m.dst
    assert c.spublish(ch, "x") == 1
    assert next_message(p)["data"] == b"x"
    p.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_resubscribe_after_cluster_failover(rc, new_client, cluster, healthy_after):
    master = cluster.masters()[2]
    replica = cluster.replica_of(master)
    slot = cluster.slots_of(master)[0]
    ch = key_for_slot(slot, "sfo")
    c = new_client()
    p = c.pubsub(ignore_subscribe_messages=True)
    p.ssubscribe(ch)
    no_message(p, 0.1)
    assert p._shard_node[ch.encode()] == node_name(cluster, master)
    cluster.raw(replica, "CLUSTER", "FAILOVER")
    wait_for(lambda: cluster.role(replica) == "master" and cluster.role(master) == "slave",
             30, message="roles of %d and %d to swap" % (master, replica))
    cluster.wait_owner(slot, replica, timeout=30)
    publisher = new_client()
    msg = spublish_until(p, lambda d: publisher.spublish(ch, d), b"after-")
    assert msg["channel"] == ch.encode()
    assert p._shard_node[ch.encode()] == node_name(cluster, replica)
    p.close()


def test_migration_assigned_on_source_first(rc, new_client, cluster, migration):
    # the source gives the slot up before the target knows it owns it: the
    # re-subscription may bounce (MOVED back and forth) until both agree
    slot = cluster.slots_of(cluster.masters()[2])[300]
    ch = key_for_slot(slot, "srcfirst")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.ssubscribe(ch)
    no_message(p, 0.1)
    m = migration(slot)
    m.begin()
    m.move_rest()
    cluster.setslot_all(slot, m.dst, first=(m.src,))
    cluster.wait_owner(slot, m.dst)
    publisher = new_client()
    msg = spublish_until(p, lambda d: publisher.spublish(ch, d), b"moved-")
    assert msg["channel"] == ch.encode()
    assert p._shard_node[ch.encode()] == node_name(cluster, m.dst)
    assert list(p._shard_conns) == [node_name(cluster, m.dst)]
    p.close()


def test_new_shard_connection_wakes_a_blocked_reader(rc, cluster, two_masters):
    # a worker blocked in get_message(timeout=None) on the classic connection
    # also reads a shard connection opened later by another thread
    a, b = two_masters
    ch, sch = channel_on(cluster, a, "wk"), channel_on(cluster, b, "wks")
    got = []
    p = rc.pubsub()
    p.subscribe(**{ch: got.append})
    thread = p.run_in_thread(sleep_time=None, daemon=True)
    rc.publish(ch, "classic")
    wait_for(lambda: len(got) == 1, 5, message="classic message")
    p.ssubscribe(**{sch: got.append})
    assert rc.spublish(sch, "sharded") == 1
    wait_for(lambda: len(got) == 2, 5, message="sharded message")
    assert [m["type"] for m in got] == ["message", "smessage"]
    thread.stop()
    p.close()  # wakes the blocked worker, which then ends
    thread.join(5)
    assert not thread.is_alive()


class _FailingPool:
    """Delegates to a real pool; new connections fail while ``fail`` is set."""

    def __init__(self, pool):
        self._pool = pool
        self.fail = True

    def _connection(self, *args):
        from rediscluster.exceptions import ConnectionError

        if self.fail:
            raise ConnectionError("injected: node unreachable")
        return self._pool._connection(*args)

    def __getattr__(self, name):
        return getattr(self._pool, name)


def test_reconnect_gives_up_after_reconnect_timeout(rc, cluster, two_masters):
    from rediscluster.exceptions import ConnectionError

    a, b = two_masters
    ch, sch = channel_on(cluster, a, "gu"), channel_on(cluster, a, "gus")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    p.ssubscribe(sch)
    no_message(p, 0.1)
    p.reconnect_timeout = 0.3
    pool = p.connection_pool = _FailingPool(rc.connection_pool)
    cluster.raw(a, "CLIENT", "KILL", "TYPE", "pubsub")
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="within"):
        while time.monotonic() - t0 < 10:
            p.get_message(timeout=0.1)
    assert time.monotonic() - t0 >= 0.3
    # the subscriptions are kept, and come back once nodes are reachable
    assert p.subscribed and list(p.channels) == [ch.encode()]
    assert list(p.shard_channels) == [sch.encode()]
    with pytest.raises(ConnectionError):
        p.subscribe(channel_on(cluster, b, "gu-new"))  # cannot be sent: not recorded
    assert list(p.channels) == [ch.encode()]
    pool.fail = False

    def reconnected():
        p.get_message(timeout=0.05)  # retries happen while reading
        return p.connection is not None and not p._shard_pending

    wait_for(reconnected, 5, message="reconnection")
    rc.publish(ch, "classic")
    rc.spublish(sch, "sharded")
    got = {next_message(p)["data"], next_message(p)["data"]}
    assert got == {b"classic", b"sharded"}
    p.close()


def test_sunsubscribe_then_ssubscribe_before_confirmation(rc, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "again")
    p = rc.pubsub()
    p.ssubscribe(ch)
    assert next_message(p)["type"] == "ssubscribe"
    conn = p._shard_conns[node_name(cluster, a)]
    p.sunsubscribe(ch)
    p.ssubscribe(ch)  # before the sunsubscribe confirmation is read
    assert [next_message(p)["type"] for _ in range(2)] == ["sunsubscribe", "ssubscribe"]
    assert p.shard_channels == {ch.encode(): None}
    # the same connection still serves it (no re-subscription elsewhere)
    assert p._shard_conns[node_name(cluster, a)] is conn
    assert rc.spublish(ch, "still") == 1
    assert next_message(p)["data"] == b"still"
    no_message(p, 0.1)
    p.close()
