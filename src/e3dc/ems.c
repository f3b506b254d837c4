/*
 * EMS and INFO operations: poll, status words, system information, power
 * settings, manual power control, manual charge, battery-to-car mode and
 * idle periods (rscp.md §9.1, §9.2, §9.7, §9.8).
 */
#include "e3dc/e3dc_int.h"

#include <stdio.h>

#define T(x) EW_RSCP_TAG_##x
#define F_OPT EW_E3DC_F_OPT

/* ---- single-value answers ----------------------------------------------- */

int ew_e3dc_parse_single(const uint8_t *area, size_t len, uint32_t tag, const char *miss, int rule,
                         ew_e3dc_result *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root;
    ew_rscp_value v;
    if (!ew_e3dc_find(area, len, tag, &root, &v))
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, miss);
    out->tag = v.tag;
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (ew_e3dc_get_int(&v, &out->value) == EW_OK)
        out->has_value = 1;
    switch (rule) {
    case EW_E3DC_OK_TRUE:
        if (!out->has_value)
            return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "answer is not a Bool or integer");
        out->ok = out->value != 0;
        break;
    case EW_E3DC_OK_ONE:
        if (!out->has_value)
            return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "answer is not an integer");
        out->ok = out->value == 1;
        break;
    default:
        out->ok = 1;
        break;
    }
    return EW_OK;
}

/* ---- poll (rscp.md §9.1) ------------------------------------------------ */

const ew_e3dc_field ew_e3dc_poll_fields[EW_E3DC_POLL_NFIELDS] = {
    [EW_E3DC_POLL_TIME] =
        EW_E3DC_FLD(T(INFO_REQ_UTC_TIME), INFO_UTC_TIME, 0, 0, ew_e3dc_poll, time, ""),
    [EW_E3DC_POLL_SOC] =
        EW_E3DC_FLD(T(EMS_REQ_BAT_SOC), EMS_BAT_SOC, 0, 0, ew_e3dc_poll, soc_pct, "%"),
    [EW_E3DC_POLL_PV] =
        EW_E3DC_FLD(T(EMS_REQ_POWER_PV), EMS_POWER_PV, 0, 0, ew_e3dc_poll, pv_power_w, "W"),
    /* Additional generators are reported negative; pye3dc negates them so
     * that production is positive like PV (rscp.md §9.1). */
    [EW_E3DC_POLL_ADD] = EW_E3DC_FLD(T(EMS_REQ_POWER_ADD), EMS_POWER_ADD, 0, EW_E3DC_F_NEG,
                                     ew_e3dc_poll, add_power_w, "W"),
    [EW_E3DC_POLL_BATTERY] =
        EW_E3DC_FLD(T(EMS_REQ_POWER_BAT), EMS_POWER_BAT, 0, 0, ew_e3dc_poll, battery_power_w, "W"),
    [EW_E3DC_POLL_HOUSE] =
        EW_E3DC_FLD(T(EMS_REQ_POWER_HOME), EMS_POWER_HOME, 0, 0, ew_e3dc_poll, house_power_w, "W"),
    [EW_E3DC_POLL_GRID] =
        EW_E3DC_FLD(T(EMS_REQ_POWER_GRID), EMS_POWER_GRID, 0, 0, ew_e3dc_poll, grid_power_w, "W"),
    [EW_E3DC_POLL_WALLBOX] = EW_E3DC_FLD(T(EMS_REQ_POWER_WB_ALL), EMS_POWER_WB_ALL, 0, 0,
                                         ew_e3dc_poll, wallbox_power_w, "W"),
    [EW_E3DC_POLL_SELF_CONSUMPTION] = EW_E3DC_FLD(T(EMS_REQ_SELF_CONSUMPTION), EMS_SELF_CONSUMPTION,
                                                  0, 0, ew_e3dc_poll, self_consumption_pct, "%"),
    [EW_E3DC_POLL_AUTARKY] =
        EW_E3DC_FLD(T(EMS_REQ_AUTARKY), EMS_AUTARKY, 0, 0, ew_e3dc_poll, autarky_pct, "%"),
};

int ew_e3dc_req_poll(ew_rscp_builder *b) {
    return ew_e3dc_req_fields(b, ew_e3dc_poll_fields, EW_E3DC_POLL_NFIELDS, ~0ull);
}

int ew_e3dc_parse_poll(const uint8_t *area, size_t len, ew_e3dc_poll *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    return ew_e3dc_fields_top(ew_e3dc_poll_fields, EW_E3DC_POLL_NFIELDS, area, len, out,
                              &out->present, &out->error, d);
}

/* ---- status words (rscp.md §9.1) ---------------------------------------- */

const ew_e3dc_field ew_e3dc_status_fields[EW_E3DC_STATUS_NFIELDS] = {
    /* EMS_STATUS: documented UChar8, go-rscp saw UInt32; both are integers. */
    [EW_E3DC_STATUS_EMS] =
        EW_E3DC_FLD(T(EMS_REQ_STATUS), EMS_STATUS, 0, 0, ew_e3dc_status, ems_status, ""),
    /* The answer tag is unknown, so it is looked up by hand below. */
    [EW_E3DC_STATUS_SYS] = {T(EMS_REQ_SYS_STATUS), 0, 0, 0, 0, EW_E3DC_K_I64, 0, NULL, "",
                            "missing EMS_SYS_STATUS", "unexpected type of EMS_SYS_STATUS"},
};

static const char *const sys_bit_names[22] = {
    "dcdc_alive",
    "power_meter_alive",
    "battery_module_alive",
    "pv_module_alive",
    "pv_inverter_inited",
    "server_connection_alive",
    "pv_derated",
    "ems_alive",
    "ac_coupling_mode",
    "ac_coupling_mode",
    "ac_mode_blocked",
    "sys_conf_checked",
    "emergency_power_started",
    "emergency_power_override",
    "wallbox_alive",
    "power_save_enabled",
    "charge_idle_period_active",
    "discharge_idle_period_active",
    "wait_for_weather_breakthrough",
    "rescue_battery_enabled",
    "emergency_reserve_reached",
    "soc_sync_requested",
};

const char *ew_e3dc_sys_status_bit_name(unsigned bit) {
    return bit < EW_E3DC_COUNT(sys_bit_names) ? sys_bit_names[bit] : NULL;
}

void ew_e3dc_sys_status_decode(uint32_t raw, ew_e3dc_sys_status_bits *o) {
    /* Bit positions as pye3dc's get_system_status (rscp.md §9.1). */
#define BIT(n) ((int)((raw >> (n)) & 1u))
    o->dcdc_alive = BIT(0);
    o->power_meter_alive = BIT(1);
    o->battery_module_alive = BIT(2);
    o->pv_module_alive = BIT(3);
    o->pv_inverter_inited = BIT(4);
    o->server_connection_alive = BIT(5);
    o->pv_derated = BIT(6);
    o->ems_alive = BIT(7);
    o->ac_coupling_mode = (raw >> 8) & 3u;
    o->ac_mode_blocked = BIT(10);
    o->sys_conf_checked = BIT(11);
    o->emergency_power_started = BIT(12);
    o->emergency_power_override = BIT(13);
    o->wallbox_alive = BIT(14);
    o->power_save_enabled = BIT(15);
    o->charge_idle_period_active = BIT(16);
    o->discharge_idle_period_active = BIT(17);
    o->wait_for_weather_breakthrough = BIT(18);
    o->rescue_battery_enabled = BIT(19);
    o->emergency_reserve_reached = BIT(20);
    o->soc_sync_requested = BIT(21);
#undef BIT
}

int ew_e3dc_req_status(ew_rscp_builder *b) {
    return ew_e3dc_req_fields(b, ew_e3dc_status_fields, EW_E3DC_STATUS_NFIELDS, ~0ull);
}

/* Finds the EMS_REQ_SYS_STATUS answer.  Its tag is unknown (rscp.md §12):
 * the merged tag list names EMS_SYS_STATUS 0x0100009E; request | response
 * bit gives 0x01800098, which is also EMS_GET_SYS_SPECS (a container), so
 * that tag only counts when it carries a non-container value. */
static int find_sys_status(const uint8_t *area, size_t len, ew_rscp_value *v) {
    ew_rscp_iter it;
    ew_rscp_iter_init(&it, area, len, 0);
    while (ew_rscp_iter_next(&it, v, NULL) > 0) {
        if (v->tag == T(EMS_SYS_STATUS))
            return 1;
        if (v->tag == T(EMS_GET_SYS_SPECS) && v->type != EW_RSCP_TYPE_CONTAINER)
            return 1;
    }
    return 0;
}

int ew_e3dc_parse_status(const uint8_t *area, size_t len, ew_e3dc_status *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    rc = ew_e3dc_fields_top(ew_e3dc_status_fields, EW_E3DC_STATUS_NFIELDS, area, len, out,
                            &out->present, &out->error, d);
    if (rc < 0)
        return rc;
    ew_rscp_value v;
    const ew_e3dc_field *f = &ew_e3dc_status_fields[EW_E3DC_STATUS_SYS];
    if (!find_sys_status(area, len, &v))
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, f->miss);
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 0, d);
    int64_t x;
    if (ew_e3dc_get_int(&v, &x) < 0 || x < 0 || x > (int64_t)UINT32_MAX)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, f->bad);
    out->sys_status = (uint32_t)x;
    ew_e3dc_sys_status_decode(out->sys_status, &out->bits);
    out->present |= 1ull << EW_E3DC_STATUS_SYS;
    return EW_OK;
}

/* ---- static system information (rscp.md §9.2) --------------------------- */

const ew_e3dc_field ew_e3dc_sysinfo_fields[EW_E3DC_SYSINFO_NFIELDS] = {
    /* A fraction on the wire; pye3dc multiplies by 100. */
    [EW_E3DC_SYSINFO_DERATE_PCT] =
        EW_E3DC_FLD(T(EMS_REQ_DERATE_AT_PERCENT_VALUE), EMS_DERATE_AT_PERCENT_VALUE, 0,
                    EW_E3DC_F_X100, ew_e3dc_sysinfo, derate_pct, "%"),
    [EW_E3DC_SYSINFO_DERATE_POWER] =
        EW_E3DC_FLD(T(EMS_REQ_DERATE_AT_POWER_VALUE), EMS_DERATE_AT_POWER_VALUE, 0, 0,
                    ew_e3dc_sysinfo, derate_power_w, "W"),
    [EW_E3DC_SYSINFO_PEAK_POWER] =
        EW_E3DC_FLD(T(EMS_REQ_INSTALLED_PEAK_POWER), EMS_INSTALLED_PEAK_POWER, 0, 0,
                    ew_e3dc_sysinfo, installed_peak_power_w, "W"),
    /* Char8 on devices, documented UChar8 (rscp.md §9.2). */
    [EW_E3DC_SYSINFO_EXT_SRC] = EW_E3DC_FLD(T(EMS_REQ_EXT_SRC_AVAILABLE), EMS_EXT_SRC_AVAILABLE, 0,
                                            0, ew_e3dc_sysinfo, ext_src_available, ""),
    [EW_E3DC_SYSINFO_MAC] =
        EW_E3DC_FLD(T(INFO_REQ_MAC_ADDRESS), INFO_MAC_ADDRESS, 0, 0, ew_e3dc_sysinfo, mac, ""),
    [EW_E3DC_SYSINFO_SERIAL] = EW_E3DC_FLD(T(INFO_REQ_SERIAL_NUMBER), INFO_SERIAL_NUMBER, 0, 0,
                                           ew_e3dc_sysinfo, serial, ""),
    /* EMS_REQ_GET_SYS_SPECS is answered by EMS_GET_SYS_SPECS 0x01800098, not
     * by request | 0x00800000 (rscp.md §4.1); parsed by hand below. */
    [EW_E3DC_SYSINFO_SPECS] = {T(EMS_REQ_GET_SYS_SPECS), 0, 0, 0, 0, EW_E3DC_K_GROUP, 0, NULL, "",
                               "missing EMS_GET_SYS_SPECS", "unexpected type of EMS_GET_SYS_SPECS"},
    [EW_E3DC_SYSINFO_BAT_CAPACITY] =
        EW_E3DC_DRV(ew_e3dc_sysinfo, installed_battery_capacity_wh, "Wh"),
    [EW_E3DC_SYSINFO_MAX_AC_POWER] = EW_E3DC_DRV(ew_e3dc_sysinfo, max_ac_power_w, "W"),
    [EW_E3DC_SYSINFO_MAX_BAT_CHARGE] = EW_E3DC_DRV(ew_e3dc_sysinfo, max_bat_charge_power_w, "W"),
    [EW_E3DC_SYSINFO_MAX_BAT_DISCHARGE] =
        EW_E3DC_DRV(ew_e3dc_sysinfo, max_bat_discharge_power_w, "W"),
    [EW_E3DC_SYSINFO_START_DISCHARGE_DEFAULT] =
        EW_E3DC_DRV(ew_e3dc_sysinfo, start_discharge_default_w, "W"),
};

int ew_e3dc_req_sysinfo(ew_rscp_builder *b) {
    return ew_e3dc_req_fields(b, ew_e3dc_sysinfo_fields, EW_E3DC_SYSINFO_NFIELDS, ~0ull);
}

static int parse_spec(const ew_rscp_iter *it, const ew_rscp_value *v, ew_e3dc_sys_spec *s,
                      ew_e3dc_error *err, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int have_name = 0;
    int rc = ew_rscp_iter_enter(it, v, &ci, d);
    if (rc < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "unexpected type of EMS_SYS_SPEC");
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(err, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if (c.tag == T(EMS_SYS_SPEC_INDEX)) {
            /* Documented Int32, devices mostly send UInt32 (rscp.md §9.2). */
            if (ew_e3dc_get_int(&c, &s->index) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                    "unexpected type of EMS_SYS_SPEC_INDEX");
        } else if (c.tag == T(EMS_SYS_SPEC_NAME)) {
            if (c.type != EW_RSCP_TYPE_CSTRING)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                    "unexpected type of EMS_SYS_SPEC_NAME");
            ew_e3dc_copy_str(s->name, sizeof s->name, c.data, c.len);
            have_name = 1;
        } else if (c.tag == T(EMS_SYS_SPEC_VALUE_INT)) {
            if (ew_e3dc_get_int(&c, &s->value) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                    "unexpected type of EMS_SYS_SPEC_VALUE_INT");
            s->is_string = 0;
        } else if (c.tag == T(EMS_SYS_SPEC_VALUE_STRING)) {
            if (c.type != EW_RSCP_TYPE_CSTRING)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                    "unexpected type of EMS_SYS_SPEC_VALUE_STRING");
            ew_e3dc_copy_str(s->text, sizeof s->text, c.data, c.len);
            s->is_string = 1;
        }
    }
    if (!have_name)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing EMS_SYS_SPEC_NAME");
    return EW_OK;
}

/* The specs pye3dc copies into attributes, by E3/DC's names (including the
 * spelling "maxBatDischargPower"). */
static void derive_specs(ew_e3dc_sysinfo *o) {
    static const struct {
        const char *name;
        size_t off;
        unsigned bit;
    } map[] = {
        {"installedBatteryCapacity", offsetof(ew_e3dc_sysinfo, installed_battery_capacity_wh),
         EW_E3DC_SYSINFO_BAT_CAPACITY},
        {"maxAcPower", offsetof(ew_e3dc_sysinfo, max_ac_power_w), EW_E3DC_SYSINFO_MAX_AC_POWER},
        {"maxBatChargePower", offsetof(ew_e3dc_sysinfo, max_bat_charge_power_w),
         EW_E3DC_SYSINFO_MAX_BAT_CHARGE},
        {"maxBatDischargPower", offsetof(ew_e3dc_sysinfo, max_bat_discharge_power_w),
         EW_E3DC_SYSINFO_MAX_BAT_DISCHARGE},
        {"startDischargeDefault", offsetof(ew_e3dc_sysinfo, start_discharge_default_w),
         EW_E3DC_SYSINFO_START_DISCHARGE_DEFAULT},
    };
    for (unsigned i = 0; i < o->nspecs; i++) {
        const ew_e3dc_sys_spec *s = &o->specs[i];
        if (s->is_string)
            continue;
        for (size_t k = 0; k < EW_E3DC_COUNT(map); k++) {
            if (strcmp(s->name, map[k].name) != 0)
                continue;
            memcpy((char *)o + map[k].off, &s->value, sizeof s->value);
            o->present |= 1ull << map[k].bit;
        }
    }
}

int ew_e3dc_parse_sysinfo(const uint8_t *area, size_t len, ew_e3dc_sysinfo *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    rc = ew_e3dc_fields_top(ew_e3dc_sysinfo_fields, EW_E3DC_SYSINFO_NFIELDS, area, len, out,
                            &out->present, &out->error, d);
    if (rc < 0)
        return rc;
    if (EW_E3DC_HAS(out, EW_E3DC_SYSINFO_SERIAL)) {
        size_t off;
        out->model = ew_e3dc_model_from_serial(out->serial, strlen(out->serial), &off);
        memcpy(out->serial_prefix, out->serial, off);
        out->serial_prefix[off] = '\0';
        out->root_pm_index = ew_e3dc_root_pm_index(out->model, -1);
    }

    const ew_e3dc_field *f = &ew_e3dc_sysinfo_fields[EW_E3DC_SYSINFO_SPECS];
    ew_rscp_iter root;
    ew_rscp_value v;
    int found = 0;
    ew_rscp_iter_init(&root, area, len, 0);
    ew_rscp_iter it = root;
    while (ew_rscp_iter_next(&it, &v, NULL) > 0) {
        /* 0x01800098 with a non-container value is a sys-status answer. */
        if (v.tag == T(EMS_GET_SYS_SPECS) &&
            (v.type == EW_RSCP_TYPE_CONTAINER || v.type == EW_RSCP_TYPE_ERROR)) {
            found = 1;
            break;
        }
    }
    if (!found)
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, f->miss);
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 0, d);
    ew_rscp_iter ci;
    ew_rscp_value c;
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if (c.tag != T(EMS_SYS_SPEC))
            continue;
        ew_e3dc_sys_spec tmp;
        memset(&tmp, 0, sizeof tmp);
        if ((rc = parse_spec(&ci, &c, &tmp, &out->error, d)) < 0)
            return rc;
        if (out->nspecs < EW_E3DC_MAX_SPECS)
            out->specs[out->nspecs++] = tmp;
        out->nspecs_total++;
    }
    out->present |= 1ull << EW_E3DC_SYSINFO_SPECS;
    derive_specs(out);
    return EW_OK;
}

/* ---- dynamic system information (rscp.md §9.2) -------------------------- */

const ew_e3dc_field ew_e3dc_sysdyn_fields[EW_E3DC_SYSDYN_NFIELDS] = {
    [EW_E3DC_SYSDYN_SW_RELEASE] = EW_E3DC_FLD(T(INFO_REQ_SW_RELEASE), INFO_SW_RELEASE, 0, 0,
                                              ew_e3dc_sysinfo_dyn, sw_release, ""),
    [EW_E3DC_SYSDYN_PRODUCTION_DATE] =
        EW_E3DC_FLD(T(INFO_REQ_PRODUCTION_DATE), INFO_PRODUCTION_DATE, 0, F_OPT,
                    ew_e3dc_sysinfo_dyn, production_date, ""),
    [EW_E3DC_SYSDYN_IP_ADDRESS] = EW_E3DC_FLD(T(INFO_REQ_IP_ADDRESS), INFO_IP_ADDRESS, 0, F_OPT,
                                              ew_e3dc_sysinfo_dyn, ip_address, ""),
    [EW_E3DC_SYSDYN_TIME_ZONE] = EW_E3DC_FLD(T(INFO_REQ_TIME_ZONE), INFO_TIME_ZONE, 0, F_OPT,
                                             ew_e3dc_sysinfo_dyn, time_zone, ""),
    [EW_E3DC_SYSDYN_LOCAL_TIME] =
        EW_E3DC_FLD(T(INFO_REQ_TIME), INFO_TIME, 0, F_OPT, ew_e3dc_sysinfo_dyn, local_time, ""),
    [EW_E3DC_SYSDYN_UTC_TIME] = EW_E3DC_FLD(T(INFO_REQ_UTC_TIME), INFO_UTC_TIME, 0, F_OPT,
                                            ew_e3dc_sysinfo_dyn, utc_time, ""),
    [EW_E3DC_SYSDYN_UTC_OFFSET] = EW_E3DC_DRV(ew_e3dc_sysinfo_dyn, utc_offset_s, "s"),
};

int ew_e3dc_req_sysinfo_dyn(ew_rscp_builder *b) {
    return ew_e3dc_req_fields(b, ew_e3dc_sysdyn_fields, EW_E3DC_SYSDYN_NFIELDS, ~0ull);
}

int ew_e3dc_parse_sysinfo_dyn(const uint8_t *area, size_t len, ew_e3dc_sysinfo_dyn *out,
                              ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    rc = ew_e3dc_fields_top(ew_e3dc_sysdyn_fields, EW_E3DC_SYSDYN_NFIELDS, area, len, out,
                            &out->present, &out->error, d);
    if (rc < 0)
        return rc;
    if (EW_E3DC_HAS(out, EW_E3DC_SYSDYN_LOCAL_TIME) && EW_E3DC_HAS(out, EW_E3DC_SYSDYN_UTC_TIME)) {
        /* INFO_TIME is the wall clock coded as if it were UTC; the two
         * answers are taken a moment apart, so round to 15 minutes (the
         * finest offset in use). */
        int64_t diff = out->local_time.seconds - out->utc_time.seconds;
        int64_t q = diff >= 0 ? (diff + 450) / 900 : -((-diff + 450) / 900);
        out->utc_offset_s = q * 900;
        out->present |= 1ull << EW_E3DC_SYSDYN_UTC_OFFSET;
    }
    return EW_OK;
}

/* ---- power settings (rscp.md §9.7) -------------------------------------- */

const ew_e3dc_field ew_e3dc_ps_fields[EW_E3DC_PS_NFIELDS] = {
    [EW_E3DC_PS_LIMITS_USED] =
        EW_E3DC_FLD(0, EMS_POWER_LIMITS_USED, 0, 0, ew_e3dc_power_settings, limits_used, ""),
    [EW_E3DC_PS_MAX_CHARGE] =
        EW_E3DC_FLD(0, EMS_MAX_CHARGE_POWER, 0, 0, ew_e3dc_power_settings, max_charge_power_w, "W"),
    [EW_E3DC_PS_MAX_DISCHARGE] = EW_E3DC_FLD(0, EMS_MAX_DISCHARGE_POWER, 0, 0,
                                             ew_e3dc_power_settings, max_discharge_power_w, "W"),
    [EW_E3DC_PS_DISCHARGE_START] = EW_E3DC_FLD(
        0, EMS_DISCHARGE_START_POWER, 0, 0, ew_e3dc_power_settings, discharge_start_power_w, "W"),
    [EW_E3DC_PS_POWERSAVE] =
        EW_E3DC_FLD(0, EMS_POWERSAVE_ENABLED, 0, 0, ew_e3dc_power_settings, powersave, ""),
    [EW_E3DC_PS_WEATHER_REGULATED] =
        EW_E3DC_FLD(0, EMS_WEATHER_REGULATED_CHARGE_ENABLED, 0, 0, ew_e3dc_power_settings,
                    weather_regulated_charge, ""),
    [EW_E3DC_PS_WEATHER_FORECAST_MODE] = EW_E3DC_FLD(
        0, EMS_WEATHER_FORECAST_MODE, 0, 0, ew_e3dc_power_settings, weather_forecast_mode, ""),
};

int ew_e3dc_req_power_settings(ew_rscp_builder *b) {
    return ew_rscp_builder_add_none(b, T(EMS_REQ_GET_POWER_SETTINGS));
}

/* Finds container answer |tag|: EW_OK with |v| (a container), 1 when the
 * whole answer is an Error (recorded), or EW_ERR_PROTO. */
static int find_container(const uint8_t *area, size_t len, uint32_t tag, const char *miss,
                          const char *bad, ew_rscp_iter *root, ew_rscp_value *v, ew_e3dc_error *err,
                          ew_diag *d) {
    if (!ew_e3dc_find(area, len, tag, root, v))
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, miss);
    if (v->type == EW_RSCP_TYPE_ERROR) {
        int rc = ew_e3dc_note_error(err, v, 1, d);
        return rc < 0 ? rc : 1;
    }
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, bad);
    return EW_OK;
}

int ew_e3dc_parse_power_settings(const uint8_t *area, size_t len, ew_e3dc_power_settings *out,
                                 ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root;
    ew_rscp_value v;
    rc = find_container(area, len, T(EMS_GET_POWER_SETTINGS), "missing EMS_GET_POWER_SETTINGS",
                        "unexpected type of EMS_GET_POWER_SETTINGS", &root, &v, &out->error, d);
    if (rc != EW_OK)
        return rc < 0 ? rc : EW_OK;
    return ew_e3dc_fields_container(ew_e3dc_ps_fields, EW_E3DC_PS_NFIELDS, &root, &v, out,
                                    &out->present, &out->error, d);
}

void ew_e3dc_power_settings_merge(const ew_e3dc_power_settings *cur,
                                  const ew_e3dc_power_settings *chg, ew_e3dc_power_settings *out) {
    ew_e3dc_power_settings r = *cur;
    const uint64_t m = chg->present;
#define TAKE(bit, member)                                                                          \
    if (m >> (bit)&1)                                                                              \
    r.member = chg->member
    TAKE(EW_E3DC_PS_LIMITS_USED, limits_used);
    TAKE(EW_E3DC_PS_MAX_CHARGE, max_charge_power_w);
    TAKE(EW_E3DC_PS_MAX_DISCHARGE, max_discharge_power_w);
    TAKE(EW_E3DC_PS_DISCHARGE_START, discharge_start_power_w);
    TAKE(EW_E3DC_PS_POWERSAVE, powersave);
    TAKE(EW_E3DC_PS_WEATHER_REGULATED, weather_regulated_charge);
    TAKE(EW_E3DC_PS_WEATHER_FORECAST_MODE, weather_forecast_mode);
#undef TAKE
    r.present = cur->present | (m & ((1ull << EW_E3DC_PS_NFIELDS) - 1));
    *out = r;
}

static int power_ok(int64_t w) {
    return w >= 0 && w <= (int64_t)UINT32_MAX;
}

int ew_e3dc_req_set_power_settings(ew_rscp_builder *b, const ew_e3dc_power_settings *chg) {
    if (!chg)
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    const uint64_t m = chg->present;
    if (!(m & ((1ull << EW_E3DC_PS_NFIELDS) - 1)))
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (((m >> EW_E3DC_PS_MAX_CHARGE & 1) && !power_ok(chg->max_charge_power_w)) ||
        ((m >> EW_E3DC_PS_MAX_DISCHARGE & 1) && !power_ok(chg->max_discharge_power_w)) ||
        ((m >> EW_E3DC_PS_DISCHARGE_START & 1) && !power_ok(chg->discharge_start_power_w)) ||
        ((m >> EW_E3DC_PS_WEATHER_FORECAST_MODE & 1) &&
         (chg->weather_forecast_mode < INT32_MIN || chg->weather_forecast_mode > INT32_MAX)))
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);

    /* Only the named fields, never defaults for the others: a field that is
     * not sent keeps its value on the device (read-modify-write, see the
     * header).  Order and types as pye3dc's set_power_limits /
     * set_powersave / set_weather_regulated_charge (rscp.md §9.7), which
     * devices accept: UInt32 powers (go-rscp notes devices insist on it) and
     * UChar8 flags. */
    ew_rscp_builder_open(b, T(EMS_REQ_SET_POWER_SETTINGS));
    if (m >> EW_E3DC_PS_LIMITS_USED & 1)
        ew_rscp_builder_add_bool(b, T(EMS_POWER_LIMITS_USED), chg->limits_used);
    if (m >> EW_E3DC_PS_MAX_DISCHARGE & 1)
        ew_rscp_builder_add_uint32(b, T(EMS_MAX_DISCHARGE_POWER),
                                   (uint32_t)chg->max_discharge_power_w);
    if (m >> EW_E3DC_PS_MAX_CHARGE & 1)
        ew_rscp_builder_add_uint32(b, T(EMS_MAX_CHARGE_POWER), (uint32_t)chg->max_charge_power_w);
    if (m >> EW_E3DC_PS_DISCHARGE_START & 1)
        ew_rscp_builder_add_uint32(b, T(EMS_DISCHARGE_START_POWER),
                                   (uint32_t)chg->discharge_start_power_w);
    if (m >> EW_E3DC_PS_POWERSAVE & 1)
        ew_rscp_builder_add_uchar8(b, T(EMS_POWERSAVE_ENABLED), chg->powersave ? 1 : 0);
    if (m >> EW_E3DC_PS_WEATHER_REGULATED & 1)
        ew_rscp_builder_add_uchar8(b, T(EMS_WEATHER_REGULATED_CHARGE_ENABLED),
                                   chg->weather_regulated_charge ? 1 : 0);
    if (m >> EW_E3DC_PS_WEATHER_FORECAST_MODE & 1)
        ew_rscp_builder_add_int32(b, T(EMS_WEATHER_FORECAST_MODE),
                                  (int32_t)chg->weather_forecast_mode);
    return ew_rscp_builder_close(b);
}

int ew_e3dc_req_set_powersave(ew_rscp_builder *b, int on) {
    ew_e3dc_power_settings s;
    memset(&s, 0, sizeof s);
    s.powersave = on ? 1 : 0;
    s.present = 1ull << EW_E3DC_PS_POWERSAVE;
    return ew_e3dc_req_set_power_settings(b, &s);
}

int ew_e3dc_req_set_weather_regulated(ew_rscp_builder *b, int on) {
    ew_e3dc_power_settings s;
    memset(&s, 0, sizeof s);
    s.weather_regulated_charge = on ? 1 : 0;
    s.present = 1ull << EW_E3DC_PS_WEATHER_REGULATED;
    return ew_e3dc_req_set_power_settings(b, &s);
}

int ew_e3dc_parse_power_settings_set(const uint8_t *area, size_t len,
                                     ew_e3dc_power_settings_result *out, ew_diag *d) {
    /* EMS_RES_<field> = the field's tag | 0x00800000, one per field sent,
     * Char8: 0 ok, 1 adjusted, -1 rejected (rscp.md §6, §9.7). */
    static const uint32_t res_tags[EW_E3DC_PS_NFIELDS] = {
        [EW_E3DC_PS_LIMITS_USED] = T(EMS_RES_POWER_LIMITS_USED),
        [EW_E3DC_PS_MAX_CHARGE] = T(EMS_RES_MAX_CHARGE_POWER),
        [EW_E3DC_PS_MAX_DISCHARGE] = T(EMS_RES_MAX_DISCHARGE_POWER),
        [EW_E3DC_PS_DISCHARGE_START] = T(EMS_RES_DISCHARGE_START_POWER),
        [EW_E3DC_PS_POWERSAVE] = T(EMS_RES_POWERSAVE_ENABLED),
        [EW_E3DC_PS_WEATHER_REGULATED] = T(EMS_RES_WEATHER_REGULATED_CHARGE_ENABLED),
        [EW_E3DC_PS_WEATHER_FORECAST_MODE] = T(EMS_RES_WEATHER_FORECAST_MODE),
    };
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;
    rc = find_container(area, len, T(EMS_SET_POWER_SETTINGS), "missing EMS_SET_POWER_SETTINGS",
                        "unexpected type of EMS_SET_POWER_SETTINGS", &root, &v, &out->error, d);
    if (rc != EW_OK) {
        if (rc > 0)
            out->overall = EW_E3DC_RES_REJECTED;
        return rc < 0 ? rc : EW_OK;
    }
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        for (unsigned i = 0; i < EW_E3DC_PS_NFIELDS; i++) {
            if (c.tag != res_tags[i])
                continue;
            if (c.type == EW_RSCP_TYPE_ERROR) {
                if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                    return rc;
                out->overall = EW_E3DC_RES_REJECTED;
                break;
            }
            if (ew_e3dc_get_int(&c, &out->res[i]) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of EMS_RES_*");
            out->present |= 1ull << i;
            /* pye3dc: any -1 fails the call, else any 1 is "not optimal". */
            if (out->res[i] < 0)
                out->overall = EW_E3DC_RES_REJECTED;
            else if (out->res[i] == 1 && out->overall == EW_E3DC_RES_OK)
                out->overall = EW_E3DC_RES_ADJUSTED;
            break;
        }
    }
    return EW_OK;
}

/* ---- manual power control (rscp.md §9.8) -------------------------------- */

int ew_e3dc_req_set_power(ew_rscp_builder *b, ew_e3dc_power_mode mode, int32_t value_w) {
    if ((int)mode < EW_E3DC_POWER_AUTO || (int)mode > EW_E3DC_POWER_GRID_CHARGE)
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    /* The value is a magnitude; modes 0 and 1 take 0 (rscp.md §9.8). */
    if (value_w < 0 || ((mode == EW_E3DC_POWER_AUTO || mode == EW_E3DC_POWER_IDLE) && value_w != 0))
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    ew_rscp_builder_open(b, T(EMS_REQ_SET_POWER));
    ew_rscp_builder_add_uchar8(b, T(EMS_REQ_SET_POWER_MODE), (uint8_t)mode);
    ew_rscp_builder_add_int32(b, T(EMS_REQ_SET_POWER_VALUE), value_w);
    return ew_rscp_builder_close(b);
}

int ew_e3dc_parse_set_power(const uint8_t *area, size_t len, ew_e3dc_result *out, ew_diag *d) {
    return ew_e3dc_parse_single(area, len, T(EMS_SET_POWER), "missing EMS_SET_POWER",
                                EW_E3DC_OK_NOT_ERROR, out, d);
}

/* ---- manual charge (rscp.md §9.8) --------------------------------------- */

const ew_e3dc_field ew_e3dc_mc_fields[EW_E3DC_MC_NFIELDS] = {
    [EW_E3DC_MC_ACTIVE] =
        EW_E3DC_FLD(0, EMS_MANUAL_CHARGE_ACTIVE, 0, 0, ew_e3dc_manual_charge, active, ""),
    /* Int64 / Double64 per go-rscp's field notes (documented UInt32). */
    [EW_E3DC_MC_START_COUNTER] = EW_E3DC_FLD(0, EMS_MANUAL_CHARGE_START_COUNTER, 0, 0,
                                             ew_e3dc_manual_charge, start_counter, ""),
    [EW_E3DC_MC_ENERGY] = EW_E3DC_FLD(0, EMS_MANUAL_CHARGE_ENERGY_COUNTER, 0, 0,
                                      ew_e3dc_manual_charge, energy_wh, "Wh"),
    [EW_E3DC_MC_LAST_START] =
        EW_E3DC_FLD(0, EMS_MANUAL_CHARGE_LASTSTART, 0, 0, ew_e3dc_manual_charge, last_start, ""),
};

int ew_e3dc_req_manual_charge_start(ew_rscp_builder *b, uint32_t energy_wh) {
    return ew_rscp_builder_add_uint32(b, T(EMS_REQ_START_MANUAL_CHARGE), energy_wh);
}

int ew_e3dc_parse_manual_charge_start(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                      ew_diag *d) {
    return ew_e3dc_parse_single(area, len, T(EMS_START_MANUAL_CHARGE),
                                "missing EMS_START_MANUAL_CHARGE", EW_E3DC_OK_TRUE, out, d);
}

int ew_e3dc_req_manual_charge(ew_rscp_builder *b) {
    return ew_rscp_builder_add_none(b, T(EMS_REQ_GET_MANUAL_CHARGE));
}

int ew_e3dc_parse_manual_charge(const uint8_t *area, size_t len, ew_e3dc_manual_charge *out,
                                ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root;
    ew_rscp_value v;
    rc = find_container(area, len, T(EMS_GET_MANUAL_CHARGE), "missing EMS_GET_MANUAL_CHARGE",
                        "unexpected type of EMS_GET_MANUAL_CHARGE", &root, &v, &out->error, d);
    if (rc != EW_OK)
        return rc < 0 ? rc : EW_OK;
    return ew_e3dc_fields_container(ew_e3dc_mc_fields, EW_E3DC_MC_NFIELDS, &root, &v, out,
                                    &out->present, &out->error, d);
}

/* ---- battery to car (rscp.md §9.8) -------------------------------------- */

int ew_e3dc_req_battery_to_car(ew_rscp_builder *b) {
    /* pye3dc sends it as None although the tag list declares UChar8. */
    return ew_rscp_builder_add_none(b, T(EMS_REQ_BATTERY_TO_CAR_MODE));
}

int ew_e3dc_parse_battery_to_car(const uint8_t *area, size_t len, ew_e3dc_result *out, ew_diag *d) {
    return ew_e3dc_parse_single(area, len, T(EMS_BATTERY_TO_CAR_MODE),
                                "missing EMS_BATTERY_TO_CAR_MODE", EW_E3DC_OK_NOT_ERROR, out, d);
}

int ew_e3dc_req_battery_to_car_set(ew_rscp_builder *b, int on) {
    return ew_rscp_builder_add_uchar8(b, T(EMS_REQ_SET_BATTERY_TO_CAR_MODE), on ? 1 : 0);
}

int ew_e3dc_parse_battery_to_car_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                     ew_diag *d) {
    return ew_e3dc_parse_single(area, len, T(EMS_SET_BATTERY_TO_CAR_MODE),
                                "missing EMS_SET_BATTERY_TO_CAR_MODE", EW_E3DC_OK_NOT_ERROR, out,
                                d);
}

/* ---- idle periods (rscp.md §9.8) ---------------------------------------- */

int ew_e3dc_req_idle_periods(ew_rscp_builder *b) {
    return ew_rscp_builder_add_none(b, T(EMS_REQ_GET_IDLE_PERIODS));
}

static int period_ok(const ew_e3dc_idle_period *p) {
    /* pye3dc's checks: day 0..6, hh:mm within 00:00..23:59, start < end. */
    return p->type <= 1 && p->day <= 6 && p->start_hour <= 23 && p->end_hour <= 23 &&
           p->start_minute <= 59 && p->end_minute <= 59 &&
           p->start_hour * 60 + p->start_minute < p->end_hour * 60 + p->end_minute;
}

int ew_e3dc_req_idle_periods_set(ew_rscp_builder *b, const ew_e3dc_idle_period *p, size_t n) {
    if (!p && n)
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (n > EW_E3DC_MAX_IDLE_PERIODS)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    for (size_t i = 0; i < n; i++)
        if (!period_ok(&p[i]))
            return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    ew_rscp_builder_open(b, T(EMS_REQ_SET_IDLE_PERIODS));
    for (size_t i = 0; i < n; i++) {
        ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD));
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_TYPE), (uint8_t)p[i].type);
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_DAY), (uint8_t)p[i].day);
        ew_rscp_builder_add_bool(b, T(EMS_IDLE_PERIOD_ACTIVE), p[i].active);
        ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD_START));
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_HOUR), (uint8_t)p[i].start_hour);
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_MINUTE), (uint8_t)p[i].start_minute);
        ew_rscp_builder_close(b);
        ew_rscp_builder_open(b, T(EMS_IDLE_PERIOD_END));
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_HOUR), (uint8_t)p[i].end_hour);
        ew_rscp_builder_add_uchar8(b, T(EMS_IDLE_PERIOD_MINUTE), (uint8_t)p[i].end_minute);
        ew_rscp_builder_close(b);
        ew_rscp_builder_close(b);
    }
    return ew_rscp_builder_close(b);
}

/* Reads an unsigned byte-sized child value. */
static int small_uint(const ew_rscp_value *c, unsigned max, unsigned *out, const char *bad,
                      ew_diag *d) {
    int64_t x;
    if (ew_e3dc_get_int(c, &x) < 0 || x < 0 || x > (int64_t)max)
        return ew_e3dc_fail(d, EW_ERR_PROTO, c->offset, bad);
    *out = (unsigned)x;
    return EW_OK;
}

/* START / END {HOUR, MINUTE}. */
static int parse_hhmm(const ew_rscp_iter *it, const ew_rscp_value *v, unsigned *h, unsigned *m,
                      ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int have = 0, rc;
    if (ew_rscp_iter_enter(it, v, &ci, d) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "unexpected type of EMS_IDLE_PERIOD_START");
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.tag == T(EMS_IDLE_PERIOD_HOUR)) {
            if ((rc = small_uint(&c, 255, h, "unexpected type of EMS_IDLE_PERIOD_HOUR", d)) < 0)
                return rc;
            have |= 1;
        } else if (c.tag == T(EMS_IDLE_PERIOD_MINUTE)) {
            if ((rc = small_uint(&c, 255, m, "unexpected type of EMS_IDLE_PERIOD_MINUTE", d)) < 0)
                return rc;
            have |= 2;
        }
    }
    if (!(have & 1))
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing EMS_IDLE_PERIOD_HOUR");
    if (!(have & 2))
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing EMS_IDLE_PERIOD_MINUTE");
    return EW_OK;
}

static int parse_period(const ew_rscp_iter *it, const ew_rscp_value *v, ew_e3dc_idle_period *p,
                        ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int have = 0, rc;
    if (ew_rscp_iter_enter(it, v, &ci, d) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "unexpected type of EMS_IDLE_PERIOD");
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        rc = EW_OK;
        if (c.tag == T(EMS_IDLE_PERIOD_TYPE)) {
            rc = small_uint(&c, 255, &p->type, "unexpected type of EMS_IDLE_PERIOD_TYPE", d);
            have |= 1;
        } else if (c.tag == T(EMS_IDLE_PERIOD_DAY)) {
            rc = small_uint(&c, 255, &p->day, "unexpected type of EMS_IDLE_PERIOD_DAY", d);
            have |= 2;
        } else if (c.tag == T(EMS_IDLE_PERIOD_ACTIVE)) {
            if (ew_rscp_value_get_bool(&c, &p->active) < 0)
                rc = ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                  "unexpected type of EMS_IDLE_PERIOD_ACTIVE");
            have |= 4;
        } else if (c.tag == T(EMS_IDLE_PERIOD_START)) {
            rc = parse_hhmm(&ci, &c, &p->start_hour, &p->start_minute, d);
            have |= 8;
        } else if (c.tag == T(EMS_IDLE_PERIOD_END)) {
            rc = parse_hhmm(&ci, &c, &p->end_hour, &p->end_minute, d);
            have |= 16;
        }
        if (rc < 0)
            return rc;
    }
    static const char *const miss[] = {
        "missing EMS_IDLE_PERIOD_TYPE", "missing EMS_IDLE_PERIOD_DAY",
        "missing EMS_IDLE_PERIOD_ACTIVE", "missing EMS_IDLE_PERIOD_START",
        "missing EMS_IDLE_PERIOD_END"};
    for (unsigned i = 0; i < 5; i++)
        if (!(have >> i & 1))
            return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, miss[i]);
    return EW_OK;
}

int ew_e3dc_parse_idle_periods(const uint8_t *area, size_t len, ew_e3dc_idle_periods *out,
                               ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;
    rc = find_container(area, len, T(EMS_GET_IDLE_PERIODS), "missing EMS_GET_IDLE_PERIODS",
                        "unexpected type of EMS_GET_IDLE_PERIODS", &root, &v, &out->error, d);
    if (rc != EW_OK)
        return rc < 0 ? rc : EW_OK;
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if (c.tag != T(EMS_IDLE_PERIOD))
            continue;
        ew_e3dc_idle_period p;
        memset(&p, 0, sizeof p);
        if ((rc = parse_period(&ci, &c, &p, d)) < 0)
            return rc;
        if (out->n < EW_E3DC_MAX_IDLE_PERIODS)
            out->p[out->n++] = p;
        out->total++;
    }
    return EW_OK;
}

int ew_e3dc_parse_idle_periods_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                   ew_diag *d) {
    /* UChar8, 1 = ok (pye3dc compares with 1). */
    return ew_e3dc_parse_single(area, len, T(EMS_SET_IDLE_PERIODS), "missing EMS_SET_IDLE_PERIODS",
                                EW_E3DC_OK_ONE, out, d);
}
