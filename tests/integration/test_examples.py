"""examples/*.py run as scripts against the test clusters: each exits 0 and
prints the lines that show it worked.

The main-cluster examples get the host and port of --cluster-url; tls.py the
TLS cluster's address and CA, from_url_password_protected.py URLs built from
the auth cluster's address and credentials. Those two skip (through the
``tls_cluster`` / ``auth_cluster`` fixtures) when their cluster is not running.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rediscluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT = 60


def run_example(name, *args):
    """Run examples/<name> with this interpreter and the rediscluster package
    the tests import; returns its stdout (fails the test on exit != 0)."""
    env = dict(os.environ)
    pkg_parent = str(Path(rediscluster.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TIMEOUT, env=env,
    )
    assert proc.returncode == 0, "%s exited %d\n--- stdout\n%s\n--- stderr\n%s" % (
        name, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def assert_lines(out, *expected):
    """Each expected text occurs in the output (in this order)."""
    pos = 0
    for text in expected:
        i = out.find(text, pos)
        assert i >= 0, "%r not found (in order) in:\n%s" % (text, out)
        pos = i + len(text)


# example -> lines its output must contain, in order
MAIN_EXAMPLES = {
    "wait_callback.py": [
        "set -> True", "get -> v", "pipeline -> [1, 2, 3, 4, 5]", "blpop 0.2 s -> None",
        "the wait function ran: True", "native again: True",
    ],
    "basic.py": ["set foo=bar -> True", "get foo -> bar", "ping -> ", "delete -> 5"],
    "asyncio_basic.py": [
        "set -> True", "get -> hello", "20 concurrent SETs -> True",
        "mget over many slots -> ['0', '1', '2', '3', '4']",
        "pipeline -> [2, 12, '3']", "blpop cancelled after 0.2 s", "still fine -> 0",
        "scan_iter -> 11 keys", "deleted 20 keys",
    ],
    "pipeline.py": [
        "10 SETs -> [True, True, True, True, True, True, True, True, True, True]",
        "incr + incrby + get -> [1, 11, '2']",
        "mset + mget, one {hash tag} -> [True, ['A', 'B']]",
        "incr -> ResponseError",
        "deleted 13 keys",
    ],
    "transaction.py": [
        "multi/exec -> [150, 1]",
        "withdraw 30 -> [True, 2]",
        "balance -> 120 | history -> ['+50', '-30']",
        "WatchError: example:{acct}:balance changed after WATCH",
        "final balance -> 121",
        "deleted 2 keys",
    ],
    "pubsub.py": [
        "confirmed: {'type': 'subscribe'",
        "received: hello subscribers on example:news",
        "received: disk almost full on example:alerts:disk (pattern example:alerts:*)",
        "next message -> None",
        "done",
    ],
    "sharded_pubsub.py": [
        "subscribed to 3 shard channels",
        "spublish -> 1 receiver(s); received: new order for eu on example:orders:eu",
        "spublish -> 1 receiver(s); received: new order for us on example:orders:us",
        "spublish -> 1 receiver(s); received: new order for asia on example:orders:asia",
        "unsubscribed from all shard channels",
        "done",
    ],
    "read_from_replicas.py": [
        "100 GETs returned ['hello']",
        "  master  ",
        "  replica ",
        "deleted 1 key",
    ],
}


# What an example needs from the server (tests/conftest.py FEATURES).
EXAMPLE_NEEDS = {"sharded_pubsub.py": ("sharded-pubsub",)}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.needs(*EXAMPLE_NEEDS.get(n, ())))
             for n in sorted(MAIN_EXAMPLES)])
def test_main_cluster_example(name, cluster_addr):
    host, port = cluster_addr
    out = run_example(name, host, port)
    assert_lines(out, *MAIN_EXAMPLES[name])


def test_every_example_is_tested():
    tested = set(MAIN_EXAMPLES) | {"tls.py", "from_url_password_protected.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_tls_example(tls_cluster):
    out = run_example("tls.py", tls_cluster.host, tls_cluster.port, tls_cluster.ca)
    assert_lines(out, "CA: %s" % tls_cluster.ca, "set -> True", "get -> secret",
                 "deleted 1 key", "from_url ping -> ")


def test_from_url_password_protected_example(auth_cluster):
    ac = auth_cluster
    url = "redis://:%s@%s:%d" % (ac.password, ac.host, ac.port)
    acl_url = "redis://%s:%s@%s:%d" % (ac.user, ac.user_password, ac.host, ac.port)
    out = run_example("from_url_password_protected.py", url, acl_url)
    assert_lines(out,
                 "redis://:***@%s:%d: set -> True, get -> ok" % (ac.host, ac.port),
                 "redis://%s:***@%s:%d: set -> True, get -> ok" % (ac.user, ac.host, ac.port),
                 "done")
    for secret in (ac.password, ac.user_password):
        assert secret not in out
