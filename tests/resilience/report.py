#!/usr/bin/env python3
"""Turn build/resilience-results.jsonl into the results tables of docs/reliability.md.

    python3 tests/resilience/report.py [--results FILE] [--doc FILE] [--check]

Each fault test appends one JSON line per run, naming the server it ran
against; there is one table per server (Redis 7.0, Valkey 9.1, ...), made of
the last line of each test on that server. A server's table replaces what
stands between its markers ``<!-- resilience-results:SERVER:begin -->`` and
``<!-- resilience-results:SERVER:end -->`` in the document (SERVER:
``redis-7.0``, ``valkey-9.1``, ...; appended at the end if missing), so a run
against one server leaves the other servers' tables as they are. The tables
are printed too. ``--check``: print only, change nothing.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MARK = "<!-- resilience-results:%s:%s -->"
ORDER = ["kill9_master_seed", "kill9_master_other", "manual_failover", "reshard", "sigstop_short", "sigstop_failover",
         "rolling_restart"]


def server_key(row):
    """The server's table a row belongs to: 'redis-7.0', 'valkey-9.1', ...
    (rows written before the server was recorded were Redis 7.0's)."""
    name = row.get("server", "redis")
    version = row.get("server_version", "7.0")
    return "%s-%s" % (name, ".".join(version.split(".")[:2]))


def last_rows(path):
    """{server key: the last row of each test on that server, in ORDER}."""
    by_server = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                row = json.loads(line)
                by_server.setdefault(server_key(row), {})[row["test"]] = row
    return {key: [rows[t] for t in ORDER if t in rows] +
            [rows[t] for t in sorted(rows) if t not in ORDER]
            for key, rows in by_server.items()}


def secs(v):
    return "—" if v is None else "%.2f s" % v


def errors_text(row):
    errors = row["errors"]
    if not errors:
        return "0"
    return "%d in %d ops: %s" % (sum(errors.values()), row["failed_ops"],
                                 ", ".join("%s %d" % (k, v) for k, v in sorted(errors.items())))


def notes(row):
    t = row["test"]
    out = []
    if row.get("failover_s") is not None and t != "rolling_restart":
        out.append("replica master after %s" % secs(row["failover_s"]))
    if t == "reshard":
        out.append("%d reshards of 500 slots, %s s each" % (
            len(row["reshard_s"]), "/".join("%.1f" % s for s in row["reshard_s"])))
        out.append("%d ASKING sent" % row["asking_calls"])
        out.append("%d filler keys migrated with them" % row["filler_keys"])
    if t == "sigstop_short":
        out.append("slowest failed call %s" % secs(row["slowest_failed_call_s"]))
        out.append("%d errors on the other masters" % row["errors_on_other_masters"])
        out.append("%d calls served by them meanwhile" % row["ok_ops_while_frozen"])
    if t == "sigstop_failover":
        out.append("frozen %s" % secs(row["frozen_s"]))
        out.append("served again while still frozen: %s"
                   % ("yes" if row["recovered_while_frozen"] else "NO"))
        out.append("slowest failed call %s" % secs(row["slowest_failed_call_s"]))
    if t == "rolling_restart":
        out.append("per master: " + "; ".join(
            "%d: %d errors, promoted after %s, served again after %s"
            % (r["master"], r["errors"], secs(r["failover_s"]), secs(r["recovery_s"]))
            for r in row["per_restart"]))
    if row.get("late_writes"):
        out.append("%d abandoned writes applied late" % row["late_writes"])
    if row.get("slow_ops"):
        out.append("%d calls slower than 0.25 s" % row["slow_ops"])
    return "; ".join(out)


def server_label(rows):
    versions = sorted({"%s %s" % (r.get("server", "redis").capitalize(),
                                  r.get("server_version", "7.0")) for r in rows})
    return ", ".join(versions)


def table(rows):
    # Two tables of five columns rather than one of nine: each fits the manual's
    # column (tools/check_docs.py checks that).
    head = "| test | what was broken | errors (failed ops): by type | recovery time | slowest call |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            r["test"], r["broken"], errors_text(r), secs(r.get("recovery_s")),
            secs(r["max_latency_s"])))
    lines.append("")
    head = ("| test | operations | wrong results | acked writes lost "
            "| CLUSTER SLOTS calls/s |")
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append("| `%s` | %d | %d | %d | %.1f |" % (
            r["test"], r["ops"], r["wrong"] + r.get("final_wrong", 0),
            r["lost_acked"] + r.get("final_lost", 0), r["cluster_slots_per_s"]))
    lines.append("")
    for r in rows:
        extra = notes(r)
        lines.append(
            "- `%s`: %d threads, %.1f s of load (%s); %d writes of unknown outcome; "
            "%d CLUSTER SLOTS calls (%d client refreshes); %d client connections at the end, "
            "%s sockets left after close()%s." % (
                r["test"], r["threads"], r["duration_s"],
                ", ".join("%d %s" % (v, k) for k, v in sorted(r["ops_by_type"].items())),
                r["unknown_outcome"], r["cluster_slots_calls"], r["client_refreshes"],
                r["client_connections"], r.get("sockets_leaked", "?"),
                ("; " + extra) if extra else ""))
    runs = sorted({(r["when"], r["python"], r["cpus"]) for r in rows})
    if runs:
        lines.append("")
        lines.append("Server: %s. Last runs: %s to %s, Python %s, %s CPUs." % (
            server_label(rows), runs[0][0], runs[-1][0],
            ", ".join(sorted({r[1] for r in runs})),
            ", ".join(sorted({str(r[2]) for r in runs}))))
    return "\n".join(lines)


def replace_block(doc, key, text):
    """doc with server ``key``'s block (markers included) set to ``text``."""
    begin, end = MARK % (key, "begin"), MARK % (key, "end")
    block = "%s\n%s\n%s" % (begin, text, end)
    if begin in doc and end in doc:
        return doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    return doc.rstrip("\n") + ("\n\n" if doc else "") + block + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(ROOT / "build" / "resilience-results.jsonl"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "reliability.md"))
    ap.add_argument("--check", action="store_true", help="print the table, change nothing")
    args = ap.parse_args(argv)
    if not Path(args.results).exists():
        print("no results in %s (run make test-resilience)" % args.results, file=sys.stderr)
        return 1
    tables = {key: table(rows) for key, rows in sorted(last_rows(args.results).items())}
    for key, text in tables.items():
        print("== %s\n%s" % (key, text))
    if args.check:
        return 0
    doc = Path(args.doc)
    old = doc.read_text() if doc.exists() else ""
    new = old
    for key, text in tables.items():
        new = replace_block(new, key, text)
    if new != old:
        doc.write_text(new)
        print("updated %s" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
