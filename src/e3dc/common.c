/*
 * Shared machinery of the E3/DC layer: answer lookup, device errors, typed
 * storing driven by field tables, models.
 */
#include "e3dc/e3dc_int.h"

#include <math.h>
#include <stdio.h>

int ew_e3dc_begin(const uint8_t *area, size_t len, void *out, size_t size, ew_diag *d) {
    if (!out || (!area && len))
        return ew_e3dc_fail(d, EW_ERR_INVAL, 0, "NULL argument");
    memset(out, 0, size);
    /* One validating pass up front: afterwards every walk over the area can
     * treat iterator errors as impossible. */
    int rc = ew_rscp_validate(area, len, 0, d);
    return rc < 0 ? rc : EW_OK;
}

int ew_e3dc_find(const uint8_t *area, size_t len, uint32_t tag, ew_rscp_iter *root,
                 ew_rscp_value *v) {
    ew_rscp_iter_init(root, area, len, 0);
    ew_rscp_iter it = *root;
    while (ew_rscp_iter_next(&it, v, NULL) > 0)
        if (v->tag == tag)
            return 1;
    return 0;
}

unsigned ew_e3dc_count(const uint8_t *area, size_t len, uint32_t tag) {
    ew_rscp_iter it;
    ew_rscp_value v;
    unsigned n = 0;
    ew_rscp_iter_init(&it, area, len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) > 0)
        n += v.tag == tag;
    return n;
}

int ew_e3dc_child(const ew_rscp_iter *parent, const ew_rscp_value *v, uint32_t tag,
                  ew_rscp_iter *child, ew_rscp_value *out) {
    if (ew_rscp_iter_enter(parent, v, child, NULL) < 0)
        return 0;
    ew_rscp_iter it = *child;
    while (ew_rscp_iter_next(&it, out, NULL) > 0)
        if (out->tag == tag)
            return 1;
    return 0;
}

int ew_e3dc_find_indexed(const uint8_t *area, size_t len, uint32_t tag, uint32_t index_tag,
                         unsigned index, ew_rscp_iter *root, ew_rscp_value *v, const char *miss,
                         ew_diag *d) {
    /* Several answers of one kind may share a frame (one per index); each
     * container names its index.  An Error answer carries no index, so it
     * can only be attributed when it is the only answer of its kind (a
     * missing battery is a top-level BAT_DATA Error 6, rscp.md §6, §11.7). */
    ew_rscp_iter it, ci;
    ew_rscp_value cand, only, iv;
    unsigned n = 0;
    int only_has_index = 0;
    ew_rscp_iter_init(root, area, len, 0);
    it = *root;
    while (ew_rscp_iter_next(&it, &cand, NULL) > 0) {
        if (cand.tag != tag)
            continue;
        n++;
        only = cand;
        only_has_index = 0;
        if (cand.type != EW_RSCP_TYPE_CONTAINER)
            continue;
        if (ew_e3dc_child(root, &cand, index_tag, &ci, &iv)) {
            int64_t x;
            only_has_index = 1;
            if (ew_e3dc_get_int(&iv, &x) == EW_OK && x == (int64_t)index) {
                *v = cand;
                return EW_OK;
            }
        }
    }
    if (n == 1 && !only_has_index) {
        *v = only;
        return EW_OK;
    }
    return ew_e3dc_fail(d, EW_ERR_PROTO, n ? only.offset : 0, miss);
}

int ew_e3dc_note_error(ew_e3dc_error *e, const ew_rscp_value *v, int whole, ew_diag *d) {
    uint32_t code;
    if (ew_rscp_value_get_error(v, &code) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, "malformed Error value");
    if (e->count++ == 0) {
        e->code = code;
        e->tag = v->tag;
        e->whole = whole;
    }
    return EW_OK;
}

int ew_e3dc_get_int(const ew_rscp_value *v, int64_t *out) {
    if (ew_rscp_value_get_i64(v, out) == EW_OK)
        return EW_OK;
    /* Some peers document integers that devices send as floats (and vice
     * versa, rscp.md §9 "disputed"); an integral float is accepted. */
    double x;
    if (ew_rscp_value_get_double(v, &x) == EW_OK && isfinite(x) && x >= -9.2e18 && x <= 9.2e18) {
        /* Rounded by hand: the codec library does not link libm. */
        *out = x >= 0 ? (int64_t)(x + 0.5) : -(int64_t)(-x + 0.5);
        return EW_OK;
    }
    return EW_ERR_INVAL;
}

void ew_e3dc_copy_str(char *dst, size_t cap, const uint8_t *src, size_t n) {
    if (n >= cap) {
        n = cap - 1;
        /* Do not leave half a UTF-8 sequence at the end. */
        size_t k = n;
        while (k > 0 && (src[k] & 0xC0) == 0x80)
            k--;
        if (k < n && (src[k] & 0x80)) {
            unsigned lead = src[k];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
            if (k + need > n)
                n = k;
        }
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Stores a number as text (for string fields that some systems send as
 * numbers, e.g. BAT_DCB_SERIALNO UInt32). */
static int store_number_text(char *dst, size_t cap, const ew_rscp_value *v) {
    int64_t i;
    double x;
    char tmp[40];
    if (ew_rscp_value_get_i64(v, &i) == EW_OK)
        snprintf(tmp, sizeof tmp, "%lld", (long long)i);
    else if (ew_rscp_value_get_double(v, &x) == EW_OK)
        snprintf(tmp, sizeof tmp, "%.9g", x);
    else
        return EW_ERR_INVAL;
    ew_e3dc_copy_str(dst, cap, (const uint8_t *)tmp, strlen(tmp));
    return EW_OK;
}

int ew_e3dc_store(const ew_e3dc_field *f, const ew_rscp_iter *it, const ew_rscp_value *v, void *obj,
                  ew_diag *d) {
    char *p = (char *)obj + f->off;
    ew_rscp_value val = *v;

    if (f->flags & EW_E3DC_F_VAL && v->type == EW_RSCP_TYPE_CONTAINER) {
        /* Per-item PVI answers are {PVI_INDEX, PVI_VALUE} (rscp.md §9.4). */
        ew_rscp_iter ci;
        if (!ew_e3dc_child(it, v, EW_RSCP_TAG_PVI_VALUE, &ci, &val))
            return 0;
    }
    /* A None answer carries no value: go-rscp lists EMS_POWER_WB_ALL as None
     * (rscp.md §9.1).  Treat it as absent rather than malformed. */
    if (val.type == EW_RSCP_TYPE_NONE)
        return 0;

    switch (f->kind) {
    case EW_E3DC_K_I64: {
        int64_t x;
        if (ew_e3dc_get_int(&val, &x) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
        if (f->flags & EW_E3DC_F_NEG)
            x = x == INT64_MIN ? INT64_MAX : -x;
        memcpy(p, &x, sizeof x);
        return 1;
    }
    case EW_E3DC_K_F64: {
        double x;
        if (ew_rscp_value_get_double(&val, &x) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
        if (f->flags & EW_E3DC_F_X100) {
            x *= 100.0;
            /* Keep the precision the value came with: 0.7f x 100 is 70, not
             * 69.9999988. */
            if (val.type == EW_RSCP_TYPE_FLOAT32)
                x = (double)(float)x;
        }
        if (f->flags & EW_E3DC_F_NEG)
            x = -x;
        memcpy(p, &x, sizeof x);
        return 1;
    }
    case EW_E3DC_K_BOOL: {
        int x;
        if (ew_rscp_value_get_bool(&val, &x) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
        memcpy(p, &x, sizeof x);
        return 1;
    }
    case EW_E3DC_K_STR:
        if (val.type == EW_RSCP_TYPE_CSTRING) {
            ew_e3dc_copy_str(p, f->size, val.data, val.len);
            return 1;
        }
        if (store_number_text(p, f->size, &val) < 0)
            return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
        return 1;
    case EW_E3DC_K_TS: {
        ew_rscp_timestamp ts = {0, 0};
        int64_t s;
        if (ew_rscp_value_get_timestamp(&val, &ts) < 0) {
            /* Seconds as an integer (the UInt64 form of the DB parameters). */
            if (ew_rscp_value_get_i64(&val, &s) < 0)
                return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
            ts.seconds = s;
        }
        memcpy(p, &ts, sizeof ts);
        return 1;
    }
    default:
        return ew_e3dc_fail(d, EW_ERR_PROTO, val.offset, f->bad);
    }
}

static int group(const ew_e3dc_field *t, size_t n, size_t gi, const ew_rscp_iter *it,
                 const ew_rscp_value *v, void *obj, uint64_t *present, ew_e3dc_error *err,
                 ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (ew_rscp_iter_enter(it, v, &ci, d) < 0)
        return ew_e3dc_fail(d, EW_ERR_PROTO, v->offset, t[gi].bad);
    *present |= 1ull << gi;
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (t[i].parent != t[gi].tag || t[i].tag != c.tag)
                continue;
            int rc;
            if (c.type == EW_RSCP_TYPE_ERROR) {
                rc = ew_e3dc_note_error(err, &c, 0, d);
            } else {
                rc = ew_e3dc_store(&t[i], &ci, &c, obj, d);
                if (rc > 0)
                    *present |= 1ull << i;
            }
            if (rc < 0)
                return rc;
            break;
        }
    }
    return 1;
}

int ew_e3dc_fields_value(const ew_e3dc_field *t, size_t n, const ew_rscp_iter *it,
                         const ew_rscp_value *v, void *obj, uint64_t *present, ew_e3dc_error *err,
                         ew_diag *d) {
    for (size_t i = 0; i < n; i++) {
        if (t[i].parent || t[i].tag != v->tag || !t[i].tag)
            continue;
        if (v->type == EW_RSCP_TYPE_ERROR) {
            int rc = ew_e3dc_note_error(err, v, 0, d);
            return rc < 0 ? rc : 1;
        }
        if (t[i].kind == EW_E3DC_K_GROUP)
            return group(t, n, i, it, v, obj, present, err, d);
        int rc = ew_e3dc_store(&t[i], it, v, obj, d);
        if (rc < 0)
            return rc;
        if (rc > 0)
            *present |= 1ull << i;
        return 1;
    }
    return 0;
}

int ew_e3dc_fields_container(const ew_e3dc_field *t, size_t n, const ew_rscp_iter *it,
                             const ew_rscp_value *v, void *obj, uint64_t *present,
                             ew_e3dc_error *err, ew_diag *d) {
    ew_rscp_iter ci;
    ew_rscp_value c;
    int rc = ew_rscp_iter_enter(it, v, &ci, d);
    if (rc < 0)
        return rc;
    while (ew_rscp_iter_next(&ci, &c, d) > 0) {
        rc = ew_e3dc_fields_value(t, n, &ci, &c, obj, present, err, d);
        if (rc < 0)
            return rc;
    }
    return EW_OK;
}

int ew_e3dc_fields_top(const ew_e3dc_field *t, size_t n, const uint8_t *area, size_t len, void *obj,
                       uint64_t *present, ew_e3dc_error *err, ew_diag *d) {
    for (size_t i = 0; i < n; i++) {
        if (t[i].parent || !t[i].tag)
            continue;
        ew_rscp_iter root;
        ew_rscp_value v;
        if (!ew_e3dc_find(area, len, t[i].tag, &root, &v)) {
            if (t[i].flags & EW_E3DC_F_OPT)
                continue;
            return ew_e3dc_fail(d, EW_ERR_PROTO, 0, t[i].miss);
        }
        if (v.type == EW_RSCP_TYPE_ERROR) {
            /* The device refused this request; the other answers count. */
            int rc = ew_e3dc_note_error(err, &v, 0, d);
            if (rc < 0)
                return rc;
            continue;
        }
        int rc = ew_e3dc_fields_value(t, n, &root, &v, obj, present, err, d);
        if (rc < 0)
            return rc;
    }
    return EW_OK;
}

int ew_e3dc_builder_fail(ew_rscp_builder *b, int rc) {
    if (!b->err)
        b->err = rc;
    return b->err;
}

int ew_e3dc_req_fields(ew_rscp_builder *b, const ew_e3dc_field *t, size_t n, uint64_t mask) {
    for (size_t i = 0; i < n; i++)
        if (t[i].req && (mask >> i & 1))
            ew_rscp_builder_add_none(b, t[i].req);
    return b->err;
}

void *ew_e3dc_slot(void *arr, size_t stride, unsigned max, unsigned *n, unsigned *total,
                   int64_t index) {
    char *base = arr;
    for (unsigned i = 0; i < *n; i++) {
        int64_t x;
        memcpy(&x, base + i * stride, sizeof x);
        if (x == index)
            return base + i * stride;
    }
    (*total)++;
    if (*n >= max)
        return NULL;
    char *p = base + (size_t)(*n)++ * stride;
    memset(p, 0, stride);
    memcpy(p, &index, sizeof index);
    return p;
}

/* ---- models (rscp.md §9.2) ---------------------------------------------- */

static int starts(const char *s, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

ew_e3dc_model ew_e3dc_model_from_serial(const char *serial, size_t len, size_t *number_off) {
    size_t off = 0;
    if (number_off)
        *number_off = 0;
    if (!serial || len == 0)
        return EW_E3DC_MODEL_NA;
    /* pye3dc _set_serial: a leading non-digit means a 4-character prefix. */
    if (!(serial[0] >= '0' && serial[0] <= '9'))
        off = len < 4 ? len : 4;
    if (number_off)
        *number_off = off;
    const char *s = serial + off;
    size_t n = len - off;
    /* Same order of tests as pye3dc, so overlapping prefixes resolve alike. */
    if (starts(s, n, "4") || starts(s, n, "72"))
        return EW_E3DC_MODEL_S10E;
    if (starts(s, n, "74"))
        return EW_E3DC_MODEL_S10E_COMPACT;
    if (starts(s, n, "5"))
        return EW_E3DC_MODEL_S10_MINI;
    if (starts(s, n, "6"))
        return EW_E3DC_MODEL_QUATTROPORTE;
    if (starts(s, n, "70"))
        return EW_E3DC_MODEL_S10E_PRO;
    if (starts(s, n, "75"))
        return EW_E3DC_MODEL_S10E_PRO_COMPACT;
    if (starts(s, n, "8"))
        return EW_E3DC_MODEL_S10X;
    return EW_E3DC_MODEL_NA;
}

const char *ew_e3dc_model_name(ew_e3dc_model m) {
    switch (m) {
    case EW_E3DC_MODEL_S10E:
        return "S10E";
    case EW_E3DC_MODEL_S10E_COMPACT:
        return "S10E_Compact";
    case EW_E3DC_MODEL_S10_MINI:
        return "S10_Mini";
    case EW_E3DC_MODEL_QUATTROPORTE:
        return "Quattroporte";
    case EW_E3DC_MODEL_S10E_PRO:
        return "S10E_Pro";
    case EW_E3DC_MODEL_S10E_PRO_COMPACT:
        return "S10E_Pro_Compact";
    case EW_E3DC_MODEL_S10X:
        return "S10X";
    default:
        return "NA";
    }
}

unsigned ew_e3dc_root_pm_index(ew_e3dc_model m, int override) {
    if (override >= 0)
        return (unsigned) override;
    /* pye3dc's defaults; unverified on devices (rscp.md §9.2, §9.5). */
    return m == EW_E3DC_MODEL_S10_MINI || m == EW_E3DC_MODEL_QUATTROPORTE ? 6u : 0u;
}

const char *ew_e3dc_pvi_type_name(int64_t type) {
    static const char *const names[] = {NULL, "SOLU", "KACO", "E3DC_E", "E3DC_MINI"};
    return type >= 1 && type <= 4 ? names[type] : NULL;
}

const char *ew_e3dc_pm_type_name(int64_t type) {
    static const char *const names[] = {"UNDEFINED",
                                        "ROOT",
                                        "ADDITIONAL",
                                        "ADDITIONAL_PRODUCTION",
                                        "ADDITIONAL_CONSUMPTION",
                                        "FARM",
                                        "UNUSED",
                                        "WALLBOX",
                                        "FARM_ADDITIONAL",
                                        "DATA_DISPLAY",
                                        "REGULATION_BYPASS",
                                        "ADDITIONAL_PRODUCTION_NO_STORAGE"};
    return type >= 0 && type < (int64_t)EW_E3DC_COUNT(names) ? names[type] : NULL;
}

const char *ew_e3dc_power_mode_name(int mode) {
    static const char *const names[] = {"auto", "idle", "discharge", "charge", "grid_charge"};
    return mode >= 0 && mode < (int)EW_E3DC_COUNT(names) ? names[mode] : NULL;
}
