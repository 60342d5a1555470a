"""Shared test set-up: the cluster address, markers, the integration-test guard.

Tests under tests/unit get the ``unit`` marker and tests under tests/integration
the ``integration`` marker automatically. Integration tests are skipped when no
Redis Cluster answers CLUSTER INFO at --cluster-url (checked once, with a raw
socket, not with our client); with RC_REQUIRE_CLUSTER=1 (set by `make test`)
that is an error instead. Client fixtures belong in tests/integration/conftest.py.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCRIPT = ROOT / "scripts" / "cluster.py"
DEFAULT_URL = "redis://127.0.0.1:7000"


def pytest_addoption(parser):
    parser.addoption(
        "--cluster-url",
        default=os.environ.get("RC_CLUSTER_URL", DEFAULT_URL),
        help="a node of the test cluster (default: $RC_CLUSTER_URL or %s)" % DEFAULT_URL,
    )


def parse_url(url):
    parts = urlsplit(url if "://" in url else "redis://" + url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def cluster_info(host, port, timeout=2.0):
    """The CLUSTER INFO text from host:port, or None if no cluster node answers."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$4\r\nINFO\r\n")
            data = b""
            while b"\r\n" not in data or len(data) < 64:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
                if data.startswith(b"-"):
                    break
    except OSError:
        return None
    text = data.decode(errors="replace")
    return text if text.startswith("$") and "cluster_state:" in text else None


def pytest_report_header(config):
    import importlib.util

    host, port = parse_url(config.getoption("--cluster-url"))
    try:
        spec = importlib.util.find_spec("rediscluster")
        where = spec.origin if spec else "not importable"
    except Exception as e:  # a broken package must not hide the header
        where = "error: %s" % e
    return ["cluster: %s:%d" % (host, port), "rediscluster: %s" % where]


def pytest_collection_modifyitems(config, items):
    unit_dir = ROOT / "tests" / "unit"
    integration_dir = ROOT / "tests" / "integration"
    integration = []
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if unit_dir in path.parents:
            item.add_marker(pytest.mark.unit)
        elif integration_dir in path.parents:
            item.add_marker(pytest.mark.integration)
            integration.append(item)
    if not integration:
        return
    host, port = parse_url(config.getoption("--cluster-url"))
    if cluster_info(host, port) is not None:
        return
    reason = "no Redis Cluster answers CLUSTER INFO at %s:%d — run `make cluster-start`" % (host, port)
    if os.environ.get("RC_REQUIRE_CLUSTER", "") not in ("", "0"):
        raise pytest.UsageError(reason + " (RC_REQUIRE_CLUSTER is set)")
    skip = pytest.mark.skip(reason=reason)
    for item in integration:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster_url(pytestconfig):
    return pytestconfig.getoption("--cluster-url")


@pytest.fixture(scope="session")
def cluster_addr(cluster_url):
    """(host, port) of the node the tests start from."""
    return parse_url(cluster_url)


@pytest.fixture(scope="session")
def cluster_base_port(cluster_addr):
    """First port of the six-node cluster (nodes on BASE..BASE+5)."""
    return int(os.environ.get("RC_CLUSTER_BASE_PORT") or cluster_addr[1])


@pytest.fixture(scope="session")
def cluster_script(cluster_base_port):
    """Run a scripts/cluster.py subcommand against the test cluster.

        cluster_script("kill-node", 7000)
        cluster_script("wait")                  # restart downed nodes, wait until healthy
        cluster_script("wait", "--restore-roles")

    Returns the CompletedProcess (text output); raises CalledProcessError
    when check is true and the script fails.
    """

    def run(*args, check=True, timeout=120):
        cmd = [sys.executable, str(CLUSTER_SCRIPT), *map(str, args), "--base-port", str(cluster_base_port)]
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)
        return proc

    return run
