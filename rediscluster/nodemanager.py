"""Topology discovery and the original's ``NodeManager`` view of it.

Discovery sends ``CLUSTER SLOTS`` to the startup nodes (then to every node known)
through the engine and installs the result in the C slot map with
``pool._set_topology``. The C engine calls ``initialize`` itself, single-flight and
rate-limited, when MOVED replies pile up or a node fails. ``nodes`` and ``slots``
are built from the engine's current map on first access after a change, so MOVED
patches show there too.
"""

import random
import socket
import struct

from .exceptions import (
    AuthenticationError,
    ClusterAuthenticationError,
    ConnectionError,
    RedisClusterConfigError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)

ROLE_UNKNOWN, ROLE_MASTER, ROLE_REPLICA = 0, 1, 2
_NO_NODE = 0xFFFF
_SERVER_TYPE = {ROLE_MASTER: "master", ROLE_REPLICA: "slave"}


def _text(v):
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


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
        self.startup_nodes = list(startup_nodes)
        self.orig_startup_nodes = list(self.startup_nodes)
        for node in self.startup_nodes:
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
            pool = self._make_pool(connection_kwargs, skip_full_coverage_check)
        self._pool = pool
        self._links = {}
        self._view_epoch = None
        self._nodes = {}
        self._slots = {}

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

    def _candidates(self):
        seeds = self.startup_nodes if self.nodemanager_follow_cluster else self.orig_startup_nodes
        seen, out = set(), []
        # Seeds first, in a random rotation (so many clients do not all ask the
        # same node), then every node the engine knows.
        seeds = list(seeds)
        if len(seeds) > 1:
            k = random.randrange(len(seeds))
            seeds = seeds[k:] + seeds[:k]
        known = []
        try:
            known = [{"host": h, "port": p} for h, p, _n, role, _m, in_topo
                     in self._pool._topology()[1] if in_topo]
        except Exception:
            pass
        random.shuffle(known)
        for node in seeds + known:
            key = (node["host"], int(node["port"]))
            if key not in seen:
                seen.add(key)
                out.append(node)
        return out

    def remap_internal_node_object(self, node_obj):
        """Apply ``host_port_remap`` to a ``[host, port, ...]`` entry."""
        if not self.host_port_remap:
            return node_obj
        for rule in self.host_port_remap:
            if self._remap_rule_applies(rule, node_obj):
                if "to_host" in rule:
                    node_obj[0] = rule["to_host"]
                if "to_port" in rule:
                    node_obj[1] = int(rule["to_port"])
                break
        return node_obj

    @staticmethod
    def _remap_rule_applies(rule, node_obj):
        if "from_host" in rule and not NodeManager._ips_equal(rule["from_host"], node_obj[0]):
            return False
        if "from_port" in rule and int(rule["from_port"]) != int(node_obj[1]):
            return False
        return True

    @staticmethod
    def _ips_equal(a, b):
        try:
            return socket.inet_aton(a) == socket.inet_aton(b)
        except OSError:
            return a == b

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

    def _parse_slots(self, reply, asked_host):
        """CLUSTER SLOTS reply -> (node list for _set_topology, slot table)."""
        index = {}
        nodes = []
        table = [_NO_NODE] * 16384

        def node_index(raw, role, master):
            host = _text(raw[0]) if raw[0] not in (None, b"", "") else asked_host
            port = int(raw[1])
            host, port = self.remap_internal_node_object([host, port])[:2]
            key = (host, int(port))
            if key not in index:
                index[key] = len(nodes)
                nodes.append([host, int(port), role, master])
            else:
                i = index[key]
                if role == ROLE_MASTER:
                    nodes[i][2], nodes[i][3] = ROLE_MASTER, -1
            return index[key]

        for entry in reply:
            start, end = int(entry[0]), int(entry[1])
            if not (0 <= start <= end < 16384):
                raise RedisClusterException("CLUSTER SLOTS returned a bad range {0}-{1}".format(start, end))
            m = node_index(entry[2], ROLE_MASTER, -1)
            for replica in entry[3:]:
                node_index(replica, ROLE_REPLICA, m)
            for s in range(start, end + 1):
                table[s] = m
        return [tuple(n) for n in nodes], table

    def cluster_require_full_coverage(self, nodes):
        """True if any node says cluster-require-full-coverage yes. ``nodes``:
        2.1.3's ``{name: node dict}`` (or node dicts), or discovery's
        ``(host, port, role, master)`` tuples."""
        if isinstance(nodes, dict):
            nodes = nodes.values()
        for node in nodes:
            host, port = (node["host"], int(node["port"])) if isinstance(node, dict) \
                else (node[0], node[1])
            try:
                reply = self._pool._node_command(host, port, "CONFIG", "GET",
                                                 "cluster-require-full-coverage")
            except ConnectionError:
                continue
            except Exception:
                raise RedisClusterException(
                    "ERROR sending 'config get cluster-require-full-coverage' command to "
                    "redis server: {0}".format({"host": host, "port": port}))
            if any(_text(v) == "yes" for v in reply or ()):
                return True
        return False

    def initialize(self):
        """Discover the topology and install it in the engine. Single flight
        with the engine's own refreshes: if one is running, this waits for it
        instead of asking the nodes a second time."""
        pool = self._pool
        if pool is not None and getattr(pool, "_refresh_callback", None) == self._initialize:
            pool._refresh_now()
        else:
            self._initialize()

    def _initialize(self):
        """Discovery itself: CLUSTER SLOTS from the startup nodes (then every
        node known) until one gives a usable map."""
        pool = self._pool
        last_covered = None
        last_error = None
        answered = False
        for node in self._candidates():
            host, port = node["host"], int(node["port"])
            try:
                reply = pool._node_command(host, port, "CLUSTER", "SLOTS")
            except AuthenticationError as e:
                if isinstance(e, RedisClusterException):
                    raise
                raise ClusterAuthenticationError(*e.args) from e
            except (ConnectionError, TimeoutError) as e:
                name = "{0}:{1}".format(host, port)
                last_error = str(e) if name in str(e) else "{0}: {1}".format(name, e)
                continue
            except ResponseError as e:
                if "CLUSTERDOWN" in str(e) or "MASTERDOWN" in str(e):
                    continue
                raise RedisClusterException(
                    "ERROR sending 'cluster slots' command to redis server: {0}".format(
                        {"host": host, "port": port}))
            except Exception:
                raise RedisClusterException(
                    "ERROR sending 'cluster slots' command to redis server: {0}".format(
                        {"host": host, "port": port}))
            answered = True
            nodes, table = self._parse_slots(reply, host)
            covered = sum(1 for s in table if s != _NO_NODE)
            if covered < 16384 and not self._skip_full_coverage_check:
                if self.cluster_require_full_coverage(nodes):
                    last_covered = covered
                    continue
            pool._set_topology(nodes, struct.pack("=16384H", *table))
            self.reinitialize_counter = 0
            if self.nodemanager_follow_cluster:
                self.startup_nodes = [
                    {"host": h, "port": p, "name": "{0}:{1}".format(h, p)} for h, p, _r, _m in nodes]
            return
        if not answered:
            raise RedisClusterException(
                "Redis Cluster cannot be connected. Please provide at least one reachable node."
                + (" (last error: {0})".format(last_error) if last_error else ""))
        raise RedisClusterException(
            "All slots are not covered after query all startup_nodes. "
            "{0} of {1} covered...".format(last_covered, self.REDIS_CLUSTER_HASH_SLOTS))

    def increment_reinitialize_counter(self, ct=1, count=1):
        """Count MOVED replies; rediscover every ``reinitialize_steps``."""
        for _ in range(min(ct, self.reinitialize_steps)):
            self.reinitialize_counter += count
            if self.reinitialize_counter % self.reinitialize_steps == 0:
                self.initialize()

    def reset(self):
        """Rediscover the topology."""
        self.initialize()
