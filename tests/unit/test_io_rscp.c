/*
 * RSCP over real loopback TCP: the libuv client (ew_rscp_client) and the
 * synchronous wrapper (ew_rscp_sync) against the libuv server
 * (ew_rscp_server) on 127.0.0.1 (and ::1 when the host has it), port 0.
 *
 * Every wait runs the loop with uv_run() until a condition holds or a cap
 * timer fires (a test that hits the cap fails instead of hanging); nothing
 * sleeps.  The synchronous client blocks in its own loop, so for those tests
 * the server runs on a second loop in a thread.
 */
/* uv.h and the sockets used to provoke a connect timeout need POSIX. */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <energywire/io.h>
#include <energywire/rscp.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#define KEY "test-rscp-key-0123"
#define USER "user@example.com"
#define PASSWORD "secret-portal-password"

/* Request tags the test server understands. */
#define TAG_REQ_PV 0x01000001u     /* EMS_REQ_POWER_PV: answered normally */
#define TAG_PV 0x01800001u         /* EMS_POWER_PV */
#define TAG_REQ_SILENT 0x7F000001u /* never answered */
#define TAG_REQ_DENIED 0x7F000002u /* answered with Error ACCESS_DENIED */
#define TAG_REQ_LATER 0x7F000003u  /* answered 50 ms later from a timer */
#define TAG_PAD 0x7F800010u        /* padding in answers: 3 cipher blocks */
#define PAD_TEXT "padding so that every answer spans three blocks"

/* ---- the test server's application ------------------------------------------------------ */

typedef struct srv_app {
    uv_loop_t *loop;
    int logins, refused, requests, peers_open, peers_closed;
    int last_close_err;
    uint32_t counter;
    int silent_once; /* the next TAG_REQ_PV is not answered */
    /* One request answered later. */
    uv_timer_t later;
    int later_init;
    ew_rscp_peer *later_peer;
    uint32_t later_id;
    /* defer_all: every request is answered from a timer, in order. */
    int defer_all;
    uv_timer_t defer;
    int defer_init;
    int ndeferred;
    ew_rscp_peer *deferred_peer[128];
    uint32_t deferred_id[128];
    int paused_logs;
} srv_app;

static int srv_login(void *user, ew_rscp_peer *p, ew_bytes name, ew_bytes pw) {
    srv_app *a = user;
    (void)p;
    a->logins++;
    if (name.len == strlen(USER) && memcmp(name.ptr, USER, name.len) == 0 &&
        pw.len == strlen(PASSWORD) && memcmp(pw.ptr, PASSWORD, pw.len) == 0)
        return 10;
    a->refused++;
    return 0;
}

static size_t build_answer(uint8_t *buf, size_t cap, uint32_t value) {
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, buf, cap);
    ew_rscp_builder_add_uint32(&b, TAG_PV, value);
    ew_rscp_builder_add_string(&b, TAG_PAD, PAD_TEXT);
    assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
    return n;
}

static void later_cb(uv_timer_t *t) {
    srv_app *a = t->data;
    if (!a->later_peer)
        return;
    uint8_t buf[128];
    size_t n = build_answer(buf, sizeof buf, 4242);
    assert_int_equal(ew_rscp_peer_respond(a->later_peer, a->later_id, buf, n), EW_OK);
    a->later_peer = NULL;
}

static void defer_cb(uv_timer_t *t) {
    srv_app *a = t->data;
    uint8_t buf[128];
    for (int i = 0; i < a->ndeferred; i++) {
        if (!a->deferred_peer[i])
            continue;
        size_t n = build_answer(buf, sizeof buf, ++a->counter);
        assert_int_equal(ew_rscp_peer_respond(a->deferred_peer[i], a->deferred_id[i], buf, n),
                         EW_OK);
    }
    a->ndeferred = 0;
}

static void srv_request(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                        size_t len, int level) {
    srv_app *a = user;
    assert_int_equal(level, 10);
    a->requests++;
    if (a->defer_all) {
        if (!a->defer_init) {
            uv_timer_init(a->loop, &a->defer);
            a->defer.data = a;
            a->defer_init = 1;
        }
        assert_true(a->ndeferred < 128);
        a->deferred_peer[a->ndeferred] = p;
        a->deferred_id[a->ndeferred++] = req_id;
        if (!uv_is_active((uv_handle_t *)&a->defer))
            uv_timer_start(&a->defer, defer_cb, 5, 0);
        return;
    }
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, data, len, 0);
    uint32_t tag = ew_rscp_iter_next(&it, &v, NULL) > 0 ? v.tag : 0;
    uint8_t buf[128];
    if (tag == TAG_REQ_SILENT)
        return;
    if (tag == TAG_REQ_PV && a->silent_once) {
        a->silent_once = 0;
        return;
    }
    if (tag == TAG_REQ_DENIED) {
        ew_rscp_builder b;
        size_t n = 0;
        ew_rscp_builder_init(&b, buf, sizeof buf);
        ew_rscp_builder_add_error(&b, TAG_REQ_DENIED | EW_RSCP_TAG_RESPONSE_BIT,
                                  EW_RSCP_ERR_ACCESS_DENIED);
        assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
        assert_int_equal(ew_rscp_peer_respond(p, req_id, buf, n), EW_OK);
        return;
    }
    if (tag == TAG_REQ_LATER) {
        if (!a->later_init) {
            uv_timer_init(a->loop, &a->later);
            a->later.data = a;
            a->later_init = 1;
        }
        a->later_peer = p;
        a->later_id = req_id;
        uv_timer_start(&a->later, later_cb, 50, 0);
        return;
    }
    size_t n = build_answer(buf, sizeof buf, ++a->counter);
    assert_int_equal(ew_rscp_peer_respond(p, req_id, buf, n), EW_OK);
    /* Answering twice, or an unknown id, is refused. */
    assert_int_equal(ew_rscp_peer_respond(p, req_id, buf, n), EW_ERR_STATE);
}

static void srv_peer(void *user, ew_rscp_peer *p, int connected, int err, const char *detail) {
    srv_app *a = user;
    (void)detail;
    assert_non_null(ew_rscp_peer_name(p));
    if (connected) {
        a->peers_open++;
        ew_rscp_peer_set_data(p, a);
        return;
    }
    assert_ptr_equal(ew_rscp_peer_data(p), a);
    a->peers_closed++;
    a->last_close_err = err;
    if (a->later_peer == p)
        a->later_peer = NULL;
    for (int i = 0; i < a->ndeferred; i++)
        if (a->deferred_peer[i] == p)
            a->deferred_peer[i] = NULL;
}

static void srv_log(void *user, int level, const char *msg) {
    srv_app *a = user;
    (void)level;
    if (strstr(msg, "pausing input"))
        a->paused_logs++;
}

static void server_opts(ew_rscp_server_opts *o, srv_app *a) {
    ew_rscp_server_opts_init(o);
    o->port = 0;
    o->conn.rscp_key = KEY;
    o->on_login = srv_login;
    o->on_request = srv_request;
    o->on_peer = srv_peer;
    o->log = srv_log;
    o->user = a;
}

/* ---- the test client's application ------------------------------------------------------ */

#define MAX_LOG 64

typedef struct cli_app {
    int authenticated, responses, failures, closed;
    int last_err;
    uint32_t last_id;
    uint32_t last_value;
    uint32_t last_device_error;
    int states[6];
    ew_rscp_client_state st;
    int st_err;
    int nlog;
    int log_level[MAX_LOG];
    char log[MAX_LOG][256];
    uint64_t answered_at;
    uv_loop_t *loop;
} cli_app;

static void cli_event(void *user, const ew_rscp_event *ev) {
    cli_app *a = user;
    switch (ev->type) {
    case EW_RSCP_EV_AUTHENTICATED:
        a->authenticated++;
        break;
    case EW_RSCP_EV_RESPONSE: {
        a->responses++;
        a->last_id = ev->req_id;
        a->last_device_error = ev->device_error;
        a->answered_at = uv_now(a->loop);
        ew_rscp_iter it;
        ew_rscp_value v;
        ew_rscp_iter_init(&it, ev->data, ev->len, 0);
        a->last_value = 0;
        if (ew_rscp_iter_next(&it, &v, NULL) > 0 && v.tag == TAG_PV) {
            uint64_t x = 0;
            assert_int_equal(ew_rscp_value_get_u64(&v, &x), EW_OK);
            a->last_value = (uint32_t)x;
        }
        break;
    }
    case EW_RSCP_EV_REQUEST_FAILED:
        a->failures++;
        a->last_id = ev->req_id;
        a->last_err = ev->err;
        break;
    case EW_RSCP_EV_CLOSED:
        a->closed++;
        break;
    default:
        fail_msg("unexpected event %d", (int)ev->type);
    }
}

static void cli_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    cli_app *a = user;
    assert_non_null(detail);
    assert_true((int)st >= 0 && (int)st < 6);
    a->states[st]++;
    a->st = st;
    a->st_err = err;
}

static void cli_log(void *user, int level, const char *msg) {
    cli_app *a = user;
    if (level >= 3)
        return; /* debug lines are not state changes */
    if (a->nlog < MAX_LOG) {
        a->log_level[a->nlog] = level;
        snprintf(a->log[a->nlog], sizeof a->log[0], "%s", msg);
    }
    a->nlog++;
}

static void client_opts(ew_rscp_client_opts *o, cli_app *a, const char *host, uint16_t port) {
    ew_rscp_client_opts_init(o);
    o->host = host;
    o->port = port;
    o->conn.rscp_key = KEY;
    o->conn.user = USER;
    o->conn.password = PASSWORD;
    o->connect_timeout_ms = 2000;
    o->backoff_min_ms = 10;
    o->backoff_max_ms = 80;
    o->seed = 12345;
    o->on_event = cli_event;
    o->on_state = cli_state;
    o->log = cli_log;
    o->user = a;
}

/* ---- loop helpers ------------------------------------------------------------------- */

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t cap;
    int capped;
    srv_app sa;
    ew_rscp_server *srv;
    uint16_t port;
} fx;

static void cap_cb(uv_timer_t *t) {
    fx *f = t->data;
    f->capped = 1;
}

typedef int (*cond_fn)(void *arg);

/* Runs the loop until |cond| holds; fails the test after |cap_ms|. */
static void run_until(fx *f, cond_fn cond, void *arg, uint64_t cap_ms, const char *what) {
    f->capped = 0;
    uv_update_time(&f->loop);
    uv_timer_start(&f->cap, cap_cb, cap_ms, 0);
    while (!cond(arg) && !f->capped)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->cap);
    if (!cond(arg))
        fail_msg("timed out after %llu ms waiting for: %s", (unsigned long long)cap_ms, what);
}

/* Runs the loop for |ms| (to show that something does not happen). */
static void run_for(fx *f, uint64_t ms) {
    f->capped = 0;
    uv_update_time(&f->loop);
    uv_timer_start(&f->cap, cap_cb, ms, 0);
    while (!f->capped)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static int fx_setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->cap);
    f->cap.data = f;
    f->sa.loop = &f->loop;
    *state = f;
    return 0;
}

static void start_server(fx *f, const ew_rscp_server_opts *o) {
    assert_int_equal(ew_rscp_server_new(&f->srv, &f->loop, o), EW_OK);
    int rc = ew_rscp_server_listen(f->srv);
    if (rc != EW_OK)
        fail_msg("listen: %s", ew_rscp_server_error_detail(f->srv));
    f->port = ew_rscp_server_port(f->srv);
    assert_true(f->port != 0);
}

static void default_server(fx *f) {
    ew_rscp_server_opts o;
    server_opts(&o, &f->sa);
    start_server(f, &o);
}

/* Closes everything and checks that no handle is left (LSan checks memory). */
static int fx_teardown(void **state) {
    fx *f = *state;
    ew_rscp_server_del(f->srv);
    if (f->sa.later_init)
        uv_close((uv_handle_t *)&f->sa.later, NULL);
    if (f->sa.defer_init)
        uv_close((uv_handle_t *)&f->sa.defer, NULL);
    uv_close((uv_handle_t *)&f->cap, NULL);
    uint64_t t0 = uv_hrtime();
    while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0 && uv_hrtime() - t0 < 30000000000u)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* A port nothing listens on: bound once, then released. */
static uint16_t free_port(fx *f) {
    srv_app tmp;
    memset(&tmp, 0, sizeof tmp);
    ew_rscp_server_opts o;
    server_opts(&o, &tmp);
    ew_rscp_server *s;
    assert_int_equal(ew_rscp_server_new(&s, &f->loop, &o), EW_OK);
    assert_int_equal(ew_rscp_server_listen(s), EW_OK);
    uint16_t port = ew_rscp_server_port(s);
    ew_rscp_server_del(s);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return port;
}

static size_t build_request(uint8_t *buf, size_t cap, uint32_t tag) {
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, buf, cap);
    ew_rscp_builder_add_none(&b, tag);
    assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
    return n;
}

static uint32_t submit(ew_rscp_client *c, uint32_t tag) {
    uint8_t buf[32];
    size_t n = build_request(buf, sizeof buf, tag);
    uint32_t id = 0;
    assert_int_equal(ew_rscp_client_submit(c, buf, n, &id), EW_OK);
    assert_true(id != 0);
    return id;
}

/* Conditions. */
typedef struct wait_n {
    const int *counter;
    int n;
} wait_n;
static int reached(void *arg) {
    wait_n *w = arg;
    return *w->counter >= w->n;
}
static void wait_count(fx *f, const int *counter, int n, uint64_t cap, const char *what) {
    wait_n w = {counter, n};
    run_until(f, reached, &w, cap, what);
}

typedef struct wait_state {
    ew_rscp_client *c;
    ew_rscp_client_state st;
} wait_state;
static int in_state(void *arg) {
    wait_state *w = arg;
    return ew_rscp_client_get_state(w->c) == w->st;
}
static void wait_state_is(fx *f, ew_rscp_client *c, ew_rscp_client_state st, uint64_t cap) {
    wait_state w = {c, st};
    run_until(f, in_state, &w, cap, ew_rscp_client_state_name(st));
}

typedef struct wait_attempts {
    ew_rscp_client *c;
    uint64_t n;
} wait_attempts;
static int attempted(void *arg) {
    wait_attempts *w = arg;
    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(w->c, &st);
    return st.attempts >= w->n;
}

static int count_logs(const cli_app *a, const char *needle) {
    int n = 0;
    for (int i = 0; i < a->nlog && i < MAX_LOG; i++)
        n += strstr(a->log[i], needle) != NULL;
    return n;
}

static void new_client(fx *f, ew_rscp_client **c, const ew_rscp_client_opts *o) {
    assert_int_equal(ew_rscp_client_new(c, &f->loop, o), EW_OK);
    assert_int_equal(ew_rscp_client_start(*c), EW_OK);
}

/* ---- client tests ---------------------------------------------------------------------------- */

static void test_login_and_requests(void **state) {
    fx *f = *state;
    default_server(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    /* Submitted while connecting: waits for the login. */
    uint32_t first = submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "first response");
    assert_int_equal(a.authenticated, 1);
    assert_int_equal(a.last_id, first);
    assert_int_equal(a.last_value, 1);
    assert_int_equal(ew_rscp_client_get_state(c), EW_RSCP_CLIENT_READY);
    assert_int_equal(ew_rscp_client_level(c), 10);
    assert_int_equal(f->sa.logins, 1);

    /* Several at once: sent one at a time, answered in order. */
    uint32_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 6, 5000, "five more responses");
    assert_int_equal(a.last_id, ids[4]);
    assert_int_equal(a.last_value, 6);
    assert_int_equal(a.failures, 0);

    /* A refusal by the device is a field of the response, not a failure. */
    submit(c, TAG_REQ_DENIED);
    wait_count(f, &a.responses, 7, 5000, "the denied request's answer");
    assert_int_equal(a.last_device_error, EW_RSCP_ERR_ACCESS_DENIED);

    /* An answer the server gives later, from a timer. */
    uint32_t later = submit(c, TAG_REQ_LATER);
    wait_count(f, &a.responses, 8, 5000, "the late answer");
    assert_int_equal(a.last_id, later);
    assert_int_equal(a.last_value, 4242);

    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(c, &st);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.logins, 1);
    assert_int_equal(st.responses, 8);
    assert_int_equal(a.nlog, 1); /* "connected to device ..." */
    assert_non_null(strstr(a.log[0], "connected to device 127.0.0.1:"));

    /* Stopping fails what waits and refuses new requests. */
    submit(c, TAG_REQ_SILENT);
    ew_rscp_client_stop(c);
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.last_err, EW_ERR_CLOSED);
    assert_int_equal(ew_rscp_client_get_state(c), EW_RSCP_CLIENT_STOPPED);
    uint8_t buf[32];
    size_t n = build_request(buf, sizeof buf, TAG_REQ_PV);
    assert_int_equal(ew_rscp_client_submit(c, buf, n, NULL), EW_ERR_STATE);
    wait_count(f, &f->sa.peers_closed, 1, 5000, "the server to see the close");

    /* ... and it can start again. */
    assert_int_equal(ew_rscp_client_start(c), EW_OK);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 9, 5000, "a response after the restart");
    ew_rscp_client_del(c);
}

static void test_wrong_password(void **state) {
    fx *f = *state;
    default_server(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.conn.password = "not-the-password";
    ew_rscp_client *c;
    new_client(f, &c, &o);
    submit(c, TAG_REQ_PV);
    wait_state_is(f, c, EW_RSCP_CLIENT_STOPPED, 5000);
    assert_int_equal(ew_rscp_client_error(c), EW_ERR_AUTH);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), "user name or password"));
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.last_err, EW_ERR_AUTH);
    assert_int_equal(a.st_err, EW_ERR_AUTH);
    assert_int_equal(f->sa.refused, 1);
    /* No retry: one attempt, one error line. */
    run_for(f, 100);
    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(c, &st);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(a.nlog, 1);
    assert_int_equal(a.log_level[0], 0);
    assert_non_null(strstr(a.log[0], "login failed"));
    ew_rscp_client_del(c);
}

static void test_wrong_key(void **state) {
    fx *f = *state;
    default_server(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.conn.rscp_key = "some-other-key";
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_state_is(f, c, EW_RSCP_CLIENT_STOPPED, 5000);
    assert_int_equal(ew_rscp_client_error(c), EW_ERR_DECRYPT);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), "RSCP key"));
    /* The server closed without answering (rscp.md §7.3). */
    assert_int_equal(f->sa.logins, 0);
    wait_count(f, &f->sa.peers_closed, 1, 5000, "the server's close");
    assert_int_equal(f->sa.last_close_err, EW_ERR_DECRYPT);
    ew_rscp_client_del(c);
}

static void test_refused_quiet_backoff(void **state) {
    fx *f = *state;
    uint16_t port = free_port(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", port);
    o.queue_timeout_ms = 100;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    submit(c, TAG_REQ_PV);

    /* Several attempts, one log line. */
    wait_attempts w = {c, 6};
    run_until(f, attempted, &w, 5000, "six connection attempts");
    assert_true(a.states[EW_RSCP_CLIENT_BACKOFF] >= 5);
    assert_int_equal(a.nlog, 1);
    assert_int_equal(a.log_level[0], 1);
    char where[64];
    snprintf(where, sizeof where, "device 127.0.0.1:%u unreachable", (unsigned)port);
    assert_non_null(strstr(a.log[0], where));
    assert_non_null(strstr(a.log[0], "connection refused"));
    assert_non_null(strstr(a.log[0], "retrying with backoff"));
    assert_int_equal(ew_rscp_client_error(c), EW_IO_ERR_UNREACHABLE);
    snprintf(where, sizeof where, "127.0.0.1:%u", (unsigned)port);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), where));

    /* The queued request gave up after its queue timeout. */
    wait_count(f, &a.failures, 1, 5000, "the queued request to time out");
    assert_int_equal(a.last_err, EW_ERR_TIMEOUT);

    /* The device comes up on that port: one more line. */
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.port = port;
    start_server(f, &so);
    wait_state_is(f, c, EW_RSCP_CLIENT_READY, 5000);
    assert_int_equal(a.nlog, 2);
    assert_int_equal(a.log_level[1], 2);
    assert_non_null(strstr(a.log[1], "reachable again"));
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "a response");

    /* The device goes away again: "lost", then quiet while it stays away. */
    ew_rscp_server_del(f->srv);
    f->srv = NULL;
    wait_state_is(f, c, EW_RSCP_CLIENT_BACKOFF, 5000);
    uint64_t before;
    {
        ew_rscp_client_stats st;
        ew_rscp_client_get_stats(c, &st);
        before = st.attempts;
    }
    wait_attempts w2 = {c, before + 5};
    run_until(f, attempted, &w2, 5000, "five more attempts");
    assert_int_equal(count_logs(&a, "lost"), 1);
    assert_int_equal(count_logs(&a, "unreachable"), 2);
    assert_int_equal(a.nlog, 4);
    ew_rscp_client_del(c);
}

static void test_backoff_grows(void **state) {
    fx *f = *state;
    uint16_t port = free_port(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", port);
    o.backoff_min_ms = 20;
    o.backoff_max_ms = 160;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    /* Delays of at least 10, 20, 40, 80, 80 ms (half of 20 .. 160 each):
     * five failures take at least 230 ms, and far less than 5 s. */
    uint64_t t0 = uv_now(&f->loop);
    wait_attempts w = {c, 6};
    run_until(f, attempted, &w, 5000, "six attempts");
    uv_update_time(&f->loop);
    assert_true(uv_now(&f->loop) - t0 >= 230);
    ew_rscp_client_del(c);
}

static void test_request_timeout_then_recover(void **state) {
    fx *f = *state;
    default_server(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.conn.request_timeout_ms = 150;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    uint32_t id = submit(c, TAG_REQ_SILENT);
    wait_count(f, &a.failures, 1, 5000, "the request to time out");
    assert_int_equal(a.last_id, id);
    assert_int_equal(a.last_err, EW_ERR_TIMEOUT);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), "no answer"));
    /* The session closes on a timeout (answers carry no id); the client
     * reconnects and goes on. */
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "a response after reconnecting");
    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(c, &st);
    assert_int_equal(st.logins, 2);
    ew_rscp_client_del(c);
}

static int outcomes_reached(void *arg) {
    void **v = arg;
    cli_app *a = v[0];
    int *target = v[1];
    return a->responses + a->failures >= *target;
}

static void wait_outcomes(fx *f, cli_app *a, int target) {
    void *v[2] = {a, &target};
    run_until(f, outcomes_reached, v, 5000, "request outcomes");
}

static void test_fault_drop(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.faults.drop_after_frames = 3; /* login answer + two answers */
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    for (int i = 1; i <= 8; i++) {
        submit(c, TAG_REQ_PV);
        wait_outcomes(f, &a, i);
    }
    /* Each connection answers two requests; a request sent as the server
     * drops may fail with EW_ERR_CLOSED. */
    assert_true(a.responses >= 5);
    if (a.failures)
        assert_int_equal(a.last_err == EW_ERR_CLOSED || a.last_err == EW_ERR_DECRYPT, 1);
    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(c, &st);
    assert_true(st.logins >= 3);
    assert_true(f->sa.peers_closed >= 2);
    ew_rscp_client_del(c);
}

static void test_fault_delay(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.conn.request_timeout_ms = 400;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_state_is(f, c, EW_RSCP_CLIENT_READY, 5000);

    ew_rscp_faults fl;
    memset(&fl, 0, sizeof fl);
    fl.delay_ms = 150;
    ew_rscp_server_set_faults(f->srv, &fl);
    uv_update_time(&f->loop);
    uint64_t t0 = uv_now(&f->loop);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "the delayed answer");
    assert_true(a.answered_at - t0 >= 140);
    assert_int_equal(a.last_value, 1);

    /* Longer than the client waits: it reports a timeout and recovers. */
    fl.delay_ms = 600;
    ew_rscp_server_set_faults(f->srv, &fl);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.failures, 1, 5000, "the timeout");
    assert_int_equal(a.last_err, EW_ERR_TIMEOUT);
    ew_rscp_server_set_faults(f->srv, NULL);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 2, 5000, "a response after recovering");
    ew_rscp_client_del(c);
}

static void test_fault_split(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.faults.split_bytes = 5;
    so.faults.split_pause_ms = 10;
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c;
    uv_update_time(&f->loop);
    uint64_t t0 = uv_now(&f->loop);
    new_client(f, &c, &o);
    wait_state_is(f, c, EW_RSCP_CLIENT_READY, 5000);
    /* The 32-byte login answer came in 7 pieces with 6 pauses. */
    uv_update_time(&f->loop);
    assert_true(uv_now(&f->loop) - t0 >= 55);
    for (int i = 1; i <= 3; i++) {
        submit(c, TAG_REQ_PV);
        wait_count(f, &a.responses, i, 5000, "a split answer");
        assert_int_equal(a.last_value, (uint32_t)i);
    }
    /* Pieces without pauses (separate writes all the same). */
    ew_rscp_faults fl;
    memset(&fl, 0, sizeof fl);
    fl.split_bytes = 1;
    ew_rscp_server_set_faults(f->srv, &fl);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 4, 5000, "a byte-by-byte answer");
    assert_int_equal(a.failures, 0);
    ew_rscp_client_del(c);
}

static void test_fault_corrupt(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.faults.corrupt_frame = 2; /* the first answer after the login */
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    uint32_t id = submit(c, TAG_REQ_PV);
    wait_outcomes(f, &a, 1);
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.last_id, id);
    assert_int_equal(a.last_err, EW_ERR_CRC);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), "CRC"));
    /* The answer spans three blocks, so the fault hits a middle one and the
     * damage stays inside it (CBC garbles that block and one byte of the
     * next, both in this frame): the following answers are fine and the
     * connection never broke. */
    for (int i = 2; i <= 3; i++) {
        submit(c, TAG_REQ_PV);
        wait_outcomes(f, &a, i);
    }
    assert_int_equal(a.failures, 1);
    assert_int_equal(a.responses, 2);
    assert_int_equal(a.last_value, 3);
    ew_rscp_client_stats st;
    ew_rscp_client_get_stats(c, &st);
    assert_int_equal(st.logins, 1);

    /* Corrupting the one-block login answer looks like a wrong key. */
    cli_app b = {.loop = &f->loop};
    ew_rscp_faults fl;
    memset(&fl, 0, sizeof fl);
    fl.corrupt_frame = 1;
    ew_rscp_server_set_faults(f->srv, &fl);
    client_opts(&o, &b, "127.0.0.1", f->port);
    ew_rscp_client *c2;
    new_client(f, &c2, &o);
    wait_state_is(f, c2, EW_RSCP_CLIENT_STOPPED, 5000);
    assert_int_equal(ew_rscp_client_error(c2), EW_ERR_DECRYPT);
    ew_rscp_client_del(c2);
    ew_rscp_client_del(c);
}

static void test_fault_refuse_login(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.faults.refuse_login = 1;
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.retry_auth_errors = 1; /* keeps trying, quietly */
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_attempts w = {c, 4};
    run_until(f, attempted, &w, 5000, "four attempts");
    assert_int_equal(ew_rscp_client_error(c), EW_ERR_AUTH);
    assert_int_equal(a.authenticated, 0);
    assert_int_equal(a.nlog, 1);
    assert_non_null(strstr(a.log[0], "login failed"));
    assert_int_equal(f->sa.logins, 0); /* the fault answers before the app */
    /* Switching the fault off lets the next attempt in. */
    ew_rscp_server_set_faults(f->srv, NULL);
    wait_state_is(f, c, EW_RSCP_CLIENT_READY, 5000);
    assert_int_equal(a.nlog, 2);
    ew_rscp_client_del(c);
}

static void test_idle_timeout(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.conn.idle_timeout_ms = 150;
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_state_is(f, c, EW_RSCP_CLIENT_READY, 5000);
    /* Requests keep the connection open past the idle time ... */
    uv_update_time(&f->loop);
    uint64_t t0 = uv_now(&f->loop);
    for (int i = 1; i <= 4; i++) {
        run_for(f, 60);
        submit(c, TAG_REQ_PV);
        wait_count(f, &a.responses, i, 5000, "a response");
    }
    uv_update_time(&f->loop);
    assert_true(uv_now(&f->loop) - t0 >= 200);
    assert_int_equal(f->sa.peers_closed, 0);
    /* ... silence does not. */
    wait_count(f, &f->sa.peers_closed, 1, 5000, "the idle close");
    assert_int_equal(f->sa.last_close_err, EW_ERR_TIMEOUT);
    wait_count(f, &a.states[EW_RSCP_CLIENT_READY], 2, 5000, "the reconnect");
    ew_rscp_client_del(c);
}

static void test_connection_limit(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.max_clients = 1;
    start_server(f, &so);
    cli_app a = {.loop = &f->loop}, b = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    ew_rscp_client *c1, *c2;
    new_client(f, &c1, &o);
    wait_state_is(f, c1, EW_RSCP_CLIENT_READY, 5000);
    client_opts(&o, &b, "127.0.0.1", f->port);
    o.retry_auth_errors = 1; /* a close during login looks like a wrong key */
    new_client(f, &c2, &o);
    wait_attempts w = {c2, 3};
    run_until(f, attempted, &w, 5000, "the second client's attempts");
    assert_int_equal(b.authenticated, 0);
    assert_int_equal(ew_rscp_server_peer_count(f->srv), 1);
    /* The first one leaves: the second gets in. */
    ew_rscp_client_del(c1);
    wait_state_is(f, c2, EW_RSCP_CLIENT_READY, 5000);
    submit(c2, TAG_REQ_PV);
    wait_count(f, &b.responses, 1, 5000, "the second client's response");
    ew_rscp_client_del(c2);
}

#define NCLIENTS 6

static int all_answered(void *arg) {
    cli_app *apps = arg;
    for (int i = 0; i < NCLIENTS; i++)
        if (apps[i].responses < 3)
            return 0;
    return 1;
}

static void test_many_clients(void **state) {
    fx *f = *state;
    default_server(f);
    cli_app apps[NCLIENTS];
    ew_rscp_client *cs[NCLIENTS];
    memset(apps, 0, sizeof apps);
    for (int i = 0; i < NCLIENTS; i++) {
        apps[i].loop = &f->loop;
        ew_rscp_client_opts o;
        client_opts(&o, &apps[i], "127.0.0.1", f->port);
        new_client(f, &cs[i], &o);
        for (int k = 0; k < 3; k++)
            submit(cs[i], TAG_REQ_PV);
    }
    run_until(f, all_answered, apps, 10000, "every client's answers");
    assert_int_equal(f->sa.peers_open, NCLIENTS);
    assert_int_equal(ew_rscp_server_peer_count(f->srv), NCLIENTS);
    assert_int_equal(f->sa.requests, 3 * NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++) {
        assert_int_equal(apps[i].failures, 0);
        ew_rscp_client_del(cs[i]);
    }
    wait_count(f, &f->sa.peers_closed, NCLIENTS, 5000, "every close");
}

static void test_ipv6(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.host = "::1";
    assert_int_equal(ew_rscp_server_new(&f->srv, &f->loop, &so), EW_OK);
    if (ew_rscp_server_listen(f->srv) != EW_OK) {
        print_message("skipping: no IPv6 loopback here (%s)\n",
                      ew_rscp_server_error_detail(f->srv));
        skip();
    }
    f->port = ew_rscp_server_port(f->srv);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "::1", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "a response over IPv6");
    assert_int_equal(a.last_value, 1);
    ew_rscp_client_del(c);
    /* The URL form of the address works too. */
    cli_app b = {.loop = &f->loop};
    client_opts(&o, &b, "[::1]", f->port);
    new_client(f, &c, &o);
    submit(c, TAG_REQ_PV);
    wait_count(f, &b.responses, 1, 5000, "a response via [::1]");
    ew_rscp_client_del(c);
}

static void test_localhost_name(void **state) {
    /* A name, resolved with uv_getaddrinfo (it may give ::1 first, where
     * nothing listens: the client then tries the next address). */
    fx *f = *state;
    default_server(f);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "localhost", f->port);
    ew_rscp_client *c;
    new_client(f, &c, &o);
    submit(c, TAG_REQ_PV);
    wait_count(f, &a.responses, 1, 5000, "a response via localhost");
    ew_rscp_client_del(c);
}

static void test_unresolvable(void **state) {
    fx *f = *state;
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "no-such-host.invalid", 5033);
    o.reconnect = 0;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_state_is(f, c, EW_RSCP_CLIENT_STOPPED, 10000);
    assert_true(ew_rscp_client_error(c) == EW_IO_ERR_UNREACHABLE ||
                ew_rscp_client_error(c) == EW_ERR_TIMEOUT);
    assert_non_null(strstr(ew_rscp_client_error_detail(c), "no-such-host.invalid"));
    ew_rscp_client_del(c);
}

static void test_del_inside_callback_cb(void *user, const ew_rscp_event *ev);

typedef struct del_app {
    cli_app base;
    ew_rscp_client *c;
    int deleted;
} del_app;

static void test_del_inside_callback_cb(void *user, const ew_rscp_event *ev) {
    del_app *d = user;
    cli_event(&d->base, ev);
    if (ev->type == EW_RSCP_EV_RESPONSE && !d->deleted) {
        d->deleted = 1;
        ew_rscp_client_del(d->c);
    }
}

static void test_del_inside_callback(void **state) {
    fx *f = *state;
    default_server(f);
    del_app d;
    memset(&d, 0, sizeof d);
    d.base.loop = &f->loop;
    ew_rscp_client_opts o;
    client_opts(&o, &d.base, "127.0.0.1", f->port);
    o.on_event = test_del_inside_callback_cb;
    o.user = &d;
    o.on_state = NULL;
    o.log = NULL;
    assert_int_equal(ew_rscp_client_new(&d.c, &f->loop, &o), EW_OK);
    assert_int_equal(ew_rscp_client_start(d.c), EW_OK);
    submit(d.c, TAG_REQ_PV);
    submit(d.c, TAG_REQ_PV);
    wait_count(f, &d.deleted, 1, 5000, "the first response");
    run_for(f, 50);
    assert_int_equal(d.base.responses, 1); /* no callbacks after _del */
    wait_count(f, &f->sa.peers_closed, 1, 5000, "the server's close");
}

static void test_invalid_args(void **state) {
    fx *f = *state;
    ew_rscp_client_opts o;
    ew_rscp_client *c = (ew_rscp_client *)1;
    ew_rscp_client_opts_init(&o);
    assert_int_equal(o.port, EW_RSCP_PORT);
    assert_int_equal(ew_rscp_client_new(&c, &f->loop, &o), EW_ERR_INVAL);
    assert_null(c);
    o.host = "127.0.0.1";
    o.conn.rscp_key = KEY;
    o.conn.user = USER;
    assert_int_equal(ew_rscp_client_new(&c, &f->loop, &o), EW_ERR_INVAL);
    o.conn.password = PASSWORD;
    o.backoff_min_ms = 100;
    o.backoff_max_ms = 10;
    assert_int_equal(ew_rscp_client_new(&c, &f->loop, &o), EW_ERR_INVAL);
    o.backoff_max_ms = 1000;
    assert_int_equal(ew_rscp_client_new(&c, &f->loop, &o), EW_OK);
    uint8_t buf[16] = {0};
    assert_int_equal(ew_rscp_client_submit(c, buf, 7, NULL), EW_ERR_STATE); /* idle */
    assert_int_equal(ew_rscp_client_get_state(c), EW_RSCP_CLIENT_IDLE);
    assert_string_equal(ew_rscp_client_state_name(EW_RSCP_CLIENT_BACKOFF), "backoff");
    ew_rscp_client_del(c);
    ew_rscp_client_del(NULL);

    ew_rscp_server_opts so;
    ew_rscp_server *s;
    ew_rscp_server_opts_init(&so);
    assert_int_equal(so.port, EW_RSCP_PORT);
    assert_string_equal(so.host, "127.0.0.1");
    assert_int_equal(ew_rscp_server_new(&s, &f->loop, &so), EW_ERR_INVAL); /* no key */
    so.conn.rscp_key = KEY;
    so.host = "not-an-address";
    assert_int_equal(ew_rscp_server_new(&s, &f->loop, &so), EW_ERR_INVAL);
    ew_rscp_server_del(NULL);

    /* A port that is taken. */
    default_server(f);
    so.host = "127.0.0.1";
    so.port = f->port;
    assert_int_equal(ew_rscp_server_new(&s, &f->loop, &so), EW_OK);
    assert_int_equal(ew_rscp_server_listen(s), EW_IO_ERR_SOCKET);
    assert_non_null(strstr(ew_rscp_server_error_detail(s), "cannot listen on 127.0.0.1:"));
    assert_int_equal(ew_rscp_server_port(s), 0);
    ew_rscp_server_del(s);

    assert_string_equal(ew_io_errname(EW_IO_ERR_UNREACHABLE), "EW_IO_ERR_UNREACHABLE");
    assert_string_equal(ew_io_errname(EW_ERR_AUTH), "EW_ERR_AUTH");
    assert_non_null(strstr(ew_io_strerror(EW_IO_ERR_UNREACHABLE), "unreachable"));
    assert_non_null(strstr(ew_io_strerror(EW_ERR_DECRYPT), "RSCP key"));
}

/* Pipelined requests that the application answers late: the server session
 * takes no more requests than it may hold unanswered, its receive buffer
 * fills up, and the server stops reading until answers make room. */
#define NPIPE 60

static void test_backpressure(void **state) {
    fx *f = *state;
    ew_rscp_server_opts so;
    server_opts(&so, &f->sa);
    so.conn.max_queue = 2;
    f->sa.defer_all = 1;
    start_server(f, &so);
    cli_app a = {.loop = &f->loop};
    ew_rscp_client_opts o;
    client_opts(&o, &a, "127.0.0.1", f->port);
    o.conn.max_inflight = NPIPE;
    o.conn.max_queue = NPIPE;
    o.conn.request_timeout_ms = 10000;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    static uint8_t pad[2000];
    uint32_t last = 0;
    for (int i = 0; i < NPIPE; i++) {
        uint8_t buf[2100];
        ew_rscp_builder b;
        size_t n = 0;
        ew_rscp_builder_init(&b, buf, sizeof buf);
        ew_rscp_builder_add_none(&b, TAG_REQ_PV);
        ew_rscp_builder_add_bytes(&b, TAG_PAD, pad, sizeof pad);
        assert_int_equal(ew_rscp_builder_finish(&b, &n), EW_OK);
        assert_int_equal(ew_rscp_client_submit(c, buf, n, &last), EW_OK);
    }
    wait_count(f, &a.responses, NPIPE, 20000, "every pipelined answer");
    assert_int_equal(a.failures, 0);
    assert_int_equal(a.last_id, last);
    assert_int_equal(a.last_value, NPIPE);
    assert_true(f->sa.paused_logs >= 1);
    ew_rscp_client_del(c);
}

/* ---- synchronous client (server on a second loop, in a thread) ----------------------------- */

typedef struct thread_srv {
    uv_thread_t th;
    uv_loop_t loop;
    uv_async_t stop;
    uv_sem_t ready;
    srv_app sa;
    ew_rscp_server_opts opts;
    ew_rscp_server *srv;
    uint16_t port;
    int ok;
} thread_srv;

static void ts_stop(uv_async_t *as) {
    thread_srv *t = as->data;
    ew_rscp_server_del(t->srv);
    if (t->sa.later_init)
        uv_close((uv_handle_t *)&t->sa.later, NULL);
    if (t->sa.defer_init)
        uv_close((uv_handle_t *)&t->sa.defer, NULL);
    uv_close((uv_handle_t *)&t->stop, NULL);
}

static void ts_main(void *arg) {
    thread_srv *t = arg;
    uv_loop_init(&t->loop);
    uv_async_init(&t->loop, &t->stop, ts_stop);
    t->stop.data = t;
    t->sa.loop = &t->loop;
    t->opts.user = &t->sa;
    t->ok = ew_rscp_server_new(&t->srv, &t->loop, &t->opts) == EW_OK &&
            ew_rscp_server_listen(t->srv) == EW_OK;
    t->port = ew_rscp_server_port(t->srv);
    uv_sem_post(&t->ready);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
}

static thread_srv *ts_start(const ew_rscp_faults *faults, int silent_once) {
    thread_srv *t = calloc(1, sizeof *t);
    assert_non_null(t);
    server_opts(&t->opts, &t->sa);
    if (faults)
        t->opts.faults = *faults;
    t->sa.silent_once = silent_once;
    uv_sem_init(&t->ready, 0);
    assert_int_equal(uv_thread_create(&t->th, ts_main, t), 0);
    uv_sem_wait(&t->ready);
    assert_true(t->ok);
    return t;
}

static void ts_finish(thread_srv *t) {
    uv_async_send(&t->stop);
    uv_thread_join(&t->th);
    uv_sem_destroy(&t->ready);
    free(t);
}

static void sync_opts(ew_rscp_client_opts *o, const char *host, uint16_t port) {
    ew_rscp_client_opts_init(o);
    o->host = host;
    o->port = port;
    o->conn.rscp_key = KEY;
    o->conn.user = USER;
    o->conn.password = PASSWORD;
    o->connect_timeout_ms = 2000;
}

static int sync_call_tag(ew_rscp_sync *s, uint32_t tag, uint32_t timeout, uint8_t **ans,
                         size_t *len, uint32_t *dev_err) {
    uint8_t buf[32];
    size_t n = build_request(buf, sizeof buf, tag);
    uint32_t etag = 0;
    return ew_rscp_sync_call(s, buf, n, timeout, ans, len, dev_err, &etag);
}

static void test_sync_happy(void **state) {
    (void)state;
    thread_srv *t = ts_start(NULL, 0);
    ew_rscp_client_opts o;
    sync_opts(&o, "127.0.0.1", t->port);
    ew_rscp_sync *s;
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    assert_int_equal(ew_rscp_sync_connect(s, 3000), EW_OK);
    assert_int_equal(ew_rscp_sync_level(s), 10);
    for (uint32_t i = 1; i <= 3; i++) {
        uint8_t *ans = NULL;
        size_t len = 0;
        uint32_t dev = 99;
        assert_int_equal(sync_call_tag(s, TAG_REQ_PV, 2000, &ans, &len, &dev), EW_OK);
        assert_non_null(ans);
        assert_int_equal(dev, 0);
        ew_rscp_iter it;
        ew_rscp_value v;
        ew_rscp_iter_init(&it, ans, len, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
        assert_int_equal(v.tag, TAG_PV);
        uint64_t x = 0;
        assert_int_equal(ew_rscp_value_get_u64(&v, &x), EW_OK);
        assert_int_equal(x, i);
        free(ans);
    }
    /* The device's refusal comes back as a field. */
    uint8_t *ans = NULL;
    size_t len = 0;
    uint32_t dev = 0;
    assert_int_equal(sync_call_tag(s, TAG_REQ_DENIED, 0, &ans, &len, &dev), EW_OK);
    assert_int_equal(dev, EW_RSCP_ERR_ACCESS_DENIED);
    free(ans);
    ew_rscp_sync_del(s);

    /* A call without an explicit connect connects first. */
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    assert_int_equal(sync_call_tag(s, TAG_REQ_PV, 3000, &ans, &len, NULL), EW_OK);
    free(ans);
    ew_rscp_sync_del(s);
    ts_finish(t);
}

static void expect_connect_error(const ew_rscp_client_opts *o, int want, const char *needle) {
    ew_rscp_sync *s;
    assert_int_equal(ew_rscp_sync_new(&s, o), EW_OK);
    int rc = ew_rscp_sync_connect(s, 3000);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ew_io_errname(rc), ew_rscp_sync_error_detail(s),
                 ew_io_errname(want));
    if (!strstr(ew_rscp_sync_error_detail(s), needle))
        fail_msg("detail \"%s\" lacks \"%s\"", ew_rscp_sync_error_detail(s), needle);
    /* A call reports the same failure. */
    uint8_t *ans = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal(sync_call_tag(s, TAG_REQ_PV, 3000, &ans, &len, NULL), want);
    assert_null(ans);
    assert_int_equal(len, 0);
    ew_rscp_sync_del(s);
}

static void test_sync_errors(void **state) {
    fx *f = *state;
    thread_srv *t = ts_start(NULL, 0);
    ew_rscp_client_opts o;

    sync_opts(&o, "127.0.0.1", t->port);
    o.conn.password = "wrong";
    expect_connect_error(&o, EW_ERR_AUTH, "user name or password");

    sync_opts(&o, "127.0.0.1", t->port);
    o.conn.rscp_key = "wrong-key";
    expect_connect_error(&o, EW_ERR_DECRYPT, "RSCP key");

    uint16_t port = free_port(f);
    char where[64];
    snprintf(where, sizeof where, "127.0.0.1:%u", (unsigned)port);
    sync_opts(&o, "127.0.0.1", port);
    expect_connect_error(&o, EW_IO_ERR_UNREACHABLE, where);
    expect_connect_error(&o, EW_IO_ERR_UNREACHABLE, "refused");
    ts_finish(t);
}

static void test_sync_request_timeout_and_loss(void **state) {
    (void)state;
    thread_srv *t = ts_start(NULL, 1);
    ew_rscp_client_opts o;
    sync_opts(&o, "127.0.0.1", t->port);
    ew_rscp_sync *s;
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    assert_int_equal(ew_rscp_sync_connect(s, 3000), EW_OK);
    uint8_t *ans = NULL;
    size_t len = 0;
    /* The server leaves the first request unanswered. */
    assert_int_equal(sync_call_tag(s, TAG_REQ_PV, 200, &ans, &len, NULL), EW_ERR_TIMEOUT);
    assert_null(ans);
    assert_non_null(strstr(ew_rscp_sync_error_detail(s), "no answer"));
    /* The next call reconnects. */
    assert_int_equal(sync_call_tag(s, TAG_REQ_PV, 3000, &ans, &len, NULL), EW_OK);
    free(ans);
    /* The session's own request timeout (0 = use it). */
    ew_rscp_sync_del(s);
    o.conn.request_timeout_ms = 150;
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    assert_int_equal(sync_call_tag(s, TAG_REQ_SILENT, 0, &ans, &len, NULL), EW_ERR_TIMEOUT);
    assert_non_null(strstr(ew_rscp_sync_error_detail(s), "within 150 ms"));
    ew_rscp_sync_del(s);
    ts_finish(t);

    /* Connection lost: the server drops after the login answer. */
    ew_rscp_faults fl;
    memset(&fl, 0, sizeof fl);
    fl.drop_after_frames = 1;
    t = ts_start(&fl, 0);
    sync_opts(&o, "127.0.0.1", t->port);
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    int rc = sync_call_tag(s, TAG_REQ_PV, 3000, &ans, &len, NULL);
    if (rc != EW_ERR_CLOSED)
        fail_msg("got %s: %s", ew_io_errname(rc), ew_rscp_sync_error_detail(s));
    assert_non_null(strstr(ew_rscp_sync_error_detail(s), "127.0.0.1:"));
    ew_rscp_sync_del(s);
    ts_finish(t);
}

/* ---- a pye3dc-like peer: one recv() per answer (rscp.md §5.5, §11) ---------------------- */

typedef struct raw_peer {
    int fd;
    ew_rscp_cipher cipher;
    ew_rscp_encryptor enc;
    ew_rscp_stream rx;
    uint8_t *rxbuf;
} raw_peer;

static void raw_open(raw_peer *r, uint16_t port) {
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {3, 0};
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t key[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(KEY, strlen(KEY), key);
    assert_int_equal(ew_rscp_cipher_init(&r->cipher, key, EW_RSCP_CIPHER_AUTO), EW_OK);
    ew_rscp_encryptor_init(&r->enc, &r->cipher);
    r->rxbuf = malloc(EW_RSCP_STREAM_BUF_MIN);
    assert_non_null(r->rxbuf);
    assert_int_equal(ew_rscp_stream_init(&r->rx, &r->cipher, r->rxbuf, EW_RSCP_STREAM_BUF_MIN, 0),
                     EW_OK);
}

static void raw_close(raw_peer *r) {
    close(r->fd);
    free(r->rxbuf);
}

static void raw_send_login(raw_peer *r) {
    uint8_t buf[256];
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    ew_rscp_req_auth(&b, USER, PASSWORD);
    ew_rscp_timestamp ts = {1700000000, 0};
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &n), EW_OK);
    int ct = ew_rscp_encryptor_seal(&r->enc, buf, n, sizeof buf);
    assert_true(ct > 0);
    assert_int_equal(send(r->fd, buf, (size_t)ct, 0), ct);
}

static void raw_send_request(raw_peer *r, uint32_t tag) {
    uint8_t buf[256];
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    ew_rscp_builder_add_none(&b, tag);
    ew_rscp_timestamp ts = {1700000000, 0};
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &n), EW_OK);
    int ct = ew_rscp_encryptor_seal(&r->enc, buf, n, sizeof buf);
    assert_true(ct > 0);
    assert_int_equal(send(r->fd, buf, (size_t)ct, 0), ct);
}

/* One recv(32768), as pye3dc does; returns 1 when it held a whole frame. */
static int raw_recv_once(raw_peer *r, ew_rscp_frame *fr) {
    uint8_t buf[32768];
    ssize_t got = recv(r->fd, buf, sizeof buf, 0);
    assert_true(got > 0);
    assert_int_equal(ew_rscp_stream_feed(&r->rx, buf, (size_t)got), (int)got);
    return ew_rscp_stream_next(&r->rx, fr, NULL);
}

static void test_pye3dc_single_recv(void **state) {
    (void)state;
    thread_srv *t = ts_start(NULL, 0);
    raw_peer r;
    raw_open(&r, t->port);
    ew_rscp_frame fr;
    raw_send_login(&r);
    assert_int_equal(raw_recv_once(&r, &fr), 1);
    assert_int_equal(ew_rscp_auth_level(fr.data, fr.data_len, NULL), 10);
    for (int i = 1; i <= 3; i++) {
        raw_send_request(&r, TAG_REQ_PV);
        assert_int_equal(raw_recv_once(&r, &fr), 1);
        ew_rscp_iter it;
        ew_rscp_value v;
        ew_rscp_iter_init(&it, fr.data, fr.data_len, 0);
        assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
        assert_int_equal(v.tag, TAG_PV);
        /* pye3dc strips trailing zero bytes: the CRC's top byte is never 0. */
        assert_true(fr.data[fr.data_len + 3] != 0);
    }
    raw_close(&r);
    ts_finish(t);

    /* With the split fault one recv() is not enough, which is the point. */
    ew_rscp_faults fl;
    memset(&fl, 0, sizeof fl);
    fl.split_bytes = 5;
    fl.split_pause_ms = 30;
    t = ts_start(&fl, 0);
    raw_open(&r, t->port);
    raw_send_login(&r);
    assert_int_equal(raw_recv_once(&r, &fr), 0);
    raw_close(&r);
    ts_finish(t);
}

/* A listener whose connections complete (the kernel accepts them into the
 * backlog) but nobody reads: the login is never answered. */
static int mute_listener(uint16_t *port) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 16), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return l;
}

static void test_login_timeout(void **state) {
    fx *f = *state;
    uint16_t port;
    int l = mute_listener(&port);

    ew_rscp_client_opts o;
    sync_opts(&o, "127.0.0.1", port);
    o.conn.login_timeout_ms = 150;
    expect_connect_error(&o, EW_ERR_TIMEOUT, "after the login");

    /* The asynchronous client retries, logging once. */
    cli_app a = {.loop = &f->loop};
    client_opts(&o, &a, "127.0.0.1", port);
    o.conn.login_timeout_ms = 100;
    ew_rscp_client *c;
    new_client(f, &c, &o);
    wait_attempts w = {c, 3};
    run_until(f, attempted, &w, 5000, "three attempts");
    assert_int_equal(ew_rscp_client_error(c), EW_ERR_TIMEOUT);
    assert_int_equal(a.nlog, 1);
    assert_non_null(strstr(a.log[0], "login failed"));
    ew_rscp_client_del(c);
    close(l);
}

/* A listener that never accepts, its backlog filled: further SYNs are
 * dropped and connect() hangs.  Returns the port or 0. */
static uint16_t blackhole(int fds[8], int *nfds) {
    *nfds = 0;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0)
        return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 0) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) < 0) {
        close(l);
        return 0;
    }
    fds[(*nfds)++] = l;
    for (int i = 0; i < 6; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            break;
        fcntl(s, F_SETFL, O_NONBLOCK);
        fds[(*nfds)++] = s;
        int rc = connect(s, (struct sockaddr *)&a, sizeof a);
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd p = {s, POLLOUT, 0};
            if (poll(&p, 1, 100) == 0)
                return ntohs(a.sin_port); /* this one hangs: the hole is ready */
        }
    }
    return 0;
}

static void test_sync_connect_timeout(void **state) {
    (void)state;
    int fds[8], nfds;
    uint16_t port = blackhole(fds, &nfds);
    if (!port) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        print_message("skipping: cannot make a TCP connect hang on this host\n");
        skip();
    }
    ew_rscp_client_opts o;
    sync_opts(&o, "127.0.0.1", port);
    o.connect_timeout_ms = 150;
    expect_connect_error(&o, EW_ERR_TIMEOUT, "timed out");
    /* The overall deadline shorter than the connect timeout. */
    o.connect_timeout_ms = 5000;
    ew_rscp_sync *s;
    assert_int_equal(ew_rscp_sync_new(&s, &o), EW_OK);
    assert_int_equal(ew_rscp_sync_connect(s, 100), EW_ERR_TIMEOUT);
    assert_non_null(strstr(ew_rscp_sync_error_detail(s), "within 100 ms"));
    ew_rscp_sync_del(s);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

int main(void) {
    /* As io.h asks of applications: a peer reset must not end the process. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login_and_requests, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refused_quiet_backoff, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backoff_grows, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_timeout_then_recover, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_drop, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_delay, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_split, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_corrupt, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fault_refuse_login, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_localhost_name, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_del_inside_callback, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_args, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pye3dc_single_recv, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_happy, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_request_timeout_and_loss, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_login_timeout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sync_connect_timeout, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
