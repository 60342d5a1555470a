"""Leak tests: reference counts and memory growth against the local cluster.

These tests are slow (the memory test runs a million operations) and are not
part of ``make test``: they run with ``make test-leak`` (which sets
RC_LEAK_TESTS=1 and starts the cluster), or when selected with ``-m leak``.
Otherwise they are skipped. Without a cluster they skip too, or fail with
RC_REQUIRE_CLUSTER=1.

Keys start with ``rcit:leak:`` (the integration tests' ``flush`` removes them
too); the fixtures delete what the tests wrote.

Fixtures: ``rc`` / ``rc_decoded`` (session clients),
``new_client`` (a fresh client per test, for tests that change callbacks),
``keys`` (the key names used, deleted afterwards), ``report`` (print a line
past pytest's capture, so that ``make test-leak`` shows the figures).
"""

import os
import socket

import pytest

pytest.importorskip("rediscluster._core")

from rediscluster import RedisCluster  # noqa: E402

PREFIX = "rcit:leak:"


def _enabled(config):
    if os.environ.get("RC_LEAK_TESTS", "") not in ("", "0"):
        return True
    return "leak" in (config.getoption("-m", default="") or "")


def _cluster_answers(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n")
            data = b""
            while b"cluster_state:" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return b"cluster_state:ok" in data


@pytest.fixture(scope="session", autouse=True)
def _leak_guard(pytestconfig, cluster_addr):
    if not _enabled(pytestconfig):
        pytest.skip("leak tests run with `make test-leak` (RC_LEAK_TESTS=1) or -m leak")
    if not _cluster_answers(*cluster_addr):
        reason = "no healthy Redis Cluster at %s:%d — run `make cluster-start`" % cluster_addr
        if os.environ.get("RC_REQUIRE_CLUSTER", "") not in ("", "0"):
            pytest.fail(reason + " (RC_REQUIRE_CLUSTER is set)")
        pytest.skip(reason)


def _client(cluster_addr, **kwargs):
    kwargs.setdefault("socket_timeout", 5.0)
    kwargs.setdefault("socket_connect_timeout", 2.0)
    return RedisCluster(host=cluster_addr[0], port=cluster_addr[1], **kwargs)


@pytest.fixture(scope="session")
def rc(_leak_guard, cluster_addr):
    client = _client(cluster_addr)
    yield client
    client.close()


@pytest.fixture(scope="session")
def rc_decoded(_leak_guard, cluster_addr):
    client = _client(cluster_addr, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def new_client(_leak_guard, cluster_addr):
    made = []

    def make(**kwargs):
        c = _client(cluster_addr, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def keys(rc):
    """keys(n, stem) -> n distinct key names (str) spread over the slots;
    every key handed out is deleted after the test."""
    made = []

    def make(n, stem="k"):
        # Built at run time, so that no key is an interned or shared constant.
        out = ["".join((PREFIX, stem, ":", str(i))) for i in range(n)]
        made.extend(out)
        return out

    yield make
    for i in range(0, len(made), 100):
        for k in made[i : i + 100]:
            rc.delete(k)


@pytest.fixture
def report(capsys):
    def emit(line):
        with capsys.disabled():
            print("\n    " + line, end="")

    return emit
