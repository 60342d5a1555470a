/* learned.h -- command info learned from the server (tier 2).
 *
 * The generated table (commands.c) is the fast default. A command it does
 * not know, or whose arguments fail its arity (a newer server added an
 * option), is looked up once per cluster with COMMAND INFO name on a master;
 * the answer -- the command's arity, flags and key specs, or "unknown" -- is
 * kept in the cluster (rc_cluster.learned) for the cluster's life.
 *
 * Threading: the learned commands are an append-only list of immutable
 * entries, published with an atomic compare-and-swap and read with acquire
 * loads: finding one needs neither the GIL nor a lock. Entries are freed only
 * by rc_learned_clear (the cluster's end). The list is capped
 * (RC_LEARNED_MAX): past it, nothing more is learned. */
#ifndef RC_LEARNED_H
#define RC_LEARNED_H

#include "commands.h"
#include "engine.h"

#define RC_LEARNED_MAX 512

/* The learned entry for name[0..len) (case-insensitive), or NULL if none was
 * learned yet. *known is set to 0 for an entry that records "the server does
 * not know this command" (then NULL is returned too). No GIL needed. */
const rc_cmdinfo *rc_learned_find(rc_cluster *cl, const char *name, size_t len, int *known);

/* The command's info from the server: the learned entry if there is one,
 * else COMMAND INFO name sent to node index `node` (-1: no lookup), parsed and
 * remembered. NULL when the server does not know the command or could not be
 * asked (the error is not raised: the caller falls back to the table). GIL
 * held; released around the I/O. -1 only with an exception that must
 * propagate (KeyboardInterrupt, MemoryError) -- then *out is NULL. */
int rc_learned_lookup(rc_cluster *cl, const char *name, size_t len, int node,
                      const rc_cmdinfo **out);

/* Parse one COMMAND INFO entry (RESP2: a list; bytes or str items) into *e.
 * Returns 1 (parsed), 0 (nil: unknown command; e->known = 0), -1 if the
 * reply has an unexpected shape (no exception set). GIL. */
int rc_learned_parse(PyObject *entry, rc_learned_cmd *e);

/* Free every learned entry. GIL; no other thread may use the cluster. */
void rc_learned_clear(rc_cluster *cl);

#endif
