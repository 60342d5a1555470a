"""Transactions in one slot: pipeline(transaction=True), multi(), watch() /
unwatch() as in redis-py, WatchError on a conflict, RedisCluster.transaction(),
MOVED / ASK before EXEC (the whole transaction is retried on the new owner),
and cross-slot transactions refused before anything is sent.

Server-side effects are checked with raw ``INFO commandstats`` on the nodes.
"""

import gc
import threading

import pytest

from rediscluster.exceptions import (
    ClusterError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
    WatchError,
)

from rcit import key_for_slot, keys_for_slot, parse_info

SLOT = 6543
OTHER_SLOT = 12345
MIG_SLOT = 5555  # moved by the migration tests (test_pipeline uses 5432..5435)


def calls(cluster, port, name):
    info = parse_info(cluster.raw(port, "INFO", "commandstats"))
    stat = info.get("cmdstat_" + name.lower())
    if not stat:
        return 0
    # Times the command reached the node: run (calls) or refused before it
    # ran (rejected_calls: Valkey 9 refuses EXEC itself with ASK/MOVED where
    # Redis runs it and answers EXECABORT).
    fields = dict(f.split("=", 1) for f in stat.split(","))
    return int(fields["calls"]) + int(fields.get("rejected_calls", 0))


def counts(cluster, name):
    """{port: calls of ``name``} on every master."""
    return {p: calls(cluster, p, name) for p in cluster.masters()}


def delta(before, after):
    return {p: after[p] - before[p] for p in before if after[p] != before[p]}


def slot_master(client, slot):
    return client.connection_pool.nodes.slots[slot][0]["port"]


# ---------------------------------------------------------------------------
# MULTI / EXEC


def test_transaction_pipeline(rc, cluster, flush):
    a, b, h = keys_for_slot(SLOT, 3)
    owner = cluster.owner(SLOT)
    multi0, exec0 = counts(cluster, "multi"), counts(cluster, "exec")
    with rc.pipeline(transaction=True) as pipe:
        assert pipe.set(a, "1") is pipe
        pipe.incr(a).get(a).rpush(b, "x", "y").lrange(b, 0, -1).hset(h, "f", "v").hgetall(h)
        assert len(pipe) == 7
        # queued only: nothing sent yet
        assert delta(multi0, counts(cluster, "multi")) == {}
        assert pipe.execute() == [True, 2, b"2", 2, [b"x", b"y"], 1, {b"f": b"v"}]
        assert len(pipe) == 0
    # one MULTI/EXEC, on the slot's master
    assert delta(multi0, counts(cluster, "multi")) == {owner: 1}
    assert delta(exec0, counts(cluster, "exec")) == {owner: 1}
    assert cluster.raw(owner, "GET", a) == b"2"
    # the pipeline stays a transaction pipeline
    pipe.set(a, "3").get(a)
    assert pipe.execute() == [True, b"3"]
    assert delta(exec0, counts(cluster, "exec")) == {owner: 2}


def test_transaction_decoded(rc_decoded, flush):
    a, z = keys_for_slot(SLOT, 2)
    pipe = rc_decoded.pipeline(transaction=True)
    pipe.set(a, "é").get(a).zadd(z, {"m": 1.5}).zrange(z, 0, -1, withscores=True)
    assert pipe.execute() == [True, "é", 1, [("m", 1.5)]]


def test_explicit_multi_on_a_plain_pipeline(rc, cluster, flush):
    a, b = keys_for_slot(SLOT, 2)
    owner = cluster.owner(SLOT)
    exec0 = counts(cluster, "exec")
    pipe = rc.pipeline()
    pipe.multi()
    pipe.set(a, "5").incrby(a, 2).set(b, "x")
    assert pipe.execute() == [True, 7, True]
    assert delta(exec0, counts(cluster, "exec")) == {owner: 1}
    # after execute the pipeline is a plain one again
    pipe.set(a, "1").set(key_for_slot(OTHER_SLOT, "x"), "2")
    assert pipe.execute() == [True, True]
    assert delta(exec0, counts(cluster, "exec")) == {owner: 1}


def test_multi_misuse(rc, flush):
    a = key_for_slot(SLOT, "a")
    pipe = rc.pipeline(transaction=True)
    pipe.multi()
    with pytest.raises(RedisClusterException, match="nested"):
        pipe.multi()
    with pytest.raises(RedisClusterException, match="WATCH after a MULTI"):
        pipe.watch(a)
    pipe.reset()
    pipe.set(a, "1")
    with pytest.raises(RedisClusterException, match="already been issued"):
        pipe.multi()
    pipe.reset()
    # a transaction without any key has no node to run on
    pipe.execute_command("DBSIZE")
    with pytest.raises(RedisClusterException, match="at least one key"):
        pipe.execute()
    assert len(pipe) == 0


def test_runtime_error_inside_exec(rc, flush):
    a, b = keys_for_slot(SLOT, 2)
    rc.set(a, "1")
    pipe = rc.pipeline(transaction=True)
    pipe.incr(a).lpush(a, "x").set(b, "B").get(a)
    res = pipe.execute(raise_on_error=False)
    assert res[0] == 2 and res[2:] == [True, b"2"]
    assert isinstance(res[1], ResponseError) and str(res[1]).startswith("WRONGTYPE")
    # with raise_on_error the first error is raised (the others were applied:
    # Redis has no rollback)
    pipe.incr(a).lpush(a, "x").incr(a)
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value).startswith(
        "Command # 2 (LPUSH %s x) of pipeline caused error: WRONGTYPE" % a), str(ei.value)
    assert rc.get(a) == b"4"


def test_queuing_error_aborts_the_transaction(rc, flush):
    a, b = keys_for_slot(SLOT, 2)
    rc.set(a, "1")
    pipe = rc.pipeline(transaction=True)
    pipe.incr(a).execute_command("SET", b).incr(a)
    try:
        res = pipe.execute(raise_on_error=False)
    except ResponseError as e:  # redis-py raises the queuing error even then
        assert str(e).startswith("Command # 2 (SET %s) of pipeline caused error: " % b)
    else:
        assert isinstance(res[1], ResponseError) and "wrong number of arguments" in str(res[1])
        assert all(isinstance(r, ResponseError) for r in res)
    # nothing of the aborted transaction was applied
    assert rc.get(a) == b"1"
    assert rc.exists(b) == 0
    assert len(pipe) == 0


def test_queuing_error_raised_as_in_redis_py(rc, flush):
    a, b = keys_for_slot(SLOT, 2)
    pipe = rc.pipeline(transaction=True)
    pipe.incr(a).execute_command("SET", b).incr(a)
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value).startswith(
        "Command # 2 (SET %s) of pipeline caused error: wrong number of arguments" % b), \
        str(ei.value)


# ---------------------------------------------------------------------------
# WATCH


def test_watch_multi_execute(rc, cluster, flush):
    a, b = keys_for_slot(SLOT, 2)
    owner = cluster.owner(SLOT)
    rc.set(a, "10")
    watch0 = counts(cluster, "watch")
    with rc.pipeline() as pipe:
        assert pipe.watch(a, b) is True
        assert pipe.watching
        # while watching, commands run at once (on the held connection)
        assert pipe.get(a) == b"10"
        assert pipe.exists(b) == 0
        pipe.multi()
        assert pipe.set(a, "11") is pipe
        pipe.set(b, "new").get(a)
        assert len(pipe) == 3
        assert pipe.execute() == [True, True, b"11"]
        assert not pipe.watching
    assert delta(watch0, counts(cluster, "watch")) == {owner: 1}
    assert rc.get(a) == b"11" and rc.get(b) == b"new"


def test_watch_conflict_raises_watcherror(rc, new_client, cluster, flush):
    a, b = keys_for_slot(SLOT, 2)
    other = new_client()
    rc.set(a, "1")
    exec0 = counts(cluster, "exec")
    pipe = rc.pipeline(transaction=True)
    pipe.watch(a)
    v = int(pipe.get(a))
    other.set(a, "changed")  # a second client modifies the watched key
    pipe.multi()
    pipe.set(a, v + 1).set(b, "side effect")
    with pytest.raises(WatchError):
        pipe.execute()
    # EXEC ran and was refused: nothing applied
    assert delta(exec0, counts(cluster, "exec")) == {cluster.owner(SLOT): 1}
    assert rc.get(a) == b"changed" and rc.exists(b) == 0
    # the pipeline is reset and usable
    assert len(pipe) == 0 and not pipe.watching
    pipe.set(a, "ok")
    assert pipe.execute() == [True]


def test_watch_conflict_on_another_watched_key(rc, new_client, flush):
    a, b = keys_for_slot(SLOT, 2)
    other = new_client()
    pipe = rc.pipeline(transaction=True)
    pipe.watch(a, b)
    other.rpush(b, "x")
    pipe.multi()
    pipe.set(a, "mine")
    with pytest.raises(WatchError):
        pipe.execute()
    assert rc.exists(a) == 0


def test_no_conflict_when_unwatched_or_unrelated(rc, new_client, flush):
    a, b = keys_for_slot(SLOT, 2)
    other = new_client()
    pipe = rc.pipeline(transaction=True)
    pipe.watch(a)
    other.set(b, "unrelated key")  # same slot, not watched
    pipe.multi()
    pipe.set(a, "1")
    assert pipe.execute() == [True]

    pipe.watch(a)
    other.set(a, "changed")
    assert pipe.unwatch() is True
    pipe.multi()
    pipe.set(a, "2")
    assert pipe.execute() == [True]
    assert rc.get(a) == b"2"


def test_reset_releases_the_watch(rc, new_client, cluster, flush):
    a = key_for_slot(SLOT, "a")
    owner = cluster.owner(SLOT)
    unwatch0 = calls(cluster, owner, "unwatch")
    with rc.pipeline() as pipe:
        pipe.watch(a)
    assert not pipe.watching
    assert calls(cluster, owner, "unwatch") - unwatch0 == 1
    # a new watch on the same pipeline is not disturbed by the old one
    pipe.watch(a)
    new_client().set(key_for_slot(SLOT, "b"), "x")
    pipe.multi()
    pipe.set(a, "1")
    assert pipe.execute() == [True]


def test_watch_connection_back_to_the_pool_after_reset(rc, cluster, flush):
    a = key_for_slot(SLOT, "a")
    node = "127.0.0.1:%d" % cluster.owner(SLOT)
    for _ in range(20):
        pipe = rc.pipeline(transaction=True)
        pipe.watch(a)
        assert pipe.get(a) is None
        pipe.reset()
    total, idle = rc.connection_pool._stats()["nodes"][node]
    assert total == idle  # nothing checked out
    assert total <= 3  # the same connection was reused


def test_dropped_watching_pipeline_releases_its_connection(rc, cluster, flush):
    a = key_for_slot(SLOT, "a")
    node = "127.0.0.1:%d" % cluster.owner(SLOT)
    rc.get(a)
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            pipe = rc.pipeline(transaction=True)
            pipe.watch(a)
            del pipe
        total, idle = rc.connection_pool._stats()["nodes"][node]
    finally:
        gc.enable()
        gc.collect()
    assert total == idle, (total, idle)


def test_execute_with_only_a_watch(rc, new_client, flush):
    a = key_for_slot(SLOT, "a")
    pipe = rc.pipeline(transaction=True)
    pipe.watch(a)
    assert pipe.execute() == []
    pipe.watch(a)
    new_client().set(a, "x")
    with pytest.raises(WatchError):
        pipe.execute()


# ---------------------------------------------------------------------------
# RedisCluster.transaction()


def test_transaction_helper(rc, new_client, flush):
    a, b = keys_for_slot(SLOT, 2)
    other = new_client()
    rc.set(a, "5")
    attempts = []

    def move_five(pipe):
        attempts.append(1)
        v = int(pipe.get(a))
        if len(attempts) == 1:
            other.incr(a)  # a conflict on the first attempt only
        pipe.multi()
        pipe.set(a, v - 5).incrby(b, 5)
        return "moved %d" % v

    assert rc.transaction(move_five, a) == [True, 5]
    assert len(attempts) == 2
    assert rc.get(a) == b"1" and rc.get(b) == b"5"
    attempts.clear()
    # value_from_callable: func's value of the attempt that succeeded
    assert rc.transaction(move_five, a, b, value_from_callable=True, watch_delay=0.01) == "moved 2"
    assert len(attempts) == 2
    assert rc.get(a) == b"-3" and rc.get(b) == b"10"

    # no watches: func queues, execute runs it as one MULTI/EXEC
    assert rc.transaction(lambda p: p.set(a, "x").get(a)) == [True, b"x"]
    with pytest.raises(TypeError):
        rc.transaction(move_five, a, bogus=1)


def test_concurrent_transactions_increment_exactly(rc, flush):
    ctr = key_for_slot(SLOT, "ctr")
    rc.set(ctr, 0)
    threads, per_thread, errors = 4, 40, []

    def incr(pipe):
        v = int(pipe.get(ctr))
        pipe.multi()
        pipe.set(ctr, v + 1)

    def worker():
        try:
            for _ in range(per_thread):
                rc.transaction(incr, ctr)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ths = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    assert not errors, errors[:3]
    assert rc.get(ctr) == str(threads * per_thread).encode()


# ---------------------------------------------------------------------------
# cross-slot transactions: refused before anything is sent


def test_cross_slot_transaction_rejected(rc, cluster, flush):
    a, x = key_for_slot(SLOT, "a"), key_for_slot(OTHER_SLOT, "x")
    before = {name: counts(cluster, name) for name in ("multi", "exec", "set", "watch")}

    pipe = rc.pipeline(transaction=True)
    pipe.set(a, "1").set(x, "2")
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        pipe.execute()
    assert len(pipe) == 0

    pipe = rc.pipeline()
    pipe.multi()
    pipe.set(a, "1").get(x)
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        pipe.execute()

    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        rc.pipeline(transaction=True).watch(a, x)
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        rc.transaction(lambda p: None, a, x)
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        rc.transaction(lambda p: p.set(a, 1).set(x, 2))

    for name, b in before.items():
        assert delta(b, counts(cluster, name)) == {}, name
    assert rc.exists(a) == 0 and rc.exists(x) == 0


def test_cross_slot_after_watch_rejected(rc, cluster, flush):
    a, x = key_for_slot(SLOT, "a"), key_for_slot(OTHER_SLOT, "x")
    pipe = rc.pipeline(transaction=True)
    pipe.watch(a)
    # an immediate command on another slot while watching
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        pipe.get(x)
    multi0 = counts(cluster, "multi")
    pipe.multi()
    pipe.set(x, "1")
    with pytest.raises(RedisClusterException, match=r"%d, %d" % (SLOT, OTHER_SLOT)):
        pipe.execute()
    assert delta(multi0, counts(cluster, "multi")) == {}
    assert not pipe.watching and len(pipe) == 0
    assert rc.exists(x) == 0


# ---------------------------------------------------------------------------
# MOVED / ASK before EXEC


def test_transaction_after_moved(new_client, cluster, migration):
    c = new_client()
    m = migration(MIG_SLOT)
    a, b = keys_for_slot(MIG_SLOT, 2)
    assert c.pipeline(transaction=True).set(a, "1").set(b, "2").execute() == [True, True]
    m.begin()
    m.move_rest()
    m.finish()
    assert slot_master(c, MIG_SLOT) == m.src  # stale
    multi0, exec0 = counts(cluster, "multi"), counts(cluster, "exec")
    pipe = c.pipeline(transaction=True)
    pipe.incr(a).get(b).set(b, "3")
    assert pipe.execute() == [2, b"2", True]
    # refused by the old owner (EXECABORT after MOVED), run whole on the new one
    assert slot_master(c, MIG_SLOT) == m.dst
    assert delta(exec0, counts(cluster, "exec")) == {m.src: 1, m.dst: 1}
    assert delta(multi0, counts(cluster, "multi")) == {m.src: 1, m.dst: 1}
    assert cluster.raw(m.dst, "GET", a) == b"2" and cluster.raw(m.dst, "GET", b) == b"3"
    # now straight to the new owner
    assert pipe.incr(a).execute() == [3]
    assert delta(exec0, counts(cluster, "exec")) == {m.src: 1, m.dst: 2}


def test_transaction_after_ask(new_client, cluster, migration):
    c = new_client()
    slot = MIG_SLOT + 1
    m = migration(slot)
    a, b, c_key, fresh = keys_for_slot(slot, 4)
    c.set(a, "1")
    c.set(b, "2")
    c.set(c_key, "3")
    m.begin()
    m.move([a, b])
    asking0 = calls(cluster, m.dst, "asking")
    exec0 = counts(cluster, "exec")
    pipe = c.pipeline(transaction=True)
    pipe.incr(a).get(b).set(b, "B")
    assert pipe.execute() == [2, b"2", True]
    # run on the importing node with ASKING; the map is unchanged
    assert calls(cluster, m.dst, "asking") - asking0 == 1
    assert delta(exec0, counts(cluster, "exec")) == {m.src: 1, m.dst: 1}
    assert slot_master(c, slot) == m.src
    got = cluster.pipe(m.dst, [("ASKING",), ("GET", a), ("ASKING",), ("GET", b)])
    assert got[1] == b"2" and got[3] == b"B"
    # a single new key: created on the importing node
    assert c.pipeline(transaction=True).set(fresh, "F").get(fresh).execute() == [True, b"F"]
    assert cluster.pipe(m.dst, [("ASKING",), ("GET", fresh)])[1] == b"F"

    # keys of the slot on both nodes: the server refuses (TRYAGAIN) until the
    # migration is over; retried with backoff like a single command, then
    # the transaction fails as a whole -- the same exception -- nothing applied
    multi0 = counts(cluster, "multi")
    pipe.incr(a).incr(c_key)
    with pytest.raises(ClusterError, match="TTL exhausted") as ei:
        pipe.execute()
    assert isinstance(ei.value.__context__, TryAgainError)
    with pytest.raises(ClusterError, match="TTL exhausted") as single:
        c.execute_command("EXISTS", a, c_key)  # a single command: the same end
    assert type(single.value.__context__) is TryAgainError
    tries = sum(delta(multi0, counts(cluster, "multi")).values())
    assert tries == c.RedisClusterRequestTTL
    assert cluster.raw(m.src, "GET", c_key) == b"3"
    assert cluster.pipe(m.dst, [("ASKING",), ("GET", a)])[1] == b"2"
    m.move_rest()
    assert pipe.incr(a).incr(c_key).execute() == [3, 4]


def test_transaction_helper_with_a_stale_map(new_client, cluster, migration):
    # WATCH itself gets MOVED: WatchError, map patched, transaction() retries
    c = new_client()
    slot = MIG_SLOT + 2
    m = migration(slot)
    a = key_for_slot(slot, "a")
    c.set(a, "1")
    m.begin()
    m.move_rest()
    m.finish()
    attempts = []

    def double(pipe):
        attempts.append(1)
        v = int(pipe.get(a))
        pipe.multi()
        pipe.set(a, v * 2)

    assert c.transaction(double, a) == [True]
    assert c.get(a) == b"2"
    assert slot_master(c, slot) == m.dst
    assert len(attempts) == 1  # the WATCH failed before func ran


def test_slot_moves_while_watching(new_client, cluster, migration):
    # the watched key migrates away between WATCH and EXEC: WatchError; the
    # helper retries the whole transaction on the new owner
    c = new_client()
    slot = MIG_SLOT + 3
    m = migration(slot)
    a = key_for_slot(slot, "a")
    c.set(a, "1")
    pipe = c.pipeline(transaction=True)
    pipe.watch(a)
    assert pipe.get(a) == b"1"
    m.begin()
    m.move_rest()
    m.finish()
    pipe.multi()
    pipe.set(a, "2")
    with pytest.raises(WatchError):
        pipe.execute()
    assert cluster.raw(m.dst, "GET", a) == b"1"
    assert len(pipe) == 0 and not pipe.watching

    # the same with the helper, the slot moving back during the first attempt
    attempts = []

    def incr(p):
        attempts.append(1)
        v = int(p.get(a))
        if len(attempts) == 1:
            cluster.restore_slot(slot, m.src)
        p.multi()
        p.set(a, v + 10)

    assert c.transaction(incr, a) == [True]
    assert len(attempts) >= 2
    assert cluster.raw(m.src, "GET", a) == b"11"


def test_execute_transaction_bad_input(rc):
    from rediscluster import _core
    from rediscluster.exceptions import DataError

    pipe = rc.pipeline(transaction=True)
    run = _core.Client._execute_transaction
    with pytest.raises(ValueError, match="out of range"):
        run(pipe, 16384, [])
    with pytest.raises(TypeError):
        run(pipe, "0", [])
    with pytest.raises(TypeError):
        run(pipe, 0)
    with pytest.raises(RedisClusterException, match="Unable to determine command"):
        run(pipe, 0, [((), None)])
    with pytest.raises(DataError):
        run(pipe, 0, [(("SET", "k", None), None)])
    # an empty transaction is MULTI + EXEC
    assert run(pipe, 0, []) == [b"OK", []]
