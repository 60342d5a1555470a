# Type stub of the C extension rediscluster._core (csrc/module.c, pooltype.c,
# client.c, conntype.c, subscriber.c). tests/unit/test_stubs.py keeps it in
# sync with the built module (names, members, parameter names and kinds) and
# `make typecheck` runs mypy's stubtest on it.
#
# Replies are typed Any: their shape depends on the command, on the response
# callback and on decode_responses.

from collections.abc import Callable, Generator, Iterable
from typing import Any, NoReturn, overload

from typing_extensions import Buffer, Self, TypeAlias, disjoint_base, final

# What the packer accepts as one command argument (str is encoded with the
# pool's encoding, int/float are formatted as redis-py does; bool and None
# raise DataError).
_Arg: TypeAlias = bytes | str | int | float | memoryview
# fn(fds: [(fd, events)], timeout: seconds | None) -> [(fd, revents)]
_WaitCallback: TypeAlias = Callable[
    [list[tuple[int, int]], float | None], Iterable[tuple[int, int]] | None
]
# A command as the batch/connection calls take it: the argument tuple.
_Command: TypeAlias = tuple[_Arg, ...]
# Upper-case command name -> callable (response parser / fan-out merger) or a
# routing flag; the engine requires a real dict (subclasses allowed).
_CallbackDict: TypeAlias = dict[str, Any]

__version__: str
command_table_version: str
hiredis_version: tuple[int, int, int]

def key_slot(key: _Arg, /) -> int: ...
def crc16(data: Buffer, /) -> int: ...
def command_keys(*args: _Arg) -> list[int]: ...
def pack_command(*args: _Arg) -> bytes: ...
def bool_ok(reply: object, /) -> bool: ...
# SET's response callback: None stays None, else reply == OK; with get=True
# the reply (the old value) is returned as it is. Other keyword options are
# accepted and ignored (the engine passes a command's options to its callback).
def set_ok(reply: Any, /, *, get: bool = False) -> Any: ...
def set_wait_callback(fn: _WaitCallback | None, /) -> None: ...
def get_wait_callback() -> _WaitCallback | None: ...

# Pool and Client have a C instance layout (PEP 800): a class cannot derive from
# both, or from one of them and another C type with its own layout.
@disjoint_base
class Pool:
    """Cluster engine state: nodes, slot map and connection pools."""

    def __init__(
        self,
        *,
        encoding: str = "utf-8",
        encoding_errors: str = "strict",
        decode_responses: bool = False,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = None,
        socket_keepalive: bool = False,
        socket_keepalive_options: dict[int, int] | None = None,
        username: _Arg | None = None,
        password: _Arg | None = None,
        client_name: _Arg | None = None,
        readonly: bool = False,
        max_connections: int = ...,  # 2**31
        max_connections_per_node: bool = False,
        skip_full_coverage_check: bool = False,
        reinitialize_steps: int = 25,
        ssl: bool = False,
        ssl_keyfile: str | None = None,
        ssl_certfile: str | None = None,
        ssl_cert_reqs: int = 2,  # 0 none, 1 optional, 2 required (ssl.CERT_*)
        ssl_ca_certs: str | None = None,
        ssl_check_hostname: bool = False,
        wait_timeout: float | None = None,
        max_idle_time: float | None = 300.0,
        host_port_remap: Iterable[tuple[str | None, int | None, str | None, int | None]]
        | None = None,
        wait_callback: _WaitCallback | None = None,
        io_native: bool = False,
        topology_check_interval: float | None = None,
        busy_poll: int | None = None,  # microseconds; None: 50
    ) -> None: ...
    def keyslot(self, key: _Arg, /) -> int: ...
    def disconnect(self) -> None: ...
    # nodes: (host, port, role 1/2, master index or -1); slots: 16384 native
    # uint16 indices into nodes (0xFFFF: uncovered).
    def _set_topology(self, nodes: Iterable[tuple[str, int, int, int]], slots: Buffer, /) -> None: ...
    def _set_startup_nodes(self, nodes: Iterable[tuple[str, int]], follow: bool, /) -> None: ...
    def _require_full_coverage(self, host: str, port: int, /) -> bool: ...
    def _remap_address(self, host: str, port: int, /) -> tuple[str, int]: ...
    # (epoch, [(host, port, "host:port", role, master, in_topology)], slots);
    # a free index is (None, 0, None, 0, -1, 0)
    def _topology(
        self,
    ) -> tuple[int, list[tuple[str | None, int, str | None, int, int, int]], bytes]: ...
    def _node_command(self, host: str, port: int, /, *args: _Arg) -> Any: ...
    @overload
    def _connection(self, slot: int, /) -> Connection: ...
    @overload
    def _connection(self, host: str, port: int, /) -> Connection: ...
    def _patch_slot(self, slot: int, host: str, port: int, /) -> None: ...
    def _refresh(self, force: bool = True, /) -> None: ...
    def _refresh_now(self) -> None: ...
    def _stats(self) -> dict[str, Any]: ...
    _refresh_hook: Callable[[], object] | None
    @property
    def _epoch(self) -> int: ...
    @property
    def _installs(self) -> int: ...

@disjoint_base
class Client:
    """Cluster client core: execute_command in C."""

    def __init__(
        self,
        pool: Pool,
        *,
        # each defaults to a new empty dict (None is refused)
        response_callbacks: _CallbackDict = ...,
        nodes_flags: _CallbackDict = ...,
        result_callbacks: _CallbackDict = ...,
        ttl: int = 16,
        cluster_down_retry_attempts: int = 3,
        read_from_replicas: bool = False,
    ) -> None: ...
    def execute_command(self, *args: _Arg, **options: Any) -> Any: ...
    def _queue_command(self, *args: _Arg, **options: Any) -> Self: ...
    # [PipelineCommand or (args, options or None), ...] -> results in order,
    # errors in place; each PipelineCommand also gets its .result.
    def _execute_batch(
        self, commands: Iterable[PipelineCommand | tuple[_Command, dict[str, Any] | None]], /
    ) -> list[Any]: ...
    # MULTI, the commands, EXEC on slot's node as one unit -> the raw replies
    # (MULTI's, one per command, EXEC's); a whole-transaction failure raises.
    def _execute_transaction(
        self,
        slot: int,
        commands: Iterable[PipelineCommand | tuple[_Command, dict[str, Any] | None]],
        /,
    ) -> list[Any]: ...
    # The asyncio client's entry points: the same work as execute_command,
    # _execute_batch and _execute_transaction, as an AioOp to await (once).
    def _aio_execute_command(self, *args: _Arg, **options: Any) -> AioOp: ...
    def _aio_execute_batch(
        self, commands: Iterable[PipelineCommand | tuple[_Command, dict[str, Any] | None]], /
    ) -> AioOp: ...
    def _aio_execute_transaction(
        self,
        slot: int,
        commands: Iterable[PipelineCommand | tuple[_Command, dict[str, Any] | None]],
        /,
    ) -> AioOp: ...
    # one command to one address, no redirects; awaits to the raw reply
    def _aio_node_command(self, host: str, port: int, /, *args: _Arg) -> AioOp: ...
    # a discovery now (or the end of a running one); awaits to None
    def _aio_initialize(self) -> AioOp: ...
    # A Pool; typed Any because the Python layer always installs a
    # ClusterConnectionPool and its callers use that class's attributes
    # (connection_pool.nodes, ...), which this stub cannot name.
    @property
    def connection_pool(self) -> Any: ...
    command_stack: list[PipelineCommand]
    response_callbacks: _CallbackDict
    nodes_flags: _CallbackDict
    result_callbacks: _CallbackDict
    _request_ttl: int
    cluster_down_retry_attempts: int
    read_from_replicas: bool

@final
class AioOp:
    """A command of the asyncio client: await it once for its result."""

    def __await__(self) -> Generator[Any, None, Any]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def __bool__(self) -> NoReturn: ...
    def send(self, value: object, /) -> Any: ...
    def throw(self, typ: object, val: object = ..., tb: object = ..., /) -> Any: ...
    def close(self) -> None: ...
    def _ready(self, token: int, /) -> None: ...

@final
class PipelineCommand:
    """One queued pipeline command (redis-py-cluster's PipelineCommand)."""

    def __init__(
        self, args: Iterable[_Arg], options: dict[str, Any] | None = None, position: int | None = None
    ) -> None: ...
    args: tuple[_Arg, ...]
    options: dict[str, Any]
    position: int | None
    result: Any
    def __repr__(self) -> str: ...

@final
class Connection:
    """A connection held across calls (transactions). Made by Pool._connection."""

    def execute_many(self, commands: Iterable[_Command], /) -> list[Any]: ...
    def execute(self, *args: _Arg) -> Any: ...
    def send(self, commands: Iterable[_Command], /) -> None: ...
    def read(self, timeout: float | None = None, /) -> Any: ...
    # Whether a complete reply arrives within timeout seconds (None: no
    # limit); the reply is kept for the next read().
    def can_read(self, timeout: float | None = 0, /) -> bool: ...
    def fileno(self) -> int: ...
    def release(self) -> None: ...
    def close(self) -> None: ...
    @property
    def node(self) -> str | None: ...
    @property
    def open(self) -> bool: ...

@final
class Subscriber:
    """Waits for the replies of held pub/sub connections through the pool's driver."""

    def __init__(self, pool: Pool) -> None: ...
    # The next reply of any of the connections (all of the subscriber's pool)
    # as (connection, reply), or None if none came within timeout seconds
    # (None: no limit) or wake() was called. Error replies and redirects are
    # exception instances; a connection that failed is closed and its error
    # is the reply.
    def read(
        self, connections: Iterable[Connection], timeout: float | None = None, /
    ) -> tuple[Connection, Any] | None: ...
    # Make a read() waiting in another thread (or greenlet) return None now.
    def wake(self) -> None: ...
    def close(self) -> None: ...

@final
class Reader:
    """RESP reader (the engine's parser) for tests and tools."""

    def __init__(
        self, *, decode_responses: bool = False, encoding: str = "utf-8", errors: str = "strict"
    ) -> None: ...
    def feed(self, data: Buffer, /) -> None: ...
    # The next reply, or False if none is complete yet.
    def gets(self) -> Any: ...
