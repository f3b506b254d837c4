/*
 * RCT CRC-16 and frame builder: every case of tests/vectors/rct/crc16.json
 * and make_frame.json, plus the builder's limits.
 */
#include <stdlib.h>
#include <string.h>

#include <energywire/rct.h>

#include "testutil.h"

/* Bitwise reference straight from rct.md §6.1. */
static uint16_t ref_crc16(const uint8_t *p, size_t n) {
    uint16_t crc = 0xFFFF;
    size_t total = n + (n & 1);
    for (size_t i = 0; i < total; i++) {
        crc ^= (uint16_t)((i < n ? p[i] : 0) << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void test_crc16_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/crc16.json");
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i;
    assert_true(json_array_size(cases) > 0);
    json_array_foreach(cases, i, c) {
        size_t n;
        uint8_t *p = tu_unhex(tu_str(c, "input_hex"), &n);
        assert_int_equal(n, (size_t)tu_int(c, "length"));
        assert_int_equal(ew_rct_crc16(p, n), (uint16_t)tu_int(c, "crc16"));
        assert_int_equal(ref_crc16(p, n), (uint16_t)tu_int(c, "crc16"));
        free(p);
    }
    json_decref(root);
}

static void test_crc16_check_values(void **state) {
    (void)state;
    assert_int_equal(ew_rct_crc16("", 0), 0xFFFF);
    assert_int_equal(ew_rct_crc16("12345678", 8), 0xA12B);
    /* Odd length: padded with one zero byte (plain CCITT-FALSE: 0x29B1). */
    assert_int_equal(ew_rct_crc16("123456789", 9), 0x044B);
    static const uint8_t z[2] = {0, 0};
    assert_int_equal(ew_rct_crc16(z, 1), 0x1D0F);
    assert_int_equal(ew_rct_crc16(z, 2), 0x1D0F);
    /* The slice-by-8 path against the bitwise reference, all lengths and
     * alignments up to 80 bytes. */
    uint8_t buf[96];
    uint64_t seed = 7;
    for (size_t k = 0; k < sizeof buf; k++)
        buf[k] = (uint8_t)tu_rand(&seed);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 80; n++)
            assert_int_equal(ew_rct_crc16(buf + off, n), ref_crc16(buf + off, n));
}

static void test_make_frame_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rct/make_frame.json");
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i, checked = 0, quirks = 0;
    json_array_foreach(cases, i, c) {
        const char *name = tu_str(c, "name");
        json_t *a = json_object_get(c, "args");
        unsigned cmd = (unsigned)tu_int(json_object_get(a, "command"), "value");
        long long id = tu_int(a, "id"), addr = tu_int(a, "address");
        size_t plen;
        uint8_t *payload = tu_unhex(tu_str(a, "payload_hex"), &plen);
        int quirk = json_is_true(json_object_get(c, "rctclient_quirk"));
        uint8_t out[1024];
        size_t n = 0;
        if (id > 0xFFFFFFFFll || addr > 0xFFFFFFFFll) {
            /* "id too large", "address too large": our API takes uint32_t,
             * so such a call cannot be expressed. */
            assert_non_null(json_object_get(c, "error"));
            free(payload);
            continue;
        }
        int rc = ew_rct_frame_encode(out, sizeof out, cmd, (uint32_t)addr, (uint32_t)id, payload,
                                     plen, &n);
        if (!quirk && json_object_get(c, "error")) {
            /* 252-byte WRITE: rctclient's struct.error is our TOO_BIG. */
            assert_int_equal(rc, EW_ERR_TOO_BIG);
        } else if (!quirk) {
            assert_int_equal(rc, EW_OK);
            char *got = tu_hex(out, n);
            if (strcmp(got, tu_str(c, "output_hex")) != 0)
                fail_msg("%s: got %s want %s", name, got, tu_str(c, "output_hex"));
            free(got);
            checked++;
        } else {
            /* rct.md §11: the quirks are not copied; assert our behaviour. */
            char *got;
            assert_int_equal(rc, EW_OK);
            got = tu_hex(out, n);
            if (strcmp(name, "READ with payload via make_frame") == 0) {
                /* Q1: READ ignores the payload, L = 4 (what SendFrame sends). */
                assert_string_equal(got, "2b0104959930bf0d65");
                assert_string_equal(got, tu_str(c, "sendframe_data_hex"));
            } else if (strcmp(name, "PLANT_READ with payload (payload IS appended)") == 0) {
                /* Q2: every read-type command drops the payload. */
                assert_string_equal(got, "2b410800000001959930bfb01b");
            } else if (strncmp(name, "PLANT_LONG_WRITE", 16) == 0) {
                /* Q3: plant LONG commands get the 2-byte length. */
                assert_string_equal(got, "2b43000b00000001959930bfaaaaaa8068");
            } else if (strncmp(name, "PLANT_LONG_RESPONSE", 19) == 0) {
                assert_string_equal(got, "2b46000a00000001959930bf0102c8c3");
            } else if (strcmp(name, "PLANT_READ without frame_type=PLANT") == 0) {
                /* Q4: the layout comes from the command's plant bit. */
                assert_string_equal(got, "2b410812345678959930bfd2cd");
            } else if (strcmp(name, "READ with frame_type=PLANT") == 0) {
                assert_string_equal(got, "2b0104959930bf0d65");
            } else {
                fail_msg("unhandled quirk case %s", name);
            }
            /* Our own receiver parses every frame we build. */
            uint8_t rbuf[EW_RCT_FRAME_MAX];
            ew_rct_rx rx;
            ew_rct_frame f;
            size_t used;
            assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
            assert_int_equal(ew_rct_rx_feed(&rx, out, n, &used, &f, NULL), EW_OK);
            assert_int_equal(used, n);
            assert_int_equal(f.id, (uint32_t)id);
            free(got);
            quirks++;
        }
        free(payload);
    }
    assert_int_equal(quirks, 6);
    assert_true(checked >= 25);
    json_decref(root);
}

/* The quirk expectations above, computed independently. */
static void test_quirk_expectations(void **state) {
    (void)state;
    static const uint8_t b1[] = {0x41, 0x08, 0, 0, 0, 1, 0x95, 0x99, 0x30, 0xbf};
    assert_int_equal(ew_rct_crc16(b1, sizeof b1), 0xb01b);
    static const uint8_t b2[] = {0x43, 0x00, 0x0b, 0,    0,    0,    1,
                                 0x95, 0x99, 0x30, 0xbf, 0xaa, 0xaa, 0xaa};
    assert_int_equal(ew_rct_crc16(b2, sizeof b2), 0x8068);
    static const uint8_t b3[] = {0x46, 0x00, 0x0a, 0, 0, 0, 1, 0x95, 0x99, 0x30, 0xbf, 0x01, 0x02};
    assert_int_equal(ew_rct_crc16(b3, sizeof b3), 0xc8c3);
}

static void test_builder_limits(void **state) {
    (void)state;
    uint8_t out[EW_RCT_WIRE_MAX];
    static uint8_t payload[EW_RCT_LONG_PAYLOAD_MAX + 1];
    size_t n;
    /* NOBUF reports the exact size, for every capacity below it. */
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_READ, 0, 0x3E, NULL, 0, &n),
                     EW_OK);
    assert_int_equal(n, 10); /* 2b 01 04 00 00 00 3e 15 2d 2b */
    for (size_t cap = 0; cap < 10; cap++) {
        size_t need = 0;
        assert_int_equal(
            ew_rct_frame_encode(cap ? out : NULL, cap, EW_RCT_CMD_READ, 0, 0x3E, NULL, 0, &need),
            EW_ERR_NOBUF);
        assert_int_equal(need, 10);
    }
    /* Payload limits of each layout. */
    struct {
        unsigned cmd;
        size_t max;
    } lim[] = {{EW_RCT_CMD_WRITE, EW_RCT_SHORT_PAYLOAD_MAX},
               {EW_RCT_CMD_RESPONSE, EW_RCT_SHORT_PAYLOAD_MAX},
               {EW_RCT_CMD_PLANT_WRITE, EW_RCT_PLANT_SHORT_PAYLOAD_MAX},
               {EW_RCT_CMD_PLANT_RESPONSE, EW_RCT_PLANT_SHORT_PAYLOAD_MAX},
               {EW_RCT_CMD_LONG_WRITE, EW_RCT_LONG_PAYLOAD_MAX},
               {EW_RCT_CMD_LONG_RESPONSE, EW_RCT_LONG_PAYLOAD_MAX},
               {EW_RCT_CMD_PLANT_LONG_WRITE, EW_RCT_PLANT_LONG_PAYLOAD_MAX},
               {EW_RCT_CMD_PLANT_LONG_RESPONSE, EW_RCT_PLANT_LONG_PAYLOAD_MAX}};
    memset(payload, 0x2b, sizeof payload); /* worst case: every byte escaped */
    for (size_t k = 0; k < sizeof lim / sizeof lim[0]; k++) {
        assert_int_equal(
            ew_rct_frame_encode(out, sizeof out, lim[k].cmd, 1, 2, payload, lim[k].max + 1, &n),
            EW_ERR_TOO_BIG);
        assert_int_equal(
            ew_rct_frame_encode(out, sizeof out, lim[k].cmd, 1, 2, payload, lim[k].max, &n), EW_OK);
        assert_true(n <= EW_RCT_WIRE_MAX);
        /* The receiver takes the largest frame with an EW_RCT_FRAME_MAX buffer. */
        static uint8_t rbuf[EW_RCT_FRAME_MAX];
        ew_rct_rx rx;
        ew_rct_frame f;
        size_t used;
        assert_int_equal(ew_rct_rx_init(&rx, rbuf, sizeof rbuf), EW_OK);
        assert_int_equal(ew_rct_rx_feed(&rx, out, n, &used, &f, NULL), EW_OK);
        assert_int_equal(used, n);
        assert_int_equal(f.payload.len, lim[k].max);
        assert_int_equal(f.command, lim[k].cmd);
        assert_int_equal(f.address, (lim[k].cmd & 0x40) ? 1u : 0u);
    }
    /* Invalid commands and arguments. */
    static const unsigned bad[] = {0x00, 0x04, 0x07, 0x09, 0x3b, 0x40,
                                   0x44, 0x47, 0x49, 0xff, 0x81};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        assert_int_equal(ew_rct_frame_encode(out, sizeof out, bad[k], 0, 1, NULL, 0, &n),
                         EW_ERR_BAD_FIELD);
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_WRITE, 0, 1, NULL, 3, &n),
                     EW_ERR_INVAL);
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_WRITE, 0, 1, NULL, 0, NULL),
                     EW_ERR_INVAL);
}

static void test_extension(void **state) {
    (void)state;
    uint8_t out[8];
    size_t n;
    static const uint8_t arg = 0xe1;
    /* rct.md §3.2: the app's "switch to COM protocol" is exactly 2b 3c e1. */
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_EXTENSION, 0, 0, &arg, 1, &n),
                     EW_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\x2b\x3c\xe1", 3);
    assert_int_equal(ew_rct_frame_encode(out, 2, EW_RCT_CMD_EXTENSION, 0, 0, &arg, 1, &n),
                     EW_ERR_NOBUF);
    assert_int_equal(n, 3);
    assert_int_equal(ew_rct_frame_encode(out, sizeof out, EW_RCT_CMD_EXTENSION, 0, 0, &arg, 0, &n),
                     EW_ERR_INVAL);
    assert_string_equal(ew_rct_cmd_name(EW_RCT_CMD_EXTENSION), "EXTENSION");
    assert_int_equal(ew_rct_cmd_flags(EW_RCT_CMD_EXTENSION), 0);
}

static void test_cmd_flags(void **state) {
    (void)state;
    int valid = 0;
    for (unsigned c = 0; c < 256; c++) {
        unsigned fl = ew_rct_cmd_flags(c);
        if (!fl)
            continue;
        valid++;
        assert_non_null(ew_rct_cmd_name(c));
        /* rct.md §3.1 rules. */
        assert_int_equal(!!(fl & EW_RCT_CMDF_PLANT), !!(c & 0x40));
        int lng = c == 0x03 || c == 0x06 || c == 0x43 || c == 0x46;
        assert_int_equal(!!(fl & EW_RCT_CMDF_LONG), lng);
        int wr = c == 0x02 || c == 0x03 || c == 0x42 || c == 0x43;
        assert_int_equal(!!(fl & EW_RCT_CMDF_WRITE), wr);
        int rs = c == 0x05 || c == 0x06 || c == 0x45 || c == 0x46;
        assert_int_equal(!!(fl & EW_RCT_CMDF_RESPONSE), rs);
    }
    assert_int_equal(valid, 12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_vectors),      cmocka_unit_test(test_crc16_check_values),
        cmocka_unit_test(test_make_frame_vectors), cmocka_unit_test(test_quirk_expectations),
        cmocka_unit_test(test_builder_limits),     cmocka_unit_test(test_extension),
        cmocka_unit_test(test_cmd_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
