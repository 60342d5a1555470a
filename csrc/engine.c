/* engine.c -- executing commands against the cluster (tier 2).
 *
 * One command: pick the node from the slot map, one send + one recv on a
 * pooled connection, then act on the reply: MOVED patches the slot and
 * retries there; ASK sends ASKING + the command in one write to the target
 * without touching the map; TRYAGAIN and CLUSTERDOWN back off (CLUSTERDOWN
 * also refreshes the topology); connection failures drop the connection,
 * ask for a refresh and retry -- except that a command that is not a read
 * and whose bytes all left is never re-sent after an ambiguous failure (it
 * may have been applied): its error is raised instead.
 *
 * A batch: commands grouped per node, every node written, all sockets read
 * with poll() as replies arrive, replies placed at the commands' positions;
 * commands redirected or cut off by a failure go into a further round, never
 * one by one. A command that got a reply is never sent again.
 *
 * Never touches a PyObject without the GIL. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "engine.h"

static const char rc_asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
#define RC_ASKING_LEN (sizeof rc_asking_cmd - 1)

/* Why the next attempt must wait or refresh. */
typedef struct rc_retry {
    int conn_fails;   /* connection failures so far */
    int timeouts;     /* timeouts so far */
    int tryagain;     /* TRYAGAIN replies so far */
    int clusterdown;  /* CLUSTERDOWN/MASTERDOWN replies so far */
    int uncovered;    /* attempts that found the slot unserved */
    double backoff;   /* seconds to sleep before the next attempt */
    int refresh;      /* ask for a topology refresh first */
} rc_retry;

static double
rc_backoff(double base, int n, double cap)
{
    double d = base;
    for (int i = 1; i < n && d < cap; i++) {
        d *= 2;
    }
    return d < cap ? d : cap;
}

static void
rc_sleep_nogil(double sec)
{
    if (sec <= 0) {
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    rc_net_sleep(sec);
    Py_END_ALLOW_THREADS
}

/* A connection failed. Refused/reset connections mean the node is down or
 * restarting: refresh the topology before the retry and back off. A timeout
 * means it is slow or stalled: retry at once (reads only, and only once --
 * see the callers) and leave the refresh for the next command, so that one
 * call is bounded by about two socket timeouts. */
static void
rc_note_conn_fail(rc_cluster *cl, rc_retry *rs, const rc_err *err)
{
    rs->conn_fails++;
    if (err->kind == RC_E_TIMEOUT) {
        rs->timeouts++;
        cl->refresh_pending = 1;
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
    int m = (int)cl->slots[slot];
    rc_node *mn;
    unsigned pick;

    if (!replica_ok || attempt > 0 || m == (int)RC_NO_NODE || m >= cl->nnodes) {
        return m;
    }
    mn = cl->nodes[m];
    if (mn == NULL || mn->nreplicas == 0) {
        return m;
    }
    pick = mn->rr++ % (unsigned)(mn->nreplicas + 1); /* per master: even whatever the key mix */
    if (pick == 0) {
        return m;
    }
    /* A replica that refused a connection lately is skipped for a second. */
    if (cl->nodes[mn->replicas[pick - 1]]->down_until > 0 &&
        rc_net_now() < cl->nodes[mn->replicas[pick - 1]]->down_until) {
        return m;
    }
    return mn->replicas[pick - 1];
}

/* Whether node ni is a replica read's detour (not the slot's master). */
static int
rc_on_replica(rc_cluster *cl, const rc_route *rt, int ni)
{
    return rt->replica_ok && rt->slot >= 0 && ni != (int)cl->slots[rt->slot];
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

/* What the engine keeps of a redirect-class reply once its connection
 * moved on: a few bytes (the text only survives in `exc`, built when the
 * reply may become the command's error). */
typedef struct rc_redir {
    int kind;      /* rc_redirkind */
    int slot;      /* MOVED/ASK: the slot */
    int node;      /* MOVED/ASK: target node index; -1 if it could not be made */
    PyObject *exc; /* owned or NULL: the reply as an exception instance */
} rc_redir;

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
        rc_cluster_patch_slot(cl, r->slot, r->node);
        if (++cl->moved_count >= cl->reinit_steps) {
            cl->refresh_pending = 1;
        }
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

/* The exception instance for an error on a connection (new ref, or NULL on
 * memory errors). */
static PyObject *
rc_conn_exc(rc_state *st, const rc_err *err, PyObject *node)
{
    rc_raise_from(st, err, node);
    return rc_fetch_exception();
}

/* Instance of ClusterDownError("CLUSTERDOWN error. Unable to rebuild the
 * cluster") -- the original's message when its retries ran out. */
static PyObject *
rc_clusterdown_exc(rc_state *st)
{
    return PyObject_CallFunction(st->ClusterDownError, "s",
                                 "CLUSTERDOWN error. Unable to rebuild the cluster");
}

static PyObject *
rc_ttl_exc(rc_state *st)
{
    return PyObject_CallFunction(st->ClusterError, "s", "TTL exhausted.");
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

/* Raise `exc` (steals) with `context` (steals, may be NULL) as __context__. */
static void
rc_raise_with_context(PyObject *exc, PyObject *context)
{
    if (exc == NULL) {
        Py_XDECREF(context);
        return;
    }
    if (context != NULL) {
        PyException_SetContext(exc, context);
    }
    rc_restore_exception(exc);
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

int
rc_engine_one(rc_cluster *cl, const char *cmd, size_t len, const rc_route *rt_in,
              const rc_limits *lim, PyObject **out)
{
    rc_state *st = cl->st;
    rc_route route = *rt_in, *rt = &route;
    rc_retry rs;
    rc_err err;
    rc_buf askbuf;
    char ask_inline[512];
    PyObject *reply = NULL, *last_exc = NULL;
    int ask_node = -1, status = RC_ST_PY, last_uncovered = 0, stopped_early = 0;

    *out = NULL;
    memset(&rs, 0, sizeof rs);
    rc_buf_init_inline(&askbuf, ask_inline, sizeof ask_inline);
    if (rt->slot < 0) {
        rc_node_pin(cl, rt->node);
    }
    if (cl->refresh_pending && rc_cluster_refresh(cl, 0) < 0) {
        goto done;
    }
    for (int attempt = 0; attempt < lim->ttl; attempt++) {
        rc_conn *c = NULL;
        rc_node *node;
        const char *p = cmd;
        size_t n = len, sent = 0;
        int ni, r, via_ask, detour;

        if (attempt > 0) {
            if (rs.refresh) {
                rs.refresh = 0;
                if (rc_cluster_refresh(cl, 1) < 0) {
                    goto done;
                }
            }
            rc_sleep_nogil(rs.backoff);
            rs.backoff = 0;
        }
        via_ask = ask_node >= 0;
        ni = via_ask ? ask_node
             : rt->slot >= 0 ? rc_slot_node(cl, rt->slot, rt->replica_ok, attempt)
                             : rt->node;
        /* a read sent to one of the slot's replicas (never an ASK target) */
        detour = !via_ask && rc_on_replica(cl, rt, ni);
        last_uncovered = 0;
        node = ni == (int)RC_NO_NODE ? NULL : rc_cluster_at(cl, ni);
        if (node == NULL) {
            last_uncovered = 1;
            rs.uncovered++;
            rs.refresh = 1;
            rs.backoff = rc_backoff(0.05, rs.uncovered, 0.25);
            continue;
        }
        rc_err_clear(&err);
        r = rc_pool_checkout(cl, node, &c, &err);
        if (r == RC_ST_PY) {
            goto done;
        }
        if (r == RC_ST_NET) {
            Py_XSETREF(last_exc, rc_conn_exc(st, &err, node->name));
            rc_set_ask(cl, &ask_node, -1);
            if (detour) {
                continue; /* the retry goes to the master: no wait, no refresh */
            }
            rc_note_conn_fail(cl, &rs, &err);
            if (err.kind == RC_E_TIMEOUT && rs.timeouts > 1) {
                stopped_early = 1;
                break;
            }
            continue;
        }
        if (ask_node >= 0) {
            askbuf.len = 0;
            if (rc_buf_append(&askbuf, rc_asking_cmd, RC_ASKING_LEN) != RC_OK ||
                rc_buf_append(&askbuf, cmd, len) != RC_OK) {
                rc_pool_checkin(cl, c);
                PyErr_NoMemory();
                goto done;
            }
            p = askbuf.data;
            n = askbuf.len;
        }
        r = rc_conn_roundtrip(c, p, n, &sent, &reply);
        if (r == RC_ST_OK && ask_node >= 0) {
            /* ASKING's own reply: drop it; the command's reply follows. */
            Py_CLEAR(reply);
            Py_CLEAR(c->ctx.deferred);
            r = rc_conn_read(c, &reply);
        }
        if (r == RC_ST_PY) {
            rc_pool_discard(cl, c);
            goto done;
        }
        if (r == RC_ST_NET) {
            rc_err cerr = c->err;
            int written = sent == n;
            rc_pool_discard(cl, c);
            if (written && !rt->is_read) {
                /* It may have been applied: re-sending could apply it twice. */
                rc_raise_from(st, &cerr, node->name);
                goto done;
            }
            Py_XSETREF(last_exc, rc_conn_exc(st, &cerr, node->name));
            rc_set_ask(cl, &ask_node, -1);
            rc_note_conn_fail(cl, &rs, &cerr);
            if (cerr.kind == RC_E_PROTOCOL || (cerr.kind == RC_E_TIMEOUT && rs.timeouts > 1)) {
                stopped_early = 1;
                break;
            }
            continue;
        }
        c->dirty = 0;
        if (c->ctx.deferred != NULL) {
            PyObject *exc = rc_reply_take_deferred(&c->ctx);
            Py_CLEAR(reply);
            rc_pool_checkin(cl, c);
            rc_restore_exception(exc);
            goto done;
        }
        if (reply == st->redirect_marker) {
            rc_redirect rd = c->ctx.redir;
            rc_redir rr;
            Py_CLEAR(reply);
            rc_pool_checkin(cl, c);
            rc_redir_from(cl, node, &rd, &rr);
            if (attempt + 1 < lim->ttl) {
                rc_adopt_redirect_slot(cl, rt, &rr);
            }
            if (rt->slot >= 0 && rc_on_redirect(cl, &rr, &ask_node, &rs, lim)) {
                Py_CLEAR(last_exc);
                continue;
            }
            if ((rd.kind == RC_REDIR_CLUSTERDOWN || rd.kind == RC_REDIR_MASTERDOWN) &&
                rt->slot >= 0) {
                PyObject *exc = rc_clusterdown_exc(st);
                if (exc == NULL) {
                    goto done;
                }
                rc_raise_with_context(exc, rc_error_from_redirect(st, &rd));
                goto done;
            }
            *out = rc_error_from_redirect(st, &rd);
            status = *out ? RC_ST_OK : RC_ST_PY;
            goto done;
        }
        rc_pool_checkin(cl, c);
        if (detour && PyErr_GivenExceptionMatches(reply, st->BusyLoadingError)) {
            Py_CLEAR(reply); /* a replica still loading: ask the master */
            continue;
        }
        *out = reply;
        reply = NULL;
        status = RC_ST_OK;
        goto done;
    }
    /* Out of attempts, or stopped early (protocol error, second timeout):
     * those raise their own error; running out of attempts is TTL exhausted,
     * with the last connection error as its context. */
    if (last_uncovered && rt->slot >= 0) {
        rc_raise_with_context(rc_uncovered_exc(cl, rt->slot), NULL);
    } else if (last_exc != NULL && (rs.timeouts > 1 || stopped_early || rt->slot < 0)) {
        /* (A command for one given node has nowhere else to go: its own
         * connection error is the answer, e.g. for discovery.) */
        rc_restore_exception(last_exc);
        last_exc = NULL;
    } else {
        rc_raise_with_context(rc_ttl_exc(st), last_exc);
        last_exc = NULL;
    }
done:
    rc_set_ask(cl, &ask_node, -1);
    if (rt->slot < 0) {
        rc_node_unpin(cl, rt->node);
    }
    Py_XDECREF(reply);
    Py_XDECREF(last_exc);
    rc_buf_free(&askbuf);
    return status;
}

/* ------------------------------------------------------------------ batch */

void
rc_batch_init(rc_batch *b)
{
    rc_buf_init(&b->buf);
    b->cmds = NULL;
    b->n = b->cap = 0;
    b->cl = NULL;
}

void
rc_batch_clear(rc_batch *b)
{
    for (Py_ssize_t i = 0; i < b->n; i++) {
        Py_CLEAR(b->cmds[i].result);
        if (b->cl != NULL) { /* the nodes rc_engine_batch pinned */
            if (b->cmds[i].rt.slot < 0) {
                rc_node_unpin(b->cl, b->cmds[i].rt.node);
            }
            rc_set_ask(b->cl, &b->cmds[i].ask_node, -1);
        }
    }
    b->cl = NULL;
    free(b->cmds);
    b->cmds = NULL;
    b->n = b->cap = 0;
    rc_buf_free(&b->buf);
}

int
rc_batch_add(rc_batch *b, size_t off, size_t len, const rc_route *rt)
{
    rc_bcmd *c;
    if (b->n == b->cap) {
        Py_ssize_t cap = b->cap ? b->cap * 2 : 16;
        rc_bcmd *p = realloc(b->cmds, (size_t)cap * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->cmds = p;
        b->cap = cap;
    }
    c = &b->cmds[b->n++];
    c->off = off;
    c->len = len;
    c->rt = *rt;
    c->ask_node = -1;
    c->tries = 0;
    c->result = NULL;
    return 0;
}

typedef struct rc_item {
    Py_ssize_t cmd; /* index in the batch */
    int rd;         /* index into the lane's redirects (rds), or -1 */
    char asking;    /* 1: the ASKING sent before cmd (its reply is dropped) */
    char answered;  /* a reply was read (stored in the command's result,
                       or as a redirect) */
} rc_item;

typedef struct rc_lane {
    int node;            /* node index */
    rc_conn *conn;       /* checked out for this round, or NULL */
    struct iovec *seg;   /* the bytes of item i: seg[i], pointing into the
                            batch buffer (no copies) */
    rc_item *items;      /* owned; nitems == number of segments */
    int nitems, cap;
    int seg_i;           /* first segment not completely written */
    size_t seg_off;      /* bytes of seg[seg_i] already written */
    int nread;           /* replies read */
    rc_redir *rds;       /* redirect replies (rare), owned */
    int nrds, rds_cap;
    rc_buf rx;           /* received with the GIL released, fed afterwards */
    double deadline;     /* no progress by then: timeout (0: none) */
    int failed;          /* conn->err is set; no more I/O */
} rc_lane;

static void
rc_lane_free(rc_lane *l)
{
    free(l->items);
    free(l->seg);
    for (int i = 0; i < l->nrds; i++) {
        Py_XDECREF(l->rds[i].exc);
    }
    free(l->rds);
    l->items = NULL;
    l->seg = NULL;
    l->rds = NULL;
    l->nrds = l->rds_cap = 0;
    rc_buf_free(&l->rx);
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
    if (c->rt.slot < 0 || r->kind == RC_REDIR_TRYAGAIN) {
        q->exc = rc_error_from_redirect(cl->st, r);
        if (q->exc == NULL) {
            return -1;
        }
    }
    it->rd = l->nrds++;
    return 0;
}

static int
rc_lane_writing(const rc_lane *l)
{
    return l->seg_i < l->nitems;
}

static int
rc_lane_active(const rc_lane *l)
{
    return l->conn != NULL && !l->failed && (rc_lane_writing(l) || l->nread < l->nitems);
}

/* Item j's bytes all left. */
static int
rc_lane_written(const rc_lane *l, int j)
{
    return j < l->seg_i;
}

/* Write as much as the socket takes from the lane's segments. Returns bytes
 * written (0: would block), -1 with the connection's error set. No GIL. */
static ssize_t
rc_lane_send(rc_lane *l)
{
    struct iovec iov[256];
    int cnt = 0;
    ssize_t w;
    size_t left;

    for (int i = l->seg_i; i < l->nitems && cnt < 256; i++, cnt++) {
        iov[cnt] = l->seg[i];
        if (i == l->seg_i) {
            iov[cnt].iov_base = (char *)iov[cnt].iov_base + l->seg_off;
            iov[cnt].iov_len -= l->seg_off;
        }
    }
    w = rc_conn_sendv_nb(l->conn, iov, cnt);
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

/* The poll loop over every lane with a connection. Replies go straight into
 * the batch's results; redirects into the lane. GIL held on entry/exit. */
static int
rc_engine_io(rc_cluster *cl, rc_batch *b, rc_lane *lanes, int nlanes)
{
    double timeout = cl->cfg.sock.timeout;
    struct pollfd *pfd = calloc((size_t)(nlanes ? nlanes : 1), sizeof *pfd);
    int *map = calloc((size_t)(nlanes ? nlanes : 1), sizeof *map);
    int ret = -1;
    double now = rc_net_now();

    if (pfd == NULL || map == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < nlanes; i++) {
        lanes[i].deadline = timeout > 0 ? now + timeout : 0;
    }
    for (;;) {
        int np = 0, intr = 0;
        for (int i = 0; i < nlanes; i++) {
            rc_lane *l = &lanes[i];
            if (!rc_lane_active(l)) {
                continue;
            }
            pfd[np].fd = l->conn->fd;
            pfd[np].events = (short)(POLLIN | (rc_lane_writing(l) ? POLLOUT : 0));
            pfd[np].revents = 0;
            map[np++] = i;
        }
        if (np <= 0) {
            break;
        }
        Py_BEGIN_ALLOW_THREADS
        {
            double wait = -1, t = rc_net_now();
            int rc, pending = 0;
            for (int k = 0; k < np; k++) {
                double d = lanes[map[k]].deadline;
                if (d > 0 && (wait < 0 || d - t < wait)) {
                    wait = d - t < 0 ? 0 : d - t;
                }
                if (rc_conn_pending(lanes[map[k]].conn)) {
                    pending = 1; /* TLS bytes already decrypted: don't sleep */
                }
            }
            /* With decrypted TLS bytes waiting, still poll every socket (at
             * once): the other lanes' data must be read too. */
            rc = poll(pfd, (nfds_t)np,
                      pending ? 0 : wait < 0 ? -1 : (int)(wait * 1000.0) + 1);
            if (pending && rc >= 0) {
                for (int k = 0; k < np; k++) {
                    if (rc_conn_pending(lanes[map[k]].conn)) {
                        rc += !(pfd[k].revents & POLLIN);
                        pfd[k].revents |= POLLIN;
                    }
                }
            }
            if (rc < 0 && errno == EINTR) {
                intr = 1;
            } else if (rc < 0) {
                int e = errno;
                for (int k = 0; k < np; k++) {
                    rc_err_set(&lanes[map[k]].conn->err, RC_E_IO, e, "poll failed");
                    lanes[map[k]].failed = 1;
                }
            }
            t = rc_net_now();
            for (int k = 0; rc >= 0 && k < np; k++) {
                rc_lane *l = &lanes[map[k]];
                int progress = 0;
                if ((pfd[k].revents & POLLOUT) && rc_lane_writing(l)) {
                    ssize_t w = rc_lane_send(l);
                    if (w < 0) {
                        l->failed = 1;
                    } else if (w > 0) {
                        progress = 1;
                    }
                }
                if (!l->failed && (pfd[k].revents & (POLLIN | POLLERR | POLLHUP))) {
                    if (rc_buf_reserve(&l->rx, 64 * 1024) != RC_OK) {
                        rc_err_set(&l->conn->err, RC_E_OOM, ENOMEM, "Out of memory");
                        l->failed = 1;
                    } else {
                        ssize_t r = rc_conn_recv_nb(l->conn, l->rx.data + l->rx.len,
                                                    l->rx.cap - l->rx.len);
                        if (r < 0) {
                            l->failed = 1;
                        } else if (r > 0) {
                            l->rx.len += (size_t)r;
                            progress = 1;
                        }
                    }
                }
                if (progress && timeout > 0) {
                    l->deadline = t + timeout;
                } else if (!l->failed && l->deadline > 0 && t >= l->deadline) {
                    rc_err_set(&l->conn->err, RC_E_TIMEOUT, ETIMEDOUT,
                               "Timeout reading from socket");
                    l->failed = 1;
                }
            }
        }
        Py_END_ALLOW_THREADS
        if (intr && PyErr_CheckSignals() < 0) {
            goto done;
        }
        /* Parse what arrived, with the GIL. */
        for (int k = 0; k < np; k++) {
            rc_lane *l = &lanes[map[k]];
            rc_conn *c = l->conn;
            if (l->rx.len == 0) {
                continue;
            }
            if (rc_reader_feed(c->reader, l->rx.data, l->rx.len) != RC_OK) {
                rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s", c->reader->errstr);
                l->failed = 1;
            }
            l->rx.len = 0;
            while (c->err.kind != RC_E_PROTOCOL && l->nread < l->nitems) {
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
                    if (!it->asking &&
                        rc_lane_add_redir(cl, l, it, &b->cmds[it->cmd], &c->ctx.redir) < 0) {
                        goto done;
                    }
                }
                if (it->asking) {
                    Py_XDECREF(obj);
                } else if (obj != NULL) {
                    Py_XSETREF(b->cmds[it->cmd].result, obj);
                }
            }
            if (!l->failed && l->nread == l->nitems && !rc_lane_writing(l) &&
                rc_reader_pending(c->reader) != 0) {
                /* Bytes nobody asked for: the stream cannot be trusted. */
                rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: unexpected data");
                l->failed = 1;
            }
        }
    }
    ret = 0;
done:
    free(pfd);
    free(map);
    return ret;
}

int
rc_batch_reserve(rc_batch *b, Py_ssize_t n)
{
    rc_bcmd *p;
    if (n <= b->cap) {
        return 0;
    }
    p = realloc(b->cmds, (size_t)n * sizeof *p);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->cmds = p;
    b->cap = n;
    return 0;
}

int
rc_engine_batch(rc_cluster *cl, rc_batch *b, const rc_limits *lim)
{
    rc_state *st = cl->st;
    rc_lane *lanes = NULL;
    int *lane_of = NULL, *route = NULL, nlanes = 0, ret = -1;
    rc_retry rs, start;

    memset(&rs, 0, sizeof rs);
    if (b->cl == NULL) {
        /* Node-routed commands hold their node by index across rounds. */
        b->cl = cl;
        for (Py_ssize_t i = 0; i < b->n; i++) {
            if (b->cmds[i].rt.slot < 0) {
                rc_node_pin(cl, b->cmds[i].rt.node);
            }
        }
    }
    if (cl->refresh_pending && rc_cluster_refresh(cl, 0) < 0) {
        return -1;
    }
    for (int round = 0;; round++) {
        Py_ssize_t pending = 0;

        for (Py_ssize_t i = 0; i < b->n; i++) {
            pending += b->cmds[i].result == NULL;
        }
        if (pending == 0) {
            break;
        }
        if (round > 0) {
            if (rs.refresh) {
                rs.refresh = 0;
                if (rc_cluster_refresh(cl, 1) < 0) {
                    goto done;
                }
            }
            rc_sleep_nogil(rs.backoff);
            rs.backoff = 0;
        }
        start = rs;
        free(lanes);
        free(lane_of);
        free(route);
        lanes = calloc((size_t)(cl->nnodes ? cl->nnodes : 1), sizeof *lanes);
        lane_of = malloc((size_t)(cl->nnodes ? cl->nnodes : 1) * sizeof *lane_of);
        route = malloc((size_t)(b->n ? b->n : 1) * sizeof *route);
        nlanes = 0;
        if (lanes == NULL || lane_of == NULL || route == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (int i = 0; i < cl->nnodes; i++) {
            lane_of[i] = -1;
        }
        /* Route every pending command: first count per lane, then fill
         * exactly sized arrays (a 100 000-command batch stays compact). */
        for (Py_ssize_t i = 0; i < b->n; i++) {
            rc_bcmd *c = &b->cmds[i];
            int ni;
            route[i] = -1;
            if (c->result != NULL) {
                continue;
            }
            ni = c->ask_node >= 0 ? c->ask_node
                 : c->rt.slot >= 0 ? rc_slot_node(cl, c->rt.slot, c->rt.replica_ok, c->tries)
                                   : c->rt.node;
            if (rc_cluster_at(cl, ni) == NULL) {
                rs.refresh = 1;
                rs.uncovered = start.uncovered + 1;
                rs.backoff = rc_backoff(0.05, rs.uncovered, 0.25);
                if (++c->tries >= lim->ttl) {
                    c->result = c->rt.slot >= 0 ? rc_uncovered_exc(cl, c->rt.slot)
                                                : rc_ttl_exc(st);
                    if (c->result == NULL) {
                        goto done;
                    }
                }
                continue;
            }
            if (lane_of[ni] < 0) {
                lane_of[ni] = nlanes;
                lanes[nlanes].node = ni;
                rc_buf_init(&lanes[nlanes].rx);
                nlanes++;
            }
            route[i] = lane_of[ni];
            lanes[lane_of[ni]].cap += c->ask_node >= 0 ? 2 : 1;
        }
        for (int k = 0; k < nlanes; k++) {
            rc_lane *l = &lanes[k];
            l->items = malloc((size_t)l->cap * sizeof *l->items);
            l->seg = malloc((size_t)l->cap * sizeof *l->seg);
            if (l->items == NULL || l->seg == NULL) {
                PyErr_NoMemory();
                goto done;
            }
        }
        for (Py_ssize_t i = 0; i < b->n; i++) {
            rc_bcmd *c = &b->cmds[i];
            rc_lane *l;
            if (route[i] < 0) {
                continue;
            }
            l = &lanes[route[i]];
            if (c->ask_node >= 0) {
                rc_item *it = &l->items[l->nitems];
                it->cmd = i;
                it->rd = -1;
                it->asking = 1;
                it->answered = 0;
                l->seg[l->nitems].iov_base = (void *)rc_asking_cmd;
                l->seg[l->nitems].iov_len = RC_ASKING_LEN;
                l->nitems++;
            }
            {
                rc_item *it = &l->items[l->nitems];
                it->cmd = i;
                it->rd = -1;
                it->asking = 0;
                it->answered = 0;
                l->seg[l->nitems].iov_base = b->buf.data + c->off;
                l->seg[l->nitems].iov_len = c->len;
                l->nitems++;
            }
        }
        /* A connection per lane. */
        for (int k = 0; k < nlanes; k++) {
            rc_lane *l = &lanes[k];
            rc_node *node = cl->nodes[l->node];
            rc_err err;
            int r;
            rc_err_clear(&err);
            r = rc_pool_checkout(cl, node, &l->conn, &err);
            if (r == RC_ST_OK) {
                l->conn->dirty = 1;
                continue;
            }
            l->conn = NULL;
            if (r == RC_ST_PY) {
                PyObject *exc = rc_fetch_exception();
                if (exc == NULL) {
                    goto done;
                }
                if (!PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
                    rc_restore_exception(exc);
                    goto done;
                }
                for (int j = 0; j < l->nitems; j++) {
                    rc_bcmd *c = &b->cmds[l->items[j].cmd];
                    if (!l->items[j].asking && c->result == NULL) {
                        Py_INCREF(exc);
                        c->result = exc;
                    }
                }
                Py_DECREF(exc);
                continue;
            }
            /* Could not connect: nothing was sent, retry these later (reads
             * sent to a replica go to the master next: no wait for those). */
            if (node->role != RC_ROLE_REPLICA) {
                rc_retry t = start;
                rc_note_conn_fail(cl, &t, &err);
                rc_retry_merge(&rs, &t);
            }
            for (int j = 0; j < l->nitems; j++) {
                rc_bcmd *c = &b->cmds[l->items[j].cmd];
                if (l->items[j].asking || c->result != NULL) {
                    continue;
                }
                rc_set_ask(cl, &c->ask_node, -1); /* back to the slot's owner */
                if (++c->tries >= lim->ttl || (err.kind == RC_E_TIMEOUT && rs.timeouts > 1)) {
                    c->result = rc_conn_exc(st, &err, node->name);
                    if (c->result == NULL) {
                        goto done;
                    }
                }
            }
        }
        if (rc_engine_io(cl, b, lanes, nlanes) < 0) {
            goto done;
        }
        /* Place replies, react to redirects and failures. Counters advance
         * at most once per round (a thousand commands cut off by one failure
         * are one failure), so a round starts from a snapshot. */
        for (int k = 0; k < nlanes; k++) {
            rc_lane *l = &lanes[k];
            rc_node *node;
            if (l->conn == NULL) {
                continue;
            }
            node = l->conn->node;
            if (l->failed) {
                rc_retry t = start;
                rc_note_conn_fail(cl, &t, &l->conn->err);
                rc_retry_merge(&rs, &t);
            }
            for (int j = 0; j < l->nitems; j++) {
                rc_item *it = &l->items[j];
                rc_bcmd *c = &b->cmds[it->cmd];
                if (!it->asking && c->result != NULL && c->tries == 0 && c->ask_node < 0 &&
                    rc_on_replica(cl, &c->rt, l->node) &&
                    PyErr_GivenExceptionMatches(c->result, st->BusyLoadingError)) {
                    Py_CLEAR(c->result); /* replica still loading: the master */
                    c->tries++;
                    continue;
                }
                if (it->asking || c->result != NULL) {
                    continue;
                }
                if (!it->answered) {
                    /* Cut off by a connection failure. */
                    int written = rc_lane_written(l, j);
                    rc_set_ask(cl, &c->ask_node, -1);
                    if ((written && !c->rt.is_read) || l->conn->err.kind == RC_E_PROTOCOL ||
                        ++c->tries >= lim->ttl ||
                        (l->conn->err.kind == RC_E_TIMEOUT && rs.timeouts > 1)) {
                        c->result = rc_conn_exc(st, &l->conn->err, node->name);
                        if (c->result == NULL) {
                            goto done;
                        }
                    }
                    continue;
                }
                if (it->rd >= 0) {
                    rc_redir *rd = &l->rds[it->rd];
                    if (c->tries + 1 < lim->ttl) {
                        rc_adopt_redirect_slot(cl, &c->rt, rd);
                    }
                    if (c->rt.slot >= 0 && c->tries + 1 < lim->ttl) {
                        rc_retry t = start;
                        int again = rc_on_redirect(cl, rd, &c->ask_node, &t, lim);
                        rc_retry_merge(&rs, &t);
                        if (again) {
                            c->tries++;
                            continue;
                        }
                    }
                    rc_set_ask(cl, &c->ask_node, -1);
                    if (c->rt.slot >= 0 && (rd->kind == RC_REDIR_CLUSTERDOWN ||
                                            rd->kind == RC_REDIR_MASTERDOWN)) {
                        c->result = rc_clusterdown_exc(st);
                    } else if (rd->exc != NULL) {
                        c->result = rd->exc; /* the server's own words */
                        rd->exc = NULL;
                    } else {
                        c->result = rc_ttl_exc(st); /* MOVED/ASK until out of attempts */
                    }
                    if (c->result == NULL) {
                        goto done;
                    }
                }
            }
            if (l->conn->err.kind == RC_E_NONE && l->nread == l->nitems &&
                !rc_lane_writing(l)) {
                l->conn->dirty = 0;
            }
            rc_pool_checkin(cl, l->conn);
            l->conn = NULL;
        }
        for (int k = 0; k < nlanes; k++) {
            rc_lane_free(&lanes[k]);
        }
        nlanes = 0;
    }
    ret = 0;
done:
    for (int k = 0; k < nlanes; k++) {
        if (lanes[k].conn != NULL) {
            rc_pool_discard(cl, lanes[k].conn);
        }
        rc_lane_free(&lanes[k]);
    }
    free(lanes);
    free(lane_of);
    free(route);
    return ret;
}
