"""ScriptingCommands: Lua scripts (EVAL*, SCRIPT *), functions (FCALL*,
FUNCTION *), ``register_script`` and ``lock``.

Methods only shape arguments and call execute_command; reply parsers are in
RESPONSE_CALLBACKS below (merged into the one dict in rediscluster/callbacks.py).
A script or function call is routed by its first key; all its keys must hash to
one slot; with no keys it runs on a random master. SCRIPT LOAD/EXISTS/FLUSH and
FUNCTION LOAD/DELETE/FLUSH/RESTORE/LIST/DUMP/STATS go to every master
(``NODES_FLAGS``); SCRIPT KILL, SCRIPT DEBUG and FUNCTION KILL are blocked.
"""

from ..exceptions import DataError, RedisClusterException
from ._util import bool_ok, nativestr


class ScriptingCommands:
    """Scripting and functions (redis-py 3.5 / current redis-py signatures)."""

    def _check_one_slot(self, command, numkeys, keys_and_args):
        """2.1.3's check: the keys of a script must share one slot."""
        try:
            n = int(numkeys)
        except (TypeError, ValueError):
            return  # the server judges a malformed numkeys
        if n > 1:
            self._check_one_slot_keys(command, keys_and_args[:n])

    # ------------------------------------------------------------ EVAL

    def eval(self, script, numkeys, *keys_and_args):
        """Run the Lua ``script`` with ``numkeys`` keys, then arguments, from
        ``keys_and_args``; returns the script's result. The keys must share a
        slot; with no keys it runs on a random master. https://redis.io/commands/eval"""
        self._check_one_slot("EVAL", numkeys, keys_and_args)
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)

    def eval_ro(self, script, numkeys, *keys_and_args):
        """Read-only EVAL (may run on a replica with ``read_from_replicas``).
        https://redis.io/commands/eval_ro"""
        self._check_one_slot("EVAL_RO", numkeys, keys_and_args)
        return self.execute_command("EVAL_RO", script, numkeys, *keys_and_args)

    def evalsha(self, sha, numkeys, *keys_and_args):
        """Run the script loaded under ``sha`` (SCRIPT LOAD) like ``eval``;
        NoScriptError if the node does not have it. https://redis.io/commands/evalsha"""
        self._check_one_slot("EVALSHA", numkeys, keys_and_args)
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def evalsha_ro(self, sha, numkeys, *keys_and_args):
        """Read-only EVALSHA. https://redis.io/commands/evalsha_ro"""
        self._check_one_slot("EVALSHA_RO", numkeys, keys_and_args)
        return self.execute_command("EVALSHA_RO", sha, numkeys, *keys_and_args)

    # ------------------------------------------------------------ SCRIPT

    def script_exists(self, *args):
        """For each SHA1 in ``args``: True if every master has that script.
        https://redis.io/commands/script-exists"""
        return self.execute_command("SCRIPT EXISTS", *args)

    def script_flush(self, sync_type=None):
        """Empty the script cache of every master; True. ``sync_type``: None
        (server default), 'SYNC' or 'ASYNC'. https://redis.io/commands/script-flush"""
        if sync_type not in ("SYNC", "ASYNC", None):
            raise DataError("SCRIPT FLUSH defaults to SYNC in redis > 6.2, or "
                            "accepts SYNC/ASYNC. For older versions, "
                            "of redis leave as None.")
        pieces = [] if sync_type is None else [sync_type]
        return self.execute_command("SCRIPT FLUSH", *pieces)

    def script_kill(self):
        """Blocked in cluster mode (raises RedisClusterException).
        https://redis.io/commands/script-kill"""
        return self.execute_command("SCRIPT KILL")

    def script_debug(self, *args):
        """Blocked in cluster mode (a debugging session needs one connection).
        https://redis.io/commands/script-debug"""
        return self.execute_command("SCRIPT DEBUG", *args)

    def script_load(self, script):
        """Load the Lua ``script`` into the cache of every master; returns its
        SHA1 (str). https://redis.io/commands/script-load"""
        return self.execute_command("SCRIPT LOAD", script)

    def register_script(self, script):
        """A callable ``Script`` for the Lua ``script``: ``s(keys=[...],
        args=[...])`` runs it by SHA1 and loads it on the masters when needed."""
        from ..script import Script

        return Script(self, script)

    # ------------------------------------------------------------ functions

    def fcall(self, function, numkeys, *keys_and_args):
        """Call the function ``function`` with ``numkeys`` keys, then arguments.
        The keys must share a slot; with no keys it runs on a random master.
        https://redis.io/commands/fcall"""
        self._check_one_slot("FCALL", numkeys, keys_and_args)
        return self.execute_command("FCALL", function, numkeys, *keys_and_args)

    def fcall_ro(self, function, numkeys, *keys_and_args):
        """Read-only FCALL (the function must have the no-writes flag).
        https://redis.io/commands/fcall_ro"""
        self._check_one_slot("FCALL_RO", numkeys, keys_and_args)
        return self.execute_command("FCALL_RO", function, numkeys, *keys_and_args)

    def function_load(self, code, replace=False):
        """Load a library (``code`` starts with ``#!lua name=<lib>``) on every
        master; returns the library name. ``replace``: overwrite an existing one.
        https://redis.io/commands/function-load"""
        pieces = [b"REPLACE"] if replace else []
        pieces.append(code)
        return self.execute_command("FUNCTION LOAD", *pieces)

    def function_delete(self, library):
        """Delete ``library`` from every master; True.
        https://redis.io/commands/function-delete"""
        return self.execute_command("FUNCTION DELETE", library)

    def function_flush(self, mode="SYNC"):
        """Delete every library of every master; True. ``mode``: 'SYNC' or 'ASYNC'.
        https://redis.io/commands/function-flush"""
        return self.execute_command("FUNCTION FLUSH", mode)

    def function_list(self, library="*", withcode=False):
        """Libraries matching ``library`` and their functions (one master's
        reply; all masters hold the same). ``withcode``: include the source.
        https://redis.io/commands/function-list"""
        args = [b"LIBRARYNAME", library]
        if withcode:
            args.append(b"WITHCODE")
        return self.execute_command("FUNCTION LIST", *args)

    def function_dump(self):
        """Serialized payload of the libraries (one master's; all masters hold
        the same), for ``function_restore``. https://redis.io/commands/function-dump"""
        return self.execute_command("FUNCTION DUMP")

    def function_restore(self, payload, policy="APPEND"):
        """Restore libraries from ``payload`` on every master; True. ``policy``:
        'APPEND', 'REPLACE' or 'FLUSH'. https://redis.io/commands/function-restore"""
        return self.execute_command("FUNCTION RESTORE", payload, policy)

    def function_stats(self):
        """The running function and the engines of every master:
        ``{'host:port': reply}``. https://redis.io/commands/function-stats"""
        return self.execute_command("FUNCTION STATS")

    def function_kill(self):
        """Blocked in cluster mode, as SCRIPT KILL (raises RedisClusterException).
        https://redis.io/commands/function-kill"""
        return self.execute_command("FUNCTION KILL")

    # ------------------------------------------------------------ lock

    def lock(self, name, timeout=None, sleep=0.1, blocking_timeout=None,
             lock_class=None, thread_local=True, blocking=True):
        """A ``Lock`` on the key ``name`` (redis-py 3.5's lock).

        ``timeout``: maximum life of the lock in seconds (None: until released);
        ``sleep``: seconds between attempts while waiting; ``blocking_timeout``:
        longest wait in ``acquire`` (None: forever); ``lock_class``: the class
        to build; ``thread_local``: keep the token per thread; ``blocking``:
        whether ``acquire`` waits by default."""
        if lock_class is None:
            from ..lock import Lock as lock_class
        options = {} if blocking else {"blocking": False}
        return lock_class(self, name, timeout=timeout, sleep=sleep,
                          blocking_timeout=blocking_timeout, thread_local=thread_local,
                          **options)


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "SCRIPT EXISTS": lambda r, **o: [bool(x) for x in r],
    "SCRIPT FLUSH": bool_ok,
    "SCRIPT KILL": bool_ok,
    "SCRIPT LOAD": lambda r, **o: nativestr(r),
    "FUNCTION DELETE": bool_ok,
    "FUNCTION FLUSH": bool_ok,
    "FUNCTION RESTORE": bool_ok,
}

__all__ = ["ScriptingCommands", "RESPONSE_CALLBACKS"]
