/*
 * EP in captures.  EP runs over TLS 1.3 (ep.md §1); a connection whose
 * first bytes are a TLS handshake record goes through the passive TLS 1.3
 * decryptor (tls13.h) and its plaintext into ew_ep_rx, one per direction.
 * Plaintext EP (test setups, or a capture taken behind a TLS terminator)
 * goes into ew_ep_rx directly.  ew_ep_rx resynchronises on the frame magic
 * (ep.md §2.4 point 4), so plaintext decoding resumes after a gap; inside
 * TLS a gap ends decryption of that direction (record boundaries and
 * sequence numbers are lost).
 */
#include "capture/cap_int.h"
#include "capture/tls13.h"

#include <energywire/ep.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_CAP (EW_EP_PAYLOAD_MAX_DEFAULT + 4096)
#define CONFIRM_BYTES 4096

enum { M_UNDECIDED = 0, M_PLAIN, M_TLS, M_TLS_MID };

typedef struct edir {
    ew_ep_rx rx;
    uint8_t *buf;
    uint64_t pos;      /* offset in this direction's EP byte stream */
    uint64_t last_end; /* EP stream offset just after the previous outcome */
    uint8_t pre[3];    /* first bytes while the mode is undecided */
    size_t pre_len;
    int confirmed, doubt_reported;
} edir;

typedef struct ep_state {
    ew_cap *c;
    ew_cap_flowi *f;
    int mode;
    ew_tls13_flow *tls;
    edir d[2];
} ep_state;

int ew_cap_ep_start(ew_cap *c, ew_cap_flowi *f) {
    ep_state *st = calloc(1, sizeof *st);
    if (!st)
        return EW_ERR_NOMEM;
    st->c = c;
    st->f = f;
    /* The receive buffers come with a direction's first EP bytes. */
    f->ps = st;
    return EW_OK;
}

void ew_cap_ep_free(ew_cap_flowi *f) {
    ep_state *st = f->ps;
    if (!st)
        return;
    if (st->tls)
        ew_tls13_flow_del(st->tls);
    free(st->d[0].buf);
    free(st->d[1].buf);
    free(st);
    f->ps = NULL;
}

/* EP bytes of direction |dir| (plaintext, or decrypted from TLS). */
static void ep_feed(ep_state *st, int dir, const uint8_t *p, size_t len) {
    ew_cap *c = st->c;
    ew_cap_flowi *f = st->f;
    edir *e = &st->d[dir];
    if (!e->buf) {
        e->buf = malloc(RX_CAP);
        if (!e->buf) {
            c->nomem = 1;
            return;
        }
        ew_ep_rx_init(&e->rx, e->buf, RX_CAP, 0);
    }
    uint64_t off = e->pos;
    e->pos += len;
    size_t pos = 0;
    while (pos < len) {
        size_t n = 0;
        ew_ep_frame fr;
        memset(&fr, 0, sizeof fr);
        int rc = ew_ep_rx_feed(&e->rx, p + pos, len - pos, &n, &fr, NULL);
        pos += n;
        if (rc == EW_ERR_NEED_MORE)
            break;
        uint64_t at = e->last_end + fr.skipped;
        e->last_end = off + pos;
        if (rc == EW_OK) {
            e->confirmed = 1;
            ew_cap_record r;
            memset(&r, 0, sizeof r);
            r.type = EW_CAP_REC_FRAME;
            r.dir = dir;
            r.stream_off = e->last_end - fr.frame_len;
            r.frame = fr.raw;
            r.ok = 1;
            ew_cap_emit(c, f, &r);
        } else {
            char msg[96];
            snprintf(msg, sizeof msg, "broken EP frame: %s", ew_strerror(rc));
            ew_cap_error(c, f, dir, at, rc, msg);
        }
        if (n == 0 && rc != EW_OK)
            break; /* no progress: avoid spinning (EW_ERR_INVAL) */
    }
    if (!e->confirmed && !e->doubt_reported && e->pos > CONFIRM_BYTES) {
        e->doubt_reported = 1;
        ew_cap_error(c, f, dir, off, EW_ERR_PROTO, "no EP frame in the first 4096 bytes: not EP?");
    }
}

static void tls_data(void *user, int dir, const uint8_t *p, size_t len) {
    ep_feed(user, dir, p, len);
}

static void tls_note(void *user, int dir, ew_tls13_note kind, int err, const char *text) {
    ep_state *st = user;
    ew_cap_record r;
    memset(&r, 0, sizeof r);
    r.dir = dir < 0 ? EW_CAP_BOTH : dir; /* tls13.h: -1 = the whole connection */
    r.detail = text;
    if (kind == EW_TLS13_NOTE_STOP) {
        r.type = EW_CAP_REC_ERROR;
        r.err = err < 0 ? err : EW_ERR_DECRYPT;
    } else {
        r.type = EW_CAP_REC_TLS;
        r.err = err < 0 ? err : 0;
    }
    ew_cap_emit(st->c, st->f, &r);
}

static int start_tls(ep_state *st) {
    ew_tls13_cb cb = {tls_data, tls_note, st};
    int rc = ew_tls13_flow_new(&st->tls, st->c->keylog, &cb);
    if (rc != EW_OK)
        return rc;
    st->mode = M_TLS;
    st->f->pub.tls = 1;
    return EW_OK;
}

static void mode_feed(ep_state *st, int dir, const uint8_t *p, size_t len) {
    if (st->mode == M_TLS) {
        int rc = ew_tls13_flow_feed(st->tls, dir, p, len);
        if (rc == EW_ERR_PROTO) {
            /* Not TLS after all: plaintext EP from here on. */
            ew_tls13_flow_del(st->tls);
            st->tls = NULL;
            st->mode = M_PLAIN;
            st->f->pub.tls = 0;
            ep_feed(st, dir, p, len);
        } else if (rc == EW_ERR_NOMEM) {
            st->c->nomem = 1;
        }
    } else {
        ep_feed(st, dir, p, len);
    }
}

void ew_cap_ep_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                    size_t len) {
    ep_state *st = f->ps;
    edir *e = &st->d[dir];
    if (st->mode == M_TLS_MID)
        return;
    if (st->mode == M_UNDECIDED) {
        /* TLS starts with a handshake record, 16 03 0x; three bytes decide.
         * EP frames start with 9A (ep.md §2.1), never a TLS record type. */
        size_t k = sizeof e->pre - e->pre_len;
        if (k > len)
            k = len;
        memcpy(e->pre + e->pre_len, p, k);
        e->pre_len += k;
        p += k;
        len -= k;
        if (e->pre[0] >= 20 && e->pre[0] <= 23 && e->pre_len < sizeof e->pre)
            return; /* a TLS record type: wait for the version bytes */
        if (ew_tls13_looks_like_tls(e->pre, e->pre_len)) {
            if (start_tls(st) != EW_OK) {
                c->nomem = 1;
                return;
            }
        } else if (e->pre_len == 3 && e->pre[0] >= 20 && e->pre[0] <= 23 && e->pre[1] == 3 &&
                   e->pre[2] >= 1 && e->pre[2] <= 4) {
            /* A TLS record other than a handshake first: the capture starts
             * inside a TLS connection, without the ClientHello whose random
             * selects the key log entry. */
            st->mode = M_TLS_MID;
            f->pub.tls = 1;
            e->pre_len = 0;
            st->d[!dir].pre_len = 0;
            ew_cap_error(c, f, dir, off, EW_ERR_STATE,
                         "capture starts inside a TLS connection: without its handshake the EP "
                         "data cannot be decrypted");
            return;
        } else {
            st->mode = M_PLAIN;
        }
        /* The other direction may hold undecided bytes too. */
        for (int d = 0; d < 2; d++) {
            if (st->d[d].pre_len) {
                uint8_t pre[3];
                size_t n = st->d[d].pre_len;
                memcpy(pre, st->d[d].pre, n);
                st->d[d].pre_len = 0;
                mode_feed(st, d, pre, n);
            }
        }
        if (!len)
            return;
    }
    mode_feed(st, dir, p, len);
}

void ew_cap_ep_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len) {
    (void)c;
    (void)off;
    ep_state *st = f->ps;
    edir *e = &st->d[dir];
    if (st->mode == M_TLS_MID)
        return;
    if (st->mode == M_TLS) {
        ew_tls13_flow_gap(st->tls, dir);
        return;
    }
    if (st->mode == M_UNDECIDED)
        e->pre_len = 0;
    if (e->buf)
        ew_ep_rx_reset(&e->rx);
    e->pos += len;
    e->last_end = e->pos;
}

void ew_cap_ep_end(ew_cap *c, ew_cap_flowi *f) {
    ep_state *st = f->ps;
    if (st->mode == M_UNDECIDED) {
        /* Fewer than three bytes in all: plaintext. */
        st->mode = M_PLAIN;
        for (int d = 0; d < 2; d++) {
            size_t n = st->d[d].pre_len;
            st->d[d].pre_len = 0;
            if (n)
                ep_feed(st, d, st->d[d].pre, n);
        }
    }
    if (st->mode == M_TLS && st->tls) {
        char sum[1024]; /* two certificate subjects fit */
        ew_tls13_flow_summary(st->tls, sum, sizeof sum);
        ew_cap_record r;
        memset(&r, 0, sizeof r);
        r.type = EW_CAP_REC_TLS;
        r.dir = EW_CAP_BOTH;
        r.detail = sum;
        ew_cap_emit(c, f, &r);
    }
}
