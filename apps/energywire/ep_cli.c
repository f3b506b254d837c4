/*
 * Shared pieces of `energywire ep` and `energywire sim ep` (ep_cli.h).
 *
 * The node (<energywire/io_ep.h>) runs the sessions; this file turns the
 * command line into node options, prints what the node reports, and stops
 * the loop cleanly: every stop goes through ew_ep_node_shutdown(), so the
 * peer always gets a SoftDisconnect(reconnect=false, reason) and
 * close_notify first (ep.md §5.7), then the node is freed once its sessions
 * have closed.
 */
#include "ep_cli.h"

#include "cli.h"

#include <energywire/tls.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* ---- options ------------------------------------------------------------ */

void ep_cli_conn_init(ep_cli_conn *c) {
    memset(c, 0, sizeof *c);
}

static int parse_pin(const char *s, uint8_t out[32]) {
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ':')
            continue;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) || n == 32)
            return -1;
        char hx[3] = {p[0], p[1], 0};
        out[n++] = (uint8_t)strtoul(hx, NULL, 16);
        p++;
    }
    return n == 32 ? 0 : -1;
}

void ep_cli_common_usage(FILE *out) {
    fputs("Connection options:\n"
          "  --cert FILE --key FILE  own certificate (PEM) and private key (both required)\n"
          "  --ca FILE               trust peers whose certificate this CA signed\n"
          "  --trust SHA256          trust the certificate with this SHA-256 fingerprint\n"
          "                          (hex, ':' allowed; repeatable; with or without --ca)\n"
          "  --identity ID           own EP identity (default: the certificate CN)\n"
          "  --tenant T --provider P own tenant and provider (default: certificate O, OU)\n"
          "  --device-type T --name N  SessionParameters type and name\n"
          "  --rate HZ               publishing rate, 1..100 (default 10)\n"
          "  --liveness MS           no-frame limit during a transfer (default 200)\n"
          "  --handshake-timeout MS  TCP, TLS and EP handshake limits (default 5000)\n"
          "  --no-identity-check     do not compare the peer's SessionParameters with its\n"
          "                          certificate (ep.md §5.4)\n"
          "  --json                  JSON Lines instead of text\n"
          "  --count N               stop after N messages (received; sent for `send`)\n"
          "  --duration S            stop after S seconds\n"
          "  --verbose, -v           log lines of the node on stderr\n"
          "SSLKEYLOGFILE=FILE in the environment appends the TLS secrets to FILE.\n",
          out);
}

int ep_cli_parse_common(ep_cli_conn *c, const char *prog, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char **str = NULL;
    if (!strcmp(a, "--no-identity-check")) {
        c->no_identity_check = 1;
        return 1;
    }
    if (!strcmp(a, "--json")) {
        c->json = 1;
        return 1;
    }
    if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
        c->verbose = 1;
        return 1;
    }
    if (!strcmp(a, "--cert"))
        str = &c->cert;
    else if (!strcmp(a, "--key"))
        str = &c->key;
    else if (!strcmp(a, "--ca"))
        str = &c->ca;
    else if (!strcmp(a, "--identity"))
        str = &c->identity;
    else if (!strcmp(a, "--tenant"))
        str = &c->tenant;
    else if (!strcmp(a, "--provider"))
        str = &c->provider;
    else if (!strcmp(a, "--device-type"))
        str = &c->device_type;
    else if (!strcmp(a, "--name"))
        str = &c->name;
    else if (strcmp(a, "--trust") && strcmp(a, "--rate") && strcmp(a, "--liveness") &&
             strcmp(a, "--handshake-timeout") && strcmp(a, "--count") && strcmp(a, "--duration"))
        return 0;
    if (*i + 1 >= argc) {
        cli_err("%s: %s needs a value", prog, a);
        return -1;
    }
    const char *v = argv[++*i];
    if (str) {
        *str = v;
        return 1;
    }
    double d;
    if (!strcmp(a, "--trust")) {
        if (c->n_pins == EP_CLI_MAX_PINS) {
            cli_err("%s: at most %d --trust fingerprints", prog, EP_CLI_MAX_PINS);
            return -1;
        }
        if (parse_pin(v, c->pins + 32 * c->n_pins) < 0) {
            cli_err("%s: --trust needs a SHA-256 fingerprint (64 hex digits), not '%s'", prog, v);
            return -1;
        }
        c->n_pins++;
    } else if (!strcmp(a, "--rate")) {
        /* ep.md §5.5 point 2: between 1 and 100 Hz. */
        if (cli_parse_num(v, 1, 100, &d) < 0 || d != floor(d)) {
            cli_err("%s: --rate needs a whole number of Hz from 1 to 100", prog);
            return -1;
        }
        c->rate_hz = (unsigned)d;
    } else if (!strcmp(a, "--liveness") || !strcmp(a, "--handshake-timeout")) {
        if (cli_parse_num(v, 1, 600000, &d) < 0) {
            cli_err("%s: %s needs milliseconds from 1 to 600000", prog, a);
            return -1;
        }
        if (a[2] == 'l')
            c->liveness_ms = (uint32_t)d;
        else
            c->handshake_ms = (uint32_t)d;
    } else if (!strcmp(a, "--count")) {
        if (cli_parse_num(v, 1, 1e12, &d) < 0 || d != floor(d)) {
            cli_err("%s: --count needs a positive whole number", prog);
            return -1;
        }
        c->count = (unsigned long)d;
    } else {
        if (cli_parse_num(v, 0.001, 86400.0 * 365, &d) < 0) {
            cli_err("%s: --duration needs seconds above 0", prog);
            return -1;
        }
        c->duration_s = d;
    }
    return 1;
}

int ep_cli_hostport(const char *s, uint16_t defport, int allow_zero, char *host, size_t cap,
                    uint16_t *port) {
    const char *ps = NULL;
    size_t hl;
    if (!s || !*s)
        return -1;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e)
            return -1;
        hl = (size_t)(e - s - 1);
        s++;
        if (e[1] == ':')
            ps = e + 2;
        else if (e[1])
            return -1;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address */
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (colon)
            ps = colon + 1;
    }
    if (hl == 0 || hl >= cap)
        return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    *port = defport;
    if (ps) {
        double d;
        if (cli_parse_num(ps, allow_zero ? 0 : 1, 65535, &d) < 0 || d != floor(d))
            return -1;
        *port = (uint16_t)d;
    }
    return 0;
}

/* Subject fields of the own certificate, read with OpenSSL. */
static int cert_subject(ep_cli_conn *c, const char *prog) {
    BIO *b = BIO_new_file(c->cert, "r");
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!x) {
        cli_err("%s: cannot read a PEM certificate from %s", prog, c->cert);
        return -1;
    }
    X509_NAME *nm = X509_get_subject_name(x);
    c->cn[0] = c->o[0] = c->ou[0] = 0;
    if (X509_NAME_get_text_by_NID(nm, NID_commonName, c->cn, sizeof c->cn) < 0)
        c->cn[0] = 0;
    if (X509_NAME_get_text_by_NID(nm, NID_organizationName, c->o, sizeof c->o) < 0)
        c->o[0] = 0;
    if (X509_NAME_get_text_by_NID(nm, NID_organizationalUnitName, c->ou, sizeof c->ou) < 0)
        c->ou[0] = 0;
    X509_free(x);
    return 0;
}

static void keylog_line(void *user, const char *line) {
    FILE *f = user;
    fprintf(f, "%s\n", line);
    fflush(f);
}

int ep_cli_node_opts(ep_cli_conn *c, const char *prog, const char *device_type,
                     ew_ep_node_opts *o) {
    if (!c->cert || !c->key) {
        cli_err("%s: --cert and --key are required (make them with 'energywire ep certs')", prog);
        return EXIT_USAGE;
    }
    if (!c->ca && !c->n_pins) {
        cli_err("%s: nothing is trusted: give --ca FILE and/or --trust SHA256", prog);
        return EXIT_USAGE;
    }
    if (cert_subject(c, prog) < 0)
        return EXIT_USAGE;
    const char *id = c->identity ? c->identity : c->cn;
    if (!*id) {
        cli_err("%s: the certificate has no CN: give --identity", prog);
        return EXIT_USAGE;
    }
    o->tls.cert_file = c->cert;
    o->tls.key_file = c->key;
    o->tls.ca_file = c->ca;
    o->tls.pins = c->n_pins ? c->pins : NULL;
    o->tls.n_pins = c->n_pins;
    o->conn.identity = id;
    o->conn.tenant = c->tenant ? c->tenant : (*c->o ? c->o : NULL);
    o->conn.provider = c->provider ? c->provider : (*c->ou ? c->ou : NULL);
    o->conn.device_type = c->device_type ? c->device_type : device_type;
    o->conn.name = c->name;
    o->conn.version = EW_VERSION_STRING;
    if (c->rate_hz)
        o->conn.publish_hz = c->rate_hz;
    if (c->liveness_ms)
        o->conn.transfer_timeout_ms = c->liveness_ms;
    if (c->handshake_ms) {
        o->conn.handshake_timeout_ms = c->handshake_ms;
        o->connect_timeout_ms = o->tls_timeout_ms = c->handshake_ms;
    }
    o->check_identity = !c->no_identity_check;
    const char *kl = getenv("SSLKEYLOGFILE");
    if (kl && *kl) {
        int fd = open(kl, O_WRONLY | O_CREAT | O_APPEND, 0600);
        c->keylog = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (!c->keylog) {
            cli_err("%s: SSLKEYLOGFILE %s: %s", prog, kl, strerror(errno));
            if (fd >= 0)
                close(fd);
            return EXIT_FAIL;
        }
        cli_warn("SSLKEYLOGFILE is set: the TLS secrets of every session are written to %s; "
                 "anyone who can read that file can decrypt the traffic",
                 kl);
        o->tls.keylog = keylog_line;
        o->tls.keylog_user = c->keylog;
    }
    return EXIT_OK;
}

void ep_cli_conn_free(ep_cli_conn *c) {
    if (c->keylog)
        fclose(c->keylog);
    c->keylog = NULL;
}

/* ---- printing ----------------------------------------------------------- */

static void now_iso(char *buf, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* The text of |o| as a JSON object without its closing brace. */
static char *json_head(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s)
        s[strlen(s) - 1] = 0;
    return s;
}

void ep_cli_print_msg(const ep_cli_conn *c, const char *peer, const char *peer_id, const char *dir,
                      const ew_ep_msg *m) {
    char ts[40], small[1024];
    now_iso(ts, sizeof ts);
    unsigned fl = c->json ? EW_EP_FMT_JSON : 0;
    int n = ew_ep_msg_format(m, fl, small, sizeof small);
    char *body = small;
    if (n >= (int)sizeof small) {
        body = malloc((size_t)n + 1);
        if (!body)
            return;
        ew_ep_msg_format(m, fl, body, (size_t)n + 1);
    }
    if (c->json) {
        char type[16];
        snprintf(type, sizeof type, "0x%08x", (unsigned)m->type);
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(ts));
        json_object_set_new(o, "event", json_string("message"));
        json_object_set_new(o, "peer", json_string(peer ? peer : ""));
        json_t *pid = json_string(peer_id ? peer_id : "");
        json_object_set_new(o, "peer_identity", pid ? pid : json_string(""));
        json_object_set_new(o, "direction", json_string(dir));
        json_object_set_new(o, "type", json_string(type));
        char *h = json_head(o);
        /* |body| is the codec's object {"name":..,"fields":{..}}: splice
         * its members in after ours. */
        if (h)
            printf("%s,%s\n", h, body + 1);
        free(h);
    } else {
        printf("%s %s %s %s %s\n", ts, peer ? peer : "-", peer_id && *peer_id ? peer_id : "-", dir,
               body);
    }
    fflush(stdout);
    if (body != small)
        free(body);
}

void ep_cli_print_event(const ep_cli_conn *c, const char *event, const char *peer, ...) {
    char ts[40];
    va_list ap;
    now_iso(ts, sizeof ts);
    va_start(ap, peer);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(ts));
        json_object_set_new(o, "event", json_string(event));
        json_object_set_new(o, "peer", json_string(peer ? peer : ""));
        for (const char *k; (k = va_arg(ap, const char *));) {
            const char *v = va_arg(ap, const char *);
            /* A peer's text cut inside a UTF-8 sequence is no JSON string:
             * print it empty rather than drop the key. */
            json_t *js = json_string(v ? v : "");
            json_object_set_new(o, k, js ? js : json_string(""));
        }
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        printf("%s %s %s", ts, peer && *peer ? peer : "-", event);
        for (const char *k; (k = va_arg(ap, const char *));) {
            const char *v = va_arg(ap, const char *);
            /* Peer-supplied text: keep control bytes off the terminal. */
            printf(" %s=", k);
            for (const char *p = v ? v : ""; *p; p++)
                putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
        }
        putchar('\n');
    }
    va_end(ap);
    fflush(stdout);
}

/* ---- JSON messages (ep send --file) ------------------------------------- */

enum { FK_NUM, FK_BOUNDS, FK_MIX, FK_PRICES, FK_ISO };

typedef struct fdesc {
    uint32_t type;
    const char *name;
    unsigned id;
    int kind;
    int vtype;
    size_t off;
} fdesc;

#define FD(t, n, id, k, vt, mem)                                                                   \
    { t, n, id, k, vt, offsetof(ew_ep_msg, u.mem) }
/* Field names as ew_ep_msg_format() prints them (ep.md §4.4-4.6). */
static const fdesc fdescs[] = {
    FD(EW_EP_MSG_SUPPLY, "voltage-limit", 0, FK_BOUNDS, EW_EP_VT_VOLTAGE, supply.voltage_limit),
    FD(EW_EP_MSG_SUPPLY, "current-limit", 1, FK_BOUNDS, EW_EP_VT_CURRENT, supply.current_limit),
    FD(EW_EP_MSG_SUPPLY, "power-limit", 2, FK_NUM, EW_EP_VT_POWER, supply.power_limit),
    FD(EW_EP_MSG_SUPPLY, "power-mix", 3, FK_MIX, EW_EP_VT_SOURCE_MIX, supply.power_mix),
    FD(EW_EP_MSG_SUPPLY, "energy-prices", 4, FK_PRICES, 0, supply.energy_prices),
    FD(EW_EP_MSG_SUPPLY, "voltage", 5, FK_NUM, EW_EP_VT_VOLTAGE, supply.voltage),
    FD(EW_EP_MSG_SUPPLY, "current", 6, FK_NUM, EW_EP_VT_CURRENT, supply.current),
    FD(EW_EP_MSG_SUPPLY, "isolation", 7, FK_ISO, 0, supply.isolation),
    FD(EW_EP_MSG_DEMAND, "voltage", 0, FK_NUM, EW_EP_VT_VOLTAGE, demand.voltage),
    FD(EW_EP_MSG_DEMAND, "current", 1, FK_NUM, EW_EP_VT_CURRENT, demand.current),
    FD(EW_EP_MSG_DEMAND, "voltage-limit", 2, FK_NUM, EW_EP_VT_VOLTAGE, demand.voltage_limit),
    FD(EW_EP_MSG_DEMAND, "current-limit", 3, FK_NUM, EW_EP_VT_CURRENT, demand.current_limit),
    FD(EW_EP_MSG_DEMAND, "power-limit", 4, FK_NUM, EW_EP_VT_POWER, demand.power_limit),
    FD(EW_EP_MSG_DEMAND, "duration", 5, FK_NUM, EW_EP_VT_DURATION, demand.duration),
    FD(EW_EP_MSG_STORAGE, "soc", 0, FK_NUM, EW_EP_VT_PERCENTAGE, storage.soc),
    FD(EW_EP_MSG_STORAGE, "soc-target", 1, FK_NUM, EW_EP_VT_PERCENTAGE, storage.soc_target),
    FD(EW_EP_MSG_STORAGE, "soc-target-time", 2, FK_NUM, EW_EP_VT_DURATION, storage.soc_target_time),
    FD(EW_EP_MSG_STORAGE, "capacity", 3, FK_NUM, EW_EP_VT_ENERGY, storage.capacity),
    FD(EW_EP_MSG_STORAGE, "energy-mix", 4, FK_MIX, EW_EP_VT_ENERGY_MIX, storage.energy_mix),
};

#define MAX_ITEMS 64

typedef struct jctx {
    const char *path;
    int line;
    ew_ep_mix_entry mix[2][MAX_ITEMS];
    ew_ep_price prices[MAX_ITEMS];
} jctx;

static int jnum(const json_t *j, ew_ep_number *n) {
    if (json_is_integer(j))
        *n = ew_ep_num_int(json_integer_value(j));
    else if (json_is_real(j))
        *n = ew_ep_num(json_real_value(j));
    else
        return -1;
    return 0;
}

static ew_bytes jbytes(const json_t *j) {
    ew_bytes b = {(const uint8_t *)json_string_value(j), json_string_length(j)};
    return b;
}

/* Converts one field; returns 0 or -1 with |*why| set. */
static int jfield(jctx *x, const fdesc *fd, const json_t *v, ew_ep_msg *m, const char **why) {
    void *dst = (char *)m + fd->off;
    switch (fd->kind) {
    case FK_NUM: {
        ew_ep_number n;
        if (jnum(v, &n) < 0)
            return *why = "needs a number", -1;
        memcpy(dst, &n, sizeof n);
        return 0;
    }
    case FK_BOUNDS: {
        ew_ep_bounds b;
        memset(&b, 0, sizeof b);
        b.vtype = fd->vtype;
        if (jnum(json_object_get(v, "min"), &b.min) < 0 ||
            jnum(json_object_get(v, "max"), &b.max) < 0)
            return *why = "needs {\"min\": number, \"max\": number}", -1;
        memcpy(dst, &b, sizeof b);
        return 0;
    }
    case FK_MIX: {
        int pct = fd->vtype == EW_EP_VT_SOURCE_MIX;
        ew_ep_mix_entry *items = x->mix[pct ? 0 : 1];
        ew_ep_mix mx;
        memset(&mx, 0, sizeof mx);
        if (!json_is_array(v) || json_array_size(v) > MAX_ITEMS)
            return *why = "needs an array of at most 64 entries", -1;
        for (size_t k = 0; k < json_array_size(v); k++) {
            const json_t *e = json_array_get(v, k);
            const json_t *src = json_object_get(e, "source");
            if (!json_is_integer(src) || json_integer_value(src) < 0 ||
                jnum(json_object_get(e, pct ? "percent" : "wh"), &items[k].amount) < 0)
                return *why = pct ? "entries need \"source\" and \"percent\""
                                  : "entries need \"source\" and \"wh\"",
                       -1;
            items[k].source = (uint64_t)json_integer_value(src);
        }
        mx.items = items;
        mx.count = json_array_size(v);
        memcpy(dst, &mx, sizeof mx);
        return 0;
    }
    case FK_PRICES: {
        ew_ep_prices pr;
        memset(&pr, 0, sizeof pr);
        if (!json_is_array(v) || json_array_size(v) > MAX_ITEMS)
            return *why = "needs an array of at most 64 entries", -1;
        for (size_t k = 0; k < json_array_size(v); k++) {
            const json_t *e = json_array_get(v, k);
            const json_t *t = json_object_get(e, "timestamp"), *cu = json_object_get(e, "currency");
            if (!json_is_string(t) || !json_is_string(cu) ||
                jnum(json_object_get(e, "amount"), &x->prices[k].amount) < 0)
                return *why = "entries need \"timestamp\", \"amount\" and \"currency\"", -1;
            x->prices[k].timestamp = jbytes(t);
            x->prices[k].currency = jbytes(cu);
        }
        pr.items = x->prices;
        pr.count = json_array_size(v);
        memcpy(dst, &pr, sizeof pr);
        return 0;
    }
    default: {
        ew_ep_isolation iso;
        memset(&iso, 0, sizeof iso);
        const json_t *st = json_object_get(v, "state");
        const json_t *ng = json_object_get(v, "negative_ohms"),
                     *po = json_object_get(v, "positive_ohms");
        if (!json_is_integer(st) || json_integer_value(st) < 0)
            return *why = "needs {\"state\": 0..3, \"negative_ohms\", \"positive_ohms\"}", -1;
        iso.state = (uint64_t)json_integer_value(st);
        if (ng && !json_is_null(ng)) {
            if (jnum(ng, &iso.negative_ohms) < 0)
                return *why = "negative_ohms needs a number or null", -1;
            iso.has_negative = 1;
        }
        if (po && !json_is_null(po)) {
            if (jnum(po, &iso.positive_ohms) < 0)
                return *why = "positive_ohms needs a number or null", -1;
            iso.has_positive = 1;
        }
        memcpy(dst, &iso, sizeof iso);
        return 0;
    }
    }
}

static uint32_t msg_type_of(const json_t *o) {
    const char *nm = json_string_value(json_object_get(o, "name"));
    const char *ty = json_string_value(json_object_get(o, "type"));
    const uint32_t types[3] = {EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND, EW_EP_MSG_STORAGE};
    for (int k = 0; k < 3; k++) {
        if (nm && !strcmp(nm, ew_ep_msg_name(types[k])))
            return types[k];
        if (ty && strtoul(ty, NULL, 0) == types[k])
            return types[k];
    }
    return 0;
}

/* One JSON object to a message; returns 1 (|cb| called), 0 (skipped) or -1. */
static int jmsg(jctx *x, const json_t *o, void (*cb)(void *, const ew_ep_msg *), void *user) {
    if (!json_is_object(o)) {
        cli_err("%s: object %d: not a JSON object", x->path, x->line);
        return -1;
    }
    const char *ev = json_string_value(json_object_get(o, "event"));
    if (ev && strcmp(ev, "message"))
        return 0;
    uint32_t type = msg_type_of(o);
    if (!type) {
        cli_err("%s: object %d: \"name\" must be SupplyParameters, DemandParameters or "
                "StorageParameters",
                x->path, x->line);
        return -1;
    }
    const json_t *fields = json_object_get(o, "fields");
    if (!json_is_object(fields)) {
        cli_err("%s: object %d: \"fields\" must be an object", x->path, x->line);
        return -1;
    }
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v) {
        const fdesc *fd = NULL;
        for (size_t j = 0; j < sizeof fdescs / sizeof fdescs[0]; j++)
            if (fdescs[j].type == type && !strcmp(fdescs[j].name, k))
                fd = &fdescs[j];
        if (!fd) {
            cli_err("%s: object %d: %s has no field \"%s\"", x->path, x->line, ew_ep_msg_name(type),
                    k);
            return -1;
        }
        const char *why = "";
        if (jfield(x, fd, v, &m, &why) < 0) {
            cli_err("%s: object %d: field \"%s\" %s", x->path, x->line, k, why);
            return -1;
        }
        m.present |= EW_EP_HAS(fd->id);
    }
    /* Check that it encodes (NaN, ranges) before anything goes out. */
    uint8_t buf[4096];
    size_t n;
    int rc = ew_ep_msg_encode(&m, buf, sizeof buf, &n);
    if (rc != EW_OK) {
        cli_err("%s: object %d: %s does not encode: %s", x->path, x->line, ew_ep_msg_name(type),
                ew_strerror(rc));
        return -1;
    }
    cb(user, &m);
    return 1;
}

int ep_cli_read_msgs(const char *path, void (*cb)(void *user, const ew_ep_msg *m), void *user) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text)
        return -1;
    jctx *x = calloc(1, sizeof *x);
    if (!x) {
        free(text);
        return -1;
    }
    x->path = path;
    size_t off = 0;
    int count = 0, rc = 0;
    for (;;) {
        while (off < len && isspace((unsigned char)text[off]))
            off++;
        if (off >= len)
            break;
        json_error_t je;
        json_t *o = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
        x->line++;
        if (!o) {
            cli_err("%s: object %d: %s", path, x->line, je.text);
            rc = -1;
            break;
        }
        off += je.position;
        if (json_is_array(o)) {
            for (size_t k = 0; rc >= 0 && k < json_array_size(o); k++) {
                rc = jmsg(x, json_array_get(o, k), cb, user);
                count += rc > 0;
                x->line += k + 1 < json_array_size(o);
            }
        } else {
            rc = jmsg(x, o, cb, user);
            count += rc > 0;
        }
        json_decref(o);
        if (rc < 0)
            break;
    }
    free(x);
    free(text);
    if (rc < 0)
        return -1;
    if (!count) {
        cli_err("%s: no parameter message in the file", path);
        return -1;
    }
    return count;
}

/* ---- runner ------------------------------------------------------------- */

int ep_cli_exit_code(int err, int close_reason) {
    switch (close_reason) {
    case EW_EP_CLOSE_HANDSHAKE_TIMEOUT:
        return EP_EXIT_TIMEOUT;
    case EW_EP_CLOSE_IDENTITY:
        return EP_EXIT_IDENTITY;
    default:
        break;
    }
    switch (err) {
    case EW_IO_ERR_UNREACHABLE:
        return EP_EXIT_UNREACHABLE;
    case EW_TLS_ERR_VERSION:
    case EW_TLS_ERR_UNTRUSTED:
    case EW_TLS_ERR_NO_PEER_CERT:
    case EW_TLS_ERR_HANDSHAKE:
        return EP_EXIT_TLS;
    case EW_ERR_TIMEOUT:
        return EP_EXIT_TIMEOUT;
    default:
        return EXIT_FAIL;
    }
}

/* Per-session bookkeeping, hung on the session with set_data. */
typedef struct sess_info {
    struct sess_info *prev, *next; /* ep_run.sessions */
    int started;
    char peer_id[EW_EP_CONN_ID_MAX + 1];
} sess_info;

static void sess_unlink(ep_run *r, sess_info *si) {
    if (si->prev)
        si->prev->next = si->next;
    else
        r->sessions = si->next;
    if (si->next)
        si->next->prev = si->prev;
    free(si);
}

static void close_handle(uv_handle_t *h) {
    if (h->loop && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish_cb(uv_timer_t *t) {
    ep_run *r = t->data;
    ew_ep_node_stats st;
    ew_ep_node_get_stats(r->node, &st);
    /* Wait for the CLOSED events (the SoftDisconnect and close_notify are
     * flushed by then), at most 3 s. */
    if (st.sessions_open && uv_now(&r->loop) < r->stop_at + 3000)
        return;
    ew_ep_node_del(r->node);
    r->node = NULL;
    close_handle((uv_handle_t *)&r->finish_timer);
    close_handle((uv_handle_t *)&r->stop_timer);
    close_handle((uv_handle_t *)&r->tick);
    close_handle((uv_handle_t *)&r->check);
    close_handle((uv_handle_t *)&r->sigint);
    close_handle((uv_handle_t *)&r->sigterm);
}

void ep_run_stop(ep_run *r, int code, const char *reason) {
    if (r->stopping)
        return;
    r->stopping = 1;
    r->exit_code = code;
    r->stop_at = uv_now(&r->loop);
    ew_ep_node_shutdown(r->node, 0, reason);
    uv_timer_start(&r->finish_timer, finish_cb, 0, 20);
}

static void on_signal(uv_signal_t *h, int signum) {
    ep_run *r = h->data;
    if (r->stopping) {
        /* A second Ctrl-C: do not wait for the peers. */
        r->stop_at = 0;
        return;
    }
    if (r->cc->verbose)
        fprintf(stderr, "energywire: %s: signal %d, disconnecting\n", r->prog, signum);
    ep_run_stop(r, EXIT_OK, "shutdown");
}

static void on_stop_timer(uv_timer_t *t) {
    ep_run_stop(t->data, EXIT_OK, "shutdown");
}

static void on_tick(uv_timer_t *t) {
    ep_run *r = t->data;
    if (r->on_tick && !r->stopping)
        r->on_tick(r);
}

static void on_check(uv_check_t *c) {
    ep_run *r = c->data;
    if (r->on_check && !r->stopping)
        r->on_check(r);
}

static void node_log(void *user, int level, const char *msg) {
    ep_run *r = user;
    if (level <= 0 || r->cc->verbose)
        fprintf(stderr, "energywire: %s: %s\n", r->prog, msg);
}

/* The detail already names the failure ("TCP: cannot connect to ...",
 * "TLS: untrusted certificate ..."): print it alone when there is one. */
static void fail_early(ep_run *r, int code, const char *what, const char *detail) {
    cli_err("%s: %s", r->prog, *detail ? detail : what);
    ep_run_stop(r, code, "shutdown");
}

static void node_event(void *user, const ew_ep_node_event *ev) {
    ep_run *r = user;
    ep_cli_conn *c = r->cc;
    ew_ep_node_session *s = ev->session;
    const char *peer = s ? ew_ep_session_peer_name(s) : "";
    sess_info *si = s ? ew_ep_session_data(s) : NULL;
    if (s && !si && ev->type != EW_EP_NODE_CLOSED) {
        si = calloc(1, sizeof *si);
        if (si) {
            si->next = r->sessions;
            if (si->next)
                si->next->prev = si;
            r->sessions = si;
            ew_ep_session_set_data(s, si);
        }
    }
    switch (ev->type) {
    case EW_EP_NODE_TLS_UP:
        if (c->verbose) {
            char fp[EW_TLS_FP_HEX_LEN] = "";
            ew_tls_peer_fingerprint(ew_ep_session_tls(s), fp, NULL);
            fprintf(stderr, "energywire: %s: %s: TLS 1.3 up, peer certificate sha256 %s\n", r->prog,
                    peer, fp);
        }
        break;
    case EW_EP_NODE_SESSION: {
        const ew_ep_conn_event *ce = &ev->conn;
        if (ce->type == EW_EP_EV_HANDSHAKE) {
            r->ever_active = 1;
            char id[EW_EP_CONN_ID_MAX + 1], ty[128], te[EW_EP_CONN_ID_MAX + 1],
                pr[EW_EP_CONN_ID_MAX + 1], nm[128];
#define CP(dst, b)                                                                                 \
    snprintf(dst, sizeof dst, "%.*s", (int)((b).len < sizeof dst ? (b).len : sizeof dst - 1),      \
             (const char *)(b).ptr ? (const char *)(b).ptr : "")
            CP(id, ce->msg.u.session.identity);
            CP(ty, ce->msg.u.session.type);
            CP(te, ce->msg.u.session.tenant);
            CP(pr, ce->msg.u.session.provider);
            CP(nm, ce->msg.u.session.name);
#undef CP
            if (si) {
                si->started = 1;
                snprintf(si->peer_id, sizeof si->peer_id, "%s", id);
            }
            ep_cli_print_event(c, "session-start", peer, "identity", id, "device_type", ty,
                               "tenant", te, "provider", pr, "name", nm, "direction",
                               ew_ep_session_outbound(s) ? "outbound" : "inbound", NULL);
        } else if (ce->type == EW_EP_EV_MESSAGE) {
            if (r->print_msgs)
                ep_cli_print_msg(c, peer, si ? si->peer_id : "", "rx", &ce->msg);
            if (ce->msg.type == EW_EP_MSG_SUPPLY || ce->msg.type == EW_EP_MSG_DEMAND ||
                ce->msg.type == EW_EP_MSG_STORAGE || r->print_msgs)
                r->rx_msgs++;
            if (r->count_rx && c->count && r->rx_msgs >= c->count)
                ep_run_stop(r, EXIT_OK, "shutdown");
        } else if (ce->type == EW_EP_EV_REJECTED) {
            cli_warn("%s: %s: rejected a %s message: %s", r->prog, peer,
                     ew_ep_msg_name(ce->msg.type) ? ew_ep_msg_name(ce->msg.type) : "unknown",
                     ew_strerror(ce->err));
        } else if (ce->type == EW_EP_EV_SOFT_DISCONNECT) {
            char why[256];
            snprintf(why, sizeof why, "%.*s", (int)(ce->reason.len < 255 ? ce->reason.len : 255),
                     ce->reason.ptr ? (const char *)ce->reason.ptr : "");
            ep_cli_print_event(c, "soft-disconnect", peer, "reconnect",
                               ce->reconnect < 0 ? "absent"
                               : ce->reconnect   ? "true"
                                                 : "false",
                               "reason", why, NULL);
            /* The peer's §5.4 check failed on us (its reason text is
             * ep_conn's "identity mismatch"). */
            if (r->dialing && !strcmp(why, "identity mismatch")) {
                cli_err("%s: %s: the peer refused our identity: %s", r->prog, peer, why);
                ep_run_stop(r, EP_EXIT_IDENTITY, "shutdown");
            }
        } else if (ce->type == EW_EP_EV_IDENTITY_MISMATCH) {
            char got[EW_EP_CONN_ID_MAX + 1];
            ew_bytes b = ce->msg.u.session.identity;
            snprintf(got, sizeof got, "%.*s", (int)(b.len < sizeof got ? b.len : sizeof got - 1),
                     b.ptr ? (const char *)b.ptr : "");
            cli_err("%s: %s: identity mismatch: the peer's SessionParameters (identity '%s') "
                    "do not match its certificate in:%s%s%s",
                    r->prog, peer, got, ce->mismatch & EW_EP_ID_IDENTITY ? " identity" : "",
                    ce->mismatch & EW_EP_ID_TENANT ? " tenant" : "",
                    ce->mismatch & EW_EP_ID_PROVIDER ? " provider" : "");
            if (r->dialing && !r->ever_active)
                ep_run_stop(r, EP_EXIT_IDENTITY, "identity mismatch");
        }
        break;
    }
    case EW_EP_NODE_CLOSED: {
        const char *why = ev->close_reason ? ew_ep_close_reason_name(ev->close_reason) : "";
        if (si && si->started)
            ep_cli_print_event(c, "session-end", peer, "reason", why, "detail",
                               ev->detail ? ev->detail : "", NULL);
        else if (!r->stopping && r->dialing && !r->ever_active && !r->persist && ev->dialer)
            /* The first attempt failed before the EP session was up. */
            fail_early(r, ep_cli_exit_code(ev->err, ev->close_reason),
                       ev->close_reason ? why : ew_tls_strerror(ev->err),
                       ev->detail ? ev->detail : "");
        else if (!r->stopping && (c->verbose || ev->err))
            cli_warn("%s: %s: connection closed: %s", r->prog, peer,
                     ev->detail && *ev->detail ? ev->detail
                     : ev->close_reason        ? why
                                               : ew_tls_strerror(ev->err));
        if (s)
            ew_ep_session_set_data(s, NULL);
        if (si)
            sess_unlink(r, si);
        si = NULL;
        /* A dialer that stopped for good (the peer's SoftDisconnect with
         * reconnect=false, ep.md §5.7) leaves nothing to do. */
        if (!r->stopping && r->dialing && ev->dialer && !ew_ep_dialer_running(ev->dialer))
            ep_run_stop(r, r->ever_active ? EXIT_OK : EXIT_FAIL, "shutdown");
        break;
    }
    case EW_EP_NODE_DIAL_FAILED:
        if (!r->stopping && !r->ever_active && !r->persist)
            fail_early(r, ep_cli_exit_code(ev->err, 0), ew_tls_strerror(ev->err),
                       ev->detail ? ev->detail : "");
        else if (!r->stopping)
            cli_warn("%s: connecting failed (%s); next attempt in %u ms", r->prog,
                     ev->detail && *ev->detail ? ev->detail : ew_tls_strerror(ev->err),
                     (unsigned)ev->retry_ms);
        break;
    }
    if (r->on_event)
        r->on_event(r, ev);
}

int ep_run_start(ep_run *r, ew_ep_node_opts *o, int dial, const char *host, uint16_t port) {
    if (uv_loop_init(&r->loop) < 0) {
        cli_err("%s: cannot create the event loop", r->prog);
        return EXIT_FAIL;
    }
    r->dialing = dial;
    o->on_event = node_event;
    o->user = r;
    o->log = node_log;
    o->log_user = r;
    char detail[256] = "";
    int rc = ew_ep_node_new(&r->node, &r->loop, o, detail, sizeof detail);
    if (rc != EW_OK) {
        cli_err("%s: %s", r->prog, *detail ? detail : ew_tls_strerror(rc));
        uv_loop_close(&r->loop);
        return rc == EW_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    rc = dial ? ew_ep_node_dial(r->node, host, port, &r->dialer)
              : ew_ep_node_listen(r->node, host, port);
    if (rc != EW_OK) {
        cli_err("%s: %s", r->prog, ew_ep_node_error_detail(r->node));
        ew_ep_node_del(r->node);
        r->node = NULL;
        uv_run(&r->loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->loop);
        return rc == EW_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    uv_timer_init(&r->loop, &r->stop_timer);
    uv_timer_init(&r->loop, &r->finish_timer);
    uv_timer_init(&r->loop, &r->tick);
    uv_check_init(&r->loop, &r->check);
    r->sigint.data = r->sigterm.data = r->stop_timer.data = r->finish_timer.data = r->tick.data =
        r->check.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    if (r->cc->duration_s > 0)
        uv_timer_start(&r->stop_timer, on_stop_timer, (uint64_t)(r->cc->duration_s * 1000), 0);
    if (r->on_tick && r->tick_ms)
        uv_timer_start(&r->tick, on_tick, r->tick_ms, r->tick_ms);
    if (r->on_check)
        uv_check_start(&r->check, on_check);
    return EXIT_OK;
}

int ep_run_loop(ep_run *r) {
    uv_run(&r->loop, UV_RUN_DEFAULT);
    if (r->node) { /* the loop ran dry without a stop */
        ew_ep_node_del(r->node);
        r->node = NULL;
        uv_run(&r->loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&r->loop);
    /* Sessions the node closed without events (ew_ep_node_del). */
    while (r->sessions)
        sess_unlink(r, r->sessions);
    return r->exit_code;
}
