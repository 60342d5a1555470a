"""RESP packing of commands: ``_core.pack_command(*args)`` (utf-8, strict).

The rules are redis-py 3.5's ``Encoder.encode`` and ``pack_command``: bytes and
memoryview as they are, str encoded, int with ``str()``, float with ``repr()``,
bool/None/anything else a ``DataError``; a command name with spaces is split into
tokens.
"""

import enum

import pytest

from rediscluster import _core
from rediscluster.exceptions import DataError


def resp(*tokens):
    """The expected RESP array of bulk strings for byte-string tokens."""
    out = [b"*%d\r\n" % len(tokens)]
    for t in tokens:
        out.append(b"$%d\r\n%s\r\n" % (len(t), t))
    return b"".join(out)


class Color(enum.IntEnum):
    RED = 1


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


class MyInt(int):
    def __str__(self):
        return "my-int"


class MyFloat(float):
    def __repr__(self):
        return "my-float"


# (id, args, expected tokens)
EXACT = [
    ("str", ("GET", "foo"), (b"GET", b"foo")),
    ("bytes", (b"GET", b"foo"), (b"GET", b"foo")),
    ("binary-bytes", ("SET", b"k", b"\x00\r\n\xff"), (b"SET", b"k", b"\x00\r\n\xff")),
    ("bytes-subclass", ("GET", MyBytes(b"k")), (b"GET", b"k")),
    ("int-0", ("SET", "k", 0), (b"SET", b"k", b"0")),
    ("int-positive", ("SET", "k", 42), (b"SET", b"k", b"42")),
    ("int-negative", ("SET", "k", -42), (b"SET", b"k", b"-42")),
    ("int-max-int64", ("SET", "k", 2**63 - 1), (b"SET", b"k", b"9223372036854775807")),
    ("int-min-int64", ("SET", "k", -(2**63)), (b"SET", b"k", b"-9223372036854775808")),
    ("int-2**63", ("SET", "k", 2**63), (b"SET", b"k", b"9223372036854775808")),
    (
        "int-below-min-int64",
        ("SET", "k", -(2**63) - 1),
        (b"SET", b"k", b"-9223372036854775809"),
    ),
    ("int-2**64", ("SET", "k", 2**64), (b"SET", b"k", b"18446744073709551616")),
    ("int-10**40", ("SET", "k", 10**40), (b"SET", b"k", b"1" + b"0" * 40)),
    ("int-subclass-str", ("SET", "k", MyInt(5)), (b"SET", b"k", b"my-int")),
    ("intenum", ("SET", "k", Color.RED), (b"SET", b"k", str(Color.RED).encode())),
    ("float-1.0", ("SET", "k", 1.0), (b"SET", b"k", b"1.0")),
    ("float-0.1", ("SET", "k", 0.1), (b"SET", b"k", b"0.1")),
    ("float-1e100", ("SET", "k", 1e100), (b"SET", b"k", b"1e+100")),
    ("float-1.5e-10", ("SET", "k", 1.5e-10), (b"SET", b"k", b"1.5e-10")),
    ("float-neg-zero", ("SET", "k", -0.0), (b"SET", b"k", b"-0.0")),
    ("float-inf", ("SET", "k", float("inf")), (b"SET", b"k", b"inf")),
    ("float--inf", ("SET", "k", float("-inf")), (b"SET", b"k", b"-inf")),
    ("float-nan", ("SET", "k", float("nan")), (b"SET", b"k", b"nan")),
    (
        "float-big",
        ("SET", "k", 123456789012345.0),
        (b"SET", b"k", b"123456789012345.0"),
    ),
    ("float-1e16", ("SET", "k", 1e16), (b"SET", b"k", b"1e+16")),
    ("float-subclass-repr", ("SET", "k", MyFloat(2.5)), (b"SET", b"k", b"my-float")),
    ("memoryview", ("SET", "k", memoryview(b"value")), (b"SET", b"k", b"value")),
    (
        "memoryview-slice",
        ("SET", "k", memoryview(b"abcdef")[1:4]),
        (b"SET", b"k", b"bcd"),
    ),
    (
        "memoryview-strided",
        ("SET", "k", memoryview(b"abcdef")[::2]),
        (b"SET", b"k", b"ace"),
    ),
    ("str-subclass", ("GET", MyStr("key")), (b"GET", b"key")),
    ("empty-arg", ("SET", "k", ""), (b"SET", b"k", b"")),
    ("empty-bytes-arg", ("SET", b"", b""), (b"SET", b"", b"")),
    ("non-ascii", ("SET", "大奖", "é"), (b"SET", "大奖".encode(), b"\xc3\xa9")),
    ("emoji", ("SET", "k", "\U0001f600"), (b"SET", b"k", b"\xf0\x9f\x98\x80")),
    ("crlf-in-value", ("SET", "k", "a\r\nb"), (b"SET", b"k", b"a\r\nb")),
    ("config-get", ("CONFIG GET", "maxmemory"), (b"CONFIG", b"GET", b"maxmemory")),
    ("config-get-spaces", ("CONFIG   GET", "x"), (b"CONFIG", b"GET", b"x")),
    ("name-leading-trailing-space", (" CLIENT LIST ",), (b"CLIENT", b"LIST")),
    ("name-tab", ("CONFIG\tGET", "x"), (b"CONFIG", b"GET", b"x")),
    (
        "three-words",
        ("CLIENT  KILL  TYPE", "normal"),
        (b"CLIENT", b"KILL", b"TYPE", b"normal"),
    ),
    ("no-split-after-name", ("SET", "a b", "c d"), (b"SET", b"a b", b"c d")),
    ("single-token", ("PING",), (b"PING",)),
    ("mixed", ("ZADD", b"z", 1, 2.5, "m"), (b"ZADD", b"z", b"1", b"2.5", b"m")),
]


@pytest.mark.parametrize(
    "args,tokens", [c[1:] for c in EXACT], ids=[c[0] for c in EXACT]
)
def test_exact_bytes(args, tokens):
    assert _core.pack_command(*args) == resp(*tokens)


def test_literal_example():
    assert (
        _core.pack_command("SET", "foo", 1)
        == b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$1\r\n1\r\n"
    )


def test_many_arguments():
    args = ["MSET"] + ["k%d" % i for i in range(2000)]
    assert _core.pack_command(*args) == resp(*[a.encode() for a in args])


BAD_TYPES = [
    ("None", None, "NoneType"),
    ("True", True, "bool"),
    ("False", False, "bool"),
    ("dict", {"a": 1}, "dict"),
    ("list", [1], "list"),
    ("tuple", (1,), "tuple"),
    ("set", {1}, "set"),
    ("bytearray", bytearray(b"x"), "bytearray"),
    ("object", object(), "object"),
    ("complex", 1j, "complex"),
]


@pytest.mark.parametrize(
    "value,typename", [c[1:] for c in BAD_TYPES], ids=[c[0] for c in BAD_TYPES]
)
def test_type_errors(value, typename):
    with pytest.raises(DataError) as info:
        _core.pack_command("SET", "k", value)
    assert str(info.value) == (
        "Invalid input of type: '%s'. Convert to a bytes, string, int or float first."
        % typename
    )


def test_exact_none_message():
    with pytest.raises(
        DataError,
        match=r"^Invalid input of type: 'NoneType'\. Convert to a bytes, "
        r"string, int or float first\.$",
    ):
        _core.pack_command("GET", None)


@pytest.mark.parametrize("position", [0, 1, 3])
def test_type_error_in_any_position(position):
    args = ["SET", "k", "v", "x"]
    args[position] = None
    with pytest.raises(DataError, match="NoneType"):
        _core.pack_command(*args)


@pytest.mark.parametrize("typename", ["datetime", "Decimal", "OrderedDict"])
def test_type_error_names_the_type_like_redis_py(typename):
    import collections
    import datetime
    import decimal

    value = {
        "datetime": datetime.datetime(2020, 1, 1),
        "Decimal": decimal.Decimal("1.5"),
        "OrderedDict": collections.OrderedDict(),
    }[typename]
    assert type(value).__name__ == typename
    with pytest.raises(DataError) as info:
        _core.pack_command("SET", "k", value)
    assert "'%s'" % typename in str(info.value)


def test_lone_surrogate():
    with pytest.raises(UnicodeEncodeError):
        _core.pack_command("SET", "k", "\udcff")
    with pytest.raises(UnicodeEncodeError):
        _core.pack_command("SET", "\ud800", "v")


def test_empty_command():
    with pytest.raises(DataError):
        _core.pack_command()


def test_errors_leave_no_partial_state():
    # A failure in the middle must not poison the next pack.
    with pytest.raises(DataError):
        _core.pack_command("SET", "k", object())
    assert _core.pack_command("GET", "k") == resp(b"GET", b"k")


def test_bytes_command_name_with_space_is_split():
    assert _core.pack_command(b"CONFIG GET", "x") == resp(b"CONFIG", b"GET", b"x")


def test_str_command_name_with_newline_is_split():
    assert _core.pack_command("CONFIG\nGET", "x") == resp(b"CONFIG", b"GET", b"x")


def test_big_value_length_header():
    size = 16 * 1024 * 1024
    value = b"v" * size
    out = _core.pack_command("SET", "k", value)
    header = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % size
    assert len(out) == len(header) + size + 2
    assert out.startswith(header)
    assert out.endswith(b"v\r\n")
    assert memoryview(out)[len(header) : len(header) + size] == value
    del out, value


def test_big_str_value():
    size = 4 * 1024 * 1024 + 3
    value = "é" * size  # 2 bytes each in utf-8
    out = _core.pack_command("SET", "k", value)
    assert out.startswith(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 * size))
    assert (
        len(out)
        == len(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 * size)) + 2 * size + 2
    )
