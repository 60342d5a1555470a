/* net.c -- sockets for the engine (tier 0). Never touches Python objects, so
 * callers may run these with the GIL released. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* POSIX/GNU socket and clock APIs under -std=c11 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

const char *
rc_net_strerror(int e, char *buf, size_t n)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, n); /* GNU: may return a constant instead of buf */
#else
    if (strerror_r(e, buf, n) != 0) {
        snprintf(buf, n, "error %d", e);
    }
    return buf;
#endif
}

double
rc_net_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
rc_net_sleep(double sec)
{
    struct timespec ts;
    if (sec <= 0) {
        return;
    }
    ts.tv_sec = (time_t)sec;
    ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int
rc_ms(double sec)
{
    if (sec <= 0) {
        return 0;
    }
    if (sec > 2000000.0) {
        return 2000000000;
    }
    return (int)(sec * 1000.0 + 0.999);
}

static void
rc_set_timeo(int fd, int opt, double sec)
{
    struct timeval tv = {0, 0};
    if (sec > 0) {
        tv.tv_sec = (time_t)sec;
        tv.tv_usec = (suseconds_t)((sec - (double)tv.tv_sec) * 1e6);
        if (tv.tv_sec == 0 && tv.tv_usec == 0) {
            tv.tv_usec = 1;
        }
    }
    (void)setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

int
rc_net_wait(int fd, short events, double deadline, const rc_intr *intr)
{
    struct pollfd pfd;
    for (;;) {
        int rc, ms = -1;
        if (deadline > 0) {
            double left = deadline - rc_net_now();
            ms = left <= 0 ? 0 : rc_ms(left);
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, ms);
        if (rc >= 0 || errno != EINTR || intr == NULL) {
            return rc;
        }
        if (intr->check(intr->arg)) {
            return -2;
        }
    }
}

int
rc_net_is_numeric(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int
rc_net_resolve(const char *host, int port, struct sockaddr_storage *out, socklen_t *lens,
               int max, rc_err *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int rc, n = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (rc_net_is_numeric(host)) {
        hints.ai_flags = AI_NUMERICHOST;
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        rc_err_set(err, RC_E_RESOLVE, 0, "Error connecting to %s:%d. %s.", host, port,
                   gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[n]) {
            continue;
        }
        memset(&out[n], 0, sizeof out[n]);
        memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
        lens[n] = (socklen_t)ai->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        rc_err_set(err, RC_E_RESOLVE, 0, "Error connecting to %s:%d. No address.", host, port);
        return -1;
    }
    return n;
}

int
rc_net_connect_start(const struct sockaddr *sa, socklen_t len, const char *host, int port,
                     int *done, rc_err *err)
{
    int fd, rc, e;
    char ebuf[96];

    *done = 0;
    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        e = errno;
        rc_err_set(err, RC_E_CONNECT, e, "Error %d connecting to %s:%d. %s.", e, host, port,
                   rc_net_strerror(e, ebuf, sizeof ebuf));
        return -1;
    }
    do {
        rc = connect(fd, sa, len);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        *done = 1;
        return fd;
    }
    if (errno == EINPROGRESS) {
        return fd;
    }
    e = errno;
    close(fd);
    rc_err_set(err, RC_E_CONNECT, e, "Error %d connecting to %s:%d. %s.", e, host, port,
               rc_net_strerror(e, ebuf, sizeof ebuf));
    return -1;
}

int
rc_net_connect_result(int fd, const char *host, int port, rc_err *err)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    char ebuf[96];

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
        soerr = errno;
    }
    if (soerr == 0) {
        return 0;
    }
    rc_err_set(err, RC_E_CONNECT, soerr, "Error %d connecting to %s:%d. %s.", soerr, host,
               port, rc_net_strerror(soerr, ebuf, sizeof ebuf));
    return -1;
}

void
rc_net_setup(int fd, const rc_sockopts *o, int keep_nonblocking)
{
    int one = 1;
    double tick = RC_NET_TICK;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (o->keepalive) {
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        for (int i = 0; i < o->n_keepalive_opts; i++) {
            int v = o->keepalive_opts[i][1];
            (void)setsockopt(fd, IPPROTO_TCP, o->keepalive_opts[i][0], &v, sizeof v);
        }
    }
    if (!keep_nonblocking) {
        int flags = fcntl(fd, F_GETFL, 0);
        if (flags >= 0) {
            (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        }
        if (o->timeout > 0 && o->timeout < tick) {
            tick = o->timeout;
        }
        rc_set_timeo(fd, SO_RCVTIMEO, tick);
        rc_set_timeo(fd, SO_SNDTIMEO, tick);
    }
}

ssize_t
rc_net_sendv(int fd, const struct iovec *iov, int cnt, int block, rc_err *err)
{
    struct msghdr msg;
    char ebuf[96];

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)cnt;
    for (;;) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
        int e;
        if (w >= 0) {
            return w;
        }
        e = errno;
        if (e == EINTR) {
            if (block) {
                return 0; /* the driver looks at signals */
            }
            continue;
        }
        if (e == EAGAIN || e == EWOULDBLOCK) {
            return 0;
        }
        rc_err_set(err, RC_E_IO, e, "Error %d while writing to socket. %s.", e,
                   rc_net_strerror(e, ebuf, sizeof ebuf));
        return -1;
    }
}

ssize_t
rc_net_recv(int fd, char *p, size_t cap, int block, rc_err *err)
{
    char ebuf[96];
    for (;;) {
        ssize_t r = recv(fd, p, cap, block ? 0 : MSG_DONTWAIT);
        int e;
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            rc_err_set(err, RC_E_EOF, 0, "Connection closed by server.");
            return -1;
        }
        e = errno;
        if (e == EINTR) {
            if (block) {
                return 0;
            }
            continue;
        }
        if (e == EAGAIN || e == EWOULDBLOCK) {
            return 0;
        }
        rc_err_set(err, RC_E_IO, e, "Error while reading from socket: %s",
                   rc_net_strerror(e, ebuf, sizeof ebuf));
        return -1;
    }
}

int
rc_net_spin(struct pollfd *fds, int nfds, double until)
{
    for (;;) {
        int rc = poll(fds, (nfds_t)nfds, 0);
        if (rc != 0) {
            return rc < 0 && errno == EINTR ? 0 : rc;
        }
        if (rc_net_now() >= until) {
            return 0;
        }
    }
}

int
rc_net_idle_ok(int fd)
{
    struct pollfd pfd;
    int rc;

    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    do {
        rc = poll(&pfd, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc == 0;
}
