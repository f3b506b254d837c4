/*
 * E3/DC answer parsers for the EMS / INFO / HA / DB operations: the poll
 * answer vector, answers built with ew_rscp_builder in the alternative types
 * the peers report (rscp.md §9 "disputed"), device errors as struct fields,
 * missing answers and children as EW_ERR_PROTO naming the tag, several
 * answers in one frame, and the serial-number model rule.
 */
#include "testutil.h"

#include <energywire/e3dc.h>
#include <energywire/rscp_tags.h>

#include <stdlib.h>
#include <string.h>

#define T(x) EW_RSCP_TAG_##x

/* ---- helpers ------------------------------------------------------------ */

static uint8_t abuf[65536];

static ew_rscp_builder *start(void) {
    static ew_rscp_builder b;
    ew_rscp_builder_init(&b, abuf, sizeof abuf);
    return &b;
}

static size_t done(ew_rscp_builder *b) {
    size_t n = 0;
    assert_int_equal(ew_rscp_builder_finish(b, &n), EW_OK);
    return n;
}

#define HAS(o, bit) EW_E3DC_HAS(o, bit)

/* The ten poll answers with the usual types, PV/battery/grid as given. */
static void poll_answers(ew_rscp_builder *b, int skip_tag_of) {
    ew_rscp_timestamp ts = {1700000000, 5};
    if (skip_tag_of != 0)
        ew_rscp_builder_add_timestamp(b, T(INFO_UTC_TIME), ts);
    if (skip_tag_of != 1)
        ew_rscp_builder_add_uchar8(b, T(EMS_BAT_SOC), 50);
    if (skip_tag_of != 2)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_PV), 3000);
    if (skip_tag_of != 3)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_ADD), -500);
    if (skip_tag_of != 4)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_BAT), -1200);
    if (skip_tag_of != 5)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_HOME), 800);
    if (skip_tag_of != 6)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_GRID), 250);
    if (skip_tag_of != 7)
        ew_rscp_builder_add_int32(b, T(EMS_POWER_WB_ALL), 0);
    if (skip_tag_of != 8)
        ew_rscp_builder_add_float32(b, T(EMS_SELF_CONSUMPTION), 12.5f);
    if (skip_tag_of != 9)
        ew_rscp_builder_add_float32(b, T(EMS_AUTARKY), 99.5f);
}

/* ---- poll --------------------------------------------------------------- */

static void test_poll_vector(void **state) {
    (void)state;
    size_t n = 0;
    uint8_t *area = tu_frame_area("poll_response_10_tags", &n);
    ew_e3dc_poll p;
    ew_diag d = {0};
    assert_int_equal(ew_e3dc_parse_poll(area, n, &p, &d), EW_OK);
    assert_int_equal(p.present, (1u << EW_E3DC_POLL_NFIELDS) - 1);
    assert_int_equal(p.time.seconds, 1700000000);
    assert_int_equal(p.time.nanoseconds, 0);
    assert_int_equal(p.soc_pct, 77);
    assert_int_equal(p.pv_power_w, 4687);
    assert_int_equal(p.add_power_w, 0);
    assert_int_equal(p.battery_power_w, 2139);
    assert_int_equal(p.house_power_w, 612);
    assert_int_equal(p.grid_power_w, -1936);
    assert_int_equal(p.wallbox_power_w, 0);
    assert_true(p.self_consumption_pct == 58.75);
    assert_true(p.autarky_pct == 100.0);
    assert_int_equal(p.error.count, 0);
    free(area);
}

static void test_poll_alternatives(void **state) {
    (void)state;
    ew_e3dc_poll p;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    /* Shuffled, other answers in between, other integer and float types,
     * EMS_POWER_WB_ALL as None (go-rscp lists it so, rscp.md §9.1). */
    ew_rscp_builder_add_float32(b, T(EMS_AUTARKY), 42.0f);
    ew_rscp_builder_add_uint32(b, T(EMS_STATUS), 3);
    ew_rscp_builder_add_uint32(b, T(EMS_POWER_PV), 5000);
    ew_rscp_builder_add_uint16(b, T(EMS_BAT_SOC), 99);
    ew_rscp_builder_add_int64(b, T(EMS_POWER_ADD), -750);
    ew_rscp_builder_add_int16(b, T(EMS_POWER_BAT), -300);
    ew_rscp_builder_add_double64(b, T(EMS_POWER_HOME), 612.0);
    ew_rscp_builder_add_int32(b, T(EMS_POWER_GRID), -20);
    ew_rscp_builder_add_none(b, T(EMS_POWER_WB_ALL));
    ew_rscp_builder_add_double64(b, T(EMS_SELF_CONSUMPTION), 33.25);
    ew_rscp_timestamp ts = {1800000000, 7};
    ew_rscp_builder_add_timestamp(b, T(INFO_UTC_TIME), ts);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_poll(abuf, n, &p, &d), EW_OK);
    assert_int_equal(p.pv_power_w, 5000);
    assert_int_equal(p.soc_pct, 99);
    assert_int_equal(p.add_power_w, 750); /* negated: + = production */
    assert_int_equal(p.battery_power_w, -300);
    assert_int_equal(p.house_power_w, 612);
    assert_int_equal(p.grid_power_w, -20);
    assert_false(HAS(&p, EW_E3DC_POLL_WALLBOX));
    assert_true(HAS(&p, EW_E3DC_POLL_AUTARKY));
    assert_true(p.self_consumption_pct == 33.25);
    assert_int_equal(p.time.seconds, 1800000000);
    assert_int_equal(p.time.nanoseconds, 7);
}

static void test_poll_errors(void **state) {
    (void)state;
    ew_e3dc_poll p;
    ew_diag d = {0};
    /* Each answer missing in turn: EW_ERR_PROTO naming it. */
    static const char *const miss[10] = {"missing INFO_UTC_TIME",        "missing EMS_BAT_SOC",
                                         "missing EMS_POWER_PV",         "missing EMS_POWER_ADD",
                                         "missing EMS_POWER_BAT",        "missing EMS_POWER_HOME",
                                         "missing EMS_POWER_GRID",       "missing EMS_POWER_WB_ALL",
                                         "missing EMS_SELF_CONSUMPTION", "missing EMS_AUTARKY"};
    for (int k = 0; k < 10; k++) {
        ew_rscp_builder *b = start();
        poll_answers(b, k);
        size_t n = done(b);
        memset(&d, 0, sizeof d);
        assert_int_equal(ew_e3dc_parse_poll(abuf, n, &p, &d), EW_ERR_PROTO);
        assert_int_equal(d.code, EW_ERR_PROTO);
        assert_string_equal(d.what, miss[k]);
    }

    /* A refused answer is a field of the struct, not an ew_err. */
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_error(b, T(EMS_POWER_WB_ALL), EW_RSCP_ERR_NOT_AVAILABLE);
    poll_answers(b, 7);
    ew_rscp_builder_add_error(b, T(EMS_AUTARKY), EW_RSCP_ERR_ACCESS_DENIED);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_poll(abuf, n, &p, &d), EW_OK);
    assert_false(HAS(&p, EW_E3DC_POLL_WALLBOX));
    assert_true(HAS(&p, EW_E3DC_POLL_AUTARKY)); /* the first EMS_AUTARKY is a value */
    assert_int_equal(p.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(p.error.tag, T(EMS_POWER_WB_ALL));
    assert_int_equal(p.error.count, 1);
    assert_int_equal(p.error.whole, 0);

    /* A value of the wrong kind is malformed. */
    b = start();
    ew_rscp_builder_add_string(b, T(EMS_POWER_PV), "4687");
    poll_answers(b, 2);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_poll(abuf, n, &p, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "unexpected type of EMS_POWER_PV");

    /* A broken area is the codec's error; NULL arguments are INVAL. */
    uint8_t bad[] = {0x01, 0x00, 0x80, 0x01, 0x06, 0x10, 0x00, 0x01};
    assert_int_equal(ew_e3dc_parse_poll(bad, sizeof bad, &p, &d), EW_ERR_OVERRUN);
    assert_int_equal(ew_e3dc_parse_poll(bad, sizeof bad, NULL, &d), EW_ERR_INVAL);
    assert_int_equal(ew_e3dc_parse_poll(NULL, 5, &p, NULL), EW_ERR_INVAL);
    assert_int_equal(ew_e3dc_parse_poll(NULL, 0, &p, NULL), EW_ERR_PROTO);
}

/* ---- status ------------------------------------------------------------- */

static void test_status(void **state) {
    (void)state;
    ew_e3dc_status s;
    ew_diag d = {0};
    /* EMS_STATUS as UInt32 (go-rscp) and the sys status as EMS_SYS_STATUS. */
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_uint32(b, T(EMS_STATUS), 2);
    ew_rscp_builder_add_uint32(b, T(EMS_SYS_STATUS), 0x2623u | (1u << 21));
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_status(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.ems_status, 2);
    assert_int_equal(s.sys_status, 0x2623u | (1u << 21));
    /* 0x2623 = bits 0, 1, 5, 9, 10, 13 */
    assert_int_equal(s.bits.dcdc_alive, 1);
    assert_int_equal(s.bits.power_meter_alive, 1);
    assert_int_equal(s.bits.battery_module_alive, 0);
    assert_int_equal(s.bits.server_connection_alive, 1);
    assert_int_equal(s.bits.ac_coupling_mode, 2);
    assert_int_equal(s.bits.ac_mode_blocked, 1);
    assert_int_equal(s.bits.emergency_power_override, 1);
    assert_int_equal(s.bits.wallbox_alive, 0);
    assert_int_equal(s.bits.soc_sync_requested, 1);
    assert_int_equal(s.present, 3);

    /* EMS_STATUS as UChar8 (documented), sys status under request | 0x800000
     * as a plain integer, next to a real EMS_GET_SYS_SPECS container. */
    b = start();
    ew_rscp_builder_open(b, T(EMS_GET_SYS_SPECS));
    ew_rscp_builder_close(b);
    ew_rscp_builder_add_uchar8(b, T(EMS_STATUS), 1);
    ew_rscp_builder_add_uint32(b, 0x01800098u, 1u << 14);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_status(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.ems_status, 1);
    assert_int_equal(s.bits.wallbox_alive, 1);

    /* Sys status missing; refused. */
    b = start();
    ew_rscp_builder_add_uchar8(b, T(EMS_STATUS), 1);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_status(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing EMS_SYS_STATUS");
    b = start();
    ew_rscp_builder_add_uchar8(b, T(EMS_STATUS), 1);
    ew_rscp_builder_add_error(b, T(EMS_SYS_STATUS), EW_RSCP_ERR_NOT_HANDLED);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_status(abuf, n, &s, &d), EW_OK);
    assert_false(HAS(&s, EW_E3DC_STATUS_SYS));
    assert_int_equal(s.error.code, 1);

    ew_e3dc_sys_status_bits bits;
    ew_e3dc_sys_status_decode(0xFFFFFFFFu, &bits);
    assert_int_equal(bits.ac_coupling_mode, 3);
    assert_int_equal(bits.rescue_battery_enabled, 1);
    assert_string_equal(ew_e3dc_sys_status_bit_name(0), "dcdc_alive");
    assert_string_equal(ew_e3dc_sys_status_bit_name(18), "wait_for_weather_breakthrough");
    assert_null(ew_e3dc_sys_status_bit_name(22));
}

/* ---- system information -------------------------------------------------- */

static void add_spec(ew_rscp_builder *b, int index_u32, int64_t index, const char *name,
                     int64_t value, const char *text) {
    ew_rscp_builder_open(b, T(EMS_SYS_SPEC));
    if (index_u32)
        ew_rscp_builder_add_uint32(b, T(EMS_SYS_SPEC_INDEX), (uint32_t)index);
    else
        ew_rscp_builder_add_int32(b, T(EMS_SYS_SPEC_INDEX), (int32_t)index);
    ew_rscp_builder_add_string(b, T(EMS_SYS_SPEC_NAME), name);
    if (text)
        ew_rscp_builder_add_string(b, T(EMS_SYS_SPEC_VALUE_STRING), text);
    else
        ew_rscp_builder_add_int32(b, T(EMS_SYS_SPEC_VALUE_INT), (int32_t)value);
    ew_rscp_builder_close(b);
}

static size_t sysinfo_answer(const char *serial, int specs_error, int drop_mac) {
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_float32(b, T(EMS_DERATE_AT_PERCENT_VALUE), 0.7f);
    ew_rscp_builder_add_float32(b, T(EMS_DERATE_AT_POWER_VALUE), 7000.0f);
    ew_rscp_builder_add_uint32(b, T(EMS_INSTALLED_PEAK_POWER), 10000);
    ew_rscp_builder_add_char8(b, T(EMS_EXT_SRC_AVAILABLE), 1);
    if (!drop_mac)
        ew_rscp_builder_add_string(b, T(INFO_MAC_ADDRESS), "aa:bb:cc:dd:ee:ff");
    ew_rscp_builder_add_string(b, T(INFO_SERIAL_NUMBER), serial);
    if (specs_error) {
        ew_rscp_builder_add_error(b, T(EMS_GET_SYS_SPECS), EW_RSCP_ERR_NOT_AVAILABLE);
    } else {
        ew_rscp_builder_open(b, T(EMS_GET_SYS_SPECS));
        add_spec(b, 0, 0, "installedBatteryCapacity", 13800, NULL);
        add_spec(b, 1, 1, "maxAcPower", 12000, NULL);
        add_spec(b, 1, 2, "maxBatChargePower", 9000, NULL);
        add_spec(b, 0, 3, "maxBatDischargPower", 9000, NULL);
        add_spec(b, 1, 4, "startDischargeDefault", 65, NULL);
        add_spec(b, 1, 5, "hybridModeSupported", 0, "yes");
        ew_rscp_builder_close(b);
    }
    return done(b);
}

static void test_sysinfo(void **state) {
    (void)state;
    ew_e3dc_sysinfo s;
    ew_diag d = {0};
    size_t n = sysinfo_answer("S10-721234567", 0, 0);
    assert_int_equal(ew_e3dc_parse_sysinfo(abuf, n, &s, &d), EW_OK);
    assert_true(s.derate_pct == 70.0); /* 0.7f x 100 at Float32 precision */
    assert_true(s.derate_power_w == 7000.0);
    assert_int_equal(s.installed_peak_power_w, 10000);
    assert_int_equal(s.ext_src_available, 1);
    assert_string_equal(s.mac, "aa:bb:cc:dd:ee:ff");
    assert_string_equal(s.serial, "S10-721234567");
    assert_string_equal(s.serial_prefix, "S10-");
    assert_int_equal(s.model, EW_E3DC_MODEL_S10E);
    assert_int_equal(s.root_pm_index, 0);
    assert_int_equal(s.nspecs, 6);
    assert_int_equal(s.specs[1].index, 1);
    assert_string_equal(s.specs[5].name, "hybridModeSupported");
    assert_true(s.specs[5].is_string);
    assert_string_equal(s.specs[5].text, "yes");
    assert_int_equal(s.installed_battery_capacity_wh, 13800);
    assert_int_equal(s.max_ac_power_w, 12000);
    assert_int_equal(s.max_bat_charge_power_w, 9000);
    assert_int_equal(s.max_bat_discharge_power_w, 9000);
    assert_int_equal(s.start_discharge_default_w, 65);
    assert_int_equal(s.present, (1u << EW_E3DC_SYSINFO_NFIELDS) - 1);

    /* Mini: root meter 6 by default. */
    n = sysinfo_answer("512345678", 0, 0);
    assert_int_equal(ew_e3dc_parse_sysinfo(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.model, EW_E3DC_MODEL_S10_MINI);
    assert_string_equal(s.serial_prefix, "");
    assert_int_equal(s.root_pm_index, 6);

    /* Specs refused: reported, the rest still decoded. */
    n = sysinfo_answer("612345678", 1, 0);
    assert_int_equal(ew_e3dc_parse_sysinfo(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(s.error.tag, T(EMS_GET_SYS_SPECS));
    assert_false(HAS(&s, EW_E3DC_SYSINFO_SPECS));
    assert_false(HAS(&s, EW_E3DC_SYSINFO_MAX_AC_POWER));
    assert_int_equal(s.model, EW_E3DC_MODEL_QUATTROPORTE);

    n = sysinfo_answer("S10-721234567", 0, 1);
    assert_int_equal(ew_e3dc_parse_sysinfo(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing INFO_MAC_ADDRESS");

    /* A spec without a name is malformed. */
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_float32(b, T(EMS_DERATE_AT_PERCENT_VALUE), 0.7f);
    ew_rscp_builder_add_float32(b, T(EMS_DERATE_AT_POWER_VALUE), 7000.0f);
    ew_rscp_builder_add_uint32(b, T(EMS_INSTALLED_PEAK_POWER), 10000);
    ew_rscp_builder_add_uchar8(b, T(EMS_EXT_SRC_AVAILABLE), 0);
    ew_rscp_builder_add_string(b, T(INFO_MAC_ADDRESS), "x");
    ew_rscp_builder_add_string(b, T(INFO_SERIAL_NUMBER), "");
    ew_rscp_builder_open(b, T(EMS_GET_SYS_SPECS));
    ew_rscp_builder_open(b, T(EMS_SYS_SPEC));
    ew_rscp_builder_add_int32(b, T(EMS_SYS_SPEC_VALUE_INT), 5);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_sysinfo(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing EMS_SYS_SPEC_NAME");
}

static void test_model_from_serial(void **state) {
    (void)state;
    static const struct {
        const char *serial;
        ew_e3dc_model m;
        size_t off;
    } cases[] = {
        {"S10-412345678", EW_E3DC_MODEL_S10E, 4},
        {"721234567", EW_E3DC_MODEL_S10E, 0},
        {"741234567", EW_E3DC_MODEL_S10E_COMPACT, 0},
        {"S10-512345", EW_E3DC_MODEL_S10_MINI, 4},
        {"Q10-612345", EW_E3DC_MODEL_QUATTROPORTE, 4},
        {"P10-701234", EW_E3DC_MODEL_S10E_PRO, 4},
        {"751234", EW_E3DC_MODEL_S10E_PRO_COMPACT, 0},
        {"H20-812345", EW_E3DC_MODEL_S10X, 4},
        {"912345", EW_E3DC_MODEL_NA, 0},
        {"731234", EW_E3DC_MODEL_NA, 0},
        {"", EW_E3DC_MODEL_NA, 0},
        {"S1", EW_E3DC_MODEL_NA, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t off = 99;
        assert_int_equal(ew_e3dc_model_from_serial(cases[i].serial, strlen(cases[i].serial), &off),
                         cases[i].m);
        assert_int_equal(off, cases[i].off);
    }
    assert_string_equal(ew_e3dc_model_name(EW_E3DC_MODEL_S10E_PRO_COMPACT), "S10E_Pro_Compact");
    assert_string_equal(ew_e3dc_model_name(EW_E3DC_MODEL_NA), "NA");
    assert_string_equal(ew_e3dc_model_name((ew_e3dc_model)77), "NA");
    assert_int_equal(ew_e3dc_model_from_serial(NULL, 3, NULL), EW_E3DC_MODEL_NA);
}

static void test_sysinfo_dyn(void **state) {
    (void)state;
    ew_e3dc_sysinfo_dyn s;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_timestamp local = {1700000000 + 3600 + 2, 0}, utc = {1700000000, 0};
    ew_rscp_builder_add_string(b, T(INFO_SW_RELEASE), "H20_2023_024");
    ew_rscp_builder_add_string(b, T(INFO_TIME_ZONE), "Europe/Berlin");
    ew_rscp_builder_add_timestamp(b, T(INFO_TIME), local);
    ew_rscp_builder_add_timestamp(b, T(INFO_UTC_TIME), utc);
    ew_rscp_builder_add_error(b, T(INFO_IP_ADDRESS), EW_RSCP_ERR_ACCESS_DENIED);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_sysinfo_dyn(abuf, n, &s, &d), EW_OK);
    assert_string_equal(s.sw_release, "H20_2023_024");
    assert_string_equal(s.time_zone, "Europe/Berlin");
    assert_int_equal(s.utc_offset_s, 3600);
    assert_true(HAS(&s, EW_E3DC_SYSDYN_UTC_OFFSET));
    assert_false(HAS(&s, EW_E3DC_SYSDYN_PRODUCTION_DATE));
    assert_false(HAS(&s, EW_E3DC_SYSDYN_IP_ADDRESS));
    assert_int_equal(s.error.code, EW_RSCP_ERR_ACCESS_DENIED);

    /* Negative offsets round too; only SW_RELEASE is required. */
    b = start();
    local.seconds = 1700000000 - 5 * 3600 - 1;
    ew_rscp_builder_add_timestamp(b, T(INFO_TIME), local);
    ew_rscp_builder_add_timestamp(b, T(INFO_UTC_TIME), utc);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_sysinfo_dyn(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing INFO_SW_RELEASE");
    b = start();
    ew_rscp_builder_add_timestamp(b, T(INFO_TIME), local);
    ew_rscp_builder_add_timestamp(b, T(INFO_UTC_TIME), utc);
    /* A string longer than the field: cut at a character boundary. */
    char longname[100];
    memset(longname, 'a', sizeof longname);
    memcpy(longname + 62, "\xc3\xa4", 2); /* 'ä' across the 63-byte limit */
    ew_rscp_builder_add_cstring(b, T(INFO_SW_RELEASE), longname, sizeof longname);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_sysinfo_dyn(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.utc_offset_s, -5 * 3600);
    assert_int_equal(strlen(s.sw_release), 62);
}

/* ---- switches ----------------------------------------------------------- */

static void test_switches(void **state) {
    (void)state;
    ew_e3dc_switches s;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(HA_DATAPOINT_LIST));
    for (int i = 0; i < 2; i++) {
        ew_rscp_builder_open(b, T(HA_DATAPOINT));
        ew_rscp_builder_add_uint16(b, T(HA_DATAPOINT_INDEX), (uint16_t)(i + 1));
        ew_rscp_builder_add_uint32(b, T(HA_DATAPOINT_TYPE), 1);
        ew_rscp_builder_add_string(b, T(HA_DATAPOINT_NAME), i ? "Pump" : "Heater");
        ew_rscp_builder_close(b);
    }
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(HA_ACTUATOR_STATES));
    for (int i = 0; i < 2; i++) {
        ew_rscp_builder_open(b, T(HA_DATAPOINT));
        ew_rscp_builder_add_char8(b, T(HA_DATAPOINT_STATE), (int8_t)i);
        ew_rscp_builder_add_char8(b, T(HA_DATAPOINT_MODE), 2);
        ew_rscp_builder_close(b);
    }
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_switches(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.sw[0].id, 1);
    assert_string_equal(s.sw[0].name, "Heater");
    assert_int_equal(s.sw[0].state, 0);
    assert_int_equal(s.sw[1].id, 2);
    assert_string_equal(s.sw[1].name, "Pump");
    assert_int_equal(s.sw[1].state, 1);
    assert_int_equal(s.sw[1].mode, 2);
    assert_int_equal(s.sw[1].present, (1u << EW_E3DC_SWITCH_NFIELDS) - 1);
    assert_int_equal(s.present, 3);

    /* Only the list (pye3dc sends two frames). */
    b = start();
    ew_rscp_builder_open(b, T(HA_DATAPOINT_LIST));
    ew_rscp_builder_open(b, T(HA_DATAPOINT));
    ew_rscp_builder_add_uint16(b, T(HA_DATAPOINT_INDEX), 9);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_switches(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.sw[0].id, 9);
    assert_false(HAS(&s.sw[0], EW_E3DC_SWITCH_STATE));

    b = start();
    ew_rscp_builder_add_error(b, T(HA_DATAPOINT_LIST), EW_RSCP_ERR_NOT_AVAILABLE);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_switches(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.error.whole, 1);

    b = start();
    ew_rscp_builder_add_uint32(b, T(EMS_STATUS), 1);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_switches(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing HA_DATAPOINT_LIST");
}

static void test_single_results(void **state) {
    (void)state;
    ew_e3dc_result r;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_bool(b, T(HA_COMMAND_ACTUATOR), 1);
    ew_rscp_builder_add_int32(b, T(EMS_SET_POWER), 2000);
    ew_rscp_builder_add_uchar8(b, T(EMS_SET_IDLE_PERIODS), 1);
    ew_rscp_builder_add_bool(b, T(EMS_START_MANUAL_CHARGE), 0);
    ew_rscp_builder_add_uchar8(b, T(EMS_BATTERY_TO_CAR_MODE), 1);
    ew_rscp_builder_add_error(b, T(EMS_SET_BATTERY_TO_CAR_MODE), EW_RSCP_ERR_ACCESS_DENIED);
    size_t n = done(b);

    assert_int_equal(ew_e3dc_parse_switch_set(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_int_equal(r.tag, T(HA_COMMAND_ACTUATOR));
    assert_int_equal(ew_e3dc_parse_set_power(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_true(r.has_value);
    assert_int_equal(r.value, 2000);
    assert_int_equal(ew_e3dc_parse_idle_periods_set(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_int_equal(ew_e3dc_parse_manual_charge_start(abuf, n, &r, &d), EW_OK);
    assert_false(r.ok);
    assert_int_equal(r.value, 0);
    assert_int_equal(ew_e3dc_parse_battery_to_car(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_int_equal(r.value, 1);
    assert_int_equal(ew_e3dc_parse_battery_to_car_set(abuf, n, &r, &d), EW_OK);
    assert_false(r.ok);
    assert_false(r.has_value);
    assert_int_equal(r.error.code, EW_RSCP_ERR_ACCESS_DENIED);
    assert_int_equal(r.error.whole, 1);

    /* Idle periods: 0 is a refusal; the switch answer must be a Bool. */
    b = start();
    ew_rscp_builder_add_uchar8(b, T(EMS_SET_IDLE_PERIODS), 0);
    ew_rscp_builder_add_string(b, T(HA_COMMAND_ACTUATOR), "yes");
    n = done(b);
    assert_int_equal(ew_e3dc_parse_idle_periods_set(abuf, n, &r, &d), EW_OK);
    assert_false(r.ok);
    assert_int_equal(ew_e3dc_parse_switch_set(abuf, n, &r, &d), EW_ERR_PROTO);
    assert_int_equal(ew_e3dc_parse_set_power(abuf, n, &r, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing EMS_SET_POWER");
}

/* ---- idle periods ------------------------------------------------------- */

static void add_period(ew_rscp_builder *b, unsigned type, unsigned day, int active, unsigned sh,
                       unsigned sm, unsigned eh, unsigned em, int drop) {
    ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD));
    if (drop != 1)
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_TYPE), (uint8_t)type);
    if (drop != 2)
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_DAY), (uint8_t)day);
    if (drop != 3)
        ew_rscp_builder_add_bool(b, T(EMS_IDLE_PERIOD_ACTIVE), active);
    ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD_START));
    ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_HOUR), (uint8_t)sh);
    if (drop != 4)
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_MINUTE), (uint8_t)sm);
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD_END));
    ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_HOUR), (uint8_t)eh);
    ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_MINUTE), (uint8_t)em);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
}

static void test_idle_periods(void **state) {
    (void)state;
    ew_e3dc_idle_periods p;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(EMS_GET_IDLE_PERIODS));
    add_period(b, 0, 3, 1, 8, 15, 9, 45, 0);
    add_period(b, 1, 6, 0, 0, 0, 23, 59, 0);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_idle_periods(abuf, n, &p, &d), EW_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.p[0].type, EW_E3DC_IDLE_CHARGE);
    assert_int_equal(p.p[0].day, 3);
    assert_int_equal(p.p[0].active, 1);
    assert_int_equal(p.p[0].start_hour, 8);
    assert_int_equal(p.p[0].start_minute, 15);
    assert_int_equal(p.p[0].end_hour, 9);
    assert_int_equal(p.p[0].end_minute, 45);
    assert_int_equal(p.p[1].type, EW_E3DC_IDLE_DISCHARGE);
    assert_int_equal(p.p[1].end_minute, 59);

    static const char *const miss[] = {
        NULL, "missing EMS_IDLE_PERIOD_TYPE", "missing EMS_IDLE_PERIOD_DAY",
        "missing EMS_IDLE_PERIOD_ACTIVE", "missing EMS_IDLE_PERIOD_MINUTE"};
    for (int k = 1; k <= 4; k++) {
        b = start();
        ew_rscp_builder_open(b, T(EMS_GET_IDLE_PERIODS));
        add_period(b, 0, 3, 1, 8, 15, 9, 45, k);
        ew_rscp_builder_close(b);
        n = done(b);
        assert_int_equal(ew_e3dc_parse_idle_periods(abuf, n, &p, &d), EW_ERR_PROTO);
        assert_string_equal(d.what, miss[k]);
    }

    /* 15 periods: 14 kept, total counts all. */
    b = start();
    ew_rscp_builder_open(b, T(EMS_GET_IDLE_PERIODS));
    for (int i = 0; i < 15; i++)
        add_period(b, (unsigned)(i & 1), (unsigned)(i % 7), 1, 1, 0, 2, 0, 0);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_idle_periods(abuf, n, &p, &d), EW_OK);
    assert_int_equal(p.n, EW_E3DC_MAX_IDLE_PERIODS);
    assert_int_equal(p.total, 15);

    b = start();
    ew_rscp_builder_add_error(b, T(EMS_GET_IDLE_PERIODS), EW_RSCP_ERR_NOT_HANDLED);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_idle_periods(abuf, n, &p, &d), EW_OK);
    assert_int_equal(p.error.whole, 1);
    assert_int_equal(p.n, 0);
}

/* ---- history ------------------------------------------------------------ */

static void add_values(ew_rscp_builder *b, uint32_t tag, float scale) {
    ew_rscp_builder_open(b, tag);
    ew_rscp_builder_add_float32(b, T(DB_GRAPH_INDEX), 0.0f);
    ew_rscp_builder_add_float32(b, T(DB_BAT_POWER_IN), 1000.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_BAT_POWER_OUT), 900.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_DC_POWER), 5000.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_GRID_POWER_IN), 2000.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_GRID_POWER_OUT), 300.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_CONSUMPTION), 3100.0f * scale);
    ew_rscp_builder_add_float32(b, T(DB_BAT_CHARGE_LEVEL), 55.5f);
    ew_rscp_builder_add_float32(b, T(DB_AUTARKY), 90.25f);
    ew_rscp_builder_add_float32(b, T(DB_CONSUMED_PRODUCTION), 60.0f);
    ew_rscp_builder_close(b);
}

static void test_history(void **state) {
    (void)state;
    static ew_e3dc_history h;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(DB_HISTORY_DATA_MONTH));
    add_values(b, T(DB_SUM_CONTAINER), 2.0f);
    add_values(b, T(DB_VALUE_CONTAINER), 1.0f);
    add_values(b, T(DB_VALUE_CONTAINER), 1.0f);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_history(abuf, n, &h, &d), EW_OK);
    assert_int_equal(h.kind, EW_E3DC_HISTORY_MONTH);
    assert_true(h.sum.pv_wh == 10000.0);
    assert_true(h.sum.grid_export_wh == 4000.0);
    assert_true(h.sum.grid_import_wh == 600.0);
    assert_true(h.sum.bat_soc_pct == 55.5);
    assert_true(h.sum.autarky_pct == 90.25);
    assert_false(HAS(&h.sum, EW_E3DC_HIST_PM0));
    assert_int_equal(h.nvalues, 2);
    assert_true(h.values[1].consumption_wh == 3100.0);

    /* Invalid time: top-level Error 0xFFFFFFFF (rscp.md §9.6). */
    b = start();
    ew_rscp_builder_add_error(b, T(DB_HISTORY_DATA_DAY), 0xFFFFFFFFu);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_history(abuf, n, &h, &d), EW_OK);
    assert_int_equal(h.error.code, 0xFFFFFFFFu);
    assert_int_equal(h.error.whole, 1);

    b = start();
    ew_rscp_builder_open(b, T(DB_HISTORY_DATA_YEAR));
    add_values(b, T(DB_VALUE_CONTAINER), 1.0f);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_history(abuf, n, &h, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing DB_SUM_CONTAINER");

    b = start();
    ew_rscp_builder_add_uint32(b, T(EMS_STATUS), 1);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_history(abuf, n, &h, &d), EW_ERR_PROTO);
}

/* ---- power settings ------------------------------------------------------ */

static void test_power_settings(void **state) {
    (void)state;
    ew_e3dc_power_settings s;
    ew_diag d = {0};
    /* Documented types: Bool, UInt32, UChar8 flags. */
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(EMS_GET_POWER_SETTINGS));
    ew_rscp_builder_add_bool(b, T(EMS_POWER_LIMITS_USED), 1);
    ew_rscp_builder_add_uint32(b, T(EMS_MAX_CHARGE_POWER), 4500);
    ew_rscp_builder_add_uint32(b, T(EMS_MAX_DISCHARGE_POWER), 4000);
    ew_rscp_builder_add_uint32(b, T(EMS_DISCHARGE_START_POWER), 65);
    ew_rscp_builder_add_uchar8(b, T(EMS_POWERSAVE_ENABLED), 1);
    ew_rscp_builder_add_uchar8(b, T(EMS_WEATHER_REGULATED_CHARGE_ENABLED), 0);
    ew_rscp_builder_add_int32(b, T(EMS_WEATHER_FORECAST_MODE), 1);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_power_settings(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.present, (1u << EW_E3DC_PS_NFIELDS) - 1);
    assert_int_equal(s.limits_used, 1);
    assert_int_equal(s.max_charge_power_w, 4500);
    assert_int_equal(s.max_discharge_power_w, 4000);
    assert_int_equal(s.discharge_start_power_w, 65);
    assert_int_equal(s.powersave, 1);
    assert_int_equal(s.weather_regulated_charge, 0);
    assert_int_equal(s.weather_forecast_mode, 1);

    /* Alternatives: Int32 powers (E3/DC docs), Bool flags (go-rscp), a
     * UChar8 limits flag; children missing or refused. */
    b = start();
    ew_rscp_builder_open(b, T(EMS_GET_POWER_SETTINGS));
    ew_rscp_builder_add_uchar8(b, T(EMS_POWER_LIMITS_USED), 0);
    ew_rscp_builder_add_int32(b, T(EMS_MAX_CHARGE_POWER), 3000);
    ew_rscp_builder_add_error(b, T(EMS_MAX_DISCHARGE_POWER), EW_RSCP_ERR_NOT_AVAILABLE);
    ew_rscp_builder_add_bool(b, T(EMS_POWERSAVE_ENABLED), 0);
    ew_rscp_builder_add_bool(b, T(EMS_WEATHER_REGULATED_CHARGE_ENABLED), 1);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_power_settings(abuf, n, &s, &d), EW_OK);
    assert_int_equal(s.limits_used, 0);
    assert_int_equal(s.max_charge_power_w, 3000);
    assert_false(HAS(&s, EW_E3DC_PS_MAX_DISCHARGE));
    assert_false(HAS(&s, EW_E3DC_PS_DISCHARGE_START));
    assert_int_equal(s.weather_regulated_charge, 1);
    assert_int_equal(s.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(s.error.tag, T(EMS_MAX_DISCHARGE_POWER));

    b = start();
    ew_rscp_builder_add_uint32(b, T(EMS_GET_POWER_SETTINGS), 5);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_power_settings(abuf, n, &s, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "unexpected type of EMS_GET_POWER_SETTINGS");
}

static void test_power_settings_set_result(void **state) {
    (void)state;
    ew_e3dc_power_settings_result r;
    ew_diag d = {0};
    /* pye3dc's summary: all 0 -> 0; a 1 -> 1; any -1 -> -1. */
    static const int8_t codes[3][4] = {{0, 0, 0, 0}, {0, 1, 0, 0}, {1, 0, -1, 0}};
    static const int expect[3] = {0, 1, -1};
    for (int k = 0; k < 3; k++) {
        ew_rscp_builder *b = start();
        ew_rscp_builder_open(b, T(EMS_SET_POWER_SETTINGS));
        ew_rscp_builder_add_char8(b, T(EMS_RES_POWER_LIMITS_USED), codes[k][0]);
        ew_rscp_builder_add_char8(b, T(EMS_RES_MAX_DISCHARGE_POWER), codes[k][1]);
        ew_rscp_builder_add_char8(b, T(EMS_RES_MAX_CHARGE_POWER), codes[k][2]);
        ew_rscp_builder_add_char8(b, T(EMS_RES_DISCHARGE_START_POWER), codes[k][3]);
        ew_rscp_builder_close(b);
        size_t n = done(b);
        assert_int_equal(ew_e3dc_parse_power_settings_set(abuf, n, &r, &d), EW_OK);
        assert_int_equal(r.overall, expect[k]);
        assert_int_equal(r.res[EW_E3DC_PS_MAX_CHARGE], codes[k][2]);
        assert_int_equal(r.res[EW_E3DC_PS_MAX_DISCHARGE], codes[k][1]);
        assert_false(HAS(&r, EW_E3DC_PS_POWERSAVE));
    }
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(EMS_SET_POWER_SETTINGS));
    ew_rscp_builder_add_char8(b, T(EMS_RES_POWERSAVE_ENABLED), 0);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_power_settings_set(abuf, n, &r, &d), EW_OK);
    assert_int_equal(r.present, 1u << EW_E3DC_PS_POWERSAVE);
    assert_int_equal(r.overall, 0);

    b = start();
    ew_rscp_builder_add_error(b, T(EMS_SET_POWER_SETTINGS), EW_RSCP_ERR_ACCESS_DENIED);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_power_settings_set(abuf, n, &r, &d), EW_OK);
    assert_int_equal(r.overall, -1);
    assert_int_equal(r.error.whole, 1);
}

static void test_manual_charge(void **state) {
    (void)state;
    ew_e3dc_manual_charge m;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_timestamp ts = {1699990000, 0};
    ew_rscp_builder_open(b, T(EMS_GET_MANUAL_CHARGE));
    ew_rscp_builder_add_bool(b, T(EMS_MANUAL_CHARGE_ACTIVE), 1);
    ew_rscp_builder_add_int64(b, T(EMS_MANUAL_CHARGE_START_COUNTER), 1234567);
    ew_rscp_builder_add_double64(b, T(EMS_MANUAL_CHARGE_ENERGY_COUNTER), 812.5);
    ew_rscp_builder_add_timestamp(b, T(EMS_MANUAL_CHARGE_LASTSTART), ts);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_manual_charge(abuf, n, &m, &d), EW_OK);
    assert_int_equal(m.active, 1);
    assert_int_equal(m.start_counter, 1234567);
    assert_true(m.energy_wh == 812.5);
    assert_int_equal(m.last_start.seconds, 1699990000);

    /* Documented types (UInt32 counters). */
    b = start();
    ew_rscp_builder_open(b, T(EMS_GET_MANUAL_CHARGE));
    ew_rscp_builder_add_uint32(b, T(EMS_MANUAL_CHARGE_START_COUNTER), 7);
    ew_rscp_builder_add_uint32(b, T(EMS_MANUAL_CHARGE_ENERGY_COUNTER), 100);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_manual_charge(abuf, n, &m, &d), EW_OK);
    assert_int_equal(m.start_counter, 7);
    assert_true(m.energy_wh == 100.0);
    assert_false(HAS(&m, EW_E3DC_MC_ACTIVE));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_vector),
        cmocka_unit_test(test_poll_alternatives),
        cmocka_unit_test(test_poll_errors),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_sysinfo),
        cmocka_unit_test(test_model_from_serial),
        cmocka_unit_test(test_sysinfo_dyn),
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_single_results),
        cmocka_unit_test(test_idle_periods),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_power_settings),
        cmocka_unit_test(test_power_settings_set_result),
        cmocka_unit_test(test_manual_charge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
