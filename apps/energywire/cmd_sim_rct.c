/*
 * energywire sim rct: an RCT Power inverter on TCP (default 127.0.0.1:8899)
 * served by ew_rct_server from the ew_rct_sim plant model, with the device
 * faults of rct.md §15 switchable from the command line.
 */
#include "cli.h"

#include <energywire/io_rct.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

/* Called from cmd_sim.c's dispatch (cli.h is shared; the prototype lives
 * with its two users). */
int cmd_sim_rct(int argc, char **argv);

typedef struct rct_app {
    uv_loop_t loop;
    uv_timer_t tick, stop;
    uv_signal_t sigint, sigterm;
    ew_rct_sim *sim;
    ew_rct_server *srv;
    int64_t start;
    uint64_t t0;
    int verbose;
} rct_app;

static void sim_rct_usage(FILE *out) {
    fputs("usage: energywire sim rct [--host ADDR] [--port N] [--seconds N] [--seed N]\n"
          "                          [--truncate] [--bad-crc] [--drop] [--cut]\n"
          "                          [--fault-every N] [--interrupt] [--verbose]\n"
          "\n"
          "Serves a simulated RCT Power inverter (default 127.0.0.1:8899; --port 0 picks\n"
          "a free port).  The first line on standard output is \"listening on HOST:PORT\".\n"
          "Faults, applied to every N-th request of a connection (--fault-every, default\n"
          "2): --truncate (payload cut, CRC valid), --bad-crc (payload intact, CRC\n"
          "wrong), --drop (no answer), --cut (answer cut off mid-frame).  --interrupt: a\n"
          "request from one client cuts another client's unsent answer (rct.md §15).\n"
          "--seconds N stops after N seconds; so do SIGINT and SIGTERM.\n",
          out);
}

static void log_line(void *user, int level, const char *msg) {
    rct_app *a = user;
    if (level <= 1 || a->verbose)
        fprintf(stderr, "energywire sim rct: %s\n", msg);
}

static void on_tick(uv_timer_t *t) {
    rct_app *a = t->data;
    ew_rct_sim_step(a->sim, a->start + (int64_t)((uv_now(&a->loop) - a->t0) / 1000));
}

static void shutdown_app(rct_app *a) {
    ew_rct_server_del(a->srv);
    a->srv = NULL;
    uv_close((uv_handle_t *)&a->tick, NULL);
    uv_close((uv_handle_t *)&a->stop, NULL);
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
}

static void on_stop(uv_timer_t *t) {
    shutdown_app(t->data);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)signum;
    shutdown_app(h->data);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

int cmd_sim_rct(int argc, char **argv) {
    const char *host = "127.0.0.1";
    unsigned long port = EW_RCT_PORT, seconds = 0, seed = 1, every = 2;
    unsigned faults = 0;
    int interrupt = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long *num = NULL, max = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sim_rct_usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--truncate"))
            faults |= EW_RCT_SIM_FAULT_TRUNCATE;
        else if (!strcmp(a, "--bad-crc"))
            faults |= EW_RCT_SIM_FAULT_BAD_CRC;
        else if (!strcmp(a, "--drop"))
            faults |= EW_RCT_SIM_FAULT_DROP;
        else if (!strcmp(a, "--cut"))
            faults |= EW_RCT_SIM_FAULT_INTERRUPT;
        else if (!strcmp(a, "--interrupt"))
            interrupt = 1;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
            verbose = 1;
        else if (!strcmp(a, "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(a, "--port"))
            num = &port, max = 65535;
        else if (!strcmp(a, "--seconds"))
            num = &seconds, max = 86400UL * 365;
        else if (!strcmp(a, "--seed"))
            num = &seed, max = ~0UL;
        else if (!strcmp(a, "--fault-every"))
            num = &every, max = 1000000;
        else {
            cli_err("sim rct: unknown option '%s'", a);
            sim_rct_usage(stderr);
            return EXIT_USAGE;
        }
        if (num) {
            if (i + 1 >= argc || parse_uint(argv[i + 1], max, num) < 0) {
                cli_err("sim rct: %s needs a number up to %lu", a, max);
                return EXIT_USAGE;
            }
            i++;
        }
    }
    if (!every) {
        cli_err("sim rct: --fault-every must be at least 1");
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    rct_app app;
    memset(&app, 0, sizeof app);
    app.verbose = verbose;
    ew_rct_sim_opts so;
    ew_rct_sim_opts_init(&so);
    so.seed = seed;
    so.interrupt_on_second_client = interrupt;
    app.start = so.start_time;
    if (ew_rct_sim_new(&app.sim, &so, NULL) != EW_OK) {
        cli_err("sim rct: out of memory");
        return EXIT_FAIL;
    }
    if (uv_loop_init(&app.loop) < 0) {
        ew_rct_sim_del(app.sim);
        return EXIT_FAIL;
    }
    ew_rct_server_opts o;
    ew_rct_server_opts_init(&o);
    o.host = host;
    o.port = (uint16_t)port;
    o.sim = app.sim;
    o.faults = faults;
    o.fault_every = (unsigned)every;
    o.log = log_line;
    o.user = &app;
    int rc = ew_rct_server_new(&app.srv, &app.loop, &o);
    if (rc != EW_OK) {
        cli_err("sim rct: '%s' is not a numeric address", host);
        uv_loop_close(&app.loop);
        ew_rct_sim_del(app.sim);
        return rc == EW_ERR_INVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    int ret = EXIT_OK;
    if (ew_rct_server_listen(app.srv) != EW_OK) {
        cli_err("sim rct: %s", ew_rct_server_error_detail(app.srv));
        ew_rct_server_del(app.srv);
        ret = EXIT_FAIL;
    } else {
        printf(strchr(host, ':') ? "listening on [%s]:%u\n" : "listening on %s:%u\n", host,
               (unsigned)ew_rct_server_port(app.srv));
        fflush(stdout);
        app.t0 = uv_now(&app.loop);
        uv_timer_init(&app.loop, &app.tick);
        uv_timer_init(&app.loop, &app.stop);
        uv_signal_init(&app.loop, &app.sigint);
        uv_signal_init(&app.loop, &app.sigterm);
        app.tick.data = app.stop.data = app.sigint.data = app.sigterm.data = &app;
        uv_timer_start(&app.tick, on_tick, 1000, 1000);
        if (seconds)
            uv_timer_start(&app.stop, on_stop, seconds * 1000, 0);
        uv_signal_start(&app.sigint, on_signal, SIGINT);
        uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    }
    uv_run(&app.loop, UV_RUN_DEFAULT);
    uv_loop_close(&app.loop);
    ew_rct_sim_del(app.sim);
    return ret;
}
