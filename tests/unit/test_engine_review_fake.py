"""Engine defects of the review (issue 11) that need a scripted node: an ASK
whose target is down, Ctrl-C during a blocked send or connect, a thread with a
small stack, the module's garbage-collector traversal."""

import gc
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from fakeserver import bulk, free_port, node_factory, reply, stall
from rediscluster import RedisCluster, _core
from rediscluster.exceptions import ClusterError, ConnectionError

try:
    import pytest_timeout  # noqa: F401
except ImportError:
    pytestmark = []
else:
    pytestmark = [pytest.mark.timeout(30)]

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def nodes():
    with node_factory() as make:
        yield make


def _client(node, **kwargs):
    kwargs.setdefault("socket_timeout", 0.5)
    return RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": node.port}],
                        skip_full_coverage_check=True, **kwargs)


@pytest.mark.parametrize("replicas", [False, True], ids=["masters", "read_from_replicas"])
def test_ask_to_a_dead_node_goes_back_to_the_owner(nodes, replicas):
    """Item 4: after the ASK target fails, the next attempt goes to the slot's
    owner again (which may answer something else by then), with backoff and a
    refresh -- not ~16 back-to-back attempts at the dead target. An ASK target
    is never taken for a replica detour."""
    a = nodes()
    dead = free_port()
    slot = _core.key_slot("k")
    a.on("GET", reply(b"-ASK %d 127.0.0.1:%d\r\n" % (slot, dead)), forever=True)
    rc = _client(a, read_from_replicas=replicas)
    refreshes = rc.connection_pool._stats()["refreshes"]
    t0 = time.monotonic()
    with pytest.raises((ClusterError, ConnectionError)):
        rc.get("k")
    elapsed = time.monotonic() - t0
    # every failed attempt at the target sends the next one back to the owner
    assert a.count("GET") >= 4, a.count("GET")
    assert rc.connection_pool._stats()["refreshes"] > refreshes
    assert elapsed > 0.05  # backed off between attempts
    rc.close()


def test_ask_target_down_then_owner_serves(nodes):
    """Item 4: the owner finishes the migration meanwhile: the retry after the
    failed ASK target reaches the owner and returns its value."""
    a = nodes()
    dead = free_port()
    slot = _core.key_slot("k")
    a.on("GET", reply(b"-ASK %d 127.0.0.1:%d\r\n" % (slot, dead)), reply(bulk("v")))
    rc = _client(a)
    assert rc.get("k") == b"v"
    rc.close()


def test_module_traverse_visits_every_exception_class():
    """Item 14: the module's m_traverse visits every class its state owns."""
    referents = gc.get_referents(_core)
    from rediscluster import exceptions as e

    for name in ("RedisError", "ConnectionError", "TimeoutError", "AuthenticationError",
                 "ResponseError", "DataError", "RedisClusterException", "ClusterError",
                 "ClusterDownError", "SlotNotCoveredError", "MovedError", "AskError",
                 "TryAgainError", "MasterDownError", "BusyLoadingError"):
        cls = getattr(e, name)
        assert any(r is cls for r in referents), name


def _run_child(code, timeout=20):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_sigint_interrupts_a_blocked_send(nodes):
    """Item 6: Ctrl-C while a big write waits for a node that reads nothing."""
    a = nodes()
    slot = _core.key_slot("k")
    a.on("SET", stall(), forever=True)
    code = """
        import os, signal, threading, time
        from rediscluster import RedisCluster
        rc = RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": %d}],
                          skip_full_coverage_check=True, socket_timeout=None)
        main = threading.main_thread().ident
        threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
        t0 = time.monotonic()
        try:
            rc.set("k", b"x" * (64 << 20))
        except KeyboardInterrupt:
            print("interrupted %%.2f" %% (time.monotonic() - t0))
    """ % a.port
    proc = _run_child(code)
    assert "interrupted" in proc.stdout, proc.stderr
    assert float(proc.stdout.split()[1]) < 2.0
    del slot


def test_sigint_interrupts_a_connect():
    """Item 6: Ctrl-C while connecting to a node that never completes the TCP
    handshake (its listen queue is full), with no connect timeout."""
    code = """
        import os, signal, socket, threading, time
        from rediscluster import _core
        from rediscluster.connection import ClusterConnectionPool
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        fill = []
        for _ in range(8):  # fill the accept queue; later SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fill.append(s)
        time.sleep(0.2)
        pool = ClusterConnectionPool(startup_nodes=[{"host": "127.0.0.1", "port": port}],
                                     init_slot_cache=False, socket_timeout=None)
        main = threading.main_thread().ident
        threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT)).start()
        t0 = time.monotonic()
        try:
            pool._node_command("127.0.0.1", port, "PING")
            print("returned")
        except KeyboardInterrupt:
            print("interrupted %.2f" % (time.monotonic() - t0))
        except Exception as e:
            print("error %r %.2f" % (e, time.monotonic() - t0))
    """
    proc = _run_child(code, timeout=60)
    assert "interrupted" in proc.stdout, (proc.stdout, proc.stderr)
    assert float(proc.stdout.split()[1]) < 2.0


def test_small_thread_stack(nodes):
    """Item 15: commands from a thread with a small stack (musl's 128 KiB
    default) -- big replies read in many pieces, pipelines -- do not crash."""
    a = nodes()
    big = b"v" * (1 << 20)
    a.on("GET", reply(bulk(big)), forever=True)
    code = """
        import threading
        from rediscluster import RedisCluster
        threading.stack_size(128 * 1024)
        out = []
        def work():
            rc = RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": %d}],
                              skip_full_coverage_check=True, socket_timeout=2)
            for _ in range(3):
                out.append(len(rc.get("k")))
            p = rc.pipeline()
            for _ in range(4):
                p.get("k")
            out.extend(len(v) for v in p.execute())
        t = threading.Thread(target=work)
        t.start()
        t.join()
        print(out)
    """ % a.port
    proc = _run_child(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str([1 << 20] * 7)
