/*
 * The TLS 1.3 endpoint (ew_tls, ep.md §5.2) wired to a peer in memory: two
 * ew_tls endpoints, or an ew_tls and a raw OpenSSL peer for what ew_tls
 * refuses to do (TLS 1.2, no client certificate).  Certificates are made in
 * memory with ew_tls_make_ca()/ew_tls_make_cert().  No sockets.
 */
#include "testutil.h"

#include <energywire/tls.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pem_pair {
    char *cert, *key;
} pem_pair;

static pem_pair ca1, ca2, dev1, dev2, dev3, rogue;

static void make_dev(pem_pair *ca, pem_pair *out, const char *cn, const char *o, const char *ou,
                     const char *uri, const char *dns) {
    ew_tls_cert_opts co = {.cn = cn, .o = o, .ou = ou, .san_uri = uri, .san_dns = dns, .days = 30};
    assert_int_equal(ew_tls_make_cert(ca->cert, ca->key, &co, &out->cert, &out->key), EW_OK);
}

static int setup(void **state) {
    (void)state;
    ew_tls_cert_opts a = {.cn = "energywire test CA 1", .o = "energywire", .days = 30};
    ew_tls_cert_opts b = {.cn = "energywire test CA 2", .days = 30};
    if (ew_tls_make_ca(&a, &ca1.cert, &ca1.key) != EW_OK ||
        ew_tls_make_ca(&b, &ca2.cert, &ca2.key) != EW_OK)
        return -1;
    make_dev(&ca1, &dev1, "charger-17", "tenant-a", "provider-x", "ep:charger-17",
             "charger-17.local");
    make_dev(&ca1, &dev2, "vehicle-3", NULL, NULL, NULL, NULL);
    make_dev(&ca1, &dev3, "router-9", "tenant-b", NULL, NULL, NULL);
    make_dev(&ca2, &rogue, "rogue-1", NULL, NULL, NULL, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    pem_pair *all[] = {&ca1, &ca2, &dev1, &dev2, &dev3, &rogue};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        ew_tls_free(all[i]->cert);
        ew_tls_free(all[i]->key);
    }
    return 0;
}

typedef struct keylog {
    int lines, bad;
    unsigned seen; /* bit per label */
} keylog;

static const char *const labels[] = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
                                     "SERVER_HANDSHAKE_TRAFFIC_SECRET ", "CLIENT_TRAFFIC_SECRET_0 ",
                                     "SERVER_TRAFFIC_SECRET_0 ", "EXPORTER_SECRET "};

static int is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]) || !s[i])
            return 0;
    return 1;
}

static void on_keylog(void *user, const char *line) {
    keylog *k = user;
    k->lines++;
    for (unsigned i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        size_t l = strlen(labels[i]);
        if (strncmp(line, labels[i], l) == 0) {
            const char *r = line + l;
            /* "<label> <client_random: 64 hex> <secret: 64 or 96 hex>" */
            size_t sl = strlen(r);
            if (sl < 64 + 1 + 64 || r[64] != ' ' || !is_hex(r, 64) || !is_hex(r + 65, sl - 65))
                k->bad++;
            k->seen |= 1u << i;
            return;
        }
    }
    k->bad++;
}

static ew_tls_ctx *mk_ctx(ew_tls_role role, const pem_pair *own, const pem_pair *ca,
                          const uint8_t *pins, size_t n_pins, keylog *kl) {
    ew_tls_opts o;
    ew_tls_ctx *c = NULL;
    char detail[128];
    ew_tls_opts_init(&o);
    o.role = role;
    o.cert_pem = own->cert;
    o.key_pem = own->key;
    o.ca_pem = ca ? ca->cert : NULL;
    o.pins = pins;
    o.n_pins = n_pins;
    if (kl) {
        o.keylog = on_keylog;
        o.keylog_user = kl;
    }
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_OK);
    return c;
}

/* One side of the wire: an ew_tls, or a raw OpenSSL SSL on memory BIOs. */
typedef struct peer {
    ew_tls *t;
    SSL *raw;
    BIO *rin, *rout;
    int rc; /* last failure seen */
} peer;

static void raw_init(peer *p, SSL_CTX *sc, int server) {
    memset(p, 0, sizeof *p);
    p->raw = SSL_new(sc);
    p->rin = BIO_new(BIO_s_mem());
    p->rout = BIO_new(BIO_s_mem());
    assert_non_null(p->raw);
    BIO_set_mem_eof_return(p->rin, -1);
    SSL_set_bio(p->raw, p->rin, p->rout);
    if (server)
        SSL_set_accept_state(p->raw);
    else
        SSL_set_connect_state(p->raw);
    (void)SSL_do_handshake(p->raw);
}

static size_t take(peer *p, uint8_t *buf, size_t cap) {
    if (p->t) {
        const uint8_t *out;
        size_t got = 0;
        int n;
        while ((n = ew_tls_take_cipher(p->t, &out)) > 0 && got + (size_t)n <= cap) {
            memcpy(buf + got, out, (size_t)n);
            ew_tls_cipher_done(p->t, (size_t)n);
            got += (size_t)n;
        }
        return got;
    }
    int n = BIO_read(p->rout, buf, (int)cap);
    return n > 0 ? (size_t)n : 0;
}

static void give(peer *p, const uint8_t *buf, size_t n) {
    if (p->t) {
        /* Post-handshake records (alerts, data) surface on read. */
        int rc = ew_tls_feed_cipher(p->t, buf, n);
        if (rc < 0)
            p->rc = rc;
        return;
    }
    BIO_write(p->rin, buf, (int)n);
    (void)SSL_do_handshake(p->raw);
    ERR_clear_error();
}

/* Moves cipher bytes both ways until nothing moves. */
static void pump(peer *a, peer *b) {
    static uint8_t buf[1 << 17];
    for (int round = 0; round < 50; round++) {
        size_t n1 = take(a, buf, sizeof buf);
        if (n1)
            give(b, buf, n1);
        size_t n2 = take(b, buf, sizeof buf);
        if (n2)
            give(a, buf, n2);
        if (!n1 && !n2)
            return;
    }
    fail_msg("pump did not settle");
}

static void peer_free(peer *p) {
    ew_tls_del(p->t);
    SSL_free(p->raw);
}

/* Reads application data from an ew_tls peer; a read error lands in p->rc. */
static int read_some(peer *p, uint8_t *buf, size_t cap) {
    int n = ew_tls_read_plain(p->t, buf, cap);
    if (n < 0 && n != EW_ERR_NEED_MORE)
        p->rc = n;
    return n;
}

static void test_handshake_and_data(void **state) {
    (void)state;
    ew_tls_ctx *cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, NULL);
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    peer c = {0}, s = {0};
    uint8_t buf[64];
    char hex[EW_TLS_FP_HEX_LEN], want[EW_TLS_FP_HEX_LEN], field[64];
    uint8_t raw[EW_TLS_FP_LEN], fp[EW_TLS_FP_LEN];

    assert_int_equal(ew_tls_new(&c.t, cc), EW_OK);
    assert_int_equal(ew_tls_new(&s.t, sc), EW_OK);
    assert_int_equal(ew_tls_get_state(c.t), EW_TLS_HANDSHAKE);
    assert_int_equal(ew_tls_write_plain(c.t, (const uint8_t *)"x", 1), EW_ERR_STATE);
    assert_int_equal(ew_tls_peer_fingerprint(c.t, hex, NULL), EW_ERR_STATE);
    pump(&c, &s);
    assert_int_equal(c.rc, 0);
    assert_int_equal(s.rc, 0);
    assert_int_equal(ew_tls_get_state(c.t), EW_TLS_OPEN);
    assert_int_equal(ew_tls_get_state(s.t), EW_TLS_OPEN);
    assert_int_equal(ew_tls_error(c.t), EW_OK);

    /* Application data both ways. */
    assert_int_equal(ew_tls_write_plain(c.t, (const uint8_t *)"hello", 5), 5);
    pump(&c, &s);
    assert_int_equal(read_some(&s, buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(read_some(&s, buf, sizeof buf), EW_ERR_NEED_MORE);
    assert_int_equal(ew_tls_write_plain(s.t, (const uint8_t *)"world!", 6), 6);
    pump(&c, &s);
    assert_int_equal(read_some(&c, buf, 4), 4);
    assert_int_equal(read_some(&c, buf + 4, 4), 2);
    assert_memory_equal(buf, "world!", 6);

    /* The client sees the server's certificate and vice versa. */
    assert_int_equal(ew_tls_peer_fingerprint(c.t, hex, raw), EW_OK);
    assert_int_equal(ew_tls_cert_fingerprint(dev2.cert, fp), EW_OK);
    assert_memory_equal(raw, fp, sizeof fp);
    assert_int_equal(ew_hex_encode(fp, sizeof fp, want, sizeof want), 64);
    assert_string_equal(hex, want);
    assert_int_equal(ew_tls_peer_fingerprint(s.t, hex, NULL), EW_OK);
    assert_int_equal(ew_tls_cert_fingerprint(dev1.cert, fp), EW_OK);
    assert_int_equal(ew_hex_encode(fp, sizeof fp, want, sizeof want), 64);
    assert_string_equal(hex, want);

    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_CN, field, sizeof field), 10);
    assert_string_equal(field, "charger-17");
    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_O, field, sizeof field), 8);
    assert_string_equal(field, "tenant-a");
    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_OU, field, sizeof field), 10);
    assert_string_equal(field, "provider-x");
    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_SAN_URI, field, sizeof field), 13);
    assert_string_equal(field, "ep:charger-17");
    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_SAN_DNS, field, sizeof field), 16);
    assert_string_equal(field, "charger-17.local");
    assert_int_equal(ew_tls_peer_field(s.t, EW_TLS_FIELD_CN, field, 5), EW_ERR_NOBUF);
    assert_int_equal(ew_tls_peer_field(c.t, EW_TLS_FIELD_CN, field, sizeof field), 9);
    assert_string_equal(field, "vehicle-3");
    assert_int_equal(ew_tls_peer_field(c.t, EW_TLS_FIELD_O, field, sizeof field), EW_ERR_NOT_FOUND);
    assert_int_equal(ew_tls_peer_field(c.t, EW_TLS_FIELD_SAN_URI, field, sizeof field),
                     EW_ERR_NOT_FOUND);

    /* close_notify reaches the server as EW_ERR_CLOSED. */
    assert_int_equal(ew_tls_close(c.t), EW_OK);
    pump(&c, &s);
    assert_int_equal(read_some(&s, buf, sizeof buf), EW_ERR_CLOSED);
    assert_int_equal(ew_tls_get_state(s.t), EW_TLS_CLOSED);

    peer_free(&c);
    peer_free(&s);
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);
}

/* Runs a handshake between two ew_tls contexts; returns the final errors. */
static void run_pair(ew_tls_ctx *cc, ew_tls_ctx *sc, int *crc, int *src, char *sdetail,
                     char *cdetail) {
    peer c = {0}, s = {0};
    uint8_t buf[16];
    assert_int_equal(ew_tls_new(&c.t, cc), EW_OK);
    assert_int_equal(ew_tls_new(&s.t, sc), EW_OK);
    pump(&c, &s);
    if (!c.rc)
        (void)read_some(&c, buf, sizeof buf);
    if (!s.rc)
        (void)read_some(&s, buf, sizeof buf);
    *crc = c.rc;
    *src = s.rc;
    if (sdetail)
        snprintf(sdetail, 320, "%s", ew_tls_error_detail(s.t));
    if (cdetail)
        snprintf(cdetail, 320, "%s", ew_tls_error_detail(c.t));
    if (c.rc)
        assert_int_equal(ew_tls_get_state(c.t), EW_TLS_FAILED);
    if (s.rc)
        assert_int_equal(ew_tls_get_state(s.t), EW_TLS_FAILED);
    peer_free(&c);
    peer_free(&s);
}

static void fp_hex_of(const char *pem, char *hex) {
    uint8_t fp[EW_TLS_FP_LEN];
    assert_int_equal(ew_tls_cert_fingerprint(pem, fp), EW_OK);
    assert_int_equal(ew_hex_encode(fp, sizeof fp, hex, EW_TLS_FP_HEX_LEN), 64);
}

static void test_untrusted(void **state) {
    (void)state;
    int crc, src;
    char sd[320], cd[320], hex[EW_TLS_FP_HEX_LEN];

    /* A client certificate from another CA: the server refuses it. */
    ew_tls_ctx *cc = mk_ctx(EW_TLS_CLIENT, &rogue, &ca1, NULL, 0, NULL);
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, sd, cd);
    assert_int_equal(src, EW_TLS_ERR_UNTRUSTED);
    assert_int_equal(crc, EW_TLS_ERR_HANDSHAKE);
    fp_hex_of(rogue.cert, hex);
    assert_non_null(strstr(sd, "CN=rogue-1"));
    assert_non_null(strstr(sd, hex));
    assert_string_equal(ew_tls_strerror(src), "untrusted peer certificate");
    assert_string_equal(ew_tls_errname(src), "EW_TLS_ERR_UNTRUSTED");
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);

    /* A server certificate from another CA: the client refuses it. */
    cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, NULL);
    sc = mk_ctx(EW_TLS_SERVER, &rogue, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, sd, cd);
    assert_int_equal(crc, EW_TLS_ERR_UNTRUSTED);
    assert_int_equal(src, EW_TLS_ERR_HANDSHAKE);
    assert_non_null(strstr(cd, "CN=rogue-1"));
    assert_non_null(strstr(cd, hex));
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);
}

static void test_pinning(void **state) {
    (void)state;
    int crc, src;
    char sd[320], hex[EW_TLS_FP_HEX_LEN];
    uint8_t pins[2 * EW_TLS_FP_LEN];

    /* The server trusts only dev1 and rogue by fingerprint (no CA). */
    assert_int_equal(ew_tls_cert_fingerprint(dev1.cert, pins), EW_OK);
    assert_int_equal(ew_tls_cert_fingerprint(rogue.cert, pins + EW_TLS_FP_LEN), EW_OK);
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, NULL, pins, 2, NULL);

    ew_tls_ctx *cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, NULL, NULL);
    assert_int_equal(crc, 0);
    assert_int_equal(src, 0);
    ew_tls_ctx_del(cc);

    /* Pinned although its CA is unknown. */
    cc = mk_ctx(EW_TLS_CLIENT, &rogue, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, NULL, NULL);
    assert_int_equal(crc, 0);
    assert_int_equal(src, 0);
    ew_tls_ctx_del(cc);

    /* dev3 is signed by ca1, but the server trusts no CA: refused. */
    cc = mk_ctx(EW_TLS_CLIENT, &dev3, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, sd, NULL);
    assert_int_equal(src, EW_TLS_ERR_UNTRUSTED);
    assert_int_equal(crc, EW_TLS_ERR_HANDSHAKE);
    fp_hex_of(dev3.cert, hex);
    assert_non_null(strstr(sd, hex));
    assert_non_null(strstr(sd, "CN=router-9"));
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);
}

static SSL_CTX *raw_ctx(int server, int max_version, const pem_pair *own) {
    SSL_CTX *s = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    assert_non_null(s);
    assert_int_equal(SSL_CTX_set_max_proto_version(s, max_version), 1);
    SSL_CTX_set_verify(s, SSL_VERIFY_NONE, NULL);
    if (own) {
        BIO *b = BIO_new_mem_buf(own->cert, -1);
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        b = BIO_new_mem_buf(own->key, -1);
        EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
        assert_int_equal(SSL_CTX_use_certificate(s, x), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(s, k), 1);
        X509_free(x);
        EVP_PKEY_free(k);
    }
    return s;
}

static void test_tls12_refused(void **state) {
    (void)state;
    uint8_t buf[16];

    /* A TLS 1.2-only client against our server. */
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    SSL_CTX *rc = raw_ctx(0, TLS1_2_VERSION, &dev1);
    peer c, s = {0};
    raw_init(&c, rc, 0);
    assert_int_equal(ew_tls_new(&s.t, sc), EW_OK);
    pump(&c, &s);
    assert_int_equal(s.rc, EW_TLS_ERR_VERSION);
    assert_string_equal(ew_tls_strerror(s.rc), "the peer does not speak TLS 1.3");
    assert_non_null(strstr(ew_tls_error_detail(s.t), "does not speak TLS 1.3"));
    assert_int_equal(ew_tls_read_plain(s.t, buf, sizeof buf), EW_TLS_ERR_VERSION);
    assert_int_not_equal(SSL_is_init_finished(c.raw), 1);
    peer_free(&c);
    peer_free(&s);
    SSL_CTX_free(rc);
    ew_tls_ctx_del(sc);

    /* Our client against a TLS 1.2-only server. */
    ew_tls_ctx *cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, NULL);
    SSL_CTX *rs = raw_ctx(1, TLS1_2_VERSION, &dev2);
    peer c2 = {0}, s2;
    assert_int_equal(ew_tls_new(&c2.t, cc), EW_OK);
    raw_init(&s2, rs, 1);
    pump(&c2, &s2);
    assert_int_equal(c2.rc, EW_TLS_ERR_VERSION);
    peer_free(&c2);
    peer_free(&s2);
    SSL_CTX_free(rs);
    ew_tls_ctx_del(cc);
    ERR_clear_error();
}

static void test_no_client_cert(void **state) {
    (void)state;
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    SSL_CTX *rc = raw_ctx(0, TLS1_3_VERSION, NULL);
    peer c, s = {0};
    raw_init(&c, rc, 0);
    assert_int_equal(ew_tls_new(&s.t, sc), EW_OK);
    pump(&c, &s);
    assert_int_equal(s.rc, EW_TLS_ERR_NO_PEER_CERT);
    assert_string_equal(ew_tls_errname(s.rc), "EW_TLS_ERR_NO_PEER_CERT");
    peer_free(&c);
    peer_free(&s);
    SSL_CTX_free(rc);
    ew_tls_ctx_del(sc);
    ERR_clear_error();
}

static void test_keylog(void **state) {
    (void)state;
    keylog kc = {0}, ks = {0};
    int crc, src;
    ew_tls_ctx *cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, &kc);
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    run_pair(cc, sc, &crc, &src, NULL, NULL);
    assert_int_equal(crc, 0);
    assert_int_equal(src, 0);
    assert_int_equal(kc.bad, 0);
    assert_int_equal(kc.lines, 5);
    assert_int_equal(kc.seen, 0x1f);
    assert_int_equal(ks.lines, 0); /* no callback on the server: nothing */
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);

    /* Server side with a callback; a second run adds five more lines. */
    cc = mk_ctx(EW_TLS_CLIENT, &dev1, &ca1, NULL, 0, NULL);
    sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, &ks);
    run_pair(cc, sc, &crc, &src, NULL, NULL);
    assert_int_equal(ks.lines, 5);
    assert_int_equal(ks.seen, 0x1f);
    assert_int_equal(ks.bad, 0);
    assert_int_equal(kc.lines, 5);
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);
}

static void test_options(void **state) {
    (void)state;
    ew_tls_opts o;
    ew_tls_ctx *c = (ew_tls_ctx *)1;
    char detail[128];
    char *cert = NULL, *key = NULL;

    ew_tls_opts_init(&o);
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_null(c);
    assert_non_null(strstr(detail, "certificate"));
    o.cert_pem = dev1.cert;
    o.key_pem = dev1.key;
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_non_null(strstr(detail, "trusted"));
    o.ca_pem = ca1.cert;
    o.key_pem = dev2.key; /* does not match */
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_ERR_INVAL);
    assert_non_null(strstr(detail, "match"));
    o.key_pem = dev1.key;
    o.ca_pem = "not a PEM";
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_ERR_INVAL);
    o.ca_pem = NULL;
    o.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(ew_tls_ctx_new(&c, &o, detail, sizeof detail), EW_ERR_INVAL);

    ew_tls_cert_opts co = {.cn = "x", .san_uri = "ep:a,DNS:evil"};
    assert_int_equal(ew_tls_make_cert(ca1.cert, ca1.key, &co, &cert, &key), EW_ERR_INVAL);
    co.san_uri = NULL;
    assert_int_equal(ew_tls_make_cert(ca1.cert, ca2.key, &co, &cert, &key), EW_ERR_INVAL);
    co.cn = NULL;
    assert_int_equal(ew_tls_make_ca(&co, &cert, &key), EW_ERR_INVAL);
    assert_null(cert);
    assert_null(key);
    uint8_t fp[EW_TLS_FP_LEN];
    assert_int_equal(ew_tls_cert_fingerprint("junk", fp), EW_ERR_INVAL);
    ERR_clear_error();
}

/* Nothing grows without a limit: |max_buffer| caps both directions. */
static void test_limits(void **state) {
    (void)state;
    ew_tls_opts o;
    ew_tls_ctx *cc = NULL;
    static uint8_t big[4096];
    ew_tls_opts_init(&o);
    o.cert_pem = dev1.cert;
    o.key_pem = dev1.key;
    o.ca_pem = ca1.cert;
    o.max_buffer = 2048;
    assert_int_equal(ew_tls_ctx_new(&cc, &o, NULL, 0), EW_OK);
    ew_tls_ctx *sc = mk_ctx(EW_TLS_SERVER, &dev2, &ca1, NULL, 0, NULL);
    peer c = {0}, s = {0};
    assert_int_equal(ew_tls_new(&c.t, cc), EW_OK);
    assert_int_equal(ew_tls_new(&s.t, sc), EW_OK);
    pump(&c, &s);
    assert_int_equal(ew_tls_get_state(c.t), EW_TLS_OPEN);
    assert_int_equal(ew_tls_write_plain(c.t, big, sizeof big), EW_ERR_NOBUF);
    assert_int_equal(ew_tls_write_plain(c.t, big, 1000), 1000);
    assert_int_equal(ew_tls_write_plain(s.t, big, sizeof big), (int)sizeof big);
    const uint8_t *out;
    int n = ew_tls_take_cipher(s.t, &out);
    assert_true(n > 2048);
    assert_int_equal(ew_tls_feed_cipher(c.t, out, (size_t)n), EW_ERR_NOBUF);
    assert_int_equal(ew_tls_feed_cipher(c.t, out, 1024), 1024);
    assert_int_equal(ew_tls_error(c.t), EW_OK);
    peer_free(&c);
    peer_free(&s);
    ew_tls_ctx_del(cc);
    ew_tls_ctx_del(sc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data),
        cmocka_unit_test(test_untrusted),
        cmocka_unit_test(test_pinning),
        cmocka_unit_test(test_tls12_refused),
        cmocka_unit_test(test_no_client_cert),
        cmocka_unit_test(test_keylog),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
