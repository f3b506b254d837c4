/*
 * RCT workloads of energywire-bench (bench/rct_workloads.json):
 *
 *   W4  build a READ frame for battery.soc (0x959930BF).
 *   W5  a fresh incremental receiver takes one RESPONSE frame and its FLOAT
 *       payload is decoded.
 *   W6  a fresh receiver takes one 8021-byte LONG_RESPONSE timeseries frame
 *       and all 1000 points are decoded with the zero-copy iterator.
 *
 * Each workload first checks its result against the workload file (W6 also
 * against an independent decode of the frame bytes); a mismatch fails the
 * whole run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <energywire/rct.h>

#include "bench.h"

struct bench_rct {
    json_t *root;
    uint8_t w4_expect[16];
    size_t w4_len;
    uint8_t *w5_frame;
    size_t w5_len;
    double w5_value;
    uint8_t *w6_frame;
    size_t w6_len;
    uint32_t w6_id;
    double w6_sum; /* sum of the points' values, computed independently */
    size_t w6_points;
    uint8_t rxbuf[EW_RCT_FRAME_MAX];
};

static uint8_t *get_hex(const json_t *obj, const char *w, const char *key, size_t *len) {
    const char *hex = json_string_value(json_object_get(obj, key));
    if (!hex) {
        bench_fail("rct workload file: %s.%s is missing or not a string", w, key);
        return NULL;
    }
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *p = malloc(cap);
    if (!p) {
        bench_fail("out of memory");
        return NULL;
    }
    int n = ew_hex_decode(hex, strlen(hex), p, cap);
    if (n < 0) {
        bench_fail("rct workload file: %s.%s is not valid hex", w, key);
        free(p);
        return NULL;
    }
    *len = (size_t)n;
    return p;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static float f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Reference for W6: unescape the frame by hand (rct.md §5.2) and sum the
 * point values straight from the bytes (§8.1). */
static int w6_reference(bench_rct *b) {
    uint8_t *u = malloc(b->w6_len);
    size_t n = 0;
    if (!u)
        return -1;
    for (size_t i = 1; i < b->w6_len; i++) {
        if (b->w6_frame[i] == 0x2d && i + 1 < b->w6_len)
            i++;
        u[n++] = b->w6_frame[i];
    }
    /* 06, 2-byte length, id, payload, CRC */
    size_t plen = (size_t)(u[1] << 8 | u[2]) - 4;
    if (n != 3 + 4 + plen + 2 || (plen - 4) % 8) {
        free(u);
        return -1;
    }
    b->w6_id = be32(u + 3);
    b->w6_points = (plen - 4) / 8;
    b->w6_sum = 0;
    for (size_t k = 0; k < b->w6_points; k++)
        b->w6_sum += (double)f32(be32(u + 7 + 4 + 8 * k + 4));
    free(u);
    return 0;
}

bench_rct *bench_rct_new(const char *path) {
    bench_rct *b = calloc(1, sizeof *b);
    json_error_t err;
    size_t n;
    if (!b) {
        bench_fail("out of memory");
        return NULL;
    }
    b->root = json_load_file(path, 0, &err);
    if (!b->root) {
        bench_fail("%s: %s (line %d)", path, err.text, err.line);
        goto fail;
    }
    json_t *w4 = json_object_get(b->root, "W4"), *w5 = json_object_get(b->root, "W5"),
           *w6 = json_object_get(b->root, "W6");
    uint8_t *e = get_hex(w4, "W4", "expected_hex", &n);
    if (!e)
        goto fail;
    if (n > sizeof b->w4_expect) {
        free(e);
        bench_fail("W4.expected_hex is too long");
        goto fail;
    }
    memcpy(b->w4_expect, e, n);
    b->w4_len = n;
    free(e);
    if (!(b->w5_frame = get_hex(w5, "W5", "frame_hex", &b->w5_len)))
        goto fail;
    if (!json_is_number(json_object_get(w5, "value"))) {
        bench_fail("W5.value is missing");
        goto fail;
    }
    b->w5_value = json_number_value(json_object_get(w5, "value"));
    if (!(b->w6_frame = get_hex(w6, "W6", "frame_hex", &b->w6_len)))
        goto fail;
    if (w6_reference(b) != 0) {
        bench_fail("W6.frame_hex is not a LONG_RESPONSE timeseries frame");
        goto fail;
    }
    return b;
fail:
    bench_rct_del(b);
    return NULL;
}

void bench_rct_del(bench_rct *b) {
    if (!b)
        return;
    free(b->w5_frame);
    free(b->w6_frame);
    if (b->root)
        json_decref(b->root);
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

/* ---- W4 ------------------------------------------------------------------ */

typedef struct w4_ctx {
    uint8_t buf[32];
    uint64_t sink;
} w4_ctx;

static int w4_run(void *ctx, uint64_t iters) {
    w4_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        size_t n;
        if (ew_rct_frame_encode(w->buf, sizeof w->buf, EW_RCT_CMD_READ, 0, 0x959930BFu, NULL, 0,
                                &n) != EW_OK) {
            bench_fail("W4: ew_rct_frame_encode failed");
            return -1;
        }
        w->sink += n + w->buf[n - 1];
        __asm__ volatile("" : : "r"(w->buf) : "memory");
    }
    return 0;
}

/* ---- W5 ------------------------------------------------------------------ */

typedef struct w5_ctx {
    bench_rct *b;
    double sink;
} w5_ctx;

static int w5_once(bench_rct *b, double *value) {
    ew_rct_rx rx;
    ew_rct_frame f;
    ew_rct_value v;
    size_t used;
    if (ew_rct_rx_init(&rx, b->rxbuf, sizeof b->rxbuf) != EW_OK ||
        ew_rct_rx_feed(&rx, b->w5_frame, b->w5_len, &used, &f, NULL) != EW_OK ||
        used != b->w5_len ||
        ew_rct_value_decode(EW_RCT_TYPE_FLOAT, f.payload.ptr, f.payload.len, &v, NULL) != EW_OK)
        return -1;
    *value = v.f;
    return 0;
}

static int w5_run(void *ctx, uint64_t iters) {
    w5_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        double v;
        if (w5_once(w->b, &v) != 0) {
            bench_fail("W5: frame or value did not decode");
            return -1;
        }
        w->sink += v;
    }
    return 0;
}

/* ---- W6 ------------------------------------------------------------------ */

typedef struct w6_ctx {
    bench_rct *b;
    double sink;
} w6_ctx;

static int w6_once(bench_rct *b, double *sum, size_t *points, uint32_t *id) {
    ew_rct_rx rx;
    ew_rct_frame f;
    ew_rct_ts_iter it;
    ew_rct_ts_point pt;
    size_t used, n = 0;
    double s = 0;
    if (ew_rct_rx_init(&rx, b->rxbuf, sizeof b->rxbuf) != EW_OK ||
        ew_rct_rx_feed(&rx, b->w6_frame, b->w6_len, &used, &f, NULL) != EW_OK ||
        used != b->w6_len || ew_rct_ts_init(&it, f.payload.ptr, f.payload.len, NULL) != EW_OK)
        return -1;
    while (ew_rct_ts_next(&it, &pt)) {
        s += (double)pt.value;
        n++;
    }
    *sum = s;
    *points = n;
    *id = f.id;
    return 0;
}

static int w6_run(void *ctx, uint64_t iters) {
    w6_ctx *w = ctx;
    for (uint64_t i = 0; i < iters; i++) {
        double s;
        size_t n;
        uint32_t id;
        if (w6_once(w->b, &s, &n, &id) != 0 || n != w->b->w6_points) {
            bench_fail("W6: frame or points did not decode");
            return -1;
        }
        w->sink += s;
    }
    return 0;
}

int bench_rct_run(bench_rct *b, const char *id, const bench_opts *o, bench_report *rep) {
    bench_row *r;
    if (strcmp(id, "W4") == 0) {
        static w4_ctx w;
        size_t n;
        if (ew_rct_frame_encode(w.buf, sizeof w.buf, EW_RCT_CMD_READ, 0, 0x959930BFu, NULL, 0,
                                &n) != EW_OK ||
            n != b->w4_len || memcmp(w.buf, b->w4_expect, n) != 0) {
            bench_fail("W4: the READ frame differs from W4.expected_hex");
            return -1;
        }
        if (!(r = add_row(rep, "W4", "RCT: build a READ frame for battery.soc", 20e6)))
            return -1;
        return bench_measure(w4_run, &w, (double)n, o, &r->res);
    }
    if (strcmp(id, "W5") == 0) {
        w5_ctx w = {b, 0};
        double v = 0;
        if (w5_once(b, &v) != 0 || v != b->w5_value) {
            bench_fail("W5: decoded %.17g, want %.17g", v, b->w5_value);
            return -1;
        }
        if (!(r = add_row(rep, "W5", "RCT: fresh receiver takes a RESPONSE frame + FLOAT decode",
                          10e6)))
            return -1;
        return bench_measure(w5_run, &w, (double)b->w5_len, o, &r->res);
    }
    if (strcmp(id, "W6") == 0) {
        w6_ctx w = {b, 0};
        double s = 0;
        size_t n = 0;
        uint32_t oid = 0;
        if (w6_once(b, &s, &n, &oid) != 0 || n != b->w6_points || s != b->w6_sum ||
            oid != b->w6_id || n != 1000) {
            bench_fail("W6: timeseries decode differs from the reference");
            return -1;
        }
        if (!(r = add_row(rep, "W6", "RCT: 8021-byte LONG_RESPONSE, decode 1000 points", 100e3)))
            return -1;
        return bench_measure(w6_run, &w, (double)b->w6_len, o, &r->res);
    }
    bench_fail("unknown RCT workload %s", id);
    return -1;
}
