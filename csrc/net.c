/* net.c -- sockets for the engine (tier 0). Blocking calls only; never
 * touches Python objects, so callers run these with the GIL released. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* POSIX/GNU socket and clock APIs under -std=c11 */
#endif
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
        return -1;
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


/* Connect one address with a deadline; returns fd or -1 (err set). */
static int
rc_connect_addr(const struct addrinfo *ai, const char *host, int port,
                const rc_sockopts *o, double deadline, const rc_intr *intr, rc_err *err)
{
    int fd, flags, rc, soerr = 0, one = 1;
    socklen_t len = sizeof soerr;
    char ebuf[96];

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        rc = errno;
        rc_err_set(err, RC_E_CONNECT, rc, "Error %d connecting to %s:%d. %s.", rc,
                   host, port, rc_net_strerror(rc, ebuf, sizeof ebuf));
        return -1;
    }
    flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        goto sys_fail;
    }
    do {
        rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        if (errno != EINPROGRESS) {
            goto sys_fail;
        }
        rc = rc_net_wait(fd, POLLOUT, deadline, intr);
        if (rc == -2) {
            close(fd);
            rc_err_set(err, RC_E_INTR, EINTR, "Interrupted while connecting to %s:%d", host,
                       port);
            return -1;
        }
        if (rc == 0) {
            close(fd);
            rc_err_set(err, RC_E_TIMEOUT, ETIMEDOUT, "Timeout connecting to server %s:%d",
                       host, port);
            return -1;
        }
        if (rc < 0) {
            goto sys_fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            goto sys_fail;
        }
        if (soerr != 0) {
            errno = soerr;
            goto sys_fail;
        }
    }
    if (fcntl(fd, F_SETFL, flags) < 0) {
        goto sys_fail;
    }
    if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (o->keepalive) {
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        for (int i = 0; i < o->n_keepalive_opts; i++) {
            int v = o->keepalive_opts[i][1];
            (void)setsockopt(fd, IPPROTO_TCP, o->keepalive_opts[i][0], &v, sizeof v);
        }
    }
    rc_set_timeo(fd, SO_RCVTIMEO, o->timeout);
    rc_set_timeo(fd, SO_SNDTIMEO, o->timeout);
    return fd;

sys_fail:
    rc = errno;
    close(fd);
    rc_err_set(err, RC_E_CONNECT, rc, "Error %d connecting to %s:%d. %s.", rc, host, port,
               rc_net_strerror(rc, ebuf, sizeof ebuf));
    return -1;
}

int
rc_net_connect(const char *host, int port, const rc_sockopts *o, const rc_intr *intr,
               rc_err *err)
{
    double deadline = o->connect_timeout > 0 ? rc_net_now() + o->connect_timeout : 0;
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[16];
    int rc, fd = -1;
    rc_err last;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        rc_err_set(err, RC_E_RESOLVE, 0, "Error connecting to %s:%d. %s.", host, port,
                   gai_strerror(rc));
        return -1;
    }
    rc_err_clear(&last);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        rc_err_clear(&last);
        fd = rc_connect_addr(ai, host, port, o, deadline, intr, &last);
        if (fd >= 0 || last.kind == RC_E_INTR) {
            break;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (last.kind == RC_E_NONE) {
            rc_err_set(&last, RC_E_CONNECT, 0, "Error connecting to %s:%d. No address.", host,
                       port);
        }
        rc_err_set(err, last.kind, last.sys_errno, "%s", last.msg);
    }
    return fd;
}

int
rc_net_send_all(int fd, const char *p, size_t n, size_t *sent, const rc_intr *intr,
                rc_err *err)
{
    size_t off = 0;
    char ebuf[96];

    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w < 0) {
            int e = errno;
            if (e == EINTR) {
                if (intr != NULL && intr->check(intr->arg)) {
                    *sent = off;
                    rc_err_set(err, RC_E_INTR, EINTR, "Interrupted while writing to socket");
                    return RC_ERR;
                }
                continue;
            }
            *sent = off;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                rc_err_set(err, RC_E_TIMEOUT, e, "Timeout writing to socket");
            } else {
                rc_err_set(err, RC_E_IO, e, "Error %d while writing to socket. %s.", e,
                           rc_net_strerror(e, ebuf, sizeof ebuf));
            }
            return RC_ERR;
        }
        off += (size_t)w;
        if (off < n && intr != NULL && intr->check(intr->arg)) {
            /* A short write on a blocking socket: a signal may have cut it
             * (send reports the bytes already taken instead of EINTR). */
            *sent = off;
            rc_err_set(err, RC_E_INTR, EINTR, "Interrupted while writing to socket");
            return RC_ERR;
        }
    }
    *sent = off;
    return RC_OK;
}

ssize_t
rc_net_recv(int fd, char *p, size_t cap, rc_err *err)
{
    for (;;) {
        ssize_t r = recv(fd, p, cap, 0);
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            rc_err_set(err, RC_E_EOF, 0, "Connection closed by server.");
            return -1;
        }
        if (errno == EINTR) {
            return -2; /* let the caller run Python signal handlers */
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc_err_set(err, RC_E_TIMEOUT, errno, "Timeout reading from socket");
        } else {
            char ebuf[96];
            int e = errno;
            rc_err_set(err, RC_E_IO, e, "Error while reading from socket: %s",
                       rc_net_strerror(e, ebuf, sizeof ebuf));
        }
        return -1;
    }
}

ssize_t
rc_net_sendv_nb(int fd, const struct iovec *iov, int cnt, rc_err *err)
{
    struct msghdr msg;

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)cnt;
    for (;;) {
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            return w;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        {
            char ebuf[96];
            int e = errno;
            rc_err_set(err, RC_E_IO, e, "Error %d while writing to socket. %s.", e,
                       rc_net_strerror(e, ebuf, sizeof ebuf));
        }
        return -1;
    }
}

ssize_t
rc_net_recv_nb(int fd, char *p, size_t cap, rc_err *err)
{
    for (;;) {
        ssize_t r = recv(fd, p, cap, MSG_DONTWAIT);
        if (r > 0) {
            return r;
        }
        if (r == 0) {
            rc_err_set(err, RC_E_EOF, 0, "Connection closed by server.");
            return -1;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        {
            char ebuf[96];
            int e = errno;
            rc_err_set(err, RC_E_IO, e, "Error while reading from socket: %s",
                       rc_net_strerror(e, ebuf, sizeof ebuf));
        }
        return -1;
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
