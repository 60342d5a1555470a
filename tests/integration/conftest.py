"""Integration fixtures: clients, a raw RESP helper, topology helpers, key
generation per slot, cleanup and slot migration.

Every test key starts with ``PREFIX`` ("rcit:") so that ``flush`` can remove
what the tests wrote without FLUSHALL (the dev cluster is shared). Keys look
like ``rcit:{<tag>}:<suffix>``: the hash tag picks the slot.

Admin commands go to a given node over a plain socket (``raw``), never through
the client under test, so that the checks do not depend on the code they check.
"""

import binascii
import sys
import time

import pytest

pytest.importorskip("rediscluster._core")

from rediscluster import RedisCluster  # noqa: E402

# Test modules import the helpers below as ``rcit`` (``from rcit import ...``):
# tests/ and tests/integration/ are not packages and both hold a conftest.py.
sys.modules.setdefault("rcit", sys.modules[__name__])

PREFIX = "rcit:"
NSLOTS = 16384
NODES = 6
MASTERS = 3


# ---------------------------------------------------------------------------
# keys per slot


def crc_slot(data):
    """Slot of a hash-tag-free byte string (CRC16/XMODEM == binascii.crc_hqx)."""
    return binascii.crc_hqx(data, 0) % NSLOTS


_TAGS = None


def _tags():
    """tag string for every slot: crc_slot(tag) == slot (computed once, ~0.1 s)."""
    global _TAGS
    if _TAGS is None:
        tags = [None] * NSLOTS
        missing = NSLOTS
        i = 0
        while missing:
            t = "%x" % i
            s = binascii.crc_hqx(t.encode(), 0) % NSLOTS
            if tags[s] is None:
                tags[s] = t
                missing -= 1
            i += 1
        _TAGS = tags
    return _TAGS


def key_for_slot(slot, suffix=""):
    """A test key (str) that hashes to ``slot``; different suffixes give
    different keys in the same slot."""
    return "%s{%s}:%s" % (PREFIX, _tags()[slot], suffix)


def keys_for_slot(slot, n, stem="k"):
    return [key_for_slot(slot, "%s%d" % (stem, i)) for i in range(n)]


def wait_for(predicate, timeout, interval=0.02, message="condition"):
    """Poll ``predicate`` until it returns a truthy value; return it, or fail."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - a node may be restarting
            last_exc = e
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1fs waiting for %s (last error: %r)"
                        % (timeout, message, last_exc))
        time.sleep(interval)


# ---------------------------------------------------------------------------
# raw RESP access (scripts/_resp.py, on sys.path through tests/conftest.py)

from _resp import Conn, RespError, parse_info  # noqa: E402
from _resp import encode as pack  # noqa: E402,F401


class RawConn(Conn):
    """One plain socket to one node, replies as bytes. ``call`` raises
    RespError on error replies; ``pipe`` returns them in place. Keyword
    arguments (password=, ssl_context=) as scripts/_resp.py's Conn."""

    def __init__(self, host, port, timeout=5.0, **kwargs):
        super().__init__(host, port, timeout, **kwargs)


class Cluster:
    """Raw access and topology helpers for the test cluster on base..base+5."""

    def __init__(self, host, base):
        self.host = host
        self.base = base
        self.ports = list(range(base, base + NODES))

    # -- raw commands
    def conn(self, port, timeout=5.0):
        return RawConn(self.host, port, timeout)

    def raw(self, port, *args, timeout=5.0):
        with self.conn(port, timeout) as c:
            return c.call(*args)

    def pipe(self, port, commands, timeout=10.0):
        with self.conn(port, timeout) as c:
            return c.pipe(commands)

    def answers(self, port):
        try:
            return self.raw(port, "PING", timeout=1.0) == b"PONG"
        except (OSError, ConnectionError, RespError):
            return False

    # -- topology
    def node_id(self, port):
        return self.raw(port, "CLUSTER", "MYID").decode()

    def role(self, port):
        return self.raw(port, "ROLE", timeout=2.0)[0].decode()

    def masters(self):
        out = []
        for p in self.ports:
            try:
                if self.role(p) == "master":
                    out.append(p)
            except (OSError, ConnectionError, RespError):
                pass
        return out

    def slots_view(self, port=None):
        """[(start, end, master_port, [replica ports])] from CLUSTER SLOTS."""
        ports = [port] if port is not None else self.ports
        for p in ports:
            try:
                reply = self.raw(p, "CLUSTER", "SLOTS", timeout=2.0)
            except (OSError, ConnectionError, RespError):
                continue
            return [(int(e[0]), int(e[1]), int(e[2][1]), [int(r[1]) for r in e[3:]])
                    for e in reply]
        raise AssertionError("no node of the cluster answers CLUSTER SLOTS")

    def owner(self, slot, port=None):
        """Master port that serves ``slot`` in the view of ``port`` (or of any node)."""
        for start, end, master, _ in self.slots_view(port):
            if start <= slot <= end:
                return master
        return None

    def master_of_slot(self, slot):
        return self.owner(slot)

    def replica_of(self, master_port):
        for _, _, master, replicas in self.slots_view():
            if master == master_port and replicas:
                return replicas[0]
        raise AssertionError("master %d has no replica" % master_port)

    def slots_of(self, port):
        return [s for start, end, m, _ in self.slots_view() if m == port
                for s in range(start, end + 1)]

    def all_agree_owner(self, slot, port):
        """Every node (or every running node) sees ``port`` as the slot's master."""
        for p in self.ports:
            if not self.answers(p):
                continue
            if self.owner(slot, p) != port:
                return False
        return True

    def wait_owner(self, slot, port, timeout=15.0):
        wait_for(lambda: self.all_agree_owner(slot, port), timeout,
                 message="all nodes to see slot %d on %d" % (slot, port))

    def wait_replica_synced(self, master_port, timeout=30.0):
        """The master's replicas have acknowledged all its writes."""
        def synced():
            info = parse_info(self.raw(master_port, "INFO", "replication"))
            offset = int(info["master_repl_offset"])
            slaves = [v for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()]
            if not slaves:
                return False
            for s in slaves:
                fields = dict(f.split("=", 1) for f in s.split(","))
                if int(fields["offset"]) < offset:
                    return False
            return True
        wait_for(synced, timeout, message="replicas of %d in sync" % master_port)

    # -- cleanup
    def delete_test_keys(self):
        """Delete every PREFIX* key on every master (SCAN + single-key UNLINK)."""
        for port in self.masters():
            with self.conn(port, timeout=30.0) as c:
                cursor = b"0"
                while True:
                    cursor, keys = c.call("SCAN", cursor, "MATCH", PREFIX + "*", "COUNT", 2000)
                    if keys:
                        c.pipe([("UNLINK", k) for k in keys])
                    if cursor == b"0":
                        break

    # -- slot migration (raw admin commands)
    def setslot_all(self, slot, owner_port, first=()):
        """CLUSTER SETSLOT slot NODE owner on ``first`` ports, then every other master."""
        owner_id = self.node_id(owner_port)
        order = list(first) + [p for p in self.masters() if p not in first]
        for p in order:
            self.raw(p, "CLUSTER", "SETSLOT", slot, "NODE", owner_id)

    def migrate_keys(self, slot, src, dst, keys=None, replace=False):
        """MIGRATE ``keys`` (default: all keys of the slot on src) from src to dst."""
        with self.conn(src, timeout=30.0) as c:
            while True:
                batch = keys if keys is not None else c.call(
                    "CLUSTER", "GETKEYSINSLOT", slot, 500)
                if batch:
                    args = ["MIGRATE", self.host, dst, "", 0, 10000]
                    if replace:
                        args.append("REPLACE")
                    c.call(*(args + ["KEYS"] + list(batch)))
                if keys is not None or not batch:
                    return

    def move_slot(self, slot, src, dst, timeout=15.0):
        """Full, clean move of ``slot`` from master src to master dst (keys too)."""
        src_id, dst_id = self.node_id(src), self.node_id(dst)
        self.raw(dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        self.raw(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        self.migrate_keys(slot, src, dst, replace=True)
        # The importing node first: it bumps its config epoch, so its claim wins
        # everywhere (replicas included) once gossip spreads it.
        self.setslot_all(slot, dst, first=(dst, src))
        self.wait_owner(slot, dst, timeout)

    def evacuate_keys(self, slot, port, home):
        """Move the keys of ``slot`` held by ``port`` (which does not own the
        slot) to ``home`` (which does): ASKING + MIGRATE while importing."""
        self.raw(port, "CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(home))
        with self.conn(port, timeout=30.0) as c:
            while True:
                keys = c.call("CLUSTER", "GETKEYSINSLOT", slot, 500)
                if not keys:
                    break
                replies = c.pipe([("ASKING",),
                                  ["MIGRATE", self.host, home, "", 0, 10000, "REPLACE", "KEYS"]
                                  + list(keys)])
                for r in replies:
                    if isinstance(r, RespError):
                        raise r
        self.raw(port, "CLUSTER", "SETSLOT", slot, "STABLE")

    def restore_slot(self, slot, home):
        """Whatever state ``slot`` is in, make ``home`` its only owner and keyholder."""
        masters = self.masters()
        for p in masters:
            self.raw(p, "CLUSTER", "SETSLOT", slot, "STABLE")
        for p in masters:
            if p != home and self.owner(slot, p) == p:
                self.move_slot(slot, p, home)
        for p in masters:
            if p != home and self.raw(p, "CLUSTER", "COUNTKEYSINSLOT", slot) > 0:
                self.evacuate_keys(slot, p, home)
        if not self.all_agree_owner(slot, home):
            self.raw(home, "CLUSTER", "BUMPEPOCH")
            self.setslot_all(slot, home, first=(home,))
        self.wait_owner(slot, home)


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="session")
def cluster(cluster_addr, cluster_base_port):
    return Cluster(cluster_addr[0], cluster_base_port)


@pytest.fixture(scope="session")
def raw(cluster):
    """raw(port, *args) -> reply of one command on that node (plain socket).
    Error replies raise RespError. raw.conn(port) gives a RawConn."""

    def run(port, *args, timeout=5.0):
        return cluster.raw(port, *args, timeout=timeout)

    run.conn = cluster.conn
    run.pipe = cluster.pipe
    return run


@pytest.fixture(scope="session")
def master_of_slot(cluster):
    return cluster.master_of_slot


@pytest.fixture(scope="session")
def node_id(cluster):
    return cluster.node_id


@pytest.fixture(scope="session", name="key_for_slot")
def key_for_slot_fixture():
    _tags()
    return key_for_slot


def _client(cluster_addr, **kwargs):
    kwargs.setdefault("socket_timeout", 5.0)
    kwargs.setdefault("socket_connect_timeout", 2.0)
    return RedisCluster(host=cluster_addr[0], port=cluster_addr[1], **kwargs)


@pytest.fixture(scope="session")
def rc(cluster_addr):
    """The shared client (bytes replies)."""
    client = _client(cluster_addr, decode_responses=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def rc_decoded(cluster_addr):
    """The shared client with decode_responses=True."""
    client = _client(cluster_addr, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def new_client(cluster_addr):
    """Factory of fresh clients (closed at the end of the test)."""
    made = []

    def make(**kwargs):
        c = _client(cluster_addr, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def flush(cluster):
    """Delete the test keys (PREFIX*) after the test (and before, once)."""
    cluster.delete_test_keys()
    yield
    cluster.delete_test_keys()


@pytest.fixture
def healthy_after(cluster_script):
    """For tests that break the cluster: restart downed nodes, wait until the
    cluster is healthy and BASE..BASE+2 are masters again."""
    yield
    cluster_script("wait", "--restore-roles", timeout=180)


class Migration:
    """A slot being moved from ``src`` to ``dst`` by hand, step by step."""

    def __init__(self, cluster, slot, src, dst):
        self.cluster, self.slot, self.src, self.dst = cluster, slot, src, dst
        self.src_id, self.dst_id = cluster.node_id(src), cluster.node_id(dst)

    def begin(self):
        """dst IMPORTING, src MIGRATING (dst first, as redis-cli does)."""
        self.cluster.raw(self.dst, "CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.src_id)
        self.cluster.raw(self.src, "CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.dst_id)

    def move(self, keys):
        self.cluster.migrate_keys(self.slot, self.src, self.dst, keys=list(keys))

    def move_rest(self):
        self.cluster.migrate_keys(self.slot, self.src, self.dst)

    def finish(self):
        """Assign the slot to dst on dst, src, then every master; wait for all."""
        self.cluster.setslot_all(self.slot, self.dst, first=(self.dst, self.src))
        self.cluster.wait_owner(self.slot, self.dst)


@pytest.fixture
def migration(cluster, flush, cluster_script):
    """migration(slot, dst=None) -> Migration (not begun). The slot is moved back
    to its original master afterwards, whatever state the test left it in."""
    started = []

    def make(slot, dst=None):
        src = cluster.owner(slot)
        if dst is None:
            dst = next(p for p in cluster.masters() if p != src)
        m = Migration(cluster, slot, src, dst)
        started.append(m)
        return m

    yield make
    for m in started:
        cluster.restore_slot(m.slot, m.src)
    if started:
        cluster.delete_test_keys()
        cluster_script("wait", timeout=120)
