/*
 * A reconnecting TCP link for the energywire clients (internal to
 * energywire_io): it resolves the host (IPv4, IPv6, "[::1]"), connects with
 * a timeout, runs the state machine IDLE/CONNECTING/OPENING/READY/BACKOFF/
 * STOPPED with exponential backoff and jitter, logs one line per change of
 * state, moves bytes between the socket and a sans-I/O session, and keeps the
 * request queue (with its timeout while not connected).
 *
 * What belongs to the protocol (creating the session, taking its events,
 * handing it requests, explaining why it ended) comes in through the
 * callbacks of ew_link_opts; the session's own driving calls through an
 * ew_link_session table made with EW_LINK_SESSION_OPS().
 */
#ifndef EW_IO_LINK_H
#define EW_IO_LINK_H

#include "io/io_int.h"

typedef struct ew_link ew_link;
/* One TCP connection and its session. */
typedef struct ew_link_conn ew_link_conn;

typedef enum ew_link_state {
    EW_LINK_IDLE,
    EW_LINK_CONNECTING,
    EW_LINK_OPENING, /* connected; the session's handshake runs */
    EW_LINK_READY,
    EW_LINK_BACKOFF,
    EW_LINK_STOPPED
} ew_link_state;

/* A queued request.  Clients put it first in their own request struct
 * (ew_link_opts.req_size) for the fields only their protocol has. */
typedef struct ew_link_req {
    struct ew_link_req *next;
    uint32_t id;      /* the client's id, as the application sees it */
    uint32_t conn_id; /* the session's id, once handed to it */
    int sent;         /* handed to a session */
    uint64_t deadline;
    size_t len;
    uint8_t *data; /* the copied bytes; freed once handed to a session */
} ew_link_req;

/* The driving calls of a sans-I/O session (STYLE.md "Driving a session"). */
typedef struct ew_link_session {
    void (*del)(void *s);
    int (*recv)(void *s, const uint8_t *in, size_t len, uint64_t now_ms);
    void (*recv_eof)(void *s, uint64_t now_ms);
    size_t (*send_data)(void *s, const uint8_t **out);
    void (*send_done)(void *s, size_t n);
    uint64_t (*next_deadline)(const void *s);
    void (*on_timeout)(void *s, uint64_t now_ms);
    void (*close)(void *s);
    int (*want_close)(const void *s);
} ew_link_session;

/*
 * Defines `static const ew_link_session name` for the session type
 * ew_<proto>_conn.  The sessions share their driving calls by name, so one
 * definition serves every protocol.
 */
#define EW_LINK_SESSION_OPS(name, proto)                                                           \
    static void name##_del(void *s) {                                                              \
        ew_##proto##_conn_del(s);                                                                  \
    }                                                                                              \
    static int name##_recv(void *s, const uint8_t *in, size_t len, uint64_t now_ms) {              \
        return ew_##proto##_conn_recv(s, in, len, now_ms);                                         \
    }                                                                                              \
    static void name##_recv_eof(void *s, uint64_t now_ms) {                                        \
        ew_##proto##_conn_recv_eof(s, now_ms);                                                     \
    }                                                                                              \
    static size_t name##_send_data(void *s, const uint8_t **out) {                                 \
        return ew_##proto##_conn_send_data(s, out);                                                \
    }                                                                                              \
    static void name##_send_done(void *s, size_t n) {                                              \
        ew_##proto##_conn_send_done(s, n);                                                         \
    }                                                                                              \
    static uint64_t name##_next_deadline(const void *s) {                                          \
        return ew_##proto##_conn_next_deadline(s);                                                 \
    }                                                                                              \
    static void name##_on_timeout(void *s, uint64_t now_ms) {                                      \
        ew_##proto##_conn_on_timeout(s, now_ms);                                                   \
    }                                                                                              \
    static void name##_close(void *s) {                                                            \
        ew_##proto##_conn_close(s);                                                                \
    }                                                                                              \
    static int name##_want_close(const void *s) {                                                  \
        return ew_##proto##_conn_want_close(s);                                                    \
    }                                                                                              \
    static const ew_link_session name = {                                                          \
        name##_del,        name##_recv,      name##_recv_eof,                                      \
        name##_send_data,  name##_send_done, name##_next_deadline,                                 \
        name##_on_timeout, name##_close,     name##_want_close}

typedef struct ew_link_stats {
    uint64_t attempts, connects, ready, responses, failures;
} ew_link_stats;

/* What a protocol adds to the link: one constant table per client. */
typedef struct ew_link_proto {
    const ew_link_session *session;
    /* Size of the client's request struct (at least sizeof(ew_link_req)) and
     * the longest request data (EW_ERR_TOO_BIG above). */
    size_t req_size, max_data;
    /* NULL: READY as soon as TCP is up.  Otherwise the link enters OPENING
     * with this detail and waits for ew_link_ready(). */
    const char *opening_detail;
    /* TCP is up: create the session, or return NULL with the error in
     * |*err| (then |open_failed| is the detail reported). */
    void *(*open)(void *user, int *err);
    const char *open_failed;
    /* Before each run of the session and before its timeout (may be NULL). */
    void (*tick)(void *user, void *sess);
    /* Take the session's events (ew_link_req_answered() maps request ids). */
    void (*events)(void *user, ew_link_conn *lc);
    /* Hand request |r| to the session: 0 taken (set r->conn_id), 1 not now,
     * < 0 refused for good (the link fails it with that error). */
    int (*submit)(void *user, void *sess, ew_link_req *r, uint64_t now_ms);
    /* Why the session ended: returns the error (EW_ERR_CLOSED when none)
     * and writes the reason; |sys_err| is the socket error or 0. */
    int (*why)(void *user, void *sess, int sys_err, char *reason, size_t cap);
    /* The link failed request |r| (queue timeout, stop, lost connection);
     * |r| is out of the queue and freed after the call. */
    void (*req_failed)(void *user, const ew_link_req *r, int err);
    /* State changes (not called once deleted). */
    void (*on_state)(void *user, ew_link_state st, int err, const char *detail);
    /* Everything is freed after ew_link_del(): the client frees itself. */
    void (*destroy)(void *user);
} ew_link_proto;

typedef struct ew_link_opts {
    /* Host (copied; "[v6]" is unwrapped) and port. */
    const char *host;
    uint16_t port;
    /* 0 takes the EW_LINK_* defaults below. */
    uint32_t connect_timeout_ms, backoff_min_ms, backoff_max_ms, queue_timeout_ms;
    unsigned max_queue;
    int reconnect;
    /* 0: stop when the session fails before READY with EW_ERR_AUTH or
     * EW_ERR_DECRYPT (retrying a wrong password only locks the account). */
    int retry_auth;
    uint64_t seed; /* jitter; 0 seeds from the clocks */
    const ew_link_proto *proto;
    void *user; /* the client, passed to |proto|'s callbacks */
    /* The application's log. */
    void (*log)(void *log_user, int level, const char *msg);
    void *log_user;
} ew_link_opts;

/* Defaults for the options left 0. */
#define EW_LINK_CONNECT_TIMEOUT_MS 5000
#define EW_LINK_BACKOFF_MIN_MS 500
#define EW_LINK_BACKOFF_MAX_MS 30000
#define EW_LINK_QUEUE_TIMEOUT_MS 10000
#define EW_LINK_MAX_QUEUE 256

/* Designated initializers for the ew_link_opts fields that every client's
 * public options have under the same name (io.h, io_rct.h). */
#define EW_LINK_CLIENT_OPTS(o)                                                                     \
    .host = (o)->host, .connect_timeout_ms = (o)->connect_timeout_ms,                              \
    .backoff_min_ms = (o)->backoff_min_ms, .backoff_max_ms = (o)->backoff_max_ms,                  \
    .queue_timeout_ms = (o)->queue_timeout_ms, .max_queue = (o)->max_queue,                        \
    .reconnect = (o)->reconnect, .seed = (o)->seed, .log = (o)->log, .log_user = (o)->user

/* Sets those fields of a client's public options to their defaults (the
 * clients' _opts_init()). */
#define EW_LINK_CLIENT_DEFAULTS(o)                                                                 \
    do {                                                                                           \
        (o)->connect_timeout_ms = EW_LINK_CONNECT_TIMEOUT_MS;                                      \
        (o)->reconnect = 1;                                                                        \
        (o)->backoff_min_ms = EW_LINK_BACKOFF_MIN_MS;                                              \
        (o)->backoff_max_ms = EW_LINK_BACKOFF_MAX_MS;                                              \
        (o)->queue_timeout_ms = EW_LINK_QUEUE_TIMEOUT_MS;                                          \
        (o)->max_queue = EW_LINK_MAX_QUEUE;                                                        \
    } while (0)

/* Returns EW_OK, EW_ERR_INVAL (host missing or too long, backoff_min_ms >
 * backoff_max_ms) or EW_ERR_NOMEM. */
int ew_link_new(ew_link **lk, uv_loop_t *loop, const ew_link_opts *o);
/* From IDLE or STOPPED; EW_ERR_STATE otherwise (also once deleted). */
int ew_link_start(ew_link *lk);
/* Fails every request with EW_ERR_CLOSED and closes the connection. */
void ew_link_stop(ew_link *lk);
/* No callbacks after this but |destroy|, once the loop closed everything. */
void ew_link_del(ew_link *lk);

ew_link_state ew_link_get_state(const ew_link *lk);
/* 1 once ew_link_del() ran: the client's callbacks must stay silent. */
int ew_link_deleted(const ew_link *lk);
const char *ew_link_hostport(const ew_link *lk);
void ew_link_get_stats(const ew_link *lk, ew_link_stats *st);
/* The last failure: error and sentence ("no error" when none). */
int ew_link_error(const ew_link *lk);
const char *ew_link_error_detail(const ew_link *lk);
void ew_link_set_error(ew_link *lk, int err, const char *detail);

/*
 * A request of |len| bytes at |data| (copied when |copy|, into at least one
 * byte so that the session never sees NULL).  Returns EW_OK with |*r| to be
 * filled in and passed to ew_link_req_submit(), or one of EW_ERR_STATE,
 * EW_ERR_TOO_BIG, EW_ERR_NOBUF, EW_ERR_NOMEM.
 */
int ew_link_req_new(ew_link *lk, const uint8_t *data, size_t len, int copy, ew_link_req **r);
/* Queues |r|, gives it its id (in |*req_id| before any callback runs)
 * and hands it to the session when the link is READY. */
void ew_link_req_submit(ew_link *lk, ew_link_req *r, uint32_t *req_id);
/*
 * The session of |lc| answered or failed its request |conn_id|: when that is
 * a request of the current connection, takes it out of the queue, counts it,
 * frees it, sets |*id| to the client's id and returns 1; else returns 0.
 */
int ew_link_req_answered(ew_link_conn *lc, uint32_t conn_id, int failed, uint32_t *id);

void *ew_link_conn_session(const ew_link_conn *lc);
int ew_link_conn_current(const ew_link_conn *lc);
/* Records why |lc|'s session ended as the link's error (when current), so
 * the application may ask from within the session's close event. */
void ew_link_conn_explain(ew_link_conn *lc);
/*
 * The session of |lc| is ready (logged in): READY with |detail|, logged
 * once per change with |again| or |first| appended to the line.
 */
void ew_link_ready(ew_link_conn *lc, const char *detail, const char *again, const char *first);

#endif
