/*
 * energywire EP node (library energywire_io): Energy Protocol sessions over
 * TLS 1.3 on TCP 56540, on libuv.
 *
 * One node holds any number of sessions at once (ep.md §6.2: a router talks
 * to many devices and to other routers), accepted on one or more listening
 * addresses and opened by dialers.  Each session is a TCP connection, a TLS
 * endpoint from <energywire/tls.h> (memory BIOs) and a sans-I/O session from
 * <energywire/ep_conn.h>; the node only moves bytes between them and runs
 * the timers the session asks for.
 *
 *  - Accepting: ew_ep_node_listen() (the spec's default is 0.0.0.0:56540,
 *    ep.md §5.1; tests listen on 127.0.0.1 or ::1 with port 0).
 *  - Dialing: ew_ep_node_dial() connects to a peer and reconnects after a
 *    loss: at once the first time, then with a delay doubling from
 *    |backoff_min_ms| to |backoff_max_ms| with jitter (ep.md §5.5 table); a
 *    session that stayed active for 1 s resets the delay, and the peer's
 *    SoftDisconnect with reconnect=true waits one delay (§5.7).  A
 *    SoftDisconnect with reconnect=false (or without the field), an identity
 *    mismatch or a lost duplicate-connection tie-break stops the dialer
 *    (ep.md §5.7, §6.3).  Failed attempts keep retrying with backoff.
 *  - Identity (ep.md §5.4): with |check_identity| set, the peer's
 *    SessionParameters must match its certificate: identity = CN (or a
 *    subjectAltName URI/DNS), tenant = O, provider = OU, where present.
 *  - Duplicates (ep.md §6.3): when a session becomes active with the same
 *    peer identity, tenant and provider as another active session, the
 *    tie-break ew_ep_dup_keep() picks one and the other is closed with
 *    SoftDisconnect(reconnect=false, "duplicate connection").
 *  - Parameters set on the node are published on every session, present
 *    and future; a session may override them.
 *
 * As in <energywire/io.h>: the loop is a `uv_loop_t *` passed as `void *`,
 * everything runs on the loop's thread, objects owning handles are freed
 * after the loop has run their close callbacks following `_del`, and
 * applications must ignore SIGPIPE.  Error codes are ew_err plus the
 * EW_IO_ERR_* and EW_TLS_ERR_* codes (ew_tls_strerror() knows them all).
 */
#ifndef ENERGYWIRE_IO_EP_H
#define ENERGYWIRE_IO_EP_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/ep_conn.h>
#include <energywire/io.h>
#include <energywire/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ew_ep_node ew_ep_node;
/* One connection.  (Not ew_ep_session: that name is the SessionParameters
 * message in <energywire/ep.h>.)  The functions keep the ew_ep_session_ prefix. */
typedef struct ew_ep_node_session ew_ep_node_session;
typedef struct ew_ep_dialer ew_ep_dialer; /* an outbound peer, reconnecting */

typedef enum ew_ep_node_event_type {
    /* TLS is up; the peer's certificate fields are readable
     * (ew_ep_session_tls()).  The own SessionParameters go out now. */
    EW_EP_NODE_TLS_UP = 1,
    /* A session event (|conn| filled): HANDSHAKE, MESSAGE, REJECTED,
     * SOFT_DISCONNECT, IDENTITY_MISMATCH.  CLOSED comes as CLOSED below. */
    EW_EP_NODE_SESSION = 2,
    /* The session ended (its memory goes once the callback returns):
     * |err| (EW_OK for an orderly end), |close_reason| (EW_EP_CLOSE_*, 0
     * when it ended for a TCP or TLS reason, including a TLS failure after
     * TLS_UP) and |detail| (a sentence: "TLS: the peer offered no TLS 1.3
     * ...", "liveness timeout: no frame for 200 ms during an energy
     * transfer (ep.md §5.5)", ...).  For a dialed session, |retry_ms| is
     * the delay before the dialer's next attempt (0 when it stopped).  An
     * accepted connection whose TLS handshake fails also ends with CLOSED
     * (no TLS_UP before it). */
    EW_EP_NODE_CLOSED = 3,
    /* A dialer's attempt failed before TLS was up (refused, unreachable,
     * timeout, TLS handshake failure): |err|, |detail|, |retry_ms| (the
     * delay before the next attempt, 0 when the dialer stopped). */
    EW_EP_NODE_DIAL_FAILED = 4
} ew_ep_node_event_type;

typedef struct ew_ep_node_event {
    ew_ep_node_event_type type;
    ew_ep_node_session *session; /* NULL for DIAL_FAILED */
    ew_ep_dialer *dialer;        /* the dialer that made the session, or NULL */
    ew_ep_conn_event conn;       /* SESSION: the session event; views valid during the call */
    int err;
    int close_reason;
    const char *detail; /* valid during the call; "" when none */
    uint32_t retry_ms;
} ew_ep_node_event;

typedef struct ew_ep_node_opts {
    /* Certificate, key and trust (CA and/or fingerprints) for both roles;
     * |role| is ignored (the node makes a server and a client context).
     * |keylog|: when set, every session's secrets go there (SSLKEYLOGFILE). */
    ew_tls_opts tls;
    /* Template for every session: identity and the other own
     * SessionParameters, timers, publish rate, limits (ep_conn.h).  |now_ms|,
     * |role|, |expect_*| and |log| are set by the node. */
    ew_ep_conn_opts conn;
    /* 1 (default): check the peer's SessionParameters against its
     * certificate (ep.md §5.4).  0: no check. */
    int check_identity;
    /* 1 (default): apply the duplicate-connection rule (ep.md §6.3). */
    int close_duplicates;
    /* TCP connect and TLS handshake limits (default 5000 ms each). */
    uint32_t connect_timeout_ms;
    uint32_t tls_timeout_ms;
    /* Dialer backoff (defaults 500 and 30000 ms) and jitter seed (0: clocks). */
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint64_t seed;
    /* Most sessions at once (default 4096); further connections are
     * accepted and closed at once, with a log line. */
    unsigned max_sessions;
    /* Events (see ew_ep_node_event).  May call any ew_ep_session_* function
     * on the event's session and ew_ep_node_* functions except _del. */
    void (*on_event)(void *user, const ew_ep_node_event *ev);
    void *user;
    /* Log lines: level 0 = error, 1 = warning, 2 = info (one per session
     * start/end and dialer state change), 3 = debug.  Never secrets. */
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
} ew_ep_node_opts;

/* Fills |o| with the defaults (the certificate, key, trust and identity
 * still have to be set). */
EW_API void ew_ep_node_opts_init(ew_ep_node_opts *o);

/*
 * Creates a node on |uv_loop|.  Loads the certificate and trust (both TLS
 * contexts) now.  Returns `EW_OK`, or one of: `EW_ERR_INVAL` (missing
 * identity, certificate, key or trust, a file that does not load; |detail|
 * if not NULL receives the reason, |detail_cap| bytes with NUL),
 * `EW_ERR_NOMEM`.
 */
EW_API int ew_ep_node_new(ew_ep_node **n, void *uv_loop, const ew_ep_node_opts *o, char *detail,
                          size_t detail_cap);

/*
 * Listens on |host| (an IPv4 or IPv6 address; NULL = "0.0.0.0") and |port|
 * (0 = any free port; EW_EP_PORT is the spec's).  May be called several
 * times.  Returns `EW_OK` or `EW_IO_ERR_SOCKET` (the detail in
 * ew_ep_node_error_detail() names the address and the reason).
 */
EW_API int ew_ep_node_listen(ew_ep_node *n, const char *host, uint16_t port);
/* The port of the last successful listen (useful with port 0), or 0. */
EW_API uint16_t ew_ep_node_port(const ew_ep_node *n);

/*
 * Starts a dialer to |host| (name or address, "[::1]" accepted) and |port|
 * (0 = EW_EP_PORT).  It connects at once.  |*pd| (may be NULL) receives the
 * dialer.  Returns `EW_OK`, `EW_ERR_INVAL` or `EW_ERR_NOMEM`.
 */
EW_API int ew_ep_node_dial(ew_ep_node *n, const char *host, uint16_t port, ew_ep_dialer **pd);
/* Stops a dialer: no further attempts; its current EP session (if any)
 * stays, a connection still in TCP connect or TLS handshake is dropped
 * without an event.  The dialer itself lives until ew_ep_node_del(). */
EW_API void ew_ep_dialer_stop(ew_ep_dialer *d);
/* 1 while the dialer will connect again after a loss. */
EW_API int ew_ep_dialer_running(const ew_ep_dialer *d);
/* The dialer's current session (active or handshaking), or NULL. */
EW_API ew_ep_node_session *ew_ep_dialer_session(const ew_ep_dialer *d);

/*
 * Publishes |m| (Supply, Demand or Storage) on every session now and
 * later (see ew_ep_conn_set_params()).  Returns `EW_OK` or the first error.
 */
EW_API int ew_ep_node_set_params(ew_ep_node *n, const ew_ep_msg *m);
EW_API int ew_ep_node_clear_params(ew_ep_node *n, uint32_t type);

/*
 * Ends every session with SoftDisconnect(|reconnect|, |reason|), TLS
 * close_notify and TCP close, stops the dialers and the listeners.  The
 * CLOSED events come during the call (sessions whose EP handshake ran) or
 * later on the loop.
 */
EW_API void ew_ep_node_shutdown(ew_ep_node *n, int reconnect, const char *reason);

/* Frees the node: sessions are closed without events.  Run the loop until
 * the handles have closed. */
EW_API void ew_ep_node_del(ew_ep_node *n);

/* The last error of listen/dial and a sentence (never NULL). */
EW_API const char *ew_ep_node_error_detail(const ew_ep_node *n);

typedef struct ew_ep_node_stats {
    uint64_t accepted, dialed;   /* TCP connections */
    uint64_t tls_ok, tls_failed; /* TLS handshakes */
    uint64_t sessions_active;    /* EP handshake done, not closed */
    uint64_t sessions_open;      /* any state, now */
    uint64_t msgs_rx, msgs_tx;   /* frames, Pings included */
    uint64_t bytes_rx, bytes_tx; /* TCP bytes (cipher) */
    uint64_t duplicates_closed;  /* lost the §6.3 tie-break */
} ew_ep_node_stats;
EW_API void ew_ep_node_get_stats(const ew_ep_node *n, ew_ep_node_stats *st);

/* ---- sessions ----------------------------------------------------------- */

/* The sans-I/O session (NULL before TLS is up): for set_params, send_msg,
 * set_transfer, stats, peer identity, ...  After calls that queue bytes or
 * move a deadline (set_params, send_msg, set_transfer, publish_now, ...)
 * made outside an event callback of this node, call ew_ep_session_update()
 * so that the node sends them and re-arms the session's timer (inside a
 * callback the node does this itself when the callback returns). */
EW_API ew_ep_conn *ew_ep_session_conn(const ew_ep_node_session *s);
/* Sends what the EP session has queued and re-reads its next deadline. */
EW_API void ew_ep_session_update(ew_ep_node_session *s);
/* The TLS endpoint: peer fingerprint and certificate fields. */
EW_API const ew_tls *ew_ep_session_tls(const ew_ep_node_session *s);
/* "a.b.c.d:port" or "[v6]:port" of the peer. */
EW_API const char *ew_ep_session_peer_name(const ew_ep_node_session *s);
/* 1 when this side opened the connection. */
EW_API int ew_ep_session_outbound(const ew_ep_node_session *s);
/* Sends SoftDisconnect, close_notify, then closes; CLOSED comes during the
 * call.  reconnect=0 on a dialed session also stops its dialer.  Returns
 * ew_ep_conn_soft_disconnect()'s code, or `EW_ERR_STATE` before TLS is up. */
EW_API int ew_ep_session_soft_disconnect(ew_ep_node_session *s, int reconnect, const char *reason);
/* Closes at once (TCP reset of the session; CLOSED comes during the call,
 * or when a running callback of this session returns).  For tests and
 * the liveness drop. */
EW_API void ew_ep_session_close(ew_ep_node_session *s);
/* Stops reading, writing and the session's timers but keeps the socket
 * open: the peer sees silence (tests of the liveness rule).  0 resumes;
 * the session's deadlines then apply at once. */
EW_API void ew_ep_session_pause(ew_ep_node_session *s, int paused);
EW_API void ew_ep_session_set_data(ew_ep_node_session *s, void *data);
EW_API void *ew_ep_session_data(const ew_ep_node_session *s);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_IO_EP_H */
