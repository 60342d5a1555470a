"""ClusterManagementCommands: the CLUSTER commands (redis-py-cluster 2.1.3 names
and signatures).

Most methods only shape arguments and call execute_command (routing by
``NODES_FLAGS``). The ones that act on one node given by its id (``node_id``)
are sent to THAT node: the id is resolved to an address through CLUSTER NODES
and the command goes there with ``_execute_on_node_id`` (2.1.3 ignored
``node_id`` and routed these by the hash slot of their first argument).
Reply parsers are in RESPONSE_CALLBACKS below.
"""

from ..exceptions import DataError, RedisClusterException, RedisError
from ._util import apply_callback
from ..utils import bool_ok, nativestr, parse_cluster_nodes, parse_cluster_slots
from .server import parse_info

_FAILOVER_OPTIONS = ("FORCE", "TAKEOVER")
_SLOT_STATES = ("IMPORTING", "MIGRATING", "NODE")


class ClusterManagementCommands:
    """CLUSTER commands; ``node_id`` arguments pick the node a command goes to."""

    # ------------------------------------------------------------ routing helpers

    def _node_addresses(self):
        """{node id: (host, port)} from CLUSTER NODES (host_port_remap applied)."""
        remap = self.connection_pool.nodes.remap_internal_node_object
        out = {}
        for node in self.cluster_nodes():
            # a node being met has a made-up id and no address of its own yet
            if node["host"] and "handshake" not in node["flags"] \
                    and "noaddr" not in node["flags"]:
                host, port = remap([node["host"], node["port"]])[:2]
                out[node["id"]] = (host, int(port))
        return out

    def _send_to_address(self, address, *args, **options):
        """One command to one node (no redirects); the response callback applied."""
        reply = self.connection_pool._node_command(address[0], address[1], *args)
        return apply_callback(self.response_callbacks, args, reply, options)

    def _execute_on_node_id(self, node_id, *args, **options):
        """Send ``args`` to the node whose id is ``node_id`` and return the parsed
        reply. Raises RedisClusterException if no node has that id."""
        node_id = nativestr(node_id)
        address = self._node_addresses().get(node_id)
        if address is None:
            raise RedisClusterException("Unknown node id: {0}".format(node_id))
        return self._send_to_address(address, *args, **options)

    def _slot_owner_ids(self, slots):
        """{slot: id of the master serving it} for the given slots (CLUSTER NODES)."""
        wanted = {int(s) for s in slots}
        owners = {}
        for node in self.cluster_nodes():
            if "master" in node["flags"]:
                for s in wanted.intersection(node["slots"]):
                    owners[s] = node["id"]
        missing = wanted.difference(owners)
        if missing:
            raise RedisClusterException(
                "Slot(s) not served by any node: {0}".format(sorted(missing)))
        return owners

    # ------------------------------------------------------------ commands

    def cluster(self, cluster_arg, *args):
        """``CLUSTER <cluster_arg> *args`` routed as that subcommand is.
        https://redis.io/commands/cluster"""
        return self.execute_command("CLUSTER %s" % nativestr(cluster_arg).upper(), *args)

    def cluster_addslots(self, node_id, *slots):
        """Assign ``slots`` to the node ``node_id`` (sent to it): True.
        https://redis.io/commands/cluster-addslots"""
        return self._execute_on_node_id(node_id, "CLUSTER ADDSLOTS", *slots)

    def cluster_countkeysinslot(self, slot_id):
        """Number of keys in ``slot_id`` (asked of the slot's master).
        https://redis.io/commands/cluster-countkeysinslot"""
        return self.execute_command("CLUSTER COUNTKEYSINSLOT", int(slot_id))

    def cluster_count_failure_report(self, node_id):
        """Number of active failure reports about ``node_id`` (one node asked).
        https://redis.io/commands/cluster-count-failure-reports"""
        return self.execute_command("CLUSTER COUNT-FAILURE-REPORTS", node_id)

    def cluster_delslots(self, *slots):
        """Unassign ``slots``: each is sent to the master serving it.
        Returns a list of True, one per slot. https://redis.io/commands/cluster-delslots"""
        owners = self._slot_owner_ids(slots)
        addresses = self._node_addresses()
        return [self._send_to_address(addresses[owners[int(slot)]], "CLUSTER DELSLOTS", slot)
                for slot in slots]

    def cluster_failover(self, node_id, option=None):
        """Make the replica ``node_id`` take over its master (sent to the replica).
        ``option``: None, 'FORCE' or 'TAKEOVER'. True when the failover started.
        https://redis.io/commands/cluster-failover"""
        if option:
            if nativestr(option).upper() not in _FAILOVER_OPTIONS:
                raise RedisError(
                    "Invalid option for CLUSTER FAILOVER command: {0}".format(option))
            return self._execute_on_node_id(node_id, "CLUSTER FAILOVER", option)
        return self._execute_on_node_id(node_id, "CLUSTER FAILOVER")

    def cluster_info(self):
        """CLUSTER INFO of every node, parsed: ``{'host:port': {field: value}}``.
        https://redis.io/commands/cluster-info"""
        return self.execute_command("CLUSTER INFO")

    def cluster_keyslot(self, name):
        """Hash slot of the key ``name``, computed by a node.
        https://redis.io/commands/cluster-keyslot"""
        return self.execute_command("CLUSTER KEYSLOT", name)

    def cluster_meet(self, node_id, host, port):
        """Tell the node ``node_id`` to handshake with ``host``:``port``: True.
        https://redis.io/commands/cluster-meet"""
        return self._execute_on_node_id(node_id, "CLUSTER MEET", host, port)

    def cluster_myid(self):
        """Node id of every node: ``{'host:port': id}``.
        https://redis.io/commands/cluster-myid"""
        return self.execute_command("CLUSTER MYID")

    def cluster_nodes(self):
        """The cluster's nodes as one node sees them: a list of dicts with
        ``id, host, port, cluster-bus-port, flags, master, ping-sent, pong-recv,
        link-state, slots, migrations``. https://redis.io/commands/cluster-nodes"""
        return self.execute_command("CLUSTER NODES")

    def cluster_replicate(self, target_node_id, node_id=None):
        """Make the node ``node_id`` a replica of the master ``target_node_id``
        (sent to ``node_id``, which must be given): True.
        https://redis.io/commands/cluster-replicate"""
        if node_id is None:
            raise DataError("cluster_replicate needs node_id=: the node that "
                            "becomes a replica of target_node_id")
        return self._execute_on_node_id(node_id, "CLUSTER REPLICATE", target_node_id)

    def cluster_reset(self, node_id, soft=True):
        """Reset the node ``node_id`` (SOFT, or HARD if ``soft`` is False): True.
        https://redis.io/commands/cluster-reset"""
        return self._execute_on_node_id(node_id, "CLUSTER RESET",
                                        b"SOFT" if soft else b"HARD")

    def cluster_reset_all_nodes(self, soft=True):
        """CLUSTER RESET on every node (SOFT, or HARD if ``soft`` is False): a list
        with one result per node. https://redis.io/commands/cluster-reset"""
        option = b"SOFT" if soft else b"HARD"
        addresses = list(dict.fromkeys(self._node_addresses().values()))
        return [self._send_to_address(address, "CLUSTER RESET", option)
                for address in addresses]

    def cluster_save_config(self):
        """Make every node save its cluster config to disk: ``{'host:port': True}``.
        https://redis.io/commands/cluster-saveconfig"""
        return self.execute_command("CLUSTER SAVECONFIG")

    def cluster_get_keys_in_slot(self, slot, num_keys):
        """Up to ``num_keys`` key names of ``slot`` (asked of the slot's master).
        https://redis.io/commands/cluster-getkeysinslot"""
        return self.execute_command("CLUSTER GETKEYSINSLOT", int(slot), num_keys)

    def cluster_set_config_epoch(self, node_id, epoch):
        """Set the config epoch of the (new) node ``node_id``: True.
        https://redis.io/commands/cluster-set-config-epoch"""
        return self._execute_on_node_id(node_id, "CLUSTER SET-CONFIG-EPOCH", epoch)

    def cluster_setslot(self, node_id, slot_id, state, bind_to_node_id=None):
        """CLUSTER SETSLOT ``slot_id`` ``state`` [``node_id``].

        ``state``: 'IMPORTING' (``node_id`` is the source), 'MIGRATING' (``node_id``
        is the destination), 'NODE' (``node_id`` is the new owner) or 'STABLE'.
        ``bind_to_node_id``: the node the command is sent to. By default NODE
        goes to ``node_id``, MIGRATING to the slot's current master, STABLE to
        ``node_id`` (or the slot's master if None); IMPORTING needs it (the
        importing node). True on success. https://redis.io/commands/cluster-setslot"""
        upper = nativestr(state).upper()
        if upper in _SLOT_STATES and node_id is not None:
            args = ("CLUSTER SETSLOT", slot_id, upper, node_id)
        elif upper == "STABLE":
            args = ("CLUSTER SETSLOT", slot_id, "STABLE")
        else:
            raise RedisError("Invalid slot state: {0}".format(state))
        target = bind_to_node_id
        if target is None:
            if upper == "IMPORTING":
                raise DataError("cluster_setslot(state='IMPORTING') needs bind_to_node_id=: "
                                "the node that imports the slot")
            if upper == "MIGRATING" or (upper == "STABLE" and node_id is None):
                target = self._slot_owner_ids([slot_id])[int(slot_id)]
            else:
                target = node_id
        return self._execute_on_node_id(target, *args)

    def cluster_slaves(self, target_node_id):
        """The replicas of the master ``target_node_id``, as ``cluster_nodes``
        describes nodes. https://redis.io/commands/cluster-slaves"""
        return self.execute_command("CLUSTER SLAVES", target_node_id)

    def cluster_replicas(self, target_node_id):
        """The replicas of the master ``target_node_id``, as ``cluster_nodes``
        describes nodes. https://redis.io/commands/cluster-replicas"""
        return self.execute_command("CLUSTER REPLICAS", target_node_id)

    def cluster_slots(self):
        """Slot ranges and their nodes: ``{(start, end): {'master': (host, port),
        'slaves': [(host, port), ...]}}``. https://redis.io/commands/cluster-slots"""
        return self.execute_command("CLUSTER SLOTS")

    def cluster_shards(self):
        """The cluster's shards (Redis 7), the raw reply of one node.
        https://redis.io/commands/cluster-shards"""
        return self.execute_command("CLUSTER SHARDS")


# ---------------------------------------------------------------- reply parsers


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "ASKING": bool_ok,
    "READONLY": bool_ok,
    "READWRITE": bool_ok,
    "CLUSTER ADDSLOTS": bool_ok,
    "CLUSTER COUNT-FAILURE-REPORTS": lambda r, **o: int(r),
    "CLUSTER COUNTKEYSINSLOT": lambda r, **o: int(r),
    "CLUSTER DELSLOTS": bool_ok,
    "CLUSTER FAILOVER": bool_ok,
    "CLUSTER FORGET": bool_ok,
    "CLUSTER GETKEYSINSLOT": lambda r, **o: list(r),
    "CLUSTER INFO": parse_info,
    "CLUSTER KEYSLOT": lambda r, **o: int(r),
    "CLUSTER MEET": bool_ok,
    "CLUSTER MYID": lambda r, **o: nativestr(r),
    "CLUSTER NODES": parse_cluster_nodes,
    "CLUSTER REPLICAS": parse_cluster_nodes,
    "CLUSTER REPLICATE": bool_ok,
    "CLUSTER RESET": bool_ok,
    "CLUSTER SAVECONFIG": bool_ok,
    "CLUSTER SET-CONFIG-EPOCH": bool_ok,
    "CLUSTER SETSLOT": bool_ok,
    "CLUSTER SLAVES": parse_cluster_nodes,
    "CLUSTER SLOTS": parse_cluster_slots,
}

__all__ = ["ClusterManagementCommands", "RESPONSE_CALLBACKS", "parse_cluster_slots",
           "parse_cluster_nodes"]
