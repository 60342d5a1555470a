"""The asyncio client's command surface, without a cluster: one definition of
each command (the sync mixins' functions), no I/O in the constructor, argument
errors raised by the await."""

import asyncio
import inspect

import pytest

from rediscluster import RedisCluster as SyncRedisCluster
from rediscluster import asyncio as rcaio
from rediscluster.commands import ClusterCommands
from rediscluster.exceptions import DataError, RedisClusterException


def _public(cls):
    return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}


def test_every_sync_method_is_there():
    assert _public(SyncRedisCluster) - _public(rcaio.RedisCluster) == set()
    assert issubclass(rcaio.StrictRedisCluster, rcaio.RedisCluster)


def test_commands_are_the_sync_definitions():
    wrapped = 0
    for name in _public(ClusterCommands):
        method = getattr(rcaio.RedisCluster, name)
        if name in rcaio._NOT_WRAPPED:
            assert getattr(method, "__wrapped__", None) is None, name
            continue
        assert method.__wrapped__ is getattr(ClusterCommands, name), name
        assert method.__doc__ == getattr(ClusterCommands, name).__doc__
        wrapped += 1
    assert wrapped > 250
    for name in ("scan_iter", "hscan_iter", "sscan_iter", "zscan_iter"):
        assert inspect.isasyncgenfunction(getattr(rcaio.RedisCluster, name)), name


def test_constructor_does_no_io():
    # nothing listens on port 1: only a command would notice
    rc = rcaio.RedisCluster(host="127.0.0.1", port=1)
    assert rc.connection_pool._stats()["refreshes"] == 0
    rc2 = rcaio.RedisCluster.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    assert rc2.connection_pool._stats()["refreshes"] == 0
    with pytest.raises(RedisClusterException):
        rcaio.RedisCluster(host="127.0.0.1", port=1, db=1)


def test_argument_errors_are_raised_by_the_await():
    rc = rcaio.RedisCluster(host="127.0.0.1", port=1)

    async def body():
        op = rc.set("k", None)  # no exception yet, and no request sent
        with pytest.raises(DataError):
            await op
        with pytest.raises(TypeError):
            await rc.get()
        with pytest.raises(RedisClusterException, match="Unable to determine"):
            await rc.execute_command()
        with pytest.raises(DataError):
            await rc.mset({"a": {"nested": 1}, "b": 1})

    asyncio.run(body())


def test_unsupported_parts_say_so():
    rc = rcaio.RedisCluster(host="127.0.0.1", port=1)
    ps = rc.pubsub()
    assert isinstance(ps, rcaio.ClusterPubSub)
    for name in ("subscribe", "psubscribe", "ssubscribe", "unsubscribe", "get_message",
                 "handle_message", "parse_response", "aclose", "close", "reset"):
        assert inspect.iscoroutinefunction(getattr(ps, name)), name
    assert inspect.isasyncgenfunction(ps.listen)
    with pytest.raises(TypeError, match="listen"):
        ps.run_in_thread()
    watch = rc.pipeline().watch("k")  # an awaitable; no I/O before the await
    assert inspect.iscoroutine(watch)
    watch.close()
    for obj in (rc, rc.lock("x"), rc.pipeline(), ps):
        with pytest.raises(TypeError, match="async with"):
            with obj:
                pass
    with pytest.raises(TypeError, match="not known before it is awaited"):
        bool(rc.get("k"))
