"""``Lock``: redis-py 3.5's distributed lock, on one key of the cluster.

The lock is one key (``name``) holding a random token; acquiring is
``SET name token NX PX timeout``, and releasing, extending and reacquiring are
Lua scripts that check the token first. Each touches only that key, so every
command goes to the master of its slot.
"""

import threading
import time
import uuid

from .exceptions import LockError, LockNotOwnedError

__all__ = ["Lock", "LockError", "LockNotOwnedError"]

# KEYS[1] lock name; ARGV[1] token. 1 if released, 0 if the token did not match.
_RELEASE = """
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1
"""

# KEYS[1] lock name; ARGV[1] token; ARGV[2] milliseconds; ARGV[3] "1" to replace
# the TTL, "0" to add to it. 1 if extended, 0 if not owned or without a TTL.
_EXTEND = """
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
local ttl = redis.call('pttl', KEYS[1])
if not ttl or ttl < 0 then
    return 0
end
local newttl = tonumber(ARGV[2])
if ARGV[3] == "0" then
    newttl = newttl + ttl
end
redis.call('pexpire', KEYS[1], newttl)
return 1
"""

# KEYS[1] lock name; ARGV[1] token; ARGV[2] milliseconds. 1 if the TTL was reset.
_REACQUIRE = """
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('pexpire', KEYS[1], ARGV[2])
return 1
"""


class _Plain:
    """Token storage shared by all threads (``thread_local=False``)."""

    token = None


class _PerThread(threading.local):
    """Token storage per thread; a thread that did not acquire sees None."""

    token = None


class Lock:
    """A shared, distributed lock named ``name``, like ``threading.Lock``.

    ``timeout``: the lock's maximum life in seconds (None: until released);
    ``sleep``: seconds between attempts while blocking; ``blocking``: whether
    ``acquire`` waits by default; ``blocking_timeout``: the longest wait in
    seconds (None: forever); ``thread_local``: keep the token per thread, so a
    thread cannot release a lock another thread acquired through the same object.
    """

    LUA_RELEASE_SCRIPT = _RELEASE
    LUA_EXTEND_SCRIPT = _EXTEND
    LUA_REACQUIRE_SCRIPT = _REACQUIRE

    def __init__(self, redis, name, timeout=None, sleep=0.1, blocking=True,
                 blocking_timeout=None, thread_local=True):
        self.redis = redis
        self.name = name
        self.timeout = timeout
        self.sleep = sleep
        self.blocking = blocking
        self.blocking_timeout = blocking_timeout
        self.thread_local = bool(thread_local)
        self.local = _PerThread() if self.thread_local else _Plain()
        self.local.token = None
        self.register_scripts()

    def register_scripts(self):
        """The three Lua scripts, as Script objects of this lock's client."""
        client = self.redis
        self.lua_release = client.register_script(self.LUA_RELEASE_SCRIPT)
        self.lua_extend = client.register_script(self.LUA_EXTEND_SCRIPT)
        self.lua_reacquire = client.register_script(self.LUA_REACQUIRE_SCRIPT)

    def _encode(self, value):
        """A token as the bytes the client stores (the pool's encoder, as
        redis-py 3.5's Lock)."""
        return self.redis.connection_pool.get_encoder().encode(value)

    def __enter__(self):
        # Always blocking: the caller could not tell whether it got the lock.
        if self.acquire(blocking=True):
            return self
        raise LockError("Unable to acquire lock within the time specified")

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()

    # Each operation is its checks (here, shared with the asyncio Lock) and
    # the requests between them.

    def _acquire_plan(self, blocking, blocking_timeout, token):
        """(token bytes, blocking, deadline or None) of an acquire() call."""
        token = uuid.uuid1().hex.encode() if token is None else self._encode(token)
        if blocking is None:
            blocking = self.blocking
        if blocking_timeout is None:
            blocking_timeout = self.blocking_timeout
        deadline = None if blocking_timeout is None else time.monotonic() + blocking_timeout
        return token, blocking, deadline

    def _retry_after_miss(self, blocking, deadline):
        """After a failed attempt: whether to sleep ``self.sleep`` and retry."""
        return blocking and (deadline is None or time.monotonic() + self.sleep <= deadline)

    def _set_args(self, token):
        """The SET arguments of one attempt: (name, token), {nx, px}."""
        return (self.name, token), {"nx": True,
                                    "px": int(self.timeout * 1000) if self.timeout else None}

    def _owned_by_us(self, stored):
        if stored is not None and not isinstance(stored, bytes):
            stored = self._encode(stored)
        return self.local.token is not None and stored == self.local.token

    def _take_token(self):
        """release(): the token held (forgotten now); LockError if none."""
        expected = self.local.token
        if expected is None:
            raise LockError("Cannot release an unlocked lock")
        self.local.token = None
        return expected

    def _check_held(self, what):
        """extend() / reacquire() need a token and a timeout."""
        if self.local.token is None:
            raise LockError("Cannot %s an unlocked lock" % what)
        if self.timeout is None:
            raise LockError("Cannot %s a lock with no timeout" % what)

    def _extend_args(self, additional_time, replace_ttl):
        return [self.local.token, int(additional_time * 1000), "1" if replace_ttl else "0"]

    @staticmethod
    def _script_ok(ok, what):
        """A script's reply: True, or LockNotOwnedError (the token changed)."""
        if not ok:
            raise LockNotOwnedError("Cannot %s a lock that's no longer owned" % what)
        return True

    def acquire(self, blocking=None, blocking_timeout=None, token=None):
        """Take the lock; True once held. With ``blocking`` False, return at
        once (False if it is held elsewhere); ``blocking_timeout``: the longest
        wait in seconds; ``token``: the value to store (default: a random UUID).
        """
        token, blocking, deadline = self._acquire_plan(blocking, blocking_timeout, token)
        while True:
            if self.do_acquire(token):
                self.local.token = token
                return True
            if not self._retry_after_miss(blocking, deadline):
                return False
            time.sleep(self.sleep)

    def do_acquire(self, token):
        """One SET NX [PX] attempt; True if the lock was taken."""
        args, options = self._set_args(token)
        return bool(self.redis.set(*args, **options))

    def locked(self):
        """True if the lock is held by anyone."""
        return self.redis.get(self.name) is not None

    def owned(self):
        """True if the lock is held with this object's (this thread's) token."""
        return self._owned_by_us(self.redis.get(self.name))

    def release(self):
        """Release the lock. LockError if it is not held here; LockNotOwnedError
        if it expired or was taken over meanwhile."""
        self.do_release(self._take_token())

    def do_release(self, expected_token):
        """Delete the key if it still holds ``expected_token``."""
        self._script_ok(self.lua_release(keys=[self.name], args=[expected_token],
                                         client=self.redis), "release")

    def extend(self, additional_time, replace_ttl=False):
        """Add ``additional_time`` seconds to the lock's TTL (replace the TTL
        with it if ``replace_ttl``). True; LockError / LockNotOwnedError else."""
        self._check_held("extend")
        return self.do_extend(additional_time, replace_ttl)

    def do_extend(self, additional_time, replace_ttl):
        """Add to (or replace) the TTL if the token still matches."""
        return self._script_ok(self.lua_extend(
            keys=[self.name], args=self._extend_args(additional_time, replace_ttl),
            client=self.redis), "extend")

    def reacquire(self):
        """Reset the lock's TTL to ``timeout``. True; LockError /
        LockNotOwnedError else."""
        self._check_held("reacquire")
        return self.do_reacquire()

    def do_reacquire(self):
        """Reset the TTL to ``timeout`` if the token still matches."""
        return self._script_ok(self.lua_reacquire(
            keys=[self.name], args=[self.local.token, int(self.timeout * 1000)],
            client=self.redis), "reacquire")
