/*
 * RSCP session (ew_rscp_conn_*): a client conn and a server conn wired
 * together in memory with a fake clock; no sockets, no sleeps.
 *
 * The harness moves what one side's send_data() offers onto a "wire", hands
 * it to the other side's recv() whole, byte by byte, in fixed chunks or split
 * at random points (seeded tu_rand), polls events after every recv and lets a
 * small server answer them: LOGIN against a user table, REQUEST with one
 * answer value per request value (tag | 0x00800000, UInt32 counter; Error 2
 * for TAG_DENY; RSCP_USER_LEVEL for RSCP_REQ_USER_LEVEL), optionally holding
 * answers and giving them last-first.  Every byte a side sends is also run
 * through an independent ew_rscp_stream to check that send_data() hands out
 * whole encrypted frames and that no frame ends in a 0x00 CRC byte.
 *
 * Covered: login and queued requests, wrong password, wrong RSCP key (both
 * sides), undecryptable input, device errors, requests before login on the
 * server, pipelining and answer order, queue bounds, request/login/idle
 * timeouts, keep-alive, peer and local close, a corrupted answer, whole
 * frames, CRC top byte, feeding-pattern independence and failmalloc.
 */
#include "testutil.h"

#include <energywire/rscp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "energywire unit-test key"
#define OTHER_KEY "a different rscp key"
#define RESP EW_RSCP_TAG_RESPONSE_BIT
#define TAG_REQ_USER_LEVEL 0x00000004u
#define TAG_USER_LEVEL 0x00800004u
/* Request tags made up for the tests (the codec treats unknown tags as raw). */
#define TAG_BASE 0x0A000100u
/* The test server answers this tag with Error 2 (ACCESS_DENIED). */
#define TAG_DENY 0x0A0000FFu

static const struct {
    const char *user, *password;
    int level;
} users[] = {
    {"alice@example.com", "secret-portal-password", 10},
    {"installer", "pw2", 20},
};

/* ---- byte buffers ------------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void bytes_add(bytes *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void bytes_drop(bytes *b, size_t n) {
    assert_true(n <= b->len);
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void bytes_free(bytes *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- a failing allocator ------------------------------------------------ */

/* Allocation number |fail_at| (1-based, counting malloc and realloc) fails;
 * |live| counts blocks not yet freed. */
typedef struct fmem {
    ew_mem mem;
    long count, fail_at, live;
    int failed;
} fmem;

static void *fm_malloc(size_t n, void *user) {
    fmem *f = user;
    if (++f->count == f->fail_at) {
        f->failed = 1;
        return NULL;
    }
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}

static void *fm_realloc(void *p, size_t n, void *user) {
    fmem *f = user;
    if (++f->count == f->fail_at) {
        f->failed = 1;
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}

static void fm_free(void *p, void *user) {
    fmem *f = user;
    if (p) {
        f->live--;
        free(p);
    }
}

static void fm_init(fmem *f, long fail_at) {
    memset(f, 0, sizeof *f);
    f->mem.malloc_fn = fm_malloc;
    f->mem.realloc_fn = fm_realloc;
    f->mem.free_fn = fm_free;
    f->mem.user = f;
    f->fail_at = fail_at;
}

/* ---- ciphers and hand-made frames ---------------------------------------- */

static void cipher_for(ew_rscp_cipher *c, const char *key) {
    uint8_t k[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(key, strlen(key), k);
    assert_int_equal(ew_rscp_cipher_init(c, k, EW_RSCP_CIPHER_AUTO), EW_OK);
}

/* A frame as decoded from a transcript: the whole plaintext frame. */
typedef struct frame_copy {
    uint8_t *p;
    size_t len;
    ew_rscp_frame f; /* views re-pointed into |p| */
} frame_copy;

static void frame_keep(frame_copy *out, const ew_rscp_frame *f) {
    out->len = f->frame_len;
    out->p = malloc(out->len);
    assert_non_null(out->p);
    memcpy(out->p, f->data - EW_RSCP_HEADER_LEN, out->len);
    out->f = *f;
    out->f.data = out->p + EW_RSCP_HEADER_LEN;
}

/* Decrypts a whole transcript of one direction with a fresh stream; every
 * frame must decode.  Returns the number of frames (caller frees them). */
static size_t decode_all(const char *key, const uint8_t *ct, size_t len, frame_copy **out) {
    ew_rscp_cipher ci;
    cipher_for(&ci, key);
    uint8_t *buf = malloc(EW_RSCP_STREAM_BUF_MIN);
    assert_non_null(buf);
    ew_rscp_stream s;
    assert_int_equal(ew_rscp_stream_init(&s, &ci, buf, EW_RSCP_STREAM_BUF_MIN, 0), EW_OK);
    size_t n = 0, cap = 0, off = 0;
    frame_copy *v = NULL;
    while (off < len) {
        int taken = ew_rscp_stream_feed(&s, ct + off, len - off);
        assert_true(taken >= 0);
        off += (size_t)taken;
        ew_rscp_frame f;
        ew_diag d = {0};
        int rc;
        while ((rc = ew_rscp_stream_next(&s, &f, &d)) == 1) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                v = realloc(v, cap * sizeof *v);
                assert_non_null(v);
            }
            frame_keep(&v[n++], &f);
        }
        if (rc < 0)
            fail_msg("transcript frame %zu does not decode: %s", n, ew_errname(rc));
    }
    assert_int_equal(ew_rscp_stream_finish(&s, NULL), EW_OK);
    free(buf);
    *out = v;
    return n;
}

static void frames_free(frame_copy *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i].p);
    free(v);
}

/* First top-level value of a value area. */
static ew_rscp_value first_value(const uint8_t *area, size_t len) {
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, area, len, 0);
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
    return v;
}

/* ---- the harness --------------------------------------------------------- */

enum feed_mode { FEED_WHOLE, FEED_BYTES, FEED_CHUNK, FEED_RANDOM };
enum { C2S = 0, S2C = 1 };

/* A client event, copied out of the connection. */
typedef struct rec {
    int type;
    uint32_t req_id;
    int err;
    int level;
    uint32_t device_error, error_tag;
    size_t len;
    int has0;
    uint32_t tag0;
    uint8_t type0;
    uint64_t u0;
    uint8_t head[64]; /* the first bytes of the answer's value area */
    ew_rscp_timestamp ts;
} rec;

/* A request the server has taken and answered but not yet handed back. */
typedef struct held_ans {
    uint32_t id;
    uint8_t *ans;
    size_t len;
} held_ans;

#define MAX_HELD 256

typedef struct net {
    ew_rscp_conn *cli, *srv;
    uint64_t now;
    int feed;
    size_t chunk;
    uint64_t rng;
    int short_writes;

    /* Per direction: bytes sent but not yet delivered, all bytes sent, delivery
     * paused, and whether the last send_done() took everything offered. */
    bytes wire[2], sent[2];
    int block[2];
    int aligned[2];

    /* Per direction: an independent decoder of what the sender produced. */
    int vok[2];
    ew_rscp_cipher vci[2];
    ew_rscp_stream vs[2];
    uint8_t *vbuf[2];
    size_t nframes[2], zero_tail[2];
    int keep;
    frame_copy *kept[2];
    size_t nkept[2], capkept[2];

    /* Client events. */
    rec *cev;
    size_t ncev, capcev;
    tu_log clog, slog;

    /* Server behaviour. */
    int hold_login;
    int silent;       /* take requests, never answer */
    unsigned reorder; /* answer in batches of |reorder|, the latest first */
    held_ans held[MAX_HELD];
    size_t nheld;
    uint32_t counter;
    size_t nsreq, nlogin;
    uint32_t sreq_id[MAX_HELD];
    uint32_t sreq_tag[MAX_HELD];
    char login_user[64], login_pw[64];
    int srv_closed, srv_err;

    /* Failmalloc bookkeeping: a call returned EW_ERR_NOMEM or a CLOSED event
     * carried it; |stop| ends the conversation (only _del is allowed). */
    int nomem;
    int stop;
} net;

static void net_init(net *n, int feed, size_t chunk, uint64_t seed) {
    memset(n, 0, sizeof *n);
    n->feed = feed;
    n->chunk = chunk ? chunk : 1;
    n->rng = seed ? seed : 1;
    n->aligned[0] = n->aligned[1] = 1;
    n->reorder = 1;
}

static void verify_init(net *n, int dir, const char *key) {
    cipher_for(&n->vci[dir], key);
    n->vbuf[dir] = malloc(EW_RSCP_STREAM_BUF_MIN);
    assert_non_null(n->vbuf[dir]);
    assert_int_equal(
        ew_rscp_stream_init(&n->vs[dir], &n->vci[dir], n->vbuf[dir], EW_RSCP_STREAM_BUF_MIN, 0),
        EW_OK);
    n->vok[dir] = 1;
}

static int net_client(net *n, const ew_rscp_conn_opts *o, const ew_mem *m) {
    /* Timers start at the harness clock, as a real driver passes its own. */
    ew_rscp_conn_opts oc = *o;
    oc.now_ms = n->now;
    int rc = ew_rscp_conn_new(&n->cli, &oc, m);
    if (rc == EW_OK) {
        assert_non_null(n->cli);
        verify_init(n, C2S, o->rscp_key);
    } else {
        assert_null(n->cli);
    }
    return rc;
}

static int net_server(net *n, const ew_rscp_conn_opts *o, const ew_mem *m) {
    ew_rscp_conn_opts os = *o;
    os.now_ms = n->now;
    int rc = ew_rscp_conn_new(&n->srv, &os, m);
    if (rc == EW_OK) {
        assert_non_null(n->srv);
        verify_init(n, S2C, o->rscp_key);
    } else {
        assert_null(n->srv);
    }
    return rc;
}

static void net_free(net *n) {
    ew_rscp_conn_del(n->cli);
    ew_rscp_conn_del(n->srv);
    n->cli = n->srv = NULL;
    for (int d = 0; d < 2; d++) {
        bytes_free(&n->wire[d]);
        bytes_free(&n->sent[d]);
        free(n->vbuf[d]);
        frames_free(n->kept[d], n->nkept[d]);
    }
    for (size_t i = 0; i < n->nheld; i++)
        free(n->held[i].ans);
    free(n->cev);
    free(tu_log_take(&n->clog));
    free(tu_log_take(&n->slog));
}

static ew_rscp_conn_opts cli_opts(const char *user, const char *password) {
    ew_rscp_conn_opts o;
    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_CLIENT);
    o.rscp_key = KEY;
    o.user = user;
    o.password = password;
    return o;
}

static ew_rscp_conn_opts srv_opts(void) {
    ew_rscp_conn_opts o;
    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_SERVER);
    o.rscp_key = KEY;
    return o;
}

/* Records a NOMEM result; any other failure fails the test. */
static int api_ok(net *n, int rc, const char *what) {
    if (rc == EW_ERR_NOMEM) {
        n->nomem = 1;
        n->stop = 1;
        return 0;
    }
    if (rc != EW_OK)
        fail_msg("%s returned %s", what, ew_errname(rc));
    return 1;
}

/* ---- server side of the harness ---- */

static size_t build_answer(net *n, const ew_rscp_event *ev, uint8_t **out) {
    size_t cap = 2 * ev->len + 64;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, buf, cap);
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, ev->data, ev->len, 0);
    int rc;
    while ((rc = ew_rscp_iter_next(&it, &v, NULL)) > 0) {
        uint32_t at = v.tag | RESP;
        if (v.tag == TAG_DENY)
            ew_rscp_builder_add_error(&b, at, EW_RSCP_ERR_ACCESS_DENIED);
        else if (v.tag == TAG_REQ_USER_LEVEL)
            ew_rscp_builder_add_uchar8(&b, TAG_USER_LEVEL, (uint8_t)ev->level);
        else if (v.type == EW_RSCP_TYPE_BYTEARRAY)
            ew_rscp_builder_add_bytes(&b, at, v.data, v.len);
        else
            ew_rscp_builder_add_uint32(&b, at, n->counter++);
    }
    assert_int_equal(rc, 0);
    size_t len = 0;
    assert_int_equal(ew_rscp_builder_finish(&b, &len), EW_OK);
    *out = buf;
    return len;
}

/* Hands back every held answer, the latest first (the session must still
 * send them in request order). */
static void srv_release(net *n) {
    while (n->nheld && !n->stop) {
        held_ans *h = &n->held[n->nheld - 1];
        int rc = ew_rscp_conn_respond(n->srv, h->id, h->ans, h->len);
        free(h->ans);
        n->nheld--;
        if (rc == EW_ERR_NOMEM || rc == EW_ERR_STATE) {
            /* NOMEM here, or the server already died of it while sending. */
            if (rc == EW_ERR_STATE)
                assert_int_equal(ew_rscp_conn_error(n->srv), EW_ERR_NOMEM);
            n->nomem = 1;
            n->stop = 1;
        } else {
            assert_int_equal(rc, EW_OK);
        }
    }
}

/* Hands back only the oldest held answer. */
static void srv_release_oldest(net *n) {
    assert_true(n->nheld > 0);
    held_ans h = n->held[0];
    memmove(n->held, n->held + 1, (n->nheld - 1) * sizeof n->held[0]);
    n->nheld--;
    assert_int_equal(ew_rscp_conn_respond(n->srv, h.id, h.ans, h.len), EW_OK);
    free(h.ans);
}

static void srv_event(net *n, const ew_rscp_event *ev) {
    switch (ev->type) {
    case EW_RSCP_EV_LOGIN: {
        n->nlogin++;
        snprintf(n->login_user, sizeof n->login_user, "%.*s", (int)ev->user.len,
                 (const char *)ev->user.ptr);
        snprintf(n->login_pw, sizeof n->login_pw, "%.*s", (int)ev->password.len,
                 (const char *)ev->password.ptr);
        int level = 0;
        for (size_t i = 0; i < sizeof users / sizeof users[0]; i++)
            if (strcmp(users[i].user, n->login_user) == 0 &&
                strcmp(users[i].password, n->login_pw) == 0)
                level = users[i].level;
        tu_logf(&n->slog, "S LOGIN %s %d;", n->login_user, level);
        if (n->hold_login)
            break;
        api_ok(n, ew_rscp_conn_login_result(n->srv, level), "login_result");
        break;
    }
    case EW_RSCP_EV_REQUEST: {
        ew_rscp_value v0 = first_value(ev->data, ev->len);
        if (n->nsreq < MAX_HELD) {
            n->sreq_id[n->nsreq] = ev->req_id;
            n->sreq_tag[n->nsreq] = v0.tag;
        }
        n->nsreq++;
        tu_logf(&n->slog, "S REQ %" PRIu32 " %08" PRIx32 " %zu L%d;", ev->req_id, v0.tag, ev->len,
                ev->level);
        if (n->silent)
            break;
        assert_true(n->nheld < MAX_HELD);
        held_ans *h = &n->held[n->nheld++];
        h->id = ev->req_id;
        h->len = build_answer(n, ev, &h->ans);
        if (n->nheld >= n->reorder)
            srv_release(n);
        break;
    }
    case EW_RSCP_EV_CLOSED:
        n->srv_closed = 1;
        n->srv_err = ev->err;
        if (ev->err == EW_ERR_NOMEM) {
            n->nomem = 1;
            n->stop = 1;
        }
        tu_logf(&n->slog, "S CLOSED %s;", ew_errname(ev->err));
        break;
    default:
        fail_msg("server got event type %d", (int)ev->type);
    }
}

/* ---- client side of the harness ---- */

static void cli_event(net *n, const ew_rscp_event *ev) {
    if (n->ncev == n->capcev) {
        n->capcev = n->capcev ? 2 * n->capcev : 64;
        n->cev = realloc(n->cev, n->capcev * sizeof *n->cev);
        assert_non_null(n->cev);
    }
    rec *r = &n->cev[n->ncev++];
    memset(r, 0, sizeof *r);
    r->type = (int)ev->type;
    r->req_id = ev->req_id;
    r->err = ev->err;
    r->level = ev->level;
    r->device_error = ev->device_error;
    r->error_tag = ev->error_tag;
    r->len = ev->len;
    r->ts = ev->ts;
    switch (ev->type) {
    case EW_RSCP_EV_AUTHENTICATED:
        tu_logf(&n->clog, "C AUTH %d;", ev->level);
        break;
    case EW_RSCP_EV_RESPONSE: {
        assert_true(ev->req_id != 0);
        if (ev->len) {
            assert_non_null(ev->data);
            memcpy(r->head, ev->data, ev->len < sizeof r->head ? ev->len : sizeof r->head);
            ew_rscp_value v = first_value(ev->data, ev->len);
            r->has0 = 1;
            r->tag0 = v.tag;
            r->type0 = v.type;
            if (v.type != EW_RSCP_TYPE_BYTEARRAY && v.type != EW_RSCP_TYPE_ERROR)
                assert_int_equal(ew_rscp_value_get_u64(&v, &r->u0), EW_OK);
            else
                r->u0 = v.len;
        }
        tu_logf(&n->clog, "C RESP %" PRIu32 " %08" PRIx32 " %u %" PRIu64 " E%" PRIu32 ";",
                ev->req_id, r->tag0, (unsigned)r->type0, r->u0, ev->device_error);
        break;
    }
    case EW_RSCP_EV_REQUEST_FAILED:
        assert_true(ev->req_id != 0);
        assert_true(ev->err < 0);
        tu_logf(&n->clog, "C FAIL %" PRIu32 " %s;", ev->req_id, ew_errname(ev->err));
        break;
    case EW_RSCP_EV_CLOSED:
        if (ev->err == EW_ERR_NOMEM) {
            n->nomem = 1;
            n->stop = 1;
        }
        tu_logf(&n->clog, "C CLOSED %s;", ew_errname(ev->err));
        break;
    default:
        fail_msg("client got event type %d", (int)ev->type);
    }
}

static void poll_side(net *n, int server) {
    ew_rscp_conn *c = server ? n->srv : n->cli;
    if (!c)
        return;
    ew_rscp_event ev;
    for (int guard = 0; ew_rscp_conn_poll_event(c, &ev) > 0; guard++) {
        assert_true(guard < 1000000);
        if (server)
            srv_event(n, &ev);
        else
            cli_event(n, &ev);
    }
}

/* Runs what a side sent through the independent decoder of that direction:
 * every frame must decode, none may end in 0x00 (rscp.md §5.5, §11.3), and
 * when |whole| the bytes must end on a frame boundary. */
static void verify_sent(net *n, int dir, const uint8_t *p, size_t len, int whole) {
    if (!n->vok[dir])
        return;
    size_t off = 0;
    do {
        int taken = ew_rscp_stream_feed(&n->vs[dir], p + off, len - off);
        assert_true(taken >= 0);
        off += (size_t)taken;
        ew_rscp_frame f;
        ew_diag d = {0};
        int rc;
        while ((rc = ew_rscp_stream_next(&n->vs[dir], &f, &d)) == 1) {
            n->nframes[dir]++;
            assert_true(f.has_crc);
            if (f.data[f.data_len + EW_RSCP_CRC_LEN - 1] == 0)
                n->zero_tail[dir]++;
            if (n->keep) {
                if (n->nkept[dir] == n->capkept[dir]) {
                    n->capkept[dir] = n->capkept[dir] ? 2 * n->capkept[dir] : 64;
                    n->kept[dir] = realloc(n->kept[dir], n->capkept[dir] * sizeof(frame_copy));
                    assert_non_null(n->kept[dir]);
                }
                frame_keep(&n->kept[dir][n->nkept[dir]++], &f);
            }
        }
        if (rc < 0)
            fail_msg("%s sent a frame that does not decode: %s", dir == C2S ? "client" : "server",
                     ew_errname(rc));
    } while (off < len);
    if (whole)
        assert_int_equal(ew_rscp_stream_finish(&n->vs[dir], NULL), EW_OK);
}

/* Moves everything a side offers onto its wire (send_data, send_done). */
static size_t take_out(net *n, int dir) {
    ew_rscp_conn *c = dir == C2S ? n->cli : n->srv;
    if (!c)
        return 0;
    size_t total = 0;
    for (;;) {
        const uint8_t *p = NULL;
        size_t len = ew_rscp_conn_send_data(c, &p);
        if (!len)
            break;
        assert_non_null(p);
        int fresh = n->aligned[dir];
        /* Each encrypted frame comes whole in one call (rscp.md §11.2). */
        if (fresh && len % EW_RSCP_BLOCK != 0)
            fail_msg("send_data offered %zu bytes, not whole 32-byte blocks", len);
        size_t k = len;
        if (n->short_writes && len > 1)
            k = 1 + (size_t)(tu_rand(&n->rng) % len);
        bytes_add(&n->wire[dir], p, k);
        bytes_add(&n->sent[dir], p, k);
        verify_sent(n, dir, p, k, fresh && k == len);
        ew_rscp_conn_send_done(c, k);
        n->aligned[dir] = k == len;
        total += k;
    }
    return total;
}

static size_t chunk_len(net *n, size_t left) {
    size_t k;
    switch (n->feed) {
    case FEED_BYTES:
        k = 1;
        break;
    case FEED_CHUNK:
        k = n->chunk;
        break;
    case FEED_RANDOM: {
        uint64_t r = tu_rand(&n->rng);
        k = (r & 1) ? 1 + (size_t)((r >> 8) % 40) : 1 + (size_t)((r >> 8) % left);
        break;
    }
    default:
        k = left;
    }
    return k < left ? k : left;
}

/* Delivers a wire to the receiving side in the feed pattern, polling the
 * receiver after every recv. */
static size_t deliver(net *n, int dir) {
    ew_rscp_conn *to = dir == C2S ? n->srv : n->cli;
    int to_server = dir == C2S;
    bytes *w = &n->wire[dir];
    if (n->block[dir] || !to || !w->len)
        return 0;
    size_t off = 0;
    while (off < w->len && !n->stop) {
        size_t k = chunk_len(n, w->len - off);
        int rc = ew_rscp_conn_recv(to, w->p + off, k, n->now);
        if (rc == EW_ERR_DEAD) {
            assert_int_equal(ew_rscp_conn_error(to), EW_ERR_NOMEM);
            off = w->len;
            break;
        }
        assert_true(rc >= 0 && (size_t)rc <= k);
        off += (size_t)rc;
        poll_side(n, to_server);
        if ((size_t)rc < k) {
            if (ew_rscp_conn_want_close(to)) {
                /* A closed side takes nothing more: the bytes are dropped. */
                off = w->len;
                break;
            }
            if (rc == 0)
                break; /* back-pressure: try again on the next round */
        }
    }
    bytes_drop(w, off);
    return off;
}

/* Runs both sides until nothing moves. */
static void pump(net *n) {
    for (int guard = 0; guard < 1000000; guard++) {
        poll_side(n, 0);
        poll_side(n, 1);
        if (n->stop)
            return;
        size_t moved = take_out(n, C2S) + take_out(n, S2C);
        moved += deliver(n, C2S);
        moved += deliver(n, S2C);
        if (!moved || n->stop) {
            poll_side(n, 0);
            poll_side(n, 1);
            return;
        }
    }
    fail_msg("the conversation does not settle");
}

/* Client: submits one None request per tag; returns the submit result. */
static int submit_tags(net *n, const uint32_t *tags, size_t k, uint32_t *id) {
    uint8_t buf[1024];
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, buf, sizeof buf);
    assert_int_equal(ew_rscp_req_tags(&b, tags, k), EW_OK);
    size_t len = 0;
    assert_int_equal(ew_rscp_builder_finish(&b, &len), EW_OK);
    *id = 0;
    return ew_rscp_conn_submit(n->cli, buf, len, n->now, id);
}

static uint32_t submit1(net *n, uint32_t tag) {
    uint32_t id;
    assert_int_equal(submit_tags(n, &tag, 1, &id), EW_OK);
    assert_true(id != 0);
    return id;
}

static const rec *find_ev(const net *n, int type, uint32_t id) {
    for (size_t i = 0; i < n->ncev; i++)
        if (n->cev[i].type == type && (type == EW_RSCP_EV_AUTHENTICATED ||
                                       type == EW_RSCP_EV_CLOSED || n->cev[i].req_id == id))
            return &n->cev[i];
    return NULL;
}

static void expect_ev(const net *n, size_t i, int type, uint32_t id, int err) {
    if (i >= n->ncev)
        fail_msg("expected client event %zu (type %d), have only %zu", i, type, n->ncev);
    const rec *r = &n->cev[i];
    assert_int_equal(r->type, type);
    if (type != EW_RSCP_EV_AUTHENTICATED && type != EW_RSCP_EV_CLOSED)
        assert_int_equal(r->req_id, id);
    assert_int_equal(r->err, err);
}

static void expect_detail(const ew_rscp_conn *c, const char *needle) {
    const char *d = ew_rscp_conn_error_detail(c);
    assert_non_null(d);
    if (!strstr(d, needle))
        fail_msg("error detail \"%s\" does not mention \"%s\"", d, needle);
}

/* A logged-in pair with the given client and server options. */
static void net_login(net *n, const ew_rscp_conn_opts *co, const ew_rscp_conn_opts *so) {
    assert_int_equal(net_server(n, so, NULL), EW_OK);
    assert_int_equal(net_client(n, co, NULL), EW_OK);
    pump(n);
    expect_ev(n, 0, EW_RSCP_EV_AUTHENTICATED, 0, EW_OK);
    assert_true(ew_rscp_conn_authenticated(n->cli));
    assert_true(ew_rscp_conn_authenticated(n->srv));
}

/* ---- a hand-driven client for server tests -------------------------------- */

typedef struct hand {
    ew_rscp_cipher ci;
    ew_rscp_encryptor enc;
    ew_rscp_stream rx;
    uint8_t *rxbuf;
} hand;

static void hand_init(hand *h, const char *key) {
    cipher_for(&h->ci, key);
    ew_rscp_encryptor_init(&h->enc, &h->ci);
    h->rxbuf = malloc(EW_RSCP_STREAM_BUF_MIN);
    assert_non_null(h->rxbuf);
    assert_int_equal(ew_rscp_stream_init(&h->rx, &h->ci, h->rxbuf, EW_RSCP_STREAM_BUF_MIN, 0),
                     EW_OK);
}

static void hand_free(hand *h) {
    free(h->rxbuf);
}

/* Seals the frame in |b| and feeds it to |srv|. */
static void hand_send_frame(hand *h, ew_rscp_builder *b, ew_rscp_conn *srv) {
    ew_rscp_timestamp ts = {1700000000, 0};
    size_t len = 0;
    assert_int_equal(ew_rscp_builder_finish_frame(b, ts, 1, &len), EW_OK);
    int ct = ew_rscp_encryptor_seal(&h->enc, b->buf, len, b->cap);
    assert_true(ct > 0 && ct % EW_RSCP_BLOCK == 0);
    assert_int_equal(ew_rscp_conn_recv(srv, b->buf, (size_t)ct, 0), ct);
}

/* A request frame: one None value per tag, then optionally a container. */
static void hand_send_request(hand *h, ew_rscp_conn *srv, const uint32_t *tags, size_t k,
                              int container) {
    uint8_t buf[2048];
    ew_rscp_builder b;
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    for (size_t i = 0; i < k; i++)
        ew_rscp_builder_add_none(&b, tags[i]);
    if (container) {
        ew_rscp_builder_open(&b, 0x03040000u); /* BAT_REQ_DATA-like container */
        ew_rscp_builder_add_uint16(&b, 0x03040001u, 0);
        ew_rscp_builder_add_none(&b, 0x03000002u);
        ew_rscp_builder_close(&b);
    }
    hand_send_frame(h, &b, srv);
}

static void hand_send_login(hand *h, ew_rscp_conn *srv, const char *user, const char *pw) {
    uint8_t buf[512];
    ew_rscp_builder b;
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    ew_rscp_req_auth(&b, user, pw);
    hand_send_frame(h, &b, srv);
}

/* Takes everything |srv| sends and decodes exactly one frame from it. */
static frame_copy hand_recv_one(hand *h, ew_rscp_conn *srv) {
    const uint8_t *p;
    size_t len = ew_rscp_conn_send_data(srv, &p);
    assert_true(len > 0 && len % EW_RSCP_BLOCK == 0);
    assert_int_equal(ew_rscp_stream_feed(&h->rx, p, len), (int)len);
    ew_rscp_conn_send_done(srv, len);
    ew_rscp_frame f;
    assert_int_equal(ew_rscp_stream_next(&h->rx, &f, NULL), 1);
    frame_copy fc;
    frame_keep(&fc, &f);
    assert_int_equal(ew_rscp_stream_next(&h->rx, &f, NULL), 0);
    assert_int_equal(ew_rscp_stream_finish(&h->rx, NULL), EW_OK);
    return fc;
}

/* Checks that |fc| answers each request value with tag | RESP and Error 2. */
static void expect_denied(const frame_copy *fc, const uint32_t *tags, size_t k) {
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, fc->f.data, fc->f.data_len, 0);
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
        assert_int_equal(v.tag, tags[i] | RESP);
        assert_int_equal(v.type, EW_RSCP_TYPE_ERROR);
        uint32_t code = 0;
        assert_int_equal(ew_rscp_value_get_error(&v, &code), EW_OK);
        assert_int_equal(code, EW_RSCP_ERR_ACCESS_DENIED);
    }
    assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 0);
}

/* ---- tests: options ----------------------------------------------------- */

static void test_new_invalid(void **state) {
    (void)state;
    static int sentinel;
    ew_rscp_conn *c = (ew_rscp_conn *)(void *)&sentinel; /* must come back NULL */
    ew_rscp_conn_opts o = cli_opts("u", "p");
    o.rscp_key = NULL;
    assert_int_equal(ew_rscp_conn_new(&c, &o, NULL), EW_ERR_INVAL);
    assert_null(c);
    o = cli_opts(NULL, "p");
    assert_int_equal(ew_rscp_conn_new(&c, &o, NULL), EW_ERR_INVAL);
    o = cli_opts("u", NULL);
    assert_int_equal(ew_rscp_conn_new(&c, &o, NULL), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_conn_new(&c, NULL, NULL), EW_ERR_INVAL);
    /* A server needs no user. */
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(ew_rscp_conn_new(&c, &so, NULL), EW_OK);
    assert_false(ew_rscp_conn_authenticated(c));
    assert_int_equal(ew_rscp_conn_error(c), EW_OK);
    assert_int_equal(ew_rscp_conn_pending(c), 0);
    const uint8_t *p;
    assert_int_equal(ew_rscp_conn_send_data(c, &p), 0);
    ew_rscp_conn_del(c);
    ew_rscp_conn_del(NULL);
}

/* ---- tests: login --------------------------------------------------------- */

static void test_login_and_requests(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    n.keep = 1;
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    ew_rscp_timestamp sts = {1700000123, 456000000};
    ew_rscp_conn_set_time(n.srv, sts);
    assert_false(ew_rscp_conn_authenticated(n.cli));
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_OK);
    assert_string_equal(ew_rscp_conn_error_detail(n.cli), "no error");

    /* Requests submitted before the login wait for it. */
    uint32_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = submit1(&n, TAG_BASE + (uint32_t)i);
    assert_true(id[0] != id[1] && id[1] != id[2] && id[0] != id[2]);

    /* Only the login goes out first: one frame, REQ_AUTHENTICATION{USER, PW}. */
    assert_true(take_out(&n, C2S) > 0);
    assert_int_equal(n.nframes[C2S], 1);
    assert_int_equal(take_out(&n, C2S), 0);
    ew_rscp_value v = first_value(n.kept[C2S][0].f.data, n.kept[C2S][0].f.data_len);
    assert_int_equal(v.tag, EW_RSCP_TAG_REQ_AUTHENTICATION);
    assert_int_equal(v.type, EW_RSCP_TYPE_CONTAINER);

    pump(&n);
    assert_int_equal(n.nlogin, 1);
    assert_string_equal(n.login_user, users[0].user);
    assert_string_equal(n.login_pw, users[0].password);

    assert_int_equal(n.ncev, 4);
    expect_ev(&n, 0, EW_RSCP_EV_AUTHENTICATED, 0, EW_OK);
    assert_int_equal(n.cev[0].level, 10);
    assert_int_equal(n.cev[0].ts.seconds, sts.seconds);
    for (int i = 0; i < 3; i++) {
        const rec *r = &n.cev[1 + i];
        expect_ev(&n, 1 + (size_t)i, EW_RSCP_EV_RESPONSE, id[i], EW_OK);
        assert_true(r->has0);
        assert_int_equal(r->tag0, (TAG_BASE + (uint32_t)i) | RESP);
        assert_int_equal(r->type0, EW_RSCP_TYPE_UINT32);
        assert_int_equal(r->u0, (uint64_t)i);
        assert_int_equal(r->len, EW_RSCP_TLV_HEADER_LEN + 4);
        uint8_t want[EW_RSCP_TLV_HEADER_LEN + 4];
        ew_rscp_builder b;
        size_t wl = 0;
        ew_rscp_builder_init(&b, want, sizeof want);
        ew_rscp_builder_add_uint32(&b, (TAG_BASE + (uint32_t)i) | RESP, (uint32_t)i);
        assert_int_equal(ew_rscp_builder_finish(&b, &wl), EW_OK);
        assert_memory_equal(r->head, want, sizeof want);
        assert_int_equal(r->device_error, 0);
        assert_int_equal(r->error_tag, 0);
        assert_int_equal(r->ts.seconds, sts.seconds);
    }
    assert_int_equal(n.nsreq, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(n.sreq_tag[i], TAG_BASE + (uint32_t)i);
    /* The server reports the user level with each request. */
    assert_non_null(strstr(n.slog.s, " L10;"));

    assert_true(ew_rscp_conn_authenticated(n.cli));
    assert_true(ew_rscp_conn_authenticated(n.srv));
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_false(ew_rscp_conn_want_close(n.cli));
    assert_false(ew_rscp_conn_want_close(n.srv));
    /* Idle without keep-alive or idle timeout: no timer runs. */
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), UINT64_MAX);
    assert_int_equal(ew_rscp_conn_next_deadline(n.srv), UINT64_MAX);

    /* Calls for the other role are refused. */
    uint32_t bogus;
    uint8_t none[EW_RSCP_TLV_HEADER_LEN] = {0};
    assert_int_equal(ew_rscp_conn_submit(n.srv, none, sizeof none, 0, &bogus), EW_ERR_STATE);
    assert_int_equal(ew_rscp_conn_login_result(n.cli, 10), EW_ERR_STATE);
    assert_int_equal(ew_rscp_conn_respond(n.cli, id[0], none, sizeof none), EW_ERR_STATE);
    /* A second login decision, and answers to unknown ids, too. */
    assert_int_equal(ew_rscp_conn_login_result(n.srv, 10), EW_ERR_STATE);
    assert_int_equal(ew_rscp_conn_respond(n.srv, 9999, none, sizeof none), EW_ERR_STATE);
    net_free(&n);
}

static void test_wrong_password(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, "not the password");
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    uint32_t a = submit1(&n, TAG_BASE), b = submit1(&n, TAG_BASE + 1);
    pump(&n);

    assert_int_equal(n.nlogin, 1);
    assert_string_equal(n.login_pw, "not the password");
    assert_int_equal(n.nsreq, 0); /* the queued requests never went out */
    assert_int_equal(n.nframes[C2S], 1);

    assert_int_equal(n.ncev, 3);
    expect_ev(&n, 0, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_AUTH);
    expect_ev(&n, 1, EW_RSCP_EV_REQUEST_FAILED, b, EW_ERR_AUTH);
    expect_ev(&n, 2, EW_RSCP_EV_CLOSED, 0, EW_ERR_AUTH);
    assert_false(ew_rscp_conn_authenticated(n.cli));
    assert_false(ew_rscp_conn_authenticated(n.srv));
    assert_true(ew_rscp_conn_want_close(n.cli));
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_ERR_AUTH);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), UINT64_MAX);
    assert_int_equal(submit_tags(&n, (const uint32_t[]){TAG_BASE}, 1, &a), EW_ERR_STATE);

    /* The server answered RSCP_AUTHENTICATION as Int32 0 (rscp.md §7.2). */
    frame_copy *fr;
    size_t nf = decode_all(KEY, n.sent[S2C].p, n.sent[S2C].len, &fr);
    assert_int_equal(nf, 1);
    ew_rscp_value v = first_value(fr[0].f.data, fr[0].f.data_len);
    assert_int_equal(v.tag, EW_RSCP_TAG_AUTHENTICATION);
    assert_int_equal(v.type, EW_RSCP_TYPE_INT32);
    assert_int_equal(v.len, 4);
    int64_t level = -1;
    assert_int_equal(ew_rscp_value_get_i64(&v, &level), EW_OK);
    assert_int_equal(level, 0);
    assert_int_equal(ew_rscp_auth_level(fr[0].f.data, fr[0].f.data_len, NULL), EW_ERR_AUTH);
    frames_free(fr, nf);
    net_free(&n);
}

static void test_second_user_level(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_BYTES, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[1].user, users[1].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    assert_int_equal(n.cev[0].level, 20);
    net_free(&n);
}

static void test_wrong_key(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    so.rscp_key = OTHER_KEY;
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    uint32_t a = submit1(&n, TAG_BASE);
    pump(&n);

    /* The server cannot decrypt the login. */
    assert_true(n.srv_closed);
    assert_int_equal(n.srv_err, EW_ERR_DECRYPT);
    assert_int_equal(n.nlogin, 0);
    assert_true(ew_rscp_conn_want_close(n.srv));
    assert_int_equal(ew_rscp_conn_error(n.srv), EW_ERR_DECRYPT);
    expect_detail(n.srv, "RSCP key");
    assert_int_equal(n.sent[S2C].len, 0); /* not a word back, as devices do */
    /* More bytes are not taken. */
    uint8_t junk[32] = {0};
    assert_int_equal(ew_rscp_conn_recv(n.srv, junk, sizeof junk, 0), 0);

    /* The client hears nothing until the server closes the socket. */
    assert_int_equal(n.ncev, 0);
    ew_rscp_conn_recv_eof(n.cli, 10);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 2);
    expect_ev(&n, 0, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_DECRYPT);
    expect_ev(&n, 1, EW_RSCP_EV_CLOSED, 0, EW_ERR_DECRYPT);
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_ERR_DECRYPT);
    expect_detail(n.cli, "RSCP key");
    assert_true(ew_rscp_conn_want_close(n.cli));
    net_free(&n);
}

static void test_client_undecryptable(void **state) {
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        net n;
        net_init(&n, FEED_WHOLE, 0, 0);
        ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
        assert_int_equal(net_client(&n, &co, NULL), EW_OK);
        uint32_t a = submit1(&n, TAG_BASE);
        take_out(&n, C2S);

        uint8_t buf[128];
        size_t len;
        if (variant == 0) {
            /* A correct login answer, but encrypted with another key. */
            hand h;
            hand_init(&h, OTHER_KEY);
            ew_rscp_builder b;
            ew_rscp_builder_init_frame(&b, buf, sizeof buf);
            ew_rscp_builder_add_uchar8(&b, EW_RSCP_TAG_AUTHENTICATION, 10);
            ew_rscp_timestamp ts = {1700000000, 0};
            assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &len), EW_OK);
            int ct = ew_rscp_encryptor_seal(&h.enc, buf, len, sizeof buf);
            assert_int_equal(ct, 32);
            len = (size_t)ct;
            hand_free(&h);
        } else {
            uint64_t rng = 77;
            len = 64;
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)tu_rand(&rng);
        }
        assert_int_equal(ew_rscp_conn_recv(n.cli, buf, len, 5), (int)len);
        poll_side(&n, 0);
        assert_int_equal(n.ncev, 2);
        expect_ev(&n, 0, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_DECRYPT);
        expect_ev(&n, 1, EW_RSCP_EV_CLOSED, 0, EW_ERR_DECRYPT);
        expect_detail(n.cli, "RSCP key");
        assert_true(ew_rscp_conn_want_close(n.cli));
        assert_false(ew_rscp_conn_authenticated(n.cli));
        /* Closed: nothing more is taken and the eof adds nothing. */
        assert_int_equal(ew_rscp_conn_recv(n.cli, buf, len, 6), 0);
        ew_rscp_conn_recv_eof(n.cli, 7);
        poll_side(&n, 0);
        assert_int_equal(n.ncev, 2);
        net_free(&n);
    }
}

/* ---- tests: device errors and the server before login ------------------- */

static void test_access_denied(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    uint32_t a = submit1(&n, TAG_DENY);
    uint32_t b = submit1(&n, TAG_BASE);
    pump(&n);
    assert_int_equal(n.ncev, 3);
    const rec *r = find_ev(&n, EW_RSCP_EV_RESPONSE, a);
    assert_non_null(r);
    assert_int_equal(r->device_error, EW_RSCP_ERR_ACCESS_DENIED);
    assert_int_equal(r->error_tag, TAG_DENY | RESP);
    assert_int_equal(r->type0, EW_RSCP_TYPE_ERROR);
    assert_int_equal(r->err, EW_OK);
    /* A refusal is part of an answer, not a connection error. */
    r = find_ev(&n, EW_RSCP_EV_RESPONSE, b);
    assert_non_null(r);
    assert_int_equal(r->device_error, 0);
    assert_int_equal(r->tag0, TAG_BASE | RESP);
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_OK);
    assert_false(ew_rscp_conn_want_close(n.cli));
    uint32_t c = submit1(&n, TAG_BASE + 1);
    pump(&n);
    r = find_ev(&n, EW_RSCP_EV_RESPONSE, c);
    assert_non_null(r);
    assert_int_equal(r->tag0, (TAG_BASE + 1) | RESP);
    net_free(&n);
}

static void test_server_before_login(void **state) {
    (void)state;
    ew_rscp_conn_opts so = srv_opts();
    ew_rscp_conn *srv;
    assert_int_equal(ew_rscp_conn_new(&srv, &so, NULL), EW_OK);
    hand h;
    hand_init(&h, KEY);
    ew_rscp_event ev;

    /* A client that skips the login: every top-level value gets its answer
     * tag with Error 2, in order (rscp.md §7.3, §11.6). */
    const uint32_t tags[3] = {0x01000001u, 0x0A000123u, 0x02000004u};
    hand_send_request(&h, srv, tags, 3, 0);
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    frame_copy fc = hand_recv_one(&h, srv);
    expect_denied(&fc, tags, 3);
    free(fc.p);

    /* A container request is answered at the top level only. */
    hand_send_request(&h, srv, tags, 1, 1);
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    fc = hand_recv_one(&h, srv);
    const uint32_t tags2[2] = {tags[0], 0x03040000u};
    expect_denied(&fc, tags2, 2);
    free(fc.p);
    assert_false(ew_rscp_conn_authenticated(srv));
    assert_false(ew_rscp_conn_want_close(srv));

    /* A login with a wrong password is refused with Int32 0 ... */
    hand_send_login(&h, srv, users[0].user, "guess");
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 1);
    assert_int_equal(ev.type, EW_RSCP_EV_LOGIN);
    assert_int_equal(ev.user.len, strlen(users[0].user));
    assert_memory_equal(ev.user.ptr, users[0].user, ev.user.len);
    assert_int_equal(ev.password.len, 5);
    assert_memory_equal(ev.password.ptr, "guess", 5);
    /* ... and nothing else is taken until it is decided. */
    hand_send_request(&h, srv, tags, 1, 0);
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    const uint8_t *p;
    assert_int_equal(ew_rscp_conn_send_data(srv, &p), 0);
    assert_int_equal(ew_rscp_conn_login_result(srv, 0), EW_OK);
    assert_int_equal(ew_rscp_conn_login_result(srv, 0), EW_ERR_STATE);
    fc = hand_recv_one(&h, srv);
    ew_rscp_value v = first_value(fc.f.data, fc.f.data_len);
    assert_int_equal(v.tag, EW_RSCP_TAG_AUTHENTICATION);
    assert_int_equal(v.type, EW_RSCP_TYPE_INT32);
    free(fc.p);
    assert_false(ew_rscp_conn_authenticated(srv));

    /* After the refusal, requests (the one waiting included) and even a new
     * login attempt are denied. */
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    fc = hand_recv_one(&h, srv);
    expect_denied(&fc, tags, 1);
    free(fc.p);
    hand_send_request(&h, srv, tags, 3, 0);
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    fc = hand_recv_one(&h, srv);
    expect_denied(&fc, tags, 3);
    free(fc.p);
    hand_send_login(&h, srv, users[0].user, users[0].password);
    assert_int_equal(ew_rscp_conn_poll_event(srv, &ev), 0);
    fc = hand_recv_one(&h, srv);
    const uint32_t auth[1] = {EW_RSCP_TAG_REQ_AUTHENTICATION};
    expect_denied(&fc, auth, 1);
    free(fc.p);
    assert_false(ew_rscp_conn_authenticated(srv));
    assert_int_equal(ew_rscp_conn_error(srv), EW_OK);

    hand_free(&h);
    ew_rscp_conn_del(srv);
}

/* ---- tests: pipelining, order, queue bounds ------------------------------ */

static void test_pipelining(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_inflight = 4;
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.reorder = 1000; /* hold every answer */

    uint32_t id[10];
    for (int i = 0; i < 10; i++)
        id[i] = submit1(&n, TAG_BASE + (uint32_t)i);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 10);
    pump(&n);
    /* Four requests in flight, the rest waits. */
    assert_int_equal(n.nsreq, 4);
    assert_int_equal(n.nframes[C2S], 1 + 4);
    assert_int_equal(n.ncev, 1);

    size_t round = 0;
    while (n.nheld) {
        /* Answers handed back last-first still reach the client in order. */
        srv_release(&n);
        pump(&n);
        round++;
        assert_true(round < 10);
    }
    assert_int_equal(n.nsreq, 10);
    assert_int_equal(n.ncev, 11);
    for (int i = 0; i < 10; i++) {
        expect_ev(&n, 1 + (size_t)i, EW_RSCP_EV_RESPONSE, id[i], EW_OK);
        assert_int_equal(n.cev[1 + i].tag0, (TAG_BASE + (uint32_t)i) | RESP);
    }
    /* Counters were handed out when the server built each answer. */
    for (int i = 0; i < 10; i++)
        assert_int_equal(n.cev[1 + i].u0, (uint64_t)i);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);

    /* With the default of one in flight the server never holds two. */
    net m;
    net_init(&m, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co1 = cli_opts(users[0].user, users[0].password);
    net_login(&m, &co1, &so);
    m.reorder = 1000;
    for (int i = 0; i < 5; i++)
        submit1(&m, TAG_BASE + (uint32_t)i);
    for (int i = 0; i < 5; i++) {
        pump(&m);
        assert_int_equal(m.nsreq, (size_t)i + 1);
        assert_int_equal(m.nheld, 1);
        srv_release(&m);
    }
    pump(&m);
    assert_int_equal(m.ncev, 6);
    net_free(&m);
    net_free(&n);
}

static void test_respond_out_of_order(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_inflight = 3;
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.silent = 1;
    uint32_t a = submit1(&n, TAG_BASE), b = submit1(&n, TAG_BASE + 1),
             c = submit1(&n, TAG_BASE + 2);
    pump(&n);
    assert_int_equal(n.nsreq, 3);
    uint32_t s1 = n.sreq_id[0], s2 = n.sreq_id[1], s3 = n.sreq_id[2];
    assert_true(s1 != s2 && s2 != s3);

    uint8_t ans[64];
    ew_rscp_builder bl;
    size_t len;
    const uint8_t *p;
    /* Answer the last request first: it waits for the earlier two. */
    ew_rscp_builder_init(&bl, ans, sizeof ans);
    ew_rscp_builder_add_uint32(&bl, (TAG_BASE + 2) | RESP, 333);
    assert_int_equal(ew_rscp_builder_finish(&bl, &len), EW_OK);
    assert_int_equal(ew_rscp_conn_respond(n.srv, s3, ans, len), EW_OK);
    assert_int_equal(ew_rscp_conn_send_data(n.srv, &p), 0);
    assert_int_equal(ew_rscp_conn_respond(n.srv, s3, ans, len), EW_ERR_STATE);

    ew_rscp_builder_init(&bl, ans, sizeof ans);
    ew_rscp_builder_add_uint32(&bl, (TAG_BASE + 1) | RESP, 222);
    assert_int_equal(ew_rscp_builder_finish(&bl, &len), EW_OK);
    assert_int_equal(ew_rscp_conn_respond(n.srv, s2, ans, len), EW_OK);
    assert_int_equal(ew_rscp_conn_send_data(n.srv, &p), 0);

    /* The first answer releases all three, in request order. */
    ew_rscp_builder_init(&bl, ans, sizeof ans);
    ew_rscp_builder_add_uint32(&bl, TAG_BASE | RESP, 111);
    assert_int_equal(ew_rscp_builder_finish(&bl, &len), EW_OK);
    assert_int_equal(ew_rscp_conn_respond(n.srv, s1, ans, len), EW_OK);
    assert_int_equal(ew_rscp_conn_send_data(n.srv, &p), 3 * 64);
    assert_int_equal(ew_rscp_conn_respond(n.srv, s1, ans, len), EW_ERR_STATE);
    pump(&n);
    assert_int_equal(n.ncev, 4);
    expect_ev(&n, 1, EW_RSCP_EV_RESPONSE, a, EW_OK);
    expect_ev(&n, 2, EW_RSCP_EV_RESPONSE, b, EW_OK);
    expect_ev(&n, 3, EW_RSCP_EV_RESPONSE, c, EW_OK);
    assert_int_equal(n.cev[1].u0, 111);
    assert_int_equal(n.cev[2].u0, 222);
    assert_int_equal(n.cev[3].u0, 333);
    net_free(&n);
}

static void test_max_queue(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_queue = 4;
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.reorder = 1000;
    uint32_t id[4], extra;
    for (int i = 0; i < 4; i++)
        id[i] = submit1(&n, TAG_BASE + (uint32_t)i);
    assert_int_equal(submit_tags(&n, (const uint32_t[]){TAG_BASE + 9}, 1, &extra), EW_ERR_NOBUF);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 4);
    /* Too big for one frame. */
    static const uint8_t zero[70000];
    assert_int_equal(ew_rscp_conn_submit(n.cli, zero, 65536, 0, &extra), EW_ERR_TOO_BIG);
    pump(&n);
    for (int round = 0; round < 8 && n.nheld; round++) {
        srv_release(&n);
        pump(&n);
    }
    assert_int_equal(n.ncev, 5);
    for (int i = 0; i < 4; i++)
        expect_ev(&n, 1 + (size_t)i, EW_RSCP_EV_RESPONSE, id[i], EW_OK);
    /* Room again. */
    for (int i = 0; i < 4; i++)
        submit1(&n, TAG_BASE + (uint32_t)i);
    net_free(&n);
}

/* rscp.h: |max_queue| is the number of requests that may wait; the session
 * reserves ring slots of its own for the login and a keep-alive (conn.c, in
 * ew_rscp_conn_submit), so the queued login must not take a user's place. */
static void test_max_queue_before_login(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_queue = 4;
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    uint32_t id[4], extra;
    for (int i = 0; i < 4; i++) {
        int rc = submit_tags(&n, (const uint32_t[]){TAG_BASE + (uint32_t)i}, 1, &id[i]);
        if (rc != EW_OK)
            fail_msg("submit %d of max_queue = 4 before the login returned %s", i + 1,
                     ew_errname(rc));
    }
    assert_int_equal(submit_tags(&n, (const uint32_t[]){TAG_BASE + 9}, 1, &extra), EW_ERR_NOBUF);
    pump(&n);
    assert_int_equal(n.ncev, 5);
    net_free(&n);
}

/* ---- tests: timers ------------------------------------------------------- */

static void test_request_timeout(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.request_timeout_ms = 1234;
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.silent = 1;
    n.now = 100;
    uint32_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = submit1(&n, TAG_BASE + (uint32_t)i);
    pump(&n);
    assert_int_equal(n.nsreq, 1);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 100 + 1234);
    ew_rscp_conn_on_timeout(n.cli, 1333);
    pump(&n);
    assert_int_equal(n.ncev, 1);
    assert_false(ew_rscp_conn_want_close(n.cli));

    ew_rscp_conn_on_timeout(n.cli, 1334);
    pump(&n);
    assert_int_equal(n.ncev, 5);
    for (int i = 0; i < 3; i++)
        expect_ev(&n, 1 + (size_t)i, EW_RSCP_EV_REQUEST_FAILED, id[i], EW_ERR_TIMEOUT);
    expect_ev(&n, 4, EW_RSCP_EV_CLOSED, 0, EW_ERR_TIMEOUT);
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_ERR_TIMEOUT);
    expect_detail(n.cli, "1234 ms");
    assert_true(ew_rscp_conn_want_close(n.cli));
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), UINT64_MAX);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_true(ew_rscp_conn_authenticated(n.cli)); /* it was, before the close */
    uint32_t x;
    assert_int_equal(submit_tags(&n, (const uint32_t[]){TAG_BASE}, 1, &x), EW_ERR_STATE);
    /* Later calls change nothing. */
    ew_rscp_conn_on_timeout(n.cli, 99999);
    ew_rscp_conn_recv_eof(n.cli, 99999);
    ew_rscp_conn_close(n.cli);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 5);
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_ERR_TIMEOUT);
    net_free(&n);
}

/* Each request's clock starts when it goes out; the deadline follows the
 * oldest one in flight. */
static void test_request_deadlines(void **state) {
    (void)state;
    for (int inflight = 1; inflight <= 4; inflight += 3) {
        net n;
        net_init(&n, FEED_WHOLE, 0, 0);
        ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
        co.request_timeout_ms = 1000;
        co.max_inflight = (unsigned)inflight;
        ew_rscp_conn_opts so = srv_opts();
        net_login(&n, &co, &so);
        n.reorder = 1000;
        n.now = 100;
        uint32_t a = submit1(&n, TAG_BASE);
        pump(&n);
        n.now = 300;
        uint32_t b = submit1(&n, TAG_BASE + 1);
        pump(&n);
        assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 1100);
        /* The first answer arrives at 500. */
        n.now = 500;
        srv_release_oldest(&n);
        pump(&n);
        assert_non_null(find_ev(&n, EW_RSCP_EV_RESPONSE, a));
        /* In flight since 300 (pipelined) or since 500 (sent after a's answer). */
        assert_int_equal(ew_rscp_conn_next_deadline(n.cli), inflight > 1 ? 1300 : 1500);
        n.now = 700;
        srv_release_oldest(&n);
        pump(&n);
        assert_non_null(find_ev(&n, EW_RSCP_EV_RESPONSE, b));
        assert_int_equal(ew_rscp_conn_next_deadline(n.cli), UINT64_MAX);
        net_free(&n);
    }
}

static void test_login_timeout(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.login_timeout_ms = 777;
    co.request_timeout_ms = 100;
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    n.hold_login = 1;
    uint32_t a = submit1(&n, TAG_BASE);
    pump(&n);
    assert_int_equal(n.nlogin, 1);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 777);
    ew_rscp_conn_on_timeout(n.cli, 776);
    assert_int_equal(n.ncev, 0);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 0);
    ew_rscp_conn_on_timeout(n.cli, 777);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 2);
    expect_ev(&n, 0, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_TIMEOUT);
    expect_ev(&n, 1, EW_RSCP_EV_CLOSED, 0, EW_ERR_TIMEOUT);
    expect_detail(n.cli, "777 ms");
    expect_detail(n.cli, "login");
    assert_false(ew_rscp_conn_authenticated(n.cli));
    net_free(&n);
}

/* The clock is the caller's monotonic clock and need not start at 0: a
 * connection made at T must not find its login or idle time already over. */
static void test_clock_not_starting_at_zero(void **state) {
    (void)state;
    const uint64_t t0 = 86400000ull * 3; /* three days of uptime */
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    n.now = t0;
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    so.idle_timeout_ms = 60000;
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    /* What the loop in STYLE.md does on its first turn. */
    uint64_t dc = ew_rscp_conn_next_deadline(n.cli);
    uint64_t ds = ew_rscp_conn_next_deadline(n.srv);
    if (n.now >= dc)
        ew_rscp_conn_on_timeout(n.cli, n.now);
    if (n.now >= ds)
        ew_rscp_conn_on_timeout(n.srv, n.now);
    pump(&n);
    if (n.ncev && n.cev[0].type == EW_RSCP_EV_CLOSED)
        fail_msg("client created at t=%" PRIu64 " closed at once: login deadline %" PRIu64 " (%s)",
                 t0, dc, ew_rscp_conn_error_detail(n.cli));
    if (n.srv_closed)
        fail_msg("server created at t=%" PRIu64 " closed at once: idle deadline %" PRIu64 " (%s)",
                 t0, ds, ew_rscp_conn_error_detail(n.srv));
    expect_ev(&n, 0, EW_RSCP_EV_AUTHENTICATED, 0, EW_OK);
    assert_true(ew_rscp_conn_next_deadline(n.srv) > t0);
    net_free(&n);
}

static void test_server_idle_timeout(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    so.idle_timeout_ms = 3000;
    n.now = 50;
    net_login(&n, &co, &so);
    assert_int_equal(ew_rscp_conn_next_deadline(n.srv), 3050);
    n.now = 1000;
    submit1(&n, TAG_BASE);
    pump(&n);
    assert_int_equal(ew_rscp_conn_next_deadline(n.srv), 4000);
    ew_rscp_conn_on_timeout(n.srv, 3999);
    poll_side(&n, 1);
    assert_false(n.srv_closed);
    ew_rscp_conn_on_timeout(n.srv, 4000);
    poll_side(&n, 1);
    assert_true(n.srv_closed);
    assert_int_equal(n.srv_err, EW_ERR_TIMEOUT);
    assert_true(ew_rscp_conn_want_close(n.srv));
    assert_int_equal(ew_rscp_conn_next_deadline(n.srv), UINT64_MAX);
    net_free(&n);
}

static void test_keepalive(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    n.keep = 1;
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.keepalive_ms = 1000;
    co.request_timeout_ms = 400;
    ew_rscp_conn_opts so = srv_opts();
    n.now = 10;
    net_login(&n, &co, &so);
    assert_int_equal(n.ncev, 1);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 1010);

    ew_rscp_conn_on_timeout(n.cli, 1009);
    assert_int_equal(take_out(&n, C2S), 0);
    n.now = 1010;
    ew_rscp_conn_on_timeout(n.cli, n.now);
    /* The keep-alive is in flight but is not one of the caller's requests. */
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 1410);
    size_t before = n.nframes[C2S];
    pump(&n);
    /* One frame, RSCP_REQ_USER_LEVEL (None); its answer makes no event. */
    assert_int_equal(n.nframes[C2S], before + 1);
    const frame_copy *k = &n.kept[C2S][before];
    assert_int_equal(k->f.data_len, EW_RSCP_TLV_HEADER_LEN);
    ew_rscp_value v = first_value(k->f.data, k->f.data_len);
    assert_int_equal(v.tag, TAG_REQ_USER_LEVEL);
    assert_int_equal(v.type, EW_RSCP_TYPE_NONE);
    assert_int_equal(n.nsreq, 1);
    assert_int_equal(n.sreq_tag[0], TAG_REQ_USER_LEVEL);
    assert_int_equal(n.ncev, 1);
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 2010);

    /* A request submitted while a keep-alive is in flight waits for it. */
    n.now = 2010;
    ew_rscp_conn_on_timeout(n.cli, n.now);
    uint32_t a = submit1(&n, TAG_BASE);
    pump(&n);
    assert_int_equal(n.nsreq, 3);
    assert_int_equal(n.sreq_tag[1], TAG_REQ_USER_LEVEL);
    assert_int_equal(n.sreq_tag[2], TAG_BASE);
    assert_int_equal(n.ncev, 2);
    expect_ev(&n, 1, EW_RSCP_EV_RESPONSE, a, EW_OK);
    assert_int_equal(n.cev[1].tag0, TAG_BASE | RESP);

    /* An unanswered keep-alive times out like any request. */
    n.silent = 1;
    n.now = 3010;
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 3010);
    ew_rscp_conn_on_timeout(n.cli, n.now);
    pump(&n);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), 3410);
    ew_rscp_conn_on_timeout(n.cli, 3410);
    pump(&n);
    assert_int_equal(n.ncev, 3);
    expect_ev(&n, 2, EW_RSCP_EV_CLOSED, 0, EW_ERR_TIMEOUT);
    net_free(&n);
}

/* ---- tests: closing ------------------------------------------------------- */

static void test_peer_close(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_inflight = 4;
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.silent = 1;
    uint32_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = submit1(&n, TAG_BASE + (uint32_t)i);
    pump(&n);
    assert_int_equal(n.nsreq, 4);
    ew_rscp_conn_recv_eof(n.cli, 1);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 7);
    for (int i = 0; i < 5; i++)
        expect_ev(&n, 1 + (size_t)i, EW_RSCP_EV_REQUEST_FAILED, id[i], EW_ERR_CLOSED);
    expect_ev(&n, 6, EW_RSCP_EV_CLOSED, 0, EW_ERR_CLOSED);
    assert_true(ew_rscp_conn_want_close(n.cli));
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_ERR_CLOSED);
    expect_detail(n.cli, "closed");

    /* The server sees the client go away too. */
    ew_rscp_conn_recv_eof(n.srv, 1);
    poll_side(&n, 1);
    assert_true(n.srv_closed);
    assert_int_equal(n.srv_err, EW_ERR_CLOSED);
    assert_true(ew_rscp_conn_want_close(n.srv));
    net_free(&n);
}

static void test_local_close(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.silent = 1;
    uint32_t a = submit1(&n, TAG_BASE), b = submit1(&n, TAG_BASE + 1);
    pump(&n);
    ew_rscp_conn_close(n.cli);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 4);
    expect_ev(&n, 1, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_CLOSED);
    expect_ev(&n, 2, EW_RSCP_EV_REQUEST_FAILED, b, EW_ERR_CLOSED);
    expect_ev(&n, 3, EW_RSCP_EV_CLOSED, 0, EW_OK);
    assert_int_equal(ew_rscp_conn_error(n.cli), EW_OK);
    assert_true(ew_rscp_conn_want_close(n.cli));
    assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
    assert_int_equal(ew_rscp_conn_next_deadline(n.cli), UINT64_MAX);
    uint32_t x;
    assert_int_equal(submit_tags(&n, (const uint32_t[]){TAG_BASE}, 1, &x), EW_ERR_STATE);
    ew_rscp_conn_close(n.cli);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 4);

    /* A server closing in an orderly way. */
    ew_rscp_conn_close(n.srv);
    poll_side(&n, 1);
    assert_true(n.srv_closed);
    assert_int_equal(n.srv_err, EW_OK);
    assert_true(ew_rscp_conn_want_close(n.srv));
    net_free(&n);
}

/* Frames that arrived before the peer closed still count: the answer to the
 * login (here a refusal) or to a request was received, so the eof must not
 * turn it into "wrong RSCP key" or a lost request.  The bytes are given to
 * recv() and the eof follows before the events are polled, as happens when
 * one read returns the last data and the next one the end. */
static void recv_held_then_eof(net *n) {
    take_out(n, S2C);
    assert_true(n->wire[S2C].len > 0);
    assert_int_equal(ew_rscp_conn_recv(n->cli, n->wire[S2C].p, n->wire[S2C].len, n->now),
                     (int)n->wire[S2C].len);
    ew_rscp_conn_recv_eof(n->cli, n->now);
    poll_side(n, 0);
}

static void test_eof_after_refused_login(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, "wrong");
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    n.block[S2C] = 1;
    pump(&n);
    recv_held_then_eof(&n);
    assert_int_equal(n.ncev, 1);
    if (n.cev[0].err != EW_ERR_AUTH)
        fail_msg("refused login + eof: CLOSED %s (\"%s\"), expected EW_ERR_AUTH",
                 ew_errname(n.cev[0].err), ew_rscp_conn_error_detail(n.cli));
    expect_ev(&n, 0, EW_RSCP_EV_CLOSED, 0, EW_ERR_AUTH);
    net_free(&n);
}

static void test_eof_after_answer(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    n.block[S2C] = 1;
    uint32_t a = submit1(&n, TAG_BASE);
    pump(&n);
    recv_held_then_eof(&n);
    assert_int_equal(n.ncev, 3);
    if (n.cev[1].type != EW_RSCP_EV_RESPONSE)
        fail_msg("answer + eof: request %" PRIu32 " got event %d (%s), expected its RESPONSE", a,
                 n.cev[1].type, ew_errname(n.cev[1].err));
    expect_ev(&n, 1, EW_RSCP_EV_RESPONSE, a, EW_OK);
    expect_ev(&n, 2, EW_RSCP_EV_CLOSED, 0, EW_ERR_CLOSED);
    net_free(&n);
}

/* A frame no request asked for breaks the order: the connection ends. */
static void test_unsolicited_frame(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    /* Continue the server's chain by hand: its IV is the last block sent. */
    hand h;
    hand_init(&h, KEY);
    assert_int_equal(n.sent[S2C].len % EW_RSCP_BLOCK, 0);
    memcpy(h.enc.iv, n.sent[S2C].p + n.sent[S2C].len - EW_RSCP_BLOCK, EW_RSCP_BLOCK);
    uint8_t buf[128];
    ew_rscp_builder b;
    ew_rscp_builder_init_frame(&b, buf, sizeof buf);
    ew_rscp_builder_add_uint32(&b, TAG_BASE | RESP, 1);
    ew_rscp_timestamp ts = {1700000000, 0};
    size_t len;
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &len), EW_OK);
    int ct = ew_rscp_encryptor_seal(&h.enc, buf, len, sizeof buf);
    assert_int_equal(ew_rscp_conn_recv(n.cli, buf, (size_t)ct, 0), ct);
    poll_side(&n, 0);
    assert_int_equal(n.ncev, 2);
    expect_ev(&n, 1, EW_RSCP_EV_CLOSED, 0, EW_ERR_PROTO);
    assert_true(ew_rscp_conn_want_close(n.cli));
    hand_free(&h);
    net_free(&n);
}

/* ---- tests: corrupted answers -------------------------------------------- */

#define NBIG 6 /* tags per request: the answer is 18 + 6 * 11 + 4 = 88 bytes, 3 blocks */

static void submit_big(net *n, uint32_t base, uint32_t *id) {
    uint32_t tags[NBIG];
    for (int i = 0; i < NBIG; i++)
        tags[i] = base + (uint32_t)i;
    assert_int_equal(submit_tags(n, tags, NBIG, id), EW_OK);
}

/* Flips a byte in the second ciphertext block of the first answer on the
 * wire.  The answer has three blocks, so CBC carries the damage into its own
 * third block only and the chain into the next frame stays intact. */
static void corrupt_first_answer(net *n) {
    take_out(n, S2C);
    assert_true(n->wire[S2C].len >= 96);
    n->wire[S2C].p[32 + 9] ^= 0x20;
}

static void test_corrupt_answer(void **state) {
    (void)state;
    /* variant 0: the next request is submitted after the failure;
     * 1: it waits in the queue behind the spoilt one (one in flight);
     * 2: both are in flight (pipelined). */
    for (int variant = 0; variant < 3; variant++) {
        net n;
        net_init(&n, FEED_WHOLE, 0, 0);
        ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
        co.max_inflight = variant == 2 ? 4 : 1;
        ew_rscp_conn_opts so = srv_opts();
        net_login(&n, &co, &so);
        n.block[S2C] = 1;
        uint32_t a, b = 0;
        submit_big(&n, TAG_BASE, &a);
        if (variant)
            submit_big(&n, TAG_BASE + 0x10, &b);
        pump(&n);
        assert_int_equal(n.nsreq, variant == 2 ? 2 : 1);
        corrupt_first_answer(&n);
        n.block[S2C] = 0;
        pump(&n);
        expect_ev(&n, 1, EW_RSCP_EV_REQUEST_FAILED, a, EW_ERR_CRC);
        assert_int_equal(ew_rscp_conn_error(n.cli), EW_OK);
        assert_false(ew_rscp_conn_want_close(n.cli));
        if (variant == 0)
            submit_big(&n, TAG_BASE + 0x10, &b);
        pump(&n);
        if (variant == 1 && n.nsreq == 1)
            fail_msg("request %" PRIu32 " queued behind the spoilt answer was never sent "
                     "(pending %zu, next deadline %" PRIu64 ")",
                     b, ew_rscp_conn_pending(n.cli), ew_rscp_conn_next_deadline(n.cli));
        assert_int_equal(n.nsreq, 2);
        assert_int_equal(n.ncev, 3);
        expect_ev(&n, 2, EW_RSCP_EV_RESPONSE, b, EW_OK);
        assert_int_equal(n.cev[2].tag0, (TAG_BASE + 0x10) | RESP);
        assert_int_equal(n.cev[2].len, (size_t)NBIG * 11);
        assert_int_equal(ew_rscp_conn_pending(n.cli), 0);
        net_free(&n);
    }
}

/* ---- tests: wire format -------------------------------------------------- */

static void test_whole_frames_and_crc_byte(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_RANDOM, 0, 4242);
    n.keep = 1;
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    net_login(&n, &co, &so);
    const size_t rounds = 3000;
    size_t bumped = 0;
    size_t first = n.nkept[S2C];
    for (size_t i = 0; i < rounds; i++) {
        ew_rscp_timestamp ts = {1700000000 + (int64_t)i, (uint32_t)((i * 7919u) % 1000000000u)};
        ew_rscp_conn_set_time(n.srv, ts);
        ew_rscp_timestamp cts = {1600000000 + (int64_t)i, (uint32_t)(i * 104729u % 999999991u)};
        ew_rscp_conn_set_time(n.cli, cts);
        uint32_t tags[2] = {TAG_BASE + (uint32_t)(i % 7), TAG_BASE + 0x40 + (uint32_t)(i % 3)};
        uint32_t id;
        assert_int_equal(submit_tags(&n, tags, 1 + i % 2, &id), EW_OK);
        pump(&n);
        assert_int_equal(n.nkept[S2C], first + i + 1);
        const frame_copy *f = &n.kept[S2C][first + i];
        /* The answer carries the time set, moved by a few ns at most when its
         * CRC would have ended in 0x00 (rscp.md §5.5). */
        assert_int_equal(f->f.ts.seconds, ts.seconds);
        assert_true(f->f.ts.nanoseconds >= ts.nanoseconds &&
                    f->f.ts.nanoseconds <= ts.nanoseconds + 8);
        assert_true(f->p[f->len - 1] != 0);
        if (f->f.ts.nanoseconds != ts.nanoseconds) {
            /* Only when needed: with the time as set the CRC ends in 0x00. */
            uint8_t orig[256];
            int len =
                ew_rscp_frame_encode(orig, sizeof orig, f->f.data, f->f.data_len, ts, 1, NULL);
            assert_int_equal(len, (int)f->len);
            assert_int_equal(orig[len - 1], 0);
            bumped++;
        }
        const rec *r = &n.cev[n.ncev - 1];
        assert_int_equal(r->type, EW_RSCP_EV_RESPONSE);
        assert_int_equal(r->req_id, id);
        assert_int_equal(r->ts.seconds, f->f.ts.seconds);
        assert_int_equal(r->ts.nanoseconds, f->f.ts.nanoseconds);
        /* The client's request carries its own time. */
        const frame_copy *q = &n.kept[C2S][n.nkept[C2S] - 1];
        assert_int_equal(q->f.ts.seconds, cts.seconds);
    }
    assert_int_equal(n.zero_tail[S2C], 0);
    assert_int_equal(n.zero_tail[C2S], 0);
    assert_int_equal(n.nframes[S2C], rounds + 1);
    assert_int_equal(n.nframes[C2S], rounds + 1);
    assert_int_equal(n.sent[C2S].len % EW_RSCP_BLOCK, 0);
    assert_int_equal(n.sent[S2C].len % EW_RSCP_BLOCK, 0);
    assert_true(bumped > 0);
    print_message("%zu answers, %zu with the header time moved to avoid a 0x00 CRC byte\n", rounds,
                  bumped);
    net_free(&n);
}

/* ---- a scripted conversation for feeding patterns and failmalloc -------- */

typedef struct script_out {
    char *log;
    uint32_t crc[2];
    size_t len[2];
    int nomem;
    int completed;
} script_out;

/* Builds a 5000-byte ByteArray request: the output buffers must grow. */
static int submit_blob(net *n, uint32_t *id) {
    uint8_t *buf = malloc(5100);
    assert_non_null(buf);
    uint8_t *blob = malloc(5000);
    assert_non_null(blob);
    for (size_t i = 0; i < 5000; i++)
        blob[i] = (uint8_t)(i * 31 + 7);
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, buf, 5100);
    ew_rscp_builder_add_bytes(&b, TAG_BASE + 0x77, blob, 5000);
    size_t len = 0;
    assert_int_equal(ew_rscp_builder_finish(&b, &len), EW_OK);
    int rc = ew_rscp_conn_submit(n->cli, buf, len, n->now, id);
    free(blob);
    free(buf);
    return rc;
}

/* A submit after a NOMEM that killed the client while sending an earlier
 * request gets EW_ERR_STATE; the CLOSED event tells the rest. */
static int script_submit(net *n, const uint32_t *tags, size_t k) {
    uint32_t id;
    int rc = submit_tags(n, tags, k, &id);
    if (rc == EW_ERR_STATE && ew_rscp_conn_error(n->cli) == EW_ERR_NOMEM) {
        poll_side(n, 0);
        assert_true(n->nomem);
        return 0;
    }
    return api_ok(n, rc, "submit");
}

/* The conversation: login with requests queued, a device error, a big
 * request, pipelined requests answered out of order, a keep-alive, then a
 * request that times out.  |cm|/|sm| are the allocators (NULL = malloc). */
static script_out run_script(int feed, size_t chunk, uint64_t seed, int short_writes,
                             const ew_mem *cm, const ew_mem *sm) {
    net n;
    net_init(&n, feed, chunk, seed);
    n.short_writes = short_writes;
    n.reorder = 2;
    script_out out;
    memset(&out, 0, sizeof out);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    co.max_inflight = 3;
    co.keepalive_ms = 2000;
    co.request_timeout_ms = 1500;
    ew_rscp_conn_opts so = srv_opts();
    ew_rscp_timestamp ts = {1700000000, 5};

    if (!api_ok(&n, net_server(&n, &so, sm), "new server"))
        goto done;
    ew_rscp_conn_set_time(n.srv, ts);
    if (!api_ok(&n, net_client(&n, &co, cm), "new client"))
        goto done;
    ew_rscp_conn_set_time(n.cli, ts);

    const uint32_t t1[1] = {TAG_BASE}, t2[3] = {TAG_BASE + 1, TAG_BASE + 2, TAG_BASE + 3},
                   td[2] = {TAG_DENY, TAG_BASE + 4};
    if (!script_submit(&n, t1, 1) || !script_submit(&n, td, 2) || !script_submit(&n, t2, 3))
        goto done;
    uint32_t id;
    int rc = submit_blob(&n, &id);
    if (rc == EW_ERR_STATE && ew_rscp_conn_error(n.cli) == EW_ERR_NOMEM) {
        poll_side(&n, 0);
        assert_true(n.nomem);
        goto done;
    }
    if (!api_ok(&n, rc, "submit"))
        goto done;
    pump(&n);
    srv_release(&n);
    pump(&n);
    if (n.stop)
        goto done;

    n.now += 100;
    for (uint32_t i = 0; i < 7; i++) {
        const uint32_t t[2] = {TAG_BASE + 0x20 + i, TAG_BASE + 0x30 + i};
        if (!script_submit(&n, t, 1 + i % 2))
            goto done;
    }
    pump(&n);
    srv_release(&n);
    pump(&n);
    if (n.stop)
        goto done;

    /* Keep-alive when idle. */
    n.now = ew_rscp_conn_next_deadline(n.cli);
    assert_true(n.now < UINT64_MAX);
    ew_rscp_conn_on_timeout(n.cli, n.now);
    pump(&n);
    srv_release(&n);
    pump(&n);
    if (n.stop)
        goto done;

    /* A request nobody answers. */
    n.silent = 1;
    if (!script_submit(&n, t1, 1))
        goto done;
    pump(&n);
    if (n.stop)
        goto done;
    n.now = ew_rscp_conn_next_deadline(n.cli);
    ew_rscp_conn_on_timeout(n.cli, n.now);
    pump(&n);
    if (n.stop)
        goto done;
    ew_rscp_conn_recv_eof(n.srv, n.now);
    pump(&n);
    if (n.stop)
        goto done;
    out.completed = 1;

done:
    /* After a NOMEM the dead side refuses further input. */
    if (n.nomem) {
        ew_rscp_conn *dead = NULL;
        if (n.cli && ew_rscp_conn_error(n.cli) == EW_ERR_NOMEM)
            dead = n.cli;
        else if (n.srv && ew_rscp_conn_error(n.srv) == EW_ERR_NOMEM)
            dead = n.srv;
        if (dead) {
            uint8_t x[32] = {0};
            assert_int_equal(ew_rscp_conn_recv(dead, x, sizeof x, n.now), EW_ERR_DEAD);
            assert_true(ew_rscp_conn_want_close(dead));
        }
    }
    tu_log all = {0};
    char *c = tu_log_take(&n.clog), *s = tu_log_take(&n.slog);
    tu_logf(&all, "client: %s\nserver: %s", c, s);
    free(c);
    free(s);
    out.log = tu_log_take(&all);
    for (int d = 0; d < 2; d++) {
        out.len[d] = n.sent[d].len;
        out.crc[d] = ew_rscp_crc32(0, n.sent[d].p, n.sent[d].len);
    }
    out.nomem = n.nomem;
    net_free(&n);
    return out;
}

static void test_feeding_patterns(void **state) {
    (void)state;
    script_out ref = run_script(FEED_WHOLE, 0, 0, 0, NULL, NULL);
    assert_true(ref.completed);
    /* The conversation did what it says. */
    assert_non_null(strstr(ref.log, "C AUTH 10;"));
    assert_non_null(strstr(ref.log, " E2;"));
    assert_non_null(strstr(ref.log, " 00000004 "));
    assert_non_null(strstr(ref.log, "EW_ERR_TIMEOUT;C CLOSED EW_ERR_TIMEOUT;"));
    typedef struct pattern {
        int feed;
        size_t chunk;
        uint64_t seed;
        int short_writes;
    } pattern;
    pattern pat[64];
    size_t np = 0;
    pat[np++] = (pattern){FEED_BYTES, 0, 0, 0};
    pat[np++] = (pattern){FEED_WHOLE, 0, 3, 1}; /* whole delivery, short writes */
    const size_t chunks[] = {2, 7, 31, 32, 33, 95, 1000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        pat[np++] = (pattern){FEED_CHUNK, chunks[i], 0, 0};
    for (uint64_t seed = 1; seed <= 40; seed++)
        pat[np++] = (pattern){FEED_RANDOM, 0, seed * 7919, (int)(seed & 1)};
    for (size_t i = 0; i < np; i++) {
        const pattern *pt = &pat[i];
        script_out got = run_script(pt->feed, pt->chunk, pt->seed, pt->short_writes, NULL, NULL);
        if (strcmp(got.log, ref.log) != 0)
            fail_msg("feed %d chunk %zu seed %" PRIu64 " short writes %d gives another log:\n"
                     "whole: %s\ngot:   %s",
                     pt->feed, pt->chunk, pt->seed, pt->short_writes, ref.log, got.log);
        for (int d = 0; d < 2; d++) {
            assert_int_equal(got.len[d], ref.len[d]);
            assert_int_equal(got.crc[d], ref.crc[d]);
        }
        assert_true(got.completed);
        free(got.log);
    }
    print_message("%zu feeding patterns, %zu + %zu bytes on the wire\n", np + 1, ref.len[0],
                  ref.len[1]);
    free(ref.log);
}

/* ---- failmalloc ---------------------------------------------------------- */

static void failmalloc_side(int server) {
    fmem fm;
    fm_init(&fm, 0);
    script_out ref =
        run_script(FEED_WHOLE, 0, 0, 0, server ? NULL : &fm.mem, server ? &fm.mem : NULL);
    assert_true(ref.completed);
    assert_int_equal(fm.live, 0);
    const long total = fm.count;
    assert_true(total > 5);

    char silent[512] = "";
    size_t nsilent = 0;
    for (long k = 1; k <= total + 1; k++) {
        fm_init(&fm, k);
        script_out got =
            run_script(FEED_WHOLE, 0, 0, 0, server ? NULL : &fm.mem, server ? &fm.mem : NULL);
        if (fm.live != 0)
            fail_msg("%s, allocation %ld failing: %ld blocks leaked", server ? "server" : "client",
                     k, fm.live);
        if (!fm.failed) {
            /* Nothing failed: the full conversation, as without the hook. */
            assert_true(k > total);
            assert_true(got.completed);
            assert_string_equal(got.log, ref.log);
        } else if (!got.nomem) {
            /* The failure vanished without EW_ERR_NOMEM anywhere. */
            size_t used = strlen(silent);
            snprintf(silent + used, sizeof silent - used, " %ld", k);
            nsilent++;
            if (nsilent == 1)
                print_message("%s allocation %ld failed silently; log:\n%s\n",
                              server ? "server" : "client", k, got.log);
        }
        free(got.log);
    }
    print_message("%s: %ld allocations in the conversation, each failed once\n",
                  server ? "server" : "client", total);
    free(ref.log);
    if (nsilent)
        fail_msg("%s: failing allocation(s)%s gave neither EW_ERR_NOMEM nor a CLOSED event "
                 "with it",
                 server ? "server" : "client", silent);
}

static void test_failmalloc_client(void **state) {
    (void)state;
    failmalloc_side(0);
}

static void test_failmalloc_server(void **state) {
    (void)state;
    failmalloc_side(1);
}

/* ---- the server's login decision ---------------------------------------- */

/* A level the answer cannot carry must not leave the two sides disagreeing
 * about whether the login succeeded (RSCP_AUTHENTICATION is a UChar8). */
static void test_login_result_out_of_range(void **state) {
    (void)state;
    net n;
    net_init(&n, FEED_WHOLE, 0, 0);
    ew_rscp_conn_opts co = cli_opts(users[0].user, users[0].password);
    ew_rscp_conn_opts so = srv_opts();
    assert_int_equal(net_server(&n, &so, NULL), EW_OK);
    assert_int_equal(net_client(&n, &co, NULL), EW_OK);
    n.hold_login = 1;
    pump(&n);
    assert_int_equal(n.nlogin, 1);
    int rc = ew_rscp_conn_login_result(n.srv, 300);
    if (rc == EW_OK) {
        pump(&n);
        int cli_ok = ew_rscp_conn_authenticated(n.cli);
        int srv_ok = ew_rscp_conn_authenticated(n.srv);
        if (cli_ok != srv_ok)
            fail_msg("login_result(300) returned EW_OK; client authenticated = %d (%s), server "
                     "authenticated = %d",
                     cli_ok, ew_rscp_conn_error_detail(n.cli), srv_ok);
    } else {
        /* Refused as an argument error: the decision is still open. */
        assert_int_equal(ew_rscp_conn_login_result(n.srv, 10), EW_OK);
        pump(&n);
        expect_ev(&n, 0, EW_RSCP_EV_AUTHENTICATED, 0, EW_OK);
    }
    net_free(&n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_invalid),
        cmocka_unit_test(test_login_and_requests),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_second_user_level),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_client_undecryptable),
        cmocka_unit_test(test_access_denied),
        cmocka_unit_test(test_server_before_login),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_respond_out_of_order),
        cmocka_unit_test(test_max_queue),
        cmocka_unit_test(test_max_queue_before_login),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_request_deadlines),
        cmocka_unit_test(test_login_timeout),
        cmocka_unit_test(test_clock_not_starting_at_zero),
        cmocka_unit_test(test_server_idle_timeout),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_peer_close),
        cmocka_unit_test(test_local_close),
        cmocka_unit_test(test_eof_after_refused_login),
        cmocka_unit_test(test_eof_after_answer),
        cmocka_unit_test(test_unsolicited_frame),
        cmocka_unit_test(test_corrupt_answer),
        cmocka_unit_test(test_whole_frames_and_crc_byte),
        cmocka_unit_test(test_feeding_patterns),
        cmocka_unit_test(test_failmalloc_client),
        cmocka_unit_test(test_failmalloc_server),
        cmocka_unit_test(test_login_result_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
