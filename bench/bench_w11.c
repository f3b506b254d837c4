/*
 * W11 of energywire-bench: the EP node (io_ep.h) as an energy router.
 *
 * The measured node ("router-w11") runs on its own thread with its own
 * libuv loop and listens on 127.0.0.1.  The peers are one client node
 * ("device-w11") on the main thread with one dialer per session, each
 * a full TCP + TLS 1.3 (mutual certificates, CA trust) + EP session.  All
 * peers share one certificate and identity, so the router runs with
 * close_duplicates = 0 (ep.md §6.3 would otherwise keep one of them); in
 * the field each device has its own identity.
 *
 *  1. Set-up: every dialer starts at once; the time from the first dial to
 *     the moment both sides report every EP handshake gives handshakes/s.
 *  2. Both sides start publishing SupplyParameters at 10 Hz per session
 *     (ep.md §5.5: "at least 10 messages per second"), so the router
 *     receives sessions x 10 messages/s and sends as many.  Receiving
 *     parameters puts each side in the 200 ms liveness rule (§5.5), so a
 *     router that falls behind by 200 ms loses sessions: that fails W11.
 *  3. After 1 s of warm-up, the router thread measures itself for 5 s:
 *     getrusage(RUSAGE_THREAD) before and after, and its node stats.
 *
 * Self-check: every session up, no session closed or failed on either side
 * until the end, and messages received within 10 % of sessions x 10 /s.
 * Certificates are made in memory (ew_tls_make_ca/ew_tls_make_cert).
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */

#include <stdio.h>
#include <string.h>

#include "bench_w11.h"

#define W11_SESSIONS 1000u /* the reported W11 */

#ifdef EW_BENCH_LOOP /* built with energywire_io */

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <uv.h>

#include <energywire/io_ep.h>

#define W11_QUICK_SESSIONS 100u
#define W11_TARGET_CPU 25.0
#define W11_HZ 10u
#define W11_SETUP_GUARD_MS 30000u

enum { CMD_PUBLISH = 1, CMD_MEASURE = 2, CMD_STOP = 4 };

/* Sessions whose publishing starts one by one (see stagger_tick). */
typedef struct stagger {
    uv_timer_t t;
    ew_ep_node_session **list;
    unsigned n, cap, next;
    double volts;
    uint64_t t0;
} stagger;

typedef struct w11_router {
    pthread_t tid;
    int started;
    uv_loop_t loop;
    uv_async_t ctl;
    uv_timer_t meas;
    stagger pub;
    uv_sem_t ready;
    ew_ep_node *node;
    const char *cert, *key, *ca;
    unsigned measure_ms;
    int rc;
    uint16_t port;
    int loop_left;
    /* Written by the router thread, read by the main thread. */
    unsigned pending;  /* CMD_* bits (atomic) */
    unsigned hs;       /* EP handshakes (atomic) */
    unsigned lost;     /* sessions closed (atomic) */
    unsigned measured; /* 1 when the results below are set (atomic) */
    unsigned stopping; /* teardown: closures are no longer losses (atomic) */
    double cpu_s, wall_s, user_s, sys_s;
    uint64_t rx, tx;
    uint64_t active_end;
    /* Router thread only. */
    struct rusage r0;
    uint64_t t0;
    ew_ep_node_stats s0;
} w11_router;

typedef struct w11_peers {
    uv_loop_t loop;
    ew_ep_node *node;
    unsigned hs, lost;
    stagger pub;
} w11_peers;

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

static double thread_cpu_s(struct rusage *r) {
    getrusage(RUSAGE_THREAD, r);
    return tv_s(r->ru_utime) + tv_s(r->ru_stime);
}

static void supply(ew_ep_msg *m, double volts) {
    memset(m, 0, sizeof *m);
    m->type = EW_EP_MSG_SUPPLY;
    m->present = EW_EP_HAS(2) | EW_EP_HAS(5) | EW_EP_HAS(6);
    m->u.supply.power_limit = ew_ep_num(11000.0);
    m->u.supply.voltage = ew_ep_num(volts);
    m->u.supply.current = ew_ep_num(16.5);
}

/* The 200 ms liveness rule of ep.md §5.5 for the reported W11; --quick (the
 * ctest smoke run beside other tests) only checks the machinery and allows
 * 2 s, so that a busy machine does not drop its sessions. */
static uint32_t w11_transfer_timeout_ms = 200;

static void node_opts(ew_ep_node_opts *o, const char *cert, const char *key, const char *ca,
                      const char *identity) {
    ew_ep_node_opts_init(o);
    o->conn.transfer_timeout_ms = w11_transfer_timeout_ms;
    o->tls.cert_pem = cert;
    o->tls.key_pem = key;
    o->tls.ca_pem = ca;
    o->conn.identity = identity;
    o->conn.device_type = "bench";
    o->conn.publish_hz = W11_HZ;
    o->close_duplicates = 0;
    o->max_sessions = 2 * W11_SESSIONS;
    /* Many dialers start at once: generous limits for a loaded machine. */
    o->connect_timeout_ms = 15000;
    o->tls_timeout_ms = 15000;
    o->conn.handshake_timeout_ms = 15000;
    o->seed = 11;
}

/*
 * Publishing starts session by session, spread evenly over one 100 ms
 * period as independent devices would be, rather than in one burst: each
 * EP session publishes on its own timer from its first ew_ep_conn_set_params
 * (ep_conn.h), so the phases stay where they were set.
 */
static void stagger_add(stagger *g, ew_ep_node_session *s) {
    if (g->n < g->cap)
        g->list[g->n++] = s;
}

static void stagger_tick(uv_timer_t *t) {
    stagger *g = t->data;
    uint64_t el = uv_now(t->loop) - g->t0;
    unsigned upto = el >= 100 ? g->n : (unsigned)((uint64_t)g->n * el / 100);
    ew_ep_msg m;
    supply(&m, g->volts);
    for (; g->next < upto; g->next++) {
        (void)ew_ep_conn_set_params(ew_ep_session_conn(g->list[g->next]), &m);
        ew_ep_session_update(g->list[g->next]);
    }
    if (g->next >= g->n)
        uv_timer_stop(t);
}

static void stagger_start(stagger *g, uv_loop_t *loop, double volts) {
    g->volts = volts;
    g->next = 0;
    g->t0 = uv_now(loop);
    uv_timer_start(&g->t, stagger_tick, 1, 1);
}

/* ---- the router thread ------------------------------------------------------------ */

static void router_event(void *user, const ew_ep_node_event *ev) {
    w11_router *r = user;
    if (ev->type == EW_EP_NODE_SESSION && ev->conn.type == EW_EP_EV_HANDSHAKE) {
        stagger_add(&r->pub, ev->session);
        __atomic_add_fetch(&r->hs, 1, __ATOMIC_SEQ_CST);
    } else if (ev->type == EW_EP_NODE_CLOSED && !__atomic_load_n(&r->stopping, __ATOMIC_SEQ_CST)) {
        if (__atomic_add_fetch(&r->lost, 1, __ATOMIC_SEQ_CST) == 1)
            fprintf(stderr, "energywire-bench: W11: a router session ended: %s\n", ev->detail);
    }
}

static void router_log(void *user, int level, const char *msg) {
    (void)user;
    if (level <= 0)
        fprintf(stderr, "energywire-bench: W11 router: %s\n", msg);
}

static void meas_done(uv_timer_t *t) {
    w11_router *r = t->data;
    struct rusage r1;
    double c1 = thread_cpu_s(&r1);
    uint64_t t1 = uv_hrtime();
    ew_ep_node_stats s1;
    ew_ep_node_get_stats(r->node, &s1);
    r->cpu_s = c1 - (tv_s(r->r0.ru_utime) + tv_s(r->r0.ru_stime));
    r->user_s = tv_s(r1.ru_utime) - tv_s(r->r0.ru_utime);
    r->sys_s = tv_s(r1.ru_stime) - tv_s(r->r0.ru_stime);
    r->wall_s = (double)(t1 - r->t0) * 1e-9;
    r->rx = s1.msgs_rx - r->s0.msgs_rx;
    r->tx = s1.msgs_tx - r->s0.msgs_tx;
    r->active_end = s1.sessions_active;
    __atomic_store_n(&r->measured, 1, __ATOMIC_SEQ_CST);
}

static void router_ctl(uv_async_t *a) {
    w11_router *r = a->data;
    unsigned cmd = __atomic_exchange_n(&r->pending, 0, __ATOMIC_SEQ_CST);
    if (cmd & CMD_PUBLISH)
        stagger_start(&r->pub, &r->loop, 400.0);
    if (cmd & CMD_MEASURE) {
        ew_ep_node_get_stats(r->node, &r->s0);
        (void)thread_cpu_s(&r->r0);
        r->t0 = uv_hrtime();
        uv_timer_start(&r->meas, meas_done, r->measure_ms, 0);
    }
    if (cmd & CMD_STOP) {
        ew_ep_node_del(r->node);
        r->node = NULL;
        uv_close((uv_handle_t *)&r->meas, NULL);
        uv_close((uv_handle_t *)&r->pub.t, NULL);
        uv_close((uv_handle_t *)a, NULL);
    }
}

static void *router_main(void *arg) {
    w11_router *r = arg;
    r->rc = -1;
    if (uv_loop_init(&r->loop) != 0) {
        bench_fail("W11: router thread: uv_loop_init failed");
        uv_sem_post(&r->ready);
        return NULL;
    }
    uv_async_init(&r->loop, &r->ctl, router_ctl);
    r->ctl.data = r;
    uv_timer_init(&r->loop, &r->meas);
    r->meas.data = r;
    uv_timer_init(&r->loop, &r->pub.t);
    r->pub.t.data = &r->pub;
    ew_ep_node_opts o;
    node_opts(&o, r->cert, r->key, r->ca, "router-w11");
    o.on_event = router_event;
    o.user = r;
    o.log = router_log;
    char detail[256];
    if (ew_ep_node_new(&r->node, &r->loop, &o, detail, sizeof detail) != EW_OK) {
        bench_fail("W11: router node: %s", detail);
    } else if (ew_ep_node_listen(r->node, "127.0.0.1", 0) != EW_OK) {
        bench_fail("W11: router: %s", ew_ep_node_error_detail(r->node));
    } else {
        r->port = ew_ep_node_port(r->node);
        r->rc = 0;
    }
    if (r->rc != 0) {
        ew_ep_node_del(r->node);
        r->node = NULL;
        uv_close((uv_handle_t *)&r->meas, NULL);
        uv_close((uv_handle_t *)&r->pub.t, NULL);
        uv_close((uv_handle_t *)&r->ctl, NULL);
    }
    uv_sem_post(&r->ready);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    r->loop_left = uv_loop_close(&r->loop) != 0;
    return NULL;
}

static void router_cmd(w11_router *r, unsigned cmd) {
    __atomic_or_fetch(&r->pending, cmd, __ATOMIC_SEQ_CST);
    uv_async_send(&r->ctl);
}

/* ---- the peers (main thread) ------------------------------------------------------- */

static void peers_event(void *user, const ew_ep_node_event *ev) {
    w11_peers *p = user;
    if (ev->type == EW_EP_NODE_SESSION && ev->conn.type == EW_EP_EV_HANDSHAKE) {
        stagger_add(&p->pub, ev->session);
        p->hs++;
    } else if (ev->type == EW_EP_NODE_CLOSED || ev->type == EW_EP_NODE_DIAL_FAILED) {
        if (p->lost == 0)
            fprintf(stderr, "energywire-bench: W11: a peer session ended: %s\n", ev->detail);
        p->lost++;
    }
}

static void tick(uv_timer_t *t) {
    (void)t;
}

typedef int (*w11_pred)(void *ctx);

/* Runs the peers' loop until |pred| or |ms| of wall time. */
static int run_until(uv_loop_t *loop, w11_pred pred, void *ctx, uint64_t ms) {
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, tick, 10, 10);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + ms;
    int ok = 0;
    while (!(ok = pred ? pred(ctx) : 0) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

typedef struct setup_ctx {
    w11_peers *p;
    w11_router *r;
    unsigned n;
} setup_ctx;

static int all_up(void *ctx) {
    setup_ctx *c = ctx;
    return c->p->hs >= c->n && __atomic_load_n(&c->r->hs, __ATOMIC_SEQ_CST) >= c->n;
}

static int measured(void *ctx) {
    return __atomic_load_n(&((w11_router *)ctx)->measured, __ATOMIC_SEQ_CST) != 0;
}

static void raise_fd_limit(unsigned need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* 1,024 by default: each session is two sockets here */
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        fprintf(stderr, "energywire-bench: W11: only %lu file descriptors (want %u)\n",
                (unsigned long)rl.rlim_cur, need);
}

int bench_w11_run(const bench_opts *o, int quick, bench_w11_report *rep) {
    (void)o;
    unsigned n = quick ? W11_QUICK_SESSIONS : W11_SESSIONS;
    /* For exploring the scaling by hand; the reported W11 is the default. */
    const char *env = getenv("EW_BENCH_W11_SESSIONS");
    if (env && atoi(env) > 0 && atoi(env) <= 5000)
        n = (unsigned)atoi(env);
    unsigned measure_ms = quick ? 1000 : 5000;
    w11_transfer_timeout_ms = quick ? 2000 : 200;
    int rc = -1;
    memset(rep, 0, sizeof *rep);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(2 * n + 64);

    char *ca = NULL, *ca_key = NULL, *rc_pem = NULL, *rk_pem = NULL, *pc_pem = NULL, *pk_pem = NULL;
    ew_tls_cert_opts cao = {.cn = "energywire W11 CA", .o = "bench", .days = 2};
    ew_tls_cert_opts ro = {.cn = "router-w11", .days = 2};
    ew_tls_cert_opts po = {.cn = "device-w11", .days = 2};
    if (ew_tls_make_ca(&cao, &ca, &ca_key) != EW_OK ||
        ew_tls_make_cert(ca, ca_key, &ro, &rc_pem, &rk_pem) != EW_OK ||
        ew_tls_make_cert(ca, ca_key, &po, &pc_pem, &pk_pem) != EW_OK) {
        bench_fail("W11: cannot make the test certificates");
        goto out_certs;
    }

    w11_router *r = calloc(1, sizeof *r);
    if (!r) {
        bench_fail("W11: out of memory");
        goto out_certs;
    }
    r->cert = rc_pem;
    r->key = rk_pem;
    r->ca = ca;
    r->measure_ms = measure_ms;
    r->pub.cap = n;
    r->pub.list = calloc(n, sizeof *r->pub.list);
    if (!r->pub.list) {
        bench_fail("W11: out of memory");
        free(r);
        goto out_certs;
    }
    uv_sem_init(&r->ready, 0);
    if (pthread_create(&r->tid, NULL, router_main, r) != 0) {
        bench_fail("W11: cannot start the router thread");
        uv_sem_destroy(&r->ready);
        free(r->pub.list);
        free(r);
        goto out_certs;
    }
    uv_sem_wait(&r->ready);

    w11_peers p;
    memset(&p, 0, sizeof p);
    p.pub.cap = n;
    p.pub.list = calloc(n, sizeof *p.pub.list);
    int loop_ok = uv_loop_init(&p.loop) == 0;
    if (loop_ok) {
        uv_timer_init(&p.loop, &p.pub.t);
        p.pub.t.data = &p.pub;
    }
    if (r->rc != 0 || !loop_ok || !p.pub.list) {
        if (!loop_ok)
            bench_fail("W11: uv_loop_init failed");
        goto out_loop;
    }
    ew_ep_node_opts po_;
    node_opts(&po_, pc_pem, pk_pem, ca, "device-w11");
    po_.on_event = peers_event;
    po_.user = &p;
    char detail[256];
    if (ew_ep_node_new(&p.node, &p.loop, &po_, detail, sizeof detail) != EW_OK) {
        bench_fail("W11: peer node: %s", detail);
        goto out_loop;
    }

    /* 1. Set-up. */
    uint64_t t0 = uv_hrtime();
    for (unsigned i = 0; i < n; i++) {
        if (ew_ep_node_dial(p.node, "127.0.0.1", r->port, NULL) != EW_OK) {
            bench_fail("W11: ew_ep_node_dial failed");
            goto out_peers;
        }
    }
    setup_ctx sc = {&p, r, n};
    if (!run_until(&p.loop, all_up, &sc, W11_SETUP_GUARD_MS)) {
        bench_fail("W11: only %u of %u sessions came up (router saw %u) within %u ms", p.hs, n,
                   __atomic_load_n(&r->hs, __ATOMIC_SEQ_CST), W11_SETUP_GUARD_MS);
        goto out_peers;
    }
    rep->setup_s = (double)(uv_hrtime() - t0) * 1e-9;

    /* 2. Publishing both ways, warm-up.  (Without parameters of its own the
     * node would still send 10 frames/s per session: during a transfer its
     * Pings go out at the publish rate, src/ep/conn.c.) */
    stagger_start(&p.pub, &p.loop, 230.0);
    router_cmd(r, CMD_PUBLISH);
    run_until(&p.loop, NULL, NULL, quick ? 300 : 1000);

    /* 3. Measurement on the router thread. */
    struct rusage pr0, pr1;
    double pc0 = thread_cpu_s(&pr0);
    uint64_t pt0 = uv_hrtime();
    router_cmd(r, CMD_MEASURE);
    if (!run_until(&p.loop, measured, r, measure_ms + 10000)) {
        bench_fail("W11: the router did not finish its measurement");
        goto out_peers;
    }
    double pc1 = thread_cpu_s(&pr1);
    double pwall = (double)(uv_hrtime() - pt0) * 1e-9;

    rep->done = 1;
    rep->sessions = n;
    rep->handshakes_per_s = (double)n / rep->setup_s;
    rep->seconds = r->wall_s;
    rep->cpu_pct = 100.0 * r->cpu_s / r->wall_s;
    rep->cpu_user_pct = 100.0 * r->user_s / r->wall_s;
    rep->cpu_sys_pct = 100.0 * r->sys_s / r->wall_s;
    rep->peers_cpu_pct = 100.0 * (pc1 - pc0) / pwall;
    rep->msgs_per_s = (double)r->rx / r->wall_s;
    rep->msgs_tx_per_s = (double)r->tx / r->wall_s;
    rep->target_cpu_pct = W11_TARGET_CPU;
    rep->lost = p.lost + __atomic_load_n(&r->lost, __ATOMIC_SEQ_CST);

    double want = (double)n * W11_HZ;
    if (rep->lost != 0 || r->active_end != n) {
        bench_fail("W11: %lu sessions lost (router holds %lu of %u)", (unsigned long)rep->lost,
                   (unsigned long)r->active_end, n);
        goto out_peers;
    }
    if (rep->msgs_per_s < want * 0.9 || rep->msgs_per_s > want * 1.1) {
        bench_fail("W11: the router received %.0f messages/s, expected %.0f +- 10 %%",
                   rep->msgs_per_s, want);
        goto out_peers;
    }
    rc = 0;

out_peers:
    /* The router must not count the teardown as lost sessions. */
    __atomic_store_n(&r->stopping, 1, __ATOMIC_SEQ_CST);
    ew_ep_node_del(p.node);
out_loop:
    if (loop_ok) {
        uv_close((uv_handle_t *)&p.pub.t, NULL);
        uv_run(&p.loop, UV_RUN_DEFAULT);
    }
    free(p.pub.list);
    if (loop_ok && uv_loop_close(&p.loop) != 0) {
        bench_fail("W11: the peers' loop closed with handles still open");
        rc = -1;
    }
    router_cmd(r, CMD_STOP);
    pthread_join(r->tid, NULL);
    uv_sem_destroy(&r->ready);
    free(r->pub.list);
    if (r->loop_left) {
        bench_fail("W11: the router's loop closed with handles still open");
        rc = -1;
    }
    free(r);
out_certs:
    ew_tls_free(ca);
    ew_tls_free(ca_key);
    ew_tls_free(rc_pem);
    ew_tls_free(rk_pem);
    ew_tls_free(pc_pem);
    ew_tls_free(pk_pem);
    if (rc != 0)
        rep->done = 0;
    return rc;
}

#else /* !EW_BENCH_LOOP */

int bench_w11_run(const bench_opts *o, int quick, bench_w11_report *rep) {
    (void)o;
    (void)quick;
    memset(rep, 0, sizeof *rep);
    fprintf(stderr, "energywire-bench: W11 skipped: built without energywire_io\n");
    return 0;
}

#endif /* EW_BENCH_LOOP */

void bench_w11_print_json(const bench_w11_report *rep, int first) {
    if (!rep->done)
        return;
    printf("%s\"W11\": {\"sessions\": %u, \"setup_s\": %.3f, \"handshakes_per_s\": %.1f, "
           "\"cpu_pct\": %.2f, \"cpu_user_pct\": %.2f, \"cpu_sys_pct\": %.2f, "
           "\"peers_cpu_pct\": %.2f, \"msgs_per_s\": %.1f, "
           "\"msgs_tx_per_s\": %.1f, \"seconds\": %.3f, \"lost\": %lu}",
           first ? "" : ", ", rep->sessions, rep->setup_s, rep->handshakes_per_s, rep->cpu_pct,
           rep->cpu_user_pct, rep->cpu_sys_pct, rep->peers_cpu_pct, rep->msgs_per_s,
           rep->msgs_tx_per_s, rep->seconds, (unsigned long)rep->lost);
}

void bench_w11_print_table(const bench_w11_report *rep) {
    if (!rep->done)
        return;
    printf("\n%-8s %9s %13s %10s %12s %12s  %-22s %s\n", "EP node", "sessions", "handshakes/s",
           "cpu %", "msgs in/s", "msgs out/s", "target", "");
    char target[40];
    snprintf(target, sizeof target, "<= %.0f %% of one core", rep->target_cpu_pct);
    printf("%-8s %9u %13.1f %10.2f %12.1f %12.1f  %-22s %s\n", "W11", rep->sessions,
           rep->handshakes_per_s, rep->cpu_pct, rep->msgs_per_s, rep->msgs_tx_per_s, target,
           rep->sessions != W11_SESSIONS         ? "(target is for 1,000 sessions)"
           : rep->cpu_pct <= rep->target_cpu_pct ? "met"
                                                 : "ABOVE TARGET");
    printf("\n  W11  one EP node (own thread) holding %u TLS 1.3 sessions on loopback, each peer\n"
           "       publishing SupplyParameters at 10 Hz and the node publishing back at 10 Hz;\n"
           "       set-up took %.2f s; the peers' thread used %.1f %% of a core; cpu %% = node\n"
           "       thread, getrusage(RUSAGE_THREAD) over %.1f s: %.1f %% user, %.1f %% kernel.\n",
           rep->sessions, rep->setup_s, rep->peers_cpu_pct, rep->seconds, rep->cpu_user_pct,
           rep->cpu_sys_pct);
}
