/*
 * energywire rscp <verb>: talking to an E3/DC device (or the simulator) over
 * RSCP.  Every verb connects, logs in, sends its requests, prints the typed
 * answer as text or --json, and exits 0 (ok), 1 (device or network error) or
 * 2 (usage).  Connection settings come from flags, a KEY=value config file and
 * the environment (E3DC_HOST, E3DC_PORT, E3DC_USER, E3DC_PASSWORD,
 * E3DC_RSCP_KEY), see docs/cli-rscp.md.
 */
#include "cli.h"
#include "config.h"

#include <energywire/e3dc.h>
#include <energywire/io.h>
#include <energywire/rscp.h>

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- connection settings -------------------------------------------------- */

typedef struct conn_args {
    const char *host, *port, *user, *password, *password_file, *key, *key_file, *config;
    uint32_t timeout_ms;
    int json, pretty, verbose;
} conn_args;

static int parse_u32(const char *s, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/*
 * Takes a connection option at argv[*i].  Returns 1 when taken (with its
 * value), 0 when argv[*i] is not one, -1 after printing a usage error.
 */
static int conn_opt(conn_args *a, int argc, char **argv, int *i) {
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--host", offsetof(conn_args, host)},
        {"--port", offsetof(conn_args, port)},
        {"--user", offsetof(conn_args, user)},
        {"--password", offsetof(conn_args, password)},
        {"--password-file", offsetof(conn_args, password_file)},
        {"--key", offsetof(conn_args, key)},
        {"--key-file", offsetof(conn_args, key_file)},
        {"--config", offsetof(conn_args, config)},
    };
    const char *arg = argv[*i];
    if (strcmp(arg, "--json") == 0) {
        a->json = 1;
        return 1;
    }
    if (strcmp(arg, "--pretty") == 0) {
        a->json = a->pretty = 1;
        return 1;
    }
    if (strcmp(arg, "--verbose") == 0) {
        a->verbose = 1;
        return 1;
    }
    if (strcmp(arg, "--timeout") == 0) {
        if (*i + 1 >= argc || parse_u32(argv[*i + 1], &a->timeout_ms) < 0 || !a->timeout_ms) {
            cli_err("--timeout needs a number of milliseconds");
            return -1;
        }
        (*i)++;
        return 1;
    }
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        if (strcmp(arg, opts[k].name) != 0)
            continue;
        if (*i + 1 >= argc) {
            cli_err("%s needs a value", arg);
            return -1;
        }
        *(const char **)((char *)a + opts[k].off) = argv[++*i];
        return 1;
    }
    return 0;
}

typedef struct session {
    ew_rscp_sync *sync;
    int connected;
    int json;
    unsigned jflags;
    uint32_t timeout_ms;
    uint8_t req[EW_RSCP_FRAME_MAX];
    ew_rscp_builder b;
} session;

static void log_to_stderr(void *user, int level, const char *msg) {
    (void)user;
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "energywire: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

/*
 * Resolves the settings (flag > environment > config file) and prepares the
 * connection; call() connects and logs in on first use, so that a verb can
 * check its own arguments first.  Returns an exit code; on 0 |se| is ready.
 */
static int session_open(session *se, const conn_args *a) {
    cli_conf conf = {0};
    int rc = EXIT_USAGE;
    char *password = NULL, *key = NULL;
    const char *cfg = a->config ? a->config : getenv("ENERGYWIRE_CONFIG");
    if (cfg && cli_conf_load(&conf, cfg) < 0)
        goto out;
    const char *host = a->host ? a->host : cli_conf_get(&conf, "E3DC_HOST");
    const char *port_s = a->port ? a->port : cli_conf_get(&conf, "E3DC_PORT");
    const char *user = a->user ? a->user : cli_conf_get(&conf, "E3DC_USER");
    uint32_t port = EW_RSCP_PORT;
    if (!host) {
        cli_err("no device given: use --host, E3DC_HOST or E3DC_HOST= in a --config file");
        goto out;
    }
    if (port_s && (parse_u32(port_s, &port) < 0 || port == 0 || port > 65535)) {
        cli_err("bad port '%s' (E3/DC devices use 5033, farm masters 5034)", port_s);
        goto out;
    }
    if (!user) {
        cli_err("no user: use --user, E3DC_USER or the config file (the E3/DC portal user)");
        goto out;
    }
    int failed = 0;
    const char *pw_file =
        a->password_file ? a->password_file : cli_conf_get(&conf, "E3DC_PASSWORD_FILE");
    if (a->password || pw_file)
        password = cli_secret("password", a->password, pw_file, "E3DC_PASSWORD", &failed);
    else if (cli_conf_get(&conf, "E3DC_PASSWORD"))
        password = strdup(cli_conf_get(&conf, "E3DC_PASSWORD"));
    if (failed)
        goto out;
    const char *key_file = a->key_file ? a->key_file : cli_conf_get(&conf, "E3DC_RSCP_KEY_FILE");
    if (a->key || key_file)
        key = cli_secret("RSCP key", a->key, key_file, "E3DC_RSCP_KEY", &failed);
    else if (cli_conf_get(&conf, "E3DC_RSCP_KEY"))
        key = strdup(cli_conf_get(&conf, "E3DC_RSCP_KEY"));
    if (failed)
        goto out;
    /* The three E3/DC secrets are easy to mix up: name the missing one. */
    if (!password) {
        cli_err("no password: the E3/DC portal password goes in E3DC_PASSWORD (or "
                "--password-file); it is not the RSCP key");
        goto out;
    }
    if (!key) {
        cli_err("no RSCP key: the key set on the device under Personalize > User profile goes "
                "in E3DC_RSCP_KEY (or --key-file); it is not the portal password");
        goto out;
    }

    ew_rscp_client_opts o;
    ew_rscp_client_opts_init(&o);
    o.host = host;
    o.port = (uint16_t)port;
    o.conn.rscp_key = key;
    o.conn.user = user;
    o.conn.password = password;
    if (a->timeout_ms) {
        o.connect_timeout_ms = a->timeout_ms;
        o.conn.request_timeout_ms = a->timeout_ms;
        o.conn.login_timeout_ms = a->timeout_ms;
    }
    /* Failures are reported once, by the verb; the library's log lines are
     * for --verbose. */
    o.log = a->verbose ? log_to_stderr : NULL;
    rc = EXIT_FAIL;
    if (ew_rscp_sync_new(&se->sync, &o) != EW_OK) {
        cli_err("cannot create the connection (out of memory?)");
        goto out;
    }
    se->json = a->json;
    se->jflags = a->pretty ? EW_E3DC_JSON_PRETTY : 0;
    se->timeout_ms = a->timeout_ms;
    rc = EXIT_OK;
out:
    cli_secret_free(password);
    cli_secret_free(key);
    cli_conf_free(&conf);
    return rc;
}

static void session_close(session *se) {
    ew_rscp_sync_del(se->sync);
    se->sync = NULL;
}

/* Starts a request in the session's buffer. */
static ew_rscp_builder *req(session *se) {
    ew_rscp_builder_init(&se->b, se->req, sizeof se->req);
    return &se->b;
}

/*
 * Sends the request built in se->b and waits for the answer (heap copy in
 * |*ans|, free() it).  Returns an exit code, having printed the problem.
 */
static int call(session *se, uint8_t **ans, size_t *len) {
    size_t n;
    int rc = ew_rscp_builder_finish(&se->b, &n);
    if (rc != EW_OK) {
        cli_err("cannot build the request: %s", ew_strerror(rc));
        return EXIT_USAGE;
    }
    if (!se->connected) {
        rc = ew_rscp_sync_connect(se->sync, 0);
        if (rc != EW_OK) {
            cli_err("%s", ew_rscp_sync_error_detail(se->sync));
            return EXIT_FAIL;
        }
        se->connected = 1;
    }
    rc = ew_rscp_sync_call(se->sync, se->req, n, se->timeout_ms, ans, len, NULL, NULL);
    if (rc != EW_OK) {
        cli_err("%s", ew_rscp_sync_error_detail(se->sync));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Reports a device refusal recorded in a result; returns 1 when the whole
 * answer was refused. */
static int device_error(const ew_e3dc_error *e) {
    if (!e->code)
        return 0;
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(e->tag);
    const char *name = ew_rscp_error_name(e->code);
    char tag[24];
    snprintf(tag, sizeof tag, "0x%08lx", (unsigned long)e->tag);
    fprintf(stderr, "energywire: the device %s: %s (%s %lu) for %s%s\n",
            e->whole ? "refused the request" : "refused part of the answer",
            ew_rscp_error_text(e->code), name ? name : "error", (unsigned long)e->code,
            t ? ew_rscp_tag_short_name(t) : tag, e->count > 1 ? " and others" : "");
    if (e->code == EW_RSCP_ERR_ACCESS_DENIED)
        fprintf(stderr, "energywire: access denied: the user is logged in, but its user level "
                        "does not allow this request\n");
    return e->whole;
}

/* Prints the text |out| of a writer, growing the buffer as it asks. */
#define EMIT(se, name, v)                                                                          \
    do {                                                                                           \
        size_t cap_ = 8192, need_ = 0;                                                             \
        char *buf_ = NULL;                                                                         \
        for (int try_ = 0; try_ < 2; try_++) {                                                     \
            char *nb_ = realloc(buf_, cap_);                                                       \
            if (!nb_)                                                                              \
                break;                                                                             \
            buf_ = nb_;                                                                            \
            int rc_ = (se)->json ? ew_e3dc_##name##_json((v), (se)->jflags, buf_, cap_, &need_)    \
                                 : ew_e3dc_##name##_text((v), 0, buf_, cap_, &need_);              \
            if (rc_ != EW_ERR_NOBUF) {                                                             \
                fputs(buf_, stdout);                                                               \
                if (need_ == 0 || buf_[need_ - 1] != '\n')                                         \
                    putchar('\n');                                                                 \
                break;                                                                             \
            }                                                                                      \
            cap_ = need_;                                                                          \
        }                                                                                          \
        free(buf_);                                                                                \
    } while (0)

/* Parses the answer with |parse| and reports malformed answers. */
static int parse_failed(int rc, const ew_diag *d) {
    if (rc >= 0)
        return 0;
    cli_err("the device's answer makes no sense: %s%s%s", ew_strerror(rc), d->what ? ": " : "",
            d->what ? d->what : "");
    return 1;
}

static int on_off(const char *s, int *out) {
    if (!strcasecmp(s, "on") || !strcmp(s, "1") || !strcasecmp(s, "true") ||
        !strcasecmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(s, "off") || !strcmp(s, "0") || !strcasecmp(s, "false") ||
        !strcasecmp(s, "no")) {
        *out = 0;
        return 0;
    }
    cli_err("'%s' is not on or off", s);
    return -1;
}

/*
 * fetch_<name>(se, out): sends the request built in se->b, decodes the answer
 * with ew_e3dc_parse_<name>() into |out| and reports a device refusal.
 * Returns an exit code, having printed any problem.
 */
#define FETCHER(name, type)                                                                        \
    static int fetch_##name(session *se, type *out) {                                              \
        uint8_t *ans;                                                                              \
        size_t len;                                                                                \
        int rc = call(se, &ans, &len);                                                             \
        if (rc)                                                                                    \
            return rc;                                                                             \
        ew_diag d = {0};                                                                           \
        int bad = parse_failed(ew_e3dc_parse_##name(ans, len, out, &d), &d);                       \
        free(ans);                                                                                 \
        if (bad)                                                                                   \
            return EXIT_FAIL;                                                                      \
        device_error(&out->error);                                                                 \
        return EXIT_OK;                                                                            \
    }

FETCHER(poll, ew_e3dc_poll)
FETCHER(status, ew_e3dc_status)
FETCHER(sysinfo, ew_e3dc_sysinfo)
FETCHER(sysinfo_dyn, ew_e3dc_sysinfo_dyn)
FETCHER(switches, ew_e3dc_switches)
FETCHER(power_settings, ew_e3dc_power_settings)
FETCHER(power_settings_set, ew_e3dc_power_settings_result)
FETCHER(manual_charge, ew_e3dc_manual_charge)
FETCHER(idle_periods, ew_e3dc_idle_periods)

/* ---- verbs ---------------------------------------------------------------- */

typedef struct verb_args {
    conn_args c;
    int argc;
    char **argv; /* the verb's own arguments (connection options removed) */
} verb_args;

static int v_poll(session *se, const verb_args *va) {
    uint32_t interval_s = 0, count = 1;
    for (int i = 0; i < va->argc; i++) {
        if (strcmp(va->argv[i], "--interval") == 0 && i + 1 < va->argc &&
            parse_u32(va->argv[i + 1], &interval_s) == 0) {
            i++;
            if (count == 1)
                count = 0; /* until interrupted */
        } else if (strcmp(va->argv[i], "--count") == 0 && i + 1 < va->argc &&
                   parse_u32(va->argv[i + 1], &count) == 0) {
            i++;
        } else {
            cli_err("poll: unknown argument '%s'", va->argv[i]);
            return EXIT_USAGE;
        }
    }
    for (uint32_t n = 0; count == 0 || n < count; n++) {
        if (n && interval_s)
            sleep(interval_s);
        ew_e3dc_req_poll(req(se));
        ew_e3dc_poll p;
        int rc = fetch_poll(se, &p);
        if (rc)
            return rc;
        EMIT(se, poll, &p);
        fflush(stdout);
    }
    return EXIT_OK;
}

static int v_status(session *se, const verb_args *va) {
    (void)va;
    ew_e3dc_req_status(req(se));
    ew_e3dc_status s;
    int rc = fetch_status(se, &s);
    if (rc == EXIT_OK)
        EMIT(se, status, &s);
    return rc;
}

static int v_info(session *se, const verb_args *va) {
    (void)va;
    ew_e3dc_sysinfo *si = calloc(1, sizeof *si);
    ew_e3dc_sysinfo_dyn *dy = calloc(1, sizeof *dy);
    int rc = EXIT_FAIL;
    if (si && dy) {
        ew_e3dc_req_sysinfo(req(se));
        rc = fetch_sysinfo(se, si);
    }
    if (rc == EXIT_OK) {
        ew_e3dc_req_sysinfo_dyn(req(se));
        rc = fetch_sysinfo_dyn(se, dy);
    }
    if (rc == EXIT_OK) {
        if (se->json)
            fputs("{\"static\":", stdout);
        EMIT(se, sysinfo, si);
        if (se->json)
            fputs(",\"dynamic\":", stdout);
        EMIT(se, sysinfo_dyn, dy);
        if (se->json)
            puts("}");
    }
    free(si);
    free(dy);
    return rc;
}

static int get_index(const verb_args *va, int *index, const char *verb) {
    *index = -1;
    for (int i = 0; i < va->argc; i++) {
        int64_t v;
        if (strcmp(va->argv[i], "--index") == 0 && i + 1 < va->argc &&
            parse_i64(va->argv[i + 1], &v) == 0 && v >= 0 && v < 256) {
            *index = (int)v;
            i++;
        } else {
            cli_err("%s: unknown argument '%s'", verb, va->argv[i]);
            return -1;
        }
    }
    return 0;
}

static int v_battery(session *se, const verb_args *va) {
    int index;
    if (get_index(va, &index, "battery") < 0)
        return EXIT_USAGE;
    if (index < 0)
        index = 0;
    /* First the battery's own values and its DCB count, then the DCBs. */
    ew_e3dc_req_battery(req(se), (unsigned)index, EW_E3DC_BAT_ALL, 0, 0, 0);
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    ew_e3dc_battery *bat = calloc(1, sizeof *bat), *dcbs = calloc(1, sizeof *dcbs);
    ew_diag d = {0};
    rc = EXIT_FAIL;
    if (!bat || !dcbs ||
        parse_failed(ew_e3dc_parse_battery(ans, len, (unsigned)index, bat, &d), &d))
        goto out;
    free(ans);
    ans = NULL;
    if (device_error(&bat->error)) {
        if (bat->error.code == EW_RSCP_ERR_NOT_AVAILABLE)
            cli_err("there is no battery with index %d (see energywire rscp topology)", index);
        goto out;
    }
    unsigned ndcb = bat->dcb_count > 0 ? (unsigned)bat->dcb_count : 0;
    if (ndcb > EW_E3DC_MAX_DCB)
        ndcb = EW_E3DC_MAX_DCB;
    /* One DCB per request keeps each answer small, as pye3dc does. */
    for (unsigned k = 0; k < ndcb && bat->ndcbs < EW_E3DC_MAX_DCB; k++) {
        ew_e3dc_req_battery(req(se), (unsigned)index, 0, EW_E3DC_DCB_PART_ALL, k, 1);
        if ((rc = call(se, &ans, &len)) != 0)
            goto out;
        rc = EXIT_FAIL;
        memset(dcbs, 0, sizeof *dcbs);
        if (parse_failed(ew_e3dc_parse_battery(ans, len, (unsigned)index, dcbs, &d), &d))
            goto out;
        free(ans);
        ans = NULL;
        device_error(&dcbs->error);
        for (unsigned j = 0; j < dcbs->ndcbs && bat->ndcbs < EW_E3DC_MAX_DCB; j++)
            bat->dcbs[bat->ndcbs++] = dcbs->dcbs[j];
    }
    bat->ndcbs_total = bat->ndcbs;
    EMIT(se, battery, bat);
    rc = EXIT_OK;
out:
    free(ans);
    free(bat);
    free(dcbs);
    return rc;
}

/* Discovers the devices (rscp.md §11.7); counts are reported, not guessed. */
static int topology(session *se, ew_e3dc_topology *t) {
    ew_e3dc_req_topology(req(se), EW_E3DC_TOPO_ALL);
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    ew_diag d = {0};
    int bad = parse_failed(ew_e3dc_parse_topology(ans, len, t, &d), &d);
    free(ans);
    return bad ? EXIT_FAIL : EXIT_OK;
}

static int v_topology(session *se, const verb_args *va) {
    (void)va;
    ew_e3dc_topology t;
    int rc = topology(se, &t);
    if (rc == EXIT_OK)
        EMIT(se, topology, &t);
    return rc;
}

static int v_pvi(session *se, const verb_args *va) {
    int index = -1;
    uint32_t trackers = 0;
    for (int i = 0; i < va->argc; i++) {
        int64_t v;
        if (strcmp(va->argv[i], "--index") == 0 && i + 1 < va->argc &&
            parse_i64(va->argv[i + 1], &v) == 0 && v >= 0 && v < 256) {
            index = (int)v;
            i++;
        } else if (strcmp(va->argv[i], "--trackers") == 0 && i + 1 < va->argc &&
                   parse_u32(va->argv[i + 1], &trackers) == 0 && trackers >= 1 &&
                   trackers <= EW_E3DC_MAX_TRACKERS) {
            i++;
        } else {
            cli_err("pvi: unknown or bad argument '%s'", va->argv[i]);
            return EXIT_USAGE;
        }
    }
    if (index < 0)
        index = 0;
    unsigned phases = EW_E3DC_MAX_PHASES;
    if (!trackers) {
        /* Ask the device how many trackers it uses instead of guessing. */
        ew_e3dc_topology t;
        int rc = topology(se, &t);
        if (rc)
            return rc;
        trackers = 2;
        for (unsigned k = 0; k < t.npvis; k++) {
            if (t.pvis[k].index != (unsigned)index)
                continue;
            if (t.pvis[k].trackers > 0)
                trackers = (uint32_t)t.pvis[k].trackers;
            if (t.pvis[k].phases > 0 && t.pvis[k].phases <= EW_E3DC_MAX_PHASES)
                phases = (unsigned)t.pvis[k].phases;
        }
        if (trackers > EW_E3DC_MAX_TRACKERS)
            trackers = EW_E3DC_MAX_TRACKERS;
    }
    ew_e3dc_req_pvi(req(se), (unsigned)index,
                    EW_E3DC_PVI_PART_INFO | EW_E3DC_PVI_PART_TRACKERS | EW_E3DC_PVI_PART_PHASES |
                        EW_E3DC_PVI_PART_TEMPS,
                    trackers, phases, 2);
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    ew_e3dc_pvi *p = calloc(1, sizeof *p);
    ew_diag d = {0};
    rc = EXIT_FAIL;
    if (p && !parse_failed(ew_e3dc_parse_pvi(ans, len, (unsigned)index, p, &d), &d)) {
        device_error(&p->error);
        if (!EW_E3DC_HAS(p, EW_E3DC_PVI_TYPE)) {
            cli_err("there is no PV inverter with index %d (see energywire rscp topology)", index);
        } else {
            EMIT(se, pvi, p);
            rc = EXIT_OK;
        }
    }
    free(ans);
    free(p);
    return rc;
}

static int v_pm(session *se, const verb_args *va) {
    int index;
    if (get_index(va, &index, "pm") < 0)
        return EXIT_USAGE;
    if (index < 0) {
        /* The root meter is index 0 on most systems but 6 on S10 Mini and
         * Quattroporte (rscp.md §9.2); ask the device which one reports
         * itself as root, and fall back to the model's default. */
        ew_e3dc_topology t;
        int rc = topology(se, &t);
        if (rc)
            return rc;
        index = t.root_pm_index >= 0 ? t.root_pm_index : t.npms ? (int)t.pms[0].index : 0;
    }
    ew_e3dc_req_pm(req(se), (unsigned)index);
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    ew_e3dc_pm p;
    ew_diag d = {0};
    rc = EXIT_FAIL;
    if (!parse_failed(ew_e3dc_parse_pm(ans, len, (unsigned)index, &p, &d), &d)) {
        device_error(&p.error);
        if (!EW_E3DC_HAS(&p, EW_E3DC_PM_TYPE)) {
            cli_err("there is no power meter with index %d (see energywire rscp topology)", index);
        } else {
            EMIT(se, pm, &p);
            rc = EXIT_OK;
        }
    }
    free(ans);
    return rc;
}

/* Sends one command whose answer is a single result and reports it. */
static int command(session *se, int (*parse)(const uint8_t *, size_t, ew_e3dc_result *, ew_diag *),
                   const char *what) {
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    ew_e3dc_result r;
    ew_diag d = {0};
    int bad = parse_failed(parse(ans, len, &r, &d), &d);
    free(ans);
    if (bad)
        return EXIT_FAIL;
    device_error(&r.error);
    if (se->json) {
        EMIT(se, result, &r);
    } else {
        printf("%s: %s\n", what, r.ok ? "ok" : "refused by the device");
    }
    return r.ok ? EXIT_OK : EXIT_FAIL;
}

static int v_wallbox(session *se, const verb_args *va) {
    int index = 0;
    struct {
        ew_e3dc_wb_cmd cmd;
        unsigned value;
        const char *what;
    } cmds[8];
    int ncmd = 0, b2c = -1;
    for (int i = 0; i < va->argc; i++) {
        const char *a = va->argv[i];
        const char *val = i + 1 < va->argc ? va->argv[i + 1] : NULL;
        int on;
        int64_t v;
        if (!strcmp(a, "--index") && val && parse_i64(val, &v) == 0 && v >= 0 && v < 256) {
            index = (int)v;
            i++;
        } else if (!strcmp(a, "--sun-mode") && val && on_off(val, &on) == 0) {
            cmds[ncmd].cmd = EW_E3DC_WB_SET_SUN_MODE;
            cmds[ncmd].value = (unsigned)on;
            cmds[ncmd++].what = "sun mode";
            i++;
        } else if (!strcmp(a, "--schuko") && val && on_off(val, &on) == 0) {
            cmds[ncmd].cmd = EW_E3DC_WB_SET_SCHUKO;
            cmds[ncmd].value = (unsigned)on;
            cmds[ncmd++].what = "schuko socket";
            i++;
        } else if (!strcmp(a, "--max-current") && val && parse_i64(val, &v) == 0 && v >= 1 &&
                   v <= 255) {
            cmds[ncmd].cmd = EW_E3DC_WB_SET_MAX_CURRENT;
            cmds[ncmd].value = (unsigned)v;
            cmds[ncmd++].what = "maximum current";
            i++;
        } else if (!strcmp(a, "--toggle-charging")) {
            cmds[ncmd].cmd = EW_E3DC_WB_TOGGLE_CHARGING;
            cmds[ncmd].value = 0;
            cmds[ncmd++].what = "toggle charging";
        } else if (!strcmp(a, "--toggle-phases")) {
            cmds[ncmd].cmd = EW_E3DC_WB_TOGGLE_PHASES;
            cmds[ncmd].value = 0;
            cmds[ncmd++].what = "toggle phases";
        } else if (!strcmp(a, "--battery-to-car") && val && on_off(val, &on) == 0) {
            b2c = on;
            i++;
        } else {
            cli_err("wallbox: unknown or bad argument '%s'", a);
            return EXIT_USAGE;
        }
        if (ncmd == 8) {
            cli_err("wallbox: too many commands at once");
            return EXIT_USAGE;
        }
    }
    int rc = EXIT_OK;
    for (int k = 0; k < ncmd && rc == EXIT_OK; k++) {
        if (ew_e3dc_req_wallbox_set(req(se), (unsigned)index, cmds[k].cmd, cmds[k].value) < 0) {
            cli_err("wallbox: bad value for %s", cmds[k].what);
            return EXIT_USAGE;
        }
        rc = command(se, ew_e3dc_parse_wallbox_set, cmds[k].what);
    }
    if (b2c >= 0 && rc == EXIT_OK) {
        ew_e3dc_req_battery_to_car_set(req(se), b2c);
        rc = command(se, ew_e3dc_parse_battery_to_car_set, "battery to car");
    }
    if (ncmd || b2c >= 0)
        return rc;
    ew_e3dc_req_wallbox(req(se), (unsigned)index);
    uint8_t *ans;
    size_t len;
    if ((rc = call(se, &ans, &len)) != 0)
        return rc;
    ew_e3dc_wallbox w;
    ew_diag d = {0};
    rc = EXIT_FAIL;
    if (!parse_failed(ew_e3dc_parse_wallbox(ans, len, (unsigned)index, &w, &d), &d)) {
        if (device_error(&w.error))
            cli_err("there is no wallbox with index %d (see energywire rscp topology)", index);
        else {
            EMIT(se, wallbox, &w);
            rc = EXIT_OK;
        }
    }
    free(ans);
    return rc;
}

static int v_switches(session *se, const verb_args *va) {
    for (int i = 0; i < va->argc; i++) {
        const char *a = va->argv[i];
        int64_t id;
        if ((!strcmp(a, "--on") || !strcmp(a, "--off")) && i + 1 < va->argc &&
            parse_i64(va->argv[i + 1], &id) == 0 && id >= 0 && id <= 65535) {
            if (va->argc != 2) {
                cli_err("switches: one --on or --off at a time");
                return EXIT_USAGE;
            }
            ew_e3dc_req_switch_set(req(se), (unsigned)id, a[3] == 'n');
            return command(se, ew_e3dc_parse_switch_set, a[3] == 'n' ? "switch on" : "switch off");
        }
        cli_err("switches: unknown or bad argument '%s'", a);
        return EXIT_USAGE;
    }
    ew_e3dc_req_switches(req(se));
    ew_e3dc_switches *sw = calloc(1, sizeof *sw);
    int rc = sw ? fetch_switches(se, sw) : EXIT_FAIL;
    if (rc == EXIT_OK)
        EMIT(se, switches, sw);
    free(sw);
    return rc;
}

static int read_settings(session *se, ew_e3dc_power_settings *ps) {
    ew_e3dc_req_power_settings(req(se));
    return fetch_power_settings(se, ps);
}

static int v_settings(session *se, const verb_args *va) {
    ew_e3dc_power_settings chg;
    memset(&chg, 0, sizeof chg);
    for (int i = 0; i < va->argc; i++) {
        const char *a = va->argv[i];
        const char *val = i + 1 < va->argc ? va->argv[i + 1] : NULL;
        int64_t w;
        int on;
        if (!val) {
            cli_err("settings: %s needs a value", a);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--max-charge") && parse_i64(val, &w) == 0 && w >= 0) {
            chg.max_charge_power_w = w;
            chg.present |= 1ull << EW_E3DC_PS_MAX_CHARGE;
        } else if (!strcmp(a, "--max-discharge") && parse_i64(val, &w) == 0 && w >= 0) {
            chg.max_discharge_power_w = w;
            chg.present |= 1ull << EW_E3DC_PS_MAX_DISCHARGE;
        } else if (!strcmp(a, "--discharge-start") && parse_i64(val, &w) == 0 && w >= 0) {
            chg.discharge_start_power_w = w;
            chg.present |= 1ull << EW_E3DC_PS_DISCHARGE_START;
        } else if (!strcmp(a, "--limits") && on_off(val, &on) == 0) {
            chg.limits_used = on;
            chg.present |= 1ull << EW_E3DC_PS_LIMITS_USED;
        } else if (!strcmp(a, "--powersave") && on_off(val, &on) == 0) {
            chg.powersave = on;
            chg.present |= 1ull << EW_E3DC_PS_POWERSAVE;
        } else if (!strcmp(a, "--weather-regulated") && on_off(val, &on) == 0) {
            chg.weather_regulated_charge = on;
            chg.present |= 1ull << EW_E3DC_PS_WEATHER_REGULATED;
        } else {
            cli_err("settings: unknown or bad argument '%s %s'", a, val);
            return EXIT_USAGE;
        }
    }
    ew_e3dc_power_settings cur;
    int rc = read_settings(se, &cur);
    if (rc || !chg.present) {
        if (!rc)
            EMIT(se, power_settings, &cur);
        return rc;
    }
    /* Read-modify-write: only the fields named on the command line are sent,
     * so the device keeps every other setting as it is. */
    if ((chg.present & (1ull << EW_E3DC_PS_MAX_CHARGE | 1ull << EW_E3DC_PS_MAX_DISCHARGE |
                        1ull << EW_E3DC_PS_DISCHARGE_START)) &&
        !(chg.present & (1ull << EW_E3DC_PS_LIMITS_USED))) {
        /* Limits only take effect while they are switched on. */
        chg.limits_used = 1;
        chg.present |= 1ull << EW_E3DC_PS_LIMITS_USED;
    }
    ew_e3dc_req_set_power_settings(req(se), &chg);
    ew_e3dc_power_settings_result res;
    if ((rc = fetch_power_settings_set(se, &res)) != 0)
        return rc;
    int refused = 0;
    for (int k = 0; k < EW_E3DC_PS_NFIELDS; k++)
        if ((res.present & (1ull << k)) && res.res[k] < 0)
            refused = 1;
    if (read_settings(se, &cur) == EXIT_OK) {
        if (!se->json)
            printf("settings now:\n");
        EMIT(se, power_settings, &cur);
    }
    if (refused)
        cli_err("the device refused at least one of the settings (result -1)");
    return refused ? EXIT_FAIL : EXIT_OK;
}

static int v_power(session *se, const verb_args *va) {
    static const char *modes[] = {"auto", "idle", "discharge", "charge", "grid-charge"};
    if (va->argc < 1 || va->argc > 2) {
        cli_err("power: give a mode (auto, idle, discharge, charge, grid-charge) and, for the "
                "last three, a power in W");
        return EXIT_USAGE;
    }
    int mode = -1;
    for (int k = 0; k < 5; k++)
        if (!strcmp(va->argv[0], modes[k]))
            mode = k;
    int64_t w = 0;
    if (mode < 0 || (va->argc == 2 && (parse_i64(va->argv[1], &w) < 0 || w < 0 || w > INT32_MAX)) ||
        (mode >= 2 && va->argc != 2)) {
        cli_err("power: bad mode or power (modes: auto, idle, discharge, charge, grid-charge)");
        return EXIT_USAGE;
    }
    ew_e3dc_req_set_power(req(se), (ew_e3dc_power_mode)mode, (int32_t)w);
    int rc = command(se, ew_e3dc_parse_set_power, "power mode");
    if (rc == EXIT_OK && mode > 0 && !se->json)
        printf("note: the device returns to automatic mode unless this is repeated at least "
               "every 30 s\n");
    return rc;
}

static int v_manual_charge(session *se, const verb_args *va) {
    if (va->argc == 2 && !strcmp(va->argv[0], "--start")) {
        int64_t wh;
        if (parse_i64(va->argv[1], &wh) < 0 || wh <= 0 || wh > UINT32_MAX) {
            cli_err("manual-charge: --start needs an energy in Wh");
            return EXIT_USAGE;
        }
        ew_e3dc_req_manual_charge_start(req(se), (uint32_t)wh);
        return command(se, ew_e3dc_parse_manual_charge_start, "manual charge");
    }
    if (va->argc) {
        cli_err("manual-charge: unknown argument '%s'", va->argv[0]);
        return EXIT_USAGE;
    }
    ew_e3dc_req_manual_charge(req(se));
    ew_e3dc_manual_charge m;
    int rc = fetch_manual_charge(se, &m);
    if (rc == EXIT_OK)
        EMIT(se, manual_charge, &m);
    return rc;
}

static int v_idle(session *se, const verb_args *va) {
    if (va->argc) {
        cli_err("idle: unknown argument '%s'", va->argv[0]);
        return EXIT_USAGE;
    }
    ew_e3dc_req_idle_periods(req(se));
    ew_e3dc_idle_periods p;
    int rc = fetch_idle_periods(se, &p);
    if (rc == EXIT_OK)
        EMIT(se, idle_periods, &p);
    return rc;
}

/* ---- history -------------------------------------------------------------- */

/* Unix time of local midnight starting |y|-|m|-|d| in the zone set in TZ. */
static int64_t local_midnight(int y, int m, int d) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static int parse_date(const char *s, int *y, int *m, int *d) {
    char extra;
    if (sscanf(s, "%4d-%2d-%2d%c", y, m, d, &extra) != 3 || *m < 1 || *m > 12 || *d < 1 ||
        *d > 31 || *y < 1970) {
        cli_err("'%s' is not a date (YYYY-MM-DD)", s);
        return -1;
    }
    return 0;
}

static int zone_exists(const char *tz) {
    if (!strcmp(tz, "UTC") || !strcmp(tz, "GMT"))
        return 1;
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    return strstr(tz, "..") == NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void progress(unsigned done, unsigned total) {
    if (!isatty(STDERR_FILENO) || total < 2)
        return;
    unsigned width = 30, fill = total ? done * width / total : width;
    fprintf(stderr, "\r[");
    for (unsigned k = 0; k < width; k++)
        fputc(k < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %u/%u days", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static int v_history(session *se, const verb_args *va, const char *tz) {
    const char *from = NULL, *to = NULL;
    unsigned flags = 0;
    for (int i = 0; i < va->argc; i++) {
        const char *a = va->argv[i];
        if (!strcmp(a, "--from") && i + 1 < va->argc)
            from = va->argv[++i];
        else if (!strcmp(a, "--to") && i + 1 < va->argc)
            to = va->argv[++i];
        else if (!strcmp(a, "--uint64"))
            flags |= EW_E3DC_HISTORY_UINT64;
        else if (a[0] != '-' && !from)
            from = a;
        else {
            cli_err("history: unknown argument '%s'", a);
            return EXIT_USAGE;
        }
    }
    if (!from) {
        cli_err("history: give a day (YYYY-MM-DD) or --from DAY [--to DAY]");
        return EXIT_USAGE;
    }
    int y0, m0, d0, y1, m1, d1;
    if (parse_date(from, &y0, &m0, &d0) < 0 || parse_date(to ? to : from, &y1, &m1, &d1) < 0)
        return EXIT_USAGE;
    int64_t start = local_midnight(y0, m0, d0), end = local_midnight(y1, m1, d1);
    if (end < start) {
        cli_err("history: --to is before --from");
        return EXIT_USAGE;
    }
    /* Days are counted by calendar (a DST day has 23 or 25 hours). */
    unsigned total = 0;
    for (int64_t t = start; t <= end; total++) {
        struct tm tm;
        time_t tt = (time_t)t;
        localtime_r(&tt, &tm);
        t = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + 1);
    }
    if (total > 3660) {
        cli_err("history: at most ten years at a time");
        return EXIT_USAGE;
    }
    ew_e3dc_history *h = malloc(sizeof *h);
    if (!h)
        return EXIT_FAIL;
    if (!se->json)
        printf("%-10s %10s %12s %10s %10s %10s %10s %8s   (Wh, local days in %s)\n", "day", "pv",
               "consumption", "bat_in", "bat_out", "grid_imp", "grid_exp", "autarky", tz);
    int rc = EXIT_OK;
    unsigned done = 0;
    for (int64_t t = start; t <= end; done++) {
        struct tm tm;
        time_t tt = (time_t)t;
        localtime_r(&tt, &tm);
        int64_t next = local_midnight(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + 1);
        ew_e3dc_req_history(req(se), EW_E3DC_HISTORY_DAY, t, (uint64_t)(next - t),
                            (uint64_t)(next - t), flags);
        uint8_t *ans;
        size_t len;
        if ((rc = call(se, &ans, &len)) != 0)
            break;
        ew_diag d = {0};
        int bad = parse_failed(ew_e3dc_parse_history(ans, len, h, &d), &d);
        free(ans);
        if (bad) {
            rc = EXIT_FAIL;
            break;
        }
        char day[16];
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        if (h->error.code) {
            if (se->json)
                printf("{\"day\":\"%s\",\"start\":%lld,\"tz\":\"%s\",\"error\":%lu}\n", day,
                       (long long)t, tz, (unsigned long)h->error.code);
            else
                printf("%-10s no data (%s)\n", day, ew_rscp_error_text(h->error.code));
        } else if (se->json) {
            const ew_e3dc_history_values *v = &h->sum;
            printf("{\"day\":\"%s\",\"start\":%lld,\"tz\":\"%s\",\"pv_wh\":%.1f,"
                   "\"consumption_wh\":%.1f,\"bat_charge_wh\":%.1f,\"bat_discharge_wh\":%.1f,"
                   "\"grid_import_wh\":%.1f,\"grid_export_wh\":%.1f,\"autarky_pct\":%.1f}\n",
                   day, (long long)t, tz, v->pv_wh, v->consumption_wh, v->bat_charge_wh,
                   v->bat_discharge_wh, v->grid_import_wh, v->grid_export_wh, v->autarky_pct);
        } else {
            const ew_e3dc_history_values *v = &h->sum;
            printf("%-10s %10.0f %12.0f %10.0f %10.0f %10.0f %10.0f %7.1f%%\n", day, v->pv_wh,
                   v->consumption_wh, v->bat_charge_wh, v->bat_discharge_wh, v->grid_import_wh,
                   v->grid_export_wh, v->autarky_pct);
        }
        fflush(stdout);
        progress(done + 1, total);
        t = next;
    }
    free(h);
    return rc;
}

/* ---- get, set, raw ---------------------------------------------------------- */

/* The request tag that asks for |t|: itself when it is a request, else the
 * same number without the answer bit, else the name with REQ_ inserted. */
static uint32_t request_tag_for(uint32_t id) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(id);
    if (t && strstr(t->name, "_REQ_"))
        return id;
    const ew_rscp_tag_info *r = ew_rscp_tag_by_id(id & ~EW_RSCP_TAG_RESPONSE_BIT);
    if (r && strstr(r->name, "_REQ_"))
        return r->id;
    if (t) {
        const char *s = ew_rscp_tag_short_name(t);
        const char *us = strchr(s, '_');
        if (us) {
            char name[128];
            snprintf(name, sizeof name, "%.*s_REQ_%s", (int)(us - s), s, us + 1);
            r = ew_rscp_tag_by_name(name, strlen(name));
            if (r)
                return r->id;
        }
    }
    return id & ~EW_RSCP_TAG_RESPONSE_BIT;
}

static int print_tree(session *se, const uint8_t *ans, size_t len) {
    size_t cap = 65536, need = 0;
    char *out = malloc(cap);
    if (!out)
        return EXIT_FAIL;
    ew_diag d = {0};
    unsigned flags = se->jflags ? EW_RSCP_PRINT_PRETTY : 0;
    int rc = se->json ? ew_rscp_print_json(ans, len, 0, flags, out, cap, &need, &d)
                      : ew_rscp_print_text(ans, len, 0, 0, out, cap, &need, &d);
    if (rc == EW_ERR_NOBUF) {
        char *bigger = realloc(out, need);
        if (!bigger) {
            free(out);
            return EXIT_FAIL;
        }
        out = bigger;
        rc = se->json ? ew_rscp_print_json(ans, len, 0, flags, out, need, &need, &d)
                      : ew_rscp_print_text(ans, len, 0, 0, out, need, &need, &d);
    }
    fputs(out, stdout);
    if (se->json)
        putchar('\n');
    free(out);
    return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

/* Sends the request built in se->b and prints the whole answer tree. */
static int call_and_print(session *se) {
    uint8_t *ans;
    size_t len;
    int rc = call(se, &ans, &len);
    if (rc)
        return rc;
    rc = print_tree(se, ans, len);
    free(ans);
    return rc;
}

static int print_query_match(void *user, const ew_rscp_value *v) {
    session *se = user;
    /* The match is a view into the answer: print its whole TLV (header
     * included) like any other tree, as text or JSON. */
    print_tree(se, v->data - EW_RSCP_TLV_HEADER_LEN, (size_t)v->len + EW_RSCP_TLV_HEADER_LEN);
    return 0;
}

static int v_get(session *se, const verb_args *va) {
    if (va->argc == 0) {
        cli_err("get: give tag names (EMS_POWER_PV) or query paths (BAT_DATA/BAT_RSOC)");
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    for (int i = 0; i < va->argc && rc == EXIT_OK; i++) {
        const char *arg = va->argv[i];
        ew_rscp_query q;
        ew_diag d = {0};
        int qrc = ew_rscp_query_compile(&q, arg, strlen(arg), &d);
        if (qrc < 0) {
            char msg[200];
            ew_diag_format(&d, msg, sizeof msg);
            cli_err("get: '%s': %s", arg, msg);
            return EXIT_USAGE;
        }
        /* Turn the path into a request: each step's request tag, with the
         * step's conditions as children (an index such as PVI_INDEX==0 is
         * exactly what a device container request needs). */
        ew_rscp_builder *b = req(se);
        for (unsigned s = 0; s < q.nsteps; s++) {
            uint32_t tag = request_tag_for(q.steps[s].tag);
            if (s + 1 == q.nsteps) {
                ew_rscp_builder_add_none(b, tag);
                break;
            }
            ew_rscp_builder_open(b, tag);
            for (unsigned k = 0; k < q.steps[s].ncond; k++) {
                const ew_rscp_query_cond *c = &q.steps[s].cond[k];
                if (c->op == EW_RSCP_OP_EQ && c->kind == EW_RSCP_LIT_INT)
                    ew_rscp_builder_add_int(b, c->tag, c->i);
            }
        }
        for (unsigned s = 0; s + 1 < q.nsteps; s++)
            ew_rscp_builder_close(b);
        uint8_t *ans;
        size_t len;
        if ((rc = call(se, &ans, &len)) != 0)
            break;
        if (q.nsteps == 1 && q.steps[0].ncond == 0) {
            rc = print_tree(se, ans, len);
        } else {
            int n = ew_rscp_query_run(&q, ans, len, 0, print_query_match, se, &d);
            if (n == 0) {
                fprintf(stderr, "energywire: '%s' matched nothing; the device answered:\n", arg);
                print_tree(se, ans, len);
                rc = EXIT_FAIL;
            } else if (n < 0) {
                rc = EXIT_FAIL;
            }
        }
        free(ans);
    }
    return rc;
}

/* Adds |text| as a value of |tag|'s declared type. */
static int add_typed(ew_rscp_builder *b, uint32_t tag, int type, const char *text) {
    int64_t i;
    char *end;
    switch (type) {
    case EW_RSCP_TYPE_CSTRING:
        return ew_rscp_builder_add_string(b, tag, text);
    case EW_RSCP_TYPE_FLOAT32:
    case EW_RSCP_TYPE_DOUBLE64: {
        double f = strtod(text, &end);
        if (end == text || *end)
            return EW_ERR_SYNTAX;
        return type == EW_RSCP_TYPE_FLOAT32 ? ew_rscp_builder_add_float32(b, tag, (float)f)
                                            : ew_rscp_builder_add_double64(b, tag, f);
    }
    case EW_RSCP_TYPE_BOOL: {
        int on;
        if (on_off(text, &on) < 0)
            return EW_ERR_SYNTAX;
        return ew_rscp_builder_add_bool(b, tag, on);
    }
    case EW_RSCP_TYPE_NONE:
        return ew_rscp_builder_add_none(b, tag);
    default:
        if (parse_i64(text, &i) < 0)
            return EW_ERR_SYNTAX;
        return ew_rscp_builder_add_int(b, tag, i);
    }
}

static int v_set(session *se, const verb_args *va) {
    if (va->argc == 0) {
        cli_err("set: give TAG=VALUE (the request tag, e.g. EMS_REQ_SET_BATTERY_TO_CAR_MODE=1)");
        return EXIT_USAGE;
    }
    ew_rscp_builder *b = req(se);
    for (int i = 0; i < va->argc; i++) {
        const char *eq = strchr(va->argv[i], '=');
        if (!eq) {
            cli_err("set: '%s' is not TAG=VALUE", va->argv[i]);
            return EXIT_USAGE;
        }
        uint32_t tag;
        if (ew_rscp_tag_parse(va->argv[i], (size_t)(eq - va->argv[i]), &tag) < 0) {
            cli_err("set: unknown tag '%.*s' (see energywire rscp tags)", (int)(eq - va->argv[i]),
                    va->argv[i]);
            return EXIT_USAGE;
        }
        const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
        int type = t ? t->type : -1;
        if (type == EW_RSCP_TYPE_CONTAINER) {
            cli_err("set: %s is a container; use energywire rscp raw", t->name);
            return EXIT_USAGE;
        }
        if (add_typed(b, tag, type, eq + 1) < 0) {
            cli_err("set: '%s' is not a valid %s", eq + 1,
                    type >= 0 ? ew_rscp_type_name(type) : "number");
            return EXIT_USAGE;
        }
    }
    return call_and_print(se);
}

/* Adds one JSON value object {"tag","type"?,"value"?} (the same shape
 * energywire prints) to |b|. */
static int add_json_value(ew_rscp_builder *b, const json_t *o, int depth) {
    const char *tname = json_string_value(json_object_get(o, "tag"));
    if (!json_is_object(o) || !tname || depth > 16) {
        cli_err("raw: every value needs a \"tag\" (name or 0x id)");
        return -1;
    }
    uint32_t tag;
    if (ew_rscp_tag_parse(tname, strlen(tname), &tag) < 0) {
        cli_err("raw: unknown tag '%s'", tname);
        return -1;
    }
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    const char *ty = json_string_value(json_object_get(o, "type"));
    const json_t *val = json_object_get(o, "value");
    int type = ty ? ew_rscp_type_from_name(ty, strlen(ty)) : t ? t->type : -1;
    if (ty && type < 0) {
        cli_err("raw: unknown type '%s'", ty);
        return -1;
    }
    if (json_is_array(val))
        type = EW_RSCP_TYPE_CONTAINER;
    if (!val || json_is_null(val))
        type = type == EW_RSCP_TYPE_CONTAINER ? type : EW_RSCP_TYPE_NONE;
    if (type == EW_RSCP_TYPE_CONTAINER) {
        ew_rscp_builder_open(b, tag);
        size_t k;
        const json_t *kid;
        json_array_foreach(val, k, kid) if (add_json_value(b, kid, depth + 1) < 0) return -1;
        return ew_rscp_builder_close(b) < 0 ? -1 : 0;
    }
    char text[128];
    if (json_is_string(val))
        snprintf(text, sizeof text, "%s", json_string_value(val));
    else if (json_is_integer(val))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(val));
    else if (json_is_real(val))
        snprintf(text, sizeof text, "%.17g", json_real_value(val));
    else if (json_is_boolean(val))
        snprintf(text, sizeof text, "%s", json_is_true(val) ? "true" : "false");
    else
        text[0] = '\0';
    if (type == EW_RSCP_TYPE_CSTRING && json_is_string(val))
        return ew_rscp_builder_add_string(b, tag, json_string_value(val)) < 0 ? -1 : 0;
    if (add_typed(b, tag, type, text) < 0) {
        cli_err("raw: value of %s does not fit type %s", tname,
                type >= 0 ? ew_rscp_type_name(type) : "Int32");
        return -1;
    }
    return 0;
}

static int v_raw(session *se, const verb_args *va) {
    if (va->argc != 1) {
        cli_err("raw: give the request as JSON (or @FILE, or - for standard input), e.g. "
                "'[{\"tag\":\"EMS_REQ_POWER_PV\"}]'");
        return EXIT_USAGE;
    }
    const char *src = va->argv[0];
    char *text = NULL;
    if (src[0] == '@' || !strcmp(src, "-")) {
        text = cli_read_file(src[0] == '@' ? src + 1 : "-", NULL);
        if (!text)
            return EXIT_FAIL;
        src = text;
    }
    json_error_t err;
    json_t *j = json_loads(src, 0, &err);
    free(text);
    if (!j) {
        cli_err("raw: not JSON: %s (line %d, column %d)", err.text, err.line, err.column);
        return EXIT_USAGE;
    }
    ew_rscp_builder *b = req(se);
    int bad = 0;
    if (json_is_array(j)) {
        size_t k;
        json_t *o;
        json_array_foreach(j, k, o) if (add_json_value(b, o, 0) < 0) bad = 1;
    } else {
        bad = add_json_value(b, j, 0) < 0;
    }
    json_decref(j);
    if (bad)
        return EXIT_USAGE;
    return call_and_print(se);
}

/* ---- dispatch ---------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(session *, const verb_args *);
    const char *help;
} verbs[] = {
    {"poll", v_poll, "live values: PV, battery, house, grid, wallbox, SOC, autarky"},
    {"status", v_status, "EMS status words and system status bits"},
    {"info", v_info, "serial number, model, software, system specs, time"},
    {"topology", v_topology, "how many batteries, PV inverters, meters, wallboxes"},
    {"battery", v_battery, "battery data with DCB modules and cells [--index N]"},
    {"pvi", v_pvi, "PV inverter data per tracker and phase [--index N] [--trackers N]"},
    {"pm", v_pm, "power meter data [--index N] (default: the root meter)"},
    {"wallbox", v_wallbox, "wallbox data, or --sun-mode/--schuko/--max-current/... commands"},
    {"switches", v_switches, "smart switches, or --on ID / --off ID"},
    {"settings", v_settings, "power settings; --max-charge W etc. change only what is named"},
    {"power", v_power, "manual mode: auto | idle | discharge W | charge W | grid-charge W"},
    {"manual-charge", v_manual_charge, "manual charge state, or --start WH"},
    {"idle", v_idle, "idle periods"},
    {"get", v_get, "values by tag name or query path"},
    {"set", v_set, "send TAG=VALUE requests and print the answers"},
    {"raw", v_raw, "send any request written as JSON and print the answer tree"},
};

int cmd_e3dc_is_verb(const char *verb) {
    if (!strcmp(verb, "history"))
        return 1;
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (!strcmp(verbs[k].name, verb))
            return 1;
    return 0;
}

void cmd_e3dc_usage(FILE *out) {
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        fprintf(out, "  %-14s %s\n", verbs[k].name, verbs[k].help);
    fprintf(out, "  %-14s %s\n", "history",
            "daily energy: DAY or --from DAY --to DAY [--tz ZONE] [--uint64]");
    fputs("connection options (every verb): --host H --port P --user U --password-file F\n"
          "  --key-file F --config FILE --timeout MS --json --pretty\n"
          "  (or E3DC_HOST, E3DC_PORT, E3DC_USER, E3DC_PASSWORD, E3DC_RSCP_KEY)\n",
          out);
}

int cmd_e3dc(const char *verb, int argc, char **argv) {
    verb_args va;
    memset(&va, 0, sizeof va);
    va.argv = calloc((size_t)argc + 1, sizeof *va.argv);
    if (!va.argv)
        return EXIT_FAIL;
    const char *tz = NULL;
    for (int i = 0; i < argc; i++) {
        int r = conn_opt(&va.c, argc, argv, &i);
        if (r < 0) {
            free(va.argv);
            return EXIT_USAGE;
        }
        if (r == 0 && !strcmp(argv[i], "--tz") && i + 1 < argc) {
            tz = argv[++i];
            continue;
        }
        if (r == 0)
            va.argv[va.argc++] = argv[i];
    }
    int (*fn)(session *, const verb_args *) = NULL;
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (!strcmp(verbs[k].name, verb))
            fn = verbs[k].fn;
    if (!strcmp(verb, "history")) {
        /* An explicit zone: the device buckets by its local days, so the
         * caller must say which days it means (--tz, E3DC_TZ, or TZ). */
        if (!tz)
            tz = getenv("E3DC_TZ");
        if (!tz)
            tz = getenv("TZ");
        if (!tz)
            tz = "UTC";
        if (!zone_exists(tz)) {
            cli_err("history: unknown time zone '%s' (use a name such as Europe/Berlin)", tz);
            free(va.argv);
            return EXIT_USAGE;
        }
        setenv("TZ", tz, 1);
        tzset();
    } else if (tz) {
        cli_err("--tz only applies to history");
        free(va.argv);
        return EXIT_USAGE;
    }
    session *se = calloc(1, sizeof *se);
    int rc = se ? session_open(se, &va.c) : EXIT_FAIL;
    if (rc == EXIT_OK) {
        rc = fn ? fn(se, &va) : v_history(se, &va, tz);
        session_close(se);
    }
    free(se);
    free(va.argv);
    return rc;
}
