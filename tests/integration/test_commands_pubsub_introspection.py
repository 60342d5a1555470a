"""PUBLISH (to the master of the channel's slot, counting that node's
subscribers) and PUBSUB CHANNELS/NUMSUB/NUMPAT (+ shard variants) merged over
all nodes, or per node with ``aggregate=False`` (2.1.3 ignored the flag).

Subscribers are plain sockets (tests/integration/conftest.py ``raw.conn``), so
that the checks do not depend on the client's PubSub object.
"""

import pytest

from rcit import wait_for


@pytest.fixture
def subscribers(cluster):
    """subscribe(port, kind, *names) -> RawConn subscribed; closed afterwards."""
    conns = []

    def subscribe(port, kind, *names):
        conn = cluster.conn(port)
        conns.append(conn)
        conn.send(kind, *names)
        for _ in names:
            conn.read()  # the (p|s)subscribe confirmations
        return conn

    yield subscribe
    for conn in conns:
        conn.close()


def _next_not(conn, data):
    msg = conn.read()
    return conn.read() if msg[2] == data else msg


def _owner(rc, cluster, channel):
    return cluster.owner(rc.keyslot(channel))


def _names(cluster, ports):
    return {"%s:%d" % (cluster.host, p) for p in ports}


def test_publish_counts_subscribers_of_the_slot_master(rc, cluster, subscribers):
    ch = "rcit:ch:{pub}"
    owner = _owner(rc, cluster, ch)
    elsewhere = next(p for p in cluster.ports if p != owner)
    assert rc.publish(ch, "nobody") == 0
    sub = subscribers(owner, "SUBSCRIBE", ch)
    assert rc.publish(ch, "hello") == 1
    assert sub.read() == [b"message", ch.encode(), b"hello"]
    # a subscriber on another node still gets the message (the cluster bus
    # spreads it) but is not counted: the count is the receiving node's
    far = subscribers(elsewhere, "SUBSCRIBE", ch)
    assert rc.publish(ch, b"\xff\x00") == 1
    # (the bus may still deliver the earlier "hello" to it first)
    assert _next_not(far, b"hello") == [b"message", ch.encode(), b"\xff\x00"]
    assert sub.read() == [b"message", ch.encode(), b"\xff\x00"]


def test_publish_non_utf8_channel(rc, cluster, subscribers):
    ch = b"rcit:ch:\xfe\xff"
    sub = subscribers(_owner(rc, cluster, ch), "SUBSCRIBE", ch)
    assert rc.publish(ch, b"m") == 1
    assert sub.read() == [b"message", ch, b"m"]
    assert (ch, 1) in rc.pubsub_numsub(ch)


@pytest.mark.parametrize("decoded", [False, True])
def test_pubsub_channels_and_numsub(rc, rc_decoded, cluster, subscribers, decoded):
    c = rc_decoded if decoded else rc
    t = (lambda s: s) if decoded else (lambda s: s.encode())
    a, b = "rcit:ch:{a}%s" % decoded, "rcit:ch:{b}%s" % decoded
    p1, p2 = cluster.ports[0], cluster.ports[-1]
    subscribers(p1, "SUBSCRIBE", a, b)
    subscribers(p2, "SUBSCRIBE", a)
    channels = c.pubsub_channels("rcit:ch:*%s" % decoded)
    assert sorted(channels) == sorted([t(a), t(b)])  # merged, no duplicates
    assert t(a) in c.pubsub_channels()
    per_node = c.pubsub_channels("rcit:ch:*%s" % decoded, aggregate=False)
    assert set(per_node) == _names(cluster, cluster.ports)
    assert sorted(per_node["%s:%d" % (cluster.host, p1)]) == sorted([t(a), t(b)])
    assert per_node["%s:%d" % (cluster.host, p2)] == [t(a)]
    assert sorted(c.pubsub_numsub(a, b, "rcit:ch:none")) == sorted(
        [(t(a), 2), (t(b), 1), (t("rcit:ch:none"), 0)])
    per_node = c.pubsub_numsub(a, aggregate=False)
    assert set(per_node) == _names(cluster, cluster.ports)
    assert per_node["%s:%d" % (cluster.host, p1)] == [(t(a), 1)]
    assert per_node["%s:%d" % (cluster.host, p2)] == [(t(a), 1)]
    assert c.pubsub_numsub() == []


def test_pubsub_numpat(rc, cluster, subscribers):
    before = rc.pubsub_numpat()
    per_node = rc.pubsub_numpat(aggregate=False)
    assert set(per_node) == _names(cluster, cluster.ports)
    assert sum(per_node.values()) == before
    subscribers(cluster.ports[1], "PSUBSCRIBE", "rcit:pat:*", "rcit:pat2:*")
    subscribers(cluster.ports[2], "PSUBSCRIBE", "rcit:pat:*")
    assert rc.pubsub_numpat() == before + 3
    per_node = rc.pubsub_numpat(aggregate=False)
    assert per_node["%s:%d" % (cluster.host, cluster.ports[1])] >= 2
    assert sum(per_node.values()) == before + 3


@pytest.mark.needs("sharded-pubsub")
@pytest.mark.parametrize("decoded", [False, True])
def test_shard_channels(rc, rc_decoded, cluster, subscribers, decoded):
    c = rc_decoded if decoded else rc
    t = (lambda s: s) if decoded else (lambda s: s.encode())
    ch = "rcit:sch:{s}%s" % decoded
    owner = _owner(rc, cluster, ch)
    assert c.spublish(ch, "none") == 0
    sub = subscribers(owner, "SSUBSCRIBE", ch)
    assert c.spublish(ch, "hi") == 1
    assert sub.read() == [b"smessage", ch.encode(), b"hi"]
    assert c.pubsub_shardchannels("rcit:sch:*%s" % decoded) == [t(ch)]
    per_node = c.pubsub_shardchannels(aggregate=False)
    assert per_node["%s:%d" % (cluster.host, owner)] == [t(ch)]
    assert c.pubsub_shardnumsub(ch) == [(t(ch), 1)]
    assert c.pubsub_shardnumsub(ch, aggregate=False)["%s:%d" % (cluster.host, owner)] \
        == [(t(ch), 1)]
    sub.send("SUNSUBSCRIBE", ch)
    sub.read()
    wait_for(lambda: c.pubsub_shardnumsub(ch) == [(t(ch), 0)], 5, message="unsubscribed")
