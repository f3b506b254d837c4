/*
 * EP workloads of energywire-bench, on the full SupplyParameters frame of
 * tests/vectors/ep/generated-vectors.json (gen-supply-all-fields-int):
 *
 *   W7  encode the message, every field filled (Bounds, Power, SourceMix,
 *       PriceForecast with two entries, Voltage, Current, Isolation), as a
 *       whole frame from C structs.
 *   W8  a fresh incremental receiver takes the same frame and the payload
 *       is decoded into the message struct.
 *
 * Both first check their result (W7: bytes equal the vector; W8: every
 * field equals the values the vector lists); a mismatch fails the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <energywire/ep.h>

#include "bench.h"

#define EP_CASE "gen-supply-all-fields-int"

struct bench_ep {
    uint8_t frame[512];
    size_t len;
    uint8_t rxbuf[1024];
    ew_ep_price prices[2];
    ew_ep_mix_entry mix[2];
    ew_ep_msg msg;
};

static const char ts1[] = "2025-02-01T12:00:00Z", ts2[] = "2025-02-01T13:00:00Z";

/* The message as the vector's expect.message describes it. */
static void build(bench_ep *b) {
    ew_ep_msg *m = &b->msg;
    memset(m, 0, sizeof *m);
    m->type = EW_EP_MSG_SUPPLY;
    m->present = 0xFF;
    ew_ep_supply *s = &m->u.supply;
    s->voltage_limit = (ew_ep_bounds){EW_EP_VT_VOLTAGE, ew_ep_num(234.5), ew_ep_num(249)};
    s->current_limit = (ew_ep_bounds){EW_EP_VT_CURRENT, ew_ep_num(89), ew_ep_num(153.5)};
    s->power_limit = ew_ep_num(50000);
    b->mix[0] = (ew_ep_mix_entry){1, ew_ep_num(70)};
    b->mix[1] = (ew_ep_mix_entry){9, ew_ep_num(30)};
    s->power_mix.items = b->mix;
    s->power_mix.count = 2;
    b->prices[0] = (ew_ep_price){
        {(const uint8_t *)ts1, sizeof ts1 - 1}, ew_ep_num(42.5), {(const uint8_t *)"SEK", 3}};
    b->prices[1] = (ew_ep_price){
        {(const uint8_t *)ts2, sizeof ts2 - 1}, ew_ep_num(38.25), {(const uint8_t *)"SEK", 3}};
    s->energy_prices.items = b->prices;
    s->energy_prices.count = 2;
    s->voltage = ew_ep_num(240.5);
    s->current = ew_ep_num(120);
    s->isolation = (ew_ep_isolation){1, 1, 1, ew_ep_num(1000), ew_ep_num(1000)};
}

bench_ep *bench_ep_new(const char *path) {
    bench_ep *b = calloc(1, sizeof *b);
    json_error_t err;
    if (!b) {
        bench_fail("out of memory");
        return NULL;
    }
    json_t *root = json_load_file(path, 0, &err), *c;
    if (!root) {
        bench_fail("%s: %s (line %d)", path, err.text, err.line);
        free(b);
        return NULL;
    }
    size_t i;
    const char *hex = NULL;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (id && strcmp(id, EP_CASE) == 0)
            hex = json_string_value(json_object_get(c, "hex"));
    }
    int n = hex ? ew_hex_decode(hex, strlen(hex), b->frame, sizeof b->frame) : -1;
    json_decref(root);
    if (n <= 0) {
        bench_fail("%s: case " EP_CASE " missing or bad", path);
        free(b);
        return NULL;
    }
    b->len = (size_t)n;
    build(b);
    return b;
}

void bench_ep_del(bench_ep *b) {
    free(b);
}

static bench_row *add_row(bench_report *rep, const char *key, const char *what, double target) {
    if (rep->nrows >= BENCH_MAX_ROWS)
        return NULL;
    bench_row *r = &rep->rows[rep->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->what = what;
    r->impl = "-";
    r->target = target;
    return r;
}

/* ---- W7 ------------------------------------------------------------------ */

typedef struct w7_ctx {
    bench_ep *b;
    uint8_t out[512];
    uint64_t sink;
} w7_ctx;

static int w7_run(void *ctx, uint64_t iters) {
    w7_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        size_t n;
        if (ew_ep_msg_encode_frame(&w->b->msg, w->out, sizeof w->out, &n) != EW_OK) {
            bench_fail("W7: ew_ep_msg_encode_frame failed");
            return -1;
        }
        w->sink += n + w->out[n - 1];
        __asm__ volatile("" : : "r"(w->out) : "memory");
    }
    return 0;
}

/* ---- W8 ------------------------------------------------------------------ */

typedef struct w8_ctx {
    bench_ep *b;
    double sink;
} w8_ctx;

static int w8_once(bench_ep *b, ew_ep_msg *m) {
    ew_ep_rx rx;
    ew_ep_frame f;
    size_t used;
    if (ew_ep_rx_init(&rx, b->rxbuf, sizeof b->rxbuf, 0) != EW_OK ||
        ew_ep_rx_feed(&rx, b->frame, b->len, &used, &f, NULL) != EW_OK || used != b->len ||
        ew_ep_msg_decode_frame(&f, m, NULL) != EW_OK)
        return -1;
    return 0;
}

static int same_num(const ew_ep_number *a, double v) {
    return a->value == v;
}

/* Every field of the decoded message against the vector's values. */
static int w8_verify(const ew_ep_msg *m) {
    const ew_ep_supply *s = &m->u.supply;
    ew_ep_iter it;
    ew_ep_price p;
    ew_ep_mix_entry e;
    if (m->type != EW_EP_MSG_SUPPLY || m->present != 0xFF || m->warnings ||
        !same_num(&s->voltage_limit.min, 234.5) || !same_num(&s->voltage_limit.max, 249) ||
        !same_num(&s->current_limit.min, 89) || !same_num(&s->current_limit.max, 153.5) ||
        !same_num(&s->power_limit, 50000) || !same_num(&s->voltage, 240.5) ||
        !same_num(&s->current, 120) || s->isolation.state != 1 ||
        !same_num(&s->isolation.negative_ohms, 1000) ||
        !same_num(&s->isolation.positive_ohms, 1000) || s->power_mix.count != 2 ||
        s->energy_prices.count != 2)
        return -1;
    ew_ep_mix_iter(&it, &s->power_mix);
    if (!ew_ep_mix_next(&it, &e) || e.source != 1 || !same_num(&e.amount, 70) ||
        !ew_ep_mix_next(&it, &e) || e.source != 9 || !same_num(&e.amount, 30))
        return -1;
    ew_ep_prices_iter(&it, &s->energy_prices);
    if (!ew_ep_prices_next(&it, &p) || p.timestamp.len != 20 ||
        memcmp(p.timestamp.ptr, ts1, 20) != 0 || !same_num(&p.amount, 42.5) ||
        p.currency.len != 3 || memcmp(p.currency.ptr, "SEK", 3) != 0 ||
        !ew_ep_prices_next(&it, &p) || memcmp(p.timestamp.ptr, ts2, 20) != 0 ||
        !same_num(&p.amount, 38.25))
        return -1;
    return 0;
}

static int w8_run(void *ctx, uint64_t iters) {
    w8_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        ew_ep_msg m;
        if (w8_once(w->b, &m) != 0) {
            bench_fail("W8: frame or message did not decode");
            return -1;
        }
        w->sink += m.u.supply.voltage.value;
    }
    return 0;
}

int bench_ep_run(bench_ep *b, const char *id, const bench_opts *o, bench_report *rep) {
    bench_row *r;
    if (strcmp(id, "W7") == 0) {
        static w7_ctx w;
        size_t n;
        w.b = b;
        if (ew_ep_msg_encode_frame(&b->msg, w.out, sizeof w.out, &n) != EW_OK || n != b->len ||
            memcmp(w.out, b->frame, n) != 0) {
            bench_fail("W7: the encoded frame differs from " EP_CASE);
            return -1;
        }
        if (!(r = add_row(rep, "W7", "EP: encode a full SupplyParameters frame", 2e6)))
            return -1;
        return bench_measure(w7_run, &w, (double)n, o, &r->res);
    }
    if (strcmp(id, "W8") == 0) {
        w8_ctx w = {b, 0};
        ew_ep_msg m;
        if (w8_once(b, &m) != 0 || w8_verify(&m) != 0) {
            bench_fail("W8: decoded message differs from " EP_CASE);
            return -1;
        }
        if (!(r = add_row(rep, "W8", "EP: fresh receiver + decode of the same frame", 2e6)))
            return -1;
        return bench_measure(w8_run, &w, (double)b->len, o, &r->res);
    }
    bench_fail("unknown EP workload %s", id);
    return -1;
}
