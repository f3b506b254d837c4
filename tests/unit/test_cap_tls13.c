/*
 * Passive TLS 1.3 decryption (src/capture/tls13.c).
 *
 * Real TLS 1.3 conversations are made in memory: two ew_tls endpoints
 * (EP's mutual TLS), or an ew_tls and a raw OpenSSL peer where a setting
 * is needed that ew_tls does not offer (one cipher suite, a
 * HelloRetryRequest, a KeyUpdate, SNI and ALPN).  Both cipher streams and
 * the NSS key log lines are recorded, then ew_tls13_* decrypts them
 * passively; the plaintext must equal what the endpoints exchanged, fed in
 * the original order whole, byte by byte and in random chunks, and one
 * stream before the other.  The key schedule is also checked against the
 * RFC 8448 §3 trace.  No sockets.
 */
#include "testutil.h"

#include "capture/tls13.h"

#include <energywire/tls.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pem_pair {
    char *cert, *key;
} pem_pair;

static pem_pair ca, srv, cli;

static int setup(void **state) {
    (void)state;
    ew_tls_cert_opts a = {.cn = "energywire tls13 test CA", .days = 30};
    ew_tls_cert_opts s = {.cn = "charger-17", .o = "tenant", .ou = "provider", .days = 30};
    ew_tls_cert_opts c = {.cn = "vehicle-3", .days = 30};
    if (ew_tls_make_ca(&a, &ca.cert, &ca.key) != EW_OK ||
        ew_tls_make_cert(ca.cert, ca.key, &s, &srv.cert, &srv.key) != EW_OK ||
        ew_tls_make_cert(ca.cert, ca.key, &c, &cli.cert, &cli.key) != EW_OK)
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    pem_pair *all[] = {&ca, &srv, &cli};
    for (size_t i = 0; i < 3; i++) {
        ew_tls_free(all[i]->cert);
        ew_tls_free(all[i]->key);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Growable byte buffer                                                      */
/* ------------------------------------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->n + n)
            c *= 2;
        b->p = realloc(b->p, c);
        assert_non_null(b->p);
        b->cap = c;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void buf_free(buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------ */
/* A recorded conversation                                                   */
/* ------------------------------------------------------------------------ */

typedef struct chunk {
    int dir;
    size_t off, len;
} chunk;

typedef struct conv {
    buf stream[2]; /* cipher bytes: [0] client -> server, [1] server -> client */
    chunk *chunks; /* the order they crossed the wire */
    size_t n_chunks;
    buf sent[2]; /* application data written by the client [0] / server [1] */
    buf got[2];  /* application data read by the server [0] / client [1] */
    buf keylog;  /* NSS key log text */
} conv;

static void conv_free(conv *c) {
    for (int i = 0; i < 2; i++) {
        buf_free(&c->stream[i]);
        buf_free(&c->sent[i]);
        buf_free(&c->got[i]);
    }
    buf_free(&c->keylog);
    free(c->chunks);
    memset(c, 0, sizeof *c);
}

static void on_keylog(void *user, const char *line) {
    buf *b = user;
    buf_add(b, line, strlen(line));
    buf_add(b, "\n", 1);
}

static void raw_keylog(const SSL *ssl, const char *line) {
    buf *b = SSL_get_app_data(ssl);
    on_keylog(b, line);
}

/* One endpoint: an ew_tls or a raw OpenSSL SSL on memory BIOs. */
typedef struct endpoint {
    ew_tls *t;
    SSL *raw;
    BIO *rin, *rout;
    buf *got;
} endpoint;

static size_t ep_take(endpoint *e, uint8_t *out, size_t cap) {
    if (e->t) {
        const uint8_t *p;
        size_t got = 0;
        int n;
        while ((n = ew_tls_take_cipher(e->t, &p)) > 0 && got + (size_t)n <= cap) {
            memcpy(out + got, p, (size_t)n);
            ew_tls_cipher_done(e->t, (size_t)n);
            got += (size_t)n;
        }
        return got;
    }
    int n = BIO_read(e->rout, out, (int)cap);
    return n > 0 ? (size_t)n : 0;
}

static void ep_give(endpoint *e, const uint8_t *p, size_t n) {
    uint8_t tmp[4096];
    if (e->t) {
        assert_true(ew_tls_feed_cipher(e->t, p, n) >= 0);
        int k;
        while ((k = ew_tls_read_plain(e->t, tmp, sizeof tmp)) > 0)
            buf_add(e->got, tmp, (size_t)k);
        return;
    }
    assert_int_equal(BIO_write(e->rin, p, (int)n), (int)n);
    if (!SSL_is_init_finished(e->raw))
        (void)SSL_do_handshake(e->raw);
    if (SSL_is_init_finished(e->raw)) {
        int k;
        while ((k = SSL_read(e->raw, tmp, sizeof tmp)) > 0)
            buf_add(e->got, tmp, (size_t)k);
    }
    ERR_clear_error();
}

static int ep_open(endpoint *e) {
    return e->t ? ew_tls_get_state(e->t) == EW_TLS_OPEN : SSL_is_init_finished(e->raw);
}

static void ep_write(endpoint *e, const uint8_t *p, size_t n) {
    if (e->t)
        assert_int_equal(ew_tls_write_plain(e->t, p, n), (int)n);
    else
        assert_int_equal(SSL_write(e->raw, p, (int)n), (int)n);
}

/* Moves cipher bytes both ways until nothing moves, recording them. */
static void pump(conv *cv, endpoint *ep) {
    static uint8_t tmp[1 << 18];
    for (int round = 0; round < 100; round++) {
        size_t moved = 0;
        for (int d = 0; d < 2; d++) {
            size_t n = ep_take(&ep[d], tmp, sizeof tmp);
            if (!n)
                continue;
            cv->chunks = realloc(cv->chunks, (cv->n_chunks + 1) * sizeof *cv->chunks);
            assert_non_null(cv->chunks);
            cv->chunks[cv->n_chunks++] = (chunk){d, cv->stream[d].n, n};
            buf_add(&cv->stream[d], tmp, n);
            ep_give(&ep[1 - d], tmp, n);
            moved += n;
        }
        if (!moved)
            return;
    }
    fail_msg("pump did not settle");
}

/* How to set up the conversation. */
typedef struct conv_opts {
    int raw_server;     /* server is raw OpenSSL (else ew_tls) */
    int raw_client;     /* client is raw OpenSSL, with SNI and ALPN */
    const char *suite;  /* raw server: the only TLS 1.3 suite */
    const char *groups; /* raw server: key exchange groups (HRR) */
    int key_update;     /* raw server sends KeyUpdate (update_requested) */
    int request_client; /* raw server asks for a client certificate */
    size_t big;         /* size of the large message each way */
    int no_close;       /* leave out close_notify */
} conv_opts;

static SSL_CTX *raw_ctx(int server, const pem_pair *own, const conv_opts *o) {
    SSL_CTX *sc = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(sc);
    assert_int_equal(SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION), 1);
    BIO *b = BIO_new_mem_buf(own->cert, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(own->key, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    assert_non_null(k);
    assert_int_equal(SSL_CTX_use_certificate(sc, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(sc, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
    if (o->suite)
        assert_int_equal(SSL_CTX_set_ciphersuites(sc, o->suite), 1);
    if (o->groups)
        assert_int_equal(SSL_CTX_set1_groups_list(sc, o->groups), 1);
    /* The raw peer does not check the other's certificate: this test is
     * about the records, not about trust. */
    if (server && o->request_client)
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    if (server)
        SSL_CTX_set_session_id_context(sc, (const unsigned char *)"t", 1);
    /* Only the client's key log is kept (both sides log the same). */
    if (!server)
        SSL_CTX_set_keylog_callback(sc, raw_keylog);
    return sc;
}

static int accept_any(int ok, X509_STORE_CTX *x) {
    (void)ok;
    (void)x;
    return 1;
}

static void raw_init(endpoint *e, SSL_CTX *sc, int server, buf *kl) {
    e->raw = SSL_new(sc);
    assert_non_null(e->raw);
    e->rin = BIO_new(BIO_s_mem());
    e->rout = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(e->rin, -1);
    SSL_set_bio(e->raw, e->rin, e->rout);
    SSL_set_app_data(e->raw, kl);
    if (server) {
        SSL_set_verify(e->raw, SSL_get_verify_mode(e->raw), accept_any);
        SSL_set_accept_state(e->raw);
    } else {
        SSL_set_connect_state(e->raw);
        SSL_set_tlsext_host_name(e->raw, "charger-17.local");
        static const unsigned char alpn[] = {4, 'e', 'p', '/', '1'};
        assert_int_equal(SSL_set_alpn_protos(e->raw, alpn, sizeof alpn), 0);
    }
    /* Pads every record to a multiple of 256 bytes (RFC 8446 §5.4), so
     * the decoder must strip the zeros to find the content type. */
    assert_int_equal(SSL_set_block_padding(e->raw, 256), 1);
    (void)SSL_do_handshake(e->raw);
    ERR_clear_error();
}

static ew_tls_ctx *tls_ctx(ew_tls_role role, const pem_pair *own, buf *kl) {
    ew_tls_opts o;
    ew_tls_ctx *c = NULL;
    char detail[160];
    ew_tls_opts_init(&o);
    o.role = role;
    o.cert_pem = own->cert;
    o.key_pem = own->key;
    o.ca_pem = ca.cert;
    if (kl) {
        o.keylog = on_keylog;
        o.keylog_user = kl;
    }
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_OK);
    return c;
}

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

static void say(conv *cv, endpoint *ep, int d, const void *p, size_t n) {
    ep_write(&ep[d], p, n);
    buf_add(&cv->sent[d], p, n);
    pump(cv, ep);
}

/* Runs one conversation: handshake, messages both ways (several records,
 * one larger than a record), optional KeyUpdate, close_notify. */
static void make_conv(conv *cv, const conv_opts *o) {
    memset(cv, 0, sizeof *cv);
    endpoint ep[2];
    memset(ep, 0, sizeof ep);
    ew_tls_ctx *tc[2] = {NULL, NULL};
    SSL_CTX *rc[2] = {NULL, NULL};
    ep[0].got = &cv->got[1];
    ep[1].got = &cv->got[0];
    for (int d = 0; d < 2; d++) {
        int raw = d == 0 ? o->raw_client : o->raw_server;
        if (raw) {
            rc[d] = raw_ctx(d == 1, d == 0 ? &cli : &srv, o);
            raw_init(&ep[d], rc[d], d == 1, &cv->keylog);
        } else {
            tc[d] = tls_ctx(d == 0 ? EW_TLS_CLIENT : EW_TLS_SERVER, d == 0 ? &cli : &srv,
                            d == 0 ? &cv->keylog : NULL);
            assert_int_equal(ew_tls_new(&ep[d].t, tc[d]), EW_OK);
        }
    }
    pump(cv, ep);
    assert_true(ep_open(&ep[0]));
    assert_true(ep_open(&ep[1]));

    say(cv, ep, 0, "hello server", 12);
    say(cv, ep, 1, "hello client", 12);
    for (int i = 0; i < 5; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "message %d", i);
        say(cv, ep, i & 1, m, (size_t)n);
    }
    size_t big = o->big ? o->big : 40000;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    fill(p, big, 7);
    say(cv, ep, 0, p, big);
    fill(p, big, 8);
    say(cv, ep, 1, p, big);
    if (o->key_update) {
        assert_non_null(ep[1].raw);
        assert_int_equal(SSL_key_update(ep[1].raw, SSL_KEY_UPDATE_REQUESTED), 1);
        say(cv, ep, 1, "after key update", 16);
        /* The client answers with its own KeyUpdate before its next data. */
        say(cv, ep, 0, "client after key update", 23);
        say(cv, ep, 1, "server again", 12);
    }
    fill(p, 3000, 9);
    say(cv, ep, 0, p, 3000);
    free(p);
    if (!o->no_close) {
        if (ep[0].t)
            assert_int_equal(ew_tls_close(ep[0].t), EW_OK);
        else
            (void)SSL_shutdown(ep[0].raw);
        pump(cv, ep);
    }
    /* The harness itself: what was sent arrived. */
    for (int d = 0; d < 2; d++) {
        assert_int_equal(cv->got[d].n, cv->sent[d].n);
        assert_memory_equal(cv->got[d].p, cv->sent[d].p, cv->sent[d].n);
    }
    for (int d = 0; d < 2; d++) {
        ew_tls_del(ep[d].t);
        SSL_free(ep[d].raw);
        ew_tls_ctx_del(tc[d]);
        SSL_CTX_free(rc[d]);
    }
    assert_true(cv->keylog.n > 0);
}

/* ------------------------------------------------------------------------ */
/* Passive side                                                              */
/* ------------------------------------------------------------------------ */

typedef struct result {
    buf data[2];
    tu_log notes;
    int n_summary, n_stop, n_alert;
    char summary[1024]; /* last SUMMARY */
} result;

static void on_data(void *user, int dir, const uint8_t *p, size_t len) {
    result *r = user;
    assert_true(dir == 0 || dir == 1);
    assert_true(len > 0);
    buf_add(&r->data[dir], p, len);
}

static void on_note(void *user, int dir, ew_tls13_note kind, int err, const char *text) {
    result *r = user;
    static const char *const kinds[] = {"?", "SUMMARY", "STOP", "ALERT"};
    tu_logf(&r->notes, "%d %s %d %s\n", dir, kinds[kind], err, text);
    if (kind == EW_TLS13_NOTE_SUMMARY) {
        r->n_summary++;
        snprintf(r->summary, sizeof r->summary, "%s", text);
    } else if (kind == EW_TLS13_NOTE_STOP) {
        r->n_stop++;
    } else {
        r->n_alert++;
    }
}

static void result_free(result *r) {
    buf_free(&r->data[0]);
    buf_free(&r->data[1]);
    free(tu_log_take(&r->notes));
}

enum { FEED_WHOLE, FEED_BYTES, FEED_RANDOM, FEED_CLIENT_FIRST, FEED_SERVER_FIRST };

static void feed(ew_tls13_flow *f, int dir, const uint8_t *p, size_t n) {
    assert_int_equal(ew_tls13_flow_feed(f, dir, p, n), EW_OK);
}

/* Decrypts |cv| with key log text |kl_text| (NULL: no key log). */
static void decrypt(const conv *cv, const char *kl_text, size_t kl_len, int mode, uint64_t seed,
                    result *r) {
    ew_tls13_keylog *kl = NULL;
    ew_tls13_flow *f = NULL;
    ew_tls13_cb cb = {on_data, on_note, r};
    memset(r, 0, sizeof *r);
    if (kl_text)
        assert_int_equal(ew_tls13_keylog_parse(&kl, kl_text, kl_len, NULL, 0), EW_OK);
    assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
    if (mode == FEED_CLIENT_FIRST || mode == FEED_SERVER_FIRST) {
        int first = mode == FEED_CLIENT_FIRST ? 0 : 1;
        feed(f, first, cv->stream[first].p, cv->stream[first].n);
        feed(f, 1 - first, cv->stream[1 - first].p, cv->stream[1 - first].n);
    } else {
        for (size_t i = 0; i < cv->n_chunks; i++) {
            const chunk *c = &cv->chunks[i];
            const uint8_t *p = cv->stream[c->dir].p + c->off;
            size_t n = c->len;
            if (mode == FEED_WHOLE) {
                feed(f, c->dir, p, n);
            } else if (mode == FEED_BYTES) {
                for (size_t k = 0; k < n; k++)
                    feed(f, c->dir, p + k, 1);
            } else {
                while (n) {
                    size_t k = 1 + (size_t)(tu_rand(&seed) % 3000);
                    if (k > n)
                        k = n;
                    feed(f, c->dir, p, k);
                    p += k;
                    n -= k;
                }
            }
        }
    }
    char sum[1024];
    ew_tls13_flow_summary(f, sum, sizeof sum);
    /* Without a stop, the last SUMMARY note is the final summary (a stop
     * after it only changes the tail, e.g. "partly decrypted"). */
    if (r->n_summary && !r->n_stop)
        assert_string_equal(sum, r->summary);
    ew_tls13_flow_del(f);
    ew_tls13_keylog_del(kl);
}

static void expect_plain(const conv *cv, const result *r) {
    for (int d = 0; d < 2; d++) {
        assert_int_equal(r->data[d].n, cv->sent[d].n);
        assert_memory_equal(r->data[d].p, cv->sent[d].p, cv->sent[d].n);
    }
}

static void expect_in(const char *hay, const char *needle) {
    if (!strstr(hay, needle))
        fail_msg("\"%s\" not in \"%s\"", needle, hay);
}

/* All feeding modes give the same plaintext; the modes that keep the wire
 * order give the same notes too.  Returns the whole-feed notes (free). */
static char *check_all_modes(const conv *cv) {
    result whole, r;
    decrypt(cv, (const char *)cv->keylog.p, cv->keylog.n, FEED_WHOLE, 0, &whole);
    expect_plain(cv, &whole);
    char *want = tu_log_take(&whole.notes);
    for (int mode = FEED_BYTES; mode <= FEED_SERVER_FIRST; mode++) {
        int runs = mode == FEED_RANDOM ? 3 : 1;
        for (int run = 0; run < runs; run++) {
            decrypt(cv, (const char *)cv->keylog.p, cv->keylog.n, mode, 0x1234u + (uint64_t)run,
                    &r);
            expect_plain(cv, &r);
            assert_string_equal(r.summary, whole.summary);
            char *got = tu_log_take(&r.notes);
            if (mode <= FEED_RANDOM)
                assert_string_equal(got, want);
            free(got);
            result_free(&r);
        }
    }
    result_free(&whole);
    return want;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

#define CR1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CR2 "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"
#define S32 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define S48 S32 "0102030405060708090a0b0c0d0e0f10"

static void test_keylog_parse(void **state) {
    (void)state;
    const char *text = "# SSL/TLS secrets log file\n"
                       "\n"
                       "CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR1 " " S32 "\n"
                       "SERVER_HANDSHAKE_TRAFFIC_SECRET " CR1 " " S32 "\r\n"
                       "EXPORTER_SECRET " CR1 " " S32 "\n"
                       "CLIENT_RANDOM " CR1 " " S48 "\n"
                       "CLIENT_TRAFFIC_SECRET_0 " CR2 " " S48 "\n"
                       "SERVER_TRAFFIC_SECRET_0 " CR2 " zz" S32 "\n" /* bad hex */
                       "SERVER_TRAFFIC_SECRET_0 " CR2 " " S32 "a\n"  /* odd length */
                       "CLIENT_TRAFFIC_SECRET_0 " CR1 "00 " S32 "\n" /* long random */
                       "  SERVER_TRAFFIC_SECRET_0\t" CR1 " " S32;    /* no newline */
    ew_tls13_keylog *kl = NULL;
    char detail[160];
    assert_int_equal(ew_tls13_keylog_parse(&kl, text, strlen(text), detail, sizeof detail), EW_OK);
    assert_int_equal(ew_tls13_keylog_count(kl), 2);
    assert_int_equal(ew_tls13_keylog_bad_lines(kl), 3);
    ew_tls13_keylog_del(kl);

    const char *none = "# nothing\nCLIENT_RANDOM " CR1 " " S48 "\nEXPORTER_SECRET x y\n"
                       "CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR1 " 12\n";
    kl = (ew_tls13_keylog *)&kl; /* must be reset */
    assert_int_equal(ew_tls13_keylog_parse(&kl, none, strlen(none), detail, sizeof detail),
                     EW_ERR_SYNTAX);
    assert_null(kl);
    expect_in(detail, "1 bad");
    assert_int_equal(ew_tls13_keylog_parse(&kl, "", 0, detail, sizeof detail), EW_ERR_SYNTAX);
    assert_null(kl);
    assert_int_equal(ew_tls13_keylog_count(NULL), 0);
    ew_tls13_keylog_del(NULL);
}

/* RFC 8448 §3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256): the
 * handshake traffic secrets and the write key and IV derived from them. */
static void test_rfc8448_keys(void **state) {
    (void)state;
    static const struct {
        const char *secret, *key, *iv;
    } v[] = {
        {"b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
         "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"},
        {"b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
         "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"},
    };
    for (size_t i = 0; i < 2; i++) {
        size_t sl, kl, il, key_len = 0;
        uint8_t *s = tu_unhex(v[i].secret, &sl);
        uint8_t *k = tu_unhex(v[i].key, &kl);
        uint8_t *iv = tu_unhex(v[i].iv, &il);
        uint8_t key[32], ivo[12];
        assert_int_equal(
            ew_tls13_traffic_keys(EW_TLS13_AES_128_GCM_SHA256, s, sl, key, &key_len, ivo), EW_OK);
        assert_int_equal(key_len, 16);
        assert_memory_equal(key, k, 16);
        assert_memory_equal(ivo, iv, 12);
        /* The same secret under ChaCha20 gives a 32-byte key whose first
         * 16 bytes differ from nothing in particular; only the length and
         * that IV derivation does not depend on the key length are fixed. */
        assert_int_equal(
            ew_tls13_traffic_keys(EW_TLS13_CHACHA20_POLY1305_SHA256, s, sl, key, &key_len, ivo),
            EW_OK);
        assert_int_equal(key_len, 32);
        assert_memory_equal(ivo, iv, 12);
        /* A SHA-256 secret is the wrong length for the SHA-384 suite. */
        assert_int_equal(
            ew_tls13_traffic_keys(EW_TLS13_AES_256_GCM_SHA384, s, sl, key, &key_len, ivo),
            EW_ERR_INVAL);
        assert_int_equal(ew_tls13_traffic_keys(0x1304, s, sl, key, &key_len, ivo), EW_ERR_INVAL);
        free(s);
        free(k);
        free(iv);
    }
    assert_string_equal(ew_tls13_suite_name(0x1302), "TLS_AES_256_GCM_SHA384");
    assert_null(ew_tls13_suite_name(0x1305));
}

/* EP's own endpoints on both sides: mutual TLS, the default suite. */
static void test_ew_tls_both_sides(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {0};
    make_conv(&cv, &o);
    char *notes = check_all_modes(&cv);
    result r;
    decrypt(&cv, (const char *)cv.keylog.p, cv.keylog.n, FEED_WHOLE, 0, &r);
    expect_in(r.summary, "TLS 1.3 (offered 1.3)");
    expect_in(r.summary, ", SNI -");
    expect_in(r.summary, "server CN=charger-17, O=tenant, OU=provider");
    expect_in(r.summary, "client CN=vehicle-3");
    expect_in(r.summary, "; decrypted");
    assert_true(r.n_summary >= 2);
    assert_int_equal(r.n_stop, 0);
    expect_in(notes, "0 ALERT 0 warning close_notify");
    assert_int_equal(r.n_alert, 1);
    /* OpenSSL 3 picks TLS_AES_256_GCM_SHA384 first by default. */
    expect_in(r.summary, "TLS_AES_256_GCM_SHA384");
    free(notes);
    result_free(&r);
    conv_free(&cv);
}

/* Each of the three suites, with a raw OpenSSL server restricted to it
 * and a raw OpenSSL client sending SNI and ALPN in one of them.  The raw
 * peers pad their records. */
static void test_cipher_suites(void **state) {
    (void)state;
    static const char *const names[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256"};
    for (int i = 0; i < 3; i++) {
        conv cv;
        conv_opts o = {.raw_server = 1, .suite = names[i], .big = 20000 + 7000 * (size_t)i};
        if (i == 2) {
            o.raw_client = 1;
            o.raw_server = 0; /* ew_tls server, raw client restricted to the suite */
        }
        make_conv(&cv, &o);
        char *notes = check_all_modes(&cv);
        result r;
        decrypt(&cv, (const char *)cv.keylog.p, cv.keylog.n, FEED_WHOLE, 0, &r);
        expect_in(r.summary, names[i]);
        expect_in(r.summary, "server CN=charger-17, O=tenant, OU=provider");
        expect_in(r.summary, "; decrypted");
        if (i == 2) {
            expect_in(r.summary, "SNI charger-17.local, ALPN ep/1");
            /* The ew_tls server requested the client's certificate. */
            expect_in(r.summary, "client CN=vehicle-3");
        } else {
            /* The raw server asked for no client certificate. */
            assert_null(strstr(r.summary, "client "));
            assert_null(strstr(r.summary, "mutual"));
        }
        assert_int_equal(r.n_stop, 0);
        free(notes);
        result_free(&r);
        conv_free(&cv);
    }
}

/* A server that only takes P-384 makes the client retry its key share:
 * HelloRetryRequest, then a second ClientHello and the real ServerHello. */
static void test_hello_retry(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {.raw_server = 1, .groups = "P-384", .request_client = 1};
    make_conv(&cv, &o);
    char *notes = check_all_modes(&cv);
    result r;
    decrypt(&cv, (const char *)cv.keylog.p, cv.keylog.n, FEED_WHOLE, 0, &r);
    expect_in(r.summary, "HelloRetryRequest");
    expect_in(r.summary, "client CN=vehicle-3");
    expect_in(r.summary, "; decrypted");
    free(notes);
    result_free(&r);
    conv_free(&cv);
}

/* KeyUpdate both ways (RFC 8446 §4.6.3, §7.2). */
static void test_key_update(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {.raw_server = 1, .key_update = 1};
    make_conv(&cv, &o);
    char *notes = check_all_modes(&cv);
    assert_null(strstr(notes, "STOP"));
    free(notes);
    conv_free(&cv);
}

/* No key log at all: summary from the plaintext hellos, then a STOP. */
static void test_no_keylog(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {0};
    make_conv(&cv, &o);
    for (int mode = FEED_WHOLE; mode <= FEED_SERVER_FIRST; mode++) {
        result r;
        decrypt(&cv, NULL, 0, mode, 5, &r);
        assert_int_equal(r.data[0].n + r.data[1].n, 0);
        assert_int_equal(r.n_summary, 1);
        assert_int_equal(r.n_stop, 1);
        expect_in(r.summary, "TLS 1.3 (offered 1.3), TLS_AES_256_GCM_SHA384, SNI -");
        expect_in(r.summary, "; encrypted");
        char *n = tu_log_take(&r.notes);
        expect_in(n, "-1 STOP -17 records are encrypted; a key log is needed (--keylog FILE "
                     "from SSLKEYLOGFILE)");
        free(n);
        result_free(&r);
    }
    conv_free(&cv);
}

/* A key log for another connection: no entry for this client random. */
static void test_no_entry(void **state) {
    (void)state;
    conv a, b;
    conv_opts o = {0};
    make_conv(&a, &o);
    make_conv(&b, &o);
    result r;
    decrypt(&a, (const char *)b.keylog.p, b.keylog.n, FEED_WHOLE, 0, &r);
    assert_int_equal(r.data[0].n + r.data[1].n, 0);
    assert_int_equal(r.n_stop, 1);
    /* The client random is the 32 bytes after the 4-byte handshake header
     * and legacy_version, in the first record (5-byte header). */
    char hex[17], want[80];
    assert_int_equal(ew_hex_encode(a.stream[0].p + 5 + 4 + 2, 8, hex, sizeof hex), 16);
    snprintf(want, sizeof want, "no key log entry for client random %s...", hex);
    char *n = tu_log_take(&r.notes);
    expect_in(n, want);
    expect_in(r.summary, "; no key log entry");
    free(n);
    result_free(&r);
    conv_free(&a);
    conv_free(&b);
}

/* Flips a bit of the secret of |label| in key log |kl|. */
static void corrupt(buf *kl, const char *label) {
    char *s = (char *)kl->p;
    size_t ll = strlen(label);
    for (size_t i = 0; i + ll < kl->n; i++) {
        if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, label, ll) == 0 && s[i + ll] == ' ') {
            char *sec = s + i + ll + 1 + 64 + 1;
            /* Flips the low bit of the first digit: applying it twice
             * restores the line. */
            static const char from[] = "0123456789abcdef", to[] = "1032547698badcfe";
            const char *at = strchr(from, *sec);
            assert_non_null(at);
            *sec = to[at - from];
            return;
        }
    }
    fail_msg("no %s line", label);
}

static void test_wrong_secret(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {0};
    make_conv(&cv, &o);

    /* Wrong server application secret: the handshake decrypts (both
     * subjects known), the server's data does not; the client's does. */
    corrupt(&cv.keylog, "SERVER_TRAFFIC_SECRET_0");
    result r;
    decrypt(&cv, (const char *)cv.keylog.p, cv.keylog.n, FEED_RANDOM, 3, &r);
    assert_int_equal(r.data[1].n, 0);
    assert_int_equal(r.data[0].n, cv.sent[0].n);
    assert_memory_equal(r.data[0].p, cv.sent[0].p, cv.sent[0].n);
    expect_in(r.summary, "client CN=vehicle-3");
    char *n = tu_log_take(&r.notes);
    expect_in(n, "1 STOP -6 record failed to authenticate: wrong secret in the key log\n");
    assert_int_equal(r.n_stop, 1);
    free(n);
    result_free(&r);
    corrupt(&cv.keylog, "SERVER_TRAFFIC_SECRET_0"); /* back */

    /* Wrong client handshake secret: the client direction stops at once. */
    corrupt(&cv.keylog, "CLIENT_HANDSHAKE_TRAFFIC_SECRET");
    decrypt(&cv, (const char *)cv.keylog.p, cv.keylog.n, FEED_WHOLE, 0, &r);
    assert_int_equal(r.data[0].n, 0);
    assert_int_equal(r.data[1].n, cv.sent[1].n);
    assert_null(strstr(r.summary, "client CN"));
    expect_in(r.summary, "server CN=charger-17, O=tenant, OU=provider, mutual TLS; partly "
                         "decrypted");
    n = tu_log_take(&r.notes);
    expect_in(n, "0 STOP -6 record failed to authenticate");
    /* The summary with the subjects comes once the client side stopped. */
    expect_in(n, "0 STOP -6 record failed to authenticate: wrong secret in the key log\n-1 "
                 "SUMMARY 0 TLS 1.3");
    free(n);
    result_free(&r);
    conv_free(&cv);
}

/* Bytes lost in the server direction: it stops there; the client's data
 * and the server's data before the gap come through. */
static void test_gap(void **state) {
    (void)state;
    conv cv;
    conv_opts o = {.no_close = 1};
    make_conv(&cv, &o);
    ew_tls13_keylog *kl = NULL;
    ew_tls13_flow *f = NULL;
    result r;
    memset(&r, 0, sizeof r);
    ew_tls13_cb cb = {on_data, on_note, &r};
    assert_int_equal(ew_tls13_keylog_parse(&kl, (const char *)cv.keylog.p, cv.keylog.n, NULL, 0),
                     EW_OK);
    assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
    /* Feed in wire order; the server's last chunk (its large message and
     * what follows) loses 100 bytes in the middle. */
    size_t last = 0;
    for (size_t i = 0; i < cv.n_chunks; i++)
        if (cv.chunks[i].dir == 1)
            last = i;
    for (size_t i = 0; i < cv.n_chunks; i++) {
        const chunk *c = &cv.chunks[i];
        const uint8_t *p = cv.stream[c->dir].p + c->off;
        if (i == last) {
            size_t half = c->len / 2;
            feed(f, 1, p, half);
            ew_tls13_flow_gap(f, 1);
            feed(f, 1, p + half + 100, c->len - half - 100);
        } else {
            feed(f, c->dir, p, c->len);
        }
    }
    assert_int_equal(r.data[0].n, cv.sent[0].n);
    assert_memory_equal(r.data[0].p, cv.sent[0].p, cv.sent[0].n);
    assert_true(r.data[1].n < cv.sent[1].n);
    assert_true(r.data[1].n >= 12);
    assert_memory_equal(r.data[1].p, cv.sent[1].p, r.data[1].n);
    char *n = tu_log_take(&r.notes);
    expect_in(n, "1 STOP -20 bytes lost in this direction (gap)\n");
    assert_int_equal(r.n_stop, 1);
    /* A second gap says nothing new. */
    ew_tls13_flow_gap(f, 1);
    assert_int_equal(r.n_stop, 1);
    free(n);
    ew_tls13_flow_del(f);
    ew_tls13_keylog_del(kl);
    result_free(&r);
    conv_free(&cv);
}

/* Appends a handshake record holding one message. */
static void hs_record(buf *b, uint8_t type, const uint8_t *body, size_t n) {
    uint8_t h[9] = {
        22,        3, 1, (uint8_t)((n + 4) >> 8), (uint8_t)(n + 4), type, 0, (uint8_t)(n >> 8),
        (uint8_t)n};
    buf_add(b, h, sizeof h);
    buf_add(b, body, n);
}

/* A ClientHello offering 1.3 and 1.2 with SNI, and a hand-built TLS 1.2
 * ServerHello (no supported_versions): summary says 1.2, nothing is
 * decrypted. */
static void test_tls12_server_hello(void **state) {
    (void)state;
    buf ch = {0}, sh = {0}, rec[2] = {{0}, {0}};
    static const uint8_t ch_head[] = {0x03, 0x03};
    buf_add(&ch, ch_head, 2);
    for (int i = 0; i < 32; i++)
        buf_add(&ch, &(uint8_t){(uint8_t)(0xa0 + i)}, 1);
    static const uint8_t ch_tail[] = {0x00,                               /* session id */
                                      0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f, /* suites */
                                      0x01, 0x00,                         /* compression */
                                      0x00, 0x1d, /* extensions (29 bytes) */
                                      0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, /* server_name */
                                      0x00, 0x09, 'p',  'l',  'a',  'n',  't',  '.',
                                      'l',  'a',  'n',  0x00, 0x2b, 0x00, 0x07, 0x06,
                                      0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03 /* versions + GREASE */};
    buf_add(&ch, ch_tail, sizeof ch_tail);
    hs_record(&rec[0], 1, ch.p, ch.n);

    buf_add(&sh, ch_head, 2);
    for (int i = 0; i < 32; i++)
        buf_add(&sh, &(uint8_t){(uint8_t)i}, 1);
    static const uint8_t sh_tail[] = {0x00, 0xc0, 0x2f, 0x00, 0x00, 0x05,
                                      0xff, 0x01, 0x00, 0x01, 0x00}; /* renegotiation_info */
    buf_add(&sh, sh_tail, sizeof sh_tail);
    hs_record(&rec[1], 2, sh.p, sh.n);
    /* A 1.2 Certificate record follows; it is not looked at. */
    static const uint8_t junk[] = {22, 3, 3, 0, 4, 11, 0, 0, 0};
    buf_add(&rec[1], junk, sizeof junk);

    const char *kl_text = "CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR1 " " S32 "\n";
    ew_tls13_keylog *kl = NULL;
    assert_int_equal(ew_tls13_keylog_parse(&kl, kl_text, strlen(kl_text), NULL, 0), EW_OK);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        result r;
        memset(&r, 0, sizeof r);
        ew_tls13_cb cb = {on_data, on_note, &r};
        ew_tls13_flow *f = NULL;
        assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
        for (int d = 0; d < 2; d++) {
            if (bytewise)
                for (size_t i = 0; i < rec[d].n; i++)
                    feed(f, d, rec[d].p + i, 1);
            else
                feed(f, d, rec[d].p, rec[d].n);
        }
        assert_string_equal(r.summary, "TLS 1.2 (offered 1.3 1.2), cipher suite 0xc02f, SNI "
                                       "plant.lan; not decrypted");
        char *n = tu_log_take(&r.notes);
        expect_in(n, "-1 STOP -12 TLS 1.2 (EP requires TLS 1.3); not decrypted\n");
        assert_int_equal(r.n_stop, 1);
        assert_int_equal(r.n_summary, 1);
        free(n);
        ew_tls13_flow_del(f);
        result_free(&r);
    }
    ew_tls13_keylog_del(kl);
    buf_free(&ch);
    buf_free(&sh);
    buf_free(&rec[0]);
    buf_free(&rec[1]);
}

/* A hand-built TLS 1.3 ClientHello (client random 0x11..., optional
 * early_data) and ServerHello choosing TLS_AES_128_GCM_SHA256. */
static void hello13(buf *rec, int client, int early) {
    buf m = {0};
    static const uint8_t v[] = {0x03, 0x03};
    buf_add(&m, v, 2);
    for (int i = 0; i < 32; i++)
        buf_add(&m, &(uint8_t){(uint8_t)(client ? 0x11 : 0x22)}, 1);
    if (client) {
        static const uint8_t t[] = {0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00,
                                    0x0b, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, /* versions */
                                    0x00, 0x2a, 0x00, 0x00};                        /* early_data */
        buf_add(&m, t, early ? sizeof t : sizeof t - 4);
        if (!early)
            m.p[m.n - 8] = 0x07; /* extensions length without early_data */
        hs_record(rec, 1, m.p, m.n);
    } else {
        static const uint8_t t[] = {0x00, 0x13, 0x01, 0x00, 0x00, 0x06,
                                    0x00, 0x2b, 0x00, 0x02, 0x03, 0x04};
        buf_add(&m, t, sizeof t);
        hs_record(rec, 2, m.p, m.n);
    }
    buf_free(&m);
}

#define CR11 "1111111111111111111111111111111111111111111111111111111111111111"

/* Records that cannot be opened for a reason other than a wrong secret,
 * and the limits of the buffers. */
static void test_hand_built_13(void **state) {
    (void)state;
    const char *kl_text = "CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR11 " " S32 "\n"
                          "SERVER_HANDSHAKE_TRAFFIC_SECRET " CR11 " " S32 "\n";
    ew_tls13_keylog *kl = NULL;
    assert_int_equal(ew_tls13_keylog_parse(&kl, kl_text, strlen(kl_text), NULL, 0), EW_OK);
    uint8_t garbage[5 + 40] = {23, 3, 3, 0, 40};
    memset(garbage + 5, 0x5a, 40);

    for (int early = 0; early < 2; early++) {
        result r;
        memset(&r, 0, sizeof r);
        ew_tls13_cb cb = {on_data, on_note, &r};
        ew_tls13_flow *f = NULL;
        buf ch = {0}, sh = {0};
        hello13(&ch, 1, early);
        hello13(&sh, 0, 0);
        assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
        feed(f, 0, ch.p, ch.n);
        feed(f, 0, garbage, sizeof garbage); /* waits for the ServerHello */
        assert_int_equal(r.n_stop, 0);
        feed(f, 1, sh.p, sh.n);
        char *n = tu_log_take(&r.notes);
        expect_in(n, early ? "0 STOP -6 record failed to authenticate: 0-RTT early data is not "
                             "supported\n"
                           : "0 STOP -6 record failed to authenticate: wrong secret in the key "
                             "log\n");
        expect_in(r.summary, "TLS 1.3 (offered 1.3), TLS_AES_128_GCM_SHA256, SNI -; decrypted");
        free(n);
        ew_tls13_flow_del(f);
        result_free(&r);
        buf_free(&ch);
        buf_free(&sh);
    }

    /* A handshake message larger than the reassembly buffer (70000 bytes
     * over five records) is skipped; the ClientHello after it is read. */
    {
        result r;
        memset(&r, 0, sizeof r);
        ew_tls13_cb cb = {on_data, on_note, &r};
        ew_tls13_flow *f = NULL;
        buf in = {0}, sh = {0};
        size_t ml = 70000, left = ml + 4;
        uint8_t *msg = calloc(1, left);
        assert_non_null(msg);
        msg[0] = 99;
        msg[1] = (uint8_t)(ml >> 16);
        msg[2] = (uint8_t)(ml >> 8);
        msg[3] = (uint8_t)ml;
        for (size_t off = 0; left;) {
            size_t k = left < 16384 ? left : 16384;
            uint8_t h[5] = {22, 3, 1, (uint8_t)(k >> 8), (uint8_t)k};
            buf_add(&in, h, 5);
            buf_add(&in, msg + off, k);
            off += k;
            left -= k;
        }
        free(msg);
        hello13(&in, 1, 0);
        hello13(&sh, 0, 0);
        assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
        for (size_t i = 0; i < in.n; i += 1000)
            feed(f, 0, in.p + i, in.n - i < 1000 ? in.n - i : 1000);
        feed(f, 1, sh.p, sh.n);
        expect_in(r.summary, "TLS 1.3 (offered 1.3), TLS_AES_128_GCM_SHA256");
        assert_int_equal(r.n_stop, 0);
        ew_tls13_flow_del(f);
        result_free(&r);
        buf_free(&in);
        buf_free(&sh);
    }

    /* More than 1 MiB of encrypted client records before any ServerHello:
     * that direction stops instead of holding more. */
    {
        result r;
        memset(&r, 0, sizeof r);
        ew_tls13_cb cb = {on_data, on_note, &r};
        ew_tls13_flow *f = NULL;
        buf ch = {0};
        hello13(&ch, 1, 0);
        uint8_t *rec = calloc(1, 5 + 16384);
        assert_non_null(rec);
        memcpy(rec, (const uint8_t[]){23, 3, 3, 0x40, 0x00}, 5);
        assert_int_equal(ew_tls13_flow_new(&f, kl, &cb), EW_OK);
        feed(f, 0, ch.p, ch.n);
        for (int i = 0; i < 70; i++)
            feed(f, 0, rec, 5 + 16384);
        free(rec);
        char *n = tu_log_take(&r.notes);
        assert_string_equal(n, "0 STOP -15 too many encrypted bytes before the other side's "
                               "hello\n");
        free(n);
        ew_tls13_flow_del(f);
        result_free(&r);
        buf_free(&ch);
    }
    ew_tls13_keylog_del(kl);
}

static void test_not_tls_and_limits(void **state) {
    (void)state;
    static const uint8_t http[] = "GET / HTTP/1.1\r\n";
    static const uint8_t ch[] = {22, 3, 1, 0, 4};
    assert_true(ew_tls13_looks_like_tls(ch, 3));
    assert_false(ew_tls13_looks_like_tls(ch, 2));
    assert_false(ew_tls13_looks_like_tls(http, sizeof http - 1));
    assert_false(ew_tls13_looks_like_tls((const uint8_t[]){23, 3, 3}, 3));

    result r;
    memset(&r, 0, sizeof r);
    ew_tls13_cb cb = {on_data, on_note, &r};
    ew_tls13_flow *f = NULL;
    assert_int_equal(ew_tls13_flow_new(&f, NULL, &cb), EW_OK);
    assert_int_equal(ew_tls13_flow_feed(f, 0, http, 3), EW_OK); /* not a full header yet */
    assert_int_equal(ew_tls13_flow_feed(f, 0, http + 3, sizeof http - 4), EW_ERR_PROTO);
    assert_int_equal(ew_tls13_flow_feed(f, 1, ch, sizeof ch), EW_ERR_PROTO);
    assert_int_equal(ew_tls13_flow_feed(f, 2, ch, sizeof ch), EW_ERR_INVAL);
    char *n = tu_log_take(&r.notes);
    assert_string_equal(n, "0 STOP -4 not TLS\n");
    free(n);
    ew_tls13_flow_del(f);

    /* A record longer than 2^14 + 256 bytes stops its direction only. */
    f = NULL;
    assert_int_equal(ew_tls13_flow_new(&f, NULL, &cb), EW_OK);
    static const uint8_t big[] = {23, 3, 3, 0x41, 0x01};
    static const uint8_t ok[] = {23, 3, 3, 0x41, 0x00};
    assert_int_equal(ew_tls13_flow_feed(f, 1, big, sizeof big), EW_OK);
    assert_int_equal(ew_tls13_flow_feed(f, 0, ok, sizeof ok), EW_OK);
    n = tu_log_take(&r.notes);
    assert_string_equal(n, "1 STOP -15 record larger than 2^14 + 256 bytes\n");
    free(n);
    char sum[64];
    ew_tls13_flow_summary(f, sum, sizeof sum);
    assert_string_equal(sum, "TLS ?, SNI -");
    ew_tls13_flow_summary(f, sum, 4);
    assert_string_equal(sum, "TLS");
    ew_tls13_flow_del(f);
    ew_tls13_flow_del(NULL);
    result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keylog_parse),       cmocka_unit_test(test_rfc8448_keys),
        cmocka_unit_test(test_ew_tls_both_sides),  cmocka_unit_test(test_cipher_suites),
        cmocka_unit_test(test_hello_retry),        cmocka_unit_test(test_key_update),
        cmocka_unit_test(test_no_keylog),          cmocka_unit_test(test_no_entry),
        cmocka_unit_test(test_wrong_secret),       cmocka_unit_test(test_gap),
        cmocka_unit_test(test_tls12_server_hello), cmocka_unit_test(test_hand_built_13),
        cmocka_unit_test(test_not_tls_and_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
