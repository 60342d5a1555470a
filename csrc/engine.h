/* engine.h -- running commands on the cluster as a resumable operation
 * (tier 2).
 *
 * An op is N packed commands with their routing (N = 1 for execute_command;
 * pipelines, fan-out and multi-key splits give more). rc_op_step() advances
 * it as far as it can without waiting: it routes pending commands to nodes
 * (one lane per node per round), checks connections out -- starting new
 * ones without blocking -- feeds the bytes the lanes received to the reply
 * parsers, and applies the cluster policy (rc_policy, the one place that
 * decides what follows each outcome) to every command that got an answer.
 * Then it says what it waits for (op->wait: sockets and events, or only a
 * deadline for a backoff; or a topology refresh), or that it is done.
 *
 * rc_op_io() performs the socket I/O the op waits for -- connect completion,
 * TLS handshakes, writes, reads into the lanes' raw buffers -- touching only
 * C data, so a driver may run it without the GIL. Drivers (drive.c) alternate
 * rc_op_step and rc_op_io: the native one with poll() and the GIL released,
 * the callback one through a Python wait function (gevent, or one a user
 * set), the asyncio client through the event loop.
 *
 * Never touches a PyObject without the GIL; rc_op_io touches none. */
#ifndef RC_ENGINE_H
#define RC_ENGINE_H

#include <poll.h>
#include <sys/uio.h>

#include "cluster.h"

/* How to route a command: by slot (redirects followed) or to a node. */
typedef struct rc_route {
    int slot;       /* 0..16383, or -1 when `node` is given */
    int node;       /* node index when slot == -1 (pinned while the op runs) */
    int is_read;    /* may be re-sent after an ambiguous connection failure */
    int replica_ok; /* a read that may go to one of the slot's replicas */
} rc_route;

typedef struct rc_limits {
    int ttl;                /* attempts per command (RedisClusterRequestTTL) */
    int clusterdown_tries;  /* cluster_down_retry_attempts */
} rc_limits;

typedef struct rc_bcmd {
    size_t off, len;   /* the packed command in rc_op.buf */
    rc_route rt;       /* routing */
    int ask_node;      /* -1, or the node an ASK sent it to (pinned) */
    int tries;         /* redirects and retries taken */
    PyObject *result;  /* owned; NULL while pending. Exception instances
                          for errors (server or connection). */
    PyObject *last;    /* owned or NULL: the last connection error of an
                          attempt (the context of "TTL exhausted") */
} rc_bcmd;

/* What the engine keeps of a redirect-class reply once its connection moved
 * on: a few bytes (the text only survives in `exc`, built when the reply may
 * become the command's error). */
typedef struct rc_redir {
    int kind;      /* rc_redirkind */
    int slot;      /* MOVED/ASK: the slot */
    int node;      /* MOVED/ASK: target node index; -1 if it could not be made */
    PyObject *exc; /* owned or NULL: the reply as an exception instance */
} rc_redir;

typedef struct rc_item {
    Py_ssize_t cmd; /* index in the op */
    int rd;         /* index into the lane's redirects (rds), or -1 */
    char asking;    /* 1: the ASKING sent before cmd (its reply is dropped) */
    char answered;  /* a reply was read (stored in the command's result,
                       or as a redirect) */
} rc_item;

/* Where a lane is. */
enum {
    RC_LANE_WAITCONN = 0, /* at the connection limit: waiting for a release */
    RC_LANE_OPENING,      /* its connection is connecting / handshaking */
    RC_LANE_IO,           /* writing its commands, reading their replies */
    RC_LANE_DONE          /* every reply read, or failed */
};

#define RC_LANE_INLINE 2

/* The commands of one round that go to one node. */
typedef struct rc_lane {
    int node;            /* node index */
    int state;           /* RC_LANE_* */
    rc_conn *conn;       /* checked out for this round, or NULL */
    struct iovec *seg;   /* the bytes of item i: seg[i], pointing into the
                            op's buffer (no copies) */
    rc_item *items;      /* nitems == number of segments */
    int nitems, cap;
    int seg_i;           /* first segment not completely written */
    size_t seg_off;      /* bytes of seg[seg_i] already written */
    int nread;           /* replies read */
    rc_redir *rds;       /* redirect replies (rare), owned */
    int nrds, rds_cap;
    double deadline;     /* no progress by then: timeout (0: none) */
    int failed;          /* conn->err is set (or the checkout failed) */
    int pfd;             /* its entry in op->wait.fds, or -1 */
    rc_err err;          /* a checkout failure (no connection to hold it) */
    rc_waiter waiter;    /* its place in the connection waiters' FIFO */
    int held;            /* the connection is the caller's (rc_op_init_held) */
    rc_item items_inline[RC_LANE_INLINE]; /* small lanes need no malloc */
    struct iovec seg_inline[RC_LANE_INLINE];
} rc_lane;

/* Why the next round must wait or refresh. */
typedef struct rc_retry {
    int conn_fails;   /* connection failures so far */
    int timeouts;     /* timeouts so far */
    int tryagain;     /* TRYAGAIN replies so far */
    int clusterdown;  /* CLUSTERDOWN/MASTERDOWN replies so far */
    int uncovered;    /* attempts that found the slot unserved */
    double backoff;   /* seconds to sleep before the next attempt */
    int refresh;      /* ask for a topology refresh first */
} rc_retry;

/* What rc_op_step returns. */
enum {
    RC_OP_DONE = 0,    /* every command has a result (or op->fatal is set) */
    RC_OP_WAIT = 1,    /* wait as op->wait says, then rc_op_io, then step */
    RC_OP_REFRESH = 2  /* run a topology refresh (rc_cluster_refresh with
                          force: single flight, rate limited), then step */
};

/* What the op waits for after RC_OP_WAIT: any of the sockets becoming ready
 * as asked, or the deadline. No sockets: a pure sleep until the deadline. */
typedef struct rc_wait {
    struct pollfd *fds;   /* owned by the op; revents filled by the driver */
    int nfds, cap;
    double deadline;      /* rc_net_now() clock; 0: none */
    int may_block;        /* one plain-TCP socket: a driver may do the I/O
                             with blocking calls (rc_op_io block=1) */
    int ready_now;        /* bytes are already there (TLS buffers): do not
                             sleep, call rc_op_io at once */
} rc_wait;

#define RC_OP_INLINE 4

typedef struct rc_op {
    rc_cluster *cl;
    rc_limits lim;
    rc_buf buf;           /* all packed commands */
    rc_bcmd *cmds;        /* owned, or cmds_inline */
    Py_ssize_t n, cap;
    int phase;            /* private */
    int round;            /* rounds started */
    rc_lane *lanes;       /* this round's lanes (owned, or lanes_inline) */
    int nlanes, lanes_cap;
    rc_retry rs, start;   /* the policy's counters; `start`: at the round's start */
    double wake_at;       /* backoff: the next round starts then */
    double op_deadline;   /* no new attempt after it (single commands), 0: none */
    double now;           /* the clock at the current step's start */
    rc_wait wait;
    int pinned;           /* node-routed commands' nodes are pinned */
    int held_mode;        /* RC_HELD_* for an op on held connections, else 0 */
    int block;            /* the commands are one transaction, MULTI first and
                             EXEC last: routed by the first one's route, sent
                             and retried together (rc_settle_block); a
                             failure of the whole ends the op (op->fatal) */
    int nwaits;           /* waits asked for so far */
    int no_spin;          /* never busy-poll (a blocking command: BLPOP...) */
    double held_timeout;  /* RC_HELD_READ: how long to wait (< 0: no limit) */
    double held_deadline; /* RC_HELD_READ: held_timeout from the round's start (0: none) */
    int wake_fd;          /* RC_HELD_READ: one more fd waited on (-1: none); its
                             becoming readable ends the op without a reply */
    int wake_pfd;         /* its entry in op->wait.fds, or -1 */
    int woken;            /* wake_fd was readable (set by rc_op_io) */
    PyObject *fatal;      /* an exception that ends the whole op (owned):
                             KeyboardInterrupt, MemoryError, ... */
    rc_bcmd cmds_inline[RC_OP_INLINE];
    rc_lane lanes_inline[RC_OP_INLINE];
    struct pollfd fds_inline[RC_OP_INLINE];
} rc_op;

/* Operations on connections a caller holds (transactions, pub/sub): one
 * lane per connection, no routing, no retries, no policy -- a redirect is
 * an error value like any error reply; a connection that fails keeps its
 * error in conn->err (the caller closes it). The connections stay the
 * caller's whatever happens.
 * RC_HELD_OPEN: wait until the (just checked out) connections are open.
 * RC_HELD_EXEC: write the op's commands (one connection), read a reply each.
 * RC_HELD_SEND: write the op's commands, read nothing.
 * RC_HELD_READ: the next reply of any of the connections, within
 *               `timeout` seconds (< 0: no limit); the op's commands are
 *               placeholders (rc_op_add with len 0), one per connection,
 *               and at most one gets a result per connection. With
 *               op->wake_fd set (after rc_op_init_held) that fd is waited
 *               on too: readable, it ends the op with no result and
 *               op->woken set (the caller drains it); the op then also
 *               waits with no connection at all (a wakeable sleep). */
enum { RC_HELD_OPEN = 1, RC_HELD_EXEC, RC_HELD_SEND, RC_HELD_READ };
int rc_op_init_held(rc_op *op, rc_cluster *cl, rc_conn *const *conns, int nconns, int mode,
                    double timeout);

/* Initialise an empty op on `cl` (GIL). rc_op_clear releases everything:
 * results, connections still held (closed: their state is unknown), pins.
 * Safe on an op that never ran. */
void rc_op_init(rc_op *op, rc_cluster *cl, const rc_limits *lim);
void rc_op_clear(rc_op *op);

/* Room for n commands (exact). 0 or -1 (MemoryError). */
int rc_op_reserve(rc_op *op, Py_ssize_t n);

/* Add a command packed into op->buf at [off, off+len). 0 or -1 (MemoryError). */
int rc_op_add(rc_op *op, size_t off, size_t len, const rc_route *rt);

/* Bound the op's I/O (all rounds, retries and backoffs) by `timeout`
 * seconds from now (<= 0: no bound beyond each lane's inactivity timeout). */
void rc_op_set_deadline(rc_op *op, double timeout);

/* Advance the op (see the file comment). GIL. Never raises: an error that
 * ends the whole op is kept in op->fatal and RC_OP_DONE returned. */
int rc_op_step(rc_op *op);

/* Do the I/O the op waits for: for each socket of op->wait that is ready
 * (revents) -- or, with block=1 (only when op->wait.may_block), on the one
 * socket with blocking calls bounded by a short tick -- finish connects, run
 * TLS handshakes, write, read into the lanes' buffers. No GIL needed: C data
 * only. */
void rc_op_io(rc_op *op, int block);

/* The native driver's start for one command on an idle plain-TCP
 * connection: what the first step would route, plus the I/O -- write it and
 * read what comes, with blocking calls and the GIL released once -- so that
 * the next rc_op_step parses the reply and applies the policy as usual.
 * Does nothing when the command needs more (a connection to open, an ASK,
 * a refresh, TLS). With spin > 0, busy-polls that long for the reply
 * before the blocking read, and sets *spun: 1 if the reply came meanwhile,
 * -1 if not (else *spun stays 0). 0, or -1 when the op ended (op->fatal
 * set). GIL. */
int rc_op_fast_start(rc_op *op, double spin, int *spun);

/* After RC_OP_WAIT: write what the op's open connections still have to
 * send, without blocking and without waiting for POLLOUT first (a socket
 * with room in its buffer takes it at once). Returns 1 if bytes were
 * written -- step again: the op may now wait for replies only -- else 0.
 * For drivers whose waits cost more than a syscall (gevent, a wait callback,
 * the asyncio loop). No GIL needed. */
int rc_op_send_now(rc_op *op);

/* The driver gives up on the op (its wait was interrupted: a signal handler
 * raised, or the asyncio task was cancelled): every connection the op holds
 * is closed (its replies would be read by no one) and the exception (stolen;
 * NULL: the current one) becomes op->fatal. GIL. */
void rc_op_abort(rc_op *op, PyObject *exc);

/* One packed command run to its end (an op inside): RC_ST_OK with *out its
 * result (new reference; an exception instance for an error reply) or
 * RC_ST_PY with an exception set. GIL. */
int rc_engine_one(rc_cluster *cl, const char *cmd, size_t len, const rc_route *rt,
                  const rc_limits *lim, PyObject **out);

/* ---- drive.c ---- */

/* Run op to completion the sync way (the native driver, or the wait
 * function of the pool or of set_wait_callback): step, wait, I/O, step...;
 * refreshes asked for run in between. 0, or -1 with an exception set (the
 * op's fatal error, e.g. KeyboardInterrupt; its connections are closed).
 * The commands' results are in op->cmds. GIL. */
int rc_op_run(rc_op *op);

/* A wait function's optional attribute `name` if callable: new reference,
 * or NULL (no exception) when fn has none. The attributes used:
 * - wait_one(fd, events, timeout) -> revents (0: timed out), called instead
 *   of fn([(fd, events)], timeout) for the common wait on one socket (no
 *   list or tuples made and parsed; the gevent driver has one);
 * - idle_fd() -> int: when the caller's framework has nothing else to run,
 *   a file descriptor that becomes readable when it has (its poller's: an
 *   epoll fd), else -1. With it the engine may busy-poll a socket before
 *   handing the wait to the framework (see rc_spin_budget in drive.c).
 * GIL. */
PyObject *rc_wait_attr_of(PyObject *fn, const char *name);

#endif
