/* Wallbox data and commands (rscp.md §9.9). */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define W ew_e3dc_wallbox

/* Requests in pye3dc's order (get_wallbox_data); most fields come out of
 * the WB_EXTERN_DATA byte arrays and are filled by hand. */
const ew_e3dc_field ew_e3dc_wb_fields[EW_E3DC_WB_NFIELDS] = {
    [EW_E3DC_WB_ALG] = EW_E3DC_MARK(T(WB_REQ_EXTERN_DATA_ALG)),
    [EW_E3DC_WB_SOC] = EW_E3DC_DRV(W, soc, ""),
    [EW_E3DC_WB_PHASES] = EW_E3DC_DRV(W, phases, ""),
    [EW_E3DC_WB_SUN_MODE] = EW_E3DC_DRV(W, sun_mode, ""),
    [EW_E3DC_WB_CHARGING_CANCELED] = EW_E3DC_DRV(W, charging_canceled, ""),
    [EW_E3DC_WB_CHARGING_ACTIVE] = EW_E3DC_DRV(W, charging_active, ""),
    [EW_E3DC_WB_PLUG_LOCKED] = EW_E3DC_DRV(W, plug_locked, ""),
    [EW_E3DC_WB_PLUGGED] = EW_E3DC_DRV(W, plugged, ""),
    [EW_E3DC_WB_MAX_CURRENT] = EW_E3DC_DRV(W, max_current_a, "A"),
    [EW_E3DC_WB_SCHUKO_ON] = EW_E3DC_DRV(W, schuko_on, ""),
    [EW_E3DC_WB_SUN] = EW_E3DC_MARK(T(WB_REQ_EXTERN_DATA_SUN)),
    [EW_E3DC_WB_NET] = EW_E3DC_MARK(T(WB_REQ_EXTERN_DATA_NET)),
    [EW_E3DC_WB_ENERGY_TOTAL] = EW_E3DC_DRV(W, total_energy_wh, "Wh"),
    [EW_E3DC_WB_APP_SOFTWARE] =
        EW_E3DC_FLD(T(WB_REQ_APP_SOFTWARE), WB_APP_SOFTWARE, 0, 0, W, app_software, ""),
    [EW_E3DC_WB_KEY_STATE] = EW_E3DC_FLD(T(WB_REQ_KEY_STATE), WB_KEY_STATE, 0, 0, W, key_state, ""),
    [EW_E3DC_WB_BATTERY_TO_CAR] = EW_E3DC_DRV(W, battery_to_car, ""),
};

int ew_e3dc_req_wallbox(ew_rscp_builder *b, unsigned index) {
    if (index > UINT8_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    ew_rscp_builder_open(b, T(WB_REQ_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), (uint8_t)index);
    ew_e3dc_req_fields(b, ew_e3dc_wb_fields, EW_E3DC_WB_NFIELDS, ~0ull);
    ew_rscp_builder_close(b);
    /* pye3dc asks for the battery-to-car mode right after (rscp.md §9.8). */
    return ew_e3dc_req_battery_to_car(b);
}

/* The 6-byte WB_EXTERN_DATA inside an EXTERN_DATA_* container. */
static int extern_data(const ew_rscp_iter *it, const ew_rscp_value *v, const uint8_t **data,
                       ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "unexpected type of WB_EXTERN_DATA_*");
    if (!ew_e3dc_child(it, v, T(WB_EXTERN_DATA), &ci, &c))
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "missing WB_EXTERN_DATA");
    if (c.type != EW_RSCP_TYPE_BYTEARRAY || c.len < 6)
        return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "WB_EXTERN_DATA is not 6 bytes");
    *data = c.data;
    return EW_OK;
}

static int64_t le16s(const uint8_t *p) {
    return (int16_t)(uint16_t)(p[0] | (p[1] << 8));
}

static int64_t le32s(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24));
}

static void set(ew_e3dc_wallbox *o, unsigned bit) {
    o->present |= 1ull << bit;
}

int ew_e3dc_parse_wallbox(const uint8_t *area, size_t len, unsigned index, ew_e3dc_wallbox *out,
                          ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, ci;
    ew_rscp_value v, c;

    /* Battery-to-car is a separate top-level answer; optional here. */
    if (ew_e3dc_find(area, len, T(EMS_BATTERY_TO_CAR_MODE), &root, &v)) {
        if (v.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &v, 0, d)) < 0)
                return rc;
        } else if (ew_e3dc_get_int(&v, &out->battery_to_car) == EW_OK) {
            set(out, EW_E3DC_WB_BATTERY_TO_CAR);
        } else if (v.type != EW_RSCP_TYPE_NONE) {
            return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset,
                                "unexpected type of EMS_BATTERY_TO_CAR_MODE");
        }
    }

    rc = ew_e3dc_find_indexed(area, len, T(WB_DATA), T(WB_INDEX), index, &root, &v,
                              "missing WB_DATA", d);
    if (rc < 0)
        return rc;
    out->index = index;
    if (v.type == EW_RSCP_TYPE_ERROR)
        return ew_e3dc_note_error(&out->error, &v, 1, d);
    if (v.type != EW_RSCP_TYPE_CONTAINER)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v.offset, "unexpected type of WB_DATA");
    ew_rscp_iter_enter(&root, &v, &ci, d);
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        const uint8_t *x;
        if (c.tag == T(WB_INDEX)) {
            if (ew_e3dc_get_int(&c, &out->index) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, c.offset, "unexpected type of WB_INDEX");
            continue;
        }
        if (c.tag != T(WB_EXTERN_DATA_ALG) && c.tag != T(WB_EXTERN_DATA_SUN) &&
            c.tag != T(WB_EXTERN_DATA_NET)) {
            rc = ew_e3dc_fields_value(ew_e3dc_wb_fields, EW_E3DC_WB_NFIELDS, &ci, &c, out,
                                      &out->present, &out->error, d);
            if (rc < 0)
                return rc;
            if (rc == 0 && c.type == EW_RSCP_TYPE_ERROR &&
                (rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if (c.type == EW_RSCP_TYPE_ERROR) {
            if ((rc = ew_e3dc_note_error(&out->error, &c, 0, d)) < 0)
                return rc;
            continue;
        }
        if ((rc = extern_data(&ci, &c, &x, d)) < 0)
            return rc;
        if (c.tag == T(WB_EXTERN_DATA_ALG)) {
            /* Byte layout as pye3dc reads it (rscp.md §9.9, single source). */
            memcpy(out->alg, x, 6);
            out->soc = x[0];
            out->phases = x[1];
            out->sun_mode = (x[2] & 0x80) != 0;
            out->charging_canceled = (x[2] & 0x40) != 0;
            out->charging_active = (x[2] & 0x20) != 0;
            out->plug_locked = (x[2] & 0x10) != 0;
            out->plugged = (x[2] & 0x08) != 0;
            out->max_current_a = x[3];
            out->schuko_on = x[5] != 0;
            for (unsigned b = EW_E3DC_WB_ALG; b <= EW_E3DC_WB_SCHUKO_ON; b++)
                set(out, b);
        } else if (c.tag == T(WB_EXTERN_DATA_SUN)) {
            out->sun_power_w = le16s(x);
            out->sun_energy_wh = le32s(x + 2);
            set(out, EW_E3DC_WB_SUN);
        } else {
            out->net_power_w = le16s(x);
            out->net_energy_wh = le32s(x + 2);
            set(out, EW_E3DC_WB_NET);
        }
    }
    if (EW_E3DC_HAS(out, EW_E3DC_WB_SUN) && EW_E3DC_HAS(out, EW_E3DC_WB_NET)) {
        out->total_energy_wh = out->sun_energy_wh + out->net_energy_wh;
        set(out, EW_E3DC_WB_ENERGY_TOTAL);
    }
    return EW_OK;
}

int ew_e3dc_req_wallbox_set(ew_rscp_builder *b, unsigned index, ew_e3dc_wb_cmd cmd,
                            unsigned value) {
    uint8_t data[6] = {0, 0, 0, 0, 0, 0};
    uint32_t req = T(WB_REQ_SET_EXTERN);
    if (index > UINT8_MAX)
        return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
    /* One byte set, the others 0, as pye3dc's sendWallboxRequest. */
    switch (cmd) {
    case EW_E3DC_WB_SET_SUN_MODE:
        data[0] = value ? 1 : 2;
        break;
    case EW_E3DC_WB_SET_SCHUKO:
        data[5] = value ? 1 : 0;
        break;
    case EW_E3DC_WB_SET_MAX_CURRENT:
        if (value < 1 || value > UINT8_MAX)
            return ew_e3dc_builder_fail(b, EW_ERR_RANGE);
        data[2] = (uint8_t)value;
        req = T(WB_REQ_SET_PARAM_1);
        break;
    case EW_E3DC_WB_TOGGLE_CHARGING:
        data[4] = 1;
        break;
    case EW_E3DC_WB_TOGGLE_PHASES:
        data[3] = 1;
        break;
    default:
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    }
    ew_rscp_builder_open(b, T(WB_REQ_DATA));
    ew_rscp_builder_add_uchar8(b, T(WB_INDEX), (uint8_t)index);
    ew_rscp_builder_open(b, req);
    ew_rscp_builder_add_bytes(b, T(WB_EXTERN_DATA), data, sizeof data);
    ew_rscp_builder_add_uchar8(b, T(WB_EXTERN_DATA_LEN), (uint8_t)sizeof data);
    ew_rscp_builder_close(b);
    return ew_rscp_builder_close(b);
}

int ew_e3dc_parse_wallbox_set(const uint8_t *area, size_t len, ew_e3dc_result *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    ew_rscp_iter root, it, ci;
    ew_rscp_value v, c;
    int seen_error = 0;
    ew_rscp_iter_init(&root, area, len, 0);
    it = root;
    while (ew_rscp_iter_next(&it, &v, NULL) > 0) {
        if (v.tag != T(WB_DATA))
            continue;
        if (v.type == EW_RSCP_TYPE_ERROR) {
            if (!seen_error && (rc = ew_e3dc_note_error(&out->error, &v, 1, d)) < 0)
                return rc;
            seen_error = 1;
            out->tag = v.tag;
            continue;
        }
        if (ew_rscp_iter_enter(&root, &v, &ci, NULL) < 0)
            continue;
        while (ew_rscp_iter_next(&ci, &c, d) > 0) {
            if (c.tag != T(WB_SET_EXTERN) && c.tag != T(WB_SET_PARAM_1) &&
                c.tag != T(WB_SET_PARAM_2))
                continue;
            /* pye3dc: success when the response tag is there and not an
             * Error; its value is not interpreted (rscp.md §9.9). */
            memset(out, 0, sizeof *out);
            out->tag = c.tag;
            if (c.type == EW_RSCP_TYPE_ERROR)
                return ew_e3dc_note_error(&out->error, &c, 0, d);
            out->ok = 1;
            if (ew_e3dc_get_int(&c, &out->value) == EW_OK)
                out->has_value = 1;
            return EW_OK;
        }
    }
    if (seen_error)
        return EW_OK;
    return ew_e3dc_fail(d, EW_ERR_PROTO, 0, "missing WB_SET_EXTERN");
}
