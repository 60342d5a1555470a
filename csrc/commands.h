/* commands.h - the Redis command table and key finding (tier 0).
 *
 * Looks a command up in a table generated from a server's COMMAND reply
 * (cmdtable_gen.h, by tools/gen_cmdtable.py) and finds the argv positions of
 * its keys from the table's key specs, so that a command can be routed to the
 * node that owns its slot without a COMMAND GETKEYS round trip.
 *
 * Must not: use the Python C API, allocate, do I/O, or keep any state. The tables
 * are immutable, so every function here is thread-safe and may run without the
 * GIL (a caller's rc_arg_fn that touches Python objects needs the GIL, of course).
 */
#ifndef RC_COMMANDS_H
#define RC_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

/* How a key spec finds its keys (a command has 0..RC_CMDTABLE_SPECS_MAX specs). */
typedef enum {
    RC_KS_NONE = 0,      /* keyless (unused in the table: a keyless command has no spec) */
    RC_KS_RANGE,         /* begin_search index + find_keys range */
    RC_KS_KEYNUM,        /* begin_search index + find_keys keynum (EVAL, ZUNIONSTORE's 2nd spec, LMPOP, ...) */
    RC_KS_KEYWORD,       /* begin_search keyword (XREAD/XREADGROUP "STREAMS", GEORADIUS "STORE", ...) + range */
    RC_KS_UNKNOWN,       /* server says unknown (SORT BY/GET patterns): no routing keys;
                            as a command's first spec, the legacy first_key range is used */
    RC_KS_KEYWORD_KEYNUM /* begin_search keyword + find_keys keynum (no Redis 7.0 command) */
} rc_keyspec_kind;

/* Key spec flags, as the server reports them (rc_keyspec.flags). */
#define RC_KSF_RO             0x0001u /* read only */
#define RC_KSF_RW             0x0002u /* read and write */
#define RC_KSF_OW             0x0004u /* overwrite */
#define RC_KSF_RM             0x0008u /* remove */
#define RC_KSF_ACCESS         0x0010u
#define RC_KSF_UPDATE         0x0020u
#define RC_KSF_INSERT         0x0040u
#define RC_KSF_DELETE         0x0080u
#define RC_KSF_NOT_KEY        0x0100u /* a shard channel (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) */
#define RC_KSF_INCOMPLETE     0x0200u /* may miss keys (MIGRATE KEYS): a quirk handles it */
#define RC_KSF_VARIABLE_FLAGS 0x0400u /* flags depend on arguments (SET GET, BITFIELD GET) */

typedef struct rc_keyspec {
    const char *keyword;     /* KEYWORD kinds: upper-case keyword; else NULL */
    uint16_t flags;          /* RC_KSF_* */
    uint8_t kind;            /* rc_keyspec_kind */
    uint8_t keyword_len;     /* strlen(keyword) */
    int16_t bs;              /* RANGE/KEYNUM: argv index where the search begins (>= 1);
                                KEYWORD kinds: startfrom (< 0: search backwards from argc+startfrom) */
    union {
        struct {
            int16_t lastkey; /* >= 0: last key at first+lastkey; < 0: at argc+lastkey */
            int16_t keystep; /* distance between keys (>= 1) */
            int16_t limit;   /* with lastkey -1 and limit >= 2: keys are the first 1/limit of the rest (XREAD) */
        } range;
        struct {
            int16_t keynumidx; /* numkeys is at argv[first + keynumidx] */
            int16_t firstkey;  /* first key at argv[first + firstkey] */
            int16_t keystep;   /* distance between keys (>= 1) */
        } keynum;
    } fk;                    /* find_keys (unused for RC_KS_UNKNOWN) */
} rc_keyspec;                /* 24 bytes */

/* Command flags (rc_cmdinfo.flags): bits 0-20 are the server's COMMAND flags. */
#define RC_CMD_WRITE             (1u << 0)
#define RC_CMD_READONLY          (1u << 1)
#define RC_CMD_DENYOOM           (1u << 2)
#define RC_CMD_MODULE            (1u << 3)
#define RC_CMD_ADMIN             (1u << 4)
#define RC_CMD_PUBSUB            (1u << 5)
#define RC_CMD_NOSCRIPT          (1u << 6)
#define RC_CMD_BLOCKING          (1u << 7)
#define RC_CMD_LOADING           (1u << 8)
#define RC_CMD_STALE             (1u << 9)
#define RC_CMD_SKIP_MONITOR      (1u << 10)
#define RC_CMD_SKIP_SLOWLOG      (1u << 11)
#define RC_CMD_ASKING            (1u << 12)
#define RC_CMD_FAST              (1u << 13)
#define RC_CMD_NO_AUTH           (1u << 14)
#define RC_CMD_MAY_REPLICATE     (1u << 15)
#define RC_CMD_NO_MANDATORY_KEYS (1u << 16) /* EVAL/FCALL: numkeys may be 0 */
#define RC_CMD_NO_ASYNC_LOADING  (1u << 17)
#define RC_CMD_NO_MULTI          (1u << 18)
#define RC_CMD_MOVABLEKEYS       (1u << 19) /* key positions depend on the arguments */
#define RC_CMD_ALLOW_BUSY        (1u << 20)
/* Bits added by the generator. */
#define RC_CMD_CONTAINER         (1u << 24) /* has subcommands; they follow it in the table */
#define RC_CMD_SUBCOMMAND        (1u << 25) /* "CONTAINER SUB" entry */
#define RC_CMD_NONDETERMINISTIC_OUTPUT       (1u << 26) /* tip */
#define RC_CMD_NONDETERMINISTIC_OUTPUT_ORDER (1u << 27) /* tip */
#define RC_CMD_LEARNED           (1u << 28) /* an rc_learned_cmd (from the server), not the table */

/* Tips "request_policy:..." and "response_policy:..." (how a cluster client fans out
 * a keyless command and merges the replies). */
typedef enum {
    RC_REQ_DEFAULT = 0,  /* by keys; keyless: any node */
    RC_REQ_ALL_NODES,
    RC_REQ_ALL_SHARDS,
    RC_REQ_MULTI_SHARD,  /* split by slot (MSET, DEL, ...) */
    RC_REQ_SPECIAL
} rc_request_policy;

typedef enum {
    RC_RESP_DEFAULT = 0,
    RC_RESP_ONE_SUCCEEDED,
    RC_RESP_ALL_SUCCEEDED,
    RC_RESP_AGG_LOGICAL_AND,
    RC_RESP_AGG_LOGICAL_OR,
    RC_RESP_AGG_MIN,
    RC_RESP_AGG_MAX,
    RC_RESP_AGG_SUM,
    RC_RESP_SPECIAL
} rc_response_policy;

/* Key positions the key specs cannot express; mirror the server's getkeys procs. */
typedef enum {
    RC_Q_NONE = 0,
    RC_Q_MIGRATE, /* keys after KEYS (forward scan skipping AUTH/AUTH2 arguments), "" at argv[3] is no key */
    RC_Q_SORT     /* plus the destination of the last STORE; BY/GET patterns are no keys */
} rc_cmd_quirk;

/* One command or subcommand. 24 bytes, no padding: the binary search reads
 * name/name_len only, key finding reads the rest and the entry's key specs. */
typedef struct rc_cmdinfo {
    const char *name;        /* upper case, NUL-terminated; "XINFO STREAM" for a subcommand */
    uint32_t flags;          /* RC_CMD_* */
    uint16_t specs;          /* index of the first key spec in the spec table (rc_cmd_specs()) */
    uint8_t name_len;        /* strlen(name) */
    int8_t arity;            /* server arity: n > 0 exactly n argv items, -n at least n (argv[0] counts) */
    uint8_t nspecs;          /* number of key specs */
    uint8_t nsubs;           /* containers: number of subcommand entries right after this one */
    int8_t first_key;        /* legacy COMMAND first key / last key / step */
    int8_t last_key;
    int8_t key_step;
    uint8_t quirk;           /* rc_cmd_quirk */
    uint8_t request_policy;  /* rc_request_policy */
    uint8_t response_policy; /* rc_response_policy */
} rc_cmdinfo;

/* A command learned from a server's COMMAND INFO (csrc/learned.c): the same
 * rc_cmdinfo (info.flags has RC_CMD_LEARNED) with its own key specs and
 * storage. Immutable once published; never a container (subcommands are not
 * learned). A pointer to it is a pointer to its rc_cmdinfo. */
#define RC_LEARNED_SPECS_MAX 8
#define RC_LEARNED_NAME_MAX 64
#define RC_LEARNED_KEYWORD_MAX 32
typedef struct rc_learned_cmd {
    rc_cmdinfo info;                      /* first member; info.name points at name */
    rc_keyspec specs[RC_LEARNED_SPECS_MAX];
    char name[RC_LEARNED_NAME_MAX];       /* upper case, NUL-terminated */
    char keywords[RC_LEARNED_SPECS_MAX][RC_LEARNED_KEYWORD_MAX]; /* behind specs[i].keyword */
    int known;                            /* 0: the server does not know the command */
    struct rc_learned_cmd *next;          /* the cluster's list (learned.c) */
} rc_learned_cmd;

/* Access to argument i as bytes; returns 0 and sets *p and *n, or -1 if argument i is not
 * available as bytes (e.g. a Python int the caller did not convert). Called only for
 * arguments the key finder must read (subcommand name, numkeys, keyword candidates,
 * MIGRATE's argv[3]); an argument that is not available is never a keyword. */
typedef int (*rc_arg_fn)(void *ctx, int i, const char **p, size_t *n);

/* Find a command by name: case-insensitive (ASCII) exact match of name[0..len)
 * against the table, e.g. "get", "XINFO STREAM", "xinfo stream". No allocation.
 * Returns a pointer into the static table (valid forever), or NULL if unknown. */
const rc_cmdinfo *rc_cmd_lookup(const char *name, size_t len);

/* Find subcommand sub[0..len) (case-insensitive) of container, e.g. ("XINFO"
 * entry, "stream") -> the "XINFO STREAM" entry. Returns NULL if container is NULL,
 * not a container, or has no such subcommand. */
const rc_cmdinfo *rc_cmd_lookup_sub(const rc_cmdinfo *container, const char *sub, size_t len);

/* Write the argv indices of the command's keys, in increasing order and without
 * duplicates, into out[0..max) (out may be NULL when max is 0). Returns the number
 * of keys (may exceed max: then only max were written), or -1 on malformed
 * arguments: argc fails the arity, a fixed key position is missing, numkeys is
 * not an integer / not available as bytes / negative / larger than the remaining
 * arguments / 0 for a command without RC_CMD_NO_MANDATORY_KEYS (ZUNION 0 ...; EVAL
 * and FCALL accept 0), MIGRATE KEYS with a non-empty key argument.
 * argv indices are positions in the full command argv: argv[0] is the command
 * name and, for a subcommand, argv[1] is the subcommand name. If ci is a container
 * ("XINFO") and argv[1] names one of its subcommands, that subcommand is used.
 * Follows the server's key specs (db.c getKeysUsingKeySpecs) with these choices:
 * - shard channels (RC_KSF_NOT_KEY specs: SPUBLISH...) are returned, since they
 *   route like keys, although COMMAND GETKEYS leaves them out;
 * - "unknown" specs give no keys (SORT BY/GET patterns); SORT STORE and MIGRATE
 *   KEYS are handled by ci->quirk;
 * - an empty variable-length list (EVAL numkeys 0, "XREAD COUNT 1 STREAMS x", SUNSUBSCRIBE
 *   without channels) gives no keys, not an error;
 * - a keynum spec takes numkeys keys, keystep apart.
 * Pure C: no GIL needed unless `get` needs it. */
int rc_cmd_keys(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx, int *out, int max);

/* Cheap variant: argv index of the first key, 0 if the command has no key in these
 * arguments (e.g. EVAL with numkeys 0, a keyless command), -1 on malformed
 * arguments (same rules as rc_cmd_keys). */
int rc_cmd_first_key(const rc_cmdinfo *ci, int argc, rc_arg_fn get, void *ctx);

/* The key specs of ci: ci->nspecs entries (a valid pointer even when 0); a
 * learned command's own. */
const rc_keyspec *rc_cmd_specs(const rc_cmdinfo *ci);

/* The whole table (sorted by upper-case name, byte order); *n gets its length. */
const rc_cmdinfo *rc_cmd_table(size_t *n);

/* The redis_version of the server the table was generated from, e.g. "7.0.15". */
const char *rc_cmd_table_version(void);

#endif /* RC_COMMANDS_H */
