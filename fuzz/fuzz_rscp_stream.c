/*
 * libFuzzer target: the streaming decryptor (key "my-rscp-key").
 *
 * Input byte 0 selects how the rest is fed:
 *   bits 0-4  chunk size parameter c: chunks of (c+1)^2 bytes, c = 31 feeds
 *             everything at once
 *   bit 5     vary the chunk sizes (pseudo-random in 1..(c+1)^2)
 *   bit 6     decode with EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_VALIDATE
 *   bit 7     the rest is plaintext: it is zero-padded to 32 bytes and
 *             encrypted with the portable cipher first, so mutations reach
 *             the framing logic (and the AES-NI decryptor is cross-checked)
 * The rest goes through an ew_rscp_stream in chunks; every frame is taken,
 * then the stream is finished.  The same input fed in one piece must give
 * the same events.  In plaintext mode every frame must equal the plaintext
 * at its stream offset.
 */
#include "fuzz_util.h"

#define MAX_EVENTS 4096

typedef struct event {
    int rc;           /* 1 = frame, else the error */
    size_t offset;    /* diag offset for errors */
    size_t frame_len; /* for frames */
    uint32_t crc;     /* CRC-32 of the frame bytes */
} event;

typedef struct run_log {
    event ev[MAX_EVENTS];
    size_t n;
    int sticky;    /* the sticky error that ended the run, or 0 */
    int finish_rc; /* ew_rscp_stream_finish(), when not sticky */
} run_log;

static uint8_t work[EW_RSCP_STREAM_BUF_MIN + 64];
static run_log log_chunked, log_whole;

static ew_rscp_cipher c_auto, c_portable;

static void setup_once(void) {
    static int done;
    if (done)
        return;
    uint8_t key[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive("my-rscp-key", 11, key);
    FUZZ_CHECK(ew_rscp_cipher_init(&c_auto, key, EW_RSCP_CIPHER_AUTO) == EW_OK);
    FUZZ_CHECK(ew_rscp_cipher_init(&c_portable, key, EW_RSCP_CIPHER_PORTABLE) == EW_OK);
    done = 1;
}

typedef struct plain_ref {
    const uint8_t *p; /* padded plaintext, or NULL */
    size_t len;
    size_t pos; /* where the next frame starts */
} plain_ref;

static size_t pad32(size_t n) {
    return (n + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
}

/* Plaintext mode: the frame or fault at |ref->pos| must be what the
 * plaintext holds there. */
static void check_plain(plain_ref *ref, int rc, const ew_rscp_frame *f) {
    if (!ref->p)
        return;
    FUZZ_CHECK(ref->pos + EW_RSCP_HEADER_LEN <= ref->len);
    const uint8_t *h = ref->p + ref->pos;
    size_t flen = EW_RSCP_HEADER_LEN + ((size_t)h[16] | (size_t)h[17] << 8) +
                  ((h[3] & 0x10) ? EW_RSCP_CRC_LEN : 0);
    if (rc == EW_ERR_DECRYPT) {
        FUZZ_CHECK(h[0] != EW_RSCP_MAGIC0 || h[1] != EW_RSCP_MAGIC1 || (h[3] & 0x0F) != 1);
        return;
    }
    FUZZ_CHECK(h[0] == EW_RSCP_MAGIC0 && h[1] == EW_RSCP_MAGIC1 && (h[3] & 0x0F) == 1);
    if (rc == EW_ERR_BAD_FIELD)
        return;
    FUZZ_CHECK(ref->pos + flen <= ref->len);
    if (rc == 1) {
        FUZZ_CHECK(f->frame_len == flen);
        FUZZ_CHECK(memcmp(f->data - EW_RSCP_HEADER_LEN, h, flen) == 0);
    }
    ref->pos += pad32(flen);
}

static void add_event(run_log *lg, int rc, const ew_rscp_frame *f, const ew_diag *d) {
    /* Beyond MAX_EVENTS only the count is compared. */
    if (lg->n++ >= MAX_EVENTS)
        return;
    event *e = &lg->ev[lg->n - 1];
    memset(e, 0, sizeof *e);
    e->rc = rc;
    if (rc == 1) {
        e->frame_len = f->frame_len;
        e->crc = ew_rscp_crc32(0, f->data - EW_RSCP_HEADER_LEN, f->frame_len);
    } else {
        e->offset = d->offset;
    }
}

/* Takes every frame that is ready.  Returns 1 when the stream is dead. */
static int drain(ew_rscp_stream *s, run_log *lg, plain_ref *ref) {
    for (;;) {
        ew_rscp_frame f;
        ew_diag d = {0, 0, NULL};
        int rc = ew_rscp_stream_next(s, &f, &d);
        if (rc == 0)
            return 0;
        if (rc == 1) {
            FUZZ_CHECK(f.data >= s->buf + EW_RSCP_HEADER_LEN &&
                       f.data - EW_RSCP_HEADER_LEN + f.frame_len <= s->buf + s->len);
            FUZZ_CHECK(f.frame_len ==
                       EW_RSCP_HEADER_LEN + (size_t)f.data_len + (f.has_crc ? EW_RSCP_CRC_LEN : 0));
            if (s->flags & EW_RSCP_DECODE_VALIDATE)
                FUZZ_CHECK(ew_rscp_validate(f.data, f.data_len, 0, NULL) >= 0);
        } else {
            FUZZ_CHECK(rc == EW_ERR_DECRYPT || rc == EW_ERR_BAD_FIELD || rc == EW_ERR_CRC ||
                       rc == EW_ERR_OVERRUN || rc == EW_ERR_DEPTH);
            FUZZ_CHECK(d.code == rc && d.what != NULL);
        }
        add_event(lg, rc, &f, &d);
        check_plain(ref, rc, &f);
        if (rc == EW_ERR_DECRYPT || rc == EW_ERR_BAD_FIELD) {
            /* Sticky: every later call says the same. */
            ew_diag d2 = {0, 0, NULL};
            FUZZ_CHECK(ew_rscp_stream_next(s, &f, &d2) == rc && d2.offset == d.offset);
            uint8_t one = 0;
            FUZZ_CHECK(ew_rscp_stream_feed(s, &one, 1) == rc);
            lg->sticky = rc;
            return 1;
        }
    }
}

static uint32_t prng(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

static void run(const uint8_t *in, size_t len, uint8_t mode, int whole, run_log *lg,
                const uint8_t *plain) {
    ew_rscp_stream s;
    unsigned flags = (mode & 0x40) ? EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_VALIDATE : 0;
    FUZZ_CHECK(ew_rscp_stream_init(&s, &c_auto, work, sizeof work, flags) == EW_OK);
    plain_ref ref = {plain, len, 0};
    unsigned c = mode & 0x1F;
    size_t maxc = whole || c == 31 ? SIZE_MAX : (size_t)(c + 1) * (c + 1);
    uint32_t seed = mode;
    memset(lg, 0, sizeof *lg);

    size_t at = 0;
    while (at < len) {
        size_t chunk = len - at;
        if (maxc != SIZE_MAX) {
            size_t want = (mode & 0x20) ? 1 + prng(&seed) % maxc : maxc;
            if (want < chunk)
                chunk = want;
        }
        int n = ew_rscp_stream_feed(&s, in + at, chunk);
        FUZZ_CHECK(n >= 0 && (size_t)n <= chunk);
        at += (size_t)n;
        size_t before = lg->n;
        if (drain(&s, lg, &ref))
            return;
        /* Taking nothing and yielding nothing would loop forever: a full
         * buffer must always hold a complete frame. */
        FUZZ_CHECK(n > 0 || lg->n > before);
    }
    ew_diag d = {0, 0, NULL};
    lg->finish_rc = ew_rscp_stream_finish(&s, &d);
    FUZZ_CHECK(lg->finish_rc == EW_OK || lg->finish_rc == EW_ERR_TRUNCATED);
    if (plain) {
        /* Every complete frame has been handed out: only a cut frame may be
         * left, and finish() must say so. */
        if (lg->finish_rc == EW_OK) {
            FUZZ_CHECK(ref.pos == len);
        } else {
            FUZZ_CHECK(ref.pos < len);
            size_t left = len - ref.pos;
            if (left >= EW_RSCP_HEADER_LEN) {
                const uint8_t *h = plain + ref.pos;
                size_t flen = EW_RSCP_HEADER_LEN + ((size_t)h[16] | (size_t)h[17] << 8) +
                              ((h[3] & 0x10) ? EW_RSCP_CRC_LEN : 0);
                FUZZ_CHECK(flen > left);
            }
        }
    }
    if (lg->finish_rc == EW_OK)
        FUZZ_CHECK(len % EW_RSCP_BLOCK == 0);
}

static int same_log(const run_log *a, const run_log *b) {
    if (a->n != b->n || a->sticky != b->sticky)
        return 0;
    if (!a->sticky && a->finish_rc != b->finish_rc)
        return 0;
    for (size_t i = 0; i < a->n && i < MAX_EVENTS; i++) {
        const event *x = &a->ev[i], *y = &b->ev[i];
        if (x->rc != y->rc || x->offset != y->offset || x->frame_len != y->frame_len ||
            x->crc != y->crc)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    uint8_t *buf = NULL, *plain = NULL;

    if (mode & 0x80) {
        size_t padded = pad32(len);
        buf = malloc(padded ? 2 * padded : 1);
        FUZZ_CHECK(buf != NULL);
        plain = buf + padded;
        memset(plain, 0, padded);
        if (len)
            memcpy(plain, in, len);
        uint8_t iv[EW_RSCP_BLOCK];
        memset(iv, 0xFF, sizeof iv);
        FUZZ_CHECK(ew_rscp_cbc_encrypt(&c_portable, iv, plain, buf, padded) == EW_OK);
        in = buf;
        len = padded;
    }

    run(in, len, mode, 0, &log_chunked, plain);
    run(in, len, mode, 1, &log_whole, plain);
    FUZZ_CHECK(same_log(&log_chunked, &log_whole));
    free(buf);
    return 0;
}
