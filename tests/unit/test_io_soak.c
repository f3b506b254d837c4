/*
 * Soak test over real loopback TCP: an ew_rscp_server serving an
 * ew_e3dc_sim (wired as apps/energywire/cmd_sim.c does: logins through
 * ew_e3dc_sim_check_login(), requests through ew_e3dc_sim_step() at the
 * model time, ew_e3dc_sim_handle() and ew_rscp_peer_respond()) on 127.0.0.1
 * port 0, with fault injection switched over time (delays, answers written in
 * small pieces, connections dropped after N frames, corrupted frames, and
 * mixes of them), and 50 asynchronous ew_rscp_client instances on the same
 * loop, each polling (ew_e3dc_req_poll()) at 10 Hz, half of them with up to
 * four requests in flight.
 *
 * The run lasts EW_SOAK_SECONDS seconds (default 20).  Then the clients stop
 * polling, the faults are switched off and the loop runs until every request
 * has its outcome (hard cap), and everything is torn down; uv_loop_close()
 * must succeed and the ASan/LSan build must report nothing.
 *
 * Checked: every poll either succeeded (the answer parses, values are sane,
 * the energy flow balances) or failed with a reported reason (REQUEST_FAILED
 * with a non-zero error; a lost connection reported through on_state BACKOFF
 * with an error and a detail); each request has exactly one outcome; every
 * client got answers; clients reconnected after drops; the faults did
 * happen (drops, CRC failures); the loop never ran past its time cap.  A
 * summary line reports the counts.
 */
/* uv.h needs POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <energywire/e3dc.h>
#include <energywire/io.h>
#include <energywire/rscp.h>
#include <energywire/sim.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define NCLIENTS 50
#define POLL_MS 100
/* Faults change every PHASE_MS. */
#define PHASE_MS 1500
/* After the run: time allowed for the outstanding requests' outcomes. */
#define DRAIN_CAP_MS 15000
#define T0_MS INT64_C(1713600000000)

#define USER "user@example.com"
#define PASSWORD "secret-portal-password"

/* Outcome kinds counted per client. */
enum { OUT_OK, OUT_TIMEOUT, OUT_CLOSED, OUT_CRC, OUT_DECRYPT, OUT_OTHER, OUT_N };
static const char *out_name[OUT_N] = {"ok", "timeout", "closed", "crc", "decrypt", "other"};

/* Per request id: submitted, and number of outcomes. */
#define ID_SUBMITTED 0x80u

typedef struct soak soak;

typedef struct client {
    soak *s;
    unsigned idx;
    ew_rscp_client *c;
    uv_timer_t poll;
    uint8_t *ids; /* indexed by request id */
    size_t nids;
    uint64_t submitted, refused, outcomes, outstanding;
    uint64_t out[OUT_N];
    uint64_t closed_events, closed_no_err, backoffs, backoff_no_detail;
    uint64_t bad_answers;
    char bad[200];
    int stopped_unexpectedly;
} client;

struct soak {
    uv_loop_t loop;
    ew_e3dc_sim *sim;
    ew_rscp_server *srv;
    uint16_t port;
    uint64_t t0; /* uv_now() at the start of the model clock */
    uint8_t ans[EW_E3DC_SIM_ANSWER_MAX + 256];
    uint8_t req[256];
    size_t req_len;
    uv_timer_t phase_timer, cap_timer;
    unsigned phase;
    int capped;
    int stopping;
    void *aux; /* test_closed_event_detail's state */
    uint64_t peers_open, peers_closed, requests, answer_errors;
    client cl[NCLIENTS];
};

/* ---- the simulated device (as cmd_sim.c) --------------------------------------------------- */

static int64_t model_time(const soak *s) {
    return T0_MS + (int64_t)(uv_now(&s->loop) - s->t0);
}

static int srv_login(void *user, ew_rscp_peer *p, ew_bytes name, ew_bytes pw) {
    soak *s = user;
    (void)p;
    return ew_e3dc_sim_check_login(s->sim, (const char *)name.ptr, name.len, (const char *)pw.ptr,
                                   pw.len);
}

static void srv_request(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                        size_t len, int level) {
    soak *s = user;
    s->requests++;
    ew_e3dc_sim_step(s->sim, model_time(s));
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, s->ans, sizeof s->ans);
    int rc = ew_e3dc_sim_handle(s->sim, data, len, level, &b);
    if (rc >= 0)
        rc = ew_rscp_builder_finish(&b, &n);
    if (rc >= 0)
        rc = ew_rscp_peer_respond(p, req_id, s->ans, n);
    if (rc < 0) {
        s->answer_errors++;
        ew_rscp_peer_close(p);
    }
}

static void srv_peer(void *user, ew_rscp_peer *p, int connected, int err, const char *detail) {
    soak *s = user;
    (void)p;
    (void)err;
    (void)detail;
    if (connected)
        s->peers_open++;
    else
        s->peers_closed++;
}

/* The fault schedule: phase k runs from k x PHASE_MS on, then it starts
 * over.  Frames are counted per connection, the login answer being frame 1;
 * a connection past a "drop after" count is dropped after its next frame. */
static const struct {
    const char *what;
    ew_rscp_faults f;
} schedule[] = {
    {"delay", {.delay_ms = 30}},
    {"delay longer than the poll interval", {.delay_ms = 250}},
    {"answers in 7-byte pieces", {.split_bytes = 7, .split_pause_ms = 1}},
    {"drop after 25 frames", {.drop_after_frames = 25}},
    {"corrupt frame 6, drop after 20",
     {.corrupt_frame = 6, .drop_after_frames = 20, .delay_ms = 5}},
    {"drop right after the login", {.drop_after_frames = 1}},
    {"mix", {.delay_ms = 20, .split_bytes = 16, .drop_after_frames = 40}},
    {"slower than the request timeout", {.delay_ms = 2500}},
    {"corrupt frame 4 in pieces, drop after 12",
     {.corrupt_frame = 4, .split_bytes = 33, .drop_after_frames = 12}},
    {"none", {.delay_ms = 0}},
};
#define NPHASES (sizeof schedule / sizeof schedule[0])

static void phase_cb(uv_timer_t *t) {
    soak *s = t->data;
    s->phase++;
    ew_rscp_server_set_faults(s->srv, &schedule[s->phase % NPHASES].f);
}

/* ---- the clients ------------------------------------------------------------------------------
 */

static uint8_t *id_slot(client *c, uint32_t id) {
    if (id >= c->nids) {
        size_t n = c->nids ? c->nids : 256;
        while (n <= id)
            n *= 2;
        c->ids = realloc(c->ids, n);
        assert_non_null(c->ids);
        memset(c->ids + c->nids, 0, n - c->nids);
        c->nids = n;
    }
    return &c->ids[id];
}

static void bad_answer(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad_answer(client *c, const char *fmt, ...) {
    if (c->bad_answers++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->bad, sizeof c->bad, fmt, ap);
    va_end(ap);
}

static void check_answer(client *c, const ew_rscp_event *ev) {
    ew_e3dc_poll p;
    ew_diag d = {0};
    int rc = ew_e3dc_parse_poll(ev->data, ev->len, &p, &d);
    if (rc != EW_OK) {
        bad_answer(c, "poll answer does not parse: %s", ew_errname(rc));
        return;
    }
    if (ev->device_error || p.error.code) {
        bad_answer(c, "device error %u",
                   (unsigned)(ev->device_error ? ev->device_error : p.error.code));
        return;
    }
    for (unsigned b = 0; b < EW_E3DC_POLL_NFIELDS; b++)
        if (!EW_E3DC_HAS(&p, b)) {
            bad_answer(c, "poll field %u missing", b);
            return;
        }
    if (p.soc_pct < 0 || p.soc_pct > 100)
        bad_answer(c, "soc %lld %%", (long long)p.soc_pct);
    if (p.pv_power_w < 0 || p.add_power_w < 0 || p.house_power_w < 0 || p.wallbox_power_w < 0)
        bad_answer(c, "negative power (pv %lld W)", (long long)p.pv_power_w);
    if (p.pv_power_w + p.add_power_w + p.grid_power_w !=
        p.house_power_w + p.wallbox_power_w + p.battery_power_w)
        bad_answer(c, "energy flow does not balance (grid %lld W)", (long long)p.grid_power_w);
    if (p.autarky_pct < 0 || p.autarky_pct > 100 || p.self_consumption_pct < 0 ||
        p.self_consumption_pct > 100)
        bad_answer(c, "autarky %.1f %%", p.autarky_pct);
    int64_t now_s = model_time(c->s) / 1000;
    if (p.time.seconds < T0_MS / 1000 || p.time.seconds > now_s + 1)
        bad_answer(c, "device time %lld", (long long)p.time.seconds);
}

static void cli_event(void *user, const ew_rscp_event *ev) {
    client *c = user;
    switch (ev->type) {
    case EW_RSCP_EV_AUTHENTICATED:
        return;
    case EW_RSCP_EV_CLOSED:
        /* One per connection.  While the test runs only faults close
         * connections, so each carries an error. */
        c->closed_events++;
        if (ev->err == EW_OK && !c->s->stopping)
            c->closed_no_err++;
        return;
    case EW_RSCP_EV_RESPONSE:
    case EW_RSCP_EV_REQUEST_FAILED:
        break;
    default:
        fail_msg("client %u: unexpected event %d", c->idx, (int)ev->type);
    }
    uint8_t *slot = id_slot(c, ev->req_id);
    (*slot)++;
    c->outcomes++;
    if (c->outstanding)
        c->outstanding--;
    if (ev->type == EW_RSCP_EV_RESPONSE) {
        c->out[OUT_OK]++;
        check_answer(c, ev);
        return;
    }
    switch (ev->err) {
    case EW_ERR_TIMEOUT:
        c->out[OUT_TIMEOUT]++;
        break;
    case EW_ERR_CLOSED:
        c->out[OUT_CLOSED]++;
        break;
    case EW_ERR_CRC:
        c->out[OUT_CRC]++;
        break;
    case EW_ERR_DECRYPT:
        c->out[OUT_DECRYPT]++;
        break;
    case EW_OK:
        bad_answer(c, "request failed without a reason (id %u)", (unsigned)ev->req_id);
        break;
    default:
        c->out[OUT_OTHER]++;
        break;
    }
}

static void cli_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    client *c = user;
    if (st == EW_RSCP_CLIENT_BACKOFF) {
        /* A lost or failed connection: the reason must be reported. */
        c->backoffs++;
        if (err == EW_OK || !detail || !detail[0])
            c->backoff_no_detail++;
    } else if (st == EW_RSCP_CLIENT_STOPPED && err != EW_OK) {
        c->stopped_unexpectedly = err;
        snprintf(c->bad, sizeof c->bad, "stopped: %s", detail ? detail : "?");
    }
}

static void poll_cb(uv_timer_t *t) {
    client *c = t->data;
    uint32_t id = 0;
    int rc = ew_rscp_client_submit(c->c, c->s->req, c->s->req_len, &id);
    if (rc != EW_OK) {
        c->refused++;
        return;
    }
    c->submitted++;
    c->outstanding++;
    *id_slot(c, id) |= ID_SUBMITTED;
}

static void handle_closed(uv_handle_t *h) {
    (void)h;
}

/* ---- the loop ----------------------------------------------------------------------------------
 */

static void cap_cb(uv_timer_t *t) {
    soak *s = t->data;
    s->capped = 1;
}

typedef int (*cond_fn)(soak *s);

/* Runs the loop until |cond| holds or |cap_ms| pass; returns 1 if it held. */
static int run_until(soak *s, cond_fn cond, uint64_t cap_ms) {
    s->capped = 0;
    uv_update_time(&s->loop);
    uv_timer_start(&s->cap_timer, cap_cb, cap_ms, 0);
    while (!(cond && cond(s)) && !s->capped)
        uv_run(&s->loop, UV_RUN_ONCE);
    uv_timer_stop(&s->cap_timer);
    return cond ? cond(s) : 1;
}

static int all_settled(soak *s) {
    for (unsigned i = 0; i < NCLIENTS; i++)
        if (s->cl[i].outstanding)
            return 0;
    return 1;
}

static double soak_seconds(void) {
    const char *e = getenv("EW_SOAK_SECONDS");
    if (!e || !*e)
        return 20.0;
    char *end;
    double v = strtod(e, &end);
    if (*end || !(v > 0) || v > 86400)
        fail_msg("EW_SOAK_SECONDS='%s' is not a number of seconds", e);
    return v;
}

static void test_soak(void **state) {
    (void)state;
    double seconds = soak_seconds();
    soak *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    uv_timer_init(&s->loop, &s->cap_timer);
    s->cap_timer.data = s;
    uv_timer_init(&s->loop, &s->phase_timer);
    s->phase_timer.data = s;

    /* The plant. */
    ew_e3dc_sim_config cfg;
    ew_e3dc_sim_config_init(&cfg);
    cfg.start_time_ms = T0_MS;
    cfg.history_days = 2;
    cfg.ext_peak_w = 1500;
    assert_int_equal(ew_e3dc_sim_new(&s->sim, &cfg, NULL), EW_OK);
    uv_update_time(&s->loop);
    s->t0 = uv_now(&s->loop);

    /* The server, faults on from the start. */
    ew_rscp_server_opts so;
    ew_rscp_server_opts_init(&so);
    so.host = "127.0.0.1";
    so.port = 0;
    so.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
    so.max_clients = 2 * NCLIENTS;
    so.on_login = srv_login;
    so.on_request = srv_request;
    so.on_peer = srv_peer;
    so.user = s;
    s->phase = 0;
    so.faults = schedule[0].f;
    assert_int_equal(ew_rscp_server_new(&s->srv, &s->loop, &so), EW_OK);
    if (ew_rscp_server_listen(s->srv) != EW_OK)
        fail_msg("listen: %s", ew_rscp_server_error_detail(s->srv));
    s->port = ew_rscp_server_port(s->srv);
    assert_true(s->port != 0);
    uv_timer_start(&s->phase_timer, phase_cb, PHASE_MS, PHASE_MS);

    /* The poll request. */
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, s->req, sizeof s->req);
    assert_int_equal(ew_e3dc_req_poll(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &s->req_len), EW_OK);

    /* The clients, their polls spread over the 100 ms. */
    for (unsigned i = 0; i < NCLIENTS; i++) {
        client *c = &s->cl[i];
        c->s = s;
        c->idx = i;
        ew_rscp_client_opts o;
        ew_rscp_client_opts_init(&o);
        o.host = "127.0.0.1";
        o.port = s->port;
        o.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
        o.conn.user = USER;
        o.conn.password = PASSWORD;
        o.conn.request_timeout_ms = 2000;
        /* Half of them pipeline when answers are slow. */
        o.conn.max_inflight = i % 2 ? 4 : 1;
        o.conn.login_timeout_ms = 2000;
        o.connect_timeout_ms = 2000;
        o.backoff_min_ms = 20;
        o.backoff_max_ms = 400;
        o.queue_timeout_ms = 3000;
        o.seed = 1000 + i;
        o.on_event = cli_event;
        o.on_state = cli_state;
        o.user = c;
        assert_int_equal(ew_rscp_client_new(&c->c, &s->loop, &o), EW_OK);
        assert_int_equal(ew_rscp_client_start(c->c), EW_OK);
        uv_timer_init(&s->loop, &c->poll);
        c->poll.data = c;
        uv_timer_start(&c->poll, poll_cb, 1 + (i * POLL_MS) / NCLIENTS, POLL_MS);
    }

    /* The run. */
    uint64_t start = uv_hrtime();
    run_until(s, NULL, (uint64_t)(seconds * 1000));
    double ran = (double)(uv_hrtime() - start) / 1e9;

    /* Stop polling, switch the faults off, and wait for every outcome. */
    for (unsigned i = 0; i < NCLIENTS; i++)
        uv_timer_stop(&s->cl[i].poll);
    uv_timer_stop(&s->phase_timer);
    ew_rscp_server_set_faults(s->srv, NULL);
    uint64_t drain0 = uv_hrtime();
    int settled = run_until(s, all_settled, DRAIN_CAP_MS);
    double drained = (double)(uv_hrtime() - drain0) / 1e9;

    /* Counts, before teardown. */
    uint64_t tot[OUT_N] = {0}, submitted = 0, refused = 0, reconnecting = 0, logins = 0;
    uint64_t closed_events = 0, backoffs = 0;
    for (unsigned i = 0; i < NCLIENTS; i++) {
        client *c = &s->cl[i];
        ew_rscp_client_stats st;
        ew_rscp_client_get_stats(c->c, &st);
        for (int k = 0; k < OUT_N; k++)
            tot[k] += c->out[k];
        submitted += c->submitted;
        refused += c->refused;
        logins += st.logins;
        reconnecting += st.logins > 1;
        closed_events += c->closed_events;
        backoffs += c->backoffs;
    }
    uint64_t failed = 0;
    for (int k = 1; k < OUT_N; k++)
        failed += tot[k];
    char line[512];
    int n = snprintf(line, sizeof line,
                     "soak: %u clients, %.1f s (+%.2f s drain): %llu polls, %llu ok, %llu failed (",
                     NCLIENTS, ran, drained, (unsigned long long)submitted,
                     (unsigned long long)tot[OUT_OK], (unsigned long long)failed);
    for (int k = 1; k < OUT_N; k++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%s %llu", k > 1 ? ", " : "",
                      out_name[k], (unsigned long long)tot[k]);
    snprintf(line + n, sizeof line - (size_t)n,
             "), %llu refused; %llu logins, %llu reconnects (%llu/%u clients), %llu connections "
             "closed, server: %llu requests, %llu connections, %u fault phases (last: %s)",
             (unsigned long long)refused, (unsigned long long)logins,
             (unsigned long long)(logins - NCLIENTS), (unsigned long long)reconnecting, NCLIENTS,
             (unsigned long long)closed_events, (unsigned long long)s->requests,
             (unsigned long long)s->peers_open, s->phase + 1, schedule[s->phase % NPHASES].what);
    printf("%s\n", line);
    fflush(stdout);

    /* Every request has exactly one outcome; every client got answers. */
    if (!settled)
        fail_msg("requests still without an outcome after %d ms", DRAIN_CAP_MS);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        client *c = &s->cl[i];
        ew_rscp_client_stats st;
        ew_rscp_client_get_stats(c->c, &st);
        if (c->bad_answers || c->stopped_unexpectedly)
            fail_msg("client %u: %s", i, c->bad);
        assert_int_equal(c->outstanding, 0);
        assert_int_equal(c->outcomes, c->submitted);
        for (size_t id = 0; id < c->nids; id++) {
            uint8_t v = c->ids[id];
            if (v == 0)
                continue;
            if (v != (ID_SUBMITTED | 1))
                fail_msg("client %u: request %zu: %s", i, id,
                         !(v & ID_SUBMITTED) ? "outcome for a request never submitted"
                         : (v & 0x7F) == 0   ? "no outcome"
                                             : "more than one outcome");
        }
        if (c->out[OUT_OK] == 0)
            fail_msg("client %u never got an answer", i);
        /* The client's own counters agree. */
        assert_int_equal(st.responses, c->out[OUT_OK]);
        assert_int_equal(st.failures, c->outcomes - c->out[OUT_OK]);
        /* Each lost connection: a CLOSED event with an error, then
         * on_state(BACKOFF) with the error and a sentence. */
        assert_int_equal(c->closed_no_err, 0);
        assert_int_equal(c->backoff_no_detail, 0);
        assert_true(c->backoffs >= c->closed_events);
    }
    assert_int_equal(refused, 0);
    assert_int_equal(s->answer_errors, 0);
    /* The server's bookkeeping of its connections adds up. */
    assert_int_equal(ew_rscp_server_peer_count(s->srv), s->peers_open - s->peers_closed);
    /* The faults happened and the clients came back (what a phase does
     * shows once it has run). */
    if (seconds * 1000 >= 5 * PHASE_MS) {
        assert_true(reconnecting > NCLIENTS / 2);
        assert_true(tot[OUT_CRC] + tot[OUT_DECRYPT] > 0);
        assert_true(backoffs > 0);
    }
    if (seconds * 1000 >= 7 * PHASE_MS)
        assert_true(tot[OUT_CLOSED] > 0);
    if (seconds * 1000 >= 8 * PHASE_MS + 2500)
        assert_true(tot[OUT_TIMEOUT] > 0);
    /* Most polls get through despite the faults. */
    assert_true(tot[OUT_OK] > submitted / 2);

    /* Teardown: everything closes, nothing is left on the loop. */
    s->stopping = 1;
    for (unsigned i = 0; i < NCLIENTS; i++) {
        client *c = &s->cl[i];
        ew_rscp_client_stop(c->c);
        assert_int_equal(c->outstanding, 0);
        ew_rscp_client_del(c->c);
        uv_close((uv_handle_t *)&c->poll, handle_closed);
    }
    ew_rscp_server_del(s->srv);
    uv_close((uv_handle_t *)&s->phase_timer, handle_closed);
    uv_close((uv_handle_t *)&s->cap_timer, handle_closed);
    uint64_t t = uv_hrtime();
    while (uv_run(&s->loop, UV_RUN_NOWAIT) != 0 && uv_hrtime() - t < UINT64_C(10000000000))
        uv_run(&s->loop, UV_RUN_ONCE);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    for (unsigned i = 0; i < NCLIENTS; i++)
        free(s->cl[i].ids);
    ew_e3dc_sim_del(s->sim);
    free(s);
}

/* ---- the error detail seen from a CLOSED event ------------------------------------------------
 */

typedef struct one {
    soak *s;
    ew_rscp_client *c;
    int closed, stopped, responses;
    int closed_ev_err, err_at_closed, state_err;
    char detail_at_closed[256], state_detail[256];
} one;

static void one_event(void *user, const ew_rscp_event *ev) {
    one *o = user;
    if (ev->type == EW_RSCP_EV_AUTHENTICATED) {
        uint32_t id;
        assert_int_equal(ew_rscp_client_submit(o->c, o->s->req, o->s->req_len, &id), EW_OK);
    } else if (ev->type == EW_RSCP_EV_RESPONSE) {
        o->responses++;
    } else if (ev->type == EW_RSCP_EV_CLOSED && !o->closed++) {
        o->closed_ev_err = ev->err;
        o->err_at_closed = ew_rscp_client_error(o->c);
        snprintf(o->detail_at_closed, sizeof o->detail_at_closed, "%s",
                 ew_rscp_client_error_detail(o->c));
    }
}

static void one_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    one *o = user;
    if (st == EW_RSCP_CLIENT_STOPPED && !o->stopped++) {
        o->state_err = err;
        snprintf(o->state_detail, sizeof o->state_detail, "%s", detail);
    }
}

static int one_stopped(soak *s) {
    const one *o = s->aux;
    return o->stopped;
}

/*
 * io.h: on_event passes the session's CLOSED event, and
 * "ew_rscp_client_error_detail() explains a failure".  The device drops the
 * connection after its first answer; inside the CLOSED callback the client's
 * error and its sentence should be those of this close, the ones on_state
 * reports right after.
 */
static void test_closed_event_detail(void **state) {
    (void)state;
    soak *s = calloc(1, sizeof *s);
    one *o = calloc(1, sizeof *o);
    assert_non_null(s);
    assert_non_null(o);
    o->s = s;
    s->aux = o;
    assert_int_equal(uv_loop_init(&s->loop), 0);
    uv_timer_init(&s->loop, &s->cap_timer);
    s->cap_timer.data = s;
    ew_e3dc_sim_config cfg;
    ew_e3dc_sim_config_init(&cfg);
    cfg.start_time_ms = T0_MS;
    cfg.history_days = 1;
    assert_int_equal(ew_e3dc_sim_new(&s->sim, &cfg, NULL), EW_OK);
    uv_update_time(&s->loop);
    s->t0 = uv_now(&s->loop);
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, s->req, sizeof s->req);
    assert_int_equal(ew_e3dc_req_poll(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &s->req_len), EW_OK);

    ew_rscp_server_opts so;
    ew_rscp_server_opts_init(&so);
    so.port = 0;
    so.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
    so.on_login = srv_login;
    so.on_request = srv_request;
    so.user = s;
    so.faults.drop_after_frames = 2; /* the login answer and one answer */
    assert_int_equal(ew_rscp_server_new(&s->srv, &s->loop, &so), EW_OK);
    assert_int_equal(ew_rscp_server_listen(s->srv), EW_OK);

    ew_rscp_client_opts co;
    ew_rscp_client_opts_init(&co);
    co.host = "127.0.0.1";
    co.port = ew_rscp_server_port(s->srv);
    co.conn.rscp_key = ew_e3dc_sim_rscp_key(s->sim);
    co.conn.user = USER;
    co.conn.password = PASSWORD;
    co.reconnect = 0;
    co.on_event = one_event;
    co.on_state = one_state;
    co.user = o;
    assert_int_equal(ew_rscp_client_new(&o->c, &s->loop, &co), EW_OK);
    assert_int_equal(ew_rscp_client_start(o->c), EW_OK);
    int done = run_until(s, one_stopped, 5000);

    ew_rscp_client_del(o->c);
    ew_rscp_server_del(s->srv);
    uv_close((uv_handle_t *)&s->cap_timer, handle_closed);
    while (uv_run(&s->loop, UV_RUN_DEFAULT) != 0)
        ;
    assert_int_equal(uv_loop_close(&s->loop), 0);
    ew_e3dc_sim_del(s->sim);
    free(s);

    assert_true(done);
    assert_int_equal(o->responses, 1);
    assert_int_equal(o->closed, 1);
    assert_int_equal(o->closed_ev_err, EW_ERR_CLOSED);
    assert_int_equal(o->state_err, EW_ERR_CLOSED);
    /* What the client says about the failure while reporting it. */
    if (o->err_at_closed != o->closed_ev_err || strcmp(o->detail_at_closed, o->state_detail)) {
        char msg[700];
        snprintf(msg, sizeof msg,
                 "in the CLOSED callback ew_rscp_client_error() = %s and _error_detail() = "
                 "\"%s\"; expected %s and \"%s\" (what on_state(STOPPED) reports next)",
                 ew_errname(o->err_at_closed), o->detail_at_closed, ew_errname(o->closed_ev_err),
                 o->state_detail);
        free(o);
        fail_msg("%s", msg);
    }
    free(o);
}

int main(void) {
    /* A client writing a request while the device drops the connection (or
     * the server answering a client that went away) gets EPIPE, and the
     * signal that comes with it: libuv writes with write(2) and leaves
     * SIGPIPE to the application, as apps/energywire/main.c does.  Without
     * this the run dies with status 141 within seconds. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_event_detail),
        cmocka_unit_test(test_soak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
