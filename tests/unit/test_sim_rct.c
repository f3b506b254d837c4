/*
 * RCT simulator core (ew_rct_sim_*): the plant model, the request handler
 * for every registry object, writes, timeseries and event-table windows,
 * silence where rct.md says a device stays silent, each fault flag, peers
 * with several frames per segment and several clients (with the
 * second-client interrupt), and failmalloc.
 */
#include "testutil.h"

#include <energywire/rct_sim.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_SOC 0x959930BFu
#define OID_SOC_TARGET 0x8B9FF008u
#define OID_TS_SOC 0x5293B668u
#define OID_TS_DAY 0x05C7CFB1u
#define OID_EVENTS 0x6F3876BCu
#define T0 1782000000

static ew_rct_sim *mk(uint64_t seed) {
    ew_rct_sim_opts o;
    ew_rct_sim *s;
    ew_rct_sim_opts_init(&o);
    o.seed = seed;
    o.start_time = T0;
    assert_int_equal(ew_rct_sim_new(&s, &o, NULL), EW_OK);
    return s;
}

/* Builds a request frame, runs it through a receiver as the wire would and
 * hands it to the handler; the answer goes through a receiver too. */
typedef struct answer {
    int rc; /* receiver outcome for the answer, or 1 = no answer */
    ew_rct_frame f;
    uint8_t raw[1024];
    size_t raw_len;
    uint8_t rxbuf[1024];
    ew_rct_rx rx;
} answer;

static void ask(ew_rct_sim *s, unsigned cmd, uint32_t id, const uint8_t *pl, size_t len,
                unsigned faults, answer *a) {
    uint8_t req[600], rbuf[600];
    size_t n, used;
    ew_rct_rx rx;
    ew_rct_frame f;
    assert_int_equal(ew_rct_frame_encode(req, sizeof req, cmd, 0, id, pl, len, &n), EW_OK);
    ew_rct_rx_init(&rx, rbuf, sizeof rbuf);
    assert_int_equal(ew_rct_rx_feed(&rx, req, n, &used, &f, NULL), EW_OK);
    assert_int_equal(ew_rct_sim_handle(s, &f, faults, a->raw, sizeof a->raw, &a->raw_len), EW_OK);
    a->rc = 1;
    if (!a->raw_len)
        return;
    ew_rct_rx_init(&a->rx, a->rxbuf, sizeof a->rxbuf);
    a->rc = ew_rct_rx_feed(&a->rx, a->raw, a->raw_len, &used, &a->f, NULL);
    if (a->rc != EW_ERR_NEED_MORE)
        assert_int_equal(used, a->raw_len);
}

static void test_model(void **state) {
    (void)state;
    ew_rct_sim *a = mk(1), *b = mk(1), *c = mk(2);
    ew_rct_sim_state sa, sb, sc;
    double soc_noon = 0, soc_night = 0;
    for (int64_t t = T0; t <= T0 + 2 * 86400; t += 600) {
        ew_rct_sim_step(a, t);
        ew_rct_sim_step(b, t);
        ew_rct_sim_step(c, t);
        ew_rct_sim_get_state(a, &sa);
        ew_rct_sim_get_state(b, &sb);
        ew_rct_sim_get_state(c, &sc);
        assert_true(memcmp(&sa, &sb, sizeof sa) == 0); /* deterministic */
        assert_true(fabs(sa.pv_w + sa.grid_w + sa.battery_w - sa.load_w) < 1e-6);
        assert_true(sa.soc >= 0 && sa.soc <= 1);
        int64_t h = (t % 86400) / 3600;
        if (h < 6 || h >= 18)
            assert_true(sa.pv_w == 0);
        if (t == T0 + 86400 + 16 * 3600)
            soc_noon = sa.soc;
        if (t == T0 + 86400 + 5 * 3600)
            soc_night = sa.soc;
    }
    /* The battery charges from PV by day and feeds the house at night. */
    assert_true(soc_noon > soc_night);
    ew_rct_sim_get_state(c, &sc);
    ew_rct_sim_get_state(a, &sa);
    assert_true(sc.soc != sa.soc || sc.load_w != sa.load_w); /* the seed matters */
    ew_rct_sim_step(a, T0);                                  /* going back is ignored */
    ew_rct_sim_get_state(a, &sb);
    assert_int_equal(sb.time, sa.time);
    ew_rct_sim_del(a);
    ew_rct_sim_del(b);
    ew_rct_sim_del(c);
}

static void test_read_every_object(void **state) {
    (void)state;
    ew_rct_sim *s = mk(3);
    answer a;
    for (size_t i = 0; i < ew_rct_object_count(); i++) {
        const ew_rct_object *ob = ew_rct_object_at(i);
        ask(s, EW_RCT_CMD_READ, ob->id, NULL, 0, 0, &a);
        assert_int_equal(a.rc, EW_OK);
        assert_int_equal(a.f.id, ob->id);
        int ty = ew_rct_type_for(ob->id, a.f.command);
        assert_int_equal(ty, ob->response_type);
        ew_rct_value v;
        assert_int_equal(ew_rct_value_decode(ty, a.f.payload.ptr, a.f.payload.len, &v, NULL),
                         EW_OK);
        if (ty == EW_RCT_TYPE_FLOAT)
            assert_true(isfinite(v.f));
        if (ty == EW_RCT_TYPE_TIMESERIES || ty == EW_RCT_TYPE_EVENT_TABLE)
            assert_int_equal(a.f.command, EW_RCT_CMD_LONG_RESPONSE);
        else
            assert_int_equal(a.f.command, EW_RCT_CMD_RESPONSE);
    }
    /* The model's objects. */
    ew_rct_sim_state st;
    ew_rct_sim_step(s, T0 + 12 * 3600);
    ew_rct_sim_get_state(s, &st);
    ask(s, EW_RCT_CMD_READ, OID_SOC, NULL, 0, 0, &a);
    ew_rct_value v;
    assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_FLOAT, a.f.payload.ptr, 4, &v, NULL), EW_OK);
    assert_true(v.f == (double)(float)st.soc);
    ask(s, EW_RCT_CMD_READ, 0x91617C58u, NULL, 0, 0, &a); /* grid */
    assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_FLOAT, a.f.payload.ptr, 4, &v, NULL), EW_OK);
    assert_true(v.f == (double)(float)st.grid_w);
    ask(s, EW_RCT_CMD_READ, 0xB5317B78u, NULL, 0, 0, &a); /* PV A */
    assert_int_equal(ew_rct_value_decode(EW_RCT_TYPE_FLOAT, a.f.payload.ptr, 4, &v, NULL), EW_OK);
    assert_true(v.f > 0);
    ew_rct_sim_del(s);
}

static void test_silence(void **state) {
    (void)state;
    ew_rct_sim *s = mk(3);
    answer a;
    ask(s, EW_RCT_CMD_READ, 0x12345678u, NULL, 0, 0, &a); /* unknown id */
    assert_int_equal(a.rc, 1);
    ask(s, EW_RCT_CMD_PLANT_READ, OID_SOC, NULL, 0, 0, &a);
    assert_int_equal(a.rc, 1);
    uint8_t four[4] = {0};
    ask(s, EW_RCT_CMD_RESPONSE, OID_SOC, four, 4, 0, &a);
    assert_int_equal(a.rc, 1);
    ask(s, EW_RCT_CMD_WRITE, OID_SOC_TARGET, four, 3, 0, &a); /* not a FLOAT */
    assert_int_equal(a.rc, 1);
    ask(s, EW_RCT_CMD_WRITE, OID_TS_SOC, four, 2, 0, &a); /* not an INT32 T */
    assert_int_equal(a.rc, 1);
    /* A request with a bad CRC is discarded (rct.md §12). */
    ew_rct_frame f;
    memset(&f, 0, sizeof f);
    f.command = EW_RCT_CMD_READ;
    f.id = OID_SOC;
    f.crc_ok = 0;
    uint8_t out[64];
    size_t w = 99;
    assert_int_equal(ew_rct_sim_handle(s, &f, 0, out, sizeof out, &w), EW_OK);
    assert_int_equal(w, 0);
    f.crc_ok = 1;
    assert_int_equal(ew_rct_sim_handle(s, &f, 0, out, 3, &w), EW_ERR_NOBUF);
    ew_rct_sim_del(s);
}

static void test_writes(void **state) {
    (void)state;
    ew_rct_sim *s = mk(3);
    answer a;
    uint8_t p[16];
    size_t n;
    ew_rct_value v;
    ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, 0.25, p, sizeof p, &n);
    ask(s, EW_RCT_CMD_WRITE, OID_SOC_TARGET, p, n, 0, &a);
    assert_int_equal(a.rc, EW_OK);
    assert_int_equal(a.f.command, EW_RCT_CMD_RESPONSE);
    assert_memory_equal(a.f.payload.ptr, p, 4);
    ask(s, EW_RCT_CMD_READ, OID_SOC_TARGET, NULL, 0, 0, &a);
    assert_memory_equal(a.f.payload.ptr, p, 4);
    /* A string written, read back. */
    ask(s, EW_RCT_CMD_WRITE, 0xEBC62737u, (const uint8_t *)"roof", 4, 0, &a);
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, 0, &a);
    assert_int_equal(a.f.payload.len, 4);
    assert_memory_equal(a.f.payload.ptr, "roof", 4);
    /* A measurement keeps its model value. */
    ew_rct_sim_state st;
    ew_rct_sim_get_state(s, &st);
    ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, 0.01, p, sizeof p, &n);
    ask(s, EW_RCT_CMD_WRITE, OID_SOC, p, n, 0, &a);
    ew_rct_value_decode(EW_RCT_TYPE_FLOAT, a.f.payload.ptr, a.f.payload.len, &v, NULL);
    assert_true(v.f == (double)(float)st.soc);
    ew_rct_sim_del(s);
}

static void test_windows(void **state) {
    (void)state;
    ew_rct_sim *s = mk(4);
    answer a;
    uint8_t p[4];
    size_t n;
    const uint32_t t = T0 - 7 * 86400;
    ew_rct_value_encode_int(EW_RCT_TYPE_INT32, t, p, sizeof p, &n);
    ask(s, EW_RCT_CMD_WRITE, OID_TS_DAY, p, n, 0, &a);
    assert_int_equal(a.rc, EW_OK);
    assert_int_equal(a.f.command, EW_RCT_CMD_LONG_RESPONSE);
    ew_rct_ts_iter it;
    ew_rct_ts_point pt;
    assert_int_equal(ew_rct_ts_init(&it, a.f.payload.ptr, a.f.payload.len, NULL), EW_OK);
    assert_int_equal(it.query_ts, t);
    assert_int_equal(it.count, 24);
    uint32_t prev = 0;
    while (ew_rct_ts_next(&it, &pt)) {
        assert_true(pt.timestamp < t && pt.timestamp > prev);
        assert_int_equal(pt.timestamp % 86400, 0);
        prev = pt.timestamp;
    }
    ew_rct_value_encode_int(EW_RCT_TYPE_INT32, t, p, sizeof p, &n);
    ask(s, EW_RCT_CMD_WRITE, OID_EVENTS, p, n, 0, &a);
    ew_rct_event_iter ei;
    ew_rct_event e;
    assert_int_equal(ew_rct_events_init(&ei, a.f.payload.ptr, a.f.payload.len, NULL), EW_OK);
    assert_int_equal(ei.count, 10);
    while (ew_rct_events_next(&ei, &e))
        assert_true(e.timestamp < t && e.timestamp > t - 30 * 86400u);
    /* Near the epoch only the first synthetic event (in 0..3599 s) is older. */
    ew_rct_value_encode_int(EW_RCT_TYPE_INT32, 3600, p, sizeof p, &n);
    ask(s, EW_RCT_CMD_WRITE, OID_EVENTS, p, n, 0, &a);
    assert_int_equal(ew_rct_events_init(&ei, a.f.payload.ptr, a.f.payload.len, NULL), EW_OK);
    assert_int_equal(ei.count, 1);
    ew_rct_sim_del(s);
}

static void test_faults(void **state) {
    (void)state;
    ew_rct_sim *s = mk(5);
    answer good, a;
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, 0, &good);
    assert_int_equal(good.rc, EW_OK);
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, EW_RCT_SIM_FAULT_TRUNCATE, &a);
    assert_int_equal(a.rc, EW_OK); /* valid CRC */
    assert_int_equal(a.f.payload.len, good.f.payload.len / 2);
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, EW_RCT_SIM_FAULT_BAD_CRC, &a);
    assert_int_equal(a.rc, EW_ERR_CRC);
    assert_int_equal(a.f.payload.len, good.f.payload.len);
    assert_memory_equal(a.f.payload.ptr, good.f.payload.ptr, good.f.payload.len);
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, EW_RCT_SIM_FAULT_DROP, &a);
    assert_int_equal(a.rc, 1);
    ask(s, EW_RCT_CMD_READ, 0xEBC62737u, NULL, 0, EW_RCT_SIM_FAULT_INTERRUPT, &a);
    assert_int_equal(a.rc, EW_ERR_NEED_MORE); /* cut mid-frame */
    assert_int_equal(a.raw_len, good.raw_len / 2);
    assert_memory_equal(a.raw, good.raw, a.raw_len);
    ew_rct_sim_del(s);
}

/* Several frames in one segment, split anywhere, all answered (unlike
 * rctclient's simulator, rct.md §11 Q15). */
static void test_peer_pipelining(void **state) {
    (void)state;
    ew_rct_sim *s = mk(6);
    uint8_t seg[256];
    size_t len = 0, n;
    static const uint32_t ids[] = {OID_SOC, 0xEBC62737u, 0x12345678u, OID_SOC_TARGET};
    seg[len++] = 0x00; /* junk before the first frame */
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ew_rct_frame_encode(seg + len, sizeof seg - len, EW_RCT_CMD_READ, 0,
                                             ids[i], NULL, 0, &n),
                         EW_OK);
        len += n;
    }
    for (size_t split = 0; split <= len; split++) {
        ew_rct_sim_peer *p;
        assert_int_equal(ew_rct_sim_peer_new(s, &p), EW_OK);
        assert_int_equal(ew_rct_sim_peer_recv(p, seg, split, 0), split);
        assert_int_equal(ew_rct_sim_peer_recv(p, seg + split, len - split, 0), len - split);
        assert_int_equal(ew_rct_sim_peer_requests(p), 4);
        const uint8_t *out;
        size_t olen = ew_rct_sim_peer_send_data(p, &out);
        uint8_t buf[1024];
        ew_rct_rx rx;
        ew_rct_frame f;
        ew_rct_rx_init(&rx, buf, sizeof buf);
        size_t pos = 0, got = 0;
        while (pos < olen) {
            int rc = ew_rct_rx_feed(&rx, out + pos, olen - pos, &n, &f, NULL);
            pos += n;
            if (rc == EW_OK) {
                assert_int_equal(f.id, ids[got == 2 ? 3 : got]); /* unknown: silent */
                got++;
            }
        }
        assert_int_equal(got, 3);
        ew_rct_sim_peer_send_done(p, olen);
        assert_int_equal(ew_rct_sim_peer_send_data(p, &out), 0);
        ew_rct_sim_peer_del(p);
    }
    ew_rct_sim_del(s);
}

/* rct.md §15: a second client's request cuts the answer being sent. */
static void test_second_client(void **state) {
    (void)state;
    ew_rct_sim_opts o;
    ew_rct_sim *s;
    ew_rct_sim_opts_init(&o);
    o.interrupt_on_second_client = 1;
    assert_int_equal(ew_rct_sim_new(&s, &o, NULL), EW_OK);
    ew_rct_sim_peer *a, *b;
    assert_int_equal(ew_rct_sim_peer_new(s, &a), EW_OK);
    assert_int_equal(ew_rct_sim_peer_new(s, &b), EW_OK);
    uint8_t req[32];
    size_t n;
    const uint8_t *out;
    ew_rct_frame_encode(req, sizeof req, EW_RCT_CMD_READ, 0, 0x7924ABD9u, NULL, 0, &n);
    ew_rct_sim_peer_recv(a, req, n, 0);
    size_t full = ew_rct_sim_peer_send_data(a, &out);
    assert_true(full > 9);
    ew_rct_sim_peer_send_done(a, 2); /* part of it is on its way */
    ew_rct_sim_peer_recv(b, req, n, 0);
    size_t rest = ew_rct_sim_peer_send_data(a, &out);
    assert_true(rest < full - 2);
    /* b's own answer is whole, and a's next one is not cut any more. */
    assert_int_equal(ew_rct_sim_peer_send_data(b, &out), full);
    ew_rct_sim_peer_send_done(a, rest);
    ew_rct_sim_peer_send_done(b, full);
    ew_rct_sim_peer_recv(a, req, n, 0);
    assert_int_equal(ew_rct_sim_peer_send_data(a, &out), full);
    ew_rct_sim_peer_del(a);
    ew_rct_sim_del(s); /* frees b */
}

static void test_failmalloc(void **state) {
    (void)state;
    int done = 0;
    for (long k = 1; k < 20 && !done; k++) {
        tu_failmem f;
        tu_failmem_init(&f, k);
        ew_rct_sim *s = NULL;
        ew_rct_sim_peer *p = NULL;
        int rc = ew_rct_sim_new(&s, NULL, &f.mem);
        if (rc == EW_OK)
            rc = ew_rct_sim_peer_new(s, &p);
        if (rc == EW_OK) {
            done = 1;
        } else {
            assert_int_equal(rc, EW_ERR_NOMEM);
            assert_null(p);
        }
        ew_rct_sim_del(s);
        assert_int_equal(f.live, 0);
    }
    assert_true(done);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),           cmocka_unit_test(test_read_every_object),
        cmocka_unit_test(test_silence),         cmocka_unit_test(test_writes),
        cmocka_unit_test(test_windows),         cmocka_unit_test(test_faults),
        cmocka_unit_test(test_peer_pipelining), cmocka_unit_test(test_second_client),
        cmocka_unit_test(test_failmalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
