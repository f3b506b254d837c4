/*
 * E3/DC writers: JSON that parses (jansson) with the struct's field names,
 * SI units in the keys, null for absent fields, the device error object;
 * the text form for humans; EW_ERR_NOBUF with the needed size for every
 * short buffer; every struct's writers in both forms.
 */
#include "testutil.h"

#include <energywire/e3dc.h>
#include <energywire/rscp_tags.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T(x) EW_RSCP_TAG_##x

typedef int (*write_fn)(const void *v, unsigned flags, char *out, size_t cap, size_t *written);

/*
 * Runs |fn| first with cap 0, then with every cap below the size needed
 * (each: EW_ERR_NOBUF, the same size, a NUL-terminated prefix of the full
 * text), then with the exact size.  Returns the text (caller frees).
 */
static char *write_checked(write_fn fn, const void *v, unsigned flags) {
    size_t need = 0, w = 0;
    char dummy = 'x';
    assert_int_equal(fn(v, flags, &dummy, 0, &need), EW_ERR_NOBUF);
    assert_int_equal(dummy, 'x');
    assert_true(need >= 2);
    char *full = malloc(need);
    assert_non_null(full);
    assert_int_equal(fn(v, flags, full, need, &w), EW_OK);
    assert_int_equal(w, need - 1);
    assert_int_equal(strlen(full), need - 1);
    /* Short buffers: a prefix, always terminated (checked at a stride to
     * keep long outputs fast). */
    size_t step = need > 400 ? need / 97 : 1;
    for (size_t cap = 1; cap < need; cap += step) {
        char *p = malloc(cap);
        size_t n2 = 0;
        assert_int_equal(fn(v, flags, p, cap, &n2), EW_ERR_NOBUF);
        assert_int_equal(n2, need);
        assert_int_equal(strlen(p), cap - 1);
        assert_memory_equal(p, full, cap - 1);
        free(p);
    }
    return full;
}

static json_t *parse_json(const char *s) {
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    if (!j)
        fail_msg("bad JSON (%s at %d): %s", err.text, err.position, s);
    return j;
}

static double num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("%s is not a number", key);
    return json_number_value(v);
}

/* Type-correct adapters (no calls through cast function pointers). */
#define WRAP(name, type)                                                                           \
    static int jw_##name(const void *v, unsigned f, char *o, size_t c, size_t *w) {                \
        return ew_e3dc_##name##_json((const type *)v, f, o, c, w);                                 \
    }                                                                                              \
    static int tw_##name(const void *v, unsigned f, char *o, size_t c, size_t *w) {                \
        return ew_e3dc_##name##_text((const type *)v, f, o, c, w);                                 \
    }
WRAP(result, ew_e3dc_result)
WRAP(poll, ew_e3dc_poll)
WRAP(status, ew_e3dc_status)
WRAP(sysinfo, ew_e3dc_sysinfo)
WRAP(sysinfo_dyn, ew_e3dc_sysinfo_dyn)
WRAP(switches, ew_e3dc_switches)
WRAP(idle_periods, ew_e3dc_idle_periods)
WRAP(history, ew_e3dc_history)
WRAP(power_settings, ew_e3dc_power_settings)
WRAP(power_settings_result, ew_e3dc_power_settings_result)
WRAP(manual_charge, ew_e3dc_manual_charge)
WRAP(battery, ew_e3dc_battery)
WRAP(pvi, ew_e3dc_pvi)
WRAP(pm, ew_e3dc_pm)
WRAP(wallbox, ew_e3dc_wallbox)
WRAP(topology, ew_e3dc_topology)
#define W(name) jw_##name
#define WT(name) tw_##name

/* Checks both writers and both JSON forms of |v|; returns the compact JSON
 * parsed (caller decrefs). */
static json_t *check_all(write_fn json, write_fn text, const void *v) {
    char *s = write_checked(json, v, 0);
    json_t *j = parse_json(s);
    char *p = write_checked(json, v, EW_E3DC_JSON_PRETTY);
    json_t *jp = parse_json(p);
    assert_true(json_equal(j, jp));
    assert_non_null(strchr(p, '\n'));
    json_decref(jp);
    free(p);
    free(s);
    char *t = write_checked(text, v, 0);
    assert_null(strchr(t, '{'));
    free(t);
    return j;
}

/* ---- poll ---------------------------------------------------------------- */

static ew_e3dc_poll sample_poll(void) {
    ew_e3dc_poll p;
    memset(&p, 0, sizeof p);
    p.time.seconds = 1700000000;
    p.soc_pct = 77;
    p.pv_power_w = 4687;
    p.add_power_w = 0;
    p.battery_power_w = 2139;
    p.house_power_w = 612;
    p.grid_power_w = -1936;
    p.self_consumption_pct = 58.75;
    p.autarky_pct = (double)99.9f; /* a Float32 value prints short */
    p.present = ((1u << EW_E3DC_POLL_NFIELDS) - 1) & ~(1u << EW_E3DC_POLL_WALLBOX);
    p.error.code = EW_RSCP_ERR_NOT_AVAILABLE;
    p.error.tag = T(EMS_POWER_WB_ALL);
    p.error.count = 1;
    return p;
}

static void test_poll_json(void **state) {
    (void)state;
    ew_e3dc_poll p = sample_poll();
    json_t *j = check_all(W(poll), WT(poll), &p);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20Z");
    assert_true(num(j, "soc_pct") == 77);
    assert_true(num(j, "pv_power_w") == 4687);
    assert_true(num(j, "grid_power_w") == -1936);
    assert_true(num(j, "battery_power_w") == 2139);
    assert_true(num(j, "self_consumption_pct") == 58.75);
    assert_true(json_is_null(json_object_get(j, "wallbox_power_w")));
    const json_t *e = json_object_get(j, "error");
    assert_true(num(e, "code") == 6);
    assert_string_equal(json_string_value(json_object_get(e, "name")), "RSCP_ERR_NOT_AVAILABLE");
    assert_string_equal(json_string_value(json_object_get(e, "tag")), "EMS_POWER_WB_ALL");
    assert_true(json_is_false(json_object_get(e, "whole")));
    json_decref(j);

    char *s = write_checked(W(poll), &p, 0);
    assert_non_null(strstr(s, "\"autarky_pct\":99.9,"));
    assert_non_null(strstr(s, "\"wallbox_power_w\":null"));
    free(s);

    /* Text: labels without the unit suffix, units after the value. */
    char *t = write_checked(WT(poll), &p, 0);
    assert_non_null(strstr(t, "time: 2023-11-14T22:13:20Z\n"));
    assert_non_null(strstr(t, "soc: 77 %\n"));
    assert_non_null(strstr(t, "pv power: 4687 W\n"));
    assert_non_null(strstr(t, "grid power: -1936 W\n"));
    assert_non_null(strstr(t, "self consumption: 58.75 %\n"));
    assert_null(strstr(t, "wallbox"));
    assert_non_null(strstr(t, "device error: 6 RSCP_ERR_NOT_AVAILABLE"));
    assert_non_null(strstr(t, "at EMS_POWER_WB_ALL\n"));
    free(t);

    /* No error: "error": null, and nothing in the text. */
    p.error.count = 0;
    s = write_checked(W(poll), &p, 0);
    assert_non_null(strstr(s, "\"error\":null}"));
    free(s);

    /* NaN cannot be JSON: null. */
    p.autarky_pct = NAN;
    s = write_checked(W(poll), &p, 0);
    assert_non_null(strstr(s, "\"autarky_pct\":null"));
    free(s);

    size_t w;
    char buf[8];
    assert_int_equal(ew_e3dc_poll_json(NULL, 0, buf, sizeof buf, &w), EW_ERR_INVAL);
    assert_int_equal(ew_e3dc_poll_text(&p, 0, NULL, 0, &w), EW_ERR_NOBUF);
}

/* ---- every struct -------------------------------------------------------- */

static void test_devices_json(void **state) {
    (void)state;
    static ew_e3dc_battery b;
    memset(&b, 0, sizeof b);
    b.index = 1;
    b.rsoc_pct = 66.5;
    b.device_connected = 1;
    strcpy(b.device_name, "BAT \"one\"\n");
    b.present = 1u << EW_E3DC_BAT_RSOC | 1u << EW_E3DC_BAT_DEVICE_CONNECTED |
                1u << EW_E3DC_BAT_DEVICE_NAME | 1u << EW_E3DC_BAT_DEVICE_STATE;
    b.ndcbs = 2;
    b.dcbs[0].index = 0;
    b.dcbs[0].soc_pct = 80.5;
    b.dcbs[0].nvoltages = 3;
    b.dcbs[0].voltages_v[0] = 3.25f;
    b.dcbs[0].voltages_v[1] = 3.5f;
    b.dcbs[0].voltages_v[2] = 3.3f;
    b.dcbs[0].present =
        1u << EW_E3DC_DCB_INDEX | 1u << EW_E3DC_DCB_SOC | 1ull << EW_E3DC_DCB_VOLTAGES;
    b.dcbs[1].index = 1;
    b.dcbs[1].present = 1u << EW_E3DC_DCB_INDEX | 1ull << EW_E3DC_DCB_TEMPS;
    json_t *j = check_all(W(battery), WT(battery), &b);
    assert_true(num(j, "rsoc_pct") == 66.5);
    assert_true(json_is_true(json_object_get(j, "device_connected")));
    assert_true(json_is_null(json_object_get(j, "device_working")));
    assert_string_equal(json_string_value(json_object_get(j, "device_name")), "BAT \"one\"\n");
    const json_t *dcbs = json_object_get(j, "dcbs");
    assert_int_equal(json_array_size(dcbs), 2);
    const json_t *v = json_object_get(json_array_get(dcbs, 0), "voltages_v");
    assert_int_equal(json_array_size(v), 3);
    assert_true(json_number_value(json_array_get(v, 2)) == 3.3); /* Float32 printed short */
    assert_true(json_is_null(json_object_get(json_array_get(dcbs, 0), "temps_c")));
    assert_int_equal(json_array_size(json_object_get(json_array_get(dcbs, 1), "temps_c")), 0);
    json_decref(j);
    char *t = write_checked(WT(battery), &b, 0);
    assert_non_null(strstr(t, "dcbs:\n  [0]:\n    index: 0\n    soc: 80.5 %\n"));
    assert_non_null(strstr(t, "voltages: 3.25 3.5 3.3 V\n"));
    assert_non_null(strstr(t, "device name: BAT \"one\"?\n"));
    free(t);

    static ew_e3dc_pvi p;
    memset(&p, 0, sizeof p);
    p.type = 4;
    p.present = 1u << EW_E3DC_PVI_TYPE;
    p.ntrackers = 1;
    p.trackers[0].power_w = 1500;
    p.trackers[0].present = 1u << EW_E3DC_TRK_POWER;
    p.nphases = 1;
    p.ntemps = 1;
    p.temps[0].temp_c = 40;
    j = check_all(W(pvi), WT(pvi), &p);
    assert_string_equal(json_string_value(json_object_get(j, "type_name")), "E3DC_MINI");
    assert_true(num(json_array_get(json_object_get(j, "trackers"), 0), "power_w") == 1500);
    json_decref(j);

    ew_e3dc_pm m;
    memset(&m, 0, sizeof m);
    m.type = 1;
    m.power_l1_w = 100.25;
    m.present = 1u << EW_E3DC_PM_TYPE | 1u << EW_E3DC_PM_POWER_L1;
    j = check_all(W(pm), WT(pm), &m);
    assert_string_equal(json_string_value(json_object_get(j, "type_name")), "ROOT");
    assert_true(num(j, "power_l1_w") == 100.25);
    json_decref(j);

    ew_e3dc_wallbox wb;
    memset(&wb, 0, sizeof wb);
    wb.sun_mode = 1;
    wb.max_current_a = 16;
    wb.sun_power_w = 1500;
    wb.present = 1u << EW_E3DC_WB_SUN_MODE | 1u << EW_E3DC_WB_MAX_CURRENT | 1u << EW_E3DC_WB_SUN;
    j = check_all(W(wallbox), WT(wallbox), &wb);
    assert_true(json_is_true(json_object_get(j, "sun_mode")));
    assert_true(num(j, "max_current_a") == 16);
    assert_true(num(j, "sun_power_w") == 1500);
    assert_true(json_is_null(json_object_get(j, "net_power_w")));
    json_decref(j);

    ew_e3dc_topology topo;
    memset(&topo, 0, sizeof topo);
    topo.nbatteries = 1;
    topo.batteries[0].dcb_count = 3;
    topo.npvis = 1;
    topo.pvis[0].type = 3;
    topo.pvis[0].trackers = 2;
    topo.pvis[0].phases = -1;
    topo.npms = 1;
    topo.pms[0].type = 1;
    topo.root_pm_index = 0;
    topo.nwallboxes = 2;
    topo.wallboxes[1] = 5;
    j = check_all(W(topology), WT(topology), &topo);
    assert_int_equal(json_array_size(json_object_get(j, "wallboxes")), 2);
    assert_true(json_number_value(json_array_get(json_object_get(j, "wallboxes"), 1)) == 5);
    assert_true(
        json_is_null(json_object_get(json_array_get(json_object_get(j, "pvis"), 0), "phases")));
    json_decref(j);
}

static void test_ems_json(void **state) {
    (void)state;
    ew_e3dc_status st;
    memset(&st, 0, sizeof st);
    st.ems_status = 2;
    st.sys_status = 0x2623;
    ew_e3dc_sys_status_decode(st.sys_status, &st.bits);
    st.present = 3;
    json_t *j = check_all(W(status), WT(status), &st);
    const json_t *bits = json_object_get(j, "sys_status_bits");
    assert_true(json_is_true(json_object_get(bits, "dcdc_alive")));
    assert_true(json_is_false(json_object_get(bits, "battery_module_alive")));
    assert_true(num(bits, "ac_coupling_mode") == 2);
    assert_int_equal(json_object_size(bits), 21);
    json_decref(j);

    static ew_e3dc_sysinfo si;
    memset(&si, 0, sizeof si);
    strcpy(si.serial, "S10-721234567");
    strcpy(si.serial_prefix, "S10-");
    si.model = EW_E3DC_MODEL_S10E;
    si.nspecs = 2;
    strcpy(si.specs[0].name, "maxAcPower");
    si.specs[0].value = 12000;
    strcpy(si.specs[1].name, "x");
    si.specs[1].is_string = 1;
    strcpy(si.specs[1].text, "y");
    si.present = 1u << EW_E3DC_SYSINFO_SERIAL | 1u << EW_E3DC_SYSINFO_SPECS;
    j = check_all(W(sysinfo), WT(sysinfo), &si);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "S10E");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "specs"), 1), "value")),
        "y");
    json_decref(j);

    ew_e3dc_sysinfo_dyn dyn;
    memset(&dyn, 0, sizeof dyn);
    strcpy(dyn.sw_release, "H20_2023_024");
    dyn.utc_offset_s = 3600;
    dyn.present = 1u << EW_E3DC_SYSDYN_SW_RELEASE | 1u << EW_E3DC_SYSDYN_UTC_OFFSET;
    j = check_all(W(sysinfo_dyn), WT(sysinfo_dyn), &dyn);
    assert_true(num(j, "utc_offset_s") == 3600);
    json_decref(j);

    static ew_e3dc_switches sw;
    memset(&sw, 0, sizeof sw);
    sw.n = sw.total = 1;
    sw.sw[0].id = 3;
    strcpy(sw.sw[0].name, "Heater");
    sw.sw[0].present = 1u << EW_E3DC_SWITCH_ID | 1u << EW_E3DC_SWITCH_NAME;
    j = check_all(W(switches), WT(switches), &sw);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "switches"), 0), "name")),
                        "Heater");
    json_decref(j);

    ew_e3dc_idle_periods ip;
    memset(&ip, 0, sizeof ip);
    ip.n = ip.total = 1;
    ip.p[0].type = EW_E3DC_IDLE_DISCHARGE;
    ip.p[0].end_hour = 5;
    j = check_all(W(idle_periods), WT(idle_periods), &ip);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "periods"), 0), "type")),
                        "discharge");
    json_decref(j);

    static ew_e3dc_history h;
    memset(&h, 0, sizeof h);
    h.kind = EW_E3DC_HISTORY_WEEK;
    h.sum.pv_wh = 1234.5;
    h.sum.present = 1u << EW_E3DC_HIST_PV;
    h.nvalues = 2;
    j = check_all(W(history), WT(history), &h);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "week");
    assert_true(num(json_object_get(j, "sum"), "pv_wh") == 1234.5);
    assert_int_equal(json_array_size(json_object_get(j, "values")), 2);
    json_decref(j);

    ew_e3dc_power_settings ps;
    memset(&ps, 0, sizeof ps);
    ps.limits_used = 1;
    ps.max_charge_power_w = 3000;
    ps.present = 1u << EW_E3DC_PS_LIMITS_USED | 1u << EW_E3DC_PS_MAX_CHARGE;
    j = check_all(W(power_settings), WT(power_settings), &ps);
    assert_true(json_is_true(json_object_get(j, "limits_used")));
    assert_true(num(j, "max_charge_power_w") == 3000);
    json_decref(j);

    ew_e3dc_power_settings_result pr;
    memset(&pr, 0, sizeof pr);
    pr.res[EW_E3DC_PS_MAX_CHARGE] = 1;
    pr.present = 1u << EW_E3DC_PS_MAX_CHARGE;
    pr.overall = 1;
    j = check_all(W(power_settings_result), WT(power_settings_result), &pr);
    assert_true(num(json_object_get(j, "results"), "max_charge_power_w") == 1);
    assert_true(json_is_null(json_object_get(json_object_get(j, "results"), "powersave")));
    json_decref(j);

    ew_e3dc_manual_charge mc;
    memset(&mc, 0, sizeof mc);
    mc.energy_wh = 812.5;
    mc.last_start.seconds = 1700000000;
    mc.last_start.nanoseconds = 500000000;
    mc.present = 1u << EW_E3DC_MC_ENERGY | 1u << EW_E3DC_MC_LAST_START;
    j = check_all(W(manual_charge), WT(manual_charge), &mc);
    assert_string_equal(json_string_value(json_object_get(j, "last_start")),
                        "2023-11-14T22:13:20.5Z");
    json_decref(j);

    ew_e3dc_result r;
    memset(&r, 0, sizeof r);
    r.tag = T(EMS_SET_POWER);
    r.ok = 1;
    r.has_value = 1;
    r.value = 2000;
    j = check_all(W(result), WT(result), &r);
    assert_string_equal(json_string_value(json_object_get(j, "tag")), "EMS_SET_POWER");
    assert_true(num(j, "value") == 2000);
    json_decref(j);
    r.tag = 0x7F123456u; /* not in the registry */
    r.error.code = 0xFFFFFFFFu;
    r.error.tag = 0x7F123456u;
    r.error.count = 2;
    r.error.whole = 1;
    j = check_all(W(result), WT(result), &r);
    assert_string_equal(json_string_value(json_object_get(j, "tag")), "0x7F123456");
    assert_true(num(json_object_get(j, "error"), "count") == 2);
    json_decref(j);
    char *t = write_checked(WT(result), &r, 0);
    assert_non_null(strstr(t, "whole answer refused (+1 more)\n"));
    free(t);
}

/* End to end: the vector answer parsed and written. */
static void test_parse_then_write(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/frames_plain.json");
    size_t idx;
    const json_t *f;
    json_array_foreach(json_object_get(root, "frames"), idx, f) {
        if (strcmp(tu_str(f, "id"), "bat_response_nested") != 0)
            continue;
        size_t n = 0;
        uint8_t *area = tu_unhex(tu_str(json_object_get(f, "with_crc"), "data_hex"), &n);
        static ew_e3dc_battery b;
        ew_diag d;
        assert_int_equal(ew_e3dc_parse_battery(area, n, 0, &b, &d), EW_OK);
        json_t *j = check_all(W(battery), WT(battery), &b);
        assert_true(num(j, "rsoc_pct") == 77.25);
        assert_true(json_is_false(json_object_get(j, "device_in_service")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "tag")),
                            "BAT_DCB_INFO");
        json_decref(j);
        free(area);
    }
    json_decref(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_json),
        cmocka_unit_test(test_devices_json),
        cmocka_unit_test(test_ems_json),
        cmocka_unit_test(test_parse_then_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
