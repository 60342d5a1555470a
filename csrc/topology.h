/* topology.h -- topology discovery (tier 2).
 *
 * The startup nodes (in a random rotation), then every known node (shuffled),
 * are asked for CLUSTER SLOTS until their answers make a usable slot map; the
 * map is then installed in the node table and slot map (rc_cluster_install).
 * Addresses go through host_port_remap. The coverage rule is
 * redis-py-cluster 2.1.3's: a map with uncovered slots is accepted with
 * skip_full_coverage_check, or when no node says
 * cluster-require-full-coverage yes (CONFIG GET); otherwise the next node is
 * asked and its answer merged in (a slot keeps the first owner named; owners
 * that disagree on more than five slots end the discovery).
 *
 * Discovery is a step machine: each query is an rc_op (one command to one
 * node, one attempt) that the caller runs to its end with any driver, then
 * it steps again. Sync callers use rc_topology_discover (the sync driver:
 * poll() with the GIL released, or the wait function -- gevent's hub); the
 * asyncio client can run the same machine from its event loop:
 *
 *     rc_topo t;
 *     if (rc_topo_begin(&t, cl) == 0) {
 *         while ((r = rc_topo_step(&t)) == RC_TOPO_RUN) {
 *             ...drive t.op to RC_OP_DONE (rc_op_step / rc_op_io)...;
 *             if it ended with op.fatal set: stop (r = RC_TOPO_FAILED)
 *         }
 *     }
 *     rc_topo_clear(&t);
 *
 * Everything here needs the GIL (the waits inside an op are the driver's). */
#ifndef RC_TOPOLOGY_H
#define RC_TOPOLOGY_H

#include "engine.h"

/* One node of a topology to install. */
typedef struct rc_topo_node {
    int node;    /* index in the cluster's node table */
    int role;    /* RC_ROLE_MASTER or RC_ROLE_REPLICA */
    int master;  /* a replica's master (node index), or -1 */
} rc_topo_node;

/* Install a topology: nodes[0..n) (live node indices; an index listed twice:
 * the last entry counts; a replica's master, if not -1, listed as a master)
 * and slots[16384] (node indices listed, or RC_NO_NODE). Nodes not listed
 * leave the topology: their idle connections close and they are freed once
 * nothing refers to them. 0, or -1 with ValueError (a bad entry) or
 * MemoryError -- nothing changed then. GIL. */
int rc_cluster_install(rc_cluster *cl, const rc_topo_node *nodes, int n, const uint16_t *slots);

/* What rc_topo_step returns. */
enum {
    RC_TOPO_FAILED = -1, /* discovery failed: the exception is set */
    RC_TOPO_DONE = 0,    /* the topology is installed */
    RC_TOPO_RUN = 1      /* run t->op to its end, then step again */
};

/* A discovery in progress. */
typedef struct rc_topo {
    rc_cluster *cl;
    int phase;             /* private */
    rc_op op;              /* the query to run after RC_TOPO_RUN */
    int op_live;           /* op initialised and not cleared */
    int asked;             /* the node the op asks */
    int *cand;             /* nodes to ask, in order (owned, pinned) */
    int ncand, next;       /* how many, the next one */
    uint16_t *slots;       /* the merged slot map: node indices (owned) */
    rc_topo_node *nodes;   /* the merged map's nodes (owned, pinned) */
    int nnodes, cap;
    int *pos;              /* node index -> position in nodes, or -1 (owned) */
    int npos;
    int covered;           /* slots of the merged map with an owner */
    int answered;          /* valid CLUSTER SLOTS replies merged */
    int full_required;     /* a node said cluster-require-full-coverage yes */
    int cfg_next;          /* the next merged node to ask CONFIG GET */
    PyObject *disagree;    /* list of "a vs b on slot: s" texts (owned) */
    PyObject *last;        /* str: the last failure of a node (owned) */
    int unpinned;          /* the pins above were undone */
} rc_topo;

/* Start a discovery of cl's topology: calls the test hook (cl->refresh_hook),
 * chooses the nodes to ask. 0, or -1 with an exception set; either way
 * rc_topo_clear must follow. The caller holds the refresh single flight
 * (rc_cluster_refresh_claim). GIL. */
int rc_topo_begin(rc_topo *t, rc_cluster *cl);

/* Advance: take the answer of the op just run (if any), decide, and either
 * prepare the next query (RC_TOPO_RUN: t->op is ready to run), install the
 * topology (RC_TOPO_DONE) or fail (RC_TOPO_FAILED, exception set). An op that
 * ended with a fatal error (op.fatal: KeyboardInterrupt, a cancelled task)
 * must not be stepped: clear the machine instead. GIL. */
int rc_topo_step(rc_topo *t);

/* Release everything (the op, pins, buffers). Safe after any outcome, and
 * on a machine whose rc_topo_begin failed. GIL. */
void rc_topo_clear(rc_topo *t);

/* One whole discovery through the sync driver (rc_op_run). 0, or -1 with an
 * exception set: RedisClusterException (no reachable node, slots not
 * covered, nodes disagreeing, a server error), ClusterAuthenticationError
 * (credentials refused), or whatever interrupted a wait. The caller holds
 * the refresh single flight. GIL. */
int rc_topology_discover(rc_cluster *cl);

/* Whether node `node` says cluster-require-full-coverage yes (CONFIG GET),
 * through the sync driver: 1 yes, 0 no or unreachable, -1 with
 * RedisClusterException set (another error, e.g. CONFIG renamed) or what
 * interrupted the wait. GIL. */
int rc_topology_requires_coverage(rc_cluster *cl, int node);

#endif
