/* conntype.c -- rediscluster._core.Connection: one pooled connection held by
 * Python code across calls (tier 3). Transactions need it (WATCH ... EXEC must
 * stay on one connection); pub/sub will too. Replies are raw (no response
 * callbacks); server errors are exception instances. A connection that saw an
 * error is closed, never returned to the pool. */
#include <errno.h>
#include <poll.h>

#include "core.h"

typedef struct {
    PyObject_HEAD
    rc_state *st;
    PoolObject *pool; /* owned */
    rc_conn *conn;    /* NULL once released or closed */
    int busy;         /* a call is using conn (maybe with the GIL released) */
    Py_ssize_t pending; /* commands sent by send() whose reply was not read yet */
    PyObject *peeked; /* a reply can_read() took off the socket; read() returns it */
} ConnectionObject;

static PyTypeObject *rc_connection_type(rc_state *st);

static int
rc_conn_check(ConnectionObject *self)
{
    if (self->busy) {
        /* Another thread is inside a call on this connection with the GIL
         * released; using it now would interleave replies or free it. */
        PyErr_SetString(PyExc_RuntimeError,
                        "Connection is in use by another thread (a Connection is not thread-safe)");
        return -1;
    }
    if (self->conn == NULL) {
        PyErr_SetString(self->st->ConnectionError, "connection already released or closed");
        return -1;
    }
    return 0;
}

/* The connection is still held (no busy check: for the inner calls) and
 * belongs to this process: in a child after fork() it is the parent's
 * socket, closed here (rc_cluster_after_fork) and refused. */
static int
rc_conn_alive(ConnectionObject *self)
{
    if (self->conn == NULL) {
        PyErr_SetString(self->st->ConnectionError, "connection already released or closed");
        return -1;
    }
    if (RC_UNLIKELY(self->conn->fork_gen != rc_fork_gen)) {
        rc_conn *c = self->conn;
        self->conn = NULL;
        rc_cluster_check_fork(&self->pool->cl);
        PyErr_Format(self->st->ConnectionError,
                     "%U: the connection was opened by the parent process (before fork()); "
                     "a child opens its own", c->node->name);
        rc_pool_discard(&self->pool->cl, c);
        return -1;
    }
    return 0;
}

/* A reply as a value: redirect markers become their exception instance,
 * a deferred Python error takes the reply's place. New reference. */
static PyObject *
rc_conn_value(ConnectionObject *self, PyObject *reply)
{
    rc_conn *c = self->conn;
    if (c->ctx.deferred != NULL) {
        Py_DECREF(reply);
        return rc_reply_take_deferred(&c->ctx);
    }
    if (reply == self->st->redirect_marker) {
        Py_DECREF(reply);
        return rc_error_from_redirect(self->st, &c->ctx.redir);
    }
    return reply;
}

/* execute_many(commands) -> list: write every command (a sequence of
 * argument tuples) in one send, read one reply each. Server errors are
 * exception instances in place; a connection failure closes the connection
 * and raises. */
static PyObject *
Connection_execute_many(ConnectionObject *self, PyObject *commands)
{
    rc_cluster *cl;
    PyObject *seq = NULL, *out = NULL, *reply = NULL;
    rc_buf buf;
    size_t sent = 0;
    Py_ssize_t n;
    int r;

    rc_buf_init(&buf);
    if (rc_conn_alive(self) < 0) {
        return NULL;
    }
    cl = &self->pool->cl;
    /* A copy: the caller's list may change while the GIL is released. */
    seq = PySequence_Tuple(commands);
    if (seq == NULL) {
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *args = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) == 0) {
            PyErr_SetString(PyExc_TypeError, "each command must be a non-empty tuple");
            goto done;
        }
        if (rc_pack_command(self->st, &cl->cfg.codec, &buf, &PyTuple_GET_ITEM(args, 0),
                            PyTuple_GET_SIZE(args), NULL) < 0) {
            goto done;
        }
    }
    out = PyList_New(n);
    if (out == NULL || n == 0) {
        goto done;
    }
    r = rc_conn_roundtrip(self->conn, buf.data, buf.len, &sent, &reply);
    for (Py_ssize_t i = 0; r == RC_ST_OK; i++) {
        PyObject *v = rc_conn_value(self, reply);
        reply = NULL;
        if (v == NULL) {
            r = RC_ST_PY;
            break;
        }
        PyList_SET_ITEM(out, i, v);
        if (i + 1 == n) {
            break;
        }
        r = rc_conn_read(self->conn, &reply);
    }
    if (r != RC_ST_OK) {
        rc_conn *c = self->conn;
        self->conn = NULL;
        if (r == RC_ST_NET) {
            rc_raise_from(self->st, &c->err, c->node->name);
        }
        rc_pool_discard(cl, c);
        Py_CLEAR(out);
        goto done;
    }
    self->conn->dirty = self->pending > 0 || self->peeked != NULL;
done:
    Py_XDECREF(reply);
    rc_buf_free(&buf);
    Py_XDECREF(seq);
    return out;
}

/* Close the held connection after an error and raise it. */
static PyObject *
rc_conn_fail(ConnectionObject *self, int status)
{
    rc_conn *c = self->conn;
    self->conn = NULL;
    if (status == RC_ST_NET) {
        rc_raise_from(self->st, &c->err, c->node->name);
    }
    rc_pool_discard(&self->pool->cl, c);
    return NULL;
}

/* send(commands): write commands (argument tuples) without reading. */
static PyObject *
Connection_send(ConnectionObject *self, PyObject *commands)
{
    PyObject *seq = NULL, *ret = NULL;
    rc_buf buf;
    size_t sent = 0;
    int rc = RC_OK;

    rc_buf_init(&buf);
    if (rc_conn_alive(self) < 0) {
        return NULL;
    }
    seq = PySequence_Fast(commands, "commands must be a sequence of argument tuples");
    if (seq == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *args = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) == 0) {
            PyErr_SetString(PyExc_TypeError, "each command must be a non-empty tuple");
            goto done;
        }
        if (rc_pack_command(self->st, &self->pool->cl.cfg.codec, &buf,
                            &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), NULL) < 0) {
            goto done;
        }
    }
    self->conn->dirty = 1;
    {
        rc_nogil g;
        rc_nogil_begin(&g);
        rc = rc_conn_send_all(self->conn, buf.data, buf.len, &sent, &g.intr);
        rc_nogil_end(&g);
    }
    if (rc != RC_OK) {
        rc_conn_fail(self, self->conn->err.kind == RC_E_INTR ? RC_ST_PY : RC_ST_NET);
        goto done;
    }
    self->pending += PySequence_Fast_GET_SIZE(seq);
    Py_INCREF(Py_None);
    ret = Py_None;
done:
    rc_buf_free(&buf);
    Py_XDECREF(seq);
    return ret;
}

/* Parse an optional timeout argument: -1 for None (wait as long as it
 * takes), else seconds >= 0. 0 or -1 with an exception set. */
static int
rc_conn_timeout_arg(PyObject *const *args, Py_ssize_t nargs, const char *usage, double dflt,
                    double *timeout)
{
    *timeout = dflt;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, usage);
        return -1;
    }
    if (nargs == 1) {
        if (args[0] == Py_None) {
            *timeout = -1;
            return 0;
        }
        *timeout = PyFloat_AsDouble(args[0]);
        if (*timeout == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        if (*timeout < 0) {
            *timeout = 0;
        }
    }
    return 0;
}

/* The next complete reply within `timeout` seconds (< 0: no limit).
 * 1 with *out set (new reference; a reply as a value, see rc_conn_value),
 * 0 if none came in time, -1 with an exception set (a connection failure
 * closes the connection). A reply answering a send() counts down `pending`;
 * when none is left the connection is clean again. */
static int
rc_conn_take(ConnectionObject *self, double timeout, PyObject **out)
{
    double deadline = timeout >= 0 ? rc_net_now() + timeout : 0;
    char buf[16384];

    for (;;) {
        PyObject *obj;
        ssize_t n = 0;
        int ready = 0, r;
        rc_conn *c = self->conn;

        r = rc_reader_get(c->reader, &c->ctx, &obj);
        if (r < 0) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s",
                       c->reader->errstr[0] ? c->reader->errstr : "bad reply");
            rc_conn_fail(self, RC_ST_NET);
            return -1;
        }
        if (r == 1) {
            if (self->pending > 0 && --self->pending == 0 && rc_reader_pending(c->reader) == 0) {
                c->dirty = 0;
            }
            *out = rc_conn_value(self, obj);
            return *out != NULL ? 1 : -1;
        }
        Py_BEGIN_ALLOW_THREADS
        {
            struct pollfd pfd;
            double wait = timeout < 0 ? -1 : deadline - rc_net_now();
            pfd.fd = c->fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (timeout >= 0 && wait < 0) {
                wait = 0;
            }
            ready = rc_conn_pending(c) ? 1 : poll(&pfd, 1, wait < 0 ? -1 : (int)(wait * 1000.0));
            if (ready > 0) {
                n = rc_conn_recv_nb(c, buf, sizeof buf);
            }
        }
        Py_END_ALLOW_THREADS
        if (ready < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals() < 0) {
                    return -1;
                }
                continue;
            }
            rc_err_set(&c->err, RC_E_IO, errno, "poll failed");
            rc_conn_fail(self, RC_ST_NET);
            return -1;
        }
        if (ready == 0) {
            return 0; /* nothing within the timeout */
        }
        if (n < 0) {
            rc_conn_fail(self, RC_ST_NET);
            return -1;
        }
        if (n > 0 && rc_reader_feed(c->reader, buf, (size_t)n) != RC_OK) {
            rc_err_set(&c->err, RC_E_PROTOCOL, 0, "Protocol error: %s", c->reader->errstr);
            rc_conn_fail(self, RC_ST_NET);
            return -1;
        }
    }
}

/* read(timeout=None) -> reply, or None when nothing complete arrived within
 * `timeout` seconds (None: wait as long as it takes). For pub/sub. */
static PyObject *
Connection_read(ConnectionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *reply = NULL;
    double timeout;
    int r;

    if (rc_conn_alive(self) < 0 ||
        rc_conn_timeout_arg(args, nargs, "read(timeout=None)", -1, &timeout) < 0) {
        return NULL;
    }
    if (self->peeked != NULL) {
        reply = self->peeked;
        self->peeked = NULL;
        return reply;
    }
    r = rc_conn_take(self, timeout, &reply);
    if (r == 0) {
        Py_RETURN_NONE;
    }
    return r > 0 ? reply : NULL;
}

/* can_read(timeout=0) -> bool: whether a complete reply arrives within
 * `timeout` seconds (None: no limit). The reply is kept for the next read(),
 * so asking does not consume it (redis-py's can_read). */
static PyObject *
Connection_can_read(ConnectionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    double timeout;
    int r;

    if (rc_conn_alive(self) < 0 ||
        rc_conn_timeout_arg(args, nargs, "can_read(timeout=0)", 0, &timeout) < 0) {
        return NULL;
    }
    if (self->peeked != NULL) {
        Py_RETURN_TRUE;
    }
    r = rc_conn_take(self, timeout, &self->peeked);
    if (r < 0) {
        self->peeked = NULL;
        return NULL;
    }
    if (r == 0) {
        self->peeked = NULL;
    }
    return PyBool_FromLong(r);
}

static PyObject *
Connection_fileno(ConnectionObject *self, PyObject *unused)
{
    (void)unused;
    if (rc_conn_alive(self) < 0) {
        return NULL;
    }
    return PyLong_FromLong(self->conn->fd);
}

/* execute(*args) -> reply; a server error reply is raised. */
static PyObject *
Connection_execute(ConnectionObject *self, PyObject *args)
{
    PyObject *cmds = PyTuple_Pack(1, args), *res, *v;
    if (cmds == NULL) {
        return NULL;
    }
    res = Connection_execute_many(self, cmds);
    Py_DECREF(cmds);
    if (res == NULL) {
        return NULL;
    }
    v = PyList_GET_ITEM(res, 0);
    Py_INCREF(v);
    Py_DECREF(res);
    if (PyExceptionInstance_Check(v)) {
        PyErr_SetObject((PyObject *)Py_TYPE(v), v);
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* Let go of the connection: back to its pool, or closed. */
static PyObject *
rc_conn_let_go(ConnectionObject *self, int discard)
{
    if (self->busy) {
        rc_conn_check(self); /* sets the "in use by another thread" error */
        return NULL;
    }
    if (self->conn != NULL) {
        rc_conn *c = self->conn;
        self->conn = NULL;
        self->pending = 0;
        if (self->peeked != NULL) {
            Py_CLEAR(self->peeked);
            discard = 1; /* a reply nobody read */
        }
        if (discard) {
            rc_pool_discard(&self->pool->cl, c);
        } else {
            rc_pool_checkin(&self->pool->cl, c);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
Connection_release(ConnectionObject *self, PyObject *unused)
{
    (void)unused;
    return rc_conn_let_go(self, 0);
}

static PyObject *
Connection_close(ConnectionObject *self, PyObject *unused)
{
    (void)unused;
    return rc_conn_let_go(self, 1);
}

static PyObject *
Connection_get_node(ConnectionObject *self, void *closure)
{
    (void)closure;
    if (self->conn == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->conn->node->name);
    return self->conn->node->name;
}

static PyObject *
Connection_get_open(ConnectionObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->conn != NULL);
}

static int
Connection_traverse(ConnectionObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->pool);
    Py_VISIT(self->peeked);
    return 0;
}

static void
Connection_dealloc(ConnectionObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->conn != NULL && self->pool != NULL) {
        /* Its state (WATCH, MULTI, unread replies) is unknown: never reuse. */
        rc_pool_discard(&self->pool->cl, self->conn);
        self->conn = NULL;
    }
    Py_CLEAR(self->peeked);
    Py_CLEAR(self->pool);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

/* The calls that may release the GIL hold `busy` for their duration, so a
 * second thread is refused instead of sharing the socket. */
#define RC_HOLD_BUSY(call)                                                                    \
    do {                                                                                      \
        PyObject *r_;                                                                         \
        if (rc_conn_check(self) < 0) {                                                        \
            return NULL;                                                                      \
        }                                                                                     \
        self->busy = 1;                                                                       \
        r_ = (call);                                                                          \
        self->busy = 0;                                                                       \
        return r_;                                                                            \
    } while (0)

static PyObject *
Connection_execute_many_locked(ConnectionObject *self, PyObject *commands)
{
    RC_HOLD_BUSY(Connection_execute_many(self, commands));
}

static PyObject *
Connection_send_locked(ConnectionObject *self, PyObject *commands)
{
    RC_HOLD_BUSY(Connection_send(self, commands));
}

static PyObject *
Connection_read_locked(ConnectionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    RC_HOLD_BUSY(Connection_read(self, args, nargs));
}

static PyObject *
Connection_can_read_locked(ConnectionObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    RC_HOLD_BUSY(Connection_can_read(self, args, nargs));
}

static PyObject *
Connection_execute_locked(ConnectionObject *self, PyObject *args)
{
    RC_HOLD_BUSY(Connection_execute(self, args));
}

static PyMethodDef Connection_methods[] = {
    {"execute_many", (PyCFunction)Connection_execute_many_locked, METH_O,
     "execute_many($self, commands, /)\n--\n\n"
     "Write all commands at once, read one raw reply each (errors in place)."},
    {"execute", (PyCFunction)Connection_execute_locked, METH_VARARGS,
     "execute($self, *args)\n--\n\nOne command; raw reply; error replies raised."},
    {"send", (PyCFunction)Connection_send_locked, METH_O,
     "send($self, commands, /)\n--\n\nWrite commands without reading replies (pub/sub)."},
    {"read", (PyCFunction)(void (*)(void))Connection_read_locked, METH_FASTCALL,
     "read($self, timeout=None, /)\n--\n\n"
     "The next reply, or None if none is complete within timeout seconds."},
    {"can_read", (PyCFunction)(void (*)(void))Connection_can_read_locked, METH_FASTCALL,
     "can_read($self, timeout=0, /)\n--\n\n"
     "Whether a complete reply arrives within timeout seconds (None: no limit); "
     "the reply stays for read()."},
    {"fileno", (PyCFunction)Connection_fileno, METH_NOARGS,
     "fileno($self, /)\n--\n\nThe socket's file descriptor."},
    {"release", (PyCFunction)Connection_release, METH_NOARGS,
     "release($self, /)\n--\n\nGive the connection back to its pool (closed if unhealthy)."},
    {"close", (PyCFunction)Connection_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the connection."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Connection_getset[] = {
    {"node", (getter)Connection_get_node, NULL, "'host:port' of the node, None once closed.",
     NULL},
    {"open", (getter)Connection_get_open, NULL, "Whether the connection is still held.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Made only by Pool._connection (3.9 lacks Py_TPFLAGS_DISALLOW_INSTANTIATION). */
static PyObject *
Connection_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)type;
    (void)args;
    (void)kw;
    PyErr_SetString(PyExc_TypeError,
                    "cannot create 'rediscluster._core.Connection' instances; use Pool._connection()");
    return NULL;
}

static PyType_Slot Connection_slots[] = {
    {Py_tp_new, Connection_new},
    {Py_tp_doc, "A connection held across calls (transactions). Made by Pool._connection."},
    {Py_tp_dealloc, Connection_dealloc},
    {Py_tp_traverse, Connection_traverse},
    {Py_tp_methods, Connection_methods},
    {Py_tp_getset, Connection_getset},
    {0, NULL},
};

PyType_Spec Connection_spec = {
    .name = "rediscluster._core.Connection",
    .basicsize = sizeof(ConnectionObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Connection_slots,
};

static PyTypeObject *
rc_connection_type(rc_state *st)
{
    return st->ConnectionType;
}

PyObject *
rc_connection_new(PoolObject *pool, int node)
{
    rc_cluster *cl = &pool->cl;
    ConnectionObject *self;
    rc_err err;
    rc_conn *c = NULL;
    int r;

    rc_err_clear(&err);
    r = rc_pool_checkout(cl, cl->nodes[node], &c, &err);
    if (r == RC_ST_NET) {
        return rc_raise_from(pool->st, &err, cl->nodes[node]->name);
    }
    if (r != RC_ST_OK) {
        return NULL;
    }
    self = PyObject_GC_New(ConnectionObject, rc_connection_type(pool->st));
    if (self == NULL) {
        rc_pool_checkin(cl, c);
        return NULL;
    }
    self->st = pool->st;
    Py_INCREF(pool);
    self->pool = pool;
    self->conn = c;
    self->busy = 0;
    self->pending = 0;
    self->peeked = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}
