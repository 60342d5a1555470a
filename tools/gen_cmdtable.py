#!/usr/bin/env python3
"""Generate csrc/cmdtable_gen.h, the command table of rediscluster._core.

The C engine finds the keys of a command (for slot routing) from this table,
without a ``COMMAND GETKEYS`` round trip. The table is read from a Redis >= 7.0
server's ``COMMAND`` reply (RESP2): for every command and every subcommand we
keep the arity, the flags, the request/response policy tips, the legacy
(first_key, last_key, step) triple and all key specs.

Usage::

    python tools/gen_cmdtable.py                  # private throwaway redis-server
    python tools/gen_cmdtable.py --port 7000      # an existing server on 127.0.0.1:7000
    python tools/gen_cmdtable.py --check          # exit 1 if the file is not up to date

By default a private ``redis-server --port 0 --unixsocket <tmp>/s.sock --save ''``
is started (``--redis-server`` picks the binary), queried over its unix socket and
shut down again. Output is deterministic: the same server version gives the same
file byte for byte.

Commands newer than the server the table was generated from (say, HEXPIRE from
Redis 7.4, or module commands such as JSON.GET from Redis Stack / Redis 8) are
picked up simply by re-running this script against such a server
(``--port``/``--host``/``--unix-socket``). Nothing in the C code is per-command,
except the two quirks listed in ``QUIRKS`` below, which describe key positions
the server's key specs cannot express.

Standard library only. This script does no network I/O other than talking to the
one server it was pointed at (or started).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "csrc", "cmdtable_gen.h"
)

# COMMAND flags -> RC_CMD_* (csrc/commands.h). Order = bit number. A flag a newer
# server reports that is not listed here is ignored and named in the header comment.
CMD_FLAGS = [
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
]
# Bits the generator adds itself (values must match commands.h).
EXTRA_FLAGS = {
    "container": 24,  # has subcommands (they follow it in the table)
    "subcommand": 25,  # "CONTAINER SUB" entry
    "nondeterministic_output": 26,  # tip
    "nondeterministic_output_order": 27,  # tip
}

# Key-spec flags -> RC_KSF_* bits.
KS_FLAGS = [
    "ro",
    "rw",
    "ow",
    "rm",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
]

REQUEST_POLICIES = ["", "all_nodes", "all_shards", "multi_shard", "special"]
RESPONSE_POLICIES = [
    "",
    "one_succeeded",
    "all_succeeded",
    "agg_logical_and",
    "agg_logical_or",
    "agg_min",
    "agg_max",
    "agg_sum",
    "special",
]

# Commands whose key positions the key specs cannot express; the C code handles
# them by name-independent quirk codes. Both mirror the server's own getkeys_proc.
QUIRKS = {
    # MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
    # [KEYS key...]: its KEYS spec is flagged "incomplete" (found by searching
    # backwards for "KEYS", which may be a password or a key name) and when KEYS
    # is given the "" at argv[3] is no key. Server: migrateGetKeys() (db.c).
    "MIGRATE": "RC_Q_MIGRATE",
    # SORT key ... [STORE dest]: BY/GET patterns and STORE are both "unknown"
    # specs; the patterns are not routing keys but STORE's destination is.
    # Server: sortGetKeys() (db.c), which honours the *last* STORE.
    "SORT": "RC_Q_SORT",
}

INT8 = (-128, 127)
INT16 = (-32768, 32767)


# ---------------------------------------------------------------------------
# Connections: the tooling's RESP client (scripts/_resp.py), strings decoded.

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
from _resp import Conn as Resp, RespError  # noqa: E402


def connect_unix(path: str, timeout: float) -> Resp:
    return Resp(unix=path, timeout=timeout, decode=True)


def connect_tcp(host: str, port: int, timeout: float) -> Resp:
    return Resp(host, port, timeout, decode=True)


class PrivateServer:
    """A throwaway redis-server on a unix socket in a temporary directory."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="rc-cmdtable-")
        self.sock_path = os.path.join(self.dir, "s.sock")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Resp:
        try:
            return self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _start(self) -> Resp:
        exe = shutil.which(self.binary) or self.binary
        cmd = [exe, "--port", "0", "--unixsocket", self.sock_path, "--save", ""]
        cmd += ["--appendonly", "no", "--dir", self.dir, "--daemonize", "no"]
        try:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        except OSError as e:
            raise SystemExit(
                "gen_cmdtable: cannot start %s: %s (see --redis-server, --port)"
                % (exe, e)
            ) from None
        deadline = time.monotonic() + 10.0
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(
                    "gen_cmdtable: %s exited with status %s"
                    % (exe, self.proc.returncode)
                )
            try:
                conn = connect_unix(self.sock_path, 5.0)
                conn.call("PING")
                return conn
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        "gen_cmdtable: %s did not answer on %s" % (exe, self.sock_path)
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# COMMAND reply -> table rows.


def kv(flat) -> dict:
    """RESP2 flat [k1, v1, k2, v2, ...] -> dict (a RESP3 map would already be one)."""
    if isinstance(flat, dict):
        return flat
    if flat is None:
        return {}
    return dict(zip(flat[::2], flat[1::2]))


def c_str(s: str) -> str:
    if not all(0x20 <= ord(ch) < 0x7F and ch not in '"\\' for ch in s):
        raise SystemExit("gen_cmdtable: unexpected character in %r" % s)
    return '"%s"' % s


def check_range(what: str, value: int, bounds: tuple[int, int]) -> int:
    if not bounds[0] <= value <= bounds[1]:
        raise SystemExit(
            "gen_cmdtable: %s = %d does not fit the table field" % (what, value)
        )
    return value


class Ignored:
    def __init__(self) -> None:
        self.flags: set[str] = set()
        self.tips: set[str] = set()


def convert_spec(cmdname: str, raw, ignored: Ignored) -> dict:
    d = kv(raw)
    flags = [f.lower() for f in d.get("flags", [])]
    bits = []
    for f in flags:
        if f in KS_FLAGS:
            bits.append("RC_KSF_" + f.upper())
        else:
            ignored.flags.add("keyspec:" + f)
    bs = kv(d["begin_search"])
    fk = kv(d["find_keys"])
    bs_type, bs_spec = bs.get("type"), kv(bs.get("spec"))
    fk_type, fk_spec = fk.get("type"), kv(fk.get("spec"))
    spec = {
        "flags": sorted(set(bits), key=lambda b: KS_FLAGS.index(b[7:].lower())),
        "keyword": None,
    }
    where = "%s key spec" % cmdname
    if bs_type == "unknown" or fk_type == "unknown":
        spec.update(kind="RC_KS_UNKNOWN", bs=0, fk=(0, 0, 0), fk_kind=None)
        return spec
    if bs_type == "index":
        spec["bs"] = check_range(where + " index", int(bs_spec["index"]), INT16)
        if spec["bs"] < 1:
            raise SystemExit(
                "gen_cmdtable: %s has begin_search index %d < 1" % (cmdname, spec["bs"])
            )
        kind = {"range": "RC_KS_RANGE", "keynum": "RC_KS_KEYNUM"}.get(fk_type)
    elif bs_type == "keyword":
        spec["bs"] = check_range(where + " startfrom", int(bs_spec["startfrom"]), INT16)
        spec["keyword"] = str(bs_spec["keyword"]).upper()
        kind = {"range": "RC_KS_KEYWORD", "keynum": "RC_KS_KEYWORD_KEYNUM"}.get(fk_type)
    else:
        kind = None
    if kind is None:
        raise SystemExit(
            "gen_cmdtable: %s: unsupported key spec %r/%r (update commands.c)"
            % (cmdname, bs_type, fk_type)
        )
    spec["kind"] = kind
    if fk_type == "range":
        vals = (int(fk_spec["lastkey"]), int(fk_spec["keystep"]), int(fk_spec["limit"]))
        if vals[1] < 1:
            raise SystemExit("gen_cmdtable: %s has keystep %d" % (cmdname, vals[1]))
        if vals[0] < -1 and vals[2] > 1:
            raise SystemExit(
                "gen_cmdtable: %s has limit with lastkey %d" % (cmdname, vals[0])
            )
        spec["fk_kind"] = "range"
    else:
        vals = (
            int(fk_spec["keynumidx"]),
            int(fk_spec["firstkey"]),
            int(fk_spec["keystep"]),
        )
        if vals[2] < 1 or vals[0] < 0:
            raise SystemExit("gen_cmdtable: %s has keynum spec %r" % (cmdname, vals))
        spec["fk_kind"] = "keynum"
    spec["fk"] = tuple(check_range(where, v, INT16) for v in vals)
    return spec


def convert_command(raw, container: str | None, ignored: Ignored) -> dict:
    name, arity, flags, first, last, step = raw[:6]
    tips = raw[7] if len(raw) > 7 else []
    specs = raw[8] if len(raw) > 8 else None
    subs = raw[9] if len(raw) > 9 else []
    if specs is None:
        raise SystemExit(
            "gen_cmdtable: COMMAND reply has no key specs; Redis >= 7.0 is required"
        )
    name = str(name).upper()
    if container is not None:
        prefix, _, sub = name.partition("|")
        if prefix != container or not sub:
            raise SystemExit(
                "gen_cmdtable: odd subcommand name %r of %r" % (name, container)
            )
        name = container + " " + sub
    bits = []
    for f in flags:
        f = str(f).lower()
        if f in CMD_FLAGS:
            bits.append("RC_CMD_" + f.upper())
        else:
            ignored.flags.add(f)
    req = resp = ""
    for t in tips:
        t = str(t).lower()
        if t.startswith("request_policy:") and t.split(":", 1)[1] in REQUEST_POLICIES:
            req = t.split(":", 1)[1]
        elif (
            t.startswith("response_policy:") and t.split(":", 1)[1] in RESPONSE_POLICIES
        ):
            resp = t.split(":", 1)[1]
        elif t in EXTRA_FLAGS:
            bits.append("RC_CMD_" + t.upper())
        else:
            ignored.tips.add(t)
    if container is not None:
        bits.append("RC_CMD_SUBCOMMAND")
    if subs:
        bits.append("RC_CMD_CONTAINER")
    order = CMD_FLAGS + sorted(EXTRA_FLAGS, key=EXTRA_FLAGS.get)
    bits = sorted(set(bits), key=lambda b: order.index(b[7:].lower()))
    return {
        "name": name,
        "arity": check_range(name + " arity", int(arity), INT8),
        "legacy": tuple(
            check_range(name + " legacy keys", int(v), INT8)
            for v in (first, last, step)
        ),
        "flags": bits,
        "req": req,
        "resp": resp,
        "specs": [convert_spec(name, s, ignored) for s in specs],
        "quirk": QUIRKS.get(name, "RC_Q_NONE"),
        "subs": [convert_command(s, name, ignored) for s in subs or []],
    }


def build_rows(reply) -> tuple[list[dict], Ignored]:
    ignored = Ignored()
    rows = []
    for raw in reply:
        cmd = convert_command(raw, None, ignored)
        rows.append(cmd)
        rows.extend(cmd["subs"])
    rows.sort(key=lambda r: r["name"].encode())
    names = [r["name"] for r in rows]
    if len(set(names)) != len(names):
        raise SystemExit("gen_cmdtable: duplicate command names")
    # Subcommands must sit right after their container ("X" < "X " + anything
    # < "X<any name byte>", since ' ' sorts below every byte a name uses).
    index = {r["name"]: i for i, r in enumerate(rows)}
    for r in rows:
        if r["subs"]:
            i = index[r["name"]]
            got = [x["name"] for x in rows[i + 1 : i + 1 + len(r["subs"])]]
            if got != sorted(s["name"] for s in r["subs"]):
                raise SystemExit(
                    "gen_cmdtable: subcommands of %s are not contiguous" % r["name"]
                )
            if len(r["subs"]) > 255:
                raise SystemExit(
                    "gen_cmdtable: %s has too many subcommands" % r["name"]
                )
    for r in rows:
        if len(r["name"]) > 255:
            raise SystemExit("gen_cmdtable: command name too long: %s" % r["name"])
    return rows, ignored


# ---------------------------------------------------------------------------
# Output.


def emit(rows: list[dict], ignored: Ignored, version: str, source: str) -> str:
    out = []
    w = out.append
    w("/* cmdtable_gen.h - GENERATED FILE, DO NOT EDIT.")
    w(" *")
    w(
        " * Generated by tools/gen_cmdtable.py from the COMMAND reply of Redis %s"
        % version
    )
    w(" * (%s)." % source)
    w(
        " * Regenerate: python tools/gen_cmdtable.py [--port N]   (see the script's docstring;"
    )
    w(" * run it against a newer server to pick up newer commands).")
    w(" *")
    w(" * Included by commands.c only: it defines the static tables rc_keyspecs[] and")
    w(" * rc_cmdtable[]. rc_cmdtable[] is sorted by the byte order of the upper-case")
    w(' * name; a container\'s subcommands ("XINFO STREAM") follow it directly.')
    if ignored.flags or ignored.tips:
        w(" *")
        w(
            " * Server flags/tips without an RC_ constant (ignored): %s."
            % ", ".join(sorted(ignored.flags | ignored.tips))
        )
    w(" */")
    w("")
    w("#ifndef RC_CMDTABLE_INCLUDE")
    w('#error "cmdtable_gen.h is included by commands.c only"')
    w("#endif")
    w("")
    w('#define RC_CMDTABLE_REDIS_VERSION "%s"' % version)
    w("#define RC_CMDTABLE_LEN %d" % len(rows))
    w(
        "#define RC_CMDTABLE_NAME_MAX %d  /* longest name, bytes */"
        % max(len(r["name"]) for r in rows)
    )
    w(
        "#define RC_CMDTABLE_SPECS_MAX %d  /* most key specs of one command */"
        % max(len(r["specs"]) for r in rows)
    )
    w("")

    spec_off = []
    specs_out = []
    for r in rows:
        spec_off.append(len(specs_out))
        for s in r["specs"]:
            specs_out.append((r["name"], s))
    if len(specs_out) > 65535:
        raise SystemExit("gen_cmdtable: too many key specs")
    w("static const rc_keyspec rc_keyspecs[] = {")
    w("    /* keyword, flags, kind, keyword_len, bs, find_keys */")
    if not specs_out:
        w("    {0},")
    for name, s in specs_out:
        flags = "|".join(s["flags"]) or "0"
        kw = c_str(s["keyword"]) if s["keyword"] is not None else "NULL"
        kwlen = len(s["keyword"]) if s["keyword"] is not None else 0
        if s["fk_kind"] == "keynum":
            fk = ".fk.keynum = {%d, %d, %d}" % s["fk"]
        else:
            fk = ".fk.range = {%d, %d, %d}" % s["fk"]
        w(
            "    {%s, %s, %s, %d, %d, %s}, /* %s */"
            % (kw, flags, s["kind"], kwlen, s["bs"], fk, name)
        )
    w("};")
    w("")
    w("static const rc_cmdinfo rc_cmdtable[] = {")
    w(
        "    /* name, flags, specs, name_len, arity, nspecs, nsubs, first_key, last_key, key_step,"
    )
    w("       quirk, request_policy, response_policy */")
    for r, off in zip(rows, spec_off):
        flags = "|".join(r["flags"]) or "0"
        req = "RC_REQ_" + (r["req"].upper() or "DEFAULT")
        resp = "RC_RESP_" + (r["resp"].upper() or "DEFAULT")
        w(
            "    {%s, %s, %d, %d, %d, %d, %d, %d, %d, %d, %s, %s, %s},"
            % (
                c_str(r["name"]),
                flags,
                off,
                len(r["name"]),
                r["arity"],
                len(r["specs"]),
                len(r["subs"]),
                r["legacy"][0],
                r["legacy"][1],
                r["legacy"][2],
                r["quirk"],
                req,
                resp,
            )
        )
    w("};")
    w("")
    size, index = name_hash_index(rows)
    w("/* Names -> rc_cmdtable index + 1 (0: empty), open addressing with")
    w(" * linear probing on rc_name_hash(upper-case name) (FNV-1a 32) & (size - 1). */")
    w("#define RC_CMDTABLE_HASH_SIZE %d" % size)
    w("static const uint16_t rc_cmdhash[RC_CMDTABLE_HASH_SIZE] = {")
    for i in range(0, size, 16):
        w("    " + ", ".join(str(v) for v in index[i : i + 16]) + ",")
    w("};")
    w("")
    return "\n".join(out)


def name_hash(name: str) -> int:
    """FNV-1a (32 bits) of the upper-case name's bytes: commands.c's rc_name_hash."""
    h = 2166136261
    for b in name.upper().encode("ascii"):
        h ^= b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def name_hash_index(rows: list[dict]) -> tuple[int, list[int]]:
    """The hash index of every name ("GET", "XINFO STREAM"): (size, slots) with
    slots[i] the table position + 1 of the name stored there, 0 when empty."""
    names = [(i, r["name"]) for i, r in enumerate(rows)]
    size = 16
    while size < 4 * len(names):
        size *= 2
    slots = [0] * size
    for i, name in names:
        h = name_hash(name) & (size - 1)
        while slots[h]:
            h = (h + 1) & (size - 1)
        slots[h] = i + 1
    return size, slots


def _sans_source(text: str) -> list[str]:
    """The header without its " * (server ...)" line, which may differ between
    runs against the same version."""
    return [ln for ln in text.splitlines() if not ln.startswith(" * (")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--port",
        type=int,
        help="use the existing server at --host:PORT instead of a private one",
    )
    ap.add_argument(
        "--host", default="127.0.0.1", help="host for --port (default 127.0.0.1)"
    )
    ap.add_argument(
        "--unix-socket", help="use the existing server listening on this unix socket"
    )
    ap.add_argument(
        "--redis-server", default="redis-server", help="binary for the private server"
    )
    ap.add_argument(
        "--output", "-o", default=DEFAULT_OUTPUT, help="default: csrc/cmdtable_gen.h"
    )
    ap.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if --output differs"
    )
    args = ap.parse_args(argv)

    def query(conn: Resp) -> tuple[list, str]:
        try:
            reply = conn.call("COMMAND")
            info = conn.call("INFO", "server")
        finally:
            conn.close()
        version = "unknown"
        for line in info.splitlines():
            if line.startswith("redis_version:"):
                version = line.split(":", 1)[1].strip()
        return reply, version

    if args.port is not None or args.unix_socket:
        where = args.unix_socket or "%s:%d" % (args.host, args.port)
        try:
            if args.unix_socket:
                conn = connect_unix(args.unix_socket, 10.0)
                source = "server on a unix socket"
            else:
                conn = connect_tcp(args.host, args.port, 10.0)
                source = "server at %s" % where
            reply, version = query(conn)
        except (OSError, RespError) as e:
            raise SystemExit("gen_cmdtable: %s: %s" % (where, e)) from None
    else:
        with PrivateServer(args.redis_server) as conn:
            reply, version = query(conn)
        source = "private redis-server"

    rows, ignored = build_rows(reply)
    text = emit(rows, ignored, version, source)
    path = os.path.normpath(args.output)
    if args.check:
        try:
            with open(path, encoding="ascii") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current is None or _sans_source(current) != _sans_source(text):
            print("gen_cmdtable: %s is not up to date" % path, file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    print(
        "gen_cmdtable: wrote %s: %d entries from Redis %s" % (path, len(rows), version),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
