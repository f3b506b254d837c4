/* History database requests and answers (rscp.md §9.6). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define HV ew_e3dc_history_values

/* The sum and value containers hold Float32 values looked up by tag; the
 * "POWER" ones are energies over the period (rscp.md §9.6). */
const ew_e3dc_field ew_e3dc_hist_fields[EW_E3DC_HIST_NFIELDS] = {
    [EW_E3DC_HIST_GRAPH_INDEX] = EW_E3DC_FLD(0, DB_GRAPH_INDEX, 0, 0, HV, graph_index, ""),
    [EW_E3DC_HIST_BAT_CHARGE] = EW_E3DC_FLD(0, DB_BAT_POWER_IN, 0, 0, HV, bat_charge_wh, "Wh"),
    [EW_E3DC_HIST_BAT_DISCHARGE] =
        EW_E3DC_FLD(0, DB_BAT_POWER_OUT, 0, 0, HV, bat_discharge_wh, "Wh"),
    [EW_E3DC_HIST_PV] = EW_E3DC_FLD(0, DB_DC_POWER, 0, 0, HV, pv_wh, "Wh"),
    /* GRID_POWER_IN is energy into the grid (feed-in), OUT is purchase. */
    [EW_E3DC_HIST_GRID_EXPORT] = EW_E3DC_FLD(0, DB_GRID_POWER_IN, 0, 0, HV, grid_export_wh, "Wh"),
    [EW_E3DC_HIST_GRID_IMPORT] = EW_E3DC_FLD(0, DB_GRID_POWER_OUT, 0, 0, HV, grid_import_wh, "Wh"),
    [EW_E3DC_HIST_CONSUMPTION] = EW_E3DC_FLD(0, DB_CONSUMPTION, 0, 0, HV, consumption_wh, "Wh"),
    [EW_E3DC_HIST_PM0] = EW_E3DC_FLD(0, DB_PM_0_POWER, 0, 0, HV, pm0_wh, "Wh"),
    [EW_E3DC_HIST_PM1] = EW_E3DC_FLD(0, DB_PM_1_POWER, 0, 0, HV, pm1_wh, "Wh"),
    [EW_E3DC_HIST_BAT_SOC] = EW_E3DC_FLD(0, DB_BAT_CHARGE_LEVEL, 0, 0, HV, bat_soc_pct, "%"),
    [EW_E3DC_HIST_BAT_CYCLES] = EW_E3DC_FLD(0, DB_BAT_CYCLE_COUNT, 0, 0, HV, bat_cycles, ""),
    [EW_E3DC_HIST_CONSUMED_PRODUCTION] =
        EW_E3DC_FLD(0, DB_CONSUMED_PRODUCTION, 0, 0, HV, consumed_production_pct, "%"),
    [EW_E3DC_HIST_AUTARKY] = EW_E3DC_FLD(0, DB_AUTARKY, 0, 0, HV, autarky_pct, "%"),
};

static const uint32_t req_tags[4] = {T(DB_REQ_HISTORY_DATA_DAY), T(DB_REQ_HISTORY_DATA_WEEK),
                                     T(DB_REQ_HISTORY_DATA_MONTH), T(DB_REQ_HISTORY_DATA_YEAR)};
static const uint32_t ans_tags[4] = {T(DB_HISTORY_DATA_DAY), T(DB_HISTORY_DATA_WEEK),
                                     T(DB_HISTORY_DATA_MONTH), T(DB_HISTORY_DATA_YEAR)};

int ew_e3dc_req_history(ew_rscp_builder *b, ew_e3dc_history_kind kind, int64_t start_s,
                        uint64_t interval_s, uint64_t span_s, unsigned flags) {
    if ((unsigned)kind > EW_E3DC_HISTORY_YEAR ||
        (flags & ~(EW_E3DC_HISTORY_UINT64 | EW_E3DC_HISTORY_UTC_START)))
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (interval_s == 0 || span_s == 0 || ((flags & EW_E3DC_HISTORY_UINT64) && start_s < 0) ||
        interval_s > (uint64_t)INT64_MAX || span_s > (uint64_t)INT64_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    uint32_t start_tag = flags & EW_E3DC_HISTORY_UTC_START ? T(DB_REQ_HISTORY_UTC_TIME_START)
                                                           : T(DB_REQ_HISTORY_TIME_START);
    ew_rscp_builder_open(b, req_tags[kind]);
    if (flags & EW_E3DC_HISTORY_UINT64) {
        /* pye3dc: UInt64 seconds (rscp.md §9.6). */
        ew_rscp_builder_add_uint64(b, start_tag, (uint64_t)start_s);
        ew_rscp_builder_add_uint64(b, T(DB_REQ_HISTORY_TIME_INTERVAL), interval_s);
        ew_rscp_builder_add_uint64(b, T(DB_REQ_HISTORY_TIME_SPAN), span_s);
    } else {
        /* Tag list / E3DC example / easy-rscp: Timestamps, durations in the
         * seconds field with 0 ns (rscp.md §9.6). */
        ew_rscp_timestamp t0 = {start_s, 0}, ti = {(int64_t)interval_s, 0},
                          ts = {(int64_t)span_s, 0};
        ew_rscp_builder_add_timestamp(b, start_tag, t0);
        ew_rscp_builder_add_timestamp(b, T(DB_REQ_HISTORY_TIME_INTERVAL), ti);
        ew_rscp_builder_add_timestamp(b, T(DB_REQ_HISTORY_TIME_SPAN), ts);
    }
    return ew_rscp_builder_close(b);
}

int ew_e3dc_parse_history(const uint8_t *area, size_t len, ew_e3dc_history *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, it, ci;
    ew_rscp_value v, c;
    int found = 0;
    ew_rscp_iter_init(&root, area, len, 0);
    it = root;
    while (!found && ew_rscp_iter_next(&it, &v, NULL) > 0) {
        for (unsigned k = 0; k < 4; k++) {
            if (v.tag == ans_tags[k]) {
                out->kind = (ew_e3dc_history_kind)k;
                found = 1;
                break;
            }
        }
    }
    if (!found)
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, "missing DB_HISTORY_DATA_DAY");
    /* Invalid start/span: Error 0xFFFFFFFF; no data for the period: Error 6
     * (rscp.md §9.6). */
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (ew_rscp_iter_enter(&root, &v, &ci, d) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "unexpected type of DB_HISTORY_DATA_DAY");
    int have_sum = 0;
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        ew_e3dc_history_values *dst = NULL;
        if (c.tag == T(DB_SUM_CONTAINER) && !have_sum) {
            dst = &out->sum;
            have_sum = 1;
        } else if (c.tag == T(DB_VALUE_CONTAINER)) {
            out->nvalues_total++;
            if (out->nvalues >= EW_E3DC_MAX_HISTORY)
                continue;
            dst = &out->values[out->nvalues++];
        } else {
            continue;
        }
        if (c.type != EW_RSCP_TYPE_CONTAINER)
            return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                c.tag == T(DB_SUM_CONTAINER)
                                    ? "unexpected type of DB_SUM_CONTAINER"
                                    : "unexpected type of DB_VALUE_CONTAINER");
        rc = ew_e3dc_fields_container(ew_e3dc_hist_fields, EW_E3DC_HIST_NFIELDS, &ci, &c, dst,
                                      &dst->present, &out->error, d);
        if (rc < 0)
            return rc;
    }
    if (!have_sum)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "missing DB_SUM_CONTAINER");
    return EW_OK;
}
