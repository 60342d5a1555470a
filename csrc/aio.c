/* aio.c -- rediscluster._core.AioOp: an op (engine.c) driven by an asyncio
 * event loop (tier 3).
 *
 * The asyncio client's execute_command, _execute_batch and
 * _execute_transaction build the same op the sync client runs (client.c's
 * prepare halves) and return an AioOp: an awaitable whose iterator advances
 * the op -- rc_op_step; on RC_OP_WAIT the sockets are registered with the
 * running loop (add_reader / add_writer, a call_later for the deadline) and a
 * loop future is yielded to the task; when one fires, rc_op_io does the I/O
 * and the op steps again. RC_OP_REFRESH runs the topology step machine
 * (topology.c) the same way, so no wait ever blocks the loop. The cluster
 * policy (MOVED, ASK, TRYAGAIN, retries) stays the engine's.
 *
 * Before its first wait, an op writes optimistically: a lane with bytes to
 * send on an open connection tries the (non-blocking) write at once, so a
 * command costs one loop wait (for its reply), not two.
 *
 * Batches: a single command that cannot block its connection, when first
 * awaited, joins the client's batch of this loop iteration (a SHARED AioOp
 * made by the first one, started by loop.call_soon): its bytes are copied
 * into the batch's op and it waits on a loop future. The batch runs from
 * loop callbacks (nobody awaits it): one lane per node, so one write and
 * one read per node for all its commands, each command settled by the
 * policy on its own; when it is done each member's future gets its reply
 * through the command's response callback, or its error.
 *
 * Cancellation: the task throws CancelledError (or a timeout's) into the
 * iterator; the op is aborted (rc_op_abort: every connection it holds is
 * closed, so no later command can read its reply), the fds unregistered, a
 * refresh it ran released; the exception propagates. An AioOp dropped
 * unfinished is aborted the same way. A batch member that is cancelled
 * only cancels its future: the batch reads its reply and drops it.
 *
 * An AioOp belongs to the loop running when it first waits, and is awaited
 * once. GIL everywhere. */
#include <stdlib.h>

#include "core.h"
#include "topology.h"

enum {
    RC_AS_ADD_READER = 0,
    RC_AS_ADD_WRITER,
    RC_AS_REMOVE_READER,
    RC_AS_REMOVE_WRITER,
    RC_AS_CREATE_FUTURE,
    RC_AS_BLOCKING,
    RC_AS_SET_RESULT,
    RC_AS_DONE,
    RC_AS_CALL_LATER,
    RC_AS_CANCEL,
    RC_AS_CALL_SOON,
    RC_AS_SET_EXCEPTION,
    RC_AS_RESULT,
    RC_AS_N
};

static const char *const rc_as_names[RC_AS_N] = {
    "add_reader",  "add_writer",    "remove_reader", "remove_writer",
    "create_future", "_asyncio_future_blocking", "set_result", "done",
    "call_later",  "cancel",        "call_soon",     "set_exception",
    "result",
};

int
rc_aio_init_strings(rc_state *st)
{
    for (int i = 0; i < RC_AS_N; i++) {
        st->aio_str[i] = PyUnicode_InternFromString(rc_as_names[i]);
        if (st->aio_str[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* What an AioOp runs. */
enum {
    RC_AIO_ONE = 0,  /* execute_command: one command (or a fan-out) */
    RC_AIO_BATCH,    /* _execute_batch */
    RC_AIO_TXN,      /* _execute_transaction */
    RC_AIO_RAW,      /* _aio_node_command: the raw reply of one node */
    RC_AIO_SHARED,   /* the commands awaited in one loop iteration, as one op */
    RC_AIO_REFRESH   /* initialize(): a discovery, its errors raised */
};

/* Where it is. */
enum {
    RC_AIO_NEW = 0,  /* not started (the first discovery may come first) */
    RC_AIO_OP,       /* running the op */
    RC_AIO_TOPO,     /* running a discovery (then back to `after`) */
    RC_AIO_WAITDISC, /* another op runs the first discovery: poll until done */
    RC_AIO_DONE
};

typedef struct AioOpObject {
    PyObject_HEAD
    ClientObject *client;   /* owned */
    int kind;               /* RC_AIO_* kind */
    int state;              /* RC_AIO_* state */
    int after;              /* the state a discovery returns to */
    int strict;             /* the discovery's errors are raised (not swallowed) */
    int flagged;            /* ONE: a fan-out command, prepared when it starts */
    int prepared;           /* the op holds its commands */
    int waiting;            /* fds / timer registered, fut yielded */
    int woke;               /* a callback fired for the current wait */
    rc_op op;
    rc_topo topo;
    int topo_live;          /* topo begun and not cleared: we hold the claim */
    int topo_running;       /* topo.op is being driven */
    PyObject *upper;        /* ONE: the command name (owned) */
    PyObject *flag;         /* ONE, fan-out: the nodes_flags value (owned) */
    PyObject *args;         /* ONE, fan-out: the arguments (tuple, owned) */
    PyObject *kwnames;      /* ONE: the options' names (tuple) or NULL */
    PyObject *kwvalues;     /* ONE: the options' values (tuple) or NULL */
    PyObject *seq;          /* BATCH: the commands (tuple) */
    int *targets;           /* fan-out nodes (malloc'ed) */
    int nt;
    PyObject *error;        /* raised at the first resume: preparing failed */
    PyObject *loop;         /* the loop it waits on (owned) */
    PyObject *fut;          /* the future of the current wait (owned) */
    PyObject *timer;        /* the deadline's TimerHandle (owned) */
    PyObject *ready;        /* our _ready bound to self (owned while waiting) */
    int *reg;               /* registered fds: fd << 1 | is_writer */
    int nreg, regcap;
    int batchable;          /* ONE: one command that cannot block: may join a batch */
    int member;             /* joined a batch: its result comes through fut */
    PyObject *batch;        /* member: the batch (owned) */
    Py_ssize_t index;       /* member: its command in the batch's op */
    int driven;             /* SHARED: run by loop callbacks, not awaited */
    int started;            /* SHARED: running (no more members) */
    PyObject *members;      /* SHARED: list of the member AioOps (owned) */
} AioOpObject;

/* Commands per batch at most (then the next joins a new one). */
#define RC_AIO_BATCH_MAX 4096

/* The op being driven now. */
static rc_op *
rc_aio_cur(AioOpObject *self)
{
    return self->state == RC_AIO_TOPO ? &self->topo.op : &self->op;
}

static PyObject *
rc_aio_alloc(ClientObject *client, int kind)
{
    rc_state *st = client->st;
    AioOpObject *self;

    if (client->pool == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__ was not called");
        return NULL;
    }
    self = PyObject_GC_New(AioOpObject, st->AioOpType);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(client);
    self->client = client;
    self->kind = kind;
    self->state = RC_AIO_NEW;
    self->after = RC_AIO_OP;
    self->strict = 0;
    self->flagged = 0;
    self->prepared = 0;
    self->waiting = 0;
    self->woke = 0;
    rc_op_init(&self->op, &client->pool->cl, &client->lim);
    self->topo_live = 0;
    self->topo_running = 0;
    self->upper = self->flag = self->args = self->kwnames = self->kwvalues = NULL;
    self->seq = NULL;
    self->targets = NULL;
    self->nt = 0;
    self->error = NULL;
    self->loop = self->fut = self->timer = self->ready = NULL;
    self->reg = NULL;
    self->nreg = self->regcap = 0;
    self->batchable = self->member = self->driven = self->started = 0;
    self->batch = self->members = NULL;
    self->index = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* Keep the current exception to raise when the op is awaited (errors of
 * the arguments surface at `await`, as with a coroutine). */
static void
rc_aio_defer_error(AioOpObject *self)
{
    Py_XSETREF(self->error, rc_fetch_exception());
}

PyObject *
rc_aio_command(ClientObject *client, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    AioOpObject *self = (AioOpObject *)rc_aio_alloc(client, RC_AIO_ONE);
    int r, blocking = 1;

    if (self == NULL) {
        return NULL;
    }
    if (nkw > 0) {
        self->kwvalues = PyTuple_New(nkw);
        if (self->kwvalues == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < nkw; i++) {
            Py_INCREF(args[nargs + i]);
            PyTuple_SET_ITEM(self->kwvalues, i, args[nargs + i]);
        }
        Py_INCREF(kwnames);
        self->kwnames = kwnames;
    }
    r = rc_client_prepare(client, args, nargs, &self->op, &self->upper, &self->flag, &blocking);
    if (r < 0) {
        rc_aio_defer_error(self);
    } else if (r == 1) {
        /* A fan-out: its nodes are chosen when it starts (after a discovery). */
        self->flagged = 1;
        self->args = PyTuple_New(nargs);
        if (self->args == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < nargs; i++) {
            Py_INCREF(args[i]);
            PyTuple_SET_ITEM(self->args, i, args[i]);
        }
    } else {
        self->prepared = 1;
        self->batchable = !blocking;
    }
    return (PyObject *)self;
}

PyObject *
rc_aio_batch(ClientObject *client, PyObject *commands)
{
    AioOpObject *self = (AioOpObject *)rc_aio_alloc(client, RC_AIO_BATCH);
    if (self == NULL) {
        return NULL;
    }
    self->seq = rc_client_batch_prepare(client, commands, &self->op);
    if (self->seq == NULL) {
        rc_aio_defer_error(self);
    } else {
        self->prepared = 1;
    }
    return (PyObject *)self;
}

PyObject *
rc_aio_transaction(ClientObject *client, PyObject *const *args, Py_ssize_t nargs)
{
    AioOpObject *self = (AioOpObject *)rc_aio_alloc(client, RC_AIO_TXN);
    if (self == NULL) {
        return NULL;
    }
    if (rc_client_txn_prepare(client, args, nargs, &self->op) < 0) {
        rc_aio_defer_error(self);
    } else {
        self->prepared = 1;
    }
    return (PyObject *)self;
}

PyObject *
rc_aio_node_command(ClientObject *client, PyObject *const *args, Py_ssize_t nargs)
{
    AioOpObject *self;
    rc_cluster *cl;
    rc_route rt = {-1, -1, 1, 0};
    const char *host;
    Py_ssize_t hn;
    long port;

    if (nargs < 3) {
        PyErr_SetString(PyExc_TypeError, "_aio_node_command(host, port, *args)");
        return NULL;
    }
    self = (AioOpObject *)rc_aio_alloc(client, RC_AIO_RAW);
    if (self == NULL) {
        return NULL;
    }
    cl = &client->pool->cl;
    self->op.lim.ttl = 1; /* one node, one attempt: no redirects followed */
    self->op.lim.clusterdown_tries = 0;
    host = PyUnicode_AsUTF8AndSize(args[0], &hn);
    port = host != NULL ? PyLong_AsLong(args[1]) : -1;
    if (host == NULL || (port == -1 && PyErr_Occurred())) {
        rc_aio_defer_error(self);
        return (PyObject *)self;
    }
    if (port <= 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "invalid port: %ld", port);
        rc_aio_defer_error(self);
        return (PyObject *)self;
    }
    rt.node = rc_cluster_node(cl, host, (size_t)hn, (int)port, 1);
    if (rt.node < 0 ||
        rc_pack_command(client->st, &cl->cfg.codec, &self->op.buf, args + 2, nargs - 2, NULL) < 0 ||
        rc_op_add(&self->op, 0, self->op.buf.len, &rt) < 0) {
        rc_aio_defer_error(self);
        return (PyObject *)self;
    }
    /* held by index from now: the topology may change before it is awaited */
    rc_node_pin(cl, rt.node);
    self->op.pinned = 1;
    self->prepared = 1;
    return (PyObject *)self;
}

PyObject *
rc_aio_refresh(ClientObject *client, PyObject *unused)
{
    AioOpObject *self = (AioOpObject *)rc_aio_alloc(client, RC_AIO_REFRESH);
    (void)unused;
    if (self != NULL) {
        self->strict = 1;
    }
    return (PyObject *)self;
}

/* ------------------------------------------------------------ the loop */

static void rc_aio_drive(AioOpObject *b);
static int rc_aio_join(AioOpObject *self);
static PyObject *rc_aio_member_next(AioOpObject *self);

/* The running loop (new reference), or NULL with RuntimeError set. */
static PyObject *
rc_aio_running_loop(rc_state *st)
{
    if (st->get_running_loop == NULL) {
        PyObject *mod = PyImport_ImportModule("asyncio");
        if (mod == NULL) {
            return NULL;
        }
        st->get_running_loop = PyObject_GetAttrString(mod, "get_running_loop");
        Py_DECREF(mod);
        if (st->get_running_loop == NULL) {
            return NULL;
        }
    }
    return PyObject_CallNoArgs(st->get_running_loop);
}

/* Undo the current wait's registrations (a loop that refuses, being
 * closed, has none left). 0, or -1 with a BaseException set. */
static int
rc_aio_unregister(AioOpObject *self)
{
    rc_state *st = self->client->st;
    int ret = 0;

    for (int i = 0; i < self->nreg; i++) {
        PyObject *fd = PyLong_FromLong(self->reg[i] >> 1), *r = NULL;
        if (fd != NULL) {
            r = PyObject_CallMethodOneArg(
                self->loop, st->aio_str[(self->reg[i] & 1) ? RC_AS_REMOVE_WRITER : RC_AS_REMOVE_READER],
                fd);
        }
        if (r == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_Exception)) {
                ret = -1; /* KeyboardInterrupt...: kept set */
                Py_XDECREF(fd);
                break;
            }
            PyErr_Clear(); /* a closed loop: nothing is registered anymore */
        }
        Py_XDECREF(fd);
        Py_XDECREF(r);
    }
    self->nreg = 0;
    if (self->timer != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(self->timer, st->aio_str[RC_AS_CANCEL]);
        if (r == NULL) {
            PyErr_Clear();
        }
        Py_XDECREF(r);
        Py_CLEAR(self->timer);
    }
    Py_CLEAR(self->fut);
    self->waiting = 0;
    return ret;
}

/* _ready(token): a registered fd is ready (token = index << 2 | 1 read,
 * | 2 write) or the deadline passed (token -1): note it, wake the task (a
 * batch: schedule its step, token -2). */
static PyObject *
AioOp_ready(AioOpObject *self, PyObject *arg)
{
    rc_state *st = self->client->st;
    long tok = PyLong_AsLong(arg);
    PyObject *done, *r;
    int isdone;

    if (tok == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (tok == -2) {
        if (self->driven) {
            rc_aio_drive(self); /* a batch's turn */
        }
        Py_RETURN_NONE;
    }
    if (!self->waiting || (self->fut == NULL && !self->driven)) {
        Py_RETURN_NONE; /* a late callback: the wait is over */
    }
    if (tok >= 0) {
        rc_wait *w = &rc_aio_cur(self)->wait;
        long i = tok >> 2;
        if (i < w->nfds) {
            w->fds[i].revents |= (short)(((tok & 1) ? POLLIN : 0) | ((tok & 2) ? POLLOUT : 0));
        }
    }
    if (self->woke) {
        Py_RETURN_NONE;
    }
    self->woke = 1;
    if (self->driven) {
        /* step once after every callback of this loop iteration ran: the
         * other ready sockets' revents are noted by then */
        PyObject *tok2 = PyLong_FromLong(-2);
        r = tok2 ? PyObject_CallMethodObjArgs(self->loop, st->aio_str[RC_AS_CALL_SOON], self->ready,
                                              tok2, NULL)
                 : NULL;
        Py_XDECREF(tok2);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    done = PyObject_CallMethodNoArgs(self->fut, st->aio_str[RC_AS_DONE]);
    if (done == NULL) {
        return NULL;
    }
    isdone = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (isdone < 0) {
        return NULL;
    }
    if (isdone) {
        Py_RETURN_NONE; /* cancelled meanwhile: the task throws into us next */
    }
    r = PyObject_CallMethodOneArg(self->fut, st->aio_str[RC_AS_SET_RESULT], Py_None);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    Py_RETURN_NONE;
}

/* Register op->wait with the loop and return the future to yield (new
 * reference), or NULL with an exception set. */
static PyObject *
rc_aio_register(AioOpObject *self, rc_op *op)
{
    rc_state *st = self->client->st;
    rc_wait *w = &op->wait;
    int wake_fd = op->cl->wake[0];
    PyObject *fut = NULL, *ret = NULL;

    if (self->loop == NULL) {
        self->loop = rc_aio_running_loop(st);
        if (self->loop == NULL) {
            goto done;
        }
    }
    if (self->ready == NULL) {
        self->ready = PyObject_GetAttrString((PyObject *)self, "_ready");
        if (self->ready == NULL) {
            goto done;
        }
    }
    if (self->regcap < 2 * w->nfds) {
        int *p = realloc(self->reg, (size_t)(2 * w->nfds) * sizeof *p);
        if (p == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        self->reg = p;
        self->regcap = 2 * w->nfds;
    }
    if (self->driven) {
        /* a batch: the loop's callbacks drive it, nobody awaits it */
        Py_INCREF(Py_None);
        fut = Py_None;
    } else {
        fut = PyObject_CallMethodNoArgs(self->loop, st->aio_str[RC_AS_CREATE_FUTURE]);
        if (fut == NULL || PyObject_SetAttr(fut, st->aio_str[RC_AS_BLOCKING], Py_True) < 0) {
            goto done;
        }
        self->fut = fut;
        Py_INCREF(fut);
    }
    self->waiting = 1;
    self->woke = 0;
    for (int i = 0; i < w->nfds; i++) {
        struct pollfd *pf = &w->fds[i];
        pf->revents = 0;
        /* The cluster's wake pipe is shared by every waiting op, and a loop
         * keeps one reader per fd: a lane waiting for a connection polls
         * instead (its 10 ms deadline). */
        if (pf->fd < 0 || pf->fd == wake_fd) {
            continue;
        }
        for (int wr = 0; wr < 2; wr++) {
            PyObject *fd, *tok, *r;
            if (!(pf->events & (wr ? POLLOUT : POLLIN))) {
                continue;
            }
            fd = PyLong_FromLong(pf->fd);
            tok = PyLong_FromLong((long)i << 2 | (wr ? 2 : 1));
            r = fd && tok ? PyObject_CallMethodObjArgs(
                                self->loop, st->aio_str[wr ? RC_AS_ADD_WRITER : RC_AS_ADD_READER],
                                fd, self->ready, tok, NULL)
                          : NULL;
            Py_XDECREF(fd);
            Py_XDECREF(tok);
            if (r == NULL) {
                goto done;
            }
            Py_DECREF(r);
            self->reg[self->nreg++] = pf->fd << 1 | wr;
        }
    }
    if (w->deadline > 0) {
        double left = w->deadline - rc_net_now();
        PyObject *delay = PyFloat_FromDouble(left > 0 ? left : 0), *tok = PyLong_FromLong(-1);
        self->timer = delay && tok ? PyObject_CallMethodObjArgs(self->loop,
                                                                st->aio_str[RC_AS_CALL_LATER],
                                                                delay, self->ready, tok, NULL)
                                   : NULL;
        Py_XDECREF(delay);
        Py_XDECREF(tok);
        if (self->timer == NULL) {
            goto done;
        }
    }
    ret = fut;
    fut = NULL;
done:
    Py_XDECREF(fut);
    if (ret == NULL && self->waiting) {
        PyObject *exc = rc_fetch_exception();
        (void)rc_aio_unregister(self);
        if (exc != NULL) {
            rc_restore_exception(exc);
        }
    }
    return ret;
}

/* Before waiting: write at once what open connections can take (the
 * socket is almost always writable: rc_op_send_now), or read TLS bytes
 * already buffered. Returns 1 if there was something done (step again). */
static int
rc_aio_try_now(rc_op *op)
{
    rc_wait *w = &op->wait;

    if (w->ready_now) {
        /* only the lanes doing I/O: an opening connection waits for the
         * loop's word (its connect may not be done) */
        for (int i = 0; i < w->nfds; i++) {
            w->fds[i].revents = 0;
        }
        for (int k = 0; k < op->nlanes; k++) {
            rc_lane *l = &op->lanes[k];
            if (l->pfd >= 0 && l->state == RC_LANE_IO) {
                w->fds[l->pfd].revents = w->fds[l->pfd].events;
            }
        }
        rc_op_io(op, 0);
        return 1;
    }
    return rc_op_send_now(op);
}

/* End a discovery we ran: the machine cleared, the claim released. */
static void
rc_aio_end_topo(AioOpObject *self)
{
    if (self->topo_live) {
        rc_topo_clear(&self->topo);
        rc_cluster_refresh_release(&self->client->pool->cl);
        self->topo_live = 0;
        self->topo_running = 0;
    }
}

/* Start a discovery (the claim taken by the caller); returns to `after`. */
static int
rc_aio_begin_topo(AioOpObject *self, int after, int strict)
{
    self->topo_live = 1;
    self->topo_running = 0;
    self->after = after;
    self->strict = strict;
    self->state = RC_AIO_TOPO;
    if (rc_topo_begin(&self->topo, &self->client->pool->cl) < 0) {
        return -1;
    }
    return 0;
}

/* A discovery failed (exception set): strict, raise it (-1); else swallow
 * it as rc_cluster_refresh does -- the op's own retries report -- except
 * refused credentials and BaseExceptions. */
static int
rc_aio_topo_failed(AioOpObject *self)
{
    rc_aio_end_topo(self);
    if (self->strict || !PyErr_ExceptionMatches(PyExc_Exception) ||
        PyErr_ExceptionMatches(self->client->st->AuthenticationError)) {
        return -1;
    }
    PyErr_Clear();
    self->state = self->after;
    return 0;
}

/* The end of an awaitable: StopIteration(res) set (nothing for None, which
 * a NULL return means already); res is stolen. */
static void
rc_aio_stop(PyObject *res)
{
    if (res != Py_None) {
        PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, res);
        if (stop != NULL) {
            PyErr_SetObject(PyExc_StopIteration, stop);
            Py_DECREF(stop);
        }
    }
    Py_DECREF(res);
}

/* Call fut.<method>(arg): 0, or -1 (an exception set). */
static int
rc_aio_fut_call(rc_state *st, PyObject *fut, int method, PyObject *arg)
{
    PyObject *r = arg ? PyObject_CallMethodOneArg(fut, st->aio_str[method], arg)
                      : PyObject_CallMethodNoArgs(fut, st->aio_str[method]);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Whether fut is done: 1, 0, or -1 (an exception set). */
static int
rc_aio_fut_done(rc_state *st, PyObject *fut)
{
    PyObject *r = PyObject_CallMethodNoArgs(fut, st->aio_str[RC_AS_DONE]);
    int d;
    if (r == NULL) {
        return -1;
    }
    d = PyObject_IsTrue(r);
    Py_DECREF(r);
    return d;
}

/* A batch is over: each member's future gets its parsed result or its
 * error (members cancelled meanwhile are skipped: their replies were read
 * and are dropped). exc: the error of the whole batch, or NULL. Errors of
 * the futures themselves are cleared (this runs in a loop callback). */
static void
rc_aio_settle_members(AioOpObject *b, PyObject *exc)
{
    rc_state *st = b->client->st;
    PyObject *members = b->members;

    b->members = NULL;
    for (Py_ssize_t i = 0; members != NULL && i < PyList_GET_SIZE(members); i++) {
        AioOpObject *m = (AioOpObject *)PyList_GET_ITEM(members, i);
        PyObject *r, *v;
        int d = rc_aio_fut_done(st, m->fut);
        if (d != 0) {
            PyErr_Clear();
            continue;
        }
        r = exc;
        if (r == NULL) {
            r = m->index < b->op.n ? b->op.cmds[m->index].result : NULL;
        }
        if (r == NULL) { /* cannot happen: every command settles */
            PyErr_SetString(PyExc_RuntimeError, "a batched command was left unsettled");
            r = rc_fetch_exception();
            if (r != NULL && rc_aio_fut_call(st, m->fut, RC_AS_SET_EXCEPTION, r) < 0) {
                PyErr_Clear();
            }
            Py_XDECREF(r);
            continue;
        }
        if (PyExceptionInstance_Check(r)) {
            if (rc_aio_fut_call(st, m->fut, RC_AS_SET_EXCEPTION, r) < 0) {
                PyErr_Clear();
            }
            continue;
        }
        v = rc_client_parse(b->client, r, m->upper,
                            m->kwvalues ? &PyTuple_GET_ITEM(m->kwvalues, 0) : NULL, m->kwnames);
        if (v == NULL) {
            /* the response callback failed on this reply: its error */
            PyObject *e = rc_fetch_exception();
            if (e != NULL && rc_aio_fut_call(st, m->fut, RC_AS_SET_EXCEPTION, e) < 0) {
                PyErr_Clear();
            }
            Py_XDECREF(e);
            continue;
        }
        if (rc_aio_fut_call(st, m->fut, RC_AS_SET_RESULT, v) < 0) {
            PyErr_Clear();
        }
        Py_DECREF(v);
    }
    Py_XDECREF(members);
}

/* SHARED: the op is done; deliver. Returns None. */
static PyObject *
rc_aio_deliver(AioOpObject *b)
{
    rc_aio_settle_members(b, NULL);
    Py_RETURN_NONE;
}

/* The result of a finished op (new reference) or NULL with its error. */
static PyObject *
rc_aio_result(AioOpObject *self)
{
    rc_op *op = &self->op;
    PyObject *const *kwv = self->kwvalues ? &PyTuple_GET_ITEM(self->kwvalues, 0) : NULL;

    if (op->fatal != NULL) {
        rc_restore_exception(op->fatal);
        op->fatal = NULL;
        return NULL;
    }
    switch (self->kind) {
    case RC_AIO_ONE:
        if (self->flagged) {
            return rc_client_flagged_finish(self->client, self->upper, op, self->targets,
                                            self->nt, kwv, self->kwnames);
        }
        return rc_client_finish(self->client, op, self->upper, kwv, self->kwnames);
    case RC_AIO_BATCH:
        return rc_client_batch_finish(self->client, self->seq, op);
    case RC_AIO_TXN:
        return rc_client_txn_finish(op);
    case RC_AIO_SHARED:
        return rc_aio_deliver(self);
    case RC_AIO_RAW: {
        PyObject *r = op->cmds[0].result;
        if (PyExceptionInstance_Check(r)) {
            PyErr_SetObject((PyObject *)Py_TYPE(r), r);
            return NULL;
        }
        op->cmds[0].result = NULL;
        return r;
    }
    default:
        Py_RETURN_NONE;
    }
}

/* Everything the op held goes (connections closed if still held). */
static void
rc_aio_release(AioOpObject *self)
{
    rc_aio_end_topo(self);
    rc_op_clear(&self->op);
    free(self->targets);
    self->targets = NULL;
    Py_CLEAR(self->ready);
    self->state = RC_AIO_DONE;
}

/* Advance as far as possible without waiting. Returns the future to yield
 * (new reference), or NULL: done (StopIteration set with the result, or
 * nothing set for None) or failed (the exception set). */
static PyObject *
rc_aio_advance(AioOpObject *self)
{
    rc_cluster *cl = &self->client->pool->cl;
    PyObject *res;
    int tried = 0;

    if (self->batchable && !self->member && self->state == RC_AIO_NEW && self->error == NULL) {
        int j = rc_aio_join(self);
        if (j < 0) {
            goto fail;
        }
    }
    if (self->member) {
        return rc_aio_member_next(self);
    }
    if (self->waiting) {
        if (rc_aio_unregister(self) < 0) {
            goto fail;
        }
        rc_op_io(rc_aio_cur(self), 0);
    }
    for (;;) {
        switch (self->state) {
        case RC_AIO_NEW:
            if (self->error != NULL) {
                rc_restore_exception(self->error);
                self->error = NULL;
                goto fail;
            }
            if (self->kind == RC_AIO_REFRESH || cl->installs == 0) {
                /* initialize(), or a first command: one discovery, its
                 * errors raised; concurrent first commands wait for it. */
                if (!rc_cluster_refresh_claim(cl, 1)) {
                    self->state = RC_AIO_WAITDISC;
                } else if (rc_aio_begin_topo(self,
                                             self->kind == RC_AIO_REFRESH ? RC_AIO_DONE : RC_AIO_NEW,
                                             1) < 0 &&
                           rc_aio_topo_failed(self) < 0) {
                    goto fail;
                }
                break;
            }
            if (self->flagged && !self->prepared) {
                /* a fan-out picks its nodes after a pending refresh */
                if (__atomic_load_n(&cl->refresh_pending, __ATOMIC_RELAXED) && rc_cluster_refresh_claim(cl, 0)) {
                    if (rc_aio_begin_topo(self, RC_AIO_NEW, 0) < 0 && rc_aio_topo_failed(self) < 0) {
                        goto fail;
                    }
                    break;
                }
                self->prepared = 1;
                if (rc_client_flagged_prepare(self->client, self->flag, self->upper,
                                              &PyTuple_GET_ITEM(self->args, 0),
                                              PyTuple_GET_SIZE(self->args), &self->op,
                                              &self->targets, &self->nt) < 0) {
                    goto fail;
                }
            }
            self->state = RC_AIO_OP;
            break;
        case RC_AIO_WAITDISC:
            if (cl->refreshing) {
                self->op.wait.nfds = 0;
                self->op.wait.deadline = rc_net_now() + 0.005;
                return rc_aio_register(self, &self->op);
            }
            /* over: initialize() takes its result; a command goes on (or
             * runs a discovery of its own if that one failed) */
            self->state = self->kind == RC_AIO_REFRESH ? RC_AIO_DONE : RC_AIO_NEW;
            break;
        case RC_AIO_TOPO: {
            int r;
            if (self->topo_running) {
                rc_op *op = &self->topo.op;
                r = rc_op_step(op);
                if (r == RC_OP_WAIT) {
                    if (!tried && rc_aio_try_now(op)) {
                        tried = 1;
                        break;
                    }
                    return rc_aio_register(self, op);
                }
                if (r == RC_OP_DONE && op->fatal != NULL) {
                    rc_restore_exception(op->fatal);
                    op->fatal = NULL;
                    if (rc_aio_topo_failed(self) < 0) {
                        goto fail;
                    }
                    break;
                }
                /* (a discovery's queries never ask for a refresh) */
                self->topo_running = 0;
            }
            r = rc_topo_step(&self->topo);
            if (r == RC_TOPO_RUN) {
                self->topo_running = 1;
                tried = 0;
            } else if (r == RC_TOPO_DONE) {
                rc_aio_end_topo(self);
                self->state = self->after;
            } else if (rc_aio_topo_failed(self) < 0) {
                goto fail;
            }
            break;
        }
        case RC_AIO_OP: {
            int r = rc_op_step(&self->op);
            if (r == RC_OP_DONE) {
                res = rc_aio_result(self);
                if (res == NULL) {
                    goto fail;
                }
                goto finish;
            }
            if (r == RC_OP_REFRESH) {
                rc_cluster_want_refresh(cl);
                if (rc_cluster_refresh_claim(cl, 0) && rc_aio_begin_topo(self, RC_AIO_OP, 0) < 0 &&
                    rc_aio_topo_failed(self) < 0) {
                    goto fail; /* (which aborts the op) */
                }
                break;
            }
            if (!tried && rc_aio_try_now(&self->op)) {
                tried = 1;
                break;
            }
            return rc_aio_register(self, &self->op);
        }
        default: /* RC_AIO_DONE */
            if (self->kind == RC_AIO_REFRESH && self->prepared == 0) {
                self->prepared = 1; /* (once) */
                res = NULL;
                goto finish;
            }
            PyErr_SetString(PyExc_RuntimeError, "cannot reuse an already awaited command");
            return NULL;
        }
    }
finish:
    rc_aio_release(self);
    if (res != NULL) {
        rc_aio_stop(res);
    }
    return NULL;
fail:
    {
        PyObject *exc = rc_fetch_exception();
        if (self->waiting) {
            (void)rc_aio_unregister(self);
            PyErr_Clear();
        }
        rc_op_abort(&self->op, NULL);
        rc_aio_release(self);
        if (exc != NULL) {
            rc_restore_exception(exc);
        }
    }
    return NULL;
}

/* Run a batch as far as it goes (a loop callback: never raises). */
static void
rc_aio_drive(AioOpObject *b)
{
    ClientObject *c = b->client;
    PyObject *r;

    if (b->state == RC_AIO_DONE) {
        return;
    }
    Py_INCREF(b);
    b->started = 1;
    if (c->aio_batch == (PyObject *)b) {
        Py_CLEAR(c->aio_batch); /* later commands start the next batch */
    }
    r = rc_aio_advance(b);
    if (r != NULL) {
        Py_DECREF(r); /* waiting: the callbacks come back */
    } else if (PyErr_Occurred()) {
        PyObject *exc = rc_fetch_exception();
        if (exc != NULL && PyErr_GivenExceptionMatches(exc, PyExc_StopIteration)) {
            Py_CLEAR(exc);
        }
        rc_aio_settle_members(b, exc);
        Py_XDECREF(exc);
    }
    Py_DECREF(b);
}

/* Join the batch of this loop iteration (made if there is none): the
 * command is copied into the batch's op, and its result will come through
 * a future of the loop. 1 joined, 0 not (no running loop: it runs alone),
 * -1 with an exception set. */
static int
rc_aio_join(AioOpObject *self)
{
    ClientObject *c = self->client;
    rc_state *st = c->st;
    rc_bcmd *cmd = &self->op.cmds[0];
    AioOpObject *b = (AioOpObject *)c->aio_batch;
    PyObject *loop, *fut = NULL, *r;
    size_t off;
    int ret = -1;

    loop = rc_aio_running_loop(st);
    if (loop == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (b == NULL || b->started || b->loop != loop || b->op.n >= RC_AIO_BATCH_MAX) {
        PyObject *tok;
        b = (AioOpObject *)rc_aio_alloc(c, RC_AIO_SHARED);
        if (b == NULL) {
            goto done;
        }
        Py_XSETREF(c->aio_batch, (PyObject *)b);
        b->driven = 1;
        b->prepared = 1;
        Py_INCREF(loop);
        b->loop = loop;
        b->members = PyList_New(0);
        b->ready = PyObject_GetAttrString((PyObject *)b, "_ready");
        if (b->members == NULL || b->ready == NULL) {
            goto done;
        }
        /* socket_timeout bounds the batch as it bounds one command */
        rc_op_set_deadline(&b->op, c->pool->cl.cfg.sock.timeout);
        tok = PyLong_FromLong(-2);
        r = tok ? PyObject_CallMethodObjArgs(loop, st->aio_str[RC_AS_CALL_SOON], b->ready, tok, NULL)
                : NULL;
        Py_XDECREF(tok);
        if (r == NULL) {
            goto done;
        }
        Py_DECREF(r);
    }
    fut = PyObject_CallMethodNoArgs(loop, st->aio_str[RC_AS_CREATE_FUTURE]);
    if (fut == NULL) {
        goto done;
    }
    off = b->op.buf.len;
    if (rc_buf_append(&b->op.buf, self->op.buf.data + cmd->off, cmd->len) != RC_OK) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc_op_add(&b->op, off, cmd->len, &cmd->rt) < 0 ||
        PyList_Append(b->members, (PyObject *)self) < 0) {
        goto done;
    }
    self->index = b->op.n - 1;
    Py_INCREF(b);
    self->batch = (PyObject *)b;
    self->fut = fut;
    fut = NULL;
    self->member = 1;
    rc_op_clear(&self->op);
    ret = 1;
done:
    Py_XDECREF(fut);
    Py_DECREF(loop);
    return ret;
}

/* A member's turn: its result once the batch gave it, else its future to
 * wait on. */
static PyObject *
rc_aio_member_next(AioOpObject *self)
{
    rc_state *st = self->client->st;
    PyObject *res;
    int d;

    if (self->state == RC_AIO_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse an already awaited command");
        return NULL;
    }
    d = rc_aio_fut_done(st, self->fut);
    if (d < 0) {
        return NULL;
    }
    if (!d) {
        if (PyObject_SetAttr(self->fut, st->aio_str[RC_AS_BLOCKING], Py_True) < 0) {
            return NULL;
        }
        Py_INCREF(self->fut);
        return self->fut;
    }
    self->state = RC_AIO_DONE;
    res = PyObject_CallMethodNoArgs(self->fut, st->aio_str[RC_AS_RESULT]);
    if (res != NULL) {
        rc_aio_stop(res);
    }
    return NULL;
}

/* Give up (cancelled, closed, dropped): unregister, abort what runs. */
static void
rc_aio_giveup(AioOpObject *self)
{
    PyObject *exc = rc_fetch_exception();
    if (self->member) {
        /* the batch reads its reply and drops it */
        if (self->fut != NULL &&
            rc_aio_fut_call(self->client->st, self->fut, RC_AS_CANCEL, NULL) < 0) {
            PyErr_Clear();
        }
        self->state = RC_AIO_DONE;
        if (exc != NULL) {
            rc_restore_exception(exc);
        }
        return;
    }
    if (self->waiting) {
        (void)rc_aio_unregister(self);
        PyErr_Clear();
    }
    if (self->topo_live) {
        rc_op_abort(&self->topo.op, NULL);
    }
    rc_op_abort(&self->op, NULL);
    rc_aio_release(self);
    if (exc != NULL) {
        rc_restore_exception(exc);
    }
}

/* ------------------------------------------------------------ type glue */

static PyObject *
AioOp_await(AioOpObject *self)
{
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *
AioOp_iternext(AioOpObject *self)
{
    return rc_aio_advance(self);
}

static PyObject *
AioOp_send(AioOpObject *self, PyObject *value)
{
    PyObject *r;
    (void)value;
    r = rc_aio_advance(self);
    if (r == NULL && !PyErr_Occurred()) {
        PyErr_SetNone(PyExc_StopIteration);
    }
    return r;
}

static PyObject *
AioOp_throw(AioOpObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *typ, *val = NULL, *tb = NULL;

    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw(typ[, val[, tb]])");
        return NULL;
    }
    typ = args[0];
    if (nargs > 1) {
        val = args[1];
    }
    if (nargs > 2 && args[2] != Py_None) {
        tb = args[2];
    }
    rc_aio_giveup(self);
    if (PyExceptionInstance_Check(typ)) {
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    } else if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val != NULL ? val : Py_None);
    } else {
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
        return NULL;
    }
    if (tb != NULL && PyTraceBack_Check(tb)) {
        PyObject *exc = rc_fetch_exception();
        if (exc != NULL && PyException_SetTraceback(exc, tb) < 0) {
            PyErr_Clear();
        }
        rc_restore_exception(exc);
    }
    return NULL;
}

static PyObject *
AioOp_close(AioOpObject *self, PyObject *unused)
{
    (void)unused;
    if (self->state != RC_AIO_DONE) {
        rc_aio_giveup(self);
    }
    Py_RETURN_NONE;
}

static int
AioOp_traverse(AioOpObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->client);
    Py_VISIT(self->upper);
    Py_VISIT(self->flag);
    Py_VISIT(self->args);
    Py_VISIT(self->kwnames);
    Py_VISIT(self->kwvalues);
    Py_VISIT(self->seq);
    Py_VISIT(self->error);
    Py_VISIT(self->loop);
    Py_VISIT(self->fut);
    Py_VISIT(self->timer);
    Py_VISIT(self->ready);
    Py_VISIT(self->batch);
    Py_VISIT(self->members);
    return 0;
}

static int
AioOp_clear(AioOpObject *self)
{
    Py_CLEAR(self->ready);
    Py_CLEAR(self->fut);
    Py_CLEAR(self->timer);
    Py_CLEAR(self->error);
    Py_CLEAR(self->batch);
    Py_CLEAR(self->members);
    return 0;
}

static void
AioOp_dealloc(AioOpObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->state != RC_AIO_DONE || self->topo_live) {
        rc_aio_giveup(self); /* dropped unfinished: its connections close */
    }
    rc_op_clear(&self->op);
    free(self->targets);
    free(self->reg);
    AioOp_clear(self);
    Py_CLEAR(self->upper);
    Py_CLEAR(self->flag);
    Py_CLEAR(self->args);
    Py_CLEAR(self->kwnames);
    Py_CLEAR(self->kwvalues);
    Py_CLEAR(self->seq);
    Py_CLEAR(self->loop);
    Py_CLEAR(self->client);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static int
AioOp_bool(AioOpObject *self)
{
    (void)self;
    PyErr_SetString(PyExc_TypeError,
                    "an asyncio command's result is not known before it is awaited");
    return -1;
}

static PyMethodDef AioOp_methods[] = {
    {"send", (PyCFunction)AioOp_send, METH_O,
     "send($self, value, /)\n--\n\nAdvance the command (the value is ignored)."},
    {"throw", (PyCFunction)(void (*)(void))AioOp_throw, METH_FASTCALL,
     "throw($self, typ, val=..., tb=..., /)\n--\n\n"
     "Abort the command (its connections are closed) and raise the exception."},
    {"close", (PyCFunction)AioOp_close, METH_NOARGS,
     "close($self, /)\n--\n\nAbort the command if it has not finished."},
    {"_ready", (PyCFunction)AioOp_ready, METH_O,
     "_ready($self, token, /)\n--\n\nLoop callback: a socket is ready."},
    {NULL, NULL, 0, NULL},
};

/* Made only by the client's _aio_* methods (3.9 lacks
 * Py_TPFLAGS_DISALLOW_INSTANTIATION). */
static PyObject *
AioOp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)type;
    (void)args;
    (void)kw;
    PyErr_SetString(PyExc_TypeError, "cannot create 'rediscluster._core.AioOp' instances");
    return NULL;
}

static PyType_Slot AioOp_slots[] = {
    {Py_tp_doc, "A command of the asyncio client: await it once for its result."},
    {Py_tp_new, AioOp_new},
    {Py_am_await, AioOp_await},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, AioOp_iternext},
    {Py_nb_bool, AioOp_bool},
    {Py_tp_dealloc, AioOp_dealloc},
    {Py_tp_traverse, AioOp_traverse},
    {Py_tp_clear, AioOp_clear},
    {Py_tp_methods, AioOp_methods},
    {0, NULL},
};

PyType_Spec AioOp_spec = {
    .name = "rediscluster._core.AioOp",
    .basicsize = sizeof(AioOpObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = AioOp_slots,
};
