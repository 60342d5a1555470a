"""benchmarks/compare.py end to end on ours, briefly: every section runs (tiny n, one
repeat, no peers, no redis-benchmark, no callgrind), the JSON holds a figure for each
row ours can run and the reason for each it cannot, and the benchmark keys are gone
afterwards. The figures themselves mean nothing here (`make bench` is for those)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "test:benchsmoke:"


def test_compare_runs_every_section_on_ours(cluster_addr, raw, cluster, tmp_path):
    host, port = cluster_addr
    out = tmp_path / "run.json"
    sections = ["sync", "threads", "async"]
    # Not under AddressSanitizer (make asan): greenlet saves and restores C
    # stacks with memcpy, which ASan reports as a stack-buffer-underflow (the
    # gevent suite, tests/gevent, is not run under it either).
    if importlib.util.find_spec("gevent") is not None and \
            "libasan" not in os.environ.get("LD_PRELOAD", ""):
        sections.append("gevent")
    argv = [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--host", host,
            "--port", str(port), "--impls", "ours", "--no-rb", "--no-callgrind",
            "--sections", ",".join(sections), "--scenarios", "get,mget",
            "--threads", "2", "--greenlets", "3", "--tasks", "3", "--n", "300",
            "--n-latency", "50", "--repeat", "1", "--warmup", "20", "--keyspace", "1000",
            "--prefix", PREFIX, "--json", str(out)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "== targets" in p.stdout and "ERROR" not in p.stdout, p.stdout[-3000:]
    doc = json.loads(out.read_text())
    res = doc["results"]
    assert set(res) == set(sections)
    for row in ("get", "mget"):
        ours = res["sync"][row]["ours"]
        assert ours["ops_per_s"] > 0 and ours["cpu_us_per_op"] > 0 and ours["p50_us"] > 0
        assert ours["server_us_per_op"] >= 0
    assert res["sync"]["mget"]["ours"]["n"] == 300  # 3 calls of 100 keys
    assert res["threads"]["threads-2"]["ours"]["ops_per_s"] > 0
    assert [r["name"] for r in doc["meta"]["sections"]["threads"]["rows"]] == ["threads-2"]
    if "gevent" in sections:
        for row in ("get", "pipeline-get", "greenlets-3"):
            cell = res["gevent"][row]["ours"]
            assert cell["ops_per_s"] > 0 and cell["hub_stall_ms"] >= 0
    try:
        import rediscluster.asyncio  # noqa: F401
    except ImportError:
        for row in ("tasks-3", "pipeline-get", "mget"):
            assert "rediscluster.asyncio" in res["async"][row]["ours"]["skipped"]
    else:
        assert res["async"]["tasks-3"]["ours"]["ops_per_s"] > 0
    # goals are given for the rows run, N/A without the peers (and no threads-4/16 here)
    goals = {(t["section"], t["op"]): t["status"] for t in doc["targets"]}
    assert ("async", "mget") in goals and ("async", "tasks-64") not in goals
    assert not any(s == "threads" for s, _ in goals)
    assert (("gevent", "get") in goals) == ("gevent" in sections)
    assert goals[("sync", "mget")] == "N/A"
    # every key the run wrote is deleted again
    masters = cluster.masters()
    assert masters
    for m in masters:
        assert raw(m, "SCAN", 0, "MATCH", PREFIX + "*", "COUNT", 10000)[1] == []
