/* rc.h -- definitions shared by every C file of rediscluster._core (tier 0).
 *
 * Return codes, the sticky error record, branch hints and version gates.
 * Must not include Python.h: tier-0 files (crc16, buf, net, tls, commands)
 * compile without it. */
#ifndef RC_H
#define RC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RC_OK 0
#define RC_ERR (-1)

#define RC_SLOTS 16384
#define RC_NO_NODE 0xFFFFu /* slot not covered */

#if defined(__GNUC__)
#define RC_LIKELY(x) __builtin_expect(!!(x), 1)
#define RC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RC_UNUSED __attribute__((unused))
#define RC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RC_LIKELY(x) (x)
#define RC_UNLIKELY(x) (x)
#define RC_UNUSED
#define RC_PRINTF(a, b)
#endif

/* What went wrong on a connection or in a tier-0 routine. Kinds map to Python
 * exceptions in exactly one place (errors.c, rc_raise_from). */
typedef enum {
    RC_E_NONE = 0,
    RC_E_IO,       /* send/recv/poll failed (sys_errno set) */
    RC_E_EOF,      /* peer closed the connection */
    RC_E_TIMEOUT,  /* socket_timeout / socket_connect_timeout expired */
    RC_E_CONNECT,  /* could not connect (sys_errno set) */
    RC_E_RESOLVE,  /* getaddrinfo failed */
    RC_E_PROTOCOL, /* the peer sent bytes that are not RESP */
    RC_E_OOM,      /* allocation failed */
    RC_E_AUTH,     /* handshake (AUTH) refused; message holds the server text */
    RC_E_HANDSHAKE, /* another handshake command failed */
    RC_E_INTR       /* a signal handler raised while waiting (the Python
                       exception is set; see rc_intr) */
} rc_errkind;

/* What a blocking tier-0 wait does when a signal interrupts it (EINTR):
 * check(arg) runs -- without the GIL; it takes it to run Python's signal
 * handlers -- and returns nonzero to give up (the wait then fails with
 * RC_E_INTR), zero to resume with the time left. */
typedef struct rc_intr {
    int (*check)(void *arg);
    void *arg;
} rc_intr;

typedef struct rc_err {
    int kind;      /* rc_errkind; RC_E_NONE when clear */
    int sys_errno; /* errno at the failure, 0 if not a system error */
    char msg[160]; /* human text, never holds a password */
} rc_err;

/* Set *e (the one setter). Later errors do not overwrite an earlier one:
 * errors are sticky until rc_err_clear. */
static inline RC_PRINTF(4, 5) void
rc_err_set(rc_err *e, int kind, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    if (e->kind != RC_E_NONE) {
        return;
    }
    e->kind = kind;
    e->sys_errno = sys_errno;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

static inline void
rc_err_clear(rc_err *e)
{
    e->kind = RC_E_NONE;
    e->sys_errno = 0;
    e->msg[0] = '\0';
}

#endif /* RC_H */
