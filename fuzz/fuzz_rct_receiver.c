/*
 * libFuzzer target: the RCT incremental receiver and the value decoders.
 *
 * Input byte 0 selects how the rest is fed:
 *   bits 0-4  chunk size parameter c: chunks of (c+1)^2 bytes, c = 31 feeds
 *             everything at once
 *   bit 5     vary the chunk sizes (pseudo-random in 1..(c+1)^2)
 *   bit 6     a small receive buffer (EW_RCT_RX_BUF_MIN + 48 bytes), so that
 *             EW_ERR_TOO_BIG is reached
 * The rest goes through an ew_rct_rx in chunks.  Invariants: the receiver
 * never consumes more than it was given and always makes progress or asks
 * for more; the outcomes (with stream offsets) equal those of the same input
 * fed in one piece; every complete frame is rebuilt with ew_rct_frame_encode
 * and parses back to the same fields; its payload is decoded as every type
 * and formatted (text and JSON), and decoded values re-encode.
 */
#include <energywire/rct.h>

#include "fuzz_util.h"

#define MAX_EVENTS 4096

typedef struct event {
    int rc;
    uint64_t end; /* stream offset after the outcome */
    uint32_t id;
    uint16_t crc;
    size_t plen;
} event;

typedef struct run_log {
    event ev[MAX_EVENTS];
    size_t n;
} run_log;

static uint8_t rxbuf[EW_RCT_FRAME_MAX];
static uint8_t rebuilt[EW_RCT_WIRE_MAX];
static uint8_t rxbuf2[EW_RCT_FRAME_MAX];
static char text[1 << 16];
static run_log log_chunked, log_whole;

static void check_payload(const ew_rct_frame *f) {
    static const int types[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 22, 23, 24, 99};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        ew_rct_value v;
        ew_diag d = {0};
        int rc = ew_rct_value_decode(types[k], f->payload.ptr, f->payload.len, &v, &d);
        FUZZ_CHECK(rc == EW_OK || rc == EW_ERR_TRUNCATED || rc == EW_ERR_TOO_BIG);
        if (rc == EW_OK) {
            uint8_t out[EW_RCT_FRAME_MAX];
            size_t w;
            FUZZ_CHECK(ew_rct_value_encode(&v, out, sizeof out, &w) == EW_OK);
            ew_rct_value v2;
            FUZZ_CHECK(ew_rct_value_decode(v.type, out, w, &v2, NULL) == EW_OK);
            FUZZ_CHECK(v2.i == v.i && v2.bits == v.bits && v2.bytes.len == v.bytes.len);
        } else {
            FUZZ_CHECK(d.code == rc && d.offset <= f->payload.len);
        }
        int n = ew_rct_value_format(types[k], f->payload.ptr, f->payload.len, 0, text, sizeof text,
                                    NULL);
        FUZZ_CHECK(n == rc || (rc == EW_OK && n >= 0));
        n = ew_rct_value_format(types[k], f->payload.ptr, f->payload.len, EW_RCT_FMT_JSON, text,
                                sizeof text, NULL);
        if (n >= 0 && (size_t)n < sizeof text) {
            FUZZ_CHECK(fuzz_json_valid(text, (size_t)n));
        }
    }
}

static void check_rebuild(const ew_rct_frame *f) {
    size_t n, used;
    int rc = ew_rct_frame_encode(rebuilt, sizeof rebuilt, f->command, f->address, f->id,
                                 f->payload.ptr, f->payload.len, &n);
    unsigned fl = ew_rct_cmd_flags(f->command);
    if (fl & EW_RCT_CMDF_NO_PAYLOAD && f->payload.len)
        return; /* we never send payloads with reads (rct.md §11 Q1) */
    FUZZ_CHECK(rc == EW_OK);
    ew_rct_rx rx;
    ew_rct_frame g;
    FUZZ_CHECK(ew_rct_rx_init(&rx, rxbuf2, sizeof rxbuf2) == EW_OK);
    FUZZ_CHECK(ew_rct_rx_feed(&rx, rebuilt, n, &used, &g, NULL) == EW_OK);
    FUZZ_CHECK(used == n && g.id == f->id && g.address == f->address && g.command == f->command &&
               g.payload.len == f->payload.len && g.frame_len == f->frame_len);
    FUZZ_CHECK(f->payload.len == 0 || memcmp(g.payload.ptr, f->payload.ptr, f->payload.len) == 0);
}

static void run(const uint8_t *in, size_t len, size_t cap, unsigned c, int vary, run_log *lg,
                int deep) {
    ew_rct_rx rx;
    ew_rct_frame f;
    size_t pos = 0, maxc = (size_t)(c + 1) * (c + 1);
    uint32_t rnd = 0x9e3779b9u;
    lg->n = 0;
    FUZZ_CHECK(ew_rct_rx_init(&rx, rxbuf, cap) == EW_OK);
    while (pos < len) {
        size_t chunk = c == 31 ? len - pos : maxc;
        if (vary && c != 31) {
            rnd = rnd * 1103515245u + 12345u;
            chunk = 1 + (rnd >> 8) % maxc;
        }
        if (chunk > len - pos)
            chunk = len - pos;
        size_t done = 0;
        while (done < chunk) {
            size_t used = 0;
            ew_diag d = {0};
            int rc = ew_rct_rx_feed(&rx, in + pos + done, chunk - done, &used, &f, &d);
            FUZZ_CHECK(used <= chunk - done);
            done += used;
            if (rc == EW_ERR_NEED_MORE) {
                FUZZ_CHECK(done == chunk);
                continue;
            }
            FUZZ_CHECK(used > 0);
            FUZZ_CHECK(rc == EW_OK || rc == EW_ERR_CRC || rc == EW_ERR_BAD_FIELD ||
                       rc == EW_ERR_OVERRUN || rc == EW_ERR_TOO_BIG);
            if (rc != EW_OK)
                FUZZ_CHECK(d.code == rc && d.offset == rx.pos - 1);
            if (lg->n < MAX_EVENTS) {
                event *e = &lg->ev[lg->n++];
                e->rc = rc;
                e->end = rx.pos;
                e->id = f.id;
                e->crc = f.crc;
                e->plen = f.payload.len;
            }
            if (rc == EW_OK || rc == EW_ERR_CRC) {
                FUZZ_CHECK(f.frame_len <= cap && f.payload.len + 9 <= f.frame_len);
                if (deep) {
                    check_payload(&f);
                    check_rebuild(&f);
                }
            }
        }
        pos += chunk;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    size_t cap = (mode & 0x40) ? EW_RCT_RX_BUF_MIN + 48 : sizeof rxbuf;
    run(data + 1, size - 1, cap, mode & 31, (mode & 0x20) != 0, &log_chunked, 1);
    run(data + 1, size - 1, cap, 31, 0, &log_whole, 0);
    FUZZ_CHECK(log_chunked.n == log_whole.n);
    for (size_t i = 0; i < log_whole.n; i++) {
        const event *a = &log_chunked.ev[i], *b = &log_whole.ev[i];
        FUZZ_CHECK(a->rc == b->rc && a->end == b->end && a->id == b->id && a->crc == b->crc &&
                   a->plen == b->plen);
    }
    return 0;
}
