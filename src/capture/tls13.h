/*
 * Passive TLS 1.3 decryption for capture decoding (internal to
 * energywire_capture).
 *
 * Given the two reassembled byte streams of one TCP connection and the
 * secrets from an NSS key log (SSLKEYLOGFILE), this recovers the
 * application data both ways: it parses the records, reads ClientHello
 * (client random, SNI, offered versions) and ServerHello (chosen version
 * and cipher suite, HelloRetryRequest), derives the record keys with
 * HKDF-Expand-Label (RFC 8446 §7.1, §7.3) through OpenSSL's EVP_KDF HKDF,
 * and opens the records with EVP AEAD (TLS_AES_128_GCM_SHA256,
 * TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256), switching from
 * handshake to application secrets after each side's Finished and
 * following KeyUpdate.  The decrypted Certificate message gives the
 * server's and client's subject for the summary.  Without keys it still
 * reports the handshake summary and says why it stops.
 */
#ifndef EW_CAPTURE_TLS13_H
#define EW_CAPTURE_TLS13_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/ew.h>

/* A parsed key log: client random -> the four traffic secrets. */
typedef struct ew_tls13_keylog ew_tls13_keylog;

/*
 * Parses NSS key log text (|len| bytes; lines "LABEL <client_random hex>
 * <secret hex>", '#' comments and unknown labels ignored; the labels used
 * are CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET,
 * CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0; hex in any case; a
 * line with one of these labels and bad hex is skipped and counted, see
 * ew_tls13_keylog_bad_lines()).  On success |*kl| receives the key log,
 * owned by the caller, which must keep it alive while flows use it.
 * Returns `EW_OK`, or one of: `EW_ERR_SYNTAX` (no usable line; |detail|,
 * if not NULL, receives why in |detail_cap| bytes with NUL; |*kl| is
 * NULL), `EW_ERR_INVAL`, `EW_ERR_NOMEM`.  The secrets are wiped on _del.
 */
int ew_tls13_keylog_parse(ew_tls13_keylog **kl, const char *text, size_t len, char *detail,
                          size_t detail_cap);
void ew_tls13_keylog_del(ew_tls13_keylog *kl);
/* Number of client randoms with at least one secret. */
size_t ew_tls13_keylog_count(const ew_tls13_keylog *kl);
/* Number of lines skipped because a label this parser uses came with bad
 * hex (wrong length, odd digits, not hex). */
size_t ew_tls13_keylog_bad_lines(const ew_tls13_keylog *kl);

/* The TLS 1.3 cipher suites that can be opened. */
#define EW_TLS13_AES_128_GCM_SHA256 0x1301
#define EW_TLS13_AES_256_GCM_SHA384 0x1302
#define EW_TLS13_CHACHA20_POLY1305_SHA256 0x1303

/* IANA name of cipher suite |suite| ("TLS_AES_128_GCM_SHA256"), or NULL
 * when it is not one of the three above. */
const char *ew_tls13_suite_name(uint16_t suite);

/*
 * The record key and IV of traffic secret |secret| (|secret_len| bytes,
 * the hash length of |suite|) for |suite| (RFC 8446 §7.3):
 * key = HKDF-Expand-Label(secret, "key", "", key_length) into |key| (32
 * bytes of room; |*key_len| receives 16 or 32) and iv =
 * HKDF-Expand-Label(secret, "iv", "", 12) into |iv|.  Returns `EW_OK`,
 * `EW_ERR_INVAL` (unknown suite, wrong secret length) or `EW_ERR_NOMEM`
 * (OpenSSL failed).  Exposed for the key schedule tests.
 */
int ew_tls13_traffic_keys(uint16_t suite, const uint8_t *secret, size_t secret_len, uint8_t *key,
                          size_t *key_len, uint8_t iv[12]);

/* The next traffic secret after a KeyUpdate (RFC 8446 §7.2):
 * HKDF-Expand-Label(|secret|, "traffic upd", "", Hash.length), written to
 * |next| (|secret_len| bytes).  Returns `EW_OK`, `EW_ERR_INVAL` or
 * `EW_ERR_NOMEM`. */
int ew_tls13_next_secret(uint16_t suite, const uint8_t *secret, size_t secret_len, uint8_t *next);

/* One TCP connection.  Direction 0 = client -> server, 1 = server -> client. */
typedef struct ew_tls13_flow ew_tls13_flow;

typedef enum ew_tls13_note {
    /* The handshake summary is complete enough to print (after
     * ServerHello, and again once the certificate subject is known). */
    EW_TLS13_NOTE_SUMMARY = 1,
    /* Decryption stops in one direction or both: |text| says why (no key
     * log entry for this client random, TLS 1.2 (not EP), a record that
     * does not authenticate, a gap, an unsupported cipher suite). */
    EW_TLS13_NOTE_STOP = 2,
    /* An alert record (plaintext or decrypted): |text| names it. */
    EW_TLS13_NOTE_ALERT = 3
} ew_tls13_note;

typedef struct ew_tls13_cb {
    /* Decrypted application data of direction |dir|, in order. */
    void (*data)(void *user, int dir, const uint8_t *p, size_t len);
    /* A note; |text| valid during the call.  |dir| is 0 or 1, or -1 when
     * the note is about the whole connection (SUMMARY, no key log entry,
     * TLS 1.2, unsupported suite).  |err| is 0 for SUMMARY and ALERT, else
     * the closest `ew_err` (`EW_ERR_NOT_FOUND` no keys, `EW_ERR_DECRYPT`
     * authentication failure, `EW_ERR_TRUNCATED` gap, `EW_ERR_BAD_VERSION`
     * TLS 1.2 or older, `EW_ERR_BAD_FIELD` unsupported suite,
     * `EW_ERR_TOO_BIG` oversized record, `EW_ERR_PROTO` not TLS or a
     * malformed message).  Because one direction can wait for the other's
     * hello (a stream fed before the other), the callbacks of a direction
     * may run inside a feed call of the other direction. */
    void (*note)(void *user, int dir, ew_tls13_note kind, int err, const char *text);
    void *user;
} ew_tls13_cb;

/* |kl| may be NULL (no keys).  The flow keeps a pointer to |kl|. */
int ew_tls13_flow_new(ew_tls13_flow **f, const ew_tls13_keylog *kl, const ew_tls13_cb *cb);
void ew_tls13_flow_del(ew_tls13_flow *f);

/*
 * Feeds |len| in-order stream bytes of direction |dir|, chunked any way.
 * Returns `EW_OK`, or `EW_ERR_PROTO` once the stream is not TLS (the first
 * record header of a direction is not TLS; sticky: the caller may fall
 * back to plaintext EP), or `EW_ERR_INVAL` (bad |dir|, NULL pointer).
 * Other trouble, including running out of memory for held bytes, is
 * reported through the note callback and the flow keeps going where it
 * can.  The plaintext is delivered as each record completes; nothing is
 * allocated per record.
 */
int ew_tls13_flow_feed(ew_tls13_flow *f, int dir, const uint8_t *p, size_t len);

/* Bytes were lost in direction |dir|: decryption of that direction stops
 * (record boundaries and sequence numbers are gone); a STOP note says so. */
void ew_tls13_flow_gap(ew_tls13_flow *f, int dir);

/* 1 when the first bytes of |p| look like a TLS record (handshake, type 22,
 * version 0x0301..0x0304).  |len| >= 3 needed; fewer answers 0. */
int ew_tls13_looks_like_tls(const uint8_t *p, size_t len);

/* The summary so far: "TLS 1.3, TLS_AES_256_GCM_SHA384, SNI -, server CN=..,
 * client CN=..; decrypted" (|buf|, |cap| bytes with NUL). */
void ew_tls13_flow_summary(const ew_tls13_flow *f, char *buf, size_t cap);

#endif
