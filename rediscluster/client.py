"""``RedisCluster``: the C client core plus configuration and command methods.

I/O, routing, redirect handling and reply parsing live in ``_core.Client``;
this class normalises redis-py-cluster 2.1.3's constructor arguments and adds
the command methods (which only shape arguments and call ``execute_command``).
"""

from . import _core
from ._urls import parse_url
from .callbacks import (
    NODES_FLAGS,
    RESPONSE_CALLBACKS,
    RESULT_CALLBACKS,
    CaseInsensitiveDict,
)
from .commands import ClusterCommands
from .commands._util import apply_callback
from .connection import (
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .exceptions import RedisClusterException

__all__ = ["RedisCluster", "StrictRedisCluster", "NodeClient"]

_DEFAULT_PORT = 7000


class RedisCluster(_core.Client, ClusterCommands):
    """A Redis Cluster client; same constructor as redis-py-cluster 2.1.3.

    ``RedisCluster(host="127.0.0.1", port=7000)`` or
    ``RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": "7000"}])``.
    Connection options are redis-py's (``password``, ``username``,
    ``socket_timeout``, ``decode_responses``, ...). Thread-safe: one client may be
    shared by many threads, and it is fork-safe (a child opens its own sockets).
    """

    RedisClusterRequestTTL = 16
    NODES_FLAGS = NODES_FLAGS
    RESULT_CALLBACKS = RESULT_CALLBACKS
    RESPONSE_CALLBACKS = RESPONSE_CALLBACKS
    CLUSTER_COMMANDS_RESPONSE_CALLBACKS = {}

    def __init__(
        self,
        host=None,
        port=None,
        startup_nodes=None,
        max_connections=None,
        max_connections_per_node=False,
        init_slot_cache=True,
        readonly_mode=False,
        reinitialize_steps=None,
        skip_full_coverage_check=False,
        nodemanager_follow_cluster=False,
        connection_class=None,
        read_from_replicas=False,
        cluster_down_retry_attempts=3,
        host_port_remap=None,
        topology_check_interval=None,
        **kwargs
    ):
        if "db" in kwargs:
            raise RedisClusterException("Argument 'db' is not possible to use in cluster mode")
        if kwargs.pop("single_connection_client", False):
            raise RedisClusterException("single_connection_client is not possible in cluster mode")
        if kwargs.pop("pipeline_use_threads", None) is not None:
            from .pipeline import _warn_use_threads

            _warn_use_threads("pipeline_use_threads")
        pool = kwargs.pop("connection_pool", None)
        if pool is None:
            nodes = list(startup_nodes or [])
            if host:
                nodes.append({"host": host, "port": port if port else _DEFAULT_PORT})
            if readonly_mode:
                pool_cls = ClusterReadOnlyConnectionPool
            elif read_from_replicas:
                pool_cls = ClusterWithReadReplicasConnectionPool
            else:
                pool_cls = ClusterConnectionPool
            extra = {}
            if not readonly_mode:
                extra = dict(
                    max_connections_per_node=max_connections_per_node,
                    reinitialize_steps=reinitialize_steps,
                    skip_full_coverage_check=skip_full_coverage_check,
                    host_port_remap=host_port_remap,
                    topology_check_interval=topology_check_interval,
                )
            else:
                kwargs.update(
                    max_connections_per_node=max_connections_per_node,
                    reinitialize_steps=reinitialize_steps,
                    skip_full_coverage_check=skip_full_coverage_check,
                    host_port_remap=host_port_remap,
                    topology_check_interval=topology_check_interval,
                )
            pool = pool_cls(
                startup_nodes=nodes,
                init_slot_cache=init_slot_cache,
                max_connections=max_connections,
                nodemanager_follow_cluster=nodemanager_follow_cluster,
                connection_class=connection_class,
                **extra,
                **kwargs
            )
        elif kwargs:
            # As with redis-py: connection options belong to the given pool.
            from .connection import _core_options

            _core_options(kwargs)
        foreign = None
        if not isinstance(pool, _core.Pool):
            # Any pool object is accepted, as 2.1.3 does; commands need the
            # engine's pool, so they raise (clearly) when used.
            foreign, pool = pool, _core.Pool()
        super().__init__(
            pool,
            response_callbacks=CaseInsensitiveDict(
                dict(self.RESPONSE_CALLBACKS, **self.CLUSTER_COMMANDS_RESPONSE_CALLBACKS)
            ),
            nodes_flags=dict(self.NODES_FLAGS),
            result_callbacks=dict(self.RESULT_CALLBACKS),
            ttl=self.RedisClusterRequestTTL,
            cluster_down_retry_attempts=cluster_down_retry_attempts,
            # readonly_mode reads from replicas too (the original never did: §8)
            read_from_replicas=bool(read_from_replicas or readonly_mode),
        )
        self.refresh_table_asap = False
        if foreign is not None:
            self._foreign_pool = foreign
            self.execute_command = self._foreign_pool_error
            self._execute_batch = self._foreign_pool_error

    @property
    def connection_pool(self):
        """The connection pool (a ``ClusterConnectionPool``; or the object
        given as ``connection_pool=`` even when it is not one)."""
        foreign = self.__dict__.get("_foreign_pool")
        return foreign if foreign is not None else _core.Client.connection_pool.__get__(self)

    def _foreign_pool_error(self, *args, **kwargs):
        raise RedisClusterException(
            "RedisCluster(connection_pool=...) got a {0}: commands run through "
            "rediscluster's engine and need a rediscluster ClusterConnectionPool (or a "
            "subclass of it)".format(type(self._foreign_pool).__name__))

    @classmethod
    def from_url(cls, url, db=None, skip_full_coverage_check=False, readonly_mode=False,
                 read_from_replicas=False, **kwargs):
        """Client from ``redis://[[user]:password@]host[:port][/db][?option=value]``."""
        options = parse_url(url, **kwargs)
        # URL query options may carry these too (?read_from_replicas=1)
        skip_full_coverage_check = options.pop("skip_full_coverage_check", False) or \
            skip_full_coverage_check
        readonly_mode = options.pop("readonly_mode", False) or readonly_mode
        read_from_replicas = options.pop("read_from_replicas", False) or read_from_replicas
        if db is not None:
            options["db"] = db
        if options.get("db") not in (None, 0, "0"):
            raise RedisClusterException("Argument 'db' is not possible to use in cluster mode")
        options.pop("db", None)
        host, port = options.pop("host"), options.pop("port")
        return cls(
            # the port as a str, as 2.1.3's from_url leaves it
            startup_nodes=[{"host": host, "port": str(port)}],
            skip_full_coverage_check=skip_full_coverage_check,
            readonly_mode=readonly_mode,
            read_from_replicas=read_from_replicas,
            **options
        )

    def __repr__(self):
        servers = sorted(
            {"{0}:{1}".format(n["host"], n["port"]) for n in self.connection_pool.nodes.startup_nodes}
        )
        return "{0}<{1}>".format(type(self).__name__, ", ".join(servers))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Close the idle connections (busy ones close when released)."""
        self.connection_pool.disconnect()

    def pipeline(self, transaction=None, shard_hint=None, read_from_replicas=False,
                 use_threads=None):
        """A ``ClusterPipeline`` sharing this client's pool and callbacks.

        ``transaction=True``: run as MULTI/EXEC (all keys in one slot).
        ``read_from_replicas=True``: reads may go to replicas."""
        from .pipeline import _warn_use_threads

        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        if use_threads is not None:
            _warn_use_threads("use_threads")
        return self._pipeline_class()(
            connection_pool=self.connection_pool,
            startup_nodes=self.connection_pool.nodes.startup_nodes,
            result_callbacks=self.result_callbacks,
            response_callbacks=self.response_callbacks,
            cluster_down_retry_attempts=self.cluster_down_retry_attempts,
            read_from_replicas=read_from_replicas,
            transaction=bool(transaction),
        )

    @staticmethod
    def _pipeline_class():
        from .pipeline import ClusterPipeline

        return ClusterPipeline

    @staticmethod
    def _transaction_options(kwargs):
        """(value_from_callable, watch_delay) of transaction()'s keyword
        arguments (shard_hint ignored); TypeError for anything else."""
        kwargs.pop("shard_hint", None)
        value_from_callable = kwargs.pop("value_from_callable", False)
        watch_delay = kwargs.pop("watch_delay", None)
        if kwargs:
            raise TypeError("transaction() got unexpected keyword arguments {0}".format(
                sorted(kwargs)))
        return value_from_callable, watch_delay

    def transaction(self, func, *watches, **kwargs):
        """Run ``func(pipe)`` in a MULTI/EXEC transaction, retrying on WatchError
        (redis-py's helper). Every key involved must map to one slot."""
        import time

        from .exceptions import WatchError

        value_from_callable, watch_delay = self._transaction_options(kwargs)
        with self.pipeline(True) as pipe:
            while True:
                try:
                    if watches:
                        pipe.watch(*watches)
                    func_value = func(pipe)
                    exec_value = pipe.execute()
                    return func_value if value_from_callable else exec_value
                except WatchError:
                    if watch_delay is not None and watch_delay > 0:
                        time.sleep(watch_delay)
                    continue

    def keyslot(self, key):
        """Cluster slot of ``key`` (encoded as this client encodes keys)."""
        return self.connection_pool.keyslot(key)

    def set_response_callback(self, command, callback):
        """Parse replies of ``command`` with ``callback``."""
        self.response_callbacks[command] = callback

    def set_result_callback(self, command, callback):
        """Merge fan-out replies of ``command`` (dict node -> reply) with ``callback``."""
        self.result_callbacks[command.upper()] = callback

    def determine_node(self, *args, **kwargs):
        """Nodes a keyless command goes to per ``nodes_flags``, or None for keyed."""
        nodes = self.connection_pool.nodes
        flag = self.nodes_flags.get(str(args[0]).upper()) if args else None
        if flag == "blocked":
            raise RedisClusterException(
                "Command: {0} is blocked in redis cluster mode".format(args[0]))
        if flag == "random":
            return [nodes.random_node()]
        if flag == "all-masters":
            return list(nodes.all_masters())
        if flag == "all-nodes":
            return list(nodes.all_nodes())
        if flag == "slot-id":
            return [nodes.node_from_slot(int(args[1]))]
        return None

    def parse_response(self, connection, command_name, **options):
        """Read one reply from ``connection`` and parse it with
        ``command_name``'s response callback (redis-py's ``parse_response``).
        The engine does not call this method: patching it does not change how
        ``execute_command`` parses replies (use ``set_response_callback``)."""
        return apply_callback(self.response_callbacks, (command_name,),
                              connection.read_response(), options)

    def client(self):
        """redis-py's single-connection client: not possible in cluster mode
        (RedisClusterException)."""
        return self.__class__(connection_pool=self.connection_pool,
                              single_connection_client=True)

    @property
    def RedisClusterRequestTTL_active(self):
        return self._request_ttl

    def pubsub(self, **kwargs):
        """A ``ClusterPubSub`` on this client's pool (redis-py's ``PubSub`` API,
        plus sharded Pub/Sub). ``ignore_subscribe_messages=True`` drops the
        (un)subscribe confirmations."""
        from .pubsub import ClusterPubSub

        return ClusterPubSub(self.connection_pool, **kwargs)


class StrictRedisCluster(RedisCluster):
    """The 1.3.x name of ``RedisCluster`` (redis-py 3 semantics)."""


class NodeClient(ClusterCommands):
    """A client of one node (``NodeManager.get_redis_link``): the command
    methods of ``RedisCluster``, every command sent to that node only, with no
    cluster routing (MOVED/ASK are raised; fan-out commands answer for this
    node alone), as a ``redis.Redis`` connected to the node would."""

    RESPONSE_CALLBACKS = RESPONSE_CALLBACKS

    def __init__(self, pool, host, port):
        self.connection_pool = pool
        self.host = host
        self.port = port
        self.response_callbacks = CaseInsensitiveDict(self.RESPONSE_CALLBACKS)

    def __repr__(self):
        return "{0}<{1}:{2}>".format(type(self).__name__, self.host, self.port)

    def keyslot(self, key):
        return self.connection_pool.keyslot(key)

    def execute_command(self, *args, **options):
        """Send one command to the node; the parsed reply (errors raised)."""
        if not args:
            raise RedisClusterException("Unable to determine command to use")
        reply = self.connection_pool._node_command(self.host, self.port, *args)
        return apply_callback(self.response_callbacks, args, reply, options)

    def _execute_batch(self, commands):
        out = []
        for command in commands:
            args, options = (command.args, command.options) if hasattr(command, "args") \
                else command
            try:
                out.append(self.execute_command(*args, **(options or {})))
            except Exception as e:  # errors in place, as the engine's batch
                out.append(e)
        return out
