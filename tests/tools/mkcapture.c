/*
 * mkcapture DIR: writes sample captures of our own in-memory conversations
 * (tests/tools/capconv.h) into DIR, for tests/cli/test_cli_capture.sh and
 * for trying `energywire capture` by hand:
 *
 *   rscp.pcap        RSCP login + polls, Ethernet/IPv4 (key in rscp.key)
 *   rct.pcapng       RCT reads with a CRC-broken and a cut answer, IPv6,
 *                    small segments, reordered and retransmitted
 *   ep.pcap          EP over TLS 1.3 (key log in ep.keys)
 *   mixed.pcapng     all three conversations in one capture
 *   truncated.pcap   rscp.pcap cut in the middle of a packet
 *   rscp.key, ep.keys
 *
 * Exit status 0, or 1 with a message on stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include "capconv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int save(const char *dir, const char *name, const void *p, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "mkcapture: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static ew_cap_writer *new_writer(int pcapng) {
    ew_cap_writer *w = NULL;
    ew_cap_writer_opts o = {.pcapng = pcapng, .linktype = EW_CAP_LINK_ETHERNET};
    if (ew_cap_writer_new(&w, &o) != EW_OK) {
        fprintf(stderr, "mkcapture: cannot create a capture writer\n");
        return NULL;
    }
    return w;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mkcapture DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    cc_conv rscp, rct, ep;
    memset(&rscp, 0, sizeof rscp);
    memset(&rct, 0, sizeof rct);
    memset(&ep, 0, sizeof ep);
    ew_cap_writer *w[4] = {NULL, NULL, NULL, NULL};
    int rc = 1;
    if (cc_rscp_run(&rscp, CC_RSCP_KEY, 4) != 0) {
        fprintf(stderr, "mkcapture: RSCP conversation: %s\n", rscp.err);
        goto out;
    }
    if (cc_rct_run(&rct) != 0) {
        fprintf(stderr, "mkcapture: RCT conversation: %s\n", rct.err);
        goto out;
    }
    if (cc_ep_run(&ep, 2) != 0) {
        fprintf(stderr, "mkcapture: EP conversation: %s\n", ep.err);
        goto out;
    }
    const uint64_t t0 = 1700000000000000u; /* 2023-11-14T22:13:20Z */
    if (!(w[0] = new_writer(0)) || !(w[1] = new_writer(1)) || !(w[2] = new_writer(0)) ||
        !(w[3] = new_writer(1)))
        goto out;
    if (cc_write(&rscp, w[0], "192.168.178.20:50123", "192.168.178.50:5033", t0, 0, 0, 0) ||
        cc_write(&rct, w[1], "[fd00::20]:41000", "[fd00::30]:8899", t0, 0, 9,
                 EW_CAP_W_REORDER | EW_CAP_W_RETRANSMIT) ||
        cc_write(&ep, w[2], "192.168.178.21:50500", "192.168.178.60:56540", t0, 0, 0, 0) ||
        cc_write(&rscp, w[3], "192.168.178.20:50123", "192.168.178.50:5033", t0, 0, 0, 0) ||
        cc_write(&rct, w[3], "192.168.178.20:50124", "192.168.178.51:8899", t0 + 100000000u, 0, 0,
                 0) ||
        cc_write(&ep, w[3], "192.168.178.21:50500", "192.168.178.60:56540", t0 + 200000000u, 0, 0,
                 0)) {
        fprintf(stderr, "mkcapture: cannot write the captures\n");
        goto out;
    }
    ew_bytes r = ew_cap_writer_data(w[0]);
    ew_bytes c = ew_cap_writer_data(w[1]);
    ew_bytes e = ew_cap_writer_data(w[2]);
    ew_bytes m = ew_cap_writer_data(w[3]);
    if (save(dir, "rscp.pcap", r.ptr, r.len) || save(dir, "rct.pcapng", c.ptr, c.len) ||
        save(dir, "ep.pcap", e.ptr, e.len) || save(dir, "mixed.pcapng", m.ptr, m.len) ||
        save(dir, "truncated.pcap", r.ptr, r.len * 3 / 5) ||
        save(dir, "rscp.key", CC_RSCP_KEY "\n", strlen(CC_RSCP_KEY) + 1) ||
        save(dir, "ep.keys", ep.keylog, ep.keylog_len))
        goto out;
    rc = 0;
out:
    for (int i = 0; i < 4; i++)
        if (w[i])
            ew_cap_writer_del(w[i]);
    cc_conv_free(&rscp);
    cc_conv_free(&rct);
    cc_conv_free(&ep);
    return rc;
}
