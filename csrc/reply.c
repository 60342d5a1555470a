/* reply.c -- hiredis reader callbacks that build Python objects (tier 1).
 *
 * Contract with hiredis: a callback returns the object it built, already
 * stored in its parent list when it has one; only the top-level object is
 * ever handed to freeObject. Failures while building an element (a decode
 * error, say) never return NULL: the first exception is kept in
 * ctx->deferred, a None placeholder takes the element's place, and the reply
 * is finished so the reader keeps its place in the stream (hiredis-py's
 * approach). Arrays are the exception: a failed list allocation returns NULL,
 * which hiredis turns into a reader error and the connection is closed.
 * Never called without the GIL. No I/O here. */
#include "reply.h" /* Python.h before any system header */

#include <string.h>

#if HIREDIS_MAJOR >= 1
typedef size_t rc_nelem;
#else
typedef int rc_nelem;
#endif

PyObject *
rc_fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&t, &v, &tb);
    if (v == NULL) {
        Py_INCREF(Py_None);
        v = Py_None;
    }
    if (tb != NULL && PyExceptionInstance_Check(v)) {
        PyException_SetTraceback(v, tb);
    }
    Py_DECREF(t);
    Py_XDECREF(tb);
    return v;
#endif
}

void
rc_restore_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *t = (PyObject *)Py_TYPE(exc), *tb = PyException_GetTraceback(exc);
    Py_INCREF(t);
    PyErr_Restore(t, exc, tb);
#endif
}

/* Keep the first failure; later ones are dropped. */
static void
rc_defer(rc_replyctx *ctx)
{
    PyObject *exc = rc_fetch_exception();
    if (ctx->deferred == NULL) {
        ctx->deferred = exc;
    } else {
        Py_XDECREF(exc);
    }
}

/* Store obj into its parent list (stealing it) and return it. */
static void *
rc_attach(const redisReadTask *task, PyObject *obj)
{
    if (task->parent != NULL) {
        PyObject *parent = (PyObject *)task->parent->obj;
        PyList_SET_ITEM(parent, task->idx, obj);
    }
    return obj;
}

static void *
rc_create_string(const redisReadTask *task, char *str, size_t len)
{
    rc_replyctx *ctx = (rc_replyctx *)task->privdata;
    PyObject *obj;

    if (task->type == REDIS_REPLY_ERROR) {
        if (task->parent == NULL &&
            rc_redirect_parse(str, len, &ctx->redir) != RC_REDIR_NONE) {
            obj = ctx->st->redirect_marker;
            Py_INCREF(obj);
        } else {
            obj = rc_error_from_reply(ctx->st, str, len);
        }
    } else if (!ctx->decode) {
        obj = PyBytes_FromStringAndSize(str, (Py_ssize_t)len);
    } else if (ctx->utf8_strict) {
        obj = PyUnicode_DecodeUTF8(str, (Py_ssize_t)len, NULL);
    } else {
        obj = PyUnicode_Decode(str, (Py_ssize_t)len, ctx->encoding, ctx->errors);
    }
    if (obj == NULL) {
        rc_defer(ctx);
        Py_INCREF(Py_None);
        obj = Py_None;
    }
    return rc_attach(task, obj);
}

static void *
rc_create_array(const redisReadTask *task, rc_nelem n)
{
    rc_replyctx *ctx = (rc_replyctx *)task->privdata;
    PyObject *obj;

    if ((unsigned long long)n > (unsigned long long)PY_SSIZE_T_MAX / sizeof(PyObject *)) {
        return NULL;
    }
    obj = PyList_New((Py_ssize_t)n);
    if (obj == NULL) {
        /* Cannot place children into a placeholder: fail the reader. */
        rc_defer(ctx);
        return NULL;
    }
    return rc_attach(task, obj);
}

static void *
rc_create_integer(const redisReadTask *task, long long v)
{
    PyObject *obj = PyLong_FromLongLong(v);
    if (obj == NULL) {
        rc_defer((rc_replyctx *)task->privdata);
        Py_INCREF(Py_None);
        obj = Py_None;
    }
    return rc_attach(task, obj);
}

static void *
rc_create_nil(const redisReadTask *task)
{
    Py_INCREF(Py_None);
    return rc_attach(task, Py_None);
}

#if HIREDIS_MAJOR >= 1
static void *
rc_create_double(const redisReadTask *task, double v, char *str, size_t len)
{
    PyObject *obj = PyFloat_FromDouble(v);
    (void)str;
    (void)len;
    if (obj == NULL) {
        rc_defer((rc_replyctx *)task->privdata);
        Py_INCREF(Py_None);
        obj = Py_None;
    }
    return rc_attach(task, obj);
}

static void *
rc_create_bool(const redisReadTask *task, int v)
{
    PyObject *obj = v ? Py_True : Py_False;
    Py_INCREF(obj);
    return rc_attach(task, obj);
}
#endif

static void
rc_free_object(void *obj)
{
    Py_XDECREF((PyObject *)obj);
}

static redisReplyObjectFunctions rc_reply_fns = {
    .createString = rc_create_string,
    .createArray = rc_create_array,
    .createInteger = rc_create_integer,
#if HIREDIS_MAJOR >= 1
    .createDouble = rc_create_double,
    .createBool = rc_create_bool,
#endif
    .createNil = rc_create_nil,
    .freeObject = rc_free_object,
};

redisReader *
rc_reader_new(rc_replyctx *ctx)
{
    redisReader *r = redisReaderCreateWithFunctions(&rc_reply_fns);
    if (r == NULL) {
        return NULL;
    }
    r->privdata = ctx;
    /* Keep up to 64 KiB of spare buffer between replies instead of freeing
     * it after each one (hiredis default is 16 KiB). */
    r->maxbuf = 64 * 1024;
    return r;
}

void
rc_reader_free(redisReader *r)
{
    if (r != NULL) {
        redisReaderFree(r);
    }
}

int
rc_reader_feed(redisReader *r, const char *p, size_t n)
{
    return redisReaderFeed(r, p, n) == REDIS_OK ? RC_OK : RC_ERR;
}

int
rc_reader_get(redisReader *r, rc_replyctx *ctx, PyObject **out)
{
    void *reply = NULL;

    *out = NULL;
    ctx->redir.kind = RC_REDIR_NONE;
    if (redisReaderGetReply(r, &reply) != REDIS_OK) {
        if (PyErr_Occurred()) {
            rc_defer(ctx);
        }
        return -1;
    }
    if (reply == NULL) {
        return 0;
    }
    *out = (PyObject *)reply;
    return 1;
}

size_t
rc_reader_pending(const redisReader *r)
{
    return r->len - r->pos;
}

PyObject *
rc_reply_take_deferred(rc_replyctx *ctx)
{
    PyObject *exc = ctx->deferred;
    ctx->deferred = NULL;
    return exc;
}
