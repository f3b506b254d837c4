/*
 * The whole E3/DC API end to end, in memory: every ew_e3dc_req_* request is
 * sent by a client session (ew_rscp_conn, client role) to a server session
 * whose LOGIN events go to ew_e3dc_sim_check_login() and whose REQUEST events
 * go to ew_e3dc_sim_step() (at the fake wall-clock time), ew_e3dc_sim_handle()
 * and ew_rscp_conn_respond().  The answer is decoded with the matching
 * ew_e3dc_parse_* and every typed value is compared with the simulator's own
 * state (ew_e3dc_sim_get_model(), _get_power_settings(), _history()), not
 * just "parsed OK".  Fake clock, no sockets, no sleeps; the bytes between the
 * two sessions are delivered whole or cut at seeded random points.
 *
 * Covered: login (user and installer level, wrong password), poll, status,
 * sysinfo (static and dynamic), topology, battery with DCBs, PV inverter with
 * trackers, phases and temperatures, power meters (root 0 with an additional
 * meter; root 6), wallbox and every wallbox command, battery-to-car, smart
 * switches, idle periods, history (day, week, month, year; Timestamp and
 * UInt64 parameters), power settings (read, read-modify-write, powersave,
 * weather-regulated), set power in every mode including the 30 s expiry,
 * manual charge, pipelining (max_inflight 4) and pye3dc's poll as ten
 * separate frames with a balanced energy flow.
 *
 * User levels: the simulator refuses requests only at level 0 (sim.h), and a
 * session never passes requests before a successful login, so there is no
 * "level too low" case to test here.
 */
#include "testutil.h"

#include <energywire/e3dc.h>
#include <energywire/rscp.h>
#include <energywire/rscp_tags.h>
#include <energywire/sim.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-04-20T08:00:00Z, a Saturday, 09:00 plant time (UTC+01:00): with the
 * configuration below the sun shines, the battery is half full and charging
 * and the car is plugged in and charging. */
#define T0_MS INT64_C(1713600000000)
#define T0_S (T0_MS / 1000)
#define HISTORY_DAYS 60
#define SATURDAY 5 /* the simulator's weekday numbering: 0 = Monday */

#define USER "user@example.com"
#define PASSWORD "secret-portal-password"
#define INSTALLER "installer@example.com"
#define INSTALLER_PASSWORD "installer-password"

#define ABUF (EW_E3DC_SIM_ANSWER_MAX + 256)

/* ---- comparisons --------------------------------------------------------------------- */

#define assert_near(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        if (!(fabs(a_ - b_) <= t_))                                                                \
            fail_msg("%s = %.9g, expected %s = %.9g (tolerance %g)", #a, a_, #b, b_, t_);          \
    } while (0)

/* A value sent as Float32: relative error below 2^-24. */
#define assert_f32(a, b) assert_near(a, b, fabs((double)(b)) * 1e-6 + 1e-4)

/* ---- the harness ----------------------------------------------------------------------- */

/* A client event, copied out of the session. */
typedef struct cev {
    int type;
    uint32_t id;
    int err;
    uint32_t device_error;
    uint8_t *data;
    size_t len;
} cev;

/* A request the server holds back (pipelining test). */
typedef struct held {
    uint32_t id;
    int level;
    uint8_t *data;
    size_t len;
} held;

#define MAX_HELD 64

typedef struct hx {
    ew_e3dc_sim *sim;
    ew_rscp_conn *cli, *srv;
    uint64_t now;  /* fake monotonic clock, ms */
    int64_t wall0; /* wall-clock time (Unix ms) at now = 0 */
    uint64_t rng;  /* cut points */
    uint8_t *abuf; /* the server's answer buffer */
    cev *ev;       /* client events in order */
    size_t nev, cap;
    int authed, level, closed, close_err;
    char close_detail[256];
    size_t logins, requests;
    int last_level; /* the level the server passed with the last request */
    int srv_closed;
    int eof_to_cli, eof_to_srv;
    int hold;
    held held[MAX_HELD];
    size_t nheld, max_held;
} hx;

static int64_t wall(const hx *h) {
    return h->wall0 + (int64_t)h->now;
}

static void srv_answer(hx *h, uint32_t id, const uint8_t *data, size_t len, int level) {
    /* As apps/energywire/cmd_sim.c: the model advances to the time of the
     * request, then answers it. */
    assert_int_equal(ew_e3dc_sim_step(h->sim, wall(h)), EW_OK);
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, h->abuf, ABUF);
    int rc = ew_e3dc_sim_handle(h->sim, data, len, level, &b);
    if (rc < 0)
        fail_msg("ew_e3dc_sim_handle: %s", ew_errname(rc));
    assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
    assert_int_equal(ew_rscp_conn_respond(h->srv, id, h->abuf, n), EW_OK);
    h->last_level = level;
}

static void drain_srv(hx *h) {
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(h->srv, &ev) > 0) {
        switch (ev.type) {
        case EW_RSCP_EV_LOGIN: {
            h->logins++;
            int level = ew_e3dc_sim_check_login(h->sim, (const char *)ev.user.ptr, ev.user.len,
                                                (const char *)ev.password.ptr, ev.password.len);
            assert_int_equal(ew_rscp_conn_login_result(h->srv, level), EW_OK);
            break;
        }
        case EW_RSCP_EV_REQUEST:
            h->requests++;
            if (h->hold) {
                assert_true(h->nheld < MAX_HELD);
                held *r = &h->held[h->nheld++];
                r->id = ev.req_id;
                r->level = ev.level;
                r->len = ev.len;
                r->data = malloc(ev.len ? ev.len : 1);
                assert_non_null(r->data);
                memcpy(r->data, ev.data, ev.len);
                if (h->nheld > h->max_held)
                    h->max_held = h->nheld;
            } else {
                srv_answer(h, ev.req_id, ev.data, ev.len, ev.level);
            }
            break;
        case EW_RSCP_EV_CLOSED:
            h->srv_closed = 1;
            break;
        default:
            fail_msg("server got event type %d", (int)ev.type);
        }
    }
}

static void drain_cli(hx *h) {
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(h->cli, &ev) > 0) {
        switch (ev.type) {
        case EW_RSCP_EV_AUTHENTICATED:
            h->authed = 1;
            h->level = ev.level;
            continue;
        case EW_RSCP_EV_CLOSED:
            h->closed = 1;
            h->close_err = ev.err;
            snprintf(h->close_detail, sizeof h->close_detail, "%s",
                     ew_rscp_conn_error_detail(h->cli));
            continue;
        case EW_RSCP_EV_RESPONSE:
        case EW_RSCP_EV_REQUEST_FAILED:
            break;
        default:
            fail_msg("client got event type %d", (int)ev.type);
        }
        if (h->nev == h->cap) {
            h->cap = h->cap ? 2 * h->cap : 64;
            h->ev = realloc(h->ev, h->cap * sizeof *h->ev);
            assert_non_null(h->ev);
        }
        cev *e = &h->ev[h->nev++];
        memset(e, 0, sizeof *e);
        e->type = (int)ev.type;
        e->id = ev.req_id;
        e->err = ev.err;
        e->device_error = ev.device_error;
        e->len = ev.len;
        e->data = malloc(ev.len ? ev.len : 1);
        assert_non_null(e->data);
        if (ev.len)
            memcpy(e->data, ev.data, ev.len);
    }
}

static void drain(hx *h, ew_rscp_conn *c) {
    if (c == h->srv)
        drain_srv(h);
    else
        drain_cli(h);
}

/* Feeds |n| bytes to |to|, taking its events whenever it asks for that. */
static void feed(hx *h, ew_rscp_conn *to, const uint8_t *p, size_t n) {
    int stalls = 0;
    while (n > 0) {
        int k = ew_rscp_conn_recv(to, p, n, h->now);
        assert_true(k >= 0);
        drain(h, to);
        if (k == 0) {
            if (ew_rscp_conn_error(to) != EW_OK || ew_rscp_conn_want_close(to))
                return; /* closed: the rest is dropped, as a closed socket does */
            if (++stalls > 3)
                fail_msg("recv takes nothing although all events were taken");
            continue;
        }
        stalls = 0;
        p += k;
        n -= (size_t)k;
    }
}

/* Moves what |from| wants to send to |to|, whole or in random pieces. */
static int move(hx *h, ew_rscp_conn *from, ew_rscp_conn *to) {
    const uint8_t *out;
    size_t n;
    int moved = 0;
    while ((n = ew_rscp_conn_send_data(from, &out)) > 0) {
        uint8_t *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, out, n);
        ew_rscp_conn_send_done(from, n);
        size_t off = 0;
        while (off < n) {
            size_t k = n - off;
            if (tu_rand(&h->rng) % 2)
                k = 1 + (size_t)(tu_rand(&h->rng) % k);
            feed(h, to, copy + off, k);
            off += k;
        }
        free(copy);
        moved = 1;
    }
    return moved;
}

static void run_timers(hx *h, ew_rscp_conn *c) {
    if (h->now >= ew_rscp_conn_next_deadline(c)) {
        ew_rscp_conn_on_timeout(c, h->now);
        drain(h, c);
    }
}

/* Runs both sessions until nothing moves any more. */
static void pump(hx *h) {
    for (int guard = 0; guard < 100000; guard++) {
        ew_rscp_timestamp ts = {wall(h) / 1000, (uint32_t)(wall(h) % 1000) * 1000000u};
        ew_rscp_conn_set_time(h->cli, ts);
        ew_rscp_conn_set_time(h->srv, ts);
        run_timers(h, h->cli);
        run_timers(h, h->srv);
        int moved = move(h, h->cli, h->srv);
        moved |= move(h, h->srv, h->cli);
        /* A side that wants to close closes its socket: the other side sees
         * the end of the stream. */
        if (ew_rscp_conn_want_close(h->srv) && !h->eof_to_cli) {
            h->eof_to_cli = 1;
            ew_rscp_conn_recv_eof(h->cli, h->now);
            drain_cli(h);
            moved = 1;
        }
        if (ew_rscp_conn_want_close(h->cli) && !h->eof_to_srv) {
            h->eof_to_srv = 1;
            ew_rscp_conn_recv_eof(h->srv, h->now);
            drain_srv(h);
            moved = 1;
        }
        if (!moved)
            return;
    }
    fail_msg("the sessions never come to rest");
}

/* Advances the fake clock (both sessions and, with the next request, the
 * model). */
static void advance(hx *h, uint64_t ms) {
    h->now += ms;
    pump(h);
}

/* A plant and the two sessions; nothing has moved yet. */
static hx *hx_open(const ew_e3dc_sim_config *cfg, const char *user, const char *password,
                   unsigned max_inflight) {
    hx *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->abuf = malloc(ABUF);
    assert_non_null(h->abuf);
    h->rng = 0x5eed5eedULL;
    h->wall0 = cfg->start_time_ms;
    assert_int_equal(ew_e3dc_sim_new(&h->sim, cfg, NULL), EW_OK);

    ew_rscp_conn_opts o;
    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_SERVER);
    o.rscp_key = ew_e3dc_sim_rscp_key(h->sim);
    o.now_ms = h->now;
    assert_int_equal(ew_rscp_conn_new(&h->srv, &o, NULL), EW_OK);

    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_CLIENT);
    o.rscp_key = ew_e3dc_sim_rscp_key(h->sim);
    o.user = user;
    o.password = password;
    o.now_ms = h->now;
    if (max_inflight)
        o.max_inflight = max_inflight;
    assert_int_equal(ew_rscp_conn_new(&h->cli, &o, NULL), EW_OK);
    return h;
}

static void config(ew_e3dc_sim_config *c) {
    ew_e3dc_sim_config_init(c);
    c->start_time_ms = T0_MS;
    c->history_days = HISTORY_DAYS;
    /* An additional generator, so that EMS_POWER_ADD and the second meter
     * carry something. */
    c->ext_peak_w = 1500;
}

/* A plant configured as |c|, logged in as the user. */
static hx *hx_new_with(const ew_e3dc_sim_config *c, unsigned max_inflight) {
    hx *h = hx_open(c, USER, PASSWORD, max_inflight);
    pump(h);
    assert_true(h->authed);
    assert_int_equal(h->level, 10);
    return h;
}

/* The default plant, logged in as the user. */
static hx *hx_new(unsigned max_inflight) {
    ew_e3dc_sim_config c;
    config(&c);
    return hx_new_with(&c, max_inflight);
}

static void hx_free(hx *h) {
    ew_rscp_conn_del(h->cli);
    ew_rscp_conn_del(h->srv);
    ew_e3dc_sim_del(h->sim);
    for (size_t i = 0; i < h->nev; i++)
        free(h->ev[i].data);
    for (size_t i = 0; i < h->nheld; i++)
        free(h->held[i].data);
    free(h->ev);
    free(h->abuf);
    free(h);
}

static const cev *find_ev(const hx *h, uint32_t id) {
    for (size_t i = 0; i < h->nev; i++)
        if (h->ev[i].id == id)
            return &h->ev[i];
    return NULL;
}

/* Answers the held requests, |reverse|: the latest first (the session still
 * sends the answers in request order). */
static void release(hx *h, int reverse) {
    for (size_t k = 0; k < h->nheld; k++) {
        held *r = &h->held[reverse ? h->nheld - 1 - k : k];
        srv_answer(h, r->id, r->data, r->len, r->level);
        free(r->data);
        r->data = NULL;
    }
    h->nheld = 0;
}

/* A request under construction. */
typedef struct rq {
    ew_rscp_builder b;
    size_t len;
    uint8_t buf[16384];
} rq;

static rq *rq_new(void) {
    rq *r = calloc(1, sizeof *r);
    assert_non_null(r);
    ew_rscp_builder_init(&r->b, r->buf, sizeof r->buf);
    return r;
}

static uint32_t submit_rq(hx *h, rq *r) {
    uint32_t id = 0;
    assert_int_equal(ew_rscp_builder_finish(&r->b, &r->len), EW_OK);
    assert_int_equal(ew_rscp_conn_submit(h->cli, r->buf, r->len, h->now, &id), EW_OK);
    assert_true(id != 0);
    free(r);
    return id;
}

/* Sends |r| (freed), runs the sessions and returns the answer. */
static const cev *call(hx *h, rq *r) {
    uint32_t id = submit_rq(h, r);
    pump(h);
    const cev *e = find_ev(h, id);
    if (!e)
        fail_msg("request %u got no answer", (unsigned)id);
    if (e->type != EW_RSCP_EV_RESPONSE)
        fail_msg("request %u failed: %s", (unsigned)id, ew_errname(e->err));
    return e;
}

static ew_e3dc_sim_model model(const hx *h) {
    ew_e3dc_sim_model m;
    ew_e3dc_sim_get_model(h->sim, &m);
    return m;
}

/* Parses |e| with |parse|; the answer must be well formed. */
#define PARSE(parse, e, ...)                                                                       \
    do {                                                                                           \
        ew_diag d_ = {0};                                                                          \
        int rc_ = parse((e)->data, (e)->len, __VA_ARGS__, &d_);                                    \
        if (rc_ != EW_OK) {                                                                        \
            char m_[200];                                                                          \
            ew_diag_format(&d_, m_, sizeof m_);                                                    \
            fail_msg("%s: %s (%s)", #parse, ew_errname(rc_), m_);                                  \
        }                                                                                          \
    } while (0)

/* Both writers of a result: the JSON must be valid, the text non-empty. */
#define WRITERS(name, v)                                                                           \
    do {                                                                                           \
        size_t cap_ = 256 * 1024, n_ = 0;                                                          \
        char *buf_ = malloc(cap_);                                                                 \
        assert_non_null(buf_);                                                                     \
        assert_int_equal(ew_e3dc_##name##_json(v, 0, buf_, cap_, &n_), EW_OK);                     \
        json_error_t je_;                                                                          \
        json_t *j_ = json_loadb(buf_, n_, 0, &je_);                                                \
        if (!j_)                                                                                   \
            fail_msg("ew_e3dc_%s_json: invalid JSON: %s", #name, je_.text);                        \
        json_decref(j_);                                                                           \
        assert_int_equal(ew_e3dc_##name##_text(v, 0, buf_, cap_, &n_), EW_OK);                     \
        assert_true(n_ > 0);                                                                       \
        free(buf_);                                                                                \
    } while (0)

/* ---- reads --------------------------------------------------------------------------------- */

/* Checks a poll result against the model (the same model second). */
static void check_poll(const ew_e3dc_poll *p, const ew_e3dc_sim_model *m, int64_t time_ms) {
    for (unsigned b = 0; b < EW_E3DC_POLL_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(p, b));
    assert_int_equal(p->error.code, 0);
    assert_int_equal(p->time.seconds, time_ms / 1000);
    assert_int_equal(p->time.nanoseconds, (uint32_t)(time_ms % 1000) * 1000000u);
    assert_int_equal(p->soc_pct, lround(m->soc_pct));
    assert_int_equal(p->pv_power_w, lround(m->pv_w));
    assert_int_equal(p->add_power_w, lround(m->add_w));
    assert_int_equal(p->house_power_w, lround(m->house_w));
    assert_int_equal(p->battery_power_w, lround(m->battery_w));
    assert_int_equal(p->wallbox_power_w, lround(m->wallbox_w));
    /* The device reports a grid value that balances the rounded others. */
    assert_near(p->grid_power_w, m->grid_w, 3.0);
    assert_int_equal(p->pv_power_w + p->add_power_w + p->grid_power_w,
                     p->house_power_w + p->wallbox_power_w + p->battery_power_w);
    assert_f32(p->autarky_pct, m->autarky_pct);
    assert_f32(p->self_consumption_pct, m->self_consumption_pct);
}

static ew_e3dc_poll do_poll(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_poll(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_poll p;
    PARSE(ew_e3dc_parse_poll, e, &p);
    ew_e3dc_sim_model m = model(h);
    check_poll(&p, &m, m.time_ms);
    WRITERS(poll, &p);
    return p;
}

static ew_e3dc_status do_status(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_status(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_status s;
    PARSE(ew_e3dc_parse_status, e, &s);
    ew_e3dc_sim_model m = model(h);
    assert_true(EW_E3DC_HAS(&s, EW_E3DC_STATUS_EMS));
    assert_true(EW_E3DC_HAS(&s, EW_E3DC_STATUS_SYS));
    assert_int_equal(s.ems_status, m.ems_status);
    assert_int_equal(s.sys_status, m.sys_status);
    ew_e3dc_sys_status_bits bits;
    ew_e3dc_sys_status_decode(m.sys_status, &bits);
    assert_memory_equal(&s.bits, &bits, sizeof bits);
    WRITERS(status, &s);
    return s;
}

static void test_login(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    config(&c);

    /* Wrong password: a request queued before the login fails with it, and
     * the client closes with EW_ERR_AUTH. */
    hx *h = hx_open(&c, USER, "not-the-password", 0);
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_poll(&r->b), EW_OK);
    uint32_t id = submit_rq(h, r);
    pump(h);
    assert_false(h->authed);
    assert_true(h->closed);
    assert_int_equal(h->close_err, EW_ERR_AUTH);
    assert_true(h->close_detail[0] != '\0');
    assert_int_equal(ew_rscp_conn_error(h->cli), EW_ERR_AUTH);
    assert_true(ew_rscp_conn_want_close(h->cli));
    assert_int_equal(h->logins, 1);
    assert_int_equal(h->requests, 0); /* nothing reached the plant */
    const cev *e = find_ev(h, id);
    assert_non_null(e);
    assert_int_equal(e->type, EW_RSCP_EV_REQUEST_FAILED);
    assert_int_equal(e->err, EW_ERR_AUTH);
    /* A closed client takes no requests. */
    uint8_t none[EW_RSCP_TLV_HEADER_LEN];
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, none, sizeof none);
    ew_rscp_builder_add_none(&b, EW_RSCP_TAG_EMS_REQ_POWER_PV);
    assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
    assert_int_equal(ew_rscp_conn_submit(h->cli, none, n, h->now, &id), EW_ERR_STATE);
    hx_free(h);

    /* The installer gets level 20, and the plant sees that level. */
    h = hx_open(&c, INSTALLER, INSTALLER_PASSWORD, 0);
    pump(h);
    assert_true(h->authed);
    assert_int_equal(h->level, 20);
    do_poll(h);
    assert_int_equal(h->last_level, 20);
    hx_free(h);

    /* The user gets level 10. */
    h = hx_new(0);
    do_poll(h);
    assert_int_equal(h->last_level, 10);
    hx_free(h);
}

static void test_poll_status(void **state) {
    (void)state;
    hx *h = hx_new(0);
    /* The moment chosen: every flow is non-zero. */
    ew_e3dc_sim_model m = model(h);
    assert_true(m.pv_w > 1000);
    assert_true(m.add_w > 100);
    assert_true(m.wallbox_w > 1000);
    assert_true(m.battery_w > 100);
    assert_true(m.soc_pct > 10 && m.soc_pct < 90);

    ew_e3dc_poll p = do_poll(h);
    assert_int_equal(p.time.seconds, T0_S);
    ew_e3dc_status s = do_status(h);
    assert_true(s.bits.ems_alive);
    assert_true(s.bits.battery_module_alive);
    assert_true(s.bits.wallbox_alive);
    assert_true(s.bits.power_save_enabled); /* a fresh installation has it on */
    assert_false(s.bits.charge_idle_period_active);
    assert_false(s.bits.discharge_idle_period_active);

    /* Later answers follow the model. */
    advance(h, 5000);
    p = do_poll(h);
    assert_int_equal(p.time.seconds, T0_S + 5);
    do_status(h);
    advance(h, 3600 * 1000);
    p = do_poll(h);
    assert_int_equal(p.time.seconds, T0_S + 3605);
    do_status(h);
    hx_free(h);
}

/* ---- system information ----------------------------------------------------------------- */

static void check_sysinfo(hx *h, const char *serial, ew_e3dc_model mdl, unsigned root, int ext) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_sysinfo(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_sysinfo *si = calloc(1, sizeof *si);
    assert_non_null(si);
    PARSE(ew_e3dc_parse_sysinfo, e, si);
    for (unsigned b = 0; b < EW_E3DC_SYSINFO_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(si, b));
    assert_int_equal(si->error.code, 0);
    assert_near(si->derate_pct, 70.0, 1e-9);
    assert_f32(si->derate_power_w, 0.7 * 9500.0);
    assert_int_equal(si->installed_peak_power_w, 9500);
    assert_int_equal(si->ext_src_available, ext);
    assert_string_equal(si->mac, "00:11:22:33:44:55");
    assert_string_equal(si->serial, serial);
    assert_string_equal(si->serial_prefix, "S10-");
    assert_int_equal(si->model, mdl);
    assert_int_equal(si->root_pm_index, root);
    assert_int_equal(si->nspecs, 18);
    assert_int_equal(si->nspecs_total, 18);
    for (unsigned i = 0; i < si->nspecs; i++) {
        assert_int_equal(si->specs[i].index, i);
        assert_false(si->specs[i].is_string);
        if (!strcmp(si->specs[i].name, "maxPvPower"))
            assert_int_equal(si->specs[i].value, 9500);
    }
    assert_string_equal(si->specs[0].name, "hybridModeSupported");
    assert_int_equal(si->installed_battery_capacity_wh, 10000);
    assert_int_equal(si->max_ac_power_w, 12000);
    assert_int_equal(si->max_bat_charge_power_w, 4500);
    assert_int_equal(si->max_bat_discharge_power_w, 4500);
    assert_int_equal(si->start_discharge_default_w, 65);
    WRITERS(sysinfo, si);
    free(si);

    r = rq_new();
    assert_int_equal(ew_e3dc_req_sysinfo_dyn(&r->b), EW_OK);
    e = call(h, r);
    ew_e3dc_sysinfo_dyn dy;
    PARSE(ew_e3dc_parse_sysinfo_dyn, e, &dy);
    for (unsigned b = 0; b < EW_E3DC_SYSDYN_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(&dy, b));
    assert_int_equal(dy.error.code, 0);
    assert_string_equal(dy.sw_release, "S10_2024_06");
    assert_string_equal(dy.production_date, "KW22 2022");
    assert_string_equal(dy.ip_address, "192.168.178.50");
    assert_string_equal(dy.time_zone, "Europe/Berlin");
    int64_t t = ew_e3dc_sim_time(h->sim);
    assert_int_equal(dy.utc_time.seconds, t / 1000);
    assert_int_equal(dy.local_time.seconds, t / 1000 + 3600);
    assert_int_equal(dy.utc_offset_s, 3600);
    WRITERS(sysinfo_dyn, &dy);
}

static void root6_config(ew_e3dc_sim_config *c) {
    config(c);
    c->pm_root_index = 6;
    c->ext_peak_w = 0;
    c->history_days = 2;
}

static void test_sysinfo(void **state) {
    (void)state;
    hx *h = hx_new(0);
    check_sysinfo(h, "S10-741234567890", EW_E3DC_MODEL_S10E_COMPACT, 0, 1);
    hx_free(h);

    /* An S10 Mini: root meter 6, no additional source. */
    ew_e3dc_sim_config c;
    root6_config(&c);
    h = hx_new_with(&c, 0);
    check_sysinfo(h, "S10-501234567890", EW_E3DC_MODEL_S10_MINI, 6, 0);
    hx_free(h);
}

static void check_topology(hx *h, unsigned root, int with_add) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_topology(&r->b, EW_E3DC_TOPO_ALL), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_topology t;
    PARSE(ew_e3dc_parse_topology, e, &t);
    assert_int_equal(t.probed, EW_E3DC_TOPO_ALL);
    assert_int_equal(t.nbatteries, 1);
    assert_int_equal(t.batteries[0].index, 0);
    assert_int_equal(t.batteries[0].dcb_count, 3);
    assert_int_equal(t.npvis, 1);
    assert_int_equal(t.pvis[0].index, 0);
    assert_int_equal(t.pvis[0].type, 3);
    assert_int_equal(t.pvis[0].trackers, 2);
    assert_int_equal(t.pvis[0].phases, 3);
    assert_int_equal(t.ntrackers, 2);
    assert_int_equal(t.npms, with_add ? 2 : 1);
    assert_int_equal(t.pms[0].index, root);
    assert_int_equal(t.pms[0].type, EW_E3DC_PM_TYPE_ROOT);
    if (with_add) {
        assert_int_equal(t.pms[1].index, root + 1);
        assert_int_equal(t.pms[1].type, 3);
    }
    assert_int_equal(t.root_pm_index, (int)root);
    assert_int_equal(t.nwallboxes, 1);
    assert_int_equal(t.wallboxes[0], 0);
    WRITERS(topology, &t);
}

static void test_topology(void **state) {
    (void)state;
    hx *h = hx_new(0);
    check_topology(h, 0, 1);
    hx_free(h);
    ew_e3dc_sim_config c;
    root6_config(&c);
    h = hx_new_with(&c, 0);
    check_topology(h, 6, 0);
    hx_free(h);
}

/* ---- devices ---------------------------------------------------------------------------- */

static void test_battery(void **state) {
    (void)state;
    hx *h = hx_new(0);
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_battery(&r->b, 0, EW_E3DC_BAT_ALL, EW_E3DC_DCB_PART_ALL, 0, 3),
                     EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_battery *bt = calloc(1, sizeof *bt);
    assert_non_null(bt);
    PARSE(ew_e3dc_parse_battery, e, 0, bt);
    ew_e3dc_sim_model m = model(h);

    for (unsigned b = 0; b < EW_E3DC_BAT_NFIELDS; b++)
        if (!EW_E3DC_HAS(bt, b))
            fail_msg("battery field %u missing", b);
    assert_int_equal(bt->error.code, 0);
    assert_int_equal(bt->index, 0);
    const double vnom = 3 * 14 * 3.7, cap_ah = 10000.0 / vnom;
    assert_f32(bt->rsoc_pct, m.soc_pct);
    assert_f32(bt->rsoc_real_pct, m.soc_pct);
    assert_int_equal(bt->device_connected, 1);
    assert_int_equal(bt->device_working, 1);
    assert_int_equal(bt->device_in_service, 0);
    assert_int_equal(bt->dcb_count, 3);
    int64_t cycles = (int64_t)floor(m.bat_discharge_wh / 10000.0);
    assert_int_equal(bt->charge_cycles, cycles);
    assert_f32(bt->design_capacity_ah, cap_ah);
    assert_f32(bt->max_bat_voltage_v, 42 * 4.2);
    assert_f32(bt->eod_voltage_v, 42 * 3.0);
    assert_f32(bt->max_charge_current_a, 4500.0 / vnom);
    assert_f32(bt->max_discharge_current_a, 4500.0 / vnom);
    assert_string_equal(bt->device_name, "SIM-BAT");
    assert_int_equal(bt->status_code, 0);
    assert_int_equal(bt->error_code, 0);
    assert_int_equal(bt->ready_for_shutdown, 0);
    assert_int_equal(bt->training_mode, 0);
    /* Seconds since the simulated installation, the start of the history. */
    int64_t install_ms = T0_MS - (int64_t)HISTORY_DAYS * 86400000;
    assert_int_equal(bt->total_use_time, (m.time_ms - install_ms) / 1000);
    assert_true(bt->total_discharge_time > 0 && bt->total_discharge_time < bt->total_use_time);

    assert_int_equal(bt->ndcbs, 3);
    assert_int_equal(bt->ndcbs_total, 3);
    double vsum = 0, soh_sum = 0, tmin = 1e9, tmax = -1e9;
    for (unsigned d = 0; d < 3; d++) {
        const ew_e3dc_dcb *dc = &bt->dcbs[d];
        for (unsigned b = 0; b < EW_E3DC_DCB_NFIELDS; b++)
            if (!EW_E3DC_HAS(dc, b))
                fail_msg("DCB %u field %u missing", d, b);
        assert_int_equal(dc->index, d);
        assert_int_equal(dc->ntemps, 4);
        assert_int_equal(dc->ntemps_total, 4);
        assert_int_equal(dc->nvoltages, 14);
        assert_int_equal(dc->nvoltages_total, 14);
        double cells = 0;
        for (unsigned k = 0; k < 14; k++) {
            assert_true(dc->voltages_v[k] > 3.0f && dc->voltages_v[k] < 4.3f);
            cells += dc->voltages_v[k];
        }
        for (unsigned k = 0; k < 4; k++) {
            assert_true(dc->temps_c[k] > 10.0f && dc->temps_c[k] < 40.0f);
            tmin = dc->temps_c[k] < tmin ? dc->temps_c[k] : tmin;
            tmax = dc->temps_c[k] > tmax ? dc->temps_c[k] : tmax;
        }
        /* A module's voltage is the sum of its cells. */
        assert_near(dc->voltage_v, cells, 1e-3);
        assert_near(dc->voltage_avg30s_v, cells, 1e-3);
        vsum += dc->voltage_v;
        assert_f32(dc->soc_pct, m.soc_pct);
        assert_true(dc->soh_pct >= 94.0 && dc->soh_pct <= 98.0);
        soh_sum += dc->soh_pct;
        assert_f32(dc->current_a, bt->current_a);
        assert_f32(dc->current_avg30s_a, bt->current_a);
        assert_int_equal(dc->cycle_count, cycles);
        assert_f32(dc->design_capacity_ah, cap_ah);
        assert_f32(dc->design_voltage_v, 14 * 3.7);
        assert_f32(dc->full_charge_capacity_ah, cap_ah * dc->soh_pct / 100.0);
        assert_f32(dc->remaining_capacity_ah, dc->full_charge_capacity_ah * dc->soc_pct / 100.0);
        assert_f32(dc->max_charge_voltage_v, 14 * 4.2);
        assert_f32(dc->max_charge_current_a, 4500.0 / vnom);
        assert_f32(dc->max_discharge_current_a, 4500.0 / vnom);
        assert_f32(dc->end_of_discharge_v, 14 * 3.0);
        assert_f32(dc->charge_high_temp_c, 45.0);
        assert_f32(dc->charge_low_temp_c, 0.0);
        assert_int_equal(dc->nr_sensor, 4);
        assert_int_equal(dc->nr_series_cell, 14);
        assert_int_equal(dc->nr_parallel_cell, 4);
        assert_int_equal(dc->status, 0);
        assert_int_equal(dc->warning, 0);
        assert_int_equal(dc->alarm, 0);
        assert_int_equal(dc->error_bits, 0);
        assert_int_equal(dc->manufacture_date, 1653955200);
        assert_int_equal(dc->fw_version, 0x0205);
        assert_int_equal(dc->pcb_version, 3);
        assert_int_equal(dc->protocol_version, 2);
        assert_string_equal(dc->device_name, "SIM-DCB");
        assert_string_equal(dc->manufacture_name, "energywire sim");
        char want[32];
        snprintf(want, sizeof want, "%u", 100000 + d);
        assert_string_equal(dc->serial_no, want);
        snprintf(want, sizeof want, "DCB-10741234567890-0%c", 'A' + d);
        assert_string_equal(dc->serial_code, want);
    }
    /* The string: its modules in series. */
    assert_near(bt->module_voltage_v, vsum, 1e-2);
    assert_f32(bt->terminal_voltage_v, bt->module_voltage_v - 0.002 * fabs(bt->current_a));
    assert_near(bt->asoc_pct, soh_sum / 3.0, 1e-4);
    assert_f32(bt->fcc_ah, cap_ah * bt->asoc_pct / 100.0);
    assert_f32(bt->usable_capacity_ah, bt->fcc_ah);
    assert_f32(bt->rc_ah, bt->fcc_ah * bt->rsoc_pct / 100.0);
    assert_f32(bt->usable_remaining_capacity_ah, bt->rc_ah);
    assert_near(bt->max_dcb_cell_temp_c, tmax, 1e-9);
    assert_near(bt->min_dcb_cell_temp_c, tmin, 1e-9);
    /* Current times voltage is the battery power of the model. */
    assert_true(m.battery_w > 100);
    assert_near(bt->current_a * bt->module_voltage_v, m.battery_w, fabs(m.battery_w) * 1e-5);
    WRITERS(battery, bt);

    /* There is no second battery string: BAT_DATA Error 6. */
    r = rq_new();
    assert_int_equal(ew_e3dc_req_battery(&r->b, 1, 1ull << EW_E3DC_BAT_RSOC, 0, 0, 0), EW_OK);
    e = call(h, r);
    PARSE(ew_e3dc_parse_battery, e, 1, bt);
    assert_int_equal(bt->error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(bt->error.whole, 1);
    assert_int_equal(bt->present, 0);
    /* A DCB the string does not have: that part refused, the rest there. */
    r = rq_new();
    assert_int_equal(
        ew_e3dc_req_battery(&r->b, 0, 1ull << EW_E3DC_BAT_RSOC, EW_E3DC_DCB_PART_INFO, 2, 2),
        EW_OK);
    e = call(h, r);
    PARSE(ew_e3dc_parse_battery, e, 0, bt);
    assert_true(EW_E3DC_HAS(bt, EW_E3DC_BAT_RSOC));
    assert_int_equal(bt->ndcbs, 1);
    assert_int_equal(bt->dcbs[0].index, 2);
    assert_int_equal(bt->error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(bt->error.whole, 0);
    free(bt);
    hx_free(h);
}

static void test_pvi(void **state) {
    (void)state;
    hx *h = hx_new(0);
    rq *r = rq_new();
    unsigned parts = EW_E3DC_PVI_PART_INFO | EW_E3DC_PVI_PART_TRACKERS | EW_E3DC_PVI_PART_PHASES |
                     EW_E3DC_PVI_PART_TEMPS;
    assert_int_equal(ew_e3dc_req_pvi(&r->b, 0, parts, 2, 3, 2), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_pvi *pv = calloc(1, sizeof *pv);
    assert_non_null(pv);
    PARSE(ew_e3dc_parse_pvi, e, 0, pv);
    ew_e3dc_sim_model m = model(h);

    for (unsigned b = 0; b < EW_E3DC_PVI_NFIELDS; b++)
        if (!EW_E3DC_HAS(pv, b))
            fail_msg("PVI field %u missing", b);
    assert_int_equal(pv->error.code, 0);
    assert_int_equal(pv->index, 0);
    assert_int_equal(pv->type, 3);
    assert_string_equal(ew_e3dc_pvi_type_name(pv->type), "E3DC_E");
    assert_string_equal(pv->serial, "PVI-SIM-0001");
    assert_string_equal(pv->version, "1.2.3");
    assert_int_equal(pv->on_grid, 1);
    assert_string_equal(pv->state, "RUNNING");
    assert_string_equal(pv->last_error, "");
    assert_f32(pv->cos_phi, 1.0);
    assert_int_equal(pv->cos_phi_active, 0);
    assert_int_equal(pv->cos_phi_excited, 0);
    assert_f32(pv->vm_threshold_top_v, 253.0);
    assert_f32(pv->vm_threshold_bottom_v, 195.5);
    assert_f32(pv->vm_slope_up, 0.1);
    assert_f32(pv->vm_slope_down, 0.1);
    assert_int_equal(pv->power_mode, 1);
    assert_int_equal(pv->system_mode, 1);
    assert_f32(pv->frequency_under_hz, 47.5);
    assert_f32(pv->frequency_over_hz, 51.5);
    assert_f32(pv->ac_max_apparent_power_va, 12000.0 / 3);
    assert_int_equal(pv->device_connected, 1);
    assert_int_equal(pv->device_working, 1);
    assert_int_equal(pv->device_in_service, 0);
    assert_int_equal(pv->max_phase_count, 3);
    assert_int_equal(pv->max_string_count, 2);
    assert_int_equal(pv->used_string_count, 2);
    assert_int_equal(pv->temperature_count, 2);

    /* Trackers: the model's DC strings. */
    assert_int_equal(pv->ntrackers, 2);
    assert_int_equal(pv->ntrackers_total, 2);
    double dc = 0;
    for (unsigned t = 0; t < 2; t++) {
        const ew_e3dc_pvi_tracker *k = &pv->trackers[t];
        for (unsigned b = 0; b < EW_E3DC_TRK_NFIELDS; b++)
            assert_true(EW_E3DC_HAS(k, b));
        assert_int_equal(k->index, t);
        assert_f32(k->power_w, m.tracker_w[t]);
        assert_true(m.tracker_w[t] > 100);
        assert_true(k->voltage_v > 290 && k->voltage_v < 560);
        assert_near(k->current_a * k->voltage_v, k->power_w, k->power_w * 1e-5);
        assert_true(k->energy_wh > 0);
        dc += k->power_w;
    }
    assert_near(dc, m.pv_w, m.pv_w * 1e-5);

    /* Phases: the hybrid inverter's AC side, PV minus battery, split evenly. */
    assert_int_equal(pv->nphases, 3);
    assert_int_equal(pv->nphases_total, 3);
    double ac = (m.pv_w - m.battery_w) / 3.0;
    for (unsigned p = 0; p < 3; p++) {
        const ew_e3dc_pvi_phase *ph = &pv->phases[p];
        for (unsigned b = 0; b < EW_E3DC_PH_NFIELDS; b++)
            assert_true(EW_E3DC_HAS(ph, b));
        assert_int_equal(ph->index, p);
        assert_f32(ph->power_w, ac);
        assert_true(ph->voltage_v > 227 && ph->voltage_v < 233);
        assert_f32(ph->current_a, fabs(ac) / ph->voltage_v);
        assert_f32(ph->apparent_power_va, fabs(ac) * 1.002);
        assert_f32(ph->reactive_power_var, fabs(ac) * 0.06);
        assert_true(ph->energy_wh > 0);
        assert_true(ph->energy_grid_consumption_wh >= 0);
    }

    /* Temperatures: sensor 1 is the warmest, sensor 0 the coolest. */
    assert_int_equal(pv->ntemps, 2);
    assert_int_equal(pv->ntemps_total, 2);
    for (unsigned k = 0; k < 2; k++) {
        assert_int_equal(pv->temps[k].index, k);
        assert_true(pv->temps[k].temp_c > 20 && pv->temps[k].temp_c < 50);
    }
    assert_true(pv->temps[1].temp_c > pv->temps[0].temp_c);
    assert_near(pv->min_temp_c, pv->temps[0].temp_c, 1e-9);
    assert_near(pv->max_temp_c, pv->temps[1].temp_c, 1e-9);
    WRITERS(pvi, pv);

    /* Items the inverter does not have are refused one by one. */
    r = rq_new();
    assert_int_equal(ew_e3dc_req_pvi(&r->b, 0, EW_E3DC_PVI_PART_TRACKERS, 4, 0, 0), EW_OK);
    e = call(h, r);
    PARSE(ew_e3dc_parse_pvi, e, 0, pv);
    assert_int_equal(pv->ntrackers, 2);
    assert_int_equal(pv->error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(pv->error.whole, 0);

    /* There is no second inverter: PVI_DATA without PVI_TYPE. */
    r = rq_new();
    assert_int_equal(ew_e3dc_req_pvi(&r->b, 1, parts, 2, 3, 2), EW_OK);
    e = call(h, r);
    PARSE(ew_e3dc_parse_pvi, e, 1, pv);
    assert_int_equal(pv->index, 1);
    assert_false(EW_E3DC_HAS(pv, EW_E3DC_PVI_TYPE));
    assert_int_equal(pv->ntrackers, 0);
    assert_int_equal(pv->nphases, 0);
    free(pv);
    hx_free(h);
}

static ew_e3dc_pm read_pm(hx *h, unsigned index) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_pm(&r->b, index), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_pm pm;
    PARSE(ew_e3dc_parse_pm, e, index, &pm);
    assert_int_equal(pm.index, index);
    assert_int_equal(pm.error.code, 0);
    WRITERS(pm, &pm);
    return pm;
}

/* The grid meter: house load split 40/35/25 %, the wallbox on its phases,
 * minus what the inverter and the additional source feed per phase. */
static void check_root_pm(const ew_e3dc_pm *pm, const ew_e3dc_sim_model *m) {
    for (unsigned b = 0; b < EW_E3DC_PM_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(pm, b));
    assert_int_equal(pm->type, EW_E3DC_PM_TYPE_ROOT);
    assert_string_equal(ew_e3dc_pm_type_name(pm->type), "ROOT");
    static const double share[3] = {0.40, 0.35, 0.25};
    double wb[3] = {0, 0, 0};
    for (unsigned w = 0; w < m->nwallboxes; w++)
        for (int i = 0; i < 3; i++)
            wb[i] += m->wallbox[w].phases == 1 ? (i == 0 ? m->wallbox[w].power_w : 0.0)
                                               : m->wallbox[w].power_w / 3.0;
    double inv = (m->pv_w - m->battery_w) / 3.0, add = m->add_w / 3.0;
    const double got[3] = {pm->power_l1_w, pm->power_l2_w, pm->power_l3_w};
    for (int i = 0; i < 3; i++)
        assert_near(got[i], m->house_w * share[i] + wb[i] - inv - add, 1e-6);
    assert_near(got[0] + got[1] + got[2], m->grid_w, 1e-6);
    const double volt[3] = {pm->voltage_l1_v, pm->voltage_l2_v, pm->voltage_l3_v};
    const double en[3] = {pm->energy_l1_wh, pm->energy_l2_wh, pm->energy_l3_wh};
    for (int i = 0; i < 3; i++) {
        assert_true(volt[i] > 227 && volt[i] < 233);
        assert_true(en[i] >= 0); /* imported energy; a phase may never import */
    }
    assert_near(pm->max_phase_power_w, 63 * 230.0, 1e-6);
    assert_int_equal(pm->active_phases, 7);
    assert_int_equal(pm->mode, 1);
}

static void test_pm(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_pm pm = read_pm(h, 0);
    ew_e3dc_sim_model m = model(h);
    check_root_pm(&pm, &m);

    /* Meter 1: the additional source, production as negative power. */
    pm = read_pm(h, 1);
    m = model(h);
    assert_int_equal(pm.type, 3);
    assert_string_equal(ew_e3dc_pm_type_name(pm.type), "ADDITIONAL_PRODUCTION");
    assert_true(m.add_w > 100);
    assert_near(pm.power_l1_w, -m.add_w / 3.0, 1e-6);
    assert_near(pm.power_l2_w, -m.add_w / 3.0, 1e-6);
    assert_near(pm.power_l3_w, -m.add_w / 3.0, 1e-6);
    assert_near(pm.energy_l1_wh, m.add_wh / 3.0, 1e-6);
    assert_near(pm.energy_l3_wh, m.add_wh / 3.0, 1e-6);

    /* Meter 2 does not exist: no PM_TYPE. */
    pm = read_pm(h, 2);
    assert_false(EW_E3DC_HAS(&pm, EW_E3DC_PM_TYPE));
    assert_int_equal(pm.present, 0);
    hx_free(h);

    /* Root meter 6 (S10 Mini): meter 0 is absent. */
    ew_e3dc_sim_config c;
    root6_config(&c);
    h = hx_new_with(&c, 0);
    pm = read_pm(h, 6);
    m = model(h);
    check_root_pm(&pm, &m);
    pm = read_pm(h, 0);
    assert_int_equal(pm.present, 0);
    hx_free(h);
}

/* ---- wallbox and battery-to-car ----------------------------------------------------------- */

static ew_e3dc_wallbox read_wb(hx *h, unsigned index) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_wallbox(&r->b, index), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_wallbox w;
    PARSE(ew_e3dc_parse_wallbox, e, index, &w);
    WRITERS(wallbox, &w);
    return w;
}

static int64_t round_half_up(double x) {
    return (int64_t)floor(x + 0.5);
}

/* Reads wallbox 0 and compares it with the model. */
static ew_e3dc_wallbox check_wb(hx *h, int btc) {
    ew_e3dc_wallbox w = read_wb(h, 0);
    ew_e3dc_sim_model m = model(h);
    const ew_e3dc_sim_wallbox_state *s = &m.wallbox[0];
    for (unsigned b = 0; b < EW_E3DC_WB_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(&w, b));
    assert_int_equal(w.error.code, 0);
    assert_int_equal(w.index, 0);
    assert_int_equal(w.soc, round_half_up(s->car_soc_pct));
    assert_int_equal(w.phases, s->phases);
    assert_int_equal(w.sun_mode, s->sun_mode);
    assert_int_equal(w.charging_canceled, s->cancelled);
    assert_int_equal(w.charging_active, s->charging);
    assert_int_equal(w.plugged, s->plugged);
    assert_int_equal(w.plug_locked, s->plugged);
    assert_int_equal(w.max_current_a, s->max_current_a);
    assert_int_equal(w.schuko_on, s->schuko_on);
    assert_int_equal(w.sun_power_w, round_half_up(s->solar_w));
    assert_int_equal(w.net_power_w, round_half_up(s->power_w - s->solar_w));
    assert_int_equal(w.sun_energy_wh, round_half_up(s->energy_solar_wh));
    assert_int_equal(w.net_energy_wh, round_half_up(s->energy_grid_wh));
    assert_int_equal(w.total_energy_wh, w.sun_energy_wh + w.net_energy_wh);
    assert_int_equal(w.app_software, 61);
    assert_int_equal(w.key_state, 0);
    assert_int_equal(w.battery_to_car, btc);
    return w;
}

static ew_e3dc_result wb_cmd(hx *h, unsigned index, ew_e3dc_wb_cmd cmd, unsigned value) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_wallbox_set(&r->b, index, cmd, value), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_wallbox_set, e, &res);
    WRITERS(result, &res);
    return res;
}

static void wb_ok(hx *h, ew_e3dc_wb_cmd cmd, unsigned value) {
    ew_e3dc_result res = wb_cmd(h, 0, cmd, value);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.error.code, 0);
    assert_int_equal(res.tag, cmd == EW_E3DC_WB_SET_MAX_CURRENT ? EW_RSCP_TAG_WB_SET_PARAM_1
                                                                : EW_RSCP_TAG_WB_SET_EXTERN);
}

static void test_wallbox(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_wallbox w = check_wb(h, 0);
    /* Fresh wallbox: sun mode, one phase, 16 A, schuko off; the car is in. */
    assert_int_equal(w.sun_mode, 1);
    assert_int_equal(w.phases, 1);
    assert_int_equal(w.max_current_a, 16);
    assert_int_equal(w.schuko_on, 0);
    assert_int_equal(w.plugged, 1);
    assert_int_equal(w.charging_active, 1);

    wb_ok(h, EW_E3DC_WB_SET_SUN_MODE, 0);
    assert_int_equal(model(h).wallbox[0].sun_mode, 0);
    check_wb(h, 0);
    wb_ok(h, EW_E3DC_WB_SET_SUN_MODE, 1);
    assert_int_equal(model(h).wallbox[0].sun_mode, 1);
    check_wb(h, 0);

    /* The schuko socket; sun mode stays as it is. */
    wb_ok(h, EW_E3DC_WB_SET_SCHUKO, 1);
    assert_int_equal(model(h).wallbox[0].schuko_on, 1);
    assert_int_equal(model(h).wallbox[0].sun_mode, 1);
    check_wb(h, 0);
    wb_ok(h, EW_E3DC_WB_SET_SCHUKO, 0);
    assert_int_equal(model(h).wallbox[0].schuko_on, 0);
    check_wb(h, 0);

    /* Maximum current: the car draws at most that; the wallbox clips the
     * setting to 6..32 A. */
    wb_ok(h, EW_E3DC_WB_SET_MAX_CURRENT, 10);
    ew_e3dc_sim_model m = model(h);
    assert_int_equal(m.wallbox[0].max_current_a, 10);
    assert_true(m.wallbox[0].power_w > 0 && m.wallbox[0].power_w <= 10 * 230.0 + 1e-6);
    w = check_wb(h, 0);
    assert_int_equal(w.max_current_a, 10);
    wb_ok(h, EW_E3DC_WB_SET_MAX_CURRENT, 40);
    assert_int_equal(model(h).wallbox[0].max_current_a, 32);
    wb_ok(h, EW_E3DC_WB_SET_MAX_CURRENT, 2);
    assert_int_equal(model(h).wallbox[0].max_current_a, 6);
    wb_ok(h, EW_E3DC_WB_SET_MAX_CURRENT, 16);
    check_wb(h, 0);

    /* Toggling charging stops and restarts the car. */
    wb_ok(h, EW_E3DC_WB_TOGGLE_CHARGING, 0);
    m = model(h);
    assert_int_equal(m.wallbox[0].cancelled, 1);
    assert_near(m.wallbox[0].power_w, 0.0, 0.0);
    w = check_wb(h, 0);
    assert_int_equal(w.charging_canceled, 1);
    assert_int_equal(w.charging_active, 0);
    assert_int_equal(do_poll(h).wallbox_power_w, 0);
    wb_ok(h, EW_E3DC_WB_TOGGLE_CHARGING, 0);
    assert_int_equal(model(h).wallbox[0].cancelled, 0);
    assert_true(model(h).wallbox[0].power_w > 0);
    check_wb(h, 0);

    /* Toggling the phases: 1 -> 3 -> 1. */
    wb_ok(h, EW_E3DC_WB_TOGGLE_PHASES, 0);
    assert_int_equal(model(h).wallbox[0].phases, 3);
    assert_int_equal(check_wb(h, 0).phases, 3);
    wb_ok(h, EW_E3DC_WB_TOGGLE_PHASES, 0);
    assert_int_equal(model(h).wallbox[0].phases, 1);
    check_wb(h, 0);

    /* There is no second wallbox. */
    w = read_wb(h, 1);
    assert_int_equal(w.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(w.error.whole, 1);
    assert_false(EW_E3DC_HAS(&w, EW_E3DC_WB_ALG));
    ew_e3dc_result res = wb_cmd(h, 1, EW_E3DC_WB_SET_SCHUKO, 1);
    assert_int_equal(res.ok, 0);
    assert_int_equal(res.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(model(h).wallbox[0].schuko_on, 0);

    /* Arguments the protocol cannot carry are refused before sending. */
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_wallbox_set(&r->b, 0, EW_E3DC_WB_SET_MAX_CURRENT, 0),
                     EW_ERR_RANGE);
    free(r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_wallbox_set(&r->b, 256, EW_E3DC_WB_SET_SCHUKO, 1), EW_ERR_RANGE);
    free(r);
    hx_free(h);
}

static ew_e3dc_result btc_get(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_battery_to_car(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_battery_to_car, e, &res);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.has_value, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_EMS_BATTERY_TO_CAR_MODE);
    return res;
}

static void btc_set(hx *h, int on) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_battery_to_car_set(&r->b, on), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_battery_to_car_set, e, &res);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_EMS_SET_BATTERY_TO_CAR_MODE);
    assert_int_equal(res.has_value, 1);
    assert_int_equal(res.value, on ? 1 : 0);
}

static void test_battery_to_car(void **state) {
    (void)state;
    hx *h = hx_new(0);
    assert_int_equal(btc_get(h).value, 0);
    check_wb(h, 0);
    btc_set(h, 1);
    assert_int_equal(btc_get(h).value, 1);
    check_wb(h, 1);

    /* Its effect: in the evening, with the car charging at full power in
     * mixed mode, the battery feeds the car only with the mode on. */
    advance(h, 11 * 3600 * 1000); /* 20:00 plant time */
    wb_ok(h, EW_E3DC_WB_SET_SUN_MODE, 0);
    ew_e3dc_sim_model m = model(h);
    assert_true(m.wallbox[0].plugged);
    assert_true(m.wallbox[0].power_w > 1000);
    assert_true(m.soc_pct > 5);
    assert_true(m.battery_w < -(m.house_w - m.pv_w - m.add_w) - 100);
    btc_set(h, 0);
    assert_int_equal(btc_get(h).value, 0);
    m = model(h);
    assert_near(m.battery_w, -(m.house_w - m.pv_w - m.add_w), 1e-6);
    check_wb(h, 0);
    do_poll(h);
    hx_free(h);
}

/* ---- switches and idle periods ------------------------------------------------------------- */

static ew_e3dc_switches read_switches(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_switches(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_switches sw;
    PARSE(ew_e3dc_parse_switches, e, &sw);
    ew_e3dc_sim_model m = model(h);
    static const char *names[3] = {"Garden pump", "Heat pump boost", "Garage light"};
    static const int types[3] = {1, 1, 2};
    assert_true(EW_E3DC_HAS(&sw, EW_E3DC_SWITCHES_LIST));
    assert_true(EW_E3DC_HAS(&sw, EW_E3DC_SWITCHES_STATES));
    assert_int_equal(sw.error.code, 0);
    assert_int_equal(sw.n, 3);
    assert_int_equal(sw.total, 3);
    assert_int_equal(m.nswitches, 3);
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned b = 0; b < EW_E3DC_SWITCH_NFIELDS; b++)
            assert_true(EW_E3DC_HAS(&sw.sw[i], b));
        assert_int_equal(sw.sw[i].id, i);
        assert_string_equal(sw.sw[i].name, names[i]);
        assert_int_equal(sw.sw[i].type, types[i]);
        assert_int_equal(sw.sw[i].state, m.switch_on[i]);
        assert_int_equal(sw.sw[i].mode, 0);
    }
    WRITERS(switches, &sw);
    return sw;
}

static ew_e3dc_result switch_set(hx *h, unsigned id, int on) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_switch_set(&r->b, id, on), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_switch_set, e, &res);
    return res;
}

static void test_switches(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_switches sw = read_switches(h);
    assert_int_equal(sw.sw[0].state, 0);
    assert_int_equal(sw.sw[1].state, 0);
    assert_int_equal(sw.sw[2].state, 1);

    /* Switching adds or removes the switch's load at once. */
    double before = model(h).house_w;
    ew_e3dc_result res = switch_set(h, 1, 1);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_HA_COMMAND_ACTUATOR);
    assert_int_equal(res.error.code, 0);
    ew_e3dc_sim_model m = model(h);
    assert_int_equal(m.switch_on[1], 1);
    assert_near(m.house_w - before, 2000.0, 1e-6);
    assert_int_equal(read_switches(h).sw[1].state, 1);
    assert_int_equal(do_poll(h).house_power_w, lround(before + 2000.0));

    before = model(h).house_w;
    assert_int_equal(switch_set(h, 2, 0).ok, 1);
    assert_int_equal(model(h).switch_on[2], 0);
    assert_near(model(h).house_w - before, -60.0, 1e-6);
    assert_int_equal(switch_set(h, 1, 0).ok, 1);
    sw = read_switches(h);
    assert_int_equal(sw.sw[1].state, 0);
    assert_int_equal(sw.sw[2].state, 0);

    /* An unknown switch is refused and nothing changes. */
    res = switch_set(h, 5, 1);
    assert_int_equal(res.ok, 0);
    assert_int_equal(res.error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    m = model(h);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(m.switch_on[i], 0);
    hx_free(h);
}

static ew_e3dc_idle_periods read_idle(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_idle_periods(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_idle_periods ip;
    PARSE(ew_e3dc_parse_idle_periods, e, &ip);
    assert_int_equal(ip.error.code, 0);
    assert_int_equal(ip.n, 14);
    assert_int_equal(ip.total, 14);
    WRITERS(idle_periods, &ip);
    return ip;
}

static void test_idle_periods(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_idle_periods ip = read_idle(h);
    for (unsigned i = 0; i < 14; i++) {
        assert_int_equal(ip.p[i].type, i / 7);
        assert_int_equal(ip.p[i].day, i % 7);
        assert_int_equal(ip.p[i].active, 0);
        assert_int_equal(ip.p[i].start_hour + ip.p[i].start_minute, 0);
        assert_int_equal(ip.p[i].end_hour + ip.p[i].end_minute, 0);
    }
    assert_true(model(h).battery_w > 100); /* charging now */

    /* No charging on Saturday 08:30-10:00 (now is 09:00), no discharging on
     * Monday evening. */
    ew_e3dc_idle_period set[2] = {
        {EW_E3DC_IDLE_CHARGE, SATURDAY, 1, 8, 30, 10, 0},
        {EW_E3DC_IDLE_DISCHARGE, 0, 1, 20, 0, 23, 59},
    };
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_idle_periods_set(&r->b, set, 2), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_idle_periods_set, e, &res);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.value, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_EMS_SET_IDLE_PERIODS);

    ew_e3dc_sim_model m = model(h);
    assert_true(m.sys_status & (1u << 16));
    assert_false(m.sys_status & (1u << 17));
    assert_true(m.ems_status & 32u);
    assert_near(m.battery_w, 0.0, 0.0);
    assert_true(do_status(h).bits.charge_idle_period_active);
    assert_int_equal(do_poll(h).battery_power_w, 0);

    ip = read_idle(h);
    for (unsigned i = 0; i < 14; i++) {
        const ew_e3dc_idle_period *p = &ip.p[i];
        const ew_e3dc_idle_period *want = NULL;
        for (int k = 0; k < 2; k++)
            if (set[k].type == p->type && set[k].day == p->day)
                want = &set[k];
        if (want) {
            assert_memory_equal(p, want, sizeof *p);
        } else {
            assert_int_equal(p->active, 0);
            assert_int_equal(p->start_hour + p->start_minute + p->end_hour + p->end_minute, 0);
        }
    }

    /* At 10:00 the period is over and the battery charges again. */
    advance(h, 3600 * 1000);
    do_poll(h);
    m = model(h);
    assert_false(m.sys_status & (1u << 16));
    do_status(h);

    /* A period that ends before it starts is refused before sending. */
    ew_e3dc_idle_period bad = {EW_E3DC_IDLE_CHARGE, 1, 1, 12, 0, 11, 0};
    r = rq_new();
    assert_int_equal(ew_e3dc_req_idle_periods_set(&r->b, &bad, 1), EW_ERR_RANGE);
    free(r);
    hx_free(h);
}

/* ---- history ------------------------------------------------------------------------------ */

static void check_hist_values(const ew_e3dc_history_values *v, const ew_e3dc_sim_energy *e,
                              double index) {
    for (unsigned b = 0; b < EW_E3DC_HIST_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(v, b));
    double prod = e->pv_wh + e->add_wh, cons = e->consumption_wh;
    assert_near(v->graph_index, index, 0.0);
    assert_f32(v->bat_charge_wh, e->bat_charge_wh);
    assert_f32(v->bat_discharge_wh, e->bat_discharge_wh);
    assert_f32(v->pv_wh, e->pv_wh);
    assert_f32(v->grid_export_wh, e->grid_export_wh);
    assert_f32(v->grid_import_wh, e->grid_import_wh);
    assert_f32(v->consumption_wh, e->house_wh + e->wallbox_wh);
    assert_f32(v->pm0_wh, e->add_wh);
    assert_f32(v->pm1_wh, e->wallbox_wh);
    assert_f32(v->bat_soc_pct, e->soc_avg_pct);
    assert_f32(v->bat_cycles, e->bat_discharge_wh / 10000.0);
    assert_f32(v->consumed_production_pct,
               prod > 0 ? 100.0 * (prod - e->grid_export_wh) / prod : 0);
    assert_f32(v->autarky_pct, cons > 0 ? 100.0 * (cons - e->grid_import_wh) / cons : 0);
    /* Energy in = energy out, as the database keeps it. */
    double in = v->pv_wh + v->pm0_wh + v->grid_import_wh + v->bat_discharge_wh;
    double out = v->consumption_wh + v->grid_export_wh + v->bat_charge_wh;
    assert_near(in, out, 1e-5 * in + 1e-3);
}

static void test_history(void **state) {
    (void)state;
    hx *h = hx_new(0);
    /* T0 is 09:00 plant time; local midnight is 09:00 earlier. */
    const int64_t today = T0_S - 9 * 3600, yesterday = today - 86400;
    /* 2024-03-01 and 2024-01-01 00:00 plant time. */
    const int64_t march = INT64_C(1709251200) - 3600, january = INT64_C(1704067200) - 3600;
    const struct {
        ew_e3dc_history_kind kind;
        int64_t start;
        uint64_t interval, span;
    } cases[] = {
        {EW_E3DC_HISTORY_DAY, yesterday, 86400, 86400},
        {EW_E3DC_HISTORY_DAY, yesterday, 3600, 86400},
        {EW_E3DC_HISTORY_DAY, today, 900, 86400}, /* partly in the future */
        {EW_E3DC_HISTORY_WEEK, today - 7 * 86400, 86400, 7 * 86400},
        {EW_E3DC_HISTORY_MONTH, march, 86400, 31 * 86400},
        {EW_E3DC_HISTORY_YEAR, january, 366 * 86400, 366 * 86400},
        {EW_E3DC_HISTORY_YEAR, january, 31 * 86400, 366 * 86400},
    };
    static const unsigned flags[] = {0, EW_E3DC_HISTORY_UINT64, EW_E3DC_HISTORY_UTC_START,
                                     EW_E3DC_HISTORY_UINT64 | EW_E3DC_HISTORY_UTC_START};
    ew_e3dc_history *first = calloc(1, sizeof *first), *hs = calloc(1, sizeof *hs);
    assert_non_null(first);
    assert_non_null(hs);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ew_e3dc_sim_energy sum;
        int buckets = ew_e3dc_sim_history(h->sim, cases[c].start, (int64_t)cases[c].span, &sum);
        assert_true(buckets > 0);
        assert_true(sum.pv_wh > 0 && sum.consumption_wh > 0);
        unsigned nv = (unsigned)((cases[c].span + cases[c].interval - 1) / cases[c].interval);
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            rq *r = rq_new();
            assert_int_equal(ew_e3dc_req_history(&r->b, cases[c].kind, cases[c].start,
                                                 cases[c].interval, cases[c].span, flags[f]),
                             EW_OK);
            const cev *e = call(h, r);
            PARSE(ew_e3dc_parse_history, e, hs);
            assert_int_equal(hs->kind, cases[c].kind);
            assert_int_equal(hs->error.code, 0);
            check_hist_values(&hs->sum, &sum, 0);
            assert_int_equal(hs->nvalues, nv);
            assert_int_equal(hs->nvalues_total, nv);
            for (unsigned i = 0; i < nv; i++) {
                int64_t a = cases[c].start + (int64_t)(i * cases[c].interval);
                int64_t end = cases[c].start + (int64_t)cases[c].span;
                int64_t len =
                    end - a < (int64_t)cases[c].interval ? end - a : (int64_t)cases[c].interval;
                ew_e3dc_sim_energy one;
                if (ew_e3dc_sim_history(h->sim, a, len, &one) == 0)
                    memset(&one, 0, sizeof one);
                check_hist_values(&hs->values[i], &one, i);
            }
            /* Both encodings of the time parameters give the same answer. */
            if (f == 0) {
                WRITERS(history, hs);
                memcpy(first, hs, sizeof *hs);
            } else {
                assert_memory_equal(&first->sum, &hs->sum, sizeof hs->sum);
                assert_memory_equal(first->values, hs->values, nv * sizeof hs->values[0]);
            }
        }
    }

    /* A day without data (the day after tomorrow): Error 6. */
    rq *r = rq_new();
    assert_int_equal(
        ew_e3dc_req_history(&r->b, EW_E3DC_HISTORY_DAY, today + 2 * 86400, 86400, 86400, 0), EW_OK);
    const cev *e = call(h, r);
    PARSE(ew_e3dc_parse_history, e, hs);
    assert_int_equal(hs->error.code, EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(hs->error.whole, 1);
    assert_int_equal(hs->nvalues, 0);
    /* A span the protocol refuses is not sent. */
    r = rq_new();
    assert_int_equal(ew_e3dc_req_history(&r->b, EW_E3DC_HISTORY_DAY, today, 0, 86400, 0),
                     EW_ERR_RANGE);
    free(r);
    free(first);
    free(hs);
    hx_free(h);
}

/* ---- power settings ------------------------------------------------------------------------- */

static void assert_ps_equal(const ew_e3dc_power_settings *p, const ew_e3dc_sim_power_settings *s) {
    assert_int_equal(p->limits_used, s->limits_used);
    assert_int_equal(p->max_charge_power_w, s->max_charge_w);
    assert_int_equal(p->max_discharge_power_w, s->max_discharge_w);
    assert_int_equal(p->discharge_start_power_w, s->discharge_start_w);
    assert_int_equal(p->powersave, s->powersave);
    assert_int_equal(p->weather_regulated_charge, s->weather_regulated);
    assert_int_equal(p->weather_forecast_mode, s->weather_forecast_mode);
}

static ew_e3dc_power_settings read_ps(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_power_settings(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_power_settings p;
    PARSE(ew_e3dc_parse_power_settings, e, &p);
    for (unsigned b = 0; b < EW_E3DC_PS_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(&p, b));
    assert_int_equal(p.error.code, 0);
    ew_e3dc_sim_power_settings s;
    ew_e3dc_sim_get_power_settings(h->sim, &s);
    assert_ps_equal(&p, &s);
    WRITERS(power_settings, &p);
    return p;
}

/* Writes |chg| (only its named fields) and returns the device's verdict. */
static ew_e3dc_power_settings_result write_ps(hx *h, const ew_e3dc_power_settings *chg) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_set_power_settings(&r->b, chg), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_power_settings_result res;
    PARSE(ew_e3dc_parse_power_settings_set, e, &res);
    assert_int_equal(res.error.code, 0);
    /* One result per field sent, and none for the others. */
    assert_int_equal(res.present, chg->present);
    WRITERS(power_settings_result, &res);
    return res;
}

/* Read-modify-write: the fields not named keep their values. */
static void rmw(hx *h, const ew_e3dc_power_settings *chg, int overall) {
    ew_e3dc_power_settings cur = read_ps(h), want;
    ew_e3dc_power_settings_merge(&cur, chg, &want);
    ew_e3dc_power_settings_result res = write_ps(h, chg);
    assert_int_equal(res.overall, overall);
    ew_e3dc_sim_power_settings s;
    ew_e3dc_sim_get_power_settings(h->sim, &s);
    if (overall == EW_E3DC_RES_OK)
        assert_ps_equal(&want, &s);
    ew_e3dc_power_settings now = read_ps(h);
    /* Unnamed fields unchanged, whatever the device did with the others. */
    for (unsigned b = 0; b < EW_E3DC_PS_NFIELDS; b++) {
        if (EW_E3DC_HAS(chg, b))
            continue;
        switch (b) {
        case EW_E3DC_PS_LIMITS_USED:
            assert_int_equal(now.limits_used, cur.limits_used);
            break;
        case EW_E3DC_PS_MAX_CHARGE:
            assert_int_equal(now.max_charge_power_w, cur.max_charge_power_w);
            break;
        case EW_E3DC_PS_MAX_DISCHARGE:
            assert_int_equal(now.max_discharge_power_w, cur.max_discharge_power_w);
            break;
        case EW_E3DC_PS_DISCHARGE_START:
            assert_int_equal(now.discharge_start_power_w, cur.discharge_start_power_w);
            break;
        case EW_E3DC_PS_POWERSAVE:
            assert_int_equal(now.powersave, cur.powersave);
            break;
        case EW_E3DC_PS_WEATHER_REGULATED:
            assert_int_equal(now.weather_regulated_charge, cur.weather_regulated_charge);
            break;
        default:
            assert_int_equal(now.weather_forecast_mode, cur.weather_forecast_mode);
            break;
        }
    }
}

#define PS_BIT(f) (1ull << EW_E3DC_PS_##f)

static void test_power_settings(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_power_settings p = read_ps(h);
    /* A fresh installation. */
    assert_int_equal(p.limits_used, 0);
    assert_int_equal(p.max_charge_power_w, 4500);
    assert_int_equal(p.max_discharge_power_w, 4500);
    assert_int_equal(p.discharge_start_power_w, 65);
    assert_int_equal(p.powersave, 1);
    assert_int_equal(p.weather_regulated_charge, 0);
    assert_int_equal(p.weather_forecast_mode, 0);
    assert_true(model(h).battery_w > 1000);

    /* Limit charging to 800 W: the model follows. */
    ew_e3dc_power_settings chg;
    memset(&chg, 0, sizeof chg);
    chg.limits_used = 1;
    chg.max_charge_power_w = 800;
    chg.present = PS_BIT(LIMITS_USED) | PS_BIT(MAX_CHARGE);
    rmw(h, &chg, EW_E3DC_RES_OK);
    ew_e3dc_sim_model m = model(h);
    assert_near(m.charge_limit_w, 800.0, 0.0);
    assert_true(m.battery_w <= 800.0 + 1e-6);
    assert_true(m.ems_status & 8u); /* charging throttled */
    assert_int_equal(do_poll(h).battery_power_w, lround(m.battery_w));
    do_status(h);

    /* More than the hardware: accepted but adjusted. */
    memset(&chg, 0, sizeof chg);
    chg.max_discharge_power_w = 99999;
    chg.present = PS_BIT(MAX_DISCHARGE);
    ew_e3dc_power_settings_result res = write_ps(h, &chg);
    assert_int_equal(res.res[EW_E3DC_PS_MAX_DISCHARGE], EW_E3DC_RES_ADJUSTED);
    assert_int_equal(res.overall, EW_E3DC_RES_ADJUSTED);
    ew_e3dc_sim_power_settings s;
    ew_e3dc_sim_get_power_settings(h->sim, &s);
    assert_int_equal(s.max_discharge_w, 4500);
    assert_int_equal(s.max_charge_w, 800);
    assert_int_equal(s.limits_used, 1);
    rmw(h, &chg, EW_E3DC_RES_ADJUSTED);

    /* Discharge start power and forecast mode alone. */
    memset(&chg, 0, sizeof chg);
    chg.discharge_start_power_w = 300;
    chg.weather_forecast_mode = 2;
    chg.present = PS_BIT(DISCHARGE_START) | PS_BIT(WEATHER_FORECAST_MODE);
    rmw(h, &chg, EW_E3DC_RES_OK);
    ew_e3dc_sim_get_power_settings(h->sim, &s);
    assert_int_equal(s.discharge_start_w, 300);
    assert_int_equal(s.weather_forecast_mode, 2);
    assert_int_equal(s.max_charge_w, 800);

    /* Powersave and weather-regulated charging through their shorthands. */
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_set_powersave(&r->b, 0), EW_OK);
    const cev *e = call(h, r);
    PARSE(ew_e3dc_parse_power_settings_set, e, &res);
    assert_int_equal(res.present, PS_BIT(POWERSAVE));
    assert_int_equal(res.res[EW_E3DC_PS_POWERSAVE], EW_E3DC_RES_OK);
    ew_e3dc_sim_power_settings s2;
    ew_e3dc_sim_get_power_settings(h->sim, &s2);
    assert_int_equal(s2.powersave, 0);
    s.powersave = 0;
    assert_memory_equal(&s, &s2, sizeof s);
    assert_false(do_status(h).bits.power_save_enabled);

    r = rq_new();
    assert_int_equal(ew_e3dc_req_set_weather_regulated(&r->b, 1), EW_OK);
    e = call(h, r);
    PARSE(ew_e3dc_parse_power_settings_set, e, &res);
    assert_int_equal(res.present, PS_BIT(WEATHER_REGULATED));
    assert_int_equal(res.res[EW_E3DC_PS_WEATHER_REGULATED], EW_E3DC_RES_OK);
    ew_e3dc_sim_get_power_settings(h->sim, &s2);
    s.weather_regulated = 1;
    assert_memory_equal(&s, &s2, sizeof s);
    p = read_ps(h);
    assert_int_equal(p.weather_regulated_charge, 1);
    assert_int_equal(p.powersave, 0);

    /* Limits off again: the hardware limit applies. */
    memset(&chg, 0, sizeof chg);
    chg.present = PS_BIT(LIMITS_USED);
    rmw(h, &chg, EW_E3DC_RES_OK);
    assert_near(model(h).charge_limit_w, 4500.0, 0.0);

    /* Nothing named is refused before sending. */
    memset(&chg, 0, sizeof chg);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_set_power_settings(&r->b, &chg), EW_ERR_INVAL);
    free(r);
    hx_free(h);
}

/* ---- set power and manual charge ------------------------------------------------------------ */

static ew_e3dc_result set_power(hx *h, ew_e3dc_power_mode mode, int32_t value) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_set_power(&r->b, mode, value), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_set_power, e, &res);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_EMS_SET_POWER);
    assert_int_equal(res.has_value, 1);
    return res;
}

static void test_set_power(void **state) {
    (void)state;
    hx *h = hx_new(0);
    const struct {
        ew_e3dc_power_mode mode;
        int32_t value, echo;
        double battery_w;
    } steps[] = {
        {EW_E3DC_POWER_IDLE, 0, 0, 0.0},
        {EW_E3DC_POWER_DISCHARGE, 2000, 2000, -2000.0},
        {EW_E3DC_POWER_DISCHARGE, 9000, 4500, -4500.0}, /* clamped to the hardware */
        {EW_E3DC_POWER_CHARGE, 1500, 1500, 1500.0},     /* PV suffices */
        {EW_E3DC_POWER_GRID_CHARGE, 3000, 3000, 3000.0},
        {EW_E3DC_POWER_GRID_CHARGE, 6000, 4500, 4500.0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        advance(h, 1000);
        ew_e3dc_result res = set_power(h, steps[i].mode, steps[i].value);
        assert_int_equal(res.value, steps[i].echo);
        ew_e3dc_sim_model m = model(h);
        assert_int_equal(m.set_power_mode, (int)steps[i].mode);
        assert_int_equal(m.set_power_w, steps[i].echo);
        assert_near(m.battery_w, steps[i].battery_w, 1e-6);
        assert_int_equal(do_poll(h).battery_power_w, lround(steps[i].battery_w));
        ew_e3dc_status st = do_status(h);
        /* Forced discharging or idling locks charging; forced charging or
         * idling locks discharging. */
        int chg_lock =
            steps[i].mode == EW_E3DC_POWER_IDLE || steps[i].mode == EW_E3DC_POWER_DISCHARGE;
        int dis_lock = steps[i].mode != EW_E3DC_POWER_DISCHARGE;
        assert_int_equal((st.ems_status & 1) != 0, chg_lock);
        assert_int_equal((st.ems_status & 2) != 0, dis_lock);
        WRITERS(result, &res);
    }
    /* Automatic operation again. */
    ew_e3dc_result res = set_power(h, EW_E3DC_POWER_AUTO, 0);
    assert_int_equal(res.value, 0);
    ew_e3dc_sim_model m = model(h);
    assert_int_equal(m.set_power_mode, EW_E3DC_SIM_POWER_AUTO);
    assert_true(m.battery_w > 100); /* the sun charges it again */
    do_poll(h);

    /* The command holds for 30 s unless repeated (rscp.md §9.8). */
    advance(h, 1000);
    assert_int_equal(wall(h) % 1000, 0);
    set_power(h, EW_E3DC_POWER_DISCHARGE, 2000);
    advance(h, EW_E3DC_SIM_SET_POWER_HOLD_MS - 1);
    assert_int_equal(do_poll(h).battery_power_w, -2000);
    assert_int_equal(model(h).set_power_mode, EW_E3DC_SIM_POWER_DISCHARGE);
    advance(h, 1);
    ew_e3dc_poll p = do_poll(h);
    m = model(h);
    assert_int_equal(m.set_power_mode, EW_E3DC_SIM_POWER_AUTO);
    assert_int_equal(m.set_power_w, 0);
    assert_true(p.battery_power_w != -2000);
    assert_false(do_status(h).ems_status & 3);

    /* Repeated within the 30 s, it holds 30 s from the repetition. */
    set_power(h, EW_E3DC_POWER_DISCHARGE, 1000);
    advance(h, 20000);
    set_power(h, EW_E3DC_POWER_DISCHARGE, 1000);
    advance(h, 29000);
    assert_int_equal(do_poll(h).battery_power_w, -1000);
    advance(h, 1000);
    do_poll(h);
    assert_int_equal(model(h).set_power_mode, EW_E3DC_SIM_POWER_AUTO);

    /* Arguments the device would misread are refused before sending. */
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_set_power(&r->b, EW_E3DC_POWER_AUTO, 100), EW_ERR_RANGE);
    assert_int_equal(ew_e3dc_req_set_power(&r->b, EW_E3DC_POWER_CHARGE, -1), EW_ERR_RANGE);
    free(r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_set_power(&r->b, (ew_e3dc_power_mode)9, 0), EW_ERR_INVAL);
    free(r);
    hx_free(h);
}

static ew_e3dc_manual_charge read_mc(hx *h) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_manual_charge(&r->b), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_manual_charge mc;
    PARSE(ew_e3dc_parse_manual_charge, e, &mc);
    for (unsigned b = 0; b < EW_E3DC_MC_NFIELDS; b++)
        assert_true(EW_E3DC_HAS(&mc, b));
    assert_int_equal(mc.error.code, 0);
    ew_e3dc_sim_model m = model(h);
    assert_int_equal(mc.active, m.manual_charge_active);
    assert_near(mc.energy_wh, m.manual_charge_wh, 0.0);
    WRITERS(manual_charge, &mc);
    return mc;
}

static void mc_start(hx *h, uint32_t wh) {
    rq *r = rq_new();
    assert_int_equal(ew_e3dc_req_manual_charge_start(&r->b, wh), EW_OK);
    const cev *e = call(h, r);
    ew_e3dc_result res;
    PARSE(ew_e3dc_parse_manual_charge_start, e, &res);
    assert_int_equal(res.ok, 1);
    assert_int_equal(res.tag, EW_RSCP_TAG_EMS_START_MANUAL_CHARGE);
}

static void test_manual_charge(void **state) {
    (void)state;
    hx *h = hx_new(0);
    ew_e3dc_manual_charge mc = read_mc(h);
    assert_int_equal(mc.active, 0);
    assert_int_equal(mc.start_counter, 0);
    assert_int_equal(mc.last_start.seconds, 0);

    /* 500 Wh at the full 4500 W: 400 s. */
    mc_start(h, 500);
    int64_t started = wall(h);
    ew_e3dc_sim_model m = model(h);
    assert_int_equal(m.manual_charge_active, 1);
    assert_near(m.battery_w, 4500.0, 1e-6);
    mc = read_mc(h);
    assert_int_equal(mc.active, 1);
    assert_int_equal(mc.start_counter, 1);
    assert_int_equal(mc.last_start.seconds, started / 1000);
    assert_near(mc.energy_wh, 0.0, 1e-9);

    advance(h, 60000);
    assert_int_equal(do_poll(h).battery_power_w, 4500);
    mc = read_mc(h);
    assert_int_equal(mc.active, 1);
    assert_near(mc.energy_wh, 4500.0 * 60 / 3600, 1e-6);

    advance(h, 400000);
    do_poll(h);
    mc = read_mc(h);
    assert_int_equal(mc.active, 0);
    assert_near(mc.energy_wh, 500.0, 1e-6);
    assert_int_equal(mc.start_counter, 1);

    /* Energy 0 stops a running manual charge and does not count as a start. */
    mc_start(h, 200);
    assert_int_equal(model(h).manual_charge_active, 1);
    advance(h, 10000);
    mc_start(h, 0);
    mc = read_mc(h);
    assert_int_equal(mc.active, 0);
    assert_int_equal(mc.start_counter, 2);
    assert_true(mc.energy_wh > 0 && mc.energy_wh < 200);
    hx_free(h);
}

/* ---- pipelining ----------------------------------------------------------------------------- */

static void test_pipelining(void **state) {
    (void)state;
    hx *h = hx_new(4);
    advance(h, 2000);
    h->hold = 1;
    uint32_t id[8];
    rq *r;
    r = rq_new();
    assert_int_equal(ew_e3dc_req_poll(&r->b), EW_OK);
    id[0] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_status(&r->b), EW_OK);
    id[1] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_sysinfo(&r->b), EW_OK);
    id[2] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(
        ew_e3dc_req_battery(&r->b, 0, (1ull << EW_E3DC_BAT_RSOC) | (1ull << EW_E3DC_BAT_DCB_COUNT),
                            EW_E3DC_DCB_PART_INFO, 0, 1),
        EW_OK);
    id[3] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_pm(&r->b, 0), EW_OK);
    id[4] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_wallbox(&r->b, 0), EW_OK);
    id[5] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(ew_e3dc_req_switches(&r->b), EW_OK);
    id[6] = submit_rq(h, r);
    r = rq_new();
    assert_int_equal(
        ew_e3dc_req_history(&r->b, EW_E3DC_HISTORY_DAY, T0_S - 33 * 3600, 86400, 86400, 0), EW_OK);
    id[7] = submit_rq(h, r);

    /* Four go out before any answer comes back. */
    pump(h);
    assert_int_equal(h->nheld, 4);
    assert_int_equal(ew_rscp_conn_pending(h->cli), 8);
    assert_int_equal(h->nev, 0);
    release(h, 1);
    pump(h);
    assert_int_equal(h->nev, 4);
    assert_int_equal(h->nheld, 4);
    assert_int_equal(ew_rscp_conn_pending(h->cli), 4);
    release(h, 0);
    pump(h);
    assert_int_equal(h->max_held, 4);
    assert_int_equal(h->nev, 8);
    assert_int_equal(ew_rscp_conn_pending(h->cli), 0);
    h->hold = 0;

    /* Answers in request order, each the answer to its own request. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(h->ev[i].type, EW_RSCP_EV_RESPONSE);
        assert_int_equal(h->ev[i].id, id[i]);
    }
    ew_e3dc_sim_model m = model(h);
    ew_e3dc_poll p;
    PARSE(ew_e3dc_parse_poll, find_ev(h, id[0]), &p);
    check_poll(&p, &m, m.time_ms);
    ew_e3dc_status st;
    PARSE(ew_e3dc_parse_status, find_ev(h, id[1]), &st);
    assert_int_equal(st.sys_status, m.sys_status);
    ew_e3dc_sysinfo *si = calloc(1, sizeof *si);
    assert_non_null(si);
    PARSE(ew_e3dc_parse_sysinfo, find_ev(h, id[2]), si);
    assert_string_equal(si->serial, "S10-741234567890");
    free(si);
    ew_e3dc_battery *bt = calloc(1, sizeof *bt);
    assert_non_null(bt);
    PARSE(ew_e3dc_parse_battery, find_ev(h, id[3]), 0, bt);
    assert_f32(bt->rsoc_pct, m.soc_pct);
    assert_int_equal(bt->dcb_count, 3);
    assert_int_equal(bt->ndcbs, 1);
    free(bt);
    ew_e3dc_pm pm;
    PARSE(ew_e3dc_parse_pm, find_ev(h, id[4]), 0, &pm);
    check_root_pm(&pm, &m);
    ew_e3dc_wallbox w;
    PARSE(ew_e3dc_parse_wallbox, find_ev(h, id[5]), 0, &w);
    assert_int_equal(w.max_current_a, m.wallbox[0].max_current_a);
    assert_int_equal(w.sun_power_w, round_half_up(m.wallbox[0].solar_w));
    ew_e3dc_switches sw;
    PARSE(ew_e3dc_parse_switches, find_ev(h, id[6]), &sw);
    assert_int_equal(sw.n, 3);
    assert_int_equal(sw.sw[2].state, m.switch_on[2]);
    ew_e3dc_history *hs = calloc(1, sizeof *hs);
    assert_non_null(hs);
    PARSE(ew_e3dc_parse_history, find_ev(h, id[7]), hs);
    ew_e3dc_sim_energy en;
    assert_true(ew_e3dc_sim_history(h->sim, T0_S - 33 * 3600, 86400, &en) > 0);
    check_hist_values(&hs->sum, &en, 0);
    free(hs);
    /* A parser given another request's answer says so. */
    ew_diag d = {0};
    assert_int_equal(ew_e3dc_parse_poll(find_ev(h, id[1])->data, find_ev(h, id[1])->len, &p, &d),
                     EW_ERR_PROTO);
    hx_free(h);
}

/* ---- pye3dc's poll, one frame per value -------------------------------------------------------
 */

static void test_pye3dc_poll_frames(void **state) {
    (void)state;
    hx *h = hx_new(0);
    /* The ten requests of ew_e3dc_req_poll(), each sent on its own as
     * pye3dc's poll() does with sendRequest() per value. */
    uint8_t all[256];
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, all, sizeof all);
    assert_int_equal(ew_e3dc_req_poll(&b), EW_OK);
    assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
    ew_rscp_value req[10];
    ew_rscp_iter it;
    ew_rscp_iter_init(&it, all, n, 0);
    for (int k = 0; k < 10; k++)
        assert_int_equal(ew_rscp_iter_next(&it, &req[k], NULL), 1);
    ew_rscp_value extra;
    assert_int_equal(ew_rscp_iter_next(&it, &extra, NULL), 0);

    int seen_export = 0, seen_import = 0, seen_charge = 0, seen_discharge = 0, seen_dark = 0;
    for (int round = 0; round < 24; round++) {
        /* pye3dc's ten round trips take well under a second: within one
         * model second all values describe the same state. */
        assert_int_equal(wall(h) % 1000, 0);
        int64_t t = wall(h);
        uint8_t cat[1024];
        size_t catlen = 0;
        for (int k = 0; k < 10; k++) {
            rq *r = rq_new();
            assert_int_equal(
                ew_rscp_builder_add_raw(&r->b, req[k].tag, req[k].type, req[k].data, req[k].len),
                EW_OK);
            const cev *e = call(h, r);
            assert_int_equal(e->device_error, 0);
            assert_true(catlen + e->len <= sizeof cat);
            memcpy(cat + catlen, e->data, e->len);
            catlen += e->len;
            advance(h, 20);
        }
        ew_e3dc_poll p;
        ew_diag d = {0};
        assert_int_equal(ew_e3dc_parse_poll(cat, catlen, &p, &d), EW_OK);
        ew_e3dc_sim_model m = model(h);
        check_poll(&p, &m, t);
        /* pv + grid + add = house + wallbox + battery, within the rounding
         * of the six integers. */
        int64_t in = p.pv_power_w + p.grid_power_w + p.add_power_w;
        int64_t out = p.house_power_w + p.wallbox_power_w + p.battery_power_w;
        assert_true(in - out <= 3 && out - in <= 3);
        assert_near(m.pv_w + m.add_w + m.grid_w, m.house_w + m.wallbox_w + m.battery_w, 1e-6);
        seen_export |= p.grid_power_w < 0;
        seen_import |= p.grid_power_w > 0;
        seen_charge |= p.battery_power_w > 0;
        seen_discharge |= p.battery_power_w < 0;
        seen_dark |= p.pv_power_w == 0;
        advance(h, 3600 * 1000 - 200);
    }
    /* A day: every direction of every flow. */
    assert_true(seen_export && seen_import && seen_charge && seen_discharge && seen_dark);
    hx_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_poll_status),
        cmocka_unit_test(test_sysinfo),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_battery),
        cmocka_unit_test(test_pvi),
        cmocka_unit_test(test_pm),
        cmocka_unit_test(test_wallbox),
        cmocka_unit_test(test_battery_to_car),
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_idle_periods),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_power_settings),
        cmocka_unit_test(test_set_power),
        cmocka_unit_test(test_manual_charge),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_pye3dc_poll_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
