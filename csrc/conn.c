/* conn.c -- one connection to one node: opening it without blocking
 * (connect, TLS, handshake commands), its socket I/O, and the handshake's
 * replies (tier 2). Opening and I/O touch only C data (the socket, byte
 * buffers), so drivers run them without the GIL; replies are parsed with it.
 * A connection that saw an error keeps it in c->err and is closed by its
 * owner, never reused. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

#define RC_RX_CHUNK (16 * 1024)

static int
rc_nogil_check(void *arg)
{
    rc_nogil *g = (rc_nogil *)arg;
    int raised;
    PyEval_RestoreThread(g->ts);
    raised = PyErr_CheckSignals() < 0;
    g->ts = PyEval_SaveThread();
    return raised;
}

void
rc_nogil_begin(rc_nogil *g)
{
    g->intr.check = rc_nogil_check;
    g->intr.arg = g;
    g->ts = PyEval_SaveThread();
}

void
rc_nogil_end(rc_nogil *g)
{
    PyEval_RestoreThread(g->ts);
}

void
rc_conn_close_socket(rc_conn *c)
{
    if (c->ssl != NULL) {
        rc_tls_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

void
rc_conn_free(rc_conn *c)
{
    if (c == NULL) {
        return;
    }
    rc_conn_close_socket(c);
    rc_reader_free(c->reader);
    Py_CLEAR(c->ctx.deferred);
    rc_buf_free(&c->rx);
    free(c);
}

/* The handshake is done once every byte left and every reply came back. */
static void
rc_conn_hello_begin(rc_conn *c)
{
    c->state = c->hello_len > 0 ? RC_CONN_HELLO : RC_CONN_READY;
}

/* connect() succeeded: socket options, then TLS or the handshake. No GIL. */
static void
rc_conn_connected(rc_conn *c)
{
    const rc_cfg *cfg = c->cfg;
    int tls = cfg->tls_ctx != NULL;

    rc_net_setup(c->fd, &cfg->sock, tls);
    c->nonblocking = tls;
    if (!tls) {
        rc_conn_hello_begin(c);
        return;
    }
    c->ssl = rc_tls_new(cfg->tls_ctx, c->fd, c->node->host, cfg->tls_check_hostname, &c->err);
    if (c->ssl == NULL) {
        return;
    }
    c->state = RC_CONN_TLS;
    c->tls_want = POLLOUT; /* the ClientHello goes first */
}

/* Start connecting to the node's address c->addr_i, then the next ones.
 * No GIL. */
static void
rc_conn_try_addrs(rc_conn *c)
{
    rc_node *node = c->node;
    while (c->addr_i < node->naddrs) {
        int done = 0;
        rc_err e;
        rc_err_clear(&e);
        c->fd = rc_net_connect_start((const struct sockaddr *)&node->addrs[c->addr_i].sa,
                                     node->addrs[c->addr_i].len, node->host, node->port, &done,
                                     &e);
        if (c->fd >= 0) {
            c->state = RC_CONN_CONNECTING;
            if (done) {
                rc_conn_connected(c);
            }
            return;
        }
        c->addr_i++;
        if (c->addr_i >= node->naddrs) {
            rc_err_set(&c->err, e.kind, e.sys_errno, "%s", e.msg);
        }
    }
    if (c->err.kind == RC_E_NONE) {
        rc_err_set(&c->err, RC_E_CONNECT, 0, "Error connecting to %s:%d. No address.",
                   node->host, node->port);
    }
}

int
rc_conn_start(rc_cluster *cl, rc_node *node, int readonly, rc_conn **out, rc_err *err)
{
    rc_conn *c = NULL;
    int st;

    *out = NULL;
    if (node->naddrs == 0) {
        st = rc_cluster_resolve(cl, node, err);
        if (st != RC_ST_OK) {
            return st;
        }
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        PyErr_NoMemory();
        return RC_ST_PY;
    }
    c->fd = -1;
    c->cfg = &cl->cfg;
    c->node = node;
    c->gen = node->gen;
    c->fork_gen = rc_fork_gen;
    c->readonly = readonly;
    c->ctx.st = cl->st;
    c->ctx.decode = cl->cfg.decode;
    c->ctx.utf8_strict = cl->cfg.codec.utf8_strict;
    c->ctx.encoding = cl->cfg.codec.encoding;
    c->ctx.errors = cl->cfg.codec.errors;
    rc_buf_init(&c->rx);
    c->reader = rc_reader_new(&c->ctx);
    if (c->reader == NULL) {
        free(c);
        PyErr_NoMemory();
        return RC_ST_PY;
    }
    if (readonly) {
        c->hello = cl->cfg.hello_ro.data;
        c->hello_len = cl->cfg.hello_ro.len;
        c->hello_left = cl->cfg.hello_n + 1;
    } else {
        c->hello = cl->cfg.hello.data;
        c->hello_len = cl->cfg.hello.len;
        c->hello_left = cl->cfg.hello_n;
    }
    c->open_deadline =
        cl->cfg.sock.connect_timeout > 0 ? rc_net_now() + cl->cfg.sock.connect_timeout : 0;
    c->dirty = 1;
    rc_conn_try_addrs(c);
    if (c->fd < 0) {
        *err = c->err;
        node->naddrs = 0; /* look the name up again next time */
        rc_conn_free(c);
        return RC_ST_NET;
    }
    *out = c;
    return RC_ST_OK;
}

short
rc_conn_open_events(const rc_conn *c)
{
    switch (c->state) {
    case RC_CONN_CONNECTING:
        return POLLOUT;
    case RC_CONN_TLS:
        return (short)c->tls_want;
    case RC_CONN_HELLO:
        return (short)(POLLIN | (c->hello_sent < c->hello_len ? POLLOUT : 0));
    default:
        return POLLIN;
    }
}

void
rc_conn_open_io(rc_conn *c, short revents)
{
    if (c->err.kind != RC_E_NONE) {
        return;
    }
    if (c->state == RC_CONN_CONNECTING) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) {
            return;
        }
        if (rc_net_connect_result(c->fd, c->node->host, c->node->port, &c->err) == 0) {
            rc_conn_connected(c);
        } else if (c->addr_i + 1 < c->node->naddrs) {
            close(c->fd);
            c->fd = -1;
            c->addr_i++;
            rc_err_clear(&c->err);
            rc_conn_try_addrs(c);
            return;
        } else {
            return;
        }
    }
    if (c->state == RC_CONN_TLS) {
        int ww = 0, r = rc_tls_handshake(c->ssl, &ww, &c->err);
        if (r < 0) {
            return;
        }
        if (r == 0) {
            c->tls_want = ww ? POLLOUT : POLLIN;
            return;
        }
        rc_conn_hello_begin(c);
    }
    if (c->state == RC_CONN_HELLO) {
        if (c->hello_sent < c->hello_len) {
            struct iovec iov;
            ssize_t w;
            iov.iov_base = (void *)(c->hello + c->hello_sent);
            iov.iov_len = c->hello_len - c->hello_sent;
            w = rc_conn_sendv(c, &iov, 1, 0);
            if (w < 0) {
                return;
            }
            c->hello_sent += (size_t)w;
        }
        if (revents & (POLLIN | POLLERR | POLLHUP)) {
            (void)rc_conn_recv_rx(c, 0);
        }
    }
}

/* The handshake reply at position i failed with `reply` (an exception
 * instance or the redirect marker): set the Python exception. */
static void
rc_handshake_error(rc_cluster *cl, rc_conn *c, int i, int is_auth, PyObject *reply)
{
    rc_state *st = cl->st;

    if (reply == st->redirect_marker) {
        PyErr_Format(st->ConnectionError, "%U: connection handshake failed: %.200s",
                     c->node->name, c->ctx.redir.text);
        return;
    }
    if (is_auth) {
        if (PyObject_IsInstance(reply, st->AuthenticationError) == 1) {
            PyErr_SetObject((PyObject *)Py_TYPE(reply), reply);
        } else {
            PyObject *s = PyObject_Str(reply);
            if (s != NULL) {
                PyErr_Format(st->AuthenticationError, "%U", s);
                Py_DECREF(s);
            }
        }
        return;
    }
    if (i == cl->cfg.hello_n) { /* READONLY */
        PyErr_Format(st->ConnectionError, "%U: READONLY command failed", c->node->name);
        return;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(reply), reply);
}

int
rc_conn_hello_replies(rc_cluster *cl, rc_conn *c)
{
    if (c->state != RC_CONN_HELLO) {
        return RC_ST_OK;
    }
    while (c->hello_left > 0) {
        PyObject *reply = NULL;
        int r = rc_reader_get(c->reader, &c->ctx, &reply);
        if (r == 0) {
            break;
        }
        if (r < 0) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s",
                       c->reader->errstr[0] ? c->reader->errstr : "bad reply");
            return RC_ST_NET;
        }
        if (c->ctx.deferred != NULL) {
            Py_DECREF(reply);
            rc_restore_exception(rc_reply_take_deferred(&c->ctx));
            return RC_ST_PY;
        }
        if (reply == cl->st->redirect_marker || PyExceptionInstance_Check(reply)) {
            rc_handshake_error(cl, c, c->hello_i, c->hello_i == 0 && cl->cfg.hello_auth, reply);
            Py_DECREF(reply);
            return RC_ST_PY;
        }
        Py_DECREF(reply);
        c->hello_left--;
        c->hello_i++;
    }
    if (c->hello_left == 0 && c->hello_sent == c->hello_len) {
        if (rc_reader_pending(c->reader) != 0) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0,
                       "Protocol error: unexpected bytes after handshake");
            return RC_ST_NET;
        }
        c->state = RC_CONN_READY;
    }
    return RC_ST_OK;
}

ssize_t
rc_conn_sendv(rc_conn *c, const struct iovec *iov, int cnt, int block)
{
    if (c->ssl != NULL) {
        return rc_tls_sendv_nb(c->ssl, iov, cnt, &c->err);
    }
    return rc_net_sendv(c->fd, iov, cnt, block, &c->err);
}

ssize_t
rc_conn_recv_rx(rc_conn *c, int block)
{
    ssize_t r;
    if (c->rx.cap - c->rx.len < RC_RX_CHUNK && rc_buf_reserve(&c->rx, RC_RX_CHUNK) != RC_OK) {
        rc_err_set(&c->err, RC_E_OOM, ENOMEM, "Out of memory");
        return -1;
    }
    if (c->ssl != NULL) {
        r = rc_tls_recv_nb(c->ssl, c->rx.data + c->rx.len, c->rx.cap - c->rx.len, &c->err);
    } else {
        r = rc_net_recv(c->fd, c->rx.data + c->rx.len, c->rx.cap - c->rx.len, block, &c->err);
    }
    if (r > 0) {
        c->rx.len += (size_t)r;
    }
    return r;
}

int
rc_conn_pending_rx(const rc_conn *c)
{
    return c->ssl != NULL && rc_tls_pending(c->ssl) > 0;
}
