"""Server commands: fan-out shapes ({'host:port': reply}), reply parsing in both
decode modes, KEYS/SCAN/scan_iter over all masters, CONFIG/SLOWLOG/CLIENT/
MEMORY/LATENCY/COMMAND, persistence commands, blocked commands, result callbacks.

Run on a private cluster: FLUSHALL/FLUSHDB, CONFIG SET (values restored),
SAVE/BGSAVE/BGREWRITEAOF and CLIENT PAUSE act on every node.
"""

import datetime
import time

import pytest

from rediscluster.callbacks import RESULT_CALLBACKS
from rediscluster.exceptions import DataError, RedisClusterException, ResponseError

from rcit import key_for_slot, wait_for


def _names(cluster, ports):
    return {"%s:%d" % (cluster.host, p) for p in ports}


@pytest.fixture(scope="module")
def all_nodes(cluster):
    return _names(cluster, cluster.ports)


@pytest.fixture(scope="module")
def master_nodes(cluster):
    return _names(cluster, cluster.masters())


def _version(rc):
    text = next(iter(rc.info("server").values()))["redis_version"]
    return tuple(int(x) for x in text.split(".")[:2])


def _slot_of_each_master(cluster):
    """One slot per master: {port: slot}."""
    out = {}
    for start, _end, master, _ in cluster.slots_view():
        out.setdefault(master, start)
    return out


# ---------------------------------------------------------------- PING, ECHO, INFO


@pytest.mark.parametrize("decoded", [False, True])
def test_ping_echo(rc, rc_decoded, all_nodes, decoded):
    c = rc_decoded if decoded else rc
    assert c.ping() == dict.fromkeys(all_nodes, True)
    want = "héllo" if decoded else "héllo".encode()
    assert c.echo("héllo") == dict.fromkeys(all_nodes, want)


def test_echo_non_utf8(rc, all_nodes):
    assert rc.echo(b"\xff\x00\xfe") == dict.fromkeys(all_nodes, b"\xff\x00\xfe")


@pytest.mark.needs("redis7-commands")
@pytest.mark.parametrize("decoded", [False, True])
def test_info(rc, rc_decoded, cluster, all_nodes, decoded, flush):
    c = rc_decoded if decoded else rc
    info = c.info()
    assert set(info) == all_nodes
    for name, fields in info.items():
        assert fields["tcp_port"] == int(name.rsplit(":", 1)[1])
        assert isinstance(fields["redis_version"], str)
        assert fields["cluster_enabled"] == 1
    server = c.info("server")
    assert all("redis_version" in v and "used_memory" not in v for v in server.values())
    two = c.info("server", "memory")
    assert all("redis_version" in v and "used_memory" in v for v in two.values())
    # keyspace lines become nested dicts of numbers
    key = key_for_slot(0, "info")
    c.set(key, "v")
    owner = "%s:%d" % (cluster.host, cluster.owner(0))
    db0 = c.info("keyspace")[owner]["db0"]
    assert isinstance(db0, dict) and db0["keys"] >= 1 and "expires" in db0


# ---------------------------------------------------------------- keys, scan, flush


def _seed(rc, cluster):
    """Keys on every master (hash tags), plus a list and a non-UTF-8 key."""
    keys = []
    for i, slot in enumerate(_slot_of_each_master(cluster).values()):
        for j in range(4):
            k = key_for_slot(slot, "s%d" % j).encode()
            rc.set(k, b"v")
            keys.append(k)
    odd = b"rcit:{odd}:\xff\xfe"
    rc.set(odd, b"x")
    keys.append(odd)
    lst = key_for_slot(_slot_of_each_master(cluster)[cluster.masters()[-1]], "list").encode()
    rc.rpush(lst, b"a")
    keys.append(lst)
    return keys, lst


def test_keys_dbsize(rc, rc_decoded, cluster, all_nodes, flush):
    keys, _ = _seed(rc, cluster)
    got = rc.keys("rcit:*")
    assert isinstance(got, list)
    assert sorted(got) == sorted(keys)  # flat, no duplicates from replicas
    assert rc.keys("rcit:{nope}*") == []
    decoded_keys = [k for k in keys if b"\xff" not in k]
    for k in decoded_keys:  # the decoded client sees str keys
        assert k.decode() in rc_decoded.keys(k.decode())
    sizes = rc.dbsize()
    assert set(sizes) == all_nodes
    assert all(isinstance(v, int) for v in sizes.values())
    masters = _names(cluster, cluster.masters())
    assert sum(v for n, v in sizes.items() if n in masters) >= len(keys)


def test_scan_per_master(rc, rc_decoded, cluster, master_nodes, flush):
    keys, _ = _seed(rc, cluster)
    out = rc.scan(0, match="rcit:*", count=1000)
    assert set(out) == master_nodes
    seen = []
    for cursor, batch in out.values():
        assert isinstance(cursor, int)
        assert isinstance(batch, list)
        seen.extend(batch)
    assert set(seen) <= set(keys)
    out = rc_decoded.scan(match="rcit:{nope}*")
    assert all(v == (v[0], []) for v in out.values())


def test_scan_iter_visits_each_master_once(rc, rc_decoded, cluster, flush):
    keys, lst = _seed(rc, cluster)
    got = list(rc.scan_iter(match="rcit:*", count=2))
    assert len(got) == len(set(got))  # no key twice (original bug #121)
    assert sorted(got) == sorted(keys)
    assert list(rc.scan_iter(match="rcit:*", _type="list")) == [lst]
    assert list(rc.scan_iter(match="rcit:{nope}*")) == []
    got = list(rc_decoded.scan_iter(match="rcit:{[0-9a-f]*", count=100))
    assert all(isinstance(k, str) for k in got)
    assert sorted(got) == sorted(k.decode() for k in keys if b"\xff" not in k)


def test_flushdb_flushall(rc, rc_decoded, cluster, master_nodes, flush):
    _seed(rc, cluster)
    assert rc.flushdb() == dict.fromkeys(master_nodes, True)
    assert rc.keys("*") == []
    _seed(rc, cluster)
    assert rc_decoded.flushall(asynchronous=True) == dict.fromkeys(master_nodes, True)
    wait_for(lambda: rc.keys("*") == [], 5, message="async flush")
    _seed(rc, cluster)
    assert rc.flushall() == dict.fromkeys(master_nodes, True)
    assert rc.flushdb(asynchronous=True) == dict.fromkeys(master_nodes, True)


# ---------------------------------------------------------------- time, persistence


def test_time_lastsave(rc, all_nodes):
    t = rc.time()
    assert set(t) == all_nodes
    now = time.time()
    for secs, micros in t.values():
        assert isinstance(secs, int) and isinstance(micros, int)
        assert abs(secs - now) < 60 and 0 <= micros < 1000000
    last = rc.lastsave()
    assert set(last) == all_nodes
    assert all(isinstance(v, datetime.datetime) for v in last.values())


def _idle(rc):
    def check():
        for v in rc.info("persistence").values():
            if v["rdb_bgsave_in_progress"] or v["aof_rewrite_in_progress"] \
                    or v["aof_rewrite_scheduled"]:
                return False
        return True
    wait_for(check, 20, message="no background save or rewrite")


def test_save_bgsave_bgrewriteaof(rc, all_nodes):
    _idle(rc)
    before = rc.lastsave()
    assert rc.save() == dict.fromkeys(all_nodes, True)
    assert all(rc.lastsave()[n] >= before[n] for n in all_nodes)
    assert rc.bgsave() == dict.fromkeys(all_nodes, True)
    _idle(rc)
    assert rc.bgrewriteaof() == dict.fromkeys(all_nodes, True)
    # a save asked for while a rewrite may run: SCHEDULE never fails
    assert rc.bgsave(schedule=True) == dict.fromkeys(all_nodes, True)
    _idle(rc)


# ---------------------------------------------------------------- CONFIG


@pytest.mark.needs("redis7-commands")
def test_config_get_set_resetstat_rewrite(rc, rc_decoded, all_nodes):
    got = rc.config_get("maxmemory-samples")
    assert set(got) == all_nodes
    original = {n: v["maxmemory-samples"] for n, v in got.items()}
    assert all(isinstance(v, str) for v in original.values())
    both = rc_decoded.config_get("maxmemory-samples", "slowlog-max-len")
    assert all(set(v) == {"maxmemory-samples", "slowlog-max-len"} for v in both.values())
    assert all(v == {} for v in rc.config_get("rcit-no-such-param").values())
    lazy = next(iter(rc.config_get("lazyfree-lazy-user-del").values()))["lazyfree-lazy-user-del"]
    try:
        assert rc.config_set("maxmemory-samples", 7) == dict.fromkeys(all_nodes, True)
        assert all(v == {"maxmemory-samples": "7"}
                   for v in rc.config_get("maxmemory-samples").values())
        # several pairs at once (Redis 7)
        assert rc.config_set("maxmemory-samples", 6, "lazyfree-lazy-user-del", "yes") \
            == dict.fromkeys(all_nodes, True)
        with pytest.raises(ResponseError):
            rc.config_set("rcit-no-such-param", 1)
    finally:
        assert set(original.values()) == {original[next(iter(original))]}
        rc.config_set("maxmemory-samples", next(iter(original.values())),
                      "lazyfree-lazy-user-del", lazy)
    assert rc.config_get("maxmemory-samples") == got
    assert rc.config_resetstat() == dict.fromkeys(all_nodes, True)
    assert rc.config_rewrite() == dict.fromkeys(all_nodes, b"OK")


# ---------------------------------------------------------------- SLOWLOG


@pytest.mark.parametrize("decoded", [False, True])
def test_slowlog(rc, rc_decoded, cluster, all_nodes, decoded, flush):
    c = rc_decoded if decoded else rc
    original = rc.config_get("slowlog-log-slower-than")
    value = next(iter(original.values()))["slowlog-log-slower-than"]
    try:
        assert c.slowlog_reset() == dict.fromkeys(all_nodes, True)
        rc.config_set("slowlog-log-slower-than", 0)
        key = key_for_slot(77, "slow")
        c.set(key, "v1")
        entries = c.slowlog_get(10)
        assert set(entries) == all_nodes
        lens = c.slowlog_len()
        assert set(lens) == all_nodes and all(isinstance(n, int) for n in lens.values())
        owner = "%s:%d" % (cluster.host, cluster.owner(77))
        want = "SET %s v1" % key if decoded else b"SET %s v1" % key.encode()
        found = [e for e in entries[owner] if e["command"] == want]
        assert len(found) == 1  # (its replica logs the replicated SET too)
        e = found[0]
        assert isinstance(e["id"], int) and isinstance(e["start_time"], int)
        assert isinstance(e["duration"], int)
        assert {"client_address", "client_name"} <= set(e)
        assert all(len(v) <= 1 for v in c.slowlog_get(1).values())
    finally:
        rc.config_set("slowlog-log-slower-than", value)
        rc.slowlog_reset()


# ---------------------------------------------------------------- CLIENT


@pytest.mark.parametrize("decoded", [False, True])
def test_client_info_id_list(rc, rc_decoded, all_nodes, decoded):
    c = rc_decoded if decoded else rc
    ids = c.client_id()
    assert set(ids) == all_nodes and all(isinstance(i, int) for i in ids.values())
    info = c.client_info()
    assert set(info) == all_nodes
    for name, fields in info.items():
        assert isinstance(fields["id"], int)
        assert fields["laddr"] == name
    lists = c.client_list()
    assert set(lists) == all_nodes
    for name, clients in lists.items():
        assert clients and all("addr" in x and isinstance(x["id"], str) for x in clients)
    normal = c.client_list(_type="normal")
    assert all(x["flags"] != "S" for cl in normal.values() for x in cl)
    one = c.client_list(client_id=[info[next(iter(all_nodes))]["id"]])
    assert all(len(v) <= 1 for v in one.values())
    with pytest.raises(DataError):
        c.client_list(_type="bogus")
    with pytest.raises(DataError):
        c.client_list(client_id="1")


def test_client_setname_getname(new_client, all_nodes):
    c = new_client()
    assert c.client_getname() == dict.fromkeys(all_nodes, None)
    assert c.client_setname("rcit-name") == dict.fromkeys(all_nodes, True)
    assert c.client_getname() == dict.fromkeys(all_nodes, "rcit-name")
    d = new_client(decode_responses=True, client_name="rcit-named")
    assert d.client_getname() == dict.fromkeys(all_nodes, "rcit-named")


def test_client_kill_and_filter(rc, cluster, raw, server):
    port = cluster.masters()[0]
    node = "%s:%d" % (cluster.host, port)
    victim = raw.conn(port)
    try:
        me = victim.call("CLIENT", "INFO").decode()
        fields = dict(p.split("=", 1) for p in me.split())
        out = rc.client_kill_filter(addr=fields["addr"], laddr=fields["laddr"], skipme=True)
        assert out[node] == 1
        assert sum(out.values()) == 1
        with pytest.raises((ConnectionError, OSError)):
            victim.call("PING")
    finally:
        victim.close()
    # The old form goes to every node: the nodes without that client answer
    # an error, which is raised (2.1.3 did the same); the client is gone.
    victim = raw.conn(port)
    try:
        addr = dict(p.split("=", 1) for p in victim.call("CLIENT", "INFO").decode().split())["addr"]
        with pytest.raises(ResponseError, match="No such client"):
            rc.client_kill(addr)
        with pytest.raises((ConnectionError, OSError)):
            victim.call("PING")
    finally:
        victim.close()
    assert all(n == 0 for n in rc.client_kill_filter(_type="pubsub", laddr="10.255.255.1:1").values())
    assert all(n == 0 for n in rc.client_kill_filter(_id=10 ** 9).values())
    if server.has("client-kill-maxage"):
        assert all(isinstance(n, int) for n in rc.client_kill_filter(_id=1, maxage=10 ** 6).values())
    else:
        with pytest.raises(ResponseError):  # MAXAGE is Redis 7.4, Valkey 8
            rc.client_kill_filter(_id=1, maxage=10 ** 6)
    with pytest.raises(DataError):
        rc.client_kill_filter()
    with pytest.raises(DataError):
        rc.client_kill_filter(_type="bogus")
    with pytest.raises(DataError):
        rc.client_kill_filter(_id=1, skipme="yes")


def test_client_pause_unpause(rc, all_nodes, flush):
    assert rc.client_pause(20) == dict.fromkeys(all_nodes, True)
    assert rc.client_pause(10000, all=False) == dict.fromkeys(all_nodes, True)
    try:
        assert rc.client_unpause() == dict.fromkeys(all_nodes, b"OK")
    finally:
        rc.client_unpause()
    t0 = time.monotonic()
    assert rc.set(key_for_slot(5, "pause"), "v") is True
    assert time.monotonic() - t0 < 2
    with pytest.raises(DataError):
        rc.client_pause("10")
    with pytest.raises(DataError):
        rc.client_pause(1.5)


@pytest.mark.needs("redis7-commands")
def test_client_no_evict_no_touch_trackinginfo(rc, rc_decoded, all_nodes):
    assert rc.client_no_evict("on") == dict.fromkeys(all_nodes, b"OK")
    assert rc_decoded.client_no_evict("off") == dict.fromkeys(all_nodes, "OK")
    if _version(rc) >= (7, 2):
        assert rc.client_no_touch("off") == dict.fromkeys(all_nodes, b"OK")
    else:
        with pytest.raises(ResponseError):
            rc.client_no_touch("off")
    info = rc.client_trackinginfo()
    assert set(info) == all_nodes
    assert all(v[0] == "flags" and "redirect" in v for v in info.values())


# ---------------------------------------------------------------- MEMORY, LATENCY


@pytest.mark.parametrize("decoded", [False, True])
def test_memory(rc, rc_decoded, cluster, all_nodes, decoded, flush):
    c = rc_decoded if decoded else rc
    c.set(key_for_slot(0, "mem"), "x" * 100)
    stats = c.memory_stats()
    assert set(stats) == all_nodes
    for s in stats.values():
        assert isinstance(s["peak.allocated"], int)
        assert isinstance(s["allocator.allocated"], int)
    owner = "%s:%d" % (cluster.host, cluster.owner(0))
    assert isinstance(stats[owner]["db.0"], dict)
    assert stats[owner]["db.0"]["overhead.hashtable.main"] >= 0
    doctor = c.memory_doctor()
    assert set(doctor) == all_nodes
    assert all(isinstance(v, str if decoded else bytes) for v in doctor.values())
    malloc = c.memory_malloc_stats()
    assert set(malloc) == all_nodes
    assert c.memory_purge() == dict.fromkeys(all_nodes, True)


@pytest.mark.needs("redis7-commands")
def test_latency(rc, rc_decoded, all_nodes):
    latest = rc.latency_latest()
    assert set(latest) == all_nodes and all(isinstance(v, list) for v in latest.values())
    assert all(isinstance(v, list) for v in rc.latency_history("command").values())
    reset = rc.latency_reset()
    assert set(reset) == all_nodes and all(isinstance(v, int) for v in reset.values())
    assert all(v == 0 for v in rc.latency_reset("rcit-no-event").values())
    doctor = rc_decoded.latency_doctor()
    assert set(doctor) == all_nodes and all(isinstance(v, str) for v in doctor.values())
    hist = rc.latency_histogram("set", "get")
    assert set(hist) == all_nodes and all(isinstance(v, list) for v in hist.values())


# ---------------------------------------------------------------- COMMAND, LOLWUT


@pytest.mark.needs("redis7-commands")
@pytest.mark.parametrize("decoded", [False, True])
def test_command_table(rc, rc_decoded, decoded):
    c = rc_decoded if decoded else rc
    count = c.command_count()
    assert isinstance(count, int) and count > 100
    info = c.command_info("get", "set", "rcit-nosuch")
    assert set(info) == {"get", "set"}
    assert info["get"]["arity"] == 2 and "readonly" in info["get"]["flags"]
    assert info["set"]["first_key_pos"] == 1
    table = c.command()
    assert len(table) == count and table["get"]["name"] == "get"
    names = c.command_list()
    assert len(names) >= count  # subcommands too
    assert sorted(c.command_list(pattern="xa*")) == sorted(
        [n for n in names if (n if decoded else n.decode()).startswith("xa")])
    assert c.command_list(category="hyperloglog")
    with pytest.raises(DataError):
        c.command_list(module="x", pattern="y")
    assert c.command_getkeys("SET", "a", "b") == ["a"]
    assert c.command_getkeys("MSET", "a", "1", "b", "2") == ["a", "b"]
    docs = c.command_docs("get")
    assert docs[0] == ("get" if decoded else b"get")


def test_lolwut(rc, rc_decoded, server):
    signature = "%s ver." % server.name.capitalize()  # "Redis ver.", "Valkey ver."
    assert signature.encode() in rc.lolwut()
    assert signature in rc_decoded.lolwut(5, 1, 1)


# ---------------------------------------------------------------- blocked, callbacks


@pytest.mark.parametrize("call, name", [
    (lambda c: c.shutdown(), "SHUTDOWN"),
    (lambda c: c.shutdown(nosave=True), "SHUTDOWN"),
    (lambda c: c.slaveof(), "SLAVEOF"),
    (lambda c: c.slaveof("127.0.0.1", 1), "SLAVEOF"),
    (lambda c: c.replicaof("NO", "ONE"), "REPLICAOF"),
    (lambda c: c.wait(1, 10), "WAIT"),
    (lambda c: c.acl_cat(), "ACL CAT"),
    (lambda c: c.acl_deluser("u"), "ACL DELUSER"),
    (lambda c: c.acl_genpass(), "ACL GENPASS"),
    (lambda c: c.acl_getuser("u"), "ACL GETUSER"),
    (lambda c: c.acl_list(), "ACL LIST"),
    (lambda c: c.acl_load(), "ACL LOAD"),
    (lambda c: c.acl_log(), "ACL LOG"),
    (lambda c: c.acl_save(), "ACL SAVE"),
    (lambda c: c.acl_setuser("u", enabled=True), "ACL SETUSER"),
    (lambda c: c.acl_users(), "ACL USERS"),
    (lambda c: c.acl_whoami(), "ACL WHOAMI"),
])
def test_blocked(rc, call, name):
    with pytest.raises(RedisClusterException,
                       match="Command: %s is blocked in redis cluster mode" % name):
        call(rc)


def test_shutdown_argument_check(rc):
    with pytest.raises(DataError):
        rc.shutdown(save=True, nosave=True)


def test_result_callbacks_take_options(new_client, all_nodes):
    c = new_client()
    c.set_result_callback("dbsize", lambda command, res, **kw: sum(res.values()))
    assert isinstance(c.dbsize(), int)
    seen = {}

    def merge(command, res, **kw):
        seen.update(kw)
        return sorted(res)

    c.set_result_callback("SLOWLOG GET", merge)
    assert c.slowlog_get(1) == sorted(all_nodes)
    assert seen == {"decode_responses": False}
    # every built-in merger accepts options
    for name, cb in RESULT_CALLBACKS.items():
        sample = {"n:1": [] if name not in ("PUBSUB NUMPAT", "SCRIPT FLUSH") else 0}
        if name in ("HSCAN", "SSCAN", "ZSCAN", "RANDOMKEY"):
            sample = {"n:1": None}
        cb(name, sample, aggregate=True, extra=1)
