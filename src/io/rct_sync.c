/*
 * Blocking RCT client for command-line tools: ew_rct_client on a private
 * libuv loop, run until the awaited event or a deadline.
 */
#include "io/io_int.h"

#include <energywire/io_rct.h>

#include <stdlib.h>
#include <string.h>

struct ew_rct_sync {
    uv_loop_t loop;
    uv_timer_t deadline;
    ew_rct_client *cl;
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
    uint32_t request_timeout_ms;
    unsigned max_retries;
    /* What the loop waits for. */
    int done, timed_out;
    uint32_t want_id;
    int result;
    uint8_t *answer;
    size_t answer_len;
    unsigned attempts;
    char detail[EW_IO_DETAIL_LEN];
};

static void on_event(void *user, const ew_rct_conn_event *ev) {
    ew_rct_sync *s = user;
    if ((ev->type != EW_RCT_EV_RESPONSE && ev->type != EW_RCT_EV_REQUEST_FAILED) ||
        ev->req_id != s->want_id || s->done)
        return;
    s->done = 1;
    s->attempts = ev->attempts;
    if (ev->type == EW_RCT_EV_REQUEST_FAILED) {
        s->result = ev->err ? ev->err : EW_ERR_PROTO;
        return;
    }
    size_t n = ev->value.raw.len;
    s->answer = malloc(n ? n : 1);
    if (!s->answer) {
        s->result = EW_ERR_NOMEM;
        return;
    }
    if (n)
        memcpy(s->answer, ev->value.raw.ptr, n);
    s->answer_len = n;
    s->result = EW_OK;
}

static void on_state(void *user, ew_rct_client_state st, int err, const char *detail) {
    ew_rct_sync *s = user;
    if (st == EW_RCT_CLIENT_READY && !s->want_id) {
        s->done = 1;
        s->result = EW_OK;
    } else if (st == EW_RCT_CLIENT_STOPPED && !s->done) {
        s->done = 1;
        s->result = err ? err : EW_ERR_CLOSED;
        ew_io_fmt(s->detail, sizeof s->detail, "%s", detail);
    }
}

static void sync_log(void *user, int level, const char *msg) {
    ew_rct_sync *s = user;
    s->log(s->log_user, level, msg);
}

static void deadline_cb(uv_timer_t *t) {
    ew_rct_sync *s = t->data;
    s->timed_out = 1;
}

/* Runs the loop until done or the deadline. */
static void run(ew_rct_sync *s, uint32_t timeout_ms) {
    s->timed_out = 0;
    uv_timer_start(&s->deadline, deadline_cb, timeout_ms, 0);
    while (!s->done && !s->timed_out)
        uv_run(&s->loop, UV_RUN_ONCE);
    uv_timer_stop(&s->deadline);
}

int ew_rct_sync_new(ew_rct_sync **out, const ew_rct_client_opts *o) {
    if (!out || !o)
        return EW_ERR_INVAL;
    *out = NULL;
    ew_rct_sync *s = calloc(1, sizeof *s);
    if (!s)
        return EW_ERR_NOMEM;
    if (uv_loop_init(&s->loop) < 0) {
        free(s);
        return EW_ERR_NOMEM;
    }
    ew_rct_client_opts co = *o;
    co.reconnect = 0;
    co.on_event = on_event;
    co.on_state = on_state;
    co.user = s;
    s->log = o->log;
    s->log_user = o->user;
    /* The caller's log callback gets the caller's user pointer: wrap it. */
    co.log = o->log ? sync_log : NULL;
    s->request_timeout_ms = o->conn.request_timeout_ms ? o->conn.request_timeout_ms : 2000;
    s->max_retries = o->conn.max_retries;
    int rc = ew_rct_client_new(&s->cl, &s->loop, &co);
    if (rc < 0) {
        uv_loop_close(&s->loop);
        free(s);
        return rc;
    }
    uv_timer_init(&s->loop, &s->deadline);
    s->deadline.data = s;
    *out = s;
    return EW_OK;
}

int ew_rct_sync_connect(ew_rct_sync *s, uint32_t timeout_ms) {
    if (!s)
        return EW_ERR_INVAL;
    s->done = 0;
    s->want_id = 0;
    s->detail[0] = 0;
    int rc = ew_rct_client_start(s->cl);
    if (rc < 0)
        return rc;
    run(s, timeout_ms ? timeout_ms : 5000 + 500);
    if (!s->done) {
        ew_rct_client_stop(s->cl);
        s->done = 1;
        ew_io_fmt(s->detail, sizeof s->detail, "no connection to the device within %u ms",
                  (unsigned)(timeout_ms ? timeout_ms : 5500));
        return EW_ERR_TIMEOUT;
    }
    if (s->result != EW_OK && !s->detail[0])
        ew_io_fmt(s->detail, sizeof s->detail, "%s", ew_rct_client_error_detail(s->cl));
    return s->result;
}

int ew_rct_sync_call(ew_rct_sync *s, uint32_t id, const uint8_t *payload, size_t len,
                     uint32_t timeout_ms, uint8_t **answer, size_t *answer_len,
                     unsigned *attempts) {
    if (!s || !answer || !answer_len)
        return EW_ERR_INVAL;
    *answer = NULL;
    *answer_len = 0;
    if (ew_rct_client_get_state(s->cl) != EW_RCT_CLIENT_READY) {
        ew_io_fmt(s->detail, sizeof s->detail, "not connected: %s",
                  ew_rct_client_error_detail(s->cl));
        return EW_ERR_STATE;
    }
    s->done = 0;
    s->answer = NULL;
    s->answer_len = 0;
    s->attempts = 0;
    uint32_t rq;
    int rc = payload ? ew_rct_client_submit_write(s->cl, id, payload, len, &rq)
                     : ew_rct_client_submit_read(s->cl, id, &rq);
    if (rc < 0) {
        ew_io_fmt(s->detail, sizeof s->detail, "cannot queue the request: %s", ew_strerror(rc));
        return rc;
    }
    s->want_id = rq;
    /* Long enough for every retry of the session, plus slack. */
    uint32_t limit = timeout_ms ? timeout_ms : s->request_timeout_ms * (s->max_retries + 1) + 1000;
    run(s, limit);
    s->want_id = 0;
    if (!s->done) {
        ew_io_fmt(s->detail, sizeof s->detail, "no answer for object 0x%08lX within %u ms",
                  (unsigned long)id, (unsigned)limit);
        /* Fail it inside the client: a late answer must not match anything. */
        ew_rct_client_stop(s->cl);
        return EW_ERR_TIMEOUT;
    }
    if (attempts)
        *attempts = s->attempts;
    if (s->result != EW_OK) {
        ew_io_fmt(s->detail, sizeof s->detail, "%s", ew_rct_client_error_detail(s->cl));
        free(s->answer);
        s->answer = NULL;
        return s->result;
    }
    *answer = s->answer;
    *answer_len = s->answer_len;
    s->answer = NULL;
    return EW_OK;
}

const char *ew_rct_sync_error_detail(const ew_rct_sync *s) {
    return s && s->detail[0] ? s->detail : "no error";
}

void ew_rct_sync_del(ew_rct_sync *s) {
    if (!s)
        return;
    ew_rct_client_del(s->cl);
    uv_close((uv_handle_t *)&s->deadline, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(s->answer);
    free(s);
}
