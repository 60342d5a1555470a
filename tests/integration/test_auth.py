"""Passwords and ACL users, on the auth cluster (``auth_cluster`` fixture:
``scripts/cluster.py start --auth --no-config --also-bind 127.0.0.2``; these
tests skip when it is not running).

Contract (issue 5): username + password (ACL) and password alone work; a wrong
password raises AuthenticationError at connect, at once and without a retry
storm (counted with the servers' ``total_connections_received``); the password
never appears in repr(), in error messages or in log records; a user without
the rights gets NOPERM as ``NoPermissionError`` (a ``ResponseError``).
"""

import logging
import time
import traceback
import uuid

import pytest

from rediscluster import RedisCluster
from rediscluster.exceptions import (
    AuthenticationError,
    ConnectionError,
    NoPermissionError,
    RedisClusterException,
    ResponseError,
)

from rcit import key_for_slot, parse_info, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def ac(auth_cluster):
    """The auth cluster's info; its rcit:* keys are deleted before and after."""
    auth_cluster.cluster.delete_test_keys()
    yield auth_cluster
    auth_cluster.cluster.delete_test_keys()


@pytest.fixture
def client(auth_cluster):
    """client(**kwargs) -> RedisCluster on the auth cluster, closed afterwards."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("socket_timeout", 5.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        if "startup_nodes" not in kwargs:
            kwargs.setdefault("host", auth_cluster.host)
            kwargs.setdefault("port", auth_cluster.port)
        c = RedisCluster(**kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def unique_name(what):
    return "rcit-%s-%s" % (what, uuid.uuid4().hex[:8])


def conns_named(ac, port, name):
    text = ac.raw(port, "CLIENT", "LIST").decode()
    out = []
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        if fields.get("name") == name:
            out.append(fields)
    return out


def connections_received(ac):
    """Sum of total_connections_received over the nodes (minus the connections
    this function makes itself)."""
    total = 0
    for p in ac.ports:
        total += int(parse_info(ac.raw(p, "INFO", "stats"))["total_connections_received"])
    return total


def one_key_per_master(ac, stem):
    out = []
    seen = set()
    for start, _end, master, replicas in ac.cluster.slots_view():
        if master not in seen:
            seen.add(master)
            out.append((key_for_slot(start, stem), master, replicas[0]))
    return out


def assert_no_secret(ac, text, what):
    for secret in ac.secrets:
        assert secret not in text, "a password appears in %s: %r" % (what, text)


# ---------------------------------------------------------------------------
# credentials that work


def test_password_only(ac, client):
    name = unique_name("pw")
    c = client(password=ac.password, client_name=name)
    keys = one_key_per_master(ac, "pw")
    for k, _m, _r in keys:
        assert c.set(k, "v") is True
        assert c.get(k) == b"v"
    for _k, master, _r in keys:
        conns = conns_named(ac, master, name)
        assert conns and all(f["user"] == "default" for f in conns), conns


def test_username_and_password(ac, client):
    name = unique_name("acl")
    c = client(username=ac.user, password=ac.user_password, client_name=name,
               decode_responses=True)
    keys = one_key_per_master(ac, "acl")
    for k, _m, _r in keys:
        assert c.set(k, "v") is True
        assert c.get(k) == "v"
    assert c.delete(*[k for k, _m, _r in keys]) == 3
    for _k, master, _r in keys:
        conns = conns_named(ac, master, name)
        assert conns and all(f["user"] == ac.user for f in conns), conns


@pytest.mark.parametrize("form", ["user", "password-only"])
def test_from_url_credentials(ac, form):
    if form == "user":
        url = "redis://%s:%s@%s:%d" % (ac.user, ac.user_password, ac.host, ac.port)
    else:
        url = "redis://:%s@%s:%d" % (ac.password, ac.host, ac.port)
    c = RedisCluster.from_url(url, decode_responses=True)
    try:
        k = key_for_slot(7, "url")
        assert c.set(k, "v") is True
        assert c.get(k) == "v"
        assert_no_secret(ac, repr(c), "repr(client)")
        assert_no_secret(ac, repr(c.connection_pool), "repr(pool)")
    finally:
        c.close()


def test_pipeline_with_auth(ac, client):
    c = client(username=ac.user, password=ac.user_password)
    keys = [k for k, _m, _r in one_key_per_master(ac, "pipe")]
    p = c.pipeline()
    for k in keys:
        p.set(k, k)
    for k in keys:
        p.get(k)
    assert p.execute() == [True] * 3 + [k.encode() for k in keys]
    with c.pipeline(transaction=True) as t:
        t.incr(keys[0] + "n").incr(keys[0] + "n")
        assert t.execute() == [1, 2]


def test_replica_reads_with_auth(ac, client):
    """READONLY and the reads on replica connections authenticate too."""
    name = unique_name("rfr")
    c = client(username=ac.user, password=ac.user_password, read_from_replicas=True,
               client_name=name)
    keys = one_key_per_master(ac, "rfr")
    for k, _m, _r in keys:
        c.set(k, k)

    def replicated():
        for k, _m, replica in keys:
            with ac.cluster.conn(replica) as conn:
                conn.call("READONLY")
                if conn.call("GET", k) != k.encode():
                    return False
        return True

    wait_for(replicated, 10, interval=0.005, message="keys on the replicas")
    for i in range(60):
        k = keys[i % 3][0]
        assert c.get(k) == k.encode()
    for _k, _m, replica in keys:
        conns = conns_named(ac, replica, name)
        assert conns and all(f["user"] == ac.user for f in conns), (replica, conns)
        assert any(f["cmd"] == "get" for f in conns), conns


def test_client_name_with_limited_user(ac, client):
    name = unique_name("lim")
    c = client(username=ac.limited_user, password=ac.limited_password, client_name=name)
    k = ac.limited_prefix + "{a}name"
    assert c.set(k, "1") is True
    master = ac.cluster.owner(c.keyslot(k))
    assert [f["user"] for f in conns_named(ac, master, name)] == [ac.limited_user]


# ---------------------------------------------------------------------------
# a user with limited rights


# The server's NOPERM text for a key outside the user's patterns.
NOPERM_TEXT = {"redis": "no permissions to access", "valkey": "No permissions to access"}


def test_limited_user_noperm_is_response_error(ac, client, server):
    c = client(username=ac.limited_user, password=ac.limited_password, decode_responses=True)
    mine = ac.limited_prefix + "x"
    assert c.set(mine, "1") is True
    assert c.get(mine) == "1"
    # a key outside its key pattern
    with pytest.raises(NoPermissionError) as e:
        c.get("rcit:other")
    assert isinstance(e.value, ResponseError)
    assert NOPERM_TEXT[server.name] in str(e.value)
    # a command it may not run, on its own key
    with pytest.raises(ResponseError) as e:
        c.lpush(mine + "l", "a")
    assert isinstance(e.value, NoPermissionError)
    assert "lpush" in str(e.value).lower()
    # the client is still usable afterwards
    assert c.get(mine) == "1"
    # in a pipeline the error is raised (or returned) per command
    p = c.pipeline()
    p.get(mine).get("rcit:other")
    results = p.execute(raise_on_error=False)
    assert results[0] == "1"
    assert isinstance(results[1], NoPermissionError)


def test_limited_user_reads_from_replicas(ac, client):
    c = client(username=ac.limited_user, password=ac.limited_password,
               read_from_replicas=True)
    k = ac.limited_prefix + "{b}rfr"
    assert c.set(k, "v") is True
    # READONLY is allowed to the user; every read succeeds (from the replica
    # once replication caught up, else from either)
    for _ in range(20):
        assert c.get(k) in (b"v", None)
    wait_for(lambda: all(c.get(k) == b"v" for _ in range(4)), 5, message="replicated")


# ---------------------------------------------------------------------------
# wrong credentials


WRONG = [
    pytest.param({"password": "wrong-secret-pw"}, id="wrong-password"),
    pytest.param({"username": "rcuser", "password": "wrong-secret-pw"}, id="wrong-user-password"),
    pytest.param({"username": "nosuchuser", "password": "wrong-secret-pw"}, id="unknown-user"),
    pytest.param({}, id="no-password"),
]


@pytest.mark.parametrize("kwargs", WRONG)
@pytest.mark.parametrize("seeds", ["one", "all"])
def test_wrong_credentials_fail_fast(ac, kwargs, seeds):
    if seeds == "all":
        kwargs = dict(kwargs, startup_nodes=[{"host": ac.host, "port": p} for p in ac.ports])
    else:
        kwargs = dict(kwargs, host=ac.host, port=ac.port)
    before = connections_received(ac)
    t0 = time.monotonic()
    with pytest.raises(AuthenticationError) as e:
        RedisCluster(socket_timeout=5.0, socket_connect_timeout=2.0, **kwargs)
    elapsed = time.monotonic() - t0
    attempts = connections_received(ac) - before - len(ac.ports)
    assert elapsed < 1.0, elapsed
    assert attempts <= 2, "%d connections for one failed authentication" % attempts
    assert isinstance(e.value, ConnectionError)  # redis-py's hierarchy
    assert str(e.value)
    assert_no_secret(ac, "".join(traceback.format_exception(type(e.value), e.value,
                                                            e.value.__traceback__)),
                     "the traceback")


def test_wrong_password_in_url(ac):
    url = "redis://%s:%s@%s:%d" % (ac.user, "wrong-secret-url", ac.host, ac.port)
    with pytest.raises(AuthenticationError) as e:
        RedisCluster.from_url(url)
    assert "wrong-secret-url" not in str(e.value) and "wrong-secret-url" not in repr(e.value)


def test_wrong_password_lazy_discovery_fails_fast(ac):
    c = RedisCluster(host=ac.host, port=ac.port, password="wrong-secret-pw",
                     init_slot_cache=False, socket_timeout=5.0)
    try:
        before = connections_received(ac)
        t0 = time.monotonic()
        err = None
        try:
            c.get("rcit:lazy")
        except Exception as e:  # noqa: BLE001
            err = e
        elapsed = time.monotonic() - t0
        attempts = connections_received(ac) - before - len(ac.ports)
        assert isinstance(err, AuthenticationError), repr(err)
        assert elapsed < 1.0, elapsed
        assert attempts <= 2, attempts
    finally:
        c.close()


# ---------------------------------------------------------------------------
# the password stays secret


def test_password_not_in_repr_errors_or_logs(ac, client, caplog):
    caplog.set_level(logging.DEBUG)
    texts = {}
    c = client(username=ac.user, password=ac.user_password, client_name=unique_name("secret"))
    c2 = client(password=ac.password, read_from_replicas=True)
    for k, _m, _r in one_key_per_master(ac, "secret"):
        c.set(k, "v")
        c2.get(k)
    for name, obj in (("client", c), ("client2", c2), ("pool", c.connection_pool),
                      ("pool2", c2.connection_pool), ("nodes", c.connection_pool.nodes),
                      ("pipeline", c.pipeline())):
        texts["repr(%s)" % name] = repr(obj)
        texts["str(%s)" % name] = str(obj)
    # errors: wrong password, unreachable nodes, a server error, a pipeline error
    errors = []
    for kwargs in ({"host": ac.host, "port": ac.port, "username": ac.user,
                    "password": ac.user_password[::-1]},
                   {"host": "127.0.0.1", "port": 1, "password": ac.password,
                    "socket_connect_timeout": 0.5}):
        try:
            RedisCluster(**kwargs)
        except (RedisClusterException, ConnectionError) as e:
            errors.append(e)
    try:
        c.execute_command("NOSUCHCOMMAND", "x")
    except ResponseError as e:
        errors.append(e)
    try:
        c.pipeline().set("rcit:{p}a", 1).lpush("rcit:{p}a", 1).execute()
    except ResponseError as e:
        errors.append(e)
    assert len(errors) == 4, errors
    for i, e in enumerate(errors):
        texts["error %d" % i] = "".join(
            traceback.format_exception(type(e), e, e.__traceback__)) + repr(e) + str(e.args)
    # log records, at DEBUG, of everything above
    for r in caplog.records:
        texts["log %s" % r.name] = r.getMessage() + repr(r.args)
    for what, text in texts.items():
        assert_no_secret(ac, text, what)
        assert ac.user_password[::-1] not in text, what
