/* pack.c -- RESP command packing with redis-py's type rules (tier 1).
 * No I/O. Never called without the GIL. */
#include <string.h>

#include "pack.h"

static int
rc_type_error(rc_state *st, PyObject *v)
{
    /* type(v).__name__, as redis-py says it: tp_name of a static type carries
     * its module ("datetime.datetime"). */
    const char *name = Py_TYPE(v)->tp_name, *dot = strrchr(name, '.');
    PyErr_Format(st->DataError,
                 "Invalid input of type: '%s'. Convert to a bytes, string, int or float first.",
                 dot ? dot + 1 : name);
    return -1;
}

int
rc_encode_arg(rc_state *st, const rc_codec *codec, PyObject *v, const char **p, size_t *n,
              PyObject **tmp, char *scratch)
{
    *tmp = NULL;
    if (PyBytes_Check(v)) {
        *p = PyBytes_AS_STRING(v);
        *n = (size_t)PyBytes_GET_SIZE(v);
        return 0;
    }
    if (PyUnicode_Check(v)) {
        if (codec->utf8_strict) {
            Py_ssize_t sz;
            const char *s = PyUnicode_AsUTF8AndSize(v, &sz);
            if (s == NULL) {
                return -1;
            }
            *p = s;
            *n = (size_t)sz;
            return 0;
        }
        *tmp = PyUnicode_AsEncodedString(v, codec->encoding, codec->errors);
        if (*tmp == NULL) {
            return -1;
        }
        if (!PyBytes_Check(*tmp)) {
            Py_CLEAR(*tmp);
            PyErr_SetString(st->DataError, "encoding did not produce bytes");
            return -1;
        }
        *p = PyBytes_AS_STRING(*tmp);
        *n = (size_t)PyBytes_GET_SIZE(*tmp);
        return 0;
    }
    if (PyBool_Check(v)) {
        return rc_type_error(st, v);
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (!overflow) {
            *n = (size_t)rc_fmt_ll(scratch, x);
            *p = scratch;
            return 0;
        }
    }
    if (PyFloat_CheckExact(v)) {
        char *s = PyOS_double_to_string(PyFloat_AS_DOUBLE(v), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        size_t sl;
        if (s == NULL) {
            return -1;
        }
        sl = strlen(s);
        *tmp = PyBytes_FromStringAndSize(s, (Py_ssize_t)sl);
        PyMem_Free(s);
        if (*tmp == NULL) {
            return -1;
        }
        *p = PyBytes_AS_STRING(*tmp);
        *n = sl;
        return 0;
    }
    if (PyLong_Check(v) || PyFloat_Check(v)) {
        /* big ints and subclasses: str() for int, repr() for float, as
         * redis-py does */
        PyObject *s = PyLong_Check(v) ? PyObject_Str(v) : PyObject_Repr(v);
        if (s == NULL) {
            return -1;
        }
        *tmp = PyUnicode_AsUTF8String(s);
        Py_DECREF(s);
        if (*tmp == NULL) {
            return -1;
        }
        *p = PyBytes_AS_STRING(*tmp);
        *n = (size_t)PyBytes_GET_SIZE(*tmp);
        return 0;
    }
    if (PyMemoryView_Check(v)) {
        /* A contiguous copy keeps the code simple; views are rare. */
        *tmp = PyBytes_FromObject(v);
        if (*tmp == NULL) {
            return -1;
        }
        *p = PyBytes_AS_STRING(*tmp);
        *n = (size_t)PyBytes_GET_SIZE(*tmp);
        return 0;
    }
    return rc_type_error(st, v);
}

static int
rc_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Words of a str or bytes command name that contains whitespace ("CONFIG
 * GET"); 0 if it has none or is another type. */
static Py_ssize_t
rc_name_words(PyObject *name, const char **s, Py_ssize_t *sn)
{
    Py_ssize_t words = 0, i;
    int in = 0, space = 0;

    if (PyUnicode_Check(name)) {
        if (PyUnicode_IS_COMPACT_ASCII(name)) {
            /* The common case ("GET"): the ASCII data is the UTF-8. */
            *s = (const char *)PyUnicode_DATA(name);
            *sn = PyUnicode_GET_LENGTH(name);
        } else {
            *s = PyUnicode_AsUTF8AndSize(name, sn);
            if (*s == NULL) {
                PyErr_Clear();
                return 0;
            }
        }
    } else if (PyBytes_Check(name)) {
        *s = PyBytes_AS_STRING(name);
        *sn = PyBytes_GET_SIZE(name);
    } else {
        return 0;
    }
    for (i = 0; i < *sn && !space; i++) {
        space = rc_is_space((*s)[i]);
    }
    if (!space) {
        return 0;
    }
    for (i = 0; i < *sn; i++) {
        if (rc_is_space((*s)[i])) {
            in = 0;
        } else if (!in) {
            in = 1;
            words++;
        }
    }
    return words;
}

Py_ssize_t
rc_pack_count(PyObject *const *args, Py_ssize_t nargs)
{
    const char *s;
    Py_ssize_t sn, w;

    if (nargs <= 0) {
        return 0;
    }
    w = rc_name_words(args[0], &s, &sn);
    return nargs - 1 + (w > 0 ? w : 1);
}

static int
rc_put_bulk(rc_buf *out, const char *p, size_t n, rc_argpos *pos)
{
    char *w;
    if (rc_buf_reserve(out, n + 32) != RC_OK) {
        PyErr_NoMemory();
        return -1;
    }
    w = out->data + out->len;
    *w++ = '$';
    w += rc_fmt_ll(w, (long long)n);
    *w++ = '\r';
    *w++ = '\n';
    if (pos != NULL) {
        pos->off = (size_t)(w - out->data);
        pos->len = n;
    }
    if (n) {
        memcpy(w, p, n);
    }
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
    return 0;
}

Py_ssize_t
rc_pack_command(rc_state *st, const rc_codec *codec, rc_buf *out, PyObject *const *args,
                Py_ssize_t nargs, rc_argpos *pos)
{
    size_t start = out->len;
    const char *s = NULL;
    Py_ssize_t sn = 0, words, ntok, t = 0, first = 1;
    char hdr[32], scratch[32];
    int hn;

    if (nargs <= 0) {
        PyErr_SetString(st->DataError, "empty command");
        return -1;
    }
    words = rc_name_words(args[0], &s, &sn);
    ntok = nargs - 1 + (words > 0 ? words : 1);
    hdr[0] = '*';
    hn = 1 + rc_fmt_ll(hdr + 1, (long long)ntok);
    hdr[hn++] = '\r';
    hdr[hn++] = '\n';
    if (rc_buf_append(out, hdr, (size_t)hn) != RC_OK) {
        PyErr_NoMemory();
        return -1;
    }
    if (words > 0) {
        Py_ssize_t i = 0;
        while (i < sn) {
            Py_ssize_t b;
            while (i < sn && rc_is_space(s[i])) {
                i++;
            }
            b = i;
            while (i < sn && !rc_is_space(s[i])) {
                i++;
            }
            if (i > b) {
                if (rc_put_bulk(out, s + b, (size_t)(i - b), pos ? &pos[t] : NULL) < 0) {
                    goto fail;
                }
                t++;
            }
        }
    } else {
        first = 0;
    }
    for (Py_ssize_t i = first; i < nargs; i++) {
        const char *p;
        size_t n;
        PyObject *tmp;
        int rc;

        if (rc_encode_arg(st, codec, args[i], &p, &n, &tmp, scratch) < 0) {
            goto fail;
        }
        rc = rc_put_bulk(out, p, n, pos ? &pos[t] : NULL);
        Py_XDECREF(tmp);
        if (rc < 0) {
            goto fail;
        }
        t++;
    }
    return t;
fail:
    out->len = start;
    return -1;
}
