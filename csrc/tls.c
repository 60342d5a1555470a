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

void *
rc_tls_new(void *ctx, int fd, const char *host, int check_hostname, rc_err *err)
{
    SSL *ssl;
    unsigned char addr[16];
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;

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
    SSL_set_connect_state(ssl);
    return ssl;
}

int
rc_tls_handshake(void *sslv, int *want_write, rc_err *err)
{
    SSL *ssl = (SSL *)sslv;
    int r, e;

    ERR_clear_error();
    r = SSL_do_handshake(ssl);
    if (r == 1) {
        return 1;
    }
    e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want_write = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    {
        long vr = SSL_get_verify_result(ssl);
        if (vr != X509_V_OK) {
            rc_err_set(err, RC_E_CONNECT, 0, "TLS handshake: certificate verify failed: %s",
                       X509_verify_cert_error_string(vr));
            ERR_clear_error();
        } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            rc_err_set(err, RC_E_CONNECT, errno, "TLS handshake: connection %s",
                       r == 0 ? "closed by server" : "failed");
        } else {
            rc_tls_err(err, RC_E_CONNECT, "handshake");
        }
    }
    return -1;
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
