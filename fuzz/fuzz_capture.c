/*
 * libFuzzer target: the capture decoding core (energywire_capture).
 *
 * Input byte 0 selects the mode and options:
 *   bit 0     the rest is a pcap/pcapng file read with ew_cap_read_mem();
 *             otherwise it is a packet sequence fed to ew_cap_packet():
 *             records of [link selector][length, 2 bytes big-endian][bytes],
 *             the selector picking one of the link types below (the last
 *             one is not decoded)
 *   bit 1     an RSCP key ("fuzz-key"; the corpus is encrypted with it)
 *   bit 2     a tiny out-of-order limit (64 bytes), so holes become gaps
 *   bit 3     at most 2 flows at once, so flows are evicted
 *   bit 4     the same packets are fed a second time after ew_cap_finish()
 *   bit 5     the NSS key log below, which belongs to the EP-over-TLS seed
 *             (tests/tools/mkcapture's ep.pcap), so that mutations reach
 *             the TLS 1.3 record decryption
 * Invariants: every record's views are readable and its flow pointer set;
 * FRAME and ERROR records add up to the statistics; ew_cap_del() frees
 * everything (LeakSanitizer).
 */
#include <energywire/capture.h>

#include "fuzz_util.h"

static const int links[] = {EW_CAP_LINK_ETHERNET, EW_CAP_LINK_SLL,  EW_CAP_LINK_SLL2,
                            EW_CAP_LINK_NULL,     EW_CAP_LINK_LOOP, EW_CAP_LINK_RAW,
                            EW_CAP_LINK_IPV4,     EW_CAP_LINK_IPV6, 147};

/* Test secrets of one in-memory conversation (not of any device). */
static const char keylog[] =
    "SERVER_HANDSHAKE_TRAFFIC_SECRET "
    "9be51535dc9d366ea6afbe234aa9f45c6d8032442c3d37018a1e443375831dfb "
    "b57f549320a46f9056f7ecb5a3ce23b1cb529edcf921f30a7f8d8321f600c55cfb61fa2b5fb11dcfaa438677618260"
    "95\n"
    "SERVER_TRAFFIC_SECRET_0 9be51535dc9d366ea6afbe234aa9f45c6d8032442c3d37018a1e443375831dfb "
    "3bdd79e9b20877498e734683f45bd8b23600f533d198a0922ea8e6ffa92aa2d27769ef4acf152827553c2d9a045c9a"
    "88\n"
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET "
    "9be51535dc9d366ea6afbe234aa9f45c6d8032442c3d37018a1e443375831dfb "
    "5ab134248bc0bdfb533b83c23e26425fc8d6549919df837eaeb82b8b88329bb438c9d113f2d452b3b1c3411e64365f"
    "34\n"
    "CLIENT_TRAFFIC_SECRET_0 9be51535dc9d366ea6afbe234aa9f45c6d8032442c3d37018a1e443375831dfb "
    "5f11cb0edd452c2bb7f1c35e9e91b3fdc312964450f109460b265c3a2d10ac1d9a85d4a35f3f108fc4b98291e2d661"
    "ae\n";

typedef struct counts {
    uint64_t frames, errors, sum;
} counts;

static void on_record(void *user, const ew_cap_record *r) {
    counts *c = user;
    FUZZ_CHECK(r->flow != NULL);
    FUZZ_CHECK(r->dir == EW_CAP_TO_DEVICE || r->dir == EW_CAP_FROM_DEVICE ||
               (r->dir == EW_CAP_BOTH && r->type != EW_CAP_REC_FRAME));
    FUZZ_CHECK(r->flow->proto != EW_CAP_PROTO_NONE);
    if (r->type == EW_CAP_REC_FRAME) {
        c->frames++;
        FUZZ_CHECK(r->frame.len > 0);
        for (size_t i = 0; i < r->frame.len; i++)
            c->sum += r->frame.ptr[i];
    } else if (r->type == EW_CAP_REC_ERROR) {
        c->errors++;
        FUZZ_CHECK(r->err < 0);
        FUZZ_CHECK(r->detail != NULL && strlen(r->detail) > 0);
    } else if (r->type == EW_CAP_REC_TLS) {
        FUZZ_CHECK(r->detail != NULL);
        c->sum += strlen(r->detail);
    } else if (r->type == EW_CAP_REC_GAP) {
        FUZZ_CHECK(r->gap_bytes > 0);
    }
    c->sum += strlen(r->flow->client) + strlen(r->flow->device);
}

static void feed_packets(ew_cap *cap, const uint8_t *p, size_t n) {
    uint64_t ts = 1;
    while (n >= 3) {
        int lt = links[p[0] % (sizeof links / sizeof links[0])];
        size_t len = (size_t)p[1] << 8 | p[2];
        p += 3;
        n -= 3;
        if (len > n)
            len = n;
        int rc = ew_cap_packet(cap, lt, ts++, p, len, len);
        FUZZ_CHECK(rc == EW_OK || (rc == EW_ERR_INVAL && lt == 147));
        p += len;
        n -= len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    counts c = {0, 0, 0};
    ew_cap_opts o;
    ew_cap_opts_init(&o);
    if (mode & 2)
        o.rscp_key = "fuzz-key";
    if (mode & 4)
        o.max_ooo_bytes = 64;
    if (mode & 8)
        o.max_flows = 2;
    if (mode & 32) {
        o.keylog = keylog;
        o.keylog_len = sizeof keylog - 1;
    }
    o.on_record = on_record;
    o.user = &c;
    ew_cap *cap = NULL;
    FUZZ_CHECK(ew_cap_new(&cap, &o, NULL, 0) == EW_OK);
    int rounds = (mode & 16) ? 2 : 1;
    for (int r = 0; r < rounds; r++) {
        if (mode & 1) {
            int rc = ew_cap_read_mem(cap, data, size);
            FUZZ_CHECK(rc == EW_OK || rc == EW_ERR_TRUNCATED || rc == EW_ERR_PROTO ||
                       rc == EW_ERR_INVAL);
        } else {
            feed_packets(cap, data, size);
            ew_cap_finish(cap);
        }
    }
    ew_cap_stats st;
    ew_cap_get_stats(cap, &st);
    uint64_t frames = 0;
    for (int i = 0; i < 4; i++)
        frames += st.frames_by_proto[i];
    FUZZ_CHECK(frames == c.frames);
    FUZZ_CHECK(st.errors == c.errors);
    FUZZ_CHECK(st.flows_by_proto[0] + st.flows_by_proto[1] + st.flows_by_proto[2] +
                   st.flows_by_proto[3] ==
               st.flows);
    ew_cap_del(cap);
    return 0;
}
