/* tls.c -- TLS client connections with OpenSSL (tier 0). No Python. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* POSIX/GNU socket and clock APIs under -std=c11 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net.h"
#include "tls.h"

/* OpenSSL's queued error as text (and clear the queue). */
static void
rc_tls_err(rc_err *err, int kind, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[120];
    if (e != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        ERR_clear_error();
        rc_err_set(err, kind, 0, "TLS %s: %s", what, buf);
    } else {
        char ebuf[96];
        int en = errno;
        rc_err_set(err, kind, en, "TLS %s failed%s%s", what, en ? ": " : "",
                   en ? rc_net_strerror(en, ebuf, sizeof ebuf) : "");
    }
}

void *
rc_tls_ctx_new(const rc_tlsopts *o, rc_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL) {
        rc_tls_err(err, RC_E_CONNECT, "context");
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o->verify != RC_TLS_VERIFY_NONE) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (o->cafile != NULL ? SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1
                              : SSL_CTX_set_default_verify_paths(ctx) != 1) {
            char what[200];
            snprintf(what, sizeof what, "loading CA certificates from %.150s",
                     o->cafile ? o->cafile : "the system's default paths");
            rc_tls_err(err, RC_E_CONNECT, what);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (o->certfile != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->certfile) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o->keyfile ? o->keyfile : o->certfile,
                                        SSL_FILETYPE_PEM) != 1) {
            char what[200];
            snprintf(what, sizeof what, "loading the client certificate %.80s / key %.80s",
                     o->certfile, o->keyfile ? o->keyfile : o->certfile);
            rc_tls_err(err, RC_E_CONNECT, what);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

void
rc_tls_ctx_free(void *ctx)
{
    SSL_CTX_free((SSL_CTX *)ctx);
}

void
rc_tls_free(void *ssl)
{
    SSL_free((SSL *)ssl); /* no shutdown: never blocks, never writes */
}

/* Wait as OpenSSL asked (want_write or read): rc_net_wait's results. */
static int
rc_tls_wait(int fd, int want_write, double deadline, const rc_intr *intr)
{
    return rc_net_wait(fd, want_write ? POLLOUT : POLLIN, deadline, intr);
}

void *
rc_tls_connect(void *ctx, int fd, const char *host, int check_hostname, double timeout,
               const rc_intr *intr, rc_err *err)
{
    char ebuf[96];
    SSL *ssl;
    int flags = fcntl(fd, F_GETFL, 0);
    double deadline = timeout > 0 ? rc_net_now() + timeout : 0;
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        int en = errno;
        rc_err_set(err, RC_E_CONNECT, en, "TLS: fcntl: %s", rc_net_strerror(en, ebuf, sizeof ebuf));
        return NULL;
    }
    ERR_clear_error();
    ssl = SSL_new((SSL_CTX *)ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        rc_tls_err(err, RC_E_CONNECT, "setup");
        SSL_free(ssl);
        return NULL;
    }
    if (!is_ip) {
        SSL_set_tlsext_host_name(ssl, host);
    }
    if (check_hostname) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                   : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1) {
            rc_tls_err(err, RC_E_CONNECT, "hostname check setup");
            SSL_free(ssl);
            return NULL;
        }
    }
    for (;;) {
        int r = SSL_connect(ssl), e, w;
        if (r == 1) {
            return ssl;
        }
        e = SSL_get_error(ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            long vr = SSL_get_verify_result(ssl);
            if (vr != X509_V_OK) {
                rc_err_set(err, RC_E_CONNECT, 0, "TLS handshake: certificate verify failed: %s",
                           X509_verify_cert_error_string(vr));
                ERR_clear_error();
            } else {
                rc_tls_err(err, RC_E_CONNECT, "handshake");
            }
            SSL_free(ssl);
            return NULL;
        }
        w = rc_tls_wait(fd, e == SSL_ERROR_WANT_WRITE, deadline, intr);
        if (w <= 0) {
            if (w == 0) {
                rc_err_set(err, RC_E_TIMEOUT, ETIMEDOUT, "Timeout during the TLS handshake");
            } else if (w == -2) {
                rc_err_set(err, RC_E_INTR, EINTR, "Interrupted during the TLS handshake");
            } else {
                int en = errno;
                rc_err_set(err, RC_E_CONNECT, en, "TLS handshake: poll: %s",
                           rc_net_strerror(en, ebuf, sizeof ebuf));
            }
            SSL_free(ssl);
            return NULL;
        }
    }
}

/* One SSL_read/SSL_write outcome: > 0 bytes; 0 want read; -2 want write;
 * -1 error/EOF (err set). */
static ssize_t
rc_tls_io_result(SSL *ssl, int r, int is_read, rc_err *err)
{
    int e = SSL_get_error(ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return 0;
    case SSL_ERROR_WANT_WRITE:
        return -2;
    case SSL_ERROR_ZERO_RETURN:
        rc_err_set(err, RC_E_EOF, 0, "Connection closed by server.");
        return -1;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (errno == 0 || r == 0) {
                rc_err_set(err, RC_E_EOF, 0, "Connection closed by server.");
            } else {
                char ebuf[96];
                int en = errno;
                rc_err_set(err, RC_E_IO, en, "Error while %s socket: %s",
                           is_read ? "reading from" : "writing to",
                           rc_net_strerror(en, ebuf, sizeof ebuf));
            }
            return -1;
        }
        /* fall through */
    default:
        rc_tls_err(err, RC_E_IO, is_read ? "read" : "write");
        return -1;
    }
}

int
rc_tls_send_all(void *sslv, int fd, const char *p, size_t n, size_t *sent, double timeout,
                const rc_intr *intr, rc_err *err)
{
    SSL *ssl = (SSL *)sslv;
    size_t off = 0;

    ERR_clear_error();
    while (off < n) {
        size_t chunk = n - off > (1u << 30) ? (1u << 30) : n - off;
        int r = SSL_write(ssl, p + off, (int)chunk);
        ssize_t k;
        if (r > 0) {
            off += (size_t)r;
            continue;
        }
        k = rc_tls_io_result(ssl, r, 0, err);
        if (k == -1) {
            *sent = off;
            return RC_ERR;
        }
        k = rc_tls_wait(fd, k == -2, timeout > 0 ? rc_net_now() + timeout : 0, intr);
        if (k <= 0) {
            *sent = off;
            if (k == -2) {
                rc_err_set(err, RC_E_INTR, EINTR, "Interrupted while writing to socket");
            } else {
                rc_err_set(err, RC_E_TIMEOUT, ETIMEDOUT, "Timeout writing to socket");
            }
            return RC_ERR;
        }
    }
    *sent = off;
    return RC_OK;
}

ssize_t
rc_tls_recv(void *sslv, int fd, char *p, size_t cap, double timeout, rc_err *err)
{
    SSL *ssl = (SSL *)sslv;
    double deadline = timeout > 0 ? rc_net_now() + timeout : 0;

    ERR_clear_error();
    for (;;) {
        int r = SSL_read(ssl, p, cap > (1u << 30) ? (1 << 30) : (int)cap), w;
        ssize_t k;
        if (r > 0) {
            return r;
        }
        k = rc_tls_io_result(ssl, r, 1, err);
        if (k == -1) {
            return -1;
        }
        w = rc_net_wait(fd, k == -2 ? POLLOUT : POLLIN, deadline, NULL);
        if (w == 0) {
            rc_err_set(err, RC_E_TIMEOUT, ETIMEDOUT, "Timeout reading from socket");
            return -1;
        }
        if (w < 0 && errno == EINTR) {
            return -2; /* the caller runs Python's signal handlers */
        }
        if (w < 0) {
            char ebuf[96];
            int en = errno;
            rc_err_set(err, RC_E_IO, en, "Error while reading from socket: %s",
                       rc_net_strerror(en, ebuf, sizeof ebuf));
            return -1;
        }
    }
}

ssize_t
rc_tls_recv_nb(void *sslv, char *p, size_t cap, rc_err *err)
{
    SSL *ssl = (SSL *)sslv;
    size_t got = 0;

    ERR_clear_error();
    while (got < cap) {
        size_t want = cap - got > (1u << 30) ? (1u << 30) : cap - got;
        int r = SSL_read(ssl, p + got, (int)want);
        ssize_t k;
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        k = rc_tls_io_result(ssl, r, 1, err);
        if (k == -1) {
            return got > 0 ? (ssize_t)got : -1; /* report the data first */
        }
        break; /* would block */
    }
    return (ssize_t)got;
}

ssize_t
rc_tls_sendv_nb(void *sslv, const struct iovec *iov, int cnt, rc_err *err)
{
    SSL *ssl = (SSL *)sslv;
    size_t total = 0;

    ERR_clear_error();
    for (int i = 0; i < cnt; i++) {
        size_t len = iov[i].iov_len > (1u << 30) ? (1u << 30) : iov[i].iov_len;
        int r = SSL_write(ssl, iov[i].iov_base, (int)len);
        ssize_t k;
        if (r > 0) {
            total += (size_t)r;
            if ((size_t)r < iov[i].iov_len) {
                break; /* partial: resume there next time */
            }
            continue;
        }
        k = rc_tls_io_result(ssl, r, 0, err);
        if (k == -1) {
            return total > 0 ? (ssize_t)total : -1;
        }
        break;
    }
    return (ssize_t)total;
}

int
rc_tls_pending(void *ssl)
{
    return SSL_pending((SSL *)ssl);
}
