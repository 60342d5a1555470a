"""SetCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

SDIFF, SINTER, SUNION, their STORE forms and SMOVE live in the multi-key module
(slot splitting). SINTERCARD is sent as it is: its keys must share a slot
(``ClusterCrossSlotError`` otherwise). Signatures and return shapes are redis-py
3.5.3's; SMISMEMBER and SINTERCARD follow current redis-py.
"""

from ._util import list_or_args, scan_args


class SetCommands:
    """Redis set commands."""

    def sadd(self, name, *values):
        """Add ``values`` to set ``name``; returns how many were new.
        https://redis.io/commands/sadd"""
        return self.execute_command("SADD", name, *values)

    def scard(self, name):
        """Number of members of set ``name``. https://redis.io/commands/scard"""
        return self.execute_command("SCARD", name)

    def sismember(self, name, value):
        """True if ``value`` is a member of set ``name``.
        https://redis.io/commands/sismember"""
        return self.execute_command("SISMEMBER", name, value)

    def smembers(self, name):
        """All members of set ``name``, as a Python set.
        https://redis.io/commands/smembers"""
        return self.execute_command("SMEMBERS", name)

    def smismember(self, name, values, *args):
        """For each of ``values`` (a list, or several arguments), 1 if it is a
        member of set ``name``, else 0 (a list of ints, in order).
        https://redis.io/commands/smismember"""
        return self.execute_command("SMISMEMBER", name, *list_or_args(values, args))

    def spop(self, name, count=None):
        """Remove and return a random member of set ``name`` (None if empty);
        with ``count``, a list of up to ``count`` members.
        https://redis.io/commands/spop"""
        if count is not None:
            return self.execute_command("SPOP", name, count)
        return self.execute_command("SPOP", name)

    def srandmember(self, name, number=None):
        """A random member of set ``name`` (None if empty); with ``number``, a
        list of up to ``number`` distinct members (negative: exactly ``-number``,
        repeats allowed). https://redis.io/commands/srandmember"""
        if number is not None:
            return self.execute_command("SRANDMEMBER", name, number)
        return self.execute_command("SRANDMEMBER", name)

    def srem(self, name, *values):
        """Remove ``values`` from set ``name``; returns how many were members.
        https://redis.io/commands/srem"""
        return self.execute_command("SREM", name, *values)

    def sintercard(self, numkeys, keys, limit=0):
        """Size of the intersection of the ``numkeys`` sets ``keys`` (same slot);
        ``limit`` > 0 stops counting there. https://redis.io/commands/sintercard"""
        keys = list_or_args(keys, None)
        return self.execute_command("SINTERCARD", numkeys, *keys, "LIMIT", limit)

    def sscan(self, name, cursor=0, match=None, count=None):
        """One SSCAN step over set ``name``: ``(next_cursor, [members])``.

        ``match``: glob pattern on members; ``count``: hint of how many members
        per step. The scan is over when the cursor returned is 0.
        https://redis.io/commands/sscan"""
        return self.execute_command("SSCAN", name, *scan_args(cursor, match, count))

    def sscan_iter(self, name, match=None, count=None):
        """Iterate over the members of set ``name`` with SSCAN (the cursor is
        kept here; every step goes to the node holding the set).
        https://redis.io/commands/sscan"""
        cursor = "0"
        while cursor != 0:
            cursor, data = self.sscan(name, cursor=cursor, match=match, count=count)
            for item in data:
                yield item


def _to_set(response, **options):
    return set(response) if response else set()


def _parse_sscan(response, **options):
    cursor, members = response
    return int(cursor), members


#: upper-case command name -> reply parser, for the commands of this module
#: (commands missing here return the reply as it is: SPOP, SRANDMEMBER,
#: SMISMEMBER, SINTERCARD).
RESPONSE_CALLBACKS = {
    "SADD": int,
    "SCARD": int,
    "SISMEMBER": bool,
    "SMEMBERS": _to_set,
    "SREM": int,
    "SSCAN": _parse_sscan,
}
