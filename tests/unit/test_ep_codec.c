/*
 * EP codec unit tests beyond the vectors: number encoding choices (ep.md
 * §3.2), message encoding from structs, NOBUF sizes, bad input with the
 * exact error and offset, and receiver resynchronisation (ep.md §2.4).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <energywire/ep.h>

#include "testutil.h"

static void expect_hex(const uint8_t *p, size_t n, const char *hex) {
    char *h = tu_hex(p, n);
    if (strcmp(h, hex) != 0)
        fail_msg("got %s, want %s", h, hex);
    free(h);
}

static void enc_num(int vt, ew_ep_number num, const char *hex) {
    ew_ep_value v;
    memset(&v, 0, sizeof v);
    v.vtype = vt;
    v.num = num;
    uint8_t out[32];
    size_t n = 0;
    assert_int_equal(ew_ep_value_encode(&v, out, sizeof out, &n), EW_OK);
    expect_hex(out, n, hex);
    ew_ep_value back;
    assert_int_equal(ew_ep_value_decode(vt, out, n, &back, NULL, NULL), (int)n);
    assert_true(back.num.value == num.value && signbit(back.num.value) == signbit(num.value));
}

static void test_number_encoding(void **state) {
    (void)state;
    enc_num(EW_EP_VT_VOLTAGE, ew_ep_num(744), "a1101902e8");       /* spec 19 02 E8 */
    enc_num(EW_EP_VT_VOLTAGE, ew_ep_num(400.0), "a110190190");     /* integral: int */
    enc_num(EW_EP_VT_CURRENT, ew_ep_num(292.5), "a111f95c92");     /* spec half */
    enc_num(EW_EP_VT_CURRENT, ew_ep_num(-32), "a111381f");         /* nint */
    enc_num(EW_EP_VT_POWER, ew_ep_num(50000.5), "a112fa47435080"); /* single */
    enc_num(EW_EP_VT_PERCENTAGE, ew_ep_num(99.9999), "a114fb4058fffe5c91d14e");
    enc_num(EW_EP_VT_PERCENTAGE, ew_ep_num(-0.0), "a114f98000"); /* sign kept */
    enc_num(EW_EP_VT_AMOUNT, ew_ep_num(-0.5), "a102f9b800");
    /* 2051.5 is not a half: libcbor's cbor_encode_half would truncate. */
    enc_num(EW_EP_VT_ENERGY, ew_ep_num(2051.5), "a113fa45003800");
    /* Smallest half subnormal; 3 * 2^-24 is a half too but libcbor 0.8
     * mis-encodes it, so the checked fallback writes a single. */
    enc_num(EW_EP_VT_RESISTANCE, ew_ep_num(ldexp(1, -24)), "a115f90001");
    enc_num(EW_EP_VT_RESISTANCE, ew_ep_num(3 * ldexp(1, -24)), "a115fa34400000");
    enc_num(EW_EP_VT_DURATION, ew_ep_num_int(4294967296LL), "a1061b0000000100000000");
    enc_num(EW_EP_VT_DURATION, ew_ep_num_int(INT64_MIN), "a1063b7fffffffffffffff");

    ew_ep_value v;
    memset(&v, 0, sizeof v);
    v.vtype = EW_EP_VT_VOLTAGE;
    v.num = ew_ep_num(NAN);
    uint8_t out[16];
    size_t n;
    assert_int_equal(ew_ep_value_encode(&v, out, sizeof out, &n), EW_ERR_RANGE);
    v.num = ew_ep_num(-INFINITY);
    assert_int_equal(ew_ep_value_encode(&v, out, sizeof out, &n), EW_ERR_RANGE);
}

static void test_value_errors(void **state) {
    (void)state;
    static const struct {
        int vt;
        const char *hex;
        int rc;
        size_t off;
    } cases[] = {
        {EW_EP_VT_VOLTAGE, "a110", EW_ERR_TRUNCATED, 2},
        {EW_EP_VT_VOLTAGE, "a11019", EW_ERR_TRUNCATED, 2},
        {EW_EP_VT_VOLTAGE, "10", EW_ERR_BAD_FIELD, 0},
        {EW_EP_VT_VOLTAGE, "a11101", EW_ERR_BAD_FIELD, 0},     /* key missing */
        {EW_EP_VT_VOLTAGE, "a21001100a", EW_ERR_BAD_FIELD, 3}, /* key repeated */
        {EW_EP_VT_VOLTAGE, "a110f5", EW_ERR_BAD_FIELD, 2},
        {EW_EP_VT_VOLTAGE, "a110f97e00", EW_ERR_RANGE, 2}, /* NaN half */
        {EW_EP_VT_VOLTAGE, "a110c249010000000000000000", EW_ERR_BAD_FIELD, 2},
        {EW_EP_VT_VOLTAGE, "a110fc", EW_ERR_PROTO, 2},        /* reserved AI */
        {EW_EP_VT_TEXT, "a1007f6161ff", EW_ERR_BAD_FIELD, 2}, /* indefinite text */
        {EW_EP_VT_TEXT, "a10062c328", EW_ERR_BAD_FIELD, 2},   /* bad UTF-8 */
        {EW_EP_VT_TEXT, "a10063eda080", EW_ERR_BAD_FIELD, 2}, /* surrogate */
        {EW_EP_VT_BINARY, "a1046161", EW_ERR_BAD_FIELD, 2},
        {EW_EP_VT_ISOLATION, "a1185080", EW_ERR_BAD_FIELD, 3},
        {EW_EP_VT_ISOLATION, "a1185081f6", EW_ERR_BAD_FIELD, 4},
        {EW_EP_VT_ISOLATION, "a118508201a1", EW_ERR_TRUNCATED, 6},
        {EW_EP_VT_SOURCE_MIX, "a1184081a20102", EW_ERR_BAD_FIELD, 4},
        {EW_EP_VT_SOURCE_MIX, "a1184081a16161a11400", EW_ERR_BAD_FIELD, 5},
        {EW_EP_VT_PRICE_FORECAST, "a1183081820102", EW_ERR_BAD_FIELD, 4},
        {EW_EP_VT_BOUNDS_OF(EW_EP_VT_VOLTAGE), "a118209f01ff", EW_ERR_BAD_FIELD, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *p = tu_unhex(cases[i].hex, &n);
        ew_ep_value v;
        ew_diag d = {0};
        int rc = ew_ep_value_decode(cases[i].vt, p, n, &v, NULL, &d);
        if (rc != cases[i].rc || d.offset != cases[i].off)
            fail_msg("%s: got %s at %zu (%s), want %s at %zu", cases[i].hex, ew_errname(rc),
                     d.offset, d.what, ew_errname(cases[i].rc), cases[i].off);
        assert_int_equal(d.code, rc);
        assert_non_null(d.what);
        free(p);
    }
    /* Warnings: extra keys, null resistance, unknown/duplicate sources. */
    static const struct {
        int vt;
        const char *hex;
        unsigned warn;
    } warns[] = {
        {EW_EP_VT_VOLTAGE, "a2616101100a", EW_EP_WARN_EXTRA_KEY},
        {EW_EP_VT_ISOLATION, "a118508302f6a11501", EW_EP_WARN_ISOLATION_NULL},
        {EW_EP_VT_ISOLATION, "a118508109", EW_EP_WARN_ISOLATION_NULL | EW_EP_WARN_ISOLATION_STATE},
        {EW_EP_VT_SOURCE_MIX, "a1184082a10aa1141832a10aa1141832", EW_EP_WARN_UNKNOWN_SOURCE},
        {EW_EP_VT_SOURCE_MIX, "a1184082a101a1141832a101a1141832", EW_EP_WARN_DUP_SOURCE},
        {EW_EP_VT_SOURCE_MIX, "a1184081a100a1141832", EW_EP_WARN_MIX_SUM},
        {EW_EP_VT_BOUNDS_OF(EW_EP_VT_CURRENT), "a1182082a11105a11101", EW_EP_WARN_BOUNDS_ORDER},
        {EW_EP_VT_TIMESTAMP, "a103781b323032352d30322d30315431323a30303a30302e352b30313a3030", 0},
    };
    for (size_t i = 0; i < sizeof warns / sizeof warns[0]; i++) {
        size_t n;
        uint8_t *p = tu_unhex(warns[i].hex, &n);
        ew_ep_value v;
        unsigned w = 0;
        ew_diag d = {0};
        int rc = ew_ep_value_decode(warns[i].vt, p, n, &v, &w, &d);
        if (rc != (int)n)
            fail_msg("%s: %s (%s at %zu)", warns[i].hex, ew_errname(rc), d.what, d.offset);
        assert_int_equal(w, warns[i].warn);
        free(p);
    }
}

/* The full Supply of gen-supply-all-fields-int, built from structs. */
static const char supply_hex[] =
    "9a00000003f61adcdcf00d589aa800a1182082a110f95b54a11018f901a1182082a1111859a111f958cc02a112"
    "19c35003a1184082a101a1141846a109a114181e04a118308283a10374323032352d30322d30315431323a3030"
    "3a30305aa102f95150a1056353454b83a10374323032352d30322d30315431333a30303a30305aa102f950c8a1"
    "056353454b05a110f95b8406a111187807a118508301a1151903e8a1151903e8";

static void build_supply(ew_ep_msg *m, ew_ep_price prices[2], ew_ep_mix_entry mix[2]) {
    memset(m, 0, sizeof *m);
    m->type = EW_EP_MSG_SUPPLY;
    m->present = 0xFF;
    ew_ep_supply *s = &m->u.supply;
    s->voltage_limit = (ew_ep_bounds){EW_EP_VT_VOLTAGE, ew_ep_num(234.5), ew_ep_num(249)};
    s->current_limit = (ew_ep_bounds){EW_EP_VT_CURRENT, ew_ep_num(89), ew_ep_num(153.5)};
    s->power_limit = ew_ep_num(50000);
    mix[0] = (ew_ep_mix_entry){1, ew_ep_num(70)};
    mix[1] = (ew_ep_mix_entry){9, ew_ep_num(30)};
    s->power_mix.items = mix;
    s->power_mix.count = 2;
    static const char t1[] = "2025-02-01T12:00:00Z", t2[] = "2025-02-01T13:00:00Z";
    prices[0] =
        (ew_ep_price){{(const uint8_t *)t1, 20}, ew_ep_num(42.5), {(const uint8_t *)"SEK", 3}};
    prices[1] =
        (ew_ep_price){{(const uint8_t *)t2, 20}, ew_ep_num(38.25), {(const uint8_t *)"SEK", 3}};
    s->energy_prices.items = prices;
    s->energy_prices.count = 2;
    s->voltage = ew_ep_num(240.5);
    s->current = ew_ep_num(120);
    s->isolation = (ew_ep_isolation){1, 1, 1, ew_ep_num(1000), ew_ep_num(1000)};
}

static void test_encode_messages(void **state) {
    (void)state;
    ew_ep_msg m;
    ew_ep_price prices[2];
    ew_ep_mix_entry mix[2];
    build_supply(&m, prices, mix);
    uint8_t out[512];
    size_t n = 0, need = 0;
    assert_int_equal(ew_ep_msg_encode_frame(&m, out, sizeof out, &n), EW_OK);
    expect_hex(out, n, supply_hex);
    for (size_t cap = 0; cap < n; cap += 7) {
        assert_int_equal(ew_ep_msg_encode_frame(&m, out, cap, &need), EW_ERR_NOBUF);
        assert_int_equal(need, n);
    }
    /* Ping: 41 F6 (ep.md §4.1). */
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_PING;
    assert_int_equal(ew_ep_msg_encode_frame(&m, out, sizeof out, &n), EW_OK);
    expect_hex(out, n, "9a00000003f61affffffff41f6");
    /* SoftDisconnect of messages §4.3.1. */
    m.type = EW_EP_MSG_SOFT_DISCONNECT;
    m.present = EW_EP_HAS(0) | EW_EP_HAS(1);
    m.u.soft_disconnect.reconnect = 0;
    m.u.soft_disconnect.reason = (ew_bytes){(const uint8_t *)"normal", 6};
    assert_int_equal(ew_ep_msg_encode_frame(&m, out, sizeof out, &n), EW_OK);
    expect_hex(out, n, "9a00000003f61ababadead4fa200a101f401a100666e6f726d616c");
    /* Demand with all six fields (ep.md §2.1). */
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_DEMAND;
    m.present = 0x3F;
    m.u.demand = (ew_ep_demand){ew_ep_num(400), ew_ep_num(-32),   ew_ep_num(920),
                                ew_ep_num(200), ew_ep_num(11000), ew_ep_num_int(5400000)};
    assert_int_equal(ew_ep_msg_encode_frame(&m, out, sizeof out, &n), EW_OK);
    expect_hex(out, n,
               "9a00000003f61adcdcfeed5825a600a110190190"
               "01a111381f02a11019039803a11118c804a112192af805a1061a005265c0");
    /* Frame encoder with a header map and an unknown type. */
    const uint8_t hdr[] = {0xA1, 0x19, 0x01, 0x00, 0x61, 0x78}, pl[] = {0xF6};
    assert_int_equal(
        ew_ep_frame_encode(out, sizeof out, EW_EP_MSG_PING, hdr, sizeof hdr, pl, 1, &n), EW_OK);
    expect_hex(out, n, "9a00000003a119010061781affffffff41f6");
    assert_int_equal(ew_ep_frame_encode(out, 3, 1, NULL, 0, NULL, 0, &need), EW_ERR_NOBUF);
    assert_int_equal(need, 12);
    assert_int_equal(ew_ep_frame_encode(out, sizeof out, 1, NULL, 0, NULL, 3, &n), EW_ERR_INVAL);
}

static void test_frame_errors(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        int rc;
        size_t off;
    } cases[] = {
        {"", EW_ERR_NEED_MORE, 0},
        {"9a000000", EW_ERR_NEED_MORE, 4},
        {"9a00000003f61a", EW_ERR_NEED_MORE, 7},
        {"9a00000003f61affffffff42f6", EW_ERR_NEED_MORE, 13},
        {"83f61affffffff41f6", EW_ERR_BAD_MAGIC, 0},
        {"9a00000004f6", EW_ERR_BAD_MAGIC, 4},
        {"9a0000000380", EW_ERR_BAD_FIELD, 5},                  /* header array */
        {"9a00000003a1616101", EW_ERR_BAD_FIELD, 6},            /* header key text */
        {"9a00000003f66161", EW_ERR_BAD_FIELD, 6},              /* type text */
        {"9a00000003f61b0000000100000000", EW_ERR_RANGE, 6},    /* type > 32 bit */
        {"9a00000003f61affffffff6161", EW_ERR_BAD_FIELD, 11},   /* text payload */
        {"9a00000003f61affffffffc24100", EW_ERR_BAD_FIELD, 11}, /* tagged */
        {"9a00000003f61affffffff5f41f6ff", EW_ERR_BAD_FIELD, 11},
        {"9a00000003f61affffffff5a7fffffff", EW_ERR_TOO_BIG, 11}, /* keneth-frame-huge */
        {"9a00000003f61affffffff5a00010001", EW_ERR_TOO_BIG, 11}, /* 64 KiB + 1 */
        {"9a00000003fc", EW_ERR_PROTO, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *p = tu_unhex(cases[i].hex, &n);
        ew_ep_frame f;
        ew_diag d = {0};
        int rc = ew_ep_frame_decode(p ? p : (const uint8_t *)"", n, 0, &f, &d);
        if (rc != cases[i].rc || d.offset != cases[i].off)
            fail_msg("%s: got %s at %zu (%s), want %s at %zu", cases[i].hex, ew_errname(rc),
                     d.offset, d.what, ew_errname(cases[i].rc), cases[i].off);
        free(p);
    }
}

static void test_msg_errors(void **state) {
    (void)state;
    static const struct {
        uint32_t type;
        const char *hex;
        int rc;
        size_t off;
    } cases[] = {
        {EW_EP_MSG_DEMAND, "", EW_ERR_TRUNCATED, 0},
        {EW_EP_MSG_DEMAND, "a000", EW_ERR_PROTO, 1},   /* trailing */
        {EW_EP_MSG_DEMAND, "80", EW_ERR_BAD_FIELD, 0}, /* not a map */
        {EW_EP_MSG_DEMAND, "a16161a11001", EW_ERR_BAD_FIELD, 1},
        {EW_EP_MSG_DEMAND, "a200a1100100a11002", EW_ERR_PROTO, 5}, /* repeated */
        {EW_EP_MSG_DEMAND, "a100a11101", EW_ERR_BAD_FIELD, 2},     /* Current as voltage */
        {EW_EP_MSG_DEMAND, "a200a11001", EW_ERR_TRUNCATED, 5},
        {EW_EP_MSG_SUPPLY, "a100a1182082a11001", EW_ERR_TRUNCATED, 9},
        {EW_EP_MSG_SESSION, "a100a1004161", EW_ERR_BAD_FIELD, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *p = tu_unhex(cases[i].hex, &n);
        ew_ep_msg m;
        ew_diag d = {0};
        int rc = ew_ep_msg_decode(cases[i].type, p ? p : (const uint8_t *)"", n, 0, &m, &d);
        if (rc != cases[i].rc || d.offset != cases[i].off)
            fail_msg("%s: got %s at %zu (%s), want %s at %zu", cases[i].hex, ew_errname(rc),
                     d.offset, d.what, ew_errname(cases[i].rc), cases[i].off);
        free(p);
    }
    /* Unknown fields are skipped; null content is "no fields". */
    ew_ep_msg m;
    const uint8_t unk[] = {0xA2, 0x18, 0x2A, 0x82, 0x01, 0x02, 0x00, 0xA1, 0x10, 0x01};
    assert_int_equal(ew_ep_msg_decode(EW_EP_MSG_DEMAND, unk, sizeof unk, 0, &m, NULL), EW_OK);
    assert_int_equal(m.unknown_fields, 1);
    assert_int_equal(m.present, EW_EP_HAS(0));
    assert_true(m.warnings & EW_EP_WARN_UNKNOWN_FIELD);
    const uint8_t nul[] = {0xF6};
    assert_int_equal(ew_ep_msg_decode(EW_EP_MSG_SESSION, nul, 1, 0, &m, NULL), EW_OK);
    assert_int_equal(m.present, 0);
    assert_true(m.warnings & EW_EP_WARN_NULL_CONTENT);
    assert_true(m.warnings & EW_EP_WARN_NO_IDENTITY);
    char txt[256];
    const uint8_t raw[] = {0x01, 0x02};
    assert_int_equal(ew_ep_msg_decode(0x01000000u, raw, 2, 0, &m, NULL), EW_OK);
    ew_ep_msg_format(&m, 0, txt, sizeof txt);
    assert_string_equal(txt, "Unknown(0x01000000) payload=0102 warnings=unknown-type");
}

/* Receiver: resync across garbage, oversized declarations, buffer limits. */
static char *run_rx(void *ctx, const uint8_t *in, size_t len, const size_t *chunks,
                    size_t nchunks) {
    size_t cap = *(size_t *)ctx;
    uint8_t *buf = malloc(cap);
    (void)len;
    ew_ep_rx rx;
    ew_ep_frame f;
    tu_log log = {0};
    assert_int_equal(ew_ep_rx_init(&rx, buf, cap, 64), EW_OK);
    size_t off = 0;
    for (size_t k = 0; k < nchunks; k++) {
        size_t pos = 0;
        while (pos < chunks[k]) {
            size_t used;
            ew_diag d = {0};
            int rc = ew_ep_rx_feed(&rx, in + off + pos, chunks[k] - pos, &used, &f, &d);
            pos += used;
            if (rc == EW_OK)
                tu_logf(&log, "frame type=%08x len=%zu skipped=%zu\n", (unsigned)f.type,
                        f.frame_len, f.skipped);
            else if (rc != EW_ERR_NEED_MORE)
                tu_logf(&log, "%s at %zu skipped=%zu\n", ew_errname(rc), d.offset, f.skipped);
        }
        off += chunks[k];
    }
    tu_logf(&log, "pending=%zu total=%llu\n", ew_ep_rx_pending(&rx),
            (unsigned long long)ew_ep_rx_skipped_total(&rx));
    free(buf);
    return tu_log_take(&log);
}

static void test_rx_resync(void **state) {
    (void)state;
    static const struct {
        size_t cap;
        const char *hex;
        const char *log;
    } cases[] = {
        {256, "00119a00000003f61affffffff41f6",
         "frame type=ffffffff len=13 skipped=2\npending=0 total=2\n"},
        /* Declared 64 KiB payload above the 64-byte cap: drop one byte, then
         * find the real frame inside. */
        {256, "9a00000003f61affffffff5a000100009a00000003f61affffffff40",
         "EW_ERR_TOO_BIG at 11 skipped=1\nframe type=ffffffff len=12 skipped=15\n"
         "pending=0 total=16\n"},
        /* A frame larger than a 32-byte buffer. */
        {32,
         "9a00000003f61affffffff581400000000000000000000000000000000000000009a00000003f61a00000001"
         "40",
         "EW_ERR_TOO_BIG at 11 skipped=1\nframe type=00000001 len=12 skipped=32\n"
         "pending=0 total=33\n"},
        /* A header map that outgrows the buffer. */
        {32, "9a00000003a5000001000200030004", "pending=15 total=0\n"},
        /* Trailing partial magic stays pending. */
        {256, "9a00000003f61affffffff40ff9a0000",
         "frame type=ffffffff len=12 skipped=0\npending=3 total=1\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n, cap = cases[i].cap;
        uint8_t *p = tu_unhex(cases[i].hex, &n);
        char *log = tu_check_splits(&cap, p, n, run_rx);
        if (strcmp(log, cases[i].log) != 0)
            fail_msg("case %zu:\n%s\nwant\n%s", i, log, cases[i].log);
        free(log);
        free(p);
    }
}

static void test_rx_many_frames(void **state) {
    (void)state;
    /* 200 Supply frames back to back, fed in pseudo-random chunks. */
    size_t fl;
    uint8_t *one = tu_unhex(supply_hex, &fl);
    size_t total = fl * 200;
    uint8_t *s = malloc(total);
    for (int i = 0; i < 200; i++)
        memcpy(s + (size_t)i * fl, one, fl);
    uint8_t buf[1024];
    ew_ep_rx rx;
    ew_ep_frame f;
    ew_ep_msg m;
    assert_int_equal(ew_ep_rx_init(&rx, buf, sizeof buf, 0), EW_OK);
    uint64_t seed = 42;
    size_t pos = 0, frames = 0;
    while (pos < total) {
        size_t chunk = 1 + (size_t)(tu_rand(&seed) % 400);
        if (chunk > total - pos)
            chunk = total - pos;
        size_t end = pos + chunk;
        while (pos < end) {
            size_t used;
            int rc = ew_ep_rx_feed(&rx, s + pos, end - pos, &used, &f, NULL);
            pos += used;
            if (rc == EW_OK) {
                assert_int_equal(ew_ep_msg_decode_frame(&f, &m, NULL), EW_OK);
                assert_int_equal(m.present, 0xFF);
                assert_true(m.u.supply.isolation.positive_ohms.value == 1000);
                frames++;
            } else {
                assert_int_equal(rc, EW_ERR_NEED_MORE);
            }
        }
    }
    assert_int_equal(frames, 200);
    assert_int_equal(ew_ep_rx_skipped_total(&rx), 0);
    free(s);
    free(one);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_encoding), cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_encode_messages), cmocka_unit_test(test_frame_errors),
        cmocka_unit_test(test_msg_errors),      cmocka_unit_test(test_rx_resync),
        cmocka_unit_test(test_rx_many_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
