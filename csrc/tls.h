/* tls.h -- TLS on the engine's sockets with OpenSSL (tier 0: no Python).
 * A TLS socket is non-blocking and nothing here waits: callers poll() (or
 * let a driver wait) as the functions ask. Errors go into an rc_err with
 * OpenSSL's text (e.g. "certificate verify failed"). */
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

/* A client TLS session on fd (connected, non-blocking): `host` is used for
 * SNI and, when check_hostname, verified against the certificate. Returns
 * the SSL *, or NULL with *err set. The handshake is rc_tls_handshake's. */
void *rc_tls_new(void *ctx, int fd, const char *host, int check_hostname, rc_err *err);
void rc_tls_free(void *ssl);

/* One step of the handshake: 1 done, 0 it must wait (*want_write: for the
 * socket to be writable, else readable), -1 with *err set. */
int rc_tls_handshake(void *ssl, int *want_write, rc_err *err);

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
