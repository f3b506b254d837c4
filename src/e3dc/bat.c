/* Battery strings and their DCB modules (rscp.md §9.3). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define B ew_e3dc_battery
#define D ew_e3dc_dcb

/* Item order = request order: state of charge, device state and module
 * count first, then the rest as pye3dc asks for them. */
const ew_e3dc_field ew_e3dc_bat_fields[EW_E3DC_BAT_NFIELDS] = {
    [EW_E3DC_BAT_RSOC] = EW_E3DC_FLD(T(BAT_REQ_RSOC), BAT_RSOC, 0, 0, B, rsoc_pct, "%"),
    /* BAT_REQ_DEVICE_STATE 0x03060000 -> BAT_DEVICE_STATE 0x03860000 {3 Bools}. */
    [EW_E3DC_BAT_DEVICE_STATE] = EW_E3DC_GRP(T(BAT_REQ_DEVICE_STATE), BAT_DEVICE_STATE),
    [EW_E3DC_BAT_DEVICE_CONNECTED] =
        EW_E3DC_FLD(0, BAT_DEVICE_CONNECTED, T(BAT_DEVICE_STATE), 0, B, device_connected, ""),
    [EW_E3DC_BAT_DEVICE_WORKING] =
        EW_E3DC_FLD(0, BAT_DEVICE_WORKING, T(BAT_DEVICE_STATE), 0, B, device_working, ""),
    [EW_E3DC_BAT_DEVICE_IN_SERVICE] =
        EW_E3DC_FLD(0, BAT_DEVICE_IN_SERVICE, T(BAT_DEVICE_STATE), 0, B, device_in_service, ""),
    [EW_E3DC_BAT_DCB_COUNT] =
        EW_E3DC_FLD(T(BAT_REQ_DCB_COUNT), BAT_DCB_COUNT, 0, 0, B, dcb_count, ""),
    [EW_E3DC_BAT_RSOC_REAL] =
        EW_E3DC_FLD(T(BAT_REQ_RSOC_REAL), BAT_RSOC_REAL, 0, 0, B, rsoc_real_pct, "%"),
    [EW_E3DC_BAT_ASOC] = EW_E3DC_FLD(T(BAT_REQ_ASOC), BAT_ASOC, 0, 0, B, asoc_pct, "%"),
    [EW_E3DC_BAT_CHARGE_CYCLES] =
        EW_E3DC_FLD(T(BAT_REQ_CHARGE_CYCLES), BAT_CHARGE_CYCLES, 0, 0, B, charge_cycles, ""),
    [EW_E3DC_BAT_CURRENT] = EW_E3DC_FLD(T(BAT_REQ_CURRENT), BAT_CURRENT, 0, 0, B, current_a, "A"),
    [EW_E3DC_BAT_MODULE_VOLTAGE] =
        EW_E3DC_FLD(T(BAT_REQ_MODULE_VOLTAGE), BAT_MODULE_VOLTAGE, 0, 0, B, module_voltage_v, "V"),
    [EW_E3DC_BAT_TERMINAL_VOLTAGE] = EW_E3DC_FLD(T(BAT_REQ_TERMINAL_VOLTAGE), BAT_TERMINAL_VOLTAGE,
                                                 0, 0, B, terminal_voltage_v, "V"),
    [EW_E3DC_BAT_MAX_BAT_VOLTAGE] = EW_E3DC_FLD(T(BAT_REQ_MAX_BAT_VOLTAGE), BAT_MAX_BAT_VOLTAGE, 0,
                                                0, B, max_bat_voltage_v, "V"),
    [EW_E3DC_BAT_EOD_VOLTAGE] =
        EW_E3DC_FLD(T(BAT_REQ_EOD_VOLTAGE), BAT_EOD_VOLTAGE, 0, 0, B, eod_voltage_v, "V"),
    [EW_E3DC_BAT_MAX_CHARGE_CURRENT] = EW_E3DC_FLD(
        T(BAT_REQ_MAX_CHARGE_CURRENT), BAT_MAX_CHARGE_CURRENT, 0, 0, B, max_charge_current_a, "A"),
    [EW_E3DC_BAT_MAX_DISCHARGE_CURRENT] =
        EW_E3DC_FLD(T(BAT_REQ_MAX_DISCHARGE_CURRENT), BAT_MAX_DISCHARGE_CURRENT, 0, 0, B,
                    max_discharge_current_a, "A"),
    [EW_E3DC_BAT_MAX_DCB_CELL_TEMP] =
        EW_E3DC_FLD(T(BAT_REQ_MAX_DCB_CELL_TEMPERATURE), BAT_MAX_DCB_CELL_TEMPERATURE, 0, 0, B,
                    max_dcb_cell_temp_c, "°C"),
    [EW_E3DC_BAT_MIN_DCB_CELL_TEMP] =
        EW_E3DC_FLD(T(BAT_REQ_MIN_DCB_CELL_TEMPERATURE), BAT_MIN_DCB_CELL_TEMPERATURE, 0, 0, B,
                    min_dcb_cell_temp_c, "°C"),
    [EW_E3DC_BAT_DESIGN_CAPACITY] = EW_E3DC_FLD(T(BAT_REQ_DESIGN_CAPACITY), BAT_DESIGN_CAPACITY, 0,
                                                0, B, design_capacity_ah, "Ah"),
    [EW_E3DC_BAT_FCC] = EW_E3DC_FLD(T(BAT_REQ_FCC), BAT_FCC, 0, 0, B, fcc_ah, "Ah"),
    [EW_E3DC_BAT_RC] = EW_E3DC_FLD(T(BAT_REQ_RC), BAT_RC, 0, 0, B, rc_ah, "Ah"),
    [EW_E3DC_BAT_USABLE_CAPACITY] = EW_E3DC_FLD(T(BAT_REQ_USABLE_CAPACITY), BAT_USABLE_CAPACITY, 0,
                                                0, B, usable_capacity_ah, "Ah"),
    [EW_E3DC_BAT_USABLE_REMAINING_CAPACITY] =
        EW_E3DC_FLD(T(BAT_REQ_USABLE_REMAINING_CAPACITY), BAT_USABLE_REMAINING_CAPACITY, 0, 0, B,
                    usable_remaining_capacity_ah, "Ah"),
    [EW_E3DC_BAT_DEVICE_NAME] =
        EW_E3DC_FLD(T(BAT_REQ_DEVICE_NAME), BAT_DEVICE_NAME, 0, 0, B, device_name, ""),
    /* Documented Bitfield, sent as UInt32 (rscp.md §9.3). */
    [EW_E3DC_BAT_STATUS_CODE] =
        EW_E3DC_FLD(T(BAT_REQ_STATUS_CODE), BAT_STATUS_CODE, 0, 0, B, status_code, ""),
    [EW_E3DC_BAT_ERROR_CODE] =
        EW_E3DC_FLD(T(BAT_REQ_ERROR_CODE), BAT_ERROR_CODE, 0, 0, B, error_code, ""),
    [EW_E3DC_BAT_READY_FOR_SHUTDOWN] = EW_E3DC_FLD(
        T(BAT_REQ_READY_FOR_SHUTDOWN), BAT_READY_FOR_SHUTDOWN, 0, 0, B, ready_for_shutdown, ""),
    [EW_E3DC_BAT_TRAINING_MODE] =
        EW_E3DC_FLD(T(BAT_REQ_TRAINING_MODE), BAT_TRAINING_MODE, 0, 0, B, training_mode, ""),
    [EW_E3DC_BAT_TOTAL_USE_TIME] =
        EW_E3DC_FLD(T(BAT_REQ_TOTAL_USE_TIME), BAT_TOTAL_USE_TIME, 0, 0, B, total_use_time, ""),
    [EW_E3DC_BAT_TOTAL_DISCHARGE_TIME] =
        EW_E3DC_FLD(T(BAT_REQ_TOTAL_DISCHARGE_TIME), BAT_TOTAL_DISCHARGE_TIME, 0, 0, B,
                    total_discharge_time, ""),
};

/* Children of BAT_DCB_INFO (types per the tag table; all read tolerantly). */
const ew_e3dc_field ew_e3dc_dcb_fields[EW_E3DC_DCB_NFIELDS] = {
    [EW_E3DC_DCB_INDEX] = EW_E3DC_FLD(0, BAT_DCB_INDEX, 0, 0, D, index, ""),
    [EW_E3DC_DCB_SOC] = EW_E3DC_FLD(0, BAT_DCB_SOC, 0, 0, D, soc_pct, "%"),
    [EW_E3DC_DCB_SOH] = EW_E3DC_FLD(0, BAT_DCB_SOH, 0, 0, D, soh_pct, "%"),
    [EW_E3DC_DCB_VOLTAGE] = EW_E3DC_FLD(0, BAT_DCB_VOLTAGE, 0, 0, D, voltage_v, "V"),
    [EW_E3DC_DCB_VOLTAGE_AVG30S] =
        EW_E3DC_FLD(0, BAT_DCB_VOLTAGE_AVG_30S, 0, 0, D, voltage_avg30s_v, "V"),
    [EW_E3DC_DCB_CURRENT] = EW_E3DC_FLD(0, BAT_DCB_CURRENT, 0, 0, D, current_a, "A"),
    [EW_E3DC_DCB_CURRENT_AVG30S] =
        EW_E3DC_FLD(0, BAT_DCB_CURRENT_AVG_30S, 0, 0, D, current_avg30s_a, "A"),
    [EW_E3DC_DCB_CYCLE_COUNT] = EW_E3DC_FLD(0, BAT_DCB_CYCLE_COUNT, 0, 0, D, cycle_count, ""),
    [EW_E3DC_DCB_DESIGN_CAPACITY] =
        EW_E3DC_FLD(0, BAT_DCB_DESIGN_CAPACITY, 0, 0, D, design_capacity_ah, "Ah"),
    [EW_E3DC_DCB_DESIGN_VOLTAGE] =
        EW_E3DC_FLD(0, BAT_DCB_DESIGN_VOLTAGE, 0, 0, D, design_voltage_v, "V"),
    [EW_E3DC_DCB_FULL_CHARGE_CAPACITY] =
        EW_E3DC_FLD(0, BAT_DCB_FULL_CHARGE_CAPACITY, 0, 0, D, full_charge_capacity_ah, "Ah"),
    [EW_E3DC_DCB_REMAINING_CAPACITY] =
        EW_E3DC_FLD(0, BAT_DCB_REMAINING_CAPACITY, 0, 0, D, remaining_capacity_ah, "Ah"),
    [EW_E3DC_DCB_MAX_CHARGE_VOLTAGE] =
        EW_E3DC_FLD(0, BAT_DCB_MAX_CHARGE_VOLTAGE, 0, 0, D, max_charge_voltage_v, "V"),
    [EW_E3DC_DCB_MAX_CHARGE_CURRENT] =
        EW_E3DC_FLD(0, BAT_DCB_MAX_CHARGE_CURRENT, 0, 0, D, max_charge_current_a, "A"),
    [EW_E3DC_DCB_MAX_DISCHARGE_CURRENT] =
        EW_E3DC_FLD(0, BAT_DCB_MAX_DISCHARGE_CURRENT, 0, 0, D, max_discharge_current_a, "A"),
    [EW_E3DC_DCB_END_OF_DISCHARGE] =
        EW_E3DC_FLD(0, BAT_DCB_END_OF_DISCHARGE, 0, 0, D, end_of_discharge_v, "V"),
    [EW_E3DC_DCB_CHARGE_HIGH_TEMP] =
        EW_E3DC_FLD(0, BAT_DCB_CHARGE_HIGH_TEMPERATURE, 0, 0, D, charge_high_temp_c, "°C"),
    [EW_E3DC_DCB_CHARGE_LOW_TEMP] =
        EW_E3DC_FLD(0, BAT_DCB_CHARGE_LOW_TEMPERATURE, 0, 0, D, charge_low_temp_c, "°C"),
    [EW_E3DC_DCB_NR_SENSOR] = EW_E3DC_FLD(0, BAT_DCB_NR_SENSOR, 0, 0, D, nr_sensor, ""),
    [EW_E3DC_DCB_NR_SERIES_CELL] =
        EW_E3DC_FLD(0, BAT_DCB_NR_SERIES_CELL, 0, 0, D, nr_series_cell, ""),
    [EW_E3DC_DCB_NR_PARALLEL_CELL] =
        EW_E3DC_FLD(0, BAT_DCB_NR_PARALLEL_CELL, 0, 0, D, nr_parallel_cell, ""),
    [EW_E3DC_DCB_STATUS] = EW_E3DC_FLD(0, BAT_DCB_STATUS, 0, 0, D, status, ""),
    [EW_E3DC_DCB_WARNING] = EW_E3DC_FLD(0, BAT_DCB_WARNING, 0, 0, D, warning, ""),
    [EW_E3DC_DCB_ALARM] = EW_E3DC_FLD(0, BAT_DCB_ALARM, 0, 0, D, alarm, ""),
    [EW_E3DC_DCB_ERROR] = EW_E3DC_FLD(0, BAT_DCB_ERROR, 0, 0, D, error_bits, ""),
    [EW_E3DC_DCB_MANUFACTURE_DATE] =
        EW_E3DC_FLD(0, BAT_DCB_MANUFACTURE_DATE, 0, 0, D, manufacture_date, ""),
    [EW_E3DC_DCB_FW_VERSION] = EW_E3DC_FLD(0, BAT_DCB_FW_VERSION, 0, 0, D, fw_version, ""),
    [EW_E3DC_DCB_PCB_VERSION] = EW_E3DC_FLD(0, BAT_DCB_PCB_VERSION, 0, 0, D, pcb_version, ""),
    [EW_E3DC_DCB_PROTOCOL_VERSION] =
        EW_E3DC_FLD(0, BAT_DCB_PROTOCOL_VERSION, 0, 0, D, protocol_version, ""),
    [EW_E3DC_DCB_DEVICE_NAME] = EW_E3DC_FLD(0, BAT_DCB_DEVICE_NAME, 0, 0, D, device_name, ""),
    [EW_E3DC_DCB_MANUFACTURE_NAME] =
        EW_E3DC_FLD(0, BAT_DCB_MANUFACTURE_NAME, 0, 0, D, manufacture_name, ""),
    /* UInt32 in the tag table, a string on some systems: kept as text. */
    [EW_E3DC_DCB_SERIAL_NO] = EW_E3DC_FLD(0, BAT_DCB_SERIALNO, 0, 0, D, serial_no, ""),
    [EW_E3DC_DCB_SERIAL_CODE] = EW_E3DC_FLD(0, BAT_DCB_SERIALCODE, 0, 0, D, serial_code, ""),
    /* Arrays, written by hand. */
    [EW_E3DC_DCB_TEMPS] = EW_E3DC_MARK(0),
    [EW_E3DC_DCB_VOLTAGES] = EW_E3DC_MARK(0),
};

int ew_e3dc_req_battery(ew_rscp_builder *b, unsigned index, uint64_t items, unsigned dcb_parts,
                        unsigned dcb_first, unsigned dcb_count) {
    uint64_t mask = items & EW_E3DC_BAT_ALL;
    if (dcb_parts & ~(unsigned)EW_E3DC_DCB_PART_ALL)
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (index > UINT16_MAX || dcb_count > EW_E3DC_MAX_DCB ||
        (dcb_count && dcb_first + (dcb_count - 1) > UINT16_MAX) || dcb_first > UINT16_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    if (!mask && !(dcb_parts && dcb_count))
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    ew_rscp_builder_open(b, T(BAT_REQ_DATA));
    ew_rscp_builder_add_uint16(b, T(BAT_INDEX), (uint16_t)index);
    ew_e3dc_req_fields(b, ew_e3dc_bat_fields, EW_E3DC_BAT_NFIELDS, mask);
    /* The DCB requests carry the DCB index as value, UInt16 as pye3dc sends
     * it (rscp-lib: UInt32; devices accept UInt16, rscp.md §9.3). */
    for (unsigned i = 0; i < (dcb_parts ? dcb_count : 0); i++) {
        uint16_t dcb = (uint16_t)(dcb_first + i);
        if (dcb_parts & EW_E3DC_DCB_PART_TEMPS)
            ew_rscp_builder_add_uint16(b, T(BAT_REQ_DCB_ALL_CELL_TEMPERATURES), dcb);
        if (dcb_parts & EW_E3DC_DCB_PART_VOLTAGES)
            ew_rscp_builder_add_uint16(b, T(BAT_REQ_DCB_ALL_CELL_VOLTAGES), dcb);
        if (dcb_parts & EW_E3DC_DCB_PART_INFO)
            ew_rscp_builder_add_uint16(b, T(BAT_REQ_DCB_INFO), dcb);
    }
    return ew_rscp_builder_close(b);
}

/* The DCB a container is about, by its BAT_DCB_INDEX child. */
static int dcb_of(const ew_rscp_iter *it, const ew_rscp_value *v, ew_e3dc_battery *out,
                  ew_e3dc_dcb **dcb, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int64_t idx;
    if (!ew_e3dc_child(it, v, T(BAT_DCB_INDEX), &ci, &c))
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing BAT_DCB_INDEX");
    if (ew_e3dc_get_int(&c, &idx) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of BAT_DCB_INDEX");
    *dcb = ew_e3dc_slot(out->dcbs, sizeof out->dcbs[0], EW_E3DC_MAX_DCB, &out->ndcbs,
                        &out->ndcbs_total, idx);
    if (*dcb)
        (*dcb)->present |= 1ull << EW_E3DC_DCB_INDEX;
    return EW_OK;
}

/*
 * BAT_DCB_ALL_CELL_TEMPERATURES / _VOLTAGES: {BAT_DCB_INDEX, BAT_DATA{n x
 * cell value}} (rscp.md §9.3).  Cells are taken by tag (rscp2mqtt) in the
 * order sent; a list directly in the outer container is accepted too.
 */
static int cells(const ew_rscp_iter *it, const ew_rscp_value *v, uint32_t cell_tag, float *dst,
                 unsigned *n, unsigned *total, ew_e3dc_error *err, ew_diag *d) {
    ew_rscp_iter ci, li;
    ew_rscp_value c, list;
    const ew_rscp_iter *lp = it;
    const ew_rscp_value *lv = v;
    if (ew_e3dc_child(it, v, T(BAT_DATA), &ci, &list) && list.type == EW_RSCP_TYPE_CONTAINER) {
        lp = &ci;
        lv = &list;
    }
    ew_rscp_iter_enter(lp, lv, &li, d);
    while (ew_rscp_iter_next(&li, &c, d) > 0) {
        if (c.tag != cell_tag)
            continue;
        if (c.type == EW_RSCP_TYPE_ERROR) {
            int rc = ew_e3dc_note_error(err, &c, 0, d);
            if (rc < 0)
                return rc;
            continue;
        }
        double x;
        if (ew_rscp_value_get_double(&c, &x) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset,
                                cell_tag == T(BAT_DCB_CELL_TEMPERATURE)
                                    ? "unexpected type of BAT_DCB_CELL_TEMPERATURE"
                                    : "unexpected type of BAT_DCB_CELL_VOLTAGE");
        if (*n < EW_E3DC_MAX_CELLS)
            dst[(*n)++] = (float)x;
        (*total)++;
    }
    return EW_OK;
}

static int dcb_value(const ew_rscp_iter *it, const ew_rscp_value *v, ew_e3dc_battery *out,
                     ew_diag *d) {
    ew_e3dc_dcb *dcb = NULL;
    int rc;
    if (v->type == EW_RSCP_TYPE_ERROR) {
        /* "Some systems return Error here" (rscp.md §9.3): no DCB index to
         * attach it to, so it is a battery-level refusal. */
        return ew_e3dc_note_error(&out->error, v, 0, d);
    }
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset,
                            v->tag == T(BAT_DCB_INFO) ? "unexpected type of BAT_DCB_INFO"
                                                      : "unexpected type of BAT_DCB_ALL_CELL_*");
    if ((rc = dcb_of(it, v, out, &dcb, d)) < 0)
        return rc;
    if (!dcb)
        return EW_OK; /* more DCBs than EW_E3DC_MAX_DCB: counted, not kept */
    if (v->tag == T(BAT_DCB_INFO))
        return ew_e3dc_fields_container(ew_e3dc_dcb_fields, EW_E3DC_DCB_NFIELDS, it, v, dcb,
                                        &dcb->present, &out->error, d);
    if (v->tag == T(BAT_DCB_ALL_CELL_TEMPERATURES)) {
        dcb->ntemps = dcb->ntemps_total = 0;
        rc = cells(it, v, T(BAT_DCB_CELL_TEMPERATURE), dcb->temps_c, &dcb->ntemps,
                   &dcb->ntemps_total, &out->error, d);
        dcb->present |= 1ull << EW_E3DC_DCB_TEMPS;
        return rc;
    }
    dcb->nvoltages = dcb->nvoltages_total = 0;
    rc = cells(it, v, T(BAT_DCB_CELL_VOLTAGE), dcb->voltages_v, &dcb->nvoltages,
               &dcb->nvoltages_total, &out->error, d);
    dcb->present |= 1ull << EW_E3DC_DCB_VOLTAGES;
    return rc;
}

int ew_e3dc_parse_battery(const uint8_t *area, size_t len, unsigned index, ew_e3dc_battery *out,
                          ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;
    rc = ew_e3dc_find_indexed(area, len, T(BAT_DATA), T(BAT_INDEX), index, &root, &v,
                              "missing BAT_DATA", d);
    if (rc < 0)
        return rc;
    out->index = index;
    if (v.type == EW_RSCP_TYPE_ERROR) /* no such battery: Error 6 (rscp.md §6) */
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (v.type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "unexpected type of BAT_DATA");
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.tag == T(BAT_INDEX)) {
            if (ew_e3dc_get_int(&c, &out->index) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of BAT_INDEX");
            continue;
        }
        if (c.tag == T(BAT_DCB_INFO) || c.tag == T(BAT_DCB_ALL_CELL_TEMPERATURES) ||
            c.tag == T(BAT_DCB_ALL_CELL_VOLTAGES)) {
            if ((rc = dcb_value(&ci, &c, out, d)) < 0)
                return rc;
            continue;
        }
        rc = ew_e3dc_fields_value(ew_e3dc_bat_fields, EW_E3DC_BAT_NFIELDS, &ci, &c, out,
                                  &out->present, &out->error, d);
        if (rc < 0)
            return rc;
        if (rc == 0 && c.type == EW_RSCP_TYPE_ERROR) {
            /* A refused item we do not decode (e.g. BAT_INTERNALS). */
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
        }
    }
    return EW_OK;
}
