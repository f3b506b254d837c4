/*
 * RCT in captures: every frame of both directions through ew_rct_rx (which
 * skips bytes before a start token, rct.md §5.2, and so resumes after a gap
 * at the next 0x2B), with the device faults of rct.md §15 flagged: a wrong
 * CRC, and a payload cut short under a valid CRC (checked against the
 * object's type from the registry).  Responses are matched to the latest
 * earlier request for the same object (and plant address); a request
 * replaced by a newer one for the same object, or still open at the end of
 * the flow, is reported as unanswered.
 */
#include "capture/cap_int.h"

#include <energywire/rct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 64
#define CONFIRM_BYTES 4096

typedef struct pending {
    int used;
    uint8_t plant;
    uint32_t address, id;
    uint64_t ts, off;
} pending;

typedef struct cdir {
    ew_rct_rx rx;
    uint8_t *buf;
    uint64_t last_end; /* stream offset just after the previous outcome */
    int confirmed, doubt_reported;
} cdir;

typedef struct rct_state {
    cdir d[2];
    pending req[MAX_PENDING];
} rct_state;

int ew_cap_rct_start(ew_cap *c, ew_cap_flowi *f) {
    (void)c;
    /* The receive buffers come with a direction's first data. */
    rct_state *st = calloc(1, sizeof *st);
    if (!st)
        return EW_ERR_NOMEM;
    f->ps = st;
    return EW_OK;
}

void ew_cap_rct_free(ew_cap_flowi *f) {
    rct_state *st = f->ps;
    if (!st)
        return;
    free(st->d[0].buf);
    free(st->d[1].buf);
    free(st);
    f->ps = NULL;
}

static void oid_text(uint32_t id, char *out, size_t cap) {
    const ew_rct_object *o = ew_rct_object_by_id(id);
    if (o)
        snprintf(out, cap, "%s (0x%08X)", o->name, id);
    else
        snprintf(out, cap, "0x%08X", id);
}

static void unanswered(ew_cap *c, ew_cap_flowi *f, pending *q) {
    char name[96], msg[160];
    oid_text(q->id, name, sizeof name);
    snprintf(msg, sizeof msg, "request for %s got no response", name);
    ew_cap_record r;
    memset(&r, 0, sizeof r);
    r.type = EW_CAP_REC_ERROR;
    r.dir = EW_CAP_TO_DEVICE;
    r.stream_off = q->off;
    r.err = EW_ERR_TIMEOUT;
    r.detail = msg;
    r.rct_flags = EW_CAP_RCT_UNANSWERED;
    r.rct_request_ts_us = q->ts;
    q->used = 0;
    ew_cap_emit(c, f, &r);
}

static pending *find_req(rct_state *st, const ew_rct_frame *fr) {
    for (int i = 0; i < MAX_PENDING; i++) {
        pending *q = &st->req[i];
        if (q->used && q->id == fr->id && q->plant == fr->plant && q->address == fr->address)
            return q;
    }
    return NULL;
}

static void on_frame(ew_cap *c, ew_cap_flowi *f, int dir, cdir *cd, uint64_t at, int rc,
                     const ew_rct_frame *fr) {
    rct_state *st = f->ps;
    ew_cap_record r;
    memset(&r, 0, sizeof r);
    r.type = EW_CAP_REC_FRAME;
    r.dir = dir;
    r.stream_off = at;
    r.frame.ptr = cd->rx.buf;
    r.frame.len = fr->frame_len;
    r.ok = rc == EW_OK;
    if (rc == EW_ERR_CRC)
        r.rct_flags |= EW_CAP_RCT_CRC_BAD;
    unsigned fl = ew_rct_cmd_flags(fr->command);
    if (fl & EW_RCT_CMDF_RESPONSE) {
        if (rc == EW_OK) {
            int type = ew_rct_type_for(fr->id, fr->command);
            ew_rct_value v;
            if (ew_rct_value_decode(type, fr->payload.ptr, fr->payload.len, &v, NULL) ==
                EW_ERR_TRUNCATED)
                r.rct_flags |= EW_CAP_RCT_TRUNCATED;
        }
        pending *q = find_req(st, fr);
        if (q) {
            r.rct_request_ts_us = q->ts;
            q->used = 0;
        } else {
            r.rct_flags |= EW_CAP_RCT_UNSOLICITED;
        }
    } else if (rc == EW_OK) {
        pending *q = find_req(st, fr);
        if (q) /* asked again before an answer came: the first one was lost */
            unanswered(c, f, q);
        q = NULL;
        for (int i = 0; i < MAX_PENDING && !q; i++)
            if (!st->req[i].used)
                q = &st->req[i];
        if (!q) {
            /* Table full: the oldest request is given up. */
            q = &st->req[0];
            for (int i = 1; i < MAX_PENDING; i++)
                if (st->req[i].ts < q->ts)
                    q = &st->req[i];
            unanswered(c, f, q);
        }
        q->used = 1;
        q->plant = fr->plant;
        q->address = fr->address;
        q->id = fr->id;
        q->ts = c->now_ts;
        q->off = at;
    }
    ew_cap_emit(c, f, &r);
    if (rc == EW_ERR_CRC) {
        char name[96], msg[160];
        oid_text(fr->id, name, sizeof name);
        snprintf(msg, sizeof msg, "RCT frame for %s: CRC 0x%04X, computed 0x%04X", name, fr->crc,
                 fr->crc_calc);
        ew_cap_error(c, f, dir, at, EW_ERR_CRC, msg);
    }
}

void ew_cap_rct_data(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, const uint8_t *p,
                     size_t len) {
    rct_state *st = f->ps;
    cdir *cd = &st->d[dir];
    if (!cd->buf) {
        cd->buf = malloc(EW_RCT_FRAME_MAX);
        if (!cd->buf) {
            c->nomem = 1;
            return;
        }
        ew_rct_rx_init(&cd->rx, cd->buf, EW_RCT_FRAME_MAX);
    }
    size_t pos = 0;
    while (pos < len) {
        size_t n = 0;
        ew_rct_frame fr;
        int rc = ew_rct_rx_feed(&cd->rx, p + pos, len - pos, &n, &fr, NULL);
        pos += n;
        if (rc == EW_ERR_NEED_MORE)
            break;
        uint64_t at = cd->last_end + fr.skipped;
        cd->last_end = off + pos;
        if (rc == EW_OK || rc == EW_ERR_CRC) {
            if (rc == EW_OK)
                cd->confirmed = 1;
            on_frame(c, f, dir, cd, at, rc, &fr);
        } else {
            char msg[96];
            snprintf(msg, sizeof msg, "broken RCT frame (command 0x%02X): %s", fr.command,
                     ew_strerror(rc));
            ew_cap_error(c, f, dir, at, rc, msg);
        }
    }
    if (!cd->confirmed && !cd->doubt_reported && off + len > CONFIRM_BYTES) {
        cd->doubt_reported = 1;
        ew_cap_error(c, f, dir, off, EW_ERR_PROTO,
                     "no valid RCT frame in the first 4096 bytes: not RCT?");
    }
}

void ew_cap_rct_gap(ew_cap *c, ew_cap_flowi *f, int dir, uint64_t off, uint64_t len) {
    (void)c;
    rct_state *st = f->ps;
    cdir *cd = &st->d[dir];
    if (cd->buf)
        ew_rct_rx_reset(&cd->rx);
    cd->last_end = off + len;
}

void ew_cap_rct_end(ew_cap *c, ew_cap_flowi *f) {
    rct_state *st = f->ps;
    for (;;) {
        pending *q = NULL;
        for (int i = 0; i < MAX_PENDING; i++)
            if (st->req[i].used && (!q || st->req[i].ts < q->ts))
                q = &st->req[i];
        if (!q)
            break;
        unanswered(c, f, q);
    }
}
