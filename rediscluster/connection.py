"""Connection pools: the configuration side of the engine.

``ClusterConnectionPool`` is a Python subclass of the C ``_core.Pool``: it turns
redis-py-cluster's constructor arguments into the canonical options the engine
takes and owns the ``NodeManager``. Sockets, per-node pools and the slot map are
in C. ``ClusterConnection`` / ``SSLClusterConnection`` exist for code that names
them (e.g. ``connection_class=``); the engine makes its own connections.
"""

from . import _core
from ._urls import parse_url
from .exceptions import RedisClusterException, SlotNotCoveredError
from .nodemanager import NodeManager

__all__ = [
    "ClusterConnection",
    "SSLClusterConnection",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "ClusterBlockingConnectionPool",
]


class ClusterConnection:
    """Marker class: connections are made by the C engine.

    Kept so that ``connection_class=ClusterConnection`` and imports of the name
    keep working."""

    description_format = "ClusterConnection<host=%(host)s,port=%(port)s>"

    def __init__(self, *args, **kwargs):
        raise RedisClusterException(
            "rediscluster makes its connections in its C engine; "
            "ClusterConnection cannot be instantiated")


class SSLClusterConnection(ClusterConnection):
    """Marker class for TLS connections (``ssl=True``)."""

    description_format = "SSLClusterConnection<host=%(host)s,port=%(port)s>"


# redis-py connection keyword -> engine keyword (None: accepted and ignored)
_CORE_OPTIONS = {
    "encoding": "encoding",
    "charset": "encoding",
    "encoding_errors": "encoding_errors",
    "errors": "encoding_errors",
    "decode_responses": "decode_responses",
    "socket_timeout": "socket_timeout",
    "socket_connect_timeout": "socket_connect_timeout",
    "socket_keepalive": "socket_keepalive",
    "socket_keepalive_options": "socket_keepalive_options",
    "username": "username",
    "password": "password",
    "client_name": "client_name",
    # ours: idle connections older than this many seconds are closed (None: never)
    "max_idle_time": "max_idle_time",
    # accepted for compatibility; the engine's behaviour covers them
    "retry_on_timeout": None,
    "health_check_interval": None,
    "socket_read_size": None,
    "socket_type": None,
    "ssl": "ssl",
    "ssl_keyfile": "ssl_keyfile",
    "ssl_certfile": "ssl_certfile",
    "ssl_cert_reqs": "ssl_cert_reqs",
    "ssl_ca_certs": "ssl_ca_certs",
    "ssl_check_hostname": "ssl_check_hostname",
    "db": None,
    "host": None,
    "port": None,
}


_CERT_REQS = {"none": 0, "optional": 1, "required": 2}


def _cert_reqs(value):
    """redis-py's ssl_cert_reqs (None, 'none'/'optional'/'required' or an
    ``ssl.CERT_*`` constant) -> 0/1/2."""
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            return _CERT_REQS[value.lower()]
        except KeyError:
            raise ValueError(
                "Invalid SSL Certificate Requirements Flag: {0}".format(value)) from None
    value = int(value)
    if value not in (0, 1, 2):
        raise ValueError("Invalid SSL Certificate Requirements Flag: {0}".format(value))
    return value


def _core_options(kwargs, caller="__init__"):
    """Validate redis-py connection kwargs; return the engine's keywords."""
    out = {}
    for key, value in kwargs.items():
        if key not in _CORE_OPTIONS:
            raise TypeError("{0}() got an unexpected keyword argument '{1}'".format(caller, key))
        target = _CORE_OPTIONS[key]
        if target is not None and value is not None:
            out[target] = value
        elif target is not None and key in ("socket_timeout", "socket_connect_timeout",
                                            "username", "password", "client_name",
                                            "max_idle_time"):
            out[target] = None
    if kwargs.get("db") not in (None, 0, "0"):
        raise RedisClusterException("Argument 'db' is not possible to use in cluster mode")
    if out.get("ssl"):
        out["ssl"] = True
        out["ssl_cert_reqs"] = _cert_reqs(kwargs.get("ssl_cert_reqs", "required"))
        for name in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certs"):
            if out.get(name) is not None:
                out[name] = str(out[name])
        out["ssl_check_hostname"] = bool(kwargs.get("ssl_check_hostname", False))
    else:
        for name in ("ssl", "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs", "ssl_ca_certs",
                     "ssl_check_hostname"):
            out.pop(name, None)
    if kwargs.get("unix_socket_path"):
        raise RedisClusterException("Unix sockets do not work in a cluster environment")
    return out


def _canonical_remap(rules):
    """host_port_remap dicts (validated) -> the engine's (from_host, from_port,
    to_host, to_port) tuples, None for a part not given."""
    if not rules:
        return None

    def port(v):
        return None if v is None else int(v)

    return [(r.get("from_host"), port(r.get("from_port")), r.get("to_host"),
             port(r.get("to_port"))) for r in rules]


class ClusterConnectionPool(_core.Pool):
    """Per-node connection pools and the slot map of one cluster."""

    RedisClusterDefaultTimeout = None
    _readonly = False

    def __init__(
        self,
        startup_nodes=None,
        init_slot_cache=True,
        connection_class=None,
        max_connections=None,
        max_connections_per_node=False,
        reinitialize_steps=None,
        skip_full_coverage_check=False,
        nodemanager_follow_cluster=False,
        host_port_remap=None,
        **connection_kwargs
    ):
        if startup_nodes is None and "host" in connection_kwargs and "port" in connection_kwargs:
            startup_nodes = [{"host": connection_kwargs.pop("host"),
                              "port": str(connection_kwargs.pop("port"))}]
        connection_kwargs.pop("host", None)
        connection_kwargs.pop("port", None)
        if connection_kwargs.pop("unix_socket_path", None):
            raise RedisClusterException("Unix sockets do not work in a cluster environment")
        self.connection_class = connection_class or ClusterConnection
        if connection_class is SSLClusterConnection:
            connection_kwargs["ssl"] = True
        self.max_connections = max_connections or 2 ** 31
        self.max_connections_per_node = max_connections_per_node
        options = _core_options(connection_kwargs)
        NodeManager._validate_host_port_remap(host_port_remap)
        super().__init__(
            readonly=self._readonly,
            max_connections=self.max_connections,
            max_connections_per_node=bool(max_connections_per_node),
            skip_full_coverage_check=bool(skip_full_coverage_check),
            reinitialize_steps=reinitialize_steps or 25,
            host_port_remap=_canonical_remap(host_port_remap),
            **options
        )
        self.connection_kwargs = connection_kwargs
        self.nodes = NodeManager(
            startup_nodes,
            reinitialize_steps=reinitialize_steps,
            skip_full_coverage_check=skip_full_coverage_check,
            nodemanager_follow_cluster=nodemanager_follow_cluster,
            host_port_remap=host_port_remap,
            pool=self,
            **connection_kwargs
        )
        # The engine runs discovery itself (single flight, rate limited);
        # NodeManager.initialize() goes through the same single flight.
        self._refresh_callback = self.nodes._initialize
        if init_slot_cache:
            self.nodes.initialize()

    @classmethod
    def from_url(cls, url, **kwargs):
        """A pool from a ``redis://`` / ``rediss://`` URL (see ``RedisCluster.from_url``)."""
        options = parse_url(url, **kwargs)
        host, port = options.pop("host"), options.pop("port")
        return cls(startup_nodes=[{"host": host, "port": port}], **options)

    def __repr__(self):
        return "{0}<{1}>".format(
            type(self).__name__,
            ", ".join(
                self.connection_class.description_format % dict(node)
                for node in self.nodes.startup_nodes
            ),
        )

    def reset(self):
        """Close idle connections and rediscover the topology."""
        self.disconnect()
        self.nodes.initialize()

    def get_master_node_by_slot(self, slot):
        """The master node dict of ``slot``; SlotNotCoveredError if no node serves it."""
        try:
            return self.nodes.slots[slot][0]
        except KeyError:
            raise SlotNotCoveredError(
                'Slot "{0}" not covered by the cluster. "skip_full_coverage_check={1}"'.format(
                    slot, self.nodes._skip_full_coverage_check))

    def get_node_by_slot(self, slot, *args, **kwargs):
        """The node dict for ``slot`` (its master)."""
        return self.get_master_node_by_slot(slot)

    def count_all_num_connections(self, node):
        """Open connections to ``node`` (or to all nodes, unless counting per node)."""
        stats = self._stats()["nodes"]
        if self.max_connections_per_node:
            return stats.get(node["name"], (0, 0))[0]
        return sum(v[0] for v in stats.values())


class ClusterReadOnlyConnectionPool(ClusterConnectionPool):
    """Every connection sends READONLY (``readonly_mode=True``)."""

    _readonly = True

    def __init__(self, startup_nodes=None, init_slot_cache=True, connection_class=None,
                 max_connections=None, nodemanager_follow_cluster=False, **connection_kwargs):
        super().__init__(startup_nodes=startup_nodes, init_slot_cache=init_slot_cache,
                         connection_class=connection_class, max_connections=max_connections,
                         nodemanager_follow_cluster=nodemanager_follow_cluster,
                         **connection_kwargs)


class ClusterWithReadReplicasConnectionPool(ClusterConnectionPool):
    """Pool used with ``read_from_replicas=True``."""


class ClusterBlockingConnectionPool(ClusterConnectionPool):
    """2.1.3's blocking pool signature (``max_connections`` defaults to 50)."""

    def __init__(self, startup_nodes=None, init_slot_cache=True, connection_class=None,
                 max_connections=50, max_connections_per_node=False, reinitialize_steps=None,
                 skip_full_coverage_check=False, nodemanager_follow_cluster=False, timeout=20,
                 **connection_kwargs):
        self.timeout = timeout
        super().__init__(startup_nodes=startup_nodes, init_slot_cache=init_slot_cache,
                         connection_class=connection_class, max_connections=max_connections,
                         max_connections_per_node=max_connections_per_node,
                         reinitialize_steps=reinitialize_steps,
                         skip_full_coverage_check=skip_full_coverage_check,
                         nodemanager_follow_cluster=nodemanager_follow_cluster,
                         **connection_kwargs)
