"""Connection pools and connections: the configuration side of the engine.

``ClusterConnectionPool`` is a Python subclass of the C ``_core.Pool``: it turns
redis-py-cluster's constructor arguments into the canonical options the engine
takes and owns the ``NodeManager``. Sockets, per-node pools and the slot map are
in C.

``ClusterConnection`` is 2.1.3's connection object (redis-py 3.5's
``Connection`` API: ``connect``, ``send_command``, ``read_response``,
``can_read``, ``disconnect``, ...) over one connection held from the engine: a
pool hands them out (``get_connection_by_node``, ``get_random_connection``,
...; they count against ``max_connections`` until ``release``), and one made
directly (``ClusterConnection(host=..., port=..., **options)``) owns a private
engine pool with those options (TLS, auth, timeouts, ``decode_responses``).
A connection released with unread replies, or after a command that changes the
connection's state (SUBSCRIBE, WATCH, MULTI, SELECT, CLIENT ..., ...), is
closed, never handed out again.
"""

import os
import random
import time
from contextlib import contextmanager

from . import _core
from ._drivers import wait_callback_for
from ._urls import parse_url
from .exceptions import (
    ConnectionError,
    DataError,
    ERROR_PREFIXES,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    error_from_reply,
)
from .nodemanager import NodeManager, _canonical_remap
from .utils import nativestr

__all__ = [
    "Encoder",
    "ClusterParser",
    "Connection",
    "SSLConnection",
    "UnixDomainSocketConnection",
    "ClusterConnection",
    "SSLClusterConnection",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "ClusterBlockingConnectionPool",
    "by_node_context",
]


class Encoder:
    """redis-py 3.5's ``Encoder``: how values become bytes and replies text."""

    def __init__(self, encoding="utf-8", encoding_errors="strict", decode_responses=False):
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self.decode_responses = decode_responses

    def encode(self, value):
        """bytes as they are; str encoded; int/float formatted; DataError else."""
        if isinstance(value, (bytes, memoryview)):
            return value
        if isinstance(value, bool):
            raise DataError("Invalid input of type: 'bool'. Convert to a "
                            "bytes, string, int or float first.")
        if isinstance(value, float):
            value = repr(value).encode()
        elif isinstance(value, int):
            value = str(value).encode()
        elif not isinstance(value, str):
            raise DataError("Invalid input of type: '%s'. Convert to a "
                            "bytes, string, int or float first." % type(value).__name__)
        if isinstance(value, str):
            value = value.encode(self.encoding, self.encoding_errors)
        return value

    def decode(self, value, force=False):
        """bytes -> str when decoding responses (or ``force``)."""
        if self.decode_responses or force:
            if isinstance(value, memoryview):
                value = value.tobytes()
            if isinstance(value, bytes):
                value = value.decode(self.encoding, self.encoding_errors)
        return value


def _encoder_for(options):
    return Encoder(options.get("encoding") or options.get("charset") or "utf-8",
                   options.get("encoding_errors") or options.get("errors") or "strict",
                   bool(options.get("decode_responses", False)))


class ClusterParser:
    """The error-reply table of 2.1.3's ``ClusterParser`` (redis-py's codes plus
    ASK, TRYAGAIN, MOVED, CLUSTERDOWN, CROSSSLOT, MASTERDOWN); replies are
    parsed in C, this class only names the mapping."""

    EXCEPTION_CLASSES = {code: cls for code, cls in ERROR_PREFIXES if " " not in code}

    def parse_error(self, response):
        """The exception instance for an error reply (without its ``-``)."""
        return error_from_reply(response)


# Commands after which a connection's state differs from a fresh one's: such a
# connection is closed on release instead of going back to the pool.
_STATEFUL = frozenset((
    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "WATCH", "MULTI", "SELECT",
    "READONLY", "READWRITE", "CLIENT", "AUTH", "HELLO", "RESET",
))


class Connection:
    """A connection to one Redis node with redis-py 3.5's ``Connection`` API,
    over a connection held from the C engine (see the module docstring)."""

    description_format = "%(class)s<host=%(host)s,port=%(port)s,db=%(db)s>"

    def __init__(self, host="localhost", port=6379, db=0, readonly=False, **kwargs):
        kwargs.pop("parser_class", None)
        kwargs.pop("connection_pool", None)
        kwargs.pop("max_connections", None)
        self.host = host
        self.port = int(port)
        self.db = db
        self.readonly = bool(readonly)
        self.username = kwargs.get("username")
        self.password = kwargs.get("password")
        self.client_name = kwargs.get("client_name")
        self.socket_timeout = kwargs.get("socket_timeout")
        self.socket_connect_timeout = kwargs.get("socket_connect_timeout") or self.socket_timeout
        self.socket_keepalive = kwargs.get("socket_keepalive")
        self.socket_keepalive_options = kwargs.get("socket_keepalive_options") or {}
        self.retry_on_timeout = bool(kwargs.get("retry_on_timeout", False))
        self.health_check_interval = kwargs.get("health_check_interval", 0) or 0
        self.next_health_check = 0
        self.encoder = _encoder_for(kwargs)
        self.pid = os.getpid()
        self.node = {"host": host, "port": self.port,
                     "name": "{0}:{1}".format(host, self.port), "server_type": None}
        self._options = dict(kwargs)
        if db not in (None, 0, "0"):
            raise RedisClusterException("Argument 'db' is not possible to use in cluster mode")
        _core_options(self._options)  # validate now, as redis-py does
        self._engine = None     # the engine pool connections come from
        self._owned = False     # True: a private pool of this connection's own
        self._conn = None       # the held _core.Connection, None when not connected
        self._stateful = False  # a state-changing command was sent
        self._connect_callbacks = []
        self._disconnect_hook = None  # owner (pub/sub) handling disconnect()

    def repr_pieces(self):
        pieces = [("host", self.host), ("port", self.port), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    def __repr__(self):
        return "%s<%s>" % (type(self).__name__,
                           ",".join("%s=%s" % kv for kv in self.repr_pieces()))

    def __del__(self):
        try:
            if self._disconnect_hook is None:
                self.disconnect()
        except Exception:
            pass

    @property
    def open(self):
        """Whether the connection is up."""
        conn = self._conn
        return conn is not None and conn.open

    def fileno(self):
        """The socket's file descriptor (ConnectionError if not connected)."""
        if self._conn is None:
            raise ConnectionError("not connected")
        return self._conn.fileno()

    # ------------------------------------------------------------ lifecycle

    def _pool(self):
        if self._engine is None:
            options = _core_options(self._options)
            if self.readonly:
                options["readonly"] = True
            self._engine = _core.Pool(**options)
            self._owned = True
        return self._engine

    def register_connect_callback(self, callback):
        """``callback(connection)`` runs after every (re)connect."""
        self._connect_callbacks.append(callback)

    def clear_connect_callbacks(self):
        self._connect_callbacks = []

    def connect(self):
        """Connect (authenticate, READONLY where due) if not connected."""
        if self._conn is not None and self._conn.open:
            return
        try:
            self._conn = self._pool()._connection(self.host, self.port)
        except TimeoutError:
            raise TimeoutError("Timeout connecting to server")
        self._stateful = False
        self.on_connect()
        for callback in list(self._connect_callbacks):
            callback(self)

    def on_connect(self):
        """The handshake (AUTH, CLIENT SETNAME, READONLY) is done by the engine
        when it opens the connection; nothing is left to send here."""

    def disconnect(self):
        """Close the connection; the next command connects again."""
        if self._disconnect_hook is not None:
            self._disconnect_hook(self)
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _release(self):
        """Give the held connection back to its pool (closed if not clean)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._stateful:
                conn.close()
            else:
                conn.release()

    def _held(self):
        if self._conn is None or not self._conn.open:
            self._conn = None
            self.connect()
        return self._conn

    def check_health(self):
        """PING the server if ``health_check_interval`` says it is due."""
        if self.health_check_interval and time.time() > self.next_health_check:
            self.send_command("PING", check_health=False)
            if nativestr(self.read_response()) != "PONG":
                raise ConnectionError("Bad response from PING health check")

    # ------------------------------------------------------------ commands

    def pack_command(self, *args):
        """The RESP bytes of one command, as a list of chunks (redis-py's shape)."""
        if not args:
            raise DataError("pack_command needs a command")
        first = args[0]
        if isinstance(first, str) and " " in first:
            args = tuple(first.split()) + args[1:]
        return [_core.pack_command(*[self.encoder.encode(a) for a in args])]

    def pack_commands(self, commands):
        """The RESP bytes of several commands (argument sequences)."""
        return [b"".join(chunk for args in commands for chunk in self.pack_command(*args))]

    def _send(self, commands):
        for args in commands:
            name = nativestr(args[0])
            if isinstance(name, str) and name.split(" ", 1)[0].upper() in _STATEFUL:
                self._stateful = True
        conn = self._held()
        try:
            conn.send(commands)
        except (ConnectionError, TimeoutError):
            self._conn = None
            raise

    def send_packed_command(self, command, check_health=True):
        """Send commands already packed by ``pack_command``/``pack_commands``."""
        if check_health:
            self.check_health()
        if isinstance(command, (bytes, bytearray, memoryview)):
            command = [command]
        reader = _core.Reader()
        for chunk in command:
            reader.feed(bytes(chunk))
        commands = []
        while True:
            item = reader.gets()
            if item is False:
                break
            if not isinstance(item, list) or not item:
                raise DataError("send_packed_command takes commands packed by pack_command()")
            commands.append(tuple(item))
        if commands:
            self._send(commands)

    def send_command(self, *args, **kwargs):
        """Send one command; read its reply with ``read_response()``."""
        if kwargs.get("check_health", True):
            self.check_health()
        first = args[0] if args else None
        if isinstance(first, str) and " " in first:
            args = tuple(first.split()) + args[1:]
        self._send([tuple(args)])

    def can_read(self, timeout=0):
        """Whether a reply arrives within ``timeout`` seconds (it stays for
        ``read_response``)."""
        conn = self._held()
        try:
            return conn.can_read(timeout)
        except (ConnectionError, TimeoutError):
            self._conn = None
            raise

    def read_response(self):
        """The next reply; an error reply is raised. Waits ``socket_timeout``
        seconds at most (TimeoutError, the connection closed)."""
        conn = self._conn
        if conn is None or not conn.open:
            self._conn = None
            raise ConnectionError("Connection closed by server.")
        try:
            if self.socket_timeout is not None and not conn.can_read(self.socket_timeout):
                self.disconnect()
                raise TimeoutError("Timeout reading from socket")
            reply = conn.read()
        except (ConnectionError, TimeoutError):
            if not conn.open:
                self._conn = None
            raise
        if isinstance(reply, ResponseError):
            raise reply
        return reply


class SSLConnection(Connection):
    """A TLS ``Connection`` (``ssl_certfile``, ``ssl_keyfile``, ``ssl_ca_certs``,
    ``ssl_cert_reqs``, ``ssl_check_hostname``)."""

    def __init__(self, host="localhost", port=6379, db=0, readonly=False, **kwargs):
        kwargs["ssl"] = True
        super().__init__(host=host, port=port, db=db, readonly=readonly, **kwargs)


class UnixDomainSocketConnection(Connection):
    """Named for code that imports it; a cluster is not reached over unix
    sockets, so connecting raises RedisClusterException."""

    def __init__(self, path="", db=0, **kwargs):
        self.path = path
        super().__init__(host="localhost", port=6379, db=db, **kwargs)

    def repr_pieces(self):
        pieces = [("path", self.path), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    def connect(self):
        raise RedisClusterException("Unix sockets do not work in a cluster environment")


class ClusterConnection(Connection):
    """A connection to one cluster node (2.1.3's ``ClusterConnection``);
    ``readonly=True`` sends READONLY after connecting."""

    description_format = "ClusterConnection<host=%(host)s,port=%(port)s>"


class SSLClusterConnection(SSLConnection):
    """A TLS connection to one cluster node (``ssl=True``)."""

    description_format = "SSLClusterConnection<host=%(host)s,port=%(port)s>"


@contextmanager
def by_node_context(pool, node):
    """A connection to ``node`` from ``pool``, released on exit."""
    connection = pool.get_connection_by_node(node)
    try:
        yield connection
    finally:
        pool.release(connection)


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
    # ours: microseconds a synchronous wait may busy-poll before sleeping
    # (docs/configuration.rst; 0: never, None: the default)
    "busy_poll": "busy_poll",
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


class ClusterConnectionPool(_core.Pool):
    """Per-node connection pools and the slot map of one cluster."""

    RedisClusterDefaultTimeout = None
    _readonly = False
    _wait_timeout = None  # blocking pools: seconds to wait at the connection limit

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
        topology_check_interval=None,
        **connection_kwargs
    ):
        if startup_nodes is None and "host" in connection_kwargs and "port" in connection_kwargs:
            startup_nodes = [{"host": connection_kwargs.pop("host"),
                              "port": str(connection_kwargs.pop("port"))}]
        connection_kwargs.pop("host", None)
        connection_kwargs.pop("port", None)
        if connection_kwargs.pop("unix_socket_path", None):
            raise RedisClusterException("Unix sockets do not work in a cluster environment")
        if connection_class is None and connection_kwargs.get("ssl"):
            connection_class = SSLClusterConnection
        self.connection_class = connection_class or ClusterConnection
        if connection_class is SSLClusterConnection:
            connection_kwargs["ssl"] = True
        self.pid = os.getpid()
        self.max_connections = max_connections or 2 ** 31
        self.max_connections_per_node = max_connections_per_node
        wait_callback, io_native = wait_callback_for(connection_kwargs.pop("io", None))
        #: how this pool's sync callers wait: "gevent", "native", or "default"
        #: (the native driver, or set_wait_callback's function if one is set)
        self.io = "gevent" if wait_callback is not None else "native" if io_native else "default"
        options = _core_options(connection_kwargs)
        if self._wait_timeout is not None:
            options["wait_timeout"] = self._wait_timeout
        NodeManager._validate_host_port_remap(host_port_remap)
        super().__init__(
            readonly=self._readonly,
            max_connections=self.max_connections,
            max_connections_per_node=bool(max_connections_per_node),
            skip_full_coverage_check=bool(skip_full_coverage_check),
            reinitialize_steps=reinitialize_steps or 25,
            host_port_remap=_canonical_remap(host_port_remap),
            wait_callback=wait_callback,
            io_native=io_native,
            topology_check_interval=topology_check_interval,
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
        # The engine runs discovery itself (single flight, rate limited), from
        # the startup nodes the NodeManager gave it; NodeManager.initialize()
        # goes through the same single flight.
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
        self.pid = os.getpid()
        self.disconnect()
        self.nodes.initialize()

    def _checkpid(self):
        """After a fork the engine opens new sockets by itself; this only
        records the new process id (connections of the parent are not
        released from the child)."""
        if self.pid != os.getpid():
            self.pid = os.getpid()

    def get_encoder(self):
        """An ``Encoder`` with this pool's encoding options."""
        return _encoder_for(self.connection_kwargs)

    def owns_connection(self, connection):
        """Whether ``connection`` was made in this process."""
        return connection.pid == self.pid

    # ------------------------------------------------------------ connection objects

    def make_connection(self, node):
        """A connected ``connection_class`` to ``node`` from this pool; counts
        against ``max_connections`` (RedisClusterException "Too many
        connections" at the limit) until ``release``."""
        cls = self.connection_class
        if not (isinstance(cls, type) and issubclass(cls, Connection)):
            cls = SSLClusterConnection if self.connection_kwargs.get("ssl") else ClusterConnection
        options = dict(self.connection_kwargs)
        options.pop("ssl", None) if issubclass(cls, SSLConnection) else None
        connection = cls(host=node["host"], port=node["port"], **options)
        connection._engine = self
        connection.node = node
        connection.connect()
        return connection

    def release(self, connection):
        """Give a connection back (closed instead if it is not clean)."""
        self._checkpid()
        if connection.pid != self.pid:
            return
        connection._release()

    def get_connection(self, command_name, *keys, **options):
        """A connection for Pub/Sub: ``get_connection('pubsub', channel=c)`` is
        one to the master of ``c``'s slot; without a channel, to a random
        node. Other command names raise RedisClusterException."""
        if command_name != "pubsub":
            raise RedisClusterException("Only 'pubsub' commands can be used by get_connection()")
        channel = options.pop("channel", None)
        if not channel:
            return self.get_random_connection()
        return self.get_connection_by_node(
            self.get_master_node_by_slot(self.nodes.keyslot(channel)))

    def get_random_connection(self):
        """A connection to a random startup node (the next one if it is down)."""
        nodes = list(self.nodes.startup_nodes)
        random.shuffle(nodes)
        nodes += [n for n in self.nodes.all_masters() if n not in nodes]
        error = None
        for node in nodes:
            try:
                return self.get_connection_by_node(node)
            except (ConnectionError, TimeoutError) as e:
                error = e
        if error is not None:
            raise error
        raise RedisClusterException("Cant reach a single startup node.")

    def get_connection_by_key(self, key, command):
        """A connection to the node serving ``key``."""
        if not key:
            raise RedisClusterException("No way to dispatch this command to Redis Cluster.")
        return self.get_connection_by_slot(self.nodes.keyslot(key))

    def get_connection_by_slot(self, slot):
        """A connection to the node serving ``slot`` (a random one if the slot
        is not covered)."""
        self._checkpid()
        try:
            return self.get_connection_by_node(self.get_node_by_slot(slot))
        except (KeyError, RedisClusterException):
            return self.get_random_connection()

    def get_connection_by_node(self, node):
        """A connection to ``node`` (a dict with host and port; ``name`` is
        added to it as in 2.1.3)."""
        self._checkpid()
        self.nodes.set_node_name(node)
        return self.make_connection(node)

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


    master_node_commands = ("SCAN", "SSCAN", "HSCAN", "ZSCAN")

    def get_connection_by_key(self, key, command):
        """SCAN-family commands: the slot's master; others: a random node of
        the slot (master or replica)."""
        if not key:
            raise RedisClusterException("No way to dispatch this command to Redis Cluster.")
        if command in self.master_node_commands:
            return self.get_master_connection_by_slot(self.nodes.keyslot(key))
        return self.get_random_master_slave_connection_by_slot(self.nodes.keyslot(key))

    def get_master_connection_by_slot(self, slot):
        """A connection to the master of ``slot`` (no fallback)."""
        self._checkpid()
        return self.get_connection_by_node(self.get_node_by_slot(slot))

    def get_random_master_slave_connection_by_slot(self, slot):
        """A connection to a random node (master or replica) of ``slot``, or
        to a random node if the slot is not covered."""
        self._checkpid()
        try:
            return self.get_connection_by_node(self.get_node_by_slot_random(slot))
        except KeyError:
            return self.get_random_connection()

    def get_node_by_slot_random(self, slot):
        """A random node (master or replica) serving ``slot``."""
        return random.choice(self.nodes.slots[slot])


class ClusterWithReadReplicasConnectionPool(ClusterConnectionPool):
    """Pool used with ``read_from_replicas=True``."""

    def get_node_by_slot(self, slot, read_command=False):
        """The slot's master, or for a read a random node of the slot (master
        or replica); KeyError if the slot is not covered."""
        nodes_in_slot = self.nodes.slots[slot]
        if read_command:
            return random.choice(nodes_in_slot)
        return nodes_in_slot[0]


class ClusterBlockingConnectionPool(ClusterConnectionPool):
    """A pool whose callers wait up to ``timeout`` seconds (None: as long as it
    takes) for a connection at the ``max_connections`` limit (per node with
    ``max_connections_per_node``), then get ``ConnectionError("No connection
    available.")``. ``max_connections`` defaults to 50. ``queue_class`` is
    accepted for 2.1.3's signature; the waiting happens in the engine."""

    def __init__(self, startup_nodes=None, init_slot_cache=True, connection_class=None,
                 max_connections=50, max_connections_per_node=False, reinitialize_steps=None,
                 skip_full_coverage_check=False, nodemanager_follow_cluster=False, timeout=20,
                 queue_class=None, **connection_kwargs):
        self.timeout = timeout
        self.queue_class = queue_class
        # None: wait as long as it takes (2.1.3's queue.get(timeout=None))
        self._wait_timeout = 365 * 86400.0 if timeout is None else float(timeout)
        super().__init__(startup_nodes=startup_nodes, init_slot_cache=init_slot_cache,
                         connection_class=connection_class, max_connections=max_connections,
                         max_connections_per_node=max_connections_per_node,
                         reinitialize_steps=reinitialize_steps,
                         skip_full_coverage_check=skip_full_coverage_check,
                         nodemanager_follow_cluster=nodemanager_follow_cluster,
                         **connection_kwargs)
