/* net.h -- sockets: connect with a deadline, socket options, send/recv/poll
 * wrappers (tier 0, no Python). Every function here may block: callers release
 * the GIL around them and pass only C data. Errors go into an rc_err. */
#ifndef RC_NET_H
#define RC_NET_H

#include <sys/types.h>

#include "rc.h"

#define RC_MAX_KEEPALIVE_OPTS 8

typedef struct rc_sockopts {
    double connect_timeout; /* seconds for connect(); <= 0: no limit */
    double timeout;         /* seconds per send/recv; <= 0: no limit */
    int keepalive;          /* 1: SO_KEEPALIVE */
    int n_keepalive_opts;   /* entries used in keepalive_opts */
    int keepalive_opts[RC_MAX_KEEPALIVE_OPTS][2]; /* (IPPROTO_TCP option, value) */
} rc_sockopts;

/* Resolve host and connect to host:port within o->connect_timeout, trying each
 * address. On success returns a blocking fd with TCP_NODELAY, keepalive options
 * and SO_RCVTIMEO/SO_SNDTIMEO = o->timeout set. On failure returns -1 with
 * *err set (RC_E_RESOLVE, RC_E_CONNECT, RC_E_TIMEOUT, or RC_E_INTR when
 * intr->check gave up after a signal; intr may be NULL: signals are then
 * waited through). Blocks; no GIL needed. */
int rc_net_connect(const char *host, int port, const rc_sockopts *o, const rc_intr *intr,
                   rc_err *err);

/* Send all n bytes on a blocking fd. RC_OK, or RC_ERR with *err set
 * (RC_E_TIMEOUT, RC_E_IO, RC_E_INTR; never raises SIGPIPE). *sent gets the
 * bytes that left, so callers know whether anything was written. */
int rc_net_send_all(int fd, const char *p, size_t n, size_t *sent, const rc_intr *intr,
                    rc_err *err);

/* poll() fd for `events` until one happens or `deadline` (rc_net_now()
 * clock; <= 0: none). After a signal (EINTR) intr->check decides whether to
 * resume; with intr NULL the wait returns -1 with errno EINTR. Returns poll's
 * result: > 0 ready, 0 timed out, -1 error (errno set), -2 given up after a
 * signal. */
int rc_net_wait(int fd, short events, double deadline, const rc_intr *intr);

/* strerror, thread-safe: the text for errno e (in buf, or a constant). */
const char *rc_net_strerror(int e, char *buf, size_t n);

/* One recv on a blocking fd (bounded by SO_RCVTIMEO). Returns the byte count
 * (> 0), -1 with *err set (RC_E_EOF, RC_E_TIMEOUT, RC_E_IO), or -2 when a
 * signal interrupted it (err untouched: the caller checks Python's signal
 * handlers and may call again). */
ssize_t rc_net_recv(int fd, char *p, size_t cap, rc_err *err);

/* Non-blocking receive for the poll loop: bytes read (0 means "would
 * block"), or -1 with *err set (EOF included). */
ssize_t rc_net_recv_nb(int fd, char *p, size_t cap, rc_err *err);

struct iovec;
/* Non-blocking gather write of cnt segments: bytes written (0: would block),
 * or -1 with *err set. */
ssize_t rc_net_sendv_nb(int fd, const struct iovec *iov, int cnt, rc_err *err);

/* 1 if fd has nothing to read and no hang-up pending (an idle pooled
 * connection that is still usable), 0 otherwise. Never blocks. */
int rc_net_idle_ok(int fd);

/* Monotonic clock in seconds (cheap: vDSO). */
double rc_net_now(void);

/* Sleep for sec seconds (no GIL needed; callers release it). */
void rc_net_sleep(double sec);

#endif
