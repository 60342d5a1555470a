"""Topology discovery (csrc/topology.c) against scripted fake nodes.

The C parser of CLUSTER SLOTS gets replies no real server sends -- wrong
types, bad ranges, huge ports, empty answers -- and must turn each into a clear
RedisClusterException (or move on to the next node), never a crash. The
merge and coverage rules of 2.1.3 are checked with nodes that disagree.
"""

import time

import pytest

from fakeserver import _encode, free_port, node_factory, reply
from rediscluster import RedisCluster
from rediscluster.exceptions import (
    AuthenticationError,
    ClusterAuthenticationError,
    RedisClusterException,
)
from rediscluster.nodemanager import NodeManager

try:
    import pytest_timeout  # noqa: F401
except ImportError:
    pytestmark = []
else:
    pytestmark = [pytest.mark.timeout(20)]


@pytest.fixture
def nodes():
    with node_factory() as make:
        yield make


def _manager(*fakes, **kwargs):
    kwargs.setdefault("socket_timeout", 2)
    return NodeManager(startup_nodes=[{"host": "127.0.0.1", "port": f.port} for f in fakes],
                       **kwargs)


def _slots_reply(node, value):
    """The next CLUSTER SLOTS of `node` answers `value` (a Python structure,
    or raw bytes)."""
    raw = value if isinstance(value, bytes) else _encode(value)
    node.on("CLUSTER SLOTS", reply(raw), forever=True)


def _me(node, *extra):
    return ["127.0.0.1", node.port, "id-%d" % node.port] + list(extra)


def _fails_with(nm, *words):
    with pytest.raises(RedisClusterException) as info:
        nm.initialize()
    text = str(info.value)
    for w in words:
        assert w in text, text
    return info.value


# ------------------------------------------------------------------ malformed


MALFORMED = [
    ("an integer", b":5\r\n", "not an array"),
    ("a string", b"$2\r\nno\r\n", "not an array"),
    ("nil", b"$-1\r\n", "not an array"),
    ("entry not an array", [5], "entry 0: not an array of start, end and nodes"),
    ("entry too short", [[0, 16383]], "entry 0: not an array of start, end and nodes"),
    ("start not an integer", [["a", 16383, ["127.0.0.1", 1]]], "not an integer"),
    ("start a list", [[[0], 16383, ["127.0.0.1", 1]]], "not an integer"),
    ("negative start", [[-1, 16383, ["127.0.0.1", 1]]], "slot range -1-16383 is not valid"),
    ("end too big", [[0, 16384, ["127.0.0.1", 1]]], "slot range 0-16384 is not valid"),
    ("reversed range", [[10, 5, ["127.0.0.1", 1]]], "slot range 10-5 is not valid"),
    ("huge end", [[0, 2 ** 63 - 1, ["127.0.0.1", 1]]], "is not valid"),
    ("node not an array", [[0, 16383, "127.0.0.1"]], "a node is not an array of host and port"),
    ("node without port", [[0, 16383, ["127.0.0.1"]]], "a node is not an array of host and port"),
    ("host an integer", [[0, 16383, [7, 1]]], "a node's host is not a string"),
    ("port not a number", [[0, 16383, ["127.0.0.1", "x"]]], "a node's port is not an integer"),
    ("port too big", [[0, 16383, ["127.0.0.1", 70000]]], "port 70000 is not valid"),
    ("port negative", [[0, 16383, ["127.0.0.1", -5]]], "port -5 is not valid"),
    ("port beyond 64 bits", [[0, 16383, ["127.0.0.1", "9" * 30]]], "port is not an integer"),
    ("port 2**63-1", [[0, 16383, ["127.0.0.1", 2 ** 63 - 1]]], "is not valid"),
    ("host too long", [[0, 16383, ["h" * 300, 7000]]], "a host is 300 bytes long"),
    ("host with a space", [[0, 16383, ["bad host", 7000]]], "not printable ASCII"),
    ("host with NUL", [[0, 16383, [b"a\x00b", 7000]]], "not printable ASCII"),
    ("host not UTF-8", [[0, 16383, [b"\xff\xfe", 7000]]], "not printable ASCII"),
    ("bad replica", [[0, 16383, ["127.0.0.1", 7000], ["127.0.0.1"]]], "entry 0: a node is not"),
    ("second entry bad", [[0, 10, ["127.0.0.1", 7000]], [11, 9, ["127.0.0.1", 7000]]],
     "entry 1: slot range 11-9"),
]


@pytest.mark.parametrize("value, problem", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_reply_is_a_clear_error(nodes, value, problem):
    node = nodes()
    _slots_reply(node, value)
    nm = _manager(node)
    _fails_with(nm, "Redis Cluster cannot be connected", "bad CLUSTER SLOTS reply", problem,
                "127.0.0.1:%d" % node.port)
    # nothing was installed, the pool still works
    assert nm.slots == {}
    assert nm.get_redis_link("127.0.0.1", node.port).ping() is True


@pytest.mark.parametrize("decode", [False, True])
def test_malformed_reply_with_decoded_responses(nodes, decode):
    node = nodes()
    _slots_reply(node, [[0, 16383, ["127.0.0.1", "port"]]])
    _fails_with(_manager(node, decode_responses=decode), "port is not an integer")


def test_a_malformed_node_is_skipped_for_a_good_one(nodes):
    bad, good = nodes(), nodes()
    _slots_reply(bad, [[0, 16383, ["127.0.0.1"]]])
    nm = _manager(bad, good)
    for _ in range(4):  # whichever the rotation asks first
        nm.initialize()
        assert len(nm.slots) == 16384
        assert nm.slots[0][0]["name"] == "127.0.0.1:%d" % good.port


def test_empty_reply_is_not_installed(nodes):
    """A node that knows no slot (a lone or new node) never wipes the map."""
    node = nodes()
    _slots_reply(node, [])
    _fails_with(_manager(node, skip_full_coverage_check=True),
                "All slots are not covered after query all startup_nodes. 0 of 16384 covered")


def test_unusable_addresses_leave_their_range_unowned(nodes):
    """Port 0 (no port of that kind) and '?' without an ip: no address."""
    node = nodes()
    _slots_reply(node, [[0, 99, ["127.0.0.1", 0]], [100, 199, ["?", 7000, "id"]],
                        [200, 16383, _me(node)]])
    nm = _manager(node)
    nm.initialize()  # the fake says cluster-require-full-coverage no
    assert sorted(nm.slots)[0] == 200 and len(nm.slots) == 16184


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize("decode", [False, True])
def test_empty_host_is_the_node_asked(nodes, decode):
    node = nodes()
    _slots_reply(node, [[0, 16383, ["", node.port, "id"], ["", node.port + 1, "r"]]])
    nm = _manager(node, decode_responses=decode)
    nm.initialize()
    master, replica = nm.slots[5]
    assert master == {"host": "127.0.0.1", "port": node.port, "name": "127.0.0.1:%d" % node.port,
                      "server_type": "master"}
    assert replica["name"] == "127.0.0.1:%d" % (node.port + 1)
    assert replica["server_type"] == "slave"


@pytest.mark.parametrize("host", ["::1", "[::1]", b"::1"])
def test_ipv6_hosts(nodes, host):
    node = nodes()
    _slots_reply(node, [[0, 16383, [host, 7000, "id"]]])
    nm = _manager(node)
    nm.initialize()
    assert nm.slots[0][0]["host"] == "::1"
    assert nm.slots[0][0]["name"] == "::1:7000"


def test_unknown_endpoint_uses_the_metadata_ip(nodes):
    node = nodes()
    _slots_reply(node, [[0, 16383, ["?", node.port, "id", ["hostname", "", "ip", "127.0.0.1"]]]])
    nm = _manager(node)
    nm.initialize()
    assert nm.slots[0][0]["name"] == "127.0.0.1:%d" % node.port


def test_numeric_strings_are_accepted(nodes):
    """2.1.3 took int() of the numbers: a proxy that sends text works."""
    node = nodes()
    _slots_reply(node, [[b"0", "16383", ["127.0.0.1", str(node.port).encode()]]])
    nm = _manager(node)
    nm.initialize()
    assert len(nm.slots) == 16384


def test_host_port_remap_applies_to_every_address(nodes):
    node = nodes()
    _slots_reply(node, [[0, 16383, ["10.0.0.1", 6379, "m"], ["10.0.0.2", 6379, "r"]]])
    remap = [{"from_host": "10.0.0.1", "to_host": "127.0.0.1", "from_port": 6379,
              "to_port": node.port},
             {"from_host": "10.0.0.2", "to_host": "127.0.0.3"}]
    nm = _manager(node, host_port_remap=remap)
    nm.initialize()
    assert [n["name"] for n in nm.slots[0]] == ["127.0.0.1:%d" % node.port, "127.0.0.3:6379"]
    assert nm.remap_internal_node_object(["10.0.0.2", 1]) == ["127.0.0.3", 1]
    assert nm.remap_internal_node_object(["10.9.9.9", 1]) == ["10.9.9.9", 1]


# ------------------------------------------------------------------ merging


def test_overlapping_ranges_first_owner_wins(nodes):
    node = nodes()
    other = ["127.0.0.2", 7001, "x"]
    # slots 10..14 named twice (5 disagreements: still accepted)
    _slots_reply(node, [[0, 16383, _me(node)], [10, 14, other]])
    nm = _manager(node)
    nm.initialize()
    assert {nm.slots[s][0]["port"] for s in range(16384)} == {node.port}


def test_nodes_that_disagree_on_six_slots_fail(nodes):
    node = nodes()
    _slots_reply(node, [[0, 16383, _me(node)], [100, 105, ["127.0.0.2", 7001, "x"]]])
    err = _fails_with(_manager(node), "startup_nodes could not agree on a valid slots cache.",
                      "127.0.0.1:%d vs 127.0.0.2:7001 on slot: 100" % node.port,
                      "on slot: 105")
    assert str(err).count(" vs ") == 6


def _config_yes(node):
    node.on("CONFIG GET", reply(_encode(["cluster-require-full-coverage", "yes"])),
            forever=True)


def test_partial_answers_are_merged_when_full_coverage_is_required(nodes):
    a, b = nodes(), nodes()
    _config_yes(a)
    _config_yes(b)
    _slots_reply(a, [[0, 8191, _me(a)]])
    _slots_reply(b, [[8192, 16383, _me(b)]])
    nm = _manager(a, b)
    nm.initialize()
    assert nm.slots[0][0]["port"] == a.port and nm.slots[16383][0]["port"] == b.port
    assert a.count("CLUSTER SLOTS") == 1 and b.count("CLUSTER SLOTS") == 1


def test_partial_answers_that_disagree_fail(nodes):
    a, b = nodes(), nodes()
    _config_yes(a)
    _config_yes(b)
    _slots_reply(a, [[0, 8191, _me(a)]])
    _slots_reply(b, [[0, 8191, _me(b)]])
    _fails_with(_manager(a, b), "could not agree")


def test_partial_map_kept_when_no_node_requires_full_coverage(nodes):
    node = nodes()
    _slots_reply(node, [[0, 99, _me(node)]])
    nm = _manager(node)
    nm.initialize()
    assert len(nm.slots) == 100
    assert node.count("CONFIG GET") == 1


def test_partial_map_refused_when_full_coverage_is_required(nodes):
    node = nodes()
    _config_yes(node)
    _slots_reply(node, [[0, 99, _me(node)]])
    _fails_with(_manager(node),
                "All slots are not covered after query all startup_nodes. 100 of 16384 covered")


def test_skip_full_coverage_check_asks_no_config(nodes):
    node = nodes()
    _config_yes(node)
    _slots_reply(node, [[0, 99, _me(node)]])
    nm = _manager(node, skip_full_coverage_check=True)
    nm.initialize()
    assert len(nm.slots) == 100 and node.count("CONFIG") == 0


def test_config_error_is_2_1_3s_error(nodes):
    node = nodes()
    node.on("CONFIG GET", reply(b"-ERR unknown command 'CONFIG'\r\n"), forever=True)
    _slots_reply(node, [[0, 99, _me(node)]])
    err = _fails_with(_manager(node),
                      "ERROR sending 'config get cluster-require-full-coverage' command to "
                      "redis server: {'host': '127.0.0.1', 'port': %d}" % node.port)
    assert "unknown command" in str(err.__cause__)


# ------------------------------------------------------------------ errors


def test_clusterdown_moves_on_to_the_next_node(nodes):
    down, good = nodes(), nodes()
    _slots_reply(down, b"-CLUSTERDOWN The cluster is down\r\n")
    nm = _manager(down, good)
    nm.initialize()
    assert len(nm.slots) == 16384
    _fails_with(_manager(down), "cannot be connected",
                "127.0.0.1:%d: ClusterDownError: The cluster is down" % down.port)


def test_other_error_reply_is_2_1_3s_error(nodes):
    node = nodes()
    _slots_reply(node, b"-ERR This instance has cluster support disabled\r\n")
    err = _fails_with(_manager(node), "ERROR sending 'cluster slots' command to redis server: "
                      "{'host': '127.0.0.1', 'port': %d}" % node.port)
    assert "cluster support disabled" in str(err.__cause__)


def test_unreachable_nodes(nodes):
    port = free_port()
    nm = NodeManager(startup_nodes=[{"host": "127.0.0.1", "port": port}], socket_timeout=1)
    _fails_with(nm, "Redis Cluster cannot be connected. Please provide at least one "
                "reachable node.", "127.0.0.1:%d" % port)


def test_refused_credentials_propagate(nodes):
    node = nodes()
    node.on("AUTH", reply(b"-WRONGPASS invalid username-password pair\r\n"), forever=True)
    with pytest.raises(ClusterAuthenticationError) as info:
        _manager(node, password="nope").initialize()
    assert isinstance(info.value, AuthenticationError)
    assert "invalid username-password pair" in str(info.value)
    with pytest.raises(ClusterAuthenticationError):
        RedisCluster(host="127.0.0.1", port=node.port, password="nope", socket_timeout=2)


def test_a_failed_refresh_keeps_the_map(nodes):
    """The engine's own refreshes swallow discovery errors: the last good
    map stays (and commands keep working)."""
    node = nodes()
    rc = RedisCluster(host="127.0.0.1", port=node.port, socket_timeout=2)
    epoch = rc.connection_pool._epoch
    _slots_reply(node, [[0, 16383, ["127.0.0.1", 70000]]])
    rc.connection_pool._refresh(True)
    assert rc.connection_pool._stats()["refreshes"] == 2
    assert rc.connection_pool._epoch == epoch
    assert rc.get("k") is None
    with pytest.raises(RedisClusterException, match="port 70000"):
        rc.connection_pool.nodes.initialize()


def test_integer_beyond_64_bits_is_a_protocol_error(nodes):
    node = nodes()
    _slots_reply(node, b"*1\r\n*3\r\n:0\r\n:99999999999999999999999\r\n*2\r\n$9\r\n127.0.0.1\r\n:1\r\n")
    _fails_with(_manager(node), "cannot be connected", "127.0.0.1:%d" % node.port)


# ------------------------------------------------------------------ candidates


def _owned_by(node, owner):
    _slots_reply(node, [[0, 16383, ["127.0.0.1", owner.port, "id"]]])


@pytest.mark.parametrize("follow", [False, True])
def test_nodemanager_follow_cluster(nodes, follow):
    """With follow, the last topology's nodes are asked before the startup
    nodes; without, the startup nodes first (then every known node)."""
    seed, owner = nodes(), nodes()
    _owned_by(seed, owner)
    _owned_by(owner, owner)
    nm = _manager(seed, nodemanager_follow_cluster=follow)
    nm.initialize()
    assert seed.count("CLUSTER SLOTS") == 1 and owner.count("CLUSTER SLOTS") == 0
    for _ in range(3):
        nm.initialize()
    if follow:
        assert seed.count("CLUSTER SLOTS") == 1 and owner.count("CLUSTER SLOTS") == 3
        assert nm.startup_nodes == [{"host": "127.0.0.1", "port": owner.port,
                                     "name": "127.0.0.1:%d" % owner.port}]
    else:
        assert seed.count("CLUSTER SLOTS") == 4 and owner.count("CLUSTER SLOTS") == 0
        assert nm.startup_nodes == [{"host": "127.0.0.1", "port": seed.port,
                                     "name": "127.0.0.1:%d" % seed.port}]


def test_known_nodes_are_asked_when_the_startup_nodes_are_gone(nodes):
    seed, owner = nodes(), nodes()
    _owned_by(seed, owner)
    _owned_by(owner, owner)
    nm = _manager(seed)
    nm.initialize()
    seed.stop()
    nm.initialize()
    assert owner.count("CLUSTER SLOTS") == 1


def test_startup_nodes_are_asked_in_a_random_rotation(nodes):
    fakes = [nodes() for _ in range(3)]
    for f in fakes:
        _owned_by(f, fakes[0])
    nm = _manager(*fakes)
    for _ in range(30):
        nm.initialize()
    counts = [f.count("CLUSTER SLOTS") for f in fakes]
    assert sum(counts) == 30 and min(counts) > 0, counts


# ------------------------------------------------------------------ periodic check


def test_topology_check_interval(nodes):
    node = nodes()
    rc = RedisCluster(host="127.0.0.1", port=node.port, socket_timeout=2,
                      topology_check_interval=0.3)
    assert node.count("CLUSTER SLOTS") == 1
    for _ in range(20):
        rc.get("k")
    assert node.count("CLUSTER SLOTS") == 1
    time.sleep(0.35)
    assert node.count("CLUSTER SLOTS") == 1  # no background thread
    rc.get("k")  # the next command after the interval refreshes once
    assert node.count("CLUSTER SLOTS") == 2
    for _ in range(20):
        rc.get("k")
    assert node.count("CLUSTER SLOTS") == 2
    time.sleep(0.35)
    rc.pipeline().get("a").get("b").execute()  # any operation
    assert node.count("CLUSTER SLOTS") == 3


def test_topology_check_interval_off_by_default(nodes):
    node = nodes()
    rc = RedisCluster(host="127.0.0.1", port=node.port, socket_timeout=2)
    assert rc.connection_pool.nodes.nodemanager_follow_cluster is False
    time.sleep(0.3)
    for _ in range(5):
        rc.get("k")
    assert node.count("CLUSTER SLOTS") == 1


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), ("soon", TypeError),
                                      (float("nan"), ValueError)])
def test_topology_check_interval_validation(nodes, bad, exc):
    node = nodes()
    with pytest.raises(exc, match="topology_check_interval"):
        RedisCluster(host="127.0.0.1", port=node.port, topology_check_interval=bad)


def test_topology_check_interval_in_urls(nodes):
    node = nodes()
    rc = RedisCluster.from_url("redis://127.0.0.1:%d?topology_check_interval=0.2" % node.port,
                               socket_timeout=2)
    time.sleep(0.25)
    rc.get("k")
    assert node.count("CLUSTER SLOTS") == 2
    with pytest.raises(ValueError, match="topology_check_interval"):
        RedisCluster.from_url("redis://127.0.0.1:%d?topology_check_interval=x" % node.port)
