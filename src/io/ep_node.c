/*
 * EP node on libuv: TCP sessions carrying TLS 1.3 (ew_tls, memory BIOs)
 * carrying the sans-I/O EP session (ew_ep_conn).  See io_ep.h and
 * docs/ep-node.md.
 *
 * Each connection is a session object with two handles (its TCP stream and
 * one timer).  The timer serves, in turn, the TCP connect timeout, the TLS
 * handshake timeout, the EP session's deadlines (ew_ep_conn_next_deadline)
 * and a guard while closing.  A session is freed from the close callbacks
 * of both handles, so a pointer stays valid for the whole call stack of any
 * callback.  Dialers live as long as the node.
 *
 * Data path:
 *   socket -> ew_tls_feed_cipher -> ew_tls_read_plain -> ew_ep_conn_recv
 *   ew_ep_conn_send_data -> ew_tls_write_plain -> ew_tls_take_cipher -> uv_write
 */
#include "io/io_int.h"

#include <energywire/io_ep.h>

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* Cipher bytes queued in libuv beyond which the session stops moving EP
 * bytes into TLS (the EP session's own send buffer then fills and it counts
 * missed publications instead of growing without a limit). */
#define WQ_MAX (256u * 1024u)
/* Time allowed for the last bytes (SoftDisconnect, close_notify) to leave. */
#define CLOSE_GUARD_MS 1000u
/* A session that stayed active this long resets the dialer's backoff. */
#define STABLE_MS 1000u
#define FIELD_MAX 256

enum { SS_CONNECTING = 0, SS_TLS, SS_EP };

typedef struct sess_ids {
    /* Identity candidates from the certificate when they differ (ep.md
     * §5.4: CN, or a subjectAltName URI or DNS name). */
    char cand[3][FIELD_MAX];
    int n;
} sess_ids;

struct ew_ep_node_session {
    ew_ep_node *node;
    ew_ep_dialer *dialer;
    ew_ep_node_session *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_shutdown_t shut;
    ew_tls *tls;
    ew_ep_conn *conn;
    sess_ids *ids;
    void *data;
    int state;
    int outbound;
    int handles; /* open handles: the session is freed when 0 */
    int ending;  /* the end was decided (CLOSED emitted or silent) */
    int tcp_closing, shut_started;
    int busy, again, paused, reading, reset, pump_pending;
    int due; /* on the node's due list */
    ew_ep_node_session *due_next;
    uint64_t armed; /* the deadline the timer runs for, or UINT64_MAX */
    int tls_up, active, dropping, stop_dialer;
    int silent; /* end without an event (node deletion, connect retry) */
    uint64_t deadline, active_since;
    /* How it ended, gathered as it happens. */
    int close_reason, close_err, peer_reconnect, sys_err;
    int override_reason, override_err;
    char peer[EW_IO_HOSTPORT_LEN];
    char detail[EW_IO_DETAIL_LEN];
    /* One write in flight without an allocation: an EP message at 10 Hz is
     * one TLS record of about a hundred bytes. */
    uv_write_t iw_req;
    int iw_busy;
    uint8_t iw_buf[1024];
};

typedef struct gai_req {
    uv_getaddrinfo_t req;
    ew_ep_dialer *d;
    int abandoned;
} gai_req;

struct ew_ep_dialer {
    ew_ep_node *node;
    ew_ep_dialer *next;
    char *host;
    uint16_t port;
    char hostport[EW_IO_HOSTPORT_LEN];
    int running;
    ew_ep_node_session *sess;
    uv_timer_t retry;
    gai_req *gai;
    struct addrinfo *ai, *ai_next;
    struct sockaddr_storage numeric;
    int have_numeric, numeric_used;
    unsigned backoff_n;
    int last_sys;
};

typedef struct listener {
    uv_tcp_t tcp;
    ew_ep_node *node;
    struct listener *next;
    int closed;
} listener;

typedef struct wreq {
    uv_write_t req;
    ew_ep_node_session *s;
    size_t len;
    uint8_t data[];
} wreq;

#define N_PARAMS 3
static const uint32_t param_types[N_PARAMS] = {EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND,
                                               EW_EP_MSG_STORAGE};

struct ew_ep_node {
    uv_loop_t *loop;
    ew_tls_ctx *srv_ctx, *cli_ctx;
    ew_ep_conn_opts conn;
    char *strs[7]; /* copies of the conn template's strings */
    int check_identity, close_duplicates;
    uint32_t connect_timeout_ms, tls_timeout_ms, backoff_min_ms, backoff_max_ms;
    unsigned max_sessions;
    void (*on_event)(void *user, const ew_ep_node_event *ev);
    void *user;
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
    uint64_t rng;

    listener *listeners;
    ew_ep_node_session *sessions;
    ew_ep_dialer *dialers;
    unsigned n_sessions; /* in the list, not ending */
    unsigned handles_open, gai_outstanding;
    int deleting, shut_down, feeding;
    /* Sessions whose EP timer fired, handled after this turn's reads. */
    uv_check_t check;
    uv_idle_t idle;
    ew_ep_node_session *due_head;
    uint16_t port;

    uint8_t *param[N_PARAMS];
    size_t param_len[N_PARAMS];

    ew_ep_node_stats st;
    uint64_t closed_rx, closed_tx; /* frames of sessions already gone */
    char detail[EW_IO_DETAIL_LEN];
    uint8_t rbuf[65536];
    uint8_t pbuf[16384];
};

static void sess_run(ew_ep_node_session *s);
static void sess_end(ew_ep_node_session *s);
static void dialer_attempt(ew_ep_dialer *d);
static void dialer_connect_next(ew_ep_dialer *d);
static void pump_plain(ew_ep_node_session *s);

/* ---- small helpers --------------------------------------------------------- */

static uint64_t now_ms(const ew_ep_node *n) {
    return uv_now(n->loop);
}

static void emit(ew_ep_node *n, ew_ep_node_event *ev) {
    if (!n->deleting && n->on_event) {
        if (!ev->detail)
            ev->detail = "";
        n->on_event(n->user, ev);
    }
}

static void node_maybe_free(ew_ep_node *n) {
    if (!n->deleting || n->handles_open || n->gai_outstanding)
        return;
    while (n->dialers) {
        ew_ep_dialer *d = n->dialers;
        n->dialers = d->next;
        if (d->ai)
            uv_freeaddrinfo(d->ai);
        free(d->host);
        free(d);
    }
    while (n->listeners) {
        listener *l = n->listeners;
        n->listeners = l->next;
        free(l);
    }
    for (int i = 0; i < N_PARAMS; i++)
        free(n->param[i]);
    for (int i = 0; i < 7; i++)
        free(n->strs[i]);
    ew_tls_ctx_del(n->srv_ctx);
    ew_tls_ctx_del(n->cli_ctx);
    free(n);
}

/* Copies |b| into |out| as printable text (for log lines and details). */
static void bytes_text(ew_bytes b, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < b.len && o + 1 < cap; i++) {
        uint8_t c = b.ptr[i];
        out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    out[o] = 0;
}

static void conn_log(void *user, int level, const char *msg) {
    ew_ep_node_session *s = user;
    if (strncmp(msg, "ep: ", 4) == 0)
        msg += 4;
    ew_io_logf(s->node->log, s->node->log_user, level, "ep session %s: %s", s->peer, msg);
}

/* ---- session memory ---------------------------------------------------------- */

static void sess_unlink(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    if (s->prev)
        s->prev->next = s->next;
    else if (n->sessions == s)
        n->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void sess_handle_closed(uv_handle_t *h) {
    ew_ep_node_session *s = h->data;
    ew_ep_node *n = s->node;
    if (--s->handles > 0)
        return;
    sess_unlink(s);
    if (s->conn) {
        ew_ep_conn_stats cs;
        ew_ep_conn_get_stats(s->conn, &cs);
        n->closed_rx += cs.frames_rx;
        n->closed_tx += cs.frames_tx;
    }
    ew_ep_conn_del(s->conn);
    ew_tls_del(s->tls);
    free(s->ids);
    free(s);
    n->handles_open--;
    node_maybe_free(n);
}

/* A new session with its TCP handle and timer initialised, in the list. */
static ew_ep_node_session *sess_new(ew_ep_node *n, ew_ep_dialer *d) {
    ew_ep_node_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->node = n;
    s->dialer = d;
    s->outbound = d != NULL;
    s->peer_reconnect = -1;
    if (uv_tcp_init(n->loop, &s->tcp) < 0) {
        free(s);
        return NULL;
    }
    uv_timer_init(n->loop, &s->timer);
    s->tcp.data = s->timer.data = s->connect.data = s->shut.data = s;
    s->handles = 2;
    n->handles_open++;
    s->next = n->sessions;
    if (n->sessions)
        n->sessions->prev = s;
    n->sessions = s;
    n->n_sessions++;
    return s;
}

/* Closes both handles now (pending writes are cancelled). */
static void sess_close_handles(ew_ep_node_session *s, int reset) {
    if (!s->tcp_closing) {
        s->tcp_closing = 1;
        if (!reset || uv_tcp_close_reset(&s->tcp, sess_handle_closed) != 0)
            uv_close((uv_handle_t *)&s->tcp, sess_handle_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, sess_handle_closed);
}

/* ---- writing ------------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status) {
    ew_ep_node_session *s = req->data;
    if (req == &s->iw_req)
        s->iw_busy = 0;
    else
        free((wreq *)(void *)req);
    if (status < 0 && !s->ending && status != UV_ECANCELED) {
        s->sys_err = status;
        if (s->conn) {
            ew_ep_conn_recv_eof(s->conn, now_ms(s->node));
            sess_run(s);
        } else {
            s->close_err = EW_IO_ERR_UNREACHABLE;
            ew_io_fmt(s->detail, sizeof s->detail, "TCP: %s", uv_strerror(status));
            sess_end(s);
        }
    }
}

/* Takes every cipher byte TLS holds and queues one uv_write. */
static void flush_cipher(ew_ep_node_session *s) {
    if (s->tcp_closing || s->shut_started || !s->tls)
        return;
    const uint8_t *p;
    int k;
    int use_inline = !s->iw_busy;
    wreq *w = NULL;
    uint8_t *buf = use_inline ? s->iw_buf : NULL;
    size_t len = 0, cap = use_inline ? sizeof s->iw_buf : 0;
    while ((k = ew_tls_take_cipher(s->tls, &p)) > 0) {
        if (len == 0) {
            /* Straight to the socket when nothing is queued before it: no
             * write request, no completion, no epoll change.  libuv refuses
             * (UV_EAGAIN) while earlier writes wait, which keeps the order. */
            uv_buf_t tb = uv_buf_init((char *)p, (unsigned)k);
            int wn = uv_try_write((uv_stream_t *)&s->tcp, &tb, 1);
            if (wn > 0) {
                s->node->st.bytes_tx += (uint64_t)wn;
                ew_tls_cipher_done(s->tls, (size_t)wn);
                continue; /* the rest of this view, if any, comes next */
            }
            if (wn < 0 && wn != UV_EAGAIN) {
                s->sys_err = wn;
                return;
            }
        }
        if (len + (size_t)k > cap) {
            size_t nc = cap > 2048 ? cap * 2 : 4096;
            while (nc < len + (size_t)k)
                nc *= 2;
            wreq *nw = realloc(use_inline ? NULL : w, sizeof *nw + nc);
            if (!nw) {
                if (!use_inline)
                    free(w);
                s->sys_err = UV_ENOMEM;
                return;
            }
            if (use_inline)
                memcpy(nw->data, s->iw_buf, len);
            use_inline = 0;
            w = nw;
            buf = w->data;
            cap = nc;
        }
        memcpy(buf + len, p, (size_t)k);
        len += (size_t)k;
        ew_tls_cipher_done(s->tls, (size_t)k);
    }
    if (!len)
        return;
    uv_write_t *req = use_inline ? &s->iw_req : &w->req;
    req->data = s;
    if (use_inline)
        s->iw_busy = 1;
    else
        w->s = s;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    s->node->st.bytes_tx += len;
    int rc = uv_write(req, (uv_stream_t *)&s->tcp, &b, 1, write_cb);
    if (rc < 0) {
        if (use_inline)
            s->iw_busy = 0;
        else
            free(w);
        s->sys_err = rc;
    }
}

/* EP bytes into TLS (while the socket keeps up), then TLS to the socket. */
static void sess_flush(ew_ep_node_session *s) {
    if (s->paused)
        return;
    if (s->conn && ew_tls_get_state(s->tls) == EW_TLS_OPEN) {
        const uint8_t *p;
        size_t k;
        while (s->tcp.write_queue_size < WQ_MAX && (k = ew_ep_conn_send_data(s->conn, &p)) > 0) {
            int rc = ew_tls_write_plain(s->tls, p, k);
            if (rc == EW_ERR_NOBUF)
                break;
            if (rc < 0)
                break; /* the sticky TLS error ends the session in sess_run */
            ew_ep_conn_send_done(s->conn, k);
        }
    }
    flush_cipher(s);
}

/* ---- the end of a session ------------------------------------------------------ */

static void shutdown_cb(uv_shutdown_t *req, int status) {
    ew_ep_node_session *s = req->data;
    (void)status;
    if (!s->tcp_closing) {
        uv_timer_stop(&s->timer);
        sess_close_handles(s, 0);
    }
}

static void guard_cb(uv_timer_t *t) {
    ew_ep_node_session *s = t->data;
    sess_close_handles(s, 0);
}

static void tls_detail(ew_ep_node_session *s, int err) {
    const char *d = ew_tls_error_detail(s->tls);
    if (err == EW_TLS_ERR_VERSION)
        ew_io_fmt(s->detail, sizeof s->detail,
                  "TLS: the peer offered no TLS 1.3 (EP requires TLS 1.3 and never falls back, "
                  "ep.md §5.2): %s",
                  d);
    else
        ew_io_fmt(s->detail, sizeof s->detail, "TLS: %s", d[0] ? d : ew_tls_strerror(err));
}

/* Fills s->detail from the EP session's reason unless a detail was set. */
static void ep_detail(ew_ep_node_session *s) {
    const ew_ep_node *n = s->node;
    if (s->detail[0])
        return;
    switch (s->close_reason) {
    case EW_EP_CLOSE_HANDSHAKE_TIMEOUT:
        ew_io_fmt(s->detail, sizeof s->detail,
                  "EP handshake timeout: no SessionParameters within %u ms (ep.md §5.3)",
                  (unsigned)n->conn.handshake_timeout_ms);
        break;
    case EW_EP_CLOSE_LIVENESS:
        ew_io_fmt(s->detail, sizeof s->detail,
                  "liveness timeout: no frame for %u ms during an energy transfer (ep.md §5.5)",
                  (unsigned)n->conn.transfer_timeout_ms);
        break;
    case EW_EP_CLOSE_IDLE_TIMEOUT:
        ew_io_fmt(s->detail, sizeof s->detail, "idle timeout: no frame for %u ms (ep.md §5.5)",
                  (unsigned)n->conn.idle_timeout_ms);
        break;
    case EW_EP_CLOSE_PROTOCOL:
        ew_io_fmt(s->detail, sizeof s->detail, "protocol error: %s",
                  ew_ep_conn_error_detail(s->conn));
        break;
    case EW_EP_CLOSE_PEER_CLOSED:
        if (s->sys_err)
            ew_io_fmt(s->detail, sizeof s->detail, "connection lost: %s", uv_strerror(s->sys_err));
        else
            ew_io_fmt(s->detail, sizeof s->detail, "the peer closed the connection");
        break;
    case EW_EP_CLOSE_IDENTITY:
        ew_io_fmt(s->detail, sizeof s->detail,
                  "identity mismatch: the peer's SessionParameters do not match its certificate "
                  "(ep.md §5.4)");
        break;
    case EW_EP_CLOSE_LOCAL:
        ew_io_fmt(s->detail, sizeof s->detail, "closed by this node");
        break;
    default:
        ew_io_fmt(s->detail, sizeof s->detail, "closed");
        break;
    }
}

static uint32_t backoff_delay(ew_ep_dialer *d) {
    ew_ep_node *n = d->node;
    /* ep.md §5.5 table: 0.5 s doubling to 30 s; jitter keeps a crowd of
     * dialers from reconnecting in step: uniform in [base/2, base]. */
    uint64_t base = n->backoff_min_ms;
    unsigned k = d->backoff_n ? d->backoff_n - 1 : 0;
    for (unsigned i = 0; i < k && base < n->backoff_max_ms; i++)
        base *= 2;
    if (base > n->backoff_max_ms)
        base = n->backoff_max_ms;
    if (d->backoff_n < 64)
        d->backoff_n++;
    if (d->backoff_n == 1)
        d->backoff_n = 2;
    uint64_t lo = base / 2;
    return (uint32_t)(lo + ew_io_rand(&n->rng) % (base - lo + 1));
}

static void retry_cb(uv_timer_t *t) {
    ew_ep_dialer *d = t->data;
    if (d->running && !d->sess && !d->node->deleting)
        dialer_attempt(d);
}

/* Schedules the next attempt after |delay| ms (0: on the next loop turn). */
static void dialer_schedule(ew_ep_dialer *d, uint32_t delay) {
    uv_timer_start(&d->retry, retry_cb, delay, 0);
}

/* The dialer's attempt failed before TLS was up: DIAL_FAILED. */
static void dialer_failed(ew_ep_dialer *d, int err, const char *detail) {
    ew_ep_node *n = d->node;
    uint32_t retry = 0;
    if (d->running && !n->deleting)
        retry = backoff_delay(d);
    if (d->running && !n->deleting)
        dialer_schedule(d, retry);
    ew_io_logf(n->log, n->log_user, 1, "ep dial %s failed: %s%s", d->hostport, detail,
               retry ? "; retrying" : "");
    ew_ep_node_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_EP_NODE_DIAL_FAILED;
    ev.dialer = d;
    ev.err = err;
    ev.detail = detail;
    ev.retry_ms = retry;
    emit(n, &ev);
}

/* A dialed session that had TLS up ended: reconnect or stop (ep.md §5.5, §5.7,
 * §6.3).  Returns the delay, 0 when stopped (with |*stopped| set). */
static uint32_t dialer_lost(ew_ep_dialer *d, ew_ep_node_session *s, int *stopped) {
    ew_ep_node *n = d->node;
    *stopped = 0;
    if (!d->running || n->deleting) {
        *stopped = 1;
        return 0;
    }
    if (s->stop_dialer) {
        d->running = 0;
        *stopped = 1;
        ew_io_logf(n->log, n->log_user, 2, "ep dialer %s stopped: %s", d->hostport, s->detail);
        return 0;
    }
    uint32_t delay;
    uint64_t now = now_ms(n);
    if (s->active && now - s->active_since >= STABLE_MS)
        d->backoff_n = 0;
    if (s->close_reason == EW_EP_CLOSE_PEER_DISCONNECT && s->peer_reconnect == 1) {
        /* ep.md §5.7: reconnect=true means later, with backoff: the peer
         * may be restarting. */
        if (!d->backoff_n)
            d->backoff_n = 1;
        delay = backoff_delay(d);
    } else if (s->active && d->backoff_n == 0) {
        /* ep.md §5.5 point 3: renegotiate at once after a loss ... */
        delay = 0;
        d->backoff_n = 1;
    } else {
        /* ... then back off, so that a peer failing right after the
         * handshake does not see a storm. */
        delay = backoff_delay(d);
    }
    dialer_schedule(d, delay);
    ew_io_logf(n->log, n->log_user, 2, "ep dialer %s: reconnecting in %u ms", d->hostport,
               (unsigned)delay);
    return delay;
}

/*
 * Ends the session: the EP session's last bytes (SoftDisconnect), TLS
 * close_notify, TCP shutdown and close; emits CLOSED (or DIAL_FAILED for a
 * dialed attempt that never had TLS up) unless silent.
 */
static void sess_end(ew_ep_node_session *s) {
    if (s->ending)
        return;
    ew_ep_node *n = s->node;
    s->ending = 1;
    n->n_sessions--;
    if (s->active && n->st.sessions_active)
        n->st.sessions_active--;
    /* Last bytes out, unless reset or paused (the peer must see silence). */
    if (s->tls && !s->tcp_closing) {
        if (ew_tls_get_state(s->tls) == EW_TLS_OPEN) {
            sess_flush(s);
            if (!s->paused)
                ew_tls_close(s->tls); /* ep.md §5.7: SoftDisconnect, close_notify, close */
        }
        if (!s->paused)
            flush_cipher(s);
    }
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
    }
    if (s->tcp_closing) {
        sess_close_handles(s, 0); /* the timer (reset: TCP is closing already) */
    } else if (s->state != SS_CONNECTING && !s->paused &&
               uv_shutdown(&s->shut, (uv_stream_t *)&s->tcp, shutdown_cb) == 0) {
        s->shut_started = 1;
        uv_timer_start(&s->timer, guard_cb, CLOSE_GUARD_MS, 0);
    } else {
        sess_close_handles(s, 0);
    }
    ew_ep_dialer *d = s->dialer;
    if (d && d->sess == s)
        d->sess = NULL;
    else
        d = NULL;
    if (s->silent || n->deleting)
        return;

    int err = s->override_err ? s->override_err : s->close_err;
    int reason = s->override_reason ? s->override_reason : s->close_reason;
    if (d && !s->tls_up) {
        if (!s->detail[0])
            ew_io_fmt(s->detail, sizeof s->detail, "%s", ew_tls_strerror(err));
        dialer_failed(d, err, s->detail);
        return;
    }
    uint32_t retry = 0;
    int stopped = 1;
    if (d)
        retry = dialer_lost(d, s, &stopped);
    ew_io_logf(n->log, n->log_user, err ? 1 : 2, "ep session %s (%s) closed: %s", s->peer,
               s->outbound ? "outbound" : "inbound", s->detail);
    ew_ep_node_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_EP_NODE_CLOSED;
    ev.session = s;
    ev.dialer = s->dialer;
    ev.err = err;
    ev.close_reason = reason;
    ev.detail = s->detail;
    ev.retry_ms = d && !stopped ? retry : 0;
    emit(n, &ev);
}

/* Ends for a TCP or TLS reason (before or outside the EP session). */
static void sess_fail(ew_ep_node_session *s, int err, const char *detail) {
    if (s->ending)
        return;
    s->close_err = err;
    s->close_reason = 0;
    if (detail)
        ew_io_fmt(s->detail, sizeof s->detail, "%s", detail);
    sess_end(s);
}

static void sess_fail_tls(ew_ep_node_session *s) {
    int err = ew_tls_error(s->tls);
    if (!s->tls_up)
        s->node->st.tls_failed++;
    tls_detail(s, err);
    s->close_err = err;
    s->close_reason = 0;
    /* An alert for the peer may wait (ew_tls_feed_cipher). */
    flush_cipher(s);
    sess_end(s);
}

/* ---- the EP session's events ------------------------------------------------------ */

static int ids_match(const sess_ids *ids, ew_bytes id) {
    for (int i = 0; i < ids->n; i++)
        if (strlen(ids->cand[i]) == id.len && memcmp(ids->cand[i], id.ptr, id.len) == 0)
            return 1;
    return 0;
}

/* ep.md §6.3: another active session with the same peer?  The tie-break
 * decides; the loser gets SoftDisconnect(reconnect=false, "duplicate
 * connection").  Returns 1 when |s| itself lost. */
static int dup_check(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    for (ew_ep_node_session *o = n->sessions; o; o = o->next) {
        if (o == s || o->ending || o->dropping || !o->conn || !o->active)
            continue;
        if (!ew_ep_conn_is_duplicate(o->conn, s->conn))
            continue;
        int keep_s = ew_ep_conn_dup_keep(o->conn, s->conn) == 1;
        ew_ep_node_session *loser = keep_s ? o : s, *winner = keep_s ? s : o;
        loser->dropping = 1;
        loser->stop_dialer = 1;
        n->st.duplicates_closed++;
        ew_io_fmt(loser->detail, sizeof loser->detail,
                  "duplicate connection (ep.md §6.3): kept the %s connection %s instead",
                  winner->outbound ? "outbound" : "inbound", winner->peer);
        ew_io_logf(n->log, n->log_user, 2, "ep session %s: %s", loser->peer, loser->detail);
        (void)ew_ep_conn_soft_disconnect(loser->conn, 0, EW_EP_REASON_DUPLICATE);
        if (loser == s)
            return 1;
        sess_run(loser);
        return 0;
    }
    return 0;
}

static void on_handshake(ew_ep_node_session *s, const ew_ep_conn_event *cev) {
    ew_ep_node *n = s->node;
    if (s->ids && !ids_match(s->ids, cev->msg.u.session.identity)) {
        /* ep.md §5.4 with several certificate names: none matched. */
        char got[96];
        bytes_text(cev->msg.u.session.identity, got, sizeof got);
        ew_io_fmt(s->detail, sizeof s->detail,
                  "identity mismatch (ep.md §5.4): SessionParameters identity \"%s\" is none of "
                  "the certificate's names \"%s\", \"%s\"%s%s%s",
                  got, s->ids->cand[0], s->ids->cand[1], s->ids->n > 2 ? ", \"" : "",
                  s->ids->n > 2 ? s->ids->cand[2] : "", s->ids->n > 2 ? "\"" : "");
        ew_ep_node_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = EW_EP_NODE_SESSION;
        ev.session = s;
        ev.dialer = s->dialer;
        ev.conn = *cev;
        ev.conn.type = EW_EP_EV_IDENTITY_MISMATCH;
        ev.conn.mismatch = EW_EP_ID_IDENTITY;
        ev.detail = s->detail;
        s->dropping = 1;
        s->stop_dialer = 1;
        s->override_reason = EW_EP_CLOSE_IDENTITY;
        s->override_err = EW_ERR_AUTH;
        emit(n, &ev);
        (void)ew_ep_conn_soft_disconnect(s->conn, 0, "identity mismatch");
        return;
    }
    if (n->close_duplicates && dup_check(s))
        return;
    s->active = 1;
    s->active_since = now_ms(n);
    n->st.sessions_active++;
    char id[96];
    bytes_text(cev->msg.u.session.identity, id, sizeof id);
    ew_io_logf(n->log, n->log_user, 2, "ep session %s (%s): peer \"%s\" active", s->peer,
               s->outbound ? "outbound" : "inbound", id);
    ew_ep_node_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_EP_NODE_SESSION;
    ev.session = s;
    ev.dialer = s->dialer;
    ev.conn = *cev;
    emit(n, &ev);
}

static void drain_events(ew_ep_node_session *s) {
    ew_ep_conn_event cev;
    while (ew_ep_conn_poll_event(s->conn, &cev) > 0) {
        ew_ep_node_event ev;
        switch (cev.type) {
        case EW_EP_EV_CLOSED:
            s->close_reason = cev.close_reason;
            s->close_err = cev.err;
            continue;
        case EW_EP_EV_HANDSHAKE:
            if (!s->dropping)
                on_handshake(s, &cev);
            continue;
        case EW_EP_EV_SOFT_DISCONNECT: {
            s->peer_reconnect = cev.reconnect;
            /* ep.md §5.7: reconnect=false (or absent) means no automatic
             * reconnection; see docs/ep-node.md. */
            if (cev.reconnect != 1)
                s->stop_dialer = 1;
            char why[160];
            bytes_text(cev.reason, why, sizeof why);
            if (!s->detail[0])
                ew_io_fmt(s->detail, sizeof s->detail,
                          "the peer sent SoftDisconnect (reconnect=%s, reason \"%s\")",
                          cev.reconnect == 1   ? "true"
                          : cev.reconnect == 0 ? "false"
                                               : "absent",
                          why);
            break;
        }
        case EW_EP_EV_IDENTITY_MISMATCH: {
            s->stop_dialer = 1;
            char got[96], exp[FIELD_MAX];
            bytes_text(cev.msg.u.session.identity, got, sizeof got);
            int k = ew_tls_peer_field(s->tls, EW_TLS_FIELD_CN, exp, sizeof exp);
            if (k < 0)
                exp[0] = 0;
            ew_io_fmt(s->detail, sizeof s->detail,
                      "identity mismatch (ep.md §5.4): SessionParameters identity \"%s\", "
                      "certificate CN \"%s\"%s%s",
                      got, exp, cev.mismatch & EW_EP_ID_TENANT ? "; tenant differs from O" : "",
                      cev.mismatch & EW_EP_ID_PROVIDER ? "; provider differs from OU" : "");
            break;
        }
        default:
            if (s->dropping)
                continue;
            break;
        }
        memset(&ev, 0, sizeof ev);
        ev.type = EW_EP_NODE_SESSION;
        ev.session = s;
        ev.dialer = s->dialer;
        ev.conn = cev;
        emit(s->node, &ev);
    }
}

/* ---- running a session ----------------------------------------------------------- */

static void sess_timer_cb(uv_timer_t *t);

static void sess_arm(ew_ep_node_session *s) {
    if (s->ending)
        return;
    uint64_t d;
    if (s->state == SS_EP && s->pump_pending)
        d = 0;
    else if (s->state == SS_EP)
        d = s->paused ? UINT64_MAX : ew_ep_conn_next_deadline(s->conn);
    else
        d = s->deadline;
    if (d == s->armed && d != 0)
        return; /* already running for it */
    s->armed = d;
    if (d == UINT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    uint64_t now = now_ms(s->node);
    uv_timer_start(&s->timer, sess_timer_cb, d > now ? d - now : 0, 0);
}

/* Events, bytes out, the end, the timer.  Re-entrant calls (from event
 * callbacks) fold into the running one. */
static void sess_run(ew_ep_node_session *s) {
    if (s->ending)
        return;
    if (s->busy) {
        s->again = 1;
        return;
    }
    s->busy = 1;
    do {
        s->again = 0;
        if (s->conn)
            drain_events(s);
        if (!s->ending)
            sess_flush(s);
    } while (s->again && !s->ending);
    s->busy = 0;
    if (s->ending)
        return;
    if (s->reset) {
        sess_end(s);
        return;
    }
    if (s->tls && ew_tls_error(s->tls) != EW_OK) {
        sess_fail_tls(s);
        return;
    }
    if (s->sys_err && !s->conn) {
        sess_fail(s, EW_IO_ERR_UNREACHABLE, uv_strerror(s->sys_err));
        return;
    }
    if (s->conn && ew_ep_conn_want_close(s->conn)) {
        ep_detail(s);
        sess_end(s);
        return;
    }
    sess_arm(s);
}

static void idle_cb(uv_idle_t *h) {
    (void)h;
}

static void sess_timer_cb(uv_timer_t *t) {
    ew_ep_node_session *s = t->data;
    ew_ep_node *n = s->node;
    if (s->ending)
        return;
    if (s->state == SS_CONNECTING) {
        /* Connect timeout: try the next address, or fail. */
        ew_ep_dialer *d = s->dialer;
        d->last_sys = UV_ETIMEDOUT;
        s->silent = 1;
        d->sess = NULL;
        sess_end(s);
        dialer_connect_next(d);
        return;
    }
    if (s->state == SS_TLS) {
        char msg[160];
        ew_io_fmt(msg, sizeof msg, "TLS: no handshake within %u ms", (unsigned)n->tls_timeout_ms);
        n->st.tls_failed++;
        sess_fail(s, EW_ERR_TIMEOUT, msg);
        return;
    }
    /*
     * libuv runs timers before it polls for I/O: after the loop was held up
     * (a burst of work, a descheduled thread), frames that arrived in time
     * may still wait in the socket.  The EP timeout runs after this turn's
     * reads instead (check phase), so a late loop never looks like a silent
     * peer (ep.md §5.5: 200 ms rule).
     */
    s->armed = UINT64_MAX;
    if (!s->due) {
        s->due = 1;
        s->due_next = n->due_head;
        n->due_head = s;
        uv_idle_start(&n->idle, idle_cb); /* poll without blocking this turn */
    }
}

static void check_cb(uv_check_t *h) {
    ew_ep_node *n = h->data;
    ew_ep_node_session *list = n->due_head;
    n->due_head = NULL;
    uv_idle_stop(&n->idle);
    while (list) {
        ew_ep_node_session *s = list;
        list = s->due_next;
        s->due = 0;
        s->due_next = NULL;
        if (s->ending || s->state != SS_EP || s->paused)
            continue;
        if (s->pump_pending) {
            s->pump_pending = 0;
            pump_plain(s);
            if (s->ending)
                continue;
        }
        ew_ep_conn_on_timeout(s->conn, now_ms(n));
        sess_run(s);
        if (!s->ending && s->armed == UINT64_MAX)
            sess_arm(s);
    }
}

/* Adds the node's parameter sets to a new EP session. */
static void apply_node_params(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    for (int i = 0; i < N_PARAMS; i++) {
        if (!n->param[i])
            continue;
        ew_ep_msg m;
        ew_diag dg = {0, 0, NULL};
        if (ew_ep_msg_decode(param_types[i], n->param[i], n->param_len[i], 0, &m, &dg) == EW_OK)
            (void)ew_ep_conn_set_params(s->conn, &m);
    }
}

/* TLS is up: the EP session starts (ep.md §5.3: own SessionParameters at
 * once), with the peer identity expected from the certificate (§5.4). */
static void sess_tls_up(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    s->tls_up = 1;
    s->state = SS_EP;
    n->st.tls_ok++;
    ew_ep_conn_opts o = n->conn;
    o.now_ms = now_ms(n);
    o.role = s->outbound ? EW_EP_ROLE_INITIATOR : EW_EP_ROLE_ACCEPTOR;
    o.log = conn_log;
    o.log_user = s;
    o.mismatch_continue = 0;
    o.expect_identity = o.expect_tenant = o.expect_provider = NULL;
    char cn[FIELD_MAX], uri[FIELD_MAX], dns[FIELD_MAX], org[FIELD_MAX], ou[FIELD_MAX];
    sess_ids ids;
    memset(&ids, 0, sizeof ids);
    if (n->check_identity) {
        const char *names[3] = {cn, uri, dns};
        ew_tls_field fs[3] = {EW_TLS_FIELD_CN, EW_TLS_FIELD_SAN_URI, EW_TLS_FIELD_SAN_DNS};
        for (int i = 0; i < 3; i++) {
            if (ew_tls_peer_field(s->tls, fs[i], (char *)names[i], FIELD_MAX) <= 0)
                continue;
            int dup = 0;
            for (int j = 0; j < ids.n; j++)
                dup |= strcmp(ids.cand[j], names[i]) == 0;
            if (!dup)
                memcpy(ids.cand[ids.n++], names[i], strlen(names[i]) + 1);
        }
        if (ids.n == 1) {
            o.expect_identity = ids.cand[0];
        } else if (ids.n > 1) {
            /* Several names: the node compares at the handshake. */
            s->ids = malloc(sizeof *s->ids);
            if (s->ids)
                *s->ids = ids;
        }
        if (ew_tls_peer_field(s->tls, EW_TLS_FIELD_O, org, sizeof org) > 0)
            o.expect_tenant = org;
        if (ew_tls_peer_field(s->tls, EW_TLS_FIELD_OU, ou, sizeof ou) > 0)
            o.expect_provider = ou;
    }
    int rc = ew_ep_conn_new(&s->conn, &o, NULL);
    if (rc < 0) {
        s->conn = NULL;
        sess_fail(s, rc, "cannot create the EP session");
        return;
    }
    apply_node_params(s);
    ew_io_logf(n->log, n->log_user, 3, "ep session %s: TLS 1.3 up", s->peer);
    ew_ep_node_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EW_EP_NODE_TLS_UP;
    ev.session = s;
    ev.dialer = s->dialer;
    emit(n, &ev);
    sess_run(s);
}

/* Feeds decrypted bytes to the EP session, taking events whenever it stops
 * short (an event with views waits: ew_ep_conn_recv contract). */
static void feed_plain(ew_ep_node_session *s, const uint8_t *p, size_t len) {
    size_t off = 0;
    int stalls = 0;
    while (off < len && !s->ending) {
        int k = ew_ep_conn_recv(s->conn, p + off, len - off, now_ms(s->node));
        if (k < 0) {
            sess_fail(s, k, "the EP session failed");
            return;
        }
        off += (size_t)k;
        sess_run(s);
        if (k > 0)
            stalls = 0;
        else if (++stalls > 1)
            break; /* closed: the rest is dropped */
    }
}

/* Decrypted bytes to the EP session until TLS has none left. */
static void pump_plain(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    if (n->feeding) {
        /* n->pbuf is in use further up the stack (an event callback of
         * another session): go on from the timer. */
        s->pump_pending = 1;
        s->armed = 0;
        uv_timer_start(&s->timer, sess_timer_cb, 0, 0);
        return;
    }
    n->feeding = 1;
    while (s->conn && !s->ending && !s->paused) {
        int k = ew_tls_read_plain(s->tls, n->pbuf, sizeof n->pbuf);
        if (k == EW_ERR_NEED_MORE)
            break;
        if (k == EW_ERR_CLOSED) { /* close_notify */
            ew_ep_conn_recv_eof(s->conn, now_ms(n));
            break;
        }
        if (k < 0)
            break; /* sticky TLS error: sess_run ends the session */
        feed_plain(s, n->pbuf, (size_t)k);
    }
    n->feeding = 0;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    ew_ep_node_session *s = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)s->node->rbuf, sizeof s->node->rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    ew_ep_node_session *s = st->data;
    ew_ep_node *n = s->node;
    if (s->ending || nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(st);
        s->reading = 0;
        if (nread != UV_EOF)
            s->sys_err = (int)nread;
        if (s->conn) {
            ew_ep_conn_recv_eof(s->conn, now_ms(n));
            sess_run(s);
        } else {
            char msg[200];
            ew_io_fmt(msg, sizeof msg,
                      "TLS: the peer closed the connection during the handshake%s%s",
                      s->sys_err ? ": " : "", s->sys_err ? uv_strerror(s->sys_err) : "");
            n->st.tls_failed++;
            sess_fail(s, EW_TLS_ERR_HANDSHAKE, msg);
        }
        return;
    }
    n->st.bytes_rx += (uint64_t)nread;
    int rc = ew_tls_feed_cipher(s->tls, (const uint8_t *)buf->base, (size_t)nread);
    if (rc < 0) {
        if (ew_tls_error(s->tls) != EW_OK)
            sess_fail_tls(s);
        else
            sess_fail(s, rc, "TLS: receive buffer full");
        return;
    }
    if (!s->conn) {
        if (ew_tls_get_state(s->tls) != EW_TLS_OPEN) {
            sess_flush(s); /* handshake messages */
            return;
        }
        sess_flush(s); /* the client's Finished before our SessionParameters */
        sess_tls_up(s);
        if (s->ending || !s->conn)
            return;
    }
    pump_plain(s);
    sess_run(s);
}

/* Common set-up of a connected TCP stream: options, name, TLS, reading. */
static int sess_start_tls(ew_ep_node_session *s) {
    ew_ep_node *n = s->node;
    uv_tcp_nodelay(&s->tcp, 1);       /* ep.md §5.1: small messages at 5-100 Hz */
    uv_tcp_keepalive(&s->tcp, 1, 30); /* ep.md §5.1: TCP keep-alive */
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0)
        ew_io_sockaddr_name((struct sockaddr *)&ss, s->peer, sizeof s->peer);
    int rc = ew_tls_new(&s->tls, s->outbound ? n->cli_ctx : n->srv_ctx);
    if (rc < 0)
        return rc;
    s->state = SS_TLS;
    s->deadline = now_ms(n) + n->tls_timeout_ms;
    rc = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        s->sys_err = rc;
        return EW_IO_ERR_SOCKET;
    }
    s->reading = 1;
    return EW_OK;
}

/* ---- accepting ----------------------------------------------------------------- */

static void on_connection(uv_stream_t *srv, int status) {
    listener *l = srv->data;
    ew_ep_node *n = l->node;
    if (status < 0) {
        ew_io_logf(n->log, n->log_user, 1, "ep listener: accept failed: %s", uv_strerror(status));
        return;
    }
    ew_ep_node_session *s = sess_new(n, NULL);
    if (!s) {
        ew_io_logf(n->log, n->log_user, 0, "ep listener: out of memory");
        return;
    }
    if (uv_accept(srv, (uv_stream_t *)&s->tcp) < 0) {
        s->silent = 1;
        sess_end(s);
        return;
    }
    n->st.accepted++;
    if (n->n_sessions > n->max_sessions || n->shut_down) {
        ew_io_logf(n->log, n->log_user, 1,
                   "ep listener: %u sessions already (max_sessions): connection refused",
                   n->n_sessions - 1);
        s->silent = 1;
        sess_end(s);
        return;
    }
    int rc = sess_start_tls(s);
    if (rc < 0) {
        sess_fail(s, rc, "cannot start TLS on an accepted connection");
        return;
    }
    ew_io_logf(n->log, n->log_user, 3, "ep: connection from %s", s->peer);
    sess_arm(s);
}

/* ---- dialing --------------------------------------------------------------------- */

static void dialer_unreachable(ew_ep_dialer *d) {
    char detail[EW_IO_DETAIL_LEN];
    int err = EW_IO_ERR_UNREACHABLE;
    if (d->last_sys == UV_ETIMEDOUT) {
        err = EW_ERR_TIMEOUT;
        ew_io_fmt(detail, sizeof detail, "TCP: no connection to %s within %u ms", d->hostport,
                  (unsigned)d->node->connect_timeout_ms);
    } else {
        ew_io_fmt(detail, sizeof detail, "TCP: cannot connect to %s: %s", d->hostport,
                  d->last_sys ? uv_strerror(d->last_sys) : "no usable address");
    }
    dialer_failed(d, err, detail);
}

static void connect_cb(uv_connect_t *req, int status) {
    ew_ep_node_session *s = req->data;
    if (s->ending)
        return;
    ew_ep_dialer *d = s->dialer;
    if (status < 0) {
        d->last_sys = status;
        s->silent = 1;
        d->sess = NULL;
        sess_end(s);
        dialer_connect_next(d);
        return;
    }
    s->node->st.dialed++;
    int rc = sess_start_tls(s);
    if (rc < 0) {
        sess_fail(s, rc, "cannot start TLS on the connection");
        return;
    }
    ew_io_logf(s->node->log, s->node->log_user, 3, "ep: connected to %s", d->hostport);
    sess_flush(s); /* ClientHello */
    sess_arm(s);
}

static int next_addr(ew_ep_dialer *d, struct sockaddr_storage *out) {
    if (d->have_numeric) {
        if (d->numeric_used)
            return 0;
        d->numeric_used = 1;
        *out = d->numeric;
        return 1;
    }
    while (d->ai_next) {
        struct addrinfo *ai = d->ai_next;
        d->ai_next = ai->ai_next;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memset(out, 0, sizeof *out);
        memcpy(out, ai->ai_addr, ai->ai_addrlen);
        return 1;
    }
    return 0;
}

static void dialer_connect_next(ew_ep_dialer *d) {
    ew_ep_node *n = d->node;
    struct sockaddr_storage addr;
    if (!d->running || n->deleting)
        return;
    while (next_addr(d, &addr)) {
        ew_ep_node_session *s = sess_new(n, d);
        if (!s) {
            d->last_sys = UV_ENOMEM;
            break;
        }
        ew_io_hostport(s->peer, sizeof s->peer, d->host, d->port);
        d->sess = s;
        s->state = SS_CONNECTING;
        int rc = uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&addr, connect_cb);
        if (rc < 0) {
            d->last_sys = rc;
            s->silent = 1;
            d->sess = NULL;
            sess_end(s);
            continue;
        }
        s->deadline = now_ms(n) + n->connect_timeout_ms;
        sess_arm(s);
        return;
    }
    dialer_unreachable(d);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    gai_req *g = (gai_req *)(void *)req;
    ew_ep_dialer *d = g->d;
    ew_ep_node *n = d->node;
    int abandoned = g->abandoned;
    free(g);
    n->gai_outstanding--;
    if (abandoned || n->deleting) {
        if (res)
            uv_freeaddrinfo(res);
        node_maybe_free(n);
        return;
    }
    d->gai = NULL;
    if (status < 0) {
        char detail[EW_IO_DETAIL_LEN];
        ew_io_fmt(detail, sizeof detail, "cannot resolve \"%s\": %s", d->host, uv_strerror(status));
        dialer_failed(d, EW_IO_ERR_UNREACHABLE, detail);
        return;
    }
    if (d->ai)
        uv_freeaddrinfo(d->ai);
    d->ai = d->ai_next = res;
    dialer_connect_next(d);
}

static void dialer_attempt(ew_ep_dialer *d) {
    ew_ep_node *n = d->node;
    d->last_sys = 0;
    if (d->have_numeric) {
        d->numeric_used = 0;
        dialer_connect_next(d);
        return;
    }
    gai_req *g = calloc(1, sizeof *g);
    if (!g) {
        dialer_failed(d, EW_ERR_NOMEM, "out of memory");
        return;
    }
    g->d = d;
    char port[8];
    ew_io_fmt(port, sizeof port, "%u", (unsigned)d->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(n->loop, &g->req, gai_cb, d->host, port, &hints);
    if (rc < 0) {
        free(g);
        char detail[EW_IO_DETAIL_LEN];
        ew_io_fmt(detail, sizeof detail, "cannot resolve \"%s\": %s", d->host, uv_strerror(rc));
        dialer_failed(d, EW_IO_ERR_UNREACHABLE, detail);
        return;
    }
    d->gai = g;
    n->gai_outstanding++;
}

static void dialer_timer_closed(uv_handle_t *h) {
    ew_ep_dialer *d = h->data;
    ew_ep_node *n = d->node;
    n->handles_open--;
    node_maybe_free(n);
}

static void node_handle_closed(uv_handle_t *h) {
    ew_ep_node *n = h->data;
    n->handles_open--;
    node_maybe_free(n);
}

static void listener_closed(uv_handle_t *h) {
    listener *l = h->data;
    ew_ep_node *n = l->node;
    n->handles_open--;
    node_maybe_free(n);
}

/* ---- public API: node ------------------------------------------------------------ */

void ew_ep_node_opts_init(ew_ep_node_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    ew_tls_opts_init(&o->tls);
    ew_ep_conn_opts_init(&o->conn);
    o->check_identity = 1;
    o->close_duplicates = 1;
    o->connect_timeout_ms = 5000;
    o->tls_timeout_ms = 5000;
    o->backoff_min_ms = 500;
    o->backoff_max_ms = 30000;
    o->max_sessions = 4096;
}

static void set_detail(char *detail, size_t cap, const char *msg) {
    if (detail && cap)
        ew_io_fmt(detail, cap, "%s", msg);
}

int ew_ep_node_new(ew_ep_node **out, void *uv_loop, const ew_ep_node_opts *o, char *detail,
                   size_t detail_cap) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    set_detail(detail, detail_cap, "");
    if (!uv_loop || !o) {
        set_detail(detail, detail_cap, "no loop or no options");
        return EW_ERR_INVAL;
    }
    if (!o->conn.identity || !o->conn.identity[0]) {
        set_detail(detail, detail_cap, "no own EP identity (conn.identity)");
        return EW_ERR_INVAL;
    }
    uint32_t bmin = o->backoff_min_ms ? o->backoff_min_ms : 500;
    uint32_t bmax = o->backoff_max_ms ? o->backoff_max_ms : 30000;
    if (bmin > bmax) {
        set_detail(detail, detail_cap, "backoff_min_ms is larger than backoff_max_ms");
        return EW_ERR_INVAL;
    }
    /* Check the session template now rather than at every connection. */
    ew_ep_conn_opts probe_o = o->conn;
    probe_o.expect_identity = probe_o.expect_tenant = probe_o.expect_provider = NULL;
    probe_o.log = NULL;
    ew_ep_conn *probe;
    int rc = ew_ep_conn_new(&probe, &probe_o, NULL);
    if (rc < 0) {
        set_detail(detail, detail_cap, "invalid EP session options (conn)");
        return rc == EW_ERR_NOMEM ? rc : EW_ERR_INVAL;
    }
    ew_ep_conn_del(probe);

    ew_ep_node *n = calloc(1, sizeof *n);
    if (!n)
        return EW_ERR_NOMEM;
    ew_tls_opts t = o->tls;
    t.role = EW_TLS_SERVER;
    rc = ew_tls_ctx_new(&n->srv_ctx, &t, detail, detail_cap);
    if (rc == EW_OK) {
        t.role = EW_TLS_CLIENT;
        rc = ew_tls_ctx_new(&n->cli_ctx, &t, detail, detail_cap);
    }
    if (rc < 0) {
        ew_tls_ctx_del(n->srv_ctx);
        free(n);
        return rc;
    }
    n->loop = uv_loop;
    n->conn = o->conn;
    const char **src[7] = {&n->conn.identity,  &n->conn.device_type, &n->conn.version,
                           &n->conn.name,      &n->conn.tenant,      &n->conn.provider,
                           &n->conn.session_id};
    int ok = 1;
    for (int i = 0; i < 7; i++) {
        n->strs[i] = ew_io_strdup(*src[i], &ok);
        *src[i] = n->strs[i];
    }
    n->conn.expect_identity = n->conn.expect_tenant = n->conn.expect_provider = NULL;
    /* The effective timers, for detail sentences. */
    ew_ep_conn_opts defaults;
    ew_ep_conn_opts_init(&defaults);
    if (!n->conn.handshake_timeout_ms)
        n->conn.handshake_timeout_ms = defaults.handshake_timeout_ms;
    if (!n->conn.transfer_timeout_ms)
        n->conn.transfer_timeout_ms = defaults.transfer_timeout_ms;
    n->check_identity = o->check_identity;
    n->close_duplicates = o->close_duplicates;
    n->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    n->tls_timeout_ms = o->tls_timeout_ms ? o->tls_timeout_ms : 5000;
    n->backoff_min_ms = bmin;
    n->backoff_max_ms = bmax;
    n->max_sessions = o->max_sessions ? o->max_sessions : 4096;
    n->on_event = o->on_event;
    n->user = o->user;
    n->log = o->log;
    n->log_user = o->log_user;
    n->rng = o->seed ? o->seed : ew_io_clock_seed(n);
    ew_io_fmt(n->detail, sizeof n->detail, "no error");
    if (!ok) {
        n->deleting = 1;
        node_maybe_free(n);
        return EW_ERR_NOMEM;
    }
    uv_check_init(n->loop, &n->check);
    uv_idle_init(n->loop, &n->idle);
    n->check.data = n->idle.data = n;
    uv_check_start(&n->check, check_cb);
    uv_unref((uv_handle_t *)&n->check); /* keeps no loop alive on its own */
    n->handles_open += 2;
    *out = n;
    return EW_OK;
}

int ew_ep_node_listen(ew_ep_node *n, const char *host, uint16_t port) {
    if (!n || n->deleting)
        return EW_ERR_INVAL;
    if (!host)
        host = "0.0.0.0";
    char h[EW_IO_HOST_MAX + 1];
    size_t hl = strlen(host);
    if (hl > EW_IO_HOST_MAX)
        return EW_ERR_INVAL;
    memcpy(h, host, hl + 1);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = 0;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(h, port, (struct sockaddr_in6 *)&ss) != 0) {
        ew_io_fmt(n->detail, sizeof n->detail, "cannot listen on \"%s\": not an IP address", h);
        return EW_IO_ERR_SOCKET;
    }
    char name[EW_IO_HOSTPORT_LEN];
    ew_io_hostport(name, sizeof name, h, port);
    uint16_t bound_port = port;
    listener *l = calloc(1, sizeof *l);
    if (!l)
        return EW_ERR_NOMEM;
    l->node = n;
    uv_tcp_init(n->loop, &l->tcp);
    l->tcp.data = l;
    l->next = n->listeners;
    n->listeners = l;
    n->handles_open++;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection);
    if (rc < 0) {
        ew_io_fmt(n->detail, sizeof n->detail, "cannot listen on %s: %s", name, uv_strerror(rc));
        l->closed = 1;
        uv_close((uv_handle_t *)&l->tcp, listener_closed);
        return EW_IO_ERR_SOCKET;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen) == 0)
        bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                       : ((struct sockaddr_in *)&bound)->sin_port);
    n->port = bound_port;
    ew_io_hostport(name, sizeof name, h, bound_port);
    ew_io_logf(n->log, n->log_user, 2, "ep: listening on %s", name);
    return EW_OK;
}

uint16_t ew_ep_node_port(const ew_ep_node *n) {
    return n ? n->port : 0;
}

int ew_ep_node_dial(ew_ep_node *n, const char *host, uint16_t port, ew_ep_dialer **pd) {
    if (pd)
        *pd = NULL;
    if (!n || n->deleting || !host || !host[0] || strlen(host) > EW_IO_HOST_MAX)
        return EW_ERR_INVAL;
    ew_ep_dialer *d = calloc(1, sizeof *d);
    if (!d)
        return EW_ERR_NOMEM;
    int ok = 1;
    d->host = ew_io_strdup(host, &ok);
    if (!ok) {
        free(d);
        return EW_ERR_NOMEM;
    }
    size_t hl = strlen(d->host);
    if (hl >= 2 && d->host[0] == '[' && d->host[hl - 1] == ']') {
        memmove(d->host, d->host + 1, hl - 2);
        d->host[hl - 2] = 0;
    }
    d->node = n;
    d->port = port ? port : EW_EP_PORT;
    ew_io_hostport(d->hostport, sizeof d->hostport, d->host, d->port);
    /* Numeric addresses skip the resolver (and its thread pool). */
    if (uv_ip4_addr(d->host, d->port, (struct sockaddr_in *)&d->numeric) == 0 ||
        uv_ip6_addr(d->host, d->port, (struct sockaddr_in6 *)&d->numeric) == 0)
        d->have_numeric = 1;
    uv_timer_init(n->loop, &d->retry);
    d->retry.data = d;
    n->handles_open++;
    d->next = n->dialers;
    n->dialers = d;
    d->running = 1;
    if (n->shut_down)
        d->running = 0;
    else
        dialer_attempt(d);
    if (pd)
        *pd = d;
    return EW_OK;
}

void ew_ep_dialer_stop(ew_ep_dialer *d) {
    if (!d)
        return;
    d->running = 0;
    uv_timer_stop(&d->retry);
    if (d->gai) {
        d->gai->abandoned = 1;
        uv_cancel((uv_req_t *)&d->gai->req);
        d->gai = NULL;
    }
    /* A connection still being set up (TCP or TLS) is abandoned; an EP
     * session stays (io_ep.h). */
    ew_ep_node_session *s = d->sess;
    if (s && s->state != SS_EP) {
        s->silent = 1;
        d->sess = NULL;
        sess_end(s);
    }
}

int ew_ep_dialer_running(const ew_ep_dialer *d) {
    return d && d->running;
}

ew_ep_node_session *ew_ep_dialer_session(const ew_ep_dialer *d) {
    return d && d->sess && !d->sess->ending ? d->sess : NULL;
}

static int param_index(uint32_t type) {
    for (int i = 0; i < N_PARAMS; i++)
        if (param_types[i] == type)
            return i;
    return -1;
}

/* Sets |m| (or, when NULL, clears |type|) on every running session and
 * sends at once.  Returns EW_OK or the first session's error. */
static int params_to_sessions(ew_ep_node *n, const ew_ep_msg *m, uint32_t type) {
    int first = EW_OK;
    for (ew_ep_node_session *s = n->sessions; s; s = s->next) {
        if (s->ending || !s->conn)
            continue;
        int rc = m ? ew_ep_conn_set_params(s->conn, m) : ew_ep_conn_clear_params(s->conn, type);
        if (rc < 0 && first == EW_OK)
            first = rc;
        sess_run(s);
    }
    return first;
}

int ew_ep_node_set_params(ew_ep_node *n, const ew_ep_msg *m) {
    if (!n || !m)
        return EW_ERR_INVAL;
    int i = param_index(m->type);
    if (i < 0)
        return EW_ERR_INVAL;
    size_t cap = 1024, len = 0;
    uint8_t *buf = NULL;
    for (;;) {
        uint8_t *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            return EW_ERR_NOMEM;
        }
        buf = nb;
        int rc = ew_ep_msg_encode(m, buf, cap, &len);
        if (rc == EW_OK)
            break;
        if (rc != EW_ERR_NOBUF || len <= cap || len > (1u << 20)) {
            free(buf);
            return rc == EW_ERR_NOBUF ? EW_ERR_TOO_BIG : rc;
        }
        cap = len;
    }
    free(n->param[i]);
    n->param[i] = buf;
    n->param_len[i] = len;
    return params_to_sessions(n, m, 0);
}

int ew_ep_node_clear_params(ew_ep_node *n, uint32_t type) {
    if (!n)
        return EW_ERR_INVAL;
    int i = param_index(type);
    if (i < 0)
        return EW_ERR_INVAL;
    free(n->param[i]);
    n->param[i] = NULL;
    n->param_len[i] = 0;
    return params_to_sessions(n, NULL, type);
}

static void close_listeners(ew_ep_node *n) {
    for (listener *l = n->listeners; l; l = l->next) {
        if (!l->closed) {
            l->closed = 1;
            uv_close((uv_handle_t *)&l->tcp, listener_closed);
        }
    }
}

void ew_ep_node_shutdown(ew_ep_node *n, int reconnect, const char *reason) {
    if (!n || n->deleting)
        return;
    n->shut_down = 1;
    for (ew_ep_dialer *d = n->dialers; d; d = d->next)
        ew_ep_dialer_stop(d);
    close_listeners(n);
    /* Sessions may leave the list only from close callbacks, so walking it
     * while ending them is safe. */
    for (ew_ep_node_session *s = n->sessions; s; s = s->next) {
        if (s->ending)
            continue;
        if (s->conn && !ew_ep_conn_want_close(s->conn)) {
            if (!s->detail[0])
                ew_io_fmt(s->detail, sizeof s->detail, "node shutdown: %s",
                          reason ? reason : "SoftDisconnect sent");
            (void)ew_ep_conn_soft_disconnect(s->conn, reconnect ? 1 : 0, reason);
            sess_run(s);
        } else {
            sess_fail(s, EW_ERR_CLOSED, "node shutdown before the EP session started");
        }
    }
}

void ew_ep_node_del(ew_ep_node *n) {
    if (!n || n->deleting)
        return;
    n->deleting = 1;
    for (ew_ep_dialer *d = n->dialers; d; d = d->next) {
        ew_ep_dialer_stop(d);
        uv_close((uv_handle_t *)&d->retry, dialer_timer_closed);
    }
    close_listeners(n);
    n->due_head = NULL;
    uv_close((uv_handle_t *)&n->check, node_handle_closed);
    uv_close((uv_handle_t *)&n->idle, node_handle_closed);
    for (ew_ep_node_session *s = n->sessions; s; s = s->next) {
        if (!s->ending) {
            s->silent = 1;
            if (s->conn)
                ew_ep_conn_close(s->conn);
            sess_end(s);
        }
        /* No waiting for the peer: the loop only has to run the close
         * callbacks. */
        if (s->shut_started && !s->tcp_closing)
            sess_close_handles(s, 0);
    }
    node_maybe_free(n);
}

const char *ew_ep_node_error_detail(const ew_ep_node *n) {
    return n ? n->detail : "no node";
}

void ew_ep_node_get_stats(const ew_ep_node *n, ew_ep_node_stats *st) {
    if (!n || !st)
        return;
    *st = n->st;
    st->sessions_open = n->n_sessions;
    st->msgs_rx = n->closed_rx;
    st->msgs_tx = n->closed_tx;
    for (const ew_ep_node_session *s = n->sessions; s; s = s->next) {
        if (!s->conn)
            continue;
        ew_ep_conn_stats cs;
        ew_ep_conn_get_stats(s->conn, &cs);
        st->msgs_rx += cs.frames_rx;
        st->msgs_tx += cs.frames_tx;
    }
}

/* ---- public API: sessions ----------------------------------------------------------- */

ew_ep_conn *ew_ep_session_conn(const ew_ep_node_session *s) {
    return s ? s->conn : NULL;
}

void ew_ep_session_update(ew_ep_node_session *s) {
    if (s && !s->ending && s->conn)
        sess_run(s);
}

const ew_tls *ew_ep_session_tls(const ew_ep_node_session *s) {
    return s ? s->tls : NULL;
}

const char *ew_ep_session_peer_name(const ew_ep_node_session *s) {
    return s ? s->peer : "";
}

int ew_ep_session_outbound(const ew_ep_node_session *s) {
    return s && s->outbound;
}

int ew_ep_session_soft_disconnect(ew_ep_node_session *s, int reconnect, const char *reason) {
    if (!s)
        return EW_ERR_INVAL;
    if (s->ending || !s->conn)
        return EW_ERR_STATE;
    if (!reconnect)
        s->stop_dialer = 1;
    char why[160];
    ew_io_fmt(why, sizeof why, "%s", reason ? reason : "");
    if (!s->detail[0])
        ew_io_fmt(s->detail, sizeof s->detail, "SoftDisconnect sent (reconnect=%s, reason \"%s\")",
                  reconnect ? "true" : "false", why);
    int rc = ew_ep_conn_soft_disconnect(s->conn, reconnect ? 1 : 0, reason);
    sess_run(s);
    return rc;
}

void ew_ep_session_close(ew_ep_node_session *s) {
    if (!s || s->ending)
        return;
    if (!s->detail[0])
        ew_io_fmt(s->detail, sizeof s->detail, "closed by this node (reset)");
    s->close_reason = s->conn ? EW_EP_CLOSE_LOCAL : 0;
    s->close_err = EW_OK;
    if (s->conn)
        ew_ep_conn_close(s->conn);
    /* A reset: nothing more is sent. */
    s->paused = 1;
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
    }
    if (!s->tcp_closing && s->state != SS_CONNECTING) {
        s->tcp_closing = 1;
        if (uv_tcp_close_reset(&s->tcp, sess_handle_closed) != 0)
            uv_close((uv_handle_t *)&s->tcp, sess_handle_closed);
    }
    s->reset = 1;
    if (s->busy) {
        s->again = 1;
        return;
    }
    if (s->conn)
        drain_events(s);
    sess_end(s);
}

void ew_ep_session_pause(ew_ep_node_session *s, int paused) {
    if (!s || s->ending)
        return;
    paused = paused ? 1 : 0;
    if (s->paused == paused)
        return;
    s->paused = paused;
    if (paused) {
        if (s->reading) {
            uv_read_stop((uv_stream_t *)&s->tcp);
            s->reading = 0;
        }
        uv_timer_stop(&s->timer);
        s->armed = UINT64_MAX;
        return;
    }
    if (s->state != SS_CONNECTING && !s->reading &&
        uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) == 0)
        s->reading = 1;
    pump_plain(s);
    sess_run(s);
}

void ew_ep_session_set_data(ew_ep_node_session *s, void *data) {
    if (s)
        s->data = data;
}

void *ew_ep_session_data(const ew_ep_node_session *s) {
    return s ? s->data : NULL;
}
