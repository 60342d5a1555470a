/* engine.c -- commands on the cluster as a resumable operation (tier 2).
 *
 * One op runs in rounds. A round routes every pending command -- by slot
 * (its master, or for a read allowed on replicas one of master and replicas
 * in turn), to an ASK target, or to the node given -- and groups them in one
 * lane per node. Each lane gets a connection: an idle one from the node's
 * pool, or a new one that connects and runs its handshake without blocking;
 * then it writes all its commands (straight from the op's buffer: gather
 * writes) and reads the replies as they arrive, placing them at the
 * commands' positions. When every lane is done the round is settled: the
 * cluster policy (rc_settle_item, the one place that decides what follows
 * an outcome) turns each outcome into a result, or into another attempt --
 * MOVED patches the slot, ASK sends ASKING + the command to the target,
 * TRYAGAIN and CLUSTERDOWN back off (CLUSTERDOWN also refreshes), a failed
 * connection refreshes and backs off -- except that a command that is not a
 * read and whose bytes all left is never re-sent after an ambiguous failure
 * (it may have been applied): its connection error is its result. Commands
 * for another attempt go into the next round, never one by one.
 *
 * The op never waits itself: rc_op_step returns what it waits for, and a
 * driver (drive.c) waits and calls rc_op_io, which does the socket I/O with
 * C data only (no GIL needed), then steps again.
 *
 * Never touches a PyObject without the GIL; rc_op_io touches none. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine.h"

static const char rc_asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
#define RC_ASKING_LEN (sizeof rc_asking_cmd - 1)

/* Private phases of an op. */
enum { RC_PH_START = 0, RC_PH_ROUTE, RC_PH_IO, RC_PH_BACKOFF, RC_PH_DONE };

static double
rc_backoff(double base, int n, double cap)
{
    double d = base;
    for (int i = 1; i < n && d < cap; i++) {
        d *= 2;
    }
    return d < cap ? d : cap;
}

/* A connection failed. Refused/reset connections mean the node is down or
 * restarting: refresh the topology before the retry and back off. A timeout
 * means it is slow or stalled: retry at once (reads only, and only once --
 * see rc_cut_final) and leave the refresh for the next command. */
static void
rc_note_conn_fail(rc_cluster *cl, rc_retry *rs, const rc_err *err)
{
    rs->conn_fails++;
    if (err->kind == RC_E_TIMEOUT) {
        rs->timeouts++;
        rc_cluster_want_refresh(cl);
        return;
    }
    rs->refresh = 1;
    rs->backoff = rc_backoff(0.01, rs->conn_fails, 0.5);
}

/* The node for a slot: its master, or -- for a read allowed on replicas, on
 * its first attempt -- one of master and replicas in turn (round robin over
 * the pool, so choices spread evenly). Retries go to the master: a replica
 * that is down, loading or answers MOVED is skipped that way. */
static int
rc_slot_node(rc_cluster *cl, int slot, int replica_ok, int attempt)
{
    int m = rc_slot_master(cl, slot), r = m;
    rc_node *mn, *rn;
    unsigned pick;

    if (!replica_ok || attempt > 0 || m == (int)RC_NO_NODE) {
        return m;
    }
    /* The replica lists and round-robin positions change under the lock. */
    rc_lock(cl);
    m = (int)cl->slots[slot];
    r = m;
    mn = rc_cluster_at(cl, m);
    if (mn != NULL && mn->nreplicas > 0) {
        pick = mn->rr++ % (unsigned)(mn->nreplicas + 1); /* per master: even whatever the key mix */
        if (pick > 0) {
            rn = rc_cluster_at(cl, mn->replicas[pick - 1]);
            /* A replica that refused a connection lately is skipped for a second. */
            if (rn != NULL && !(rn->down_until > 0 && rc_net_now() < rn->down_until)) {
                r = mn->replicas[pick - 1];
            }
        }
    }
    rc_unlock(cl);
    return r;
}

/* Whether node ni is a replica read's detour (not the slot's master). */
static int
rc_on_replica(rc_cluster *cl, const rc_route *rt, int ni)
{
    return rt->replica_ok && rt->slot >= 0 && ni != rc_slot_master(cl, rt->slot);
}

/* Fold one command's view of a round into the round's (max of counters). */
static void
rc_retry_merge(rc_retry *into, const rc_retry *t)
{
#define RC_MAX(f) into->f = into->f > t->f ? into->f : t->f
    RC_MAX(conn_fails);
    RC_MAX(timeouts);
    RC_MAX(tryagain);
    RC_MAX(clusterdown);
    RC_MAX(uncovered);
    RC_MAX(backoff);
    RC_MAX(refresh);
#undef RC_MAX
}

/* The compact form of the redirect just parsed on a connection to `asked`:
 * MOVED/ASK targets become node indices, with host_port_remap applied (an
 * empty host means the node asked). */
static void
rc_redir_from(rc_cluster *cl, const rc_node *asked, const rc_redirect *r, rc_redir *out)
{
    out->kind = r->kind;
    out->slot = r->slot;
    out->node = -1;
    out->exc = NULL;
    if (r->kind == RC_REDIR_MOVED || r->kind == RC_REDIR_ASK) {
        const char *host = r->host[0] ? r->host : asked->host;
        out->node = rc_cluster_node_remapped(cl, host, strlen(host), r->port);
        if (out->node < 0) {
            PyErr_Clear();
        }
    }
}

/* Point *ask_node at node (-1: none), keeping the node pinned meanwhile. */
static void
rc_set_ask(rc_cluster *cl, int *ask_node, int node)
{
    if (*ask_node >= 0) {
        rc_node_unpin(cl, *ask_node);
    }
    *ask_node = node;
    if (node >= 0) {
        rc_node_pin(cl, node);
    }
}

/* React to a redirect-class reply for a slot-routed command. Returns 1 to
 * retry (routing state updated), 0 when the reply is final. An ASK target
 * is used for the next attempt only: any other outcome sends the command
 * back to the slot's owner. */
static int
rc_on_redirect(rc_cluster *cl, const rc_redir *r, int *ask_node, rc_retry *rs,
               const rc_limits *lim)
{
    switch (r->kind) {
    case RC_REDIR_MOVED:
        rc_set_ask(cl, ask_node, -1);
        if (r->node < 0) {
            return 0;
        }
        rc_cluster_moved(cl, r->slot, r->node);
        return 1;
    case RC_REDIR_ASK:
        rc_set_ask(cl, ask_node, r->node);
        return r->node >= 0;
    case RC_REDIR_TRYAGAIN:
        rc_set_ask(cl, ask_node, -1);
        rs->tryagain++;
        rs->backoff = rc_backoff(0.005, rs->tryagain, 0.1);
        return 1;
    case RC_REDIR_CLUSTERDOWN:
    case RC_REDIR_MASTERDOWN:
        rc_set_ask(cl, ask_node, -1);
        rs->clusterdown++;
        if (rs->clusterdown > lim->clusterdown_tries) {
            return 0;
        }
        rs->refresh = 1;
        rs->backoff = rc_backoff(0.05, rs->clusterdown, 0.5);
        return 1;
    default:
        return 0;
    }
}

/* A command sent to a given node (no slot: its keys were not found, or it
 * is keyless by design) that is answered MOVED or ASK is routed by the slot
 * the reply names from then on: a redirect is always followed while
 * attempts remain (with none left, e.g. _node_command's one, it is the
 * answer). */
static void
rc_adopt_redirect_slot(rc_cluster *cl, rc_route *rt, const rc_redir *rd)
{
    if (rt->slot < 0 && (rd->kind == RC_REDIR_MOVED || rd->kind == RC_REDIR_ASK) &&
        rd->slot >= 0 && rd->slot < RC_SLOTS) {
        rc_node_unpin(cl, rt->node); /* routed by slot from now on */
        rt->slot = rd->slot;
        rt->node = -1;
    }
}

/* The exception instance for an error on a connection (new ref, or NULL on
 * memory errors). */
static PyObject *
rc_conn_exc(rc_state *st, const rc_err *err, PyObject *node)
{
    rc_raise_from(st, err, node);
    return rc_fetch_exception();
}

/* ClusterDownError("CLUSTERDOWN error. Unable to rebuild the cluster") --
 * the original's message when its retries ran out -- with the server's own
 * error as __context__. */
static PyObject *
rc_clusterdown_exc(rc_state *st, PyObject *server_exc)
{
    PyObject *exc = PyObject_CallFunction(st->ClusterDownError, "s",
                                          "CLUSTERDOWN error. Unable to rebuild the cluster");
    if (exc != NULL && server_exc != NULL) {
        Py_INCREF(server_exc);
        PyException_SetContext(exc, server_exc);
    }
    return exc;
}

/* ClusterError("TTL exhausted."), with the last connection error (may be
 * NULL) as __context__. */
static PyObject *
rc_ttl_exc(rc_state *st, PyObject *context)
{
    PyObject *exc = PyObject_CallFunction(st->ClusterError, "s", "TTL exhausted.");
    if (exc != NULL && context != NULL) {
        Py_INCREF(context);
        PyException_SetContext(exc, context);
    }
    return exc;
}

static PyObject *
rc_uncovered_exc(rc_cluster *cl, int slot)
{
    PyObject *msg = PyUnicode_FromFormat(
        "Slot \"%d\" not covered by the cluster. \"skip_full_coverage_check=%s\"", slot,
        cl->cfg.skip_coverage ? "True" : "False");
    PyObject *exc;
    if (msg == NULL) {
        return NULL;
    }
    exc = PyObject_CallOneArg(cl->st->SlotNotCoveredError, msg);
    Py_DECREF(msg);
    return exc;
}

/* ------------------------------------------------------------------ ops */

void
rc_op_init(rc_op *op, rc_cluster *cl, const rc_limits *lim)
{
    memset(op, 0, offsetof(rc_op, cmds_inline));
    op->cl = cl;
    op->lim = *lim;
    op->wake_fd = op->wake_pfd = -1;
    rc_buf_init(&op->buf);
    op->cmds = op->cmds_inline;
    op->cap = RC_OP_INLINE;
}

int
rc_op_reserve(rc_op *op, Py_ssize_t n)
{
    rc_bcmd *p;
    if (n <= op->cap) {
        return 0;
    }
    p = malloc((size_t)n * sizeof *p);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (op->n > 0) {
        memcpy(p, op->cmds, (size_t)op->n * sizeof *p);
    }
    if (op->cmds != op->cmds_inline) {
        free(op->cmds);
    }
    op->cmds = p;
    op->cap = n;
    return 0;
}

int
rc_op_add(rc_op *op, size_t off, size_t len, const rc_route *rt)
{
    rc_bcmd *c;
    if (op->n == op->cap && rc_op_reserve(op, op->cap * 2) < 0) {
        return -1;
    }
    c = &op->cmds[op->n++];
    c->off = off;
    c->len = len;
    c->rt = *rt;
    c->ask_node = -1;
    c->tries = 0;
    c->result = NULL;
    c->last = NULL;
    return 0;
}

void
rc_op_set_deadline(rc_op *op, double timeout)
{
    op->op_deadline = timeout > 0 ? rc_net_now() + timeout : 0;
}

static void
rc_lane_free(rc_lane *l)
{
    if (l->items != l->items_inline) {
        free(l->items);
        free(l->seg);
    }
    for (int i = 0; i < l->nrds; i++) {
        Py_XDECREF(l->rds[i].exc);
    }
    if (l->rds != NULL) {
        free(l->rds);
    }
    l->items = NULL;
    l->seg = NULL;
    l->rds = NULL;
    l->nitems = l->cap = l->nrds = l->rds_cap = 0;
}

/* Release the round's lanes: connections still held are closed (their
 * state is unknown). */
static void
rc_op_drop_lanes(rc_op *op)
{
    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        rc_waiter_remove(op->cl, &l->waiter);
        if (l->held) {
            /* The caller's: closed by the caller if its stream is now in
             * doubt (a write cut short, replies nobody will read). A read
             * that stopped waiting leaves the stream where it was. */
            if (l->state != RC_LANE_DONE && op->held_mode != RC_HELD_READ &&
                l->conn->err.kind == RC_E_NONE) {
                rc_err_set(&l->conn->err, RC_E_INTR, EINTR, "Interrupted: the connection "
                                                            "was cut mid-command");
            }
            l->conn = NULL;
        } else if (l->conn != NULL) {
            rc_pool_discard(op->cl, l->conn);
            l->conn = NULL;
        }
        rc_lane_free(l);
    }
    op->nlanes = 0;
}

void
rc_op_clear(rc_op *op)
{
    rc_cluster *cl = op->cl;
    if (op->nlanes > 0) {
        rc_op_drop_lanes(op);
    }
    if (op->lanes != NULL && op->lanes != op->lanes_inline) {
        free(op->lanes);
    }
    op->lanes = NULL;
    if (op->wait.fds != NULL && op->wait.fds != op->fds_inline) {
        free(op->wait.fds);
    }
    op->wait.fds = NULL;
    op->wait.cap = 0;
    for (Py_ssize_t i = 0; i < op->n; i++) {
        rc_bcmd *c = &op->cmds[i];
        Py_CLEAR(c->result);
        Py_CLEAR(c->last);
        if (op->pinned && c->rt.slot < 0) {
            rc_node_unpin(cl, c->rt.node);
        }
        if (c->ask_node >= 0) {
            rc_set_ask(cl, &c->ask_node, -1);
        }
    }
    op->pinned = 0;
    if (op->cmds != op->cmds_inline) {
        free(op->cmds);
    }
    op->cmds = op->cmds_inline;
    op->n = 0;
    op->cap = RC_OP_INLINE;
    Py_CLEAR(op->fatal);
    rc_buf_free(&op->buf);
}

void
rc_op_abort(rc_op *op, PyObject *exc)
{
    if (exc == NULL) {
        exc = rc_fetch_exception();
    }
    rc_op_drop_lanes(op);
    if (op->fatal == NULL) {
        op->fatal = exc;
    } else {
        Py_XDECREF(exc);
    }
    op->phase = RC_PH_DONE;
}

/* The op must stop: keep the current exception as fatal. */
static int
rc_op_fail(rc_op *op)
{
    rc_op_abort(op, NULL);
    return RC_OP_DONE;
}

/* ------------------------------------------------------------------ lanes */

static int
rc_lane_writing(const rc_lane *l)
{
    return l->seg_i < l->nitems;
}

/* Item j's bytes all left. */
static int
rc_lane_written(const rc_lane *l, int j)
{
    return j < l->seg_i;
}

/* Keep a redirect read on lane l for item it: its compact form, plus the
 * reply as an exception when that may become the command's error (every
 * redirect of a node-routed command; TRYAGAIN of any). 0, or -1 with an
 * exception set (memory). GIL. */
static int
rc_lane_add_redir(rc_cluster *cl, rc_lane *l, rc_item *it, const rc_bcmd *c,
                  const rc_redirect *r)
{
    rc_redir *q;
    if (l->nrds == l->rds_cap) {
        int cap = l->rds_cap ? l->rds_cap * 2 : 4;
        rc_redir *p = realloc(l->rds, (size_t)cap * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        l->rds = p;
        l->rds_cap = cap;
    }
    q = &l->rds[l->nrds];
    rc_redir_from(cl, l->conn->node, r, q);
    if (c->rt.slot < 0 || r->kind == RC_REDIR_TRYAGAIN || r->kind == RC_REDIR_CLUSTERDOWN ||
        r->kind == RC_REDIR_MASTERDOWN) {
        q->exc = rc_error_from_redirect(cl->st, r);
        if (q->exc == NULL) {
            return -1;
        }
    }
    it->rd = l->nrds++;
    return 0;
}

/* Write as much as the socket takes from the lane's segments; block=1:
 * blocking writes (each bounded by the socket's short tick). Returns bytes
 * written (0: would block), -1 with the connection's error set. No GIL. */
static ssize_t
rc_lane_send(rc_lane *l, int block)
{
    struct iovec iov[64];
    int cnt = 0;
    ssize_t w;
    size_t left;

    for (int i = l->seg_i; i < l->nitems && cnt < 64; i++, cnt++) {
        iov[cnt] = l->seg[i];
        if (i == l->seg_i) {
            iov[cnt].iov_base = (char *)iov[cnt].iov_base + l->seg_off;
            iov[cnt].iov_len -= l->seg_off;
        }
    }
    w = rc_conn_sendv(l->conn, iov, cnt, block);
    if (w <= 0) {
        return w;
    }
    left = (size_t)w;
    while (left > 0 && l->seg_i < l->nitems) {
        size_t rest = l->seg[l->seg_i].iov_len - l->seg_off;
        if (left >= rest) {
            left -= rest;
            l->seg_i++;
            l->seg_off = 0;
        } else {
            l->seg_off += left;
            left = 0;
        }
    }
    return w;
}

/* Room for `cap` items (and as many segments) on lane l. 0, or -1 (memory). */
static int
rc_lane_alloc(rc_lane *l, int cap)
{
    if (cap <= RC_LANE_INLINE) {
        l->items = l->items_inline;
        l->seg = l->seg_inline;
        return 0;
    }
    l->items = malloc((size_t)cap * sizeof *l->items);
    l->seg = malloc((size_t)cap * sizeof *l->seg);
    if (l->items == NULL || l->seg == NULL) {
        free(l->items);
        free(l->seg);
        l->items = NULL;
        l->seg = NULL;
        return -1;
    }
    return 0;
}

/* A fresh lane to node ni (its inline arrays are left as they are). */
static void
rc_lane_reset(rc_lane *l, int ni)
{
    l->node = ni;
    l->state = RC_LANE_DONE;
    l->conn = NULL;
    l->seg = NULL;
    l->items = NULL;
    l->nitems = l->cap = 0;
    l->seg_i = 0;
    l->seg_off = 0;
    l->nread = 0;
    l->rds = NULL;
    l->nrds = l->rds_cap = 0;
    l->deadline = 0;
    l->failed = 0;
    l->pfd = -1;
    l->err.kind = RC_E_NONE;
    l->waiter.queued = 0;
    l->held = 0;
}

static void
rc_lane_push(rc_lane *l, Py_ssize_t cmd, int asking, const char *p, size_t len)
{
    rc_item *it = &l->items[l->nitems];
    it->cmd = cmd;
    it->rd = -1;
    it->asking = (char)asking;
    it->answered = 0;
    l->seg[l->nitems].iov_base = (void *)p;
    l->seg[l->nitems].iov_len = len;
    l->nitems++;
}

/* The lane's I/O deadline from now: socket_timeout bounds silence (as
 * redis-py's per-call socket timeout: a reply that keeps coming is never
 * cut); the op's own bound (op_deadline) limits new attempts instead. */
static double
rc_lane_io_deadline(const rc_op *op, double now)
{
    double t = op->cl->cfg.sock.timeout;
    return t > 0 ? now + t : 0;
}

/* Take a connection for lane l (GIL): an idle one (the lane starts its
 * I/O), a new one (it starts opening), or none yet (the limit: it waits).
 * A failure that is no network error (the limit without wait_timeout,
 * memory, Ctrl-C) becomes the lane's commands' result, or the op's fatal
 * error for a BaseException. Returns -1 only for the latter. */
static int
rc_lane_checkout(rc_op *op, rc_lane *l, double now, int idle_check)
{
    rc_cluster *cl = op->cl;
    int r;

    rc_err_clear(&l->err);
    r = rc_pool_checkout_nb(cl, l->node, &l->conn, &l->err, now,
                            l->waiter.queued ? &l->waiter : NULL, idle_check);
    if (r != RC_CHECKOUT_FULL) {
        rc_waiter_remove(cl, &l->waiter);
    }
    if (r == RC_CHECKOUT_IDLE) {
        l->state = RC_LANE_IO;
        l->conn->dirty = 1;
        l->deadline = rc_lane_io_deadline(op, now);
        return 0;
    }
    if (r == RC_CHECKOUT_OPENING) {
        l->state = RC_LANE_OPENING;
        return 0;
    }
    if (r == RC_CHECKOUT_FULL) {
        rc_waiter_enqueue(cl, &l->waiter); /* (once) rc_cluster_wake writes for us */
        if (l->state != RC_LANE_WAITCONN) {
            l->state = RC_LANE_WAITCONN;
            l->deadline = now + cl->cfg.wait_timeout; /* its own bound, as redis-py's */
        }
        return 0;
    }
    l->conn = NULL;
    l->state = RC_LANE_DONE;
    if (r == RC_ST_NET) {
        l->failed = 1;
        return 0;
    }
    /* RC_ST_PY: a Python error. */
    {
        PyObject *exc = rc_fetch_exception();
        if (exc == NULL) {
            return -1;
        }
        if (!PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
            rc_restore_exception(exc);
            return -1;
        }
        for (int j = 0; j < l->nitems; j++) {
            rc_bcmd *c = &op->cmds[l->items[j].cmd];
            if (!l->items[j].asking && c->result == NULL) {
                Py_INCREF(exc);
                c->result = exc;
            }
        }
        Py_DECREF(exc);
    }
    return 0;
}

/* ------------------------------------------------------------------ rounds */

/* Route every pending command into this round's lanes and take their
 * connections. 0, or -1 with an exception set (fatal). GIL. */
static int
rc_op_route(rc_op *op)
{
    rc_cluster *cl = op->cl;
    rc_state *st = cl->st;
    int nodes = cl->nnodes ? cl->nnodes : 1;
    /* at most one lane per command and per node */
    int maxlanes = op->n < (Py_ssize_t)nodes ? (int)op->n : nodes;
    int *lane_of = NULL, *route = NULL, route_inline[RC_OP_INLINE];
    double now = op->now;
    int ret = -1;

    op->start = op->rs;
    /* the lane of each command; for many commands also the lane of each
     * node (few commands look their lane up among the lanes) */
    route = op->n <= RC_OP_INLINE ? route_inline : malloc((size_t)op->n * sizeof *route);
    if (op->n > RC_OP_INLINE) {
        lane_of = malloc((size_t)nodes * sizeof *lane_of);
    }
    if (route == NULL || (op->n > RC_OP_INLINE && lane_of == NULL)) {
        PyErr_NoMemory();
        goto done;
    }
    if (op->lanes == NULL || op->lanes_cap < maxlanes) {
        rc_lane *p;
        if (maxlanes <= RC_OP_INLINE) {
            p = op->lanes_inline;
            op->lanes_cap = RC_OP_INLINE;
        } else {
            p = malloc((size_t)maxlanes * sizeof *p);
            if (p == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            if (op->lanes != NULL && op->lanes != op->lanes_inline) {
                free(op->lanes);
            }
            op->lanes_cap = maxlanes;
        }
        op->lanes = p;
    }
    for (int i = 0; lane_of != NULL && i < nodes; i++) {
        lane_of[i] = -1;
    }
    op->nlanes = 0;
    /* Route every pending command: first count per lane, then fill exactly
     * sized arrays (a 100 000-command batch stays compact). */
    for (Py_ssize_t i = 0; i < op->n; i++) {
        rc_bcmd *c = &op->cmds[i];
        int ni;
        route[i] = -1;
        if (c->result != NULL) {
            continue;
        }
        if (op->block && i > 0) {
            /* a transaction goes where its head (MULTI) goes, or waits */
            if (route[0] >= 0) {
                route[i] = route[0];
                op->lanes[route[0]].cap++;
            }
            continue;
        }
        ni = c->ask_node >= 0 ? c->ask_node
             : c->rt.slot >= 0 ? rc_slot_node(cl, c->rt.slot, c->rt.replica_ok, c->tries)
                               : c->rt.node;
        if (rc_cluster_at(cl, ni) == NULL) {
            /* The slot is not served (or the node left): refresh, back off
             * and route again. */
            op->rs.refresh = 1;
            op->rs.uncovered = op->start.uncovered + 1;
            op->rs.backoff = rc_backoff(0.05, op->rs.uncovered, 0.25);
            if (++c->tries >= op->lim.ttl) {
                c->result = c->rt.slot >= 0 ? rc_uncovered_exc(cl, c->rt.slot)
                                            : rc_ttl_exc(st, c->last);
                if (c->result == NULL) {
                    goto done;
                }
                if (op->block) {
                    rc_restore_exception(c->result); /* the transaction's end */
                    c->result = NULL;
                    goto done;
                }
            }
            continue;
        }
        {
            int k = -1;
            if (lane_of != NULL) {
                k = lane_of[ni];
            } else {
                for (int j = 0; j < op->nlanes; j++) {
                    if (op->lanes[j].node == ni) {
                        k = j;
                        break;
                    }
                }
            }
            if (k < 0) {
                rc_lane *l = &op->lanes[op->nlanes];
                rc_lane_reset(l, ni);
                k = op->nlanes++;
                if (lane_of != NULL) {
                    lane_of[ni] = k;
                }
            }
            route[i] = k;
            op->lanes[k].cap += c->ask_node >= 0 ? 2 : 1;
        }
    }
    for (int k = 0; k < op->nlanes; k++) {
        if (rc_lane_alloc(&op->lanes[k], op->lanes[k].cap) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < op->n; i++) {
        rc_bcmd *c = &op->cmds[i];
        rc_lane *l;
        if (route[i] < 0) {
            continue;
        }
        l = &op->lanes[route[i]];
        if (c->ask_node >= 0) {
            rc_lane_push(l, i, 1, rc_asking_cmd, RC_ASKING_LEN);
        }
        rc_lane_push(l, i, 0, op->buf.data + c->off, c->len);
    }
    for (int k = 0; k < op->nlanes; k++) {
        if (rc_lane_checkout(op, &op->lanes[k], now, 1) < 0) {
            goto done;
        }
    }
    ret = 0;
done:
    free(lane_of);
    if (route != route_inline) {
        free(route);
    }
    return ret;
}

/* Feed what lane l received to its connection's reader and take the
 * replies: the handshake's first, then the lane's items. 0, or -1 with an
 * exception set (fatal: memory). GIL. */
static int
rc_lane_parse(rc_op *op, rc_lane *l)
{
    rc_cluster *cl = op->cl;
    rc_conn *c = l->conn;

    /* with nothing new (no bytes read, none buffered) no reply can have
     * completed: the reply loop is skipped */
    int fresh = c->rx.len > 0 || rc_reader_pending(c->reader) > 0;

    if (c->rx.len > 0) {
        if (rc_reader_feed(c->reader, c->rx.data, c->rx.len) != RC_OK) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s", c->reader->errstr);
            l->failed = 1;
        }
        c->rx.len = 0;
    }
    if (l->state == RC_LANE_OPENING && !l->failed) {
        int r = rc_conn_hello_replies(cl, c);
        if (r == RC_ST_PY) {
            /* The handshake was refused (AUTH, ...): the lane's commands
             * fail with that error; nothing of theirs was sent. */
            PyObject *exc = rc_fetch_exception();
            if (exc == NULL || !PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
                if (exc != NULL) {
                    rc_restore_exception(exc);
                }
                return -1;
            }
            for (int j = 0; j < l->nitems; j++) {
                rc_bcmd *cmd = &op->cmds[l->items[j].cmd];
                if (!l->items[j].asking && cmd->result == NULL) {
                    Py_INCREF(exc);
                    cmd->result = exc;
                }
            }
            Py_DECREF(exc);
            rc_pool_discard(cl, c);
            l->conn = NULL;
            l->state = RC_LANE_DONE;
            return 0;
        }
        if (r == RC_ST_NET) {
            l->failed = 1;
        } else if (c->state == RC_CONN_READY) {
            l->state = RC_LANE_IO;
            c->dirty = 1;
            double down;
            __atomic_load(&c->node->down_until, &down, __ATOMIC_RELAXED);
            if (down > 0) {
                rc_lock(cl);
                c->node->down_until = 0;
                rc_unlock(cl);
            }
            l->deadline = rc_lane_io_deadline(op, op->now);
        }
    }
    while (fresh && l->state == RC_LANE_IO && !l->failed && l->nread < l->nitems) {
        PyObject *obj;
        rc_item *it;
        int r = rc_reader_get(c->reader, &c->ctx, &obj);
        if (r == 0) {
            break;
        }
        if (r < 0) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s",
                       c->reader->errstr[0] ? c->reader->errstr : "bad reply");
            l->failed = 1;
            break;
        }
        it = &l->items[l->nread++];
        it->answered = 1;
        if (c->ctx.deferred != NULL) {
            Py_DECREF(obj);
            obj = rc_reply_take_deferred(&c->ctx);
        } else if (obj == cl->st->redirect_marker) {
            Py_CLEAR(obj);
            if (op->held_mode) {
                obj = rc_error_from_redirect(cl->st, &c->ctx.redir); /* a value */
                if (obj == NULL) {
                    return -1;
                }
            } else if (!it->asking && rc_lane_add_redir(cl, l, it, &op->cmds[it->cmd],
                                                        &c->ctx.redir) < 0) {
                return -1;
            }
        }
        if (it->asking) {
            Py_XDECREF(obj);
        } else if (obj != NULL) {
            Py_XSETREF(op->cmds[it->cmd].result, obj);
        }
    }
    if (l->state == RC_LANE_IO && !l->failed && l->nread == l->nitems && !rc_lane_writing(l)) {
        if (!op->held_mode && rc_reader_pending(c->reader) != 0) {
            /* Bytes nobody asked for: the stream cannot be trusted. */
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: unexpected data");
            l->failed = 1;
        } else {
            c->dirty = 0;
            l->state = RC_LANE_DONE;
        }
    }
    if (l->failed) {
        l->state = RC_LANE_DONE;
    }
    return 0;
}

/* A command cut off by a connection failure (err) before its reply: is that
 * failure its answer? Yes for a write the server may have run (ambiguous:
 * never sent twice), a protocol error, and a timeout that is the op's second
 * or comes past its deadline; else another attempt may follow. */
static int
rc_cut_final(const rc_op *op, const rc_err *err, int ambiguous_write)
{
    return ambiguous_write || err->kind == RC_E_PROTOCOL ||
           (err->kind == RC_E_TIMEOUT &&
            (op->rs.timeouts > 1 || (op->op_deadline > 0 && op->now >= op->op_deadline)));
}

/* The cluster policy for one item of a settled lane: its command gets its
 * result, or goes to another round. 0, or -1 with an exception set (memory).
 * GIL. */
static int
rc_settle_item(rc_op *op, rc_lane *l, int j)
{
    rc_cluster *cl = op->cl;
    rc_state *st = cl->st;
    rc_item *it = &l->items[j];
    rc_bcmd *c = &op->cmds[it->cmd];
    const rc_err *err = l->conn != NULL ? &l->conn->err : &l->err;
    rc_node *node = rc_cluster_at(cl, l->node); /* NULL: retired before its checkout */

    if (it->asking) {
        return 0;
    }
    if (c->result != NULL) {
        /* A reply. A replica still loading (first attempt, not via ASK):
         * ask the master instead. */
        if (c->tries == 0 && c->ask_node < 0 && rc_on_replica(cl, &c->rt, l->node) &&
            PyErr_GivenExceptionMatches(c->result, st->BusyLoadingError)) {
            Py_CLEAR(c->result);
            c->tries++;
        }
        return 0;
    }
    if (!it->answered) {
        /* Cut off: the connection failed (or never opened) before its reply.
         * An ambiguous write is never sent again; a protocol error or a
         * second timeout end the command; else another attempt, until the
         * TTL runs out. */
        int final = rc_cut_final(op, err, l->conn != NULL && rc_lane_written(l, j) &&
                                              !c->rt.is_read);
        Py_XSETREF(c->last, rc_conn_exc(st, err, node != NULL ? node->name : NULL));
        if (c->last == NULL) {
            return -1;
        }
        rc_set_ask(cl, &c->ask_node, -1);
        c->tries++;
        if (final || (c->tries >= op->lim.ttl && c->rt.slot < 0)) {
            /* its own error; a node-routed command has nowhere else to go */
            c->result = c->last;
            c->last = NULL;
        } else if (c->tries >= op->lim.ttl) {
            c->result = rc_ttl_exc(st, c->last);
            if (c->result == NULL) {
                return -1;
            }
        }
        return 0;
    }
    if (it->rd >= 0) {
        rc_redir *rd = &l->rds[it->rd];
        if (c->tries + 1 < op->lim.ttl) {
            rc_adopt_redirect_slot(cl, &c->rt, rd);
        }
        if (c->rt.slot >= 0 && c->tries + 1 < op->lim.ttl) {
            rc_retry t = op->start;
            int again = rc_on_redirect(cl, rd, &c->ask_node, &t, &op->lim);
            rc_retry_merge(&op->rs, &t);
            if (again) {
                c->tries++;
                Py_XINCREF(rd->exc); /* the context if time runs out (NULL for MOVED/ASK) */
                Py_XSETREF(c->last, rd->exc);
                return 0;
            }
        }
        rc_set_ask(cl, &c->ask_node, -1);
        if (c->rt.slot >= 0 && (rd->kind == RC_REDIR_CLUSTERDOWN ||
                                rd->kind == RC_REDIR_MASTERDOWN)) {
            c->result = rc_clusterdown_exc(st, rd->exc);
        } else if (c->rt.slot >= 0 || rd->exc == NULL) {
            /* MOVED / ASK / TRYAGAIN until out of attempts (the original's
             * error), the last reply as its context */
            c->result = rc_ttl_exc(st, rd->exc);
        } else {
            c->result = rd->exc; /* node-routed: the server's own words */
            rd->exc = NULL;
        }
        if (c->result == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Start a transaction over: every result of the block goes. */
static void
rc_block_reset(rc_op *op)
{
    for (Py_ssize_t i = 0; i < op->n; i++) {
        Py_CLEAR(op->cmds[i].result);
    }
}

/* The cluster policy for a transaction (op->block) whose lane settled. The
 * head (MULTI) carries the block's attempts, ASK target and last error.
 *  - A redirect-class reply anywhere in the block (Redis answers it to the
 *    queued command and aborts EXEC; Valkey answers it to EXEC) means the
 *    server ran nothing: the block follows it whole like a single command
 *    would (MOVED, ASK with ASKING before MULTI, TRYAGAIN and CLUSTERDOWN
 *    backoffs), with the same TTL accounting and exceptions.
 *  - The connection lost before EXEC was all written: the server discards a
 *    transaction whose connection closes, so it is sent again while
 *    attempts remain. Once EXEC left, nobody knows whether it ran: the
 *    connection error ends the op (never sent twice).
 *  - MULTI itself refused (e.g. the handshake failed): that error ends it.
 * Otherwise the replies stand (EXEC's array, or EXECABORT with the queued
 * commands' errors) for the caller to shape. 0, or -1 with the exception
 * that ends the op set. GIL. */
static int
rc_settle_block(rc_op *op, rc_lane *l)
{
    rc_cluster *cl = op->cl;
    rc_state *st = cl->st;
    rc_bcmd *head = &op->cmds[0];
    const rc_err *err = l->conn != NULL ? &l->conn->err : &l->err;
    rc_redir *rd = NULL;
    PyObject *exc = NULL;
    int cut = 0;

    for (int j = 0; j < l->nitems; j++) {
        rc_item *it = &l->items[j];
        if (it->asking) {
            continue;
        }
        if (!it->answered) {
            cut = 1;
        } else if (it->rd >= 0 && rd == NULL) {
            rd = &l->rds[it->rd];
        }
    }
    if (rd != NULL) {
        if (head->tries + 1 < op->lim.ttl) {
            rc_retry t = op->start;
            int again = rc_on_redirect(cl, rd, &head->ask_node, &t, &op->lim);
            rc_retry_merge(&op->rs, &t);
            if (again) {
                head->tries++;
                Py_XINCREF(rd->exc);
                Py_XSETREF(head->last, rd->exc);
                rc_block_reset(op);
                return 0;
            }
        }
        rc_set_ask(cl, &head->ask_node, -1);
        exc = rd->kind == RC_REDIR_CLUSTERDOWN || rd->kind == RC_REDIR_MASTERDOWN
                  ? rc_clusterdown_exc(st, rd->exc)
                  : rc_ttl_exc(st, rd->exc);
        goto fail;
    }
    if (cut) {
        int final = rc_cut_final(op, err, l->conn != NULL && rc_lane_written(l, l->nitems - 1));
        rc_node *node = rc_cluster_at(cl, l->node);
        Py_XSETREF(head->last, rc_conn_exc(st, err, node != NULL ? node->name : NULL));
        if (head->last == NULL) {
            return -1;
        }
        rc_set_ask(cl, &head->ask_node, -1);
        head->tries++;
        if (final) {
            exc = head->last; /* its own error */
            head->last = NULL;
            goto fail;
        }
        if (head->tries >= op->lim.ttl) {
            exc = rc_ttl_exc(st, head->last);
            goto fail;
        }
        rc_block_reset(op);
        return 0;
    }
    if (head->result != NULL && PyExceptionInstance_Check(head->result)) {
        exc = head->result;
        head->result = NULL;
        goto fail;
    }
    return 0;
fail:
    if (exc != NULL) {
        rc_restore_exception(exc);
    }
    return -1;
}

/* Settle the round: the policy for every item, connections back to their
 * pools (or closed). 0, or -1 with an exception set. GIL. */
static int
rc_op_settle(rc_op *op)
{
    rc_cluster *cl = op->cl;
    int ret = 0;
    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        if (l->failed) {
            rc_retry t = op->start;
            rc_node *node = rc_cluster_at(cl, l->node);
            /* A connection that failed to open for a replica read costs no
             * wait: the next attempt goes to the master. */
            if (l->conn != NULL || node == NULL || node->role != RC_ROLE_REPLICA) {
                rc_note_conn_fail(cl, &t, l->conn != NULL ? &l->conn->err : &l->err);
                rc_retry_merge(&op->rs, &t);
            }
        }
        if (op->block) {
            ret = rc_settle_block(op, l);
        }
        for (int j = 0; !op->block && j < l->nitems; j++) {
            if (rc_settle_item(op, l, j) < 0) {
                return -1;
            }
        }
        if (l->conn != NULL) {
            rc_pool_checkin_at(cl, l->conn, op->now);
            l->conn = NULL;
        }
        rc_lane_free(l);
    }
    op->nlanes = 0;
    return ret;
}

/* Every command that has no result when the op's bound passed before
 * another attempt: a timeout of its last attempt is the answer; else the
 * policy gave up -- "TTL exhausted" with the last outcome as context. */
static int
rc_op_expire(rc_op *op)
{
    rc_state *st = op->cl->st;
    if (op->block && op->cmds[0].result == NULL) {
        /* a transaction ends as a whole */
        rc_bcmd *c = &op->cmds[0];
        PyObject *exc = c->last != NULL && PyErr_GivenExceptionMatches(c->last, st->TimeoutError)
                            ? c->last : rc_ttl_exc(st, c->last);
        if (exc == c->last) {
            c->last = NULL;
        }
        if (exc != NULL) {
            rc_restore_exception(exc);
        }
        return -1;
    }
    for (Py_ssize_t i = 0; i < op->n; i++) {
        rc_bcmd *c = &op->cmds[i];
        if (c->result != NULL) {
            continue;
        }
        if (c->last != NULL && PyErr_GivenExceptionMatches(c->last, st->TimeoutError)) {
            c->result = c->last;
            c->last = NULL;
        } else {
            c->result = rc_ttl_exc(st, c->last);
            if (c->result == NULL) {
                return -1;
            }
        }
    }
    return 0;
}

static Py_ssize_t
rc_op_pending(const rc_op *op)
{
    Py_ssize_t pending = 0;
    for (Py_ssize_t i = 0; i < op->n; i++) {
        pending += op->cmds[i].result == NULL;
    }
    return pending;
}

/* Timeouts and WAITCONN retries of one lane in the IO phase. 0, or -1
 * (fatal). GIL. */
static int
rc_lane_check(rc_op *op, rc_lane *l, double now)
{
    {
        if (l->state == RC_LANE_WAITCONN) {
            if (rc_lane_checkout(op, l, now, 1) < 0) {
                return -1;
            }
            if (l->state == RC_LANE_WAITCONN && l->deadline > 0 && now >= l->deadline) {
                PyObject *exc;
                PyErr_SetString(op->cl->st->ConnectionError, "No connection available.");
                exc = rc_fetch_exception();
                if (exc == NULL) {
                    return -1;
                }
                for (int j = 0; j < l->nitems; j++) {
                    rc_bcmd *c = &op->cmds[l->items[j].cmd];
                    if (!l->items[j].asking && c->result == NULL) {
                        Py_INCREF(exc);
                        c->result = exc;
                    }
                }
                Py_DECREF(exc);
                l->state = RC_LANE_DONE;
                rc_waiter_remove(op->cl, &l->waiter);
            }
        } else if (l->state == RC_LANE_OPENING) {
            if (l->conn->open_deadline > 0 && now >= l->conn->open_deadline) {
                rc_err_set(&l->conn->err, RC_E_TIMEOUT, ETIMEDOUT,
                           "Timeout connecting to server %s:%d", l->conn->node->host,
                           l->conn->node->port);
            }
            if (l->conn->err.kind != RC_E_NONE) {
                /* Not connected: nothing was sent. */
                l->err = l->conn->err;
                rc_lock(op->cl);
                l->conn->node->down_until = now + 1.0;
                rc_unlock(op->cl);
                if (!l->held) {
                    rc_pool_discard(op->cl, l->conn);
                    l->conn = NULL;
                }
                l->failed = 1;
                l->state = RC_LANE_DONE;
            }
        } else if (l->state == RC_LANE_IO) {
            if (l->conn->err.kind != RC_E_NONE) {
                l->failed = 1;
                l->state = RC_LANE_DONE;
            } else if (op->held_mode == RC_HELD_READ) {
                /* (after one wait at least: a timeout of 0 still looks once) */
                if (op->nwaits > 0 && l->deadline > 0 && now >= l->deadline) {
                    l->state = RC_LANE_DONE; /* nothing within the timeout */
                }
            } else if (l->deadline > 0 && now >= l->deadline) {
                rc_err_set(&l->conn->err, RC_E_TIMEOUT, ETIMEDOUT,
                           rc_lane_writing(l) ? "Timeout writing to socket"
                                              : "Timeout reading from socket");
                l->failed = 1;
                l->state = RC_LANE_DONE;
            }
        }
    }
    return 0;
}

/* The IO phase in one pass over the lanes: what each lane received is
 * parsed, its timeouts checked, and what it still waits for added to
 * op->wait. Returns 1 if some lane is busy (op->wait is filled),
 * 0 if all are done, -1 with an exception set (fatal). GIL. */
static int
rc_op_scan(rc_op *op, double now)
{
    rc_wait *w = &op->wait;
    double deadline = 0;
    int n = 0, busy = 0, ready_now = 0;

    if (w->fds == NULL) {
        w->fds = op->fds_inline;
        w->cap = RC_OP_INLINE;
    }
    if (w->cap < op->nlanes + 1) { /* (+1: a held read's wake fd) */
        struct pollfd *p = malloc((size_t)(op->nlanes + 1) * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (w->fds != op->fds_inline) {
            free(w->fds);
        }
        w->fds = p;
        w->cap = op->nlanes + 1;
    }
    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        double d;
        int fd;
        short ev;
        l->pfd = -1;
        if (l->state == RC_LANE_DONE) {
            continue;
        }
        if (l->state != RC_LANE_WAITCONN && rc_lane_parse(op, l) < 0) {
            return -1;
        }
        if (l->state != RC_LANE_DONE && rc_lane_check(op, l, now) < 0) {
            return -1;
        }
        if (l->state == RC_LANE_DONE) {
            continue;
        }
        busy = 1;
        d = l->deadline;
        if (l->state == RC_LANE_IO) {
            fd = l->conn->fd;
            ev = (short)(POLLIN | (rc_lane_writing(l) ? POLLOUT : 0));
            ready_now |= rc_conn_pending_rx(l->conn); /* TLS bytes poll() cannot see */
        } else if (l->state == RC_LANE_OPENING) {
            fd = l->conn->fd;
            ev = rc_conn_open_events(l->conn);
            if (l->conn->open_deadline > 0 && (d == 0 || l->conn->open_deadline < d)) {
                d = l->conn->open_deadline;
            }
        } else { /* RC_LANE_WAITCONN */
            /* Woken by a release; and every 10 ms anyway: the byte of a
             * release may go to another waiter, or its connection be taken
             * by a caller that did not wait. */
            fd = rc_cluster_wake_fd(op->cl);
            ev = POLLIN;
            d = d == 0 || now + 0.01 < d ? now + 0.01 : d;
        }
        if (d > 0 && (deadline == 0 || d < deadline)) {
            deadline = d;
        }
        if (fd >= 0) {
            l->pfd = n;
            w->fds[n].fd = fd;
            w->fds[n].events = ev;
            w->fds[n].revents = 0;
            n++;
        }
    }
    op->wake_pfd = -1;
    if (op->held_mode == RC_HELD_READ && op->wake_fd >= 0) {
        if (op->nlanes == 0) {
            /* no connection: a sleep until the deadline, unless woken (a
             * timeout of 0 still looks once) */
            busy = op->nwaits == 0 || op->held_deadline == 0 || now < op->held_deadline;
            deadline = op->held_deadline;
        }
        if (busy) {
            op->wake_pfd = n;
            w->fds[n].fd = op->wake_fd;
            w->fds[n].events = POLLIN;
            w->fds[n].revents = 0;
            n++;
        }
    }
    if (!busy) {
        return 0;
    }
    w->nfds = n;
    w->deadline = deadline;
    w->ready_now = ready_now;
    w->may_block = n == 1 && op->nlanes == 1 && op->lanes[0].state == RC_LANE_IO &&
                   op->lanes[0].conn->ssl == NULL;
    op->nwaits++;
    return 1;
}

/* ------------------------------------------------------------------ held */

int
rc_op_init_held(rc_op *op, rc_cluster *cl, rc_conn *const *conns, int nconns, int mode,
                double timeout)
{
    rc_limits lim = {1, 0};
    rc_op_init(op, cl, &lim);
    op->held_mode = mode;
    op->held_timeout = timeout;
    if (nconns > RC_OP_INLINE) {
        op->lanes = malloc((size_t)nconns * sizeof *op->lanes);
        if (op->lanes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        op->lanes_cap = nconns;
    } else {
        op->lanes = op->lanes_inline;
        op->lanes_cap = RC_OP_INLINE;
    }
    for (int k = 0; k < nconns; k++) {
        rc_lane *l = &op->lanes[k];
        rc_lane_reset(l, conns[k]->node->index); /* RC_LANE_DONE until rc_op_route_held */
        l->conn = conns[k];
        l->held = 1;
    }
    op->nlanes = nconns;
    op->phase = RC_PH_ROUTE;
    return 0;
}

/* The round of a held op: its items on its lanes. 0, or -1 (memory). */
static int
rc_op_route_held(rc_op *op)
{
    double now = op->now;
    if (op->held_mode == RC_HELD_READ) {
        op->held_deadline = op->held_timeout >= 0 ? now + op->held_timeout : 0;
    }
    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        int n = op->held_mode == RC_HELD_READ ? 1
                : op->held_mode == RC_HELD_OPEN ? 0
                                                : (int)op->n;
        if (rc_lane_alloc(l, n > 0 ? n : 1) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        if (op->held_mode == RC_HELD_READ) {
            rc_lane_push(l, k, 0, NULL, 0);
            l->seg_i = 1; /* nothing to write */
        } else if (op->held_mode != RC_HELD_OPEN) {
            for (Py_ssize_t i = 0; i < op->n; i++) {
                rc_lane_push(l, i, 0, op->buf.data + op->cmds[i].off, op->cmds[i].len);
            }
        }
        if (op->held_mode == RC_HELD_SEND) {
            l->nread = l->nitems; /* no replies expected */
        }
        if (l->conn->err.kind != RC_E_NONE) {
            l->failed = 1;
            l->state = RC_LANE_DONE;
            continue;
        }
        if (l->conn->state != RC_CONN_READY) {
            l->state = RC_LANE_OPENING;
            continue;
        }
        l->state = RC_LANE_IO;
        if (op->held_mode == RC_HELD_READ) {
            l->deadline = op->held_deadline;
        } else {
            l->conn->dirty = 1;
            l->deadline = rc_lane_io_deadline(op, now);
        }
    }
    return 0;
}

/* A held op that still has busy lanes is over anyway for RC_HELD_READ
 * when one reply came (or a connection broke: the caller reconnects it; or
 * the caller's wake fd became readable). */
static int
rc_op_held_over(rc_op *op)
{
    if (op->held_mode != RC_HELD_READ) {
        return 0;
    }
    if (op->woken) {
        return 1; /* the caller's wake fd */
    }
    for (Py_ssize_t i = 0; i < op->n; i++) {
        if (op->cmds[i].result != NULL) {
            return 1;
        }
    }
    for (int k = 0; k < op->nlanes; k++) {
        if (op->lanes[k].failed) {
            return 1;
        }
    }
    return 0;
}

/* End a held op: the lanes go, the connections stay the caller's. */
static void
rc_op_end_held(rc_op *op)
{
    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        if (op->held_mode == RC_HELD_SEND && l->conn != NULL) {
            l->conn->dirty = 1; /* replies will come: not poolable */
        }
        l->conn = NULL;
        rc_lane_free(l);
    }
    op->nlanes = 0;
    op->phase = RC_PH_DONE;
}

int
rc_engine_one(rc_cluster *cl, const char *cmd, size_t len, const rc_route *rt,
              const rc_limits *lim, PyObject **out)
{
    rc_op op;
    int st = RC_ST_PY;

    *out = NULL;
    rc_op_init(&op, cl, lim);
    if (rc_buf_append(&op.buf, cmd, len) != RC_OK) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc_op_add(&op, 0, len, rt) < 0) {
        goto done;
    }
    rc_op_set_deadline(&op, cl->cfg.sock.timeout);
    if (rc_op_run(&op) < 0) {
        goto done;
    }
    *out = op.cmds[0].result;
    op.cmds[0].result = NULL;
    st = RC_ST_OK;
done:
    rc_op_clear(&op);
    return st;
}

int
rc_op_fast_start(rc_op *op, double spin, int *spun)
{
    rc_cluster *cl = op->cl;
    rc_bcmd *c = &op->cmds[0];
    rc_lane *l;
    rc_node *node;
    int ni, stale = 0;

    if (op->phase != RC_PH_START || op->n != 1 || op->held_mode || c->ask_node >= 0) {
        return 0;
    }
    op->now = rc_net_now();
    if (rc_cluster_refresh_wanted(cl, op->now)) {
        return 0; /* a refresh first: the general way */
    }
    ni = c->rt.slot >= 0 ? rc_slot_node(cl, c->rt.slot, c->rt.replica_ok, 0) : c->rt.node;
    node = ni == (int)RC_NO_NODE ? NULL : rc_cluster_at(cl, ni);
    if (node == NULL) {
        return 0; /* the general way finds the slot again */
    }
    /* What START and ROUTE do, for one command. */
    op->pinned = 1;
    if (c->rt.slot < 0) {
        rc_node_pin(cl, c->rt.node);
    }
    op->start = op->rs;
    op->round = 1;
    op->lanes = op->lanes_inline;
    op->lanes_cap = RC_OP_INLINE;
    op->nlanes = 1;
    l = &op->lanes[0];
    rc_lane_reset(l, ni);
    rc_lane_alloc(l, 1);
    rc_lane_push(l, 0, 0, op->buf.data + c->off, c->len);
    op->phase = RC_PH_IO;
    if (rc_lane_checkout(op, l, op->now, 0) < 0) {
        rc_op_abort(op, NULL);
        return -1;
    }
    if (l->state == RC_LANE_IO && l->conn->ssl != NULL) {
        /* TLS: the general way, after the idle check skipped above */
        if (!rc_net_idle_ok(l->conn->fd)) {
            stale = 1;
        }
    } else if (l->state == RC_LANE_IO) {
        /* The I/O, blocking (bounded by the socket's tick), the GIL
         * released once: check that the idle connection has nothing
         * unread, write the command, read what comes. The next step parses
         * it. */
        Py_BEGIN_ALLOW_THREADS
        if (!rc_net_idle_ok(l->conn->fd)) {
            stale = 1;
        } else {
            (void)rc_lane_send(l, 1); /* one call: a big write goes on in the driver's loop */
            if (!rc_lane_writing(l) && l->conn->err.kind == RC_E_NONE) {
                if (spin > 0) {
                    struct pollfd p;
                    p.fd = l->conn->fd;
                    p.events = POLLIN;
                    p.revents = 0;
                    *spun = rc_net_spin(&p, 1, spin) > 0 ? 1 : -1;
                }
                (void)rc_conn_recv_rx(l->conn, 1);
            }
        }
        Py_END_ALLOW_THREADS
    } else {
        return 0; /* a connection to open (or wait for): the general way */
    }
    if (stale) {
        /* Bytes nobody asked for (or the server's close) on the idle
         * connection: dropped unwritten, and the checkout done again with
         * the check. */
        rc_pool_discard(cl, l->conn);
        l->conn = NULL;
        if (rc_lane_checkout(op, l, op->now, 1) < 0) {
            rc_op_abort(op, NULL);
            return -1;
        }
        return 0;
    }
    if (l->conn->ssl != NULL) {
        return 0;
    }
    if (op->cl->cfg.sock.timeout > 0) {
        l->deadline = rc_net_now() + op->cl->cfg.sock.timeout;
    }
    return 0;
}

int
rc_op_send_now(rc_op *op)
{
    int wrote = 0;
    double now = 0;

    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        if (l->pfd < 0 || l->state != RC_LANE_IO || !rc_lane_writing(l)) {
            continue;
        }
        if (rc_lane_send(l, 0) > 0) {
            wrote = 1;
            if (op->cl->cfg.sock.timeout > 0) {
                if (now == 0) {
                    now = rc_net_now();
                }
                l->deadline = now + op->cl->cfg.sock.timeout;
            }
        }
    }
    return wrote;
}

int
rc_op_step(rc_op *op)
{
    rc_cluster *cl = op->cl;

    op->now = rc_net_now(); /* one clock reading per step */
    for (;;) {
        switch (op->phase) {
        case RC_PH_START:
            if (!op->pinned) {
                /* Node-routed commands hold their node by index. */
                op->pinned = 1;
                for (Py_ssize_t i = 0; i < op->n; i++) {
                    if (op->cmds[i].rt.slot < 0) {
                        rc_node_pin(cl, op->cmds[i].rt.node);
                    }
                }
            }
            op->phase = RC_PH_ROUTE;
            if (rc_cluster_refresh_wanted(cl, op->now) && rc_cluster_refresh_due(cl)) {
                return RC_OP_REFRESH;
            }
            break;
        case RC_PH_ROUTE:
            if (!op->held_mode && rc_op_pending(op) == 0) {
                op->phase = RC_PH_DONE;
                break;
            }
            op->round++;
            if ((op->held_mode ? rc_op_route_held(op) : rc_op_route(op)) < 0) {
                return rc_op_fail(op);
            }
            op->phase = RC_PH_IO;
            break;
        case RC_PH_IO: {
            double now = op->now;
            int busy = rc_op_scan(op, now);
            if (busy < 0) {
                return rc_op_fail(op);
            }
            if (op->held_mode && (!busy || rc_op_held_over(op))) {
                rc_op_end_held(op);
                break;
            }
            if (busy) {
                return RC_OP_WAIT;
            }
            if (rc_op_settle(op) < 0) {
                return rc_op_fail(op);
            }
            if (rc_op_pending(op) == 0) {
                op->phase = RC_PH_DONE;
                break;
            }
            /* Another round: refresh first if asked, then back off. */
            op->wake_at = op->rs.backoff > 0 ? now + op->rs.backoff : 0;
            op->rs.backoff = 0;
            op->phase = RC_PH_BACKOFF;
            if (op->rs.refresh) {
                op->rs.refresh = 0;
                rc_cluster_want_refresh(cl);
                if (rc_cluster_refresh_due(cl)) {
                    return RC_OP_REFRESH;
                }
            }
            break;
        }
        case RC_PH_BACKOFF: {
            double now = op->now;
            if (op->op_deadline > 0 && (now >= op->op_deadline ||
                                        (op->wake_at > 0 && op->wake_at >= op->op_deadline))) {
                /* The next round could not finish in time. */
                if (rc_op_expire(op) < 0) {
                    return rc_op_fail(op);
                }
                op->phase = RC_PH_DONE;
                break;
            }
            if (op->wake_at > now) {
                op->wait.nfds = 0;
                op->wait.deadline = op->wake_at;
                op->wait.may_block = 0;
                return RC_OP_WAIT;
            }
            op->phase = RC_PH_ROUTE;
            break;
        }
        default: /* RC_PH_DONE */
            return RC_OP_DONE;
        }
    }
}

void
rc_op_io(rc_op *op, int block)
{
    double now = 0;

    for (int k = 0; k < op->nlanes; k++) {
        rc_lane *l = &op->lanes[k];
        short rev;
        int progress = 0;
        if (l->pfd < 0) {
            continue;
        }
        rev = block ? (short)(POLLIN | POLLOUT) : op->wait.fds[l->pfd].revents;
        if (l->state == RC_LANE_IO && rc_conn_pending_rx(l->conn)) {
            rev |= POLLIN;
        }
        if (rev == 0) {
            continue;
        }
        if (l->state == RC_LANE_WAITCONN) {
            rc_cluster_wake_drain(op->cl);
            continue;
        }
        if (l->state == RC_LANE_OPENING) {
            rc_conn_open_io(l->conn, rev);
            continue;
        }
        if (l->state != RC_LANE_IO) {
            continue;
        }
        if ((rev & (POLLOUT | POLLERR | POLLHUP)) && rc_lane_writing(l)) {
            ssize_t w = rc_lane_send(l, block);
            if (w < 0) {
                continue; /* conn->err set; the step ends the lane */
            }
            progress |= w > 0;
        }
        if ((rev & (POLLIN | POLLERR | POLLHUP)) && !(block && rc_lane_writing(l))) {
            ssize_t r = rc_conn_recv_rx(l->conn, block);
            if (r < 0) {
                continue;
            }
            progress |= r > 0;
        }
        if (progress && op->cl->cfg.sock.timeout > 0 && op->held_mode != RC_HELD_READ) {
            if (now == 0) {
                now = rc_net_now();
            }
            l->deadline = now + op->cl->cfg.sock.timeout;
        }
    }
    if (op->wake_pfd >= 0 && !block && op->wait.fds[op->wake_pfd].revents != 0) {
        op->woken = 1;
    }
}
