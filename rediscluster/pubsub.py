"""``ClusterPubSub``: redis-py's ``PubSub`` API over a Redis Cluster.

Classic Pub/Sub (SUBSCRIBE / PSUBSCRIBE) uses one connection, to the master of
the first channel's (or pattern's) hash slot, as redis-py-cluster 2.1.3 does:
the cluster forwards every PUBLISH to all nodes, so any node would do. When
that connection drops (the node died, was failed over, killed the client...)
the object reconnects by itself to the *current* master of that slot and
re-subscribes every channel and pattern, handlers included.

Sharded Pub/Sub (Redis 7: SSUBSCRIBE / SUNSUBSCRIBE, messages of type
``smessage``) uses one connection per master owning a subscribed shard
channel, with one SSUBSCRIBE per slot. When the server moves a slot away (it
pushes ``sunsubscribe`` for the slot's channels) or a shard connection drops,
the channels are subscribed again on the slot's new owner.

``get_message`` / ``listen`` / ``run_in_thread`` read every connection (classic
and sharded) through the engine's waits: one ``_core.Subscriber`` waits for
the next reply of any of them (native ``poll()`` with the GIL released and
Ctrl-C handled, or the gevent / ``set_wait_callback`` driver, so other
greenlets run meanwhile). Messages are redis-py's dicts ``{'type',
'pattern', 'channel', 'data'}``. What to do after a connection loss or a
slot move (subscribing again, with backoff) stays here, with the
subscription state.

Threads: one thread may read (``get_message``, ``listen``, or the
``run_in_thread`` worker) while others subscribe, unsubscribe or close. The
reader holds the connections only while it waits, outside the object's lock;
another thread that needs them wakes it (``Subscriber.wake``) and waits until
it let them go (``_exclusive``); every other use of a connection happens under
the lock.
"""

import contextlib
import random
import threading
import time

from . import _core
from .commands._util import list_or_args, nativestr
from .connection import (
    ClusterConnection,
    Connection,
    SSLClusterConnection,
    SSLConnection,
    _encoder_for,
)
from .exceptions import (
    AskError,
    ClusterDownError,
    ConnectionError,
    DataError,
    MovedError,
    PubSubError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

__all__ = ["ClusterPubSub", "PubSubWorkerThread"]

_CONN_ERRORS = (ConnectionError, TimeoutError)
# first pause before retrying a lost subscription, and the longest pause
_BACKOFF_MIN = 0.05
_BACKOFF_MAX = 1.0
# MOVED replies followed at once for one shard channel before backing off
_MAX_REDIRECTS = 5
_MAIN = None  # source name of the classic connection (shard ones are 'host:port')


class ClusterPubSub:
    """Publish/subscribe on a cluster, with redis-py 3.5's ``PubSub`` API.

    Made by ``RedisCluster.pubsub(ignore_subscribe_messages=False)``; the
    constructor is redis-py's ``PubSub(connection_pool, shard_hint=None,
    ignore_subscribe_messages=False)`` (``shard_hint`` is ignored).

    A subscription that lost its connection is retried (with backoff, the
    topology refreshed) for ``reconnect_timeout`` seconds before
    ``get_message`` / ``listen`` raise ``ConnectionError``; the subscription
    state is kept and retried again afterwards.
    """

    PUBLISH_MESSAGE_TYPES = ("message", "pmessage", "smessage")
    UNSUBSCRIBE_MESSAGE_TYPES = ("unsubscribe", "punsubscribe", "sunsubscribe")
    HEALTH_CHECK_MESSAGE = "redis-py-health-check"
    #: seconds a lost subscription is retried before ConnectionError is raised
    reconnect_timeout = 30.0

    def __init__(self, connection_pool, shard_hint=None, ignore_subscribe_messages=False):
        self.connection_pool = connection_pool
        self.shard_hint = shard_hint
        self.ignore_subscribe_messages = ignore_subscribe_messages
        options = getattr(connection_pool, "connection_kwargs", None) or {}
        self.encoder = _encoder_for(options)
        self._decode = self.encoder.decode_responses
        self._encoding = self.encoder.encoding
        self._errors = self.encoder.encoding_errors
        self._health_check_interval = options.get("health_check_interval") or 0
        if self._decode:
            self.health_check_response = ["pong", self.HEALTH_CHECK_MESSAGE]
        else:
            self.health_check_response = [b"pong", self.HEALTH_CHECK_MESSAGE.encode()]
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._reading = False  # a reader waits in _sub.read(), holding the connections
        self._writers = 0  # threads that wait for it to let them go (_exclusive)
        self._sub = None  # the _core.Subscriber, made by the first read
        self._subscribed_event = threading.Event()
        self._main = None  # the classic connection (a held _core.Connection)
        self._view = None  # what ``connection`` shows of it
        self._next_health_check = 0.0
        self._shard_conns = {}
        self._reset()

    # ------------------------------------------------------------ lifecycle

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.reset()

    def __del__(self):
        try:
            self._reset()
        except Exception:
            pass

    @contextlib.contextmanager
    def _exclusive(self):
        """The object's lock, with no reader holding the connections: a
        reader waiting in another thread (or greenlet) is woken and lets them
        go first. Readers wait while a thread is in here."""
        with self._lock:
            self._writers += 1
            try:
                while self._reading:
                    self._sub.wake()
                    self._cond.wait(1.0)
                yield
            finally:
                self._writers -= 1
                if not self._writers:
                    self._cond.notify_all()

    def reset(self):
        """Close every connection and forget all subscriptions (a reader
        waiting in another thread returns)."""
        self._reset()

    def _reset(self):
        with self._exclusive():
            conns = [self._main] + list(self._shard_conns.values())
            self._main = None
            self._shard_conns = {}
            for conn in conns:
                if conn is not None:
                    conn.close()
            self.channels = {}
            self.pending_unsubscribe_channels = set()
            self.patterns = {}
            self.pending_unsubscribe_patterns = set()
            self.shard_channels = {}
            self.pending_unsubscribe_shard_channels = set()
            self._shard_node = {}  # shard channel -> name of the node it is subscribed on
            self._shard_pending = {}  # shard channels waiting to be (re)subscribed
            self._shard_redirects = {}
            self._shard_unsub_sent = {}  # (node name, channel) -> SUNSUBSCRIBEs unanswered
            self._shard_lost_at = None
            self._shard_retry_at = 0.0
            self._shard_backoff = _BACKOFF_MIN
            self._main_lost_at = None  # the classic connection dropped at ...
            self._main_retry_at = 0.0
            self._main_backoff = _BACKOFF_MIN
            self._last_error = None
            self._subscribed_event.clear()

    def close(self):
        """Same as ``reset()``: close the connections, drop the subscriptions."""
        self.reset()

    @property
    def subscribed(self):
        """Whether any channel, pattern or shard channel is subscribed."""
        return bool(self.channels or self.patterns or self.shard_channels)

    @property
    def connection(self):
        """The classic (SUBSCRIBE/PSUBSCRIBE) connection as a
        ``ClusterConnection``, or None before the first subscription and after
        ``close()``. Its ``disconnect()`` drops the connection: the next
        ``get_message``/``listen`` connects again and re-subscribes every
        channel and pattern."""
        with self._lock:
            main = self._main
            if main is None:
                return None
            if self._view is None or self._view._conn is not main:
                self._view = self._make_view(main)
            return self._view

    def _make_view(self, conn):
        """The pool's connection class (ClusterConnection or
        SSLClusterConnection) over the held connection, whose ``disconnect()``
        drops it the way a network failure would (the next read reconnects
        and subscribes again)."""
        pool = self.connection_pool
        options = dict(getattr(pool, "connection_kwargs", None) or {})
        cls = getattr(pool, "connection_class", None)
        if not (isinstance(cls, type) and issubclass(cls, Connection)):
            cls = SSLClusterConnection if options.get("ssl") else ClusterConnection
        if issubclass(cls, SSLConnection):
            options.pop("ssl", None)
        host, _, port = conn.node.rpartition(":")
        view = cls(host=host, port=int(port), **options)
        view._engine = pool
        view._conn = conn
        view._stateful = True
        view._disconnect_hook = self._view_disconnect
        try:
            view.node = pool.nodes.nodes.get(conn.node) or view.node
        except Exception:  # a pool object without a NodeManager
            pass
        return view

    def _view_disconnect(self, view):
        conn, view._conn = view._conn, None
        if conn is None:
            return
        with self._exclusive():
            if self._main is conn:
                self._main_lost(ConnectionError("Pub/Sub connection closed by disconnect()"))
            else:
                conn.close()

    def on_connect(self, connection):
        """Subscribe again to every channel and pattern recorded (what a
        reconnection does; redis-py's connect callback)."""
        with self._exclusive():
            self.pending_unsubscribe_channels.clear()
            self.pending_unsubscribe_patterns.clear()
            # (this class's methods: the asyncio subclass's are coroutines)
            if self.channels:
                ClusterPubSub.subscribe(self, **{self.encoder.decode(k, force=True): v
                                                 for k, v in self.channels.items()})
            if self.patterns:
                ClusterPubSub.psubscribe(self, **{self.encoder.decode(k, force=True): v
                                                  for k, v in self.patterns.items()})

    def check_health(self):
        """With ``health_check_interval`` (a connection option), PING the
        classic connection when the interval has passed (the reply is not
        returned as a message). RuntimeError before the first subscription."""
        if not self._has_connections():
            raise RuntimeError("pubsub connection not set: did you forget to call "
                               "subscribe() or psubscribe()?")
        interval = self._health_check_interval
        if interval and time.time() > self._next_health_check:
            self._next_health_check = time.time() + interval
            with self._exclusive():
                if self._main is not None:
                    self.execute_command("PING", self.HEALTH_CHECK_MESSAGE)

    def _update_subscribed(self):
        if self.subscribed:
            self._subscribed_event.set()
        else:
            self._subscribed_event.clear()

    # ------------------------------------------------------------ names

    def _encode(self, value):
        """A channel name as bytes, with redis-py's type rules."""
        return self.encoder.encode(value)

    def _normalize(self, name):
        """A name as the server's replies carry it: str when replies are
        decoded, else bytes (so messages find their handlers)."""
        raw = self._encode(name)
        return raw.decode(self._encoding, self._errors) if self._decode else raw

    def _normalize_keys(self, data):
        return {self._normalize(k): v for k, v in data.items()}

    @staticmethod
    def _parse_args(args, kwargs):
        if args:
            args = list_or_args(args[0], args[1:])
        new = dict.fromkeys(args)
        new.update(kwargs)
        return new

    def _slot(self, name):
        return self.connection_pool.keyslot(self._encode(name))

    # ------------------------------------------------------------ classic connection

    def _connect_main(self, hint=None):
        """(Re)connect the classic connection and subscribe everything recorded.

        The node: master of the first channel's slot, else of the first
        pattern's, else of ``hint``'s (the first argument of the command about
        to be sent), else a random master. Raises the connection error."""
        pool = self.connection_pool
        for ch in self.pending_unsubscribe_channels:
            self.channels.pop(ch, None)  # asked for; the lost connection did it
        for pat in self.pending_unsubscribe_patterns:
            self.patterns.pop(pat, None)
        self.pending_unsubscribe_channels.clear()
        self.pending_unsubscribe_patterns.clear()
        self._update_subscribed()
        if self._main_lost_at is not None:
            pool._refresh(True)
        slot = self._main_slot(hint)
        conn = None
        try:
            if slot is not None:
                conn = pool._connection(slot)
            else:
                masters = list(pool.nodes.all_masters())
                if not masters:
                    raise ConnectionError("no master known in the cluster")
                node = random.choice(masters)
                conn = pool._connection(node["host"], int(node["port"]))
            commands = []
            if self.channels:
                commands.append(("SUBSCRIBE",) + tuple(self.channels))
            if self.patterns:
                commands.append(("PSUBSCRIBE",) + tuple(self.patterns))
            if commands:
                conn.send(commands)
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self._main = conn
        self._main_lost_at = None
        self._main_backoff = _BACKOFF_MIN
        return conn

    def _main_slot(self, hint=None):
        """The slot whose master gets the classic connection (see
        ``_connect_main``), or None for a random master."""
        if self.channels:
            return self._slot(next(iter(self.channels)))
        if self.patterns:
            return self._slot(next(iter(self.patterns)))
        if hint is not None:
            return self._slot(hint)
        return None

    def _main_lost(self, exc):
        if self._main is not None:
            self._main.close()
            self._main = None
        self._last_error = exc
        if self.channels or self.patterns:
            if self._main_lost_at is None:
                self._main_lost_at = time.monotonic()
            self._main_retry_at = 0.0

    def _retry_main(self):
        if not (self.channels or self.patterns):
            self._main_lost_at = None
            return
        try:
            self._connect_main()
        except (ConnectionError, TimeoutError, SlotNotCoveredError) as e:
            self._last_error = e
            now = time.monotonic()
            self._main_retry_at = now + self._main_backoff
            self._main_backoff = min(self._main_backoff * 2, _BACKOFF_MAX)
            if now - self._main_lost_at >= self.reconnect_timeout:
                self._main_lost_at = now  # a new window for the next call
                raise ConnectionError(
                    "Pub/Sub connection lost; could not subscribe again within "
                    "%g s: %s" % (self.reconnect_timeout, e)) from e

    def execute_command(self, *args):
        """Send a (un)subscribe command on the classic connection, connecting
        it first if needed (to the master of the slot of ``args[1]``); the
        reply is read by ``get_message``."""
        with self._exclusive():
            hint = args[1] if len(args) > 1 else None
            if self._main is None:
                self._connect_main(hint)
            try:
                self._main.send([tuple(args)])
            except _CONN_ERRORS as e:
                # the connection dropped: reconnect (subscribing again what is
                # recorded) and send once more
                self._main_lost(e)
                self._connect_main(hint)
                try:
                    self._main.send([tuple(args)])
                except _CONN_ERRORS as e2:
                    self._main_lost(e2)
                    raise

    # ------------------------------------------------------------ classic commands

    def subscribe(self, *args, **kwargs):
        """Subscribe to channels; ``name=handler`` keyword arguments register a
        callable that receives the channel's messages instead of
        ``get_message``/``listen``. https://redis.io/commands/subscribe"""
        new = self._parse_args(args, kwargs)
        with self._exclusive():
            ret = self.execute_command("SUBSCRIBE", *new.keys())
            new = self._normalize_keys(new)
            self.channels.update(new)
            self.pending_unsubscribe_channels.difference_update(new)
            self._update_subscribed()
        return ret

    def unsubscribe(self, *args):
        """Unsubscribe from the channels, or from all of them if none is
        given. https://redis.io/commands/unsubscribe"""
        with self._exclusive():
            if args:
                args = list_or_args(args[0], args[1:])
                names = [self._normalize(a) for a in args]
            else:
                names = list(self.channels)
            self.pending_unsubscribe_channels.update(names)
            return self.execute_command("UNSUBSCRIBE", *args)

    def psubscribe(self, *args, **kwargs):
        """Subscribe to glob-style patterns; ``pattern=handler`` keyword
        arguments register a handler. The connection goes to the master of
        the first pattern's slot when no channel is subscribed.
        https://redis.io/commands/psubscribe"""
        new = self._parse_args(args, kwargs)
        with self._exclusive():
            ret = self.execute_command("PSUBSCRIBE", *new.keys())
            new = self._normalize_keys(new)
            self.patterns.update(new)
            self.pending_unsubscribe_patterns.difference_update(new)
            self._update_subscribed()
        return ret

    def punsubscribe(self, *args):
        """Unsubscribe from the patterns, or from all of them if none is given.
        https://redis.io/commands/punsubscribe"""
        with self._exclusive():
            if args:
                args = list_or_args(args[0], args[1:])
                names = [self._normalize(a) for a in args]
            else:
                names = list(self.patterns)
            self.pending_unsubscribe_patterns.update(names)
            return self.execute_command("PUNSUBSCRIBE", *args)

    def ping(self, message=None):
        """Send PING on the classic connection; the reply comes back as a
        message of type ``pong``. https://redis.io/commands/ping"""
        args = ("PING",) if message is None else ("PING", message)
        return self.execute_command(*args)

    # ------------------------------------------------------------ sharded

    def _shard_conn_lost(self, name, exc):
        conn = self._shard_conns.pop(name, None)
        if conn is not None:
            conn.close()
        for key in [k for k in self._shard_unsub_sent if k[0] == name]:
            del self._shard_unsub_sent[key]
        self._last_error = exc
        for ch in [c for c, n in self._shard_node.items() if n == name]:
            del self._shard_node[ch]
            if ch in self.pending_unsubscribe_shard_channels:
                # the user unsubscribed; the lost connection did it
                self.pending_unsubscribe_shard_channels.discard(ch)
                self.shard_channels.pop(ch, None)
            elif ch in self.shard_channels:
                self._shard_pending[ch] = None
        self._update_subscribed()
        if self._shard_pending:
            if self._shard_lost_at is None:
                self._shard_lost_at = time.monotonic()
            self._shard_retry_at = 0.0

    def _close_if_idle(self, name):
        """Close the connection to node ``name`` once no shard channel is
        subscribed (or being subscribed) on it."""
        if name not in self._shard_node.values():
            conn = self._shard_conns.pop(name, None)
            if conn is not None:
                conn.close()

    def _place_shards(self, channels):
        """SSUBSCRIBE ``channels`` on the masters of their slots, one command
        per slot, one connection per node. Channels that could not be sent
        wait in ``_shard_pending``; returns the first connection error."""
        pool = self.connection_pool
        groups = {}
        first_error = None
        for ch in channels:
            self._shard_pending.pop(ch, None)
            slot = self._slot(ch)
            try:
                node = pool.get_master_node_by_slot(slot)
            except SlotNotCoveredError as e:
                self._shard_pending[ch] = None
                first_error = first_error or e
                continue
            key = (node["name"], node["host"], int(node["port"]), slot)
            groups.setdefault(key, []).append(ch)
        for (name, host, port, _slot), chs in groups.items():
            conn = self._shard_conns.get(name)
            try:
                if conn is None:
                    conn = pool._connection(host, port)
                    self._shard_conns[name] = conn
                conn.send([("SSUBSCRIBE",) + tuple(chs)])
            except _CONN_ERRORS as e:
                self._shard_conn_lost(name, e)
                for ch in chs:
                    self._shard_pending[ch] = None
                first_error = first_error or e
                continue
            moved_from = set()
            for ch in chs:
                old = self._shard_node.get(ch)
                if old is not None and old != name:
                    moved_from.add(old)
                self._shard_node[ch] = name
            for old in moved_from:
                self._close_if_idle(old)
        if self._shard_pending and self._shard_lost_at is None:
            self._shard_lost_at = time.monotonic()
        return first_error

    def _retry_shards(self):
        self.connection_pool._refresh(True)
        channels = [ch for ch in self._shard_pending if ch in self.shard_channels]
        self._shard_pending = {}
        error = self._place_shards(channels)
        now = time.monotonic()
        if not self._shard_pending:
            self._shard_lost_at = None
            self._shard_backoff = _BACKOFF_MIN
            return
        self._shard_retry_at = now + self._shard_backoff
        self._shard_backoff = min(self._shard_backoff * 2, _BACKOFF_MAX)
        if error is not None:
            self._last_error = error
        if now - self._shard_lost_at >= self.reconnect_timeout:
            self._shard_lost_at = now
            raise ConnectionError(
                "Sharded Pub/Sub: could not subscribe %d shard channel(s) again "
                "within %g s: %s" % (len(self._shard_pending), self.reconnect_timeout,
                                       self._last_error))

    def _shard_later(self, channels):
        for ch in channels:
            self._shard_pending[ch] = None
        if self._shard_lost_at is None:
            self._shard_lost_at = time.monotonic()
        self._shard_retry_at = min(self._shard_retry_at or float("inf"),
                                   time.monotonic() + self._shard_backoff)

    def ssubscribe(self, *args, **kwargs):
        """Subscribe to shard channels (Redis 7), each on the master owning its
        slot; ``name=handler`` keyword arguments register a handler. Messages
        have type ``smessage``. https://redis.io/commands/ssubscribe"""
        new = self._normalize_keys(self._parse_args(args, kwargs))
        with self._exclusive():
            fresh = [ch for ch in new if ch not in self.shard_channels]
            self.shard_channels.update(new)
            self.pending_unsubscribe_shard_channels.difference_update(new)
            for ch in new:
                self._shard_redirects.pop(ch, None)
            error = self._place_shards(list(new))
            failed = [ch for ch in new if ch in self._shard_pending]
            if failed and isinstance(error, _CONN_ERRORS):
                for ch in fresh:  # as with subscribe(): not recorded when not sent
                    if ch in self._shard_pending:
                        self._shard_pending.pop(ch)
                        self.shard_channels.pop(ch, None)
                if not self._shard_pending:
                    self._shard_lost_at = None
                self._update_subscribed()
                raise error
            self._update_subscribed()

    def sunsubscribe(self, *args):
        """Unsubscribe from the shard channels, or from all of them if none is
        given. https://redis.io/commands/sunsubscribe"""
        with self._exclusive():
            if args:
                args = list_or_args(args[0], args[1:])
                names = [self._normalize(a) for a in args]
            else:
                names = list(self.shard_channels)
            groups = {}
            for ch in names:
                name = self._shard_node.get(ch)
                if name is None or name not in self._shard_conns:
                    # not subscribed anywhere right now: forget it at once
                    self._shard_pending.pop(ch, None)
                    self.shard_channels.pop(ch, None)
                    continue
                self.pending_unsubscribe_shard_channels.add(ch)
                groups.setdefault((name, self._slot(ch)), []).append(ch)
            for (name, _slot), chs in groups.items():
                conn = self._shard_conns.get(name)
                if conn is None:
                    continue  # lost just now: its channels are gone already
                try:
                    conn.send([("SUNSUBSCRIBE",) + tuple(chs)])
                except _CONN_ERRORS as e:
                    self._shard_conn_lost(name, e)
                    continue
                for ch in chs:
                    key = (name, ch)
                    self._shard_unsub_sent[key] = self._shard_unsub_sent.get(key, 0) + 1
            if not self._shard_pending:
                self._shard_lost_at = None
            self._update_subscribed()

    def _shard_redirect(self, name, err):
        """An error reply on a shard connection: MOVED/ASK/TRYAGAIN/CLUSTERDOWN
        for an SSUBSCRIBE or SUNSUBSCRIBE. The slot's channels go elsewhere."""
        slot = getattr(err, "slot_id", None)
        for key in [k for k in self._shard_unsub_sent
                    if k[0] == name and (slot is None or self._slot(k[1]) == slot)]:
            del self._shard_unsub_sent[key]
        chs = [c for c, n in self._shard_node.items()
               if n == name and (slot is None or self._slot(c) == slot)]
        if isinstance(err, MovedError) and slot is not None:
            self.connection_pool._patch_slot(slot, err.host, int(err.port))
        elif not isinstance(err, AskError):
            self.connection_pool._refresh(True)
        now_, later = [], []
        for ch in chs:
            del self._shard_node[ch]
            if ch in self.pending_unsubscribe_shard_channels or ch not in self.shard_channels:
                self.pending_unsubscribe_shard_channels.discard(ch)
                self.shard_channels.pop(ch, None)
                continue
            count = self._shard_redirects.get(ch, 0) + 1
            self._shard_redirects[ch] = count
            if isinstance(err, MovedError) and count <= _MAX_REDIRECTS:
                now_.append(ch)
            else:
                later.append(ch)
        self._update_subscribed()
        self._close_if_idle(name)
        if later:
            self._shard_later(later)
        if now_:
            self._place_shards(now_)

    # ------------------------------------------------------------ reading

    def _sources(self):
        out = []
        if self._main is not None:
            out.append((_MAIN, self._main))
        out.extend(self._shard_conns.items())
        return out

    def _next_due(self):
        due = None
        if self._main_lost_at is not None:
            due = self._main_retry_at
        if self._shard_pending:
            due = self._shard_retry_at if due is None else min(due, self._shard_retry_at)
        return due

    def _retries_due(self):
        """(classic, sharded): whether each retry is due now."""
        now = time.monotonic()
        return (self._main_lost_at is not None and now >= self._main_retry_at,
                bool(self._shard_pending) and now >= self._shard_retry_at)

    def _run_retries(self):
        main, shards = self._retries_due()
        if main:
            self._retry_main()
        if shards:
            self._retry_shards()

    def _lost(self, name, exc):
        if name is _MAIN:
            self._main_lost(exc)
        else:
            self._shard_conn_lost(name, exc)
            self.connection_pool._refresh(True)

    def _on_reply(self, name, reply):
        """Engine-side handling of one raw reply; returns what handle_message
        should see, or None when the reply was consumed here."""
        if isinstance(reply, Exception):
            if name is not _MAIN and isinstance(
                    reply, (AskError, TryAgainError, ClusterDownError)):
                self._shard_redirect(name, reply)
                return None
            raise reply
        if name is _MAIN or not isinstance(reply, list) or len(reply) < 2:
            return reply
        kind = nativestr(reply[0])
        ch = reply[1]
        if kind == "ssubscribe":
            if self._shard_node.get(ch) == name:
                self._shard_redirects.pop(ch, None)
            return reply
        if kind != "sunsubscribe" or ch is None:
            return reply
        key = (name, ch)
        sent = self._shard_unsub_sent.get(key, 0)
        if sent:
            # the answer to our SUNSUBSCRIBE (replies come in order)
            if sent > 1:
                self._shard_unsub_sent[key] = sent - 1
            else:
                del self._shard_unsub_sent[key]
            leaving = (ch in self.pending_unsubscribe_shard_channels
                       or ch not in self.shard_channels)
            if leaving and self._shard_node.get(ch) == name:
                del self._shard_node[ch]
                self._close_if_idle(name)
            # (not leaving: subscribed again since; that SSUBSCRIBE follows)
            return reply
        if self._shard_node.get(ch) != name:
            return None  # from a node the channel has left already
        del self._shard_node[ch]
        self._close_if_idle(name)
        if ch in self.pending_unsubscribe_shard_channels or ch not in self.shard_channels:
            return reply
        # pushed by the server: it moved the slot away; subscribe again on the
        # new owner (a stale map answers MOVED, which is followed)
        self.connection_pool._refresh(True)
        self._place_shards([ch])
        return reply

    def _read_plan(self, deadline):
        """Under the lock, no other reader: run the retries that are due;
        (sources, wait) -- the connections to read and how long to wait
        (None: no limit) -- or None when there is nothing to wait for."""
        self._run_retries()
        sources = [(name, conn) for name, conn in self._sources() if conn.open]
        due = self._next_due()
        now = time.monotonic()
        if not sources and due is None and not self.subscribed:
            return None
        wait = None if deadline is None else max(0.0, deadline - now)
        if due is not None:
            until = max(0.0, due - now)
            wait = until if wait is None else min(wait, until)
        if self._sub is None:
            self._sub = _core.Subscriber(self.connection_pool)
        return sources, wait

    def _read_got(self, sources, got):
        """Under the lock: what handle_message should see of the reply
        ``got`` (connection, reply) of ``sources``, or None when it was
        consumed here (a lost connection, a slot move, a stale source)."""
        conn, reply = got
        name = next(n for n, c in sources if c is conn)
        if conn is not (self._main if name is _MAIN else self._shard_conns.get(name)):
            return None  # replaced meanwhile: reset(), a disconnect()
        if not conn.open:  # it failed; reply is its error
            self._lost(name, reply)
            return None
        return self._on_reply(name, reply)

    def _read_reply(self, timeout):
        """The next reply of any connection, waiting up to ``timeout`` seconds
        (None: as long as it takes); None if there was none."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            with self._lock:
                # another reader first, and threads about to use the connections
                while self._reading or self._writers:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    self._cond.wait(left)
                plan = self._read_plan(deadline)
                if plan is None:
                    return None
                sources, wait = plan
                sub = self._sub
                self._reading = True
            try:
                got = sub.read([conn for _, conn in sources], wait)
            finally:
                with self._lock:
                    self._reading = False
                    self._cond.notify_all()
            if got is not None:
                with self._lock:
                    response = self._read_got(sources, got)
                if response is not None:
                    return response
            elif deadline is not None and time.monotonic() >= deadline:
                return None

    def parse_response(self, block=True, timeout=0):
        """The next raw reply (list) of any connection; None if none came
        within ``timeout`` seconds (``block=True``: wait as long as it takes)."""
        with self._lock:
            if (self._main is None and not self._shard_conns
                    and self._main_lost_at is None and not self._shard_pending):
                raise RuntimeError(
                    "pubsub connection not set: did you forget to call subscribe() "
                    "or psubscribe()?")
        self.check_health()
        response = self._read_reply(None if block else timeout)
        if self._health_check_interval and response == self.health_check_response:
            return None  # our own health check's reply
        return response

    def handle_message(self, response, ignore_subscribe_messages=False):
        """Turn a raw reply into redis-py's message dict, updating the
        subscription state for (un)subscribe confirmations. A message of a
        channel or pattern with a handler goes to the handler (None is
        returned)."""
        message, handler = self._message_of(response, ignore_subscribe_messages)
        if handler:
            handler(message)
            return None
        return message

    def _message_of(self, response, ignore_subscribe_messages):
        """(message, handler) for a raw reply: the message dict (None when
        it is to be ignored) and the handler that takes it, or None."""
        if response is None:
            return None, None
        if not isinstance(response, list):
            # PING's reply when nothing is subscribed
            if nativestr(response) == "PONG":
                response = [b"pong", b"" if isinstance(response, bytes) else ""]
            else:
                response = [b"pong", response]
        message_type = nativestr(response[0])
        if message_type == "pmessage":
            message = {"type": message_type, "pattern": response[1],
                       "channel": response[2], "data": response[3]}
        elif message_type == "pong":
            message = {"type": message_type, "pattern": None, "channel": None,
                       "data": response[1]}
        else:
            message = {"type": message_type, "pattern": None,
                       "channel": response[1], "data": response[2]}
        handler = None
        with self._lock:
            if message_type in self.UNSUBSCRIBE_MESSAGE_TYPES:
                name = response[1]
                if message_type == "punsubscribe":
                    pending, subs = self.pending_unsubscribe_patterns, self.patterns
                elif message_type == "sunsubscribe":
                    pending, subs = self.pending_unsubscribe_shard_channels, self.shard_channels
                else:
                    pending, subs = self.pending_unsubscribe_channels, self.channels
                if name in pending:
                    pending.discard(name)
                    subs.pop(name, None)
                    self._update_subscribed()
            if message_type in self.PUBLISH_MESSAGE_TYPES:
                if message_type == "pmessage":
                    handler = self.patterns.get(message["pattern"])
                elif message_type == "smessage":
                    handler = self.shard_channels.get(message["channel"])
                else:
                    handler = self.channels.get(message["channel"])
            elif message_type != "pong":
                if ignore_subscribe_messages or self.ignore_subscribe_messages:
                    return None, None
        return message, handler

    def get_message(self, ignore_subscribe_messages=False, timeout=0.0):
        """The next message, or None if none arrived within ``timeout``
        seconds (None: wait as long as it takes). Reads the classic and the
        sharded connections; reconnects and subscribes again after a
        connection loss. RuntimeError before the first subscription (as
        redis-py 3.5)."""
        response = self.parse_response(block=(timeout is None), timeout=timeout)
        if response is not None:
            return self.handle_message(response, ignore_subscribe_messages)
        return None

    def get_sharded_message(self, ignore_subscribe_messages=False, timeout=0.0,
                            target_node=None):
        """Current redis-py's name for reading shard channel messages; the
        same as ``get_message`` here (all connections are read;
        ``target_node`` is accepted and ignored)."""
        return self.get_message(ignore_subscribe_messages, timeout)

    def _has_connections(self):
        with self._lock:
            return bool(self._main is not None or self._shard_conns
                        or self._main_lost_at is not None or self._shard_pending)

    def listen(self):
        """Yield messages while anything is subscribed (blocking)."""
        while self.subscribed:
            response = self.handle_message(self.parse_response(block=True))
            if response is not None:
                yield response

    def run_in_thread(self, sleep_time=0.0, daemon=False, exception_handler=None,
                      pubsub=None, sharded_pubsub=False):
        """Start a ``PubSubWorkerThread`` calling ``get_message`` in a loop;
        every subscription must have a handler. ``exception_handler(e, pubsub,
        thread)`` receives the loop's exceptions (else they end the thread)."""
        with self._lock:
            for kind, subs in (("Channel", self.channels), ("Pattern", self.patterns),
                               ("Shard Channel", self.shard_channels)):
                for name, handler in subs.items():
                    if handler is None:
                        raise PubSubError("%s: '%s' has no handler registered"
                                          % (kind, nativestr(name)))
        thread = PubSubWorkerThread(self if pubsub is None else pubsub, sleep_time,
                                    daemon=daemon, exception_handler=exception_handler,
                                    sharded_pubsub=sharded_pubsub)
        thread.start()
        return thread


class PubSubWorkerThread(threading.Thread):
    """Runs ``pubsub.get_message(ignore_subscribe_messages=True,
    timeout=sleep_time)`` until ``stop()``; then closes the pubsub."""

    def __init__(self, pubsub, sleep_time, daemon=False, exception_handler=None,
                 sharded_pubsub=False):
        super().__init__()
        self.daemon = daemon
        self.pubsub = pubsub
        self.sleep_time = sleep_time
        self.exception_handler = exception_handler
        self.sharded_pubsub = sharded_pubsub
        self._running = threading.Event()

    def run(self):
        if self._running.is_set():
            return
        self._running.set()
        pubsub = self.pubsub
        read = pubsub.get_sharded_message if self.sharded_pubsub else pubsub.get_message
        while self._running.is_set():
            try:
                read(ignore_subscribe_messages=True, timeout=self.sleep_time)
            except BaseException as e:
                if self.exception_handler is None:
                    raise
                self.exception_handler(e, pubsub, self)
        pubsub.close()

    def stop(self):
        """Ask the loop to end; it closes the pubsub when it does."""
        self._running.clear()
