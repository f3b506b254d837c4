/*
 * gen_rscp_tags: turns the RSCP tag dictionary into C tables.
 *
 *   ew_gen_rscp_tags data/rscp_tags.csv data/rscp_units.csv \
 *                    out/rscp_tags_gen.c out/include/energywire/rscp_tags.h
 *
 * Input (docs/protocols/rscp.md §4.2): rscp_tags.csv has '#' comment lines,
 * then the header "tag_hex,name,type,namespace,description", then one row per
 * tag value.  Fields follow RFC 4180 quoting (the description often contains
 * commas and is then quoted); a quoted field must end on its own line.
 * rscp_units.csv has '#' comment lines, the header "tag_name,unit" and one row
 * per tag whose unit is known.
 *
 * Output: rscp_tags_gen.c with the table sorted by id plus an index sorted by
 * upper-case name without "TAG_" (for binary search in src/rscp/tags.c, see
 * src/rscp/tags_int.h), and rscp_tags.h with one EW_RSCP_TAG_<NAME> constant
 * per tag.
 *
 * Checks (each failure prints "file:line: message" and exits with status 1):
 * ids are "0x" + 1..8 hex digits and unique; names are printable ASCII and
 * unique ignoring case and the "TAG_" prefix; types are empty or one of the
 * names of rscp.md §3.2; all rows of one namespace byte carry the same
 * namespace name (rscp.md §4.3); every unit row names a known tag exactly
 * once.
 *
 * Duplicate names: the merged dictionary has two names that belong to two
 * values each (TAG_EEBUS_EMOBILITY_WB_EV_REQ_GET_COMMUNICATION_STANDARD,
 * TAG_LCT_PARAM_DURATION).  In both cases the CSV marks the value that fewer
 * sources use with "treat this value's name as doubtful".  A duplicate is
 * therefore accepted when all but one of its rows carry that mark: the rows
 * all stay in the id table under their CSV name, the unmarked row sorts first
 * in the name index (so a name lookup finds it), and the marked rows' header
 * constants get the id appended ("EW_RSCP_TAG_LCT_PARAM_DURATION__2B00000B").
 * Any other duplicate is an error.
 *
 * Names that are not valid C identifiers (none in the current data) keep
 * their spelling in the table; their header constant replaces each offending
 * character by '_' and, if that collides with another constant, appends the
 * id as above.
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

#define DOUBTFUL_MARK "treat this value's name as doubtful"
#define MAX_TAGS 65535 /* the name index stores uint16_t row numbers */

/* Type names exactly as rscp.md §3.2 and data/rscp_tags.csv spell them. */
static const struct {
    const char *name;
    const char *macro;
    int id;
} type_names[] = {
    {"None", "EW_RSCP_TYPE_NONE", 0x00},           {"Bool", "EW_RSCP_TYPE_BOOL", 0x01},
    {"Char8", "EW_RSCP_TYPE_CHAR8", 0x02},         {"UChar8", "EW_RSCP_TYPE_UCHAR8", 0x03},
    {"Int16", "EW_RSCP_TYPE_INT16", 0x04},         {"UInt16", "EW_RSCP_TYPE_UINT16", 0x05},
    {"Int32", "EW_RSCP_TYPE_INT32", 0x06},         {"UInt32", "EW_RSCP_TYPE_UINT32", 0x07},
    {"Int64", "EW_RSCP_TYPE_INT64", 0x08},         {"UInt64", "EW_RSCP_TYPE_UINT64", 0x09},
    {"Float32", "EW_RSCP_TYPE_FLOAT32", 0x0A},     {"Double64", "EW_RSCP_TYPE_DOUBLE64", 0x0B},
    {"Bitfield", "EW_RSCP_TYPE_BITFIELD", 0x0C},   {"CString", "EW_RSCP_TYPE_CSTRING", 0x0D},
    {"Container", "EW_RSCP_TYPE_CONTAINER", 0x0E}, {"Timestamp", "EW_RSCP_TYPE_TIMESTAMP", 0x0F},
    {"ByteArray", "EW_RSCP_TYPE_BYTEARRAY", 0x10}, {"Error", "EW_RSCP_TYPE_ERROR", 0xFF},
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

/* Constants rscp.h defines by hand; a generated one must not reuse them. */
static const char *const reserved_macros[] = {
    "EW_RSCP_TAG_REQ_AUTHENTICATION",
    "EW_RSCP_TAG_AUTHENTICATION_USER",
    "EW_RSCP_TAG_AUTHENTICATION_PASSWORD",
    "EW_RSCP_TAG_AUTHENTICATION",
    "EW_RSCP_TAG_RESPONSE_BIT",
};

typedef struct tag_row {
    uint32_t id;
    char *name;  /* as in the CSV */
    char *key;   /* upper case, without "TAG_": the lookup key */
    char *macro; /* header constant */
    int type;    /* index into type_names, or -1 */
    char *ns;
    char *unit; /* NULL when none */
    int doubtful;
    int primary;   /* first row of its name in the name index */
    int sanitized; /* the header constant replaced characters of the name */
    long line;
} tag_row;

typedef struct text {
    char *buf;
    size_t len;
    size_t pos;
    long line;
    const char *path;
} text;

static const char *prog = "ew_gen_rscp_tags";
static const char *out_paths[2];

static void cleanup_outputs(void) {
    for (size_t i = 0; i < 2; i++)
        if (out_paths[i])
            remove(out_paths[i]);
}

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
    cleanup_outputs();
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        cleanup_outputs();
        exit(1);
    }
    return p;
}

static char *xstrndup(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void read_file(text *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, 0, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                die(path, 0, "out of memory");
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f))
        die(path, 0, "read error");
    fclose(f);
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            die(path, 0, "file contains a NUL byte");
    t->buf = buf;
    t->len = len;
    t->pos = 0;
    t->line = 0;
    t->path = path;
    /* A UTF-8 byte order mark is not part of the first field. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        t->pos = 3;
}

/* Returns the next line (without "\n" or "\r\n") in |line| and |n|, or 0 at EOF. */
static int next_line(text *t, const char **line, size_t *n) {
    if (t->pos >= t->len)
        return 0;
    const char *s = t->buf + t->pos;
    const char *nl = memchr(s, '\n', t->len - t->pos);
    size_t l = nl ? (size_t)(nl - s) : t->len - t->pos;
    t->pos += l + (nl ? 1 : 0);
    t->line++;
    if (l > 0 && s[l - 1] == '\r')
        l--;
    *line = s;
    *n = l;
    return 1;
}

/*
 * Splits one CSV line into at most |max| fields (RFC 4180: a field that
 * starts with '"' runs to the next lone '"'; "" inside stands for one quote).
 * Returns the number of fields; dies on malformed quoting or too many fields.
 */
static size_t split_csv(const text *t, const char *s, size_t n, char **fields, size_t max) {
    size_t nf = 0, i = 0;
    for (;;) {
        if (nf == max)
            die(t->path, t->line, "more than %zu fields", max);
        char *out = xmalloc(n + 1);
        size_t o = 0;
        if (i < n && s[i] == '"') {
            i++;
            for (;;) {
                if (i >= n) {
                    free(out);
                    die(t->path, t->line,
                        "unterminated quoted field (quoted fields must end on their line)");
                }
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        out[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                out[o++] = s[i++];
            }
            if (i < n && s[i] != ',') {
                free(out);
                die(t->path, t->line, "unexpected character '%c' after a closing quote", s[i]);
            }
        } else {
            while (i < n && s[i] != ',') {
                if (s[i] == '"') {
                    free(out);
                    die(t->path, t->line, "quote inside an unquoted field (quote the whole field)");
                }
                out[o++] = s[i++];
            }
        }
        out[o] = '\0';
        fields[nf++] = out;
        if (i >= n)
            return nf;
        i++; /* the comma */
    }
}

static void free_fields(char **f, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(f[i]);
}

static int is_comment_or_blank(const char *s, size_t n) {
    if (n == 0)
        return 1;
    return s[0] == '#';
}

static int ieq(const char *a, const char *b) {
    while (*a && *b) {
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return 0;
        a++;
        b++;
    }
    return *a == *b;
}

/* Upper-case name without a leading "TAG_" (any case). */
static char *make_key(const char *name) {
    if (strlen(name) > 4 && toupper((unsigned char)name[0]) == 'T' &&
        toupper((unsigned char)name[1]) == 'A' && toupper((unsigned char)name[2]) == 'G' &&
        name[3] == '_')
        name += 4;
    char *k = xstrndup(name, strlen(name));
    for (char *p = k; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return k;
}

static int parse_hex_id(const char *s, uint32_t *out) {
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return -1;
    size_t n = strlen(s + 2);
    if (n < 1 || n > 8)
        return -1;
    uint32_t v = 0;
    for (const char *p = s + 2; *p; p++) {
        int c = (unsigned char)*p, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int is_ident_char(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- loading -------------------------------------------------------------- */

static tag_row *rows;
static size_t nrows;

static void load_tags(const char *path) {
    text t;
    read_file(&t, path);
    const char *line;
    size_t n;
    int have_header = 0;
    size_t cap = 4096;
    rows = xmalloc(cap * sizeof *rows);

    while (next_line(&t, &line, &n)) {
        if (is_comment_or_blank(line, n))
            continue;
        char *f[5];
        size_t nf = split_csv(&t, line, n, f, 5);
        if (!have_header) {
            static const char *const want[5] = {"tag_hex", "name", "type", "namespace",
                                                "description"};
            int ok = nf == 5;
            for (size_t i = 0; ok && i < 5; i++)
                ok = strcmp(f[i], want[i]) == 0;
            if (!ok)
                die(path, t.line,
                    "expected the header \"tag_hex,name,type,namespace,description\"");
            free_fields(f, nf);
            have_header = 1;
            continue;
        }
        if (nf != 5)
            die(path, t.line, "expected 5 fields, found %zu", nf);
        if (nrows == MAX_TAGS)
            die(path, t.line, "more than %d tags", MAX_TAGS);
        if (nrows == cap) {
            cap *= 2;
            tag_row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr)
                die(path, t.line, "out of memory");
            rows = nr;
        }
        tag_row *r = &rows[nrows];
        memset(r, 0, sizeof *r);
        r->line = t.line;
        if (parse_hex_id(f[0], &r->id) != 0)
            die(path, t.line, "bad tag id \"%s\" (want 0x followed by 1 to 8 hex digits)", f[0]);
        if (f[1][0] == '\0')
            die(path, t.line, "empty tag name");
        for (const char *p = f[1]; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7E)
                die(path, t.line, "tag name \"%s\" contains a space, control or non-ASCII byte",
                    f[1]);
        r->name = f[1];
        r->key = make_key(f[1]);
        if (r->key[0] == '\0')
            die(path, t.line, "tag name \"%s\" is empty without its TAG_ prefix", f[1]);
        r->type = -1;
        if (f[2][0] != '\0') {
            for (size_t i = 0; i < NTYPES; i++)
                if (ieq(f[2], type_names[i].name))
                    r->type = (int)i;
            if (r->type < 0)
                die(path, t.line, "unknown type \"%s\" (see rscp.md section 3.2)", f[2]);
        }
        if (f[3][0] == '\0')
            die(path, t.line, "empty namespace");
        for (const char *p = f[3]; *p; p++)
            if (!is_ident_char((unsigned char)*p))
                die(path, t.line, "namespace \"%s\" is not an identifier", f[3]);
        r->ns = f[3];
        r->doubtful = strstr(f[4], DOUBTFUL_MARK) != NULL;
        free(f[0]);
        free(f[2]);
        free(f[4]);
        nrows++;
    }
    if (!have_header)
        die(path, 0, "no header line \"tag_hex,name,type,namespace,description\"");
    if (nrows == 0)
        die(path, 0, "no tags");
    free(t.buf);
}

static int cmp_id(const void *a, const void *b) {
    const tag_row *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Name index order: key, then unmarked before doubtful, then id. */
static int cmp_name_idx(const void *a, const void *b) {
    const tag_row *x = &rows[*(const uint16_t *)a], *y = &rows[*(const uint16_t *)b];
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->doubtful != y->doubtful)
        return x->doubtful - y->doubtful;
    return x->id < y->id ? -1 : x->id > y->id;
}

static uint16_t *by_name;

static void check_tags(const char *path) {
    qsort(rows, nrows, sizeof *rows, cmp_id);
    for (size_t i = 1; i < nrows; i++)
        if (rows[i].id == rows[i - 1].id)
            die(path, rows[i].line, "duplicate tag id 0x%08X (also on line %ld)",
                (unsigned)rows[i].id, rows[i - 1].line);

    /* One namespace name per high byte (rscp.md §4.3). */
    const tag_row *ns_first[256] = {0};
    for (size_t i = 0; i < nrows; i++) {
        unsigned hb = rows[i].id >> 24;
        if (!ns_first[hb])
            ns_first[hb] = &rows[i];
        else if (strcmp(ns_first[hb]->ns, rows[i].ns) != 0)
            die(path, rows[i].line, "namespace \"%s\" differs from \"%s\" (line %ld) for 0x%02X",
                rows[i].ns, ns_first[hb]->ns, ns_first[hb]->line, hb);
    }

    by_name = xmalloc(nrows * sizeof *by_name);
    for (size_t i = 0; i < nrows; i++)
        by_name[i] = (uint16_t)i;
    qsort(by_name, nrows, sizeof *by_name, cmp_name_idx);
    for (size_t i = 0; i < nrows;) {
        size_t j = i + 1;
        while (j < nrows && strcmp(rows[by_name[j]].key, rows[by_name[i]].key) == 0)
            j++;
        size_t unmarked = 0;
        for (size_t k = i; k < j; k++)
            unmarked += !rows[by_name[k]].doubtful;
        if (j - i > 1 && unmarked != 1) {
            const tag_row *a = &rows[by_name[i]], *b = &rows[by_name[i + 1]];
            const tag_row *later = a->line > b->line ? a : b, *earlier = a->line > b->line ? b : a;
            die(path, later->line,
                "duplicate tag name \"%s\" (also on line %ld); only a duplicate whose other "
                "rows say \"%s\" is accepted",
                later->name, earlier->line, DOUBTFUL_MARK);
        }
        rows[by_name[i]].primary = 1;
        i = j;
    }
}

static tag_row *find_by_key(const char *name) {
    char *key = make_key(name);
    size_t lo = 0, hi = nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(rows[by_name[mid]].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    tag_row *r = NULL;
    if (lo < nrows && strcmp(rows[by_name[lo]].key, key) == 0)
        r = &rows[by_name[lo]];
    free(key);
    return r;
}

static void load_units(const char *path) {
    text t;
    read_file(&t, path);
    const char *line;
    size_t n;
    int have_header = 0;
    long *unit_line = xmalloc(nrows * sizeof *unit_line);
    while (next_line(&t, &line, &n)) {
        if (is_comment_or_blank(line, n))
            continue;
        char *f[2];
        size_t nf = split_csv(&t, line, n, f, 2);
        if (!have_header) {
            if (nf != 2 || strcmp(f[0], "tag_name") != 0 || strcmp(f[1], "unit") != 0)
                die(path, t.line, "expected the header \"tag_name,unit\"");
            free_fields(f, nf);
            have_header = 1;
            continue;
        }
        if (nf != 2)
            die(path, t.line, "expected 2 fields, found %zu", nf);
        tag_row *r = find_by_key(f[0]);
        if (!r)
            die(path, t.line, "unknown tag \"%s\"", f[0]);
        if (r->unit)
            die(path, t.line, "second unit for %s (first on line %ld)", r->name,
                unit_line[r - rows]);
        if (f[1][0] == '\0')
            die(path, t.line, "empty unit for %s (leave the tag out instead)", r->name);
        for (const char *p = f[1]; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7F)
                die(path, t.line, "unit of %s contains a control character", r->name);
        r->unit = f[1];
        unit_line[r - rows] = t.line;
        free(f[0]);
    }
    if (!have_header)
        die(path, 0, "no header line \"tag_name,unit\"");
    free(unit_line);
    free(t.buf);
}

/* ---- header constant names -------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_collision(char **sorted) {
    for (size_t i = 0; i < nrows; i++)
        sorted[i] = rows[i].macro;
    qsort(sorted, nrows, sizeof *sorted, cmp_str_ptr);
    for (size_t i = 1; i < nrows; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0)
            return 1;
    return 0;
}

static void make_macros(const char *path) {
    for (size_t i = 0; i < nrows; i++) {
        tag_row *r = &rows[i];
        size_t kl = strlen(r->key);
        char *m = xmalloc(sizeof "EW_RSCP_TAG_" + kl + 32); /* room for two "__%08X" */
        char *p = m + sprintf(m, "EW_RSCP_TAG_");
        for (size_t k = 0; k < kl; k++) {
            int c = (unsigned char)r->key[k];
            if (!is_ident_char(c)) {
                c = '_';
                r->sanitized = 1;
            }
            *p++ = (char)c;
        }
        *p = '\0';
        if (!r->primary)
            sprintf(p, "__%08X", (unsigned)r->id);
        r->macro = m;
    }
    /*
     * Replacing characters may make two constants equal.  The row that keeps
     * the plain constant is the one whose name needed no change, else the
     * lower id; the other gets its id appended.  (O(n^2), but only runs when
     * there is a collision, which the current data never has.)
     */
    char **sorted = xmalloc(nrows * sizeof *sorted);
    if (has_collision(sorted)) {
        for (size_t i = 0; i < nrows; i++)
            for (size_t j = i + 1; j < nrows; j++) {
                if (strcmp(rows[i].macro, rows[j].macro) != 0)
                    continue;
                tag_row *loser = rows[i].sanitized && !rows[j].sanitized ? &rows[i] : &rows[j];
                sprintf(loser->macro + strlen(loser->macro), "__%08X", (unsigned)loser->id);
            }
        if (has_collision(sorted))
            die(path, 0, "cannot make unique header constants (names too similar)");
    }
    free(sorted);
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].sanitized)
            fprintf(stderr, "%s:%ld: warning: tag name \"%s\" is not a C identifier; constant %s\n",
                    path, rows[i].line, rows[i].name, rows[i].macro);
    for (size_t i = 0; i < nrows; i++)
        for (size_t k = 0; k < sizeof reserved_macros / sizeof reserved_macros[0]; k++)
            if (strcmp(rows[i].macro, reserved_macros[k]) == 0)
                die(path, rows[i].line, "constant %s would redefine one in rscp.h", rows[i].macro);
}

/* ---- output ------------------------------------------------------------------- */

/* Last two components of |path| ("data/rscp_tags.csv"), for stable comments. */
static const char *display_path(const char *path) {
    const char *last = NULL, *prev = NULL;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') {
            prev = last;
            last = p;
        }
    return prev ? prev + 1 : path;
}

/* Writes |s| as a C string literal; every byte outside printable ASCII as a
 * three-digit octal escape (which cannot swallow a following digit). */
static void put_cstr(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '?')
            fputs("\\?", f); /* no trigraphs in strict C11 */
        else if (*p < 0x20 || *p > 0x7E)
            fprintf(f, "\\%03o", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static FILE *open_out(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f)
        die(path, 0, "cannot create: %s", strerror(errno));
    return f;
}

static void close_out(FILE *f, const char *path) {
    if (ferror(f) || fclose(f) != 0)
        die(path, 0, "write error");
}

static void write_c(const char *path, const char *tags_path, const char *units_path) {
    FILE *f = open_out(path);
    size_t nunits = 0;
    for (size_t i = 0; i < nrows; i++)
        nunits += rows[i].unit != NULL;
    fprintf(f,
            "/*\n"
            " * Generated by tools/gen_rscp_tags.c from %s and %s.\n"
            " * Do not edit: change the data files instead.\n"
            " *\n"
            " * %zu tags sorted by id; %zu with a unit.  ew_rscp_tags_by_name_ lists the\n"
            " * rows in order of their upper-case name without \"TAG_\" (for equal names\n"
            " * the row the CSV does not mark as doubtful comes first).\n"
            " */\n"
            "#include \"rscp/tags_int.h\"\n\n",
            display_path(tags_path), display_path(units_path), nrows, nunits);
    fprintf(f, "const ew_rscp_tag_info ew_rscp_tags_[%zu] = {\n", nrows);
    for (size_t i = 0; i < nrows; i++) {
        const tag_row *r = &rows[i];
        fprintf(f, "    {0x%08Xu, ", (unsigned)r->id);
        put_cstr(f, r->name);
        fprintf(f, ", %s, ", r->type < 0 ? "-1" : type_names[r->type].macro);
        put_cstr(f, r->ns);
        fputs(", ", f);
        put_cstr(f, r->unit ? r->unit : "");
        fputs("},\n", f);
    }
    fputs("};\n\n", f);
    fprintf(f, "const uint16_t ew_rscp_tags_by_name_[%zu] = {", nrows);
    for (size_t i = 0; i < nrows; i++)
        fprintf(f, "%s%u,", i % 12 == 0 ? "\n    " : " ", (unsigned)by_name[i]);
    fputs("\n};\n\n", f);
    fprintf(f, "const size_t ew_rscp_tags_count_ = %zu;\n", nrows);
    close_out(f, path);
}

static void write_h(const char *path, const char *tags_path) {
    FILE *f = open_out(path);
    fprintf(f,
            "/*\n"
            " * RSCP tag constants, generated by tools/gen_rscp_tags.c from %s.\n"
            " * Do not edit: change the data file instead.\n"
            " *\n"
            " * One constant per tag: EW_RSCP_TAG_ + the name without \"TAG_\" in upper\n"
            " * case.  Where the CSV gives one name to two values, the value it marks as\n"
            " * doubtful gets the id appended (EW_RSCP_TAG_<NAME>__<ID>).  Names, types,\n"
            " * namespaces and units are available at run time through\n"
            " * ew_rscp_tag_by_id() and ew_rscp_tag_by_name() in <energywire/rscp.h>.\n"
            " */\n"
            "#ifndef ENERGYWIRE_RSCP_TAGS_H\n"
            "#define ENERGYWIRE_RSCP_TAGS_H\n\n",
            display_path(tags_path));
    for (size_t i = 0; i < nrows; i++) {
        const tag_row *r = &rows[i];
        if (!r->primary || strcmp(r->name + (strncmp(r->name, "TAG_", 4) == 0 ? 4 : 0),
                                  r->macro + strlen("EW_RSCP_TAG_")) != 0) {
            fputs("/* ", f);
            /* The name is printable ASCII; keep "*" "/" pairs out of the comment. */
            for (const char *p = r->name; *p; p++)
                fputc(p[0] == '*' && p[1] == '/' ? '_' : *p, f);
            fputs(r->primary ? " */\n" : ": name marked doubtful in the CSV */\n", f);
        }
        fprintf(f, "#define %s 0x%08Xu\n", r->macro, (unsigned)r->id);
    }
    fputs("\n#endif\n", f);
    close_out(f, path);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s TAGS.csv UNITS.csv OUT.c OUT.h\n", argc > 0 ? argv[0] : prog);
        return 2;
    }
    load_tags(argv[1]);
    check_tags(argv[1]);
    load_units(argv[2]);
    make_macros(argv[1]);
    out_paths[0] = argv[3];
    write_c(argv[3], argv[1], argv[2]);
    out_paths[1] = argv[4];
    write_h(argv[4], argv[1]);
    return 0;
}
