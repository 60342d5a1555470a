/* pool.c -- the node table, per-node connection pools, the slot map and the
 * refresh policy (tier 2). Shared state changes under the engine lock
 * (cluster.h); nothing here waits (a caller that must wait does it through
 * its driver, drive.c). Functions named *_locked expect the lock held. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "learned.h"
#include "topology.h"

volatile unsigned long rc_fork_gen = 1;

static void rc_pool_discard_locked(rc_cluster *cl, rc_conn *c);
static void rc_waiter_enqueue_locked(rc_cluster *cl, rc_waiter *w);
static int rc_wake_fd_locked(rc_cluster *cl);

static void
rc_after_fork_child(void)
{
    rc_fork_gen++;
    rc_drive_after_fork();
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
    rc_buf_init(&cl->cfg.hello_ro);
    cl->fork_gen = rc_fork_gen;
    cl->refresh_interval = 0.25;
    cl->reinit_steps = 25;
    cl->cfg.max_conns = (long long)1 << 31;
    cl->cfg.wait_timeout = -1;
    cl->cfg.max_idle = 300;
    cl->cfg.busy_poll = RC_BUSY_POLL_DEFAULT;
    cl->wake[0] = cl->wake[1] = -1;
    cl->rng = ((uint64_t)(uintptr_t)cl << 16) ^ (uint64_t)getpid() ^ (uint64_t)time(NULL) ^
              0x9E3779B97F4A7C15ULL;
}

/* Unlink c from the cluster's list of open connections (if on it). */
static void
rc_conn_unlink(rc_cluster *cl, rc_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else if (cl->conns == c) {
        cl->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
}

static void
rc_node_free(rc_cluster *cl, rc_node *n)
{
    if (n == NULL) {
        return;
    }
    for (int i = 0; i < n->nidle; i++) {
        rc_conn_unlink(cl, n->idle[i]);
        rc_conn_free(n->idle[i]);
    }
    free(n->idle);
    free(n->replicas);
    free(n->host);
    Py_XDECREF(n->name);
    free(n);
}

static void
rc_wake_close(rc_cluster *cl)
{
    for (int i = 0; i < 2; i++) {
        if (cl->wake[i] >= 0) {
            close(cl->wake[i]);
            cl->wake[i] = -1;
        }
    }
}

void
rc_cluster_clear(rc_cluster *cl)
{
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node_free(cl, cl->nodes[i]);
    }
    free(cl->nodes);
    cl->nodes = NULL;
    cl->nnodes = cl->nodes_cap = 0;
    for (int i = 0; i < cl->nold_tables; i++) {
        free(cl->old_tables[i]);
    }
    cl->nold_tables = 0;
    rc_buf_free(&cl->cfg.hello);
    rc_buf_free(&cl->cfg.hello_ro);
    Py_CLEAR(cl->wait_cb);
    Py_CLEAR(cl->wait_one);
    Py_CLEAR(cl->wait_idle);
    if (cl->cfg.tls_ctx != NULL) {
        rc_tls_ctx_free(cl->cfg.tls_ctx);
        cl->cfg.tls_ctx = NULL;
    }
    free(cl->cfg.encoding);
    free(cl->cfg.errors);
    free(cl->cfg.remap);
    cl->cfg.encoding = cl->cfg.errors = NULL;
    cl->cfg.remap = NULL;
    cl->cfg.nremap = 0;
    rc_wake_close(cl);
    Py_CLEAR(cl->refresh_hook);
    (void)rc_cluster_set_seeds(cl, NULL, NULL, 0);
    rc_learned_clear(cl);
}

/* ------------------------------------------------------------------ nodes */

/* The index of host:port in the table, -1 if absent; *free_at: the first
 * free index (-1: none). Lock held. */
static int
rc_node_find_locked(rc_cluster *cl, const char *host, size_t hostlen, int port, int *free_at)
{
    *free_at = -1;
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        if (n == NULL) {
            if (*free_at < 0) {
                *free_at = i; /* a free index to reuse */
            }
            continue;
        }
        if (n->port == port && strlen(n->host) == hostlen && memcmp(n->host, host, hostlen) == 0) {
            return i;
        }
    }
    return -1;
}

/* Room for one more entry at the end of the table: a larger table replaces
 * the old one, which stays allocated for readers without the lock. 0, or -1
 * (memory). Lock held. */
static int
rc_nodes_grow_locked(rc_cluster *cl)
{
    int cap = cl->nodes_cap ? cl->nodes_cap * 2 : 16;
    rc_node **p;
    if (cl->nnodes < cl->nodes_cap) {
        return 0;
    }
    if (cl->nold_tables == (int)(sizeof cl->old_tables / sizeof cl->old_tables[0])) {
        return -1; /* (16 << 20 entries: beyond the 65520 limit) */
    }
    p = calloc((size_t)cap, sizeof *p);
    if (p == NULL) {
        return -1;
    }
    if (cl->nnodes > 0) {
        memcpy(p, cl->nodes, (size_t)cl->nnodes * sizeof *p);
    }
    if (cl->nodes != NULL) {
        cl->old_tables[cl->nold_tables++] = cl->nodes;
    }
    __atomic_store_n(&cl->nodes, p, __ATOMIC_RELEASE);
    cl->nodes_cap = cap;
    return 0;
}

int
rc_cluster_node(rc_cluster *cl, const char *host, size_t hostlen, int port, int create)
{
    rc_node *n;
    int at, i;

    rc_lock(cl);
    i = rc_node_find_locked(cl, host, hostlen, port, &at);
    rc_unlock(cl);
    if (i >= 0 || !create) {
        return i;
    }
    /* A new node, made without the lock (its name is a Python str), then
     * added unless another thread added the same meanwhile. */
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
        rc_node_free(cl, n);
        return -1;
    }
    rc_lock(cl);
    i = rc_node_find_locked(cl, host, hostlen, port, &at);
    if (i < 0) {
        if (at < 0 && cl->nnodes >= 0xFFF0) {
            i = -2;
        } else if (at < 0 && rc_nodes_grow_locked(cl) < 0) {
            i = -3;
        } else {
            i = at >= 0 ? at : cl->nnodes;
            n->index = i;
            __atomic_store_n(&cl->nodes[i], n, __ATOMIC_RELEASE);
            if (at < 0) {
                __atomic_store_n(&cl->nnodes, cl->nnodes + 1, __ATOMIC_RELEASE);
            }
            n = NULL;
        }
    }
    rc_unlock(cl);
    if (n != NULL) {
        rc_node_free(cl, n); /* not added: another thread's stands, or an error */
    }
    if (i == -2) {
        PyErr_SetString(cl->st->RedisClusterException,
                        "too many cluster nodes (65520 addresses in use)");
        return -1;
    }
    if (i == -3) {
        PyErr_NoMemory();
        return -1;
    }
    return i;
}

/* Whether host (text) is the rule's host: the same IPv4 address (the
 * original compares with inet_aton) or the same text. */
static int
rc_remap_host_matches(const char *rule, const char *host, size_t hostlen)
{
    char tmp[64];
    struct in_addr a, b;
    if (hostlen >= sizeof tmp) {
        return 0;
    }
    memcpy(tmp, host, hostlen);
    tmp[hostlen] = '\0';
    if (inet_pton(AF_INET, rule, &a) == 1 && inet_pton(AF_INET, tmp, &b) == 1) {
        return a.s_addr == b.s_addr;
    }
    return strcmp(rule, tmp) == 0;
}

void
rc_cluster_remap(const rc_cluster *cl, const char **host, size_t *hostlen, int *port)
{
    for (int i = 0; i < cl->cfg.nremap; i++) {
        const rc_remap *r = &cl->cfg.remap[i];
        if ((r->from_host[0] && !rc_remap_host_matches(r->from_host, *host, *hostlen)) ||
            (r->from_port && r->from_port != *port)) {
            continue;
        }
        if (r->to_host[0]) {
            *host = r->to_host;
            *hostlen = strlen(r->to_host);
        }
        if (r->to_port) {
            *port = r->to_port;
        }
        break; /* the first rule that applies, as the original */
    }
}

int
rc_cluster_node_remapped(rc_cluster *cl, const char *host, size_t hostlen, int port)
{
    rc_cluster_remap(cl, &host, &hostlen, &port);
    return rc_cluster_node(cl, host, hostlen, port, 1);
}

int
rc_cluster_set_seeds(rc_cluster *cl, const char *const *hosts, const int *ports, int n)
{
    rc_seed *seeds = NULL;
    int ret = -1, made = 0;

    if (n > 0) {
        seeds = calloc((size_t)n, sizeof *seeds);
        if (seeds == NULL) {
            goto done;
        }
        for (; made < n; made++) {
            size_t len = strlen(hosts[made]);
            seeds[made].host = malloc(len + 1);
            if (seeds[made].host == NULL) {
                goto done;
            }
            memcpy(seeds[made].host, hosts[made], len + 1);
            seeds[made].port = ports[made];
        }
    }
    /* the new list is complete: swap */
    for (int i = 0; i < cl->nseeds; i++) {
        free(cl->seeds[i].host);
    }
    free(cl->seeds);
    cl->seeds = seeds;
    cl->nseeds = n;
    seeds = NULL;
    made = 0;
    ret = 0;
done:
    for (int i = 0; i < made; i++) {
        free(seeds[i].host);
    }
    free(seeds);
    if (ret < 0) {
        PyErr_NoMemory();
    }
    return ret;
}

void
rc_node_pin(rc_cluster *cl, int i)
{
    rc_node *n;
    rc_lock(cl);
    n = rc_cluster_at(cl, i);
    if (n != NULL) {
        n->pins++;
    }
    rc_unlock(cl);
}

void
rc_node_unpin(rc_cluster *cl, int i)
{
    rc_node *n;
    rc_lock(cl);
    n = rc_cluster_at(cl, i);
    if (n != NULL && n->pins > 0) {
        n->pins--;
    }
    rc_unlock(cl);
}

rc_node *
rc_cluster_retire_locked(rc_cluster *cl)
{
    rc_node *gone = NULL;
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        if (n == NULL || n->in_topology || n->pins > 0) {
            continue;
        }
        while (n->nidle > 0) {
            rc_pool_discard_locked(cl, n->idle[--n->nidle]);
        }
        if (n->nconns > 0) {
            continue; /* in use: freed by a later change */
        }
        /* Nothing refers to it: no slot (slots point at in-topology nodes
         * only), no master/replica list of a node in the topology. */
        for (int j = 0; j < cl->nnodes; j++) {
            rc_node *m = cl->nodes[j];
            if (m != NULL && m->master == i) {
                m->master = -1;
            }
        }
        __atomic_store_n(&cl->nodes[i], NULL, __ATOMIC_RELEASE);
        n->retired_next = gone;
        gone = n;
    }
    while (cl->nnodes > 0 && cl->nodes[cl->nnodes - 1] == NULL) {
        __atomic_store_n(&cl->nnodes, cl->nnodes - 1, __ATOMIC_RELEASE);
    }
    return gone;
}

void
rc_cluster_free_retired(rc_cluster *cl, rc_node *gone)
{
    while (gone != NULL) {
        rc_node *next = gone->retired_next;
        rc_node_free(cl, gone);
        gone = next;
    }
}

void
rc_cluster_retire(rc_cluster *cl)
{
    rc_node *gone;
    rc_lock(cl);
    gone = rc_cluster_retire_locked(cl);
    rc_unlock(cl);
    rc_cluster_free_retired(cl, gone);
}

rc_node_view *
rc_cluster_views(rc_cluster *cl, int *n, uint16_t *slots)
{
    rc_node_view *v = NULL;
    int cap = 0;

    for (;;) { /* sized outside the lock: again if the table grew meanwhile */
        free(v);
        cap = __atomic_load_n(&cl->nnodes, __ATOMIC_ACQUIRE);
        v = malloc((size_t)(cap ? cap : 1) * sizeof *v);
        if (v == NULL) {
            *n = -1;
            return NULL;
        }
        rc_lock(cl);
        if (cl->nnodes <= cap) {
            break;
        }
        rc_unlock(cl);
    }
    *n = cl->nnodes;
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *nd = cl->nodes[i];
        v[i].node = nd;
        if (nd == NULL) {
            v[i].role = v[i].master = v[i].in_topology = v[i].nconns = v[i].nidle = 0;
            continue;
        }
        nd->pins++;
        v[i].role = nd->role;
        v[i].master = nd->master;
        v[i].in_topology = nd->in_topology;
        v[i].nconns = nd->nconns;
        v[i].nidle = nd->nidle;
    }
    if (slots != NULL) {
        memcpy(slots, cl->slots, sizeof cl->slots);
    }
    rc_unlock(cl);
    return v;
}

void
rc_cluster_views_free(rc_cluster *cl, rc_node_view *v, int n)
{
    rc_lock(cl);
    for (int i = 0; i < n; i++) {
        if (v[i].node != NULL && v[i].node->pins > 0) {
            v[i].node->pins--;
        }
    }
    rc_unlock(cl);
    free(v);
}

/* ------------------------------------------------------------------ fork */

void
rc_cluster_after_fork(rc_cluster *cl)
{
    rc_conn *c;

    rc_lock(cl); /* (taken over if a thread of the parent held it) */
    if (cl->fork_gen == rc_fork_gen) {
        rc_unlock(cl); /* another thread of the child did it */
        return;
    }
    c = cl->conns;

    /* Every socket of the cluster belongs to the parent: close our copy
     * (close() only -- no shutdown, nothing sent). Idle connections are
     * freed; a connection held by a _core.Connection stays allocated,
     * broken, for its owner; one checked out by a thread that does not
     * exist here is never checked in (its memory stays). */
    while (c != NULL) {
        rc_conn *next = c->next;
        c->prev = c->next = NULL;
        rc_conn_close_socket(c);
        rc_err_set(&c->err, RC_E_EOF, 0, "the connection belongs to the parent process");
        c = next;
    }
    cl->conns = NULL;
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        if (n == NULL) {
            continue;
        }
        for (int j = 0; j < n->nidle; j++) {
            rc_conn_free(n->idle[j]);
        }
        n->nidle = 0;
        n->nconns = 0;
        n->pins = 0;
        n->gen++;
    }
    cl->nconns = 0;
    /* A refresh or a wait in another thread of the parent never finishes
     * here. */
    cl->refreshing = 0;
    cl->waiters = 0;
    cl->wq_head = cl->wq_tail = NULL; /* (their lanes were the parent's threads') */
    rc_wake_close(cl);
    cl->fork_gen = rc_fork_gen;
    rc_unlock(cl);
}

/* ------------------------------------------------------------------ waits */

static void
rc_wake_locked(rc_cluster *cl)
{
    if (cl->waiters > 0 && cl->wake[1] >= 0) {
        ssize_t w = write(cl->wake[1], "x", 1); /* non-blocking; a full pipe is awake enough */
        (void)w;
    }
}

void
rc_cluster_wake(rc_cluster *cl)
{
    rc_lock(cl);
    rc_wake_locked(cl);
    rc_unlock(cl);
}

int
rc_cluster_wake_fd(rc_cluster *cl)
{
    int fd;
    rc_lock(cl);
    fd = rc_wake_fd_locked(cl);
    rc_unlock(cl);
    return fd;
}

static int
rc_wake_fd_locked(rc_cluster *cl)
{
    if (cl->wake[0] < 0) {
        int fds[2];
        if (pipe(fds) != 0) {
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            int fl = fcntl(fds[i], F_GETFL, 0);
            (void)fcntl(fds[i], F_SETFL, fl | O_NONBLOCK);
            (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        }
        cl->wake[0] = fds[0];
        cl->wake[1] = fds[1];
    }
    return cl->wake[0];
}

void
rc_cluster_wake_drain(rc_cluster *cl)
{
    char byte;
    int fd = __atomic_load_n(&cl->wake[0], __ATOMIC_RELAXED);
    if (fd >= 0) {
        ssize_t r = read(fd, &byte, 1); /* one release, one waiter */
        (void)r;
    }
}

/* ------------------------------------------------------------------ pools */

/* Close idle connections older than max_idle on every node (oldest are at
 * the bottom of each idle stack). Runs at most every ~max_idle/2 seconds,
 * from checkouts. */
static void
rc_pool_reap(rc_cluster *cl, double now)
{
    double step = cl->cfg.max_idle / 2;
    cl->next_reap = now + (step < 0.05 ? 0.05 : step > 1.0 ? 1.0 : step);
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        int k = 0;
        if (n == NULL) {
            continue;
        }
        while (k < n->nidle && now - n->idle[k]->idle_since > cl->cfg.max_idle) {
            k++;
        }
        if (k == 0) {
            continue;
        }
        for (int j = 0; j < k; j++) {
            rc_pool_discard_locked(cl, n->idle[j]);
        }
        memmove(n->idle, n->idle + k, (size_t)(n->nidle - k) * sizeof *n->idle);
        n->nidle -= k;
    }
}

static int
rc_pool_full(rc_cluster *cl, rc_node *node)
{
    return cl->cfg.per_node ? node->nconns >= cl->cfg.max_conns
                            : cl->nconns >= cl->cfg.max_conns;
}

void
rc_waiter_enqueue(rc_cluster *cl, rc_waiter *w)
{
    rc_lock(cl);
    if (!w->queued) {
        rc_waiter_enqueue_locked(cl, w);
    }
    rc_unlock(cl);
}

static void
rc_waiter_enqueue_locked(rc_cluster *cl, rc_waiter *w)
{
    w->next = NULL;
    w->prev = cl->wq_tail;
    if (cl->wq_tail != NULL) {
        cl->wq_tail->next = w;
    } else {
        cl->wq_head = w;
    }
    cl->wq_tail = w;
    w->queued = 1;
    cl->waiters++;
}

void
rc_waiter_remove(rc_cluster *cl, rc_waiter *w)
{
    int was_head;
    if (!w->queued) { /* (only its owner changes it) */
        return;
    }
    rc_lock(cl);
    was_head = cl->wq_head == w;
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        cl->wq_head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    } else {
        cl->wq_tail = w->prev;
    }
    w->prev = w->next = NULL;
    w->queued = 0;
    cl->waiters--;
    if (was_head) {
        rc_wake_locked(cl); /* the next one's turn */
    }
    rc_unlock(cl);
}

int
rc_pool_checkout_nb(rc_cluster *cl, int ni, rc_conn **out, rc_err *err, double now,
                    rc_waiter *w, int idle_check)
{
    rc_node *node;
    rc_conn *c;
    int status, readonly;
    long long count = 0;

    rc_cluster_check_fork(cl);
    rc_lock(cl);
    node = rc_cluster_at(cl, ni);
    if (node == NULL) {
        /* retired since it was routed to: a failure that asks for a refresh */
        rc_unlock(cl);
        rc_err_set(err, RC_E_CONNECT, 0, "Error connecting: the node left the cluster.");
        return RC_ST_NET;
    }
    if (cl->cfg.max_idle > 0 && now >= cl->next_reap) {
        rc_pool_reap(cl, now);
    }
    if (cl->wq_head != NULL && cl->wq_head != w && rc_pool_full(cl, node)) {
        /* Others wait for a connection: it is the oldest one's turn. (A
         * thread that keeps the GIL from one command to the next would
         * otherwise take every connection released.) */
        rc_unlock(cl);
        return RC_CHECKOUT_FULL;
    }
    readonly = cl->cfg.readonly_all || node->role == RC_ROLE_REPLICA;
    while (node->nidle > 0) {
        c = node->idle[--node->nidle];
        /* An idle connection must have nothing to read: bytes there are a
         * reply nobody asked for (it would be taken for the next command's)
         * or the server's close. One non-blocking poll, as redis-py's
         * can_read() on checkout (or the caller's, idle_check=0). A node
         * now read as a replica needs READONLY on the connection: one
         * opened before (discovery, or while it was a master) is replaced. */
        if (RC_UNLIKELY(idle_check && !rc_net_idle_ok(c->fd)) ||
            RC_UNLIKELY(readonly && !c->readonly)) {
            rc_pool_discard_locked(cl, c);
            continue;
        }
        rc_unlock(cl);
        *out = c;
        return RC_CHECKOUT_IDLE;
    }
    if (rc_pool_full(cl, node) && !cl->cfg.per_node) {
        /* The limit counts every node: an idle connection to another node
         * makes room (the longest idle one), as the original's pool did. */
        rc_node *victim = NULL;
        for (int i = 0; i < cl->nnodes; i++) {
            rc_node *n = cl->nodes[i];
            if (n != NULL && n != node && n->nidle > 0 &&
                (victim == NULL || n->idle[0]->idle_since < victim->idle[0]->idle_since)) {
                victim = n;
            }
        }
        if (victim != NULL) {
            rc_conn *old = victim->idle[0];
            memmove(victim->idle, victim->idle + 1, (size_t)(victim->nidle - 1) * sizeof *victim->idle);
            victim->nidle--;
            rc_pool_discard_locked(cl, old);
        }
    }
    if (rc_pool_full(cl, node)) {
        count = node->nconns;
        rc_unlock(cl);
        if (cl->cfg.wait_timeout >= 0) {
            return RC_CHECKOUT_FULL;
        }
        if (cl->cfg.per_node) {
            PyErr_Format(cl->st->RedisClusterException, "Too many connection (%lld) for node: %U",
                         count, node->name);
        } else {
            PyErr_SetString(cl->st->RedisClusterException, "Too many connections");
        }
        return RC_ST_PY;
    }
    /* Count the connection before it exists, so that the limit holds and
     * the node stays while it opens (started without the lock: resolving a
     * name may call Python). */
    node->nconns++;
    cl->nconns++;
    rc_unlock(cl);
    status = rc_conn_start(cl, node, readonly, out, err);
    rc_lock(cl);
    if (status != RC_ST_OK) {
        node->nconns--;
        cl->nconns--;
        rc_wake_locked(cl);
        if (status == RC_ST_NET) {
            node->down_until = now + 1.0;
        }
        rc_unlock(cl);
        return status;
    }
    (*out)->next = cl->conns;
    if (cl->conns != NULL) {
        cl->conns->prev = *out;
    }
    cl->conns = *out;
    rc_unlock(cl);
    return RC_CHECKOUT_OPENING;
}

static void
rc_pool_discard_locked(rc_cluster *cl, rc_conn *c)
{
    if (c->fork_gen == cl->fork_gen) {
        c->node->nconns--;
        cl->nconns--;
        rc_conn_unlink(cl, c);
        rc_wake_locked(cl);
    }
    rc_conn_free(c);
}

void
rc_pool_discard(rc_cluster *cl, rc_conn *c)
{
    rc_lock(cl);
    rc_pool_discard_locked(cl, c);
    rc_unlock(cl);
}

void
rc_pool_checkin(rc_cluster *cl, rc_conn *c)
{
    rc_pool_checkin_at(cl, c, rc_net_now());
}

void
rc_pool_checkin_at(rc_cluster *cl, rc_conn *c, double now)
{
    rc_node *n = c->node;

    rc_lock(cl);
    if (c->err.kind != RC_E_NONE || c->dirty || c->gen != n->gen ||
        c->fork_gen != rc_fork_gen || rc_reader_pending(c->reader) != 0 ||
        c->ctx.deferred != NULL) {
        rc_pool_discard_locked(cl, c);
        rc_unlock(cl);
        return;
    }
    if (n->nidle == n->idle_cap) {
        int cap = n->idle_cap ? n->idle_cap * 2 : 4;
        rc_conn **p = realloc(n->idle, (size_t)cap * sizeof *p);
        if (p == NULL) {
            rc_pool_discard_locked(cl, c);
            rc_unlock(cl);
            return;
        }
        n->idle = p;
        n->idle_cap = cap;
    }
    c->idle_since = now;
    n->idle[n->nidle++] = c;
    rc_wake_locked(cl);
    rc_unlock(cl);
}

void
rc_cluster_disconnect(rc_cluster *cl)
{
    rc_cluster_check_fork(cl);
    rc_lock(cl);
    for (int i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        if (n == NULL) {
            continue;
        }
        while (n->nidle > 0) {
            rc_pool_discard_locked(cl, n->idle[--n->nidle]);
        }
        n->gen++;
    }
    rc_unlock(cl);
}

static void
rc_patch_slot_locked(rc_cluster *cl, int slot, int node)
{
    rc_node *n = rc_cluster_at(cl, node);
    if (slot < 0 || slot >= RC_SLOTS || n == NULL) {
        return;
    }
    if (cl->slots[slot] != (uint16_t)node) {
        __atomic_store_n(&cl->slots[slot], (uint16_t)node, __ATOMIC_RELAXED);
        cl->epoch++;
    }
    n->in_topology = 1; /* a slot points at it */
    if (n->role != RC_ROLE_MASTER) {
        n->role = RC_ROLE_MASTER;
        n->master = -1;
    }
}

void
rc_cluster_patch_slot(rc_cluster *cl, int slot, int node)
{
    rc_lock(cl);
    rc_patch_slot_locked(cl, slot, node);
    rc_unlock(cl);
}

void
rc_cluster_moved(rc_cluster *cl, int slot, int node)
{
    rc_lock(cl);
    rc_patch_slot_locked(cl, slot, node);
    if (++cl->moved_count >= cl->reinit_steps) {
        rc_cluster_want_refresh(cl);
    }
    rc_unlock(cl);
}

/* ------------------------------------------------------------------ refresh */

/* Mark a refresh as running (single flight). `limited`: the engine asked for
 * it itself, so the rate limit spaces it from the next; a discovery asked for
 * by name (initialize()) does not delay the next one a failure needs. */
static void
rc_refresh_start_locked(rc_cluster *cl, int limited, unsigned long thread)
{
    double now = rc_net_now();
    __atomic_store_n(&cl->refreshing, 1, __ATOMIC_RELAXED);
    cl->refresh_thread = thread;
    __atomic_store_n(&cl->refresh_pending, 0, __ATOMIC_RELAXED);
    if (limited) {
        cl->last_refresh = now;
    }
    if (cl->check_interval > 0) {
        double next = now + cl->check_interval;
        __atomic_store(&cl->next_check, &next, __ATOMIC_RELAXED);
    }
    cl->refresh_count++;
    cl->moved_count = 0;
}

int
rc_cluster_refresh_claim(rc_cluster *cl, int now)
{
    unsigned long thread = PyThread_get_thread_ident();
    int claimed = 0;

    rc_cluster_check_fork(cl);
    rc_lock(cl);
    if (!cl->refreshing &&
        (now || (cl->refresh_pending &&
                 (cl->refresh_count == 0 ||
                  rc_net_now() - cl->last_refresh >= cl->refresh_interval)))) {
        rc_refresh_start_locked(cl, !now, thread);
        claimed = 1;
    }
    rc_unlock(cl);
    return claimed;
}

void
rc_cluster_refresh_release(rc_cluster *cl)
{
    rc_lock(cl);
    __atomic_store_n(&cl->refreshing, 0, __ATOMIC_RELAXED);
    rc_wake_locked(cl);
    rc_unlock(cl);
}

int
rc_cluster_refresh_due(rc_cluster *cl)
{
    int due;
    rc_lock(cl);
    due = !cl->refreshing &&
          (cl->refresh_count == 0 || rc_net_now() - cl->last_refresh >= cl->refresh_interval);
    rc_unlock(cl);
    return due;
}

int
rc_cluster_refresh(rc_cluster *cl, int force)
{
    int r;

    rc_cluster_check_fork(cl);
    if (force) {
        rc_cluster_want_refresh(cl);
    }
    if (!rc_cluster_refresh_claim(cl, 0)) {
        return 0;
    }
    r = rc_topology_discover(cl);
    rc_cluster_refresh_release(cl);
    if (r < 0) {
        /* BaseExceptions (Ctrl-C) and refused credentials propagate: retrying
         * would only repeat the refusal. */
        if (!PyErr_ExceptionMatches(PyExc_Exception) ||
            PyErr_ExceptionMatches(cl->st->AuthenticationError)) {
            return -1;
        }
        PyErr_Clear();
    }
    return 0;
}

int
rc_cluster_refresh_now(rc_cluster *cl)
{
    int r;

    rc_cluster_check_fork(cl);
    if (!rc_cluster_refresh_claim(cl, 1)) {
        unsigned long me = PyThread_get_thread_ident(), holder;
        rc_lock(cl);
        holder = cl->refresh_thread;
        rc_unlock(cl);
        if (holder == me) {
            return 0; /* called from the refresh itself */
        }
        /* another caller's refresh: its result stands */
        while (__atomic_load_n(&cl->refreshing, __ATOMIC_RELAXED)) {
            if (rc_cluster_sleep(cl, 0.005) < 0) {
                return -1;
            }
            rc_cluster_check_fork(cl);
        }
        return 0;
    }
    r = rc_topology_discover(cl);
    rc_cluster_refresh_release(cl);
    return r;
}
