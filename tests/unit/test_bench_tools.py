"""The benchmark tooling (benchmarks/, docs/_ext/rc_bench.py), without a cluster:
every script compiles, the worker's key and batch helpers, the harness's goals and
text tables, the manual's tables, and the charts, from results made up here.
(`make bench` itself is not run in CI: its figures need a quiet machine;
tests/integration/test_bench_smoke.py runs the harness on ours, briefly.)"""

import argparse
import importlib.util
import json
import py_compile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
SCRIPTS = sorted(BENCH.glob("*.py")) + [ROOT / "docs" / "_ext" / "rc_bench.py"]

if not (ROOT / "setup.py").is_file():
    # tests/unit run from a copy beside an installed wheel (make test-wheels,
    # cibuildwheel's test-sources): the benchmark scripts are not shipped there.
    pytest.skip("the benchmark tooling is only in the source tree", allow_module_level=True)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def worker():
    return load(BENCH / "_worker.py", "bench_worker")


@pytest.fixture(scope="module")
def compare():
    return load(BENCH / "compare.py", "bench_compare")


@pytest.fixture(scope="module")
def rc_bench():
    return load(ROOT / "docs" / "_ext" / "rc_bench.py", "rc_bench_ext")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_compile(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "x.pyc"), doraise=True)


def test_setup_peers_is_valid_bash():
    import shutil
    import subprocess
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    r = subprocess.run([bash, "-n", str(BENCH / "setup_peers.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ worker helpers


def test_key_slot_matches_the_harness_crc16(worker, compare):
    # binascii.crc_hqx (the worker) and the harness's own CRC16 agree, hash tags too
    keys = ["bench:cmp:%d" % i for i in range(300)] + ["{user1000}.following", "foo{}{bar}",
                                                         "{}x", "a{b}c{d}"]
    for k in keys:
        assert worker.key_slot(k) == compare.keyslot(k), k
    assert worker.key_slot("123456789") == 0x31C3 % 16384  # CRC16/XMODEM check value


def test_slot_batches_have_distinct_slots(worker):
    keys = ["bench:cmp:%d" % i for i in range(10000)]
    batches = worker.slot_batches(keys, 100)
    assert len(batches) >= 95  # 10,000 keys in 16,384 slots: few are left over
    seen = set()
    for b in batches:
        assert len(b) == 100
        assert len({worker.key_slot(k) for k in b}) == 100
        assert not seen & set(b)
        seen |= set(b)
    assert worker.slot_batches(keys, 100) == batches  # deterministic
    assert worker.slot_batches(["a", "b"], 1) == [["a"], ["b"]]


def test_split_and_args_for(worker):
    parts = worker.split(list(range(10)), 3)
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sorted(x for p in parts for x in p) == list(range(10))
    assert worker._args_for([(1,), (2,)], 5) == [(1,), (2,), (1,), (2,), (1,)]
    assert worker._args_for([(1,), (2,), (3,)], 2) == [(1,), (2,)]
    assert worker._pct([1, 2, 3, 4], 0.5) == 2 and worker._pct([], 0.5) is None


def test_wanted_io(worker):
    assert worker.wanted_io(["--io", "gevent", "--n", "3"]) == "gevent"
    assert worker.wanted_io(["--io=asyncio"]) == "asyncio"
    assert worker.wanted_io(["--n", "3"]) is None


def test_worker_refuses_gevent_when_imported(worker):
    # gevent must patch before anything else is imported: only as a script
    with pytest.raises(SystemExit):
        worker.parse_args(["--impl", "ours", "--io", "gevent", "--op", "get"])


def test_worker_runs_threads_and_reports_the_first_error(worker):
    seen = []
    worker.run_threads(lambda x: seen.append(x), [(i,) for i in range(100)], 4)
    assert sorted(seen) == list(range(100))

    def boom(x):
        if x == 7:
            raise ValueError("seven")
    with pytest.raises(ValueError, match="seven"):
        worker.run_threads(boom, [(i,) for i in range(20)], 4)


def test_worker_asyncio_driver(worker):
    import asyncio
    seen = []

    async def f(x):
        await asyncio.sleep(0)
        seen.append(x)
    asyncio.run(worker.arun_concurrent(f, [(i,) for i in range(50)], 8))
    assert sorted(seen) == list(range(50))


# -------------------------------------------------------------------- harness side


def args(**kw):
    base = dict(scenarios=["set", "get", "pipeline-get", "mget"], greenlets=50,
                threads=[1, 4, 16], tasks=64, sections=["sync", "gevent", "threads", "async"])
    base.update(kw)
    return argparse.Namespace(**base)


def cell(ops, cpu=10.0, **kw):
    d = {"ops_per_s": ops, "cpu_us_per_op": cpu, "rate_runs": [{}]}
    d.update(kw)
    return d


def sample_results():
    return {
        "sync": {
            "get": {"ours": cell(30000, 8.0, ir_per_op=4000), "rpc": cell(10000, 27.0, ir_per_op=108000),
                    "glide": cell(6000, 160.0, ir_per_op=95000), "rb": cell(31000, 8.0)},
            "set": {"ours": cell(20000, 12.0), "rb": cell(30000, 9.0)},
            "mget": {"ours": cell(400000, 2.0), "rpc": cell(10000, 77.0),
                     "redispy": cell(90000, 30.0)},
        },
        "gevent": {
            "get": {"ours": cell(24000, hub_stall_ms=80.0), "rpc": cell(7000, hub_stall_ms=3.0)},
            "pipeline-get": {"ours": cell(300000), "rpc": cell(47000)},
        },
        "threads": {
            "threads-4": {"ours": cell(40000), "rb": cell(50000)},
            "threads-16": {"ours": cell(38000), "rb": cell(52000)},
        },
        "async": {
            "tasks-64": {"ours": {"skipped": "rediscluster.asyncio does not exist yet (issue 13)"},
                         "glide": cell(12000), "redispy": cell(4400), "rb": cell(49000)},
        },
    }


def by_name(tg):
    return {t["target"]: t for t in tg}


def test_targets(compare):
    tg = by_name(compare.evaluate_targets(sample_results()))
    assert tg["instructions per GET <= 1/10 of redis-py-cluster's"]["status"] == "PASS"
    assert tg["GET ops/s >= 0.9x redis-benchmark's (1 connection)"]["status"] == "PASS"
    assert tg["client CPU per SET <= 1.2x redis-benchmark's"]["status"] == "MISS"
    # rpc's instructions per SET were not measured
    assert tg["instructions per SET <= 1/10 of redis-py-cluster's"]["status"] == "N/A"
    assert tg["mget >= 20x redis-py-cluster's"]["status"] == "PASS"
    assert tg["mget >= 3x redis-py's (mget_nonatomic)"]["status"] == "PASS"
    g = tg["gevent: GET >= 1.5x the original's"]
    assert g["status"] == "PASS" and g["issue"] == 12 and g["ratio"] == pytest.approx(24 / 7)
    assert tg["gevent: pipeline >= 5x the original's"]["status"] == "PASS"
    t = tg["16 threads >= 4 threads"]
    assert t["status"] == "MISS" and t["limit"] == 40000
    assert tg["16 threads >= 0.8x redis-benchmark -c 16"]["status"] == "MISS"
    a = tg["async: 64 tasks >= 2x glide"]
    assert a["status"] == "N/A" and a["limit"] == 24000 and "ours not measured" in a["detail"]
    # rows not run at all give no target line
    assert not any(t["section"] == "async" and t["op"] == "mget" for t in tg.values())


def test_report_tables(compare):
    sections = compare.build_sections(args())
    cols_of = {"sync": ["ours", "rpc", "redispy", "glide", "rb"], "gevent": ["ours", "rpc"],
               "threads": ["ours", "rpc", "glide", "rb"],
               "async": ["ours", "redispy", "glide", "rb"]}
    lines = compare.report(sections, sample_results(), cols_of,
                           {"gevent": ["ours: connection_pool.io does not exist"]})
    text = "\n".join(lines)
    assert "#### gevent" in text and "#### threads" in text and "#### async" in text
    get = text[text.index("== get  [GET, sequential (1"):]
    get = get[:get.index("\n\n")]
    assert "30,000" in get and "rpc 3.0x slower" in get and "glide 5.0x slower" in get
    assert "4,000" in get and "108,000" in get  # instructions
    assert "longest hub stall ms" in text and "rpc 26.7x shorter" in text
    assert "ours: rediscluster.asyncio does not exist yet" in text
    assert "64 tasks share one client" in text
    assert "note: ours: connection_pool.io does not exist" in text
    # the async base is redis-benchmark when ours has no figure
    tasks = text[text.index("== tasks-64"):]
    assert "relative to redis-benchmark" in tasks.splitlines()[1]


def test_sections_follow_the_options(compare):
    secs = compare.build_sections(args(threads=[2, 8], greenlets=5, tasks=16, sections=["threads", "gevent"]))
    assert [s.name for s in secs] == ["gevent", "threads"]
    assert [r.name for r in secs[1].rows] == ["threads-2", "threads-8"]
    assert [r.concurrency for r in secs[1].rows] == [2, 8]
    assert secs[1].rows[1].rb_conns == 8 and secs[0].rows[-1].name == "greenlets-5"
    for s in compare.build_sections(args()):
        for r in s.rows:  # every row's op is one the worker has
            assert r.op in load(BENCH / "_worker.py", "w2").SCENARIOS


def test_parse_args(compare):
    a = compare.parse_args(["--quick", "--no-callgrind", "--threads", "1,2"])
    assert a.n == 2000 and a.repeat == 1 and a.threads == [1, 2]
    assert a.sections == list(compare.SECTION_NAMES)
    with pytest.raises(SystemExit):
        compare.parse_args(["--sections", "nope"])
    with pytest.raises(SystemExit):
        compare.parse_args(["--impls", "ours,nope"])
    with pytest.raises(SystemExit):
        compare.parse_args(["--threads", "0"])


def sample_doc(compare):
    res = sample_results()
    secs = compare.build_sections(args())
    cols = {"sync": ["ours", "rpc", "redispy", "glide", "rb"], "gevent": ["ours", "rpc"],
            "threads": ["ours", "rb"], "async": ["ours", "redispy", "glide", "rb"]}
    return {
        "meta": {"time": "2026-12-01T10:00:00+0000", "python": "3.11.7", "cpus": 2,
                 "loadavg": [0.5, 0.4, 0.3], "duration_s": 600,
                 "machine": {"cpu_model": "Test CPU", "cpus": 2, "memory_gib": 24,
                             "platform": "Linux", "redis_server": "Redis server v=7.0.15 sha=0"},
                 "settings": {"repeat": 3, "n": 20000, "n_rb": 100000, "n_latency": 5000,
                              "cg_n": [1000, 6000]},
                 "sections": dict((s.name, dict(s.describe(), columns=cols[s.name], notes=[]))
                                  for s in secs),
                 "section_order": [s.name for s in secs],
                 "impls": {"sync": {"ours": {"version": "3.0.0"},
                                    "rpc": {"version": "2.1.3", "redis": "3.5.3", "hiredis": True},
                                    "glide": {"version": "2.6.0"}},
                           "gevent": {"rpc": {"version": "2.1.3", "gevent": "26.9.0"}},
                           "asyncio": {"glide": {"version": "2.6.0"}},
                           "rb": {"rb": {"version": "redis-benchmark 7.0.15"}}}},
        "results": res,
        "targets": compare.evaluate_targets(res),
    }


def list_tables(lines):
    """[(caption, [row cells])] of the list-tables in reST lines."""
    out, cur, row = [], None, None
    for line in lines:
        if line.startswith(".. list-table::"):
            cur = (line.split("::", 1)[1].strip(), [])
            out.append(cur)
        elif cur is not None and line.startswith("   * - "):
            row = [line[7:]]
            cur[1].append(row)
        elif cur is not None and line.startswith("     - "):
            row.append(line[7:])
        elif cur is not None and not line.strip():
            continue
        elif cur is not None and not line.startswith("   "):
            cur = None
    return out


def test_manual_tables(compare, rc_bench):
    lines = rc_bench.results_lines(sample_doc(compare), "_static/benchmarks.json")
    text = "\n".join(lines)
    assert "Test CPU; 2 CPUs, 24 GiB" in text and "Load average at the end of the run: 0.50" in text
    assert "valkey-glide-sync 2.6.0" in text and "valkey-glide 2.6.0" in text
    assert "gevent 26.9.0" in text and "redis-py-cluster 2.1.3 with redis 3.5.3 and hiredis" in text
    assert "_static/benchmarks.png" in text and "_static/benchmarks-concurrency.png" in text
    tables = list_tables(lines)
    for caption, rows in tables:
        assert len({len(r) for r in rows}) == 1, caption  # every row as wide as the header
    captions = [c for c, _ in tables]
    assert "longest hub stall, ms (lower is better)" in captions
    ops = dict((r[0], r[1:]) for r in tables[0][1])
    assert ops["scenario"] == ["ours", "redis-py-cluster 2.1.3", "redis-py", "valkey-glide-sync",
                               "redis-benchmark"]
    assert ops["``get``"] == ["30,000", "10,000", "–", "6,000", "31,000"]
    assert "**PASS** gevent: GET ≥ 1.5x the original's (issue 12)" in text
    assert "**N/A** async: 64 tasks ≥ 2x glide (issue 13)" in text
    assert "ours (asyncio): no figures: rediscluster.asyncio does not exist yet (issue 13)" in text


def test_charts(compare, tmp_path):
    pytest.importorskip("matplotlib")
    chart = load(BENCH / "chart.py", "bench_chart")
    path = tmp_path / "run.json"
    path.write_text(json.dumps(sample_doc(compare)))
    written = chart.write_charts(str(path), str(tmp_path), "b", log=lambda s: None, dpi=30)
    assert [Path(p).name for p in written] == ["b.png", "b-concurrency.png"]
    for p in written:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
