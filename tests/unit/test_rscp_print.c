/*
 * RSCP printers: exact text for the vector frames, password masking, JSON
 * that parses (jansson) with the right tags, values and units for every
 * tlv_types.json case, NaN, non-UTF-8 strings, timestamps, EW_ERR_NOBUF with
 * the needed size, and faulty trees.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static uint8_t *copy_of(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static size_t put_tlv(uint8_t *p, uint32_t tag, uint8_t type, const void *data, uint16_t n) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(tag >> (8 * i));
    p[4] = type;
    p[5] = (uint8_t)n;
    p[6] = (uint8_t)(n >> 8);
    if (n)
        memcpy(p + 7, data, n);
    return 7 + (size_t)n;
}


typedef int (*print_fn)(const uint8_t *, size_t, unsigned, unsigned, char *, size_t, size_t *,
                        ew_diag *);

/*
 * Prints |area| with |fn|: first measures (cap 0), then checks every cap
 * below the needed size (EW_ERR_NOBUF, same size, a NUL-terminated prefix),
 * then prints with exactly the needed size.  Returns the text (caller frees).
 */
static char *print_checked(print_fn fn, const uint8_t *area, size_t len, unsigned flags) {
    size_t need = 0;
    char dummy = 'x';
    ew_diag d = {0};
    assert_int_equal(fn(area, len, 0, flags, &dummy, 0, &need, &d), EW_ERR_NOBUF);
    assert_int_equal(dummy, 'x'); /* cap 0: nothing written */
    assert_true(need >= 1);
    char *out = malloc(need);
    assert_non_null(out);
    size_t w = 0;
    assert_int_equal(fn(area, len, 0, flags, out, need, &w, &d), EW_OK);
    assert_int_equal(w, need - 1);
    assert_int_equal(strlen(out), w);
    for (size_t cap = 1; cap < need; cap++) {
        char *small = malloc(cap);
        assert_non_null(small);
        size_t w2 = 0;
        assert_int_equal(fn(area, len, 0, flags, small, cap, &w2, &d), EW_ERR_NOBUF);
        assert_int_equal(w2, need);
        assert_int_equal(strlen(small), cap - 1);
        assert_memory_equal(small, out, cap - 1);
        free(small);
    }
    /* A larger buffer gives the same text. */
    char *big = malloc(need + 100);
    assert_non_null(big);
    assert_int_equal(fn(area, len, 0, flags, big, need + 100, &w, &d), EW_OK);
    assert_int_equal(w, need - 1);
    assert_string_equal(big, out);
    free(big);
    return out;
}

static json_t *parse_json(const char *text) {
    json_error_t err;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("output is not JSON: %s (line %d col %d)\n%s", err.text, err.line, err.column,
                 text);
    return j;
}

static const char *short_name(const char *name) {
    return strncmp(name, "TAG_", 4) == 0 ? name + 4 : name;
}

/* ---- text ------------------------------------------------------------------ */

static void expect_unit(uint32_t tag, const char *unit) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    assert_non_null(t);
    assert_string_equal(t->unit, unit);
}

static void test_text_poll_answer(void **state) {
    (void)state;
    /* Units as the registry gives them (data/rscp_units.csv). */
    expect_unit(0x01800001, "W"); /* EMS_POWER_PV */
    expect_unit(0x01800004, "W"); /* EMS_POWER_GRID */
    expect_unit(0x01800008, "%"); /* EMS_BAT_SOC */
    expect_unit(0x01800007, "%"); /* EMS_SELF_CONSUMPTION */
    expect_unit(0x01800006, "%"); /* EMS_AUTARKY */
    expect_unit(0x0A80000F, "");  /* INFO_UTC_TIME */
    expect_unit(0x03800001, "%"); /* BAT_RSOC */
    expect_unit(0x03040001, "");  /* BAT_INDEX */
    expect_unit(0x0380000D, "");  /* BAT_DCB_COUNT */
    size_t len;
    uint8_t *area = tu_frame_area("poll_response_10_tags", &len);
    char *text = print_checked(ew_rscp_print_text, area, len, 0);
    assert_string_equal(text, "INFO_UTC_TIME = 2023-11-14T22:13:20Z\n"
                              "EMS_BAT_SOC = 77 %\n"
                              "EMS_POWER_PV = 4687 W\n"
                              "EMS_POWER_ADD = 0 W\n"
                              "EMS_POWER_BAT = 2139 W\n"
                              "EMS_POWER_HOME = 612 W\n"
                              "EMS_POWER_GRID = -1936 W\n"
                              "EMS_POWER_WB_ALL = 0 W\n"
                              "EMS_SELF_CONSUMPTION = 58.75 %\n"
                              "EMS_AUTARKY = 100 %\n");
    free(text);
    text = print_checked(ew_rscp_print_text, area, len, EW_RSCP_PRINT_TYPES | EW_RSCP_PRINT_IDS);
    assert_string_equal(text, "INFO_UTC_TIME [0x0a80000f] = 2023-11-14T22:13:20Z (Timestamp)\n"
                              "EMS_BAT_SOC [0x01800008] = 77 % (UChar8)\n"
                              "EMS_POWER_PV [0x01800001] = 4687 W (Int32)\n"
                              "EMS_POWER_ADD [0x01800005] = 0 W (Int32)\n"
                              "EMS_POWER_BAT [0x01800002] = 2139 W (Int32)\n"
                              "EMS_POWER_HOME [0x01800003] = 612 W (Int32)\n"
                              "EMS_POWER_GRID [0x01800004] = -1936 W (Int32)\n"
                              "EMS_POWER_WB_ALL [0x0180001f] = 0 W (Int32)\n"
                              "EMS_SELF_CONSUMPTION [0x01800007] = 58.75 % (Float32)\n"
                              "EMS_AUTARKY [0x01800006] = 100 % (Float32)\n");
    free(text);
    free(area);
}

static void test_text_bat_answer(void **state) {
    (void)state;
    size_t len;
    uint8_t *area = tu_frame_area("bat_response_nested", &len);
    char *text = print_checked(ew_rscp_print_text, area, len, 0);
    assert_string_equal(text, "BAT_DATA:\n"
                              "  BAT_INDEX = 0\n"
                              "  BAT_RSOC = 77.25 %\n"
                              "  BAT_DEVICE_STATE:\n"
                              "    BAT_DEVICE_CONNECTED = true\n"
                              "    BAT_DEVICE_WORKING = true\n"
                              "    BAT_DEVICE_IN_SERVICE = false\n"
                              "  BAT_DCB_COUNT = 1\n"
                              "  BAT_DCB_INFO = error 6 RSCP_ERR_NOT_AVAILABLE\n");
    free(text);
    free(area);

    area = tu_frame_area("error_response", &len);
    text = print_checked(ew_rscp_print_text, area, len, 0);
    assert_string_equal(text, "BAT_DATA = error 6 RSCP_ERR_NOT_AVAILABLE\n");
    free(text);
    free(area);

    /* Requests: None values are the bare tag name; an empty container says
     * so. */
    area = tu_frame_area("bat_request_nested", &len);
    text = print_checked(ew_rscp_print_text, area, len, 0);
    assert_string_equal(text, "BAT_REQ_DATA:\n"
                              "  BAT_INDEX = 0\n"
                              "  BAT_REQ_RSOC\n"
                              "  BAT_REQ_DEVICE_STATE\n"
                              "  BAT_REQ_DCB_COUNT\n"
                              "  BAT_REQ_DCB_INFO = 0\n");
    free(text);
    free(area);
    static const uint8_t empty[] = {0x8b, 0x00, 0x80, 0x01, 0x0e, 0x00, 0x00};
    text = print_checked(ew_rscp_print_text, empty, sizeof empty, 0);
    assert_string_equal(text, "EMS_GET_POWER_SETTINGS: (empty)\n");
    free(text);
    /* An empty area prints nothing. */
    text = print_checked(ew_rscp_print_text, empty, 0, 0);
    assert_string_equal(text, "");
    free(text);
    text = print_checked(ew_rscp_print_json, empty, 0, 0);
    assert_string_equal(text, "[]");
    free(text);
}

static void test_password_masked(void **state) {
    (void)state;
    size_t len;
    uint8_t *area = tu_frame_area("auth_request", &len);
    char *text = print_checked(ew_rscp_print_text, area, len, 0);
    assert_string_equal(text, "RSCP_REQ_AUTHENTICATION:\n"
                              "  RSCP_AUTHENTICATION_USER = \"user@example.com\"\n"
                              "  RSCP_AUTHENTICATION_PASSWORD = \"********\"\n");
    free(text);
    text = print_checked(ew_rscp_print_text, area, len, EW_RSCP_PRINT_SECRETS);
    assert_string_equal(text, "RSCP_REQ_AUTHENTICATION:\n"
                              "  RSCP_AUTHENTICATION_USER = \"user@example.com\"\n"
                              "  RSCP_AUTHENTICATION_PASSWORD = \"secret-portal-password\"\n");
    free(text);
    /* JSON: masked too, in any layout. */
    static const unsigned json_flags[] = {0, EW_RSCP_PRINT_PRETTY};
    for (int k = 0; k < 2; k++) {
        text = print_checked(ew_rscp_print_json, area, len, json_flags[k]);
        assert_null(strstr(text, "secret"));
        json_t *j = parse_json(text);
        json_t *kids = json_object_get(json_array_get(j, 0), "value");
        assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 0), "value")),
                            "user@example.com");
        assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 1), "value")),
                            "********");
        json_decref(j);
        free(text);
        text = print_checked(ew_rscp_print_json, area, len, json_flags[k] | EW_RSCP_PRINT_SECRETS);
        j = parse_json(text);
        kids = json_object_get(json_array_get(j, 0), "value");
        assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 1), "value")),
                            "secret-portal-password");
        json_decref(j);
        free(text);
    }
    /* ew_rscp_value_format masks as well. */
    ew_rscp_iter it, child;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, area, len, 0);
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
    assert_int_equal(ew_rscp_iter_enter(&it, &v, &child, NULL), EW_OK);
    assert_int_equal(ew_rscp_iter_next(&child, &v, NULL), 1);
    assert_int_equal(ew_rscp_iter_next(&child, &v, NULL), 1);
    char buf[64];
    assert_int_equal(ew_rscp_value_format(&v, 0, buf, sizeof buf), 10);
    assert_string_equal(buf, "\"********\"");
    assert_int_equal(ew_rscp_value_format(&v, EW_RSCP_PRINT_SECRETS, buf, sizeof buf), 24);
    assert_string_equal(buf, "\"secret-portal-password\"");
    free(area);

    /* Other password-like tags are masked as well. */
    static const uint32_t secret_tags[] = {0xFB400002 /* DB_RECOVERY_PARAM_PASSWORD */,
                                           0x2D400030 /* OCPP_WB_LC_PARAM_PASSWORD */,
                                           0x00000005 /* RSCP_REQ_SET_ENCRYPTION_PASSPHRASE */,
                                           0xF800B009 /* SERVER_PASSWD (no declared type) */};
    for (size_t k = 0; k < sizeof secret_tags / sizeof secret_tags[0]; k++) {
        uint8_t tlv[32];
        size_t n = put_tlv(tlv, secret_tags[k], EW_RSCP_TYPE_CSTRING, "hunter2", 7);
        size_t w = 0;
        char out[256];
        assert_int_equal(ew_rscp_print_text(tlv, n, 0, 0, out, sizeof out, &w, NULL), EW_OK);
        assert_null(strstr(out, "hunter2"));
        assert_non_null(strstr(out, "= \"********\""));
        assert_int_equal(ew_rscp_print_json(tlv, n, 0, 0, out, sizeof out, &w, NULL), EW_OK);
        assert_null(strstr(out, "hunter2"));
    }
}

/*
 * A password is a secret because of its tag, whatever type id the peer sent
 * it with: a ByteArray, a Bitfield or a raw value of
 * RSCP_AUTHENTICATION_PASSWORD must not show the password either (neither as
 * text nor as hex).
 */
static void test_password_masked_any_type(void **state) {
    (void)state;
    static const uint8_t types[] = {EW_RSCP_TYPE_BYTEARRAY, EW_RSCP_TYPE_BITFIELD, 0x42};
    for (size_t k = 0; k < sizeof types; k++) {
        uint8_t tlv[32];
        size_t n = put_tlv(tlv, EW_RSCP_TAG_AUTHENTICATION_PASSWORD, types[k], "hunter2", 7);
        char out[256];
        size_t w = 0;
        assert_int_equal(ew_rscp_print_text(tlv, n, 0, 0, out, sizeof out, &w, NULL), EW_OK);
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "68756e74657232"));
        assert_int_equal(ew_rscp_print_json(tlv, n, 0, 0, out, sizeof out, &w, NULL), EW_OK);
        assert_null(strstr(out, "hunter2"));
        assert_null(strstr(out, "68756e74657232"));
    }
}

/* ---- JSON for every tlv_types.json case ------------------------------------ */

/* Checks one JSON object of the printer against a vector node. */
static void check_json_node(const json_t *obj, const json_t *node) {
    assert_true(json_is_object(obj));
    const char *tname = short_name(tu_str(node, "tag"));
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(tname, strlen(tname));
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(obj, "tag")), tname);
    char id[16];
    snprintf(id, sizeof id, "0x%08lx", (unsigned long)t->id);
    assert_string_equal(json_string_value(json_object_get(obj, "id")), id);
    const char *type = tu_str(node, "type");
    /* tlv_types.json spells the types as the registry does. */
    assert_string_equal(json_string_value(json_object_get(obj, "type")), type);
    int tid = ew_rscp_type_from_name(type, strlen(type));
    const json_t *want = json_object_get(node, "value");
    const json_t *got = json_object_get(obj, "value");
    assert_non_null(got);
    /* Units: exactly the registry's, absent when it has none. */
    const json_t *unit = json_object_get(obj, "unit");
    if (t->unit[0] && tid != EW_RSCP_TYPE_CONTAINER)
        assert_string_equal(json_string_value(unit), t->unit);
    else
        assert_null(unit);
    switch (tid) {
    case EW_RSCP_TYPE_NONE:
        assert_true(json_is_null(got));
        break;
    case EW_RSCP_TYPE_BOOL:
        assert_true(json_is_boolean(got));
        assert_int_equal(json_is_true(got), json_is_true(want));
        break;
    case EW_RSCP_TYPE_FLOAT32:
    case EW_RSCP_TYPE_DOUBLE64:
        assert_true(json_is_number(got));
        assert_true(json_number_value(got) == json_number_value(want));
        break;
    case EW_RSCP_TYPE_BITFIELD:
    case EW_RSCP_TYPE_BYTEARRAY:
    case EW_RSCP_TYPE_CSTRING:
        assert_true(json_is_string(got));
        assert_int_equal(json_string_length(got), json_string_length(want));
        assert_memory_equal(json_string_value(got), json_string_value(want),
                            json_string_length(want));
        break;
    case EW_RSCP_TYPE_TIMESTAMP: {
        assert_true(json_equal((json_t *)got, (json_t *)want));
        char iso[64];
        ew_time_format(tu_int(want, "seconds"), (uint32_t)tu_int(want, "nanoseconds"), iso,
                       sizeof iso);
        assert_string_equal(json_string_value(json_object_get(obj, "iso")), iso);
        break;
    }
    case EW_RSCP_TYPE_ERROR: {
        assert_true(json_is_integer(got));
        assert_int_equal(json_integer_value(got), json_integer_value(want));
        const char *en = ew_rscp_error_name((uint32_t)json_integer_value(want));
        assert_string_equal(json_string_value(json_object_get(obj, "error")), en);
        break;
    }
    case EW_RSCP_TYPE_CONTAINER: {
        assert_true(json_is_array(got));
        assert_int_equal(json_array_size(got), json_array_size(want));
        for (size_t i = 0; i < json_array_size(want); i++)
            check_json_node(json_array_get(got, i), json_array_get(want, i));
        break;
    }
    default:
        assert_true(json_is_integer(got));
        assert_true(json_integer_value(got) == json_integer_value(want));
        break;
    }
}

static void test_json_tlv_vectors(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/tlv_types.json");
    size_t idx;
    const json_t *tc;
    json_array_foreach(json_object_get(root, "cases"), idx, tc) {
        size_t n;
        uint8_t *tlv = tu_unhex(tu_str(tc, "encoded_hex"), &n);
        static const unsigned flag_sets[] = {0, EW_RSCP_PRINT_PRETTY};
        json_t *first = NULL;
        for (int k = 0; k < 2; k++) {
            char *text = print_checked(ew_rscp_print_json, tlv, n, flag_sets[k]);
            json_t *j = parse_json(text);
            assert_true(json_is_array(j));
            assert_int_equal(json_array_size(j), 1);
            check_json_node(json_array_get(j, 0), tc);
            if (k == 0) {
                first = j;
                print_message("json %s\n", text);
            } else {
                /* Pretty printing changes only whitespace. */
                assert_true(json_equal(first, j));
                assert_non_null(strchr(text, '\n'));
                json_decref(j);
            }
            free(text);
        }
        json_decref(first);
        free(tlv);
    }
    /* The units of the vector tags that have one. */
    expect_unit(0x01800004, "W");  /* EMS_POWER_GRID */
    expect_unit(0x01000101, "W");  /* EMS_MAX_CHARGE_POWER */
    expect_unit(0x01000152, "Wh"); /* EMS_MANUAL_CHARGE_ENERGY_COUNTER */
    expect_unit(0x01800006, "%");  /* EMS_AUTARKY */
    json_decref(root);
}

static void test_json_frames(void **state) {
    (void)state;
    size_t len;
    uint8_t *area = tu_frame_area("poll_response_10_tags", &len);
    char *text = print_checked(ew_rscp_print_json, area, len, 0);
    json_t *j = parse_json(text);
    assert_int_equal(json_array_size(j), 10);
    static const struct {
        const char *tag;
        double value;
        const char *unit;
    } want[] = {{"EMS_BAT_SOC", 77, "%"},     {"EMS_POWER_PV", 4687, "W"},
                {"EMS_POWER_ADD", 0, "W"},    {"EMS_POWER_BAT", 2139, "W"},
                {"EMS_POWER_HOME", 612, "W"}, {"EMS_POWER_GRID", -1936, "W"},
                {"EMS_POWER_WB_ALL", 0, "W"}, {"EMS_SELF_CONSUMPTION", 58.75, "%"},
                {"EMS_AUTARKY", 100, "%"}};
    const json_t *ts = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(ts, "tag")), "INFO_UTC_TIME");
    assert_string_equal(json_string_value(json_object_get(ts, "iso")), "2023-11-14T22:13:20Z");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ts, "value"), "seconds")),
                     1700000000);
    for (size_t i = 0; i < 9; i++) {
        const json_t *o = json_array_get(j, i + 1);
        assert_string_equal(json_string_value(json_object_get(o, "tag")), want[i].tag);
        assert_true(json_number_value(json_object_get(o, "value")) == want[i].value);
        assert_string_equal(json_string_value(json_object_get(o, "unit")), want[i].unit);
    }
    json_decref(j);
    free(text);
    free(area);

    area = tu_frame_area("bat_response_nested", &len);
    text = print_checked(ew_rscp_print_json, area, len, EW_RSCP_PRINT_PRETTY);
    j = parse_json(text);
    const json_t *bat = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(bat, "tag")), "BAT_DATA");
    assert_string_equal(json_string_value(json_object_get(bat, "type")), "Container");
    const json_t *kids = json_object_get(bat, "value");
    assert_int_equal(json_array_size(kids), 5);
    assert_true(json_number_value(json_object_get(json_array_get(kids, 1), "value")) == 77.25);
    const json_t *state_c = json_object_get(json_array_get(kids, 2), "value");
    assert_int_equal(json_array_size(state_c), 3);
    assert_true(json_is_false(json_object_get(json_array_get(state_c, 2), "value")));
    const json_t *dcb = json_array_get(kids, 4);
    assert_string_equal(json_string_value(json_object_get(dcb, "type")), "Error");
    assert_int_equal(json_integer_value(json_object_get(dcb, "value")), 6);
    assert_string_equal(json_string_value(json_object_get(dcb, "error")), "RSCP_ERR_NOT_AVAILABLE");
    json_decref(j);
    free(text);
    free(area);
}

/* ---- special values ---------------------------------------------------- */

/* Prints the one value in |tlv| as JSON and returns the parsed object (the
 * array is returned in |*root|). */
static const json_t *json_one(const uint8_t *tlv, size_t n, json_t **root) {
    char *text = print_checked(ew_rscp_print_json, tlv, n, 0);
    *root = parse_json(text);
    free(text);
    assert_int_equal(json_array_size(*root), 1);
    return json_array_get(*root, 0);
}

static void test_json_special_values(void **state) {
    (void)state;
    uint8_t tlv[128];
    json_t *root;
    const json_t *o;
    size_t n;

    /* Floats without a JSON number: null. */
    static const uint8_t f_nan[] = {0x00, 0x00, 0xc0, 0x7f}, f_inf[] = {0x00, 0x00, 0x80, 0x7f},
                         f_ninf[] = {0x00, 0x00, 0x80, 0xff};
    static const uint8_t d_nan[] = {0, 0, 0, 0, 0, 0, 0xf8, 0x7f};
    const uint8_t *specials[] = {f_nan, f_inf, f_ninf, d_nan};
    for (int k = 0; k < 4; k++) {
        int dbl = k == 3;
        n = put_tlv(tlv, 0x01800006, dbl ? EW_RSCP_TYPE_DOUBLE64 : EW_RSCP_TYPE_FLOAT32,
                    specials[k], dbl ? 8 : 4);
        o = json_one(tlv, n, &root);
        assert_true(json_is_null(json_object_get(o, "value")));
        assert_string_equal(json_string_value(json_object_get(o, "tag")), "EMS_AUTARKY");
        json_decref(root);
    }
    /* Text shows them. */
    n = put_tlv(tlv, 0x01800006, EW_RSCP_TYPE_FLOAT32, f_nan, 4);
    char *text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_string_equal(text, "EMS_AUTARKY = nan %\n");
    free(text);
    n = put_tlv(tlv, 0x01800006, EW_RSCP_TYPE_FLOAT32, f_ninf, 4);
    text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_string_equal(text, "EMS_AUTARKY = -inf %\n");
    free(text);
    /* A float that needs 9 digits reads back exactly (0.7f). */
    static const uint8_t f07[] = {0x33, 0x33, 0x33, 0x3f};
    n = put_tlv(tlv, 0x01800014, EW_RSCP_TYPE_FLOAT32, f07, 4);
    o = json_one(tlv, n, &root);
    assert_true((float)json_number_value(json_object_get(o, "value")) == 0.7f);
    json_decref(root);

    /* CString bytes that are not UTF-8, control characters, quotes and a
     * NUL: the JSON stays valid; invalid bytes become U+FFFD. */
    static const char bad[] = "a\xff\"b\\c\n\x01\xc3(\xe2\x82\xac\xf0\x9f\x98\x80\x00z";
    n = put_tlv(tlv, 0x0A800001, EW_RSCP_TYPE_CSTRING, bad, sizeof bad - 1);
    o = json_one(tlv, n, &root);
    const json_t *s = json_object_get(o, "value");
    static const char want[] = "a\xef\xbf\xbd\"b\\c\n\x01\xef\xbf\xbd(\xe2\x82\xac\xf0\x9f\x98\x80"
                               "\x00z";
    assert_int_equal(json_string_length(s), sizeof want - 1);
    assert_memory_equal(json_string_value(s), want, sizeof want - 1);
    json_decref(root);
    /* Only invalid bytes, including overlong and surrogate encodings. */
    static const char worse[] = "\x80\xc0\xaf\xed\xa0\x80\xf5\x80\x80\x80\xfe";
    n = put_tlv(tlv, 0x0A800001, EW_RSCP_TYPE_CSTRING, worse, sizeof worse - 1);
    o = json_one(tlv, n, &root);
    s = json_object_get(o, "value");
    assert_true(json_is_string(s));
    assert_int_equal(json_string_length(s), 3 * (sizeof worse - 1));
    for (size_t i = 0; i < json_string_length(s); i += 3)
        assert_memory_equal(json_string_value(s) + i, "\xef\xbf\xbd", 3);
    json_decref(root);
    /* The text printer escapes the same way. */
    n = put_tlv(tlv, 0x0A800001, EW_RSCP_TYPE_CSTRING, "q\"\n\xff", 4);
    text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_string_equal(text, "INFO_SERIAL_NUMBER = \"q\\\"\\n\\ufffd\"\n");
    free(text);

    /* Timestamps: iso with and without fraction, before 1970. */
    static const struct {
        int64_t s;
        uint32_t ns;
        const char *iso;
    } tss[] = {{0, 0, "1970-01-01T00:00:00Z"},
               {-1, 0, "1969-12-31T23:59:59Z"},
               {1700000000, 123000000, "2023-11-14T22:13:20.123Z"},
               {1700000000, 5, "2023-11-14T22:13:20.000000005Z"},
               {951782400, 0, "2000-02-29T00:00:00Z"},
               {4102444800, 0, "2100-01-01T00:00:00Z"}};
    for (size_t k = 0; k < sizeof tss / sizeof tss[0]; k++) {
        uint8_t b[12];
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)((uint64_t)tss[k].s >> (8 * i));
        for (int i = 0; i < 4; i++)
            b[8 + i] = (uint8_t)(tss[k].ns >> (8 * i));
        n = put_tlv(tlv, 0x0A80000F, EW_RSCP_TYPE_TIMESTAMP, b, 12);
        o = json_one(tlv, n, &root);
        assert_string_equal(json_string_value(json_object_get(o, "iso")), tss[k].iso);
        const json_t *v = json_object_get(o, "value");
        assert_true(json_integer_value(json_object_get(v, "seconds")) == tss[k].s);
        assert_true(json_integer_value(json_object_get(v, "nanoseconds")) == tss[k].ns);
        json_decref(root);
        ew_rscp_value val;
        ew_rscp_iter it;
        ew_rscp_iter_init(&it, tlv, n, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &val, NULL), 1);
        char out[64];
        assert_int_equal(ew_rscp_value_format(&val, 0, out, sizeof out), (int)strlen(tss[k].iso));
        assert_string_equal(out, tss[k].iso);
    }

    /* UInt64 above INT64_MAX and Int64 minimum as JSON integers. */
    static const uint8_t u64max[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    n = put_tlv(tlv, 0x7F000001, EW_RSCP_TYPE_UINT64, u64max, 8);
    text = print_checked(ew_rscp_print_json, tlv, n, 0);
    assert_non_null(strstr(text, "\"value\":18446744073709551615"));
    free(text);
    static const uint8_t i64min[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    n = put_tlv(tlv, 0x7F000001, EW_RSCP_TYPE_INT64, i64min, 8);
    o = json_one(tlv, n, &root);
    assert_true(json_integer_value(json_object_get(o, "value")) == INT64_MIN);
    json_decref(root);

    /* Unknown tag and raw values: the JSON names them by number. */
    n = put_tlv(tlv, 0x7FABCDEF, 0x42, "\x01\x02\x03", 3);
    o = json_one(tlv, n, &root);
    assert_string_equal(json_string_value(json_object_get(o, "tag")), "0x7fabcdef");
    assert_string_equal(json_string_value(json_object_get(o, "id")), "0x7fabcdef");
    assert_string_equal(json_string_value(json_object_get(o, "raw")), "010203");
    assert_null(json_object_get(o, "value"));
    json_decref(root);
    n = put_tlv(tlv, 0x01800001, EW_RSCP_TYPE_INT32, "\x01\x02\x03", 3);
    o = json_one(tlv, n, &root);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "Int32");
    assert_string_equal(json_string_value(json_object_get(o, "raw")), "010203");
    json_decref(root);
    text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_non_null(strstr(text, "EMS_POWER_PV = raw 010203"));
    free(text);
    n = put_tlv(tlv, 0x7FABCDEF, EW_RSCP_TYPE_INT32, "\x2a\x00\x00\x00", 4);
    text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_string_equal(text, "0x7fabcdef = 42\n");
    free(text);
    /* The 1-byte Error form. */
    n = put_tlv(tlv, 0x03840000, EW_RSCP_TYPE_ERROR, "\x06", 1);
    text = print_checked(ew_rscp_print_text, tlv, n, 0);
    assert_string_equal(text, "BAT_DATA = error 6 RSCP_ERR_NOT_AVAILABLE\n");
    free(text);
}

static void test_value_format(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/tlv_types.json");
    static const struct {
        const char *hex;
        const char *text;
    } cases[] = {
        {"040080010604002efbffff", "-1234 W"},
        {"080080010301004d", "77 %"},
        {"0100800a0d0d005331302d313233343536373839", "\"S10-123456789\""},
        {"00008403ff040006000000", "error 6 RSCP_ERR_NOT_AVAILABLE"},
        {"0f00800a0f0c0000f1536500000000c0d45407", "2023-11-14T22:13:20.123Z"},
        {"300000010e1300310000010301000332000001060400d0070000", "(container, 19 bytes)"},
        {"0001000101010001", "true"},
        {"060080010a04000000ab42", "85.5 %"},
        {"520100010b080000000000404a9340", "1234.5625 Wh"},
        {"0101000609080000f1536500000000", "1700000000"},
        {"01000001000000", "none"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n;
        uint8_t *tlv = tu_unhex(cases[k].hex, &n);
        ew_rscp_value v;
        ew_rscp_iter it;
        ew_rscp_iter_init(&it, tlv, n, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
        int want = (int)strlen(cases[k].text);
        char out[128];
        assert_int_equal(ew_rscp_value_format(&v, 0, out, sizeof out), want);
        assert_string_equal(out, cases[k].text);
        /* Cut: full length returned, NUL-terminated prefix written. */
        for (size_t cap = 1; cap <= (size_t)want; cap++) {
            char *small = malloc(cap);
            assert_non_null(small);
            assert_int_equal(ew_rscp_value_format(&v, 0, small, cap), want);
            assert_int_equal(strlen(small), cap - 1);
            assert_memory_equal(small, cases[k].text, cap - 1);
            free(small);
        }
        assert_int_equal(ew_rscp_value_format(&v, 0, NULL, 0), want);
        free(tlv);
    }
    json_decref(root);
}

/* ---- faults -------------------------------------------------------------- */

static void test_faulty_tree(void **state) {
    (void)state;
    size_t len;
    uint8_t *area = tu_frame_area("bat_response_nested", &len);
    /* BAT_DCB_INFO (the last child, an Error of 4 bytes) claims 5 bytes. */
    size_t dcb = len - 11;
    assert_int_equal(area[dcb + 4], EW_RSCP_TYPE_ERROR);
    area[dcb + 5] = 5;
    char out[8192];
    size_t w = 0;
    ew_diag d = {0, 9999, NULL};
    int rc = ew_rscp_print_text(area, len, 0, 0, out, sizeof out, &w, &d);
    assert_int_equal(rc, EW_ERR_OVERRUN);
    assert_int_equal(d.code, EW_ERR_OVERRUN);
    assert_int_equal(d.offset, dcb);
    assert_int_equal(w, strlen(out));
    const char *good = "BAT_DATA:\n"
                       "  BAT_INDEX = 0\n"
                       "  BAT_RSOC = 77.25 %\n"
                       "  BAT_DEVICE_STATE:\n"
                       "    BAT_DEVICE_CONNECTED = true\n"
                       "    BAT_DEVICE_WORKING = true\n"
                       "    BAT_DEVICE_IN_SERVICE = false\n"
                       "  BAT_DCB_COUNT = 1\n";
    assert_memory_equal(out, good, strlen(good));
    const char *fault = out + strlen(good);
    char want_fault[256];
    char msg[200];
    ew_diag_format(&d, msg, sizeof msg);
    snprintf(want_fault, sizeof want_fault, "  !! %s\n", msg);
    assert_string_equal(fault, want_fault);
    char off[32];
    snprintf(off, sizeof off, "offset %zu", dcb);
    assert_non_null(strstr(fault, off));
    print_message("%s", out);

    /* Too small a buffer with a fault: the fault code, the full length. */
    size_t full = w;
    char *small = malloc(20);
    assert_non_null(small);
    assert_int_equal(ew_rscp_print_text(area, len, 0, 0, small, 20, &w, &d), EW_ERR_OVERRUN);
    assert_int_equal(w, full);
    assert_int_equal(strlen(small), 19);
    free(small);

    /* JSON: well formed, the good values, then {"error": ...}. */
    static const unsigned json_flags[] = {0, EW_RSCP_PRINT_PRETTY};
    for (int k = 0; k < 2; k++) {
        rc = ew_rscp_print_json(area, len, 0, json_flags[k], out, sizeof out, &w, &d);
        assert_int_equal(rc, EW_ERR_OVERRUN);
        assert_int_equal(d.offset, dcb);
        json_t *j = parse_json(out);
        assert_int_equal(json_array_size(j), 1);
        const json_t *kids = json_object_get(json_array_get(j, 0), "value");
        assert_int_equal(json_array_size(kids), 5);
        assert_string_equal(json_string_value(json_object_get(json_array_get(kids, 3), "tag")),
                            "BAT_DCB_COUNT");
        const json_t *err = json_array_get(kids, 4);
        assert_string_equal(json_string_value(json_object_get(err, "error")), "EW_ERR_OVERRUN");
        assert_int_equal(json_integer_value(json_object_get(err, "offset")), dcb);
        assert_string_equal(json_string_value(json_object_get(err, "what")), d.what);
        json_decref(j);
    }

    /* A fault at the top level, after one good value. */
    uint8_t two[32];
    size_t n = put_tlv(two, 0x01800008, EW_RSCP_TYPE_UCHAR8, "\x4d", 1);
    n += put_tlv(two + n, 0x01800001, EW_RSCP_TYPE_INT32, "\x4f\x12\x00\x00", 4);
    uint8_t *cut = copy_of(two, n - 1);
    rc = ew_rscp_print_text(cut, n - 1, 0, 0, out, sizeof out, &w, &d);
    assert_int_equal(rc, EW_ERR_OVERRUN);
    assert_int_equal(d.offset, 8);
    assert_memory_equal(out, "EMS_BAT_SOC = 77 %\n!! ", 22);
    rc = ew_rscp_print_json(cut, n - 1, 0, 0, out, sizeof out, &w, &d);
    assert_int_equal(rc, EW_ERR_OVERRUN);
    json_t *j = parse_json(out);
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "value")), 77);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "offset")), 8);
    json_decref(j);
    free(cut);

    /* Nesting beyond the limit: EW_ERR_DEPTH, JSON still parses. */
    uint8_t nest[20 * 7];
    for (int i = 0; i < 20; i++) {
        size_t inner = 7 * (size_t)(19 - i);
        put_tlv(nest + 7 * i, 0x03840000, EW_RSCP_TYPE_CONTAINER, NULL, 0);
        nest[7 * i + 5] = (uint8_t)inner;
        nest[7 * i + 6] = (uint8_t)(inner >> 8);
    }
    for (unsigned max = 1; max <= 19; max += 6) {
        rc = ew_rscp_print_json(nest, sizeof nest, max, 0, out, sizeof out, &w, &d);
        assert_int_equal(rc, EW_ERR_DEPTH);
        assert_int_equal(d.code, EW_ERR_DEPTH);
        assert_int_equal(d.offset, 7 * (size_t)max);
        j = parse_json(out);
        /* Descend max levels, then find the error entry. */
        const json_t *level = j;
        for (unsigned l = 0; l < max; l++) {
            assert_int_equal(json_array_size(level), 1);
            level = json_object_get(json_array_get(level, 0), "value");
        }
        assert_int_equal(json_array_size(level), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(level, 0), "error")),
                            "EW_ERR_DEPTH");
        json_decref(j);
        rc = ew_rscp_print_text(nest, sizeof nest, max, 0, out, sizeof out, &w, &d);
        assert_int_equal(rc, EW_ERR_DEPTH);
        assert_non_null(strstr(out, "!! "));
    }
    free(area);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_poll_answer),    cmocka_unit_test(test_text_bat_answer),
        cmocka_unit_test(test_password_masked),     cmocka_unit_test(test_password_masked_any_type),
        cmocka_unit_test(test_json_tlv_vectors),    cmocka_unit_test(test_json_frames),
        cmocka_unit_test(test_json_special_values), cmocka_unit_test(test_value_format),
        cmocka_unit_test(test_faulty_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
