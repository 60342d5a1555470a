/* test_commands.c - standalone test of csrc/commands.c (tier 0: no Python, no server).
 *
 * Build and run from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -g -Icsrc \
 *       tests/c/test_commands.c -o /tmp/test_commands && /tmp/test_commands
 *
 * It includes commands.c itself (not only the header) so that it can also drive the
 * static helpers with hand-made key specs the generated table does not contain.
 * Checks: the table is sorted and well formed; lookups (case, unknown names,
 * subcommands); key extraction for every key-spec form and the hard cases.
 * Prints failures and exits 1 if any.
 */
#include "../../csrc/commands.c"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;
static int checks;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* An argument the getter refuses (a Python object that is not bytes). */
static const char NOT_BYTES[] = "<not bytes>";

typedef struct {
    const char *const *argv;
    int argc;
} argv_ctx;

static int
get_arg(void *ctx, int i, const char **p, size_t *n)
{
    const argv_ctx *a = ctx;
    if (i < 0 || i >= a->argc) {
        fprintf(stderr, "get_arg: index %d out of range (argc %d)\n", i, a->argc);
        abort(); /* the key finder must never ask for a missing argument */
    }
    if (a->argv[i] == NOT_BYTES) {
        return -1;
    }
    *p = a->argv[i];
    *n = strlen(a->argv[i]);
    return 0;
}

static const rc_cmdinfo *
lookup(const char *name)
{
    return rc_cmd_lookup(name, strlen(name));
}

/* keys(expected, NULL-terminated argv): looks up argv[0], or "argv[0] argv[1]" when
 * join is set, runs rc_cmd_keys and rc_cmd_first_key, compares with the expected
 * list, given as a count (-1: malformed) then the indices. */
static void
check_keys(int line, int join, int want_n, const int *want, const char *const *argv)
{
    argv_ctx a = {argv, 0};
    char name[128];
    const rc_cmdinfo *ci;
    int out[64];
    int n, first, ok = 1;

    while (argv[a.argc] != NULL) {
        a.argc++;
    }
    if (join) {
        snprintf(name, sizeof name, "%s %s", argv[0], argv[1]);
    } else {
        snprintf(name, sizeof name, "%s", argv[0]);
    }
    ci = lookup(name);
    checks++;
    if (ci == NULL) {
        failures++;
        fprintf(stderr, "line %d: %s not found\n", line, name);
        return;
    }
    n = rc_cmd_keys(ci, a.argc, get_arg, &a, out, 64);
    first = rc_cmd_first_key(ci, a.argc, get_arg, &a);
    if (n != want_n) {
        ok = 0;
    } else {
        for (int i = 0; i < n && i < 64; i++) {
            ok &= out[i] == want[i];
        }
    }
    if (want_n < 0) {
        ok &= first == -1;
    } else {
        ok &= first == (want_n > 0 ? want[0] : 0);
    }
    if (!ok) {
        failures++;
        fprintf(stderr, "line %d: %s: got %d keys [", line, name, n);
        for (int i = 0; i < n && i < 64; i++) {
            fprintf(stderr, "%s%d", i ? " " : "", out[i]);
        }
        fprintf(stderr, "] first %d, want %d keys [", first, want_n);
        for (int i = 0; i < want_n; i++) {
            fprintf(stderr, "%s%d", i ? " " : "", want[i]);
        }
        fprintf(stderr, "]\n");
    }
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
/* KEYS(argv, n, i...) */
#define KEYS(argv, ...) keys_v(__LINE__, 0, argv, __VA_ARGS__)
#define SUBKEYS(argv, ...) keys_v(__LINE__, 1, argv, __VA_ARGS__)

static void
keys_v(int line, int join, const char *const *argv, int n, ...)
{
    int want[64];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        want[i] = va_arg(ap, int);
    }
    va_end(ap);
    check_keys(line, join, n, want, argv);
}

static void
test_table(void)
{
    size_t n;
    const rc_cmdinfo *t = rc_cmd_table(&n);

    CHECK(n == RC_CMDTABLE_LEN);
    CHECK(n > 200);
    CHECK(strcmp(rc_cmd_table_version(), RC_CMDTABLE_REDIS_VERSION) == 0);
    if (sizeof(void *) == 8) {
        CHECK(sizeof(rc_cmdinfo) == 24);
        CHECK(sizeof(rc_keyspec) == 24);
    }
    for (size_t i = 0; i < n; i++) {
        const rc_cmdinfo *e = &t[i];
        size_t len = strlen(e->name);
        CHECK(len == e->name_len);
        CHECK(len <= RC_CMDTABLE_NAME_MAX);
        CHECK(e->nspecs <= RC_CMDTABLE_SPECS_MAX);
        for (size_t k = 0; k < len; k++) {
            CHECK(!(e->name[k] >= 'a' && e->name[k] <= 'z'));
        }
        if (i + 1 < n) {
            /* strictly increasing byte order */
            CHECK(strcmp(e->name, t[i + 1].name) < 0);
        }
        /* every entry is found by its own name, and in lower case */
        CHECK(rc_cmd_lookup(e->name, len) == e);
        {
            char low[RC_CMDTABLE_NAME_MAX + 1];
            for (size_t k = 0; k <= len; k++) {
                low[k] = (char)((e->name[k] >= 'A' && e->name[k] <= 'Z') ? e->name[k] + 32 : e->name[k]);
            }
            CHECK(rc_cmd_lookup(low, len) == e);
        }
        if (e->flags & RC_CMD_CONTAINER) {
            CHECK(e->nsubs > 0);
            for (size_t s = 1; s <= e->nsubs; s++) {
                const rc_cmdinfo *sub = &t[i + s];
                CHECK(sub->flags & RC_CMD_SUBCOMMAND);
                CHECK(strncmp(sub->name, e->name, e->name_len) == 0 && sub->name[e->name_len] == ' ');
                CHECK(rc_cmd_lookup_sub(e, sub->name + e->name_len + 1, sub->name_len - e->name_len - 1) == sub);
            }
        } else {
            CHECK(e->nsubs == 0);
        }
        for (int j = 0; j < e->nspecs; j++) {
            const rc_keyspec *s = &rc_cmd_specs(e)[j];
            CHECK(s->kind >= RC_KS_RANGE && s->kind <= RC_KS_KEYWORD_KEYNUM);
            if (s->kind == RC_KS_KEYWORD || s->kind == RC_KS_KEYWORD_KEYNUM) {
                CHECK(s->keyword != NULL && strlen(s->keyword) == s->keyword_len);
            }
        }
    }
}

static void
test_lookup(void)
{
    const rc_cmdinfo *get = lookup("GET");
    const rc_cmdinfo *xinfo = lookup("XINFO");
    const rc_cmdinfo *xs = lookup("XINFO STREAM");

    CHECK(get != NULL && strcmp(get->name, "GET") == 0);
    CHECK(lookup("get") == get && lookup("gEt") == get);
    CHECK(get->arity == 2 && get->first_key == 1 && (get->flags & RC_CMD_READONLY) && (get->flags & RC_CMD_FAST));
    CHECK(lookup("GETX") == NULL);
    CHECK(lookup("GE") == NULL);
    CHECK(lookup("G") == NULL);
    CHECK(rc_cmd_lookup("", 0) == NULL);
    CHECK(rc_cmd_lookup(NULL, 0) == NULL);
    CHECK(rc_cmd_lookup("GETTT", 3) == get); /* length, not NUL, ends the name */
    CHECK(lookup("G\xc9T") == NULL);
    CHECK(lookup("GET\x00") == get);
    CHECK(rc_cmd_lookup("GET\0", 4) == NULL);
    CHECK(lookup("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == NULL);
    CHECK(lookup("ZZZZ") == NULL);
    CHECK(lookup("A") == NULL);
    CHECK(lookup("eval_ro") != NULL);
    CHECK(lookup("restore-asking") != NULL);
    CHECK(lookup("EVAL_RO") == lookup("eval_ro"));

    CHECK(xinfo != NULL && (xinfo->flags & RC_CMD_CONTAINER));
    CHECK(xs != NULL && (xs->flags & RC_CMD_SUBCOMMAND) && strcmp(xs->name, "XINFO STREAM") == 0);
    CHECK(lookup("xinfo stream") == xs);
    CHECK(lookup("XINFO  STREAM") == NULL);
    CHECK(lookup("XINFO STREAMS") == NULL);
    CHECK(rc_cmd_lookup_sub(xinfo, "stream", 6) == xs);
    CHECK(rc_cmd_lookup_sub(xinfo, "StReAm", 6) == xs);
    CHECK(rc_cmd_lookup_sub(xinfo, "nope", 4) == NULL);
    CHECK(rc_cmd_lookup_sub(xinfo, "", 0) == NULL);
    CHECK(rc_cmd_lookup_sub(get, "stream", 6) == NULL);
    CHECK(rc_cmd_lookup_sub(NULL, "stream", 6) == NULL);
    CHECK(rc_cmd_lookup_sub(lookup("OBJECT"), "encoding", 8) == lookup("OBJECT ENCODING"));
    CHECK(rc_cmd_lookup_sub(lookup("CONFIG"), "get", 3) == lookup("CONFIG GET"));
    CHECK(rc_cmd_lookup_sub(lookup("CLUSTER"), "setslot", 7) == lookup("CLUSTER SETSLOT"));
    CHECK(rc_cmd_lookup_sub(lookup("CLUSTER"), "SETSLOTX", 8) == NULL);
    /* the first and last subcommands of a container are reachable */
    {
        const rc_cmdinfo *c = lookup("CLUSTER");
        const rc_cmdinfo *lo = c + 1, *hi = c + c->nsubs;
        CHECK(rc_cmd_lookup_sub(c, lo->name + 8, lo->name_len - 8u) == lo);
        CHECK(rc_cmd_lookup_sub(c, hi->name + 8, hi->name_len - 8u) == hi);
    }
    /* policies */
    CHECK(lookup("DBSIZE")->request_policy == RC_REQ_ALL_SHARDS);
    CHECK(lookup("DBSIZE")->response_policy == RC_RESP_AGG_SUM);
    CHECK(lookup("MSET")->request_policy == RC_REQ_MULTI_SHARD);
    CHECK(lookup("GET")->request_policy == RC_REQ_DEFAULT);
    /* quirks */
    CHECK(lookup("MIGRATE")->quirk == RC_Q_MIGRATE);
    CHECK(lookup("SORT")->quirk == RC_Q_SORT);
    CHECK(lookup("SORT_RO")->quirk == RC_Q_NONE);
}

static void
test_parse(void)
{
    long long v;
    CHECK(rc_parse_ll("0", 1, &v) == 0 && v == 0);
    CHECK(rc_parse_ll("12", 2, &v) == 0 && v == 12);
    CHECK(rc_parse_ll("-7", 2, &v) == 0 && v == -7);
    CHECK(rc_parse_ll("9223372036854775807", 19, &v) == 0 && v == LLONG_MAX);
    CHECK(rc_parse_ll("-9223372036854775808", 20, &v) == 0 && v == LLONG_MIN);
    CHECK(rc_parse_ll("9223372036854775808", 19, &v) == -1);
    CHECK(rc_parse_ll("99999999999999999999", 20, &v) == -1);
    CHECK(rc_parse_ll("", 0, &v) == -1);
    CHECK(rc_parse_ll("-", 1, &v) == -1);
    CHECK(rc_parse_ll("-0", 2, &v) == -1);
    CHECK(rc_parse_ll("01", 2, &v) == -1);
    CHECK(rc_parse_ll("+1", 2, &v) == -1);
    CHECK(rc_parse_ll(" 1", 2, &v) == -1);
    CHECK(rc_parse_ll("1 ", 2, &v) == -1);
    CHECK(rc_parse_ll("1.5", 3, &v) == -1);
    CHECK(rc_parse_ll("12", 1, &v) == 0 && v == 1); /* length-bounded */
}

static void
test_keys(void)
{
    /* index + range */
    KEYS(ARGV("GET", "k"), 1, 1);
    KEYS(ARGV("get", "k"), 1, 1);
    KEYS(ARGV("GET"), -1);
    KEYS(ARGV("GET", "a", "b"), -1);
    KEYS(ARGV("DEL", "a", "b", "c"), 3, 1, 2, 3);
    KEYS(ARGV("DEL"), -1);
    KEYS(ARGV("MSET", "a", "1", "b", "2"), 2, 1, 3);
    KEYS(ARGV("MSET", "a", "1", "b"), 2, 1, 3); /* as the server: arity only */
    KEYS(ARGV("BLPOP", "a", "b", "0"), 2, 1, 2);
    KEYS(ARGV("RENAME", "a", "a"), 2, 1, 2);
    KEYS(ARGV("BITOP", "AND", "d", "a", "b"), 3, 2, 3, 4);
    KEYS(ARGV("SINTERSTORE", "d", "a"), 2, 1, 2);
    KEYS(ARGV("LMOVE", "a", "b", "LEFT", "RIGHT"), 2, 1, 2);
    KEYS(ARGV("PING"), 0);
    KEYS(ARGV("PING", "x"), 0);
    KEYS(ARGV("SET", "k", "v", "GET"), 1, 1);

    /* keynum */
    KEYS(ARGV("EVAL", "s", "0"), 0);
    KEYS(ARGV("EVAL", "s", "2", "a", "b", "x"), 2, 3, 4);
    KEYS(ARGV("eval", "s", "1", "a"), 1, 3);
    KEYS(ARGV("EVAL", "s", "x", "a"), -1);
    KEYS(ARGV("EVAL", "s", NOT_BYTES, "a"), -1);
    KEYS(ARGV("EVAL", "s", "-1"), -1);
    KEYS(ARGV("EVAL", "s", "2", "a"), -1);
    KEYS(ARGV("EVAL", "s", "9999999999", "a"), -1);
    KEYS(ARGV("EVALSHA", "sha", "1", "k"), 1, 3);
    KEYS(ARGV("EVAL_RO", "s", "1", "k"), 1, 3);
    KEYS(ARGV("EVALSHA_RO", "s", "1", "k"), 1, 3);
    KEYS(ARGV("FCALL", "f", "2", "a", "b", "arg"), 2, 3, 4);
    KEYS(ARGV("FCALL_RO", "f", "0", "arg"), 0);
    KEYS(ARGV("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"), 3, 1, 3, 4);
    KEYS(ARGV("ZUNIONSTORE", "d", "3", "a", "b"), -1);
    KEYS(ARGV("ZUNIONSTORE", "d", "0", "a"), -1);
    KEYS(ARGV("ZINTERSTORE", "d", "1", "a"), 2, 1, 3);
    KEYS(ARGV("ZDIFFSTORE", "d", "2", "a", "b"), 3, 1, 3, 4);
    KEYS(ARGV("ZUNION", "2", "a", "b"), 2, 2, 3);
    KEYS(ARGV("ZINTERCARD", "2", "a", "b", "LIMIT", "1"), 2, 2, 3);
    KEYS(ARGV("SINTERCARD", "1", "a"), 1, 2);
    KEYS(ARGV("SINTERCARD", "3", "a", "b"), -1);
    KEYS(ARGV("LMPOP", "2", "a", "b", "LEFT"), 2, 2, 3);
    KEYS(ARGV("LMPOP", "0", "a", "LEFT"), -1);
    KEYS(ARGV("BLMPOP", "0", "2", "a", "b", "LEFT"), 2, 3, 4);
    KEYS(ARGV("ZMPOP", "1", "a", "MIN"), 1, 2);
    KEYS(ARGV("BZMPOP", "1.5", "2", "a", "b", "MAX"), 2, 3, 4);

    /* keyword + range, limit (XREAD) */
    KEYS(ARGV("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"), 2, 4, 5);
    KEYS(ARGV("XREAD", "STREAMS", "a", "0"), 1, 2);
    KEYS(ARGV("xread", "streams", "a", "0"), 1, 2);
    KEYS(ARGV("XREAD", "STREAMS", "STREAMS", "0"), 1, 2);
    KEYS(ARGV("XREAD", "STREAMS", "a", "b", "0"), 1, 2); /* rounds down, as the server */
    KEYS(ARGV("XREAD", "COUNT", "1", "STREAMS", "a"), 0);
    KEYS(ARGV("XREAD", "COUNT", "1", "STREAMS"), 0);    /* keyword last: no keys */
    KEYS(ARGV("XREAD", NOT_BYTES, "1", "STREAMS", "a", "0"), 1, 4);
    KEYS(ARGV("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"), 1, 5);
    KEYS(ARGV("XREADGROUP", "GROUP", "STREAMS", "c", "STREAMS", "a", ">"), 1, 5);
    KEYS(ARGV("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "STREAMS", "a", "b", ">", ">"), 2, 8, 9);
    KEYS(ARGV("GEORADIUS", "k", "0", "0", "1", "km"), 1, 1);
    KEYS(ARGV("GEORADIUS", "k", "0", "0", "1", "km", "STORE", "d"), 2, 1, 7);
    KEYS(ARGV("GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "d", "STORE", "e"), 3, 1, 7, 9);
    KEYS(ARGV("GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "STORE", "x"), 3, 1, 7, 8);
    KEYS(ARGV("GEORADIUS", "k", "0", "0", "1", "km", "STORE"), 1, 1);
    KEYS(ARGV("GEORADIUSBYMEMBER", "k", "m", "1", "km", "STORE", "d"), 2, 1, 6);

    /* MIGRATE */
    KEYS(ARGV("MIGRATE", "h", "1", "k", "0", "5000"), 1, 3);
    KEYS(ARGV("MIGRATE", "h", "1", "k", "0", "5000", "COPY", "REPLACE"), 1, 3);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000"), 1, 3);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "KEYS", "a", "b"), 2, 7, 8);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "keys", "a"), 1, 7);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "COPY", "REPLACE", "AUTH", "KEYS", "KEYS", "a"), 1, 11);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "AUTH2", "KEYS", "KEYS", "KEYS", "a", "b"), 2, 10, 11);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "KEYS", "KEYS", "b"), 2, 7, 8);
    KEYS(ARGV("MIGRATE", "h", "1", "", "0", "5000", "KEYS"), 0);
    KEYS(ARGV("MIGRATE", "h", "1", "k", "0", "5000", "KEYS", "a"), -1);
    KEYS(ARGV("MIGRATE", "h", "1", NOT_BYTES, "0", "5000", "KEYS", "a"), -1);
    KEYS(ARGV("MIGRATE", "h", "1", "k", "0"), -1);

    /* SORT */
    KEYS(ARGV("SORT", "k"), 1, 1);
    KEYS(ARGV("SORT", "k", "BY", "w_*", "GET", "#", "GET", "o_*"), 1, 1);
    KEYS(ARGV("SORT", "k", "BY", "w_*", "STORE", "d"), 2, 1, 5);
    KEYS(ARGV("sort", "k", "limit", "0", "10", "alpha", "store", "d"), 2, 1, 7);
    KEYS(ARGV("SORT", "k", "STORE", "d", "STORE", "e"), 2, 1, 5);
    KEYS(ARGV("SORT", "k", "GET", "STORE"), 1, 1);
    KEYS(ARGV("SORT", "k", "STORE"), 1, 1);
    KEYS(ARGV("SORT", "k", "BY", "STORE", "STORE", "d"), 2, 1, 5);
    KEYS(ARGV("SORT_RO", "k", "BY", "w_*", "GET", "#"), 1, 1);
    KEYS(ARGV("SORT_RO", "k", "STORE", "d"), 1, 1);

    /* subcommands: as "CONTAINER SUB" entries and through the container */
    SUBKEYS(ARGV("OBJECT", "ENCODING", "k"), 1, 2);
    KEYS(ARGV("OBJECT", "ENCODING", "k"), 1, 2);
    KEYS(ARGV("object", "encoding", "k"), 1, 2);
    SUBKEYS(ARGV("XINFO", "STREAM", "s"), 1, 2);
    KEYS(ARGV("XINFO", "STREAM", "s", "FULL"), 1, 2);
    SUBKEYS(ARGV("XINFO", "STREAM"), -1);
    KEYS(ARGV("XINFO", "HELP"), 0);
    KEYS(ARGV("XGROUP", "CREATE", "s", "g", "$"), 1, 2);
    KEYS(ARGV("MEMORY", "USAGE", "k"), 1, 2);
    KEYS(ARGV("CONFIG", "GET", "x"), 0);
    KEYS(ARGV("CONFIG", "NOSUCH"), 0);
    KEYS(ARGV("CONFIG"), -1);
    KEYS(ARGV("CONFIG", NOT_BYTES), 0);
    KEYS(ARGV("COMMAND"), 0);
    KEYS(ARGV("COMMAND", "GETKEYS", "GET", "k"), 0);
    SUBKEYS(ARGV("CLUSTER", "SETSLOT", "1", "NODE", "x"), 0);
    KEYS(ARGV("CLUSTER", "COUNTKEYSINSLOT", "1"), 0);

    /* shard channels are returned; plain channels are no keys */
    KEYS(ARGV("SPUBLISH", "ch", "m"), 1, 1);
    KEYS(ARGV("SSUBSCRIBE", "a", "b"), 2, 1, 2);
    KEYS(ARGV("SUNSUBSCRIBE"), 0);
    KEYS(ARGV("PUBLISH", "ch", "m"), 0);
}

static void
test_truncation(void)
{
    const char *argv[] = {"MSET", "a", "1", "b", "2", "c", "3", NULL};
    argv_ctx a = {argv, 7};
    int out[2] = {-5, -5};
    const rc_cmdinfo *ci = lookup("MSET");

    CHECK(rc_cmd_keys(ci, 7, get_arg, &a, out, 1) == 3);
    CHECK(out[0] == 1 && out[1] == -5);
    CHECK(rc_cmd_keys(ci, 7, get_arg, &a, NULL, 0) == 3);
    CHECK(rc_cmd_keys(NULL, 7, get_arg, &a, out, 2) == -1);
    CHECK(rc_cmd_keys(ci, 0, get_arg, &a, out, 2) == -1);
    {
        /* multi-range path writes no more than max either */
        const char *g[] = {"GEORADIUS", "k", "0", "0", "1", "km", "STOREDIST", "d", "STORE", "e", NULL};
        argv_ctx b = {g, 10};
        int o[2] = {-5, -5};
        CHECK(rc_cmd_keys(lookup("GEORADIUS"), 10, get_arg, &b, o, 1) == 3);
        CHECK(o[0] == 1 && o[1] == -5);
    }
}

/* Forms no Redis 7.0 spec uses, with hand-made specs through rc_ranges(). */
static int
synth(const rc_cmdinfo *ci, const rc_keyspec *specs, const char *const *argv, int *out, int max)
{
    argv_ctx a = {argv, 0};
    rc_krange r[RC_CMD_RANGES_MAX];
    int nr;
    while (argv[a.argc] != NULL) {
        a.argc++;
    }
    nr = rc_ranges(ci, specs, a.argc, get_arg, &a, r);
    return nr <= 0 ? nr : rc_emit(r, nr, out, max);
}

static void
test_synthetic(void)
{
    int out[16];
    rc_cmdinfo ci = {"X", 0, 0, 1, -1, 2, 0, 0, 0, 0, RC_Q_NONE, 0, 0};

    /* keyword + keynum: X ... KEYS 2 a b ... */
    {
        const rc_keyspec s[1] = {{"KEYS", 0, RC_KS_KEYWORD_KEYNUM, 4, 1, .fk.keynum = {0, 1, 1}}};
        ci.nspecs = 1;
        CHECK(synth(&ci, s, ARGV("X", "o", "KEYS", "2", "a", "b", "z"), out, 16) == 2 && out[0] == 4 && out[1] == 5);
        CHECK(synth(&ci, s, ARGV("X", "o", "z"), out, 16) == 0);
        CHECK(synth(&ci, s, ARGV("X", "KEYS", "x", "a"), out, 16) == -1);
    }
    /* keynum with keystep 2: numkeys keys, two apart */
    {
        const rc_keyspec s[1] = {{NULL, 0, RC_KS_KEYNUM, 0, 1, .fk.keynum = {0, 1, 2}}};
        ci.nspecs = 1;
        CHECK(synth(&ci, s, ARGV("X", "2", "a", "1", "b", "2"), out, 16) == 2 && out[0] == 2 && out[1] == 4);
        CHECK(synth(&ci, s, ARGV("X", "2", "a", "1", "b"), out, 16) == 2);
        CHECK(synth(&ci, s, ARGV("X", "2", "a", "1"), out, 16) == -1);
    }
    /* overlapping ranges are merged in order without repeats */
    {
        const rc_keyspec s[2] = {
            {NULL, 0, RC_KS_RANGE, 0, 2, .fk.range = {-1, 2, 0}},
            {NULL, 0, RC_KS_RANGE, 0, 1, .fk.range = {-1, 3, 0}},
        };
        ci.nspecs = 2;
        /* spec 0: 2 4 6; spec 1: 1 4 */
        CHECK(synth(&ci, s, ARGV("X", "a", "b", "c", "d", "e", "f"), out, 16) == 4);
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 4 && out[3] == 6);
        CHECK(synth(&ci, s, ARGV("X", "a", "b", "c", "d", "e", "f"), out, 2) == 4);
    }
    /* keyword search from the end (startfrom < 0) stops before argv[1] */
    {
        const rc_keyspec s[1] = {{"K", 0, RC_KS_KEYWORD, 1, -1, .fk.range = {0, 1, 0}}};
        ci.nspecs = 1;
        CHECK(synth(&ci, s, ARGV("X", "K", "a", "K", "b", "c"), out, 16) == 1 && out[0] == 4);
        CHECK(synth(&ci, s, ARGV("X", "K", "a"), out, 16) == 0);
        CHECK(synth(&ci, s, ARGV("X", "z", "K", "a"), out, 16) == 1 && out[0] == 3);
    }
    /* an unknown first spec falls back to the legacy range; later ones give nothing */
    {
        const rc_keyspec s[2] = {
            {NULL, 0, RC_KS_UNKNOWN, 0, 0, .fk.range = {0, 0, 0}},
            {NULL, 0, RC_KS_UNKNOWN, 0, 0, .fk.range = {0, 0, 0}},
        };
        rc_cmdinfo u = {"U", 0, 0, 1, -2, 2, 0, 1, -1, 2, RC_Q_NONE, 0, 0};
        CHECK(synth(&u, s, ARGV("U", "a", "1", "b", "2"), out, 16) == 2 && out[0] == 1 && out[1] == 3);
        u.first_key = 0;
        CHECK(synth(&u, s, ARGV("U", "a"), out, 16) == 0);
    }
    /* limit 3: the first third of what follows */
    {
        const rc_keyspec s[1] = {{"ON", 0, RC_KS_KEYWORD, 2, 1, .fk.range = {-1, 1, 3}}};
        ci.nspecs = 1;
        CHECK(synth(&ci, s, ARGV("X", "ON", "a", "b", "1", "2", "3", "4"), out, 16) == 2 && out[0] == 2 && out[1] == 3);
    }
}

int
main(void)
{
    test_table();
    test_lookup();
    test_parse();
    test_keys();
    test_truncation();
    test_synthetic();
    if (failures) {
        fprintf(stderr, "test_commands: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("test_commands: all %d checks passed (%d table entries, Redis %s)\n", checks, RC_CMDTABLE_LEN,
           rc_cmd_table_version());
    return 0;
}
