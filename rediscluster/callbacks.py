"""The one response-callback dict, and the cluster routing tables.

``RESPONSE_CALLBACKS`` maps an upper-case command name to the function that turns
the parsed reply into what the command method returns (redis-py 3.5's shapes).
``NODES_FLAGS`` says where keyless commands go and ``RESULT_CALLBACKS`` how their
per-node replies are merged (redis-py-cluster 2.1.3's tables). The C engine reads
all three from the client instance; nothing here does I/O.
"""

from .commands import FAMILY_CALLBACKS
from .utils import (
    bool_ok,
    dict_merge,
    first_key,
    merge_result,
    parse_pubsub_channels,
    parse_pubsub_numpat,
    parse_pubsub_numsub,
    string_keys_to_dict,
)

__all__ = [
    "CaseInsensitiveDict",
    "RESPONSE_CALLBACKS",
    "NODES_FLAGS",
    "RESULT_CALLBACKS",
]


class CaseInsensitiveDict(dict):
    """A dict whose keys are upper-cased on the way in and on lookup, as 2.1.3's.

    The C engine looks names up with the exact upper-case key, so storing keys
    upper-cased is what makes ``callbacks['get'] = f`` work for ``GET``.
    """

    def __init__(self, data=None, **kwargs):
        super().__init__()
        for k, v in dict(data or {}, **kwargs).items():
            self[k] = v

    def __contains__(self, k):
        return super().__contains__(k.upper())

    def __delitem__(self, k):
        super().__delitem__(k.upper())

    def __getitem__(self, k):
        return super().__getitem__(k.upper())

    def get(self, k, default=None):
        return super().get(k.upper(), default)

    def __setitem__(self, k, v):
        super().__setitem__(k.upper(), v)

    def setdefault(self, k, default=None):
        return super().setdefault(k.upper(), default)

    def pop(self, k, *default):
        return super().pop(k.upper(), *default)

    def update(self, data=None, **kwargs):
        for k, v in dict(data or {}, **kwargs).items():
            self[k] = v

    def copy(self):
        return CaseInsensitiveDict(self)


def _int_or_none(response):
    return None if response is None else int(response)


#: Parsers of commands whose family module does not declare them (the
#: families' own entries are in rediscluster/commands/*.py; ECHO keeps its
#: reply as it is, so it needs none).
_BASE_CALLBACKS = dict_merge(
    string_keys_to_dict("AUTH MOVE MSETNX RENAMENX SMOVE".split(), bool),
    string_keys_to_dict(
        "DEL EXISTS PFCOUNT SDIFFSTORE SINTERSTORE SUNIONSTORE UNLINK XACK XDEL XLEN "
        "XTRIM ZCARD ZLEXCOUNT ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE "
        "TOUCH".split(),
        int,
    ),
    string_keys_to_dict(
        "MSET PFMERGE RENAME SELECT SHUTDOWN SLAVEOF SWAPDB WATCH UNWATCH".split(), bool_ok),
)


#: The one response-callback dict: the base entries above, then each command
#: family's own (rediscluster/commands/*.py), later ones winning.
RESPONSE_CALLBACKS = dict_merge(_BASE_CALLBACKS, *FAMILY_CALLBACKS)


# ---------------------------------------------------------------- routing (2.1.3)
#
# NODES_FLAGS: where a keyless command goes. Keys are the upper-case command
# names as the methods pass them ("CONFIG GET"). 2.1.3's groups, plus the
# Redis 7 keyless commands that have a sensible cluster meaning. A keyless
# command that is in no group raises "Missing key" (its key, if any, routes it).

def _flags(names, flag):
    """'A B, C' -> {'A B': flag, 'C': flag} (names may have spaces)."""
    return {name.strip(): flag for name in names.split(",") if name.strip()}


NODES_FLAGS = _flags(
    # 2.1.3
    "ACL CAT, ACL DELUSER, ACL GENPASS, ACL GETUSER, ACL HELP, ACL LIST, ACL LOAD, "
    "ACL LOG, ACL SAVE, ACL SETUSER, ACL USERS, ACL WHOAMI, MOVE, SCRIPT KILL, "
    "SENTINEL GET-MASTER-ADDR-BY-NAME, SENTINEL MASTER, SENTINEL MASTERS, "
    "SENTINEL MONITOR, SENTINEL REMOVE, SENTINEL SENTINELS, SENTINEL SET, "
    "SENTINEL SLAVES, SHUTDOWN, SLAVEOF, WAIT, "
    # newer: same reasons (per-connection debugging, killing "the" running
    # script of a cluster, role changes, replication acknowledgements, ACLs)
    "ACL DRYRUN, SCRIPT DEBUG, FUNCTION KILL, REPLICAOF, WAITAOF, FAILOVER, CLIENT REPLY, "
    # per-connection state the engine manages itself (2.1.3 raised here too:
    # "Missing key" / "Only 'pubsub' commands ...")
    "MONITOR, READONLY, READWRITE",
    "blocked",
)
NODES_FLAGS.update(
    _flags(
        # 2.1.3
        "BGREWRITEAOF, BGSAVE, CLIENT GETNAME, CLIENT ID, CLIENT KILL, CLIENT LIST, "
        "CLIENT SETNAME, CLUSTER INFO, CONFIG GET, CONFIG RESETSTAT, CONFIG REWRITE, "
        "CONFIG SET, DBSIZE, ECHO, INFO, LASTSAVE, PING, PUBSUB CHANNELS, "
        "PUBSUB NUMPAT, PUBSUB NUMSUB, SAVE, SLOWLOG GET, SLOWLOG LEN, SLOWLOG RESET, TIME, "
        # newer per-node state
        "CLIENT INFO, CLIENT NO-EVICT, CLIENT NO-TOUCH, CLIENT PAUSE, CLIENT UNPAUSE, "
        "CLIENT TRACKINGINFO, CLIENT UNBLOCK, CLUSTER MYID, CLUSTER SAVECONFIG, MEMORY DOCTOR, "
        "MEMORY MALLOC-STATS, MEMORY PURGE, MEMORY STATS, LATENCY DOCTOR, LATENCY GRAPH, "
        "LATENCY HISTOGRAM, LATENCY HISTORY, LATENCY LATEST, LATENCY RESET, "
        "PUBSUB SHARDCHANNELS, PUBSUB SHARDNUMSUB",
        "all-nodes",
    )
)
NODES_FLAGS.update(
    _flags(
        # 2.1.3 (SCRIPT DEBUG was here: with several masters it always raised
        # "More then 1 result"; it is blocked above). KEYS moved here from
        # all-nodes: same merged list, without stale keys from lagging replicas.
        "FLUSHALL, FLUSHDB, KEYS, SCAN, SCRIPT EXISTS, SCRIPT FLUSH, SCRIPT LOAD, "
        # functions live on every master (replicas get them by replication)
        "FUNCTION DELETE, FUNCTION DUMP, FUNCTION FLUSH, FUNCTION LIST, FUNCTION LOAD, "
        "FUNCTION RESTORE, FUNCTION STATS, "
        # every master refuses it (one db in cluster mode): the server's error
        "SWAPDB",
        "all-masters",
    )
)
NODES_FLAGS.update(
    _flags(
        # 2.1.3
        "CLUSTER NODES, CLUSTER SLOTS, RANDOMKEY, "
        # the same answer from any node
        "CLUSTER COUNT-FAILURE-REPORTS, CLUSTER KEYSLOT, CLUSTER REPLICAS, CLUSTER SHARDS, "
        "CLUSTER SLAVES, COMMAND, COMMAND COUNT, COMMAND DOCS, COMMAND GETKEYS, "
        "COMMAND GETKEYSANDFLAGS, COMMAND INFO, COMMAND LIST, LOLWUT, LOLWUT VERSION",
        "random",
    )
)
NODES_FLAGS.update(_flags("CLUSTER COUNTKEYSINSLOT, CLUSTER GETKEYSINSLOT", "slot-id"))


# RESULT_CALLBACKS: how the per-node replies of a fan-out ({'host:port': reply})
# are merged. The engine calls ``callback(command, res, **options)`` with the
# method's options (e.g. ``aggregate=False``), so every callback takes **kwargs.

def _identity(command, res, **kwargs):
    """The per-node dict itself: ``{'host:port': reply}``."""
    return res


def _any_one(command, res, **kwargs):
    """One node's reply, for commands every master answers alike."""
    return next(iter(res.values()), None)


def _any_true(command, res, **kwargs):
    """True if any node said yes."""
    return any(res.values())


def _all_true(command, res, **kwargs):
    """True if every node said yes."""
    return all(res.values())


def _script_exists(command, res, **kwargs):
    """A script exists if every master has it."""
    return [all(k) for k in zip(*res.values())]


RESULT_CALLBACKS = dict_merge(
    _flags(
        # 2.1.3 (CLUSTER COUNT-FAILURE-REPORTS went: it now asks one node)
        "BGREWRITEAOF, BGSAVE, CLIENT GETNAME, CLIENT ID, CLIENT KILL, CLIENT LIST, "
        "CLIENT SETNAME, CLUSTER INFO, CONFIG GET, CONFIG RESETSTAT, CONFIG REWRITE, "
        "CONFIG SET, DBSIZE, ECHO, FLUSHALL, FLUSHDB, INFO, LASTSAVE, PING, SAVE, SCAN, "
        "SLOWLOG GET, SLOWLOG LEN, SLOWLOG RESET, TIME, CLUSTER ADDSLOTS, "
        "CLUSTER DELSLOTS, CLUSTER FAILOVER, CLUSTER FORGET, "
        # newer per-node state
        "CLIENT INFO, CLIENT NO-EVICT, CLIENT NO-TOUCH, CLIENT PAUSE, CLIENT UNPAUSE, "
        "CLIENT TRACKINGINFO, CLUSTER MYID, CLUSTER SAVECONFIG, MEMORY DOCTOR, "
        "MEMORY MALLOC-STATS, MEMORY PURGE, MEMORY STATS, LATENCY DOCTOR, LATENCY GRAPH, "
        "LATENCY HISTOGRAM, LATENCY HISTORY, LATENCY LATEST, LATENCY RESET, FUNCTION STATS",
        _identity,
    ),
    {
        "SCRIPT LOAD": _any_one,
        "SCRIPT EXISTS": _script_exists,
        "SCRIPT FLUSH": _all_true,
        "FUNCTION LOAD": _any_one,
        "FUNCTION LIST": _any_one,
        "FUNCTION DUMP": _any_one,
        "FUNCTION DELETE": _all_true,
        "FUNCTION FLUSH": _all_true,
        "FUNCTION RESTORE": _all_true,
        "KEYS": merge_result,
        "CLIENT UNBLOCK": _any_true,
        "PUBSUB CHANNELS": parse_pubsub_channels,
        "PUBSUB SHARDCHANNELS": parse_pubsub_channels,
        "PUBSUB NUMPAT": parse_pubsub_numpat,
        "PUBSUB NUMSUB": parse_pubsub_numsub,
        "PUBSUB SHARDNUMSUB": parse_pubsub_numsub,
    },
    _flags("HSCAN, RANDOMKEY, SSCAN, ZSCAN", first_key),
)
