"""tests/resilience/report.py: one results table per server in the document,
and a run against one server leaves the other servers' tables alone."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_report():
    spec = importlib.util.spec_from_file_location(
        "resilience_report", ROOT / "tests" / "resilience" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def row(test, server=None, version=None, ops=100, when="2026-01-01T00:00:00Z"):
    r = {"test": test, "broken": "something", "errors": {}, "failed_ops": 0,
         "recovery_s": 0.0, "max_latency_s": 0.01, "ops": ops, "wrong": 0, "lost_acked": 0,
         "cluster_slots_per_s": 0.5, "threads": 4, "duration_s": 5.0,
         "ops_by_type": {"get": ops}, "unknown_outcome": 0, "cluster_slots_calls": 2,
         "client_refreshes": 2, "client_connections": 4, "sockets_leaked": 0,
         "when": when, "python": "3.11.7", "cpus": 2}
    if test == "reshard":
        r.update(reshard_s=[1.0, 2.0], asking_calls=3, filler_keys=10)
    if server:
        r.update(server=server, server_version=version)
    return r


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_one_table_per_server_and_the_others_kept(tmp_path):
    report = load_report()
    results, doc = tmp_path / "results.jsonl", tmp_path / "doc.md"
    doc.write_text("# Doc\n\ntext\n")
    write(results, [row("reshard", ops=1),  # before servers were recorded: Redis 7.0
                    row("reshard", "redis", "7.0.15", ops=2),
                    row("manual_failover", "valkey", "9.1.2", ops=3),
                    row("reshard", "valkey", "9.1.2", ops=4)])
    assert report.main(["--results", str(results), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("# Doc\n\ntext\n")
    for key in ("redis-7.0", "valkey-9.1"):
        assert text.count("<!-- resilience-results:%s:begin -->" % key) == 1
        assert text.count("<!-- resilience-results:%s:end -->" % key) == 1
    redis = text[text.index("redis-7.0:begin"):text.index("redis-7.0:end")]
    valkey = text[text.index("valkey-9.1:begin"):text.index("valkey-9.1:end")]
    assert "| `reshard` | 2 |" in redis and "| `reshard` | 1 |" not in redis  # the last run
    assert "Server: Redis 7.0.15." in redis
    assert "| `manual_failover` | 3 |" in valkey and "| `reshard` | 4 |" in valkey
    assert valkey.index("manual_failover") < valkey.index("`reshard`")  # ORDER
    assert "Server: Valkey 9.1.2." in valkey

    # a later run against Redis only: its table changes, Valkey's stays
    text = text.replace("text\n", "text, edited by hand\n")
    doc.write_text(text)
    write(results, [row("reshard", "redis", "7.0.15", ops=5)])
    assert report.main(["--results", str(results), "--doc", str(doc)]) == 0
    new = doc.read_text()
    assert "edited by hand" in new
    assert "| `reshard` | 5 |" in new[new.index("redis-7.0:begin"):new.index("redis-7.0:end")]
    assert new[new.index("valkey-9.1:begin"):new.index("valkey-9.1:end")] == valkey

    # --check changes nothing
    write(results, [row("reshard", "redis", "7.0.15", ops=6)])
    assert report.main(["--results", str(results), "--doc", str(doc), "--check"]) == 0
    assert doc.read_text() == new
