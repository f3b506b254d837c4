/*
 * RSCP builder: writes TLVs, optionally wrapped in a frame, into a caller
 * buffer.  Once the buffer is full it only counts, so that _finish() can
 * report the size needed (STYLE.md "Memory and ownership").
 */
#include "rscp/rscp_int.h"

void ew_rscp_builder_init(ew_rscp_builder *b, uint8_t *buf, size_t cap) {
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = buf ? cap : 0;
}

void ew_rscp_builder_init_frame(ew_rscp_builder *b, uint8_t *buf, size_t cap) {
    ew_rscp_builder_init(b, buf, cap);
    b->frame = 1;
    b->start = b->len = EW_RSCP_HEADER_LEN;
}

/* Copies |n| bytes at the current end when they fit; always advances. */
static void put(ew_rscp_builder *b, const void *src, size_t n) {
    if (b->len <= b->cap && n <= b->cap - b->len && n)
        memcpy(b->buf + b->len, src, n);
    b->len += n;
}

static int header(ew_rscp_builder *b, uint32_t tag, uint8_t type, size_t len) {
    if (b->err)
        return b->err;
    if (len > UINT16_MAX)
        return b->err = EW_ERR_TOO_BIG;
    uint8_t h[EW_RSCP_TLV_HEADER_LEN];
    ew_wr32(h, tag);
    h[4] = type;
    ew_wr16(h + 5, (uint16_t)len);
    put(b, h, sizeof h);
    return EW_OK;
}

int ew_rscp_builder_add_raw(ew_rscp_builder *b, uint32_t tag, uint8_t type, const void *data,
                            size_t len) {
    if (len && !data && !b->err)
        b->err = EW_ERR_INVAL;
    int rc = header(b, tag, type, len);
    if (rc < 0)
        return rc;
    put(b, data, len);
    return EW_OK;
}

int ew_rscp_builder_add_none(ew_rscp_builder *b, uint32_t tag) {
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_NONE, NULL, 0);
}

int ew_rscp_builder_add_bool(ew_rscp_builder *b, uint32_t tag, int v) {
    uint8_t x = v ? 1 : 0;
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_BOOL, &x, 1);
}

int ew_rscp_builder_add_char8(ew_rscp_builder *b, uint32_t tag, int8_t v) {
    uint8_t x = (uint8_t)v;
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_CHAR8, &x, 1);
}

int ew_rscp_builder_add_uchar8(ew_rscp_builder *b, uint32_t tag, uint8_t v) {
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_UCHAR8, &v, 1);
}

int ew_rscp_builder_add_int16(ew_rscp_builder *b, uint32_t tag, int16_t v) {
    uint8_t x[2];
    ew_wr16(x, (uint16_t)v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_INT16, x, 2);
}

int ew_rscp_builder_add_uint16(ew_rscp_builder *b, uint32_t tag, uint16_t v) {
    uint8_t x[2];
    ew_wr16(x, v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_UINT16, x, 2);
}

int ew_rscp_builder_add_int32(ew_rscp_builder *b, uint32_t tag, int32_t v) {
    uint8_t x[4];
    ew_wr32(x, (uint32_t)v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_INT32, x, 4);
}

int ew_rscp_builder_add_uint32(ew_rscp_builder *b, uint32_t tag, uint32_t v) {
    uint8_t x[4];
    ew_wr32(x, v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_UINT32, x, 4);
}

int ew_rscp_builder_add_int64(ew_rscp_builder *b, uint32_t tag, int64_t v) {
    uint8_t x[8];
    ew_wr64(x, (uint64_t)v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_INT64, x, 8);
}

int ew_rscp_builder_add_uint64(ew_rscp_builder *b, uint32_t tag, uint64_t v) {
    uint8_t x[8];
    ew_wr64(x, v);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_UINT64, x, 8);
}

int ew_rscp_builder_add_float32(ew_rscp_builder *b, uint32_t tag, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t x[4];
    ew_wr32(x, bits);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_FLOAT32, x, 4);
}

int ew_rscp_builder_add_double64(ew_rscp_builder *b, uint32_t tag, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t x[8];
    ew_wr64(x, bits);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_DOUBLE64, x, 8);
}

int ew_rscp_builder_add_timestamp(ew_rscp_builder *b, uint32_t tag, ew_rscp_timestamp ts) {
    /* Seconds first, then nanoseconds, as E3/DC's own code lays it out
     * (rscp.md §3.2; pye3dc's writer is broken and not followed). */
    uint8_t x[12];
    ew_wr64(x, (uint64_t)ts.seconds);
    ew_wr32(x + 8, ts.nanoseconds);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_TIMESTAMP, x, 12);
}

int ew_rscp_builder_add_cstring(ew_rscp_builder *b, uint32_t tag, const char *s, size_t len) {
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_CSTRING, s, len);
}

int ew_rscp_builder_add_string(ew_rscp_builder *b, uint32_t tag, const char *s) {
    if (!s) {
        if (!b->err)
            b->err = EW_ERR_INVAL;
        return b->err;
    }
    return ew_rscp_builder_add_cstring(b, tag, s, strlen(s));
}

int ew_rscp_builder_add_bytes(ew_rscp_builder *b, uint32_t tag, const void *data, size_t len) {
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_BYTEARRAY, data, len);
}

int ew_rscp_builder_add_bitfield(ew_rscp_builder *b, uint32_t tag, const void *data, size_t len) {
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_BITFIELD, data, len);
}

int ew_rscp_builder_add_error(ew_rscp_builder *b, uint32_t tag, uint32_t code) {
    uint8_t x[4];
    ew_wr32(x, code);
    return ew_rscp_builder_add_raw(b, tag, EW_RSCP_TYPE_ERROR, x, 4);
}

int ew_rscp_builder_add_int(ew_rscp_builder *b, uint32_t tag, int64_t v) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    int type = t ? t->type : -1;
    switch (type) {
    case EW_RSCP_TYPE_BOOL:
        if (v != 0 && v != 1)
            break;
        return ew_rscp_builder_add_bool(b, tag, (int)v);
    case EW_RSCP_TYPE_CHAR8:
        if (v < INT8_MIN || v > INT8_MAX)
            break;
        return ew_rscp_builder_add_char8(b, tag, (int8_t)v);
    case EW_RSCP_TYPE_UCHAR8:
        if (v < 0 || v > UINT8_MAX)
            break;
        return ew_rscp_builder_add_uchar8(b, tag, (uint8_t)v);
    case EW_RSCP_TYPE_INT16:
        if (v < INT16_MIN || v > INT16_MAX)
            break;
        return ew_rscp_builder_add_int16(b, tag, (int16_t)v);
    case EW_RSCP_TYPE_UINT16:
        if (v < 0 || v > UINT16_MAX)
            break;
        return ew_rscp_builder_add_uint16(b, tag, (uint16_t)v);
    case EW_RSCP_TYPE_INT32:
        if (v < INT32_MIN || v > INT32_MAX)
            break;
        return ew_rscp_builder_add_int32(b, tag, (int32_t)v);
    case EW_RSCP_TYPE_UINT32:
        if (v < 0 || v > (int64_t)UINT32_MAX)
            break;
        return ew_rscp_builder_add_uint32(b, tag, (uint32_t)v);
    case EW_RSCP_TYPE_INT64:
        return ew_rscp_builder_add_int64(b, tag, v);
    case EW_RSCP_TYPE_UINT64:
        if (v < 0)
            break;
        return ew_rscp_builder_add_uint64(b, tag, (uint64_t)v);
    case EW_RSCP_TYPE_FLOAT32:
        return ew_rscp_builder_add_float32(b, tag, (float)v);
    case EW_RSCP_TYPE_DOUBLE64:
        return ew_rscp_builder_add_double64(b, tag, (double)v);
    case -1:
        if (v >= INT32_MIN && v <= INT32_MAX)
            return ew_rscp_builder_add_int32(b, tag, (int32_t)v);
        return ew_rscp_builder_add_int64(b, tag, v);
    default:
        /* The tag is declared with a non-numeric type. */
        if (!b->err)
            b->err = EW_ERR_INVAL;
        return b->err;
    }
    if (!b->err)
        b->err = EW_ERR_RANGE;
    return b->err;
}

int ew_rscp_builder_open(ew_rscp_builder *b, uint32_t tag) {
    if (b->err)
        return b->err;
    if (b->depth >= EW_RSCP_BUILDER_MAX_DEPTH)
        return b->err = EW_ERR_DEPTH;
    b->open[b->depth++] = b->len;
    /* Length is patched by _close(). */
    return header(b, tag, EW_RSCP_TYPE_CONTAINER, 0);
}

int ew_rscp_builder_close(ew_rscp_builder *b) {
    if (b->err)
        return b->err;
    if (b->depth == 0)
        return b->err = EW_ERR_STATE;
    size_t at = b->open[--b->depth];
    size_t len = b->len - at - EW_RSCP_TLV_HEADER_LEN;
    if (len > UINT16_MAX)
        return b->err = EW_ERR_TOO_BIG;
    if (at + EW_RSCP_TLV_HEADER_LEN <= b->cap)
        ew_wr16(b->buf + at + 5, (uint16_t)len);
    return EW_OK;
}

static int finish_common(ew_rscp_builder *b, size_t total, size_t *written) {
    if (b->err)
        return b->err;
    if (b->depth)
        return EW_ERR_STATE;
    if (written)
        *written = total;
    return total > b->cap ? EW_ERR_NOBUF : EW_OK;
}

int ew_rscp_builder_finish(ew_rscp_builder *b, size_t *written) {
    if (b->frame && !b->err)
        return EW_ERR_STATE;
    return finish_common(b, b->len, written);
}

int ew_rscp_builder_finish_frame(ew_rscp_builder *b, ew_rscp_timestamp ts, int with_crc,
                                 size_t *written) {
    if (!b->frame && !b->err)
        return EW_ERR_STATE;
    size_t data_len = b->len - EW_RSCP_HEADER_LEN;
    if (data_len > UINT16_MAX && !b->err)
        b->err = EW_ERR_TOO_BIG;
    size_t total = b->len + (with_crc ? EW_RSCP_CRC_LEN : 0);
    int rc = finish_common(b, total, written);
    if (rc < 0)
        return rc;
    ew_rscp_frame_seal(b->buf, data_len, ts, with_crc);
    return EW_OK;
}
