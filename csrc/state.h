/* state.h -- the module state (tier 1): exception classes, the error-prefix
 * table and interned strings. One instance per module object; instances of our
 * heap types reach it through their type (PyType_GetModuleState). Read-only
 * after module exec (but wait_cb, set by set_wait_callback with the GIL), so
 * it may be read without further locking. */
#ifndef RC_STATE_H
#define RC_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "rc.h"

/* One entry of rediscluster.exceptions.ERROR_PREFIXES, searched in order: a
 * key without a space matches the reply's first word (its error code); a key
 * with a space matches only a reply equal to it (redis-py's special ERR
 * messages). */
typedef struct rc_errcode {
    char *key;        /* owned, NUL-terminated */
    size_t len;
    int exact;        /* 1: whole-text match; 0: error-code match */
    PyObject *cls;    /* exception class */
} rc_errcode;

typedef struct rc_state {
    PyTypeObject *PoolType;   /* rediscluster._core.Pool */
    PyTypeObject *ClientType; /* rediscluster._core.Client */
    PyTypeObject *ConnectionType; /* rediscluster._core.Connection */
    PyTypeObject *CommandType; /* rediscluster._core.PipelineCommand */

    /* exception classes (strong references) */
    PyObject *RedisError, *ConnectionError, *TimeoutError, *AuthenticationError;
    PyObject *ResponseError, *DataError, *RedisClusterException, *ClusterError;
    PyObject *ClusterDownError, *SlotNotCoveredError, *MovedError, *AskError;
    PyObject *TryAgainError, *MasterDownError, *BusyLoadingError;
    PyObject *ClusterAuthenticationError;

    rc_errcode *errcodes; /* the error-prefix table */
    int nerrcodes;

    PyObject *redirect_marker; /* placeholder object for redirect replies */
    PyObject *wait_cb;         /* set_wait_callback(): how sync callers wait, or
                                  NULL (the native driver) */
    PyObject *wait_one;        /* wait_cb's one-socket form (wait_cb.wait_one), or NULL */
    PyObject *wait_idle;       /* wait_cb's idle test (wait_cb.idle_fd), or NULL */
    PyObject *str_upper;       /* interned "upper" */
    PyObject *str_empty;       /* "" */

    /* the asyncio driver (aio.c) */
    PyTypeObject *AioOpType;   /* rediscluster._core.AioOp */
    PyObject *get_running_loop; /* asyncio.get_running_loop, imported on first use */
    PyObject *aio_str[16];     /* interned method names (aio.c: RC_AS_*) */
} rc_state;

#endif
