/* tls.h -- TLS on the engine's sockets with OpenSSL (tier 0: no Python).
 * Every function may block (bounded by the timeouts given): callers release
 * the GIL around them and pass only C data. A TLS socket is non-blocking;
 * waiting is done with poll(). Errors go into an rc_err with OpenSSL's text
 * (e.g. "certificate verify failed"). */
#ifndef RC_TLS_H
#define RC_TLS_H

#include <sys/types.h>

#include "rc.h"

struct iovec;

enum { RC_TLS_VERIFY_NONE = 0, RC_TLS_VERIFY_OPTIONAL = 1, RC_TLS_VERIFY_REQUIRED = 2 };

typedef struct rc_tlsopts {
    const char *certfile; /* client certificate (PEM), or NULL */
    const char *keyfile;  /* its key, or NULL (then taken from certfile) */
    const char *cafile;   /* CA bundle, or NULL for the system's */
    int verify;           /* RC_TLS_VERIFY_* */
} rc_tlsopts;

/* A client context (SSL_CTX *). NULL with *err set on failure. */
void *rc_tls_ctx_new(const rc_tlsopts *o, rc_err *err);
void rc_tls_ctx_free(void *ctx);

/* Make fd (connected, any mode) non-blocking and run the handshake within
 * timeout seconds (<= 0: no limit). `host` is used for SNI and, when
 * check_hostname, verified against the certificate. Returns the SSL *, or
 * NULL with *err set (RC_E_CONNECT, RC_E_TIMEOUT, RC_E_INTR: see rc_intr). */
void *rc_tls_connect(void *ctx, int fd, const char *host, int check_hostname,
                     double timeout, const rc_intr *intr, rc_err *err);
void rc_tls_free(void *ssl);

/* Write all n bytes (waiting up to timeout per wait). RC_OK, or RC_ERR with
 * *err set (RC_E_INTR included); *sent gets the bytes accepted. */
int rc_tls_send_all(void *ssl, int fd, const char *p, size_t n, size_t *sent, double timeout,
                    const rc_intr *intr, rc_err *err);

/* Read some bytes, waiting up to timeout: > 0 bytes, -1 with *err set
 * (RC_E_EOF, RC_E_TIMEOUT, RC_E_IO), or -2 when a signal interrupted the
 * wait (err untouched: the caller runs the signal handlers and may call
 * again), as rc_net_recv. */
ssize_t rc_tls_recv(void *ssl, int fd, char *p, size_t cap, double timeout, rc_err *err);

/* Non-blocking: bytes read (0: would block), -1 with *err set. Reads until
 * the socket has nothing more or cap is reached. */
ssize_t rc_tls_recv_nb(void *ssl, char *p, size_t cap, rc_err *err);

/* Non-blocking gather write: bytes written (0: would block), -1 on error.
 * After a partial write the caller must retry from where it stopped (same
 * bytes), which OpenSSL requires. */
ssize_t rc_tls_sendv_nb(void *ssl, const struct iovec *iov, int cnt, rc_err *err);

/* Decrypted bytes buffered in OpenSSL (poll() cannot see them). */
int rc_tls_pending(void *ssl);

#endif
