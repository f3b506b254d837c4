/*
 * Blocking RSCP client for command-line tools: the asynchronous client on a
 * private libuv loop that is run only inside these calls.  Every wait is
 * bounded by a timer on that loop.
 */
#include "io/io_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ew_rscp_sync {
    uv_loop_t loop;
    ew_rscp_client *c;
    uv_timer_t deadline;
    int deadline_hit;
    uint32_t connect_timeout_ms, login_timeout_ms, request_timeout_ms;
    char hostport[EW_IO_HOSTPORT_LEN];

    void (*log)(void *user, int level, const char *msg);
    void *log_user;

    /* The client's last state change. */
    ew_rscp_client_state st;

    /* The call in progress: id, and what came back. */
    uint32_t want_id;
    int have;
    int ev_err;
    uint8_t *ans;
    size_t ans_len;
    int ans_nomem;
    uint32_t dev_err, err_tag;

    char detail[EW_IO_DETAIL_LEN];
};

static void sync_log(void *user, int level, const char *msg) {
    ew_rscp_sync *s = user;
    if (s->log)
        s->log(s->log_user, level, msg);
}

static void sync_state(void *user, ew_rscp_client_state st, int err, const char *detail) {
    ew_rscp_sync *s = user;
    (void)err;
    (void)detail;
    s->st = st;
}

static void sync_event(void *user, const ew_rscp_event *ev) {
    ew_rscp_sync *s = user;
    if ((ev->type != EW_RSCP_EV_RESPONSE && ev->type != EW_RSCP_EV_REQUEST_FAILED) || !s->want_id ||
        ev->req_id != s->want_id)
        return;
    s->have = 1;
    if (ev->type == EW_RSCP_EV_REQUEST_FAILED) {
        s->ev_err = ev->err;
        return;
    }
    s->ev_err = EW_OK;
    s->ans = malloc(ev->len ? ev->len : 1);
    if (!s->ans) {
        s->ans_nomem = 1;
        return;
    }
    if (ev->len)
        memcpy(s->ans, ev->data, ev->len);
    s->ans_len = ev->len;
    s->dev_err = ev->device_error;
    s->err_tag = ev->error_tag;
}

static void deadline_cb(uv_timer_t *t) {
    ew_rscp_sync *s = t->data;
    s->deadline_hit = 1;
}

static void set_detail(ew_rscp_sync *s, const char *msg) {
    ew_io_fmt(s->detail, sizeof s->detail, "%s", msg);
}

static int done_connecting(const ew_rscp_sync *s) {
    ew_rscp_client_state st = ew_rscp_client_get_state(s->c);
    return st == EW_RSCP_CLIENT_READY || st == EW_RSCP_CLIENT_STOPPED;
}

/* Runs the private loop until |done| or |timeout_ms| has passed. */
static void run_until(ew_rscp_sync *s, int (*done)(const ew_rscp_sync *), uint64_t timeout_ms) {
    s->deadline_hit = 0;
    uv_update_time(&s->loop);
    uv_timer_start(&s->deadline, deadline_cb, timeout_ms, 0);
    while (!done(s) && !s->deadline_hit)
        uv_run(&s->loop, UV_RUN_ONCE);
    uv_timer_stop(&s->deadline);
}

int ew_rscp_sync_new(ew_rscp_sync **out, const ew_rscp_client_opts *o) {
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!o)
        return EW_ERR_INVAL;
    ew_rscp_sync *s = calloc(1, sizeof *s);
    if (!s)
        return EW_ERR_NOMEM;
    if (uv_loop_init(&s->loop) < 0) {
        free(s);
        return EW_ERR_NOMEM;
    }
    s->log = o->log;
    s->log_user = o->user;
    ew_rscp_client_opts co = *o;
    co.reconnect = 0;
    co.on_event = sync_event;
    co.on_state = sync_state;
    co.log = sync_log;
    co.user = s;
    int rc = ew_rscp_client_new(&s->c, &s->loop, &co);
    if (rc < 0) {
        uv_loop_close(&s->loop);
        free(s);
        return rc;
    }
    uv_timer_init(&s->loop, &s->deadline);
    s->deadline.data = s;
    s->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000;
    s->login_timeout_ms = o->conn.login_timeout_ms ? o->conn.login_timeout_ms : 5000;
    s->request_timeout_ms = o->conn.request_timeout_ms ? o->conn.request_timeout_ms : 5000;
    ew_io_hostport(s->hostport, sizeof s->hostport, o->host, o->port ? o->port : EW_RSCP_PORT);
    *out = s;
    return EW_OK;
}

int ew_rscp_sync_connect(ew_rscp_sync *s, uint32_t timeout_ms) {
    if (!s)
        return EW_ERR_INVAL;
    ew_rscp_client_state st = ew_rscp_client_get_state(s->c);
    if (st == EW_RSCP_CLIENT_READY)
        return EW_OK;
    /* The client's own timeouts are the more precise reports: leave them a
     * little room before the overall deadline. */
    uint64_t t =
        timeout_ms ? timeout_ms : (uint64_t)s->connect_timeout_ms + s->login_timeout_ms + 250;
    if (st == EW_RSCP_CLIENT_IDLE || st == EW_RSCP_CLIENT_STOPPED) {
        int rc = ew_rscp_client_start(s->c);
        if (rc < 0) {
            set_detail(s, "the client cannot be started");
            return rc;
        }
    }
    run_until(s, done_connecting, t);
    st = ew_rscp_client_get_state(s->c);
    if (st == EW_RSCP_CLIENT_READY)
        return EW_OK;
    if (st == EW_RSCP_CLIENT_STOPPED) {
        int err = ew_rscp_client_error(s->c);
        set_detail(s, ew_rscp_client_error_detail(s->c));
        return err != EW_OK ? err : EW_ERR_CLOSED;
    }
    char msg[sizeof s->detail];
    if (st == EW_RSCP_CLIENT_LOGIN)
        ew_io_fmt(msg, sizeof msg, "device %s did not answer the login within %u ms", s->hostport,
                  (unsigned)t);
    else
        ew_io_fmt(msg, sizeof msg, "no connection to device %s within %u ms", s->hostport,
                  (unsigned)t);
    ew_rscp_client_stop(s->c);
    set_detail(s, msg);
    return EW_ERR_TIMEOUT;
}

static int done_call(const ew_rscp_sync *s) {
    return s->have || ew_rscp_client_get_state(s->c) == EW_RSCP_CLIENT_STOPPED;
}

int ew_rscp_sync_call(ew_rscp_sync *s, const uint8_t *tlvs, size_t len, uint32_t timeout_ms,
                      uint8_t **answer, size_t *answer_len, uint32_t *device_error,
                      uint32_t *error_tag) {
    if (answer)
        *answer = NULL;
    if (answer_len)
        *answer_len = 0;
    if (device_error)
        *device_error = 0;
    if (error_tag)
        *error_tag = 0;
    if (!s || !answer || !answer_len || (!tlvs && len))
        return EW_ERR_INVAL;
    if (len > UINT16_MAX)
        return EW_ERR_TOO_BIG;

    uint64_t budget = timeout_ms ? timeout_ms : (uint64_t)s->request_timeout_ms + 250;
    uv_update_time(&s->loop);
    uint64_t start = uv_now(&s->loop);
    if (ew_rscp_client_get_state(s->c) != EW_RSCP_CLIENT_READY) {
        uint32_t ct = timeout_ms ? timeout_ms : 0;
        int rc = ew_rscp_sync_connect(s, ct);
        if (rc != EW_OK)
            return rc;
        uv_update_time(&s->loop);
        uint64_t used = uv_now(&s->loop) - start;
        if (timeout_ms)
            budget = used < budget ? budget - used : 1;
    }

    s->have = 0;
    s->ev_err = EW_OK;
    s->ans = NULL;
    s->ans_len = 0;
    s->ans_nomem = 0;
    s->dev_err = s->err_tag = 0;
    uint32_t id = 0;
    int rc = ew_rscp_client_submit(s->c, tlvs, len, &id);
    if (rc < 0) {
        set_detail(s, rc == EW_ERR_NOBUF ? "too many requests waiting" : ew_io_strerror(rc));
        return rc;
    }
    s->want_id = id;
    run_until(s, done_call, budget);
    s->want_id = 0;

    if (s->have && s->ev_err == EW_OK) {
        if (s->ans_nomem) {
            set_detail(s, "out of memory for the answer");
            return EW_ERR_NOMEM;
        }
        *answer = s->ans;
        *answer_len = s->ans_len;
        if (device_error)
            *device_error = s->dev_err;
        if (error_tag)
            *error_tag = s->err_tag;
        s->ans = NULL;
        s->detail[0] = 0;
        return EW_OK;
    }
    if (s->have) {
        set_detail(s, ew_rscp_client_error_detail(s->c));
        return s->ev_err;
    }
    if (ew_rscp_client_get_state(s->c) == EW_RSCP_CLIENT_STOPPED) {
        int err = ew_rscp_client_error(s->c);
        set_detail(s, ew_rscp_client_error_detail(s->c));
        return err != EW_OK ? err : EW_ERR_CLOSED;
    }
    /* RSCP answers carry no request id (rscp.md §8): a late answer would be
     * taken for the next request's, so the connection is closed. */
    char msg[sizeof s->detail];
    ew_io_fmt(msg, sizeof msg, "no answer from device %s within %u ms", s->hostport,
              (unsigned)budget);
    ew_rscp_client_stop(s->c);
    set_detail(s, msg);
    return EW_ERR_TIMEOUT;
}

const char *ew_rscp_sync_error_detail(const ew_rscp_sync *s) {
    return s && s->detail[0] ? s->detail : "no error";
}

int ew_rscp_sync_level(const ew_rscp_sync *s) {
    return s ? ew_rscp_client_level(s->c) : 0;
}

void ew_rscp_sync_del(ew_rscp_sync *s) {
    if (!s)
        return;
    ew_rscp_client_del(s->c);
    uv_close((uv_handle_t *)&s->deadline, NULL);
    /* Runs the close callbacks (and waits for an abandoned name lookup). */
    while (uv_run(&s->loop, UV_RUN_DEFAULT) != 0) {
    }
    uv_loop_close(&s->loop);
    free(s);
}
