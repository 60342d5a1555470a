"""Shared test set-up: the cluster address, markers, the integration-test guard.

Tests under tests/unit get the ``unit`` marker and tests under tests/integration
the ``integration`` marker automatically. Integration tests are skipped when no
Redis Cluster answers CLUSTER INFO at --cluster-url (checked once, with a raw
socket, not with our client); with RC_REQUIRE_CLUSTER=1 (set by `make test`)
that is an error instead. Client fixtures belong in tests/integration/conftest.py.

The auth cluster (password, ACL users, CONFIG renamed, also listening on
127.0.0.2: `make cluster-start-auth`, i.e. ``scripts/cluster.py start --auth
--no-config --also-bind 127.0.0.2 --base-port 7010``) is found at
--auth-cluster-url ($RC_CLUSTER_AUTH_URL, default redis://127.0.0.1:7010); tests
that use the ``auth_cluster`` fixture skip when it is not running, or fail with
RC_CLUSTER_AUTH_REQUIRED=1 (set by `make test` when it starts that cluster).

The TLS cluster (TLS only, client certificates optional, also listening on
127.0.0.2: `make cluster-start-tls`, i.e. ``scripts/cluster.py start --tls
--also-bind 127.0.0.2 --base-port 7020``) is found at --tls-cluster-url
($RC_CLUSTER_TLS_URL, default rediss://127.0.0.1:7020); tests that use the
``tls_cluster`` fixture skip when it is not running, or fail with
RC_CLUSTER_TLS_REQUIRED=1 (set by `make test` when it starts that cluster).
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

# A shell that starts a job in the background without job control (`cmd &` in
# a script, some CI runners) leaves SIGINT ignored: Python then never raises
# KeyboardInterrupt, and the subprocesses the Ctrl-C tests start inherit the
# ignored signal. Those tests need the default handler.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_SCRIPT = ROOT / "scripts" / "cluster.py"
# scripts/_resp.py: the tooling's RESP client, for the checks that must not
# depend on the client under test.
sys.path.insert(0, str(ROOT / "scripts"))
from _resp import Conn, RespError  # noqa: E402
DEFAULT_URL = "redis://127.0.0.1:7000"
DEFAULT_AUTH_URL = "redis://127.0.0.1:7010"
DEFAULT_TLS_URL = "rediss://127.0.0.1:7020"


def pytest_addoption(parser):
    parser.addoption(
        "--cluster-url",
        default=os.environ.get("RC_CLUSTER_URL", DEFAULT_URL),
        help="a node of the test cluster (default: $RC_CLUSTER_URL or %s)" % DEFAULT_URL,
    )
    parser.addoption(
        "--auth-cluster-url",
        default=os.environ.get("RC_CLUSTER_AUTH_URL", DEFAULT_AUTH_URL),
        help="a node of the auth cluster (scripts/cluster.py start --auth --no-config "
        "--also-bind 127.0.0.2; default: $RC_CLUSTER_AUTH_URL or %s)" % DEFAULT_AUTH_URL,
    )
    parser.addoption(
        "--tls-cluster-url",
        default=os.environ.get("RC_CLUSTER_TLS_URL", DEFAULT_TLS_URL),
        help="a node of the TLS cluster (scripts/cluster.py start --tls --also-bind "
        "127.0.0.2; default: $RC_CLUSTER_TLS_URL or %s)" % DEFAULT_TLS_URL,
    )


def parse_url(url):
    parts = urlsplit(url if "://" in url else "redis://" + url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def cluster_info(host, port, timeout=2.0):
    """The CLUSTER INFO text from host:port, or None if no cluster node answers."""
    try:
        with Conn(host, port, timeout, decode=True) as c:
            text = c.call("CLUSTER", "INFO")
    except (OSError, RespError, ValueError):
        return None
    return text if isinstance(text, str) and "cluster_state:" in text else None


# ---------------------------------------------------------------------------
# the server the clusters run, and what it supports

# feature -> (what it is, {server name: first version that has it}); a
# server missing from the dict lacks the feature. Tests say what they need
# with @pytest.mark.needs("feature", ...) and are skipped with the reason on a
# server without it. docs/servers.md shows the same table.
FEATURES = {
    "redis7-commands": (
        "commands and options new in Redis 7.0 (LMPOP, BLMPOP, ZMPOP, BZMPOP, SINTERCARD, "
        "ZINTERCARD, LCS, EXPIRETIME, PEXPIRETIME, EVAL_RO, EVALSHA_RO, SORT_RO, EXPIRE "
        "NX/XX/GT/LT, BITCOUNT/BITPOS BIT, XGROUP CREATE ENTRIESREAD, XAUTOCLAIM's "
        "deleted ids, CONFIG GET with several parameters, CLIENT NO-EVICT, LATENCY "
        "HISTOGRAM, GEOSEARCH BYBOX units, COMMAND LIST/DOCS)",
        {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "functions": ("FUNCTION and FCALL / FCALL_RO", {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "sharded-pubsub": ("sharded pub/sub: SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE",
                       {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "cluster-shards": ("CLUSTER SHARDS", {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "key-specs": ("key specs in COMMAND (COMMAND GETKEYS follows them)",
                  {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "multikey-tryagain": ("TRYAGAIN for a multi-key command whose keys are split by a "
                          "migration also when the command is sent with ASKING to the "
                          "importing node", {"redis": (7, 0, 0), "valkey": (7, 2, 0)}),
    "zrank-withscore": ("ZRANK / ZREVRANK WITHSCORE", {"redis": (7, 2, 0), "valkey": (7, 2, 0)}),
    "client-kill-maxage": ("CLIENT KILL MAXAGE", {"redis": (7, 4, 0), "valkey": (8, 0, 0)}),
    "sort-patterns-refused": ("SORT / SORT_RO refusing BY and GET in cluster mode (Valkey 8 "
                              "allows patterns of the key's own slot)", {"redis": (6, 2, 0)}),
    "table-key-specs": ("the key specs the built-in table was generated from (Redis 7.0; "
                        "Valkey 9 moved GEORADIUS's STORE/STOREDIST search and adds commands "
                        "such as CLUSTERSCAN and WAITAOF's keys)", {"redis": (7, 0, 0)}),
}


class ServerInfo:
    """What INFO server says: name ("redis" or "valkey"), version (a tuple),
    label ("Redis 7.0.15")."""

    def __init__(self, info):
        self.name = info.get("server_name", "redis") or "redis"
        text = info.get("%s_version" % self.name) or info.get("redis_version", "0.0.0")
        self.version = tuple(int(x) for x in text.split(".")[:3] if x.isdigit())
        self.label = "%s %s" % (self.name.capitalize(), text)

    def has(self, feature):
        return self.lacks(feature) is None

    def lacks(self, feature):
        """None if the server has the feature, else why not (text)."""
        what, since = FEATURES[feature]
        first = since.get(self.name)
        if first is not None and self.version >= first:
            return None
        have = ", ".join("%s %s" % (n.capitalize(), ".".join(map(str, v)))
                         for n, v in sorted(since.items()))
        return "needs %s (%s and later); the server is %s" % (what, have or "no server", self.label)


def server_info(host, port, timeout=2.0):
    """ServerInfo of the node at host:port, or None if it does not answer."""
    try:
        with Conn(host, port, timeout, decode=True) as c:
            text = c.call("INFO", "server")
    except (OSError, RespError, ValueError):
        return None
    from _resp import parse_info

    return ServerInfo(parse_info(text))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs(*features): skipped on a server without them (tests/conftest.py "
        "FEATURES, docs/servers.md)")


def pytest_report_header(config):
    import importlib.util

    host, port = parse_url(config.getoption("--cluster-url"))
    try:
        spec = importlib.util.find_spec("rediscluster")
        where = spec.origin if spec else "not importable"
    except Exception as e:  # a broken package must not hide the header
        where = "error: %s" % e
    server = server_info(host, port)
    return ["cluster: %s:%d (%s)" % (host, port, server.label if server else "not running"),
            "rediscluster: %s" % where]


def pytest_collection_modifyitems(config, items):
    unit_dir = ROOT / "tests" / "unit"
    integration_dirs = (ROOT / "tests" / "integration", ROOT / "tests" / "asyncio")
    integration = []
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if unit_dir in path.parents:
            item.add_marker(pytest.mark.unit)
        elif any(d in path.parents for d in integration_dirs):
            item.add_marker(pytest.mark.integration)
            integration.append(item)
    for item in items:
        for mark in item.iter_markers("needs"):
            unknown = [f for f in mark.args if f not in FEATURES]
            if unknown:
                raise pytest.UsageError("%s: unknown feature(s) %s (tests/conftest.py FEATURES)"
                                        % (item.nodeid, ", ".join(unknown)))
    if not integration:
        return
    host, port = parse_url(config.getoption("--cluster-url"))
    if cluster_info(host, port) is not None:
        server = server_info(host, port)
        for item in integration:
            for mark in item.iter_markers("needs"):
                why = next((server.lacks(f) for f in mark.args if server and server.lacks(f)), None)
                if why:
                    item.add_marker(pytest.mark.skip(reason=why))
                    break
        return
    reason = "no Redis Cluster answers CLUSTER INFO at %s:%d — run `make cluster-start`" % (host, port)
    if os.environ.get("RC_REQUIRE_CLUSTER", "") not in ("", "0"):
        raise pytest.UsageError(reason + " (RC_REQUIRE_CLUSTER is set)")
    skip = pytest.mark.skip(reason=reason)
    for item in integration:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster_url(pytestconfig):
    return pytestconfig.getoption("--cluster-url")


@pytest.fixture(scope="session")
def cluster_addr(cluster_url):
    """(host, port) of the node the tests start from."""
    return parse_url(cluster_url)


@pytest.fixture(scope="session")
def server(cluster_addr):
    """ServerInfo of the main cluster's server (name, version, has(feature))."""
    info = server_info(*cluster_addr)
    if info is None:
        pytest.skip("no cluster node answers INFO at %s:%d" % cluster_addr)
    return info


@pytest.fixture(scope="session")
def cluster_base_port(cluster_addr):
    """First port of the six-node cluster (nodes on BASE..BASE+5)."""
    return int(os.environ.get("RC_CLUSTER_BASE_PORT") or cluster_addr[1])


@pytest.fixture(scope="session")
def cluster_script(cluster_base_port):
    """Run a scripts/cluster.py subcommand against the test cluster.

        cluster_script("kill-node", 7000)
        cluster_script("wait")                  # restart downed nodes, wait until healthy
        cluster_script("wait", "--restore-roles")

    Returns the CompletedProcess (text output); raises CalledProcessError
    when check is true and the script fails.
    """

    def run(*args, check=True, timeout=120):
        cmd = [sys.executable, str(CLUSTER_SCRIPT), *map(str, args), "--base-port", str(cluster_base_port)]
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)
        return proc

    return run


# ---------------------------------------------------------------------------
# the auth cluster


def load_cluster_script():
    """scripts/cluster.py as a module (standard library only): its constants
    (AUTH_PASSWORD, FULL_USER, LIMITED_USER, ...) are the auth cluster's
    credentials."""
    import importlib.util

    mod = sys.modules.get("rc_cluster_script")
    if mod is None:
        spec = importlib.util.spec_from_file_location("rc_cluster_script", str(CLUSTER_SCRIPT))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules["rc_cluster_script"] = mod
    return mod


def auth_cluster_problem(host, port, password, timeout=2.0):
    """None if an auth cluster answers AUTH <password> + CLUSTER INFO with
    cluster_state:ok on host:port, else why not (text)."""
    try:
        with Conn(host, port, timeout, decode=True) as c:
            auth = c.pipe([("AUTH", password)])[0]
            info = c.call("CLUSTER", "INFO") if not isinstance(auth, RespError) else None
    except RespError as e:
        return "CLUSTER INFO failed (%s)" % e
    except (OSError, ValueError) as e:
        return "nothing answers (%s)" % (getattr(e, "strerror", None) or type(e).__name__)
    if isinstance(auth, RespError):
        return "AUTH with the script's password failed (-%s): not the auth cluster" % auth
    if "cluster_state:ok" not in info:
        return "cluster_state is not ok"
    return None


@pytest.fixture(scope="session")
def auth_cluster_url(pytestconfig):
    return pytestconfig.getoption("--auth-cluster-url")


@pytest.fixture(scope="session")
def auth_cluster_addr(auth_cluster_url):
    return parse_url(auth_cluster_url)


@pytest.fixture(scope="session")
def auth_cluster_base_port(auth_cluster_addr):
    return int(os.environ.get("RC_CLUSTER_AUTH_BASE_PORT") or auth_cluster_addr[1])


@pytest.fixture(scope="session")
def auth_cluster_script(auth_cluster_base_port):
    """Like ``cluster_script``, for the auth cluster."""

    def run(*args, check=True, timeout=120):
        cmd = [sys.executable, str(CLUSTER_SCRIPT), *map(str, args),
               "--base-port", str(auth_cluster_base_port)]
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)
        return proc

    return run


class AuthClusterInfo:
    """The auth cluster: address, credentials and (``.raw``, ``.cluster``)
    admin access over plain sockets that authenticate as the default user."""

    def __init__(self, host, base, script):
        self.host, self.base = host, base
        self.port = base
        self.ports = list(range(base, base + 6))
        self.password = script.AUTH_PASSWORD  # the default user's
        self.user, self.user_password = script.FULL_USER, script.FULL_PASSWORD
        self.limited_user = script.LIMITED_USER
        self.limited_password = script.LIMITED_PASSWORD
        self.limited_prefix = script.LIMITED_KEYS.rstrip("*")  # "rcit:lim:"
        self.secrets = (self.password, self.user_password, self.limited_password)
        self.cluster = None  # an rcit.Cluster whose connections AUTH first

    def raw(self, port, *args, timeout=5.0):
        return self.cluster.raw(port, *args, timeout=timeout)


@pytest.fixture(scope="session")
def auth_cluster(auth_cluster_addr, auth_cluster_base_port):
    """``AuthClusterInfo`` of the running auth cluster; skips the test (or fails
    it, with RC_CLUSTER_AUTH_REQUIRED=1) when that cluster is not running."""
    script = load_cluster_script()
    host, port = auth_cluster_addr
    problem = auth_cluster_problem(host, port, script.AUTH_PASSWORD)
    if problem is not None:
        reason = ("no auth cluster at %s:%d: %s — run `make cluster-start-auth` "
                  "(scripts/cluster.py start --auth --no-config --also-bind 127.0.0.2 "
                  "--base-port %d)" % (host, port, problem, auth_cluster_base_port))
        if os.environ.get("RC_CLUSTER_AUTH_REQUIRED", "") not in ("", "0"):
            pytest.fail(reason + " (RC_CLUSTER_AUTH_REQUIRED is set)", pytrace=False)
        pytest.skip(reason)
    info = AuthClusterInfo(host, auth_cluster_base_port, script)
    rcit = sys.modules.get("rcit")
    if rcit is not None:  # tests/integration/conftest.py's helpers
        password = info.password

        class AuthRawConn(rcit.RawConn):
            def __init__(self, host, port, timeout=5.0):
                super().__init__(host, port, timeout, password=password)

        class AuthCluster(rcit.Cluster):
            def conn(self, port, timeout=5.0):
                return AuthRawConn(self.host, port, timeout)

        info.cluster = AuthCluster(host, auth_cluster_base_port)
    return info


# ---------------------------------------------------------------------------
# the TLS cluster


class TLSClusterInfo:
    """The TLS cluster: address, certificate paths and (``.raw``,
    ``.cluster``) admin access over TLS sockets that verify with ``ca``.

    Paths (files made by scripts/cluster.py in its DIR/tls/):
      ca                             the CA that signed the nodes' certificate
      client_cert, client_key        a client certificate signed by ``ca``
      wrong_ca                       an unrelated CA (the nodes do not verify with it)
      wrong_client_cert, wrong_client_key
                                     a client certificate signed by ``wrong_ca``
    The nodes' certificate names IP 127.0.0.1 and DNS localhost only."""

    def __init__(self, host, base, tls_dir, script):
        self.host, self.base = host, base
        self.port = base
        self.ports = list(range(base, base + 6))
        self.tls_dir = tls_dir
        self.ca = os.path.join(tls_dir, script.TLS_CA)
        self.client_cert = os.path.join(tls_dir, script.TLS_CLIENT_CERT)
        self.client_key = os.path.join(tls_dir, script.TLS_CLIENT_KEY)
        self.wrong_ca = os.path.join(tls_dir, script.TLS_OTHER_CA)
        self.wrong_client_cert = os.path.join(tls_dir, script.TLS_OTHER_CLIENT_CERT)
        self.wrong_client_key = os.path.join(tls_dir, script.TLS_OTHER_CLIENT_KEY)
        self.cluster = None  # an rcit.Cluster whose connections speak TLS

    def ssl_context(self):
        """An ``ssl.SSLContext`` that verifies the nodes with ``ca``."""
        import ssl

        return ssl.create_default_context(cafile=self.ca)

    def raw(self, port, *args, timeout=5.0):
        return self.cluster.raw(port, *args, timeout=timeout)


def tls_cluster_probe(host, port, timeout=2.0):
    """(tls_dir, None) if a TLS cluster node answers CLUSTER INFO with
    cluster_state:ok on host:port, else (None, why not). The certificate
    directory is where the node's tls-ca-cert-file is (CONFIG GET, over a
    connection that does not verify: the CA is not known yet)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with Conn(host, port, timeout, ssl_context=ctx) as c:
            info, config = c.pipe([("CLUSTER", "INFO"), ("CONFIG", "GET", "tls-ca-cert-file")])
    except ssl.SSLError as e:
        return None, "no TLS handshake (%s)" % (e.reason or e)
    except socket.timeout:
        return None, "no TLS reply within %.0fs (a server without TLS?)" % timeout
    except (OSError, ValueError) as e:
        return None, "nothing answers (%s)" % (getattr(e, "strerror", None) or e or type(e).__name__)
    if not isinstance(info, bytes) or b"cluster_state:ok" not in info:
        return None, "not a healthy cluster node (CLUSTER INFO: %r)" % (info,)
    if not isinstance(config, list) or len(config) != 2 or not config[1]:
        return None, "CONFIG GET tls-ca-cert-file gave no path (%r)" % (config,)
    ca = config[1].decode()
    return os.path.dirname(ca), None


@pytest.fixture(scope="session")
def tls_cluster_url(pytestconfig):
    return pytestconfig.getoption("--tls-cluster-url")


@pytest.fixture(scope="session")
def tls_cluster_addr(tls_cluster_url):
    return parse_url(tls_cluster_url)


@pytest.fixture(scope="session")
def tls_cluster_base_port(tls_cluster_addr):
    return int(os.environ.get("RC_CLUSTER_TLS_BASE_PORT") or tls_cluster_addr[1])


@pytest.fixture(scope="session")
def tls_cluster_script(tls_cluster_base_port):
    """Like ``cluster_script``, for the TLS cluster (the script reads --tls
    back from the nodes' redis.conf)."""

    def run(*args, check=True, timeout=120):
        cmd = [sys.executable, str(CLUSTER_SCRIPT), *map(str, args),
               "--base-port", str(tls_cluster_base_port)]
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)
        return proc

    return run


@pytest.fixture(scope="session")
def tls_cluster(tls_cluster_addr, tls_cluster_base_port):
    """``TLSClusterInfo`` of the running TLS cluster; skips the test (or fails
    it, with RC_CLUSTER_TLS_REQUIRED=1) when that cluster is not running."""
    script = load_cluster_script()
    host, port = tls_cluster_addr
    if os.environ.get("RC_CLUSTER_TLS_SKIP"):  # scripts/cluster.py run: a server without TLS
        pytest.skip("no TLS cluster: " + os.environ["RC_CLUSTER_TLS_SKIP"])
    tls_dir, problem = tls_cluster_probe(host, port)
    info = None
    if problem is None:
        info = TLSClusterInfo(host, tls_cluster_base_port, tls_dir, script)
        missing = [p for p in (info.ca, info.client_cert, info.client_key, info.wrong_ca,
                               info.wrong_client_cert, info.wrong_client_key)
                   if not os.path.isfile(p)]
        if missing:
            problem = "certificate file(s) missing: %s" % ", ".join(missing)
    if problem is not None:
        reason = ("no TLS cluster at %s:%d: %s — run `make cluster-start-tls` "
                  "(scripts/cluster.py start --tls --also-bind 127.0.0.2 --base-port %d)"
                  % (host, port, problem, tls_cluster_base_port))
        if os.environ.get("RC_CLUSTER_TLS_REQUIRED", "") not in ("", "0"):
            pytest.fail(reason + " (RC_CLUSTER_TLS_REQUIRED is set)", pytrace=False)
        pytest.skip(reason)
    rcit = sys.modules.get("rcit")
    if rcit is not None:  # tests/integration/conftest.py's helpers
        ctx = info.ssl_context()
        ctx.load_cert_chain(info.client_cert, info.client_key)

        class TLSRawConn(rcit.RawConn):
            def __init__(self, host, port, timeout=5.0):
                super().__init__(host, port, timeout, ssl_context=ctx)

        class TLSCluster(rcit.Cluster):
            def conn(self, port, timeout=5.0):
                return TLSRawConn(self.host, port, timeout)

        info.cluster = TLSCluster(host, tls_cluster_base_port)
    return info
