/*
 * Topology discovery: which batteries, inverters, meters and wallboxes a
 * system has (pye3dc's get_batteries / get_pvis / get_powermeters, batched
 * into one frame; rscp.md §9.3-§9.5, §9.9, §11.7).
 */
#include "e3dc/e3dc_int.h"

#define T(x) EW_RSCP_TAG_##x
#define PROBES 8

int ew_e3dc_req_topology(ew_rscp_builder *b, unsigned parts) {
    if (!parts || (parts & ~(unsigned)EW_E3DC_TOPO_ALL))
        return ew_e3dc_builder_fail(b, EW_ERR_INVAL);
    if (parts & EW_E3DC_TOPO_BATTERIES) {
        for (unsigned i = 0; i < PROBES; i++) {
            ew_rscp_builder_open(b, T(BAT_REQ_DATA));
            ew_rscp_builder_add_uint16(b, T(BAT_INDEX), (uint16_t)i);
            ew_rscp_builder_add_none(b, T(BAT_REQ_DCB_COUNT));
            ew_rscp_builder_close(b);
        }
    }
    if (parts & EW_E3DC_TOPO_PVIS) {
        for (unsigned i = 0; i < PROBES; i++) {
            ew_rscp_builder_open(b, T(PVI_REQ_DATA));
            ew_rscp_builder_add_uint16(b, T(PVI_INDEX), (uint16_t)i);
            ew_rscp_builder_add_none(b, T(PVI_REQ_TYPE));
            ew_rscp_builder_add_none(b, T(PVI_REQ_USED_STRING_COUNT));
            ew_rscp_builder_add_none(b, T(PVI_REQ_AC_MAX_PHASE_COUNT));
            ew_rscp_builder_close(b);
        }
    }
    if (parts & EW_E3DC_TOPO_PMS) {
        for (unsigned i = 0; i < PROBES; i++) {
            ew_rscp_builder_open(b, T(PM_REQ_DATA));
            ew_rscp_builder_add_uint16(b, T(PM_INDEX), (uint16_t)i);
            ew_rscp_builder_add_none(b, T(PM_REQ_TYPE));
            ew_rscp_builder_close(b);
        }
    }
    if (parts & EW_E3DC_TOPO_WALLBOXES) {
        for (unsigned i = 0; i < PROBES; i++) {
            ew_rscp_builder_open(b, T(WB_REQ_DATA));
            ew_rscp_builder_add_uchar8(b, T(WB_INDEX), (uint8_t)i);
            ew_rscp_builder_add_none(b, T(WB_REQ_EXTERN_DATA_ALG));
            ew_rscp_builder_close(b);
        }
    }
    return b->err;
}

/* Device index of the |pos|-th answer: its index child if any, else the
 * position (answers come in request order, rscp.md §2.5, §11.4). */
static unsigned index_of(const ew_rscp_iter *root, const ew_rscp_value *v, uint32_t index_tag,
                         unsigned pos) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int64_t x;
    if (v->type == EW_RSCP_TYPE_CONTAINER && ew_e3dc_child(root, v, index_tag, &ci, &c) &&
        ew_e3dc_get_int(&c, &x) == EW_OK && x >= 0 && x <= UINT16_MAX)
        return (unsigned)x;
    return pos;
}

/* The numeric value of child |tag|: 1 found, 0 absent or an Error. */
static int child_int(const ew_rscp_iter *root, const ew_rscp_value *v, uint32_t tag, int64_t *out) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (v->type != EW_RSCP_TYPE_CONTAINER || !ew_e3dc_child(root, v, tag, &ci, &c))
        return 0;
    return ew_e3dc_get_int(&c, out) == EW_OK;
}

int ew_e3dc_parse_topology(const uint8_t *area, size_t len, ew_e3dc_topology *out, ew_diag *d) {
    int rc = ew_e3dc_begin(area, len, out, sizeof *out, d);
    if (rc < 0)
        return rc;
    out->root_pm_index = -1;
    unsigned nbat = 0, npvi = 0, npm = 0, nwb = 0;
    ew_rscp_iter root, it, ci;
    ew_rscp_value v, c;
    ew_rscp_iter_init(&root, area, len, 0);
    it = root;
    while (ew_rscp_iter_next(&it, &v, NULL) > 0) {
        int64_t x;
        if (v.tag == T(BAT_DATA)) {
            /* No battery: top-level BAT_DATA Error 6 (rscp.md §11.7). */
            unsigned idx = index_of(&root, &v, T(BAT_INDEX), nbat++);
            out->probed |= EW_E3DC_TOPO_BATTERIES;
            if (!child_int(&root, &v, T(BAT_DCB_COUNT), &x) ||
                out->nbatteries >= EW_E3DC_MAX_BATTERIES)
                continue;
            out->batteries[out->nbatteries].index = idx;
            out->batteries[out->nbatteries++].dcb_count = x;
        } else if (v.tag == T(PVI_DATA)) {
            /* No inverter: no PVI_TYPE in the answer (rscp.md §11.7). */
            unsigned idx = index_of(&root, &v, T(PVI_INDEX), npvi++);
            out->probed |= EW_E3DC_TOPO_PVIS;
            if (!child_int(&root, &v, T(PVI_TYPE), &x) || out->npvis >= EW_E3DC_MAX_PVIS)
                continue;
            unsigned k = out->npvis++;
            out->pvis[k].index = idx;
            out->pvis[k].type = x;
            out->pvis[k].trackers = -1;
            out->pvis[k].phases = -1;
            if (child_int(&root, &v, T(PVI_USED_STRING_COUNT), &x) && x >= 0) {
                out->pvis[k].trackers = x;
                out->ntrackers += (unsigned)(x > 255 ? 255 : x);
            }
            if (child_int(&root, &v, T(PVI_AC_MAX_PHASE_COUNT), &x))
                out->pvis[k].phases = x;
        } else if (v.tag == T(PM_DATA)) {
            /* No meter: no PM_TYPE in the answer (rscp.md §11.7). */
            unsigned idx = index_of(&root, &v, T(PM_INDEX), npm++);
            out->probed |= EW_E3DC_TOPO_PMS;
            if (!child_int(&root, &v, T(PM_TYPE), &x) || out->npms >= EW_E3DC_MAX_PMS)
                continue;
            out->pms[out->npms].index = idx;
            out->pms[out->npms++].type = x;
            if (x == EW_E3DC_PM_TYPE_ROOT && out->root_pm_index < 0)
                out->root_pm_index = (int)idx;
        } else if (v.tag == T(WB_DATA)) {
            /* Our rule (undocumented device behaviour): a wallbox exists
             * when it answers WB_EXTERN_DATA_ALG with a container. */
            unsigned idx = index_of(&root, &v, T(WB_INDEX), nwb++);
            out->probed |= EW_E3DC_TOPO_WALLBOXES;
            if (v.type != EW_RSCP_TYPE_CONTAINER ||
                !ew_e3dc_child(&root, &v, T(WB_EXTERN_DATA_ALG), &ci, &c) ||
                c.type != EW_RSCP_TYPE_CONTAINER || out->nwallboxes >= EW_E3DC_MAX_WALLBOXES)
                continue;
            out->wallboxes[out->nwallboxes++] = idx;
        }
    }
    if (!out->probed)
        return ew_e3dc_fail(d, EW_ERR_PROTO, 0, "missing BAT_DATA, PVI_DATA, PM_DATA and WB_DATA");
    return EW_OK;
}
