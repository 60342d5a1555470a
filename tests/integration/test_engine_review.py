"""Engine defects found in the review of csrc/ (issue 11), on the real cluster.

Each test failed before its fix; the item numbers are the issue's."""

import inspect
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from rediscluster import RedisCluster, _core
from rediscluster.exceptions import ConnectionError, RedisClusterException

from rcit import key_for_slot, parse_info, wait_for

pytestmark = pytest.mark.timeout(120)


def _get_calls(cluster, port):
    info = parse_info(cluster.raw(port, "INFO", "commandstats"))
    stat = info.get("cmdstat_get", "calls=0")
    return int(dict(kv.split("=") for kv in stat.split(","))["calls"])


# ------------------------------------------------------------------ item 1


def test_replica_as_startup_node_serves_its_share_of_reads(cluster, flush):
    """A connection opened to a node before it was known to be a replica
    (discovery through it) is upgraded with READONLY or replaced when it is
    next used for a replica read."""
    slot = 1234
    master = cluster.owner(slot)
    replica = cluster.replica_of(master)
    key = key_for_slot(slot, "ro")
    cluster.raw(master, "SET", key, "v")
    cluster.wait_replica_synced(master)
    rc = RedisCluster(host=cluster.host, port=replica, read_from_replicas=True,
                      socket_timeout=5)
    try:
        before = _get_calls(cluster, replica)
        for _ in range(300):
            assert rc.get(key) == b"v"
        served = _get_calls(cluster, replica) - before
    finally:
        rc.close()
    # round robin over the master and its one replica: about half each
    assert served >= 100, served


@pytest.mark.slow
def test_reads_reach_the_new_replica_after_a_switchover(cluster, flush, healthy_after):
    """After a failover the old master is a replica; pooled connections to it
    (opened without READONLY) must not turn every replica read into MOVED."""
    slot = 2345
    master = cluster.owner(slot)
    replica = cluster.replica_of(master)
    key = key_for_slot(slot, "sw")
    cluster.raw(master, "SET", key, "v")
    cluster.wait_replica_synced(master)
    rc = RedisCluster(host=cluster.host, port=master, read_from_replicas=True,
                      socket_timeout=5)
    try:
        for _ in range(20):
            rc.get(key)  # pooled connections to both nodes
        cluster.raw(replica, "CLUSTER", "FAILOVER")
        wait_for(lambda: cluster.role(master) == "slave" and cluster.all_agree_owner(slot, replica),
                 30, message="switchover")
        cluster.wait_replica_synced(replica)
        rc.connection_pool.nodes.initialize()
        before = _get_calls(cluster, master)
        for _ in range(300):
            assert rc.get(key) == b"v"
        served = _get_calls(cluster, master) - before
    finally:
        rc.close()
    assert served >= 100, served


# ------------------------------------------------------------------ item 2


def test_moved_target_is_remapped(auth_cluster):
    """host_port_remap applies to the nodes that MOVED replies name, not only to
    discovery: behind NAT the slot must not point at an internal address."""
    remap = [{"from_host": "127.0.0.1", "to_host": "127.0.0.2"}]
    rc = RedisCluster(host=auth_cluster.host, port=auth_cluster.port,
                      password=auth_cluster.password, host_port_remap=remap,
                      socket_timeout=5)
    try:
        pool = rc.connection_pool
        names = {n[2] for n in pool._topology()[1] if n[5]}
        assert names and all(n.startswith("127.0.0.2:") for n in names), names
        slot = 777
        owner = pool.nodes.slots[slot][0]
        other = next(n for n in pool.nodes.all_masters() if n["name"] != owner["name"])
        # a stale map: the slot points at another master, which answers MOVED
        pool._patch_slot(slot, other["host"], other["port"])
        key = key_for_slot(slot, "remap")
        rc.set(key, "x")
        assert pool.nodes.slots[slot][0]["name"] == owner["name"]
        created = [n[2] for n in pool._topology()[1]
                   if n[2] is not None and n[2].startswith("127.0.0.1:")]
        assert created == []
        rc.delete(key)
    finally:
        rc.close()


# ------------------------------------------------------------------ item 3


class _SlowRefresh:
    """A refresh running in another thread until ``release()``: the pool's
    test hook blocks as the discovery starts."""

    def __init__(self, pool):
        self.pool = pool
        self.entered, self.released = threading.Event(), threading.Event()

    def _slow(self):
        self.entered.set()
        self.released.wait(10)

    def __enter__(self):
        self.pool._refresh_hook = self._slow
        self.thread = threading.Thread(target=self.pool._refresh, args=(True,))
        self.thread.start()
        assert self.entered.wait(10)
        return self

    def release(self):
        self.released.set()
        self.thread.join()
        self.pool._refresh_hook = None

    def __exit__(self, *exc):
        self.release()


def test_fork_while_another_thread_refreshes(new_client):
    """A child forked while another thread was refreshing can still refresh."""
    rc = new_client()
    pool = rc.connection_pool
    with _SlowRefresh(pool):
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                pool._refresh_hook = None
                n = pool._stats()["refreshes"]
                time.sleep(0.3)  # the refresh interval
                pool._refresh(True)
                code = 0 if pool._stats()["refreshes"] > n else 3
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


# ------------------------------------------------------------------ item 5


def test_subscribe_family_refused_on_pooled_connections(rc, flush):
    key = key_for_slot(99, "ps")
    for args in (("SSUBSCRIBE", key), ("SUBSCRIBE", "ch"), ("PSUBSCRIBE", "p*")):
        with pytest.raises(RedisClusterException, match="pubsub"):
            rc.execute_command(*args)
    assert rc.set(key, "v") is True
    assert rc.get(key) == b"v"


def test_subscribe_in_a_pipeline_is_an_error_in_place(rc, flush):
    key = key_for_slot(99, "pp")
    p = rc.pipeline()
    p.set(key, "1")
    p.execute_command("SSUBSCRIBE", key_for_slot(99, "a"), key_for_slot(99, "b"))
    p.get(key)
    out = p.execute(raise_on_error=False)
    assert out[0] is True and out[2] == b"1"
    assert isinstance(out[1], RedisClusterException)
    p = rc.pipeline()
    p.get(key)
    p.set(key, "2")
    assert p.execute() == [b"1", True]


def test_watch_refused_on_pooled_connections(rc, new_client, flush):
    key = key_for_slot(99, "w")
    with pytest.raises(RedisClusterException, match="pipeline"):
        rc.execute_command("WATCH", key)
    for name in ("MULTI", "EXEC", "UNWATCH", "DISCARD"):
        with pytest.raises(RedisClusterException):
            rc.execute_command(name)
    # nothing was left on a pooled connection: a transaction elsewhere works
    other = new_client()
    with rc.pipeline(transaction=True) as p:
        p.set(key, "1")
        p.incr(key)
        assert p.execute() == [True, 2]
    other.set(key, "5")
    assert rc.get(key) == b"5"


# ------------------------------------------------------------------ item 6


def _child(code, timeout=30):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("block, to_thread", [(4, True), (0, True), (0, False)],
                         ids=["blpop4", "blpop0", "to-process"])
def test_sigint_interrupts_blpop(cluster, block, to_thread):
    """Ctrl-C during a blocking command: KeyboardInterrupt at once, not when
    the command returns (never, for BLPOP k 0) -- also when the signal is
    sent to the process (the kernel may deliver it to another thread: the
    driver looks at Python's signal flags at least every 0.1 s)."""
    code = """
        import os, signal, threading, time
        from rediscluster import RedisCluster
        rc = RedisCluster(host=%r, port=%d, socket_timeout=None)
        rc.ping()
        main = threading.main_thread().ident
        if %r:
            threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
        else:
            def other():  # a thread that receives the signal itself
                time.sleep(0.5)
                signal.pthread_sigmask(signal.SIG_BLOCK, [])
                os.kill(os.getpid(), signal.SIGINT)
            threading.Thread(target=other).start()
        t0 = time.monotonic()
        try:
            rc.blpop("rcit:{sig}:nothing", %d)
            print("returned %%.2f" %% (time.monotonic() - t0))
        except KeyboardInterrupt:
            print("interrupted %%.2f" %% (time.monotonic() - t0))
        # the client still works afterwards
        rc.set("rcit:{sig}:after", 1)
        assert rc.get("rcit:{sig}:after") == b"1"
        rc.delete("rcit:{sig}:after")
        print("ok")
    """ % (cluster.host, cluster.base, to_thread, block)
    proc = _child(code)
    out = proc.stdout.split()
    assert out[:1] == ["interrupted"], (proc.stdout, proc.stderr)
    assert float(out[1]) < 1.5
    assert out[-1] == "ok"


def test_sigint_interrupts_blpop_over_tls(tls_cluster):
    code = """
        import signal, threading, time
        from rediscluster import RedisCluster
        rc = RedisCluster(host=%r, port=%d, ssl=True, ssl_ca_certs=%r, socket_timeout=None)
        rc.ping()
        main = threading.main_thread().ident
        threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
        t0 = time.monotonic()
        try:
            rc.blpop("rcit:{sig}:nothing", 4)
            print("returned %%.2f" %% (time.monotonic() - t0))
        except KeyboardInterrupt:
            print("interrupted %%.2f" %% (time.monotonic() - t0))
    """ % (tls_cluster.host, tls_cluster.port, tls_cluster.ca)
    proc = _child(code)
    out = proc.stdout.split()
    assert out[:1] == ["interrupted"], (proc.stdout, proc.stderr)
    assert float(out[1]) < 1.5


# ------------------------------------------------------------------ item 8


def test_departed_nodes_are_retired(new_client):
    """The node table does not keep every node ever seen: nodes that left the
    topology (with no connection in use) are freed, and a long run of changing
    topologies never hits the table's limit."""
    rc = new_client()
    pool = rc.connection_pool
    real = [n for n in pool._topology()[1] if n[5]]
    base = len([n for n in pool._topology()[1] if n[0] is not None])
    epoch, nodes, slots = pool._topology()
    table = [(h, p, role, -1) for h, p, _n, role, _m, in_topo in nodes if in_topo]
    # every node of the real topology, as masters (no replicas), plus 400
    # replicas at addresses nobody listens on -- 200 times, always new ones
    import struct

    real_index = {(h, p): i for i, (h, p, _r, _m) in enumerate(table)}
    slot_idx = [0xFFFF] * 16384
    raw = struct.unpack("=16384H", slots)
    for s, idx in enumerate(raw):
        if idx != 0xFFFF:
            h, p = nodes[idx][0], nodes[idx][1]
            slot_idx[s] = real_index[(h, p)]
    packed = struct.pack("=16384H", *slot_idx)
    for round_ in range(200):
        extra = [("10.%d.%d.%d" % (round_ // 250, round_ % 250, i // 250), 1000 + i % 250,
                  2, 0) for i in range(400)]
        pool._set_topology([(h, p, 1, -1) for h, p, _r, _m in table] + extra, packed)
    pool.nodes.initialize()
    assert rc.ping()
    after = [n for n in pool._topology()[1] if n[0] is not None]
    assert len(after) <= base + 2, (len(after), base)
    assert len([n for n in after if n[5]]) == len(real)


# ------------------------------------------------------------------ item 9


def test_redirected_pipeline_memory(cluster, flush):
    """A 100 000-command pipeline into a stale slot map (every command MOVED
    once) needs little memory for the redirects."""
    code = """
        import resource, struct
        from rediscluster import RedisCluster
        rc = RedisCluster(host=%r, port=%d, socket_timeout=10, reinitialize_steps=10**9)
        pool = rc.connection_pool
        epoch, nodes, slots = pool._topology()
        table = [(h, p, role, -1) for h, p, _n, role, _m, t in nodes if t]
        master = next(i for i, n in enumerate(table) if n[2] == 1)
        p = rc.pipeline()
        for i in range(100000):
            p.get("rcit:mem:%%d" %% i)
        p.execute()  # warm-up: buffers of this size once
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        def off():
            raise RuntimeError("no refresh: the bogus map stays")
        pool._refresh_hook = off
        pool._set_topology(table, struct.pack("=16384H", *([master] * 16384)))
        for i in range(100000):
            p.get("rcit:mem:%%d" %% i)
        assert p.execute() == [None] * 100000
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)
    """ % (cluster.host, cluster.base)
    proc = _child(code, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grew_mb = int(proc.stdout.split()[-1])
    assert grew_mb < 30, grew_mb


# ------------------------------------------------------------------ item 10


def _cluster_sockets(ports):
    """fds of this process connected to one of ``ports`` on 127.0.0.1."""
    inodes = {}
    for name in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    remote_port = int(parts[2].split(":")[1], 16)
                    if remote_port in ports:
                        inodes[parts[9]] = remote_port
        except OSError:
            pass
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            out.append(int(fd))
    return out


def test_held_connection_after_fork(rc, cluster):
    """A held connection (transactions, pub/sub) is not shared with a child: in
    the child it raises ConnectionError instead of using the parent's socket."""
    conn = rc.connection_pool._connection(0)
    try:
        assert conn.execute("PING") in (b"PONG", "PONG", True)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                try:
                    conn.execute("PING")
                    code = 2
                except ConnectionError:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        assert conn.execute("PING") in (b"PONG", "PONG", True)
    finally:
        conn.release()


def test_no_inherited_sockets_after_fork(cluster):
    """Connections checked out by other threads at fork time do not stay open
    in the child: once the child uses the client, its only sockets to the
    cluster are its own pool's. (In a fresh process: other clients' sockets
    would be counted too.)"""
    code = textwrap.dedent(inspect.getsource(_cluster_sockets)) + textwrap.dedent("""
        import os, sys, threading, time
        from rediscluster import RedisCluster
        ports = set(range(%d, %d))
        rc = RedisCluster(host=%r, port=%d, socket_timeout=10)
        rc.ping()
        started = threading.Event()
        def block():
            started.set()
            rc.blpop("rcit:{fork}:nothing", 2)
        t = threading.Thread(target=block)
        t.start()
        started.wait(5)
        time.sleep(0.3)  # inside BLPOP, its connection checked out
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                rc.set("rcit:{fork}:x", 1)
                n = len(_cluster_sockets(ports))
                code = 0 if n == rc.connection_pool._stats()["connections"] else 10 + n
            finally:
                os._exit(code)
        t.join()
        _, status = os.waitpid(pid, 0)
        rc.delete("rcit:{fork}:x")
        print(os.WEXITSTATUS(status))
    """ % (cluster.base, cluster.base + 6, cluster.host, cluster.base))
    proc = _child(code)
    assert proc.stdout.split()[-1:] == ["0"], (proc.stdout, proc.stderr[-2000:])


# ------------------------------------------------------------------ item 11


def test_reinitialising_a_live_pool_or_client_is_refused(rc):
    pool = rc.connection_pool
    with pytest.raises(RuntimeError):
        _core.Pool.__init__(pool)
    with pytest.raises(RuntimeError):
        _core.Client.__init__(rc, pool)
    assert rc.ping()


# ------------------------------------------------------------------ item 13


def test_refresh_requested_during_a_refresh_is_kept(new_client):
    """A refresh asked for while one runs is not lost when that one installs
    its (possibly older) topology."""
    rc = new_client()
    pool = rc.connection_pool
    with _SlowRefresh(pool):
        pool._refresh(True)  # another thread saw something newer
        assert pool._stats()["refresh_pending"] == 1
    assert pool._stats()["refresh_pending"] == 1


def test_initialize_called_directly_is_single_flight(new_client):
    """NodeManager.initialize() while the engine refreshes waits for that
    refresh instead of running discovery a second time concurrently."""
    rc = new_client()
    pool = rc.connection_pool
    nm = pool.nodes
    started = []

    def slow():
        started.append(threading.get_ident())
        time.sleep(0.3)

    pool._refresh_hook = slow
    time.sleep(0.3)
    try:
        t = threading.Thread(target=pool._refresh, args=(True,))
        t.start()
        time.sleep(0.1)
        nm.initialize()  # waits for the running one
        t.join()
    finally:
        pool._refresh_hook = None
    assert started == [t.ident]


# ------------------------------------------------------------------ item 16


def test_idle_connections_are_reaped(new_client, flush):
    """A burst's connections do not stay open forever: idle ones older than
    max_idle_time are closed (checked cheaply when connections are taken)."""
    rc = new_client(max_idle_time=0.3)
    key = key_for_slot(5, "idle")
    barrier = threading.Barrier(8)

    def burst():
        barrier.wait()
        for _ in range(20):
            rc.blpop(key, 0.05)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rc.connection_pool._stats()["connections"] >= 4
    time.sleep(0.5)
    rc.get(key)
    assert rc.connection_pool._stats()["connections"] <= 2


def test_max_idle_time_validation(cluster_addr):
    with pytest.raises(ValueError, match="max_idle_time"):
        RedisCluster(host=cluster_addr[0], port=cluster_addr[1], max_idle_time=-1)
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], max_idle_time=None)
    assert rc.ping()
    rc.close()
