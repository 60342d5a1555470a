"""Reference counts: the engine neither leaks nor steals references.

Each test runs a call 1000 times (after a warm-up that fills the caches) and
checks that ``sys.getrefcount`` of every object it handed in -- keys, values,
response/result callbacks, option values -- is unchanged afterwards, and that
the number of gc-tracked objects did not grow. A leaked reference shows as +1000
(or more), a stolen one as a negative count (and usually a crash later).

Paths covered: set/get (bytes and str, both decode modes), execute_command with
options through Python and C response callbacks, callbacks that raise, server
errors (WRONGTYPE, unknown command), client-side errors (DataError from the
packer and from argument checks, missing key, UnicodeDecodeError), pipelines
(with errors in place and raised), fan-out (PING, DBSIZE with result
callbacks), Client._execute_batch, mget, timeouts.
"""

import gc
import os
import sys

import pytest

from rediscluster import _core
from rediscluster.exceptions import (
    DataError,
    RedisClusterException,
    RedisError,
    ResponseError,
)

pytestmark = [pytest.mark.leak, pytest.mark.slow]

N = 1000
WARMUP = 50


def fresh_int(v):
    """An int object outside the small-int cache, made at run time."""
    return int(str(v + 100_000))


def check_refcounts(fn, objects, n=N):
    """Run fn n times; fail if any object's refcount or the gc population changed."""
    for _ in range(WARMUP):
        fn()
    gc.collect()
    before = [sys.getrefcount(o) for o in objects]
    population = len(gc.get_objects())
    for _ in range(n):
        fn()
    gc.collect()
    after = [sys.getrefcount(o) for o in objects]
    grown = len(gc.get_objects()) - population
    changed = [
        (i, type(o).__name__, b, a) for i, (o, b, a) in enumerate(zip(objects, before, after)) if a != b
    ]
    assert not changed, "refcounts changed after %d calls (index, type, before, after): %r" % (n, changed)
    assert grown < 100, "%d more gc-tracked objects after %d calls" % (grown, n)


# ------------------------------------------------------------------ plain commands


def test_set_get_bytes(rc, keys):
    key = keys(1)[0]
    bkey = key.encode() + b":b"
    value = os.urandom(100)

    def call():
        assert rc.set(key, value) is True
        assert rc.get(key) == value
        rc.set(bkey, value)
        rc.get(bkey)
        rc.incr(key + ":n")
        rc.exists(key)

    check_refcounts(call, [key, bkey, value])
    rc.delete(bkey, key + ":n")


def test_set_get_decoded(rc_decoded, keys):
    key = keys(1, "dec")[0]
    value = "".join(["välue-", str(os.getpid()), "-大奖"])

    def call():
        rc_decoded.set(key, value)
        assert rc_decoded.get(key) == value

    check_refcounts(call, [key, value])


def test_set_with_options(rc, keys):
    key = keys(1, "opt")[0]
    value = os.urandom(10)
    ex = fresh_int(1)
    px = fresh_int(2)

    def call():
        rc.set(key, value, ex=ex)
        rc.set(key, value, px=px, xx=True)
        rc.set(key, value, nx=True)

    check_refcounts(call, [key, value, ex, px])


def test_execute_command_with_options_python_callback(new_client, keys):
    rc = new_client()
    key = keys(1, "cb")[0]
    value = os.urandom(20)
    marker = object()
    cast = lambda x: x  # noqa: E731

    def cb(reply, **options):
        assert options["marker"] is marker
        return options["cast"](reply)

    rc.set_response_callback("GET", cb)
    rc.set(key, value)

    def call():
        assert rc.execute_command("GET", key, marker=marker, cast=cast) == value

    check_refcounts(call, [key, value, marker, cast, cb])


def test_c_response_callback_with_get_option(rc, keys):
    """SET ... GET goes through the C callback ``set_ok`` with an option."""
    key = keys(1, "setget")[0]
    value = os.urandom(20)
    set_ok = rc.response_callbacks["SET"]

    def call():
        rc.execute_command("SET", key, value, "GET", get=True)

    check_refcounts(call, [key, value, set_ok])


def test_zrange_score_cast_func(rc, keys):
    key = keys(1, "z")[0]
    member = os.urandom(8)
    cast = lambda s: float(s)  # noqa: E731
    rc.zadd(key, {member: 1.5})

    def call():
        assert rc.zrange(key, 0, -1, withscores=True, score_cast_func=cast) == [(member, 1.5)]

    check_refcounts(call, [key, member, cast])


def test_callback_that_raises(new_client, keys):
    rc = new_client()
    key = keys(1, "raise")[0]
    payload = object()

    def cb(reply, **options):
        raise ValueError(payload)

    rc.set_response_callback("GET", cb)

    def call():
        with pytest.raises(ValueError):
            rc.execute_command("GET", key)

    check_refcounts(call, [key, payload, cb])


# ------------------------------------------------------------------ errors


def test_server_errors(rc, keys):
    key = keys(1, "err")[0]
    value = os.urandom(10)
    rc.set(key, value)

    def call():
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            rc.execute_command("LPUSH", key, value)
        with pytest.raises(ResponseError):
            rc.execute_command("NOSUCHCOMMAND", key, value)
        with pytest.raises(ResponseError):
            rc.execute_command("INCR", key)

    check_refcounts(call, [key, value])


def test_client_side_errors(rc, keys):
    key = keys(1, "data")[0]
    value = os.urandom(10)
    bad = object()
    badlist = [value]

    def call():
        with pytest.raises(DataError):
            rc.execute_command("SET", key, bad)
        with pytest.raises(DataError):
            rc.execute_command("SET", key, badlist)
        with pytest.raises(DataError):
            rc.set(key, value, nx=True, xx=True)
        with pytest.raises(RedisClusterException):
            rc.execute_command("GET")
        with pytest.raises(UnicodeEncodeError):
            rc.execute_command("SET", key, "\udcff")

    check_refcounts(call, [key, value, bad, badlist])


def test_decode_error(rc, rc_decoded, keys):
    key = keys(1, "bin")[0]
    rc.set(key, b"\xff\xfe")

    def call():
        with pytest.raises(UnicodeDecodeError):
            rc_decoded.get(key)
        assert rc_decoded.exists(key) == 1

    check_refcounts(call, [key])


# ------------------------------------------------------------------ pipelines, batches, fan-out


def test_pipeline(rc, keys):
    key, counter, other = keys(3, "pipe")
    value = os.urandom(30)

    def call():
        p = rc.pipeline()
        p.set(key, value)
        p.get(key)
        p.execute_command("LPUSH", key, value)
        p.incr(counter)
        p.set(other, value, ex=100)
        res = p.execute(raise_on_error=False)
        assert res[0] is True and res[1] == value and isinstance(res[2], ResponseError)

    check_refcounts(call, [key, counter, other, value])


def test_pipeline_raising(rc, keys):
    key, counter = keys(2, "piperaise")
    value = os.urandom(30)
    rc.set(key, value)

    def call():
        with rc.pipeline() as p:
            p.incr(counter)
            p.execute_command("LPUSH", key, value)
            p.get(key)
            with pytest.raises(ResponseError):
                p.execute()

    check_refcounts(call, [key, counter, value])


def test_execute_batch(new_client, keys):
    rc = new_client()
    key, other = keys(2, "batch")
    value = os.urandom(30)
    marker = object()

    def cb(reply, **options):
        assert options["marker"] is marker
        return reply

    rc.set_response_callback("GET", cb)
    commands = [
        (("SET", key, value), {}),
        (("GET", key), {"marker": marker}),
        (("LPUSH", key, value), {}),
        (("SET", other, value), {}),
        (("GET", other), {"marker": marker}),
    ]

    def call():
        res = _core.Client._execute_batch(rc, commands)
        assert res[1] == value and isinstance(res[2], ResponseError)
        with pytest.raises(DataError):
            _core.Client._execute_batch(rc, [(("SET", key, marker), {})])

    check_refcounts(call, [key, other, value, marker, cb, commands[1][1]])


def test_fan_out(new_client):
    rc = new_client()
    marker = object()

    def response_cb(reply, **options):
        return reply

    def result_cb(command, res, **options):
        assert options.get("marker") is marker
        return sum(res.values())

    rc.set_response_callback("DBSIZE", response_cb)
    rc.set_result_callback("DBSIZE", result_cb)
    ping_cb = rc.response_callbacks["PING"]
    ping_result = rc.result_callbacks["PING"]

    def call():
        assert all(rc.ping().values())
        assert isinstance(rc.execute_command("DBSIZE", marker=marker), int)

    check_refcounts(call, [marker, response_cb, result_cb, ping_cb, ping_result])


def test_mget(rc, keys):
    if not hasattr(rc, "mget"):
        pytest.skip("no mget")
    ks = keys(20, "mget")
    values = [os.urandom(5) for _ in ks]
    for k, v in zip(ks, values):
        rc.set(k, v)

    def call():
        assert rc.mget(ks) == values
        assert rc.mget(*ks[:3]) == values[:3]

    check_refcounts(call, ks + values)


def test_exception_objects_are_freed(rc, keys):
    """The error instances the engine builds are released with their traceback."""
    key = keys(1, "exc")[0]
    rc.set(key, b"x")
    for _ in range(WARMUP):
        try:
            rc.execute_command("LPUSH", key, b"x")
        except RedisError:
            pass
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, BaseException))
    for _ in range(N):
        try:
            rc.execute_command("LPUSH", key, b"x")
        except RedisError:
            pass
    gc.collect()
    after = sum(1 for o in gc.get_objects() if isinstance(o, BaseException))
    assert after - before < 5


def test_timeouts(new_client, keys):
    """TimeoutError (the connection is then closed, never reused): 200 calls."""
    from rediscluster.exceptions import TimeoutError

    rc = new_client(socket_timeout=0.01)
    key = keys(1, "blpop")[0]
    wait = 1

    def call():
        with pytest.raises(TimeoutError):
            rc.execute_command("BLPOP", key, wait)

    check_refcounts(call, [key], n=200)
