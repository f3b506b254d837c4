/*
 * energywire ep: certs, listen, connect, send, monitor (docs/cli-ep.md).
 *
 * `certs` makes a CA and device certificates with the OpenSSL API through
 * <energywire/tls.h>.  The other verbs run an EP node (<energywire/io_ep.h>)
 * through the runner in ep_cli.c: they listen or dial, print the sessions
 * and the messages, and stop with SoftDisconnect(reconnect=false) on Ctrl-C,
 * --count or --duration (ep.md §5.7).
 */
#include "cli.h"
#include "ep_cli.h"

#include <energywire/tls.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

static void ep_usage(FILE *out) {
    fputs(
        "usage: energywire ep <verb> [options]\n"
        "\n"
        "  certs DIR [--ca-cn NAME] [--device ID[:TENANT[:PROVIDER]]]... [--days N] [--force]\n"
        "                 make a CA and device certificates (DIR/ca.crt, ca.key, ID.crt, ID.key)\n"
        "  listen [ADDR[:PORT]]      accept sessions (default 0.0.0.0:56540), print messages\n"
        "  connect HOST[:PORT]       open a session (reconnecting), print messages\n"
        "  send HOST[:PORT] (--supply|--demand|--storage FIELDS... | --file MSG.json)\n"
        "                            publish parameters, then SoftDisconnect\n"
        "  monitor HOST[:PORT] | --listen ADDR[:PORT]   print every message of a peer\n"
        "\n"
        "Run 'energywire ep <verb> --help' for the options of a verb; see docs/cli-ep.md.\n"
        "Exit codes: 0 ok, 1 error, 2 usage, 3 unreachable, 4 TLS refused (version or\n"
        "certificate), 5 identity mismatch, 6 handshake timeout.\n",
        out);
}

/* ---- ep certs ------------------------------------------------------------ */

static void certs_usage(FILE *out) {
    fputs("usage: energywire ep certs DIR [--ca-cn NAME] [--device ID[:TENANT[:PROVIDER]]]...\n"
          "                             [--days N] [--force] [--json]\n"
          "\n"
          "Makes DIR/ca.crt and ca.key (a CA, EC P-256) and, for each --device,\n"
          "DIR/ID.crt and ID.key signed by it, with CN=ID, O=TENANT, OU=PROVIDER (the\n"
          "fields EP checks against SessionParameters, ep.md §5.4).  Keys are written\n"
          "with mode 0600.  Existing files are never overwritten without --force; an\n"
          "existing CA is used to sign new devices.  Prints the SHA-256 fingerprints\n"
          "(for --trust).\n",
          out);
}

#define MAX_DEVICES 64

static int valid_id(const char *s) {
    if (!*s || *s == '.' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-@", *s))
            return 0;
    return 1;
}

/* Writes |text| to DIR/NAME with |mode| (O_EXCL unless |force|). */
static int write_file(const char *dir, const char *name, const char *text, mode_t mode, int force,
                      char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL), mode);
    if (fd < 0) {
        if (errno == EEXIST)
            cli_err("ep certs: %s exists (--force replaces it)", path);
        else
            cli_err("ep certs: %s: %s", path, strerror(errno));
        return -1;
    }
    /* An existing file keeps its mode through O_TRUNC: set it. */
    size_t len = strlen(text), off = 0;
    int ok = fchmod(fd, mode) == 0;
    while (ok && off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        ok = k > 0;
        off += k > 0 ? (size_t)k : 0;
    }
    if (close(fd) != 0)
        ok = 0;
    if (!ok)
        cli_err("ep certs: cannot write %s: %s", path, strerror(errno));
    return ok ? 0 : -1;
}

static int exists(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void fp_hex(const char *pem, char hex[EW_TLS_FP_HEX_LEN]) {
    uint8_t raw[EW_TLS_FP_LEN];
    hex[0] = 0;
    if (ew_tls_cert_fingerprint(pem, raw) == EW_OK)
        for (int i = 0; i < EW_TLS_FP_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", raw[i]);
}

static int cmd_certs(int argc, char **argv) {
    const char *dir = NULL, *ca_cn = "energywire local CA";
    char *devs[MAX_DEVICES];
    int ndev = 0, force = 0, json = 0, rc = EXIT_OK;
    double days = 365;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            certs_usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--force")) {
            force = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--ca-cn") && i + 1 < argc) {
            ca_cn = argv[++i];
        } else if (!strcmp(a, "--days") && i + 1 < argc) {
            if (cli_parse_num(argv[++i], 1, 36500, &days) < 0 || days != floor(days)) {
                cli_err("ep certs: --days needs a whole number from 1 to 36500");
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--device") && i + 1 < argc) {
            if (ndev == MAX_DEVICES) {
                cli_err("ep certs: at most %d devices at once", MAX_DEVICES);
                return EXIT_USAGE;
            }
            devs[ndev++] = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            cli_err("ep certs: unknown option or missing value '%s'", a);
            certs_usage(stderr);
            return EXIT_USAGE;
        } else if (!dir) {
            dir = a;
        } else {
            cli_err("ep certs: one directory only ('%s')", a);
            return EXIT_USAGE;
        }
    }
    if (!dir) {
        cli_err("ep certs: give the directory to write to");
        certs_usage(stderr);
        return EXIT_USAGE;
    }
    /* Split and check every ID:TENANT:PROVIDER before writing anything. */
    char parts[MAX_DEVICES][3][256];
    for (int d = 0; d < ndev; d++) {
        memset(parts[d], 0, sizeof parts[d]);
        const char *p = devs[d];
        for (int k = 0; k < 3 && p; k++) {
            const char *c = k < 2 ? strchr(p, ':') : NULL;
            size_t n = c ? (size_t)(c - p) : strlen(p);
            if (n >= sizeof parts[d][k]) {
                cli_err("ep certs: --device '%s': a part is too long", devs[d]);
                return EXIT_USAGE;
            }
            memcpy(parts[d][k], p, n);
            p = c ? c + 1 : NULL;
        }
        if (!valid_id(parts[d][0]) || !strcmp(parts[d][0], "ca")) {
            cli_err("ep certs: --device '%s': the identity must be 1-64 of A-Z a-z 0-9 . _ - @ "
                    "(it names the files) and not 'ca'",
                    devs[d]);
            return EXIT_USAGE;
        }
        char crt[300], key[300];
        snprintf(crt, sizeof crt, "%s.crt", parts[d][0]);
        snprintf(key, sizeof key, "%s.key", parts[d][0]);
        if (!force && (exists(dir, crt) || exists(dir, key))) {
            cli_err("ep certs: %s/%s exists (--force replaces it)", dir, crt);
            return EXIT_FAIL;
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        cli_err("ep certs: cannot create %s: %s", dir, strerror(errno));
        return EXIT_FAIL;
    }
    int have_ca = !force && exists(dir, "ca.crt") && exists(dir, "ca.key");
    if (!force && !have_ca && (exists(dir, "ca.crt") || exists(dir, "ca.key"))) {
        cli_err("ep certs: %s holds only half a CA (ca.crt or ca.key); --force replaces it", dir);
        return EXIT_FAIL;
    }
    if (have_ca && !ndev) {
        cli_err("ep certs: %s/ca.crt exists and no --device was given (--force replaces the CA)",
                dir);
        return EXIT_FAIL;
    }
    char *ca_crt = NULL, *ca_key = NULL, path[4096], hex[EW_TLS_FP_HEX_LEN];
    json_t *out = json ? json_object() : NULL, *jdevs = json ? json_array() : NULL;
    if (have_ca) {
        char p1[4096], p2[4096];
        snprintf(p1, sizeof p1, "%s/ca.crt", dir);
        snprintf(p2, sizeof p2, "%s/ca.key", dir);
        ca_crt = cli_read_file(p1, NULL);
        ca_key = ca_crt ? cli_read_file(p2, NULL) : NULL;
        if (!ca_key) {
            rc = EXIT_FAIL;
            goto done;
        }
        if (!json)
            printf("using the existing CA %s\n", p1);
    } else {
        ew_tls_cert_opts co;
        memset(&co, 0, sizeof co);
        co.cn = ca_cn;
        co.days = (uint32_t)days;
        if (ew_tls_make_ca(&co, &ca_crt, &ca_key) != EW_OK) {
            cli_err("ep certs: cannot make the CA (CN '%s')", ca_cn);
            rc = EXIT_FAIL;
            goto done;
        }
        if (write_file(dir, "ca.key", ca_key, 0600, force, path, sizeof path) < 0 ||
            write_file(dir, "ca.crt", ca_crt, 0644, force, path, sizeof path) < 0) {
            rc = EXIT_FAIL;
            goto done;
        }
    }
    fp_hex(ca_crt, hex);
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    if (json) {
        json_object_set_new(out, "ca", json_pack("{s:s,s:s}", "file", path, "sha256", hex));
    } else {
        printf("%-32s CA           sha256 %s\n", path, hex);
    }
    for (int d = 0; d < ndev; d++) {
        ew_tls_cert_opts co;
        memset(&co, 0, sizeof co);
        co.cn = parts[d][0];
        co.o = *parts[d][1] ? parts[d][1] : NULL;
        co.ou = *parts[d][2] ? parts[d][2] : NULL;
        co.days = (uint32_t)days;
        char *crt = NULL, *key = NULL, nm[300];
        if (ew_tls_make_cert(ca_crt, ca_key, &co, &crt, &key) != EW_OK) {
            cli_err("ep certs: cannot make the certificate of '%s' (is %s/ca.key the key of "
                    "ca.crt?)",
                    parts[d][0], dir);
            rc = EXIT_FAIL;
            goto done;
        }
        snprintf(nm, sizeof nm, "%s.key", parts[d][0]);
        int bad = write_file(dir, nm, key, 0600, force, path, sizeof path) < 0;
        snprintf(nm, sizeof nm, "%s.crt", parts[d][0]);
        bad = bad || write_file(dir, nm, crt, 0644, force, path, sizeof path) < 0;
        fp_hex(crt, hex);
        ew_tls_free(crt);
        ew_tls_free(key);
        if (bad) {
            rc = EXIT_FAIL;
            goto done;
        }
        if (json) {
            json_array_append_new(jdevs, json_pack("{s:s,s:s,s:s,s:s,s:s}", "file", path,
                                                   "identity", co.cn, "tenant", parts[d][1],
                                                   "provider", parts[d][2], "sha256", hex));
        } else {
            printf("%-32s identity=%s%s%s%s%s sha256 %s\n", path, co.cn, co.o ? " tenant=" : "",
                   co.o ? co.o : "", co.ou ? " provider=" : "", co.ou ? co.ou : "", hex);
        }
    }
    if (json) {
        json_object_set(out, "devices", jdevs);
        char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
    }
done:
    json_decref(jdevs);
    json_decref(out);
    ew_tls_free(ca_crt);
    ew_tls_free(ca_key);
    return rc;
}

/* ---- the connection verbs ---------------------------------------------- */

typedef struct param_set {
    uint32_t type;
    uint8_t payload[2048];
    size_t len;
} param_set;

typedef struct ep_cmd {
    ep_run run;
    ep_cli_conn cc;
    param_set params[3];
    int nparams;
    int bad;
    /* send: messages sent on earlier sessions, and on the current one */
    unsigned long sent_base, sent_cur;
    const ew_ep_node_session *counted;
} ep_cmd;

static int param_index(uint32_t type) {
    return type == EW_EP_MSG_SUPPLY ? 0 : type == EW_EP_MSG_DEMAND ? 1 : 2;
}

/* Keeps a message as its encoded payload; a later one of the same type
 * replaces it. */
static void keep_param(void *user, const ew_ep_msg *m) {
    ep_cmd *e = user;
    param_set *p = &e->params[param_index(m->type)];
    if (ew_ep_msg_encode(m, p->payload, sizeof p->payload, &p->len) != EW_OK) {
        cli_err("ep send: %s is larger than %zu bytes", ew_ep_msg_name(m->type), sizeof p->payload);
        e->bad = 1;
        return;
    }
    p->type = m->type;
}

static int decode_param(const param_set *p, ew_ep_msg *m) {
    return ew_ep_msg_decode(p->type, p->payload, p->len, 0, m, NULL);
}

static void print_tx(ep_cmd *e, const ew_ep_node_session *s) {
    char id[EW_EP_CONN_ID_MAX + 1] = "";
    ew_ep_conn *c = ew_ep_session_conn(s);
    if (c) {
        ew_bytes b = ew_ep_conn_peer_identity(c);
        snprintf(id, sizeof id, "%.*s", (int)b.len, b.ptr ? (const char *)b.ptr : "");
    }
    for (int k = 0; k < 3; k++) {
        ew_ep_msg m;
        if (e->params[k].type && decode_param(&e->params[k], &m) == EW_OK)
            ep_cli_print_msg(&e->cc, ew_ep_session_peer_name(s), id, "tx", &m);
    }
}

static void send_event(ep_run *r, const ew_ep_node_event *ev) {
    ep_cmd *e = r->user;
    if (ev->type == EW_EP_NODE_SESSION && ev->conn.type == EW_EP_EV_HANDSHAKE)
        print_tx(e, ev->session);
    if (ev->type == EW_EP_NODE_CLOSED && ev->session && ev->session == e->counted) {
        /* Its memory goes after this call: a later session may reuse the
         * address, so the count must not follow the pointer. */
        e->sent_base += e->sent_cur;
        e->sent_cur = 0;
        e->counted = NULL;
    }
}

/* Counts the parameter messages sent (ep send --count): frames sent minus
 * Pings and the own SessionParameters. */
static void send_check(ep_run *r) {
    ep_cmd *e = r->user;
    if (!e->cc.count)
        return;
    ew_ep_node_session *s = r->dialer ? ew_ep_dialer_session(r->dialer) : NULL;
    if (s != e->counted) {
        e->sent_base += e->sent_cur;
        e->sent_cur = 0;
        e->counted = s;
    }
    ew_ep_conn *c = s ? ew_ep_session_conn(s) : NULL;
    if (!c || !ew_ep_conn_active(c))
        return;
    ew_ep_conn_stats cs;
    ew_ep_conn_get_stats(c, &cs);
    uint64_t n = cs.frames_tx - cs.pings_tx;
    e->sent_cur = n > 1 ? (unsigned long)(n - 1) : 0;
    if (e->sent_base + e->sent_cur >= e->cc.count)
        ep_run_stop(r, EXIT_OK, "done");
}

static void verb_usage(const char *verb, FILE *out) {
    if (!strcmp(verb, "listen"))
        fputs("usage: energywire ep listen [ADDR[:PORT]] [connection options]\n"
              "Accepts EP sessions (default 0.0.0.0:56540, ep.md §5.1; port 0 picks a free\n"
              "port) and prints each session start and end and every message.  The line\n"
              "\"listening on ADDR:PORT\" goes to standard error.\n\n",
              out);
    else if (!strcmp(verb, "connect"))
        fputs("usage: energywire ep connect HOST[:PORT] [connection options]\n"
              "Opens a session to HOST (port 56540 by default) and prints the session and\n"
              "every message; after a loss it reconnects with backoff (ep.md §5.5).\n"
              "A failed first attempt ends it (exit 3-6) unless --retry is given.\n\n",
              out);
    else if (!strcmp(verb, "monitor"))
        fputs("usage: energywire ep monitor (HOST[:PORT] [--retry] | --listen ADDR[:PORT]) "
              "[options]\n"
              "Prints every message of a peer as text or, with --json, as JSON Lines.\n\n",
              out);
    else
        fputs("usage: energywire ep send HOST[:PORT] [--supply] [--demand] [--storage] FIELDS...\n"
              "       energywire ep send HOST[:PORT] --file MSG.json\n"
              "Publishes the parameters at --rate until --count messages were sent,\n"
              "--duration ran out or Ctrl-C, then ends with SoftDisconnect.\n"
              "Fields (each goes to the selected messages that have it):\n"
              "  --voltage V --current A      Supply: measured; Demand: requirement\n"
              "  --voltage-limit MIN..MAX|V   Supply: bounds; Demand: maximum\n"
              "  --current-limit MIN..MAX|A   Supply: bounds; Demand: maximum\n"
              "  --voltage-min V --voltage-max V --current-max A   Supply bounds\n"
              "  --power W (= --power-limit W) maximum power\n"
              "  --duration-ms MS             Demand: estimated remaining time\n"
              "  --soc PCT --soc-target PCT --soc-target-time MS --capacity WH   Storage\n"
              "--file: JSON as 'ep monitor --json' prints it (docs/cli-ep.md).\n\n",
              out);
    ep_cli_common_usage(out);
}

/* A field flag of ep send: which messages take it, and how. */
typedef struct send_field {
    const char *flag;
    unsigned sup, dem, sto; /* field IDs + 1 in Supply, Demand, Storage; 0 = none */
    int bounds_part;        /* 1 min, 2 max (Supply bounds), 0 whole */
} send_field;

static const send_field send_fields[] = {
    {"--voltage", 6, 1, 0, 0},
    {"--current", 7, 2, 0, 0},
    {"--voltage-limit", 1, 3, 0, 0},
    {"--current-limit", 2, 4, 0, 0},
    {"--voltage-min", 1, 0, 0, 1},
    {"--voltage-max", 1, 0, 0, 2},
    {"--current-max", 2, 4, 0, 2},
    {"--power", 3, 5, 0, 0},
    {"--power-limit", 3, 5, 0, 0},
    {"--duration-ms", 0, 6, 0, 0},
    {"--soc", 0, 0, 1, 0},
    {"--soc-target", 0, 0, 2, 0},
    {"--soc-target-time", 0, 0, 3, 0},
    {"--capacity", 0, 0, 4, 0},
};

static ew_ep_number num_of(double v) {
    if (v == floor(v) && fabs(v) < 9e15)
        return ew_ep_num_int((int64_t)v);
    return ew_ep_num(v);
}

static ew_ep_number *num_slot(ew_ep_msg *m, unsigned id) {
    if (m->type == EW_EP_MSG_SUPPLY)
        return id == 2   ? &m->u.supply.power_limit
               : id == 5 ? &m->u.supply.voltage
                         : &m->u.supply.current;
    if (m->type == EW_EP_MSG_DEMAND) {
        ew_ep_number *d[] = {&m->u.demand.voltage,       &m->u.demand.current,
                             &m->u.demand.voltage_limit, &m->u.demand.current_limit,
                             &m->u.demand.power_limit,   &m->u.demand.duration};
        return d[id];
    }
    ew_ep_number *s[] = {&m->u.storage.soc, &m->u.storage.soc_target, &m->u.storage.soc_target_time,
                         &m->u.storage.capacity};
    return s[id];
}

/* Applies one field flag to the selected messages.  Returns 0 or -1. */
static int apply_field(ew_ep_msg msgs[3], const int sel[3], const send_field *f, const char *v) {
    int used = 0;
    const unsigned ids[3] = {f->sup, f->dem, f->sto};
    for (int k = 0; k < 3; k++) {
        if (!sel[k] || !ids[k])
            continue;
        ew_ep_msg *m = &msgs[k];
        unsigned id = ids[k] - 1;
        double lo, hi;
        if (k == 0 && id <= 1) { /* Supply bounds */
            ew_ep_bounds *b = id == 0 ? &m->u.supply.voltage_limit : &m->u.supply.current_limit;
            const char *dots = strstr(v, "..");
            int had = (m->present & EW_EP_HAS(id)) != 0;
            if (f->bounds_part == 0 && dots) { /* MIN..MAX */
                char lo_s[64];
                size_t n = (size_t)(dots - v);
                if (n >= sizeof lo_s)
                    return -1;
                memcpy(lo_s, v, n);
                lo_s[n] = 0;
                if (cli_parse_num(lo_s, -1e12, 1e12, &lo) < 0 ||
                    cli_parse_num(dots + 2, -1e12, 1e12, &hi) < 0)
                    return -1;
            } else {
                double x;
                if (cli_parse_num(v, -1e12, 1e12, &x) < 0)
                    return -1;
                if (f->bounds_part == 1) { /* the minimum */
                    lo = x;
                    hi = had ? b->max.value : x;
                } else { /* the maximum; a single value means 0..V */
                    lo = had && f->bounds_part == 2 ? b->min.value : 0;
                    hi = x;
                }
            }
            b->vtype = id == 0 ? EW_EP_VT_VOLTAGE : EW_EP_VT_CURRENT;
            b->min = num_of(lo);
            b->max = num_of(hi);
        } else {
            if (cli_parse_num(v, -1e12, 1e12, &hi) < 0)
                return -1;
            *num_slot(m, id) = num_of(hi);
        }
        m->present |= EW_EP_HAS(id);
        used = 1;
    }
    return used ? 0 : 1;
}

static int cmd_conn(const char *verb, int argc, char **argv) {
    ep_cmd *e = calloc(1, sizeof *e);
    if (!e)
        return EXIT_FAIL;
    ep_cli_conn_init(&e->cc);
    char prog[32], host[256];
    snprintf(prog, sizeof prog, "ep %s", verb);
    const char *target = NULL, *listen_at = NULL, *file = NULL;
    int is_send = !strcmp(verb, "send"), is_listen = !strcmp(verb, "listen");
    int sel[3] = {0, 0, 0}, rc = EXIT_OK;
    ew_ep_msg msgs[3];
    memset(msgs, 0, sizeof msgs);
    msgs[0].type = EW_EP_MSG_SUPPLY;
    msgs[1].type = EW_EP_MSG_DEMAND;
    msgs[2].type = EW_EP_MSG_STORAGE;
    const char *pending_flag[32], *pending_val[32];
    int npending = 0;
    for (int i = 1; i < argc && rc == EXIT_OK; i++) {
        const char *a = argv[i];
        int k = ep_cli_parse_common(&e->cc, prog, argc, argv, &i);
        if (k < 0) {
            rc = EXIT_USAGE;
            break;
        }
        if (k > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            verb_usage(verb, stdout);
            free(e);
            return EXIT_OK;
        }
        if (!is_listen && !strcmp(a, "--retry")) {
            e->run.persist = 1;
            continue;
        }
        if (!strcmp(verb, "monitor") && !strcmp(a, "--listen")) {
            listen_at = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : "0.0.0.0";
            continue;
        }
        if (is_send &&
            (!strcmp(a, "--supply") || !strcmp(a, "--demand") || !strcmp(a, "--storage"))) {
            sel[a[2] == 's' && a[3] == 'u' ? 0 : a[2] == 'd' ? 1 : 2] = 1;
            continue;
        }
        if (is_send && !strcmp(a, "--file") && i + 1 < argc) {
            file = argv[++i];
            continue;
        }
        const send_field *sf = NULL;
        for (size_t j = 0; is_send && j < sizeof send_fields / sizeof send_fields[0]; j++)
            if (!strcmp(a, send_fields[j].flag))
                sf = &send_fields[j];
        if (sf) {
            if (i + 1 >= argc || npending == 32) {
                cli_err("%s: %s", prog,
                        npending == 32 ? "too many field flags" : "a field flag needs a value");
                rc = EXIT_USAGE;
                break;
            }
            pending_flag[npending] = a;
            pending_val[npending++] = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1]) {
            cli_err("%s: unknown option '%s' (see energywire %s --help)", prog, a, prog);
            rc = EXIT_USAGE;
        } else if (!target) {
            target = a;
        } else {
            cli_err("%s: one address only ('%s')", prog, a);
            rc = EXIT_USAGE;
        }
    }
    int dial = !is_listen && !listen_at;
    uint16_t port = EW_EP_PORT;
    if (rc == EXIT_OK && listen_at && target) {
        cli_err("%s: give HOST or --listen, not both", prog);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && dial && !target) {
        cli_err("%s: give the peer as HOST[:PORT]", prog);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK) {
        const char *where = listen_at ? listen_at : target ? target : "0.0.0.0";
        if (ep_cli_hostport(where, EW_EP_PORT, !dial, host, sizeof host, &port) < 0) {
            cli_err("%s: '%s' is not HOST[:PORT]", prog, where);
            rc = EXIT_USAGE;
        }
    }
    if (rc == EXIT_OK && is_send) {
        /* Field flags apply once all the message selections are known. */
        if (file && (sel[0] || sel[1] || sel[2] || npending)) {
            cli_err("%s: --file and message flags exclude each other", prog);
            rc = EXIT_USAGE;
        } else if (file) {
            if (ep_cli_read_msgs(file, keep_param, e) < 0 || e->bad)
                rc = EXIT_USAGE;
        } else if (!sel[0] && !sel[1] && !sel[2]) {
            cli_err("%s: say what to send: --supply, --demand, --storage or --file", prog);
            rc = EXIT_USAGE;
        } else {
            for (int p = 0; p < npending && rc == EXIT_OK; p++) {
                const send_field *sf = NULL;
                for (size_t j = 0; j < sizeof send_fields / sizeof send_fields[0]; j++)
                    if (!strcmp(pending_flag[p], send_fields[j].flag))
                        sf = &send_fields[j];
                int r2 = apply_field(msgs, sel, sf, pending_val[p]);
                if (r2 < 0 && strstr(pending_val[p], "..") && sel[1]) {
                    cli_err("%s: %s: MIN..MAX fits only --supply; DemandParameters takes one "
                            "number",
                            prog, pending_flag[p]);
                    rc = EXIT_USAGE;
                } else if (r2 < 0) {
                    cli_err("%s: %s: '%s' is not a number%s", prog, pending_flag[p], pending_val[p],
                            sf->sup && sf->sup <= 2 ? " (or MIN..MAX)" : "");
                    rc = EXIT_USAGE;
                } else if (r2 > 0) {
                    cli_err("%s: %s belongs to none of the selected messages", prog,
                            pending_flag[p]);
                    rc = EXIT_USAGE;
                }
            }
            for (int k = 0; k < 3 && rc == EXIT_OK; k++)
                if (sel[k])
                    keep_param(e, &msgs[k]);
            if (e->bad)
                rc = EXIT_USAGE;
        }
    }
    ew_ep_node_opts o;
    ew_ep_node_opts_init(&o);
    if (rc == EXIT_OK)
        rc = ep_cli_node_opts(&e->cc, prog, !strcmp(verb, "monitor") ? "monitor" : "tool", &o);
    if (rc != EXIT_OK) {
        ep_cli_conn_free(&e->cc);
        free(e);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    ep_run *r = &e->run;
    r->cc = &e->cc;
    r->prog = prog;
    r->user = e;
    r->print_msgs = 1;
    r->count_rx = !is_send;
    if (is_send) {
        r->on_event = send_event;
        r->on_check = send_check;
    }
    rc = ep_run_start(r, &o, dial, host, port);
    if (rc == EXIT_OK) {
        for (int k = 0; k < 3; k++) {
            ew_ep_msg m;
            if (e->params[k].type && decode_param(&e->params[k], &m) == EW_OK &&
                ew_ep_node_set_params(r->node, &m) != EW_OK) {
                cli_err("%s: cannot publish %s", prog, ew_ep_msg_name(m.type));
                ep_run_stop(r, EXIT_USAGE, "shutdown");
            }
        }
        if (!dial) {
            fprintf(stderr, strchr(host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n",
                    host, (unsigned)ew_ep_node_port(r->node));
            fflush(stderr);
        }
        rc = ep_run_loop(r);
    }
    ep_cli_conn_free(&e->cc);
    free(e);
    return rc;
}

int cmd_ep(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        ep_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *v = argv[1];
    if (!strcmp(v, "certs"))
        return cmd_certs(argc - 1, argv + 1);
    if (!strcmp(v, "listen") || !strcmp(v, "connect") || !strcmp(v, "send") ||
        !strcmp(v, "monitor"))
        return cmd_conn(v, argc - 1, argv + 1);
    cli_err("unknown ep verb '%s' (see energywire ep --help)", v);
    return EXIT_USAGE;
}
