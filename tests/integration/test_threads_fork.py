"""One client shared by threads, and a client used across os.fork()."""

import os
import threading
import time
import traceback

import pytest

from rcit import key_for_slot

THREADS = 8
ROUNDS = 1000  # per thread: SET + GET + INCR each round (3000 commands)


@pytest.mark.timeout(180)
def test_threads_share_one_client(new_client, flush):
    c = new_client()
    c.ping()  # open one connection per node first
    errors = []
    barrier = threading.Barrier(THREADS)

    def work(t):
        try:
            barrier.wait(30)
            counter = key_for_slot((t * 2053) % 16384, "cnt%d" % t)
            for j in range(ROUNDS):
                k = key_for_slot((t * 7919 + j * 131) % 16384, "t%d:%d" % (t, j))
                v = b"thread=%d key=%s round=%d" % (t, k.encode(), j)
                assert c.set(k, v) is True
                got = c.get(k)
                assert got == v, "thread %d: GET %s returned %r, expected %r" % (t, k, got, v)
                n = c.incr(counter)
                assert n == j + 1, "thread %d: INCR returned %r, expected %d" % (t, n, j + 1)
            batch = c._execute_batch(
                [(("GET", key_for_slot((t * 7919 + j * 131) % 16384, "t%d:%d" % (t, j))), None)
                 for j in range(0, ROUNDS, 7)])
            for j, got in zip(range(0, ROUNDS, 7), batch):
                assert got.startswith(b"thread=%d " % t) and got.endswith(b"round=%d" % j), got
        except BaseException:  # noqa: BLE001 - reported below
            errors.append("thread %d:\n%s" % (t, traceback.format_exc()))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(150)
    assert not any(th.is_alive() for th in threads), "threads hung"
    assert not errors, "\n".join(errors[:3])

    stats = c.connection_pool._stats()
    for name, (open_, idle) in stats["nodes"].items():
        assert open_ <= THREADS + 2, (name, open_, stats)
        assert idle <= open_
    assert stats["connections"] == sum(o for o, _ in stats["nodes"].values())
    # a big pool left behind is still correct
    for t in range(THREADS):
        assert c.get(key_for_slot((t * 2053) % 16384, "cnt%d" % t)) == b"%d" % ROUNDS


def _child(c, wfd):
    """Runs in the forked child: must leave through os._exit."""
    status = 1
    try:
        for j in range(300):
            k = key_for_slot((j * 37) % 16384, "child%d" % j)
            v = b"child:%d:%d" % (os.getpid(), j)
            assert c.set(k, v) is True
            got = c.get(k)
            assert got == v, (k, got, v)
        assert c.incr(key_for_slot(9, "childctr")) == 1
        assert all(c.ping().values())
        status = 0
    except BaseException:  # noqa: BLE001
        os.write(wfd, traceback.format_exc().encode()[-4000:])
    finally:
        os._exit(status)


@pytest.mark.timeout(120)
def test_fork_child_and_parent_keep_working(new_client, flush):
    c = new_client()
    keys = [key_for_slot(s, "parent") for s in range(0, 16384, 512)]
    for k in keys:
        assert c.set(k, k) is True  # the parent has pooled connections now
    before = c.connection_pool._stats()
    assert before["connections"] > 0

    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        _child(c, wfd)
    os.close(wfd)

    # the parent keeps using its (shared-before-fork) sockets while the child runs
    rounds = 0
    status = None
    deadline = time.monotonic() + 90
    while status is None and time.monotonic() < deadline:
        for k in keys:
            v = ("%s:%d" % (k, rounds)).encode()
            assert c.set(k, v) is True
            assert c.get(k) == v
        rounds += 1
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child did not finish")
    with os.fdopen(rfd, "rb") as f:
        report = f.read().decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "child failed:\n" + report

    # after the child exited, the parent's connections still work, no mix-up
    for k in keys:
        assert c.get(k) == ("%s:%d" % (k, rounds - 1)).encode()
    assert c.get(key_for_slot(9, "childctr")) == b"1"
    assert c.get(key_for_slot(37, "child1")).startswith(b"child:")
    res = c._execute_batch([(("GET", k), None) for k in keys])
    assert res == [("%s:%d" % (k, rounds - 1)).encode() for k in keys]
    after = c.connection_pool._stats()
    for name, (open_, _idle) in after["nodes"].items():
        assert open_ <= 2, (name, after)


@pytest.mark.timeout(120)
def test_fork_while_another_thread_is_mid_command(new_client, flush):
    # fork while another thread of the parent is mid-command: the child's copy
    # of the client must not be wedged by a connection that thread had checked out
    c = new_client()
    stop = threading.Event()
    errors = []

    def busy():
        try:
            k = key_for_slot(77, "busy")
            j = 0
            while not stop.is_set():
                v = b"%d" % j
                c.set(k, v)
                assert c.get(k) == v
                j += 1
        except BaseException:  # noqa: BLE001
            errors.append(traceback.format_exc())

    th = threading.Thread(target=busy)
    th.start()
    try:
        time.sleep(0.05)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            _child(c, wfd)
        os.close(wfd)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the child hung")
            time.sleep(0.01)
        with os.fdopen(rfd, "rb") as f:
            report = f.read().decode(errors="replace")
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "child failed:\n" + report
    finally:
        stop.set()
        th.join(30)
    assert not errors, errors[0]
