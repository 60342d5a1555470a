/* crc16.c -- table-driven CRC16/XMODEM and the hash-tag rule (tier 0).
 * No I/O, no Python. */
#include <string.h>

#include "crc16.h"

static uint16_t rc_crc_table[256];
static int rc_crc_ready;

/* The table is computed once from the polynomial rather than written out:
 * 256 entries of shifting, done on first use. Called with the GIL held or at
 * module init, so the lazy init is not racy in practice; even a race writes
 * the same values. */
static void
rc_crc16_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int b = 0; b < 8; b++) {
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        }
        rc_crc_table[i] = c;
    }
    rc_crc_ready = 1;
}

uint16_t
rc_crc16(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    uint16_t crc = 0;

    if (RC_UNLIKELY(!rc_crc_ready)) {
        rc_crc16_init();
    }
    for (size_t i = 0; i < len; i++) {
        crc = (uint16_t)((crc << 8) ^ rc_crc_table[((crc >> 8) ^ p[i]) & 0xff]);
    }
    return crc;
}

unsigned
rc_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    if (open != NULL) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close != NULL && close != open + 1) {
            return rc_crc16(open + 1, (size_t)(close - open - 1)) & (RC_SLOTS - 1);
        }
    }
    return rc_crc16(key, len) & (RC_SLOTS - 1);
}
