"""TLS under gevent: the handshake and every read and write wait on the hub."""

import time
import uuid

import gevent
import pytest

from rediscluster import RedisCluster

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tls_client(tls_cluster):
    c = RedisCluster(host=tls_cluster.host, port=tls_cluster.port, ssl=True,
                     ssl_ca_certs=tls_cluster.ca, socket_timeout=5.0)
    yield c
    c.close()


def test_tls_blpop_lets_the_hub_run(tls_client, ticker):
    assert tls_client.connection_pool.io == "gevent"
    before = ticker.ticks
    t0 = time.monotonic()
    assert tls_client.blpop("rcit:{gvtls}:none", 1) is None
    assert 0.9 < time.monotonic() - t0 < 2.0
    assert ticker.ticks - before >= 70


def test_tls_greenlets_share_a_client(tls_client):
    run = uuid.uuid4().hex[:8]

    def worker(n):
        p = tls_client.pipeline()
        for i in range(30):
            p.set("rcit:{gvtls%s%d}:%d" % (run, n, i % 5), "%d-%d" % (n, i))
            p.get("rcit:{gvtls%s%d}:%d" % (run, n, i % 5))
        out = p.execute()
        ok = all(out[2 * i + 1] == b"%d-%d" % (n, i) for i in range(30))
        tls_client.delete(*["rcit:{gvtls%s%d}:%d" % (run, n, j) for j in range(5)])
        return ok and all(tls_client.ping().values())

    jobs = [gevent.spawn(worker, n) for n in range(10)]
    gevent.joinall(jobs, raise_error=True)
    assert [j.value for j in jobs] == [True] * 10
