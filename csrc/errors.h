/* errors.h -- server error replies and engine errors as Python exceptions
 * (tier 1). The one error-prefix table lives in rediscluster/exceptions.py and
 * is loaded here at module exec; redirect parsing (MOVED/ASK) is pure C. */
#ifndef RC_ERRORS_H
#define RC_ERRORS_H

#include "state.h"

/* Kinds of top-level error replies the engine acts on without building a
 * Python object. */
typedef enum {
    RC_REDIR_NONE = 0,
    RC_REDIR_MOVED,
    RC_REDIR_ASK,
    RC_REDIR_TRYAGAIN,
    RC_REDIR_CLUSTERDOWN,
    RC_REDIR_MASTERDOWN
} rc_redirkind;

typedef struct rc_redirect {
    int kind;       /* rc_redirkind */
    int slot;       /* MOVED/ASK: slot number */
    int port;       /* MOVED/ASK: target port */
    char host[256]; /* MOVED/ASK: target host; "" means "the node asked" */
    size_t textlen;  /* bytes in text */
    char text[1024]; /* the error text (without '-'); longer texts are cut
                        (only ever shown in a final error message) */
} rc_redirect;

/* Classify an error reply text (without the leading '-'). Fills *r and
 * returns its kind; RC_REDIR_NONE for ordinary errors. A MOVED/ASK whose
 * arguments do not parse is RC_REDIR_NONE (it then becomes a plain
 * ResponseError value). Pure C; no GIL needed. */
int rc_redirect_parse(const char *s, size_t len, rc_redirect *r);

/* Load the exception classes and ERROR_PREFIXES from `module`
 * (rediscluster.exceptions) into st. 0, or -1 with an exception set. GIL. */
int rc_errors_load(rc_state *st, PyObject *module);

/* Free what rc_errors_load allocated (safe on a half-filled state). GIL. */
void rc_errors_clear(rc_state *st);

/* New reference: the exception instance for an error reply text, as
 * redis-py's parse_error builds it (class from the table, message after the
 * code). NULL with an exception set only on memory errors. GIL. */
PyObject *rc_error_from_reply(rc_state *st, const char *s, size_t len);

/* New reference: the exception instance for a redirect whose retries ran out
 * (MovedError("3999 h:p"), ClusterDownError(text), ...). GIL. */
PyObject *rc_error_from_redirect(rc_state *st, const rc_redirect *r);

/* Set the Python exception for a tier-0 error on `node` ("host:port", may be
 * NULL): RC_E_TIMEOUT -> TimeoutError, RC_E_AUTH -> AuthenticationError,
 * everything else -> ConnectionError; the message names the node. Returns
 * NULL for use in return statements. GIL. */
PyObject *rc_raise_from(rc_state *st, const rc_err *err, PyObject *node);

/* Set RedisClusterException(msg). Returns NULL. GIL. */
PyObject *rc_raise_cluster(rc_state *st, const char *fmt, ...);

#endif
