/*
 * RSCP tag registry (generated from data/rscp_tags.csv and data/rscp_units.csv),
 * type names and sizes (rscp.md §3.2), device error names (§6) and namespace
 * names (§4.3).
 */
#include "testutil.h"

#include <energywire/rscp.h>
#include <energywire/rscp_tags.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG_C "\xC2\xB0" /* UTF-8 degree sign */ "C"

static const ew_rscp_tag_info *by_name(const char *s) {
    return ew_rscp_tag_by_name(s, strlen(s));
}

static int ascii_upper(int c) {
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int ieq(const char *a, const char *b) {
    while (*a && *b && ascii_upper((unsigned char)*a) == ascii_upper((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* ---- table shape ---------------------------------------------------------- */

static void test_count_and_order(void **state) {
    (void)state;
    /* rscp.md §4.2: the merged dictionary has 3800 distinct values. */
    assert_int_equal(ew_rscp_tag_count(), 3800);
    assert_null(ew_rscp_tag_at(3800));
    assert_null(ew_rscp_tag_at((size_t)-1));
    for (size_t i = 1; i < ew_rscp_tag_count(); i++)
        assert_true(ew_rscp_tag_at(i - 1)->id < ew_rscp_tag_at(i)->id);
    assert_int_equal(ew_rscp_tag_at(0)->id, 0x00000000u);
}

/* ---- known tags ------------------------------------------------------------ */

static void check_ems_power_pv(const ew_rscp_tag_info *t) {
    assert_non_null(t);
    assert_int_equal(t->id, 0x01800001u);
    assert_string_equal(t->name, "TAG_EMS_POWER_PV");
    assert_int_equal(t->type, EW_RSCP_TYPE_INT32);
    assert_string_equal(t->ns, "EMS");
    assert_string_equal(t->unit, "W");
    assert_string_equal(ew_rscp_tag_short_name(t), "EMS_POWER_PV");
}

static void test_known_tags(void **state) {
    (void)state;
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(0x01800001u);
    check_ems_power_pv(t);
    assert_ptr_equal(by_name("EMS_POWER_PV"), t);
    assert_ptr_equal(by_name("TAG_EMS_POWER_PV"), t);
    assert_ptr_equal(by_name("ems_power_pv"), t);
    assert_ptr_equal(by_name("tag_ems_power_pv"), t);
    assert_ptr_equal(by_name("Tag_Ems_Power_Pv"), t);
    assert_ptr_equal(by_name("0x01800001"), t);
    assert_ptr_equal(by_name("0X01800001"), t);
    assert_ptr_equal(by_name("0x1800001"), t);
    /* |len| bounds the name; no NUL is needed. */
    assert_ptr_equal(ew_rscp_tag_by_name("EMS_POWER_PV_AND_MORE", 12), t);
    assert_ptr_equal(ew_rscp_tag_by_name("TAG_EMS_POWER_PVxyz", 16), t);
    assert_int_equal(EW_RSCP_TAG_EMS_POWER_PV, 0x01800001u);

    t = by_name("BAT_INDEX");
    assert_non_null(t);
    assert_int_equal(t->id, 0x03040001u);
    assert_int_equal(t->type, EW_RSCP_TYPE_UINT16);
    assert_string_equal(t->ns, "BAT");
    assert_string_equal(t->unit, "");
    assert_ptr_equal(ew_rscp_tag_by_id(EW_RSCP_TAG_BAT_INDEX), t);

    /* Request/response pair and the exception of rscp.md §4.1. */
    assert_int_equal(by_name("EMS_REQ_POWER_PV")->id, 0x01000001u);
    assert_int_equal(by_name("EMS_REQ_GET_SYS_SPECS")->id, 0x01000097u);
    assert_int_equal(by_name("EMS_GET_SYS_SPECS")->id, 0x01800098u);
    /* The hand-written constants of rscp.h agree with the table. */
    assert_int_equal(by_name("RSCP_REQ_AUTHENTICATION")->id, EW_RSCP_TAG_REQ_AUTHENTICATION);
    assert_int_equal(by_name("RSCP_AUTHENTICATION_USER")->id, EW_RSCP_TAG_AUTHENTICATION_USER);
    assert_int_equal(by_name("RSCP_AUTHENTICATION_PASSWORD")->id,
                     EW_RSCP_TAG_AUTHENTICATION_PASSWORD);
    assert_int_equal(by_name("RSCP_AUTHENTICATION")->id, EW_RSCP_TAG_AUTHENTICATION);
    /* Types of rscp.md §9 */
    assert_int_equal(by_name("EMS_BAT_SOC")->type, EW_RSCP_TYPE_UCHAR8);
    assert_int_equal(by_name("INFO_UTC_TIME")->type, EW_RSCP_TYPE_TIMESTAMP);
    assert_int_equal(by_name("PVI_DC_POWER")->type, EW_RSCP_TYPE_CONTAINER);
    /* A row the CSV leaves without a type on purpose (rscp.md §9.4). */
    assert_int_equal(by_name("PVI_VALUE")->type, -1);
}

/* Names in the CSV that are not all upper case keep their spelling. */
static void test_mixed_case_names(void **state) {
    (void)state;
    const ew_rscp_tag_info *t = by_name("EMSHB_PARAM_WB_L1_ACTIVE");
    assert_non_null(t);
    assert_string_equal(t->name, "TAG_EMSHB_PARAM_WB_L1_Active");
    assert_ptr_equal(by_name("TAG_EMSHB_PARAM_WB_L1_Active"), t);
    assert_int_equal(EW_RSCP_TAG_EMSHB_PARAM_WB_L1_ACTIVE, t->id);
    assert_non_null(by_name("se_param_pvpower"));
}

/*
 * rscp_tags.csv gives two names to two values each and marks the value fewer
 * sources use as doubtful; the name resolves to the other one.
 */
static void test_duplicate_names(void **state) {
    (void)state;
    assert_int_equal(by_name("LCT_PARAM_DURATION")->id, 0x2B000000u);
    assert_int_equal(by_name("TAG_EEBUS_EMOBILITY_WB_EV_REQ_GET_COMMUNICATION_STANDARD")->id,
                     0x28010008u);
    assert_string_equal(ew_rscp_tag_by_id(0x2B00000Bu)->name, "TAG_LCT_PARAM_DURATION");
    assert_string_equal(ew_rscp_tag_by_id(0x28000008u)->name,
                        "TAG_EEBUS_EMOBILITY_WB_EV_REQ_GET_COMMUNICATION_STANDARD");
    assert_int_equal(EW_RSCP_TAG_LCT_PARAM_DURATION, 0x2B000000u);
    assert_int_equal(EW_RSCP_TAG_LCT_PARAM_DURATION__2B00000B, 0x2B00000Bu);
    assert_int_equal(EW_RSCP_TAG_EEBUS_EMOBILITY_WB_EV_REQ_GET_COMMUNICATION_STANDARD, 0x28010008u);
    assert_int_equal(EW_RSCP_TAG_EEBUS_EMOBILITY_WB_EV_REQ_GET_COMMUNICATION_STANDARD__28000008,
                     0x28000008u);
}

static void test_unknown(void **state) {
    (void)state;
    assert_null(ew_rscp_tag_by_id(0x12345678u));
    assert_null(ew_rscp_tag_by_id(0xFFFFFFFFu));
    assert_null(ew_rscp_tag_by_id(0x03800000u));
    assert_null(by_name("NO_SUCH_TAG"));
    assert_null(by_name("EMS_POWER_P"));   /* prefix of a name */
    assert_null(by_name("EMS_POWER_PVX")); /* a name is a prefix of it */
    assert_null(by_name("EMS_POWER_PV "));
    assert_null(by_name(" EMS_POWER_PV"));
    assert_null(by_name("TAG_"));
    assert_null(by_name("TAG"));
    assert_null(by_name("TAG_TAG_EMS_POWER_PV"));
    assert_null(by_name(""));
    assert_null(ew_rscp_tag_by_name(NULL, 0));
    assert_null(ew_rscp_tag_by_name(NULL, 5));
    assert_null(by_name("0x"));
    assert_null(by_name("0x12345678"));  /* well formed but not in the table */
    assert_null(by_name("0x123456789")); /* more than 8 digits */
    assert_null(by_name("0x0180000G"));
    assert_null(by_name("25165825")); /* decimal ids only via ew_rscp_tag_parse() */
    assert_null(by_name("\xC3\xA9MS_POWER_PV"));
    assert_null(ew_rscp_tag_short_name(NULL));
}

/* Every row: id -> entry -> name -> entry and id -> hex text -> entry. */
static void test_round_trip_all(void **state) {
    (void)state;
    size_t n = ew_rscp_tag_count(), by_other_row = 0;
    for (size_t i = 0; i < n; i++) {
        const ew_rscp_tag_info *t = ew_rscp_tag_at(i);
        assert_non_null(t);
        assert_ptr_equal(ew_rscp_tag_by_id(t->id), t);

        char buf[96];
        snprintf(buf, sizeof buf, "0x%08X", (unsigned)t->id);
        assert_ptr_equal(by_name(buf), t);
        uint32_t id = 0;
        assert_int_equal(ew_rscp_tag_parse(buf, strlen(buf), &id), EW_OK);
        assert_int_equal(id, t->id);
        snprintf(buf, sizeof buf, "%u", (unsigned)t->id);
        assert_int_equal(ew_rscp_tag_parse(buf, strlen(buf), &id), EW_OK);
        assert_int_equal(id, t->id);

        const ew_rscp_tag_info *f = by_name(t->name);
        assert_non_null(f);
        const char *s = ew_rscp_tag_short_name(t);
        assert_ptr_equal(by_name(s), f);
        for (size_t k = 0; s[k] && k + 1 < sizeof buf; k++)
            buf[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
        buf[strlen(s) < sizeof buf ? strlen(s) : sizeof buf - 1] = '\0';
        assert_ptr_equal(by_name(buf), f);
        if (f != t) {
            /* Only the two doubtful duplicates (see test_duplicate_names). */
            assert_true(ieq(f->name, t->name));
            assert_true(t->id == 0x2B00000Bu || t->id == 0x28000008u);
            by_other_row++;
        } else {
            assert_int_equal(ew_rscp_tag_parse(t->name, strlen(t->name), &id), EW_OK);
            assert_int_equal(id, t->id);
        }

        /* Field sanity: namespace per rscp.md §4.3, known or no type, unit set. */
        assert_non_null(t->ns);
        assert_non_null(ew_rscp_namespace_name((uint8_t)(t->id >> 24)));
        assert_string_equal(t->ns, ew_rscp_namespace_name((uint8_t)(t->id >> 24)));
        assert_true(t->type == -1 || ew_rscp_type_name(t->type) != NULL);
        assert_non_null(t->unit);
        assert_int_equal(strncmp(t->name, "TAG_", 4), 0);
    }
    assert_int_equal(by_other_row, 2);
}

static void test_units(void **state) {
    (void)state;
    static const struct {
        const char *name;
        const char *unit;
    } cases[] = {
        {"EMS_POWER_PV", "W"},
        {"EMS_POWER_GRID", "W"},
        {"EMS_BAT_SOC", "%"},
        {"EMS_AUTARKY", "%"},
        {"EMS_SELF_CONSUMPTION", "%"},
        {"BAT_RSOC", "%"},
        {"BAT_ASOC", "%"},
        {"BAT_MODULE_VOLTAGE", "V"},
        {"BAT_CURRENT", "A"},
        {"BAT_MAX_DCB_CELL_TEMPERATURE", DEG_C},
        {"BAT_USABLE_CAPACITY", "Ah"},
        {"PVI_DC_POWER", "W"},
        {"PVI_DC_VOLTAGE", "V"},
        {"PVI_DC_CURRENT", "A"},
        {"PVI_AC_POWER", "W"},
        {"PVI_TEMPERATURE", DEG_C},
        {"PM_POWER_L1", "W"},
        {"PM_ENERGY_L3", "Wh"},
        {"DB_BAT_POWER_IN", "Wh"},
        {"DB_AUTARKY", "%"},
        {"EMS_MAX_CHARGE_POWER", "W"},
        /* Not listed: no unit. */
        {"BAT_INDEX", ""},
        {"PVI_VALUE", ""},
        {"EMS_DERATE_AT_PERCENT_VALUE", ""},
        {"INFO_SERIAL_NUMBER", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ew_rscp_tag_info *t = by_name(cases[i].name);
        if (!t)
            fail_msg("%s not in the table", cases[i].name);
        if (strcmp(t->unit, cases[i].unit) != 0)
            fail_msg("%s: unit \"%s\", want \"%s\"", cases[i].name, t->unit, cases[i].unit);
    }
}

/* The names of tests/vectors/rscp/tlv_types.json resolve to their ids. */
static void test_vector_names(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/tlv_types.json");
    const json_t *cases = json_object_get(root, "cases");
    assert_true(json_array_size(cases) > 0);
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = tu_str(c, "tag");
        uint32_t want = (uint32_t)strtoul(tu_str(c, "tag_hex"), NULL, 16);
        const ew_rscp_tag_info *t = by_name(name);
        if (!t || t->id != want)
            fail_msg("%s does not resolve to %s", name, tu_str(c, "tag_hex"));
        const char *type = tu_str(c, "type");
        int id = ew_rscp_type_from_name(type, strlen(type));
        assert_int_equal(id, (int)strtol(tu_str(c, "type_id"), NULL, 16));
        assert_string_equal(ew_rscp_type_name(id), type);
    }
    json_decref(root);
}

static void test_parse(void **state) {
    (void)state;
    uint32_t id = 0;
#define PARSE_OK(text, want)                                                                       \
    do {                                                                                           \
        id = 0;                                                                                    \
        assert_int_equal(ew_rscp_tag_parse(text, strlen(text), &id), EW_OK);                       \
        assert_int_equal(id, want);                                                                \
    } while (0)
#define PARSE_FAIL(text)                                                                           \
    assert_int_equal(ew_rscp_tag_parse(text, strlen(text), &id), EW_ERR_NOT_FOUND)
    PARSE_OK("EMS_POWER_PV", 0x01800001u);
    PARSE_OK("tag_ems_power_pv", 0x01800001u);
    PARSE_OK("0x01800001", 0x01800001u);
    PARSE_OK("25165825", 0x01800001u);
    /* Numbers need not be in the table: unknown tags are legal on the wire. */
    PARSE_OK("0xDEADBEEF", 0xDEADBEEFu);
    PARSE_OK("0x12345678", 0x12345678u);
    PARSE_OK("0", 0u);
    PARSE_OK("4294967295", 0xFFFFFFFFu);
    PARSE_FAIL("4294967296");
    PARSE_FAIL("0x123456789");
    PARSE_FAIL("0x");
    PARSE_FAIL("0xG");
    PARSE_FAIL("-1");
    PARSE_FAIL("+1");
    PARSE_FAIL("12a");
    PARSE_FAIL("");
    PARSE_FAIL("NO_SUCH_TAG");
    PARSE_FAIL(" EMS_POWER_PV");
    assert_int_equal(id, 0xFFFFFFFFu); /* untouched by failures */
    assert_int_equal(ew_rscp_tag_parse("12345", 3, &id), EW_OK);
    assert_int_equal(id, 123u);
    assert_int_equal(ew_rscp_tag_parse(NULL, 0, &id), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_tag_parse("1", 1, NULL), EW_ERR_INVAL);
#undef PARSE_OK
#undef PARSE_FAIL
}

/* ---- namespaces, types, errors ------------------------------------------------ */

static void test_namespaces(void **state) {
    (void)state;
    static const struct {
        unsigned ns;
        const char *name;
    } cases[] = {
        {0x00, "RSCP"},
        {0x01, "EMS"},
        {0x02, "PVI"},
        {0x03, "BAT"},
        {0x04, "DCDC"},
        {0x05, "PM"},
        {0x06, "DB"},
        {0x07, "FMS"},
        {0x08, "SRV"},
        {0x09, "HA"},
        {0x0A, "INFO"},
        {0x0B, "EP"},
        {0x0C, "SYS"},
        {0x0D, "UM"},
        {0x0E, "WB"},
        {0x0F, "PTDB"},
        {0x10, "LED"},
        {0x11, "DIAG"},
        {0x12, "SGR"},
        {0x13, "MBS"},
        {0x14, "EH"},
        {0x15, "UPNPC"},
        {0x16, "KNX"},
        {0x17, "EMSHB"},
        {0x18, "MYPV"},
        {0x19, "GPIO"},
        {0x1A, "FARM"},
        {0x1B, "SE"},
        {0x1C, "QPI"},
        {0x1D, "GAPP"},
        {0x1E, "EMSPR"},
        {0x1F, "IOBOX"},
        {0x20, "WBD"},
        {0x21, "REFU"},
        {0x22, "OVP"},
        {0x23, "NETWORK"},
        {0x24, "WBAUTH"},
        {0x25, "PLAY"},
        {0x26, "GDI"},
        {0x27, "SCM"},
        {0x28, "EEBUS"},
        {0x29, "SDSA"},
        {0x2A, "ETH"},
        {0x2B, "LCT"},
        {0x2C, "HG_OCPP_WB_CFG_LC"},
        {0x2D, "OCPP_WB_LC"},
        {0x2E, "WB_BADGE_MGT_LC"},
        {0x2F, "LC_USR_MGT_LC"},
        {0x30, "DASHBOARD_LC"},
        {0x31, "RD"},
        {0x32, "SMGW"},
        {0xF0, "UMRC"},
        {0xF4, "LOG"},
        {0xF5, "DCL"},
        {0xF6, "CL"},
        {0xF7, "DBRC"},
        {0xF8, "SERVER"},
        {0xF9, "SYS_CMD"},
        {0xFA, "DB_SERVICE"},
        {0xFB, "DB_RECOVERY"},
        {0xFC, "GROUP_CTRL"},
        {0xFD, "ADMIN"},
        {0xFE, "FINAL_CHECK"},
    };
    size_t named = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *n = ew_rscp_namespace_name((uint8_t)cases[i].ns);
        assert_non_null(n);
        assert_string_equal(n, cases[i].name);
    }
    for (unsigned b = 0; b < 256; b++)
        named += ew_rscp_namespace_name((uint8_t)b) != NULL;
    assert_int_equal(named, sizeof cases / sizeof cases[0]);
    assert_null(ew_rscp_namespace_name(0x33));
    assert_null(ew_rscp_namespace_name(0xEF));
    assert_null(ew_rscp_namespace_name(0xF1));
    assert_null(ew_rscp_namespace_name(0xFF));
}

static void test_types(void **state) {
    (void)state;
    static const struct {
        int id;
        const char *name;
        int size;
    } cases[] = {
        {EW_RSCP_TYPE_NONE, "None", 0},
        {EW_RSCP_TYPE_BOOL, "Bool", 1},
        {EW_RSCP_TYPE_CHAR8, "Char8", 1},
        {EW_RSCP_TYPE_UCHAR8, "UChar8", 1},
        {EW_RSCP_TYPE_INT16, "Int16", 2},
        {EW_RSCP_TYPE_UINT16, "UInt16", 2},
        {EW_RSCP_TYPE_INT32, "Int32", 4},
        {EW_RSCP_TYPE_UINT32, "UInt32", 4},
        {EW_RSCP_TYPE_INT64, "Int64", 8},
        {EW_RSCP_TYPE_UINT64, "UInt64", 8},
        {EW_RSCP_TYPE_FLOAT32, "Float32", 4},
        {EW_RSCP_TYPE_DOUBLE64, "Double64", 8},
        {EW_RSCP_TYPE_BITFIELD, "Bitfield", -1},
        {EW_RSCP_TYPE_CSTRING, "CString", -1},
        {EW_RSCP_TYPE_CONTAINER, "Container", -1},
        {EW_RSCP_TYPE_TIMESTAMP, "Timestamp", 12},
        {EW_RSCP_TYPE_BYTEARRAY, "ByteArray", -1},
        {EW_RSCP_TYPE_ERROR, "Error", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(ew_rscp_type_name(cases[i].id), cases[i].name);
        assert_int_equal(ew_rscp_type_fixed_size(cases[i].id), cases[i].size);
        const char *n = cases[i].name;
        assert_int_equal(ew_rscp_type_from_name(n, strlen(n)), cases[i].id);
        char lower[16], upper[16];
        size_t k = 0;
        for (; n[k]; k++) {
            lower[k] = (char)(n[k] >= 'A' && n[k] <= 'Z' ? n[k] - 'A' + 'a' : n[k]);
            upper[k] = (char)ascii_upper((unsigned char)n[k]);
        }
        lower[k] = upper[k] = '\0';
        assert_int_equal(ew_rscp_type_from_name(lower, k), cases[i].id);
        assert_int_equal(ew_rscp_type_from_name(upper, k), cases[i].id);
    }
    assert_null(ew_rscp_type_name(0x11)); /* rscp-lib's Container_compressed: no tag uses it */
    assert_null(ew_rscp_type_name(0xFE));
    assert_null(ew_rscp_type_name(-1));
    assert_null(ew_rscp_type_name(0x100));
    assert_int_equal(ew_rscp_type_fixed_size(0x11), -1);
    assert_int_equal(ew_rscp_type_fixed_size(-1), -1);
    assert_int_equal(ew_rscp_type_from_name("", 0), -1);
    assert_int_equal(ew_rscp_type_from_name(NULL, 0), -1);
    assert_int_equal(ew_rscp_type_from_name("UInt3", 5), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rscp_type_from_name("UInt320", 7), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rscp_type_from_name("Uint32x", 6), EW_RSCP_TYPE_UINT32);
    assert_int_equal(ew_rscp_type_from_name("Error8", 6), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rscp_type_from_name(NULL, 3), EW_ERR_NOT_FOUND);
}

static void test_errors(void **state) {
    (void)state;
    static const struct {
        uint32_t code;
        const char *name;
    } cases[] = {
        {EW_RSCP_ERR_NOT_HANDLED, "RSCP_ERR_NOT_HANDLED"},
        {EW_RSCP_ERR_ACCESS_DENIED, "RSCP_ERR_ACCESS_DENIED"},
        {EW_RSCP_ERR_FORMAT, "RSCP_ERR_FORMAT"},
        {EW_RSCP_ERR_AGAIN, "RSCP_ERR_AGAIN"},
        {EW_RSCP_ERR_OUT_OF_BOUNDS, "RSCP_ERR_OUT_OF_BOUNDS"},
        {EW_RSCP_ERR_NOT_AVAILABLE, "RSCP_ERR_NOT_AVAILABLE"},
        {EW_RSCP_ERR_UNKNOWN_TAG, "RSCP_ERR_UNKNOWN_TAG"},
        {EW_RSCP_ERR_ALREADY_IN_USE, "RSCP_ERR_ALREADY_IN_USE"},
        {EW_RSCP_ERR_INVALID_TIME, "RSCP_ERR_INVALID_TIME"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(ew_rscp_error_name(cases[i].code), cases[i].name);
        const char *text = ew_rscp_error_text(cases[i].code);
        assert_non_null(text);
        assert_true(strlen(text) > 10);
    }
    assert_int_equal(EW_RSCP_ERR_NOT_HANDLED, 1u);
    assert_int_equal(EW_RSCP_ERR_ALREADY_IN_USE, 8u);
    assert_null(ew_rscp_error_name(0));
    assert_null(ew_rscp_error_name(9));
    assert_null(ew_rscp_error_name(0xFFFFFFFEu));
    assert_non_null(ew_rscp_error_text(0));
    assert_non_null(ew_rscp_error_text(9));
    assert_string_not_equal(ew_rscp_error_text(6), ew_rscp_error_text(9));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_and_order),
        cmocka_unit_test(test_known_tags),
        cmocka_unit_test(test_mixed_case_names),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_round_trip_all),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_vector_names),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_namespaces),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
