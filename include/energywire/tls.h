/*
 * energywire TLS endpoint (library energywire_io, OpenSSL 3).
 *
 * A TLS 1.3 endpoint for EP (ep.md §5.2) that never touches a socket: cipher
 * bytes from the network go in with ew_tls_feed_cipher(), bytes to send come
 * out of ew_tls_take_cipher(), and application data passes through
 * ew_tls_write_plain()/ew_tls_read_plain().  The caller owns the socket and
 * the loop, as with the sans-I/O sessions.
 *
 * Policy, fixed by EP: TLS 1.3 is both the minimum and the maximum version
 * (no fallback); both roles present a certificate; the server requests and
 * requires the client's.  A peer is trusted when its chain verifies against
 * the configured CA certificates, or when the SHA-256 fingerprint of its
 * certificate (DER) is on the configured list (self-signed allowed).  There
 * is no "accept any" mode.  Host name checks are not done: EP peers are
 * identified by the EP identity, which the caller compares with the
 * certificate fields returned by ew_tls_peer_field() (§5.4: identity = CN or
 * a subjectAltName URI/DNS, tenant = O, provider = OU).
 *
 *     ew_tls_opts o;
 *     ew_tls_opts_init(&o);
 *     o.role = EW_TLS_CLIENT;
 *     o.cert_file = "dev.crt"; o.key_file = "dev.key"; o.ca_file = "ca.pem";
 *     ew_tls_ctx_new(&ctx, &o);
 *     ew_tls_new(&t, ctx);
 *     for (;;) {
 *         while ((n = ew_tls_take_cipher(t, &out)) > 0) {
 *             write_all(fd, out, n); ew_tls_cipher_done(t, n);
 *         }
 *         n = read(fd, in, sizeof in);
 *         if (ew_tls_feed_cipher(t, in, n) < 0) fail(ew_tls_error_detail(t));
 *         while ((n = ew_tls_read_plain(t, buf, sizeof buf)) > 0) use(buf, n);
 *     }
 *
 * Objects are used by one thread at a time.  Secrets (keys, traffic
 * secrets) are never logged; the key-log callback is the only way out.
 *
 * This header includes only <stdint.h>, <stddef.h> and energywire headers.
 */
#ifndef ENERGYWIRE_TLS_H
#define ENERGYWIRE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/ew.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Codes of the TLS layer, in addition to `ew_err` (ew_tls_strerror() knows
 * them).  After any of them the endpoint is failed; the error is sticky.
 *
 * `EW_TLS_ERR_VERSION`: the peer does not speak TLS 1.3 (it offered or chose
 * TLS 1.2 or older, or refused 1.3 with a protocol_version alert).
 * `EW_TLS_ERR_UNTRUSTED`: the peer's certificate is neither signed by a
 * trusted CA nor on the fingerprint list; the detail names its subject and
 * SHA-256 fingerprint.
 * `EW_TLS_ERR_NO_PEER_CERT`: the peer (a client) sent no certificate.
 * `EW_TLS_ERR_HANDSHAKE`: any other handshake failure, including an alert
 * from the peer (for example when the peer refused our certificate); the
 * detail says which.
 */
#define EW_TLS_ERR_VERSION (-110)
#define EW_TLS_ERR_UNTRUSTED (-111)
#define EW_TLS_ERR_NO_PEER_CERT (-112)
#define EW_TLS_ERR_HANDSHAKE (-113)

/* Returns a short English text for |rc| (static, never NULL); falls back to
 * ew_io_strerror(), which knows the EW_IO_ERR_* codes and ew_err. */
EW_API const char *ew_tls_strerror(int rc);

/* Returns the symbolic name of |rc| ("EW_TLS_ERR_VERSION",
 * "EW_IO_ERR_UNREACHABLE", "EW_ERR_INVAL"). */
EW_API const char *ew_tls_errname(int rc);

/* Length of a SHA-256 fingerprint: raw bytes and lower-case hex with NUL. */
#define EW_TLS_FP_LEN 32
#define EW_TLS_FP_HEX_LEN 65

typedef enum ew_tls_role { EW_TLS_CLIENT = 0, EW_TLS_SERVER = 1 } ew_tls_role;

/*
 * Key-log callback: |line| is one NSS SSLKEYLOGFILE line without newline
 * ("CLIENT_HANDSHAKE_TRAFFIC_SECRET <client_random> <secret>", ...), valid
 * during the call.  It contains secrets: write it only where asked to.
 */
typedef void (*ew_tls_keylog_fn)(void *user, const char *line);

typedef struct ew_tls_opts {
    /* EW_TLS_CLIENT (opens the TCP connection) or EW_TLS_SERVER. */
    ew_tls_role role;
    /* Own certificate (chain, leaf first) and private key: PEM file paths,
     * or NUL-terminated PEM text (the text wins when both are set).
     * Required.  Read during ew_tls_ctx_new() only. */
    const char *cert_file, *key_file;
    const char *cert_pem, *key_pem;
    /* Trusted CA certificates: a PEM file and/or NUL-terminated PEM text
     * with one or more certificates. */
    const char *ca_file, *ca_pem;
    /* Trusted device list: |n_pins| SHA-256 fingerprints of certificates
     * (DER), EW_TLS_FP_LEN bytes each, back to back (copied). */
    const uint8_t *pins;
    size_t n_pins;
    /* Most cipher bytes buffered in either direction (default 256 KiB):
     * ew_tls_feed_cipher()/ew_tls_write_plain() return EW_ERR_NOBUF beyond. */
    size_t max_buffer;
    /* Optional key-log callback (see ew_tls_keylog_fn). */
    ew_tls_keylog_fn keylog;
    void *keylog_user;
} ew_tls_opts;

/* Fills |o| with the defaults: client role, nothing trusted. */
EW_API void ew_tls_opts_init(ew_tls_opts *o);

typedef struct ew_tls_ctx ew_tls_ctx;
typedef struct ew_tls ew_tls;

/*
 * Creates a TLS context (certificate, key, trust, policy) shared by any
 * number of endpoints, in |*pctx|.  Free with ew_tls_ctx_del() after the
 * last endpoint.  Returns `EW_OK`, or one of: `EW_ERR_INVAL` (no
 * certificate or key, nothing trusted, a file or PEM that does not load, a
 * key that does not match the certificate; |detail| if not NULL receives
 * the reason, |detail_cap| bytes with NUL), `EW_ERR_NOMEM`.
 */
EW_API int ew_tls_ctx_new(ew_tls_ctx **pctx, const ew_tls_opts *o, char *detail, size_t detail_cap);
EW_API void ew_tls_ctx_del(ew_tls_ctx *ctx);

/*
 * Creates an endpoint on |ctx| in |*pt|.  A client has its ClientHello
 * ready in ew_tls_take_cipher() at once.  Returns `EW_OK` or `EW_ERR_NOMEM`.
 */
EW_API int ew_tls_new(ew_tls **pt, ew_tls_ctx *ctx);
EW_API void ew_tls_del(ew_tls *t);

typedef enum ew_tls_state {
    EW_TLS_HANDSHAKE = 0, /* handshake running */
    EW_TLS_OPEN = 1,      /* handshake done: application data flows */
    EW_TLS_CLOSED = 2,    /* close_notify received */
    EW_TLS_FAILED = 3     /* ew_tls_error() says why */
} ew_tls_state;

EW_API ew_tls_state ew_tls_get_state(const ew_tls *t);

/* The sticky error (EW_OK while not failed) and a one-line note on it
 * (static storage of |t|, "" when none). */
EW_API int ew_tls_error(const ew_tls *t);
EW_API const char *ew_tls_error_detail(const ew_tls *t);

/*
 * Passes |len| cipher bytes received from the peer and advances the
 * handshake.  Returns |len|, or one of: `EW_ERR_NOBUF` (more than
 * |max_buffer| bytes are waiting: call ew_tls_read_plain() first), a
 * `EW_TLS_ERR_*` code (the handshake failed; an alert for the peer may wait
 * in ew_tls_take_cipher()), `EW_ERR_NOMEM`.
 */
EW_API int ew_tls_feed_cipher(ew_tls *t, const uint8_t *in, size_t len);

/*
 * Reads up to |cap| bytes of decrypted application data into |buf|.
 * Returns the number of bytes, or one of: `EW_ERR_NEED_MORE` (feed more
 * cipher bytes), `EW_ERR_CLOSED` (the peer sent close_notify), a
 * `EW_TLS_ERR_*` code or `EW_ERR_PROTO` (the connection failed).
 */
EW_API int ew_tls_read_plain(ew_tls *t, uint8_t *buf, size_t cap);

/*
 * Encrypts |len| bytes of application data; the records wait in
 * ew_tls_take_cipher().  Only in state EW_TLS_OPEN.  Returns |len|, or one
 * of: `EW_ERR_STATE` (handshake not finished, closed), `EW_ERR_NOBUF` (more
 * than |max_buffer| cipher bytes are waiting to be sent), the sticky error.
 */
EW_API int ew_tls_write_plain(ew_tls *t, const uint8_t *data, size_t len);

/*
 * Points |*out| at cipher bytes to send.  The view stays valid until the
 * next call on |t|.  Returns their number (0: nothing to send).  Report
 * what was sent with ew_tls_cipher_done().
 */
EW_API int ew_tls_take_cipher(ew_tls *t, const uint8_t **out);
EW_API void ew_tls_cipher_done(ew_tls *t, size_t n);

/* Queues close_notify (take it with ew_tls_take_cipher()). */
EW_API int ew_tls_close(ew_tls *t);

/*
 * Writes the SHA-256 fingerprint of the peer's certificate as lower-case
 * hex into |hex| (EW_TLS_FP_HEX_LEN bytes) and, if |raw| is not NULL, as
 * EW_TLS_FP_LEN bytes into |raw|.  Returns `EW_OK` or `EW_ERR_STATE` (no
 * peer certificate yet).
 */
EW_API int ew_tls_peer_fingerprint(const ew_tls *t, char *hex, uint8_t *raw);

typedef enum ew_tls_field {
    EW_TLS_FIELD_CN = 0,      /* subject commonName (EP identity) */
    EW_TLS_FIELD_O = 1,       /* subject organizationName (EP tenant) */
    EW_TLS_FIELD_OU = 2,      /* subject organizationalUnitName (EP provider) */
    EW_TLS_FIELD_SAN_URI = 3, /* first subjectAltName URI */
    EW_TLS_FIELD_SAN_DNS = 4  /* first subjectAltName DNS name */
} ew_tls_field;

/*
 * Copies field |f| of the peer certificate into |buf| (|cap| bytes, NUL
 * terminated).  Returns its length, or one of: `EW_ERR_STATE` (no peer
 * certificate), `EW_ERR_NOT_FOUND`, `EW_ERR_NOBUF`, `EW_ERR_INVAL`.
 */
EW_API int ew_tls_peer_field(const ew_tls *t, ew_tls_field f, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Certificate generation (EC P-256, SHA-256)                                */
/* ------------------------------------------------------------------------ */

typedef struct ew_tls_cert_opts {
    /* Subject: CN (required), O and OU (optional).  For a device: CN = EP
     * identity, O = tenant, OU = provider (ep.md §5.4). */
    const char *cn, *o, *ou;
    /* Optional subjectAltNames (no ',' allowed). */
    const char *san_uri, *san_dns;
    /* Validity from now (default 365 when 0). */
    uint32_t days;
} ew_tls_cert_opts;

/*
 * Makes a self-signed CA (basicConstraints CA:TRUE, keyUsage keyCertSign and
 * cRLSign) with subject |o|.  |*cert_pem| and |*key_pem| receive
 * NUL-terminated PEM text (key unencrypted PKCS#8), owned by the caller:
 * free with ew_tls_free().  Returns `EW_OK`, `EW_ERR_INVAL`, `EW_ERR_NOMEM`.
 */
EW_API int ew_tls_make_ca(const ew_tls_cert_opts *o, char **cert_pem, char **key_pem);

/*
 * Makes a device certificate (CA:FALSE, keyUsage digitalSignature,
 * extKeyUsage serverAuth and clientAuth: usable in both roles) with subject
 * and SANs from |o|, signed by the CA |ca_cert_pem|/|ca_key_pem|.  Output as
 * for ew_tls_make_ca().
 */
EW_API int ew_tls_make_cert(const char *ca_cert_pem, const char *ca_key_pem,
                            const ew_tls_cert_opts *o, char **cert_pem, char **key_pem);

/* SHA-256 fingerprint of the first certificate in |cert_pem| (raw bytes).
 * Returns `EW_OK` or `EW_ERR_INVAL`. */
EW_API int ew_tls_cert_fingerprint(const char *cert_pem, uint8_t raw[EW_TLS_FP_LEN]);

/* Frees PEM text returned above (wiping it first). */
EW_API void ew_tls_free(char *pem);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_TLS_H */
