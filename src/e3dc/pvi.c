/* PV inverters, per tracker and per phase (rscp.md §9.4). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define P ew_e3dc_pvi
#define VAL EW_E3DC_F_VAL

const ew_e3dc_field ew_e3dc_pvi_fields[EW_E3DC_PVI_NFIELDS] = {
    [EW_E3DC_PVI_TYPE] = EW_E3DC_FLD(T(PVI_REQ_TYPE), PVI_TYPE, 0, 0, P, type, ""),
    [EW_E3DC_PVI_SERIAL] =
        EW_E3DC_FLD(T(PVI_REQ_SERIAL_NUMBER), PVI_SERIAL_NUMBER, 0, 0, P, serial, ""),
    /* PVI_VERSION is a container {PVI_VERSION_MAIN, ...}: parsed by hand. */
    [EW_E3DC_PVI_VERSION] = EW_E3DC_REQ_DRV(T(PVI_REQ_VERSION), P, version, ""),
    [EW_E3DC_PVI_ON_GRID] = EW_E3DC_FLD(T(PVI_REQ_ON_GRID), PVI_ON_GRID, 0, 0, P, on_grid, ""),
    [EW_E3DC_PVI_STATE] = EW_E3DC_FLD(T(PVI_REQ_STATE), PVI_STATE, 0, 0, P, state, ""),
    [EW_E3DC_PVI_LAST_ERROR] =
        EW_E3DC_FLD(T(PVI_REQ_LAST_ERROR), PVI_LAST_ERROR, 0, 0, P, last_error, ""),
    [EW_E3DC_PVI_COS_PHI] = EW_E3DC_GRP(T(PVI_REQ_COS_PHI), PVI_COS_PHI),
    [EW_E3DC_PVI_COS_PHI_VALUE] =
        EW_E3DC_FLD(0, PVI_COS_PHI_VALUE, T(PVI_COS_PHI), 0, P, cos_phi, ""),
    [EW_E3DC_PVI_COS_PHI_ACTIVE] =
        EW_E3DC_FLD(0, PVI_COS_PHI_IS_AKTIV, T(PVI_COS_PHI), 0, P, cos_phi_active, ""),
    [EW_E3DC_PVI_COS_PHI_EXCITED] =
        EW_E3DC_FLD(0, PVI_COS_PHI_EXCITED, T(PVI_COS_PHI), 0, P, cos_phi_excited, ""),
    [EW_E3DC_PVI_VOLTAGE_MONITORING] =
        EW_E3DC_GRP(T(PVI_REQ_VOLTAGE_MONITORING), PVI_VOLTAGE_MONITORING),
    [EW_E3DC_PVI_VM_THRESHOLD_TOP] =
        EW_E3DC_FLD(0, PVI_VOLTAGE_MONITORING_THRESHOLD_TOP, T(PVI_VOLTAGE_MONITORING), 0, P,
                    vm_threshold_top_v, "V"),
    [EW_E3DC_PVI_VM_THRESHOLD_BOTTOM] =
        EW_E3DC_FLD(0, PVI_VOLTAGE_MONITORING_THRESHOLD_BOTTOM, T(PVI_VOLTAGE_MONITORING), 0, P,
                    vm_threshold_bottom_v, "V"),
    [EW_E3DC_PVI_VM_SLOPE_UP] = EW_E3DC_FLD(0, PVI_VOLTAGE_MONITORING_SLOPE_UP,
                                            T(PVI_VOLTAGE_MONITORING), 0, P, vm_slope_up, ""),
    [EW_E3DC_PVI_VM_SLOPE_DOWN] = EW_E3DC_FLD(0, PVI_VOLTAGE_MONITORING_SLOPE_DOWN,
                                              T(PVI_VOLTAGE_MONITORING), 0, P, vm_slope_down, ""),
    [EW_E3DC_PVI_POWER_MODE] =
        EW_E3DC_FLD(T(PVI_REQ_POWER_MODE), PVI_POWER_MODE, 0, 0, P, power_mode, ""),
    [EW_E3DC_PVI_SYSTEM_MODE] =
        EW_E3DC_FLD(T(PVI_REQ_SYSTEM_MODE), PVI_SYSTEM_MODE, 0, 0, P, system_mode, ""),
    [EW_E3DC_PVI_FREQUENCY] =
        EW_E3DC_GRP(T(PVI_REQ_FREQUENCY_UNDER_OVER), PVI_FREQUENCY_UNDER_OVER),
    [EW_E3DC_PVI_FREQUENCY_UNDER] = EW_E3DC_FLD(0, PVI_FREQUENCY_UNDER, T(PVI_FREQUENCY_UNDER_OVER),
                                                0, P, frequency_under_hz, "Hz"),
    [EW_E3DC_PVI_FREQUENCY_OVER] = EW_E3DC_FLD(0, PVI_FREQUENCY_OVER, T(PVI_FREQUENCY_UNDER_OVER),
                                               0, P, frequency_over_hz, "Hz"),
    /* Float32 in every tag list, but pye3dc looks for a PVI_VALUE inside
     * (rscp.md §9.4 "disputed"): both shapes are read. */
    [EW_E3DC_PVI_MAX_TEMP] =
        EW_E3DC_FLD(T(PVI_REQ_MAX_TEMPERATURE), PVI_MAX_TEMPERATURE, 0, VAL, P, max_temp_c, "°C"),
    [EW_E3DC_PVI_MIN_TEMP] =
        EW_E3DC_FLD(T(PVI_REQ_MIN_TEMPERATURE), PVI_MIN_TEMPERATURE, 0, VAL, P, min_temp_c, "°C"),
    [EW_E3DC_PVI_AC_MAX_APPARENT_POWER] =
        EW_E3DC_FLD(T(PVI_REQ_AC_MAX_APPARENTPOWER), PVI_AC_MAX_APPARENTPOWER, 0, VAL, P,
                    ac_max_apparent_power_va, "VA"),
    [EW_E3DC_PVI_DEVICE_STATE] = EW_E3DC_GRP(T(PVI_REQ_DEVICE_STATE), PVI_DEVICE_STATE),
    [EW_E3DC_PVI_DEVICE_CONNECTED] =
        EW_E3DC_FLD(0, PVI_DEVICE_CONNECTED, T(PVI_DEVICE_STATE), 0, P, device_connected, ""),
    [EW_E3DC_PVI_DEVICE_WORKING] =
        EW_E3DC_FLD(0, PVI_DEVICE_WORKING, T(PVI_DEVICE_STATE), 0, P, device_working, ""),
    [EW_E3DC_PVI_DEVICE_IN_SERVICE] =
        EW_E3DC_FLD(0, PVI_DEVICE_IN_SERVICE, T(PVI_DEVICE_STATE), 0, P, device_in_service, ""),
    [EW_E3DC_PVI_MAX_PHASE_COUNT] = EW_E3DC_FLD(
        T(PVI_REQ_AC_MAX_PHASE_COUNT), PVI_AC_MAX_PHASE_COUNT, 0, 0, P, max_phase_count, ""),
    [EW_E3DC_PVI_MAX_STRING_COUNT] = EW_E3DC_FLD(
        T(PVI_REQ_DC_MAX_STRING_COUNT), PVI_DC_MAX_STRING_COUNT, 0, 0, P, max_string_count, ""),
    [EW_E3DC_PVI_USED_STRING_COUNT] = EW_E3DC_FLD(
        T(PVI_REQ_USED_STRING_COUNT), PVI_USED_STRING_COUNT, 0, 0, P, used_string_count, ""),
    /* Untyped in all lists; rscp2mqtt reads UChar8 (rscp.md §9.4). */
    [EW_E3DC_PVI_TEMPERATURE_COUNT] = EW_E3DC_FLD(
        T(PVI_REQ_TEMPERATURE_COUNT), PVI_TEMPERATURE_COUNT, 0, 0, P, temperature_count, ""),
};

/* Per-tracker answers: containers {PVI_INDEX, PVI_VALUE}. */
const ew_e3dc_field ew_e3dc_trk_fields[EW_E3DC_TRK_NFIELDS] = {
    [EW_E3DC_TRK_POWER] =
        EW_E3DC_FLD(T(PVI_REQ_DC_POWER), PVI_DC_POWER, 0, VAL, ew_e3dc_pvi_tracker, power_w, "W"),
    [EW_E3DC_TRK_VOLTAGE] = EW_E3DC_FLD(T(PVI_REQ_DC_VOLTAGE), PVI_DC_VOLTAGE, 0, VAL,
                                        ew_e3dc_pvi_tracker, voltage_v, "V"),
    [EW_E3DC_TRK_CURRENT] = EW_E3DC_FLD(T(PVI_REQ_DC_CURRENT), PVI_DC_CURRENT, 0, VAL,
                                        ew_e3dc_pvi_tracker, current_a, "A"),
    [EW_E3DC_TRK_ENERGY] = EW_E3DC_FLD(T(PVI_REQ_DC_STRING_ENERGY_ALL), PVI_DC_STRING_ENERGY_ALL, 0,
                                       VAL, ew_e3dc_pvi_tracker, energy_wh, "Wh"),
};

/* Per-phase answers: containers {PVI_INDEX, PVI_VALUE}. */
const ew_e3dc_field ew_e3dc_ph_fields[EW_E3DC_PH_NFIELDS] = {
    [EW_E3DC_PH_POWER] =
        EW_E3DC_FLD(T(PVI_REQ_AC_POWER), PVI_AC_POWER, 0, VAL, ew_e3dc_pvi_phase, power_w, "W"),
    [EW_E3DC_PH_VOLTAGE] = EW_E3DC_FLD(T(PVI_REQ_AC_VOLTAGE), PVI_AC_VOLTAGE, 0, VAL,
                                       ew_e3dc_pvi_phase, voltage_v, "V"),
    [EW_E3DC_PH_CURRENT] = EW_E3DC_FLD(T(PVI_REQ_AC_CURRENT), PVI_AC_CURRENT, 0, VAL,
                                       ew_e3dc_pvi_phase, current_a, "A"),
    [EW_E3DC_PH_APPARENT_POWER] = EW_E3DC_FLD(T(PVI_REQ_AC_APPARENTPOWER), PVI_AC_APPARENTPOWER, 0,
                                              VAL, ew_e3dc_pvi_phase, apparent_power_va, "VA"),
    [EW_E3DC_PH_REACTIVE_POWER] = EW_E3DC_FLD(T(PVI_REQ_AC_REACTIVEPOWER), PVI_AC_REACTIVEPOWER, 0,
                                              VAL, ew_e3dc_pvi_phase, reactive_power_var, "var"),
    [EW_E3DC_PH_ENERGY] = EW_E3DC_FLD(T(PVI_REQ_AC_ENERGY_ALL), PVI_AC_ENERGY_ALL, 0, VAL,
                                      ew_e3dc_pvi_phase, energy_wh, "Wh"),
    [EW_E3DC_PH_ENERGY_GRID_CONSUMPTION] =
        EW_E3DC_FLD(T(PVI_REQ_AC_ENERGY_GRID_CONSUMPTION), PVI_AC_ENERGY_GRID_CONSUMPTION, 0, VAL,
                    ew_e3dc_pvi_phase, energy_grid_consumption_wh, "Wh"),
};

/* Adds one request per table entry with |item| as UInt16 value. */
static void indexed_items(ew_rscp_builder *b, const ew_e3dc_field *t, size_t n, unsigned item) {
    /* Documented UChar8, pye3dc sends UInt16 (rscp.md §9.4, §11.8). */
    for (size_t i = 0; i < n; i++)
        ew_rscp_builder_add_uint16(b, t[i].req, (uint16_t)item);
}

int ew_e3dc_req_pvi(ew_rscp_builder *b, unsigned index, unsigned parts, unsigned ntrackers,
                    unsigned nphases, unsigned ntemps) {
    const unsigned all = EW_E3DC_PVI_PART_INFO | EW_E3DC_PVI_PART_TRACKERS |
                         EW_E3DC_PVI_PART_PHASES | EW_E3DC_PVI_PART_TEMPS;
    if (!parts || (parts & ~all))
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (index > UINT16_MAX || ntrackers > EW_E3DC_MAX_TRACKERS || nphases > EW_E3DC_MAX_PHASES ||
        ntemps > EW_E3DC_MAX_PVI_TEMPS)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    ew_rscp_builder_open(b, T(PVI_REQ_DATA));
    ew_rscp_builder_add_uint16(b, T(PVI_INDEX), (uint16_t)index);
    if (parts & EW_E3DC_PVI_PART_INFO)
        ew_e3dc_req_fields(b, ew_e3dc_pvi_fields, EW_E3DC_PVI_NFIELDS, ~0ull);
    if (parts & EW_E3DC_PVI_PART_TRACKERS)
        for (unsigned t = 0; t < ntrackers; t++)
            indexed_items(b, ew_e3dc_trk_fields, EW_E3DC_TRK_NFIELDS, t);
    if (parts & EW_E3DC_PVI_PART_PHASES)
        for (unsigned p = 0; p < nphases; p++)
            indexed_items(b, ew_e3dc_ph_fields, EW_E3DC_PH_NFIELDS, p);
    if (parts & EW_E3DC_PVI_PART_TEMPS)
        for (unsigned s = 0; s < ntemps; s++)
            ew_rscp_builder_add_uint16(b, T(PVI_REQ_TEMPERATURE), (uint16_t)s);
    return ew_rscp_builder_close(b);
}

/* Index of a per-item answer {PVI_INDEX, PVI_VALUE}. */
static int item_index(const ew_rscp_iter *it, const ew_rscp_value *v, int64_t *idx, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "per-item PVI answer is not a container");
    if (!ew_e3dc_child(it, v, T(PVI_INDEX), &ci, &c))
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing PVI_INDEX in a per-item answer");
    if (ew_e3dc_get_int(&c, idx) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of PVI_INDEX");
    return EW_OK;
}

static const ew_e3dc_field *in_table(const ew_e3dc_field *t, size_t n, uint32_t tag) {
    for (size_t i = 0; i < n; i++)
        if (t[i].tag == tag)
            return &t[i];
    return NULL;
}

/* Files one per-item answer (tracker, phase or temperature).  Returns 1 when
 * |c| is one, 0 when not. */
static int per_item(const ew_rscp_iter *it, const ew_rscp_value *c, ew_e3dc_pvi *out, ew_diag *d) {
    int is_trk = in_table(ew_e3dc_trk_fields, EW_E3DC_TRK_NFIELDS, c->tag) != NULL;
    int is_ph = in_table(ew_e3dc_ph_fields, EW_E3DC_PH_NFIELDS, c->tag) != NULL;
    int is_temp = c->tag == T(PVI_TEMPERATURE);
    int64_t idx;
    int rc;
    if (!is_trk && !is_ph && !is_temp)
        return 0;
    if (c->type == EW_RSCP_TYPE_ERROR) {
        rc = ew_e3dc_note_error(&out->error, c, 0, d);
        return rc < 0 ? rc : 1;
    }
    if ((rc = item_index(it, c, &idx, d)) < 0)
        return rc;
    if (is_trk) {
        ew_e3dc_pvi_tracker *s =
            ew_e3dc_slot(out->trackers, sizeof out->trackers[0], EW_E3DC_MAX_TRACKERS,
                         &out->ntrackers, &out->ntrackers_total, idx);
        if (!s)
            return 1;
        rc = ew_e3dc_fields_value(ew_e3dc_trk_fields, EW_E3DC_TRK_NFIELDS, it, c, s, &s->present,
                                  &out->error, d);
    } else if (is_ph) {
        ew_e3dc_pvi_phase *s = ew_e3dc_slot(out->phases, sizeof out->phases[0], EW_E3DC_MAX_PHASES,
                                            &out->nphases, &out->nphases_total, idx);
        if (!s)
            return 1;
        rc = ew_e3dc_fields_value(ew_e3dc_ph_fields, EW_E3DC_PH_NFIELDS, it, c, s, &s->present,
                                  &out->error, d);
    } else {
        ew_e3dc_pvi_temp *s = ew_e3dc_slot(out->temps, sizeof out->temps[0], EW_E3DC_MAX_PVI_TEMPS,
                                           &out->ntemps, &out->ntemps_total, idx);
        ew_rscp_iter vi;
        ew_rscp_value val;
        if (!s)
            return 1;
        if (!ew_e3dc_child(it, c, T(PVI_VALUE), &vi, &val) ||
            ew_rscp_value_get_double(&val, &s->temp_c) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, c->offset, "unexpected type of PVI_TEMPERATURE");
        rc = EW_OK;
    }
    return rc < 0 ? rc : 1;
}

static int version(const ew_rscp_iter *it, const ew_rscp_value *c, ew_e3dc_pvi *out, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value m;
    if (c->type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, c, 0, d);
    if (c->type == EW_RSCP_TYPE_CSTRING) {
        ew_e3dc_copy_str(out->version, sizeof out->version, c->data, c->len);
    } else if (c->type == EW_RSCP_TYPE_CONTAINER &&
               ew_e3dc_child(it, c, T(PVI_VERSION_MAIN), &ci, &m) &&
               m.type == EW_RSCP_TYPE_CSTRING) {
        ew_e3dc_copy_str(out->version, sizeof out->version, m.data, m.len);
    } else {
        return ew_e3dc_fail(d, EW_ERR_PROTO, c->offset, "unexpected type of PVI_VERSION");
    }
    out->present |= 1ull << EW_E3DC_PVI_VERSION;
    return EW_OK;
}

int ew_e3dc_parse_pvi(const uint8_t *area, size_t len, unsigned index, ew_e3dc_pvi *out,
                      ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;
    rc = ew_e3dc_find_indexed(area, len, T(PVI_DATA), T(PVI_INDEX), index, &root, &v,
                              "missing PVI_DATA", d);
    if (rc < 0)
        return rc;
    out->index = index;
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (v.type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "unexpected type of PVI_DATA");
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.tag == T(PVI_INDEX)) {
            if (ew_e3dc_get_int(&c, &out->index) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of PVI_INDEX");
            continue;
        }
        if (c.tag == T(PVI_VERSION)) {
            if ((rc = version(&ci, &c, out, d)) < 0)
                return rc;
            continue;
        }
        if ((rc = per_item(&ci, &c, out, d)) != 0) {
            if (rc < 0)
                return rc;
            continue;
        }
        rc = ew_e3dc_fields_value(ew_e3dc_pvi_fields, EW_E3DC_PVI_NFIELDS, &ci, &c, out,
                                  &out->present, &out->error, d);
        if (rc < 0)
            return rc;
        if (rc == 0 && c.type == EW_RSCP_TYPE_ERROR &&
            (rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
            return rc;
    }
    return EW_OK;
}
