"""Small helpers shared by the command mixins and their reply parsers.

Nothing here does I/O; none of it imports the client."""

import datetime

from ..exceptions import DataError
from ..utils import bool_ok, nativestr


def list_or_args(keys, args):
    """redis-py's rule: ``f(['a', 'b'])`` and ``f('a', 'b')`` mean the same."""
    try:
        iter(keys)
        if isinstance(keys, (bytes, str)):
            keys = [keys]
        else:
            keys = list(keys)
    except TypeError:
        keys = [keys]
    if args:
        keys.extend(args)
    return keys


def to_seconds(value):
    """int seconds or a timedelta -> int seconds."""
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    return value


def to_millis(value):
    """int milliseconds or a timedelta -> int milliseconds."""
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    return value


def to_unix_seconds(value):
    """int unix time or a datetime -> int unix seconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    return value


def to_unix_millis(value):
    """int unix time in ms or a datetime -> int unix milliseconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    return value


def pairs_to_dict(response, decode_keys=False, decode_string_values=False):
    """[k1, v1, k2, v2, ...] -> {k1: v1, ...}."""
    if response is None:
        return {}
    it = iter(response)
    if decode_keys or decode_string_values:
        return {(nativestr(k) if decode_keys else k):
                (nativestr(v) if decode_string_values else v) for k, v in zip(it, it)}
    return dict(zip(it, it))


def scan_args(cursor, match=None, count=None, _type=None):
    """SCAN-family arguments after the key: ``cursor [MATCH m] [COUNT c] [TYPE t]``."""
    pieces = [cursor]
    if match is not None:
        pieces.extend((b"MATCH", match))
    if count is not None:
        pieces.extend((b"COUNT", count))
    if _type is not None:
        pieces.extend((b"TYPE", _type))
    return pieces


def apply_callback(callbacks, args, reply, options=None):
    """``reply`` of the command ``args`` through its response callback in
    ``callbacks`` (upper-case name -> callable), with the command's options; the
    reply itself when the command has none. The one place Python code parses a
    reply it read itself (the C engine applies callbacks on its own paths)."""
    name = nativestr(args[0])
    callback = callbacks.get(name.upper() if isinstance(name, str) else name)
    if callback is None:
        return reply
    return callback(reply, **options) if options else callback(reply)


def exclusive(**flags):
    """Raise DataError if more than one of the given flags is set."""
    on = [name for name, value in flags.items() if value]
    if len(on) > 1:
        raise DataError("``%s`` are mutually exclusive." % "`` and ``".join(on))


__all__ = ["bool_ok", "nativestr", "list_or_args", "to_seconds", "to_millis",
           "to_unix_seconds", "to_unix_millis", "pairs_to_dict", "exclusive", "scan_args", "apply_callback", "DataError"]
