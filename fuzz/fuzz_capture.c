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
 * Invariants: every record's views are readable and its flow pointer set;
 * FRAME and ERROR records add up to the statistics; ew_cap_del() frees
 * everything (LeakSanitizer).
 */
#include <energywire/capture.h>

#include "fuzz_util.h"

static const int links[] = {EW_CAP_LINK_ETHERNET, EW_CAP_LINK_SLL,  EW_CAP_LINK_SLL2,
                            EW_CAP_LINK_NULL,     EW_CAP_LINK_LOOP, EW_CAP_LINK_RAW,
                            EW_CAP_LINK_IPV4,     EW_CAP_LINK_IPV6, 147};

typedef struct counts {
    uint64_t frames, errors, sum;
} counts;

static void on_record(void *user, const ew_cap_record *r) {
    counts *c = user;
    FUZZ_CHECK(r->flow != NULL);
    FUZZ_CHECK(r->dir == EW_CAP_TO_DEVICE || r->dir == EW_CAP_FROM_DEVICE);
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
