/* JSON and text writers of the result structs (see emit.c for the forms). */
#include "e3dc/e3dc_int.h"

typedef void (*body_fn)(ew_e3dc_em *e, const void *obj);

static int run(const void *obj, body_fn body, int json, unsigned flags, char *out, size_t cap,
               size_t *written) {
    if (!obj)
        return EW_ERR_INVAL;
    if (!out)
        cap = 0;
    ew_e3dc_em e;
    ew_e3dc_em_init(&e, json, flags, out, cap);
    body(&e, obj);
    return ew_e3dc_em_finish(&e, cap, written);
}

#define WRITERS(name, type)                                                                        \
    int ew_e3dc_##name##_json(const type *v, unsigned flags, char *out, size_t cap,                \
                              size_t *written) {                                                   \
        return run(v, w_##name, 1, flags, out, cap, written);                                      \
    }                                                                                              \
    int ew_e3dc_##name##_text(const type *v, unsigned flags, char *out, size_t cap,                \
                              size_t *written) {                                                   \
        return run(v, w_##name, 0, flags, out, cap, written);                                      \
    }

static void tag_name(ew_e3dc_em *e, const char *key, uint32_t tag) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    char hex[16];
    if (t) {
        ew_e3dc_em_str(e, key, ew_rscp_tag_short_name(t));
        return;
    }
    ew_sb tmp;
    ew_sb_init(&tmp, hex, sizeof hex);
    ew_sb_printf(&tmp, "0x%08X", (unsigned)tag);
    ew_e3dc_em_str(e, key, hex);
}

static void str_or_null(ew_e3dc_em *e, const char *key, const char *s) {
    if (s)
        ew_e3dc_em_str(e, key, s);
    else
        ew_e3dc_em_null(e, key);
}

/* ---- result ------------------------------------------------------------ */

static void w_result(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_result *v = obj;
    if (v->tag)
        tag_name(e, "tag", v->tag);
    else
        ew_e3dc_em_null(e, "tag");
    ew_e3dc_em_bool(e, "ok", v->ok);
    if (v->has_value)
        ew_e3dc_em_i64(e, "value", v->value, NULL);
    else
        ew_e3dc_em_null(e, "value");
    ew_e3dc_em_error(e, &v->error);
}

/* ---- poll, status, system information ----------------------------------- */

static void w_poll(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_poll *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_poll_fields, EW_E3DC_POLL_NFIELDS, v, v->present);
    ew_e3dc_em_error(e, &v->error);
}

static void w_status(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_status *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_status_fields, EW_E3DC_STATUS_NFIELDS, v, v->present);
    if (!EW_E3DC_HAS(v, EW_E3DC_STATUS_SYS)) {
        ew_e3dc_em_null(e, "sys_status");
        ew_e3dc_em_null(e, "sys_status_bits");
    } else {
        ew_e3dc_em_i64(e, "sys_status", v->sys_status, NULL);
        ew_e3dc_em_open(e, "sys_status_bits", 0);
        for (unsigned bit = 0; bit < 22; bit++) {
            if (bit == 8) {
                ew_e3dc_em_i64(e, "ac_coupling_mode", v->bits.ac_coupling_mode, NULL);
                continue;
            }
            if (bit == 9)
                continue;
            ew_e3dc_em_bool(e, ew_e3dc_sys_status_bit_name(bit), (int)(v->sys_status >> bit & 1));
        }
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_error(e, &v->error);
}

static void w_sysinfo(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_sysinfo *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_sysinfo_fields, EW_E3DC_SYSINFO_NFIELDS, v, v->present);
    if (EW_E3DC_HAS(v, EW_E3DC_SYSINFO_SERIAL)) {
        ew_e3dc_em_str(e, "serial_prefix", v->serial_prefix);
        ew_e3dc_em_str(e, "model", ew_e3dc_model_name(v->model));
        ew_e3dc_em_i64(e, "root_pm_index", v->root_pm_index, NULL);
    } else {
        ew_e3dc_em_null(e, "serial_prefix");
        ew_e3dc_em_null(e, "model");
        ew_e3dc_em_null(e, "root_pm_index");
    }
    ew_e3dc_em_open(e, "specs", 1);
    for (unsigned i = 0; i < v->nspecs; i++) {
        const ew_e3dc_sys_spec *s = &v->specs[i];
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", s->index, NULL);
        ew_e3dc_em_str(e, "name", s->name);
        if (s->is_string)
            ew_e3dc_em_str(e, "value", s->text);
        else
            ew_e3dc_em_i64(e, "value", s->value, NULL);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "nspecs_total", v->nspecs_total, NULL);
    ew_e3dc_em_error(e, &v->error);
}

static void w_sysinfo_dyn(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_sysinfo_dyn *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_sysdyn_fields, EW_E3DC_SYSDYN_NFIELDS, v, v->present);
    ew_e3dc_em_error(e, &v->error);
}

/* ---- switches, idle periods --------------------------------------------- */

static void w_switches(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_switches *v = obj;
    ew_e3dc_em_open(e, "switches", 1);
    for (unsigned i = 0; i < v->n; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_fields(e, ew_e3dc_switch_fields, EW_E3DC_SWITCH_NFIELDS, &v->sw[i],
                          v->sw[i].present);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "total", v->total, NULL);
    ew_e3dc_em_error(e, &v->error);
}

static void w_idle_periods(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_idle_periods *v = obj;
    ew_e3dc_em_open(e, "periods", 1);
    for (unsigned i = 0; i < v->n; i++) {
        const ew_e3dc_idle_period *p = &v->p[i];
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_str(e, "type",
                       p->type == EW_E3DC_IDLE_CHARGE      ? "charge"
                       : p->type == EW_E3DC_IDLE_DISCHARGE ? "discharge"
                                                           : "unknown");
        ew_e3dc_em_i64(e, "day", p->day, NULL);
        ew_e3dc_em_bool(e, "active", p->active);
        ew_e3dc_em_i64(e, "start_hour", p->start_hour, NULL);
        ew_e3dc_em_i64(e, "start_minute", p->start_minute, NULL);
        ew_e3dc_em_i64(e, "end_hour", p->end_hour, NULL);
        ew_e3dc_em_i64(e, "end_minute", p->end_minute, NULL);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "total", v->total, NULL);
    ew_e3dc_em_error(e, &v->error);
}

/* ---- history ------------------------------------------------------------ */

static void w_history(ew_e3dc_em *e, const void *obj) {
    static const char *const kinds[] = {"day", "week", "month", "year"};
    const ew_e3dc_history *v = obj;
    ew_e3dc_em_str(e, "kind", (unsigned)v->kind < 4 ? kinds[v->kind] : "unknown");
    ew_e3dc_em_open(e, "sum", 0);
    ew_e3dc_em_fields(e, ew_e3dc_hist_fields, EW_E3DC_HIST_NFIELDS, &v->sum, v->sum.present);
    ew_e3dc_em_close(e);
    ew_e3dc_em_open(e, "values", 1);
    for (unsigned i = 0; i < v->nvalues; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_fields(e, ew_e3dc_hist_fields, EW_E3DC_HIST_NFIELDS, &v->values[i],
                          v->values[i].present);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "nvalues_total", v->nvalues_total, NULL);
    ew_e3dc_em_error(e, &v->error);
}

/* ---- power settings, manual charge ------------------------------------- */

static void w_power_settings(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_power_settings *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_ps_fields, EW_E3DC_PS_NFIELDS, v, v->present);
    ew_e3dc_em_error(e, &v->error);
}

static void w_power_settings_result(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_power_settings_result *v = obj;
    ew_e3dc_em_open(e, "results", 0);
    for (unsigned i = 0; i < EW_E3DC_PS_NFIELDS; i++) {
        if (EW_E3DC_HAS(v, i))
            ew_e3dc_em_i64(e, ew_e3dc_ps_fields[i].name, v->res[i], NULL);
        else
            ew_e3dc_em_null(e, ew_e3dc_ps_fields[i].name);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "overall", v->overall, NULL);
    ew_e3dc_em_error(e, &v->error);
}

static void w_manual_charge(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_manual_charge *v = obj;
    ew_e3dc_em_fields(e, ew_e3dc_mc_fields, EW_E3DC_MC_NFIELDS, v, v->present);
    ew_e3dc_em_error(e, &v->error);
}

/* ---- devices ------------------------------------------------------------ */

static void w_battery(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_battery *v = obj;
    ew_e3dc_em_i64(e, "index", v->index, NULL);
    ew_e3dc_em_fields(e, ew_e3dc_bat_fields, EW_E3DC_BAT_NFIELDS, v, v->present);
    ew_e3dc_em_open(e, "dcbs", 1);
    for (unsigned i = 0; i < v->ndcbs; i++) {
        const ew_e3dc_dcb *dcb = &v->dcbs[i];
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_fields(e, ew_e3dc_dcb_fields, EW_E3DC_DCB_NFIELDS, dcb, dcb->present);
        if (EW_E3DC_HAS(dcb, EW_E3DC_DCB_TEMPS))
            ew_e3dc_em_floats(e, "temps_c", dcb->temps_c, dcb->ntemps, "°C");
        else
            ew_e3dc_em_null(e, "temps_c");
        if (EW_E3DC_HAS(dcb, EW_E3DC_DCB_VOLTAGES))
            ew_e3dc_em_floats(e, "voltages_v", dcb->voltages_v, dcb->nvoltages, "V");
        else
            ew_e3dc_em_null(e, "voltages_v");
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "ndcbs_total", v->ndcbs_total, NULL);
    ew_e3dc_em_error(e, &v->error);
}

static void w_pvi(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_pvi *v = obj;
    ew_e3dc_em_i64(e, "index", v->index, NULL);
    ew_e3dc_em_fields(e, ew_e3dc_pvi_fields, EW_E3DC_PVI_NFIELDS, v, v->present);
    str_or_null(e, "type_name",
                EW_E3DC_HAS(v, EW_E3DC_PVI_TYPE) ? ew_e3dc_pvi_type_name(v->type) : NULL);
    ew_e3dc_em_open(e, "trackers", 1);
    for (unsigned i = 0; i < v->ntrackers; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->trackers[i].index, NULL);
        ew_e3dc_em_fields(e, ew_e3dc_trk_fields, EW_E3DC_TRK_NFIELDS, &v->trackers[i],
                          v->trackers[i].present);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_open(e, "phases", 1);
    for (unsigned i = 0; i < v->nphases; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->phases[i].index, NULL);
        ew_e3dc_em_fields(e, ew_e3dc_ph_fields, EW_E3DC_PH_NFIELDS, &v->phases[i],
                          v->phases[i].present);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_open(e, "temps", 1);
    for (unsigned i = 0; i < v->ntemps; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->temps[i].index, NULL);
        ew_e3dc_em_f64(e, "temp_c", v->temps[i].temp_c, "°C");
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_error(e, &v->error);
}

static void w_pm(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_pm *v = obj;
    ew_e3dc_em_i64(e, "index", v->index, NULL);
    ew_e3dc_em_fields(e, ew_e3dc_pm_fields, EW_E3DC_PM_NFIELDS, v, v->present);
    str_or_null(e, "type_name",
                EW_E3DC_HAS(v, EW_E3DC_PM_TYPE) ? ew_e3dc_pm_type_name(v->type) : NULL);
    ew_e3dc_em_error(e, &v->error);
}

static void w_wallbox(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_wallbox *v = obj;
    ew_e3dc_em_i64(e, "index", v->index, NULL);
    ew_e3dc_em_fields(e, ew_e3dc_wb_fields, EW_E3DC_WB_NFIELDS, v, v->present);
    if (EW_E3DC_HAS(v, EW_E3DC_WB_SUN)) {
        ew_e3dc_em_i64(e, "sun_power_w", v->sun_power_w, "W");
        ew_e3dc_em_i64(e, "sun_energy_wh", v->sun_energy_wh, "Wh");
    } else {
        ew_e3dc_em_null(e, "sun_power_w");
        ew_e3dc_em_null(e, "sun_energy_wh");
    }
    if (EW_E3DC_HAS(v, EW_E3DC_WB_NET)) {
        ew_e3dc_em_i64(e, "net_power_w", v->net_power_w, "W");
        ew_e3dc_em_i64(e, "net_energy_wh", v->net_energy_wh, "Wh");
    } else {
        ew_e3dc_em_null(e, "net_power_w");
        ew_e3dc_em_null(e, "net_energy_wh");
    }
    ew_e3dc_em_error(e, &v->error);
}

static void w_topology(ew_e3dc_em *e, const void *obj) {
    const ew_e3dc_topology *v = obj;
    ew_e3dc_em_open(e, "batteries", 1);
    for (unsigned i = 0; i < v->nbatteries; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->batteries[i].index, NULL);
        ew_e3dc_em_i64(e, "dcb_count", v->batteries[i].dcb_count, NULL);
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_open(e, "pvis", 1);
    for (unsigned i = 0; i < v->npvis; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->pvis[i].index, NULL);
        ew_e3dc_em_i64(e, "type", v->pvis[i].type, NULL);
        str_or_null(e, "type_name", ew_e3dc_pvi_type_name(v->pvis[i].type));
        if (v->pvis[i].trackers >= 0)
            ew_e3dc_em_i64(e, "trackers", v->pvis[i].trackers, NULL);
        else
            ew_e3dc_em_null(e, "trackers");
        if (v->pvis[i].phases >= 0)
            ew_e3dc_em_i64(e, "phases", v->pvis[i].phases, NULL);
        else
            ew_e3dc_em_null(e, "phases");
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    ew_e3dc_em_i64(e, "ntrackers", v->ntrackers, NULL);
    ew_e3dc_em_open(e, "pms", 1);
    for (unsigned i = 0; i < v->npms; i++) {
        ew_e3dc_em_open(e, NULL, 0);
        ew_e3dc_em_i64(e, "index", v->pms[i].index, NULL);
        ew_e3dc_em_i64(e, "type", v->pms[i].type, NULL);
        str_or_null(e, "type_name", ew_e3dc_pm_type_name(v->pms[i].type));
        ew_e3dc_em_close(e);
    }
    ew_e3dc_em_close(e);
    if (v->root_pm_index >= 0)
        ew_e3dc_em_i64(e, "root_pm_index", v->root_pm_index, NULL);
    else
        ew_e3dc_em_null(e, "root_pm_index");
    ew_e3dc_em_open(e, "wallboxes", 1);
    for (unsigned i = 0; i < v->nwallboxes; i++)
        ew_e3dc_em_i64(e, NULL, v->wallboxes[i], NULL);
    ew_e3dc_em_close(e);
}

WRITERS(result, ew_e3dc_result)
WRITERS(poll, ew_e3dc_poll)
WRITERS(status, ew_e3dc_status)
WRITERS(sysinfo, ew_e3dc_sysinfo)
WRITERS(sysinfo_dyn, ew_e3dc_sysinfo_dyn)
WRITERS(switches, ew_e3dc_switches)
WRITERS(idle_periods, ew_e3dc_idle_periods)
WRITERS(history, ew_e3dc_history)
WRITERS(power_settings, ew_e3dc_power_settings)
WRITERS(power_settings_result, ew_e3dc_power_settings_result)
WRITERS(manual_charge, ew_e3dc_manual_charge)
WRITERS(battery, ew_e3dc_battery)
WRITERS(pvi, ew_e3dc_pvi)
WRITERS(pm, ew_e3dc_pm)
WRITERS(wallbox, ew_e3dc_wallbox)
WRITERS(topology, ew_e3dc_topology)
