"""Fault tests: a bounded load (``loadgen.Load``) runs while the cluster is
broken on purpose; each test prints its figures and appends them as one JSON
line to ``build/resilience-results.jsonl`` (``report.py`` turns the last line
of each test into the table in docs/reliability.md).

These tests kill, stop and fail over nodes, so they run only when asked for:
``pytest tests/resilience`` (a path under tests/resilience on the command
line), ``make test-resilience``, or ``RC_RESILIENCE=1``. Run them against a
private cluster (``RC_CLUSTER_URL`` / ``RC_CLUSTER_BASE_PORT``). Before and
after every test the cluster is brought back to health with BASE..BASE+2 as
masters (``cluster.py wait --restore-roles``).

The raw-socket helpers (``Cluster``, ``key_for_slot``) come from
tests/integration/conftest.py, loaded as the module ``rcit``.
"""

import importlib.util
import json
import os
import platform
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from loadgen import SLOW, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "build" / "resilience-results.jsonl"


def _load_rcit():
    if "rcit" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "rcit", ROOT / "tests" / "integration" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["rcit"] = module
        spec.loader.exec_module(module)
    return sys.modules["rcit"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "resilience: breaks the cluster on purpose (tests/resilience)")


def _requested(config):
    if os.environ.get("RC_RESILIENCE", "") not in ("", "0"):
        return True
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    if not mine:
        return
    for item in mine:
        item.add_marker(pytest.mark.resilience)
    if not _requested(config):
        skip = pytest.mark.skip(reason="breaks the cluster: run `make test-resilience` or "
                                       "`pytest tests/resilience` (or set RC_RESILIENCE=1)")
        for item in mine:
            item.add_marker(skip)
        return
    url = config.getoption("--cluster-url")
    parts = urlsplit(url if "://" in url else "redis://" + url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        info = _load_rcit().Cluster(host, port).raw(port, "CLUSTER", "INFO", timeout=2.0)
        if b"cluster_state:" in info:
            return
    except Exception:  # noqa: BLE001 - nothing there, or not a cluster node
        pass
    reason = "no Redis Cluster answers CLUSTER INFO at %s:%d" % (host, port)
    if os.environ.get("RC_REQUIRE_CLUSTER", "") not in ("", "0"):
        raise pytest.UsageError(reason + " (RC_REQUIRE_CLUSTER is set)")
    for item in mine:
        item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------
# helpers


def open_sockets():
    """Sockets this process has open (Linux: /proc/self/fd)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
        except OSError:
            pass
    return n


class Env:
    """What a fault test needs besides the load: raw access to the nodes,
    the cluster script, counters, and the result file."""

    def __init__(self, cluster, cluster_script, cluster_addr):
        self.rcit = _load_rcit()
        self.cluster = cluster
        self.script = cluster_script
        self.addr = cluster_addr
        self.base = cluster.base
        self.clients = []
        self.loads = []
        self.stopped_pids = []
        self.config_restore = []  # (port, name, value)

    # -- nodes

    def role(self, port):
        return self.cluster.role(port)

    def is_master(self, port):
        return self.role(port) == "master"

    def pid(self, port):
        info = self.rcit.parse_info(self.cluster.raw(port, "INFO", "server"))
        return int(info["process_id"])

    def server(self):
        """The nodes' server as (name, version): ("redis", "7.0.15"),
        ("valkey", "9.1.2") (Valkey also reports a redis_version: its
        server_name decides)."""
        info = self.rcit.parse_info(self.cluster.raw(self.base, "INFO", "server"))
        name = str(info.get("server_name") or "redis").lower()
        return name, str(info.get(name + "_version") or info["redis_version"])

    def sigstop(self, port):
        pid = self.pid(port)
        os.kill(pid, signal.SIGSTOP)
        self.stopped_pids.append(pid)
        return pid

    def sigcont(self, pid):
        os.kill(pid, signal.SIGCONT)
        if pid in self.stopped_pids:
            self.stopped_pids.remove(pid)

    def config_set_all(self, name, value):
        """CONFIG SET on every node; the old values come back at teardown."""
        for port in self.cluster.ports:
            old = self.cluster.raw(port, "CONFIG", "GET", name)[1]
            self.config_restore.append((port, name, old))
            self.cluster.raw(port, "CONFIG", "SET", name, value)

    def cluster_slots_calls(self):
        """{port: calls of CLUSTER SLOTS} from INFO commandstats (nodes that answer)."""
        return self.command_calls("cluster|slots")

    def command_calls(self, name):
        """{port: calls of command ``name``} from INFO commandstats (nodes that answer)."""
        out = {}
        for port in self.cluster.ports:
            try:
                info = self.rcit.parse_info(
                    self.cluster.raw(port, "INFO", "commandstats", timeout=1.0))
            except Exception:  # noqa: BLE001 - a node that is down counts nothing
                continue
            stat = info.get("cmdstat_" + name, "")
            fields = dict(f.split("=", 1) for f in stat.split(",") if "=" in f)
            out[port] = int(fields.get("calls", 0))
        return out

    @staticmethod
    def calls_delta(before, after):
        """CLUSTER SLOTS calls between two snapshots (a restarted node counts
        from 0, a node missing in either snapshot counts what it has)."""
        total = 0
        for port, n in after.items():
            prev = before.get(port, 0)
            total += n - prev if n >= prev else n
        return total

    # -- keys

    def spread_slots(self, n, slots=None):
        """``n`` slots spread evenly over ``slots`` (default: all)."""
        slots = list(range(self.rcit.NSLOTS)) if slots is None else list(slots)
        step = len(slots) / float(n)
        return [slots[int(i * step)] for i in range(n)]

    def keys_for(self, slots, stem):
        return [self.rcit.key_for_slot(s, "%s%d" % (stem, i)) for i, s in enumerate(slots)]

    def owner_map(self):
        view = self.cluster.slots_view()
        table = [None] * self.rcit.NSLOTS
        for start, end, master, _ in view:
            for s in range(start, end + 1):
                table[s] = master
        return table

    def keyslot(self, key):
        k = key.encode() if isinstance(key, str) else key
        s = k.find(b"{")
        if s >= 0:
            e = k.find(b"}", s + 1)
            if e > s + 1:
                k = k[s + 1:e]
        return self.rcit.crc_slot(k)

    def write_initial(self, load):
        """Give every key its initial value (raw, on the owner), and wait
        until the replicas have it."""
        owners = self.owner_map()
        by_port = {}
        for cmd in load.initial_commands():
            by_port.setdefault(owners[self.keyslot(cmd[1])], []).append(cmd)
        for port, cmds in by_port.items():
            for reply in self.cluster.pipe(port, cmds):
                assert reply == b"OK", reply
        for port in by_port:
            self.cluster.wait_replica_synced(port)

    def raw_get(self, key):
        """GET on the slot's owner over a plain socket, following MOVED/ASK."""
        owners = self.owner_map()
        port = owners[self.keyslot(key)]
        for _ in range(5):
            with self.cluster.conn(port) as c:
                try:
                    return c.call("GET", key)
                except self.rcit.RespError as e:
                    words = str(e).split()
                    if words and words[0] == "ASK":
                        port = int(words[2].rsplit(":", 1)[1])
                        with self.cluster.conn(port) as c2:
                            return c2.pipe([("ASKING",), ("GET", key)])[1]
                    if words and words[0] == "MOVED":
                        port = int(words[2].rsplit(":", 1)[1])
                        continue
                    raise
        raise AssertionError("GET %s: too many redirects" % key)

    # -- the client and the load

    def client(self, **kwargs):
        from rediscluster import RedisCluster

        kwargs.setdefault("socket_timeout", 1.0)
        kwargs.setdefault("socket_connect_timeout", 1.0)
        if not self.clients:
            self.sockets_before = open_sockets()
        c = RedisCluster(host=self.addr[0], port=self.addr[1], **kwargs)
        self.clients.append(c)
        return c

    def load(self, client, keys, counters, **kwargs):
        from loadgen import Load

        load = Load(client, keys, counters, **kwargs)
        self.loads.append(load)
        self.write_initial(load)
        return load

    # -- phases of a test

    def standard_load(self, client, threads=4, keys_per_thread=48, counters_per_thread=4,
                      key_slots=None, rate=800, max_ops=40000):
        """The load most tests use: keys spread over all slots (or over
        ``key_slots``), ``rate`` operations per second per thread."""
        n = threads * keys_per_thread
        keys = self.keys_for(self.spread_slots(n, key_slots), "s")
        counters = self.keys_for(self.spread_slots(threads * counters_per_thread), "c")
        return self.load(client, keys, counters, threads=threads, rate=rate, max_ops=max_ops)

    def begin(self, load, warmup=1.5):
        """Start the load, run it ``warmup`` seconds; it must be clean."""
        self.slots_before = self.cluster_slots_calls()
        load.start()
        time.sleep(warmup)
        errors = load.all_errors()
        assert not errors, "errors before anything was broken: %r" % errors[:3]
        assert load.ops_between(load.started, time.monotonic()), "the load does not run"

    def settle(self, load, quiet=1.5, timeout=20.0):
        """Wait until no operation failed for ``quiet`` seconds while every
        thread made progress; return that time, or None after ``timeout``."""
        return wait_until(lambda: load.quiet_since(quiet, min_ops=5), timeout, interval=0.1)

    def tail(self, load, seconds=2.0):
        """Run ``seconds`` more; return (errors in that time, ops per thread)."""
        t0 = time.monotonic()
        time.sleep(seconds)
        t1 = time.monotonic()
        per_thread = [sum(1 for op in w.ops if t0 <= op[0] < t1) for w in load.workers]
        return load.errors_between(t0, t1), per_thread

    def end(self, load, join_timeout=10.0):
        """Stop the load; return (stuck thread names, CLUSTER SLOTS calls during it).
        The client's open connections are kept in ``self.connections``."""
        stuck = load.stop(join_timeout)
        calls = self.calls_delta(self.slots_before, self.cluster_slots_calls())
        self.connections = load.client.connection_pool._stats()["connections"]
        if not stuck:
            # every socket the client opened must be closed by close()
            for c in self.clients:
                c.close()
            self.sockets_leaked = open_sockets() - self.sockets_before
        return stuck, calls

    def final_check(self, load):
        """Read every key back (plain sockets, on a healthy cluster)."""
        return load.final_check(self.raw_get)

    # -- recording

    def record(self, test, broken, load, stuck, slots_calls, final, since=None, **extra):
        """Print the figures of one run and append them to
        build/resilience-results.jsonl. ``final``: (lost, wrong) of final_check.
        ``recovery_s``: from ``since`` (default: the first event, the break)
        to the end of the last operation that failed or took longer than
        loadgen.SLOW; 0 if there was none."""
        summary = load.summary()
        if since is None:
            since = load.events[0][0]
        disrupted = load.disrupted_until(since)
        stats = load.client.connection_pool._stats()
        server, version = self.server()
        slow = sorted((op for op in load.all_ops() if op[1] > SLOW), key=lambda op: op[0])
        row = {
            "test": test,
            "broken": broken,
            "server": server,
            "server_version": version,
            "slow_ops": len(slow),
            "slow_samples": [[round(op[0] - load.started, 3), round(op[1], 3), op[3]]
                             for op in (slow if len(slow) <= 6 else slow[:3] + slow[-3:])],
            "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "final_lost": len(final[0]),
            "final_wrong": len(final[1]),
            "stuck_threads": len(stuck),
            "cluster_slots_calls": slots_calls,
            "cluster_slots_per_s": round(slots_calls / summary["duration_s"], 2),
            "client_refreshes": stats["refreshes"],
            "client_connections": getattr(self, "connections", stats["connections"]),
            "sockets_leaked": getattr(self, "sockets_leaked", None),
            "recovery_s": round(disrupted - since, 2) if disrupted else 0.0,
        }
        row.update(summary)
        row.update(extra)
        errors = load.all_errors()
        picked = errors if len(errors) <= 6 else errors[:3] + errors[-3:]
        row["error_samples"] = [[round(e[0] - load.started, 3), e[1], e[3], e[4][:120]]
                                for e in picked]
        row["events"] = [[round(t - load.started, 3), label] for t, label in load.events]
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row, sort_keys=True) + "\n")
        print("\n[resilience] %s" % json.dumps(row, sort_keys=True))
        return row

    def assert_sound(self, load, stuck, final):
        """What every fault test requires: no wrong answer (during the load or
        in the final read-back), no stuck thread, no crash of the checker, and
        no connection hoarding (at most one per thread and node), and no
        socket left open once the client is closed."""
        assert not load.crashes(), load.crashes()[0]
        assert not load.all_wrong(), load.all_wrong()[:5]
        assert not final[1], final[1][:5]
        assert not stuck, "threads stuck: %s" % stuck
        limit = load.threads * len(self.cluster.ports)
        assert self.connections <= limit, "%d connections open" % self.connections
        assert self.sockets_leaked == 0, "%d sockets still open after close()" % self.sockets_leaked

    # -- teardown

    def cleanup(self):
        for load in self.loads:
            load.stop(5.0)
        for pid in list(self.stopped_pids):
            try:
                self.sigcont(pid)
            except ProcessLookupError:
                self.stopped_pids.remove(pid)
        for port, name, value in reversed(self.config_restore):
            try:
                self.cluster.raw(port, "CONFIG", "SET", name, value)
            except Exception:  # noqa: BLE001 - a node that is down has its file config
                pass
        for c in self.clients:
            c.close()


@pytest.fixture(scope="session")
def cluster(cluster_addr, cluster_base_port):
    rcit = _load_rcit()
    return rcit.Cluster(cluster_addr[0], cluster_base_port)


@pytest.fixture
def env(cluster, cluster_script, cluster_addr):
    """The Env of one fault test; the cluster is healthy, with BASE..BASE+2 as
    masters, before and after."""
    cluster_script("wait", "--restore-roles", timeout=180)
    e = Env(cluster, cluster_script, cluster_addr)
    cluster.delete_test_keys()
    try:
        yield e
    finally:
        e.cleanup()
        cluster_script("wait", "--restore-roles", timeout=180)
        cluster.delete_test_keys()
