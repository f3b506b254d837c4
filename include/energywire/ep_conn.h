/*
 * energywire EP session: a sans-I/O Energy Protocol peer built on the codec
 * in <energywire/ep.h>.
 *
 * Plaintext bytes in and out (the TLS layer feeds decrypted bytes).  Both
 * roles behave the same (ep.md §1 "EP is symmetric"): each side sends its
 * SessionParameters at once and waits for the peer's (§5.3), publishes its
 * Supply/Demand/Storage parameters at a configured rate (§5.5), sends Ping
 * when it publishes nothing, applies the 200 ms liveness rule while an
 * energy transfer is active and an idle timeout otherwise, checks the peer's
 * identity/tenant/provider against what the certificate says (§5.4) and
 * handles SoftDisconnect (§5.7).  It never touches a socket or a clock; the
 * caller passes a monotonic time in milliseconds.  See docs/ep-session.md.
 */
#ifndef ENERGYWIRE_EP_CONN_H
#define ENERGYWIRE_EP_CONN_H

#include <energywire/ep.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One session.  Used by one thread at a time. */
typedef struct ew_ep_conn ew_ep_conn;

/* Who opened the TCP connection (only the duplicate rule cares, §6.3). */
typedef enum ew_ep_role { EW_EP_ROLE_INITIATOR = 0, EW_EP_ROLE_ACCEPTOR = 1 } ew_ep_role;

/* Longest identity, tenant and provider the session stores (bytes). */
#define EW_EP_CONN_ID_MAX 255

/* Reason text of the SoftDisconnect sent for a duplicate connection (§6.3). */
#define EW_EP_REASON_DUPLICATE "duplicate connection"

typedef struct ew_ep_conn_opts {
    /* The caller's monotonic clock (ms) at creation: TLS is up, the own
     * SessionParameters are queued now and the handshake timer starts. */
    uint64_t now_ms;
    ew_ep_role role;
    /* Own SessionParameters (§4.2), NUL-terminated, read in _new() only.
     * |identity| is required (§10.3 U11: always send identity); NULL
     * others are left out. */
    const char *identity, *device_type, *version, *name, *tenant, *provider, *session_id;
    /* What the peer certificate says (§5.4); NULL = not checked.  May also
     * be set later with ew_ep_conn_set_expected_peer(). */
    const char *expect_identity, *expect_tenant, *expect_provider;
    /* 1: a mismatch is reported and the session goes on (verification
     * off, §5.4 "log a warning and go on").  0 (default): SoftDisconnect
     * (reconnect=false, "identity mismatch") and close. */
    int mismatch_continue;
    /* Timers (§5.5 table).  Defaults: handshake 5000, publish 10 Hz (1..100,
     * §5.5 point 2), idle Ping 1000 ms, liveness 200 ms during a transfer and
     * 5000 ms idle (0 = no idle timeout). */
    uint32_t handshake_timeout_ms;
    unsigned publish_hz;
    uint32_t ping_interval_ms;
    uint32_t transfer_timeout_ms;
    uint32_t idle_timeout_ms;
    /* 1 (default): a Supply/Demand/Storage message from the peer means the
     * peer thinks a transfer is active until its next Ping (§5.5, KENETH's
     * rule); the 200 ms rule then applies.  0: only ew_ep_conn_set_transfer(). */
    int derive_transfer;
    /* Largest payload received (default EW_EP_PAYLOAD_MAX_DEFAULT); the
     * receive buffer is this plus 16 bytes. */
    size_t max_payload;
    /* Largest encoded payload of each published parameter set (default 1024). */
    size_t param_cap;
    /* Send buffer (default 16384; at least 512). */
    size_t out_cap;
    /* Bytes skipped by resync since the last good frame that close the
     * session (default 4096, §2.4 point 5; 0 = never). */
    size_t garbage_max;
    /* Optional log callback (level 0 = error .. 3 = debug). */
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
} ew_ep_conn_opts;

/* Fills |o| with the defaults (identity still has to be set). */
EW_API void ew_ep_conn_opts_init(ew_ep_conn_opts *o);

typedef enum ew_ep_conn_event_type {
    /* The peer's SessionParameters arrived and passed the checks: |msg|. */
    EW_EP_EV_HANDSHAKE = 1,
    /* A message after the handshake: Supply, Demand, Storage, a repeated
     * SessionParameters, or an unknown type (|msg.type| unknown, payload in
     * |msg.raw|; never fatal, §4).  Pings are counted, not reported. */
    EW_EP_EV_MESSAGE = 2,
    /* A frame whose payload did not decode (|err|, |msg.type|, |frame|):
     * discarded, the connection stays (§2.3, §5.8). */
    EW_EP_EV_REJECTED = 3,
    /* The peer sent SoftDisconnect: |reconnect| (-1 when absent), |reason|.
     * The session stops publishing and closes (§5.7); CLOSED follows. */
    EW_EP_EV_SOFT_DISCONNECT = 4,
    /* The peer's SessionParameters differ from the expected certificate
     * identity: |mismatch| has EW_EP_ID_* bits, |msg| the message. */
    EW_EP_EV_IDENTITY_MISMATCH = 5,
    /* The session ended: |close_reason| (EW_EP_CLOSE_*), |err|. */
    EW_EP_EV_CLOSED = 6
} ew_ep_conn_event_type;

#define EW_EP_ID_IDENTITY 0x1u
#define EW_EP_ID_TENANT 0x2u
#define EW_EP_ID_PROVIDER 0x4u

typedef enum ew_ep_close_reason {
    EW_EP_CLOSE_HANDSHAKE_TIMEOUT = 1, /* no SessionParameters in time (§5.3) */
    EW_EP_CLOSE_LIVENESS = 2,          /* no frame for 200 ms during a transfer (§5.5) */
    EW_EP_CLOSE_IDLE_TIMEOUT = 3,      /* no frame for the idle timeout (§5.5) */
    EW_EP_CLOSE_PROTOCOL = 4,          /* protocol error; see error_detail (§5.8) */
    EW_EP_CLOSE_PEER_CLOSED = 5,       /* recv_eof() */
    EW_EP_CLOSE_PEER_DISCONNECT = 6,   /* the peer's SoftDisconnect (§5.7) */
    EW_EP_CLOSE_IDENTITY = 7,          /* identity mismatch (§5.4) */
    EW_EP_CLOSE_LOCAL = 8              /* ew_ep_conn_close() or _soft_disconnect() */
} ew_ep_close_reason;

/* Returns "handshake timeout", "liveness timeout", ... (static). */
EW_API const char *ew_ep_close_reason_name(int reason);

typedef struct ew_ep_conn_event {
    ew_ep_conn_event_type type;
    /* Views into the caller's input or the receive buffer, valid until the
     * next call of ew_ep_conn_recv(). */
    ew_ep_msg msg;
    ew_bytes frame; /* the whole raw frame */
    int reconnect;  /* SOFT_DISCONNECT: 1, 0, or -1 when absent */
    ew_bytes reason;
    unsigned mismatch;
    int close_reason;
    int err;
} ew_ep_conn_event;

/*
 * Creates a session with options |o| (required: identity) and allocator
 * |mem| (NULL: malloc).  All memory is allocated here, and the own
 * SessionParameters frame is queued for sending.  Returns `EW_OK`, or one
 * of: `EW_ERR_INVAL` (option out of range, no identity), `EW_ERR_TOO_BIG`
 * (an identity longer than EW_EP_CONN_ID_MAX), `EW_ERR_NOBUF` (own
 * SessionParameters do not fit |out_cap|), `EW_ERR_NOMEM`.
 *
 * Example:
 *
 *     ew_ep_conn_opts o;
 *     ew_ep_conn_opts_init(&o);
 *     o.identity = "charger-17"; o.now_ms = now_ms; o.role = EW_EP_ROLE_ACCEPTOR;
 *     ew_ep_conn *c;
 *     ew_ep_conn_new(&c, &o, NULL);
 *     // then drive it as STYLE.md "Driving a session" shows
 */
EW_API int ew_ep_conn_new(ew_ep_conn **c, const ew_ep_conn_opts *o, const ew_mem *mem);

/* Frees |c| (NULL is fine). */
EW_API void ew_ep_conn_del(ew_ep_conn *c);

/*
 * Sets the identity, tenant and provider expected from the peer
 * certificate (NUL-terminated, copied; NULL = not checked).  Call before
 * the peer's SessionParameters arrive.  Returns `EW_OK`, `EW_ERR_TOO_BIG`,
 * `EW_ERR_STATE` (handshake already done), `EW_ERR_INVAL`.
 */
EW_API int ew_ep_conn_set_expected_peer(ew_ep_conn *c, const char *identity, const char *tenant,
                                        const char *provider);

/*
 * Feeds |len| received plaintext bytes, chunked any way, at |now_ms|.
 * Returns the number consumed: fewer than |len| when an event with views
 * is waiting (take it with ew_ep_conn_poll_event(), then feed the rest), 0
 * while such an event is untaken or once closed, or `EW_ERR_DEAD`.  Bad
 * frames are resynchronised (ep.md §2.4) and never returned as errors.
 */
EW_API int ew_ep_conn_recv(ew_ep_conn *c, const uint8_t *in, size_t len, uint64_t now_ms);

/* The peer closed the transport: CLOSED (PEER_CLOSED). */
EW_API void ew_ep_conn_recv_eof(ew_ep_conn *c, uint64_t now_ms);

/* Closes without a SoftDisconnect: CLOSED (LOCAL). */
EW_API void ew_ep_conn_close(ew_ep_conn *c);

/*
 * Queues SoftDisconnect with |reconnect| (0/1) and |reason| (NUL-terminated,
 * may be NULL) and closes (CLOSED, LOCAL).  Flush send_data() before
 * closing the socket.  Returns `EW_OK`, `EW_ERR_NOBUF` (send buffer full;
 * the session still closes), `EW_ERR_STATE` (already closed), `EW_ERR_DEAD`.
 */
EW_API int ew_ep_conn_soft_disconnect(ew_ep_conn *c, int reconnect, const char *reason);

/*
 * Sets the parameters published for |m->type| (EW_EP_MSG_SUPPLY, _DEMAND or
 * _STORAGE): the payload is encoded now (a copy; |m|'s views may go away).
 * While any set is held, every set is sent at publish_hz (and no Ping);
 * once the handshake is done the first sending is immediate.  Returns
 * `EW_OK`, `EW_ERR_NOBUF` (larger than param_cap), `EW_ERR_RANGE`,
 * `EW_ERR_INVAL`, `EW_ERR_DEAD`.
 */
EW_API int ew_ep_conn_set_params(ew_ep_conn *c, const ew_ep_msg *m);

/* Stops publishing |type|.  When nothing is left, a Ping goes out at once
 * (§5.5: peers drop to their idle timeout on a Ping). */
EW_API int ew_ep_conn_clear_params(ew_ep_conn *c, uint32_t type);

/* Sends every held parameter set now and restarts the rate timer.  Returns
 * `EW_OK`, `EW_ERR_STATE` (not ACTIVE), `EW_ERR_NOBUF`. */
EW_API int ew_ep_conn_publish_now(ew_ep_conn *c);

/* Sends one message of any type now (after the handshake).  Returns as
 * ew_ep_conn_publish_now(), plus the ew_ep_msg_encode() errors. */
EW_API int ew_ep_conn_send_msg(ew_ep_conn *c, const ew_ep_msg *m);

/* The local "energy transfer active" flag (contactor closed, §5.5). */
EW_API void ew_ep_conn_set_transfer(ew_ep_conn *c, int on, uint64_t now_ms);
/* 1 when the 200 ms rule applies (local flag or derived from the peer). */
EW_API int ew_ep_conn_transfer_active(const ew_ep_conn *c);

/* Takes the next event: 1 = |ev| filled, 0 = none. */
EW_API int ew_ep_conn_poll_event(ew_ep_conn *c, ew_ep_conn_event *ev);

/* Bytes waiting to be sent (|*out| valid until the next call); 0 = none. */
EW_API size_t ew_ep_conn_send_data(ew_ep_conn *c, const uint8_t **out);
EW_API void ew_ep_conn_send_done(ew_ep_conn *c, size_t n);

/* The next time (ms) ew_ep_conn_on_timeout() must be called, or UINT64_MAX. */
EW_API uint64_t ew_ep_conn_next_deadline(const ew_ep_conn *c);
EW_API void ew_ep_conn_on_timeout(ew_ep_conn *c, uint64_t now_ms);

/* 1 after the peer's SessionParameters were accepted and before closing. */
EW_API int ew_ep_conn_active(const ew_ep_conn *c);
/* 1 once closed: send what send_data() still holds, then close the socket. */
EW_API int ew_ep_conn_want_close(const ew_ep_conn *c);

/* The sticky error (EW_OK while healthy) and a sentence explaining it. */
EW_API int ew_ep_conn_error(const ew_ep_conn *c);
EW_API const char *ew_ep_conn_error_detail(const ew_ep_conn *c);

typedef struct ew_ep_conn_stats {
    uint64_t frames_rx, frames_tx, pings_rx, pings_tx;
    uint64_t bad_frames;     /* frame-level errors resynchronised */
    uint64_t rejected;       /* payloads that did not decode */
    uint64_t skipped_bytes;  /* dropped by resync */
    uint64_t publish_missed; /* ticks skipped because the send buffer was full */
} ew_ep_conn_stats;
EW_API void ew_ep_conn_get_stats(const ew_ep_conn *c, ew_ep_conn_stats *st);

/* The peer's identity, tenant and provider (empty before the handshake). */
EW_API ew_bytes ew_ep_conn_peer_identity(const ew_ep_conn *c);
EW_API ew_bytes ew_ep_conn_peer_tenant(const ew_ep_conn *c);
EW_API ew_bytes ew_ep_conn_peer_provider(const ew_ep_conn *c);

/* ---- duplicate connections (ep.md §6.3) ----------------------------------- */

/* One of two connections to the same peer, seen from this side. */
typedef struct ew_ep_dup_side {
    int we_opened;           /* 1 when this side opened it (initiator) */
    uint64_t established_ms; /* when it became ACTIVE: larger = newer */
} ew_ep_dup_side;

/*
 * The tie-break of ep.md §6.3, a pure function: keep the connection opened
 * by the side whose identity sorts lower bytewise (|local| is ours, |peer|
 * the peer's); if both were opened by the same side (or the identities are
 * equal), keep the newer one (|a| on a tie).  Both ends compute the same
 * answer.  Returns 0 to keep |a| (close |b|), 1 to keep |b|.  Close the
 * loser with ew_ep_conn_soft_disconnect(c, 0, EW_EP_REASON_DUPLICATE).
 */
EW_API int ew_ep_dup_keep(ew_bytes local, ew_bytes peer, const ew_ep_dup_side *a,
                          const ew_ep_dup_side *b);

/* 1 when |a| and |b| are both ACTIVE with the same peer identity, tenant
 * and provider (§6.3). */
EW_API int ew_ep_conn_is_duplicate(const ew_ep_conn *a, const ew_ep_conn *b);
/* ew_ep_dup_keep() for two sessions of this process (roles and handshake
 * times).  Returns 0 to keep |a|, 1 to keep |b|. */
EW_API int ew_ep_conn_dup_keep(const ew_ep_conn *a, const ew_ep_conn *b);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_EP_CONN_H */
