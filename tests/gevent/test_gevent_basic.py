"""The engine under gevent: waits go to the hub, so greenlets interleave
(the cooperative-I/O issue's measurements), and everything still returns the
right answer."""

import time
import uuid

import gevent
import pytest

from rediscluster import RedisCluster, get_wait_callback
from rediscluster.exceptions import TimeoutError

pytestmark = pytest.mark.timeout(60)


def key(tag, suffix=""):
    return "rcit:{gv%s}:%s" % (tag, suffix)


def test_gevent_driver_chosen(client):
    rc = client()
    assert rc.connection_pool.io == "gevent"
    assert client(io="native").connection_pool.io == "native"
    assert get_wait_callback() is None


def test_hub_ticks_during_blocking_commands(client, ticker):
    """Two BLPOP k 1 in one greenlet: the hub keeps ticking meanwhile (the
    original: ~200 ticks; a driver that blocks in C: 0)."""
    rc = client()
    before = ticker.ticks
    t0 = time.monotonic()
    assert rc.blpop(key(1, "empty"), 1) is None
    assert rc.blpop(key(1, "empty"), 1) is None
    elapsed = time.monotonic() - t0
    ticks = ticker.ticks - before
    assert 1.9 < elapsed < 3.0
    assert ticks >= 150, ticks


def test_ten_greenlets_block_at_once(client):
    rc = client()
    t0 = time.monotonic()
    jobs = [gevent.spawn(rc.blpop, key(i, "none"), 1) for i in range(10)]
    gevent.joinall(jobs, raise_error=True)
    assert [j.value for j in jobs] == [None] * 10
    assert time.monotonic() - t0 < 2.5


def test_twenty_greenlets_share_a_client(client):
    rc = client()
    run = uuid.uuid4().hex[:8]

    def worker(n):
        bad = []
        for i in range(100):
            k = key("%s%d" % (run, n), i % 7)
            v = "%d-%d" % (n, i)
            rc.set(k, v)
            got = rc.get(k)
            if got != v.encode():
                bad.append((k, v, got))
        rc.delete(*[key("%s%d" % (run, n), j) for j in range(7)])
        return bad

    jobs = [gevent.spawn(worker, n) for n in range(20)]
    gevent.joinall(jobs, raise_error=True)
    assert [j.value for j in jobs] == [[]] * 20


def test_pipelines_and_transactions_in_parallel(client):
    rc = client()
    run = uuid.uuid4().hex[:8]

    def piped(n):
        p = rc.pipeline()
        for i in range(50):
            p.set(key("%sp%d" % (run, i), n), i)
        for i in range(50):
            p.get(key("%sp%d" % (run, i), n))
        out = p.execute()
        return out[50:] == [str(i).encode() for i in range(50)]

    def transacted(n):
        k = key("%st%d" % (run, n), "counter")
        for _ in range(20):
            with rc.pipeline(transaction=True) as p:
                p.incr(k)
                p.incr(k)
                p.execute()
        return int(rc.get(k))

    jobs = [gevent.spawn(piped, n) for n in range(5)] + \
           [gevent.spawn(transacted, n) for n in range(5)]
    gevent.joinall(jobs, raise_error=True)
    assert [j.value for j in jobs] == [True] * 5 + [40] * 5


def test_pubsub_in_a_greenlet(client):
    rc = client()
    ch = key(uuid.uuid4().hex[:6], "chan")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    got = []

    def listen():
        for m in p.listen():
            if m["type"] == "message":
                got.append(m["data"])
                if len(got) == 5:
                    return

    reader = gevent.spawn(listen)
    deadline = time.monotonic() + 10
    i = 0
    while not reader.dead and time.monotonic() < deadline:
        rc.publish(ch, "m%d" % i)
        i += 1
        gevent.sleep(0.02)
    reader.join(timeout=5)
    assert got[:1] and got == [b"m%d" % j for j in range(int(got[0][1:]), int(got[0][1:]) + 5)]
    assert p.get_message(timeout=0.2) is None or True  # a later publish may land
    p.close()


def test_get_message_timeout_yields(client, ticker):
    rc = client()
    p = rc.pubsub()
    p.subscribe(key(uuid.uuid4().hex[:6], "quiet"))
    assert p.get_message(timeout=1)["type"] == "subscribe"
    before = ticker.ticks
    t0 = time.monotonic()
    assert p.get_message(timeout=0.5) is None
    assert 0.45 < time.monotonic() - t0 < 1.5
    assert ticker.ticks - before >= 30
    p.close()


def test_listen_lets_other_greenlets_run(client, ticker):
    """A greenlet blocked in listen() (classic and shard connections) leaves
    the hub free: the ticker runs and a publisher greenlet gets through."""
    rc = client()
    tag = uuid.uuid4().hex[:6]
    ch, sch = key(tag, "lc"), key(tag + "s", "ls")
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(ch)
    p.ssubscribe(sch)
    got = []

    def listen():
        for m in p.listen():
            got.append((m["type"], m["data"]))
            if len(got) == 2:
                return

    reader = gevent.spawn(listen)
    before = ticker.ticks
    gevent.sleep(0.5)  # the reader waits in listen() meanwhile
    assert ticker.ticks - before >= 30
    assert not reader.dead and got == []
    rc.publish(ch, "one")
    rc.spublish(sch, "two")
    reader.join(timeout=5)
    assert reader.dead
    assert sorted(got) == [("message", b"one"), ("smessage", b"two")]
    p.close()


def test_listen_woken_by_another_greenlet(client):
    """close() and subscribe() from another greenlet reach a greenlet
    waiting in listen() at once (the wake-up fd waits on the hub too)."""
    rc = client()
    tag = uuid.uuid4().hex[:6]
    p = rc.pubsub(ignore_subscribe_messages=True)
    p.subscribe(key(tag, "w1"))
    got = []

    def listen():
        for m in p.listen():
            got.append(m["data"])

    reader = gevent.spawn(listen)
    gevent.sleep(0.2)
    t0 = time.monotonic()
    p.subscribe(key(tag, "w2"))
    assert time.monotonic() - t0 < 0.5
    gevent.sleep(0.1)
    rc.publish(key(tag, "w2"), "hello")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert got == [b"hello"]
    t0 = time.monotonic()
    p.close()
    reader.join(timeout=5)
    assert reader.dead and time.monotonic() - t0 < 0.5


def test_socket_timeout_honoured(client, ticker):
    rc = client(socket_timeout=0.3)
    before = ticker.ticks
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        rc.blpop(key("to", "none"), 3)
    elapsed = time.monotonic() - t0
    assert 0.25 < elapsed < 1.5
    assert ticker.ticks - before >= 15


def test_set_wait_callback_overrides_native(client, cluster_addr):
    """A pool made with io='native' does not use the hub (the hub stalls
    while it waits): the override really switches drivers."""
    rc = client(io="native")
    ticks = []

    def tick():
        while True:
            gevent.sleep(0.01)
            ticks.append(1)

    g = gevent.spawn(tick)
    gevent.sleep(0.05)
    before = len(ticks)
    rc.blpop(key("nat", "none"), 1)
    during = len(ticks) - before
    g.kill()
    assert during <= 2, during
