"""HashCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

Every hash command takes one key, so the engine routes it by that key's slot;
``hscan_iter`` therefore walks the HSCAN cursor on the node that holds the hash.
Signatures and return shapes are redis-py 3.5.3's; HRANDFIELD (Redis 6.2) and
``hset(items=...)`` follow current redis-py.
"""

import warnings

from ._util import DataError, list_or_args, pairs_to_dict, scan_args


class HashCommands:
    """Redis hash commands (HDEL ... HSCAN)."""

    def hdel(self, name, *keys):
        """Delete the fields ``keys`` from hash ``name``; returns how many existed.
        https://redis.io/commands/hdel"""
        return self.execute_command("HDEL", name, *keys)

    def hexists(self, name, key):
        """True if field ``key`` exists in hash ``name``.
        https://redis.io/commands/hexists"""
        return self.execute_command("HEXISTS", name, key)

    def hget(self, name, key):
        """Value of field ``key`` in hash ``name``, or None.
        https://redis.io/commands/hget"""
        return self.execute_command("HGET", name, key)

    def hgetall(self, name):
        """The whole hash ``name`` as a dict (``{}`` when it does not exist).
        https://redis.io/commands/hgetall"""
        return self.execute_command("HGETALL", name)

    def hincrby(self, name, key, amount=1):
        """Add the integer ``amount`` to field ``key`` of hash ``name``; returns
        the new value. https://redis.io/commands/hincrby"""
        return self.execute_command("HINCRBY", name, key, amount)

    def hincrbyfloat(self, name, key, amount=1.0):
        """Add the float ``amount`` to field ``key`` of hash ``name``; returns the
        new value as a float. https://redis.io/commands/hincrbyfloat"""
        return self.execute_command("HINCRBYFLOAT", name, key, amount)

    def hkeys(self, name):
        """List of the field names of hash ``name``.
        https://redis.io/commands/hkeys"""
        return self.execute_command("HKEYS", name)

    def hlen(self, name):
        """Number of fields in hash ``name``. https://redis.io/commands/hlen"""
        return self.execute_command("HLEN", name)

    def hset(self, name, key=None, value=None, mapping=None, items=None):
        """Set fields of hash ``name``; returns how many fields were added.

        ``key``/``value``: one field; ``mapping``: a dict of fields; ``items``: a
        flat list ``[field1, value1, field2, value2, ...]``. At least one of them
        is required (DataError otherwise). https://redis.io/commands/hset"""
        if key is None and not mapping and not items:
            raise DataError("'hset' with no key value pairs")
        pieces = []
        if items:
            pieces.extend(items)
        if key is not None:
            pieces.append(key)
            pieces.append(value)
        if mapping:
            for field, val in mapping.items():
                pieces.append(field)
                pieces.append(val)
        return self.execute_command("HSET", name, *pieces)

    def hsetnx(self, name, key, value):
        """Set field ``key`` of hash ``name`` only if it does not exist; returns 1
        if the field was created, else 0. https://redis.io/commands/hsetnx"""
        return self.execute_command("HSETNX", name, key, value)

    def hmset(self, name, mapping):
        """Deprecated (use ``hset(name, mapping=...)``): set every field of the
        dict ``mapping`` in hash ``name``; returns True.
        https://redis.io/commands/hmset"""
        cls = self.__class__.__name__
        warnings.warn(
            "%s.hmset() is deprecated. Use %s.hset() instead." % (cls, cls),
            DeprecationWarning,
            stacklevel=2,
        )
        if not mapping:
            raise DataError("'hmset' with 'mapping' of length 0")
        pieces = []
        for field, val in mapping.items():
            pieces.append(field)
            pieces.append(val)
        return self.execute_command("HMSET", name, *pieces)

    def hmget(self, name, keys, *args):
        """Values of the fields ``keys`` (a list, or several arguments) of hash
        ``name``, in order, None for missing ones. https://redis.io/commands/hmget"""
        return self.execute_command("HMGET", name, *list_or_args(keys, args))

    def hvals(self, name):
        """List of the values of hash ``name``. https://redis.io/commands/hvals"""
        return self.execute_command("HVALS", name)

    def hstrlen(self, name, key):
        """Length in bytes of the value of field ``key`` in hash ``name``.
        https://redis.io/commands/hstrlen"""
        return self.execute_command("HSTRLEN", name, key)

    def hrandfield(self, key, count=None, withvalues=False):
        """Random field(s) of hash ``key``.

        Without ``count``: one field, or None if the hash does not exist. With
        ``count``: a list of up to ``count`` distinct fields (a negative count
        allows repeats and returns exactly ``-count``); ``withvalues`` (needs
        ``count``) makes it a flat list ``[field1, value1, ...]``, as current
        redis-py returns on RESP2. https://redis.io/commands/hrandfield"""
        pieces = [key]
        if count is not None:
            pieces.append(count)
        if withvalues:
            pieces.append("WITHVALUES")
        return self.execute_command("HRANDFIELD", *pieces)

    def hscan(self, name, cursor=0, match=None, count=None):
        """One HSCAN step over hash ``name``: ``(next_cursor, {field: value})``.

        ``match``: glob pattern on field names; ``count``: hint of how many
        fields per step. The scan is over when the cursor returned is 0.
        https://redis.io/commands/hscan"""
        return self.execute_command("HSCAN", name, *scan_args(cursor, match, count))

    def hscan_iter(self, name, match=None, count=None):
        """Iterate over the ``(field, value)`` pairs of hash ``name`` with HSCAN
        (the cursor is kept here; every step goes to the node holding the hash).
        https://redis.io/commands/hscan"""
        cursor = "0"
        while cursor != 0:
            cursor, data = self.hscan(name, cursor=cursor, match=match, count=count)
            for item in data.items():
                yield item


def _parse_hgetall(response, **options):
    return pairs_to_dict(response) if response else {}


def _parse_hscan(response, **options):
    cursor, pairs = response
    return int(cursor), (pairs_to_dict(pairs) if pairs else {})


#: upper-case command name -> reply parser, for the commands of this module
#: (commands missing here return the reply as it is: HGET, HKEYS, HVALS, HMGET,
#: HINCRBY, HSET, HSETNX, HRANDFIELD).
RESPONSE_CALLBACKS = {
    "HDEL": int,
    "HEXISTS": bool,
    "HGETALL": _parse_hgetall,
    "HINCRBYFLOAT": float,
    "HLEN": int,
    "HMSET": bool,
    "HSCAN": _parse_hscan,
    "HSTRLEN": int,
}
