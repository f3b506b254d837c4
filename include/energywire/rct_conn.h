/*
 * energywire RCT session: a sans-I/O client for RCT Power devices (TCP 8899)
 * built on the codec in <energywire/rct.h>.
 *
 * The session queues read and write requests by object id, matches answers
 * to requests by the object id they carry (rct.md §10), times out and
 * retries lost, truncated and CRC-broken answers (rct.md §15), and notices a
 * device that stopped answering (an inverter that sleeps at night): it goes
 * "offline", stops sending, probes with one request after an exponential
 * backoff and comes back by itself.  It never touches a socket or a clock;
 * the caller passes a monotonic time in milliseconds.  See docs/rct-session.md.
 */
#ifndef ENERGYWIRE_RCT_CONN_H
#define ENERGYWIRE_RCT_CONN_H

#include <energywire/rct.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One client session.  Used by one thread at a time. */
typedef struct ew_rct_conn ew_rct_conn;

typedef struct ew_rct_conn_opts {
    /* The caller's monotonic clock (ms) at creation. */
    uint64_t now_ms;
    /* Time allowed for each answer (default 2000 ms). */
    uint32_t request_timeout_ms;
    /* Re-sends after a lost, truncated or CRC-broken answer before the
     * request fails (default 3; 0 = no retries). */
    unsigned max_retries;
    /* Requests sent before their answers arrive (default 1, at most 32).
     * Never more than one per object id: answers carry only the id.  The
     * device cuts an answer short when another request arrives while it
     * assembles one (rct.md §15), so more than 1 trades speed for retries. */
    unsigned max_inflight;
    /* Requests that may wait, sent or not, including their undelivered
     * final events (default 64, at most 4096). */
    unsigned max_queue;
    /* Largest write payload (default EW_RCT_SHORT_PAYLOAD_MAX, at most
     * EW_RCT_LONG_PAYLOAD_MAX); buffers for every queue slot are sized by it
     * in ew_rct_conn_new(), so nothing is allocated later. */
    size_t max_payload;
    /* Largest answer frame accepted (unescaped; default EW_RCT_FRAME_MAX). */
    size_t max_frame;
    /* Requests failed by timeout in a row that make the device "offline"
     * (default 3; 0 = never go offline). */
    unsigned offline_after;
    /* Offline: the first probe after this long, doubling after every probe
     * that goes unanswered, up to the maximum (defaults 30 s and 15 min). */
    uint32_t backoff_initial_ms;
    uint32_t backoff_max_ms;
    /* The object read by offline probes (default battery.soc, 0x959930BF). */
    uint32_t probe_id;
    /* Optional log callback (level 0 = error .. 3 = debug).  The session
     * logs exactly one line (level 1) when the device goes offline and one
     * (level 2) when it answers again; nothing else. */
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
} ew_rct_conn_opts;

/* Fills |o| with the defaults. */
EW_API void ew_rct_conn_opts_init(ew_rct_conn_opts *o);

typedef enum ew_rct_conn_event_type {
    /* The answer to request |req_id| for object |id|: |value| holds it,
     * decoded with the registry type for |id| (UNKNOWN ids: raw bytes).  A
     * write answered with an empty payload gives an UNKNOWN value with no
     * bytes (an acknowledgement). */
    EW_RCT_EV_RESPONSE = 1,
    /* Request |req_id| failed; |err| says why: `EW_ERR_TIMEOUT` (no answer
     * after all retries), `EW_ERR_CRC` (the last answer had a wrong CRC),
     * `EW_ERR_TRUNCATED` (the last answer was too short for the type),
     * `EW_ERR_TOO_BIG` (an answer longer than the type: not retried),
     * `EW_ERR_CLOSED` (closed before an answer). */
    EW_RCT_EV_REQUEST_FAILED = 2,
    /* The device stopped answering (|attempts| = requests failed in a row);
     * queued requests wait until it is back. */
    EW_RCT_EV_OFFLINE = 3,
    /* The device answers again after |offline_ms|. */
    EW_RCT_EV_ONLINE = 4
} ew_rct_conn_event_type;

typedef struct ew_rct_conn_event {
    ew_rct_conn_event_type type;
    uint32_t req_id;
    uint32_t id;      /* the object id */
    unsigned command; /* the request's command (READ, WRITE, LONG_WRITE) */
    unsigned attempts;
    int err;
    /* RESPONSE: views into the session's receive buffer, valid until the
     * next call on the session. */
    unsigned response_command;
    ew_rct_value value;
    uint64_t offline_ms;
} ew_rct_conn_event;

/*
 * Creates a session with options |o| (NULL: defaults) and allocator |mem|
 * (NULL: malloc).  All memory is allocated here.  Returns `EW_OK`, or one
 * of: `EW_ERR_INVAL` (an option out of range), `EW_ERR_NOMEM`.
 *
 * Example:
 *
 *     ew_rct_conn *c;
 *     uint32_t rq;
 *     ew_rct_conn_new(&c, NULL, NULL);
 *     ew_rct_conn_submit_read(c, 0x959930BFu, now_ms, &rq);   // battery.soc
 *     // then drive it as STYLE.md "Driving a session" shows
 */
EW_API int ew_rct_conn_new(ew_rct_conn **c, const ew_rct_conn_opts *o, const ew_mem *mem);

/* Frees |c| (NULL is fine). */
EW_API void ew_rct_conn_del(ew_rct_conn *c);

/*
 * Queues a READ of object |id| (any id; unknown ids are legal on the wire).
 * |*req_id| receives the id that the request's one final event carries.
 * Returns `EW_OK`, or one of: `EW_ERR_NOBUF` (queue full), `EW_ERR_STATE`
 * (closed), `EW_ERR_DEAD`.
 */
EW_API int ew_rct_conn_submit_read(ew_rct_conn *c, uint32_t id, uint64_t now_ms, uint32_t *req_id);

/*
 * Queues a WRITE of the |len| payload bytes at |payload| (encoded with the
 * ew_rct_value_encode_*() functions; copied) to object |id|; LONG_WRITE is
 * used above EW_RCT_SHORT_PAYLOAD_MAX bytes.  A timeseries or event table is
 * requested by writing the INT32 query time to its object (rct.md §8); the
 * answer then holds the series.  Returns as ew_rct_conn_submit_read(), plus
 * `EW_ERR_TOO_BIG` (longer than the max_payload option), `EW_ERR_INVAL`.
 */
EW_API int ew_rct_conn_submit_write(ew_rct_conn *c, uint32_t id, const uint8_t *payload, size_t len,
                                    uint64_t now_ms, uint32_t *req_id);

/*
 * Feeds |len| received bytes, chunked any way.  Returns the number consumed:
 * fewer than |len| when an answer is waiting to be taken with
 * ew_rct_conn_poll_event() (its value points into the receive buffer; call
 * again with the rest afterwards), 0 once closed, or `EW_ERR_DEAD`.  Broken
 * frames and unrelated frames are handled here and never returned as errors.
 */
EW_API int ew_rct_conn_recv(ew_rct_conn *c, const uint8_t *in, size_t len, uint64_t now_ms);

/* The peer closed the connection: every request fails with EW_ERR_CLOSED. */
EW_API void ew_rct_conn_recv_eof(ew_rct_conn *c, uint64_t now_ms);

/* Closes the session: every request fails with EW_ERR_CLOSED. */
EW_API void ew_rct_conn_close(ew_rct_conn *c);

/* Takes the next event: 1 = |ev| filled, 0 = none. */
EW_API int ew_rct_conn_poll_event(ew_rct_conn *c, ew_rct_conn_event *ev);

/*
 * Bytes waiting to be sent: sets |*out| (valid until the next call on the
 * session) and returns their count, 0 when nothing is pending.  Report what
 * was written with ew_rct_conn_send_done().
 */
EW_API size_t ew_rct_conn_send_data(ew_rct_conn *c, const uint8_t **out);
EW_API void ew_rct_conn_send_done(ew_rct_conn *c, size_t n);

/* The next time (ms) ew_rct_conn_on_timeout() must be called, or UINT64_MAX
 * when no timer runs. */
EW_API uint64_t ew_rct_conn_next_deadline(const ew_rct_conn *c);
EW_API void ew_rct_conn_on_timeout(ew_rct_conn *c, uint64_t now_ms);

/* 1 while the device answers (or has not been found silent yet). */
EW_API int ew_rct_conn_online(const ew_rct_conn *c);

/* 1 when the caller should close the socket. */
EW_API int ew_rct_conn_want_close(const ew_rct_conn *c);

/* Requests queued or in flight. */
EW_API size_t ew_rct_conn_pending(const ew_rct_conn *c);

/* The sticky error (EW_OK while healthy) and a sentence explaining it. */
EW_API int ew_rct_conn_error(const ew_rct_conn *c);
EW_API const char *ew_rct_conn_error_detail(const ew_rct_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_RCT_CONN_H */
