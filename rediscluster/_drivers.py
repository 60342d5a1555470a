"""How synchronous clients wait: the engine's drivers (csrc/drive.c).

The C engine never waits itself: each operation says what it waits for (some
sockets to become readable or writable, a deadline) and a *driver* waits.

* The native driver (the default) waits in C with ``poll()`` and the GIL
  released -- other threads run meanwhile -- and returns to run signal
  handlers (Ctrl-C) at least every 0.1 s.
* The gevent driver hands each wait to the gevent hub, so other greenlets run
  while a command waits. It is chosen automatically when gevent has patched
  the process (``gevent.monkey.patch_all()``) at the time a client or pool is
  made; ``io="gevent"`` or ``io="native"`` choose explicitly.
* :func:`set_wait_callback` installs any other wait function (eventlet, a
  custom loop), in the spirit of psycopg2's ``set_wait_callback``.

A wait function is called as ``fn(fds, timeout)``: ``fds`` is a list of
``(fd, events)`` pairs (``select.POLLIN`` / ``select.POLLOUT`` bits), an empty
list meaning "just sleep"; ``timeout`` is in seconds, or None for no limit. It
returns an iterable of ``(fd, revents)`` for the sockets that are ready (an
empty one when the timeout passed). Reporting a socket ready that is not is
harmless (the engine's calls never block); missing one only delays until the
timeout. A wait function may also have an attribute ``wait_one(fd, events,
timeout) -> revents`` (an int, 0 after the timeout): the engine calls it
instead for a wait on exactly one socket, the usual case; and an attribute
``idle_fd() -> int``: when the framework has nothing else to run right now, a
file descriptor that becomes readable as soon as it has (its poller's, e.g.
an epoll fd), else -1. With it, a client's ``busy_poll`` applies: before a
one-socket wait, the engine polls the socket and that descriptor without
sleeping for up to ``busy_poll`` microseconds, and calls ``wait_one`` only if
the socket is not ready by then or the framework has work.
"""

import select
import sys

from . import _core

__all__ = ["set_wait_callback", "get_wait_callback", "gevent_wait", "wait_callback_for"]

_IO_CHOICES = (None, "native", "gevent")


def set_wait_callback(fn):
    """Make every synchronous client wait with ``fn(fds, timeout)`` (see the
    module docstring), or with the native driver again when ``fn`` is None.
    Clients made with ``io="native"`` or ``io="gevent"`` keep their own."""
    _core.set_wait_callback(fn)


def get_wait_callback():
    """The function :func:`set_wait_callback` installed, or None."""
    return _core.get_wait_callback()


def gevent_patched():
    """True if gevent has monkey-patched sockets or select in this process
    (looked up without importing gevent)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None:
        return False
    try:
        return bool(monkey.is_module_patched("socket") or monkey.is_module_patched("select"))
    except Exception:  # a very old or broken gevent
        return False


# With busy polling, a wait goes to the hub at least this often (seconds).
HUB_TURN_S = 0.001


class _TimedOut(Exception):
    """The single-socket gevent wait's timeout (never leaves this module)."""


def _gevent_wait_function():
    from gevent import get_hub, sleep  # type: ignore[import-untyped]
    from gevent.select import poll as gpoll  # type: ignore[import-untyped]
    from gevent.socket import wait as gwait  # type: ignore[import-untyped]

    from time import monotonic

    POLLIN, POLLOUT = select.POLLIN, select.POLLOUT
    READ, WRITE = 1, 2  # the hub loop's io watcher events (libev and libuv)

    def wait_one(fd, events, timeout):
        """The usual case (one command, one socket): one io watcher on the
        hub, no poll object. Returns the events asked for once the socket is
        ready for some of them (the engine's calls never block on the rest),
        0 after the timeout."""
        hub = get_hub()
        watcher = hub.loop.io(fd, (READ if events & POLLIN else 0) |
                              (WRITE if events & POLLOUT else 0))
        try:
            if timeout is None:
                hub.wait(watcher)
            else:
                gwait(watcher, timeout, _TimedOut, hub)
        except _TimedOut:
            return 0
        finally:
            watcher.close()
        return events

    def gevent_wait(fds, timeout):
        """Wait on the gevent hub (other greenlets run meanwhile)."""
        if not fds:
            sleep(timeout if timeout else 0)
            return ()
        if len(fds) == 1:
            fd, events = fds[0]
            return ((fd, events),) if wait_one(fd, events, timeout) else ()
        p = gpoll()
        for fd, events in fds:
            p.register(fd, events & (POLLIN | POLLOUT))
        return p.poll(None if timeout is None else timeout * 1000.0)

    seen = [None, 0.0]  # the loop's turn (see loop_turn) last seen, and when

    def loop_turn(loop):
        """A value that changes each time the loop runs: its iteration count
        (libev), or its cached time (libuv has no count: -1)."""
        it = loop.iteration
        return it if it >= 0 else loop.now()

    def idle_fd():
        """The hub loop's poller fd while the hub has nothing to run (no
        callbacks queued, no events pending) and ran less than
        HUB_TURN_S ago, else -1: the engine may then busy-poll a socket, and
        stops as soon as the loop's fd is readable. (A reply that comes while
        polling needs no hub; the time limit makes every so often a wait go
        to the hub anyway, so that its timers run.)"""
        loop = get_hub().loop
        if loop.pendingcnt or len(loop._callbacks):
            return -1
        it = loop_turn(loop)
        now = monotonic()
        if it != seen[0]:
            seen[0] = it
            seen[1] = now
        elif now - seen[1] > HUB_TURN_S:
            return -1
        return loop.fileno()

    setattr(gevent_wait, "wait_one", wait_one)  # (typed Any or a function: either way)
    try:  # (private API of gevent's loops: without it, no busy polling)
        loop = get_hub().loop
        if (isinstance(loop.pendingcnt, int) and isinstance(loop_turn(loop), (int, float)) and
                len(loop._callbacks) >= 0 and loop.fileno() >= 0):
            setattr(gevent_wait, "idle_fd", idle_fd)
    except Exception:
        pass
    return gevent_wait


_gevent_wait = None


def _gevent_driver():
    """The gevent driver's wait function (gevent imported on first use)."""
    global _gevent_wait
    if _gevent_wait is None:
        _gevent_wait = _gevent_wait_function()
    return _gevent_wait


def gevent_wait(fds, timeout):
    """The gevent driver's wait function (imports gevent on first use)."""
    return _gevent_driver()(fds, timeout)


def _gevent_wait_one(fd, events, timeout):
    return _gevent_driver().wait_one(fd, events, timeout)


def _gevent_idle_fd():
    idle = getattr(_gevent_driver(), "idle_fd", None)
    return -1 if idle is None else idle()


# The one-socket form the engine calls instead when it waits on one socket, and
# the idle test for busy polling
# (see rc_wait_attr_of in csrc/engine.h); wait functions of set_wait_callback
# may have them too.
gevent_wait.wait_one = _gevent_wait_one  # type: ignore[attr-defined]
gevent_wait.idle_fd = _gevent_idle_fd  # type: ignore[attr-defined]


def wait_callback_for(io):
    """(wait_callback, io_native) for a pool made with ``io=``: None picks
    gevent's when gevent has patched the process, else the global callback
    (set_wait_callback) or the native driver."""
    if io not in _IO_CHOICES:
        raise ValueError("io must be None, 'native' or 'gevent', not {0!r}".format(io))
    if io == "native":
        return None, True
    if io == "gevent" or (io is None and gevent_patched()):
        try:
            import gevent  # noqa: F401
        except ImportError:
            raise ValueError("io='gevent' needs gevent installed") from None
        return _gevent_driver(), False
    return None, False
