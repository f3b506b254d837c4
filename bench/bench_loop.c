/*
 * Loop workloads of energywire-bench: the I/O layer end to end.  A simulated
 * E3/DC plant (energywire_sim) is served by ew_rscp_server on 127.0.0.1 with
 * a port the system picks; clients are ew_rscp_client, the path an
 * application takes.  The glue between simulator and server is the same as
 * `energywire sim rscp` (apps/energywire/cmd_sim.c), rewritten here: model
 * time = start + elapsed monotonic time, the model stepped before each
 * request and once a second.
 *
 *   W9   One client, poll round trips strictly one at a time: build
 *        ew_e3dc_req_poll, submit, answer, ew_e3dc_parse_poll (every one of
 *        the ten fields present, no device error, SOC 0..100).  Latency is
 *        taken per request with CLOCK_MONOTONIC, from before building the
 *        request to after parsing its answer.  Each repeat lasts at least
 *        min_time (>= 0.5 s in a full run); the best repeat by round trips/s
 *        is reported with its p50/p99.  Measured two ways:
 *          W9           client and server share one libuv loop in one thread
 *                       (the "in-process simulator");
 *          W9_2threads  the server runs its own loop in a second thread, so
 *                       both cores work, at the price of a cross-thread
 *                       wake-up on every request and every answer.  On a
 *                       shared-core VM that wake-up alone costs 20..110 us
 *                       depending on the host's mood (a bare two-thread TCP
 *                       ping-pong without energywire or libuv swings from
 *                       ~48k to ~9k round trips/s the same way), so this
 *                       row measures the machine as much as the library;
 *                       W9 is the stable figure.
 *   W10  200 clients, each polling at 5 Hz (1,000 polls/s), phases spread
 *        evenly over the 200 ms period, on a non-drifting schedule.  The
 *        server has its own thread and loop, the clients another.  The
 *        server thread's CPU time (its POSIX thread CPU clock, read with
 *        pthread_getcpuclockid) over the wall time of the repeat is the CPU
 *        share of one core.  Every tick must produce a poll with a valid
 *        answer: polls sent == 200 x ticks, answers == polls, no failures,
 *        and the server counted exactly as many requests.  Best (lowest CPU)
 *        of the repeats.
 *
 * Everything is torn down in order (clients, then the server, then the
 * loops, which must close with no handle left), so an ASan build reports no
 * leak.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "bench_loop.h"

#ifdef EW_BENCH_LOOP /* built with energywire_io and energywire_sim */

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include <uv.h>

#include <energywire/e3dc.h>
#include <energywire/io.h>
#include <energywire/sim.h>

#define LOOP_KEY "bench-rscp-key"
#define LOOP_USER "bench@example.com"
#define LOOP_PASSWORD "bench-password"

#define W9_TARGET 20000.0 /* round trips/s */
#define W10_TARGET 10.0   /* % of one core */
#define W10_CLIENTS 200u
#define W10_PERIOD_MS 200u /* 5 Hz */
#define W10_CONNECTING 32u /* clients connecting at once */
#define W10_RING 16u       /* polls a client may have outstanding */
#define GUARD_MS 15000u    /* a phase that makes no progress fails */

/* ---- clocks and small helpers ---------------------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(clockid_t id) {
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Ciphertext bytes of a frame carrying |len| value bytes (header, CRC,
 * zero padding to whole 32-byte blocks; the session always sends a CRC). */
static size_t ct_len(size_t len) {
    size_t f = EW_RSCP_HEADER_LEN + len + EW_RSCP_CRC_LEN;
    return (f + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
}

/* Builds one poll request (the value area) into |buf|. */
static int build_poll(uint8_t *buf, size_t cap, size_t *len) {
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, buf, cap);
    int rc = ew_e3dc_req_poll(&b);
    if (rc == EW_OK)
        rc = ew_rscp_builder_finish(&b, len);
    return rc;
}

/* Checks one poll answer; on failure writes the reason into |why|. */
static int check_poll(const ew_rscp_event *ev, char *why, size_t cap) {
    ew_e3dc_poll p;
    ew_diag d = {0, 0, NULL};
    if (ev->device_error) {
        snprintf(why, cap, "the simulator refused the poll: error %u on tag 0x%08x",
                 (unsigned)ev->device_error, (unsigned)ev->error_tag);
        return -1;
    }
    int rc = ew_e3dc_parse_poll(ev->data, ev->len, &p, &d);
    if (rc != EW_OK) {
        snprintf(why, cap, "ew_e3dc_parse_poll: %s (%s)", ew_errname(rc), d.what ? d.what : "-");
        return -1;
    }
    uint64_t all = (UINT64_C(1) << EW_E3DC_POLL_NFIELDS) - 1;
    if ((p.present & all) != all || p.error.code != 0) {
        snprintf(why, cap, "poll answer incomplete: present 0x%llx, device error %u",
                 (unsigned long long)p.present, (unsigned)p.error.code);
        return -1;
    }
    if (p.soc_pct < 0 || p.soc_pct > 100) {
        snprintf(why, cap, "poll answer has SOC %lld %%", (long long)p.soc_pct);
        return -1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile |q| (0..1) of the sorted |v|, in ms. */
static double pct_ms(const uint64_t *v, size_t n, double q) {
    if (n == 0)
        return 0;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e6;
}

static void client_log(void *user, int level, const char *msg) {
    (void)user;
    if (level <= 1)
        fprintf(stderr, "energywire-bench: client: %s\n", msg);
}

static void client_opts(ew_rscp_client_opts *o, uint16_t port) {
    ew_rscp_client_opts_init(o);
    o->host = "127.0.0.1";
    o->port = port;
    o->conn.rscp_key = LOOP_KEY;
    o->conn.user = LOOP_USER;
    o->conn.password = LOOP_PASSWORD;
    o->reconnect = 0; /* a lost connection must fail the run, not heal */
    o->seed = 1;
    o->log = client_log;
}

/* ---- the simulator behind ew_rscp_server (cmd_sim.c's glue) ------------------ */

typedef struct lsim {
    ew_e3dc_sim *sim;
    ew_rscp_server *srv;
    uv_timer_t tick;
    int tick_open;
    uint64_t hr0;     /* uv_hrtime() at the start, ns */
    int64_t start_ms; /* model time at hr0 */
    uint64_t requests;
    uint64_t bad;
    /* Answers are built here (EW_E3DC_SIM_ANSWER_MAX, as the app does). */
    uint8_t ans[EW_E3DC_SIM_ANSWER_MAX + 256];
} lsim;

static int64_t lsim_model_time(const lsim *s) {
    return s->start_ms + (int64_t)((uv_hrtime() - s->hr0) / 1000000u);
}

static void lsim_on_tick(uv_timer_t *t) {
    lsim *s = t->data;
    ew_e3dc_sim_step(s->sim, lsim_model_time(s));
}

static void lsim_tick_closed(uv_handle_t *h) {
    lsim *s = h->data;
    s->tick_open = 0;
}

static void lsim_log(void *user, int level, const char *msg) {
    (void)user;
    if (level <= 1)
        fprintf(stderr, "energywire-bench: server: %s\n", msg);
}

static int lsim_on_login(void *user, ew_rscp_peer *p, ew_bytes name, ew_bytes password) {
    lsim *s = user;
    (void)p;
    return ew_e3dc_sim_check_login(s->sim, (const char *)name.ptr, name.len,
                                   (const char *)password.ptr, password.len);
}

static void lsim_on_request(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                            size_t len, int level) {
    lsim *s = user;
    ew_e3dc_sim_step(s->sim, lsim_model_time(s));
    ew_rscp_builder b;
    size_t out = 0;
    ew_rscp_builder_init(&b, s->ans, sizeof s->ans);
    int n = ew_e3dc_sim_handle(s->sim, data, len, level, &b);
    int rc = n < 0 && n != EW_ERR_TOO_BIG ? n : ew_rscp_builder_finish(&b, &out);
    if (rc == EW_OK)
        rc = ew_rscp_peer_respond(p, req_id, s->ans, out);
    if (rc != EW_OK) {
        s->bad++;
        fprintf(stderr, "energywire-bench: server: %s: cannot answer: %s\n", ew_rscp_peer_name(p),
                ew_strerror(rc));
        ew_rscp_peer_close(p);
        return;
    }
    s->requests++;
}

/* Starts the simulator and its server on |loop| (from that loop's thread).
 * On failure it has reported why; lsim_stop() must still be called. */
static int lsim_start(lsim *s, uv_loop_t *loop, unsigned max_clients) {
    ew_e3dc_sim_config cfg;
    ew_e3dc_sim_user u = {LOOP_USER, LOOP_PASSWORD, 10};
    ew_e3dc_sim_config_init(&cfg);
    cfg.users = &u;
    cfg.nusers = 1;
    cfg.rscp_key = LOOP_KEY;
    cfg.history_days = 2; /* the poll does not read history: start fast */
    int rc = ew_e3dc_sim_new(&s->sim, &cfg, NULL);
    if (rc != EW_OK) {
        bench_fail("ew_e3dc_sim_new: %s", ew_errname(rc));
        return -1;
    }
    s->start_ms = cfg.start_time_ms;
    s->hr0 = uv_hrtime();
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    s->tick_open = 1;
    uv_timer_start(&s->tick, lsim_on_tick, 1000, 1000);

    ew_rscp_server_opts so;
    ew_rscp_server_opts_init(&so);
    so.host = "127.0.0.1";
    so.port = 0;
    so.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
    so.max_clients = max_clients;
    so.on_login = lsim_on_login;
    so.on_request = lsim_on_request;
    so.log = lsim_log;
    so.user = s;
    rc = ew_rscp_server_new(&s->srv, loop, &so);
    if (rc != EW_OK) {
        bench_fail("ew_rscp_server_new: %s", ew_io_errname(rc));
        return -1;
    }
    if (ew_rscp_server_listen(s->srv) != EW_OK) {
        bench_fail("%s", ew_rscp_server_error_detail(s->srv));
        return -1;
    }
    return 0;
}

/* Stops the server and the tick; the loop must then run until they closed. */
static void lsim_stop(lsim *s) {
    if (s->tick_open)
        uv_close((uv_handle_t *)&s->tick, lsim_tick_closed);
    ew_rscp_server_del(s->srv); /* no callbacks after this */
    s->srv = NULL;
    ew_e3dc_sim_del(s->sim);
    s->sim = NULL;
}

/* ---- the server in a thread of its own ------------------------------------------ */

typedef struct srv_thread {
    pthread_t tid;
    int started;
    uv_loop_t loop;
    uv_async_t stop;
    uv_sem_t ready;
    lsim *sim;
    unsigned max_clients;
    int rc;        /* 0 when the server listens */
    uint16_t port; /* valid when rc == 0 */
    int loop_left; /* handles left when the loop was closed */
} srv_thread;

static void srv_on_stop(uv_async_t *a) {
    srv_thread *t = a->data;
    lsim_stop(t->sim);
    uv_close((uv_handle_t *)a, NULL);
}

static void *srv_main(void *arg) {
    srv_thread *t = arg;
    if (uv_loop_init(&t->loop) != 0) {
        bench_fail("server thread: uv_loop_init failed");
        t->rc = -1;
        uv_sem_post(&t->ready);
        return NULL;
    }
    uv_async_init(&t->loop, &t->stop, srv_on_stop);
    t->stop.data = t;
    t->rc = lsim_start(t->sim, &t->loop, t->max_clients);
    if (t->rc == 0)
        t->port = ew_rscp_server_port(t->sim->srv);
    uv_sem_post(&t->ready);
    uv_run(&t->loop, UV_RUN_DEFAULT); /* until srv_on_stop closed everything */
    t->loop_left = uv_loop_close(&t->loop) != 0;
    return NULL;
}

static int srv_thread_start(srv_thread *t, unsigned max_clients) {
    memset(t, 0, sizeof *t);
    t->max_clients = max_clients;
    t->sim = calloc(1, sizeof *t->sim);
    if (!t->sim || uv_sem_init(&t->ready, 0) != 0) {
        free(t->sim);
        t->sim = NULL;
        bench_fail("out of memory");
        return -1;
    }
    if (pthread_create(&t->tid, NULL, srv_main, t) != 0) {
        uv_sem_destroy(&t->ready);
        free(t->sim);
        t->sim = NULL;
        bench_fail("cannot start the server thread");
        return -1;
    }
    t->started = 1;
    uv_sem_wait(&t->ready);
    return t->rc;
}

/* Stops the server thread and joins it; returns -1 when its loop did not
 * close cleanly.  The counters of t->sim may be read afterwards. */
static int srv_thread_stop(srv_thread *t) {
    if (!t->started)
        return 0;
    uv_async_send(&t->stop);
    pthread_join(t->tid, NULL);
    uv_sem_destroy(&t->ready);
    t->started = 0;
    if (t->loop_left) {
        bench_fail("server thread: the loop closed with handles still open");
        return -1;
    }
    return 0;
}

static void srv_thread_free(srv_thread *t) {
    free(t->sim);
    t->sim = NULL;
}

/* The server thread's CPU clock (valid while the thread runs). */
static int srv_thread_clock(const srv_thread *t, clockid_t *id) {
    if (pthread_getcpuclockid(t->tid, id) != 0) {
        bench_fail("pthread_getcpuclockid failed: no CPU clock for the server thread");
        return -1;
    }
    return 0;
}

/* ---- report rows ---------------------------------------------------------------------- */

static bench_loop_row *add_row(bench_loop_report *rep, const char *key, const char *what,
                               const char *threads, bench_loop_kind kind, double target) {
    if (rep->nrows >= BENCH_LOOP_MAX_ROWS) {
        bench_fail("too many loop rows");
        return NULL;
    }
    bench_loop_row *r = &rep->rows[rep->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->what = what;
    r->threads = threads;
    r->kind = kind;
    r->target = target;
    return r;
}

/* ---- W9: poll round trips of one client ------------------------------------------------ */

enum { W9_CONNECTING, W9_IDLE, W9_RUNNING };

typedef struct w9 {
    const char *name; /* row key, for messages */
    uv_loop_t *loop;  /* the client's loop */
    ew_rscp_client *cl;
    uv_timer_t guard;
    int state;
    int failed;
    char why[400];
    /* the request in flight */
    uint32_t req_id;
    uint64_t t_sent;
    size_t req_ct; /* its ciphertext bytes */
    /* the current phase */
    int record;
    uint64_t deadline, min_ops;
    uint64_t t_start, t_end;
    uint64_t ops, bytes;
    uint64_t *lat;
    size_t nlat, lat_cap;
    uint64_t answers; /* every verified answer, warm-up included */
} w9;

static void w9_fail(w9 *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w9_fail(w9 *w, const char *fmt, ...) {
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why, sizeof w->why, fmt, ap);
        va_end(ap);
        w->failed = 1;
    }
    uv_stop(w->loop);
}

static void w9_submit(w9 *w) {
    uint8_t buf[128];
    size_t n = 0;
    w->t_sent = now_ns();
    int rc = build_poll(buf, sizeof buf, &n);
    if (rc == EW_OK)
        rc = ew_rscp_client_submit(w->cl, buf, n, &w->req_id);
    if (rc != EW_OK)
        w9_fail(w, "building or submitting the poll: %s", ew_io_errname(rc));
}

static void w9_on_event(void *user, const ew_rscp_event *ev) {
    w9 *w = user;
    if (ev->type == EW_RSCP_EV_REQUEST_FAILED) {
        w9_fail(w, "request %u failed: %s (%s)", (unsigned)ev->req_id, ew_io_errname(ev->err),
                ew_rscp_client_error_detail(w->cl));
        return;
    }
    if (ev->type != EW_RSCP_EV_RESPONSE)
        return;
    if (w->state != W9_RUNNING || ev->req_id != w->req_id) {
        w9_fail(w, "answer to request %u, expected %u", (unsigned)ev->req_id, (unsigned)w->req_id);
        return;
    }
    char why[300];
    if (check_poll(ev, why, sizeof why) != 0) {
        w9_fail(w, "answer %llu: %s", (unsigned long long)w->answers + 1, why);
        return;
    }
    uint64_t t = now_ns();
    w->req_id = 0;
    w->answers++;
    if (w->record) {
        if (w->nlat == w->lat_cap) {
            size_t cap = w->lat_cap ? w->lat_cap * 2 : 65536;
            uint64_t *p = realloc(w->lat, cap * sizeof *p);
            if (!p) {
                w9_fail(w, "out of memory");
                return;
            }
            w->lat = p;
            w->lat_cap = cap;
        }
        w->lat[w->nlat++] = t - w->t_sent;
        w->bytes += w->req_ct + ct_len(ev->len);
    }
    w->ops++;
    if (t >= w->deadline && w->ops >= w->min_ops) {
        w->t_end = t;
        w->state = W9_IDLE;
        uv_stop(w->loop);
        return;
    }
    w9_submit(w);
}

static void w9_on_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    w9 *w = user;
    if (st == EW_RSCP_CLIENT_READY && w->state == W9_CONNECTING) {
        w->state = W9_IDLE;
        uv_stop(w->loop);
    } else if (st == EW_RSCP_CLIENT_BACKOFF || st == EW_RSCP_CLIENT_STOPPED) {
        w9_fail(w, "client %s: %s (%s)", ew_rscp_client_state_name(st), ew_io_errname(err),
                detail ? detail : "-");
    }
}

static void w9_on_guard(uv_timer_t *t) {
    w9 *w = t->data;
    w9_fail(w, "no progress for %u s (state %s)", GUARD_MS / 1000,
            ew_rscp_client_state_name(ew_rscp_client_get_state(w->cl)));
}

/* Runs the loop until the phase ends (or fails). */
static int w9_wait(w9 *w, uint64_t guard_ms) {
    uv_timer_start(&w->guard, w9_on_guard, guard_ms, 0);
    uv_run(w->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&w->guard);
    if (!w->failed && w->state != W9_IDLE)
        w9_fail(w, "the loop ended early");
    if (w->failed) {
        bench_fail("%s: %s", w->name, w->why);
        return -1;
    }
    return 0;
}

/* One phase of round trips: at least |secs| and |min_ops|. */
static int w9_phase(w9 *w, double secs, uint64_t min_ops, int record) {
    w->record = record;
    w->ops = w->bytes = 0;
    w->nlat = 0;
    w->min_ops = min_ops;
    w->state = W9_RUNNING;
    w->t_start = now_ns();
    w->deadline = w->t_start + (uint64_t)(secs * 1e9);
    w9_submit(w);
    return w9_wait(w, (uint64_t)(secs * 1000) + GUARD_MS);
}

/*
 * W9 on one client loop |loop| against a server on |port|.  |srv| is the
 * in-loop simulator for the shared-loop variant (NULL when the server has a
 * thread of its own).  Fills |r|.
 */
static int w9_measure(w9 *w, uv_loop_t *loop, uint16_t port, const bench_opts *o,
                      bench_loop_row *r) {
    uint8_t buf[128];
    size_t n = 0;
    if (build_poll(buf, sizeof buf, &n) != EW_OK) {
        bench_fail("%s: cannot build the poll request", w->name);
        return -1;
    }
    w->loop = loop;
    w->req_ct = ct_len(n);
    uv_timer_init(loop, &w->guard);
    w->guard.data = w;

    ew_rscp_client_opts co;
    client_opts(&co, port);
    co.on_event = w9_on_event;
    co.on_state = w9_on_state;
    co.user = w;
    int rc = ew_rscp_client_new(&w->cl, loop, &co);
    if (rc != EW_OK) {
        bench_fail("%s: ew_rscp_client_new: %s", w->name, ew_io_errname(rc));
        return -1;
    }
    w->state = W9_CONNECTING;
    rc = ew_rscp_client_start(w->cl);
    if (rc != EW_OK) {
        bench_fail("%s: ew_rscp_client_start: %s", w->name, ew_io_errname(rc));
        return -1;
    }
    if (w9_wait(w, GUARD_MS) != 0)
        return -1;

    /* Warm-up (caches, allocator, TCP windows), then the repeats. */
    int quick = o->min_time < 0.1;
    if (w9_phase(w, quick ? 0.01 : 0.2, 100, 0) != 0)
        return -1;
    double secs = o->min_time < 0.5 && !quick ? 0.5 : o->min_time;
    double best = -1;
    for (int i = 0; i < o->repeats; i++) {
        if (w9_phase(w, secs, 200, 1) != 0)
            return -1;
        double s = (double)(w->t_end - w->t_start) / 1e9;
        double ops = (double)w->ops / s;
        if (ops > best) {
            best = ops;
            qsort(w->lat, w->nlat, sizeof *w->lat, cmp_u64);
            r->ops_per_s = ops;
            r->mb_per_s = (double)w->bytes / s / 1e6;
            r->p50_ms = pct_ms(w->lat, w->nlat, 0.50);
            r->p99_ms = pct_ms(w->lat, w->nlat, 0.99);
            r->ops = w->ops;
            r->seconds = s;
        }
    }
    return 0;
}

/* Deletes the client and the guard; the loop must run afterwards. */
static void w9_close(w9 *w) {
    if (w->cl)
        ew_rscp_client_del(w->cl);
    w->cl = NULL;
    if (w->loop)
        uv_close((uv_handle_t *)&w->guard, NULL);
}

/* Runs |loop| until every handle closed, then closes it. */
static int loop_finish(uv_loop_t *loop, const char *name) {
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0) {
        bench_fail("%s: the loop closed with handles still open", name);
        return -1;
    }
    return 0;
}

static int served_check(const char *name, const lsim *s, uint64_t answers) {
    if (s->bad || s->requests != answers) {
        bench_fail("%s: the server answered %llu requests (%llu failed), the client verified %llu",
                   name, (unsigned long long)s->requests, (unsigned long long)s->bad,
                   (unsigned long long)answers);
        return -1;
    }
    return 0;
}

/* W9: client and server on one loop in this thread. */
static int run_w9_shared(const bench_opts *o, bench_loop_report *rep) {
    bench_loop_row *r =
        add_row(rep, "W9", "poll round trips, 1 client, simulator on the same loop (1 thread)",
                "1 shared", BENCH_LOOP_LATENCY, W9_TARGET);
    if (!r)
        return -1;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        bench_fail("W9: uv_loop_init failed");
        return -1;
    }
    lsim *s = calloc(1, sizeof *s);
    w9 w;
    memset(&w, 0, sizeof w);
    w.name = "W9";
    int rc = -1;
    if (!s)
        bench_fail("out of memory");
    else if (lsim_start(s, &loop, 16) == 0)
        rc = w9_measure(&w, &loop, ew_rscp_server_port(s->srv), o, r);
    w9_close(&w);
    if (s)
        lsim_stop(s);
    if (loop_finish(&loop, "W9") != 0)
        rc = -1;
    if (rc == 0 && served_check("W9", s, w.answers) != 0)
        rc = -1;
    free(w.lat);
    free(s);
    return rc;
}

/* W9: the server loop in a second thread, the client loop in this one. */
static int run_w9_threads(const bench_opts *o, bench_loop_report *rep) {
    bench_loop_row *r =
        add_row(rep, "W9_2threads", "poll round trips, 1 client, simulator in a second thread", "2",
                BENCH_LOOP_LATENCY, W9_TARGET);
    if (!r)
        return -1;
    srv_thread t;
    if (srv_thread_start(&t, 16) != 0) {
        srv_thread_stop(&t);
        srv_thread_free(&t);
        return -1;
    }
    uv_loop_t loop;
    w9 w;
    memset(&w, 0, sizeof w);
    w.name = "W9_2threads";
    int rc = -1;
    if (uv_loop_init(&loop) != 0) {
        bench_fail("W9_2threads: uv_loop_init failed");
    } else {
        rc = w9_measure(&w, &loop, t.port, o, r);
        w9_close(&w);
        if (loop_finish(&loop, "W9_2threads") != 0)
            rc = -1;
    }
    if (srv_thread_stop(&t) != 0)
        rc = -1;
    if (rc == 0 && served_check("W9_2threads", t.sim, w.answers) != 0)
        rc = -1;
    srv_thread_free(&t);
    free(w.lat);
    return rc;
}

/* ---- W10: 200 clients at 5 Hz --------------------------------------------------------- */

enum { W10_CONNECT, W10_RUN, W10_DONE };

struct w10;

typedef struct w10_cl {
    struct w10 *w;
    unsigned idx;
    ew_rscp_client *cl;
    uv_timer_t timer;
    uint64_t due;        /* loop time (ms) of the next tick */
    unsigned ticks_left; /* in this repeat */
    uint32_t ids[W10_RING];
    unsigned head, count; /* polls outstanding, oldest at ids[head] */
    int ready;
} w10_cl;

typedef struct w10 {
    uv_loop_t loop;
    uv_timer_t guard;
    w10_cl *cl;
    unsigned n;
    unsigned started, ready;
    int phase;
    int failed;
    char why[400];
    unsigned active; /* clients with ticks left */
    uint64_t outstanding;
    uint64_t sent, ok, late; /* this repeat */
    uint64_t answers;        /* all repeats */
    uint64_t t_end;
} w10;

static void w10_fail(w10 *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w10_fail(w10 *w, const char *fmt, ...) {
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why, sizeof w->why, fmt, ap);
        va_end(ap);
        w->failed = 1;
    }
    uv_stop(&w->loop);
}

static void w10_maybe_done(w10 *w) {
    if (w->phase == W10_RUN && w->active == 0 && w->outstanding == 0) {
        w->t_end = now_ns();
        w->phase = W10_DONE;
        uv_stop(&w->loop);
    }
}

static void w10_on_tick(uv_timer_t *t) {
    w10_cl *c = t->data;
    w10 *w = c->w;
    uint8_t buf[128];
    size_t n = 0;
    uint32_t id = 0;
    if (c->count == W10_RING) {
        w10_fail(w, "client %u: %u polls outstanding", c->idx, c->count);
        return;
    }
    w->late += c->count > 0; /* the previous poll was not answered within a period */
    int rc = build_poll(buf, sizeof buf, &n);
    if (rc == EW_OK)
        rc = ew_rscp_client_submit(c->cl, buf, n, &id);
    if (rc != EW_OK) {
        w10_fail(w, "client %u: submitting the poll: %s", c->idx, ew_io_errname(rc));
        return;
    }
    c->ids[(c->head + c->count) % W10_RING] = id;
    c->count++;
    w->outstanding++;
    w->sent++;
    if (--c->ticks_left > 0) {
        /* Due times advance by exactly one period: no drift. */
        c->due += W10_PERIOD_MS;
        uint64_t now = uv_now(&w->loop);
        uv_timer_start(&c->timer, w10_on_tick, c->due > now ? c->due - now : 0, 0);
    } else {
        w->active--;
    }
}

static void w10_on_event(void *user, const ew_rscp_event *ev) {
    w10_cl *c = user;
    w10 *w = c->w;
    if (ev->type == EW_RSCP_EV_REQUEST_FAILED) {
        w10_fail(w, "client %u: request %u failed: %s (%s)", c->idx, (unsigned)ev->req_id,
                 ew_io_errname(ev->err), ew_rscp_client_error_detail(c->cl));
        return;
    }
    if (ev->type != EW_RSCP_EV_RESPONSE)
        return;
    if (c->count == 0 || ev->req_id != c->ids[c->head]) {
        w10_fail(w, "client %u: unexpected answer to request %u", c->idx, (unsigned)ev->req_id);
        return;
    }
    char why[300];
    if (check_poll(ev, why, sizeof why) != 0) {
        w10_fail(w, "client %u: %s", c->idx, why);
        return;
    }
    c->head = (c->head + 1) % W10_RING;
    c->count--;
    w->outstanding--;
    w->ok++;
    w->answers++;
    w10_maybe_done(w);
}

static void w10_start_next(w10 *w) {
    while (w->started < w->n && w->started - w->ready < W10_CONNECTING && !w->failed) {
        w10_cl *c = &w->cl[w->started++];
        int rc = ew_rscp_client_start(c->cl);
        if (rc != EW_OK)
            w10_fail(w, "client %u: ew_rscp_client_start: %s", c->idx, ew_io_errname(rc));
    }
}

static void w10_on_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    w10_cl *c = user;
    w10 *w = c->w;
    if (st == EW_RSCP_CLIENT_READY && !c->ready) {
        c->ready = 1;
        w->ready++;
        if (w->ready == w->n)
            uv_stop(&w->loop);
        else
            w10_start_next(w);
    } else if (st == EW_RSCP_CLIENT_BACKOFF || st == EW_RSCP_CLIENT_STOPPED) {
        w10_fail(w, "client %u: %s: %s (%s)", c->idx, ew_rscp_client_state_name(st),
                 ew_io_errname(err), detail ? detail : "-");
    }
}

static void w10_on_guard(uv_timer_t *t) {
    w10 *w = t->data;
    w10_fail(w, "no progress: %u of %u clients logged in, %llu polls outstanding", w->ready, w->n,
             (unsigned long long)w->outstanding);
}

static int w10_wait(w10 *w, uint64_t guard_ms) {
    uv_timer_start(&w->guard, w10_on_guard, guard_ms, 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&w->guard);
    if (w->failed) {
        bench_fail("W10: %s", w->why);
        return -1;
    }
    return 0;
}

/* One repeat of |ticks| periods; fills |cpu_pct| etc. */
static int w10_repeat(w10 *w, const srv_thread *t, unsigned ticks, bench_loop_row *out) {
    clockid_t srv_clock;
    if (srv_thread_clock(t, &srv_clock) != 0)
        return -1;
    w->sent = w->ok = w->late = 0;
    w->active = w->n;
    w->phase = W10_RUN;
    uv_update_time(&w->loop);
    uint64_t base = uv_now(&w->loop);
    for (unsigned i = 0; i < w->n; i++) {
        w10_cl *c = &w->cl[i];
        c->ticks_left = ticks;
        c->due = base + (uint64_t)i * W10_PERIOD_MS / w->n;
        uv_timer_start(&c->timer, w10_on_tick, c->due - base, 0);
    }
    uint64_t t0 = now_ns();
    uint64_t s0 = cpu_ns(srv_clock), c0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    if (w10_wait(w, (uint64_t)ticks * W10_PERIOD_MS + GUARD_MS) != 0)
        return -1;
    uint64_t s1 = cpu_ns(srv_clock), c1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    if (w->phase != W10_DONE) {
        bench_fail("W10: the client loop ended early");
        return -1;
    }
    uint64_t want = (uint64_t)w->n * ticks;
    if (w->sent != want || w->ok != want) {
        bench_fail("W10: %llu polls expected, %llu sent, %llu answered", (unsigned long long)want,
                   (unsigned long long)w->sent, (unsigned long long)w->ok);
        return -1;
    }
    double secs = (double)(w->t_end - t0) / 1e9;
    out->ops_per_s = (double)w->ok / secs;
    out->cpu_pct = 100.0 * (double)(s1 - s0) / 1e9 / secs;
    out->client_cpu_pct = 100.0 * (double)(c1 - c0) / 1e9 / secs;
    out->ops = w->ok;
    out->late = w->late;
    out->seconds = secs;
    return 0;
}

static int run_w10(const bench_opts *o, int quick, bench_loop_report *rep) {
    bench_loop_row *r =
        add_row(rep, "W10", "simulator serving 200 clients x 5 Hz polls (server thread CPU)", "2",
                BENCH_LOOP_CPU, W10_TARGET);
    if (!r)
        return -1;
    /* 5 s per repeat (25 periods); --quick: 0.4 s (2 periods per client). */
    unsigned ticks = quick ? 2 : 25;
    srv_thread t;
    if (srv_thread_start(&t, W10_CLIENTS + 16) != 0) {
        srv_thread_stop(&t);
        srv_thread_free(&t);
        return -1;
    }
    w10 *w = calloc(1, sizeof *w);
    w10_cl *cls = calloc(W10_CLIENTS, sizeof *cls);
    int rc = -1, loop_ok = 0;
    if (!w || !cls) {
        bench_fail("out of memory");
        goto out;
    }
    if (uv_loop_init(&w->loop) != 0) {
        bench_fail("W10: uv_loop_init failed");
        goto out;
    }
    loop_ok = 1;
    uv_timer_init(&w->loop, &w->guard);
    w->guard.data = w;
    w->cl = cls;
    for (unsigned i = 0; i < W10_CLIENTS; i++) {
        w10_cl *c = &cls[i];
        c->w = w;
        c->idx = i;
        uv_timer_init(&w->loop, &c->timer);
        c->timer.data = c;
        w->n++;
        ew_rscp_client_opts co;
        client_opts(&co, t.port);
        co.on_event = w10_on_event;
        co.on_state = w10_on_state;
        co.user = c;
        co.seed = i + 1;
        int e = ew_rscp_client_new(&c->cl, &w->loop, &co);
        if (e != EW_OK) {
            bench_fail("W10: ew_rscp_client_new: %s", ew_io_errname(e));
            goto out;
        }
    }
    w->phase = W10_CONNECT;
    w10_start_next(w);
    if (w10_wait(w, GUARD_MS) != 0)
        goto out;
    if (w->ready != w->n) {
        bench_fail("W10: only %u of %u clients logged in", w->ready, w->n);
        goto out;
    }
    /* One unmeasured period first: the first poll on each connection pays
     * for first-touch allocations (session and socket buffers). */
    bench_loop_row warm;
    if (w10_repeat(w, &t, 1, &warm) != 0)
        goto out;
    double best = -1;
    int repeats = o->repeats;
    for (int i = 0; i < repeats; i++) {
        bench_loop_row one;
        memset(&one, 0, sizeof one);
        if (w10_repeat(w, &t, ticks, &one) != 0)
            goto out;
        if (best < 0 || one.cpu_pct < best) {
            best = one.cpu_pct;
            r->ops_per_s = one.ops_per_s;
            r->cpu_pct = one.cpu_pct;
            r->client_cpu_pct = one.client_cpu_pct;
            r->ops = one.ops;
            r->late = one.late;
            r->seconds = one.seconds;
        }
    }
    rc = 0;
out:
    if (w && loop_ok) {
        for (unsigned i = 0; i < w->n; i++) {
            ew_rscp_client_del(cls[i].cl);
            uv_close((uv_handle_t *)&cls[i].timer, NULL);
        }
        uv_close((uv_handle_t *)&w->guard, NULL);
        if (loop_finish(&w->loop, "W10") != 0)
            rc = -1;
    }
    if (srv_thread_stop(&t) != 0)
        rc = -1;
    if (rc == 0 && served_check("W10", t.sim, w->answers) != 0)
        rc = -1;
    srv_thread_free(&t);
    free(cls);
    free(w);
    return rc;
}

/* ---- entry and output ------------------------------------------------------------------ */

int bench_loop_run(const char *id, const bench_opts *o, int quick, bench_loop_report *rep) {
    /* A peer that goes away between a poll and its write must not kill the
     * process (libuv writes with write(2)). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (strcmp(id, "W9") == 0)
        return run_w9_shared(o, rep) == 0 && run_w9_threads(o, rep) == 0 ? 0 : -1;
    if (strcmp(id, "W10") == 0)
        return run_w10(o, quick, rep);
    bench_fail("unknown workload %s", id);
    return -1;
}

#else /* !EW_BENCH_LOOP */

int bench_loop_run(const char *id, const bench_opts *o, int quick, bench_loop_report *rep) {
    (void)o;
    (void)quick;
    (void)rep;
    fprintf(stderr, "energywire-bench: %s skipped: built without energywire_io/energywire_sim\n",
            id);
    return 0;
}

#endif /* EW_BENCH_LOOP */

void bench_loop_print_json(const bench_loop_report *rep, int first) {
    for (int i = 0; i < rep->nrows; i++) {
        const bench_loop_row *r = &rep->rows[i];
        printf("%s\"%s\": {\"ops_per_s\": %.1f", first && i == 0 ? "" : ", ", r->key, r->ops_per_s);
        if (r->kind == BENCH_LOOP_LATENCY)
            printf(", \"MB_per_s\": %.3f, \"p99_ms\": %.4f, \"p50_ms\": %.4f", r->mb_per_s,
                   r->p99_ms, r->p50_ms);
        else
            printf(", \"cpu_pct\": %.2f", r->cpu_pct);
        fputc('}', stdout);
    }
}

/* "1234567.8" -> "1,234,568" */
static void grouped(double x, char *out, size_t cap) {
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", x);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        out[o++] = digits[i];
        size_t rest = n - i - 1;
        if (rest && rest % 3 == 0 && o + 2 < cap)
            out[o++] = ',';
    }
    out[o] = '\0';
}

void bench_loop_print_table(const bench_loop_report *rep) {
    if (rep->nrows == 0)
        return;
    printf("\n%-20s %-9s %14s %10s %8s %8s %7s  %-22s %s\n", "loop workload", "threads", "ops/s",
           "MB/s", "p50 ms", "p99 ms", "cpu %", "target", "");
    for (int i = 0; i < rep->nrows; i++) {
        const bench_loop_row *r = &rep->rows[i];
        char ops[40], t[40], target[64], mb[16], p50[16], p99[16], cpu[16];
        const char *verdict;
        grouped(r->ops_per_s, ops, sizeof ops);
        if (r->kind == BENCH_LOOP_LATENCY) {
            grouped(r->target, t, sizeof t);
            snprintf(target, sizeof target, ">= %s ops/s", t);
            snprintf(mb, sizeof mb, "%.1f", r->mb_per_s);
            snprintf(p50, sizeof p50, "%.3f", r->p50_ms);
            snprintf(p99, sizeof p99, "%.3f", r->p99_ms);
            snprintf(cpu, sizeof cpu, "-");
            verdict = r->ops_per_s >= r->target ? "met" : "BELOW TARGET";
        } else {
            snprintf(target, sizeof target, "<= %.0f %% of one core", r->target);
            snprintf(mb, sizeof mb, "-");
            snprintf(p50, sizeof p50, "-");
            snprintf(p99, sizeof p99, "-");
            snprintf(cpu, sizeof cpu, "%.2f", r->cpu_pct);
            verdict = r->cpu_pct <= r->target ? "met" : "BELOW TARGET";
        }
        printf("%-20s %-9s %14s %10s %8s %8s %7s  %-22s %s\n", r->key, r->threads, ops, mb, p50,
               p99, cpu, target, verdict);
    }
    printf("\n");
    for (int i = 0; i < rep->nrows; i++) {
        const bench_loop_row *r = &rep->rows[i];
        printf("  %-20s %s; %llu %s in %.2f s", r->key, r->what, (unsigned long long)r->ops,
               r->kind == BENCH_LOOP_LATENCY ? "round trips" : "polls", r->seconds);
        if (r->kind == BENCH_LOOP_CPU)
            printf(", client thread %.1f %% of a core, %llu ticks found the previous poll "
                   "unanswered",
                   r->client_cpu_pct, (unsigned long long)r->late);
        printf("\n");
    }
    printf("\nLoop workloads: ew_rscp_client against ew_rscp_server + the E3/DC simulator on\n"
           "127.0.0.1.  W9: one poll in flight, latency from building the request to parsing\n"
           "its answer (CLOCK_MONOTONIC); MB = 10^6 bytes of ciphertext, both ways.\n"
           "W9_2threads pays two cross-thread wake-ups per round trip, which on shared-core\n"
           "VMs cost anything from ~20 to ~110 us: it varies with the host, W9 does not.\n"
           "W10: CPU time of the server thread / wall time; \"met\" means at most the target.\n");
}
