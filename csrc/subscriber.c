/* subscriber.c -- rediscluster._core.Subscriber: the pub/sub reader (tier 3).
 *
 * read(connections, timeout) waits for the next reply of any of a set of
 * held connections (_core.Connection, all of the subscriber's pool) through
 * the engine's waits: one RC_HELD_READ op over all of them, run by the
 * pool's sync driver (native poll() with the GIL released and signal checks,
 * or the gevent / set_wait_callback wait function). Error replies and
 * redirects are values, as Connection.read() returns them; a connection
 * that fails is closed and its error is the value.
 *
 * wake() makes a read() waiting in another thread (or greenlet) return None
 * at once: the subscriber's pipe is one more fd of the op's wait
 * (op->wake_fd). pubsub.py uses it before it touches a connection the reader
 * holds (subscribing, closing).
 *
 * The subscription state and the policy (re-subscribing after a loss,
 * following slot moves) are Python's: rediscluster/pubsub.py. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "core.h"

#define RC_SUB_INLINE 8

typedef struct {
    PyObject_HEAD
    PoolObject *pool;         /* owned */
    int wake[2];              /* the pipe: read end waited on, write end for wake() */
    unsigned long fork_gen;   /* process generation of the pipe */
    Py_ssize_t rr;            /* where the next read starts looking (fairness) */
    int busy;                 /* a read() is running (maybe with the GIL released) */
} SubscriberObject;

static void
rc_sub_close_pipe(SubscriberObject *self)
{
    for (int i = 0; i < 2; i++) {
        if (self->wake[i] >= 0) {
            close(self->wake[i]);
            self->wake[i] = -1;
        }
    }
}

/* The pipe, made anew in a child after fork() (the parent's would wake the
 * parent's reader). 0, or -1 with an exception set. */
/* Mark the Subscriber in use (an atomic test-and-set: no GIL needed); 0,
 * or -1 with RuntimeError when another thread is using it. */
static int
rc_sub_busy(SubscriberObject *self)
{
    if (__atomic_exchange_n(&self->busy, 1, __ATOMIC_ACQUIRE)) {
        PyErr_SetString(PyExc_RuntimeError, "the Subscriber is in use by another thread");
        return -1;
    }
    return 0;
}

static void
rc_sub_give(SubscriberObject *self)
{
    __atomic_store_n(&self->busy, 0, __ATOMIC_RELEASE);
}

static int
rc_sub_pipe(SubscriberObject *self)
{
    int fds[2];
    if (self->pool == NULL) {
        PyErr_SetString(PyExc_ValueError, "the Subscriber is closed");
        return -1;
    }
    if (self->wake[0] >= 0 && self->fork_gen == rc_fork_gen) {
        return 0;
    }
    rc_sub_close_pipe(self);
    if (pipe(fds) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL, 0);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    }
    self->wake[0] = fds[0];
    self->wake[1] = fds[1];
    self->fork_gen = rc_fork_gen;
    return 0;
}

static void
rc_sub_drain(SubscriberObject *self)
{
    char buf[64];
    while (read(self->wake[0], buf, sizeof buf) > 0) {
    }
}

static int
Subscriber_init(SubscriberObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pool", NULL};
    rc_state *st = rc_state_of((PyObject *)self, (initproc)Subscriber_init);
    PyObject *pool;
    int r;

    if (st == NULL ||
        !PyArg_ParseTupleAndKeywords(args, kw, "O!:Subscriber", kwlist, st->PoolType, &pool)) {
        return -1;
    }
    if (!((PoolObject *)pool)->ready) {
        PyErr_SetString(PyExc_ValueError, "Subscriber(pool): the pool is not initialised");
        return -1;
    }
    if (rc_sub_busy(self) < 0) {
        return -1;
    }
    Py_INCREF(pool);
    Py_XSETREF(self->pool, (PoolObject *)pool);
    r = rc_sub_pipe(self);
    rc_sub_give(self);
    return r;
}

static PyObject *
Subscriber_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    SubscriberObject *self = (SubscriberObject *)PyType_GenericNew(type, args, kw);
    if (self != NULL) {
        self->wake[0] = self->wake[1] = -1;
    }
    return (PyObject *)self;
}

/* The outcome of a finished read op: a reply (the first from self->rr on;
 * other connections' replies are kept for their next read), else a failed
 * connection (closed) with its error, else None. */
static PyObject *
rc_sub_outcome(SubscriberObject *self, rc_op *op, PyObject *seq, rc_conn **conns,
               Py_ssize_t n)
{
    PyObject *first = NULL;
    Py_ssize_t pick = -1;

    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = (self->rr + j) % n;
        PyObject *v = op->cmds[i].result;
        if (v == NULL) {
            continue;
        }
        op->cmds[i].result = NULL;
        if (first == NULL) {
            first = v;
            pick = i;
            rc_connection_took(PyTuple_GET_ITEM(seq, i), NULL, 0);
        } else {
            rc_connection_took(PyTuple_GET_ITEM(seq, i), v, 1); /* (stolen) */
        }
    }
    if (first != NULL) {
        PyObject *out = PyTuple_Pack(2, PyTuple_GET_ITEM(seq, pick), first);
        Py_DECREF(first);
        self->rr = pick + 1;
        return out;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = (self->rr + j) % n;
        if (conns[i]->err.kind != RC_E_NONE) {
            PyObject *item = PyTuple_GET_ITEM(seq, i), *exc, *out;
            self->rr = i + 1;
            exc = rc_connection_failed(item);
            if (exc == NULL) {
                return NULL;
            }
            out = PyTuple_Pack(2, item, exc);
            Py_DECREF(exc);
            return out;
        }
    }
    Py_RETURN_NONE;
}

/* read(connections, timeout=None) -> (connection, reply) or None. */
static PyObject *
Subscriber_read(SubscriberObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_state *st;
    PyObject *seq = NULL, *out = NULL;
    rc_conn *inl[RC_SUB_INLINE], **conns = inl;
    Py_ssize_t n = 0, held = 0;
    double timeout = -1;
    rc_op op;
    int op_made = 0, mine = 0;

    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "read(connections, timeout=None)");
        return NULL;
    }
    if (nargs == 2 && args[1] != Py_None) {
        timeout = PyFloat_AsDouble(args[1]);
        if (timeout == -1.0 && PyErr_Occurred()) {
            return NULL;
        }
        if (timeout != timeout) {
            PyErr_SetString(PyExc_ValueError, "timeout must be a number or None");
            return NULL;
        }
        if (timeout < 0) {
            timeout = 0;
        }
    }
    if (__atomic_load_n(&self->busy, __ATOMIC_RELAXED)) { /* (early: taken below) */
        PyErr_SetString(PyExc_RuntimeError, "the Subscriber is in use by another thread");
        return NULL;
    }
    st = rc_state_of((PyObject *)self, (initproc)Subscriber_init);
    if (st == NULL || rc_sub_pipe(self) < 0) {
        return NULL;
    }
    /* A tuple: the caller's list may change while the GIL is released. */
    seq = PySequence_Tuple(args[0]);
    if (seq == NULL) {
        return NULL;
    }
    n = PyTuple_GET_SIZE(seq);
    if (n > 4096) {
        PyErr_SetString(PyExc_ValueError, "read(): too many connections");
        goto done;
    }
    if (n > RC_SUB_INLINE) {
        conns = malloc((size_t)n * sizeof *conns);
        if (conns == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (rc_sub_busy(self) < 0) {
        goto done;
    }
    mine = 1;
    for (; held < n; held++) {
        PyObject *item = PyTuple_GET_ITEM(seq, held);
        PoolObject *pool;
        for (Py_ssize_t j = 0; j < held; j++) {
            if (PyTuple_GET_ITEM(seq, j) == item) {
                PyErr_SetString(PyExc_ValueError, "read(): the same connection twice");
                goto done;
            }
        }
        if (rc_connection_hold(st, item, &pool, &conns[held]) < 0) {
            goto done;
        }
        if (pool != self->pool) {
            rc_connection_unhold(item);
            PyErr_SetString(PyExc_ValueError,
                            "read(): a connection of another pool than the Subscriber's");
            goto done;
        }
    }
    /* A reply already taken off a socket goes first. */
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = (self->rr + j) % n;
        PyObject *v = rc_connection_take_peeked(PyTuple_GET_ITEM(seq, i));
        if (v != NULL) {
            self->rr = i + 1;
            out = PyTuple_Pack(2, PyTuple_GET_ITEM(seq, i), v);
            Py_DECREF(v);
            goto done;
        }
    }
    op_made = 1;
    if (rc_op_init_held(&op, &self->pool->cl, conns, (int)n, RC_HELD_READ, timeout) < 0) {
        goto done;
    }
    op.wake_fd = self->wake[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        rc_route rt = {-1, -1, 0, 0};
        if (rc_op_add(&op, 0, 0, &rt) < 0) { /* one reply's place per connection */
            goto done;
        }
    }
    if (rc_op_run(&op) < 0) {
        goto done; /* a signal handler's exception (the streams are intact) */
    }
    if (op.woken) {
        rc_sub_drain(self);
    }
    out = rc_sub_outcome(self, &op, seq, conns, n);
done:
    if (op_made) {
        rc_op_clear(&op);
    }
    for (Py_ssize_t i = 0; i < held; i++) {
        rc_connection_unhold(PyTuple_GET_ITEM(seq, i));
    }
    if (mine) {
        rc_sub_give(self);
    }
    if (conns != inl) {
        free(conns);
    }
    Py_XDECREF(seq);
    return out;
}

/* wake(): a read() waiting in another thread returns None now (one that
 * starts later returns at once; either drains the pipe). Any thread. */
static PyObject *
Subscriber_wake(SubscriberObject *self, PyObject *unused)
{
    (void)unused;
    if (self->wake[1] >= 0 && self->fork_gen == rc_fork_gen) {
        ssize_t w = write(self->wake[1], "x", 1); /* non-blocking: a full pipe is awake */
        (void)w;
    }
    Py_RETURN_NONE;
}

static PyObject *
Subscriber_close(SubscriberObject *self, PyObject *unused)
{
    (void)unused;
    if (rc_sub_busy(self) < 0) {
        return NULL;
    }
    rc_sub_close_pipe(self);
    Py_CLEAR(self->pool);
    rc_sub_give(self);
    Py_RETURN_NONE;
}

static int
Subscriber_traverse(SubscriberObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->pool);
    return 0;
}

static int
Subscriber_clear(SubscriberObject *self)
{
    if (!__atomic_load_n(&self->busy, __ATOMIC_RELAXED)) {
        Py_CLEAR(self->pool);
    }
    return 0;
}

static void
Subscriber_dealloc(SubscriberObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    rc_sub_close_pipe(self);
    Py_CLEAR(self->pool);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Subscriber_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Subscriber_read, METH_FASTCALL,
     "read($self, connections, timeout=None, /)\n--\n\n"
     "The next reply of any of the held connections as (connection, reply), or None\n"
     "if none came within timeout seconds (None: no limit) or wake() was called.\n"
     "Error replies and redirects are exception instances; a connection that\n"
     "failed is closed (connection.open is False) and its error is the reply."},
    {"wake", (PyCFunction)Subscriber_wake, METH_NOARGS,
     "wake($self, /)\n--\n\nMake a read() waiting in another thread return None now."},
    {"close", (PyCFunction)Subscriber_close, METH_NOARGS,
     "close($self, /)\n--\n\nRelease the wake-up pipe and the pool."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Subscriber_slots[] = {
    {Py_tp_doc, "Subscriber(pool)\n--\n\n"
                "Waits for the replies of held pub/sub connections through the pool's driver."},
    {Py_tp_new, Subscriber_new},
    {Py_tp_init, Subscriber_init},
    {Py_tp_dealloc, Subscriber_dealloc},
    {Py_tp_traverse, Subscriber_traverse},
    {Py_tp_clear, Subscriber_clear},
    {Py_tp_methods, Subscriber_methods},
    {0, NULL},
};

PyType_Spec Subscriber_spec = {
    .name = "rediscluster._core.Subscriber",
    .basicsize = sizeof(SubscriberObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Subscriber_slots,
};
