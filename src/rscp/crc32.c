/*
 * CRC-32/ISO-HDLC (zlib's crc32) over header and value area (rscp.md §2.3).
 * Slice-by-8 over build-time generated tables: the CRC covers every received
 * frame, so it sits on the hot path of the W2 decode benchmark.
 */
#include "rscp/rscp_int.h"

extern const uint32_t ew_crc32_tab[8][256];

uint32_t ew_rscp_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    const uint32_t(*t)[256] = ew_crc32_tab;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ew_rd32(p);
        uint32_t hi = ew_rd32(p + 4);
        crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
              t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}
