"""Unit tests for rediscluster._urls.parse_url (RedisCluster.from_url's parser).
No server, no C extension needed."""

import ast
import doctest
import importlib
import sys
import traceback
import types
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def _import(name):
    """Import ``rediscluster.<name>`` even when the package itself cannot be imported.

    The package ``__init__`` imports the C extension ``_core``. When that is not
    built (or ``rediscluster`` is not on the path at all), fall back to the source
    tree: register a bare package module whose ``__path__`` is ``rediscluster/``, so
    the submodule imports normally under its real name. The repo root is appended to
    ``sys.path``, never prepended, so an installed package (a wheel under test) wins.
    """
    if str(_REPO) not in sys.path:
        sys.path.append(str(_REPO))
    try:
        return importlib.import_module("rediscluster." + name)
    except ImportError:
        if "rediscluster" not in sys.modules:
            pkg = types.ModuleType("rediscluster")
            pkg.__path__ = [str(_REPO / "rediscluster")]
            sys.modules["rediscluster"] = pkg
        return importlib.import_module("rediscluster." + name)


U = _import("_urls")
E = _import("exceptions")
parse_url = U.parse_url

SECRET = "s3cr3t-Pa55w0rd"


# --- host, port, credentials ------------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("redis://localhost:7000", {"host": "localhost", "port": 7000}),
        ("redis://10.0.0.1", {"host": "10.0.0.1", "port": 6379}),
        ("redis://", {"host": "localhost", "port": 6379}),
        ("redis://:7001", {"host": "localhost", "port": 7001}),
        ("redis://[::1]:7000", {"host": "::1", "port": 7000}),
        ("redis://[::1]", {"host": "::1", "port": 6379}),
        ("redis://[fe80::1%25eth0]:7000", {"host": "fe80::1%eth0", "port": 7000}),
        (
            "redis://Node-1.Example.com:7000",
            {"host": "node-1.example.com", "port": 7000},
        ),
        ("redis://my%2Dhost:7000", {"host": "my-host", "port": 7000}),
        ("REDIS://h:7000", {"host": "h", "port": 7000}),
        ("redis://h:7000#fragment", {"host": "h", "port": 7000}),
    ],
)
def test_host_and_port(url, expected):
    assert parse_url(url) == expected


def test_port_is_int():
    assert type(parse_url("redis://h:7000")["port"]) is int


@pytest.mark.parametrize(
    "url, username, password",
    [
        ("redis://user:pass@h", "user", "pass"),
        ("redis://:pass@h", None, "pass"),
        ("redis://user@h", "user", None),
        ("redis://user:@h", "user", None),
        ("redis://@h", None, None),
        ("redis://us%3Aer:p%40ss%2Fw%3Ard%25@h", "us:er", "p@ss/w:rd%"),
        ("redis://:p%20s@h", None, "p s"),
        ("redis://:pa:ss@h:7000", None, "pa:ss"),
        ("redis://:p@ss@h:7000", None, "p@ss"),  # split at the last '@'
    ],
)
def test_credentials(url, username, password):
    kw = parse_url(url)
    assert kw.get("username") == username
    assert kw.get("password") == password
    assert kw["host"] == "h"
    if username is None:
        assert "username" not in kw
    if password is None:
        assert "password" not in kw


# --- schemes ----------------------------------------------------------------------


def test_rediss_sets_ssl():
    assert parse_url("rediss://h:7000") == {"host": "h", "port": 7000, "ssl": True}
    assert parse_url("rediss://h?ssl=false")["ssl"] is True  # the scheme wins
    assert "ssl" not in parse_url("redis://h")
    assert parse_url("redis://h", ssl=True)["ssl"] is True


@pytest.mark.parametrize(
    "url", ["unix:///tmp/redis.sock", "UNIX:///x", "unix://u:p@/s"]
)
def test_unix_is_refused(url):
    with pytest.raises(E.RedisClusterException) as info:
        parse_url(url)
    assert str(info.value) == "Unix sockets do not work in a cluster environment"
    assert type(info.value) is E.RedisClusterException


@pytest.mark.parametrize(
    "url", ["http://h", "redis:/h", "redis:h", "localhost:6379", "h", "", "valkey://h"]
)
def test_other_schemes(url):
    with pytest.raises(ValueError) as info:
        parse_url(url)
    assert str(info.value) == (
        "Redis URL must specify one of the following schemes "
        "(redis://, rediss://, unix://)"
    )


def test_url_must_be_str():
    with pytest.raises(TypeError):
        parse_url(b"redis://h")


# --- db ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, db",
    [
        ("redis://h/0", 0),
        ("redis://h/15", 15),
        ("redis://h/3/", 3),
        ("redis://h/%31", 1),
        ("redis://h/2?db=5", 5),  # the query wins, as in redis-py
        ("redis://h?db=7", 7),
    ],
)
def test_db(url, db):
    kw = parse_url(url)
    assert kw["db"] == db and type(kw["db"]) is int


@pytest.mark.parametrize("url", ["redis://h", "redis://h/", "redis://h:7000/"])
def test_no_db(url):
    assert "db" not in parse_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://h/abc", "redis://h/-1", "redis://h/1/2", "redis://h//1", "redis://h/ 1"],
)
def test_bad_db_path(url):
    with pytest.raises(ValueError, match="database number"):
        parse_url(url)


def test_bad_db_query():
    with pytest.raises(ValueError, match="Invalid value for 'db' in connection URL."):
        parse_url("redis://h?db=x")


# --- query options ----------------------------------------------------------------


@pytest.mark.parametrize(
    "query, name, value",
    [
        ("socket_timeout=1.5", "socket_timeout", 1.5),
        ("socket_connect_timeout=2", "socket_connect_timeout", 2.0),
        ("socket_keepalive=yes", "socket_keepalive", True),
        ("socket_keepalive=No", "socket_keepalive", False),
        ("retry_on_timeout=1", "retry_on_timeout", True),
        ("retry_on_timeout=0", "retry_on_timeout", False),
        ("max_connections=32", "max_connections", 32),
        ("health_check_interval=10", "health_check_interval", 10),
        ("ssl_check_hostname=false", "ssl_check_hostname", False),
        ("decode_responses=True", "decode_responses", True),
        ("decode_responses=f", "decode_responses", False),
        ("skip_full_coverage_check=n", "skip_full_coverage_check", False),
        ("read_from_replicas=true", "read_from_replicas", True),
        ("reinitialize_steps=5", "reinitialize_steps", 5),
        ("client_name=app", "client_name", "app"),  # unknown: passed through
        ("ssl_cert_reqs=none", "ssl_cert_reqs", "none"),
        ("client_name=a%20b", "client_name", "a b"),
        ("client_name=%2520", "client_name", "%20"),  # decoded once, not twice
        ("client_name=a+b", "client_name", "a b"),
        ("max_connections=1&max_connections=2", "max_connections", 1),
    ],
)
def test_query_options(query, name, value):
    kw = parse_url("redis://h:7000?" + query)
    assert kw[name] == value
    assert type(kw[name]) is type(value)


@pytest.mark.parametrize("word", U.FALSE_STRINGS + ("false", "nO", "f"))
def test_false_strings(word):
    assert U.to_bool(word) is False


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "anything"])
def test_true_strings(word):
    assert U.to_bool(word) is True


def test_blank_query_values_are_ignored():
    assert parse_url("redis://h?socket_timeout=&x=") == {"host": "h", "port": 6379}


def test_parsers_cover_the_documented_options():
    parsers = U.URL_QUERY_ARGUMENT_PARSERS
    assert parsers["socket_timeout"] is float
    assert parsers["socket_connect_timeout"] is float
    assert parsers["max_connections"] is int
    assert parsers["health_check_interval"] is int
    assert parsers["db"] is int
    for name in (
        "socket_keepalive",
        "retry_on_timeout",
        "ssl_check_hostname",
        "decode_responses",
    ):
        assert parsers[name] is U.to_bool


@pytest.mark.parametrize(
    "query, name",
    [
        ("socket_timeout=fast", "socket_timeout"),
        ("max_connections=1.5", "max_connections"),
        ("health_check_interval=ten", "health_check_interval"),
        ("port=x", "port"),
    ],
)
def test_invalid_option_values(query, name):
    with pytest.raises(ValueError) as info:
        parse_url("redis://h?" + query)
    assert str(info.value) == f"Invalid value for '{name}' in connection URL."
    assert info.value.__context__ is None and info.value.__cause__ is None


@pytest.mark.parametrize(
    "url",
    ["redis://h:x", "redis://h:99999", "redis://h:0", "redis://h:-1", "redis://[::1"],
)
def test_invalid_host_or_port(url):
    with pytest.raises(ValueError):
        parse_url(url)


# --- precedence -------------------------------------------------------------------


def test_url_values_override_keywords():
    kw = parse_url(
        "redis://u:p@h:7000/1?socket_timeout=2",
        host="other",
        port=1,
        username="x",
        password="y",
        db=9,
        socket_timeout=9.0,
    )
    assert kw == {
        "host": "h",
        "port": 7000,
        "username": "u",
        "password": "p",
        "db": 1,
        "socket_timeout": 2.0,
    }


def test_keywords_fill_what_the_url_lacks():
    kw = parse_url("redis://h", port=7005, password="pw", db=0, max_connections=8)
    assert kw == {
        "host": "h",
        "port": 7005,
        "password": "pw",
        "db": 0,
        "max_connections": 8,
    }
    assert parse_url("redis://", host="seed")["host"] == "seed"


def test_decode_components_is_accepted_and_dropped():
    kw = parse_url("redis://:p%40ss@h", decode_components=False)
    assert kw == {"host": "h", "port": 6379, "password": "p@ss"}


def test_keywords_are_not_mutated_in_place():
    options = {"port": 1}
    parse_url("redis://h:2", **options)
    assert options == {"port": 1}


# --- the password never shows -----------------------------------------------------


def _chain(exc):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize(
    "url",
    [
        f"redis://user:{SECRET}@h:notaport",
        f"redis://user:{SECRET}@h:99999",
        f"redis://user:{SECRET}@h/notadb",
        f"redis://user:{SECRET}@h/0?db=bad",
        f"redis://user:{SECRET}@h?socket_timeout=bad",
        f"redis://user:{SECRET}@[::1",
        f"redis://:{SECRET}/x@h:7000",  # unencoded '/' ends the netloc early
        f"redis://:{SECRET}#x@h:7000",  # unencoded '#'
        f"redis://:{SECRET}?x@h:7000",  # unencoded '?'
        f"redis://{SECRET}:{SECRET}@h:{SECRET}",
        f"redis://h?socket_timeout={SECRET}",
        f"http://user:{SECRET}@h",
        f"unix://user:{SECRET}@/tmp/redis.sock",
        f"{SECRET}",
    ],
)
def test_password_never_in_error_messages(url):
    with pytest.raises((ValueError, E.RedisClusterException)) as info:
        parse_url(url)
    for exc in _chain(info.value):
        text = "".join(traceback.format_exception_only(type(exc), exc))
        assert SECRET not in text
        assert SECRET not in repr(exc.args)
    assert info.value.__context__ is None


def test_password_not_leaked_by_bracket_validation():
    # Python >= 3.11.4 rejects a bracketed host that is not an IP address, older
    # versions accept it; either way the password must not show.
    try:
        parse_url(f"redis://user:{SECRET}@[nothost]:7000")
    except ValueError as exc:
        assert SECRET not in str(exc) and exc.__context__ is None


# --- module rules -----------------------------------------------------------------


def test_imports_only_the_stdlib_and_exceptions():
    tree = ast.parse(Path(U.__file__).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    assert sorted(found) == [".exceptions", "urllib.parse"]


def test_doctests():
    failed, attempted = doctest.testmod(U)
    assert attempted and not failed
