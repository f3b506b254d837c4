/*
 * EP session (ew_ep_conn_*): two sessions wired together in memory with a
 * fake clock; no sockets, no sleeps.
 *
 * The rig moves each side's send_data() bytes to the other side's recv(),
 * whole, byte by byte or in random chunks, and writes every event (with
 * the time) to a per-side text log.  Every scenario runs in all feeding
 * modes and the logs must be identical.  A sniffer per direction decodes
 * the bytes on the wire to count frames by message type.  When nothing is
 * on the wire the clock jumps to the earliest deadline.
 *
 * Covered: handshake in both orders, handshake timeout, publishing at
 * 10 Hz, liveness during a transfer and idle, Ping keep-alive, soft
 * disconnect, identity mismatch, the duplicate-connection rule, unknown
 * message types, corrupt bytes (resync, rejected payloads, garbage budget,
 * wrong first message) and failmalloc.
 */
#include "testutil.h"

#include <energywire/ep_conn.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000000u

/* Modes 2.. are random chunks, each with its own seed. */
enum { MODE_WHOLE = 0, MODE_BYTE = 1, MODE_RANDOM = 2, MODE_N = 6 };

typedef struct sniff {
    ew_ep_rx rx;
    uint8_t buf[2048];
    unsigned ping, session, soft, supply, demand, storage, other;
} sniff;

typedef struct rig {
    ew_ep_conn *c[2]; /* 0 = A, 1 = B */
    uint64_t now;
    int mode;
    uint64_t rng;
    int drop[2]; /* drop[i]: discard what side i sends */
    int hold[2]; /* hold[i]: leave what side i sends in its buffer */
    tu_log log;
    sniff sn[2]; /* sn[i]: frames sent by side i */
} rig;

static void sniff_feed(sniff *s, const uint8_t *p, size_t len) {
    size_t pos = 0, n;
    ew_ep_frame f;
    while (pos < len) {
        int rc = ew_ep_rx_feed(&s->rx, p + pos, len - pos, &n, &f, NULL);
        pos += n;
        if (rc == EW_ERR_NEED_MORE)
            break;
        if (rc != EW_OK)
            continue;
        switch (f.type) {
        case EW_EP_MSG_PING:
            s->ping++;
            break;
        case EW_EP_MSG_SESSION:
            s->session++;
            break;
        case EW_EP_MSG_SOFT_DISCONNECT:
            s->soft++;
            break;
        case EW_EP_MSG_SUPPLY:
            s->supply++;
            break;
        case EW_EP_MSG_DEMAND:
            s->demand++;
            break;
        case EW_EP_MSG_STORAGE:
            s->storage++;
            break;
        default:
            s->other++;
        }
    }
}

static void log_bytes(tu_log *l, ew_bytes b) {
    tu_logf(l, "\"%.*s\"", (int)b.len, (const char *)b.ptr);
}

static void drain(rig *r, int side) {
    ew_ep_conn_event ev;
    char txt[1024];
    while (ew_ep_conn_poll_event(r->c[side], &ev)) {
        tu_logf(&r->log, "%c t=%" PRIu64 " ", side ? 'B' : 'A', r->now - T0);
        switch (ev.type) {
        case EW_EP_EV_HANDSHAKE:
        case EW_EP_EV_MESSAGE:
            ew_ep_msg_format(&ev.msg, 0, txt, sizeof txt);
            tu_logf(&r->log, "%s type=%08" PRIx32 " raw=%zu frame=%zu %s\n",
                    ev.type == EW_EP_EV_HANDSHAKE ? "HANDSHAKE" : "MESSAGE", ev.msg.type,
                    ev.msg.raw.len, ev.frame.len, txt);
            break;
        case EW_EP_EV_REJECTED:
            tu_logf(&r->log, "REJECTED type=%08" PRIx32 " err=%s\n", ev.msg.type,
                    ew_errname(ev.err));
            break;
        case EW_EP_EV_SOFT_DISCONNECT:
            tu_logf(&r->log, "SOFT_DISCONNECT reconnect=%d reason=", ev.reconnect);
            log_bytes(&r->log, ev.reason);
            tu_logf(&r->log, "\n");
            break;
        case EW_EP_EV_IDENTITY_MISMATCH:
            tu_logf(&r->log, "IDENTITY_MISMATCH mask=%u peer=", ev.mismatch);
            log_bytes(&r->log, ev.msg.u.session.identity);
            tu_logf(&r->log, "\n");
            break;
        case EW_EP_EV_CLOSED:
            tu_logf(&r->log, "CLOSED %s %s\n", ew_ep_close_reason_name(ev.close_reason),
                    ew_errname(ev.err));
            break;
        }
    }
}

/* Feeds |len| bytes to |side| in the rig's chunking mode. */
static void feed(rig *r, int side, const uint8_t *p, size_t len) {
    size_t pos = 0;
    while (pos < len) {
        size_t chunk = len - pos;
        if (r->mode == MODE_BYTE)
            chunk = 1;
        else if (r->mode >= MODE_RANDOM) {
            size_t k = 1 + (size_t)(tu_rand(&r->rng) % 23);
            if (k < chunk)
                chunk = k;
        }
        size_t off = 0;
        int spins = 0;
        while (off < chunk) {
            int n = ew_ep_conn_recv(r->c[side], p + pos + off, chunk - off, r->now);
            assert_true(n >= 0);
            drain(r, side);
            if (n == 0) {
                if (ew_ep_conn_want_close(r->c[side]))
                    return; /* the rest is dropped */
                assert_true(++spins < 3);
            }
            off += (size_t)n;
        }
        pos += chunk;
    }
}

/* Moves bytes both ways until the wire is quiet. */
static void pump(rig *r) {
    for (int moved = 1; moved;) {
        moved = 0;
        for (int s = 0; s < 2; s++) {
            const uint8_t *out;
            size_t n = r->hold[s] ? 0 : ew_ep_conn_send_data(r->c[s], &out);
            if (!n)
                continue;
            uint8_t *copy = malloc(n);
            assert_non_null(copy);
            memcpy(copy, out, n);
            ew_ep_conn_send_done(r->c[s], n);
            sniff_feed(&r->sn[s], copy, n);
            if (!r->drop[s])
                feed(r, !s, copy, n);
            free(copy);
            moved = 1;
        }
    }
}

static void on_timeouts(rig *r) {
    for (int s = 0; s < 2; s++) {
        if (ew_ep_conn_next_deadline(r->c[s]) <= r->now)
            ew_ep_conn_on_timeout(r->c[s], r->now);
        drain(r, s);
    }
    pump(r);
}

/* Runs the clock to T0 + |until| (inclusive). */
static void advance(rig *r, uint64_t until) {
    until += T0;
    for (int guard = 0; guard < 100000; guard++) {
        uint64_t d = ew_ep_conn_next_deadline(r->c[0]);
        uint64_t e = ew_ep_conn_next_deadline(r->c[1]);
        if (e < d)
            d = e;
        if (d > until) {
            r->now = until;
            return;
        }
        if (d > r->now)
            r->now = d;
        on_timeouts(r);
    }
    fail_msg("clock does not advance");
}

static void opts_for(ew_ep_conn_opts *o, int side) {
    ew_ep_conn_opts_init(o);
    o->now_ms = T0;
    o->role = side ? EW_EP_ROLE_ACCEPTOR : EW_EP_ROLE_INITIATOR;
    o->identity = side ? "charger-1" : "vehicle-1";
    o->device_type = side ? "charger" : "vehicle";
    o->version = "1.0";
    o->tenant = "acme";
    o->provider = "grid-co";
    o->session_id = side ? "s-b" : "s-a";
}

static void rig_init(rig *r, int mode, const ew_ep_conn_opts *oa, const ew_ep_conn_opts *ob) {
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->rng = 0x1234u + (uint64_t)mode;
    r->now = T0;
    ew_ep_conn_opts d[2];
    opts_for(&d[0], 0);
    opts_for(&d[1], 1);
    assert_int_equal(ew_ep_conn_new(&r->c[0], oa ? oa : &d[0], NULL), EW_OK);
    assert_int_equal(ew_ep_conn_new(&r->c[1], ob ? ob : &d[1], NULL), EW_OK);
    for (int s = 0; s < 2; s++)
        assert_int_equal(ew_ep_rx_init(&r->sn[s].rx, r->sn[s].buf, sizeof r->sn[s].buf, 0), EW_OK);
}

static char *rig_done(rig *r) {
    ew_ep_conn_del(r->c[0]);
    ew_ep_conn_del(r->c[1]);
    return tu_log_take(&r->log);
}

/* Runs |scenario| in every feeding mode; the logs must match.  Returns the
 * log (caller frees). */
typedef char *(*scenario_fn)(int mode);
static char *all_modes(scenario_fn fn) {
    char *first = fn(MODE_WHOLE);
    for (int m = 1; m < MODE_N; m++) {
        char *l = fn(m);
        if (strcmp(first, l) != 0)
            fail_msg("mode %d differs:\n--- whole\n%s--- mode %d\n%s", m, first, m, l);
        free(l);
    }
    if (getenv("EP_CONN_DUMP")) /* for debugging: print the event log */
        fprintf(stderr, "%s", first);
    return first;
}

static void expect(const char *log, const char *needle) {
    if (!strstr(log, needle))
        fail_msg("missing \"%s\" in log:\n%s", needle, log);
}

static void expect_not(const char *log, const char *needle) {
    if (strstr(log, needle))
        fail_msg("unexpected \"%s\" in log:\n%s", needle, log);
}

/* ---- handshake ----------------------------------------------------------- */

/* Only |first|'s bytes move at t=0; the other side's are held until t=10. */
static char *sc_handshake_order(int mode, int first) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    r.hold[!first] = 1;
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[!first]));
    assert_false(ew_ep_conn_active(r.c[first]));
    r.now += 10;
    r.hold[!first] = 0;
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[0]) && ew_ep_conn_active(r.c[1]));
    ew_bytes pid = ew_ep_conn_peer_identity(r.c[0]);
    assert_int_equal(pid.len, 9);
    assert_memory_equal(pid.ptr, "charger-1", 9);
    return rig_done(&r);
}

static char *sc_hs_a_first(int mode) {
    return sc_handshake_order(mode, 0);
}

static char *sc_hs_b_first(int mode) {
    return sc_handshake_order(mode, 1);
}

static void test_handshake_orders(void **state) {
    (void)state;
    char *l = all_modes(sc_hs_a_first);
    expect(l, "B t=0 HANDSHAKE type=baba5e55");
    expect(l, "A t=10 HANDSHAKE type=baba5e55");
    expect(l, "vehicle-1");
    free(l);
    l = all_modes(sc_hs_b_first);
    expect(l, "A t=0 HANDSHAKE");
    expect(l, "B t=10 HANDSHAKE");
    expect(l, "charger-1");
    free(l);
}

static char *sc_simultaneous(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[0]) && ew_ep_conn_active(r.c[1]));
    /* Both sent exactly one SessionParameters, nothing else. */
    assert_int_equal(r.sn[0].session, 1);
    assert_int_equal(r.sn[1].session, 1);
    /* A repeated SessionParameters with the same identity (KENETH's
     * connecting side, ep.md §5.3) is a MESSAGE, not an error. */
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_SESSION;
    m.present = EW_EP_HAS(0) | EW_EP_HAS(4) | EW_EP_HAS(5);
    m.u.session.identity = (ew_bytes){(const uint8_t *)"vehicle-1", 9};
    m.u.session.tenant = (ew_bytes){(const uint8_t *)"acme", 4};
    m.u.session.provider = (ew_bytes){(const uint8_t *)"grid-co", 7};
    assert_int_equal(ew_ep_conn_send_msg(r.c[0], &m), EW_OK);
    pump(&r);
    /* A different identity is a protocol error. */
    m.u.session.identity = (ew_bytes){(const uint8_t *)"vehicle-2", 9};
    assert_int_equal(ew_ep_conn_send_msg(r.c[0], &m), EW_OK);
    pump(&r);
    assert_int_equal(ew_ep_conn_error(r.c[1]), EW_ERR_PROTO);
    expect(ew_ep_conn_error_detail(r.c[1]), "identity changed");
    return rig_done(&r);
}

static void test_handshake_simultaneous(void **state) {
    (void)state;
    char *l = all_modes(sc_simultaneous);
    expect(l, "A t=0 HANDSHAKE");
    expect(l, "B t=0 HANDSHAKE");
    expect(l, "B t=0 MESSAGE type=baba5e55");
    expect(l, "B t=0 CLOSED protocol error EW_ERR_PROTO");
    expect(l, "A t=0 SOFT_DISCONNECT reconnect=0 reason=\"peer identity changed\"");
    expect(l, "A t=0 CLOSED peer soft disconnect");
    free(l);
}

static char *sc_hs_timeout(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    r.drop[1] = 1; /* B's SessionParameters never arrive at A */
    pump(&r);
    advance(&r, 4999);
    assert_false(ew_ep_conn_want_close(r.c[0]));
    advance(&r, 6000);
    assert_true(ew_ep_conn_want_close(r.c[0]));
    assert_int_equal(ew_ep_conn_error(r.c[0]), EW_ERR_TIMEOUT);
    assert_int_equal(ew_ep_conn_next_deadline(r.c[0]), UINT64_MAX);
    return rig_done(&r);
}

static void test_handshake_timeout(void **state) {
    (void)state;
    char *l = all_modes(sc_hs_timeout);
    expect(l, "A t=5000 CLOSED handshake timeout EW_ERR_TIMEOUT");
    expect_not(l, "A t=0 HANDSHAKE");
    free(l);
}

/* ---- publishing ---------------------------------------------------------- */

static void set_all_params(ew_ep_conn *c, double volts) {
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_DEMAND;
    m.present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(5);
    m.u.demand.voltage = ew_ep_num(volts);
    m.u.demand.current = ew_ep_num(-32);
    m.u.demand.duration = ew_ep_num_int(5400000);
    assert_int_equal(ew_ep_conn_set_params(c, &m), EW_OK);
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_SUPPLY;
    m.present = EW_EP_HAS(2) | EW_EP_HAS(5);
    m.u.supply.power_limit = ew_ep_num(11000);
    m.u.supply.voltage = ew_ep_num(234.5);
    assert_int_equal(ew_ep_conn_set_params(c, &m), EW_OK);
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_STORAGE;
    m.present = EW_EP_HAS(0) | EW_EP_HAS(3);
    m.u.storage.soc = ew_ep_num(55.5);
    m.u.storage.capacity = ew_ep_num(60000);
    assert_int_equal(ew_ep_conn_set_params(c, &m), EW_OK);
}

static char *sc_publish(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    set_all_params(r.c[0], 400);
    advance(&r, 999);
    /* 10 Hz for one second: t = 0, 100, ..., 900. */
    assert_int_equal(r.sn[0].supply, 10);
    assert_int_equal(r.sn[0].demand, 10);
    assert_int_equal(r.sn[0].storage, 10);
    assert_int_equal(r.sn[0].ping, 0); /* no Ping while publishing (§5.5) */
    /* B derived "transfer active" from A's parameters (§5.5). */
    assert_true(ew_ep_conn_transfer_active(r.c[1]));
    assert_false(ew_ep_conn_transfer_active(r.c[0]));
    /* New values are copies: the next tick carries them. */
    set_all_params(r.c[0], 410);
    assert_int_equal(ew_ep_conn_publish_now(r.c[0]), EW_OK);
    pump(&r);
    assert_int_equal(r.sn[0].demand, 11);
    /* Stop publishing: one Ping at once, and B leaves the transfer state. */
    ew_ep_conn_clear_params(r.c[0], EW_EP_MSG_SUPPLY);
    ew_ep_conn_clear_params(r.c[0], EW_EP_MSG_DEMAND);
    assert_int_equal(r.sn[0].ping, 0);
    ew_ep_conn_clear_params(r.c[0], EW_EP_MSG_STORAGE);
    pump(&r);
    assert_int_equal(r.sn[0].ping, 1);
    assert_false(ew_ep_conn_transfer_active(r.c[1]));
    advance(&r, 3000);
    assert_false(ew_ep_conn_want_close(r.c[0]) || ew_ep_conn_want_close(r.c[1]));
    return rig_done(&r);
}

static void test_publish_10hz(void **state) {
    (void)state;
    char *l = all_modes(sc_publish);
    expect(l, "B t=0 MESSAGE type=dcdcfeed");
    expect(l, "B t=900 MESSAGE type=dcdcba77");
    expect_not(l, "B t=1000 MESSAGE");
    expect(l, "voltage=400 V");
    expect(l, "voltage=410 V");
    expect(l, "power-limit=11000 W");
    expect(l, "soc=55.5 %");
    expect_not(l, "CLOSED");
    free(l);
}

/* ---- liveness and keep-alive --------------------------------------------- */

static char *sc_liveness_transfer(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    advance(&r, 500);
    ew_ep_conn_set_transfer(r.c[0], 1, r.now);
    set_all_params(r.c[0], 400);
    advance(&r, 600);
    assert_false(ew_ep_conn_want_close(r.c[0]));
    r.drop[1] = 1; /* B goes silent at t=600 */
    advance(&r, 2000);
    assert_true(ew_ep_conn_want_close(r.c[0]));
    assert_int_equal(ew_ep_conn_error(r.c[0]), EW_ERR_TIMEOUT);
    return rig_done(&r);
}

static void test_liveness_transfer(void **state) {
    (void)state;
    char *l = all_modes(sc_liveness_transfer);
    /* B pings every 100 ms during the derived transfer; the last arrived at
     * t=600, so A drops at 800 without a SoftDisconnect. */
    expect(l, "A t=800 CLOSED liveness timeout EW_ERR_TIMEOUT");
    expect_not(l, "SOFT_DISCONNECT");
    free(l);
}

static char *sc_liveness_idle(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    r.drop[1] = 1; /* B silent from the start, no transfer */
    advance(&r, 1000);
    assert_false(ew_ep_conn_want_close(r.c[0])); /* 200 ms rule off when idle */
    advance(&r, 6000);
    assert_true(ew_ep_conn_want_close(r.c[0]));
    return rig_done(&r);
}

static void test_liveness_idle(void **state) {
    (void)state;
    char *l = all_modes(sc_liveness_idle);
    expect(l, "A t=5000 CLOSED idle timeout EW_ERR_TIMEOUT");
    free(l);
}

static char *sc_ping(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    advance(&r, 3500);
    assert_int_equal(r.sn[0].ping, 3); /* t = 1000, 2000, 3000 */
    assert_int_equal(r.sn[1].ping, 3);
    advance(&r, 20000);
    assert_true(ew_ep_conn_active(r.c[0]) && ew_ep_conn_active(r.c[1]));
    ew_ep_conn_stats st;
    ew_ep_conn_get_stats(r.c[1], &st);
    assert_int_equal(st.pings_rx, 20);
    assert_int_equal(st.frames_rx, 21);
    return rig_done(&r);
}

static void test_ping_keepalive(void **state) {
    (void)state;
    char *l = all_modes(sc_ping);
    expect_not(l, "CLOSED");
    expect_not(l, "MESSAGE"); /* Pings are not events */
    free(l);
}

/* ---- soft disconnect and identity ---------------------------------------- */

static char *sc_soft(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    r.now += 40;
    assert_int_equal(ew_ep_conn_soft_disconnect(r.c[0], 1, "software update"), EW_OK);
    drain(&r, 0);
    assert_int_equal(ew_ep_conn_soft_disconnect(r.c[0], 1, "again"), EW_ERR_STATE);
    pump(&r);
    assert_int_equal(r.sn[0].soft, 1);
    assert_true(ew_ep_conn_want_close(r.c[0]) && ew_ep_conn_want_close(r.c[1]));
    assert_int_equal(ew_ep_conn_error(r.c[1]), EW_OK);
    return rig_done(&r);
}

static void test_soft_disconnect(void **state) {
    (void)state;
    char *l = all_modes(sc_soft);
    expect(l, "A t=40 CLOSED local close EW_OK");
    expect(l, "B t=40 SOFT_DISCONNECT reconnect=1 reason=\"software update\"");
    expect(l, "B t=40 CLOSED peer soft disconnect EW_OK");
    free(l);
}

static char *sc_identity(int mode) {
    ew_ep_conn_opts ob;
    opts_for(&ob, 1);
    ob.expect_identity = "vehicle-9"; /* the certificate says so */
    rig r;
    rig_init(&r, mode, NULL, &ob);
    pump(&r);
    assert_int_equal(ew_ep_conn_error(r.c[1]), EW_ERR_AUTH);
    assert_true(ew_ep_conn_want_close(r.c[1]));
    char *l = rig_done(&r);
    /* Tenant and provider through the setter; mismatch_continue goes on. */
    opts_for(&ob, 1);
    ob.mismatch_continue = 1;
    rig_init(&r, mode, NULL, &ob);
    assert_int_equal(ew_ep_conn_set_expected_peer(r.c[1], "vehicle-1", "other", NULL), EW_OK);
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[1]));
    assert_int_equal(ew_ep_conn_set_expected_peer(r.c[1], NULL, NULL, NULL), EW_ERR_STATE);
    char *l2 = rig_done(&r);
    /* A match passes silently. */
    opts_for(&ob, 1);
    ob.expect_identity = "vehicle-1";
    ob.expect_tenant = "acme";
    ob.expect_provider = "grid-co";
    rig_init(&r, mode, NULL, &ob);
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[1]));
    char *l3 = rig_done(&r);
    tu_log all = {0};
    tu_logf(&all, "%s--\n%s--\n%s", l, l2, l3);
    free(l);
    free(l2);
    free(l3);
    return tu_log_take(&all);
}

static void test_identity_mismatch(void **state) {
    (void)state;
    char *l = all_modes(sc_identity);
    expect(l, "B t=0 IDENTITY_MISMATCH mask=1 peer=\"vehicle-1\"\nB t=0 CLOSED identity "
              "mismatch EW_ERR_AUTH");
    expect(l, "A t=0 SOFT_DISCONNECT reconnect=0 reason=\"identity mismatch\"");
    expect(l, "B t=0 IDENTITY_MISMATCH mask=2 peer=\"vehicle-1\"\nB t=0 HANDSHAKE");
    free(l);
}

/* ---- duplicate connections ----------------------------------------------- */

static ew_bytes B(const char *s) {
    return (ew_bytes){(const uint8_t *)s, strlen(s)};
}

static void test_duplicate_rule(void **state) {
    (void)state;
    /* Truth table: local, peer, a.we_opened, a.t, b.we_opened, b.t -> keep */
    static const struct {
        const char *local, *peer;
        int ao;
        uint64_t at;
        int bo;
        uint64_t bt;
        int keep;
    } tt[] = {
        {"alpha", "beta", 1, 10, 0, 20, 0}, /* a opened by alpha (lower) */
        {"alpha", "beta", 0, 10, 1, 20, 1}, /* b opened by alpha */
        {"beta", "alpha", 1, 10, 0, 20, 1}, /* a opened by beta: keep b (alpha's) */
        {"beta", "alpha", 0, 10, 1, 20, 0},
        {"ab", "abc", 1, 50, 0, 10, 0}, /* a prefix sorts lower */
        {"abc", "ab", 1, 50, 0, 10, 1},
        {"alpha", "beta", 1, 10, 1, 20, 1}, /* same opener: newer */
        {"alpha", "beta", 1, 30, 1, 20, 0},
        {"alpha", "beta", 0, 10, 0, 20, 1},
        {"alpha", "beta", 0, 20, 0, 20, 0}, /* tie: a */
        {"same", "same", 1, 10, 0, 20, 1},  /* equal identities: newer */
        {"\x01", "\xff", 1, 10, 0, 20, 0},  /* bytewise, unsigned */
    };
    for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++) {
        ew_ep_dup_side a = {tt[i].ao, tt[i].at}, b = {tt[i].bo, tt[i].bt};
        if (ew_ep_dup_keep(B(tt[i].local), B(tt[i].peer), &a, &b) != tt[i].keep)
            fail_msg("row %zu", i);
        /* Swapping a and b swaps the answer (except ties). */
        if (tt[i].at != tt[i].bt || tt[i].ao != tt[i].bo)
            assert_int_equal(ew_ep_dup_keep(B(tt[i].local), B(tt[i].peer), &b, &a), !tt[i].keep);
    }
    /* Both ends agree: connection 1 opened by "alpha", 2 by "beta". */
    ew_ep_dup_side al1 = {1, 5}, al2 = {0, 7}, be1 = {0, 6}, be2 = {1, 6};
    assert_int_equal(ew_ep_dup_keep(B("alpha"), B("beta"), &al1, &al2), 0);
    assert_int_equal(ew_ep_dup_keep(B("beta"), B("alpha"), &be1, &be2), 0);

    /* With real sessions: A ("vehicle-1") opened rig 1; B ("charger-1")
     * opened rig 2.  "charger-1" < "vehicle-1": both keep rig 2. */
    rig r1, r2;
    rig_init(&r1, MODE_WHOLE, NULL, NULL);
    ew_ep_conn_opts oa, ob;
    opts_for(&oa, 0);
    opts_for(&ob, 1);
    oa.role = EW_EP_ROLE_ACCEPTOR;
    ob.role = EW_EP_ROLE_INITIATOR;
    rig_init(&r2, MODE_WHOLE, &oa, &ob);
    assert_false(ew_ep_conn_is_duplicate(r1.c[0], r2.c[0])); /* not ACTIVE yet */
    pump(&r1);
    r2.now += 100;
    pump(&r2);
    assert_true(ew_ep_conn_is_duplicate(r1.c[0], r2.c[0]));
    assert_true(ew_ep_conn_is_duplicate(r1.c[1], r2.c[1]));
    assert_false(ew_ep_conn_is_duplicate(r1.c[0], r1.c[1]));
    assert_int_equal(ew_ep_conn_dup_keep(r1.c[0], r2.c[0]), 1);
    assert_int_equal(ew_ep_conn_dup_keep(r1.c[1], r2.c[1]), 1);
    assert_int_equal(ew_ep_conn_soft_disconnect(r1.c[0], 0, EW_EP_REASON_DUPLICATE), EW_OK);
    pump(&r1);
    char *l = rig_done(&r1);
    expect(l, "B t=0 SOFT_DISCONNECT reconnect=0 reason=\"duplicate connection\"");
    free(l);
    free(rig_done(&r2));
}

/* ---- unknown types and corrupt input ------------------------------------- */

static size_t frame_of(uint32_t type, const uint8_t *payload, size_t plen, uint8_t *out,
                       size_t cap) {
    size_t n = 0;
    assert_int_equal(ew_ep_frame_encode(out, cap, type, NULL, 0, payload, plen, &n), EW_OK);
    return n;
}

static char *sc_unknown(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    static const uint8_t pl[] = {0xA1, 0x00, 0xA1, 0x00, 0x61, 0x78};
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = 0x12345678u;
    m.raw = (ew_bytes){pl, sizeof pl};
    assert_int_equal(ew_ep_conn_send_msg(r.c[0], &m), EW_OK);
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[1]));
    char *l = rig_done(&r);
    /* Before the handshake an unknown type is "anything else" (§5.3). */
    rig_init(&r, mode, NULL, NULL);
    uint8_t buf[64];
    size_t n = frame_of(0x12345678u, pl, sizeof pl, buf, sizeof buf);
    feed(&r, 1, buf, n);
    assert_int_equal(ew_ep_conn_error(r.c[1]), EW_ERR_PROTO);
    const uint8_t *out;
    size_t on = ew_ep_conn_send_data(r.c[1], &out);
    sniff_feed(&r.sn[1], out, on);
    assert_int_equal(r.sn[1].session, 1);
    assert_int_equal(r.sn[1].soft, 1);
    char *l2 = rig_done(&r);
    tu_log all = {0};
    tu_logf(&all, "%s--\n%s", l, l2);
    free(l);
    free(l2);
    return tu_log_take(&all);
}

static void test_unknown_type(void **state) {
    (void)state;
    char *l = all_modes(sc_unknown);
    expect(l, "B t=0 MESSAGE type=12345678 raw=6 frame=18");
    expect(l, "B t=0 CLOSED protocol error EW_ERR_PROTO");
    free(l);
}

static char *sc_corrupt(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    pump(&r);
    uint8_t buf[256];
    size_t n = 0;
    static const uint8_t junk[] = {0x00, 0x11, 0x9A, 0x00, 0x00, 0x22, 0x83, 0x01};
    memcpy(buf, junk, sizeof junk);
    n += sizeof junk;
    /* A Demand whose payload is not CBOR: rejected, connection stays. */
    static const uint8_t bad[] = {0xFF};
    n += frame_of(EW_EP_MSG_DEMAND, bad, 1, buf + n, sizeof buf - n);
    buf[n++] = 0x5A; /* more junk */
    /* A good Demand. */
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_DEMAND;
    m.present = EW_EP_HAS(0);
    m.u.demand.voltage = ew_ep_num(400);
    size_t w = 0;
    assert_int_equal(ew_ep_msg_encode_frame(&m, buf + n, sizeof buf - n, &w), EW_OK);
    n += w;
    feed(&r, 1, buf, n);
    assert_true(ew_ep_conn_active(r.c[1]));
    ew_ep_conn_stats st;
    ew_ep_conn_get_stats(r.c[1], &st);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.skipped_bytes, sizeof junk + 1);
    /* More garbage than the budget (4096 bytes) closes. */
    uint8_t *g = calloc(5000, 1);
    assert_non_null(g);
    feed(&r, 1, g, 5000);
    free(g);
    assert_true(ew_ep_conn_want_close(r.c[1]));
    assert_int_equal(ew_ep_conn_error(r.c[1]), EW_ERR_PROTO);
    expect(ew_ep_conn_error_detail(r.c[1]), "resync skipped");
    char *l = rig_done(&r);
    /* Garbage and a failed frame before the handshake are ignored. */
    rig_init(&r, mode, NULL, NULL);
    feed(&r, 1, junk, sizeof junk);
    pump(&r);
    assert_true(ew_ep_conn_active(r.c[1]));
    char *l2 = rig_done(&r);
    tu_log all = {0};
    tu_logf(&all, "%s--\n%s", l, l2);
    free(l);
    free(l2);
    return tu_log_take(&all);
}

static void test_corrupt(void **state) {
    (void)state;
    char *l = all_modes(sc_corrupt);
    expect(l, "B t=0 REJECTED type=dcdcfeed err=");
    expect(l, "B t=0 MESSAGE type=dcdcfeed raw=");
    expect(l, "voltage=400 V");
    expect(l, "B t=0 CLOSED protocol error EW_ERR_PROTO");
    free(l);
}

static char *sc_wrong_first(int mode) {
    rig r;
    rig_init(&r, mode, NULL, NULL);
    uint8_t buf[32];
    static const uint8_t nul[] = {0xF6};
    size_t n = frame_of(EW_EP_MSG_PING, nul, 1, buf, sizeof buf);
    feed(&r, 0, buf, n);
    assert_int_equal(ew_ep_conn_error(r.c[0]), EW_ERR_PROTO);
    pump(&r); /* A's SessionParameters then SoftDisconnect reach B */
    return rig_done(&r);
}

static void test_wrong_first_message(void **state) {
    (void)state;
    char *l = all_modes(sc_wrong_first);
    expect(l, "A t=0 CLOSED protocol error EW_ERR_PROTO");
    expect(l, "B t=0 HANDSHAKE");
    expect(l, "B t=0 SOFT_DISCONNECT reconnect=0 reason=\"first message is not "
              "SessionParameters\"");
    free(l);
}

/* ---- options, failmalloc ------------------------------------------------- */

static void test_options(void **state) {
    (void)state;
    ew_ep_conn *c = NULL;
    ew_ep_conn_opts o;
    ew_ep_conn_opts_init(&o);
    assert_int_equal(ew_ep_conn_new(&c, &o, NULL), EW_ERR_INVAL); /* no identity */
    o.identity = "x";
    o.publish_hz = 0;
    assert_int_equal(ew_ep_conn_new(&c, &o, NULL), EW_ERR_INVAL);
    o.publish_hz = 101;
    assert_int_equal(ew_ep_conn_new(&c, &o, NULL), EW_ERR_INVAL);
    o.publish_hz = 100;
    char longid[300];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    o.expect_identity = longid;
    assert_int_equal(ew_ep_conn_new(&c, &o, NULL), EW_ERR_TOO_BIG);
    o.expect_identity = NULL;
    assert_int_equal(ew_ep_conn_new(&c, &o, NULL), EW_OK);
    assert_int_equal(ew_ep_conn_publish_now(c), EW_ERR_STATE);
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_PING;
    assert_int_equal(ew_ep_conn_set_params(c, &m), EW_ERR_INVAL);
    assert_int_equal(ew_ep_conn_send_msg(c, &m), EW_ERR_STATE);
    ew_ep_conn_close(c);
    assert_true(ew_ep_conn_want_close(c));
    ew_ep_conn_event ev;
    assert_int_equal(ew_ep_conn_poll_event(c, &ev), 1);
    assert_int_equal(ev.close_reason, EW_EP_CLOSE_LOCAL);
    assert_int_equal(ew_ep_conn_recv(c, (const uint8_t *)"x", 1, 0), 0);
    ew_ep_conn_del(c);
    ew_ep_conn_del(NULL);
}

static void test_failmalloc(void **state) {
    (void)state;
    int ok = 0;
    for (long n = 1; n < 50 && !ok; n++) {
        tu_failmem f;
        tu_failmem_init(&f, n);
        ew_ep_conn_opts o;
        opts_for(&o, 0);
        rig r;
        memset(&r, 0, sizeof r);
        r.now = T0;
        int rc = ew_ep_conn_new(&r.c[0], &o, &f.mem);
        if (rc == EW_ERR_NOMEM) {
            assert_null(r.c[0]);
            assert_int_equal(f.live, 0);
            continue;
        }
        assert_int_equal(rc, EW_OK);
        ok = 1;
        /* Nothing is allocated after creation. */
        long after_new = f.count;
        f.fail_at = f.count + 1;
        opts_for(&o, 1);
        assert_int_equal(ew_ep_conn_new(&r.c[1], &o, NULL), EW_OK);
        for (int s = 0; s < 2; s++)
            assert_int_equal(ew_ep_rx_init(&r.sn[s].rx, r.sn[s].buf, sizeof r.sn[s].buf, 0), EW_OK);
        pump(&r);
        set_all_params(r.c[0], 400);
        advance(&r, 2000);
        ew_ep_conn_soft_disconnect(r.c[0], 0, "bye");
        pump(&r);
        assert_int_equal(f.count, after_new);
        free(rig_done(&r));
        assert_int_equal(f.live, 0);
    }
    assert_true(ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_orders),    cmocka_unit_test(test_handshake_simultaneous),
        cmocka_unit_test(test_handshake_timeout),   cmocka_unit_test(test_publish_10hz),
        cmocka_unit_test(test_liveness_transfer),   cmocka_unit_test(test_liveness_idle),
        cmocka_unit_test(test_ping_keepalive),      cmocka_unit_test(test_soft_disconnect),
        cmocka_unit_test(test_identity_mismatch),   cmocka_unit_test(test_duplicate_rule),
        cmocka_unit_test(test_unknown_type),        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_wrong_first_message), cmocka_unit_test(test_options),
        cmocka_unit_test(test_failmalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
