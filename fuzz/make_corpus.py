"""Write the seed corpus (fuzz/corpus/{reply,pack,engine}/), deterministically.

    python3 fuzz/make_corpus.py          # rewrite the seeds (stdlib only)

The seeds are small on purpose: every RESP2 type, nested arrays up to and past
hiredis 0.14's depth limit, errors of every class in the error table
(MOVED/ASK valid, IPv6, empty host, malformed; TRYAGAIN, CLUSTERDOWN longer
than the engine's 1023-byte cut, MASTERDOWN, the exact-match ERR messages),
non-UTF-8 strings, big declared lengths, truncated replies, several replies
in one stream, protocol garbage. The pack seeds encode argument lists for
fuzz_pack.py's input format (one per interesting command shape); the engine
seeds are reply seeds behind each control byte.
"""

import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def arr(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def nested(depth, leaf=b":1\r\n"):
    return b"*1\r\n" * depth + leaf


REPLIES = {
    "status": b"+OK\r\n",
    "status-empty": b"+\r\n",
    "status-cr-inside": b"+a\rb\r\n",
    "status-non-utf8": b"+\xff\xfe\r\n",
    "bulk": bulk(b"hello"),
    "bulk-empty": bulk(b""),
    "bulk-binary": bulk(b"\r\n\x00\n"),
    "bulk-utf8": bulk("大奖".encode()),
    "bulk-non-utf8": bulk(b"\xff\xfe") + b"+next\r\n",
    "bulk-null": b"$-1\r\n",
    "bulk-no-crlf-after-data": b"$1\r\naxy",
    "int": b":42\r\n",
    "int-zero": b":0\r\n",
    "int-negative": b":-7\r\n",
    "int-max": b":9223372036854775807\r\n",
    "int-min": b":-9223372036854775808\r\n",
    "int-overflow": b":9223372036854775808\r\n",
    "int-bad": b":12a\r\n",
    "array": arr(b":1\r\n", bulk(b"a"), b"+b\r\n"),
    "array-empty": b"*0\r\n",
    "array-null": b"*-1\r\n",
    "array-nulls": arr(b"$-1\r\n", b"*-1\r\n", bulk(b"")),
    "array-nested": arr(arr(b":1\r\n", b":2\r\n"), arr(b"*0\r\n")),
    "array-depth-8": nested(8),
    "array-depth-9": nested(9),
    "array-depth-7-siblings": arr(nested(6, arr(b":1\r\n", bulk(b"x"))), b"+end\r\n"),
    "array-non-utf8-inside": arr(bulk(b"\xff"), arr(bulk(b"\xfe"), b":5\r\n"), b"+tail\r\n") + bulk(b"ok"),
    "cluster-slots": arr(arr(b":0\r\n", b":16383\r\n", arr(bulk(b"127.0.0.1"), b":7000\r\n", bulk(b"id")))),
    "hgetall": arr(bulk(b"f1"), bulk(b"v1"), bulk(b"f2"), bulk(b"v2")),
    "err": b"-ERR unknown command 'FOO'\r\n",
    "err-code-only": b"-ERR\r\n",
    "err-wrongtype": b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    "err-exact-auth": b"-ERR invalid password\r\n",
    "err-exact-maxclients": b"-ERR max number of clients reached\r\n",
    "err-noscript": b"-NOSCRIPT No matching script\r\n",
    "err-readonly": b"-READONLY You can't write against a read only replica.\r\n",
    "err-loading": b"-LOADING Redis is loading the dataset in memory\r\n",
    "err-noauth": b"-NOAUTH Authentication required.\r\n",
    "err-crossslot": b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    "err-execabort": b"-EXECABORT Transaction discarded\r\n",
    "err-non-utf8": b"-ERR bad \xff byte\r\n+next\r\n",
    "err-empty": b"-\r\n",
    "moved": b"-MOVED 3999 127.0.0.1:7002\r\n",
    "moved-ipv6": b"-MOVED 1 [::1]:7000\r\n",
    "moved-empty-host": b"-MOVED 16383 :7001\r\n",
    "moved-bad-slot": b"-MOVED 16384 127.0.0.1:7002\r\n",
    "moved-bad-port": b"-MOVED 1 127.0.0.1:0\r\n",
    "moved-no-colon": b"-MOVED 1 localhost\r\n",
    "moved-no-args": b"-MOVED\r\n",
    "moved-two-spaces": b"-MOVED  1 h:1\r\n",
    "moved-host-with-space": b"-MOVED 1 a b:7000\r\n",
    "moved-long-host": b"-MOVED 1 " + b"h" * 300 + b":7000\r\n",
    "ask": b"-ASK 3999 127.0.0.1:7002\r\n",
    "ask-then-value": b"-ASK 1 h:1\r\n+after\r\n",
    "tryagain": b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    "clusterdown": b"-CLUSTERDOWN The cluster is down\r\n",
    "clusterdown-long": b"-CLUSTERDOWN " + b"x" * 1100 + b"\r\n",
    "clusterdown-long-utf8-cut": b"-CLUSTERDOWN " + "é".encode() * 600 + b"\r\n",
    "masterdown": b"-MASTERDOWN Link with MASTER is down\r\n",
    "errors-in-array": arr(b"+OK\r\n", b"-ERR inner\r\n", b"-MOVED 1 h:1\r\n", b"-ASK 2 h:2\r\n"),
    "several": b"+OK\r\n:1\r\n$3\r\nabc\r\n*1\r\n$-1\r\n-ERR boom\r\n$-1\r\n",
    "big-bulk-length": b"$536870912\r\nabc",
    "big-array-count": b"*999999\r\n:1\r\n",
    "truncated-bulk": b"$5\r\nhel",
    "truncated-array": arr(b":1\r\n")[:-3],
    "truncated-line": b"+OK\r",
    "truncated-header": b"$5",
    "garbage-type": b"?foo\r\n",
    "garbage-inline": b"hello\r\n",
    "garbage-after-good": b"+one\r\n?garbage\r\n",
    "garbage-negative-len": b"$-5\r\n",
    "garbage-in-array": b"*2\r\n:1\r\n!x\r\n",
    "resp3-map": b"%1\r\n+a\r\n:1\r\n",
    "resp3-double": b",1.5\r\n",
}

PACK_NAMES = [
    "GET", "SET", "MGET", "MSET", "DEL", "EXISTS", "INCR", "EVAL", "EVALSHA", "FCALL",
    "EVAL_RO", "ZUNIONSTORE", "ZUNION", "ZINTERCARD", "LMPOP", "BLMPOP", "ZMPOP",
    "SINTERCARD", "XREAD", "XREADGROUP", "GEORADIUS", "GEORADIUSBYMEMBER", "SORT",
    "SORT_RO", "MIGRATE", "OBJECT", "XINFO", "CONFIG", "CLUSTER", "MEMORY", "SPUBLISH",
    "SSUBSCRIBE", "PUBLISH", "BITOP", "LMOVE", "BLPOP", "RENAME", "COPY", "XADD",
    "GETEX", "PING", "INFO", "KEYS", "SCAN", "FOO", "COMMAND", "FUNCTION", "SCRIPT",
    "XINFO STREAM", "XINFO GROUPS", "OBJECT ENCODING", "CONFIG GET", "MEMORY USAGE",
    "CLUSTER KEYSLOT", "CLIENT LIST", "XGROUP CREATE", "  GET  ", "GET\tX", "",
]
KEYWORDS = [
    "STREAMS", "STORE", "STOREDIST", "KEYS", "AUTH", "AUTH2", "BY", "GET", "LIMIT",
    "COPY", "REPLACE", "WEIGHTS", "AGGREGATE", "COUNT", "BLOCK", "LEFT", "RIGHT",
    "ENCODING", "STREAM", "GROUPS", "USAGE", "{tag}", "{", "}", "{}", "$", "*",
]


class Writer:
    """The inverse of _fuzzlib.Bytes: writes the bytes that make it return
    the given choices."""

    def __init__(self):
        self.out = bytearray()

    def int_in(self, lo, hi, v):
        span = hi - lo
        if span <= 0:
            return
        nbytes = min((span.bit_length() + 7) // 8, 8)
        self.out += (v - lo).to_bytes(nbytes, "big")

    def bool(self, v):
        self.out.append(1 if v else 0)

    def blob(self, data, maxlen=32):
        self.int_in(0, maxlen, len(data))
        self.out += data

    def pick(self, seq, item):
        self.int_in(0, len(seq) - 1, seq.index(item))


def pack_seed(name, *args, mode=0):
    """name: a PACK_NAMES entry; mode 0 as is, 1 lower case, 2 bytes.
    args: ("kw", word, lower) | ("num", n) | ("bytes", b) | ("int", n) |
    ("kind", k, raw-bytes-after-kind)."""
    w = Writer()
    w.int_in(0, 11, 1 + len(args))
    w.int_in(0, 3, 1)
    w.pick(PACK_NAMES, name)
    w.int_in(0, 2, mode)
    for a in args:
        if a[0] == "kw":
            w.int_in(0, 17, 3)
            w.pick(KEYWORDS, a[1])
            w.bool(a[2] if len(a) > 2 else False)
        elif a[0] == "num":
            w.int_in(0, 17, 4)
            w.int_in(-3, 12, a[1])
        elif a[0] == "bytes":
            w.int_in(0, 17, 0)
            w.blob(a[1])
        elif a[0] == "int":
            w.int_in(0, 17, 17)
            w.int_in(-3, 12, a[1])
        else:
            w.int_in(0, 17, a[1])
            w.out += a[2]
    return bytes(w.out)


def k(b):
    return ("bytes", b)


PACK = {
    "get": pack_seed("GET", k(b"key")),
    "get-hashtag": pack_seed("GET", k(b"a{tag}b")),
    "set-lower": pack_seed("SET", k(b"k"), k(b"v"), mode=1),
    "mset": pack_seed("MSET", k(b"a"), k(b"1"), k(b"b"), k(b"2")),
    "eval-2-keys": pack_seed("EVAL", k(b"return 1"), ("num", 2), k(b"a"), k(b"b"), k(b"x")),
    "eval-0-keys": pack_seed("EVAL", k(b"return 1"), ("num", 0)),
    "eval-bad-numkeys": pack_seed("EVAL", k(b"s"), ("num", 5), k(b"a")),
    "fcall-int-numkeys": pack_seed("FCALL", k(b"f"), ("int", 1), k(b"a")),
    "zunionstore": pack_seed("ZUNIONSTORE", k(b"d"), ("num", 2), k(b"a"), k(b"b"), ("kw", "WEIGHTS"), ("num", 1), ("num", 2)),
    "lmpop": pack_seed("LMPOP", ("num", 2), k(b"a"), k(b"b"), ("kw", "LEFT")),
    "xread": pack_seed("XREAD", ("kw", "COUNT"), ("num", 1), ("kw", "STREAMS", True), k(b"s1"), k(b"s2"), ("num", 0), ("num", 0)),
    "xreadgroup": pack_seed("XREADGROUP", ("kw", "GROUPS"), k(b"g"), k(b"c"), ("kw", "STREAMS"), k(b"s"), k(b">")),
    "georadius-store": pack_seed("GEORADIUS", k(b"g"), ("num", 1), ("num", 2), ("num", 3), k(b"km"), ("kw", "STORE"), k(b"d"), ("kw", "STOREDIST"), k(b"e")),
    "sort-store": pack_seed("SORT", k(b"l"), ("kw", "BY"), k(b"w_*"), ("kw", "GET"), ("kw", "STORE"), ("kw", "STORE"), k(b"dst")),
    "migrate-keys": pack_seed("MIGRATE", k(b"h"), ("num", 7), k(b""), ("num", 0), ("num", 5), ("kw", "AUTH"), ("kw", "KEYS"), ("kw", "KEYS"), k(b"a"), k(b"b")),
    "migrate-auth2": pack_seed("MIGRATE", k(b"h"), ("num", 7), k(b"key"), ("num", 0), ("num", 5), ("kw", "AUTH2"), k(b"u"), k(b"p")),
    "xinfo-stream": pack_seed("XINFO STREAM", k(b"s")),
    "xinfo-split": pack_seed("XINFO", ("kw", "STREAM", True), k(b"s")),
    "object-encoding": pack_seed("OBJECT ENCODING", k(b"o")),
    "config-get": pack_seed("CONFIG GET", ("kw", "*")),
    "spublish": pack_seed("SPUBLISH", k(b"ch"), k(b"msg")),
    "publish": pack_seed("PUBLISH", k(b"ch"), k(b"msg")),
    "unknown-command": pack_seed("FOO", k(b"a"), k(b"b")),
    "whitespace-name": pack_seed("  GET  ", k(b"k")),
    "tab-name": pack_seed("GET\tX", k(b"k")),
    "empty-name": pack_seed("", k(b"k")),
    "types": pack_seed("SET", ("kind", 5, b"\x80" + b"\0" * 7), ("kind", 6, b"\1" * 9), ("kind", 7, b"\0\0\0\0\0\0\xf8\x7f"),
                       ("kind", 8, b"\1"), ("kind", 9, b""), ("kind", 10, b"\2ab")),
    "types-2": pack_seed("GET", ("kind", 11, b"\4abcd\2"), ("kind", 12, b"\1\3"), ("kind", 13, b"\2"), ("kind", 14, b"\1\2\xe9x"),
                         ("kind", 15, b"\3"), ("kind", 16, b"\2\1\2"), ("kind", 2, b"\2\xed\xa0")),
    "str-latin1": pack_seed("SET", ("kind", 1, b"\3\xe9t\xe9"), k(b"v")),
}

ENGINE_REPLIES = [
    "status", "bulk", "bulk-null", "bulk-non-utf8", "int", "array", "array-nested",
    "hgetall", "err", "err-wrongtype", "moved", "moved-empty-host", "ask", "ask-then-value",
    "tryagain", "clusterdown", "masterdown", "several", "truncated-bulk", "garbage-type",
    "array-depth-9", "err-non-utf8",
]


def write(sub, items):
    d = os.path.join(CORPUS, sub)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in items:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    write("reply", sorted(REPLIES.items()))
    write("pack", sorted(PACK.items()))
    items = []
    for call in range(8):
        for name in ENGINE_REPLIES:
            items.append(("c%d-%s" % (call, name), bytes([call << 1]) + REPLIES[name]))
    # keep-open and decode variants of a few
    for name in ("bulk-non-utf8", "truncated-bulk", "several", "moved"):
        items.append(("c0-keep-%s" % name, bytes([0x21]) + REPLIES[name]))
        items.append(("c0-decode-%s" % name, bytes([0x10]) + REPLIES[name]))
    items.append(("c4-pipeline-replies", bytes([4 << 1]) + b"+OK\r\n$1\r\nv\r\n:1\r\n"))
    items.append(("c5-batch-replies", bytes([5 << 1]) + b"$-1\r\n-MOVED 1 x:1\r\n$1\r\nz\r\n"))
    items.append(("c3-mget-replies", bytes([3 << 1]) + arr(bulk(b"1"), b"$-1\r\n")))
    write("engine", sorted(items))
    print("wrote %d reply, %d pack, %d engine seeds" % (len(REPLIES), len(PACK), len(items)))


if __name__ == "__main__":
    main()
