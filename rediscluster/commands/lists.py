"""ListCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

Commands with several keys (BLPOP, BRPOP, LMOVE, BLMOVE, LMPOP, BLMPOP) are sent
as they are: their keys must share a slot (use a hash tag), otherwise the server
answers CROSSSLOT (``ClusterCrossSlotError``). RPOPLPUSH and BRPOPLPUSH live in
the multi-key module (slot splitting). Signatures and return shapes are redis-py
3.5.3's; LPOP/RPOP ``count``, LPOS, LMOVE, BLMOVE, LMPOP and BLMPOP follow
current redis-py.
"""

from ._util import bool_ok, list_or_args


class ListCommands:
    """Redis list commands."""

    def blpop(self, keys, timeout=0):
        """Pop the head of the first non-empty list of ``keys`` (one key or a
        list; all in one slot), blocking up to ``timeout`` seconds (0 or None:
        forever). Returns ``(key, value)``, or None on timeout.
        https://redis.io/commands/blpop"""
        if timeout is None:
            timeout = 0
        keys = list_or_args(keys, None)
        keys.append(timeout)
        return self.execute_command("BLPOP", *keys)

    def brpop(self, keys, timeout=0):
        """Pop the tail of the first non-empty list of ``keys`` (one key or a
        list; all in one slot), blocking up to ``timeout`` seconds (0 or None:
        forever). Returns ``(key, value)``, or None on timeout.
        https://redis.io/commands/brpop"""
        if timeout is None:
            timeout = 0
        keys = list_or_args(keys, None)
        keys.append(timeout)
        return self.execute_command("BRPOP", *keys)

    def lindex(self, name, index):
        """Element at ``index`` of list ``name`` (negative counts from the end),
        or None. https://redis.io/commands/lindex"""
        return self.execute_command("LINDEX", name, index)

    def linsert(self, name, where, refvalue, value):
        """Insert ``value`` into list ``name`` ``where`` ("BEFORE" or "AFTER")
        the element ``refvalue``. Returns the new length, -1 if ``refvalue`` is
        not there, 0 if the list does not exist.
        https://redis.io/commands/linsert"""
        return self.execute_command("LINSERT", name, where, refvalue, value)

    def llen(self, name):
        """Length of list ``name``. https://redis.io/commands/llen"""
        return self.execute_command("LLEN", name)

    def lpop(self, name, count=None):
        """Remove and return the first element of list ``name`` (None if empty);
        with ``count``, a list of up to ``count`` elements (None if the list
        does not exist). https://redis.io/commands/lpop"""
        if count is not None:
            return self.execute_command("LPOP", name, count)
        return self.execute_command("LPOP", name)

    def rpop(self, name, count=None):
        """Remove and return the last element of list ``name`` (None if empty);
        with ``count``, a list of up to ``count`` elements (None if the list
        does not exist). https://redis.io/commands/rpop"""
        if count is not None:
            return self.execute_command("RPOP", name, count)
        return self.execute_command("RPOP", name)

    def lpush(self, name, *values):
        """Push ``values`` onto the head of list ``name``; returns the new length.
        https://redis.io/commands/lpush"""
        return self.execute_command("LPUSH", name, *values)

    def lpushx(self, name, value, *values):
        """Push ``value`` (and any further ``values``) onto the head of list
        ``name`` only if the list exists; returns the new length (0 if absent).
        https://redis.io/commands/lpushx"""
        return self.execute_command("LPUSHX", name, value, *values)

    def lrange(self, name, start, end):
        """Elements ``start`` .. ``end`` (both included; negative counts from the
        end) of list ``name``. https://redis.io/commands/lrange"""
        return self.execute_command("LRANGE", name, start, end)

    def lrem(self, name, count, value):
        """Remove occurrences of ``value`` from list ``name``: the first ``count``
        from the head (count > 0), from the tail (count < 0) or all (0). Returns
        how many were removed. https://redis.io/commands/lrem"""
        return self.execute_command("LREM", name, count, value)

    def lset(self, name, index, value):
        """Set the element at ``index`` of list ``name`` to ``value``; True.
        https://redis.io/commands/lset"""
        return self.execute_command("LSET", name, index, value)

    def ltrim(self, name, start, end):
        """Keep only elements ``start`` .. ``end`` of list ``name``; True.
        https://redis.io/commands/ltrim"""
        return self.execute_command("LTRIM", name, start, end)

    def rpush(self, name, *values):
        """Push ``values`` onto the tail of list ``name``; returns the new length.
        https://redis.io/commands/rpush"""
        return self.execute_command("RPUSH", name, *values)

    def rpushx(self, name, value, *values):
        """Push ``value`` (and any further ``values``) onto the tail of list
        ``name`` only if the list exists; returns the new length (0 if absent).
        https://redis.io/commands/rpushx"""
        return self.execute_command("RPUSHX", name, value, *values)

    def lpos(self, name, value, rank=None, count=None, maxlen=None):
        """Index of ``value`` in list ``name``, or None.

        ``rank``: return the rank-th match (negative: search from the tail);
        ``count``: return a list of up to ``count`` indexes (0: all matches);
        ``maxlen``: compare at most this many elements.
        https://redis.io/commands/lpos"""
        pieces = [name, value]
        if rank is not None:
            pieces.extend(("RANK", rank))
        if count is not None:
            pieces.extend(("COUNT", count))
        if maxlen is not None:
            pieces.extend(("MAXLEN", maxlen))
        return self.execute_command("LPOS", *pieces)

    def lmove(self, first_list, second_list, src="LEFT", dest="RIGHT"):
        """Atomically pop an element from the ``src`` end ("LEFT"/"RIGHT") of
        ``first_list`` and push it on the ``dest`` end of ``second_list`` (same
        slot); returns the element, or None if ``first_list`` is empty.
        https://redis.io/commands/lmove"""
        return self.execute_command("LMOVE", first_list, second_list, src, dest)

    def blmove(self, first_list, second_list, timeout, src="LEFT", dest="RIGHT"):
        """LMOVE that blocks up to ``timeout`` seconds (0: forever) while
        ``first_list`` is empty; None on timeout.
        https://redis.io/commands/blmove"""
        return self.execute_command("BLMOVE", first_list, second_list, src, dest, timeout)

    def lmpop(self, num_keys, *args, direction, count=1):
        """Pop up to ``count`` elements from the ``direction`` end ("LEFT" or
        "RIGHT") of the first non-empty list among the ``num_keys`` keys ``args``
        (same slot). Returns ``[key, [elements]]``, or None if all are empty.
        https://redis.io/commands/lmpop"""
        pieces = [num_keys]
        pieces.extend(args)
        pieces.append(direction)
        if count is not None and count != 1:
            pieces.extend(("COUNT", count))
        return self.execute_command("LMPOP", *pieces)

    def blmpop(self, timeout, numkeys, *args, direction, count=1):
        """LMPOP that blocks up to ``timeout`` seconds (0: forever) while all
        the lists are empty; ``[key, [elements]]``, or None on timeout.
        https://redis.io/commands/blmpop"""
        pieces = [timeout, numkeys]
        pieces.extend(args)
        pieces.append(direction)
        if count is not None:
            pieces.extend(("COUNT", count))
        return self.execute_command("BLMPOP", *pieces)


def _pop_pair(response, **options):
    return tuple(response) if response else None


#: upper-case command name -> reply parser, for the commands of this module
#: (commands missing here return the reply as it is: LINDEX, LPOP, RPOP, LPUSH,
#: RPUSH, LRANGE, LREM, LPOS, LMOVE, BLMOVE, LMPOP, BLMPOP).
RESPONSE_CALLBACKS = {
    "BLPOP": _pop_pair,
    "BRPOP": _pop_pair,
    "LINSERT": int,
    "LLEN": int,
    "LPUSHX": int,
    "LSET": bool_ok,
    "LTRIM": bool_ok,
    "RPUSHX": int,
}
