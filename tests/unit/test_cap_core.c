/*
 * Capture decoding core (energywire_capture): the writer and libpcap
 * reader round trip (pcap, pcapng; Ethernet and raw; IPv4 and IPv6), every
 * link type with hand-built packets, TCP reassembly (reordering,
 * retransmission, overlaps, a dropped segment, a flow without SYN,
 * sequence wrap-around, the flow table limit), RSCP decryption (right key,
 * wrong key, no key, mid-connection start, realigning after a gap), RCT
 * frames (bad CRC, truncated payload, request/response matching), EP
 * plaintext frames, a truncated file and a file that is no capture.  Every
 * decoder is fed whole, in 1-byte segments and in random segment sizes.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <energywire/capture.h>
#include <energywire/ep.h>
#include <energywire/rct.h>
#include <energywire/rscp.h>

#include "testutil.h"

/* ---- collecting records --------------------------------------------------- */

typedef struct coll {
    tu_log log;  /* every record except timestamps */
    tu_log flog; /* FRAME records: "dir hex" */
    size_t n[8]; /* records by type */
    size_t errs_by[64];
    uint64_t first_ts;
    uint64_t last_req_ts; /* rct_request_ts_us of the last response */
    unsigned rct_flags_or;
    size_t unanswered;
    int saw_syn;
} coll;

static void on_rec(void *u, const ew_cap_record *r) {
    coll *c = u;
    c->n[r->type & 7]++;
    if (!c->first_ts)
        c->first_ts = r->ts_us;
    switch (r->type) {
    case EW_CAP_REC_FLOW:
        c->saw_syn = r->flow->saw_syn;
        tu_logf(&c->log, "FLOW %llu %s %s %s syn=%d\n", (unsigned long long)r->flow->id,
                ew_cap_proto_name(r->flow->proto), r->flow->client, r->flow->device,
                r->flow->saw_syn);
        break;
    case EW_CAP_REC_FRAME: {
        char *hex = tu_hex(r->frame.ptr, r->frame.len);
        tu_logf(&c->log, "FRAME %llu d=%d off=%llu ok=%d rf=%x %s\n",
                (unsigned long long)r->flow->id, r->dir, (unsigned long long)r->stream_off, r->ok,
                r->rct_flags, hex);
        tu_logf(&c->flog, "%d %s\n", r->dir, hex);
        free(hex);
        c->rct_flags_or |= r->rct_flags;
        if (r->rct_request_ts_us)
            c->last_req_ts = r->rct_request_ts_us;
        break;
    }
    case EW_CAP_REC_GAP:
        tu_logf(&c->log, "GAP %llu d=%d off=%llu len=%llu\n", (unsigned long long)r->flow->id,
                r->dir, (unsigned long long)r->stream_off, (unsigned long long)r->gap_bytes);
        break;
    case EW_CAP_REC_ERROR:
        tu_logf(&c->log, "ERROR %llu d=%d %s rf=%x %s\n", (unsigned long long)r->flow->id, r->dir,
                ew_errname(r->err), r->rct_flags, r->detail);
        if (r->err < 0 && r->err > -64)
            c->errs_by[-r->err]++;
        if (r->rct_flags & EW_CAP_RCT_UNANSWERED)
            c->unanswered++;
        break;
    case EW_CAP_REC_TLS:
        tu_logf(&c->log, "TLS %llu %s\n", (unsigned long long)r->flow->id, r->detail);
        break;
    case EW_CAP_REC_FLOW_END:
        tu_logf(&c->log, "END %llu tls=%d frames=%llu/%llu gaps=%llu/%llu bytes=%llu/%llu\n",
                (unsigned long long)r->flow->id, r->flow->tls,
                (unsigned long long)r->flow->frames[0], (unsigned long long)r->flow->frames[1],
                (unsigned long long)r->flow->gaps[0], (unsigned long long)r->flow->gaps[1],
                (unsigned long long)r->flow->bytes[0], (unsigned long long)r->flow->bytes[1]);
        break;
    }
}

static void coll_free(coll *c) {
    free(tu_log_take(&c->log));
    free(tu_log_take(&c->flog));
}

static const char *coll_log(coll *c) {
    return c->log.s ? c->log.s : "";
}
static const char *coll_flog(coll *c) {
    return c->flog.s ? c->flog.s : "";
}

static ew_cap *new_cap(coll *c, const char *key, ew_cap_opts *extra) {
    ew_cap_opts o;
    if (extra)
        o = *extra;
    else
        ew_cap_opts_init(&o);
    o.rscp_key = key;
    o.on_record = on_rec;
    o.user = c;
    ew_cap *cap = NULL;
    char detail[128];
    assert_int_equal(ew_cap_new(&cap, &o, detail, sizeof detail), EW_OK);
    return cap;
}

/* Reads |len| bytes of capture file; returns the result code. */
static int decode_mem(const uint8_t *p, size_t len, const char *key, coll *c, ew_cap_stats *st) {
    memset(c, 0, sizeof *c);
    ew_cap *cap = new_cap(c, key, NULL);
    int rc = ew_cap_read_mem(cap, p, len);
    if (st)
        ew_cap_get_stats(cap, st);
    ew_cap_del(cap);
    return rc;
}

/* ---- scenarios: messages each way, written with the capture writer ------- */

typedef struct msg {
    int dir;
    uint8_t *p;
    size_t len;
    unsigned faults;
} msg;

typedef struct scen {
    msg m[256];
    size_t n;
    tu_log want; /* expected frames: "dir hex" */
} scen;

static void scen_add(scen *s, int dir, const uint8_t *p, size_t len, unsigned faults) {
    assert_true(s->n < 256);
    s->m[s->n].dir = dir;
    s->m[s->n].p = malloc(len ? len : 1);
    memcpy(s->m[s->n].p, p, len);
    s->m[s->n].len = len;
    s->m[s->n].faults = faults;
    s->n++;
}

static void want_frame(scen *s, int dir, const uint8_t *p, size_t len) {
    char *hex = tu_hex(p, len);
    tu_logf(&s->want, "%d %s\n", dir, hex);
    free(hex);
}

static void scen_free(scen *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->m[i].p);
    free(tu_log_take(&s->want));
    s->n = 0;
}

typedef struct wcfg {
    int pcapng, raw, v6;
    uint16_t port;
    int no_open, no_close;
    size_t mss; /* 0 = 1460; SIZE_MAX = random sizes */
    uint64_t seed;
} wcfg;

/* Writes the scenario as one flow; returns a heap copy of the file. */
static uint8_t *write_scen(const scen *s, const wcfg *cfg, size_t *len) {
    ew_cap_writer_opts wo = {cfg->pcapng, cfg->raw ? EW_CAP_LINK_RAW : EW_CAP_LINK_ETHERNET};
    ew_cap_writer *w;
    assert_int_equal(ew_cap_writer_new(&w, &wo), EW_OK);
    char client[64], device[64];
    if (cfg->v6) {
        snprintf(client, sizeof client, "[2001:db8::1]:40000");
        snprintf(device, sizeof device, "[2001:db8::2]:%u", cfg->port);
    } else {
        snprintf(client, sizeof client, "192.168.1.10:40000");
        snprintf(device, sizeof device, "192.168.1.20:%u", cfg->port);
    }
    int f = ew_cap_writer_flow(w, client, device);
    assert_true(f >= 0);
    uint64_t ts = 1700000000000000ull;
    if (!cfg->no_open)
        assert_int_equal(ew_cap_writer_open(w, f, ts), EW_OK);
    uint64_t rnd = cfg->seed ? cfg->seed : 12345;
    for (size_t i = 0; i < s->n; i++) {
        ts += 1000;
        const msg *m = &s->m[i];
        if (cfg->mss == SIZE_MAX) {
            size_t pos = 0;
            while (pos < m->len) {
                size_t k = 1 + (size_t)(tu_rand(&rnd) % 97);
                if (k > m->len - pos)
                    k = m->len - pos;
                size_t mss = 1 + (size_t)(tu_rand(&rnd) % 40);
                assert_int_equal(
                    ew_cap_writer_send(w, f, m->dir, ts, m->p + pos, k, mss, m->faults), EW_OK);
                ts += 100;
                pos += k;
            }
        } else {
            assert_int_equal(
                ew_cap_writer_send(w, f, m->dir, ts, m->p, m->len, cfg->mss, m->faults), EW_OK);
        }
    }
    if (!cfg->no_close)
        assert_int_equal(ew_cap_writer_close(w, f, ts + 1000), EW_OK);
    ew_bytes b = ew_cap_writer_data(w);
    uint8_t *out = malloc(b.len);
    memcpy(out, b.ptr, b.len);
    *len = b.len;
    ew_cap_writer_del(w);
    return out;
}

/* Writes scenario |s| as a capture file with |cfg| and decodes it as
 * decode_mem() does. */
static int decode_scen(const scen *s, const wcfg *cfg, const char *key, coll *c, ew_cap_stats *st) {
    size_t len;
    uint8_t *file = write_scen(s, cfg, &len);
    int rc = decode_mem(file, len, key, c, st);
    free(file);
    return rc;
}

/* ---- RCT scenario ---------------------------------------------------------- */

static size_t rct_unescape(const uint8_t *w, size_t n, uint8_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && w[i] == EW_RCT_ESCAPE && i + 1 < n)
            i++;
        out[k++] = w[i];
    }
    return k;
}

static void rct_add(scen *s, int dir, unsigned cmd, uint32_t id, const uint8_t *pl, size_t plen,
                    int expect) {
    uint8_t wire[600], raw[600];
    size_t n;
    assert_int_equal(ew_rct_frame_encode(wire, sizeof wire, cmd, 0, id, pl, plen, &n), EW_OK);
    scen_add(s, dir, wire, n, 0);
    if (expect)
        want_frame(s, dir, raw, rct_unescape(wire, n, raw));
}

/* Requests and responses for a few objects, with values that need escapes. */
static void rct_scenario(scen *s, size_t rounds) {
    static const uint32_t ids[] = {0x959930BFu, 0x400F015Bu, 0xDB11855Bu, 0x1AC87AA0u};
    for (size_t i = 0; i < rounds; i++) {
        uint32_t id = ids[i % 4];
        rct_add(s, EW_CAP_TO_DEVICE, EW_RCT_CMD_READ, id, NULL, 0, 1);
        uint8_t pl[4] = {0x42, (uint8_t)(0x2B + (i & 3)), (uint8_t)i, 0x2D};
        rct_add(s, EW_CAP_FROM_DEVICE, EW_RCT_CMD_RESPONSE, id, pl, 4, 1);
    }
}

static const wcfg combos[] = {
    {0, 0, 0, 8899, 0, 0, 0, 0}, {1, 0, 0, 8899, 0, 0, 0, 0}, {0, 1, 0, 8899, 0, 0, 0, 0},
    {1, 1, 0, 8899, 0, 0, 0, 0}, {0, 0, 1, 8899, 0, 0, 0, 0}, {1, 0, 1, 8899, 0, 0, 0, 0},
    {0, 1, 1, 8899, 0, 0, 0, 0}, {1, 1, 1, 8899, 0, 0, 0, 0},
};

static void test_roundtrip_rct(void **state) {
    (void)state;
    scen s = {0};
    rct_scenario(&s, 12);
    for (size_t k = 0; k < sizeof combos / sizeof combos[0]; k++) {
        size_t len;
        uint8_t *file = write_scen(&s, &combos[k], &len);
        coll c;
        ew_cap_stats st;
        assert_int_equal(decode_mem(file, len, NULL, &c, &st), EW_OK);
        assert_string_equal(coll_flog(&c), s.want.s);
        assert_int_equal(c.n[EW_CAP_REC_FLOW], 1);
        assert_int_equal(c.n[EW_CAP_REC_FLOW_END], 1);
        assert_int_equal(c.n[EW_CAP_REC_GAP], 0);
        assert_int_equal(c.n[EW_CAP_REC_ERROR], 0);
        assert_int_equal(c.first_ts, 1700000000000000ull);
        assert_int_equal(c.saw_syn, 1);
        assert_int_equal(st.flows, 1);
        assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_RCT], 1);
        assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RCT], 24);
        assert_int_equal(st.skipped, 0);
        /* Every response matched its request. */
        assert_int_equal(c.rct_flags_or, 0);
        assert_non_null(strstr(coll_log(&c), combos[k].v6 ? "FLOW 1 rct [2001:db8::1]:40000 "
                                                            "[2001:db8::2]:8899 syn=1"
                                                          : "FLOW 1 rct 192.168.1.10:40000 "
                                                            "192.168.1.20:8899 syn=1"));
        coll_free(&c);
        free(file);
    }
    scen_free(&s);
}

/* Whole, 1-byte segments and random sizes give the same records. */
static char *run_splits(const scen *s, wcfg cfg, const char *key, int check_want) {
    char *first = NULL;
    size_t msss[] = {0, 1, SIZE_MAX, SIZE_MAX};
    for (size_t i = 0; i < 4; i++) {
        cfg.mss = msss[i];
        cfg.seed = 77 + i;
        size_t len;
        uint8_t *file = write_scen(s, &cfg, &len);
        coll c;
        assert_int_equal(decode_mem(file, len, key, &c, NULL), EW_OK);
        if (check_want)
            assert_string_equal(coll_flog(&c), s->want.s);
        if (!first) {
            const char *l = coll_log(&c);
            first = malloc(strlen(l) + 1);
            memcpy(first, l, strlen(l) + 1);
        } else
            assert_string_equal(coll_log(&c), first);
        coll_free(&c);
        free(file);
    }
    return first;
}

static void test_rct_splits(void **state) {
    (void)state;
    scen s = {0};
    rct_scenario(&s, 9);
    wcfg cfg = {0, 0, 0, 8899, 0, 0, 0, 0};
    free(run_splits(&s, cfg, NULL, 1));
    scen_free(&s);
}

/* ---- reassembly ------------------------------------------------------------ */

/* All RCT frames of the client in one send with |faults|. */
static void one_big_send(scen *s, size_t nframes, unsigned faults, int expect_all) {
    uint8_t buf[40000];
    size_t len = 0;
    for (size_t i = 0; i < nframes; i++) {
        uint8_t pl[4] = {(uint8_t)i, (uint8_t)(i >> 8), 1, 2};
        size_t n;
        assert_int_equal(ew_rct_frame_encode(buf + len, sizeof buf - len, EW_RCT_CMD_WRITE, 0,
                                             0x1000u + (uint32_t)i, pl, 4, &n),
                         EW_OK);
        if (expect_all) {
            uint8_t raw[64];
            want_frame(s, EW_CAP_TO_DEVICE, raw, rct_unescape(buf + len, n, raw));
        }
        len += n;
    }
    scen_add(s, EW_CAP_TO_DEVICE, buf, len, faults);
}

static void check_faults(unsigned faults, size_t mss, int want_retrans, int want_ooo) {
    scen s = {0};
    /* 8 KiB of stream crosses the client's sequence wrap (writer ISN). */
    one_big_send(&s, 800, faults, 1);
    wcfg cfg = {0, 0, 0, 8899, 0, 0, mss, 0};
    coll c;
    ew_cap_stats st;
    assert_int_equal(decode_scen(&s, &cfg, NULL, &c, &st), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_int_equal(c.n[EW_CAP_REC_GAP], 0);
    assert_int_equal(c.n[EW_CAP_REC_FRAME], 800);
    if (want_retrans)
        assert_true(st.retransmitted > 0);
    else
        assert_int_equal(st.retransmitted, 0);
    if (want_ooo)
        assert_true(st.out_of_order > 0);
    else
        assert_int_equal(st.out_of_order, 0);
    coll_free(&c);
    scen_free(&s);
}

static void test_reorder(void **state) {
    (void)state;
    check_faults(0, 100, 0, 0);
    check_faults(EW_CAP_W_REORDER, 100, 0, 1);
    check_faults(EW_CAP_W_REORDER, 1, 0, 1);
}

static void test_retransmit_overlap(void **state) {
    (void)state;
    check_faults(EW_CAP_W_RETRANSMIT, 100, 1, 0);
    check_faults(EW_CAP_W_OVERLAP, 100, 1, 0);
    check_faults(EW_CAP_W_OVERLAP | EW_CAP_W_REORDER, 64, 1, 1);
    check_faults(EW_CAP_W_OVERLAP | EW_CAP_W_REORDER | EW_CAP_W_RETRANSMIT, 7, 1, 1);
}

static void test_rct_gap_resumes(void **state) {
    (void)state;
    scen s = {0};
    /* mss 30: bytes 30..59 are lost; every frame that does not touch them
     * is decoded (RCT resynchronises on the next start token). */
    one_big_send(&s, 20, EW_CAP_W_DROP, 0);
    uint8_t buf[64], raw[64];
    size_t n, off = 0, kept = 0;
    for (size_t i = 0; i < 20; i++) {
        uint8_t pl[4] = {(uint8_t)i, 0, 1, 2};
        assert_int_equal(ew_rct_frame_encode(buf, sizeof buf, EW_RCT_CMD_WRITE, 0,
                                             0x1000u + (uint32_t)i, pl, 4, &n),
                         EW_OK);
        if (off + n <= 30 || off >= 60) {
            want_frame(&s, EW_CAP_TO_DEVICE, raw, rct_unescape(buf, n, raw));
            kept++;
        }
        off += n;
    }
    wcfg cfg = {0, 0, 0, 8899, 0, 0, 30, 0};
    size_t len;
    uint8_t *file = write_scen(&s, &cfg, &len);
    coll c;
    ew_cap_stats st;
    assert_int_equal(decode_mem(file, len, NULL, &c, &st), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_int_equal(c.n[EW_CAP_REC_GAP], 1);
    assert_non_null(strstr(coll_log(&c), "GAP 1 d=0 off=30 len=30"));
    assert_int_equal(c.n[EW_CAP_REC_FRAME], kept);
    assert_true(kept >= 15);
    assert_int_equal(st.gaps, 1);
    assert_int_equal(st.gap_bytes, 30);
    coll_free(&c);
    free(file);
    scen_free(&s);
}

static void test_mid_stream_rct(void **state) {
    (void)state;
    scen s = {0};
    rct_scenario(&s, 6);
    wcfg cfg = {0, 0, 0, 8899, 1, 1, 0, 0};
    free(run_splits(&s, cfg, NULL, 1));
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, NULL, &c, NULL), EW_OK);
    assert_int_equal(c.saw_syn, 0);
    assert_non_null(strstr(coll_log(&c), "syn=0"));
    assert_int_equal(c.n[EW_CAP_REC_FLOW_END], 1);
    coll_free(&c);
    scen_free(&s);
}

static void test_flow_limit(void **state) {
    (void)state;
    ew_cap_writer *w;
    ew_cap_writer_opts wo = {0, EW_CAP_LINK_ETHERNET};
    assert_int_equal(ew_cap_writer_new(&w, &wo), EW_OK);
    int f[3];
    char client[64];
    for (int i = 0; i < 3; i++) {
        snprintf(client, sizeof client, "10.0.0.1:%d", 50000 + i);
        f[i] = ew_cap_writer_flow(w, client, "10.0.0.2:8899");
        assert_int_equal(f[i], i);
    }
    uint8_t fr[32];
    size_t n;
    assert_int_equal(
        ew_rct_frame_encode(fr, sizeof fr, EW_RCT_CMD_READ, 0, 0x959930BFu, NULL, 0, &n), EW_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ew_cap_writer_open(w, f[i], 1000 + 10 * (uint64_t)i), EW_OK);
        assert_int_equal(ew_cap_writer_send(w, f[i], 0, 1005 + 10 * (uint64_t)i, fr, n, 0, 0),
                         EW_OK);
    }
    ew_bytes b = ew_cap_writer_data(w);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap_opts o;
    ew_cap_opts_init(&o);
    o.max_flows = 2;
    ew_cap *cap = new_cap(&c, NULL, &o);
    assert_int_equal(ew_cap_read_mem(cap, b.ptr, b.len), EW_OK);
    ew_cap_stats st;
    ew_cap_get_stats(cap, &st);
    ew_cap_del(cap);
    assert_int_equal(st.flows, 3);
    const char *log = coll_log(&c);
    /* Flow 1, idle longest, ends when flow 3 arrives. */
    const char *end1 = strstr(log, "END 1 ");
    const char *flow3 = strstr(log, "FLOW 3 ");
    assert_non_null(end1);
    assert_non_null(flow3);
    assert_true(end1 < flow3);
    assert_int_equal(c.n[EW_CAP_REC_FLOW_END], 3);
    assert_int_equal(c.unanswered, 3);
    coll_free(&c);
    ew_cap_writer_del(w);
}

/* A new SYN on the ports of an open flow starts a new flow. */
static void test_port_reuse(void **state) {
    (void)state;
    ew_cap_writer *w;
    assert_int_equal(ew_cap_writer_new(&w, NULL), EW_OK);
    int f = ew_cap_writer_flow(w, "10.0.0.1:50000", "10.0.0.2:8899");
    uint8_t fr[32];
    size_t n;
    assert_int_equal(
        ew_rct_frame_encode(fr, sizeof fr, EW_RCT_CMD_READ, 0, 0x959930BFu, NULL, 0, &n), EW_OK);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ew_cap_writer_open(w, f, 1000 + 100 * (uint64_t)i), EW_OK);
        assert_int_equal(ew_cap_writer_send(w, f, 0, 1010 + 100 * (uint64_t)i, fr, n, 0, 0), EW_OK);
    }
    ew_bytes b = ew_cap_writer_data(w);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, NULL, NULL);
    assert_int_equal(ew_cap_read_mem(cap, b.ptr, b.len), EW_OK);
    ew_cap_del(cap);
    const char *log = coll_log(&c);
    assert_non_null(strstr(log, "FLOW 1 rct 10.0.0.1:50000 10.0.0.2:8899 syn=1"));
    assert_non_null(strstr(log, "FLOW 2 rct 10.0.0.1:50000 10.0.0.2:8899 syn=1"));
    assert_true(strstr(log, "END 1 ") < strstr(log, "FLOW 2 "));
    assert_int_equal(c.n[EW_CAP_REC_FRAME], 2);
    coll_free(&c);
    ew_cap_writer_del(w);
}

/* ---- link types, hand-built packets ----------------------------------------- */

static size_t tcp_ip(uint8_t *out, int v6, int ext, uint16_t sport, uint16_t dport, uint32_t seq,
                     uint8_t flags, const uint8_t *pl, size_t n, int frag) {
    uint8_t tcp[1600];
    size_t tl = 32; /* 12 bytes of options: NOP NOP timestamps */
    memset(tcp, 0, tl);
    tcp[0] = (uint8_t)(sport >> 8);
    tcp[1] = (uint8_t)sport;
    tcp[2] = (uint8_t)(dport >> 8);
    tcp[3] = (uint8_t)dport;
    tcp[4] = (uint8_t)(seq >> 24);
    tcp[5] = (uint8_t)(seq >> 16);
    tcp[6] = (uint8_t)(seq >> 8);
    tcp[7] = (uint8_t)seq;
    tcp[12] = (uint8_t)((tl / 4) << 4);
    tcp[13] = flags;
    tcp[20] = 1;
    tcp[21] = 1;
    tcp[22] = 8;
    tcp[23] = 10;
    memcpy(tcp + tl, pl, n);
    tl += n;
    size_t o = 0;
    if (!v6) {
        size_t ihl = ext ? 24 : 20;
        memset(out, 0, ihl);
        out[0] = (uint8_t)(0x40 | (ihl / 4));
        out[2] = (uint8_t)((ihl + tl) >> 8);
        out[3] = (uint8_t)(ihl + tl);
        if (frag)
            out[6] = 0x20; /* MF */
        out[8] = 64;
        out[9] = 6;
        uint8_t a[4] = {10, 1, 1, 1}, b[4] = {10, 1, 1, 2};
        memcpy(out + 12, dport == 8899 ? a : b, 4);
        memcpy(out + 16, dport == 8899 ? b : a, 4);
        if (ext)
            memset(out + 20, 1, 4); /* NOP options */
        o = ihl;
    } else {
        memset(out, 0, 40);
        out[0] = 0x60;
        size_t exl = ext ? 16 : 0;
        if (frag)
            exl += 8;
        out[4] = (uint8_t)((exl + tl) >> 8);
        out[5] = (uint8_t)(exl + tl);
        out[7] = 64;
        uint8_t a[16] = {0xfe, 0x80}, b[16] = {0xfe, 0x80};
        a[15] = 1;
        b[15] = 2;
        memcpy(out + 8, dport == 8899 ? a : b, 16);
        memcpy(out + 24, dport == 8899 ? b : a, 16);
        o = 40;
        uint8_t *nh = &out[6];
        if (ext) {
            *nh = 0; /* hop-by-hop */
            memset(out + o, 0, 8);
            out[o + 2] = 1; /* PadN */
            out[o + 3] = 4;
            nh = &out[o];
            o += 8;
            *nh = 60; /* destination options */
            memset(out + o, 0, 8);
            out[o + 2] = 1;
            out[o + 3] = 4;
            nh = &out[o];
            o += 8;
        }
        if (frag) {
            *nh = 44;
            memset(out + o, 0, 8);
            out[o + 3] = 1; /* M */
            nh = &out[o];
            o += 8;
        }
        *nh = 6;
    }
    memcpy(out + o, tcp, tl);
    return o + tl;
}

/* Link header for |lt| in front of an IP packet. */
static size_t link_hdr(uint8_t *out, int lt, int v6, unsigned af6) {
    switch (lt) {
    case EW_CAP_LINK_ETHERNET: {
        memset(out, 0, 12);
        out[12] = 0x81; /* two 802.1Q tags */
        out[13] = 0x00;
        out[14] = 0x00;
        out[15] = 0x05;
        out[16] = 0x81;
        out[17] = 0x00;
        out[18] = 0x00;
        out[19] = 0x07;
        out[20] = v6 ? 0x86 : 0x08;
        out[21] = v6 ? 0xDD : 0x00;
        return 22;
    }
    case EW_CAP_LINK_SLL:
        memset(out, 0, 16);
        out[14] = v6 ? 0x86 : 0x08;
        out[15] = v6 ? 0xDD : 0x00;
        return 16;
    case EW_CAP_LINK_SLL2:
        memset(out, 0, 20);
        out[0] = v6 ? 0x86 : 0x08;
        out[1] = v6 ? 0xDD : 0x00;
        return 20;
    case EW_CAP_LINK_NULL: { /* little-endian writer */
        unsigned af = v6 ? af6 : 2;
        out[0] = (uint8_t)af;
        out[1] = out[2] = out[3] = 0;
        return 4;
    }
    case EW_CAP_LINK_LOOP: { /* network order */
        unsigned af = v6 ? af6 : 2;
        out[0] = out[1] = out[2] = 0;
        out[3] = (uint8_t)af;
        return 4;
    }
    default:
        return 0;
    }
}

static void link_case(int lt, int v6, unsigned af6, int ext) {
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, NULL, NULL);
    uint8_t req[16], rsp[32], pkt[2000];
    size_t nreq, nrsp;
    assert_int_equal(
        ew_rct_frame_encode(req, sizeof req, EW_RCT_CMD_READ, 0, 0x959930BFu, NULL, 0, &nreq),
        EW_OK);
    uint8_t val[4] = {0x42, 0x48, 0, 0};
    assert_int_equal(
        ew_rct_frame_encode(rsp, sizeof rsp, EW_RCT_CMD_RESPONSE, 0, 0x959930BFu, val, 4, &nrsp),
        EW_OK);
    size_t h = link_hdr(pkt, lt, v6, af6);
    size_t n = h + tcp_ip(pkt + h, v6, ext, 40000, 8899, 5000, 0x18, req, nreq, 0);
    assert_int_equal(ew_cap_packet(cap, lt, 10, pkt, n, n), EW_OK);
    n = h + tcp_ip(pkt + h, v6, ext, 8899, 40000, 9000, 0x18, rsp, nrsp, 0);
    assert_int_equal(ew_cap_packet(cap, lt, 20, pkt, n, n), EW_OK);
    /* A fragment is counted and skipped. */
    n = h + tcp_ip(pkt + h, v6, ext, 8899, 40000, 9000 + (uint32_t)nrsp, 0x18, rsp, nrsp, 1);
    assert_int_equal(ew_cap_packet(cap, lt, 30, pkt, n, n), EW_OK);
    /* So is a packet cut short. */
    n = h + tcp_ip(pkt + h, v6, ext, 8899, 40000, 9000 + (uint32_t)nrsp, 0x18, rsp, nrsp, 0);
    assert_int_equal(ew_cap_packet(cap, lt, 40, pkt, n - 3, n), EW_OK);
    ew_cap_finish(cap);
    ew_cap_stats st;
    ew_cap_get_stats(cap, &st);
    ew_cap_del(cap);
    assert_int_equal(st.packets, 4);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(c.n[EW_CAP_REC_FRAME], 2);
    assert_int_equal(c.last_req_ts, 10);
    assert_int_equal(c.rct_flags_or, 0);
    assert_non_null(strstr(coll_log(&c), v6 ? "FLOW 1 rct [fe80::1]:40000 [fe80::2]:8899 syn=0"
                                            : "FLOW 1 rct 10.1.1.1:40000 10.1.1.2:8899 syn=0"));
    coll_free(&c);
}

static void test_link_types(void **state) {
    (void)state;
    for (int v6 = 0; v6 < 2; v6++)
        for (int ext = 0; ext < 2; ext++) {
            link_case(EW_CAP_LINK_ETHERNET, v6, 0, ext);
            link_case(EW_CAP_LINK_SLL, v6, 0, ext);
            link_case(EW_CAP_LINK_SLL2, v6, 0, ext);
            link_case(EW_CAP_LINK_RAW, v6, 0, ext);
            link_case(v6 ? EW_CAP_LINK_IPV6 : EW_CAP_LINK_IPV4, v6, 0, ext);
            link_case(EW_CAP_LINK_NULL, v6, 24, ext);
            link_case(EW_CAP_LINK_NULL, v6, 28, ext);
            link_case(EW_CAP_LINK_NULL, v6, 30, ext);
            link_case(EW_CAP_LINK_LOOP, v6, 24, ext);
            link_case(EW_CAP_LINK_LOOP, v6, 30, ext);
        }
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, NULL, NULL);
    uint8_t pkt[64] = {0};
    assert_int_equal(ew_cap_packet(cap, 147, 1, pkt, sizeof pkt, sizeof pkt), EW_ERR_INVAL);
    assert_non_null(strstr(ew_cap_error_detail(cap), "147"));
    ew_cap_del(cap);
    coll_free(&c);
}

/* ---- RCT faults and matching ---------------------------------------------------- */

static void test_rct_faults(void **state) {
    (void)state;
    scen s = {0};
    uint8_t fl[4] = {0x42, 0x20, 0x00, 0x00};
    /* A request answered. */
    rct_add(&s, 0, EW_RCT_CMD_READ, 0x959930BFu, NULL, 0, 0);
    rct_add(&s, 1, EW_RCT_CMD_RESPONSE, 0x959930BFu, fl, 4, 0);
    /* A response with a wrong CRC (payload byte changed after encoding). */
    rct_add(&s, 0, EW_RCT_CMD_READ, 0x959930BFu, NULL, 0, 0);
    rct_add(&s, 1, EW_RCT_CMD_RESPONSE, 0x959930BFu, fl, 4, 0);
    s.m[s.n - 1].p[7] ^= 0x01; /* the first payload byte */
    /* A response cut short under a valid CRC (FLOAT needs 4 bytes). */
    rct_add(&s, 0, EW_RCT_CMD_READ, 0x959930BFu, NULL, 0, 0);
    rct_add(&s, 1, EW_RCT_CMD_RESPONSE, 0x959930BFu, fl, 2, 0);
    /* A response nobody asked for, and a request left unanswered. */
    rct_add(&s, 1, EW_RCT_CMD_RESPONSE, 0x400F015Bu, fl, 4, 0);
    rct_add(&s, 0, EW_RCT_CMD_READ, 0xDB11855Bu, NULL, 0, 0);
    wcfg cfg = {0, 0, 0, 8899, 0, 0, 0, 0};
    char *log = run_splits(&s, cfg, NULL, 0);
    /* Matched requests carry their time: request i at ts 1700000000001000 + 1000 i. */
    assert_non_null(strstr(log, "FRAME 1 d=1 off=0 ok=1 rf=0 "));
    assert_non_null(strstr(log, "ok=0 rf=1 "));
    assert_non_null(strstr(log, "ERROR 1 d=1 EW_ERR_CRC"));
    assert_non_null(strstr(log, "ok=1 rf=2 "));
    assert_non_null(strstr(log, "ok=1 rf=8 "));
    assert_non_null(strstr(log, "ERROR 1 d=0 EW_ERR_TIMEOUT rf=4 request for "));
    assert_non_null(strstr(log, "0xDB11855B) got no response"));
    free(log);
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, NULL, &c, NULL), EW_OK);
    assert_int_equal(c.unanswered, 1);
    assert_int_equal(c.n[EW_CAP_REC_FRAME], 8);
    coll_free(&c);
    scen_free(&s);
}

static void test_rct_request_ts(void **state) {
    (void)state;
    scen s = {0};
    rct_add(&s, 0, EW_RCT_CMD_READ, 0x959930BFu, NULL, 0, 0);
    uint8_t fl[4] = {0x42, 0x20, 0x00, 0x00};
    rct_add(&s, 1, EW_RCT_CMD_RESPONSE, 0x959930BFu, fl, 4, 0);
    wcfg cfg = {1, 0, 1, 8899, 0, 0, 0, 0};
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, NULL, &c, NULL), EW_OK);
    assert_int_equal(c.last_req_ts, 1700000000001000ull);
    assert_int_equal(c.unanswered, 0);
    coll_free(&c);
    scen_free(&s);
}

/* ---- EP ------------------------------------------------------------------------- */

static void ep_add(scen *s, int dir, uint32_t type, size_t plen, uint8_t fill, int expect) {
    uint8_t pl[300], fr[400];
    memset(pl, fill, plen);
    size_t n;
    assert_int_equal(ew_ep_frame_encode(fr, sizeof fr, type, NULL, 0, pl, plen, &n), EW_OK);
    scen_add(s, dir, fr, n, 0);
    if (expect)
        want_frame(s, dir, fr, n);
}

static void test_ep_plain(void **state) {
    (void)state;
    scen s = {0};
    for (int i = 0; i < 10; i++) {
        ep_add(&s, 0, EW_EP_MSG_SUPPLY, 20 + (size_t)i * 7, (uint8_t)(0x11 + i), 1);
        ep_add(&s, 1, EW_EP_MSG_PING, (size_t)i, 0x22, 1);
    }
    wcfg cfg = {1, 0, 1, 56540, 0, 0, 0, 0};
    char *log = run_splits(&s, cfg, NULL, 1);
    assert_null(strstr(log, "ERROR"));
    assert_non_null(strstr(log, "FLOW 1 ep "));
    free(log);
    scen_free(&s);
}

static void test_ep_gap_resumes(void **state) {
    (void)state;
    scen s = {0};
    /* Six 63-byte frames (50-byte payload) in one send, mss 63: the second
     * frame is dropped, the rest are decoded. */
    uint8_t all[400];
    size_t len = 0;
    for (int i = 0; i < 6; i++) {
        uint8_t pl[50];
        memset(pl, 0x30 + i, sizeof pl);
        size_t n;
        assert_int_equal(ew_ep_frame_encode(all + len, sizeof all - len, EW_EP_MSG_DEMAND, NULL, 0,
                                            pl, sizeof pl, &n),
                         EW_OK);
        assert_int_equal(n, 63);
        if (i != 1)
            want_frame(&s, 0, all + len, n);
        len += n;
    }
    scen_add(&s, 0, all, len, EW_CAP_W_DROP);
    wcfg cfg = {0, 0, 0, 56540, 0, 0, 63, 0};
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, NULL, &c, NULL), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_non_null(strstr(coll_log(&c), "GAP 1 d=0 off=63 len=63"));
    coll_free(&c);
    scen_free(&s);
}

/* The capture starts inside a TLS connection: one clear error, no frames. */
static void test_ep_tls_mid_stream(void **state) {
    (void)state;
    scen s = {0};
    uint8_t rec[40] = {0x17, 0x03, 0x03, 0x00, 35};
    for (size_t i = 5; i < sizeof rec; i++)
        rec[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 4; i++)
        scen_add(&s, i & 1, rec, sizeof rec, 0);
    wcfg cfg = {0, 0, 0, 56540, 1, 0, 0, 0};
    char *log = run_splits(&s, cfg, NULL, 0);
    assert_non_null(strstr(log, "EW_ERR_STATE rf=0 capture starts inside a TLS connection"));
    assert_null(strstr(log, "FRAME"));
    assert_non_null(strstr(log, "END 1 tls=1 "));
    free(log);
    scen_free(&s);
}

/* A flow that starts with a TLS handshake record goes to the TLS decoder. */
static void test_ep_tls_detected(void **state) {
    (void)state;
    scen s = {0};
    uint8_t rec[9] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00};
    scen_add(&s, 0, rec, sizeof rec, 0);
    wcfg cfg = {0, 0, 0, 56540, 0, 0, 0, 0};
    char *log = run_splits(&s, cfg, NULL, 0);
    assert_non_null(strstr(log, "END 1 tls=1 "));
    assert_null(strstr(log, "FRAME"));
    free(log);
    scen_free(&s);
}

/* A hole that outgrows max_ooo_bytes becomes a gap at once; decoding goes on. */
static void test_ooo_limit(void **state) {
    (void)state;
    scen s = {0};
    one_big_send(&s, 60, EW_CAP_W_DROP, 0);
    wcfg cfg = {0, 0, 0, 8899, 0, 1, 20, 0};
    size_t len;
    uint8_t *file = write_scen(&s, &cfg, &len);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap_opts o;
    ew_cap_opts_init(&o);
    o.max_ooo_bytes = 100;
    ew_cap *cap = new_cap(&c, NULL, &o);
    ew_cap_stats st;
    /* Feed the packets without finishing: the gap must come from the limit. */
    size_t off = 24, npk = 0;
    while (off + 16 <= len) {
        size_t n = (size_t)file[off + 8] | (size_t)file[off + 9] << 8;
        assert_int_equal(ew_cap_packet(cap, EW_CAP_LINK_ETHERNET, 1, file + off + 16, n, n), EW_OK);
        off += 16 + n;
        npk++;
    }
    assert_true(npk > 10);
    assert_int_equal(c.n[EW_CAP_REC_GAP], 1);
    assert_non_null(strstr(coll_log(&c), "GAP 1 d=0 off=20 len=20"));
    ew_cap_get_stats(cap, &st);
    assert_int_equal(st.gap_bytes, 20);
    assert_true(c.n[EW_CAP_REC_FRAME] >= 50);
    ew_cap_del(cap); /* frees the open flow (LeakSanitizer checks) */
    coll_free(&c);
    free(file);
    scen_free(&s);
}

/* ---- RSCP ------------------------------------------------------------------------ */

#define KEY "test-rscp-key"

typedef struct rscp_gen {
    ew_rscp_cipher c;
    ew_rscp_encryptor e[2];
} rscp_gen;

static void rscp_gen_init(rscp_gen *g, const char *key) {
    uint8_t k[EW_RSCP_KEY_LEN];
    ew_rscp_key_derive(key, strlen(key), k);
    assert_int_equal(ew_rscp_cipher_init(&g->c, k, EW_RSCP_CIPHER_AUTO), EW_OK);
    ew_rscp_encryptor_init(&g->e[0], &g->c);
    ew_rscp_encryptor_init(&g->e[1], &g->c);
}

/* Builds frame |i| of |dir| (51..? bytes), encrypts it; |ct| gets the
 * ciphertext, |pt| the plaintext frame.  Returns ciphertext length. */
static size_t rscp_frame(rscp_gen *g, int dir, int i, uint8_t *pt, size_t *ptlen, uint8_t *ct) {
    ew_rscp_builder b;
    ew_rscp_timestamp ts = {1700000000 + i, (uint32_t)i * 1000u};
    ew_rscp_builder_init_frame(&b, pt, 512);
    ew_rscp_builder_add_int32(&b, dir ? 0x01800001u : 0x01000001u, i * 10);
    ew_rscp_builder_add_int32(&b, dir ? 0x01800002u : 0x01000002u, -i);
    ew_rscp_builder_add_int32(&b, dir ? 0x01800005u : 0x01000005u, 2 * i);
    size_t n;
    assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, i % 2, &n), EW_OK);
    *ptlen = n;
    uint8_t buf[512];
    memcpy(buf, pt, n);
    int k = ew_rscp_encryptor_seal(&g->e[dir], buf, n, sizeof buf);
    assert_true(k > 0);
    memcpy(ct, buf, (size_t)k);
    return (size_t)k;
}

/* |skip| frames per direction are encrypted but not captured. */
static void rscp_scenario(scen *s, int nframes, int skip, int expect_from) {
    rscp_gen g;
    rscp_gen_init(&g, KEY);
    for (int i = 0; i < nframes; i++)
        for (int d = 0; d < 2; d++) {
            uint8_t pt[512], ct[512];
            size_t ptlen;
            size_t n = rscp_frame(&g, d, i, pt, &ptlen, ct);
            if (i < skip)
                continue;
            scen_add(s, d, ct, n, 0);
            if (i >= expect_from)
                want_frame(s, d, pt, ptlen);
        }
}

static void test_rscp_right_key(void **state) {
    (void)state;
    scen s = {0};
    rscp_scenario(&s, 10, 0, 0);
    for (int port = 5033; port <= 5034; port++) {
        wcfg cfg = {0, 0, 0, (uint16_t)port, 0, 0, 0, 0};
        char *log = run_splits(&s, cfg, KEY, 1);
        assert_null(strstr(log, "ERROR"));
        assert_null(strstr(log, "ok=0"));
        free(log);
    }
    /* pcapng, raw IPv6 */
    wcfg cfg = {1, 1, 1, 5033, 0, 0, 0, 0};
    coll c;
    ew_cap_stats st;
    assert_int_equal(decode_scen(&s, &cfg, KEY, &c, &st), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RSCP], 20);
    coll_free(&c);
    scen_free(&s);
}

static void test_rscp_wrong_and_no_key(void **state) {
    (void)state;
    scen s = {0};
    rscp_scenario(&s, 8, 0, 0);
    wcfg cfg = {0, 0, 0, 5033, 0, 0, 0, 0};
    size_t msss[] = {0, 1, SIZE_MAX};
    for (size_t i = 0; i < 3; i++) {
        cfg.mss = msss[i];
        size_t len;
        uint8_t *file = write_scen(&s, &cfg, &len);
        coll c;
        assert_int_equal(decode_mem(file, len, "not-the-key", &c, NULL), EW_OK);
        assert_int_equal(c.n[EW_CAP_REC_FRAME], 0);
        assert_int_equal(c.n[EW_CAP_REC_ERROR], 2); /* one per direction */
        assert_int_equal(c.errs_by[-EW_ERR_DECRYPT], 2);
        assert_non_null(strstr(coll_log(&c), "wrong RSCP key or not RSCP"));
        coll_free(&c);
        assert_int_equal(decode_mem(file, len, NULL, &c, NULL), EW_OK);
        assert_int_equal(c.n[EW_CAP_REC_FRAME], 0);
        assert_int_equal(c.n[EW_CAP_REC_ERROR], 1); /* one per flow */
        assert_non_null(strstr(coll_log(&c), "E3DC_RSCP_KEY"));
        coll_free(&c);
        free(file);
    }
    scen_free(&s);
}

static void test_rscp_mid_connection(void **state) {
    (void)state;
    scen s = {0};
    /* Frames 0..2 were sent before the capture began; frame 3 only serves
     * as the IV for frame 4, from which on everything is decoded. */
    rscp_scenario(&s, 10, 3, 4);
    wcfg cfg = {0, 0, 0, 5033, 1, 0, 0, 0};
    char *log = run_splits(&s, cfg, KEY, 1);
    assert_non_null(strstr(log, "ERROR 1 d=0 EW_ERR_STATE rf=0 capture starts mid-connection"));
    assert_non_null(strstr(log, "ERROR 1 d=1 EW_ERR_STATE rf=0 capture starts mid-connection"));
    assert_null(strstr(log, "wrong RSCP key"));
    free(log);
    scen_free(&s);
}

/* The capture starts inside a frame longer than a segment, so the first
 * byte seen is not on a cipher block boundary: the next frame is found at
 * the start of its segment. */
static void test_rscp_mid_frame_start(void **state) {
    (void)state;
    scen s = {0};
    rscp_gen g;
    rscp_gen_init(&g, KEY);
    char text[301];
    memset(text, 'x', 300);
    text[300] = 0;
    for (int i = 0; i < 6; i++) {
        uint8_t pt[512], buf[512];
        ew_rscp_builder b;
        ew_rscp_timestamp ts = {1700000000 + i, 0};
        ew_rscp_builder_init_frame(&b, pt, sizeof pt);
        text[0] = (char)('a' + i);
        ew_rscp_builder_add_string(&b, 0x0A000001u, text);
        size_t n;
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &n), EW_OK);
        memcpy(buf, pt, n);
        int k = ew_rscp_encryptor_seal(&g.e[0], buf, n, sizeof buf);
        assert_true(k > 200);
        if (i == 0)
            continue; /* before the capture */
        if (i == 1) {
            scen_add(&s, 0, buf + 100, (size_t)k - 100, 0); /* the capture starts here */
            continue;
        }
        scen_add(&s, 0, buf, (size_t)k, 0);
        want_frame(&s, 0, pt, n);
    }
    wcfg cfg = {0, 0, 0, 5033, 1, 0, 100, 0};
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, KEY, &c, NULL), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_non_null(strstr(coll_log(&c), "capture starts mid-connection"));
    coll_free(&c);
    scen_free(&s);
}

/* The SYN-ACK is missing from the capture: the client's handshake ACK says
 * where the device's stream starts, so both chains are followed. */
static void test_rscp_no_syn_ack(void **state) {
    (void)state;
    scen s = {0};
    rscp_scenario(&s, 6, 0, 0);
    wcfg cfg = {0, 0, 0, 5033, 0, 0, 0, 0};
    size_t len;
    uint8_t *file = write_scen(&s, &cfg, &len);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, KEY, NULL);
    size_t off = 24, npk = 0;
    while (off + 16 <= len) {
        size_t n = (size_t)file[off + 8] | (size_t)file[off + 9] << 8;
        if (npk != 1) /* packet 2 is the SYN-ACK */
            assert_int_equal(ew_cap_packet(cap, EW_CAP_LINK_ETHERNET, 1, file + off + 16, n, n),
                             EW_OK);
        off += 16 + n;
        npk++;
    }
    ew_cap_finish(cap);
    ew_cap_del(cap);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_int_equal(c.n[EW_CAP_REC_ERROR], 0);
    coll_free(&c);
    free(file);
    scen_free(&s);
}

static void test_rscp_gap_realigns(void **state) {
    (void)state;
    scen s = {0};
    rscp_gen g;
    rscp_gen_init(&g, KEY);
    uint8_t all[4096];
    size_t len = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t pt[512];
        size_t ptlen;
        size_t n = rscp_frame(&g, 0, i, pt, &ptlen, all + len);
        assert_int_equal(n, 64);
        /* mss 64 drops bytes 64..127 (frame 1); frame 2 lost its IV block. */
        if (i == 0 || i >= 3)
            want_frame(&s, 0, pt, ptlen);
        len += n;
    }
    scen_add(&s, 0, all, len, EW_CAP_W_DROP);
    wcfg cfg = {0, 0, 0, 5033, 0, 0, 64, 0};
    coll c;
    assert_int_equal(decode_scen(&s, &cfg, KEY, &c, NULL), EW_OK);
    assert_string_equal(coll_flog(&c), s.want.s);
    assert_non_null(strstr(coll_log(&c), "GAP 1 d=0 off=64 len=64"));
    assert_int_equal(c.n[EW_CAP_REC_ERROR], 0);
    coll_free(&c);
    scen_free(&s);
}

/* A frame with a bad CRC comes out with ok = 0 and an error; the chain
 * goes on. */
static void test_rscp_bad_crc(void **state) {
    (void)state;
    scen s = {0};
    rscp_gen g;
    rscp_gen_init(&g, KEY);
    for (int i = 0; i < 5; i++) {
        uint8_t pt[512], buf[512];
        ew_rscp_builder b;
        ew_rscp_timestamp ts = {1700000000 + i, 0};
        ew_rscp_builder_init_frame(&b, pt, sizeof pt);
        ew_rscp_builder_add_int32(&b, 0x01000001u, i);
        size_t n;
        assert_int_equal(ew_rscp_builder_finish_frame(&b, ts, 1, &n), EW_OK);
        if (i == 2)
            pt[n - 5] ^= 0x40; /* the value's last byte */
        memcpy(buf, pt, n);
        int k = ew_rscp_encryptor_seal(&g.e[0], buf, n, sizeof buf);
        assert_true(k > 0);
        scen_add(&s, 0, buf, (size_t)k, 0);
        want_frame(&s, 0, pt, n);
    }
    wcfg cfg = {0, 0, 0, 5033, 0, 0, 0, 0};
    char *log = run_splits(&s, cfg, KEY, 1);
    assert_non_null(strstr(log, "ERROR 1 d=0 EW_ERR_CRC"));
    assert_non_null(strstr(log, "FRAME 1 d=0 off=128 ok=0 "));
    assert_non_null(strstr(log, "FRAME 1 d=0 off=192 ok=1 "));
    free(log);
    scen_free(&s);
}

/* ---- files ------------------------------------------------------------------------ */

static void test_truncated_file(void **state) {
    (void)state;
    for (int ng = 0; ng < 2; ng++) {
        scen s = {0};
        rct_scenario(&s, 5);
        wcfg cfg = {ng, 0, 0, 8899, 0, 1, 0, 0};
        size_t len;
        uint8_t *file = write_scen(&s, &cfg, &len);
        coll c;
        memset(&c, 0, sizeof c);
        ew_cap *cap = new_cap(&c, NULL, NULL);
        assert_int_equal(ew_cap_read_mem(cap, file, len - 5), EW_ERR_TRUNCATED);
        assert_non_null(strstr(ew_cap_error_detail(cap), "packet"));
        ew_cap_del(cap);
        /* All frames but the last (in the cut packet) were decoded. */
        assert_int_equal(c.n[EW_CAP_REC_FRAME], 9);
        assert_int_equal(c.n[EW_CAP_REC_FLOW_END], 1);
        coll_free(&c);
        free(file);
        scen_free(&s);
    }
}

static void test_not_a_capture(void **state) {
    (void)state;
    coll c;
    static const uint8_t junk[] = "this is not a capture file, just some text....";
    assert_int_equal(decode_mem(junk, sizeof junk, NULL, &c, NULL), EW_ERR_PROTO);
    coll_free(&c);
    assert_int_equal(decode_mem(junk, 0, NULL, &c, NULL), EW_ERR_PROTO);
    coll_free(&c);
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, NULL, NULL);
    assert_int_equal(ew_cap_read_file(cap, "/nonexistent/capture.pcap", NULL, NULL),
                     EW_ERR_NOT_FOUND);
    ew_cap_del(cap);
    coll_free(&c);
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    uint64_t *last = user;
    assert_true(done <= total);
    *last = done;
}

/* A capture read from a file, with progress reports. */
static void test_read_file(void **state) {
    (void)state;
    scen s = {0};
    rct_scenario(&s, 4);
    wcfg cfg = {1, 0, 0, 8899, 0, 0, 0, 0};
    size_t len;
    uint8_t *file = write_scen(&s, &cfg, &len);
    char path[] = "/tmp/ew_test_cap_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(file, 1, len, fp), len);
    fclose(fp);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap *cap = new_cap(&c, NULL, NULL);
    uint64_t last = 0;
    assert_int_equal(ew_cap_read_file(cap, path, on_progress, &last), EW_OK);
    ew_cap_del(cap);
    remove(path);
    assert_int_equal(last, len);
    assert_string_equal(coll_flog(&c), s.want.s);
    coll_free(&c);
    free(file);
    scen_free(&s);
}

static void test_options(void **state) {
    (void)state;
    ew_cap_opts o;
    ew_cap_opts_init(&o);
    assert_int_equal(o.max_flows, 4096);
    assert_int_equal(o.max_ooo_bytes, 1u << 20);
    ew_cap *cap = NULL;
    char detail[128];
    o.rscp_key = "0123456789abcdef0123456789abcdefX"; /* 33 bytes */
    assert_int_equal(ew_cap_new(&cap, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_null(cap);
    assert_int_equal(ew_cap_proto_parse("RSCP"), EW_CAP_PROTO_RSCP);
    assert_int_equal(ew_cap_proto_parse("ep"), EW_CAP_PROTO_EP);
    assert_int_equal(ew_cap_proto_parse("modbus"), -1);
    assert_string_equal(ew_cap_proto_name(EW_CAP_PROTO_RCT), "rct");

    /* --proto 9000=rct decodes RCT on another port; a proto mask without
     * RCT counts the flow but emits nothing. */
    scen s = {0};
    rct_scenario(&s, 3);
    wcfg cfg = {0, 0, 0, 9000, 0, 0, 0, 0};
    size_t len;
    uint8_t *file = write_scen(&s, &cfg, &len);
    coll c;
    memset(&c, 0, sizeof c);
    ew_cap_opts_init(&o);
    o.ports[0].port = 9000;
    o.ports[0].proto = EW_CAP_PROTO_RCT;
    o.n_ports = 1;
    cap = new_cap(&c, NULL, &o);
    assert_int_equal(ew_cap_read_mem(cap, file, len), EW_OK);
    ew_cap_del(cap);
    assert_string_equal(coll_flog(&c), s.want.s);
    coll_free(&c);
    memset(&c, 0, sizeof c);
    o.proto_mask = 1u << EW_CAP_PROTO_EP;
    cap = new_cap(&c, NULL, &o);
    assert_int_equal(ew_cap_read_mem(cap, file, len), EW_OK);
    ew_cap_stats st;
    ew_cap_get_stats(cap, &st);
    ew_cap_del(cap);
    assert_int_equal(st.flows, 1);
    assert_int_equal(c.n[EW_CAP_REC_FLOW] + c.n[EW_CAP_REC_FRAME], 0);
    coll_free(&c);
    free(file);
    scen_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_rct),
        cmocka_unit_test(test_rct_splits),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_retransmit_overlap),
        cmocka_unit_test(test_rct_gap_resumes),
        cmocka_unit_test(test_mid_stream_rct),
        cmocka_unit_test(test_flow_limit),
        cmocka_unit_test(test_port_reuse),
        cmocka_unit_test(test_link_types),
        cmocka_unit_test(test_rct_faults),
        cmocka_unit_test(test_rct_request_ts),
        cmocka_unit_test(test_ep_plain),
        cmocka_unit_test(test_ep_gap_resumes),
        cmocka_unit_test(test_ep_tls_mid_stream),
        cmocka_unit_test(test_ep_tls_detected),
        cmocka_unit_test(test_ooo_limit),
        cmocka_unit_test(test_rscp_right_key),
        cmocka_unit_test(test_rscp_wrong_and_no_key),
        cmocka_unit_test(test_rscp_mid_connection),
        cmocka_unit_test(test_rscp_mid_frame_start),
        cmocka_unit_test(test_rscp_no_syn_ack),
        cmocka_unit_test(test_rscp_gap_realigns),
        cmocka_unit_test(test_rscp_bad_crc),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_not_a_capture),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
