/*
 * Incremental RCT receiver (rct.md §5.2, §5.3, §6.2).
 *
 * The state machine is rctclient's ReceiveFrame restated, with the changes
 * rct.md §11 recommends: 0xFF is not a command (Q5), a LENGTH below the
 * minimum is refused as soon as the header is in (§4, Q6), the plant and
 * long layout come from the command byte (Q7), and the receiver rearms
 * itself after every outcome instead of needing a new object.
 */
#include <string.h>

#include "rct/rct_int.h"

int ew_rct_rx_init(ew_rct_rx *rx, uint8_t *buf, size_t cap) {
    if (!rx || !buf)
        return EW_ERR_INVAL;
    if (cap < EW_RCT_RX_BUF_MIN)
        return EW_ERR_NOBUF;
    rx->buf = buf;
    rx->cap = cap;
    rx->pos = 0;
    rx->skipped = 0;
    ew_rct_rx_reset(rx);
    return EW_OK;
}

void ew_rct_rx_reset(ew_rct_rx *rx) {
    rx->len = 0;
    rx->hdr = 0;
    rx->total = 0;
    rx->esc = 0;
}

/* Header fields of the unescaped bytes in rx->buf (rx->len >= 2). */
static void fill_header(const ew_rct_rx *rx, ew_rct_frame *f) {
    const uint8_t *b = rx->buf;
    unsigned fl = ew_rct_cmd_flags(b[1]);
    f->command = b[1];
    f->plant = (fl & EW_RCT_CMDF_PLANT) != 0;
    f->is_long = (fl & EW_RCT_CMDF_LONG) != 0;
    f->frame_len = rx->total;
    if (!rx->hdr || rx->len < rx->hdr)
        return;
    size_t at = 2;
    f->length = f->is_long ? (uint16_t)(b[2] << 8 | b[3]) : b[2];
    at += f->is_long ? 2 : 1;
    if (f->plant) {
        f->address = ew_rct_be32(b + at);
        at += 4;
    }
    f->id = ew_rct_be32(b + at);
}

static void frame_clear(ew_rct_frame *f) {
    memset(f, 0, sizeof *f);
}

int ew_rct_rx_header(const ew_rct_rx *rx, ew_rct_frame *f) {
    if (!rx || !f)
        return 0;
    frame_clear(f);
    if (rx->len < 2)
        return 0;
    fill_header(rx, f);
    return rx->total != 0;
}

/* Ends the current frame with outcome |rc|; the receiver hunts again. */
static int finish(ew_rct_rx *rx, ew_rct_frame *f, ew_diag *d, int rc, size_t i, size_t *consumed,
                  const char *what) {
    *consumed = i;
    rx->pos += i;
    f->skipped = rx->skipped;
    rx->skipped = 0;
    ew_rct_rx_reset(rx);
    if (rc != EW_OK)
        ew_rct_fail(d, rc, (size_t)(rx->pos - 1), what);
    return rc;
}

/* The header is complete: check LENGTH and work out the frame length.
 * Returns 0, or the error for this frame. */
static int header_done(ew_rct_rx *rx, const char **what) {
    const uint8_t *b = rx->buf;
    int is_long = rx->hdr == 8 || rx->hdr == 12;
    int plant = rx->hdr >= 11;
    size_t l = is_long ? (size_t)(b[2] << 8 | b[3]) : b[2];
    /* rct.md §4: L counts ADDRESS + ID + PAYLOAD, so it is at least 4 (8 for
     * plant frames).  rctclient notices a smaller L one byte later, or with
     * L = 3 completes a frame whose CRC overlaps the ID (Q6). */
    if (l < (plant ? 8u : 4u)) {
        *what = "length field is smaller than the address and id it counts";
        return EW_ERR_OVERRUN;
    }
    rx->total = (is_long ? 4 : 3) + l + 2;
    if (rx->total > rx->cap) {
        *what = "frame is larger than the receive buffer";
        return EW_ERR_TOO_BIG;
    }
    return 0;
}

int ew_rct_rx_feed(ew_rct_rx *rx, const uint8_t *in, size_t len, size_t *consumed, ew_rct_frame *f,
                   ew_diag *d) {
    if (!consumed)
        return EW_ERR_INVAL;
    *consumed = 0;
    if (!rx || !f || (!in && len))
        return EW_ERR_INVAL;
    frame_clear(f);
    size_t i = 0;
    const char *what = NULL;
    while (i < len) {
        if (rx->len == 0) {
            /* Hunting: everything up to the start token is dropped, 2d and
             * 00 included; escaping does not apply outside a frame (§5.2). */
            const uint8_t *s = memchr(in + i, EW_RCT_START, len - i);
            if (!s) {
                rx->skipped += len - i;
                i = len;
                break;
            }
            rx->skipped += (size_t)(s - (in + i));
            i = (size_t)(s - in) + 1;
            rx->buf[0] = EW_RCT_START;
            rx->len = 1;
            rx->esc = 0;
            continue;
        }
        if (rx->total) {
            /* Body after the header: copy runs up to the next escape token,
             * never past the end of the frame. */
            if (rx->esc) {
                rx->esc = 0;
                rx->buf[rx->len++] = in[i++];
            } else {
                size_t want = rx->total - rx->len, avail = len - i;
                size_t n = avail < want ? avail : want;
                const uint8_t *e = memchr(in + i, EW_RCT_ESCAPE, n);
                size_t run = e ? (size_t)(e - (in + i)) : n;
                memcpy(rx->buf + rx->len, in + i, run);
                rx->len += run;
                i += run;
                if (e) {
                    rx->esc = 1;
                    i++;
                }
            }
            if (rx->len == rx->total)
                goto complete;
            continue;
        }
        /* Command and header, one byte at a time. */
        uint8_t c = in[i++];
        if (rx->esc)
            rx->esc = 0;
        else if (c == EW_RCT_ESCAPE) {
            rx->esc = 1;
            continue;
        }
        rx->buf[rx->len++] = c;
        if (rx->len == 2) {
            unsigned fl = ew_rct_cmd_flags(c);
            if (!fl) {
                f->command = c;
                return finish(rx, f, d, EW_ERR_BAD_FIELD, i, consumed,
                              c == EW_RCT_CMD_EXTENSION ? "EXTENSION command has no frame layout"
                                                        : "invalid command byte");
            }
            rx->hdr = 7 + ((fl & EW_RCT_CMDF_PLANT) ? 4 : 0) + ((fl & EW_RCT_CMDF_LONG) ? 1 : 0);
        } else if (rx->len == rx->hdr) {
            int rc = header_done(rx, &what);
            if (rc) {
                fill_header(rx, f);
                return finish(rx, f, d, rc, i, consumed, what);
            }
        }
    }
    *consumed = i;
    rx->pos += i;
    return EW_ERR_NEED_MORE;

complete : {
    const uint8_t *b = rx->buf;
    size_t t = rx->total;
    fill_header(rx, f);
    f->payload.ptr = b + rx->hdr;
    f->payload.len = t - rx->hdr - 2;
    f->crc = (uint16_t)(b[t - 2] << 8 | b[t - 1]);
    f->crc_calc = ew_rct_crc16(b + 1, t - 3);
    f->crc_ok = f->crc == f->crc_calc;
    return finish(rx, f, d, f->crc_ok ? EW_OK : EW_ERR_CRC, i, consumed, "CRC mismatch");
}
}
