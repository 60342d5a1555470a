"""A master that stops answering (SIGSTOP: the process is frozen, its socket
still accepts connections, nothing is answered), under load.

* ``sigstop_short``: frozen 3 s while the cluster's failure detection is
  slowed (cluster-node-timeout 20 s), so no failover happens. Calls on its
  slots fail with TimeoutError within the socket timeout (a read is retried
  once, so at most about two timeouts); calls on other masters' slots keep
  working; after SIGCONT the client serves everything again at once.
* ``sigstop_failover``: frozen until its replica has been promoted (normal
  node timeout, 1 s) and then for a further 2 s: the client must leave the
  frozen node and serve from the new master while the old one is still
  frozen (a client stuck on a dead node was the original's issue #274), then
  SIGCONT; the old master rejoins as a replica.
"""

import time

import pytest

from loadgen import wait_until
from rediscluster.exceptions import ClusterError, ConnectionError, TimeoutError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SOCKET_TIMEOUT = 0.5
FROZEN_SHORT = 3.0
# a call is bounded by about two socket timeouts (docs/engine.md); the margin
# covers a 2-core machine with six servers and four client threads
CALL_BOUND = 2 * SOCKET_TIMEOUT + 0.5
WINDOW_ERRORS = (ConnectionError, TimeoutError, ClusterError)


def rel(errors, t0):
    return [(round(e[0] - t0, 3), e[1], e[2], e[3], e[4]) for e in errors]


def test_sigstop_short(env):
    c = env.client(socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
    victim = env.base + 2
    owners = env.owner_map()
    env.config_set_all("cluster-node-timeout", 20000)  # no failover meanwhile
    load = env.standard_load(c)
    env.begin(load)

    t_stop = load.mark("SIGSTOP %d" % victim)
    pid = env.sigstop(victim)
    time.sleep(FROZEN_SHORT)
    t_cont = load.mark("SIGCONT %d" % victim)
    env.sigcont(pid)
    t_settled = env.settle(load, quiet=1.0, timeout=10.0)
    tail_errors, tail_ops = env.tail(load, 1.5)
    stuck, slots_calls = env.end(load)
    still_master = env.is_master(victim)
    final = env.final_check(load)

    errors = load.all_errors()
    elsewhere = [e for e in errors if owners[env.keyslot(e[2])] != victim]
    # operations that started while the node was frozen, by outcome
    frozen_ops = load.ops_between(t_stop, t_cont)
    ok_frozen = sum(1 for op in frozen_ops if op[2] == 0)
    failed = [op for op in load.all_ops() if op[2] == 1]
    slowest_failed = max((op[1] for op in failed), default=0.0)
    last = errors[-1][0] if errors else None
    row = env.record(
        "sigstop_short",
        "SIGSTOP of master %d for %.0f s (no failover: node timeout raised), "
        "socket_timeout=%.1f" % (victim, FROZEN_SHORT, SOCKET_TIMEOUT),
        load, stuck, slots_calls, final,
        since=t_cont,
        error_window_s=round(last - errors[0][0], 2) if errors else 0.0,
        ok_ops_while_frozen=ok_frozen,
        slowest_failed_call_s=round(slowest_failed, 3),
        errors_on_other_masters=len(elsewhere),
    )

    env.assert_sound(load, stuck, final)
    assert still_master, "a failover happened: the test did not test what it says"
    assert errors, "no call failed while %d was frozen" % victim
    bad = [e for e in errors if not issubclass(e[5], (TimeoutError, ConnectionError))]
    assert not bad, rel(bad[:5], t_stop)
    assert not elsewhere, rel(elsewhere[:5], t_stop)
    assert ok_frozen > 0, "nothing succeeded on the other masters meanwhile"
    assert errors[0][0] >= t_stop
    assert slowest_failed <= CALL_BOUND, "a failed call took %.2f s" % slowest_failed
    assert t_settled is not None, rel(errors[-3:], t_stop)
    assert last - t_cont <= CALL_BOUND, "errors %.2f s after SIGCONT" % (last - t_cont)
    assert not tail_errors and all(n > 0 for n in tail_ops), (rel(tail_errors, t_stop), tail_ops)
    # no acknowledged write can be lost (nothing failed over); abandoned
    # writes may land late (counted as late_writes)
    assert row["lost_acked"] == 0 and not final[0], (load.all_lost()[:5], final[0][:5])


def test_sigstop_failover(env):
    c = env.client(socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
    victim = env.base + 2
    replica = env.cluster.replica_of(victim)
    load = env.standard_load(c)
    env.begin(load)

    t_stop = load.mark("SIGSTOP %d" % victim)
    pid = env.sigstop(victim)
    try:
        t_promoted = wait_until(lambda: env.is_master(replica), 20.0)
        if t_promoted is not None:
            load.mark("replica %d promoted" % replica)
        # the client must serve again while the old master is still frozen
        t_served = env.settle(load, quiet=1.5, timeout=15.0)
    finally:
        t_cont = load.mark("SIGCONT %d" % victim)
        env.sigcont(pid)
    t_demoted = wait_until(lambda: not env.is_master(victim), 15.0)
    if t_demoted is not None:
        load.mark("%d is a replica" % victim)
    tail_errors, tail_ops = env.tail(load, 2.0)
    stuck, slots_calls = env.end(load)
    env.script("wait", timeout=120)
    final = env.final_check(load)

    errors = load.all_errors()
    last = errors[-1][0] if errors else None
    failed = [op for op in load.all_ops() if op[2] == 1]
    row = env.record(
        "sigstop_failover",
        "SIGSTOP of master %d until its replica %d is promoted and the client serves "
        "again, then SIGCONT (socket_timeout=%.1f)" % (victim, replica, SOCKET_TIMEOUT),
        load, stuck, slots_calls, final,
        failover_s=round(t_promoted - t_stop, 2) if t_promoted else None,
        frozen_s=round(t_cont - t_stop, 2),
        recovered_while_frozen=t_served is not None and t_served < t_cont,
        slowest_failed_call_s=round(max((op[1] for op in failed), default=0.0), 3),
    )

    env.assert_sound(load, stuck, final)
    assert t_promoted is not None, "replica %d was not promoted" % replica
    assert t_served is not None and t_served < t_cont, (
        "the client did not recover while %d was frozen: %r" % (victim, rel(errors[-3:], t_stop)))
    bad = [e for e in errors if not issubclass(e[5], WINDOW_ERRORS)]
    assert not bad, rel(bad[:5], t_stop)
    assert errors and errors[0][0] >= t_stop
    assert last <= t_promoted + 3.0, rel(errors[-3:], t_stop)
    assert row["recovery_s"] <= row["failover_s"] + 3.0, "served again too late"
    assert not tail_errors and all(n > 0 for n in tail_ops), (rel(tail_errors, t_stop), tail_ops)
    assert t_demoted is not None, "%d did not become a replica after SIGCONT" % victim
