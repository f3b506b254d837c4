/*
 * libFuzzer target: the EP frame decoder and the incremental receiver
 * (ep.md §2.4).
 *
 * Input byte 0 selects the feeding: bits 0-4 give chunks of (c+1)^2 bytes
 * (c = 31: all at once), bit 5 varies the chunk sizes, bit 6 uses a small
 * receive buffer (EW_EP_RX_BUF_MIN + 32) so that EW_ERR_TOO_BIG is reached.
 * Invariants: the receiver never consumes more than it was given and makes
 * progress; its outcomes (code, stream offset, frame length, skipped bytes)
 * equal those of the same input fed in one piece; every frame it returns
 * decodes again with ew_ep_frame_decode() to the same length, re-encodes
 * (ew_ep_frame_encode with its raw header) to a frame that decodes to the
 * same type and payload, and its message is decoded and formatted.
 */
#include <energywire/ep.h>

#include "fuzz_util.h"

#define MAX_EVENTS 4096

typedef struct event {
    int rc;
    uint64_t end;
    size_t len, skipped;
    uint32_t type;
} event;

typedef struct run_log {
    event ev[MAX_EVENTS];
    size_t n;
} run_log;

static uint8_t rxbuf[EW_EP_PAYLOAD_MAX_DEFAULT + 256];
static uint8_t again[EW_EP_PAYLOAD_MAX_DEFAULT + 256];
static char text[1 << 16];
static run_log log_chunked, log_whole;

static void check_frame(const ew_ep_frame *f) {
    ew_ep_frame g;
    FUZZ_CHECK(ew_ep_frame_decode(f->raw.ptr, f->raw.len, 0, &g, NULL) == (int)f->raw.len);
    FUZZ_CHECK(g.type == f->type && g.payload.len == f->payload.len);
    size_t n = 0;
    int rc =
        ew_ep_frame_encode(again, sizeof again, f->type, f->has_headers ? f->headers.ptr : NULL,
                           f->has_headers ? f->headers.len : 0, f->payload.ptr, f->payload.len, &n);
    FUZZ_CHECK(rc == EW_OK);
    FUZZ_CHECK(ew_ep_frame_decode(again, n, sizeof again, &g, NULL) == (int)n);
    FUZZ_CHECK(g.type == f->type && g.payload.len == f->payload.len);
    FUZZ_CHECK(f->payload.len == 0 || memcmp(g.payload.ptr, f->payload.ptr, f->payload.len) == 0);
    ew_ep_hdr_iter it;
    uint64_t key;
    ew_bytes val;
    size_t hn = 0;
    ew_ep_header_iter_init(&it, f);
    while (ew_ep_header_next(&it, &key, &val))
        hn++;
    FUZZ_CHECK(hn == f->header_count);
    ew_ep_msg m;
    if (ew_ep_msg_decode_frame(f, &m, NULL) == EW_OK) {
        int tn = ew_ep_msg_format(&m, EW_EP_FMT_JSON, text, sizeof text);
        FUZZ_CHECK(tn >= 0);
        if ((size_t)tn < sizeof text)
            FUZZ_CHECK(fuzz_json_valid(text, (size_t)tn));
        ew_ep_msg_format(&m, 0, text, sizeof text);
    }
}

static void run(const uint8_t *in, size_t len, size_t cap, unsigned mode, run_log *lg, int whole) {
    ew_ep_rx rx;
    ew_ep_frame f;
    FUZZ_CHECK(ew_ep_rx_init(&rx, rxbuf, cap, 0) == EW_OK);
    lg->n = 0;
    size_t pos = 0, base = (size_t)((mode & 0x1F) + 1) * ((mode & 0x1F) + 1);
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ len;
    while (pos < len) {
        size_t chunk = whole || (mode & 0x1F) == 31 ? len - pos : base;
        if (!whole && (mode & 0x20)) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            chunk = 1 + (size_t)(seed % base);
        }
        if (chunk > len - pos)
            chunk = len - pos;
        size_t end = pos + chunk;
        while (pos < end) {
            size_t used = 0;
            ew_diag d = {0};
            int rc = ew_ep_rx_feed(&rx, in + pos, end - pos, &used, &f, &d);
            FUZZ_CHECK(used <= end - pos);
            pos += used;
            if (rc == EW_ERR_NEED_MORE) {
                FUZZ_CHECK(pos == end);
                continue;
            }
            if (lg->n < MAX_EVENTS) {
                event *e = &lg->ev[lg->n++];
                e->rc = rc;
                e->end = rc == EW_OK ? 0 : d.offset;
                e->len = rc == EW_OK ? f.frame_len : 0;
                e->skipped = f.skipped;
                e->type = rc == EW_OK ? f.type : 0;
            }
            if (rc == EW_OK)
                check_frame(&f);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    size_t cap = (mode & 0x40) ? EW_EP_RX_BUF_MIN + 32 : sizeof rxbuf;
    run(data + 1, size - 1, cap, mode, &log_chunked, 0);
    run(data + 1, size - 1, cap, mode, &log_whole, 1);
    FUZZ_CHECK(log_chunked.n == log_whole.n);
    for (size_t i = 0; i < log_whole.n; i++) {
        const event *a = &log_chunked.ev[i], *b = &log_whole.ev[i];
        FUZZ_CHECK(a->rc == b->rc && a->end == b->end && a->len == b->len &&
                   a->skipped == b->skipped && a->type == b->type);
    }
    ew_ep_frame f;
    ew_ep_frame_decode(data + 1, size - 1, 0, &f, NULL);
    return 0;
}
