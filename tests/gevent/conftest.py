"""gevent tests: every module runs in its own process, monkey-patched before
anything else is imported (``python -m gevent.monkey --module pytest FILE``;
tests/gevent/run.py does that for each module, and make test runs it).

Run one by hand: ``.venv/bin/python -m gevent.monkey --module pytest
tests/gevent/test_gevent_basic.py``."""

import gevent.monkey
import pytest

from rediscluster import RedisCluster


def pytest_collection_modifyitems(config, items):
    if not gevent.monkey.is_module_patched("socket"):
        skip = pytest.mark.skip(
            reason="not monkey-patched: run with python -m gevent.monkey --module pytest "
                   "(tests/gevent/run.py)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture
def client(cluster_addr):
    """client(**kwargs) -> RedisCluster on the main cluster (closed afterwards)."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("socket_timeout", 5.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        c = RedisCluster(host=cluster_addr[0], port=cluster_addr[1], **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


class Ticker:
    """Counts hub ticks (10 ms sleeps) in a greenlet while it runs."""

    def __init__(self):
        self.ticks = 0
        self._run = True
        self._g = gevent.spawn(self._loop)

    def _loop(self):
        while self._run:
            gevent.sleep(0.01)
            self.ticks += 1

    def stop(self):
        self._run = False
        self._g.join()
        return self.ticks


@pytest.fixture
def ticker():
    t = Ticker()
    yield t
    t.stop()

