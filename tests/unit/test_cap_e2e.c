/*
 * Capture decoding end to end: captures of real conversations of our own
 * sessions (tests/tools/capconv.h: RSCP client vs the E3/DC simulator, RCT
 * client vs the RCT simulator, EP sessions over TLS 1.3), written with
 * ew_cap_writer in pcap and pcapng, over IPv4 and IPv6, with reordered and
 * retransmitted segments, decoded with ew_cap_read_mem() and compared frame
 * by frame with what the sessions saw.  Also: a wrong RSCP key, a capture
 * that starts mid-connection, a file cut short, TLS without a key log.
 */
#define _GNU_SOURCE /* memmem, strdup, strncasecmp */
#include "testutil.h"

#include "../tools/capconv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding into a record list ------------------------------------------ */

typedef struct rec {
    ew_cap_rec_type type;
    int dir, ok, err, saw_syn;
    ew_cap_proto proto;
    unsigned rct_flags;
    uint64_t ts_us, req_ts_us, gap_bytes, flow_id;
    uint8_t *frame;
    size_t n;
    char *detail;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
} recs;

static void on_rec(void *user, const ew_cap_record *r) {
    recs *l = user;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    rec *x = &l->v[l->n++];
    memset(x, 0, sizeof *x);
    x->type = r->type;
    x->dir = r->dir;
    x->ok = r->ok;
    x->err = r->err;
    x->rct_flags = r->rct_flags;
    x->ts_us = r->ts_us;
    x->req_ts_us = r->rct_request_ts_us;
    x->gap_bytes = r->gap_bytes;
    if (r->flow) {
        x->flow_id = r->flow->id;
        x->proto = r->flow->proto;
        x->saw_syn = r->flow->saw_syn;
    }
    if (r->type == EW_CAP_REC_FRAME) {
        x->frame = malloc(r->frame.len ? r->frame.len : 1);
        assert_non_null(x->frame);
        memcpy(x->frame, r->frame.ptr, r->frame.len);
        x->n = r->frame.len;
    }
    if (r->detail) {
        x->detail = strdup(r->detail);
        assert_non_null(x->detail);
    }
}

static void recs_free(recs *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].frame);
        free(l->v[i].detail);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Decodes |cap| and returns ew_cap_read_mem()'s result. */
static int decode(ew_bytes cap, const char *key, const char *keylog, size_t keylog_len, recs *out,
                  ew_cap_stats *st) {
    ew_cap_opts o;
    ew_cap_opts_init(&o);
    o.rscp_key = key;
    o.keylog = keylog;
    o.keylog_len = keylog_len;
    o.on_record = on_rec;
    o.user = out;
    ew_cap *c = NULL;
    char detail[200] = "";
    int rc = ew_cap_new(&c, &o, detail, sizeof detail);
    if (rc != EW_OK)
        fail_msg("ew_cap_new: %s %s", ew_errname(rc), detail);
    rc = ew_cap_read_mem(c, cap.ptr, cap.len);
    if (st)
        ew_cap_get_stats(c, st);
    ew_cap_del(c);
    return rc;
}

static size_t count(const recs *l, ew_cap_rec_type t) {
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].type == t;
    return n;
}

/* The |i|-th FRAME record of direction |dir| (NULL when there are fewer). */
static const rec *nth_frame(const recs *l, int dir, size_t i) {
    for (size_t k = 0; k < l->n; k++)
        if (l->v[k].type == EW_CAP_REC_FRAME && l->v[k].dir == dir && i-- == 0)
            return &l->v[k];
    return NULL;
}

static size_t frames_in(const recs *l, int dir) {
    size_t n = 0;
    for (size_t k = 0; k < l->n; k++)
        n += l->v[k].type == EW_CAP_REC_FRAME && l->v[k].dir == dir;
    return n;
}

static int has_text(const char *s, const char *what) {
    if (!s)
        return 0;
    size_t n = strlen(what);
    for (; *s; s++)
        if (strncasecmp(s, what, n) == 0)
            return 1;
    return 0;
}

static void run_conv(cc_conv *cv, int (*fn)(cc_conv *)) {
    memset(cv, 0, sizeof *cv);
    if (fn(cv) != 0)
        fail_msg("conversation: %s", cv->err);
}

static int rscp_conv(cc_conv *cv) {
    return cc_rscp_run(cv, CC_RSCP_KEY, 6);
}
static int rct_conv(cc_conv *cv) {
    return cc_rct_run(cv);
}
static int ep_conv(cc_conv *cv) {
    return cc_ep_run(cv, 3);
}

static ew_cap_writer *writer(int pcapng) {
    ew_cap_writer *w = NULL;
    ew_cap_writer_opts o = {.pcapng = pcapng, .linktype = EW_CAP_LINK_ETHERNET};
    assert_int_equal(ew_cap_writer_new(&w, &o), EW_OK);
    return w;
}

/* ---- RSCP ------------------------------------------------------------------ */

/* The value area of a decrypted RSCP frame. */
static ew_bytes rscp_area(const rec *r) {
    ew_rscp_frame f;
    assert_true(r->ok);
    int n = ew_rscp_frame_decode(r->frame, r->n, &f, EW_RSCP_DECODE_FINAL, NULL);
    assert_int_equal(n, (int)r->n);
    return (ew_bytes){f.data, f.data_len};
}

/* Every decrypted frame equals what the sessions saw, in order; the login
 * request and its answer (reported by the sessions as events) are checked
 * by content. */
static void check_rscp(const recs *l, const cc_conv *cv, size_t skip_to, size_t skip_from) {
    for (int dir = 0; dir < 2; dir++) {
        size_t skip = dir == EW_CAP_TO_DEVICE ? skip_to : skip_from;
        const cc_list *seen = &cv->seen[dir];
        assert_int_equal(frames_in(l, dir), seen->n - skip);
        for (size_t i = skip; i < seen->n; i++) {
            const rec *r = nth_frame(l, dir, i - skip);
            assert_non_null(r);
            assert_int_equal(r->proto, EW_CAP_PROTO_RSCP);
            ew_bytes a = rscp_area(r);
            if (i == 0 && dir == EW_CAP_TO_DEVICE) {
                ew_rscp_iter it;
                ew_rscp_value v;
                ew_rscp_iter_init(&it, a.ptr, a.len, 0);
                assert_int_equal(ew_rscp_iter_next(&it, &v, NULL), 1);
                assert_int_equal(v.tag, EW_RSCP_TAG_REQ_AUTHENTICATION);
                assert_non_null(memmem(a.ptr, a.len, CC_RSCP_PASSWORD, strlen(CC_RSCP_PASSWORD)));
            } else if (i == 0) {
                assert_int_equal(ew_rscp_auth_level(a.ptr, a.len, NULL), cv->login_level);
            } else {
                assert_int_equal(a.len, seen->v[i].n);
                assert_memory_equal(a.ptr, seen->v[i].p, a.len);
            }
        }
    }
}

static void test_rscp_pcap_ipv4(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rscp_conv);
    assert_true(cv.login_level > 0);
    ew_cap_writer *w = writer(0);
    assert_int_equal(
        cc_write(&cv, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 0, 0, 0), EW_OK);
    recs l = {0};
    ew_cap_stats st;
    assert_int_equal(decode(ew_cap_writer_data(w), CC_RSCP_KEY, NULL, 0, &l, &st), EW_OK);
    check_rscp(&l, &cv, 0, 0);
    assert_int_equal(count(&l, EW_CAP_REC_ERROR), 0);
    assert_int_equal(count(&l, EW_CAP_REC_GAP), 0);
    assert_int_equal(count(&l, EW_CAP_REC_FLOW), 1);
    assert_int_equal(count(&l, EW_CAP_REC_FLOW_END), 1);
    assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_RSCP], 1);
    assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RSCP], cv.seen[0].n + cv.seen[1].n);
    /* The flow's counters are final at FLOW_END: the handshake was seen. */
    assert_int_equal(l.v[l.n - 1].type, EW_CAP_REC_FLOW_END);
    assert_true(l.v[l.n - 1].saw_syn);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

/* pcapng, IPv6, small segments, some reordered and some sent twice. */
static void test_rscp_pcapng_ipv6_faults(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rscp_conv);
    ew_cap_writer *w = writer(1);
    assert_int_equal(cc_write(&cv, w, "[fd00::2]:40000", "[fd00::5]:5033", 1700000000000000u, 0, 48,
                              EW_CAP_W_REORDER | EW_CAP_W_RETRANSMIT),
                     EW_OK);
    recs l = {0};
    ew_cap_stats st;
    assert_int_equal(decode(ew_cap_writer_data(w), CC_RSCP_KEY, NULL, 0, &l, &st), EW_OK);
    check_rscp(&l, &cv, 0, 0);
    assert_int_equal(count(&l, EW_CAP_REC_ERROR), 0);
    assert_int_equal(count(&l, EW_CAP_REC_GAP), 0);
    assert_true(st.retransmitted > 0);
    assert_true(st.out_of_order > 0);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

static void test_rscp_wrong_key(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rscp_conv);
    ew_cap_writer *w = writer(0);
    assert_int_equal(
        cc_write(&cv, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 0, 0, 0), EW_OK);
    recs l = {0};
    assert_int_equal(decode(ew_cap_writer_data(w), "not-the-key", NULL, 0, &l, NULL), EW_OK);
    assert_int_equal(count(&l, EW_CAP_REC_FRAME), 0);
    size_t decrypt_errors = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].type == EW_CAP_REC_ERROR) {
            assert_int_equal(l.v[i].err, EW_ERR_DECRYPT);
            assert_non_null(l.v[i].detail);
            decrypt_errors++;
        }
    assert_true(decrypt_errors >= 1);
    recs_free(&l);

    /* Without any key: reported, nothing decoded. */
    assert_int_equal(decode(ew_cap_writer_data(w), NULL, NULL, 0, &l, NULL), EW_OK);
    assert_int_equal(count(&l, EW_CAP_REC_FRAME), 0);
    assert_true(count(&l, EW_CAP_REC_ERROR) >= 1);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

/* The capture starts after the login: the IV chains are unknown. */
static void test_rscp_mid_connection(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rscp_conv);
    ew_cap_writer *w = writer(0);
    assert_true(cv.n > 6);
    assert_int_equal(
        cc_write(&cv, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 4, 0, 0), EW_OK);
    recs l = {0};
    assert_int_equal(decode(ew_cap_writer_data(w), CC_RSCP_KEY, NULL, 0, &l, NULL), EW_OK);
    assert_int_equal(count(&l, EW_CAP_REC_FLOW), 1);
    assert_int_equal(l.v[l.n - 1].type, EW_CAP_REC_FLOW_END);
    assert_false(l.v[l.n - 1].saw_syn);
    size_t errors = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].type == EW_CAP_REC_ERROR) {
            assert_non_null(l.v[i].detail);
            assert_true(strlen(l.v[i].detail) > 10);
            errors++;
        }
    assert_true(errors >= 1);
    /* Whatever frames come out anyway are real ones. */
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].type == EW_CAP_REC_FRAME) {
            ew_bytes a = rscp_area(&l.v[i]);
            int found = 0;
            const cc_list *seen = &cv.seen[l.v[i].dir];
            for (size_t k = 1; k < seen->n && !found; k++)
                found = seen->v[k].n == a.len && !memcmp(seen->v[k].p, a.ptr, a.len);
            assert_true(found);
        }
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

/* The file is cut in the middle of a packet: EW_ERR_TRUNCATED, and the
 * frames before the cut are kept. */
static void test_rscp_truncated_file(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rscp_conv);
    for (int ng = 0; ng < 2; ng++) {
        ew_cap_writer *w = writer(ng);
        assert_int_equal(
            cc_write(&cv, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 0, 0, 0), EW_OK);
        ew_bytes all = ew_cap_writer_data(w);
        ew_bytes cut = {all.ptr, all.len * 3 / 5};
        recs l = {0};
        assert_int_equal(decode(cut, CC_RSCP_KEY, NULL, 0, &l, NULL), EW_ERR_TRUNCATED);
        size_t to = frames_in(&l, EW_CAP_TO_DEVICE), from = frames_in(&l, EW_CAP_FROM_DEVICE);
        assert_true(to >= 2);
        assert_true(to < cv.seen[0].n || from < cv.seen[1].n);
        /* The frames before the cut are the conversation's first ones. */
        for (size_t i = 1; i < to; i++) {
            ew_bytes a = rscp_area(nth_frame(&l, EW_CAP_TO_DEVICE, i));
            assert_int_equal(a.len, cv.seen[0].v[i].n);
            assert_memory_equal(a.ptr, cv.seen[0].v[i].p, a.len);
        }
        for (size_t i = 1; i < from; i++) {
            ew_bytes a = rscp_area(nth_frame(&l, EW_CAP_FROM_DEVICE, i));
            assert_int_equal(a.len, cv.seen[1].v[i].n);
            assert_memory_equal(a.ptr, cv.seen[1].v[i].p, a.len);
        }
        recs_free(&l);

        /* Cut inside the file header: not a capture at all. */
        ew_bytes tiny = {all.ptr, 10};
        assert_int_not_equal(decode(tiny, CC_RSCP_KEY, NULL, 0, &l, NULL), EW_OK);
        assert_int_equal(count(&l, EW_CAP_REC_FRAME), 0);
        recs_free(&l);
        ew_cap_writer_del(w);
    }
    cc_conv_free(&cv);
}

/* ---- RCT ------------------------------------------------------------------- */

static void check_rct(const recs *l, const cc_conv *cv) {
    for (int dir = 0; dir < 2; dir++) {
        const cc_list *seen = &cv->seen[dir];
        assert_int_equal(frames_in(l, dir), seen->n);
        for (size_t i = 0; i < seen->n; i++) {
            const rec *r = nth_frame(l, dir, i);
            assert_int_equal(r->proto, EW_CAP_PROTO_RCT);
            assert_int_equal(r->n, seen->v[i].n);
            assert_memory_equal(r->frame, seen->v[i].p, r->n);
            if (dir == EW_CAP_FROM_DEVICE) {
                int bad = i == cv->rct_bad_crc_frame;
                int cut = i == cv->rct_truncated_frame;
                assert_int_equal(!!(r->rct_flags & EW_CAP_RCT_CRC_BAD), bad);
                assert_int_equal(!!(r->rct_flags & EW_CAP_RCT_TRUNCATED), cut);
                assert_false(r->rct_flags & EW_CAP_RCT_UNSOLICITED);
                /* Matched with its request: a latency. */
                assert_true(r->req_ts_us > 0 && r->req_ts_us <= r->ts_us);
            } else {
                assert_false(r->rct_flags & EW_CAP_RCT_UNANSWERED);
            }
        }
    }
    /* The good answers carry the ids the client received, in order. */
    size_t k = 0;
    for (size_t i = 0; i < cv->seen[1].n; i++) {
        if (i == cv->rct_bad_crc_frame || i == cv->rct_truncated_frame)
            continue;
        assert_true(k < cv->rct_events.n);
        assert_int_equal(cv->seen[1].v[i].tag, cv->rct_events.v[k].tag);
        k++;
    }
    assert_int_equal(k, cv->rct_events.n);
}

static void test_rct(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rct_conv);
    assert_true(cv.rct_bad_crc_frame != (size_t)-1);
    assert_true(cv.rct_truncated_frame != (size_t)-1);
    static const struct {
        int ng;
        const char *client, *device;
        size_t mss;
        unsigned faults;
    } v[] = {
        {0, "192.168.1.20:41000", "192.168.1.30:8899", 0, 0},
        {1, "[2001:db8::20]:41000", "[2001:db8::30]:8899", 7,
         EW_CAP_W_REORDER | EW_CAP_W_RETRANSMIT},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ew_cap_writer *w = writer(v[i].ng);
        assert_int_equal(
            cc_write(&cv, w, v[i].client, v[i].device, 1782000000000000u, 0, v[i].mss, v[i].faults),
            EW_OK);
        recs l = {0};
        ew_cap_stats st;
        assert_int_equal(decode(ew_cap_writer_data(w), NULL, NULL, 0, &l, &st), EW_OK);
        check_rct(&l, &cv);
        assert_int_equal(count(&l, EW_CAP_REC_GAP), 0);
        assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_RCT], 1);
        assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RCT], cv.seen[0].n + cv.seen[1].n);
        if (v[i].faults)
            assert_true(st.retransmitted > 0);
        recs_free(&l);
        ew_cap_writer_del(w);
    }
    cc_conv_free(&cv);
}

/* Every FRAME record of |dir| equals one of |seen|'s entries (compared by
 * |area| for RSCP value areas, else whole frames), in order, and some are
 * missing. */
static void check_subset(const recs *l, const cc_list *seen, int dir, int rscp) {
    size_t n = frames_in(l, dir), k = 0;
    assert_true(n >= 1 && n < seen->n);
    for (size_t i = 0; i < n; i++) {
        const rec *r = nth_frame(l, dir, i);
        ew_bytes a = rscp ? rscp_area(r) : (ew_bytes){r->frame, r->n};
        while (k < seen->n && (seen->v[k].n != a.len || memcmp(seen->v[k].p, a.ptr, a.len)))
            k++;
        if (rscp && k == seen->n && i == 0) {
            /* The login request or its answer, which the sessions report
             * as events without value areas. */
            if (dir == EW_CAP_TO_DEVICE)
                assert_non_null(memmem(a.ptr, a.len, CC_RSCP_USER, strlen(CC_RSCP_USER)));
            else
                assert_true(ew_rscp_auth_level(a.ptr, a.len, NULL) > 0);
            k = 0;
        } else {
            assert_true(k < seen->n);
        }
        k++;
    }
}

/* Lost segments: GAP records; decoding resumes at the next frame (RCT by
 * its start token, RSCP by realigning the CBC chain on a block boundary),
 * and every frame reported after a gap is a real one. */
static void test_gaps(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, rct_conv);
    ew_cap_writer *w = writer(0);
    assert_int_equal(cc_write(&cv, w, "192.168.1.20:41000", "192.168.1.30:8899", 1782000000000000u,
                              0, 5, EW_CAP_W_DROP),
                     EW_OK);
    recs l = {0};
    ew_cap_stats st;
    assert_int_equal(decode(ew_cap_writer_data(w), NULL, NULL, 0, &l, &st), EW_OK);
    assert_true(count(&l, EW_CAP_REC_GAP) >= 1);
    assert_int_equal(st.gaps, count(&l, EW_CAP_REC_GAP));
    assert_true(st.gap_bytes > 0);
    check_subset(&l, &cv.seen[0], EW_CAP_TO_DEVICE, 0);
    check_subset(&l, &cv.seen[1], EW_CAP_FROM_DEVICE, 0);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);

    run_conv(&cv, rscp_conv);
    w = writer(1);
    assert_int_equal(cc_write(&cv, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 0, 40,
                              EW_CAP_W_DROP),
                     EW_OK);
    assert_int_equal(decode(ew_cap_writer_data(w), CC_RSCP_KEY, NULL, 0, &l, &st), EW_OK);
    assert_true(count(&l, EW_CAP_REC_GAP) >= 1);
    assert_true(st.gap_bytes > 0);
    check_subset(&l, &cv.seen[0], EW_CAP_TO_DEVICE, 1);
    check_subset(&l, &cv.seen[1], EW_CAP_FROM_DEVICE, 1);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

/* ---- EP over TLS 1.3 ---------------------------------------------------------- */

static void test_ep_tls_keylog(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, ep_conv);
    assert_true(cv.keylog_len > 0);
    assert_true(cv.seen[0].n >= 4 && cv.seen[1].n >= 4);
    for (int ng = 0; ng < 2; ng++) {
        ew_cap_writer *w = writer(ng);
        assert_int_equal(cc_write(&cv, w, ng ? "[fd00::7]:50500" : "10.1.0.7:50500",
                                  ng ? "[fd00::9]:56540" : "10.1.0.9:56540", 1700000000000000u, 0,
                                  ng ? 100 : 0, ng ? EW_CAP_W_REORDER | EW_CAP_W_RETRANSMIT : 0),
                         EW_OK);
        recs l = {0};
        ew_cap_stats st;
        assert_int_equal(decode(ew_cap_writer_data(w), NULL, cv.keylog, cv.keylog_len, &l, &st),
                         EW_OK);
        for (int dir = 0; dir < 2; dir++) {
            assert_int_equal(frames_in(&l, dir), cv.seen[dir].n);
            for (size_t i = 0; i < cv.seen[dir].n; i++) {
                const rec *r = nth_frame(&l, dir, i);
                assert_int_equal(r->proto, EW_CAP_PROTO_EP);
                assert_int_equal(r->n, cv.seen[dir].v[i].n);
                assert_memory_equal(r->frame, cv.seen[dir].v[i].p, r->n);
                /* And it decodes as the message the session received. */
                ew_ep_frame f;
                ew_ep_msg m;
                assert_int_equal(ew_ep_frame_decode(r->frame, r->n, 0, &f, NULL), (int)r->n);
                assert_int_equal(ew_ep_msg_decode_frame(&f, &m, NULL), EW_OK);
            }
            /* Every frame but the SoftDisconnect was a message the peer
             * session reported. */
            assert_true(cv.ep_events[dir] + 1 >= cv.seen[dir].n);
        }
        assert_true(count(&l, EW_CAP_REC_TLS) >= 1);
        assert_int_equal(count(&l, EW_CAP_REC_GAP), 0);
        assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_EP], 1);
        recs_free(&l);
        ew_cap_writer_del(w);
    }
    cc_conv_free(&cv);
}

static void test_ep_tls_without_keylog(void **state) {
    (void)state;
    cc_conv cv;
    run_conv(&cv, ep_conv);
    ew_cap_writer *w = writer(0);
    assert_int_equal(
        cc_write(&cv, w, "10.1.0.7:50500", "10.1.0.9:56540", 1700000000000000u, 0, 0, 0), EW_OK);
    recs l = {0};
    assert_int_equal(decode(ew_cap_writer_data(w), NULL, NULL, 0, &l, NULL), EW_OK);
    assert_int_equal(count(&l, EW_CAP_REC_FRAME), 0);
    size_t tls = 0, needs = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].type == EW_CAP_REC_TLS)
            tls++;
        if ((l.v[i].type == EW_CAP_REC_TLS || l.v[i].type == EW_CAP_REC_ERROR) &&
            has_text(l.v[i].detail, "key log"))
            needs++;
    }
    assert_true(tls >= 1);
    assert_true(needs >= 1);
    recs_free(&l);

    /* A key log for another connection does not help either. */
    static const char other[] =
        "CLIENT_TRAFFIC_SECRET_0 "
        "0000000000000000000000000000000000000000000000000000000000000000 "
        "1111111111111111111111111111111111111111111111111111111111111111\n";
    assert_int_equal(decode(ew_cap_writer_data(w), NULL, other, sizeof other - 1, &l, NULL), EW_OK);
    assert_int_equal(count(&l, EW_CAP_REC_FRAME), 0);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&cv);
}

/* All three protocols in one capture, told apart by port. */
static void test_mixed(void **state) {
    (void)state;
    cc_conv a, b, c;
    run_conv(&a, rscp_conv);
    run_conv(&b, rct_conv);
    run_conv(&c, ep_conv);
    ew_cap_writer *w = writer(1);
    assert_int_equal(cc_write(&a, w, "10.0.0.2:50123", "10.0.0.5:5033", 1700000000000000u, 0, 0, 0),
                     EW_OK);
    assert_int_equal(cc_write(&b, w, "10.0.0.2:50124", "10.0.0.6:8899", 1700000100000000u, 0, 0, 0),
                     EW_OK);
    assert_int_equal(
        cc_write(&c, w, "10.0.0.2:50125", "10.0.0.7:56540", 1700000200000000u, 0, 0, 0), EW_OK);
    recs l = {0};
    ew_cap_stats st;
    assert_int_equal(decode(ew_cap_writer_data(w), CC_RSCP_KEY, c.keylog, c.keylog_len, &l, &st),
                     EW_OK);
    assert_int_equal(st.flows, 3);
    assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_RSCP], 1);
    assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_RCT], 1);
    assert_int_equal(st.flows_by_proto[EW_CAP_PROTO_EP], 1);
    assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RSCP], a.seen[0].n + a.seen[1].n);
    assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_RCT], b.seen[0].n + b.seen[1].n);
    assert_int_equal(st.frames_by_proto[EW_CAP_PROTO_EP], c.seen[0].n + c.seen[1].n);
    recs_free(&l);
    ew_cap_writer_del(w);
    cc_conv_free(&a);
    cc_conv_free(&b);
    cc_conv_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rscp_pcap_ipv4),
        cmocka_unit_test(test_rscp_pcapng_ipv6_faults),
        cmocka_unit_test(test_rscp_wrong_key),
        cmocka_unit_test(test_rscp_mid_connection),
        cmocka_unit_test(test_rscp_truncated_file),
        cmocka_unit_test(test_rct),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_ep_tls_keylog),
        cmocka_unit_test(test_ep_tls_without_keylog),
        cmocka_unit_test(test_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
