/* Bounded text sink for the printers (see fmt.h). */
#include "common/fmt.h"

#include <energywire/ew.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ew_sb_init(ew_sb *sb, char *buf, size_t cap) {
    sb->buf = buf;
    sb->cap = cap;
    sb->len = 0;
    if (cap)
        buf[0] = '\0';
}

void ew_sb_put(ew_sb *sb, const char *s, size_t n) {
    if (sb->cap && sb->len < sb->cap - 1) {
        size_t room = sb->cap - 1 - sb->len;
        size_t k = n < room ? n : room;
        memcpy(sb->buf + sb->len, s, k);
        sb->buf[sb->len + k] = '\0';
    }
    sb->len += n;
}

void ew_sb_putc(ew_sb *sb, char c) {
    ew_sb_put(sb, &c, 1);
}

void ew_sb_puts(ew_sb *sb, const char *s) {
    ew_sb_put(sb, s, strlen(s));
}

void ew_sb_printf(ew_sb *sb, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        ew_sb_put(sb, tmp, (size_t)n);
        return;
    }
    /* Longer than the scratch buffer: format straight into the sink when it
     * fits, otherwise only count (callers print short items; this is the
     * rare path). */
    if (sb->cap && sb->len + (size_t)n < sb->cap) {
        va_start(ap, fmt);
        vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
    } else if (sb->cap && sb->len < sb->cap) {
        sb->buf[sb->len] = '\0';
    }
    sb->len += (size_t)n;
}

void ew_sb_indent(ew_sb *sb, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        ew_sb_put(sb, "  ", 2);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    size_t k;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

void ew_sb_json_escape(ew_sb *sb, const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        switch (c) {
        case '"':
            ew_sb_put(sb, "\\\"", 2);
            i++;
            continue;
        case '\\':
            ew_sb_put(sb, "\\\\", 2);
            i++;
            continue;
        case '\n':
            ew_sb_put(sb, "\\n", 2);
            i++;
            continue;
        case '\r':
            ew_sb_put(sb, "\\r", 2);
            i++;
            continue;
        case '\t':
            ew_sb_put(sb, "\\t", 2);
            i++;
            continue;
        default:
            break;
        }
        if (c < 0x20 || c == 0x7F) {
            ew_sb_printf(sb, "\\u%04x", c);
            i++;
            continue;
        }
        size_t k = utf8_len(s + i, n - i);
        if (k == 0) {
            /* Not UTF-8 (the CString character set is not specified,
             * rscp.md §3.2): keep the JSON valid. */
            ew_sb_puts(sb, "\\ufffd");
            i++;
            continue;
        }
        ew_sb_put(sb, (const char *)s + i, k);
        i += k;
    }
}

void ew_sb_hex(ew_sb *sb, const uint8_t *s, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[s[i] >> 4], digits[s[i] & 15]};
        ew_sb_put(sb, two, 2);
    }
}

static int special(ew_sb *sb, double f) {
    if (isnan(f)) {
        ew_sb_puts(sb, "nan");
        return 1;
    }
    if (isinf(f)) {
        ew_sb_puts(sb, f < 0 ? "-inf" : "inf");
        return 1;
    }
    return 0;
}

void ew_sb_float(ew_sb *sb, float f) {
    if (special(sb, f))
        return;
    char tmp[48];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    ew_sb_puts(sb, tmp);
}

void ew_sb_double(ew_sb *sb, double f) {
    if (special(sb, f))
        return;
    char tmp[48];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    ew_sb_puts(sb, tmp);
}

void ew_sb_iso8601(ew_sb *sb, int64_t seconds, uint32_t nanoseconds) {
    /* Civil date from days since 1970-01-01 in the proleptic Gregorian
     * calendar, counting in 400-year eras that start on 0000-03-01. */
    int64_t days = seconds / 86400;
    int64_t rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    ew_sb_printf(sb, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", (long long)year, (long long)month,
                 (long long)day, (long long)(rem / 3600), (long long)(rem / 60 % 60),
                 (long long)(rem % 60));
    if (nanoseconds) {
        if (nanoseconds > 999999999u)
            nanoseconds = 999999999u;
        char frac[16];
        snprintf(frac, sizeof frac, ".%09u", nanoseconds);
        size_t n = strlen(frac);
        while (n > 2 && frac[n - 1] == '0')
            n--;
        ew_sb_put(sb, frac, n);
    }
    ew_sb_putc(sb, 'Z');
}

int ew_time_format(int64_t seconds, uint32_t nanoseconds, char *out, size_t cap) {
    ew_sb sb;
    ew_sb_init(&sb, out, cap);
    ew_sb_iso8601(&sb, seconds, nanoseconds);
    return (int)sb.len;
}
