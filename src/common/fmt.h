/*
 * Internal text sink used by the printers: appends into a caller buffer,
 * never past its end, and keeps counting so the caller learns the size that
 * was needed.  The buffer is always NUL terminated when cap > 0.
 */
#ifndef EW_COMMON_FMT_H
#define EW_COMMON_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ew_sb {
    char *buf;
    size_t cap;
    size_t len; /* length of the full text, even where it did not fit */
} ew_sb;

void ew_sb_init(ew_sb *sb, char *buf, size_t cap);
void ew_sb_putc(ew_sb *sb, char c);
void ew_sb_put(ew_sb *sb, const char *s, size_t n);
void ew_sb_puts(ew_sb *sb, const char *s);
void ew_sb_printf(ew_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ew_sb_indent(ew_sb *sb, unsigned n);
/* |n| bytes as a JSON string body (RFC 8259 escaping; invalid UTF-8 bytes
 * become U+FFFD), without the quotes. */
void ew_sb_json_escape(ew_sb *sb, const uint8_t *s, size_t n);
/* |n| bytes as lower-case hex. */
void ew_sb_hex(ew_sb *sb, const uint8_t *s, size_t n);
/* Shortest decimal text that reads back as the same float / double
 * ("58.75", "0.1"); NaN and infinities as "nan", "inf", "-inf". */
void ew_sb_float(ew_sb *sb, float f);
void ew_sb_double(ew_sb *sb, double f);
/* UTC date and time in ISO 8601 with a fractional part only when non-zero:
 * "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123Z". */
void ew_sb_iso8601(ew_sb *sb, int64_t seconds, uint32_t nanoseconds);

#endif
