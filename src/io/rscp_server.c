/*
 * RSCP server on libuv: the device side, for simulators and tests.  Every
 * accepted connection ("peer") gets its own session in server role; the
 * application answers logins and requests through callbacks.
 *
 * Output: pye3dc reads an answer with a single recv() and cannot reassemble
 * one that arrives in pieces, so without faults everything the session has
 * produced goes out in one write (rscp.md §5.5, §11 item 2).  The session
 * always hands out whole encrypted frames.
 *
 * Fault injection needs frame boundaries in that ciphertext.  The server
 * knows the key, so it decrypts the first block of each frame (one block per
 * frame, with the previous ciphertext block as IV, §5.3) and reads the length
 * field; this also numbers the frames for "drop after N" and "corrupt N".
 */
#include "io/io_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ofr {
    struct ofr *next;
    size_t len, off;
    uint64_t due;
    unsigned split;
    uint32_t pause;
    int drop_after;
    uint8_t data[];
} ofr;

typedef struct swreq {
    uv_write_t req;
    ew_rscp_peer *p;
    uint8_t data[];
} swreq;

struct ew_rscp_peer {
    ew_rscp_server *srv;
    ew_rscp_peer *prev, *next;
    uv_tcp_t tcp;
    uv_timer_t sess_timer;
    uv_timer_t out_timer;
    int handles_open;
    ew_rscp_conn *conn;
    uint64_t epoch; /* loop time at which the session was created */
    char name[80];
    void *data;
    int announced;
    int closing, busy, again;
    int reading;
    int drop_done;    /* the fault's last frame is queued: discard the rest */
    int drop_pending; /* ... and close once it is written */
    unsigned writes_pending;
    unsigned frames;
    uint8_t chain[EW_RSCP_BLOCK]; /* last ciphertext block the session produced */
    ofr *oq_head, *oq_tail;
    int close_err;
    char close_detail[200];
    size_t in_off, in_len; /* received bytes the session has not taken yet */
    uint8_t rbuf[16384];
};

struct ew_rscp_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listening;
    int listener_open;
    int deleting;
    char *host;
    uint16_t port, bound_port;
    char *key;
    ew_rscp_conn_opts conn_opts;
    ew_rscp_cipher cipher;
    unsigned max_clients;
    ew_rscp_faults faults;
    int (*on_login)(void *user, ew_rscp_peer *p, ew_bytes user_name, ew_bytes password);
    void (*on_request)(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                       size_t len, int level);
    void (*on_peer)(void *user, ew_rscp_peer *p, int connected, int err, const char *detail);
    void (*log)(void *user, int level, const char *msg);
    void *user;
    ew_rscp_peer *peers;
    size_t npeers;
    int limit_logged;
    char detail[EW_IO_DETAIL_LEN];
};

static void peer_run(ew_rscp_peer *p);
static void peer_close(ew_rscp_peer *p, int err, const char *detail);
static int start_reading(ew_rscp_peer *p);

/* ---- server life cycle ------------------------------------------------------ */

static void server_maybe_free(ew_rscp_server *s) {
    if (!s->deleting || s->listener_open || s->npeers)
        return;
    free(s->host);
    ew_io_free_secret(s->key);
    memset(&s->cipher, 0, sizeof s->cipher);
    free(s);
}

static void listener_closed(uv_handle_t *h) {
    ew_rscp_server *s = h->data;
    s->listener_open = 0;
    server_maybe_free(s);
}

/* ---- peers: freeing ----------------------------------------------------------- */

static void peer_free(ew_rscp_peer *p) {
    ew_rscp_server *s = p->srv;
    if (!s->deleting && p->announced && s->on_peer)
        s->on_peer(s->user, p, 0, p->close_err, p->close_detail);
    while (p->oq_head) {
        ofr *f = p->oq_head;
        p->oq_head = f->next;
        free(f);
    }
    ew_rscp_conn_del(p->conn);
    if (p->prev)
        p->prev->next = p->next;
    else
        s->peers = p->next;
    if (p->next)
        p->next->prev = p->prev;
    s->npeers--;
    memset(p->rbuf, 0, sizeof p->rbuf);
    free(p);
    if (s->limit_logged && s->npeers < s->max_clients && !s->deleting) {
        s->limit_logged = 0;
        ew_io_logf(s->log, s->user, 2, "rscp server: accepting connections again");
    }
    server_maybe_free(s);
}

static void peer_handle_closed(uv_handle_t *h) {
    ew_rscp_peer *p = h->data;
    if (--p->handles_open == 0)
        peer_free(p);
}

static void peer_close(ew_rscp_peer *p, int err, const char *detail) {
    if (p->closing)
        return;
    p->closing = 1;
    p->close_err = err;
    ew_io_fmt(p->close_detail, sizeof p->close_detail, "%s", detail);
    ew_io_logf(p->srv->log, p->srv->user, 3, "rscp server: %s closed: %s", p->name, detail);
    uv_close((uv_handle_t *)&p->tcp, peer_handle_closed);
    uv_close((uv_handle_t *)&p->sess_timer, peer_handle_closed);
    uv_close((uv_handle_t *)&p->out_timer, peer_handle_closed);
}

/* ---- output --------------------------------------------------------------------- */

static uint64_t peer_now(const ew_rscp_peer *p) {
    return uv_now(p->srv->loop) - p->epoch;
}

static void swrite_cb(uv_write_t *req, int status) {
    swreq *w = (swreq *)(void *)req;
    ew_rscp_peer *p = w->p;
    free(w);
    p->writes_pending--;
    if (p->closing)
        return;
    if (status < 0) {
        char msg[120];
        ew_io_fmt(msg, sizeof msg, "write failed: %s", uv_strerror(status));
        peer_close(p, EW_ERR_CLOSED, msg);
        return;
    }
    if (p->drop_pending && p->writes_pending == 0 && !p->oq_head) {
        char msg[120];
        ew_io_fmt(msg, sizeof msg, "dropped after %u frames (fault injection)", p->frames);
        peer_close(p, EW_OK, msg);
    }
}

static int peer_write(ew_rscp_peer *p, const uint8_t *data, size_t n) {
    swreq *w = malloc(sizeof *w + n);
    if (!w) {
        peer_close(p, EW_ERR_NOMEM, "out of memory");
        return EW_ERR_NOMEM;
    }
    memcpy(w->data, data, n);
    w->p = p;
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, swrite_cb);
    if (rc < 0) {
        free(w);
        char msg[120];
        ew_io_fmt(msg, sizeof msg, "write failed: %s", uv_strerror(rc));
        peer_close(p, EW_ERR_CLOSED, msg);
        return rc;
    }
    p->writes_pending++;
    return EW_OK;
}

static void out_timer_cb(uv_timer_t *t);

/* Writes the queued frames that are due, piece by piece when splitting. */
static void pump_out(ew_rscp_peer *p) {
    while (p->oq_head && !p->closing) {
        ofr *f = p->oq_head;
        uint64_t now = uv_now(p->srv->loop);
        if (f->due > now) {
            uv_timer_start(&p->out_timer, out_timer_cb, f->due - now, 0);
            return;
        }
        size_t k = f->len - f->off;
        if (f->split && f->split < k)
            k = f->split;
        if (peer_write(p, f->data + f->off, k) < 0)
            return;
        f->off += k;
        if (f->off < f->len) {
            if (f->pause) {
                f->due = now + f->pause;
                uv_timer_start(&p->out_timer, out_timer_cb, f->pause, 0);
                return;
            }
            continue;
        }
        p->oq_head = f->next;
        if (!p->oq_head)
            p->oq_tail = NULL;
        if (f->drop_after)
            p->drop_pending = 1;
        free(f);
    }
}

static void out_timer_cb(uv_timer_t *t) {
    ew_rscp_peer *p = t->data;
    pump_out(p);
}

/*
 * Length of the encrypted frame at |ct| (|avail| bytes, whole blocks),
 * found by decrypting its first block with |iv| (the ciphertext block before
 * it).  Falls back to |avail| should the block not be a frame header.
 */
static size_t frame_span(const ew_rscp_server *s, const uint8_t *iv, const uint8_t *ct,
                         size_t avail) {
    uint8_t pt[EW_RSCP_BLOCK];
    ew_rscp_block_decrypt(&s->cipher, ct, pt);
    for (int i = 0; i < EW_RSCP_BLOCK; i++)
        pt[i] ^= iv[i];
    size_t span = avail;
    if (pt[0] == EW_RSCP_MAGIC0 && pt[1] == EW_RSCP_MAGIC1) {
        unsigned ctrl = (unsigned)pt[2] | ((unsigned)pt[3] << 8);
        size_t len = (size_t)pt[16] | ((size_t)pt[17] << 8);
        size_t frame = EW_RSCP_HEADER_LEN + len + ((ctrl & EW_RSCP_CTRL_CRC) ? EW_RSCP_CRC_LEN : 0);
        size_t padded = (frame + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
        if (padded && padded <= avail)
            span = padded;
    }
    memset(pt, 0, sizeof pt);
    return span;
}

/* Takes what the session wants sent and writes or queues it. */
static void take_output(ew_rscp_peer *p) {
    const uint8_t *out;
    size_t n;
    while (!p->closing && (n = ew_rscp_conn_send_data(p->conn, &out)) > 0) {
        if (p->drop_done) {
            ew_rscp_conn_send_done(p->conn, n);
            continue;
        }
        ew_rscp_faults f = p->srv->faults;
        int faulty =
            f.drop_after_frames || f.delay_ms || f.split_bytes || f.corrupt_frame || p->oq_head;
        size_t off = 0;
        uint8_t iv[EW_RSCP_BLOCK];
        memcpy(iv, p->chain, sizeof iv);
        if (!faulty) {
            /* Count the frames (a fault switched on later numbers on) and
             * send everything with one write. */
            while (off < n) {
                size_t span =
                    frame_span(p->srv, off ? out + off - EW_RSCP_BLOCK : iv, out + off, n - off);
                off += span;
                p->frames++;
            }
            if (n >= EW_RSCP_BLOCK)
                memcpy(p->chain, out + n - EW_RSCP_BLOCK, EW_RSCP_BLOCK);
            int rc = peer_write(p, out, n);
            ew_rscp_conn_send_done(p->conn, n);
            if (rc < 0)
                return;
            continue;
        }
        uint64_t now = uv_now(p->srv->loop);
        while (off < n && !p->drop_done) {
            size_t span =
                frame_span(p->srv, off ? out + off - EW_RSCP_BLOCK : iv, out + off, n - off);
            ofr *fr = malloc(sizeof *fr + span);
            if (!fr) {
                ew_rscp_conn_send_done(p->conn, n);
                peer_close(p, EW_ERR_NOMEM, "out of memory");
                return;
            }
            memcpy(fr->data, out + off, span);
            fr->next = NULL;
            fr->len = span;
            fr->off = 0;
            fr->due = now + f.delay_ms;
            fr->split = f.split_bytes;
            fr->pause = f.split_pause_ms;
            fr->drop_after = 0;
            unsigned idx = ++p->frames;
            if (f.corrupt_frame && idx == f.corrupt_frame) {
                /* In CBC a flipped ciphertext byte garbles its own block and
                 * flips the same byte of the next block.  A frame of three or
                 * more blocks is hit in a middle block, which keeps the damage
                 * inside it (it fails its CRC); a shorter one is hit in its last
                 * byte, which also spoils the next frame's CRC. */
                fr->data[span >= 96 ? span - 33 : span - 1] ^= 0x5A;
                ew_io_logf(p->srv->log, p->srv->user, 3,
                           "rscp server: %s: corrupting frame %u (fault injection)", p->name, idx);
            }
            if (f.drop_after_frames && idx >= f.drop_after_frames) {
                fr->drop_after = 1;
                p->drop_done = 1;
            }
            if (p->oq_tail)
                p->oq_tail->next = fr;
            else
                p->oq_head = fr;
            p->oq_tail = fr;
            off += span;
        }
        if (n >= EW_RSCP_BLOCK)
            memcpy(p->chain, out + n - EW_RSCP_BLOCK, EW_RSCP_BLOCK);
        ew_rscp_conn_send_done(p->conn, n);
        if (p->drop_done && p->reading) {
            uv_read_stop((uv_stream_t *)&p->tcp);
            p->reading = 0;
        }
    }
    pump_out(p);
}

/* ---- input and events ------------------------------------------------------------------ */

/* Answers every top-level request value with Error NOT_HANDLED. */
static void respond_not_handled(ew_rscp_peer *p, uint32_t req_id, const uint8_t *data, size_t len) {
    ew_rscp_iter it;
    ew_rscp_value v;
    size_t count = 0;
    ew_rscp_iter_init(&it, data, len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) > 0)
        count++;
    size_t cap = (count ? count : 1) * (EW_RSCP_TLV_HEADER_LEN + 4);
    uint8_t *buf = malloc(cap);
    if (!buf) {
        peer_close(p, EW_ERR_NOMEM, "out of memory");
        return;
    }
    ew_rscp_builder b;
    size_t n = 0;
    ew_rscp_builder_init(&b, buf, cap);
    ew_rscp_iter_init(&it, data, len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) > 0)
        ew_rscp_builder_add_error(&b, v.tag | EW_RSCP_TAG_RESPONSE_BIT, EW_RSCP_ERR_NOT_HANDLED);
    if (ew_rscp_builder_finish(&b, &n) != EW_OK || n > UINT16_MAX)
        n = 0;
    ew_rscp_conn_respond(p->conn, req_id, buf, n);
    free(buf);
}

static int peer_events(ew_rscp_peer *p) {
    ew_rscp_server *s = p->srv;
    ew_rscp_event ev;
    int got = 0;
    while (!p->closing && ew_rscp_conn_poll_event(p->conn, &ev) > 0) {
        got++;
        switch (ev.type) {
        case EW_RSCP_EV_LOGIN: {
            int level = 10;
            if (s->faults.refuse_login)
                level = 0;
            else if (s->on_login && !s->deleting)
                level = s->on_login(s->user, p, ev.user, ev.password);
            if (level < 0)
                level = 0;
            if (level > 255)
                level = 255;
            if (!p->closing)
                ew_rscp_conn_login_result(p->conn, level);
            ew_io_logf(s->log, s->user, 3, "rscp server: %s: login %s (level %d)", p->name,
                       level ? "accepted" : "refused", level);
            break;
        }
        case EW_RSCP_EV_REQUEST:
            if (s->on_request && !s->deleting)
                s->on_request(s->user, p, ev.req_id, ev.data, ev.len, ev.level);
            else if (!p->closing)
                respond_not_handled(p, ev.req_id, ev.data, ev.len);
            break;
        default:
            break;
        }
    }
    return got;
}

static void sess_timer_cb(uv_timer_t *t) {
    ew_rscp_peer *p = t->data;
    if (p->closing)
        return;
    ew_rscp_conn_on_timeout(p->conn, peer_now(p));
    peer_run(p);
}

/*
 * Feeds received bytes, takes events (calling the application), sends the
 * output and closes when the session wants to.  The session may refuse
 * input while the application still owes it answers (its request queue is
 * full): then reading pauses until an answer frees room.
 */
static void peer_run(ew_rscp_peer *p) {
    if (p->closing)
        return;
    if (p->busy) {
        p->again = 1;
        return;
    }
    p->busy = 1;
    do {
        p->again = 0;
        ew_rscp_conn_set_time(p->conn, ew_io_wall_time());
        for (;;) {
            int n = 0;
            if (p->in_len && !p->drop_done) {
                n = ew_rscp_conn_recv(p->conn, p->rbuf + p->in_off, p->in_len, peer_now(p));
                if (n < 0) {
                    peer_close(p, n, "the session failed (out of memory)");
                    break;
                }
                p->in_off += (size_t)n;
                p->in_len -= (size_t)n;
            }
            int got = peer_events(p);
            if (p->closing || !p->in_len || p->drop_done || (n == 0 && !got))
                break;
        }
        if (p->drop_done)
            p->in_len = 0; /* the connection is going away: ignore the rest */
        if (!p->closing)
            take_output(p);
    } while (p->again && !p->closing);
    p->busy = 0;
    if (p->closing)
        return;
    if (ew_rscp_conn_want_close(p->conn)) {
        peer_close(p, ew_rscp_conn_error(p->conn), ew_rscp_conn_error_detail(p->conn));
        return;
    }
    int want_read = !p->in_len && !p->drop_done;
    if (want_read && !p->reading) {
        start_reading(p);
    } else if (!want_read && p->reading) {
        uv_read_stop((uv_stream_t *)&p->tcp);
        p->reading = 0;
        if (p->in_len)
            ew_io_logf(p->srv->log, p->srv->user, 3,
                       "rscp server: %s: pausing input until the application answers", p->name);
    }
    uint64_t d = ew_rscp_conn_next_deadline(p->conn), now = peer_now(p);
    if (d == UINT64_MAX)
        uv_timer_stop(&p->sess_timer);
    else
        uv_timer_start(&p->sess_timer, sess_timer_cb, d > now ? d - now : 0, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    ew_rscp_peer *p = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)p->rbuf, sizeof p->rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    ew_rscp_peer *p = st->data;
    (void)buf;
    if (p->closing || nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(st);
        p->reading = 0;
        if (nread == UV_EOF) {
            ew_rscp_conn_recv_eof(p->conn, peer_now(p));
            peer_run(p);
        }
        if (!p->closing) {
            char msg[120];
            ew_io_fmt(msg, sizeof msg, "%s",
                      nread == UV_EOF ? "closed by the client" : uv_strerror((int)nread));
            peer_close(p, EW_ERR_CLOSED, msg);
        }
        return;
    }
    p->in_off = 0;
    p->in_len = (size_t)nread;
    peer_run(p);
}

static int start_reading(ew_rscp_peer *p) {
    int rc = uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, read_cb);
    p->reading = rc == 0;
    return rc;
}

static void conn_log(void *user, int level, const char *msg) {
    ew_rscp_server *s = user;
    (void)level;
    ew_io_logf(s->log, s->user, 3, "rscp server: %s", msg);
}

/* ---- accepting ------------------------------------------------------------------------ */

static void on_connection(uv_stream_t *l, int status) {
    ew_rscp_server *s = l->data;
    if (s->deleting)
        return;
    if (status < 0) {
        ew_io_logf(s->log, s->user, 1, "rscp server: accept failed: %s", uv_strerror(status));
        return;
    }
    ew_rscp_peer *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->srv = s;
    uv_tcp_init(s->loop, &p->tcp);
    uv_timer_init(s->loop, &p->sess_timer);
    uv_timer_init(s->loop, &p->out_timer);
    p->tcp.data = p->sess_timer.data = p->out_timer.data = p;
    p->handles_open = 3;
    p->next = s->peers;
    if (s->peers)
        s->peers->prev = p;
    s->peers = p;
    s->npeers++;
    ew_io_fmt(p->name, sizeof p->name, "client");
    if (uv_accept(l, (uv_stream_t *)&p->tcp) < 0) {
        peer_close(p, EW_IO_ERR_SOCKET, "accept failed");
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &sl) == 0)
        ew_io_sockaddr_name((struct sockaddr *)&ss, p->name, sizeof p->name);
    if (s->npeers > s->max_clients) {
        if (!s->limit_logged)
            ew_io_logf(s->log, s->user, 1,
                       "rscp server: connection limit (%u) reached: closing new connections",
                       s->max_clients);
        s->limit_logged = 1;
        peer_close(p, EW_ERR_STATE, "connection limit reached");
        return;
    }
    uv_tcp_nodelay(&p->tcp, 1);
    ew_rscp_conn_opts o = s->conn_opts;
    o.role = EW_RSCP_ROLE_SERVER;
    o.rscp_key = s->key;
    o.user = o.password = NULL;
    o.log = conn_log;
    o.log_user = s;
    /* The session measures time from its creation: a fresh session has
     * last_activity = 0 (see conn.c), so its clock must start at 0 too. */
    p->epoch = uv_now(s->loop);
    int rc = ew_rscp_conn_new(&p->conn, &o, NULL);
    if (rc < 0) {
        peer_close(p, rc, "cannot create the RSCP session");
        return;
    }
    memset(p->chain, 0xFF, sizeof p->chain); /* every chain starts at FF..FF (§5.3) */
    ew_io_logf(s->log, s->user, 3, "rscp server: %s connected", p->name);
    p->announced = 1;
    if (s->on_peer)
        s->on_peer(s->user, p, 1, EW_OK, "connected");
    if (p->closing)
        return;
    if (start_reading(p) < 0) {
        peer_close(p, EW_ERR_CLOSED, "cannot read from the connection");
        return;
    }
    peer_run(p); /* arms the idle timer */
}

/* ---- public API -------------------------------------------------------------------------- */

void ew_rscp_server_opts_init(ew_rscp_server_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = EW_RSCP_PORT;
    ew_rscp_conn_opts_init(&o->conn, EW_RSCP_ROLE_SERVER);
    o->max_clients = 16;
}

static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof *ss);
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = 0;
        return uv_ip6_addr(tmp, port, (struct sockaddr_in6 *)ss);
    }
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

int ew_rscp_server_new(ew_rscp_server **out, void *uv_loop, const ew_rscp_server_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!uv_loop || !o || !o->conn.rscp_key)
        return EW_ERR_INVAL;
    const char *host = o->host ? o->host : "127.0.0.1";
    struct sockaddr_storage ss;
    if (parse_addr(host, o->port, &ss) != 0)
        return EW_ERR_INVAL;
    ew_rscp_server *s = calloc(1, sizeof *s);
    if (!s)
        return EW_ERR_NOMEM;
    int ok = 1;
    s->host = ew_io_strdup(host, &ok);
    if (s->host && s->host[0] == '[') {
        /* Kept without brackets: messages add them back. */
        size_t n = strlen(s->host);
        memmove(s->host, s->host + 1, n - 2);
        s->host[n - 2] = 0;
    }
    s->key = ew_io_strdup(o->conn.rscp_key, &ok);
    if (!ok) {
        free(s->host);
        ew_io_free_secret(s->key);
        free(s);
        return EW_ERR_NOMEM;
    }
    uint8_t key[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(s->key, strlen(s->key), key);
    int rc = ew_rscp_cipher_init(&s->cipher, key, o->conn.cipher_impl);
    memset(key, 0, sizeof key);
    if (rc < 0) {
        free(s->host);
        ew_io_free_secret(s->key);
        free(s);
        return rc;
    }
    s->loop = uv_loop;
    s->port = o->port;
    s->conn_opts = o->conn;
    s->conn_opts.rscp_key = NULL;
    s->max_clients = o->max_clients ? o->max_clients : 16;
    s->faults = o->faults;
    s->on_login = o->on_login;
    s->on_request = o->on_request;
    s->on_peer = o->on_peer;
    s->log = o->log;
    s->user = o->user;
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    *out = s;
    return EW_OK;
}

int ew_rscp_server_listen(ew_rscp_server *s) {
    if (!s || s->deleting || s->listening)
        return EW_ERR_STATE;
    char where[EW_IO_HOSTPORT_LEN + 64];
    ew_io_hostport(where, sizeof where, s->host, s->port);
    struct sockaddr_storage ss;
    parse_addr(s->host, s->port, &ss);
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    if (rc < 0) {
        ew_io_fmt(s->detail, sizeof s->detail, "cannot listen on %s: %s", where, uv_strerror(rc));
        ew_io_logf(s->log, s->user, 0, "rscp server: %s", s->detail);
        return EW_IO_ERR_SOCKET;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bl) == 0) {
        if (bound.ss_family == AF_INET6)
            s->bound_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        else
            s->bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    s->listening = 1;
    ew_io_hostport(where, sizeof where, s->host, s->bound_port);
    ew_io_logf(s->log, s->user, 2, "rscp server: listening on %s", where);
    return EW_OK;
}

uint16_t ew_rscp_server_port(const ew_rscp_server *s) {
    return s && s->listening ? s->bound_port : 0;
}

void ew_rscp_server_set_faults(ew_rscp_server *s, const ew_rscp_faults *f) {
    if (!f)
        memset(&s->faults, 0, sizeof s->faults);
    else
        s->faults = *f;
}

size_t ew_rscp_server_peer_count(const ew_rscp_server *s) {
    size_t n = 0;
    for (const ew_rscp_peer *p = s->peers; p; p = p->next)
        n += !p->closing;
    return n;
}

const char *ew_rscp_server_error_detail(const ew_rscp_server *s) {
    return s->detail[0] ? s->detail : "no error";
}

void ew_rscp_server_del(ew_rscp_server *s) {
    if (!s || s->deleting)
        return;
    s->deleting = 1;
    for (ew_rscp_peer *p = s->peers; p; p = p->next)
        peer_close(p, EW_OK, "server shut down");
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}

int ew_rscp_peer_respond(ew_rscp_peer *p, uint32_t req_id, const uint8_t *tlvs, size_t len) {
    if (!p || (!tlvs && len))
        return EW_ERR_INVAL;
    if (p->closing)
        return EW_ERR_STATE;
    ew_rscp_conn_set_time(p->conn, ew_io_wall_time());
    int rc = ew_rscp_conn_respond(p->conn, req_id, tlvs, len);
    if (rc < 0)
        return rc;
    peer_run(p);
    return EW_OK;
}

void ew_rscp_peer_close(ew_rscp_peer *p) {
    if (p)
        peer_close(p, EW_OK, "closed by the server");
}

const char *ew_rscp_peer_name(const ew_rscp_peer *p) {
    return p->name;
}

void ew_rscp_peer_set_data(ew_rscp_peer *p, void *data) {
    p->data = data;
}

void *ew_rscp_peer_data(const ew_rscp_peer *p) {
    return p->data;
}
