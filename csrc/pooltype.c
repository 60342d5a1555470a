/* pooltype.c -- rediscluster._core.Pool: the C side of ClusterConnectionPool
 * (tier 3). Holds the configuration in canonical form, the node table with
 * its connection pools and the slot map. Topology discovery is C's
 * (topology.c), from the startup nodes NodeManager gives
 * (_set_startup_nodes); rediscluster/nodemanager.py is a view of the table
 * (_topology). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "crc16.h"
#include "topology.h"

uint64_t
rc_pool_random(PoolObject *p)
{
    uint64_t x;
    rc_lock(&p->cl);
    x = p->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p->rng = x;
    rc_unlock(&p->cl);
    return x;
}

static char *
rc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

/* None -> 0 (no limit); a positive number -> seconds. */
static int
rc_timeout_arg(PyObject *v, const char *name, double *out)
{
    double d;
    if (v == Py_None) {
        *out = 0;
        return 0;
    }
    d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "%s must be a number or None", name);
        return -1;
    }
    if (!(d > 0)) {
        PyErr_Format(PyExc_ValueError, "%s must be positive or None", name);
        return -1;
    }
    *out = d;
    return 0;
}

static int
rc_is_utf8(const char *enc)
{
    char low[16];
    size_t n = strlen(enc), j = 0;
    if (n >= sizeof low) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = enc[i];
        if (c == '_') {
            c = '-';
        }
        low[j++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    low[j] = '\0';
    return strcmp(low, "utf-8") == 0 || strcmp(low, "utf8") == 0;
}

/* One text part of a remap rule: None -> "", else an ASCII str. */
static int
rc_remap_text(PyObject *v, char *out, size_t cap)
{
    const char *p;
    Py_ssize_t n;
    out[0] = '\0';
    if (v == Py_None) {
        return 0;
    }
    p = PyUnicode_AsUTF8AndSize(v, &n);
    if (p == NULL) {
        return -1;
    }
    if ((size_t)n >= cap || n == 0) {
        PyErr_SetString(PyExc_ValueError, "host_port_remap: bad host");
        return -1;
    }
    memcpy(out, p, (size_t)n + 1);
    return 0;
}

static int
rc_remap_port(PyObject *v, int *out)
{
    long p;
    *out = 0;
    if (v == Py_None) {
        return 0;
    }
    p = PyLong_AsLong(v);
    if (p == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (p <= 0 || p > 65535) {
        PyErr_SetString(PyExc_ValueError, "host_port_remap: bad port");
        return -1;
    }
    *out = (int)p;
    return 0;
}

/* host_port_remap in canonical form (rediscluster/connection.py makes it
 * from the original's dicts, after NodeManager validated them): a sequence
 * of (from_host, from_port, to_host, to_port), None for a part not given. */
static int
rc_pool_set_remap(rc_cluster *cl, PyObject *rules)
{
    PyObject *seq = PySequence_Fast(rules, "host_port_remap must be a sequence");
    Py_ssize_t n;
    int ret = -1;

    if (seq == NULL) {
        return -1;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > 0) {
        cl->cfg.remap = calloc((size_t)n, sizeof *cl->cfg.remap);
        if (cl->cfg.remap == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        rc_remap *r = &cl->cfg.remap[i];
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError,
                            "host_port_remap entries must be (from_host, from_port, to_host, to_port)");
            goto done;
        }
        if (rc_remap_text(PyTuple_GET_ITEM(t, 0), r->from_host, sizeof r->from_host) < 0 ||
            rc_remap_port(PyTuple_GET_ITEM(t, 1), &r->from_port) < 0 ||
            rc_remap_text(PyTuple_GET_ITEM(t, 2), r->to_host, sizeof r->to_host) < 0 ||
            rc_remap_port(PyTuple_GET_ITEM(t, 3), &r->to_port) < 0) {
            goto done;
        }
        cl->cfg.nremap = (int)i + 1;
    }
    ret = 0;
done:
    Py_DECREF(seq);
    return ret;
}

static const char rc_readonly_cmd[] = "*1\r\n$8\r\nREADONLY\r\n";

static int
Pool_init(PoolObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"encoding",
                             "encoding_errors",
                             "decode_responses",
                             "socket_timeout",
                             "socket_connect_timeout",
                             "socket_keepalive",
                             "socket_keepalive_options",
                             "username",
                             "password",
                             "client_name",
                             "readonly",
                             "max_connections",
                             "max_connections_per_node",
                             "skip_full_coverage_check",
                             "reinitialize_steps",
                             "ssl",
                             "ssl_keyfile",
                             "ssl_certfile",
                             "ssl_cert_reqs",
                             "ssl_ca_certs",
                             "ssl_check_hostname",
                             "wait_timeout",
                             "max_idle_time",
                             "host_port_remap",
                             "wait_callback",
                             "io_native",
                             "topology_check_interval",
                             "busy_poll",
                             NULL};
    int use_ssl = 0, cert_reqs = RC_TLS_VERIFY_REQUIRED, check_hostname = 0;
    const char *keyfile = NULL, *certfile = NULL, *cafile = NULL;
    const char *encoding = "utf-8", *errors = "strict";
    int decode = 0, keepalive = 0, readonly = 0, per_node = 0, skip = 0, steps = 25;
    long long maxc = (long long)1 << 31;
    PyObject *timeout = Py_None, *ctimeout = Py_None, *kaopts = Py_None, *username = Py_None,
             *password = Py_None, *client_name = Py_None, *wait_timeout = Py_None,
             *max_idle = NULL, *remap = Py_None, *wait_cb = Py_None, *check = Py_None,
             *busy = Py_None;
    int io_native = 0;
    rc_cluster *cl = &self->cl;
    rc_state *st = rc_state_of((PyObject *)self, (initproc)Pool_init);

    if (st == NULL) {
        return -1;
    }
    if (self->ready) {
        /* Running calls use the state a second __init__ would free. */
        PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ was already called");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$sspOOpOOOOpLppipzzizpOOOOpOO:Pool", kwlist,
                                     &encoding, &errors, &decode, &timeout, &ctimeout,
                                     &keepalive, &kaopts, &username, &password, &client_name,
                                     &readonly, &maxc, &per_node, &skip, &steps, &use_ssl,
                                     &keyfile, &certfile, &cert_reqs, &cafile,
                                     &check_hostname, &wait_timeout, &max_idle, &remap,
                                     &wait_cb, &io_native, &check, &busy)) {
        return -1;
    }
    if (wait_cb != Py_None && !PyCallable_Check(wait_cb)) {
        PyErr_SetString(PyExc_TypeError, "wait_callback must be callable or None");
        return -1;
    }
    if (!PyCodec_KnownEncoding(encoding)) {
        PyErr_Format(PyExc_LookupError, "unknown encoding: %s", encoding);
        return -1;
    }
    if (maxc < 1) {
        PyErr_SetString(PyExc_ValueError, "max_connections must be a positive integer");
        return -1;
    }
    self->st = st;
    rc_cluster_init(cl, st);
    self->ready = 1;
    self->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)self;
    if (self->rng == 0) {
        self->rng = 88172645463325252ULL;
    }
    cl->cfg.encoding = rc_strdup(encoding);
    cl->cfg.errors = rc_strdup(errors);
    if (cl->cfg.encoding == NULL || cl->cfg.errors == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    cl->cfg.codec.encoding = cl->cfg.encoding;
    cl->cfg.codec.errors = cl->cfg.errors;
    cl->cfg.codec.utf8_strict = rc_is_utf8(encoding) && strcmp(errors, "strict") == 0;
    cl->cfg.decode = decode;
    if (rc_timeout_arg(timeout, "socket_timeout", &cl->cfg.sock.timeout) < 0 ||
        rc_timeout_arg(ctimeout, "socket_connect_timeout", &cl->cfg.sock.connect_timeout) < 0) {
        return -1;
    }
    if (ctimeout == Py_None) {
        cl->cfg.sock.connect_timeout = cl->cfg.sock.timeout; /* redis-py's default */
    }
    cl->cfg.sock.keepalive = keepalive;
    if (kaopts != Py_None) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        if (!PyDict_Check(kaopts)) {
            PyErr_SetString(PyExc_TypeError, "socket_keepalive_options must be a dict");
            return -1;
        }
        while (PyDict_Next(kaopts, &pos, &k, &v)) {
            int n = cl->cfg.sock.n_keepalive_opts;
            long ko = PyLong_AsLong(k), vo = PyLong_AsLong(v);
            if ((ko == -1 || vo == -1) && PyErr_Occurred()) {
                return -1;
            }
            if (n >= RC_MAX_KEEPALIVE_OPTS) {
                PyErr_SetString(PyExc_ValueError, "too many socket_keepalive_options");
                return -1;
            }
            cl->cfg.sock.keepalive_opts[n][0] = (int)ko;
            cl->cfg.sock.keepalive_opts[n][1] = (int)vo;
            cl->cfg.sock.n_keepalive_opts = n + 1;
        }
    }
    if (password != Py_None) {
        PyObject *auth[3];
        Py_ssize_t na = 0;
        auth[na++] = PyUnicode_FromString("AUTH");
        if (auth[0] == NULL) {
            return -1;
        }
        if (username != Py_None) {
            auth[na++] = username;
        }
        auth[na++] = password;
        if (rc_pack_command(st, &cl->cfg.codec, &cl->cfg.hello, auth, na, NULL) < 0) {
            Py_DECREF(auth[0]);
            return -1;
        }
        Py_DECREF(auth[0]);
        cl->cfg.hello_n++;
        cl->cfg.hello_auth = 1;
    } else if (username != Py_None) {
        PyErr_SetString(PyExc_ValueError, "username given without password");
        return -1;
    }
    if (client_name != Py_None) {
        PyObject *setname[3];
        setname[0] = PyUnicode_FromString("CLIENT");
        setname[1] = PyUnicode_FromString("SETNAME");
        setname[2] = client_name;
        if (setname[0] == NULL || setname[1] == NULL ||
            rc_pack_command(st, &cl->cfg.codec, &cl->cfg.hello, setname, 3, NULL) < 0) {
            Py_XDECREF(setname[0]);
            Py_XDECREF(setname[1]);
            return -1;
        }
        Py_DECREF(setname[0]);
        Py_DECREF(setname[1]);
        cl->cfg.hello_n++;
    }
    if (use_ssl) {
        rc_tlsopts to = {certfile, keyfile, cafile, cert_reqs};
        rc_err err;
        rc_err_clear(&err);
        if (cert_reqs < RC_TLS_VERIFY_NONE || cert_reqs > RC_TLS_VERIFY_REQUIRED) {
            PyErr_SetString(PyExc_ValueError, "ssl_cert_reqs must be 0, 1 or 2 (none/optional/required)");
            return -1;
        }
        cl->cfg.tls_ctx = rc_tls_ctx_new(&to, &err);
        if (cl->cfg.tls_ctx == NULL) {
            PyErr_SetString(st->ConnectionError, err.msg);
            return -1;
        }
        cl->cfg.tls_check_hostname = check_hostname;
    }
    if (wait_timeout != Py_None) {
        double w = PyFloat_AsDouble(wait_timeout);
        if (w == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (!(w >= 0)) {
            PyErr_SetString(PyExc_ValueError, "wait_timeout must be >= 0 or None");
            return -1;
        }
        cl->cfg.wait_timeout = w;
    }
    if (max_idle != NULL) {
        double m = max_idle == Py_None ? 0 : PyFloat_AsDouble(max_idle);
        if (m == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (!(m >= 0)) {
            PyErr_SetString(PyExc_ValueError, "max_idle_time must be >= 0 or None");
            return -1;
        }
        cl->cfg.max_idle = m;
    }
    if (remap != Py_None && rc_pool_set_remap(cl, remap) < 0) {
        return -1;
    }
    if (check != Py_None) {
        double c = PyFloat_AsDouble(check);
        if (c == -1.0 && PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "topology_check_interval must be a number or None");
            return -1;
        }
        if (!(c >= 0) || c > 1e9) {
            PyErr_SetString(PyExc_ValueError,
                            "topology_check_interval must be >= 0 seconds or None");
            return -1;
        }
        cl->check_interval = c;
        cl->next_check = rc_net_now() + c;
    }
    if (busy != Py_None) {
        long us;
        if (!PyLong_Check(busy) || PyBool_Check(busy)) {
            PyErr_SetString(PyExc_TypeError, "busy_poll must be an int (microseconds) or None");
            return -1;
        }
        us = PyLong_AsLong(busy);
        if (us == -1 && PyErr_Occurred()) {
            PyErr_Clear(); /* too large either way */
            us = LONG_MAX;
        }
        if (us < 0 || us > RC_BUSY_POLL_MAX_US) {
            PyErr_Format(PyExc_ValueError, "busy_poll must be 0 to %d microseconds or None",
                         RC_BUSY_POLL_MAX_US);
            return -1;
        }
        cl->cfg.busy_poll = (double)us / 1e6;
    }
    /* The handshake with READONLY after it, for connections to replicas. */
    if (rc_buf_append(&cl->cfg.hello_ro, cl->cfg.hello.data, cl->cfg.hello.len) != RC_OK ||
        rc_buf_append(&cl->cfg.hello_ro, rc_readonly_cmd, sizeof rc_readonly_cmd - 1) != RC_OK) {
        PyErr_NoMemory();
        return -1;
    }
    if (wait_cb != Py_None) {
        Py_INCREF(wait_cb);
        cl->wait_cb = wait_cb;
        cl->wait_one = rc_wait_attr_of(wait_cb, "wait_one");
        cl->wait_idle = rc_wait_attr_of(wait_cb, "idle_fd");
    }
    cl->io_native = io_native;
    cl->cfg.readonly_all = readonly;
    cl->cfg.max_conns = maxc;
    cl->cfg.per_node = per_node;
    cl->cfg.skip_coverage = skip;
    cl->reinit_steps = steps >= 1 ? steps : 1;
    return 0;
}

static int
rc_pool_check(PoolObject *self)
{
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ was not called");
        return -1;
    }
    return 0;
}

int
rc_pool_keyslot(PoolObject *pool, PyObject *key)
{
    const char *p;
    size_t n;
    PyObject *tmp = NULL;
    char scratch[32];
    int slot;

    if (rc_encode_arg(pool->st, &pool->cl.cfg.codec, key, &p, &n, &tmp, scratch) < 0) {
        return -1;
    }
    slot = (int)rc_key_slot(p, n);
    Py_XDECREF(tmp);
    return slot;
}

static PyObject *
Pool_keyslot(PoolObject *self, PyObject *key)
{
    int slot;
    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    slot = rc_pool_keyslot(self, key);
    return slot < 0 ? NULL : PyLong_FromLong(slot);
}

/* _set_topology(nodes, slots): install a topology given whole (tests; the
 * engine discovers its own).
 * nodes: sequence of (host: str, port: int, role: int, master: int) where
 *        role is 1 (master) or 2 (replica) and master the position in
 *        `nodes` of a replica's master, else -1;
 * slots: bytes of 16384 native uint16 positions in `nodes` (0xFFFF: none). */
static PyObject *
Pool_set_topology(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_cluster *cl = &self->cl;
    PyObject *seq = NULL, *ret = NULL;
    Py_buffer view = {0};
    rc_topo_node *nodes = NULL;
    uint16_t *slots = NULL;
    Py_ssize_t n;
    const uint16_t *sl;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_set_topology(nodes, slots)");
        return NULL;
    }
    seq = PySequence_Fast(args[0], "nodes must be a sequence");
    if (seq == NULL || PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0) {
        goto done;
    }
    if (view.len != (Py_ssize_t)(RC_SLOTS * sizeof(uint16_t))) {
        PyErr_SetString(PyExc_ValueError, "slots must hold 16384 uint16 entries");
        goto done;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > 0xFFF0) {
        PyErr_SetString(PyExc_ValueError, "too many nodes");
        goto done;
    }
    nodes = malloc((size_t)(n ? n : 1) * sizeof *nodes);
    slots = malloc(RC_SLOTS * sizeof *slots);
    if (nodes == NULL || slots == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        const char *host;
        Py_ssize_t hn;
        long port, role, master;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError, "node entries must be (host, port, role, master)");
            goto done;
        }
        host = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(t, 0), &hn);
        port = PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
        role = PyLong_AsLong(PyTuple_GET_ITEM(t, 2));
        master = PyLong_AsLong(PyTuple_GET_ITEM(t, 3));
        if (host == NULL || PyErr_Occurred()) {
            goto done;
        }
        if (port <= 0 || port > 65535 || master < -1 || master >= n ||
            (role != RC_ROLE_MASTER && role != RC_ROLE_REPLICA)) {
            PyErr_SetString(PyExc_ValueError, "bad node entry");
            goto done;
        }
        nodes[i].node = rc_cluster_node(cl, host, (size_t)hn, (int)port, 1);
        if (nodes[i].node < 0) {
            goto done;
        }
        nodes[i].role = (int)role;
        nodes[i].master = (int)master; /* a position for now */
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        nodes[i].master = nodes[i].master >= 0 ? nodes[nodes[i].master].node : -1;
    }
    sl = (const uint16_t *)view.buf;
    for (int s = 0; s < RC_SLOTS; s++) {
        if (sl[s] != RC_NO_NODE && (Py_ssize_t)sl[s] >= n) {
            PyErr_SetString(PyExc_ValueError, "slot entry out of range");
            goto done;
        }
        slots[s] = sl[s] == RC_NO_NODE ? (uint16_t)RC_NO_NODE : (uint16_t)nodes[sl[s]].node;
    }
    if (rc_cluster_install(cl, nodes, (int)n, slots) < 0) {
        goto done;
    }
    Py_INCREF(Py_None);
    ret = Py_None;
done:
    if (view.obj != NULL) {
        PyBuffer_Release(&view);
    }
    free(nodes);
    free(slots);
    Py_XDECREF(seq);
    return ret;
}

/* _set_startup_nodes(nodes, follow): the nodes discovery asks first (a
 * sequence of (host: str, port: int)); follow: nodemanager_follow_cluster
 * (the last topology's nodes are asked before them). */
static PyObject *
Pool_set_startup_nodes(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_cluster *cl = &self->cl;
    PyObject *seq = NULL, *ret = NULL;
    const char **hosts = NULL;
    int *ports = NULL, follow;
    Py_ssize_t n;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_set_startup_nodes(nodes, follow)");
        return NULL;
    }
    follow = PyObject_IsTrue(args[1]);
    seq = follow < 0 ? NULL : PySequence_Fast(args[0], "startup nodes must be a sequence");
    if (seq == NULL) {
        goto done;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > 0xFFF0) {
        PyErr_SetString(PyExc_ValueError, "too many startup nodes");
        goto done;
    }
    hosts = malloc((size_t)(n ? n : 1) * sizeof *hosts);
    ports = malloc((size_t)(n ? n : 1) * sizeof *ports);
    if (hosts == NULL || ports == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t hn;
        long port;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
            PyErr_SetString(PyExc_TypeError, "startup nodes must be (host, port) pairs");
            goto done;
        }
        hosts[i] = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(t, 0), &hn);
        if (hosts[i] == NULL) {
            goto done;
        }
        port = PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
        if (port == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (hn == 0 || hn > 255 || (Py_ssize_t)strlen(hosts[i]) != hn) {
            PyErr_Format(PyExc_ValueError, "invalid startup node host: %R",
                         PyTuple_GET_ITEM(t, 0));
            goto done;
        }
        if (port <= 0 || port > 65535) {
            PyErr_Format(PyExc_ValueError, "invalid port: %ld", port);
            goto done;
        }
        ports[i] = (int)port;
    }
    if (rc_cluster_set_seeds(cl, hosts, ports, (int)n) < 0) {
        goto done;
    }
    cl->follow = follow;
    Py_INCREF(Py_None);
    ret = Py_None;
done:
    free(hosts);
    free(ports);
    Py_XDECREF(seq);
    return ret;
}

/* _topology() -> (epoch, [(host, port, name, role, master, in_topology)], slots) */
static PyObject *
Pool_topology(PoolObject *self, PyObject *unused)
{
    rc_cluster *cl = &self->cl;
    PyObject *nodes = NULL, *slots = NULL, *ret = NULL;
    uint16_t map[RC_SLOTS];
    rc_node_view *v = NULL;
    int n = 0;
    (void)unused;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    v = rc_cluster_views(cl, &n, map); /* (a copy made under the engine lock) */
    if (v == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    nodes = PyList_New(n);
    if (nodes == NULL) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        rc_node *nd = v[i].node;
        PyObject *t = nd == NULL ? Py_BuildValue("(OiOiii)", Py_None, 0, Py_None, 0, -1, 0)
                                 : Py_BuildValue("(siOiii)", nd->host, nd->port, nd->name,
                                                 v[i].role, v[i].master, v[i].in_topology);
        if (t == NULL) {
            goto done;
        }
        PyList_SET_ITEM(nodes, i, t);
    }
    slots = PyBytes_FromStringAndSize((const char *)map, (Py_ssize_t)sizeof map);
    if (slots == NULL) {
        goto done;
    }
    ret = Py_BuildValue("(KOO)", __atomic_load_n(&cl->epoch, __ATOMIC_RELAXED), nodes, slots);
done:
    if (v != NULL) {
        rc_cluster_views_free(cl, v, n);
    }
    Py_XDECREF(nodes);
    Py_XDECREF(slots);
    return ret;
}

/* Node index for a (host: str, port: int) argument pair, added if new; -1
 * with an exception set. */
static int
rc_node_arg(PoolObject *self, PyObject *hosto, PyObject *porto)
{
    Py_ssize_t hn;
    const char *host = PyUnicode_AsUTF8AndSize(hosto, &hn);
    long port = PyLong_AsLong(porto);
    if (host == NULL || (port == -1 && PyErr_Occurred())) {
        return -1;
    }
    if (port <= 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "invalid port: %ld", port);
        return -1;
    }
    return rc_cluster_node(&self->cl, host, (size_t)hn, (int)port, 1);
}

/* _node_command(host, port, *args): one command to one address, no
 * redirects; returns the raw reply, raises error replies. */
static PyObject *
Pool_node_command(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_cluster *cl = &self->cl;
    rc_buf buf;
    char inline_buf[256];
    int ni;
    rc_route rt;
    rc_limits lim = {1, 0}; /* discovery moves on to the next node instead */
    PyObject *reply = NULL;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs < 3) {
        PyErr_SetString(PyExc_TypeError, "_node_command(host, port, *args)");
        return NULL;
    }
    ni = rc_node_arg(self, args[0], args[1]);
    if (ni < 0) {
        return NULL;
    }
    rc_buf_init_inline(&buf, inline_buf, sizeof inline_buf);
    if (rc_pack_command(self->st, &cl->cfg.codec, &buf, args + 2, nargs - 2, NULL) < 0) {
        rc_buf_free(&buf);
        return NULL;
    }
    rt.slot = -1;
    rt.node = ni;
    rt.is_read = 1;
    rt.replica_ok = 0;
    if (rc_engine_one(cl, buf.data, buf.len, &rt, &lim, &reply) != RC_ST_OK) {
        reply = NULL;
    } else if (PyExceptionInstance_Check(reply)) {
        PyErr_SetObject((PyObject *)Py_TYPE(reply), reply);
        Py_CLEAR(reply);
    }
    rc_buf_free(&buf);
    return reply;
}

/* _require_full_coverage(host, port): whether that node says
 * cluster-require-full-coverage yes (False if it cannot be reached);
 * RedisClusterException for any other error, as the original. */
static PyObject *
Pool_require_full_coverage(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int ni, r;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_require_full_coverage(host, port)");
        return NULL;
    }
    ni = rc_node_arg(self, args[0], args[1]);
    if (ni < 0) {
        return NULL;
    }
    r = rc_topology_requires_coverage(&self->cl, ni);
    if (r < 0) {
        return NULL;
    }
    return PyBool_FromLong(r);
}

/* _remap_address(host, port) -> (host, port) after host_port_remap. */
static PyObject *
Pool_remap_address(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *host;
    Py_ssize_t hn;
    size_t len;
    long port;
    int p;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_remap_address(host, port)");
        return NULL;
    }
    host = PyUnicode_AsUTF8AndSize(args[0], &hn);
    port = PyLong_AsLong(args[1]);
    if (host == NULL || (port == -1 && PyErr_Occurred())) {
        return NULL;
    }
    if (port < 0 || port > 65535) {
        return PyErr_Format(PyExc_ValueError, "invalid port: %ld", port);
    }
    len = (size_t)hn;
    p = (int)port;
    rc_cluster_remap(&self->cl, &host, &len, &p);
    return Py_BuildValue("(s#i)", host, (Py_ssize_t)len, p);
}

/* _connection(host, port) or _connection(slot): a held connection to that
 * address / to the slot's master. */
static PyObject *
Pool_connection(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_cluster *cl = &self->cl;
    int ni;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs == 1) {
        long slot = PyLong_AsLong(args[0]);
        if (slot == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (slot < 0 || slot >= RC_SLOTS) {
            PyErr_SetString(PyExc_ValueError, "slot must be in 0..16383");
            return NULL;
        }
        if (rc_cluster_refresh_wanted(cl, rc_net_now()) && rc_cluster_refresh(cl, 0) < 0) {
            return NULL;
        }
        ni = rc_slot_master(cl, (int)slot);
        ni = ni == (int)RC_NO_NODE ? -1 : ni;
        if (ni < 0) {
            return PyErr_Format(self->st->SlotNotCoveredError,
                                "Slot \"%ld\" not covered by the cluster. "
                                "\"skip_full_coverage_check=%s\"",
                                slot, cl->cfg.skip_coverage ? "True" : "False");
        }
    } else if (nargs == 2) {
        ni = rc_node_arg(self, args[0], args[1]);
        if (ni < 0) {
            return NULL;
        }
    } else {
        PyErr_SetString(PyExc_TypeError, "_connection(slot) or _connection(host, port)");
        return NULL;
    }
    return rc_connection_new(self, ni);
}

/* _patch_slot(slot, host, port): what a MOVED does, for Python code that
 * saw one (transactions). */
static PyObject *
Pool_patch_slot(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_cluster *cl = &self->cl;
    Py_ssize_t hn;
    const char *host;
    long slot, port;
    int ni;

    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_patch_slot(slot, host, port)");
        return NULL;
    }
    slot = PyLong_AsLong(args[0]);
    host = PyUnicode_AsUTF8AndSize(args[1], &hn);
    port = PyLong_AsLong(args[2]);
    if (host == NULL || PyErr_Occurred()) {
        return NULL;
    }
    if (slot < 0 || slot >= RC_SLOTS || port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "bad slot or port");
        return NULL;
    }
    ni = rc_cluster_node_remapped(cl, host, (size_t)hn, (int)port);
    if (ni < 0) {
        return NULL;
    }
    rc_cluster_moved(cl, (int)slot, ni);
    Py_RETURN_NONE;
}

static PyObject *
Pool_disconnect(PoolObject *self, PyObject *unused)
{
    (void)unused;
    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    rc_cluster_disconnect(&self->cl);
    Py_RETURN_NONE;
}

static PyObject *
Pool_refresh(PoolObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int force = 1;
    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    if (nargs > 0) {
        force = PyObject_IsTrue(args[0]);
        if (force < 0) {
            return NULL;
        }
    }
    if (rc_cluster_refresh(&self->cl, force) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Pool_refresh_now(PoolObject *self, PyObject *unused)
{
    (void)unused;
    if (rc_pool_check(self) < 0 || rc_cluster_refresh_now(&self->cl) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Pool_stats(PoolObject *self, PyObject *unused)
{
    rc_cluster *cl = &self->cl;
    PyObject *per = NULL, *ret = NULL;
    rc_node_view *views = NULL;
    long long nconns, refreshes;
    unsigned long long epoch;
    int n = 0, moved, pending;
    (void)unused;
    if (rc_pool_check(self) < 0) {
        return NULL;
    }
    per = PyDict_New();
    if (per == NULL) {
        return NULL;
    }
    rc_cluster_check_fork(cl);
    views = rc_cluster_views(cl, &n, NULL); /* (a copy made under the engine lock) */
    if (views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < n; i++) {
        PyObject *v;
        if (views[i].node == NULL) {
            continue;
        }
        v = Py_BuildValue("(ii)", views[i].nconns, views[i].nidle);
        if (v == NULL || PyDict_SetItem(per, views[i].node->name, v) < 0) {
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(v);
    }
    rc_lock(cl);
    nconns = cl->nconns;
    refreshes = cl->refresh_count;
    epoch = cl->epoch;
    moved = cl->moved_count;
    pending = cl->refresh_pending;
    rc_unlock(cl);
    ret = Py_BuildValue("{s:L,s:L,s:K,s:i,s:i,s:O,s:K,s:K}", "connections", nconns,
                        "refreshes", refreshes, "epoch", epoch, "moved", moved,
                        "refresh_pending", pending, "nodes", per, "spin_hits",
                        __atomic_load_n(&cl->spin_hits, __ATOMIC_RELAXED), "spin_misses",
                        __atomic_load_n(&cl->spin_misses, __ATOMIC_RELAXED));
done:
    if (views != NULL) {
        rc_cluster_views_free(cl, views, n);
    }
    Py_XDECREF(per);
    return ret;
}

static PyObject *
Pool_get_refresh_hook(PoolObject *self, void *closure)
{
    (void)closure;
    if (self->cl.refresh_hook == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->cl.refresh_hook);
    return self->cl.refresh_hook;
}

static int
Pool_set_refresh_hook(PoolObject *self, PyObject *v, void *closure)
{
    (void)closure;
    if (v != NULL && v != Py_None && !PyCallable_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "_refresh_hook must be callable or None");
        return -1;
    }
    Py_XINCREF(v == Py_None ? NULL : v);
    Py_XSETREF(self->cl.refresh_hook, v == Py_None ? NULL : v);
    return 0;
}

static PyObject *
Pool_get_installs(PoolObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->cl.installs);
}

static PyObject *
Pool_get_epoch(PoolObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->cl.epoch);
}

static int
Pool_traverse(PoolObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->cl.refresh_hook);
    Py_VISIT(self->cl.wait_cb);
    Py_VISIT(self->cl.wait_one);
    Py_VISIT(self->cl.wait_idle);
    return 0;
}

static int
Pool_clear(PoolObject *self)
{
    Py_CLEAR(self->cl.refresh_hook);
    Py_CLEAR(self->cl.wait_cb);
    Py_CLEAR(self->cl.wait_one);
    Py_CLEAR(self->cl.wait_idle);
    return 0;
}

static void
Pool_dealloc(PoolObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    if (self->ready) {
        rc_cluster_clear(&self->cl);
    } else {
        Py_CLEAR(self->cl.refresh_hook);
        Py_CLEAR(self->cl.wait_cb);
        Py_CLEAR(self->cl.wait_one);
    Py_CLEAR(self->cl.wait_idle);
    }
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Pool_methods[] = {
    {"keyslot", (PyCFunction)Pool_keyslot, METH_O,
     "keyslot($self, key, /)\n--\n\nCluster slot (0..16383) of a key."},
    {"_set_topology", (PyCFunction)(void (*)(void))Pool_set_topology, METH_FASTCALL,
     "_set_topology($self, nodes, slots, /)\n--\n\nInstall a topology given whole (tests)."},
    {"_topology", (PyCFunction)Pool_topology, METH_NOARGS,
     "_topology($self, /)\n--\n\n(epoch, nodes, slots) as the engine sees them."},
    {"_node_command", (PyCFunction)(void (*)(void))Pool_node_command, METH_FASTCALL,
     "_node_command($self, host, port, /, *args)\n--\n\nOne command to one address."},
    {"_set_startup_nodes", (PyCFunction)(void (*)(void))Pool_set_startup_nodes, METH_FASTCALL,
     "_set_startup_nodes($self, nodes, follow, /)\n--\n\n"
     "The (host, port) pairs discovery asks first; follow: the last topology's nodes before them."},
    {"_require_full_coverage", (PyCFunction)(void (*)(void))Pool_require_full_coverage,
     METH_FASTCALL,
     "_require_full_coverage($self, host, port, /)\n--\n\n"
     "Whether the node says cluster-require-full-coverage yes."},
    {"_remap_address", (PyCFunction)(void (*)(void))Pool_remap_address, METH_FASTCALL,
     "_remap_address($self, host, port, /)\n--\n\n(host, port) after host_port_remap."},
    {"_connection", (PyCFunction)(void (*)(void))Pool_connection, METH_FASTCALL,
     "_connection($self, *where)\n--\n\nA held Connection to (host, port) or to a slot's master."},
    {"_patch_slot", (PyCFunction)(void (*)(void))Pool_patch_slot, METH_FASTCALL,
     "_patch_slot($self, slot, host, port, /)\n--\n\nPoint a slot at a node (after MOVED)."},
    {"disconnect", (PyCFunction)Pool_disconnect, METH_NOARGS,
     "disconnect($self, /)\n--\n\nClose idle connections; busy ones close when released."},
    {"_refresh", (PyCFunction)(void (*)(void))Pool_refresh, METH_FASTCALL,
     "_refresh($self, force=True, /)\n--\n\nRun the refresh policy now."},
    {"_refresh_now", (PyCFunction)Pool_refresh_now, METH_NOARGS,
     "_refresh_now($self, /)\n--\n\n"
     "Rediscover now (single flight: waits for a refresh already running); errors raise."},
    {"_stats", (PyCFunction)Pool_stats, METH_NOARGS,
     "_stats($self, /)\n--\n\nConnection and refresh counters."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Pool_getset[] = {
    {"_refresh_hook", (getter)Pool_get_refresh_hook, (setter)Pool_set_refresh_hook,
     "Tests: called (no arguments) as each discovery starts; if it raises, the discovery "
     "fails with that exception.",
     NULL},
    {"_installs", (getter)Pool_get_installs, NULL, "Topologies installed so far.", NULL},
    {"_epoch", (getter)Pool_get_epoch, NULL, "Bumped on every slot-map change.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Pool_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(PoolObject, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Pool_slots[] = {
    {Py_tp_doc, "Cluster engine state: nodes, slot map and connection pools."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Pool_init},
    {Py_tp_dealloc, Pool_dealloc},
    {Py_tp_traverse, Pool_traverse},
    {Py_tp_clear, Pool_clear},
    {Py_tp_methods, Pool_methods},
    {Py_tp_getset, Pool_getset},
    {Py_tp_members, Pool_members},
    {0, NULL},
};

PyType_Spec Pool_spec = {
    .name = "rediscluster._core.Pool",
    .basicsize = sizeof(PoolObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Pool_slots,
};
