/*
 * RCT session, sans-I/O: request queue, answer matching by object id,
 * per-request timeouts, retries and the offline state (rct.md §1, §10, §15).
 *
 * RCT has no request id and no NACK (rct.md §1): an answer carries only the
 * object id, a device may stay silent, cut an answer short with a valid CRC
 * when a second request arrives, or send good data with a bad CRC (§15).  So
 * the session keeps at most one request per object id in flight and matches
 * answers by id; anything else on the wire is skipped (§10: unrelated frames
 * such as net.package slip in).  Lost, truncated and CRC-broken answers are
 * retried; a run of requests that time out marks the device offline (an
 * inverter that sleeps at night), and then a single probe request is sent
 * after an exponential backoff until something answers.
 *
 * Every buffer is allocated in ew_rct_conn_new(): one wire-frame buffer per
 * queue slot, the receive buffer, the send buffer and the event ring.
 */
#include <energywire/rct_conn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum slot_state { SL_QUEUED = 0, SL_INFLIGHT = 1 };

typedef struct conn_slot {
    uint32_t req_id;
    uint32_t oid;
    uint8_t cmd;
    uint8_t state;
    unsigned attempts; /* times sent */
    uint64_t deadline;
    uint8_t *wire; /* the escaped request frame (slot-owned buffer) */
    size_t wire_len;
} conn_slot;

struct ew_rct_conn {
    ew_mem mem;
    int err;
    char detail[160];

    uint32_t timeout_ms, backoff_initial_ms, backoff_max_ms, probe_id;
    unsigned max_retries, max_inflight, max_queue, offline_after;
    size_t max_payload, wire_cap;
    void (*log)(void *user, int level, const char *msg);
    void *log_user;
    uint64_t now;

    ew_rct_rx rx;
    uint8_t *rxbuf;

    conn_slot *q; /* in submission order */
    size_t qn;
    uint8_t *wires; /* max_queue * wire_cap */
    unsigned inflight;
    uint32_t next_req;

    uint8_t probe_wire[32];
    size_t probe_len;
    int probe_inflight;
    uint64_t probe_deadline;

    uint8_t *out;
    size_t out_off, out_len, out_cap;

    ew_rct_conn_event *evq;
    size_t evcap, evhead, evcount;
    int view_pending; /* a RESPONSE event whose value points into rxbuf */

    int closed, want_close;
    int offline;
    unsigned fails_in_row;
    uint64_t offline_since, backoff_ms, probe_at;
};

/* ---- memory ---------------------------------------------------------------- */

static void *std_malloc(size_t n, void *user) {
    (void)user;
    return malloc(n);
}

static void *std_realloc(void *p, size_t n, void *user) {
    (void)user;
    return realloc(p, n);
}

static void std_free(void *p, void *user) {
    (void)user;
    free(p);
}

static void *mem_alloc(ew_rct_conn *c, size_t n) {
    return c->mem.malloc_fn(n, c->mem.user);
}

static void mem_free(ew_rct_conn *c, void *p) {
    if (p)
        c->mem.free_fn(p, c->mem.user);
}

/* ---- options --------------------------------------------------------------- */

void ew_rct_conn_opts_init(ew_rct_conn_opts *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->request_timeout_ms = 2000;
    o->max_retries = 3;
    o->max_inflight = 1;
    o->max_queue = 64;
    o->max_payload = EW_RCT_SHORT_PAYLOAD_MAX;
    o->max_frame = EW_RCT_FRAME_MAX;
    o->offline_after = 3;
    o->backoff_initial_ms = 30000;
    o->backoff_max_ms = 15u * 60u * 1000u;
    o->probe_id = 0x959930BFu; /* battery.soc */
}

void ew_rct_conn_del(ew_rct_conn *c) {
    if (!c)
        return;
    mem_free(c, c->rxbuf);
    mem_free(c, c->q);
    mem_free(c, c->wires);
    mem_free(c, c->out);
    mem_free(c, c->evq);
    ew_mem m = c->mem;
    m.free_fn(c, m.user);
}

int ew_rct_conn_new(ew_rct_conn **cp, const ew_rct_conn_opts *o, const ew_mem *mem) {
    ew_rct_conn_opts def;
    if (!cp)
        return EW_ERR_INVAL;
    *cp = NULL;
    if (!o) {
        ew_rct_conn_opts_init(&def);
        o = &def;
    }
    if (o->max_inflight < 1 || o->max_inflight > 32 || o->max_queue < 1 || o->max_queue > 4096 ||
        o->max_payload > EW_RCT_LONG_PAYLOAD_MAX || o->max_frame < EW_RCT_RX_BUF_MIN ||
        o->max_frame > EW_RCT_FRAME_MAX || o->request_timeout_ms == 0 ||
        o->backoff_initial_ms == 0 || o->backoff_max_ms < o->backoff_initial_ms)
        return EW_ERR_INVAL;
    ew_mem m = {std_malloc, std_realloc, std_free, NULL};
    if (mem && mem->malloc_fn && mem->free_fn)
        m = *mem;
    ew_rct_conn *c = m.malloc_fn(sizeof *c, m.user);
    if (!c)
        return EW_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->mem = m;
    c->timeout_ms = o->request_timeout_ms;
    c->max_retries = o->max_retries;
    c->max_inflight = o->max_inflight;
    c->max_queue = o->max_queue;
    c->max_payload = o->max_payload;
    c->offline_after = o->offline_after;
    c->backoff_initial_ms = o->backoff_initial_ms;
    c->backoff_max_ms = o->backoff_max_ms;
    c->probe_id = o->probe_id;
    c->log = o->log;
    c->log_user = o->log_user;
    c->now = o->now_ms;
    c->next_req = 1;
    c->backoff_ms = o->backoff_initial_ms;
    /* start + command + 2-byte length + id + payload + CRC, escaped. */
    size_t frame = 1 + 1 + 2 + 4 + c->max_payload + 2;
    c->wire_cap = 1 + 2 * (frame - 1);
    c->evcap = (size_t)c->max_queue + 2;
    c->out_cap = ((size_t)c->max_inflight + 1) * c->wire_cap;
    c->rxbuf = mem_alloc(c, o->max_frame);
    c->q = mem_alloc(c, (size_t)c->max_queue * sizeof *c->q);
    c->wires = mem_alloc(c, (size_t)c->max_queue * c->wire_cap);
    c->out = mem_alloc(c, c->out_cap);
    c->evq = mem_alloc(c, c->evcap * sizeof *c->evq);
    if (!c->rxbuf || !c->q || !c->wires || !c->out || !c->evq) {
        ew_rct_conn_del(c);
        return EW_ERR_NOMEM;
    }
    ew_rct_rx_init(&c->rx, c->rxbuf, o->max_frame);
    for (size_t i = 0; i < c->max_queue; i++)
        c->q[i].wire = c->wires + i * c->wire_cap;
    if (ew_rct_frame_encode(c->probe_wire, sizeof c->probe_wire, EW_RCT_CMD_READ, 0, c->probe_id,
                            NULL, 0, &c->probe_len) != EW_OK) {
        ew_rct_conn_del(c);
        return EW_ERR_INVAL;
    }
    *cp = c;
    return EW_OK;
}

/* ---- events and logging ---------------------------------------------------- */

static void log_msg(ew_rct_conn *c, int level, const char *msg) {
    if (c->log)
        c->log(c->log_user, level, msg);
}

/* The ring holds max_queue + 2 events and submit keeps queued requests plus
 * undelivered events at most max_queue, so request events always fit; only
 * OFFLINE/ONLINE events can find it full, and those are then dropped (the
 * log line and ew_rct_conn_online() still tell). */
static ew_rct_conn_event *push_ev(ew_rct_conn *c, ew_rct_conn_event_type type) {
    if (c->evcount == c->evcap)
        return NULL;
    ew_rct_conn_event *e = &c->evq[(c->evhead + c->evcount++) % c->evcap];
    memset(e, 0, sizeof *e);
    e->type = type;
    return e;
}

/* ---- the queue ------------------------------------------------------------- */

static void slot_remove(ew_rct_conn *c, size_t i) {
    uint8_t *wire = c->q[i].wire;
    if (c->q[i].state == SL_INFLIGHT)
        c->inflight--;
    memmove(&c->q[i], &c->q[i + 1], (c->qn - i - 1) * sizeof *c->q);
    c->qn--;
    c->q[c->qn].wire = wire; /* the buffer moves to the free end */
}

static conn_slot *find_inflight(ew_rct_conn *c, uint32_t oid, size_t *idx) {
    for (size_t i = 0; i < c->qn; i++)
        if (c->q[i].state == SL_INFLIGHT && c->q[i].oid == oid) {
            *idx = i;
            return &c->q[i];
        }
    return NULL;
}

static void fail_slot(ew_rct_conn *c, size_t i, int reason) {
    conn_slot *s = &c->q[i];
    ew_rct_conn_event *e = push_ev(c, EW_RCT_EV_REQUEST_FAILED);
    if (e) {
        e->req_id = s->req_id;
        e->id = s->oid;
        e->command = s->cmd;
        e->attempts = s->attempts;
        e->err = reason;
    }
    slot_remove(c, i);
}

static void go_offline(ew_rct_conn *c) {
    char msg[160];
    c->offline = 1;
    c->offline_since = c->now;
    c->backoff_ms = c->backoff_initial_ms;
    c->probe_at = c->now + c->backoff_ms;
    c->probe_inflight = 0;
    /* Stop sending: requests still in flight go back to the queue with a
     * fresh retry budget and are sent again once the device answers. */
    for (size_t i = 0; i < c->qn; i++)
        if (c->q[i].state == SL_INFLIGHT) {
            c->q[i].state = SL_QUEUED;
            c->q[i].attempts = 0;
        }
    c->inflight = 0;
    snprintf(msg, sizeof msg,
             "rct: device offline after %u requests timed out; probing every %lu ms, up to %lu ms",
             c->fails_in_row, (unsigned long)c->backoff_initial_ms,
             (unsigned long)c->backoff_max_ms);
    log_msg(c, 1, msg);
    ew_rct_conn_event *e = push_ev(c, EW_RCT_EV_OFFLINE);
    if (e)
        e->attempts = c->fails_in_row;
}

/* A frame with a good CRC arrived: the device is there. */
static void alive(ew_rct_conn *c) {
    c->fails_in_row = 0;
    if (!c->offline)
        return;
    char msg[120];
    uint64_t off = c->now - c->offline_since;
    c->offline = 0;
    c->probe_inflight = 0;
    c->backoff_ms = c->backoff_initial_ms;
    snprintf(msg, sizeof msg, "rct: device back online after %llu ms", (unsigned long long)off);
    log_msg(c, 2, msg);
    ew_rct_conn_event *e = push_ev(c, EW_RCT_EV_ONLINE);
    if (e)
        e->offline_ms = off;
}

/* A failed attempt: send again while the retry budget lasts. */
static void retry_or_fail(ew_rct_conn *c, size_t i, int reason) {
    conn_slot *s = &c->q[i];
    if (s->attempts <= c->max_retries) {
        s->state = SL_QUEUED;
        c->inflight--;
        return;
    }
    fail_slot(c, i, reason);
    if (reason == EW_ERR_TIMEOUT) {
        c->fails_in_row++;
        if (c->offline_after && !c->offline && c->fails_in_row >= c->offline_after)
            go_offline(c);
    } else {
        c->fails_in_row = 0;
    }
}

static int out_append(ew_rct_conn *c, const uint8_t *p, size_t n) {
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_cap - c->out_len < n && c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_cap - c->out_len < n)
        return 0;
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return 1;
}

/* Moves queued requests into flight: in submission order (a retried request
 * keeps its place, so it goes first), at most max_inflight, one per id. */
static void pump(ew_rct_conn *c) {
    if (c->closed)
        return;
    if (c->offline) {
        if (!c->probe_inflight && c->now >= c->probe_at &&
            out_append(c, c->probe_wire, c->probe_len)) {
            c->probe_inflight = 1;
            c->probe_deadline = c->now + c->timeout_ms;
        }
        return;
    }
    for (size_t i = 0; i < c->qn && c->inflight < c->max_inflight; i++) {
        conn_slot *s = &c->q[i];
        size_t j;
        if (s->state != SL_QUEUED || find_inflight(c, s->oid, &j))
            continue;
        if (!out_append(c, s->wire, s->wire_len))
            break;
        s->state = SL_INFLIGHT;
        s->attempts++;
        s->deadline = c->now + c->timeout_ms;
        c->inflight++;
    }
}

/* ---- submitting ------------------------------------------------------------ */

static int submit(ew_rct_conn *c, unsigned cmd, uint32_t id, const uint8_t *payload, size_t len,
                  uint64_t now_ms, uint32_t *req_id) {
    if (c->err)
        return c->err;
    if (c->closed)
        return EW_ERR_STATE;
    if (c->qn + c->evcount >= c->max_queue)
        return EW_ERR_NOBUF;
    conn_slot *s = &c->q[c->qn];
    int rc = ew_rct_frame_encode(s->wire, c->wire_cap, cmd, 0, id, payload, len, &s->wire_len);
    if (rc != EW_OK)
        return rc;
    if (now_ms > c->now)
        c->now = now_ms;
    s->req_id = c->next_req++;
    if (c->next_req == 0)
        c->next_req = 1;
    s->oid = id;
    s->cmd = (uint8_t)cmd;
    s->state = SL_QUEUED;
    s->attempts = 0;
    s->deadline = 0;
    c->qn++;
    if (req_id)
        *req_id = s->req_id;
    pump(c);
    return EW_OK;
}

int ew_rct_conn_submit_read(ew_rct_conn *c, uint32_t id, uint64_t now_ms, uint32_t *req_id) {
    if (!c)
        return EW_ERR_INVAL;
    return submit(c, EW_RCT_CMD_READ, id, NULL, 0, now_ms, req_id);
}

int ew_rct_conn_submit_write(ew_rct_conn *c, uint32_t id, const uint8_t *payload, size_t len,
                             uint64_t now_ms, uint32_t *req_id) {
    if (!c || (!payload && len))
        return EW_ERR_INVAL;
    if (len > c->max_payload)
        return EW_ERR_TOO_BIG;
    unsigned cmd = len > EW_RCT_SHORT_PAYLOAD_MAX ? EW_RCT_CMD_LONG_WRITE : EW_RCT_CMD_WRITE;
    return submit(c, cmd, id, payload, len, now_ms, req_id);
}

/* ---- receiving ------------------------------------------------------------- */

/* Handles one receiver outcome.  Returns 1 when a RESPONSE event with a
 * view into the receive buffer was queued (the caller must stop feeding). */
static int on_frame(ew_rct_conn *c, int rc, const ew_rct_frame *f) {
    size_t i;
    conn_slot *s;
    if (rc == EW_ERR_CRC) {
        /* §15: good data with a bad CRC happens; the id may be damaged too,
         * so only an id in flight counts, and it is retried. */
        s = find_inflight(c, f->id, &i);
        if (s)
            retry_or_fail(c, i, EW_ERR_CRC);
        return 0;
    }
    if (rc != EW_OK || !(ew_rct_cmd_flags(f->command) & EW_RCT_CMDF_RESPONSE))
        return 0; /* broken framing, or a request echoed by another client */
    int was_offline = c->offline;
    alive(c);
    if (was_offline && f->id == c->probe_id)
        return 0; /* the probe's answer */
    s = find_inflight(c, f->id, &i);
    if (!s)
        return 0; /* unrelated or late (§10, §15): skipped */
    ew_rct_value v;
    ew_diag d;
    int drc;
    if (s->cmd != EW_RCT_CMD_READ && f->payload.len == 0) {
        /* A write acknowledged without a value (rct.md §10, §18 Q5). */
        memset(&v, 0, sizeof v);
        v.type = EW_RCT_TYPE_UNKNOWN;
        v.raw = f->payload;
        drc = EW_OK;
    } else {
        drc = ew_rct_value_decode(ew_rct_type_for(f->id, f->command), f->payload.ptr,
                                  f->payload.len, &v, &d);
    }
    if (drc == EW_ERR_TRUNCATED) {
        /* §15: the device cut its answer for another request; ask again. */
        retry_or_fail(c, i, EW_ERR_TRUNCATED);
        return 0;
    }
    if (drc != EW_OK) {
        fail_slot(c, i, drc);
        return 0;
    }
    ew_rct_conn_event *e = push_ev(c, EW_RCT_EV_RESPONSE);
    if (e) {
        e->req_id = s->req_id;
        e->id = s->oid;
        e->command = s->cmd;
        e->attempts = s->attempts;
        e->response_command = f->command;
        e->value = v;
        c->view_pending = 1;
    }
    slot_remove(c, i);
    return e != NULL;
}

int ew_rct_conn_recv(ew_rct_conn *c, const uint8_t *in, size_t len, uint64_t now_ms) {
    if (!c || (!in && len))
        return EW_ERR_INVAL;
    if (c->err)
        return c->err;
    if (c->closed || c->view_pending)
        return 0;
    if (now_ms > c->now)
        c->now = now_ms;
    size_t pos = 0;
    while (pos < len) {
        size_t n;
        ew_rct_frame f;
        int rc = ew_rct_rx_feed(&c->rx, in + pos, len - pos, &n, &f, NULL);
        pos += n;
        if (rc == EW_ERR_NEED_MORE)
            break;
        if (on_frame(c, rc, &f))
            break;
    }
    pump(c);
    return (int)(pos > (size_t)INT32_MAX ? INT32_MAX : pos);
}

static void close_all(ew_rct_conn *c) {
    if (c->closed)
        return;
    c->closed = 1;
    c->want_close = 1;
    while (c->qn)
        fail_slot(c, 0, EW_ERR_CLOSED);
    c->probe_inflight = 0;
}

void ew_rct_conn_recv_eof(ew_rct_conn *c, uint64_t now_ms) {
    if (!c)
        return;
    if (now_ms > c->now)
        c->now = now_ms;
    close_all(c);
}

void ew_rct_conn_close(ew_rct_conn *c) {
    if (c)
        close_all(c);
}

int ew_rct_conn_poll_event(ew_rct_conn *c, ew_rct_conn_event *ev) {
    if (!c || !ev || !c->evcount)
        return 0;
    *ev = c->evq[c->evhead];
    c->evhead = (c->evhead + 1) % c->evcap;
    c->evcount--;
    if (ev->type == EW_RCT_EV_RESPONSE)
        c->view_pending = 0;
    return 1;
}

/* ---- sending and timers ------------------------------------------------------ */

size_t ew_rct_conn_send_data(ew_rct_conn *c, const uint8_t **out) {
    if (!c || !out)
        return 0;
    *out = c->out + c->out_off;
    return c->out_len - c->out_off;
}

void ew_rct_conn_send_done(ew_rct_conn *c, size_t n) {
    if (!c)
        return;
    if (n > c->out_len - c->out_off)
        n = c->out_len - c->out_off;
    c->out_off += n;
    pump(c);
}

uint64_t ew_rct_conn_next_deadline(const ew_rct_conn *c) {
    uint64_t t = UINT64_MAX;
    if (!c || c->closed)
        return t;
    for (size_t i = 0; i < c->qn; i++)
        if (c->q[i].state == SL_INFLIGHT && c->q[i].deadline < t)
            t = c->q[i].deadline;
    if (c->offline)
        t = c->probe_inflight ? c->probe_deadline : c->probe_at;
    return t;
}

void ew_rct_conn_on_timeout(ew_rct_conn *c, uint64_t now_ms) {
    if (!c || c->closed)
        return;
    if (now_ms > c->now)
        c->now = now_ms;
    if (c->offline && c->probe_inflight && c->now >= c->probe_deadline) {
        c->probe_inflight = 0;
        c->backoff_ms *= 2;
        if (c->backoff_ms > c->backoff_max_ms)
            c->backoff_ms = c->backoff_max_ms;
        c->probe_at = c->now + c->backoff_ms;
    }
    int timed_out = 0;
    for (size_t i = 0; i < c->qn;) {
        conn_slot *s = &c->q[i];
        size_t before = c->qn;
        if (s->state == SL_INFLIGHT && s->deadline <= c->now) {
            retry_or_fail(c, i, EW_ERR_TIMEOUT);
            timed_out = 1;
        }
        if (c->qn == before)
            i++;
    }
    /* An answer that was cut off (a second client interrupting the device,
     * rct.md §15) is never completed, and the receiver does not resync on a
     * start token inside a frame (§5.2): drop the partial frame so that the
     * retry's answer is read from its own start. */
    if (timed_out)
        ew_rct_rx_reset(&c->rx);
    pump(c);
}

/* ---- state ------------------------------------------------------------------ */

int ew_rct_conn_online(const ew_rct_conn *c) {
    return c && !c->offline;
}

int ew_rct_conn_want_close(const ew_rct_conn *c) {
    return c ? c->want_close : 1;
}

size_t ew_rct_conn_pending(const ew_rct_conn *c) {
    return c ? c->qn : 0;
}

int ew_rct_conn_error(const ew_rct_conn *c) {
    return c ? c->err : EW_ERR_INVAL;
}

const char *ew_rct_conn_error_detail(const ew_rct_conn *c) {
    return c && c->err ? c->detail : "";
}
