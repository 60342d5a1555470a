"""Small helpers shared by the command mixins and their reply parsers.

Nothing here does I/O; none of it imports the client."""

import datetime

from .. import _core
from ..exceptions import DataError

#: reply == OK, in C (``_core.bool_ok``)
bool_ok = _core.bool_ok


def nativestr(x):
    """bytes -> str (utf-8, replace); str and anything else unchanged."""
    return x.decode("utf-8", "replace") if isinstance(x, (bytes, bytearray)) else x


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


def exclusive(**flags):
    """Raise DataError if more than one of the given flags is set."""
    on = [name for name, value in flags.items() if value]
    if len(on) > 1:
        raise DataError("``%s`` are mutually exclusive." % "`` and ``".join(on))


__all__ = ["bool_ok", "nativestr", "list_or_args", "to_seconds", "to_millis",
           "to_unix_seconds", "to_unix_millis", "pairs_to_dict", "exclusive", "DataError"]
