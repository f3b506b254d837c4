/*
 * RSCP values (TLV): the zero-copy iterator, the typed getters and the tree
 * validator (rscp.md §3).  Nothing is copied or allocated: values are views
 * into the caller's buffer.
 */
#include "rscp/rscp_int.h"

/* Unknown type ids and fixed-size types whose length field disagrees with
 * the type are kept as raw bytes rather than rejected: new firmware must
 * never break decoding (rscp.md §3.2 "Length discipline"). */
static uint8_t value_flags(uint8_t type, uint16_t len) {
    /* Value sizes of type ids 0x00..0x10 (rscp.md §3.2); -1 = variable.  A
     * local table: this runs once per decoded value. */
    static const int8_t sizes[0x11] = {0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, -1, -1, -1, 12, -1};
    if (type == EW_RSCP_TYPE_ERROR)
        /* 4 bytes normally; one peer reports a 1-byte form (rscp.md §6). */
        return (len == 4 || len == 1) ? 0 : EW_RSCP_VF_RAW;
    if (type > EW_RSCP_TYPE_BYTEARRAY)
        return EW_RSCP_VF_RAW;
    return sizes[type] >= 0 && sizes[type] != len ? EW_RSCP_VF_RAW : 0;
}

static unsigned clamp_depth(unsigned max_depth) {
    if (max_depth == 0)
        return EW_RSCP_DEFAULT_MAX_DEPTH;
    return max_depth > EW_RSCP_MAX_DEPTH_LIMIT ? EW_RSCP_MAX_DEPTH_LIMIT : max_depth;
}

void ew_rscp_iter_init(ew_rscp_iter *it, const uint8_t *area, size_t len, unsigned max_depth) {
    it->base = area;
    it->p = area;
    /* An empty area may come as NULL; NULL + 0 is undefined in C. */
    it->end = len ? area + len : area;
    it->depth = 0;
    it->max_depth = clamp_depth(max_depth);
}

int ew_rscp_iter_next(ew_rscp_iter *it, ew_rscp_value *v, ew_diag *d) {
    size_t left = (size_t)(it->end - it->p);
    if (left == 0)
        return 0;
    size_t off = (size_t)(it->p - it->base);
    if (left < EW_RSCP_TLV_HEADER_LEN)
        return ew_fail(d, EW_ERR_OVERRUN, off,
                       it->depth ? "value header cut off at the end of its container"
                                 : "value header cut off at the end of the data");
    uint16_t len = ew_rd16(it->p + 5);
    if (len > left - EW_RSCP_TLV_HEADER_LEN)
        return ew_fail(d, EW_ERR_OVERRUN, off,
                       it->depth ? "value length runs past the end of its container"
                                 : "value length runs past the end of the data");
    v->tag = ew_rd32(it->p);
    v->type = it->p[4];
    v->len = len;
    v->data = it->p + EW_RSCP_TLV_HEADER_LEN;
    v->offset = off;
    v->depth = it->depth;
    v->flags = value_flags(v->type, len);
    it->p += EW_RSCP_TLV_HEADER_LEN + len;
    return 1;
}

int ew_rscp_iter_enter(const ew_rscp_iter *parent, const ew_rscp_value *v, ew_rscp_iter *child,
                       ew_diag *d) {
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return ew_fail(d, EW_ERR_INVAL, v->offset, "value is not a container");
    if (parent->depth + 1 > parent->max_depth)
        return ew_fail(d, EW_ERR_DEPTH, v->offset, "containers nested deeper than the limit");
    child->base = parent->base;
    child->p = v->data;
    child->end = v->data + v->len;
    child->depth = parent->depth + 1;
    child->max_depth = parent->max_depth;
    return EW_OK;
}

int ew_rscp_validate(const uint8_t *area, size_t len, unsigned max_depth, ew_diag *d) {
    ew_rscp_iter stack[EW_RSCP_MAX_DEPTH_LIMIT + 1];
    unsigned top = 0;
    long count = 0;
    ew_rscp_iter_init(&stack[0], area, len, max_depth);
    for (;;) {
        ew_rscp_value v;
        int rc = ew_rscp_iter_next(&stack[top], &v, d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        if (count == INT32_MAX)
            return ew_fail(d, EW_ERR_TOO_BIG, v.offset, "too many values");
        count++;
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            rc = ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], d);
            if (rc < 0)
                return rc;
            top++;
        }
    }
    return (int)count;
}

/* ---- typed getters ---------------------------------------------------- */

/* Reads an integer-typed value: *neg set for negative signed values. */
static int read_int(const ew_rscp_value *v, int64_t *s, uint64_t *u, int *is_unsigned) {
    if (v->flags & EW_RSCP_VF_RAW)
        return EW_ERR_INVAL;
    const uint8_t *p = v->data;
    *is_unsigned = 0;
    switch (v->type) {
    case EW_RSCP_TYPE_BOOL:
        *s = p[0] != 0;
        return EW_OK;
    case EW_RSCP_TYPE_CHAR8:
        *s = (int8_t)p[0];
        return EW_OK;
    case EW_RSCP_TYPE_UCHAR8:
        *s = p[0];
        return EW_OK;
    case EW_RSCP_TYPE_INT16:
        *s = (int16_t)ew_rd16(p);
        return EW_OK;
    case EW_RSCP_TYPE_UINT16:
        *s = ew_rd16(p);
        return EW_OK;
    case EW_RSCP_TYPE_INT32:
        *s = (int32_t)ew_rd32(p);
        return EW_OK;
    case EW_RSCP_TYPE_UINT32:
        *s = ew_rd32(p);
        return EW_OK;
    case EW_RSCP_TYPE_INT64:
        *s = (int64_t)ew_rd64(p);
        return EW_OK;
    case EW_RSCP_TYPE_UINT64:
        *u = ew_rd64(p);
        *is_unsigned = 1;
        return EW_OK;
    default:
        return EW_ERR_INVAL;
    }
}

int ew_rscp_value_get_i64(const ew_rscp_value *v, int64_t *out) {
    int64_t s;
    uint64_t u;
    int uns;
    int rc = read_int(v, &s, &u, &uns);
    if (rc < 0)
        return rc;
    if (uns) {
        if (u > (uint64_t)INT64_MAX)
            return EW_ERR_RANGE;
        s = (int64_t)u;
    }
    *out = s;
    return EW_OK;
}

int ew_rscp_value_get_u64(const ew_rscp_value *v, uint64_t *out) {
    int64_t s;
    uint64_t u;
    int uns;
    int rc = read_int(v, &s, &u, &uns);
    if (rc < 0)
        return rc;
    if (!uns) {
        if (s < 0)
            return EW_ERR_RANGE;
        u = (uint64_t)s;
    }
    *out = u;
    return EW_OK;
}

int ew_rscp_value_get_double(const ew_rscp_value *v, double *out) {
    if (!(v->flags & EW_RSCP_VF_RAW)) {
        if (v->type == EW_RSCP_TYPE_FLOAT32) {
            uint32_t bits = ew_rd32(v->data);
            float f;
            memcpy(&f, &bits, sizeof f);
            *out = f;
            return EW_OK;
        }
        if (v->type == EW_RSCP_TYPE_DOUBLE64) {
            uint64_t bits = ew_rd64(v->data);
            memcpy(out, &bits, sizeof *out);
            return EW_OK;
        }
    }
    int64_t s;
    uint64_t u;
    int uns;
    int rc = read_int(v, &s, &u, &uns);
    if (rc < 0)
        return rc;
    *out = uns ? (double)u : (double)s;
    return EW_OK;
}

int ew_rscp_value_get_bool(const ew_rscp_value *v, int *out) {
    int64_t s;
    uint64_t u;
    int uns;
    int rc = read_int(v, &s, &u, &uns);
    if (rc < 0)
        return rc;
    *out = uns ? u != 0 : s != 0;
    return EW_OK;
}

int ew_rscp_value_get_timestamp(const ew_rscp_value *v, ew_rscp_timestamp *out) {
    if ((v->flags & EW_RSCP_VF_RAW) || v->type != EW_RSCP_TYPE_TIMESTAMP)
        return EW_ERR_INVAL;
    out->seconds = (int64_t)ew_rd64(v->data);
    out->nanoseconds = ew_rd32(v->data + 8);
    return EW_OK;
}

int ew_rscp_value_get_error(const ew_rscp_value *v, uint32_t *code) {
    if ((v->flags & EW_RSCP_VF_RAW) || v->type != EW_RSCP_TYPE_ERROR)
        return EW_ERR_INVAL;
    *code = v->len == 4 ? ew_rd32(v->data) : v->data[0];
    return EW_OK;
}

int ew_rscp_value_get_bytes(const ew_rscp_value *v, ew_bytes *out) {
    out->ptr = v->data;
    out->len = v->len;
    return EW_OK;
}
