/*
 * energywire capture FILE: decodes the RSCP, RCT and EP conversations in a
 * pcap or pcapng file with the energywire_capture library and prints every
 * frame (text, or JSON Lines with --json), then a summary.  docs/cli-capture.md
 * describes the options, the filter language and the output.
 */
#include "cli.h"

#include <energywire/capture.h>
#include <energywire/ep.h>
#include <energywire/rct.h>
#include <energywire/rscp.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A capture cut short, unreadable or not a capture file: distinct from the
 * data errors (1) so that scripts can tell a bad file from bad traffic. */
#define EXIT_BADFILE 3

/* Progress is worth showing only for files that take a moment. */
#define PROGRESS_MIN_BYTES (4u * 1024u * 1024u)

static void capture_usage(FILE *out) {
    fputs("usage: energywire capture FILE [options]\n"
          "Decodes the RSCP (TCP 5033/5034), RCT (TCP 8899) and EP (TCP 56540, TLS 1.3)\n"
          "traffic in a pcap or pcapng capture ('-' reads standard input): every frame\n"
          "with time, flow, direction and decoded content, then a summary.\n"
          "  --key-file FILE   read the RSCP key from the first line of FILE\n"
          "  --key KEY         the RSCP key (visible to other users; prefer E3DC_RSCP_KEY)\n"
          "  --keylog FILE     NSS key log for EP over TLS (default: $SSLKEYLOGFILE)\n"
          "  --json            one JSON object per record (JSON Lines); summary on stderr\n"
          "  --filter EXPR     show only matching records: rscp, rct, ep, port N, host ADDR,\n"
          "                    flow N, errors, combined with and, or, not, ( )\n"
          "  --proto PORT=NAME decode TCP port PORT as rscp, rct, ep or none (repeatable)\n"
          "  --show-secrets    show RSCP login passwords instead of ********\n"
          "  --summary-only    print only the summary\n"
          "  --no-progress     no progress bar on stderr\n"
          "environment: E3DC_RSCP_KEY (RSCP key), SSLKEYLOGFILE (key log file)\n"
          "exit codes: 0 the file was read to its end, 1 an unusable key or key log, a\n"
          "  link type not decoded, or out of memory, 2 usage error, 3 file missing, not a capture "
          "or cut\n"
          "  short (everything before the cut is printed)\n",
          out);
}

/* ---- filter language (docs/cli-capture.md "Filters") --------------------- */

typedef enum fnode_kind {
    F_PROTO,
    F_PORT,
    F_HOST,
    F_FLOW,
    F_ERRORS,
    F_AND,
    F_OR,
    F_NOT
} fnode_kind;

typedef struct fnode {
    fnode_kind kind;
    int proto;        /* F_PROTO */
    unsigned long n;  /* F_PORT, F_FLOW */
    int af;           /* F_HOST: AF_INET or AF_INET6 */
    uint8_t addr[16]; /* F_HOST */
    struct fnode *a, *b;
} fnode;

typedef struct fparser {
    char **tok;
    size_t n, pos;
    char err[160];
} fparser;

static void fnode_free(fnode *f) {
    if (!f)
        return;
    fnode_free(f->a);
    fnode_free(f->b);
    free(f);
}

static fnode *fnode_new(fnode_kind k, fnode *a, fnode *b) {
    fnode *f = calloc(1, sizeof *f);
    if (!f) {
        fnode_free(a);
        fnode_free(b);
        return NULL;
    }
    f->kind = k;
    f->a = a;
    f->b = b;
    return f;
}

static const char *fpeek(const fparser *p) {
    return p->pos < p->n ? p->tok[p->pos] : NULL;
}

static int fis(const fparser *p, const char *word) {
    const char *t = fpeek(p);
    return t && !strcasecmp(t, word);
}

static fnode *fparse_or(fparser *p);

static int parse_ulong(const char *s, unsigned long max, unsigned long *out) {
    if (!s || !*s)
        return -1;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || !isdigit((unsigned char)s[0]) || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses "10.0.0.5", "::1" or "[::1]" into |f|. */
static int parse_host(const char *s, fnode *f) {
    char buf[64];
    size_t n = strlen(s);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n + 1);
    if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') {
        buf[n - 1] = '\0';
        memmove(buf, buf + 1, n - 1);
    }
    if (inet_pton(AF_INET, buf, f->addr) == 1) {
        f->af = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, f->addr) == 1) {
        f->af = AF_INET6;
        return 0;
    }
    return -1;
}

static fnode *fparse_primary(fparser *p) {
    const char *t = fpeek(p);
    if (!t) {
        snprintf(p->err, sizeof p->err, "the expression ends too early");
        return NULL;
    }
    p->pos++;
    if (!strcmp(t, "(")) {
        fnode *e = fparse_or(p);
        if (!e)
            return NULL;
        if (!fis(p, ")")) {
            snprintf(p->err, sizeof p->err, "missing ')'");
            fnode_free(e);
            return NULL;
        }
        p->pos++;
        return e;
    }
    if (!strcasecmp(t, "not")) {
        fnode *e = fparse_primary(p);
        return e ? fnode_new(F_NOT, e, NULL) : NULL;
    }
    int proto = ew_cap_proto_parse(t);
    if (proto > 0) {
        fnode *f = fnode_new(F_PROTO, NULL, NULL);
        if (f)
            f->proto = proto;
        return f;
    }
    if (!strcasecmp(t, "errors"))
        return fnode_new(F_ERRORS, NULL, NULL);
    if (!strcasecmp(t, "port") || !strcasecmp(t, "flow") || !strcasecmp(t, "host")) {
        const char *v = fpeek(p);
        if (!v || !strcmp(v, "(") || !strcmp(v, ")")) {
            snprintf(p->err, sizeof p->err, "'%s' needs a value", t);
            return NULL;
        }
        p->pos++;
        fnode *f = fnode_new(F_PORT, NULL, NULL);
        if (!f)
            return NULL;
        int bad;
        if (!strcasecmp(t, "port")) {
            bad = parse_ulong(v, 65535, &f->n);
        } else if (!strcasecmp(t, "flow")) {
            f->kind = F_FLOW;
            bad = parse_ulong(v, (unsigned long)-1, &f->n);
        } else {
            f->kind = F_HOST;
            bad = parse_host(v, f);
        }
        if (bad) {
            snprintf(p->err, sizeof p->err, "'%s %s': not a valid %s", t, v,
                     t[0] == 'h' || t[0] == 'H' ? "IPv4 or IPv6 address" : "number");
            fnode_free(f);
            return NULL;
        }
        return f;
    }
    snprintf(p->err, sizeof p->err, "unknown word '%s'", t);
    return NULL;
}

/* One level of "X word X word X ...", left-associative: |word| joins the
 * operands parsed by |operand| into nodes of type |type|. */
static fnode *fparse_chain(fparser *p, const char *word, fnode_kind type,
                           fnode *(*operand)(fparser *)) {
    fnode *l = operand(p);
    while (l && fis(p, word)) {
        p->pos++;
        fnode *r = operand(p);
        if (!r) {
            fnode_free(l);
            return NULL;
        }
        l = fnode_new(type, l, r);
    }
    return l;
}

static fnode *fparse_and(fparser *p) {
    return fparse_chain(p, "and", F_AND, fparse_primary);
}

static fnode *fparse_or(fparser *p) {
    return fparse_chain(p, "or", F_OR, fparse_and);
}

/* Compiles |text|; on a syntax error prints it and returns NULL with
 * *bad = 1. */
static fnode *filter_compile(const char *text, int *bad) {
    *bad = 0;
    size_t len = strlen(text);
    /* Words are separated by blanks; parentheses are words of their own. */
    char *buf = malloc(3 * len + 1);
    char **tok = calloc(len + 1, sizeof *tok);
    fparser p = {.tok = tok};
    fnode *f = NULL;
    if (!buf || !tok) {
        cli_err("out of memory");
        *bad = 1;
        goto out;
    }
    char *w = buf;
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)text[i];
        if (isspace(ch)) {
            i++;
            continue;
        }
        tok[p.n++] = w;
        if (ch == '(' || ch == ')') {
            *w++ = (char)ch;
            i++;
        } else {
            while (i < len && !isspace((unsigned char)text[i]) && text[i] != '(' && text[i] != ')')
                *w++ = text[i++];
        }
        *w++ = '\0';
    }
    if (p.n == 0) {
        cli_err("--filter: empty expression");
        *bad = 1;
        goto out;
    }
    f = fparse_or(&p);
    if (f && p.pos < p.n) {
        snprintf(p.err, sizeof p.err, "unexpected '%s'", p.tok[p.pos]);
        fnode_free(f);
        f = NULL;
    }
    if (!f) {
        cli_err("--filter: %s (see docs/cli-capture.md)", p.err[0] ? p.err : "out of memory");
        *bad = 1;
    }
out:
    free(buf);
    free(tok);
    return f;
}

/* Splits "a.b.c.d:port" or "[v6]:port" into address and port. */
static int endpoint_parse(const char *s, int *af, uint8_t addr[16], unsigned long *port) {
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (parse_ulong(colon + 1, 65535, port) != 0)
        return -1;
    if (inet_pton(AF_INET, host, addr) == 1)
        *af = AF_INET;
    else if (inet_pton(AF_INET6, host, addr) == 1)
        *af = AF_INET6;
    else
        return -1;
    return 0;
}

static int endpoint_match(const fnode *f, const char *ep) {
    int af;
    uint8_t addr[16];
    unsigned long port;
    if (endpoint_parse(ep, &af, addr, &port) != 0)
        return 0;
    if (f->kind == F_PORT)
        return port == f->n;
    return af == f->af && !memcmp(addr, f->addr, af == AF_INET ? 4 : 16);
}

static int filter_match(const fnode *f, const ew_cap_record *r) {
    if (!f)
        return 1;
    switch (f->kind) {
    case F_PROTO:
        return r->flow && (int)r->flow->proto == f->proto;
    case F_PORT:
    case F_HOST:
        return r->flow &&
               (endpoint_match(f, r->flow->client) || endpoint_match(f, r->flow->device));
    case F_FLOW:
        return r->flow && r->flow->id == f->n;
    case F_ERRORS:
        if (r->type == EW_CAP_REC_ERROR || r->type == EW_CAP_REC_GAP)
            return 1;
        if (r->type != EW_CAP_REC_FRAME || !r->flow)
            return 0;
        if (r->flow->proto == EW_CAP_PROTO_RSCP)
            return !r->ok;
        return r->flow->proto == EW_CAP_PROTO_RCT &&
               (r->rct_flags & (EW_CAP_RCT_CRC_BAD | EW_CAP_RCT_TRUNCATED));
    case F_AND:
        return filter_match(f->a, r) && filter_match(f->b, r);
    case F_OR:
        return filter_match(f->a, r) || filter_match(f->b, r);
    case F_NOT:
        return !filter_match(f->a, r);
    }
    return 0;
}

/* ---- output --------------------------------------------------------------- */

typedef struct cap_out {
    int json, show_secrets, summary_only;
    fnode *filter;
    uint64_t shown;
    /* Scratch buffers for the formatters, grown on demand. */
    char *text;
    size_t text_cap;
    uint8_t *rct_buf; /* receiver buffer, EW_RCT_FRAME_MAX */
    uint8_t *esc;     /* re-escaped RCT frame */
    size_t esc_cap;
    int failed;          /* out of memory while printing */
    const char *raw_key; /* JSON: o->text goes into the line under this key */
    /* Progress bar. */
    int progress, bar_shown, last_pct;
} cap_out;

static const char *dir_name(int dir) {
    return dir == EW_CAP_FROM_DEVICE ? "device->client"
           : dir == EW_CAP_BOTH      ? "both"
                                     : "client->device";
}

static const char *rec_name(ew_cap_rec_type t) {
    switch (t) {
    case EW_CAP_REC_FLOW:
        return "flow";
    case EW_CAP_REC_FRAME:
        return "frame";
    case EW_CAP_REC_GAP:
        return "gap";
    case EW_CAP_REC_ERROR:
        return "error";
    case EW_CAP_REC_TLS:
        return "tls";
    case EW_CAP_REC_FLOW_END:
        return "flow_end";
    }
    return "?";
}

/* "2026-11-21T12:00:00.123Z": capture times in UTC to the millisecond. */
static void fmt_time(uint64_t ts_us, char *out, size_t cap) {
    time_t s = (time_t)(ts_us / 1000000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, cap, "@%llu", (unsigned long long)ts_us);
        return;
    }
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03uZ", day, (unsigned)(ts_us % 1000000u / 1000u));
}

/* Makes room for |need| bytes in o->text. */
static int text_reserve(cap_out *o, size_t need) {
    if (need <= o->text_cap)
        return 0;
    char *t = realloc(o->text, need);
    if (!t) {
        o->failed = 1;
        return -1;
    }
    o->text = t;
    o->text_cap = need;
    return 0;
}

/* Prints text with every line indented by |ind| spaces. */
static void print_indented(const char *text, int ind) {
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        printf("%*s%.*s\n", ind, "", (int)n, text);
        text += n + (nl ? 1 : 0);
    }
}

/* The codecs' formatters write JSON text themselves (numbers in their
 * shortest exact form, 64-bit integers whole); it is appended to the line
 * as it is, under |key|, instead of going through jansson's doubles. */
static void json_raw(cap_out *o, const char *key) {
    o->raw_key = key;
}

static void json_hex(json_t *obj, const char *key, const uint8_t *p, size_t n) {
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return;
    ew_hex_encode(p, n, hex, 2 * n + 1);
    json_object_set_new(obj, key, json_string(hex));
    free(hex);
}

/* RSCP: the frame header and the value tree (passwords masked unless
 * --show-secrets, through the printer's own flag). */
static void out_rscp(cap_out *o, const ew_cap_record *r, json_t *j) {
    ew_rscp_frame f;
    ew_diag d = {0};
    int rc = ew_rscp_frame_decode(r->frame.ptr, r->frame.len, &f, EW_RSCP_DECODE_FINAL, &d);
    if (rc < 0 && rc != EW_ERR_CRC) {
        char msg[200];
        ew_diag_format(&d, msg, sizeof msg);
        if (j) {
            json_object_set_new(j, "error", json_string(ew_errname(rc)));
            json_object_set_new(j, "message", json_string(msg));
            json_hex(j, "hex", r->frame.ptr, r->frame.len);
        } else {
            printf("  undecodable frame (%zu bytes): %s\n", r->frame.len, msg);
        }
        return;
    }
    unsigned flags = o->show_secrets ? EW_RSCP_PRINT_SECRETS : 0;
    int (*print)(const uint8_t *, size_t, unsigned, unsigned, char *, size_t, size_t *, ew_diag *) =
        j ? ew_rscp_print_json : ew_rscp_print_text;
    if (!j)
        flags |= EW_RSCP_PRINT_TYPES;
    size_t need = 0;
    if (text_reserve(o, 4096) != 0)
        return;
    ew_diag pd = {0};
    int pr = print(f.data, f.data_len, 0, flags, o->text, o->text_cap, &need, &pd);
    if (pr == EW_ERR_NOBUF) {
        if (text_reserve(o, need) != 0)
            return;
        pr = print(f.data, f.data_len, 0, flags, o->text, o->text_cap, &need, &pd);
    }
    char when[48];
    ew_time_format(f.ts.seconds, f.ts.nanoseconds, when, sizeof when);
    const char *crc = rc == EW_ERR_CRC ? "mismatch" : f.has_crc ? "ok" : "none";
    if (j) {
        json_object_set_new(j, "length", json_integer((json_int_t)f.frame_len));
        json_object_set_new(j, "frame_time", json_string(when));
        json_object_set_new(j, "crc", json_string(crc));
        if (pr == EW_ERR_NOBUF)
            json_object_set_new(j, "values", json_null());
        else
            json_raw(o, "values");
    } else {
        printf("  frame time %s, %zu bytes, CRC %s\n", when, f.frame_len, crc);
        if (pr != EW_ERR_NOBUF)
            print_indented(o->text, 4);
    }
}

/* Names of the RCT fault flags set in |flags|. */
static const char *const rct_flag_names[] = {"crc_bad", "truncated", "unanswered", "unsolicited"};

/* RCT: the record holds the frame unescaped; the receiver wants it as on the
 * wire, so escape it again (rct.md §5.1) and let the codec decode it. */
static void out_rct(cap_out *o, const ew_cap_record *r, json_t *j) {
    const uint8_t *p = r->frame.ptr;
    size_t n = r->frame.len;
    if (n >= 2 && p[0] == EW_RCT_START && p[1] == EW_RCT_CMD_EXTENSION) {
        unsigned arg = n >= 3 ? p[2] : 0;
        if (j) {
            json_object_set_new(j, "command", json_string("EXTENSION"));
            json_object_set_new(j, "argument", json_integer(arg));
        } else
            printf("  EXTENSION 0x%02X\n", arg);
        return;
    }
    if (2 * n + 1 > o->esc_cap) {
        uint8_t *e = realloc(o->esc, 2 * n + 1);
        if (!e) {
            o->failed = 1;
            return;
        }
        o->esc = e;
        o->esc_cap = 2 * n + 1;
    }
    size_t en = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (p[i] == EW_RCT_START || p[i] == EW_RCT_ESCAPE))
            o->esc[en++] = EW_RCT_ESCAPE;
        o->esc[en++] = p[i];
    }
    ew_rct_rx rx;
    ew_rct_frame f;
    size_t used;
    ew_diag d = {0};
    int rc = ew_rct_rx_init(&rx, o->rct_buf, EW_RCT_FRAME_MAX);
    if (rc == EW_OK)
        rc = ew_rct_rx_feed(&rx, o->esc, en, &used, &f, &d);
    if (rc != EW_OK && rc != EW_ERR_CRC) {
        if (j) {
            json_object_set_new(j, "error", json_string(ew_errname(rc)));
            json_hex(j, "hex", p, n);
        } else
            printf("  undecodable RCT frame (%zu bytes): %s\n", n, ew_strerror(rc));
        return;
    }
    const char *cmd = ew_rct_cmd_name(f.command);
    const ew_rct_object *obj = ew_rct_object_by_id(f.id);
    int type = ew_rct_type_for(f.id, f.command);
    int has_value = f.payload.len > 0;
    int fr = 0;
    if (has_value && text_reserve(o, 4096) == 0) {
        ew_diag vd = {0};
        unsigned ff = j ? EW_RCT_FMT_JSON : 0;
        fr = ew_rct_value_format(type, f.payload.ptr, f.payload.len, ff, o->text, o->text_cap, &vd);
        if (fr >= 0 && (size_t)fr >= o->text_cap && text_reserve(o, (size_t)fr + 1) == 0)
            fr = ew_rct_value_format(type, f.payload.ptr, f.payload.len, ff, o->text, o->text_cap,
                                     &vd);
    }
    if (o->failed)
        return;
    int crc_bad = rc == EW_ERR_CRC || (r->rct_flags & EW_CAP_RCT_CRC_BAD);
    int64_t latency_us = -1;
    if (r->rct_request_ts_us && r->ts_us >= r->rct_request_ts_us)
        latency_us = (int64_t)(r->ts_us - r->rct_request_ts_us);
    if (j) {
        char id[16];
        snprintf(id, sizeof id, "0x%08lX", (unsigned long)f.id);
        json_object_set_new(j, "command", json_string(cmd ? cmd : "?"));
        json_object_set_new(j, "id", json_string(id));
        json_object_set_new(j, "name", obj ? json_string(obj->name) : json_null());
        if (f.plant)
            json_object_set_new(j, "address", json_integer(f.address));
        json_object_set_new(j, "crc", json_string(crc_bad ? "mismatch" : "ok"));
        if (has_value) {
            if (fr < 0)
                json_object_set_new(j, "value", json_null());
            else
                json_raw(o, "value");
            if (obj && obj->unit[0])
                json_object_set_new(j, "unit", json_string(obj->unit));
            if (fr < 0)
                json_object_set_new(j, "value_error", json_string("payload does not fit its type"));
        }
        if (latency_us >= 0)
            json_object_set_new(j, "latency_us", json_integer((json_int_t)latency_us));
        json_t *fl = json_array();
        for (unsigned b = 0; b < 4; b++)
            if (r->rct_flags & (1u << b))
                json_array_append_new(fl, json_string(rct_flag_names[b]));
        json_object_set_new(j, "flags", fl);
        return;
    }
    printf("  %s %s (0x%08lX)", cmd ? cmd : "?", obj ? obj->name : "unknown object",
           (unsigned long)f.id);
    if (f.plant)
        printf(" address %lu", (unsigned long)f.address);
    if (has_value)
        printf(" = %s%s%s", o->text, obj && obj->unit[0] ? " " : "", obj ? obj->unit : "");
    if (fr < 0)
        printf(" (payload does not fit %s)", ew_rct_type_name(type));
    printf(", CRC %s", crc_bad ? "MISMATCH" : "ok");
    if (latency_us >= 0)
        printf(", answered after %.3f ms", (double)latency_us / 1000.0);
    putchar('\n');
    if (r->rct_flags & EW_CAP_RCT_TRUNCATED)
        printf("  device fault: payload shorter than the type needs (CRC valid)\n");
    if (r->rct_flags & EW_CAP_RCT_UNANSWERED)
        printf("  no response matched this request\n");
    if (r->rct_flags & EW_CAP_RCT_UNSOLICITED)
        printf("  response without a matching request\n");
}

/* EP: message type and fields through the codec's formatter. */
static void out_ep(cap_out *o, const ew_cap_record *r, json_t *j) {
    ew_ep_frame f;
    ew_ep_msg m;
    ew_diag d = {0};
    int rc = ew_ep_frame_decode(r->frame.ptr, r->frame.len, 0, &f, &d);
    if (rc >= 0)
        rc = ew_ep_msg_decode_frame(&f, &m, &d);
    if (rc < 0) {
        char msg[200];
        ew_diag_format(&d, msg, sizeof msg);
        if (j) {
            json_object_set_new(j, "error", json_string(ew_errname(rc)));
            json_object_set_new(j, "message", json_string(msg));
            json_hex(j, "hex", r->frame.ptr, r->frame.len);
        } else
            printf("  undecodable EP frame (%zu bytes): %s\n", r->frame.len, msg);
        return;
    }
    unsigned ff = j ? EW_EP_FMT_JSON : 0;
    if (text_reserve(o, 4096) != 0)
        return;
    int n = ew_ep_msg_format(&m, ff, o->text, o->text_cap);
    if (n >= 0 && (size_t)n >= o->text_cap) {
        if (text_reserve(o, (size_t)n + 1) != 0)
            return;
        n = ew_ep_msg_format(&m, ff, o->text, o->text_cap);
    }
    if (j) {
        json_object_set_new(j, "length", json_integer((json_int_t)f.frame_len));
        json_raw(o, "message");
        return;
    }
    printf("  %s\n", o->text);
}

static void clear_bar(cap_out *o) {
    if (o->bar_shown) {
        fputs("\r\033[K", stderr);
        o->bar_shown = 0;
        o->last_pct = -1;
    }
}

static void on_record(void *user, const ew_cap_record *r) {
    cap_out *o = user;
    if (o->summary_only || o->failed || !filter_match(o->filter, r))
        return;
    o->shown++;
    clear_bar(o);
    char when[48];
    fmt_time(r->ts_us, when, sizeof when);
    const ew_cap_flow *fl = r->flow;
    const char *proto = fl ? ew_cap_proto_name(fl->proto) : "none";
    if (o->json) {
        json_t *j = json_object();
        if (!j) {
            o->failed = 1;
            return;
        }
        json_object_set_new(j, "time", json_string(when));
        json_object_set_new(j, "ts_us", json_integer((json_int_t)r->ts_us));
        json_object_set_new(j, "type", json_string(rec_name(r->type)));
        if (fl)
            json_object_set_new(j, "flow", json_integer((json_int_t)fl->id));
        json_object_set_new(j, "proto", json_string(proto));
        if (r->type != EW_CAP_REC_FLOW && r->type != EW_CAP_REC_FLOW_END)
            json_object_set_new(j, "dir", json_string(dir_name(r->dir)));
        switch (r->type) {
        case EW_CAP_REC_FLOW:
        case EW_CAP_REC_FLOW_END:
            if (fl) {
                json_object_set_new(j, "client", json_string(fl->client));
                json_object_set_new(j, "device", json_string(fl->device));
            }
            if (r->type == EW_CAP_REC_FLOW_END && fl) {
                json_object_set_new(j, "start_seen", json_boolean(fl->saw_syn));
                json_object_set_new(j, "tls", json_boolean(fl->tls));
                static const char *const dk[2] = {"to_device", "from_device"};
                for (int d = 0; d < 2; d++) {
                    json_t *c = json_object();
                    json_object_set_new(c, "bytes", json_integer((json_int_t)fl->bytes[d]));
                    json_object_set_new(c, "frames", json_integer((json_int_t)fl->frames[d]));
                    json_object_set_new(c, "gaps", json_integer((json_int_t)fl->gaps[d]));
                    json_object_set_new(c, "gap_bytes", json_integer((json_int_t)fl->gap_bytes[d]));
                    json_object_set_new(c, "errors", json_integer((json_int_t)fl->errors[d]));
                    json_object_set_new(j, dk[d], c);
                }
            }
            break;
        case EW_CAP_REC_FRAME:
            json_object_set_new(j, "stream_offset", json_integer((json_int_t)r->stream_off));
            if (fl && fl->proto == EW_CAP_PROTO_RSCP)
                out_rscp(o, r, j);
            else if (fl && fl->proto == EW_CAP_PROTO_RCT)
                out_rct(o, r, j);
            else if (fl && fl->proto == EW_CAP_PROTO_EP)
                out_ep(o, r, j);
            else
                json_hex(j, "hex", r->frame.ptr, r->frame.len);
            break;
        case EW_CAP_REC_GAP:
            json_object_set_new(j, "stream_offset", json_integer((json_int_t)r->stream_off));
            json_object_set_new(j, "gap_bytes", json_integer((json_int_t)r->gap_bytes));
            break;
        case EW_CAP_REC_ERROR:
            json_object_set_new(j, "stream_offset", json_integer((json_int_t)r->stream_off));
            json_object_set_new(j, "error", json_string(ew_errname(r->err)));
            json_object_set_new(j, "message",
                                json_string(r->detail ? r->detail : ew_strerror(r->err)));
            break;
        case EW_CAP_REC_TLS:
            json_object_set_new(j, "detail", json_string(r->detail ? r->detail : ""));
            break;
        }
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        json_decref(j);
        if (!line) {
            o->failed = 1;
            o->raw_key = NULL;
            return;
        }
        if (o->raw_key) {
            /* line ends in '}': insert ,"key":<formatter JSON> before it. */
            line[strlen(line) - 1] = '\0';
            printf("%s,\"%s\":%s}\n", line, o->raw_key, o->text);
            o->raw_key = NULL;
        } else
            puts(line);
        free(line);
        return;
    }
    unsigned long long id = fl ? (unsigned long long)fl->id : 0;
    switch (r->type) {
    case EW_CAP_REC_FLOW:
        printf("%s flow %llu: %s %s -> %s\n", when, id, proto, fl ? fl->client : "?",
               fl ? fl->device : "?");
        break;
    case EW_CAP_REC_FLOW_END:
        printf("%s flow %llu end: %s", when, id, proto);
        /* Only now is it certain whether the handshake was in the capture. */
        if (fl && !fl->saw_syn)
            printf(" (connection started before the capture)");
        if (fl)
            printf(", client->device %llu bytes %llu frames, device->client %llu bytes %llu "
                   "frames, %llu gaps, %llu errors",
                   (unsigned long long)fl->bytes[0], (unsigned long long)fl->frames[0],
                   (unsigned long long)fl->bytes[1], (unsigned long long)fl->frames[1],
                   (unsigned long long)(fl->gaps[0] + fl->gaps[1]),
                   (unsigned long long)(fl->errors[0] + fl->errors[1]));
        putchar('\n');
        break;
    case EW_CAP_REC_FRAME:
        printf("%s flow %llu %s %s frame\n", when, id, dir_name(r->dir), proto);
        if (fl && fl->proto == EW_CAP_PROTO_RSCP)
            out_rscp(o, r, NULL);
        else if (fl && fl->proto == EW_CAP_PROTO_RCT)
            out_rct(o, r, NULL);
        else if (fl && fl->proto == EW_CAP_PROTO_EP)
            out_ep(o, r, NULL);
        break;
    case EW_CAP_REC_GAP:
        printf("%s flow %llu %s %s GAP: %llu bytes missing at stream offset %llu\n", when, id,
               dir_name(r->dir), proto, (unsigned long long)r->gap_bytes,
               (unsigned long long)r->stream_off);
        break;
    case EW_CAP_REC_ERROR:
        printf("%s flow %llu %s %s ERROR %s: %s\n", when, id, dir_name(r->dir), proto,
               ew_errname(r->err), r->detail ? r->detail : ew_strerror(r->err));
        break;
    case EW_CAP_REC_TLS:
        printf("%s flow %llu %s %s TLS: %s\n", when, id, dir_name(r->dir), proto,
               r->detail ? r->detail : "");
        break;
    }
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    cap_out *o = user;
    if (!o->progress || total < PROGRESS_MIN_BYTES)
        return;
    int pct = (int)(done >= total ? 100 : done * 100 / total);
    if (pct == o->last_pct)
        return;
    o->last_pct = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %.1f/%.1f MB", bar, pct, (double)done / 1e6, (double)total / 1e6);
    fflush(stderr);
    o->bar_shown = 1;
}

/* ---- summary ------------------------------------------------------------- */

static void print_summary(const ew_cap_stats *st, const cap_out *o, int read_rc,
                          const char *detail) {
    static const char *const pn[4] = {"none", "rscp", "rct", "ep"};
    if (o->json) {
        json_t *j = json_object();
        json_t *fl = json_object(), *fr = json_object(), *er = json_object();
        json_object_set_new(j, "summary", json_true());
        json_object_set_new(j, "complete", json_boolean(read_rc == EW_OK));
        if (read_rc != EW_OK) {
            json_object_set_new(j, "read_error", json_string(ew_errname(read_rc)));
            json_object_set_new(j, "read_message", json_string(detail ? detail : ""));
        }
        json_object_set_new(j, "packets", json_integer((json_int_t)st->packets));
        json_object_set_new(j, "bytes", json_integer((json_int_t)st->bytes));
        json_object_set_new(j, "skipped_packets", json_integer((json_int_t)st->skipped));
        json_object_set_new(j, "flows", json_integer((json_int_t)st->flows));
        for (int p = 0; p < 4; p++) {
            json_object_set_new(fl, pn[p], json_integer((json_int_t)st->flows_by_proto[p]));
            json_object_set_new(fr, pn[p], json_integer((json_int_t)st->frames_by_proto[p]));
        }
        json_object_set_new(j, "flows_by_proto", fl);
        json_object_set_new(j, "frames_by_proto", fr);
        json_object_set_new(j, "errors", json_integer((json_int_t)st->errors));
        for (int i = 1; i < 64; i++)
            if (st->errors_by_code[i])
                json_object_set_new(er, ew_errname(-i),
                                    json_integer((json_int_t)st->errors_by_code[i]));
        json_object_set_new(j, "errors_by_kind", er);
        json_object_set_new(j, "gaps", json_integer((json_int_t)st->gaps));
        json_object_set_new(j, "gap_bytes", json_integer((json_int_t)st->gap_bytes));
        json_object_set_new(j, "retransmissions", json_integer((json_int_t)st->retransmitted));
        json_object_set_new(j, "out_of_order", json_integer((json_int_t)st->out_of_order));
        json_object_set_new(j, "records_shown", json_integer((json_int_t)o->shown));
        char *line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        json_decref(j);
        if (line) {
            fprintf(stderr, "%s\n", line);
            free(line);
        }
        return;
    }
    FILE *out = stdout;
    fprintf(out, "summary:%s\n", read_rc == EW_OK ? "" : " (capture incomplete)");
    fprintf(out, "  packets %llu (%llu bytes), %llu not TCP/IP or cut short\n",
            (unsigned long long)st->packets, (unsigned long long)st->bytes,
            (unsigned long long)st->skipped);
    fprintf(out, "  flows %llu:", (unsigned long long)st->flows);
    for (int p = 1; p < 4; p++)
        fprintf(out, " %s %llu,", pn[p], (unsigned long long)st->flows_by_proto[p]);
    fprintf(out, " other %llu\n", (unsigned long long)st->flows_by_proto[0]);
    fprintf(out, "  frames:");
    for (int p = 1; p < 4; p++)
        fprintf(out, " %s %llu%s", pn[p], (unsigned long long)st->frames_by_proto[p],
                p < 3 ? "," : "\n");
    fprintf(out, "  errors %llu", (unsigned long long)st->errors);
    const char *sep = ": ";
    for (int i = 1; i < 64; i++)
        if (st->errors_by_code[i]) {
            fprintf(out, "%s%s %llu", sep, ew_errname(-i),
                    (unsigned long long)st->errors_by_code[i]);
            sep = ", ";
        }
    fputc('\n', out);
    fprintf(out, "  gaps %llu (%llu bytes), retransmissions %llu, out of order %llu\n",
            (unsigned long long)st->gaps, (unsigned long long)st->gap_bytes,
            (unsigned long long)st->retransmitted, (unsigned long long)st->out_of_order);
    if (!o->summary_only)
        fprintf(out, "  records shown %llu\n", (unsigned long long)o->shown);
    if (read_rc != EW_OK)
        fprintf(out, "  read error: %s%s%s\n", ew_strerror(read_rc), detail && *detail ? ": " : "",
                detail ? detail : "");
}

/* ---- command ------------------------------------------------------------- */

static int parse_proto_map(const char *arg, ew_cap_opts *co) {
    const char *eq = strchr(arg, '=');
    char port[8];
    unsigned long pv;
    if (!eq || (size_t)(eq - arg) >= sizeof port)
        return -1;
    memcpy(port, arg, (size_t)(eq - arg));
    port[eq - arg] = '\0';
    if (parse_ulong(port, 65535, &pv) != 0 || pv == 0)
        return -1;
    int proto = !strcasecmp(eq + 1, "none") ? EW_CAP_PROTO_NONE : ew_cap_proto_parse(eq + 1);
    if (proto < 0)
        return -1;
    if (co->n_ports >= EW_CAP_MAX_PORT_MAP)
        return -2;
    co->ports[co->n_ports].port = (uint16_t)pv;
    co->ports[co->n_ports].proto = (ew_cap_proto)proto;
    co->n_ports++;
    return 0;
}

int cmd_capture(int argc, char **argv) {
    const char *path = NULL, *key_arg = NULL, *key_file = NULL, *keylog_path = NULL;
    const char *filter_text = NULL;
    int no_progress = 0;
    cap_out o = {.last_pct = -1};
    ew_cap_opts co;
    ew_cap_opts_init(&co);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = !strcmp(a, "--key") || !strcmp(a, "--key-file") || !strcmp(a, "--keylog") ||
                    !strcmp(a, "--filter") || !strcmp(a, "--proto");
        if (takes && i + 1 >= argc) {
            cli_err("capture: %s needs a value", a);
            return EXIT_USAGE;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            capture_usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--json"))
            o.json = 1;
        else if (!strcmp(a, "--show-secrets"))
            o.show_secrets = 1;
        else if (!strcmp(a, "--summary-only"))
            o.summary_only = 1;
        else if (!strcmp(a, "--no-progress"))
            no_progress = 1;
        else if (!strcmp(a, "--key"))
            key_arg = argv[++i];
        else if (!strcmp(a, "--key-file"))
            key_file = argv[++i];
        else if (!strcmp(a, "--keylog"))
            keylog_path = argv[++i];
        else if (!strcmp(a, "--filter"))
            filter_text = argv[++i];
        else if (!strcmp(a, "--proto")) {
            int pr = parse_proto_map(argv[++i], &co);
            if (pr != 0) {
                if (pr == -2)
                    cli_err("capture: at most %d --proto options", EW_CAP_MAX_PORT_MAP);
                else
                    cli_err("capture: --proto wants PORT=NAME with NAME rscp, rct, ep or none, "
                            "not '%s'",
                            argv[i]);
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_err("capture: unknown option '%s'", a);
            capture_usage(stderr);
            return EXIT_USAGE;
        } else if (path) {
            cli_err("capture: one capture file at a time ('%s' and '%s')", path, a);
            return EXIT_USAGE;
        } else
            path = a;
    }
    if (!path) {
        capture_usage(stderr);
        return EXIT_USAGE;
    }
    int bad_filter = 0;
    if (filter_text) {
        o.filter = filter_compile(filter_text, &bad_filter);
        if (bad_filter)
            return EXIT_USAGE;
    }

    int rc = EXIT_FAIL, failed = 0;
    char *key = NULL, *keylog = NULL;
    ew_cap *cap = NULL;
    key = cli_secret("RSCP key", key_arg, key_file, "E3DC_RSCP_KEY", &failed);
    if (failed)
        goto out;
    if (key && strlen(key) > EW_RSCP_KEY_LEN) {
        /* The decoder refuses longer keys; devices use the first 32 bytes
         * (rscp.md §5.2, ew_rscp_key_derive()). */
        cli_warn("the RSCP key is longer than 32 bytes; using its first 32 bytes as E3/DC "
                 "devices do");
        /* Cut, wiping the tail (cli_secret_free() wipes up to the NUL). */
        memset(key + EW_RSCP_KEY_LEN, 0, strlen(key) - EW_RSCP_KEY_LEN);
    }
    if (!keylog_path) {
        const char *env = getenv("SSLKEYLOGFILE");
        if (env && *env)
            keylog_path = env;
    }
    size_t keylog_len = 0;
    if (keylog_path) {
        keylog = cli_read_file(keylog_path, &keylog_len);
        if (!keylog)
            goto out;
    }
    o.rct_buf = malloc(EW_RCT_FRAME_MAX);
    if (!o.rct_buf) {
        cli_err("out of memory");
        goto out;
    }
    co.rscp_key = key;
    co.keylog = keylog;
    co.keylog_len = keylog_len;
    co.on_record = on_record;
    co.user = &o;
    char detail[256] = "";
    int r = ew_cap_new(&cap, &co, detail, sizeof detail);
    if (r != EW_OK) {
        cli_err("capture: %s%s%s", ew_strerror(r), detail[0] ? ": " : "", detail);
        goto out;
    }
    if (!no_progress && strcmp(path, "-") != 0 && isatty(STDERR_FILENO)) {
        struct stat sb;
        o.progress = stat(path, &sb) == 0 && (uint64_t)sb.st_size > PROGRESS_MIN_BYTES;
    }
    r = ew_cap_read_file(cap, path, on_progress, &o);
    clear_bar(&o);
    fflush(stdout);
    const char *why = ew_cap_error_detail(cap);
    ew_cap_stats st;
    ew_cap_get_stats(cap, &st);
    print_summary(&st, &o, r, why);
    if (o.failed) {
        cli_err("out of memory while printing");
        rc = EXIT_FAIL;
    } else if (r == EW_OK) {
        rc = EXIT_OK;
    } else {
        cli_err("%s: %s%s%s", path, ew_strerror(r), why && *why ? ": " : "", why ? why : "");
        /* A bad link type is a limit of ours, not a broken file. */
        rc = r == EW_ERR_TRUNCATED || r == EW_ERR_NOT_FOUND || r == EW_ERR_PROTO ? EXIT_BADFILE
                                                                                 : EXIT_FAIL;
    }
out:
    if (cap)
        ew_cap_del(cap);
    cli_secret_free(key);
    if (keylog) {
        /* The key log holds TLS secrets: wipe before freeing. */
        volatile char *p = keylog;
        for (size_t i = 0; i < keylog_len; i++)
            p[i] = 0;
        free(keylog);
    }
    fnode_free(o.filter);
    free(o.text);
    free(o.rct_buf);
    free(o.esc);
    return rc;
}
