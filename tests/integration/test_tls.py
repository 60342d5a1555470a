"""TLS, on the TLS cluster (``tls_cluster`` fixture: ``scripts/cluster.py start
--tls --also-bind 127.0.0.2``, TLS only on BASE..BASE+5, client certificates
optional; these tests skip when it is not running, or fail with
RC_CLUSTER_TLS_REQUIRED=1).

Contract: ``ssl=True`` with ``ssl_ca_certs``, ``ssl_cert_reqs`` ('none',
'optional', 'required', ``ssl.CERT_*`` or None), ``ssl_certfile`` /
``ssl_keyfile`` (mutual TLS), ``ssl_check_hostname`` and ``rediss://`` URLs
work as in redis-py; every command path (single commands, fan-out, pipelines,
client-side multi-key commands, Pub/Sub, large values) works over TLS; a
certificate that does not verify fails the constructor at once with a message
that names the node and says "certificate verify failed"; after a master dies
the client recovers on the promoted replica, over TLS too.
"""

import os
import ssl
import threading
import time
from urllib.parse import quote

import pytest

from rediscluster import RedisCluster
from rediscluster.exceptions import (
    ClusterError,
    ConnectionError,
    RedisClusterException,
    TimeoutError,
)

from rcit import key_for_slot, wait_for

pytestmark = pytest.mark.timeout(120)

TRANSIENT = (ConnectionError, TimeoutError, ClusterError)


@pytest.fixture
def tc(tls_cluster):
    """The TLS cluster's info; its rcit:* keys are deleted before and after."""
    tls_cluster.cluster.delete_test_keys()
    yield tls_cluster
    tls_cluster.cluster.delete_test_keys()


@pytest.fixture
def client(tls_cluster):
    """client(**kwargs) -> RedisCluster with ssl=True on the TLS cluster
    (verifying with its CA unless told otherwise), closed afterwards."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("socket_timeout", 5.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        kwargs.setdefault("ssl", True)
        if "ssl_cert_reqs" not in kwargs or kwargs["ssl_cert_reqs"] not in ("none", None, 0):
            kwargs.setdefault("ssl_ca_certs", tls_cluster.ca)
        if "startup_nodes" not in kwargs:
            kwargs.setdefault("host", tls_cluster.host)
            kwargs.setdefault("port", tls_cluster.port)
        c = RedisCluster(**kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def all_nodes(tc):
    return {"%s:%d" % (tc.host, p) for p in tc.ports}


def keys_across_slots(n, stem):
    """n keys spread evenly over the 16384 slots (so over all masters)."""
    step = 16384 // n
    return [key_for_slot((i * step) % 16384, "%s%d" % (stem, i)) for i in range(n)]


def connect_error(tc, timeout=2.0, **kwargs):
    """The RedisClusterException of a client that must not connect, and how
    long the constructor took."""
    kwargs.setdefault("socket_timeout", 5.0)
    kwargs.setdefault("socket_connect_timeout", 2.0)
    kwargs.setdefault("host", tc.host)
    kwargs.setdefault("port", tc.port)
    t0 = time.monotonic()
    with pytest.raises(RedisClusterException) as info:
        RedisCluster(ssl=True, **kwargs).close()
    return str(info.value), time.monotonic() - t0


# ---------------------------------------------------------------------------
# commands over TLS


def test_set_get(tc, client):
    c = client()
    d = client(decode_responses=True)
    for slot in (0, 5000, 9000, 16383):
        k = key_for_slot(slot, "sg")
        assert c.set(k, b"v\x00\xff%d" % slot) is True
        assert c.get(k) == b"v\x00\xff%d" % slot
        assert d.set(k, "\u00e9t\u00e9 %d" % slot) is True
        assert d.get(k) == "\u00e9t\u00e9 %d" % slot
        assert c.delete(k) == 1
        assert c.get(k) is None
    # what the client wrote is on the node that owns the slot (raw TLS check)
    k = key_for_slot(1234, "raw")
    c.set(k, b"x")
    assert tc.raw(tc.cluster.owner(1234), "GET", k) == b"x"


def test_ping_fans_out_to_every_node(tc, client):
    assert client().ping() == dict.fromkeys(all_nodes(tc), True)


def test_pipeline_2000_commands(tc, client):
    c = client()
    keys = keys_across_slots(1000, "pl")
    with c.pipeline() as p:
        for i, k in enumerate(keys):
            p.set(k, b"value-%d" % i)
        for k in keys:
            p.get(k)
        res = p.execute()
    assert len(res) == 2000
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [b"value-%d" % i for i in range(1000)]


def test_mget_500_keys(tc, client):
    c = client()
    keys = keys_across_slots(500, "mg")
    mapping = {k: b"mg-%d-" % i + os.urandom(8) for i, k in enumerate(keys)}
    assert c.mset(mapping) is True
    missing = key_for_slot(77, "never-set")
    assert c.mget(keys + [missing]) == [mapping[k] for k in keys] + [None]


def test_large_value_5mib(tc, client):
    c = client(socket_timeout=20.0)
    k = key_for_slot(4242, "big")
    value = os.urandom(5 * 1024 * 1024)
    assert c.set(k, value) is True
    assert c.strlen(k) == len(value)
    assert c.get(k) == value
    # and in a pipeline, between small commands
    with c.pipeline() as p:
        p.set(key_for_slot(1, "small"), b"s")
        p.get(k)
        p.get(key_for_slot(1, "small"))
        assert p.execute() == [True, value, b"s"]


def test_threads_share_a_tls_client(tc, client):
    c = client()
    errors = []

    def work(t):
        try:
            for i in range(200):
                k = key_for_slot((t * 997 + i * 31) % 16384, "th%d-%d" % (t, i))
                v = b"%d:%d" % (t, i)
                assert c.set(k, v) is True
                assert c.get(k) == v
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


def test_pubsub(tc, client):
    c = client()
    p = c.pubsub()
    try:
        channel = "rcit:tls:chan"
        p.subscribe(channel)
        m = wait_for(lambda: p.get_message(timeout=0.1), 5.0, message="subscribe confirmation")
        assert m == {"type": "subscribe", "pattern": None, "channel": channel.encode(), "data": 1}
        # publish until it arrives: the subscription may not be visible on
        # every node at the very first PUBLISH
        data = b"over TLS \x00\xff"

        def published():
            c.publish(channel, data)
            return p.get_message(timeout=0.2)

        m = wait_for(published, 5.0, message="the published message")
        assert m == {"type": "message", "pattern": None, "channel": channel.encode(), "data": data}
    finally:
        p.close()


def test_read_from_replicas(tc, client):
    c = client(read_from_replicas=True)
    k = key_for_slot(3000, "rep")
    assert c.set(k, b"r") is True
    tc.cluster.wait_replica_synced(tc.cluster.owner(3000))
    assert c.get(k) == b"r"


# ---------------------------------------------------------------------------
# certificate verification


@pytest.mark.parametrize("reqs", ["required", "optional", ssl.CERT_REQUIRED, ssl.CERT_OPTIONAL])
def test_cert_reqs_with_the_right_ca(tc, client, reqs):
    c = client(ssl_cert_reqs=reqs, ssl_ca_certs=tc.ca)
    k = key_for_slot(100, "reqs")
    assert c.set(k, b"1") is True
    assert c.get(k) == b"1"


@pytest.mark.parametrize("reqs", ["none", None, ssl.CERT_NONE])
def test_cert_reqs_none_needs_no_ca(tc, client, reqs):
    c = client(ssl_cert_reqs=reqs)
    assert c.ping() == dict.fromkeys(all_nodes(tc), True)
    # and an unrelated CA does not matter then
    c2 = client(ssl_cert_reqs=reqs, ssl_ca_certs=tc.wrong_ca)
    assert c2.ping() == dict.fromkeys(all_nodes(tc), True)


def test_default_cert_reqs_is_required(tc, client):
    """No ssl_cert_reqs: 'required', as in redis-py; with the right CA it works,
    with the OS's CAs (no ssl_ca_certs) the test CA is unknown."""
    assert client().get(key_for_slot(5, "dflt")) is None
    msg, _ = connect_error(tc)
    assert "certificate verify failed" in msg, msg


@pytest.mark.parametrize("reqs", ["required", "optional"])
def test_wrong_ca_fails_fast_and_clearly(tc, reqs):
    msg, took = connect_error(tc, ssl_cert_reqs=reqs, ssl_ca_certs=tc.wrong_ca)
    assert "certificate verify failed" in msg, msg
    assert "%s:%d" % (tc.host, tc.port) in msg, msg  # names the node
    assert took < 2.0, "the constructor took %.2fs to fail" % took


def test_wrong_ca_on_every_startup_node(tc):
    nodes = [{"host": tc.host, "port": p} for p in tc.ports[:3]]
    msg, took = connect_error(tc, startup_nodes=nodes, host=None, port=None,
                              ssl_cert_reqs="required", ssl_ca_certs=tc.wrong_ca)
    assert "certificate verify failed" in msg, msg
    assert took < 2.0, took


def test_missing_ca_file(tc, tmp_path):
    missing = str(tmp_path / "no-such-ca.crt")
    with pytest.raises(Exception) as info:
        RedisCluster(host=tc.host, port=tc.port, ssl=True, ssl_ca_certs=missing,
                     socket_connect_timeout=2.0)
    assert "CA" in str(info.value) or "certificate" in str(info.value), info.value


def test_plain_client_on_tls_port_fails(tc):
    t0 = time.monotonic()
    with pytest.raises(RedisClusterException) as info:
        RedisCluster(host=tc.host, port=tc.port, socket_timeout=2.0,
                     socket_connect_timeout=2.0)
    assert "%s:%d" % (tc.host, tc.port) in str(info.value)
    assert time.monotonic() - t0 < 3.0


def test_check_hostname_with_ip_in_the_certificate(tc, client):
    c = client(ssl_check_hostname=True)
    assert c.ping() == dict.fromkeys(all_nodes(tc), True)
    k = key_for_slot(8000, "hn")
    assert c.set(k, b"h") is True and c.get(k) == b"h"


def test_check_hostname_mismatch(tc, client):
    """The nodes also listen on 127.0.0.2, which their certificate does not
    name: with ssl_check_hostname=True that startup node is refused; without
    it the certificate still verifies (same CA)."""
    alias = "127.0.0.2"
    try:
        client(host=alias, ssl_check_hostname=False).close()
    except RedisClusterException as e:
        pytest.skip("the TLS cluster does not answer on %s (%s)" % (alias, e))
    msg, took = connect_error(tc, host=alias, ssl_ca_certs=tc.ca, ssl_check_hostname=True)
    assert "certificate verify failed" in msg, msg
    assert "mismatch" in msg.lower(), msg
    assert "%s:%d" % (alias, tc.port) in msg, msg
    assert took < 2.0, took


# ---------------------------------------------------------------------------
# client certificates (the nodes: tls-auth-clients optional)


def test_client_certificate_accepted(tc, client):
    c = client(ssl_certfile=tc.client_cert, ssl_keyfile=tc.client_key)
    k = key_for_slot(2222, "mtls")
    assert c.set(k, b"m") is True
    assert c.get(k) == b"m"
    assert c.ping() == dict.fromkeys(all_nodes(tc), True)


def test_client_certificate_and_key_in_one_file(tc, client, tmp_path):
    pem = tmp_path / "client.pem"
    with open(tc.client_cert, "rb") as cert, open(tc.client_key, "rb") as key:
        pem.write_bytes(cert.read() + key.read())
    c = client(ssl_certfile=str(pem))
    assert c.get(key_for_slot(3, "pem")) is None


def test_client_certificate_from_another_ca_is_refused(tc):
    """The nodes check a certificate the client presents: one from an unknown
    CA is refused (so the client really sends the one it is given). With TLS
    1.3 the server checks it after the client's side of the handshake, so the
    client sees the refusal as a dropped connection at its first command."""
    msg, took = connect_error(tc, ssl_ca_certs=tc.ca, ssl_certfile=tc.wrong_client_cert,
                              ssl_keyfile=tc.wrong_client_key)
    assert "%s:%d" % (tc.host, tc.port) in msg, msg
    assert took < 2.0, took


def test_bad_client_certificate_file(tc, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(Exception) as info:
        RedisCluster(host=tc.host, port=tc.port, ssl=True, ssl_ca_certs=tc.ca,
                     ssl_certfile=str(bad), socket_connect_timeout=2.0)
    assert "certificate" in str(info.value), info.value


# ---------------------------------------------------------------------------
# URLs


def test_rediss_url_without_verification(tc):
    c = RedisCluster.from_url("rediss://%s:%d?ssl_cert_reqs=none" % (tc.host, tc.port))
    try:
        k = key_for_slot(600, "url")
        assert c.set(k, b"u") is True
        assert c.get(k) == b"u"
    finally:
        c.close()


def test_rediss_url_with_ca(tc):
    url = "rediss://%s:%d/0?ssl_ca_certs=%s&ssl_cert_reqs=required&decode_responses=true" % (
        tc.host, tc.port, quote(tc.ca, safe=""))
    c = RedisCluster.from_url(url)
    try:
        k = key_for_slot(601, "url")
        assert c.set(k, "u") is True
        assert c.get(k) == "u"
    finally:
        c.close()
    c = RedisCluster.from_url("rediss://%s:%d" % (tc.host, tc.port), ssl_ca_certs=tc.ca,
                              ssl_check_hostname=True)
    try:
        assert c.get(key_for_slot(601, "url")) == b"u"
    finally:
        c.close()


def test_rediss_url_with_wrong_ca(tc):
    t0 = time.monotonic()
    with pytest.raises(RedisClusterException) as info:
        RedisCluster.from_url("rediss://%s:%d" % (tc.host, tc.port), ssl_ca_certs=tc.wrong_ca)
    assert "certificate verify failed" in str(info.value), info.value
    assert time.monotonic() - t0 < 2.0


# ---------------------------------------------------------------------------
# failover


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_master_killed_during_tls_load(tc, client, tls_cluster_script):
    """SET/GET on the slots of a master that is killed: errors only while its
    replica is promoted, then every command works again over TLS."""
    c = client(socket_timeout=1.0, socket_connect_timeout=1.0)
    cl = tc.cluster
    try:
        master = [p for p in cl.masters() if p != tc.port][-1]
        owned = cl.slots_of(master)
        keys = [key_for_slot(s, "fo") for s in owned[:: max(1, len(owned) // 20)]]
        for k in keys:
            assert c.set(k, b"0") is True
        cl.wait_replica_synced(master)

        killed = {}
        errors = []
        good_run = 0
        i = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if i == 100:
                tls_cluster_script("kill-node", master)
                killed["t"] = time.monotonic()
            k = keys[i % len(keys)]
            v = b"%d" % i
            i += 1
            try:
                assert c.set(k, v) is True
                assert c.get(k) == v
                good_run += 1
            except TRANSIENT as e:
                errors.append((time.monotonic(), e))
                good_run = 0
            if "t" in killed and good_run >= 200:
                break
        assert "t" in killed
        assert good_run >= 200, "no recovery: %d errors, last %r" % (len(errors), errors[-1:])
        if errors:
            assert errors[0][0] >= killed["t"] - 0.01, errors[:3]
            assert errors[-1][0] - killed["t"] < 15.0, errors[-1]
        assert cl.owner(owned[0]) != master
        assert c.ping().keys() >= all_nodes(tc) - {"%s:%d" % (tc.host, master)}
    finally:
        tls_cluster_script("wait", "--restore-roles", timeout=180)
