/*
 * RSCP values (TLV): typed builder adders and the zero-copy iterator against
 * tests/vectors/rscp/tlv_types.json, getter type/range errors, raw values,
 * iterator overruns with exact offsets, depth limits and builder errors.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Checks the decoded value |v| against the vector node (recursively). */
static void check_node(const ew_rscp_iter *parent, const ew_rscp_value *v, const json_t *node) {
    int type = tu_node_type(node);
    const json_t *val = json_object_get(node, "value");
    assert_int_equal(v->tag, tu_node_tag(node));
    assert_int_equal(v->type, type);
    assert_int_equal(v->flags, 0);
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    int bo = -1;
    ew_bytes by;
    assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
    assert_ptr_equal(by.ptr, v->data);
    assert_int_equal(by.len, v->len);
    switch (type) {
    case EW_RSCP_TYPE_NONE:
        assert_int_equal(v->len, 0);
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
        break;
    case EW_RSCP_TYPE_BOOL:
        assert_int_equal(v->len, 1);
        assert_int_equal(ew_rscp_value_get_bool(v, &bo), EW_OK);
        assert_int_equal(bo, json_is_true(val));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
        assert_int_equal(i, json_is_true(val));
        break;
    case EW_RSCP_TYPE_CHAR8:
    case EW_RSCP_TYPE_UCHAR8:
    case EW_RSCP_TYPE_INT16:
    case EW_RSCP_TYPE_UINT16:
    case EW_RSCP_TYPE_INT32:
    case EW_RSCP_TYPE_UINT32:
    case EW_RSCP_TYPE_INT64:
    case EW_RSCP_TYPE_UINT64: {
        assert_int_equal(v->len, ew_rscp_type_fixed_size(type));
        json_int_t want = json_integer_value(val);
        assert_true(json_is_integer(val));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
        assert_true(i == (int64_t)want);
        if (want >= 0) {
            assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
            assert_true(u == (uint64_t)want);
        } else {
            assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_RANGE);
        }
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
        assert_true(f == (double)want);
        assert_int_equal(ew_rscp_value_get_bool(v, &bo), EW_OK);
        assert_int_equal(bo, want != 0);
        ew_rscp_timestamp ts;
        assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
        break;
    }
    case EW_RSCP_TYPE_FLOAT32:
    case EW_RSCP_TYPE_DOUBLE64:
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
        if (type == EW_RSCP_TYPE_FLOAT32)
            assert_true((float)f == (float)json_number_value(val));
        else
            assert_true(f == json_number_value(val));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_bool(v, &bo), EW_ERR_INVAL);
        break;
    case EW_RSCP_TYPE_BITFIELD:
    case EW_RSCP_TYPE_BYTEARRAY: {
        size_t n;
        uint8_t *want = tu_unhex(json_string_value(val), &n);
        assert_int_equal(by.len, n);
        assert_memory_equal(by.ptr, want, n);
        free(want);
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        break;
    }
    case EW_RSCP_TYPE_CSTRING:
        assert_int_equal(by.len, json_string_length(val));
        if (by.len)
            assert_memory_equal(by.ptr, json_string_value(val), by.len);
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
        break;
    case EW_RSCP_TYPE_TIMESTAMP: {
        ew_rscp_timestamp ts;
        assert_int_equal(v->len, 12);
        assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_OK);
        assert_true(ts.seconds == tu_int(val, "seconds"));
        assert_int_equal(ts.nanoseconds, tu_int(val, "nanoseconds"));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        break;
    }
    case EW_RSCP_TYPE_ERROR: {
        uint32_t code = 0;
        assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
        assert_int_equal(code, json_integer_value(val));
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        break;
    }
    case EW_RSCP_TYPE_CONTAINER: {
        ew_rscp_iter child;
        assert_int_equal(ew_rscp_iter_enter(parent, v, &child, NULL), EW_OK);
        assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
        size_t k;
        const json_t *cn;
        json_array_foreach(val, k, cn) {
            ew_rscp_value cv;
            ew_diag d = {0};
            assert_int_equal(ew_rscp_iter_next(&child, &cv, &d), 1);
            assert_int_equal(cv.depth, v->depth + 1);
            assert_true(cv.offset >= v->offset + EW_RSCP_TLV_HEADER_LEN);
            check_node(&child, &cv, cn);
        }
        ew_rscp_value end;
        assert_int_equal(ew_rscp_iter_next(&child, &end, NULL), 0);
        break;
    }
    default:
        fail_msg("type %d not handled", type);
    }
}

/* Logs every value of the tree in |area| (the event log of a decode). */
static void dump_level(tu_log *log, ew_rscp_iter *it) {
    ew_rscp_value v;
    ew_diag d = {0};
    int rc;
    while ((rc = ew_rscp_iter_next(it, &v, &d)) == 1) {
        char *hex = tu_hex(v.data, v.len);
        tu_logf(log, "[d%u @%zu tag=%08" PRIx32 " type=%02x len=%u flags=%u %s]", v.depth, v.offset,
                v.tag, v.type, v.len, v.flags, hex);
        free(hex);
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            ew_rscp_iter child;
            int erc = ew_rscp_iter_enter(it, &v, &child, &d);
            if (erc < 0) {
                tu_logf(log, "{enter %s @%zu}", ew_errname(erc), d.offset);
                return;
            }
            tu_logf(log, "{");
            dump_level(log, &child);
            tu_logf(log, "}");
        }
    }
    if (rc < 0)
        tu_logf(log, "<%s @%zu>", ew_errname(rc), d.offset);
}

/* Split driver: accumulates the chunks; every incomplete prefix (copied to
 * an exactly sized buffer so ASan sees any over-read) must be refused with
 * EW_ERR_OVERRUN at offset 0 by both the validator and the iterator; the
 * complete input is dumped. */
static char *tlv_run(void *ctx, const uint8_t *in, size_t len, const size_t *chunks,
                     size_t nchunks) {
    (void)ctx;
    size_t have = 0;
    for (size_t c = 0; c < nchunks; c++) {
        have += chunks[c];
        if (have >= len)
            break;
        uint8_t *pre = malloc(have ? have : 1);
        assert_non_null(pre);
        memcpy(pre, in, have);
        ew_diag d = {0};
        assert_int_equal(ew_rscp_validate(pre, have, 0, &d), EW_ERR_OVERRUN);
        assert_int_equal(d.code, EW_ERR_OVERRUN);
        assert_int_equal(d.offset, 0);
        ew_rscp_iter it;
        ew_rscp_value v;
        ew_rscp_iter_init(&it, pre, have, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &v, &d), have ? EW_ERR_OVERRUN : 0);
        free(pre);
    }
    assert_int_equal(have, len);
    uint8_t *all = malloc(len);
    assert_non_null(all);
    memcpy(all, in, len);
    tu_log log = {0};
    ew_rscp_iter it;
    ew_rscp_iter_init(&it, all, len, 0);
    dump_level(&log, &it);
    free(all);
    return tu_log_take(&log);
}

/* Number of values in a vector node's tree. */
static int count_nodes(const json_t *node) {
    int n = 1;
    const json_t *val = json_object_get(node, "value");
    if (tu_node_type(node) == EW_RSCP_TYPE_CONTAINER) {
        size_t i;
        const json_t *c;
        json_array_foreach(val, i, c) n += count_nodes(c);
    }
    return n;
}

/* Builds |node| with caps 0..needed-1 (EW_ERR_NOBUF, |written| = needed) and
 * needed..needed+8 (EW_OK, identical bytes).  Buffers are exactly |cap| bytes
 * so ASan catches any write past the end. */
static void check_caps(const json_t *node, const uint8_t *want, size_t n) {
    for (size_t cap = 0; cap <= n + 8; cap++) {
        uint8_t *buf = malloc(cap ? cap : 1);
        assert_non_null(buf);
        memset(buf, 0xA5, cap);
        ew_rscp_builder b;
        ew_rscp_builder_init(&b, cap ? buf : NULL, cap);
        tu_build_node(&b, node);
        size_t written = 12345;
        int rc = ew_rscp_builder_finish(&b, &written);
        if (cap < n) {
            assert_int_equal(rc, EW_ERR_NOBUF);
        } else {
            assert_int_equal(rc, EW_OK);
            assert_memory_equal(buf, want, n);
        }
        assert_int_equal(written, n);
        free(buf);
    }
}

static void test_tlv_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/tlv_types.json");
    const json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) >= 20);
    int seen[256] = {0};
    size_t idx;
    const json_t *tc;
    json_array_foreach(cases, idx, tc) {
        size_t n;
        uint8_t *want = tu_unhex(tu_str(tc, "encoded_hex"), &n);
        uint32_t tag = tu_hex32(tu_str(tc, "tag_hex"));
        int type = (int)tu_hex32(tu_str(tc, "type_id"));
        long long lenf = tu_int(tc, "length_field");
        assert_int_equal(type, tu_node_type(tc));
        assert_int_equal(n, EW_RSCP_TLV_HEADER_LEN + (size_t)lenf);
        seen[type] = 1;
        /* The tag name in the vector resolves to the same id. */
        const char *tname = tu_str(tc, "tag");
        const ew_rscp_tag_info *ti = ew_rscp_tag_by_name(tname, strlen(tname));
        assert_non_null(ti);
        assert_int_equal(ti->id, tag);

        /* Encode with the typed adder: byte-identical for every buffer size
         * that suffices, NOBUF with the needed size below it. */
        check_caps(tc, want, n);

        /* Decode: whole, byte by byte and split at every point give the same
         * tree, and every incomplete prefix is an overrun at offset 0. */
        char *log = tu_check_splits(NULL, want, n, tlv_run);
        assert_non_null(strstr(log, "tag="));
        assert_null(strstr(log, "<EW_ERR"));

        /* Decode the whole input and compare every value with the vector. */
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, want, n);
        ew_rscp_iter it;
        ew_rscp_value v;
        ew_diag d = {0};
        ew_rscp_iter_init(&it, copy, n, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 1);
        assert_int_equal(v.tag, tag);
        assert_int_equal(v.type, type);
        assert_int_equal(v.len, lenf);
        assert_int_equal(v.offset, 0);
        assert_int_equal(v.depth, 0);
        assert_ptr_equal(v.data, copy + EW_RSCP_TLV_HEADER_LEN);
        check_node(&it, &v, tc);
        assert_int_equal(ew_rscp_iter_next(&it, &v, &d), 0);
        assert_int_equal(ew_rscp_validate(copy, n, 0, &d), count_nodes(tc));
        print_message("tlv %-9s %-40s %s ok\n", tu_str(tc, "type"), tname,
                      tu_str(tc, "encoded_hex"));
        free(copy);
        free(log);
        free(want);
    }
    for (int t = 0; t <= 0x10; t++)
        if (!seen[t])
            fail_msg("tlv_types.json has no case of type 0x%02x", t);
    assert_true(seen[0xFF]);

    /* All cases back to back in one builder and one iterator pass. */
    uint8_t all[2048];
    size_t alln = 0;
    json_array_foreach(cases, idx, tc) {
        size_t n;
        uint8_t *want = tu_unhex(tu_str(tc, "encoded_hex"), &n);
        assert_true(alln + n <= sizeof all);
        memcpy(all + alln, want, n);
        alln += n;
        free(want);
    }
    uint8_t *out = malloc(alln);
    assert_non_null(out);
    for (size_t cap = 0; cap <= alln; cap++) {
        ew_rscp_builder b;
        ew_rscp_builder_init(&b, cap ? out : NULL, cap);
        json_array_foreach(cases, idx, tc) tu_build_node(&b, tc);
        size_t written = 0;
        assert_int_equal(ew_rscp_builder_finish(&b, &written), cap < alln ? EW_ERR_NOBUF : EW_OK);
        assert_int_equal(written, alln);
    }
    assert_memory_equal(out, all, alln);
    ew_rscp_iter it;
    ew_rscp_iter_init(&it, out, alln, 0);
    json_array_foreach(cases, idx, tc) {
        ew_rscp_value v;
        assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
        check_node(&it, &v, tc);
    }
    ew_rscp_value v;
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 0);
    free(out);
    json_decref(root);
}

/* ---- getters --------------------------------------------------------------- */

/* Writes a TLV header plus |n| data bytes at |p|; returns the size. */
static size_t put_tlv(uint8_t *p, uint32_t tag, uint8_t type, const void *data, uint16_t n) {
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    p[2] = (uint8_t)(tag >> 16);
    p[3] = (uint8_t)(tag >> 24);
    p[4] = type;
    p[5] = (uint8_t)n;
    p[6] = (uint8_t)(n >> 8);
    if (n)
        memcpy(p + 7, data, n);
    return 7 + (size_t)n;
}

/* Writes only a TLV header (the value bytes follow separately). */
static size_t put_hdr(uint8_t *p, uint32_t tag, uint8_t type, uint16_t n) {
    uint8_t tmp[7];
    put_tlv(tmp, tag, type, NULL, 0);
    tmp[5] = (uint8_t)n;
    tmp[6] = (uint8_t)(n >> 8);
    memcpy(p, tmp, 7);
    return 7;
}

/* Decodes the single value at |area| into |v| (the area must stay alive). */
static void first_value(const uint8_t *area, size_t len, ew_rscp_value *v) {
    ew_rscp_iter it;
    ew_diag d = {0};
    ew_rscp_iter_init(&it, area, len, 0);
    assert_int_equal(ew_rscp_iter_next(&it, v, &d), 1);
    assert_int_equal(ew_rscp_iter_next(&it, v + 1, &d), 0);
}

/* Every typed getter refuses |v| with EW_ERR_INVAL. */
static void assert_all_typed_inval(const ew_rscp_value *v) {
    int64_t i;
    uint64_t u;
    double f;
    int b;
    ew_rscp_timestamp ts;
    uint32_t code;
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);
}

static void test_getters(void **state) {
    (void)state;
    uint8_t buf[64];
    ew_rscp_value v[2];
    int64_t i;
    uint64_t u;
    double f;
    int b;
    ew_rscp_timestamp ts;
    uint32_t code;

    /* Int32 -1234 (tlv_types.json): u64 refuses the negative number. */
    static const uint8_t m1234[] = {0x2e, 0xfb, 0xff, 0xff};
    size_t n = put_tlv(buf, 0x01800004, EW_RSCP_TYPE_INT32, m1234, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == -1234);
    u = 77;
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_RANGE);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
    assert_true(f == -1234.0);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_OK);
    assert_int_equal(b, 1);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);

    /* UInt64 above INT64_MAX: i64 refuses, u64 and double read it. */
    static const uint8_t umax[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    n = put_tlv(buf, 0x06000101, EW_RSCP_TYPE_UINT64, umax, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_RANGE);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
    assert_true(f == 18446744073709551615.0);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_OK);
    assert_int_equal(b, 1);
    static const uint8_t u2_63[] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    n = put_tlv(buf, 0x06000101, EW_RSCP_TYPE_UINT64, u2_63, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_RANGE);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
    assert_true(u == 0x8000000000000000ull);
    static const uint8_t i63[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    n = put_tlv(buf, 0x06000101, EW_RSCP_TYPE_UINT64, i63, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == INT64_MAX);
    /* The same bytes as Int64 INT64_MIN. */
    n = put_tlv(buf, 0x01000150, EW_RSCP_TYPE_INT64, u2_63, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_RANGE);
    /* UInt64 0: bool false. */
    static const uint8_t zero8[8] = {0};
    n = put_tlv(buf, 0x06000101, EW_RSCP_TYPE_UINT64, zero8, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_OK);
    assert_int_equal(b, 0);

    /* Sign handling of the small types. */
    static const uint8_t ff[] = {0xff, 0xff, 0xff, 0xff};
    n = put_tlv(buf, 0x01800104, EW_RSCP_TYPE_CHAR8, ff, 1);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == -1);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_RANGE);
    n = put_tlv(buf, 0x01800008, EW_RSCP_TYPE_UCHAR8, ff, 1);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == 255);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
    assert_true(u == 255);
    n = put_tlv(buf, 0x01040016, EW_RSCP_TYPE_INT16, "\x00\x80", 2);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == INT16_MIN);
    n = put_tlv(buf, 0x03040001, EW_RSCP_TYPE_UINT16, ff, 2);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == 65535);
    n = put_tlv(buf, 0x01000101, EW_RSCP_TYPE_UINT32, ff, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == 4294967295ll);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_OK);
    assert_true(u == 4294967295ull);

    /* Bool: any non-zero byte is true. */
    n = put_tlv(buf, 0x01000100, EW_RSCP_TYPE_BOOL, "\x02", 1);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_OK);
    assert_int_equal(b, 1);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == 1);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
    assert_true(f == 1.0);
    n = put_tlv(buf, 0x01000100, EW_RSCP_TYPE_BOOL, "\x00", 1);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_OK);
    assert_int_equal(b, 0);

    /* Floats: only _double; NaN comes through. */
    static const uint8_t fnan[] = {0x00, 0x00, 0xc0, 0x7f};
    n = put_tlv(buf, 0x01800006, EW_RSCP_TYPE_FLOAT32, fnan, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
    assert_true(isnan(f));
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
    static const uint8_t dneg[] = {0, 0, 0, 0, 0, 0, 0xf0, 0xbf}; /* -1.0 */
    n = put_tlv(buf, 0x01000152, EW_RSCP_TYPE_DOUBLE64, dneg, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_OK);
    assert_true(f == -1.0);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);

    /* Timestamp: only _timestamp; negative seconds are legal. */
    static const uint8_t tsneg[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0};
    n = put_tlv(buf, 0x0A80000F, EW_RSCP_TYPE_TIMESTAMP, tsneg, 12);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_OK);
    assert_true(ts.seconds == -1);
    assert_int_equal(ts.nanoseconds, 5);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);

    /* Timestamp of an Int32 (and of a UInt64 seconds count) is refused. */
    n = put_tlv(buf, 0x0A80000F, EW_RSCP_TYPE_INT32, m1234, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);
    n = put_tlv(buf, 0x06000101, EW_RSCP_TYPE_UINT64, i63, 8);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_timestamp(v, &ts), EW_ERR_INVAL);

    /* Text, bytes, containers, None: no typed getter, bytes always. */
    n = put_tlv(buf, 0x0A800001, EW_RSCP_TYPE_CSTRING, "12", 2);
    first_value(buf, n, v);
    assert_all_typed_inval(v);
    ew_bytes by;
    assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
    assert_int_equal(by.len, 2);
    assert_memory_equal(by.ptr, "12", 2);
    n = put_tlv(buf, 0x0E042010, EW_RSCP_TYPE_BYTEARRAY, "\x01\x02\x03", 3);
    first_value(buf, n, v);
    assert_all_typed_inval(v);
    n = put_tlv(buf, 0x05800004, EW_RSCP_TYPE_BITFIELD, "\x05", 1);
    first_value(buf, n, v);
    assert_all_typed_inval(v);
    n = put_tlv(buf, 0x0180008B, EW_RSCP_TYPE_CONTAINER, NULL, 0);
    first_value(buf, n, v);
    assert_all_typed_inval(v);
    n = put_tlv(buf, 0x01000001, EW_RSCP_TYPE_NONE, NULL, 0);
    first_value(buf, n, v);
    assert_all_typed_inval(v);
    assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
    assert_int_equal(by.len, 0);

    /* Error: only _error; an Int32 or UInt32 is not an error code. */
    static const uint8_t e6[] = {6, 0, 0, 0};
    n = put_tlv(buf, 0x03840000, EW_RSCP_TYPE_ERROR, e6, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
    assert_int_equal(code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_u64(v, &u), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_double(v, &f), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_value_get_bool(v, &b), EW_ERR_INVAL);
    n = put_tlv(buf, 0x03840000, EW_RSCP_TYPE_ERROR, ff, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
    assert_int_equal(code, EW_RSCP_ERR_INVALID_TIME);
    n = put_tlv(buf, 0x03840000, EW_RSCP_TYPE_INT32, e6, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);
    n = put_tlv(buf, 0x03840000, EW_RSCP_TYPE_UINT32, e6, 4);
    first_value(buf, n, v);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);
}

/* ---- raw values ------------------------------------------------------------ */

static void test_raw_values(void **state) {
    (void)state;
    uint8_t buf[128];
    ew_rscp_value v[2];
    ew_bytes by;

    /* Unknown type ids decode as raw bytes, typed getters refuse them. */
    static const uint8_t unknown_types[] = {0x11, 0x12, 0x42, 0x80, 0xFE};
    for (size_t k = 0; k < sizeof unknown_types; k++) {
        uint8_t t = unknown_types[k];
        assert_null(ew_rscp_type_name(t));
        size_t n = put_tlv(buf, 0x01800001, t, "\x01\x02\x03", 3);
        first_value(buf, n, v);
        assert_int_equal(v->type, t);
        assert_int_equal(v->flags, EW_RSCP_VF_RAW);
        assert_int_equal(v->len, 3);
        assert_int_equal(v->tag, 0x01800001);
        assert_all_typed_inval(v);
        assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
        assert_int_equal(by.len, 3);
        assert_memory_equal(by.ptr, "\x01\x02\x03", 3);
        ew_diag d = {0};
        assert_int_equal(ew_rscp_validate(buf, n, 0, &d), 1);
    }
    /* An unknown type id whose bytes look like TLVs is not descended into
     * (0x11 is rscp-lib's "Container_compressed"). */
    uint8_t inner[16];
    size_t in = put_tlv(inner, 0x01800008, EW_RSCP_TYPE_UCHAR8, "\x4d", 1);
    size_t n = put_tlv(buf, 0x01800001, 0x11, inner, (uint16_t)in);
    assert_int_equal(ew_rscp_validate(buf, n, 0, NULL), 1);
    first_value(buf, n, v);
    assert_int_equal(v->flags, EW_RSCP_VF_RAW);
    ew_rscp_iter it, child;
    ew_rscp_iter_init(&it, buf, n, 0);
    assert_int_equal(ew_rscp_iter_next(&it, v, NULL), 1);
    ew_diag d = {0};
    assert_int_equal(ew_rscp_iter_enter(&it, v, &child, &d), EW_ERR_INVAL);
    assert_int_equal(d.code, EW_ERR_INVAL);
    assert_int_equal(d.offset, 0);

    /* An unknown tag is fine and reads normally. */
    assert_null(ew_rscp_tag_by_id(0x7FABCDEF));
    n = put_tlv(buf, 0x7FABCDEF, EW_RSCP_TYPE_INT32, "\x2a\x00\x00\x00", 4);
    first_value(buf, n, v);
    assert_int_equal(v->tag, 0x7FABCDEF);
    assert_int_equal(v->flags, 0);
    int64_t i = 0;
    assert_int_equal(ew_rscp_value_get_i64(v, &i), EW_OK);
    assert_true(i == 42);
    assert_int_equal(ew_rscp_validate(buf, n, 0, NULL), 1);

    /* Fixed-size types with any other length are raw. */
    static const uint8_t fixed_types[] = {
        EW_RSCP_TYPE_NONE,     EW_RSCP_TYPE_BOOL,   EW_RSCP_TYPE_CHAR8,   EW_RSCP_TYPE_UCHAR8,
        EW_RSCP_TYPE_INT16,    EW_RSCP_TYPE_UINT16, EW_RSCP_TYPE_INT32,   EW_RSCP_TYPE_UINT32,
        EW_RSCP_TYPE_INT64,    EW_RSCP_TYPE_UINT64, EW_RSCP_TYPE_FLOAT32, EW_RSCP_TYPE_DOUBLE64,
        EW_RSCP_TYPE_TIMESTAMP};
    static const uint8_t junk[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    for (size_t k = 0; k < sizeof fixed_types; k++) {
        uint8_t t = fixed_types[k];
        int size = ew_rscp_type_fixed_size(t);
        assert_true(size >= 0);
        for (int len = 0; len <= 13; len++) {
            n = put_tlv(buf, 0x01800001, t, junk, (uint16_t)len);
            first_value(buf, n, v);
            if (len == size) {
                assert_int_equal(v->flags, 0);
                continue;
            }
            assert_int_equal(v->flags, EW_RSCP_VF_RAW);
            assert_int_equal(v->len, len);
            assert_all_typed_inval(v);
            assert_int_equal(ew_rscp_value_get_bytes(v, &by), EW_OK);
            assert_int_equal(by.len, (size_t)len);
        }
    }

    /* Error: 4 bytes or the 1-byte form one peer sends; other sizes raw. */
    for (int len = 0; len <= 8; len++) {
        n = put_tlv(buf, 0x03840000, EW_RSCP_TYPE_ERROR, "\x06\x00\x00\x00\x00\x00\x00\x00",
                    (uint16_t)len);
        first_value(buf, n, v);
        uint32_t code = 0;
        if (len == 1 || len == 4) {
            assert_int_equal(v->flags, 0);
            assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
            assert_int_equal(code, 6);
        } else {
            assert_int_equal(v->flags, EW_RSCP_VF_RAW);
            assert_int_equal(ew_rscp_value_get_error(v, &code), EW_ERR_INVAL);
        }
    }
    /* 1-byte Error with a high code byte. */
    n = put_tlv(buf, 0x00800001, EW_RSCP_TYPE_ERROR, "\xff", 1);
    first_value(buf, n, v);
    uint32_t code = 0;
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
    assert_int_equal(code, 255);

    /* Variable-size types accept any length, including 0. */
    static const uint8_t var_types[] = {EW_RSCP_TYPE_BITFIELD, EW_RSCP_TYPE_CSTRING,
                                        EW_RSCP_TYPE_BYTEARRAY};
    for (size_t k = 0; k < sizeof var_types; k++)
        for (int len = 0; len <= 13; len++) {
            n = put_tlv(buf, 0x01800001, var_types[k], junk, (uint16_t)len);
            first_value(buf, n, v);
            assert_int_equal(v->flags, 0);
            assert_int_equal(v->len, len);
        }
}

/* ---- iterator overruns ----------------------------------------------------- */

/* Runs the validator and a full iterator walk over an exact copy of |area|
 * and checks both stop with |code| at |offset|. */
static void expect_fault(const uint8_t *area, size_t len, unsigned max_depth, int code,
                         size_t offset) {
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, area, len);
    ew_diag d = {0, 9999, NULL};
    assert_int_equal(ew_rscp_validate(copy, len, max_depth, &d), code);
    assert_int_equal(d.code, code);
    assert_int_equal(d.offset, offset);
    assert_non_null(d.what);
    /* The same fault through the iterator: walk depth first. */
    ew_rscp_iter stack[EW_RSCP_MAX_DEPTH_LIMIT + 1];
    unsigned top = 0;
    int rc;
    ew_rscp_iter_init(&stack[0], copy, len, max_depth);
    ew_diag d2 = {0, 9999, NULL};
    for (;;) {
        ew_rscp_value v;
        rc = ew_rscp_iter_next(&stack[top], &v, &d2);
        if (rc < 0)
            break;
        if (rc == 0) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            rc = ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], &d2);
            if (rc < 0)
                break;
            top++;
        }
    }
    assert_int_equal(rc, code);
    assert_int_equal(d2.code, code);
    assert_int_equal(d2.offset, offset);
    if (code == EW_ERR_OVERRUN) {
        /* The iterator stays at the bad value. */
        ew_rscp_value v;
        ew_diag d3 = {0};
        assert_int_equal(ew_rscp_iter_next(&stack[top], &v, &d3), code);
        assert_int_equal(d3.offset, offset);
    }
    free(copy);
}

static void test_iter_overrun(void **state) {
    (void)state;
    uint8_t buf[256] = {0};
    ew_rscp_iter it;
    ew_rscp_value v;

    /* Empty area: no values, no error. */
    ew_rscp_iter_init(&it, buf, 0, 0);
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 0);
    assert_int_equal(ew_rscp_validate(buf, 0, 0, NULL), 0);

    /* Header cut at the start. */
    size_t n = put_tlv(buf, 0x01800008, EW_RSCP_TYPE_UCHAR8, "\x4d", 1);
    for (size_t k = 1; k < EW_RSCP_TLV_HEADER_LEN; k++)
        expect_fault(buf, k, 0, EW_ERR_OVERRUN, 0);
    /* Value cut: the length runs past the area. */
    expect_fault(buf, n - 1, 0, EW_ERR_OVERRUN, 0);

    /* Second value's header cut: offset of the second value. */
    size_t n2 = n + put_tlv(buf + n, 0x01800001, EW_RSCP_TYPE_INT32, "\x4f\x12\x00\x00", 4);
    assert_int_equal(ew_rscp_validate(buf, n2, 0, NULL), 2);
    for (size_t k = n + 1; k < n2; k++)
        expect_fault(buf, k, 0, EW_ERR_OVERRUN, n);

    /* Length field far beyond the area. */
    n = put_tlv(buf, 0x0A800001, EW_RSCP_TYPE_CSTRING, "abc", 3);
    buf[5] = 0xff;
    buf[6] = 0xff;
    expect_fault(buf, n, 0, EW_ERR_OVERRUN, 0);

    /* A container's child runs past the container although the area is long
     * enough: container of 9 bytes holding a Float32 header that claims 4
     * value bytes of which only 2 are inside; the child header is at 7. */
    uint8_t *p = buf;
    p += put_hdr(p, 0x03840000, EW_RSCP_TYPE_CONTAINER, 9);
    uint8_t *chdr = p;
    p += put_tlv(p, 0x03800001, EW_RSCP_TYPE_FLOAT32, "\x00\x00", 2);
    chdr[5] = 4;
    p += put_tlv(p, 0x0380000D, EW_RSCP_TYPE_UCHAR8, "\x01", 1); /* sibling, outside */
    n = (size_t)(p - buf);
    assert_int_equal(n, 24);
    expect_fault(buf, n, 0, EW_ERR_OVERRUN, 7);
    ew_rscp_iter_init(&it, buf, n, 0);
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
    assert_int_equal(v.len, 9);
    ew_rscp_iter child;
    assert_int_equal(ew_rscp_iter_enter(&it, &v, &child, NULL), EW_OK);
    ew_diag d = {0};
    assert_int_equal(ew_rscp_iter_next(&child, &v, &d), EW_ERR_OVERRUN);
    assert_int_equal(d.code, EW_ERR_OVERRUN);
    assert_int_equal(d.offset, 7);
    assert_non_null(strstr(d.what, "container"));
    /* The parent level itself is intact: the next top-level value is at 16. */
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
    assert_int_equal(v.offset, 16);
    assert_int_equal(v.tag, 0x0380000D);
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 0);

    /* Child header cut by the container end (container of 3 bytes). */
    p = buf;
    p += put_tlv(p, 0x03840000, EW_RSCP_TYPE_CONTAINER, "\x01\x00\x80", 3);
    p += put_tlv(p, 0x0380000D, EW_RSCP_TYPE_UCHAR8, "\x01", 1);
    n = (size_t)(p - buf);
    expect_fault(buf, n, 0, EW_ERR_OVERRUN, 7);
    /* A container exactly filled by its child: fine. */
    p = buf;
    p += put_hdr(p, 0x03840000, EW_RSCP_TYPE_CONTAINER, 11);
    p += put_tlv(p, 0x03800001, EW_RSCP_TYPE_FLOAT32, "\x00\x00\x9a\x42", 4);
    p += put_tlv(p, 0x0380000D, EW_RSCP_TYPE_UCHAR8, "\x01", 1);
    n = (size_t)(p - buf);
    assert_int_equal(ew_rscp_validate(buf, n, 0, NULL), 3);

    /* Two levels: A{ UChar8, B{ Int32 that overruns B } }, offset of the
     * Int32 header from the area start. */
    p = buf;
    p += put_tlv(p, 0x03840000, EW_RSCP_TYPE_CONTAINER, NULL, 0);
    p += put_tlv(p, 0x03040001, EW_RSCP_TYPE_UINT16, "\x00\x00", 2);
    uint8_t *bhdr = p;
    p += put_tlv(p, 0x03860000, EW_RSCP_TYPE_CONTAINER, NULL, 0);
    p += put_tlv(p, 0x01800001, EW_RSCP_TYPE_INT32, "\x01\x02\x03\x04", 4);
    n = (size_t)(p - buf);
    buf[5] = (uint8_t)(n - 7);
    bhdr[5] = 10; /* B claims 10 bytes, its child needs 11 */
    expect_fault(buf, n, 0, EW_ERR_OVERRUN, 23);
    bhdr[5] = 11;
    assert_int_equal(ew_rscp_validate(buf, n, 0, NULL), 4);
    /* B claims more than A holds: B's header (offset 16) overruns A. */
    bhdr[5] = 12;
    expect_fault(buf, n, 0, EW_ERR_OVERRUN, 16);
}

/* ---- depth ----------------------------------------------------------------- */

/* |n| containers nested in each other, the innermost empty. */
static uint8_t *nested(unsigned n, size_t *len) {
    *len = 7 * (size_t)n;
    uint8_t *p = malloc(*len ? *len : 1);
    assert_non_null(p);
    for (unsigned i = 0; i < n; i++) {
        size_t inner = 7 * (size_t)(n - 1 - i);
        put_tlv(p + 7 * i, 0x7F000000u + i, EW_RSCP_TYPE_CONTAINER, NULL, 0);
        p[7 * i + 5] = (uint8_t)inner;
        p[7 * i + 6] = (uint8_t)(inner >> 8);
    }
    return p;
}

static void test_depth(void **state) {
    (void)state;
    size_t len;
    uint8_t *p;
    static const struct {
        unsigned max_depth, ok_levels;
    } limits[] = {{0, EW_RSCP_DEFAULT_MAX_DEPTH}, {1, 1}, {3, 3}, {16, 16}, {64, 64}, {1000, 64}};
    for (size_t k = 0; k < sizeof limits / sizeof limits[0]; k++) {
        unsigned ok = limits[k].ok_levels;
        p = nested(ok, &len);
        ew_diag d = {0};
        assert_int_equal(ew_rscp_validate(p, len, limits[k].max_depth, &d), (int)ok);
        free(p);
        p = nested(ok + 1, &len);
        expect_fault(p, len, limits[k].max_depth, EW_ERR_DEPTH, 7 * (size_t)ok);
        free(p);
    }

    /* iter_enter refuses the level beyond max_depth. */
    p = nested(5, &len);
    ew_rscp_iter it[4];
    ew_rscp_value v;
    ew_diag d = {0};
    ew_rscp_iter_init(&it[0], p, len, 2);
    assert_int_equal(ew_rscp_iter_next(&it[0], &v, &d), 1);
    assert_int_equal(ew_rscp_iter_enter(&it[0], &v, &it[1], &d), EW_OK);
    assert_int_equal(ew_rscp_iter_next(&it[1], &v, &d), 1);
    assert_int_equal(v.depth, 1);
    assert_int_equal(v.offset, 7);
    assert_int_equal(ew_rscp_iter_enter(&it[1], &v, &it[2], &d), EW_OK);
    assert_int_equal(ew_rscp_iter_next(&it[2], &v, &d), 1);
    assert_int_equal(v.depth, 2);
    assert_int_equal(v.offset, 14);
    assert_int_equal(ew_rscp_iter_enter(&it[2], &v, &it[3], &d), EW_ERR_DEPTH);
    assert_int_equal(d.code, EW_ERR_DEPTH);
    assert_int_equal(d.offset, 14);
    free(p);

    /* iter_enter on something that is not a container. */
    uint8_t buf[16];
    size_t n = put_tlv(buf, 0x01800008, EW_RSCP_TYPE_UCHAR8, "\x4d", 1);
    ew_rscp_iter_init(&it[0], buf, n, 0);
    assert_int_equal(ew_rscp_iter_next(&it[0], &v, &d), 1);
    assert_int_equal(ew_rscp_iter_enter(&it[0], &v, &it[1], &d), EW_ERR_INVAL);
    assert_int_equal(d.code, EW_ERR_INVAL);
    assert_int_equal(d.offset, 0);
}

/* ---- builder errors -------------------------------------------------------- */

static void test_builder_state(void **state) {
    (void)state;
    uint8_t buf[256];
    ew_rscp_builder b;
    size_t w = 0;
    ew_rscp_timestamp ts = {1700000000, 0};

    /* _close without an open container: EW_ERR_STATE, sticky. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_close(&b), EW_ERR_STATE);
    assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), EW_ERR_STATE);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_STATE);

    /* _finish with a container still open. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_open(&b, 0x01000030), EW_OK);
    assert_int_equal(ew_rscp_builder_add_uchar8(&b, 0x01000031, 3), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_STATE);
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_open(&b, 0x01000030), EW_OK);
    assert_int_equal(ew_rscp_builder_open(&b, 0x01000031), EW_OK);
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_STATE);

    /* Frame builder: _finish refuses, _finish_frame with an open container
     * refuses; bare builder: _finish_frame refuses. */
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_STATE);
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_open(&b, 0x01000030), EW_OK);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_ERR_STATE);
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), EW_OK);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_ERR_STATE);

    /* Nesting deeper than EW_RSCP_BUILDER_MAX_DEPTH. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    for (int i = 0; i < EW_RSCP_BUILDER_MAX_DEPTH; i++)
        assert_int_equal(ew_rscp_builder_open(&b, 0x7F000000u + (uint32_t)i), EW_OK);
    assert_int_equal(ew_rscp_builder_open(&b, 0x7F0000FF), EW_ERR_DEPTH);
    assert_int_equal(ew_rscp_builder_close(&b), EW_ERR_DEPTH);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_DEPTH);
    /* 32 levels close fine and validate with that limit. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    for (int i = 0; i < EW_RSCP_BUILDER_MAX_DEPTH; i++)
        assert_int_equal(ew_rscp_builder_open(&b, 0x7F000000u + (uint32_t)i), EW_OK);
    for (int i = 0; i < EW_RSCP_BUILDER_MAX_DEPTH; i++)
        assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_OK);
    assert_int_equal(w, 7 * EW_RSCP_BUILDER_MAX_DEPTH);
    size_t len;
    uint8_t *ref = nested(EW_RSCP_BUILDER_MAX_DEPTH, &len);
    assert_int_equal(len, w);
    assert_memory_equal(buf, ref, len);
    free(ref);
    assert_int_equal(ew_rscp_validate(buf, w, 32, NULL), 32);

    /* NULL data with a length, NULL string. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_raw(&b, 0x01, 0x10, NULL, 5), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_INVAL);
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_string(&b, 0x0A800001, NULL), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_INVAL);
    /* NULL data with length 0 is an empty value. */
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_raw(&b, 0x0A800001, EW_RSCP_TYPE_CSTRING, NULL, 0), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_OK);
    assert_int_equal(w, 7);
    assert_memory_equal(buf, "\x01\x00\x80\x0a\x0d\x00\x00", 7);
}

static void test_builder_too_big(void **state) {
    (void)state;
    uint8_t *big = calloc(1, 100000);
    assert_non_null(big);
    ew_rscp_builder b;
    size_t w = 0;
    ew_rscp_timestamp ts = {1700000000, 0};

    /* A value of 65536 bytes: EW_ERR_TOO_BIG, sticky (also when measuring). */
    ew_rscp_builder_init(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 65536), EW_ERR_TOO_BIG);
    assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), EW_ERR_TOO_BIG);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_TOO_BIG);
    ew_rscp_builder_init(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_add_cstring(&b, 0x0A800001, (const char *)big, 100000),
                     EW_ERR_TOO_BIG);

    /* 65535 bytes is the largest value. */
    ew_rscp_builder_init(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 65535), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_NOBUF);
    assert_int_equal(w, 65535 + 7);

    /* A container whose children exceed 65535 bytes. */
    ew_rscp_builder_init(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_open(&b, 0x03840000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 40000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 25529), EW_OK);
    assert_int_equal(ew_rscp_builder_close(&b), EW_ERR_TOO_BIG);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_TOO_BIG);
    /* One byte less fits exactly (children 40007 + 25528 = 65535). */
    ew_rscp_builder_init(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_open(&b, 0x03840000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 40000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 25521), EW_OK);
    assert_int_equal(ew_rscp_builder_close(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &w), EW_ERR_NOBUF);
    assert_int_equal(w, 7 + 65535);

    /* A frame whose value area exceeds 65535 bytes. */
    ew_rscp_builder_init_frame(&b, NULL, 0);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 40000), EW_OK);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 30000), EW_OK);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_ERR_TOO_BIG);

    /* The largest frame: one value of 65528 bytes, 65557 bytes with CRC. */
    uint8_t *frame = malloc(EW_RSCP_FRAME_MAX);
    assert_non_null(frame);
    for (size_t k = 0; k < 65528; k++)
        big[k] = (uint8_t)(k * 7);
    ew_rscp_builder_init_frame(&b, frame, EW_RSCP_FRAME_MAX);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 65528), EW_OK);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_OK);
    assert_int_equal(w, EW_RSCP_FRAME_MAX);
    ew_rscp_frame f;
    ew_diag d = {0};
    assert_int_equal(ew_rscp_frame_decode(frame, w, &f, EW_RSCP_DECODE_VALIDATE, &d),
                     EW_RSCP_FRAME_MAX);
    assert_int_equal(f.data_len, 65535);
    ew_rscp_value v[2];
    first_value(f.data, f.data_len, v);
    assert_int_equal(v->len, 65528);
    assert_memory_equal(v->data, big, 65528);
    /* One byte more does not fit a frame. */
    ew_rscp_builder_init_frame(&b, frame, EW_RSCP_FRAME_MAX);
    assert_int_equal(ew_rscp_builder_add_bytes(&b, 0x0E042010, big, 65529), EW_OK);
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &w), EW_ERR_TOO_BIG);
    free(frame);
    free(big);
}

/* Builds one value with ew_rscp_builder_add_int and compares the bytes. */
static void add_int_case(uint32_t tag, int64_t value, int want_rc, const char *want_hex) {
    uint8_t buf[32];
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_builder_add_int(&b, tag, value), want_rc);
    size_t w = 0;
    int rc = ew_rscp_builder_finish(&b, &w);
    if (want_rc < 0) {
        /* The error is sticky. */
        assert_int_equal(rc, want_rc);
        assert_int_equal(ew_rscp_builder_add_none(&b, 0x01000001), want_rc);
        return;
    }
    assert_int_equal(rc, EW_OK);
    char *hex = tu_hex(buf, w);
    assert_string_equal(hex, want_hex);
    free(hex);
}

static void expect_declared(uint32_t tag, int type) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    assert_non_null(t);
    assert_int_equal(t->type, type);
}

static void test_builder_add_int(void **state) {
    (void)state;
    /* UInt16: BAT_INDEX (tlv_types.json: 513). */
    expect_declared(0x03040001, EW_RSCP_TYPE_UINT16);
    add_int_case(0x03040001, 513, EW_OK, "010004030502000102");
    add_int_case(0x03040001, 0, EW_OK, "010004030502000000");
    add_int_case(0x03040001, 65535, EW_OK, "01000403050200ffff");
    add_int_case(0x03040001, 65536, EW_ERR_RANGE, NULL);
    add_int_case(0x03040001, -1, EW_ERR_RANGE, NULL);
    /* Int32: EMS_REQ_SET_POWER_VALUE (frames_plain.json: 2000). */
    expect_declared(0x01000032, EW_RSCP_TYPE_INT32);
    add_int_case(0x01000032, 2000, EW_OK, "32000001060400d0070000");
    add_int_case(0x01000032, INT32_MIN, EW_OK, "3200000106040000000080");
    add_int_case(0x01000032, INT32_MAX, EW_OK, "32000001060400ffffff7f");
    add_int_case(0x01000032, (int64_t)INT32_MAX + 1, EW_ERR_RANGE, NULL);
    add_int_case(0x01000032, (int64_t)INT32_MIN - 1, EW_ERR_RANGE, NULL);
    /* UChar8: EMS_REQ_SET_POWER_MODE. */
    expect_declared(0x01000031, EW_RSCP_TYPE_UCHAR8);
    add_int_case(0x01000031, 3, EW_OK,
                 "31000001030100"
                 "03");
    add_int_case(0x01000031, 256, EW_ERR_RANGE, NULL);
    add_int_case(0x01000031, -1, EW_ERR_RANGE, NULL);
    /* Int16: EMS_PARAM_INDEX (tlv_types.json: -2). */
    expect_declared(0x01040016, EW_RSCP_TYPE_INT16);
    add_int_case(0x01040016, -2, EW_OK, "16000401040200feff");
    add_int_case(0x01040016, 32768, EW_ERR_RANGE, NULL);
    add_int_case(0x01040016, -32769, EW_ERR_RANGE, NULL);
    /* Char8: EMS_RES_POWERSAVE_ENABLED (tlv_types.json: -1). */
    expect_declared(0x01800104, EW_RSCP_TYPE_CHAR8);
    add_int_case(0x01800104, -1, EW_OK, "04018001020100ff");
    add_int_case(0x01800104, 128, EW_ERR_RANGE, NULL);
    add_int_case(0x01800104, -129, EW_ERR_RANGE, NULL);
    /* UInt32: EMS_MAX_CHARGE_POWER (tlv_types.json: 4500). */
    expect_declared(0x01000101, EW_RSCP_TYPE_UINT32);
    add_int_case(0x01000101, 4500, EW_OK, "0101000107040094110000");
    add_int_case(0x01000101, 4294967295ll, EW_OK, "01010001070400ffffffff");
    add_int_case(0x01000101, 4294967296ll, EW_ERR_RANGE, NULL);
    add_int_case(0x01000101, -1, EW_ERR_RANGE, NULL);
    /* Bool: EMS_POWER_LIMITS_USED. */
    expect_declared(0x01000100, EW_RSCP_TYPE_BOOL);
    add_int_case(0x01000100, 1, EW_OK, "0001000101010001");
    add_int_case(0x01000100, 0, EW_OK, "0001000101010000");
    add_int_case(0x01000100, 2, EW_ERR_RANGE, NULL);
    add_int_case(0x01000100, -1, EW_ERR_RANGE, NULL);
    /* Int64: EMS_MANUAL_CHARGE_START_COUNTER (tlv_types.json: -5). */
    expect_declared(0x01000150, EW_RSCP_TYPE_INT64);
    add_int_case(0x01000150, -5, EW_OK, "50010001080800fbffffffffffffff");
    add_int_case(0x01000150, INT64_MIN, EW_OK, "500100010808000000000000000080");
    /* UInt64: EMS_DERATE_UNTIL_TIMESTAMP_MS. */
    expect_declared(0x0140027D, EW_RSCP_TYPE_UINT64);
    add_int_case(0x0140027D, 1700000000, EW_OK,
                 "7d024001090800"
                 "00f1536500000000");
    add_int_case(0x0140027D, -1, EW_ERR_RANGE, NULL);
    /* Floating types take the number as a float / double. */
    expect_declared(0x01000152, EW_RSCP_TYPE_DOUBLE64);
    add_int_case(0x01000152, 1234, EW_OK,
                 "520100010b0800"
                 "0000000000489340");
    expect_declared(0x01800006, EW_RSCP_TYPE_FLOAT32);
    add_int_case(0x01800006, 85, EW_OK,
                 "060080010a0400"
                 "0000aa42");
    /* No declared type: Int32 when it fits, else Int64. */
    assert_null(ew_rscp_tag_by_id(0x7F000001));
    add_int_case(0x7F000001, 5, EW_OK,
                 "0100007f060400"
                 "05000000");
    add_int_case(0x7F000001, INT32_MIN, EW_OK,
                 "0100007f060400"
                 "00000080");
    add_int_case(0x7F000001, (int64_t)1 << 40, EW_OK,
                 "0100007f080800"
                 "0000000000010000");
    add_int_case(0x7F000001, (int64_t)INT32_MIN - 1, EW_OK,
                 "0100007f080800"
                 "ffffff7fffffffff");
    expect_declared(0xF800B009, -1); /* SERVER_PASSWD: the table gives no type */
    add_int_case(0xF800B009, 7, EW_OK,
                 "09b000f8060400"
                 "07000000");
    /* Declared non-numeric types refuse integers. */
    add_int_case(0x0A800001, 1, EW_ERR_INVAL, NULL); /* CString */
    add_int_case(0x03840000, 1, EW_ERR_INVAL, NULL); /* Container */
    add_int_case(0x0A80000F, 1, EW_ERR_INVAL, NULL); /* Timestamp */
    add_int_case(0x01000001, 1, EW_ERR_INVAL, NULL); /* None */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlv_vectors),     cmocka_unit_test(test_getters),
        cmocka_unit_test(test_raw_values),      cmocka_unit_test(test_iter_overrun),
        cmocka_unit_test(test_depth),           cmocka_unit_test(test_builder_state),
        cmocka_unit_test(test_builder_too_big), cmocka_unit_test(test_builder_add_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
