"""How pub/sub waits: ``_core.Subscriber`` (the engine's multi-connection
read with a wake-up fd) and what ClusterPubSub builds on it -- a reader in
``listen()`` woken by ``close()`` or a subscription from another thread,
``get_message(timeout=)`` precision, Ctrl-C during ``listen()``, replies of
several connections read fairly and none lost.

(The gevent side is in tests/gevent/test_gevent_basic.py.)"""

import os
import select
import signal
import threading
import time

import pytest

from rediscluster import _core
from rediscluster.exceptions import ConnectionError, MovedError, ResponseError

from rcit import key_for_slot, wait_for


def channel_on(cluster, port, suffix="ch"):
    return key_for_slot(cluster.slots_of(port)[0], suffix)


@pytest.fixture
def two_masters(cluster):
    masters = cluster.masters()
    assert len(masters) >= 2
    return masters[0], masters[1]


@pytest.fixture
def pool(new_client):
    return new_client().connection_pool


def conn_to(pool, port):
    return pool._connection("127.0.0.1", port)


def in_thread(fn, delay):
    """Run fn() in a thread after delay seconds; returns the thread."""
    def run():
        time.sleep(delay)
        fn()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- Subscriber


def test_subscriber_reads_replies_of_several_connections(pool, cluster, two_masters):
    a, b = two_masters
    ca, cb = conn_to(pool, a), conn_to(pool, b)
    sub = _core.Subscriber(pool)
    ca.send([("SUBSCRIBE", "sw-a")])
    cb.send([("SUBSCRIBE", "sw-b1", "sw-b2")])
    got = []
    while len(got) < 3:
        r = sub.read([ca, cb], 2.0)
        assert r is not None, got
        got.append((r[0].node, r[1]))
    assert sorted(got) == sorted([
        ("127.0.0.1:%d" % a, [b"subscribe", b"sw-a", 1]),
        ("127.0.0.1:%d" % b, [b"subscribe", b"sw-b1", 1]),
        ("127.0.0.1:%d" % b, [b"subscribe", b"sw-b2", 2]),
    ])
    # nothing more: None after the timeout
    t0 = time.monotonic()
    assert sub.read([ca, cb], 0.2) is None
    assert 0.19 <= time.monotonic() - t0 < 0.5
    # messages published on either node arrive on both connections
    cluster.raw(a, "PUBLISH", "sw-b1", "x")
    r = sub.read([ca, cb], 2.0)
    assert r[0] is cb and r[1] == [b"message", b"sw-b1", b"x"]
    # the connections are usable on their own again
    ca.send([("PING",)])
    assert ca.read(2.0) == [b"pong", b""]
    for c in (ca, cb):
        c.close()
    sub.close()


def test_subscriber_is_fair_and_loses_no_reply(pool, cluster, two_masters):
    """A flood on one connection does not hold back the other's replies
    (each wait reads what every ready socket has: fairness by socket read);
    replies read off the sockets together are all returned, in order."""
    a, b = two_masters
    ca, cb = conn_to(pool, a), conn_to(pool, b)
    sub = _core.Subscriber(pool)
    ca.send([("SUBSCRIBE", "sf-a")])
    cb.send([("SUBSCRIBE", "sf-b")])
    for _ in range(2):
        assert sub.read([ca, cb], 2.0) is not None
    n = 20000
    cluster.pipe(a, [("PUBLISH", "sf-a", str(i)) for i in range(n)])
    cluster.raw(b, "PUBLISH", "sf-b", "late")
    # The server answers PUBLISH before its message to cb may have left: wait
    # until it is in cb's socket (under load it can lag), so that what is
    # measured is the reading, not the delivery.
    assert select.select([cb.fileno()], [], [], 5.0)[0], "the message never reached cb"
    got = {b"sf-a": [], b"sf-b": []}
    b_after = None
    while len(got[b"sf-a"]) < n or not got[b"sf-b"]:
        r = sub.read([ca, cb], 2.0)
        assert r is not None, {k: len(v) for k, v in got.items()}
        got[r[1][1]].append(r[1][2])
        if r[1][1] == b"sf-b":
            b_after = len(got[b"sf-a"])
    assert got[b"sf-a"] == [str(i).encode() for i in range(n)]
    assert got[b"sf-b"] == [b"late"]
    assert b_after < n // 4, b_after  # not behind the whole flood
    assert sub.read([ca, cb], 0) is None
    ca.close()
    cb.close()


@pytest.mark.needs("sharded-pubsub")
def test_subscriber_error_replies_and_redirects_are_values(pool, cluster, two_masters):
    a, b = two_masters
    ca = conn_to(pool, a)
    sub = _core.Subscriber(pool)
    slot_b = cluster.slots_of(b)[0]
    ca.send([("SSUBSCRIBE", key_for_slot(slot_b, "sr"))])  # not a's slot: MOVED
    ca.send([("NOSUCHCOMMAND",)])
    conn, reply = sub.read([ca], 2.0)
    assert conn is ca and isinstance(reply, MovedError) and reply.slot_id == slot_b
    conn, reply = sub.read([ca], 2.0)
    assert isinstance(reply, ResponseError) and "unknown command" in str(reply).lower()
    assert ca.open
    ca.close()


def test_subscriber_returns_a_failed_connection_closed(pool, cluster, two_masters):
    a, b = two_masters
    ca, cb = conn_to(pool, a), conn_to(pool, b)
    sub = _core.Subscriber(pool)
    ca.send([("CLIENT", "ID")])
    client_id = sub.read([ca], 2.0)[1]
    assert cluster.raw(a, "CLIENT", "KILL", "ID", client_id) == 1
    conn, err = sub.read([ca, cb], 2.0)
    assert conn is ca and not ca.open and isinstance(err, ConnectionError)
    assert cb.open
    cb.close()


def test_subscriber_wake_from_another_thread(pool, two_masters):
    a, _ = two_masters
    ca = conn_to(pool, a)
    sub = _core.Subscriber(pool)
    for conns in ([ca], []):  # with connections, and as a plain wakeable sleep
        in_thread(sub.wake, 0.2)
        t0 = time.monotonic()
        assert sub.read(conns, 10.0) is None
        assert 0.15 < time.monotonic() - t0 < 1.0
    # a wake before the read: the read returns at once (nothing is missed)
    sub.wake()
    t0 = time.monotonic()
    assert sub.read([ca], 10.0) is None
    assert time.monotonic() - t0 < 0.5
    # drained: the next read waits again
    t0 = time.monotonic()
    assert sub.read([ca], 0.2) is None
    assert time.monotonic() - t0 >= 0.19
    # no connection, no wake: a sleep of the timeout
    t0 = time.monotonic()
    assert sub.read([], 0.15) is None
    assert 0.14 <= time.monotonic() - t0 < 0.5
    ca.close()


def test_subscriber_holds_its_connections_while_it_waits(pool, two_masters):
    a, _ = two_masters
    ca = conn_to(pool, a)
    sub = _core.Subscriber(pool)
    errors = []

    def meddle():
        for call in (lambda: ca.send([("PING",)]), ca.close, sub.close,
                     lambda: sub.read([], 0)):
            try:
                call()
            except RuntimeError as e:
                errors.append(str(e))
        sub.wake()

    in_thread(meddle, 0.2)
    assert sub.read([ca], 10.0) is None
    assert len(errors) == 4 and all("in use by another thread" in e for e in errors)
    assert ca.open
    ca.close()


def test_subscriber_bad_input(pool, new_client, two_masters):
    a, _ = two_masters
    with pytest.raises(TypeError):
        _core.Subscriber()
    with pytest.raises(TypeError):
        _core.Subscriber(object())
    sub = _core.Subscriber(pool)
    ca = conn_to(pool, a)
    with pytest.raises(TypeError):
        sub.read()
    with pytest.raises(TypeError):
        sub.read(5)
    with pytest.raises(TypeError, match="Connection"):
        sub.read([object()], 0)
    with pytest.raises(TypeError):
        sub.read([ca], "soon")
    with pytest.raises(ValueError):
        sub.read([ca], float("nan"))
    with pytest.raises(ValueError, match="twice"):
        sub.read([ca, ca], 0)
    other = conn_to(new_client().connection_pool, a)
    with pytest.raises(ValueError, match="another pool"):
        sub.read([ca, other], 0)
    other.close()
    ca.close()
    with pytest.raises(ConnectionError, match="closed"):
        sub.read([ca], 0)
    assert sub.read([], -1) is None  # a negative timeout is 0
    sub.close()
    sub.close()
    sub.wake()  # harmless once closed
    with pytest.raises(ValueError, match="closed"):
        sub.read([], 0)


def test_subscriber_in_a_forked_child(pool, two_masters):
    """A child gets a pipe of its own: its wake() does not wake the parent."""
    a, _ = two_masters
    sub = _core.Subscriber(pool)
    assert sub.read([], 0) is None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            sub.wake()
            t0 = time.monotonic()
            ok = sub.read([], 0.1) is None and time.monotonic() - t0 >= 0.09
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.close(r)
    os.waitpid(pid, 0)
    t0 = time.monotonic()
    assert sub.read([], 0.2) is None
    assert time.monotonic() - t0 >= 0.19  # not woken by the child


# ---------------------------------------------------------------- ClusterPubSub


@pytest.mark.needs("sharded-pubsub")
def test_listen_returns_when_closed_from_another_thread(rc, cluster, two_masters):
    a, b = two_masters
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(channel_on(cluster, a, "lc"))
    p.ssubscribe(channel_on(cluster, b, "lcs"))
    out, ended = [], []

    def reader():
        out.extend(p.listen())
        ended.append(time.monotonic())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.3)  # it waits in listen() now
    t0 = time.monotonic()
    p.close()
    t.join(5)
    assert not t.is_alive()
    assert ended[0] - t0 < 0.5
    assert out == [] and not p.subscribed


@pytest.mark.needs("sharded-pubsub")
def test_subscribe_from_another_thread_while_listening(rc, cluster, two_masters):
    a, b = two_masters
    first, second = channel_on(cluster, a, "st1"), channel_on(cluster, b, "st2")
    shard = channel_on(cluster, b, "st3")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(first)
    got = []

    def reader():
        for m in p.listen():
            got.append((m["type"], m["channel"], m["data"]))
            if m["data"] == b"end":
                return

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    p.subscribe(second)
    p.ssubscribe(shard)
    assert time.monotonic() - t0 < 0.5  # the reader let the connections go at once
    wait_for(lambda: cluster.raw(b, "PUBSUB", "SHARDNUMSUB", shard) == [shard.encode(), 1], 5,
             message="the shard subscription")
    wait_for(lambda: cluster.raw(a, "PUBSUB", "NUMSUB", second)[1] == 1, 5,
             message="the subscription")
    rc.publish(second, "two")
    rc.spublish(shard, "three")
    wait_for(lambda: len(got) >= 2, 5, message="both messages")
    rc.publish(first, "end")
    t.join(5)
    assert not t.is_alive()
    assert sorted(got) == sorted([("message", second.encode(), b"two"),
                                  ("smessage", shard.encode(), b"three"),
                                  ("message", first.encode(), b"end")])
    p.close()


@pytest.mark.needs("sharded-pubsub")
@pytest.mark.parametrize("timeout", [0.05, 0.2, 0.5])
def test_get_message_timeout_precision(rc, cluster, two_masters, timeout):
    a, b = two_masters
    p = rc.pubsub()
    p.subscribe(channel_on(cluster, a, "tp"))
    p.ssubscribe(channel_on(cluster, b, "tps"))
    for _ in range(2):
        assert p.get_message(timeout=2)["type"] in ("subscribe", "ssubscribe")
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        assert p.get_message(timeout=timeout) is None
        took.append(time.monotonic() - t0)
    assert min(took) >= timeout * 0.98, took
    assert max(took) < timeout + 0.1, took
    # timeout=0 looks once, without waiting
    t0 = time.monotonic()
    assert p.get_message(timeout=0) is None
    assert time.monotonic() - t0 < 0.05
    p.close()


def test_ctrl_c_interrupts_listen(rc, cluster, two_masters):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals go to the main thread")
    a, _ = two_masters
    ch = channel_on(cluster, a, "sigint")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    main = threading.main_thread().ident
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    timer = in_thread(interrupt, 0.3)
    with pytest.raises(KeyboardInterrupt):
        for _ in p.listen():
            pass
    assert time.monotonic() - sent[0] < 1.0
    timer.join()
    # the subscription survived the interrupted wait
    rc.publish(ch, "after")
    m = p.get_message(timeout=2)
    assert m is not None and m["data"] == b"after"
    p.close()
