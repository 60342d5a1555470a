"""URL parsing for ``RedisCluster.from_url``: a ``redis://`` URL -> keyword dict.

Pure Python configuration parsing (house style 7.9). It turns a URL into the keyword
arguments the client constructor takes and does no I/O. It imports only
``rediscluster.exceptions``, never ``_core``.

Behaviour follows current redis-py's ``parse_url`` / ``ConnectionPool.from_url``,
with these decisions:

* Schemes: ``redis://`` and ``rediss://`` (the latter sets ``ssl=True``).
  ``unix://`` raises ``RedisClusterException('Unix sockets do not work in a cluster
  environment')``, as redis-py-cluster 2.1.3 does. Any other scheme raises redis-py's
  ``ValueError``. Schemes are matched case-insensitively (RFC 3986; redis-py 3.5 did
  the same).
* Precedence: values from the URL (host, port, credentials, db, query options)
  override the keyword arguments given to ``parse_url``, as in redis-py (both 3.5 and
  current: ``kwargs.update(url_options)``). As in current redis-py, only the parts the
  URL actually has override: a URL without a password keeps a ``password=`` keyword.
* ``host`` and ``port`` are always in the result: from the URL, else from the
  keywords, else redis-py's defaults ``"localhost"`` and ``6379``.
* Username, password, host and the db path are percent-decoded (current redis-py
  always decodes; 3.5 did so only with ``decode_components=True``, which is accepted
  and ignored here). Query values are decoded once, by ``parse_qs``.
* ``db`` comes from ``?db=N``, else from the path ``/N``. Unlike redis-py, which
  silently ignores a path that is not a number, a bad path raises ``ValueError``.
  ``db`` is only present if the URL (or a keyword) gives one; the client decides
  what a db means in cluster mode.
* Query options with a known type are converted (``URL_QUERY_ARGUMENT_PARSERS``);
  unknown ones pass through as strings. A bad value raises
  ``ValueError("Invalid value for 'NAME' in connection URL.")`` (redis-py 3.5 only
  warned and dropped the value; current redis-py raises).
* Error messages never contain the password, nor any other piece of the URL.
"""

from urllib.parse import parse_qs, unquote, urlsplit

from .exceptions import RedisClusterException

__all__ = ["parse_url", "to_bool", "URL_QUERY_ARGUMENT_PARSERS", "FALSE_STRINGS"]

FALSE_STRINGS = ("0", "F", "FALSE", "N", "NO")


def to_bool(value):
    """redis-py's lenient boolean: ``'0' 'F' 'FALSE' 'N' 'NO'`` (any case) are False.

    >>> [to_bool(v) for v in ("1", "yes", "no", "False", "", None)]
    [True, True, False, False, None, None]
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.upper() in FALSE_STRINGS:
        return False
    return bool(value)


#: Query option -> converter. redis-py's scalar ``URL_QUERY_ARGUMENT_PARSERS``, plus
#: ``decode_responses``, ``ssl`` and ``port``, plus the cluster client's own options
#: (redis-py-cluster passed those through as strings, so ``=false`` was truthy).
URL_QUERY_ARGUMENT_PARSERS = {
    "db": int,
    "port": int,
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "socket_read_size": int,
    "socket_keepalive": to_bool,
    "retry_on_timeout": to_bool,
    "max_connections": int,
    "health_check_interval": int,
    "ssl": to_bool,
    "ssl_check_hostname": to_bool,
    "timeout": float,
    "protocol": int,
    "decode_responses": to_bool,
    # rediscluster's own constructor options
    "skip_full_coverage_check": to_bool,
    "readonly_mode": to_bool,
    "read_from_replicas": to_bool,
    "max_connections_per_node": to_bool,
    "init_slot_cache": to_bool,
    "nodemanager_follow_cluster": to_bool,
    "reinitialize_steps": int,
    "cluster_down_retry_attempts": int,
    "topology_check_interval": float,
    "busy_poll": int,
}

_SCHEMES_MESSAGE = (
    "Redis URL must specify one of the following schemes (redis://, rediss://, unix://)"
)


def _split(url):
    """``urlsplit`` plus host and port, or None if the URL cannot be parsed.

    The standard library's messages may quote parts of the netloc (and so of the
    password), so the caller raises its own message instead.
    """
    try:
        parts = urlsplit(url)
        return parts, parts.hostname, parts.port
    except ValueError:
        return None


def parse_url(url, **kwargs):
    """Parse a ``redis://`` or ``rediss://`` URL into client keyword arguments.

    ``redis://[[username]:password@]host[:port][/db][?option=value&...]``. Returns
    ``kwargs`` updated with the URL's values (see the module docstring for the rules).

    >>> parse_url("redis://localhost:7000")
    {'host': 'localhost', 'port': 7000}
    >>> kw = parse_url("rediss://me:p%40ss@[::1]:7001/0?socket_timeout=1.5")
    >>> kw["username"], kw["password"], kw["host"], kw["port"], kw["db"], kw["ssl"]
    ('me', 'p@ss', '::1', 7001, 0, True)
    >>> kw["socket_timeout"]
    1.5
    >>> parse_url("redis://h?max_connections=32&client_name=app", port=7000)
    {'port': 7000, 'max_connections': 32, 'client_name': 'app', 'host': 'h'}
    >>> parse_url("unix:///tmp/redis.sock")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rediscluster.exceptions.RedisClusterException: Unix sockets do not work in a ...
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    kwargs.pop("decode_components", None)  # redis-py 3.5 keyword; we always decode
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "unix":
        raise RedisClusterException("Unix sockets do not work in a cluster environment")
    if scheme not in ("redis", "rediss"):
        raise ValueError(_SCHEMES_MESSAGE)

    split = _split(url)
    if split is None:
        # Raised outside the except clause, so no __context__ carries the original
        # message (which may quote the password).
        raise ValueError("Invalid Redis URL: cannot parse the host or port")
    parts, hostname, port = split

    options = {}
    for name, values in parse_qs(parts.query).items():
        value = values[0]
        parser = URL_QUERY_ARGUMENT_PARSERS.get(name)
        if parser is None:
            options[name] = value
            continue
        valid = True
        try:
            options[name] = parser(value)
        except (TypeError, ValueError):
            valid = False
        if not valid:  # raised here so that no __context__ quotes the value
            raise ValueError(f"Invalid value for '{name}' in connection URL.")

    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    if hostname:
        options["host"] = unquote(hostname)
    if port is not None:
        if not 0 < port <= 65535:
            raise ValueError("Invalid port in Redis URL: must be 1-65535")
        options["port"] = port
    if "db" not in options:
        path = unquote(parts.path)
        if path.endswith("/"):
            path = path[:-1]
        if path:
            db = path[1:]
            if not (db.isascii() and db.isdigit()):
                raise ValueError(
                    "Invalid database number in Redis URL path: must be /<integer>"
                )
            options["db"] = int(db)
    if scheme == "rediss":
        options["ssl"] = True

    kwargs.update(options)
    kwargs.setdefault("host", "localhost")
    kwargs.setdefault("port", 6379)
    return kwargs
