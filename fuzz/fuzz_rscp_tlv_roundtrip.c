/*
 * libFuzzer target: TLV round trip (decode, encode, decode, compare).
 *
 * A valid input (ew_rscp_validate) is rebuilt twice with the builder:
 *   1. raw: every value with ew_rscp_builder_add_raw(), containers with
 *      _open()/_close(); the bytes must equal the input exactly;
 *   2. typed: every value decoded with the getters and written back with the
 *      typed adders; the result must decode to the same values.
 * Both rebuilt buffers are decoded again and compared value by value.
 */
#include <math.h>

#include "fuzz_util.h"

#define MAX_DEPTH EW_RSCP_DEFAULT_MAX_DEPTH

static uint8_t raw_out[1u << 17];
static uint8_t typed_out[1u << 18];

/* Adds |v| decoded and re-encoded with the typed adder for its type. */
static void add_typed(ew_rscp_builder *b, const ew_rscp_value *v) {
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    int flag = 0;
    ew_rscp_timestamp ts = {0, 0};
    uint32_t code = 0;
    if (v->flags & EW_RSCP_VF_RAW) {
        FUZZ_CHECK(ew_rscp_value_get_i64(v, &i) == EW_ERR_INVAL);
        FUZZ_CHECK(ew_rscp_value_get_double(v, &f) == EW_ERR_INVAL);
        ew_rscp_builder_add_raw(b, v->tag, v->type, v->data, v->len);
        return;
    }
    switch (v->type) {
    case EW_RSCP_TYPE_NONE:
        ew_rscp_builder_add_none(b, v->tag);
        break;
    case EW_RSCP_TYPE_BOOL:
        FUZZ_CHECK(ew_rscp_value_get_bool(v, &flag) == EW_OK);
        ew_rscp_builder_add_bool(b, v->tag, flag);
        break;
    case EW_RSCP_TYPE_CHAR8:
        FUZZ_CHECK(ew_rscp_value_get_i64(v, &i) == EW_OK && i >= INT8_MIN && i <= INT8_MAX);
        ew_rscp_builder_add_char8(b, v->tag, (int8_t)i);
        break;
    case EW_RSCP_TYPE_UCHAR8:
        FUZZ_CHECK(ew_rscp_value_get_u64(v, &u) == EW_OK && u <= UINT8_MAX);
        ew_rscp_builder_add_uchar8(b, v->tag, (uint8_t)u);
        break;
    case EW_RSCP_TYPE_INT16:
        FUZZ_CHECK(ew_rscp_value_get_i64(v, &i) == EW_OK && i >= INT16_MIN && i <= INT16_MAX);
        ew_rscp_builder_add_int16(b, v->tag, (int16_t)i);
        break;
    case EW_RSCP_TYPE_UINT16:
        FUZZ_CHECK(ew_rscp_value_get_u64(v, &u) == EW_OK && u <= UINT16_MAX);
        ew_rscp_builder_add_uint16(b, v->tag, (uint16_t)u);
        break;
    case EW_RSCP_TYPE_INT32:
        FUZZ_CHECK(ew_rscp_value_get_i64(v, &i) == EW_OK && i >= INT32_MIN && i <= INT32_MAX);
        ew_rscp_builder_add_int32(b, v->tag, (int32_t)i);
        break;
    case EW_RSCP_TYPE_UINT32:
        FUZZ_CHECK(ew_rscp_value_get_u64(v, &u) == EW_OK && u <= UINT32_MAX);
        ew_rscp_builder_add_uint32(b, v->tag, (uint32_t)u);
        break;
    case EW_RSCP_TYPE_INT64:
        FUZZ_CHECK(ew_rscp_value_get_i64(v, &i) == EW_OK);
        ew_rscp_builder_add_int64(b, v->tag, i);
        break;
    case EW_RSCP_TYPE_UINT64:
        FUZZ_CHECK(ew_rscp_value_get_u64(v, &u) == EW_OK);
        ew_rscp_builder_add_uint64(b, v->tag, u);
        break;
    case EW_RSCP_TYPE_FLOAT32:
        FUZZ_CHECK(ew_rscp_value_get_double(v, &f) == EW_OK);
        ew_rscp_builder_add_float32(b, v->tag, (float)f);
        break;
    case EW_RSCP_TYPE_DOUBLE64:
        FUZZ_CHECK(ew_rscp_value_get_double(v, &f) == EW_OK);
        ew_rscp_builder_add_double64(b, v->tag, f);
        break;
    case EW_RSCP_TYPE_TIMESTAMP:
        FUZZ_CHECK(ew_rscp_value_get_timestamp(v, &ts) == EW_OK);
        ew_rscp_builder_add_timestamp(b, v->tag, ts);
        break;
    case EW_RSCP_TYPE_ERROR:
        FUZZ_CHECK(ew_rscp_value_get_error(v, &code) == EW_OK);
        ew_rscp_builder_add_error(b, v->tag, code);
        break;
    case EW_RSCP_TYPE_CSTRING:
        ew_rscp_builder_add_cstring(b, v->tag, (const char *)v->data, v->len);
        break;
    case EW_RSCP_TYPE_BYTEARRAY:
        ew_rscp_builder_add_bytes(b, v->tag, v->data, v->len);
        break;
    case EW_RSCP_TYPE_BITFIELD:
        ew_rscp_builder_add_bitfield(b, v->tag, v->data, v->len);
        break;
    default:
        /* Known, non-raw types are all handled above. */
        FUZZ_CHECK(0);
    }
}

/* Rebuilds the tree in |area| (already validated).  Returns the builder's
 * finish code; |*written| gets the length. */
static int rebuild(const uint8_t *area, size_t len, int typed, uint8_t *out, size_t cap,
                   size_t *written) {
    ew_rscp_builder b;
    ew_rscp_iter stack[MAX_DEPTH + 1];
    unsigned top = 0;
    ew_rscp_builder_init(&b, out, cap);
    ew_rscp_iter_init(&stack[0], area, len, MAX_DEPTH);
    for (;;) {
        ew_rscp_value v;
        int rc = ew_rscp_iter_next(&stack[top], &v, NULL);
        FUZZ_CHECK(rc >= 0);
        if (rc == 0) {
            if (top == 0)
                break;
            top--;
            ew_rscp_builder_close(&b);
            continue;
        }
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            FUZZ_CHECK(ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], NULL) == EW_OK);
            top++;
            ew_rscp_builder_open(&b, v.tag);
        } else if (typed) {
            add_typed(&b, &v);
        } else {
            ew_rscp_builder_add_raw(&b, v.tag, v.type, v.data, v.len);
        }
    }
    return ew_rscp_builder_finish(&b, written);
}

static int same_bits(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- decode oracle from rscp.md §3.2, sharing no code with the library */

static uint64_t le(const uint8_t *p, unsigned n) {
    uint64_t x = 0;
    for (unsigned i = n; i-- > 0;)
        x = x << 8 | p[i];
    return x;
}

/* Value size of type ids 0x00..0x10; -1 = variable (Bitfield included). */
static const int spec_size[17] = {0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, -1, -1, -1, 12, -1};

static void check_value_spec(const ew_rscp_value *v, const uint8_t *base) {
    const uint8_t *h = base + v->offset;
    FUZZ_CHECK(v->tag == (uint32_t)le(h, 4) && v->type == h[4] && v->len == le(h + 5, 2));
    FUZZ_CHECK(v->data == h + EW_RSCP_TLV_HEADER_LEN);
    int raw;
    if (v->type == EW_RSCP_TYPE_ERROR)
        raw = v->len != 4 && v->len != 1;
    else if (v->type > EW_RSCP_TYPE_BYTEARRAY)
        raw = 1;
    else
        raw = spec_size[v->type] >= 0 && (size_t)spec_size[v->type] != v->len;
    FUZZ_CHECK(((v->flags & EW_RSCP_VF_RAW) != 0) == raw);

    const uint8_t *d = v->data;
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    int b = 0;
    ew_rscp_timestamp ts = {0, 0};
    uint32_t code = 0;
    int is_int = !raw && v->type >= EW_RSCP_TYPE_BOOL && v->type <= EW_RSCP_TYPE_UINT64;
    int is_real = !raw && (v->type == EW_RSCP_TYPE_FLOAT32 || v->type == EW_RSCP_TYPE_DOUBLE64);
    int ri = ew_rscp_value_get_i64(v, &i), ru = ew_rscp_value_get_u64(v, &u);
    int rf = ew_rscp_value_get_double(v, &f), rb = ew_rscp_value_get_bool(v, &b);
    int rt = ew_rscp_value_get_timestamp(v, &ts), re = ew_rscp_value_get_error(v, &code);
    if (!is_int) {
        FUZZ_CHECK(ri == EW_ERR_INVAL && ru == EW_ERR_INVAL && rb == EW_ERR_INVAL);
        if (!is_real)
            FUZZ_CHECK(rf == EW_ERR_INVAL);
    }
    FUZZ_CHECK(rt == ((!raw && v->type == EW_RSCP_TYPE_TIMESTAMP) ? EW_OK : EW_ERR_INVAL));
    FUZZ_CHECK(re == ((!raw && v->type == EW_RSCP_TYPE_ERROR) ? EW_OK : EW_ERR_INVAL));
    if (raw)
        return;

    /* Signed and unsigned readings of the integer types. */
    int have = 1, neg = 0;
    int64_t sv = 0;
    uint64_t uv = 0;
    switch (v->type) {
    case EW_RSCP_TYPE_BOOL:
        FUZZ_CHECK(rb == EW_OK && b == (d[0] != 0));
        have = 0;
        break;
    case EW_RSCP_TYPE_CHAR8:
        sv = (int8_t)d[0];
        break;
    case EW_RSCP_TYPE_INT16:
        sv = (int16_t)le(d, 2);
        break;
    case EW_RSCP_TYPE_INT32:
        sv = (int32_t)le(d, 4);
        break;
    case EW_RSCP_TYPE_INT64:
        sv = (int64_t)le(d, 8);
        break;
    case EW_RSCP_TYPE_UCHAR8:
    case EW_RSCP_TYPE_UINT16:
    case EW_RSCP_TYPE_UINT32:
    case EW_RSCP_TYPE_UINT64:
        uv = le(d, (unsigned)v->len);
        neg = -1; /* unsigned */
        break;
    case EW_RSCP_TYPE_FLOAT32: {
        uint32_t bits = (uint32_t)le(d, 4);
        float x;
        memcpy(&x, &bits, sizeof x);
        FUZZ_CHECK(rf == EW_OK && same_bits((double)x, f));
        have = 0;
        break;
    }
    case EW_RSCP_TYPE_DOUBLE64: {
        uint64_t bits = le(d, 8);
        double x;
        memcpy(&x, &bits, sizeof x);
        FUZZ_CHECK(rf == EW_OK && same_bits(x, f));
        have = 0;
        break;
    }
    case EW_RSCP_TYPE_TIMESTAMP:
        FUZZ_CHECK(ts.seconds == (int64_t)le(d, 8) && ts.nanoseconds == (uint32_t)le(d + 8, 4));
        have = 0;
        break;
    case EW_RSCP_TYPE_ERROR:
        FUZZ_CHECK(code == (v->len == 4 ? (uint32_t)le(d, 4) : d[0]));
        have = 0;
        break;
    default:
        have = 0;
        break;
    }
    if (!have)
        return;
    if (neg == -1) {
        FUZZ_CHECK(ru == EW_OK && u == uv);
        FUZZ_CHECK(uv > (uint64_t)INT64_MAX ? ri == EW_ERR_RANGE
                                            : (ri == EW_OK && i == (int64_t)uv));
        FUZZ_CHECK(rb == EW_OK && b == (uv != 0));
        FUZZ_CHECK(rf == EW_OK && f == (double)uv);
    } else {
        FUZZ_CHECK(ri == EW_OK && i == sv);
        FUZZ_CHECK(sv < 0 ? ru == EW_ERR_RANGE : (ru == EW_OK && u == (uint64_t)sv));
        FUZZ_CHECK(rb == EW_OK && b == (sv != 0));
        FUZZ_CHECK(rf == EW_OK && f == (double)sv);
    }
}

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The decoded meaning of two values must agree. */
static void compare_values(const ew_rscp_value *a, const ew_rscp_value *b, int exact) {
    FUZZ_CHECK(a->tag == b->tag && a->type == b->type && a->depth == b->depth);
    FUZZ_CHECK(a->flags == b->flags);
    if (exact) {
        FUZZ_CHECK(a->len == b->len && a->offset == b->offset);
        FUZZ_CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    }
    int64_t ia = 0, ib = 0;
    uint64_t ua = 0, ub = 0;
    double fa = 0, fb = 0;
    int ba = 0, bb = 0;
    ew_rscp_timestamp ta = {0, 0}, tb = {0, 0};
    uint32_t ea = 0, eb = 0;
    int ra, rb;
    ra = ew_rscp_value_get_i64(a, &ia);
    rb = ew_rscp_value_get_i64(b, &ib);
    FUZZ_CHECK(ra == rb && (ra < 0 || ia == ib));
    ra = ew_rscp_value_get_u64(a, &ua);
    rb = ew_rscp_value_get_u64(b, &ub);
    FUZZ_CHECK(ra == rb && (ra < 0 || ua == ub));
    ra = ew_rscp_value_get_double(a, &fa);
    rb = ew_rscp_value_get_double(b, &fb);
    /* Float32 goes through a double and back: the value survives, a NaN
     * payload may not. */
    FUZZ_CHECK(ra == rb && (ra < 0 || same_double(fa, fb)));
    ra = ew_rscp_value_get_bool(a, &ba);
    rb = ew_rscp_value_get_bool(b, &bb);
    FUZZ_CHECK(ra == rb && (ra < 0 || ba == bb));
    ra = ew_rscp_value_get_timestamp(a, &ta);
    rb = ew_rscp_value_get_timestamp(b, &tb);
    FUZZ_CHECK(ra == rb &&
               (ra < 0 || (ta.seconds == tb.seconds && ta.nanoseconds == tb.nanoseconds)));
    ra = ew_rscp_value_get_error(a, &ea);
    rb = ew_rscp_value_get_error(b, &eb);
    FUZZ_CHECK(ra == rb && (ra < 0 || ea == eb));
    if (a->type != EW_RSCP_TYPE_CONTAINER && a->type != EW_RSCP_TYPE_ERROR &&
        a->type != EW_RSCP_TYPE_BOOL) {
        ew_bytes xa, xb;
        FUZZ_CHECK(ew_rscp_value_get_bytes(a, &xa) == EW_OK);
        FUZZ_CHECK(ew_rscp_value_get_bytes(b, &xb) == EW_OK);
        if (!(a->flags & EW_RSCP_VF_RAW) &&
            (a->type == EW_RSCP_TYPE_FLOAT32 || a->type == EW_RSCP_TYPE_DOUBLE64) && isnan(fa))
            return;
        FUZZ_CHECK(xa.len == xb.len && (xa.len == 0 || memcmp(xa.ptr, xb.ptr, xa.len) == 0));
    }
}

/* Walks two trees in step.  Returns the number of values. */
static int compare_trees(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, int exact) {
    ew_rscp_iter sa[MAX_DEPTH + 1], sb[MAX_DEPTH + 1];
    unsigned top = 0;
    int count = 0;
    ew_rscp_iter_init(&sa[0], a, alen, MAX_DEPTH);
    ew_rscp_iter_init(&sb[0], b, blen, MAX_DEPTH);
    for (;;) {
        ew_rscp_value va, vb;
        int ra = ew_rscp_iter_next(&sa[top], &va, NULL);
        int rb = ew_rscp_iter_next(&sb[top], &vb, NULL);
        FUZZ_CHECK(ra >= 0 && ra == rb);
        if (ra == 0) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        count++;
        check_value_spec(&va, a);
        compare_values(&va, &vb, exact);
        if (va.type == EW_RSCP_TYPE_CONTAINER) {
            FUZZ_CHECK(ew_rscp_iter_enter(&sa[top], &va, &sa[top + 1], NULL) == EW_OK);
            FUZZ_CHECK(ew_rscp_iter_enter(&sb[top], &vb, &sb[top + 1], NULL) == EW_OK);
            top++;
        }
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int n = ew_rscp_validate(data, size, 0, NULL);
    if (n < 0)
        return 0;

    /* 1. Raw rebuild: byte for byte the input. */
    size_t w = 0;
    int rc = rebuild(data, size, 0, raw_out, sizeof raw_out, &w);
    if (size <= sizeof raw_out) {
        FUZZ_CHECK(rc == EW_OK && w == size);
        FUZZ_CHECK(size == 0 || memcmp(raw_out, data, size) == 0);
        FUZZ_CHECK(ew_rscp_validate(raw_out, w, 0, NULL) == n);
        FUZZ_CHECK(compare_trees(data, size, raw_out, w, 1) == n);
    } else {
        FUZZ_CHECK(rc == EW_ERR_NOBUF && w == size);
    }

    /* Measuring (NULL buffer) gives the same size. */
    size_t need = 0;
    FUZZ_CHECK(rebuild(data, size, 0, NULL, 0, &need) == (size ? EW_ERR_NOBUF : EW_OK));
    FUZZ_CHECK(need == size);

    /* 2. Typed rebuild: the same values (a 1-byte Error grows to 4 bytes,
     * which can push a container past 65535 bytes). */
    rc = rebuild(data, size, 1, typed_out, sizeof typed_out, &w);
    if (rc == EW_ERR_TOO_BIG || rc == EW_ERR_NOBUF)
        return 0;
    FUZZ_CHECK(rc == EW_OK);
    FUZZ_CHECK(ew_rscp_validate(typed_out, w, 0, NULL) == n);
    FUZZ_CHECK(compare_trees(data, size, typed_out, w, 0) == n);
    return 0;
}
