/*
 * Text and JSON formatting of decoded RCT values (for the CLI and logs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "rct/rct_int.h"

/*
 * Python's repr() of a double, which is what rctclient prints for a FLOAT
 * (rct.md §7 notes): the shortest "%.{p}e" (p = 0..16) that reads back as
 * the same double; positional when the decimal exponent is in -4..15, with
 * ".0" for integral values; else d.ddde±XX with at least two exponent digits.
 */
static void put_pyrepr(ew_sb *sb, double v) {
    if (v != v) {
        ew_sb_puts(sb, "nan");
        return;
    }
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
        ew_sb_puts(sb, v > 0 ? "inf" : "-inf");
        return;
    }
    char e[40];
    for (int p = 0; p <= 16; p++) {
        snprintf(e, sizeof e, "%.*e", p, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e = [-]d[.ddd]e±XX */
    const char *s = e;
    if (*s == '-') {
        ew_sb_putc(sb, '-');
        s++;
    }
    char dig[24];
    size_t k = 0;
    const char *x = s;
    for (; *x && *x != 'e'; x++)
        if (*x != '.' && k < sizeof dig - 1)
            dig[k++] = *x;
    dig[k] = '\0';
    int exp = atoi(x + 1);
    if (exp < -4 || exp >= 16) {
        ew_sb_putc(sb, dig[0]);
        if (k > 1) {
            ew_sb_putc(sb, '.');
            ew_sb_put(sb, dig + 1, k - 1);
        }
        ew_sb_printf(sb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp >= 0) {
        if (k <= (size_t)exp + 1) {
            ew_sb_put(sb, dig, k);
            for (size_t z = k; z < (size_t)exp + 1; z++)
                ew_sb_putc(sb, '0');
            ew_sb_puts(sb, ".0");
        } else {
            ew_sb_put(sb, dig, (size_t)exp + 1);
            ew_sb_putc(sb, '.');
            ew_sb_put(sb, dig + exp + 1, k - (size_t)exp - 1);
        }
    } else {
        ew_sb_puts(sb, "0.");
        for (int z = 0; z < -exp - 1; z++)
            ew_sb_putc(sb, '0');
        ew_sb_put(sb, dig, k);
    }
}

/* A float in JSON: NaN and infinities are not JSON numbers. */
static void put_json_float(ew_sb *sb, double v) {
    if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
        ew_sb_puts(sb, "null");
    else
        put_pyrepr(sb, v);
}

/* Length of a valid UTF-8 sequence at |p| (|n| bytes left), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* String bytes as text: valid UTF-8 and printable ASCII as they are,
 * everything else (and the backslash) escaped. */
static void put_text_bytes(ew_sb *sb, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(p + i, n - i);
        if (l > 1) {
            ew_sb_put(sb, (const char *)p + i, l);
            i += l;
            continue;
        }
        uint8_t c = p[i++];
        if (c == '\\')
            ew_sb_puts(sb, "\\\\");
        else if (c >= 0x20 && c < 0x7F)
            ew_sb_putc(sb, (char)c);
        else
            ew_sb_printf(sb, "\\x%02x", c);
    }
}

static void put_time(ew_sb *sb, uint32_t ts, int json) {
    if (json)
        ew_sb_putc(sb, '"');
    ew_sb_iso8601(sb, (int64_t)ts, 0);
    if (json)
        ew_sb_putc(sb, '"');
}

static void nl(ew_sb *sb, unsigned flags, unsigned depth) {
    if (flags & EW_RCT_FMT_PRETTY) {
        ew_sb_putc(sb, '\n');
        ew_sb_indent(sb, depth * 2);
    }
}

static void fmt_ts(ew_sb *sb, const uint8_t *p, size_t len, unsigned flags) {
    ew_rct_ts_iter it;
    ew_rct_ts_point pt;
    int json = (flags & EW_RCT_FMT_JSON) != 0;
    (void)ew_rct_ts_init(&it, p, len, NULL);
    if (json) {
        ew_sb_printf(sb, "{\"query_ts\":%u,\"query_time\":", it.query_ts);
        put_time(sb, it.query_ts, 1);
        ew_sb_puts(sb, ",\"points\":[");
        for (size_t k = 0; ew_rct_ts_next(&it, &pt); k++) {
            if (k)
                ew_sb_putc(sb, ',');
            nl(sb, flags, 1);
            ew_sb_printf(sb, "{\"ts\":%u,\"time\":", pt.timestamp);
            put_time(sb, pt.timestamp, 1);
            ew_sb_puts(sb, ",\"value\":");
            put_json_float(sb, (double)pt.value);
            ew_sb_putc(sb, '}');
        }
        if (it.count)
            nl(sb, flags, 0);
        ew_sb_puts(sb, "]}");
        return;
    }
    ew_sb_puts(sb, "T=");
    put_time(sb, it.query_ts, 0);
    ew_sb_putc(sb, ';');
    for (size_t k = 0; ew_rct_ts_next(&it, &pt); k++) {
        if (flags & EW_RCT_FMT_PRETTY)
            ew_sb_putc(sb, '\n');
        else
            ew_sb_puts(sb, k ? ", " : " ");
        put_time(sb, pt.timestamp, 0);
        ew_sb_putc(sb, '=');
        put_pyrepr(sb, (double)pt.value);
    }
}

static void fmt_events(ew_sb *sb, const uint8_t *p, size_t len, unsigned flags) {
    ew_rct_event_iter it;
    ew_rct_event ev;
    int json = (flags & EW_RCT_FMT_JSON) != 0;
    (void)ew_rct_events_init(&it, p, len, NULL);
    if (json) {
        ew_sb_printf(sb, "{\"query_ts\":%u,\"query_time\":", it.query_ts);
        put_time(sb, it.query_ts, 1);
        ew_sb_puts(sb, ",\"entries\":[");
        for (size_t k = 0; ew_rct_events_next(&it, &ev); k++) {
            const char *name = ew_rct_event_type_name(ev.type);
            if (k)
                ew_sb_putc(sb, ',');
            nl(sb, flags, 1);
            ew_sb_printf(sb, "{\"type\":%u,\"type_name\":", ev.type);
            if (name)
                ew_sb_printf(sb, "\"%s\"", name);
            else
                ew_sb_puts(sb, "null");
            ew_sb_printf(sb, ",\"ts\":%u,\"time\":", ev.timestamp);
            put_time(sb, ev.timestamp, 1);
            ew_sb_printf(sb, ",\"element2\":%u,\"element3\":%u,\"element4\":%u}", ev.element2,
                         ev.element3, ev.element4);
        }
        if (it.count)
            nl(sb, flags, 0);
        ew_sb_puts(sb, "]}");
        return;
    }
    ew_sb_puts(sb, "T=");
    put_time(sb, it.query_ts, 0);
    ew_sb_putc(sb, ';');
    for (size_t k = 0; ew_rct_events_next(&it, &ev); k++) {
        if (flags & EW_RCT_FMT_PRETTY)
            ew_sb_putc(sb, '\n');
        else
            ew_sb_puts(sb, k ? ", " : " ");
        ew_sb_printf(sb, "0x%x ", ev.type);
        put_time(sb, ev.timestamp, 0);
        ew_sb_printf(sb, " 0x%x 0x%x 0x%x", ev.element2, ev.element3, ev.element4);
    }
}

static void fmt_battery(ew_sb *sb, int type, const uint8_t *p, size_t len) {
    if (type == EW_RCT_TYPE_BATTERY_MODULE_STATUS) {
        ew_rct_bat_cell c[EW_RCT_BAT_CELLS];
        (void)ew_rct_bat_status_decode(p, len, c, NULL);
        ew_sb_puts(sb, "{\"cells\":[");
        for (size_t k = 0; k < EW_RCT_BAT_CELLS; k++)
            ew_sb_printf(sb,
                         "%s{\"cell\":%zu,\"temperature_c\":%u,\"voltage_mv\":%u,\"status\":%u}",
                         k ? "," : "", k, c[k].temperature_c, c[k].voltage_mv, c[k].status);
        ew_sb_puts(sb, "]}");
    } else if (type == EW_RCT_TYPE_BATTERY_MODULE_STATISTICS) {
        ew_rct_bat_stats st;
        (void)ew_rct_bat_stats_decode(p, len, &st, NULL);
        const ew_rct_bat_extreme *e[4] = {&st.u_min, &st.u_max, &st.t_min, &st.t_max};
        static const char *const names[4] = {"u_min", "u_max", "t_min", "t_max"};
        ew_sb_putc(sb, '{');
        for (size_t k = 0; k < 4; k++) {
            ew_sb_printf(sb, "%s\"%s\":{\"cell\":%u,\"ts\":", k ? "," : "", names[k], e[k]->cell);
            if (e[k]->timestamp)
                ew_sb_printf(sb, "%u", e[k]->timestamp);
            else
                ew_sb_puts(sb, "null");
            ew_sb_puts(sb, ",\"value\":");
            put_json_float(sb, (double)e[k]->value);
            ew_sb_printf(sb, ",\"unit\":\"%s\"}",
                         k < 2 ? "V"
                               : "\xC2\xB0"
                                 "C");
        }
        ew_sb_putc(sb, '}');
    } else {
        uint16_t raw[EW_RCT_BAT_CELLS];
        (void)ew_rct_bat_resist_decode(p, len, raw, NULL);
        ew_sb_puts(sb, "{\"cells\":[");
        for (size_t k = 0; k < EW_RCT_BAT_CELLS; k++) {
            ew_sb_printf(sb, "%s{\"cell\":%zu,\"raw\":%u,\"resistance_mohm\":", k ? "," : "", k,
                         raw[k]);
            put_pyrepr(sb, raw[k] / 256.0);
            ew_sb_putc(sb, '}');
        }
        ew_sb_puts(sb, "]}");
    }
}

int ew_rct_value_format(int type, const uint8_t *p, size_t len, unsigned flags, char *out,
                        size_t cap, ew_diag *d) {
    ew_sb sb;
    ew_rct_value v;
    int json = (flags & EW_RCT_FMT_JSON) != 0;
    ew_sb_init(&sb, out, cap);
    int rc = ew_rct_value_decode(type, p, len, &v, d);
    if (rc < 0 || v.type == EW_RCT_TYPE_UNKNOWN) {
        /* Unknown objects and undecodable payloads: the raw bytes. */
        ew_sb_puts(&sb, json ? "\"0x" : "0x");
        if (p)
            ew_sb_hex(&sb, p, len);
        if (json)
            ew_sb_putc(&sb, '"');
        return rc < 0 ? rc : (int)sb.len;
    }
    switch (v.type) {
    case EW_RCT_TYPE_BOOL:
        ew_sb_puts(&sb, v.i ? "true" : "false");
        break;
    case EW_RCT_TYPE_FLOAT:
        if (json)
            put_json_float(&sb, v.f);
        else
            put_pyrepr(&sb, v.f);
        break;
    case EW_RCT_TYPE_STRING:
        if (json) {
            ew_sb_putc(&sb, '"');
            ew_sb_json_escape(&sb, v.bytes.ptr, v.bytes.len);
            ew_sb_putc(&sb, '"');
        } else if (v.bytes.len) {
            put_text_bytes(&sb, v.bytes.ptr, v.bytes.len);
        }
        break;
    case EW_RCT_TYPE_TIMESERIES:
        fmt_ts(&sb, p, len, flags);
        break;
    case EW_RCT_TYPE_EVENT_TABLE:
        fmt_events(&sb, p, len, flags);
        break;
    case EW_RCT_TYPE_BATTERY_MODULE_STATUS:
    case EW_RCT_TYPE_BATTERY_MODULE_STATISTICS:
    case EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE:
        fmt_battery(&sb, v.type, p, len);
        break;
    default:
        ew_sb_printf(&sb, "%lld", (long long)v.i);
        break;
    }
    return (int)sb.len;
}
