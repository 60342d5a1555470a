/* cluster.h -- the engine's data: configuration, connections, nodes with
 * their connection pools, and the slot map (tier 2).
 *
 * Threading: a client is shared by many threads. Everything here is changed
 * only while holding the GIL. A connection belongs to exactly one call between
 * checkout and checkin, and only that call touches it with the GIL released
 * (fd, reader buffer bytes are fed only with the GIL).
 *
 * Node lifetime: a node that left the topology is freed (its index reused)
 * by the next topology change once nothing refers to it: no open connection
 * (nconns, which counts a connection from before its connect starts) and no
 * pin (rc_node_pin: batches hold the nodes they address by index across GIL
 * releases). So a node pointer stays valid while its holder keeps one of
 * those; an index is re-checked (rc_cluster_at) after any GIL release. */
#ifndef RC_CLUSTER_H
#define RC_CLUSTER_H

#include "net.h"
#include "pack.h"
#include "reply.h"
#include "tls.h"

enum { RC_ROLE_UNKNOWN = 0, RC_ROLE_MASTER = 1, RC_ROLE_REPLICA = 2 };

typedef struct rc_cfg {
    rc_sockopts sock;      /* timeouts and keepalive */
    rc_codec codec;        /* how str arguments are encoded */
    int decode;            /* decode_responses */
    char *encoding;        /* owned storage behind codec.encoding */
    char *errors;          /* owned storage behind codec.errors */
    rc_buf hello;          /* packed AUTH / CLIENT SETNAME sent at connect */
    int hello_n;           /* replies the hello commands produce */
    int hello_auth;        /* 1 if the first hello command is AUTH */
    int readonly_all;      /* readonly_mode: READONLY on every connection */
    long long max_conns;   /* limit on open connections */
    int per_node;          /* 1: max_conns counts per node */
    int skip_coverage;     /* skip_full_coverage_check (for messages) */
    void *tls_ctx;         /* SSL_CTX * when ssl=True, else NULL (owned) */
    int tls_check_hostname; /* verify the certificate's name against the host */
    double wait_timeout;   /* at the connection limit: wait this long for a
                              release; < 0: raise at once (the original) */
    double max_idle;       /* close idle connections older than this (s); 0: never */
    struct rc_remap *remap; /* host_port_remap rules (owned), applied to every
                               node address the engine creates */
    int nremap;
} rc_cfg;

/* One host_port_remap rule: an address matches when every `from` part given
 * matches; then the `to` parts given replace the address's. */
typedef struct rc_remap {
    char from_host[64];    /* "" = any host */
    int from_port;         /* 0 = any port */
    char to_host[64];      /* "" = keep the host */
    int to_port;           /* 0 = keep the port */
} rc_remap;

struct rc_node;
struct rc_learned_cmd;

typedef struct rc_conn {
    int fd;                  /* -1 once closed */
    redisReader *reader;     /* reply parser, owned */
    rc_replyctx ctx;         /* the reader's callback context */
    struct rc_node *node;    /* owner (borrowed; outlives the connection) */
    unsigned gen;            /* node->gen at open; stale => closed on checkin */
    unsigned long fork_gen;  /* process generation at open */
    double idle_since;       /* when it went back to the pool */
    int readonly;            /* READONLY was sent */
    int dirty;               /* written to but not fully read: never reuse */
    void *ssl;               /* SSL * on a TLS connection, else NULL (owned) */
    double timeout;          /* socket_timeout (TLS waits use it) */
    struct rc_conn *prev, *next; /* every open connection of the cluster
                                    (rc_cluster.conns), for fork handling */
    rc_err err;              /* sticky I/O error */
} rc_conn;

typedef struct rc_node {
    char *host;           /* owned */
    int port;
    PyObject *name;       /* "host:port" (owned str) */
    int index;            /* position in rc_cluster.nodes */
    int role;             /* RC_ROLE_* from the last topology */
    int master;           /* replicas: index of their master, else -1 */
    int *replicas;        /* masters: indices of replicas (owned) */
    int nreplicas;
    rc_conn **idle;       /* idle connections, most recent last (owned) */
    int nidle, idle_cap;
    int nconns;           /* open connections (idle + checked out) */
    unsigned gen;         /* bumped by disconnect() */
    int in_topology;      /* 1 if the last topology listed this node */
    double down_until;    /* a connect failed: replica reads avoid it until then */
    unsigned rr;          /* masters: round-robin position over self + replicas */
    int pins;             /* holders by index across GIL releases (rc_node_pin) */
} rc_node;

typedef struct rc_cluster {
    rc_state *st;                 /* borrowed module state */
    rc_cfg cfg;
    rc_node **nodes;              /* node table (owned); NULL entries are free
                                     indices, reused by rc_cluster_node */
    int nnodes, nodes_cap;        /* entries in use (up to the last live one) */
    uint16_t slots[RC_SLOTS];     /* slot -> master node index / RC_NO_NODE */
    unsigned long long epoch;     /* bumped on every slot-map change */
    long long nconns;             /* open connections over all nodes */
    unsigned long fork_gen;       /* process generation the sockets belong to */
    /* topology refresh policy (see rc_cluster_refresh) */
    PyObject *refresh_cb;         /* callable doing discovery, or NULL */
    int refreshing;               /* a refresh is running (single flight) */
    unsigned long refresh_thread; /* the thread running it */
    int refresh_pending;          /* a refresh was asked for and not yet run */
    double last_refresh;          /* rc_net_now() at the last refresh start */
    double refresh_interval;      /* minimum seconds between refreshes */
    long long refresh_count;      /* refreshes run (for tests and stats) */
    int moved_count;              /* MOVED replies since the last refresh */
    int reinit_steps;             /* refresh after this many MOVED (>= 1) */
    rc_conn *conns;               /* every open connection (list head) */
    int waiters;                  /* calls waiting for a connection or a refresh */
    int wake[2];                  /* pipe: a byte per release while waiters > 0
                                     (-1 until the first waiter) */
    double next_reap;             /* when idle connections are next checked */
    /* commands learned from the server (learned.c): an append-only list of
     * immutable entries, read and extended with atomics, not the GIL */
    struct rc_learned_cmd *learned;
    int nlearned;
} rc_cluster;

/* Status of operations that can fail on the network or in Python. */
enum {
    RC_ST_OK = 0,
    RC_ST_NET = -1,  /* network-level failure; details in the rc_err given */
    RC_ST_PY = -2    /* Python exception set (auth refused, limits, memory) */
};

/* ---- conn.c ---- */

/* The GIL released around a blocking call that signals may interrupt:
 * rc_nogil_begin saves the thread state (as Py_BEGIN_ALLOW_THREADS);
 * g->intr, given to the tier-0 waits, takes the GIL back after EINTR to run
 * Python's signal handlers (a raised exception stays set, and the wait
 * gives up with RC_E_INTR); rc_nogil_end restores the thread state. */
typedef struct rc_nogil {
    PyThreadState *ts;
    rc_intr intr;
} rc_nogil;
void rc_nogil_begin(rc_nogil *g);
void rc_nogil_end(rc_nogil *g);

/* Connect to `node` and run the handshake (hello commands, READONLY when
 * `readonly`). GIL held on entry and exit; released around the I/O.
 * RC_ST_OK with *out set; RC_ST_NET with *err set (retryable); RC_ST_PY with
 * an exception set (e.g. AuthenticationError: do not retry). */
int rc_conn_open(rc_cluster *cl, struct rc_node *node, int readonly, rc_conn **out,
                 rc_err *err);

/* Close the socket and free the connection. GIL. */
void rc_conn_free(rc_conn *c);

/* Close the socket only (close(): nothing is sent, no TLS shutdown); the
 * connection stays allocated, unusable. */
void rc_conn_close_socket(rc_conn *c);

/* Send n bytes and read one reply (new reference in *out; may be the
 * redirect marker -- see rc_reader_get). *sent receives the bytes that left.
 * RC_ST_OK; RC_ST_NET with c->err set; RC_ST_PY with an exception set (a
 * signal handler raised: c->err is RC_E_INTR). After either failure the
 * connection is unusable. GIL held on entry and exit, released around
 * send/recv. Stack: one 16 KiB buffer (small thread stacks). */
int rc_conn_roundtrip(rc_conn *c, const char *p, size_t n, size_t *sent, PyObject **out);

/* Read one more reply (as rc_conn_roundtrip without sending). */
int rc_conn_read(rc_conn *c, PyObject **out);

/* Socket I/O of a connection, plain or TLS (no GIL needed: C data only).
 * Same conventions as the rc_net_* functions they wrap. */
int rc_conn_send_all(rc_conn *c, const char *p, size_t n, size_t *sent, const rc_intr *intr);
ssize_t rc_conn_recv(rc_conn *c, char *p, size_t cap);
ssize_t rc_conn_recv_nb(rc_conn *c, char *p, size_t cap);
ssize_t rc_conn_sendv_nb(rc_conn *c, const struct iovec *iov, int cnt);
int rc_conn_pending(const rc_conn *c); /* TLS bytes poll() cannot see */

/* ---- pool.c ---- */

/* Initialise / release a cluster. rc_cluster_clear is safe on a
 * half-initialised cluster. GIL. */
void rc_cluster_init(rc_cluster *cl, rc_state *st);
void rc_cluster_clear(rc_cluster *cl);

/* Index of the node host:port, adding it when `create`; -1 if absent (or
 * with an exception set on memory errors when creating). GIL. */
int rc_cluster_node(rc_cluster *cl, const char *host, size_t hostlen, int port, int create);

/* As rc_cluster_node(create=1) for an address a server named (CLUSTER SLOTS,
 * MOVED, ASK): host_port_remap applied first. GIL. */
int rc_cluster_node_remapped(rc_cluster *cl, const char *host, size_t hostlen, int port);

/* The node at index i, or NULL for a free or out-of-range index. */
static inline rc_node *
rc_cluster_at(const rc_cluster *cl, int i)
{
    return i >= 0 && i < cl->nnodes ? cl->nodes[i] : NULL;
}

/* Keep node i from being freed while held by index (see the lifetime note
 * above); every pin is undone by one unpin. GIL. */
void rc_node_pin(rc_cluster *cl, int i);
void rc_node_unpin(rc_cluster *cl, int i);

/* Free the nodes that left the topology and that nothing refers to. GIL. */
void rc_cluster_retire(rc_cluster *cl);

/* After fork(), in the child: drop the parent's sockets (every connection
 * of the cluster closed; held ones stay allocated for their owner, broken)
 * and the parent's in-progress state (a refresh another thread was running).
 * Cheap when no fork happened; every entry point calls it. GIL. */
void rc_cluster_after_fork(rc_cluster *cl);
static inline void
rc_cluster_check_fork(rc_cluster *cl)
{
    extern volatile unsigned long rc_fork_gen;
    if (RC_UNLIKELY(cl->fork_gen != rc_fork_gen)) {
        rc_cluster_after_fork(cl);
    }
}

/* Take a connection to `node` (idle one, else a new one). An idle
 * connection whose READONLY state does not fit the node's role is replaced.
 * At the connection limit: RedisClusterException at once, or with a
 * wait_timeout, wait that long for a release (ConnectionError "No connection
 * available." after it). Same statuses as rc_conn_open; RC_ST_PY for the
 * limit. GIL held; released while connecting or waiting. */
int rc_pool_checkout(rc_cluster *cl, rc_node *node, rc_conn **out, rc_err *err);

/* Give a connection back: pooled if healthy (no error, nothing unread, same
 * generation and process), else closed. GIL. */
void rc_pool_checkin(rc_cluster *cl, rc_conn *c);

/* Close a connection for good (after an error). GIL. */
void rc_pool_discard(rc_cluster *cl, rc_conn *c);

/* Close idle connections everywhere; checked-out ones close on checkin. GIL. */
void rc_cluster_disconnect(rc_cluster *cl);

/* Process generation, bumped in the child after fork(). */
extern volatile unsigned long rc_fork_gen;
void rc_fork_install(void);

/* Wake one caller waiting for a connection or a refresh (rc_cluster_wait).
 * GIL. */
void rc_cluster_wake(rc_cluster *cl);

/* Wait, with the GIL released, until rc_cluster_wake, `deadline`
 * (rc_net_now() clock) or 0.1 s pass, whichever is first. Returns 0, or -1
 * with an exception set (a signal handler raised, or no pipe could be made).
 * The caller re-checks what it waits for. GIL. */
int rc_cluster_wait(rc_cluster *cl, double deadline);

/* Patch one slot after MOVED: slot -> node (marked master). GIL. */
void rc_cluster_patch_slot(rc_cluster *cl, int slot, int node);

/* Run a refresh now for a caller that asked for it by name
 * (NodeManager.initialize): if another thread is refreshing, wait for it to
 * finish instead of running a second discovery; else run the callback at
 * once (no rate limit) and let its errors propagate. 0 or -1. GIL. */
int rc_cluster_refresh_now(rc_cluster *cl);

/* Topology refresh policy (single flight, rate limited):
 * force=0: run only if due (pending and the interval passed);
 * force=1: ask for one now (it still waits for the interval; a refresh that
 * cannot run yet stays pending and runs at the next call).
 * Calls cl->refresh_cb() with the GIL; its errors (Exception subclasses) are
 * swallowed -- the caller's retry loop reports its own error. Returns 0, or
 * -1 if the callback raised a BaseException that must propagate
 * (KeyboardInterrupt...). GIL. */
int rc_cluster_refresh(rc_cluster *cl, int force);

#endif
