/* reply.h -- RESP replies to Python objects through the hiredis reader
 * (tier 1). The reader is a pure state machine fed with bytes by the I/O
 * layer; this file only supplies its object-building callbacks. Every call
 * into the reader (feed, get, free) needs the GIL: the callbacks create and
 * release Python objects. */
#ifndef RC_REPLY_H
#define RC_REPLY_H

#include "errors.h" /* Python.h first, as CPython requires */

#include <hiredis/hiredis.h>

typedef struct rc_replyctx {
    rc_state *st;           /* borrowed: exception classes, marker */
    int decode;             /* decode_responses: bulk/status replies -> str */
    int utf8_strict;        /* encoding is utf-8 with 'strict' (fast path) */
    const char *encoding;   /* borrowed from the pool's config */
    const char *errors;     /* borrowed from the pool's config */
    PyObject *deferred;     /* first Python error raised in a callback while
                               building the current reply (owned), or NULL */
    rc_redirect redir;      /* set when the current top-level reply is a
                               redirect-class error (MOVED, ASK, ...) */
} rc_replyctx;

/* A reader whose replies are Python objects; ctx must outlive it. NULL on
 * memory error (no exception set). GIL. */
redisReader *rc_reader_new(rc_replyctx *ctx);

/* Free the reader and any partial reply. GIL. */
void rc_reader_free(redisReader *r);

/* Feed bytes. RC_OK, or RC_ERR if the reader is in an error state. GIL. */
int rc_reader_feed(redisReader *r, const char *p, size_t n);

/* Take the next complete top-level reply.
 * Returns 1 and a new reference in *out (the state's redirect marker when
 * ctx->redir.kind != RC_REDIR_NONE; when ctx->deferred is set the reply is
 * incomplete garbage and the caller must use the deferred error instead);
 * 0 when more bytes are needed; -1 on a protocol error (r->errstr says
 * what; the connection must be closed). GIL. */
int rc_reader_get(redisReader *r, rc_replyctx *ctx, PyObject **out);

/* Bytes buffered in the reader and not yet consumed by a reply. */
size_t rc_reader_pending(const redisReader *r);

/* Take the deferred error (new reference) and clear it, or NULL. GIL. */
PyObject *rc_reply_take_deferred(rc_replyctx *ctx);

/* Current exception as an instance, cleared (3.12 API with a shim). GIL. */
PyObject *rc_fetch_exception(void);

/* Set `exc` (an exception instance) as the current exception. Steals. GIL. */
void rc_restore_exception(PyObject *exc);

#endif
