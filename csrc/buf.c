/* buf.c -- growable byte buffer (tier 0). No I/O, no Python. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
rc_buf_reserve(rc_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->cap - b->len >= extra) {
        return RC_OK;
    }
    if (extra > SIZE_MAX / 2 - b->len) {
        return RC_ERR;
    }
    need = b->len + extra;
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    if (b->on_heap) {
        p = realloc(b->data, cap);
        if (p == NULL) {
            return RC_ERR;
        }
    } else {
        p = malloc(cap);
        if (p == NULL) {
            return RC_ERR;
        }
        if (b->len) {
            memcpy(p, b->data, b->len);
        }
        b->on_heap = 1;
    }
    b->data = p;
    b->cap = cap;
    return RC_OK;
}

int
rc_buf_append(rc_buf *b, const void *p, size_t n)
{
    if (rc_buf_reserve(b, n) != RC_OK) {
        return RC_ERR;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return RC_OK;
}

void
rc_buf_consume(rc_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void
rc_buf_shrink(rc_buf *b)
{
    char *p;
    if (!b->on_heap || b->data == NULL || b->len == 0 || b->cap - b->len < 4096) {
        return;
    }
    p = realloc(b->data, b->len);
    if (p != NULL) {
        b->data = p;
        b->cap = b->len;
    }
}

void
rc_buf_free(rc_buf *b)
{
    if (b->on_heap) {
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    b->on_heap = 1;
}

int
rc_fmt_ll(char *p, long long v)
{
    char tmp[24];
    int n = 0, out = 0;
    unsigned long long u;

    if (v >= 0 && v < 100) { /* bulk lengths and small ints: most of them */
        if (v >= 10) {
            p[0] = (char)('0' + v / 10);
            p[1] = (char)('0' + v % 10);
            return 2;
        }
        p[0] = (char)('0' + v);
        return 1;
    }
    if (v < 0) {
        p[out++] = '-';
        u = 0ULL - (unsigned long long)v;
    } else {
        u = (unsigned long long)v;
    }
    do {
        tmp[n++] = (char)('0' + (u % 10));
        u /= 10;
    } while (u);
    while (n) {
        p[out++] = tmp[--n];
    }
    return out;
}
