/* pack.h -- Python command arguments -> RESP bytes (tier 1).
 * redis-py 3.5's Encoder rules: bytes and memoryview as they are, str
 * encoded with the configured encoding, int and float as str()/repr();
 * everything else (None, bool, dict, bytearray, ...) is a DataError naming the
 * type. No I/O here; every function needs the GIL. */
#ifndef RC_PACK_H
#define RC_PACK_H

#include "buf.h"
#include "state.h"

typedef struct rc_codec {
    const char *encoding; /* Python codec name, e.g. "utf-8" */
    const char *errors;   /* e.g. "strict" */
    int utf8_strict;      /* encoding is utf-8 and errors "strict" */
} rc_codec;

/* Where one argv token's bytes landed in the output buffer. */
typedef struct rc_argpos {
    size_t off; /* offset of the first data byte in out->data */
    size_t len; /* data length */
} rc_argpos;

/* Number of argv tokens args[0..nargs) pack to (a str first argument with
 * spaces, e.g. "CONFIG GET", is split into words as redis-py does). */
Py_ssize_t rc_pack_count(PyObject *const *args, Py_ssize_t nargs);

/* Append one command to `out`. When `pos` is not NULL it must have room for
 * rc_pack_count() entries and receives each token's position. Returns the
 * token count, or -1 with an exception set (DataError for unsupported types,
 * UnicodeEncodeError, MemoryError); `out` is then restored to its old
 * length. Borrowed references only. GIL. */
Py_ssize_t rc_pack_command(rc_state *st, const rc_codec *codec, rc_buf *out,
                           PyObject *const *args, Py_ssize_t nargs, rc_argpos *pos);

/* Encode one value (a key, say) by the same rules. On success returns 0 and
 * sets *p and *n; *tmp may receive a new reference the caller must release after
 * using *p (NULL when none was needed); `scratch` (>= 32 bytes) may hold the
 * digits of an int. -1 with an exception set on error. GIL. */
int rc_encode_arg(rc_state *st, const rc_codec *codec, PyObject *v, const char **p,
                  size_t *n, PyObject **tmp, char *scratch);

#endif
