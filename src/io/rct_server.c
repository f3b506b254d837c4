/*
 * RCT server on libuv (the device side, for simulators and tests): every
 * connection is an ew_rct_sim_peer of one shared simulator, so several
 * clients are served at once and several frames in one TCP segment are
 * answered in order (rct.md §11 Q15).  Faults (EW_RCT_SIM_FAULT_*) apply to
 * every N-th request of a connection and can be switched at runtime.
 */
#include "io/io_int.h"

#include <energywire/io_rct.h>

#include <stdlib.h>
#include <string.h>

typedef struct speer {
    struct speer *next;
    ew_rct_server *srv;
    uv_tcp_t tcp;
    ew_rct_sim_peer *peer;
    int closing, paused;
    size_t pend_off, pend_len; /* received bytes the peer did not take yet */
    char name[EW_IO_HOSTPORT_LEN];
    uint8_t rbuf[4096];
} speer;

typedef struct swreq {
    uv_write_t req;
    speer *p;
    uint8_t data[];
} swreq;

struct ew_rct_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listening, deleting, handles_open;
    char host[64];
    uint16_t port, bound_port;
    ew_rct_sim *sim;
    unsigned max_clients, faults, fault_every;
    void (*log)(void *user, int level, const char *msg);
    void *user;
    speer *peers;
    size_t npeers;
    unsigned peers_open;
    uint64_t requests;
    char detail[EW_IO_DETAIL_LEN];
};

static void maybe_free(ew_rct_server *s) {
    if (s->deleting && !s->handles_open && !s->peers_open)
        free(s);
}

static void peer_closed(uv_handle_t *h) {
    speer *p = h->data;
    ew_rct_server *s = p->srv;
    free(p);
    s->peers_open--;
    maybe_free(s);
}

static void peer_close(speer *p, const char *why) {
    if (p->closing)
        return;
    p->closing = 1;
    ew_rct_server *s = p->srv;
    for (speer **pp = &s->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            s->npeers--;
            break;
        }
    ew_rct_sim_peer_del(p->peer);
    p->peer = NULL;
    if (!s->deleting)
        ew_io_logf(s->log, s->user, 2, "client %s disconnected: %s", p->name, why);
    uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

static void feed(speer *p);
static void salloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void sread_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void swrite_cb(uv_write_t *req, int status) {
    swreq *w = (swreq *)(void *)req;
    speer *p = w->p;
    free(w);
    if (p->closing)
        return;
    if (status < 0)
        peer_close(p, uv_strerror(status));
    else if (p->paused) {
        feed(p); /* the send buffer had been full */
        if (!p->closing && p->pend_off == p->pend_len) {
            p->paused = 0;
            uv_read_start((uv_stream_t *)&p->tcp, salloc_cb, sread_cb);
        }
    }
}

static void flush(speer *p) {
    const uint8_t *out;
    size_t n;
    while (!p->closing && (n = ew_rct_sim_peer_send_data(p->peer, &out)) > 0) {
        swreq *w = malloc(sizeof *w + n);
        if (!w) {
            peer_close(p, "out of memory");
            return;
        }
        memcpy(w->data, out, n);
        w->p = p;
        ew_rct_sim_peer_send_done(p->peer, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
        int rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, swrite_cb);
        if (rc < 0) {
            free(w);
            peer_close(p, uv_strerror(rc));
            return;
        }
    }
}

/*
 * Gives the pending bytes to the peer one at a time, so that the faults can
 * be chosen per request (the peer counts a request when its last byte
 * arrives); answers are written as they are produced.
 */
static void feed(speer *p) {
    ew_rct_server *s = p->srv;
    while (!p->closing && p->pend_off < p->pend_len) {
        unsigned long before = ew_rct_sim_peer_requests(p->peer);
        unsigned every = s->fault_every ? s->fault_every : 1;
        unsigned faults = (before + 1) % every == 0 ? s->faults : 0;
        size_t n = ew_rct_sim_peer_recv(p->peer, p->rbuf + p->pend_off, 1, faults);
        if (ew_rct_sim_peer_requests(p->peer) != before)
            s->requests++;
        if (n == 0) {
            flush(p);
            if (p->closing)
                return;
            n = ew_rct_sim_peer_recv(p->peer, p->rbuf + p->pend_off, 1, faults);
            if (n == 0)
                return; /* wait for the writes to finish (swrite_cb) */
        }
        p->pend_off += n;
    }
    flush(p);
}

static void salloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
    speer *p = h->data;
    (void)hint;
    *buf = uv_buf_init((char *)p->rbuf, sizeof p->rbuf);
}

static void sread_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    speer *p = st->data;
    (void)buf;
    if (p->closing || nread == 0)
        return;
    if (nread < 0) {
        peer_close(p, nread == UV_EOF ? "closed by the client" : uv_strerror((int)nread));
        return;
    }
    p->pend_off = 0;
    p->pend_len = (size_t)nread;
    feed(p);
    /* Stop reading while bytes wait for room in the send buffer. */
    if (!p->closing && p->pend_off < p->pend_len) {
        p->paused = 1;
        uv_read_stop(st);
    }
}

static void on_connection(uv_stream_t *l, int status) {
    ew_rct_server *s = l->data;
    if (status < 0 || s->deleting)
        return;
    speer *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->srv = s;
    uv_tcp_init(s->loop, &p->tcp);
    p->tcp.data = p;
    s->peers_open++;
    if (uv_accept(l, (uv_stream_t *)&p->tcp) < 0) {
        p->closing = 1;
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&p->tcp, (struct sockaddr *)&ss, &len) == 0)
        ew_io_sockaddr_name((struct sockaddr *)&ss, p->name, sizeof p->name);
    else
        ew_io_fmt(p->name, sizeof p->name, "?");
    if (s->npeers >= s->max_clients || ew_rct_sim_peer_new(s->sim, &p->peer) != EW_OK) {
        ew_io_logf(s->log, s->user, 1, "client %s refused: %zu clients connected", p->name,
                   s->npeers);
        p->closing = 1;
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
        return;
    }
    p->next = s->peers;
    s->peers = p;
    s->npeers++;
    uv_tcp_nodelay(&p->tcp, 1);
    ew_io_logf(s->log, s->user, 2, "client %s connected", p->name);
    if (uv_read_start((uv_stream_t *)&p->tcp, salloc_cb, sread_cb) < 0)
        peer_close(p, "cannot read");
}

void ew_rct_server_opts_init(ew_rct_server_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = EW_RCT_PORT;
    o->max_clients = 16;
}

int ew_rct_server_new(ew_rct_server **out, void *uv_loop, const ew_rct_server_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!uv_loop || !o || !o->sim)
        return EW_ERR_INVAL;
    const char *host = o->host ? o->host : "127.0.0.1";
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    if (strlen(host) >= 64 || (uv_ip4_addr(host, 0, &a4) != 0 && uv_ip6_addr(host, 0, &a6) != 0))
        return EW_ERR_INVAL;
    ew_rct_server *s = calloc(1, sizeof *s);
    if (!s)
        return EW_ERR_NOMEM;
    s->loop = uv_loop;
    ew_io_fmt(s->host, sizeof s->host, "%s", host);
    s->port = o->port;
    s->sim = o->sim;
    s->max_clients = o->max_clients ? o->max_clients : 16;
    s->faults = o->faults;
    s->fault_every = o->fault_every;
    s->log = o->log;
    s->user = o->user;
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->handles_open = 1;
    *out = s;
    return EW_OK;
}

int ew_rct_server_listen(ew_rct_server *s) {
    if (!s || s->deleting || s->listening)
        return EW_ERR_STATE;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(s->host, s->port, (struct sockaddr_in *)&ss) != 0)
        uv_ip6_addr(s->host, s->port, (struct sockaddr_in6 *)&ss);
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
    char hp[EW_IO_HOSTPORT_LEN];
    ew_io_hostport(hp, sizeof hp, s->host, s->port);
    if (rc < 0) {
        ew_io_fmt(s->detail, sizeof s->detail, "cannot listen on %s: %s", hp, uv_strerror(rc));
        return EW_IO_ERR_SOCKET;
    }
    struct sockaddr_storage b;
    int len = sizeof b;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&b, &len) == 0)
        s->bound_port =
            ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)(void *)&b)->sin6_port
                                          : ((struct sockaddr_in *)(void *)&b)->sin_port);
    s->listening = 1;
    return EW_OK;
}

uint16_t ew_rct_server_port(const ew_rct_server *s) {
    return s && s->listening ? s->bound_port : 0;
}

void ew_rct_server_set_faults(ew_rct_server *s, unsigned faults, unsigned fault_every) {
    s->faults = faults;
    s->fault_every = fault_every;
}

size_t ew_rct_server_peer_count(const ew_rct_server *s) {
    return s->npeers;
}

uint64_t ew_rct_server_requests(const ew_rct_server *s) {
    return s->requests;
}

const char *ew_rct_server_error_detail(const ew_rct_server *s) {
    return s->detail[0] ? s->detail : "no error";
}

static void listener_closed(uv_handle_t *h) {
    ew_rct_server *s = h->data;
    s->handles_open--;
    maybe_free(s);
}

void ew_rct_server_del(ew_rct_server *s) {
    if (!s || s->deleting)
        return;
    s->deleting = 1;
    while (s->peers)
        peer_close(s->peers, "server stopped");
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}
