#!/usr/bin/env python3
"""Turn build/resilience-results.jsonl into the results table of docs/reliability.md.

    python3 tests/resilience/report.py [--results FILE] [--doc FILE] [--check]

Each fault test appends one JSON line per run; the table shows the last line
of each test. The table replaces whatever stands between the markers
``<!-- resilience-results:begin -->`` and ``<!-- resilience-results:end -->``
in the document (appended at the end if the markers are missing). The table
is printed too. ``--check``: print only, change nothing.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BEGIN = "<!-- resilience-results:begin -->"
END = "<!-- resilience-results:end -->"
ORDER = ["kill9_master_seed", "kill9_master_other", "manual_failover", "reshard", "sigstop_short", "sigstop_failover",
         "rolling_restart"]


def last_rows(path):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                row = json.loads(line)
                rows[row["test"]] = row
    return [rows[t] for t in ORDER if t in rows] + \
        [rows[t] for t in sorted(rows) if t not in ORDER]


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
    return "; ".join(out)


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
        lines.append("Last runs: %s to %s, Python %s, %s CPUs." % (
            runs[0][0], runs[-1][0], ", ".join(sorted({r[1] for r in runs})),
            ", ".join(sorted({str(r[2]) for r in runs}))))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(ROOT / "build" / "resilience-results.jsonl"))
    ap.add_argument("--doc", default=str(ROOT / "docs" / "reliability.md"))
    ap.add_argument("--check", action="store_true", help="print the table, change nothing")
    args = ap.parse_args(argv)
    if not Path(args.results).exists():
        print("no results in %s (run make test-resilience)" % args.results, file=sys.stderr)
        return 1
    text = table(last_rows(args.results))
    print(text)
    if args.check:
        return 0
    doc = Path(args.doc)
    old = doc.read_text() if doc.exists() else ""
    block = "%s\n%s\n%s" % (BEGIN, text, END)
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block + "\n"
    if new != old:
        doc.write_text(new)
        print("updated %s" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
