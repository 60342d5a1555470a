"""Fixtures of the asyncio client's tests: the integration helpers (cluster,
raw admin commands, keys per slot, slot migration) shared with
tests/integration, and ``arun`` / ``aclient``.

No pytest-asyncio: ``arun(coro_fn)`` runs a coroutine function in a fresh
event loop (asyncio.run), so each test says where its loop starts and ends.
"""

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("rediscluster._core")

if "rcit" not in sys.modules:
    _path = Path(__file__).resolve().parent.parent / "integration" / "conftest.py"
    _spec = importlib.util.spec_from_file_location("rcit", _path)
    _mod = importlib.util.module_from_spec(_spec)
    sys.modules["rcit"] = _mod
    _spec.loader.exec_module(_mod)

from rcit import cluster, flush, healthy_after, migration, new_client, raw  # noqa: E402,F401  (fixtures)

from rediscluster.asyncio import RedisCluster  # noqa: E402

# The test modules import the helpers below as ``rcaio`` (as ``rcit``).
sys.modules.setdefault("rcaio", sys.modules[__name__])


class Ticker:
    """A task that counts sleeps of ``interval`` seconds: how much the loop
    ran while the test awaited something else. Made inside a running loop;
    ``cancel()`` stops it."""

    def __init__(self, interval):
        self.ticks = 0
        self.interval = interval
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self):
        while True:
            await asyncio.sleep(self.interval)
            self.ticks += 1

    def cancel(self):
        self.task.cancel()


@pytest.fixture
def arun():
    """arun(fn, *args): asyncio.run(fn(*args)) with a check that the loop is
    left without readers/writers of ours."""

    def run(fn, *args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return run


@pytest.fixture
def aclient(cluster_addr):
    """aclient(**kwargs) -> a new asyncio RedisCluster on the test cluster
    (no I/O until used; close it in the test's loop)."""

    def make(**kwargs):
        kwargs.setdefault("socket_timeout", 5.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        return RedisCluster(host=cluster_addr[0], port=cluster_addr[1], **kwargs)

    return make
