"""``client.lock()``: redis-py 3.5's Lock API on a cluster (one key; the Lua
scripts route by that key and are reloaded after SCRIPT FLUSH)."""

import threading
import time

import pytest

from rediscluster.exceptions import LockError, LockNotOwnedError
from rediscluster.lock import Lock

from rcit import key_for_slot


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def client(request, rc, rc_decoded):
    return rc_decoded if request.param else rc


def test_acquire_release(client, flush):
    name = key_for_slot(1000, "lock")
    lock = client.lock(name)
    assert isinstance(lock, Lock)
    assert not lock.locked() and not lock.owned()
    assert lock.acquire(blocking=False) is True
    assert lock.locked() and lock.owned()
    assert client.ttl(name) == -1  # no timeout: held until released
    other = client.lock(name)
    assert other.locked() and not other.owned()
    assert other.acquire(blocking=False) is False
    lock.release()
    assert not lock.locked()
    assert other.acquire(blocking=False) is True
    other.release()


def test_blocking_timeout(client, flush):
    name = key_for_slot(1001, "lock")
    holder = client.lock(name, timeout=10)
    assert holder.acquire()
    waiter = client.lock(name, sleep=0.01, blocking_timeout=0.1)
    t0 = time.monotonic()
    assert waiter.acquire() is False
    assert 0.05 <= time.monotonic() - t0 < 2
    assert waiter.acquire(blocking_timeout=0.02) is False
    assert client.lock(name, blocking=False).acquire() is False
    with pytest.raises(LockError, match="Unable to acquire lock"):
        with waiter:
            pass
    holder.release()
    with waiter as held:
        assert held is waiter and waiter.owned()
    assert not waiter.locked()


def test_waiter_gets_lock_when_released(client, flush):
    name = key_for_slot(1002, "lock")
    holder = client.lock(name)
    holder.acquire()
    got = []
    waiter = client.lock(name, sleep=0.01, blocking_timeout=5, thread_local=False)
    t = threading.Thread(target=lambda: got.append(waiter.acquire()))
    t.start()
    time.sleep(0.05)
    holder.release()
    t.join(5)
    assert got == [True] and waiter.owned()
    waiter.release()


def test_timeout_extend_reacquire(client, flush):
    name = key_for_slot(1003, "lock")
    lock = client.lock(name, timeout=10)
    assert lock.acquire()
    assert 9000 < client.pttl(name) <= 10000
    assert lock.extend(10) is True
    assert 19000 < client.pttl(name) <= 20000
    assert lock.extend(5, replace_ttl=True) is True
    assert 4000 < client.pttl(name) <= 5000
    assert lock.reacquire() is True
    assert 9000 < client.pttl(name) <= 10000
    lock.release()
    with pytest.raises(LockError, match="unlocked"):
        lock.extend(1)
    with pytest.raises(LockError, match="unlocked"):
        lock.reacquire()
    untimed = client.lock(name)
    untimed.acquire()
    with pytest.raises(LockError, match="no timeout"):
        untimed.extend(1)
    with pytest.raises(LockError, match="no timeout"):
        untimed.reacquire()
    untimed.release()


def test_lost_lock(client, flush):
    name = key_for_slot(1004, "lock")
    lock = client.lock(name, timeout=10)
    with pytest.raises(LockError, match="unlocked"):
        lock.release()
    lock.acquire()
    client.set(name, "someone-else")
    assert lock.locked() and not lock.owned()
    with pytest.raises(LockNotOwnedError):
        lock.extend(1)
    with pytest.raises(LockNotOwnedError):
        lock.reacquire()
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert client.get(name) in (b"someone-else", "someone-else")
    # expired while held
    lock = client.lock(name, timeout=0.05)
    client.delete(name)
    assert lock.acquire()
    time.sleep(0.1)
    assert not lock.locked()
    with pytest.raises(LockNotOwnedError):
        lock.release()


def test_thread_local_tokens(client, flush):
    name = key_for_slot(1005, "lock")
    lock = client.lock(name)
    lock.acquire()
    errors = []

    def release_elsewhere():
        try:
            lock.release()
        except LockError as e:
            errors.append(e)

    t = threading.Thread(target=release_elsewhere)
    t.start()
    t.join()
    assert len(errors) == 1 and lock.owned()
    lock.release()
    shared = client.lock(name, thread_local=False)
    shared.acquire()
    t = threading.Thread(target=shared.release)
    t.start()
    t.join()
    assert not shared.locked()


def test_token_and_names(rc, rc_decoded, flush):
    name = key_for_slot(1006, "lock")
    lock = rc_decoded.lock(name)
    assert lock.acquire(token="my-token")
    assert rc.get(name) == b"my-token"
    assert lock.owned()
    lock.release()
    lock = rc.lock(b"rcit:{bin}:lock\xff")
    assert lock.acquire(token=b"\x00\xfe")
    assert rc.get(b"rcit:{bin}:lock\xff") == b"\x00\xfe"
    assert lock.owned()
    lock.release()
    assert not lock.locked()


def test_release_after_script_flush(rc, flush):
    name = key_for_slot(1007, "lock")
    lock = rc.lock(name, timeout=5)
    lock.acquire()
    rc.script_flush()
    assert lock.extend(1) is True  # NOSCRIPT -> reloaded
    rc.script_flush()
    lock.release()
    assert not lock.locked()


def test_lock_class(rc, flush):
    class MyLock(Lock):
        pass

    lock = rc.lock(key_for_slot(1008, "lock"), timeout=1, sleep=0.2, blocking_timeout=3,
                   lock_class=MyLock, thread_local=False)
    assert type(lock) is MyLock
    assert (lock.timeout, lock.sleep, lock.blocking_timeout, lock.thread_local) == (1, 0.2, 3, False)
    assert lock.blocking is True
    with lock:
        assert lock.owned()
