"""Live resharding under load: ``redis-cli --cluster reshard`` moves 500 slots
(with their keys) from one master to another and back, twice, while the load
runs. Half of the load's keys live in the slots that move, so it meets
MOVED, ASK (keys half-migrated) and ASK inside pipelines.

Expected: zero errors, zero wrong answers, no acknowledged write lost, and
few CLUSTER SLOTS calls in total (a MOVED patches one slot; full refreshes are
rate-limited), counted on the servers with INFO commandstats.
"""

import time

import pytest

from loadgen import run_subprocess, wait_until

# Valkey (8 and later) moves slots several times slower than Redis 7.0 (its
# CLUSTER SETSLOT waits for the replicas; 500 slots with these keys: 20-35 s
# there, 3-5 s on Redis): the load must last as long as the resharding does,
# so it is bounded by time (LOAD_SECONDS at RATE) rather than by a count
# sized for Redis.
TIMEOUT = 360
RATE = 800
LOAD_SECONDS = 300
pytestmark = [pytest.mark.slow, pytest.mark.timeout(TIMEOUT)]

SLOTS = 500
ROUNDS = 2  # round trips: src -> dst -> src
FILLER = 300  # keys added to each slot that holds a key of the load
FILLER_VALUE = b"x" * 64
MAX_SLOTS_CALLS_PER_S = 5.0  # "a handful", all nodes together


def reshard(env, src, dst, n, timeout=60.0):
    """One ``redis-cli --cluster reshard``; retried while the nodes do not yet
    agree about the previous move (it checks that first and changes nothing).
    Returns the seconds the successful run took."""
    src_id, dst_id = env.cluster.node_id(src), env.cluster.node_id(dst)
    args = ["redis-cli", "--cluster", "reshard", "%s:%d" % (env.cluster.host, src),
            "--cluster-from", src_id, "--cluster-to", dst_id,
            "--cluster-slots", str(n), "--cluster-yes"]
    deadline = time.monotonic() + timeout
    while True:
        code, took, out = run_subprocess(args, timeout)
        if code == 0:
            return took
        if "agree" not in out or time.monotonic() > deadline:
            raise AssertionError("redis-cli reshard failed (%d):\n%s" % (code, out))
        time.sleep(0.2)


def test_reshard_under_load(env):
    c = env.client(socket_timeout=1.0, socket_connect_timeout=0.5)
    src, dst = env.base, env.base + 1
    src_slots = env.cluster.slots_of(src)
    moving = src_slots[:SLOTS]  # redis-cli takes a source's lowest slots
    threads, per_thread = 4, 48
    half = threads * per_thread // 2
    moving_keys = env.keys_for(env.spread_slots(half, moving), "m") + \
        env.keys_for(env.spread_slots(8, moving), "cm")
    other_keys = env.keys_for(env.spread_slots(half), "s") + \
        env.keys_for(env.spread_slots(8), "cs")
    # interleaved, so that every thread has keys in the moving slots
    keys = [k for pair in zip(moving_keys[:half], other_keys[:half]) for k in pair]
    counters = [k for pair in zip(moving_keys[half:], other_keys[half:]) for k in pair]
    # filler keys in the slots of the load's keys, so that each of those slots
    # takes a while to migrate and the load meets it half-moved (ASK)
    filler = [("SET", env.rcit.key_for_slot(env.keyslot(k), "f%d" % i), FILLER_VALUE)
              for k in moving_keys for i in range(FILLER)]
    for i in range(0, len(filler), 5000):
        assert set(env.cluster.pipe(src, filler[i:i + 5000], timeout=30.0)) == {b"OK"}
    load = env.load(c, keys, counters, threads=threads, rate=RATE, max_ops=RATE * LOAD_SECONDS)
    asking_before = env.command_calls("asking")
    env.begin(load)

    def put_back():
        """After a failed run: every slot back on ``src`` (slot by slot)."""
        for slot in sorted(set(src_slots) - set(env.cluster.slots_of(src))):
            env.cluster.restore_slot(slot, src)

    took = []
    try:
        for r in range(ROUNDS):
            load.mark("reshard %d slots %d -> %d" % (SLOTS, src, dst))
            took.append(reshard(env, src, dst, SLOTS))
            load.mark("reshard %d slots %d -> %d" % (SLOTS, dst, src))
            took.append(reshard(env, dst, src, SLOTS))
        load.mark("resharding done")
        _, tail_ops = env.tail(load, 1.5)
    except BaseException:
        load.stop(10.0)
        put_back()
        raise
    stuck, slots_calls = env.end(load)
    moved = c.connection_pool._stats()["moved"]
    asking = env.calls_delta(asking_before, env.command_calls("asking"))
    if not wait_until(lambda: env.cluster.slots_of(src) == src_slots, 15.0):
        put_back()
        raise AssertionError("the slots did not come back to %d" % src)
    final = env.final_check(load)
    errors = load.all_errors()
    duration = load.summary()["duration_s"]
    row = env.record(
        "reshard",
        "redis-cli --cluster reshard: %d slots %d -> %d and back, %d times (%d slot moves)"
        % (SLOTS, src, dst, ROUNDS, 2 * ROUNDS * SLOTS),
        load, stuck, slots_calls, final,
        reshard_s=[round(t, 2) for t in took],
        client_moved=moved,
        asking_calls=asking,
        filler_keys=len(filler),
    )

    env.assert_sound(load, stuck, final)
    assert not errors, "%d errors: %r" % (len(errors), row["error_samples"])
    assert all(n > 0 for n in tail_ops), tail_ops
    assert row["lost_acked"] == 0 and not final[0], (load.all_lost()[:5], final[0][:5])
    assert row["unknown_outcome"] == 0
    assert slots_calls / duration <= MAX_SLOTS_CALLS_PER_S, (
        "%d CLUSTER SLOTS calls in %.1f s" % (slots_calls, duration))
