/*
 * EP vectors: every case of tests/vectors/ep/spec-examples.json and
 * generated-vectors.json, checked against its `expect` (ep.md §8 policy).
 * Frames, frame prefixes and streams are also fed through the receiver
 * whole, byte by byte and split at every point (identical logs).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <energywire/ep.h>

#include "ep/ep_int.h"
#include "testutil.h"

static uint8_t rxbuf[EW_EP_PAYLOAD_MAX_DEFAULT + 64];

/* ASCII case-insensitive equality (hex strings). */
static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* ---- expected JSON vs our JSON ------------------------------------------- */

static int json_same(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x == y && signbit(x) == signbit(y);
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w)
                return 0;
            if (json_is_string(v) && json_is_string(w) &&
                (strcmp(k, "hex") == 0 || strcmp(k, "payload_hex") == 0)) {
                if (!ieq(json_string_value(v), json_string_value(w)))
                    return 0;
                continue;
            }
            if (!json_same(v, w))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static void check_message(const char *id, const ew_ep_msg *m, const json_t *want) {
    char out[8192];
    int n = ew_ep_msg_format(m, EW_EP_FMT_JSON, out, sizeof out);
    assert_true(n > 0 && (size_t)n < sizeof out);
    json_error_t err;
    json_t *got = json_loads(out, 0, &err);
    if (!got)
        fail_msg("%s: our JSON does not parse: %s: %s", id, err.text, out);
    json_t *g = json_object();
    json_object_set(g, "name", json_object_get(got, "name"));
    json_object_set(g, "fields", json_object_get(got, "fields"));
    if (json_object_get(want, "payload_hex"))
        json_object_set(g, "payload_hex", json_object_get(got, "payload_hex"));
    if (!json_same(want, g)) {
        char *w = json_dumps(want, JSON_COMPACT);
        fail_msg("%s: message\n got  %s\n want %s", id, out, w);
    }
    json_decref(g);
    json_decref(got);

    /* Encode, decode, compare: the same JSON again. */
    uint8_t enc[4096];
    size_t wn = 0;
    assert_int_equal(ew_ep_msg_encode(m, enc, sizeof enc, &wn), EW_OK);
    ew_ep_msg m2;
    int rc = ew_ep_msg_decode(m->type, enc, wn, 0, &m2, NULL);
    if (rc != EW_OK)
        fail_msg("%s: re-encoded payload does not decode (%s)", id, ew_errname(rc));
    char out2[8192];
    ew_ep_msg_format(&m2, EW_EP_FMT_JSON, out2, sizeof out2);
    json_t *a = json_loads(out, 0, NULL), *b = json_loads(out2, 0, NULL);
    json_object_del(a, "warnings");
    json_object_del(b, "warnings");
    if (!json_same(a, b))
        fail_msg("%s: round trip\n first  %s\n second %s", id, out, out2);
    json_decref(a);
    json_decref(b);
}

/* ---- value level ---------------------------------------------------------- */

static int parse_vtype(const char *s) {
    static const struct {
        const char *name;
        int vt;
    } t[] = {{"Text", EW_EP_VT_TEXT},
             {"Flag", EW_EP_VT_FLAG},
             {"Amount", EW_EP_VT_AMOUNT},
             {"Timestamp", EW_EP_VT_TIMESTAMP},
             {"Binary", EW_EP_VT_BINARY},
             {"Currency", EW_EP_VT_CURRENCY},
             {"Duration", EW_EP_VT_DURATION},
             {"Voltage", EW_EP_VT_VOLTAGE},
             {"Current", EW_EP_VT_CURRENT},
             {"Power", EW_EP_VT_POWER},
             {"Energy", EW_EP_VT_ENERGY},
             {"Percentage", EW_EP_VT_PERCENTAGE},
             {"Resistance", EW_EP_VT_RESISTANCE},
             {"PriceForecast", EW_EP_VT_PRICE_FORECAST},
             {"SourceMix", EW_EP_VT_SOURCE_MIX},
             {"EnergyMix", EW_EP_VT_ENERGY_MIX},
             {"Isolation", EW_EP_VT_ISOLATION}};
    if (strncmp(s, "Bounds(", 7) == 0) {
        char inner[32];
        size_t n = strlen(s + 7);
        assert_true(n > 1 && n < sizeof inner);
        memcpy(inner, s + 7, n - 1);
        inner[n - 1] = 0;
        return EW_EP_VT_BOUNDS_OF(parse_vtype(inner));
    }
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(s, t[i].name) == 0)
            return t[i].vt;
    fail_msg("unknown value type %s", s);
    return -1;
}

/* Vector value types for the reject cases, which carry only a reason. */
static int reject_vtype(const char *id, const uint8_t *p) {
    if (strstr(id, "flag"))
        return EW_EP_VT_FLAG;
    if (strstr(id, "text"))
        return EW_EP_VT_TEXT;
    if (strstr(id, "bounds"))
        return EW_EP_VT_BOUNDS_OF(EW_EP_VT_VOLTAGE);
    if (p[0] == 0xA1 && p[1] < 0x18)
        return p[1];
    return EW_EP_VT_VOLTAGE;
}

static void check_number(const char *id, const ew_ep_number *n, const json_t *want,
                         const char *enc) {
    double w = json_number_value(want);
    if (!(n->value == w && signbit(n->value) == signbit(w)))
        fail_msg("%s: number %.17g, want %.17g", id, n->value, w);
    if (json_is_integer(want))
        assert_true(n->is_int && n->ival == json_integer_value(want));
    if (!enc)
        return;
    static const struct {
        const char *name;
        int enc, width;
    } t[] = {{"uint-immediate", EW_EP_NUM_UINT, 0}, {"uint8", EW_EP_NUM_UINT, 1},
             {"uint16", EW_EP_NUM_UINT, 2},         {"uint32", EW_EP_NUM_UINT, 4},
             {"uint64", EW_EP_NUM_UINT, 8},         {"nint8", EW_EP_NUM_NINT, 1},
             {"half", EW_EP_NUM_HALF, 2},           {"single", EW_EP_NUM_SINGLE, 4},
             {"double", EW_EP_NUM_DOUBLE, 8}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t l = strlen(t[i].name);
        if (strncmp(enc, t[i].name, l) == 0 && (enc[l] == 0 || enc[l] == ' ')) {
            assert_int_equal(n->encoding, t[i].enc);
            assert_int_equal(n->width, t[i].width);
            return;
        }
    }
    fail_msg("%s: unknown numeric_encoding %s", id, enc);
}

static void check_value(const char *id, const ew_ep_value *v, const json_t *want, const char *enc) {
    int base = v->vtype & 0xFF;
    json_t *e;
    size_t i;
    switch (base) {
    case EW_EP_VT_TEXT:
    case EW_EP_VT_TIMESTAMP:
    case EW_EP_VT_CURRENCY:
        assert_int_equal(v->bytes.len, strlen(json_string_value(want)));
        assert_memory_equal(v->bytes.ptr, json_string_value(want), v->bytes.len);
        break;
    case EW_EP_VT_FLAG:
        assert_int_equal(v->flag, json_is_true(want));
        break;
    case EW_EP_VT_BINARY: {
        char *h = tu_hex(v->bytes.ptr, v->bytes.len);
        assert_true(ieq(h, tu_str(want, "hex")));
        free(h);
        break;
    }
    case EW_EP_VT_BOUNDS:
        check_number(id, &v->bounds.min, json_object_get(want, "min"), NULL);
        check_number(id, &v->bounds.max, json_object_get(want, "max"), NULL);
        break;
    case EW_EP_VT_PRICE_FORECAST: {
        ew_ep_iter it;
        ew_ep_price p;
        ew_ep_prices_iter(&it, &v->prices);
        assert_int_equal(v->prices.count, json_array_size(want));
        json_array_foreach(want, i, e) {
            assert_true(ew_ep_prices_next(&it, &p));
            const char *ts = tu_str(e, "timestamp"), *cur = tu_str(e, "currency");
            assert_int_equal(p.timestamp.len, strlen(ts));
            assert_memory_equal(p.timestamp.ptr, ts, p.timestamp.len);
            assert_int_equal(p.currency.len, strlen(cur));
            assert_memory_equal(p.currency.ptr, cur, p.currency.len);
            check_number(id, &p.amount, json_object_get(e, "amount"), NULL);
        }
        assert_false(ew_ep_prices_next(&it, &p));
        break;
    }
    case EW_EP_VT_SOURCE_MIX:
    case EW_EP_VT_ENERGY_MIX: {
        ew_ep_iter it;
        ew_ep_mix_entry m;
        ew_ep_mix_iter(&it, &v->mix);
        assert_int_equal(v->mix.count, json_array_size(want));
        json_array_foreach(want, i, e) {
            assert_true(ew_ep_mix_next(&it, &m));
            assert_int_equal(m.source, tu_int(e, "source"));
            assert_string_equal(ew_ep_source_name(m.source), tu_str(e, "source_name"));
            check_number(id, &m.amount,
                         json_object_get(e, base == EW_EP_VT_SOURCE_MIX ? "percent" : "wh"), NULL);
        }
        assert_false(ew_ep_mix_next(&it, &m));
        break;
    }
    case EW_EP_VT_ISOLATION:
        assert_int_equal(v->iso.state, tu_int(want, "state"));
        assert_string_equal(ew_ep_isolation_state_name(v->iso.state), tu_str(want, "state_name"));
        check_number(id, &v->iso.negative_ohms, json_object_get(want, "negative_ohms"), NULL);
        check_number(id, &v->iso.positive_ohms, json_object_get(want, "positive_ohms"), NULL);
        break;
    default:
        check_number(id, &v->num, want, enc);
        break;
    }
}

static void run_value(const char *id, const json_t *c, const json_t *ex, const char *result,
                      const uint8_t *p, size_t n) {
    ew_ep_value v, v2;
    unsigned warn = 0;
    ew_diag d = {0};
    if (strcmp(result, "accept") == 0) {
        int vt = parse_vtype(tu_str(ex, "value_type"));
        int rc = ew_ep_value_decode(vt, p, n, &v, &warn, &d);
        if (rc != (int)n)
            fail_msg("%s: value decode gave %d (%s at %zu)", id, rc, d.what, d.offset);
        check_value(id, &v, json_object_get(ex, "value"),
                    json_string_value(json_object_get(ex, "numeric_encoding")));
        assert_int_equal(warn != 0, json_array_size(json_object_get(ex, "warnings")) > 0);
        /* Round trip: our encoding decodes to the same value. */
        uint8_t enc[512];
        size_t wn = 0;
        assert_int_equal(ew_ep_value_encode(&v, enc, sizeof enc, &wn), EW_OK);
        assert_int_equal(ew_ep_value_decode(vt, enc, wn, &v2, NULL, NULL), (int)wn);
        check_value(id, &v2, json_object_get(ex, "value"), NULL);
        assert_true(wn <= n || (vt & 0xFF) == EW_EP_VT_BOUNDS); /* compact form */
        /* A short buffer reports the size needed. */
        size_t need = 0;
        assert_int_equal(ew_ep_value_encode(&v, enc, wn - 1, &need), EW_ERR_NOBUF);
        assert_int_equal(need, wn);
    } else if (strcmp(result, "reject") == 0) {
        const char *reason = tu_str(ex, "reason");
        int rc = ew_ep_value_decode(reject_vtype(id, p), p, n, &v, &warn, &d);
        int want = strstr(reason, "non-finite") ? EW_ERR_RANGE : EW_ERR_BAD_FIELD;
        if (rc != want)
            fail_msg("%s: got %s (%s), want %s", id, ew_errname(rc), d.what, ew_errname(want));
        assert_int_equal(d.code, rc);
        assert_true(d.offset < n);
    } else {
        fail_msg("%s: unexpected result %s", id, result);
    }
    (void)c;
}

/* ---- payload level -------------------------------------------------------- */

static void run_payload(const char *id, const json_t *c, const json_t *ex, const char *result,
                        const uint8_t *p, size_t n) {
    uint32_t type = (uint32_t)tu_int(c, "message_type");
    ew_ep_msg m;
    ew_diag d = {0};
    int rc = ew_ep_msg_decode(type, p, n, 0, &m, &d);
    if (strcmp(result, "accept") == 0) {
        if (rc != EW_OK)
            fail_msg("%s: %s (%s at %zu)", id, ew_errname(rc), d.what, d.offset);
        check_message(id, &m, json_object_get(ex, "message"));
    } else if (strcmp(result, "need-more-data") == 0) {
        /* The payload's size is fixed by its byte string (ep.md §2.3): an
         * item that runs past it is truncated, not "need more". */
        assert_int_equal(rc, EW_ERR_TRUNCATED);
        assert_int_equal(d.offset, n);
    } else {
        assert_true(rc < 0);
    }
}

/* ---- frame level and receiver --------------------------------------------- */

static char *rx_run(void *ctx, const uint8_t *in, size_t len, const size_t *chunks,
                    size_t nchunks) {
    (void)ctx;
    ew_ep_rx rx;
    ew_ep_frame f;
    tu_log log = {0};
    assert_int_equal(ew_ep_rx_init(&rx, rxbuf, sizeof rxbuf, 0), EW_OK);
    size_t off = 0;
    for (size_t k = 0; k < nchunks; k++) {
        size_t pos = 0;
        while (pos < chunks[k]) {
            size_t used = 0;
            ew_diag d = {0};
            int rc = ew_ep_rx_feed(&rx, in + off + pos, chunks[k] - pos, &used, &f, &d);
            assert_true(used <= chunks[k] - pos);
            pos += used;
            if (rc == EW_OK) {
                char *h = tu_hex(f.raw.ptr, f.raw.len);
                tu_logf(&log, "frame %s skipped=%zu\n", h, f.skipped);
                free(h);
            } else if (rc != EW_ERR_NEED_MORE) {
                tu_logf(&log, "error %s at %zu skipped=%zu\n", ew_errname(rc), d.offset, f.skipped);
            } else {
                assert_int_equal(pos, chunks[k]);
            }
        }
        off += chunks[k];
    }
    assert_int_equal(off, len);
    tu_logf(&log, "pending=%zu skipped_total=%llu\n", ew_ep_rx_pending(&rx),
            (unsigned long long)ew_ep_rx_skipped_total(&rx));
    return tu_log_take(&log);
}

static int frame_reject_code(const char *id) {
    if (strstr(id, "array4") || strstr(id, "canonical"))
        return EW_ERR_BAD_MAGIC;
    if (strstr(id, "64bit"))
        return EW_ERR_RANGE;
    return EW_ERR_BAD_FIELD;
}

static void run_frame(const char *id, const json_t *c, const json_t *ex, const char *result,
                      const uint8_t *p, size_t n, int prefix) {
    ew_ep_frame f;
    ew_diag d = {0};
    int rc = ew_ep_frame_decode(p, n, 0, &f, &d);
    char *log = tu_check_splits(NULL, p, n, rx_run);
    if (strcmp(result, "need-more-data") == 0) {
        assert_int_equal(rc, EW_ERR_NEED_MORE);
        free(log);
        return;
    }
    if (strcmp(result, "reject") == 0) {
        if (rc != frame_reject_code(id))
            fail_msg("%s: got %s (%s at %zu)", id, ew_errname(rc), d.what, d.offset);
        assert_int_equal(d.code, rc);
        assert_true(d.offset < n);
        assert_non_null(strstr(log, "error ") ? log : strstr(log, "pending"));
        free(log);
        return;
    }
    if (rc <= 0)
        fail_msg("%s: frame decode %s (%s at %zu)", id, ew_errname(rc), d.what, d.offset);
    (void)prefix;
    if (strcmp(id, "spec-msg-4.2.1-session-frame-as-printed") == 0) {
        /* 88 payload bytes, then 20 stray bytes that are skipped. */
        assert_int_equal(rc, 101);
    } else {
        assert_int_equal(rc, (int)n);
        char *h = tu_hex(p, n);
        assert_non_null(strstr(log, h));
        assert_non_null(strstr(log, "frame ") == log ? log : NULL);
        free(h);
    }
    free(log);
    json_t *mt = json_object_get(ex, "message_type");
    if (mt)
        assert_int_equal(f.type, json_integer_value(mt));
    json_t *hdr = json_object_get(ex, "headers");
    if (hdr && json_is_null(hdr)) {
        assert_int_equal(f.has_headers, 0);
    } else if (hdr) {
        assert_int_equal(f.has_headers, 1);
        assert_int_equal(f.header_count, json_object_size(hdr));
        ew_ep_hdr_iter it;
        uint64_t key;
        ew_bytes val;
        ew_ep_header_iter_init(&it, &f);
        size_t seen = 0;
        while (ew_ep_header_next(&it, &key, &val)) {
            char k[24];
            snprintf(k, sizeof k, "%llu", (unsigned long long)key);
            json_t *want = json_object_get(hdr, k);
            assert_non_null(want);
            ew_ep_tok t;
            assert_int_equal(ew_ep_tok_next(val.ptr, val.len, &t), (int)val.len);
            if (json_is_string(want)) {
                assert_int_equal(t.kind, EW_EP_TK_TEXT);
                assert_memory_equal(t.ptr, json_string_value(want), t.len);
            } else {
                assert_int_equal(t.kind, EW_EP_TK_UINT);
                assert_int_equal(t.u, json_integer_value(want));
            }
            seen++;
        }
        assert_int_equal(seen, json_object_size(hdr));
    }
    json_t *ph = json_object_get(ex, "payload_hex");
    if (ph) {
        char *h = tu_hex(f.payload.ptr, f.payload.len);
        assert_true(ieq(h, json_string_value(ph)));
        free(h);
    }
    assert_int_equal(f.payload_null, json_is_true(json_object_get(ex, "payload_null")));
    ew_ep_msg m;
    int mrc = ew_ep_msg_decode_frame(&f, &m, &d);
    if (strcmp(result, "reject-message") == 0) {
        assert_true(mrc < 0);
        assert_int_equal(d.code, mrc);
        return;
    }
    if (mrc != EW_OK)
        fail_msg("%s: message %s (%s at %zu)", id, ew_errname(mrc), d.what, d.offset);
    assert_int_equal(m.warnings != 0, json_array_size(json_object_get(ex, "warnings")) > 0);
    json_t *msg = json_object_get(ex, "message");
    if (msg)
        check_message(id, &m, msg);
    (void)c;
}

static void run_stream(const char *id, const json_t *c, const json_t *ex, const uint8_t *p,
                       size_t n) {
    char *log = tu_check_splits(NULL, p, n, rx_run);
    tu_log want = {0};
    json_t *fr;
    size_t i;
    json_array_foreach(json_object_get(ex, "frames"), i, fr) {
        size_t fl;
        uint8_t *fb = tu_unhex(json_string_value(fr), &fl);
        char *h = tu_hex(fb, fl);
        tu_logf(&want, "frame %s\n", h);
        free(h);
        free(fb);
    }
    /* Compare frames only (skip counts are per outcome; the total is
     * checked below). */
    tu_log got = {0};
    for (char *line = log; *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, "frame ", 6) == 0) {
            char *sp = strchr(line + 6, ' ');
            tu_logf(&got, "%.*s\n", (int)(sp - line), line);
        }
        line = nl + 1;
    }
    char *g = tu_log_take(&got), *w = tu_log_take(&want);
    if (strcmp(g, w) != 0)
        fail_msg("%s: frames\n%s\nwant\n%s", id, g, w);
    char tot[64];
    snprintf(tot, sizeof tot, "skipped_total=%lld\n", tu_int(ex, "skipped_bytes"));
    if (!strstr(log, tot))
        fail_msg("%s: %s wanted, log:\n%s", id, tot, log);
    free(g);
    free(w);
    free(log);
    (void)c;
}

static size_t run_file(const char *file) {
    json_t *root = tu_load_json(file);
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i, count = 0;
    json_array_foreach(cases, i, c) {
        const char *id = tu_str(c, "id");
        const char *level = tu_str(c, "level");
        json_t *ex = json_object_get(c, "expect");
        const char *result = tu_str(ex, "result");
        size_t n;
        uint8_t *p = tu_unhex(tu_str(c, "hex"), &n);
        if (strcmp(level, "value") == 0)
            run_value(id, c, ex, result, p, n);
        else if (strcmp(level, "payload") == 0)
            run_payload(id, c, ex, result, p, n);
        else if (strcmp(level, "frame") == 0)
            run_frame(id, c, ex, result, p, n, 0);
        else if (strcmp(level, "frame-prefix") == 0)
            run_frame(id, c, ex, result, p, n, 1);
        else if (strcmp(level, "stream") == 0)
            run_stream(id, c, ex, p, n);
        else
            fail_msg("%s: unknown level %s", id, level);
        free(p);
        count++;
    }
    json_decref(root);
    return count;
}

static void test_spec_examples(void **state) {
    (void)state;
    assert_int_equal(run_file("ep/spec-examples.json"), 30);
}

static void test_generated(void **state) {
    (void)state;
    assert_int_equal(run_file("ep/generated-vectors.json"), 90);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_generated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
