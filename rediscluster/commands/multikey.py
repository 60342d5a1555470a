"""Multi-key commands across slots (redis-py-cluster 2.1.3's client-side versions).

The original sends one command per key, one after another. Here the keys are
split by slot, one command per slot group goes to each node through the
engine's batch (``_execute_batch``: all nodes written, replies read in
parallel), and the results are put back together in the caller's order. When
all keys share a slot, the server's own (atomic) command is sent instead. None
of the split versions is atomic across slots, as in the original.

MGET, MSET, DEL, UNLINK, EXISTS and TOUCH go through the batch even for one
slot: a slot being migrated with its keys split between two nodes answers
TRYAGAIN, and that group is then sent again key by key (``_run_groups``).

Values that must travel through the client (RENAME across slots, PFMERGE and
PFCOUNT across slots) go as DUMP payloads: raw DUMP + PTTL normally, and with
``decode_responses=True`` (where a binary payload cannot be decoded) through a
small script that returns the payload hex-encoded.
"""

import os

from .. import _core
from ..exceptions import ClusterCrossSlotKeysError, RedisError, ResponseError, TimeoutError, TryAgainError
from ._util import DataError, list_or_args, nativestr

# KEYS[1] -> {hex(DUMP), PTTL}, or nil if the key does not exist. Used only with
# decode_responses=True. string.format over 4000-byte chunks keeps the work in C.
_DUMP_HEX_SCRIPT = """
local d = redis.call('DUMP', KEYS[1])
if not d then return false end
local t = {}
for i = 1, #d, 4000 do
  local j = math.min(i + 3999, #d)
  t[#t + 1] = string.format(string.rep('%02x', j - i + 1), string.byte(d, i, j))
end
return {table.concat(t), redis.call('PTTL', KEYS[1])}
"""

#: lifetime of the temporary copies made for PFMERGE / PFCOUNT (deleted at once anyway)
_TEMP_TTL_MS = 60000

#: slot -> a hash tag (bytes, with braces) whose keys land in that slot
_SLOT_TAGS = {}


def _is_tryagain(exc):
    """The engine gave up on a group after TRYAGAIN replies: ClusterError('TTL
    exhausted.') with the server's TryAgainError as its context."""
    return isinstance(exc, TryAgainError) or isinstance(exc.__context__, TryAgainError)


_WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def _end(where):
    """"LEFT"/"RIGHT" (any case, str or bytes) -> "LEFT"/"RIGHT"."""
    end = nativestr(where)
    end = end.upper() if isinstance(end, str) else end
    if end not in ("LEFT", "RIGHT"):
        raise DataError("src and dest must be 'LEFT' or 'RIGHT'")
    return end


def _raise_errors(replies):
    """Raise the first exception instance among batch replies."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _mapping_args(name, args, kwargs):
    """2.1.3's argument rule for MSET/MSETNX: one dict positional and/or kwargs."""
    if args:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise RedisError("%s requires **kwargs or a single dict arg" % name)
        kwargs.update(args[0])
    return kwargs


def _as_set(reply):
    return set(reply) if reply else set()


def _concat(replies):
    return [value for reply in replies for value in reply]


def _all_ok(replies):
    return all(replies)


class MultiKeyCommands:
    """Commands over several keys that may live in different slots."""

    # ------------------------------------------------------------ helpers

    def _slot_groups(self, keys):
        """{slot: [positions in keys]} in first-seen order."""
        groups = {}
        for i, slot in enumerate(list(map(self.connection_pool.keyslot, keys))):
            group = groups.get(slot)
            if group is None:
                groups[slot] = [i]
            else:
                group.append(i)
        return groups

    def _same_slot(self, keys):
        """True if all ``keys`` (at least one) hash to one slot."""
        slot_of = self.connection_pool.keyslot
        first = slot_of(keys[0])
        for key in keys[1:]:
            if slot_of(key) != first:
                return False
        return True

    def _check_one_slot_keys(self, command, keys):
        """Raise ClusterCrossSlotKeysError (a RedisClusterException, as in
        2.1.3) unless all ``keys`` map to one slot."""
        if len(keys) > 1 and not self._same_slot(keys):
            raise ClusterCrossSlotKeysError(
                "{0} - all keys must map to the same key slot".format(command))

    def _run_groups(self, cmds, step, merge):
        """Send ``cmds`` (one multi-key command per slot group) in one batch and
        return the replies; raise the first error.

        A group whose slot is being migrated with its keys split between the two
        nodes gets TRYAGAIN until the engine's retries run out; such a group is
        sent again key by key (``step`` arguments per key, through ASK) and its
        reply is ``merge`` of the per-key replies -- so a migration delays the
        call instead of failing it, as with redis-py-cluster's one command per
        key."""
        replies = self._execute_batch(cmds)
        again = []
        for n, reply in enumerate(replies):
            if isinstance(reply, Exception):
                if not _is_tryagain(reply):
                    raise reply
                again.append(n)
        if again:
            single, owner = [], []
            for n in again:
                command, args = cmds[n][0][0], cmds[n][0][1:]
                for j in range(0, len(args), step):
                    single.append(((command,) + args[j:j + step], None))
                    owner.append(n)
            parts = {n: [] for n in again}
            for n, reply in zip(owner, _raise_errors(self._execute_batch(single))):
                parts[n].append(reply)
            for n in again:
                replies[n] = merge(parts[n])
        return replies

    def _sum_by_slot(self, command, names):
        """Run a counting multi-key command once per slot group, in parallel
        through the engine, and add the counts up (not atomic across slots;
        when all keys share a slot this is the server's own command)."""
        if len(names) <= 1:
            return self.execute_command(command, *names)
        cmds = [((command,) + tuple([names[i] for i in idx]), None)
                for idx in self._slot_groups(names).values()]
        return sum(self._run_groups(cmds, 1, sum))

    def _dump(self, keys):
        """[(payload bytes, pttl) or None] for ``keys``, read in one batch."""
        if self.connection_pool.connection_kwargs.get("decode_responses"):
            replies = _raise_errors(self._execute_batch(
                [(("EVAL", _DUMP_HEX_SCRIPT, 1, key), None) for key in keys]))
            out = []
            for reply in replies:
                if reply is None:
                    out.append(None)
                else:
                    data = reply[0]
                    if isinstance(data, bytes):
                        data = data.decode("ascii")
                    out.append((bytes.fromhex(data), int(reply[1])))
            return out
        cmds = []
        for key in keys:
            cmds.append((("DUMP", key), None))
            cmds.append((("PTTL", key), None))
        replies = _raise_errors(self._execute_batch(cmds))
        return [None if replies[i] is None else
                (replies[i], -1 if replies[i + 1] is None else int(replies[i + 1]))
                for i in range(0, len(replies), 2)]

    def _slot_tag(self, key):
        """A hash tag (bytes, braces included) that puts a key in ``key``'s slot."""
        slot = self.keyslot(key)
        tag = _SLOT_TAGS.get(slot)
        if tag is not None:
            return tag
        if isinstance(key, str):
            raw = key.encode(self.connection_pool.connection_kwargs.get("encoding") or "utf-8")
        elif isinstance(key, bytes):
            raw = key
        else:
            raw = b""
        start = raw.find(b"{")
        if start >= 0:
            end = raw.find(b"}", start + 1)
            if end > start + 1:
                raw = raw[start + 1:end]
        if raw and b"}" not in raw and _core.key_slot(b"{" + raw + b"}") == slot:
            tag = b"{" + raw + b"}"
        else:
            i = 0
            while _core.key_slot(b"%x" % i) != slot:
                i += 1
            tag = b"{%x}" % i
        if len(_SLOT_TAGS) < 4096:
            _SLOT_TAGS[slot] = tag
        return tag

    def _hll_via_temps(self, anchor, sources, final):
        """Run ``final(local_keys)`` (a command tuple) in ``anchor``'s slot, where
        ``local_keys`` are the sources already in that slot plus temporary
        copies (DUMP/RESTORE, one hash tag) of the others; the temporary keys
        are deleted in the same batch. Returns ``final``'s reply."""
        slot_of = self.connection_pool.keyslot
        slot = slot_of(anchor)
        local, remote = [], []
        for key in sources:
            (local if slot_of(key) == slot else remote).append(key)
        remote = list(dict.fromkeys(remote))
        temps, cmds = [], []
        if remote:
            prefix = self._slot_tag(anchor) + b":rc-tmp:" + os.urandom(8).hex().encode() + b":"
            for i, dumped in enumerate(self._dump(remote)):
                if dumped is not None:
                    temp = prefix + b"%d" % i
                    temps.append(temp)
                    # a TTL, so that a copy never outlives a broken connection
                    cmds.append((("RESTORE", temp, _TEMP_TTL_MS, dumped[0]), None))
        cmds.append((final(local + temps), None))
        if temps:
            cmds.append((("DEL",) + tuple(temps), None))
        replies = self._execute_batch(cmds)
        return _raise_errors(replies)[len(cmds) - 1 - bool(temps)]

    # ------------------------------------------------------------ strings

    def mget(self, keys, *args):
        """Values of ``keys`` in the given order (None for a missing key or one
        that is not a string, as MGET does). Keys in several slots: one MGET per
        slot, sent in parallel; not atomic across slots.
        https://redis.io/commands/mget"""
        keys = list_or_args(keys, args)
        if len(keys) <= 1:
            return self.execute_command("MGET", *keys) if keys else []
        positions = list(self._slot_groups(keys).values())
        if len(positions) == 1:
            return self._run_groups([(("MGET",) + tuple(keys), None)], 1, _concat)[0]
        replies = self._run_groups(
            [(("MGET", keys[idx[0]]) if len(idx) == 1 else
              ("MGET",) + tuple([keys[i] for i in idx]), None) for idx in positions],
            1, _concat)
        out = [None] * len(keys)
        for idx, reply in zip(positions, replies):
            if len(idx) == 1:
                out[idx[0]] = reply[0]
            else:
                for i, value in zip(idx, reply):
                    out[i] = value
        return out

    def mset(self, *args, **kwargs):
        """Set several keys: ``mset({k: v, ...})`` or ``mset(k=v, ...)``; True.
        Keys in several slots: one MSET per slot, sent in parallel; not atomic
        across slots. https://redis.io/commands/mset"""
        mapping = _mapping_args("MSET", args, kwargs)
        if not mapping:
            return True
        items = list(mapping.items())
        if len(items) == 1:
            return self.execute_command("MSET", *items[0])
        cmds = []
        for idx in self._slot_groups([k for k, _ in items]).values():
            cmd = ["MSET"]
            for i in idx:
                cmd += items[i]
            cmds.append((tuple(cmd), None))
        self._run_groups(cmds, 2, _all_ok)
        return True

    def msetnx(self, *args, **kwargs):
        """Set several keys only if none of them exists; True if set, else False.
        Keys in several slots: EXISTS per slot, then (if none exists) MSETNX per
        slot, in parallel; not atomic across slots (a key created meanwhile
        makes its slot's part fail and the call return False).
        https://redis.io/commands/msetnx"""
        mapping = _mapping_args("MSETNX", args, kwargs)
        if not mapping:
            return True
        items = list(mapping.items())
        keys = [k for k, _ in items]
        groups = self._slot_groups(keys)
        if len(groups) == 1:
            return self.execute_command("MSETNX", *[x for item in items for x in item])
        positions = list(groups.values())
        exists = self._execute_batch(
            [(("EXISTS",) + tuple([keys[i] for i in idx]), None) for idx in positions])
        if sum(_raise_errors(exists)):
            return False
        cmds = []
        for idx in positions:
            cmd = ["MSETNX"]
            for i in idx:
                cmd += items[i]
            cmds.append((tuple(cmd), None))
        return all(_raise_errors(self._execute_batch(cmds)))

    # ------------------------------------------------------------ keys

    def delete(self, *names):
        """Delete keys; returns how many existed. Keys in several slots: one DEL
        per slot, in parallel (not atomic). https://redis.io/commands/del"""
        if not names:
            return 0
        return self._sum_by_slot("DEL", names)

    def unlink(self, *names):
        """Delete keys, freeing memory in the background; returns how many
        existed. Keys in several slots: one UNLINK per slot, in parallel.
        https://redis.io/commands/unlink"""
        return self._sum_by_slot("UNLINK", names)

    def exists(self, *names):
        """How many of ``names`` exist (a key named twice counts twice). Keys in
        several slots: one EXISTS per slot, in parallel.
        https://redis.io/commands/exists"""
        return self._sum_by_slot("EXISTS", names)

    def touch(self, *args):
        """Update the last access time of keys; returns how many exist. Keys in
        several slots: one TOUCH per slot, in parallel.
        https://redis.io/commands/touch"""
        return self._sum_by_slot("TOUCH", args)

    def rename(self, src, dst, replace=False):
        """Rename ``src`` to ``dst`` (overwriting it); True.

        Same slot: the server's RENAME. Across slots (not atomic): DUMP + PTTL
        of ``src``, RESTORE ``dst`` with REPLACE, DEL ``src``. ``replace`` is
        accepted for compatibility with redis-py-cluster: ``dst`` is always
        replaced, as RENAME does. ``src == dst`` raises ResponseError, a missing
        ``src`` ResponseError("no such key"). https://redis.io/commands/rename"""
        if src == dst:
            raise ResponseError("source and destination objects are the same")
        if self._same_slot([src, dst]):
            return self.execute_command("RENAME", src, dst)
        return self._move_key(src, dst, True)

    def renamenx(self, src, dst):
        """Rename ``src`` to ``dst`` if ``dst`` does not exist; True or False.

        Same slot: the server's RENAMENX. Across slots (not atomic): DUMP +
        PTTL of ``src``, RESTORE ``dst`` without REPLACE (an existing ``dst`` is
        kept and False returned), DEL ``src``. As the server, a missing ``src``
        raises ResponseError("no such key") even when ``dst`` exists
        (redis-py-cluster returned False then). https://redis.io/commands/renamenx"""
        if self._same_slot([src, dst]):
            return self.execute_command("RENAMENX", src, dst)
        return self._move_key(src, dst, False)

    def _move_key(self, src, dst, replace):
        dumped = self._dump([src])[0]
        if dumped is None or dumped[1] == -2:  # -2: expired right after DUMP
            raise ResponseError("no such key")
        data, ttl = dumped
        restore = ("RESTORE", dst, ttl if ttl > 0 else 0, data)
        try:
            self.execute_command(*(restore + ("REPLACE",) if replace else restore))
        except ResponseError as e:
            if not replace and str(e).startswith("BUSYKEY"):
                return False
            raise
        self.execute_command("DEL", src)
        return True

    # ------------------------------------------------------------ lists

    def _check_dest_type(self, dst, kind):
        """WRONGTYPE (the server's error) if ``dst`` exists with another type
        than ``kind``: checked before popping, so nothing is taken from the
        source for a push that would fail."""
        found = nativestr(self.execute_command("TYPE", dst))
        if found not in ("none", kind):
            raise ResponseError(_WRONGTYPE)

    def _push_or_restore(self, push, restore):
        """Run the push (args tuple) of a cross-slot move; if the server
        refuses it (the destination was retyped since the check), run
        ``restore`` to put the element back where it was, then raise the
        server's error: an element is never lost."""
        try:
            return self.execute_command(*push)
        except ResponseError:
            self.execute_command(*restore)
            raise

    def _move_list_element(self, src, dst, wherefrom, whereto, timeout=None):
        """Cross-slot LMOVE/BLMOVE/RPOPLPUSH/BRPOPLPUSH: pop from ``src``'s
        ``wherefrom`` end, push on ``dst``'s ``whereto`` end (not atomic)."""
        self._check_dest_type(dst, "list")
        pop = b"LPOP" if wherefrom == "LEFT" else b"RPOP"
        if timeout is None:
            value = self.execute_command(pop, src)
        else:
            try:
                popped = self.execute_command(b"B" + pop, src, timeout)
            except TimeoutError:  # the socket timed out first: None, as redis-py-cluster
                return None
            value = None if popped is None else popped[1]
        if value is None:
            return None
        push = b"LPUSH" if whereto == "LEFT" else b"RPUSH"
        back = b"LPUSH" if wherefrom == "LEFT" else b"RPUSH"
        self._push_or_restore((push, dst, value), (back, src, value))
        return value

    def rpoplpush(self, src, dst):
        """RPOP from ``src``, LPUSH onto ``dst``; returns the value or None.
        Same slot: the server's RPOPLPUSH; across slots: RPOP then LPUSH (not
        atomic; a destination of another type is refused before popping, and
        an element whose push fails is put back). https://redis.io/commands/rpoplpush"""
        if self._same_slot([src, dst]):
            return self.execute_command("RPOPLPUSH", src, dst)
        return self._move_list_element(src, dst, "RIGHT", "LEFT")

    def brpoplpush(self, src, dst, timeout=0):
        """Like rpoplpush, blocking up to ``timeout`` seconds (0: forever) for a
        value in ``src``; None on timeout. Same slot: the server's BRPOPLPUSH;
        across slots: BRPOP then LPUSH (not atomic; nothing lost, as rpoplpush).
        https://redis.io/commands/brpoplpush"""
        if timeout is None:
            timeout = 0
        if self._same_slot([src, dst]):
            try:
                return self.execute_command("BRPOPLPUSH", src, dst, timeout)
            except TimeoutError:  # the socket timed out first: None, as redis-py-cluster
                return None
        return self._move_list_element(src, dst, "RIGHT", "LEFT", timeout)

    def lmove(self, first_list, second_list, src="LEFT", dest="RIGHT"):
        """Pop an element from the ``src`` end ("LEFT"/"RIGHT") of
        ``first_list``, push it on the ``dest`` end of ``second_list``; the
        element, or None if ``first_list`` is empty. Same slot: the server's
        (atomic) LMOVE; across slots: pop then push (not atomic; nothing lost,
        as rpoplpush). https://redis.io/commands/lmove"""
        if self._same_slot([first_list, second_list]):
            return self.execute_command("LMOVE", first_list, second_list, src, dest)
        return self._move_list_element(first_list, second_list, _end(src), _end(dest))

    def blmove(self, first_list, second_list, timeout, src="LEFT", dest="RIGHT"):
        """LMOVE that blocks up to ``timeout`` seconds (0: forever) while
        ``first_list`` is empty; None on timeout. Across slots as ``lmove``.
        https://redis.io/commands/blmove"""
        if self._same_slot([first_list, second_list]):
            return self.execute_command("BLMOVE", first_list, second_list, src, dest, timeout)
        return self._move_list_element(first_list, second_list, _end(src), _end(dest),
                                       0 if timeout is None else timeout)

    # ------------------------------------------------------------ sets

    def _set_op(self, command, keys):
        """SDIFF / SINTER / SUNION of ``keys`` as a Python set: the server's
        command when all keys share a slot, else one command per slot group
        (SUNION for the groups subtracted by SDIFF) combined here."""
        if not keys or self._same_slot(keys):
            return _as_set(self.execute_command(command, *keys))
        groups = self._slot_groups(keys)
        cmds = []
        for n, idx in enumerate(groups.values()):
            name = command if command != "SDIFF" or n == 0 else "SUNION"
            cmds.append(((name,) + tuple([keys[i] for i in idx]), None))
        replies = [_as_set(r) for r in _raise_errors(self._execute_batch(cmds))]
        result = replies[0]
        if command == "SUNION":
            result.update(*replies[1:])
        elif command == "SINTER":
            result.intersection_update(*replies[1:])
        else:
            result.difference_update(*replies[1:])
        return result

    def _set_op_store(self, command, dest, keys):
        if not keys or self._same_slot([dest] + keys):
            return self.execute_command(command + "STORE", dest, *keys)
        members = self._set_op(command, keys)
        if not members:
            self.execute_command("DEL", dest)
            return 0
        _raise_errors(self._execute_batch(
            [(("DEL", dest), None), (("SADD", dest) + tuple(members), None)]))
        return len(members)

    def sdiff(self, keys, *args):
        """Members of the first set not in the others, as a Python set.
        https://redis.io/commands/sdiff"""
        return self._set_op("SDIFF", list_or_args(keys, args))

    def sdiffstore(self, dest, keys, *args):
        """Store the SDIFF of ``keys`` in ``dest``; returns its size.
        https://redis.io/commands/sdiffstore"""
        return self._set_op_store("SDIFF", dest, list_or_args(keys, args))

    def sinter(self, keys, *args):
        """Members common to all sets, as a Python set.
        https://redis.io/commands/sinter"""
        return self._set_op("SINTER", list_or_args(keys, args))

    def sinterstore(self, dest, keys, *args):
        """Store the SINTER of ``keys`` in ``dest``; returns its size.
        https://redis.io/commands/sinterstore"""
        return self._set_op_store("SINTER", dest, list_or_args(keys, args))

    def sunion(self, keys, *args):
        """Members of any of the sets, as a Python set.
        https://redis.io/commands/sunion"""
        return self._set_op("SUNION", list_or_args(keys, args))

    def sunionstore(self, dest, keys, *args):
        """Store the SUNION of ``keys`` in ``dest``; returns its size (0, and
        ``dest`` deleted, for an empty union). https://redis.io/commands/sunionstore"""
        return self._set_op_store("SUNION", dest, list_or_args(keys, args))

    def smove(self, src, dst, value):
        """Move ``value`` from set ``src`` to set ``dst``. Same slot: the
        server's SMOVE (True/False); across slots: SREM, then SADD if it was
        removed, returning SREM's count (1/0) as redis-py-cluster does.
        https://redis.io/commands/smove"""
        if self._same_slot([src, dst]):
            return self.execute_command("SMOVE", src, dst, value)
        self._check_dest_type(dst, "set")
        removed = self.execute_command("SREM", src, value)
        if removed == 1:
            self._push_or_restore(("SADD", dst, value), ("SADD", src, value))
        return removed

    # ------------------------------------------------------------ hyperloglog

    def pfcount(self, *sources):
        """Approximate cardinality of the union of the HyperLogLogs ``sources``.
        Across slots: copies of the other sources are made in the first
        source's slot (temporary keys, deleted in the same batch).
        https://redis.io/commands/pfcount"""
        if len(sources) <= 1 or self._same_slot(sources):
            return self.execute_command("PFCOUNT", *sources)
        return self._hll_via_temps(sources[0], sources,
                                   lambda keys: ("PFCOUNT",) + tuple(keys))

    def pfmerge(self, dest, *sources):
        """Merge the HyperLogLogs ``sources`` into ``dest``; True. Across slots:
        copies of the sources outside ``dest``'s slot are made in that slot
        (temporary keys, deleted in the same batch) and the server's PFMERGE
        runs there. https://redis.io/commands/pfmerge"""
        if self._same_slot((dest,) + sources):
            return self.execute_command("PFMERGE", dest, *sources)
        return self._hll_via_temps(dest, sources,
                                   lambda keys: ("PFMERGE", dest) + tuple(keys))


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "SDIFF": _as_set,
    "SINTER": _as_set,
    "SUNION": _as_set,
}
