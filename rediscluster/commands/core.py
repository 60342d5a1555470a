"""What is left of the first command set: PING.

GET, SET, INCR(BY) and the mapping dunders moved to strings.py; DEL and EXISTS
(split by slot) to multikey.py; the rest of the Redis 7 surface is in the other
family modules. redis-py 3.5 signatures and return shapes."""


class CoreCommands:
    def ping(self):
        """PING every node: ``{'host:port': True, ...}`` as redis-py-cluster returns.
        https://redis.io/commands/ping"""
        return self.execute_command("PING")
