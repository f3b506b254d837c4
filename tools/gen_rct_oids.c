/*
 * gen_rct_oids: turns the RCT object registry into C tables.
 *
 *   ew_gen_rct_oids data/rct_oids.csv out/rct_oids_gen.c
 *
 * Input (docs/protocols/rct.md §16): '#' comment lines, then the header
 * "id_hex,name,group,request_type,response_type,unit,description,sim_data",
 * then one row per object.  Fields follow RFC 4180 quoting (descriptions
 * with commas are quoted); a quoted field must end on its own line.  Text is
 * UTF-8 ("°C").
 *
 * Output: rct_oids_gen.c with the objects sorted by id (for binary search by
 * id in src/rct/objects.c) and an index of row numbers sorted by name with
 * ASCII case folded, ties in byte order (for binary search by name and for
 * listing in name order; see src/rct/rct_int.h).
 *
 * Checks (each failure prints "file:line: message" and exits with status 1):
 * ids are "0x" + 1..8 hex digits and unique; names are non-empty printable
 * ASCII and unique even with case folded; both types are DataType names of
 * rct.md §7; the group is a non-empty upper-case identifier; every row has
 * exactly 8 fields.
 *
 * Host tool: C11 and libc only; it may allocate freely.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIELDS 8
#define MAX_ROWS 65535 /* the name index stores uint16_t row numbers */

static const struct {
    const char *name;
    const char *macro;
} type_names[] = {
    {"UNKNOWN", "EW_RCT_TYPE_UNKNOWN"},
    {"BOOL", "EW_RCT_TYPE_BOOL"},
    {"UINT8", "EW_RCT_TYPE_UINT8"},
    {"INT8", "EW_RCT_TYPE_INT8"},
    {"UINT16", "EW_RCT_TYPE_UINT16"},
    {"INT16", "EW_RCT_TYPE_INT16"},
    {"UINT32", "EW_RCT_TYPE_UINT32"},
    {"INT32", "EW_RCT_TYPE_INT32"},
    {"ENUM", "EW_RCT_TYPE_ENUM"},
    {"FLOAT", "EW_RCT_TYPE_FLOAT"},
    {"STRING", "EW_RCT_TYPE_STRING"},
    {"TIMESERIES", "EW_RCT_TYPE_TIMESERIES"},
    {"EVENT_TABLE", "EW_RCT_TYPE_EVENT_TABLE"},
    {"BATTERY_MODULE_STATUS", "EW_RCT_TYPE_BATTERY_MODULE_STATUS"},
    {"BATTERY_MODULE_STATISTICS", "EW_RCT_TYPE_BATTERY_MODULE_STATISTICS"},
    {"BATTERY_MODULE_RESISTANCE", "EW_RCT_TYPE_BATTERY_MODULE_RESISTANCE"},
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

typedef struct row {
    uint32_t id;
    char *f[NFIELDS];
    int req, resp;
    long line;
} row;

static const char *out_path;

static void die(const char *path, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void die(const char *path, long line, const char *fmt, ...) {
    va_list ap;
    if (line > 0)
        fprintf(stderr, "%s:%ld: error: ", path, line);
    else
        fprintf(stderr, "%s: error: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (out_path)
        remove(out_path);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p)
        die("ew_gen_rct_oids", 0, "out of memory");
    return p;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, 0, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap + 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                die(path, 0, "out of memory");
            buf = nb;
        }
    }
    if (ferror(f))
        die(path, 0, "read error");
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Splits one line (without its newline) into fields; returns the count. */
static int split(const char *path, long line, const char *s, size_t n, char **out) {
    int nf = 0;
    size_t i = 0;
    for (;;) {
        char *fld = xmalloc(n + 1);
        size_t fl = 0;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n)
                    die(path, line, "unterminated quoted field");
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        fld[fl++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                fld[fl++] = s[i++];
            }
            if (i < n && s[i] != ',')
                die(path, line, "text after a quoted field");
        } else {
            while (i < n && s[i] != ',') {
                if (s[i] == '"')
                    die(path, line, "quote inside an unquoted field");
                fld[fl++] = s[i++];
            }
        }
        fld[fl] = '\0';
        if (nf >= NFIELDS)
            die(path, line, "more than %d fields", NFIELDS);
        out[nf++] = fld;
        if (i >= n)
            break;
        i++; /* the comma */
    }
    return nf;
}

static int type_of(const char *path, long line, const char *name) {
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(type_names[i].name, name) == 0)
            return (int)i;
    die(path, line, "unknown data type \"%s\"", name);
}

static int fold_cmp(const char *a, const char *b) {
    for (;; a++, b++) {
        int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
        if (x != y || !x)
            return x - y;
    }
}

static int cmp_id(const void *a, const void *b) {
    const row *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static row *g_rows;

static int cmp_name(const void *a, const void *b) {
    const row *x = &g_rows[*(const uint16_t *)a], *y = &g_rows[*(const uint16_t *)b];
    int c = fold_cmp(x->f[1], y->f[1]);
    return c ? c : strcmp(x->f[1], y->f[1]);
}

/* A C string literal; bytes outside printable ASCII as octal escapes, and
 * '?' escaped so that no trigraph can form. */
static void put_str(FILE *o, const char *s) {
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\' || c == '?')
            fprintf(o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7F)
            fprintf(o, "\\%03o", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s rct_oids.csv OUT.c\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    size_t len;
    char *text = read_all(path, &len);
    row *rows = xmalloc(sizeof *rows * 1024);
    size_t nrows = 0, rcap = 1024;
    int seen_header = 0;
    long line = 0;
    for (size_t pos = 0; pos < len;) {
        size_t e = pos;
        while (e < len && text[e] != '\n')
            e++;
        size_t n = e - pos;
        if (n && text[pos + n - 1] == '\r')
            n--;
        line++;
        const char *s = text + pos;
        pos = e + 1;
        if (n == 0 || s[0] == '#')
            continue;
        char *f[NFIELDS];
        int nf = split(path, line, s, n, f);
        if (nf != NFIELDS)
            die(path, line, "expected %d fields, found %d", NFIELDS, nf);
        if (!seen_header) {
            static const char *const want[NFIELDS] = {"id_hex",       "name",          "group",
                                                      "request_type", "response_type", "unit",
                                                      "description",  "sim_data"};
            for (int k = 0; k < NFIELDS; k++)
                if (strcmp(f[k], want[k]) != 0)
                    die(path, line, "header field %d is \"%s\", expected \"%s\"", k + 1, f[k],
                        want[k]);
            for (int k = 0; k < NFIELDS; k++)
                free(f[k]);
            seen_header = 1;
            continue;
        }
        if (nrows == MAX_ROWS)
            die(path, line, "more than %d objects", MAX_ROWS);
        if (nrows == rcap) {
            rcap *= 2;
            row *nr = realloc(rows, sizeof *rows * rcap);
            if (!nr)
                die(path, line, "out of memory");
            rows = nr;
        }
        row *r = &rows[nrows++];
        memcpy(r->f, f, sizeof f);
        r->line = line;
        const char *h = f[0];
        size_t hl = strlen(h);
        if (hl < 3 || hl > 10 || h[0] != '0' || (h[1] != 'x' && h[1] != 'X'))
            die(path, line, "id \"%s\" is not 0x + 1..8 hex digits", h);
        uint32_t id = 0;
        for (size_t k = 2; k < hl; k++) {
            if (!isxdigit((unsigned char)h[k]))
                die(path, line, "id \"%s\" is not 0x + 1..8 hex digits", h);
            id = id << 4 |
                 (uint32_t)(isdigit((unsigned char)h[k]) ? h[k] - '0'
                                                         : tolower((unsigned char)h[k]) - 'a' + 10);
        }
        r->id = id;
        if (!f[1][0])
            die(path, line, "empty name");
        for (const char *c = f[1]; *c; c++)
            if (*c <= 0x20 || *c >= 0x7F)
                die(path, line, "name \"%s\" is not printable ASCII", f[1]);
        if (!f[2][0])
            die(path, line, "empty group");
        for (const char *c = f[2]; *c; c++)
            if (!(isupper((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_'))
                die(path, line, "group \"%s\" is not an upper-case identifier", f[2]);
        r->req = type_of(path, line, f[3]);
        r->resp = type_of(path, line, f[4]);
    }
    if (!seen_header)
        die(path, 0, "no header line");
    if (nrows == 0)
        die(path, 0, "no objects");

    qsort(rows, nrows, sizeof *rows, cmp_id);
    for (size_t i = 1; i < nrows; i++)
        if (rows[i].id == rows[i - 1].id)
            die(path, rows[i].line, "id 0x%08X also on line %ld", rows[i].id, rows[i - 1].line);
    uint16_t *idx = xmalloc(sizeof *idx * nrows);
    for (size_t i = 0; i < nrows; i++)
        idx[i] = (uint16_t)i;
    g_rows = rows;
    qsort(idx, nrows, sizeof *idx, cmp_name);
    for (size_t i = 1; i < nrows; i++)
        if (fold_cmp(rows[idx[i]].f[1], rows[idx[i - 1]].f[1]) == 0)
            die(path, rows[idx[i]].line, "name \"%s\" (case folded) also on line %ld",
                rows[idx[i]].f[1], rows[idx[i - 1]].line);

    out_path = argv[2];
    FILE *o = fopen(out_path, "w");
    if (!o)
        die(out_path, 0, "cannot create: %s", strerror(errno));
    fprintf(o,
            "/* Generated by tools/gen_rct_oids.c from data/rct_oids.csv (%zu objects).\n"
            " * Do not edit. */\n",
            nrows);
    fprintf(o, "#include \"rct/rct_int.h\"\n\n");
    fprintf(o, "const ew_rct_object ew_rct_objects_gen[] = {\n");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        fprintf(o, "    {0x%08Xu, ", r->id);
        put_str(o, r->f[1]);
        fputs(", ", o);
        put_str(o, r->f[2]);
        fprintf(o, ", %s, %s, ", type_names[r->req].macro, type_names[r->resp].macro);
        put_str(o, r->f[5]);
        fputs(", ", o);
        put_str(o, r->f[6]);
        fputs(", ", o);
        put_str(o, r->f[7]);
        fputs("},\n", o);
    }
    fprintf(o, "};\n\nconst size_t ew_rct_objects_gen_count = %zu;\n\n", nrows);
    fprintf(o, "const uint16_t ew_rct_name_index_gen[] = {");
    for (size_t i = 0; i < nrows; i++)
        fprintf(o, "%s%u,", i % 12 == 0 ? "\n    " : " ", idx[i]);
    fprintf(o, "\n};\n");
    if (fclose(o) != 0)
        die(out_path, 0, "write error");
    for (size_t i = 0; i < nrows; i++)
        for (int k = 0; k < NFIELDS; k++)
            free(rows[i].f[k]);
    free(rows);
    free(idx);
    free(text);
    return 0;
}
