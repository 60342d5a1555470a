"""``ClusterPipeline``: commands queued in Python, executed by the C batch engine.

``execute()`` hands the whole stack to C once: grouped per node, written to every
node, read back with ``poll()`` as replies arrive, redirections followed in
further batched rounds, results in the caller's order (API reference §10 is the
contract; see docs/engine.md for what happens on failures).

With ``transaction=True`` (or after ``multi()``) the stack runs as MULTI/EXEC on
the master of the one slot all its keys map to, on one held connection, with
``watch()`` / ``unwatch()`` as in redis-py. A pipeline object is not thread-safe:
use one per thread.
"""

import warnings
import weakref
from itertools import repeat

from . import _core
from .client import RedisCluster
from .commands._util import apply_callback
from .commands.multikey import _mapping_args
from .exceptions import (
    AskError,
    ConnectionError,
    MovedError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TryAgainError,
    WatchError,
)

__all__ = ["ClusterPipeline", "StrictClusterPipeline", "PipelineCommand", "ERRORS_ALLOW_RETRY"]

#: 2.1.3's errors a pipeline command is retried on (the engine does that itself)
ERRORS_ALLOW_RETRY = (ConnectionError, TimeoutError, MovedError, AskError, TryAgainError)

#: One queued command (a C type): ``.args``, ``.options``, ``.position``,
#: ``.result``; ``PipelineCommand(args, options=None, position=None)``.
PipelineCommand = _core.PipelineCommand

# 2.1.3's blocked pipeline methods (§10) that we still cannot queue.
_BLOCKED = (
    "bgrewriteaof bgsave bitop client_getname client_kill client_list client_setname "
    "config_get config_resetstat config_rewrite config_set dbsize echo flushall "
    "flushdb info keys lastsave move ping publish randomkey save scan script_exists "
    "script_flush script_kill script_load sentinel_get_master_addr_by_name sentinel_master "
    "sentinel_masters sentinel_monitor sentinel_remove sentinel_sentinels sentinel_set "
    "sentinel_slaves shutdown slaveof slowlog_get slowlog_len slowlog_reset sort time "
    # ours: helpers that talk to chosen nodes themselves cannot be queued
    "cluster_addslots cluster_delslots cluster_failover cluster_meet cluster_replicate "
    "cluster_reset cluster_reset_all_nodes cluster_set_config_epoch cluster_setslot "
    "cluster_save_config cluster_count_failure_report client_info client_id client_pause "
    "client_unpause client_kill_filter memory_stats memory_doctor memory_malloc_stats "
    "memory_purge latency_latest latency_history latency_reset latency_doctor "
    "latency_histogram function_load function_delete function_flush function_list "
    "function_dump function_restore function_stats scan_iter"
).split()


def _blocked(name):
    def method(self, *args, **kwargs):
        raise RedisClusterException(
            "ERROR: Calling pipelined function {0} is blocked when running redis in "
            "cluster mode...".format(name))
    method.__name__ = name
    method.__doc__ = "Blocked in cluster pipelines (as in redis-py-cluster)."
    return method


def _command_args(c):
    """The argument tuple of a PipelineCommand or an (args, options) pair."""
    return c.args if isinstance(c, PipelineCommand) else c[0]


def _safe_str(arg):
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "replace")
    return str(arg)


class ClusterPipeline(RedisCluster):
    """Queues commands; ``execute()`` runs them all at once."""

    def __init__(self, connection_pool, result_callbacks=None, response_callbacks=None,
                 startup_nodes=None, read_from_replicas=False, cluster_down_retry_attempts=3,
                 transaction=False):
        _core.Client.__init__(
            self,
            connection_pool,
            response_callbacks=response_callbacks if response_callbacks is not None
            else dict(self.RESPONSE_CALLBACKS),
            nodes_flags=dict(self.NODES_FLAGS),
            result_callbacks=result_callbacks if result_callbacks is not None
            else dict(self.RESULT_CALLBACKS),
            ttl=self.RedisClusterRequestTTL,
            cluster_down_retry_attempts=cluster_down_retry_attempts,
            read_from_replicas=read_from_replicas,
        )
        self.startup_nodes = startup_nodes or []
        self.refresh_table_asap = False
        self.command_stack = []
        self.scripts = set()  # Script objects used in this pipeline (loaded first)
        self._transaction_mode = bool(transaction)
        self.explicit_transaction = False
        self.watching = False
        self._conn = None        # held connection while WATCHing
        self._slot = None        # the one slot of a transaction
        self._abort_index = None  # EXECABORT: index of the first refused command

    def __repr__(self):
        return "{0}<{1} commands>".format(type(self).__name__, len(self.command_stack))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.reset()

    def __del__(self):
        try:
            self.reset()
        except Exception:
            pass

    def __len__(self):
        return len(self.command_stack)

    def __bool__(self):
        return True

    # ------------------------------------------------------------ queuing

    #: Queue a command and return the pipeline (so calls chain). In C: one
    #: append per command, no Python frame. While WATCHing before ``multi()``
    #: an instance attribute replaces it with ``_immediate_command``.
    execute_command = _core.Client._queue_command

    def _immediate_command(self, *args, **kwargs):
        return self._immediate(args, kwargs)

    def _set_immediate(self, on):
        # A closure over a weak reference, not a bound method: the instance
        # must not refer to itself, or a dropped watching pipeline would keep
        # its connection until the cycle collector runs.
        if on:
            ref = weakref.ref(self)

            def execute_command(*args, **kwargs):
                return ref()._immediate(args, kwargs)

            self.execute_command = execute_command
        else:
            self.__dict__.pop("execute_command", None)

    def pipeline_execute_command(self, *args, **options):
        """Queue a command (the original's name for ``execute_command`` in pipelines)."""
        return self.execute_command(*args, **options)

    def _execute_batch(self, commands):
        # Multi-key helpers that need several slots call this directly; in a
        # pipeline they cannot run now.
        raise RedisClusterException(
            "ERROR: multi-key commands over several slots cannot be queued in a "
            "pipeline; give the keys one {hash tag} so they share a slot")

    def reset(self):
        """Forget queued commands; UNWATCH and release a held connection."""
        self.command_stack = []
        self.scripts = set()
        self.explicit_transaction = False
        self._set_immediate(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            self._let_go(conn)
        self.watching = False
        self._slot = None

    def _let_go(self, conn):
        """Give a held connection back (UNWATCH first if watching)."""
        try:
            if self.watching and conn.open:
                conn.execute("UNWATCH")
            conn.release()
        except Exception:
            conn.close()

    def execute(self, raise_on_error=True):
        """Run the queued commands; return their results in order."""
        stack = self.command_stack
        if not stack and not self.watching:
            return []
        self._abort_index = None
        try:
            if self.scripts:
                self.load_scripts()
            if self._transaction_mode or self.explicit_transaction:
                results = self._execute_transaction(stack)
            else:
                results = _core.Client._execute_batch(self, stack)
        finally:
            self.reset()
        if raise_on_error:
            self._raise_execute_error(stack, results)
        return results

    def _raise_execute_error(self, stack, results):
        """raise_on_error: the first refused command of an aborted
        transaction, else the first error among the results."""
        first = self._abort_index
        if first is not None:
            self._raise_first_error(stack[first:first + 1], results[first:first + 1], first)
        self._raise_first_error(stack, results)

    def send_cluster_commands(self, stack, raise_on_error=True, allow_redirections=True):
        """2.1.3's entry point: run a list of ``PipelineCommand`` (or
        ``(args, options)`` pairs); return the results in order, each also in
        its command's ``.result``."""
        results = _core.Client._execute_batch(self, stack)
        if raise_on_error:
            self._raise_first_error(stack, results)
        return results

    def raise_first_error(self, stack):
        """Raise the first exception among the ``.result`` of ``stack``'s
        commands, annotated with its position and arguments."""
        for c in stack:
            if isinstance(c.result, Exception):
                self.annotate_exception(c.result, c.position + 1, c.args)
                raise c.result

    @staticmethod
    def annotate_exception(exception, number, command):
        """Prefix ``exception``'s message with "Command # number (args) of
        pipeline caused error: " (bytes arguments shown decoded)."""
        msg = "Command # %d (%s) of pipeline caused error: %s" % (
            number, " ".join(_safe_str(a) for a in command),
            exception.args[0] if exception.args else "")
        exception.args = (msg,) + tuple(exception.args[1:])

    @classmethod
    def _raise_first_error(cls, stack, results, offset=0):
        if not any(map(isinstance, results, repeat(Exception))):
            return  # the usual case, checked in C
        for i, r in enumerate(results):
            if isinstance(r, Exception):
                cls.annotate_exception(r, i + 1 + offset, _command_args(stack[i]))
                raise r

    # ------------------------------------------------------------ transactions

    def _command_slots(self, args):
        """Slots of a command's keys (by the engine's command table)."""
        try:
            positions = _core.command_keys(*args)
        except RedisClusterException:
            return set()
        return {self.keyslot(args[i]) for i in positions}

    def _transaction_slot(self, stack, extra_slots=()):
        slots = set(extra_slots)
        for c in stack:
            slots |= self._command_slots(_command_args(c))
        if len(slots) > 1:
            raise RedisClusterException(
                "A transaction's keys must all map to one slot; these keys map to slots "
                "{0}".format(sorted(slots)))
        if not slots:
            raise RedisClusterException(
                "A transaction needs at least one key to know which node runs it")
        return slots.pop()

    def multi(self):
        """Start buffering commands for MULTI/EXEC (after ``watch``)."""
        if self.explicit_transaction:
            raise RedisClusterException("Cannot issue nested calls to MULTI")
        if self.command_stack:
            raise RedisClusterException(
                "Commands without an initial WATCH have already been issued")
        self.explicit_transaction = True
        self._set_immediate(False)

    def watch(self, *names):
        """WATCH keys (one slot) on a held connection; commands run at once
        until ``multi()``."""
        if self.explicit_transaction:
            raise RedisClusterException("Cannot issue a WATCH after a MULTI")
        slot = self._transaction_slot([], {self.keyslot(n) for n in names})
        if self._slot is not None and slot != self._slot:
            raise RedisClusterException(
                "WATCH keys must map to one slot; got slots {0}".format(
                    sorted({slot, self._slot})))
        return self._immediate(("WATCH",) + names, {})

    def unwatch(self):
        """Forget watched keys."""
        if self._conn is None:
            return True
        return self._immediate(("UNWATCH",), {})

    def _immediate(self, args, options):
        """Run one command now on the held connection (WATCH mode)."""
        conn = self._immediate_conn(args)
        try:
            reply = conn.execute(*args)
        except (MovedError, AskError, ConnectionError) as e:
            self._immediate_failed(e)
            raise
        return self._immediate_done(args, reply, options)

    def _immediate_conn(self, args):
        """The held connection for ``args`` (WATCH mode), checked out for the
        slot of the keys on the first keyed command."""
        self._immediate_slot(args)
        if self._conn is None:
            if self._slot is None:
                raise RedisClusterException(
                    "WATCH mode needs a keyed command first to pick the node")
            self._conn = self.connection_pool._connection(self._slot)
        return self._conn

    def _immediate_slot(self, args):
        """Check the keys of ``args`` against the watched slot; the first
        keyed command picks it."""
        slots = self._command_slots(args)
        if args and str(args[0]).upper() in ("WATCH",):
            slots = {self.keyslot(k) for k in args[1:]}
        if slots:
            slot = self._transaction_slot([], slots | ({self._slot} if self._slot is not None else set()))
            self._slot = slot

    def _immediate_failed(self, e):
        """A command on the held connection failed with ``e``: a redirect
        raises WatchError; a connection error forgets the connection (the
        caller re-raises ``e``)."""
        if isinstance(e, (MovedError, AskError)):
            # The slot moved while we watch: the watch is void; let the caller
            # retry (transaction() does, on WatchError).
            if isinstance(e, MovedError) and e.host is not None:
                self.connection_pool._patch_slot(e.slot_id, e.host or "", e.port)
            self.reset()
            raise WatchError("Slot moved while watching: {0}".format(e))
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self.watching = False

    def _immediate_done(self, args, reply, options):
        name = str(args[0]).upper()
        if name == "WATCH":
            self.watching = True
            self._set_immediate(not self.explicit_transaction)
        elif name == "UNWATCH":
            self.watching = False
            self._set_immediate(False)
        return apply_callback(self.response_callbacks, args, reply, options)

    def _execute_transaction(self, stack):
        slot = self._transaction_slot(stack, {self._slot} if self._slot is not None else ())
        if self._conn is None:
            # MULTI ... EXEC as one unit: redirects, retries and connection
            # failures are the engine's (the same policy as every command).
            replies = _core.Client._execute_transaction(self, slot, stack)
        else:
            # WATCH holds a connection: the transaction must run on it.
            replies = self._conn.execute_many(self._held_transaction(stack))
            self._check_held_replies(replies)
        return self._transaction_results(stack, replies)

    @staticmethod
    def _held_transaction(stack):
        return [("MULTI",)] + [_command_args(c) for c in stack] + [("EXEC",)]

    @staticmethod
    def _check_held_replies(replies):
        # A redirect (Redis answers it to a queued command, Valkey to
        # EXEC): the watched keys' slot moved, the watch means nothing now.
        redirect = next((r for r in replies if isinstance(r, (MovedError, AskError))), None)
        if redirect is not None:
            raise WatchError("Slot moved during the transaction: {0}".format(redirect))

    def _transaction_results(self, stack, replies):
        """The results of a transaction from its raw replies (MULTI's, one per
        queued command, EXEC's); WatchError if EXEC said the watch failed."""
        queued, exec_reply = replies[1:-1], replies[-1]
        if exec_reply is None:
            raise WatchError("Watched variable changed.")
        if isinstance(exec_reply, Exception):
            # EXECABORT: each command refused while queuing keeps its own
            # error; the others get the EXECABORT. raise_on_error raises
            # the first refused command's error (as redis-py does).
            results = [r if isinstance(r, Exception) else exec_reply for r in queued]
            self._abort_index = next(
                (i for i, r in enumerate(queued) if isinstance(r, Exception)), None)
            return results
        results = []
        for c, r in zip(stack, exec_reply):
            if not isinstance(r, Exception):
                try:
                    r = apply_callback(self.response_callbacks, c.args, r, c.options)
                except Exception as e:  # a parser that fails: its error in place
                    r = e
            c.result = r
            results.append(r)
        return results

    # ------------------------------------------------------------ multi-key in pipelines

    def _queue_one_slot(self, name, keys, args):
        slots = {self.keyslot(k) for k in keys}
        if len(slots) > 1:
            raise RedisClusterException(
                "ERROR: Calling pipelined function {0} with keys in several slots ({1}) is "
                "not possible in cluster mode; give the keys one {{hash tag}}".format(
                    name.lower(), sorted(slots)))
        return self.execute_command(*args)

    def mget(self, keys, *args):
        """Queue MGET; all keys must map to one slot (use a {hash tag})."""
        keys = list(keys) if not isinstance(keys, (bytes, str)) else [keys]
        keys.extend(args)
        return self._queue_one_slot("MGET", keys, ["MGET"] + keys)

    def mset(self, *args, **kwargs):
        """Queue MSET (a dict or keyword arguments); all keys must map to one slot."""
        kwargs = _mapping_args("MSET", args, kwargs)
        pieces = [x for pair in kwargs.items() for x in pair]
        return self._queue_one_slot("MSET", list(kwargs), ["MSET"] + pieces)

    def msetnx(self, *args, **kwargs):
        """Queue MSETNX (a dict or keyword arguments); all keys must map to one slot."""
        kwargs = _mapping_args("MSETNX", args, kwargs)
        pieces = [x for pair in kwargs.items() for x in pair]
        return self._queue_one_slot("MSETNX", list(kwargs), ["MSETNX"] + pieces)

    def delete(self, *names):
        """Queue DEL; all keys must map to one slot."""
        return self._queue_one_slot("DEL", names, ("DEL",) + names)

    def unlink(self, *names):
        """Queue UNLINK; all keys must map to one slot."""
        return self._queue_one_slot("UNLINK", names, ("UNLINK",) + names)

    def exists(self, *names):
        """Queue EXISTS; all keys must map to one slot."""
        return self._queue_one_slot("EXISTS", names, ("EXISTS",) + names)

    def touch(self, *names):
        """Queue TOUCH; all keys must map to one slot."""
        return self._queue_one_slot("TOUCH", names, ("TOUCH",) + names)

    def rename(self, src, dst, replace=False):
        """Queue RENAME; both keys must map to one slot."""
        return self._queue_one_slot("RENAME", (src, dst), ("RENAME", src, dst))

    def renamenx(self, src, dst):
        """Queue RENAMENX; both keys must map to one slot."""
        return self._queue_one_slot("RENAMENX", (src, dst), ("RENAMENX", src, dst))

    def rpoplpush(self, src, dst):
        """Queue RPOPLPUSH; both keys must map to one slot."""
        return self._queue_one_slot("RPOPLPUSH", (src, dst), ("RPOPLPUSH", src, dst))

    def brpoplpush(self, src, dst, timeout=0):
        """Queue BRPOPLPUSH; both keys must map to one slot."""
        return self._queue_one_slot("BRPOPLPUSH", (src, dst), ("BRPOPLPUSH", src, dst, timeout or 0))

    def smove(self, src, dst, value):
        """Queue SMOVE; both keys must map to one slot."""
        return self._queue_one_slot("SMOVE", (src, dst), ("SMOVE", src, dst, value))

    def pfcount(self, *sources):
        """Queue PFCOUNT; all keys must map to one slot."""
        return self._queue_one_slot("PFCOUNT", sources, ("PFCOUNT",) + sources)

    def pfmerge(self, dest, *sources):
        """Queue PFMERGE; all keys must map to one slot."""
        return self._queue_one_slot("PFMERGE", (dest,) + sources, ("PFMERGE", dest) + sources)

    def _setop(self, name, keys, args, dest=None):
        keys = list(keys) if not isinstance(keys, (bytes, str)) else [keys]
        keys.extend(args)
        allkeys = keys if dest is None else [dest] + keys
        return self._queue_one_slot(name, allkeys, [name] + allkeys)

    def sdiff(self, keys, *args):
        """Queue SDIFF; all keys must map to one slot."""
        return self._setop("SDIFF", keys, args)

    def sinter(self, keys, *args):
        """Queue SINTER; all keys must map to one slot."""
        return self._setop("SINTER", keys, args)

    def sunion(self, keys, *args):
        """Queue SUNION; all keys must map to one slot."""
        return self._setop("SUNION", keys, args)

    def sdiffstore(self, dest, keys, *args):
        """Queue SDIFFSTORE; all keys, dest included, must map to one slot."""
        return self._setop("SDIFFSTORE", keys, args, dest)

    def sinterstore(self, dest, keys, *args):
        """Queue SINTERSTORE; all keys, dest included, must map to one slot."""
        return self._setop("SINTERSTORE", keys, args, dest)

    def sunionstore(self, dest, keys, *args):
        """Queue SUNIONSTORE; all keys, dest included, must map to one slot."""
        return self._setop("SUNIONSTORE", keys, args, dest)

    # ------------------------------------------------------------ not in pipelines

    def pipeline(self, *args, **kwargs):
        """Not available on a pipeline (raises RedisClusterException)."""
        raise RedisClusterException("A pipeline cannot make another pipeline")

    def transaction(self, *args, **kwargs):
        """Not available on a pipeline: use ``RedisCluster.transaction()``."""
        raise RedisClusterException("Use RedisCluster.transaction(), not the pipeline's")

    def immediate_execute_command(self, *args, **options):
        """Run one command now on the held (WATCH) connection."""
        return self._immediate(args, options)

    def load_scripts(self):
        """SCRIPT LOAD every ``Script`` used in this pipeline on every master
        (``execute()`` does it before running; 2.1.3 could not run scripts in
        pipelines)."""
        for script in list(self.scripts):
            script.sha = _core.Client.execute_command(self, "SCRIPT LOAD", script.script)

    def script_load_for_pipeline(self, *args, **kwargs):
        """Not implemented in cluster pipelines (raises, as the original)."""
        raise RedisClusterException("method script_load_for_pipeline() is not implemented")


for _name in _BLOCKED:
    setattr(ClusterPipeline, _name, _blocked(_name))


class StrictClusterPipeline(ClusterPipeline):
    """The 1.3.x name of ``ClusterPipeline``."""


_USE_THREADS_WARNED = []


def _warn_use_threads(option):
    if not _USE_THREADS_WARNED:
        _USE_THREADS_WARNED.append(True)
        warnings.warn(
            "{0} is ignored: the C engine writes to all nodes and reads them in parallel "
            "without threads".format(option), DeprecationWarning, stacklevel=3)


__all__.append("_warn_use_threads")
