"""Fuzz target: the RESP reply parser (``rediscluster._core.Reader``).

The input is a raw byte stream from a "server". It is parsed four ways: fed
whole and in random chunks (seeded by the input, so a crash file reproduces),
each with ``decode_responses`` off and on. Findings (an uncaught exception,
which atheris reports with the input saved as a crash file, or a sanitizer
report):

* any exception other than ``ConnectionError`` (protocol error; the reader
  then stays broken) and, with decoding, ``UnicodeDecodeError`` (one reply
  whose strings are not UTF-8; the reader carries on with the next);
* a value of another type than bytes/str, int, None, list, or an instance of
  a ``rediscluster.exceptions`` class (error replies are values) -- with
  hiredis 1.x also float and bool (RESP3 doubles and booleans);
* a difference between whole and chunked feeding;
* a difference from the reference parser below wherever the stream is
  canonical RESP2 (the reference stops comparing at the first construct whose
  handling is hiredis' business: non-canonical numbers, nesting deeper than
  hiredis 0.14's limit, a bulk not followed by CRLF, CR or LF inside a
  status or error line, other type bytes such as RESP3's);
* an error reply that is not ``exceptions.error_from_reply(text)`` (the
  Python reference of the C error table), or a MOVED/ASK whose
  slot_id/host/port disagree with its text.

Inputs declaring arrays of a million elements or more are skipped: hiredis
allocates the list up front (up to 2**31 - 1 elements, 16 GiB), which a
trusted server never asks for and libFuzzer would report as out-of-memory.
"""

import random
import re
import sys
import zlib

from _fuzzlib import load, main

_core, exceptions = load()

ConnectionError = exceptions.ConnectionError
REDIRECTS = (b"TRYAGAIN", b"CLUSTERDOWN", b"MASTERDOWN")
MAX_DEPTH = 8  # nested arrays hiredis 0.14 accepts (a 9th level is a protocol error)
HUGE_ARRAY = re.compile(rb"\*\+?\d{7}")


class NonCanonical(Exception):
    """The reference parser does not judge this construct."""


class Incomplete(Exception):
    pass


class UDE:
    """Marker: this reply raises UnicodeDecodeError with decode_responses=True."""

    def __repr__(self):
        return "UDE"


UDE = UDE()


def _line(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    return buf[pos:end], end + 2


_INT = re.compile(rb"-?(0|[1-9][0-9]*)\Z")


def _int(text, lo, hi):
    if not _INT.match(text) or text == b"-0":
        raise NonCanonical
    v = int(text)
    if not lo <= v <= hi:
        raise NonCanonical
    return v


def _has_code(text, code):
    return text.startswith(code) and (len(text) == len(code) or text[len(code) : len(code) + 1] == b" ")


def _error(text, top):
    if top and len(text) >= 3 and any(_has_code(text, c) for c in REDIRECTS):
        text = text[:1023]  # the engine keeps at most 1023 bytes of a redirect-class text
    return exceptions.error_from_reply(text)


def _parse(buf, pos, depth):
    """(plain value, decoded value or UDE, new pos)."""
    if pos >= len(buf):
        raise Incomplete
    t = buf[pos : pos + 1]
    if t in (b"+", b"-"):
        text, pos = _line(buf, pos + 1)
        if b"\r" in text or b"\n" in text:
            raise NonCanonical  # hiredis 0.14 keeps them, 1.x refuses the line
        if t == b"-":
            e = _error(text, depth == 0)
            return e, e, pos
        try:
            return text, text.decode("utf-8"), pos
        except UnicodeDecodeError:
            return text, UDE, pos
    if t == b":":
        text, pos = _line(buf, pos + 1)
        v = _int(text, -(2**63), 2**63 - 1)
        return v, v, pos
    if t == b"$":
        text, pos = _line(buf, pos + 1)
        n = _int(text, -1, 1 << 29)
        if n < 0:
            return None, None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        if buf[pos + n : pos + n + 2] != b"\r\n":
            raise NonCanonical
        data = buf[pos : pos + n]
        try:
            dec = data.decode("utf-8")
        except UnicodeDecodeError:
            dec = UDE
        return data, dec, pos + n + 2
    if t == b"*":
        if depth >= MAX_DEPTH:
            raise NonCanonical
        text, pos = _line(buf, pos + 1)
        n = _int(text, -1, 999_999)
        if n < 0:
            return None, None, pos
        plain, dec = [], []
        for _ in range(n):
            p, d, pos = _parse(buf, pos, depth + 1)
            plain.append(p)
            dec.append(d)
        return plain, (UDE if any(d is UDE for d in dec) else dec), pos
    raise NonCanonical


def reference(buf):
    """([(plain, decoded)...], status) with status "complete" (the stream ends
    after the last reply or inside a canonical partial one) or "stop"."""
    out, pos = [], 0
    while pos < len(buf):
        try:
            p, d, pos = _parse(buf, pos, 0)
        except Incomplete:
            return out, "complete"
        except NonCanonical:
            return out, "stop"
        out.append((p, d))
    return out, "complete"


# ---------------------------------------------------------------- the C reader


# hiredis 1.x parses RESP3 too: doubles and booleans become float and bool.
SCALARS = (int, float, bool) if _core.hiredis_version >= (1, 0, 0) else (int,)


def _check_type(v, decode):
    if v is None or type(v) in SCALARS:
        return
    if type(v) is (str if decode else bytes):
        return
    if type(v) is list:
        for x in v:
            _check_type(x, decode)
        return
    if isinstance(v, exceptions.RedisError) and type(v).__module__ == exceptions.__name__:
        assert len(v.args) == 1 and type(v.args[0]) is str, v.args
        if isinstance(v, exceptions.AskError):
            parsed = exceptions._parse_redirect(v.args[0])
            got = None if v.slot_id is None else (v.slot_id, v.host, v.port)
            assert got == parsed, (v, got, parsed)
        return
    raise AssertionError("unexpected reply type %r: %r" % (type(v), v))


def drain(reader, chunks, decode):
    """Outcomes: replies, UDE for a decode error, and at the end "end" or
    "protocol-error"."""
    out = []
    for chunk in chunks:
        try:
            reader.feed(chunk)
        except ConnectionError:
            out.append("protocol-error")
            return out
        while True:
            try:
                v = reader.gets()
            except ConnectionError:
                out.append("protocol-error")
                return out
            except UnicodeDecodeError:
                assert decode
                out.append(UDE)
                continue
            if v is False:
                break
            _check_type(v, decode)
            out.append(v)
    out.append("end")
    return out


def same(a, b):
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, BaseException):
        return a.args == b.args
    return a == b


def chunkings(data):
    rnd = random.Random(zlib.crc32(data))
    chunks, pos = [], 0
    while pos < len(data):
        n = rnd.choice((1, 1, 2, 3, 5, 8, 13, 64))
        chunks.append(data[pos : pos + n])
        pos += n
    return chunks


def test_one_input(data):
    if HUGE_ARRAY.search(data):
        return
    ref, status = reference(data)
    for decode in (False, True):
        whole = drain(_core.Reader(decode_responses=decode), [data], decode)
        parts = drain(_core.Reader(decode_responses=decode), chunkings(data), decode)
        assert len(whole) == len(parts) and all(map(same, whole, parts)), (decode, whole, parts)
        want = [d if decode else p for p, d in ref]
        got = whole[: len(want)]
        assert len(got) == len(want) and all(map(same, got, want)), (decode, got, want)
        if status == "complete":
            assert whole[len(want) :] == ["end"], (decode, whole[len(want) :])


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    main(test_one_input)
