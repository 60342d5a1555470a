/* core.h -- the Python object layouts of rediscluster._core and the helpers
 * module.c gives the type files (tier 3). */
#ifndef RC_CORE_H
#define RC_CORE_H

#include "commands.h"
#include "engine.h"

#include <structmember.h>

typedef struct PoolObject {
    PyObject_HEAD
    rc_state *st;          /* module state (borrowed; the type keeps the module) */
    rc_cluster cl;         /* nodes, slot map, connections */
    int ready;             /* __init__ ran */
    uint64_t rng;          /* xorshift state for random node choice */
    PyObject *weakrefs;
} PoolObject;

typedef struct ClientObject {
    PyObject_HEAD
    rc_state *st;
    PoolObject *pool;              /* owned */
    PyObject *response_callbacks;  /* dict: upper-case name -> callable */
    PyObject *nodes_flags;         /* dict: upper-case name -> routing flag str */
    PyObject *result_callbacks;    /* dict: upper-case name -> merge callable */
    rc_limits lim;                 /* TTL and CLUSTERDOWN retries */
    int read_from_replicas;
    PyObject *queue;               /* pipelines: list of (args, options) */
    PyObject *aio_batch;           /* asyncio: the batch commands join in this loop
                                      iteration (an AioOp not started yet), or NULL */
    PyObject *weakrefs;
    /* execute_command's memo of the last command name: the exact,
     * upper-case str object passed (owned, so its address cannot be
     * reused) and its entry of the static command table. */
    PyObject *hot_name;
    const struct rc_cmdinfo *hot_ci;
} ClientObject;

/* The module state reached from an instance of one of our types or of a
 * Python subclass: the first type of its MRO whose tp_init is `ours` (the C
 * type's own init) was made from this module. (No reference to module.c's
 * definition: the type files stay below module.c.) NULL with an exception
 * set if none. GIL. */
static inline rc_state *
rc_state_of(PyObject *self, initproc ours)
{
    PyObject *mro = Py_TYPE(self)->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (PyType_HasFeature(t, Py_TPFLAGS_HEAPTYPE) &&
            PyType_GetSlot(t, Py_tp_init) == (void *)ours) {
            return (rc_state *)PyType_GetModuleState(t);
        }
    }
    PyErr_SetString(PyExc_TypeError, "not a rediscluster._core object");
    return NULL;
}

extern PyType_Spec Pool_spec;
extern PyType_Spec Client_spec;
extern PyType_Spec Connection_spec;
extern PyType_Spec Command_spec;
extern PyType_Spec Subscriber_spec;

/* ---- cmdtype.c: PipelineCommand ---- */

/* A new PipelineCommand (new reference) holding `args` (a tuple) and
 * `options` (a dict, or NULL for none yet); borrowed arguments. NULL with
 * MemoryError. GIL. */
PyObject *rc_command_new(rc_state *st, PyObject *args, PyObject *options, Py_ssize_t position);

/* The args tuple and options (dict or None) of a batch item: a
 * PipelineCommand (returns 1) or an (args tuple, options) pair (returns 0).
 * Borrowed references. -1 with TypeError for anything else. GIL. */
int rc_command_parts(rc_state *st, PyObject *item, PyObject **args, PyObject **options);

/* Store `result` (borrowed) as the .result of a PipelineCommand. GIL. */
void rc_command_set_result(PyObject *item, PyObject *result);

/* A held connection to node index `node` of the pool (new reference), or
 * NULL with ConnectionError/TimeoutError/... set. GIL. */
PyObject *rc_connection_new(PoolObject *pool, int node);

/* ---- conntype.c: what subscriber.c needs of a Connection (GIL) ---- */

/* Hold Connection `obj` for an op of the caller's: its pool and rc_conn
 * (borrowed), marked in use until rc_connection_unhold. -1 with the error
 * read() would raise (not a Connection, closed, in use by another thread,
 * opened before fork()). */
int rc_connection_hold(rc_state *st, PyObject *obj, PoolObject **pool, rc_conn **conn);
void rc_connection_unhold(PyObject *obj);
/* The reply kept for the next read() (can_read, or a subscriber's extra
 * one): stolen, or NULL. */
PyObject *rc_connection_take_peeked(PyObject *obj);
/* The caller's op read a reply of obj's connection: counted as read() does;
 * keep=1: `reply` (stolen) is kept for the next read. */
void rc_connection_took(PyObject *obj, PyObject *reply, int keep);
/* obj's connection failed (conn->err set): closed, its error returned
 * (a new exception instance; NULL with an exception set on memory errors). */
PyObject *rc_connection_failed(PyObject *obj);

/* Slot of a key encoded by the pool's rules; -1 with DataError set. GIL. */
int rc_pool_keyslot(PoolObject *pool, PyObject *key);

/* Random number for node choice. */
uint64_t rc_pool_random(PoolObject *pool);

/* ---- client.c: the halves of the Client's entry points around running
 * the op, for the asyncio driver (aio.c). GIL. ---- */

/* execute_command's routing: 0 with op holding the one command, 1 for a
 * command routed by nodes_flags (*flag set, op untouched), -1 with an
 * exception set. *upper (the upper-case name) and *flag are new references
 * on 0 and 1. *blocking (if given) tells whether the command may block the
 * connection (BLPOP, XREAD BLOCK, a command the table does not know). */
int rc_client_prepare(ClientObject *self, PyObject *const *args, Py_ssize_t nargs, rc_op *op,
                      PyObject **upper, PyObject **flag, int *blocking);
/* A reply through the command's response callback (new reference), or
 * NULL with the callback's error set. */
PyObject *rc_client_parse(ClientObject *self, PyObject *reply, PyObject *upper,
                          PyObject *const *kwvalues, PyObject *kwnames);
/* The parsed reply of op's one command (response callback applied), or NULL
 * with its error set. */
PyObject *rc_client_finish(ClientObject *self, rc_op *op, PyObject *upper,
                           PyObject *const *kwvalues, PyObject *kwnames);
/* A fan-out command: targets (malloc'ed; the caller frees *targets, also on
 * failure) and op; then the merged result. */
int rc_client_flagged_prepare(ClientObject *self, PyObject *flag, PyObject *upper,
                              PyObject *const *args, Py_ssize_t nargs, rc_op *op, int **targets,
                              int *nt);
PyObject *rc_client_flagged_finish(ClientObject *self, PyObject *upper, rc_op *op,
                                   const int *targets, int nt, PyObject *const *kwvalues,
                                   PyObject *kwnames);
/* _execute_batch: the commands as a tuple (new reference, to pass to
 * finish) with op filled, or NULL; then the results list. */
PyObject *rc_client_batch_prepare(ClientObject *self, PyObject *commands, rc_op *op);
PyObject *rc_client_batch_finish(ClientObject *self, PyObject *seq, rc_op *op);
/* _execute_transaction(slot, commands): op filled (0) or -1; the raw replies. */
int rc_client_txn_prepare(ClientObject *self, PyObject *const *args, Py_ssize_t nargs, rc_op *op);
PyObject *rc_client_txn_finish(rc_op *op);

/* ---- aio.c ---- */
extern PyType_Spec AioOp_spec;
/* The interned names aio.c calls methods by. 0 or -1. */
int rc_aio_init_strings(rc_state *st);
/* A new AioOp of client `self` (its type from the module state). */
PyObject *rc_aio_command(ClientObject *self, PyObject *const *args, size_t nargsf,
                         PyObject *kwnames);
PyObject *rc_aio_batch(ClientObject *self, PyObject *commands);
PyObject *rc_aio_transaction(ClientObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *rc_aio_refresh(ClientObject *self, PyObject *unused);
PyObject *rc_aio_node_command(ClientObject *self, PyObject *const *args, Py_ssize_t nargs);

/* module-level helpers implemented in client.c */
PyObject *rc_command_keys(rc_state *st, PyObject *const *args, Py_ssize_t nargs);

#endif
