/*
 * Streaming decryptor for one direction of an RSCP connection (rscp.md §5.3,
 * §5.5).  Everything a side sends is one CBC stream over the concatenation of
 * zero-padded frames, so every whole 32-byte block can be decrypted the moment
 * it arrives; frames are then found by their length field.  Trailing zero
 * bytes are never stripped: frames legitimately end in 0x00 (§5.4).
 */
#include "rscp/rscp_int.h"

int ew_rscp_stream_init(ew_rscp_stream *s, const ew_rscp_cipher *c, uint8_t *buf, size_t cap,
                        unsigned flags) {
    memset(s, 0, sizeof *s);
    if (!c || !buf)
        return EW_ERR_INVAL;
    if (cap < EW_RSCP_STREAM_BUF_MIN)
        return EW_ERR_NOBUF;
    s->cipher = c;
    memset(s->iv, 0xFF, sizeof s->iv);
    s->buf = buf;
    /* Only whole blocks are ever decrypted into the buffer. */
    s->cap = cap - cap % EW_RSCP_BLOCK;
    s->flags = flags & ~(unsigned)EW_RSCP_DECODE_FINAL;
    return EW_OK;
}

static int stream_fail(ew_rscp_stream *s, int code, uint64_t offset, const char *what) {
    s->err = code;
    s->diag.code = code;
    s->diag.offset = (size_t)offset;
    s->diag.what = what;
    return code;
}

int ew_rscp_stream_feed(ew_rscp_stream *s, const uint8_t *in, size_t len) {
    if (s->err)
        return s->err;
    /* Drop the frames already handed out; their views expire now. */
    if (s->pos) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->consumed += s->pos;
        s->len -= s->pos;
        s->pos = 0;
    }
    size_t room = s->cap - s->len; /* a multiple of the block size */
    size_t max = room + (EW_RSCP_BLOCK - 1) - s->part_len;
    size_t take = len < max ? len : max;
    size_t left = take;

    if (s->part_len) {
        size_t k = EW_RSCP_BLOCK - s->part_len;
        if (k > left)
            k = left;
        memcpy(s->part + s->part_len, in, k);
        s->part_len += k;
        in += k;
        left -= k;
        if (s->part_len < EW_RSCP_BLOCK)
            return (int)take;
        ew_rscp_cbc_decrypt(s->cipher, s->iv, s->part, s->buf + s->len, EW_RSCP_BLOCK);
        s->len += EW_RSCP_BLOCK;
        s->part_len = 0;
    }
    size_t whole = left - left % EW_RSCP_BLOCK;
    if (whole) {
        ew_rscp_cbc_decrypt(s->cipher, s->iv, in, s->buf + s->len, whole);
        s->len += whole;
        in += whole;
        left -= whole;
    }
    memcpy(s->part, in, left);
    s->part_len = left;
    return (int)take;
}

int ew_rscp_stream_next(ew_rscp_stream *s, ew_rscp_frame *f, ew_diag *d) {
    if (s->err) {
        if (d)
            *d = s->diag;
        return s->err;
    }
    size_t avail = s->len - s->pos;
    if (avail < EW_RSCP_HEADER_LEN)
        return 0;
    const uint8_t *p = s->buf + s->pos;
    uint64_t at = s->consumed + s->pos;
    ew_diag sub;
    int rc = ew_rscp_header_check(p, s->flags, 0, &sub);
    if (rc == EW_ERR_BAD_MAGIC || rc == EW_ERR_BAD_VERSION) {
        /* With a correct key a frame always starts on a block boundary with
         * E3 DC and version 1 (§5.4); anything else is a wrong key or a
         * stream that lost its place (there is no resync, §5.3). */
        stream_fail(s, EW_ERR_DECRYPT, at + sub.offset,
                    "decrypted data does not start with E3 DC: wrong RSCP key, or data was "
                    "lost earlier in the stream");
    } else if (rc < 0) {
        stream_fail(s, rc, at + sub.offset, sub.what);
    }
    if (s->err) {
        if (d)
            *d = s->diag;
        return s->err;
    }
    size_t frame_len = EW_RSCP_HEADER_LEN + (size_t)ew_rd16(p + 16) +
                       ((ew_rd16(p + 2) & EW_RSCP_CTRL_CRC) ? EW_RSCP_CRC_LEN : 0);
    if (avail < frame_len)
        return 0;
    size_t padded = (frame_len + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
    rc = ew_rscp_frame_decode(p, frame_len, f, s->flags, &sub);
    if (rc < 0) {
        /* A bad CRC or a bad value tree spoils this frame only: its length is
         * known, the CBC chain is intact, and the next frame is still read. */
        s->pos += padded;
        return ew_fail(d, rc, (size_t)(at + sub.offset), sub.what);
    }
    s->pos += padded;
    return 1;
}

int ew_rscp_stream_finish(ew_rscp_stream *s, ew_diag *d) {
    if (s->len > s->pos)
        return ew_fail(d, EW_ERR_TRUNCATED, (size_t)(s->consumed + s->pos),
                       "stream ends inside a frame");
    if (s->part_len)
        return ew_fail(d, EW_ERR_TRUNCATED, (size_t)(s->consumed + s->len),
                       "stream ends inside a 32-byte cipher block");
    return EW_OK;
}
