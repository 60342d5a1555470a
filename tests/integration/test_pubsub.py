"""Classic Pub/Sub (SUBSCRIBE / PSUBSCRIBE) through ``RedisCluster.pubsub()``.

The cluster forwards every PUBLISH to all nodes, so a subscriber on one node
gets messages published on any other; the ClusterPubSub connects to the master
of its first channel's slot (redis-py-cluster's rule). Covers redis-py's
message dicts (both decode modes), handlers, ignore_subscribe_messages, the
(un)subscribe bookkeeping, listen(), run_in_thread(), close(), and the
re-subscription after a dropped connection, a CLUSTER FAILOVER and a killed
master. Waits poll get_message with timeouts; no fixed sleeps.
"""

import threading
import time

import pytest

from rediscluster import ClusterPubSub
from rediscluster.exceptions import ClusterError, ConnectionError, PubSubError, TimeoutError

from rcit import key_for_slot, wait_for

TRANSIENT = (ConnectionError, TimeoutError, ClusterError)


def next_message(p, timeout=5.0, accept=None, **kwargs):
    """The next message accepted by ``accept`` (others are skipped)."""
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


def publish_until(p, publish, data_prefix, timeout=20.0):
    """Publish data_prefix+N repeatedly until the subscriber gets one of them
    (messages published while it reconnects are lost: Pub/Sub is at most once).
    Returns the message; publishing errors during a failover are tolerated."""
    deadline = time.monotonic() + timeout
    i = 0
    skipped = []
    while time.monotonic() < deadline:
        i += 1
        try:
            publish(b"%s%d" % (data_prefix, i))
        except TRANSIENT:
            pass
        until = time.monotonic() + 0.2
        while time.monotonic() < until:
            try:
                m = p.get_message(timeout=0.05)
            except TRANSIENT:
                m = None
            if m is None:
                continue
            if m["type"] == "message" and m["data"].startswith(data_prefix):
                return m
            skipped.append(m)
    pytest.fail("nothing received within %.1fs (skipped: %r)" % (timeout, skipped))


def node_name(cluster, port):
    return "%s:%d" % (cluster.host, port)


@pytest.fixture
def two_masters(cluster):
    masters = cluster.masters()
    assert len(masters) >= 2
    return masters[0], masters[1]


def channel_on(cluster, port, suffix="ch"):
    """A channel name whose slot the master ``port`` serves."""
    return key_for_slot(cluster.slots_of(port)[0], suffix)


# ---------------------------------------------------------------- basics


def test_pubsub_type_and_export(rc):
    p = rc.pubsub()
    assert isinstance(p, ClusterPubSub)
    assert p.connection is None and not p.subscribed
    assert p.ignore_subscribe_messages is False
    assert rc.pubsub(ignore_subscribe_messages=True).ignore_subscribe_messages is True
    with pytest.raises(RuntimeError, match="pubsub connection not set"):
        p.parse_response(block=False)
    # as redis-py 3.5 (2.1.3): reading before any subscription is an error
    with pytest.raises(RuntimeError, match="pubsub connection not set"):
        p.get_message(timeout=0.01)
    with pytest.raises(RuntimeError, match="pubsub connection not set"):
        p.check_health()
    p.close()


def test_subscribe_publish_across_nodes(rc, cluster, two_masters):
    a, b = two_masters
    ch = channel_on(cluster, a)
    p = rc.pubsub()
    p.subscribe(ch)
    assert p.subscribed
    assert next_message(p) == {"type": "subscribe", "pattern": None,
                               "channel": ch.encode(), "data": 1}
    # the connection is on the master of the channel's slot
    assert p.connection.node["name"] == node_name(cluster, a)
    assert cluster.raw(a, "PUBSUB", "NUMSUB", ch) == [ch.encode(), 1]

    # publish through the client: routed to the slot's master, where the
    # subscriber is, so the count is 1
    assert rc.publish(ch, "one") == 1
    assert next_message(p) == {"type": "message", "pattern": None,
                               "channel": ch.encode(), "data": b"one"}
    # published on another master: no local subscriber there (0), but the
    # cluster forwards it
    assert cluster.raw(b, "PUBLISH", ch, "two") == 0
    assert next_message(p) == {"type": "message", "pattern": None,
                               "channel": ch.encode(), "data": b"two"}
    # and on a replica
    assert cluster.raw(cluster.replica_of(b), "PUBLISH", ch, b"\xff\x00three") == 0
    assert next_message(p)["data"] == b"\xff\x00three"
    no_message(p)
    p.close()
    wait_for(lambda: cluster.raw(a, "PUBSUB", "NUMSUB", ch) == [ch.encode(), 0], 5,
             message="the subscription to end on the server")


def test_decoded_messages(rc_decoded, cluster, two_masters):
    a, b = two_masters
    ch = channel_on(cluster, b, "dec")
    p = rc_decoded.pubsub()
    p.subscribe(ch)
    p.psubscribe(ch[:-1] + "*")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": ch, "data": 1}
    assert next_message(p) == {"type": "psubscribe", "pattern": None,
                               "channel": ch[:-1] + "*", "data": 2}
    assert cluster.raw(a, "PUBLISH", ch, "h\u00e9") == 0
    msgs = [next_message(p), next_message(p)]
    assert {"type": "message", "pattern": None, "channel": ch, "data": "h\u00e9"} in msgs
    assert {"type": "pmessage", "pattern": ch[:-1] + "*", "channel": ch,
            "data": "h\u00e9"} in msgs
    p.close()


def test_psubscribe(rc, cluster, two_masters):
    a, b = two_masters
    base = channel_on(cluster, a, "ps")
    pattern = base + ":*"
    p = rc.pubsub()
    p.psubscribe(pattern)
    assert next_message(p) == {"type": "psubscribe", "pattern": None,
                               "channel": pattern.encode(), "data": 1}
    # only patterns: the connection is on the master of the pattern's slot
    assert p.connection.node["name"] == node_name(cluster, a)
    cluster.raw(b, "PUBLISH", base + ":x", "px")
    assert next_message(p) == {"type": "pmessage", "pattern": pattern.encode(),
                               "channel": (base + ":x").encode(), "data": b"px"}
    cluster.raw(b, "PUBLISH", base + "-nomatch", "no")
    no_message(p)
    p.punsubscribe(pattern)
    assert next_message(p) == {"type": "punsubscribe", "pattern": None,
                               "channel": pattern.encode(), "data": 0}
    assert not p.subscribed
    p.close()


def test_list_and_bytes_arguments(rc, cluster, two_masters):
    a, _ = two_masters
    c1, c2 = channel_on(cluster, a, "l1"), channel_on(cluster, a, "l2")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe([c1, c2.encode()])
    assert set(p.channels) == {c1.encode(), c2.encode()}
    rc.publish(c2, "v")
    assert next_message(p)["channel"] == c2.encode()
    p.close()


def test_handlers(rc, cluster, two_masters):
    a, b = two_masters
    ch, plain = channel_on(cluster, a, "h1"), channel_on(cluster, a, "h2")
    pattern = channel_on(cluster, b, "hp") + "*"
    got = []
    p = rc.pubsub()
    p.subscribe(**{ch: got.append})
    p.subscribe(plain)
    p.psubscribe(**{pattern: got.append})
    subs = [next_message(p) for _ in range(3)]
    assert [m["type"] for m in subs] == ["subscribe", "subscribe", "psubscribe"]
    assert p.channels == {ch.encode(): got.append, plain.encode(): None}
    assert p.patterns == {pattern.encode(): got.append}

    rc.publish(ch, "to-handler")
    # the handler gets it; get_message returns None for it
    wait_for(lambda: p.get_message(timeout=0.05) is None and got, 5, message="handler call")
    assert got == [{"type": "message", "pattern": None, "channel": ch.encode(),
                    "data": b"to-handler"}]
    rc.publish(pattern[:-1] + "zz", "to-phandler")
    wait_for(lambda: p.get_message(timeout=0.05) is None and len(got) == 2, 5,
             message="pattern handler call")
    assert got[1] == {"type": "pmessage", "pattern": pattern.encode(),
                      "channel": (pattern[:-1] + "zz").encode(), "data": b"to-phandler"}
    rc.publish(plain, "no-handler")
    assert next_message(p)["data"] == b"no-handler"
    assert len(got) == 2
    p.close()


def test_ignore_subscribe_messages(rc, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "ign")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    no_message(p)  # the confirmation is dropped
    rc.publish(ch, "x")
    assert next_message(p)["data"] == b"x"
    p.unsubscribe(ch)
    wait_for(lambda: p.get_message(timeout=0.05) is None and not p.subscribed, 5,
             message="the unsubscribe confirmation")
    p.close()

    # per call
    q = rc.pubsub()
    q.subscribe(ch)
    assert q.get_message(ignore_subscribe_messages=True, timeout=1.0) is None
    rc.publish(ch, "y")
    assert next_message(q, ignore_subscribe_messages=True)["data"] == b"y"
    q.close()


def test_subscription_bookkeeping(rc, cluster, two_masters):
    a, _ = two_masters
    c1, c2 = channel_on(cluster, a, "b1"), channel_on(cluster, a, "b2")
    pat = channel_on(cluster, a, "bp") + "*"
    p = rc.pubsub()
    p.subscribe(c1, c2)
    p.psubscribe(pat)
    assert p.subscribed
    for _ in range(3):
        next_message(p)
    p.unsubscribe(c1)
    # pending until the server confirms
    assert p.pending_unsubscribe_channels == {c1.encode()}
    assert c1.encode() in p.channels
    assert next_message(p) == {"type": "unsubscribe", "pattern": None,
                               "channel": c1.encode(), "data": 2}
    assert p.pending_unsubscribe_channels == set()
    assert list(p.channels) == [c2.encode()]
    # re-subscribing clears a pending unsubscribe
    p.unsubscribe(c2)
    p.subscribe(c2)
    assert p.pending_unsubscribe_channels == set()
    assert [next_message(p)["type"] for _ in range(2)] == ["unsubscribe", "subscribe"]
    assert list(p.channels) == [c2.encode()]
    # unsubscribe from everything
    p.unsubscribe()
    p.punsubscribe()
    msgs = [next_message(p), next_message(p)]
    assert sorted(m["type"] for m in msgs) == ["punsubscribe", "unsubscribe"]
    assert msgs[-1]["data"] == 0
    assert not p.subscribed
    assert p.channels == {} and p.patterns == {}
    assert p.get_message(timeout=0.05) is None
    p.close()


def test_ping(rc, cluster, two_masters):
    a, _ = two_masters
    p = rc.pubsub()
    p.subscribe(channel_on(cluster, a, "ping"))
    next_message(p)
    p.ping()
    assert next_message(p) == {"type": "pong", "pattern": None, "channel": None, "data": b""}
    p.ping("hi")
    assert next_message(p) == {"type": "pong", "pattern": None, "channel": None, "data": b"hi"}
    p.close()


def test_listen(rc, cluster, two_masters):
    a, b = two_masters
    ch = channel_on(cluster, a, "listen")
    p = rc.pubsub()
    p.subscribe(ch)
    for i in range(3):
        cluster.raw(b, "PUBLISH", ch, "m%d" % i)
    seen = []
    for m in p.listen():  # ends when nothing is subscribed any more
        seen.append((m["type"], m["data"]))
        if m["data"] == b"m2":
            p.unsubscribe(ch)
    assert seen == [("subscribe", 1), ("message", b"m0"), ("message", b"m1"),
                    ("message", b"m2"), ("unsubscribe", 0)]
    p.close()


def test_listen_woken_by_close_from_another_thread(rc, cluster, two_masters):
    a, _ = two_masters
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(channel_on(cluster, a, "lw"))
    out = []
    t = threading.Thread(target=lambda: out.extend(p.listen()), daemon=True)
    t.start()
    time.sleep(0.1)  # let it block in listen()
    p.close()
    t.join(5)
    assert not t.is_alive()
    assert out == []


def test_run_in_thread(rc, cluster, two_masters):
    a, b = two_masters
    ch = channel_on(cluster, a, "thr")
    pattern = channel_on(cluster, b, "thrp") + "*"
    got = []
    p = rc.pubsub()
    p.subscribe(**{ch: got.append})
    p.psubscribe(**{pattern: got.append})
    thread = p.run_in_thread(sleep_time=0.05, daemon=True)
    assert thread.daemon and thread.is_alive()
    rc.publish(ch, "t1")
    rc.publish(pattern[:-1] + "1", "t2")
    wait_for(lambda: len(got) == 2, 5, message="handler calls in the thread")
    assert sorted(m["data"] for m in got) == [b"t1", b"t2"]
    thread.stop()
    thread.join(5)
    assert not thread.is_alive()
    # the worker closed the pubsub
    assert p.connection is None and not p.subscribed
    wait_for(lambda: cluster.raw(a, "PUBSUB", "NUMSUB", ch) == [ch.encode(), 0], 5,
             message="the connection to close")


def test_run_in_thread_needs_handlers(rc, cluster, two_masters):
    a, _ = two_masters
    p = rc.pubsub()
    p.subscribe(channel_on(cluster, a, "nh"))
    with pytest.raises(PubSubError, match="has no handler registered"):
        p.run_in_thread()
    p.close()
    q = rc.pubsub()
    q.psubscribe(channel_on(cluster, a, "nhp") + "*")
    with pytest.raises(PubSubError, match="Pattern: .* has no handler registered"):
        q.run_in_thread()
    q.close()


def test_run_in_thread_exception_handler(rc, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "exh")
    errors = []

    def bad_handler(message):
        raise ValueError(message["data"])

    def on_error(exc, pubsub, thread):
        errors.append((exc, pubsub, thread))

    p = rc.pubsub()
    p.subscribe(**{ch: bad_handler})
    thread = p.run_in_thread(sleep_time=0.05, daemon=True, exception_handler=on_error)
    rc.publish(ch, "e1")
    rc.publish(ch, "e2")
    wait_for(lambda: len(errors) == 2, 5, message="exception handler calls")
    assert [str(e[0]) for e in errors] == ["b'e1'", "b'e2'"]
    assert errors[0][1] is p and errors[0][2] is thread
    assert thread.is_alive()  # the loop goes on
    thread.stop()
    thread.join(5)
    assert not thread.is_alive()


def test_close_and_context_manager(rc, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "close")
    with rc.pubsub() as p:
        p.subscribe(ch)
        next_message(p)
        conn = p.connection
        assert conn.open
    assert not conn.open
    assert p.connection is None
    assert p.channels == {} and not p.subscribed
    with pytest.raises(RuntimeError, match="pubsub connection not set"):
        p.get_message(timeout=0.01)
    wait_for(lambda: cluster.raw(a, "PUBSUB", "NUMSUB", ch) == [ch.encode(), 0], 5,
             message="the connection to close")
    # usable again after close()
    p.subscribe(ch)
    assert next_message(p)["type"] == "subscribe"
    p.close()
    p.close()  # idempotent


# ---------------------------------------------------------------- reconnection


def test_resubscribe_after_connection_drop(rc, cluster, two_masters):
    a, b = two_masters
    ch, other = channel_on(cluster, a, "rc1"), channel_on(cluster, a, "rc2")
    pattern = channel_on(cluster, b, "rcp") + "*"
    got = []
    p = rc.pubsub()
    p.subscribe(**{ch: got.append})
    p.subscribe(other)
    p.psubscribe(pattern)
    for _ in range(3):
        next_message(p)
    # the server drops every pub/sub client of node a
    assert cluster.raw(a, "CLIENT", "KILL", "TYPE", "pubsub") >= 1
    # the object reconnects and subscribes again: confirmations come back
    resub = [next_message(p) for _ in range(3)]
    assert sorted((m["type"], m["channel"]) for m in resub) == sorted(
        [("subscribe", ch.encode()), ("subscribe", other.encode()),
         ("psubscribe", pattern.encode())])
    assert p.connection.node["name"] == node_name(cluster, a)
    # the state and the handlers are kept
    assert p.channels == {ch.encode(): got.append, other.encode(): None}
    rc.publish(other, "after")
    assert next_message(p)["data"] == b"after"
    rc.publish(ch, "handled")
    wait_for(lambda: p.get_message(timeout=0.05) is None and got, 5, message="handler call")
    assert got[0]["data"] == b"handled"
    rc.publish(pattern[:-1] + "x", "pat")
    assert next_message(p)["data"] == b"pat"
    p.close()


def test_connection_disconnect_resubscribes(rc, cluster, two_masters):
    """2.1.3 code drops ``pubsub.connection``: the next get_message reconnects
    and subscribes every channel and pattern again."""
    from rediscluster.connection import ClusterConnection

    a, _ = two_masters
    ch, pattern = channel_on(cluster, a, "dc1"), channel_on(cluster, a, "dcp") + "*"
    p = rc.pubsub()
    p.subscribe(ch)
    p.psubscribe(pattern)
    next_message(p), next_message(p)
    conn = p.connection
    assert isinstance(conn, ClusterConnection) and repr(conn).startswith("ClusterConnection<host=")
    assert conn.node["name"] == node_name(cluster, a) and conn.open
    # PUBLISH goes to the same node: this client's subscriber is counted
    assert rc.publish(ch, "x") == 1
    assert next_message(p)["data"] == b"x"
    conn.disconnect()
    assert not conn.open
    resub = [next_message(p) for _ in range(2)]
    assert sorted(m["type"] for m in resub) == ["psubscribe", "subscribe"]
    assert p.connection is not conn and p.connection.open
    assert rc.publish(ch, "after") == 1
    assert next_message(p)["data"] == b"after"
    p.ping()
    assert next_message(p)["type"] == "pong"
    p.close()


def test_on_connect_subscribes_again(rc, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "oc1")
    p = rc.pubsub()
    p.subscribe(ch)
    next_message(p)
    p.on_connect(p.connection)  # redis-py's re-subscribe callback
    assert next_message(p) == {"type": "subscribe", "pattern": None,
                               "channel": ch.encode(), "data": 1}
    p.close()


def test_health_check_interval(new_client, cluster, two_masters):
    a, _ = two_masters
    ch = channel_on(cluster, a, "hc")
    c = new_client(health_check_interval=0.01)
    p = c.pubsub()
    p.subscribe(ch)
    assert next_message(p)["type"] == "subscribe"
    time.sleep(0.05)
    p.check_health()  # a PING whose reply is not a message
    c.publish(ch, "m")
    assert next_message(p)["data"] == b"m"
    p.close()


def test_unsubscribe_pending_when_connection_drops(rc, cluster, two_masters):
    a, _ = two_masters
    c1, c2 = channel_on(cluster, a, "pd1"), channel_on(cluster, a, "pd2")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(c1, c2)
    no_message(p, 0.1)
    cluster.raw(a, "CLIENT", "KILL", "TYPE", "pubsub")
    p.unsubscribe(c1)  # sent on a dropped connection: the new one lacks c1
    wait_for(lambda: p.get_message(timeout=0.05) is None and list(p.channels) == [c2.encode()],
             5, message="c1 to be dropped")
    rc.publish(c2, "kept")
    assert next_message(p)["data"] == b"kept"
    assert cluster.raw(a, "PUBSUB", "NUMSUB", c1) == [c1.encode(), 0]
    p.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_resubscribe_after_cluster_failover(new_client, cluster, healthy_after):
    c = new_client()
    master = cluster.masters()[0]
    replica = cluster.replica_of(master)
    slot = cluster.slots_of(master)[0]
    ch = key_for_slot(slot, "failover")
    got = []
    p = c.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    p.psubscribe(**{key_for_slot(slot, "fo") + "*": got.append})
    no_message(p, 0.1)
    assert p.connection.node["name"] == node_name(cluster, master)

    cluster.raw(replica, "CLUSTER", "FAILOVER")
    wait_for(lambda: cluster.role(replica) == "master" and cluster.role(master) == "slave",
             30, message="roles of %d and %d to swap" % (master, replica))
    cluster.wait_owner(slot, replica, timeout=30)

    # the subscriber still gets what is published (the demoted node still
    # receives the cluster's broadcast)
    m = publish_until(p, lambda d: c.publish(ch, d), b"after-failover-")
    assert m["channel"] == ch.encode()

    # its connection drops: it reconnects to the slot's NEW master
    cluster.raw(master, "CLIENT", "KILL", "TYPE", "pubsub")
    m = publish_until(p, lambda d: c.publish(ch, d), b"after-drop-")
    assert m["channel"] == ch.encode()
    assert p.connection.node["name"] == node_name(cluster, replica)
    assert c.publish(ch, "local") == 1  # the subscriber is on the new master
    assert next_message(p)["data"] == b"local"
    c.publish(key_for_slot(slot, "fo") + "zz", "pattern")
    wait_for(lambda: p.get_message(timeout=0.05) is None and got, 5, message="pattern handler")
    assert got[0]["data"] == b"pattern"
    p.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_resubscribe_after_master_killed(new_client, cluster, cluster_script, healthy_after):
    c = new_client(socket_timeout=1.0, socket_connect_timeout=1.0)
    seed = cluster.ports[0]
    master = next(p for p in cluster.masters() if p != seed)
    replica = cluster.replica_of(master)
    slot = cluster.slots_of(master)[0]
    ch = key_for_slot(slot, "killed")
    p = c.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    no_message(p, 0.1)
    assert p.connection.node["name"] == node_name(cluster, master)

    cluster_script("kill-node", master)
    # the connection breaks, reconnecting fails until the replica takes over
    m = publish_until(p, lambda d: c.publish(ch, d), b"after-kill-", timeout=60)
    assert m["channel"] == ch.encode()
    assert p.connection.node["name"] == node_name(cluster, replica)
    assert p.channels == {ch.encode(): None}
    p.close()
