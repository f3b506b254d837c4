/*
 * energywire rct ...: RCT Power verbs: searching the object registry and
 * decoding captured frames (no device needed), and reading and writing
 * objects of a device over TCP 8899 through ew_rct_sync.
 */
#include "cli.h"
#include "config.h"

#include <energywire/io_rct.h>
#include <energywire/rct.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void rct_usage(FILE *out) {
    fputs("usage: energywire rct list [--group GROUP] [--json] [PATTERN]\n"
          "       energywire rct decode [--json] [--file FILE] [HEX...]\n"
          "       energywire rct read [OPTIONS] NAME_OR_ID...\n"
          "       energywire rct write [OPTIONS] [--force] NAME=VALUE\n"
          "       energywire rct timeseries [OPTIONS] NAME --from TIME --to TIME\n"
          "       energywire rct events [OPTIONS] --from TIME --to TIME\n"
          "\n"
          "OPTIONS: --host HOST  --port N  --config FILE (KEY=value: RCT_HOST, RCT_PORT)\n"
          "         --json  --timeout MS (per attempt, default 2000)  --retries N (3)\n"
          "         The environment variables RCT_HOST and RCT_PORT override the file.\n"
          "\n"
          "list: objects of the RCT registry (895) whose name matches the glob\n"
          "  PATTERN ('battery.*', '*soc*'; any case), with id, types, unit and\n"
          "  description.\n"
          "decode: frames captured off the wire (TCP 8899), as hex: every frame with\n"
          "  command, object name, decoded value and CRC status; bytes between frames\n"
          "  are counted as skipped.\n"
          "read: reads objects (names or ids) from the device and prints their values.\n"
          "write: writes VALUE (parsed by the object's type: bool, integer, float,\n"
          "  string, enum as a number) and prints the value the device holds\n"
          "  afterwards.  Unknown ids are refused unless --force (VALUE then is raw\n"
          "  hex, 0x...).\n"
          "timeseries: the samples of a timeseries object (logger.*_log_ts) taken in\n"
          "  [--from, --to], oldest first, as CSV (timestamp_iso,unix,value) or --json.\n"
          "events: the entries of the event table (logger.error_log_time_stamp) in\n"
          "  [--from, --to] as CSV (timestamp_iso,unix,type,type_name,element2,\n"
          "  element3,element4) or --json.\n"
          "TIME: YYYY-MM-DD (00:00), YYYY-MM-DDTHH:MM[:SS] in UTC unless an offset\n"
          "  follows (+01:00, -0500, Z), or @UNIX (seconds).  Both ends are included.\n",
          out);
}

static int cmd_list(int argc, char **argv) {
    const char *group = NULL, *pattern = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--group") && i + 1 < argc)
            group = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_err("rct list: unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        } else
            pattern = argv[i];
    }
    size_t n = ew_rct_object_select(group, pattern, NULL, 0);
    const ew_rct_object **objs = calloc(n ? n : 1, sizeof *objs);
    if (!objs)
        return EXIT_FAIL;
    ew_rct_object_select(group, pattern, objs, n);
    if (json)
        putchar('[');
    for (size_t i = 0; i < n; i++) {
        const ew_rct_object *o = objs[i];
        const char *rq = ew_rct_type_name(o->request_type);
        const char *rs = ew_rct_type_name(o->response_type);
        if (json) {
            /* Registry texts are plain ASCII without quotes or backslashes
             * (tools/gen_rct_oids.c checks); units may hold UTF-8 (°C). */
            printf("%s{\"id\":\"0x%08lX\",\"name\":\"%s\",\"group\":\"%s\",\"type\":\"%s\","
                   "\"response_type\":\"%s\",\"unit\":\"%s\",\"description\":\"%s\"}",
                   i ? "," : "", (unsigned long)o->id, o->name, o->group, rq ? rq : "",
                   rs ? rs : "", o->unit, o->description);
        } else {
            printf("0x%08lX  %-44s %-14s %-6s %s\n", (unsigned long)o->id, o->name, rq ? rq : "?",
                   o->unit, o->description);
        }
    }
    if (json)
        puts("]");
    free(objs);
    if (!n && !json)
        fprintf(stderr, "no object matches\n");
    return n ? EXIT_OK : EXIT_FAIL;
}

static int cmd_decode(int argc, char **argv) {
    int json = 0;
    const char *file = NULL;
    char *hex = NULL;
    size_t hex_len = 0;
    int rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
            file = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            cli_err("rct decode: unknown option '%s'", argv[i]);
            goto out;
        } else {
            size_t n = strlen(argv[i]);
            char *more = realloc(hex, hex_len + n + 2);
            if (!more)
                goto out;
            hex = more;
            memcpy(hex + hex_len, argv[i], n);
            hex[hex_len + n] = ' ';
            hex_len += n + 1;
        }
    }
    if (file) {
        free(hex);
        hex = cli_read_file(file, &hex_len);
        if (!hex) {
            rc = EXIT_FAIL;
            goto out;
        }
    }
    if (!hex) {
        cli_err("rct decode: give frames as hex arguments or with --file");
        goto out;
    }
    size_t len;
    uint8_t *in = cli_unhex(hex, hex_len, &len);
    if (!in)
        goto out;
    uint8_t *buf = malloc(EW_RCT_FRAME_MAX);
    char *text = malloc(1 << 16);
    ew_rct_rx rx;
    if (!buf || !text || ew_rct_rx_init(&rx, buf, EW_RCT_FRAME_MAX) != EW_OK) {
        free(buf);
        free(text);
        free(in);
        rc = EXIT_FAIL;
        goto out;
    }
    size_t pos = 0;
    unsigned frames = 0, bad = 0;
    while (pos < len) {
        size_t used;
        ew_rct_frame f;
        ew_diag d = {0};
        int r = ew_rct_rx_feed(&rx, in + pos, len - pos, &used, &f, &d);
        pos += used;
        if (r == EW_ERR_NEED_MORE)
            break;
        frames++;
        const char *cmd = ew_rct_cmd_name(f.command);
        if (r != EW_OK && r != EW_ERR_CRC) {
            bad++;
            if (json)
                printf("{\"frame\":%u,\"offset\":%zu,\"error\":\"%s\"}\n", frames, d.offset,
                       ew_errname(r));
            else
                printf("frame %u: %s at offset %zu%s%s\n", frames, ew_strerror(r), d.offset,
                       d.what ? ": " : "", d.what ? d.what : "");
            continue;
        }
        const ew_rct_object *o = ew_rct_object_by_id(f.id);
        int type = ew_rct_type_for(f.id, f.command);
        int reads = f.payload.len == 0;
        ew_diag vd = {0};
        int fr = reads ? 0
                       : ew_rct_value_format(type, f.payload.ptr, f.payload.len,
                                             json ? EW_RCT_FMT_JSON : 0, text, 1 << 16, &vd);
        if (r == EW_ERR_CRC)
            bad++;
        if (json) {
            printf("{\"frame\":%u,\"command\":\"%s\",\"id\":\"0x%08lX\",\"name\":%s%s%s,"
                   "\"crc\":\"%s\",\"skipped\":%zu",
                   frames, cmd ? cmd : "?", (unsigned long)f.id, o ? "\"" : "",
                   o ? o->name : "null", o ? "\"" : "", r == EW_OK ? "ok" : "mismatch", f.skipped);
            if (!reads)
                printf(",\"value\":%s%s", fr < 0 ? "" : text,
                       fr < 0 ? "null,\"value_error\":\"payload does not fit its type\"" : "");
            puts("}");
        } else {
            printf("frame %u: %s %s (0x%08lX)%s", frames, cmd ? cmd : "?",
                   o ? o->name : "unknown object", (unsigned long)f.id,
                   r == EW_OK ? "" : " CRC MISMATCH");
            if (!reads)
                printf(" = %s%s%s", text, o && o->unit[0] ? " " : "", o ? o->unit : "");
            if (fr < 0)
                printf(" (payload does not fit %s)", ew_rct_type_name(type));
            if (f.skipped)
                printf(" [%zu bytes skipped before]", f.skipped);
            putchar('\n');
        }
    }
    /* The receiver holds the start of a frame that never ended. */
    if (rx.len > 0) {
        cli_err("input ends inside a frame");
        bad++;
    } else if (!frames)
        cli_err("no RCT frame found in the input");
    free(buf);
    free(text);
    free(in);
    rc = frames && !bad ? EXIT_OK : EXIT_FAIL;
out:
    free(hex);
    return rc;
}

/* ---- device verbs -------------------------------------------------------- */

/* "host:port" of the device connected to, for error messages. */
static char dev_peer[300];

typedef struct dev_opts {
    const char *host_flag, *port_flag, *config;
    const char *from, *to; /* timeseries, events */
    int json, force;
    unsigned long timeout_ms, retries;
    int nargs;
    char **args;
} dev_opts;

/* Parses the options shared by the device verbs; the rest are arguments. */
static int dev_parse(const char *verb, int argc, char **argv, dev_opts *o) {
    memset(o, 0, sizeof *o);
    o->timeout_ms = 2000;
    o->retries = 3;
    int range = !strcmp(verb, "timeseries") || !strcmp(verb, "events");
    o->args = calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args)
        return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (range && (!strcmp(a, "--from") || !strcmp(a, "--to"))) {
            if (i + 1 >= argc) {
                cli_err("rct %s: %s needs a value", verb, a);
                return EXIT_USAGE;
            }
            if (a[2] == 'f')
                o->from = argv[++i];
            else
                o->to = argv[++i];
        } else if (!strcmp(a, "--force")) {
            o->force = 1;
        } else if ((!strcmp(a, "--host") || !strcmp(a, "--port") || !strcmp(a, "--config") ||
                    !strcmp(a, "--timeout") || !strcmp(a, "--retries"))) {
            if (i + 1 >= argc) {
                cli_err("rct %s: %s needs a value", verb, a);
                return EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--host"))
                o->host_flag = v;
            else if (!strcmp(a, "--port"))
                o->port_flag = v;
            else if (!strcmp(a, "--config"))
                o->config = v;
            else {
                char *end;
                errno = 0;
                unsigned long n = strtoul(v, &end, 10);
                if (!*v || *v == '-' || *end || errno || n > 600000 ||
                    (!strcmp(a, "--timeout") && n == 0) || (!strcmp(a, "--retries") && n > 100)) {
                    cli_err("rct %s: bad value '%s' for %s", verb, v, a);
                    return EXIT_USAGE;
                }
                if (!strcmp(a, "--timeout"))
                    o->timeout_ms = n;
                else
                    o->retries = n;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            cli_err("rct %s: unknown option '%s'", verb, a);
            return EXIT_USAGE;
        } else {
            o->args[o->nargs++] = argv[i];
        }
    }
    return EXIT_OK;
}

/* Host and port from the flags, RCT_HOST/RCT_PORT, or the config file;
 * connects.  Returns EXIT_OK with |*out| set. */
static int dev_connect(const char *verb, const dev_opts *o, ew_rct_sync **out) {
    cli_conf conf = {0};
    *out = NULL;
    if (o->config && cli_conf_load(&conf, o->config) < 0) {
        cli_conf_free(&conf);
        return EXIT_USAGE;
    }
    const char *host = o->host_flag ? o->host_flag : cli_conf_get(&conf, "RCT_HOST");
    const char *port_s = o->port_flag ? o->port_flag : cli_conf_get(&conf, "RCT_PORT");
    unsigned long port = EW_RCT_PORT;
    int rc = EXIT_OK;
    if (!host || !*host) {
        cli_err("rct %s: no device given (--host, RCT_HOST, or RCT_HOST= in --config)", verb);
        rc = EXIT_USAGE;
    } else if (port_s) {
        char *end;
        port = strtoul(port_s, &end, 10);
        if (!*port_s || *end || port == 0 || port > 65535) {
            cli_err("rct %s: bad port '%s'", verb, port_s);
            rc = EXIT_USAGE;
        }
    }
    ew_rct_client_opts co;
    ew_rct_client_opts_init(&co);
    co.host = host;
    co.port = (uint16_t)port;
    co.conn.request_timeout_ms = (uint32_t)o->timeout_ms;
    co.conn.max_retries = (unsigned)o->retries;
    co.conn.offline_after = 0; /* one-shot: fail with the reason instead */
    snprintf(dev_peer, sizeof dev_peer, "%s:%lu", host ? host : "", port);
    ew_rct_sync *s = NULL;
    if (rc == EXIT_OK && ew_rct_sync_new(&s, &co) != EW_OK) {
        cli_err("rct %s: bad host '%s'", verb, host);
        rc = EXIT_USAGE;
    }
    cli_conf_free(&conf);
    if (rc != EXIT_OK)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    if (ew_rct_sync_connect(s, 0) != EW_OK) {
        cli_err("%s", ew_rct_sync_error_detail(s));
        ew_rct_sync_del(s);
        return EXIT_FAIL;
    }
    *out = s;
    return EXIT_OK;
}

static const char *obj_name(uint32_t id, char *buf, size_t cap) {
    const ew_rct_object *ob = ew_rct_object_by_id(id);
    if (ob)
        return ob->name;
    snprintf(buf, cap, "0x%08lX", (unsigned long)id);
    return buf;
}

/* Prints one value: text "name = value unit", or one JSON object. */
static void print_value(int json, uint32_t id, const uint8_t *p, size_t len, unsigned attempts,
                        int first) {
    const ew_rct_object *ob = ew_rct_object_by_id(id);
    int type = ew_rct_type_for(id, EW_RCT_CMD_RESPONSE);
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    if (!text)
        return;
    ew_diag d = {0};
    ew_rct_value_format(type, p, len, json ? EW_RCT_FMT_JSON : 0, text, cap, &d);
    char nb[16];
    if (json)
        printf("%s{\"id\":\"0x%08lX\",\"name\":\"%s\",\"type\":\"%s\",\"value\":%s,"
               "\"unit\":\"%s\",\"attempts\":%u}",
               first ? "" : ",", (unsigned long)id, obj_name(id, nb, sizeof nb),
               ew_rct_type_name(type) ? ew_rct_type_name(type) : "UNKNOWN", text,
               ob ? ob->unit : "", attempts);
    else
        printf("%s = %s%s%s\n", obj_name(id, nb, sizeof nb), text, ob && ob->unit[0] ? " " : "",
               ob ? ob->unit : "");
    free(text);
}

static int cmd_read(int argc, char **argv) {
    dev_opts o;
    int rc = dev_parse("read", argc, argv, &o);
    if (rc == EXIT_OK && !o.nargs) {
        cli_err("rct read: name the objects to read (see energywire rct list)");
        rc = EXIT_USAGE;
    }
    uint32_t *ids = calloc((size_t)o.nargs + 1, sizeof *ids);
    for (int i = 0; rc == EXIT_OK && i < o.nargs; i++) {
        if (!ids || ew_rct_oid_parse(o.args[i], strlen(o.args[i]), &ids[i]) != EW_OK) {
            cli_err("rct read: unknown object '%s' (see energywire rct list)", o.args[i]);
            rc = EXIT_USAGE;
        }
    }
    ew_rct_sync *s = NULL;
    if (rc == EXIT_OK)
        rc = dev_connect("read", &o, &s);
    if (rc == EXIT_OK) {
        int printed = 0;
        if (o.json)
            putchar('[');
        for (int i = 0; i < o.nargs; i++) {
            uint8_t *ans;
            size_t len;
            unsigned attempts = 0;
            int r = ew_rct_sync_call(s, ids[i], NULL, 0, 0, &ans, &len, &attempts);
            if (r != EW_OK) {
                cli_err("read %s: %s", o.args[i], ew_rct_sync_error_detail(s));
                rc = EXIT_FAIL;
                if (r == EW_ERR_STATE || r == EW_ERR_CLOSED)
                    break;
                continue;
            }
            print_value(o.json, ids[i], ans, len, attempts, printed++ == 0);
            free(ans);
        }
        if (o.json)
            puts("]");
    }
    ew_rct_sync_del(s);
    free(ids);
    free(o.args);
    return rc;
}

/* Encodes VALUE for |type|; prints why not and returns -1. */
static int encode_value(int type, const char *v, uint8_t *out, size_t cap, size_t *n) {
    char *end;
    int rc;
    switch (type) {
    case EW_RCT_TYPE_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "yes"))
            rc = ew_rct_value_encode_int(type, 1, out, cap, n);
        else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "no"))
            rc = ew_rct_value_encode_int(type, 0, out, cap, n);
        else {
            cli_err("rct write: '%s' is not a boolean (true/false, 1/0, on/off)", v);
            return -1;
        }
        break;
    case EW_RCT_TYPE_UINT8:
    case EW_RCT_TYPE_INT8:
    case EW_RCT_TYPE_UINT16:
    case EW_RCT_TYPE_INT16:
    case EW_RCT_TYPE_UINT32:
    case EW_RCT_TYPE_INT32:
    case EW_RCT_TYPE_ENUM: {
        errno = 0;
        long long x = strtoll(v, &end, 0);
        if (!*v || *end || errno) {
            cli_err("rct write: '%s' is not an integer", v);
            return -1;
        }
        rc = ew_rct_value_encode_int(type, x, out, cap, n);
        if (rc == EW_ERR_RANGE) {
            cli_err("rct write: %s does not fit %s", v, ew_rct_type_name(type));
            return -1;
        }
        break;
    }
    case EW_RCT_TYPE_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno == ERANGE) {
            cli_err("rct write: '%s' is not a number", v);
            return -1;
        }
        rc = ew_rct_value_encode_double(type, x, out, cap, n);
        if (rc == EW_ERR_RANGE) {
            cli_err("rct write: %s does not fit FLOAT", v);
            return -1;
        }
        break;
    }
    case EW_RCT_TYPE_STRING:
        rc = ew_rct_value_encode_string(v, strlen(v), out, cap, n);
        break;
    default:
        cli_err("rct write: objects of type %s cannot be written from the command line",
                ew_rct_type_name(type) ? ew_rct_type_name(type) : "UNKNOWN");
        return -1;
    }
    if (rc != EW_OK) {
        cli_err("rct write: cannot encode '%s': %s", v, ew_strerror(rc));
        return -1;
    }
    return 0;
}

static int cmd_write(int argc, char **argv) {
    dev_opts o;
    int rc = dev_parse("write", argc, argv, &o);
    if (rc == EXIT_OK && (o.nargs != 1 || !strchr(o.args[0], '='))) {
        cli_err("rct write: give exactly one NAME=VALUE");
        rc = EXIT_USAGE;
    }
    uint32_t id = 0;
    uint8_t payload[EW_RCT_SHORT_PAYLOAD_MAX];
    size_t plen = 0;
    if (rc == EXIT_OK) {
        char *eq = strchr(o.args[0], '=');
        const char *value = eq + 1;
        if (ew_rct_oid_parse(o.args[0], (size_t)(eq - o.args[0]), &id) != EW_OK) {
            cli_err("rct write: unknown object '%.*s' (see energywire rct list)",
                    (int)(eq - o.args[0]), o.args[0]);
            rc = EXIT_USAGE;
        } else if (!ew_rct_object_by_id(id)) {
            if (!o.force) {
                cli_err("rct write: refusing to write 0x%08lX: not in the registry (--force "
                        "writes it anyway, VALUE as raw hex)",
                        (unsigned long)id);
                rc = EXIT_FAIL;
            } else {
                size_t n = strlen(value);
                if (n >= 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X'))
                    value += 2, n -= 2;
                uint8_t *raw = cli_unhex(value, n, &plen);
                if (!raw || plen > sizeof payload) {
                    if (raw)
                        cli_err("rct write: at most %u bytes", EW_RCT_SHORT_PAYLOAD_MAX);
                    rc = EXIT_USAGE;
                } else {
                    memcpy(payload, raw, plen);
                }
                free(raw);
            }
        } else {
            const ew_rct_object *ob = ew_rct_object_by_id(id);
            if (encode_value(ob->request_type, value, payload, sizeof payload, &plen) < 0)
                rc = EXIT_USAGE;
        }
    }
    ew_rct_sync *s = NULL;
    if (rc == EXIT_OK)
        rc = dev_connect("write", &o, &s);
    if (rc == EXIT_OK) {
        uint8_t *ans = NULL;
        size_t len;
        char nb[16];
        if (ew_rct_sync_call(s, id, payload, plen, 0, &ans, &len, NULL) != EW_OK) {
            cli_err("write %s: %s", obj_name(id, nb, sizeof nb), ew_rct_sync_error_detail(s));
            rc = EXIT_FAIL;
        } else {
            free(ans);
            unsigned attempts = 0;
            /* rct.md §10: what a write's answer holds is unknown: read back. */
            if (ew_rct_sync_call(s, id, NULL, 0, 0, &ans, &len, &attempts) != EW_OK) {
                cli_err("write %s: written, but reading it back failed: %s",
                        obj_name(id, nb, sizeof nb), ew_rct_sync_error_detail(s));
                rc = EXIT_FAIL;
            } else {
                print_value(o.json, id, ans, len, attempts, 1);
                if (o.json)
                    putchar('\n');
                free(ans);
            }
        }
    }
    ew_rct_sync_del(s);
    free(o.args);
    return rc;
}

/* ---- timeseries and events (rct.md §8) ------------------------------------ */

/* The event table (rct.md §8.2). */
#define EVENT_TABLE_NAME "logger.error_log_time_stamp"
#define EVENT_TABLE_ID 0x6F3876BCu

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly |n| digits at |*s|; -1 if there are not. */
static long take_digits(const char **s, int n) {
    long v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -1;
        v = v * 10 + (**s - '0');
    }
    return v;
}

/* Parses TIME: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM] (UTC unless
 * an offset is given) or @UNIX.  The result must fit the device's 32-bit
 * time.  Returns 0, or -1 after printing why not. */
static int parse_time(const char *verb, const char *what, const char *text, uint32_t *out) {
    const char *s = text;
    int64_t t;
    if (*s == '@') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s + 1, &end, 10);
        if (!s[1] || s[1] == '-' || *end || errno)
            goto bad;
        if (v > 0xFFFFFFFEull)
            goto range;
        *out = (uint32_t)v;
        return 0;
    }
    long y = take_digits(&s, 4), mo, d, h = 0, mi = 0, se = 0;
    if (y < 0 || *s++ != '-' || (mo = take_digits(&s, 2)) < 1 || mo > 12 || *s++ != '-' ||
        (d = take_digits(&s, 2)) < 1 || d > 31)
        goto bad;
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        goto bad;
    long off = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if ((h = take_digits(&s, 2)) < 0 || h > 23 || *s++ != ':' ||
            (mi = take_digits(&s, 2)) < 0 || mi > 59)
            goto bad;
        if (*s == ':' && ((void)s++, (se = take_digits(&s, 2)) < 0 || se > 59))
            goto bad;
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1;
            long oh = take_digits(&s, 2), om = 0;
            if (oh < 0 || oh > 14)
                goto bad;
            if (*s == ':')
                s++;
            if (*s && ((om = take_digits(&s, 2)) < 0 || om > 59))
                goto bad;
            off = sign * (oh * 3600 + om * 60);
        }
    }
    if (*s)
        goto bad;
    t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
    if (t < 0 || t > 0xFFFFFFFEll)
        goto range;
    *out = (uint32_t)t;
    return 0;
bad:
    cli_err("rct %s: bad %s time '%s' (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM], UTC unless "
            "an offset is given, or @UNIX)",
            verb, what, text);
    return -1;
range:
    cli_err("rct %s: %s time '%s' is outside the device's range (1970 to 2106)", verb, what, text);
    return -1;
}

static void iso_time(uint32_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "@%lu", (unsigned long)t);
}

/* Pages fetched and how far back the window is covered, on a terminal. */
static void range_progress(int tty, unsigned pages, uint32_t from, uint32_t to, uint32_t reached,
                           int done) {
    if (!tty)
        return;
    uint64_t span = (uint64_t)to - from + 1, got = reached <= from ? span : (uint64_t)to - reached;
    unsigned width = 30, fill = (unsigned)(got * width / span);
    char iso[32];
    iso_time(reached <= from ? from : reached, iso, sizeof iso);
    fputs("\r[", stderr);
    for (unsigned k = 0; k < width; k++)
        fputc(k < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %u page%s, back to %s", pages, pages == 1 ? "" : "s", iso);
    if (done)
        fputc('\n', stderr);
    fflush(stderr);
}

typedef struct range_rec {
    uint32_t ts;
    uint32_t e[4]; /* timeseries: e[0] the value's bits; events: type, e2, e3, e4 */
} range_rec;

static int rec_cmp(const void *a, const void *b) {
    const range_rec *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return memcmp(x->e, y->e, sizeof x->e);
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/*
 * Fetches the records of |id| in [from, to] (rct.md §8): WRITE the INT32 time
 * T, the device answers records before T; re-query with the oldest timestamp
 * received until it is at or before |from|, or a page brings nothing older.
 * Returns EXIT_OK with |*out| sorted oldest first, without duplicates.
 */
static int fetch_range(const char *verb, ew_rct_sync *s, uint32_t id, int events, uint32_t from,
                       uint32_t to, range_rec **out, size_t *count) {
    range_rec *recs = NULL;
    size_t n = 0, cap = 0;
    uint32_t t = to + 1; /* before T: T = to + 1 includes |to| itself */
    unsigned pages = 0;
    int tty = isatty(STDERR_FILENO), rc = EXIT_OK;
    for (;;) {
        uint8_t q[4] = {(uint8_t)(t >> 24), (uint8_t)(t >> 16), (uint8_t)(t >> 8), (uint8_t)t};
        uint8_t *ans;
        size_t len;
        if (ew_rct_sync_call(s, id, q, sizeof q, 0, &ans, &len, NULL) != EW_OK) {
            if (tty && pages)
                fputc('\n', stderr);
            cli_err("rct %s: %s", verb, ew_rct_sync_error_detail(s));
            rc = EXIT_FAIL;
            break;
        }
        pages++;
        ew_diag d = {0};
        ew_rct_ts_iter ti;
        ew_rct_event_iter ei;
        int r = events ? ew_rct_events_init(&ei, ans, len, &d) : ew_rct_ts_init(&ti, ans, len, &d);
        if (r != EW_OK) {
            if (tty)
                fputc('\n', stderr);
            cli_err("rct %s: %s: the device's answer to T=%lu is not a valid %s (%s at byte %zu)",
                    verb, dev_peer, (unsigned long)t, events ? "event table" : "timeseries",
                    ew_strerror(r), d.offset);
            free(ans);
            rc = EXIT_FAIL;
            break;
        }
        uint32_t oldest = t;
        size_t fresh = 0;
        for (;;) {
            range_rec rec = {0};
            if (events) {
                ew_rct_event ev;
                if (!ew_rct_events_next(&ei, &ev))
                    break;
                rec.ts = ev.timestamp;
                rec.e[0] = ev.type;
                rec.e[1] = ev.element2;
                rec.e[2] = ev.element3;
                rec.e[3] = ev.element4;
            } else {
                ew_rct_ts_point pt;
                if (!ew_rct_ts_next(&ti, &pt))
                    break;
                rec.ts = pt.timestamp;
                rec.e[0] = float_bits(pt.value);
            }
            if (rec.ts < t) /* what the device should send: older than asked */
                fresh++;
            if (rec.ts < oldest)
                oldest = rec.ts;
            if (rec.ts < from || rec.ts > to)
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                range_rec *m = realloc(recs, nc * sizeof *m);
                if (!m) {
                    free(ans);
                    free(recs);
                    cli_err("rct %s: out of memory", verb);
                    return EXIT_FAIL;
                }
                recs = m;
                cap = nc;
            }
            recs[n++] = rec;
        }
        free(ans);
        int finished = !fresh || oldest <= from || oldest >= t;
        range_progress(tty, pages, from, to, finished ? from : oldest, finished);
        if (finished)
            break;
        t = oldest;
    }
    if (rc != EXIT_OK) {
        free(recs);
        return rc;
    }
    if (n)
        qsort(recs, n, sizeof *recs, rec_cmp);
    /* One record per timestamp (timeseries) or per identical entry (events). */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && recs[w - 1].ts == recs[i].ts &&
            (!events || !memcmp(recs[w - 1].e, recs[i].e, sizeof recs[i].e)))
            continue;
        recs[w++] = recs[i];
    }
    *out = recs;
    *count = w;
    return EXIT_OK;
}

/* Parses --from/--to of a range verb; exit code. */
static int range_args(const char *verb, const dev_opts *o, uint32_t *from, uint32_t *to) {
    if (!o->from || !o->to) {
        cli_err("rct %s: give --from TIME and --to TIME", verb);
        return EXIT_USAGE;
    }
    if (parse_time(verb, "--from", o->from, from) < 0 || parse_time(verb, "--to", o->to, to) < 0)
        return EXIT_USAGE;
    if (*from > *to) {
        cli_err("rct %s: --from %s is after --to %s", verb, o->from, o->to);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int cmd_timeseries(int argc, char **argv) {
    dev_opts o;
    uint32_t from = 0, to = 0, id = 0;
    int rc = dev_parse("timeseries", argc, argv, &o);
    if (rc == EXIT_OK && o.nargs != 1) {
        cli_err("rct timeseries: name one timeseries object (energywire rct list '*_log_ts')");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && ew_rct_oid_parse(o.args[0], strlen(o.args[0]), &id) != EW_OK) {
        cli_err("rct timeseries: unknown object '%s' (see energywire rct list '*_log_ts')",
                o.args[0]);
        rc = EXIT_USAGE;
    }
    const ew_rct_object *ob = rc == EXIT_OK ? ew_rct_object_by_id(id) : NULL;
    if (rc == EXIT_OK && (!ob || ob->response_type != EW_RCT_TYPE_TIMESERIES)) {
        const char *tn = ob ? ew_rct_type_name(ob->response_type) : NULL;
        cli_err("rct timeseries: '%s' is not a timeseries object (its type is %s); timeseries "
                "objects: energywire rct list '*_log_ts'",
                o.args[0], tn ? tn : "unknown");
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK)
        rc = range_args("timeseries", &o, &from, &to);
    ew_rct_sync *s = NULL;
    if (rc == EXIT_OK)
        rc = dev_connect("timeseries", &o, &s);
    range_rec *recs = NULL;
    size_t n = 0;
    if (rc == EXIT_OK)
        rc = fetch_range("timeseries", s, id, 0, from, to, &recs, &n);
    if (rc == EXIT_OK) {
        char iso[32], val[64];
        if (o.json)
            putchar('[');
        else
            puts("timestamp_iso,unix,value");
        for (size_t i = 0; i < n; i++) {
            uint32_t b = recs[i].e[0];
            uint8_t p[4] = {(uint8_t)(b >> 24), (uint8_t)(b >> 16), (uint8_t)(b >> 8), (uint8_t)b};
            ew_diag d = {0};
            ew_rct_value_format(EW_RCT_TYPE_FLOAT, p, sizeof p, o.json ? EW_RCT_FMT_JSON : 0, val,
                                sizeof val, &d);
            iso_time(recs[i].ts, iso, sizeof iso);
            if (o.json)
                printf("%s{\"time\":\"%s\",\"unix\":%lu,\"value\":%s}", i ? "," : "", iso,
                       (unsigned long)recs[i].ts, val);
            else
                printf("%s,%lu,%s\n", iso, (unsigned long)recs[i].ts, val);
        }
        if (o.json)
            puts("]");
    }
    free(recs);
    ew_rct_sync_del(s);
    free(o.args);
    return rc;
}

static int cmd_events(int argc, char **argv) {
    dev_opts o;
    uint32_t from = 0, to = 0, id = 0;
    int rc = dev_parse("events", argc, argv, &o);
    if (rc == EXIT_OK && o.nargs) {
        cli_err("rct events: unexpected argument '%s'", o.args[0]);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK)
        rc = range_args("events", &o, &from, &to);
    if (rc == EXIT_OK && ew_rct_oid_parse(EVENT_TABLE_NAME, strlen(EVENT_TABLE_NAME), &id) != EW_OK)
        id = EVENT_TABLE_ID;
    ew_rct_sync *s = NULL;
    if (rc == EXIT_OK)
        rc = dev_connect("events", &o, &s);
    range_rec *recs = NULL;
    size_t n = 0;
    if (rc == EXIT_OK)
        rc = fetch_range("events", s, id, 1, from, to, &recs, &n);
    if (rc == EXIT_OK) {
        char iso[32];
        if (o.json)
            putchar('[');
        else
            puts("timestamp_iso,unix,type,type_name,element2,element3,element4");
        for (size_t i = 0; i < n; i++) {
            const range_rec *r = &recs[i];
            const char *tn = ew_rct_event_type_name(r->e[0]);
            iso_time(r->ts, iso, sizeof iso);
            if (o.json)
                printf("%s{\"time\":\"%s\",\"unix\":%lu,\"type\":%lu,\"type_name\":%s%s%s,"
                       "\"element2\":%lu,\"element3\":%lu,\"element4\":%lu}",
                       i ? "," : "", iso, (unsigned long)r->ts, (unsigned long)r->e[0],
                       tn ? "\"" : "", tn ? tn : "null", tn ? "\"" : "", (unsigned long)r->e[1],
                       (unsigned long)r->e[2], (unsigned long)r->e[3]);
            else
                printf("%s,%lu,0x%02lX,%s,0x%08lX,0x%08lX,0x%08lX\n", iso, (unsigned long)r->ts,
                       (unsigned long)r->e[0], tn ? tn : "", (unsigned long)r->e[1],
                       (unsigned long)r->e[2], (unsigned long)r->e[3]);
        }
        if (o.json)
            puts("]");
    }
    free(recs);
    ew_rct_sync_del(s);
    free(o.args);
    return rc;
}

int cmd_rct(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        rct_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decode"))
        return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "read"))
        return cmd_read(argc - 1, argv + 1);
    if (!strcmp(argv[1], "write"))
        return cmd_write(argc - 1, argv + 1);
    if (!strcmp(argv[1], "timeseries"))
        return cmd_timeseries(argc - 1, argv + 1);
    if (!strcmp(argv[1], "events"))
        return cmd_events(argc - 1, argv + 1);
    cli_err("unknown rct verb '%s' (see energywire rct --help)", argv[1]);
    return EXIT_USAGE;
}
