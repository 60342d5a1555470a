/* module.c -- rediscluster._core: module definition, state, exec (tier 3).
 * Multi-phase init; the exception classes come from rediscluster.exceptions
 * (which must not import this module). */
#include <string.h>

#include "core.h"
#include "crc16.h"

#ifndef RC_VERSION
#define RC_VERSION "0.0.0"
#endif

static struct PyModuleDef rc_module_def;


static rc_state *
rc_mod_state(PyObject *m)
{
    return (rc_state *)PyModule_GetState(m);
}

static PyObject *
rc_mod_key_slot(PyObject *m, PyObject *key)
{
    rc_state *st = rc_mod_state(m);
    rc_codec codec = {"utf-8", "strict", 1};
    const char *p;
    size_t n;
    PyObject *tmp;
    char scratch[32];
    unsigned slot;

    if (rc_encode_arg(st, &codec, key, &p, &n, &tmp, scratch) < 0) {
        return NULL;
    }
    slot = rc_key_slot(p, n);
    Py_XDECREF(tmp);
    return PyLong_FromUnsignedLong(slot);
}

static PyObject *
rc_mod_crc16(PyObject *m, PyObject *data)
{
    Py_buffer view;
    uint16_t crc;
    (void)m;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    crc = rc_crc16((const char *)view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(crc);
}

static PyObject *
rc_mod_command_keys(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    return rc_command_keys(rc_mod_state(m), args, nargs);
}

static PyObject *
rc_mod_pack_command(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    rc_state *st = rc_mod_state(m);
    rc_codec codec = {"utf-8", "strict", 1};
    rc_buf buf;
    PyObject *out = NULL;

    rc_buf_init(&buf);
    if (rc_pack_command(st, &codec, &buf, args, nargs, NULL) >= 0) {
        out = PyBytes_FromStringAndSize(buf.data, (Py_ssize_t)buf.len);
    }
    rc_buf_free(&buf);
    return out;
}

/* Reader: a standalone RESP parser object for tests (feed/gets), using the
 * same callbacks as the engine. */
typedef struct {
    PyObject_HEAD
    redisReader *reader;
    rc_replyctx ctx;
} ReaderObject;

static int
Reader_init(ReaderObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"decode_responses", "encoding", "errors", NULL};
    int decode = 0;
    const char *enc = "utf-8", *errs = "strict";
    rc_state *st = rc_state_of((PyObject *)self, (initproc)Reader_init);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(args, kw, "|$pss:Reader", kwlist, &decode,
                                                   &enc, &errs)) {
        return -1;
    }
    if (strcmp(enc, "utf-8") != 0 || strcmp(errs, "strict") != 0) {
        PyErr_SetString(PyExc_ValueError, "the test Reader supports utf-8/strict only");
        return -1;
    }
    if (self->reader != NULL) {
        rc_reader_free(self->reader);
        self->reader = NULL;
    }
    Py_CLEAR(self->ctx.deferred);
    self->ctx.st = st;
    self->ctx.decode = decode;
    self->ctx.utf8_strict = 1;
    self->ctx.encoding = "utf-8";
    self->ctx.errors = "strict";
    self->reader = rc_reader_new(&self->ctx);
    if (self->reader == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *
Reader_feed(ReaderObject *self, PyObject *data)
{
    Py_buffer view;
    int rc;
    if (self->reader == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader.__init__ was not called");
        return NULL;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    rc = rc_reader_feed(self->reader, (const char *)view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc != RC_OK) {
        PyErr_Format(self->ctx.st->ConnectionError, "Protocol error: %s", self->reader->errstr);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* gets() -> reply | False (incomplete). Redirect errors come back as their
 * exception instances; deferred errors are raised. */
static PyObject *
Reader_gets(ReaderObject *self, PyObject *unused)
{
    PyObject *obj;
    int r;
    (void)unused;
    if (self->reader == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader.__init__ was not called");
        return NULL;
    }
    r = rc_reader_get(self->reader, &self->ctx, &obj);
    if (r < 0) {
        PyObject *exc = rc_reply_take_deferred(&self->ctx);
        Py_XDECREF(exc);
        PyErr_Format(self->ctx.st->ConnectionError, "Protocol error: %s",
                     self->reader->errstr[0] ? self->reader->errstr : "bad reply");
        return NULL;
    }
    if (r == 0) {
        Py_RETURN_FALSE;
    }
    if (self->ctx.deferred != NULL) {
        Py_DECREF(obj);
        rc_restore_exception(rc_reply_take_deferred(&self->ctx));
        return NULL;
    }
    if (obj == self->ctx.st->redirect_marker) {
        Py_DECREF(obj);
        return rc_error_from_redirect(self->ctx.st, &self->ctx.redir);
    }
    return obj;
}

static void
Reader_dealloc(ReaderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    rc_reader_free(self->reader);
    Py_CLEAR(self->ctx.deferred);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Reader_methods[] = {
    {"feed", (PyCFunction)Reader_feed, METH_O, "feed($self, data, /)\n--\n\nAdd bytes."},
    {"gets", (PyCFunction)Reader_gets, METH_NOARGS,
     "gets($self, /)\n--\n\nThe next reply, or False if incomplete."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Reader_slots[] = {
    {Py_tp_doc, "RESP reader (the engine's parser) for tests and tools."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Reader_init},
    {Py_tp_dealloc, Reader_dealloc},
    {Py_tp_methods, Reader_methods},
    {0, NULL},
};

static PyType_Spec Reader_spec = {
    .name = "rediscluster._core.Reader",
    .basicsize = sizeof(ReaderObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Reader_slots,
};

/* Hot response callbacks in C (they run once per command). */
static int
rc_is_ok(PyObject *r)
{
    if (PyBytes_Check(r)) {
        return PyBytes_GET_SIZE(r) == 2 && memcmp(PyBytes_AS_STRING(r), "OK", 2) == 0;
    }
    if (PyUnicode_Check(r)) {
        return PyUnicode_CompareWithASCIIString(r, "OK") == 0;
    }
    return 0;
}

static PyObject *
rc_mod_bool_ok(PyObject *m, PyObject *r)
{
    (void)m;
    return PyBool_FromLong(rc_is_ok(r));
}

/* SET: None stays None (NX/XX not met), else whether the reply is OK;
 * with get=True (SET ... GET) the old value is returned as it is. */
static PyObject *
rc_mod_set_ok(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *r;
    (void)m;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "set_ok(reply, **options)");
        return NULL;
    }
    r = args[0];
    if (kwnames != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), "get") == 0) {
                int t = PyObject_IsTrue(args[nargs + i]);
                if (t < 0) {
                    return NULL;
                }
                if (t) {
                    Py_INCREF(r);
                    return r;
                }
            }
        }
    }
    if (r == Py_None) {
        Py_RETURN_NONE;
    }
    return PyBool_FromLong(rc_is_ok(r));
}

static PyObject *
rc_mod_set_wait_callback(PyObject *m, PyObject *cb)
{
    rc_state *st = rc_mod_state(m);
    if (cb != Py_None && !PyCallable_Check(cb)) {
        PyErr_SetString(PyExc_TypeError, "the wait callback must be callable or None");
        return NULL;
    }
    Py_XINCREF(cb == Py_None ? NULL : cb);
    Py_XSETREF(st->wait_cb, cb == Py_None ? NULL : cb);
    Py_XSETREF(st->wait_one, cb == Py_None ? NULL : rc_wait_attr_of(cb, "wait_one"));
    Py_XSETREF(st->wait_idle, cb == Py_None ? NULL : rc_wait_attr_of(cb, "idle_fd"));
    Py_RETURN_NONE;
}

static PyObject *
rc_mod_get_wait_callback(PyObject *m, PyObject *unused)
{
    rc_state *st = rc_mod_state(m);
    (void)unused;
    if (st->wait_cb == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(st->wait_cb);
    return st->wait_cb;
}

static PyMethodDef rc_module_methods[] = {
    {"set_wait_callback", (PyCFunction)rc_mod_set_wait_callback, METH_O,
     "set_wait_callback(fn, /)\n--\n\n"
     "How synchronous clients wait for their sockets: fn(fds, timeout) -> ready, where\n"
     "fds is a list of (fd, events) (select.POLLIN / POLLOUT bits), timeout seconds or\n"
     "None, and ready a list of (fd, revents); fds empty means sleep. None: the native\n"
     "driver (poll() with the GIL released). Pools made with io='native' ignore it."},
    {"get_wait_callback", (PyCFunction)rc_mod_get_wait_callback, METH_NOARGS,
     "get_wait_callback($module, /)\n--\n\nThe function set_wait_callback installed, or None."},
    {"bool_ok", (PyCFunction)rc_mod_bool_ok, METH_O,
     "bool_ok(reply, /)\n--\n\nTrue if the reply is OK (response callback)."},
    {"set_ok", (PyCFunction)(void (*)(void))rc_mod_set_ok, METH_FASTCALL | METH_KEYWORDS,
     "set_ok(reply, /, *, get=False)\n--\n\nSET's callback: None stays None, else reply == OK."},
    {"key_slot", (PyCFunction)rc_mod_key_slot, METH_O,
     "key_slot(key, /)\n--\n\nCluster slot of a key (utf-8 for str)."},
    {"crc16", (PyCFunction)rc_mod_crc16, METH_O,
     "crc16(data, /)\n--\n\nCRC16/XMODEM of a bytes-like object."},
    {"command_keys", (PyCFunction)(void (*)(void))rc_mod_command_keys, METH_FASTCALL,
     "command_keys(*args)\n--\n\nIndices into args of the command's keys."},
    {"pack_command", (PyCFunction)(void (*)(void))rc_mod_pack_command, METH_FASTCALL,
     "pack_command(*args)\n--\n\nThe RESP bytes of a command (utf-8)."},
    {NULL, NULL, 0, NULL},
};

static int
rc_exec(PyObject *m)
{
    rc_state *st = rc_mod_state(m);
    PyObject *exc = NULL, *reader_type = NULL, *sub_type = NULL;
    int ret = -1;

    rc_fork_install();
    exc = PyImport_ImportModule("rediscluster.exceptions");
    if (exc == NULL || rc_errors_load(st, exc) < 0) {
        goto done;
    }
    st->redirect_marker = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    st->str_upper = PyUnicode_InternFromString("upper");
    st->str_empty = PyUnicode_FromString("");
    if (st->redirect_marker == NULL || st->str_upper == NULL || st->str_empty == NULL) {
        goto done;
    }
    st->PoolType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &Pool_spec, NULL);
    if (st->PoolType == NULL || PyModule_AddType(m, st->PoolType) < 0) {
        goto done;
    }
    st->ClientType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &Client_spec, NULL);
    if (st->ClientType == NULL || PyModule_AddType(m, st->ClientType) < 0) {
        goto done;
    }
    st->ConnectionType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &Connection_spec, NULL);
    if (st->ConnectionType == NULL || PyModule_AddType(m, st->ConnectionType) < 0) {
        goto done;
    }
    st->CommandType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &Command_spec, NULL);
    if (st->CommandType == NULL || PyModule_AddType(m, st->CommandType) < 0) {
        goto done;
    }
    sub_type = PyType_FromModuleAndSpec(m, &Subscriber_spec, NULL);
    if (sub_type == NULL || PyModule_AddType(m, (PyTypeObject *)sub_type) < 0) {
        goto done;
    }
    st->AioOpType = (PyTypeObject *)PyType_FromModuleAndSpec(m, &AioOp_spec, NULL);
    if (st->AioOpType == NULL || PyModule_AddType(m, st->AioOpType) < 0 ||
        rc_aio_init_strings(st) < 0) {
        goto done;
    }
    reader_type = PyType_FromModuleAndSpec(m, &Reader_spec, NULL);
    if (reader_type == NULL || PyModule_AddType(m, (PyTypeObject *)reader_type) < 0) {
        goto done;
    }
    if (PyModule_AddStringConstant(m, "__version__", RC_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "command_table_version", rc_cmd_table_version()) < 0) {
        goto done;
    }
    {
        PyObject *hv = Py_BuildValue("(iii)", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
        if (hv == NULL || PyModule_AddObject(m, "hiredis_version", hv) < 0) {
            Py_XDECREF(hv);
            goto done;
        }
    }
    ret = 0;
done:
    Py_XDECREF(reader_type);
    Py_XDECREF(sub_type);
    Py_XDECREF(exc);
    return ret;
}

static int
rc_traverse(PyObject *m, visitproc visit, void *arg)
{
    rc_state *st = rc_mod_state(m);
    Py_VISIT(st->PoolType);
    Py_VISIT(st->ClientType);
    Py_VISIT(st->ConnectionType);
    Py_VISIT(st->CommandType);
    Py_VISIT(st->AioOpType);
    Py_VISIT(st->get_running_loop);
    Py_VISIT(st->redirect_marker);
    Py_VISIT(st->str_upper);
    Py_VISIT(st->str_empty);
    Py_VISIT(st->wait_cb);
    Py_VISIT(st->wait_one);
    Py_VISIT(st->wait_idle);
    Py_VISIT(st->RedisError);
    Py_VISIT(st->ConnectionError);
    Py_VISIT(st->TimeoutError);
    Py_VISIT(st->AuthenticationError);
    Py_VISIT(st->ClusterAuthenticationError);
    Py_VISIT(st->ResponseError);
    Py_VISIT(st->DataError);
    Py_VISIT(st->RedisClusterException);
    Py_VISIT(st->ClusterError);
    Py_VISIT(st->ClusterDownError);
    Py_VISIT(st->SlotNotCoveredError);
    Py_VISIT(st->MovedError);
    Py_VISIT(st->AskError);
    Py_VISIT(st->TryAgainError);
    Py_VISIT(st->MasterDownError);
    Py_VISIT(st->BusyLoadingError);
    for (int i = 0; i < st->nerrcodes; i++) {
        Py_VISIT(st->errcodes[i].cls);
    }
    return 0;
}

static int
rc_clear(PyObject *m)
{
    rc_state *st = rc_mod_state(m);
    Py_CLEAR(st->PoolType);
    Py_CLEAR(st->ClientType);
    Py_CLEAR(st->ConnectionType);
    Py_CLEAR(st->CommandType);
    Py_CLEAR(st->AioOpType);
    Py_CLEAR(st->get_running_loop);
    for (size_t i = 0; i < sizeof st->aio_str / sizeof st->aio_str[0]; i++) {
        Py_CLEAR(st->aio_str[i]);
    }
    Py_CLEAR(st->redirect_marker);
    Py_CLEAR(st->str_upper);
    Py_CLEAR(st->str_empty);
    Py_CLEAR(st->wait_cb);
    Py_CLEAR(st->wait_one);
    Py_CLEAR(st->wait_idle);
    rc_errors_clear(st);
    return 0;
}

static void
rc_free(void *m)
{
    rc_clear((PyObject *)m);
}

static PyModuleDef_Slot rc_module_slots[] = {
    {Py_mod_exec, rc_exec},
    {0, NULL},
};

static struct PyModuleDef rc_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "rediscluster._core",
    .m_doc = "The C engine of rediscluster: routing, connections, RESP, redirects.",
    .m_size = sizeof(rc_state),
    .m_methods = rc_module_methods,
    .m_slots = rc_module_slots,
    .m_traverse = rc_traverse,
    .m_clear = rc_clear,
    .m_free = rc_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&rc_module_def);
}
