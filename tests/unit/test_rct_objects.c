/*
 * RCT object registry generated from data/rct_oids.csv: size, order, lookups
 * by id and name, selection by group and glob, and the decode type rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <energywire/rct.h>

#include "testutil.h"

static void test_table(void **state) {
    (void)state;
    size_t n = ew_rct_object_count();
    assert_int_equal(n, 895); /* rct.md §16 */
    int ts = 0, ev = 0, differ = 0;
    for (size_t i = 0; i < n; i++) {
        const ew_rct_object *o = ew_rct_object_at(i);
        assert_non_null(o);
        if (i)
            assert_true(ew_rct_object_at(i - 1)->id < o->id);
        assert_ptr_equal(ew_rct_object_by_id(o->id), o);
        assert_ptr_equal(ew_rct_object_by_name(o->name, strlen(o->name)), o);
        assert_non_null(ew_rct_type_name(o->request_type));
        assert_non_null(ew_rct_type_name(o->response_type));
        ts += o->response_type == EW_RCT_TYPE_TIMESERIES;
        ev += o->response_type == EW_RCT_TYPE_EVENT_TABLE;
        differ += o->response_type != o->request_type;
        uint32_t id;
        char hex[16];
        snprintf(hex, sizeof hex, "0x%08X", o->id);
        assert_int_equal(ew_rct_oid_parse(hex, strlen(hex), &id), EW_OK);
        assert_int_equal(id, o->id);
    }
    assert_null(ew_rct_object_at(n));
    assert_int_equal(ts, 44);
    assert_int_equal(ev, 1);
    assert_int_equal(differ, 45);
}

static void test_lookups(void **state) {
    (void)state;
    const ew_rct_object *o = ew_rct_object_by_id(0x959930BFu);
    assert_non_null(o);
    assert_string_equal(o->name, "battery.soc");
    assert_string_equal(o->group, "BATTERY");
    assert_int_equal(o->request_type, EW_RCT_TYPE_FLOAT);
    assert_string_equal(o->unit, "%");
    assert_string_equal(o->description, "SOC (State of charge)");
    assert_ptr_equal(ew_rct_object_by_name("BATTERY.SOC", 11), o);  /* case folded */
    assert_ptr_equal(ew_rct_object_by_name("battery.socX", 11), o); /* |len| counts */
    assert_null(ew_rct_object_by_name("battery.so", 10));
    assert_null(ew_rct_object_by_name("", 0));
    assert_null(ew_rct_object_by_id(0x12345678u)); /* unknown: NULL, decode as raw */
    assert_int_equal(ew_rct_type_for(0x12345678u, EW_RCT_CMD_RESPONSE), EW_RCT_TYPE_UNKNOWN);
    o = ew_rct_object_by_name("android_description", 19);
    assert_non_null(o);
    assert_string_equal(o->sim_data, "RCT");
    /* UTF-8 units survive generation. */
    int deg = 0;
    for (size_t i = 0; i < ew_rct_object_count(); i++)
        deg += strcmp(ew_rct_object_at(i)->unit, "\xc2\xb0"
                                                 "C") == 0;
    assert_true(deg > 0);
    /* Descriptions with commas (quoted in the CSV). */
    o = ew_rct_object_by_name("display_struct.brightness", 25);
    assert_non_null(o);
    assert_string_equal(o->description, "Display brightness, [0..255]");
    /* Request vs response type. */
    o = ew_rct_object_by_name("logger.minutes_soc_log_ts", 25);
    assert_non_null(o);
    assert_int_equal(ew_rct_type_for(o->id, EW_RCT_CMD_WRITE), EW_RCT_TYPE_INT32);
    assert_int_equal(ew_rct_type_for(o->id, EW_RCT_CMD_LONG_RESPONSE), EW_RCT_TYPE_TIMESERIES);
    assert_int_equal(ew_rct_type_for(o->id, EW_RCT_CMD_PLANT_RESPONSE), EW_RCT_TYPE_TIMESERIES);
    /* Numbers parse whether or not they are known. */
    uint32_t id;
    assert_int_equal(ew_rct_oid_parse("battery.soc", 11, &id), EW_OK);
    assert_int_equal(id, 0x959930BFu);
    assert_int_equal(ew_rct_oid_parse("0x12345678", 10, &id), EW_OK);
    assert_int_equal(id, 0x12345678u);
    assert_int_equal(ew_rct_oid_parse("4294967295", 10, &id), EW_OK);
    assert_int_equal(id, 0xFFFFFFFFu);
    assert_int_equal(ew_rct_oid_parse("4294967296", 10, &id), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rct_oid_parse("0x1g", 4, &id), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rct_oid_parse("no.such.name", 12, &id), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_rct_type_from_name("battery_module_status", 21),
                     EW_RCT_TYPE_BATTERY_MODULE_STATUS);
    assert_int_equal(ew_rct_type_from_name("FLOA", 4), EW_ERR_NOT_FOUND);
}

static void test_select(void **state) {
    (void)state;
    static const ew_rct_object *out[1000];
    size_t n = ew_rct_object_select(NULL, NULL, out, 1000);
    assert_int_equal(n, 895);
    size_t bat = ew_rct_object_select("battery", NULL, out, 1000);
    assert_int_equal(bat, 161);
    for (size_t i = 0; i < bat; i++)
        assert_string_equal(out[i]->group, "BATTERY");
    n = ew_rct_object_select(NULL, "battery.*", out, 1000);
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(out[i]->name, "battery.", 8);
    n = ew_rct_object_select(NULL, "*soc*", out, 1000);
    assert_true(n > 5);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(strstr(out[i]->name, "soc"));
        found += strcmp(out[i]->name, "battery.soc") == 0;
        if (i)
            assert_true(strcmp(out[i - 1]->name, out[i]->name) != 0);
    }
    assert_int_equal(found, 1);
    /* Brackets are literal; '?' is one character; counting beyond |cap|. */
    assert_int_equal(ew_rct_object_select(NULL, "battery.cells[0]", NULL, 0), 1);
    assert_int_equal(ew_rct_object_select(NULL, "battery.cells[?]", out, 2), 7);
    assert_int_equal(ew_rct_object_select("nosuchgroup", NULL, out, 10), 0);
    assert_true(ew_rct_glob_match("*", 1, ""));
    assert_true(ew_rct_glob_match("a*b*c", 5, "aXXbYYc"));
    assert_false(ew_rct_glob_match("a*b*c", 5, "aXXbYY"));
    assert_true(ew_rct_glob_match("**x", 3, "abx"));
    assert_false(ew_rct_glob_match("", 0, "a"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
