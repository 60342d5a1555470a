"""Helpers of redis-py-cluster 2.1.3's ``rediscluster.utils``, with its names,
signatures and errors; the package's own code uses these (one copy each).

Nothing here does I/O (``nslookup`` asks the resolver); this module imports
only the exception classes, so every other module may import it.
"""

from socket import gethostbyaddr

from .exceptions import RedisClusterException

__all__ = [
    "bool_ok",
    "nativestr",
    "string_keys_to_dict",
    "dict_merge",
    "blocked_command",
    "merge_result",
    "first_key",
    "nslookup",
    "parse_cluster_slots",
    "parse_cluster_nodes",
    "parse_pubsub_channels",
    "parse_pubsub_numpat",
    "parse_pubsub_numsub",
]


def nativestr(x):
    """bytes -> str (utf-8, errors replaced); anything else unchanged."""
    return x.decode("utf-8", "replace") if isinstance(x, (bytes, bytearray)) else x


def bool_ok(response, *args, **kwargs):
    """Response callback: whether the reply is ``OK`` (extra arguments, such as a
    command's options, are accepted and ignored)."""
    return nativestr(response) == "OK"


def string_keys_to_dict(key_strings, callback):
    """``{key: callback}`` for every key of the iterable ``key_strings``.

    As in 2.1.3, a str is iterated character by character: pass a list
    (``"A B".split()``)."""
    return dict.fromkeys(key_strings, callback)


def dict_merge(*dicts):
    """One dict with the items of all ``dicts``, later ones winning; ValueError
    if an argument is not a dict."""
    merged = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise ValueError("Value should be of dict type")
        merged.update(d)
    return merged


def blocked_command(self, command):
    """Raise RedisClusterException: ``command`` is blocked in cluster mode."""
    raise RedisClusterException("Command: {0} is blocked in redis cluster mode".format(command))


def merge_result(command, res, **options):
    """Result callback: the per-node lists of ``res`` ({node: list}) merged into
    one list without duplicates (order is lost)."""
    if not isinstance(res, dict):
        raise ValueError("Value should be of dict type")
    result = set()
    for v in res.values():
        result.update(v or ())
    return list(result)


def first_key(command, res, **options):
    """Result callback: the only value of ``res``; RedisClusterException if
    there is more than one."""
    if not isinstance(res, dict):
        raise ValueError("Value should be of dict type")
    if len(res) != 1:
        raise RedisClusterException("More then 1 result from command: {0}".format(command))
    return next(iter(res.values()))


def nslookup(node_ip):
    """Host name of an IP address, or ``"name:port"`` for ``"ip:port"``."""
    if ":" not in node_ip:
        return gethostbyaddr(node_ip)[0]
    ip, port = node_ip.split(":")
    return "{0}:{1}".format(gethostbyaddr(ip)[0], port)


def parse_cluster_slots(resp, **options):
    """CLUSTER SLOTS -> {(start, end): {'master': (host, port), 'slaves': [...]}};
    node ids are dropped, an empty host becomes ``current_host``."""
    current_host = options.get("current_host", "")

    def server(entry):
        return (nativestr(entry[0]) or current_host, entry[1])

    slots = {}
    for entry in resp:
        start, end, master = entry[:3]
        slots[start, end] = {
            "master": server(master),
            "slaves": [server(replica) for replica in entry[3:]],
        }
    return slots


def _parse_node_slots(text):
    slots, migrations = [], []
    for item in text.split(" "):
        if not item:
            continue
        if "->-" in item:
            slot, node = item[1:-1].split("->-", 1)
            migrations.append({"slot": int(slot), "node_id": node, "state": "migrating"})
        elif "-<-" in item:
            slot, node = item[1:-1].split("-<-", 1)
            migrations.append({"slot": int(slot), "node_id": node, "state": "importing"})
        elif "-" in item:
            start, end = item.split("-", 1)
            slots.extend(range(int(start), int(end) + 1))
        else:
            slots.append(int(item))
    return slots, migrations


def parse_cluster_nodes(resp, **options):
    """CLUSTER NODES text (or CLUSTER REPLICAS lines) -> list of node dicts:
    ``id, host, port, cluster-bus-port, flags (tuple), master (id or None),
    ping-sent, pong-recv, link-state, slots (tuple of ints), migrations``."""
    current_host = options.get("current_host", "")
    if isinstance(resp, (bytes, str)):
        lines = nativestr(resp).splitlines()
    else:
        lines = [nativestr(line) for line in resp]
    nodes = []
    for line in lines:
        if not line.strip():
            continue
        parts = line.split(" ", 8)
        node_id, addr, flags, master_id, ping_sent, pong_recv, _epoch, link_state = parts[:8]
        addr = addr.split(",", 1)[0]  # Redis 7: "ip:port@cport,hostname"
        host, _, ports = addr.rpartition(":")
        port, _, bus_port = ports.partition("@")
        node = {
            "id": node_id,
            "host": host or current_host,
            "port": int(port),
            "cluster-bus-port": int(bus_port) if bus_port else 10000 + int(port),
            "flags": tuple(flags.split(",")),
            "master": master_id if master_id != "-" else None,
            "ping-sent": int(ping_sent),
            "pong-recv": int(pong_recv),
            "link-state": link_state,
            "slots": [],
            "migrations": [],
        }
        if len(parts) >= 9:
            slots, migrations = _parse_node_slots(parts[8])
            node["slots"], node["migrations"] = tuple(slots), migrations
        nodes.append(node)
    return nodes


def parse_pubsub_channels(command, res, **options):
    """Result callback of PUBSUB CHANNELS: channels with subscribers on any
    node; ``aggregate=False``: the per-node dict."""
    if not options.get("aggregate", True):
        return res
    return merge_result(command, res)


def parse_pubsub_numpat(command, res, **options):
    """Result callback of PUBSUB NUMPAT: pattern subscriptions summed over the
    nodes; ``aggregate=False``: the per-node dict."""
    if not options.get("aggregate", True):
        return res
    return sum(res.values())


def parse_pubsub_numsub(command, res, **options):
    """Result callback of PUBSUB NUMSUB: [(channel, subscribers summed over the
    nodes)]; ``aggregate=False``: the per-node dict."""
    if not options.get("aggregate", True):
        return res
    totals = {}
    for pairs in res.values():
        for channel, count in pairs:
            totals[channel] = totals.get(channel, 0) + count
    return list(totals.items())
