/* topology.c -- topology discovery and installation (tier 2); see
 * topology.h for the rules and the step machine.
 *
 * The replies are parsed from the objects the engine's reader built (bytes
 * or str, with decode_responses), with every item checked: a malformed reply
 * is that node's failure -- the next node is asked -- never a crash. Nothing
 * here waits: the queries are ops run by the caller's driver. GIL throughout. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "topology.h"

/* Private phases of a discovery. */
enum {
    RC_TP_NEXT = 0,  /* ask the next candidate for CLUSTER SLOTS */
    RC_TP_SLOTS,     /* its answer is in op */
    RC_TP_COVERAGE,  /* partial map: ask the next merged node CONFIG GET */
    RC_TP_CONFIG,    /* its answer is in op */
    RC_TP_INSTALL,   /* the merged map is usable */
    RC_TP_FAIL,      /* no usable map: raise the summary */
    RC_TP_DONE
};

static const char rc_slots_cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
static const char rc_coverage_cmd[] =
    "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$29\r\ncluster-require-full-coverage\r\n";

#define RC_HOST_MAX 255 /* a DNS name's limit */
#define RC_MAX_DISAGREE 5

/* ------------------------------------------------------------------ install */

int
rc_cluster_install(rc_cluster *cl, const rc_topo_node *nodes, int n, const uint16_t *slots)
{
    int *role = NULL, *master = NULL, *nrep = NULL, **reps = NULL;
    int nn = cl->nnodes, ret = -1;
    rc_node *gone;

    role = calloc((size_t)(nn ? nn : 1), sizeof *role); /* 0: not listed */
    master = malloc((size_t)(nn ? nn : 1) * sizeof *master);
    nrep = calloc((size_t)(nn ? nn : 1), sizeof *nrep);
    reps = calloc((size_t)(nn ? nn : 1), sizeof *reps);
    if (role == NULL || master == NULL || nrep == NULL || reps == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* Validate everything before changing anything. */
    for (int i = 0; i < n; i++) {
        const rc_topo_node *e = &nodes[i];
        if (rc_cluster_at(cl, e->node) == NULL ||
            (e->role != RC_ROLE_MASTER && e->role != RC_ROLE_REPLICA) ||
            (e->role == RC_ROLE_REPLICA && e->master != -1 &&
             rc_cluster_at(cl, e->master) == NULL)) {
            PyErr_SetString(PyExc_ValueError, "bad node entry");
            goto done;
        }
        role[e->node] = e->role;
        master[e->node] = e->role == RC_ROLE_REPLICA ? e->master : -1;
    }
    for (int i = 0; i < nn; i++) {
        if (role[i] == RC_ROLE_REPLICA && master[i] >= 0) {
            if (role[master[i]] != RC_ROLE_MASTER) {
                PyErr_SetString(PyExc_ValueError, "a replica's master must be listed as a master");
                goto done;
            }
            nrep[master[i]]++;
        }
    }
    for (int s = 0; s < RC_SLOTS; s++) {
        if (slots[s] != RC_NO_NODE && (slots[s] >= nn || role[slots[s]] == 0)) {
            PyErr_SetString(PyExc_ValueError, "slot entry out of range");
            goto done;
        }
    }
    for (int i = 0; i < nn; i++) {
        if (nrep[i] > 0) {
            reps[i] = malloc((size_t)nrep[i] * sizeof **reps);
            if (reps[i] == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            nrep[i] = 0; /* refilled below */
        }
    }
    /* Apply (nothing can fail from here on), under the engine lock: routing
     * reads the slot map, roles and replica lists under it. */
    rc_lock(cl);
    for (int i = 0; i < nn; i++) {
        if (role[i] == RC_ROLE_REPLICA && master[i] >= 0) {
            reps[master[i]][nrep[master[i]]++] = i;
        }
    }
    for (int i = 0; i < nn; i++) {
        rc_node *nd = cl->nodes[i];
        if (nd == NULL) {
            continue;
        }
        free(nd->replicas);
        nd->replicas = reps[i];
        nd->nreplicas = nrep[i];
        reps[i] = NULL;
        nd->in_topology = role[i] != 0;
        nd->role = role[i] != 0 ? role[i] : RC_ROLE_UNKNOWN;
        nd->master = role[i] == RC_ROLE_REPLICA ? master[i] : -1;
    }
    for (int s = 0; s < RC_SLOTS; s++) {
        __atomic_store_n(&cl->slots[s], slots[s], __ATOMIC_RELAXED); /* (read without the lock) */
    }
    /* Nodes that left lose their idle sockets, and are freed once nothing
     * refers to them. (refresh_pending and moved_count are not reset here: a
     * refresh resets them when it starts, and what other threads saw
     * meanwhile is newer than this topology.) */
    gone = rc_cluster_retire_locked(cl);
    cl->epoch++;
    cl->installs++;
    rc_unlock(cl);
    rc_cluster_free_retired(cl, gone);
    ret = 0;
done:
    if (reps != NULL) {
        for (int i = 0; i < nn; i++) {
            free(reps[i]);
        }
    }
    free(reps);
    free(nrep);
    free(master);
    free(role);
    return ret;
}

/* ------------------------------------------------------------------ helpers */

static uint64_t
rc_topo_random(rc_cluster *cl)
{
    uint64_t x;
    rc_lock(cl);
    x = cl->rng ? cl->rng : 88172645463325252ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    cl->rng = x;
    rc_unlock(cl);
    return x;
}

static void
rc_topo_shuffle(rc_cluster *cl, int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rc_topo_random(cl) % (uint64_t)(i + 1)), tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}

/* Remember `what` (a new reference, stolen; may be NULL after a memory
 * error) as the last failure, prefixed by the node's name unless it names
 * it already. */
static void
rc_topo_note(rc_topo *t, rc_node *node, PyObject *what)
{
    PyObject *text = NULL;
    if (what == NULL) {
        PyErr_Clear();
        return;
    }
    if (PyUnicode_Check(what) && node != NULL) {
        Py_ssize_t at = PyUnicode_Find(what, node->name, 0, PyUnicode_GET_LENGTH(what), 1);
        if (at == -2) {
            PyErr_Clear();
        }
        text = at == -1 ? PyUnicode_FromFormat("%U: %U", node->name, what) : PyObject_Str(what);
    } else {
        text = PyObject_Str(what);
    }
    if (text == NULL) {
        PyErr_Clear();
    } else {
        Py_XSETREF(t->last, text);
    }
    Py_DECREF(what);
}

/* Raise cls(msg) (msg stolen) with `cause` (borrowed, may be NULL) as its
 * __cause__ ("raise ... from cause"). Returns RC_TOPO_FAILED. */
static int
rc_topo_raise(PyObject *cls, PyObject *msg, PyObject *cause)
{
    PyObject *exc;
    if (msg == NULL) {
        return RC_TOPO_FAILED;
    }
    exc = PyObject_CallOneArg(cls, msg);
    Py_DECREF(msg);
    if (exc == NULL) {
        return RC_TOPO_FAILED;
    }
    if (cause != NULL) {
        Py_INCREF(cause);
        PyException_SetCause(exc, cause); /* steals; sets __suppress_context__ */
        Py_INCREF(cause);
        PyException_SetContext(exc, cause); /* steals */
    }
    rc_restore_exception(exc);
    return RC_TOPO_FAILED;
}

/* 2.1.3's "ERROR sending '<what>' command to redis server: {node}". */
static int
rc_topo_raise_sending(rc_state *st, const char *what, rc_node *node, PyObject *cause)
{
    PyObject *host = PyUnicode_DecodeUTF8(node->host, (Py_ssize_t)strlen(node->host), "replace");
    PyObject *msg = NULL;
    if (host != NULL) {
        msg = PyUnicode_FromFormat(
            "ERROR sending '%s' command to redis server: {'host': %R, 'port': %d}", what, host,
            node->port);
        Py_DECREF(host);
    }
    return rc_topo_raise(st->RedisClusterException, msg, cause);
}

/* Prepare t->op: the packed command cmd to node ni, one attempt, bounded by
 * socket_timeout. 0, or -1 with an exception set. */
static int
rc_topo_query(rc_topo *t, int ni, const char *cmd, size_t len)
{
    rc_limits lim = {1, 0}; /* discovery moves on to the next node instead */
    rc_route rt;

    rt.slot = -1;
    rt.node = ni;
    rt.is_read = 1;
    rt.replica_ok = 0;
    rc_op_init(&t->op, t->cl, &lim);
    t->op_live = 1;
    t->asked = ni;
    if (rc_buf_append(&t->op.buf, cmd, len) != RC_OK) {
        PyErr_NoMemory();
        return -1;
    }
    if (rc_op_add(&t->op, 0, len, &rt) < 0) {
        return -1;
    }
    rc_op_set_deadline(&t->op, t->cl->cfg.sock.timeout);
    return 0;
}

/* The answer of the op just run (new reference: a reply or an exception
 * instance), the op cleared. NULL with an exception set if it has none. */
static PyObject *
rc_topo_answer(rc_topo *t)
{
    PyObject *res = NULL;
    if (t->op_live) {
        if (t->op.n == 1) {
            res = t->op.cmds[0].result;
            t->op.cmds[0].result = NULL;
        }
        rc_op_clear(&t->op);
        t->op_live = 0;
    }
    if (res == NULL && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_RuntimeError, "discovery stepped before its query ran");
    }
    return res;
}

/* ------------------------------------------------------------------ candidates */

/* The nodes to ask, pinned: the startup nodes in a random rotation (so that
 * many clients do not all ask the same node), then every node of the current
 * topology, shuffled; with follow (nodemanager_follow_cluster) the topology's
 * nodes come first. No node twice. 0, or -1 with an exception set. */
static int
rc_topo_candidates(rc_topo *t)
{
    rc_cluster *cl = t->cl;
    int *seeds = NULL, *known = NULL, nseeds = 0, nknown = 0, nn, ret = -1;
    char *seen = NULL;

    seeds = malloc((size_t)(cl->nseeds ? cl->nseeds : 1) * sizeof *seeds);
    if (seeds == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < cl->nseeds; i++) {
        int ni = rc_cluster_node(cl, cl->seeds[i].host, strlen(cl->seeds[i].host),
                                 cl->seeds[i].port, 1);
        if (ni < 0) {
            goto done;
        }
        seeds[nseeds++] = ni;
    }
    /* The table's size now (other threads may add nodes meanwhile: they
     * are not candidates of this discovery). */
    nn = __atomic_load_n(&cl->nnodes, __ATOMIC_ACQUIRE);
    known = malloc((size_t)(nn ? nn : 1) * sizeof *known);
    seen = calloc((size_t)(nn ? nn : 1), 1);
    t->cand = malloc((size_t)(nseeds + nn + 1) * sizeof *t->cand);
    if (known == NULL || seen == NULL || t->cand == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    rc_lock(cl);
    for (int i = 0; i < nn && i < cl->nnodes; i++) {
        if (cl->nodes[i] != NULL && cl->nodes[i]->in_topology) {
            known[nknown++] = i;
        }
    }
    rc_unlock(cl);
    rc_topo_shuffle(cl, known, nknown);
    if (nseeds > 1) {
        int k = (int)(rc_topo_random(cl) % (uint64_t)nseeds);
        int *rot = malloc((size_t)nseeds * sizeof *rot);
        if (rot == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (int i = 0; i < nseeds; i++) {
            rot[i] = seeds[(i + k) % nseeds];
        }
        memcpy(seeds, rot, (size_t)nseeds * sizeof *seeds);
        free(rot);
    }
    for (int pass = 0; pass < 2; pass++) {
        int first_known = cl->follow ? pass == 0 : pass == 1;
        const int *list = first_known ? known : seeds;
        int len = first_known ? nknown : nseeds;
        for (int i = 0; i < len; i++) {
            if (!seen[list[i]]) {
                seen[list[i]] = 1;
                rc_node_pin(cl, list[i]);
                t->cand[t->ncand++] = list[i];
            }
        }
    }
    ret = 0;
done:
    free(seeds);
    free(known);
    free(seen);
    return ret;
}

/* ------------------------------------------------------------------ parsing */

/* An integer item of a reply: an int, or decimal text (bytes or str; the
 * original took int() of either). 0, or 1 if it is neither. Values beyond
 * long long are clamped (the caller's range check rejects them). */
static int
rc_topo_int(PyObject *o, long long *out)
{
    const char *p = NULL;
    Py_ssize_t n = 0;
    long long v = 0;
    int neg = 0;

    if (PyLong_Check(o)) {
        int overflow = 0;
        v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 1;
        }
        *out = overflow > 0 ? LLONG_MAX : overflow < 0 ? LLONG_MIN : v;
        return 0;
    }
    if (PyBytes_Check(o)) {
        p = PyBytes_AS_STRING(o);
        n = PyBytes_GET_SIZE(o);
    } else if (PyUnicode_Check(o)) {
        p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p == NULL) {
            PyErr_Clear();
            return 1;
        }
    } else {
        return 1;
    }
    if (n > 0 && p[0] == '-') {
        neg = 1;
        p++;
        n--;
    }
    if (n < 1 || n > 18) {
        return 1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* A text item (bytes or str) as UTF-8: *p valid while o lives. 0, or 1. */
static int
rc_topo_text(PyObject *o, const char **p, Py_ssize_t *n)
{
    if (PyBytes_Check(o)) {
        *p = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        *p = PyUnicode_AsUTF8AndSize(o, n);
        if (*p == NULL) {
            PyErr_Clear();
            return 1;
        }
        return 0;
    }
    return 1;
}

/* Whether text p[0..n) equals the NUL-terminated s. */
static int
rc_topo_is(const char *p, Py_ssize_t n, const char *s)
{
    return (size_t)n == strlen(s) && memcmp(p, s, (size_t)n) == 0;
}

/* The parse of one reply: its entries, with node indices. */
typedef struct rc_slots_entry {
    int start, end;
    int master;     /* node index, or -1: no usable address (range unowned) */
    int rfirst, rn; /* its replicas: reps[rfirst .. rfirst+rn) */
} rc_slots_entry;

typedef struct rc_slots_parse {
    rc_slots_entry *e;
    int ne;
    int *reps;
    int nreps;
    PyObject *problem; /* what is wrong with the reply (str, owned) */
} rc_slots_parse;

/* Set the parse's problem (when none yet). Returns 1. */
static int
rc_slots_bad(rc_slots_parse *sp, Py_ssize_t entry, const char *fmt, ...)
{
    va_list ap;
    PyObject *what;
    if (sp->problem != NULL) {
        return 1;
    }
    va_start(ap, fmt);
    what = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (what == NULL) {
        PyErr_Clear();
        return 1;
    }
    sp->problem = entry >= 0 ? PyUnicode_FromFormat("entry %zd: %U", entry, what)
                             : (Py_INCREF(what), what);
    if (sp->problem == NULL) {
        PyErr_Clear();
    }
    Py_DECREF(what);
    return 1;
}

/* The node an address item of entry k names ([host, port, id?, meta?]),
 * after host_port_remap; an empty host is the node asked. *out: the node
 * index, or -1 when the address is unusable (the endpoint unknown: "?" or
 * port 0). 0; 1 if the item is malformed (problem set); -1 with an
 * exception set (memory, too many nodes). */
static int
rc_slots_node(rc_topo *t, rc_slots_parse *sp, Py_ssize_t k, PyObject *item, int *out)
{
    rc_cluster *cl = t->cl;
    rc_node *asked = rc_cluster_at(cl, t->asked);
    const char *host;
    Py_ssize_t hn;
    long long port;
    size_t hlen;

    *out = -1;
    if (!PyList_Check(item) || PyList_GET_SIZE(item) < 2) {
        return rc_slots_bad(sp, k, "a node is not an array of host and port");
    }
    if (rc_topo_text(PyList_GET_ITEM(item, 0), &host, &hn) != 0) {
        return rc_slots_bad(sp, k, "a node's host is not a string");
    }
    if (rc_topo_int(PyList_GET_ITEM(item, 1), &port) != 0) {
        return rc_slots_bad(sp, k, "a node's port is not an integer");
    }
    if (port < 0 || port > 65535) {
        return rc_slots_bad(sp, k, "port %lld is not valid", port);
    }
    if (hn == 1 && host[0] == '?' && PyList_GET_SIZE(item) >= 4 &&
        PyList_Check(PyList_GET_ITEM(item, 3))) {
        /* preferred endpoint unknown (cluster-preferred-endpoint-type
         * hostname without one): the metadata may give the ip */
        PyObject *meta = PyList_GET_ITEM(item, 3);
        for (Py_ssize_t i = 0; i + 1 < PyList_GET_SIZE(meta); i += 2) {
            const char *key, *val;
            Py_ssize_t kn, vn;
            if (rc_topo_text(PyList_GET_ITEM(meta, i), &key, &kn) == 0 &&
                rc_topo_is(key, kn, "ip") &&
                rc_topo_text(PyList_GET_ITEM(meta, i + 1), &val, &vn) == 0 && vn > 0) {
                host = val;
                hn = vn;
                break;
            }
        }
    }
    if (port == 0 || (hn == 1 && host[0] == '?')) {
        return 0; /* no address to reach it at */
    }
    if (hn > RC_HOST_MAX) {
        return rc_slots_bad(sp, k, "a host is %zd bytes long", hn);
    }
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
        host++; /* [IPv6] */
        hn -= 2;
    }
    for (Py_ssize_t i = 0; i < hn; i++) {
        if ((unsigned char)host[i] <= 0x20 || (unsigned char)host[i] >= 0x7f) {
            return rc_slots_bad(sp, k, "a host is not printable ASCII");
        }
    }
    if (hn == 0) {
        if (asked == NULL) {
            return rc_slots_bad(sp, k, "an empty host");
        }
        host = asked->host; /* the node asked (a cluster of one) */
        hn = (Py_ssize_t)strlen(host);
    }
    hlen = (size_t)hn;
    *out = rc_cluster_node_remapped(cl, host, hlen, (int)port);
    return *out < 0 ? -1 : 0;
}

/* Parse a CLUSTER SLOTS reply ([[start, end, master, replica...], ...]) into
 * sp. 0; 1 if malformed (sp->problem says why); -1 with an exception set. */
static int
rc_slots_parse_reply(rc_topo *t, PyObject *reply, rc_slots_parse *sp)
{
    Py_ssize_t n, total = 0;

    if (!PyList_Check(reply)) {
        return rc_slots_bad(sp, -1, "not an array but %s", Py_TYPE(reply)->tp_name);
    }
    n = PyList_GET_SIZE(reply);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *e = PyList_GET_ITEM(reply, k);
        if (!PyList_Check(e) || PyList_GET_SIZE(e) < 3) {
            return rc_slots_bad(sp, k, "not an array of start, end and nodes");
        }
        total += PyList_GET_SIZE(e) - 3;
    }
    if (n > RC_SLOTS * 2 || total > (Py_ssize_t)1 << 24) {
        return rc_slots_bad(sp, -1, "%zd entries", n);
    }
    sp->e = malloc((size_t)(n ? n : 1) * sizeof *sp->e);
    sp->reps = malloc((size_t)(total ? total : 1) * sizeof *sp->reps);
    if (sp->e == NULL || sp->reps == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *e = PyList_GET_ITEM(reply, k);
        rc_slots_entry *out = &sp->e[sp->ne];
        long long start, end;
        int r;
        if (rc_topo_int(PyList_GET_ITEM(e, 0), &start) != 0 ||
            rc_topo_int(PyList_GET_ITEM(e, 1), &end) != 0) {
            return rc_slots_bad(sp, k, "a slot number is not an integer");
        }
        if (start < 0 || end >= RC_SLOTS || start > end) {
            return rc_slots_bad(sp, k, "slot range %lld-%lld is not valid", start, end);
        }
        out->start = (int)start;
        out->end = (int)end;
        r = rc_slots_node(t, sp, k, PyList_GET_ITEM(e, 2), &out->master);
        if (r != 0) {
            return r;
        }
        out->rfirst = sp->nreps;
        out->rn = 0;
        for (Py_ssize_t j = 3; j < PyList_GET_SIZE(e); j++) {
            int ri;
            r = rc_slots_node(t, sp, k, PyList_GET_ITEM(e, j), &ri);
            if (r != 0) {
                return r;
            }
            if (ri >= 0 && ri != out->master) {
                sp->reps[sp->nreps++] = ri;
                out->rn++;
            }
        }
        sp->ne++;
    }
    return 0;
}

/* ------------------------------------------------------------------ merging */

/* The merged map's entry for node ni, added (pinned) if new. NULL with
 * MemoryError. */
static rc_topo_node *
rc_topo_entry(rc_topo *t, int ni, int *added)
{
    *added = 0;
    if (ni >= t->npos) {
        int np = t->cl->nnodes > ni ? t->cl->nnodes : ni + 1;
        int *p = realloc(t->pos, (size_t)np * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        for (int i = t->npos; i < np; i++) {
            p[i] = -1;
        }
        t->pos = p;
        t->npos = np;
    }
    if (t->pos[ni] >= 0) {
        return &t->nodes[t->pos[ni]];
    }
    if (t->nnodes == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        rc_topo_node *p = realloc(t->nodes, (size_t)cap * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        t->nodes = p;
        t->cap = cap;
    }
    rc_node_pin(t->cl, ni);
    t->pos[ni] = t->nnodes;
    t->nodes[t->nnodes].node = ni;
    t->nodes[t->nnodes].role = RC_ROLE_UNKNOWN;
    t->nodes[t->nnodes].master = -1;
    *added = 1;
    return &t->nodes[t->nnodes++];
}

/* Record that slot s is claimed by `m` while the merged map names another
 * owner. 0, or -1 with the exception set (too many: 2.1.3's error; memory). */
static int
rc_topo_disagree(rc_topo *t, int s, int m)
{
    rc_cluster *cl = t->cl;
    PyObject *text;
    if (t->disagree == NULL && (t->disagree = PyList_New(0)) == NULL) {
        return -1;
    }
    text = PyUnicode_FromFormat("%U vs %U on slot: %d", cl->nodes[t->slots[s]]->name,
                                cl->nodes[m]->name, s);
    if (text == NULL || PyList_Append(t->disagree, text) < 0) {
        Py_XDECREF(text);
        return -1;
    }
    Py_DECREF(text);
    if (PyList_GET_SIZE(t->disagree) > RC_MAX_DISAGREE) {
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *all = sep ? PyUnicode_Join(sep, t->disagree) : NULL;
        PyObject *msg = all ? PyUnicode_FromFormat(
                                  "startup_nodes could not agree on a valid slots cache. %U", all)
                            : NULL;
        Py_XDECREF(sep);
        Py_XDECREF(all);
        (void)rc_topo_raise(cl->st->RedisClusterException, msg, NULL);
        return -1;
    }
    return 0;
}

/* Merge a parsed reply into the merged map, as 2.1.3 builds its cache: a
 * slot keeps the first owner named (another owner named for it is a
 * disagreement); an entry's replicas count if it gave its master a slot;
 * a node named master anywhere is a master. 0, or -1 with an exception. */
static int
rc_topo_merge(rc_topo *t, const rc_slots_parse *sp)
{
    for (int k = 0; k < sp->ne; k++) {
        const rc_slots_entry *e = &sp->e[k];
        rc_topo_node *m;
        int added, gained = 0;
        if (e->master < 0) {
            continue; /* its master cannot be reached: the range stays unowned */
        }
        m = rc_topo_entry(t, e->master, &added);
        if (m == NULL) {
            return -1;
        }
        m->role = RC_ROLE_MASTER;
        m->master = -1;
        for (int s = e->start; s <= e->end; s++) {
            if (t->slots[s] == RC_NO_NODE) {
                t->slots[s] = (uint16_t)e->master;
                t->covered++;
                gained = 1;
            } else if (t->slots[s] != (uint16_t)e->master &&
                       rc_topo_disagree(t, s, e->master) < 0) {
                return -1;
            }
        }
        if (!gained) {
            continue;
        }
        for (int j = 0; j < e->rn; j++) {
            rc_topo_node *r = rc_topo_entry(t, sp->reps[e->rfirst + j], &added);
            if (r == NULL) {
                return -1;
            }
            if (added) {
                r->role = RC_ROLE_REPLICA;
                r->master = e->master;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ answers */

/* Whether exception instance exc is a CLUSTERDOWN / MASTERDOWN reply (the
 * class, or the words, as 2.1.3 looked for them). */
static int
rc_topo_is_down(rc_state *st, PyObject *exc)
{
    PyObject *s;
    const char *p;
    Py_ssize_t n;
    int r = 0;
    if (PyErr_GivenExceptionMatches(exc, st->ClusterDownError)) {
        return 1;
    }
    s = PyObject_Str(exc);
    p = s != NULL ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
    if (p == NULL) {
        PyErr_Clear();
    } else {
        r = strstr(p, "CLUSTERDOWN") != NULL || strstr(p, "MASTERDOWN") != NULL;
    }
    Py_XDECREF(s);
    return r;
}

/* Refused credentials: ClusterAuthenticationError, the refusal as cause. */
static int
rc_topo_raise_auth(rc_topo *t, PyObject *exc)
{
    rc_state *st = t->cl->st;
    PyObject *args, *new_exc;
    if (PyErr_GivenExceptionMatches(exc, st->RedisClusterException)) {
        Py_INCREF(exc);
        rc_restore_exception(exc);
        return RC_TOPO_FAILED;
    }
    args = PyObject_GetAttrString(exc, "args");
    if (args == NULL) {
        return RC_TOPO_FAILED;
    }
    new_exc = PyObject_Call(st->ClusterAuthenticationError, args, NULL);
    Py_DECREF(args);
    if (new_exc == NULL) {
        return RC_TOPO_FAILED;
    }
    Py_INCREF(exc);
    PyException_SetCause(new_exc, exc);
    Py_INCREF(exc);
    PyException_SetContext(new_exc, exc);
    rc_restore_exception(new_exc);
    return RC_TOPO_FAILED;
}

/* The CLUSTER SLOTS answer of t->asked: merged, or the node's failure noted.
 * Returns the next phase, or RC_TP_DONE with an exception set to fail. */
static int
rc_topo_on_slots(rc_topo *t, PyObject *res)
{
    rc_cluster *cl = t->cl;
    rc_state *st = cl->st;
    rc_node *node = rc_cluster_at(cl, t->asked);
    rc_slots_parse sp;
    int r, next = RC_TP_NEXT;

    memset(&sp, 0, sizeof sp);
    if (PyExceptionInstance_Check(res)) {
        if (PyErr_GivenExceptionMatches(res, st->AuthenticationError)) {
            rc_topo_raise_auth(t, res);
            return RC_TP_DONE;
        }
        if (PyErr_GivenExceptionMatches(res, st->ConnectionError) ||
            PyErr_GivenExceptionMatches(res, st->TimeoutError)) {
            rc_topo_note(t, node, PyObject_Str(res));
            return RC_TP_NEXT; /* the next node, as 2.1.3 */
        }
        if (rc_topo_is_down(st, res)) {
            rc_topo_note(t, node, PyUnicode_FromFormat("%s: %S", Py_TYPE(res)->tp_name, res));
            return RC_TP_NEXT;
        }
        rc_topo_raise_sending(st, "cluster slots", node, res);
        return RC_TP_DONE;
    }
    r = rc_slots_parse_reply(t, res, &sp);
    if (r < 0) {
        next = RC_TP_DONE;
        goto done;
    }
    if (r > 0) {
        rc_topo_note(t, node,
                     sp.problem ? PyUnicode_FromFormat("bad CLUSTER SLOTS reply: %U", sp.problem)
                                : PyUnicode_FromString("bad CLUSTER SLOTS reply"));
        goto done;
    }
    if (rc_topo_merge(t, &sp) < 0) {
        next = RC_TP_DONE;
        goto done;
    }
    t->answered++;
    if (t->covered == RC_SLOTS) {
        next = RC_TP_INSTALL;
    } else if (t->covered == 0) {
        /* A node that knows no slot (a lone or new node): its map would wipe
         * the client's; ask the next. */
        rc_topo_note(t, node, PyUnicode_FromString("CLUSTER SLOTS: no slot is assigned"));
    } else if (cl->cfg.skip_coverage) {
        next = RC_TP_INSTALL;
    } else if (!t->full_required) {
        next = RC_TP_COVERAGE;
    }
done:
    free(sp.e);
    free(sp.reps);
    Py_XDECREF(sp.problem);
    return next;
}

/* Whether a CONFIG GET reply ([name, value, ...]) says "yes". */
static int
rc_topo_says_yes(PyObject *reply)
{
    if (!PyList_Check(reply)) {
        return 0;
    }
    for (Py_ssize_t i = 1; i < PyList_GET_SIZE(reply); i += 2) {
        const char *p;
        Py_ssize_t n;
        if (rc_topo_text(PyList_GET_ITEM(reply, i), &p, &n) == 0 && rc_topo_is(p, n, "yes")) {
            return 1;
        }
    }
    return 0;
}

/* The CONFIG GET answer of node: 1 yes, 0 no (or not reachable: the
 * original's rule), -1 with RedisClusterException set. */
static int
rc_topo_coverage_answer(rc_cluster *cl, rc_node *node, PyObject *res)
{
    if (!PyExceptionInstance_Check(res)) {
        return rc_topo_says_yes(res);
    }
    if (PyErr_GivenExceptionMatches(res, cl->st->ConnectionError)) {
        return 0;
    }
    rc_topo_raise_sending(cl->st, "config get cluster-require-full-coverage", node, res);
    return -1;
}

/* ------------------------------------------------------------------ steps */

/* Undo the pins of the candidates and of the merged map's nodes (once). */
static void
rc_topo_unpin(rc_topo *t)
{
    if (t->unpinned) {
        return;
    }
    t->unpinned = 1;
    for (int i = 0; i < t->ncand; i++) {
        rc_node_unpin(t->cl, t->cand[i]);
    }
    for (int i = 0; i < t->nnodes; i++) {
        rc_node_unpin(t->cl, t->nodes[i].node);
    }
}

int
rc_topo_begin(rc_topo *t, rc_cluster *cl)
{
    memset(t, 0, sizeof *t);
    t->cl = cl;
    t->phase = RC_TP_FAIL;
    if (cl->refresh_hook != NULL) {
        PyObject *hook = cl->refresh_hook, *r;
        Py_INCREF(hook); /* the hook may replace itself */
        r = PyObject_CallNoArgs(hook);
        Py_DECREF(hook);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    t->slots = malloc(RC_SLOTS * sizeof *t->slots);
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (int s = 0; s < RC_SLOTS; s++) {
        t->slots[s] = (uint16_t)RC_NO_NODE;
    }
    t->asked = -1;
    if (rc_topo_candidates(t) < 0) {
        return -1;
    }
    t->phase = RC_TP_NEXT;
    return 0;
}

/* The summary when no usable map came: 2.1.3's messages. */
static int
rc_topo_fail(rc_topo *t)
{
    rc_state *st = t->cl->st;
    PyObject *msg;
    if (t->answered > 0) {
        msg = PyUnicode_FromFormat("All slots are not covered after query all startup_nodes. "
                                   "%d of %d covered...",
                                   t->covered, RC_SLOTS);
    } else if (t->last != NULL) {
        msg = PyUnicode_FromFormat("Redis Cluster cannot be connected. Please provide at least "
                                   "one reachable node. (last error: %U)",
                                   t->last);
    } else {
        msg = PyUnicode_FromString(
            "Redis Cluster cannot be connected. Please provide at least one reachable node.");
    }
    return rc_topo_raise(st->RedisClusterException, msg, NULL);
}

int
rc_topo_step(rc_topo *t)
{
    rc_cluster *cl = t->cl;
    PyObject *res;

    for (;;) {
        switch (t->phase) {
        case RC_TP_NEXT:
            if (t->next >= t->ncand) {
                t->phase = RC_TP_FAIL;
                break;
            }
            if (rc_topo_query(t, t->cand[t->next++], rc_slots_cmd, sizeof rc_slots_cmd - 1) < 0) {
                return RC_TOPO_FAILED;
            }
            t->phase = RC_TP_SLOTS;
            return RC_TOPO_RUN;
        case RC_TP_SLOTS:
            res = rc_topo_answer(t);
            if (res == NULL) {
                return RC_TOPO_FAILED;
            }
            t->phase = rc_topo_on_slots(t, res);
            Py_DECREF(res);
            if (t->phase == RC_TP_DONE) {
                return RC_TOPO_FAILED; /* (the exception is set) */
            }
            break;
        case RC_TP_COVERAGE:
            if (t->cfg_next >= t->nnodes) {
                t->phase = RC_TP_INSTALL; /* no node requires full coverage */
                break;
            }
            if (rc_topo_query(t, t->nodes[t->cfg_next++].node, rc_coverage_cmd,
                              sizeof rc_coverage_cmd - 1) < 0) {
                return RC_TOPO_FAILED;
            }
            t->phase = RC_TP_CONFIG;
            return RC_TOPO_RUN;
        case RC_TP_CONFIG: {
            int yes;
            res = rc_topo_answer(t);
            if (res == NULL) {
                return RC_TOPO_FAILED;
            }
            yes = rc_topo_coverage_answer(cl, rc_cluster_at(cl, t->asked), res);
            Py_DECREF(res);
            if (yes < 0) {
                t->phase = RC_TP_DONE;
                return RC_TOPO_FAILED;
            }
            if (yes) {
                t->full_required = 1; /* this map will not do: the next node */
                t->phase = RC_TP_NEXT;
            } else {
                t->phase = RC_TP_COVERAGE;
            }
            break;
        }
        case RC_TP_INSTALL:
            t->phase = RC_TP_DONE;
            /* (no wait from here on: the pins go, so that the install can
             * retire the startup nodes that are not in the topology) */
            rc_topo_unpin(t);
            if (rc_cluster_install(cl, t->nodes, t->nnodes, t->slots) < 0) {
                return RC_TOPO_FAILED;
            }
            return RC_TOPO_DONE;
        case RC_TP_FAIL:
            t->phase = RC_TP_DONE;
            return rc_topo_fail(t);
        default: /* RC_TP_DONE */
            PyErr_SetString(PyExc_RuntimeError, "discovery already ended");
            return RC_TOPO_FAILED;
        }
    }
}

void
rc_topo_clear(rc_topo *t)
{
    rc_cluster *cl = t->cl;
    if (cl == NULL) {
        return;
    }
    if (t->op_live) {
        rc_op_clear(&t->op);
        t->op_live = 0;
    }
    rc_topo_unpin(t);
    free(t->cand);
    free(t->slots);
    free(t->nodes);
    free(t->pos);
    Py_CLEAR(t->disagree);
    Py_CLEAR(t->last);
    t->cand = NULL;
    t->slots = NULL;
    t->nodes = NULL;
    t->pos = NULL;
    t->ncand = t->nnodes = t->npos = 0;
    t->phase = RC_TP_DONE;
}

int
rc_topology_discover(rc_cluster *cl)
{
    rc_topo t;
    int r = RC_TOPO_FAILED;

    if (rc_topo_begin(&t, cl) == 0) {
        while ((r = rc_topo_step(&t)) == RC_TOPO_RUN) {
            if (rc_op_run(&t.op) < 0) {
                r = RC_TOPO_FAILED;
                break;
            }
        }
    }
    rc_topo_clear(&t);
    return r == RC_TOPO_DONE ? 0 : -1;
}

int
rc_topology_requires_coverage(rc_cluster *cl, int node)
{
    rc_topo t;
    PyObject *res = NULL;
    int r = -1;

    memset(&t, 0, sizeof t);
    t.cl = cl;
    rc_node_pin(cl, node);
    if (rc_topo_query(&t, node, rc_coverage_cmd, sizeof rc_coverage_cmd - 1) == 0 &&
        rc_op_run(&t.op) == 0) {
        res = rc_topo_answer(&t);
        if (res != NULL) {
            r = rc_topo_coverage_answer(cl, rc_cluster_at(cl, node), res);
        }
    }
    Py_XDECREF(res);
    if (t.op_live) {
        rc_op_clear(&t.op);
    }
    rc_node_unpin(cl, node);
    return r;
}
