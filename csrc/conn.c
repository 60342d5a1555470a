/* conn.c -- one connection to one node: connect + handshake, send, read
 * replies (tier 2). The GIL is released only around rc_net_* calls, which
 * touch nothing but the fd and C buffers; feeding the reader and building
 * replies happen with the GIL. A connection that saw an error keeps it in
 * c->err and is closed by its caller, never reused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"

/* One recv buffer on the stack per call, never nested: threads with small
 * stacks (musl's 128 KiB default) must be able to run commands. */
#define RC_RECV_CHUNK (16 * 1024)

static const char rc_readonly_cmd[] = "*1\r\n$8\r\nREADONLY\r\n";

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

int
rc_conn_send_all(rc_conn *c, const char *p, size_t n, size_t *sent, const rc_intr *intr)
{
    if (c->ssl != NULL) {
        return rc_tls_send_all(c->ssl, c->fd, p, n, sent, c->timeout, intr, &c->err);
    }
    return rc_net_send_all(c->fd, p, n, sent, intr, &c->err);
}

ssize_t
rc_conn_recv(rc_conn *c, char *p, size_t cap)
{
    if (c->ssl != NULL) {
        return rc_tls_recv(c->ssl, c->fd, p, cap, c->timeout, &c->err);
    }
    return rc_net_recv(c->fd, p, cap, &c->err);
}

ssize_t
rc_conn_recv_nb(rc_conn *c, char *p, size_t cap)
{
    if (c->ssl != NULL) {
        return rc_tls_recv_nb(c->ssl, p, cap, &c->err);
    }
    return rc_net_recv_nb(c->fd, p, cap, &c->err);
}

ssize_t
rc_conn_sendv_nb(rc_conn *c, const struct iovec *iov, int cnt)
{
    if (c->ssl != NULL) {
        return rc_tls_sendv_nb(c->ssl, iov, cnt, &c->err);
    }
    return rc_net_sendv_nb(c->fd, iov, cnt, &c->err);
}

int
rc_conn_pending(const rc_conn *c)
{
    return c->ssl != NULL && rc_tls_pending(c->ssl) > 0;
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
    free(c);
}

/* Feed what recv returned; a reader error becomes a protocol error. */
static int
rc_conn_feed(rc_conn *c, const char *p, size_t n)
{
    if (rc_reader_feed(c->reader, p, n) != RC_OK) {
        rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s", c->reader->errstr);
        return RC_ST_NET;
    }
    return RC_ST_OK;
}

/* Parse the next reply if buffered: 1 (got it), 0 (need bytes), or
 * RC_ST_NET on a protocol error. */
static int
rc_conn_take(rc_conn *c, PyObject **out)
{
    int r = rc_reader_get(c->reader, &c->ctx, out);
    if (r < 0) {
        rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s",
                   c->reader->errstr[0] ? c->reader->errstr : "bad reply");
        return RC_ST_NET;
    }
    return r;
}

/* Read until one reply is complete, in buf (cap bytes). `got` is the result
 * of a recv already made into buf (0: none yet): > 0 bytes, -1 failed (err
 * set), -2 interrupted by a signal. */
static int
rc_conn_read_into(rc_conn *c, char *buf, size_t cap, ssize_t got, PyObject **out)
{
    for (;;) {
        int r;
        if (got == -1) {
            return RC_ST_NET;
        }
        if (got == -2) {
            if (PyErr_CheckSignals() < 0) {
                rc_err_set(&c->err, RC_E_INTR, 4, "Interrupted while reading");
                return RC_ST_PY;
            }
        } else if (got > 0 && rc_conn_feed(c, buf, (size_t)got) != RC_ST_OK) {
            return RC_ST_NET;
        }
        r = rc_conn_take(c, out);
        if (r != 0) {
            return r == 1 ? RC_ST_OK : r;
        }
        Py_BEGIN_ALLOW_THREADS
        got = rc_conn_recv(c, buf, cap);
        Py_END_ALLOW_THREADS
    }
}

int
rc_conn_read(rc_conn *c, PyObject **out)
{
    char buf[RC_RECV_CHUNK];
    return rc_conn_read_into(c, buf, sizeof buf, 0, out);
}

int
rc_conn_roundtrip(rc_conn *c, const char *p, size_t n, size_t *sent, PyObject **out)
{
    char buf[RC_RECV_CHUNK];
    ssize_t got = 0;
    rc_nogil g;
    int rc;

    *out = NULL;
    c->dirty = 1;
    /* The fast path: one send and one recv under a single GIL release. */
    rc_nogil_begin(&g);
    rc = rc_conn_send_all(c, p, n, sent, &g.intr);
    if (rc == RC_OK) {
        got = rc_conn_recv(c, buf, sizeof buf);
    }
    rc_nogil_end(&g);
    if (rc != RC_OK) {
        return c->err.kind == RC_E_INTR ? RC_ST_PY : RC_ST_NET;
    }
    return rc_conn_read_into(c, buf, sizeof buf, got, out);
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
rc_conn_open(rc_cluster *cl, rc_node *node, int readonly, rc_conn **out, rc_err *err)
{
    rc_conn *c = NULL;
    rc_buf hello;
    char inline_buf[512];
    int fd = -1, nreplies, status = RC_ST_NET, rc = RC_OK;
    size_t sent = 0;
    PyObject *reply = NULL;

    *out = NULL;
    rc_buf_init_inline(&hello, inline_buf, sizeof inline_buf);
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        PyErr_NoMemory();
        status = RC_ST_PY;
        goto done;
    }
    c->fd = -1;
    c->node = node;
    c->gen = node->gen;
    c->fork_gen = rc_fork_gen;
    c->readonly = readonly;
    c->ctx.st = cl->st;
    c->ctx.decode = cl->cfg.decode;
    c->ctx.utf8_strict = cl->cfg.codec.utf8_strict;
    c->ctx.encoding = cl->cfg.codec.encoding;
    c->ctx.errors = cl->cfg.codec.errors;
    c->reader = rc_reader_new(&c->ctx);
    if (c->reader == NULL) {
        PyErr_NoMemory();
        status = RC_ST_PY;
        goto done;
    }
    if (rc_buf_append(&hello, cl->cfg.hello.data, cl->cfg.hello.len) != RC_OK ||
        (readonly && rc_buf_append(&hello, rc_readonly_cmd, sizeof rc_readonly_cmd - 1) != RC_OK)) {
        PyErr_NoMemory();
        status = RC_ST_PY;
        goto done;
    }
    nreplies = cl->cfg.hello_n + (readonly ? 1 : 0);

    c->timeout = cl->cfg.sock.timeout;
    {
        rc_nogil g;
        rc_nogil_begin(&g);
        fd = rc_net_connect(node->host, node->port, &cl->cfg.sock, &g.intr, err);
        c->fd = fd;
        if (fd >= 0 && cl->cfg.tls_ctx != NULL) {
            c->ssl = rc_tls_connect(cl->cfg.tls_ctx, fd, node->host, cl->cfg.tls_check_hostname,
                                    cl->cfg.sock.connect_timeout, &g.intr, err);
            if (c->ssl == NULL) {
                rc = RC_ERR;
            }
        }
        if (fd >= 0 && rc == RC_OK && hello.len > 0) {
            rc = rc_conn_send_all(c, hello.data, hello.len, &sent, &g.intr);
            if (rc != RC_OK) {
                rc_err_set(err, c->err.kind, c->err.sys_errno, "%s", c->err.msg);
            }
        }
        rc_nogil_end(&g);
    }
    if (fd < 0 || rc != RC_OK) {
        if (err->kind == RC_E_INTR) {
            status = RC_ST_PY; /* the signal handler's exception is set */
        }
        goto done; /* RC_ST_NET, err set */
    }
    for (int i = 0; i < nreplies; i++) {
        int r = rc_conn_read(c, &reply);
        if (r == RC_ST_PY) {
            status = RC_ST_PY;
            goto done;
        }
        if (r != RC_ST_OK) {
            rc_err_set(err, c->err.kind, c->err.sys_errno, "%s", c->err.msg);
            goto done;
        }
        if (c->ctx.deferred != NULL) {
            rc_restore_exception(rc_reply_take_deferred(&c->ctx));
            status = RC_ST_PY;
            goto done;
        }
        if (reply == cl->st->redirect_marker || PyExceptionInstance_Check(reply)) {
            rc_handshake_error(cl, c, i, i == 0 && cl->cfg.hello_auth, reply);
            status = RC_ST_PY;
            goto done;
        }
        Py_CLEAR(reply);
    }
    if (rc_reader_pending(c->reader) != 0) {
        rc_err_set(err, RC_E_PROTOCOL, 0, "Protocol error: unexpected bytes after handshake");
        goto done;
    }
    c->dirty = 0;
    status = RC_ST_OK;
    *out = c;
    c = NULL;
done:
    Py_XDECREF(reply);
    rc_buf_free(&hello);
    rc_conn_free(c);
    return status;
}
