/* commands.c - command table lookup and key finding (tier 0).
 *
 * The table itself is generated (cmdtable_gen.h, tools/gen_cmdtable.py); this file
 * only searches it and interprets key specs. Key specs are described in the Redis
 * docs ("Command key specifications") and implemented by the server in db.c
 * getKeysUsingKeySpecs(); the comments below point out where we differ.
 *
 * Must not: use the Python C API, allocate, do I/O, or keep mutable state.
 */
#include "commands.h"

#include <limits.h>
#include <string.h>

#include "rc.h"

#define RC_CMDTABLE_INCLUDE
#include "cmdtable_gen.h"

/* A spec's keys: first, first+step, ... up to and including last (first <= last). */
typedef struct rc_krange {
    int first;
    int last;
    int step;
} rc_krange;

/* All specs (of the table, or of a learned command) plus one range a quirk may add. */
#define RC_CMD_SPECS_MAX \
    (RC_CMDTABLE_SPECS_MAX > RC_LEARNED_SPECS_MAX ? RC_CMDTABLE_SPECS_MAX : RC_LEARNED_SPECS_MAX)
#define RC_CMD_RANGES_MAX (RC_CMD_SPECS_MAX + 1)

static inline unsigned char
rc_upper(unsigned char c)
{
    return (unsigned char)((unsigned)(c - 'a') < 26u ? c - ('a' - 'A') : c);
}

/* Compare up[0..len) (already upper case) with name[0..name_len); memcmp order. */
static inline int
rc_name_cmp(const unsigned char *up, size_t len, const char *name, size_t name_len)
{
    int c = memcmp(up, name, len < name_len ? len : name_len);
    if (c != 0) {
        return c;
    }
    return (len > name_len) - (len < name_len);
}

/* Binary search in table[lo..hi) comparing with the names after `skip` bytes
 * (skip = strlen("CONTAINER ") for subcommands). */
static const rc_cmdinfo *
rc_cmd_search(size_t lo, size_t hi, size_t skip, const char *name, size_t len)
{
    unsigned char up[RC_CMDTABLE_NAME_MAX];

    if (len == 0 || len + skip > RC_CMDTABLE_NAME_MAX) {
        return NULL; /* longer than any name: also keeps `up` in bounds */
    }
    for (size_t i = 0; i < len; i++) {
        up[i] = rc_upper((unsigned char)name[i]);
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rc_cmdinfo *e = &rc_cmdtable[mid];
        int c = rc_name_cmp(up, len, e->name + skip, (size_t)e->name_len - skip);
        if (c == 0) {
            return e;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* FNV-1a (32 bits) of an upper-case name: tools/gen_cmdtable.py's name_hash. */
static uint32_t
rc_name_hash(const unsigned char *up, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= up[i];
        h *= 16777619u;
    }
    return h;
}

const rc_cmdinfo *
rc_cmd_lookup(const char *name, size_t len)
{
    unsigned char up[RC_CMDTABLE_NAME_MAX];
    size_t h;

    if (len == 0 || len > RC_CMDTABLE_NAME_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        up[i] = rc_upper((unsigned char)name[i]);
    }
    /* The generated hash index: one probe for almost every name. */
    h = rc_name_hash(up, len) & (RC_CMDTABLE_HASH_SIZE - 1);
    for (;;) {
        const rc_cmdinfo *e;
        unsigned at = rc_cmdhash[h];
        if (at == 0) {
            return NULL;
        }
        e = &rc_cmdtable[at - 1];
        if (e->name_len == len && memcmp(e->name, up, len) == 0) {
            return e;
        }
        h = (h + 1) & (RC_CMDTABLE_HASH_SIZE - 1);
    }
}

const rc_cmdinfo *
rc_cmd_lookup_sub(const rc_cmdinfo *container, const char *sub, size_t len)
{
    size_t at;

    if (container == NULL || !(container->flags & RC_CMD_CONTAINER)) {
        return NULL;
    }
    at = (size_t)(container - rc_cmdtable);
    /* The generator checked that the subcommands follow their container. */
    return rc_cmd_search(at + 1, at + 1 + container->nsubs, (size_t)container->name_len + 1, sub, len);
}

const rc_keyspec *
rc_cmd_specs(const rc_cmdinfo *ci)
{
    if (ci->flags & RC_CMD_LEARNED) {
        return ((const rc_learned_cmd *)ci)->specs;
    }
    return &rc_keyspecs[ci->specs];
}

const rc_cmdinfo *
rc_cmd_table(size_t *n)
{
    *n = RC_CMDTABLE_LEN;
    return rc_cmdtable;
}

const char *
rc_cmd_table_version(void)
{
    return RC_CMDTABLE_REDIS_VERSION;
}

/* ------------------------------------------------------------------------ */
/* Key finding. */

/* Case-insensitive compare of argv[i] with an upper-case word. An argument that
 * is not available as bytes is never equal. */
static int
rc_arg_is(rc_arg_fn get, void *ctx, int i, const char *word, size_t wlen)
{
    const char *p;
    size_t n;

    if (get(ctx, i, &p, &n) != 0 || n != wlen) {
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (rc_upper((unsigned char)p[k]) != (unsigned char)word[k]) {
            return 0;
        }
    }
    return 1;
}

/* Strict decimal integer as the server's string2ll() reads numkeys: optional '-',
 * no '+', no spaces, no leading zeros, no overflow. Returns 0 or -1. */
static int
rc_parse_ll(const char *p, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    unsigned long long lim;

    if (n == 0 || n > 20) {
        return -1;
    }
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= n || p[i] < '1' || p[i] > '9') {
        return -1;
    }
    lim = neg ? (unsigned long long)LLONG_MAX + 1u : (unsigned long long)LLONG_MAX;
    for (; i < n; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        d = (unsigned)(p[i] - '0');
        if (v > (lim - d) / 10u) {
            return -1;
        }
        v = v * 10u + d;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* Where a KEYWORD spec's keys begin: the argument after the keyword, or 0 if the
 * keyword is absent. As in the server, a forward search (startfrom > 0) never looks
 * at the last argument and a backward one (startfrom < 0, from argc+startfrom)
 * stops before argv[1]. */
static int
rc_keyword_search(const rc_keyspec *s, int argc, rc_arg_fn get, void *ctx)
{
    int i;

    if (s->bs > 0) {
        for (i = s->bs; i < argc - 1; i++) {
            if (rc_arg_is(get, ctx, i, s->keyword, s->keyword_len)) {
                return i + 1;
            }
        }
    } else {
        for (i = argc + s->bs; i > 1; i--) {
            if (rc_arg_is(get, ctx, i, s->keyword, s->keyword_len)) {
                return i + 1;
            }
        }
    }
    return 0;
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
 * [KEYS key...], as migrateGetKeys() in the server's db.c: the spec "search
 * KEYS backwards" (flagged incomplete) would take a password or a key named
 * "KEYS" for the keyword. Returns the number of ranges (0/1) or -1. */
static int
rc_quirk_migrate(int argc, rc_arg_fn get, void *ctx, rc_krange *r)
{
    const char *p;
    size_t n;

    for (int i = 6; i < argc; i++) {
        if (rc_arg_is(get, ctx, i, "KEYS", 4)) {
            /* KEYS needs "" as the key argument; the server refuses otherwise. */
            if (get(ctx, 3, &p, &n) != 0 || n != 0) {
                return -1;
            }
            if (i + 1 >= argc) {
                return 0; /* KEYS without keys */
            }
            r->first = i + 1;
            r->last = argc - 1;
            r->step = 1;
            return 1;
        }
        if (rc_arg_is(get, ctx, i, "AUTH", 4)) {
            i += 1;
        } else if (rc_arg_is(get, ctx, i, "AUTH2", 5)) {
            i += 2;
        }
    }
    r->first = r->last = 3;
    r->step = 1;
    return 1;
}

/* SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
 * [STORE destination]: the destination of the last STORE, parsed as sortCommand()
 * does. Returns the argv index of the destination or 0. */
static int
rc_quirk_sort_store(int argc, rc_arg_fn get, void *ctx)
{
    int store = 0;

    for (int i = 2; i < argc; i++) {
        int left = argc - i - 1;
        if (left >= 1 && rc_arg_is(get, ctx, i, "STORE", 5)) {
            store = ++i;
        } else if (left >= 1 && (rc_arg_is(get, ctx, i, "BY", 2) || rc_arg_is(get, ctx, i, "GET", 3))) {
            i += 1;
        } else if (left >= 2 && rc_arg_is(get, ctx, i, "LIMIT", 5)) {
            i += 2;
        }
    }
    return store;
}

/* Resolve a container called with its subcommand as argv[1]. */
static const rc_cmdinfo *
rc_cmd_resolve(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx)
{
    const char *p;
    size_t n;
    const rc_cmdinfo *sub;

    if ((ci->flags & RC_CMD_CONTAINER) && argc >= 2 && get(ctx, 1, &p, &n) == 0) {
        sub = rc_cmd_lookup_sub(ci, p, n);
        if (sub != NULL) {
            return sub;
        }
    }
    return ci; /* unknown subcommand: the container has no keys */
}

/* The key ranges of command ci (with key specs specs[0..ci->nspecs)) in
 * argv[0..argc). Returns the number of (non-empty) ranges written to
 * r[0..RC_CMD_RANGES_MAX), or -1 if malformed. */
static int
rc_ranges(const rc_cmdinfo *ci, const rc_keyspec *specs, int argc, rc_arg_fn get, void *ctx, rc_krange *r)
{
    int nr = 0;

    if (ci->arity > 0 ? argc != ci->arity : argc < -ci->arity) {
        return -1; /* the server would refuse it with "wrong number of arguments" */
    }
    if (ci->quirk == RC_Q_MIGRATE) {
        return rc_quirk_migrate(argc, get, ctx, r);
    }
    for (int j = 0; j < ci->nspecs; j++) {
        const rc_keyspec *s = &specs[j];
        int first, last, step;

        switch (s->kind) {
        case RC_KS_RANGE:
        case RC_KS_KEYNUM:
            first = s->bs;
            break;
        case RC_KS_KEYWORD:
        case RC_KS_KEYWORD_KEYNUM:
            first = rc_keyword_search(s, argc, get, ctx);
            if (first == 0) {
                continue; /* no keyword, no keys from this spec */
            }
            break;
        default:
            /* RC_KS_UNKNOWN: patterns like SORT BY/GET are no routing keys.
             * As the first spec, fall back to the legacy (first, last, step). */
            if (j == 0 && ci->first_key > 0 && ci->key_step > 0) {
                first = ci->first_key;
                last = ci->last_key >= 0 ? ci->last_key : argc + ci->last_key;
                if (first < argc && last >= first) {
                    r[nr].first = first;
                    r[nr].last = last < argc ? last : argc - 1;
                    r[nr].step = ci->key_step;
                    nr++;
                }
            }
            continue;
        }

        if (s->kind == RC_KS_RANGE || s->kind == RC_KS_KEYWORD) {
            step = s->fk.range.keystep;
            if (s->fk.range.lastkey >= 0) {
                /* Fixed keys: they must all be there. */
                last = first + s->fk.range.lastkey;
                if (last >= argc) {
                    return -1;
                }
            } else if (s->fk.range.limit <= 1) {
                last = argc + s->fk.range.lastkey;
            } else {
                /* XREAD ... STREAMS k1 k2 id1 id2: keys are the first 1/limit of
                 * what follows (the server's formula, rounding down). */
                last = first + (argc - first) / s->fk.range.limit + s->fk.range.lastkey;
            }
            if (first >= argc || last < first) {
                continue; /* empty variable-length list */
            }
        } else {
            const char *p;
            size_t n;
            long long numkeys;
            int at = first + s->fk.keynum.keynumidx;

            step = s->fk.keynum.keystep;
            if (at >= argc || get(ctx, at, &p, &n) != 0 || rc_parse_ll(p, n, &numkeys) != 0 || numkeys < 0) {
                return -1;
            }
            first += s->fk.keynum.firstkey;
            if (numkeys == 0) {
                /* EVAL script 0 has no keys; ZUNION 0 or LMPOP 0 is refused by
                 * the server ("at least 1 input key is needed"). */
                if (ci->flags & RC_CMD_NO_MANDATORY_KEYS) {
                    continue;
                }
                return -1;
            }
            /* numkeys keys, keystep apart (the server counts numkeys argument
             * slots instead; the same for every Redis 7.0 spec: keystep 1). */
            if (numkeys > argc || (long long)first + (numkeys - 1) * step >= argc) {
                return -1;
            }
            last = first + (int)(numkeys - 1) * step;
        }
        r[nr].first = first;
        r[nr].last = last;
        r[nr].step = step;
        nr++;
    }
    if (ci->quirk == RC_Q_SORT) {
        int store = rc_quirk_sort_store(argc, get, ctx);
        if (store > 0) {
            r[nr].first = r[nr].last = store;
            r[nr].step = 1;
            nr++;
        }
    }
    return nr;
}

static int
rc_cmd_ranges(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx, rc_krange *r)
{
    if (ci == NULL || argc < 1) {
        return -1;
    }
    ci = rc_cmd_resolve(ci, argc, get, ctx);
    return rc_ranges(ci, rc_cmd_specs(ci), argc, get, ctx, r);
}

/* Emit the sorted union of the ranges; returns the number of distinct indices. */
static int
rc_emit(const rc_krange *r, int nr, int *out, int max)
{
    int count = 0;
    int cur[RC_CMD_RANGES_MAX];
    int sorted = 1;

    if (RC_LIKELY(nr == 1)) {
        int n = (r[0].last - r[0].first) / r[0].step + 1;
        int w = n < max ? n : max;
        for (int i = 0; i < w; i++) {
            out[i] = r[0].first + i * r[0].step;
        }
        return n;
    }
    for (int k = 0; k + 1 < nr; k++) {
        if (r[k].last >= r[k + 1].first) {
            sorted = 0;
            break;
        }
    }
    if (sorted) {
        /* Specs in argv order without overlap (ZUNIONSTORE dest + sources, ...). */
        for (int k = 0; k < nr; k++) {
            for (int i = r[k].first; i <= r[k].last; i += r[k].step) {
                if (count < max) {
                    out[count] = i;
                }
                count++;
            }
        }
        return count;
    }
    /* General case (GEORADIUS ... STOREDIST d STORE s, SORT STORE inside the
     * first range, ...): merge the arithmetic progressions, dropping repeats. */
    for (int k = 0; k < nr; k++) {
        cur[k] = r[k].first;
    }
    for (;;) {
        int min = INT_MAX;
        for (int k = 0; k < nr; k++) {
            if (cur[k] <= r[k].last && cur[k] < min) {
                min = cur[k];
            }
        }
        if (min == INT_MAX) {
            break;
        }
        if (count < max) {
            out[count] = min;
        }
        count++;
        for (int k = 0; k < nr; k++) {
            if (cur[k] == min) {
                cur[k] += r[k].step;
            }
        }
    }
    return count;
}

int
rc_cmd_keys(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx, int *out, int max)
{
    rc_krange r[RC_CMD_RANGES_MAX];
    int nr = rc_cmd_ranges(ci, argc, get, ctx, r);

    if (nr <= 0) {
        return nr;
    }
    return rc_emit(r, nr, out, max < 0 ? 0 : max);
}

int
rc_cmd_first_key(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx)
{
    rc_krange r[RC_CMD_RANGES_MAX];
    int nr, first;

    if (ci != NULL && ci->nspecs == 1 && ci->quirk == RC_Q_NONE &&
        !(ci->flags & (RC_CMD_CONTAINER | RC_CMD_LEARNED)) &&
        (ci->arity > 0 ? argc == ci->arity : argc >= -ci->arity)) {
        /* The common shape (GET, SET, HSET, ...): one range of keys at a
         * fixed place; what rc_ranges finds first, without the general
         * walk. */
        const rc_keyspec *s = &rc_keyspecs[ci->specs];
        if (s->kind == RC_KS_RANGE && s->fk.range.lastkey >= 0 &&
            s->bs + s->fk.range.lastkey < argc) {
            return s->bs;
        }
    }
    nr = rc_cmd_ranges(ci, argc, get, ctx, r);
    if (nr <= 0) {
        return nr;
    }
    first = r[0].first;
    for (int k = 1; k < nr; k++) {
        if (r[k].first < first) {
            first = r[k].first;
        }
    }
    return first;
}
