/*
 * Asynchronous RCT client on libuv: the reconnecting link (link.h)
 * resolves, connects with a timeout and reconnects with backoff; this file
 * hands queued requests to the session (ew_rct_conn) and passes its events
 * on with the client's request ids.
 *
 * The session does the protocol (matching by object id, timeouts, retries
 * of lost, truncated and CRC-broken answers, rct.md §10, §15).  It needs no
 * handshake, so the link is READY as soon as TCP is up; requests handed to
 * a session that loses its connection fail with EW_ERR_CLOSED.
 */
#include "io/link.h"

#include <energywire/io_rct.h>

#include <stdlib.h>
#include <string.h>

/* The link's request plus what an RCT request names. */
typedef struct rreq {
    ew_link_req base;
    int write;
    uint32_t oid;
} rreq;

struct ew_rct_client {
    ew_link *lk;
    ew_rct_conn_opts conn_opts;
    void (*on_event)(void *user, const ew_rct_conn_event *ev);
    void (*on_state)(void *user, ew_rct_client_state st, int err, const char *detail);
    void (*log)(void *user, int level, const char *msg);
    void *user;
};

EW_LINK_SESSION_OPS(rct_session, rct);

/* The link never enters OPENING for RCT. */
static const ew_rct_client_state state_of[] = {
    [EW_LINK_IDLE] = EW_RCT_CLIENT_IDLE,          [EW_LINK_CONNECTING] = EW_RCT_CLIENT_CONNECTING,
    [EW_LINK_OPENING] = EW_RCT_CLIENT_CONNECTING, [EW_LINK_READY] = EW_RCT_CLIENT_READY,
    [EW_LINK_BACKOFF] = EW_RCT_CLIENT_BACKOFF,    [EW_LINK_STOPPED] = EW_RCT_CLIENT_STOPPED};

static void emit(ew_rct_client *c, const ew_rct_conn_event *ev) {
    if (!ew_link_deleted(c->lk) && c->on_event)
        c->on_event(c->user, ev);
}

static void conn_log(void *user, int level, const char *msg) {
    ew_rct_client *c = user;
    /* The session's offline/online lines matter; pass them on as they are. */
    ew_io_logf(c->log, c->user, level < 1 ? 1 : level, "device %s: %s", ew_link_hostport(c->lk),
               msg);
}

static const char *fail_text(int err) {
    switch (err) {
    case EW_ERR_TIMEOUT:
        return "no answer after all retries";
    case EW_ERR_CRC:
        return "the last answer failed its CRC check";
    case EW_ERR_TRUNCATED:
        return "the last answer was too short for the object's type (cut off)";
    case EW_ERR_TOO_BIG:
        return "the answer was longer than the object's type";
    case EW_ERR_CLOSED:
        return "the connection closed before the answer";
    default:
        return ew_strerror(err);
    }
}

/* ---- the link's callbacks -------------------------------------------------- */

static void *rct_open(void *user, int *err) {
    ew_rct_conn *conn = NULL;
    *err = ew_rct_conn_new(&conn, &((ew_rct_client *)user)->conn_opts, NULL);
    return conn;
}

static int rct_submit(void *user, void *sess, ew_link_req *lr, uint64_t now_ms) {
    ew_rct_client *c = user;
    rreq *r = (rreq *)lr;
    int rc = r->write
                 ? ew_rct_conn_submit_write(sess, r->oid, lr->data, lr->len, now_ms, &lr->conn_id)
                 : ew_rct_conn_submit_read(sess, r->oid, now_ms, &lr->conn_id);
    if (rc == EW_ERR_NOBUF || rc == EW_ERR_STATE)
        return 1;
    if (rc < 0) /* refused for good (too big for the session) */
        ew_link_set_error(c->lk, rc, "the session refused the request");
    return rc;
}

static int rct_why(void *user, void *sess, int sys_err, char *reason, size_t cap) {
    (void)user;
    int err = ew_rct_conn_error(sess);
    if (sys_err)
        ew_io_fmt(reason, cap, "%s", uv_strerror(sys_err));
    else if (err != EW_OK)
        ew_io_fmt(reason, cap, "%s", ew_rct_conn_error_detail(sess));
    else
        ew_io_fmt(reason, cap, "the device closed the connection");
    return err == EW_OK ? EW_ERR_CLOSED : err;
}

static void rct_req_failed(void *user, const ew_link_req *lr, int err) {
    const rreq *r = (const rreq *)lr;
    ew_rct_conn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_RCT_EV_REQUEST_FAILED;
    ev.req_id = lr->id;
    ev.id = r->oid;
    ev.command = r->write ? EW_RCT_CMD_WRITE : EW_RCT_CMD_READ;
    ev.err = err;
    emit(user, &ev);
}

static void rct_events(void *user, ew_link_conn *lc) {
    ew_rct_client *c = user;
    ew_rct_conn_event ev;
    while (ew_rct_conn_poll_event(ew_link_conn_session(lc), &ev) > 0) {
        if (ev.type == EW_RCT_EV_RESPONSE || ev.type == EW_RCT_EV_REQUEST_FAILED) {
            int failed = ev.type == EW_RCT_EV_REQUEST_FAILED;
            if (!ew_link_req_answered(lc, ev.req_id, failed, &ev.req_id))
                continue; /* failed already by a stop or a lost connection */
            if (failed) {
                char msg[EW_IO_DETAIL_LEN];
                const ew_rct_object *o = ew_rct_object_by_id(ev.id);
                ew_io_fmt(msg, sizeof msg, "device %s: %s (0x%08lX): %s after %u attempt%s",
                          ew_link_hostport(c->lk), o ? o->name : "object", (unsigned long)ev.id,
                          fail_text(ev.err), ev.attempts, ev.attempts == 1 ? "" : "s");
                ew_link_set_error(c->lk, ev.err, msg);
            }
        }
        emit(c, &ev);
    }
}

static void rct_state(void *user, ew_link_state st, int err, const char *detail) {
    ew_rct_client *c = user;
    if (c->on_state)
        c->on_state(c->user, state_of[st], err, detail);
}

static const ew_link_proto rct_proto = {
    .session = &rct_session,
    .req_size = sizeof(rreq),
    .max_data = EW_RCT_LONG_PAYLOAD_MAX,
    .open = rct_open,
    .open_failed = "cannot create the RCT session",
    .events = rct_events,
    .submit = rct_submit,
    .why = rct_why,
    .req_failed = rct_req_failed,
    .on_state = rct_state,
    .destroy = free,
};

/* ---- public API ------------------------------------------------------------ */

const char *ew_rct_client_state_name(ew_rct_client_state st) {
    switch (st) {
    case EW_RCT_CLIENT_IDLE:
        return "idle";
    case EW_RCT_CLIENT_CONNECTING:
        return "connecting";
    case EW_RCT_CLIENT_READY:
        return "ready";
    case EW_RCT_CLIENT_BACKOFF:
        return "backoff";
    case EW_RCT_CLIENT_STOPPED:
        return "stopped";
    }
    return "unknown";
}

void ew_rct_client_opts_init(ew_rct_client_opts *o) {
    memset(o, 0, sizeof *o);
    o->port = EW_RCT_PORT;
    ew_rct_conn_opts_init(&o->conn);
    EW_LINK_CLIENT_DEFAULTS(o);
}

int ew_rct_client_new(ew_rct_client **out, void *uv_loop, const ew_rct_client_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!o)
        return EW_ERR_INVAL;
    /* Check the session options now rather than at every connection. */
    ew_rct_conn *probe;
    int rc = ew_rct_conn_new(&probe, &o->conn, NULL);
    if (rc < 0)
        return rc;
    ew_rct_conn_del(probe);
    ew_rct_client *c = calloc(1, sizeof *c);
    if (!c)
        return EW_ERR_NOMEM;
    ew_link_opts lo = {EW_LINK_CLIENT_OPTS(o), .port = o->port ? o->port : EW_RCT_PORT,
                       .retry_auth = 1, /* RCT has no login */
                       .proto = &rct_proto, .user = c};
    c->conn_opts = o->conn;
    c->conn_opts.now_ms = 0; /* the link counts session time from the connection */
    c->conn_opts.log = conn_log;
    c->conn_opts.log_user = c;
    c->on_event = o->on_event;
    c->on_state = o->on_state;
    c->log = o->log;
    c->user = o->user;
    rc = ew_link_new(&c->lk, uv_loop, &lo);
    if (rc < 0)
        free(c);
    else
        *out = c;
    return rc;
}

/* The link ignores calls once deleted; it frees |c| once the loop closed
 * everything. */
int ew_rct_client_start(ew_rct_client *c) {
    return c ? ew_link_start(c->lk) : EW_ERR_STATE;
}

void ew_rct_client_stop(ew_rct_client *c) {
    if (c)
        ew_link_stop(c->lk);
}

void ew_rct_client_del(ew_rct_client *c) {
    if (c)
        ew_link_del(c->lk);
}

static int submit(ew_rct_client *c, uint32_t oid, int write, const uint8_t *payload, size_t len,
                  uint32_t *req_id) {
    if (!c || (write && !payload && len))
        return EW_ERR_INVAL;
    ew_link_req *lr;
    int rc = ew_link_req_new(c->lk, payload, len, write, &lr);
    if (rc < 0)
        return rc;
    rreq *r = (rreq *)lr;
    r->write = write;
    r->oid = oid;
    ew_link_req_submit(c->lk, lr, req_id);
    return EW_OK;
}

int ew_rct_client_submit_read(ew_rct_client *c, uint32_t id, uint32_t *req_id) {
    return submit(c, id, 0, NULL, 0, req_id);
}

int ew_rct_client_submit_write(ew_rct_client *c, uint32_t id, const uint8_t *payload, size_t len,
                               uint32_t *req_id) {
    return submit(c, id, 1, payload, len, req_id);
}

ew_rct_client_state ew_rct_client_get_state(const ew_rct_client *c) {
    return state_of[ew_link_get_state(c->lk)];
}

int ew_rct_client_error(const ew_rct_client *c) {
    return ew_link_error(c->lk);
}

const char *ew_rct_client_error_detail(const ew_rct_client *c) {
    return ew_link_error_detail(c->lk);
}

void ew_rct_client_get_stats(const ew_rct_client *c, ew_rct_client_stats *st) {
    ew_link_stats s;
    ew_link_get_stats(c->lk, &s);
    st->attempts = s.attempts;
    st->connects = s.connects;
    st->responses = s.responses;
    st->failures = s.failures;
}
