/* learned.c -- command info learned from the server (tier 2); see learned.h. */
#include <stdlib.h>
#include <string.h>

#include "learned.h"

static unsigned char
rc_up(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'a') < 26u ? c - ('a' - 'A') : c);
}

static int
rc_same_name(const char *upper, const char *name, size_t len)
{
    if (strlen(upper) != len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (rc_up((unsigned char)name[i]) != (unsigned char)upper[i]) {
            return 0;
        }
    }
    return 1;
}

const rc_cmdinfo *
rc_learned_find(rc_cluster *cl, const char *name, size_t len, int *known)
{
    const rc_learned_cmd *e = __atomic_load_n(&cl->learned, __ATOMIC_ACQUIRE);
    for (; e != NULL; e = e->next) {
        if (rc_same_name(e->name, name, len)) {
            *known = e->known;
            return e->known ? &e->info : NULL;
        }
    }
    *known = -1; /* not asked yet */
    return NULL;
}

/* ---------------------------------------------------------------- parsing */

/* The bytes of a bytes or str reply item; 0 or -1 (other types). */
static int
rc_text(PyObject *o, const char **p, Py_ssize_t *n)
{
    if (PyBytes_Check(o)) {
        *p = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyUnicode_Check(o)) {
        *p = PyUnicode_AsUTF8AndSize(o, n);
        if (*p == NULL) {
            PyErr_Clear();
            return -1;
        }
        return 0;
    }
    return -1;
}

/* o equals word (lower case), case-insensitively. */
static int
rc_is(PyObject *o, const char *word)
{
    const char *p;
    Py_ssize_t n;
    size_t wl = strlen(word);
    if (rc_text(o, &p, &n) < 0 || (size_t)n != wl) {
        return 0;
    }
    for (size_t i = 0; i < wl; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return 0;
        }
    }
    return 1;
}

/* An int reply item that fits int16; 0 or -1. */
static int
rc_small_int(PyObject *o, int *v)
{
    long x;
    if (!PyLong_Check(o)) {
        return -1;
    }
    x = PyLong_AsLong(o);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (x < -32768 || x > 32767) {
        return -1;
    }
    *v = (int)x;
    return 0;
}

/* Value of `key` in a flat [k1, v1, k2, v2, ...] list (borrowed), or NULL. */
static PyObject *
rc_kv(PyObject *flat, const char *key)
{
    if (!PyList_Check(flat)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i + 1 < PyList_GET_SIZE(flat); i += 2) {
        if (rc_is(PyList_GET_ITEM(flat, i), key)) {
            return PyList_GET_ITEM(flat, i + 1);
        }
    }
    return NULL;
}

static int
rc_kv_int(PyObject *flat, const char *key, int *v)
{
    PyObject *o = rc_kv(flat, key);
    return o == NULL ? -1 : rc_small_int(o, v);
}

static const struct {
    const char *name;
    uint32_t bit;
} rc_cmd_flag_names[] = {
    {"write", RC_CMD_WRITE},
    {"readonly", RC_CMD_READONLY},
    {"denyoom", RC_CMD_DENYOOM},
    {"module", RC_CMD_MODULE},
    {"admin", RC_CMD_ADMIN},
    {"pubsub", RC_CMD_PUBSUB},
    {"noscript", RC_CMD_NOSCRIPT},
    {"blocking", RC_CMD_BLOCKING},
    {"loading", RC_CMD_LOADING},
    {"stale", RC_CMD_STALE},
    {"skip_monitor", RC_CMD_SKIP_MONITOR},
    {"skip_slowlog", RC_CMD_SKIP_SLOWLOG},
    {"asking", RC_CMD_ASKING},
    {"fast", RC_CMD_FAST},
    {"no_auth", RC_CMD_NO_AUTH},
    {"may_replicate", RC_CMD_MAY_REPLICATE},
    {"no_mandatory_keys", RC_CMD_NO_MANDATORY_KEYS},
    {"no_async_loading", RC_CMD_NO_ASYNC_LOADING},
    {"no_multi", RC_CMD_NO_MULTI},
    {"movablekeys", RC_CMD_MOVABLEKEYS},
    {"allow_busy", RC_CMD_ALLOW_BUSY},
};

static const struct {
    const char *name;
    uint16_t bit;
} rc_ks_flag_names[] = {
    {"ro", RC_KSF_RO},
    {"rw", RC_KSF_RW},
    {"ow", RC_KSF_OW},
    {"rm", RC_KSF_RM},
    {"access", RC_KSF_ACCESS},
    {"update", RC_KSF_UPDATE},
    {"insert", RC_KSF_INSERT},
    {"delete", RC_KSF_DELETE},
    {"not_key", RC_KSF_NOT_KEY},
    {"incomplete", RC_KSF_INCOMPLETE},
    {"variable_flags", RC_KSF_VARIABLE_FLAGS},
};

static uint32_t
rc_cmd_flags(PyObject *list)
{
    uint32_t bits = 0;
    if (!PyList_Check(list)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        for (size_t k = 0; k < sizeof rc_cmd_flag_names / sizeof rc_cmd_flag_names[0]; k++) {
            if (rc_is(PyList_GET_ITEM(list, i), rc_cmd_flag_names[k].name)) {
                bits |= rc_cmd_flag_names[k].bit;
            }
        }
    }
    return bits;
}

static uint16_t
rc_ks_flags(PyObject *list)
{
    uint16_t bits = 0;
    if (list == NULL || !PyList_Check(list)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        for (size_t k = 0; k < sizeof rc_ks_flag_names / sizeof rc_ks_flag_names[0]; k++) {
            if (rc_is(PyList_GET_ITEM(list, i), rc_ks_flag_names[k].name)) {
                bits |= rc_ks_flag_names[k].bit;
            }
        }
    }
    return bits;
}

/* One key spec (a flat list: flags, begin_search, find_keys) into e->specs[j]. */
static int
rc_parse_spec(PyObject *spec, rc_learned_cmd *e, int j)
{
    rc_keyspec *ks = &e->specs[j];
    PyObject *bs = rc_kv(spec, "begin_search"), *fk = rc_kv(spec, "find_keys");
    PyObject *bs_spec, *fk_spec;
    int keyword = 0, keynum = 0, unknown = 0, v, a, b, c;

    if (bs == NULL || fk == NULL) {
        return -1;
    }
    memset(ks, 0, sizeof *ks);
    ks->flags = rc_ks_flags(rc_kv(spec, "flags"));
    bs_spec = rc_kv(bs, "spec");
    fk_spec = rc_kv(fk, "spec");
    if (rc_kv(bs, "type") == NULL || rc_kv(fk, "type") == NULL) {
        return -1;
    }
    if (rc_is(rc_kv(bs, "type"), "index")) {
        if (rc_kv_int(bs_spec, "index", &v) < 0) {
            return -1;
        }
        ks->bs = (int16_t)v;
    } else if (rc_is(rc_kv(bs, "type"), "keyword")) {
        const char *p;
        Py_ssize_t n;
        PyObject *kw = rc_kv(bs_spec, "keyword");
        if (kw == NULL || rc_text(kw, &p, &n) < 0 || n <= 0 || n >= RC_LEARNED_KEYWORD_MAX ||
            rc_kv_int(bs_spec, "startfrom", &v) < 0) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            e->keywords[j][i] = (char)rc_up((unsigned char)p[i]);
        }
        e->keywords[j][n] = '\0';
        ks->keyword = e->keywords[j];
        ks->keyword_len = (uint8_t)n;
        ks->bs = (int16_t)v;
        keyword = 1;
    } else {
        unknown = 1;
    }
    if (rc_is(rc_kv(fk, "type"), "range")) {
        if (rc_kv_int(fk_spec, "lastkey", &a) < 0 || rc_kv_int(fk_spec, "keystep", &b) < 0 ||
            rc_kv_int(fk_spec, "limit", &c) < 0 || b < 1) {
            return -1;
        }
        ks->fk.range.lastkey = (int16_t)a;
        ks->fk.range.keystep = (int16_t)b;
        ks->fk.range.limit = (int16_t)c;
    } else if (rc_is(rc_kv(fk, "type"), "keynum")) {
        if (rc_kv_int(fk_spec, "keynumidx", &a) < 0 || rc_kv_int(fk_spec, "firstkey", &b) < 0 ||
            rc_kv_int(fk_spec, "keystep", &c) < 0 || c < 1) {
            return -1;
        }
        ks->fk.keynum.keynumidx = (int16_t)a;
        ks->fk.keynum.firstkey = (int16_t)b;
        ks->fk.keynum.keystep = (int16_t)c;
        keynum = 1;
    } else {
        unknown = 1;
    }
    if (unknown) {
        ks->kind = RC_KS_UNKNOWN;
    } else if (keyword) {
        ks->kind = keynum ? RC_KS_KEYWORD_KEYNUM : RC_KS_KEYWORD;
    } else {
        ks->kind = keynum ? RC_KS_KEYNUM : RC_KS_RANGE;
        if (ks->bs < 1) {
            return -1;
        }
    }
    return 0;
}

int
rc_learned_parse(PyObject *entry, rc_learned_cmd *e)
{
    Py_ssize_t n;
    int arity, first, last, step;
    PyObject *specs;

    e->known = 0;
    if (entry == Py_None) {
        return 0;
    }
    if (!PyList_Check(entry) || (n = PyList_GET_SIZE(entry)) < 6 ||
        rc_small_int(PyList_GET_ITEM(entry, 1), &arity) < 0 || arity == 0 || arity < -127 ||
        arity > 127 || rc_small_int(PyList_GET_ITEM(entry, 3), &first) < 0 ||
        rc_small_int(PyList_GET_ITEM(entry, 4), &last) < 0 ||
        rc_small_int(PyList_GET_ITEM(entry, 5), &step) < 0 || first < 0 || first > 127 ||
        last < -128 || last > 127 || step < 0 || step > 127) {
        return -1;
    }
    e->info.flags = rc_cmd_flags(PyList_GET_ITEM(entry, 2)) | RC_CMD_LEARNED;
    e->info.arity = (int8_t)arity;
    e->info.first_key = (int8_t)first;
    e->info.last_key = (int8_t)last;
    e->info.key_step = (int8_t)step;
    e->info.nspecs = 0;
    specs = n > 8 ? PyList_GET_ITEM(entry, 8) : NULL;
    if (specs != NULL && PyList_Check(specs) && PyList_GET_SIZE(specs) > 0) {
        /* Redis >= 7.0 and Valkey: key specs */
        if (PyList_GET_SIZE(specs) > RC_LEARNED_SPECS_MAX) {
            return -1;
        }
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(specs); j++) {
            if (rc_parse_spec(PyList_GET_ITEM(specs, j), e, (int)j) < 0) {
                return -1;
            }
        }
        e->info.nspecs = (uint8_t)PyList_GET_SIZE(specs);
    } else if (first > 0) {
        /* Redis 6.2: the legacy first/last/step is the only key range; with
         * movablekeys it is not the whole truth -- no usable info then. */
        if (e->info.flags & RC_CMD_MOVABLEKEYS) {
            return -1;
        }
        memset(&e->specs[0], 0, sizeof e->specs[0]);
        e->specs[0].kind = RC_KS_RANGE;
        e->specs[0].bs = (int16_t)first;
        e->specs[0].fk.range.lastkey = (int16_t)(last >= 0 ? last - first : last);
        e->specs[0].fk.range.keystep = (int16_t)(step > 0 ? step : 1);
        e->info.nspecs = 1;
    } else if (e->info.flags & RC_CMD_MOVABLEKEYS) {
        return -1;
    }
    e->known = 1;
    return 1;
}

/* ---------------------------------------------------------------- learning */

static void
rc_learned_push(rc_cluster *cl, rc_learned_cmd *e)
{
    rc_learned_cmd *head = __atomic_load_n(&cl->learned, __ATOMIC_ACQUIRE);
    do {
        e->next = head;
    } while (!__atomic_compare_exchange_n(&cl->learned, &head, e, 0, __ATOMIC_RELEASE,
                                          __ATOMIC_ACQUIRE));
}

int
rc_learned_lookup(rc_cluster *cl, const char *name, size_t len, int node,
                  const rc_cmdinfo **out)
{
    char cmd[64 + RC_LEARNED_NAME_MAX];
    int known, n, st, parsed = -1;
    rc_route rt = {-1, node, 1, 0};
    rc_limits lim = {2, 0};
    rc_learned_cmd *e;
    PyObject *reply = NULL;

    *out = rc_learned_find(cl, name, len, &known);
    if (known >= 0 || node < 0 || len == 0 || len >= RC_LEARNED_NAME_MAX) {
        return 0;
    }
    if (__atomic_fetch_add(&cl->nlearned, 1, __ATOMIC_RELAXED) >= RC_LEARNED_MAX) {
        __atomic_fetch_sub(&cl->nlearned, 1, __ATOMIC_RELAXED);
        return 0;
    }
    n = snprintf(cmd, sizeof cmd, "*3\r\n$7\r\nCOMMAND\r\n$4\r\nINFO\r\n$%zu\r\n", len);
    memcpy(cmd + n, name, len);
    memcpy(cmd + n + len, "\r\n", 2);
    st = rc_engine_one(cl, cmd, (size_t)n + len + 2, &rt, &lim, &reply);
    if (st != RC_ST_OK) {
        /* Could not ask (connection trouble): not remembered, the table or
         * a random master serve meanwhile. */
        PyObject *exc = rc_fetch_exception();
        __atomic_fetch_sub(&cl->nlearned, 1, __ATOMIC_RELAXED);
        if (exc != NULL && !PyErr_GivenExceptionMatches(exc, PyExc_Exception)) {
            rc_restore_exception(exc);
            return -1;
        }
        Py_XDECREF(exc);
        return PyErr_Occurred() ? -1 : 0;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        Py_DECREF(reply);
        __atomic_fetch_sub(&cl->nlearned, 1, __ATOMIC_RELAXED);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        e->name[i] = (char)rc_up((unsigned char)name[i]);
    }
    e->info.name = e->name;
    e->info.name_len = (uint8_t)len;
    /* An error reply (NOPERM for a user without COMMAND, ...) or an answer
     * we cannot read is remembered as "unknown" too: never asked again. */
    if (PyList_Check(reply) && PyList_GET_SIZE(reply) == 1) {
        parsed = rc_learned_parse(PyList_GET_ITEM(reply, 0), e);
    }
    Py_DECREF(reply);
    if (parsed <= 0) {
        e->known = 0;
    }
    rc_learned_push(cl, e);
    *out = e->known ? &e->info : NULL;
    return 0;
}

void
rc_learned_clear(rc_cluster *cl)
{
    rc_learned_cmd *e = __atomic_exchange_n(&cl->learned, NULL, __ATOMIC_ACQ_REL);
    while (e != NULL) {
        rc_learned_cmd *next = e->next;
        free(e);
        e = next;
    }
    cl->nlearned = 0;
}
