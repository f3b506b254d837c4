/*
 * RSCP workloads of energywire-bench (bench/rscp_workloads.json):
 *
 *   W1  build + encrypt one poll request frame (10 None-type request tags,
 *       CRC on, fixed timestamp), IV chained across iterations.
 *   W2  fresh stream (IV ff..ff) per iteration: decrypt the 672-byte
 *       ciphertext, take the frame (CRC checked), walk every value including
 *       nested containers and decode each with the typed getters.
 *   W3  Rijndael-256-CBC encrypt, then decrypt, 4 MiB as 64 chained 64 KiB
 *       messages of fixed-seed random bytes.
 *
 * Each workload first checks its result against the workload file (and an
 * independent reference decoder for W2); a mismatch fails the whole run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bench.h"

#define W3_MSG (64u * 1024u)
#define W3_NMSG 64u
#define W3_TOTAL ((size_t)W3_MSG * W3_NMSG)
#define W1_MAX_TAGS 32
#define W1_BUF 512

struct bench_rscp {
    json_t *root;
    ew_rscp_cipher cipher;   /* the selected implementation */
    ew_rscp_cipher portable; /* second W3 run (valid when |both|) */
    int both;
    uint8_t key[EW_RSCP_KEY_LEN];
    /* W1 */
    uint32_t w1_tags[W1_MAX_TAGS];
    size_t w1_ntags;
    uint8_t *w1_tlvs;
    size_t w1_tlvs_len;
    /* W2 */
    uint8_t *w2_frame;
    size_t w2_frame_len;
    uint8_t *w2_ct;
    size_t w2_ct_len;
};

/* Fixed header timestamp of the vectors: 2023-11-14T22:13:20Z. */
static const ew_rscp_timestamp fixed_ts = {1700000000, 0};

/* ---- input ------------------------------------------------------------ */

static const char *get_str(const json_t *obj, const char *w, const char *key) {
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        bench_fail("workload file: %s.%s is missing or not a string", w, key);
    return s;
}

/* Hex member |key| of |obj| into a new buffer; with |want| >= 0 the length
 * must be |want|. */
static uint8_t *get_hex(const json_t *obj, const char *w, const char *key, long long want,
                        size_t *len) {
    const char *hex = get_str(obj, w, key);
    if (!hex)
        return NULL;
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *p = malloc(cap);
    if (!p) {
        bench_fail("out of memory");
        return NULL;
    }
    int n = ew_hex_decode(hex, strlen(hex), p, cap);
    if (n < 0 || (want >= 0 && (long long)n != want)) {
        bench_fail("workload file: %s.%s is not valid hex of the stated length", w, key);
        free(p);
        return NULL;
    }
    *len = (size_t)n;
    return p;
}

static long long get_int(const json_t *obj, const char *w, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) {
        bench_fail("workload file: %s.%s is missing or not an integer", w, key);
        return -1;
    }
    return json_integer_value(v);
}

static int load_inputs(bench_rscp *b, const char *path) {
    json_error_t err;
    b->root = json_load_file(path, 0, &err);
    if (!b->root) {
        bench_fail("cannot read workload file %s: %s (line %d)", path, err.text, err.line);
        return -1;
    }
    const char *key = get_str(b->root, "(top)", "rscp_key");
    const json_t *w1 = json_object_get(b->root, "W1");
    const json_t *w2 = json_object_get(b->root, "W2");
    if (!key || !json_is_object(w1) || !json_is_object(w2)) {
        bench_fail("workload file %s lacks rscp_key, W1 or W2", path);
        return -1;
    }
    ew_rscp_key_derive(key, strlen(key), b->key);

    const json_t *tags = json_object_get(w1, "tags");
    if (!json_is_array(tags) || json_array_size(tags) == 0 || json_array_size(tags) > W1_MAX_TAGS) {
        bench_fail("workload file: W1.tags must be a list of 1..%d tag names", W1_MAX_TAGS);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(tags); i++) {
        const char *name = json_string_value(json_array_get(tags, i));
        const ew_rscp_tag_info *t = name ? ew_rscp_tag_by_name(name, strlen(name)) : NULL;
        if (!t) {
            bench_fail("W1: tag '%s' does not resolve with ew_rscp_tag_by_name",
                       name ? name : "(not a string)");
            return -1;
        }
        b->w1_tags[b->w1_ntags++] = t->id;
    }
    b->w1_tlvs = get_hex(w1, "W1", "request_tlvs_hex", -1, &b->w1_tlvs_len);
    if (!b->w1_tlvs)
        return -1;

    long long plen = get_int(w2, "W2", "plaintext_len");
    long long clen = get_int(w2, "W2", "ciphertext_len");
    if (plen < 0 || clen < 0)
        return -1;
    b->w2_frame = get_hex(w2, "W2", "plaintext_frame_hex", plen, &b->w2_frame_len);
    if (!b->w2_frame)
        return -1;
    b->w2_ct = get_hex(w2, "W2", "ciphertext_hex", clen, &b->w2_ct_len);
    if (!b->w2_ct)
        return -1;
    if (b->w2_ct_len % EW_RSCP_BLOCK || b->w2_ct_len < b->w2_frame_len ||
        b->w2_ct_len - b->w2_frame_len >= EW_RSCP_BLOCK) {
        bench_fail("workload file: W2 ciphertext is not the padded length of the frame");
        return -1;
    }
    return 0;
}

/* Known answer: sealing W2's frame with a fresh chain must give W2's
 * ciphertext (pye3dc's output).  Checks encryption of every cipher in use. */
static int cipher_kat(const bench_rscp *b, const ew_rscp_cipher *c) {
    uint8_t buf[EW_RSCP_CIPHERTEXT_MAX];
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, c);
    memcpy(buf, b->w2_frame, b->w2_frame_len);
    int n = ew_rscp_encryptor_seal(&e, buf, b->w2_frame_len, sizeof buf);
    if (n != (int)b->w2_ct_len || memcmp(buf, b->w2_ct, b->w2_ct_len) != 0) {
        bench_fail("%s cipher: sealing W2's frame does not give W2's ciphertext",
                   ew_rscp_cipher_impl_name(ew_rscp_cipher_impl_of(c)));
        return -1;
    }
    return 0;
}

bench_rscp *bench_rscp_new(const char *path, ew_rscp_cipher_impl impl, int both) {
    bench_rscp *b = calloc(1, sizeof *b);
    if (!b) {
        bench_fail("out of memory");
        return NULL;
    }
    if (load_inputs(b, path) != 0)
        goto fail;
    if (ew_rscp_cipher_init(&b->cipher, b->key, impl) != EW_OK) {
        bench_fail("ew_rscp_cipher_init(%s) failed", ew_rscp_cipher_impl_name(impl));
        goto fail;
    }
    if (cipher_kat(b, &b->cipher) != 0)
        goto fail;
    b->both = both && ew_rscp_cipher_impl_of(&b->cipher) == EW_RSCP_CIPHER_AESNI;
    if (b->both) {
        if (ew_rscp_cipher_init(&b->portable, b->key, EW_RSCP_CIPHER_PORTABLE) != EW_OK) {
            bench_fail("ew_rscp_cipher_init(portable) failed");
            goto fail;
        }
        if (cipher_kat(b, &b->portable) != 0)
            goto fail;
    }
    return b;
fail:
    bench_rscp_del(b);
    return NULL;
}

void bench_rscp_del(bench_rscp *b) {
    if (!b)
        return;
    free(b->w1_tlvs);
    free(b->w2_frame);
    free(b->w2_ct);
    if (b->root)
        json_decref(b->root);
    free(b);
}

const char *bench_rscp_impl_name(const bench_rscp *b) {
    return ew_rscp_cipher_impl_name(ew_rscp_cipher_impl_of(&b->cipher));
}

static bench_row *add_row(bench_report *rep, const char *key, const char *what,
                          const ew_rscp_cipher *c, int target_is_mb, double target) {
    if (rep->nrows >= BENCH_MAX_ROWS)
        return NULL;
    bench_row *r = &rep->rows[rep->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->what = what;
    r->impl = ew_rscp_cipher_impl_name(ew_rscp_cipher_impl_of(c));
    r->target_is_mb = target_is_mb;
    r->target = target;
    return r;
}

/* ---- W1: build + seal a poll request ----------------------------------- */

typedef struct w1_ctx {
    const bench_rscp *b;
    size_t ct_len; /* expected ciphertext length */
    uint64_t sink;
    uint8_t buf[W1_BUF];
} w1_ctx;

/* One iteration: the frame is built in w->buf and sealed in place.
 * Returns the ciphertext length, or an error code. */
static inline int w1_once(w1_ctx *w, ew_rscp_encryptor *e, size_t *frame_len) {
    ew_rscp_builder bld;
    ew_rscp_builder_init_frame(&bld, w->buf, sizeof w->buf);
    ew_rscp_req_tags(&bld, w->b->w1_tags, w->b->w1_ntags);
    int rc = ew_rscp_builder_finish_frame(&bld, fixed_ts, 1, frame_len);
    if (rc < 0)
        return rc;
    return ew_rscp_encryptor_seal(e, w->buf, *frame_len, sizeof w->buf);
}

static int w1_run(void *ctx, uint64_t iters) {
    w1_ctx *w = ctx;
    ew_rscp_encryptor e;
    uint64_t sink = 0;
    ew_rscp_encryptor_init(&e, &w->b->cipher);
    for (uint64_t i = 0; i < iters; i++) {
        size_t flen;
        int n = w1_once(w, &e, &flen);
        if (n != (int)w->ct_len) {
            bench_fail("W1: iteration %llu: build/seal returned %d (%s)", (unsigned long long)i, n,
                       n < 0 ? ew_errname(n) : "wrong length");
            return -1;
        }
        sink += w->buf[n - 1];
    }
    w->sink += sink + e.iv[0];
    return 0;
}

static int w1_verify(w1_ctx *w) {
    const bench_rscp *b = w->b;
    enum { N = 3 };
    uint8_t frame[W1_BUF], cts[N][W1_BUF], plain[W1_BUF];
    size_t flen = 0;
    ew_rscp_frame f;
    ew_diag d = {0, 0, NULL};

    /* The frame: header, CRC and exactly the reference TLVs. */
    ew_rscp_builder bld;
    ew_rscp_builder_init_frame(&bld, frame, sizeof frame);
    ew_rscp_req_tags(&bld, b->w1_tags, b->w1_ntags);
    int rc = ew_rscp_builder_finish_frame(&bld, fixed_ts, 1, &flen);
    if (rc < 0) {
        bench_fail("W1: building the request frame: %s", ew_errname(rc));
        return -1;
    }
    rc = ew_rscp_frame_decode(
        frame, flen, &f, EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_FINAL | EW_RSCP_DECODE_VALIDATE,
        &d);
    if (rc != (int)flen || !f.has_crc || f.ts.seconds != fixed_ts.seconds ||
        f.ts.nanoseconds != 0 || flen != EW_RSCP_HEADER_LEN + b->w1_tlvs_len + EW_RSCP_CRC_LEN) {
        bench_fail("W1: the built frame does not decode as a %zu-byte frame with CRC (%s)",
                   EW_RSCP_HEADER_LEN + b->w1_tlvs_len + EW_RSCP_CRC_LEN,
                   rc < 0 ? ew_errname(rc) : "wrong header");
        return -1;
    }
    if (f.data_len != b->w1_tlvs_len || memcmp(f.data, b->w1_tlvs, b->w1_tlvs_len) != 0) {
        bench_fail("W1: built TLVs differ from W1.request_tlvs_hex");
        return -1;
    }

    /* N chained iterations of the timed code. */
    w->ct_len = (flen + EW_RSCP_BLOCK - 1) / EW_RSCP_BLOCK * EW_RSCP_BLOCK;
    ew_rscp_encryptor e;
    ew_rscp_encryptor_init(&e, &b->cipher);
    for (int i = 0; i < N; i++) {
        size_t l2 = 0;
        int n = w1_once(w, &e, &l2);
        if (n != (int)w->ct_len || l2 != flen) {
            bench_fail("W1: build/seal returned %d, expected %zu", n, w->ct_len);
            return -1;
        }
        memcpy(cts[i], w->buf, w->ct_len);
    }
    /* The first ciphertext alone, IV ff..ff: the frame plus zero padding. */
    uint8_t iv[EW_RSCP_BLOCK];
    memset(iv, 0xFF, sizeof iv);
    rc = ew_rscp_cbc_decrypt(&b->cipher, iv, cts[0], plain, w->ct_len);
    int pad_ok = 1;
    for (size_t i = flen; i < w->ct_len; i++)
        pad_ok &= plain[i] == 0;
    if (rc != EW_OK || memcmp(plain, frame, flen) != 0 || !pad_ok) {
        bench_fail("W1: decrypting the first ciphertext does not give the frame");
        return -1;
    }
    if (memcmp(cts[0], cts[1], w->ct_len) == 0) {
        bench_fail("W1: the IV is not chained: two iterations gave the same ciphertext");
        return -1;
    }
    /* All N through a receiving stream: N copies of the frame. */
    static uint8_t work[EW_RSCP_STREAM_BUF_MIN];
    ew_rscp_stream s;
    ew_rscp_stream_init(&s, &b->cipher, work, sizeof work, EW_RSCP_DECODE_STRICT);
    for (int i = 0; i < N; i++) {
        if (ew_rscp_stream_feed(&s, cts[i], w->ct_len) != (int)w->ct_len ||
            ew_rscp_stream_next(&s, &f, &d) != 1 || f.frame_len != flen ||
            memcmp(f.data - EW_RSCP_HEADER_LEN, frame, flen) != 0) {
            bench_fail("W1: iteration %d does not decrypt to the frame on a chained stream", i);
            return -1;
        }
    }
    if (ew_rscp_stream_next(&s, &f, &d) != 0 || ew_rscp_stream_finish(&s, &d) != EW_OK) {
        bench_fail("W1: the chained stream has bytes left over");
        return -1;
    }
    return 0;
}

static int run_w1(bench_rscp *b, const bench_opts *o, bench_report *rep) {
    w1_ctx *w = calloc(1, sizeof *w);
    if (!w) {
        bench_fail("out of memory");
        return -1;
    }
    w->b = b;
    int rc = -1;
    bench_row *r = add_row(rep, "W1", "build + encrypt a 10-tag poll request frame (CRC)",
                           &b->cipher, 0, 2000000);
    if (r && w1_verify(w) == 0 && bench_measure(w1_run, w, (double)w->ct_len, o, &r->res) == 0)
        rc = 0;
    free(w);
    return rc;
}

/* ---- W2: decrypt + parse + decode a poll response ----------------------- */

/* Checksums of one decode: value count, integers, byte strings, and the
 * bit patterns of the floating-point values (integer sums stay in
 * callee-saved registers across the getter calls; a double would not). */
typedef struct w2_sum {
    uint64_t count;
    uint64_t isum;
    uint64_t bsum;
    uint64_t fsum;
} w2_sum;

static inline uint64_t double_bits(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* Walks every value with the iterator and decodes it with the getters.  The
 * sums live in locals (registers), not behind |out|, so that the harness adds
 * no memory round trip per value. */
static int w2_walk(const uint8_t *area, size_t len, w2_sum *out) {
    ew_rscp_iter stack[EW_RSCP_DEFAULT_MAX_DEPTH + 1];
    unsigned top = 0;
    uint64_t count = 0, isum = 0, bsum = 0, fsum = 0;
    int rc;
    ew_rscp_iter_init(&stack[0], area, len, EW_RSCP_DEFAULT_MAX_DEPTH);
    for (;;) {
        ew_rscp_value v;
        rc = ew_rscp_iter_next(&stack[top], &v, NULL);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        count++;
        isum += v.tag;
        if (v.flags & EW_RSCP_VF_RAW) {
            ew_bytes bytes;
            rc = ew_rscp_value_get_bytes(&v, &bytes);
            bsum += bytes.len;
            if (rc < 0)
                return rc;
            continue;
        }
        switch (v.type) {
        case EW_RSCP_TYPE_NONE:
            break;
        case EW_RSCP_TYPE_BOOL: {
            int x = 0;
            rc = ew_rscp_value_get_bool(&v, &x);
            isum += (uint64_t)x;
            break;
        }
        case EW_RSCP_TYPE_CHAR8:
        case EW_RSCP_TYPE_UCHAR8:
        case EW_RSCP_TYPE_INT16:
        case EW_RSCP_TYPE_UINT16:
        case EW_RSCP_TYPE_INT32:
        case EW_RSCP_TYPE_UINT32:
        case EW_RSCP_TYPE_INT64: {
            int64_t x = 0;
            rc = ew_rscp_value_get_i64(&v, &x);
            isum += (uint64_t)x;
            break;
        }
        case EW_RSCP_TYPE_UINT64: {
            uint64_t x = 0;
            rc = ew_rscp_value_get_u64(&v, &x);
            isum += x;
            break;
        }
        case EW_RSCP_TYPE_FLOAT32:
        case EW_RSCP_TYPE_DOUBLE64: {
            double x = 0;
            rc = ew_rscp_value_get_double(&v, &x);
            fsum += double_bits(x);
            break;
        }
        case EW_RSCP_TYPE_TIMESTAMP: {
            ew_rscp_timestamp ts = {0, 0};
            rc = ew_rscp_value_get_timestamp(&v, &ts);
            isum += (uint64_t)ts.seconds + ts.nanoseconds;
            break;
        }
        case EW_RSCP_TYPE_ERROR: {
            uint32_t code = 0;
            rc = ew_rscp_value_get_error(&v, &code);
            isum += code;
            break;
        }
        case EW_RSCP_TYPE_CONTAINER:
            if (top == EW_RSCP_DEFAULT_MAX_DEPTH)
                return EW_ERR_DEPTH;
            rc = ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], NULL);
            if (rc == EW_OK)
                top++;
            break;
        default: { /* Bitfield, CString, ByteArray */
            ew_bytes bytes;
            rc = ew_rscp_value_get_bytes(&v, &bytes);
            bsum += bytes.len + (bytes.len ? bytes.ptr[0] : 0u);
            break;
        }
        }
        if (rc < 0)
            return rc;
    }
    out->count = count;
    out->isum = isum;
    out->bsum = bsum;
    out->fsum = fsum;
    return 0;
}

/* ---- the reference: an independent decoder that shares no code with the
 * library, so a library fault cannot cancel out in the comparison. ---- */

static uint64_t ref_le(const uint8_t *p, unsigned n) {
    uint64_t x = 0;
    for (unsigned i = n; i-- > 0;)
        x = x << 8 | p[i];
    return x;
}

static int ref_walk(const uint8_t *p, size_t len, unsigned depth, w2_sum *s) {
    /* Value sizes by type id 0x00..0x10; -1 = variable (rscp.md §3.2). */
    static const int fixed[17] = {0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, -1, -1, -1, 12, -1};
    size_t at = 0;
    while (at < len) {
        if (len - at < 7)
            return -1;
        uint32_t tag = (uint32_t)ref_le(p + at, 4);
        uint8_t type = p[at + 4];
        size_t vlen = (size_t)ref_le(p + at + 5, 2);
        const uint8_t *v = p + at + 7;
        if (vlen > len - at - 7)
            return -1;
        at += 7 + vlen;
        s->count++;
        s->isum += tag;
        int known = type <= 0x10 || type == 0xFF;
        int want = type <= 0x10 ? fixed[type] : 4;
        if (!known || (want >= 0 && (size_t)want != vlen && !(type == 0xFF && vlen == 1))) {
            s->bsum += vlen; /* raw */
            continue;
        }
        switch (type) {
        case 0x00:
            break;
        case 0x01:
            s->isum += v[0] != 0;
            break;
        case 0x02:
            s->isum += (uint64_t)(int64_t)(int8_t)v[0];
            break;
        case 0x04:
            s->isum += (uint64_t)(int64_t)(int16_t)ref_le(v, 2);
            break;
        case 0x06:
            s->isum += (uint64_t)(int64_t)(int32_t)ref_le(v, 4);
            break;
        case 0x03:
        case 0x05:
        case 0x07:
        case 0x08:
        case 0x09:
            s->isum += ref_le(v, (unsigned)vlen);
            break;
        case 0x0A: {
            uint32_t bits = (uint32_t)ref_le(v, 4);
            float f;
            memcpy(&f, &bits, sizeof f);
            s->fsum += double_bits((double)f);
            break;
        }
        case 0x0B: {
            s->fsum += ref_le(v, 8);
            break;
        }
        case 0x0E:
            if (depth + 1 > EW_RSCP_DEFAULT_MAX_DEPTH || ref_walk(v, vlen, depth + 1, s) != 0)
                return -1;
            break;
        case 0x0F:
            s->isum += ref_le(v, 8) + ref_le(v + 8, 4);
            break;
        case 0xFF:
            s->isum += ref_le(v, (unsigned)vlen);
            break;
        default: /* Bitfield, CString, ByteArray */
            s->bsum += vlen + (vlen ? v[0] : 0u);
            break;
        }
    }
    return 0;
}

typedef struct w2_ctx {
    const bench_rscp *b;
    w2_sum want;
    uint64_t sink;
    uint8_t *work;
    size_t work_cap;
} w2_ctx;

static int w2_same(const w2_sum *a, const w2_sum *b) {
    return a->count == b->count && a->isum == b->isum && a->bsum == b->bsum && a->fsum == b->fsum;
}

/* One iteration; on success |f| is the frame taken from the stream. */
static inline int w2_once(w2_ctx *w, ew_rscp_stream *s, ew_rscp_frame *f, w2_sum *sum) {
    int rc = ew_rscp_stream_init(s, &w->b->cipher, w->work, w->work_cap, 0);
    if (rc < 0)
        return rc;
    rc = ew_rscp_stream_feed(s, w->b->w2_ct, w->b->w2_ct_len);
    if (rc != (int)w->b->w2_ct_len)
        return rc < 0 ? rc : EW_ERR_PROTO;
    rc = ew_rscp_stream_next(s, f, NULL);
    if (rc != 1)
        return rc < 0 ? rc : EW_ERR_NEED_MORE;
    if (!f->has_crc)
        return EW_ERR_PROTO;
    return w2_walk(f->data, f->data_len, sum);
}

static int w2_run(void *ctx, uint64_t iters) {
    w2_ctx *w = ctx;
    uint64_t sink = 0;
    for (uint64_t i = 0; i < iters; i++) {
        ew_rscp_stream s;
        ew_rscp_frame f;
        w2_sum sum;
        int rc = w2_once(w, &s, &f, &sum);
        if (rc < 0 || !w2_same(&sum, &w->want)) {
            bench_fail("W2: iteration %llu: %s", (unsigned long long)i,
                       rc < 0 ? ew_errname(rc) : "decoded values differ from the reference");
            return -1;
        }
        sink += sum.isum;
    }
    w->sink += sink;
    return 0;
}

static int w2_verify(w2_ctx *w) {
    const bench_rscp *b = w->b;
    const uint8_t *fr = b->w2_frame;
    size_t flen = b->w2_frame_len;

    /* The reference: header fields read by hand, then the value tree. */
    size_t dlen = flen >= EW_RSCP_HEADER_LEN ? (size_t)ref_le(fr + 16, 2) : 0;
    if (flen < EW_RSCP_HEADER_LEN || fr[0] != 0xE3 || fr[1] != 0xDC || !(fr[3] & 0x10) ||
        flen != EW_RSCP_HEADER_LEN + dlen + EW_RSCP_CRC_LEN ||
        ref_walk(fr + EW_RSCP_HEADER_LEN, dlen, 0, &w->want) != 0 || w->want.count == 0) {
        bench_fail("W2: plaintext_frame_hex is not a well-formed frame with CRC");
        return -1;
    }
    int n = ew_rscp_validate(fr + EW_RSCP_HEADER_LEN, dlen, 0, NULL);
    if (n < 0 || (uint64_t)n != w->want.count) {
        bench_fail("W2: ew_rscp_validate counts %d values, the reference %llu", n,
                   (unsigned long long)w->want.count);
        return -1;
    }

    ew_rscp_stream s;
    ew_rscp_frame f;
    w2_sum sum;
    ew_diag d = {0, 0, NULL};
    int rc = w2_once(w, &s, &f, &sum);
    if (rc < 0) {
        bench_fail("W2: first iteration failed: %s", ew_errname(rc));
        return -1;
    }
    if (f.frame_len != flen || memcmp(f.data - EW_RSCP_HEADER_LEN, fr, flen) != 0) {
        bench_fail("W2: the stream yields a frame that differs from plaintext_frame_hex");
        return -1;
    }
    if (!w2_same(&sum, &w->want)) {
        bench_fail("W2: decoded %llu values (checksums %llx/%llx/%llx), the reference %llu "
                   "(%llx/%llx/%llx)",
                   (unsigned long long)sum.count, (unsigned long long)sum.isum,
                   (unsigned long long)sum.bsum, (unsigned long long)sum.fsum,
                   (unsigned long long)w->want.count, (unsigned long long)w->want.isum,
                   (unsigned long long)w->want.bsum, (unsigned long long)w->want.fsum);
        return -1;
    }
    if (ew_rscp_stream_next(&s, &f, &d) != 0 || ew_rscp_stream_finish(&s, &d) != EW_OK) {
        bench_fail("W2: the stream has bytes left after the frame");
        return -1;
    }
    return 0;
}

static int run_w2(bench_rscp *b, const bench_opts *o, bench_report *rep) {
    w2_ctx w;
    memset(&w, 0, sizeof w);
    w.b = b;
    w.work_cap = EW_RSCP_STREAM_BUF_MIN;
    w.work = malloc(w.work_cap);
    if (!w.work) {
        bench_fail("out of memory");
        return -1;
    }
    int rc = -1;
    bench_row *r = add_row(rep, "W2", "decrypt + parse + decode a 646-byte poll response",
                           &b->cipher, 0, 1000000);
    if (r && w2_verify(&w) == 0 && bench_measure(w2_run, &w, (double)b->w2_ct_len, o, &r->res) == 0)
        rc = 0;
    free(w.work);
    return rc;
}

/* ---- W3: bulk CBC -------------------------------------------------------- */

typedef struct w3_ctx {
    const ew_rscp_cipher *c;
    const uint8_t *pt;
    uint8_t *ct;
    uint8_t *out;
} w3_ctx;

static int w3_encrypt(void *ctx, uint64_t iters) {
    w3_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        uint8_t iv[EW_RSCP_BLOCK];
        memset(iv, 0xFF, sizeof iv);
        for (size_t m = 0; m < W3_NMSG; m++) {
            size_t at = m * W3_MSG;
            if (ew_rscp_cbc_encrypt(w->c, iv, w->pt + at, w->ct + at, W3_MSG) != EW_OK) {
                bench_fail("W3: ew_rscp_cbc_encrypt failed");
                return -1;
            }
        }
    }
    return 0;
}

static int w3_decrypt(void *ctx, uint64_t iters) {
    w3_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        uint8_t iv[EW_RSCP_BLOCK];
        memset(iv, 0xFF, sizeof iv);
        for (size_t m = 0; m < W3_NMSG; m++) {
            size_t at = m * W3_MSG;
            if (ew_rscp_cbc_decrypt(w->c, iv, w->ct + at, w->out + at, W3_MSG) != EW_OK) {
                bench_fail("W3: ew_rscp_cbc_decrypt failed");
                return -1;
            }
        }
    }
    return 0;
}

/* splitmix64: fixed-seed input bytes. */
static uint64_t prng_next(uint64_t *s) {
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* decrypt(encrypt(x)) == x, also as one 4 MiB CBC run (the chain carries
 * across the 64 calls exactly as within one call). */
static int w3_roundtrip(w3_ctx *w, const char *name) {
    if (w3_encrypt(w, 1) != 0)
        return -1;
    memset(w->out, 0, W3_TOTAL);
    if (w3_decrypt(w, 1) != 0)
        return -1;
    if (memcmp(w->out, w->pt, W3_TOTAL) != 0) {
        bench_fail("W3 (%s): decrypt(encrypt(x)) != x", name);
        return -1;
    }
    uint8_t iv[EW_RSCP_BLOCK];
    memset(iv, 0xFF, sizeof iv);
    memset(w->out, 0, W3_TOTAL);
    if (ew_rscp_cbc_decrypt(w->c, iv, w->ct, w->out, W3_TOTAL) != EW_OK ||
        memcmp(w->out, w->pt, W3_TOTAL) != 0) {
        bench_fail("W3 (%s): the 64 chained messages do not decrypt as one CBC stream", name);
        return -1;
    }
    return 0;
}

/* Portable and AES-NI must agree on one message (and its chain state). */
static int w3_cross_check(const bench_rscp *b, const uint8_t *msg) {
    ew_rscp_cipher p, a;
    if (!ew_rscp_cipher_aesni_available())
        return 0;
    if (ew_rscp_cipher_init(&p, b->key, EW_RSCP_CIPHER_PORTABLE) != EW_OK ||
        ew_rscp_cipher_init(&a, b->key, EW_RSCP_CIPHER_AESNI) != EW_OK) {
        bench_fail("W3: cannot set up both cipher implementations");
        return -1;
    }
    uint8_t *buf = malloc(4 * (size_t)W3_MSG);
    if (!buf) {
        bench_fail("out of memory");
        return -1;
    }
    uint8_t *cp = buf, *ca = buf + W3_MSG, *dp = buf + 2 * W3_MSG, *da = buf + 3 * W3_MSG;
    uint8_t ivp[EW_RSCP_BLOCK], iva[EW_RSCP_BLOCK];
    memset(ivp, 0xFF, sizeof ivp);
    memset(iva, 0xFF, sizeof iva);
    ew_rscp_cbc_encrypt(&p, ivp, msg, cp, W3_MSG);
    ew_rscp_cbc_encrypt(&a, iva, msg, ca, W3_MSG);
    int ok = memcmp(cp, ca, W3_MSG) == 0 && memcmp(ivp, iva, sizeof ivp) == 0;
    memset(ivp, 0xFF, sizeof ivp);
    memset(iva, 0xFF, sizeof iva);
    ew_rscp_cbc_decrypt(&p, ivp, ca, dp, W3_MSG);
    ew_rscp_cbc_decrypt(&a, iva, cp, da, W3_MSG);
    ok = ok && memcmp(dp, msg, W3_MSG) == 0 && memcmp(da, msg, W3_MSG) == 0 &&
         memcmp(ivp, iva, sizeof ivp) == 0;
    free(buf);
    if (!ok) {
        bench_fail("W3: portable and AES-NI ciphers disagree on a 64 KiB message");
        return -1;
    }
    return 0;
}

static int w3_measure(w3_ctx *w, const char *sfx, bench_report *rep, const bench_opts *o) {
    const char *name = ew_rscp_cipher_impl_name(ew_rscp_cipher_impl_of(w->c));
    int aesni = ew_rscp_cipher_impl_of(w->c) == EW_RSCP_CIPHER_AESNI;
    char key[32];
    if (w3_roundtrip(w, name) != 0)
        return -1;

    snprintf(key, sizeof key, "W3_encrypt%s", sfx);
    bench_row *r = add_row(rep, key, "Rijndael-256-CBC encrypt 4 MiB as 64 chained 64 KiB messages",
                           w->c, 1, aesni ? 1000 : 150);
    if (!r || bench_measure(w3_encrypt, w, (double)W3_TOTAL, o, &r->res) != 0)
        return -1;
    /* The last timed pass must still produce the right ciphertext. */
    memset(w->out, 0, W3_TOTAL);
    if (w3_decrypt(w, 1) != 0 || memcmp(w->out, w->pt, W3_TOTAL) != 0) {
        bench_fail("W3 (%s): ciphertext of the timed runs does not decrypt", name);
        return -1;
    }

    snprintf(key, sizeof key, "W3_decrypt%s", sfx);
    r = add_row(rep, key, "Rijndael-256-CBC decrypt 4 MiB as 64 chained 64 KiB messages", w->c, 1,
                aesni ? 2000 : 150);
    memset(w->out, 0, W3_TOTAL);
    if (!r || bench_measure(w3_decrypt, w, (double)W3_TOTAL, o, &r->res) != 0)
        return -1;
    if (memcmp(w->out, w->pt, W3_TOTAL) != 0) {
        bench_fail("W3 (%s): the timed decryption gives wrong plaintext", name);
        return -1;
    }
    return 0;
}

static int run_w3(bench_rscp *b, const bench_opts *o, bench_report *rep) {
    uint8_t *mem = malloc(3 * W3_TOTAL);
    if (!mem) {
        bench_fail("out of memory");
        return -1;
    }
    uint8_t *pt = mem;
    uint64_t seed = UINT64_C(0x5EED0E3DC0DE2024);
    for (size_t i = 0; i < W3_TOTAL; i += 8) {
        uint64_t x = prng_next(&seed);
        memcpy(pt + i, &x, 8);
    }
    w3_ctx w = {&b->cipher, pt, mem + W3_TOTAL, mem + 2 * W3_TOTAL};
    int rc = w3_cross_check(b, pt + 5 * (size_t)W3_MSG);
    if (rc == 0)
        rc = w3_measure(&w, "", rep, o);
    if (rc == 0 && b->both) {
        /* Keep the fast ciphertext to check the portable one against it. */
        uint8_t *fast = malloc(W3_TOTAL);
        if (!fast) {
            bench_fail("out of memory");
            rc = -1;
        } else {
            memcpy(fast, w.ct, W3_TOTAL);
            w.c = &b->portable;
            rc = w3_measure(&w, "_portable", rep, o);
            if (rc == 0 && memcmp(fast, w.ct, W3_TOTAL) != 0) {
                bench_fail("W3: portable and AES-NI ciphertexts of the 4 MiB differ");
                rc = -1;
            }
            free(fast);
        }
    }
    free(mem);
    return rc;
}

int bench_rscp_run(bench_rscp *b, const char *id, const bench_opts *o, bench_report *rep) {
    if (strcmp(id, "W1") == 0)
        return run_w1(b, o, rep);
    if (strcmp(id, "W2") == 0)
        return run_w2(b, o, rep);
    if (strcmp(id, "W3") == 0)
        return run_w3(b, o, rep);
    bench_fail("unknown workload %s", id);
    return -1;
}
