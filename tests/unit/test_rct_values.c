/*
 * RCT values: tests/vectors/rct/values.json (encode and decode for every
 * type), timeseries.json and event_table.json (request frame, response frame
 * through the receiver, decoded points/entries), truncated payloads for every
 * type, round trips at the range edges, and formatting.
 */
#include <stdlib.h>
#include <string.h>

#include <energywire/rct.h>

#include <math.h>

#include "testutil.h"

static uint32_t ew_rct_be32_test(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t rbuf[EW_RCT_FRAME_MAX];

static int type_of(const json_t *c) {
    int t = ew_rct_type_from_name(tu_str(c, "type"), strlen(tu_str(c, "type")));
    assert_true(t >= 0);
    assert_int_equal(t, (int)tu_int(c, "type_code"));
    return t;
}

static uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* A vector float {"number", "repr", "f32_hex" | "special"} against |bits|. */
static void check_float(const json_t *want, uint32_t bits, double widened) {
    json_t *hex = json_object_get(want, "f32_hex");
    const char *special = json_string_value(json_object_get(want, "special"));
    if (json_is_string(hex)) {
        assert_int_equal(bits, tu_hex32(json_string_value(hex)));
        assert_true(widened == json_number_value(json_object_get(want, "number")));
    } else {
        assert_non_null(special);
        if (strcmp(special, "nan") == 0)
            assert_true(widened != widened);
        else
            assert_true(widened == (special[0] == '-' ? -1.0 : 1.0) * (double)INFINITY);
    }
    /* Our text is rctclient's repr (rct.md §7 notes). */
    uint8_t p[4] = {(uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                    (uint8_t)bits};
    char txt[64];
    ew_rct_value_format(EW_RCT_TYPE_FLOAT, p, 4, 0, txt, sizeof txt, NULL);
    assert_string_equal(txt, tu_str(want, "repr"));
}

static void test_encode_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/values.json");
    json_t *cases = json_object_get(root, "encode"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        int t = type_of(c);
        json_t *in = json_object_get(c, "input");
        json_t *err = json_object_get(c, "error");
        uint8_t out[64];
        size_t n = 0;
        int rc;
        if (json_is_boolean(in) || json_is_integer(in)) {
            long long v = json_is_boolean(in) ? json_is_true(in) : json_integer_value(in);
            rc = t == EW_RCT_TYPE_STRING ? EW_ERR_INVAL
                                         : ew_rct_value_encode_int(t, v, out, sizeof out, &n);
        } else if (json_is_object(in) && json_object_get(in, "bytes_hex")) {
            size_t bl;
            uint8_t *b = tu_unhex(tu_str(in, "bytes_hex"), &bl);
            rc = ew_rct_value_encode_string(b, bl, out, sizeof out, &n);
            free(b);
        } else if (json_is_object(in)) {
            const char *special = json_string_value(json_object_get(in, "special"));
            double v = special ? (strcmp(special, "nan") == 0 ? (double)NAN
                                  : special[0] == '-'         ? -(double)INFINITY
                                                              : (double)INFINITY)
                               : json_number_value(json_object_get(in, "number"));
            rc = ew_rct_value_encode_double(t, v, out, sizeof out, &n);
        } else {
            const char *s = json_string_value(in);
            assert_non_null(s);
            rc = ew_rct_value_encode_string(s, strlen(s), out, sizeof out, &n);
        }
        if (!err) {
            assert_int_equal(rc, EW_OK);
            char *got = tu_hex(out, n);
            assert_string_equal(got, tu_str(c, "output_hex"));
            free(got);
            continue;
        }
        const char *et = tu_str(err, "type");
        if (strcmp(et, "struct.error") == 0) {
            long long v = json_integer_value(in);
            if (t == EW_RCT_TYPE_UINT8 || t == EW_RCT_TYPE_ENUM || t == EW_RCT_TYPE_UINT16 ||
                t == EW_RCT_TYPE_UINT32) {
                /* rct.md §11 Q8: the upper half of the unsigned range is
                 * valid for us; the bytes are the plain big-endian number. */
                assert_int_equal(rc, EW_OK);
                int sz = ew_rct_type_fixed_size(t);
                assert_int_equal(n, (size_t)sz);
                unsigned long long back = 0;
                for (size_t k = 0; k < n; k++)
                    back = back << 8 | out[k];
                assert_int_equal(back, (unsigned long long)v);
            } else {
                assert_int_equal(rc, EW_ERR_RANGE); /* INT8 128, INT16 32768, INT32 2^31 */
            }
        } else if (strcmp(et, "OverflowError") == 0) {
            assert_int_equal(rc, EW_ERR_RANGE);
        } else {
            /* KeyError (types rctclient cannot encode), ValueError (STRING
             * from a number): not encodable. */
            assert_int_equal(rc, EW_ERR_INVAL);
        }
    }
    json_decref(root);
}

static void test_decode_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/values.json");
    json_t *cases = json_object_get(root, "decode"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        int t = type_of(c);
        size_t n;
        uint8_t *p = tu_unhex(tu_str(c, "input_hex"), &n);
        ew_rct_value v;
        ew_diag d = {0};
        int rc = ew_rct_value_decode(t, p, n, &v, &d);
        json_t *err = json_object_get(c, "error");
        json_t *res = json_object_get(c, "result");
        if (err) {
            const char *et = tu_str(err, "type");
            if (strcmp(et, "KeyError") == 0) {
                /* UNKNOWN: rctclient cannot decode; we give raw bytes and
                 * the CLI-style "0x<hex>" text (rct.md §7, §13.1). */
                assert_int_equal(rc, EW_OK);
                assert_int_equal(v.raw.len, n);
                char txt[64];
                ew_rct_value_format(t, p, n, 0, txt, sizeof txt, NULL);
                assert_string_equal(txt, "0x00");
            } else if (strcmp(et, "UnicodeDecodeError") == 0) {
                /* rct.md §11 Q9: our STRING is the raw bytes before NUL. */
                assert_int_equal(rc, EW_OK);
                assert_int_equal(v.bytes.len, n);
                char txt[64];
                ew_rct_value_format(t, p, n, EW_RCT_FMT_JSON, txt, sizeof txt, NULL);
                assert_string_equal(txt, "\"\xc3\xa4\"");
            } else {
                /* struct.error / ValueError: wrong size for the type. */
                int fs = ew_rct_type_fixed_size(t);
                assert_true(fs > 0);
                assert_int_equal(rc, (int)n < fs ? EW_ERR_TRUNCATED : EW_ERR_TOO_BIG);
                assert_int_equal(d.code, rc);
                assert_int_equal(d.offset, (int)n < fs ? n : (size_t)fs);
            }
            free(p);
            continue;
        }
        assert_int_equal(rc, EW_OK);
        const char *kind = tu_str(res, "kind");
        if (strcmp(kind, "bool") == 0) {
            assert_int_equal(v.i, json_is_true(json_object_get(res, "value")));
        } else if (strcmp(kind, "int") == 0) {
            assert_int_equal(v.i, tu_int(res, "value"));
        } else if (strcmp(kind, "float") == 0) {
            check_float(res, v.bits, v.f);
        } else if (strcmp(kind, "str") == 0) {
            const char *s = tu_str(res, "value");
            assert_int_equal(v.bytes.len, strlen(s));
            assert_memory_equal(v.bytes.ptr, s, strlen(s));
        } else if (strcmp(kind, "timeseries") == 0 || strcmp(kind, "event_table") == 0) {
            assert_int_equal(v.ts, ew_rct_be32_test(p));
        } else if (strcmp(kind, "battery_module_status") == 0) {
            ew_rct_bat_cell cells[EW_RCT_BAT_CELLS];
            assert_int_equal(ew_rct_bat_status_decode(p, n, cells, NULL), EW_OK);
            json_t *jc = json_object_get(res, "cells"), *e;
            size_t k;
            assert_int_equal(json_array_size(jc), EW_RCT_BAT_CELLS);
            json_array_foreach(jc, k, e) {
                assert_int_equal(cells[k].temperature_c, tu_int(e, "temperature_c"));
                assert_int_equal(cells[k].voltage_mv, tu_int(e, "voltage_mv"));
                assert_int_equal(cells[k].status, tu_int(e, "status"));
            }
        } else if (strcmp(kind, "battery_module_statistics") == 0) {
            ew_rct_bat_stats st;
            assert_int_equal(ew_rct_bat_stats_decode(p, n, &st, NULL), EW_OK);
            const ew_rct_bat_extreme *e[4] = {&st.u_min, &st.u_max, &st.t_min, &st.t_max};
            static const char *const names[4] = {"u_min", "u_max", "t_min", "t_max"};
            for (int k = 0; k < 4; k++) {
                json_t *je = json_object_get(res, names[k]);
                json_t *ts = json_object_get(je, "timestamp");
                assert_int_equal(e[k]->cell, tu_int(je, "cell"));
                assert_int_equal(e[k]->timestamp, json_is_null(ts) ? 0 : tu_int(ts, "epoch"));
                check_float(json_object_get(je, "value"), f32_bits(e[k]->value),
                            (double)e[k]->value);
            }
        } else if (strcmp(kind, "battery_module_resistance") == 0) {
            uint16_t raw[EW_RCT_BAT_CELLS];
            assert_int_equal(ew_rct_bat_resist_decode(p, n, raw, NULL), EW_OK);
            json_t *jc = json_object_get(res, "cells"), *e;
            size_t k;
            json_array_foreach(jc, k, e) {
                assert_int_equal(raw[k], tu_int(e, "raw_value"));
                assert_true(raw[k] / 256.0 ==
                            json_number_value(
                                json_object_get(json_object_get(e, "resistance_mohm"), "number")));
            }
        } else {
            fail_msg("unknown kind %s", kind);
        }
        /* Every decoded vector value re-encodes to its input, except STRING
         * (cut at the NUL) and the zero-copy composites (raw). */
        uint8_t out[128];
        size_t w;
        assert_int_equal(ew_rct_value_encode(&v, out, sizeof out, &w), EW_OK);
        if (t == EW_RCT_TYPE_STRING) {
            assert_int_equal(w, v.bytes.len);
        } else if (t == EW_RCT_TYPE_BOOL) {
            assert_int_equal(out[0], p[0] != 0);
        } else {
            assert_int_equal(w, n);
            assert_memory_equal(out, p, n);
        }
        free(p);
    }
    json_decref(root);
}

/* rctclient's dict semantics for comparison (rct.md §11 Q11): a later
 * duplicate key replaces the value in place. */
typedef struct kv {
    uint32_t key;
    size_t idx;
} kv;

static size_t collapse(const uint32_t *keys, size_t n, size_t *order) {
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        size_t j = 0;
        while (j < m && keys[order[j]] != keys[k])
            j++;
        if (j < m)
            order[j] = k;
        else
            order[m++] = k;
    }
    return m;
}

/* Receives |wire_hex| as one frame and checks the vector's frame fields. */
static ew_rct_frame receive(const json_t *result, const char *wire_hex) {
    size_t n, used;
    uint8_t *wire = tu_unhex(wire_hex, &n);
    static uint8_t keep[EW_RCT_WIRE_MAX];
    memcpy(keep, wire, n);
    free(wire);
    ew_rct_rx rx;
    ew_rct_frame f;
    assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
    assert_int_equal(ew_rct_rx_feed(&rx, keep, n, &used, &f, NULL), EW_OK);
    assert_int_equal(used, (size_t)tu_int(result, "consumed"));
    json_t *fr = json_object_get(result, "frame");
    char *data = tu_hex(f.payload.ptr, f.payload.len);
    assert_string_equal(data, tu_str(fr, "data_hex"));
    free(data);
    assert_int_equal(f.id, (uint32_t)tu_int(fr, "id"));
    return f;
}

static void check_request(const json_t *c) {
    json_t *req = json_object_get(c, "request");
    uint8_t out[64], p[4];
    size_t n, pn;
    uint32_t oid = tu_hex32(tu_str(c, "oid"));
    assert_int_equal(ew_rct_value_encode_int(EW_RCT_TYPE_INT32, tu_int(req, "query_timestamp"), p,
                                             sizeof p, &pn),
                     EW_OK);
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_WRITE, 0, oid, p, pn, &n),
                     EW_OK);
    char *got = tu_hex(out, n);
    assert_string_equal(got, tu_str(req, "wire_hex"));
    free(got);
    /* The registry knows the OID: request INT32, response per file. */
    const ew_rct_object *o = ew_rct_object_by_id(oid);
    assert_non_null(o);
    assert_string_equal(o->name, tu_str(c, "oid_name"));
    assert_int_equal(o->request_type, EW_RCT_TYPE_INT32);
}

static void test_timeseries_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/timeseries.json");
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        json_t *result = json_object_get(c, "result");
        check_request(c);
        ew_rct_frame f = receive(result, tu_str(json_object_get(c, "response"), "wire_hex"));
        assert_int_equal(ew_rct_type_for(f.id, f.command), EW_RCT_TYPE_TIMESERIES);
        ew_rct_ts_iter it;
        ew_diag d = {0};
        int rc = ew_rct_ts_init(&it, f.payload.ptr, f.payload.len, &d);
        json_t *derr = json_object_get(result, "decode_error");
        if (derr) {
            /* rct.md §11 Q12: an explicit length error, not an assertion. */
            assert_int_equal(rc, EW_ERR_TRUNCATED);
            assert_int_equal(d.offset, 4 + (f.payload.len - 4) / 8 * 8);
            ew_rct_value v;
            assert_int_equal(
                ew_rct_value_decode(EW_RCT_TYPE_TIMESERIES, f.payload.ptr, f.payload.len, &v, NULL),
                EW_ERR_TRUNCATED);
            continue;
        }
        assert_int_equal(rc, EW_OK);
        json_t *dec = json_object_get(result, "decoded");
        assert_int_equal(it.query_ts, tu_int(json_object_get(dec, "first_element"), "epoch"));
        static uint32_t keys[2000];
        static float vals[2000];
        static size_t order[2000];
        size_t n = 0;
        ew_rct_ts_point pt;
        while (ew_rct_ts_next(&it, &pt)) {
            keys[n] = pt.timestamp;
            vals[n++] = pt.value;
        }
        assert_int_equal(n, it.count);
        assert_int_equal(n, (f.payload.len - 4) / 8); /* every point, in wire order */
        size_t m = collapse(keys, n, order);
        json_t *pts = json_object_get(dec, "points"), *e;
        size_t k;
        assert_int_equal(json_array_size(pts), m);
        json_array_foreach(pts, k, e) {
            assert_int_equal(keys[order[k]], tu_int(json_object_get(e, "timestamp"), "epoch"));
            check_float(json_object_get(e, "value"), f32_bits(vals[order[k]]),
                        (double)vals[order[k]]);
        }
    }
    json_decref(root);
}

static void test_event_table_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/event_table.json");
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        json_t *result = json_object_get(c, "result");
        check_request(c);
        ew_rct_frame f = receive(result, tu_str(json_object_get(c, "response"), "wire_hex"));
        assert_int_equal(ew_rct_type_for(f.id, f.command), EW_RCT_TYPE_EVENT_TABLE);
        ew_rct_event_iter it;
        ew_diag d = {0};
        int rc = ew_rct_events_init(&it, f.payload.ptr, f.payload.len, &d);
        json_t *derr = json_object_get(result, "decode_error");
        if (derr && strcmp(tu_str(derr, "type"), "ValueError") == 0) {
            /* "entry type > 255": we report the type as it is (rct.md §8.2
             * says only the low byte has been seen; refusing gains nothing). */
            ew_rct_event ev;
            assert_int_equal(rc, EW_OK);
            assert_int_equal(ew_rct_events_next(&it, &ev), 1);
            assert_int_equal(ev.type, 256);
            continue;
        }
        if (derr) {
            assert_int_equal(rc, EW_ERR_TRUNCATED);
            assert_int_equal(d.offset, 4 + (f.payload.len - 4) / 20 * 20);
            continue;
        }
        assert_int_equal(rc, EW_OK);
        /* rct.md §11 Q10: we return the echoed T, not rctclient's
         * first_element (the last entry's time). */
        assert_int_equal(it.query_ts, 1600000000u);
        static ew_rct_event evs[64];
        static uint32_t keys[64];
        static size_t order[64];
        size_t n = 0;
        while (n < 64 && ew_rct_events_next(&it, &evs[n])) {
            keys[n] = evs[n].timestamp;
            n++;
        }
        assert_int_equal(n, it.count);
        size_t m = collapse(keys, n, order);
        json_t *ents = json_object_get(json_object_get(result, "decoded"), "entries"), *e;
        size_t k;
        assert_int_equal(json_array_size(ents), m);
        json_array_foreach(ents, k, e) {
            const ew_rct_event *ev = &evs[order[k]];
            assert_int_equal(ev->type, tu_int(e, "entry_type"));
            assert_int_equal(ev->timestamp, tu_int(json_object_get(e, "timestamp"), "epoch"));
            assert_int_equal(ev->element2, tu_int(e, "element2"));
            assert_int_equal(ev->element3, tu_int(e, "element3"));
            assert_int_equal(ev->element4, tu_int(e, "element4"));
        }
    }
    json_decref(root);
}

/* Every type, every length shorter than the type needs: an error with the
 * offset, never a crash (ASan checks the reads). */
static void test_truncated_every_type(void **state) {
    (void)state;
    static const int all[] = {EW_RCT_TYPE_BOOL,
                              EW_RCT_TYPE_UINT8,
                              EW_RCT_TYPE_INT8,
                              EW_RCT_TYPE_UINT16,
                              EW_RCT_TYPE_INT16,
                              EW_RCT_TYPE_UINT32,
                              EW_RCT_TYPE_INT32,
                              EW_RCT_TYPE_ENUM,
                              EW_RCT_TYPE_FLOAT,
                              EW_RCT_TYPE_BATTERY_MODULE_STATUS,
                              EW_RCT_TYPE_BATTERY_MODULE_STATISTICS,
                              EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        int fs = ew_rct_type_fixed_size(all[k]);
        assert_true(fs > 0);
        for (int n = 0; n < fs; n++) {
            /* Exactly |n| heap bytes, so any over-read is an ASan error. */
            uint8_t *p = n ? malloc((size_t)n) : NULL;
            if (n)
                memset(p, 0xA5, (size_t)n);
            ew_rct_value v;
            ew_diag d = {0};
            assert_int_equal(ew_rct_value_decode(all[k], p, (size_t)n, &v, &d), EW_ERR_TRUNCATED);
            assert_int_equal(d.offset, (size_t)n);
            assert_non_null(d.what);
            char txt[256];
            assert_int_equal(ew_rct_value_format(all[k], p, (size_t)n, 0, txt, sizeof txt, NULL),
                             EW_ERR_TRUNCATED);
            free(p);
        }
        uint8_t big[100] = {0};
        ew_rct_value v;
        assert_int_equal(ew_rct_value_decode(all[k], big, (size_t)fs + 1, &v, NULL),
                         EW_ERR_TOO_BIG);
    }
    ew_rct_bat_cell cells[EW_RCT_BAT_CELLS];
    ew_rct_bat_stats st;
    uint16_t raw[EW_RCT_BAT_CELLS];
    uint8_t z[96] = {0};
    assert_int_equal(ew_rct_bat_status_decode(z, 95, cells, NULL), EW_ERR_TRUNCATED);
    assert_int_equal(ew_rct_bat_stats_decode(z, 47, &st, NULL), EW_ERR_TRUNCATED);
    assert_int_equal(ew_rct_bat_resist_decode(z, 95, raw, NULL), EW_ERR_TRUNCATED);
    /* Composites: every length that is not 4 + k * record. */
    for (size_t n = 0; n < 64; n++) {
        uint8_t *p = n ? malloc(n) : NULL;
        if (n)
            memset(p, 0x11, n);
        ew_rct_ts_iter ti;
        ew_rct_event_iter ei;
        ew_diag d = {0};
        int want = (n >= 4 && (n - 4) % 8 == 0) ? EW_OK : EW_ERR_TRUNCATED;
        assert_int_equal(ew_rct_ts_init(&ti, p, n, &d), want);
        if (want)
            assert_int_equal(d.offset, n < 4 ? n : 4 + (n - 4) / 8 * 8);
        want = (n >= 4 && (n - 4) % 20 == 0) ? EW_OK : EW_ERR_TRUNCATED;
        assert_int_equal(ew_rct_events_init(&ei, p, n, &d), want);
        ew_rct_value v;
        assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_EVENT_TABLE, p, n, &v, NULL), want);
        /* STRING and UNKNOWN take any length. */
        assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_STRING, p, n, &v, NULL), EW_OK);
        assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_UNKNOWN, p, n, &v, NULL), EW_OK);
        assert_int_equal(ew_rct_value_decode(99, p, n, &v, NULL), EW_OK); /* unknown code: raw */
        assert_int_equal(v.type, EW_RCT_TYPE_UNKNOWN);
        free(p);
    }
}

/* Encode, decode, encode at the range edges of every numeric type. */
static void test_roundtrip_edges(void **state) {
    (void)state;
    struct {
        int type;
        int64_t v[6];
        size_t n;
        int64_t bad[2];
    } cases[] = {
        {EW_RCT_TYPE_BOOL, {0, 1}, 2, {0, 0}},
        {EW_RCT_TYPE_UINT8, {0, 1, 127, 128, 255}, 5, {256, -129}},
        {EW_RCT_TYPE_ENUM, {0, 127, 128, 200, 255}, 5, {256, -129}},
        {EW_RCT_TYPE_INT8, {-128, -1, 0, 127}, 4, {128, -129}},
        {EW_RCT_TYPE_UINT16, {0, 32767, 32768, 65535}, 4, {65536, -32769}},
        {EW_RCT_TYPE_INT16, {-32768, -1, 0, 32767}, 4, {32768, -32769}},
        {EW_RCT_TYPE_UINT32,
         {0, 2147483647, 2147483648ll, 4294967295ll},
         4,
         {4294967296ll, -2147483649ll}},
        {EW_RCT_TYPE_INT32, {INT32_MIN, -1, 0, INT32_MAX}, 4, {2147483648ll, -2147483649ll}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int t = cases[k].type;
        for (size_t j = 0; j < cases[k].n; j++) {
            uint8_t a[4], b[4];
            size_t na, nb;
            ew_rct_value v;
            assert_int_equal(ew_rct_value_encode_int(t, cases[k].v[j], a, sizeof a, &na), EW_OK);
            assert_int_equal(na, (size_t)ew_rct_type_fixed_size(t));
            assert_int_equal(ew_rct_value_decode(t, a, na, &v, NULL), EW_OK);
            assert_int_equal(v.i, cases[k].v[j]);
            assert_int_equal(ew_rct_value_encode(&v, b, sizeof b, &nb), EW_OK);
            assert_int_equal(nb, na);
            assert_memory_equal(a, b, na);
            /* Also through a frame. */
            uint8_t wire[32];
            size_t wn, used;
            ew_rct_rx rx;
            ew_rct_frame f;
            assert_int_equal(ew_rct_frame_encode(wire, sizeof wire, EW_RCT_CMD_RESPONSE, 0,
                                                 0x2B2D2B2Du, a, na, &wn),
                             EW_OK);
            assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
            assert_int_equal(ew_rct_rx_feed(&rx, wire, wn, &used, &f, NULL), EW_OK);
            assert_int_equal(ew_rct_value_decode(t, f.payload.ptr, f.payload.len, &v, NULL), EW_OK);
            assert_int_equal(v.i, cases[k].v[j]);
        }
        if (t != EW_RCT_TYPE_BOOL)
            for (int j = 0; j < 2; j++) {
                uint8_t a[4];
                size_t na;
                assert_int_equal(ew_rct_value_encode_int(t, cases[k].bad[j], a, sizeof a, &na),
                                 EW_ERR_RANGE);
            }
    }
    /* Negative numbers into unsigned types wrap as in rctclient. */
    uint8_t a[4];
    size_t na;
    assert_int_equal(ew_rct_value_encode_int(EW_RCT_TYPE_UINT16, -2, a, sizeof a, &na), EW_OK);
    assert_memory_equal(a, "\xff\xfe", 2);
    /* NOBUF reports the size. */
    assert_int_equal(ew_rct_value_encode_int(EW_RCT_TYPE_UINT32, 1, a, 3, &na), EW_ERR_NOBUF);
    assert_int_equal(na, 4);
    /* FLOAT edges: bits survive decode/encode, including NaN payloads. */
    static const uint32_t fb[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x7f7fffffu, 0xff7fffffu,
                                  0x7f800000u, 0xff800000u, 0x7fc00000u, 0x7fa00001u, 0x3f590f86u};
    for (size_t k = 0; k < sizeof fb / sizeof fb[0]; k++) {
        uint8_t p[4] = {(uint8_t)(fb[k] >> 24), (uint8_t)(fb[k] >> 16), (uint8_t)(fb[k] >> 8),
                        (uint8_t)fb[k]};
        uint8_t q[4];
        size_t nq;
        ew_rct_value v;
        assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_FLOAT, p, 4, &v, NULL), EW_OK);
        assert_int_equal(ew_rct_value_encode(&v, q, 4, &nq), EW_OK);
        assert_memory_equal(p, q, 4);
        if (v.f == v.f) {
            assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, v.f, q, 4, &nq), EW_OK);
            assert_memory_equal(p, q, 4);
        }
    }
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, 1e40, a, 4, &na), EW_ERR_RANGE);
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_UINT8, 255.0, a, 4, &na), EW_OK);
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_UINT8, 1.5, a, 4, &na), EW_ERR_RANGE);
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_STRING, 1.0, a, 4, &na), EW_ERR_INVAL);
    assert_int_equal(ew_rct_value_encode_int(EW_RCT_TYPE_FLOAT, 3, a, 4, &na), EW_OK);
    assert_memory_equal(a, "\x40\x40\x00\x00", 4);
    /* STRING round trip keeps bytes up to the NUL. */
    ew_rct_value v;
    static const uint8_t s[] = {'R', 'T', 0, 0xff, 'x'};
    assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_STRING, s, sizeof s, &v, NULL), EW_OK);
    assert_int_equal(v.bytes.len, 2);
    assert_int_equal(ew_rct_value_encode(&v, a, 4, &na), EW_OK);
    assert_int_equal(na, 2);
}

static void test_format(void **state) {
    (void)state;
    char out[4096];
    static const uint8_t ts[] = {0x5f, 0x5e, 0x10, 0x00, 0x5f, 0x5e, 0x0e, 0xd4, 0x3f, 0x00,
                                 0x00, 0x00, 0x5f, 0x5e, 0x0e, 0xd4, 0x7f, 0xc0, 0,    0};
    int n = ew_rct_value_format(EW_RCT_TYPE_TIMESERIES, ts, sizeof ts, 0, out, sizeof out, NULL);
    assert_string_equal(out, "T=2020-09-13T12:26:40Z; 2020-09-13T12:21:40Z=0.5, "
                             "2020-09-13T12:21:40Z=nan");
    assert_int_equal(n, (int)strlen(out));
    ew_rct_value_format(EW_RCT_TYPE_TIMESERIES, ts, sizeof ts, EW_RCT_FMT_JSON, out, sizeof out,
                        NULL);
    assert_string_equal(out, "{\"query_ts\":1600000000,\"query_time\":\"2020-09-13T12:26:40Z\","
                             "\"points\":[{\"ts\":1599999700,\"time\":\"2020-09-13T12:21:40Z\","
                             "\"value\":0.5},{\"ts\":1599999700,\"time\":\"2020-09-13T12:21:40Z\","
                             "\"value\":null}]}");
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    json_decref(j);
    static const uint8_t ev[] = {0x5f, 0x5e, 0x10, 0x00, 0, 0, 0, 0x73, 0x5f, 0x5d, 0xe8, 0xf0,
                                 0x95, 0x99, 0x30, 0xbf, 0, 0, 0, 0,    0,    0,    0,    1};
    ew_rct_value_format(EW_RCT_TYPE_EVENT_TABLE, ev, sizeof ev, 0, out, sizeof out, NULL);
    assert_string_equal(out,
                        "T=2020-09-13T12:26:40Z; 0x73 2020-09-13T09:40:00Z 0x959930bf 0x0 0x1");
    ew_rct_value_format(EW_RCT_TYPE_EVENT_TABLE, ev, sizeof ev, EW_RCT_FMT_JSON | EW_RCT_FMT_PRETTY,
                        out, sizeof out, NULL);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    json_decref(j);
    static const uint8_t b1 = 2;
    ew_rct_value_format(EW_RCT_TYPE_BOOL, &b1, 1, 0, out, sizeof out, NULL);
    assert_string_equal(out, "true");
    static const uint8_t i16[] = {0xff, 0xfe};
    ew_rct_value_format(EW_RCT_TYPE_INT16, i16, 2, EW_RCT_FMT_JSON, out, sizeof out, NULL);
    assert_string_equal(out, "-2");
    static const uint8_t str[] = {'a', '"', '\n', 0xc3, 0xa4, 0xff, 0};
    ew_rct_value_format(EW_RCT_TYPE_STRING, str, sizeof str, 0, out, sizeof out, NULL);
    assert_string_equal(out, "a\"\\x0a\xc3\xa4\\xff");
    ew_rct_value_format(EW_RCT_TYPE_STRING, str, sizeof str, EW_RCT_FMT_JSON, out, sizeof out,
                        NULL);
    j = json_loads(out, JSON_DECODE_ANY, &je);
    assert_non_null(j);
    json_decref(j);
    /* Battery types as JSON, and cut output reports the full length. */
    uint8_t bat[96] = {25, 0xf6, 0x0c, 0};
    n = ew_rct_value_format(EW_RCT_TYPE_BATTERY_MODULE_STATUS, bat, 96, 0, out, 8, NULL);
    assert_true(n > 8);
    assert_int_equal(strlen(out), 7);
    char *big = malloc((size_t)n + 1);
    ew_rct_value_format(EW_RCT_TYPE_BATTERY_MODULE_STATUS, bat, 96, 0, big, (size_t)n + 1, NULL);
    assert_non_null(
        strstr(big, "{\"cell\":0,\"temperature_c\":25,\"voltage_mv\":3318,\"status\":0}"));
    j = json_loads(big, 0, &je);
    assert_non_null(j);
    json_decref(j);
    free(big);
    static const int comp[] = {EW_RCT_TYPE_BATTERY_MODULE_STATISTICS,
                               EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE};
    for (int k = 0; k < 2; k++) {
        int sz = ew_rct_type_fixed_size(comp[k]);
        ew_rct_value_format(comp[k], bat, (size_t)sz, EW_RCT_FMT_JSON, out, sizeof out, NULL);
        j = json_loads(out, 0, &je);
        if (!j)
            fail_msg("bad JSON %s", out);
        json_decref(j);
    }
    /* Python repr corner cases. */
    struct {
        uint32_t bits;
        const char *repr;
    } fl[] = {{0x3dcccccd, "0.10000000149011612"},
              {0x49742400, "1000000.0"},
              {0x5a0e1bca, "1.0000000272564224e+16"},
              {0x38d1b717, "9.999999747378752e-05"},
              {0x3727c5ac, "9.999999747378752e-06"},
              {0x80000000, "-0.0"},
              {0xc2f60000, "-123.0"}};
    for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++) {
        uint8_t p[4] = {(uint8_t)(fl[k].bits >> 24), (uint8_t)(fl[k].bits >> 16),
                        (uint8_t)(fl[k].bits >> 8), (uint8_t)fl[k].bits};
        ew_rct_value_format(EW_RCT_TYPE_FLOAT, p, 4, 0, out, sizeof out, NULL);
        assert_string_equal(out, fl[k].repr);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_timeseries_vectors),
        cmocka_unit_test(test_event_table_vectors),
        cmocka_unit_test(test_truncated_every_type),
        cmocka_unit_test(test_roundtrip_edges),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
