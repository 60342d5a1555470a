/* cmdtype.c -- rediscluster._core.PipelineCommand: one queued pipeline command
 * (tier 3), as redis-py-cluster's PipelineCommand: .args (tuple), .options
 * (dict), .position (int) and .result (None until the pipeline ran).
 * Client._queue_command makes them and Client._execute_batch reads them and
 * stores each result; integrations read .args of every queued command.
 * No I/O here. */
#include "core.h"

typedef struct {
    PyObject_HEAD
    PyObject *args;        /* tuple (owned) */
    PyObject *options;     /* dict (owned), or NULL: made empty on first access */
    PyObject *result;      /* owned, or NULL: None */
    Py_ssize_t position;   /* index in the pipeline; -1: None */
} CommandObject;

PyObject *
rc_command_new(rc_state *st, PyObject *args, PyObject *options, Py_ssize_t position)
{
    CommandObject *self = PyObject_GC_New(CommandObject, st->CommandType);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(args);
    self->args = args;
    Py_XINCREF(options);
    self->options = options;
    self->result = NULL;
    self->position = position;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

int
rc_command_parts(rc_state *st, PyObject *item, PyObject **args, PyObject **options)
{
    if (Py_IS_TYPE(item, st->CommandType)) {
        CommandObject *c = (CommandObject *)item;
        if (c->args == NULL) {
            PyErr_SetString(PyExc_TypeError, "a cleared PipelineCommand cannot run");
            return -1;
        }
        *args = c->args;
        *options = c->options != NULL ? c->options : Py_None;
        return 1;
    }
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
        !PyTuple_Check(PyTuple_GET_ITEM(item, 0))) {
        PyErr_SetString(PyExc_TypeError,
                        "each command must be a PipelineCommand or (args tuple, options)");
        return -1;
    }
    *args = PyTuple_GET_ITEM(item, 0);
    *options = PyTuple_GET_ITEM(item, 1);
    return 0;
}

void
rc_command_set_result(PyObject *item, PyObject *result)
{
    CommandObject *c = (CommandObject *)item;
    Py_INCREF(result);
    Py_XSETREF(c->result, result);
}

/* PipelineCommand(args, options=None, position=None): 2.1.3's constructor. */
static int
Command_init(CommandObject *self, PyObject *a, PyObject *kw)
{
    static char *kwlist[] = {"args", "options", "position", NULL};
    PyObject *args = NULL, *options = Py_None, *position = Py_None, *targs;
    Py_ssize_t pos = -1;

    if (!PyArg_ParseTupleAndKeywords(a, kw, "O|OO:PipelineCommand", kwlist, &args, &options,
                                     &position)) {
        return -1;
    }
    if (options != Py_None && !PyDict_Check(options)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict or None");
        return -1;
    }
    if (position != Py_None) {
        pos = PyNumber_AsSsize_t(position, PyExc_OverflowError);
        if (pos == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (pos < 0) {
            PyErr_SetString(PyExc_ValueError, "position must be >= 0 or None");
            return -1;
        }
    }
    targs = PySequence_Tuple(args);
    if (targs == NULL) {
        return -1;
    }
    Py_XSETREF(self->args, targs);
    Py_XINCREF(options == Py_None ? NULL : options);
    Py_XSETREF(self->options, options == Py_None ? NULL : options);
    Py_CLEAR(self->result);
    self->position = pos;
    return 0;
}

static PyObject *
Command_get_args(CommandObject *self, void *c)
{
    (void)c;
    if (self->args == NULL) {
        return PyTuple_New(0);
    }
    Py_INCREF(self->args);
    return self->args;
}

static int
Command_set_args(CommandObject *self, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || !PyTuple_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "args must be a tuple");
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(self->args, v);
    return 0;
}

static PyObject *
Command_get_options(CommandObject *self, void *c)
{
    (void)c;
    if (self->options == NULL) {
        self->options = PyDict_New();
        if (self->options == NULL) {
            return NULL;
        }
    }
    Py_INCREF(self->options);
    return self->options;
}

static int
Command_set_options(CommandObject *self, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || !PyDict_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "options must be a dict");
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(self->options, v);
    return 0;
}

static PyObject *
Command_get_position(CommandObject *self, void *c)
{
    (void)c;
    if (self->position < 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromSsize_t(self->position);
}

static int
Command_set_position(CommandObject *self, PyObject *v, void *c)
{
    Py_ssize_t pos = -1;
    (void)c;
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "cannot delete position");
        return -1;
    }
    if (v != Py_None) {
        pos = PyNumber_AsSsize_t(v, PyExc_OverflowError);
        if (pos == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (pos < 0) {
            PyErr_SetString(PyExc_ValueError, "position must be >= 0 or None");
            return -1;
        }
    }
    self->position = pos;
    return 0;
}

static PyObject *
Command_get_result(CommandObject *self, void *c)
{
    (void)c;
    if (self->result == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->result);
    return self->result;
}

static int
Command_set_result(CommandObject *self, PyObject *v, void *c)
{
    (void)c;
    Py_XINCREF(v);
    Py_XSETREF(self->result, v);
    return 0;
}

static PyObject *
Command_repr(CommandObject *self)
{
    PyObject *args = Command_get_args(self, NULL), *r;
    if (args == NULL) {
        return NULL;
    }
    r = PyUnicode_FromFormat("PipelineCommand(args=%R, position=%zd)", args, self->position);
    Py_DECREF(args);
    return r;
}

static int
Command_traverse(CommandObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->args);
    Py_VISIT(self->options);
    Py_VISIT(self->result);
    return 0;
}

static int
Command_clear(CommandObject *self)
{
    Py_CLEAR(self->args);
    Py_CLEAR(self->options);
    Py_CLEAR(self->result);
    return 0;
}

static void
Command_dealloc(CommandObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Command_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyGetSetDef Command_getset[] = {
    {"args", (getter)Command_get_args, (setter)Command_set_args,
     "The command's arguments (tuple), its name first.", NULL},
    {"options", (getter)Command_get_options, (setter)Command_set_options,
     "Keyword options for the response callback (dict).", NULL},
    {"position", (getter)Command_get_position, (setter)Command_set_position,
     "Index of the command in its pipeline.", NULL},
    {"result", (getter)Command_get_result, (setter)Command_set_result,
     "The parsed reply (or exception) once the pipeline ran; None before.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Command_slots[] = {
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Command_init},
    {Py_tp_doc, "One queued pipeline command: .args, .options, .position, .result."},
    {Py_tp_repr, Command_repr},
    {Py_tp_dealloc, Command_dealloc},
    {Py_tp_traverse, Command_traverse},
    {Py_tp_clear, Command_clear},
    {Py_tp_getset, Command_getset},
    {0, NULL},
};

PyType_Spec Command_spec = {
    .name = "rediscluster._core.PipelineCommand",
    .basicsize = sizeof(CommandObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Command_slots,
};
