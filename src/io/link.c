/*
 * The reconnecting TCP link under the energywire clients (link.h).
 *
 * Each TCP connection is an ew_link_conn with its own session; it is freed
 * from its close callback, so a connection (and the link) stays valid for
 * the whole call stack of any callback, even when the application stops or
 * deletes the client from inside one.
 *
 * Requests stay in the link's queue until the session may take them, so a
 * connection that fails before a request went out does not fail it; only
 * requests handed to a session whose connection dies are failed (their
 * answers can no longer be matched).
 */
#include "io/link.h"

#include <stdlib.h>
#include <string.h>

struct ew_link_conn {
    ew_link *lk;
    uv_tcp_t tcp;
    uv_connect_t connect;
    void *sess;
    int connected, closing, busy, again;
    int ready;   /* the session reached READY (logged in) */
    int sys_err; /* libuv error that ended the connection, 0 for EOF */
    /* Loop time at which the session was created: sessions count their
     * time from 0 (ew_rscp_conn_new() dates the login it queues at 0). */
    uint64_t epoch;
    uint8_t rbuf[16384];
};

typedef struct gai_req {
    uv_getaddrinfo_t req;
    ew_link *lk;
    int abandoned;
} gai_req;

typedef struct wreq {
    uv_write_t req;
    ew_link_conn *lc;
    uint8_t data[];
} wreq;

enum fail_kind { FAIL_CONNECT, FAIL_OPEN, FAIL_LOST };

struct ew_link {
    uv_loop_t *loop;
    ew_link_opts o; /* host points to |host| */
    char *host;
    char hostport[EW_IO_HOSTPORT_LEN];
    uint64_t rng;

    ew_link_state state;
    int deleting;
    int err;
    char detail[EW_IO_DETAIL_LEN];
    unsigned backoff_n;

    /* Backoff wait (BACKOFF) and connect timeout (CONNECTING) share a timer. */
    uv_timer_t retry_timer, sess_timer, queue_timer;
    int handles_open;

    gai_req *gai;
    unsigned gai_outstanding;
    struct addrinfo *ai, *ai_next;
    int last_sys;
    ew_link_conn *cur;
    unsigned conns_open;

    ew_link_req *qhead, *qtail;
    size_t qlen;
    uint32_t next_id;

    /* Quiet logging: what was last reported, so each state change is
     * logged once and repeated failures are not. */
    int logged_fail, logged_err, logged_sys, logged_kind, ever_ready;

    ew_link_stats stats;
};

static void attempt_start(ew_link *lk);
static void connect_next(ew_link *lk);
static void conn_run(ew_link_conn *lc);
static void retry_timer_cb(uv_timer_t *t);

/* ---- small helpers -------------------------------------------------------- */

static uint64_t conn_now(const ew_link_conn *lc) {
    return uv_now(lc->lk->loop) - lc->epoch;
}

static void set_state(ew_link *lk, ew_link_state st, int err, const char *detail) {
    lk->state = st;
    if (!lk->deleting && lk->o.proto->on_state)
        lk->o.proto->on_state(lk->o.user, st, err, detail);
}

static void free_ai(ew_link *lk) {
    if (lk->ai)
        uv_freeaddrinfo(lk->ai);
    lk->ai = lk->ai_next = NULL;
}

static void req_free(ew_link_req *r) {
    free(r->data);
    free(r);
}

static void link_free(ew_link *lk) {
    while (lk->qhead) {
        ew_link_req *r = lk->qhead;
        lk->qhead = r->next;
        req_free(r);
    }
    free_ai(lk);
    free(lk->host);
    void (*destroy)(void *) = lk->o.proto->destroy;
    void *user = lk->o.user;
    free(lk);
    if (destroy)
        destroy(user);
}

/* Frees the link once nothing refers to it any more. */
static void maybe_free(ew_link *lk) {
    if (lk->deleting && lk->handles_open == 0 && lk->conns_open == 0 && lk->gai_outstanding == 0)
        link_free(lk);
}

static void timer_closed(uv_handle_t *h) {
    ew_link *lk = h->data;
    lk->handles_open--;
    maybe_free(lk);
}

/* ---- the request queue ---------------------------------------------------- */

static void q_remove(ew_link *lk, ew_link_req *r) {
    ew_link_req **pp = &lk->qhead, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = r->next;
    if (lk->qtail == r)
        lk->qtail = prev;
    lk->qlen--;
}

/* Reports request |r| (already out of the queue) as failed and frees it. */
static void emit_failed(ew_link *lk, ew_link_req *r, int err) {
    lk->stats.failures++;
    if (!lk->deleting && lk->o.proto->req_failed)
        lk->o.proto->req_failed(lk->o.user, r, err);
    req_free(r);
}

/*
 * Fails every request (|only_sent|: those handed to a session).  They are
 * taken out of the queue first, so that callbacks that submit new requests
 * neither see them nor make this loop run forever.
 */
static void fail_all(ew_link *lk, int err, int only_sent) {
    ew_link_req *list = NULL, **tail = &list;
    for (ew_link_req *r = lk->qhead; r;) {
        ew_link_req *next = r->next;
        if (!only_sent || r->sent) {
            q_remove(lk, r);
            r->next = NULL;
            *tail = r;
            tail = &r->next;
        }
        r = next;
    }
    while (list) {
        ew_link_req *r = list;
        list = r->next;
        emit_failed(lk, r, err);
    }
}

static void arm_queue_timer(ew_link *lk);

static void queue_timer_cb(uv_timer_t *t) {
    ew_link *lk = t->data;
    uint64_t now = uv_now(lk->loop);
    if (lk->state == EW_LINK_READY)
        return; /* re-armed when the connection is lost */
    char msg[sizeof lk->detail];
    int have_msg = 0;
    for (;;) {
        ew_link_req *r = lk->qhead;
        while (r && (r->sent || r->deadline > now))
            r = r->next;
        if (!r)
            break;
        if (!have_msg) {
            ew_io_fmt(msg, sizeof msg, "no connection to device %s within %u ms (%s)", lk->hostport,
                      (unsigned)lk->o.queue_timeout_ms, lk->err ? lk->detail : "still connecting");
            have_msg = 1;
        }
        ew_link_set_error(lk, EW_ERR_TIMEOUT, msg);
        q_remove(lk, r);
        emit_failed(lk, r, EW_ERR_TIMEOUT);
    }
    arm_queue_timer(lk);
}

static void arm_queue_timer(ew_link *lk) {
    if (lk->deleting)
        return;
    uint64_t first = UINT64_MAX;
    for (ew_link_req *r = lk->qhead; r; r = r->next)
        if (!r->sent && r->deadline < first)
            first = r->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&lk->queue_timer);
        return;
    }
    uint64_t now = uv_now(lk->loop);
    uv_timer_start(&lk->queue_timer, queue_timer_cb, first > now ? first - now : 0, 0);
}

/* Hands waiting requests to the session while it may take them. */
static void pump(ew_link *lk) {
    ew_link_conn *lc = lk->cur;
    if (!lc || !lc->ready || lc->closing || lk->o.proto->session->want_close(lc->sess))
        return;
    ew_link_req *r = lk->qhead;
    while (r) {
        if (r->sent) {
            r = r->next;
            continue;
        }
        int rc = lk->o.proto->submit(lk->o.user, lc->sess, r, conn_now(lc));
        if (rc > 0)
            break; /* queue full or session closing: try again later */
        if (rc < 0) {
            /* Refused for good.  The application may stop the client from
             * the failure event, so start over from the queue's head. */
            q_remove(lk, r);
            emit_failed(lk, r, rc);
            if (lk->cur != lc)
                return;
            r = lk->qhead;
            continue;
        }
        r->sent = 1;
        free(r->data);
        r->data = NULL;
        r = r->next;
    }
}

/* ---- failures, backoff and quiet logging -------------------------------------- */

static uint64_t backoff_delay(ew_link *lk) {
    uint64_t d = lk->o.backoff_min_ms;
    for (unsigned i = 0; i < lk->backoff_n && d < lk->o.backoff_max_ms; i++)
        d *= 2;
    if (d > lk->o.backoff_max_ms)
        d = lk->o.backoff_max_ms;
    if (lk->backoff_n < 64)
        lk->backoff_n++;
    /* "Equal jitter": between half the delay and all of it, so that clients
     * restarted together spread out but none retries at once. */
    uint64_t lo = d / 2;
    return lo + ew_io_rand(&lk->rng) % (d - lo + 1);
}

/*
 * One place decides what a failure means: stop, or wait and retry.  The
 * log line is written only when the kind of failure changes, so a device
 * that stays unreachable costs one line, not one per attempt.
 */
static void handle_failure(ew_link *lk, int err, const char *detail, const char *reason,
                           enum fail_kind kind) {
    free_ai(lk);
    uv_timer_stop(&lk->retry_timer);
    uv_timer_stop(&lk->sess_timer);
    ew_link_set_error(lk, err, detail);
    int stop =
        !lk->o.reconnect ||
        (kind == FAIL_OPEN && (err == EW_ERR_AUTH || err == EW_ERR_DECRYPT) && !lk->o.retry_auth);
    const char *then = stop ? "" : kind == FAIL_LOST ? "; reconnecting" : "; retrying with backoff";

    int changed = !lk->logged_fail || lk->logged_err != err || lk->logged_sys != lk->last_sys ||
                  lk->logged_kind != (int)kind;
    if (kind == FAIL_LOST || changed) {
        if (kind == FAIL_CONNECT)
            ew_io_logf(lk->o.log, lk->o.log_user, stop ? 0 : 1, "device %s unreachable: %s%s",
                       lk->hostport, reason, then);
        else if (kind == FAIL_OPEN)
            ew_io_logf(lk->o.log, lk->o.log_user, stop ? 0 : 1, "device %s: login failed: %s%s",
                       lk->hostport, reason, then);
        else
            ew_io_logf(lk->o.log, lk->o.log_user, 1, "connection to device %s lost: %s%s",
                       lk->hostport, reason, then);
        lk->logged_fail = 1;
        lk->logged_err = err;
        lk->logged_sys = lk->last_sys;
        lk->logged_kind = (int)kind;
    }

    if (stop) {
        lk->state = EW_LINK_STOPPED;
        fail_all(lk, err, 0);
        uv_timer_stop(&lk->queue_timer);
        set_state(lk, EW_LINK_STOPPED, err, detail);
        return;
    }
    if (kind == FAIL_LOST) {
        /* Requests that waited behind others on the lost connection now
         * wait for a new one: their queue time starts over. */
        uint64_t now = uv_now(lk->loop);
        for (ew_link_req *r = lk->qhead; r; r = r->next)
            if (!r->sent)
                r->deadline = now + lk->o.queue_timeout_ms;
    }
    uint64_t delay = backoff_delay(lk);
    lk->state = EW_LINK_BACKOFF;
    uv_timer_start(&lk->retry_timer, retry_timer_cb, delay, 0);
    arm_queue_timer(lk);
    set_state(lk, EW_LINK_BACKOFF, err, detail);
}

/* ---- connections (one TCP connection each) --------------------------------------- */

static void conn_closed(uv_handle_t *h) {
    ew_link_conn *lc = h->data;
    ew_link *lk = lc->lk;
    if (lc->sess)
        lk->o.proto->session->del(lc->sess);
    memset(lc->rbuf, 0, sizeof lc->rbuf);
    free(lc);
    lk->conns_open--;
    maybe_free(lk);
}

static void conn_close(ew_link_conn *lc) {
    if (lc->closing)
        return;
    lc->closing = 1;
    if (lc->lk->cur == lc) {
        lc->lk->cur = NULL;
        uv_timer_stop(&lc->lk->sess_timer);
    }
    uv_close((uv_handle_t *)&lc->tcp, conn_closed);
}

/* Why |lc|'s session ended: the error, the protocol's sentence (or the
 * socket error) in |reason|, and the line the client reports in |detail|. */
static int conn_reason(ew_link_conn *lc, char *detail, size_t dn, char *reason, size_t rn) {
    ew_link *lk = lc->lk;
    int err = lk->o.proto->why(lk->o.user, lc->sess, lc->sys_err, reason, rn);
    ew_io_fmt(detail, dn, "%s %s: %s", lc->ready ? "connection to device" : "login at device",
              lk->hostport, reason);
    return err;
}

/* The session is over: close the socket and decide what comes next. */
static void conn_finish(ew_link_conn *lc) {
    ew_link *lk = lc->lk;
    int current = lk->cur == lc;
    char detail[sizeof lk->detail], reason[EW_IO_HOST_MAX + 200];
    int err = conn_reason(lc, detail, sizeof detail, reason, sizeof reason);
    conn_close(lc);
    if (!current || lk->deleting || lk->state == EW_LINK_STOPPED || lk->state == EW_LINK_IDLE)
        return;
    /* Requests the session did not report (it reports all of them on a
     * close; this is a safety net) cannot be matched any more. */
    ew_link_set_error(lk, err, detail);
    fail_all(lk, err, 1);
    lk->last_sys = lc->sys_err;
    handle_failure(lk, err, detail, reason, lc->ready ? FAIL_LOST : FAIL_OPEN);
}

/* The socket failed (|sys_err|) or the peer closed (0): the session
 * reports its end.  A first socket error is kept over a later EOF. */
static void conn_eof(ew_link_conn *lc, int sys_err) {
    if (sys_err)
        lc->sys_err = sys_err;
    lc->lk->o.proto->session->recv_eof(lc->sess, conn_now(lc));
}

static void write_cb(uv_write_t *req, int status) {
    wreq *w = (wreq *)(void *)req;
    ew_link_conn *lc = w->lc;
    free(w);
    if (status < 0 && !lc->closing) {
        conn_eof(lc, status);
        conn_run(lc);
    }
}

static void conn_flush(ew_link_conn *lc) {
    const ew_link_session *s = lc->lk->o.proto->session;
    const uint8_t *p;
    size_t n;
    while (!lc->closing && (n = s->send_data(lc->sess, &p)) > 0) {
        /* The write owns a copy: the session's buffer moves on at once. */
        wreq *w = malloc(sizeof *w + n);
        if (!w) {
            s->close(lc->sess);
            return;
        }
        memcpy(w->data, p, n);
        w->lc = lc;
        s->send_done(lc->sess, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        int rc = uv_write(&w->req, (uv_stream_t *)&lc->tcp, &b, 1, write_cb);
        if (rc < 0) {
            free(w);
            conn_eof(lc, rc);
            return;
        }
    }
}

static void sess_timer_cb(uv_timer_t *t) {
    ew_link *lk = t->data;
    ew_link_conn *lc = lk->cur;
    if (!lc || lc->closing || !lc->sess)
        return;
    if (lk->o.proto->tick)
        lk->o.proto->tick(lk->o.user, lc->sess);
    lk->o.proto->session->on_timeout(lc->sess, conn_now(lc));
    conn_run(lc);
}

/*
 * Takes the session's events, hands it waiting requests, writes what it
 * wants sent, and closes when it wants to.  Re-entrant calls (from the
 * application's callbacks) are folded into the running one.
 */
static void conn_run(ew_link_conn *lc) {
    if (lc->closing || !lc->sess)
        return;
    if (lc->busy) {
        lc->again = 1;
        return;
    }
    ew_link *lk = lc->lk;
    lc->busy = 1;
    do {
        lc->again = 0;
        if (lk->o.proto->tick)
            lk->o.proto->tick(lk->o.user, lc->sess);
        lk->o.proto->events(lk->o.user, lc);
        if (lk->cur == lc)
            pump(lk);
        conn_flush(lc);
        lk->o.proto->events(lk->o.user, lc);
    } while (lc->again && !lc->closing);
    lc->busy = 0;
    if (lc->closing)
        return;
    if (lk->o.proto->session->want_close(lc->sess)) {
        conn_finish(lc);
        return;
    }
    if (lk->cur == lc) {
        uint64_t d = lk->o.proto->session->next_deadline(lc->sess), now = conn_now(lc);
        if (d == UINT64_MAX)
            uv_timer_stop(&lk->sess_timer);
        else
            uv_timer_start(&lk->sess_timer, sess_timer_cb, d > now ? d - now : 0, 0);
    }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    ew_link_conn *lc = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)lc->rbuf, sizeof lc->rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    ew_link_conn *lc = st->data;
    const ew_link_session *s = lc->lk->o.proto->session;
    (void)buf;
    if (lc->closing || nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(st);
        conn_eof(lc, nread == UV_EOF ? 0 : (int)nread);
        conn_run(lc);
        return;
    }
    size_t off = 0, len = (size_t)nread;
    int stalls = 0;
    while (off < len && !lc->closing) {
        int n = s->recv(lc->sess, lc->rbuf + off, len - off, conn_now(lc));
        if (n < 0) {
            conn_finish(lc); /* EW_ERR_DEAD: the session ran out of memory */
            return;
        }
        off += (size_t)n;
        /* Fewer than offered: frames wait to be taken as events. */
        conn_run(lc);
        if (n > 0) {
            stalls = 0;
        } else if (++stalls > 1) {
            /* Nothing taken twice: the session is closed and takes nothing
             * more; closing it lets conn_run() close the socket. */
            if (!lc->closing && !s->want_close(lc->sess)) {
                s->close(lc->sess);
                conn_run(lc);
            }
            break;
        }
    }
}

/* ---- connecting ------------------------------------------------------------ */

static void connect_failed(ew_link *lk) {
    char detail[sizeof lk->detail], reason[EW_IO_HOST_MAX + 200];
    int err;
    if (lk->last_sys == UV_ETIMEDOUT) {
        err = EW_ERR_TIMEOUT;
        ew_io_fmt(reason, sizeof reason, "no TCP connection within %u ms",
                  (unsigned)lk->o.connect_timeout_ms);
        ew_io_fmt(detail, sizeof detail, "connecting to device %s timed out after %u ms",
                  lk->hostport, (unsigned)lk->o.connect_timeout_ms);
    } else if (lk->last_sys == UV_EMFILE || lk->last_sys == UV_ENFILE ||
               lk->last_sys == UV_ENOBUFS || lk->last_sys == UV_ENOMEM) {
        err = EW_IO_ERR_SOCKET;
        ew_io_fmt(reason, sizeof reason, "%s", uv_strerror(lk->last_sys));
        ew_io_fmt(detail, sizeof detail, "cannot open a connection to device %s: %s", lk->hostport,
                  reason);
    } else {
        err = EW_IO_ERR_UNREACHABLE;
        ew_io_fmt(reason, sizeof reason, "%s",
                  lk->last_sys ? uv_strerror(lk->last_sys) : "no usable address");
        ew_io_fmt(detail, sizeof detail, "cannot connect to device %s: %s", lk->hostport, reason);
    }
    handle_failure(lk, err, detail, reason, FAIL_CONNECT);
}

static void connect_cb(uv_connect_t *req, int status) {
    ew_link_conn *lc = req->data;
    if (lc->closing)
        return; /* closed by a timeout or a stop: UV_ECANCELED */
    ew_link *lk = lc->lk;
    if (status < 0) {
        lk->last_sys = status;
        conn_close(lc);
        connect_next(lk);
        return;
    }
    uv_timer_stop(&lk->retry_timer);
    free_ai(lk);
    lc->connected = 1;
    lk->stats.connects++;
    uv_tcp_nodelay(&lc->tcp, 1);

    lc->epoch = uv_now(lk->loop);
    int rc = EW_OK;
    lc->sess = lk->o.proto->open(lk->o.user, &rc);
    if (!lc->sess) {
        if (rc >= 0)
            rc = EW_ERR_NOMEM;
        conn_close(lc);
        lk->last_sys = 0;
        handle_failure(lk, rc, lk->o.proto->open_failed, ew_strerror(rc), FAIL_CONNECT);
        return;
    }
    rc = uv_read_start((uv_stream_t *)&lc->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        lk->last_sys = rc;
        conn_close(lc);
        connect_failed(lk);
        return;
    }
    if (lk->o.proto->opening_detail)
        set_state(lk, EW_LINK_OPENING, EW_OK, lk->o.proto->opening_detail);
    else
        ew_link_ready(lc, "connected", "", "");
    if (lk->cur == lc)
        conn_run(lc); /* sends what the session queued (the login) */
}

static void connect_next(ew_link *lk) {
    while (lk->ai_next) {
        struct addrinfo *ai = lk->ai_next;
        lk->ai_next = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        ew_link_conn *lc = calloc(1, sizeof *lc);
        if (!lc) {
            lk->last_sys = UV_ENOMEM;
            break;
        }
        lc->lk = lk;
        int rc = uv_tcp_init(lk->loop, &lc->tcp);
        if (rc < 0) {
            free(lc);
            lk->last_sys = rc;
            break;
        }
        lc->tcp.data = lc;
        lc->connect.data = lc;
        lk->conns_open++;
        lk->cur = lc;
        rc = uv_tcp_connect(&lc->connect, &lc->tcp, ai->ai_addr, connect_cb);
        if (rc < 0) {
            /* E.g. IPv6 not available on this host: try the next address. */
            lk->last_sys = rc;
            conn_close(lc);
            continue;
        }
        uv_timer_start(&lk->retry_timer, retry_timer_cb, lk->o.connect_timeout_ms, 0);
        return;
    }
    connect_failed(lk);
}

/* A failed or slow name lookup, explained by |reason|. */
static void resolve_failed(ew_link *lk, int err, int sys, const char *reason) {
    char detail[sizeof lk->detail];
    ew_io_fmt(detail, sizeof detail, "device %s: %s", lk->hostport, reason);
    lk->last_sys = sys;
    handle_failure(lk, err, detail, reason, FAIL_CONNECT);
}

static void resolve_error(ew_link *lk, int sys) {
    char reason[EW_IO_HOST_MAX + 200];
    ew_io_fmt(reason, sizeof reason, "cannot resolve host name \"%s\": %s", lk->host,
              uv_strerror(sys));
    resolve_failed(lk, EW_IO_ERR_UNREACHABLE, sys, reason);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    gai_req *g = (gai_req *)(void *)req;
    ew_link *lk = g->lk;
    lk->gai_outstanding--;
    int abandoned = g->abandoned;
    free(g);
    if (abandoned || lk->deleting) {
        if (res)
            uv_freeaddrinfo(res);
        maybe_free(lk);
        return;
    }
    lk->gai = NULL;
    if (status < 0) {
        resolve_error(lk, status);
        return;
    }
    lk->ai = lk->ai_next = res;
    lk->last_sys = 0;
    connect_next(lk);
}

static void abandon_gai(ew_link *lk) {
    if (!lk->gai)
        return;
    lk->gai->abandoned = 1;
    uv_cancel((uv_req_t *)&lk->gai->req);
    lk->gai = NULL;
}

static void retry_timer_cb(uv_timer_t *t) {
    ew_link *lk = t->data;
    if (lk->state == EW_LINK_BACKOFF) {
        attempt_start(lk);
        return;
    }
    if (lk->state != EW_LINK_CONNECTING)
        return;
    /* The connect timeout. */
    lk->last_sys = UV_ETIMEDOUT;
    if (lk->gai) {
        abandon_gai(lk);
        char reason[EW_IO_HOST_MAX + 200];
        ew_io_fmt(reason, sizeof reason, "resolving \"%s\" took longer than %u ms", lk->host,
                  (unsigned)lk->o.connect_timeout_ms);
        resolve_failed(lk, EW_ERR_TIMEOUT, UV_ETIMEDOUT, reason);
        return;
    }
    if (lk->cur && !lk->cur->connected)
        conn_close(lk->cur);
    connect_next(lk);
}

static void attempt_start(ew_link *lk) {
    lk->stats.attempts++;
    lk->last_sys = 0;
    set_state(lk, EW_LINK_CONNECTING, EW_OK, "connecting");
    if (lk->state != EW_LINK_CONNECTING)
        return; /* stopped from the callback */
    gai_req *g = calloc(1, sizeof *g);
    if (!g) {
        handle_failure(lk, EW_ERR_NOMEM, "out of memory", "out of memory", FAIL_CONNECT);
        return;
    }
    g->lk = lk;
    char port[8];
    ew_io_fmt(port, sizeof port, "%u", (unsigned)lk->o.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(lk->loop, &g->req, gai_cb, lk->host, port, &hints);
    if (rc < 0) {
        free(g);
        resolve_error(lk, rc);
        return;
    }
    lk->gai = g;
    lk->gai_outstanding++;
    uv_timer_start(&lk->retry_timer, retry_timer_cb, lk->o.connect_timeout_ms, 0);
}

/* ---- the client's calls ------------------------------------------------------ */

int ew_link_new(ew_link **out, uv_loop_t *loop, const ew_link_opts *o) {
    *out = NULL;
    if (!loop || !o->host || !o->host[0] || strlen(o->host) > EW_IO_HOST_MAX)
        return EW_ERR_INVAL;
    uint32_t bmin = o->backoff_min_ms ? o->backoff_min_ms : EW_LINK_BACKOFF_MIN_MS;
    uint32_t bmax = o->backoff_max_ms ? o->backoff_max_ms : EW_LINK_BACKOFF_MAX_MS;
    if (bmin > bmax)
        return EW_ERR_INVAL;
    ew_link *lk = calloc(1, sizeof *lk);
    if (!lk)
        return EW_ERR_NOMEM;
    int ok = 1;
    lk->host = ew_io_strdup(o->host, &ok);
    if (!ok) {
        free(lk);
        return EW_ERR_NOMEM;
    }
    size_t hl = strlen(lk->host);
    if (hl >= 2 && lk->host[0] == '[' && lk->host[hl - 1] == ']') {
        /* "[::1]" as in URLs: getaddrinfo wants the bare address. */
        memmove(lk->host, lk->host + 1, hl - 2);
        lk->host[hl - 2] = 0;
    }
    lk->loop = loop;
    lk->o = *o;
    lk->o.host = lk->host;
    lk->o.backoff_min_ms = bmin;
    lk->o.backoff_max_ms = bmax;
    lk->o.connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : EW_LINK_CONNECT_TIMEOUT_MS;
    lk->o.queue_timeout_ms = o->queue_timeout_ms ? o->queue_timeout_ms : EW_LINK_QUEUE_TIMEOUT_MS;
    lk->o.max_queue = o->max_queue ? o->max_queue : EW_LINK_MAX_QUEUE;
    ew_io_hostport(lk->hostport, sizeof lk->hostport, lk->host, lk->o.port);
    lk->rng = o->seed ? o->seed : ew_io_clock_seed(lk);
    lk->next_id = 1;
    lk->state = EW_LINK_IDLE;

    uv_timer_init(loop, &lk->retry_timer);
    uv_timer_init(loop, &lk->sess_timer);
    uv_timer_init(loop, &lk->queue_timer);
    lk->retry_timer.data = lk->sess_timer.data = lk->queue_timer.data = lk;
    lk->handles_open = 3;
    *out = lk;
    return EW_OK;
}

int ew_link_start(ew_link *lk) {
    if (lk->deleting || (lk->state != EW_LINK_IDLE && lk->state != EW_LINK_STOPPED))
        return EW_ERR_STATE;
    lk->backoff_n = 0;
    lk->err = EW_OK;
    lk->detail[0] = 0;
    attempt_start(lk);
    return EW_OK;
}

/* Ends the current attempt or connection without deciding what comes next. */
static void teardown(ew_link *lk) {
    abandon_gai(lk);
    free_ai(lk);
    uv_timer_stop(&lk->retry_timer);
    uv_timer_stop(&lk->sess_timer);
    uv_timer_stop(&lk->queue_timer);
    ew_link_conn *lc = lk->cur;
    lk->cur = NULL;
    if (!lc)
        return;
    if (lc->sess && !lc->closing) {
        /* Detached from the link: its session reports its close (a close
         * event) and the connection closes itself. */
        lk->o.proto->session->close(lc->sess);
        conn_run(lc);
        if (!lc->busy && !lc->closing)
            conn_close(lc);
    } else {
        conn_close(lc);
    }
}

void ew_link_stop(ew_link *lk) {
    if (lk->deleting || lk->state == EW_LINK_IDLE || lk->state == EW_LINK_STOPPED)
        return;
    lk->state = EW_LINK_STOPPED;
    ew_link_set_error(lk, EW_OK, "the client was stopped");
    ew_link_conn *lc = lk->cur;
    lk->cur = NULL;
    fail_all(lk, EW_ERR_CLOSED, 0);
    lk->cur = lc;
    teardown(lk);
    ew_link_set_error(lk, EW_OK, "the client was stopped");
    set_state(lk, EW_LINK_STOPPED, EW_OK, "stopped by the application");
}

void ew_link_del(ew_link *lk) {
    if (lk->deleting)
        return;
    lk->deleting = 1;
    lk->state = EW_LINK_STOPPED;
    teardown(lk);
    uv_close((uv_handle_t *)&lk->retry_timer, timer_closed);
    uv_close((uv_handle_t *)&lk->sess_timer, timer_closed);
    uv_close((uv_handle_t *)&lk->queue_timer, timer_closed);
}

ew_link_state ew_link_get_state(const ew_link *lk) {
    return lk->state;
}

int ew_link_deleted(const ew_link *lk) {
    return lk->deleting;
}

const char *ew_link_hostport(const ew_link *lk) {
    return lk->hostport;
}

void ew_link_get_stats(const ew_link *lk, ew_link_stats *st) {
    *st = lk->stats;
}

int ew_link_error(const ew_link *lk) {
    return lk->err;
}

const char *ew_link_error_detail(const ew_link *lk) {
    return lk->detail[0] ? lk->detail : "no error";
}

void ew_link_set_error(ew_link *lk, int err, const char *detail) {
    lk->err = err;
    ew_io_fmt(lk->detail, sizeof lk->detail, "%s", detail);
}

int ew_link_req_new(ew_link *lk, const uint8_t *data, size_t len, int copy, ew_link_req **out) {
    if (lk->deleting || lk->state == EW_LINK_IDLE || lk->state == EW_LINK_STOPPED)
        return EW_ERR_STATE;
    if (len > lk->o.proto->max_data)
        return EW_ERR_TOO_BIG;
    if (lk->qlen >= lk->o.max_queue)
        return EW_ERR_NOBUF;
    size_t size = lk->o.proto->req_size;
    ew_link_req *r = calloc(1, size > sizeof *r ? size : sizeof *r);
    uint8_t *dup = copy ? malloc(len ? len : 1) : NULL;
    if (!r || (copy && !dup)) {
        free(r);
        free(dup);
        return EW_ERR_NOMEM;
    }
    if (len)
        memcpy(dup, data, len);
    r->data = dup;
    r->len = len;
    *out = r;
    return EW_OK;
}

void ew_link_req_submit(ew_link *lk, ew_link_req *r, uint32_t *req_id) {
    r->id = lk->next_id++;
    if (lk->next_id == 0)
        lk->next_id = 1;
    r->deadline = uv_now(lk->loop) + lk->o.queue_timeout_ms;
    if (lk->qtail)
        lk->qtail->next = r;
    else
        lk->qhead = r;
    lk->qtail = r;
    lk->qlen++;
    if (req_id)
        *req_id = r->id;
    if (lk->state == EW_LINK_READY && lk->cur)
        conn_run(lk->cur);
    else
        arm_queue_timer(lk);
}

int ew_link_req_answered(ew_link_conn *lc, uint32_t conn_id, int failed, uint32_t *id) {
    ew_link *lk = lc->lk;
    ew_link_req *r = lk->qhead;
    while (r && !(r->sent && r->conn_id == conn_id))
        r = r->next;
    if (!r || lk->cur != lc)
        return 0; /* already failed by a stop or a lost connection */
    q_remove(lk, r);
    *id = r->id;
    req_free(r);
    if (failed)
        lk->stats.failures++;
    else
        lk->stats.responses++;
    return 1;
}

void *ew_link_conn_session(const ew_link_conn *lc) {
    return lc->sess;
}

int ew_link_conn_current(const ew_link_conn *lc) {
    return lc->lk->cur == lc;
}

void ew_link_conn_explain(ew_link_conn *lc) {
    if (lc->lk->cur != lc)
        return;
    char detail[EW_IO_DETAIL_LEN], reason[EW_IO_HOST_MAX + 200];
    int err = conn_reason(lc, detail, sizeof detail, reason, sizeof reason);
    ew_link_set_error(lc->lk, err, detail);
}

void ew_link_ready(ew_link_conn *lc, const char *detail, const char *again, const char *first) {
    ew_link *lk = lc->lk;
    lc->ready = 1;
    if (lk->cur != lc || lk->deleting ||
        (lk->state != EW_LINK_CONNECTING && lk->state != EW_LINK_OPENING))
        return;
    lk->backoff_n = 0;
    lk->stats.ready++;
    if (lk->logged_fail)
        ew_io_logf(lk->o.log, lk->o.log_user, 2, "device %s reachable again%s", lk->hostport,
                   again);
    else if (!lk->ever_ready)
        ew_io_logf(lk->o.log, lk->o.log_user, 2, "connected to device %s%s", lk->hostport, first);
    lk->logged_fail = 0;
    lk->last_sys = 0;
    lk->ever_ready = 1;
    uv_timer_stop(&lk->queue_timer);
    set_state(lk, EW_LINK_READY, EW_OK, detail);
}
