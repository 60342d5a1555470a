"""Sixteen threads share one client while a slot migrates and a master fails
over (issue 12): single commands, pipelines, multi-key commands split by slot
and transactions, all mixed.

Every reply is checked against what the thread itself wrote: a GET (alone, in
a pipeline, in an MGET or in a transaction) returns a value this thread wrote
to that very key -- and, while no write to the key has failed, exactly the
last acknowledged one. Failures are allowed only as clear cluster errors while
the topology changes (ConnectionError, TimeoutError, ClusterError and its
subclasses); MOVED/ASK must never reach the caller. Every thread must go on
working after the failover. CI runs this under ASan+UBSan too (`make asan`).
"""

import threading
import time
import traceback

import pytest

from rediscluster.exceptions import AskError, ClusterError, ConnectionError, MovedError, TimeoutError

from rcit import key_for_slot, wait_for

THREADS = 16
KEYS = 6  # per thread
MIG_SLOT = 7777  # migrated while the threads run
ALLOWED = (ConnectionError, TimeoutError, ClusterError)


class Book:
    """What one thread wrote: per key, every value and the last acknowledged one."""

    def __init__(self):
        self.written = {}  # key -> set of values ever sent
        self.acked = {}  # key -> last acknowledged value
        self.clean = {}  # key -> no write to it has failed

    def sending(self, key, value):
        self.written.setdefault(key, set()).add(value)

    def acked_now(self, key, value):
        self.acked[key] = value

    def failed(self, key):
        self.clean[key] = False

    def check(self, key, got, where):
        if key not in self.written:
            assert got is None, "%s: %s was never written, got %r" % (where, key, got)
            return
        if self.clean.get(key, True) and key in self.acked:
            assert got == self.acked[key], "%s: %s: got %r, expected %r" % (
                where, key, got, self.acked[key])
        else:
            assert got is None or got in self.written[key], (
                "%s: %s: got %r, never written there" % (where, key, got))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_threads_mixed_load_through_migration_and_failover(
        new_client, cluster, migration, healthy_after, flush):
    c = new_client(socket_timeout=2.0, socket_connect_timeout=1.0)
    masters = cluster.masters()
    mig_owner = cluster.owner(MIG_SLOT)
    # the failover: a master that does not hold the migrating slot
    fo_master = next(p for p in masters if p != mig_owner)
    fo_slot = cluster.slots_of(fo_master)[100]
    m = migration(MIG_SLOT, dst=next(p for p in masters if p not in (mig_owner, fo_master)))

    stop = threading.Event()
    phase = {"name": "start"}
    reports = []  # (thread, ops, errors, ops after the failover)
    progress = [0] * THREADS  # ops after the failover, live
    failures = []
    barrier = threading.Barrier(THREADS + 1)

    def work(t):
        book = Book()
        seq = 0
        ops = errors = after = 0
        # one key in the migrating slot, one in the failing-over master's,
        # the others spread; a hash-tagged pair for transactions
        keys = [key_for_slot(MIG_SLOT, "t%d:mig" % t), key_for_slot(fo_slot, "t%d:fo" % t)]
        keys += [key_for_slot((t * 977 + j * 4099) % 16384, "t%d:%d" % (t, j))
                 for j in range(KEYS - 2)]
        pair = [key_for_slot((t * 613 + 11) % 16384, "t%d:%s" % (t, x)) for x in "ab"]

        def value(key):
            nonlocal seq
            seq += 1
            v = b"%d|%s|%d" % (t, key.encode(), seq)
            book.sending(key, v)
            return v

        try:
            barrier.wait(30)
            i = 0
            while not stop.is_set():
                i += 1
                kind = i % 5
                try:
                    if kind == 0:  # single commands
                        k = keys[i % len(keys)]
                        v = value(k)
                        try:
                            assert c.set(k, v) is True
                        except ALLOWED:
                            book.failed(k)
                            raise
                        book.acked_now(k, v)
                        book.check(k, c.get(k), "GET")
                    elif kind == 1:  # a pipeline over every key
                        vals = [value(k) for k in keys]
                        with c.pipeline(transaction=False) as p:
                            for k, v in zip(keys, vals):
                                p.set(k, v)
                            for k in keys:
                                p.get(k)
                            res = p.execute(raise_on_error=False)
                        assert len(res) == 2 * len(keys)
                        for k, v, r in zip(keys, vals, res):
                            if r is True:
                                book.acked_now(k, v)
                            else:
                                assert isinstance(r, ALLOWED), "pipeline SET %s: %r" % (k, r)
                                book.failed(k)
                        for k, r in zip(keys, res[len(keys):]):
                            if isinstance(r, ALLOWED):
                                errors += 1
                                continue
                            book.check(k, r, "pipelined GET")
                    elif kind == 2:  # multi-key, split by slot
                        vals = {k: value(k) for k in keys}
                        try:
                            assert c.mset(vals) is True
                        except ALLOWED:
                            for k in keys:
                                book.failed(k)
                            raise
                        for k, v in vals.items():
                            book.acked_now(k, v)
                        for k, r in zip(keys, c.mget(keys)):
                            book.check(k, r, "MGET")
                    elif kind == 3:  # a transaction on one slot
                        va, vb = value(pair[0]), value(pair[1])
                        try:
                            res = c.pipeline(transaction=True).set(pair[0], va) \
                                .set(pair[1], vb).get(pair[0]).execute()
                        except ALLOWED:
                            book.failed(pair[0])
                            book.failed(pair[1])
                            raise
                        assert res[:2] == [True, True] and res[2] == va, res
                        book.acked_now(pair[0], va)
                        book.acked_now(pair[1], vb)
                    else:  # reads only, the batch entry point
                        res = c._execute_batch([(("GET", k), None) for k in keys + pair])
                        for k, r in zip(keys + pair, res):
                            if isinstance(r, ALLOWED):
                                errors += 1
                                continue
                            book.check(k, r, "batch GET")
                    ops += 1
                    if phase["name"] == "after":
                        after += 1
                        progress[t] = after
                except ALLOWED:
                    errors += 1
                    time.sleep(0.01)  # the topology is changing: do not spin
        except (MovedError, AskError) as e:
            failures.append("thread %d: a redirect reached the caller: %r" % (t, e))
        except BaseException:  # noqa: BLE001 - reported below
            failures.append("thread %d (%s):\n%s" % (t, phase["name"], traceback.format_exc()))
        finally:
            reports.append((t, ops, errors, after))

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
    for th in threads:
        th.start()
    barrier.wait(30)
    try:
        time.sleep(0.5)
        # the slot migrates: its keys move while the threads read and write them
        phase["name"] = "migration"
        m.begin()
        for _ in range(3):
            m.move_rest()
            time.sleep(0.2)
        m.move_rest()
        m.finish()
        # a master fails over (CLUSTER FAILOVER on its replica: acknowledged
        # writes survive it)
        phase["name"] = "failover"
        replica = cluster.replica_of(fo_master)
        cluster.raw(replica, "CLUSTER", "FAILOVER")
        wait_for(lambda: cluster.role(fo_master) == "slave"
                 and cluster.all_agree_owner(fo_slot, replica), 60, message="the failover")
        phase["name"] = "after"
        wait_for(lambda: failures or len(reports) == THREADS or min(progress) >= 20, 60,
                 message="every thread working after the failover")
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    assert not any(th.is_alive() for th in threads), "threads hung"
    assert not failures, "\n".join(failures[:3])
    assert len(reports) == THREADS
    for t, ops, errors, after in reports:
        assert ops > 20, (t, ops, errors)
        assert after >= 20, "thread %d did little after the failover (%d errors)" % (t, errors)
    stats = c.connection_pool._stats()
    assert stats["connections"] == sum(o for o, _ in stats["nodes"].values())
