"""The original's ``NodeManager``: a view of the engine's topology.

Discovery is the C engine's (``csrc/topology.c``): it asks the startup nodes
for ``CLUSTER SLOTS`` (then every known node), applies ``host_port_remap`` and
the full-coverage rule, and installs the result in the node table and slot map
-- when ``initialize()`` is called, and by itself, single-flight and
rate-limited, when MOVED replies pile up, a node fails, or
``topology_check_interval`` passed. ``nodes`` and ``slots`` are built from the
engine's current map on first access after a change, so MOVED patches show
there too. A ``NodeManager`` made on its own (no client) owns a private engine
pool.
"""

import random
import socket
import struct

from .exceptions import RedisClusterConfigError, RedisClusterException

ROLE_UNKNOWN, ROLE_MASTER, ROLE_REPLICA = 0, 1, 2
_NO_NODE = 0xFFFF
_SERVER_TYPE = {ROLE_MASTER: "master", ROLE_REPLICA: "slave"}


def _canonical_remap(rules):
    """host_port_remap dicts (validated) -> the engine's (from_host, from_port,
    to_host, to_port) tuples, None for a part not given."""
    if not rules:
        return None

    def port(v):
        return None if v is None else int(v)

    return [(r.get("from_host"), port(r.get("from_port")), r.get("to_host"),
             port(r.get("to_port"))) for r in rules]


class NodeManager:
    """Cluster topology: ``nodes`` (name -> node dict), ``slots`` (slot -> [master,
    replicas...]) and ``startup_nodes``, as redis-py-cluster 2.1.3 exposes them."""

    REDIS_CLUSTER_HASH_SLOTS = 16384
    RedisClusterHashSlots = 16384

    def __init__(
        self,
        startup_nodes=None,
        reinitialize_steps=None,
        skip_full_coverage_check=False,
        nodemanager_follow_cluster=False,
        host_port_remap=None,
        pool=None,
        **connection_kwargs
    ):
        if not startup_nodes:
            raise RedisClusterException("No startup nodes provided")
        self._startup_nodes = list(startup_nodes)
        self.orig_startup_nodes = list(self._startup_nodes)
        for node in self._startup_nodes:
            self.set_node_name(node)
        self.reinitialize_steps = reinitialize_steps or 25
        self.reinitialize_counter = 0
        self._skip_full_coverage_check = skip_full_coverage_check
        self.nodemanager_follow_cluster = nodemanager_follow_cluster
        self.host_port_remap = host_port_remap
        self._validate_host_port_remap(host_port_remap)
        connection_kwargs.pop("max_connections", None)  # 2.1.3's pool passes it
        self.connection_kwargs = connection_kwargs
        if pool is None:
            # On its own (no client): a private engine pool to talk to nodes.
            pool = self._make_pool(connection_kwargs, skip_full_coverage_check,
                                   host_port_remap=_canonical_remap(host_port_remap))
        self._pool = pool
        self._links = {}
        self._view_epoch = None
        self._nodes = {}
        self._slots = {}
        self._follow_installs = 0
        self._seed_engine(self.orig_startup_nodes)

    @staticmethod
    def _make_pool(connection_kwargs, skip_full_coverage_check=False, **extra):
        from . import _core
        from .connection import _core_options

        options = _core_options(connection_kwargs)
        options.update(extra)
        return _core.Pool(skip_full_coverage_check=bool(skip_full_coverage_check), **options)

    @property
    def encoder(self):
        """An ``Encoder`` with the connection options' encoding (2.1.3's attribute)."""
        from .connection import _encoder_for

        return _encoder_for(self.connection_kwargs)

    def get_redis_link(self, host, port, decode_responses=False):
        """A client of the one node ``host:port``: ``execute_command`` and the
        command methods go to that node only (errors such as MOVED are raised,
        fan-out commands answer for that node alone), as 2.1.3's
        ``redis.Redis`` link."""
        from .client import NodeClient

        pool = self._links.get(bool(decode_responses))
        if pool is None:
            options = dict(self.connection_kwargs, decode_responses=bool(decode_responses))
            pool = self._links[bool(decode_responses)] = self._make_pool(options)
        return NodeClient(pool, host, int(port))

    @property
    def startup_nodes(self):
        """The startup nodes, as given (``name`` added). With
        ``nodemanager_follow_cluster``, every node of the last topology
        discovered (masters and replicas) once there is one."""
        if self.nodemanager_follow_cluster:
            installs = self._pool._installs
            if installs != self._follow_installs:
                self._follow_installs = installs
                self._startup_nodes = [{"host": n["host"], "port": n["port"], "name": n["name"]}
                                       for n in self.nodes.values()]
        return self._startup_nodes

    @startup_nodes.setter
    def startup_nodes(self, value):
        self._startup_nodes = value

    def _seed_engine(self, nodes):
        """Give the engine the nodes its discovery asks first."""
        self._pool._set_startup_nodes([(str(n["host"]), int(n["port"])) for n in nodes],
                                      bool(self.nodemanager_follow_cluster))

    def populate_startup_nodes(self):
        """Add every known node to ``startup_nodes`` (duplicates removed)."""
        for item in self.startup_nodes:
            self.set_node_name(item)
        for node in self.nodes.values():
            if node not in self.startup_nodes:
                self.startup_nodes.append(node)
        unique = {}
        for node in self.startup_nodes:
            unique.setdefault((node["host"], str(node["port"])), node)
        self.startup_nodes = list(unique.values())

    # ------------------------------------------------------------ helpers

    def keyslot(self, key):
        """Slot of a key, encoded as the client encodes it (C)."""
        return self._pool.keyslot(key)

    @staticmethod
    def make_node_obj(host, port, server_type):
        """A node dict ``{host, port, name, server_type}`` and its name."""
        name = "{0}:{1}".format(host, port)
        return {"host": host, "port": port, "name": name, "server_type": server_type}, name

    @staticmethod
    def set_node_name(n):
        """Add ``name`` ("host:port") to a node dict that lacks it."""
        if "name" not in n:
            n["name"] = "{0}:{1}".format(n["host"], n["port"])

    def set_node(self, host, port, server_type=None):
        """Record a node under its name and return its dict."""
        node, name = self.make_node_obj(host, port, server_type)
        self.nodes[name] = node
        return node

    # ------------------------------------------------------------ views

    def _refresh_view(self):
        epoch, nodes, slots = self._pool._topology()
        if epoch == self._view_epoch:
            return
        objs = []
        by_name = {}
        for host, port, name, role, master, in_topo in nodes:
            node = {"host": host, "port": port, "name": name,
                    "server_type": _SERVER_TYPE.get(role)}
            objs.append((node, role, master, in_topo))
            if in_topo or role:
                by_name[name] = node
        replicas = {}
        for i, (node, role, master, in_topo) in enumerate(objs):
            if role == ROLE_REPLICA and master >= 0 and in_topo:
                replicas.setdefault(master, []).append(node)
        table = struct.unpack("=16384H", slots)
        slot_map = {}
        cache = {}
        for slot, idx in enumerate(table):
            if idx == _NO_NODE:
                continue
            entry = cache.get(idx)
            if entry is None:
                entry = cache[idx] = [objs[idx][0]] + replicas.get(idx, [])
            slot_map[slot] = list(entry)
        self._nodes, self._slots, self._view_epoch = by_name, slot_map, epoch

    @property
    def nodes(self):
        self._refresh_view()
        return self._nodes

    @property
    def slots(self):
        self._refresh_view()
        return self._slots

    def all_nodes(self):
        """Iterate over every node (masters and replicas)."""
        for node in self.nodes.values():
            yield node

    def all_masters(self):
        """Iterate over the masters."""
        for node in self.nodes.values():
            if node["server_type"] == "master":
                yield node

    def node_from_slot(self, slot):
        """The master serving ``slot``."""
        for node in self.slots[slot]:
            if node["server_type"] == "master":
                return node
        return None

    def random_startup_node(self):
        """A startup node, chosen at random (shuffles the list)."""
        random.shuffle(self.startup_nodes)
        return self.startup_nodes[0]

    def random_startup_node_ittr(self):
        """An endless iterator of random startup nodes."""
        while True:
            yield random.choice(self.startup_nodes)

    def random_node(self):
        """A random node of the cluster."""
        return random.choice(list(self.nodes.values()))

    # ------------------------------------------------------------ discovery

    def remap_internal_node_object(self, node_obj):
        """Apply ``host_port_remap`` to a ``[host, port, ...]`` entry (in
        place; the engine's rules: the first that applies)."""
        if not self.host_port_remap:
            return node_obj
        node_obj[0], node_obj[1] = self._pool._remap_address(str(node_obj[0]), int(node_obj[1]))
        return node_obj

    @staticmethod
    def _validate_host_port_remap(host_port_remap):
        if host_port_remap is None:
            return
        if not isinstance(host_port_remap, list):
            raise RedisClusterConfigError("host_port_remap must be a list")
        for item in host_port_remap:
            if not isinstance(item, dict):
                raise RedisClusterConfigError("items inside host_port_remap list must be of dict type")
            allowed = {"from_host", "from_port", "to_host", "to_port"}
            if set(item) - allowed:
                raise RedisClusterConfigError(
                    "invalid key(s) in host_port_remap item: {0}".format(sorted(set(item) - allowed)))
            if ("from_host" in item) != ("to_host" in item):
                raise RedisClusterConfigError("from_host and to_host must come together")
            if ("from_port" in item) != ("to_port" in item):
                raise RedisClusterConfigError("from_port and to_port must come together")
            for k in ("from_host", "to_host"):
                if k in item:
                    try:
                        socket.inet_aton(item[k])
                    except (OSError, TypeError):
                        raise RedisClusterConfigError("{0} must be an IPv4 address".format(k))
                    if len(str(item[k]).split(".")) != 4:
                        raise RedisClusterConfigError("{0} must be a full IPv4 address".format(k))
            for k in ("from_port", "to_port"):
                if k in item:
                    try:
                        int(item[k])
                    except (TypeError, ValueError):
                        raise RedisClusterConfigError("{0} must be an int".format(k))

    def cluster_require_full_coverage(self, nodes_cache):
        """True if any node says cluster-require-full-coverage yes (a node
        that cannot be reached counts as no). ``nodes_cache``: 2.1.3's
        ``{name: node dict}`` (or an iterable of node dicts); empty: the
        current ``nodes``. RedisClusterException for any other error."""
        nodes = nodes_cache or self.nodes
        if isinstance(nodes, dict):
            nodes = nodes.values()
        return any(self._pool._require_full_coverage(str(n["host"]), int(n["port"]))
                   for n in nodes)

    def initialize(self):
        """Discover the topology and install it in the engine (the nodes
        asked first: ``orig_startup_nodes``, or with
        ``nodemanager_follow_cluster`` the ``startup_nodes``). Single flight
        with the engine's own refreshes: if one is running, this waits for it
        instead of asking the nodes a second time. RedisClusterException if
        no usable slot map came."""
        self._seed_engine(self.startup_nodes if self.nodemanager_follow_cluster
                          else self.orig_startup_nodes)
        self._pool._refresh_now()
        self.reinitialize_counter = 0

    def increment_reinitialize_counter(self, ct=1, count=1):
        """Count MOVED replies; rediscover every ``reinitialize_steps``."""
        for _ in range(min(ct, self.reinitialize_steps)):
            self.reinitialize_counter += count
            if self.reinitialize_counter % self.reinitialize_steps == 0:
                self.initialize()

    def reset(self):
        """Rediscover the topology."""
        self.initialize()
