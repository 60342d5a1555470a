"""``rediscluster.asyncio.RedisCluster``: the same client for asyncio, driven
by the same C engine.

Every command method is the sync client's (one definition of the command
surface, ``rediscluster/commands/``): ``execute_command`` returns an awaitable
``_core.AioOp`` that the engine runs from the event loop (sockets registered
with ``add_reader`` / ``add_writer``; MOVED, ASK, TRYAGAIN, retries and
topology refreshes decided in C, as for the sync client).

A method that only returns ``execute_command(...)`` hands its ``AioOp`` to
the caller as it is. A method that works on replies in Python (multi-key
commands split per slot, ``cluster_*`` helpers that look up node ids, ...)
is replayed: it runs against a recorder whose ``execute_command`` /
``_execute_batch`` either return the replies already fetched or stop the run
with the request they need; the request is awaited, its reply (or error)
recorded, and the method runs again from the start until it returns. The
methods are deterministic given their replies, do no I/O of their own, and
each run only repeats Python work -- never a request.

See docs/asyncio.rst.
"""

import asyncio as _asyncio
import contextlib as _contextlib
import functools as _functools
import inspect as _inspect
import time as _time

from . import _core
from .client import RedisCluster as _SyncRedisCluster
from .commands import ClusterCommands
from .commands._util import scan_args
from .exceptions import (
    AskError,
    ConnectionError,
    LockError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    TimeoutError,
    WatchError,
)
from .lock import Lock as _SyncLock
from .pipeline import ClusterPipeline as _SyncClusterPipeline
from .pubsub import ClusterPubSub as _SyncClusterPubSub

__all__ = ["RedisCluster", "StrictRedisCluster", "ClusterPipeline", "ClusterPubSub", "Lock"]

AioOp = _core.AioOp


class _NeedIO(BaseException):
    """Stops a recorded run: ``args[0]`` is the request it needs.
    A BaseException, so that ``except Exception`` in a method lets it pass."""


class _NeedReplay(BaseException):
    """Raised by the direct run of a method that needs the recorder;
    ``args[0]``: the request it was making."""


class _Recorder(ClusterCommands):
    """Runs one sync command method with recorded replies (see the module
    doc). Attributes it does not have are the client's."""

    def __init__(self, client, tape):
        self.__dict__["_client"] = client
        self.__dict__["_tape"] = tape
        self.__dict__["_pos"] = 0

    def __getattr__(self, name):
        return getattr(self.__dict__["_client"], name)

    def _next(self, request):
        d = self.__dict__
        i = d["_pos"]
        d["_pos"] = i + 1
        tape = d["_tape"]
        if i < len(tape):
            ok, value = tape[i]
            if ok:
                return value
            raise value
        raise _NeedIO(request)

    def execute_command(self, *args, **options):
        return self._next((0, args, options))

    def _execute_batch(self, commands):
        return self._next((1, list(commands), None))

    def _send_to_address(self, address, *args, **options):
        return self._next((2, (address,) + args, options))


async def _perform(client, request):
    kind, args, options = request
    if kind == 0:
        return await client._aio_execute_command(*args, **options)
    if kind == 1:
        return await client._aio_execute_batch(args)
    from .commands._util import apply_callback

    address, args = args[0], args[1:]
    reply = await client._aio_node_command(address[0], int(address[1]), *args)
    return apply_callback(client.response_callbacks, args, reply, options)


async def _replay(client, func, args, kwargs, request=None):
    """Run ``func`` (a sync command method) to its end through the recorder.
    ``request``: its first request, when a direct run already made it (the
    run that found out a replay is needed does not have to be done again)."""
    tape = []
    while True:
        if request is not None:
            try:
                value = await _perform(client, request)
            except Exception as e:  # the method sees it where it made the request
                tape.append((False, e))
            else:
                tape.append((True, value))
        try:
            return func(_Recorder(client, tape), *args, **kwargs)
        except _NeedIO as need:
            request = need.args[0]


async def _value(value):
    return value


async def _raise(exc):
    raise exc


def _async_method(name, func):
    def method(self, *args, **kwargs):
        n0 = self._ops
        try:
            r = func(self, *args, **kwargs)
        except _NeedReplay as need:
            # its first request, unless execute_command came first
            return _replay(self, func, args, kwargs, need.args[0] if self._ops == n0 else None)
        except Exception as e:
            if self._ops == n0:
                return _raise(e)  # an argument error: raised by the await
            return _replay(self, func, args, kwargs)
        if self._ops == n0 + 1 and type(r) is AioOp:
            return r  # the method returned execute_command's awaitable as it is
        if self._ops == n0:
            return _value(r)  # no request at all (e.g. mset({}))
        return _replay(self, func, args, kwargs)

    method.__name__ = name
    method.__qualname__ = "RedisCluster." + name
    method.__doc__ = func.__doc__
    method.__wrapped__ = func
    return method


#: command-surface names that are not coroutines here (see the class)
_NOT_WRAPPED = {"register_script", "lock", "bitfield", "scan_iter", "hscan_iter",
                "sscan_iter", "zscan_iter", "pubsub", "pipeline", "transaction"}


def _unsupported(what):
    def method(self, *args, **kwargs):
        raise TypeError("{0} is not supported by the asyncio client; await the command "
                        "methods instead (await rc.get(k), await rc.set(k, v), ...)".format(what))
    return method


class RedisCluster(_SyncRedisCluster):
    """A Redis Cluster client for asyncio; the same constructor and
    ``from_url`` as ``rediscluster.RedisCluster``.

    The constructor does no I/O: ``await rc.initialize()`` or the first
    command discovers the cluster. Every command method is a coroutine
    function (it returns an awaitable) with the sync client's signature and
    return shape. Close with ``await rc.aclose()`` or ``async with``.
    A client belongs to the event loop that uses it."""

    def __init__(self, *args, **kwargs):
        kwargs["init_slot_cache"] = False  # no I/O here
        super().__init__(*args, **kwargs)
        self._ops = 0

    # ------------------------------------------------------------ engine entry points

    def execute_command(self, *args, **options):
        """Send one command; an awaitable of the parsed reply (errors raised
        by the await). Fan-out commands give the sync client's per-node dicts."""
        self._ops += 1
        return self._aio_execute_command(*args, **options)

    def _execute_batch(self, commands):
        raise _NeedReplay((1, list(commands), None))

    def _send_to_address(self, address, *args, **options):
        raise _NeedReplay((2, (address,) + args, options))

    async def initialize(self):
        """Discover the cluster now (the first command does it otherwise)."""
        await self._aio_initialize()
        self.connection_pool.nodes.reinitialize_counter = 0

    async def aclose(self):
        """Close the idle connections (busy ones close when released)."""
        self.connection_pool.disconnect()

    close = aclose

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    __enter__ = _unsupported("'with' (use 'async with')")
    __getitem__ = _unsupported("rc[key]")
    __setitem__ = _unsupported("rc[key] = value")
    __delitem__ = _unsupported("del rc[key]")
    __contains__ = _unsupported("'key in rc'")

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _pipeline_class():
        """``pipeline()`` (the sync client's method) makes an asyncio
        ``ClusterPipeline``: queue commands (they return the pipeline), then
        ``await pipe.execute()``."""
        return ClusterPipeline

    async def transaction(self, func, *watches, **kwargs):
        """Run ``func(pipe)`` (a function or a coroutine function) in a
        MULTI/EXEC transaction after ``await pipe.watch(*watches)``, retrying
        on WatchError (redis-py's helper). Every key must map to one slot."""
        value_from_callable, watch_delay = self._transaction_options(kwargs)
        async with self.pipeline(True) as pipe:
            while True:
                try:
                    if watches:
                        await pipe.watch(*watches)
                    func_value = func(pipe)
                    if _inspect.isawaitable(func_value):
                        func_value = await func_value
                    exec_value = await pipe.execute()
                    return func_value if value_from_callable else exec_value
                except WatchError:
                    if watch_delay is not None and watch_delay > 0:
                        await _asyncio.sleep(watch_delay)
                    continue

    def pubsub(self, **kwargs):
        """An asyncio ``ClusterPubSub`` on this client's pool: ``await
        ps.subscribe(...)``, ``await ps.get_message(timeout=...)``,
        ``async for message in ps.listen()``."""
        return ClusterPubSub(self.connection_pool, client=self, **kwargs)

    def lock(self, name, timeout=None, sleep=0.1, blocking_timeout=None,
             lock_class=None, thread_local=True, blocking=True):
        """An asyncio ``Lock`` on the key ``name`` (the sync client's lock,
        its methods awaited: ``async with rc.lock("name"):``,
        ``await lock.acquire()``, ``await lock.release()``)."""
        if lock_class is None:
            lock_class = Lock
        return lock_class(self, name, timeout=timeout, sleep=sleep,
                          blocking_timeout=blocking_timeout, thread_local=thread_local,
                          blocking=blocking)

    def register_script(self, script):
        """A ``Script`` whose call is awaitable: ``await s(keys=[...], args=[...])``."""
        return AsyncScript(self, script)

    async def scan_iter(self, match=None, count=None, _type=None):
        """Async iterator over the keys of the cluster (SCAN on every master)."""
        pool = self.connection_pool
        masters = sorted((node["host"], int(node["port"])) for node in pool.nodes.all_masters())
        if not masters:
            await self.initialize()
            masters = sorted((node["host"], int(node["port"]))
                             for node in pool.nodes.all_masters())
        for host, port in masters:
            cursor = 0
            while True:
                reply = await self._aio_node_command(host, port, "SCAN",
                                                     *scan_args(cursor, match, count, _type))
                cursor = int(reply[0])
                for key in reply[1]:
                    yield key
                if cursor == 0:
                    break

    async def hscan_iter(self, name, match=None, count=None):
        """Async iterator over the (field, value) pairs of a hash (HSCAN)."""
        cursor = "0"
        while cursor != 0:
            cursor, data = await self.hscan(name, cursor=cursor, match=match, count=count)
            for item in data.items():
                yield item

    async def sscan_iter(self, name, match=None, count=None):
        """Async iterator over the members of a set (SSCAN)."""
        cursor = "0"
        while cursor != 0:
            cursor, data = await self.sscan(name, cursor=cursor, match=match, count=count)
            for item in data:
                yield item

    async def zscan_iter(self, name, match=None, count=None, score_cast_func=float):
        """Async iterator over the (member, score) pairs of a sorted set (ZSCAN)."""
        cursor = "0"
        while cursor != 0:
            cursor, data = await self.zscan(name, cursor=cursor, match=match, count=count,
                                            score_cast_func=score_cast_func)
            for item in data:
                yield item


for _name in dir(ClusterCommands):
    if _name.startswith("_") or _name in _NOT_WRAPPED:
        continue
    _func = getattr(ClusterCommands, _name)
    if callable(_func):
        setattr(RedisCluster, _name, _async_method(_name, _func))
del _name, _func


class StrictRedisCluster(RedisCluster):
    """The 1.3.x name of ``RedisCluster``."""


class AsyncScript:
    """``register_script``'s object for the asyncio client: awaitable calls,
    EVALSHA first, SCRIPT LOAD on every master after NOSCRIPT."""

    def __init__(self, registered_client, script):
        from .script import Script

        self._sync = Script(registered_client, script)
        self.registered_client = registered_client
        self.script = script

    @property
    def sha(self):
        return self._sync.sha

    async def __call__(self, keys=[], args=[], client=None):
        if client is None:
            client = self.registered_client
        keys = tuple(keys)
        args = keys + tuple(args)
        if isinstance(client, ClusterPipeline):
            client.scripts.add(self._sync)
            return client.evalsha(self.sha, len(keys), *args)
        try:
            return await client.evalsha(self.sha, len(keys), *args)
        except NoScriptError:
            self._sync.sha = await client.script_load(self.script)
            return await client.evalsha(self.sha, len(keys), *args)

    def __repr__(self):
        return "<AsyncScript sha={0}>".format(self.sha)


class ClusterPipeline(_SyncClusterPipeline):
    """The asyncio pipeline: commands are queued at once (they return the
    pipeline); ``await pipe.execute()`` runs them through the engine, in
    parallel per node (``transaction=True``: MULTI/EXEC on one slot)."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.reset()

    def __enter__(self):
        raise TypeError("use 'async with' with the asyncio pipeline")

    async def execute(self, raise_on_error=True):
        """Run the queued commands; their results in order."""
        stack = self.command_stack
        if not stack and not self.watching:
            return []
        self._abort_index = None
        try:
            for script in list(self.scripts):
                script.sha = await _core.Client._aio_execute_command(
                    self, "SCRIPT LOAD", script.script)
            if self._conn is not None and (self._transaction_mode or self.explicit_transaction):
                # WATCH holds a connection: MULTI ... EXEC on it
                self._transaction_slot(stack, {self._slot} if self._slot is not None else ())
                conn = self._conn
                try:
                    replies = await _held_exec(conn, self._held_transaction(stack),
                                               self._held_timeout())
                except BaseException:
                    self._conn = None
                    conn.close()
                    raise
                self.watching = False  # EXEC (or its failure) ended the watch
                self._check_held_replies(replies)
                results = self._transaction_results(stack, replies)
            elif self._transaction_mode or self.explicit_transaction:
                slot = self._transaction_slot(stack)
                replies = await self._aio_execute_transaction(slot, stack)
                results = self._transaction_results(stack, replies)
            else:
                results = await self._aio_execute_batch(stack)
        finally:
            self.reset()
        if raise_on_error:
            self._raise_execute_error(stack, results)
        return results

    # ------------------------------------------------------------ WATCH

    def watch(self, *names):
        """WATCH keys (one slot) on a connection held until ``execute()`` or
        ``reset()``; an awaitable. Until ``multi()`` the pipeline's commands
        run at once and are awaited (``await pipe.get(k)``)."""
        return _SyncClusterPipeline.watch(self, *names)

    async def unwatch(self):
        """Forget the watched keys."""
        if self._conn is None:
            return True
        return await self._immediate(("UNWATCH",), {})

    async def _immediate(self, args, options):
        if self._conn is None:
            self._immediate_slot(args)
            if self._slot is not None:
                await self._warm(self._slot)
        conn = self._immediate_conn(args)
        try:
            reply = (await _held_exec(conn, [args], self._held_timeout()))[0]
            if isinstance(reply, Exception):
                raise reply
        except (MovedError, AskError, ConnectionError) as e:
            self._immediate_failed(e)
            raise
        except BaseException:
            # cancelled or timed out: _held_exec closed the connection, and
            # with it the watch
            self._immediate_failed(ConnectionError("cancelled"))
            raise
        return self._immediate_done(args, reply, options)

    async def _warm(self, slot):
        # Open a connection to the slot's master from the loop (a PING), so
        # that the checkout finds it idle instead of connecting with blocking
        # calls. Best effort: a failure is left to the checkout to report.
        try:
            pool = self.connection_pool
            if not list(pool.nodes.all_masters()):
                await self._aio_initialize()  # the first request of this client
            node = pool.get_master_node_by_slot(slot)
            await self._aio_node_command(node["host"], int(node["port"]), "PING")
        except Exception:
            pass

    def _held_timeout(self):
        options = getattr(self.connection_pool, "connection_kwargs", None) or {}
        return options.get("socket_timeout")

    def _let_go(self, conn):
        # UNWATCH would be a round trip: a watching connection is closed
        # instead (that ends the watch too); a clean one goes back to the pool.
        if self.watching or not conn.open:
            conn.close()
        else:
            conn.release()

    async def send_cluster_commands(self, stack, raise_on_error=True, allow_redirections=True):
        """Run a list of ``PipelineCommand`` (or ``(args, options)`` pairs)."""
        results = await self._aio_execute_batch(stack)
        if raise_on_error:
            self._raise_first_error(stack, results)
        return results

    def load_scripts(self):
        raise RedisClusterException("the asyncio pipeline loads its scripts in execute()")


class Lock(_SyncLock):
    """The sync ``Lock`` (same key, token and Lua scripts) with awaitable
    methods; ``async with rc.lock(name, timeout=...)`` holds it for a block."""

    async def __aenter__(self):
        if await self.acquire(blocking=True):
            return self
        raise LockError("Unable to acquire lock within the time specified")

    async def __aexit__(self, exc_type, exc_value, traceback):
        await self.release()

    def __enter__(self):
        raise TypeError("use 'async with' with the asyncio lock")

    async def acquire(self, blocking=None, blocking_timeout=None, token=None):
        """Take the lock (see the sync ``Lock.acquire``); waits with
        ``asyncio.sleep`` between attempts."""
        token, blocking, deadline = self._acquire_plan(blocking, blocking_timeout, token)
        while True:
            if await self.do_acquire(token):
                self.local.token = token
                return True
            if not self._retry_after_miss(blocking, deadline):
                return False
            await _asyncio.sleep(self.sleep)

    async def do_acquire(self, token):
        args, options = self._set_args(token)
        return bool(await self.redis.set(*args, **options))

    async def locked(self):
        return await self.redis.get(self.name) is not None

    async def owned(self):
        return self._owned_by_us(await self.redis.get(self.name))

    async def release(self):
        await self.do_release(self._take_token())

    async def do_release(self, expected_token):
        self._script_ok(await self.lua_release(keys=[self.name], args=[expected_token],
                                               client=self.redis), "release")

    async def extend(self, additional_time, replace_ttl=False):
        self._check_held("extend")
        return await self.do_extend(additional_time, replace_ttl)

    async def do_extend(self, additional_time, replace_ttl):
        return self._script_ok(await self.lua_extend(
            keys=[self.name], args=self._extend_args(additional_time, replace_ttl),
            client=self.redis), "extend")

    async def reacquire(self):
        self._check_held("reacquire")
        return await self.do_reacquire()

    async def do_reacquire(self):
        return self._script_ok(await self.lua_reacquire(
            keys=[self.name], args=[self.local.token, int(self.timeout * 1000)],
            client=self.redis), "reacquire")


# ---------------------------------------------------------------- held connections


def _wake(fut):
    if not fut.done():
        fut.set_result(None)


class _FdWait:
    """One wait at a time for any of some sockets to become readable
    (``loop.add_reader``) or a timeout. Nothing is read here: a cancelled
    wait leaves the streams as they were. ``stop()`` ends a wait early (the
    pubsub's subscribing methods do, before they change its connections)."""

    def __init__(self):
        self._loop = None
        self._fut = None
        self._fds = ()

    async def wait(self, fds, timeout):
        loop = _asyncio.get_running_loop()
        self.stop()
        fut = loop.create_future()
        self._loop, self._fut, self._fds = loop, fut, []
        timer = None
        try:
            for fd in fds:
                loop.add_reader(fd, _wake, fut)
                self._fds.append(fd)
            if timeout is not None:
                timer = loop.call_later(max(0.0, timeout), _wake, fut)
            await fut
        finally:
            if timer is not None:
                timer.cancel()
            if self._fut is fut:
                self.stop()

    def stop(self):
        fut, fds, loop = self._fut, self._fds, self._loop
        self._fut, self._fds = None, ()
        for fd in fds:
            loop.remove_reader(fd)
        if fut is not None and not fut.done():
            fut.set_result(None)


async def _held_exec(conn, commands, timeout):
    """Send ``commands`` on the held ``conn`` and read one reply each (error
    replies as values), waiting in the loop. Cancelled, timed out or failed:
    the connection is closed (its stream is no longer known) and the error
    raised."""
    deadline = None if timeout is None else _time.monotonic() + timeout
    waiter = _FdWait()
    replies = []
    try:
        conn.send(commands)
        while len(replies) < len(commands):
            if conn.can_read(0):
                replies.append(conn.read())
                continue
            left = None
            if deadline is not None:
                left = deadline - _time.monotonic()
                if left <= 0:
                    raise TimeoutError("Timeout reading from {0}".format(conn.node))
            await waiter.wait([conn.fileno()], left)
    except BaseException:
        conn.close()
        raise
    return replies


class ClusterPubSub(_SyncClusterPubSub):
    """The asyncio ``ClusterPubSub`` (``rc.pubsub()``): the sync object's
    subscription state and policy (re-subscribing after a connection loss,
    following slot moves of shard channels), its methods awaited. The waits
    for messages are loop waits on the connections' sockets; replies are
    read (without blocking) and parsed by the engine only once a socket is
    readable, so a cancelled ``get_message`` has read nothing. Handlers may
    be functions or coroutine functions. One task reads at a time."""

    def __init__(self, connection_pool, shard_hint=None, ignore_subscribe_messages=False,
                 client=None):
        self._fdwait = _FdWait()
        self._client = client
        super().__init__(connection_pool, shard_hint=shard_hint,
                         ignore_subscribe_messages=ignore_subscribe_messages)

    @_contextlib.contextmanager
    def _exclusive(self):
        # one thread: a reader waiting in the loop lets the connections go
        # (it plans its wait again when it resumes)
        self._fdwait.stop()
        with self._lock:
            yield

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self._reset()

    def __enter__(self):
        raise TypeError("use 'async with' with the asyncio pubsub")

    async def _ready(self):
        if self._client is not None and not list(self.connection_pool.nodes.all_masters()):
            await self._client.initialize()

    async def _warm(self, slots, held=()):
        """Open, from the loop, a connection to the masters of ``slots`` that
        the shared (sync) subscription code is about to check out, so that
        it finds one idle in the pool instead of connecting with blocking
        calls: one PING each, in parallel (not to the nodes named in
        ``held``). Best effort: a node that fails here is left to that code
        (and its error handling)."""
        client = self._client
        if client is None:
            return
        pool = self.connection_pool
        nodes = set()
        for slot in slots:
            if slot is None:
                continue
            try:
                node = pool.get_master_node_by_slot(slot)
            except Exception:
                continue
            if node["name"] not in held:
                nodes.add((node["host"], int(node["port"])))
        if nodes:
            await _asyncio.gather(*[client._aio_node_command(host, port, "PING")
                                    for host, port in sorted(nodes)],
                                  return_exceptions=True)

    async def _recover(self):
        """Before due retries of lost subscriptions: the topology refreshed
        and the connections they need opened from the loop (the retries
        then find a fresh topology and idle connections)."""
        main, shards = self._retries_due()
        if not (main or shards) or self._client is None:
            return
        try:
            await self._client.initialize()
        except Exception:
            return  # the retry reports its own error
        if main:
            await self._warm([self._main_slot()])
        if shards:
            await self._warm([self._slot(ch) for ch in self._shard_pending],
                             held=set(self._shard_conns))

    async def reset(self):
        """Close every connection and forget all subscriptions."""
        self._reset()

    aclose = close = reset

    async def on_connect(self, connection):
        _SyncClusterPubSub.on_connect(self, connection)

    async def _ready_main(self, args, kwargs):
        await self._ready()
        if self._main is None:
            new = self._parse_args(args, kwargs)
            await self._warm([self._main_slot(next(iter(new), None))])

    async def subscribe(self, *args, **kwargs):
        await self._ready_main(args, kwargs)
        return _SyncClusterPubSub.subscribe(self, *args, **kwargs)

    async def psubscribe(self, *args, **kwargs):
        await self._ready_main(args, kwargs)
        return _SyncClusterPubSub.psubscribe(self, *args, **kwargs)

    async def ssubscribe(self, *args, **kwargs):
        await self._ready()
        await self._warm([self._slot(ch) for ch in self._parse_args(args, kwargs)],
                         held=set(self._shard_conns))
        return _SyncClusterPubSub.ssubscribe(self, *args, **kwargs)

    async def unsubscribe(self, *args):
        return _SyncClusterPubSub.unsubscribe(self, *args)

    async def punsubscribe(self, *args):
        return _SyncClusterPubSub.punsubscribe(self, *args)

    async def sunsubscribe(self, *args):
        return _SyncClusterPubSub.sunsubscribe(self, *args)

    async def ping(self, message=None):
        await self._ready_main((), {})
        return _SyncClusterPubSub.ping(self, message)

    async def check_health(self):
        _SyncClusterPubSub.check_health(self)

    async def _aread_reply(self, timeout):
        deadline = None if timeout is None else _time.monotonic() + max(0.0, timeout)
        while True:
            await self._recover()
            with self._lock:
                plan = self._read_plan(deadline)
                if plan is None:
                    return None
                sources, wait = plan
                conns = [conn for _, conn in sources]
                # what the sockets have now, without waiting
                got = self._sub.read(conns, 0) if conns else None
                if got is not None:
                    response = self._read_got(sources, got)
                    if response is not None:
                        return response
                    continue
            if deadline is not None and _time.monotonic() >= deadline:
                return None
            if wait is not None and wait <= 0:
                await _asyncio.sleep(0)  # a retry is due: plan again
                continue
            await self._fdwait.wait([conn.fileno() for conn in conns], wait)

    async def parse_response(self, block=True, timeout=0):
        """The next raw reply of any connection; None if none came within
        ``timeout`` seconds (``block=True``: wait as long as it takes)."""
        _SyncClusterPubSub.check_health(self)  # RuntimeError before subscribing
        response = await self._aread_reply(None if block else timeout)
        if self._health_check_interval and response == self.health_check_response:
            return None
        return response

    async def handle_message(self, response, ignore_subscribe_messages=False):
        """The message dict of a raw reply (see the sync ``handle_message``);
        a handler's coroutine is awaited."""
        message, handler = self._message_of(response, ignore_subscribe_messages)
        if handler:
            value = handler(message)
            if _inspect.isawaitable(value):
                await value
            return None
        return message

    async def get_message(self, ignore_subscribe_messages=False, timeout=0.0):
        """The next message, or None if none arrived within ``timeout``
        seconds (None: wait as long as it takes)."""
        response = await self.parse_response(block=(timeout is None), timeout=timeout)
        if response is not None:
            return await self.handle_message(response, ignore_subscribe_messages)
        return None

    async def get_sharded_message(self, ignore_subscribe_messages=False, timeout=0.0,
                                  target_node=None):
        """The same as ``get_message`` (every connection is read)."""
        return await self.get_message(ignore_subscribe_messages, timeout)

    async def listen(self):
        """Async iterator over the messages while anything is subscribed."""
        while self.subscribed:
            response = await self.handle_message(await self.parse_response(block=True))
            if response is not None:
                yield response

    def run_in_thread(self, *args, **kwargs):
        raise TypeError("run_in_thread() is not for the asyncio pubsub: run a task "
                        "doing 'async for message in ps.listen()' (or get_message in a loop)")
