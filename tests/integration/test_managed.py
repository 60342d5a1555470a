"""Managed-service set-ups: CONFIG renamed away, addresses to remap, startup
nodes that follow the cluster.

The CONFIG and host_port_remap tests run on the auth cluster (password, CONFIG
renamed, also listening on 127.0.0.2: ``auth_cluster`` fixture; they skip when
it is not running); nodemanager_follow_cluster runs on the main test cluster.

Contract (issue 5): skip_full_coverage_check=True works against nodes where
CONFIG is renamed away; host_port_remap rewrites the addresses CLUSTER SLOTS
reports; nodemanager_follow_cluster keeps its meaning.
"""

import socket
import uuid

import pytest

from rediscluster import RedisCluster
from rediscluster.exceptions import RedisClusterConfigError, RedisClusterException

from rcit import RespError, key_for_slot, wait_for

pytestmark = pytest.mark.timeout(120)

ALIAS = "127.0.0.2"  # a second loopback address (Linux: no set-up needed)


@pytest.fixture
def ac(auth_cluster):
    auth_cluster.cluster.delete_test_keys()
    yield auth_cluster
    auth_cluster.cluster.delete_test_keys()


@pytest.fixture
def client(auth_cluster):
    made = []

    def make(**kwargs):
        kwargs.setdefault("socket_timeout", 5.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        kwargs.setdefault("password", auth_cluster.password)
        if "startup_nodes" not in kwargs:
            kwargs.setdefault("host", auth_cluster.host)
            kwargs.setdefault("port", auth_cluster.port)
        c = RedisCluster(**kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def keys_per_master(cluster, stem, exclude=()):
    """{master port: key in the first slot it serves}."""
    out = {}
    for start, _end, master, _r in cluster.slots_view():
        if master not in out and master not in exclude:
            out[master] = key_for_slot(start, stem)
    return out


# ---------------------------------------------------------------------------
# CONFIG renamed away


@pytest.fixture
def no_config(ac):
    """The auth cluster's nodes have CONFIG renamed away (--no-config)."""
    try:
        ac.raw(ac.port, "CONFIG", "GET", "cluster-require-full-coverage")
    except RespError as e:
        assert "unknown command" in str(e), e
        return ac
    pytest.skip("the auth cluster was started without --no-config: CONFIG works there")


def test_config_is_renamed_away(no_config):
    with pytest.raises(RespError, match="unknown command"):
        no_config.raw(no_config.port, "CONFIG", "SET", "maxmemory", "0")


@pytest.mark.parametrize("skip", [True, False])
def test_full_coverage_needs_no_config(ac, no_config, client, skip):
    """All slots covered: the client never needs CONFIG, with or without the
    flag (2.1.3 sent CONFIG GET cluster-require-full-coverage at every
    discovery unless skip_full_coverage_check=True, and failed here)."""
    c = client(skip_full_coverage_check=skip)
    assert len(c.connection_pool.nodes.slots) == 16384
    for k in keys_per_master(ac.cluster, "cov").values():
        assert c.set(k, "v") is True
        assert c.get(k) == b"v"
    c.connection_pool.nodes.initialize()  # a rediscovery too
    assert c.get(k) == b"v"


@pytest.fixture
def uncovered_slot(ac, no_config, auth_cluster_script):
    """Make one slot unassigned in its owner's view (CLUSTER DELSLOTS there only:
    the other nodes still map it), yield (slot, owner); assign it back after."""
    owner = ac.port
    slot = ac.cluster.slots_of(owner)[-1]
    assert ac.raw(owner, "CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    ac.raw(owner, "CLUSTER", "DELSLOTS", slot)
    try:
        wait_for(lambda: ac.cluster.owner(slot, owner) is None, 5,
                 message="slot %d unassigned on %d" % (slot, owner))
        yield slot, owner
    finally:
        ac.raw(owner, "CLUSTER", "ADDSLOTS", slot)
        ac.cluster.wait_owner(slot, owner)
        auth_cluster_script("wait", timeout=120)


def test_partial_coverage_without_skip_is_a_clear_error(ac, client, uncovered_slot):
    slot, owner = uncovered_slot
    with pytest.raises(RedisClusterException) as e:
        client(startup_nodes=[{"host": ac.host, "port": owner}])
    msg = str(e.value)
    # the original's message: which command failed on which node
    assert "config get cluster-require-full-coverage" in msg.lower(), msg
    assert str(owner) in msg, msg
    # and the traceback shows why: the server's reply
    assert "unknown command" in str(e.value.__context__ or e.value.__cause__), (
        repr(e.value.__context__))


def test_partial_coverage_with_skip_works(ac, client, uncovered_slot):
    slot, owner = uncovered_slot
    c = client(startup_nodes=[{"host": ac.host, "port": owner}],
               skip_full_coverage_check=True)
    slots = c.connection_pool.nodes.slots
    assert slot not in slots and len(slots) == 16383
    # (the owner itself is in cluster_state:fail now: use the other masters)
    for k in keys_per_master(ac.cluster, "skip", exclude=(owner,)).values():
        assert c.set(k, "v") is True
        assert c.get(k) == b"v"


# ---------------------------------------------------------------------------
# host_port_remap


@pytest.fixture
def alias(ac):
    try:
        socket.create_connection((ALIAS, ac.port), timeout=1.0).close()
    except OSError as e:
        pytest.skip("the auth cluster does not listen on %s (%s); Linux routes all of "
                    "127.0.0.0/8 to lo, other systems need an alias" % (ALIAS, e))
    return ALIAS


def laddrs(ac, port, name):
    """Local (server-side) addresses of the connections named ``name``."""
    text = ac.raw(port, "CLIENT", "LIST").decode()
    out = []
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split(" ") if "=" in f)
        if fields.get("name") == name:
            out.append(fields["laddr"])
    return out


@pytest.mark.parametrize("read_from_replicas", [False, True])
def test_host_port_remap_to_another_loopback_address(ac, client, alias, read_from_replicas):
    name = "rcit-remap-%s" % uuid.uuid4().hex[:8]
    c = client(host=alias, port=ac.port, client_name=name,
               read_from_replicas=read_from_replicas,
               host_port_remap=[{"from_host": "127.0.0.1", "to_host": alias}])
    nodes = c.connection_pool.nodes.nodes
    assert sorted(nodes) == ["%s:%d" % (alias, p) for p in ac.ports], sorted(nodes)
    assert {n["host"] for n in nodes.values()} == {alias}
    for slot_nodes in (c.connection_pool.nodes.slots[0], c.connection_pool.nodes.slots[16383]):
        assert [n["host"] for n in slot_nodes] == [alias] * 2
    keys = keys_per_master(ac.cluster, "remap")
    for k in keys.values():
        assert c.set(k, "v") is True
        for _ in range(4):
            assert c.get(k) == b"v"
    # every connection the client made goes to the alias address
    used = set()
    for p in ac.ports:
        for laddr in laddrs(ac, p, name):
            assert laddr == "%s:%d" % (alias, p), (p, laddr)
            used.add(p)
    assert set(keys) <= used, used
    if read_from_replicas:
        assert len(used) == 6, used


def test_host_port_remap_ports_and_first_rule_wins(ac, client, alias):
    # the first rule that matches applies: the seed node goes to the alias by a
    # host+port rule, the others by the host rule; a rule for a port that no
    # node has changes nothing
    rules = [
        {"from_host": "127.0.0.1", "from_port": ac.port, "to_host": alias, "to_port": ac.port},
        {"from_port": 1, "to_port": 2},
        {"from_host": "127.0.0.1", "to_host": alias},
    ]
    c = client(host=alias, port=ac.port, host_port_remap=rules)
    assert sorted(c.connection_pool.nodes.nodes) == ["%s:%d" % (alias, p) for p in ac.ports]
    k = key_for_slot(0, "rules")
    assert c.set(k, "v") is True and c.get(k) == b"v"


@pytest.mark.parametrize("bad", [
    {"from_host": "127.0.0.1"},
    {"from_port": 1},
    {"from_host": "localhost", "to_host": "127.0.0.2"},
    {"from_host": "127.0.0", "to_host": "127.0.0.2"},
    {"from_port": "x", "to_port": 1},
    {"bad_key": 1},
])
def test_host_port_remap_validation(cluster_addr, bad):
    with pytest.raises(RedisClusterConfigError):
        RedisCluster(host=cluster_addr[0], port=cluster_addr[1], host_port_remap=[bad])


def test_host_port_remap_must_be_list_of_dicts(cluster_addr):
    for bad in ({"from_host": "127.0.0.1", "to_host": "127.0.0.2"}, ["x"]):
        with pytest.raises(RedisClusterConfigError):
            RedisCluster(host=cluster_addr[0], port=cluster_addr[1], host_port_remap=bad)


# ---------------------------------------------------------------------------
# nodemanager_follow_cluster (main test cluster)


def test_follow_cluster_startup_nodes_are_the_discovered_nodes(new_client, cluster):
    c = new_client(nodemanager_follow_cluster=True)
    names = sorted(n["name"] for n in c.connection_pool.nodes.startup_nodes)
    assert names == sorted("%s:%d" % (cluster.host, p) for p in cluster.ports)


def test_without_follow_cluster_startup_nodes_stay(new_client, cluster_addr):
    c = new_client()
    nodes = c.connection_pool.nodes
    assert [(n["host"], int(n["port"])) for n in nodes.startup_nodes] == [cluster_addr]
    nodes.initialize()
    assert [(n["host"], int(n["port"])) for n in nodes.startup_nodes] == [cluster_addr]
    assert repr(c) == "RedisCluster<%s:%d>" % cluster_addr


@pytest.mark.slow
def test_follow_cluster_rediscovers_when_the_seed_is_gone(cluster_addr, cluster, cluster_script,
                                                         flush, healthy_after):
    """Seeded with one replica only; that replica stops; a rediscovery still
    works from the startup nodes the client followed."""
    seed = cluster.replica_of(cluster.masters()[0])
    c = RedisCluster(host=cluster.host, port=seed, nodemanager_follow_cluster=True,
                     socket_timeout=2.0, socket_connect_timeout=1.0)
    try:
        assert len(c.connection_pool.nodes.startup_nodes) == 6
        cluster_script("stop-node", seed)
        c.connection_pool.nodes.initialize()
        assert len(c.connection_pool.nodes.slots) == 16384
        k = key_for_slot(1, "follow")
        assert c.set(k, "v") is True and c.get(k) == b"v"
    finally:
        c.close()
