/*
 * TLS 1.3 endpoint on OpenSSL 3 memory BIOs (ep.md §5.2), and certificate
 * generation for tests and `energywire ep certs`.
 */
#include <energywire/tls.h>

#include "io/io_int.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BUFFER (256u * 1024u)
/* One TLS record with its overhead. */
#define OUT_CAP (16384u + 512u)
#define DETAIL_CAP 320

struct ew_tls_ctx {
    SSL_CTX *ssl_ctx;
    ew_tls_role role;
    int have_ca;
    uint8_t *pins;
    size_t n_pins;
    size_t max_buffer;
    ew_tls_keylog_fn keylog;
    void *keylog_user;
};

struct ew_tls {
    ew_tls_ctx *ctx;
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by |ssl| */
    ew_tls_state state;
    int err;
    int untrusted; /* set by the verify callback */
    char detail[DETAIL_CAP];
    uint8_t out[OUT_CAP];
    size_t out_len, out_off;
    /* 0 when |wbio| is known to be empty: nothing called into OpenSSL
     * since a BIO_read took less than it asked for.  Spares a failing
     * BIO_read and a BIO_ctrl_pending per record. */
    int wbio_used;
};

const char *ew_tls_strerror(int rc) {
    switch (rc) {
    case EW_TLS_ERR_VERSION:
        return "the peer does not speak TLS 1.3";
    case EW_TLS_ERR_UNTRUSTED:
        return "untrusted peer certificate";
    case EW_TLS_ERR_NO_PEER_CERT:
        return "the peer sent no certificate";
    case EW_TLS_ERR_HANDSHAKE:
        return "TLS handshake failed";
    default:
        return ew_io_strerror(rc);
    }
}

const char *ew_tls_errname(int rc) {
    switch (rc) {
    case EW_TLS_ERR_VERSION:
        return "EW_TLS_ERR_VERSION";
    case EW_TLS_ERR_UNTRUSTED:
        return "EW_TLS_ERR_UNTRUSTED";
    case EW_TLS_ERR_NO_PEER_CERT:
        return "EW_TLS_ERR_NO_PEER_CERT";
    case EW_TLS_ERR_HANDSHAKE:
        return "EW_TLS_ERR_HANDSHAKE";
    default:
        return ew_io_errname(rc);
    }
}

void ew_tls_opts_init(ew_tls_opts *o) {
    memset(o, 0, sizeof *o);
    o->role = EW_TLS_CLIENT;
    o->max_buffer = DEFAULT_MAX_BUFFER;
}

static void fp_hex(const uint8_t *raw, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < EW_TLS_FP_LEN; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[2 * EW_TLS_FP_LEN] = 0;
}

static int cert_fp(X509 *x, uint8_t *raw) {
    unsigned int n = 0;
    return X509_digest(x, EVP_sha256(), raw, &n) == 1 && n == EW_TLS_FP_LEN ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

static void keylog_cb(const SSL *ssl, const char *line) {
    ew_tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (c && c->keylog)
        c->keylog(c->keylog_user, line);
}

/*
 * Replaces OpenSSL's chain verification: trusted when the chain verifies
 * against the CA store, or when the leaf is on the device list (ep.md §5.2:
 * "a shared authority or at minimum a local trusted device list";
 * self-signed device certificates are allowed on the list).
 */
static int verify_cb(X509_STORE_CTX *xs, void *arg) {
    ew_tls_ctx *c = arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    ew_tls *t = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    uint8_t fp[EW_TLS_FP_LEN];
    char hex[EW_TLS_FP_HEX_LEN], subj[160];
    const char *why = "not signed by a trusted CA and not on the trusted list";

    if (!leaf)
        return 0;
    if (c->have_ca) {
        if (X509_verify_cert(xs) == 1)
            return 1;
        why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs));
    }
    if (cert_fp(leaf, fp) == 0) {
        for (size_t i = 0; i < c->n_pins; i++) {
            if (memcmp(c->pins + i * EW_TLS_FP_LEN, fp, EW_TLS_FP_LEN) == 0) {
                X509_STORE_CTX_set_error(xs, X509_V_OK);
                return 1;
            }
        }
        fp_hex(fp, hex);
    } else {
        strcpy(hex, "?");
    }
    X509_NAME_oneline(X509_get_subject_name(leaf), subj, sizeof subj);
    if (t) {
        t->untrusted = 1;
        ew_io_fmt(t->detail, sizeof t->detail, "untrusted certificate %s sha256 %s (%s)", subj, hex,
                  why);
    }
    if (X509_STORE_CTX_get_error(xs) == X509_V_OK)
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_UNTRUSTED);
    return 0;
}

static int load_pem_certs(SSL_CTX *s, const char *pem, int as_ca) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x;
    int n = 0, ok = 1;
    if (!b)
        return -1;
    while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (as_ca)
            ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(s), x) == 1;
        else if (n == 0)
            ok = SSL_CTX_use_certificate(s, x) == 1;
        else
            ok = SSL_CTX_add1_chain_cert(s, x) == 1;
        X509_free(x);
        n++;
    }
    BIO_free(b);
    ERR_clear_error(); /* the end-of-data "no start line" */
    return ok && n > 0 ? 0 : -1;
}

static int load_pem_key(SSL_CTX *s, const char *pem) {
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k;
    int ok;
    if (!b)
        return -1;
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ok = k && SSL_CTX_use_PrivateKey(s, k) == 1;
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int ew_tls_ctx_new(ew_tls_ctx **pctx, const ew_tls_opts *o, char *detail, size_t detail_cap) {
    ew_tls_ctx *c;
    SSL_CTX *s;
    const char *fail = NULL;

    if (!pctx || !o)
        return EW_ERR_INVAL;
    *pctx = NULL;
    if (!detail)
        detail_cap = 0;
    ew_io_fmt(detail, detail_cap, "%s", "");
    if ((!o->cert_pem && !o->cert_file) || (!o->key_pem && !o->key_file)) {
        ew_io_fmt(detail, detail_cap, "no certificate or key (EP: every device has one)");
        return EW_ERR_INVAL;
    }
    if (!o->ca_file && !o->ca_pem && o->n_pins == 0) {
        ew_io_fmt(detail, detail_cap, "nothing trusted: give a CA or a list of fingerprints");
        return EW_ERR_INVAL;
    }
    if (o->n_pins && !o->pins)
        return EW_ERR_INVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return EW_ERR_NOMEM;
    c->role = o->role;
    c->max_buffer = o->max_buffer ? o->max_buffer : DEFAULT_MAX_BUFFER;
    c->keylog = o->keylog;
    c->keylog_user = o->keylog_user;
    if (o->n_pins) {
        c->pins = malloc(o->n_pins * EW_TLS_FP_LEN);
        if (!c->pins) {
            free(c);
            return EW_ERR_NOMEM;
        }
        memcpy(c->pins, o->pins, o->n_pins * EW_TLS_FP_LEN);
        c->n_pins = o->n_pins;
    }
    s = SSL_CTX_new(o->role == EW_TLS_SERVER ? TLS_server_method() : TLS_client_method());
    if (!s) {
        free(c->pins);
        free(c);
        return EW_ERR_NOMEM;
    }
    c->ssl_ctx = s;
    SSL_CTX_set_app_data(s, c);

    /* §5.2: TLS 1.3 as minimum and maximum, never a fallback. */
    if (SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1)
        fail = "TLS 1.3 not available in this OpenSSL";
    else if (o->cert_pem ? load_pem_certs(s, o->cert_pem, 0) != 0
                         : SSL_CTX_use_certificate_chain_file(s, o->cert_file) != 1)
        fail = "own certificate does not load";
    else if (o->key_pem ? load_pem_key(s, o->key_pem) != 0
                        : SSL_CTX_use_PrivateKey_file(s, o->key_file, SSL_FILETYPE_PEM) != 1)
        fail = "own private key does not load or does not match the certificate";
    else if (SSL_CTX_check_private_key(s) != 1)
        fail = "private key does not match the certificate";
    else if (o->ca_file && SSL_CTX_load_verify_file(s, o->ca_file) != 1)
        fail = "CA file does not load";
    else if (o->ca_pem && load_pem_certs(s, o->ca_pem, 1) != 0)
        fail = "CA PEM does not load";
    if (fail) {
        ew_io_fmt(detail, detail_cap, "%s", fail);
        ERR_clear_error();
        ew_tls_ctx_del(c);
        return EW_ERR_INVAL;
    }
    c->have_ca = o->ca_file || o->ca_pem;
    /* Both roles check the peer; the server requires a client certificate
     * (ep.md §5.1: mutual TLS is expected). */
    SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(s, verify_cb, c);
    /* No resumption: every EP connection does a full handshake. */
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    if (c->keylog)
        SSL_CTX_set_keylog_callback(s, keylog_cb);
    *pctx = c;
    return EW_OK;
}

void ew_tls_ctx_del(ew_tls_ctx *c) {
    if (!c)
        return;
    SSL_CTX_free(c->ssl_ctx);
    free(c->pins);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Endpoint                                                                  */
/* ------------------------------------------------------------------------ */

/* Empties OpenSSL's error queue before a call whose failure we classify
 * (SSL_get_error reads the queue).  It is almost always empty already
 * (every failure path clears it): peeking costs less than clearing its
 * sixteen slots before every record. */
static void err_reset(void) {
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

/* Turns OpenSSL's error queue after a failed call into our sticky error. */
static int fail_ssl(ew_tls *t, int ssl_err) {
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_REASON(e);
    const char *txt = e ? ERR_reason_error_string(e) : NULL;
    int rc;

    if (!txt)
        txt = ssl_err == SSL_ERROR_SYSCALL ? "unexpected end of the TLS stream" : "unknown";
    if (t->untrusted) {
        rc = EW_TLS_ERR_UNTRUSTED; /* detail set by verify_cb */
    } else if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_WRONG_VERSION_NUMBER ||
               reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) {
        rc = EW_TLS_ERR_VERSION;
        ew_io_fmt(t->detail, sizeof t->detail, "the peer does not speak TLS 1.3 (%s)", txt);
    } else if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        rc = EW_TLS_ERR_NO_PEER_CERT;
        ew_io_fmt(t->detail, sizeof t->detail, "the peer sent no certificate");
    } else if (t->state == EW_TLS_HANDSHAKE || reason >= SSL_AD_REASON_OFFSET) {
        /* Alerts count as handshake failures even after our side finished:
         * in TLS 1.3 a client learns that its certificate was refused only
         * after its Finished. */
        rc = EW_TLS_ERR_HANDSHAKE;
        ew_io_fmt(t->detail, sizeof t->detail, "TLS handshake failed: %s", txt);
    } else {
        rc = EW_ERR_PROTO;
        ew_io_fmt(t->detail, sizeof t->detail, "TLS error: %s", txt);
    }
    ERR_clear_error();
    t->err = rc;
    t->state = EW_TLS_FAILED;
    return rc;
}

static int drive(ew_tls *t) {
    int r;
    if (t->state != EW_TLS_HANDSHAKE)
        return t->err;
    err_reset();
    t->wbio_used = 1;
    r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->state = EW_TLS_OPEN;
        return EW_OK;
    }
    r = SSL_get_error(t->ssl, r);
    if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
        return EW_OK;
    return fail_ssl(t, r);
}

int ew_tls_new(ew_tls **pt, ew_tls_ctx *ctx) {
    ew_tls *t;
    if (!pt || !ctx)
        return EW_ERR_INVAL;
    *pt = NULL;
    t = calloc(1, sizeof *t);
    if (!t)
        return EW_ERR_NOMEM;
    t->ctx = ctx;
    t->ssl = SSL_new(ctx->ssl_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return EW_ERR_NOMEM;
    }
    /* An empty memory BIO means "retry later", not end of stream. */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_app_data(t->ssl, t);
    if (ctx->role == EW_TLS_SERVER)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    (void)drive(t); /* a client's ClientHello */
    *pt = t;
    return EW_OK;
}

void ew_tls_del(ew_tls *t) {
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    OPENSSL_cleanse(t->out, sizeof t->out);
    free(t);
}

ew_tls_state ew_tls_get_state(const ew_tls *t) {
    return t->state;
}
int ew_tls_error(const ew_tls *t) {
    return t->err;
}
const char *ew_tls_error_detail(const ew_tls *t) {
    return t->detail;
}

int ew_tls_feed_cipher(ew_tls *t, const uint8_t *in, size_t len) {
    if (t->err)
        return t->err;
    if (len > (size_t)INT32_MAX || (len && !in))
        return EW_ERR_INVAL;
    if (BIO_ctrl_pending(t->rbio) + len > t->ctx->max_buffer)
        return EW_ERR_NOBUF;
    if (len && BIO_write(t->rbio, in, (int)len) != (int)len) {
        ERR_clear_error();
        t->err = EW_ERR_NOMEM;
        t->state = EW_TLS_FAILED;
        return t->err;
    }
    if (t->state == EW_TLS_HANDSHAKE) {
        int rc = drive(t);
        if (rc < 0)
            return rc;
    }
    return (int)len;
}

int ew_tls_read_plain(ew_tls *t, uint8_t *buf, size_t cap) {
    size_t n = 0;
    int r;
    if (t->err)
        return t->err;
    if (t->state == EW_TLS_CLOSED)
        return EW_ERR_CLOSED;
    if (t->state == EW_TLS_HANDSHAKE)
        return EW_ERR_NEED_MORE;
    if (cap == 0)
        return EW_ERR_NOBUF;
    if (cap > (size_t)INT32_MAX)
        cap = (size_t)INT32_MAX;
    /* Nothing buffered in OpenSSL (no decrypted bytes, no partial record)
     * and no cipher bytes waiting: SSL_read could only fail with
     * WANT_READ, at the price of a trip through the record layer and the
     * error queue.  A reader calls until NEED_MORE, so this is every
     * other call on a busy session. */
    if (BIO_ctrl_pending(t->rbio) == 0 && !SSL_has_pending(t->ssl))
        return EW_ERR_NEED_MORE;
    err_reset();
    t->wbio_used = 1; /* a KeyUpdate answer or an alert */
    if (SSL_read_ex(t->ssl, buf, cap, &n) == 1)
        return (int)n;
    r = SSL_get_error(t->ssl, 0);
    if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
        return EW_ERR_NEED_MORE;
    if (r == SSL_ERROR_ZERO_RETURN) {
        t->state = EW_TLS_CLOSED;
        return EW_ERR_CLOSED;
    }
    return fail_ssl(t, r);
}

static size_t cipher_pending(const ew_tls *t) {
    return (t->wbio_used ? BIO_ctrl_pending(t->wbio) : 0) + (t->out_len - t->out_off);
}

int ew_tls_write_plain(ew_tls *t, const uint8_t *data, size_t len) {
    size_t n = 0;
    if (t->err)
        return t->err;
    if (t->state != EW_TLS_OPEN)
        return EW_ERR_STATE;
    if (len > (size_t)INT32_MAX || (len && !data))
        return EW_ERR_INVAL;
    if (len == 0)
        return 0;
    if (cipher_pending(t) + len > t->ctx->max_buffer)
        return EW_ERR_NOBUF;
    err_reset();
    t->wbio_used = 1;
    /* A memory BIO always takes the whole write. */
    if (SSL_write_ex(t->ssl, data, len, &n) != 1 || n != len)
        return fail_ssl(t, SSL_get_error(t->ssl, 0));
    return (int)len;
}

int ew_tls_take_cipher(ew_tls *t, const uint8_t **out) {
    if (t->out_off == t->out_len && t->wbio_used) {
        int n = BIO_read(t->wbio, t->out, (int)sizeof t->out);
        t->out_off = 0;
        t->out_len = n > 0 ? (size_t)n : 0;
        if (t->out_len < sizeof t->out)
            t->wbio_used = 0; /* a memory BIO gives all it has */
    }
    *out = t->out + t->out_off;
    return (int)(t->out_len - t->out_off);
}

void ew_tls_cipher_done(ew_tls *t, size_t n) {
    if (n > t->out_len - t->out_off)
        n = t->out_len - t->out_off;
    t->out_off += n;
}

int ew_tls_close(ew_tls *t) {
    if (t->state != EW_TLS_OPEN && t->state != EW_TLS_CLOSED)
        return EW_ERR_STATE;
    ERR_clear_error();
    t->wbio_used = 1;
    (void)SSL_shutdown(t->ssl); /* queues close_notify; the answer is not awaited */
    ERR_clear_error();
    return EW_OK;
}

int ew_tls_peer_fingerprint(const ew_tls *t, char *hex, uint8_t *raw) {
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    uint8_t fp[EW_TLS_FP_LEN];
    if (!x || t->state == EW_TLS_HANDSHAKE || cert_fp(x, fp) != 0)
        return EW_ERR_STATE;
    if (hex)
        fp_hex(fp, hex);
    if (raw)
        memcpy(raw, fp, sizeof fp);
    return EW_OK;
}

static int copy_out(const unsigned char *s, int len, char *buf, size_t cap) {
    if (len < 0)
        return EW_ERR_NOT_FOUND;
    if ((size_t)len + 1 > cap)
        return EW_ERR_NOBUF;
    memcpy(buf, s, (size_t)len);
    buf[len] = 0;
    return len;
}

int ew_tls_peer_field(const ew_tls *t, ew_tls_field f, char *buf, size_t cap) {
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    int nid, rc = EW_ERR_NOT_FOUND;
    if (!buf || !cap)
        return EW_ERR_INVAL;
    buf[0] = 0;
    if (!x || t->state == EW_TLS_HANDSHAKE)
        return EW_ERR_STATE;
    if (f == EW_TLS_FIELD_SAN_URI || f == EW_TLS_FIELD_SAN_DNS) {
        int type = f == EW_TLS_FIELD_SAN_URI ? GEN_URI : GEN_DNS;
        GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
            if (g->type == type) {
                const ASN1_IA5STRING *s =
                    type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
                rc = copy_out(ASN1_STRING_get0_data(s), ASN1_STRING_length(s), buf, cap);
                break;
            }
        }
        GENERAL_NAMES_free(gens);
        return rc;
    }
    switch (f) {
    case EW_TLS_FIELD_CN:
        nid = NID_commonName;
        break;
    case EW_TLS_FIELD_O:
        nid = NID_organizationName;
        break;
    case EW_TLS_FIELD_OU:
        nid = NID_organizationalUnitName;
        break;
    default:
        return EW_ERR_INVAL;
    }
    {
        const X509_NAME *name = X509_get_subject_name(x);
        int idx = X509_NAME_get_index_by_NID(name, nid, -1);
        unsigned char *utf8 = NULL;
        int len;
        if (idx < 0)
            return EW_ERR_NOT_FOUND;
        len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
        if (len < 0) {
            ERR_clear_error();
            return EW_ERR_NOT_FOUND;
        }
        rc = copy_out(utf8, len, buf, cap);
        OPENSSL_free(utf8);
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Certificate generation                                                    */
/* ------------------------------------------------------------------------ */

static char *bio_to_str(BIO *b) {
    char *p = NULL, *s;
    long n = BIO_get_mem_data(b, &p);
    if (n < 0 || !p)
        return NULL;
    s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, (size_t)n);
    s[n] = 0;
    return s;
}

static int add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value) {
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, v, nid, value);
    int ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static int set_name(X509_NAME *n, const ew_tls_cert_opts *o) {
    const struct { const char *f, *v; } parts[] = {{"CN", o->cn}, {"O", o->o}, {"OU", o->ou}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].v &&
            X509_NAME_add_entry_by_txt(n, parts[i].f, MBSTRING_UTF8,
                                       (const unsigned char *)parts[i].v, -1, -1, 0) != 1)
            return -1;
    }
    return 0;
}

/* Builds and signs a certificate for a fresh P-256 key.  |ca|/|ca_key| NULL:
 * self-signed CA. */
static int make(X509 *ca, EVP_PKEY *ca_key, const ew_tls_cert_opts *o, char **cert_pem,
                char **key_pem) {
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    X509V3_CTX v;
    char san[512];
    int rc = EW_ERR_NOMEM, ok;
    long days = o->days ? (long)o->days : 365;

    if (!key || !x || !bc || !bk || RAND_bytes(serial, sizeof serial) != 1)
        goto out;
    serial[0] &= 0x7f; /* positive, at most 16 bytes (RFC 5280 §4.1.2.2) */
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_set_version(x, X509_VERSION_3) == 1 &&
         X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) != NULL &&
         X509_set_pubkey(x, key) == 1 && set_name(X509_get_subject_name(x), o) == 0 &&
         X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : X509_get_subject_name(x)) == 1;
    if (!ok)
        goto out;
    X509V3_set_ctx(&v, ca ? ca : x, x, NULL, NULL, 0);
    if (!ca) {
        ok = add_ext(x, &v, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             add_ext(x, &v, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(x, &v, NID_subject_key_identifier, "hash") == 0;
    } else {
        ok = add_ext(x, &v, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, &v, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(x, &v, NID_ext_key_usage, "serverAuth,clientAuth") == 0 &&
             add_ext(x, &v, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, &v, NID_authority_key_identifier, "keyid:always") == 0;
        if (ok && (o->san_uri || o->san_dns)) {
            snprintf(san, sizeof san, "%s%s%s%s%s", o->san_uri ? "URI:" : "",
                     o->san_uri ? o->san_uri : "", o->san_uri && o->san_dns ? "," : "",
                     o->san_dns ? "DNS:" : "", o->san_dns ? o->san_dns : "");
            ok = add_ext(x, &v, NID_subject_alt_name, san) == 0;
        }
    }
    if (!ok || X509_sign(x, ca ? ca_key : key, EVP_sha256()) <= 0 ||
        PEM_write_bio_X509(bc, x) != 1 ||
        PEM_write_bio_PrivateKey(bk, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    *cert_pem = bio_to_str(bc);
    *key_pem = bio_to_str(bk);
    if (!*cert_pem || !*key_pem) {
        ew_tls_free(*cert_pem);
        ew_tls_free(*key_pem);
        *cert_pem = *key_pem = NULL;
        goto out;
    }
    rc = EW_OK;
out:
    ERR_clear_error();
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(key);
    BIO_free(bc);
    if (bk) {
        char *p = NULL;
        long n = BIO_get_mem_data(bk, &p);
        if (n > 0 && p)
            OPENSSL_cleanse(p, (size_t)n);
        BIO_free(bk);
    }
    return rc;
}

static int check_opts(const ew_tls_cert_opts *o, char **cert_pem, char **key_pem) {
    if (!o || !o->cn || !cert_pem || !key_pem)
        return EW_ERR_INVAL;
    *cert_pem = *key_pem = NULL;
    if ((o->san_uri && (strchr(o->san_uri, ',') || strlen(o->san_uri) > 200)) ||
        (o->san_dns && (strchr(o->san_dns, ',') || strlen(o->san_dns) > 200)))
        return EW_ERR_INVAL;
    return EW_OK;
}

int ew_tls_make_ca(const ew_tls_cert_opts *o, char **cert_pem, char **key_pem) {
    int rc = check_opts(o, cert_pem, key_pem);
    return rc ? rc : make(NULL, NULL, o, cert_pem, key_pem);
}

int ew_tls_make_cert(const char *ca_cert_pem, const char *ca_key_pem, const ew_tls_cert_opts *o,
                     char **cert_pem, char **key_pem) {
    int rc = check_opts(o, cert_pem, key_pem);
    BIO *bc, *bk;
    X509 *ca;
    EVP_PKEY *ca_key;
    if (rc)
        return rc;
    if (!ca_cert_pem || !ca_key_pem)
        return EW_ERR_INVAL;
    bc = BIO_new_mem_buf(ca_cert_pem, -1);
    bk = BIO_new_mem_buf(ca_key_pem, -1);
    ca = bc ? PEM_read_bio_X509(bc, NULL, NULL, NULL) : NULL;
    ca_key = bk ? PEM_read_bio_PrivateKey(bk, NULL, NULL, NULL) : NULL;
    if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1)
        rc = EW_ERR_INVAL;
    else
        rc = make(ca, ca_key, o, cert_pem, key_pem);
    ERR_clear_error();
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    BIO_free(bc);
    BIO_free(bk);
    return rc;
}

int ew_tls_cert_fingerprint(const char *cert_pem, uint8_t raw[EW_TLS_FP_LEN]) {
    BIO *b = cert_pem ? BIO_new_mem_buf(cert_pem, -1) : NULL;
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int rc = x && cert_fp(x, raw) == 0 ? EW_OK : EW_ERR_INVAL;
    ERR_clear_error();
    X509_free(x);
    BIO_free(b);
    return rc;
}

void ew_tls_free(char *pem) {
    if (!pem)
        return;
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}
