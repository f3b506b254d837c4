/*
 * Asynchronous RCT client on libuv: resolve, connect with a timeout, hand
 * queued requests to the session (ew_rct_conn), reconnect with exponential
 * backoff and jitter.
 *
 * The session does the protocol (matching by object id, timeouts, retries
 * of lost, truncated and CRC-broken answers, rct.md §10, §15); this file
 * moves bytes and time.  Each TCP connection is a `link` with its own
 * session, freed from its close callback, so it stays valid for the whole
 * call stack of any callback.  Requests wait in the client until a session
 * may take them; those handed to a session that loses its connection fail
 * with EW_ERR_CLOSED.
 */
#include "io/io_int.h"

#include <energywire/io_rct.h>

#include <stdlib.h>
#include <string.h>

typedef struct rreq {
    struct rreq *next;
    uint32_t id, conn_id;
    int sent;
    int write;
    uint32_t oid;
    uint64_t deadline;
    size_t len;
    uint8_t *payload;
} rreq;

typedef struct link {
    ew_rct_client *cl;
    uv_tcp_t tcp;
    uv_connect_t connect;
    ew_rct_conn *conn;
    int connected, closing, busy, again;
    int sys_err;
    uint8_t rbuf[16384];
} link;

typedef struct gai_req {
    uv_getaddrinfo_t req;
    ew_rct_client *cl;
    int abandoned;
} gai_req;

typedef struct wreq {
    uv_write_t req;
    link *lk;
    uint8_t data[];
} wreq;

struct ew_rct_client {
    uv_loop_t *loop;
    char *host;
    uint16_t port;
    char hostport[EW_IO_HOSTPORT_LEN];
    ew_rct_conn_opts conn_opts;
    uint32_t connect_timeout_ms, backoff_min_ms, backoff_max_ms, queue_timeout_ms;
    int reconnect;
    unsigned max_queue;
    void (*on_event)(void *user, const ew_rct_conn_event *ev);
    void (*on_state)(void *user, ew_rct_client_state st, int err, const char *detail);
    void (*log)(void *user, int level, const char *msg);
    void *user;
    uint64_t rng;

    ew_rct_client_state state;
    int deleting, err;
    char detail[EW_IO_DETAIL_LEN];
    unsigned backoff_n;
    uv_timer_t retry_timer, sess_timer, queue_timer;
    int handles_open;
    gai_req *gai;
    unsigned gai_outstanding;
    struct addrinfo *ai, *ai_next;
    int last_sys;
    link *lk;
    unsigned links_open;
    rreq *qhead, *qtail;
    size_t qlen;
    uint32_t next_id;
    /* Quiet logging: the failure last reported. */
    int logged_fail, logged_err, logged_sys, ever_ready;
    ew_rct_client_stats stats;
};

static void attempt_start(ew_rct_client *c);
static void link_run(link *lk);
static void connect_next(ew_rct_client *c);
static void retry_timer_cb(uv_timer_t *t);

static void set_detail(ew_rct_client *c, int err, const char *detail) {
    c->err = err;
    ew_io_fmt(c->detail, sizeof c->detail, "%s", detail);
}

static void set_state(ew_rct_client *c, ew_rct_client_state st, int err, const char *detail) {
    c->state = st;
    if (!c->deleting && c->on_state)
        c->on_state(c->user, st, err, detail);
}

static void emit(ew_rct_client *c, const ew_rct_conn_event *ev) {
    if (!c->deleting && c->on_event)
        c->on_event(c->user, ev);
}

static void free_ai(ew_rct_client *c) {
    if (c->ai)
        uv_freeaddrinfo(c->ai);
    c->ai = c->ai_next = NULL;
}

static void client_free(ew_rct_client *c) {
    while (c->qhead) {
        rreq *r = c->qhead;
        c->qhead = r->next;
        free(r->payload);
        free(r);
    }
    free_ai(c);
    free(c->host);
    free(c);
}

static void maybe_free(ew_rct_client *c) {
    if (c->deleting && !c->handles_open && !c->links_open && !c->gai_outstanding)
        client_free(c);
}

static void timer_closed(uv_handle_t *h) {
    ew_rct_client *c = h->data;
    c->handles_open--;
    maybe_free(c);
}

static void conn_log(void *user, int level, const char *msg) {
    ew_rct_client *c = user;
    /* The session's offline/online lines matter; pass them on as they are. */
    ew_io_logf(c->log, c->user, level < 1 ? 1 : level, "device %s: %s", c->hostport, msg);
}

/* ---- the request queue -------------------------------------------------- */

static void q_remove(ew_rct_client *c, rreq *r) {
    rreq **pp = &c->qhead, *prev = NULL;
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

static void emit_failed(ew_rct_client *c, rreq *r, int err) {
    ew_rct_conn_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_RCT_EV_REQUEST_FAILED;
    ev.req_id = r->id;
    ev.id = r->oid;
    ev.command = r->write ? EW_RCT_CMD_WRITE : EW_RCT_CMD_READ;
    ev.err = err;
    free(r->payload);
    free(r);
    c->stats.failures++;
    emit(c, &ev);
}

/* Fails every request (|only_sent|: those handed to a session); they leave
 * the queue first so that callbacks may submit new ones. */
static void fail_all(ew_rct_client *c, int err, int only_sent) {
    rreq *list = NULL, **tail = &list;
    for (rreq *r = c->qhead; r;) {
        rreq *next = r->next;
        if (!only_sent || r->sent) {
            q_remove(c, r);
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        }
        r = next;
    }
    while (list) {
        rreq *r = list;
        list = r->next;
        emit_failed(c, r, err);
    }
}

static void arm_queue_timer(ew_rct_client *c);

static void queue_timer_cb(uv_timer_t *t) {
    ew_rct_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    if (c->state == EW_RCT_CLIENT_READY)
        return;
    for (;;) {
        rreq *r = c->qhead;
        while (r && (r->sent || r->deadline > now))
            r = r->next;
        if (!r)
            break;
        char msg[EW_IO_DETAIL_LEN];
        ew_io_fmt(msg, sizeof msg, "no connection to device %s within %u ms (%s)", c->hostport,
                  (unsigned)c->queue_timeout_ms, c->err ? c->detail : "still connecting");
        set_detail(c, EW_ERR_TIMEOUT, msg);
        q_remove(c, r);
        emit_failed(c, r, EW_ERR_TIMEOUT);
    }
    arm_queue_timer(c);
}

static void arm_queue_timer(ew_rct_client *c) {
    if (c->deleting)
        return;
    uint64_t first = UINT64_MAX;
    for (rreq *r = c->qhead; r; r = r->next)
        if (!r->sent && r->deadline < first)
            first = r->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&c->queue_timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->queue_timer, queue_timer_cb, first > now ? first - now : 0, 0);
}

/* Hands waiting requests to the session until its queue is full. */
static void pump(ew_rct_client *c) {
    link *lk = c->lk;
    if (!lk || !lk->connected || lk->closing || ew_rct_conn_want_close(lk->conn))
        return;
    uint64_t now = uv_now(c->loop);
    for (rreq *r = c->qhead; r; r = r->next) {
        if (r->sent)
            continue;
        int rc = r->write ? ew_rct_conn_submit_write(lk->conn, r->oid, r->payload, r->len, now,
                                                     &r->conn_id)
                          : ew_rct_conn_submit_read(lk->conn, r->oid, now, &r->conn_id);
        if (rc == EW_ERR_NOBUF || rc == EW_ERR_STATE)
            break;
        if (rc < 0) {
            /* Refused for good (too big for the session): fail it. */
            rreq *next = r->next;
            q_remove(c, r);
            set_detail(c, rc, "the session refused the request");
            emit_failed(c, r, rc);
            r = next;
            if (!r)
                break;
            continue;
        }
        r->sent = 1;
        free(r->payload);
        r->payload = NULL;
    }
}

/* ---- failures and backoff ------------------------------------------------ */

static uint64_t backoff_delay(ew_rct_client *c) {
    uint64_t d = c->backoff_min_ms;
    for (unsigned i = 0; i < c->backoff_n && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    if (c->backoff_n < 64)
        c->backoff_n++;
    uint64_t lo = d / 2;
    return lo + ew_io_rand(&c->rng) % (d - lo + 1);
}

/* Decides what a failure means; logs only when the kind of failure changes. */
static void handle_failure(ew_rct_client *c, int err, const char *detail, const char *reason,
                           int lost) {
    free_ai(c);
    uv_timer_stop(&c->retry_timer);
    uv_timer_stop(&c->sess_timer);
    set_detail(c, err, detail);
    int stop = !c->reconnect;
    const char *then = stop ? "" : lost ? "; reconnecting" : "; retrying with backoff";
    int changed = !c->logged_fail || c->logged_err != err || c->logged_sys != c->last_sys;
    if (lost)
        ew_io_logf(c->log, c->user, 1, "connection to device %s lost: %s%s", c->hostport, reason,
                   then);
    else if (changed)
        ew_io_logf(c->log, c->user, stop ? 0 : 1, "device %s unreachable: %s%s", c->hostport,
                   reason, then);
    c->logged_fail = 1;
    c->logged_err = err;
    c->logged_sys = c->last_sys;
    if (stop) {
        c->state = EW_RCT_CLIENT_STOPPED;
        fail_all(c, err, 0);
        uv_timer_stop(&c->queue_timer);
        set_state(c, EW_RCT_CLIENT_STOPPED, err, detail);
        return;
    }
    if (lost) {
        uint64_t now = uv_now(c->loop);
        for (rreq *r = c->qhead; r; r = r->next)
            if (!r->sent)
                r->deadline = now + c->queue_timeout_ms;
    }
    c->state = EW_RCT_CLIENT_BACKOFF;
    uv_timer_start(&c->retry_timer, retry_timer_cb, backoff_delay(c), 0);
    arm_queue_timer(c);
    set_state(c, EW_RCT_CLIENT_BACKOFF, err, detail);
}

/* ---- links ---------------------------------------------------------------- */

static void link_closed(uv_handle_t *h) {
    link *lk = h->data;
    ew_rct_client *c = lk->cl;
    ew_rct_conn_del(lk->conn);
    free(lk);
    c->links_open--;
    maybe_free(c);
}

static void link_close(link *lk) {
    if (lk->closing)
        return;
    lk->closing = 1;
    if (lk->cl->lk == lk) {
        lk->cl->lk = NULL;
        uv_timer_stop(&lk->cl->sess_timer);
    }
    uv_close((uv_handle_t *)&lk->tcp, link_closed);
}

static void link_finish(link *lk) {
    ew_rct_client *c = lk->cl;
    int current = c->lk == lk;
    int err = ew_rct_conn_error(lk->conn);
    char reason[EW_IO_HOST_MAX + 200], detail[EW_IO_DETAIL_LEN];
    if (lk->sys_err)
        ew_io_fmt(reason, sizeof reason, "%s", uv_strerror(lk->sys_err));
    else if (err != EW_OK)
        ew_io_fmt(reason, sizeof reason, "%s", ew_rct_conn_error_detail(lk->conn));
    else
        ew_io_fmt(reason, sizeof reason, "the device closed the connection");
    if (err == EW_OK)
        err = EW_ERR_CLOSED;
    ew_io_fmt(detail, sizeof detail, "connection to device %s: %s", c->hostport, reason);
    link_close(lk);
    if (!current || c->deleting || c->state == EW_RCT_CLIENT_STOPPED ||
        c->state == EW_RCT_CLIENT_IDLE)
        return;
    set_detail(c, err, detail);
    fail_all(c, err, 1);
    c->last_sys = lk->sys_err;
    handle_failure(c, err, detail, reason, 1);
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

static void link_events(link *lk) {
    ew_rct_client *c = lk->cl;
    ew_rct_conn_event ev;
    while (ew_rct_conn_poll_event(lk->conn, &ev) > 0) {
        if (ev.type == EW_RCT_EV_RESPONSE || ev.type == EW_RCT_EV_REQUEST_FAILED) {
            rreq *r = c->qhead;
            while (r && !(r->sent && r->conn_id == ev.req_id))
                r = r->next;
            if (!r || c->lk != lk)
                continue; /* failed already by a stop or a lost connection */
            q_remove(c, r);
            ev.req_id = r->id;
            free(r->payload);
            free(r);
            if (ev.type == EW_RCT_EV_RESPONSE) {
                c->stats.responses++;
            } else {
                c->stats.failures++;
                char msg[EW_IO_DETAIL_LEN];
                const ew_rct_object *o = ew_rct_object_by_id(ev.id);
                ew_io_fmt(msg, sizeof msg, "device %s: %s (0x%08lX): %s after %u attempt%s",
                          c->hostport, o ? o->name : "object", (unsigned long)ev.id,
                          fail_text(ev.err), ev.attempts, ev.attempts == 1 ? "" : "s");
                set_detail(c, ev.err, msg);
            }
        }
        emit(c, &ev);
    }
}

static void write_cb(uv_write_t *req, int status) {
    wreq *w = (wreq *)(void *)req;
    link *lk = w->lk;
    free(w);
    if (status < 0 && !lk->closing) {
        lk->sys_err = status;
        ew_rct_conn_recv_eof(lk->conn, uv_now(lk->cl->loop));
        link_run(lk);
    }
}

static void link_flush(link *lk) {
    const uint8_t *p;
    size_t n;
    while (!lk->closing && (n = ew_rct_conn_send_data(lk->conn, &p)) > 0) {
        wreq *w = malloc(sizeof *w + n);
        if (!w) {
            ew_rct_conn_close(lk->conn);
            return;
        }
        memcpy(w->data, p, n);
        w->lk = lk;
        ew_rct_conn_send_done(lk->conn, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        int rc = uv_write(&w->req, (uv_stream_t *)&lk->tcp, &b, 1, write_cb);
        if (rc < 0) {
            free(w);
            lk->sys_err = rc;
            ew_rct_conn_recv_eof(lk->conn, uv_now(lk->cl->loop));
            return;
        }
    }
}

static void sess_timer_cb(uv_timer_t *t) {
    ew_rct_client *c = t->data;
    link *lk = c->lk;
    if (!lk || lk->closing || !lk->conn)
        return;
    ew_rct_conn_on_timeout(lk->conn, uv_now(c->loop));
    link_run(lk);
}

/* Events, waiting requests, writes, close, timer; re-entrant calls from
 * callbacks are folded into the running one. */
static void link_run(link *lk) {
    if (lk->closing || !lk->conn)
        return;
    if (lk->busy) {
        lk->again = 1;
        return;
    }
    ew_rct_client *c = lk->cl;
    lk->busy = 1;
    do {
        lk->again = 0;
        link_events(lk);
        if (c->lk == lk)
            pump(c);
        link_flush(lk);
        link_events(lk);
    } while (lk->again && !lk->closing);
    lk->busy = 0;
    if (lk->closing)
        return;
    if (ew_rct_conn_want_close(lk->conn)) {
        link_finish(lk);
        return;
    }
    if (c->lk == lk) {
        uint64_t d = ew_rct_conn_next_deadline(lk->conn), now = uv_now(c->loop);
        if (d == UINT64_MAX)
            uv_timer_stop(&c->sess_timer);
        else
            uv_timer_start(&c->sess_timer, sess_timer_cb, d > now ? d - now : 0, 0);
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    link *lk = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)lk->rbuf, sizeof lk->rbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    link *lk = s->data;
    (void)buf;
    if (lk->closing || nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            lk->sys_err = (int)nread;
        uv_read_stop(s);
        ew_rct_conn_recv_eof(lk->conn, uv_now(lk->cl->loop));
        link_run(lk);
        return;
    }
    size_t off = 0, len = (size_t)nread;
    int stalls = 0;
    while (off < len && !lk->closing) {
        int n = ew_rct_conn_recv(lk->conn, lk->rbuf + off, len - off, uv_now(lk->cl->loop));
        if (n < 0) {
            link_finish(lk); /* EW_ERR_DEAD */
            return;
        }
        off += (size_t)n;
        /* Fewer than offered: an answer waits to be taken as an event. */
        link_run(lk);
        if (n > 0) {
            stalls = 0;
        } else if (++stalls > 1) {
            /* Nothing taken twice: the session is closed. */
            if (!lk->closing) {
                ew_rct_conn_close(lk->conn);
                link_run(lk);
            }
            break;
        }
    }
}

/* ---- connecting ------------------------------------------------------------ */

static void connect_failed(ew_rct_client *c) {
    char detail[EW_IO_DETAIL_LEN], reason[EW_IO_HOST_MAX + 200];
    int err;
    if (c->last_sys == UV_ETIMEDOUT) {
        err = EW_ERR_TIMEOUT;
        ew_io_fmt(reason, sizeof reason, "no TCP connection within %u ms",
                  (unsigned)c->connect_timeout_ms);
        ew_io_fmt(detail, sizeof detail, "connecting to device %s timed out after %u ms",
                  c->hostport, (unsigned)c->connect_timeout_ms);
    } else if (c->last_sys == UV_EMFILE || c->last_sys == UV_ENFILE || c->last_sys == UV_ENOMEM) {
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
    handle_failure(c, err, detail, reason, 0);
}

static void connect_cb(uv_connect_t *req, int status) {
    link *lk = req->data;
    if (lk->closing)
        return;
    ew_rct_client *c = lk->cl;
    if (status < 0) {
        c->last_sys = status;
        link_close(lk);
        connect_next(c);
        return;
    }
    uv_timer_stop(&c->retry_timer);
    free_ai(c);
    uv_tcp_nodelay(&lk->tcp, 1);
    ew_rct_conn_opts o = c->conn_opts;
    o.now_ms = uv_now(c->loop);
    o.log = conn_log;
    o.log_user = c;
    int rc = ew_rct_conn_new(&lk->conn, &o, NULL);
    if (rc < 0) {
        link_close(lk);
        c->last_sys = 0;
        handle_failure(c, rc, "cannot create the RCT session", ew_strerror(rc), 0);
        return;
    }
    rc = uv_read_start((uv_stream_t *)&lk->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        c->last_sys = rc;
        link_close(lk);
        connect_failed(c);
        return;
    }
    lk->connected = 1;
    c->stats.connects++;
    c->backoff_n = 0;
    if (c->logged_fail)
        ew_io_logf(c->log, c->user, 2, "device %s reachable again", c->hostport);
    else if (!c->ever_ready)
        ew_io_logf(c->log, c->user, 2, "connected to device %s", c->hostport);
    c->logged_fail = 0;
    c->last_sys = 0;
    c->ever_ready = 1;
    uv_timer_stop(&c->queue_timer);
    set_state(c, EW_RCT_CLIENT_READY, EW_OK, "connected");
    if (c->lk == lk)
        link_run(lk);
}

static void connect_next(ew_rct_client *c) {
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        link *lk = calloc(1, sizeof *lk);
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
    ew_rct_client *c = g->cl;
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
        char detail[EW_IO_DETAIL_LEN], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "cannot resolve host name \"%s\": %s", c->host,
                  uv_strerror(status));
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        c->last_sys = status;
        handle_failure(c, EW_IO_ERR_UNREACHABLE, detail, reason, 0);
        return;
    }
    c->ai = c->ai_next = res;
    c->last_sys = 0;
    connect_next(c);
}

static void abandon_gai(ew_rct_client *c) {
    if (!c->gai)
        return;
    c->gai->abandoned = 1;
    uv_cancel((uv_req_t *)&c->gai->req);
    c->gai = NULL;
}

static void retry_timer_cb(uv_timer_t *t) {
    ew_rct_client *c = t->data;
    if (c->state == EW_RCT_CLIENT_BACKOFF) {
        attempt_start(c);
        return;
    }
    if (c->state != EW_RCT_CLIENT_CONNECTING)
        return;
    c->last_sys = UV_ETIMEDOUT;
    if (c->gai) {
        abandon_gai(c);
        char detail[EW_IO_DETAIL_LEN], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "resolving \"%s\" took longer than %u ms", c->host,
                  (unsigned)c->connect_timeout_ms);
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        handle_failure(c, EW_ERR_TIMEOUT, detail, reason, 0);
        return;
    }
    if (c->lk && !c->lk->connected)
        link_close(c->lk);
    connect_next(c);
}

static void attempt_start(ew_rct_client *c) {
    c->stats.attempts++;
    c->last_sys = 0;
    set_state(c, EW_RCT_CLIENT_CONNECTING, EW_OK, "connecting");
    if (c->state != EW_RCT_CLIENT_CONNECTING)
        return;
    gai_req *g = calloc(1, sizeof *g);
    if (!g) {
        handle_failure(c, EW_ERR_NOMEM, "out of memory", "out of memory", 0);
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
        char detail[EW_IO_DETAIL_LEN], reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "cannot resolve host name \"%s\": %s", c->host,
                  uv_strerror(rc));
        ew_io_fmt(detail, sizeof detail, "device %s: %s", c->hostport, reason);
        c->last_sys = rc;
        handle_failure(c, EW_IO_ERR_UNREACHABLE, detail, reason, 0);
        return;
    }
    c->gai = g;
    c->gai_outstanding++;
    uv_timer_start(&c->retry_timer, retry_timer_cb, c->connect_timeout_ms, 0);
}

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
    o->connect_timeout_ms = 5000;
    o->reconnect = 1;
    o->backoff_min_ms = 500;
    o->backoff_max_ms = 30000;
    o->queue_timeout_ms = 10000;
    o->max_queue = 256;
}

int ew_rct_client_new(ew_rct_client **out, void *uv_loop, const ew_rct_client_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!uv_loop || !o || !o->host || !o->host[0] || strlen(o->host) > EW_IO_HOST_MAX)
        return EW_ERR_INVAL;
    uint32_t bmin = o->backoff_min_ms ? o->backoff_min_ms : 500;
    uint32_t bmax = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    if (bmin > bmax)
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
    int ok = 1;
    c->host = ew_io_strdup(o->host, &ok);
    if (!ok) {
        free(c);
        return EW_ERR_NOMEM;
    }
    size_t hl = strlen(c->host);
    if (hl >= 2 && c->host[0] == '[' && c->host[hl - 1] == ']') {
        memmove(c->host, c->host + 1, hl - 2);
        c->host[hl - 2] = 0;
    }
    c->loop = uv_loop;
    c->port = o->port ? o->port : EW_RCT_PORT;
    ew_io_hostport(c->hostport, sizeof c->hostport, c->host, c->port);
    c->conn_opts = o->conn;
    c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    c->backoff_min_ms = bmin;
    c->backoff_max_ms = bmax;
    c->queue_timeout_ms = o->queue_timeout_ms ? o->queue_timeout_ms : 10000;
    c->reconnect = o->reconnect;
    c->max_queue = o->max_queue ? o->max_queue : 256;
    c->on_event = o->on_event;
    c->on_state = o->on_state;
    c->log = o->log;
    c->user = o->user;
    c->rng = o->seed ? o->seed : ew_io_clock_seed(c);
    c->next_id = 1;
    c->state = EW_RCT_CLIENT_IDLE;
    uv_timer_init(c->loop, &c->retry_timer);
    uv_timer_init(c->loop, &c->sess_timer);
    uv_timer_init(c->loop, &c->queue_timer);
    c->retry_timer.data = c->sess_timer.data = c->queue_timer.data = c;
    c->handles_open = 3;
    *out = c;
    return EW_OK;
}

int ew_rct_client_start(ew_rct_client *c) {
    if (!c || c->deleting)
        return EW_ERR_STATE;
    if (c->state != EW_RCT_CLIENT_IDLE && c->state != EW_RCT_CLIENT_STOPPED)
        return EW_ERR_STATE;
    c->backoff_n = 0;
    c->err = EW_OK;
    c->detail[0] = 0;
    attempt_start(c);
    return EW_OK;
}

static void teardown(ew_rct_client *c) {
    abandon_gai(c);
    free_ai(c);
    uv_timer_stop(&c->retry_timer);
    uv_timer_stop(&c->sess_timer);
    uv_timer_stop(&c->queue_timer);
    link *lk = c->lk;
    c->lk = NULL;
    if (!lk)
        return;
    if (lk->conn && !lk->closing) {
        ew_rct_conn_close(lk->conn);
        link_run(lk);
        if (!lk->busy && !lk->closing)
            link_close(lk);
    } else {
        link_close(lk);
    }
}

void ew_rct_client_stop(ew_rct_client *c) {
    if (!c || c->deleting || c->state == EW_RCT_CLIENT_IDLE || c->state == EW_RCT_CLIENT_STOPPED)
        return;
    c->state = EW_RCT_CLIENT_STOPPED;
    set_detail(c, EW_OK, "the client was stopped");
    link *lk = c->lk;
    c->lk = NULL;
    fail_all(c, EW_ERR_CLOSED, 0);
    c->lk = lk;
    teardown(c);
    set_detail(c, EW_OK, "the client was stopped");
    set_state(c, EW_RCT_CLIENT_STOPPED, EW_OK, "stopped by the application");
}

void ew_rct_client_del(ew_rct_client *c) {
    if (!c || c->deleting)
        return;
    c->deleting = 1;
    c->state = EW_RCT_CLIENT_STOPPED;
    teardown(c);
    uv_close((uv_handle_t *)&c->retry_timer, timer_closed);
    uv_close((uv_handle_t *)&c->sess_timer, timer_closed);
    uv_close((uv_handle_t *)&c->queue_timer, timer_closed);
}

static int submit(ew_rct_client *c, uint32_t oid, int write, const uint8_t *payload, size_t len,
                  uint32_t *req_id) {
    if (!c || (write && !payload && len))
        return EW_ERR_INVAL;
    if (c->deleting || c->state == EW_RCT_CLIENT_IDLE || c->state == EW_RCT_CLIENT_STOPPED)
        return EW_ERR_STATE;
    if (len > EW_RCT_LONG_PAYLOAD_MAX)
        return EW_ERR_TOO_BIG;
    if (c->qlen >= c->max_queue)
        return EW_ERR_NOBUF;
    rreq *r = calloc(1, sizeof *r);
    uint8_t *copy = write ? malloc(len ? len : 1) : NULL;
    if (!r || (write && !copy)) {
        free(r);
        free(copy);
        return EW_ERR_NOMEM;
    }
    if (len)
        memcpy(copy, payload, len);
    r->payload = copy;
    r->len = len;
    r->write = write;
    r->oid = oid;
    r->id = c->next_id++;
    if (!c->next_id)
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
    if (c->state == EW_RCT_CLIENT_READY && c->lk)
        link_run(c->lk);
    else
        arm_queue_timer(c);
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
    return c->state;
}

int ew_rct_client_error(const ew_rct_client *c) {
    return c->err;
}

const char *ew_rct_client_error_detail(const ew_rct_client *c) {
    return c->detail[0] ? c->detail : "no error";
}

void ew_rct_client_get_stats(const ew_rct_client *c, ew_rct_client_stats *st) {
    *st = c->stats;
}
