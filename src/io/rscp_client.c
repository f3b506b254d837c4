/*
 * Asynchronous RSCP client on libuv: the reconnecting link (link.h)
 * resolves, connects with a timeout and reconnects with backoff; this file
 * adds what RSCP needs on top: the session (ew_rscp_conn) with its login,
 * requests sent one at a time (rscp.md §8), and the session's events passed
 * on with the client's request ids.
 */
#include "io/link.h"

#include <stdlib.h>
#include <string.h>

struct ew_rscp_client {
    ew_link *lk;
    /* Secrets (owned, wiped on _del) and the other session options. */
    char *key, *user_name, *password;
    ew_rscp_conn_opts conn_opts;
    unsigned max_inflight;
    void (*on_event)(void *user, const ew_rscp_event *ev);
    void (*on_state)(void *user, ew_rscp_client_state st, int err, const char *detail);
    void (*log)(void *user, int level, const char *msg);
    void *user;
    int level; /* valid while READY */
};

EW_LINK_SESSION_OPS(rscp_session, rscp);

/* The link's states in the order of ew_rscp_client_state (OPENING is the
 * login). */
static const ew_rscp_client_state state_of[] = {
    [EW_LINK_IDLE] = EW_RSCP_CLIENT_IDLE,       [EW_LINK_CONNECTING] = EW_RSCP_CLIENT_CONNECTING,
    [EW_LINK_OPENING] = EW_RSCP_CLIENT_LOGIN,   [EW_LINK_READY] = EW_RSCP_CLIENT_READY,
    [EW_LINK_BACKOFF] = EW_RSCP_CLIENT_BACKOFF, [EW_LINK_STOPPED] = EW_RSCP_CLIENT_STOPPED};

static void emit(ew_rscp_client *c, const ew_rscp_event *ev) {
    if (!ew_link_deleted(c->lk) && c->on_event)
        c->on_event(c->user, ev);
}

static void conn_log(void *user, int level, const char *msg) {
    ew_rscp_client *c = user;
    (void)level;
    /* Session messages repeat on every attempt: debug only. */
    ew_io_logf(c->log, c->user, 3, "device %s: %s", ew_link_hostport(c->lk), msg);
}

/* ---- the link's callbacks ----------------------------------------------------- */

static void *rscp_open(void *user, int *err) {
    ew_rscp_conn *conn = NULL;
    *err = ew_rscp_conn_new(&conn, &((ew_rscp_client *)user)->conn_opts, NULL);
    return conn;
}

/* Frame headers carry the wall time: keep the session's clock current. */
static void rscp_tick(void *user, void *sess) {
    (void)user;
    ew_rscp_conn_set_time(sess, ew_io_wall_time());
}

static int rscp_submit(void *user, void *sess, ew_link_req *r, uint64_t now_ms) {
    ew_rscp_client *c = user;
    if (ew_rscp_conn_pending(sess) >= c->max_inflight)
        return 1;
    /* Queue full or session closing: try again later. */
    return ew_rscp_conn_submit(sess, r->data, r->len, now_ms, &r->conn_id) < 0 ? 1 : 0;
}

static int rscp_why(void *user, void *sess, int sys_err, char *reason, size_t cap) {
    (void)user;
    int err = ew_rscp_conn_error(sess);
    ew_io_fmt(reason, cap, "%s", ew_rscp_conn_error_detail(sess));
    if (err == EW_OK)
        err = EW_ERR_CLOSED;
    if (sys_err && err == EW_ERR_CLOSED)
        ew_io_fmt(reason, cap, "%s", uv_strerror(sys_err));
    return err;
}

static void rscp_req_failed(void *user, const ew_link_req *r, int err) {
    ew_rscp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_RSCP_EV_REQUEST_FAILED;
    ev.req_id = r->id;
    ev.err = err;
    emit(user, &ev);
}

static void rscp_events(void *user, ew_link_conn *lc) {
    ew_rscp_client *c = user;
    ew_rscp_conn *conn = ew_link_conn_session(lc);
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(conn, &ev) > 0) {
        switch (ev.type) {
        case EW_RSCP_EV_AUTHENTICATED: {
            char again[64], first[32];
            ew_io_fmt(again, sizeof again, " (logged in, user level %d)", ev.level);
            ew_io_fmt(first, sizeof first, " (user level %d)", ev.level);
            if (ew_link_conn_current(lc))
                c->level = ev.level;
            ew_link_ready(lc, "logged in", again, first);
            emit(c, &ev);
            break;
        }
        case EW_RSCP_EV_RESPONSE:
        case EW_RSCP_EV_REQUEST_FAILED: {
            int failed = ev.type == EW_RSCP_EV_REQUEST_FAILED;
            if (!ew_link_req_answered(lc, ev.req_id, failed, &ev.req_id))
                break; /* already failed by a stop */
            if (failed) {
                char msg[EW_IO_DETAIL_LEN];
                if (ew_rscp_conn_error(conn) != EW_OK)
                    ew_io_fmt(msg, sizeof msg, "device %s: %s", ew_link_hostport(c->lk),
                              ew_rscp_conn_error_detail(conn));
                else
                    ew_io_fmt(msg, sizeof msg, "device %s: the answer to request %u %s",
                              ew_link_hostport(c->lk), (unsigned)ev.req_id,
                              ev.err == EW_ERR_CRC ? "failed its CRC check" : "could not be read");
                ew_link_set_error(c->lk, ev.err, msg);
            }
            emit(c, &ev);
            break;
        }
        case EW_RSCP_EV_CLOSED:
            /* The application may ask why from within the event. */
            ew_link_conn_explain(lc);
            emit(c, &ev);
            break;
        default:
            break;
        }
    }
}

static void rscp_state(void *user, ew_link_state st, int err, const char *detail) {
    ew_rscp_client *c = user;
    if (c->on_state)
        c->on_state(c->user, state_of[st], err, detail);
}

static void rscp_destroy(void *user) {
    ew_rscp_client *c = user;
    ew_io_free_secret(c->key);
    ew_io_free_secret(c->user_name);
    ew_io_free_secret(c->password);
    free(c);
}

static const ew_link_proto rscp_proto = {
    .session = &rscp_session,
    .req_size = sizeof(ew_link_req),
    .max_data = UINT16_MAX,
    .opening_detail = "connected, logging in",
    .open = rscp_open,
    .open_failed = "cannot create the RSCP session: out of memory",
    .tick = rscp_tick,
    .events = rscp_events,
    .submit = rscp_submit,
    .why = rscp_why,
    .req_failed = rscp_req_failed,
    .on_state = rscp_state,
    .destroy = rscp_destroy,
};

/* ---- public API ---------------------------------------------------------------- */

const char *ew_rscp_client_state_name(ew_rscp_client_state st) {
    switch (st) {
    case EW_RSCP_CLIENT_IDLE:
        return "idle";
    case EW_RSCP_CLIENT_CONNECTING:
        return "connecting";
    case EW_RSCP_CLIENT_LOGIN:
        return "login";
    case EW_RSCP_CLIENT_READY:
        return "ready";
    case EW_RSCP_CLIENT_BACKOFF:
        return "backoff";
    case EW_RSCP_CLIENT_STOPPED:
        return "stopped";
    }
    return "unknown";
}

void ew_rscp_client_opts_init(ew_rscp_client_opts *o) {
    memset(o, 0, sizeof *o);
    o->port = EW_RSCP_PORT;
    ew_rscp_conn_opts_init(&o->conn, EW_RSCP_ROLE_CLIENT);
    EW_LINK_CLIENT_DEFAULTS(o);
}

int ew_rscp_client_new(ew_rscp_client **out, void *uv_loop, const ew_rscp_client_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!o || !o->conn.rscp_key || !o->conn.user || !o->conn.password)
        return EW_ERR_INVAL;
    ew_rscp_client *c = calloc(1, sizeof *c);
    if (!c)
        return EW_ERR_NOMEM;
    int ok = 1;
    c->key = ew_io_strdup(o->conn.rscp_key, &ok);
    c->user_name = ew_io_strdup(o->conn.user, &ok);
    c->password = ew_io_strdup(o->conn.password, &ok);
    ew_link_opts lo = {EW_LINK_CLIENT_OPTS(o), .port = o->port ? o->port : EW_RSCP_PORT,
                       .retry_auth = o->retry_auth_errors, .proto = &rscp_proto, .user = c};
    c->conn_opts = o->conn;
    c->conn_opts.role = EW_RSCP_ROLE_CLIENT;
    c->conn_opts.rscp_key = c->key;
    c->conn_opts.user = c->user_name;
    c->conn_opts.password = c->password;
    c->conn_opts.log = conn_log;
    c->conn_opts.log_user = c;
    c->max_inflight = o->conn.max_inflight ? o->conn.max_inflight : 1;
    c->on_event = o->on_event;
    c->on_state = o->on_state;
    c->log = o->log;
    c->user = o->user;
    int rc = ok ? ew_link_new(&c->lk, uv_loop, &lo) : EW_ERR_NOMEM;
    if (rc < 0)
        rscp_destroy(c);
    else
        *out = c;
    return rc;
}

/* The link ignores calls once deleted; it frees |c| in rscp_destroy(). */
int ew_rscp_client_start(ew_rscp_client *c) {
    return c ? ew_link_start(c->lk) : EW_ERR_STATE;
}

void ew_rscp_client_stop(ew_rscp_client *c) {
    if (c)
        ew_link_stop(c->lk);
}

void ew_rscp_client_del(ew_rscp_client *c) {
    if (c)
        ew_link_del(c->lk);
}

int ew_rscp_client_submit(ew_rscp_client *c, const uint8_t *tlvs, size_t len, uint32_t *req_id) {
    if (!c || (!tlvs && len))
        return EW_ERR_INVAL;
    ew_link_req *r;
    int rc = ew_link_req_new(c->lk, tlvs, len, 1, &r);
    if (rc < 0)
        return rc;
    ew_link_req_submit(c->lk, r, req_id);
    return EW_OK;
}

ew_rscp_client_state ew_rscp_client_get_state(const ew_rscp_client *c) {
    return state_of[ew_link_get_state(c->lk)];
}

int ew_rscp_client_error(const ew_rscp_client *c) {
    return ew_link_error(c->lk);
}

const char *ew_rscp_client_error_detail(const ew_rscp_client *c) {
    return ew_link_error_detail(c->lk);
}

int ew_rscp_client_level(const ew_rscp_client *c) {
    return ew_link_get_state(c->lk) == EW_LINK_READY ? c->level : 0;
}

void ew_rscp_client_get_stats(const ew_rscp_client *c, ew_rscp_client_stats *st) {
    ew_link_stats s;
    ew_link_get_stats(c->lk, &s);
    st->attempts = s.attempts;
    st->connects = s.connects;
    st->logins = s.ready;
    st->responses = s.responses;
    st->failures = s.failures;
}
