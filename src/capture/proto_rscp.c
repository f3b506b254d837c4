/*
 * RSCP in captures: each direction is one CBC stream starting at IV =
 * 32 x 0xFF with the connection (rscp.md §5.3), decrypted by an
 * ew_rscp_stream that follows the chain; frames come out by their length
 * field (§5.5).
 *
 * Realigning: CBC decryption of a block needs only the ciphertext block
 * before it, and every frame starts on a 32-byte block boundary because
 * frames are padded to whole blocks (§5.4).  So after a gap (block
 * boundaries stay at stream offsets that are multiples of 32), or when the
 * capture starts mid-connection (we assume the first segment seen starts
 * on a block boundary, as each frame goes out in one write), the decoder
 * hunts: it decrypts each block with the previous ciphertext block as IV
 * until one starts with a valid RSCP header, and restarts the stream
 * there; the start of each TCP segment is tried too, whatever the assumed
 * alignment.  Hunting gives up after HUNT_LIMIT bytes.
 */
#include "capture/cap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUNT_LIMIT (1u << 20)

enum { M_START = 0, M_STREAM, M_HUNT, M_STOP };

typedef struct rdir {
    int mode;
    ew_rscp_stream s;
    uint64_t base; /* stream offset of the ew_rscp_stream's first byte */
    uint8_t *buf;
    /* hunting */
    uint8_t prev[EW_RSCP_BLOCK];
    int have_prev;
    uint8_t part[EW_RSCP_BLOCK];
    size_t part_len;
    uint64_t part_off; /* stream offset of part[0] */
    unsigned align;    /* block boundaries are at offsets == align (mod 32) */
    uint64_t hunted;
    uint8_t last[EW_RSCP_BLOCK]; /* the last ciphertext bytes seen while hunting */
    size_t last_len;
} rdir;

typedef struct rscp_state {
    rdir d[2];
    int nokey_reported;
} rscp_state;

int ew_cap_rscp_start(ew_cap *c, ew_cap_flowi *f) {
    (void)c;
    /* The working buffers come with a direction's first data. */
    rscp_state *st = calloc(1, sizeof *st);
    if (!st)
        return EW_ERR_NOMEM;
    f->ps = st;
    return EW_OK;
}

void ew_cap_rscp_free(ew_cap_flowi *f) {
    rscp_state *st = f->ps;
    if (!st)
        return;
    for (int d = 0; d < 2; d++)
        free(st->d[d].buf);
    free(st);
    f->ps = NULL;
}

static size_t frame_len_of(const uint8_t *h) {
    size_t n = EW_RSCP_HEADER_LEN + ((size_t)h[16] | (size_t)h[17] << 8);
    if (h[3] & 0x10) /* CRC flag (rscp.md §2.2) */
        n += 4;
    return n;
}

static void start_hunt(rdir *r, uint64_t at, unsigned align) {
    r->mode = M_HUNT;
    r->have_prev = 0;
    r->part_len = 0;
    r->part_off = at;
    r->align = align;
    r->hunted = 0;
    r->last_len = 0;
}

/* Keeps the last 32 ciphertext bytes before the next chunk. */
static void remember(rdir *r, const uint8_t *p, size_t len) {
    if (len >= EW_RSCP_BLOCK) {
        memcpy(r->last, p + len - EW_RSCP_BLOCK, EW_RSCP_BLOCK);
        r->last_len = EW_RSCP_BLOCK;
        return;
    }
    size_t keep = r->last_len + len > EW_RSCP_BLOCK ? EW_RSCP_BLOCK - len : r->last_len;
    memmove(r->last, r->last + r->last_len - keep, keep);
    memcpy(r->last + keep, p, len);
    r->last_len = keep + len;
}

/* 1 when |blk| decrypted with |iv| starts with a valid RSCP header. */
static int starts_frame(const ew_cap *c, const uint8_t *iv, const uint8_t *blk) {
    uint8_t pt[EW_RSCP_BLOCK];
    ew_rscp_block_decrypt(&c->cipher, blk, pt);
    for (int i = 0; i < EW_RSCP_BLOCK; i++)
        pt[i] ^= iv[i];
    ew_rscp_frame fr;
    int rc = ew_rscp_frame_decode(pt, sizeof pt, &fr, 0, NULL);
    return rc >= 0 || rc == EW_ERR_NEED_MORE || rc == EW_ERR_CRC;
}

/* Takes every complete frame out of the stream. */
static void pull(ew_cap *c, ew_cap_flowi *f, int dir, rdir *r) {
    for (;;) {
        size_t before = r->s.pos;
        uint64_t at = r->base + r->s.consumed + before;
        ew_rscp_frame fr;
        ew_diag dg = {0, 0, NULL};
        int rc = ew_rscp_stream_next(&r->s, &fr, &dg);
        if (rc == 0)
            return;
        if (rc == 1) {
            ew_cap_record rec;
            memset(&rec, 0, sizeof rec);
            rec.type = EW_CAP_REC_FRAME;
            rec.dir = dir;
            rec.stream_off = at;
            rec.frame.ptr = r->s.buf + before;
            rec.frame.len = fr.frame_len;
            rec.ok = 1;
            ew_cap_emit(c, f, &rec);
            continue;
        }
        if (rc == EW_ERR_DECRYPT || rc == EW_ERR_BAD_FIELD) {
            if (at == 0 && f->dir[dir].syn && f->pub.frames[dir] == 0) {
                ew_cap_error(c, f, dir, at, EW_ERR_DECRYPT,
                             "wrong RSCP key or not RSCP: the first block does not decrypt to "
                             "an RSCP frame header");
                r->mode = M_STOP;
                return;
            }
            ew_cap_error(c, f, dir, at, EW_ERR_DECRYPT,
                         "decrypted data does not start an RSCP frame: looking for the next "
                         "frame");
            /* Hunt on from the end of what the stream has taken; its IV is
             * the last whole ciphertext block. */
            uint64_t end = r->base + r->s.consumed + r->s.len;
            uint8_t part[EW_RSCP_BLOCK];
            size_t plen = r->s.part_len;
            memcpy(part, r->s.part, plen);
            start_hunt(r, end, (unsigned)(end % EW_RSCP_BLOCK));
            memcpy(r->prev, r->s.iv, EW_RSCP_BLOCK);
            r->have_prev = 1;
            memcpy(r->part, part, plen);
            r->part_len = plen;
            return;
        }
        /* A bad CRC or value tree: this frame only (the chain is intact). */
        const uint8_t *p = r->s.buf + before;
        size_t n = frame_len_of(p);
        ew_cap_record rec;
        memset(&rec, 0, sizeof rec);
        rec.type = EW_CAP_REC_FRAME;
        rec.dir = dir;
        rec.stream_off = at;
        rec.frame.ptr = p;
        rec.frame.len = n;
        rec.ok = 0;
        ew_cap_emit(c, f, &rec);
        char msg[96];
        snprintf(msg, sizeof msg, "RSCP frame: %s", dg.what ? dg.what : ew_strerror(rc));
        ew_cap_error(c, f, dir, at, rc, msg);
    }
}

static void stream_feed(ew_cap *c, ew_cap_flowi *f, int dir, rdir *r, const uint8_t *p, size_t len);

/* Hunting: looks at whole blocks for an RSCP header. */
static void hunt_feed(ew_cap *c, ew_cap_flowi *f, int dir, rdir *r, uint64_t off, const uint8_t *p,
                      size_t len) {
    /* A frame usually starts a TCP segment (one write per frame): try the
     * chunk's start with the 32 bytes before it as IV, whatever the assumed
     * block alignment.  This finds frames after a mid-connection start that
     * fell inside a frame longer than a segment. */
    if (r->last_len == EW_RSCP_BLOCK && len >= EW_RSCP_BLOCK &&
        (off + EW_RSCP_BLOCK - r->align) % EW_RSCP_BLOCK != 0 && starts_frame(c, r->last, p)) {
        r->align = (unsigned)(off % EW_RSCP_BLOCK);
        memcpy(r->prev, r->last, EW_RSCP_BLOCK);
        r->have_prev = 1;
        r->part_len = 0;
        r->part_off = off;
    }
    /* Skip to the first block boundary (after a gap). */
    if (r->part_len == 0) {
        uint64_t mis = (off + EW_RSCP_BLOCK - r->align) % EW_RSCP_BLOCK;
        if (mis) {
            size_t skip = EW_RSCP_BLOCK - (size_t)mis;
            if (skip >= len)
                return;
            p += skip;
            len -= skip;
            off += skip;
        }
        r->part_off = off;
    }
    while (len) {
        size_t k = EW_RSCP_BLOCK - r->part_len;
        if (k > len)
            k = len;
        memcpy(r->part + r->part_len, p, k);
        r->part_len += k;
        p += k;
        len -= k;
        if (r->part_len < EW_RSCP_BLOCK)
            return;
        if (r->have_prev) {
            if (starts_frame(c, r->prev, r->part)) {
                /* A frame starts here: the stream resumes with this block. */
                ew_rscp_stream_init(&r->s, &c->cipher, r->buf, EW_RSCP_STREAM_BUF_MIN, 0);
                memcpy(r->s.iv, r->prev, EW_RSCP_BLOCK);
                r->base = r->part_off;
                r->mode = M_STREAM;
                uint8_t blk[EW_RSCP_BLOCK];
                memcpy(blk, r->part, EW_RSCP_BLOCK);
                r->part_len = 0;
                stream_feed(c, f, dir, r, blk, EW_RSCP_BLOCK);
                if (r->mode == M_STREAM && len)
                    stream_feed(c, f, dir, r, p, len);
                else if (r->mode == M_HUNT && len)
                    hunt_feed(c, f, dir, r, r->part_off + r->part_len, p, len);
                return;
            }
        }
        memcpy(r->prev, r->part, EW_RSCP_BLOCK);
        r->have_prev = 1;
        r->part_len = 0;
        r->part_off += EW_RSCP_BLOCK;
        r->hunted += EW_RSCP_BLOCK;
        if (r->hunted > HUNT_LIMIT) {
            ew_cap_error(c, f, dir, r->part_off, EW_ERR_DECRYPT,
                         "no RSCP frame start found in 1 MiB: wrong RSCP key or not RSCP");
            r->mode = M_STOP;
            return;
        }
    }
}

static void stream_feed(ew_cap *c, ew_cap_flowi *f, int dir, rdir *r, const uint8_t *p,
                        size_t len) {
    while (len && r->mode == M_STREAM) {
        int n = ew_rscp_stream_feed(&r->s, p, len);
        if (n < 0) {
            pull(c, f, dir, r);
            if (r->mode == M_HUNT && len)
                hunt_feed(c, f, dir, r, r->part_off + r->part_len, p, len);
            return;
        }
        p += n;
        len -= (size_t)n;
        pull(c, f, dir, r);
        if (r->mode == M_HUNT && len) {
            hunt_feed(c, f, dir, r, r->part_off + r->part_len, p, len);
            return;
        }
    }
}

void ew_cap_rscp_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                      size_t len) {
    rscp_state *st = f->ps;
    if (!c->have_key) {
        if (!st->nokey_reported) {
            st->nokey_reported = 1;
            ew_cap_error(c, f, dir, off, EW_ERR_NOT_FOUND,
                         "RSCP is encrypted: a key is needed to decode it (--key or "
                         "E3DC_RSCP_KEY)");
        }
        return;
    }
    rdir *r = &st->d[dir];
    if (!r->buf && r->mode != M_STOP) {
        r->buf = malloc(EW_RSCP_STREAM_BUF_MIN);
        if (!r->buf) {
            c->nomem = 1;
            return;
        }
    }
    if (r->mode == M_START) {
        if (f->dir[dir].syn && off == 0) {
            ew_rscp_stream_init(&r->s, &c->cipher, r->buf, EW_RSCP_STREAM_BUF_MIN, 0);
            r->base = 0;
            r->mode = M_STREAM;
        } else {
            ew_cap_error(c, f, dir, off, EW_ERR_STATE,
                         "capture starts mid-connection: the IV chain cannot be followed from "
                         "the start; decoding resumes at the next frame that can be realigned");
            start_hunt(r, off, (unsigned)(off % EW_RSCP_BLOCK));
        }
    }
    if (r->mode == M_STREAM) {
        stream_feed(c, f, dir, r, p, len);
    } else if (r->mode == M_HUNT) {
        hunt_feed(c, f, dir, r, off, p, len);
        if (r->mode == M_HUNT)
            remember(r, p, len);
    }
}

void ew_cap_rscp_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len) {
    (void)c;
    rscp_state *st = f->ps;
    rdir *r = &st->d[dir];
    if (!c->have_key || r->mode == M_STOP)
        return;
    unsigned align = r->mode == M_STREAM ? (unsigned)(r->base % EW_RSCP_BLOCK)
                     : r->mode == M_HUNT ? r->align
                                         : (f->dir[dir].syn ? 0u : (unsigned)(off % EW_RSCP_BLOCK));
    if (r->mode == M_START && !f->dir[dir].syn)
        ew_cap_error(c, f, dir, off, EW_ERR_STATE,
                     "capture starts mid-connection: the IV chain cannot be followed from the "
                     "start; decoding resumes at the next frame that can be realigned");
    start_hunt(r, off + len, align);
}

void ew_cap_rscp_end(ew_cap *c, ew_cap_flowi *f) {
    rscp_state *st = f->ps;
    if (!c->have_key)
        return;
    for (int d = 0; d < 2; d++) {
        rdir *r = &st->d[d];
        if (r->mode != M_STREAM)
            continue;
        ew_diag dg = {0, 0, NULL};
        if (ew_rscp_stream_finish(&r->s, &dg) == EW_ERR_TRUNCATED)
            ew_cap_error(c, f, d, r->base + dg.offset, EW_ERR_TRUNCATED,
                         "the stream ends inside an RSCP frame");
    }
}
