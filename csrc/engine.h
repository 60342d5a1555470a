/* engine.h -- running commands on the cluster: one command (the fast path of
 * execute_command) or a batch (pipelines, fan-out, multi-key splits), with
 * MOVED / ASK / TRYAGAIN / CLUSTERDOWN and connection failures handled here
 * (tier 2). Results are raw replies; response callbacks are the caller's. */
#ifndef RC_ENGINE_H
#define RC_ENGINE_H

#include "cluster.h"

/* How to route a command: by slot (redirects followed) or to a node. */
typedef struct rc_route {
    int slot;    /* 0..16383, or -1 when `node` is given */
    int node;    /* node index when slot == -1 */
    int is_read; /* may be re-sent after an ambiguous connection failure */
    int replica_ok; /* a read that may go to one of the slot's replicas */
} rc_route;

typedef struct rc_limits {
    int ttl;                /* attempts per command (RedisClusterRequestTTL) */
    int clusterdown_tries;  /* cluster_down_retry_attempts */
} rc_limits;

/* Run one packed command. On RC_ST_OK *out is the reply (new reference) --
 * an exception *instance* for a server error reply, which the caller raises.
 * RC_ST_PY: exception set (connection failure that must not be retried,
 * ClusterError('TTL exhausted.'), SlotNotCoveredError, ...). GIL held on entry
 * and exit; released around I/O and backoff sleeps. */
int rc_engine_one(rc_cluster *cl, const char *cmd, size_t len, const rc_route *rt,
                  const rc_limits *lim, PyObject **out);

typedef struct rc_bcmd {
    size_t off, len;   /* the packed command in rc_batch.buf */
    rc_route rt;       /* routing */
    int ask_node;      /* -1, or the node an ASK sent it to */
    int tries;         /* redirects and retries taken */
    PyObject *result;  /* owned; NULL while pending. Exception instances
                          for errors (server or connection). */
} rc_bcmd;

typedef struct rc_batch {
    rc_cluster *cl;    /* set by rc_engine_batch: the nodes it pinned
                          (node-routed commands, ASK targets) are unpinned
                          by rc_batch_clear */
    rc_buf buf;        /* all packed commands */
    rc_bcmd *cmds;     /* owned */
    Py_ssize_t n, cap;
} rc_batch;

void rc_batch_init(rc_batch *b);
void rc_batch_clear(rc_batch *b);   /* releases results too. GIL. */

/* Room for n commands (exact; avoids doubling waste). 0 or -1 (MemoryError). */
int rc_batch_reserve(rc_batch *b, Py_ssize_t n);

/* Add a command packed into b->buf at [off, off+len). 0 or -1 (MemoryError). */
int rc_batch_add(rc_batch *b, size_t off, size_t len, const rc_route *rt);

/* Send every command, read every reply with poll() as they arrive, follow
 * redirects in further rounds. Afterwards each cmd has a result (a reply or
 * an exception instance), in the caller's order. Returns 0, or -1 with an
 * exception set if the whole batch had to stop (memory, KeyboardInterrupt).
 * GIL held on entry and exit; released around poll/send/recv. */
int rc_engine_batch(rc_cluster *cl, rc_batch *b, const rc_limits *lim);

#endif
