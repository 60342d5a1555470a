"""Error replies: the C reader against the pure-Python reference.

For every entry of ``ERROR_PREFIXES`` and many ordinary or odd error texts, the
exception that ``_core.Reader`` returns for ``-TEXT\\r\\n`` must have the same class,
``args`` and attributes as ``rediscluster.exceptions.error_from_reply(TEXT)``.
MOVED/ASK parsing includes IPv6 and empty hosts; malformed redirects are still
exceptions, never a crash.
"""

import pytest

from rediscluster import _core
from rediscluster import exceptions as E


def c_error(text, decode=False):
    """The C reader's value for the error reply `text` (str or bytes)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    r = _core.Reader(decode_responses=decode)
    r.feed(b"-" + raw + b"\r\n+sentinel\r\n")
    value = r.gets()
    assert r.gets() == ("sentinel" if decode else b"sentinel")
    assert r.gets() is False
    return value


def c_error_in_array(text):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    r = _core.Reader()
    r.feed(b"*1\r\n-" + raw + b"\r\n")
    (value,) = r.gets()
    return value


ATTRS = ("args", "message", "slot_id", "host", "port", "node_addr")


def describe(exc):
    """Class, args and every interesting attribute (present or not)."""
    missing = object()
    attrs = {}
    for name in ATTRS:
        v = getattr(exc, name, missing)
        attrs[name] = "<missing>" if v is missing else v
    attrs.update({k: v for k, v in vars(exc).items()})
    return type(exc), attrs


def assert_same(text):
    expected = E.error_from_reply(text)
    for got in (c_error(text), c_error(text, decode=True), c_error_in_array(text)):
        assert isinstance(got, BaseException), got
        assert describe(got) == describe(expected)
        assert str(got) == str(expected)
        assert repr(got) == repr(expected)


def _table_texts():
    out = []
    for key, cls in E.ERROR_PREFIXES:
        if " " in key:
            out.append(key)  # the exact message
            out.append(key + " and more")  # no longer exact: falls back to its code
        else:
            out.append(key)
            out.append(key + " some message")
            out.append(key + "  two  spaces")
            out.append(key + "X suffix")  # a longer code is not this code
            out.append(key.lower() + " lower case")
    return out


TABLE_TEXTS = _table_texts()


@pytest.mark.parametrize("text", TABLE_TEXTS)
def test_every_table_entry(text):
    assert_same(text)


@pytest.mark.parametrize(
    "key,cls", E.ERROR_PREFIXES, ids=[k[:40] for k, _ in E.ERROR_PREFIXES]
)
def test_table_entry_class(key, cls):
    got = c_error(key if " " in key else key + " msg")
    assert type(got) is cls


ORDINARY = [
    "ERR unknown command 'FOO'",
    "ERR wrong number of arguments for 'get' command",
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "OOM command not allowed when used memory > 'maxmemory'.",
    "BUSY Redis is busy running a script.",
    "NOSCRIPT No matching script. Please use EVAL.",
    "READONLY You can't write against a read only replica.",
    "LOADING Redis is loading the dataset in memory",
    "EXECABORT Transaction discarded because of previous errors.",
    "NOAUTH Authentication required.",
    "WRONGPASS invalid username-password pair or user is disabled.",
    "NOPERM this user has no permissions to run the 'get' command",
    "CROSSSLOT Keys in request don't hash to the same slot",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "CLUSTERDOWN The cluster is down",
    "CLUSTERDOWN Hash slot not served",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "ERR",
    "ERR ",
    "",
    " ",
    " ERR leading space",
    "ERR\tTab",
    "SOMETHING",
    "SOMETHING else entirely",
    "ERR max number of clients reached",
    "ERR invalid password",
    "ERR Client sent AUTH, but no password is set",
    "ERR  max number of clients reached",
    "ERR max number of clients reached ",
    "ERR unicode é 大奖",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_errors(text):
    assert_same(text)


REDIRECTS = [
    "MOVED 3999 127.0.0.1:7002",
    "ASK 3999 127.0.0.1:7002",
    "MOVED 0 127.0.0.1:1",
    "MOVED 16383 127.0.0.1:65535",
    "MOVED 12182 :7000",
    "ASK 12182 :7000",
    "MOVED 1 ::1:7000",
    "ASK 1 ::1:7000",
    "MOVED 1 [::1]:7000",
    "ASK 1 [2001:db8::1]:6379",
    "MOVED 1 2001:db8::ff00:42:8329:7000",
    "MOVED 1 redis-node-3.example.com:6379",
    "MOVED 1 h:1",
    "MOVED 007 h:0070",
]


@pytest.mark.parametrize("text", REDIRECTS)
def test_redirects(text):
    assert_same(text)


@pytest.mark.parametrize(
    "text,addr",
    [
        ("MOVED 3999 127.0.0.1:7002", ("127.0.0.1", 7002)),
        ("MOVED 12182 :7000", ("", 7000)),
        ("ASK 1 ::1:7000", ("::1", 7000)),
        ("ASK 1 [::1]:7000", ("::1", 7000)),
        ("MOVED 1 2001:db8::ff00:42:8329:7000", ("2001:db8::ff00:42:8329", 7000)),
    ],
)
def test_redirect_node_addr(text, addr):
    got = c_error(text)
    assert got.node_addr == addr
    assert (got.host, got.port) == addr
    assert got.slot_id == int(text.split()[1])


MALFORMED = [
    "MOVED",
    "MOVED ",
    "MOVED x",
    "MOVED 1",
    "MOVED 1 ",
    "MOVED 1 host",
    "MOVED 1 host:",
    "MOVED 1 host:port",
    "MOVED 1 host:0",
    "MOVED 1 host:65536",
    "MOVED 1 host:-1",
    "MOVED 16384 host:1",
    "MOVED -1 host:1",
    "MOVED 99999999999999999999 host:1",
    "MOVED 1 host:99999999999999999999",
    "MOVED x host:1",
    "MOVED 1 host:1 extra",
    "MOVED  1 host:1",
    "MOVED 1  host:1",
    "MOVED 1 host:1 ",
    "MOVED\t1 host:1",
    "MOVED 1\thost:1",
    "MOVED 1 :",
    "MOVED 1 " + "h" * 300 + ":1",
    "MOVED 1 " + "h" * 256 + ":1",  # longer than any DNS name: not a redirect for C
    "MOVED ١ host:1",  # a non-ASCII digit
    "ASK",
    "ASK ",
    "ASK x",
    "ASK 1",
    "ASK 1 h",
    "ASK 1 h:x",
    "ASK 1 h:1 2",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "MASTERDOWN",
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_redirects_are_still_exceptions(text):
    assert_same(text)


def test_malformed_moved_has_no_address():
    got = c_error("MOVED x")
    assert type(got) is E.MovedError
    assert (got.slot_id, got.host, got.port, got.node_addr) == (None, None, None, None)
    got = c_error("MOVED 1")
    assert type(got) is E.MovedError and got.node_addr is None


def test_invalid_utf8_in_error_text():
    text = b"ERR bad \xff\xfe bytes"
    assert_same(text)
    got = c_error(text)
    assert got.args == ("bad \ufffd\ufffd bytes",)


def test_invalid_utf8_in_redirect_host():
    assert_same(b"MOVED 1 h\xff:7000")
    assert_same(b"ASK 1 \xe5\xa4:7000")


def test_nul_byte_in_error_text():
    assert_same(b"ERR nul \x00 inside")
    assert_same(b"CROSSSLOT nul \x00 inside")
    assert_same(b"MOVED x h\x00x:7000")  # malformed: not a redirect for C


def test_long_ordinary_error():
    assert_same("ERR " + "x" * 10000)
    assert_same("MOVED 1 " + "x" * 10000 + ":7000")


def _code(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.split()[0]


# Redirect-class replies (MOVED/ASK that parse, TRYAGAIN, CLUSTERDOWN, MASTERDOWN) at
# top level are rebuilt from a copy of their text; these cases keep that copy whole.
SHORT_REDIRECT_CLASS = [
    "TRYAGAIN " + "y" * 190,
    "CLUSTERDOWN " + "y" * 187,
    "MASTERDOWN " + "y" * 188,
    "MOVED 16383 " + "h" * 181 + ":65535",
    "ASK 16383 " + "h" * 183 + ":65535",
    "MOVED 1 é大奖:7000",
]


@pytest.mark.parametrize(
    "text", SHORT_REDIRECT_CLASS, ids=lambda t: "%s-%d" % (_code(t), len(t))
)
def test_redirect_class_texts_up_to_199_bytes(text):
    assert len(text.encode()) <= 199
    assert_same(text)


# Same, past 199 bytes or with a NUL byte: the copy is char text[200] in
# csrc/errors.h (rc_redirect), and rc_error_from_redirect (csrc/errors.c) builds the
# exception from strlen(r->text), so the message is cut (and a MOVED/ASK loses its
# address: its truncated text no longer parses).
LONG_REDIRECT_CLASS = [
    "TRYAGAIN " + "y" * 300,
    "CLUSTERDOWN " + "y" * 300,
    "MASTERDOWN " + "y" * 300,
    "MOVED 16383 " + "h" * 190 + ":65535",
    "ASK 16383 " + "h" * 190 + ":65535",
    "MOVED 1 " + "h" * 255 + ":1",
    "CLUSTERDOWN " + "é" * 150,
    b"MOVED 1 h\x00x:7000",
    b"TRYAGAIN nul \x00 inside",
]


@pytest.mark.parametrize(
    "text", LONG_REDIRECT_CLASS, ids=lambda t: "%s-%d" % (_code(t), len(t))
)
def test_long_redirect_class_messages_are_not_truncated(text):
    got = c_error(text)
    expected = E.error_from_reply(text)
    assert describe(got) == describe(expected)


def test_every_class_has_the_reference_mro():
    # The reader must hand back instances of the very classes of the table.
    for key, cls in E.ERROR_PREFIXES:
        got = c_error(key if " " in key else key + " m")
        assert type(got) is cls
        assert isinstance(got, E.RedisError)
