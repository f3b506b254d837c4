/* Power meters (rscp.md §9.5). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define M ew_e3dc_pm

/* pye3dc's get_powermeter_data items, in its order. */
const ew_e3dc_field ew_e3dc_pm_fields[EW_E3DC_PM_NFIELDS] = {
    [EW_E3DC_PM_POWER_L1] = EW_E3DC_FLD(T(PM_REQ_POWER_L1), PM_POWER_L1, 0, 0, M, power_l1_w, "W"),
    [EW_E3DC_PM_POWER_L2] = EW_E3DC_FLD(T(PM_REQ_POWER_L2), PM_POWER_L2, 0, 0, M, power_l2_w, "W"),
    [EW_E3DC_PM_POWER_L3] = EW_E3DC_FLD(T(PM_REQ_POWER_L3), PM_POWER_L3, 0, 0, M, power_l3_w, "W"),
    [EW_E3DC_PM_VOLTAGE_L1] =
        EW_E3DC_FLD(T(PM_REQ_VOLTAGE_L1), PM_VOLTAGE_L1, 0, 0, M, voltage_l1_v, "V"),
    [EW_E3DC_PM_VOLTAGE_L2] =
        EW_E3DC_FLD(T(PM_REQ_VOLTAGE_L2), PM_VOLTAGE_L2, 0, 0, M, voltage_l2_v, "V"),
    [EW_E3DC_PM_VOLTAGE_L3] =
        EW_E3DC_FLD(T(PM_REQ_VOLTAGE_L3), PM_VOLTAGE_L3, 0, 0, M, voltage_l3_v, "V"),
    [EW_E3DC_PM_ENERGY_L1] =
        EW_E3DC_FLD(T(PM_REQ_ENERGY_L1), PM_ENERGY_L1, 0, 0, M, energy_l1_wh, "Wh"),
    [EW_E3DC_PM_ENERGY_L2] =
        EW_E3DC_FLD(T(PM_REQ_ENERGY_L2), PM_ENERGY_L2, 0, 0, M, energy_l2_wh, "Wh"),
    [EW_E3DC_PM_ENERGY_L3] =
        EW_E3DC_FLD(T(PM_REQ_ENERGY_L3), PM_ENERGY_L3, 0, 0, M, energy_l3_wh, "Wh"),
    [EW_E3DC_PM_MAX_PHASE_POWER] =
        EW_E3DC_FLD(T(PM_REQ_MAX_PHASE_POWER), PM_MAX_PHASE_POWER, 0, 0, M, max_phase_power_w, "W"),
    [EW_E3DC_PM_ACTIVE_PHASES] =
        EW_E3DC_FLD(T(PM_REQ_ACTIVE_PHASES), PM_ACTIVE_PHASES, 0, 0, M, active_phases, ""),
    [EW_E3DC_PM_TYPE] = EW_E3DC_FLD(T(PM_REQ_TYPE), PM_TYPE, 0, 0, M, type, ""),
    [EW_E3DC_PM_MODE] = EW_E3DC_FLD(T(PM_REQ_MODE), PM_MODE, 0, 0, M, mode, ""),
};

int ew_e3dc_req_pm(ew_rscp_builder *b, unsigned index) {
    if (index > UINT16_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    ew_rscp_builder_open(b, T(PM_REQ_DATA));
    ew_rscp_builder_add_uint16(b, T(PM_INDEX), (uint16_t)index);
    ew_e3dc_req_fields(b, ew_e3dc_pm_fields, EW_E3DC_PM_NFIELDS, ~0ull);
    return ew_rscp_builder_close(b);
}

int ew_e3dc_parse_pm(const uint8_t *area, size_t len, unsigned index, ew_e3dc_pm *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;
    rc = ew_e3dc_find_indexed(area, len, T(PM_DATA), T(PM_INDEX), index, &root, &v,
                              "missing PM_DATA", d);
    if (rc < 0)
        return rc;
    out->index = index;
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (v.type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "unexpected type of PM_DATA");
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.tag == T(PM_INDEX)) {
            if (ew_e3dc_get_int(&c, &out->index) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of PM_INDEX");
            continue;
        }
        rc = ew_e3dc_fields_value(ew_e3dc_pm_fields, EW_E3DC_PM_NFIELDS, &ci, &c, out,
                                  &out->present, &out->error, d);
        if (rc < 0)
            return rc;
        if (rc == 0 && c.type == EW_RSCP_TYPE_ERROR &&
            (rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
            return rc;
    }
    return EW_OK;
}
