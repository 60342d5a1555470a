"""ClusterPipeline on the real cluster: queuing, ordering across nodes, errors
(raise_on_error both ways), multi-key methods in one slot, MOVED / ASK /
TRYAGAIN inside one execute(), reads from replicas, a master killed between
write and read, and 100 000-command pipelines.

Server-side effects are checked with raw admin commands (``INFO commandstats``,
``INFO stats``) on the nodes, not through the client under test.
"""

import os
import signal
import threading
import time

import pytest

from rediscluster import ClusterPipeline, RedisCluster, StrictClusterPipeline
from rediscluster.exceptions import (
    ClusterError,
    ConnectionError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)

from rcit import key_for_slot, keys_for_slot, parse_info, wait_for

SLOT = 5432  # the slot the migration tests move (test_redirects uses 4321..4323)


def cmdstat(cluster, port, name):
    """{'calls': n, 'rejected_calls': n, 'failed_calls': n} of one command on a node."""
    info = parse_info(cluster.raw(port, "INFO", "commandstats"))
    stat = info.get("cmdstat_" + name.lower())
    out = {"calls": 0, "rejected_calls": 0, "failed_calls": 0}
    if stat:
        for field in stat.split(","):
            k, _, v = field.partition("=")
            if k in out:
                out[k] = int(v)
    return out


def calls(cluster, port, name):
    return cmdstat(cluster, port, name)["calls"]


def reads_processed(cluster, port):
    return int(parse_info(cluster.raw(port, "INFO", "stats"))["total_reads_processed"])


def slot_master(client, slot):
    return client.connection_pool.nodes.slots[slot][0]["port"]


# ---------------------------------------------------------------------------
# queuing


def test_pipeline_queues_and_chains(rc, cluster, flush):
    a, b = key_for_slot(10, "a"), key_for_slot(10000, "b")
    pipe = rc.pipeline()
    assert isinstance(pipe, ClusterPipeline)
    assert issubclass(StrictClusterPipeline, ClusterPipeline)
    assert isinstance(pipe, RedisCluster)  # every command method of the client
    assert len(pipe) == 0 and bool(pipe) is True  # 2.1.3: truthy even when empty
    assert pipe.execute() == []

    # each method queues and returns the pipeline itself
    assert pipe.set(a, "1") is pipe
    assert pipe.get(a).incr(b).incrby(b, 10).get(b) is pipe
    assert len(pipe) == 5 and bool(pipe) is True
    assert "5 commands" in repr(pipe)
    # nothing was sent yet
    assert cluster.raw(cluster.owner(10), "EXISTS", a) == 0
    assert cluster.raw(cluster.owner(10000), "EXISTS", b) == 0

    assert pipe.execute() == [True, b"1", 1, 11, b"11"]
    assert len(pipe) == 0
    # reusable after execute
    assert pipe.get(a).get(b).execute() == [b"1", b"11"]

    # reset() forgets queued commands; nothing is sent
    pipe.set(a, "never").incr(b)
    pipe.reset()
    assert len(pipe) == 0
    assert pipe.execute() == []
    assert rc.get(a) == b"1" and rc.get(b) == b"11"


def test_context_manager_resets(rc, flush):
    a = key_for_slot(20, "cm")
    with rc.pipeline() as pipe:
        pipe.set(a, "x").get(a)
        assert pipe.execute() == [True, b"x"]
        pipe.set(a, "queued-only")
    assert len(pipe) == 0  # __exit__ reset the stack
    assert rc.get(a) == b"x"
    with pytest.raises(KeyError):
        with rc.pipeline() as pipe:
            pipe.set(a, "y")
            raise KeyError("boom")
    assert len(pipe) == 0 and rc.get(a) == b"x"


def test_response_callbacks_and_decode(rc_decoded, flush):
    a, h, z = key_for_slot(30, "s"), key_for_slot(8000, "h"), key_for_slot(15000, "z")
    pipe = rc_decoded.pipeline()
    (pipe.set(a, "héllo").get(a).setnx(a, "x").strlen(a)
     .hset(h, "f", "v").hgetall(h).incrbyfloat(a + "f", 1.5)
     .zadd(z, {"m1": 1, "m2": 2}).zrange(z, 0, -1, withscores=True)
     .exists(a).delete(a).get(a))
    res = pipe.execute()
    assert res == [True, "héllo", False, 6, 1, {"f": "v"}, 1.5, 2,
                   [("m1", 1.0), ("m2", 2.0)], 1, 1, None]
    assert isinstance(res[6], float)


# ---------------------------------------------------------------------------
# order and errors


def test_order_across_nodes(rc, cluster, flush):
    n = 1200
    k = lambda i, what: key_for_slot((i * 53) % 16384, "%s%d" % (what, i))  # noqa: E731
    pre = rc.pipeline()
    for i in range(n):
        pre.set(k(i, "pre"), "pre%d" % i).set(k(i, "ctr"), i)
    assert pre.execute() == [True] * (2 * n)

    pipe, expect = rc.pipeline(), []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            pipe.set(k(i, "new"), "new%d" % i)
            expect.append(True)
        elif kind == 1:
            pipe.get(k(i, "pre"))
            expect.append(b"pre%d" % i)
        elif kind == 2:
            pipe.incrby(k(i, "ctr"), 5)
            expect.append(i + 5)
        elif kind == 3:
            pipe.rpush(k(i, "list"), "a", "b")
            expect.append(2)
        elif kind == 4:
            pipe.lrange(k(i - 1, "list"), 0, -1)  # the list pushed just before
            expect.append([b"a", b"b"])
        elif kind == 5:
            pipe.exists(k(i, "nope"))
            expect.append(0)
        elif kind == 6:
            pipe.incrbyfloat(k(i, "ctr"), 0.5)
            expect.append(i + 0.5)
        else:
            # the key set by the kind-0 command of this round, earlier in the
            # same pipeline: same slot, so it runs after it
            pipe.get(k(i - 7, "new"))
            expect.append(b"new%d" % (i - 7))
    res = pipe.execute()
    assert len(res) == n
    for i, (e, r) in enumerate(zip(expect, res)):
        assert r == e and type(r) is type(e), (i, r, e)
    # the commands touched at least all three masters
    masters = {cluster.owner((i * 53) % 16384) for i in range(n)}
    assert len(masters) == 3
    assert rc.lrange(k(3, "list"), 0, -1) == [b"a", b"b"]


def test_same_key_sequence_is_ordered(rc, flush):
    a = key_for_slot(333, "seq")
    pipe = rc.pipeline()
    for i in range(500):
        pipe.append(a, "%d," % i)
    pipe.get(a)
    res = pipe.execute()
    assert res[-1] == "".join("%d," % i for i in range(500)).encode()
    assert res[:-1] == sorted(res[:-1])  # APPEND returns the growing length


def test_raise_on_error_false_returns_errors_in_place(rc, flush):
    a, b = key_for_slot(1, "a"), key_for_slot(9000, "b")
    pipe = rc.pipeline()
    pipe.set(a, "1").set(b, "2").lpush(a, "x").get(a).hset(b, "f", "v").incr(b)
    res = pipe.execute(raise_on_error=False)
    assert res[:2] == [True, True]
    assert isinstance(res[2], ResponseError) and str(res[2]).startswith("WRONGTYPE")
    assert res[3] == b"1"
    assert isinstance(res[4], ResponseError) and "WRONGTYPE" in str(res[4])
    assert res[5] == 3
    # the error messages are the server's, not annotated
    assert "of pipeline caused error" not in str(res[2])
    assert len(pipe) == 0


def test_raise_on_error_raises_the_first_error(rc, flush):
    a, b = key_for_slot(2, "a"), key_for_slot(9001, "b")
    rc.set(a, "1")
    pipe = rc.pipeline()
    pipe.incr(b).lpush(a, 1).incr(b).hset(a, "f", "v").incr(b)
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    msg = str(ei.value)
    assert msg.startswith("Command # 2 (LPUSH %s 1) of pipeline caused error: WRONGTYPE" % a), msg
    assert ei.value.args[0] == msg
    # the other commands ran anyway, and the stack is reset
    assert rc.get(b) == b"3"
    assert len(pipe) == 0
    # default is raise_on_error=True; non-UTF-8 arguments are shown, not a crash
    raw_key = key_for_slot(2, "bin").encode() + b"\xff\xfe"
    rc.set(raw_key, "s")
    expected = r"^Command # 1 \(SADD .*:bin\ufffd\ufffd m\) of pipeline caused error: WRONGTYPE"
    with pytest.raises(ResponseError, match=expected):
        rc.pipeline().sadd(raw_key, "m").get(raw_key).execute()


def test_raise_on_error_keyless_command(rc, flush):
    a = key_for_slot(3, "a")
    pipe = rc.pipeline()
    pipe.set(a, "1").execute_command("GET").get(a)
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and res[2] == b"1"
    assert isinstance(res[1], RedisClusterException)
    pipe.execute_command("NOSUCHCOMMAND", a).get(a)
    with pytest.raises(ResponseError, match=r"^Command # 1 \(NOSUCHCOMMAND "):
        pipe.execute()


def test_multikey_methods_in_one_slot(rc, cluster, flush):
    a, b, c = keys_for_slot(77, 3)
    other = key_for_slot(78, "x")
    pipe = rc.pipeline()
    (pipe.mset({a: "1", b: "2"}).mget([a, b]).mget(a, b, c).exists(a, b, c)
     .sadd(c + "s1", "x", "y").sadd(c + "s1", "z")
     .rename(a, c).delete(b, c).exists(a, b, c))
    assert pipe.execute() == [True, [b"1", b"2"], [b"1", b"2", None], 2, 2, 1, True, 2, 0]
    # keys of several slots: refused at queue time, naming the slots; the
    # commands queued before stay queued
    pipe.set(a, "q")
    for call in (lambda: pipe.mget([a, other]), lambda: pipe.delete(a, other),
                 lambda: pipe.mset({a: 1, other: 2}), lambda: pipe.sunion(a, other),
                 lambda: pipe.rename(a, other), lambda: pipe.exists(a, other)):
        with pytest.raises(RedisClusterException, match="77, 78"):
            call()
    assert len(pipe) == 1
    assert pipe.execute() == [True]
    assert not cluster.raw(cluster.owner(78), "EXISTS", other)


def test_blocked_methods_raise(rc):
    pipe = rc.pipeline()
    for name in ("ping", "info", "keys", "flushall", "bitop", "sort", "scan", "publish",
                 "echo", "time", "dbsize", "randomkey", "config_get", "script_load"):
        with pytest.raises(RedisClusterException, match="Calling pipelined function %s is blocked" % name):
            getattr(pipe, name)("x")
    assert len(pipe) == 0


# ---------------------------------------------------------------------------
# big pipelines


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_100k_command_pipelines(rc, flush):
    n = 100000
    keys = [key_for_slot(i % 16384, "big%d" % i) for i in range(n)]
    pipe = rc.pipeline()
    for i, k in enumerate(keys):
        pipe.set(k, "v%d" % i)
    assert len(pipe) == n
    res = pipe.execute()
    assert len(res) == n and res.count(True) == n

    for k in keys:
        pipe.get(k)
    res = pipe.execute()
    bad = [i for i, r in enumerate(res) if r != b"v%d" % i]
    assert not bad, [(i, res[i]) for i in bad[:5]]

    # mixed, with errors in place, still in order
    for i, k in enumerate(keys):
        if i % 3 == 0:
            pipe.append(k, "+")
        elif i % 3 == 1:
            pipe.lpush(k, "x")
        else:
            pipe.strlen(k)
    res = pipe.execute(raise_on_error=False)
    for i, r in enumerate(res):
        if i % 3 == 0:
            assert r == len("v%d+" % i), (i, r)
        elif i % 3 == 1:
            assert isinstance(r, ResponseError), (i, r)
        else:
            assert r == len("v%d" % i), (i, r)

    for k in keys:
        pipe.delete(k)
    assert pipe.execute() == [1] * n


# ---------------------------------------------------------------------------
# redirections inside one execute()


def test_moved_in_a_pipeline(new_client, cluster, migration):
    c = new_client()
    m = migration(SLOT)
    keys = keys_for_slot(SLOT, 40)
    others = [key_for_slot(s, "o") for s in (0, 6000, 12000, SLOT + 5)]
    pipe = c.pipeline()
    for k in keys + others:
        pipe.set(k, "v:" + k)
    assert pipe.execute() == [True] * 44
    assert slot_master(c, SLOT) == m.src
    m.begin()
    m.move_rest()
    m.finish()
    # c's map is stale: the slot's commands go to src, which answers MOVED
    assert slot_master(c, SLOT) == m.src
    moved0 = c.connection_pool._stats()["moved"]
    src_get, dst_get = cmdstat(cluster, m.src, "get"), cmdstat(cluster, m.dst, "get")
    dst_set = calls(cluster, m.dst, "set")
    dst_reads = reads_processed(cluster, m.dst)

    for k in keys:
        pipe.get(k)
    for k in others:
        pipe.get(k)
    for k in keys[:10]:
        pipe.set(k, "w:" + k)
    for k in keys[:10]:
        pipe.get(k)
    res = pipe.execute()
    assert res[:44] == [("v:" + k).encode() for k in keys + others]
    assert res[44:54] == [True] * 10
    assert res[54:] == [("w:" + k).encode() for k in keys[:10]]

    # the slot was patched; every command of it was redirected once and
    # re-sent to the new owner, in batched rounds (not one round trip each)
    assert slot_master(c, SLOT) == m.dst
    assert c.connection_pool._stats()["moved"] > moved0
    assert cmdstat(cluster, m.src, "get")["rejected_calls"] - src_get["rejected_calls"] >= 1
    others_on_dst = sum(cluster.owner(c.keyslot(k)) == m.dst for k in others)
    assert cmdstat(cluster, m.dst, "get")["calls"] - dst_get["calls"] == 50 + others_on_dst
    assert calls(cluster, m.dst, "set") - dst_set == 10
    assert reads_processed(cluster, m.dst) - dst_reads < 20
    for k in keys[:10]:
        assert cluster.raw(m.dst, "GET", k) == ("w:" + k).encode()

    # the next pipeline goes straight to the new owner
    src_rej = cmdstat(cluster, m.src, "get")["rejected_calls"]
    for k in keys:
        pipe.get(k)
    assert pipe.execute()[10:] == [("v:" + k).encode() for k in keys[10:]]
    assert cmdstat(cluster, m.src, "get")["rejected_calls"] == src_rej


def test_ask_in_a_pipeline(new_client, cluster, migration):
    c = new_client()
    m = migration(SLOT + 1)
    slot = SLOT + 1
    keys = keys_for_slot(slot, 300)
    pipe = c.pipeline()
    for k in keys:
        pipe.set(k, k)
    assert pipe.execute() == [True] * len(keys)
    m.begin()
    moved, staying = keys[:200], keys[200:]
    m.move(moved)
    new = keys_for_slot(slot, 20, stem="new")
    asks0 = calls(cluster, m.dst, "asking")
    dst_reads = reads_processed(cluster, m.dst)
    epoch0 = c.connection_pool._stats()["epoch"]

    for k in keys:
        pipe.get(k)
    for k in new:  # exist nowhere yet: the importing node takes them (ASK)
        pipe.set(k, "n:" + k)
    pipe.set(moved[0], "upd").set(staying[0], "upd")
    for k in new:
        pipe.get(k)
    res = pipe.execute()
    assert res[:300] == [k.encode() for k in keys]
    assert res[300:322] == [True] * 22
    # GET of the new keys: the same slot as the SETs before them, so after them
    assert res[322:] == [("n:" + k).encode() for k in new]

    # ASK does not touch the map; the redirected commands went with ASKING,
    # in batched rounds
    assert slot_master(c, slot) == m.src
    assert c.connection_pool._stats()["epoch"] == epoch0
    assert calls(cluster, m.dst, "asking") - asks0 >= len(moved) + 2 * len(new) + 1
    assert reads_processed(cluster, m.dst) - dst_reads < 60
    for k in new:
        assert cluster.pipe(m.dst, [("ASKING",), ("GET", k)])[1] == ("n:" + k).encode()
    assert cluster.pipe(m.dst, [("ASKING",), ("GET", moved[0])])[1] == b"upd"
    assert cluster.raw(m.src, "GET", staying[0]) == b"upd"

    # finished migration: MOVED for all of them in one pipeline
    m.move_rest()
    m.finish()
    for k in keys:
        pipe.get(k)
    expect = [k.encode() for k in keys]
    expect[0] = expect[200] = b"upd"
    assert pipe.execute() == expect
    assert slot_master(c, slot) == m.dst


def test_tryagain_in_a_pipeline(new_client, cluster, migration):
    c = new_client()
    slot = SLOT + 2
    m = migration(slot)
    a, b = keys_for_slot(slot, 2)
    x = key_for_slot(slot + 100, "x")
    c.pipeline().set(a, "A").set(b, "B").set(x, "X").execute()
    m.begin()
    m.move([a])
    # MGET over a moved and a not-moved key of one slot: TRYAGAIN, retried
    # with back-off, in place; the rest of the pipeline is fine
    t0 = time.monotonic()
    res = c.pipeline().get(x).mget([a, b]).get(a).get(b).execute(raise_on_error=False)
    assert time.monotonic() - t0 < 10
    assert res[0] == b"X"
    assert isinstance(res[1], (ClusterError, ResponseError)), res[1]
    assert res[2:] == [b"A", b"B"]
    with pytest.raises((ClusterError, ResponseError), match=r"^Command # 2 \(MGET "):
        c.pipeline().get(x).mget([a, b]).execute()

    # the migration goes on while the pipeline backs off: the retry succeeds
    out = {}

    def run():
        try:
            out["r"] = c.pipeline().mget([a, b]).get(x).execute(raise_on_error=False)
        except Exception as e:  # noqa: BLE001
            out["r"] = e

    th = threading.Thread(target=run)
    th.start()
    m.move_rest()
    th.join(10)
    assert out["r"] == [[b"A", b"B"], b"X"]


def test_slot_migrates_while_pipelines_run(new_client, cluster, migration):
    # a thread migrates the slot key by key and finishes it while pipelines
    # over its keys (and other slots) run: every result is right
    c = new_client()
    slot = SLOT + 3
    m = migration(slot)
    keys = keys_for_slot(slot, 60)
    others = [key_for_slot(s, "o") for s in range(0, 16384, 1024)]
    pipe = c.pipeline()
    for k in keys + others:
        pipe.set(k, k)
    pipe.execute()
    done = threading.Event()
    failure = []

    def migrate():
        try:
            m.begin()
            for i in range(0, len(keys), 5):
                m.move(keys[i:i + 5])
                time.sleep(0.01)
            m.move_rest()  # the counter below lives in this slot too
            m.finish()
        except Exception as e:  # noqa: BLE001
            failure.append(e)
        finally:
            done.set()

    th = threading.Thread(target=migrate)
    th.start()
    rounds = 0
    try:
        while not done.is_set() or rounds < 3:
            for k in keys + others:
                pipe.get(k)
            ctr = key_for_slot(slot, "ctr")
            pipe.incr(ctr)
            res = pipe.execute()
            rounds += 1
            assert res[:-1] == [k.encode() for k in keys + others], rounds
            assert res[-1] == rounds
    finally:
        th.join(30)
    assert not failure, failure
    assert rounds >= 3
    assert cluster.raw(m.dst, "GET", key_for_slot(slot, "ctr")) == str(rounds).encode()


# ---------------------------------------------------------------------------
# reads from replicas


def test_read_from_replicas_pipeline(new_client, cluster, flush):
    c = new_client()
    keys = [key_for_slot(s, "rep") for s in range(0, 16384, 61)]
    pipe = c.pipeline()
    for k in keys:
        pipe.set(k, "r:" + k)
    assert pipe.execute() == [True] * len(keys)
    for master in cluster.masters():
        cluster.wait_replica_synced(master)
    replicas = [p for p in cluster.ports if p not in cluster.masters()]
    assert len(replicas) == 3
    before = {p: cmdstat(cluster, p, "get") for p in cluster.ports}
    ro_before = {p: calls(cluster, p, "readonly") for p in replicas}
    set_before = {p: cmdstat(cluster, p, "set") for p in replicas}

    rpipe = c.pipeline(read_from_replicas=True)
    for k in keys:
        rpipe.get(k)
    rpipe.set(keys[0], "written")  # a write still goes to the master
    res = rpipe.execute()
    assert res[:-1] == [("r:" + k).encode() for k in keys]
    assert res[-1] is True
    after = {p: cmdstat(cluster, p, "get") for p in cluster.ports}
    got = {p: after[p]["calls"] - before[p]["calls"] for p in cluster.ports}
    assert sum(got.values()) == len(keys)
    for p in replicas:
        assert got[p] > 0, got  # each replica served some of the reads ...
        # ... on a connection that had sent READONLY: no MOVED from a replica
        assert after[p]["rejected_calls"] == before[p]["rejected_calls"]
        assert calls(cluster, p, "readonly") - ro_before[p] >= 1
        assert cmdstat(cluster, p, "set")["rejected_calls"] == set_before[p]["rejected_calls"]
    assert cluster.raw(cluster.owner(c.keyslot(keys[0])), "GET", keys[0]) == b"written"

    # the next pipeline reuses those connections: no new READONLY
    ro_mid = {p: calls(cluster, p, "readonly") for p in replicas}
    for k in keys[1:]:
        rpipe.get(k)
    assert rpipe.execute() == [("r:" + k).encode() for k in keys[1:]]
    assert {p: calls(cluster, p, "readonly") for p in replicas} == ro_mid

    # a plain pipeline reads from masters only
    before = {p: calls(cluster, p, "get") for p in replicas}
    plain = c.pipeline()
    for k in keys:
        plain.get(k)
    plain.execute()
    assert {p: calls(cluster, p, "get") for p in replicas} == before


# ---------------------------------------------------------------------------
# a master dies between write and read


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_master_killed_between_write_and_read(new_client, cluster, cluster_addr, flush,
                                              healthy_after):
    c = new_client(socket_timeout=2.0, socket_connect_timeout=1.0)
    masters = cluster.masters()
    victim = [p for p in masters if p != cluster_addr[1]][-1]
    replica = cluster.replica_of(victim)
    survivors = [p for p in masters if p != victim]
    vslots = cluster.slots_of(victim)
    counters = [key_for_slot(s, "ctr") for s in vslots[:: len(vslots) // 8][:8]]
    fixed = key_for_slot(vslots[7], "fixed")
    safe = [key_for_slot(cluster.slots_of(p)[i * 97], "safe") for p in survivors for i in range(4)]
    setup = c.pipeline()
    for k in counters:
        setup.set(k, 0)
    setup.set(fixed, "F")
    for k in safe:
        setup.set(k, 0)
    setup.execute()
    cluster.wait_replica_synced(victim)
    pid = int(parse_info(cluster.raw(victim, "INFO", "server"))["process_id"])

    n = 300000
    pipe = c.pipeline()
    kinds = []  # (kind, key) per command
    for i in range(n):
        k = counters[i % len(counters)]
        pipe.incr(k)
        kinds.append(("incr", k))
        if i % 10 == 0:
            pipe.get(fixed)
            kinds.append(("fixed", fixed))
        if i % 100 == 0:
            s = safe[(i // 100) % len(safe)]
            pipe.incr(s)
            kinds.append(("safe", s))

    killed = {}

    def killer():
        # wait until the victim is working through the pipeline, then SIGKILL
        # it (what `cluster.py kill-node` does, without its start-up delay)
        with cluster.conn(victim, timeout=10.0) as conn:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if int(conn.call("GET", counters[0]) or 0) >= 200:
                    break
                time.sleep(0.001)
        killed["at"] = int(cluster.raw(victim, "GET", counters[0], timeout=1.0) or 0)
        os.kill(pid, signal.SIGKILL)
        killed["t"] = time.monotonic()

    th = threading.Thread(target=killer)
    th.start()
    try:
        res = pipe.execute(raise_on_error=False)
    finally:
        th.join(60)
    assert "t" in killed, "the node was never killed"
    assert len(res) == len(kinds)

    allowed = (ConnectionError, TimeoutError, ClusterError)
    successes = {k: [] for k in counters}
    maybe_applied = {k: 0 for k in counters}
    safe_count = {k: 0 for k in safe}
    for i, ((kind, k), r) in enumerate(zip(kinds, res)):
        if kind == "safe":
            # the other masters were never in trouble
            safe_count[k] += 1
            assert r == safe_count[k], (i, k, r)
        elif isinstance(r, Exception):
            assert isinstance(r, allowed), (i, kind, r)
            if kind == "incr" and isinstance(r, (ConnectionError, TimeoutError)):
                maybe_applied[k] += 1
        elif kind == "fixed":
            assert r == b"F", (i, r)
        else:
            assert isinstance(r, int), (i, r)
            successes[k].append(r)
    errors = sum(isinstance(r, Exception) for r in res)
    assert errors > 0, "the kill landed after the pipeline had finished"

    # after the failover, each counter holds what was applied: at least every
    # acknowledged INCR, at most those plus the ones whose reply was lost
    # (written, unanswered: a ConnectionError in place, never re-sent)
    wait_for(lambda: cluster.role(replica) == "master", 30, message="replica promoted")
    wait_for(lambda: all(c.get(k) is not None for k in counters), 30, message="counters readable")
    for k in counters:
        seen = successes[k]
        assert seen == sorted(set(seen)), "INCR results of %s not strictly increasing" % k
        final = int(cluster.raw(replica, "GET", k))
        assert len(seen) <= final <= len(seen) + maybe_applied[k], (
            k, final, len(seen), maybe_applied[k])
        if seen:
            assert seen[-1] <= final


# ---------------------------------------------------------------- command objects


def test_command_stack_holds_command_objects(rc):
    """2.1.3's PipelineCommand shape: .args/.options/.position before, .result after."""
    a, b = key_for_slot(10, ":cmdobj"), key_for_slot(11000, ":cmdobj")
    pipe = rc.pipeline()
    pipe.set(a, "1").zrange(b, 0, -1, withscores=True).lpush(a, "x")
    stack = list(pipe.command_stack)
    assert [c.args for c in stack] == [("SET", a, "1"), ("ZRANGE", b, 0, -1, b"WITHSCORES"),
                                       ("LPUSH", a, "x")]
    assert [c.position for c in stack] == [0, 1, 2]
    assert stack[1].options.get("withscores") is True
    res = pipe.execute(raise_on_error=False)
    assert res[:2] == [True, []] and isinstance(res[2], ResponseError)
    assert [c.result for c in stack] == res
    with pytest.raises(ResponseError, match=r"^Command # 3 \(LPUSH .* x\) of pipeline"):
        pipe.raise_first_error(stack)
    rc.delete(a)


def test_send_cluster_commands_takes_command_objects(rc):
    from rediscluster.pipeline import PipelineCommand

    k = key_for_slot(77, ":scc")
    pipe = rc.pipeline()
    cmds = [PipelineCommand(("SET", k, "v"), {}, 0), PipelineCommand(("GET", k), None, 1)]
    assert pipe.send_cluster_commands(cmds) == [True, b"v"]
    assert cmds[1].result == b"v"
    rc.delete(k)


def test_stack_cleared_by_another_thread_during_execute(rc):
    """The batch works on a snapshot of the stack: another thread emptying the
    list while the engine runs with the GIL released must not crash (it read
    the caller's list with a cached length)."""
    keys = [key_for_slot(s, ":snap") for s in (1, 6000, 12000)]
    stop = threading.Event()
    holder = {}

    def clearer():
        while not stop.is_set():
            stack = holder.get("stack")
            if stack is not None:
                del stack[:]

    t = threading.Thread(target=clearer)
    t.start()
    try:
        for _ in range(20):
            pipe = rc.pipeline()
            for i in range(3000):
                pipe.set(keys[i % 3], i)
            holder["stack"] = pipe.command_stack
            res = pipe.send_cluster_commands(pipe.command_stack)
            assert all(r is True for r in res)  # whatever length the snapshot had
            holder.pop("stack", None)
    finally:
        stop.set()
        t.join()
    rc.delete(*keys)


def test_scripts_and_evalsha_in_a_pipeline(rc):
    """Issue 10: Script objects and EVALSHA run in pipelines (keys in one
    slot); a script not loaded yet is loaded before the pipeline runs."""
    a, b = key_for_slot(901, ":scr1"), key_for_slot(901, ":scr2")
    script = rc.register_script("return {KEYS[1], ARGV[1]}")
    rc.script_flush()
    pipe = rc.pipeline()
    assert script(keys=[a], args=["x"], client=pipe) is pipe
    pipe.set(b, "1")
    pipe.evalsha(rc.script_load("return KEYS[1]"), 1, b)
    assert pipe.execute() == [[a.encode(), b"x"], True, b.encode()]
    assert pipe.scripts == set()
    rc.delete(b)
