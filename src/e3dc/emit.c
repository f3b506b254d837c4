/*
 * One emitter for both output forms of the result structs: JSON (keys are
 * the struct member names, so units are part of the keys) and "label: value
 * unit" text for humans.  Everything goes through the bounded text sink, so
 * a short buffer only truncates and the needed size is still known.
 */
#include "e3dc/e3dc_int.h"

#include <float.h>
#include <math.h>

void ew_e3dc_em_init(ew_e3dc_em *e, int json, unsigned flags, char *out, size_t cap) {
    memset(e, 0, sizeof *e);
    ew_sb_init(&e->sb, out, out ? cap : 0);
    e->json = json;
    e->flags = flags;
    e->first[0] = 1;
    if (json)
        ew_sb_putc(&e->sb, '{');
}

static int pretty(const ew_e3dc_em *e) {
    return e->json && (e->flags & EW_E3DC_JSON_PRETTY);
}

int ew_e3dc_em_finish(ew_e3dc_em *e, size_t cap, size_t *written) {
    if (e->json) {
        if (pretty(e) && !e->first[0])
            ew_sb_putc(&e->sb, '\n');
        ew_sb_putc(&e->sb, '}');
        if (pretty(e))
            ew_sb_putc(&e->sb, '\n');
    }
    if (written)
        *written = e->sb.len;
    if (e->sb.len + 1 > cap) {
        if (written)
            *written = e->sb.len + 1;
        return EW_ERR_NOBUF;
    }
    return EW_OK;
}

/* Text label: the key without its unit suffix, underscores as spaces
 * ("pv_power_w" with unit "W" -> "pv power"). */
static void put_label(ew_e3dc_em *e, const char *key, const char *unit) {
    size_t n = strlen(key);
    if (unit && *unit) {
        const char *us = strrchr(key, '_');
        if (us)
            n = (size_t)(us - key);
    }
    for (size_t i = 0; i < n; i++)
        ew_sb_putc(&e->sb, key[i] == '_' ? ' ' : key[i]);
}

/* Starts a member at the current level: separator, indentation and key. */
static void member_sep(ew_e3dc_em *e, const char *key, const char *unit, const char *sep) {
    unsigned l = e->depth;
    if (e->json) {
        if (!e->first[l])
            ew_sb_putc(&e->sb, ',');
        e->first[l] = 0;
        if (pretty(e)) {
            ew_sb_putc(&e->sb, '\n');
            ew_sb_indent(&e->sb, l + 1);
        }
        if (key && !e->array[l]) {
            ew_sb_putc(&e->sb, '"');
            ew_sb_json_escape(&e->sb, (const uint8_t *)key, strlen(key));
            ew_sb_puts(&e->sb, pretty(e) ? "\": " : "\":");
        }
        return;
    }
    e->first[l] = 0;
    ew_sb_indent(&e->sb, l);
    if (e->array[l] || !key)
        ew_sb_printf(&e->sb, "[%u]", e->item[l]++);
    else
        put_label(e, key, unit);
    ew_sb_puts(&e->sb, sep);
}

static void member(ew_e3dc_em *e, const char *key, const char *unit) {
    member_sep(e, key, unit, ": ");
}

static void end_text(ew_e3dc_em *e, const char *unit) {
    if (e->json)
        return;
    if (unit && *unit) {
        ew_sb_putc(&e->sb, ' ');
        ew_sb_puts(&e->sb, unit);
    }
    ew_sb_putc(&e->sb, '\n');
}

void ew_e3dc_em_open(ew_e3dc_em *e, const char *key, int array) {
    member_sep(e, key, NULL, ":\n");
    if (e->json)
        ew_sb_putc(&e->sb, array ? '[' : '{');
    if (e->depth + 1 < EW_E3DC_EM_DEPTH)
        e->depth++;
    e->first[e->depth] = 1;
    e->array[e->depth] = array;
    e->item[e->depth] = 0;
}

void ew_e3dc_em_close(ew_e3dc_em *e) {
    unsigned l = e->depth;
    int array = e->array[l];
    if (l > 0)
        e->depth--;
    if (!e->json)
        return;
    if (pretty(e) && !e->first[l]) {
        ew_sb_putc(&e->sb, '\n');
        ew_sb_indent(&e->sb, e->depth + 1);
    }
    ew_sb_putc(&e->sb, array ? ']' : '}');
}

static void put_number(ew_e3dc_em *e, double v) {
    if (!isfinite(v)) {
        ew_sb_puts(&e->sb, e->json ? "null" : (isnan(v) ? "nan" : v < 0 ? "-inf" : "inf"));
        return;
    }
    /* Values that arrived as Float32 print as the short float text ("3.45",
     * not "3.4500000476837158"). */
    if ((v < 0 ? -v : v) <= FLT_MAX && (double)(float)v == v)
        ew_sb_float(&e->sb, (float)v);
    else
        ew_sb_double(&e->sb, v);
}

void ew_e3dc_em_i64(ew_e3dc_em *e, const char *key, int64_t v, const char *unit) {
    member(e, key, unit);
    ew_sb_printf(&e->sb, "%lld", (long long)v);
    end_text(e, unit);
}

void ew_e3dc_em_f64(ew_e3dc_em *e, const char *key, double v, const char *unit) {
    member(e, key, unit);
    put_number(e, v);
    end_text(e, unit);
}

void ew_e3dc_em_bool(ew_e3dc_em *e, const char *key, int v) {
    member(e, key, NULL);
    ew_sb_puts(&e->sb, e->json ? (v ? "true" : "false") : (v ? "yes" : "no"));
    end_text(e, NULL);
}

void ew_e3dc_em_str(ew_e3dc_em *e, const char *key, const char *s) {
    member(e, key, NULL);
    if (e->json) {
        ew_sb_putc(&e->sb, '"');
        ew_sb_json_escape(&e->sb, (const uint8_t *)s, strlen(s));
        ew_sb_putc(&e->sb, '"');
        return;
    }
    /* Device strings must not break the line layout. */
    for (const char *p = s; *p; p++)
        ew_sb_putc(&e->sb, (unsigned char)*p < 0x20 || *p == 0x7F ? '?' : *p);
    end_text(e, NULL);
}

void ew_e3dc_em_ts(ew_e3dc_em *e, const char *key, ew_rscp_timestamp ts) {
    member(e, key, NULL);
    if (e->json)
        ew_sb_putc(&e->sb, '"');
    ew_sb_iso8601(&e->sb, ts.seconds, ts.nanoseconds);
    if (e->json)
        ew_sb_putc(&e->sb, '"');
    end_text(e, NULL);
}

void ew_e3dc_em_null(ew_e3dc_em *e, const char *key) {
    if (!e->json)
        return;
    member(e, key, NULL);
    ew_sb_puts(&e->sb, "null");
}

void ew_e3dc_em_floats(ew_e3dc_em *e, const char *key, const float *a, unsigned n,
                       const char *unit) {
    member(e, key, unit);
    if (e->json)
        ew_sb_putc(&e->sb, '[');
    for (unsigned i = 0; i < n; i++) {
        if (i)
            ew_sb_puts(&e->sb, e->json ? "," : " ");
        put_number(e, a[i]);
    }
    if (e->json)
        ew_sb_putc(&e->sb, ']');
    end_text(e, unit);
}

void ew_e3dc_em_fields(ew_e3dc_em *e, const ew_e3dc_field *t, size_t n, const void *obj,
                       uint64_t present) {
    const char *base = obj;
    for (size_t i = 0; i < n; i++) {
        const ew_e3dc_field *f = &t[i];
        if (f->kind == EW_E3DC_K_GROUP || !f->name)
            continue;
        if (!(present >> i & 1)) {
            ew_e3dc_em_null(e, f->name);
            continue;
        }
        switch (f->kind) {
        case EW_E3DC_K_I64: {
            int64_t x;
            memcpy(&x, base + f->off, sizeof x);
            ew_e3dc_em_i64(e, f->name, x, f->unit);
            break;
        }
        case EW_E3DC_K_F64: {
            double x;
            memcpy(&x, base + f->off, sizeof x);
            ew_e3dc_em_f64(e, f->name, x, f->unit);
            break;
        }
        case EW_E3DC_K_BOOL: {
            int x;
            memcpy(&x, base + f->off, sizeof x);
            ew_e3dc_em_bool(e, f->name, x);
            break;
        }
        case EW_E3DC_K_STR:
            ew_e3dc_em_str(e, f->name, base + f->off);
            break;
        case EW_E3DC_K_TS: {
            ew_rscp_timestamp ts;
            memcpy(&ts, base + f->off, sizeof ts);
            ew_e3dc_em_ts(e, f->name, ts);
            break;
        }
        default:
            break;
        }
    }
}

static void put_tag(ew_sb *sb, uint32_t tag) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    if (t)
        ew_sb_puts(sb, ew_rscp_tag_short_name(t));
    else
        ew_sb_printf(sb, "0x%08X", (unsigned)tag);
}

void ew_e3dc_em_error(ew_e3dc_em *e, const ew_e3dc_error *err) {
    if (!err->count) {
        ew_e3dc_em_null(e, "error");
        return;
    }
    const char *name = ew_rscp_error_name(err->code);
    if (e->json) {
        ew_e3dc_em_open(e, "error", 0);
        ew_e3dc_em_i64(e, "code", err->code, NULL);
        if (name)
            ew_e3dc_em_str(e, "name", name);
        else
            ew_e3dc_em_null(e, "name");
        member(e, "tag", NULL);
        ew_sb_putc(&e->sb, '"');
        put_tag(&e->sb, err->tag);
        ew_sb_putc(&e->sb, '"');
        ew_e3dc_em_i64(e, "count", err->count, NULL);
        ew_e3dc_em_bool(e, "whole", err->whole);
        ew_e3dc_em_close(e);
        return;
    }
    member(e, "device_error", NULL);
    ew_sb_printf(&e->sb, "%lu %s (%s) at ", (unsigned long)err->code, name ? name : "?",
                 ew_rscp_error_text(err->code));
    put_tag(&e->sb, err->tag);
    if (err->whole)
        ew_sb_puts(&e->sb, ", whole answer refused");
    if (err->count > 1)
        ew_sb_printf(&e->sb, " (+%u more)", err->count - 1);
    ew_sb_putc(&e->sb, '\n');
}
