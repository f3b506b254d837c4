/*
 * Helpers shared by the libFuzzer targets (header-only, static functions):
 * a checked assertion that survives NDEBUG, and a strict JSON syntax checker
 * for the printers' output.
 */
#ifndef EW_FUZZ_UTIL_H
#define EW_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <energywire/rscp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broke: report and abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- JSON syntax (RFC 8259), enough to reject anything malformed ---- */

typedef struct fuzz_json {
    const char *s;
    size_t n, i;
} fuzz_json;

static inline void fj_ws(fuzz_json *j) {
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static inline int fj_lit(fuzz_json *j, const char *lit) {
    size_t k = strlen(lit);
    if (j->n - j->i < k || memcmp(j->s + j->i, lit, k) != 0)
        return 0;
    j->i += k;
    return 1;
}

static inline int fj_digits(fuzz_json *j) {
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        j->i++;
    return j->i > start;
}

static inline int fj_number(fuzz_json *j) {
    if (j->i < j->n && j->s[j->i] == '-')
        j->i++;
    if (j->i < j->n && j->s[j->i] == '0')
        j->i++;
    else if (!fj_digits(j))
        return 0;
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        if (!fj_digits(j))
            return 0;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
            j->i++;
        if (!fj_digits(j))
            return 0;
    }
    return 1;
}

static inline int fj_string(fuzz_json *j) {
    if (j->i >= j->n || j->s[j->i] != '"')
        return 0;
    j->i++;
    while (j->i < j->n) {
        unsigned char c = (unsigned char)j->s[j->i++];
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (j->i >= j->n)
                return 0;
            char e = j->s[j->i++];
            if (e == 'u') {
                for (int k = 0; k < 4; k++, j->i++) {
                    if (j->i >= j->n)
                        return 0;
                    char h = j->s[j->i];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return 0;
                }
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return 0;
            }
        }
    }
    return 0;
}

static inline int fj_value(fuzz_json *j, unsigned depth) {
    if (depth > 400)
        return 0;
    fj_ws(j);
    if (j->i >= j->n)
        return 0;
    char c = j->s[j->i];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->i++;
        fj_ws(j);
        if (j->i < j->n && j->s[j->i] == close) {
            j->i++;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                fj_ws(j);
                if (!fj_string(j))
                    return 0;
                fj_ws(j);
                if (j->i >= j->n || j->s[j->i] != ':')
                    return 0;
                j->i++;
            }
            if (!fj_value(j, depth + 1))
                return 0;
            fj_ws(j);
            if (j->i >= j->n)
                return 0;
            if (j->s[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->s[j->i] != close)
                return 0;
            j->i++;
            return 1;
        }
    }
    if (c == '"')
        return fj_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return fj_number(j);
    return fj_lit(j, "true") || fj_lit(j, "false") || fj_lit(j, "null");
}

/* 1 when the |n| characters at |s| are exactly one JSON value. */
static inline int fuzz_json_valid(const char *s, size_t n) {
    fuzz_json j = {s, n, 0};
    if (!fj_value(&j, 0))
        return 0;
    fj_ws(&j);
    return j.i == n;
}

#endif
