"""A small blocking RESP2 client for the tooling: scripts/cluster.py,
tools/gen_cmdtable.py, benchmarks/compare.py and the test fixtures.

Python 3 standard library only, one connection per ``Conn``, one command at
a time (``pipe`` sends several at once). It exists so that the scripts and
the checks of the tests do not depend on the client under test.

    from _resp import Conn, RespError
    with Conn("127.0.0.1", 7000) as c:
        c.call("SET", "k", 1)            # b"OK"
        c.call("GET", "k")               # b"1"
        c.pipe([("GET", "k"), ("X",)])   # [b"1", RespError("ERR unknown command ...")]

Replies: simple and bulk strings as bytes (str with ``decode=True``),
integers as int, arrays as lists, nil as None. Error replies: ``call`` and
``read`` raise ``RespError`` (its text is the server's message); ``pipe`` and
``read_reply`` return the ``RespError`` instance in place. RESP3 types are not
understood: the connection stays on RESP2 (no HELLO 3).

Import from outside scripts/: ``sys.path.insert(0, "<root>/scripts")``.
"""

from __future__ import annotations

import socket

__all__ = ["RespError", "Conn", "encode", "parse_info"]


class RespError(Exception):
    """An error reply (-ERR ...): ``str(e)`` is the server's text."""


def _arg(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)):
        return repr(value).encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("cannot send a %s as a RESP argument" % type(value).__name__)


def encode(*args) -> bytes:
    """One command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in map(_arg, args):
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse_info(text) -> dict:
    """INFO text -> {field: value} (str), section headers skipped."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


class Conn:
    """One blocking connection.

    host/port (TCP, TCP_NODELAY), or unix=PATH; ssl_context wraps the socket
    (server_hostname defaults to host); password (and username) send AUTH
    first; decode=True returns strings as str."""

    def __init__(self, host: str = "127.0.0.1", port: int = 6379, timeout: float = 5.0, *,
                 unix: str | None = None, ssl_context=None, server_hostname: str | None = None,
                 password: str | None = None, username: str | None = None,
                 decode: bool = False) -> None:
        self.host, self.port, self.decode = host, port, decode
        self.where = unix if unix else "%s:%d" % (host, port)
        if unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(unix)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if not unix:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.f = sock.makefile("rb")
        if password is not None:
            try:
                if username is not None:
                    self.call("AUTH", username, password)
                else:
                    self.call("AUTH", password)
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.f.close()
        finally:
            self.sock.close()

    def send(self, *args) -> None:
        self.sock.sendall(encode(*args))

    def read(self):
        """The next reply; an error reply raises RespError."""
        reply = self.read_reply()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def call(self, *args):
        """Send one command, return its reply (an error reply raises)."""
        self.send(*args)
        return self.read()

    def pipe(self, commands, chunk: int = 1000) -> list:
        """Send the commands (sequences of arguments) in chunks, return their
        replies in order with errors in place (RespError instances)."""
        commands = list(commands)
        out = []
        for i in range(0, len(commands), chunk):
            part = commands[i:i + chunk]
            self.sock.sendall(b"".join(encode(*c) for c in part))
            out.extend(self.read_reply() for _ in part)
        return out

    def _str(self, data: bytes):
        return data.decode(errors="replace") if self.decode else data

    def read_reply(self):
        """The next reply, an error reply as a RespError instance."""
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection to %s closed" % self.where)
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return self._str(rest)
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.f.read(size + 2)
            if len(data) != size + 2:
                raise ConnectionError("connection to %s closed mid-reply" % self.where)
            return self._str(data[:-2])
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self.read_reply() for _ in range(size)]
        raise ConnectionError("unexpected RESP type %r from %s" % (kind, self.where))
