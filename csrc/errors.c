/* errors.c -- error replies and engine errors -> Python exceptions (tier 1).
 * The class table comes from rediscluster.exceptions.ERROR_PREFIXES (one place
 * per decision); this file only mirrors it in C for lookups while parsing.
 * No I/O here. */
#include <stdlib.h>
#include <string.h>

#include "errors.h"

static int
rc_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ASCII digits with a value at most `max` (leading zeros allowed). */
static int
rc_parse_uint(const char *s, size_t n, long max, int *out)
{
    long v = 0;
    if (n == 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
        if (v > max) {
            return -1;
        }
    }
    *out = (int)v;
    return 0;
}

/* "SLOT HOST:PORT", the same rules as exceptions._parse_redirect: exactly two
 * whitespace-separated tokens; SLOT digits below 16384; split the address at
 * its last ':'; PORT digits in 1..65535; one pair of brackets around the host
 * removed; the host may be empty (the node that replied). */
static int
rc_parse_target(const char *s, size_t n, rc_redirect *r)
{
    const char *tok[3];
    size_t len[3];
    int ntok = 0;
    const char *hp, *colon = NULL;
    size_t hn;

    for (size_t i = 0; i < n;) {
        size_t j;
        while (i < n && rc_is_ws(s[i])) {
            i++;
        }
        if (i >= n) {
            break;
        }
        j = i;
        while (j < n && !rc_is_ws(s[j])) {
            j++;
        }
        if (ntok == 2) {
            return -1; /* more than two tokens */
        }
        tok[ntok] = s + i;
        len[ntok++] = j - i;
        i = j;
    }
    if (ntok != 2 || rc_parse_uint(tok[0], len[0], RC_SLOTS - 1, &r->slot) < 0) {
        return -1;
    }
    hp = tok[1];
    hn = len[1];
    for (size_t i = hn; i > 0; i--) {
        if (hp[i - 1] == ':') {
            colon = hp + i - 1;
            break;
        }
    }
    if (colon == NULL ||
        rc_parse_uint(colon + 1, hn - (size_t)(colon + 1 - hp), 65535, &r->port) < 0 ||
        r->port == 0) {
        return -1;
    }
    hn = (size_t)(colon - hp);
    if (hn >= 2 && hp[0] == '[' && hp[hn - 1] == ']') {
        hp++;
        hn -= 2;
    }
    if (hn >= sizeof r->host) {
        return -1;
    }
    memcpy(r->host, hp, hn);
    r->host[hn] = '\0';
    return 0;
}

static int
rc_has_code(const char *s, size_t n, const char *code, size_t cn)
{
    return n >= cn && memcmp(s, code, cn) == 0 && (n == cn || s[cn] == ' ');
}

int
rc_redirect_parse(const char *s, size_t len, rc_redirect *r)
{
    size_t tn = len < sizeof r->text - 1 ? len : sizeof r->text - 1;

    r->kind = RC_REDIR_NONE;
    if (len < 3) {
        return RC_REDIR_NONE;
    }
    if (rc_has_code(s, len, "MOVED", 5)) {
        if (len > 6 && rc_parse_target(s + 6, len - 6, r) == 0) {
            r->kind = RC_REDIR_MOVED;
        }
    } else if (rc_has_code(s, len, "ASK", 3)) {
        if (len > 4 && rc_parse_target(s + 4, len - 4, r) == 0) {
            r->kind = RC_REDIR_ASK;
        }
    } else if (rc_has_code(s, len, "TRYAGAIN", 8)) {
        r->kind = RC_REDIR_TRYAGAIN;
    } else if (rc_has_code(s, len, "CLUSTERDOWN", 11)) {
        r->kind = RC_REDIR_CLUSTERDOWN;
    } else if (rc_has_code(s, len, "MASTERDOWN", 10)) {
        r->kind = RC_REDIR_MASTERDOWN;
    }
    if (r->kind != RC_REDIR_NONE) {
        memcpy(r->text, s, tn);
        r->text[tn] = '\0';
        r->textlen = tn;
    }
    return r->kind;
}

static PyObject *
rc_get_class(PyObject *module, const char *name)
{
    PyObject *cls = PyObject_GetAttrString(module, name);
    if (cls != NULL && !PyType_Check(cls)) {
        PyErr_Format(PyExc_TypeError, "rediscluster.exceptions.%s is not a class", name);
        Py_CLEAR(cls);
    }
    return cls;
}

int
rc_errors_load(rc_state *st, PyObject *module)
{
    PyObject *table = NULL, *seq = NULL;
    int ret = -1;
    Py_ssize_t n;

#define RC_LOAD(field)                                                                        \
    if ((st->field = rc_get_class(module, #field)) == NULL) {                                 \
        goto done;                                                                            \
    }
    RC_LOAD(RedisError)
    RC_LOAD(ConnectionError)
    RC_LOAD(TimeoutError)
    RC_LOAD(AuthenticationError)
    RC_LOAD(ResponseError)
    RC_LOAD(DataError)
    RC_LOAD(RedisClusterException)
    RC_LOAD(ClusterError)
    RC_LOAD(ClusterDownError)
    RC_LOAD(SlotNotCoveredError)
    RC_LOAD(MovedError)
    RC_LOAD(AskError)
    RC_LOAD(TryAgainError)
    RC_LOAD(MasterDownError)
    RC_LOAD(BusyLoadingError)
    RC_LOAD(ClusterAuthenticationError)
#undef RC_LOAD

    table = PyObject_GetAttrString(module, "ERROR_PREFIXES");
    if (table == NULL) {
        goto done;
    }
    seq = PySequence_Fast(table, "ERROR_PREFIXES must be a sequence of (key, class) pairs");
    if (seq == NULL) {
        goto done;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    st->errcodes = calloc((size_t)(n ? n : 1), sizeof *st->errcodes);
    if (st->errcodes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i), *key, *cls;
        rc_errcode *ec = &st->errcodes[i];
        Py_ssize_t kn;
        const char *ks;

        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "ERROR_PREFIXES entries must be (key, class)");
            goto done;
        }
        key = PyTuple_GET_ITEM(pair, 0);
        cls = PyTuple_GET_ITEM(pair, 1);
        ks = PyUnicode_Check(key) ? PyUnicode_AsUTF8AndSize(key, &kn) : NULL;
        if (ks == NULL || kn <= 0 || !PyType_Check(cls)) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "ERROR_PREFIXES: bad entry");
            }
            goto done;
        }
        ec->key = malloc((size_t)kn + 1);
        if (ec->key == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy(ec->key, ks, (size_t)kn + 1);
        ec->len = (size_t)kn;
        ec->exact = memchr(ks, ' ', (size_t)kn) != NULL;
        Py_INCREF(cls);
        ec->cls = cls;
        st->nerrcodes = (int)i + 1;
    }
    ret = 0;
done:
    Py_XDECREF(seq);
    Py_XDECREF(table);
    return ret;
}

void
rc_errors_clear(rc_state *st)
{
    for (int i = 0; i < st->nerrcodes; i++) {
        free(st->errcodes[i].key);
        Py_XDECREF(st->errcodes[i].cls);
    }
    free(st->errcodes);
    st->errcodes = NULL;
    st->nerrcodes = 0;
    Py_CLEAR(st->RedisError);
    Py_CLEAR(st->ConnectionError);
    Py_CLEAR(st->TimeoutError);
    Py_CLEAR(st->AuthenticationError);
    Py_CLEAR(st->ClusterAuthenticationError);
    Py_CLEAR(st->ResponseError);
    Py_CLEAR(st->DataError);
    Py_CLEAR(st->RedisClusterException);
    Py_CLEAR(st->ClusterError);
    Py_CLEAR(st->ClusterDownError);
    Py_CLEAR(st->SlotNotCoveredError);
    Py_CLEAR(st->MovedError);
    Py_CLEAR(st->AskError);
    Py_CLEAR(st->TryAgainError);
    Py_CLEAR(st->MasterDownError);
    Py_CLEAR(st->BusyLoadingError);
}

static PyObject *
rc_make_exc(PyObject *cls, const char *s, size_t n)
{
    PyObject *msg = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "replace"), *exc;
    if (msg == NULL) {
        return NULL;
    }
    exc = PyObject_CallOneArg(cls, msg);
    Py_DECREF(msg);
    return exc;
}

PyObject *
rc_error_from_reply(rc_state *st, const char *s, size_t len)
{
    const char *sp = memchr(s, ' ', len);
    size_t cn = sp ? (size_t)(sp - s) : len;
    const char *m = sp ? sp + 1 : s + len;

    for (int i = 0; i < st->nerrcodes; i++) {
        const rc_errcode *ec = &st->errcodes[i];
        if (ec->exact ? (ec->len == len && memcmp(ec->key, s, len) == 0)
                      : (ec->len == cn && memcmp(ec->key, s, cn) == 0)) {
            return rc_make_exc(ec->cls, m, (size_t)(s + len - m));
        }
    }
    return rc_make_exc(st->ResponseError, s, len);
}

PyObject *
rc_error_from_redirect(rc_state *st, const rc_redirect *r)
{
    return rc_error_from_reply(st, r->text, r->textlen);
}

PyObject *
rc_raise_from(rc_state *st, const rc_err *err, PyObject *node)
{
    PyObject *cls;
    const char *name = NULL;

    switch (err->kind) {
    case RC_E_TIMEOUT:
        cls = st->TimeoutError;
        break;
    case RC_E_AUTH:
        cls = st->AuthenticationError;
        break;
    case RC_E_OOM:
        return PyErr_NoMemory();
    default:
        cls = st->ConnectionError;
        break;
    }
    if (node != NULL) {
        name = PyUnicode_AsUTF8(node);
        if (name == NULL) {
            PyErr_Clear();
        }
    }
    if (name != NULL && strstr(err->msg, name) == NULL) {
        PyErr_Format(cls, "%s: %s", name, err->msg[0] ? err->msg : "connection error");
    } else {
        PyErr_SetString(cls, err->msg[0] ? err->msg : "connection error");
    }
    return NULL;
}

PyObject *
rc_raise_cluster(rc_state *st, const char *fmt, ...)
{
    va_list ap;
    PyObject *msg;

    va_start(ap, fmt);
    msg = PyUnicode_FromFormatV(fmt, ap);
    va_end(ap);
    if (msg != NULL) {
        PyErr_SetObject(st->RedisClusterException, msg);
        Py_DECREF(msg);
    }
    return NULL;
}
