/*
 * CRC-16/CCITT-FALSE with RCT's odd-length padding (rct.md §6.1), slice-by-8.
 */
#include "rct/rct_int.h"

uint16_t ew_rct_crc16_update(uint16_t crc, const uint8_t *p, size_t n) {
    /* Eight bytes at a time: the CRC register is folded into the first two
     * bytes, then each byte's contribution is looked up in the table for its
     * distance from the end of the block (the CRC is linear). */
    while (n >= 8) {
        unsigned a = (unsigned)(p[0] ^ (crc >> 8));
        unsigned b = (unsigned)(p[1] ^ (crc & 0xFF));
        crc = (uint16_t)(ew_rct_crc16_tab[7][a] ^ ew_rct_crc16_tab[6][b] ^
                         ew_rct_crc16_tab[5][p[2]] ^ ew_rct_crc16_tab[4][p[3]] ^
                         ew_rct_crc16_tab[3][p[4]] ^ ew_rct_crc16_tab[2][p[5]] ^
                         ew_rct_crc16_tab[1][p[6]] ^ ew_rct_crc16_tab[0][p[7]]);
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (uint16_t)((crc << 8) ^ ew_rct_crc16_tab[0][((crc >> 8) ^ *p++) & 0xFF]);
    return crc;
}

uint16_t ew_rct_crc16(const void *data, size_t len) {
    static const uint8_t zero = 0;
    uint16_t crc = ew_rct_crc16_update(0xFFFF, (const uint8_t *)data, len);
    /* The padding rule: odd-length input gets one 0x00 byte (rct.md §6.1;
     * rctclient's docstring says otherwise, §11 Q13, its code does this). */
    if (len & 1)
        crc = ew_rct_crc16_update(crc, &zero, 1);
    return crc;
}
