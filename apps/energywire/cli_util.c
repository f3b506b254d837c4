#include "cli.h"

#include <energywire/ew.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_err(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("energywire: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("energywire: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

char *cli_read_file(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_err("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        cli_err("cannot read %s", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

void cli_secret_free(char *s) {
    if (!s)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = 0;
    free(s);
}

char *cli_secret(const char *what, const char *argv_value, const char *file, const char *env,
                 int *failed) {
    *failed = 0;
    if (argv_value) {
        cli_warn("the %s was given on the command line, where other users of this machine can "
                 "see it; prefer %s or a file",
                 what, env);
        return strdup(argv_value);
    }
    if (file) {
        size_t n;
        char *s = cli_read_file(file, &n);
        if (!s) {
            *failed = 1;
            return NULL;
        }
        /* The secret is the first line, without its line ending. */
        s[strcspn(s, "\r\n")] = '\0';
        return s;
    }
    const char *e = getenv(env);
    if (e)
        return strdup(e);
    return NULL;
}

uint8_t *cli_unhex(const char *text, size_t len, size_t *out_len) {
    uint8_t *out = malloc(len / 2 + 1);
    if (!out) {
        cli_err("out of memory");
        return NULL;
    }
    int n = ew_hex_decode(text, len, out, len / 2 + 1);
    if (n < 0) {
        cli_err("input is not hex: %s (only 0-9, a-f, spaces and ':' are allowed, in pairs)",
                ew_strerror(n));
        free(out);
        return NULL;
    }
    *out_len = (size_t)n;
    return out;
}

int cli_parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    if (!s || !*s || isspace((unsigned char)s[0]))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}
