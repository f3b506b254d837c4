/*
 * RCT values: data types, decoding, encoding, the timeseries and event table
 * iterators and the battery-module composite types (rct.md §7-§9).
 */
#include <math.h>
#include <string.h>

#include "rct/rct_int.h"

static const struct {
    int type;
    const char *name;
    int size;
} types[] = {
    {EW_RCT_TYPE_UNKNOWN, "UNKNOWN", -1},
    {EW_RCT_TYPE_BOOL, "BOOL", 1},
    {EW_RCT_TYPE_UINT8, "UINT8", 1},
    {EW_RCT_TYPE_INT8, "INT8", 1},
    {EW_RCT_TYPE_UINT16, "UINT16", 2},
    {EW_RCT_TYPE_INT16, "INT16", 2},
    {EW_RCT_TYPE_UINT32, "UINT32", 4},
    {EW_RCT_TYPE_INT32, "INT32", 4},
    /* One byte, as rctclient's code and the vectors have it; its comment
     * claims 16 bits (rct.md §7 notes, §18 Q9). */
    {EW_RCT_TYPE_ENUM, "ENUM", 1},
    {EW_RCT_TYPE_FLOAT, "FLOAT", 4},
    {EW_RCT_TYPE_STRING, "STRING", -1},
    {EW_RCT_TYPE_TIMESERIES, "TIMESERIES", -1},
    {EW_RCT_TYPE_EVENT_TABLE, "EVENT_TABLE", -1},
    {EW_RCT_TYPE_BATTERY_MODULE_STATUS, "BATTERY_MODULE_STATUS", EW_RCT_BAT_STATUS_SIZE},
    {EW_RCT_TYPE_BATTERY_MODULE_STATISTICS, "BATTERY_MODULE_STATISTICS", EW_RCT_BAT_STATS_SIZE},
    {EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE, "BATTERY_MODULE_RESISTANCE", EW_RCT_BAT_RESIST_SIZE},
};
#define NTYPES (sizeof types / sizeof types[0])

const char *ew_rct_type_name(int type) {
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].type == type)
            return types[i].name;
    return NULL;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int ew_rct_type_from_name(const char *name, size_t len) {
    if (!name)
        return EW_ERR_NOT_FOUND;
    for (size_t i = 0; i < NTYPES; i++) {
        const char *t = types[i].name;
        size_t k = 0;
        while (k < len && t[k] && lower((unsigned char)name[k]) == lower((unsigned char)t[k]))
            k++;
        if (k == len && !t[k])
            return types[i].type;
    }
    return EW_ERR_NOT_FOUND;
}

int ew_rct_type_fixed_size(int type) {
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].type == type)
            return types[i].size;
    return -1;
}

/* Exact-size check for the fixed-size types (rct.md §7 notes, §15). */
static int check_size(size_t len, size_t want, ew_diag *d) {
    if (len < want)
        return ew_rct_fail(d, EW_ERR_TRUNCATED, len, "payload is shorter than its type");
    if (len > want)
        return ew_rct_fail(d, EW_ERR_TOO_BIG, want, "payload is longer than its type");
    return EW_OK;
}

/* Composite lengths: a 4-byte T, then whole records of |rec| bytes. */
static int check_records(size_t len, size_t rec, size_t *count, ew_diag *d) {
    if (len < 4)
        return ew_rct_fail(d, EW_ERR_TRUNCATED, len, "payload is shorter than the query time");
    size_t n = (len - 4) / rec;
    if ((len - 4) % rec)
        return ew_rct_fail(d, EW_ERR_TRUNCATED, 4 + n * rec,
                           rec == EW_RCT_TS_POINT_SIZE ? "timeseries ends inside a point"
                                                       : "event table ends inside an entry");
    *count = n;
    return EW_OK;
}

static float f32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_from_f32(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

int ew_rct_value_decode(int type, const uint8_t *p, size_t len, ew_rct_value *v, ew_diag *d) {
    if (!v || (!p && len))
        return EW_ERR_INVAL;
    memset(v, 0, sizeof *v);
    if (!ew_rct_type_name(type))
        type = EW_RCT_TYPE_UNKNOWN; /* unknown types are raw bytes, never errors */
    v->type = type;
    v->raw.ptr = p;
    v->raw.len = len;
    int fs = ew_rct_type_fixed_size(type);
    if (fs > 0) {
        int rc = check_size(len, (size_t)fs, d);
        if (rc)
            return rc;
    }
    switch (type) {
    case EW_RCT_TYPE_BOOL:
        v->i = p[0] != 0;
        break;
    case EW_RCT_TYPE_UINT8:
    case EW_RCT_TYPE_ENUM:
        v->i = p[0];
        break;
    case EW_RCT_TYPE_INT8:
        v->i = (int8_t)p[0];
        break;
    case EW_RCT_TYPE_UINT16:
        v->i = (uint16_t)(p[0] << 8 | p[1]);
        break;
    case EW_RCT_TYPE_INT16:
        v->i = (int16_t)(uint16_t)(p[0] << 8 | p[1]);
        break;
    case EW_RCT_TYPE_UINT32:
        v->i = ew_rct_be32(p);
        break;
    case EW_RCT_TYPE_INT32:
        v->i = (int32_t)ew_rct_be32(p);
        break;
    case EW_RCT_TYPE_FLOAT:
        v->bits = ew_rct_be32(p);
        v->f = (double)f32_from_bits(v->bits);
        break;
    case EW_RCT_TYPE_STRING: {
        /* Cut at the first NUL: devices leave junk after it (rct.md §15). */
        const uint8_t *z = len ? memchr(p, 0, len) : NULL;
        v->bytes.ptr = p;
        v->bytes.len = z ? (size_t)(z - p) : len;
        break;
    }
    case EW_RCT_TYPE_TIMESERIES:
    case EW_RCT_TYPE_EVENT_TABLE: {
        int rc = check_records(
            len, type == EW_RCT_TYPE_TIMESERIES ? EW_RCT_TS_POINT_SIZE : EW_RCT_EVENT_SIZE,
            &v->count, d);
        if (rc)
            return rc;
        v->ts = ew_rct_be32(p);
        break;
    }
    default: /* battery types (size checked above) and UNKNOWN: raw */
        v->bytes = v->raw;
        break;
    }
    return EW_OK;
}

static int put(uint8_t *out, size_t cap, size_t *written, const uint8_t *src, size_t n) {
    *written = n;
    if (cap < n)
        return EW_ERR_NOBUF;
    if (n)
        memcpy(out, src, n);
    return EW_OK;
}

int ew_rct_value_encode_int(int type, int64_t v, uint8_t *out, size_t cap, size_t *written) {
    if (!written || (!out && cap))
        return EW_ERR_INVAL;
    *written = 0;
    uint8_t b[4];
    int64_t lo, hi;
    size_t n;
    switch (type) {
    case EW_RCT_TYPE_BOOL:
        b[0] = v != 0;
        return put(out, cap, written, b, 1);
    case EW_RCT_TYPE_FLOAT:
        return ew_rct_value_encode_double(type, (double)v, out, cap, written);
    /* Unsigned types: the full unsigned range (rct.md §11 Q8) plus the
     * negative numbers rctclient wraps into two's complement (§7). */
    case EW_RCT_TYPE_UINT8:
    case EW_RCT_TYPE_ENUM:
        lo = INT8_MIN, hi = UINT8_MAX, n = 1;
        break;
    case EW_RCT_TYPE_INT8:
        lo = INT8_MIN, hi = INT8_MAX, n = 1;
        break;
    case EW_RCT_TYPE_UINT16:
        lo = INT16_MIN, hi = UINT16_MAX, n = 2;
        break;
    case EW_RCT_TYPE_INT16:
        lo = INT16_MIN, hi = INT16_MAX, n = 2;
        break;
    case EW_RCT_TYPE_UINT32:
        lo = INT32_MIN, hi = UINT32_MAX, n = 4;
        break;
    case EW_RCT_TYPE_INT32:
        lo = INT32_MIN, hi = INT32_MAX, n = 4;
        break;
    default:
        return EW_ERR_INVAL;
    }
    if (v < lo || v > hi)
        return EW_ERR_RANGE;
    uint32_t u = (uint32_t)(uint64_t)v;
    for (size_t k = 0; k < n; k++)
        b[k] = (uint8_t)(u >> (8 * (n - 1 - k)));
    return put(out, cap, written, b, n);
}

int ew_rct_value_encode_double(int type, double v, uint8_t *out, size_t cap, size_t *written) {
    if (!written || (!out && cap))
        return EW_ERR_INVAL;
    *written = 0;
    if (type != EW_RCT_TYPE_FLOAT) {
        int numeric = type >= EW_RCT_TYPE_BOOL && type <= EW_RCT_TYPE_ENUM;
        if (!numeric)
            return EW_ERR_INVAL;
        /* Integral and inside the widest integer range (NaN fails both). */
        if (!(v >= -2147483648.0 && v <= 4294967295.0) || (double)(int64_t)v != v)
            return EW_ERR_RANGE;
        return ew_rct_value_encode_int(type, (int64_t)v, out, cap, written);
    }
    uint32_t bits;
    if (isnan(v))
        bits = 0x7FC00000u; /* rctclient (struct.pack) gives the quiet NaN */
    else {
        float f = (float)v;
        if (isinf(f) && !isinf(v))
            return EW_ERR_RANGE; /* rctclient: OverflowError */
        bits = bits_from_f32(f);
    }
    uint8_t b[4] = {(uint8_t)(bits >> 24), (uint8_t)(bits >> 16), (uint8_t)(bits >> 8),
                    (uint8_t)bits};
    return put(out, cap, written, b, 4);
}

int ew_rct_value_encode_string(const void *s, size_t len, uint8_t *out, size_t cap,
                               size_t *written) {
    if (!written || (!out && cap) || (!s && len))
        return EW_ERR_INVAL;
    return put(out, cap, written, (const uint8_t *)s, len);
}

int ew_rct_value_encode(const ew_rct_value *v, uint8_t *out, size_t cap, size_t *written) {
    if (!v || !written || (!out && cap))
        return EW_ERR_INVAL;
    *written = 0;
    switch (v->type) {
    case EW_RCT_TYPE_BOOL:
    case EW_RCT_TYPE_UINT8:
    case EW_RCT_TYPE_INT8:
    case EW_RCT_TYPE_UINT16:
    case EW_RCT_TYPE_INT16:
    case EW_RCT_TYPE_UINT32:
    case EW_RCT_TYPE_INT32:
    case EW_RCT_TYPE_ENUM:
        return ew_rct_value_encode_int(v->type, v->i, out, cap, written);
    case EW_RCT_TYPE_FLOAT: {
        /* From the bits, so NaN payloads and -0.0 survive the round trip. */
        uint8_t b[4] = {(uint8_t)(v->bits >> 24), (uint8_t)(v->bits >> 16), (uint8_t)(v->bits >> 8),
                        (uint8_t)v->bits};
        return put(out, cap, written, b, 4);
    }
    case EW_RCT_TYPE_STRING:
        return ew_rct_value_encode_string(v->bytes.ptr, v->bytes.len, out, cap, written);
    default:
        return put(out, cap, written, v->raw.ptr, v->raw.len);
    }
}

/* ---- timeseries and event table ---------------------------------------- */

int ew_rct_ts_init(ew_rct_ts_iter *it, const uint8_t *p, size_t len, ew_diag *d) {
    if (!it || (!p && len))
        return EW_ERR_INVAL;
    memset(it, 0, sizeof *it);
    int rc = check_records(len, EW_RCT_TS_POINT_SIZE, &it->count, d);
    if (rc)
        return rc;
    it->query_ts = ew_rct_be32(p);
    it->p = p + 4;
    it->end = p + len;
    return EW_OK;
}

int ew_rct_ts_next(ew_rct_ts_iter *it, ew_rct_ts_point *pt) {
    if (!it->p || it->end - it->p < EW_RCT_TS_POINT_SIZE)
        return 0;
    pt->timestamp = ew_rct_be32(it->p);
    pt->value = f32_from_bits(ew_rct_be32(it->p + 4));
    it->p += EW_RCT_TS_POINT_SIZE;
    return 1;
}

int ew_rct_events_init(ew_rct_event_iter *it, const uint8_t *p, size_t len, ew_diag *d) {
    if (!it || (!p && len))
        return EW_ERR_INVAL;
    memset(it, 0, sizeof *it);
    int rc = check_records(len, EW_RCT_EVENT_SIZE, &it->count, d);
    if (rc)
        return rc;
    it->query_ts = ew_rct_be32(p);
    it->p = p + 4;
    it->end = p + len;
    return EW_OK;
}

int ew_rct_events_next(ew_rct_event_iter *it, ew_rct_event *ev) {
    if (!it->p || it->end - it->p < EW_RCT_EVENT_SIZE)
        return 0;
    ev->type = ew_rct_be32(it->p);
    ev->timestamp = ew_rct_be32(it->p + 4);
    ev->element2 = ew_rct_be32(it->p + 8);
    ev->element3 = ew_rct_be32(it->p + 12);
    ev->element4 = ew_rct_be32(it->p + 16);
    it->p += EW_RCT_EVENT_SIZE;
    return 1;
}

const char *ew_rct_event_type_name(uint32_t type) {
    switch (type) {
    case 0x31:
        return "UL_UNDER_L1_LV2";
    case 0x4f:
        return "SW_ON_UMIN_L1";
    case 0x50:
        return "SW_ON_UMAX_L1";
    case 0x52:
        return "SW_ON_FMAX_L1";
    case 0x53:
        return "SW_ON_UMIN_L2";
    case 0x54:
        return "SW_ON_UMAX_L2";
    case 0x57:
        return "SW_ON_UMIN_L3";
    case 0x58:
        return "SW_ON_UMAX_L3";
    case 0x59:
        return "SURGE";
    case 0x5a:
        return "NO_GRID";
    case 0x61:
        return "PHASE_POS";
    case 0x64:
        return "BAT_OVERVOLTAGE";
    case 0x6b:
        return "CAN_TIMEOUT";
    case 0x72:
        return "BAT_INTERN";
    case 0x73:
        return "PRM_CHANGE";
    case 0x76:
        return "RESET";
    case 0x77:
        return "UPDATE";
    case 0x78:
        return "FRT_OVERVOLTAGE";
    case 0x79:
        return "FRT_UNDERVOLTAGE";
    default:
        return NULL;
    }
}

/* ---- battery module types (rct.md §9) ---------------------------------- */

int ew_rct_bat_status_decode(const uint8_t *p, size_t len, ew_rct_bat_cell cells[EW_RCT_BAT_CELLS],
                             ew_diag *d) {
    if (!cells || (!p && len))
        return EW_ERR_INVAL;
    int rc = check_size(len, EW_RCT_BAT_STATUS_SIZE, d);
    if (rc)
        return rc;
    for (size_t k = 0; k < EW_RCT_BAT_CELLS; k++, p += 4) {
        cells[k].temperature_c = p[0];
        cells[k].voltage_mv = (uint16_t)(p[1] | p[2] << 8); /* little-endian */
        cells[k].status = p[3];
    }
    return EW_OK;
}

int ew_rct_bat_stats_decode(const uint8_t *p, size_t len, ew_rct_bat_stats *out, ew_diag *d) {
    if (!out || (!p && len))
        return EW_ERR_INVAL;
    int rc = check_size(len, EW_RCT_BAT_STATS_SIZE, d);
    if (rc)
        return rc;
    ew_rct_bat_extreme *e[4] = {&out->u_min, &out->u_max, &out->t_min, &out->t_max};
    for (size_t k = 0; k < 4; k++, p += 12) {
        e[k]->cell = ew_rct_le32(p);
        e[k]->timestamp = ew_rct_le32(p + 4);
        e[k]->value = f32_from_bits(ew_rct_le32(p + 8));
    }
    return EW_OK;
}

int ew_rct_bat_resist_decode(const uint8_t *p, size_t len, uint16_t raw[EW_RCT_BAT_CELLS],
                             ew_diag *d) {
    if (!raw || (!p && len))
        return EW_ERR_INVAL;
    int rc = check_size(len, EW_RCT_BAT_RESIST_SIZE, d);
    if (rc)
        return rc;
    for (size_t k = 0; k < EW_RCT_BAT_CELLS; k++, p += 4)
        raw[k] = (uint16_t)(p[0] << 8 | p[1]); /* big-endian, unlike the other two */
    return EW_OK;
}
