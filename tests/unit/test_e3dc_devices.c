/*
 * E3/DC device answers: batteries with DCB details (including the
 * bat_response_nested and error_response vectors), PV inverters per tracker
 * and phase, power meters, wallboxes and their commands, and the topology
 * discovery counts (rscp.md §9.3-§9.5, §9.9, §11.7).
 */
#include "testutil.h"

#include <energywire/e3dc.h>
#include <energywire/rscp_tags.h>

#include <stdlib.h>
#include <string.h>

#define T(x) EW_RSCP_TAG_##x
#define HAS(o, bit) EW_E3DC_HAS(o, bit)

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

/* ---- batteries ----------------------------------------------------------- */

static ew_e3dc_battery bat; /* large: keep off the stack */

static void test_battery_vectors(void **state) {
    (void)state;
    ew_diag d = {0};
    size_t n = 0;
    uint8_t *area = tu_frame_area("bat_response_nested", &n);
    assert_int_equal(ew_e3dc_parse_battery(area, n, 0, &bat, &d), EW_OK);
    assert_int_equal(bat.index, 0);
    assert_true(bat.rsoc_pct == 77.25);
    assert_int_equal(bat.device_connected, 1);
    assert_int_equal(bat.device_working, 1);
    assert_int_equal(bat.device_in_service, 0);
    assert_int_equal(bat.dcb_count, 1);
    assert_int_equal(bat.present,
                     1u << EW_E3DC_BAT_RSOC | 1u << EW_E3DC_BAT_DEVICE_STATE |
                         1u << EW_E3DC_BAT_DEVICE_CONNECTED | 1u << EW_E3DC_BAT_DEVICE_WORKING |
                         1u << EW_E3DC_BAT_DEVICE_IN_SERVICE | 1u << EW_E3DC_BAT_DCB_COUNT);
    /* The per-child Error 6 for BAT_DCB_INFO is a field, not an ew_err. */
    assert_int_equal(bat.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(bat.error.tag, T(BAT_DCB_INFO));
    assert_int_equal(bat.error.whole, 0);
    assert_int_equal(bat.ndcbs, 0);
    /* Asking for another index: no answer for it. */
    assert_int_equal(ew_e3dc_parse_battery(area, n, 1, &bat, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing BAT_DATA");
    free(area);

    /* Top-level BAT_DATA Error 6: the battery does not exist. */
    area = tu_frame_area("error_response", &n);
    assert_int_equal(ew_e3dc_parse_battery(area, n, 3, &bat, &d), EW_OK);
    assert_int_equal(bat.error.code, 6);
    assert_int_equal(bat.error.whole, 1);
    assert_int_equal(bat.present, 0);
    assert_int_equal(bat.index, 3);
    free(area);
}

static void add_dcb_info(ew_rscp_builder *b, uint16_t idx, int serial_as_number) {
    ew_rscp_builder_open(b, T(BAT_DCB_INFO));
    ew_rscp_builder_add_uint16(b, T(BAT_DCB_INDEX), idx);
    ew_rscp_builder_add_float32(b, T(BAT_DCB_SOC), 80.5f);
    ew_rscp_builder_add_float32(b, T(BAT_DCB_SOH), 97.0f);
    ew_rscp_builder_add_float32(b, T(BAT_DCB_VOLTAGE), 52.25f);
    ew_rscp_builder_add_float32(b, T(BAT_DCB_CURRENT), -3.5f);
    ew_rscp_builder_add_uint32(b, T(BAT_DCB_CYCLE_COUNT), 321);
    ew_rscp_builder_add_uint32(b, T(BAT_DCB_NR_SERIES_CELL), 3);
    ew_rscp_builder_add_uchar8(b, T(BAT_DCB_NR_SENSOR), 2);
    ew_rscp_builder_add_uint16(b, T(BAT_DCB_STATUS), 0x10);
    ew_rscp_builder_add_string(b, T(BAT_DCB_DEVICE_NAME), "DCB-A");
    if (serial_as_number)
        ew_rscp_builder_add_uint32(b, T(BAT_DCB_SERIALNO), 987654);
    else
        ew_rscp_builder_add_string(b, T(BAT_DCB_SERIALNO), "SN-1");
    ew_rscp_builder_add_error(b, T(BAT_DCB_FW_VERSION), EW_RSCP_ERR_NOT_HANDLED);
    ew_rscp_builder_close(b);
}

static void add_cells(ew_rscp_builder *b, uint32_t outer, uint32_t cell, uint16_t idx, int n,
                      float base, int nested) {
    ew_rscp_builder_open(b, outer);
    ew_rscp_builder_add_uint16(b, T(BAT_DCB_INDEX), idx);
    if (nested)
        ew_rscp_builder_open(b, T(BAT_DATA));
    for (int i = 0; i < n; i++)
        ew_rscp_builder_add_float32(b, cell, base + 0.25f * (float)i);
    if (nested)
        ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
}

static void test_battery_dcbs(void **state) {
    (void)state;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    /* Two batteries in one frame; the one asked for is the second. */
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_uint16(b, T(BAT_INDEX), 0);
    ew_rscp_builder_add_float32(b, T(BAT_RSOC), 10.0f);
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_uint16(b, T(BAT_INDEX), 1);
    ew_rscp_builder_add_float32(b, T(BAT_RSOC), 66.5f);
    ew_rscp_builder_add_uint32(b, T(BAT_STATUS_CODE), 0x80000001u); /* UInt32, not Bitfield */
    ew_rscp_builder_add_int32(b, T(BAT_CHARGE_CYCLES), 42);         /* Int32 instead of UInt32 */
    ew_rscp_builder_add_double64(b, T(BAT_CURRENT), -12.5);
    ew_rscp_builder_add_string(b, T(BAT_DEVICE_NAME), "BAT-1");
    ew_rscp_builder_add_uchar8(b, T(BAT_READY_FOR_SHUTDOWN), 0);
    ew_rscp_builder_add_error(b, T(BAT_INTERNALS), EW_RSCP_ERR_NOT_AVAILABLE);
    add_cells(b, T(BAT_DCB_ALL_CELL_TEMPERATURES), T(BAT_DCB_CELL_TEMPERATURE), 1, 2, 20.0f, 1);
    add_cells(b, T(BAT_DCB_ALL_CELL_VOLTAGES), T(BAT_DCB_CELL_VOLTAGE), 1, 3, 3.25f, 1);
    add_dcb_info(b, 1, 1);
    add_dcb_info(b, 0, 0);
    /* Cells directly in the outer container (tolerated). */
    add_cells(b, T(BAT_DCB_ALL_CELL_VOLTAGES), T(BAT_DCB_CELL_VOLTAGE), 0, 2, 3.5f, 0);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_battery(abuf, n, 1, &bat, &d), EW_OK);
    assert_int_equal(bat.index, 1);
    assert_true(bat.rsoc_pct == 66.5);
    assert_int_equal(bat.status_code, 0x80000001LL);
    assert_int_equal(bat.charge_cycles, 42);
    assert_true(bat.current_a == -12.5);
    assert_string_equal(bat.device_name, "BAT-1");
    assert_true(HAS(&bat, EW_E3DC_BAT_READY_FOR_SHUTDOWN));
    assert_int_equal(bat.ready_for_shutdown, 0);
    assert_int_equal(bat.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(bat.error.tag, T(BAT_INTERNALS));
    assert_int_equal(bat.error.count, 3); /* + FW_VERSION in both DCBs */

    assert_int_equal(bat.ndcbs, 2);
    const ew_e3dc_dcb *d1 = &bat.dcbs[0], *d0 = &bat.dcbs[1];
    assert_int_equal(d1->index, 1);
    assert_int_equal(d1->ntemps, 2);
    assert_true(d1->temps_c[1] == 20.25f);
    assert_int_equal(d1->nvoltages, 3);
    assert_true(d1->voltages_v[2] == 3.75f);
    assert_true(d1->soc_pct == 80.5);
    assert_int_equal(d1->cycle_count, 321);
    assert_int_equal(d1->nr_series_cell, 3);
    assert_int_equal(d1->status, 0x10);
    assert_string_equal(d1->serial_no, "987654");
    assert_string_equal(d1->device_name, "DCB-A");
    assert_false(HAS(d1, EW_E3DC_DCB_FW_VERSION));
    assert_true(HAS(d1, EW_E3DC_DCB_TEMPS));
    assert_int_equal(d0->index, 0);
    assert_string_equal(d0->serial_no, "SN-1");
    assert_false(HAS(d0, EW_E3DC_DCB_TEMPS));
    assert_int_equal(d0->nvoltages, 2);
    assert_true(d0->voltages_v[1] == 3.75f);

    /* A DCB answer without BAT_DCB_INDEX is malformed. */
    b = start();
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_uint16(b, T(BAT_INDEX), 0);
    ew_rscp_builder_open(b, T(BAT_DCB_INFO));
    ew_rscp_builder_add_float32(b, T(BAT_DCB_SOC), 1.0f);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_battery(abuf, n, 0, &bat, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing BAT_DCB_INDEX");

    /* More cells than EW_E3DC_MAX_CELLS, more DCBs than EW_E3DC_MAX_DCB. */
    b = start();
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_uint16(b, T(BAT_INDEX), 0);
    add_cells(b, T(BAT_DCB_ALL_CELL_VOLTAGES), T(BAT_DCB_CELL_VOLTAGE), 0, EW_E3DC_MAX_CELLS + 6,
              3.0f, 1);
    for (uint16_t i = 1; i < EW_E3DC_MAX_DCB + 3; i++) {
        ew_rscp_builder_open(b, T(BAT_DCB_INFO));
        ew_rscp_builder_add_uint16(b, T(BAT_DCB_INDEX), i);
        ew_rscp_builder_close(b);
    }
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_battery(abuf, n, 0, &bat, &d), EW_OK);
    assert_int_equal(bat.dcbs[0].nvoltages, EW_E3DC_MAX_CELLS);
    assert_int_equal(bat.dcbs[0].nvoltages_total, EW_E3DC_MAX_CELLS + 6);
    assert_int_equal(bat.ndcbs, EW_E3DC_MAX_DCB);
    assert_int_equal(bat.ndcbs_total, EW_E3DC_MAX_DCB + 3);

    /* Wrong type for a number. */
    b = start();
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_string(b, T(BAT_RSOC), "77");
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_battery(abuf, n, 0, &bat, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "unexpected type of BAT_RSOC");
}

/* ---- PV inverters -------------------------------------------------------- */

static void add_item(ew_rscp_builder *b, uint32_t tag, uint16_t idx, float v) {
    ew_rscp_builder_open(b, tag);
    ew_rscp_builder_add_uint16(b, T(PVI_INDEX), idx);
    ew_rscp_builder_add_float32(b, T(PVI_VALUE), v);
    ew_rscp_builder_close(b);
}

static void test_pvi(void **state) {
    (void)state;
    static ew_e3dc_pvi p;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(PVI_DATA));
    ew_rscp_builder_add_uint16(b, T(PVI_INDEX), 0);
    ew_rscp_builder_add_uchar8(b, T(PVI_TYPE), 3);
    ew_rscp_builder_add_string(b, T(PVI_SERIAL_NUMBER), "PVI-123");
    ew_rscp_builder_open(b, T(PVI_VERSION));
    ew_rscp_builder_add_string(b, T(PVI_VERSION_MAIN), "2.1");
    ew_rscp_builder_add_string(b, T(PVI_VERSION_PIC), "x");
    ew_rscp_builder_close(b);
    ew_rscp_builder_add_bool(b, T(PVI_ON_GRID), 1);
    ew_rscp_builder_add_string(b, T(PVI_STATE), "OK");
    ew_rscp_builder_open(b, T(PVI_COS_PHI));
    ew_rscp_builder_add_float32(b, T(PVI_COS_PHI_VALUE), 0.95f);
    ew_rscp_builder_add_bool(b, T(PVI_COS_PHI_IS_AKTIV), 1);
    ew_rscp_builder_add_uchar8(b, T(PVI_COS_PHI_EXCITED), 2);
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(PVI_FREQUENCY_UNDER_OVER));
    ew_rscp_builder_add_float32(b, T(PVI_FREQUENCY_UNDER), 47.5f);
    ew_rscp_builder_add_float32(b, T(PVI_FREQUENCY_OVER), 51.5f);
    ew_rscp_builder_close(b);
    /* MAX as Float32 (tag lists), MIN as {PVI_VALUE} (pye3dc's reading). */
    ew_rscp_builder_add_float32(b, T(PVI_MAX_TEMPERATURE), 61.0f);
    add_item(b, T(PVI_MIN_TEMPERATURE), 0, 12.5f);
    add_item(b, T(PVI_AC_MAX_APPARENTPOWER), 0, 12000.0f);
    ew_rscp_builder_open(b, T(PVI_DEVICE_STATE));
    ew_rscp_builder_add_bool(b, T(PVI_DEVICE_CONNECTED), 1);
    ew_rscp_builder_add_bool(b, T(PVI_DEVICE_WORKING), 1);
    ew_rscp_builder_add_bool(b, T(PVI_DEVICE_IN_SERVICE), 0);
    ew_rscp_builder_close(b);
    ew_rscp_builder_add_uchar8(b, T(PVI_USED_STRING_COUNT), 2);
    ew_rscp_builder_add_uchar8(b, T(PVI_AC_MAX_PHASE_COUNT), 3);
    ew_rscp_builder_add_uint32(b, T(PVI_TEMPERATURE_COUNT), 2);
    for (uint16_t t = 0; t < 2; t++) {
        add_item(b, T(PVI_DC_POWER), t, 1500.0f + t);
        add_item(b, T(PVI_DC_VOLTAGE), t, 400.0f);
        add_item(b, T(PVI_DC_CURRENT), t, 3.75f);
        add_item(b, T(PVI_DC_STRING_ENERGY_ALL), t, 1.5e6f);
    }
    add_item(b, T(PVI_AC_POWER), 2, 999.0f);
    add_item(b, T(PVI_AC_APPARENTPOWER), 2, 1000.0f);
    ew_rscp_builder_add_error(b, T(PVI_AC_VOLTAGE), EW_RSCP_ERR_NOT_AVAILABLE);
    add_item(b, T(PVI_TEMPERATURE), 1, 44.5f);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_pvi(abuf, n, 0, &p, &d), EW_OK);
    assert_int_equal(p.type, 3);
    assert_string_equal(ew_e3dc_pvi_type_name(p.type), "E3DC_E");
    assert_string_equal(p.serial, "PVI-123");
    assert_string_equal(p.version, "2.1");
    assert_int_equal(p.on_grid, 1);
    assert_true(p.cos_phi == (double)0.95f);
    assert_int_equal(p.cos_phi_active, 1);
    assert_int_equal(p.cos_phi_excited, 2);
    assert_true(p.frequency_over_hz == 51.5);
    assert_true(p.max_temp_c == 61.0);
    assert_true(p.min_temp_c == 12.5);
    assert_true(p.ac_max_apparent_power_va == 12000.0);
    assert_int_equal(p.device_in_service, 0);
    assert_true(HAS(&p, EW_E3DC_PVI_DEVICE_STATE));
    assert_false(HAS(&p, EW_E3DC_PVI_VOLTAGE_MONITORING));
    assert_int_equal(p.used_string_count, 2);
    assert_int_equal(p.temperature_count, 2);
    assert_int_equal(p.ntrackers, 2);
    assert_int_equal(p.trackers[1].index, 1);
    assert_true(p.trackers[1].power_w == 1501.0);
    assert_true(p.trackers[0].current_a == 3.75);
    assert_true(p.trackers[0].energy_wh == 1.5e6);
    assert_int_equal(p.trackers[0].present, (1u << EW_E3DC_TRK_NFIELDS) - 1);
    assert_int_equal(p.nphases, 1);
    assert_int_equal(p.phases[0].index, 2);
    assert_true(p.phases[0].power_w == 999.0);
    assert_false(HAS(&p.phases[0], EW_E3DC_PH_VOLTAGE));
    assert_int_equal(p.error.tag, T(PVI_AC_VOLTAGE));
    assert_int_equal(p.ntemps, 1);
    assert_int_equal(p.temps[0].index, 1);
    assert_true(p.temps[0].temp_c == 44.5);

    /* Inverter 1 does not exist: no PVI_TYPE (rscp.md §11.7). */
    b = start();
    ew_rscp_builder_open(b, T(PVI_DATA));
    ew_rscp_builder_add_uint16(b, T(PVI_INDEX), 1);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_pvi(abuf, n, 1, &p, &d), EW_OK);
    assert_false(HAS(&p, EW_E3DC_PVI_TYPE));
    assert_int_equal(p.index, 1);

    /* A per-item answer without its index is malformed. */
    b = start();
    ew_rscp_builder_open(b, T(PVI_DATA));
    ew_rscp_builder_add_uint16(b, T(PVI_INDEX), 0);
    ew_rscp_builder_open(b, T(PVI_DC_POWER));
    ew_rscp_builder_add_float32(b, T(PVI_VALUE), 1.0f);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_pvi(abuf, n, 0, &p, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing PVI_INDEX in a per-item answer");
}

/* ---- power meters -------------------------------------------------------- */

static void test_pm(void **state) {
    (void)state;
    ew_e3dc_pm m;
    ew_diag d = {0};
    ew_rscp_builder *b = start();
    for (uint16_t i = 0; i < 2; i++) {
        ew_rscp_builder_open(b, T(PM_DATA));
        ew_rscp_builder_add_uint16(b, T(PM_INDEX), (uint16_t)(i * 6));
        ew_rscp_builder_add_double64(b, T(PM_POWER_L1), 100.5 + i);
        ew_rscp_builder_add_float32(b, T(PM_POWER_L2), -200.0f); /* Float32 instead of Double64 */
        ew_rscp_builder_add_int32(b, T(PM_POWER_L3), 300);       /* an integer */
        ew_rscp_builder_add_float32(b, T(PM_VOLTAGE_L1), 230.5f);
        ew_rscp_builder_add_double64(b, T(PM_ENERGY_L1), 1e6);
        ew_rscp_builder_add_uchar8(b, T(PM_ACTIVE_PHASES), 7);
        ew_rscp_builder_add_uint16(b, T(PM_TYPE), 1);
        ew_rscp_builder_add_error(b, T(PM_MODE), EW_RSCP_ERR_NOT_HANDLED);
        ew_rscp_builder_close(b);
    }
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_pm(abuf, n, 6, &m, &d), EW_OK);
    assert_int_equal(m.index, 6);
    assert_true(m.power_l1_w == 101.5);
    assert_true(m.power_l2_w == -200.0);
    assert_true(m.power_l3_w == 300.0);
    assert_true(m.voltage_l1_v == 230.5);
    assert_true(m.energy_l1_wh == 1e6);
    assert_int_equal(m.active_phases, 7);
    assert_int_equal(m.type, EW_E3DC_PM_TYPE_ROOT);
    assert_string_equal(ew_e3dc_pm_type_name(m.type), "ROOT");
    assert_false(HAS(&m, EW_E3DC_PM_MODE));
    assert_false(HAS(&m, EW_E3DC_PM_VOLTAGE_L2));
    assert_int_equal(m.error.code, 1);
    assert_int_equal(ew_e3dc_parse_pm(abuf, n, 3, &m, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing PM_DATA");
    assert_null(ew_e3dc_pm_type_name(12));
    assert_string_equal(ew_e3dc_pm_type_name(11), "ADDITIONAL_PRODUCTION_NO_STORAGE");
}

/* ---- wallbox ------------------------------------------------------------- */

static void add_extern(ew_rscp_builder *b, uint32_t tag, const uint8_t *x, size_t n) {
    ew_rscp_builder_open(b, tag);
    ew_rscp_builder_add_bytes(b, T(WB_EXTERN_DATA), x, n);
    ew_rscp_builder_add_uchar8(b, T(WB_EXTERN_DATA_LEN), (uint8_t)n);
    ew_rscp_builder_close(b);
}

static void test_wallbox(void **state) {
    (void)state;
    ew_e3dc_wallbox w;
    ew_diag d = {0};
    /* ALG: soc 40, 3 phases, sun mode + charging + plugged, 16 A, schuko on.
     * SUN: 1500 W, 123456 Wh.  NET: -10 W (Int16), 1000 Wh. */
    const uint8_t alg[6] = {40, 3, 0x80 | 0x20 | 0x08, 16, 0, 1};
    const uint8_t sun[6] = {0xDC, 0x05, 0x40, 0xE2, 0x01, 0x00};
    const uint8_t net[6] = {0xF6, 0xFF, 0xE8, 0x03, 0x00, 0x00};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
    add_extern(b, T(WB_EXTERN_DATA_ALG), alg, 6);
    add_extern(b, T(WB_EXTERN_DATA_SUN), sun, 6);
    add_extern(b, T(WB_EXTERN_DATA_NET), net, 6);
    ew_rscp_builder_add_uchar8(b, T(WB_APP_SOFTWARE), 5);
    ew_rscp_builder_add_uint32(b, T(WB_KEY_STATE), 1);
    ew_rscp_builder_close(b);
    ew_rscp_builder_add_uchar8(b, T(EMS_BATTERY_TO_CAR_MODE), 1);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox(abuf, n, 0, &w, &d), EW_OK);
    assert_int_equal(w.soc, 40);
    assert_int_equal(w.phases, 3);
    assert_int_equal(w.sun_mode, 1);
    assert_int_equal(w.charging_canceled, 0);
    assert_int_equal(w.charging_active, 1);
    assert_int_equal(w.plug_locked, 0);
    assert_int_equal(w.plugged, 1);
    assert_int_equal(w.max_current_a, 16);
    assert_int_equal(w.schuko_on, 1);
    assert_int_equal(w.sun_power_w, 1500);
    assert_int_equal(w.sun_energy_wh, 123456);
    assert_int_equal(w.net_power_w, -10);
    assert_int_equal(w.net_energy_wh, 1000);
    assert_int_equal(w.total_energy_wh, 124456);
    assert_int_equal(w.app_software, 5);
    assert_int_equal(w.key_state, 1);
    assert_int_equal(w.battery_to_car, 1);
    assert_int_equal(w.present, (1u << EW_E3DC_WB_NFIELDS) - 1);

    /* Short extern data is malformed; a refused ALG is a field. */
    b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    add_extern(b, T(WB_EXTERN_DATA_ALG), alg, 4);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox(abuf, n, 0, &w, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "WB_EXTERN_DATA is not 6 bytes");
    b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 2);
    ew_rscp_builder_add_error(b, T(WB_EXTERN_DATA_ALG), EW_RSCP_ERR_NOT_AVAILABLE);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox(abuf, n, 2, &w, &d), EW_OK);
    assert_false(HAS(&w, EW_E3DC_WB_ALG));
    assert_false(HAS(&w, EW_E3DC_WB_BATTERY_TO_CAR));
    assert_int_equal(w.error.tag, T(WB_EXTERN_DATA_ALG));
}

static void test_wallbox_set(void **state) {
    (void)state;
    ew_e3dc_result r;
    ew_diag d = {0};
    /* The answer shape we expect from the simulator: WB_DATA{WB_INDEX,
     * WB_SET_EXTERN{echo of the request's children}}. */
    const uint8_t x[6] = {1, 0, 0, 0, 0, 0};
    ew_rscp_builder *b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
    add_extern(b, T(WB_SET_EXTERN), x, 6);
    ew_rscp_builder_close(b);
    size_t n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox_set(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_int_equal(r.tag, T(WB_SET_EXTERN));
    assert_false(r.has_value);

    /* WB_SET_EXTERN is None in the tag lists: any non-Error type is ok. */
    b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
    ew_rscp_builder_add_none(b, T(WB_SET_EXTERN));
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox_set(abuf, n, &r, &d), EW_OK);
    assert_true(r.ok);
    assert_int_equal(r.tag, T(WB_SET_EXTERN));

    b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
    ew_rscp_builder_add_error(b, T(WB_SET_PARAM_1), EW_RSCP_ERR_OUT_OF_BOUNDS);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox_set(abuf, n, &r, &d), EW_OK);
    assert_false(r.ok);
    assert_int_equal(r.tag, T(WB_SET_PARAM_1));
    assert_int_equal(r.error.code, EW_RSCP_ERR_OUT_OF_BOUNDS);

    b = start();
    ew_rscp_builder_add_error(b, T(WB_DATA), EW_RSCP_ERR_NOT_AVAILABLE);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox_set(abuf, n, &r, &d), EW_OK);
    assert_false(r.ok);
    assert_int_equal(r.error.whole, 1);

    b = start();
    ew_rscp_builder_open(b, T(WB_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_wallbox_set(abuf, n, &r, &d), EW_ERR_PROTO);
    assert_string_equal(d.what, "missing WB_SET_EXTERN");
}

/* ---- topology ------------------------------------------------------------ */

/* The answer a system with 1 battery (3 DCBs), 1 inverter (2 trackers, 3
 * phases), meters 0 (ROOT) and 2 (ADDITIONAL_CONSUMPTION) and wallbox 0
 * gives to ew_e3dc_req_topology(ALL). */
static size_t topology_answer(void) {
    const uint8_t alg[6] = {0, 3, 0, 16, 0, 0};
    ew_rscp_builder *b = start();
    for (uint16_t i = 0; i < 8; i++) {
        if (i == 0) {
            ew_rscp_builder_open(b, T(BAT_DATA));
            ew_rscp_builder_add_uint16(b, T(BAT_INDEX), 0);
            ew_rscp_builder_add_uchar8(b, T(BAT_DCB_COUNT), 3);
            ew_rscp_builder_close(b);
        } else {
            ew_rscp_builder_add_error(b, T(BAT_DATA), EW_RSCP_ERR_NOT_AVAILABLE);
        }
    }
    for (uint16_t i = 0; i < 8; i++) {
        ew_rscp_builder_open(b, T(PVI_DATA));
        ew_rscp_builder_add_uint16(b, T(PVI_INDEX), i);
        if (i == 0) {
            ew_rscp_builder_add_uchar8(b, T(PVI_TYPE), 3);
            ew_rscp_builder_add_uchar8(b, T(PVI_USED_STRING_COUNT), 2);
            ew_rscp_builder_add_uchar8(b, T(PVI_AC_MAX_PHASE_COUNT), 3);
        }
        ew_rscp_builder_close(b);
    }
    for (uint16_t i = 0; i < 8; i++) {
        ew_rscp_builder_open(b, T(PM_DATA));
        ew_rscp_builder_add_uint16(b, T(PM_INDEX), i);
        if (i == 0)
            ew_rscp_builder_add_uint16(b, T(PM_TYPE), 1);
        if (i == 2)
            ew_rscp_builder_add_uint16(b, T(PM_TYPE), 4);
        if (i == 5)
            ew_rscp_builder_add_error(b, T(PM_TYPE), EW_RSCP_ERR_NOT_AVAILABLE);
        ew_rscp_builder_close(b);
    }
    for (uint16_t i = 0; i < 8; i++) {
        if (i == 0) {
            ew_rscp_builder_open(b, T(WB_DATA));
            ew_rscp_builder_add_uchar8(b, T(WB_INDEX), 0);
            add_extern(b, T(WB_EXTERN_DATA_ALG), alg, 6);
            ew_rscp_builder_close(b);
        } else {
            ew_rscp_builder_add_error(b, T(WB_DATA), EW_RSCP_ERR_NOT_AVAILABLE);
        }
    }
    return done(b);
}

static void test_topology(void **state) {
    (void)state;
    ew_e3dc_topology t;
    ew_diag d = {0};
    size_t n = topology_answer();
    assert_int_equal(ew_e3dc_parse_topology(abuf, n, &t, &d), EW_OK);
    assert_int_equal(t.probed, EW_E3DC_TOPO_ALL);
    assert_int_equal(t.nbatteries, 1);
    assert_int_equal(t.batteries[0].index, 0);
    assert_int_equal(t.batteries[0].dcb_count, 3);
    assert_int_equal(t.npvis, 1);
    assert_int_equal(t.pvis[0].type, 3);
    assert_int_equal(t.pvis[0].trackers, 2);
    assert_int_equal(t.pvis[0].phases, 3);
    assert_int_equal(t.ntrackers, 2);
    assert_int_equal(t.npms, 2);
    assert_int_equal(t.pms[1].index, 2);
    assert_int_equal(t.pms[1].type, 4);
    assert_int_equal(t.root_pm_index, 0);
    assert_int_equal(t.nwallboxes, 1);
    assert_int_equal(t.wallboxes[0], 0);

    /* Positions stand for indexes when answers carry none: battery 2 is
     * the third BAT_DATA.  No root meter reported: -1. */
    ew_rscp_builder *b = start();
    ew_rscp_builder_add_error(b, T(BAT_DATA), 6);
    ew_rscp_builder_add_error(b, T(BAT_DATA), 6);
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_uchar8(b, T(BAT_DCB_COUNT), 1);
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(BAT_DATA));
    ew_rscp_builder_add_error(b, T(BAT_DCB_COUNT), 6); /* refused: not counted */
    ew_rscp_builder_close(b);
    ew_rscp_builder_open(b, T(PM_DATA));
    ew_rscp_builder_add_uint16(b, T(PM_TYPE), 2);
    ew_rscp_builder_close(b);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_topology(abuf, n, &t, &d), EW_OK);
    assert_int_equal(t.probed, EW_E3DC_TOPO_BATTERIES | EW_E3DC_TOPO_PMS);
    assert_int_equal(t.nbatteries, 1);
    assert_int_equal(t.batteries[0].index, 2);
    assert_int_equal(t.npms, 1);
    assert_int_equal(t.root_pm_index, -1);
    assert_int_equal(t.npvis, 0);

    b = start();
    ew_rscp_builder_add_uint32(b, T(EMS_STATUS), 1);
    n = done(b);
    assert_int_equal(ew_e3dc_parse_topology(abuf, n, &t, &d), EW_ERR_PROTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_battery_vectors),
        cmocka_unit_test(test_battery_dcbs),
        cmocka_unit_test(test_pvi),
        cmocka_unit_test(test_pm),
        cmocka_unit_test(test_wallbox),
        cmocka_unit_test(test_wallbox_set),
        cmocka_unit_test(test_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
