"""Bad and unusual input: argument types, huge values, unreachable startup
nodes, db=, and socket_timeout against a node that stops answering."""

import socket
import threading
import time

import pytest

from rediscluster import RedisCluster
from rediscluster.exceptions import DataError, RedisClusterException, TimeoutError

from rcit import RespError, key_for_slot, wait_for

UNREACHABLE = "Redis Cluster cannot be connected. Please provide at least one reachable node."


@pytest.mark.parametrize("value, name", [(None, "NoneType"), (True, "bool"), (False, "bool"),
                                         ({"a": 1}, "dict"), ([1], "list"), (object(), "object")])
def test_bad_value_types(rc, value, name, flush):
    k = key_for_slot(50, "bad")
    with pytest.raises(DataError, match="Invalid input of type: '%s'" % name):
        rc.set(k, value)
    assert rc.get(k) is None  # nothing was sent, the client is fine
    with pytest.raises(DataError, match="Invalid input of type: '%s'" % name):
        rc.execute_command("SET", k, value)
    with pytest.raises(DataError, match="Invalid input of type: '%s'" % name):
        rc.get(value)
    with pytest.raises(DataError, match="Invalid input of type: '%s'" % name):
        rc.keyslot(value)
    assert rc.set(k, "ok") is True


def test_bad_value_in_batch_is_refused(rc, flush):
    k = key_for_slot(51, "bad")
    try:
        res = rc._execute_batch([(("SET", k, "1"), None), (("SET", k, None), None)])
    except DataError as e:
        assert "NoneType" in str(e)
    else:
        assert isinstance(res[1], DataError) and "NoneType" in str(res[1])
    assert rc.set(k, "2") is True and rc.get(k) == b"2"


@pytest.mark.parametrize("key, same_as", [
    (b"rcit:bytes\xff", b"rcit:bytes\xff"),
    ("rcit:str\u00e9", "rcit:str\u00e9".encode("utf-8")),
    (123456789, b"123456789"),
    (-7, b"-7"),
    (2.5, b"2.5"),
    (0.1, b"0.1"),
    (1e100, b"1e+100"),
])
def test_key_types(rc, cluster, key, same_as):
    try:
        assert rc.keyslot(key) == rc.keyslot(same_as)
        assert rc.set(key, "kt") is True
        assert rc.get(same_as) == b"kt"
        slot = rc.keyslot(same_as)
        assert cluster.raw(cluster.owner(slot), "GET", same_as) == b"kt"
    finally:
        rc.delete(same_as)


@pytest.mark.parametrize("value, stored", [
    (1, b"1"), (-12, b"-12"), (2 ** 70, b"1180591620717411303424"),
    (1.0, b"1.0"), (0.1, b"0.1"), (1e100, b"1e+100"), (-2.5e-08, b"-2.5e-08"),
    (float("inf"), b"inf"),
    ("\u5927\u5956", "\u5927\u5956".encode("utf-8")), (b"\x00\xff", b"\x00\xff"),
    ("", b""), (b"", b""),
])
def test_values_encoded_like_redis_py(rc, value, stored, flush):
    k = key_for_slot(52, "val")
    assert rc.set(k, value) is True
    assert rc.get(k) == stored


def test_memoryview_value(rc, flush):
    k = key_for_slot(53, "bv")
    assert rc.set(k, memoryview(b"mv\xff")) is True
    assert rc.get(k) == b"mv\xff"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_huge_value_round_trip(rc):
    k = key_for_slot(54, "huge")
    size = 64 * 1024 * 1024
    value = bytes(range(256)) * (size // 256)
    value = value[:-3] + b"end"
    try:
        assert rc.set(k, value) is True
        got = rc.get(k)
        assert len(got) == size and got == value
        assert rc.execute_command("STRLEN", k) == size
        res = rc._execute_batch([(("GET", k), None), (("STRLEN", k), None)])
        assert res[0] == value and res[1] == size
    finally:
        rc.execute_command("UNLINK", k)
    assert rc.exists(k) == 0


def _closed_ports(n):
    """n distinct local ports that nothing listens on."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()  # never listened: connecting is refused
    return ports


def _closed_port():
    return _closed_ports(1)[0]


@pytest.fixture
def hangup_server():
    """A TCP server that accepts and closes every connection at once."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join(5)
    srv.close()


def test_unreachable_startup_node():
    port = _closed_port()
    t0 = time.monotonic()
    with pytest.raises(RedisClusterException) as ei:
        RedisCluster(host="127.0.0.1", port=port, socket_connect_timeout=1.0)
    assert str(ei.value).startswith(UNREACHABLE)
    assert time.monotonic() - t0 < 10


def test_startup_node_that_hangs_up(hangup_server):
    t0 = time.monotonic()
    with pytest.raises(RedisClusterException) as ei:
        RedisCluster(host="127.0.0.1", port=hangup_server, socket_timeout=1.0)
    assert str(ei.value).startswith(UNREACHABLE)
    assert time.monotonic() - t0 < 10


def test_dead_startup_nodes_are_skipped(cluster_addr):
    # dead seeds among a good one are skipped, whatever order they are tried in
    # (the seeds are tried in a random rotation: 8 clients, 3 dead seeds of 4)
    nodes = [{"host": "127.0.0.1", "port": p} for p in _closed_ports(3)]
    nodes.append({"host": cluster_addr[0], "port": cluster_addr[1]})
    for _ in range(8):
        c = RedisCluster(startup_nodes=list(nodes), socket_connect_timeout=1.0)
        try:
            assert len(c.connection_pool.nodes.slots) == 16384
            assert all(c.ping().values())
        finally:
            c.close()


def test_db_argument_refused(cluster_addr):
    with pytest.raises(RedisClusterException, match="Argument 'db' is not possible to use"):
        RedisCluster(host=cluster_addr[0], port=cluster_addr[1], db=1)


@pytest.fixture
def slow_node_timeout(cluster):
    """Raise cluster-node-timeout while a node sleeps, so that a 1 s DEBUG SLEEP
    on a master cannot start a failover (the test cluster uses 1000 ms)."""
    old = {p: cluster.raw(p, "CONFIG", "GET", "cluster-node-timeout")[1] for p in cluster.ports}
    for p in cluster.ports:
        cluster.raw(p, "CONFIG", "SET", "cluster-node-timeout", 10000)
    yield
    for p, v in old.items():
        cluster.raw(p, "CONFIG", "SET", "cluster-node-timeout", v)


def _sleep_node_and_get(cluster, client, node, key):
    """DEBUG SLEEP 1 on ``node``, then GET ``key`` (on that node) with the client;
    return the seconds the GET took to raise TimeoutError."""
    sleeper = cluster.conn(node, timeout=10.0)
    try:
        sleeper.send("DEBUG", "SLEEP", 1)

        def asleep():  # a PING on another connection gets no answer
            try:
                cluster.raw(node, "PING", timeout=0.05)
            except (OSError, ConnectionError):  # socket.timeout is an OSError
                return True
            return False

        wait_for(asleep, 0.5, interval=0.001, message="DEBUG SLEEP to start")
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            client.get(key)
        elapsed = time.monotonic() - t0
        assert sleeper.read() == b"OK"
        return elapsed
    finally:
        sleeper.close()


def _check_socket_timeout(new_client, cluster, cluster_addr, seed):
    c = new_client(socket_timeout=0.2)
    others = [p for p in cluster.masters() if p != cluster_addr[1]]
    node = cluster_addr[1] if seed else others[0]
    assert cluster.role(node) == "master"
    slot = cluster.slots_of(node)[0]
    k = key_for_slot(slot, "slow")
    assert c.set(k, "v") is True
    elapsed = _sleep_node_and_get(cluster, c, node, k)
    # a read may be retried once on a fresh connection: 2 x 0.2 s plus a little
    assert elapsed < 0.7, "GET took %.2fs with socket_timeout=0.2" % elapsed
    # the node is awake again: the client works
    assert c.get(k) == b"v"
    assert c.set(k, "w") is True and c.get(k) == b"w"
    assert cluster.owner(slot) == node


@pytest.mark.timeout(60)
def test_socket_timeout_honoured(new_client, cluster, cluster_addr, slow_node_timeout, flush):
    _check_socket_timeout(new_client, cluster, cluster_addr, seed=False)


@pytest.mark.timeout(60)
def test_socket_timeout_honoured_on_seed_node(new_client, cluster, cluster_addr,
                                              slow_node_timeout, flush):
    # the sleeping node is also the one discovery asks first
    _check_socket_timeout(new_client, cluster, cluster_addr, seed=True)


def test_socket_timeout_on_blocking_command(new_client, flush):
    # a server-side block longer than socket_timeout is a TimeoutError too
    # (BLPOP is a write: it is never sent twice)
    c = new_client(socket_timeout=0.2)
    k = key_for_slot(56, "blk")
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        c.execute_command("BLPOP", k, 2)
    assert time.monotonic() - t0 < 0.8
    k2 = key_for_slot(56, "blk2")  # not k: the dropped BLPOP may still be queued on it
    assert c.execute_command("RPUSH", k2, "x") == 1
    assert list(c.execute_command("BLPOP", k2, 1)) == [k2.encode(), b"x"]


def test_raw_error_helper(cluster):
    with pytest.raises(RespError):
        cluster.raw(cluster.base, "NOSUCHCOMMANDX")
