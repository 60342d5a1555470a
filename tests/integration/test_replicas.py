"""Reads from replicas (``read_from_replicas=True``, ``readonly_mode=True``),
observed on the servers.

What each node executed is read from its ``INFO commandstats`` (``calls`` counts
executed commands, ``rejected_calls`` those refused, e.g. with MOVED) and
``INFO errorstats``, before and after, over plain sockets. Replication also
executes the writes on the replicas, so "writes only on masters" is checked
as: no write was rejected by a replica, and the client opened no connection
to a replica at all (``CLIENT LIST`` by client name).

Contract (issue 5): read commands go to master and replicas, spread evenly;
writes go to masters; READONLY is sent once per replica connection (once per
connection everywhere in readonly_mode); a replica that answers MOVED, is down
or is still loading is skipped and the read goes to the master;
``from_url(..., read_from_replicas=True)`` works.
"""

import threading
import time
import uuid

import pytest

from rediscluster import RedisCluster

from rcit import RespError, key_for_slot, parse_info, wait_for

READS = 600


# ---------------------------------------------------------------------------
# helpers


def node_stats(cluster, port):
    """(commandstats {name: {calls, rejected_calls, ...}}, errorstats {code: n},
    total_connections_received) of one node, from one connection."""
    cmd, err, stats = cluster.pipe(port, [("INFO", "commandstats"), ("INFO", "errorstats"),
                                          ("INFO", "stats")])
    commands = {}
    for name, value in parse_info(cmd).items():
        if name.startswith("cmdstat_"):
            commands[name[8:]] = {k: float(v) if "." in v else int(v)
                                  for k, v in (f.split("=") for f in value.split(","))}
    errors = {}
    for name, value in parse_info(err).items():
        if name.startswith("errorstat_"):
            errors[name[10:]] = int(value.split("=")[1])
    return commands, errors, int(parse_info(stats)["total_connections_received"])


class Stats:
    """Snapshot of every node's stats; ``delta`` gives the differences."""

    def __init__(self, cluster, down=()):
        self.cluster = cluster
        self.ports = [p for p in cluster.ports if p not in down]  # of the nodes that run
        self.before = {p: node_stats(cluster, p) for p in self.ports}

    def delta(self):
        out = {}
        for p in self.ports:
            (c0, e0, n0), (c1, e1, n1) = self.before[p], node_stats(self.cluster, p)
            calls = {}
            rejected = {}
            for name in set(c0) | set(c1):
                a, b = c0.get(name, {}), c1.get(name, {})
                calls[name] = b.get("calls", 0) - a.get("calls", 0)
                rejected[name] = (b.get("rejected_calls", 0) - a.get("rejected_calls", 0)
                                  + b.get("failed_calls", 0) - a.get("failed_calls", 0))
            errors = {k: e1.get(k, 0) - e0.get(k, 0) for k in set(e0) | set(e1)}
            # the connection that read the "after" numbers counts itself
            out[p] = Delta(calls, rejected, errors, n1 - n0 - 1)
        return out


class Delta:
    def __init__(self, calls, rejected, errors, connections):
        self.calls, self.rejected, self.errors = calls, rejected, errors
        self.connections = connections

    def __getitem__(self, name):
        return self.calls.get(name, 0)

    def __repr__(self):
        nonzero = {k: v for k, v in self.calls.items() if v}
        return "Delta(calls=%r, rejected=%r, errors=%r, connections=%d)" % (
            nonzero, {k: v for k, v in self.rejected.items() if v},
            {k: v for k, v in self.errors.items() if v}, self.connections)


def groups(cluster):
    """[(master, replica, slot)] for every master, slot = first slot it serves."""
    out = []
    for start, _end, master, replicas in sorted(cluster.slots_view(), key=lambda e: e[2]):
        if master not in [g[0] for g in out]:
            assert replicas, "master %d has no replica" % master
            out.append((master, replicas[0], start))
    assert len(out) == 3, out
    return out


def client_conns(cluster, port, name):
    """Connections named ``name`` on the node, as CLIENT LIST fields."""
    text = cluster.raw(port, "CLIENT", "LIST").decode()
    conns = []
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        if fields.get("name") == name:
            conns.append(fields)
    return conns


def wait_replicated(cluster, replica, key, value=None):
    """Wait until the replica has ``key`` (with ``value``, if given): faster than
    waiting for the replicas' offset acknowledgements (sent once a second)."""

    def there():
        with cluster.conn(replica) as c:
            c.call("READONLY")
            if value is None:
                return c.call("EXISTS", key) == 1
            return c.call("GET", key) == (value.encode() if isinstance(value, str) else value)

    wait_for(there, 10, interval=0.005, message="%r on replica %d" % (key, replica))


@pytest.fixture
def keys(rc, cluster, flush):
    """One key per master (value = the key), written and replicated."""
    out = []
    for master, replica, slot in groups(cluster):
        k = key_for_slot(slot, "rfr")
        assert rc.set(k, k) is True
        out.append((k, master, replica))
    for k, _m, replica in out:
        wait_replicated(cluster, replica, k, k)
    return out


def make_client(mode, cluster_addr, name):
    host, port = cluster_addr
    common = dict(socket_timeout=5.0, socket_connect_timeout=2.0, client_name=name)
    if mode == "read_from_replicas":
        return RedisCluster(host=host, port=port, read_from_replicas=True, **common)
    if mode == "readonly_mode":
        return RedisCluster(host=host, port=port, readonly_mode=True, **common)
    if mode == "from_url":
        return RedisCluster.from_url("redis://%s:%d" % (host, port), read_from_replicas=True,
                                     **common)
    raise AssertionError(mode)


@pytest.fixture
def client_of(cluster_addr):
    made = []

    def make(mode):
        name = "rcit-%s-%s" % (mode, uuid.uuid4().hex[:8])
        c = make_client(mode, cluster_addr, name)
        c.test_name = name
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def read_all(client, keys, n=READS):
    for i in range(n):
        k = keys[i % len(keys)][0]
        assert client.get(k) == k.encode()


# ---------------------------------------------------------------------------
# spread


@pytest.mark.parametrize("mode", ["read_from_replicas", "readonly_mode", "from_url"])
def test_reads_spread_over_master_and_replicas(mode, client_of, cluster, keys):
    c = client_of(mode)
    stats = Stats(cluster)
    read_all(c, keys)
    d = stats.delta()
    per_group = READS // len(keys)
    for _k, master, replica in keys:
        m, r = d[master]["get"], d[replica]["get"]
        assert m + r >= per_group, (master, replica, d)
        # round robin gives exactly half; anything uniform stays well inside 30-70 %
        assert 0.3 * per_group <= r <= 0.7 * per_group, (
            "replica %d executed %d of %d GETs: %r" % (replica, r, per_group, d))
        assert 0.3 * per_group <= m <= 0.7 * per_group, (master, m, d)
        assert d[replica].rejected.get("get", 0) == 0, d[replica]
        assert d[replica].errors.get("MOVED", 0) == 0, d[replica]


@pytest.mark.parametrize("mode", ["read_from_replicas", "readonly_mode"])
def test_readonly_sent_once_per_connection(mode, client_of, cluster, keys):
    stats = Stats(cluster)  # before the client exists: its discovery counts too
    c = client_of(mode)
    read_all(c, keys)
    d = stats.delta()
    for _k, master, replica in keys:
        # every connection the client opened to a replica sent READONLY once,
        # not once per command
        live = client_conns(cluster, replica, c.test_name)
        assert live, "no connection of the client on replica %d" % replica
        assert 1 <= d[replica]["readonly"] <= d[replica].connections, (replica, d[replica])
        assert d[replica]["readonly"] < 5, d[replica]
        if mode == "read_from_replicas":
            assert d[master]["readonly"] == 0, (master, d[master])
        else:  # readonly_mode: every connection, masters included
            assert d[master]["readonly"] <= d[master].connections, (master, d[master])
            assert d[master]["readonly"] >= len(client_conns(cluster, master, c.test_name))


@pytest.mark.parametrize("mode", ["read_from_replicas", "readonly_mode"])
def test_writes_go_to_masters(mode, client_of, cluster, keys):
    c = client_of(mode)
    stats = Stats(cluster)
    for i in range(300):
        k = keys[i % 3][0]
        assert c.set(k, "v%d" % i) is True
        assert c.incr(k + "n") == i // 3 + 1
    d = stats.delta()
    for _k, master, replica in keys:
        assert d[master]["set"] == 100, (master, d[master])
        # SET also runs on the replica, through replication; none was rejected
        # there (a replica answers MOVED to writes) ...
        assert sum(d[replica].rejected.values()) == 0, (replica, d[replica])
        assert d[replica].errors.get("MOVED", 0) == 0, (replica, d[replica])
        # ... and the client never even connected to it
        assert client_conns(cluster, replica, c.test_name) == [], replica


def test_write_then_read_same_key(client_of, cluster, keys):
    # a read right after a write may be served by a replica that lags behind
    # (documented: replica reads are eventually consistent); it must return
    # the new or the old value, never anything else
    c = client_of("read_from_replicas")
    for i in range(200):
        k = keys[i % 3][0]
        old = c.get(k)
        c.set(k, "x%d" % i)
        assert c.get(k) in (old, b"x%d" % i)


# the 2.1.3 READ_COMMANDS and newer read-only commands, with a setup per key type
READ_COMMANDS = [
    # strings
    ("GET", "s"), ("STRLEN", "s"), ("GETRANGE", "s", 0, 1), ("SUBSTR", "s", 0, 1),
    ("GETBIT", "s", 1), ("BITCOUNT", "s"), ("BITPOS", "s", 1), ("EXISTS", "s"),
    ("TTL", "s"), ("PTTL", "s"), ("TYPE", "s"), ("EXPIRETIME", "s"), ("PEXPIRETIME", "s"),
    ("MGET", "s", "s2"), ("LCS", "s", "s2"), ("DUMP", "s"), ("OBJECT", "ENCODING", "s"),
    ("MEMORY", "USAGE", "s"), ("TOUCH", "s"),
    # hashes
    ("HGET", "h", "f"), ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HLEN", "h"),
    ("HEXISTS", "h", "f"), ("HMGET", "h", "f"), ("HSTRLEN", "h", "f"), ("HRANDFIELD", "h"),
    # lists
    ("LINDEX", "l", 0), ("LLEN", "l"), ("LRANGE", "l", 0, -1), ("LPOS", "l", "a"),
    ("SORT_RO", "l", "ALPHA"),
    # sets
    ("SCARD", "st"), ("SISMEMBER", "st", "a"), ("SMEMBERS", "st"), ("SRANDMEMBER", "st"),
    ("SMISMEMBER", "st", "a", "b"), ("SINTER", "st"), ("SUNION", "st"), ("SDIFF", "st"),
    ("SINTERCARD", 1, "st"),
    # sorted sets
    ("ZCARD", "z"), ("ZCOUNT", "z", "-inf", "+inf"), ("ZRANGE", "z", 0, -1), ("ZSCORE", "z", "a"),
    ("ZRANK", "z", "a"), ("ZREVRANK", "z", "a"), ("ZREVRANGE", "z", 0, -1),
    ("ZRANGEBYSCORE", "z", "-inf", "+inf"), ("ZLEXCOUNT", "z", "-", "+"), ("ZRANDMEMBER", "z"),
    ("ZMSCORE", "z", "a"), ("ZINTERCARD", 1, "z"),
    # geo
    ("GEOPOS", "g", "m"), ("GEODIST", "g", "m", "n"), ("GEOHASH", "g", "m"),
    ("GEOSEARCH", "g", "FROMMEMBER", "m", "BYRADIUS", 500, "km"),
    ("GEORADIUS_RO", "g", 15, 37, 500, "km"), ("GEORADIUSBYMEMBER_RO", "g", "m", 500, "km"),
    # streams, hyperloglog
    ("XRANGE", "x", "-", "+"), ("XREVRANGE", "x", "+", "-"), ("XLEN", "x"),
    ("PFCOUNT", "p"),
]
CURSOR_COMMANDS = [("HSCAN", "h", 0), ("SSCAN", "st", 0), ("ZSCAN", "z", 0)]


def stat_name(cmd):
    name = cmd[0].lower()
    if name in ("object", "memory"):
        name += "|" + cmd[1].lower()
    return name


@pytest.fixture
def typed_keys(rc, cluster, flush):
    """Keys of every type in one slot, on a master; returns (name -> key, master, replica)."""
    master, replica, slot = groups(cluster)[1]
    k = {n: key_for_slot(slot, n) for n in ("s", "s2", "h", "l", "st", "z", "g", "x", "p")}
    cluster.pipe(master, [
        ("SET", k["s"], "hello"), ("SET", k["s2"], "help"), ("HSET", k["h"], "f", "v"),
        ("RPUSH", k["l"], "a", "b"), ("SADD", k["st"], "a", "b"), ("ZADD", k["z"], 1, "a", 2, "b"),
        ("GEOADD", k["g"], 13.36, 38.11, "m", 15.08, 37.50, "n"), ("XADD", k["x"], "*", "f", "v"),
        ("PFADD", k["p"], "a", "b"),
    ])
    wait_replicated(cluster, replica, k["p"])  # the last one written
    return k, master, replica


@pytest.mark.needs("redis7-commands")
def test_read_commands_reach_replicas(client_of, cluster, typed_keys):
    k, master, replica = typed_keys
    c = client_of("read_from_replicas")
    missing = []
    for cmd in READ_COMMANDS + CURSOR_COMMANDS:
        args = [k.get(a, a) if isinstance(a, str) else a for a in cmd]
        stats = Stats(cluster)
        for _ in range(6):
            c.execute_command(*args)
        d = stats.delta()
        name = stat_name(cmd)
        on_replica, on_master = d[replica][name], d[master][name]
        rejected = d[replica].rejected.get(name, 0)
        if cmd in CURSOR_COMMANDS:
            # a cursor only means something on the node that made it
            if on_replica or on_master != 6:
                missing.append("%s: cursor command ran %d times on the replica"
                               % (name, on_replica))
        elif not on_replica or rejected or on_master > 6 or on_master + on_replica < 6:
            # (>= 6: a PFCOUNT that updates the cached cardinality on the
            # master is replicated, and runs on the replica once more)
            missing.append("%s: replica %d, master %d, rejected on replica %d"
                           % (name, on_replica, on_master, rejected))
    assert not missing, "\n".join(missing)


def test_spread_is_even_per_master_whatever_the_access_pattern(client_of, cluster, keys):
    c = client_of("read_from_replicas")
    pair = keys[:2]
    stats = Stats(cluster)
    read_all(c, pair, 400)  # k0, k1, k0, k1, ...
    d = stats.delta()
    for _k, master, replica in pair:
        assert 60 <= d[replica]["get"] <= 140, (replica, d)
        assert 60 <= d[master]["get"] <= 140, (master, d)


def test_pipeline_reads_from_replicas(client_of, cluster, keys):
    c = client_of("read_from_replicas")
    stats = Stats(cluster)
    for _ in range(40):
        p = c.pipeline(read_from_replicas=True)
        for k, _m, _r in keys * 5:
            p.get(k)
        assert p.execute() == [k.encode() for k, _m, _r in keys * 5]
    d = stats.delta()
    for _k, master, replica in keys:
        assert d[replica]["get"] >= 40, (replica, d[replica])
        assert d[master]["get"] + d[replica]["get"] == 200, (master, replica, d)
        assert d[replica].rejected.get("get", 0) == 0, d[replica]
    stats = Stats(cluster)
    p = c.pipeline()  # without the flag: masters only
    for k, _m, _r in keys * 5:
        p.get(k)
    p.execute()
    d = stats.delta()
    for _k, master, replica in keys:
        assert d[replica]["get"] == 0 and d[master]["get"] == 5, d


def test_without_the_flag_reads_stay_on_masters(new_client, cluster, keys):
    c = new_client()
    stats = Stats(cluster)
    read_all(c, keys, 300)
    d = stats.delta()
    for _k, master, replica in keys:
        assert d[replica]["get"] == 0 and d[master]["get"] == 100, d


# ---------------------------------------------------------------------------
# from_url


def test_from_url_read_from_replicas_keyword(cluster_addr):
    c = RedisCluster.from_url("redis://%s:%d" % cluster_addr, read_from_replicas=True)
    try:
        assert c.read_from_replicas is True
        assert type(c.connection_pool).__name__ == "ClusterWithReadReplicasConnectionPool"
    finally:
        c.close()


@pytest.mark.parametrize("query", ["read_from_replicas=true", "readonly_mode=yes",
                                   "skip_full_coverage_check=1"])
def test_from_url_query_options(cluster_addr, query):
    c = RedisCluster.from_url("redis://%s:%d/?%s" % (cluster_addr + (query,)))
    try:
        name = query.split("=")[0]
        if name == "skip_full_coverage_check":
            assert c.connection_pool.nodes._skip_full_coverage_check is True
        else:
            assert c.read_from_replicas is True
        if name == "readonly_mode":
            assert type(c.connection_pool).__name__ == "ClusterReadOnlyConnectionPool"
    finally:
        c.close()


# ---------------------------------------------------------------------------
# replicas that cannot serve


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop-node", "kill-node"])
def test_replica_down_reads_go_to_master(how, client_of, cluster, keys, cluster_script,
                                         healthy_after):
    c = client_of("read_from_replicas")
    read_all(c, keys, 30)  # connections to every replica are pooled
    k, master, replica = keys[0]
    cluster_script(how, replica)
    stats = Stats(cluster, down=[replica])
    t0 = time.monotonic()
    for _ in range(200):
        assert c.get(k) == k.encode()
    elapsed = time.monotonic() - t0
    d = stats.delta()
    assert d[master]["get"] == 200, d
    assert elapsed < 10, elapsed
    # the other groups still use their replicas
    stats = Stats(cluster, down=[replica])
    for k2, _m, _r in keys[1:]:
        for _ in range(50):
            assert c.get(k2) == k2.encode()
    d = stats.delta()
    for _k, _m, r in keys[1:]:
        assert d[r]["get"] >= 15, d


@pytest.mark.slow
def test_replica_down_costs_no_backoff(client_of, cluster, keys, cluster_script,
                                       healthy_after):
    """A replica that refused a connection is skipped for a while and the
    retry on the master needs no backoff: reads stay fast."""
    c = client_of("read_from_replicas")
    read_all(c, keys, 30)
    k, _master, replica = keys[0]
    cluster_script("kill-node", replica)
    t0 = time.monotonic()
    for _ in range(100):
        assert c.get(k) == k.encode()
    elapsed = time.monotonic() - t0
    assert elapsed < 0.25, "100 reads took %.2f s with a replica down" % elapsed


def test_replica_answering_moved_goes_to_master(cluster_addr, cluster, rc, migration):
    """The slot moves to another master; clients with the old map send reads
    to the old master and its replica, which answer MOVED."""
    master, replica, slot = groups(cluster)[0]
    k = key_for_slot(slot, "moved")
    assert rc.set(k, "v") is True
    wait_replicated(cluster, replica, k, "v")
    # several clients whose round robin stands at different places, so that
    # some send their first read after the move to the replica
    clients = []
    for i in range(8):
        c = make_client("read_from_replicas", cluster_addr, "rcit-moved-%d" % i)
        for _ in range(i):
            assert c.get(k) == b"v"
        clients.append(c)
    try:
        m = migration(slot)
        m.begin()
        m.move_rest()
        m.finish()
        stats = Stats(cluster)
        for c in clients:
            assert c.get(k) == b"v"
            assert c.get(k) == b"v"
        d = stats.delta()
        moved_by_replica = d[replica].rejected.get("get", 0)
        assert moved_by_replica >= 1, ("no read went to the old replica", d)
        assert d[replica].errors.get("MOVED", 0) >= moved_by_replica
        # the reads were answered by the new owner's group
        new_master = m.dst
        new_replica = cluster.replica_of(new_master)
        assert d[new_master]["get"] + d[new_replica]["get"] == 16, d
    finally:
        for c in clients:
            c.close()


LOADING_KEYS = 20000


@pytest.mark.needs("redis7-commands")
@pytest.mark.slow
def test_loading_replica_reads_go_to_master(client_of, cluster, keys, raw):
    k, master, replica = keys[0]
    slot = int(raw(master, "CLUSTER", "KEYSLOT", k))
    # enough keys in the replica's data set to make a reload last ~1 s
    batch = 1000
    for start in range(0, LOADING_KEYS, batch):
        args = ["MSET"]
        for i in range(start, start + batch):
            args += [key_for_slot(slot, "load%d" % i), "x"]
        raw(master, *args)
    wait_replicated(cluster, replica, key_for_slot(slot, "load%d" % (LOADING_KEYS - 1)))
    c = client_of("read_from_replicas")
    read_all(c, keys, 30)
    reloaded = {}

    def reload():
        try:
            reloaded["reply"] = raw(replica, "DEBUG", "RELOAD", timeout=60)
        except Exception as e:  # noqa: BLE001
            reloaded["error"] = e

    raw(replica, "CONFIG", "SET", "key-load-delay", 50)  # microseconds per key
    raw(replica, "CONFIG", "SET", "loading-process-events-interval-bytes", 1024)
    th = threading.Thread(target=reload)
    try:
        th.start()

        def loading():
            try:
                raw(replica, "PING", timeout=2)
            except RespError as e:
                return str(e).startswith("LOADING")
            return False

        wait_for(loading, 10, interval=0.002, message="replica %d loading" % replica)
        got = [c.get(k) for _ in range(20)]
        still_loading = loading()
    finally:
        raw(replica, "CONFIG", "SET", "key-load-delay", 0)
        raw(replica, "CONFIG", "SET", "loading-process-events-interval-bytes", 2 * 1024 * 1024)
        th.join(60)
        wait_for(lambda: raw(replica, "PING") == b"PONG", 30, message="replica loaded")
    assert still_loading, "the replica finished loading too early for the test"
    assert got == [k.encode()] * 20
