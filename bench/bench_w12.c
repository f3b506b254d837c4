/*
 * W12: capture decoding throughput.  Builds in memory a pcap of RSCP poll
 * traffic (Ethernet/IPv4, a few connections to port 5033, each poll a
 * request of the W1 tags and an answer of the W2 frame, both encrypted with
 * the workload key through the real encryptor and cut into 1460-byte TCP
 * segments by ew_cap_writer), then times ew_cap_read_mem() over it with a
 * record callback that only counts.  It is timed in passes over the whole
 * capture; MB/s are 10^6 bytes of capture file per second and ops/s are
 * decoded frames per second.
 *
 * Self-check on every pass: the number of decoded frames and the sum of
 * their lengths equal what was written, and nothing was reported as an error
 * or a gap.
 */
#define _POSIX_C_SOURCE 200809L

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <energywire/capture.h>

#include "bench_w12.h"

#define W12_FLOWS 4
/* About 100 MB of capture; --quick builds a small one (the smoke test only
 * checks that the pass verifies). */
#define W12_TARGET_BYTES (100u * 1000u * 1000u)
#define W12_QUICK_BYTES (2u * 1000u * 1000u)
#define W12_POLL_US 1000u

typedef struct w12_ctx {
    ew_cap_writer *w;
    ew_bytes cap;
    char key[64];
    uint64_t want_frames, want_frame_bytes;
    /* Per pass. */
    uint64_t frames, frame_bytes, bad;
} w12_ctx;

static void w12_on_record(void *user, const ew_cap_record *r) {
    w12_ctx *c = user;
    if (r->type == EW_CAP_REC_FRAME) {
        c->frames++;
        c->frame_bytes += r->frame.len;
        c->bad += !r->ok;
    } else if (r->type == EW_CAP_REC_ERROR || r->type == EW_CAP_REC_GAP) {
        c->bad++;
    }
}

static int w12_run(void *ctx, uint64_t iters) {
    w12_ctx *c = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        ew_cap_opts o;
        ew_cap_opts_init(&o);
        o.rscp_key = c->key;
        o.on_record = w12_on_record;
        o.user = c;
        ew_cap *d;
        char detail[128] = "";
        if (ew_cap_new(&d, &o, detail, sizeof detail) != EW_OK) {
            bench_fail("W12: ew_cap_new: %s", detail);
            return -1;
        }
        c->frames = c->frame_bytes = c->bad = 0;
        int rc = ew_cap_read_mem(d, c->cap.ptr, c->cap.len);
        ew_cap_del(d);
        if (rc != EW_OK || c->frames != c->want_frames || c->frame_bytes != c->want_frame_bytes ||
            c->bad) {
            bench_fail("W12: read %s: %llu frames of %llu bytes (want %llu of %llu), %llu "
                       "errors/gaps/bad frames",
                       ew_errname(rc), (unsigned long long)c->frames,
                       (unsigned long long)c->frame_bytes, (unsigned long long)c->want_frames,
                       (unsigned long long)c->want_frame_bytes, (unsigned long long)c->bad);
            return -1;
        }
    }
    return 0;
}

/* Reads hex field |key| of workload |w| in |root|. */
static uint8_t *load_hex(json_t *root, const char *w, const char *key, size_t *len) {
    const char *hex = json_string_value(json_object_get(json_object_get(root, w), key));
    if (!hex) {
        bench_fail("W12: the workload file has no %s.%s", w, key);
        return NULL;
    }
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    int got = out ? ew_hex_decode(hex, n, out, n / 2 + 1) : EW_ERR_NOMEM;
    if (got < 0) {
        bench_fail("W12: %s.%s is not hex", w, key);
        free(out);
        return NULL;
    }
    *len = (size_t)got;
    return out;
}

/* Builds the capture into c->w.  Returns 0 or -1 after bench_fail(). */
static int w12_build(w12_ctx *c, const char *workloads, int quick) {
    json_error_t jerr;
    json_t *root = json_load_file(workloads, 0, &jerr);
    if (!root) {
        bench_fail("W12: %s: %s", workloads, jerr.text);
        return -1;
    }
    int rc = -1;
    size_t tlv_len = 0, ans_len = 0;
    uint8_t *tlvs = load_hex(root, "W1", "request_tlvs_hex", &tlv_len);
    uint8_t *answer = load_hex(root, "W2", "plaintext_frame_hex", &ans_len);
    const char *key = json_string_value(json_object_get(root, "rscp_key"));
    uint8_t *buf = malloc(EW_RSCP_CIPHERTEXT_MAX);
    if (!tlvs || !answer || !buf || !key || strlen(key) >= sizeof c->key) {
        if (tlvs && answer && buf)
            bench_fail("W12: the workload file has no usable rscp_key");
        goto out;
    }
    snprintf(c->key, sizeof c->key, "%s", key);

    /* The request: the W1 tags in a frame with CRC.  The answer: W2's
     * plaintext frame, the answer to a real live-value poll. */
    uint8_t req[1024];
    ew_rscp_timestamp ts0 = {1700000000, 0};
    int req_len = ew_rscp_frame_encode(req, sizeof req, tlvs, tlv_len, ts0, 1, NULL);
    ew_diag d = {0};
    ew_rscp_frame f;
    if (req_len < 0 ||
        ew_rscp_frame_decode(answer, ans_len, &f, EW_RSCP_DECODE_FINAL, &d) != (int)ans_len) {
        bench_fail("W12: cannot build the poll frames");
        goto out;
    }

    uint8_t k[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(key, strlen(key), k);
    ew_rscp_cipher cipher;
    ew_rscp_cipher_init(&cipher, k, EW_RSCP_CIPHER_AUTO);
    ew_rscp_encryptor enc[W12_FLOWS][2];
    int flow[W12_FLOWS];
    ew_cap_writer_opts wo = {.pcapng = 0, .linktype = EW_CAP_LINK_ETHERNET};
    if (ew_cap_writer_new(&c->w, &wo) != EW_OK) {
        bench_fail("W12: ew_cap_writer_new failed");
        goto out;
    }
    uint64_t ts = (uint64_t)1700000000 * 1000000u;
    for (int i = 0; i < W12_FLOWS; i++) {
        char client[32];
        snprintf(client, sizeof client, "192.168.1.%d:%d", 20 + i, 50000 + i);
        flow[i] = ew_cap_writer_flow(c->w, client, "192.168.1.5:5033");
        if (flow[i] < 0 || ew_cap_writer_open(c->w, flow[i], ts) != EW_OK) {
            bench_fail("W12: cannot start flow %d", i);
            goto out;
        }
        ew_rscp_encryptor_init(&enc[i][EW_CAP_TO_DEVICE], &cipher);
        ew_rscp_encryptor_init(&enc[i][EW_CAP_FROM_DEVICE], &cipher);
    }
    const uint8_t *msg[2] = {req, answer};
    size_t msg_len[2] = {(size_t)req_len, ans_len};
    size_t target = quick ? W12_QUICK_BYTES : W12_TARGET_BYTES;
    for (uint64_t poll = 0; ew_cap_writer_data(c->w).len < target; poll++) {
        int i = (int)(poll % W12_FLOWS);
        for (int dir = 0; dir < 2; dir++) {
            memcpy(buf, msg[dir], msg_len[dir]);
            int n = ew_rscp_encryptor_seal(&enc[i][dir], buf, msg_len[dir], EW_RSCP_CIPHERTEXT_MAX);
            ts += W12_POLL_US / 4;
            if (n < 0 ||
                ew_cap_writer_send(c->w, flow[i], dir, ts, buf, (size_t)n, 1460, 0) != EW_OK) {
                bench_fail("W12: cannot write poll %llu", (unsigned long long)poll);
                goto out;
            }
            c->want_frames++;
            c->want_frame_bytes += msg_len[dir];
        }
    }
    for (int i = 0; i < W12_FLOWS; i++)
        if (ew_cap_writer_close(c->w, flow[i], ts + 1000) != EW_OK) {
            bench_fail("W12: cannot close flow %d", i);
            goto out;
        }
    c->cap = ew_cap_writer_data(c->w);
    rc = 0;
out:
    free(tlvs);
    free(answer);
    free(buf);
    json_decref(root);
    return rc;
}

int bench_w12_run(const char *workloads, int quick, const bench_opts *o, bench_report *rep) {
    if (rep->nrows >= BENCH_MAX_ROWS) {
        bench_fail("W12: too many report rows");
        return -1;
    }
    w12_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        bench_fail("W12: out of memory");
        return -1;
    }
    int rc = w12_build(c, workloads, quick);
    /* One pass decides the calibration: the capture is large enough that a
     * single repeat is long. */
    if (rc == 0)
        rc = w12_run(c, 1);
    if (rc == 0) {
        bench_row *r = &rep->rows[rep->nrows++];
        memset(r, 0, sizeof *r);
        snprintf(r->key, sizeof r->key, "W12");
        r->what = "capture decode: pcap of RSCP polls (Ethernet/IPv4, 1460-byte segments, "
                  "4 flows), decrypted";
        r->impl = ew_rscp_cipher_impl_name(
            ew_rscp_cipher_aesni_available() ? EW_RSCP_CIPHER_AESNI : EW_RSCP_CIPHER_PORTABLE);
        r->target_is_mb = 1;
        r->target = 300;
        rc = bench_measure(w12_run, c, (double)c->cap.len, o, &r->res);
        /* Report ops as decoded frames per second (MB/s stays capture bytes). */
        if (rc == 0)
            r->res.ops_per_s *= (double)c->want_frames;
        else
            rep->nrows--;
    }
    if (c->w)
        ew_cap_writer_del(c->w);
    free(c);
    return rc;
}
