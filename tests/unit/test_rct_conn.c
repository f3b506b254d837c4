/*
 * RCT session (ew_rct_conn_*) against the RCT simulator core, wired together
 * in memory with a fake clock; no sockets, no sleeps.
 *
 * The rig moves the client's send_data() bytes through a codec receiver on
 * the simulator side, answers each request with ew_rct_sim_handle() (with
 * fault flags for the next N answers, or silence for "night"), and hands the
 * answers to the client's recv() whole, byte by byte or split at random
 * points.  Every event is written to a text log; when nothing is on the wire
 * the clock jumps to the client's next deadline.
 *
 * Covered: reads of several objects (in flight one at a time and several),
 * unknown ids, writes read back, timeseries and event table, every fault
 * mode (recovering and failing with the precise reason), offline at night
 * with exactly one log line each way and an exponential backoff, close,
 * queue bounds, feeding-pattern independence and failmalloc.
 */
#include "testutil.h"

#include <energywire/rct_conn.h>
#include <energywire/rct_sim.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_SOC 0x959930BFu
#define OID_SOC_TARGET 0x8B9FF008u
#define OID_SN 0x7924ABD9u
#define OID_DESC 0xEBC62737u
#define OID_GRID 0x91617C58u
#define OID_TS_SOC 0x5293B668u
#define OID_EVENTS 0x6F3876BCu
#define OID_CELLS0 0xF8C0D255u
#define OID_UNKNOWN 0x12345678u
#define T0 1782000000

typedef struct rig {
    ew_rct_conn *c;
    ew_rct_sim *sim;
    ew_rct_rx srx;
    uint8_t srxbuf[1024];
    uint64_t now;
    unsigned faults, fault_n; /* faults for the next fault_n answers */
    int silent;               /* night: the device answers nothing */
    unsigned long sim_requests;
    int mode; /* 0 whole, 1 byte by byte, 2 random splits */
    uint64_t rng;
    uint8_t wire[65536];
    size_t wlen;
    tu_log log;
    tu_log lines;
    unsigned nlines;
    /* what the test inspects */
    unsigned nresp, nfail;
    int last_err;
    unsigned last_attempts;
    double last_f;
    uint8_t last_raw[512];
    size_t last_raw_len;
    int last_type;
} rig;

static void on_log(void *user, int level, const char *msg) {
    rig *r = user;
    r->nlines++;
    tu_logf(&r->lines, "%d %s\n", level, msg);
}

static void rig_init(rig *r, const ew_rct_conn_opts *o_in, int mode) {
    memset(r, 0, sizeof *r);
    ew_rct_conn_opts o;
    if (o_in)
        o = *o_in;
    else
        ew_rct_conn_opts_init(&o);
    o.log = on_log;
    o.log_user = r;
    o.now_ms = 0;
    assert_int_equal(ew_rct_conn_new(&r->c, &o, NULL), EW_OK);
    ew_rct_sim_opts so;
    ew_rct_sim_opts_init(&so);
    so.seed = 7;
    so.start_time = T0;
    assert_int_equal(ew_rct_sim_new(&r->sim, &so, NULL), EW_OK);
    assert_int_equal(ew_rct_rx_init(&r->srx, r->srxbuf, sizeof r->srxbuf), EW_OK);
    r->mode = mode;
    r->rng = 0x1234567u;
}

static char *rig_done(rig *r) {
    ew_rct_conn_del(r->c);
    ew_rct_sim_del(r->sim);
    free(tu_log_take(&r->lines));
    return tu_log_take(&r->log);
}

static void log_event(rig *r, const ew_rct_conn_event *ev) {
    char txt[2048];
    switch (ev->type) {
    case EW_RCT_EV_RESPONSE:
        ew_rct_value_format(ev->value.type, ev->value.raw.ptr, ev->value.raw.len, 0, txt,
                            sizeof txt, NULL);
        tu_logf(&r->log, "%" PRIu64 " RESP rq=%u id=%08X cmd=%u att=%u type=%d %s\n", r->now,
                ev->req_id, ev->id, ev->response_command, ev->attempts, ev->value.type, txt);
        r->nresp++;
        r->last_attempts = ev->attempts;
        r->last_f = ev->value.f;
        r->last_type = ev->value.type;
        r->last_raw_len = ev->value.raw.len < sizeof r->last_raw ? ev->value.raw.len : 0;
        memcpy(r->last_raw, ev->value.raw.ptr, r->last_raw_len);
        break;
    case EW_RCT_EV_REQUEST_FAILED:
        tu_logf(&r->log, "%" PRIu64 " FAIL rq=%u id=%08X att=%u %s\n", r->now, ev->req_id, ev->id,
                ev->attempts, ew_errname(ev->err));
        r->nfail++;
        r->last_err = ev->err;
        r->last_attempts = ev->attempts;
        break;
    case EW_RCT_EV_OFFLINE:
        tu_logf(&r->log, "%" PRIu64 " OFFLINE after=%u\n", r->now, ev->attempts);
        break;
    case EW_RCT_EV_ONLINE:
        tu_logf(&r->log, "%" PRIu64 " ONLINE after %" PRIu64 " ms\n", r->now, ev->offline_ms);
        break;
    }
}

static void poll_all(rig *r) {
    ew_rct_conn_event ev;
    while (ew_rct_conn_poll_event(r->c, &ev) > 0)
        log_event(r, &ev);
}

/* The simulator side: requests through a codec receiver, answers onto the
 * wire towards the client. */
static void sim_take(rig *r, const uint8_t *p, size_t n) {
    size_t pos = 0;
    ew_rct_sim_step(r->sim, T0 + (int64_t)(r->now / 1000));
    while (pos < n) {
        size_t k, w = 0;
        ew_rct_frame f;
        int rc = ew_rct_rx_feed(&r->srx, p + pos, n - pos, &k, &f, NULL);
        pos += k;
        if (rc != EW_OK)
            continue;
        r->sim_requests++;
        if (r->silent)
            continue;
        unsigned faults = 0;
        if (r->fault_n) {
            faults = r->faults;
            if (r->fault_n != UINT32_MAX)
                r->fault_n--;
        }
        assert_int_equal(
            ew_rct_sim_handle(r->sim, &f, faults, r->wire + r->wlen, sizeof r->wire - r->wlen, &w),
            EW_OK);
        r->wlen += w;
    }
}

static void deliver(rig *r) {
    size_t pos = 0;
    int guard = 0;
    while (pos < r->wlen) {
        size_t chunk = r->wlen - pos;
        if (r->mode == 1)
            chunk = 1;
        else if (r->mode == 2)
            chunk = 1 + (size_t)(tu_rand(&r->rng) % (chunk < 40 ? chunk : 40));
        int k = ew_rct_conn_recv(r->c, r->wire + pos, chunk, r->now);
        assert_true(k >= 0);
        pos += (size_t)k;
        poll_all(r);
        if (k == 0)
            assert_true(++guard < 1000);
        else
            guard = 0;
    }
    r->wlen = 0;
}

/* Runs until nothing is pending or the clock passes |until|. */
static void rig_run(rig *r, uint64_t until) {
    for (int it = 0; it < 100000; it++) {
        const uint8_t *out;
        size_t n = ew_rct_conn_send_data(r->c, &out);
        if (n) {
            sim_take(r, out, n);
            ew_rct_conn_send_done(r->c, n);
            deliver(r);
            poll_all(r);
            continue;
        }
        poll_all(r);
        uint64_t d = ew_rct_conn_next_deadline(r->c);
        if (d == UINT64_MAX || d > until)
            return;
        if (d > r->now)
            r->now = d;
        ew_rct_conn_on_timeout(r->c, r->now);
        poll_all(r);
    }
    fail_msg("the session never settled");
}

static uint32_t rd(rig *r, uint32_t id) {
    uint32_t rq = 0;
    assert_int_equal(ew_rct_conn_submit_read(r->c, id, r->now, &rq), EW_OK);
    return rq;
}

static uint32_t wr_float(rig *r, uint32_t id, double v) {
    uint8_t p[4];
    size_t n;
    uint32_t rq = 0;
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, v, p, sizeof p, &n), EW_OK);
    assert_int_equal(ew_rct_conn_submit_write(r->c, id, p, n, r->now, &rq), EW_OK);
    return rq;
}

static uint32_t wr_time(rig *r, uint32_t id, int64_t t) {
    uint8_t p[4];
    size_t n;
    uint32_t rq = 0;
    assert_int_equal(ew_rct_value_encode_int(EW_RCT_TYPE_INT32, t, p, sizeof p, &n), EW_OK);
    assert_int_equal(ew_rct_conn_submit_write(r->c, id, p, n, r->now, &rq), EW_OK);
    return rq;
}

/* ---- reads and writes ---------------------------------------------------- */

static void reads(unsigned inflight) {
    rig r;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.max_inflight = inflight;
    rig_init(&r, &o, 0);
    rd(&r, OID_SOC);
    rd(&r, OID_SN);
    rd(&r, OID_DESC);
    rd(&r, OID_GRID);
    rd(&r, OID_CELLS0);
    rd(&r, OID_SOC); /* same id twice: waits for the first */
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 6);
    assert_int_equal(r.nfail, 0);
    assert_int_equal(ew_rct_conn_pending(r.c), 0);
    ew_rct_sim_state st;
    ew_rct_sim_get_state(r.sim, &st);
    assert_true(r.last_f == (double)(float)st.soc);
    char *log = rig_done(&r);
    assert_non_null(strstr(log, "id=EBC62737 cmd=5 att=1 type=10 RCT\n"));
    assert_non_null(strstr(log, "id=7924ABD9 cmd=5 att=1 type=10 EW-7924ABD9\n"));
    assert_non_null(strstr(log, "id=F8C0D255 cmd=5 att=1 type=22 {\"cells\""));
    assert_int_equal(r.nlines, 0);
    free(log);
}

static void test_reads(void **state) {
    (void)state;
    reads(1);
    reads(4);
}

static void test_unknown_id_times_out(void **state) {
    (void)state;
    rig r;
    rig_init(&r, NULL, 0);
    rd(&r, OID_UNKNOWN);
    rd(&r, OID_SOC);
    rig_run(&r, 60000);
    /* rct.md §1/§12: the device stays silent; 1 + 3 retries of 2 s each. */
    assert_int_equal(r.nfail, 1);
    assert_int_equal(r.nresp, 1);
    char *log = rig_done(&r);
    assert_non_null(strstr(log, "8000 FAIL rq=1 id=12345678 att=4 EW_ERR_TIMEOUT\n"));
    free(log);
}

static void test_write_read_back(void **state) {
    (void)state;
    rig r;
    rig_init(&r, NULL, 0);
    wr_float(&r, OID_SOC_TARGET, 0.5);
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 1);
    assert_true(r.last_f == 0.5);
    rd(&r, OID_SOC_TARGET);
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 2);
    assert_true(r.last_f == 0.5);
    /* A measurement written: answered with, and kept at, the model value. */
    wr_float(&r, OID_SOC, 0.01);
    rig_run(&r, 1000);
    assert_true(r.last_f > 0.1);
    uint32_t rq;
    assert_int_equal(ew_rct_conn_submit_write(r.c, OID_SOC, NULL, 1, 0, &rq), EW_ERR_INVAL);
    uint8_t big[EW_RCT_SHORT_PAYLOAD_MAX + 1] = {0};
    assert_int_equal(ew_rct_conn_submit_write(r.c, OID_SN, big, sizeof big, 0, &rq),
                     EW_ERR_TOO_BIG);
    free(rig_done(&r));
}

static void test_timeseries_and_events(void **state) {
    (void)state;
    rig r;
    rig_init(&r, NULL, 0);
    const int64_t t = T0 - 3600;
    wr_time(&r, OID_TS_SOC, t);
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 1);
    assert_int_equal(r.last_type, EW_RCT_TYPE_TIMESERIES);
    ew_rct_ts_iter it;
    ew_rct_ts_point pt;
    assert_int_equal(ew_rct_ts_init(&it, r.last_raw, r.last_raw_len, NULL), EW_OK);
    assert_int_equal(it.query_ts, (uint32_t)t);
    assert_int_equal(it.count, 24);
    while (ew_rct_ts_next(&it, &pt)) {
        assert_true(pt.timestamp < (uint32_t)t);
        assert_true(pt.timestamp + 24 * 300 >= (uint32_t)t);
        assert_true(pt.value >= 0.0f && pt.value <= 1.0f);
    }
    wr_time(&r, OID_EVENTS, t);
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 2);
    assert_int_equal(r.last_type, EW_RCT_TYPE_EVENT_TABLE);
    ew_rct_event_iter ei;
    ew_rct_event e;
    assert_int_equal(ew_rct_events_init(&ei, r.last_raw, r.last_raw_len, NULL), EW_OK);
    assert_int_equal(ei.count, 10);
    uint32_t prev = (uint32_t)t;
    while (ew_rct_events_next(&ei, &e)) {
        assert_true(e.timestamp < prev);
        assert_non_null(ew_rct_event_type_name(e.type));
        prev = e.timestamp;
    }
    /* Paging back from the oldest entry gives older ones. */
    wr_time(&r, OID_EVENTS, prev);
    rig_run(&r, 1000);
    assert_int_equal(ew_rct_events_init(&ei, r.last_raw, r.last_raw_len, NULL), EW_OK);
    while (ew_rct_events_next(&ei, &e))
        assert_true(e.timestamp < prev);
    free(rig_done(&r));
}

/* ---- faults -------------------------------------------------------------- */

/* |n| faulty answers, then good ones: the read of |id| (or the timeseries
 * query when |ts|) ends with |want| (EW_OK = answered) after |att| sends. */
static void fault_case(unsigned faults, unsigned n, uint32_t id, int ts, int want, unsigned att) {
    rig r;
    rig_init(&r, NULL, 0);
    r.faults = faults;
    r.fault_n = n;
    if (ts)
        wr_time(&r, id, T0);
    else
        rd(&r, id);
    rig_run(&r, 120000);
    assert_int_equal(r.nresp + r.nfail, 1);
    if (want == EW_OK) {
        assert_int_equal(r.nresp, 1);
    } else {
        assert_int_equal(r.nfail, 1);
        assert_int_equal(r.last_err, want);
    }
    assert_int_equal(r.last_attempts, att);
    assert_int_equal(ew_rct_conn_pending(r.c), 0);
    assert_int_equal(ew_rct_conn_next_deadline(r.c), UINT64_MAX);
    /* The session is still usable afterwards. */
    r.fault_n = 0;
    unsigned before = r.nresp;
    rd(&r, OID_SN);
    rig_run(&r, r.now + 60000);
    assert_int_equal(r.nresp, before + 1);
    free(rig_done(&r));
}

static void test_faults(void **state) {
    (void)state;
    const unsigned all = UINT32_MAX;
    /* §15 interrupted answer: short payload, valid CRC. */
    fault_case(EW_RCT_SIM_FAULT_TRUNCATE, 2, OID_SOC, 0, EW_OK, 3);
    fault_case(EW_RCT_SIM_FAULT_TRUNCATE, all, OID_SOC, 0, EW_ERR_TRUNCATED, 4);
    fault_case(EW_RCT_SIM_FAULT_TRUNCATE, 3, OID_TS_SOC, 1, EW_OK, 4);
    fault_case(EW_RCT_SIM_FAULT_TRUNCATE, all, OID_EVENTS, 1, EW_ERR_TRUNCATED, 4);
    /* §15 good data, wrong CRC. */
    fault_case(EW_RCT_SIM_FAULT_BAD_CRC, 1, OID_SOC, 0, EW_OK, 2);
    fault_case(EW_RCT_SIM_FAULT_BAD_CRC, all, OID_DESC, 0, EW_ERR_CRC, 4);
    /* §15 lost answers. */
    fault_case(EW_RCT_SIM_FAULT_DROP, 3, OID_SOC, 0, EW_OK, 4);
    fault_case(EW_RCT_SIM_FAULT_DROP, all, OID_SOC, 0, EW_ERR_TIMEOUT, 4);
    /* §15 second client: the answer stops mid-frame.  The cut frame waits
     * for its missing bytes until the timeout, which drops it; the retry's
     * answer is read from its own start and goes through. */
    fault_case(EW_RCT_SIM_FAULT_INTERRUPT, 1, OID_SOC, 0, EW_OK, 2);
    fault_case(EW_RCT_SIM_FAULT_INTERRUPT, all, OID_SOC, 0, EW_ERR_TIMEOUT, 4);
}

static void test_no_retries(void **state) {
    (void)state;
    rig r;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.max_retries = 0;
    rig_init(&r, &o, 0);
    r.faults = EW_RCT_SIM_FAULT_BAD_CRC;
    r.fault_n = 1;
    rd(&r, OID_SOC);
    rig_run(&r, 10000);
    assert_int_equal(r.nfail, 1);
    assert_int_equal(r.last_err, EW_ERR_CRC);
    assert_int_equal(r.last_attempts, 1);
    free(rig_done(&r));
}

/* ---- offline at night ---------------------------------------------------- */

static void test_offline_at_night(void **state) {
    (void)state;
    rig r;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.request_timeout_ms = 1000;
    o.max_retries = 1;
    o.offline_after = 3;
    o.backoff_initial_ms = 5000;
    o.backoff_max_ms = 20000;
    rig_init(&r, &o, 0);
    rd(&r, OID_SOC);
    rig_run(&r, 1000);
    assert_int_equal(r.nresp, 1);

    r.silent = 1; /* night */
    for (int i = 0; i < 5; i++)
        rd(&r, OID_SOC);
    rig_run(&r, 200000);
    /* Three requests fail (2 sends each), the device is offline; the other
     * two wait in the queue while probes go out at 5, 10, 20, 20 ... s. */
    assert_int_equal(r.nfail, 3);
    assert_int_equal(ew_rct_conn_online(r.c), 0);
    assert_int_equal(r.nlines, 1);
    assert_int_equal(ew_rct_conn_pending(r.c), 2);
    char *lines = r.lines.s;
    assert_non_null(strstr(lines, "1 rct: device offline after 3 requests timed out"));
    /* Sends at 0, 1, 2, 3, 4, 5 s, the third failure at 6 s: offline.
     * Probes at 11, 22, 43, 64, ... 190 s: 5 s, then after each 1 s probe
     * timeout the doubled backoff, at most 20 s. */
    unsigned long probes = r.sim_requests - 1 - 6;
    assert_int_equal(probes, 2 + (200000 - 43000) / 21000 + 1);
    assert_int_equal(r.nresp, 1);

    r.silent = 0; /* morning */
    rig_run(&r, r.now + 30000);
    assert_int_equal(ew_rct_conn_online(r.c), 1);
    assert_int_equal(r.nlines, 2);
    assert_non_null(strstr(r.lines.s, "2 rct: device back online after "));
    assert_int_equal(r.nresp, 3); /* the two queued reads */
    assert_int_equal(ew_rct_conn_pending(r.c), 0);
    char *log = rig_done(&r);
    const char *off = strstr(log, "6000 OFFLINE after=3\n");
    assert_non_null(off);
    assert_non_null(strstr(off, " ONLINE after "));
    free(log);
}

static void test_close_and_bounds(void **state) {
    (void)state;
    rig r;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.max_queue = 3;
    rig_init(&r, &o, 0);
    uint32_t rq;
    rd(&r, OID_SOC);
    rd(&r, OID_SN);
    rd(&r, OID_DESC);
    assert_int_equal(ew_rct_conn_submit_read(r.c, OID_GRID, 0, &rq), EW_ERR_NOBUF);
    ew_rct_conn_recv_eof(r.c, 0);
    assert_int_equal(ew_rct_conn_want_close(r.c), 1);
    poll_all(&r);
    assert_int_equal(r.nfail, 3);
    assert_int_equal(r.last_err, EW_ERR_CLOSED);
    assert_int_equal(ew_rct_conn_submit_read(r.c, OID_GRID, 0, &rq), EW_ERR_STATE);
    assert_int_equal(ew_rct_conn_recv(r.c, (const uint8_t *)"+", 1, 0), 0);
    free(rig_done(&r));

    o.max_inflight = 0;
    ew_rct_conn *c;
    assert_int_equal(ew_rct_conn_new(&c, &o, NULL), EW_ERR_INVAL);
}

/* ---- feeding patterns ---------------------------------------------------- */

static char *scenario(int mode, unsigned inflight) {
    rig r;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.max_inflight = inflight;
    o.request_timeout_ms = 1000;
    rig_init(&r, &o, mode);
    r.rng = 99;
    rd(&r, OID_SOC);
    rd(&r, OID_SN);
    wr_float(&r, OID_SOC_TARGET, 0.75);
    rd(&r, OID_SOC_TARGET);
    wr_time(&r, OID_TS_SOC, T0);
    wr_time(&r, OID_EVENTS, T0);
    rd(&r, OID_CELLS0);
    rig_run(&r, 10000);
    r.faults = EW_RCT_SIM_FAULT_TRUNCATE;
    r.fault_n = 2;
    wr_time(&r, OID_TS_SOC, T0 - 86400);
    rig_run(&r, r.now + 10000);
    r.faults = EW_RCT_SIM_FAULT_BAD_CRC;
    r.fault_n = 1;
    rd(&r, OID_GRID);
    rd(&r, OID_UNKNOWN);
    rig_run(&r, r.now + 60000);
    r.faults = EW_RCT_SIM_FAULT_INTERRUPT;
    r.fault_n = 1;
    rd(&r, OID_SOC);
    rd(&r, OID_SN);
    rig_run(&r, r.now + 60000);
    r.faults = EW_RCT_SIM_FAULT_DROP;
    r.fault_n = 1;
    rd(&r, OID_SOC);
    rig_run(&r, r.now + 60000);
    /* A leading 00 and junk before frames (rct.md §1, §15). */
    r.wire[0] = 0x00;
    r.wire[1] = 0x41;
    r.wlen = 2;
    deliver(&r);
    rd(&r, OID_DESC);
    rig_run(&r, r.now + 10000);
    assert_int_equal(ew_rct_conn_pending(r.c), 0);
    return rig_done(&r);
}

static void test_feeding_patterns(void **state) {
    (void)state;
    for (unsigned inflight = 1; inflight <= 4; inflight += 3) {
        char *whole = scenario(0, inflight);
        char *bytes = scenario(1, inflight);
        char *rnd = scenario(2, inflight);
        assert_string_equal(whole, bytes);
        assert_string_equal(whole, rnd);
        assert_non_null(strstr(whole, "FAIL"));
        free(whole);
        free(bytes);
        free(rnd);
    }
}

/* ---- failmalloc ---------------------------------------------------------- */

static void test_failmalloc(void **state) {
    (void)state;
    int ok = 0;
    for (long n = 1; n < 50 && !ok; n++) {
        tu_failmem f;
        tu_failmem_init(&f, n);
        ew_rct_conn *c = NULL;
        int rc = ew_rct_conn_new(&c, NULL, &f.mem);
        if (rc == EW_ERR_NOMEM) {
            assert_null(c);
            assert_int_equal(f.live, 0);
            continue;
        }
        assert_int_equal(rc, EW_OK);
        ok = 1;
        /* Everything is allocated up front: a session used after creation
         * never allocates again. */
        long after_new = f.count;
        f.fail_at = f.count + 1;
        uint32_t rq;
        for (int i = 0; i < 10; i++)
            assert_int_equal(ew_rct_conn_submit_read(c, OID_SOC + (uint32_t)i, 0, &rq), EW_OK);
        ew_rct_conn_on_timeout(c, 100000);
        const uint8_t *out;
        ew_rct_conn_send_done(c, ew_rct_conn_send_data(c, &out));
        static const uint8_t ans[] = {0x2b, 0x05, 0x08, 0x95, 0x99, 0x30, 0xbf,
                                      0x00, 0x00, 0x00, 0x00, 0x51, 0x38};
        assert_true(ew_rct_conn_recv(c, ans, sizeof ans, 100001) > 0);
        ew_rct_conn_close(c);
        assert_int_equal(f.count, after_new);
        ew_rct_conn_del(c);
        assert_int_equal(f.live, 0);
    }
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_unknown_id_times_out),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_timeseries_and_events),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_no_retries),
        cmocka_unit_test(test_offline_at_night),
        cmocka_unit_test(test_close_and_bounds),
        cmocka_unit_test(test_feeding_patterns),
        cmocka_unit_test(test_failmalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
