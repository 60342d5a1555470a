/* client.c -- rediscluster._core.Client: execute_command and the batch entry
 * points (tier 3). execute_command does the whole round trip in C: pack,
 * find the key from the command table, route by slot, send/receive through
 * the engine, apply the response callback. Routing flags (fan-out, blocked,
 * random, slot-id) come from the nodes_flags dict the Python class supplies. */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "crc16.h"
#include "learned.h"

#define RC_INLINE_BUF 2048
#define RC_INLINE_POS 32

/* Routing decisions for a packed command. */
enum { RC_RT_SLOT = 0, RC_RT_KEYLESS = -1, RC_RT_RANDOM_MASTER = -2 };

typedef struct rc_argv {
    const char *data;     /* packed buffer */
    const rc_argpos *pos; /* token positions */
    int n;                /* tokens */
} rc_argv;

static int
rc_argv_get(void *ctx, int i, const char **p, size_t *n)
{
    const rc_argv *a = (const rc_argv *)ctx;
    if (i < 0 || i >= a->n) {
        return -1;
    }
    *p = a->data + a->pos[i].off;
    *n = a->pos[i].len;
    return 0;
}

static int rc_random_master(PoolObject *pool);

static int
rc_arity_fits(const rc_cmdinfo *ci, int argc)
{
    return ci->arity > 0 ? argc == ci->arity : argc >= -ci->arity;
}

/* Command info of a packed command: the generated table's entry (the fast
 * default); for a command the table does not know, or whose arguments fail
 * its arity (a newer server added an option), what the cluster's server
 * says (learned.c: COMMAND INFO once per command, kept in the cluster) when
 * `self` is given. *out is NULL if neither knows the command. 0, or -1 with
 * an exception that must propagate. */
static int
rc_packed_info(ClientObject *self, const rc_argv *a, const rc_cmdinfo **out)
{
    const rc_cmdinfo *ci, *learned;
    const char *name;
    size_t len;

    *out = NULL;
    if (a->n < 1) {
        return 0;
    }
    name = a->data + a->pos[0].off;
    len = a->pos[0].len;
    ci = rc_cmd_lookup(name, len);
    if (ci != NULL && (ci->flags & RC_CMD_CONTAINER) && a->n > 1) {
        const rc_cmdinfo *sub = rc_cmd_lookup_sub(ci, a->data + a->pos[1].off, a->pos[1].len);
        if (sub != NULL) {
            ci = sub;
        }
    }
    *out = ci;
    if (RC_LIKELY(ci != NULL && (rc_arity_fits(ci, a->n) || (ci->flags & RC_CMD_CONTAINER))) ||
        self == NULL) {
        return 0;
    }
    if (rc_learned_lookup(&self->pool->cl, name, len, rc_random_master(self->pool), &learned) < 0) {
        return -1;
    }
    if (learned != NULL) {
        *out = learned;
    }
    return 0;
}

/* Whether the exact ASCII str `name` spells ci's (upper-case) name. */
static int
rc_memo_spells(PyObject *name, const rc_cmdinfo *ci)
{
    const char *p = (const char *)PyUnicode_DATA(name);
    size_t n = (size_t)ci->name_len;
    if ((size_t)PyUnicode_GET_LENGTH(name) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) { /* (names are short: no memcmp call) */
        if (p[i] != ci->name[i]) {
            return 0;
        }
    }
    return 1;
}

/* The memoised entry when `name` is the memoised name object, else NULL.
 * The pair is written by whichever thread runs a new name, so it is read
 * with atomics and checked against the text (a pair read half old, half
 * new, or an address reused by another object, is no hit). The caller
 * holds a reference to `name`. */
static const rc_cmdinfo *
rc_memo_hit(ClientObject *self, PyObject *name)
{
    const rc_cmdinfo *ci;
    if (name != __atomic_load_n(&self->hot_name, __ATOMIC_ACQUIRE)) {
        return NULL;
    }
    ci = __atomic_load_n(&self->hot_ci, __ATOMIC_ACQUIRE);
    return ci != NULL && PyUnicode_CheckExact(name) && PyUnicode_IS_COMPACT_ASCII(name) &&
                   rc_memo_spells(name, ci)
               ? ci
               : NULL;
}

/* rc_packed_info for a command whose name argument is `name`, memoised on
 * the client: a name object that is an exact str spelling a static table
 * entry in upper case (the literals of the command methods) is kept (owned,
 * so its address cannot be reused) with its entry, and the next command
 * with the same object skips the upper-casing and the lookup. Only entries
 * of the static table (never freed) whose arity decides alone: no
 * containers, no learned commands. `hit`: rc_memo_hit(self, name), which
 * the caller already asked. 0, or -1 with an exception set. */
static int
rc_memo_info(ClientObject *self, PyObject *name, const rc_cmdinfo *hit, const rc_argv *a,
             const rc_cmdinfo **out)
{
    const rc_cmdinfo *ci = hit;
    PyObject *old;

    if (ci != NULL && rc_arity_fits(ci, a->n)) {
        *out = ci;
        return 0;
    }
    if (rc_packed_info(self, a, out) < 0) {
        return -1;
    }
    ci = *out;
    if (ci != NULL && PyUnicode_CheckExact(name) && PyUnicode_IS_COMPACT_ASCII(name) &&
        !(ci->flags & (RC_CMD_CONTAINER | RC_CMD_LEARNED)) && rc_arity_fits(ci, a->n) &&
        rc_memo_spells(name, ci)) {
        Py_INCREF(name);
        __atomic_store_n(&self->hot_ci, ci, __ATOMIC_RELEASE);
        old = __atomic_exchange_n(&self->hot_name, name, __ATOMIC_ACQ_REL);
        Py_XDECREF(old);
    }
    return 0;
}

/* Where a packed command goes: a slot (>= 0), RC_RT_KEYLESS ("Missing key")
 * or RC_RT_RANDOM_MASTER (keyless by design, e.g. EVAL with 0 keys, or
 * malformed arguments the server should judge). */
static int
rc_route_packed(const rc_argv *a, const rc_cmdinfo *ci)
{
    int k;
    if (ci == NULL) {
        /* Unknown command: the original's rule, the first argument is the key. */
        if (a->n < 2) {
            return RC_RT_KEYLESS;
        }
        k = 1;
    } else {
        if (a->n < 2 && ci->nspecs > 0) {
            return RC_RT_KEYLESS;
        }
        k = rc_cmd_first_key(ci, a->n, rc_argv_get, (void *)a);
        if (k == 0 && (ci->flags & RC_CMD_PUBSUB) && a->n >= 2 &&
            ci->name_len == 7 && memcmp(ci->name, "PUBLISH", 7) == 0) {
            k = 1; /* PUBLISH goes to the channel's slot owner, as in the original */
        }
        if (k == 0) {
            /* Keyless: EVAL with 0 keys goes anywhere; a command the server
             * described (learned) too, its MOVED followed; the table's
             * keyless commands are refused, as in the original. */
            return (ci->flags & (RC_CMD_NO_MANDATORY_KEYS | RC_CMD_LEARNED)) ? RC_RT_RANDOM_MASTER
                                                                             : RC_RT_KEYLESS;
        }
        if (k < 0) {
            return RC_RT_RANDOM_MASTER;
        }
    }
    return (int)rc_key_slot(a->data + a->pos[k].off, a->pos[k].len);
}

static int
rc_is_read(const rc_cmdinfo *ci)
{
    /* Blocking reads (XREAD BLOCK) are not re-sent: a timeout there is
     * usually the command's own wait. */
    return ci != NULL && (ci->flags & RC_CMD_READONLY) &&
           !(ci->flags & (RC_CMD_WRITE | RC_CMD_BLOCKING));
}

/* A read that may go to a replica. Not the cursor commands: a cursor only
 * means something on the node that made it, and replica choice rotates. */
static int
rc_replica_ok(const ClientObject *self, const rc_cmdinfo *ci)
{
    if (!self->read_from_replicas || !rc_is_read(ci)) {
        return 0;
    }
    if (ci->name_len >= 4 && memcmp(ci->name + ci->name_len - 4, "SCAN", 4) == 0) {
        return 0; /* SCAN, HSCAN, SSCAN, ZSCAN */
    }
    return 1;
}

/* Commands that change the state of the connection they run on, which the
 * pool would then hand to someone else (a subscriber connection answering a
 * GET with "only (P|S)SUBSCRIBE ... allowed", a WATCH aborting another
 * caller's EXEC, another user after AUTH). They are refused on pooled
 * connections with where to go instead; NULL for every other command. */
static const char *
rc_stateful_hint(const rc_cmdinfo *ci)
{
    static const char subscribe[] =
        "puts its connection in subscriber mode: use pubsub() (ClusterPubSub)";
    static const char transaction[] =
        "needs one connection across commands: use pipeline(transaction=True) or "
        "transaction()";
    static const char setup[] =
        "changes the state of one pooled connection: configure the client instead "
        "(username/password, readonly_mode, read_from_replicas)";
    static const struct {
        const char *name;
        const char *hint;
    } table[] = {
        {"SUBSCRIBE", subscribe},   {"PSUBSCRIBE", subscribe},
        {"SSUBSCRIBE", subscribe},  {"UNSUBSCRIBE", subscribe},
        {"PUNSUBSCRIBE", subscribe}, {"SUNSUBSCRIBE", subscribe},
        {"WATCH", transaction},     {"UNWATCH", transaction},
        {"MULTI", transaction},     {"EXEC", transaction},
        {"DISCARD", transaction},   {"MONITOR", "takes over its connection: not supported"},
        {"AUTH", setup},            {"HELLO", setup},
        {"RESET", setup},           {"READONLY", setup},
        {"READWRITE", setup},       {"ASKING", "is sent by the engine itself"},
        {"CLIENT TRACKING", setup}, {"CLIENT CACHING", setup},
    };
    size_t n = ci->name_len;

    /* Cheap filter: all of them are "noscript" or "stale" but ASKING, and
     * none writes data. */
    if ((ci->flags & RC_CMD_WRITE) ||
        (!(ci->flags & (RC_CMD_NOSCRIPT | RC_CMD_STALE)) && n != 6)) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) == n && memcmp(table[i].name, ci->name, n) == 0) {
            return table[i].hint;
        }
    }
    return NULL;
}

/* A random master's node index, or -1 when none is known. */
static int
rc_random_master(PoolObject *pool)
{
    rc_cluster *cl = &pool->cl;
    uint64_t r = rc_pool_random(pool);
    int nm = 0, pick, i, found = -1;
    rc_lock(cl);
    for (i = 0; i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        nm += n != NULL && n->role == RC_ROLE_MASTER && n->in_topology;
    }
    pick = nm > 0 ? (int)(r % (uint64_t)nm) : 0;
    for (i = 0; nm > 0 && i < cl->nnodes; i++) {
        rc_node *n = cl->nodes[i];
        if (n != NULL && n->role == RC_ROLE_MASTER && n->in_topology && pick-- == 0) {
            found = i;
            break;
        }
    }
    rc_unlock(cl);
    return found;
}

/* New reference: the command name in upper case, as the callback and flag
 * dicts are keyed. */
static PyObject *
rc_upper_name(rc_state *st, PyObject *name)
{
    if (PyUnicode_CheckExact(name) && PyUnicode_IS_ASCII(name)) {
        const char *s = (const char *)PyUnicode_DATA(name);
        Py_ssize_t n = PyUnicode_GET_LENGTH(name), i;
        for (i = 0; i < n; i++) {
            if (s[i] >= 'a' && s[i] <= 'z') {
                break;
            }
        }
        if (i == n) {
            Py_INCREF(name);
            return name;
        }
    }
    if (PyBytes_Check(name)) {
        PyObject *s = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name),
                                           "replace"),
                 *u;
        if (s == NULL) {
            return NULL;
        }
        u = PyObject_CallMethodNoArgs(s, st->str_upper);
        Py_DECREF(s);
        return u;
    }
    if (PyUnicode_Check(name)) {
        return PyObject_CallMethodNoArgs(name, st->str_upper);
    }
    PyErr_Format(st->DataError, "Invalid command name of type: '%s'", Py_TYPE(name)->tp_name);
    return NULL;
}

/* callback(reply, **options) with the options given as a vectorcall tail. */
static PyObject *
rc_apply_callback(PyObject *cb, PyObject *reply, PyObject *const *kwvalues, PyObject *kwnames)
{
    PyObject *stack[1 + 16];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nkw > 16) {
        PyObject *kw = PyDict_New(), *args, *res = NULL;
        if (kw == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < nkw; i++) {
            if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), kwvalues[i]) < 0) {
                Py_DECREF(kw);
                return NULL;
            }
        }
        args = PyTuple_Pack(1, reply);
        if (args != NULL) {
            res = PyObject_Call(cb, args, kw);
            Py_DECREF(args);
        }
        Py_DECREF(kw);
        return res;
    }
    stack[0] = reply;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        stack[1 + i] = kwvalues[i];
    }
    return PyObject_Vectorcall(cb, stack, 1, nkw ? kwnames : NULL);
}

/* callback(reply, **options) with options as a dict (or NULL). */
static PyObject *
rc_apply_callback_dict(PyObject *cb, PyObject *reply, PyObject *options)
{
    PyObject *args, *res;
    if (options == NULL || options == Py_None || PyDict_GET_SIZE(options) == 0) {
        return PyObject_CallOneArg(cb, reply);
    }
    args = PyTuple_Pack(1, reply);
    if (args == NULL) {
        return NULL;
    }
    res = PyObject_Call(cb, args, options);
    Py_DECREF(args);
    return res;
}

static PyObject *
rc_lookup(PyObject *dict, PyObject *key)
{
    if (dict == NULL || PyDict_GET_SIZE(dict) == 0) {
        return NULL;
    }
    return PyDict_GetItemWithError(dict, key); /* borrowed */
}

static PyObject *
rc_kwdict(PyObject *const *kwvalues, PyObject *kwnames)
{
    PyObject *kw = PyDict_New();
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (kw == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), kwvalues[i]) < 0) {
            Py_DECREF(kw);
            return NULL;
        }
    }
    return kw;
}

/* Fan-out / special routing by nodes_flags, first half: the target nodes
 * (*targets, malloc'ed, *nt of them) and the command packed once and added
 * to op for each. 0, or -1 with an exception set (*targets may be set: the
 * caller frees it). GIL. */
int
rc_client_flagged_prepare(ClientObject *self, PyObject *flag, PyObject *upper,
                          PyObject *const *args, Py_ssize_t nargs, rc_op *op, int **targets,
                          int *nt)
{
    rc_state *st = self->st;
    rc_cluster *cl = &self->pool->cl;
    Py_ssize_t tok;
    int *t, n = 0, cap, ret = -1;

    *nt = 0;
    if (!PyUnicode_Check(flag)) {
        PyErr_Format(PyExc_TypeError, "nodes_flags[%R] must be a str", upper);
        goto done;
    }
    if (PyUnicode_CompareWithASCIIString(flag, "blocked") == 0) {
        rc_raise_cluster(st, "Command: %U is blocked in redis cluster mode", upper);
        goto done;
    }
    cap = __atomic_load_n(&cl->nnodes, __ATOMIC_ACQUIRE); /* (nodes added later: not targets) */
    t = *targets = malloc((size_t)(cap ? cap : 1) * sizeof *t);
    if (t == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (PyUnicode_CompareWithASCIIString(flag, "all-nodes") == 0 ||
        PyUnicode_CompareWithASCIIString(flag, "all-masters") == 0) {
        int masters = PyUnicode_CompareWithASCIIString(flag, "all-masters") == 0;
        rc_lock(cl);
        for (int i = 0; i < cap && i < cl->nnodes; i++) {
            rc_node *nd = cl->nodes[i];
            if (nd != NULL && nd->in_topology && (!masters || nd->role == RC_ROLE_MASTER)) {
                t[n++] = i;
            }
        }
        rc_unlock(cl);
    } else if (PyUnicode_CompareWithASCIIString(flag, "random") == 0) {
        uint64_t r = rc_pool_random(self->pool);
        int cnt = 0;
        rc_lock(cl);
        for (int i = 0; i < cap && i < cl->nnodes; i++) {
            cnt += cl->nodes[i] != NULL && cl->nodes[i]->in_topology;
        }
        if (cnt > 0) {
            int pick = (int)(r % (uint64_t)cnt);
            for (int i = 0; i < cap && i < cl->nnodes; i++) {
                if (cl->nodes[i] != NULL && cl->nodes[i]->in_topology && pick-- == 0) {
                    t[n++] = i;
                    break;
                }
            }
        }
        rc_unlock(cl);
    } else if (PyUnicode_CompareWithASCIIString(flag, "slot-id") == 0) {
        long slot = nargs > 1 ? PyLong_AsLong(args[1]) : -1;
        if (slot == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (slot < 0 || slot >= RC_SLOTS) {
            rc_raise_cluster(st, "%U needs a slot number in 0..16383", upper);
            goto done;
        }
        if (rc_slot_master(cl, (int)slot) == (int)RC_NO_NODE) {
            PyErr_Format(st->SlotNotCoveredError,
                         "Slot \"%ld\" not covered by the cluster. "
                         "\"skip_full_coverage_check=%s\"",
                         slot, cl->cfg.skip_coverage ? "True" : "False");
            goto done;
        }
        t[n++] = rc_slot_master(cl, (int)slot);
    } else {
        PyErr_Format(PyExc_ValueError, "unknown nodes_flags value %R for %U", flag, upper);
        goto done;
    }
    if (n == 0) {
        rc_raise_cluster(st, "No node known for command %U: the cluster map is empty", upper);
        goto done;
    }
    tok = rc_pack_command(st, &cl->cfg.codec, &op->buf, args, nargs, NULL);
    if (tok < 0) {
        goto done;
    }
    for (int i = 0; i < n; i++) {
        rc_route rt = {-1, t[i], 0, 0};
        if (rc_op_add(op, 0, op->buf.len, &rt) < 0) {
            goto done;
        }
    }
    *nt = n;
    ret = 0;
done:
    return ret;
}

/* Second half, after the op ran: {node name: parsed reply}, merged by the
 * command's result callback (or the one reply). New reference, or NULL with
 * an exception set. GIL. */
PyObject *
rc_client_flagged_finish(ClientObject *self, PyObject *upper, rc_op *op, const int *targets,
                         int nt, PyObject *const *kwvalues, PyObject *kwnames)
{
    rc_state *st = self->st;
    rc_cluster *cl = &self->pool->cl;
    PyObject *res = NULL, *merged = NULL, *kw = NULL, *rcb;

    res = PyDict_New();
    if (res == NULL) {
        goto done;
    }
    for (int i = 0; i < nt; i++) {
        PyObject *r = op->cmds[i].result, *cb, *v;
        rc_node *nd;
        if (PyExceptionInstance_Check(r)) {
            PyErr_SetObject((PyObject *)Py_TYPE(r), r);
            goto done;
        }
        cb = rc_lookup(self->response_callbacks, upper);
        if (cb == NULL && PyErr_Occurred()) {
            goto done;
        }
        v = cb ? rc_apply_callback(cb, r, kwvalues, kwnames) : (Py_INCREF(r), r);
        nd = rc_cluster_at(cl, targets[i]); /* (pinned by the op: never NULL) */
        if (v != NULL && nd == NULL) {
            PyErr_SetString(st->RedisClusterException, "a fan-out target left the cluster");
        }
        if (v == NULL || nd == NULL || PyDict_SetItem(res, nd->name, v) < 0) {
            Py_XDECREF(v);
            goto done;
        }
        Py_DECREF(v);
    }
    rcb = rc_lookup(self->result_callbacks, upper);
    if (rcb == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (rcb != NULL) {
        PyObject *cargs[2] = {upper, res};
        if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
            PyObject *targs = PyTuple_Pack(2, upper, res);
            kw = rc_kwdict(kwvalues, kwnames);
            if (targs == NULL || kw == NULL) {
                Py_XDECREF(targs);
                goto done;
            }
            merged = PyObject_Call(rcb, targs, kw);
            Py_DECREF(targs);
        } else {
            merged = PyObject_Vectorcall(rcb, cargs, 2, NULL);
        }
    } else if (PyDict_GET_SIZE(res) == 1) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        PyDict_Next(res, &pos, &k, &v);
        Py_INCREF(v);
        merged = v;
    } else {
        rc_raise_cluster(st, "More then 1 result from command: %U", upper);
    }
done:
    Py_XDECREF(res);
    Py_XDECREF(kw);
    return merged;
}

/* Fan-out / special routing by nodes_flags, the sync way. */
static PyObject *
rc_client_flagged(ClientObject *self, PyObject *flag, PyObject *upper, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames)
{
    rc_cluster *cl = &self->pool->cl;
    rc_op op;
    PyObject *merged = NULL;
    int *targets = NULL, nt = 0;

    rc_op_init(&op, cl, &self->lim);
    if (__atomic_load_n(&cl->refresh_pending, __ATOMIC_RELAXED) && rc_cluster_refresh(cl, 0) < 0) {
        goto done;
    }
    if (rc_client_flagged_prepare(self, flag, upper, args, nargs, &op, &targets, &nt) < 0 ||
        rc_op_run(&op) < 0) {
        goto done;
    }
    merged = rc_client_flagged_finish(self, upper, &op, targets, nt, args + nargs, kwnames);
done:
    free(targets);
    rc_op_clear(&op);
    return merged;
}

int
rc_client_prepare(ClientObject *self, PyObject *const *args, Py_ssize_t nargs, rc_op *op,
                  PyObject **upper, PyObject **flag, int *blocking)
{
    Py_ssize_t ntok;
    rc_state *st = self->st;
    rc_cluster *cl = &self->pool->cl;
    rc_argpos inline_pos[RC_INLINE_POS], *pos = inline_pos;
    rc_argv av;
    const rc_cmdinfo *ci, *hit;
    rc_route rt;
    int where, ret = -1;

    *upper = NULL;
    *flag = NULL;
    if (nargs == 0) {
        rc_raise_cluster(st, "Unable to determine command to use");
        goto done;
    }
    hit = rc_memo_hit(self, args[0]);
    if (hit != NULL) {
        *upper = args[0]; /* the memoised name: known upper-case */
        Py_INCREF(*upper);
    } else {
        *upper = rc_upper_name(st, args[0]);
        if (*upper == NULL) {
            goto done;
        }
    }
    *flag = rc_lookup(self->nodes_flags, *upper);
    if (*flag != NULL) {
        Py_INCREF(*flag);
        ret = 1;
        goto done;
    }
    if (PyErr_Occurred()) {
        goto done;
    }
    ntok = rc_pack_count(args, nargs);
    if (ntok > RC_INLINE_POS) {
        pos = malloc((size_t)ntok * sizeof *pos);
        if (pos == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    ntok = rc_pack_command(st, &cl->cfg.codec, &op->buf, args, nargs, pos);
    if (ntok < 0) {
        goto done;
    }
    av.data = op->buf.data;
    av.pos = pos;
    av.n = (int)ntok;
    if (rc_memo_info(self, args[0], hit, &av, &ci) < 0) {
        goto done;
    }
    if (ci != NULL) {
        const char *hint = rc_stateful_hint(ci);
        if (RC_UNLIKELY(hint != NULL)) {
            rc_raise_cluster(st, "Command: %s %s", ci->name, hint);
            goto done;
        }
    }
    if (blocking != NULL) {
        /* (a command the table does not know may block too) */
        *blocking = ci == NULL || (ci->flags & RC_CMD_BLOCKING) != 0;
    }
    op->no_spin = ci != NULL && (ci->flags & RC_CMD_BLOCKING) != 0;
    where = rc_route_packed(&av, ci);
    rt.is_read = rc_is_read(ci);
    rt.replica_ok = rc_replica_ok(self, ci);
    if (where >= 0) {
        rt.slot = where;
        rt.node = -1;
    } else if (where == RC_RT_RANDOM_MASTER) {
        rt.slot = -1;
        rt.node = rc_random_master(self->pool);
        if (rt.node < 0) {
            rc_raise_cluster(st, "No master known to send %U to", *upper);
            goto done;
        }
    } else {
        rc_raise_cluster(st, "No way to dispatch this command to Redis Cluster. Missing key.");
        goto done;
    }
    if (rc_op_add(op, 0, op->buf.len, &rt) < 0) {
        goto done;
    }
    /* socket_timeout bounds the whole command: every attempt, backoff and
     * refresh (connecting is bounded by socket_connect_timeout too). */
    rc_op_set_deadline(op, cl->cfg.sock.timeout);
    ret = 0;
done:
    if (pos != inline_pos) {
        free(pos);
    }
    if (ret < 0) {
        Py_CLEAR(*upper);
        Py_CLEAR(*flag);
    }
    return ret;
}

PyObject *
rc_client_parse(ClientObject *self, PyObject *reply, PyObject *upper, PyObject *const *kwvalues,
                PyObject *kwnames)
{
    PyObject *cb = rc_lookup(self->response_callbacks, upper);
    if (cb != NULL) {
        return rc_apply_callback(cb, reply, kwvalues, kwnames);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_INCREF(reply);
    return reply;
}

PyObject *
rc_client_finish(ClientObject *self, rc_op *op, PyObject *upper, PyObject *const *kwvalues,
                 PyObject *kwnames)
{
    PyObject *reply = op->cmds[0].result, *result = NULL;

    op->cmds[0].result = NULL;
    if (PyExceptionInstance_Check(reply)) {
        PyErr_SetObject((PyObject *)Py_TYPE(reply), reply);
    } else {
        result = rc_client_parse(self, reply, upper, kwvalues, kwnames);
    }
    Py_XDECREF(reply);
    return result;
}

static PyObject *
Client_execute_command(ClientObject *self, PyObject *const *args, size_t nargsf,
                       PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *upper = NULL, *flag = NULL, *result = NULL;
    rc_op op;
    char inline_buf[RC_INLINE_BUF];
    int r;

    if (self->pool == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__ was not called");
        return NULL;
    }
    rc_op_init(&op, &self->pool->cl, &self->lim);
    rc_buf_init_inline(&op.buf, inline_buf, sizeof inline_buf);
    r = rc_client_prepare(self, args, nargs, &op, &upper, &flag, NULL);
    if (r < 0) {
        goto done;
    }
    if (r == 1) {
        result = rc_client_flagged(self, flag, upper, args, nargs, kwnames);
        goto done;
    }
    if (rc_op_run(&op) < 0) {
        goto done;
    }
    result = rc_client_finish(self, &op, upper, args + nargs, kwnames);
done:
    rc_op_clear(&op);
    Py_XDECREF(flag);
    Py_XDECREF(upper);
    return result;
}

/* _queue_command(*args, **options) -> self: append a PipelineCommand (args,
 * options, position) to command_stack (the pipeline's execute_command,
 * without a Python frame). */
static PyObject *
Client_queue_command(ClientObject *self, PyObject *const *args, size_t nargsf,
                     PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *targs = NULL, *opts = NULL, *item = NULL, *ret = NULL;

    if (self->queue == NULL) {
        self->queue = PyList_New(0);
        if (self->queue == NULL) {
            return NULL;
        }
    }
    targs = PyTuple_New(nargs);
    if (targs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(targs, i, args[i]);
    }
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        opts = rc_kwdict(args + nargs, kwnames);
        if (opts == NULL) {
            goto done;
        }
    }
    item = rc_command_new(self->st, targs, opts, PyList_GET_SIZE(self->queue));
    if (item == NULL || PyList_Append(self->queue, item) < 0) {
        goto done;
    }
    Py_INCREF(self);
    ret = (PyObject *)self;
done:
    Py_XDECREF(item);
    Py_XDECREF(opts);
    Py_DECREF(targs);
    return ret;
}

static PyObject *
Client_get_queue(ClientObject *self, void *c)
{
    (void)c;
    if (self->queue == NULL) {
        self->queue = PyList_New(0);
        if (self->queue == NULL) {
            return NULL;
        }
    }
    Py_INCREF(self->queue);
    return self->queue;
}

static int
Client_set_queue(ClientObject *self, PyObject *v, void *c)
{
    (void)c;
    if (v == NULL || !PyList_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "command_stack must be a list");
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(self->queue, v);
    return 0;
}

/* _execute_transaction(slot, commands) -> list
 * MULTI, the commands (PipelineCommand or (args, options) pairs), EXEC on
 * the node serving `slot`, as one unit through the engine's policy (MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN and connection failures: rc_settle_block).
 * Returns the raw replies in order -- MULTI's, one per queued command
 * (QUEUED or its error), EXEC's (an array, None, or EXECABORT) -- with no
 * callbacks applied. A failure of the transaction as a whole raises. */
int
rc_client_txn_prepare(ClientObject *self, PyObject *const *args, Py_ssize_t nargs, rc_op *op)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec[] = "*1\r\n$4\r\nEXEC\r\n";
    rc_state *st = self->st;
    rc_cluster *cl = &self->pool->cl;
    PyObject *seq = NULL;
    rc_route rt = {0, -1, 0, 0};
    Py_ssize_t n;
    long slot;
    int ret = -1;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_execute_transaction(slot, commands)");
        goto done;
    }
    slot = PyLong_AsLong(args[0]);
    if (slot == -1 && PyErr_Occurred()) {
        goto done;
    }
    if (slot < 0 || slot >= RC_SLOTS) {
        PyErr_Format(PyExc_ValueError, "slot %ld out of range", slot);
        goto done;
    }
    rt.slot = (int)slot;
    op->block = 1;
    seq = PySequence_Tuple(args[1]);
    if (seq == NULL) {
        goto done;
    }
    n = PyTuple_GET_SIZE(seq);
    if (rc_op_reserve(op, n + 2) < 0 || rc_buf_append(&op->buf, multi, sizeof multi - 1) != RC_OK) {
        goto nomem;
    }
    if (rc_op_add(op, 0, sizeof multi - 1, &rt) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *cargs, *copts;
        size_t off = op->buf.len;
        if (rc_command_parts(st, PyTuple_GET_ITEM(seq, i), &cargs, &copts) < 0) {
            goto done;
        }
        if (PyTuple_GET_SIZE(cargs) == 0) {
            PyErr_SetString(st->RedisClusterException, "Unable to determine command to use");
            goto done;
        }
        if (rc_pack_command(st, &cl->cfg.codec, &op->buf, &PyTuple_GET_ITEM(cargs, 0),
                            PyTuple_GET_SIZE(cargs), NULL) < 0 ||
            rc_op_add(op, off, op->buf.len - off, &rt) < 0) {
            goto done;
        }
    }
    if (rc_buf_append(&op->buf, exec, sizeof exec - 1) != RC_OK) {
        goto nomem;
    }
    if (rc_op_add(op, op->buf.len - (sizeof exec - 1), sizeof exec - 1, &rt) < 0) {
        goto done;
    }
    ret = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    Py_XDECREF(seq);
    return ret;
}

PyObject *
rc_client_txn_finish(rc_op *op)
{
    PyObject *out = PyList_New(op->n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < op->n; i++) {
        if (op->cmds[i].result == NULL) { /* cannot happen: every command settles */
            PyErr_SetString(PyExc_RuntimeError, "transaction left a command unsettled");
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, op->cmds[i].result);
        op->cmds[i].result = NULL;
    }
    return out;
}

static PyObject *
Client_execute_transaction(ClientObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    rc_op op;
    PyObject *out = NULL;

    if (self->pool == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__ was not called");
        return NULL;
    }
    rc_op_init(&op, &self->pool->cl, &self->lim);
    if (rc_client_txn_prepare(self, args, nargs, &op) == 0 && rc_op_run(&op) == 0) {
        out = rc_client_txn_finish(&op);
    }
    rc_op_clear(&op);
    return out;
}

/* _execute_batch(commands) -> list
 * commands: sequence of PipelineCommand or (args: tuple, options: dict or
 * None). Results in order; errors (server replies, connection failures,
 * routing problems) are exception instances in place. Response callbacks
 * applied; each PipelineCommand gets its result in .result too.
 * The sequence is copied first (a tuple holding every item): the caller's
 * list may change while the engine runs with the GIL released or a
 * callback runs, and its items must stay alive until their results are set. */
PyObject *
rc_client_batch_prepare(ClientObject *self, PyObject *commands, rc_op *op)
{
    rc_state *st = self->st;
    rc_cluster *cl = &self->pool->cl;
    PyObject *seq = NULL, *out = NULL;
    rc_argpos *pos = NULL;
    size_t poscap = 0;
    Py_ssize_t n;

    seq = PySequence_Tuple(commands);
    if (seq == NULL) {
        goto done;
    }
    n = PyTuple_GET_SIZE(seq);
    if (rc_op_reserve(op, n) < 0) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i), *cargs, *copts;
        size_t off = op->buf.len;
        Py_ssize_t ntok, na;
        rc_argv av;
        const rc_cmdinfo *ci;
        rc_route rt;
        int where;

        if (rc_command_parts(st, item, &cargs, &copts) < 0) {
            goto done;
        }
        na = PyTuple_GET_SIZE(cargs);
        if (na == 0) {
            PyErr_SetString(st->RedisClusterException, "Unable to determine command to use");
            goto done;
        }
        ntok = rc_pack_count(&PyTuple_GET_ITEM(cargs, 0), na);
        if ((size_t)ntok > poscap) {
            rc_argpos *p = realloc(pos, (size_t)ntok * sizeof *p);
            if (p == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            pos = p;
            poscap = (size_t)ntok;
        }
        ntok = rc_pack_command(st, &cl->cfg.codec, &op->buf, &PyTuple_GET_ITEM(cargs, 0), na, pos);
        if (ntok < 0) {
            goto done;
        }
        av.data = op->buf.data;
        av.pos = pos;
        av.n = (int)ntok;
        if (rc_memo_info(self, PyTuple_GET_ITEM(cargs, 0),
                         rc_memo_hit(self, PyTuple_GET_ITEM(cargs, 0)), &av, &ci) < 0) {
            goto done;
        }
        where = rc_route_packed(&av, ci);
        rt.is_read = rc_is_read(ci);
        rt.replica_ok = rc_replica_ok(self, ci);
        rt.slot = where >= 0 ? where : -1;
        rt.node = where == RC_RT_RANDOM_MASTER ? rc_random_master(self->pool) : -1;
        if (rc_op_add(op, off, op->buf.len - off, &rt) < 0) {
            goto done;
        }
        if (ci != NULL && rc_stateful_hint(ci) != NULL) {
            PyObject *msg = PyUnicode_FromFormat("Command: %s %s", ci->name,
                                                 rc_stateful_hint(ci));
            op->cmds[op->n - 1].result =
                msg ? PyObject_CallOneArg(st->RedisClusterException, msg) : NULL;
            Py_XDECREF(msg);
            if (op->cmds[op->n - 1].result == NULL) {
                goto done;
            }
        } else if (where < 0 && rt.node < 0) {
            op->cmds[op->n - 1].result = PyObject_CallFunction(
                st->RedisClusterException, "s",
                "No way to dispatch this command to Redis Cluster. Missing key.");
            if (op->cmds[op->n - 1].result == NULL) {
                goto done;
            }
        }
    }
    rc_buf_shrink(&op->buf);
    out = seq;
    seq = NULL;
done:
    free(pos);
    Py_XDECREF(seq);
    return out;
}

PyObject *
rc_client_batch_finish(ClientObject *self, PyObject *seq, rc_op *op)
{
    rc_state *st = self->st;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *out = NULL;

    out = PyList_New(n);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(seq, i);
        PyObject *r = op->cmds[i].result, *v = NULL, *upper, *cb, *cargs, *copts;
        int is_cmd = rc_command_parts(st, item, &cargs, &copts);
        if (is_cmd < 0) {
            /* a PipelineCommand's args were replaced meanwhile by a bad value */
            Py_CLEAR(out);
            goto done;
        }
        if (PyExceptionInstance_Check(r) || PyTuple_GET_SIZE(cargs) == 0) {
            Py_INCREF(r);
            v = r;
            goto place;
        }
        upper = PyTuple_GET_ITEM(cargs, 0);
        if (rc_memo_hit(self, upper) != NULL) {
            Py_INCREF(upper); /* the memoised name: known upper-case */
        } else {
            upper = rc_upper_name(st, upper);
            if (upper == NULL) {
                Py_CLEAR(out);
                goto done;
            }
        }
        cb = rc_lookup(self->response_callbacks, upper);
        Py_DECREF(upper);
        if (cb != NULL) {
            Py_INCREF(copts); /* the callback may replace the command's options */
            v = rc_apply_callback_dict(cb, r, copts);
            Py_DECREF(copts);
            if (v == NULL) {
                /* A callback that fails on this reply: its error takes the
                 * reply's place, like a server error would. */
                v = rc_fetch_exception();
                if (v == NULL || !PyErr_GivenExceptionMatches(v, PyExc_Exception)) {
                    if (v != NULL) {
                        rc_restore_exception(v);
                    }
                    Py_CLEAR(out);
                    goto done;
                }
            }
        } else if (PyErr_Occurred()) {
            Py_CLEAR(out);
            goto done;
        } else {
            Py_INCREF(r);
            v = r;
        }
    place:
        if (is_cmd) {
            rc_command_set_result(item, v);
        }
        PyList_SET_ITEM(out, i, v);
    }
done:
    return out;
}

static PyObject *
Client_execute_batch(ClientObject *self, PyObject *commands)
{
    PyObject *seq, *out = NULL;
    rc_op op;

    if (self->pool == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__ was not called");
        return NULL;
    }
    rc_op_init(&op, &self->pool->cl, &self->lim);
    seq = rc_client_batch_prepare(self, commands, &op);
    if (seq != NULL && rc_op_run(&op) == 0) {
        out = rc_client_batch_finish(self, seq, &op);
    }
    Py_XDECREF(seq);
    rc_op_clear(&op);
    return out;
}

/* Module function: argv indices of the keys of a command, as indices into
 * the args as given (args[0] may be "XINFO STREAM"). */
PyObject *
rc_command_keys(rc_state *st, PyObject *const *args, Py_ssize_t nargs)
{
    rc_codec codec = {"utf-8", "strict", 1};
    rc_buf buf;
    rc_argpos *pos = NULL;
    int *keys = NULL, nk;
    Py_ssize_t ntok, words;
    PyObject *out = NULL;
    rc_argv av;
    const rc_cmdinfo *ci;

    rc_buf_init(&buf);
    if (nargs == 0) {
        return rc_raise_cluster(st, "Unable to determine command to use");
    }
    ntok = rc_pack_count(args, nargs);
    words = ntok - (nargs - 1);
    pos = malloc((size_t)ntok * sizeof *pos);
    keys = malloc((size_t)ntok * sizeof *keys);
    if (pos == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (rc_pack_command(st, &codec, &buf, args, nargs, pos) < 0) {
        goto done;
    }
    av.data = buf.data;
    av.pos = pos;
    av.n = (int)ntok;
    rc_packed_info(NULL, &av, &ci); /* the table only: no cluster here */
    if (ci == NULL) {
        nk = ntok > 1 ? 1 : 0;
        keys[0] = 1;
    } else {
        nk = rc_cmd_keys(ci, (int)ntok, rc_argv_get, &av, keys, (int)ntok);
    }
    if (nk < 0) {
        rc_raise_cluster(st, "malformed arguments for %s", ci ? ci->name : "command");
        goto done;
    }
    out = PyList_New(0);
    for (int i = 0; out != NULL && i < nk; i++) {
        PyObject *v;
        if (keys[i] < words) {
            continue;
        }
        v = PyLong_FromSsize_t(keys[i] - words + 1);
        if (v == NULL || PyList_Append(out, v) < 0) {
            Py_CLEAR(out);
        }
        Py_XDECREF(v);
    }
done:
    free(pos);
    free(keys);
    rc_buf_free(&buf);
    return out;
}

/* ----------------------------------------------------------- type glue */

static int
rc_set_dict(PyObject **slot, PyObject *v, const char *name)
{
    if (v == NULL || !PyDict_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict", name);
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(*slot, v);
    return 0;
}

static int
Client_init(ClientObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"pool",
                             "response_callbacks",
                             "nodes_flags",
                             "result_callbacks",
                             "ttl",
                             "cluster_down_retry_attempts",
                             "read_from_replicas",
                             NULL};
    PyObject *pool, *rcb = NULL, *flags = NULL, *res = NULL;
    int ttl = 16, cd = 3, rfr = 0;
    rc_state *st = rc_state_of((PyObject *)self, (initproc)Client_init);

    if (st == NULL) {
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOiip:Client", kwlist, &pool, &rcb, &flags,
                                     &res, &ttl, &cd, &rfr)) {
        return -1;
    }
    if (self->pool != NULL) {
        /* Running calls use the pool and dicts it would replace. */
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__ was already called");
        return -1;
    }
    if (!PyObject_TypeCheck(pool, st->PoolType) || !((PoolObject *)pool)->ready) {
        PyErr_SetString(PyExc_TypeError, "pool must be an initialised rediscluster._core.Pool");
        return -1;
    }
    if (ttl < 1) {
        PyErr_SetString(PyExc_ValueError, "ttl must be at least 1");
        return -1;
    }
    self->st = st;
    Py_INCREF(pool);
    Py_XSETREF(self->pool, (PoolObject *)pool);
    self->lim.ttl = ttl;
    self->lim.clusterdown_tries = cd < 0 ? 0 : cd;
    self->read_from_replicas = rfr;
#define RC_DICT_OR_NEW(slot, v, name)                                                         \
    do {                                                                                      \
        PyObject *d_ = (v) ? (Py_INCREF(v), (v)) : PyDict_New();                              \
        if (d_ == NULL || rc_set_dict(&self->slot, d_, name) < 0) {                           \
            Py_XDECREF(d_);                                                                   \
            return -1;                                                                        \
        }                                                                                     \
        Py_DECREF(d_);                                                                        \
    } while (0)
    RC_DICT_OR_NEW(response_callbacks, rcb, "response_callbacks");
    RC_DICT_OR_NEW(nodes_flags, flags, "nodes_flags");
    RC_DICT_OR_NEW(result_callbacks, res, "result_callbacks");
#undef RC_DICT_OR_NEW
    return 0;
}

#define RC_DICT_GETSET(field)                                                                 \
    static PyObject *Client_get_##field(ClientObject *self, void *c)                          \
    {                                                                                         \
        (void)c;                                                                              \
        if (self->field == NULL) {                                                            \
            Py_RETURN_NONE;                                                                   \
        }                                                                                     \
        Py_INCREF(self->field);                                                               \
        return self->field;                                                                   \
    }                                                                                         \
    static int Client_set_##field(ClientObject *self, PyObject *v, void *c)                   \
    {                                                                                         \
        (void)c;                                                                              \
        return rc_set_dict(&self->field, v, #field);                                          \
    }
RC_DICT_GETSET(response_callbacks)
RC_DICT_GETSET(nodes_flags)
RC_DICT_GETSET(result_callbacks)

static PyObject *
Client_get_pool(ClientObject *self, void *c)
{
    (void)c;
    if (self->pool == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(self->pool);
    return (PyObject *)self->pool;
}

static PyObject *
Client_get_ttl(ClientObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->lim.ttl);
}

static int
Client_set_ttl(ClientObject *self, PyObject *v, void *c)
{
    long t = v ? PyLong_AsLong(v) : -1;
    (void)c;
    if (t == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (t < 1 || t > 1000) {
        PyErr_SetString(PyExc_ValueError, "the request TTL must be in 1..1000");
        return -1;
    }
    self->lim.ttl = (int)t;
    return 0;
}

static PyObject *
Client_get_cd(ClientObject *self, void *c)
{
    (void)c;
    return PyLong_FromLong(self->lim.clusterdown_tries);
}

static int
Client_set_cd(ClientObject *self, PyObject *v, void *c)
{
    long t = v ? PyLong_AsLong(v) : -1;
    (void)c;
    if (t == -1 && PyErr_Occurred()) {
        return -1;
    }
    self->lim.clusterdown_tries = t < 0 ? 0 : (t > 1000 ? 1000 : (int)t);
    return 0;
}

static PyObject *
Client_get_rfr(ClientObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->read_from_replicas);
}

static int
Client_set_rfr(ClientObject *self, PyObject *v, void *c)
{
    int t = v ? PyObject_IsTrue(v) : -1;
    (void)c;
    if (t < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "cannot delete read_from_replicas");
        }
        return -1;
    }
    self->read_from_replicas = t;
    return 0;
}

static int
Client_traverse(ClientObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->pool);
    Py_VISIT(self->response_callbacks);
    Py_VISIT(self->nodes_flags);
    Py_VISIT(self->result_callbacks);
    Py_VISIT(self->queue);
    Py_VISIT(self->aio_batch);
    return 0;
}

static int
Client_clear(ClientObject *self)
{
    Py_CLEAR(self->pool);
    Py_CLEAR(self->response_callbacks);
    Py_CLEAR(self->nodes_flags);
    Py_CLEAR(self->result_callbacks);
    Py_CLEAR(self->queue);
    Py_CLEAR(self->aio_batch);
    Py_CLEAR(self->hot_name);
    return 0;
}

static void
Client_dealloc(ClientObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Client_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
Client_aio_command(ClientObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    return rc_aio_command(self, args, nargsf, kwnames);
}

static PyObject *
Client_aio_batch(ClientObject *self, PyObject *commands)
{
    return rc_aio_batch(self, commands);
}

static PyObject *
Client_aio_transaction(ClientObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rc_aio_transaction(self, args, nargs);
}

static PyObject *
Client_aio_node_command(ClientObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rc_aio_node_command(self, args, nargs);
}

static PyObject *
Client_aio_refresh(ClientObject *self, PyObject *unused)
{
    return rc_aio_refresh(self, unused);
}

static PyMethodDef Client_methods[] = {
    {"_aio_execute_command", (PyCFunction)(void (*)(void))Client_aio_command,
     METH_FASTCALL | METH_KEYWORDS,
     "_aio_execute_command($self, *args, **options)\n--\n\n"
     "execute_command for the asyncio client: an awaitable (AioOp) run by the loop."},
    {"_aio_execute_batch", (PyCFunction)Client_aio_batch, METH_O,
     "_aio_execute_batch($self, commands, /)\n--\n\n"
     "_execute_batch for the asyncio client: an awaitable of the results list."},
    {"_aio_execute_transaction", (PyCFunction)(void (*)(void))Client_aio_transaction,
     METH_FASTCALL,
     "_aio_execute_transaction($self, slot, commands, /)\n--\n\n"
     "_execute_transaction for the asyncio client: an awaitable of the raw replies."},
    {"_aio_node_command", (PyCFunction)(void (*)(void))Client_aio_node_command, METH_FASTCALL,
     "_aio_node_command($self, host, port, /, *args)\n--\n\n"
     "One command to one address (no redirects): an awaitable of the raw reply."},
    {"_aio_initialize", (PyCFunction)Client_aio_refresh, METH_NOARGS,
     "_aio_initialize($self, /)\n--\n\n"
     "An awaitable that discovers the topology now (or waits for a running discovery)."},
    {"execute_command", (PyCFunction)(void (*)(void))Client_execute_command,
     METH_FASTCALL | METH_KEYWORDS,
     "execute_command($self, *args, **options)\n--\n\n"
     "Send one command to the node that owns its key and return the parsed reply.\n"
     "Redirections (MOVED/ASK), TRYAGAIN, CLUSTERDOWN and connection failures are\n"
     "handled here; options are passed to the response callback."},
    {"_queue_command", (PyCFunction)(void (*)(void))Client_queue_command,
     METH_FASTCALL | METH_KEYWORDS,
     "_queue_command($self, *args, **options)\n--\n\n"
     "Append (args, options) to command_stack and return self (pipelines)."},
    {"_execute_transaction", (PyCFunction)(void (*)(void))Client_execute_transaction,
     METH_FASTCALL,
     "_execute_transaction($self, slot, commands, /)\n--\n\n"
     "MULTI, commands, EXEC on slot's node as one unit; the raw replies."},
    {"_execute_batch", (PyCFunction)Client_execute_batch, METH_O,
     "_execute_batch($self, commands, /)\n--\n\n"
     "Run [(args, options), ...] in parallel per node; errors are returned in place."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Client_getset[] = {
    {"connection_pool", (getter)Client_get_pool, NULL, "The pool (cluster state).", NULL},
    {"command_stack", (getter)Client_get_queue, (setter)Client_set_queue,
     "Queued (args, options) pairs of a pipeline.", NULL},
    {"response_callbacks", (getter)Client_get_response_callbacks,
     (setter)Client_set_response_callbacks, "Upper-case command name -> reply parser.", NULL},
    {"nodes_flags", (getter)Client_get_nodes_flags, (setter)Client_set_nodes_flags,
     "Upper-case command name -> routing flag.", NULL},
    {"result_callbacks", (getter)Client_get_result_callbacks,
     (setter)Client_set_result_callbacks, "Upper-case command name -> fan-out merger.", NULL},
    {"_request_ttl", (getter)Client_get_ttl, (setter)Client_set_ttl,
     "Attempts per command (RedisClusterRequestTTL).", NULL},
    {"cluster_down_retry_attempts", (getter)Client_get_cd, (setter)Client_set_cd,
     "Retries after CLUSTERDOWN before giving up.", NULL},
    {"read_from_replicas", (getter)Client_get_rfr, (setter)Client_set_rfr,
     "Send read commands to replicas.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef Client_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ClientObject, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot Client_slots[] = {
    {Py_tp_doc, "Cluster client core: execute_command in C."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Client_init},
    {Py_tp_dealloc, Client_dealloc},
    {Py_tp_traverse, Client_traverse},
    {Py_tp_clear, Client_clear},
    {Py_tp_methods, Client_methods},
    {Py_tp_getset, Client_getset},
    {Py_tp_members, Client_members},
    {0, NULL},
};

PyType_Spec Client_spec = {
    .name = "rediscluster._core.Client",
    .basicsize = sizeof(ClientObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Client_slots,
};
