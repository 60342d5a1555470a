"""The real client against scripted fake nodes (tests/unit/fakeserver.py).

No Redis server: each test starts one or two ``FakeNode``s on 127.0.0.1 and
scripts how they answer, then checks that the client never crashes, never hangs
(every call is timed and bounded), never returns a wrong value, and never re-sends
a write that may have been applied.
"""

import time

import pytest

from fakeserver import (
    FakeNode,
    bulk,
    close,
    free_port,
    node_factory,
    reply,
    reply_later,
    stall,
    trickle,
)
from rediscluster import RedisCluster, _core
from rediscluster.exceptions import (
    ClusterDownError,
    ClusterError,
    ConnectionError,
    ResponseError,
    TimeoutError,
)

try:
    import pytest_timeout  # noqa: F401
except ImportError:  # the fake nodes' own watchdog (max_life) still bounds every test
    pytestmark = []
else:
    pytestmark = [pytest.mark.timeout(20)]

TIMEOUT = 0.5  # socket_timeout of every client here


@pytest.fixture
def nodes():
    """Factory of fake nodes; all are stopped, and their threads joined, afterwards."""
    with node_factory() as make:
        yield make


@pytest.fixture
def node(nodes):
    return nodes()


@pytest.fixture
def clients():
    made = []

    def make(node, **kwargs):
        kwargs.setdefault("socket_timeout", TIMEOUT)
        rc = RedisCluster(
            startup_nodes=[{"host": "127.0.0.1", "port": node.port}],
            skip_full_coverage_check=True,
            **kwargs,
        )
        made.append(rc)
        return rc

    yield make
    for rc in made:
        rc.close()


@pytest.fixture
def client(node, clients):
    return clients(node)


class Timer:
    def __enter__(self):
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.monotonic() - self.start


def has_connection_error(exc):
    """ConnectionError itself, or raised from one (ClusterError('TTL exhausted.'))."""
    while exc is not None:
        if isinstance(exc, ConnectionError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def moved(key, port, kind="MOVED"):
    return b"-%s %d 127.0.0.1:%d\r\n" % (kind.encode(), _core.key_slot(key), port)


# ------------------------------------------------------------------ sanity


def test_topology_and_plain_commands(node, client):
    node.on("GET", reply(bulk("bar")))
    assert client.get("foo") == b"bar"
    assert client.get("foo") is None  # the default after the script
    assert client.set("foo", "x") is True
    assert node.commands[0] == (b"CLUSTER", b"SLOTS")
    assert node.commands[1:] == [
        (b"GET", b"foo"),
        (b"GET", b"foo"),
        (b"SET", b"foo", b"x"),
    ]
    assert node.connections <= 2  # topology + commands (the pool reuses one)
    assert client.connection_pool.keyslot("foo") == 12182
    assert client.connection_pool.nodes.slots[12182][0]["port"] == node.port


def test_cluster_slots_one_byte_per_packet(node, clients):
    node.on(
        "CLUSTER SLOTS",
        trickle(
            b"*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:%d\r\n$2\r\nid\r\n"
            % node.port
        ),
    )
    node.on("GET", reply(bulk("v")))
    rc = clients(node)
    assert rc.get("k") == b"v"


# ------------------------------------------------------------------ garbage


GARBAGE = [
    b"?garbage\r\n",
    b"$abc\r\n",
    b"*1\r\n!x\r\n",
    b"\x00\x01\x02\r\n",
]
GARBAGE_IDS = ["type", "bulk-len", "nested-type", "binary"]
if _core.hiredis_version < (1, 0, 0):  # hiredis 1.0 lifted the depth-7 limit
    GARBAGE.append(b"*1\r\n" * 9 + b":1\r\n")
    GARBAGE_IDS.append("depth-9")


@pytest.mark.parametrize("raw", GARBAGE, ids=GARBAGE_IDS)
def test_garbage_reply_is_a_connection_error(node, client, raw):
    node.on("GET", reply(raw), forever=True)
    with Timer() as t, pytest.raises(Exception) as info:
        client.get("k")
    assert t.elapsed < 3 * TIMEOUT
    assert has_connection_error(info.value), repr(info.value)
    assert "Protocol error" in str(info.value) or "Protocol error" in str(
        info.value.__context__
    )


def test_garbage_reply_raises_connection_error_itself(node, client):
    node.on("GET", reply(b"?garbage\r\n"), forever=True)
    with pytest.raises(ConnectionError):
        client.get("k")


def test_next_command_after_garbage_gets_its_own_reply(node, client):
    node.on("GET", reply(b"?garbage\r\n"), reply(bulk("good")))
    with pytest.raises(Exception) as info:
        client.get("k")
    assert has_connection_error(info.value)
    assert client.get("k") == b"good"


# ------------------------------------------------------------------ closed mid-reply


CUTS = [
    b"",
    b"$",
    b"$5",
    b"$5\r",
    b"$5\r\n",
    b"$5\r\nhel",
    b"$5\r\nhello",
    b"$5\r\nhello\r",
]


@pytest.mark.parametrize("cut", CUTS, ids=[repr(c) for c in CUTS])
def test_get_closed_mid_reply_is_retried_or_fails(node, client, cut):
    node.on("GET", close(cut), reply(bulk("world")))
    try:
        value = client.get("k")
    except (ConnectionError, ClusterError) as e:
        assert has_connection_error(e)
    else:
        assert (
            value == b"world"
        )  # retried on a new connection; never b"hello" or a part


def test_get_truncated_bulk_then_close_is_retried(node, client):
    node.on("GET", close(b"$10\r\nabc"), reply(bulk("0123456789")))
    assert client.get("k") == b"0123456789"
    assert node.count("GET") == 2


@pytest.mark.slow
def test_get_truncated_bulk_then_close_every_time(node, client):
    node.on("GET", close(b"$10\r\nabc"), forever=True)
    with Timer() as t, pytest.raises((ConnectionError, ClusterError)) as info:
        client.get("k")
    assert has_connection_error(info.value), repr(info.value)
    assert t.elapsed < 10
    assert 1 <= node.count("GET") <= RedisCluster.RedisClusterRequestTTL


@pytest.mark.parametrize("cut", [b"", b"+", b"+O", b"+OK", b"+OK\r"], ids=repr)
def test_set_closed_after_the_request_was_read_is_not_resent(node, client, cut):
    node.on("SET", close(cut), forever=True)
    with Timer() as t, pytest.raises(ConnectionError):
        client.set("k", "v")
    assert t.elapsed < 2 * TIMEOUT
    assert node.count("SET") == 1


def test_set_truncated_bulk_then_close(node, client):
    node.on("SET", close(b"$10\r\nabc"))
    with pytest.raises(ConnectionError):
        client.set("k", "v")
    assert node.count("SET") == 1


def test_client_works_after_a_failed_write(node, client):
    node.on("SET", close())
    with pytest.raises(ConnectionError):
        client.set("k", "v")
    node.on("GET", reply(bulk("after")))
    assert client.get("k") == b"after"


# ------------------------------------------------------------------ stalls


@pytest.mark.parametrize(
    "partial", [b"$100\r\nabc", b"*2\r\n:1\r\n"], ids=["over-long-bulk", "array"]
)
def test_stall_is_a_timeout(node, client, partial):
    node.on("GET", stall(partial), forever=True)
    with Timer() as t, pytest.raises(TimeoutError):
        client.get("k")
    assert TIMEOUT * 0.9 <= t.elapsed < 3 * TIMEOUT


def test_stall_on_a_write_is_a_timeout_and_not_resent(node, client):
    node.on("SET", stall(b"+O"), forever=True)
    with Timer() as t, pytest.raises(TimeoutError):
        client.set("k", "v")
    assert t.elapsed < 3 * TIMEOUT
    assert node.count("SET") == 1


def test_slow_trickle_within_the_timeout_is_not_a_timeout(node, clients):
    # The timeout bounds silence, not the whole reply: 12 bytes 30 ms apart
    # take 0.36 s, over three times the 0.1 s timeout.
    rc = clients(node, socket_timeout=0.1)
    value = b"v" * 6
    node.on("GET", trickle(bulk(value), delay=0.03))
    with Timer() as t:
        assert rc.get("k") == value
    assert t.elapsed > 0.3
    assert node.count("GET") == 1


# ------------------------------------------------------------------ one byte per packet


@pytest.mark.parametrize(
    "command,raw,expected",
    [
        (("GET", "k"), bulk("hello world"), b"hello world"),
        (("GET", "k"), b"$-1\r\n", None),
        (("GET", "k"), b"$0\r\n\r\n", b""),
        (("INCR", "k"), b":-12345\r\n", -12345),
        (
            ("LRANGE", "k", 0, -1),
            b"*3\r\n$1\r\na\r\n$-1\r\n*1\r\n:1\r\n",
            [b"a", None, [1]],
        ),
    ],
    ids=["bulk", "null", "empty", "integer", "array"],
)
def test_one_byte_per_packet(node, client, command, raw, expected):
    node.on(command[0], trickle(raw))
    assert client.execute_command(*command) == expected


def test_error_reply_one_byte_per_packet(node, client):
    node.on("GET", trickle(b"-WRONGTYPE Operation against a key\r\n"))
    with pytest.raises(ResponseError) as info:
        client.get("k")
    assert str(info.value) == "WRONGTYPE Operation against a key"


def test_big_reply(node, client):
    value = bytes(range(256)) * (12 * 1024) + b"tail"  # 3 MiB
    node.on("GET", reply(bulk(value)))
    assert client.get("k") == value


# ------------------------------------------------------------------ replies as errors


def test_error_reply_is_raised(node, client):
    node.on("GET", reply(b"-WRONGTYPE Operation against a key\r\n"))
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        client.get("k")
    node.on("GET", reply(bulk("fine")))
    assert client.get("k") == b"fine"


def test_decode_error_then_next_command(node, clients):
    node.on("GET", reply(b"$2\r\n\xff\xfe\r\n"), reply(bulk("ok")))
    rc = clients(node, decode_responses=True)
    with pytest.raises(UnicodeDecodeError):
        rc.get("k")
    assert rc.get("k") == "ok"


# ------------------------------------------------------------------ redirects


def test_moved_to_a_live_node(nodes, clients):
    a = nodes()
    b = nodes()
    a.on("GET", reply(moved("k", b.port)), forever=True)
    b.on("GET", reply(bulk("from-b")), forever=True)
    rc = clients(a)
    assert rc.get("k") == b"from-b"
    assert rc.get("k") == b"from-b"
    assert a.count("GET") == 1  # the slot map was patched
    assert rc.connection_pool.nodes.slots[_core.key_slot("k")][0]["port"] == b.port


def test_ask_to_a_live_node(nodes, clients):
    a = nodes()
    b = nodes()
    a.on("GET", reply(moved("k", b.port, "ASK")), reply(bulk("from-a")))
    b.on("GET", reply(bulk("from-b")))
    rc = clients(a)
    assert rc.get("k") == b"from-b"
    assert b.names() == ["ASKING", "GET"]
    assert rc.get("k") == b"from-a"  # ASK does not change the slot map


def test_moved_to_an_unreachable_port(node, client):
    node.on("GET", reply(moved("k", free_port())), forever=True)
    with Timer() as t, pytest.raises((ClusterError, ConnectionError)) as info:
        client.get("k")
    assert t.elapsed < 10
    if isinstance(info.value, ClusterError):
        assert info.value.args == ("TTL exhausted.",)


def test_endless_ask_loop(nodes, clients):
    a = nodes()
    b = nodes(slots_owner=("127.0.0.1", a.port))
    a.on("GET", reply(moved("k", b.port, "ASK")), forever=True)
    b.on("GET", reply(moved("k", a.port, "ASK")), forever=True)
    rc = clients(a)
    with Timer() as t, pytest.raises(ClusterError) as info:
        rc.get("k")
    assert type(info.value) is ClusterError
    assert info.value.args == ("TTL exhausted.",)
    assert t.elapsed < 5
    assert a.count("GET") + b.count("GET") == RedisCluster.RedisClusterRequestTTL


def test_endless_moved_loop(nodes, clients):
    a = nodes()
    b = nodes(slots_owner=("127.0.0.1", a.port))
    a.on("GET", reply(moved("k", b.port)), forever=True)
    b.on("GET", reply(moved("k", a.port)), forever=True)
    rc = clients(a)
    with Timer() as t, pytest.raises(ClusterError) as info:
        rc.get("k")
    assert info.value.args == ("TTL exhausted.",)
    assert t.elapsed < 5


def test_endless_tryagain(node, client):
    node.on(
        "GET",
        reply(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"),
        forever=True,
    )
    with Timer() as t, pytest.raises(ClusterError) as info:
        client.get("k")
    assert t.elapsed < 5
    assert info.value.args == ("TTL exhausted.",)
    assert node.count("GET") <= RedisCluster.RedisClusterRequestTTL


def test_tryagain_then_value(node, client):
    node.on(
        "GET", reply(b"-TRYAGAIN x\r\n"), reply(b"-TRYAGAIN x\r\n"), reply(bulk("v"))
    )
    assert client.get("k") == b"v"


def test_endless_clusterdown(node, client):
    node.on("GET", reply(b"-CLUSTERDOWN The cluster is down\r\n"), forever=True)
    with Timer() as t, pytest.raises(ClusterDownError):
        client.get("k")
    assert t.elapsed < 5


# ------------------------------------------------------------------ unsolicited replies


def test_unsolicited_reply_in_the_same_packet(node, client):
    node.on("SET", reply(b"+OK\r\n+EXTRA\r\n"))
    node.on("GET", reply(bulk("value")))
    assert client.set("k", "v") is True
    assert client.get("k") == b"value"
    assert node.connections == 2  # the polluted connection was not reused


def test_unsolicited_reply_before_a_get(node, client):
    node.on("GET", reply(b"$1\r\na\r\n$5\r\nEXTRA\r\n"), reply(bulk("b")))
    assert client.get("k") == b"a"
    assert client.get("k") == b"b"


def test_unsolicited_reply_in_a_later_packet(node, client):
    node.on("SET", reply_later(b"+OK\r\n", b"$5\r\nEXTRA\r\n", delay=0.05))
    node.on("GET", reply(bulk("value")))
    assert client.set("k", "v") is True
    time.sleep(0.2)  # the extra reply is now in the idle connection's socket
    assert client.get("k") == b"value"


def test_write_after_the_server_closed_an_idle_connection(node, client):
    node.on("GET", close(bulk("v")))  # reply, then hang up
    assert client.get("k") == b"v"
    time.sleep(0.1)
    assert client.set("k", "w") is True
    assert node.count("SET") == 1


def test_read_after_the_server_closed_an_idle_connection(node, client):
    node.on("GET", close(bulk("v")), reply(bulk("w")))
    assert client.get("k") == b"v"
    time.sleep(0.1)
    assert client.get("k") == b"w"


# ------------------------------------------------------------------ server gone


class ShortTTLCluster(RedisCluster):
    RedisClusterRequestTTL = 4  # 16 reconnect attempts with back-off take ~5 s


def test_server_gone(node):
    rc = ShortTTLCluster(
        startup_nodes=[{"host": "127.0.0.1", "port": node.port}],
        skip_full_coverage_check=True,
        socket_timeout=TIMEOUT,
    )
    node.on("GET", reply(bulk("v")))
    assert rc.get("k") == b"v"
    node.stop()
    with Timer() as t, pytest.raises((ConnectionError, ClusterError)) as info:
        rc.get("k")
    assert has_connection_error(info.value), repr(info.value)
    assert t.elapsed < 5
    rc.close()


def test_fake_node_stops_cleanly_with_stalled_connections(nodes, clients):
    node = nodes()
    node.on("GET", stall(b"$3\r\nab"), forever=True)
    rc = clients(node, socket_timeout=0.1)
    with pytest.raises(TimeoutError):
        rc.get("k")
    with Timer() as t:
        node.stop()
    assert t.elapsed < 2
    assert node.alive_threads() == []


@pytest.mark.parametrize("fmt", [b"-MOVED  1 127.0.0.1:%d\r\n", b"-MOVED 1 127.0.0.1:%d \r\n"])
def test_moved_with_extra_whitespace_is_followed(node, client, fmt):
    # The C redirect parser follows the same rules as exceptions._parse_redirect:
    # a MOVED the Python side understands is followed, not raised.
    state = {"n": 0}

    def once(conn):
        state["n"] += 1
        conn.send(fmt % node.port if state["n"] == 1 else b"$-1\r\n")
        return True

    node.on("GET", once, forever=True)
    assert client.get("k") is None
    assert state["n"] == 2  # the MOVED was followed (not a timeout and a retry)


# ------------------------------------------------------------------ redirects of unroutable commands


def test_moved_is_followed_for_a_command_routed_without_its_key(nodes, clients):
    # "GET k x" fails the built-in table's arity (a newer server could have
    # added an option), so no key is found and it goes to a random master;
    # the MOVED that master answers names the slot: it is followed, never
    # raised while attempts remain -- alone and in a pipeline.
    b = nodes()
    a = nodes()
    a.on("GET", reply(moved("k", b.port)), forever=True)
    b.on("GET", reply(bulk("v")), forever=True)
    rc = clients(a)
    assert rc.execute_command("GET", "k", "x") == b"v"
    assert b.commands[-1] == (b"GET", b"k", b"x")
    with rc.pipeline(transaction=False) as p:
        p.execute_command("GET", "k", "x")
        p.execute_command("GET", "k", "x")
        assert p.execute() == [b"v", b"v"]
    assert b.count("GET") == 3


def test_node_command_still_returns_moved(nodes, clients):
    # one attempt only (discovery's _node_command): nothing left to follow
    # the MOVED with, so it is the answer
    b = nodes()
    a = nodes()
    a.on("GET", reply(moved("k", b.port)), forever=True)
    rc = clients(a)
    from rediscluster.exceptions import MovedError

    with pytest.raises(MovedError):
        rc.connection_pool._node_command("127.0.0.1", a.port, "GET", "k")
    assert b.count("GET") == 0


# ------------------------------------------------------------------ transactions


def serve_transactions(node, queued=b"+QUEUED\r\n", exec_reply=b"*1\r\n:1\r\n"):
    """node answers MULTI, INCRBY (queued; incr() sends it) and EXEC as
    scripted, every time."""
    node.on("MULTI", reply(b"+OK\r\n"), forever=True)
    node.on("INCRBY", reply(queued) if isinstance(queued, bytes) else queued, forever=True)
    node.on("EXEC", reply(exec_reply) if isinstance(exec_reply, bytes) else exec_reply,
            forever=True)


@pytest.mark.parametrize("cut", [b"", b"*1\r\n", b"*1\r\n:1"], ids=repr)
def test_transaction_cut_after_exec_is_not_resent(node, client, cut):
    # EXEC was sent: whether it ran is unknown -- the connection error, once
    serve_transactions(node, exec_reply=close(cut))
    with Timer() as t, pytest.raises(ConnectionError):
        client.pipeline(transaction=True).incr("k").execute()
    assert t.elapsed < 2 * TIMEOUT
    assert node.count("MULTI") == 1 and node.count("EXEC") == 1


def test_transaction_stall_on_exec_is_a_timeout_and_not_resent(node, client):
    serve_transactions(node, exec_reply=stall(b"*1\r\n"))
    with Timer() as t, pytest.raises(TimeoutError):
        client.pipeline(transaction=True).incr("k").execute()
    assert t.elapsed < 3 * TIMEOUT
    assert node.count("EXEC") == 1


def test_transaction_garbage_reply_is_a_connection_error(node, client):
    serve_transactions(node, queued=b"@x\r\n")
    with pytest.raises(ConnectionError):
        client.pipeline(transaction=True).incr("k").execute()
    assert node.count("MULTI") == 1  # a protocol error ends it: never re-sent
    # the client goes on with a new connection
    serve_transactions(node)
    assert client.pipeline(transaction=True).incr("k").execute() == [1]


def test_transaction_follows_moved_then_ask_whole(nodes, clients):
    # MOVED to b, b answers ASK to c: the whole block goes on, ASKING before
    # MULTI on c; the map names b from then on
    c = nodes()
    b = nodes()
    a = nodes()
    serve_transactions(a, queued=moved("k", b.port),
                       exec_reply=b"-EXECABORT Transaction discarded\r\n")
    serve_transactions(b, queued=moved("k", c.port, "ASK"),
                       exec_reply=b"-EXECABORT Transaction discarded\r\n")
    serve_transactions(c, exec_reply=b"*2\r\n:5\r\n$1\r\nv\r\n")
    rc = clients(a)
    assert rc.pipeline(transaction=True).incr("k").get("k").execute() == [5, b"v"]
    assert c.names()[-5:] == ["ASKING", "MULTI", "INCRBY", "GET", "EXEC"]
    assert [n.count("EXEC") for n in (a, b, c)] == [1, 1, 1]
    assert rc.connection_pool.get_node_by_slot(_core.key_slot("k"))["port"] == b.port


def test_transaction_redirect_answered_to_exec(nodes, clients):
    # Valkey queues the commands and answers EXEC with the redirect
    b = nodes()
    a = nodes()
    serve_transactions(a, exec_reply=moved("k", b.port))
    serve_transactions(b, exec_reply=b"*1\r\n:7\r\n")
    rc = clients(a)
    assert rc.pipeline(transaction=True).incr("k").execute() == [7]
    assert a.count("EXEC") == 1 and b.count("EXEC") == 1


def test_transaction_endless_moved_is_ttl_exhausted(nodes, clients):
    a = nodes()
    b = nodes(slots_owner=("127.0.0.1", a.port))
    serve_transactions(a, queued=moved("k", b.port), exec_reply=b"-EXECABORT x\r\n")
    serve_transactions(b, queued=moved("k", a.port), exec_reply=b"-EXECABORT x\r\n")
    rc = clients(a)
    with Timer() as t, pytest.raises(ClusterError) as info:
        rc.pipeline(transaction=True).incr("k").execute()
    assert type(info.value) is ClusterError and info.value.args == ("TTL exhausted.",)
    assert t.elapsed < 5
    assert a.count("MULTI") + b.count("MULTI") == RedisCluster.RedisClusterRequestTTL


def test_transaction_clusterdown_then_served(node, client):
    serve_transactions(node)
    node.on("INCRBY", reply(b"-CLUSTERDOWN The cluster is down\r\n"),
            reply(b"+QUEUED\r\n"))
    assert client.pipeline(transaction=True).incr("k").execute() == [1]
    assert node.count("MULTI") == 2
