/*
 * RSCP frames: 18-byte header, value area, optional CRC32 (rscp.md §2).
 */
#include "rscp/rscp_int.h"

int ew_rscp_header_check(const uint8_t *p, unsigned flags, size_t base, ew_diag *d) {
    if (p[0] != EW_RSCP_MAGIC0 || p[1] != EW_RSCP_MAGIC1)
        return ew_fail(d, EW_ERR_BAD_MAGIC, base, "frame does not start with E3 DC");
    uint16_t ctrl = ew_rd16(p + 2);
    /* Version in bits 8..11 must be 1 (rscp.md §2.2). */
    if (((ctrl & EW_RSCP_CTRL_VERSION_MASK) >> 8) != EW_RSCP_VERSION)
        return ew_fail(d, EW_ERR_BAD_VERSION, base + 2,
                       "control field names a version other than 1");
    /* Reserved bits: peers disagree on checking them (rscp.md §2.2); a
     * tolerant receiver ignores them, a strict one refuses. */
    if ((flags & EW_RSCP_DECODE_STRICT) &&
        (ctrl & (uint16_t) ~(EW_RSCP_CTRL_VERSION_MASK | EW_RSCP_CTRL_CRC)))
        return ew_fail(d, EW_ERR_BAD_FIELD, base + 2, "reserved control bits are set");
    return EW_OK;
}

int ew_rscp_frame_decode(const uint8_t *buf, size_t len, ew_rscp_frame *f, unsigned flags,
                         ew_diag *d) {
    f->frame_len = 0;
    if (len < EW_RSCP_HEADER_LEN) {
        /* Check what is there already so garbage fails early. */
        if ((len >= 1 && buf[0] != EW_RSCP_MAGIC0) || (len >= 2 && buf[1] != EW_RSCP_MAGIC1))
            return ew_fail(d, EW_ERR_BAD_MAGIC, 0, "frame does not start with E3 DC");
        if (flags & EW_RSCP_DECODE_FINAL)
            return ew_fail(d, EW_ERR_TRUNCATED, len, "input ends inside the 18-byte frame header");
        return EW_ERR_NEED_MORE;
    }
    int rc = ew_rscp_header_check(buf, flags, 0, d);
    if (rc < 0)
        return rc;
    f->ctrl = ew_rd16(buf + 2);
    f->has_crc = (f->ctrl & EW_RSCP_CTRL_CRC) != 0;
    f->ts.seconds = (int64_t)ew_rd64(buf + 4);
    f->ts.nanoseconds = ew_rd32(buf + 12);
    f->data_len = ew_rd16(buf + 16);
    f->data = buf + EW_RSCP_HEADER_LEN;
    f->frame_len = EW_RSCP_HEADER_LEN + (size_t)f->data_len + (f->has_crc ? EW_RSCP_CRC_LEN : 0);
    f->crc = 0;
    if (len < f->frame_len) {
        if (flags & EW_RSCP_DECODE_FINAL)
            return ew_fail(d, EW_ERR_TRUNCATED, len,
                           "input ends before the length in the frame header");
        return EW_ERR_NEED_MORE;
    }
    if (f->has_crc) {
        size_t at = EW_RSCP_HEADER_LEN + f->data_len;
        f->crc = ew_rd32(buf + at);
        if (ew_rscp_crc32(0, buf, at) != f->crc)
            return ew_fail(d, EW_ERR_CRC, at, "CRC32 does not match header and data");
    }
    if (flags & EW_RSCP_DECODE_VALIDATE) {
        ew_diag sub;
        rc = ew_rscp_validate(f->data, f->data_len, 0, &sub);
        if (rc < 0)
            return ew_fail(d, rc, EW_RSCP_HEADER_LEN + sub.offset, sub.what);
    }
    return (int)f->frame_len;
}

void ew_rscp_frame_seal(uint8_t *p, size_t data_len, ew_rscp_timestamp ts, int with_crc) {
    p[0] = EW_RSCP_MAGIC0;
    p[1] = EW_RSCP_MAGIC1;
    /* Version 1 in bits 8..11, CRC flag bit 12: bytes 00 11 or 00 01. */
    ew_wr16(p + 2, (uint16_t)((EW_RSCP_VERSION << 8) | (with_crc ? EW_RSCP_CTRL_CRC : 0)));
    ew_wr64(p + 4, (uint64_t)ts.seconds);
    ew_wr32(p + 12, ts.nanoseconds);
    ew_wr16(p + 16, (uint16_t)data_len);
    if (with_crc) {
        size_t at = EW_RSCP_HEADER_LEN + data_len;
        ew_wr32(p + at, ew_rscp_crc32(0, p, at));
    }
}

int ew_rscp_frame_encode(uint8_t *out, size_t cap, const uint8_t *data, size_t data_len,
                         ew_rscp_timestamp ts, int with_crc, size_t *needed) {
    if (data_len > UINT16_MAX)
        return EW_ERR_TOO_BIG;
    size_t total = EW_RSCP_HEADER_LEN + data_len + (with_crc ? EW_RSCP_CRC_LEN : 0);
    if (needed)
        *needed = total;
    if (total > cap)
        return EW_ERR_NOBUF;
    if (data_len)
        memcpy(out + EW_RSCP_HEADER_LEN, data, data_len);
    ew_rscp_frame_seal(out, data_len, ts, with_crc);
    return (int)total;
}
