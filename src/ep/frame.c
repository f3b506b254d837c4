/*
 * EP frames (ep.md §2): `9A 00 00 00 03`, header (null or a map with uint
 * keys), message type (uint <= 0xFFFFFFFF), payload (definite byte string),
 * and the incremental receiver with magic scanning (ep.md §2.4).
 */
#include <string.h>

#include "ep/ep_int.h"

static const uint8_t magic[EW_EP_MAGIC_LEN] = {0x9A, 0x00, 0x00, 0x00, 0x03};

const char *ew_ep_msg_name(uint32_t type) {
    switch (type) {
    case EW_EP_MSG_PING:
        return "Ping";
    case EW_EP_MSG_SESSION:
        return "SessionParameters";
    case EW_EP_MSG_SOFT_DISCONNECT:
        return "SoftDisconnect";
    case EW_EP_MSG_SUPPLY:
        return "SupplyParameters";
    case EW_EP_MSG_DEMAND:
        return "DemandParameters";
    case EW_EP_MSG_STORAGE:
        return "StorageParameters";
    default:
        return NULL;
    }
}

/* Decodes with an extra limit on the whole frame (the receiver's buffer):
 * running out of data at or beyond |max_frame| bytes is TOO_BIG. */
static int frame_decode(const uint8_t *p, size_t len, size_t max_payload, size_t max_frame,
                        ew_ep_frame *f, ew_diag *d) {
    memset(f, 0, sizeof *f);
    /* Look at no more than the receiver could hold, so that a frame is
     * judged the same whether it arrives whole or in pieces. */
    if (len > max_frame)
        len = max_frame;
    if (max_payload == 0)
        max_payload = EW_EP_PAYLOAD_MAX_DEFAULT;
    /* ep.md §2.2: exactly 9A 00 00 00 03; 83 is not a frame start. */
    size_t m = len < EW_EP_MAGIC_LEN ? len : EW_EP_MAGIC_LEN;
    for (size_t i = 0; i < m; i++)
        if (p[i] != magic[i])
            return ew_ep_fail(d, EW_ERR_BAD_MAGIC, i, "frame does not start with 9A 00 00 00 03");
    size_t at = EW_EP_MAGIC_LEN;
    ew_ep_tok t;
    int n;
    if (len < at)
        goto need_more;

    /* Header: null, or a map whose keys are uints (ep.md §2.2). */
    size_t hstart = at;
    if ((n = ew_ep_tok_next(p + at, len - at, &t)) < 0)
        goto tok_error;
    if (t.kind == EW_EP_TK_NULL) {
        at += (size_t)n;
    } else if (t.kind == EW_EP_TK_MAP || t.kind == EW_EP_TK_MAP_INDEF) {
        at += (size_t)n;
        f->has_headers = 1;
        for (uint64_t i = 0; t.kind == EW_EP_TK_MAP_INDEF || i < t.u; i++) {
            ew_ep_tok k;
            if ((n = ew_ep_tok_next(p + at, len - at, &k)) < 0)
                goto tok_error;
            if (k.kind == EW_EP_TK_BREAK && t.kind == EW_EP_TK_MAP_INDEF) {
                at += (size_t)n;
                break;
            }
            if (k.kind != EW_EP_TK_UINT)
                return ew_ep_fail(d, EW_ERR_BAD_FIELD, at,
                                  "header key must be an unsigned integer");
            at += (size_t)n;
            size_t err_at = 0;
            if ((n = ew_ep_skip_item(p + at, len - at, &err_at)) < 0) {
                at += err_at;
                goto tok_error;
            }
            at += (size_t)n;
            f->header_count++;
        }
        if (f->header_count == 0)
            f->warnings |= EW_EP_WARN_EMPTY_HEADER;
        f->headers.ptr = p + hstart;
        f->headers.len = at - hstart;
    } else {
        return ew_ep_fail(d, EW_ERR_BAD_FIELD, at, "header must be null or a map");
    }

    /* Message type: any uint up to 32 bits; not 1A gets a warning (U13). */
    if ((n = ew_ep_tok_next(p + at, len - at, &t)) < 0)
        goto tok_error;
    if (t.kind != EW_EP_TK_UINT)
        return ew_ep_fail(d, EW_ERR_BAD_FIELD, at, "message type must be an unsigned integer");
    if (t.u > 0xFFFFFFFFu)
        return ew_ep_fail(d, EW_ERR_RANGE, at, "message type above 0xFFFFFFFF");
    if (t.width != 4)
        f->warnings |= EW_EP_WARN_TYPE_FORM;
    f->type = (uint32_t)t.u;
    at += (size_t)n;

    /* Payload: a definite byte string, or null (the spec's Ping example,
     * E4).  Check the length head before waiting for the bytes (ep.md §2.4
     * point 2): a huge declared length is refused at once. */
    if (at >= len)
        goto need_more;
    uint8_t h = p[at];
    if (h == 0xF6) {
        f->payload_null = 1;
        f->warnings |= EW_EP_WARN_PAYLOAD_NULL;
        at++;
    } else if (h >= 0x40 && h <= 0x5B) {
        unsigned ai = h & 0x1Fu;
        size_t hl = ai < 24 ? 1 : 1 + ((size_t)1 << (ai - 24));
        if (len - at < hl)
            goto need_more;
        uint64_t plen = ai < 24 ? ai : 0;
        for (size_t i = 1; i < hl; i++)
            plen = plen << 8 | p[at + i];
        if (at + hl > max_frame || plen > max_payload || plen > max_frame - at - hl)
            return ew_ep_fail(d, EW_ERR_TOO_BIG, at, "payload length above the cap");
        if (len - at - hl < plen)
            goto need_more;
        f->payload.ptr = p + at + hl;
        f->payload.len = (size_t)plen;
        at += hl + (size_t)plen;
    } else if (h == 0x5F) {
        return ew_ep_fail(d, EW_ERR_BAD_FIELD, at, "indefinite-length payload byte string");
    } else {
        return ew_ep_fail(d, EW_ERR_BAD_FIELD, at, "payload must be an untagged byte string");
    }
    f->frame_len = at;
    f->raw.ptr = p;
    f->raw.len = at;
    return (int)at;

tok_error:
    if (n == EW_ERR_NEED_MORE)
        goto need_more;
    return ew_ep_fail(d, n, at,
                      n == EW_ERR_DEPTH ? "header value nested too deeply" : "malformed CBOR");
need_more:
    if (len >= max_frame)
        return ew_ep_fail(d, EW_ERR_TOO_BIG, max_frame, "frame larger than the buffer");
    return ew_ep_fail(d, EW_ERR_NEED_MORE, len, "frame incomplete");
}

int ew_ep_frame_decode(const uint8_t *p, size_t len, size_t max_payload, ew_ep_frame *f,
                       ew_diag *d) {
    if (!p || !f || len > (size_t)INT32_MAX)
        return ew_ep_fail(d, EW_ERR_INVAL, 0, "NULL argument or input too long");
    return frame_decode(p, len, max_payload, (size_t)INT32_MAX, f, d);
}

int ew_ep_frame_encode(uint8_t *out, size_t cap, uint32_t type, const uint8_t *headers, size_t hlen,
                       const uint8_t *payload, size_t plen, size_t *written) {
    if (!written || (!out && cap) || (!payload && plen) || (!headers && hlen))
        return EW_ERR_INVAL;
    ew_ep_w w = {out, cap, 0, 0};
    /* ep.md §2.2: the 4-byte array head is written literally; libcbor's
     * cbor_encode_array_start(3) would give 83. */
    ew_ep_w_raw(&w, magic, sizeof magic);
    if (hlen)
        ew_ep_w_raw(&w, headers, hlen);
    else
        ew_ep_w_null(&w);
    ew_ep_w_uint32_fixed(&w, type); /* always 1A + 4 bytes (U13) */
    ew_ep_w_bytes(&w, payload, plen);
    return ew_ep_w_done(&w, written);
}

void ew_ep_header_iter_init(ew_ep_hdr_iter *it, const ew_ep_frame *f) {
    it->p = f->headers.ptr;
    it->end = f->headers.ptr ? f->headers.ptr + f->headers.len : NULL;
    it->left = 0;
    ew_ep_tok t;
    int n;
    if (!f->has_headers || !it->p || (n = ew_ep_tok_next(it->p, f->headers.len, &t)) < 0)
        return;
    it->p += n;
    it->left = t.kind == EW_EP_TK_MAP_INDEF ? SIZE_MAX : (size_t)t.u;
}

int ew_ep_header_next(ew_ep_hdr_iter *it, uint64_t *key, ew_bytes *value) {
    if (!it->left || !it->p)
        return 0;
    ew_ep_tok k;
    size_t len = (size_t)(it->end - it->p), err_at;
    int n = ew_ep_tok_next(it->p, len, &k);
    if (n < 0 || k.kind != EW_EP_TK_UINT) /* break of an indefinite map */
        return (int)(it->left = 0);
    int m = ew_ep_skip_item(it->p + n, len - (size_t)n, &err_at);
    if (m < 0)
        return (int)(it->left = 0);
    *key = k.u;
    value->ptr = it->p + n;
    value->len = (size_t)m;
    it->p += n + m;
    if (it->left != SIZE_MAX)
        it->left--;
    return 1;
}

/* ---- receiver ------------------------------------------------------------ */

int ew_ep_rx_init(ew_ep_rx *rx, uint8_t *buf, size_t cap, size_t max_payload) {
    if (!rx || !buf)
        return EW_ERR_INVAL;
    if (cap < EW_EP_RX_BUF_MIN)
        return EW_ERR_NOBUF;
    memset(rx, 0, sizeof *rx);
    rx->buf = buf;
    rx->cap = cap > (size_t)INT32_MAX ? (size_t)INT32_MAX : cap;
    rx->max_payload = max_payload ? max_payload : EW_EP_PAYLOAD_MAX_DEFAULT;
    return EW_OK;
}

void ew_ep_rx_reset(ew_ep_rx *rx) {
    rx->off = 0;
    rx->len = 0;
}

size_t ew_ep_rx_pending(const ew_ep_rx *rx) {
    return rx->len;
}

uint64_t ew_ep_rx_skipped_total(const ew_ep_rx *rx) {
    return rx->skipped_all;
}

/* Offset of the first possible frame start in |p|: the full magic, or a
 * prefix of it that runs to the end.  Returns |n| when there is none. */
static size_t scan_magic(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t *q = memchr(p + i, magic[0], n - i);
        if (!q)
            return n;
        i = (size_t)(q - p);
        size_t k = n - i < EW_EP_MAGIC_LEN ? n - i : EW_EP_MAGIC_LEN;
        if (memcmp(p + i, magic, k) == 0)
            return i;
        i++;
    }
    return n;
}

static int feed_once(ew_ep_rx *rx, const uint8_t *in, size_t len, size_t *consumed, ew_ep_frame *f,
                     ew_diag *d) {
    /* Views handed out by the previous call die now: compact the buffer. */
    if (rx->off) {
        memmove(rx->buf, rx->buf + rx->off, rx->len);
        rx->off = 0;
    }
    const uint8_t *data;
    size_t dlen, len0 = rx->len;        /* bytes consumed by earlier calls */
    uint64_t data_pos = rx->pos - len0; /* stream offset of data[0] */
    if (len0 == 0) {
        /* Fast path: decode straight from the caller's bytes. */
        data = in;
        dlen = len;
    } else {
        size_t room = rx->cap - len0, add = len < room ? len : room;
        if (add)
            memcpy(rx->buf + len0, in, add);
        data = rx->buf;
        dlen = len0 + add;
    }
    size_t s = 0;
    for (;;) {
        size_t at = scan_magic(data + s, dlen - s) + s;
        rx->skipped += at - s;
        rx->skipped_all += at - s;
        s = at;
        if (dlen - s < EW_EP_MAGIC_LEN)
            break; /* a partial magic or nothing: wait */
        ew_diag fd;
        int rc = frame_decode(data + s, dlen - s, rx->max_payload, rx->cap, f, &fd);
        if (rc == EW_ERR_NEED_MORE)
            break;
        size_t end; /* data offset up to which bytes are used */
        if (rc > 0) {
            end = s + (size_t)rc;
            f->skipped = rx->skipped;
            rc = EW_OK;
        } else {
            /* ep.md §2.4 point 4: a failed candidate loses one byte only. */
            end = s + 1;
            rx->skipped++;
            rx->skipped_all++;
            f->skipped = rx->skipped;
            ew_ep_fail(d, rc, (size_t)(data_pos + s + fd.offset), fd.what);
        }
        rx->skipped = 0;
        size_t used = end > len0 ? end - len0 : 0;
        if (data == in) {
            rx->len = 0;
        } else {
            /* Bytes consumed earlier but not yet processed stay buffered;
             * bytes of this call beyond |end| go back to the caller. */
            rx->off = end;
            rx->len = end < len0 ? len0 - end : 0;
        }
        *consumed = used;
        rx->pos += used;
        return rc;
    }
    /* Need more: keep data[s..dlen) (it fits: the decoder refuses a frame
     * that reaches the buffer's size). */
    size_t keep = dlen - s;
    if (data == in) {
        memcpy(rx->buf, in + s, keep);
        *consumed = len;
    } else {
        rx->off = s;
        *consumed = dlen - len0;
    }
    rx->len = keep;
    rx->pos += *consumed;
    return EW_ERR_NEED_MORE;
}

int ew_ep_rx_feed(ew_ep_rx *rx, const uint8_t *in, size_t len, size_t *consumed, ew_ep_frame *f,
                  ew_diag *d) {
    if (consumed)
        *consumed = 0;
    if (!rx || !consumed || !f || (!in && len))
        return EW_ERR_INVAL;
    size_t total = 0;
    for (;;) {
        size_t used = 0;
        int rc = feed_once(rx, in + total, len - total, &used, f, d);
        total += used;
        /* A full buffer whose head was dropped takes more input after
         * compaction, so "need more" always means all of |in| was used. */
        if (rc != EW_ERR_NEED_MORE || total == len) {
            *consumed = total;
            return rc;
        }
    }
}
