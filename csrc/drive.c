/* drive.c -- the sync drivers: how a synchronous caller waits while an op
 * (engine.c) is not done (tier 2).
 *
 * The native driver waits with poll() and the GIL released -- for one
 * plain-TCP socket with blocking send/recv, bounded by the socket's tick --
 * and returns to run Python's signal handlers at least every RC_NET_TICK.
 * The callback driver hands each wait to a Python function
 * wait(fds, timeout) -> [(fd, revents), ...] with fds [(fd, events), ...]
 * (select.POLLIN / POLLOUT bits) and timeout in seconds or None; fds empty
 * means a sleep. gevent's (rediscluster/_drivers.py) waits on the hub, so
 * other greenlets run meanwhile; set_wait_callback() installs any other.
 * Name lookups follow the same choice: getaddrinfo with the GIL released, or
 * the socket module's getaddrinfo (gevent patches it).
 *
 * Busy polling: a wait may first poll its sockets without sleeping for up
 * to busy_poll microseconds (rc_spin_budget says when), then wait as usual.
 * A reply from a server on the same host comes in a few tens of
 * microseconds, and going to sleep and being woken costs as much (much more
 * in a virtual machine), so the spin halves such a command's latency for
 * about the CPU time the sleep would have cost. Only while the op is the
 * process's only sync op running -- with other threads or greenlets in
 * commands the CPU has other work -- and, with a wait function, only while
 * its framework has nothing else to run (its idle_fd); only for replies
 * (not to connect or write); never for
 * blocking commands or pub/sub reads; and adaptively, per client: after
 * four misses in a row (no reply within the budget) the next 16 waits skip
 * the spin, each further miss doubles that (up to 256), and a hit resets
 * it. A remote server thus costs a failed spin every 256 waits.
 *
 * The asyncio client does not use this file: it drives ops from its loop. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>

#include "engine.h"

/* The wait function sync callers of cl use, or NULL for the native driver
 * (borrowed). */
static PyObject *
rc_driver_cb(rc_cluster *cl)
{
    if (cl->wait_cb != NULL) {
        return cl->wait_cb;
    }
    return cl->io_native ? NULL : cl->st->wait_cb;
}

static int
rc_ms_until(double deadline, double cap)
{
    double left;
    if (deadline <= 0) {
        return (int)(cap * 1000.0);
    }
    left = deadline - rc_net_now();
    if (left <= 0) {
        return 0;
    }
    if (left > cap) {
        left = cap;
    }
    return (int)(left * 1000.0) + 1;
}

/* Sync ops running in the process (rc_op_run), for rc_spin_budget. */
static int rc_sync_ops;

void
rc_drive_after_fork(void)
{
    __atomic_store_n(&rc_sync_ops, 0, __ATOMIC_RELAXED);
}

/* Until when the op's next wait may busy-poll before sleeping (rc_net_now()
 * time), or 0: not this time (see the file comment). rc_spin_budget, once
 * busy_poll is known to be on. No GIL needed. */
static double
rc_spin_budget_slow(rc_op *op)
{
    rc_cluster *cl = op->cl;
    unsigned skip;
    double until;

    if (op->no_spin || op->held_mode == RC_HELD_READ ||
        __atomic_load_n(&rc_sync_ops, __ATOMIC_RELAXED) != 1) {
        return 0;
    }
    skip = __atomic_load_n(&cl->spin_skip, __ATOMIC_RELAXED);
    if (skip > 0) {
        __atomic_store_n(&cl->spin_skip, skip - 1, __ATOMIC_RELAXED);
        return 0;
    }
    until = rc_net_now() + cl->cfg.busy_poll;
    if (op->wait.deadline > 0 && op->wait.deadline < until) {
        until = op->wait.deadline;
    }
    return until;
}

static inline double
rc_spin_budget(rc_op *op)
{
    return op->cl->cfg.busy_poll > 0 ? rc_spin_budget_slow(op) : 0;
}

/* 1 if the wait is for replies only (every socket POLLIN): what busy
 * polling is for -- a wait to write or connect is over at once or takes
 * long, and says nothing of how fast the server answers. */
static int
rc_wait_reading(const rc_wait *w)
{
    if (w->nfds == 0 || w->ready_now) {
        return 0;
    }
    for (int i = 0; i < w->nfds; i++) {
        if (w->fds[i].events != POLLIN) {
            return 0;
        }
    }
    return 1;
}

/* What a spin found: hit (the socket became ready) or not. */
static void
rc_spin_note(rc_cluster *cl, int hit)
{
    unsigned miss = 0;
    __atomic_add_fetch(hit ? &cl->spin_hits : &cl->spin_misses, 1, __ATOMIC_RELAXED);
    if (!hit) {
        miss = __atomic_load_n(&cl->spin_miss, __ATOMIC_RELAXED);
        miss = miss < 8 ? miss + 1 : 8;
    }
    __atomic_store_n(&cl->spin_miss, miss, __ATOMIC_RELAXED);
    __atomic_store_n(&cl->spin_skip, miss < 4 ? 0u : 1u << miss, __ATOMIC_RELAXED);
}

/* One native wait (GIL released) and the I/O it allows. */
static void
rc_native_wait(rc_op *op)
{
    rc_wait *w = &op->wait;
    int ms = rc_ms_until(w->deadline, RC_NET_TICK);
    double spin = rc_wait_reading(w) ? rc_spin_budget(op) : 0;
    int spun = 0;

    Py_BEGIN_ALLOW_THREADS
    if (spin > 0) {
        spun = rc_net_spin(w->fds, w->nfds, spin);
    }
    if (spun > 0) {
        rc_op_io(op, 0);
    } else if (w->may_block) {
        rc_op_io(op, 1);
    } else {
        int rc = poll(w->nfds ? w->fds : NULL, (nfds_t)w->nfds, w->ready_now ? 0 : ms);
        if (rc > 0 || (rc == 0 && w->ready_now)) {
            rc_op_io(op, 0);
        }
    }
    Py_END_ALLOW_THREADS
    if (spin > 0) {
        rc_spin_note(op->cl, spun > 0);
    }
}

PyObject *
rc_wait_attr_of(PyObject *fn, const char *name)
{
    PyObject *a = PyObject_GetAttrString(fn, name);
    if (a == NULL || !PyCallable_Check(a)) {
        PyErr_Clear();
        Py_XDECREF(a);
        return NULL;
    }
    return a;
}

/* The wait function's one-socket form matching cb (borrowed), or NULL. */
static PyObject *
rc_driver_one(rc_cluster *cl, PyObject *cb)
{
    if (cb == cl->wait_cb) {
        return cl->wait_one;
    }
    return cb == cl->st->wait_cb ? cl->st->wait_one : NULL;
}

/* The wait function's idle test matching cb (borrowed), or NULL. */
static PyObject *
rc_driver_idle(rc_cluster *cl, PyObject *cb)
{
    if (cb == cl->wait_cb) {
        return cl->wait_idle;
    }
    return cb == cl->st->wait_cb ? cl->st->wait_idle : NULL;
}

/* The int a wait function's attribute returned (res: its result, a new
 * reference, consumed; NULL: it raised). 0, or -1 with an exception set --
 * a TypeError saying `what` if res is no int. */
static int
rc_int_result(PyObject *res, const char *what, long *out)
{
    if (res == NULL) {
        return -1;
    }
    *out = PyLong_AsLong(res);
    Py_DECREF(res);
    if (*out == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "%s", what);
        return -1;
    }
    return 0;
}

/* Before a wait on one socket through the wait function cb: busy-poll the
 * socket while the framework stays idle (its idle_fd not readable). 1 if
 * the socket became ready (revents set: no wait needed), 0 if not, -1 with
 * an exception set (idle_fd failed). */
static int
rc_callback_spin(rc_op *op, PyObject *cb)
{
    PyObject *idle = rc_driver_idle(op->cl, cb);
    struct pollfd f[2];
    double spin;
    long side;
    int spun;

    if (idle == NULL || !rc_wait_reading(&op->wait) || (spin = rc_spin_budget(op)) <= 0) {
        return 0;
    }
    if (rc_int_result(PyObject_CallNoArgs(idle), "idle_fd must return a file descriptor or -1",
                      &side) < 0) {
        return -1;
    }
    if (side < 0 || side > INT_MAX) {
        return 0; /* the framework has work to do */
    }
    f[0] = op->wait.fds[0];
    f[0].revents = 0;
    f[1].fd = (int)side;
    f[1].events = POLLIN;
    f[1].revents = 0;
    Py_BEGIN_ALLOW_THREADS
    spun = rc_net_spin(f, 2, spin);
    Py_END_ALLOW_THREADS
    if (spun > 0 && f[0].revents != 0) {
        op->wait.fds[0].revents = f[0].revents;
        rc_spin_note(op->cl, 1);
        return 1;
    }
    if (spun == 0) {
        rc_spin_note(op->cl, 0); /* (not when the framework woke: no verdict) */
    }
    return 0;
}

/* One wait on one socket through a wait function's one-socket form. 0, or
 * -1 with an exception set. */
static int
rc_callback_wait_one(rc_op *op, PyObject *one, PyObject *timeout)
{
    struct pollfd *p = &op->wait.fds[0];
    long rev;
    if (rc_int_result(PyObject_CallFunction(one, "iiO", p->fd, (int)p->events, timeout),
                      "wait_one must return the revents as an int", &rev) < 0) {
        return -1;
    }
    p->revents = (short)rev;
    rc_op_io(op, 0);
    return 0;
}

/* One wait through the wait function cb. 0, or -1 with an exception set. */
static int
rc_callback_wait(rc_op *op, PyObject *cb)
{
    rc_wait *w = &op->wait;
    PyObject *fds = NULL, *timeout = NULL, *res = NULL, *it = NULL, *item, *one;
    double left = -1;
    int ret = -1;

    if (w->ready_now) {
        left = 0;
    } else if (w->deadline > 0) {
        left = w->deadline - rc_net_now();
        if (left < 0) {
            left = 0;
        }
    }
    timeout = left < 0 ? (Py_INCREF(Py_None), Py_None) : PyFloat_FromDouble(left);
    if (timeout == NULL) {
        goto done;
    }
    one = w->nfds == 1 ? rc_driver_one(op->cl, cb) : NULL;
    if (one != NULL) {
        int spun = rc_callback_spin(op, cb);
        if (spun != 0) {
            if (spun > 0) {
                rc_op_io(op, 0);
                ret = 0;
            }
            goto done;
        }
        ret = rc_callback_wait_one(op, one, timeout);
        goto done;
    }
    fds = PyList_New(w->nfds);
    if (fds == NULL) {
        goto done;
    }
    for (int i = 0; i < w->nfds; i++) {
        PyObject *t = Py_BuildValue("(ii)", w->fds[i].fd, (int)w->fds[i].events);
        if (t == NULL) {
            goto done;
        }
        PyList_SET_ITEM(fds, i, t);
        w->fds[i].revents = 0;
    }
    res = PyObject_CallFunctionObjArgs(cb, fds, timeout, NULL);
    if (res == NULL) {
        goto done;
    }
    if (res != Py_None) {
        it = PyObject_GetIter(res);
        if (it == NULL) {
            goto done;
        }
        while ((item = PyIter_Next(it)) != NULL) {
            int fd = -1, rev = 0, ok = PyArg_ParseTuple(item, "ii", &fd, &rev);
            Py_DECREF(item);
            if (!ok) {
                PyErr_Format(PyExc_TypeError,
                             "the wait callback must return (fd, revents) pairs");
                goto done;
            }
            for (int i = 0; i < w->nfds; i++) {
                if (w->fds[i].fd == fd) {
                    w->fds[i].revents |= (short)rev;
                }
            }
        }
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    rc_op_io(op, 0);
    ret = 0;
done:
    Py_XDECREF(fds);
    Py_XDECREF(timeout);
    Py_XDECREF(res);
    Py_XDECREF(it);
    return ret;
}

int
rc_op_run(rc_op *op)
{
    rc_cluster *cl = op->cl;
    PyObject *cb = rc_driver_cb(cl);

    Py_XINCREF(cb); /* set_wait_callback may replace it meanwhile */
    __atomic_add_fetch(&rc_sync_ops, 1, __ATOMIC_RELAXED);
    if (cb == NULL && op->n == 1) {
        int spun = 0;
        int r = rc_op_fast_start(op, rc_spin_budget(op), &spun);
        if (spun != 0) {
            rc_spin_note(cl, spun > 0);
        }
        if (r == 0 && PyErr_CheckSignals() < 0) {
            rc_op_abort(op, NULL);
        }
    }
    for (;;) {
        int r = rc_op_step(op);
        if (r == RC_OP_DONE) {
            break;
        }
        if (r == RC_OP_REFRESH) {
            if (rc_cluster_refresh(cl, 1) < 0) {
                rc_op_abort(op, NULL);
            }
            continue;
        }
        if (cb != NULL) {
            /* A wait on the hub costs a switch or two: write first, then
             * wait for the replies only. */
            if (rc_op_send_now(op)) {
                continue;
            }
            if (rc_callback_wait(op, cb) < 0) {
                rc_op_abort(op, NULL);
                continue;
            }
        } else {
            rc_native_wait(op);
        }
        if (PyErr_CheckSignals() < 0) {
            rc_op_abort(op, NULL);
        }
    }
    __atomic_sub_fetch(&rc_sync_ops, 1, __ATOMIC_RELAXED);
    Py_XDECREF(cb);
    if (op->fatal != NULL) {
        rc_restore_exception(op->fatal);
        op->fatal = NULL;
        return -1;
    }
    return 0;
}

int
rc_cluster_sleep(rc_cluster *cl, double seconds)
{
    PyObject *cb = rc_driver_cb(cl), *r;
    if (cb == NULL) {
        Py_BEGIN_ALLOW_THREADS
        rc_net_sleep(seconds);
        Py_END_ALLOW_THREADS
        return PyErr_CheckSignals();
    }
    Py_INCREF(cb);
    r = PyObject_CallFunction(cb, "[]d", seconds);
    Py_DECREF(cb);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Addresses from socket.getaddrinfo (the wait function's world). */
static int
rc_resolve_python(rc_node *node, rc_err *err)
{
    PyObject *mod = NULL, *res = NULL, *seq = NULL;
    int n = 0, ret = RC_ST_PY;

    mod = PyImport_ImportModule("socket");
    if (mod == NULL) {
        goto done;
    }
    res = PyObject_CallMethod(mod, "getaddrinfo", "sii", node->host, node->port, 0,
                              (int)SOCK_STREAM);
    if (res == NULL) {
        if (PyErr_ExceptionMatches(PyExc_OSError)) {
            PyObject *exc = rc_fetch_exception();
            PyObject *s = exc ? PyObject_Str(exc) : NULL;
            const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
            PyErr_Clear();
            rc_err_set(err, RC_E_RESOLVE, 0, "Error connecting to %s:%d. %s.", node->host,
                       node->port, msg ? msg : "name lookup failed");
            Py_XDECREF(s);
            Py_XDECREF(exc);
            ret = RC_ST_NET;
        }
        goto done;
    }
    seq = PySequence_Fast(res, "getaddrinfo");
    if (seq == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && n < RC_MAX_ADDRS; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i), *sa;
        const char *ip;
        int family;
        if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) < 5) {
            continue;
        }
        family = (int)PyLong_AsLong(PyTuple_GET_ITEM(e, 0));
        sa = PyTuple_GET_ITEM(e, 4);
        if (PyErr_Occurred() || !PyTuple_Check(sa) || PyTuple_GET_SIZE(sa) < 2) {
            PyErr_Clear();
            continue;
        }
        ip = PyUnicode_AsUTF8(PyTuple_GET_ITEM(sa, 0));
        if (ip == NULL) {
            PyErr_Clear();
            continue;
        }
        if ((family == AF_INET || family == AF_INET6) && rc_net_is_numeric(ip)) {
            rc_err e2;
            rc_err_clear(&e2);
            if (rc_net_resolve(ip, node->port, &node->addrs[n].sa, &node->addrs[n].len, 1,
                               &e2) == 1) {
                n++;
            }
        }
    }
    if (n == 0) {
        rc_err_set(err, RC_E_RESOLVE, 0, "Error connecting to %s:%d. No address.", node->host,
                   node->port);
        ret = RC_ST_NET;
        goto done;
    }
    node->naddrs = n;
    ret = RC_ST_OK;
done:
    Py_XDECREF(mod);
    Py_XDECREF(res);
    Py_XDECREF(seq);
    return ret;
}

int
rc_cluster_resolve(rc_cluster *cl, rc_node *node, rc_err *err)
{
    struct sockaddr_storage ss[RC_MAX_ADDRS];
    socklen_t lens[RC_MAX_ADDRS];
    int n;

    if (!rc_net_is_numeric(node->host) && rc_driver_cb(cl) != NULL) {
        return rc_resolve_python(node, err);
    }
    if (rc_net_is_numeric(node->host)) {
        n = rc_net_resolve(node->host, node->port, ss, lens, RC_MAX_ADDRS, err);
    } else {
        Py_BEGIN_ALLOW_THREADS
        n = rc_net_resolve(node->host, node->port, ss, lens, RC_MAX_ADDRS, err);
        Py_END_ALLOW_THREADS
    }
    if (n < 0) {
        return RC_ST_NET;
    }
    for (int i = 0; i < n; i++) {
        node->addrs[i].sa = ss[i];
        node->addrs[i].len = lens[i];
    }
    node->naddrs = n;
    return RC_ST_OK;
}
