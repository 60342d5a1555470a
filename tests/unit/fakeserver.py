"""A tiny scripted fake Redis Cluster node for unit tests (no real server).

``FakeNode()`` listens on 127.0.0.1 with an ephemeral port and serves each
connection in a thread. It answers ``CLUSTER SLOTS`` with a one-node topology
covering every slot (pointing at itself, or at ``slots_owner``), ``CONFIG GET``
with ``cluster-require-full-coverage no``, and a few harmless commands
(PING, ASKING, READONLY, ...). Any other command follows the script::

    node = FakeNode()
    node.on("GET", reply(b"$3\\r\\nbar\\r\\n"))          # the next GET only
    node.on("GET", stall(b"$100\\r\\nab"), forever=True)  # every GET from now on
    node.on("SET", close())                             # read the SET, hang up

Actions (each a callable ``action(conn) -> bool``, False to close the connection):
``reply(raw)``, ``trickle(raw)`` (one byte per packet), ``close(raw=b"")``
(send raw, then close), ``stall(raw=b"")`` (send raw, then never answer again),
``reply_later(first, later, delay)``. Unscripted commands get a default
(GET ``$-1``, SET ``+OK``, others ``-ERR unknown command``).

Every command received is logged in ``node.commands`` (tuples of bytes, the name
upper-cased); ``node.count("SET")`` counts them. ``node.stop()`` closes the
listener and every connection and joins every thread; it is idempotent, and a
watchdog calls it after ``max_life`` seconds so a hung test cannot hang forever.
"""

import collections
import contextlib
import socket
import threading
import time

__all__ = [
    "FakeNode",
    "bulk",
    "close",
    "free_port",
    "reply",
    "reply_later",
    "stall",
    "trickle",
]

_POLL = 0.02  # seconds between checks of the stop flag in blocking calls


def bulk(value):
    """RESP bulk string for bytes/str (None: the null bulk)."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, str):
        value = value.encode()
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _encode(obj):
    if obj is None:
        return b"$-1\r\n"
    if isinstance(obj, int):
        return b":%d\r\n" % obj
    if isinstance(obj, (bytes, str)):
        return bulk(obj)
    return b"*%d\r\n" % len(obj) + b"".join(_encode(o) for o in obj)


def free_port():
    """A local TCP port nothing listens on (bound then released: racy, but fine here)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ actions


def reply(raw):
    """Send raw bytes, keep the connection."""

    def act(conn):
        conn.send(raw)
        return True

    act.__name__ = "reply(%r)" % raw[:40]
    return act


def trickle(raw, delay=0.002):
    """Send raw one byte per packet (TCP_NODELAY, a short pause between bytes)."""

    def act(conn):
        for i in range(len(raw)):
            if not conn.send(raw[i : i + 1]):
                return False
            conn.node._stopping.wait(delay)
        return True

    return act


def close(raw=b""):
    """Send raw (maybe a partial reply), then close the connection."""

    def act(conn):
        if raw:
            conn.send(raw)
        return False

    return act


def stall(raw=b""):
    """Send raw, then never answer on this connection again (until stop)."""

    def act(conn):
        if raw:
            conn.send(raw)
        conn.node._stopping.wait()
        return False

    return act


def reply_later(first, later, delay=0.05):
    """Send `first`, then `later` as a separate packet after `delay` seconds,
    without waiting for another command (an unsolicited reply)."""

    def act(conn):
        conn.send(first)

        def send_later():
            if not conn.node._stopping.wait(delay):
                conn.send(later)

        conn.node._spawn(send_later)
        return True

    return act


# ------------------------------------------------------------------ server


class _Conn:
    def __init__(self, node, sock):
        self.node = node
        self.sock = sock
        self.lock = threading.Lock()
        self.closed = False

    def send(self, data):
        with self.lock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def shutdown(self):
        """Wake the serving thread (which closes the socket itself)."""
        with self.lock:
            if not self.closed:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        """Close the socket; only the thread serving this connection calls it."""
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    self.sock.close()
                except OSError:
                    pass


class _RequestParser:
    """Incremental parser of client requests (RESP arrays of bulk strings)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data

    def _line(self, pos):
        end = self.buf.find(b"\r\n", pos)
        if end < 0:
            return None, pos
        return self.buf[pos:end], end + 2

    def next(self):
        """A complete command as a tuple of bytes, None if incomplete.
        Raises ValueError on bytes that are not a RESP request."""
        if not self.buf:
            return None
        if self.buf[:1] != b"*":
            line, pos = self._line(0)  # an inline command
            if line is None:
                return None
            self.buf = self.buf[pos:]
            return tuple(line.split())
        line, pos = self._line(0)
        if line is None:
            return None
        n = int(line[1:])
        args = []
        for _ in range(n):
            line, pos = self._line(pos)
            if line is None:
                return None
            if line[:1] != b"$":
                raise ValueError("expected a bulk string, got %r" % line)
            size = int(line[1:])
            if len(self.buf) < pos + size + 2:
                return None
            args.append(self.buf[pos : pos + size])
            pos += size + 2
        self.buf = self.buf[pos:]
        return tuple(args)


class FakeNode:
    """One scripted fake cluster node on 127.0.0.1 (see the module docstring)."""

    def __init__(self, slots_owner=None, max_life=30.0):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(_POLL)
        self.host = "127.0.0.1"
        self.port = self._listener.getsockname()[1]
        self.slots_owner = (
            slots_owner  # (host, port) named by CLUSTER SLOTS; None: self
        )
        self.commands = []
        self.connections = 0
        self._scripts = {}
        self._forever = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns = []
        self._threads = []
        self._spawn(self._accept_loop)
        self._watchdog = threading.Timer(max_life, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()

    # -------------------------------------------------------------- scripting

    def on(self, name, *actions, forever=False):
        """Queue actions for command `name` (e.g. "GET", "CLUSTER SLOTS"); with
        forever=True the last one repeats once the others are used."""
        key = name.upper()
        with self._lock:
            self._scripts.setdefault(key, collections.deque()).extend(actions)
            if forever and actions:
                self._forever[key] = actions[-1]
                self._scripts[key].pop()

    def count(self, name):
        words = name.upper().split()
        return sum(
            1
            for c in list(self.commands)
            if list(c[: len(words)]) == [w.encode() for w in words]
        )

    def names(self):
        return [c[0].decode() for c in list(self.commands)]

    def _next_action(self, args):
        name = args[0].upper().decode("utf-8", "replace")
        two = (
            name + " " + args[1].upper().decode("utf-8", "replace")
            if len(args) > 1
            else None
        )
        with self._lock:
            for key in (two, name):
                if key is None:
                    continue
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
                if key in self._forever:
                    return self._forever[key]
        return self._default(name, two, args)

    def _default(self, name, two, args):
        if two == "CLUSTER SLOTS":
            host, port = self.slots_owner or (self.host, self.port)
            return reply(
                _encode([[0, 16383, [host, port, "fake-node-%d" % self.port]]])
            )
        if two == "CONFIG GET":
            return reply(_encode(["cluster-require-full-coverage", "no"]))
        if name == "PING":
            return reply(b"+PONG\r\n")
        if name in (
            "ASKING",
            "READONLY",
            "READWRITE",
            "CLIENT",
            "AUTH",
            "SELECT",
            "SET",
        ):
            return reply(b"+OK\r\n")
        if name == "GET":
            return reply(b"$-1\r\n")
        return reply(b"-ERR unknown command '%s'\r\n" % args[0])

    # -------------------------------------------------------------- threads

    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(_POLL)
            conn = _Conn(self, sock)
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self._conns = [c for c in self._conns if not c.closed]
                self._conns.append(conn)
                self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, conn):
        parser = _RequestParser()
        try:
            while not self._stopping.is_set() and not conn.closed:
                try:
                    data = conn.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                parser.feed(data)
                while True:
                    try:
                        args = parser.next()
                    except ValueError:
                        return
                    if not args:
                        break
                    self.commands.append((args[0].upper(),) + args[1:])
                    if not self._next_action(args)(conn):
                        return
        finally:
            conn.close()

    def stop(self):
        """Close everything and join every thread (idempotent)."""
        self._stopping.set()
        self._watchdog.cancel()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.shutdown()
        try:
            self._listener.close()
        except OSError:
            pass
        current = threading.current_thread()
        if self._watchdog is not current:
            self._watchdog.join(5)
        deadline = time.monotonic() + 5
        while True:
            with self._lock:
                threads = [
                    t for t in self._threads if t is not current and t.is_alive()
                ]
            if not threads:
                break
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                break
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]

    def alive_threads(self):
        """Threads of this node still running (the watchdog included)."""
        with self._lock:
            threads = [t for t in self._threads if t.is_alive()]
        if (
            self._watchdog.is_alive()
            and self._watchdog is not threading.current_thread()
        ):
            threads.append(self._watchdog)
        return threads

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return "FakeNode<127.0.0.1:%d>" % self.port


@contextlib.contextmanager
def node_factory():
    """make(**kwargs) -> a new FakeNode (at most 25 s of life); on leaving,
    every node made is stopped and its threads joined, and no thread started
    meanwhile is left running."""
    made = []
    before = set(threading.enumerate())

    def make(**kwargs):
        node = FakeNode(max_life=25.0, **kwargs)
        made.append(node)
        return node

    try:
        yield make
    finally:
        for node in made:
            node.stop()
    for node in made:
        assert node.alive_threads() == [], node
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
