/* net.h -- sockets: name resolution, non-blocking connect, socket options,
 * send/recv/poll wrappers (tier 0, no Python). Nothing here blocks unless it
 * says so (resolution of a name; the `block` variants, bounded by the
 * socket's tick); callers release the GIL around those and pass only C
 * data. Errors go into an rc_err. */
#ifndef RC_NET_H
#define RC_NET_H

#include <sys/socket.h>
#include <sys/types.h>

#include "rc.h"

#define RC_MAX_KEEPALIVE_OPTS 8

/* A blocking send/recv on a ready plain-TCP socket returns at least this
 * often (SO_SNDTIMEO/SO_RCVTIMEO), so that the driver sees signals (Ctrl-C)
 * and deadlines even when the other side is silent. */
#define RC_NET_TICK 0.1

typedef struct rc_sockopts {
    double connect_timeout; /* seconds for connect + handshake; <= 0: no limit */
    double timeout;         /* seconds without progress on a command; <= 0: no limit */
    int keepalive;          /* 1: SO_KEEPALIVE */
    int n_keepalive_opts;   /* entries used in keepalive_opts */
    int keepalive_opts[RC_MAX_KEEPALIVE_OPTS][2]; /* (IPPROTO_TCP option, value) */
} rc_sockopts;

/* Resolve host:port into at most max socket addresses (stored in out, an
 * array of sockaddr_storage; lens gets each length). A numeric host needs
 * no lookup; a name is looked up with getaddrinfo (blocks). Returns the
 * count (>= 1), or -1 with *err set (RC_E_RESOLVE). */
int rc_net_resolve(const char *host, int port, struct sockaddr_storage *out, socklen_t *lens,
                   int max, rc_err *err);

/* 1 if host is a numeric IPv4/IPv6 address (no lookup needed). */
int rc_net_is_numeric(const char *host);

/* Start a non-blocking connect to sa: the fd (O_NONBLOCK, close-on-exec),
 * with *done = 1 if it connected at once; -1 with *err set (RC_E_CONNECT).
 * host/port only name the peer in messages. */
int rc_net_connect_start(const struct sockaddr *sa, socklen_t len, const char *host, int port,
                         int *done, rc_err *err);

/* The outcome of a connect once the socket polled writable: 0 connected,
 * -1 with *err set. */
int rc_net_connect_result(int fd, const char *host, int port, rc_err *err);

/* Options of a connected socket: TCP_NODELAY, keepalive, and -- unless
 * keep_nonblocking (TLS) -- back to blocking mode with the tick as its
 * send/receive timeout. */
void rc_net_setup(int fd, const rc_sockopts *o, int keep_nonblocking);

/* Gather write: bytes written (0: would block, or a blocking write's tick
 * or a signal passed), -1 with *err set. block=0: never blocks
 * (MSG_DONTWAIT); block=1: one blocking sendmsg. Never raises SIGPIPE. */
ssize_t rc_net_sendv(int fd, const struct iovec *iov, int cnt, int block, rc_err *err);

/* Receive: bytes read (0: nothing yet -- would block, the tick passed, or a
 * signal), -1 with *err set (RC_E_EOF, RC_E_IO). block as rc_net_sendv. */
ssize_t rc_net_recv(int fd, char *p, size_t cap, int block, rc_err *err);

/* poll() fd for `events` until one happens or `deadline` (rc_net_now()
 * clock; <= 0: none). After a signal (EINTR) intr->check decides whether to
 * resume; with intr NULL the wait returns -1 with errno EINTR. Returns poll's
 * result: > 0 ready, 0 timed out, -1 error (errno set), -2 given up after a
 * signal. */
int rc_net_wait(int fd, short events, double deadline, const rc_intr *intr);

/* Busy polling: poll(fds, nfds, 0) again and again until one is ready or
 * the clock (rc_net_now) reaches `until` -- the CPU kept busy instead of
 * sleeping, for replies expected within microseconds. Returns poll's count
 * (> 0, revents set), 0 at `until` (or after a signal), -1 on an error.
 * Never blocks. */
struct pollfd;
int rc_net_spin(struct pollfd *fds, int nfds, double until);

/* 1 if fd has nothing to read and no hang-up pending (an idle pooled
 * connection that is still usable), 0 otherwise. Never blocks. */
int rc_net_idle_ok(int fd);

/* strerror, thread-safe: the text for errno e (in buf, or a constant). */
const char *rc_net_strerror(int e, char *buf, size_t n);

/* Monotonic clock in seconds (cheap: vDSO). */
double rc_net_now(void);

/* Sleep for sec seconds (no GIL needed; callers release it). */
void rc_net_sleep(double sec);

#endif
