/*
 * energywire I/O layer for RCT Power (library energywire_io): the sans-I/O
 * session ew_rct_conn (<energywire/rct_conn.h>) and the simulator core
 * (<energywire/rct_sim.h>) on libuv TCP.
 *
 *  - ew_rct_client: an asynchronous client on the caller's loop.  It
 *    resolves the host, connects with a timeout, queues requests while not
 *    connected and reconnects with exponential backoff and jitter, logging
 *    one line per change of state.  Retries of lost, truncated and CRC-broken
 *    answers are the session's (rct.md §15).
 *  - ew_rct_sync: a blocking wrapper for command-line tools.
 *  - ew_rct_server: the device side for simulators and tests: several
 *    clients at once, each an ew_rct_sim_peer of one shared ew_rct_sim, with
 *    fault injection switchable at runtime.
 *
 * As in <energywire/io.h>: the loop is a `uv_loop_t *` passed as `void *`,
 * everything is used from the loop's thread, objects owning handles are
 * freed once the loop has run their close callbacks after `_del`, and
 * applications must ignore SIGPIPE.  Error codes are ew_err plus the
 * EW_IO_ERR_* codes of <energywire/io.h> (ew_io_strerror()).
 */
#ifndef ENERGYWIRE_IO_RCT_H
#define ENERGYWIRE_IO_RCT_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/io.h>
#include <energywire/rct_conn.h>
#include <energywire/rct_sim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- asynchronous client ------------------------------------------------ */

typedef struct ew_rct_client ew_rct_client;

typedef enum ew_rct_client_state {
    EW_RCT_CLIENT_IDLE = 0,       /* created, not started */
    EW_RCT_CLIENT_CONNECTING = 1, /* resolving and connecting */
    EW_RCT_CLIENT_READY = 2,      /* connected: requests go out */
    EW_RCT_CLIENT_BACKOFF = 3,    /* waiting before the next attempt */
    EW_RCT_CLIENT_STOPPED = 4     /* by ew_rct_client_stop(), or a failure with reconnect off */
} ew_rct_client_state;

/* "idle", "connecting", "ready", "backoff" or "stopped". */
EW_API const char *ew_rct_client_state_name(ew_rct_client_state st);

typedef struct ew_rct_client_opts {
    /* Host name or address (copied; "[::1]" is accepted).  Required. */
    const char *host;
    /* TCP port (default EW_RCT_PORT, 8899). */
    uint16_t port;
    /* Session options for every connection (request timeout, retries,
     * max_inflight, offline handling...); |now_ms| and |log| are set by the
     * client (session lines reach |log| with the session's own level). */
    ew_rct_conn_opts conn;
    /* Time for resolving and connecting (default 5000 ms). */
    uint32_t connect_timeout_ms;
    /* 1 (default): reconnect after a failure with a delay doubling from
     * |backoff_min_ms| to |backoff_max_ms| (defaults 500, 30000 ms),
     * jittered to between half of it and all of it.  0: stop instead. */
    int reconnect;
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    /* Jitter seed; 0 seeds from the clocks. */
    uint64_t seed;
    /* Requests waiting for a connection fail with EW_ERR_TIMEOUT after this
     * long (default 10000 ms). */
    uint32_t queue_timeout_ms;
    /* Requests that may wait in the client (default 256). */
    unsigned max_queue;
    /* Session events with the client's request ids: RESPONSE and
     * REQUEST_FAILED (also for requests the client fails itself: queue
     * timeout, stop, lost connection), OFFLINE, ONLINE.  The views in |ev|
     * are valid during the call only. */
    void (*on_event)(void *user, const ew_rct_conn_event *ev);
    /* State changes, with the error and a sentence for BACKOFF/STOPPED. */
    void (*on_state)(void *user, ew_rct_client_state st, int err, const char *detail);
    /* Log lines (0 error .. 3 debug); one line per change of reachability. */
    void (*log)(void *user, int level, const char *msg);
    void *user;
} ew_rct_client_opts;

EW_API void ew_rct_client_opts_init(ew_rct_client_opts *o);

/* Creates a client on |uv_loop|.  Returns `EW_OK`, `EW_ERR_INVAL` (no loop or
 * host, backoff_min_ms > backoff_max_ms, bad session options) or
 * `EW_ERR_NOMEM`. */
EW_API int ew_rct_client_new(ew_rct_client **c, void *uv_loop, const ew_rct_client_opts *o);

/* Starts connecting (from IDLE or STOPPED); `EW_ERR_STATE` otherwise. */
EW_API int ew_rct_client_start(ew_rct_client *c);

/* Closes the connection and fails every request with EW_ERR_CLOSED. */
EW_API void ew_rct_client_stop(ew_rct_client *c);

/* Deletes (no callbacks any more; memory released from the loop). */
EW_API void ew_rct_client_del(ew_rct_client *c);

/*
 * Queues a READ of |id|, or a WRITE of the |len| payload bytes at |payload|
 * (copied; LONG_WRITE above EW_RCT_SHORT_PAYLOAD_MAX).  |*req_id| receives
 * the id of the request's one final event.  Returns `EW_OK`, `EW_ERR_STATE`
 * (idle, stopped or deleted), `EW_ERR_NOBUF` (max_queue reached),
 * `EW_ERR_TOO_BIG`, `EW_ERR_INVAL`, `EW_ERR_NOMEM`.
 */
EW_API int ew_rct_client_submit_read(ew_rct_client *c, uint32_t id, uint32_t *req_id);
EW_API int ew_rct_client_submit_write(ew_rct_client *c, uint32_t id, const uint8_t *payload,
                                      size_t len, uint32_t *req_id);

EW_API ew_rct_client_state ew_rct_client_get_state(const ew_rct_client *c);

/* The last failure and a sentence naming host:port ("no error" when none). */
EW_API int ew_rct_client_error(const ew_rct_client *c);
EW_API const char *ew_rct_client_error_detail(const ew_rct_client *c);

typedef struct ew_rct_client_stats {
    uint64_t attempts, connects, responses, failures;
} ew_rct_client_stats;
EW_API void ew_rct_client_get_stats(const ew_rct_client *c, ew_rct_client_stats *st);

/* ---- synchronous client ------------------------------------------------- */

typedef struct ew_rct_sync ew_rct_sync;

/* As ew_rct_client_new() on a private loop; reconnect is forced off and
 * on_event/on_state are ignored. */
EW_API int ew_rct_sync_new(ew_rct_sync **s, const ew_rct_client_opts *o);

/* Connects within |timeout_ms| (0 = the connect timeout).  Returns `EW_OK`,
 * `EW_IO_ERR_UNREACHABLE` (the detail names host:port), `EW_ERR_TIMEOUT`,
 * `EW_IO_ERR_SOCKET`, `EW_ERR_NOMEM`. */
EW_API int ew_rct_sync_connect(ew_rct_sync *s, uint32_t timeout_ms);

/*
 * Reads object |id| (|payload| NULL) or writes |len| bytes at |payload| to
 * it, and waits for the answer for at most |timeout_ms| (0: long enough for
 * all of the session's retries).  On `EW_OK` |*answer| is a heap copy of the
 * answer payload (free() it; never NULL) and |*answer_len| its length;
 * |*attempts| (may be NULL) the number of sends it took.  Returns `EW_OK`, or
 * the session's failure (`EW_ERR_TIMEOUT`, `EW_ERR_CRC`, `EW_ERR_TRUNCATED`,
 * `EW_ERR_TOO_BIG`, `EW_ERR_CLOSED`), `EW_ERR_STATE` (not connected),
 * `EW_ERR_NOMEM`; ew_rct_sync_error_detail() explains it.
 */
EW_API int ew_rct_sync_call(ew_rct_sync *s, uint32_t id, const uint8_t *payload, size_t len,
                            uint32_t timeout_ms, uint8_t **answer, size_t *answer_len,
                            unsigned *attempts);

EW_API const char *ew_rct_sync_error_detail(const ew_rct_sync *s);

/* Closes, runs the private loop until every handle closed, frees. */
EW_API void ew_rct_sync_del(ew_rct_sync *s);

/* ---- server (device side) ----------------------------------------------- */

typedef struct ew_rct_server ew_rct_server;

typedef struct ew_rct_server_opts {
    /* Numeric address (copied; default "127.0.0.1"). */
    const char *host;
    /* TCP port (default 8899); 0 picks a free one, see ew_rct_server_port(). */
    uint16_t port;
    /* The simulator that answers (required; not owned, must outlive the
     * server).  Its interrupt_on_second_client option gives the
     * second-client interrupt mode. */
    ew_rct_sim *sim;
    /* Connections served at once (default 16); more are closed at once. */
    unsigned max_clients;
    /* EW_RCT_SIM_FAULT_* flags applied to every |fault_every|-th request of
     * a connection (counted from 1; 0 or 1 = every request). */
    unsigned faults;
    unsigned fault_every;
    void (*log)(void *user, int level, const char *msg);
    void *user;
} ew_rct_server_opts;

EW_API void ew_rct_server_opts_init(ew_rct_server_opts *o);

/* Returns `EW_OK`, `EW_ERR_INVAL` (no loop or sim, a non-numeric host) or
 * `EW_ERR_NOMEM`. */
EW_API int ew_rct_server_new(ew_rct_server **s, void *uv_loop, const ew_rct_server_opts *o);

/* Binds and listens: `EW_OK`, `EW_IO_ERR_SOCKET`, `EW_ERR_STATE`. */
EW_API int ew_rct_server_listen(ew_rct_server *s);
EW_API uint16_t ew_rct_server_port(const ew_rct_server *s);

/* Switches the faults for requests arriving from now on. */
EW_API void ew_rct_server_set_faults(ew_rct_server *s, unsigned faults, unsigned fault_every);

EW_API size_t ew_rct_server_peer_count(const ew_rct_server *s);
/* Requests received over all connections so far. */
EW_API uint64_t ew_rct_server_requests(const ew_rct_server *s);
EW_API const char *ew_rct_server_error_detail(const ew_rct_server *s);

/* Stops listening and closes every connection; memory released from the
 * loop.  NULL is fine. */
EW_API void ew_rct_server_del(ew_rct_server *s);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_IO_RCT_H */
