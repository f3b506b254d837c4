/*
 * Conversations of our own code for capture tests (tests/unit/test_cap_e2e.c)
 * and sample captures (tests/tools/mkcapture.c): the sans-I/O sessions are
 * wired to each other in memory, every chunk one side sends is kept, and
 * what the receiving session saw is recorded so that a decoded capture can
 * be compared with it.  The chunks are then written into a capture with
 * ew_cap_writer (any framing, addresses, segment size and TCP faults).
 *
 *  - RSCP: an ew_rscp_conn client against an ew_rscp_conn server answering
 *    from the E3/DC simulator core (login, then polls).
 *  - RCT: an ew_rct_conn client against the RCT simulator peer, with one
 *    answer sent with a bad CRC and one cut short (rct.md §15 device faults).
 *  - EP: two ew_ep_conn sessions over two ew_tls endpoints (TLS 1.3,
 *    certificates from ew_tls_make_ca/make_cert), the client's NSS key log
 *    collected.
 *
 * No sockets, no clocks: times are fake and advance per chunk.  Functions
 * return 0, or -1 with a sentence in cv->err.  Header-only (static
 * functions) so both programs use the same conversations.
 */
#ifndef EW_TESTS_CAPCONV_H
#define EW_TESTS_CAPCONV_H

#include <energywire/capture.h>
#include <energywire/ep.h>
#include <energywire/ep_conn.h>
#include <energywire/rct.h>
#include <energywire/rct_conn.h>
#include <energywire/rct_sim.h>
#include <energywire/rscp.h>
#include <energywire/sim.h>
#include <energywire/tls.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The simulator's default login and key (sim.h). */
#define CC_RSCP_KEY "my-rscp-key"
#define CC_RSCP_USER "user@example.com"
#define CC_RSCP_PASSWORD "secret-portal-password"

typedef struct cc_blob {
    uint8_t *p;
    size_t n;
    uint32_t tag; /* RCT: the object id of a response; 0 otherwise */
} cc_blob;

typedef struct cc_list {
    cc_blob *v;
    size_t n, cap;
} cc_list;

typedef struct cc_chunk {
    int dir; /* EW_CAP_TO_DEVICE or EW_CAP_FROM_DEVICE */
    uint8_t *p;
    size_t n;
} cc_chunk;

typedef struct cc_conv {
    ew_cap_proto proto;
    cc_chunk *c;
    size_t n, cap;
    /* What the receiving session saw, per direction (EW_CAP_TO_DEVICE,
     * EW_CAP_FROM_DEVICE):
     *  RSCP: value areas (an empty blob for the login request and its
     *        answer, which the sessions report as events without areas);
     *  RCT:  the unescaped frames as the other side's receiver found them;
     *  EP:   the frames (magic to payload end) the sending session wrote. */
    cc_list seen[2];
    /* RSCP: the user level of the login.  RCT: response ids the client got
     * (seen via RESPONSE events), the index of the CRC-broken and the cut
     * answer among the device's frames. */
    int login_level;
    cc_list rct_events;
    size_t rct_bad_crc_frame, rct_truncated_frame;
    /* EP: the NSS key log the TLS client wrote ("LABEL random secret\n"),
     * and the count of messages (other than Ping) each session received. */
    char *keylog;
    size_t keylog_len, keylog_cap;
    size_t ep_events[2];
    char err[256];
} cc_conv;

static int cc_fail(cc_conv *cv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cc_fail(cc_conv *cv, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cv->err, sizeof cv->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int cc_list_add(cc_list *l, const uint8_t *p, size_t n, uint32_t tag) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        cc_blob *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    cc_blob *b = &l->v[l->n];
    b->p = malloc(n ? n : 1);
    if (!b->p)
        return -1;
    if (n)
        memcpy(b->p, p, n);
    b->n = n;
    b->tag = tag;
    l->n++;
    return 0;
}

static void cc_list_free(cc_list *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].p);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cc_chunk_add(cc_conv *cv, int dir, const uint8_t *p, size_t n) {
    if (cv->n == cv->cap) {
        size_t cap = cv->cap ? 2 * cv->cap : 64;
        cc_chunk *c = realloc(cv->c, cap * sizeof *c);
        if (!c)
            return cc_fail(cv, "out of memory");
        cv->c = c;
        cv->cap = cap;
    }
    cc_chunk *c = &cv->c[cv->n];
    c->p = malloc(n);
    if (!c->p)
        return cc_fail(cv, "out of memory");
    memcpy(c->p, p, n);
    c->n = n;
    c->dir = dir;
    cv->n++;
    return 0;
}

static void cc_conv_free(cc_conv *cv) {
    for (size_t i = 0; i < cv->n; i++)
        free(cv->c[i].p);
    free(cv->c);
    cc_list_free(&cv->seen[0]);
    cc_list_free(&cv->seen[1]);
    cc_list_free(&cv->rct_events);
    if (cv->keylog)
        memset(cv->keylog, 0, cv->keylog_cap);
    free(cv->keylog);
    memset(cv, 0, sizeof *cv);
}

/* ---- writing the chunks into a capture ------------------------------------ */

/*
 * Writes chunks |from|.. of |cv| as one TCP connection |client| -> |device|
 * into |w|, starting at |ts_us| and 700 us apart, in segments of |mss| bytes.
 * With |from| = 0 the handshake is written (else the connection looks as if
 * it started before the capture).  |faults| (EW_CAP_W_REORDER,
 * EW_CAP_W_RETRANSMIT, ...) are applied to some chunks: reorder on every
 * third, retransmit on every fourth, drop a segment of every fifth, so that
 * clean and faulty chunks mix.
 */
static int cc_write(const cc_conv *cv, ew_cap_writer *w, const char *client, const char *device,
                    uint64_t ts_us, size_t from, size_t mss, unsigned faults) {
    int f = ew_cap_writer_flow(w, client, device);
    if (f < 0)
        return f;
    int rc = EW_OK;
    if (from == 0)
        rc = ew_cap_writer_open(w, f, ts_us);
    for (size_t i = from; i < cv->n && rc == EW_OK; i++) {
        unsigned fl = 0;
        if (i % 3 == 1)
            fl |= faults & (EW_CAP_W_REORDER | EW_CAP_W_OVERLAP);
        if (i % 4 == 2)
            fl |= faults & EW_CAP_W_RETRANSMIT;
        if (i % 5 == 3)
            fl |= faults & EW_CAP_W_DROP;
        ts_us += 700;
        rc = ew_cap_writer_send(w, f, cv->c[i].dir, ts_us, cv->c[i].p, cv->c[i].n, mss, fl);
    }
    if (rc == EW_OK)
        rc = ew_cap_writer_close(w, f, ts_us + 1000);
    return rc;
}

/* ---- RSCP: client session vs server session + E3/DC simulator ------------- */

typedef struct cc_rscp {
    cc_conv *cv;
    ew_rscp_conn *cl, *sv;
    ew_e3dc_sim *sim;
    uint64_t now_ms;
    int level;       /* the server side's accepted level */
    int answered;    /* responses the client got */
    uint8_t *answer; /* the simulator's answer buffer */
} cc_rscp;

static int cc_rscp_server_events(cc_rscp *r) {
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(r->sv, &ev) > 0) {
        if (ev.type == EW_RSCP_EV_LOGIN) {
            r->level = ew_e3dc_sim_check_login(r->sim, (const char *)ev.user.ptr, ev.user.len,
                                               (const char *)ev.password.ptr, ev.password.len);
            if (cc_list_add(&r->cv->seen[EW_CAP_TO_DEVICE], NULL, 0, 0) != 0 ||
                ew_rscp_conn_login_result(r->sv, r->level) != EW_OK)
                return cc_fail(r->cv, "server: login");
        } else if (ev.type == EW_RSCP_EV_REQUEST) {
            if (cc_list_add(&r->cv->seen[EW_CAP_TO_DEVICE], ev.data, ev.len, 0) != 0)
                return cc_fail(r->cv, "out of memory");
            ew_rscp_builder b;
            size_t n;
            ew_rscp_builder_init(&b, r->answer, 70000);
            if (ew_e3dc_sim_handle(r->sim, ev.data, ev.len, r->level, &b) < 0 ||
                ew_rscp_builder_finish(&b, &n) != EW_OK ||
                ew_rscp_conn_respond(r->sv, ev.req_id, r->answer, n) != EW_OK)
                return cc_fail(r->cv, "server: cannot answer request %u", (unsigned)ev.req_id);
        } else if (ev.type == EW_RSCP_EV_CLOSED && ev.err != EW_OK) {
            return cc_fail(r->cv, "server closed: %s", ew_rscp_conn_error_detail(r->sv));
        }
    }
    return 0;
}

static int cc_rscp_client_events(cc_rscp *r) {
    ew_rscp_event ev;
    while (ew_rscp_conn_poll_event(r->cl, &ev) > 0) {
        if (ev.type == EW_RSCP_EV_AUTHENTICATED) {
            r->cv->login_level = ev.level;
            if (cc_list_add(&r->cv->seen[EW_CAP_FROM_DEVICE], NULL, 0, 0) != 0)
                return cc_fail(r->cv, "out of memory");
        } else if (ev.type == EW_RSCP_EV_RESPONSE) {
            r->answered++;
            if (cc_list_add(&r->cv->seen[EW_CAP_FROM_DEVICE], ev.data, ev.len, 0) != 0)
                return cc_fail(r->cv, "out of memory");
        } else if (ev.type == EW_RSCP_EV_REQUEST_FAILED ||
                   (ev.type == EW_RSCP_EV_CLOSED && ev.err != EW_OK)) {
            return cc_fail(r->cv, "client: %s (%s)", ew_strerror(ev.err),
                           ew_rscp_conn_error_detail(r->cl));
        }
    }
    return 0;
}

/* Moves the bytes |from| sends into |to|, keeping them as chunks of |dir|. */
static int cc_rscp_move(cc_rscp *r, ew_rscp_conn *from, ew_rscp_conn *to, int dir, int *moved) {
    const uint8_t *out;
    size_t n;
    while ((n = ew_rscp_conn_send_data(from, &out)) > 0) {
        if (cc_chunk_add(r->cv, dir, out, n) != 0)
            return -1;
        ew_rscp_conn_send_done(from, n);
        const cc_chunk *c = &r->cv->c[r->cv->n - 1];
        size_t off = 0;
        while (off < c->n) {
            int got = ew_rscp_conn_recv(to, c->p + off, c->n - off, r->now_ms);
            if (got <= 0)
                return cc_fail(r->cv, "recv refused the data (%d)", got);
            off += (size_t)got;
            if ((to == r->sv ? cc_rscp_server_events(r) : cc_rscp_client_events(r)) != 0)
                return -1;
        }
        *moved = 1;
        r->now_ms += 5;
    }
    return 0;
}

static int cc_rscp_pump(cc_rscp *r) {
    for (int round = 0; round < 1000; round++) {
        int moved = 0;
        if (cc_rscp_move(r, r->cl, r->sv, EW_CAP_TO_DEVICE, &moved) != 0 ||
            cc_rscp_move(r, r->sv, r->cl, EW_CAP_FROM_DEVICE, &moved) != 0)
            return -1;
        if (!moved)
            return 0;
    }
    return cc_fail(r->cv, "the RSCP conversation does not settle");
}

/*
 * Runs a login and |polls| live-value polls (EMS powers, SOC, autarky) with
 * the key |key|.  Chunks go into |cv|.
 */
static int cc_rscp_run(cc_conv *cv, const char *key, int polls) {
    static const char *const tags[] = {
        "EMS_REQ_POWER_PV", "EMS_REQ_POWER_BAT", "EMS_REQ_POWER_HOME",       "EMS_REQ_POWER_GRID",
        "EMS_REQ_BAT_SOC",  "EMS_REQ_AUTARKY",   "EMS_REQ_SELF_CONSUMPTION", "INFO_REQ_UTC_TIME"};
    cc_rscp r = {.cv = cv, .now_ms = 1000};
    cv->proto = EW_CAP_PROTO_RSCP;
    int rc = -1;
    ew_e3dc_sim_config sc;
    ew_e3dc_sim_config_init(&sc);
    sc.history_days = 2;
    r.answer = malloc(70000);
    if (!r.answer || ew_e3dc_sim_new(&r.sim, &sc, NULL) != EW_OK) {
        cc_fail(cv, "cannot start the E3/DC simulator");
        goto out;
    }
    ew_rscp_conn_opts o;
    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_CLIENT);
    o.now_ms = r.now_ms;
    o.rscp_key = key;
    o.user = CC_RSCP_USER;
    o.password = CC_RSCP_PASSWORD;
    if (ew_rscp_conn_new(&r.cl, &o, NULL) != EW_OK) {
        cc_fail(cv, "cannot create the RSCP client");
        goto out;
    }
    ew_rscp_conn_opts_init(&o, EW_RSCP_ROLE_SERVER);
    o.now_ms = r.now_ms;
    o.rscp_key = key;
    if (ew_rscp_conn_new(&r.sv, &o, NULL) != EW_OK) {
        cc_fail(cv, "cannot create the RSCP server");
        goto out;
    }
    uint8_t req[256];
    ew_rscp_builder b;
    size_t req_len;
    ew_rscp_builder_init(&b, req, sizeof req);
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        const ew_rscp_tag_info *t = ew_rscp_tag_by_name(tags[i], strlen(tags[i]));
        if (!t) {
            cc_fail(cv, "tag %s missing from the registry", tags[i]);
            goto out;
        }
        ew_rscp_builder_add_none(&b, t->id);
    }
    if (ew_rscp_builder_finish(&b, &req_len) != EW_OK) {
        cc_fail(cv, "cannot build the poll");
        goto out;
    }
    for (int i = 0; i < polls; i++) {
        ew_rscp_timestamp now = {1700000000 + i, 250000000};
        ew_rscp_conn_set_time(r.cl, now);
        ew_rscp_conn_set_time(r.sv, now);
        ew_e3dc_sim_step(r.sim, (int64_t)now.seconds * 1000 + 250);
        uint32_t id;
        if (ew_rscp_conn_submit(r.cl, req, req_len, r.now_ms, &id) != EW_OK) {
            cc_fail(cv, "submit failed");
            goto out;
        }
        if (cc_rscp_pump(&r) != 0)
            goto out;
        if (r.answered != i + 1) {
            cc_fail(cv, "poll %d got no answer", i);
            goto out;
        }
    }
    rc = 0;
out:
    ew_rscp_conn_del(r.cl);
    ew_rscp_conn_del(r.sv);
    ew_e3dc_sim_del(r.sim);
    free(r.answer);
    return rc;
}

/* ---- RCT: client session vs the RCT simulator ----------------------------- */

/* Splits a direction's wire bytes into unescaped frames, as a receiver
 * finds them (the reference the decoded capture is compared with). */
static int cc_rct_frames(cc_conv *cv, int dir, cc_list *out) {
    uint8_t *buf = malloc(EW_RCT_FRAME_MAX);
    ew_rct_rx rx;
    if (!buf || ew_rct_rx_init(&rx, buf, EW_RCT_FRAME_MAX) != EW_OK) {
        free(buf);
        return cc_fail(cv, "out of memory");
    }
    for (size_t i = 0; i < cv->n; i++) {
        if (cv->c[i].dir != dir)
            continue;
        size_t pos = 0;
        while (pos < cv->c[i].n) {
            size_t used;
            ew_rct_frame f;
            int rc = ew_rct_rx_feed(&rx, cv->c[i].p + pos, cv->c[i].n - pos, &used, &f, NULL);
            pos += used;
            if ((rc == EW_OK || rc == EW_ERR_CRC) &&
                cc_list_add(out, buf, f.frame_len, f.id) != 0) {
                free(buf);
                return cc_fail(cv, "out of memory");
            }
        }
    }
    free(buf);
    return 0;
}

/*
 * Reads |nobj| objects one after another from the RCT simulator; the
 * answer to the third read is sent with a bad CRC and the fourth's is cut
 * short (the client retries both).
 */
static int cc_rct_run(cc_conv *cv) {
    /* battery.soc, battery.voltage, g_sync.p_ac_load_sum_lp,
     * g_sync.p_ac_grid_sum_lp, dc_conv.dc_conv_struct[0].p_dc_lp,
     * battery.temperature (data/rct_oids.csv). */
    static const uint32_t ids[] = {0x959930BFu, 0x65EED11Bu, 0x1AC87AA0u,
                                   0x91617C58u, 0xDB11855Bu, 0x902AFAFBu};
    const size_t nobj = sizeof ids / sizeof ids[0];
    cv->proto = EW_CAP_PROTO_RCT;
    ew_rct_sim *sim = NULL;
    ew_rct_sim_peer *peer = NULL;
    ew_rct_conn *cl = NULL;
    int rc = -1;
    uint64_t now = 1000;
    size_t device_frames = 0;
    cv->rct_bad_crc_frame = cv->rct_truncated_frame = (size_t)-1;
    ew_rct_conn_opts o;
    ew_rct_conn_opts_init(&o);
    o.now_ms = now;
    if (ew_rct_sim_new(&sim, NULL, NULL) != EW_OK || ew_rct_sim_peer_new(sim, &peer) != EW_OK ||
        ew_rct_conn_new(&cl, &o, NULL) != EW_OK) {
        cc_fail(cv, "cannot start the RCT client and simulator");
        goto out;
    }
    for (size_t i = 0; i < nobj; i++) {
        uint32_t req_id;
        if (ew_rct_conn_submit_read(cl, ids[i], now, &req_id) != EW_OK) {
            cc_fail(cv, "submit_read failed");
            goto out;
        }
        int done = 0, attempt = 0;
        for (int round = 0; round < 100 && !done; round++) {
            const uint8_t *out;
            size_t n;
            int moved = 0;
            while ((n = ew_rct_conn_send_data(cl, &out)) > 0) {
                if (cc_chunk_add(cv, EW_CAP_TO_DEVICE, out, n) != 0)
                    goto out;
                ew_rct_conn_send_done(cl, n);
                const cc_chunk *c = &cv->c[cv->n - 1];
                /* Device faults on the first answer of requests 2 and 3. */
                unsigned faults = 0;
                if (attempt++ == 0 && i == 2)
                    faults = EW_RCT_SIM_FAULT_BAD_CRC;
                if (attempt == 1 && i == 3)
                    faults = EW_RCT_SIM_FAULT_TRUNCATE;
                size_t off = 0;
                while (off < c->n) {
                    size_t used = ew_rct_sim_peer_recv(peer, c->p + off, c->n - off, faults);
                    if (used == 0) {
                        cc_fail(cv, "the simulator takes no more bytes");
                        goto out;
                    }
                    off += used;
                }
                if (faults == EW_RCT_SIM_FAULT_BAD_CRC)
                    cv->rct_bad_crc_frame = device_frames;
                if (faults == EW_RCT_SIM_FAULT_TRUNCATE)
                    cv->rct_truncated_frame = device_frames;
                moved = 1;
            }
            now += 3;
            while ((n = ew_rct_sim_peer_send_data(peer, &out)) > 0) {
                if (cc_chunk_add(cv, EW_CAP_FROM_DEVICE, out, n) != 0)
                    goto out;
                ew_rct_sim_peer_send_done(peer, n);
                const cc_chunk *c = &cv->c[cv->n - 1];
                device_frames++;
                size_t off = 0;
                while (off < c->n) {
                    int got = ew_rct_conn_recv(cl, c->p + off, c->n - off, now);
                    if (got <= 0) {
                        cc_fail(cv, "the client refused the answer (%d)", got);
                        goto out;
                    }
                    off += (size_t)got;
                    ew_rct_conn_event ev;
                    while (ew_rct_conn_poll_event(cl, &ev) > 0) {
                        if (ev.type == EW_RCT_EV_RESPONSE && ev.req_id == req_id) {
                            if (cc_list_add(&cv->rct_events, NULL, 0, ev.id) != 0)
                                goto out;
                            done = 1;
                        } else if (ev.type == EW_RCT_EV_REQUEST_FAILED) {
                            cc_fail(cv, "read of 0x%08X failed: %s", (unsigned)ev.id,
                                    ew_strerror(ev.err));
                            goto out;
                        }
                    }
                }
                moved = 1;
            }
            now += 3;
            if (!moved && !done) {
                /* A retry may wait for the session's timer. */
                uint64_t dl = ew_rct_conn_next_deadline(cl);
                if (dl == UINT64_MAX) {
                    cc_fail(cv, "the RCT conversation stalls at request %zu", i);
                    goto out;
                }
                if (dl > now)
                    now = dl;
                ew_rct_conn_on_timeout(cl, now);
            }
        }
        if (!done) {
            cc_fail(cv, "request %zu never answered", i);
            goto out;
        }
    }
    if (cc_rct_frames(cv, EW_CAP_TO_DEVICE, &cv->seen[EW_CAP_TO_DEVICE]) != 0 ||
        cc_rct_frames(cv, EW_CAP_FROM_DEVICE, &cv->seen[EW_CAP_FROM_DEVICE]) != 0)
        goto out;
    rc = 0;
out:
    ew_rct_conn_del(cl);
    if (peer)
        ew_rct_sim_peer_del(peer);
    ew_rct_sim_del(sim);
    return rc;
}

/* ---- EP over TLS 1.3: two sessions, two TLS endpoints ---------------------- */

typedef struct cc_ep_side {
    ew_tls *t;
    ew_ep_conn *ep;
    int dir;        /* direction of the bytes this side sends */
    uint8_t *plain; /* the plaintext this side wrote into TLS */
    size_t plain_len, plain_cap;
    int handshake;
} cc_ep_side;

static void cc_keylog_line(void *user, const char *line) {
    cc_conv *cv = user;
    size_t n = strlen(line);
    if (cv->keylog_len + n + 2 > cv->keylog_cap) {
        size_t cap = (cv->keylog_cap + n + 2) * 2;
        char *k = realloc(cv->keylog, cap);
        if (!k)
            return;
        cv->keylog = k;
        cv->keylog_cap = cap;
    }
    memcpy(cv->keylog + cv->keylog_len, line, n);
    cv->keylog_len += n;
    cv->keylog[cv->keylog_len++] = '\n';
    cv->keylog[cv->keylog_len] = '\0';
}

/* Session bytes into TLS (once it is open), TLS records to the peer. */
static int cc_ep_send(cc_conv *cv, cc_ep_side *s, cc_ep_side *peer, int *moved) {
    const uint8_t *out;
    size_t n;
    if (ew_tls_get_state(s->t) == EW_TLS_OPEN) {
        while ((n = ew_ep_conn_send_data(s->ep, &out)) > 0) {
            if (s->plain_len + n > s->plain_cap) {
                size_t cap = (s->plain_cap + n) * 2;
                uint8_t *p = realloc(s->plain, cap);
                if (!p)
                    return cc_fail(cv, "out of memory");
                s->plain = p;
                s->plain_cap = cap;
            }
            memcpy(s->plain + s->plain_len, out, n);
            s->plain_len += n;
            if (ew_tls_write_plain(s->t, out, n) != (int)n)
                return cc_fail(cv, "ew_tls_write_plain: %s", ew_tls_error_detail(s->t));
            ew_ep_conn_send_done(s->ep, n);
        }
    }
    int k;
    while ((k = ew_tls_take_cipher(s->t, &out)) > 0) {
        if (cc_chunk_add(cv, s->dir, out, (size_t)k) != 0)
            return -1;
        ew_tls_cipher_done(s->t, (size_t)k);
        const cc_chunk *c = &cv->c[cv->n - 1];
        int fed = ew_tls_feed_cipher(peer->t, c->p, c->n);
        if (fed < 0)
            return cc_fail(cv, "TLS: %s (%s)", ew_tls_strerror(fed), ew_tls_error_detail(peer->t));
        *moved = 1;
    }
    return 0;
}

/* Decrypted bytes into the session; counts its events. */
static int cc_ep_recv(cc_conv *cv, cc_ep_side *s, uint64_t now) {
    uint8_t buf[16384];
    int n;
    while ((n = ew_tls_read_plain(s->t, buf, sizeof buf)) > 0) {
        size_t off = 0;
        while (off < (size_t)n) {
            int got = ew_ep_conn_recv(s->ep, buf + off, (size_t)n - off, now);
            if (got < 0)
                return cc_fail(cv, "ew_ep_conn_recv: %s", ew_strerror(got));
            off += (size_t)got;
            ew_ep_conn_event ev;
            while (ew_ep_conn_poll_event(s->ep, &ev) > 0) {
                if (ev.type == EW_EP_EV_HANDSHAKE)
                    s->handshake = 1;
                if (ev.type == EW_EP_EV_HANDSHAKE || ev.type == EW_EP_EV_MESSAGE)
                    cv->ep_events[s->dir ^ 1]++;
                if (ev.type == EW_EP_EV_REJECTED || ev.type == EW_EP_EV_IDENTITY_MISMATCH)
                    return cc_fail(cv, "EP event %d", (int)ev.type);
            }
            if (got == 0)
                break;
        }
    }
    if (n != EW_ERR_NEED_MORE && n != EW_ERR_CLOSED)
        return cc_fail(cv, "ew_tls_read_plain: %s", ew_tls_error_detail(s->t));
    return 0;
}

static int cc_ep_pump(cc_conv *cv, cc_ep_side *a, cc_ep_side *b, uint64_t now) {
    for (int round = 0; round < 200; round++) {
        int moved = 0;
        if (cc_ep_send(cv, a, b, &moved) != 0 || cc_ep_recv(cv, b, now) != 0 ||
            cc_ep_send(cv, b, a, &moved) != 0 || cc_ep_recv(cv, a, now) != 0)
            return -1;
        if (!moved)
            return 0;
    }
    return cc_fail(cv, "the EP conversation does not settle");
}

/* Splits a side's plaintext into frames (the reference for the capture). */
static int cc_ep_frames(cc_conv *cv, const cc_ep_side *s) {
    size_t off = 0;
    while (off < s->plain_len) {
        ew_ep_frame f;
        int n = ew_ep_frame_decode(s->plain + off, s->plain_len - off, 0, &f, NULL);
        if (n <= 0)
            return cc_fail(cv, "the session wrote a bad frame (%d)", n);
        if (cc_list_add(&cv->seen[s->dir], s->plain + off, (size_t)n, 0) != 0)
            return cc_fail(cv, "out of memory");
        off += (size_t)n;
    }
    return 0;
}

/*
 * An EP session over TLS 1.3: both SessionParameters, then the client sends
 * a Demand and the device a Supply (|rounds| times each), then the client
 * disconnects softly.
 */
static int cc_ep_run(cc_conv *cv, int rounds) {
    cv->proto = EW_CAP_PROTO_EP;
    char *ca_cert = NULL, *ca_key = NULL, *dev_cert = NULL, *dev_key = NULL, *cl_cert = NULL,
         *cl_key = NULL;
    ew_tls_ctx *cctx = NULL, *sctx = NULL;
    cc_ep_side cl = {.dir = EW_CAP_TO_DEVICE}, dv = {.dir = EW_CAP_FROM_DEVICE};
    int rc = -1;
    uint64_t now = 1000;
    ew_tls_cert_opts cao = {.cn = "energywire capture test CA", .days = 30};
    ew_tls_cert_opts dco = {.cn = "battery-7", .o = "home", .days = 30};
    ew_tls_cert_opts cco = {.cn = "charger-3", .o = "home", .days = 30};
    if (ew_tls_make_ca(&cao, &ca_cert, &ca_key) != EW_OK ||
        ew_tls_make_cert(ca_cert, ca_key, &dco, &dev_cert, &dev_key) != EW_OK ||
        ew_tls_make_cert(ca_cert, ca_key, &cco, &cl_cert, &cl_key) != EW_OK) {
        cc_fail(cv, "cannot make certificates");
        goto out;
    }
    ew_tls_opts to;
    char detail[160];
    ew_tls_opts_init(&to);
    to.role = EW_TLS_CLIENT;
    to.cert_pem = cl_cert;
    to.key_pem = cl_key;
    to.ca_pem = ca_cert;
    to.keylog = cc_keylog_line;
    to.keylog_user = cv;
    if (ew_tls_ctx_new(&cctx, &to, detail, sizeof detail) != EW_OK) {
        cc_fail(cv, "client TLS context: %s", detail);
        goto out;
    }
    ew_tls_opts_init(&to);
    to.role = EW_TLS_SERVER;
    to.cert_pem = dev_cert;
    to.key_pem = dev_key;
    to.ca_pem = ca_cert;
    if (ew_tls_ctx_new(&sctx, &to, detail, sizeof detail) != EW_OK) {
        cc_fail(cv, "device TLS context: %s", detail);
        goto out;
    }
    if (ew_tls_new(&cl.t, cctx) != EW_OK || ew_tls_new(&dv.t, sctx) != EW_OK) {
        cc_fail(cv, "cannot create the TLS endpoints");
        goto out;
    }
    ew_ep_conn_opts eo;
    ew_ep_conn_opts_init(&eo);
    eo.now_ms = now;
    eo.role = EW_EP_ROLE_INITIATOR;
    eo.identity = "charger-3";
    eo.tenant = "home";
    eo.device_type = "charger";
    if (ew_ep_conn_new(&cl.ep, &eo, NULL) != EW_OK) {
        cc_fail(cv, "cannot create the EP initiator");
        goto out;
    }
    ew_ep_conn_opts_init(&eo);
    eo.now_ms = now;
    eo.role = EW_EP_ROLE_ACCEPTOR;
    eo.identity = "battery-7";
    eo.tenant = "home";
    eo.device_type = "battery";
    if (ew_ep_conn_new(&dv.ep, &eo, NULL) != EW_OK) {
        cc_fail(cv, "cannot create the EP acceptor");
        goto out;
    }
    if (cc_ep_pump(cv, &cl, &dv, now) != 0)
        goto out;
    if (!cl.handshake || !dv.handshake) {
        cc_fail(cv, "the EP handshake did not complete");
        goto out;
    }
    for (int i = 0; i < rounds; i++) {
        now += 100;
        ew_ep_msg m;
        memset(&m, 0, sizeof m);
        m.type = EW_EP_MSG_DEMAND;
        m.present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(4);
        m.u.demand.voltage = ew_ep_num(400.0 + i);
        m.u.demand.current = ew_ep_num(-12.5);
        m.u.demand.power_limit = ew_ep_num_int(11000);
        if (ew_ep_conn_send_msg(cl.ep, &m) != EW_OK) {
            cc_fail(cv, "cannot send Demand");
            goto out;
        }
        memset(&m, 0, sizeof m);
        m.type = EW_EP_MSG_STORAGE;
        m.present = EW_EP_HAS(0) | EW_EP_HAS(3);
        m.u.storage.soc = ew_ep_num(55.5 + i);
        m.u.storage.capacity = ew_ep_num_int(10000);
        if (ew_ep_conn_send_msg(dv.ep, &m) != EW_OK) {
            cc_fail(cv, "cannot send Storage");
            goto out;
        }
        if (cc_ep_pump(cv, &cl, &dv, now) != 0)
            goto out;
    }
    if (ew_ep_conn_soft_disconnect(cl.ep, 0, "capture test done") != EW_OK ||
        cc_ep_pump(cv, &cl, &dv, now + 10) != 0)
        goto out;
    if (cc_ep_frames(cv, &cl) != 0 || cc_ep_frames(cv, &dv) != 0)
        goto out;
    rc = 0;
out:
    ew_ep_conn_del(cl.ep);
    ew_ep_conn_del(dv.ep);
    ew_tls_del(cl.t);
    ew_tls_del(dv.t);
    ew_tls_ctx_del(cctx);
    ew_tls_ctx_del(sctx);
    free(cl.plain);
    free(dv.plain);
    char *pems[] = {ca_cert, ca_key, dev_cert, dev_key, cl_cert, cl_key};
    for (size_t i = 0; i < 6; i++)
        if (pems[i])
            ew_tls_free(pems[i]);
    return rc;
}

#endif
