"""redis-py-cluster 2.1.3's object model on the real cluster (issue 10):
connection objects handed out by the pools, standalone ClusterConnection and
NodeManager, the blocking pool, RedisCluster(connection_pool=any object), and
methods 2.1.3 inherited from redis-py (issue 17). The differential suite
(tests/compat) compares the same surface with the original; these tests pin
our own guarantees (limits, reuse, closing)."""

import threading
import time

import pytest

from rediscluster import RedisCluster
from rediscluster.connection import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    ClusterConnectionPool,
    by_node_context,
)
from rediscluster.exceptions import (
    ClusterCrossSlotKeysError,
    ConnectionError,
    MovedError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)
from rediscluster.nodemanager import NodeManager

from rcit import key_for_slot


def _node(pool, slot=0):
    return pool.get_master_node_by_slot(slot)


def _held(pool, node):
    return pool._stats()["nodes"].get(node["name"], (0, 0))


def test_connection_by_node_round_trip_and_reuse(new_client):
    c = new_client()
    pool = c.connection_pool
    node = _node(pool)
    k = key_for_slot(0, ":om")
    c.set(k, "v")
    conn = pool.get_connection_by_node(node)
    assert isinstance(conn, ClusterConnection) and conn.node is node
    assert (conn.host, conn.port) == (node["host"], int(node["port"]))
    conn.send_command("GET", k)
    assert conn.read_response() == b"v"
    conn.send_command("GET", key_for_slot(16000, ":om"))  # another master's slot
    with pytest.raises(MovedError):
        conn.read_response()
    opened = _held(pool, node)[0]
    pool.release(conn)
    assert _held(pool, node) == (opened, 1)  # clean: back to the pool, idle
    c.delete(k)


def test_released_connection_with_unread_reply_is_closed(new_client):
    pool = new_client().connection_pool
    node = _node(pool)
    conn = pool.get_connection_by_node(node)
    conn.send_command("PING")
    conn.send_command("PING")
    assert conn.read_response() == b"PONG"
    before = _held(pool, node)[0]
    pool.release(conn)  # one PONG unread
    assert _held(pool, node)[0] == before - 1


def test_released_connection_after_state_change_is_closed(new_client):
    pool = new_client().connection_pool
    node = _node(pool)
    conn = pool.get_connection_by_node(node)
    conn.send_command("CLIENT", "SETNAME", "changed")
    assert conn.read_response() == b"OK"
    before = _held(pool, node)[0]
    pool.release(conn)
    assert _held(pool, node)[0] == before - 1
    # the name never reaches another user of the pool
    other = pool.get_connection_by_node(node)
    other.send_command("CLIENT", "GETNAME")
    assert other.read_response() is None
    pool.release(other)


def test_handed_out_connections_count_against_max_connections(new_client):
    pool = new_client(max_connections=2).connection_pool
    node = _node(pool)
    pool.disconnect()
    held = [pool.get_connection_by_node(node), pool.get_connection_by_node(node)]
    with pytest.raises(RedisClusterException, match="Too many connections"):
        pool.get_connection_by_node(node)
    pool.release(held.pop())
    conn = pool.get_connection_by_node(node)  # the released one
    for c in held + [conn]:
        pool.release(c)


def test_pool_helpers(new_client, cluster):
    c = new_client()
    pool = c.connection_pool
    with by_node_context(pool, _node(pool)) as conn:
        conn.send_command("ECHO", "x")
        assert conn.read_response() == b"x"
    conn = pool.get_connection("pubsub", channel="foo")
    assert conn.node["name"] == pool.get_master_node_by_slot(pool.nodes.keyslot("foo"))["name"]
    pool.release(conn)
    with pytest.raises(RedisClusterException, match="Only 'pubsub' commands"):
        pool.get_connection("GET")
    with pytest.raises(RedisClusterException, match="No way to dispatch"):
        pool.get_connection_by_key("", "GET")
    assert pool.get_encoder().encode(1.5) == b"1.5"
    assert pool.owns_connection(pool.get_random_connection())


def test_packed_commands_and_can_read(new_client):
    pool = new_client(decode_responses=True).connection_pool
    k = key_for_slot(0, ":pk")
    conn = pool.get_connection_by_slot(0)
    assert conn.can_read(0) is False
    conn.send_packed_command(conn.pack_commands([("SET", k, "é"), ("GET", k)]))
    assert conn.can_read(1) is True
    assert conn.can_read(0) is True  # the reply is kept, not consumed
    assert conn.read_response() == "OK" and conn.read_response() == "é"
    conn.send_command("DEL", k)
    assert conn.read_response() == 1
    pool.release(conn)


def test_read_response_times_out(new_client):
    pool = new_client(socket_timeout=0.2).connection_pool
    conn = pool.get_connection_by_slot(0)
    conn.send_command("BLPOP", key_for_slot(0, ":never"), 5)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.read_response()
    assert time.monotonic() - t0 < 1.5
    assert not conn.open
    pool.release(conn)


def test_standalone_connection(cluster_addr):
    host, port = cluster_addr
    conn = ClusterConnection(host=host, port=port, decode_responses=True)
    assert repr(conn) == "ClusterConnection<host=%s,port=%d,db=0>" % (host, port)
    conn.send_command("PING")
    assert conn.read_response() == "PONG"
    conn.disconnect()
    assert not conn.open
    conn.send_command("ECHO", "again")  # reconnects
    assert conn.read_response() == "again"
    with pytest.raises(RedisClusterException, match="'db' is not possible"):
        ClusterConnection(host=host, port=port, db=1)
    with pytest.raises(ConnectionError):
        ClusterConnection(host=host, port=1, socket_connect_timeout=1).connect()


def test_standalone_nodemanager(cluster_addr, cluster):
    host, port = cluster_addr
    nm = NodeManager(startup_nodes=[{"host": host, "port": port}])
    nm.initialize()
    assert len(nm.slots) == 16384
    assert {n["name"] for n in nm.all_masters()} == {
        "%s:%d" % (host, p) for p in cluster.masters()}
    assert nm.startup_nodes == [{"host": host, "port": port, "name": "%s:%d" % (host, port)}]
    assert nm.keyslot("foo") == 12182
    link = nm.get_redis_link(host, port)
    assert link.ping() is True
    assert link.config_get("cluster-require-full-coverage") == {
        "cluster-require-full-coverage": "yes"}
    nm.initialize()  # the startup nodes stay as given
    assert len(nm.startup_nodes) == 1
    nm.populate_startup_nodes()
    assert len(nm.startup_nodes) == 6
    with pytest.raises(RedisClusterException, match="cannot be connected"):
        NodeManager(startup_nodes=[{"host": host, "port": 1}]).initialize()


def _blocking_workers(rc, slots, threads=12, rounds=20):
    errors, done = [], []

    def worker(i):
        try:
            for _ in range(rounds):
                rc.blpop([key_for_slot(slots[i % len(slots)], ":bp%d" % i)], 0.05)
            done.append(i)
        except Exception as e:  # reported below
            errors.append(e)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return errors, done


def test_blocking_pool_waits_for_a_free_connection(cluster_addr):
    host, port = cluster_addr
    pool = ClusterBlockingConnectionPool(startup_nodes=[{"host": host, "port": port}],
                                         max_connections=4, timeout=5)
    errors, done = _blocking_workers(RedisCluster(connection_pool=pool), [100])
    assert not errors and len(done) == 12
    short = ClusterBlockingConnectionPool(startup_nodes=[{"host": host, "port": port}],
                                          max_connections=1, timeout=0.2)
    held = short.get_connection_by_slot(0)
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="No connection available"):
        short.get_connection_by_slot(0)
    assert time.monotonic() - t0 >= 0.15
    short.release(held)


def test_blocking_pool_waiters_for_different_nodes(cluster_addr):
    # At the global limit an idle connection to another node makes room (the
    # longest idle one), as 2.1.3's pool did; waiting is for busy ones only.
    host, port = cluster_addr
    pool = ClusterBlockingConnectionPool(startup_nodes=[{"host": host, "port": port}],
                                         max_connections=4, timeout=1)
    errors, done = _blocking_workers(RedisCluster(connection_pool=pool), [100, 6000, 12000])
    assert not errors and len(done) == 12


def test_connection_pool_of_another_kind(cluster_addr):
    class Custom:
        pass

    pool = Custom()
    rc = RedisCluster(connection_pool=pool)
    assert rc.connection_pool is pool
    with pytest.raises(RedisClusterException, match="need a rediscluster ClusterConnectionPool"):
        rc.get("k")


def test_inherited_methods(rc, cluster_addr):
    a, b = key_for_slot(77, ":bo1"), key_for_slot(77, ":bo2")
    rc.set(a, "\x0f"), rc.set(b, "\xf0")
    assert rc.bitop("OR", key_for_slot(77, ":bod"), a, b) == 2
    with pytest.raises(ClusterCrossSlotKeysError, match="BITOP - all keys must map"):
        rc.bitop("OR", a, key_for_slot(78, ":x"))
    with pytest.raises(RedisClusterException):
        rc.bitop("OR", a, key_for_slot(78, ":x"))
    assert rc.debug_object(a)["type"] == "Value"
    assert rc.client_unblock(2 ** 40) is False
    with pytest.raises(ResponseError, match="SWAPDB"):
        rc.swapdb(0, 1)
    for name in ("monitor", "readonly", "readwrite", "sentinel_masters"):
        with pytest.raises(RedisClusterException, match="is blocked"):
            getattr(rc, name)()
    with pytest.warns(DeprecationWarning):
        assert rc.watch(a) is None
    conn = rc.connection_pool.get_connection_by_slot(77)
    conn.send_command("GET", a)
    assert rc.parse_response(conn, "GET") == b"\x0f"
    rc.connection_pool.release(conn)
    rc.delete(a, b, key_for_slot(77, ":bod"))


def test_ssl_pool_uses_ssl_connection_class(tls_cluster):
    from rediscluster.connection import SSLClusterConnection

    c = RedisCluster(host=tls_cluster.host, port=tls_cluster.port, ssl=True,
                     ssl_ca_certs=tls_cluster.ca, ssl_cert_reqs="required")
    assert c.connection_pool.connection_class is SSLClusterConnection
    conn = c.connection_pool.get_random_connection()
    assert isinstance(conn, SSLClusterConnection)
    conn.send_command("PING")
    assert conn.read_response() == b"PONG"
    c.connection_pool.release(conn)


def test_pool_class_is_exported():
    assert issubclass(ClusterBlockingConnectionPool, ClusterConnectionPool)
