/* pool.c -- the node table, per-node connection pools, the slot map and the
 * refresh policy (tier 2). Runs with the GIL except where rc_conn_open
 * releases it for connecting. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "learned.h"


volatile unsigned long rc_fork_gen = 1;

static void
rc_after_fork_child(void)
{
    rc_fork_gen++;
}

void
rc_fork_install(void)
{
    static int installed;
    if (!installed) {
        installed = 1;
        (void)pthread_atfork(NULL, NULL, rc_after_fork_child);
    }
}

void
rc_cluster_init(rc_cluster *cl, rc_state *st)
{
    memset(cl, 0, sizeof *cl);
    cl->st = st;
    for (int i = 0; i < RC_SLOTS; i++) {
        cl->slots[i] = RC_NO_NODE;
    }
    rc_buf_init(&cl->cfg.hello);
    cl->fork_gen = rc_fork_gen;
    cl->refresh_interval = 0.25;
    cl->reinit_steps = 25;
    cl->cfg.max_conns = (long long)1 << 31;
}

static void
rc_node_free(rc_node *n)
{
    if (n == NULL) {
        return;
    }
    for (int i = 0; i < n->nidle; i++) {
        rc_conn_free(n->idle[i]);
    }
    free(n->idle);
    free(n->replicas);
    free(n->host);
    Py_XDECREF(n->name);
    free(n);
}

void
rc_cluster_clear(rc_cluster *cl)
{
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node_free(cl->nodes[i]);
    }
    free(cl->nodes);
    cl->nodes = NULL;
    cl->nnodes = cl->nodes_cap = 0;
    rc_buf_free(&cl->cfg.hello);
    if (cl->cfg.tls_ctx != NULL) {
        rc_tls_ctx_free(cl->cfg.tls_ctx);
        cl->cfg.tls_ctx = NULL;
    }
    free(cl->cfg.encoding);
    free(cl->cfg.errors);
    cl->cfg.encoding = cl->cfg.errors = NULL;
    Py_CLEAR(cl->refresh_cb);
    rc_learned_clear(cl);
}

int
rc_cluster_node(rc_cluster *cl, const char *host, size_t hostlen, int port, int create)
{
    rc_node *n;

    for (int i = 0; i < cl->nnodes; i++) {
        n = cl->nodes[i];
        if (n->port == port && strlen(n->host) == hostlen && memcmp(n->host, host, hostlen) == 0) {
            return i;
        }
    }
    if (!create) {
        return -1;
    }
    if (cl->nnodes >= 0xFFF0) {
        PyErr_SetString(cl->st->RedisClusterException, "too many cluster nodes");
        return -1;
    }
    if (cl->nnodes == cl->nodes_cap) {
        int cap = cl->nodes_cap ? cl->nodes_cap * 2 : 16;
        rc_node **p = realloc(cl->nodes, (size_t)cap * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        cl->nodes = p;
        cl->nodes_cap = cap;
    }
    n = calloc(1, sizeof *n);
    if (n == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    n->host = malloc(hostlen + 1);
    if (n->host == NULL) {
        free(n);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(n->host, host, hostlen);
    n->host[hostlen] = '\0';
    n->port = port;
    n->master = -1;
    n->name = PyUnicode_FromFormat("%s:%d", n->host, port);
    if (n->name == NULL) {
        rc_node_free(n);
        return -1;
    }
    n->index = cl->nnodes;
    cl->nodes[cl->nnodes++] = n;
    return n->index;
}

/* In a forked child, the inherited sockets belong to the parent: close our
 * copies (close() only -- no shutdown, nothing sent) and start afresh.
 * Connections checked out by threads that do not exist in the child are
 * closed if they ever come back (their fork_gen differs). */
static void
rc_cluster_after_fork(rc_cluster *cl)
{
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        for (int j = 0; j < n->nidle; j++) {
            rc_conn_free(n->idle[j]);
        }
        n->nidle = 0;
        n->nconns = 0;
        n->gen++;
    }
    cl->nconns = 0;
    cl->fork_gen = rc_fork_gen;
}

int
rc_pool_checkout(rc_cluster *cl, rc_node *node, rc_conn **out, rc_err *err)
{
    rc_conn *c;
    int status, readonly;

    if (RC_UNLIKELY(cl->fork_gen != rc_fork_gen)) {
        rc_cluster_after_fork(cl);
    }
    while (node->nidle > 0) {
        c = node->idle[--node->nidle];
        /* An idle connection must have nothing to read: bytes there are a
         * reply nobody asked for (it would be taken for the next command's)
         * or the server's close. One non-blocking poll, as redis-py's
         * can_read() on checkout. */
        if (RC_UNLIKELY(!rc_net_idle_ok(c->fd))) {
            rc_pool_discard(cl, c);
            continue;
        }
        *out = c;
        return RC_ST_OK;
    }
    if (cl->cfg.per_node ? node->nconns >= cl->cfg.max_conns : cl->nconns >= cl->cfg.max_conns) {
        if (cl->cfg.per_node) {
            PyErr_Format(cl->st->RedisClusterException, "Too many connection (%d) for node: %U",
                         node->nconns, node->name);
        } else {
            PyErr_SetString(cl->st->RedisClusterException, "Too many connections");
        }
        return RC_ST_PY;
    }
    readonly = cl->cfg.readonly_all || node->role == RC_ROLE_REPLICA;
    /* Count the connection before the GIL is released for connecting, so
     * concurrent checkouts respect the limit. */
    node->nconns++;
    cl->nconns++;
    status = rc_conn_open(cl, node, readonly, out, err);
    if (status != RC_ST_OK) {
        node->nconns--;
        cl->nconns--;
        if (status == RC_ST_NET) {
            node->down_until = rc_net_now() + 1.0;
        }
    } else {
        node->down_until = 0;
    }
    return status;
}

void
rc_pool_discard(rc_cluster *cl, rc_conn *c)
{
    if (c->fork_gen == cl->fork_gen) {
        c->node->nconns--;
        cl->nconns--;
    }
    rc_conn_free(c);
}

void
rc_pool_checkin(rc_cluster *cl, rc_conn *c)
{
    rc_node *n = c->node;

    if (c->err.kind != RC_E_NONE || c->dirty || c->gen != n->gen ||
        c->fork_gen != rc_fork_gen || rc_reader_pending(c->reader) != 0 ||
        c->ctx.deferred != NULL) {
        rc_pool_discard(cl, c);
        return;
    }
    if (n->nidle == n->idle_cap) {
        int cap = n->idle_cap ? n->idle_cap * 2 : 4;
        rc_conn **p = realloc(n->idle, (size_t)cap * sizeof *p);
        if (p == NULL) {
            rc_pool_discard(cl, c);
            return;
        }
        n->idle = p;
        n->idle_cap = cap;
    }
    c->idle_since = rc_net_now();
    n->idle[n->nidle++] = c;
}

void
rc_cluster_disconnect(rc_cluster *cl)
{
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        while (n->nidle > 0) {
            rc_pool_discard(cl, n->idle[--n->nidle]);
        }
        n->gen++;
    }
}

void
rc_cluster_patch_slot(rc_cluster *cl, int slot, int node)
{
    if (slot < 0 || slot >= RC_SLOTS || node < 0 || node >= cl->nnodes) {
        return;
    }
    if (cl->slots[slot] != (uint16_t)node) {
        cl->slots[slot] = (uint16_t)node;
        cl->epoch++;
    }
    if (cl->nodes[node]->role != RC_ROLE_MASTER) {
        cl->nodes[node]->role = RC_ROLE_MASTER;
        cl->nodes[node]->master = -1;
    }
}

int
rc_cluster_refresh(rc_cluster *cl, int force)
{
    double now;
    PyObject *r;

    if (force) {
        cl->refresh_pending = 1;
    }
    if (!cl->refresh_pending || cl->refreshing || cl->refresh_cb == NULL) {
        return 0;
    }
    now = rc_net_now();
    if (cl->refresh_count > 0 && now - cl->last_refresh < cl->refresh_interval) {
        return 0;
    }
    cl->refreshing = 1;
    cl->refresh_pending = 0;
    cl->last_refresh = now;
    cl->refresh_count++;
    cl->moved_count = 0;
    r = PyObject_CallNoArgs(cl->refresh_cb);
    cl->refreshing = 0;
    if (r == NULL) {
        /* BaseExceptions (Ctrl-C) and refused credentials propagate: retrying
         * would only repeat the refusal. */
        if (!PyErr_ExceptionMatches(PyExc_Exception) ||
            PyErr_ExceptionMatches(cl->st->AuthenticationError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(r);
    return 0;
}
