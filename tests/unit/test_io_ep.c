/*
 * The EP node (io_ep.h): two or more nodes on one libuv loop talking EP over
 * real TLS 1.3 on 127.0.0.1 (one case on ::1), with certificates made in
 * the test by ew_tls_make_ca()/ew_tls_make_cert().  One case runs the
 * `openssl s_client` binary with -tls1_2 against a node's listener.
 *
 * Bounds on time are generous (a loaded 2-core machine, sanitizers); the
 * tests measure no performance.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <energywire/io_ep.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

typedef struct pem_pair {
    char *cert, *key;
} pem_pair;

static pem_pair ca1, ca2, dev_a, dev_b, dev_c, rogue;

static void make_dev(const pem_pair *ca, pem_pair *out, const char *cn, const char *o) {
    ew_tls_cert_opts co = {.cn = cn, .o = o, .days = 30};
    assert_int_equal(ew_tls_make_cert(ca->cert, ca->key, &co, &out->cert, &out->key), EW_OK);
}

static int setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    ew_tls_cert_opts a = {.cn = "energywire EP test CA 1", .o = "energywire", .days = 30};
    ew_tls_cert_opts b = {.cn = "energywire EP test CA 2", .days = 30};
    if (ew_tls_make_ca(&a, &ca1.cert, &ca1.key) != EW_OK ||
        ew_tls_make_ca(&b, &ca2.cert, &ca2.key) != EW_OK)
        return -1;
    make_dev(&ca1, &dev_a, "node-a", "home");
    make_dev(&ca1, &dev_b, "node-b", "home");
    /* A certificate whose CN is not the identity its node claims. */
    make_dev(&ca1, &dev_c, "impostor", "home");
    make_dev(&ca2, &rogue, "node-r", "home");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    pem_pair *all[] = {&ca1, &ca2, &dev_a, &dev_b, &dev_c, &rogue};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        ew_tls_free(all[i]->cert);
        ew_tls_free(all[i]->key);
    }
    return 0;
}

/* ---- a node with an event record -------------------------------------------- */

#define MAX_LIVE 8

typedef struct tnode {
    ew_ep_node *n;
    const char *name;
    int tls_up, handshakes, closed, dial_failed, supplies, mismatches, soft_disconnects;
    int last_close_reason, last_close_err, last_dial_err;
    int closed_errs[16];
    int n_closed_errs;
    uint32_t last_retry;
    char last_detail[512], last_dial_detail[512];
    char last_peer_id[64];
    int last_hs_outbound;
    double last_voltage;
    ew_ep_node_session *live[MAX_LIVE]; /* sessions after HANDSHAKE, until CLOSED */
    int n_live;
    uint64_t closed_at;
    uv_loop_t *loop;
} tnode;

static void live_remove(tnode *t, ew_ep_node_session *s) {
    for (int i = 0; i < t->n_live; i++) {
        if (t->live[i] == s) {
            t->live[i] = t->live[--t->n_live];
            return;
        }
    }
}

static void on_event(void *user, const ew_ep_node_event *ev) {
    tnode *t = user;
    switch (ev->type) {
    case EW_EP_NODE_TLS_UP:
        t->tls_up++;
        assert_non_null(ew_ep_session_conn(ev->session));
        break;
    case EW_EP_NODE_SESSION:
        if (ev->conn.type == EW_EP_EV_HANDSHAKE) {
            t->handshakes++;
            ew_bytes id = ev->conn.msg.u.session.identity;
            size_t l = id.len < sizeof t->last_peer_id - 1 ? id.len : sizeof t->last_peer_id - 1;
            memcpy(t->last_peer_id, id.ptr, l);
            t->last_peer_id[l] = 0;
            t->last_hs_outbound = ew_ep_session_outbound(ev->session);
            if (t->n_live < MAX_LIVE)
                t->live[t->n_live++] = ev->session;
        } else if (ev->conn.type == EW_EP_EV_MESSAGE && ev->conn.msg.type == EW_EP_MSG_SUPPLY) {
            t->supplies++;
            if (ev->conn.msg.present & EW_EP_HAS(5))
                t->last_voltage = ev->conn.msg.u.supply.voltage.value;
        } else if (ev->conn.type == EW_EP_EV_IDENTITY_MISMATCH) {
            t->mismatches++;
        } else if (ev->conn.type == EW_EP_EV_SOFT_DISCONNECT) {
            t->soft_disconnects++;
        }
        break;
    case EW_EP_NODE_CLOSED:
        t->closed++;
        t->last_close_reason = ev->close_reason;
        t->last_close_err = ev->err;
        if (t->n_closed_errs < 16)
            t->closed_errs[t->n_closed_errs++] = ev->err;
        snprintf(t->last_detail, sizeof t->last_detail, "%s", ev->detail);
        t->closed_at = uv_now(t->loop);
        live_remove(t, ev->session);
        assert_non_null(ev->detail);
        break;
    case EW_EP_NODE_DIAL_FAILED:
        t->dial_failed++;
        t->last_dial_err = ev->err;
        t->last_retry = ev->retry_ms;
        assert_null(ev->session);
        snprintf(t->last_dial_detail, sizeof t->last_dial_detail, "%s", ev->detail);
        break;
    }
}

static void on_log(void *user, int level, const char *msg) {
    tnode *t = user;
    if (getenv("EW_TEST_VERBOSE"))
        fprintf(stderr, "[%s %d] %s\n", t->name, level, msg);
}

typedef struct node_cfg {
    const pem_pair *own;
    const char *identity;
    const pem_pair *ca;  /* trusted CA, or NULL */
    const uint8_t *pins; /* trusted fingerprints, or NULL */
    size_t n_pins;
    uint32_t tls_timeout_ms; /* 0: default */
} node_cfg;

static void node_up(tnode *t, uv_loop_t *loop, const char *name, const node_cfg *c) {
    memset(t, 0, sizeof *t);
    t->name = name;
    t->loop = loop;
    ew_ep_node_opts o;
    ew_ep_node_opts_init(&o);
    o.tls.cert_pem = c->own->cert;
    o.tls.key_pem = c->own->key;
    o.tls.ca_pem = c->ca ? c->ca->cert : NULL;
    o.tls.pins = c->pins;
    o.tls.n_pins = c->n_pins;
    o.conn.identity = c->identity;
    o.conn.tenant = "home";
    o.conn.device_type = "test";
    o.backoff_min_ms = 100;
    o.backoff_max_ms = 400;
    o.seed = 42;
    o.tls_timeout_ms = c->tls_timeout_ms;
    o.on_event = on_event;
    o.user = t;
    o.log = on_log;
    o.log_user = t;
    char detail[256];
    int rc = ew_ep_node_new(&t->n, loop, &o, detail, sizeof detail);
    if (rc != EW_OK)
        fail_msg("ew_ep_node_new: %s", detail);
}

/* ---- running the loop --------------------------------------------------------- */

static void tick_cb(uv_timer_t *t) {
    (void)t;
}

typedef int (*pred_fn)(void *ctx);

/* Runs the loop until |pred| holds or |ms| passed; returns pred's value. */
static int run_until(uv_loop_t *loop, pred_fn pred, void *ctx, uint64_t ms) {
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, tick_cb, 5, 5);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    int ok = 0;
    while (!(ok = pred ? pred(ctx) : 0) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static void run_for(uv_loop_t *loop, uint64_t ms) {
    (void)run_until(loop, NULL, NULL, ms);
}

typedef struct pair {
    tnode *a, *b;
    int want_a, want_b;
} pair;

static int both_handshakes(void *ctx) {
    pair *p = ctx;
    return p->a->handshakes >= p->want_a && p->b->handshakes >= p->want_b;
}

static void loop_finish(uv_loop_t *loop, tnode **nodes, int n) {
    for (int i = 0; i < n; i++)
        ew_ep_node_del(nodes[i]->n);
    for (int i = 0; i < 200 && uv_run(loop, UV_RUN_NOWAIT); i++)
        ;
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static const node_cfg cfg_a = {&dev_a, "node-a", &ca1, NULL, 0, 0};
static const node_cfg cfg_b = {&dev_b, "node-b", &ca1, NULL, 0, 0};

/* A and B up, A listening on 127.0.0.1, B dialing; both handshakes done. */
static void connect_pair(uv_loop_t *loop, tnode *a, tnode *b, ew_ep_dialer **pd) {
    node_up(a, loop, "A", &cfg_a);
    node_up(b, loop, "B", &cfg_b);
    assert_int_equal(ew_ep_node_listen(a->n, "127.0.0.1", 0), EW_OK);
    uint16_t port = ew_ep_node_port(a->n);
    assert_true(port > 0);
    assert_int_equal(ew_ep_node_dial(b->n, "127.0.0.1", port, pd), EW_OK);
    pair p = {a, b, 1, 1};
    assert_true(run_until(loop, both_handshakes, &p, 5000));
}

/* ---- tests ------------------------------------------------------------------- */

static void test_handshake(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    ew_ep_dialer *d;
    connect_pair(&loop, &a, &b, &d);
    assert_string_equal(a.last_peer_id, "node-b");
    assert_string_equal(b.last_peer_id, "node-a");
    assert_int_equal(a.last_hs_outbound, 0);
    assert_int_equal(b.last_hs_outbound, 1);
    assert_int_equal(a.tls_up, 1);
    assert_int_equal(b.tls_up, 1);
    assert_true(ew_ep_dialer_running(d));
    ew_ep_node_session *s = ew_ep_dialer_session(d);
    assert_non_null(s);
    assert_ptr_equal(s, b.live[0]);
    /* The certificate fields are readable. */
    char cn[64];
    assert_int_equal(ew_tls_peer_field(ew_ep_session_tls(s), EW_TLS_FIELD_CN, cn, sizeof cn), 6);
    assert_string_equal(cn, "node-a");
    assert_non_null(strstr(ew_ep_session_peer_name(s), "127.0.0.1:"));
    ew_ep_node_stats st;
    ew_ep_node_get_stats(a.n, &st);
    assert_int_equal(st.accepted, 1);
    assert_int_equal(st.tls_ok, 1);
    assert_int_equal(st.sessions_active, 1);
    assert_int_equal(st.sessions_open, 1);
    assert_true(st.msgs_rx >= 1);
    ew_ep_node_get_stats(b.n, &st);
    assert_int_equal(st.dialed, 1);
    assert_int_equal(st.sessions_active, 1);
    assert_true(st.bytes_rx > 0 && st.bytes_tx > 0);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static int enough_supplies(void *ctx) {
    return ((tnode *)ctx)->supplies >= 10;
}

static void test_publish_supply(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    node_up(&a, &loop, "A", &cfg_a);
    node_up(&b, &loop, "B", &cfg_b);
    /* Set on the node before any session exists: applies to later ones. */
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_SUPPLY;
    m.present = EW_EP_HAS(5) | EW_EP_HAS(2);
    m.u.supply.voltage = ew_ep_num(400.0);
    m.u.supply.power_limit = ew_ep_num(11000.0);
    assert_int_equal(ew_ep_node_set_params(a.n, &m), EW_OK);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    assert_int_equal(ew_ep_node_dial(b.n, "127.0.0.1", ew_ep_node_port(a.n), NULL), EW_OK);
    /* 10 Hz: 10 messages take about 1 s. */
    assert_true(run_until(&loop, enough_supplies, &b, 5000));
    assert_true(b.last_voltage == 400.0);
    /* A new value reaches the running session. */
    m.u.supply.voltage = ew_ep_num(230.5);
    assert_int_equal(ew_ep_node_set_params(a.n, &m), EW_OK);
    b.supplies = 0;
    assert_true(run_until(&loop, enough_supplies, &b, 5000));
    assert_true(b.last_voltage == 230.5);
    /* Publishing keeps the peer in its transfer rule (ep.md §5.5): still up. */
    assert_int_equal(b.closed, 0);
    assert_int_equal(ew_ep_node_clear_params(a.n, EW_EP_MSG_SUPPLY), EW_OK);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static int b_closed(void *ctx) {
    return ((pair *)ctx)->b->closed >= 1;
}

static void test_liveness_drop(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    ew_ep_dialer *d;
    connect_pair(&loop, &a, &b, &d);
    ew_ep_node_session *sb = ew_ep_dialer_session(d), *sa = a.live[0];
    assert_non_null(sb);
    assert_non_null(sa);
    uint64_t t0 = uv_now(&loop);
    ew_ep_conn_set_transfer(ew_ep_session_conn(sb), 1, t0);
    ew_ep_session_update(sb); /* the 200 ms rule starts now */
    ew_ep_session_pause(sa, 1);
    pair p = {&a, &b, 0, 0};
    assert_true(run_until(&loop, b_closed, &p, 3000));
    assert_int_equal(b.last_close_reason, EW_EP_CLOSE_LIVENESS);
    assert_int_equal(b.last_close_err, EW_ERR_TIMEOUT);
    assert_non_null(strstr(b.last_detail, "liveness timeout"));
    /* 200 ms rule; generous bound for a loaded machine. */
    assert_true(b.closed_at - t0 >= 150);
    assert_true(b.closed_at - t0 < 1500);
    /* The dialer renegotiates at once (ep.md §5.5). */
    p.want_a = 2;
    p.want_b = 2;
    assert_true(run_until(&loop, both_handshakes, &p, 5000));
    assert_true(ew_ep_dialer_running(d));
    /* On A the paused session was replaced: same opener, the newer one is
     * kept (ep.md §6.3). */
    run_for(&loop, 100);
    assert_int_equal(a.n_live, 1);
    assert_int_equal(b.n_live, 1);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static void test_soft_disconnect(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    ew_ep_dialer *d;
    connect_pair(&loop, &a, &b, &d);
    /* reconnect=true: the dialer comes back (with backoff, ep.md §5.7). */
    assert_int_equal(ew_ep_session_soft_disconnect(a.live[0], 1, "restarting"), EW_OK);
    pair p = {&a, &b, 2, 2};
    assert_true(run_until(&loop, both_handshakes, &p, 5000));
    assert_int_equal(b.closed, 1);
    assert_int_equal(b.last_close_reason, EW_EP_CLOSE_PEER_DISCONNECT);
    assert_int_equal(b.soft_disconnects, 1);
    assert_non_null(strstr(b.last_detail, "restarting"));
    assert_int_equal(a.last_close_reason, EW_EP_CLOSE_LOCAL);
    assert_true(ew_ep_dialer_running(d));
    /* reconnect=false: the dialer stops. */
    run_for(&loop, 50);
    assert_int_equal(a.n_live, 1);
    assert_int_equal(ew_ep_session_soft_disconnect(a.live[0], 0, "going away"), EW_OK);
    p.want_a = p.want_b = 3;
    assert_false(run_until(&loop, both_handshakes, &p, 1200));
    assert_int_equal(b.closed, 2);
    assert_int_equal(b.last_close_reason, EW_EP_CLOSE_PEER_DISCONNECT);
    assert_false(ew_ep_dialer_running(d));
    assert_null(ew_ep_dialer_session(d));
    assert_int_equal(b.handshakes, 2);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

typedef struct dup_ctx {
    tnode *a, *b;
} dup_ctx;

static int dup_settled(void *ctx) {
    dup_ctx *c = ctx;
    ew_ep_node_stats sa, sb;
    ew_ep_node_get_stats(c->a->n, &sa);
    ew_ep_node_get_stats(c->b->n, &sb);
    return sa.sessions_open == 1 && sb.sessions_open == 1 && c->a->n_live == 1 &&
           c->b->n_live == 1 && c->a->handshakes + c->b->handshakes >= 2 &&
           sa.duplicates_closed + sb.duplicates_closed + (uint64_t)c->a->soft_disconnects +
                   (uint64_t)c->b->soft_disconnects >=
               1;
}

static void test_duplicate(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    node_up(&a, &loop, "A", &cfg_a);
    node_up(&b, &loop, "B", &cfg_b);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    assert_int_equal(ew_ep_node_listen(b.n, "127.0.0.1", 0), EW_OK);
    ew_ep_dialer *da, *db;
    assert_int_equal(ew_ep_node_dial(a.n, "127.0.0.1", ew_ep_node_port(b.n), &da), EW_OK);
    assert_int_equal(ew_ep_node_dial(b.n, "127.0.0.1", ew_ep_node_port(a.n), &db), EW_OK);
    dup_ctx c = {&a, &b};
    assert_true(run_until(&loop, dup_settled, &c, 5000));
    run_for(&loop, 500); /* nothing else happens */
    assert_true(dup_settled(&c));
    /* "node-a" < "node-b": the connection A opened is the one kept, on both
     * sides (ep.md §6.3). */
    assert_int_equal(ew_ep_session_outbound(a.live[0]), 1);
    assert_int_equal(ew_ep_session_outbound(b.live[0]), 0);
    assert_ptr_equal(ew_ep_dialer_session(da), a.live[0]);
    assert_true(ew_ep_dialer_running(da));
    assert_false(ew_ep_dialer_running(db));
    /* The same connection: the ports match crosswise. */
    char an[80], bn[80];
    snprintf(an, sizeof an, "%s", ew_ep_session_peer_name(a.live[0]));
    snprintf(bn, sizeof bn, "%s", ew_ep_session_peer_name(b.live[0]));
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)ew_ep_node_port(b.n));
    assert_string_equal(an, want);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static int dial_failed_and_a_closed(void *ctx) {
    pair *p = ctx;
    return p->b->dial_failed >= 1 && p->a->closed >= 1;
}

static int closed_both(void *ctx) {
    pair *p = ctx;
    return p->b->closed + p->b->dial_failed >= 1 && p->a->closed >= 1;
}

static int has_err(const tnode *t, int err) {
    for (int i = 0; i < t->n_closed_errs; i++)
        if (t->closed_errs[i] == err)
            return 1;
    return 0;
}

static void test_untrusted(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, r, r2;
    node_up(&a, &loop, "A", &cfg_a);
    /* R trusts only CA 2: A's certificate (CA 1) is untrusted for R. */
    node_cfg cr = {&rogue, "node-r", &ca2, NULL, 0, 0};
    node_up(&r, &loop, "R", &cr);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    ew_ep_dialer *d;
    assert_int_equal(ew_ep_node_dial(r.n, "127.0.0.1", ew_ep_node_port(a.n), &d), EW_OK);
    pair p = {&a, &r, 0, 0};
    assert_true(run_until(&loop, dial_failed_and_a_closed, &p, 5000));
    assert_int_equal(r.last_dial_err, EW_TLS_ERR_UNTRUSTED);
    assert_non_null(strstr(r.last_dial_detail, "untrusted certificate"));
    assert_true(r.last_retry > 0); /* still retrying, with backoff */
    assert_true(ew_ep_dialer_running(d));
    assert_int_equal(r.handshakes, 0);
    assert_int_equal(a.handshakes, 0);
    assert_int_equal(a.last_close_reason, 0);
    assert_true(a.last_close_err < 0);
    ew_ep_dialer_stop(d);
    assert_false(ew_ep_dialer_running(d));

    /* R2 trusts CA 1 but shows a CA 2 certificate: A refuses it. */
    node_cfg cr2 = {&rogue, "node-r", &ca1, NULL, 0, 0};
    node_up(&r2, &loop, "R2", &cr2);
    a.closed = 0;
    a.n_closed_errs = 0;
    assert_int_equal(ew_ep_node_dial(r2.n, "127.0.0.1", ew_ep_node_port(a.n), &d), EW_OK);
    p.b = &r2;
    assert_true(run_until(&loop, closed_both, &p, 5000));
    assert_true(has_err(&a, EW_TLS_ERR_UNTRUSTED));
    assert_non_null(strstr(a.last_detail, "untrusted certificate"));
    assert_int_equal(a.handshakes, 0);
    assert_int_equal(r2.handshakes, 0);
    tnode *all[] = {&a, &r, &r2};
    loop_finish(&loop, all, 3);
}

static void test_fingerprint_trust(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    uint8_t fa[EW_TLS_FP_LEN], fb[EW_TLS_FP_LEN];
    assert_int_equal(ew_tls_cert_fingerprint(dev_a.cert, fa), EW_OK);
    assert_int_equal(ew_tls_cert_fingerprint(dev_b.cert, fb), EW_OK);
    /* No CA at all: each trusts the other's certificate by fingerprint. */
    node_cfg ca = {&dev_a, "node-a", NULL, fb, 1, 0};
    node_cfg cb = {&dev_b, "node-b", NULL, fa, 1, 0};
    tnode a, b;
    node_up(&a, &loop, "A", &ca);
    node_up(&b, &loop, "B", &cb);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    ew_ep_dialer *d;
    assert_int_equal(ew_ep_node_dial(b.n, "127.0.0.1", ew_ep_node_port(a.n), &d), EW_OK);
    pair p = {&a, &b, 1, 1};
    assert_true(run_until(&loop, both_handshakes, &p, 5000));
    uint8_t raw[EW_TLS_FP_LEN];
    char hex[EW_TLS_FP_HEX_LEN];
    assert_int_equal(ew_tls_peer_fingerprint(ew_ep_session_tls(ew_ep_dialer_session(d)), hex, raw),
                     EW_OK);
    assert_memory_equal(raw, fa, EW_TLS_FP_LEN);
    /* A certificate not on the list is refused. */
    tnode c;
    node_cfg cc = {&dev_c, "impostor", NULL, fa, 1, 0};
    node_up(&c, &loop, "C", &cc);
    a.closed = 0;
    a.n_closed_errs = 0;
    assert_int_equal(ew_ep_node_dial(c.n, "127.0.0.1", ew_ep_node_port(a.n), NULL), EW_OK);
    pair q = {&a, &c, 0, 0};
    assert_true(run_until(&loop, closed_both, &q, 5000));
    assert_true(has_err(&a, EW_TLS_ERR_UNTRUSTED));
    tnode *all[] = {&a, &b, &c};
    loop_finish(&loop, all, 3);
}

static int mismatch_done(void *ctx) {
    pair *p = ctx;
    return p->a->closed >= 1 && p->b->closed >= 1;
}

static void test_identity_mismatch(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, c;
    node_up(&a, &loop, "A", &cfg_a);
    /* C's certificate says CN "impostor", its SessionParameters "node-c". */
    node_cfg cc = {&dev_c, "node-c", &ca1, NULL, 0, 0};
    node_up(&c, &loop, "C", &cc);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    ew_ep_dialer *d;
    assert_int_equal(ew_ep_node_dial(c.n, "127.0.0.1", ew_ep_node_port(a.n), &d), EW_OK);
    pair p = {&a, &c, 0, 0};
    assert_true(run_until(&loop, mismatch_done, &p, 5000));
    run_for(&loop, 600); /* longer than the largest backoff: no new attempt */
    assert_int_equal(a.mismatches, 1);
    assert_int_equal(a.handshakes, 0);
    assert_int_equal(a.closed, 1);
    assert_int_equal(a.last_close_reason, EW_EP_CLOSE_IDENTITY);
    assert_int_equal(a.last_close_err, EW_ERR_AUTH);
    assert_non_null(strstr(a.last_detail, "impostor"));
    assert_non_null(strstr(a.last_detail, "node-c"));
    /* C was told "identity mismatch" with reconnect=false and stops. */
    assert_int_equal(c.last_close_reason, EW_EP_CLOSE_PEER_DISCONNECT);
    assert_non_null(strstr(c.last_detail, "identity mismatch"));
    assert_false(ew_ep_dialer_running(d));
    assert_int_equal(c.closed, 1);
    tnode *all[] = {&a, &c};
    loop_finish(&loop, all, 2);
}

/* ---- TLS 1.2 client (openssl s_client) ---------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text, char *path,
                       size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

typedef struct child_ctx {
    pid_t pid;
    int status, exited;
    tnode *a;
} child_ctx;

static int child_done(void *ctx) {
    child_ctx *c = ctx;
    if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
        c->exited = 1;
    return c->exited && c->a->closed >= 1;
}

static void test_tls12_refused(void **state) {
    (void)state;
    char dir[] = "/tmp/ew-test-ep-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char crt[300], key[300], cafile[300], out[300];
    write_file(dir, "client.crt", dev_b.cert, crt, sizeof crt);
    write_file(dir, "client.key", dev_b.key, key, sizeof key);
    write_file(dir, "ca.pem", ca1.cert, cafile, sizeof cafile);
    snprintf(out, sizeof out, "%s/s_client.out", dir);

    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a;
    node_up(&a, &loop, "A", &cfg_a);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    char target[40];
    snprintf(target, sizeof target, "127.0.0.1:%u", (unsigned)ew_ep_node_port(a.n));

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {"openssl", "s_client", "-tls1_2", "-connect", target, "-cert",
                    crt,       "-key",     key,       "-CAfile",  cafile, NULL};
    child_ctx c = {0, 0, 0, &a};
    int rc = posix_spawnp(&c.pid, "openssl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        tnode *all[] = {&a};
        loop_finish(&loop, all, 1);
        skip(); /* no openssl binary */
    }
    int ok = run_until(&loop, child_done, &c, 10000);
    if (!c.exited) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, &c.status, 0);
    }
    assert_true(ok);
    assert_int_equal(a.last_close_err, EW_TLS_ERR_VERSION);
    assert_int_equal(a.last_close_reason, 0);
    assert_non_null(strstr(a.last_detail, "TLS 1.3"));
    assert_int_equal(a.tls_up, 0);
    ew_ep_node_stats st;
    ew_ep_node_get_stats(a.n, &st);
    assert_int_equal(st.tls_failed, 1);
    /* s_client failed: non-zero exit and no TLS 1.2 session. */
    assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    assert_null(strstr(text, "New, TLSv1.2"));
    unlink(crt);
    unlink(key);
    unlink(cafile);
    unlink(out);
    rmdir(dir);
    tnode *all[] = {&a};
    loop_finish(&loop, all, 1);
}

/* ---- addresses ----------------------------------------------------------------------- */

static int dial_failed(void *ctx) {
    return ((tnode *)ctx)->dial_failed >= 2;
}

static void test_closed_port(void **state) {
    (void)state;
    /* A port nobody listens on: bind one, note it, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    uint16_t port = ntohs(sin.sin_port);
    close(fd);

    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode b;
    node_up(&b, &loop, "B", &cfg_b);
    ew_ep_dialer *d;
    assert_int_equal(ew_ep_node_dial(b.n, "127.0.0.1", port, &d), EW_OK);
    assert_true(run_until(&loop, dial_failed, &b, 5000));
    assert_int_equal(b.last_dial_err, EW_IO_ERR_UNREACHABLE);
    assert_non_null(strstr(b.last_dial_detail, "refused"));
    /* Backoff within [min/2, max] (100..400 ms in these tests). */
    assert_true(b.last_retry >= 50 && b.last_retry <= 400);
    assert_int_equal(b.closed, 0);
    tnode *all[] = {&b};
    loop_finish(&loop, all, 1);
}

static void test_ipv6(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    node_up(&a, &loop, "A", &cfg_a);
    node_up(&b, &loop, "B", &cfg_b);
    if (ew_ep_node_listen(a.n, "::1", 0) != EW_OK) {
        tnode *all[] = {&a, &b};
        loop_finish(&loop, all, 2);
        skip(); /* no IPv6 loopback here */
    }
    assert_int_equal(ew_ep_node_dial(b.n, "[::1]", ew_ep_node_port(a.n), NULL), EW_OK);
    pair p = {&a, &b, 1, 1};
    assert_true(run_until(&loop, both_handshakes, &p, 5000));
    assert_string_equal(a.last_peer_id, "node-b");
    assert_non_null(strstr(ew_ep_session_peer_name(a.live[0]), "[::1]:"));
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static int all_closed(void *ctx) {
    pair *p = ctx;
    return p->a->closed >= 1 && p->b->closed >= 1;
}

static int a_closed(void *ctx) {
    return ((tnode *)ctx)->closed >= 1;
}

/* A TCP client that never starts TLS: the handshake timer ends it. */
static void test_tls_timeout(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a;
    node_cfg c = cfg_a;
    c.tls_timeout_ms = 300;
    node_up(&a, &loop, "A", &c);
    assert_int_equal(ew_ep_node_listen(a.n, "127.0.0.1", 0), EW_OK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(ew_ep_node_port(a.n));
    /* Completes in the kernel's backlog; the loop accepts it later. */
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    uint64_t t0 = uv_now(&loop);
    assert_true(run_until(&loop, a_closed, &a, 5000));
    assert_int_equal(a.last_close_err, EW_ERR_TIMEOUT);
    assert_int_equal(a.last_close_reason, 0);
    assert_non_null(strstr(a.last_detail, "no handshake within 300 ms"));
    assert_true(a.closed_at - t0 >= 250);
    assert_int_equal(a.tls_up, 0);
    /* The node closed the connection: the client reads end of stream. */
    char b;
    assert_true(read(fd, &b, 1) <= 0);
    close(fd);
    tnode *all[] = {&a};
    loop_finish(&loop, all, 1);
}

static void test_shutdown(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    tnode a, b;
    ew_ep_dialer *d;
    connect_pair(&loop, &a, &b, &d);
    ew_ep_node_shutdown(a.n, 1, "maintenance");
    pair p = {&a, &b, 0, 0};
    assert_true(run_until(&loop, all_closed, &p, 3000));
    assert_int_equal(b.last_close_reason, EW_EP_CLOSE_PEER_DISCONNECT);
    assert_non_null(strstr(b.last_detail, "maintenance"));
    /* A's listener is gone: B keeps trying and fails to connect. */
    assert_true(run_until(&loop, dial_failed, &b, 5000));
    assert_int_equal(b.last_dial_err, EW_IO_ERR_UNREACHABLE);
    tnode *all[] = {&a, &b};
    loop_finish(&loop, all, 2);
}

static void test_opts(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ew_ep_node_opts o;
    ew_ep_node_opts_init(&o);
    ew_ep_node *n = NULL;
    char detail[200];
    /* No identity. */
    o.tls.cert_pem = dev_a.cert;
    o.tls.key_pem = dev_a.key;
    o.tls.ca_pem = ca1.cert;
    assert_int_equal(ew_ep_node_new(&n, &loop, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_non_null(strstr(detail, "identity"));
    /* No trust. */
    o.conn.identity = "node-a";
    o.tls.ca_pem = NULL;
    assert_int_equal(ew_ep_node_new(&n, &loop, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_null(n);
    o.tls.ca_pem = ca1.cert;
    assert_int_equal(ew_ep_node_new(&n, &loop, &o, detail, sizeof detail), EW_OK);
    assert_int_equal(ew_ep_node_listen(n, "not-an-address", 0), EW_IO_ERR_SOCKET);
    assert_non_null(strstr(ew_ep_node_error_detail(n), "not-an-address"));
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_PING;
    assert_int_equal(ew_ep_node_set_params(n, &m), EW_ERR_INVAL);
    ew_ep_node_del(n);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_publish_supply),
        cmocka_unit_test(test_liveness_drop),
        cmocka_unit_test(test_soft_disconnect),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_fingerprint_trust),
        cmocka_unit_test(test_identity_mismatch),
        cmocka_unit_test(test_tls12_refused),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_tls_timeout),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
