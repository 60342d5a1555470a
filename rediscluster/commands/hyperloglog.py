"""HyperLogLogCommands: PFADD.

Methods only shape arguments and call ``execute_command``; reply parsers for
these commands are in ``RESPONSE_CALLBACKS`` below (merged into the one dict in
rediscluster/callbacks.py). PFCOUNT and PFMERGE take several keys and live in
multikey.py (across slots they are done client-side there)."""

__all__ = ["HyperLogLogCommands", "RESPONSE_CALLBACKS"]


class HyperLogLogCommands:
    """HyperLogLog commands with one key."""

    def pfadd(self, name, *values):
        """Add ``values`` to the HyperLogLog at ``name`` (created if absent);
        1 if its estimated cardinality changed, else 0.
        https://redis.io/commands/pfadd"""
        return self.execute_command("PFADD", name, *values)


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "PFADD": int,
}
