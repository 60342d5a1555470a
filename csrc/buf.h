/* buf.h -- growable byte buffer (tier 0, no Python). */
#ifndef RC_BUF_H
#define RC_BUF_H

#include "rc.h"

typedef struct rc_buf {
    char *data;   /* bytes [0..len) are valid */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated (or size of the caller's inline storage) */
    int on_heap;  /* 1 if data was malloc'd by rc_buf_reserve */
} rc_buf;

/* A buffer that starts in caller-provided storage (e.g. a stack array) and
 * moves to the heap when it outgrows it. */
static inline void
rc_buf_init_inline(rc_buf *b, char *storage, size_t cap)
{
    b->data = storage;
    b->len = 0;
    b->cap = cap;
    b->on_heap = 0;
}

static inline void
rc_buf_init(rc_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->on_heap = 1;
}

/* Make room for `extra` more bytes. Returns RC_OK or RC_ERR (out of memory,
 * or a size overflow); the buffer is unchanged on error. */
int rc_buf_reserve(rc_buf *b, size_t extra);

/* Append n bytes. RC_OK or RC_ERR as rc_buf_reserve. */
int rc_buf_append(rc_buf *b, const void *p, size_t n);

/* Drop the first n bytes (n <= len). */
void rc_buf_consume(rc_buf *b, size_t n);

/* Give back unused heap capacity (keeps the contents). */
void rc_buf_shrink(rc_buf *b);

/* Free heap storage; the buffer becomes empty and heap-backed. */
void rc_buf_free(rc_buf *b);

/* Decimal digits of v (v >= 0), for exact RESP lengths. */
static inline int
rc_count_digits(unsigned long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes the decimal form of v at p (no NUL); returns the byte count. */
int rc_fmt_ll(char *p, long long v);

#endif
