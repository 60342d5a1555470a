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

/* Mark the object in use for one call (an atomic test-and-set: no GIL
 * needed); 0, or -1 with RuntimeError when another thread is inside a call
 * on it (with the GIL released: using it now would interleave replies or
 * free it). rc_conn_give ends the call. */
static int
rc_conn_busy(ConnectionObject *self)
{
    if (__atomic_exchange_n(&self->busy, 1, __ATOMIC_ACQUIRE)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Connection is in use by another thread (a Connection is not thread-safe)");
        return -1;
    }
    return 0;
}

static void
rc_conn_give(ConnectionObject *self)
{
    __atomic_store_n(&self->busy, 0, __ATOMIC_RELEASE);
}

/* rc_conn_busy, and the connection must still be held (ConnectionError). */
static int
rc_conn_enter(ConnectionObject *self)
{
    if (rc_conn_busy(self) < 0) {
        return -1;
    }
    if (self->conn == NULL) {
        rc_conn_give(self);
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

/* Close the held connection after an error and raise it: its own error
 * (conn->err), or the exception already set (a signal handler's). */
static PyObject *
rc_conn_fail(ConnectionObject *self)
{
    rc_conn *c = self->conn;
    self->conn = NULL;
    if (!PyErr_Occurred()) {
        rc_raise_from(self->st, &c->err, c->node->name);
    }
    rc_pool_discard(&self->pool->cl, c);
    return NULL;
}

/* Pack argument tuples into op's commands. 0, or -1 with an exception. */
static int
rc_conn_pack(ConnectionObject *self, rc_op *op, PyObject *seq)
{
    rc_route rt = {-1, -1, 0, 0};
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *args = PySequence_Fast_GET_ITEM(seq, i);
        size_t off = op->buf.len;
        if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) == 0) {
            PyErr_SetString(PyExc_TypeError, "each command must be a non-empty tuple");
            return -1;
        }
        if (rc_pack_command(self->st, &self->pool->cl.cfg.codec, &op->buf,
                            &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), NULL) < 0 ||
            rc_op_add(op, off, op->buf.len - off, &rt) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Run a held op on self's connection (write `commands`, or read). The op
 * is left for the caller to read and clear. 0, or -1 with an exception set
 * and the connection closed. */
static int
rc_conn_run(ConnectionObject *self, rc_op *op, PyObject *commands, int mode, double timeout)
{
    PyObject *seq = NULL;
    int ret = -1;

    if (rc_op_init_held(op, &self->pool->cl, &self->conn, 1, mode, timeout) < 0) {
        return -1;
    }
    if (commands != NULL) {
        /* A copy: the caller's list may change while the GIL is released. */
        seq = PySequence_Tuple(commands);
        if (seq == NULL || rc_conn_pack(self, op, seq) < 0) {
            goto done;
        }
    } else {
        rc_route rt = {-1, -1, 0, 0};
        if (rc_op_add(op, 0, 0, &rt) < 0) { /* the one reply's place */
            goto done;
        }
    }
    if (rc_op_run(op) < 0 || self->conn->err.kind != RC_E_NONE) {
        rc_conn_fail(self);
        goto done;
    }
    ret = 0;
done:
    Py_XDECREF(seq);
    return ret;
}

/* execute_many(commands) -> list: write every command (a sequence of
 * argument tuples) at once, read one reply each. Server errors are
 * exception instances in place; a connection failure closes the connection
 * and raises. */
static PyObject *
Connection_execute_many(ConnectionObject *self, PyObject *commands)
{
    PyObject *out = NULL;
    rc_op op;

    if (rc_conn_alive(self) < 0) {
        return NULL;
    }
    if (rc_conn_run(self, &op, commands, RC_HELD_EXEC, -1) == 0) {
        out = PyList_New(op.n);
        for (Py_ssize_t i = 0; out != NULL && i < op.n; i++) {
            PyObject *v = op.cmds[i].result;
            if (v == NULL) { /* cannot happen once every reply was read */
                v = Py_None;
                Py_INCREF(v);
            }
            op.cmds[i].result = NULL;
            PyList_SET_ITEM(out, i, v);
        }
        if (out != NULL) {
            self->conn->dirty = self->pending > 0 || self->peeked != NULL;
        }
    }
    rc_op_clear(&op);
    return out;
}

/* send(commands): write commands (argument tuples) without reading. */
static PyObject *
Connection_send(ConnectionObject *self, PyObject *commands)
{
    Py_ssize_t n;
    rc_op op;
    int r;

    if (rc_conn_alive(self) < 0) {
        return NULL;
    }
    r = rc_conn_run(self, &op, commands, RC_HELD_SEND, -1);
    n = op.n;
    rc_op_clear(&op);
    if (r < 0) {
        return NULL;
    }
    self->pending += n;
    Py_RETURN_NONE;
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

/* The next complete reply within `timeout` seconds (< 0: no limit), waited
 * for through the engine's driver. 1 with *out set (new reference; error
 * replies and redirects as exception instances), 0 if none came in time,
 * -1 with an exception set (a connection failure closes the connection). A
 * reply answering a send() counts down `pending`; when none is left the
 * connection is clean again. */
static int
rc_conn_take(ConnectionObject *self, double timeout, PyObject **out)
{
    rc_op op;
    int r = -1;

    *out = NULL;
    if (rc_conn_run(self, &op, NULL, RC_HELD_READ, timeout) == 0) {
        *out = op.cmds[0].result;
        op.cmds[0].result = NULL;
        r = *out != NULL;
        if (r == 1) {
            rc_connection_took((PyObject *)self, NULL, 0);
        }
    }
    rc_op_clear(&op);
    return r;
}

/* ---- what subscriber.c needs of a Connection ---- */

int
rc_connection_hold(rc_state *st, PyObject *obj, PoolObject **pool, rc_conn **conn)
{
    ConnectionObject *self = (ConnectionObject *)obj;
    if (!PyObject_TypeCheck(obj, st->ConnectionType)) {
        PyErr_Format(PyExc_TypeError, "expected a rediscluster._core.Connection, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (rc_conn_enter(self) < 0) {
        return -1;
    }
    if (rc_conn_alive(self) < 0) {
        rc_conn_give(self);
        return -1;
    }
    *pool = self->pool;
    *conn = self->conn;
    return 0;
}

void
rc_connection_unhold(PyObject *obj)
{
    rc_conn_give((ConnectionObject *)obj);
}

PyObject *
rc_connection_take_peeked(PyObject *obj)
{
    ConnectionObject *self = (ConnectionObject *)obj;
    PyObject *v = self->peeked;
    self->peeked = NULL;
    return v;
}

void
rc_connection_took(PyObject *obj, PyObject *reply, int keep)
{
    ConnectionObject *self = (ConnectionObject *)obj;
    rc_conn *c = self->conn;
    if (self->pending > 0 && --self->pending == 0 && rc_reader_pending(c->reader) == 0) {
        c->dirty = 0;
    }
    if (keep) {
        Py_XSETREF(self->peeked, reply);
    }
}

PyObject *
rc_connection_failed(PyObject *obj)
{
    ConnectionObject *self = (ConnectionObject *)obj;
    rc_conn_fail(self);
    return rc_fetch_exception();
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
    if (rc_conn_busy(self) < 0) {
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
    rc_conn_give(self);
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
        if (rc_conn_enter(self) < 0) {                                                        \
            return NULL;                                                                      \
        }                                                                                     \
        r_ = (call);                                                                          \
        rc_conn_give(self);                                                                   \
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

/* A connection to `node`, open and ready, checked out of its pool for the
 * caller to hold: an idle one, or a new one opened through the sync driver
 * (waiting for a release at the connection limit with wait_timeout). RC_ST_OK,
 * or RC_ST_PY with an exception set. GIL. */
static int
rc_checkout_open(rc_cluster *cl, rc_node *node, rc_conn **out)
{
    rc_err err;
    rc_waiter w = {NULL, NULL, 0};
    double deadline = -1;
    int r;

    for (;;) {
        rc_err_clear(&err);
        r = rc_pool_checkout_nb(cl, node->index, out, &err, rc_net_now(), w.queued ? &w : NULL, 1);
        if (r != RC_CHECKOUT_FULL) {
            break;
        }
        rc_waiter_enqueue(cl, &w);
        if (deadline < 0) {
            deadline = rc_net_now() + cl->cfg.wait_timeout;
        } else if (rc_net_now() >= deadline) {
            rc_waiter_remove(cl, &w);
            PyErr_SetString(cl->st->ConnectionError, "No connection available.");
            return RC_ST_PY;
        }
        rc_node_pin(cl, node->index); /* kept while we wait without a connection */
        r = rc_cluster_sleep(cl, 0.005);
        rc_node_unpin(cl, node->index);
        if (r < 0) {
            rc_waiter_remove(cl, &w);
            return RC_ST_PY;
        }
    }
    rc_waiter_remove(cl, &w);
    if (r == RC_ST_NET) {
        rc_raise_from(cl->st, &err, node->name);
        return RC_ST_PY;
    }
    if (r == RC_ST_PY) {
        return RC_ST_PY;
    }
    if (r == RC_CHECKOUT_OPENING) {
        rc_op op;
        int failed = rc_op_init_held(&op, cl, out, 1, RC_HELD_OPEN, -1) < 0 ||
                     rc_op_run(&op) < 0;
        rc_op_clear(&op);
        if (!failed && (*out)->err.kind != RC_E_NONE) {
            rc_raise_from(cl->st, &(*out)->err, node->name);
            failed = 1;
        } else if (!failed && (*out)->state != RC_CONN_READY) {
            PyErr_Format(cl->st->ConnectionError, "%U: the connection did not open", node->name);
            failed = 1;
        }
        if (failed) {
            rc_pool_discard(cl, *out);
            *out = NULL;
            return RC_ST_PY;
        }
    }
    (*out)->dirty = 0;
    return RC_ST_OK;
}

PyObject *
rc_connection_new(PoolObject *pool, int node)
{
    rc_cluster *cl = &pool->cl;
    ConnectionObject *self;
    rc_conn *c = NULL;

    rc_node *nd = rc_cluster_at(cl, node);

    if (nd == NULL) {
        PyErr_SetString(pool->st->RedisClusterException, "the node left the cluster");
        return NULL;
    }
    if (rc_checkout_open(cl, nd, &c) != RC_ST_OK) {
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
