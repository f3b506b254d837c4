/*
 * Passive TLS 1.3 decryption with an NSS key log (see tls13.h and
 * docs/capture-tls.md).
 *
 * Each direction has a record buffer (one record of at most 2^14 + 256
 * ciphertext bytes, RFC 8446 §5.2), a plaintext buffer of the same size, a
 * handshake reassembly buffer and one EVP_CIPHER_CTX, all allocated in
 * ew_tls13_flow_new(): no allocation per record.  The only buffer that
 * grows is the "pending" buffer of a direction that reached its first
 * encrypted record before the other direction's hello was seen (a caller
 * that feeds one stream whole before the other); it is bounded.
 */
#include "capture/tls13.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 8446 §5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256. */
#define REC_MAX (16384 + 256)
#define REC_HDR 5
#define TAG_LEN 16
/* Handshake messages larger than this are skipped (their content is not
 * needed for decryption; a very large Certificate loses the subject). */
#define HS_CAP (64 * 1024)
/* Most bytes a direction may hold while waiting for the other's hello. */
#define PEND_MAX (1024 * 1024)
#define SECRET_MAX 48

/* Key log label indexes. */
enum { KL_CHS = 0, KL_SHS = 1, KL_CAP = 2, KL_SAP = 3, KL_N = 4 };

static const char *const kl_labels[KL_N] = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                                            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"};

typedef struct kl_entry {
    uint8_t random[32];
    uint8_t secret[KL_N][SECRET_MAX];
    uint8_t len[KL_N]; /* 0 = absent */
} kl_entry;

struct ew_tls13_keylog {
    kl_entry *e;
    size_t n, cap;
    size_t bad;
};

/* ------------------------------------------------------------------------ */
/* Cipher suites and the key schedule                                        */
/* ------------------------------------------------------------------------ */

typedef struct suite_info {
    uint16_t id;
    const char *name;
    const char *digest; /* for EVP_KDF HKDF */
    size_t hash_len, key_len;
    const EVP_CIPHER *(*cipher)(void);
} suite_info;

/* RFC 8446 §B.4.  TLS_AES_128_CCM_SHA256 and _CCM_8_ are not opened. */
static const suite_info suites[] = {
    {EW_TLS13_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256", "SHA256", 32, 16, EVP_aes_128_gcm},
    {EW_TLS13_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384", "SHA384", 48, 32, EVP_aes_256_gcm},
    {EW_TLS13_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256", "SHA256", 32, 32,
     EVP_chacha20_poly1305},
};

static const suite_info *suite_find(uint16_t id) {
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

const char *ew_tls13_suite_name(uint16_t suite) {
    const suite_info *s = suite_find(suite);
    return s ? s->name : NULL;
}

/*
 * HKDF-Expand-Label(Secret, Label, "", Length) (RFC 8446 §7.1) with an
 * empty context:
 *     struct { uint16 length; opaque label<7..255> = "tls13 " + Label;
 *              opaque context<0..255>; } HkdfLabel;
 * through OpenSSL's HKDF in expand-only mode (RFC 5869 §2.3).
 */
static int expand_label(const suite_info *s, const uint8_t *secret, const char *label, uint8_t *out,
                        size_t out_len) {
    uint8_t info[2 + 1 + 6 + 32 + 1];
    size_t ll = strlen(label), n = 0;
    if (6 + ll > 32)
        return EW_ERR_INVAL;
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, ll);
    n += ll;
    info[n++] = 0; /* empty context */

    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, rc = EW_ERR_NOMEM;
    OSSL_PARAM params[5];
    params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)s->digest, 0);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, s->hash_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
    params[4] = OSSL_PARAM_construct_end();
    if (kc && EVP_KDF_derive(kc, out, out_len, params) == 1)
        rc = EW_OK;
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return rc;
}

int ew_tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t secret_len, uint8_t *key,
                          size_t *key_len, uint8_t iv[12]) {
    const suite_info *s = suite_find(suite);
    if (!s || !secret || !key || !key_len || !iv || secret_len != s->hash_len)
        return EW_ERR_INVAL;
    int rc = expand_label(s, secret, "key", key, s->key_len);
    if (rc == EW_OK)
        rc = expand_label(s, secret, "iv", iv, 12);
    *key_len = s->key_len;
    return rc;
}

int ew_tls13_next_secret(uint16_t suite, const uint8_t *secret, size_t secret_len, uint8_t *next) {
    const suite_info *s = suite_find(suite);
    if (!s || !secret || !next || secret_len != s->hash_len)
        return EW_ERR_INVAL;
    return expand_label(s, secret, "traffic upd", next, s->hash_len);
}

/* ------------------------------------------------------------------------ */
/* Key log                                                                   */
/* ------------------------------------------------------------------------ */

static int kl_cmp(const void *a, const void *b) {
    return memcmp(((const kl_entry *)a)->random, ((const kl_entry *)b)->random, 32);
}

static const kl_entry *kl_find(const ew_tls13_keylog *kl, const uint8_t random[32]) {
    kl_entry key;
    if (!kl || !kl->n)
        return NULL;
    memcpy(key.random, random, 32);
    return bsearch(&key, kl->e, kl->n, sizeof *kl->e, kl_cmp);
}

/* Decodes exactly |len| hex characters (any case) into |out|. */
static int hex_exact(const char *p, size_t len, uint8_t *out, size_t want) {
    if (len != 2 * want)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        if (i & 1)
            out[i / 2] = (uint8_t)(out[i / 2] | v);
        else
            out[i / 2] = (uint8_t)(v << 4);
    }
    return 0;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits the next whitespace-separated field of [*p, end). */
static size_t next_field(const char **p, const char *end, const char **f) {
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    *f = s;
    while (s < end && !is_space(*s))
        s++;
    *p = s;
    return (size_t)(s - *f);
}

int ew_tls13_keylog_parse(ew_tls13_keylog **pkl, const char *text, size_t len, char *detail,
                          size_t detail_cap) {
    if (!pkl || (!text && len))
        return EW_ERR_INVAL;
    *pkl = NULL;
    ew_tls13_keylog *kl = calloc(1, sizeof *kl);
    if (!kl)
        return EW_ERR_NOMEM;
    size_t lines = 0, unknown = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *q = p, *lab, *cr, *sec, *extra;
        p = eol ? eol + 1 : end;
        size_t ll = next_field(&q, le, &lab);
        if (ll == 0 || lab[0] == '#')
            continue;
        lines++;
        int idx = -1;
        for (int i = 0; i < KL_N; i++)
            if (strlen(kl_labels[i]) == ll && memcmp(lab, kl_labels[i], ll) == 0)
                idx = i;
        if (idx < 0) {
            /* EXPORTER_SECRET, CLIENT_RANDOM (TLS 1.2), early secrets... */
            unknown++;
            continue;
        }
        size_t crl = next_field(&q, le, &cr);
        size_t sl = next_field(&q, le, &sec);
        size_t xl = next_field(&q, le, &extra);
        kl_entry e;
        memset(&e, 0, sizeof e);
        if (xl != 0 || hex_exact(cr, crl, e.random, 32) != 0 ||
            (hex_exact(sec, sl, e.secret[idx], 32) != 0 &&
             hex_exact(sec, sl, e.secret[idx], 48) != 0)) {
            kl->bad++;
            OPENSSL_cleanse(&e, sizeof e);
            continue;
        }
        e.len[idx] = (uint8_t)(sl / 2);
        if (kl->n == kl->cap) {
            size_t nc = kl->cap ? 2 * kl->cap : 16;
            kl_entry *ne = calloc(nc, sizeof *ne);
            if (!ne) {
                OPENSSL_cleanse(&e, sizeof e);
                ew_tls13_keylog_del(kl);
                return EW_ERR_NOMEM;
            }
            /* Copy and wipe rather than realloc: no stale secrets left in
             * freed memory. */
            if (kl->e) {
                memcpy(ne, kl->e, kl->n * sizeof *ne);
                OPENSSL_cleanse(kl->e, kl->cap * sizeof *kl->e);
                free(kl->e);
            }
            kl->e = ne;
            kl->cap = nc;
        }
        kl->e[kl->n++] = e;
        OPENSSL_cleanse(&e, sizeof e);
    }
    /* One entry per line so far: sort by client random and merge. */
    if (kl->n) {
        qsort(kl->e, kl->n, sizeof *kl->e, kl_cmp);
        size_t w = 0;
        for (size_t r = 1; r < kl->n; r++) {
            if (memcmp(kl->e[w].random, kl->e[r].random, 32) == 0) {
                for (int i = 0; i < KL_N; i++)
                    if (kl->e[r].len[i]) {
                        memcpy(kl->e[w].secret[i], kl->e[r].secret[i], kl->e[r].len[i]);
                        kl->e[w].len[i] = kl->e[r].len[i];
                    }
            } else {
                kl->e[++w] = kl->e[r];
            }
        }
        size_t n = w + 1;
        OPENSSL_cleanse(kl->e + n, (kl->n - n) * sizeof *kl->e);
        kl->n = n;
    }
    if (kl->n == 0) {
        if (detail && detail_cap)
            snprintf(detail, detail_cap,
                     "no TLS 1.3 traffic secret in the key log (%zu lines, %zu bad, %zu with "
                     "other labels)",
                     lines, kl->bad, unknown);
        ew_tls13_keylog_del(kl);
        return EW_ERR_SYNTAX;
    }
    if (detail && detail_cap)
        detail[0] = 0;
    *pkl = kl;
    return EW_OK;
}

void ew_tls13_keylog_del(ew_tls13_keylog *kl) {
    if (!kl)
        return;
    if (kl->e)
        OPENSSL_cleanse(kl->e, kl->cap * sizeof *kl->e);
    free(kl->e);
    free(kl);
}

size_t ew_tls13_keylog_count(const ew_tls13_keylog *kl) {
    return kl ? kl->n : 0;
}

size_t ew_tls13_keylog_bad_lines(const ew_tls13_keylog *kl) {
    return kl ? kl->bad : 0;
}

/* ------------------------------------------------------------------------ */
/* Flow                                                                      */
/* ------------------------------------------------------------------------ */

/* Key state of a direction. */
enum { EP_NONE = 0, EP_HANDSHAKE = 1, EP_APP = 2 };

/* Whether keys exist for the connection. */
enum { KEYS_UNDECIDED = 0, KEYS_READY = 1, KEYS_NONE = 2 };

typedef struct dir_state {
    uint8_t *rec; /* one record, header included */
    size_t rec_len;
    uint8_t *plain; /* decrypted record */
    uint8_t *hs;    /* handshake stream reassembly */
    size_t hs_len;
    size_t hs_skip; /* bytes of an oversized message still to skip */
    uint8_t *pend;  /* bytes held while waiting for the other hello */
    size_t pend_len, pend_cap;
    EVP_CIPHER_CTX *ctx;
    uint8_t secret[SECRET_MAX];
    uint8_t iv[12];
    uint64_t seq;
    int epoch;
    int waiting;
    int stopped;
    int records; /* valid records seen */
} dir_state;

struct ew_tls13_flow {
    const ew_tls13_keylog *kl;
    ew_tls13_cb cb;
    dir_state d[2];
    const suite_info *suite;
    int keys;
    int not_tls;
    int have_ch, have_sh, hrr, mutual, subjects_done;
    int early; /* the ClientHello offered 0-RTT data */
    int tls12; /* final ServerHello chose TLS 1.2 or older */
    uint16_t version, suite_id;
    uint16_t offered[8];
    int n_offered;
    uint8_t random[32];
    char sni[256];
    char alpn[64];
    char subject[2][256]; /* [0] client, [1] server */
    const char *state;    /* summary tail: "decrypted", "no key log", ... */
};

static void note(ew_tls13_flow *f, int dir, ew_tls13_note kind, int err, const char *text) {
    if (f->cb.note)
        f->cb.note(f->cb.user, dir, kind, err, text);
}

static void summary_note(ew_tls13_flow *f) {
    char buf[1024];
    ew_tls13_flow_summary(f, buf, sizeof buf);
    note(f, -1, EW_TLS13_NOTE_SUMMARY, 0, buf);
}

static void dir_stop(ew_tls13_flow *f, int dir, int err, const char *why) {
    dir_state *d = &f->d[dir];
    if (d->stopped)
        return;
    d->stopped = 1;
    d->waiting = 0;
    d->pend_len = 0;
    d->rec_len = 0;
    note(f, dir, EW_TLS13_NOTE_STOP, err, why);
    if (f->keys == KEYS_READY) {
        f->state = "partly decrypted";
        /* The subjects known now are all there will be. */
        if (!f->subjects_done && f->subject[1][0]) {
            f->subjects_done = 1;
            summary_note(f);
        }
    }
}

/* Stops both directions with one connection-wide note. */
static void flow_stop(ew_tls13_flow *f, int err, const char *why) {
    for (int i = 0; i < 2; i++) {
        f->d[i].stopped = 1;
        f->d[i].waiting = 0;
        f->d[i].pend_len = 0;
        f->d[i].rec_len = 0;
    }
    note(f, -1, EW_TLS13_NOTE_STOP, err, why);
}

int ew_tls13_flow_new(ew_tls13_flow **pf, const ew_tls13_keylog *kl, const ew_tls13_cb *cb) {
    if (!pf)
        return EW_ERR_INVAL;
    *pf = NULL;
    ew_tls13_flow *f = calloc(1, sizeof *f);
    if (!f)
        return EW_ERR_NOMEM;
    f->kl = kl;
    if (cb)
        f->cb = *cb;
    f->state = "";
    for (int i = 0; i < 2; i++) {
        dir_state *d = &f->d[i];
        d->rec = malloc(REC_HDR + REC_MAX);
        d->plain = malloc(REC_MAX);
        d->hs = malloc(HS_CAP);
        d->ctx = EVP_CIPHER_CTX_new();
        if (!d->rec || !d->plain || !d->hs || !d->ctx) {
            ew_tls13_flow_del(f);
            return EW_ERR_NOMEM;
        }
    }
    *pf = f;
    return EW_OK;
}

void ew_tls13_flow_del(ew_tls13_flow *f) {
    if (!f)
        return;
    for (int i = 0; i < 2; i++) {
        dir_state *d = &f->d[i];
        /* The plaintext and handshake buffers held decrypted data and the
         * secrets are key material: wipe before freeing. */
        if (d->plain)
            OPENSSL_cleanse(d->plain, REC_MAX);
        if (d->hs)
            OPENSSL_cleanse(d->hs, HS_CAP);
        free(d->rec);
        free(d->plain);
        free(d->hs);
        free(d->pend);
        EVP_CIPHER_CTX_free(d->ctx);
        OPENSSL_cleanse(d->secret, sizeof d->secret);
        OPENSSL_cleanse(d->iv, sizeof d->iv);
    }
    free(f);
}

int ew_tls13_looks_like_tls(const uint8_t *p, size_t len) {
    return p && len >= 3 && p[0] == 22 && p[1] == 3 && p[2] >= 1 && p[2] <= 4;
}

static const char *version_name(uint16_t v) {
    switch (v) {
    case 0x0304:
        return "1.3";
    case 0x0303:
        return "1.2";
    case 0x0302:
        return "1.1";
    case 0x0301:
        return "1.0";
    case 0x0300:
        return "SSL 3.0";
    default:
        return "?";
    }
}

void ew_tls13_flow_summary(const ew_tls13_flow *f, char *buf, size_t cap) {
    if (!buf || !cap)
        return;
    buf[0] = 0;
    if (!f)
        return;
    size_t n = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (n < cap) {                                                                             \
            int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);                                      \
            if (k_ > 0)                                                                            \
                n += (size_t)k_;                                                                   \
        }                                                                                          \
    } while (0)
    if (f->have_sh) {
        if (f->version == 0x0300)
            ADD("SSL 3.0");
        else
            ADD("TLS %s", version_name(f->version));
    } else {
        ADD("TLS ?");
    }
    if (f->n_offered) {
        ADD(" (offered");
        for (int i = 0; i < f->n_offered; i++)
            ADD(" %s", version_name(f->offered[i]));
        ADD(")");
    }
    if (f->have_sh) {
        const char *sn = ew_tls13_suite_name(f->suite_id);
        if (sn)
            ADD(", %s", sn);
        else
            ADD(", cipher suite 0x%04x", f->suite_id);
    }
    ADD(", SNI %s", f->sni[0] ? f->sni : "-");
    if (f->alpn[0])
        ADD(", ALPN %s", f->alpn);
    if (f->hrr)
        ADD(", HelloRetryRequest");
    if (f->subject[1][0])
        ADD(", server %s", f->subject[1]);
    if (f->subject[0][0])
        ADD(", client %s", f->subject[0]);
    else if (f->mutual)
        ADD(", mutual TLS");
    if (f->state[0])
        ADD("; %s", f->state);
#undef ADD
}

/* ---- plaintext hello parsing (RFC 8446 §4.1.2, §4.1.3) ---- */

typedef struct rd {
    const uint8_t *p;
    size_t n;
    int bad;
} rd;

static const uint8_t *rd_take(rd *r, size_t k) {
    if (r->bad || r->n < k) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += k;
    r->n -= k;
    return q;
}

static size_t rd_uint(rd *r, size_t bytes) {
    const uint8_t *q = rd_take(r, bytes);
    size_t v = 0;
    for (size_t i = 0; q && i < bytes; i++)
        v = v << 8 | q[i];
    return v;
}

/* A vector with a |bytes|-byte length prefix, as a sub-reader. */
static rd rd_vec(rd *r, size_t bytes) {
    size_t l = rd_uint(r, bytes);
    rd s = {rd_take(r, l), l, r->bad};
    if (s.bad)
        s.n = 0;
    return s;
}

static void copy_str(char *dst, size_t cap, const uint8_t *p, size_t n) {
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++)
        dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    dst[k] = 0;
}

/* GREASE values (RFC 8701) are 0x?a?a with equal bytes. */
static int is_grease(uint16_t v) {
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static void first_alpn(char *dst, size_t cap, rd ext) {
    rd list = rd_vec(&ext, 2);
    rd name = rd_vec(&list, 1);
    if (!name.bad && name.n)
        copy_str(dst, cap, name.p, name.n);
}

static void decide_keys(ew_tls13_flow *f);

static void parse_client_hello(ew_tls13_flow *f, const uint8_t *p, size_t n) {
    rd r = {p, n, 0};
    rd_uint(&r, 2); /* legacy_version */
    const uint8_t *random = rd_take(&r, 32);
    rd_vec(&r, 1); /* legacy_session_id */
    rd_vec(&r, 2); /* cipher_suites */
    rd_vec(&r, 1); /* legacy_compression_methods */
    if (r.bad || !random)
        return;
    /* §4.1.2: a ClientHello after HelloRetryRequest repeats the random. */
    if (!f->have_ch)
        memcpy(f->random, random, 32);
    f->have_ch = 1;
    rd exts = r.n ? rd_vec(&r, 2) : (rd){NULL, 0, 0};
    while (!exts.bad && exts.n >= 4) {
        size_t type = rd_uint(&exts, 2);
        rd e = rd_vec(&exts, 2);
        if (e.bad)
            break;
        if (type == 0) { /* server_name (RFC 6066 §3): first host_name */
            rd list = rd_vec(&e, 2);
            while (!list.bad && list.n >= 3) {
                size_t nt = rd_uint(&list, 1);
                rd name = rd_vec(&list, 2);
                if (!name.bad && nt == 0) {
                    copy_str(f->sni, sizeof f->sni, name.p, name.n);
                    break;
                }
            }
        } else if (type == 43) { /* supported_versions (§4.2.1) */
            rd list = rd_vec(&e, 1);
            f->n_offered = 0;
            while (!list.bad && list.n >= 2) {
                uint16_t v = (uint16_t)rd_uint(&list, 2);
                if (!is_grease(v) && f->n_offered < (int)(sizeof f->offered / 2))
                    f->offered[f->n_offered++] = v;
            }
        } else if (type == 42) { /* early_data (§4.2.10) */
            f->early = 1;
        } else if (type == 16 && !f->alpn[0]) { /* ALPN (RFC 7301) */
            first_alpn(f->alpn, sizeof f->alpn, e);
        }
    }
    decide_keys(f);
}

/* The random of a HelloRetryRequest: SHA-256("HelloRetryRequest"), §4.1.3. */
static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static void parse_server_hello(ew_tls13_flow *f, const uint8_t *p, size_t n) {
    rd r = {p, n, 0};
    uint16_t legacy = (uint16_t)rd_uint(&r, 2);
    const uint8_t *random = rd_take(&r, 32);
    rd_vec(&r, 1); /* legacy_session_id_echo */
    uint16_t suite = (uint16_t)rd_uint(&r, 2);
    rd_uint(&r, 1); /* legacy_compression_method */
    if (r.bad || !random) {
        dir_stop(f, 1, EW_ERR_PROTO, "malformed ServerHello");
        return;
    }
    uint16_t version = legacy;
    rd exts = r.n ? rd_vec(&r, 2) : (rd){NULL, 0, 0};
    while (!exts.bad && exts.n >= 4) {
        size_t type = rd_uint(&exts, 2);
        rd e = rd_vec(&exts, 2);
        if (!e.bad && type == 43 && e.n == 2)
            version = (uint16_t)rd_uint(&e, 2);
    }
    if (memcmp(random, hrr_random, 32) == 0) {
        /* Keep going: the client sends a second ClientHello, the server a
         * real ServerHello. */
        f->hrr = 1;
        return;
    }
    f->have_sh = 1;
    f->version = version;
    f->suite_id = suite;
    if (version != 0x0304) {
        /* §4.1.3: a ServerHello without supported_versions selecting 1.3
         * negotiates TLS 1.2 or older (legacy_version). */
        char why[96];
        f->tls12 = 1;
        f->state = "not decrypted";
        summary_note(f);
        snprintf(why, sizeof why, "TLS %s (EP requires TLS 1.3); not decrypted",
                 version_name(version));
        flow_stop(f, EW_ERR_BAD_VERSION, why);
        return;
    }
    f->suite = suite_find(suite);
    if (!f->suite) {
        char why[64];
        f->state = "not decrypted";
        summary_note(f);
        snprintf(why, sizeof why, "unsupported cipher suite 0x%04x", suite);
        flow_stop(f, EW_ERR_BAD_FIELD, why);
        return;
    }
    decide_keys(f);
}

/* ---- keys ---- */

/* Loads |secret| as the current traffic secret of |dir| and keys the AEAD
 * context; the record sequence number starts at 0 (§5.3). */
static int install(ew_tls13_flow *f, int dir, const uint8_t *secret, int epoch) {
    dir_state *d = &f->d[dir];
    uint8_t key[32];
    size_t kl;
    if (secret != d->secret)
        memcpy(d->secret, secret, f->suite->hash_len);
    int rc = ew_tls13_traffic_keys(f->suite->id, d->secret, f->suite->hash_len, key, &kl, d->iv);
    if (rc == EW_OK && EVP_DecryptInit_ex(d->ctx, f->suite->cipher(), NULL, key, NULL) != 1)
        rc = EW_ERR_NOMEM;
    OPENSSL_cleanse(key, sizeof key);
    if (rc != EW_OK) {
        dir_stop(f, dir, rc, "key derivation failed");
        return rc;
    }
    d->seq = 0;
    d->epoch = epoch;
    return EW_OK;
}

static void feed_dir(ew_tls13_flow *f, int dir, const uint8_t *p, size_t len);
static int process_record(ew_tls13_flow *f, int dir, const uint8_t *rec, size_t n);

/* A direction that waited for the other hello continues. */
static void resume(ew_tls13_flow *f, int dir) {
    dir_state *d = &f->d[dir];
    if (!d->waiting)
        return;
    d->waiting = 0;
    if (!d->stopped)
        (void)process_record(f, dir, d->rec, d->rec_len);
    d->rec_len = 0;
    size_t n = d->pend_len;
    d->pend_len = 0;
    if (n && !d->stopped)
        feed_dir(f, dir, d->pend, n);
}

/* With ClientHello and the final ServerHello seen: find the secrets. */
static void decide_keys(ew_tls13_flow *f) {
    if (f->keys != KEYS_UNDECIDED || !f->have_ch || !f->have_sh || !f->suite)
        return;
    const kl_entry *e = kl_find(f->kl, f->random);
    if (!f->kl || !e || !e->len[KL_CHS] || !e->len[KL_SHS]) {
        char why[128], hex[17];
        f->keys = KEYS_NONE;
        if (!f->kl) {
            f->state = "encrypted";
            snprintf(why, sizeof why,
                     "records are encrypted; a key log is needed (--keylog FILE from "
                     "SSLKEYLOGFILE)");
        } else {
            f->state = "no key log entry";
            ew_hex_encode(f->random, 8, hex, sizeof hex);
            snprintf(why, sizeof why, "no key log entry for client random %s...", hex);
        }
        summary_note(f);
        flow_stop(f, EW_ERR_NOT_FOUND, why);
        return;
    }
    if (e->len[KL_CHS] != f->suite->hash_len || e->len[KL_SHS] != f->suite->hash_len) {
        f->keys = KEYS_NONE;
        f->state = "not decrypted";
        summary_note(f);
        flow_stop(f, EW_ERR_DECRYPT, "key log secret length does not match the cipher suite");
        return;
    }
    f->keys = KEYS_READY;
    f->state = "decrypted";
    summary_note(f);
    (void)install(f, 0, e->secret[KL_CHS], EP_HANDSHAKE);
    (void)install(f, 1, e->secret[KL_SHS], EP_HANDSHAKE);
    resume(f, 0);
    resume(f, 1);
}

/* After this direction's Finished: the application traffic secret. */
static void switch_to_app(ew_tls13_flow *f, int dir) {
    const kl_entry *e = kl_find(f->kl, f->random);
    int idx = dir == 0 ? KL_CAP : KL_SAP;
    if (!e || e->len[idx] != f->suite->hash_len) {
        char why[96];
        snprintf(why, sizeof why, "no %s in the key log", kl_labels[idx]);
        dir_stop(f, dir, EW_ERR_NOT_FOUND, why);
        return;
    }
    (void)install(f, dir, e->secret[idx], EP_APP);
}

/* ---- decrypted handshake messages ---- */

static void cert_subject(ew_tls13_flow *f, int dir, const uint8_t *p, size_t n) {
    /* §4.4.2: certificate_request_context<0..2^8-1>,
     * CertificateEntry certificate_list<0..2^24-1>; the first entry's
     * cert_data<1..2^24-1> is the end-entity certificate (X.509 DER). */
    rd r = {p, n, 0};
    rd_vec(&r, 1);
    rd list = rd_vec(&r, 3);
    rd cert = rd_vec(&list, 3);
    if (cert.bad || cert.n == 0)
        return;
    const unsigned char *q = cert.p;
    X509 *x = d2i_X509(NULL, &q, (long)cert.n);
    if (!x)
        return;
    X509_NAME *nm = X509_get_subject_name(x);
    static const int nids[] = {NID_commonName, NID_organizationName, NID_organizationalUnitName};
    static const char *const tags[] = {"CN", "O", "OU"};
    char *out = f->subject[dir];
    size_t cap = sizeof f->subject[dir], used = 0;
    out[0] = 0;
    for (int i = 0; i < 3; i++) {
        int at = X509_NAME_get_index_by_NID(nm, nids[i], -1);
        if (at < 0)
            continue;
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, at));
        unsigned char *u = NULL;
        int ul = ASN1_STRING_to_UTF8(&u, s);
        if (ul >= 0 && used < cap) {
            char val[128];
            copy_str(val, sizeof val, u, (size_t)ul);
            int k = snprintf(out + used, cap - used, "%s%s=%s", used ? ", " : "", tags[i], val);
            if (k > 0)
                used += (size_t)k;
        }
        OPENSSL_free(u);
    }
    if (!out[0])
        snprintf(out, cap, "(no CN/O/OU)");
    X509_free(x);
}

static void handshake_msg(ew_tls13_flow *f, int dir, int encrypted, uint8_t type, const uint8_t *p,
                          size_t n) {
    if (!encrypted) {
        if (dir == 0 && type == 1)
            parse_client_hello(f, p, n);
        else if (dir == 1 && type == 2)
            parse_server_hello(f, p, n);
        return;
    }
    switch (type) {
    case 8: { /* EncryptedExtensions: the selected ALPN protocol */
        rd r = {p, n, 0};
        rd exts = rd_vec(&r, 2);
        while (!exts.bad && exts.n >= 4) {
            size_t et = rd_uint(&exts, 2);
            rd e = rd_vec(&exts, 2);
            if (!e.bad && et == 16)
                first_alpn(f->alpn, sizeof f->alpn, e);
        }
        break;
    }
    case 13: /* CertificateRequest: mutual TLS */
        f->mutual = 1;
        break;
    case 11: /* Certificate */
        cert_subject(f, dir, p, n);
        /* Summary again once the subjects are known: the server's, and the
         * client's when the server asked for one.  (The client's may be
         * decrypted first when its stream was fed first.) */
        if (!f->subjects_done && f->subject[1][0] &&
            (!f->mutual || f->subject[0][0] || f->d[0].stopped)) {
            f->subjects_done = 1;
            summary_note(f);
        }
        break;
    case 20: /* Finished: the next record uses the application secret */
        if (f->d[dir].epoch == EP_HANDSHAKE)
            switch_to_app(f, dir);
        break;
    case 24: { /* KeyUpdate (§4.6.3, §7.2) */
        dir_state *d = &f->d[dir];
        uint8_t next[SECRET_MAX];
        if (ew_tls13_next_secret(f->suite->id, d->secret, f->suite->hash_len, next) != EW_OK) {
            dir_stop(f, dir, EW_ERR_NOMEM, "key update failed");
            break;
        }
        (void)install(f, dir, next, d->epoch);
        OPENSSL_cleanse(next, sizeof next);
        break;
    }
    default:
        break;
    }
}

/* Appends handshake bytes and handles every complete message (§4: messages
 * may span records and records may hold several). */
static void handshake_bytes(ew_tls13_flow *f, int dir, int encrypted, const uint8_t *p, size_t n) {
    dir_state *d = &f->d[dir];
    while (n && !d->stopped) {
        if (d->hs_skip) {
            size_t k = n < d->hs_skip ? n : d->hs_skip;
            d->hs_skip -= k;
            p += k;
            n -= k;
            continue;
        }
        size_t k = HS_CAP - d->hs_len < n ? HS_CAP - d->hs_len : n;
        memcpy(d->hs + d->hs_len, p, k);
        d->hs_len += k;
        p += k;
        n -= k;
        size_t off = 0;
        while (d->hs_len - off >= 4 && !d->stopped) {
            const uint8_t *m = d->hs + off;
            size_t ml = (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
            if (4 + ml > HS_CAP) {
                /* Too big to hold: skip it. */
                size_t have = d->hs_len - off - 4;
                d->hs_skip = ml - have;
                off = d->hs_len;
                break;
            }
            if (d->hs_len - off < 4 + ml)
                break;
            handshake_msg(f, dir, encrypted, m[0], m + 4, ml);
            off += 4 + ml;
        }
        if (off) {
            memmove(d->hs, d->hs + off, d->hs_len - off);
            d->hs_len -= off;
        }
    }
}

static const char *alert_name(uint8_t desc) {
    switch (desc) {
    case 0:
        return "close_notify";
    case 10:
        return "unexpected_message";
    case 20:
        return "bad_record_mac";
    case 22:
        return "record_overflow";
    case 40:
        return "handshake_failure";
    case 42:
        return "bad_certificate";
    case 43:
        return "unsupported_certificate";
    case 44:
        return "certificate_revoked";
    case 45:
        return "certificate_expired";
    case 46:
        return "certificate_unknown";
    case 47:
        return "illegal_parameter";
    case 48:
        return "unknown_ca";
    case 49:
        return "access_denied";
    case 50:
        return "decode_error";
    case 51:
        return "decrypt_error";
    case 70:
        return "protocol_version";
    case 71:
        return "insufficient_security";
    case 80:
        return "internal_error";
    case 86:
        return "inappropriate_fallback";
    case 90:
        return "user_canceled";
    case 109:
        return "missing_extension";
    case 110:
        return "unsupported_extension";
    case 112:
        return "unrecognized_name";
    case 113:
        return "bad_certificate_status_response";
    case 115:
        return "unknown_psk_identity";
    case 116:
        return "certificate_required";
    case 120:
        return "no_application_protocol";
    default:
        return NULL;
    }
}

static void alert(ew_tls13_flow *f, int dir, const uint8_t *p, size_t n) {
    char text[64];
    if (n < 2) {
        note(f, dir, EW_TLS13_NOTE_ALERT, 0, "truncated alert");
        return;
    }
    const char *name = alert_name(p[1]);
    const char *level = p[0] == 1 ? "warning" : p[0] == 2 ? "fatal" : "level?";
    if (name)
        snprintf(text, sizeof text, "%s %s", level, name);
    else
        snprintf(text, sizeof text, "%s alert %u", level, p[1]);
    note(f, dir, EW_TLS13_NOTE_ALERT, 0, text);
}

/* Opens an encrypted record (§5.2, §5.3) into d->plain; returns the
 * TLSInnerPlaintext length after removing padding, or -1. */
static void auth_failed(ew_tls13_flow *f, int dir) {
    /* 0-RTT records (§2.3, §4.2.10) use the client_early_traffic_secret,
     * which is not read: the first client record failing after a
     * ClientHello with early_data is most likely one of them. */
    if (dir == 0 && f->early && f->d[0].epoch == EP_HANDSHAKE && f->d[0].seq == 0)
        dir_stop(f, dir, EW_ERR_DECRYPT,
                 "record failed to authenticate: 0-RTT early data is not supported");
    else
        dir_stop(f, dir, EW_ERR_DECRYPT,
                 "record failed to authenticate: wrong secret in the key log");
}

static int open_record(ew_tls13_flow *f, int dir, const uint8_t *rec, size_t n, uint8_t *type) {
    dir_state *d = &f->d[dir];
    size_t body = n - REC_HDR;
    if (body < TAG_LEN + 1) {
        auth_failed(f, dir);
        return -1;
    }
    /* §5.3: nonce = iv XOR the 64-bit sequence number, left-padded to 12. */
    uint8_t nonce[12];
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
    size_t ct = body - TAG_LEN;
    int ol = 0, fl = 0;
    /* §5.2: additional_data = the record header. */
    int ok = EVP_DecryptInit_ex(d->ctx, NULL, NULL, NULL, nonce) == 1 &&
             EVP_DecryptUpdate(d->ctx, NULL, &ol, rec, REC_HDR) == 1 &&
             EVP_DecryptUpdate(d->ctx, d->plain, &ol, rec + REC_HDR, (int)ct) == 1 &&
             EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
                                 (void *)(rec + REC_HDR + ct)) == 1 &&
             EVP_DecryptFinal_ex(d->ctx, d->plain + ol, &fl) == 1;
    if (!ok) {
        auth_failed(f, dir);
        return -1;
    }
    d->seq++;
    /* §5.4: zero padding follows the real content type. */
    size_t len = (size_t)ol + (size_t)fl;
    while (len && d->plain[len - 1] == 0)
        len--;
    if (len == 0) {
        dir_stop(f, dir, EW_ERR_PROTO, "decrypted record has no content type");
        return -1;
    }
    *type = d->plain[len - 1];
    return (int)(len - 1);
}

#define RECORD_WAIT 1

/* One complete record of |n| bytes (header included). */
static int process_record(ew_tls13_flow *f, int dir, const uint8_t *rec, size_t n) {
    dir_state *d = &f->d[dir];
    uint8_t type = rec[0];
    const uint8_t *body = rec + REC_HDR;
    size_t bl = n - REC_HDR;
    switch (type) {
    case 20: /* change_cipher_spec: compatibility only in 1.3 (§5, D.4) */
        return 0;
    case 21:
        alert(f, dir, body, bl);
        return 0;
    case 22:
        handshake_bytes(f, dir, 0, body, bl);
        return 0;
    default: /* 23: encrypted */
        break;
    }
    if (d->epoch == EP_NONE) {
        if (f->keys == KEYS_UNDECIDED && !f->tls12)
            return RECORD_WAIT;
        return 0; /* no keys: the STOP note was given */
    }
    uint8_t inner;
    int pl = open_record(f, dir, rec, n, &inner);
    if (pl < 0)
        return 0;
    if (inner == 23) {
        if (f->cb.data && pl > 0)
            f->cb.data(f->cb.user, dir, d->plain, (size_t)pl);
    } else if (inner == 22) {
        handshake_bytes(f, dir, 1, d->plain, (size_t)pl);
    } else if (inner == 21) {
        alert(f, dir, d->plain, (size_t)pl);
    }
    return 0;
}

/* Keeps |len| bytes while the direction waits for the other hello. */
static void hold(ew_tls13_flow *f, int dir, const uint8_t *p, size_t len) {
    dir_state *d = &f->d[dir];
    if (d->pend_len + len > d->pend_cap) {
        size_t nc = d->pend_cap ? d->pend_cap : 16384;
        while (nc < d->pend_len + len && nc < PEND_MAX)
            nc *= 2;
        if (nc < d->pend_len + len) {
            dir_stop(f, dir, EW_ERR_TOO_BIG,
                     "too many encrypted bytes before the other side's hello");
            return;
        }
        uint8_t *np = realloc(d->pend, nc);
        if (!np) {
            dir_stop(f, dir, EW_ERR_NOMEM, "out of memory");
            return;
        }
        d->pend = np;
        d->pend_cap = nc;
    }
    memcpy(d->pend + d->pend_len, p, len);
    d->pend_len += len;
}

/* Checks a record header; returns 0 when it is acceptable. */
static int header_ok(const uint8_t *h) {
    return h[0] >= 20 && h[0] <= 23 && h[1] == 3 && h[2] <= 4;
}

static void feed_dir(ew_tls13_flow *f, int dir, const uint8_t *p, size_t len) {
    dir_state *d = &f->d[dir];
    while (len) {
        if (d->stopped || f->not_tls)
            return;
        if (d->waiting) {
            hold(f, dir, p, len);
            return;
        }
        const uint8_t *rec;
        size_t rl;
        if (d->rec_len < REC_HDR) {
            size_t k = REC_HDR - d->rec_len < len ? REC_HDR - d->rec_len : len;
            if (d->rec_len == 0 && len >= REC_HDR) {
                k = 0; /* header read in place below */
            } else {
                memcpy(d->rec + d->rec_len, p, k);
                d->rec_len += k;
                p += k;
                len -= k;
                if (d->rec_len < REC_HDR)
                    return;
            }
        }
        const uint8_t *h = d->rec_len ? d->rec : p;
        if (!header_ok(h)) {
            if (d->records == 0) {
                f->not_tls = 1;
                note(f, dir, EW_TLS13_NOTE_STOP, EW_ERR_PROTO, "not TLS");
            } else {
                dir_stop(f, dir, EW_ERR_PROTO, "record header out of sync");
            }
            return;
        }
        size_t body = (size_t)h[3] << 8 | h[4];
        if (body > REC_MAX) {
            dir_stop(f, dir, EW_ERR_TOO_BIG, "record larger than 2^14 + 256 bytes");
            return;
        }
        if (d->rec_len == 0 && len >= REC_HDR + body) {
            /* Whole record in the input: no copy. */
            rec = p;
            rl = REC_HDR + body;
            p += rl;
            len -= rl;
        } else {
            size_t want = REC_HDR + body - d->rec_len;
            size_t k = want < len ? want : len;
            memcpy(d->rec + d->rec_len, p, k);
            d->rec_len += k;
            p += k;
            len -= k;
            if (d->rec_len < REC_HDR + body)
                return;
            rec = d->rec;
            rl = d->rec_len;
        }
        d->records++;
        if (process_record(f, dir, rec, rl) == RECORD_WAIT) {
            if (rec != d->rec)
                memcpy(d->rec, rec, rl);
            d->rec_len = rl;
            d->waiting = 1;
            continue; /* the rest goes to the pending buffer */
        }
        d->rec_len = 0;
    }
}

int ew_tls13_flow_feed(ew_tls13_flow *f, int dir, const uint8_t *p, size_t len) {
    if (!f || dir < 0 || dir > 1 || (!p && len))
        return EW_ERR_INVAL;
    if (f->not_tls)
        return EW_ERR_PROTO;
    feed_dir(f, dir, p, len);
    if (f->not_tls)
        return EW_ERR_PROTO;
    return EW_OK;
}

void ew_tls13_flow_gap(ew_tls13_flow *f, int dir) {
    if (!f || dir < 0 || dir > 1 || f->not_tls)
        return;
    dir_stop(f, dir, EW_ERR_TRUNCATED, "bytes lost in this direction (gap)");
}
