/*
 * energywire demo: a live power-flow view of a simulated E3/DC plant.
 *
 * Everything a real user's setup has, in one process on one libuv loop: the
 * simulator of `energywire sim rscp` (cmd_sim.c) listening on a free loopback
 * port, and an asynchronous ew_rscp_client that logs in with a user name,
 * password and RSCP key generated for this run (kept in memory only) and
 * polls once a second with ew_e3dc_req_poll() and ew_e3dc_req_wallbox().  The
 * bytes go through TCP, the cipher and both sessions exactly as they do with
 * a device.
 *
 * The model clock runs --speed times faster than real time (default 60: a
 * minute per second) from a fixed summer Saturday morning, so that the sun
 * rises, the car charges and the battery fills while one watches; see
 * docs/cli-demo.md.
 */
#include "cli.h"
#include "cmd_sim.h"

#include <energywire/e3dc.h>
#include <energywire/io.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

/* Default start: Saturday 2024-06-15 08:00 plant time (UTC+01:00).  With
 * seed 1 this is a clear day with the car at home: PV rises from about 5 kW,
 * the wallbox charges in sun mode, the battery fills from about 50 % and is
 * full after two and a half model hours, then the surplus is exported. */
#define DEMO_START "2024-06-15T08:00"
#define DEMO_SPEED "60"
/* The demo needs no history database: keep the backfill short. */
#define DEMO_HISTORY_DAYS "2"

typedef enum demo_mode { MODE_VIEW, MODE_LINES, MODE_JSON } demo_mode;

/* Box-drawing glyphs, or their ASCII stand-ins. */
typedef struct glyphs {
    const char *h, *v, *down, *up, *left, *right, *corner, *full, *empty;
} glyphs;

static const glyphs utf8_glyphs = {"─", "│", "▼", "▲", "◀", "▶", "└", "█", "░"};
static const glyphs ascii_glyphs = {"-", "|", "v", "^", "<", ">", "`", "#", "."};

typedef struct demo {
    uv_loop_t loop;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    sim_server *srv;
    ew_rscp_client *cli;
    sim_plant plant;
    demo_mode mode;
    const glyphs *g;
    unsigned long long limit; /* updates to show, 0 = until stopped */
    unsigned long long shown;
    uint16_t port;
    int busy; /* a poll is on its way */
    uint32_t req_id;
    int stopping, rc, drawn, cursor_hidden;
    uint8_t req[1024];
    char user[40], password[40], key[40];
} demo;

static void wipe(void *p, size_t n) {
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

static void handle_closed(uv_handle_t *h) {
    (void)h;
}

static void demo_stop(demo *d, int rc) {
    if (d->stopping)
        return;
    d->stopping = 1;
    d->rc = rc;
    uv_close((uv_handle_t *)&d->tick, handle_closed);
    uv_close((uv_handle_t *)&d->sigint, handle_closed);
    uv_close((uv_handle_t *)&d->sigterm, handle_closed);
    ew_rscp_client_del(d->cli);
    d->cli = NULL;
    sim_server_stop(d->srv);
    d->srv = NULL;
}

/* ---- rendering -------------------------------------------------------------- */

/* One line of the view; |col| counts characters, not bytes. */
typedef struct line {
    char b[512];
    size_t n;
    unsigned col;
} line;

static void ln_put(line *l, const char *s) {
    for (; *s && l->n + 1 < sizeof l->b; s++) {
        l->b[l->n++] = *s;
        if (((unsigned char)*s & 0xC0) != 0x80)
            l->col++;
    }
    l->b[l->n] = '\0';
}

static void ln_printf(line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ln_printf(line *l, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ln_put(l, tmp);
}

static void ln_pad(line *l, unsigned col) {
    while (l->col < col && l->n + 1 < sizeof l->b)
        ln_put(l, " ");
}

static void ln_repeat(line *l, const char *s, unsigned n) {
    while (n--)
        ln_put(l, s);
}

/* A horizontal flow of |len| characters with an arrow head at the end the
 * power flows to (|dir| > 0: right, < 0: left, 0: no flow). */
static void ln_flow(line *l, const glyphs *g, int dir, unsigned len) {
    if (dir < 0)
        ln_put(l, g->left);
    ln_repeat(l, g->h, len - (dir != 0));
    if (dir > 0)
        ln_put(l, g->right);
}

static void emit(line *l, int view) {
    fputs(l->b, stdout);
    fputs(view ? "\033[K\n" : "\n", stdout);
    memset(l, 0, sizeof *l);
}

/* The values of one update. */
typedef struct sample {
    ew_e3dc_poll p;
    ew_e3dc_wallbox w;
    int have_wb;
} sample;

static const char *battery_state(int64_t w) {
    return w > 0 ? "charging" : w < 0 ? "discharging" : "idle";
}

static const char *grid_state(int64_t w) {
    return w > 0 ? "import" : w < 0 ? "export" : "";
}

/* "+898", "-1936", "0" */
static const char *signed_w(int64_t w, char *buf, size_t cap) {
    snprintf(buf, cap, w ? "%+lld" : "%lld", (long long)w);
    return buf;
}

/* "charging, car 45 %, sun mode" */
static void wallbox_state(const sample *s, char *out, size_t cap) {
    const ew_e3dc_wallbox *w = &s->w;
    if (!s->have_wb || !EW_E3DC_HAS(w, EW_E3DC_WB_ALG)) {
        snprintf(out, cap, "%s", s->have_wb ? "no status" : "");
        return;
    }
    if (!w->plugged) {
        snprintf(out, cap, "no car");
        return;
    }
    snprintf(out, cap, "%s, car %lld %%, %s mode",
             w->charging_active     ? "charging"
             : w->charging_canceled ? "charging cancelled"
                                    : "car plugged in",
             (long long)w->soc, w->sun_mode ? "sun" : "mixed");
}

/* "2024-06-15 08:12:00" (plant time) and "2024-06-15T07:12:00Z". */
static void sample_times(const demo *d, const sample *s, char *local, size_t lcap, char *utc,
                         size_t ucap) {
    int64_t sec = s->p.time.seconds;
    sim_plant_local_time(&d->plant, sec * 1000, local, lcap);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(utc, ucap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(utc, ucap, "?");
}

static void render_line(const demo *d, const sample *s) {
    const ew_e3dc_poll *p = &s->p;
    char local[32], utc[32], wb[80];
    sample_times(d, s, local, sizeof local, utc, sizeof utc);
    char bw[24], gw[24];
    printf("%s pv %lld W | battery %s W (%s) %lld %% | house %lld W | grid %s W", local + 11,
           (long long)p->pv_power_w, signed_w(p->battery_power_w, bw, sizeof bw),
           battery_state(p->battery_power_w), (long long)p->soc_pct, (long long)p->house_power_w,
           signed_w(p->grid_power_w, gw, sizeof gw));
    if (p->grid_power_w)
        printf(" (%s)", grid_state(p->grid_power_w));
    if (p->add_power_w)
        printf(" | additional %lld W", (long long)p->add_power_w);
    if (d->plant.cfg.wallboxes) {
        wallbox_state(s, wb, sizeof wb);
        printf(" | wallbox %lld W%s%s%s", (long long)p->wallbox_power_w, *wb ? " (" : "", wb,
               *wb ? ")" : "");
    }
    putchar('\n');
}

static void render_json(const demo *d, const sample *s) {
    const ew_e3dc_poll *p = &s->p;
    char local[32], utc[32];
    sample_times(d, s, local, sizeof local, utc, sizeof utc);
    printf("{\"time\":\"%s\",\"plant_time\":\"%s\",\"pv_power_w\":%lld,\"add_power_w\":%lld,"
           "\"battery_power_w\":%lld,\"soc_pct\":%lld,\"house_power_w\":%lld,"
           "\"grid_power_w\":%lld,\"wallbox_power_w\":%lld,\"autarky_pct\":%.1f,"
           "\"self_consumption_pct\":%.1f,\"wallbox\":",
           utc, local, (long long)p->pv_power_w, (long long)p->add_power_w,
           (long long)p->battery_power_w, (long long)p->soc_pct, (long long)p->house_power_w,
           (long long)p->grid_power_w, (long long)p->wallbox_power_w, p->autarky_pct,
           p->self_consumption_pct);
    const ew_e3dc_wallbox *w = &s->w;
    char car[24];
    snprintf(car, sizeof car, "%lld", (long long)w->soc);
    if (s->have_wb && EW_E3DC_HAS(w, EW_E3DC_WB_ALG))
        printf("{\"plugged\":%s,\"charging\":%s,\"car_soc_pct\":%s,\"sun_mode\":%s,"
               "\"phases\":%lld,\"max_current_a\":%lld}}\n",
               w->plugged ? "true" : "false", w->charging_active ? "true" : "false",
               w->plugged ? car : "null", w->sun_mode ? "true" : "false", (long long)w->phases,
               (long long)w->max_current_a);
    else
        puts("null}");
}

/*
 * The view (UTF-8 glyphs; ASCII ones in other locales):
 *
 *                     PV   5303 W
 *                          │
 *                          ▼
 *  grid      0 W ────── [E3/DC] ────▶ house      725 W
 *                          │   └────▶ wallbox   3680 W  charging, car 29 %, sun mode
 *                          ▼
 *                  battery   +898 W  charging
 *                  49 %  [█████░░░░░]
 */
static void render_view(demo *d, const sample *s) {
    const ew_e3dc_poll *p = &s->p;
    const glyphs *g = d->g;
    char local[32], utc[32], wb[80];
    sample_times(d, s, local, sizeof local, utc, sizeof utc);
    const unsigned mid = 25; /* column of the vertical flows */
    line l;
    memset(&l, 0, sizeof l);

    /* Home and clear on the first frame; later frames overwrite in place
     * (each line clears its rest, the end clears below) to avoid flicker. */
    fputs(d->drawn ? "\033[H" : "\033[H\033[2J", stdout);
    d->drawn = 1;
    ln_printf(&l, " energywire demo: simulated E3/DC on 127.0.0.1:%u, %gx real time",
              (unsigned)d->port, d->plant.speed);
    emit(&l, 1);
    ln_printf(&l, " %s plant time (UTC+01:00)", local);
    emit(&l, 1);
    emit(&l, 1);

    ln_pad(&l, mid - 5);
    ln_printf(&l, "PV %6lld W", (long long)p->pv_power_w);
    emit(&l, 1);
    ln_pad(&l, mid);
    ln_put(&l, g->v);
    emit(&l, 1);
    ln_pad(&l, mid);
    ln_put(&l, p->pv_power_w > 0 ? g->down : g->v);
    emit(&l, 1);

    ln_printf(&l, " grid %6lld W ", (long long)p->grid_power_w);
    ln_flow(&l, g, p->grid_power_w > 0 ? 1 : p->grid_power_w < 0 ? -1 : 0, 6);
    ln_put(&l, " [E3/DC] ");
    ln_flow(&l, g, p->house_power_w > 0, 5);
    ln_printf(&l, " house   %6lld W", (long long)p->house_power_w);
    emit(&l, 1);

    ln_pad(&l, 1);
    ln_put(&l, grid_state(p->grid_power_w));
    ln_pad(&l, mid);
    ln_put(&l, p->battery_power_w < 0 ? g->up : g->v);
    if (d->plant.cfg.wallboxes) {
        ln_put(&l, "   ");
        ln_put(&l, g->corner);
        ln_flow(&l, g, p->wallbox_power_w > 0, 5);
        wallbox_state(s, wb, sizeof wb);
        ln_printf(&l, " wallbox %6lld W  %s", (long long)p->wallbox_power_w, wb);
    }
    emit(&l, 1);
    ln_pad(&l, mid);
    ln_put(&l, p->battery_power_w > 0 ? g->down : g->v);
    emit(&l, 1);

    ln_pad(&l, mid - 8);
    char bw[24];
    ln_printf(&l, "battery %6s W  %s", signed_w(p->battery_power_w, bw, sizeof bw),
              battery_state(p->battery_power_w));
    emit(&l, 1);
    ln_pad(&l, mid - 8);
    ln_printf(&l, "%lld %%  [", (long long)p->soc_pct);
    long long cells = (p->soc_pct + 5) / 10;
    for (long long k = 0; k < 10; k++)
        ln_put(&l, k < cells ? g->full : g->empty);
    ln_put(&l, "]");
    emit(&l, 1);
    emit(&l, 1);

    ln_printf(&l, " autarky %.0f %%   self-consumption %.0f %%", p->autarky_pct,
              p->self_consumption_pct);
    emit(&l, 1);
    emit(&l, 1);
    ln_put(&l, " Ctrl-C to stop");
    emit(&l, 1);
    fputs("\033[J", stdout);
}

/* ---- polling ------------------------------------------------------------------ */

static void submit_poll(demo *d) {
    if (d->busy || d->stopping)
        return;
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, d->req, sizeof d->req);
    ew_e3dc_req_poll(&b);
    if (d->plant.cfg.wallboxes)
        ew_e3dc_req_wallbox(&b, 0);
    size_t n;
    int rc = ew_rscp_builder_finish(&b, &n);
    if (rc == EW_OK)
        rc = ew_rscp_client_submit(d->cli, d->req, n, &d->req_id);
    if (rc != EW_OK) {
        cli_err("cannot send the poll: %s", ew_io_strerror(rc));
        demo_stop(d, EXIT_FAIL);
        return;
    }
    d->busy = 1;
}

static void on_tick(uv_timer_t *t) {
    submit_poll(t->data);
}

static void on_answer(demo *d, const uint8_t *area, size_t len) {
    sample s;
    memset(&s, 0, sizeof s);
    ew_diag diag = {0};
    int rc = ew_e3dc_parse_poll(area, len, &s.p, &diag);
    if (rc < 0) {
        cli_err("the simulator's poll answer makes no sense: %s%s%s", ew_strerror(rc),
                diag.what ? ": " : "", diag.what ? diag.what : "");
        demo_stop(d, EXIT_FAIL);
        return;
    }
    if (d->plant.cfg.wallboxes) {
        ew_diag wd = {0};
        s.have_wb = ew_e3dc_parse_wallbox(area, len, 0, &s.w, &wd) == EW_OK && !s.w.error.whole;
    }
    if (d->mode == MODE_VIEW)
        render_view(d, &s);
    else if (d->mode == MODE_JSON)
        render_json(d, &s);
    else
        render_line(d, &s);
    if (fflush(stdout) == EOF || ferror(stdout)) {
        /* The reader went away (e.g. `| head`): stop quietly. */
        if (errno != EPIPE)
            cli_err("cannot write the output: %s", strerror(errno));
        demo_stop(d, EXIT_FAIL);
        return;
    }
    d->shown++;
    if (d->limit && d->shown >= d->limit)
        demo_stop(d, EXIT_OK);
}

static void on_event(void *user, const ew_rscp_event *ev) {
    demo *d = user;
    if (d->stopping || ev->req_id != d->req_id)
        return;
    if (ev->type == EW_RSCP_EV_RESPONSE) {
        d->busy = 0;
        on_answer(d, ev->data, ev->len);
    } else if (ev->type == EW_RSCP_EV_REQUEST_FAILED) {
        d->busy = 0;
        cli_err("the poll failed: %s (%s)", ew_io_strerror(ev->err),
                ew_rscp_client_error_detail(d->cli));
        demo_stop(d, EXIT_FAIL);
    }
}

static void on_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    demo *d = user;
    if (st == EW_RSCP_CLIENT_STOPPED && err != EW_OK && !d->stopping) {
        cli_err("%s", detail);
        demo_stop(d, EXIT_FAIL);
    }
}

static void client_log(void *user, int level, const char *msg) {
    (void)user;
    if (level <= 1)
        fprintf(stderr, "energywire demo: %s\n", msg);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)signum;
    demo_stop(h->data, EXIT_OK);
}

/* ---- setup --------------------------------------------------------------------- */

/* Fills |out| with |n| random bytes as hex, prefixed by |prefix|. */
static int random_hex(char *out, size_t cap, const char *prefix, size_t n) {
    unsigned char raw[16];
    if (n > sizeof raw || strlen(prefix) + 2 * n + 1 > cap ||
        uv_random(NULL, NULL, raw, n, 0, NULL) != 0)
        return -1;
    size_t k = (size_t)snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(out + k, cap - k, "%02x", raw[i]);
    wipe(raw, sizeof raw);
    return 0;
}

static int utf8_locale(void) {
    const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        char low[64];
        size_t n = 0;
        for (; v[n] && n + 1 < sizeof low; n++)
            low[n] = (char)tolower((unsigned char)v[n]);
        low[n] = '\0';
        return strstr(low, "utf-8") || strstr(low, "utf8");
    }
    return 0;
}

static void demo_usage(FILE *out) {
    fputs("usage: energywire demo [--seconds N] [--json | --lines] [plant options]\n"
          "\n"
          "Starts a simulated E3/DC plant on a free loopback port and a client that polls\n"
          "it once a second over RSCP, and shows the power flows: PV, battery with state\n"
          "of charge, house, grid, wallbox.  On a terminal the view is redrawn in place;\n"
          "otherwise one line per second is printed.  Ctrl-C stops.\n"
          "\n"
          "  --seconds N            stop after N updates (one per second)\n"
          "  --json                 one JSON object per update\n"
          "  --lines                one line per update, also on a terminal\n"
          "plant options, as for energywire sim rscp (the demo's defaults: --speed " DEMO_SPEED
          ",\n--start " DEMO_START " plant time, --history-days " DEMO_HISTORY_DAYS "):\n",
          out);
    sim_plant_usage(out);
    fputs("Signs: battery + charging, grid + import / - export.\n"
          "Documentation: docs/cli-demo.md\n",
          out);
}

int cmd_demo(int argc, char **argv) {
    demo *d = calloc(1, sizeof *d);
    if (!d) {
        cli_err("out of memory");
        return EXIT_FAIL;
    }
    int rc = EXIT_USAGE, json = 0, lines = 0;
    sim_plant_init(&d->plant);
    {
        /* The demo's defaults, set through the same parser as the flags. */
        char *defs[] = {"--speed",  DEMO_SPEED,       "--start",
                        DEMO_START, "--history-days", DEMO_HISTORY_DAYS};
        for (int i = 0; i < 6; i++)
            sim_plant_opt(&d->plant, 6, defs, &i);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = sim_plant_opt(&d->plant, argc, argv, &i);
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            demo_usage(stdout);
            rc = EXIT_OK;
            goto out;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--lines")) {
            lines = 1;
        } else if (!strcmp(a, "--seconds") && i + 1 < argc) {
            char *end;
            const char *v = argv[++i];
            errno = 0;
            d->limit = strtoull(v, &end, 10);
            if (!isdigit((unsigned char)v[0]) || *end || errno || d->limit == 0) {
                cli_err("--seconds: '%s' is not a positive number", v);
                goto out;
            }
        } else {
            cli_err("demo: unknown option '%s' (see energywire demo --help)", a);
            goto out;
        }
    }
    if (json && lines) {
        cli_err("demo: --json and --lines exclude each other");
        goto out;
    }
    d->mode = json ? MODE_JSON : lines || !isatty(STDOUT_FILENO) ? MODE_LINES : MODE_VIEW;
    d->g = utf8_locale() ? &utf8_glyphs : &ascii_glyphs;

    /* A login that exists for this run only. */
    rc = EXIT_FAIL;
    if (random_hex(d->user, sizeof d->user, "demo-", 4) < 0 ||
        random_hex(d->password, sizeof d->password, "", 16) < 0 ||
        random_hex(d->key, sizeof d->key, "", 16) < 0) {
        cli_err("cannot generate the demo login (no randomness)");
        goto out;
    }
    ew_e3dc_sim_user login = {d->user, d->password, 10};
    d->plant.cfg.users = &login;
    d->plant.cfg.nusers = 1;
    d->plant.cfg.rscp_key = d->key;

    if (uv_loop_init(&d->loop) != 0) {
        cli_err("cannot set up the event loop");
        goto out;
    }
    sim_server_opts so;
    memset(&so, 0, sizeof so);
    so.plant = &d->plant;
    so.host = "127.0.0.1";
    so.port = 0;
    rc = sim_server_start(&d->srv, &d->loop, &so);
    if (rc == EXIT_OK) {
        d->port = sim_server_port(d->srv);
        ew_rscp_client_opts co;
        ew_rscp_client_opts_init(&co);
        co.host = "127.0.0.1";
        co.port = d->port;
        co.conn.rscp_key = d->key;
        co.conn.user = d->user;
        co.conn.password = d->password;
        co.on_event = on_event;
        co.on_state = on_state;
        co.log = client_log;
        co.user = d;
        int r = ew_rscp_client_new(&d->cli, &d->loop, &co);
        if (r == EW_OK)
            r = ew_rscp_client_start(d->cli);
        uv_timer_init(&d->loop, &d->tick);
        uv_signal_init(&d->loop, &d->sigint);
        uv_signal_init(&d->loop, &d->sigterm);
        d->tick.data = d->sigint.data = d->sigterm.data = d;
        if (r != EW_OK) {
            cli_err("cannot start the client: %s", ew_io_strerror(r));
            demo_stop(d, EXIT_FAIL);
        } else {
            uv_signal_start(&d->sigint, on_signal, SIGINT);
            uv_signal_start(&d->sigterm, on_signal, SIGTERM);
            uv_timer_start(&d->tick, on_tick, 1000, 1000);
            if (d->mode == MODE_VIEW) {
                fputs("\033[?25l", stdout); /* hide the cursor */
                d->cursor_hidden = 1;
            }
            submit_poll(d); /* waits in the client until logged in */
        }
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->cursor_hidden) {
        fputs("\033[?25h", stdout);
        fflush(stdout);
    }
    if (rc == EXIT_OK)
        rc = d->rc;
    if (uv_loop_close(&d->loop) != 0)
        cli_warn("event loop closed with handles still open");
out:
    wipe(d->password, sizeof d->password);
    wipe(d->key, sizeof d->key);
    free(d);
    return rc;
}
