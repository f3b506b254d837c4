/* Home-automation switches (rscp.md §9.10). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define SW ew_e3dc_switch

const ew_e3dc_field ew_e3dc_switch_fields[EW_E3DC_SWITCH_NFIELDS] = {
    [EW_E3DC_SWITCH_ID] = EW_E3DC_FLD(0, HA_DATAPOINT_INDEX, 0, 0, SW, id, ""),
    [EW_E3DC_SWITCH_TYPE] = EW_E3DC_FLD(0, HA_DATAPOINT_TYPE, 0, 0, SW, type, ""),
    [EW_E3DC_SWITCH_NAME] = EW_E3DC_FLD(0, HA_DATAPOINT_NAME, 0, 0, SW, name, ""),
    [EW_E3DC_SWITCH_STATE] = EW_E3DC_FLD(0, HA_DATAPOINT_STATE, 0, 0, SW, state, ""),
    [EW_E3DC_SWITCH_MODE] = EW_E3DC_FLD(0, HA_DATAPOINT_MODE, 0, 0, SW, mode, ""),
};

int ew_e3dc_req_switches(ew_rscp_builder *b) {
    ew_rscp_builder_add_none(b, T(HA_REQ_DATAPOINT_LIST));
    return ew_rscp_builder_add_none(b, T(HA_REQ_ACTUATOR_STATES));
}

/* Fills switch i from the i-th container of list |v| (pye3dc pairs the
 * datapoint list and the state list by position, rscp.md §9.10). */
static int fill(const ew_rscp_iter *root, const ew_rscp_value *v, ew_e3dc_switches *out,
                unsigned *count, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    unsigned i = 0;
    int rc;
    if (ew_rscp_iter_enter(root, v, &ci, d) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "unexpected type of HA_DATAPOINT_LIST");
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if (c.type != EW_RSCP_TYPE_CONTAINER)
            continue;
        if (i < EW_E3DC_MAX_SWITCHES) {
            ew_e3dc_switch *s = &out->sw[i];
            rc = ew_e3dc_fields_container(ew_e3dc_switch_fields, EW_E3DC_SWITCH_NFIELDS, &ci, &c, s,
                                          &s->present, &out->error, d);
            if (rc < 0)
                return rc;
        }
        i++;
    }
    *count = i;
    return EW_OK;
}

int ew_e3dc_parse_switches(const uint8_t *area, size_t len, ew_e3dc_switches *out, ew_diag *d) {
    static const uint32_t tags[2] = {T(HA_DATAPOINT_LIST), T(HA_ACTUATOR_STATES)};
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    int any = 0;
    for (unsigned k = 0; k < 2; k++) {
        ew_rscp_iter root;
        ew_rscp_value v;
        unsigned count = 0;
        if (!ew_e3dc_find(area, len, tags[k], &root, &v))
            continue;
        any = 1;
        if (v.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &v, 1, d)) < 0)
                return rc;
            continue;
        }
        if ((rc = fill(&root, &v, out, &count, d)) < 0)
            return rc;
        out->present |= 1ull << k;
        if (count > out->total)
            out->total = count;
    }
    if (!any)
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, "missing HA_DATAPOINT_LIST");
    out->n = out->total < EW_E3DC_MAX_SWITCHES ? out->total : EW_E3DC_MAX_SWITCHES;
    return EW_OK;
}

int ew_e3dc_req_switch_set(ew_rscp_builder *b, unsigned id, int on) {
    if (id > UINT16_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    /* HA_DATAPOINT_INDEX is a response-space tag used inside the request
     * (rscp.md §4.1); pye3dc sends it as UInt16. */
    ew_rscp_builder_open(b, T(HA_REQ_COMMAND_ACTUATOR));
    ew_rscp_builder_add_uint16(b, T(HA_DATAPOINT_INDEX), (uint16_t)id);
    ew_rscp_builder_add_string(b, T(HA_REQ_COMMAND), on ? "on" : "off");
    return ew_rscp_builder_close(b);
}

int ew_e3dc_parse_switch_set(const uint8_t *area, size_t len, ew_e3dc_result *out, ew_diag *d) {
    return ew_e3dc_parse_single(area, len, T(HA_COMMAND_ACTUATOR), "missing HA_COMMAND_ACTUATOR",
                                EW_E3DC_OK_TRUE, out, d);
}
