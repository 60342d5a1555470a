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
 * The asyncio client does not use this file: it drives ops from its loop. */
#include <errno.h>
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

/* One native wait (GIL released) and the I/O it allows. */
static void
rc_native_wait(rc_op *op)
{
    rc_wait *w = &op->wait;
    int ms = rc_ms_until(w->deadline, RC_NET_TICK);

    Py_BEGIN_ALLOW_THREADS
    if (w->may_block) {
        rc_op_io(op, 1);
    } else {
        int rc = poll(w->nfds ? w->fds : NULL, (nfds_t)w->nfds, w->ready_now ? 0 : ms);
        if (rc > 0 || (rc == 0 && w->ready_now)) {
            rc_op_io(op, 0);
        }
    }
    Py_END_ALLOW_THREADS
}

PyObject *
rc_wait_one_of(PyObject *fn)
{
    PyObject *one = PyObject_GetAttrString(fn, "wait_one");
    if (one == NULL || !PyCallable_Check(one)) {
        PyErr_Clear();
        Py_XDECREF(one);
        return NULL;
    }
    return one;
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

/* One wait on one socket through a wait function's one-socket form. 0, or
 * -1 with an exception set. */
static int
rc_callback_wait_one(rc_op *op, PyObject *one, PyObject *timeout)
{
    struct pollfd *p = &op->wait.fds[0];
    PyObject *res = PyObject_CallFunction(one, "iiO", p->fd, (int)p->events, timeout);
    long rev;
    if (res == NULL) {
        return -1;
    }
    rev = PyLong_AsLong(res);
    Py_DECREF(res);
    if (rev == -1 && PyErr_Occurred()) {
        PyErr_Format(PyExc_TypeError, "wait_one must return the revents as an int");
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
    if (cb == NULL && op->n == 1 && rc_op_fast_start(op) == 0 && PyErr_CheckSignals() < 0) {
        rc_op_abort(op, NULL);
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
