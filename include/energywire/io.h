/*
 * energywire I/O layer: RSCP over TCP on libuv (library energywire_io).
 *
 * Three parts, all driving the sans-I/O session ew_rscp_conn from
 * <energywire/rscp.h>:
 *
 *  - ew_rscp_client: an asynchronous client on the caller's libuv loop.  It
 *    resolves the host (IPv4 and IPv6), connects with a timeout, logs in,
 *    queues requests while it is not connected, and reconnects with
 *    exponential backoff and jitter.  While a device stays unreachable it logs
 *    one line per change of state, never one per attempt.
 *  - ew_rscp_sync: a blocking convenience for command-line tools, built on
 *    the client with a private loop: connect and log in with a deadline, call,
 *    close.
 *  - ew_rscp_server: a TCP server (the device side, for simulators and tests)
 *    with several concurrent clients, application callbacks for logins and
 *    requests, and switchable fault injection.
 *
 * The libuv loop is passed as `void *` (a `uv_loop_t *`) so that this header
 * needs no libuv header.  Every object is used from the loop's thread only.
 * Objects that own libuv handles are freed asynchronously: after their `_del`
 * the loop must run (uv_run) until the handles have closed; only then is the
 * memory released.  Callbacks are not called any more once `_del` has been
 * called.
 *
 * This header includes only <stdint.h>, <stddef.h> and energywire headers.
 */
#ifndef ENERGYWIRE_IO_H
#define ENERGYWIRE_IO_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/ew.h>
#include <energywire/rscp.h>

/*
 * Applications using this layer must ignore SIGPIPE (signal(SIGPIPE,
 * SIG_IGN)): libuv writes with write(2), and a peer that resets the
 * connection while an answer is being written would otherwise end the
 * process instead of producing an EW_ERR_CLOSED event.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Result codes of the I/O layer                                             */
/* ------------------------------------------------------------------------ */

/*
 * Codes the I/O layer returns in addition to `ew_err` (they are negative and
 * lie outside the `ew_err` range; ew_io_strerror() knows them all):
 *
 * `EW_IO_ERR_UNREACHABLE`: the device could not be reached: connection
 * refused, host or network unreachable, or the name did not resolve.  The
 * error detail names the host and port.
 *
 * `EW_IO_ERR_SOCKET`: a local socket operation failed (bind, listen, out of
 * file descriptors); the error detail says which and why.
 */
#define EW_IO_ERR_UNREACHABLE (-100)
#define EW_IO_ERR_SOCKET (-101)

/*
 * Returns a short English text for |rc|: the texts of ew_strerror() plus
 * those of the `EW_IO_ERR_*` codes (static, never NULL).
 */
EW_API const char *ew_io_strerror(int rc);

/* Returns the symbolic name of |rc| ("EW_IO_ERR_UNREACHABLE", "EW_ERR_AUTH"). */
EW_API const char *ew_io_errname(int rc);

/* ------------------------------------------------------------------------ */
/* Asynchronous RSCP client                                                  */
/* ------------------------------------------------------------------------ */

typedef struct ew_rscp_client ew_rscp_client;

typedef enum ew_rscp_client_state {
    /* Created, not started. */
    EW_RSCP_CLIENT_IDLE = 0,
    /* Resolving the host name and opening the TCP connection. */
    EW_RSCP_CLIENT_CONNECTING = 1,
    /* Connected; the login was sent and its answer is awaited. */
    EW_RSCP_CLIENT_LOGIN = 2,
    /* Logged in: requests go out. */
    EW_RSCP_CLIENT_READY = 3,
    /* The last attempt failed or the connection was lost; the next attempt
     * starts when the backoff delay has passed. */
    EW_RSCP_CLIENT_BACKOFF = 4,
    /* Stopped: by ew_rscp_client_stop(), or after a failure when reconnecting
     * is off or the failure was a wrong key or password.
     * ew_rscp_client_error() says which. */
    EW_RSCP_CLIENT_STOPPED = 5
} ew_rscp_client_state;

/* Returns "idle", "connecting", "login", "ready", "backoff" or "stopped". */
EW_API const char *ew_rscp_client_state_name(ew_rscp_client_state st);

typedef struct ew_rscp_client_opts {
    /* Host name or numeric IPv4/IPv6 address (copied).  Required. */
    const char *host;
    /* TCP port: default EW_RSCP_PORT (5033); farm masters use
     * EW_RSCP_FARM_PORT (5034). */
    uint16_t port;
    /* Session options: |rscp_key|, |user|, |password| (all required, all
     * copied and wiped on _del), |cipher_impl|, |request_timeout_ms|,
     * |login_timeout_ms|, |keepalive_ms|, |max_depth|, |decode_flags|.  The
     * role is forced to client; |log|/|log_user| are replaced: session
     * messages reach |log| below at level 3 (debug). */
    ew_rscp_conn_opts conn;
    /* Time allowed for resolving the name and for the TCP connection to each
     * of its addresses (default 5000 ms, as pye3dc). */
    uint32_t connect_timeout_ms;
    /* 1 (default): reconnect after a failed attempt or a lost connection,
     * after a delay that doubles from |backoff_min_ms| up to
     * |backoff_max_ms| (defaults 500 and 30000 ms) and is then jittered to
     * between half of it and all of it.  The delay is reset by a successful
     * login.  0: a failure stops the client. */
    int reconnect;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    /* Seed for the jitter generator; 0 (default) seeds it from the clocks. */
    uint64_t seed;
    /* 0 (default): a refused login (EW_ERR_AUTH) or a device that closes
     * during the login (EW_ERR_DECRYPT: wrong RSCP key, rscp.md §7.3) stops
     * the client instead of retrying, as retrying cannot help and may lock
     * the account.  1: treat them like any other failure. */
    int retry_auth_errors;
    /* Requests waiting for a connection fail with EW_ERR_TIMEOUT after this
     * long (default 10000 ms).  Once sent, the session's
     * |request_timeout_ms| applies. */
    uint32_t queue_timeout_ms;
    /* Requests that may wait in the client (default 256). */
    unsigned max_queue;

    /* Session events, passed through with the client's request ids:
     * EW_RSCP_EV_AUTHENTICATED, _RESPONSE, _REQUEST_FAILED (also for requests
     * that the client fails itself: queue timeout, stop) and _CLOSED (one
     * per connection).  The views in |ev| are valid during the call only.
     * ew_rscp_client_error_detail() explains a failure. */
    void (*on_event)(void *user, const ew_rscp_event *ev);
    /* Connection state changes: the new state, and for BACKOFF and STOPPED
     * the error that caused them (EW_OK for a stop by the application) with
     * a readable |detail| (valid during the call). */
    void (*on_state)(void *user, ew_rscp_client_state st, int err, const char *detail);
    /* Log lines (level 0 error, 1 warning, 2 info, 3 debug).  Reachability
     * is logged once per change: "device 10.0.0.5:5033 unreachable:
     * connection refused; retrying with backoff", later "device
     * 10.0.0.5:5033 reachable again". */
    void (*log)(void *user, int level, const char *msg);
    void *user;
} ew_rscp_client_opts;

/* Fills |o| with the defaults (the session part with
 * ew_rscp_conn_opts_init(..., EW_RSCP_ROLE_CLIENT)). */
EW_API void ew_rscp_client_opts_init(ew_rscp_client_opts *o);

/*
 * Creates a client on the libuv loop |uv_loop| (a `uv_loop_t *`).  Nothing
 * happens on the network before ew_rscp_client_start().  Everything in |o| is
 * copied.
 *
 * Returns `EW_OK`, or one of: `EW_ERR_INVAL` (no loop, host, key, user or
 * password; or backoff_min_ms > backoff_max_ms), `EW_ERR_NOMEM`.
 *
 * Example:
 *
 *     ew_rscp_client_opts o;
 *     ew_rscp_client_opts_init(&o);
 *     o.host = "10.0.0.5";
 *     o.conn.rscp_key = key; o.conn.user = user; o.conn.password = pw;
 *     o.on_event = on_event; o.user = app;
 *     ew_rscp_client *c;
 *     if (ew_rscp_client_new(&c, uv_default_loop(), &o) == EW_OK &&
 *         ew_rscp_client_start(c) == EW_OK)
 *         ew_rscp_client_submit(c, tlvs, len, &id);   // answered in on_event
 *     uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 */
EW_API int ew_rscp_client_new(ew_rscp_client **c, void *uv_loop, const ew_rscp_client_opts *o);

/*
 * Starts connecting (from IDLE or STOPPED).  Returns `EW_OK`, or
 * `EW_ERR_STATE` when the client already runs or is being deleted.
 */
EW_API int ew_rscp_client_start(ew_rscp_client *c);

/*
 * Stops: closes the connection and fails every request, queued or sent, with
 * EW_ERR_CLOSED ("the client was stopped"), calling on_event for each, then
 * on_state(STOPPED, EW_OK).  The client can be started again.
 */
EW_API void ew_rscp_client_stop(ew_rscp_client *c);

/*
 * Deletes the client: like stop but without callbacks.  The memory is
 * released once the loop has run the handles' close callbacks.  |c| may be
 * NULL.  Allowed inside the client's own callbacks.
 */
EW_API void ew_rscp_client_del(ew_rscp_client *c);

/*
 * Queues a request holding the |len| value bytes at |tlvs| (built with
 * ew_rscp_builder_init(); copied).  It is sent once the client is logged in,
 * in submission order; a connection lost while it was waiting does not fail
 * it.  |*req_id| receives the id that its RESPONSE or REQUEST_FAILED event
 * will carry (ids are unique per client, never 0).
 *
 * Returns `EW_OK`, or one of: `EW_ERR_STATE` (the client is idle, stopped or
 * being deleted), `EW_ERR_NOBUF` (|max_queue| requests wait already),
 * `EW_ERR_TOO_BIG` (more than 65535 bytes), `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_client_submit(ew_rscp_client *c, const uint8_t *tlvs, size_t len,
                                 uint32_t *req_id);

/* The current state. */
EW_API ew_rscp_client_state ew_rscp_client_get_state(const ew_rscp_client *c);

/*
 * The error of the last failure (EW_OK while none happened) and a sentence
 * explaining it, e.g. "connection to 127.0.0.1:5033 refused" (valid until
 * the next call into the client or the next callback).
 */
EW_API int ew_rscp_client_error(const ew_rscp_client *c);
EW_API const char *ew_rscp_client_error_detail(const ew_rscp_client *c);

/* The user level of the current login (0 when not logged in). */
EW_API int ew_rscp_client_level(const ew_rscp_client *c);

/* Counters since the client was created. */
typedef struct ew_rscp_client_stats {
    /* Connection attempts started, TCP connections made, logins accepted. */
    uint64_t attempts;
    uint64_t connects;
    uint64_t logins;
    /* Requests answered and failed (any reason). */
    uint64_t responses;
    uint64_t failures;
} ew_rscp_client_stats;

EW_API void ew_rscp_client_get_stats(const ew_rscp_client *c, ew_rscp_client_stats *st);

/* ------------------------------------------------------------------------ */
/* Synchronous RSCP client (command-line use)                                */
/* ------------------------------------------------------------------------ */

typedef struct ew_rscp_sync ew_rscp_sync;

/*
 * Creates a synchronous client with a private libuv loop.  |o| is used as
 * for ew_rscp_client_new() except that |reconnect| is forced off and
 * |on_event|/|on_state| are ignored (|log| is kept).
 *
 * Returns `EW_OK`, or one of: `EW_ERR_INVAL`, `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_sync_new(ew_rscp_sync **s, const ew_rscp_client_opts *o);

/*
 * Connects and logs in, blocking for at most |timeout_ms| (0 = the
 * connect timeout plus the login timeout).
 *
 * Returns `EW_OK`, or one of (ew_rscp_sync_error_detail() has a sentence
 * for each that a command-line tool can print):
 * `EW_IO_ERR_UNREACHABLE` (refused, unreachable or not resolvable; the text
 * names host:port), `EW_ERR_TIMEOUT` (no connection, or no login answer, in
 * time), `EW_ERR_DECRYPT` (the device closed during the login: wrong RSCP
 * key), `EW_ERR_AUTH` (wrong user name or password), `EW_ERR_CLOSED`,
 * `EW_IO_ERR_SOCKET`, `EW_ERR_NOMEM`.
 *
 * Example:
 *
 *     ew_rscp_sync *s;
 *     if (ew_rscp_sync_new(&s, &o) != EW_OK) ...
 *     int rc = ew_rscp_sync_connect(s, 5000);
 *     if (rc == EW_OK)
 *         rc = ew_rscp_sync_call(s, tlvs, len, 0, &ans, &ans_len, &dev_err, &err_tag);
 *     if (rc != EW_OK)
 *         fprintf(stderr, "%s\n", ew_rscp_sync_error_detail(s));
 *     free(ans);
 *     ew_rscp_sync_del(s);
 */
EW_API int ew_rscp_sync_connect(ew_rscp_sync *s, uint32_t timeout_ms);

/*
 * Sends one request (|len| value bytes at |tlvs|) and waits at most
 * |timeout_ms| for its answer (0 = the session's request timeout).  When
 * the connection was lost earlier it is re-established first, within the
 * same time limit.
 *
 * On `EW_OK`, |*answer| receives a heap copy of the answer's value area
 * (the caller frees it with free(); never NULL, even when |*answer_len| is
 * 0), |*device_error| the device's error code when the first answer value is
 * an Error (the device refused: e.g. EW_RSCP_ERR_ACCESS_DENIED), else 0, and
 * |*error_tag| that value's tag.  |device_error| and |error_tag| may be
 * NULL.  On failure |*answer| is NULL.
 *
 * Returns `EW_OK`, or one of: `EW_ERR_TIMEOUT` (no answer in time; the
 * connection is closed since RSCP answers carry no id), `EW_ERR_CLOSED`
 * (the connection was lost), `EW_ERR_CRC` (the answer was damaged), any
 * code of ew_rscp_sync_connect() when a reconnect was needed and failed,
 * `EW_ERR_TOO_BIG`, `EW_ERR_INVAL`, `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_sync_call(ew_rscp_sync *s, const uint8_t *tlvs, size_t len, uint32_t timeout_ms,
                             uint8_t **answer, size_t *answer_len, uint32_t *device_error,
                             uint32_t *error_tag);

/* A sentence explaining the last failure of |s| ("no error" when none). */
EW_API const char *ew_rscp_sync_error_detail(const ew_rscp_sync *s);

/* The user level of the login (0 when not logged in). */
EW_API int ew_rscp_sync_level(const ew_rscp_sync *s);

/* Closes the connection, runs the private loop until every handle is closed
 * and frees everything.  |s| may be NULL. */
EW_API void ew_rscp_sync_del(ew_rscp_sync *s);

/* ------------------------------------------------------------------------ */
/* RSCP server (device side)                                                 */
/* ------------------------------------------------------------------------ */

typedef struct ew_rscp_server ew_rscp_server;

/* One connected client of a server.  The handle is valid from the first
 * callback that passes it until on_peer(..., connected = 0, ...) returns. */
typedef struct ew_rscp_peer ew_rscp_peer;

/*
 * Fault injection, for simulators and tests.  Zero everywhere means no fault.
 * Frames are counted per connection from 1, the login answer being frame 1.
 */
typedef struct ew_rscp_faults {
    /* Close the connection once frame N has been written (0 = never). */
    unsigned drop_after_frames;
    /* Hold every frame back for this long before writing it. */
    uint32_t delay_ms;
    /* Write each frame in pieces of |split_bytes| bytes, one write each,
     * with |split_pause_ms| between them (TCP_NODELAY is always on). */
    unsigned split_bytes;
    uint32_t split_pause_ms;
    /* Flip the last ciphertext byte of frame N (0 = never).  That frame
     * fails its CRC check, or no longer decrypts to a header when it is a
     * single block; as CBC does, byte 31 of the next frame changes too
     * (rscp.md §5.3). */
    unsigned corrupt_frame;
    /* Refuse every login (the answer is RSCP_AUTHENTICATION Int32 0). */
    int refuse_login;
} ew_rscp_faults;

typedef struct ew_rscp_server_opts {
    /* Numeric address to listen on (copied; default "127.0.0.1"; "::1",
     * "0.0.0.0" and "::" work too). */
    const char *host;
    /* TCP port (default EW_RSCP_PORT); 0 lets the system pick a free one,
     * see ew_rscp_server_port(). */
    uint16_t port;
    /* Session options for every connection: |rscp_key| (required, copied),
     * |cipher_impl|, |idle_timeout_ms| (close a connection after this long
     * without a request; 0 = never), |max_queue|, |max_depth|,
     * |decode_flags|.  The role is forced to server; session messages reach
     * |log| at level 3. */
    ew_rscp_conn_opts conn;
    /* Connections served at once (default 16); more are closed at once. */
    unsigned max_clients;
    /* Faults, switchable later with ew_rscp_server_set_faults(). */
    ew_rscp_faults faults;

    /* A login attempt: return the user level to grant (> 0), or 0 to refuse.
     * |user_name| and |password| are views valid during the call.  NULL
     * accepts everyone with level 10 (USER). */
    int (*on_login)(void *user, ew_rscp_peer *p, ew_bytes user_name, ew_bytes password);
    /* A request from a logged-in client: the |len| value bytes at |data|
     * (valid during the call), the client's user |level|.  Answer with
     * ew_rscp_peer_respond(), inside the call or later; answers go out in
     * request order.  NULL answers every request value with Error
     * RSCP_ERR_NOT_HANDLED. */
    void (*on_request)(void *user, ew_rscp_peer *p, uint32_t req_id, const uint8_t *data,
                       size_t len, int level);
    /* A client connected (|connected| = 1) or went away (0, with the error
     * and a sentence saying why; EW_OK when closed by this side).  After the
     * call with 0 returns, |p| must not be used any more. */
    void (*on_peer)(void *user, ew_rscp_peer *p, int connected, int err, const char *detail);
    /* Log lines (level 0 error .. 3 debug). */
    void (*log)(void *user, int level, const char *msg);
    void *user;
} ew_rscp_server_opts;

/* Fills |o| with the defaults. */
EW_API void ew_rscp_server_opts_init(ew_rscp_server_opts *o);

/*
 * Creates a server on the libuv loop |uv_loop| (a `uv_loop_t *`); it does not
 * listen before ew_rscp_server_listen().  Returns `EW_OK`, or one of:
 * `EW_ERR_INVAL` (no loop or key, a host that is not a numeric address),
 * `EW_ERR_NOMEM`.
 *
 * Example:
 *
 *     ew_rscp_server_opts o;
 *     ew_rscp_server_opts_init(&o);
 *     o.port = 0;
 *     o.conn.rscp_key = key;
 *     o.on_request = on_request;   // calls ew_rscp_peer_respond()
 *     ew_rscp_server *s;
 *     if (ew_rscp_server_new(&s, loop, &o) != EW_OK) ...
 *     if (ew_rscp_server_listen(s) != EW_OK)
 *         fprintf(stderr, "%s\n", ew_rscp_server_error_detail(s));
 *     printf("port %u\n", ew_rscp_server_port(s));
 */
EW_API int ew_rscp_server_new(ew_rscp_server **s, void *uv_loop, const ew_rscp_server_opts *o);

/*
 * Binds and listens.  Returns `EW_OK`, or one of: `EW_IO_ERR_SOCKET` (bind
 * or listen failed, e.g. the port is taken or the address does not exist on
 * this host; see ew_rscp_server_error_detail()), `EW_ERR_STATE` (already
 * listening or being deleted).
 */
EW_API int ew_rscp_server_listen(ew_rscp_server *s);

/* The port the server listens on (the one picked when |port| was 0), or 0
 * when it does not listen. */
EW_API uint16_t ew_rscp_server_port(const ew_rscp_server *s);

/* Replaces the fault settings; frames produced from now on follow them. */
EW_API void ew_rscp_server_set_faults(ew_rscp_server *s, const ew_rscp_faults *f);

/* Connections currently open. */
EW_API size_t ew_rscp_server_peer_count(const ew_rscp_server *s);

/* A sentence explaining the last server-level failure ("no error"). */
EW_API const char *ew_rscp_server_error_detail(const ew_rscp_server *s);

/*
 * Stops listening and closes every connection (no callbacks any more).  The
 * memory is released once the loop has run the close callbacks.  |s| may be
 * NULL.  Allowed inside the server's callbacks.
 */
EW_API void ew_rscp_server_del(ew_rscp_server *s);

/*
 * Answers request |req_id| of |p| with the |len| value bytes at |tlvs|
 * (copied).  Returns `EW_OK`, or one of: `EW_ERR_STATE` (no such request
 * waits, or the connection is closing), `EW_ERR_TOO_BIG`, `EW_ERR_NOMEM`.
 */
EW_API int ew_rscp_peer_respond(ew_rscp_peer *p, uint32_t req_id, const uint8_t *tlvs, size_t len);

/* Closes the connection of |p| (on_peer follows from the loop). */
EW_API void ew_rscp_peer_close(ew_rscp_peer *p);

/* The client's address as "127.0.0.1:40212" or "[::1]:40212". */
EW_API const char *ew_rscp_peer_name(const ew_rscp_peer *p);

/* An application pointer kept with the peer (NULL at first). */
EW_API void ew_rscp_peer_set_data(ew_rscp_peer *p, void *data);
EW_API void *ew_rscp_peer_data(const ew_rscp_peer *p);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_IO_H */
