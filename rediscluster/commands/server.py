"""ServerCommands: server administration and introspection (PING, INFO, CONFIG,
CLIENT, SLOWLOG, MEMORY, LATENCY, COMMAND, FLUSH*, SAVE, KEYS, SCAN, ...).

Methods only shape arguments and call execute_command; reply parsers are in
RESPONSE_CALLBACKS below (merged into the one dict in rediscluster/callbacks.py).
Where a keyless command goes, and how the per-node replies are merged, is in
``NODES_FLAGS`` / ``RESULT_CALLBACKS`` (rediscluster/callbacks.py): most of these
fan out and return ``{'host:port': reply}`` as redis-py-cluster 2.1.3 does.
"""

import warnings
import datetime

from ..exceptions import DataError
from ._util import bool_ok, nativestr, pairs_to_dict, scan_args

_CLIENT_KILL_TYPES = ("normal", "master", "slave", "replica", "pubsub")
_CLIENT_LIST_TYPES = ("normal", "master", "replica", "pubsub")


class ServerCommands:
    """Server commands (redis-py 3.5 signatures; newer commands as current redis-py)."""

    # ------------------------------------------------------------ connection

    def ping(self):
        """PING every node: ``{'host:port': True, ...}`` (replicas included).
        https://redis.io/commands/ping"""
        return self.execute_command("PING")

    def echo(self, value):
        """ECHO ``value`` on every node: ``{'host:port': value}``.
        https://redis.io/commands/echo"""
        return self.execute_command("ECHO", value)

    # ------------------------------------------------------------ persistence

    def bgrewriteaof(self):
        """Start an AOF rewrite on every node: ``{'host:port': True}``.
        https://redis.io/commands/bgrewriteaof"""
        return self.execute_command("BGREWRITEAOF")

    def bgsave(self, schedule=False):
        """Start a background save on every node: ``{'host:port': True}``.

        ``schedule``: if an AOF rewrite is running, schedule the save instead of
        failing. https://redis.io/commands/bgsave"""
        pieces = [b"SCHEDULE"] if schedule else []
        return self.execute_command("BGSAVE", *pieces)

    def save(self):
        """Save the data set on every node, blocking: ``{'host:port': True}``.
        https://redis.io/commands/save"""
        return self.execute_command("SAVE")

    def lastsave(self):
        """Time of the last successful save, per node: ``{'host:port': datetime}``.
        https://redis.io/commands/lastsave"""
        return self.execute_command("LASTSAVE")

    # ------------------------------------------------------------ keyspace

    def dbsize(self):
        """Number of keys of every node: ``{'host:port': n}`` (replicas included,
        so each key counts once per copy). https://redis.io/commands/dbsize"""
        return self.execute_command("DBSIZE")

    def flushall(self, asynchronous=False):
        """Delete every key of every master: ``{'host:port': True}``.

        ``asynchronous``: let the servers free the memory in the background.
        https://redis.io/commands/flushall"""
        pieces = [b"ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHALL", *pieces)

    def flushdb(self, asynchronous=False):
        """Delete every key of every master: ``{'host:port': True}``.

        ``asynchronous``: let the servers free the memory in the background.
        https://redis.io/commands/flushdb"""
        pieces = [b"ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHDB", *pieces)

    def keys(self, pattern="*"):
        """Keys matching ``pattern`` on all masters, one flat list without
        duplicates (order is not kept). https://redis.io/commands/keys"""
        return self.execute_command("KEYS", pattern)

    def scan(self, cursor=0, match=None, count=None, _type=None):
        """One SCAN step on every master with the same ``cursor``:
        ``{'host:port': (next_cursor, [keys])}`` (2.1.3's shape; prefer
        ``scan_iter``). https://redis.io/commands/scan"""
        return self.execute_command("SCAN", *scan_args(cursor, match, count, _type))

    def scan_iter(self, match=None, count=None, _type=None):
        """Iterate over the keys of the cluster with SCAN: every master is scanned
        once to its end with its own cursor (replicas are not visited, so no key
        is yielded twice). ``match``: glob pattern; ``count``: hint of keys per
        step; ``_type``: only keys of this type. https://redis.io/commands/scan"""
        pool = self.connection_pool
        masters = sorted((node["host"], int(node["port"])) for node in pool.nodes.all_masters())
        for host, port in masters:
            cursor = 0
            while True:
                reply = pool._node_command(host, port, "SCAN",
                                           *scan_args(cursor, match, count, _type))
                cursor = int(reply[0])
                for key in reply[1]:
                    yield key
                if cursor == 0:
                    break

    # ------------------------------------------------------------ info, config

    def info(self, section=None, *args):
        """INFO of every node, parsed: ``{'host:port': {field: value}}``.

        ``section`` (and further ``args``): only these sections.
        https://redis.io/commands/info"""
        if section is None:
            return self.execute_command("INFO")
        return self.execute_command("INFO", section, *args)

    def config_get(self, pattern="*", *args):
        """Configuration parameters matching ``pattern`` (and ``args``), per node:
        ``{'host:port': {name: value}}``. https://redis.io/commands/config-get"""
        return self.execute_command("CONFIG GET", pattern, *args)

    def config_set(self, name, value, *args):
        """Set ``name`` to ``value`` (more name/value pairs in ``args``) on every
        node: ``{'host:port': True}``. https://redis.io/commands/config-set"""
        return self.execute_command("CONFIG SET", name, value, *args)

    def config_resetstat(self):
        """Reset the statistics of INFO on every node: ``{'host:port': True}``.
        https://redis.io/commands/config-resetstat"""
        return self.execute_command("CONFIG RESETSTAT")

    def config_rewrite(self):
        """Rewrite every node's config file: ``{'host:port': b'OK'}``.
        https://redis.io/commands/config-rewrite"""
        return self.execute_command("CONFIG REWRITE")

    def time(self):
        """Server time of every node: ``{'host:port': (seconds, microseconds)}``.
        https://redis.io/commands/time"""
        return self.execute_command("TIME")

    def lolwut(self, *version_numbers):
        """Redis version and a piece of generative art (one node).
        https://redis.io/commands/lolwut"""
        if version_numbers:
            return self.execute_command("LOLWUT VERSION", *version_numbers)
        return self.execute_command("LOLWUT")

    # ------------------------------------------------------------ slowlog

    def slowlog_get(self, num=None):
        """Slow log entries of every node (the ``num`` most recent):
        ``{'host:port': [{'id', 'start_time', 'duration', 'command',
        'client_address', 'client_name'}, ...]}``. https://redis.io/commands/slowlog-get"""
        args = ["SLOWLOG GET"]
        if num is not None:
            args.append(num)
        decode = self.connection_pool.connection_kwargs.get("decode_responses", False)
        return self.execute_command(*args, decode_responses=decode)

    def slowlog_len(self):
        """Length of every node's slow log: ``{'host:port': n}``.
        https://redis.io/commands/slowlog-len"""
        return self.execute_command("SLOWLOG LEN")

    def slowlog_reset(self):
        """Empty every node's slow log: ``{'host:port': True}``.
        https://redis.io/commands/slowlog-reset"""
        return self.execute_command("SLOWLOG RESET")

    # ------------------------------------------------------------ clients

    def client_list(self, _type=None, client_id=None):
        """Clients connected to every node: ``{'host:port': [{field: value}]}``.

        ``_type``: normal, master, replica or pubsub; ``client_id``: a list of ids.
        https://redis.io/commands/client-list"""
        args = []
        if _type is not None:
            if str(_type).lower() not in _CLIENT_LIST_TYPES:
                raise DataError("CLIENT LIST _type must be one of %r" % (_CLIENT_LIST_TYPES,))
            args.extend((b"TYPE", _type))
        if client_id is not None:
            if not isinstance(client_id, (list, tuple)):
                raise DataError("client_id must be a list")
            if client_id:
                args.append(b"ID")
                args.extend(client_id)
        return self.execute_command("CLIENT LIST", *args)

    def client_info(self):
        """This client's connection to every node, parsed:
        ``{'host:port': {field: value}}``. https://redis.io/commands/client-info"""
        return self.execute_command("CLIENT INFO")

    def client_getname(self):
        """Name of the connection used on every node: ``{'host:port': name or None}``.
        https://redis.io/commands/client-getname"""
        return self.execute_command("CLIENT GETNAME")

    def client_setname(self, name):
        """Name the connection used on every node (one pooled connection per
        node): ``{'host:port': True}``. Prefer the ``client_name=`` option,
        which names every connection. https://redis.io/commands/client-setname"""
        return self.execute_command("CLIENT SETNAME", name)

    def client_id(self):
        """Id of the connection used on every node: ``{'host:port': id}``.
        https://redis.io/commands/client-id"""
        return self.execute_command("CLIENT ID")

    def client_kill(self, address):
        """Close the connection from ``address`` ('ip:port') on every node:
        ``{'host:port': True}``. The old form of CLIENT KILL: a node that has no
        such client answers an error, which is raised; ``client_kill_filter``
        counts instead. https://redis.io/commands/client-kill"""
        return self.execute_command("CLIENT KILL", address)

    def client_kill_filter(self, _id=None, _type=None, addr=None, skipme=None,
                           laddr=None, user=None, maxage=None):
        """Close the connections matching every given filter, on every node:
        ``{'host:port': number closed}``.

        ``_id``: client id; ``_type``: normal, master, slave, replica or pubsub;
        ``addr`` / ``laddr``: remote / local 'ip:port'; ``skipme``: bool (server
        default True); ``user``: ACL user; ``maxage``: older than this many
        seconds. https://redis.io/commands/client-kill"""
        args = []
        if _type is not None:
            if str(_type).lower() not in _CLIENT_KILL_TYPES:
                raise DataError("CLIENT KILL type must be one of %r" % (_CLIENT_KILL_TYPES,))
            args.extend((b"TYPE", _type))
        if skipme is not None:
            if not isinstance(skipme, bool):
                raise DataError("CLIENT KILL skipme must be a bool")
            args.extend((b"SKIPME", b"YES" if skipme else b"NO"))
        if _id is not None:
            args.extend((b"ID", _id))
        if addr is not None:
            args.extend((b"ADDR", addr))
        if laddr is not None:
            args.extend((b"LADDR", laddr))
        if user is not None:
            args.extend((b"USER", user))
        if maxage is not None:
            args.extend((b"MAXAGE", maxage))
        if not args:
            raise DataError("CLIENT KILL <filter> <value> ... ... <filter> "
                            "<value> must specify at least one filter")
        return self.execute_command("CLIENT KILL", *args)

    def client_pause(self, timeout, all=True):
        """Suspend the clients of every node for ``timeout`` milliseconds:
        ``{'host:port': True}``. ``all=False``: only write commands are suspended.
        https://redis.io/commands/client-pause"""
        if not isinstance(timeout, int) or isinstance(timeout, bool):
            raise DataError("CLIENT PAUSE timeout must be an integer")
        args = ["CLIENT PAUSE", str(timeout)]
        if not all:
            args.append(b"WRITE")
        return self.execute_command(*args)

    def client_unpause(self):
        """End a CLIENT PAUSE on every node: ``{'host:port': b'OK'}``.
        https://redis.io/commands/client-unpause"""
        return self.execute_command("CLIENT UNPAUSE")

    def client_no_evict(self, mode):
        """Client eviction ('ON'/'OFF') for the connection used on every node:
        ``{'host:port': b'OK'}``. https://redis.io/commands/client-no-evict"""
        return self.execute_command("CLIENT NO-EVICT", mode)

    def client_no_touch(self, mode):
        """Whether the connection used on every node alters LRU/LFU ('ON'/'OFF'):
        ``{'host:port': b'OK'}``. https://redis.io/commands/client-no-touch"""
        return self.execute_command("CLIENT NO-TOUCH", mode)

    def client_trackinginfo(self):
        """Client-side caching state of the connection used on every node:
        ``{'host:port': [...]}``. https://redis.io/commands/client-trackinginfo"""
        return self.execute_command("CLIENT TRACKINGINFO")

    # ------------------------------------------------------------ memory

    def memory_stats(self):
        """Memory statistics of every node: ``{'host:port': {name: value}}``.
        https://redis.io/commands/memory-stats"""
        return self.execute_command("MEMORY STATS")

    def memory_doctor(self):
        """Memory advice of every node: ``{'host:port': text}``.
        https://redis.io/commands/memory-doctor"""
        return self.execute_command("MEMORY DOCTOR")

    def memory_malloc_stats(self):
        """Allocator statistics of every node: ``{'host:port': text}``.
        https://redis.io/commands/memory-malloc-stats"""
        return self.execute_command("MEMORY MALLOC-STATS")

    def memory_purge(self):
        """Ask every node's allocator to release dirty pages: ``{'host:port': True}``.
        https://redis.io/commands/memory-purge"""
        return self.execute_command("MEMORY PURGE")

    # ------------------------------------------------------------ latency

    def latency_latest(self):
        """Latest latency events of every node: ``{'host:port': [[event, time,
        latest_ms, max_ms], ...]}``. https://redis.io/commands/latency-latest"""
        return self.execute_command("LATENCY LATEST")

    def latency_history(self, event):
        """Latency samples of ``event`` on every node: ``{'host:port': [[time, ms]]}``.
        https://redis.io/commands/latency-history"""
        return self.execute_command("LATENCY HISTORY", event)

    def latency_reset(self, *events):
        """Reset the latency data of ``events`` (all if none) on every node:
        ``{'host:port': number reset}``. https://redis.io/commands/latency-reset"""
        return self.execute_command("LATENCY RESET", *events)

    def latency_doctor(self):
        """Latency analysis of every node: ``{'host:port': text}``.
        https://redis.io/commands/latency-doctor"""
        return self.execute_command("LATENCY DOCTOR")

    def latency_histogram(self, *commands):
        """Latency histograms of ``commands`` (all if none) on every node:
        ``{'host:port': reply}``. https://redis.io/commands/latency-histogram"""
        return self.execute_command("LATENCY HISTOGRAM", *commands)

    # ------------------------------------------------------------ command table

    def command(self):
        """Every command of the server (one node): ``{name: {'name', 'arity',
        'flags', 'first_key_pos', 'last_key_pos', 'step_count', ...}}``.
        https://redis.io/commands/command"""
        return self.execute_command("COMMAND")

    def command_count(self):
        """Number of commands the server knows (one node).
        https://redis.io/commands/command-count"""
        return self.execute_command("COMMAND COUNT")

    def command_info(self, *command_names):
        """Details of the named commands (one node), as ``command()`` returns them;
        unknown names are left out. https://redis.io/commands/command-info"""
        return self.execute_command("COMMAND INFO", *command_names)

    def command_docs(self, *command_names):
        """Documentation of the named commands (all if none), the raw reply of one
        node. https://redis.io/commands/command-docs"""
        return self.execute_command("COMMAND DOCS", *command_names)

    def command_list(self, module=None, category=None, pattern=None):
        """Names of the server's commands (one node), optionally filtered by
        ``module``, ACL ``category`` or glob ``pattern`` (one filter at most).
        https://redis.io/commands/command-list"""
        pieces = []
        if module is not None:
            pieces.extend((b"MODULE", module))
        if category is not None:
            pieces.extend((b"ACLCAT", category))
        if pattern is not None:
            pieces.extend((b"PATTERN", pattern))
        if len(pieces) > 2:
            raise DataError("COMMAND LIST takes at most one filter")
        if pieces:
            pieces.insert(0, b"FILTERBY")
        return self.execute_command("COMMAND LIST", *pieces)

    def command_getkeys(self, *args):
        """The keys of the command ``args`` (one node).
        https://redis.io/commands/command-getkeys"""
        return self.execute_command("COMMAND GETKEYS", *args)

    # ------------------------------------------------------------ blocked in a cluster

    def shutdown(self, save=False, nosave=False):
        """Blocked in cluster mode (raises RedisClusterException).
        https://redis.io/commands/shutdown"""
        if save and nosave:
            raise DataError("SHUTDOWN save and nosave cannot both be set")
        args = ["SHUTDOWN"]
        if save:
            args.append(b"SAVE")
        if nosave:
            args.append(b"NOSAVE")
        return self.execute_command(*args)

    def slaveof(self, host=None, port=None):
        """Blocked in cluster mode (use ``cluster_replicate``).
        https://redis.io/commands/slaveof"""
        if host is None and port is None:
            return self.execute_command("SLAVEOF", b"NO", b"ONE")
        return self.execute_command("SLAVEOF", host, port)

    def replicaof(self, *args):
        """Blocked in cluster mode (use ``cluster_replicate``).
        https://redis.io/commands/replicaof"""
        return self.execute_command("REPLICAOF", *args)

    def wait(self, num_replicas, timeout):
        """Blocked in cluster mode (it acknowledges one connection's writes).
        https://redis.io/commands/wait"""
        return self.execute_command("WAIT", num_replicas, timeout)

    def acl_cat(self, category=None):
        """Blocked in cluster mode. https://redis.io/commands/acl-cat"""
        pieces = [category] if category else []
        return self.execute_command("ACL CAT", *pieces)

    def acl_deluser(self, *username):
        """Blocked in cluster mode. https://redis.io/commands/acl-deluser"""
        return self.execute_command("ACL DELUSER", *username)

    def acl_genpass(self, bits=None):
        """Blocked in cluster mode. https://redis.io/commands/acl-genpass"""
        pieces = [bits] if bits is not None else []
        return self.execute_command("ACL GENPASS", *pieces)

    def acl_getuser(self, username):
        """Blocked in cluster mode. https://redis.io/commands/acl-getuser"""
        return self.execute_command("ACL GETUSER", username)

    def acl_list(self):
        """Blocked in cluster mode. https://redis.io/commands/acl-list"""
        return self.execute_command("ACL LIST")

    def acl_load(self):
        """Blocked in cluster mode. https://redis.io/commands/acl-load"""
        return self.execute_command("ACL LOAD")

    def acl_log(self, count=None):
        """Blocked in cluster mode. https://redis.io/commands/acl-log"""
        pieces = [count] if count is not None else []
        return self.execute_command("ACL LOG", *pieces)

    def acl_save(self):
        """Blocked in cluster mode. https://redis.io/commands/acl-save"""
        return self.execute_command("ACL SAVE")

    def acl_setuser(self, username, *args, **kwargs):
        """Blocked in cluster mode (ACLs are per node: use each node directly).
        https://redis.io/commands/acl-setuser"""
        return self.execute_command("ACL SETUSER", username)

    def acl_users(self):
        """Blocked in cluster mode. https://redis.io/commands/acl-users"""
        return self.execute_command("ACL USERS")

    def acl_whoami(self):
        """Blocked in cluster mode. https://redis.io/commands/acl-whoami"""
        return self.execute_command("ACL WHOAMI")

    # -- redis-py 3.5 methods that 2.1.3 inherited

    def client_unblock(self, client_id, error=False):
        """Unblock the client ``client_id`` (with an UNBLOCKED error if
        ``error``); True if a node had such a blocked client (the id is asked
        on every node). https://redis.io/commands/client-unblock"""
        args = ["CLIENT UNBLOCK", int(client_id)]
        if error:
            args.append(b"ERROR")
        return self.execute_command(*args)

    def debug_object(self, key):
        """DEBUG OBJECT of ``key`` on the master serving it, as a dict
        (``type``, ``encoding``, ``refcount``, ``serializedlength``, ...).
        https://redis.io/commands/debug-object"""
        node = self.connection_pool.get_master_node_by_slot(self.keyslot(key))
        return self._send_to_address((node["host"], int(node["port"])), "DEBUG OBJECT", key)

    def monitor(self):
        """Blocked in cluster mode (raises RedisClusterException, as 2.1.3)."""
        return self.execute_command("MONITOR")

    def readonly(self):
        """Blocked in cluster mode: the engine sends READONLY itself on replica
        connections (raises RedisClusterException, as 2.1.3)."""
        return self.execute_command("READONLY")

    def readwrite(self):
        """Blocked in cluster mode, as ``readonly`` (raises RedisClusterException)."""
        return self.execute_command("READWRITE")

    def swapdb(self, first, second):
        """SWAPDB; a cluster has only db 0, so the server refuses it
        (ResponseError). https://redis.io/commands/swapdb"""
        return self.execute_command("SWAPDB", first, second)

    def watch(self, *names):
        """Does nothing but warn, as redis-py 3.5's ``Redis.watch``: WATCH
        belongs to a pipeline (``pipeline().watch(...)``)."""
        warnings.warn(DeprecationWarning("Call WATCH from a Pipeline object"))

    def unwatch(self):
        """Does nothing but warn, as redis-py 3.5's ``Redis.unwatch``."""
        warnings.warn(DeprecationWarning("Call UNWATCH from a Pipeline object"))

    def sentinel(self, *args):
        """Does nothing but warn, as redis-py 3.5's ``Redis.sentinel``."""
        warnings.warn(DeprecationWarning("Use the individual sentinel_* methods"))

    def sentinel_get_master_addr_by_name(self, service_name):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL GET-MASTER-ADDR-BY-NAME", service_name)

    def sentinel_master(self, service_name):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL MASTER", service_name)

    def sentinel_masters(self):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL MASTERS")

    def sentinel_monitor(self, name, ip, port, quorum):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL MONITOR", name, ip, port, quorum)

    def sentinel_remove(self, name):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL REMOVE", name)

    def sentinel_sentinels(self, service_name):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL SENTINELS", service_name)

    def sentinel_set(self, name, option, value):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL SET", name, option, value)

    def sentinel_slaves(self, service_name):
        """Blocked in cluster mode (raises RedisClusterException)."""
        return self.execute_command("SENTINEL SLAVES", service_name)


# ---------------------------------------------------------------- reply parsers


def parse_debug_object(response, **options):
    """DEBUG OBJECT's "Value at:0x... refcount:1 ..." -> dict, ints converted."""
    fields = {}
    for item in ("type:" + nativestr(response)).split():
        name, _, value = item.partition(":")
        fields[name] = value
    for name in ("refcount", "serializedlength", "lru", "lru_seconds_idle"):
        if name in fields:
            fields[name] = int(fields[name])
    return fields


def _true(response, **options):
    return True


def _timestamp_to_datetime(response, **options):
    """Unix time -> local datetime (redis-py's LASTSAVE), None if unset."""
    if not response:
        return None
    try:
        return datetime.datetime.fromtimestamp(int(response))
    except (ValueError, OverflowError, OSError):
        return None


def _info_value(value):
    if "," not in value or "=" not in value:
        try:
            if "." in value:
                return float(value)
            return int(value)
        except ValueError:
            return value
    sub = {}
    for item in value.split(","):
        if "=" not in item:
            continue
        k, v = item.rsplit("=", 1)
        sub[k] = _info_value(v)
    return sub


def parse_info(response, **options):
    """INFO text -> dict; numbers become int/float, 'a=1,b=2' values nested
    dicts; lines without ':' are kept under '__raw__' (redis-py's rules)."""
    info = {}
    for line in nativestr(response).splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            if key == "cmdstat_host":
                key, value = line.rsplit(":", 1)
            info[key] = _info_value(value)
        else:
            info.setdefault("__raw__", []).append(line)
    return info


def parse_config_get(response, **options):
    """[name, value, ...] -> {name: value} as str."""
    items = [nativestr(i) if i is not None else None for i in response]
    return pairs_to_dict(items) if items else {}


def parse_client_list(response, **options):
    """CLIENT LIST text -> [{field: value}] (values may contain '=')."""
    clients = []
    for line in nativestr(response).splitlines():
        if line:
            clients.append(dict(pair.split("=", 1) for pair in line.split(" ") if pair))
    return clients


_CLIENT_INFO_INTS = ("id", "age", "idle", "db", "sub", "psub", "ssub", "multi", "qbuf",
                     "qbuf-free", "obl", "argv-mem", "oll", "omem", "tot-mem")


def parse_client_info(response, **options):
    """CLIENT INFO line -> {field: value}; counters as int (current redis-py)."""
    info = {}
    for pair in nativestr(response).strip().split():
        key, _, value = pair.partition("=")
        info[key] = value
    for key in _CLIENT_INFO_INTS:
        if key in info:
            try:
                info[key] = int(info[key])
            except ValueError:
                pass
    return info


def parse_client_kill(response, **options):
    """An integer (filter form) or OK (address form)."""
    if isinstance(response, int):
        return response
    return nativestr(response) == "OK"


def parse_slowlog_get(response, **options):
    """SLOWLOG GET entries -> dicts; 'command' is the arguments joined by a space."""
    space = " " if options.get("decode_responses", False) else b" "
    entries = []
    for item in response:
        if space == " ":
            command = space.join(nativestr(a) for a in item[3])
        else:
            command = space.join(a if isinstance(a, bytes) else str(a).encode() for a in item[3])
        entry = {
            "id": item[0],
            "start_time": int(item[1]),
            "duration": int(item[2]),
            "command": command,
        }
        if len(item) > 5:
            entry["client_address"] = item[4]
            entry["client_name"] = item[5]
        entries.append(entry)
    return entries


def parse_memory_stats(response, **options):
    """MEMORY STATS pairs -> dict (str keys; 'db.N' entries nested dicts)."""
    stats = pairs_to_dict(response, decode_keys=True, decode_string_values=True)
    for key, value in stats.items():
        if key.startswith("db.") and isinstance(value, list):
            stats[key] = pairs_to_dict(value, decode_keys=True, decode_string_values=True)
    return stats


def parse_command(response, **options):
    """COMMAND / COMMAND INFO -> {name: details} (unknown names, nil, skipped)."""
    commands = {}
    for command in response:
        if not command:
            continue
        name = nativestr(command[0])
        details = {
            "name": name,
            "arity": int(command[1]),
            "flags": [nativestr(flag) for flag in command[2]],
            "first_key_pos": command[3],
            "last_key_pos": command[4],
            "step_count": command[5],
        }
        if len(command) > 6:
            details["acl_categories"] = [nativestr(c) for c in command[6]]
        if len(command) > 9:
            details["tips"] = command[7]
            details["key_specifications"] = command[8]
            details["subcommands"] = command[9]
        commands[name] = details
    return commands


def parse_scan(response, **options):
    """[cursor, keys] -> (int cursor, keys)."""
    cursor, keys = response
    return int(cursor), keys


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "DEBUG OBJECT": parse_debug_object,
    "CLIENT UNBLOCK": lambda r, **o: bool(r) and int(r) == 1,
    "BGREWRITEAOF": _true,
    "BGSAVE": _true,
    "CLIENT GETNAME": lambda r, **o: r and nativestr(r),
    "CLIENT ID": lambda r, **o: int(r),
    "CLIENT INFO": parse_client_info,
    "CLIENT KILL": parse_client_kill,
    "CLIENT LIST": parse_client_list,
    "CLIENT PAUSE": bool_ok,
    "CLIENT SETNAME": bool_ok,
    "CLIENT TRACKINGINFO": lambda r, **o: [nativestr(x) for x in r],
    "COMMAND": parse_command,
    "COMMAND INFO": parse_command,
    "COMMAND GETKEYS": lambda r, **o: [nativestr(x) for x in r],
    "CONFIG GET": parse_config_get,
    "CONFIG RESETSTAT": bool_ok,
    "CONFIG SET": bool_ok,
    "DBSIZE": lambda r, **o: int(r),
    "FLUSHALL": bool_ok,
    "FLUSHDB": bool_ok,
    "INFO": parse_info,
    "LASTSAVE": _timestamp_to_datetime,
    "LATENCY RESET": lambda r, **o: int(r),
    "MEMORY PURGE": bool_ok,
    "MEMORY STATS": parse_memory_stats,
    "PING": lambda r, **o: nativestr(r) == "PONG",
    "SAVE": bool_ok,
    "SCAN": parse_scan,
    "SLOWLOG GET": parse_slowlog_get,
    "SLOWLOG LEN": lambda r, **o: int(r),
    "SLOWLOG RESET": bool_ok,
    "TIME": lambda r, **o: (int(r[0]), int(r[1])),
}

__all__ = ["ServerCommands", "RESPONSE_CALLBACKS", "parse_info", "parse_config_get",
           "parse_client_list", "parse_client_info", "parse_slowlog_get",
           "parse_memory_stats", "parse_command", "parse_scan"]
