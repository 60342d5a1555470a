"""How sync clients wait (issue 12): set_wait_callback, io=, the callback's
contract (errors, bad returns), and that the native driver still sees
signals. gevent itself is tested in tests/gevent (its own processes)."""

import select
import threading

import pytest

import rediscluster
from rediscluster import RedisCluster
from rediscluster.exceptions import TimeoutError

from rcit import key_for_slot


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, fds, timeout):
        self.calls.append((list(fds), timeout))
        if not fds:
            select.select([], [], [], timeout or 0)
            return []
        p = select.poll()
        for fd, ev in fds:
            p.register(fd, ev)
        return p.poll(None if timeout is None else timeout * 1000)


@pytest.fixture
def callback():
    rec = Recorder()
    rediscluster.set_wait_callback(rec)
    yield rec
    rediscluster.set_wait_callback(None)


def test_set_wait_callback_is_used(callback, cluster_addr, flush):
    assert rediscluster.get_wait_callback() is callback
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5)
    assert rc.connection_pool.io == "default"
    k = key_for_slot(11, "wcb")
    assert rc.set(k, "v") is True and rc.get(k) == b"v"
    p = rc.pipeline()
    for i in range(20):
        p.incr(key_for_slot(i * 800, "wcb"))
    assert p.execute() == [1] * 20
    assert callback.calls, "the wait function was not called"
    for fds, timeout in callback.calls:
        for fd, ev in fds:
            assert isinstance(fd, int) and ev & (select.POLLIN | select.POLLOUT)
        assert timeout is None or timeout >= 0
    rc.delete(k, *[key_for_slot(i * 800, "wcb") for i in range(20)])


def test_native_pool_ignores_the_callback(callback, cluster_addr):
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], io="native")
    before = len(callback.calls)
    assert rc.get(key_for_slot(12, "nat")) is None
    assert len(callback.calls) == before


def test_back_to_native(cluster_addr):
    rec = Recorder()
    rediscluster.set_wait_callback(rec)
    rediscluster.set_wait_callback(None)
    assert rediscluster.get_wait_callback() is None
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1])
    rc.get(key_for_slot(13, "back"))
    assert rec.calls == []


def test_callback_errors_propagate_and_the_client_recovers(cluster_addr):
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5)
    rc.ping()

    def boom(fds, timeout):
        raise RuntimeError("loop is gone")

    rediscluster.set_wait_callback(boom)
    try:
        with pytest.raises(RuntimeError, match="loop is gone"):
            rc.blpop(key_for_slot(14, "boom"), 1)
    finally:
        rediscluster.set_wait_callback(None)
    assert rc.set(key_for_slot(14, "after"), 1) is True  # no reply left behind
    assert rc.get(key_for_slot(14, "after")) == b"1"
    rc.delete(key_for_slot(14, "after"))


def test_bad_callbacks(cluster_addr):
    with pytest.raises(TypeError):
        rediscluster.set_wait_callback(42)
    with pytest.raises(ValueError, match="io must be"):
        RedisCluster(host=cluster_addr[0], port=cluster_addr[1], io="curio")
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5)
    rc.ping()
    rediscluster.set_wait_callback(lambda fds, timeout: [("x", 1)])
    try:
        with pytest.raises(TypeError, match="revents"):
            rc.blpop(key_for_slot(15, "bad"), 1)
    finally:
        rediscluster.set_wait_callback(None)
    assert rc.ping()


def test_callback_that_reports_nothing_times_out(cluster_addr):
    """A wait function that never reports the socket ready: the command's
    own timeout ends it (a timeout, not a hang or a wrong reply)."""
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=0.3)
    rc.ping()

    def sleepy(fds, timeout):
        select.select([], [], [], min(timeout if timeout is not None else 0.05, 0.05))
        return []

    rediscluster.set_wait_callback(sleepy)
    try:
        with pytest.raises(TimeoutError):
            rc.get(key_for_slot(16, "sleepy"))
    finally:
        rediscluster.set_wait_callback(None)
    assert rc.get(key_for_slot(16, "sleepy")) is None


def test_threads_each_call_the_callback(callback, cluster_addr):
    rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5)
    seen = set()
    lock = threading.Lock()

    def work(i):
        for _ in range(20):
            rc.get(key_for_slot(i * 100, "thr"))
        with lock:
            seen.add(i)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == {0, 1, 2, 3} and callback.calls


class OneSocketRecorder(Recorder):
    """A wait function with the one-socket form (``wait_one``)."""

    def __init__(self, bad=False):
        super().__init__()
        self.ones = []
        self.bad = bad

    def wait_one(self, fd, events, timeout):
        self.ones.append((fd, events, timeout))
        if self.bad:
            return "ready"
        p = select.poll()
        p.register(fd, events)
        return sum(ev for _, ev in p.poll(None if timeout is None else timeout * 1000))


def test_the_one_socket_form_is_used_for_one_socket(cluster_addr, flush):
    rec = OneSocketRecorder()
    rediscluster.set_wait_callback(rec)
    try:
        rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], socket_timeout=5)
        k = key_for_slot(12, "one")
        assert rc.set(k, "v") is True and rc.get(k) == b"v"
        assert rec.ones, "wait_one was not called"
        for fd, ev, timeout in rec.ones:
            assert isinstance(fd, int) and ev & (select.POLLIN | select.POLLOUT)
            assert 0 <= timeout <= 5
        # a batch over several nodes waits on several sockets: the list form
        p = rc.pipeline()
        for i in range(20):
            p.incr(key_for_slot(i * 800, "one"))
        assert p.execute() == [1] * 20
        assert any(len(fds) > 1 for fds, _ in rec.calls)
        rc.delete(k, *[key_for_slot(i * 800, "one") for i in range(20)])
    finally:
        rediscluster.set_wait_callback(None)


def test_a_bad_one_socket_return_is_a_clear_error(cluster_addr):
    rediscluster.set_wait_callback(OneSocketRecorder(bad=True))
    try:
        with pytest.raises(TypeError, match="wait_one must return"):
            # (discovery waits through it already)
            rc = RedisCluster(host=cluster_addr[0], port=cluster_addr[1])
            for i in range(3):
                rc.get(key_for_slot(13, "one%d" % i))
    finally:
        rediscluster.set_wait_callback(None)
