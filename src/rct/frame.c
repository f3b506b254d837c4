/*
 * RCT frame builder and command table (rct.md §2-§5).
 */
#include <string.h>

#include "rct/rct_int.h"

const char *ew_rct_cmd_name(unsigned cmd) {
    switch (cmd) {
    case EW_RCT_CMD_READ:
        return "READ";
    case EW_RCT_CMD_WRITE:
        return "WRITE";
    case EW_RCT_CMD_LONG_WRITE:
        return "LONG_WRITE";
    case EW_RCT_CMD_RESPONSE:
        return "RESPONSE";
    case EW_RCT_CMD_LONG_RESPONSE:
        return "LONG_RESPONSE";
    case EW_RCT_CMD_READ_PERIODICALLY:
        return "READ_PERIODICALLY";
    case EW_RCT_CMD_EXTENSION:
        return "EXTENSION";
    case EW_RCT_CMD_PLANT_READ:
        return "PLANT_READ";
    case EW_RCT_CMD_PLANT_WRITE:
        return "PLANT_WRITE";
    case EW_RCT_CMD_PLANT_LONG_WRITE:
        return "PLANT_LONG_WRITE";
    case EW_RCT_CMD_PLANT_RESPONSE:
        return "PLANT_RESPONSE";
    case EW_RCT_CMD_PLANT_LONG_RESPONSE:
        return "PLANT_LONG_RESPONSE";
    case EW_RCT_CMD_PLANT_READ_PERIODICALLY:
        return "PLANT_READ_PERIODICALLY";
    default:
        return NULL;
    }
}

unsigned ew_rct_cmd_flags(unsigned cmd) {
    /* rct.md §3.1: only these twelve bytes are frame commands.  0xFF (which
     * rctclient accepts as its internal sentinel, §11 Q5) and EXTENSION (no
     * frame layout, §3.2) are not. */
    unsigned base = cmd & ~EW_RCT_CMD_PLANT_BIT;
    unsigned fl;
    if (cmd > 0x48 || (cmd & 0x80))
        return 0;
    switch (base) {
    case EW_RCT_CMD_READ:
    case EW_RCT_CMD_READ_PERIODICALLY:
        fl = EW_RCT_CMDF_NO_PAYLOAD;
        break;
    case EW_RCT_CMD_WRITE:
        fl = EW_RCT_CMDF_WRITE;
        break;
    case EW_RCT_CMD_LONG_WRITE:
        fl = EW_RCT_CMDF_WRITE | EW_RCT_CMDF_LONG;
        break;
    case EW_RCT_CMD_RESPONSE:
        fl = EW_RCT_CMDF_RESPONSE;
        break;
    case EW_RCT_CMD_LONG_RESPONSE:
        fl = EW_RCT_CMDF_RESPONSE | EW_RCT_CMDF_LONG;
        break;
    default:
        return 0;
    }
    fl |= EW_RCT_CMDF_VALID;
    if (cmd & EW_RCT_CMD_PLANT_BIT)
        fl |= EW_RCT_CMDF_PLANT;
    return fl;
}

static inline int needs_escape(uint8_t b) {
    return b == EW_RCT_START || b == EW_RCT_ESCAPE;
}

/* Escaped size of |n| bytes. */
static size_t escaped_len(const uint8_t *p, size_t n) {
    size_t e = n;
    for (size_t i = 0; i < n; i++)
        e += needs_escape(p[i]);
    return e;
}

/* Copies |n| bytes with escaping to |o| (which has room); returns the end. */
static uint8_t *put_escaped(uint8_t *o, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (needs_escape(b))
            *o++ = EW_RCT_ESCAPE;
        *o++ = b;
    }
    return o;
}

int ew_rct_frame_encode(uint8_t *out, size_t cap, unsigned cmd, uint32_t address, uint32_t id,
                        const uint8_t *payload, size_t len, size_t *written) {
    if (!written || (!out && cap))
        return EW_ERR_INVAL;
    *written = 0;
    if (cmd == EW_RCT_CMD_EXTENSION) {
        /* rct.md §3.2: start, 3c, one argument byte; no length, no CRC.  The
         * argument is sent as it is (only e1 has been observed). */
        if (len != 1 || !payload)
            return EW_ERR_INVAL;
        *written = 3;
        if (cap < 3)
            return EW_ERR_NOBUF;
        out[0] = EW_RCT_START;
        out[1] = EW_RCT_CMD_EXTENSION;
        out[2] = payload[0];
        return EW_OK;
    }
    unsigned fl = ew_rct_cmd_flags(cmd);
    if (!fl)
        return EW_ERR_BAD_FIELD;
    if (fl & EW_RCT_CMDF_NO_PAYLOAD)
        len = 0; /* rct.md §11 Q1/Q2: read-type commands never carry a payload */
    if (len && !payload)
        return EW_ERR_INVAL;
    size_t over = (fl & EW_RCT_CMDF_PLANT) ? 8 : 4;
    size_t lmax = (fl & EW_RCT_CMDF_LONG) ? 0xFFFF : 0xFF;
    if (len > lmax - over)
        return EW_ERR_TOO_BIG;
    size_t l = over + len;

    /* Unescaped header: COMMAND, LENGTH (1 or 2 bytes), [ADDRESS], ID. */
    uint8_t h[12];
    size_t hn = 0;
    h[hn++] = (uint8_t)cmd;
    if (fl & EW_RCT_CMDF_LONG)
        h[hn++] = (uint8_t)(l >> 8); /* rct.md §11 Q3: plant LONG too */
    h[hn++] = (uint8_t)l;
    if (fl & EW_RCT_CMDF_PLANT) {
        h[hn++] = (uint8_t)(address >> 24);
        h[hn++] = (uint8_t)(address >> 16);
        h[hn++] = (uint8_t)(address >> 8);
        h[hn++] = (uint8_t)address;
    }
    h[hn++] = (uint8_t)(id >> 24);
    h[hn++] = (uint8_t)(id >> 16);
    h[hn++] = (uint8_t)(id >> 8);
    h[hn++] = (uint8_t)id;

    /* CRC over the unescaped body, zero-padded to an even length (§6.1). */
    uint16_t crc = ew_rct_crc16_update(0xFFFF, h, hn);
    if (len)
        crc = ew_rct_crc16_update(crc, payload, len);
    if ((hn + len) & 1) {
        static const uint8_t zero = 0;
        crc = ew_rct_crc16_update(crc, &zero, 1);
    }
    uint8_t c[2] = {(uint8_t)(crc >> 8), (uint8_t)crc};

    /* Every byte after the start token is escaped, the CRC included
     * (rct.md §5.1: rctclient's way, not evcc's). */
    size_t worst = 1 + 2 * (hn + len + 2);
    if (cap < worst) {
        size_t need = 1 + escaped_len(h, hn) + escaped_len(payload, len) + escaped_len(c, 2);
        if (cap < need) {
            *written = need;
            return EW_ERR_NOBUF;
        }
    }
    uint8_t *o = out;
    *o++ = EW_RCT_START;
    o = put_escaped(o, h, hn);
    if (len) {
        /* Payload runs without 2b/2d are copied in one piece. */
        const uint8_t *p = payload, *end = payload + len;
        while (p < end) {
            const uint8_t *q = p;
            while (q < end && !needs_escape(*q))
                q++;
            memcpy(o, p, (size_t)(q - p));
            o += q - p;
            if (q < end) {
                *o++ = EW_RCT_ESCAPE;
                *o++ = *q++;
            }
            p = q;
        }
    }
    o = put_escaped(o, c, 2);
    *written = (size_t)(o - out);
    return EW_OK;
}
