/*
 * energywire sim rscp: a simulated E3/DC home power plant on the network.
 *
 * The plant model and request handler are the sans-I/O core
 * <energywire/sim.h> (docs/sim-e3dc.md); the network side is the libuv
 * server ew_rscp_server of <energywire/io.h>, which runs one RSCP session per
 * client and asks us for logins and answers:
 *
 *   on_login    ew_e3dc_sim_check_login()
 *   on_request  ew_e3dc_sim_step(model time now), ew_e3dc_sim_handle(),
 *               ew_rscp_peer_respond()
 *
 * The model clock is start + elapsed wall-clock time x speed, the elapsed
 * time taken from the monotonic clock so that a stepped system clock cannot
 * move the model backwards.  Settings: flags > environment > --config file
 * (STYLE.md "Apps"), see docs/cli-sim.md.
 */
#include "cmd_sim.h"

#include "cli.h"
#include "config.h"

#include <energywire/io.h>
#include <energywire/sim.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

/* ---- small parsers -------------------------------------------------------- */

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out) {
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out) {
    if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "true")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "false")) {
        *out = 0;
        return 0;
    }
    return -1;
}

/* ---- model time ------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (timegm() is not
 * POSIX). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(int y, int m) {
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return dm[m - 1] + (m == 2 && leap);
}

/*
 * Parses a start time: "now", "@SECONDS" (Unix time), "YYYY-MM-DD" or
 * "YYYY-MM-DDTHH:MM[:SS]" in the plant's local standard time (UTC plus
 * |utc_offset_s|), or the same with a trailing "Z" for UTC.
 */
static int parse_start(const char *s, int32_t utc_offset_s, int64_t *ms) {
    if (!strcmp(s, "now")) {
        *ms = SIM_START_NOW;
        return 0;
    }
    if (s[0] == '@') {
        unsigned long long v;
        if (parse_ull(s + 1, 253402300799ull, &v) < 0)
            return -1;
        *ms = (int64_t)v * 1000;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *rest = s + n;
    if (*rest == 'T' || *rest == ' ') {
        int k = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
            return -1;
        rest += 1 + k;
        if (*rest == ':') {
            if (sscanf(rest + 1, "%2d%n", &sec, &k) != 1 || k != 2)
                return -1;
            rest += 1 + k;
        }
    }
    int utc = 0;
    if (*rest == 'Z') {
        utc = 1;
        rest++;
    }
    if (*rest || y < 1970 || mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, mo) ||
        h > 23 || mi > 59 || sec > 59)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    if (!utc)
        t -= utc_offset_s;
    if (t < 0)
        return -1;
    *ms = t * 1000;
    return 0;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sim_plant_local_time(const sim_plant *p, int64_t ms, char *out, size_t cap) {
    time_t t = (time_t)(ms / 1000 + p->cfg.utc_offset_s);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, cap, "?");
}

/* ---- plant options ------------------------------------------------------------ */

enum {
    PK_BATTERIES,
    PK_CAPACITY_WH,
    PK_TRACKERS,
    PK_PEAK_W,
    PK_WALLBOXES,
    PK_ROOT_METER,
    PK_SEED,
    PK_START,
    PK_SPEED,
    PK_HISTORY_DAYS,
    PK_N
};

/* One option: its flag, its KEY in config files and the environment, the
 * name of its value, and a line of help. */
typedef struct opt_info {
    const char *flag, *key, *arg, *help;
} opt_info;

static const opt_info plant_opts[PK_N] = {
    [PK_BATTERIES] = {"--batteries", "SIM_BATTERIES", "N", "battery strings, 0..8 (default 1)"},
    [PK_CAPACITY_WH] = {"--capacity-wh", "SIM_CAPACITY_WH", "WH",
                        "usable capacity of all strings together (default 10000)"},
    [PK_TRACKERS] = {"--trackers", "SIM_TRACKERS", "N",
                     "PV strings (MPP trackers), 1..8 (default 2)"},
    [PK_PEAK_W] = {"--peak-w", "SIM_PEAK_W", "W", "installed PV peak power (default 9500)"},
    [PK_WALLBOXES] = {"--wallboxes", "SIM_WALLBOXES", "N", "wallboxes, 0..8 (default 1)"},
    [PK_ROOT_METER] = {"--root-meter", "SIM_ROOT_METER", "I",
                       "index of the grid meter: 0 (default) or 6 (S10 Mini)"},
    [PK_SEED] = {"--seed", "SIM_SEED", "N", "seed of weather, loads and car trips (default 1)"},
    [PK_START] = {"--start", "SIM_START", "WHEN",
                  "model start: now (default), YYYY-MM-DD[THH:MM[:SS]][Z], @UNIX"},
    [PK_SPEED] = {"--speed", "SIM_SPEED", "X",
                  "model time runs X times as fast as real time (default 1)"},
    [PK_HISTORY_DAYS] = {"--history-days", "SIM_HISTORY_DAYS", "N",
                         "days of history before the start, 0..1830 (default 400)"},
};

void sim_plant_init(sim_plant *p) {
    memset(p, 0, sizeof *p);
    ew_e3dc_sim_config_init(&p->cfg);
    p->speed = 1.0;
    p->start_ms = SIM_START_NOW;
}

/* Applies |v| to plant setting |k|; |src| names where it came from (a flag or
 * a KEY) for the error message.  Returns 0, or -1 after printing. */
static int plant_set(sim_plant *p, int k, const char *v, const char *src) {
    unsigned long long u = 0;
    double x = 0;
    int bad = 0;
    const char *want = "";
    switch (k) {
    case PK_BATTERIES:
        bad = parse_ull(v, EW_E3DC_SIM_MAX_BATTERIES, &u) < 0;
        p->cfg.batteries = (unsigned)u;
        want = "a number from 0 to 8";
        break;
    case PK_CAPACITY_WH:
        bad = cli_parse_num(v, 1, 1e7, &x) < 0;
        p->cfg.bat_capacity_wh = x;
        want = "an energy in Wh from 1 to 10000000";
        break;
    case PK_TRACKERS:
        bad = parse_ull(v, EW_E3DC_SIM_MAX_TRACKERS, &u) < 0 || u < 1;
        p->cfg.pv_trackers = (unsigned)u;
        want = "a number from 1 to 8";
        break;
    case PK_PEAK_W:
        bad = cli_parse_num(v, 0, 1e6, &x) < 0;
        p->cfg.pv_peak_w = x;
        want = "a power in W from 0 to 1000000";
        break;
    case PK_WALLBOXES:
        bad = parse_ull(v, EW_E3DC_SIM_MAX_WALLBOXES, &u) < 0;
        p->cfg.wallboxes = (unsigned)u;
        want = "a number from 0 to 8";
        break;
    case PK_ROOT_METER:
        bad = parse_ull(v, 7, &u) < 0;
        p->cfg.pm_root_index = (unsigned)u;
        want = "a meter index from 0 to 7 (0 on most systems, 6 on S10 Mini and Quattroporte)";
        break;
    case PK_SEED:
        bad = parse_ull(v, UINT64_MAX, &u) < 0;
        p->cfg.seed = u;
        want = "a whole number";
        break;
    case PK_START:
        bad = parse_start(v, p->cfg.utc_offset_s, &p->start_ms) < 0;
        want = "now, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (plant time, UTC+01:00), the same with a "
               "trailing Z for UTC, or @UNIX-SECONDS";
        break;
    case PK_SPEED:
        bad = cli_parse_num(v, 0.001, 100000, &x) < 0;
        p->speed = x;
        want = "a factor from 0.001 to 100000";
        break;
    case PK_HISTORY_DAYS:
        bad = parse_ull(v, EW_E3DC_SIM_MAX_HISTORY_DAYS, &u) < 0;
        p->cfg.history_days = (unsigned)u;
        want = "a number of days from 0 to 1830";
        break;
    default:
        bad = 1;
        break;
    }
    if (bad) {
        cli_err("%s: '%s' is not %s", src, v, want);
        return -1;
    }
    return 0;
}

static int find_opt(const opt_info *t, size_t n, const char *flag) {
    for (size_t k = 0; k < n; k++)
        if (t[k].flag && !strcmp(t[k].flag, flag))
            return (int)k;
    return -1;
}

int sim_plant_opt(sim_plant *p, int argc, char **argv, int *i) {
    int k = find_opt(plant_opts, PK_N, argv[*i]);
    if (k < 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_err("%s needs a value (%s)", argv[*i], plant_opts[k].arg);
        return -1;
    }
    (*i)++;
    return plant_set(p, k, argv[*i], argv[*i - 1]) < 0 ? -1 : 1;
}

static void print_opts(FILE *out, const opt_info *t, size_t n) {
    for (size_t k = 0; k < n; k++) {
        char left[48];
        snprintf(left, sizeof left, "%s%s%s", t[k].flag, t[k].arg ? " " : "",
                 t[k].arg ? t[k].arg : "");
        fprintf(out, "  %-22s %s\n", left, t[k].help);
    }
}

void sim_plant_usage(FILE *out) {
    print_opts(out, plant_opts, PK_N);
}

/* ---- the server ------------------------------------------------------------------ */

struct sim_server {
    ew_e3dc_sim *sim;
    ew_rscp_server *srv;
    sim_plant plant;
    int64_t start_ms; /* model time at hr0 */
    uint64_t hr0;     /* uv_hrtime() at the start, ns */
    unsigned peers;
    int log_peers, verbose;
    /* Steps the model once a second, so that a request never has much to
     * catch up on: integrating one model second takes about 0.25 us, and an
     * idle hour at --speed 100000 would otherwise cost 9 s in one request.
     * Freed by its close callback. */
    uv_timer_t *tick;
    /* Answers are built here; the simulator keeps one frame's answers within
     * EW_E3DC_SIM_ANSWER_MAX (pye3dc reads answers with one recv(32768)). */
    uint8_t ans[EW_E3DC_SIM_ANSWER_MAX + 256];
};

/* One log line on stderr, stamped with the local wall-clock time. */
static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...) {
    char when[16];
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(when, sizeof when, "%H:%M:%S", &tm))
        snprintf(when, sizeof when, "--:--:--");
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "energywire sim: %s ", when);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int64_t sim_server_model_time(const sim_server *s) {
    double elapsed_ms = (double)(uv_hrtime() - s->hr0) / 1e6;
    return s->start_ms + (int64_t)(elapsed_ms * s->plant.speed);
}

static void on_tick(uv_timer_t *t) {
    sim_server *s = t->data;
    ew_e3dc_sim_step(s->sim, sim_server_model_time(s));
}

static void tick_closed(uv_handle_t *h) {
    free(h);
}

static void srv_log(void *user, int level, const char *msg) {
    sim_server *s = user;
    if (level <= 1 || s->verbose)
        logline("%s", msg);
}

static int on_login(void *user, ew_rscp_peer *p, ew_bytes name, ew_bytes password) {
    sim_server *s = user;
    int level = ew_e3dc_sim_check_login(s->sim, (const char *)name.ptr, name.len,
                                        (const char *)password.ptr, password.len);
    if (level == 0 && s->log_peers) {
        /* The user name is the client's input: show it tamed. */
        char shown[68];
        size_t n = 0;
        for (size_t k = 0; k < name.len && n + 4 < sizeof shown; k++)
            shown[n++] = isprint(name.ptr[k]) ? (char)name.ptr[k] : '?';
        if (n < name.len)
            shown[n++] = '.', shown[n++] = '.', shown[n++] = '.';
        shown[n] = '\0';
        logline("%s login refused for user '%s': wrong user name or password", ew_rscp_peer_name(p),
                shown);
    } else if (s->verbose) {
        logline("%s logged in, user level %d", ew_rscp_peer_name(p), level);
    }
    return level;
}

static void on_request(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                       size_t len, int level) {
    sim_server *s = user;
    /* The model advances to the time of the request; it is deterministic
     * however the way there is cut into steps (sim.h). */
    ew_e3dc_sim_step(s->sim, sim_server_model_time(s));
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, s->ans, sizeof s->ans);
    int n = ew_e3dc_sim_handle(s->sim, data, len, level, &b);
    size_t out = 0;
    /* EW_ERR_TOO_BIG still leaves one well-formed answer per request (the
     * oversized ones replaced by Error 5), so it is sent. */
    if (n < 0 && n != EW_ERR_TOO_BIG) {
        logline("%s sent a malformed request (%s); closing the connection", ew_rscp_peer_name(p),
                ew_strerror(n));
        ew_rscp_peer_close(p);
        return;
    }
    int rc = ew_rscp_builder_finish(&b, &out);
    if (rc == EW_OK)
        rc = ew_rscp_peer_respond(p, req_id, s->ans, out);
    if (rc < 0) {
        logline("%s: cannot answer: %s", ew_rscp_peer_name(p), ew_strerror(rc));
        ew_rscp_peer_close(p);
    }
}

static void on_peer(void *user, ew_rscp_peer *p, int connected, int err, const char *detail) {
    sim_server *s = user;
    (void)err;
    if (connected)
        s->peers++;
    else if (s->peers)
        s->peers--;
    if (!s->log_peers)
        return;
    if (connected)
        logline("%s connected (%u client%s)", ew_rscp_peer_name(p), s->peers,
                s->peers == 1 ? "" : "s");
    else
        logline("%s disconnected: %s (%u client%s)", ew_rscp_peer_name(p), detail, s->peers,
                s->peers == 1 ? "" : "s");
}

int sim_server_start(sim_server **out, uv_loop_t *loop, const sim_server_opts *o) {
    *out = NULL;
    sim_server *s = calloc(1, sizeof *s);
    if (!s) {
        cli_err("out of memory");
        return EXIT_FAIL;
    }
    s->plant = *o->plant;
    s->log_peers = o->log_peers;
    s->verbose = o->verbose;
    ew_e3dc_sim_config cfg = s->plant.cfg;
    s->start_ms = s->plant.start_ms == SIM_START_NOW ? wall_ms() : s->plant.start_ms;
    cfg.start_time_ms = s->start_ms;
    int rc = ew_e3dc_sim_new(&s->sim, &cfg, NULL);
    if (rc != EW_OK) {
        if (rc == EW_ERR_INVAL)
            cli_err("the simulator refuses this configuration (a count, a limit or a login "
                    "outside its bounds: user names and passwords have at most %d bytes, levels "
                    "are 1..255)",
                    EW_E3DC_SIM_MAX_TEXT);
        else
            cli_err("cannot create the simulator: %s", ew_strerror(rc));
        free(s);
        return rc == EW_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    /* The simulator keeps copies of the logins and the key. */
    s->plant.cfg.users = NULL;
    s->plant.cfg.nusers = 0;
    s->plant.cfg.rscp_key = NULL;
    /* The clock starts after the history backfill, which takes a moment. */
    s->hr0 = uv_hrtime();
    s->tick = malloc(sizeof *s->tick);
    if (!s->tick) {
        cli_err("out of memory");
        sim_server_stop(s);
        return EXIT_FAIL;
    }
    uv_timer_init(loop, s->tick);
    s->tick->data = s;
    uv_timer_start(s->tick, on_tick, 1000, 1000);

    ew_rscp_server_opts so;
    ew_rscp_server_opts_init(&so);
    so.host = o->host;
    so.port = o->port;
    so.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
    if (o->max_clients)
        so.max_clients = o->max_clients;
    so.faults = o->faults;
    so.on_login = on_login;
    so.on_request = on_request;
    so.on_peer = on_peer;
    so.log = srv_log;
    so.user = s;
    rc = ew_rscp_server_new(&s->srv, loop, &so);
    if (rc != EW_OK) {
        if (rc == EW_ERR_INVAL)
            cli_err("cannot listen on '%s': give a numeric address (127.0.0.1, ::1, 0.0.0.0, ::)",
                    o->host);
        else
            cli_err("cannot create the server: %s", ew_io_strerror(rc));
        sim_server_stop(s);
        return rc == EW_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    rc = ew_rscp_server_listen(s->srv);
    if (rc != EW_OK) {
        cli_err("%s", ew_rscp_server_error_detail(s->srv));
        sim_server_stop(s);
        return EXIT_FAIL;
    }
    *out = s;
    return EXIT_OK;
}

uint16_t sim_server_port(const sim_server *s) {
    return ew_rscp_server_port(s->srv);
}

void sim_server_stop(sim_server *s) {
    if (!s)
        return;
    /* No callback follows _del, so the simulator can go at once; the
     * server's memory is released by the loop. */
    if (s->tick)
        uv_close((uv_handle_t *)s->tick, tick_closed);
    ew_rscp_server_del(s->srv);
    ew_e3dc_sim_del(s->sim);
    memset(s, 0, sizeof *s);
    free(s);
}

/* ---- energywire sim rscp ------------------------------------------------------------- */

enum {
    SK_LISTEN,
    SK_PORT,
    SK_MAX_CLIENTS,
    SK_USERS_FILE,
    SK_PASSWORD_FILE,
    SK_KEY_FILE,
    SK_DROP_AFTER,
    SK_DELAY,
    SK_SPLIT,
    SK_CORRUPT,
    SK_REFUSE_LOGIN,
    SK_N
};

static const opt_info server_opts[SK_N] = {
    [SK_LISTEN] = {"--listen", "SIM_LISTEN", "HOST:PORT",
                   "numeric address and port (default 127.0.0.1:5033; [::1]:5033)"},
    [SK_PORT] = {"--port", "SIM_PORT", "PORT", "port; 0 picks a free one"},
    [SK_MAX_CLIENTS] = {"--max-clients", "SIM_MAX_CLIENTS", "N",
                        "connections served at once (default 16)"},
    [SK_USERS_FILE] = {"--users-file", "SIM_USERS_FILE", "FILE",
                       "logins, one NAME:PASSWORD[:LEVEL] per line"},
    [SK_PASSWORD_FILE] = {"--password-file", "E3DC_PASSWORD_FILE", "FILE",
                          "password of E3DC_USER (first line of FILE)"},
    [SK_KEY_FILE] = {"--key-file", "E3DC_RSCP_KEY_FILE", "FILE", "RSCP key (first line of FILE)"},
    [SK_DROP_AFTER] = {"--drop-after", "SIM_DROP_AFTER", "N",
                       "fault: close each connection after its frame N"},
    [SK_DELAY] = {"--delay", "SIM_DELAY", "MS", "fault: hold every answer back MS ms"},
    [SK_SPLIT] = {"--split", "SIM_SPLIT", "BYTES[:MS]",
                  "fault: write frames in pieces, MS ms apart"},
    [SK_CORRUPT] = {"--corrupt", "SIM_CORRUPT", "N", "fault: damage frame N of each connection"},
    [SK_REFUSE_LOGIN] = {"--refuse-login", "SIM_REFUSE_LOGIN", NULL, "fault: refuse every login"},
};

static void sim_usage(FILE *out) {
    fputs("usage: energywire sim rscp [options]\n"
          "       energywire sim rct [options]   (RCT Power inverter; see sim rct --help)\n"
          "\n"
          "sim rscp runs a simulated E3/DC home power plant that speaks RSCP on TCP: PV, battery,\n"
          "house, grid, wallboxes, smart switches and a history database, driven by the\n"
          "wall clock.  The first line on standard output is \"listening on HOST:PORT\".\n"
          "Stops on Ctrl-C / SIGTERM, or after --seconds.\n"
          "\n"
          "plant:\n",
          out);
    sim_plant_usage(out);
    fputs("\nserver:\n", out);
    print_opts(out, server_opts, SK_USERS_FILE);
    fputs("  --config FILE          KEY=value settings (keys in docs/cli-sim.md)\n"
          "  --seconds N            stop after N seconds\n"
          "  --verbose              log logins and the library's debug messages\n"
          "\n"
          "logins and key (E3DC_USER, E3DC_PASSWORD, E3DC_USER_LEVEL, E3DC_RSCP_KEY in the\n"
          "environment or the config file, as the client verbs use them; with none the\n"
          "built-in demo logins and the key \"my-rscp-key\" are used):\n",
          out);
    print_opts(out, server_opts + SK_USERS_FILE, SK_DROP_AFTER - SK_USERS_FILE);
    fputs("  --user NAME:PASS[:LVL] one more login (repeatable; argv is visible to others)\n"
          "  --key KEY              the RSCP key (visible to other users; prefer a file)\n"
          "\n"
          "faults:\n",
          out);
    print_opts(out, server_opts + SK_DROP_AFTER, SK_N - SK_DROP_AFTER);
    fputs("\nThe environment overrides the config file, flags override both.\n"
          "Documentation: docs/cli-sim.md\n",
          out);
}

/* Logins, with their strings on the heap (wiped when freed). */
typedef struct user_list {
    size_t n;
    ew_e3dc_sim_user u[EW_E3DC_SIM_MAX_USERS];
    char *mem[EW_E3DC_SIM_MAX_USERS];
} user_list;

/* Wipes both halves (name, password) of each login and frees them. */
static void users_free(user_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        volatile char *pw = l->mem[i] + strlen(l->mem[i]) + 1;
        while (*pw)
            *pw++ = 0;
        cli_secret_free(l->mem[i]);
    }
    memset(l, 0, sizeof *l);
}

/* Adds a login; |name| and |password| are copied.  Returns 0 or -1 after
 * printing. */
static int users_add(user_list *l, const char *name, size_t nlen, const char *password, size_t plen,
                     int level, const char *src) {
    if (l->n == EW_E3DC_SIM_MAX_USERS) {
        cli_err("%s: at most %d logins", src, EW_E3DC_SIM_MAX_USERS);
        return -1;
    }
    if (!nlen || nlen > EW_E3DC_SIM_MAX_TEXT || plen > EW_E3DC_SIM_MAX_TEXT) {
        cli_err("%s: user names (not empty) and passwords have at most %d bytes", src,
                EW_E3DC_SIM_MAX_TEXT);
        return -1;
    }
    char *m = malloc(nlen + plen + 2);
    if (!m) {
        cli_err("out of memory");
        return -1;
    }
    memcpy(m, name, nlen);
    m[nlen] = '\0';
    memcpy(m + nlen + 1, password, plen);
    m[nlen + 1 + plen] = '\0';
    l->mem[l->n] = m;
    l->u[l->n].name = m;
    l->u[l->n].password = m + nlen + 1;
    l->u[l->n].level = level;
    l->n++;
    return 0;
}

/* Parses NAME:PASSWORD[:LEVEL].  The part after the last colon is the level
 * when there are two colons or more and it is a number; so a password that
 * contains a colon needs an explicit level. */
static int users_add_spec(user_list *l, const char *spec, const char *src) {
    const char *c1 = strchr(spec, ':');
    if (!c1 || c1 == spec) {
        cli_err("%s: expected NAME:PASSWORD[:LEVEL]", src);
        return -1;
    }
    const char *pw = c1 + 1, *end = spec + strlen(spec);
    int level = 10;
    const char *c2 = strrchr(spec, ':');
    if (c2 != c1) {
        unsigned long long v;
        if (parse_ull(c2 + 1, 255, &v) < 0 || v == 0) {
            cli_err("%s: the level after the last ':' must be 1..255 (10 user, 20 installer)", src);
            return -1;
        }
        level = (int)v;
        end = c2;
    }
    return users_add(l, spec, (size_t)(c1 - spec), pw, (size_t)(end - pw), level, src);
}

static int users_load_file(user_list *l, const char *path) {
    size_t len;
    char *text = cli_read_file(path, &len);
    if (!text)
        return -1;
    int rc = 0, line = 0;
    char *save = NULL;
    for (char *s = strtok_r(text, "\r\n", &save); s && rc == 0; s = strtok_r(NULL, "\r\n", &save)) {
        line++;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, line);
        rc = users_add_spec(l, s, where);
    }
    memset(text, 0, len);
    free(text);
    return rc;
}

/* Splits HOST:PORT / [V6]:PORT / HOST into |host| and |*port|. */
static int parse_listen(const char *v, char *host, size_t cap, long *port) {
    const char *colon;
    const char *h = v;
    size_t hl;
    if (v[0] == '[') {
        const char *rb = strchr(v, ']');
        if (!rb)
            return -1;
        h = v + 1;
        hl = (size_t)(rb - h);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] && !colon)
            return -1;
    } else {
        colon = strrchr(v, ':');
        if (colon && strchr(v, ':') != colon)
            return -1; /* a bare IPv6 address: needs brackets with a port */
        hl = colon ? (size_t)(colon - v) : strlen(v);
    }
    if (hl >= cap)
        return -1;
    if (hl) {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    if (colon) {
        unsigned long long p;
        if (parse_ull(colon + 1, 65535, &p) < 0)
            return -1;
        *port = (long)p;
    }
    return 0;
}

typedef struct sim_app {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    int have_timer;
    sim_server *srv;
    int stopping;
} sim_app;

static void handle_closed(uv_handle_t *h) {
    (void)h;
}

static void app_stop(sim_app *a, const char *why) {
    if (a->stopping)
        return;
    a->stopping = 1;
    if (why)
        logline("stopping: %s", why);
    uv_close((uv_handle_t *)&a->sigint, handle_closed);
    uv_close((uv_handle_t *)&a->sigterm, handle_closed);
    if (a->have_timer)
        uv_close((uv_handle_t *)&a->stop_timer, handle_closed);
    sim_server_stop(a->srv);
    a->srv = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
    app_stop(h->data, signum == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

static void on_stop_timer(uv_timer_t *t) {
    app_stop(t->data, "--seconds elapsed");
}

/* The value of option |k|: the flag's, else the environment's or the config
 * file's.  |*src| names the source for messages. */
static const char *resolve(const char *flagval, const opt_info *o, const cli_conf *conf,
                           const char **src) {
    if (flagval) {
        *src = o->flag;
        return flagval;
    }
    *src = o->key;
    return cli_conf_get(conf, o->key);
}

static int sim_rscp(int argc, char **argv) {
    const char *plant_raw[PK_N] = {0}, *server_raw[SK_N] = {0};
    const char *config = NULL, *key_arg = NULL;
    const char *user_specs[EW_E3DC_SIM_MAX_USERS + 1];
    size_t nspecs = 0;
    unsigned long long seconds = 0;
    int verbose = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sim_usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            verbose = 1;
            continue;
        }
        if (!strcmp(a, "--refuse-login")) {
            server_raw[SK_REFUSE_LOGIN] = "1";
            continue;
        }
        int pk = find_opt(plant_opts, PK_N, a), sk = find_opt(server_opts, SK_N, a);
        int known = pk >= 0 || sk >= 0 || !strcmp(a, "--config") || !strcmp(a, "--user") ||
                    !strcmp(a, "--key") || !strcmp(a, "--seconds");
        if (!known) {
            cli_err("sim rscp: unknown option '%s' (see energywire sim --help)", a);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            cli_err("%s needs a value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (pk >= 0)
            plant_raw[pk] = v;
        else if (sk >= 0)
            server_raw[sk] = v;
        else if (!strcmp(a, "--config"))
            config = v;
        else if (!strcmp(a, "--key"))
            key_arg = v;
        else if (!strcmp(a, "--seconds")) {
            if (parse_ull(v, 100000000, &seconds) < 0 || seconds == 0) {
                cli_err("--seconds: '%s' is not a positive number of seconds", v);
                return EXIT_USAGE;
            }
        } else {
            if (nspecs == EW_E3DC_SIM_MAX_USERS) {
                cli_err("--user: at most %d logins", EW_E3DC_SIM_MAX_USERS);
                return EXIT_USAGE;
            }
            user_specs[nspecs++] = v;
        }
    }

    int rc = EXIT_USAGE;
    cli_conf conf = {0};
    user_list users = {0};
    char *key = NULL, *password = NULL;
    sim_app *app = NULL;
    if (config && cli_conf_load(&conf, config) < 0)
        goto out;
    /* Keys meant for the simulator that it does not know are likely typos;
     * others (E3DC_HOST, ...) may be there for the client verbs. */
    for (size_t k = 0; k < conf.n; k++) {
        if (strncmp(conf.keys[k], "SIM_", 4) != 0)
            continue;
        int found = 0;
        for (int j = 0; j < PK_N; j++)
            found |= !strcmp(plant_opts[j].key, conf.keys[k]);
        for (int j = 0; j < SK_N; j++)
            found |= !strcmp(server_opts[j].key, conf.keys[k]);
        if (!found)
            cli_warn("%s: unknown setting %s (see docs/cli-sim.md)", config, conf.keys[k]);
    }

    /* The plant. */
    sim_plant plant;
    sim_plant_init(&plant);
    for (int k = 0; k < PK_N; k++) {
        const char *src;
        const char *v = resolve(plant_raw[k], &plant_opts[k], &conf, &src);
        if (v && plant_set(&plant, k, v, src) < 0)
            goto out;
    }

    /* The server. */
    sim_server_opts so;
    memset(&so, 0, sizeof so);
    char host[64] = "127.0.0.1";
    long port = EW_RSCP_PORT;
    const char *src, *v;
    if ((v = resolve(server_raw[SK_LISTEN], &server_opts[SK_LISTEN], &conf, &src)) &&
        parse_listen(v, host, sizeof host, &port) < 0) {
        cli_err("%s: '%s' is not HOST:PORT (e.g. 127.0.0.1:5033, 0.0.0.0:5033, [::1]:5033)", src,
                v);
        goto out;
    }
    /* A --listen on the command line beats a port from the environment. */
    v = server_raw[SK_LISTEN] && !server_raw[SK_PORT]
            ? NULL
            : resolve(server_raw[SK_PORT], &server_opts[SK_PORT], &conf, &src);
    if (v) {
        unsigned long long p;
        if (parse_ull(v, 65535, &p) < 0) {
            cli_err("%s: '%s' is not a port (0..65535; 0 picks a free one)", src, v);
            goto out;
        }
        port = (long)p;
    }
    so.host = host;
    so.port = (uint16_t)port;
    unsigned long long n;
    struct {
        int k;
        unsigned long long max;
        const char *want;
    } nums[] = {
        {SK_MAX_CLIENTS, 100000, "a number of connections from 1"},
        {SK_DROP_AFTER, UINT32_MAX, "a frame number (0 = never)"},
        {SK_DELAY, 600000, "a delay in ms (0..600000)"},
        {SK_CORRUPT, UINT32_MAX, "a frame number (0 = never)"},
    };
    for (size_t j = 0; j < sizeof nums / sizeof nums[0]; j++) {
        int k = nums[j].k;
        if (!(v = resolve(server_raw[k], &server_opts[k], &conf, &src)))
            continue;
        if (parse_ull(v, nums[j].max, &n) < 0 || (k == SK_MAX_CLIENTS && n == 0)) {
            cli_err("%s: '%s' is not %s", src, v, nums[j].want);
            goto out;
        }
        if (k == SK_MAX_CLIENTS)
            so.max_clients = (unsigned)n;
        else if (k == SK_DROP_AFTER)
            so.faults.drop_after_frames = (unsigned)n;
        else if (k == SK_DELAY)
            so.faults.delay_ms = (uint32_t)n;
        else
            so.faults.corrupt_frame = (unsigned)n;
    }
    if ((v = resolve(server_raw[SK_SPLIT], &server_opts[SK_SPLIT], &conf, &src))) {
        char bytes[24];
        const char *colon = strchr(v, ':');
        size_t bl = colon ? (size_t)(colon - v) : strlen(v);
        unsigned long long pause = 0;
        if (bl >= sizeof bytes) {
            bl = 0;
        }
        memcpy(bytes, v, bl);
        bytes[bl] = '\0';
        if (parse_ull(bytes, 65536, &n) < 0 || n == 0 ||
            (colon && parse_ull(colon + 1, 600000, &pause) < 0)) {
            cli_err("%s: '%s' is not BYTES[:PAUSE_MS] (e.g. 7:20)", src, v);
            goto out;
        }
        so.faults.split_bytes = (unsigned)n;
        so.faults.split_pause_ms = (uint32_t)pause;
    }
    if ((v = resolve(server_raw[SK_REFUSE_LOGIN], &server_opts[SK_REFUSE_LOGIN], &conf, &src)) &&
        parse_bool(v, &so.faults.refuse_login) < 0) {
        cli_err("%s: '%s' is not 0 or 1", src, v);
        goto out;
    }
    so.plant = &plant;
    so.log_peers = 1;
    so.verbose = verbose;

    /* Logins: E3DC_USER first (the client verbs' variables), then the users
     * file, then --user. */
    const char *user = cli_conf_get(&conf, "E3DC_USER");
    int failed = 0;
    const char *pwfile =
        resolve(server_raw[SK_PASSWORD_FILE], &server_opts[SK_PASSWORD_FILE], &conf, &src);
    if (pwfile)
        password = cli_secret("password", NULL, pwfile, "E3DC_PASSWORD", &failed);
    else if (cli_conf_get(&conf, "E3DC_PASSWORD"))
        password = strdup(cli_conf_get(&conf, "E3DC_PASSWORD"));
    if (failed)
        goto out;
    if (user && !password) {
        cli_err("E3DC_USER is set but no password: set E3DC_PASSWORD or E3DC_PASSWORD_FILE");
        goto out;
    }
    if (!user && password) {
        cli_err("a password is set but no E3DC_USER to go with it");
        goto out;
    }
    if (user) {
        int level = 10;
        const char *lv = cli_conf_get(&conf, "E3DC_USER_LEVEL");
        unsigned long long l;
        if (lv) {
            if (parse_ull(lv, 255, &l) < 0 || l == 0) {
                cli_err("E3DC_USER_LEVEL: '%s' is not a level 1..255 (10 user, 20 installer)", lv);
                goto out;
            }
            level = (int)l;
        }
        if (users_add(&users, user, strlen(user), password, strlen(password), level, "E3DC_USER") <
            0)
            goto out;
    }
    const char *ufile =
        resolve(server_raw[SK_USERS_FILE], &server_opts[SK_USERS_FILE], &conf, &src);
    if (ufile && users_load_file(&users, ufile) < 0)
        goto out;
    if (nspecs)
        cli_warn("passwords given with --user are visible to other users of this machine; "
                 "prefer E3DC_USER/E3DC_PASSWORD or --users-file");
    for (size_t k = 0; k < nspecs; k++)
        if (users_add_spec(&users, user_specs[k], "--user") < 0)
            goto out;

    /* The RSCP key. */
    const char *kfile = resolve(server_raw[SK_KEY_FILE], &server_opts[SK_KEY_FILE], &conf, &src);
    if (key_arg || kfile)
        key = cli_secret("RSCP key", key_arg, kfile, "E3DC_RSCP_KEY", &failed);
    else if (cli_conf_get(&conf, "E3DC_RSCP_KEY"))
        key = strdup(cli_conf_get(&conf, "E3DC_RSCP_KEY"));
    if (failed)
        goto out;
    if (key && !*key) {
        cli_err("the RSCP key is empty");
        goto out;
    }
    if (users.n) {
        plant.cfg.users = users.u;
        plant.cfg.nusers = users.n;
    } else {
        fprintf(stderr, "energywire sim: no logins configured: accepting the built-in demo "
                        "logins user@example.com / secret-portal-password (level 10) and "
                        "installer@example.com / installer-password (level 20)\n");
    }
    if (key)
        plant.cfg.rscp_key = key;
    else
        fprintf(stderr, "energywire sim: no RSCP key configured: using \"my-rscp-key\"\n");

    rc = EXIT_FAIL;
    app = calloc(1, sizeof *app);
    if (!app || uv_loop_init(&app->loop) != 0) {
        cli_err("cannot set up the event loop");
        free(app);
        app = NULL;
        goto out;
    }
    rc = sim_server_start(&app->srv, &app->loop, &so);
    if (rc == EXIT_OK) {
        uint16_t bound = sim_server_port(app->srv);
        printf(strchr(host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n", host,
               (unsigned)bound);
        fflush(stdout);
        char when[32];
        sim_plant_local_time(&plant, sim_server_model_time(app->srv), when, sizeof when);
        const ew_e3dc_sim_config *c = &plant.cfg;
        fprintf(stderr,
                "energywire sim: E3/DC plant: %u battery string%s (%.0f Wh), PV %.0f Wp on %u "
                "tracker%s, %u wallbox%s, root meter %u, seed %llu; model time %s "
                "(UTC+01:00), speed %gx\n",
                c->batteries, c->batteries == 1 ? "" : "s", c->bat_capacity_wh, c->pv_peak_w,
                c->pv_trackers, c->pv_trackers == 1 ? "" : "s", c->wallboxes,
                c->wallboxes == 1 ? "" : "es", c->pm_root_index, (unsigned long long)c->seed, when,
                plant.speed);
        uv_signal_init(&app->loop, &app->sigint);
        uv_signal_init(&app->loop, &app->sigterm);
        app->sigint.data = app->sigterm.data = app;
        uv_signal_start(&app->sigint, on_signal, SIGINT);
        uv_signal_start(&app->sigterm, on_signal, SIGTERM);
        if (seconds) {
            uv_timer_init(&app->loop, &app->stop_timer);
            app->stop_timer.data = app;
            app->have_timer = 1;
            uv_timer_start(&app->stop_timer, on_stop_timer, seconds * 1000, 0);
        }
    }
    /* Runs until stopped; after a failed start it only closes what the
     * server opened. */
    uv_run(&app->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&app->loop) != 0)
        cli_warn("event loop closed with handles still open");
    free(app);
out:
    cli_secret_free(key);
    cli_secret_free(password);
    users_free(&users);
    cli_conf_free(&conf);
    return rc;
}

int cmd_sim(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sim_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "rscp"))
        return sim_rscp(argc - 1, argv + 1);
    if (!strcmp(argv[1], "rct"))
        return cmd_sim_rct(argc - 1, argv + 1);
    if (!strcmp(argv[1], "ep"))
        return cmd_sim_ep(argc - 1, argv + 1);
    cli_err("unknown simulator '%s' (available: rscp, rct, ep)", argv[1]);
    return EXIT_USAGE;
}
