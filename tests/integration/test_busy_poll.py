"""Busy polling (busy_poll): a sync wait polls its socket for up to
busy_poll microseconds before sleeping -- only while it is the process's only
sync command running, never for blocking commands, and less and less often
while replies keep coming later than that (csrc/drive.c, rc_spin_budget).

The pool's _stats() counts the spins: spin_hits (the reply came while
polling) and spin_misses (it did not)."""

import os
import select
import threading
import time

import pytest

import rediscluster
from rediscluster import RedisCluster

from rcit import key_for_slot, wait_for


def spins(rc):
    s = rc.connection_pool._stats()
    return s["spin_hits"], s["spin_misses"]


def attempts(rc):
    return sum(spins(rc))


@pytest.fixture
def client(new_client):
    return new_client


def blocked_clients(cluster, slot):
    """Clients blocked (BLPOP...) on the master of slot."""
    info = cluster.raw(cluster.master_of_slot(slot), "INFO", "clients").decode()
    for line in info.splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO clients")


# A budget that a reply on loopback fits in even on a loaded machine (the
# default, 50 us, may be missed for a while there).
ROOMY = 2000


def test_sequential_commands_spin_and_answer_right(client, flush):
    rc = client(busy_poll=ROOMY)
    k = key_for_slot(101, "bp")
    rc.set(k, "v")
    for i in range(300):
        assert rc.get(k) == b"v"
        assert rc.incr(k + ":n") == i + 1
    hits, misses = spins(rc)
    assert hits > 0, (hits, misses)
    assert hits + misses <= 600 + 20  # (and the discovery's own commands)


def test_busy_poll_zero_never_spins(client, flush):
    rc = client(busy_poll=0)
    k = key_for_slot(102, "bp")
    for _ in range(100):
        rc.get(k)
    assert spins(rc) == (0, 0)


def test_busy_poll_in_urls(cluster_addr):
    rc = RedisCluster.from_url("redis://%s:%d?busy_poll=0" % cluster_addr)
    try:
        for _ in range(50):
            rc.get(key_for_slot(103, "bp"))
        assert spins(rc) == (0, 0)
    finally:
        rc.close()


@pytest.mark.parametrize("bad, exc", [("50", TypeError), (True, TypeError), (5.0, TypeError),
                                      (-1, ValueError), (100001, ValueError),
                                      (10 ** 30, ValueError)])
def test_bad_values(cluster_addr, bad, exc):
    with pytest.raises(exc, match="busy_poll"):
        RedisCluster(host=cluster_addr[0], port=cluster_addr[1], busy_poll=bad)


def test_limits_accepted(client):
    k = key_for_slot(115, "bp")
    for ok in (None, 0, 1, 100000):
        rc = client(busy_poll=ok)
        assert rc.set(k, ok or 0) is True and rc.get(k) == b"%d" % (ok or 0)


def test_blocking_commands_do_not_spin(client):
    rc = client(busy_poll=100000)  # 0.1 s: a spin would show as a miss
    rc.get(key_for_slot(104, "bp"))  # (connections open)
    before = spins(rc)
    assert rc.blpop(key_for_slot(104, "bp:empty"), 0.2) is None
    assert rc.brpop(key_for_slot(104, "bp:empty"), 0.2) is None
    assert spins(rc) == before


def test_no_spin_while_another_thread_runs_a_command(client, cluster):
    """Another thread's command in flight (a BLPOP, blocked on the server):
    nobody spins. Once it is done, a fresh client does."""
    k = key_for_slot(106, "bp:wait")
    blocker = client()
    done = []
    t = threading.Thread(target=lambda: done.append(blocker.blpop(k, 3)))
    t.start()
    try:
        wait_for(lambda: blocked_clients(cluster, 106) >= 1, 5, message="BLPOP blocked")
        rc = client()
        for _ in range(100):
            rc.get(key_for_slot(107, "bp"))
        assert spins(rc) == (0, 0)
    finally:
        client().rpush(k, "go")
        t.join(10)
    assert done == [(k.encode(), b"go")]
    rc2 = client()
    assert get_until_a_spin(rc2, key_for_slot(107, "bp"))


def get_until_a_spin(rc, k, seconds=2.0):
    """GETs until one spins (True), for at most `seconds` (False)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        rc.get(k)
        if attempts(rc) > 0:
            return True
    return False


def test_slow_replies_make_it_back_off(client):
    """Replies that take milliseconds (a Lua loop on the server): four misses
    in a row, then the spins skipped double (16, 32, 64...): few misses in
    100 commands, and the next fast reply resets it."""
    rc = client(busy_poll=50)
    k = key_for_slot(108, "bp")
    slow = rc.register_script("local i = 0 while i < 300000 do i = i + 1 end return 1")
    assert slow(keys=[k]) == 1  # (loaded, connections open)
    hits0, misses0 = spins(rc)
    for _ in range(100):
        assert slow(keys=[k]) == 1
    hits, misses = spins(rc)
    # (a hit now and then: the engine's own fast commands, a topology check,
    # restart the count)
    assert hits - hits0 <= 2 and 3 <= misses - misses0 <= 14, (hits - hits0, misses - misses0)
    # fast replies again: once the skipped waits are over (256 at most),
    # it polls again
    for _ in range(400):
        rc.get(k)
        if sum(spins(rc)) > hits + misses:
            break
    assert sum(spins(rc)) > hits + misses


def test_a_forked_child_spins(client, cluster):
    """A thread of the parent was running a command when it forked: the child
    (which has no such thread) does not count it."""
    k = key_for_slot(109, "bp:fork")
    blocker = client()
    t = threading.Thread(target=lambda: blocker.blpop(k, 3))
    t.start()
    rc = client()
    try:
        wait_for(lambda: blocked_clients(cluster, 109) >= 1, 5, message="BLPOP blocked")
        for _ in range(20):  # the BLPOP is in flight: no spin here...
            rc.get(key_for_slot(110, "bp"))
        assert attempts(rc) == 0
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child: ...but there
            code = 1
            try:
                code = 0 if get_until_a_spin(rc, key_for_slot(110, "bp")) else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, "the child did not spin"
    finally:
        client().rpush(k, "go")
        t.join(10)


class IdleWaits:
    """A wait function with the one-socket form and an idle test whose fd is
    a pipe's reading end: readable (the framework has work) or not."""

    def __init__(self, idle=True):
        self.r, self.w = os.pipe()
        self.idle = idle
        self.ones = 0
        self.idle_calls = 0

    def __call__(self, fds, timeout):
        p = select.poll()
        for fd, ev in fds:
            p.register(fd, ev)
        if not fds:
            select.select([], [], [], timeout or 0)
        return p.poll(None if timeout is None else timeout * 1000) if fds else []

    def wait_one(self, fd, events, timeout):
        self.ones += 1
        p = select.poll()
        p.register(fd, events)
        return sum(ev for _, ev in p.poll(None if timeout is None else timeout * 1000))

    def idle_fd(self):
        self.idle_calls += 1
        return self.r if self.idle else -1

    def close(self):
        os.close(self.r)
        os.close(self.w)


@pytest.fixture
def idle_waits():
    made = []

    def make(**kw):
        w = IdleWaits(**kw)
        made.append(w)
        rediscluster.set_wait_callback(w)
        return w

    yield make
    rediscluster.set_wait_callback(None)
    for w in made:
        w.close()


def test_wait_function_idle_fd_lets_it_spin(client, idle_waits):
    w = idle_waits()
    rc = client(busy_poll=ROOMY)
    k = key_for_slot(111, "bp")
    rc.get(k)
    ones, (hits0, _) = w.ones, spins(rc)
    for _ in range(200):
        rc.get(k)
    assert w.idle_calls > 0
    hits, misses = spins(rc)
    assert hits > hits0, (hits, misses)
    assert w.ones - ones < 200  # a hit needs no wait_one call


def test_wait_function_not_idle_no_spin(client, idle_waits):
    w = idle_waits(idle=False)
    rc = client()
    for _ in range(50):
        rc.get(key_for_slot(112, "bp"))
    assert w.idle_calls > 0 and spins(rc) == (0, 0)


def test_wait_function_with_work_pending_stops_the_spin(client, idle_waits):
    """The idle fd readable: the spin ends at once (no verdict) and the wait
    goes to wait_one. (A spin that did not look at it would take every
    reply within its 0.1 s.)"""
    w = idle_waits()
    os.write(w.w, b"x")
    rc = client(busy_poll=100000)
    k = key_for_slot(113, "bp")
    rc.get(k)  # (connections open: waits for a connect are over at once)
    before, ones = spins(rc), w.ones
    for _ in range(50):
        rc.get(k)
    # a reply there at the first look is taken (a hit); else wait_one
    assert spins(rc)[1] == before[1]
    assert w.ones - ones >= 25


def test_wait_function_idle_fd_errors(client, cluster_addr):
    rc = client()
    rc.ping()

    class Raising(IdleWaits):
        def idle_fd(self):
            raise RuntimeError("no loop here")

    class Bad(IdleWaits):
        def idle_fd(self):
            return "three"

    for cls, exc, text in ((Raising, RuntimeError, "no loop here"),
                           (Bad, TypeError, "idle_fd must return")):
        w = cls()
        rediscluster.set_wait_callback(w)
        try:
            with pytest.raises(exc, match=text):
                for _ in range(20):
                    rc.get(key_for_slot(114, "bp"))
        finally:
            rediscluster.set_wait_callback(None)
            w.close()
        # the client is fine afterwards
        assert rc.set(key_for_slot(114, "bp"), "ok") is True
        assert rc.get(key_for_slot(114, "bp")) == b"ok"
