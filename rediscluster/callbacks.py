"""The one response-callback dict, and the cluster routing tables.

``RESPONSE_CALLBACKS`` maps an upper-case command name to the function that turns
the parsed reply into what the command method returns (redis-py 3.5's shapes).
``NODES_FLAGS`` says where keyless commands go and ``RESULT_CALLBACKS`` how their
per-node replies are merged (redis-py-cluster 2.1.3's tables). The C engine reads
all three from the client instance; nothing here does I/O.
"""

from . import _core
from .commands import FAMILY_CALLBACKS
from .exceptions import RedisClusterException

__all__ = [
    "CaseInsensitiveDict",
    "RESPONSE_CALLBACKS",
    "NODES_FLAGS",
    "RESULT_CALLBACKS",
    "string_keys_to_dict",
    "dict_merge",
    "nativestr",
    "bool_ok",
]


def nativestr(x):
    """bytes -> str (utf-8, replace); anything else unchanged."""
    return x if isinstance(x, str) else x.decode("utf-8", "replace")


#: ``reply == OK`` (in C: it runs once per command)
bool_ok = _core.bool_ok


def string_keys_to_dict(key_string, callback):
    return dict.fromkeys(key_string.split(), callback)


def dict_merge(*dicts):
    merged = {}
    for d in dicts:
        merged.update(d)
    return merged


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


_BASE_CALLBACKS = dict_merge(
    string_keys_to_dict(
        "AUTH EXPIRE EXPIREAT HEXISTS HMSET MOVE MSETNX PERSIST PSETEX RENAMENX "
        "SISMEMBER SMOVE SETEX SETNX",
        bool,
    ),
    string_keys_to_dict(
        "BITCOUNT BITPOS DECRBY DEL EXISTS GETBIT HDEL HLEN HSTRLEN INCRBY LINSERT "
        "LLEN LPUSHX PFADD PFCOUNT RPUSHX SADD SCARD SDIFFSTORE SETBIT SETRANGE "
        "SINTERSTORE SREM STRLEN SUNIONSTORE UNLINK XACK XDEL XLEN XTRIM ZCARD "
        "ZLEXCOUNT ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE TOUCH",
        int,
    ),
    string_keys_to_dict("INCRBYFLOAT HINCRBYFLOAT", float),
    string_keys_to_dict(
        "FLUSHALL FLUSHDB LSET LTRIM MSET PFMERGE READONLY READWRITE RENAME SAVE "
        "SELECT SHUTDOWN SLAVEOF SWAPDB WATCH UNWATCH ASKING",
        bool_ok,
    ),
    {
        # redis-py 3.5: ``r and nativestr(r) == "OK"`` -- None when NX/XX failed
        "SET": _core.set_ok,
        "PING": lambda r: nativestr(r) == "PONG",
        "ECHO": lambda r: r,
        "TTL": lambda r: r,
        "PTTL": lambda r: r,
        "CLIENT SETNAME": bool_ok,
        "CLIENT GETNAME": lambda r: r and nativestr(r),
        "DBSIZE": int,
        "LASTSAVE": lambda r: r,
        "TIME": lambda r: (int(r[0]), int(r[1])),
        "CLUSTER ADDSLOTS": bool_ok,
        "CLUSTER COUNT-FAILURE-REPORTS": int,
        "CLUSTER COUNTKEYSINSLOT": int,
        "CLUSTER DELSLOTS": bool_ok,
        "CLUSTER FAILOVER": bool_ok,
        "CLUSTER FORGET": bool_ok,
        "CLUSTER KEYSLOT": int,
        "CLUSTER MEET": bool_ok,
        "CLUSTER REPLICATE": bool_ok,
        "CLUSTER RESET": bool_ok,
        "CLUSTER SAVECONFIG": bool_ok,
        "CLUSTER SET-CONFIG-EPOCH": bool_ok,
        "CLUSTER SETSLOT": bool_ok,
    },
)


#: The one response-callback dict: the base entries above, then each command
#: family's own (rediscluster/commands/*.py), later ones winning.
RESPONSE_CALLBACKS = dict_merge(_BASE_CALLBACKS, *FAMILY_CALLBACKS)


# ---------------------------------------------------------------- routing (2.1.3)

def _flags(names, flag):
    """'A B, C' -> {'A B': flag, 'C': flag} (names may have spaces)."""
    return {name.strip(): flag for name in names.split(",") if name.strip()}


NODES_FLAGS = _flags(
    "ACL CAT, ACL DELUSER, ACL GENPASS, ACL GETUSER, ACL HELP, ACL LIST, ACL LOAD, "
    "ACL LOG, ACL SAVE, ACL SETUSER, ACL USERS, ACL WHOAMI, BITOP, MOVE, SCRIPT KILL, "
    "SENTINEL GET-MASTER-ADDR-BY-NAME, SENTINEL MASTER, SENTINEL MASTERS, "
    "SENTINEL MONITOR, SENTINEL REMOVE, SENTINEL SENTINELS, SENTINEL SET, "
    "SENTINEL SLAVES, SHUTDOWN, SLAVEOF, WAIT",
    "blocked",
)
NODES_FLAGS.update(
    _flags(
        "BGREWRITEAOF, BGSAVE, CLIENT GETNAME, CLIENT ID, CLIENT KILL, CLIENT LIST, "
        "CLIENT SETNAME, CLUSTER INFO, CONFIG GET, CONFIG RESETSTAT, CONFIG REWRITE, "
        "CONFIG SET, DBSIZE, ECHO, INFO, KEYS, LASTSAVE, PING, PUBSUB CHANNELS, "
        "PUBSUB NUMPAT, PUBSUB NUMSUB, SAVE, SLOWLOG GET, SLOWLOG LEN, SLOWLOG RESET, TIME",
        "all-nodes",
    )
)
NODES_FLAGS.update(
    _flags(
        "FLUSHALL, FLUSHDB, SCAN, SCRIPT EXISTS, SCRIPT FLUSH, SCRIPT LOAD, SCRIPT DEBUG",
        "all-masters",
    )
)
NODES_FLAGS.update(_flags("CLUSTER NODES, CLUSTER SLOTS, RANDOMKEY", "random"))
NODES_FLAGS.update(_flags("CLUSTER COUNTKEYSINSLOT, CLUSTER GETKEYSINSLOT", "slot-id"))


def _identity(command, res, **kwargs):
    return res


def _first_key(command, res, **kwargs):
    if len(res) != 1:
        raise RedisClusterException("More then 1 result from command: {0}".format(command))
    return next(iter(res.values()))


def _merge_lists(command, res, **kwargs):
    merged = set()
    for v in res.values():
        merged.update(v or ())
    return list(merged)


RESULT_CALLBACKS = dict_merge(
    _flags(
        "BGREWRITEAOF, BGSAVE, CLIENT GETNAME, CLIENT ID, CLIENT KILL, CLIENT LIST, "
        "CLIENT SETNAME, CLUSTER INFO, CONFIG GET, CONFIG RESETSTAT, CONFIG REWRITE, "
        "CONFIG SET, DBSIZE, ECHO, FLUSHALL, FLUSHDB, INFO, LASTSAVE, PING, SAVE, SCAN, "
        "SLOWLOG GET, SLOWLOG LEN, SLOWLOG RESET, TIME, CLUSTER ADDSLOTS, "
        "CLUSTER COUNT-FAILURE-REPORTS, CLUSTER DELSLOTS, CLUSTER FAILOVER, CLUSTER FORGET",
        _identity,
    ),
    {
        "SCRIPT LOAD": lambda command, res, **kw: list(res.values()).pop(),
        "SCRIPT EXISTS": lambda command, res, **kw: [all(k) for k in zip(*res.values())],
        "SCRIPT FLUSH": lambda command, res, **kw: all(res.values()),
        "KEYS": _merge_lists,
    },
    _flags("HSCAN, RANDOMKEY, SSCAN, ZSCAN", _first_key),
)
