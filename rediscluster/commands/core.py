"""The commands the engine issue needs: GET, SET, DEL, INCR(BY), EXISTS, PING.

redis-py 3.5 signatures and return shapes; the full Redis 7 surface is built on
the same pattern."""

import datetime

from ..exceptions import DataError


def _seconds(value):
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    return value


def _millis(value):
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return value


class CoreCommands:
    def get(self, name):
        """Value of ``name``, or None. https://redis.io/commands/get"""
        return self.execute_command("GET", name)

    def set(self, name, value, ex=None, px=None, nx=False, xx=False, keepttl=False):
        """Set ``name`` to ``value``; True on success, None if NX/XX prevented it.

        ``ex``/``px``: expiry in seconds / milliseconds (int or timedelta);
        ``nx``: only if absent; ``xx``: only if present; ``keepttl``: keep the TTL.
        https://redis.io/commands/set"""
        pieces = [name, value]
        if ex is not None:
            pieces.append("EX")
            pieces.append(_seconds(ex))
        if px is not None:
            pieces.append("PX")
            pieces.append(_millis(px))
        if nx and xx:
            raise DataError("``nx`` and ``xx`` are mutually exclusive.")
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if keepttl:
            if ex is not None or px is not None:
                raise DataError("``keepttl`` can not be combined with ``ex`` or ``px``.")
            pieces.append("KEEPTTL")
        return self.execute_command("SET", *pieces)

    def _sum_by_slot(self, command, names):
        """Run a counting multi-key command once per slot group, in parallel
        through the engine, and add the counts up (not atomic across slots;
        when all keys share a slot this is the server's own command)."""
        groups = {}
        for name in names:
            groups.setdefault(self.keyslot(name), []).append(name)
        if len(groups) <= 1:
            return self.execute_command(command, *names)
        total = 0
        for reply in self._execute_batch([((command,) + tuple(keys), None)
                                          for keys in groups.values()]):
            if isinstance(reply, Exception):
                raise reply
            total += reply
        return total

    def delete(self, *names):
        """Delete keys; returns how many existed. Keys in several slots are
        deleted per slot, in parallel (not atomically). https://redis.io/commands/del"""
        return self._sum_by_slot("DEL", names)

    def __delitem__(self, name):
        self.delete(name)

    def __getitem__(self, name):
        value = self.get(name)
        if value is not None:
            return value
        raise KeyError(name)

    def __setitem__(self, name, value):
        self.set(name, value)

    def incr(self, name, amount=1):
        """Increment ``name`` by ``amount``; returns the new value.
        https://redis.io/commands/incrby"""
        return self.execute_command("INCRBY", name, amount)

    def incrby(self, name, amount=1):
        return self.execute_command("INCRBY", name, amount)

    def exists(self, *names):
        """How many of ``names`` exist (keys in several slots are counted per
        slot, in parallel). https://redis.io/commands/exists"""
        return self._sum_by_slot("EXISTS", names)

    def ping(self):
        """PING every node: ``{'host:port': True, ...}`` as redis-py-cluster returns.
        https://redis.io/commands/ping"""
        return self.execute_command("PING")
