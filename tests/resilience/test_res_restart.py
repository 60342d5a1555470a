"""Rolling restart under load: every master in turn is shut down (SHUTDOWN,
which waits for its replica to catch up), its replica is promoted by the
cluster, and the node is started again and rejoins as a replica; the next
master goes only when the cluster is whole again.

Expected: errors only while a master is gone (until shortly after its replica
is promoted), full service in between and at the end, no wrong answer, and
no acknowledged write lost (the replica had everything the master acknowledged).
"""

import time

import pytest

from loadgen import wait_until
from rediscluster.exceptions import ClusterError, ConnectionError, TimeoutError

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WINDOW_ERRORS = (ConnectionError, TimeoutError, ClusterError)
CATCH_UP = 3.0  # s after a promotion


def rel(errors, t0):
    return [(round(e[0] - t0, 3), e[1], e[2], e[3], e[4]) for e in errors]


def whole(env, restarted):
    """The restarted node is a replica with its link up, and every node says
    cluster_state:ok and sees all six nodes without a fail flag (INFO, CLUSTER
    INFO and CLUSTER NODES only: CLUSTER SLOTS is being counted)."""
    repl = env.rcit.parse_info(env.cluster.raw(restarted, "INFO", "replication", timeout=1.0))
    if repl.get("role") != "slave" or repl.get("master_link_status") != "up":
        return False
    for p in env.cluster.ports:
        if env.rcit.parse_info(env.cluster.raw(p, "CLUSTER", "INFO", timeout=1.0)).get(
                "cluster_state") != "ok":
            return False
        nodes = env.cluster.raw(p, "CLUSTER", "NODES", timeout=1.0).decode().splitlines()
        if len(nodes) != len(env.cluster.ports):
            return False
        if any("fail" in line.split()[2] or "handshake" in line.split()[2] for line in nodes):
            return False
    return True


def test_rolling_restart(env):
    c = env.client(socket_timeout=1.0, socket_connect_timeout=0.5)
    masters = [env.base, env.base + 1, env.base + 2]
    replicas = {m: env.cluster.replica_of(m) for m in masters}
    load = env.standard_load(c)
    env.begin(load)

    windows = []  # (master, t_down, t_promoted, t_back)
    for m in masters:
        t_down = load.mark("SHUTDOWN %d" % m)
        env.script("stop-node", m, timeout=60)
        t_promoted = wait_until(lambda m=m: env.is_master(replicas[m]), 20.0)
        load.mark("replica %d promoted" % replicas[m])
        env.script("start-node", m, timeout=60)
        t_back = wait_until(lambda m=m: whole(env, m), 30.0, interval=0.1)
        load.mark("%d back as a replica" % m)
        windows.append((m, t_down, t_promoted, t_back))
        assert t_promoted is not None, "replica %d was not promoted" % replicas[m]
        assert t_back is not None, "the cluster did not become whole after restarting %d" % m
        # full service before the next master goes
        assert env.settle(load, quiet=1.0, timeout=15.0) is not None, \
            rel(load.all_errors()[-3:], t_down)
    tail_errors, tail_ops = env.tail(load, 2.0)
    stuck, slots_calls = env.end(load)
    final = env.final_check(load)

    errors = load.all_errors()
    per_restart = []
    for i, (m, t_down, t_promoted, t_back) in enumerate(windows):
        t_next = windows[i + 1][1] if i + 1 < len(windows) else float("inf")
        mine = [e for e in errors if t_down <= e[0] < t_next]
        disrupted = load.disrupted_until(t_down, t_next)
        per_restart.append({
            "master": m,
            "errors": len(mine),
            "failover_s": round(t_promoted - t_down, 2),
            "recovery_s": round(disrupted - t_down, 2) if disrupted else 0.0,
        })
    row = env.record(
        "rolling_restart",
        "all 3 masters restarted one by one (SHUTDOWN, replica promoted by the cluster, "
        "node restarted as a replica)",
        load, stuck, slots_calls, final,
        recovery_s=max(r["recovery_s"] for r in per_restart),  # the worst restart
        failover_s=max(r["failover_s"] for r in per_restart),
        per_restart=per_restart,
    )

    env.assert_sound(load, stuck, final)
    bad = [e for e in errors if not issubclass(e[5], WINDOW_ERRORS)]
    assert not bad, rel(bad[:5], windows[0][1])
    # every error falls between a master going down and shortly after its
    # replica took over
    outside = [e for e in errors
               if not any(t_down <= e[0] <= t_promoted + CATCH_UP
                          for _, t_down, t_promoted, _ in windows)]
    assert not outside, rel(outside[:5], windows[0][1])
    assert not tail_errors and all(n > 0 for n in tail_ops), (tail_errors, tail_ops)
    assert row["lost_acked"] == 0 and not final[0], (load.all_lost()[:5], final[0][:5])
