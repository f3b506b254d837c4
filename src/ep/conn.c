/*
 * EP session, sans-I/O: handshake, publishing, keep-alive, liveness, soft
 * disconnect and identity checks (ep.md §5), on top of the public codec.
 *
 * Both roles run the same state machine (ep.md §5.3): the own
 * SessionParameters are queued in ew_ep_conn_new() without waiting for the
 * peer (waiting on both sides would deadlock), then AWAIT_PEER until the
 * peer's SessionParameters arrive, then ACTIVE.  Every buffer is allocated
 * in ew_ep_conn_new(): the receive buffer, the send buffer and one payload
 * buffer per published parameter kind.  Events live in a small fixed ring.
 */
#include <energywire/ep_conn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_AWAIT = 0, ST_ACTIVE = 1, ST_CLOSED = 2 };
enum { PUB_SUPPLY = 0, PUB_DEMAND = 1, PUB_STORAGE = 2, PUB_N = 3 };
#define EVQ_CAP 8

typedef struct idbuf {
    uint8_t s[EW_EP_CONN_ID_MAX];
    size_t len;
    int set;
} idbuf;

struct ew_ep_conn {
    ew_mem mem;
    int err, dead, state, role;
    char detail[160];
    void (*log)(void *user, int level, const char *msg);
    void *log_user;

    uint32_t hs_timeout, pub_iv, ping_iv, xfer_timeout, idle_timeout;
    int derive_transfer, mismatch_continue;
    size_t param_cap, garbage_max;

    idbuf local_id, exp_id, exp_tenant, exp_provider, peer_id, peer_tenant, peer_provider;

    ew_ep_rx rx;
    uint8_t *rxbuf;
    uint64_t skipped_mark; /* rx skipped total at the last good frame */

    uint8_t *out;
    size_t out_off, out_len, out_cap;

    uint8_t *pubbuf; /* PUB_N * param_cap */
    size_t publen[PUB_N];
    unsigned pubmask;

    uint64_t now, hs_deadline, established, last_rx, last_tx, next_pub;
    int local_xfer, peer_xfer;
    uint64_t xfer_since;

    ew_ep_conn_event evq[EVQ_CAP];
    size_t evhead, evcount;
    int view_pending;

    ew_ep_conn_stats st;
};

static const uint32_t pub_types[PUB_N] = {EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND, EW_EP_MSG_STORAGE};

/* ---- memory and options ---------------------------------------------------- */

static void *std_malloc(size_t n, void *user) {
    (void)user;
    return malloc(n);
}

static void *std_realloc(void *p, size_t n, void *user) {
    (void)user;
    return realloc(p, n);
}

static void std_free(void *p, void *user) {
    (void)user;
    free(p);
}

void ew_ep_conn_opts_init(ew_ep_conn_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->role = EW_EP_ROLE_INITIATOR;
    o->handshake_timeout_ms = 5000;
    o->publish_hz = 10;
    o->ping_interval_ms = 1000;
    o->transfer_timeout_ms = 200;
    o->idle_timeout_ms = 5000;
    o->derive_transfer = 1;
    o->max_payload = EW_EP_PAYLOAD_MAX_DEFAULT;
    o->param_cap = 1024;
    o->out_cap = 16384;
    o->garbage_max = 4096;
}

const char *ew_ep_close_reason_name(int r) {
    switch (r) {
    case EW_EP_CLOSE_HANDSHAKE_TIMEOUT:
        return "handshake timeout";
    case EW_EP_CLOSE_LIVENESS:
        return "liveness timeout";
    case EW_EP_CLOSE_IDLE_TIMEOUT:
        return "idle timeout";
    case EW_EP_CLOSE_PROTOCOL:
        return "protocol error";
    case EW_EP_CLOSE_PEER_CLOSED:
        return "peer closed";
    case EW_EP_CLOSE_PEER_DISCONNECT:
        return "peer soft disconnect";
    case EW_EP_CLOSE_IDENTITY:
        return "identity mismatch";
    case EW_EP_CLOSE_LOCAL:
        return "local close";
    default:
        return "unknown";
    }
}

static int id_set(idbuf *b, const char *s) {
    memset(b, 0, sizeof *b);
    if (!s)
        return EW_OK;
    size_t n = strlen(s);
    if (n > EW_EP_CONN_ID_MAX)
        return EW_ERR_TOO_BIG;
    memcpy(b->s, s, n);
    b->len = n;
    b->set = 1;
    return EW_OK;
}

static ew_bytes id_view(const idbuf *b) {
    ew_bytes v = {b->s, b->len};
    return v;
}

static int id_eq(const idbuf *a, const idbuf *b) {
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

void ew_ep_conn_del(ew_ep_conn *c) {
    if (!c)
        return;
    ew_mem m = c->mem;
    if (c->rxbuf)
        m.free_fn(c->rxbuf, m.user);
    if (c->out)
        m.free_fn(c->out, m.user);
    if (c->pubbuf)
        m.free_fn(c->pubbuf, m.user);
    m.free_fn(c, m.user);
}

/* ---- output ---------------------------------------------------------------- */

static void log_msg(ew_ep_conn *c, int level, const char *msg) {
    if (c->log)
        c->log(c->log_user, level, msg);
}

/* Free space at the end of the send buffer, compacting first. */
static uint8_t *out_room(ew_ep_conn *c, size_t *room) {
    if (c->out_off && c->out_len)
        memmove(c->out, c->out + c->out_off, c->out_len);
    c->out_off = 0;
    *room = c->out_cap - c->out_len;
    return c->out + c->out_len;
}

static int queue_raw(ew_ep_conn *c, uint32_t type, const uint8_t *payload, size_t plen) {
    size_t room, n = 0;
    uint8_t *p = out_room(c, &room);
    int rc = ew_ep_frame_encode(p, room, type, NULL, 0, payload, plen, &n);
    if (rc != EW_OK)
        return rc;
    c->out_len += n;
    c->last_tx = c->now;
    c->st.frames_tx++;
    return EW_OK;
}

static int queue_msg(ew_ep_conn *c, const ew_ep_msg *m) {
    size_t room, n = 0;
    uint8_t *p = out_room(c, &room);
    int rc = ew_ep_msg_encode_frame(m, p, room, &n);
    if (rc != EW_OK)
        return rc;
    c->out_len += n;
    c->last_tx = c->now;
    c->st.frames_tx++;
    return EW_OK;
}

static ew_bytes cstr(const char *s) {
    ew_bytes b = {(const uint8_t *)s, s ? strlen(s) : 0};
    return b;
}

static int queue_soft_disconnect(ew_ep_conn *c, int reconnect, const char *reason) {
    ew_ep_msg m;
    memset(&m, 0, sizeof m);
    m.type = EW_EP_MSG_SOFT_DISCONNECT;
    /* ep.md §4.3: always include both fields. */
    m.present = EW_EP_HAS(0) | EW_EP_HAS(1);
    m.u.soft_disconnect.reconnect = reconnect ? 1 : 0;
    m.u.soft_disconnect.reason = cstr(reason ? reason : "");
    return queue_msg(c, &m);
}

static int queue_ping(ew_ep_conn *c) {
    /* ep.md §4.1: a byte string holding CBOR null (41 F6). */
    static const uint8_t null_item[1] = {0xF6};
    int rc = queue_raw(c, EW_EP_MSG_PING, null_item, 1);
    if (rc == EW_OK)
        c->st.pings_tx++;
    return rc;
}

static int publish_all(ew_ep_conn *c) {
    int rc = EW_OK;
    for (int k = 0; k < PUB_N; k++)
        if (c->pubmask & (1u << k)) {
            int r = queue_raw(c, pub_types[k], c->pubbuf + (size_t)k * c->param_cap, c->publen[k]);
            if (r != EW_OK)
                rc = r;
        }
    return rc;
}

/* ---- events and closing ---------------------------------------------------- */

static ew_ep_conn_event *push_ev(ew_ep_conn *c, ew_ep_conn_event_type type) {
    if (c->evcount == EVQ_CAP)
        return NULL; /* cannot happen: recv stops at each view event */
    ew_ep_conn_event *e = &c->evq[(c->evhead + c->evcount++) % EVQ_CAP];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->reconnect = -1;
    return e;
}

static void close_with(ew_ep_conn *c, int reason, int err, const char *detail) {
    if (c->state == ST_CLOSED)
        return;
    c->state = ST_CLOSED;
    c->pubmask = 0;
    if (err != EW_OK && c->err == EW_OK) {
        c->err = err;
        snprintf(c->detail, sizeof c->detail, "%s", detail ? detail : ew_strerror(err));
    }
    char msg[200];
    snprintf(msg, sizeof msg, "ep: closed (%s)%s%s", ew_ep_close_reason_name(reason),
             detail ? ": " : "", detail ? detail : "");
    log_msg(c, err == EW_OK ? 2 : 1, msg);
    ew_ep_conn_event *e = push_ev(c, EW_EP_EV_CLOSED);
    if (e) {
        e->close_reason = reason;
        e->err = err;
    }
}

/* A protocol violation: SoftDisconnect(reconnect=false, reason), then close
 * (ep.md §5.3, §5.8). */
static void proto_close(ew_ep_conn *c, const char *why) {
    (void)queue_soft_disconnect(c, 0, why);
    close_with(c, EW_EP_CLOSE_PROTOCOL, EW_ERR_PROTO, why);
}

/* ---- creation -------------------------------------------------------------- */

int ew_ep_conn_new(ew_ep_conn **cp, const ew_ep_conn_opts *o, const ew_mem *mem) {
    if (!cp)
        return EW_ERR_INVAL;
    *cp = NULL;
    if (!o || !o->identity || o->publish_hz < 1 || o->publish_hz > 100 ||
        o->handshake_timeout_ms == 0 || o->ping_interval_ms == 0 || o->transfer_timeout_ms == 0 ||
        o->out_cap < 512 || o->param_cap < 16 || o->max_payload < 16 ||
        o->max_payload > (size_t)1 << 30 || o->param_cap > o->max_payload ||
        (o->role != EW_EP_ROLE_INITIATOR && o->role != EW_EP_ROLE_ACCEPTOR))
        return EW_ERR_INVAL;
    ew_mem m = {std_malloc, std_realloc, std_free, NULL};
    if (mem && mem->malloc_fn && mem->free_fn)
        m = *mem;
    ew_ep_conn *c = m.malloc_fn(sizeof *c, m.user);
    if (!c)
        return EW_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->mem = m;
    c->role = o->role;
    c->log = o->log;
    c->log_user = o->log_user;
    c->hs_timeout = o->handshake_timeout_ms;
    c->pub_iv = 1000u / o->publish_hz;
    c->ping_iv = o->ping_interval_ms;
    c->xfer_timeout = o->transfer_timeout_ms;
    c->idle_timeout = o->idle_timeout_ms;
    c->derive_transfer = o->derive_transfer;
    c->mismatch_continue = o->mismatch_continue;
    c->param_cap = o->param_cap;
    c->garbage_max = o->garbage_max;
    c->out_cap = o->out_cap;
    c->now = o->now_ms;
    c->hs_deadline = o->now_ms + o->handshake_timeout_ms;
    int rc = id_set(&c->local_id, o->identity);
    if (rc == EW_OK)
        rc = ew_ep_conn_set_expected_peer(c, o->expect_identity, o->expect_tenant,
                                          o->expect_provider);
    if (rc != EW_OK) {
        ew_ep_conn_del(c);
        return rc;
    }
    size_t rxcap = o->max_payload + EW_EP_FRAME_OVERHEAD + 16;
    c->rxbuf = m.malloc_fn(rxcap, m.user);
    c->out = m.malloc_fn(c->out_cap, m.user);
    c->pubbuf = m.malloc_fn(PUB_N * c->param_cap, m.user);
    if (!c->rxbuf || !c->out || !c->pubbuf) {
        ew_ep_conn_del(c);
        return EW_ERR_NOMEM;
    }
    if (ew_ep_rx_init(&c->rx, c->rxbuf, rxcap, o->max_payload) != EW_OK) {
        ew_ep_conn_del(c);
        return EW_ERR_INVAL;
    }
    /* ep.md §5.3: send the own SessionParameters right away. */
    ew_ep_msg s;
    memset(&s, 0, sizeof s);
    s.type = EW_EP_MSG_SESSION;
    const char *f[7] = {o->identity, o->device_type, o->version,   o->name,
                        o->tenant,   o->provider,    o->session_id};
    ew_bytes *dst[7] = {&s.u.session.identity, &s.u.session.type,   &s.u.session.version,
                        &s.u.session.name,     &s.u.session.tenant, &s.u.session.provider,
                        &s.u.session.session};
    for (unsigned i = 0; i < 7; i++)
        if (f[i]) {
            s.present |= EW_EP_HAS(i);
            *dst[i] = cstr(f[i]);
        }
    if (o->publish_hz < 5)
        /* ep.md §5.5: a KENETH peer applies its 200 ms rule once it sees
         * parameters, so publishing below 5 Hz makes it drop us. */
        log_msg(c, 1, "ep: publish_hz below 5 breaks the peer's 200 ms liveness rule");
    rc = queue_msg(c, &s);
    if (rc != EW_OK) {
        ew_ep_conn_del(c);
        return rc == EW_ERR_NOBUF ? EW_ERR_NOBUF : EW_ERR_INVAL;
    }
    *cp = c;
    return EW_OK;
}

int ew_ep_conn_set_expected_peer(ew_ep_conn *c, const char *identity, const char *tenant,
                                 const char *provider) {
    if (!c)
        return EW_ERR_INVAL;
    if (c->state != ST_AWAIT)
        return EW_ERR_STATE;
    if ((identity && strlen(identity) > EW_EP_CONN_ID_MAX) ||
        (tenant && strlen(tenant) > EW_EP_CONN_ID_MAX) ||
        (provider && strlen(provider) > EW_EP_CONN_ID_MAX))
        return EW_ERR_TOO_BIG;
    id_set(&c->exp_id, identity);
    id_set(&c->exp_tenant, tenant);
    id_set(&c->exp_provider, provider);
    return EW_OK;
}

/* ---- receiving ------------------------------------------------------------- */

static int store_id(idbuf *b, ew_bytes v, int present) {
    memset(b, 0, sizeof *b);
    if (!present)
        return EW_OK;
    if (v.len > EW_EP_CONN_ID_MAX)
        return EW_ERR_TOO_BIG;
    if (v.len)
        memcpy(b->s, v.ptr, v.len);
    b->len = v.len;
    b->set = 1;
    return EW_OK;
}

static unsigned check_identity(const ew_ep_conn *c) {
    unsigned bad = 0;
    /* An expected field the peer did not send counts as a mismatch. */
    if (c->exp_id.set && (!c->peer_id.set || !id_eq(&c->exp_id, &c->peer_id)))
        bad |= EW_EP_ID_IDENTITY;
    if (c->exp_tenant.set && (!c->peer_tenant.set || !id_eq(&c->exp_tenant, &c->peer_tenant)))
        bad |= EW_EP_ID_TENANT;
    if (c->exp_provider.set &&
        (!c->peer_provider.set || !id_eq(&c->exp_provider, &c->peer_provider)))
        bad |= EW_EP_ID_PROVIDER;
    return bad;
}

static void view_event(ew_ep_conn *c, ew_ep_conn_event_type t, const ew_ep_msg *m,
                       const ew_ep_frame *f) {
    ew_ep_conn_event *e = push_ev(c, t);
    if (!e)
        return;
    e->msg = *m;
    e->frame = f->raw;
    c->view_pending = 1;
}

static void on_session(ew_ep_conn *c, const ew_ep_msg *m, const ew_ep_frame *f) {
    const ew_ep_session *s = &m->u.session;
    if (c->state == ST_ACTIVE) {
        /* ep.md §5.3: a repeated SessionParameters with the same identity
         * updates the fields; a different identity is a protocol error. */
        idbuf id;
        if (store_id(&id, s->identity, (m->present & EW_EP_HAS(0)) != 0) != EW_OK ||
            !id_eq(&id, &c->peer_id) || id.set != c->peer_id.set) {
            proto_close(c, "peer identity changed");
            return;
        }
        (void)store_id(&c->peer_tenant, s->tenant, (m->present & EW_EP_HAS(4)) != 0);
        (void)store_id(&c->peer_provider, s->provider, (m->present & EW_EP_HAS(5)) != 0);
        view_event(c, EW_EP_EV_MESSAGE, m, f);
        return;
    }
    if (store_id(&c->peer_id, s->identity, (m->present & EW_EP_HAS(0)) != 0) != EW_OK ||
        store_id(&c->peer_tenant, s->tenant, (m->present & EW_EP_HAS(4)) != 0) != EW_OK ||
        store_id(&c->peer_provider, s->provider, (m->present & EW_EP_HAS(5)) != 0) != EW_OK) {
        proto_close(c, "peer identity too long");
        return;
    }
    if (!c->peer_id.set)
        log_msg(c, 1, "ep: peer SessionParameters without identity");
    unsigned bad = check_identity(c);
    if (bad) {
        ew_ep_conn_event *e = push_ev(c, EW_EP_EV_IDENTITY_MISMATCH);
        if (e) {
            e->msg = *m;
            e->frame = f->raw;
            e->mismatch = bad;
        }
        c->view_pending = 1;
        if (!c->mismatch_continue) {
            /* ep.md §5.4: close with a SoftDisconnect giving the reason. */
            (void)queue_soft_disconnect(c, 0, "identity mismatch");
            close_with(c, EW_EP_CLOSE_IDENTITY, EW_ERR_AUTH,
                       "peer SessionParameters do not match the certificate");
            return;
        }
        log_msg(c, 1, "ep: identity mismatch ignored (mismatch_continue)");
    }
    c->state = ST_ACTIVE;
    c->established = c->now;
    c->last_rx = c->now;
    ew_ep_conn_event *e = push_ev(c, EW_EP_EV_HANDSHAKE);
    if (e) {
        e->msg = *m;
        e->frame = f->raw;
    }
    c->view_pending = 1;
    if (c->pubmask) {
        if (publish_all(c) != EW_OK)
            c->st.publish_missed++;
        c->next_pub = c->now + c->pub_iv;
    }
}

static void on_frame(ew_ep_conn *c, const ew_ep_frame *f) {
    ew_ep_msg m;
    ew_diag d = {0, 0, NULL};
    c->st.frames_rx++;
    c->last_rx = c->now;
    int rc = ew_ep_msg_decode_frame(f, &m, &d);
    if (rc != EW_OK) {
        /* ep.md §2.3, §5.8: only this message is lost. */
        c->st.rejected++;
        ew_ep_conn_event *e = push_ev(c, EW_EP_EV_REJECTED);
        if (e) {
            e->msg.type = f->type;
            e->msg.raw = f->payload;
            e->frame = f->raw;
            e->err = rc;
        }
        c->view_pending = 1;
        char msg[160];
        snprintf(msg, sizeof msg, "ep: message 0x%08lx discarded: %s at payload offset %lu",
                 (unsigned long)f->type, d.what ? d.what : ew_strerror(rc),
                 (unsigned long)d.offset);
        log_msg(c, 2, msg);
        return;
    }
    if (c->state == ST_AWAIT) {
        if (m.type != EW_EP_MSG_SESSION) {
            /* ep.md §5.3: the first message must be SessionParameters. */
            proto_close(c, "first message is not SessionParameters");
            return;
        }
        on_session(c, &m, f);
        return;
    }
    switch (m.type) {
    case EW_EP_MSG_PING:
        c->st.pings_rx++;
        c->peer_xfer = 0; /* §5.5: a Ping means the peer's publishing stopped */
        return;
    case EW_EP_MSG_SESSION:
        on_session(c, &m, f);
        return;
    case EW_EP_MSG_SOFT_DISCONNECT: {
        ew_ep_conn_event *e = push_ev(c, EW_EP_EV_SOFT_DISCONNECT);
        if (e) {
            e->msg = m;
            e->frame = f->raw;
            if (m.present & EW_EP_HAS(0))
                e->reconnect = m.u.soft_disconnect.reconnect ? 1 : 0;
            e->reason = m.u.soft_disconnect.reason;
        }
        c->view_pending = 1;
        /* ep.md §5.7: stop publishing and close our side. */
        close_with(c, EW_EP_CLOSE_PEER_DISCONNECT, EW_OK, NULL);
        return;
    }
    case EW_EP_MSG_SUPPLY:
    case EW_EP_MSG_DEMAND:
    case EW_EP_MSG_STORAGE:
        if (c->derive_transfer && !c->peer_xfer) {
            c->peer_xfer = 1;
            if (!c->local_xfer)
                c->xfer_since = c->now;
        }
        break;
    default:
        break;
    }
    view_event(c, EW_EP_EV_MESSAGE, &m, f);
}

int ew_ep_conn_recv(ew_ep_conn *c, const uint8_t *in, size_t len, uint64_t now_ms) {
    if (!c)
        return EW_ERR_INVAL;
    if (c->dead)
        return EW_ERR_DEAD;
    if (!in && len)
        return EW_ERR_INVAL;
    c->now = now_ms;
    if (c->state == ST_CLOSED || c->view_pending)
        return 0;
    if (len > (size_t)0x7FFFFFFF)
        len = 0x7FFFFFFF;
    size_t pos = 0;
    while (pos < len && c->state != ST_CLOSED && !c->view_pending) {
        size_t n = 0;
        ew_ep_frame f;
        ew_diag d = {0, 0, NULL};
        int rc = ew_ep_rx_feed(&c->rx, in + pos, len - pos, &n, &f, &d);
        pos += n;
        uint64_t skipped = ew_ep_rx_skipped_total(&c->rx);
        c->st.skipped_bytes = skipped;
        if (c->garbage_max && skipped - c->skipped_mark > c->garbage_max) {
            /* ep.md §2.4 point 5: too much garbage, drop and reconnect. */
            char why[96];
            snprintf(why, sizeof why, "resync skipped more than %lu bytes",
                     (unsigned long)c->garbage_max);
            close_with(c, EW_EP_CLOSE_PROTOCOL, EW_ERR_PROTO, why);
            break;
        }
        if (rc == EW_ERR_NEED_MORE)
            break;
        if (rc != EW_OK) {
            /* Already resynchronised by the receiver (ep.md §2.4 point 4). */
            c->st.bad_frames++;
            char msg[160];
            snprintf(msg, sizeof msg, "ep: bad frame (%s) at stream offset %lu, resync",
                     d.what ? d.what : ew_strerror(rc), (unsigned long)d.offset);
            log_msg(c, 3, msg);
            continue;
        }
        c->skipped_mark = skipped;
        on_frame(c, &f);
    }
    return (int)pos;
}

void ew_ep_conn_recv_eof(ew_ep_conn *c, uint64_t now_ms) {
    if (!c || c->dead)
        return;
    c->now = now_ms;
    close_with(c, EW_EP_CLOSE_PEER_CLOSED, EW_ERR_CLOSED, "peer closed the connection");
}

void ew_ep_conn_close(ew_ep_conn *c) {
    if (!c || c->dead)
        return;
    close_with(c, EW_EP_CLOSE_LOCAL, EW_OK, NULL);
}

int ew_ep_conn_soft_disconnect(ew_ep_conn *c, int reconnect, const char *reason) {
    if (!c)
        return EW_ERR_INVAL;
    if (c->dead)
        return EW_ERR_DEAD;
    if (c->state == ST_CLOSED)
        return EW_ERR_STATE;
    int rc = queue_soft_disconnect(c, reconnect, reason);
    close_with(c, EW_EP_CLOSE_LOCAL, EW_OK, NULL);
    return rc == EW_OK ? EW_OK : EW_ERR_NOBUF;
}

/* ---- publishing ------------------------------------------------------------ */

static int pub_index(uint32_t type) {
    for (int k = 0; k < PUB_N; k++)
        if (pub_types[k] == type)
            return k;
    return -1;
}

int ew_ep_conn_set_params(ew_ep_conn *c, const ew_ep_msg *m) {
    if (!c || !m)
        return EW_ERR_INVAL;
    if (c->dead)
        return EW_ERR_DEAD;
    int k = pub_index(m->type);
    if (k < 0)
        return EW_ERR_INVAL;
    size_t n = 0;
    int rc = ew_ep_msg_encode(m, c->pubbuf + (size_t)k * c->param_cap, c->param_cap, &n);
    if (rc != EW_OK) {
        c->pubmask &= ~(1u << k); /* a partial encoding must not go out */
        return rc;
    }
    c->publen[k] = n;
    unsigned was = c->pubmask;
    c->pubmask |= 1u << k;
    if (!was && c->state == ST_ACTIVE)
        c->next_pub = c->now; /* first sending at the next on_timeout() */
    return EW_OK;
}

int ew_ep_conn_clear_params(ew_ep_conn *c, uint32_t type) {
    if (!c)
        return EW_ERR_INVAL;
    int k = pub_index(type);
    if (k < 0)
        return EW_ERR_INVAL;
    unsigned was = c->pubmask;
    c->pubmask &= ~(1u << k);
    /* ep.md §5.5: once publishing stops, send a Ping promptly. */
    if (was && !c->pubmask && c->state == ST_ACTIVE)
        (void)queue_ping(c);
    return EW_OK;
}

int ew_ep_conn_publish_now(ew_ep_conn *c) {
    if (!c)
        return EW_ERR_INVAL;
    if (c->dead)
        return EW_ERR_DEAD;
    if (c->state != ST_ACTIVE)
        return EW_ERR_STATE;
    int rc = publish_all(c);
    c->next_pub = c->now + c->pub_iv;
    return rc;
}

int ew_ep_conn_send_msg(ew_ep_conn *c, const ew_ep_msg *m) {
    if (!c || !m)
        return EW_ERR_INVAL;
    if (c->dead)
        return EW_ERR_DEAD;
    if (c->state != ST_ACTIVE)
        return EW_ERR_STATE;
    return queue_msg(c, m);
}

void ew_ep_conn_set_transfer(ew_ep_conn *c, int on, uint64_t now_ms) {
    if (!c)
        return;
    if (on && !c->local_xfer && !c->peer_xfer)
        c->xfer_since = now_ms; /* the 200 ms window starts now */
    c->local_xfer = on ? 1 : 0;
}

int ew_ep_conn_transfer_active(const ew_ep_conn *c) {
    return c && (c->local_xfer || c->peer_xfer);
}

/* ---- timers ---------------------------------------------------------------- */

/* When the receive liveness rule fires (ep.md §5.5), or UINT64_MAX. */
static uint64_t live_deadline(const ew_ep_conn *c, int *reason) {
    if (ew_ep_conn_transfer_active(c)) {
        uint64_t base = c->last_rx > c->xfer_since ? c->last_rx : c->xfer_since;
        *reason = EW_EP_CLOSE_LIVENESS;
        return base + c->xfer_timeout;
    }
    *reason = EW_EP_CLOSE_IDLE_TIMEOUT;
    return c->idle_timeout ? c->last_rx + c->idle_timeout : UINT64_MAX;
}

/* Ping when publishing nothing; during a transfer at the publish rate so
 * that the peer's 200 ms rule holds. */
static uint64_t ping_deadline(const ew_ep_conn *c) {
    uint32_t iv = c->ping_iv;
    if (ew_ep_conn_transfer_active(c) && c->pub_iv < iv)
        iv = c->pub_iv;
    return c->last_tx + iv;
}

uint64_t ew_ep_conn_next_deadline(const ew_ep_conn *c) {
    if (!c || c->dead || c->state == ST_CLOSED)
        return UINT64_MAX;
    if (c->state == ST_AWAIT)
        return c->hs_deadline;
    int reason;
    uint64_t t = live_deadline(c, &reason);
    uint64_t s = c->pubmask ? c->next_pub : ping_deadline(c);
    return s < t ? s : t;
}

void ew_ep_conn_on_timeout(ew_ep_conn *c, uint64_t now_ms) {
    if (!c || c->dead || c->state == ST_CLOSED)
        return;
    c->now = now_ms;
    if (c->state == ST_AWAIT) {
        if (now_ms >= c->hs_deadline)
            close_with(c, EW_EP_CLOSE_HANDSHAKE_TIMEOUT, EW_ERR_TIMEOUT,
                       "no SessionParameters from the peer in time");
        return;
    }
    int reason;
    if (now_ms >= live_deadline(c, &reason)) {
        /* ep.md §5.8: close at once, no SoftDisconnect. */
        close_with(c, reason, EW_ERR_TIMEOUT,
                   reason == EW_EP_CLOSE_LIVENESS ? "no frame from the peer during a transfer"
                                                  : "no frame from the peer while idle");
        return;
    }
    if (c->pubmask) {
        if (now_ms >= c->next_pub) {
            if (publish_all(c) != EW_OK)
                c->st.publish_missed++;
            c->next_pub += c->pub_iv;
            if (c->next_pub <= now_ms) /* fell behind: do not burst */
                c->next_pub = now_ms + c->pub_iv;
        }
    } else if (now_ms >= ping_deadline(c)) {
        if (queue_ping(c) != EW_OK) {
            c->st.publish_missed++;
            c->last_tx = now_ms;
        }
    }
}

/* ---- accessors ------------------------------------------------------------- */

int ew_ep_conn_poll_event(ew_ep_conn *c, ew_ep_conn_event *ev) {
    if (!c || !ev || c->evcount == 0)
        return 0;
    *ev = c->evq[c->evhead];
    c->evhead = (c->evhead + 1) % EVQ_CAP;
    c->evcount--;
    if (c->evcount == 0)
        c->view_pending = 0;
    return 1;
}

size_t ew_ep_conn_send_data(ew_ep_conn *c, const uint8_t **out) {
    if (!c || !out || c->dead)
        return 0;
    *out = c->out + c->out_off;
    return c->out_len;
}

void ew_ep_conn_send_done(ew_ep_conn *c, size_t n) {
    if (!c)
        return;
    if (n > c->out_len)
        n = c->out_len;
    c->out_off += n;
    c->out_len -= n;
    if (c->out_len == 0)
        c->out_off = 0;
}

int ew_ep_conn_active(const ew_ep_conn *c) {
    return c && !c->dead && c->state == ST_ACTIVE;
}

int ew_ep_conn_want_close(const ew_ep_conn *c) {
    return !c || c->dead || c->state == ST_CLOSED;
}

int ew_ep_conn_error(const ew_ep_conn *c) {
    return c ? c->err : EW_ERR_INVAL;
}

const char *ew_ep_conn_error_detail(const ew_ep_conn *c) {
    if (!c)
        return "";
    return c->err == EW_OK ? "" : c->detail;
}

void ew_ep_conn_get_stats(const ew_ep_conn *c, ew_ep_conn_stats *st) {
    if (c && st)
        *st = c->st;
}

ew_bytes ew_ep_conn_peer_identity(const ew_ep_conn *c) {
    if (!c)
        return (ew_bytes){NULL, 0};
    return id_view(&c->peer_id);
}

ew_bytes ew_ep_conn_peer_tenant(const ew_ep_conn *c) {
    if (!c)
        return (ew_bytes){NULL, 0};
    return id_view(&c->peer_tenant);
}

ew_bytes ew_ep_conn_peer_provider(const ew_ep_conn *c) {
    if (!c)
        return (ew_bytes){NULL, 0};
    return id_view(&c->peer_provider);
}

/* ---- duplicate connections (ep.md §6.3) ------------------------------------ */

static int bytes_cmp(ew_bytes a, ew_bytes b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

int ew_ep_dup_keep(ew_bytes local, ew_bytes peer, const ew_ep_dup_side *a,
                   const ew_ep_dup_side *b) {
    if (!a || !b)
        return 0;
    int cmp = bytes_cmp(local, peer);
    if ((a->we_opened != 0) != (b->we_opened != 0) && cmp != 0) {
        /* Different openers: keep the one opened by the lower identity. */
        int local_lower = cmp < 0;
        int a_by_local = a->we_opened != 0;
        return a_by_local == local_lower ? 0 : 1;
    }
    /* Same opener (a reconnect racing an old session): keep the newer. */
    return b->established_ms > a->established_ms ? 1 : 0;
}

int ew_ep_conn_is_duplicate(const ew_ep_conn *a, const ew_ep_conn *b) {
    if (!a || !b || a == b || !ew_ep_conn_active(a) || !ew_ep_conn_active(b))
        return 0;
    return id_eq(&a->peer_id, &b->peer_id) && id_eq(&a->peer_tenant, &b->peer_tenant) &&
           id_eq(&a->peer_provider, &b->peer_provider) &&
           a->peer_tenant.set == b->peer_tenant.set && a->peer_provider.set == b->peer_provider.set;
}

int ew_ep_conn_dup_keep(const ew_ep_conn *a, const ew_ep_conn *b) {
    if (!a || !b)
        return 0;
    ew_ep_dup_side sa = {a->role == EW_EP_ROLE_INITIATOR, a->established};
    ew_ep_dup_side sb = {b->role == EW_EP_ROLE_INITIATOR, b->established};
    return ew_ep_dup_keep(id_view(&a->local_id), id_view(&a->peer_id), &sa, &sb);
}
