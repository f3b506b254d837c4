/*
 * Generates the libFuzzer seed corpus fuzz/corpus/fuzz_capture/<sha256>.
 *
 * Maintainer tool (not used by the build or the tests); the generated files
 * are committed.  It writes small captures with the capture writer: RCT
 * and plaintext EP conversations, RSCP encrypted with the fuzz target's key
 * ("fuzz-key") from the start, mid-connection and with a lost segment, and
 * the writer's faults (reordering, retransmission, overlaps, a drop), as
 * pcap and pcapng, Ethernet and raw, IPv4 and IPv6.  Each file is stored
 * with mode byte 0x01 (file; see fuzz/fuzz_capture.c) and, for pcap files,
 * also as a packet sequence (mode 0x00 and others) with the packets in
 * Ethernet, SLL, SLL2 and NULL framing.
 *
 * Build and run from the repository root, after building the libraries:
 *   cc -O2 -Iinclude scripts/make_corpus_capture.c build/libenergywire_capture.a \
 *      build/libenergywire.a -lpcap -lcrypto -lcbor -o /tmp/make_corpus_capture
 *   /tmp/make_corpus_capture fuzz/corpus/fuzz_capture
 * Existing files are kept; the tool only adds.
 */
#include <energywire/capture.h>
#include <energywire/ep.h>
#include <energywire/rct.h>
#include <energywire/rscp.h>

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *outdir;
static int written;

static void save(const uint8_t *p, size_t n) {
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/", outdir);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        k += snprintf(path + k, sizeof path - (size_t)k, "%02x", md[i]);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    written++;
}

static uint8_t out[1 << 20];

static void save_mode(unsigned mode, const uint8_t *p, size_t n) {
    if (n + 1 > sizeof out)
        return;
    out[0] = (uint8_t)mode;
    memcpy(out + 1, p, n);
    save(out, n + 1);
}

/* pcap (Ethernet) -> packet sequence with the packets re-framed as link
 * selector |sel| (0 Ethernet, 1 SLL, 2 SLL2, 3 NULL, 5 raw). */
static void save_sequence(unsigned mode, const uint8_t *p, size_t n, int sel, int raw) {
    size_t o = 1, i = 24;
    out[0] = (uint8_t)mode;
    while (i + 16 <= n) {
        size_t len = (size_t)p[i + 8] | (size_t)p[i + 9] << 8 | (size_t)p[i + 10] << 16;
        const uint8_t *pk = p + i + 16;
        i += 16 + len;
        uint8_t hdr[20];
        size_t hl = 0, skip = raw ? 0 : 14;
        int v6 = raw ? (pk[0] >> 4) == 6 : (pk[12] == 0x86);
        memset(hdr, 0, sizeof hdr);
        switch (sel) {
        case 0:
            memcpy(hdr, pk, 14);
            hl = 14;
            break;
        case 1:
            hdr[14] = v6 ? 0x86 : 0x08;
            hdr[15] = v6 ? 0xDD : 0x00;
            hl = 16;
            break;
        case 2:
            hdr[0] = v6 ? 0x86 : 0x08;
            hdr[1] = v6 ? 0xDD : 0x00;
            hl = 20;
            break;
        case 3:
            hdr[0] = v6 ? 30 : 2;
            hl = 4;
            break;
        default:
            hl = 0;
        }
        size_t total = hl + len - skip;
        if (o + 3 + total > sizeof out)
            break;
        out[o] = (uint8_t)sel;
        out[o + 1] = (uint8_t)(total >> 8);
        out[o + 2] = (uint8_t)total;
        memcpy(out + o + 3, hdr, hl);
        memcpy(out + o + 3 + hl, pk + skip, len - skip);
        o += 3 + total;
    }
    save(out, o);
}

typedef struct wr {
    ew_cap_writer *w;
    int f;
    uint64_t ts;
    int pcapng, raw;
} wr;

static void wr_new(wr *x, int pcapng, int raw, int v6, unsigned port, int open) {
    ew_cap_writer_opts o = {pcapng, raw ? EW_CAP_LINK_RAW : EW_CAP_LINK_ETHERNET};
    if (ew_cap_writer_new(&x->w, &o) != EW_OK)
        exit(1);
    char dev[64];
    snprintf(dev, sizeof dev, v6 ? "[fd00::2]:%u" : "10.0.0.2:%u", port);
    x->f = ew_cap_writer_flow(x->w, v6 ? "[fd00::1]:41000" : "10.0.0.1:41000", dev);
    x->ts = 1700000000000000ull;
    x->pcapng = pcapng;
    x->raw = raw;
    if (open)
        ew_cap_writer_open(x->w, x->f, x->ts);
}

static void wr_send(wr *x, int dir, const uint8_t *p, size_t n, size_t mss, unsigned faults) {
    x->ts += 1000;
    ew_cap_writer_send(x->w, x->f, dir, x->ts, p, n, mss, faults);
}

/* Saves the capture in every applicable form and frees the writer. */
static void wr_done(wr *x, unsigned key_bit, int close) {
    if (close)
        ew_cap_writer_close(x->w, x->f, x->ts + 1000);
    ew_bytes b = ew_cap_writer_data(x->w);
    save_mode(0x01 | key_bit, b.ptr, b.len);
    if (!x->pcapng) {
        save_sequence(0x00 | key_bit, b.ptr, b.len, x->raw ? 5 : 0, x->raw);
        if (!x->raw) {
            save_sequence(0x04 | key_bit, b.ptr, b.len, 1, 0);
            save_sequence(0x08 | key_bit, b.ptr, b.len, 2, 0);
            save_sequence(0x10 | key_bit, b.ptr, b.len, 3, 0);
        }
    }
    ew_cap_writer_del(x->w);
}

static void rct(int pcapng, int raw, int v6, size_t mss, unsigned faults) {
    wr x;
    wr_new(&x, pcapng, raw, v6, 8899, 1);
    static const uint32_t ids[] = {0x959930BFu, 0x400F015Bu, 0xDB11855Bu};
    for (int i = 0; i < 6; i++) {
        uint8_t buf[64];
        size_t n;
        ew_rct_frame_encode(buf, sizeof buf, EW_RCT_CMD_READ, 0, ids[i % 3], NULL, 0, &n);
        wr_send(&x, 0, buf, n, mss, faults);
        uint8_t pl[4] = {0x42, 0x2B, (uint8_t)i, 0x2D};
        ew_rct_frame_encode(buf, sizeof buf, EW_RCT_CMD_RESPONSE, 0, ids[i % 3], pl, i == 4 ? 2 : 4,
                            &n);
        if (i == 5)
            buf[n - 1] ^= 1; /* a wrong CRC */
        wr_send(&x, 1, buf, n, mss, faults);
    }
    wr_done(&x, 0, 1);
}

static void ep(int pcapng, int v6, size_t mss, unsigned faults) {
    wr x;
    wr_new(&x, pcapng, 0, v6, 56540, 1);
    for (int i = 0; i < 5; i++) {
        uint8_t pl[40], buf[128];
        memset(pl, 0x40 + i, sizeof pl);
        size_t n;
        ew_ep_frame_encode(buf, sizeof buf, i & 1 ? EW_EP_MSG_PING : EW_EP_MSG_SUPPLY, NULL, 0, pl,
                           (size_t)(8 * i), &n);
        wr_send(&x, i & 1, buf, n, mss, faults);
    }
    wr_done(&x, 0, 1);
}

static void rscp(int pcapng, int v6, size_t mss, unsigned faults, int skip) {
    uint8_t k[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive("fuzz-key", 8, k);
    ew_rscp_cipher c;
    ew_rscp_cipher_init(&c, k, EW_RSCP_CIPHER_AUTO);
    ew_rscp_encryptor e[2];
    ew_rscp_encryptor_init(&e[0], &c);
    ew_rscp_encryptor_init(&e[1], &c);
    wr x;
    wr_new(&x, pcapng, 0, v6, 5033, !skip);
    for (int i = 0; i < 6; i++)
        for (int d = 0; d < 2; d++) {
            uint8_t buf[256];
            ew_rscp_builder b;
            ew_rscp_timestamp ts = {1700000000 + i, 0};
            ew_rscp_builder_init_frame(&b, buf, sizeof buf);
            ew_rscp_builder_add_int32(&b, d ? 0x01800001u : 0x01000001u, i);
            ew_rscp_builder_add_string(&b, 0x0A000001u, "value");
            size_t n;
            ew_rscp_builder_finish_frame(&b, ts, i & 1, &n);
            int m = ew_rscp_encryptor_seal(&e[d], buf, n, sizeof buf);
            if (i >= skip)
                wr_send(&x, d, buf, (size_t)m, mss, faults);
        }
    wr_done(&x, 0x02, 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    for (int ng = 0; ng < 2; ng++)
        for (int v6 = 0; v6 < 2; v6++) {
            rct(ng, 0, v6, 0, 0);
            ep(ng, v6, 0, 0);
            rscp(ng, v6, 0, 0, 0);
        }
    rct(0, 1, 0, 0, 0);
    rct(0, 1, 1, 5, EW_CAP_W_REORDER);
    rct(0, 0, 0, 3, EW_CAP_W_RETRANSMIT | EW_CAP_W_OVERLAP);
    rct(0, 0, 1, 4, EW_CAP_W_DROP);
    ep(0, 0, 7, EW_CAP_W_REORDER | EW_CAP_W_DROP);
    rscp(0, 0, 32, EW_CAP_W_DROP, 0);
    rscp(0, 1, 16, EW_CAP_W_REORDER | EW_CAP_W_OVERLAP, 0);
    rscp(0, 0, 0, 0, 2); /* mid-connection */
    fprintf(stderr, "%d corpus files written to %s\n", written, outdir);
    return 0;
}
