/*
 * Asynchronous RSCP client on libuv: resolve, connect with a timeout, log
 * in, send queued requests one at a time (rscp.md §8), reconnect with
 * exponential backoff and jitter.
 *
 * The session (ew_rscp_conn) does the protocol; this file moves bytes and
 * time.  Each TCP connection is a `cl_link` with its own session; a link is
 * freed from its close callback, so a link (and the client) stays valid for
 * the whole call stack of any callback, even when the application stops or
 * deletes the client from inside one.
 *
 * Requests stay in the client's queue until the session may send them, so a
 * connection that fails before a request went out does not fail it; only
 * requests on the wire when a connection dies are failed (their answers can
 * no longer be matched, §8).
 */
#include "io/io_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct creq {
    struct creq *next;
    uint32_t id;
    uint32_t conn_id;
    int sent; /* handed to the session */
    uint64_t deadline;
    size_t len;
    uint8_t *tlvs;
} creq;

typedef struct cl_link {
    ew_rscp_client *cl;
    uv_tcp_t tcp;
    uv_connect_t connect;
    ew_rscp_conn *conn;
    int connected;
    int closing;
    int busy, again;
    int authed;
    int sys_err;    /* libuv error that ended the connection, 0 for EOF */
    uint64_t epoch; /* loop time at which the session was created */
    uint8_t rbuf[16384];
} cl_link;

typedef struct gai_req {
    uv_getaddrinfo_t req;
    ew_rscp_client *cl;
    int abandoned;
} gai_req;

typedef struct wreq {
    uv_write_t req;
    cl_link *lk;
    uint8_t data[];
} wreq;

enum fail_kind { FAIL_CONNECT, FAIL_LOGIN, FAIL_LOST };

struct ew_rscp_client {
    uv_loop_t *loop;

    /* Options (strings owned). */
    char *host, *key, *user_name, *password;
    uint16_t port;
    char hostport[EW_IO_HOSTPORT_LEN];
    ew_rscp_conn_opts conn_opts;
    uint32_t connect_timeout_ms, backoff_min_ms, backoff_max_ms, queue_timeout_ms;
    int reconnect, retry_auth;
    unsigned max_queue, max_inflight;
    void (*on_event)(void *user, const ew_rscp_event *ev);
    void (*on_state)(void *user, ew_rscp_client_state st, int err, const char *detail);
    void (*log)(void *user, int level, const char *msg);
    void *user;
    uint64_t rng;

    ew_rscp_client_state state;
    int deleting;
    int err;
    char detail[EW_IO_DETAIL_LEN];
    char fail_detail[EW_IO_DETAIL_LEN]; /* the last connection failure */
    int level;
    unsigned backoff_n;

    /* Backoff wait (BACKOFF) and connect timeout (CONNECTING) share a timer. */
    uv_timer_t retry_timer;
    uv_timer_t sess_timer;
    uv_timer_t queue_timer;
    int handles_open;

    gai_req *gai;
    unsigned gai_outstanding;
    struct addrinfo *ai, *ai_next;
    int last_sys;
    cl_link *lk;
    unsigned links_open;

    creq *qhead, *qtail;
    size_t qlen;
    uint32_t next_id;

    /* Quiet logging: what was last reported, so each state change is
     * logged once and repeated failures are not. */
    int logged_fail, logged_err, logged_sys, logged_kind, ever_ready;

    ew_rscp_client_stats stats;
};

static void attempt_start(ew_rscp_client *c);

/*
 * The session's clock starts at 0 when it is created (ew_rscp_conn_new()
 * takes no time and dates the login it queues at 0), so each link passes
 * loop time relative to that moment.
 */
static uint64_t link_now(const cl_link *lk);
static void link_run(cl_link *lk);
static void connect_next(ew_rscp_client *c);

/* ---- small helpers -------------------------------------------------------- */

static void set_detail(ew_rscp_client *c, int err, const char *detail) {
    c->err = err;
    ew_io_fmt(c->detail, sizeof c->detail, "%s", detail);
}

static void set_state(ew_rscp_client *c, ew_rscp_client_state st, int err, const char *detail) {
    c->state = st;
    if (!c->deleting && c->on_state)
        c->on_state(c->user, st, err, detail);
}

static void emit(ew_rscp_client *c, const ew_rscp_event *ev) {
    if (!c->deleting && c->on_event)
        c->on_event(c->user, ev);
}

static void free_ai(ew_rscp_client *c) {
    if (c->ai)
        uv_freeaddrinfo(c->ai);
    c->ai = c->ai_next = NULL;
}

static void client_free(ew_rscp_client *c) {
    while (c->qhead) {
        creq *r = c->qhead;
        c->qhead = r->next;
        free(r->tlvs);
        free(r);
    }
    free_ai(c);
    free(c->host);
    ew_io_free_secret(c->key);
    ew_io_free_secret(c->user_name);
    ew_io_free_secret(c->password);
    free(c);
}

/* Frees the client once nothing refers to it any more. */
static void maybe_free(ew_rscp_client *c) {
    if (c->deleting && c->handles_open == 0 && c->links_open == 0 && c->gai_outstanding == 0)
        client_free(c);
}

static void timer_closed(uv_handle_t *h) {
    ew_rscp_client *c = h->data;
    c->handles_open--;
    maybe_free(c);
}

static void conn_log(void *user, int level, const char *msg) {
    ew_rscp_client *c = user;
    (void)level;
    /* Session messages repeat on every attempt: debug only. */
    ew_io_logf(c->log, c->user, 3, "device %s: %s", c->hostport, msg);
}

/* ---- the request queue ---------------------------------------------------- */

static void q_remove(ew_rscp_client *c, creq *r) {
    creq **pp = &c->qhead, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = r->next;
    if (c->qtail == r)
        c->qtail = prev;
    c->qlen--;
}

/* Reports request |r| (already out of the queue) as failed and frees it. */
static void emit_failed(ew_rscp_client *c, creq *r, int err) {
    ew_rscp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_RSCP_EV_REQUEST_FAILED;
    ev.req_id = r->id;
    ev.err = err;
    free(r->tlvs);
    free(r);
    c->stats.failures++;
    emit(c, &ev);
}

static void fail_req(ew_rscp_client *c, creq *r, int err) {
    q_remove(c, r);
    emit_failed(c, r, err);
}

/*
 * Fails every request (|only_sent|: those handed to a session).  They are
 * taken out of the queue first, so that callbacks that submit new requests
 * neither see them nor make this loop run forever.
 */
static void fail_all(ew_rscp_client *c, int err, int only_sent) {
    creq *list = NULL, **tail = &list;
    for (creq *r = c->qhead; r;) {
        creq *next = r->next;
        if (!only_sent || r->sent) {
            q_remove(c, r);
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        }
        r = next;
    }
    while (list) {
        creq *r = list;
        list = r->next;
        emit_failed(c, r, err);
    }
}

static void arm_queue_timer(ew_rscp_client *c);

static void queue_timer_cb(uv_timer_t *t) {
    ew_rscp_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    if (c->state == EW_RSCP_CLIENT_READY)
        return; /* re-armed when the connection is lost */
    char msg[sizeof c->detail];
    int have_msg = 0;
    for (;;) {
        creq *r = c->qhead;
        while (r && (r->sent || r->deadline > now))
            r = r->next;
        if (!r)
            break;
        if (!have_msg) {
            ew_io_fmt(msg, sizeof msg, "no connection to device %s within %u ms (%s)", c->hostport,
                      (unsigned)c->queue_timeout_ms, c->err ? c->detail : "still connecting");
            have_msg = 1;
        }
        set_detail(c, EW_ERR_TIMEOUT, msg);
        fail_req(c, r, EW_ERR_TIMEOUT);
    }
    arm_queue_timer(c);
}

static void arm_queue_timer(ew_rscp_client *c) {
    if (c->deleting)
        return;
    uint64_t first = UINT64_MAX;
    for (creq *r = c->qhead; r; r = r->next)
        if (!r->sent && r->deadline < first)
            first = r->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&c->queue_timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->queue_timer, queue_timer_cb, first > now ? first - now : 0, 0);
}

/* Hands waiting requests to the session while it may send them. */
static void pump(ew_rscp_client *c) {
    cl_link *lk = c->lk;
    if (!lk || !lk->authed || lk->closing || ew_rscp_conn_want_close(lk->conn))
        return;
    for (creq *r = c->qhead; r; r = r->next) {
        if (r->sent)
            continue;
        if (ew_rscp_conn_pending(lk->conn) >= c->max_inflight)
            break;
        int rc = ew_rscp_conn_submit(lk->conn, r->tlvs, r->len, link_now(lk), &r->conn_id);
        if (rc < 0)
            break; /* queue full or session closing: try again later */
        r->sent = 1;
        free(r->tlvs);
        r->tlvs = NULL;
    }
}

/* ---- failures, backoff and quiet logging -------------------------------------- */

static uint64_t backoff_delay(ew_rscp_client *c) {
    uint64_t d = c->backoff_min_ms;
    for (unsigned i = 0; i < c->backoff_n && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    if (c->backoff_n < 64)
        c->backoff_n++;
    /* "Equal jitter": between half the delay and all of it, so that clients
     * restarted together spread out but none retries at once. */
    uint64_t lo = d / 2;
    return lo + ew_io_rand(&c->rng) % (d - lo + 1);
}

static void retry_timer_cb(uv_timer_t *t);

/*
 * One place decides what a failure means: stop, or wait and retry.  The
 * log line is written only when the kind of failure changes, so a device
 * that stays unreachable costs one line, not one per attempt.
 */
static void handle_failure(ew_rscp_client *c, int err, const char *detail, const char *reason,
                           enum fail_kind kind) {
    free_ai(c);
    uv_timer_stop(&c->retry_timer);
    uv_timer_stop(&c->sess_timer);
    set_detail(c, err, detail);
    ew_io_fmt(c->fail_detail, sizeof c->fail_detail, "%s", detail);
    c->level = 0;
    int stop = !c->reconnect || (kind == FAIL_LOGIN &&
                                 (err == EW_ERR_AUTH || err == EW_ERR_DECRYPT) && !c->retry_auth);
    const char *then = stop ? "" : kind == FAIL_LOST ? "; reconnecting" : "; retrying with backoff";

    int changed = !c->logged_fail || c->logged_err != err || c->logged_sys != c->last_sys ||
                  c->logged_kind != (int)kind;
    if (kind == FAIL_LOST || changed) {
        if (kind == FAIL_CONNECT)
            ew_io_logf(c->log, c->user, stop ? 0 : 1, "device %s unreachable: %s%s", c->hostport,
                       reason, then);
        else if (kind == FAIL_LOGIN)
            ew_io_logf(c->log, c->user, stop ? 0 : 1, "device %s: login failed: %s%s", c->hostport,
                       reason, then);
        else
            ew_io_logf(c->log, c->user, 1, "connection to device %s lost: %s%s", c->hostport,
                       reason, then);
        c->logged_fail = 1;
        c->logged_err = err;
        c->logged_sys = c->last_sys;
        c->logged_kind = (int)kind;
    }

    if (stop) {
        c->state = EW_RSCP_CLIENT_STOPPED;
        fail_all(c, err, 0);
        uv_timer_stop(&c->queue_timer);
        set_state(c, EW_RSCP_CLIENT_STOPPED, err, detail);
        return;
    }
    if (kind == FAIL_LOST) {
        /* Requests that waited behind others on the lost connection now
         * wait for a new one: their queue time starts over. */
        uint64_t now = uv_now(c->loop);
        for (creq *r = c->qhead; r; r = r->next)
            if (!r->sent)
                r->deadline = now + c->queue_timeout_ms;
    }
    uint64_t delay = backoff_delay(c);
    c->state = EW_RSCP_CLIENT_BACKOFF;
    uv_timer_start(&c->retry_timer, retry_timer_cb, delay, 0);
    arm_queue_timer(c);
    set_state(c, EW_RSCP_CLIENT_BACKOFF, err, detail);
}

static void on_ready(ew_rscp_client *c, int level) {
    c->backoff_n = 0;
    c->level = level;
    c->stats.logins++;
    if (c->logged_fail)
        ew_io_logf(c->log, c->user, 2, "device %s reachable again (logged in, user level %d)",
                   c->hostport, level);
    else if (!c->ever_ready)
        ew_io_logf(c->log, c->user, 2, "connected to device %s (user level %d)", c->hostport,
                   level);
    c->logged_fail = 0;
    c->last_sys = 0;
    c->fail_detail[0] = 0;
    c->ever_ready = 1;
    uv_timer_stop(&c->queue_timer);
    set_state(c, EW_RSCP_CLIENT_READY, EW_OK, "logged in");
}

/* ---- links (one TCP connection each) ------------------------------------------------ */

static uint64_t link_now(const cl_link *lk) {
    return uv_now(lk->cl->loop) - lk->epoch;
}

static void link_closed(uv_handle_t *h) {
    cl_link *lk = h->data;
    ew_rscp_client *c = lk->cl;
    ew_rscp_conn_del(lk->conn);
    memset(lk->rbuf, 0, sizeof lk->rbuf);
    free(lk);
    c->links_open--;
    maybe_free(c);
}

static void link_close(cl_link *lk) {
    if (lk->closing)
        return;
    lk->closing = 1;
    if (lk->cl->lk == lk) {
        lk->cl->lk = NULL;
        uv_timer_stop(&lk->cl->sess_timer);
    }
    uv_close((uv_handle_t *)&lk->tcp, link_closed);
}

/* Why |lk|'s session ended: the error, the session's sentence (or the
 * socket error) in |reason|, and the line the client reports in |detail|. */
static int link_reason(cl_link *lk, char *detail, size_t dn, char *reason, size_t rn) {
    int err = ew_rscp_conn_error(lk->conn);
    ew_io_fmt(reason, rn, "%s", ew_rscp_conn_error_detail(lk->conn));
    if (err == EW_OK)
        err = EW_ERR_CLOSED;
    if (lk->sys_err && err == EW_ERR_CLOSED)
        ew_io_fmt(reason, rn, "%s", uv_strerror(lk->sys_err));
    ew_io_fmt(detail, dn, "%s %s: %s", lk->authed ? "connection to device" : "login at device",
              lk->cl->hostport, reason);
    return err;
}

/* The session is over: close the socket and decide what comes next. */
static void link_finish(cl_link *lk) {
    ew_rscp_client *c = lk->cl;
    int current = c->lk == lk;
    char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
    int err = link_reason(lk, detail, sizeof detail, reason, sizeof reason);
    link_close(lk);
    if (!current || c->deleting || c->state == EW_RSCP_CLIENT_STOPPED ||
        c->state == EW_RSCP_CLIENT_IDLE)
        return;
    /* Requests the session did not report (it reports all of them on a
     * close; this is a safety net) cannot be matched any more. */
    set_detail(c, err, detail);
    fail_all(c, err, 1);
    c->last_sys = lk->sys_err;
    handle_failure(c, err, detail, reason, lk->authed ? FAIL_LOST : FAIL_LOGIN);
}

static void link_events(cl_link *lk) {
    ew_rscp_client *c = lk->cl;
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(lk->conn, &ev) > 0) {
        switch (ev.type) {
        case EW_RSCP_EV_AUTHENTICATED:
            lk->authed = 1;
            if (c->lk == lk && !c->deleting && c->state == EW_RSCP_CLIENT_LOGIN)
                on_ready(c, ev.level);
            emit(c, &ev);
            break;
        case EW_RSCP_EV_RESPONSE:
        case EW_RSCP_EV_REQUEST_FAILED: {
            creq *r = c->qhead;
            while (r && !(r->sent && r->conn_id == ev.req_id))
                r = r->next;
            if (!r || c->lk != lk)
                break; /* already failed by a stop */
            q_remove(c, r);
            ev.req_id = r->id;
            free(r->tlvs);
            free(r);
            if (ev.type == EW_RSCP_EV_RESPONSE) {
                c->stats.responses++;
            } else {
                c->stats.failures++;
                char msg[sizeof c->detail];
                if (ew_rscp_conn_error(lk->conn) != EW_OK)
                    ew_io_fmt(msg, sizeof msg, "device %s: %s", c->hostport,
                              ew_rscp_conn_error_detail(lk->conn));
                else
                    ew_io_fmt(msg, sizeof msg, "device %s: the answer to request %u %s",
                              c->hostport, (unsigned)ev.req_id,
                              ev.err == EW_ERR_CRC ? "failed its CRC check" : "could not be read");
                set_detail(c, ev.err, msg);
            }
            emit(c, &ev);
            break;
        }
        case EW_RSCP_EV_CLOSED:
            /* The application may ask why from within the event. */
            if (c->lk == lk) {
                char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
                int err = link_reason(lk, detail, sizeof detail, reason, sizeof reason);
                set_detail(c, err, detail);
            }
            emit(c, &ev);
            break;
        default:
            break;
        }
    }
}

static void write_cb(uv_write_t *req, int status) {
    wreq *w = (wreq *)(void *)req;
    cl_link *lk = w->lk;
    free(w);
    if (status < 0 && !lk->closing) {
        lk->sys_err = status;
        ew_rscp_conn_recv_eof(lk->conn, link_now(lk));
        link_run(lk);
    }
}

static void link_flush(cl_link *lk) {
    const uint8_t *p;
    size_t n;
    while (!lk->closing && (n = ew_rscp_conn_send_data(lk->conn, &p)) > 0) {
        /* The write owns a copy: the session's buffer moves on at once. */
        wreq *w = malloc(sizeof *w + n);
        if (!w) {
            ew_rscp_conn_close(lk->conn);
            return;
        }
        memcpy(w->data, p, n);
        w->lk = lk;
        ew_rscp_conn_send_done(lk->conn, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        int rc = uv_write(&w->req, (uv_stream_t *)&lk->tcp, &b, 1, write_cb);
        if (rc < 0) {
            free(w);
            lk->sys_err = rc;
            ew_rscp_conn_recv_eof(lk->conn, link_now(lk));
            return;
        }
    }
}

static void sess_timer_cb(uv_timer_t *t) {
    ew_rscp_client *c = t->data;
    cl_link *lk = c->lk;
    if (!lk || lk->closing || !lk->conn)
        return;
    ew_rscp_conn_set_time(lk->conn, ew_io_wall_time());
    ew_rscp_conn_on_timeout(lk->conn, link_now(lk));
    link_run(lk);
}

/*
 * Takes the session's events, hands it waiting requests, writes what it
 * wants sent, and closes when it wants to.  Re-entrant calls (from the
 * application's callbacks) are folded into the running one.
 */
static void link_run(cl_link *lk) {
    if (lk->closing || !lk->conn)
        return;
    if (lk->busy) {
        lk->again = 1;
        return;
    }
    ew_rscp_client *c = lk->cl;
    lk->busy = 1;
    do {
        lk->again = 0;
        ew_rscp_conn_set_time(lk->conn, ew_io_wall_time());
        link_events(lk);
        if (c->lk == lk)
            pump(c);
        link_flush(lk);
        link_events(lk);
    } while (lk->again && !lk->closing);
    lk->busy = 0;
    if (lk->closing)
        return;
    if (ew_rscp_conn_want_close(lk->conn)) {
        link_finish(lk);
        return;
    }
    if (c->lk == lk) {
        uint64_t d = ew_rscp_conn_next_deadline(lk->conn), now = link_now(lk);
        if (d == UINT64_MAX)
            uv_timer_stop(&c->sess_timer);
        else
            uv_timer_start(&c->sess_timer, sess_timer_cb, d > now ? d - now : 0, 0);
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    cl_link *lk = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)lk->rbuf, sizeof lk->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    cl_link *lk = s->data;
    (void)buf;
    if (lk->closing || nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            lk->sys_err = (int)nread;
        uv_read_stop(s);
        ew_rscp_conn_recv_eof(lk->conn, link_now(lk));
        link_run(lk);
        return;
    }
    size_t off = 0, len = (size_t)nread;
    while (off < len && !lk->closing) {
        int n = ew_rscp_conn_recv(lk->conn, lk->rbuf + off, len - off, link_now(lk));
        if (n < 0) {
            link_finish(lk); /* EW_ERR_DEAD: the session ran out of memory */
            return;
        }
        off += (size_t)n;
        link_run(lk);
        if (n == 0) {
            /* A closed session takes nothing more; link_run closed it. */
            if (!lk->closing && !ew_rscp_conn_want_close(lk->conn)) {
                ew_rscp_conn_close(lk->conn);
                link_run(lk);
            }
            break;
        }
    }
}

/* ---- connecting ------------------------------------------------------------ */

static void connect_failed(ew_rscp_client *c) {
    char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
    int err;
    if (c->last_sys == UV_ETIMEDOUT) {
        err = EW_ERR_TIMEOUT;
        ew_io_fmt(reason, sizeof reason, "no TCP connection within %u ms",
                  (unsigned)c->connect_timeout_ms);
        ew_io_fmt(detail, sizeof detail, "connecting to device %s timed out after %u ms",
                  c->hostport, (unsigned)c->connect_timeout_ms);
    } else if (c->last_sys == UV_EMFILE || c->last_sys == UV_ENFILE || c->last_sys == UV_ENOBUFS ||
               c->last_sys == UV_ENOMEM) {
        err = EW_IO_ERR_SOCKET;
        ew_io_fmt(reason, sizeof reason, "%s", uv_strerror(c->last_sys));
        ew_io_fmt(detail, sizeof detail, "cannot open a connection to device %s: %s", c->hostport,
                  reason);
    } else {
        err = EW_IO_ERR_UNREACHABLE;
        ew_io_fmt(reason, sizeof reason, "%s",
                  c->last_sys ? uv_strerror(c->last_sys) : "no usable address");
        ew_io_fmt(detail, sizeof detail, "cannot connect to device %s: %s", c->hostport, reason);
    }
    handle_failure(c, err, detail, reason, FAIL_CONNECT);
}

static void connect_cb(uv_connect_t *req, int status) {
    cl_link *lk = req->data;
    if (lk->closing)
        return; /* closed by a timeout or a stop: UV_ECANCELED */
    ew_rscp_client *c = lk->cl;
    if (status < 0) {
        c->last_sys = status;
        link_close(lk);
        connect_next(c);
        return;
    }
    uv_timer_stop(&c->retry_timer);
    free_ai(c);
    lk->connected = 1;
    c->stats.connects++;
    uv_tcp_nodelay(&lk->tcp, 1);

    ew_rscp_conn_opts o = c->conn_opts;
    o.role = EW_RSCP_ROLE_CLIENT;
    o.rscp_key = c->key;
    o.user = c->user_name;
    o.password = c->password;
    o.log = conn_log;
    o.log_user = c;
    lk->epoch = uv_now(c->loop);
    int rc = ew_rscp_conn_new(&lk->conn, &o, NULL);
    if (rc < 0) {
        link_close(lk);
        c->last_sys = 0;
        handle_failure(c, rc, "cannot create the RSCP session: out of memory", ew_strerror(rc),
                       FAIL_CONNECT);
        return;
    }
    rc = uv_read_start((uv_stream_t *)&lk->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        c->last_sys = rc;
        link_close(lk);
        connect_failed(c);
        return;
    }
    set_state(c, EW_RSCP_CLIENT_LOGIN, EW_OK, "connected, logging in");
    if (c->lk == lk)
        link_run(lk); /* sends the login */
}

static void connect_next(ew_rscp_client *c) {
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        cl_link *lk = calloc(1, sizeof *lk);
        if (!lk) {
            c->last_sys = UV_ENOMEM;
            break;
        }
        lk->cl = c;
        int rc = uv_tcp_init(c->loop, &lk->tcp);
        if (rc < 0) {
            free(lk);
            c->last_sys = rc;
            break;
        }
        lk->tcp.data = lk;
        lk->connect.data = lk;
        c->links_open++;
        c->lk = lk;
        rc = uv_tcp_connect(&lk->connect, &lk->tcp, ai->ai_addr, connect_cb);
        if (rc < 0) {
            /* E.g. IPv6 not available on this host: try the next address. */
            c->last_sys = rc;
            link_close(lk);
            continue;
        }
        uv_timer_start(&c->retry_timer, retry_timer_cb, c->connect_timeout_ms, 0);
        return;
    }
    connect_failed(c);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    gai_req *g = (gai_req *)(void *)req;
    ew_rscp_client *c = g->cl;
    c->gai_outstanding--;
    int abandoned = g->abandoned;
    free(g);
    if (abandoned || c->deleting) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_free(c);
        return;
    }
    c->gai = NULL;
    if (status < 0) {
        char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "cannot resolve host name \"%s\": %s", c->host,
                  uv_strerror(status));
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        c->last_sys = status;
        handle_failure(c, EW_IO_ERR_UNREACHABLE, detail, reason, FAIL_CONNECT);
        return;
    }
    c->ai = c->ai_next = res;
    c->last_sys = 0;
    connect_next(c);
}

static void abandon_gai(ew_rscp_client *c) {
    if (!c->gai)
        return;
    c->gai->abandoned = 1;
    uv_cancel((uv_req_t *)&c->gai->req);
    c->gai = NULL;
}

static void retry_timer_cb(uv_timer_t *t) {
    ew_rscp_client *c = t->data;
    if (c->state == EW_RSCP_CLIENT_BACKOFF) {
        attempt_start(c);
        return;
    }
    if (c->state != EW_RSCP_CLIENT_CONNECTING)
        return;
    /* The connect timeout. */
    c->last_sys = UV_ETIMEDOUT;
    if (c->gai) {
        abandon_gai(c);
        char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "resolving \"%s\" took longer than %u ms", c->host,
                  (unsigned)c->connect_timeout_ms);
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        handle_failure(c, EW_ERR_TIMEOUT, detail, reason, FAIL_CONNECT);
        return;
    }
    if (c->lk && !c->lk->connected)
        link_close(c->lk);
    connect_next(c);
}

static void attempt_start(ew_rscp_client *c) {
    c->stats.attempts++;
    c->last_sys = 0;
    set_state(c, EW_RSCP_CLIENT_CONNECTING, EW_OK, "connecting");
    if (c->state != EW_RSCP_CLIENT_CONNECTING)
        return; /* stopped from the callback */
    gai_req *g = calloc(1, sizeof *g);
    if (!g) {
        handle_failure(c, EW_ERR_NOMEM, "out of memory", "out of memory", FAIL_CONNECT);
        return;
    }
    g->cl = c;
    char port[8];
    ew_io_fmt(port, sizeof port, "%u", (unsigned)c->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(c->loop, &g->req, gai_cb, c->host, port, &hints);
    if (rc < 0) {
        free(g);
        char detail[sizeof c->detail], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "cannot resolve host name \"%s\": %s", c->host,
                  uv_strerror(rc));
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        c->last_sys = rc;
        handle_failure(c, EW_IO_ERR_UNREACHABLE, detail, reason, FAIL_CONNECT);
        return;
    }
    c->gai = g;
    c->gai_outstanding++;
    uv_timer_start(&c->retry_timer, retry_timer_cb, c->connect_timeout_ms, 0);
}

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
    o->connect_timeout_ms = 5000;
    o->reconnect = 1;
    o->backoff_min_ms = 500;
    o->backoff_max_ms = 30000;
    o->queue_timeout_ms = 10000;
    o->max_queue = 256;
}

int ew_rscp_client_new(ew_rscp_client **out, void *uv_loop, const ew_rscp_client_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!uv_loop || !o || !o->host || !o->host[0] || strlen(o->host) > EW_IO_HOST_MAX ||
        !o->conn.rscp_key || !o->conn.user || !o->conn.password)
        return EW_ERR_INVAL;
    uint32_t bmin = o->backoff_min_ms ? o->backoff_min_ms : 500;
    uint32_t bmax = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    if (bmin > bmax)
        return EW_ERR_INVAL;
    ew_rscp_client *c = calloc(1, sizeof *c);
    if (!c)
        return EW_ERR_NOMEM;
    int ok = 1;
    c->host = ew_io_strdup(o->host, &ok);
    c->key = ew_io_strdup(o->conn.rscp_key, &ok);
    c->user_name = ew_io_strdup(o->conn.user, &ok);
    c->password = ew_io_strdup(o->conn.password, &ok);
    if (!ok) {
        client_free(c);
        return EW_ERR_NOMEM;
    }
    size_t hl = strlen(c->host);
    if (hl >= 2 && c->host[0] == '[' && c->host[hl - 1] == ']') {
        /* "[::1]" as in URLs: getaddrinfo wants the bare address. */
        memmove(c->host, c->host + 1, hl - 2);
        c->host[hl - 2] = 0;
    }
    c->loop = uv_loop;
    c->port = o->port ? o->port : EW_RSCP_PORT;
    ew_io_hostport(c->hostport, sizeof c->hostport, c->host, c->port);
    c->conn_opts = o->conn;
    c->conn_opts.rscp_key = c->conn_opts.user = c->conn_opts.password = NULL;
    c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    c->backoff_min_ms = bmin;
    c->backoff_max_ms = bmax;
    c->queue_timeout_ms = o->queue_timeout_ms ? o->queue_timeout_ms : 10000;
    c->reconnect = o->reconnect;
    c->retry_auth = o->retry_auth_errors;
    c->max_queue = o->max_queue ? o->max_queue : 256;
    c->max_inflight = o->conn.max_inflight ? o->conn.max_inflight : 1;
    c->on_event = o->on_event;
    c->on_state = o->on_state;
    c->log = o->log;
    c->user = o->user;
    c->rng = o->seed ? o->seed : ew_io_clock_seed(c);
    c->next_id = 1;
    c->state = EW_RSCP_CLIENT_IDLE;

    uv_timer_init(c->loop, &c->retry_timer);
    uv_timer_init(c->loop, &c->sess_timer);
    uv_timer_init(c->loop, &c->queue_timer);
    c->retry_timer.data = c->sess_timer.data = c->queue_timer.data = c;
    c->handles_open = 3;
    *out = c;
    return EW_OK;
}

int ew_rscp_client_start(ew_rscp_client *c) {
    if (!c || c->deleting)
        return EW_ERR_STATE;
    if (c->state != EW_RSCP_CLIENT_IDLE && c->state != EW_RSCP_CLIENT_STOPPED)
        return EW_ERR_STATE;
    c->backoff_n = 0;
    c->err = EW_OK;
    c->detail[0] = 0;
    attempt_start(c);
    return EW_OK;
}

/* Ends the current attempt or connection without deciding what comes next. */
static void teardown(ew_rscp_client *c) {
    abandon_gai(c);
    free_ai(c);
    uv_timer_stop(&c->retry_timer);
    uv_timer_stop(&c->sess_timer);
    uv_timer_stop(&c->queue_timer);
    cl_link *lk = c->lk;
    c->lk = NULL;
    c->level = 0;
    if (!lk)
        return;
    if (lk->conn && !lk->closing) {
        /* Detached from the client: its session reports its close (a
         * CLOSED event) and the link closes itself. */
        ew_rscp_conn_close(lk->conn);
        link_run(lk);
        if (!lk->busy && !lk->closing)
            link_close(lk);
    } else {
        link_close(lk);
    }
}

void ew_rscp_client_stop(ew_rscp_client *c) {
    if (!c || c->deleting)
        return;
    if (c->state == EW_RSCP_CLIENT_IDLE || c->state == EW_RSCP_CLIENT_STOPPED)
        return;
    c->state = EW_RSCP_CLIENT_STOPPED;
    set_detail(c, EW_OK, "the client was stopped");
    cl_link *lk = c->lk;
    c->lk = NULL;
    fail_all(c, EW_ERR_CLOSED, 0);
    c->lk = lk;
    teardown(c);
    set_detail(c, EW_OK, "the client was stopped");
    set_state(c, EW_RSCP_CLIENT_STOPPED, EW_OK, "stopped by the application");
}

void ew_rscp_client_del(ew_rscp_client *c) {
    if (!c || c->deleting)
        return;
    c->deleting = 1;
    c->state = EW_RSCP_CLIENT_STOPPED;
    teardown(c);
    uv_close((uv_handle_t *)&c->retry_timer, timer_closed);
    uv_close((uv_handle_t *)&c->sess_timer, timer_closed);
    uv_close((uv_handle_t *)&c->queue_timer, timer_closed);
}

int ew_rscp_client_submit(ew_rscp_client *c, const uint8_t *tlvs, size_t len, uint32_t *req_id) {
    if (!c || (!tlvs && len))
        return EW_ERR_INVAL;
    if (c->deleting || c->state == EW_RSCP_CLIENT_IDLE || c->state == EW_RSCP_CLIENT_STOPPED)
        return EW_ERR_STATE;
    if (len > UINT16_MAX)
        return EW_ERR_TOO_BIG;
    if (c->qlen >= c->max_queue)
        return EW_ERR_NOBUF;
    creq *r = calloc(1, sizeof *r);
    uint8_t *copy = malloc(len ? len : 1);
    if (!r || !copy) {
        free(r);
        free(copy);
        return EW_ERR_NOMEM;
    }
    if (len)
        memcpy(copy, tlvs, len);
    r->tlvs = copy;
    r->len = len;
    r->id = c->next_id++;
    if (c->next_id == 0)
        c->next_id = 1;
    r->deadline = uv_now(c->loop) + c->queue_timeout_ms;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->qlen++;
    if (req_id)
        *req_id = r->id;
    if (c->state == EW_RSCP_CLIENT_READY && c->lk)
        link_run(c->lk);
    else
        arm_queue_timer(c);
    return EW_OK;
}

ew_rscp_client_state ew_rscp_client_get_state(const ew_rscp_client *c) {
    return c->state;
}

int ew_rscp_client_error(const ew_rscp_client *c) {
    return c->err;
}

const char *ew_rscp_client_error_detail(const ew_rscp_client *c) {
    return c->detail[0] ? c->detail : "no error";
}

int ew_rscp_client_level(const ew_rscp_client *c) {
    return c->level;
}

void ew_rscp_client_get_stats(const ew_rscp_client *c, ew_rscp_client_stats *st) {
    *st = c->stats;
}
