/* crc16.h -- CRC16/XMODEM and Redis Cluster key slots (tier 0, no Python). */
#ifndef RC_CRC16_H
#define RC_CRC16_H

#include "rc.h"

/* CRC16/XMODEM (poly 0x1021, init 0, no reflection) of buf[0..len).
 * crc16("123456789") == 0x31C3. Pure function. */
uint16_t rc_crc16(const char *buf, size_t len);

/* Cluster slot of a key (cluster spec: CRC16 mod 16384 of the hash tag if the
 * key has a non-empty {...} tag -- first '{', first '}' after it -- else of
 * the whole key). Pure function. */
unsigned rc_key_slot(const char *key, size_t len);

#endif
