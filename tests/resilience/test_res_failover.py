"""Failover under load: a master killed with SIGKILL (the cluster promotes its
replica), and a planned CLUSTER FAILOVER on a replica.

The load (loadgen.Load: 4 threads sharing one client; SET/GET/INCR/pipelines
whose values name their key) runs before, during and after; see conftest.py
for the phases and the figures recorded.
"""

import os
import signal

import pytest

from loadgen import wait_until
from rediscluster.exceptions import ClusterError, ConnectionError, TimeoutError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

# errors a caller may see while a master is gone (ClusterDownError and
# MasterDownError are ClusterErrors, as is "TTL exhausted.")
WINDOW_ERRORS = (ConnectionError, TimeoutError, ClusterError)
CATCH_UP = 3.0  # s: the client serves again at most this long after the promotion
MAX_CALL = 10.0  # s: no single call may take longer (TTL 16 x backoff <= 0.5 s)


def rel(errors, t0):
    return [(round(e[0] - t0, 3), e[1], e[2], e[3], e[4]) for e in errors]


@pytest.mark.parametrize("which", ["seed", "other"])
def test_kill9_master(env, which):
    """SIGKILL of a master ("seed": the client's only startup node): errors
    only from the kill until shortly after the replica is promoted, then full
    service; no thread stuck; no wrong answer."""
    c = env.client(socket_timeout=1.0, socket_connect_timeout=0.5)
    victim = env.base if which == "seed" else env.base + 1
    replica = env.cluster.replica_of(victim)
    victim_pid = env.pid(victim)
    load = env.standard_load(c)
    env.begin(load)

    t_kill = load.mark("kill -9 %d" % victim)
    os.kill(victim_pid, signal.SIGKILL)
    t_promoted = wait_until(lambda: env.is_master(replica), 20.0)
    if t_promoted:
        load.mark("replica %d promoted" % replica)
    t_settled = env.settle(load, quiet=1.5, timeout=20.0)
    tail_errors, tail_ops = env.tail(load, 2.0)
    stuck, slots_calls = env.end(load)
    env.script("wait", timeout=120)  # the killed node restarts and rejoins as a replica
    final = env.final_check(load)
    errors = load.all_errors()
    last = errors[-1][0] if errors else None
    row = env.record(
        "kill9_master_" + which,
        "SIGKILL of master %d%s; its replica %d is promoted by the cluster"
        % (victim, " (the client's only startup node)" if which == "seed" else "", replica),
        load, stuck, slots_calls, final,
        failover_s=round(t_promoted - t_kill, 2) if t_promoted else None,
    )

    env.assert_sound(load, stuck, final)
    assert t_promoted is not None, "the replica %d was not promoted" % replica
    assert t_settled is not None, "no recovery: last errors %r" % rel(errors[-3:], t_kill)
    assert not tail_errors, rel(tail_errors[:5], t_kill)
    assert all(n > 0 for n in tail_ops), "a thread made no progress after recovery: %r" % tail_ops
    bad = [e for e in errors if not issubclass(e[5], WINDOW_ERRORS)]
    assert not bad, rel(bad[:5], t_kill)
    if errors:
        assert errors[0][0] >= t_kill, rel(errors[:3], t_kill)
        assert last - t_promoted <= CATCH_UP, (
            "errors %.2f s after the promotion: %r" % (last - t_promoted, rel(errors[-3:], t_kill)))
    assert row["recovery_s"] <= row["failover_s"] + CATCH_UP, "served again too late"
    assert row["max_latency_s"] <= MAX_CALL
    # asynchronous replication: only writes the dead master had not yet passed
    # on can be lost, a handful at most
    assert row["lost_acked"] + row["final_lost"] <= 50, (load.all_lost()[:5], final[0][:5])


def test_manual_failover(env):
    """CLUSTER FAILOVER on a replica (planned): zero errors, zero wrong
    answers, no acknowledged write lost."""
    c = env.client(socket_timeout=1.0, socket_connect_timeout=0.5)
    victim = env.base + 1
    replica = env.cluster.replica_of(victim)
    load = env.standard_load(c)
    env.begin(load)

    t0 = load.mark("CLUSTER FAILOVER on %d" % replica)
    assert env.cluster.raw(replica, "CLUSTER", "FAILOVER") == b"OK"
    t_promoted = wait_until(
        lambda: env.is_master(replica) and not env.is_master(victim), 20.0)
    if t_promoted:
        load.mark("replica %d promoted" % replica)
    # every node must know it before the figures are final
    t_agreed = wait_until(lambda: all(
        env.rcit.parse_info(env.cluster.raw(p, "CLUSTER", "INFO")).get("cluster_state") == "ok"
        for p in env.cluster.ports), 10.0)
    tail_errors, tail_ops = env.tail(load, 2.5)
    stuck, slots_calls = env.end(load)
    final = env.final_check(load)
    errors = load.all_errors()
    row = env.record(
        "manual_failover",
        "CLUSTER FAILOVER on replica %d (master %d steps down)" % (replica, victim),
        load, stuck, slots_calls, final,
        failover_s=round(t_promoted - t0, 2) if t_promoted else None,
    )

    env.assert_sound(load, stuck, final)
    assert t_promoted is not None and t_agreed is not None, "the failover did not complete"
    assert not errors, "%d errors: %r" % (len(errors), rel(errors[:5], t0))
    assert not tail_errors
    assert all(n > 0 for n in tail_ops), tail_ops
    assert row["lost_acked"] == 0 and not final[0], (load.all_lost()[:5], final[0][:5])
    assert row["unknown_outcome"] == 0
