"""The differential suite's set-up: the original redis-py-cluster 2.1.3 (with
redis-py 3.5.3) runs in its own venv, ``.venv-compat`` (``make test-compat``
makes it from PyPI; $RC_COMPAT_PYTHON names another interpreter), as a
subprocess serving scenarios (runner.py); ours runs in this process. Both use
the same cluster(s): the main one, and the auth and TLS clusters when they run.

Without that venv the suite skips (fails with RC_REQUIRE_COMPAT=1, which
``make test-compat`` sets).
"""

import base64
import json
import os
import pickle
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _compat_python():
    return os.environ.get("RC_COMPAT_PYTHON") or str(ROOT / ".venv-compat" / "bin" / "python")


class Runner:
    """The original's side: one subprocess, one JSON request per scenario."""

    def __init__(self, python):
        self.proc = subprocess.Popen(
            [python, "-I", str(HERE / "runner.py")], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, cwd="/", text=True)
        hello = json.loads(self.proc.stdout.readline() or "{}")
        if hello.get("version") != "2.1.3":
            raise RuntimeError("the compat venv does not run redis-py-cluster 2.1.3: %r" % hello)

    def run(self, scenario, options):
        self.proc.stdin.write(json.dumps({"scenario": scenario, "options": options}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the original's runner died")
        return pickle.loads(base64.b64decode(line))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def original():
    python = _compat_python()
    if not os.path.exists(python):
        reason = "no venv with redis-py-cluster 2.1.3 at %s — run `make test-compat`" % python
        if os.environ.get("RC_REQUIRE_COMPAT", "") not in ("", "0"):
            pytest.fail(reason + " (RC_REQUIRE_COMPAT is set)", pytrace=False)
        pytest.skip(reason)
    runner = Runner(python)
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def targets(cluster_addr, auth_cluster_addr, tls_cluster_addr, request):
    """{cluster name: options for the scenarios} of the clusters that run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_rc_tests_conftest", ROOT / "tests" / "conftest.py")
    top = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(top)
    auth_cluster_problem, load_cluster_script = top.auth_cluster_problem, top.load_cluster_script
    tls_cluster_probe = top.tls_cluster_probe

    out = {}
    host, port = cluster_addr
    out["main"] = {"host": host, "port": port}
    script = load_cluster_script()
    host, port = auth_cluster_addr
    if auth_cluster_problem(host, port, script.AUTH_PASSWORD) is None:
        # CONFIG is renamed away there, as on managed services
        out["auth"] = {"host": host, "port": port, "password": script.AUTH_PASSWORD,
                       "skip_full_coverage_check": True}
    elif os.environ.get("RC_CLUSTER_AUTH_REQUIRED", "") not in ("", "0"):
        pytest.fail("the auth cluster is not running (RC_CLUSTER_AUTH_REQUIRED is set)")
    host, port = tls_cluster_addr
    tls_dir, problem = tls_cluster_probe(host, port)
    if problem is None:
        out["tls"] = {"host": host, "port": port, "ssl": True, "ssl_cert_reqs": "required",
                      "ssl_ca_certs": os.path.join(tls_dir, "ca.crt")}
    elif os.environ.get("RC_CLUSTER_TLS_REQUIRED", "") not in ("", "0"):
        pytest.fail("the TLS cluster is not running (RC_CLUSTER_TLS_REQUIRED is set)")
    return out
