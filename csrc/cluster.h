/* cluster.h -- the engine's data: configuration, connections, nodes with
 * their connection pools, and the slot map (tier 2).
 *
 * Threading: a client is shared by many threads. A connection belongs to
 * exactly one op between checkout and checkin, and only that op touches it
 * (its socket and raw byte buffers with the GIL released; replies are parsed
 * with the GIL). What all threads share is guarded by the engine lock of its
 * cluster (rc_lock, below), not by the GIL: the pools (idle stacks, the
 * connection counts, the list of open connections, the waiters' FIFO, the
 * reaper's clock), node pins, the refresh state (refreshing, pending, the
 * rate limit's clock, counters, moved_count), the slot map and the node
 * table when they change (installing a topology, a MOVED patch, a new node,
 * retiring nodes) and the reads that pick a node for a slot (roles, replica
 * lists, round-robin positions, down_until), and the random state. The lock
 * is held only around short C sections that never wait, never call Python
 * code and never take the GIL; it may be taken with or without the GIL.
 * Slot entries and the node table are also read without it on paths where
 * a stale value is harmless (it is re-checked under the lock before use):
 * slot entries are written with atomic stores, and a node table replaced by
 * a larger one stays allocated until the cluster is cleared.
 * What still leans on the GIL (see docs/engine.md): the Python-facing views
 * of the table (NodeManager, the pool's introspection, fan-out targets), the
 * configuration (set before the first command), and the discovery's
 * bookkeeping between its steps.
 *
 * Node lifetime: a node that left the topology is freed (its index reused)
 * by the next topology change once nothing refers to it: no open connection
 * (nconns, which counts a connection from before its connect starts) and no
 * pin (rc_node_pin: batches hold the nodes they address by index across GIL
 * releases). So a node pointer stays valid while its holder keeps one of
 * those; an index is re-checked (rc_cluster_at) after any GIL release. */
#ifndef RC_CLUSTER_H
#define RC_CLUSTER_H

#include <sched.h>
#include <sys/socket.h>

#include "net.h"
#include "pack.h"
#include "reply.h"
#include "tls.h"

enum { RC_ROLE_UNKNOWN = 0, RC_ROLE_MASTER = 1, RC_ROLE_REPLICA = 2 };

/* busy_poll's default and limit, in microseconds (docs/performance.rst) */
#define RC_BUSY_POLL_DEFAULT_US 50
#define RC_BUSY_POLL_MAX_US 100000
#define RC_BUSY_POLL_DEFAULT (RC_BUSY_POLL_DEFAULT_US / 1e6)

typedef struct rc_cfg {
    rc_sockopts sock;      /* timeouts and keepalive */
    rc_codec codec;        /* how str arguments are encoded */
    int decode;            /* decode_responses */
    char *encoding;        /* owned storage behind codec.encoding */
    char *errors;          /* owned storage behind codec.errors */
    rc_buf hello;          /* packed AUTH / CLIENT SETNAME sent at connect */
    rc_buf hello_ro;       /* the same followed by READONLY */
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
    double busy_poll;      /* busy_poll: seconds a sync wait may poll before
                              sleeping (drive.c, rc_spin_budget); 0: never */
    struct rc_remap *remap; /* host_port_remap rules (owned), applied to every
                               node address the engine creates */
    int nremap;
} rc_cfg;

/* One host_port_remap rule: an address matches when every `from` part given
 * matches; then the `to` parts given replace the address's. */
/* One startup node. */
typedef struct rc_seed {
    char *host;            /* owned */
    int port;
} rc_seed;

typedef struct rc_remap {
    char from_host[64];    /* "" = any host */
    int from_port;         /* 0 = any port */
    char to_host[64];      /* "" = keep the host */
    int to_port;           /* 0 = keep the port */
} rc_remap;

struct rc_node;
struct rc_learned_cmd;

/* A caller waiting for a connection at the connection limit, in the
 * cluster's FIFO (rc_cluster.wq_head): only the oldest may take a connection
 * that frees up, so no caller starves (embedded in the waiting lane). */
typedef struct rc_waiter {
    struct rc_waiter *prev, *next;
    int queued;
} rc_waiter;

/* Where a connection is in its opening. */
enum {
    RC_CONN_CONNECTING = 0, /* non-blocking connect() in progress */
    RC_CONN_TLS,            /* TLS handshake in progress */
    RC_CONN_HELLO,          /* AUTH / CLIENT SETNAME / READONLY sent, replies due */
    RC_CONN_READY           /* usable for commands */
};

/* One resolved address of a node. */
typedef struct rc_addr {
    struct sockaddr_storage sa;
    socklen_t len;
} rc_addr;

#define RC_MAX_ADDRS 4

typedef struct rc_conn {
    int fd;                  /* -1 once closed */
    int state;               /* RC_CONN_* */
    int nonblocking;         /* O_NONBLOCK set (TLS, or while connecting); plain
                                ready sockets stay blocking, with a short
                                send/receive timeout (the tick), and take
                                MSG_DONTWAIT for non-blocking calls */
    int tls_want;            /* handshake: POLLIN or POLLOUT */
    double open_deadline;    /* connect + handshake must end by then (0: none) */
    const char *hello;       /* the handshake bytes (cfg.hello or hello_ro) */
    size_t hello_len, hello_sent;
    int hello_left, hello_i; /* handshake replies still due, and read */
    int addr_i;              /* the node address being tried */
    const struct rc_cfg *cfg; /* the cluster's (outlives the connection) */
    rc_buf rx;               /* bytes read without the GIL, not yet fed */
    redisReader *reader;     /* reply parser, owned */
    rc_replyctx ctx;         /* the reader's callback context */
    struct rc_node *node;    /* owner (borrowed; outlives the connection) */
    unsigned gen;            /* node->gen at open; stale => closed on checkin */
    unsigned long fork_gen;  /* process generation at open */
    double idle_since;       /* when it went back to the pool */
    int readonly;            /* READONLY was sent */
    int dirty;               /* written to but not fully read: never reuse */
    void *ssl;               /* SSL * on a TLS connection, else NULL (owned) */
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
    rc_addr addrs[RC_MAX_ADDRS]; /* resolved addresses (naddrs of them) */
    int naddrs;           /* 0: not resolved yet */
    struct rc_node *retired_next; /* rc_cluster_retire's list of nodes to free */
} rc_node;

typedef struct rc_cluster {
    rc_state *st;                 /* borrowed module state */
    rc_cfg cfg;
    unsigned long lock;           /* the engine lock (rc_lock): 0 when free,
                                     else the holder's fork generation */
    rc_node **nodes;              /* node table (owned); NULL entries are free
                                     indices, reused by rc_cluster_node */
    int nnodes, nodes_cap;        /* entries in use (up to the last live one) */
    rc_node **old_tables[20];     /* tables replaced by larger ones, kept for
                                     readers without the lock (owned) */
    int nold_tables;
    uint16_t slots[RC_SLOTS];     /* slot -> master node index / RC_NO_NODE */
    unsigned long long epoch;     /* bumped on every slot-map change */
    long long nconns;             /* open connections over all nodes */
    unsigned long fork_gen;       /* process generation the sockets belong to */
    /* topology discovery (topology.c) and its refresh policy (see
     * rc_cluster_refresh) */
    struct rc_seed *seeds;        /* the startup nodes (owned) */
    int nseeds;
    int follow;                   /* nodemanager_follow_cluster: the last
                                     topology's nodes are asked first */
    uint64_t rng;                 /* xorshift state: candidates' order */
    unsigned long long installs;  /* topologies installed */
    PyObject *refresh_hook;       /* tests: called (no arguments) as each
                                     discovery starts; raising fails it */
    double check_interval;        /* topology_check_interval (s); 0: off */
    double next_check;            /* rc_net_now() when the next check is due */
    int refreshing;               /* a refresh is running (single flight) */
    unsigned long refresh_thread; /* the thread running it */
    int refresh_pending;          /* a refresh was asked for and not yet run */
    double last_refresh;          /* rc_net_now() at the last refresh start */
    double refresh_interval;      /* minimum seconds between refreshes */
    long long refresh_count;      /* refreshes run (for tests and stats) */
    int moved_count;              /* MOVED replies since the last refresh */
    int reinit_steps;             /* refresh after this many MOVED (>= 1) */
    rc_conn *conns;               /* every open connection (list head) */
    int waiters;                  /* calls waiting for a connection (queue length) */
    rc_waiter *wq_head, *wq_tail; /* their FIFO */
    int wake[2];                  /* pipe: a byte per release while waiters > 0
                                     (-1 until the first waiter) */
    double next_reap;             /* when idle connections are next checked */
    /* commands learned from the server (learned.c): an append-only list of
     * immutable entries, read and extended with atomics, not the GIL */
    struct rc_learned_cmd *learned;
    int nlearned;
    /* how sync callers wait (drive.c) */
    PyObject *wait_cb;            /* the pool's wait function, or NULL */
    PyObject *wait_one;           /* its one-socket form (wait_cb.wait_one), or NULL */
    PyObject *wait_idle;          /* its idle test (wait_cb.idle_fd), or NULL */
    int io_native;                /* io="native": never a wait function */
    unsigned spin_skip;           /* busy polling (drive.c): waits left to skip, */
    unsigned spin_miss;           /* and the misses in a row that set it (atomics) */
    unsigned long long spin_hits, spin_misses; /* spins the socket ended, or the
                                     budget (atomics; _stats) */
} rc_cluster;

/* The engine lock (see the file comment). A test-and-set lock: the
 * sections it guards are short and never wait, so a waiter spins a little,
 * then yields its CPU. Its word holds the holder's fork generation: after a
 * fork(), a lock held by a thread of the parent (which does not exist in
 * the child) is taken over by the child's first locker. Not recursive. */
static inline void
rc_lock(rc_cluster *cl)
{
    extern volatile unsigned long rc_fork_gen;
    unsigned long gen = rc_fork_gen, seen = 0;
    int spins = 0;
    while (!__atomic_compare_exchange_n(&cl->lock, &seen, gen, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        if (seen != gen) {
            continue; /* a parent's holder: take it over (seen is expected now) */
        }
        seen = 0;
        if (++spins >= 64) {
            spins = 0;
            sched_yield();
        }
    }
}

static inline void
rc_unlock(rc_cluster *cl)
{
    __atomic_store_n(&cl->lock, 0UL, __ATOMIC_RELEASE);
}

/* A slot's master index (RC_NO_NODE: none) read without the lock. */
static inline int
rc_slot_master(const rc_cluster *cl, int slot)
{
    return (int)__atomic_load_n(&cl->slots[slot], __ATOMIC_RELAXED);
}

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

/* Start a connection to `node` without blocking: its addresses are
 * resolved if needed (rc_cluster_resolve), a non-blocking connect() starts;
 * the handshake (TLS, AUTH/CLIENT SETNAME, READONLY when `readonly`) follows
 * in rc_conn_open_io / rc_conn_hello_replies. GIL. RC_ST_OK with *out set;
 * RC_ST_NET with *err set (no address, refused at once: retryable);
 * RC_ST_PY with an exception set. */
int rc_conn_start(rc_cluster *cl, struct rc_node *node, int readonly, rc_conn **out,
                  rc_err *err);

/* The events an opening connection waits for (POLLIN/POLLOUT). */
short rc_conn_open_events(const rc_conn *c);

/* Advance an opening connection after its socket reported `revents`: finish
 * connect() (or try the node's next address), run the TLS handshake, write
 * the handshake commands, read their replies into rx. Errors go to c->err.
 * No GIL: C data only. */
void rc_conn_open_io(rc_conn *c, short revents);

/* Take the handshake's replies from the reader (fed by the caller): the
 * connection becomes READY after the last. RC_ST_OK (maybe more due),
 * RC_ST_NET (c->err set: protocol error), RC_ST_PY (refused: AuthenticationError,
 * ConnectionError for READONLY, the server's error otherwise). GIL. */
int rc_conn_hello_replies(rc_cluster *cl, rc_conn *c);

/* Write from iov (cnt segments): bytes written (0: would block), -1 with
 * c->err set. block=1 (plain TCP only): blocking writes bounded by the tick.
 * No GIL. */
ssize_t rc_conn_sendv(rc_conn *c, const struct iovec *iov, int cnt, int block);

/* Read what is there into c->rx (block=1, plain TCP: one blocking recv
 * bounded by the tick): bytes read (0: nothing), -1 with c->err set. A
 * signal interrupting a blocking recv reads 0 bytes. No GIL. */
ssize_t rc_conn_recv_rx(rc_conn *c, int block);

/* Bytes already read that poll() cannot see (TLS's decrypted bytes). */
int rc_conn_pending_rx(const rc_conn *c);

/* Close the socket and free the connection. GIL. */
void rc_conn_free(rc_conn *c);

/* Close the socket only (close(): nothing is sent, no TLS shutdown); the
 * connection stays allocated, unusable. */
void rc_conn_close_socket(rc_conn *c);

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
    /* nnodes first: a table published before a larger count (release) */
    int n = __atomic_load_n(&cl->nnodes, __ATOMIC_ACQUIRE);
    rc_node **t;
    if (i < 0 || i >= n) {
        return NULL;
    }
    t = __atomic_load_n(&cl->nodes, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&t[i], __ATOMIC_ACQUIRE);
}

/* Keep node i from being freed while held by index (see the lifetime note
 * above); every pin is undone by one unpin. GIL. */
void rc_node_pin(rc_cluster *cl, int i);
void rc_node_unpin(rc_cluster *cl, int i);

/* A consistent copy of the node table for views (NodeManager, stats): the
 * fields as they were under the lock, each node pinned so that its host and
 * name stay valid until rc_cluster_views_free. node is NULL for free
 * indices. */
typedef struct rc_node_view {
    rc_node *node;
    int role, master, in_topology, nconns, nidle;
} rc_node_view;
/* The views of the whole table (*n entries; an array to free with
 * rc_cluster_views_free), and with slots non-NULL a copy of the slot map.
 * NULL with *n = -1 on memory errors (no exception set). */
rc_node_view *rc_cluster_views(rc_cluster *cl, int *n, uint16_t *slots);
void rc_cluster_views_free(rc_cluster *cl, rc_node_view *v, int n);

/* Free the nodes that left the topology and that nothing refers to. GIL.
 * _locked (the engine lock held): take them out of the table and return
 * them as a list, for rc_cluster_free_retired after the lock is released
 * (freeing a node drops its Python name). */
void rc_cluster_retire(rc_cluster *cl);
rc_node *rc_cluster_retire_locked(rc_cluster *cl);
void rc_cluster_free_retired(rc_cluster *cl, rc_node *gone);

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

/* Take a connection to node index `node` without waiting (`w`: the caller's place in
 * the waiters' FIFO, or NULL for a newcomer; at the limit only the oldest
 * waiter gets a connection that frees up, newcomers queue): an idle one whose
 * READONLY state fits the node's role (RC_CHECKOUT_IDLE), or a new one
 * started (RC_CHECKOUT_OPENING: it still connects), or none at the
 * connection limit with a wait_timeout (RC_CHECKOUT_FULL: try again after
 * rc_cluster_wake); at the limit without one, RedisClusterException
 * (RC_ST_PY). RC_ST_NET / RC_ST_PY as rc_conn_start. An idle connection is
 * first checked for unread bytes (rc_net_idle_ok); idle_check=0 leaves that
 * to the caller, who must do it before writing (the native driver's fast
 * start does it with the GIL released). GIL. */
enum { RC_CHECKOUT_IDLE = 1, RC_CHECKOUT_OPENING = 2, RC_CHECKOUT_FULL = 3 };
int rc_pool_checkout_nb(rc_cluster *cl, int node, rc_conn **out, rc_err *err,
                        double now, rc_waiter *w, int idle_check);

/* The waiters' FIFO: rc_waiter_enqueue after RC_CHECKOUT_FULL (once),
 * rc_waiter_remove when the wait ends (a connection, a timeout, an abort);
 * removing the head wakes the next. GIL. */
void rc_waiter_enqueue(rc_cluster *cl, rc_waiter *w);
void rc_waiter_remove(rc_cluster *cl, rc_waiter *w);

/* Sleep `seconds` the sync driver's way (GIL released, or the wait
 * function with no sockets). 0, or -1 with an exception set (signal). GIL.
 * (drive.c) */
int rc_cluster_sleep(rc_cluster *cl, double seconds);

/* Resolve node's address (numeric hosts without a lookup; names through
 * the sync driver: getaddrinfo with the GIL released, or the wait
 * function's resolver). RC_ST_OK, RC_ST_NET with *err (RC_E_RESOLVE),
 * RC_ST_PY. GIL. */
int rc_cluster_resolve(rc_cluster *cl, rc_node *node, rc_err *err);

/* Give a connection back: pooled if healthy (no error, nothing unread, same
 * generation and process), else closed. GIL. _at: `now` is the caller's
 * reading of rc_net_now(). */
void rc_pool_checkin(rc_cluster *cl, rc_conn *c);
void rc_pool_checkin_at(rc_cluster *cl, rc_conn *c, double now);

/* Close a connection for good (after an error). GIL. */
void rc_pool_discard(rc_cluster *cl, rc_conn *c);

/* Close idle connections everywhere; checked-out ones close on checkin. GIL. */
void rc_cluster_disconnect(rc_cluster *cl);

/* Process generation, bumped in the child after fork(). */
extern volatile unsigned long rc_fork_gen;
void rc_fork_install(void);

/* drive.c, from the fork handler: forget the parent's running sync ops (the
 * child has none; see rc_spin_budget). No GIL needed. */
void rc_drive_after_fork(void);

/* Wake one caller waiting for a connection or a refresh. GIL. */
void rc_cluster_wake(rc_cluster *cl);

/* The fd that becomes readable on rc_cluster_wake (a pipe, made on first
 * use; -1 if it cannot be made), for an op to wait on; the op counts as a
 * waiter while it waits. rc_cluster_wake_drain takes one byte (no GIL). */
int rc_cluster_wake_fd(rc_cluster *cl);
void rc_cluster_wake_drain(rc_cluster *cl);

/* Patch one slot after MOVED: slot -> node (marked master). GIL. */
void rc_cluster_patch_slot(rc_cluster *cl, int slot, int node);

/* A MOVED reply followed: the slot patched, and a refresh asked for after
 * reinit_steps of them (the original's reinitialize_steps). */
void rc_cluster_moved(rc_cluster *cl, int slot, int node);

/* Ask for a refresh (the next operation that may run one does). */
static inline void
rc_cluster_want_refresh(rc_cluster *cl)
{
    __atomic_store_n(&cl->refresh_pending, 1, __ATOMIC_RELAXED);
}

/* Whether a refresh is wanted: one was asked for (refresh_pending), or
 * topology_check_interval passed since the last one (it is asked for now).
 * The engine checks it as each operation starts. GIL. */
static inline int
rc_cluster_refresh_wanted(rc_cluster *cl, double now)
{
    if (RC_UNLIKELY(cl->check_interval > 0)) {
        double due;
        __atomic_load(&cl->next_check, &due, __ATOMIC_RELAXED);
        if (now >= due) {
            rc_cluster_want_refresh(cl);
        }
    }
    return __atomic_load_n(&cl->refresh_pending, __ATOMIC_RELAXED);
}

/* Whether a pending refresh may run now (not running, the rate limit
 * passed). GIL. */
int rc_cluster_refresh_due(rc_cluster *cl);

/* Topology refresh policy (single flight, rate limited), for sync callers:
 * force=0: run only if due (pending and the interval passed);
 * force=1: ask for one now (it still waits for the interval; a refresh that
 * cannot run yet stays pending and runs at the next call).
 * Runs the discovery (topology.c) through the sync driver; its errors
 * (Exception subclasses) are swallowed -- the caller's retry loop reports
 * its own error -- except refused credentials. Returns 0, or -1 with the
 * exception set for those and for BaseExceptions (KeyboardInterrupt...).
 * GIL. */
int rc_cluster_refresh(rc_cluster *cl, int force);

/* Run a refresh now for a caller that asked for it by name
 * (NodeManager.initialize): if another thread is refreshing, wait for it to
 * finish instead of running a second discovery; else discover at once (no
 * rate limit) and let its errors propagate. 0 or -1. GIL. */
int rc_cluster_refresh_now(rc_cluster *cl);

/* For a caller that runs the discovery itself, step by step (rc_topo, the
 * asyncio client): rc_cluster_refresh_claim(cl, 0) applies the policy of
 * rc_cluster_refresh (a pending refresh, due), rc_cluster_refresh_claim(cl, 1)
 * that of rc_cluster_refresh_now (at once, unless one is running: then wait
 * until cl->refreshing is 0). Returns 1 when the caller must discover now: it
 * is the single flight until rc_cluster_refresh_release, which it must call
 * whatever the outcome; 0 otherwise. GIL. */
int rc_cluster_refresh_claim(rc_cluster *cl, int now);
void rc_cluster_refresh_release(rc_cluster *cl);

/* The address a server named, after host_port_remap: *host, *hostlen and
 * *port are replaced by the first rule that applies (pointing into the
 * rule), left alone if none does. No GIL needed. */
void rc_cluster_remap(const rc_cluster *cl, const char **host, size_t *hostlen, int *port);

/* Replace the startup nodes: n (host, port) pairs copied. 0, or -1 with
 * MemoryError. GIL. */
int rc_cluster_set_seeds(rc_cluster *cl, const char *const *hosts, const int *ports, int n);

#endif
