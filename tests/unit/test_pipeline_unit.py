"""ClusterPipeline without a Redis server.

A client made with ``init_slot_cache=False`` on a port where nothing listens
never connects until a command runs, so queuing, the blocked methods, one-slot
checks, transaction slot checks (raised before anything is sent) and the
``use_threads`` deprecation can be checked with no server at all. Two tests use
a scripted fake node (tests/unit/fakeserver.py) for what execute() does with
replies: error annotation and a connection lost between write and read.
"""

import warnings

import pytest

import rediscluster
import rediscluster.pipeline as pipeline_mod
from fakeserver import FakeNode, close, free_port, reply
from rediscluster import ClusterPipeline, RedisCluster, StrictClusterPipeline
from rediscluster.exceptions import (
    ConnectionError,
    RedisClusterException,
    ResponseError,
)

try:
    import pytest_timeout  # noqa: F401
except ImportError:
    pytestmark = []
else:
    pytestmark = [pytest.mark.timeout(20)]

# redis-py-cluster 2.1.3's blocked pipeline methods (API reference §10)
BLOCKED_213 = (
    "bgrewriteaof bgsave bitop brpoplpush client_getname client_kill client_list "
    "client_setname config_get config_resetstat config_rewrite config_set dbsize echo "
    "evalsha flushall flushdb info keys lastsave mget move mset msetnx pfmerge pfcount "
    "ping publish randomkey rename renamenx rpoplpush save scan script_exists "
    "script_flush script_kill script_load sentinel_get_master_addr_by_name "
    "sentinel_master sentinel_masters sentinel_monitor sentinel_remove "
    "sentinel_sentinels sentinel_set sentinel_slaves shutdown sinter sinterstore "
    "slaveof slowlog_get slowlog_len slowlog_reset smove sort sunion sunionstore time"
).split()

# the ones the client implements by slot splitting: queued when all keys share a slot
ONE_SLOT = {
    "brpoplpush": lambda p, a, b: p.brpoplpush(a, b, 1),
    "mget": lambda p, a, b: p.mget([a, b]),
    "mset": lambda p, a, b: p.mset({a: 1, b: 2}),
    "msetnx": lambda p, a, b: p.msetnx({a: 1, b: 2}),
    "pfmerge": lambda p, a, b: p.pfmerge(a, b),
    "pfcount": lambda p, a, b: p.pfcount(a, b),
    "rename": lambda p, a, b: p.rename(a, b),
    "renamenx": lambda p, a, b: p.renamenx(a, b),
    "rpoplpush": lambda p, a, b: p.rpoplpush(a, b),
    "sdiff": lambda p, a, b: p.sdiff([a, b]),
    "sdiffstore": lambda p, a, b: p.sdiffstore(a, [b]),
    "sinter": lambda p, a, b: p.sinter(a, b),
    "sinterstore": lambda p, a, b: p.sinterstore(a, b),
    "smove": lambda p, a, b: p.smove(a, b, "m"),
    "sunion": lambda p, a, b: p.sunion([a, b]),
    # not a slot split, but queued now too (issue 10: EVALSHA in pipelines)
    "evalsha": lambda p, a, b: p.evalsha("0" * 40, 2, a, b),
    "sunionstore": lambda p, a, b: p.sunionstore(a, [b]),
    # not in 2.1.3's list (there they were allowed, or DEL allowed one key only)
    "delete": lambda p, a, b: p.delete(a, b),
    "unlink": lambda p, a, b: p.unlink(a, b),
    "exists": lambda p, a, b: p.exists(a, b),
    "touch": lambda p, a, b: p.touch(a, b),
}

# same slot: one hash tag; different slots: "a" (15495) and "b" (3300)
SAME = ("{t}a", "{t}b")
CROSS = ("a", "b")


@pytest.fixture
def client():
    c = RedisCluster(host="127.0.0.1", port=free_port(), init_slot_cache=False,
                     socket_connect_timeout=0.2, socket_timeout=0.5)
    yield c
    c.close()


@pytest.fixture
def pipe(client):
    return client.pipeline()


def test_type_len_bool_repr(client, pipe):
    assert type(pipe) is ClusterPipeline
    assert issubclass(StrictClusterPipeline, ClusterPipeline)
    assert rediscluster.ClusterPipeline is ClusterPipeline
    assert rediscluster.StrictClusterPipeline is StrictClusterPipeline
    assert isinstance(pipe, RedisCluster)
    assert len(pipe) == 0
    assert bool(pipe) is True  # 2.1.3 defines __bool__ -> True
    assert pipe.execute() == []  # empty: nothing to send, no server needed
    assert repr(pipe) == "ClusterPipeline<0 commands>"
    assert pipe.connection_pool is client.connection_pool


def test_chaining_queues_without_sending(pipe):
    assert pipe.set("a", 1) is pipe
    assert pipe.get("a").incr("b").hset("h", "f", "v").lpush("l", 1, 2) is pipe
    assert len(pipe) == 5
    assert "5 commands" in repr(pipe)
    assert [c.args for c in pipe.command_stack] == [
        ("SET", "a", 1), ("GET", "a"), ("INCRBY", "b", 1), ("HSET", "h", "f", "v"),
        ("LPUSH", "l", 1, 2)]
    # 2.1.3's PipelineCommand shape: integrations read .args of each
    assert [c.position for c in pipe.command_stack] == [0, 1, 2, 3, 4]
    assert all(c.result is None and c.options == {} for c in pipe.command_stack)
    pipe.reset()
    assert len(pipe) == 0 and pipe.command_stack == []


def test_options_are_queued_for_the_callbacks(pipe):
    pipe.zrange("z", 0, -1, withscores=True)
    args, options = pipe.command_stack[0].args, pipe.command_stack[0].options
    assert args[0] == "ZRANGE"
    assert options and options.get("withscores") is True


def test_argument_errors_raise_at_queue_time(pipe):
    from rediscluster.exceptions import DataError

    with pytest.raises(DataError):
        pipe.set("a", 1, nx=True, xx=True)
    assert len(pipe) == 0


def test_context_manager_resets(pipe):
    with pipe as p:
        assert p is pipe
        p.set("a", 1).get("a")
        assert len(p) == 2
    assert len(pipe) == 0
    with pytest.raises(ValueError):
        with pipe:
            pipe.set("a", 1)
            raise ValueError("x")
    assert len(pipe) == 0


@pytest.mark.parametrize("name", sorted(set(BLOCKED_213) - set(ONE_SLOT)))
def test_blocked_method_raises(pipe, name):
    method = getattr(pipe, name)
    with pytest.raises(RedisClusterException) as ei:
        method("x")
    assert str(ei.value) == (
        "ERROR: Calling pipelined function %s is blocked when running redis in cluster mode..."
        % name)
    assert len(pipe) == 0


def test_every_213_blocked_method_is_covered():
    assert set(BLOCKED_213) <= set(dir(ClusterPipeline))
    for name in BLOCKED_213:
        assert name in ONE_SLOT or name in pipeline_mod._BLOCKED, name


@pytest.mark.parametrize("name", sorted(ONE_SLOT))
def test_multikey_method_in_one_slot_is_queued(pipe, name):
    assert pipe.keyslot(SAME[0]) == pipe.keyslot(SAME[1])
    assert ONE_SLOT[name](pipe, *SAME) is pipe
    assert len(pipe) == 1
    args = pipe.command_stack[0].args
    assert set(SAME) <= set(args[1:])


@pytest.mark.parametrize("name", sorted(ONE_SLOT))
def test_multikey_method_across_slots_raises(pipe, name):
    slots = sorted({pipe.keyslot(k) for k in CROSS})
    assert len(slots) == 2
    with pytest.raises(RedisClusterException) as ei:
        ONE_SLOT[name](pipe, *CROSS)
    if name == "evalsha":  # 2.1.3's message for script keys
        assert str(ei.value) == "EVALSHA - all keys must map to the same key slot"
    else:
        assert "%d, %d" % tuple(slots) in str(ei.value)
    assert len(pipe) == 0


def test_single_key_delete_is_queued(pipe):
    pipe.delete("a").exists("b")
    assert [c.args for c in pipe.command_stack] == [("DEL", "a"), ("EXISTS", "b")]


def test_not_available_on_a_pipeline(client, pipe):
    with pytest.raises(RedisClusterException):
        pipe.pipeline()
    pipe.load_scripts()  # nothing to load: no Script used yet
    with pytest.raises(RedisClusterException, match="not implemented"):
        pipe.script_load_for_pipeline()
    with pytest.raises(RedisClusterException, match="shard_hint"):
        client.pipeline(shard_hint="x")


def test_transaction_method_on_a_pipeline_raises(pipe):
    # not shadowed by the transaction flag
    with pytest.raises(RedisClusterException):
        pipe.transaction(lambda p: None)
    assert not hasattr(pipe, "transaction") or callable(pipe.transaction)


# ---------------------------------------------------------------- use_threads


@pytest.fixture
def fresh_warning(monkeypatch):
    """Forget that the use_threads warning was already given in this process."""
    monkeypatch.setattr(pipeline_mod, "_USE_THREADS_WARNED", [])


def test_use_threads_is_accepted_and_warns_once(client, fresh_warning):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        p1 = client.pipeline(use_threads=True)
        p2 = client.pipeline(use_threads=False)
        p3 = client.pipeline(transaction=False, use_threads=True)
    assert all(isinstance(p, ClusterPipeline) for p in (p1, p2, p3))
    dep = [x for x in w if issubclass(x.category, DeprecationWarning)]
    assert len(dep) == 1, [str(x.message) for x in w]
    assert "use_threads" in str(dep[0].message)
    assert dep[0].filename == __file__  # points at the caller


def test_pipeline_use_threads_client_option_warns_once(fresh_warning):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        made = [RedisCluster(host="127.0.0.1", port=free_port(), init_slot_cache=False,
                             pipeline_use_threads=flag) for flag in (True, False)]
        made[0].pipeline(use_threads=True)
    for c in made:
        c.close()
    dep = [x for x in w if issubclass(x.category, DeprecationWarning)]
    assert len(dep) == 1, [str(x.message) for x in w]
    assert "pipeline_use_threads" in str(dep[0].message)
    assert dep[0].filename == __file__


def test_no_warning_without_the_option(client, fresh_warning):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        client.pipeline()
        client.pipeline(read_from_replicas=True)
    assert [x for x in w if issubclass(x.category, DeprecationWarning)] == []


# ---------------------------------------------------------------- transactions (no I/O)


def test_cross_slot_transaction_refused_before_sending(client):
    # nothing listens on the client's port: a ConnectionError would mean
    # something was sent; the slot check comes first
    pipe = client.pipeline(transaction=True)
    pipe.set(CROSS[0], 1).get(CROSS[1])
    slots = sorted({client.keyslot(k) for k in CROSS})
    with pytest.raises(RedisClusterException) as ei:
        pipe.execute()
    assert "%d, %d" % tuple(slots) in str(ei.value)
    assert len(pipe) == 0

    pipe = client.pipeline()
    pipe.multi()
    pipe.set(CROSS[0], 1).set(CROSS[1], 2)
    with pytest.raises(RedisClusterException, match="%d, %d" % tuple(slots)):
        pipe.execute()

    with pytest.raises(RedisClusterException, match="%d, %d" % tuple(slots)):
        client.pipeline().watch(*CROSS)
    with pytest.raises(RedisClusterException, match="%d, %d" % tuple(slots)):
        client.transaction(lambda p: None, *CROSS)


def test_keyless_transaction_refused(client):
    pipe = client.pipeline(transaction=True)
    pipe.execute_command("DBSIZE")
    with pytest.raises(RedisClusterException, match="at least one key"):
        pipe.execute()


def test_multi_state_errors(pipe):
    pipe.multi()
    with pytest.raises(RedisClusterException):
        pipe.multi()
    with pytest.raises(RedisClusterException):
        pipe.watch("a")
    pipe.set("a", 1)
    assert len(pipe) == 1  # queued, not run
    pipe.reset()
    pipe.get("a")
    with pytest.raises(RedisClusterException):
        pipe.multi()


def test_unwatch_without_watch_is_a_no_op(pipe):
    assert pipe.unwatch() is True
    assert not pipe.watching


# ---------------------------------------------------------------- with a fake node


@pytest.fixture
def node():
    n = FakeNode(max_life=25.0)
    yield n
    n.stop()


@pytest.fixture
def fake_client(node):
    c = RedisCluster(startup_nodes=[{"host": node.host, "port": node.port}],
                     skip_full_coverage_check=True, socket_timeout=0.5)
    yield c
    c.close()


def test_error_annotation(node, fake_client):
    node.on("LPUSH", reply(b"-WRONGTYPE Operation against a key\r\n"), forever=True)
    node.on("GET", reply(b"$1\r\n1\r\n"), forever=True)
    pipe = fake_client.pipeline()
    pipe.set("a", 1).lpush("a", "x", b"\xff").get("a")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and res[2] == b"1"
    assert isinstance(res[1], ResponseError) and str(res[1]) == "WRONGTYPE Operation against a key"

    pipe.set("a", 1).lpush("a", "x", b"\xff").get("a")
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value) == (
        "Command # 2 (LPUSH a x \ufffd) of pipeline caused error: "
        "WRONGTYPE Operation against a key")
    assert ei.value.args == (str(ei.value),)
    assert len(pipe) == 0


def test_connection_lost_between_write_and_read(node, fake_client):
    # the node answers two INCRs, then reads the third and hangs up: every
    # later command was written but never answered. INCRs must not be sent
    # again (they may have been applied): a ConnectionError holds their place;
    # GETs are re-sent on a new connection.
    node.on("INCRBY", reply(b":1\r\n"), reply(b":2\r\n"), close())
    pipe = fake_client.pipeline()
    for _ in range(4):
        pipe.incr("k").get("g")
    res = pipe.execute(raise_on_error=False)
    assert res[:4] == [1, None, 2, None]
    assert isinstance(res[4], ConnectionError), res[4]
    assert res[5] is None
    assert isinstance(res[6], ConnectionError), res[6]
    assert res[7] is None
    assert node.count("INCRBY") == 3  # none re-sent
    assert node.count("GET") >= 4

    node.on("INCRBY", reply(b":3\r\n"), close())
    pipe.get("g").incr("k").incr("k").get("g")
    with pytest.raises(ConnectionError, match=r"^Command # 3 \(INCRBY k 1\) of pipeline caused error: "):
        pipe.execute()
    assert node.count("INCRBY") == 5


def test_pipeline_command_type():
    from rediscluster.pipeline import PipelineCommand

    c = PipelineCommand(["GET", "k"], position=3)
    assert c.args == ("GET", "k") and c.options == {} and c.position == 3 and c.result is None
    c.options["x"] = 1  # the dict made on first access is kept
    assert c.options == {"x": 1}
    c.result = ValueError("e")
    assert isinstance(c.result, ValueError)
    assert PipelineCommand(("SET", "a", 1), {"nx": True}).position is None
    with pytest.raises(TypeError):
        PipelineCommand(("GET",), options=[1])
    with pytest.raises(TypeError):
        c.args = ["not", "a", "tuple"]
    # a cycle through args is collected
    import gc
    import weakref

    class Holder:
        pass

    h = Holder()
    c2 = PipelineCommand((h,))
    h.c = c2
    ref = weakref.ref(h)
    del h, c2
    gc.collect()
    assert ref() is None
