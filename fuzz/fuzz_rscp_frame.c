/*
 * libFuzzer target: one RSCP frame.
 *
 * The input is decoded with ew_rscp_frame_decode() (EW_RSCP_DECODE_VALIDATE,
 * then strict and final); the value area is printed as text and as JSON into
 * fixed buffers (large and tiny) and searched with fixed compiled queries.
 * Checked: consistent lengths and views, NUL-terminated and size-reporting
 * printers, well-formed JSON even on faults, query_run/query_first agree.
 */
#include "fuzz_util.h"

#define OUT_CAP (1u << 20)
#define SMALL_CAP 24u

static char out_big[OUT_CAP];
static char out_small[SMALL_CAP];

static const char *const queries[] = {
    "EMS_POWER_PV",
    "BAT_DATA(BAT_INDEX==0)/BAT_RSOC",
    "PVI_DATA(PVI_INDEX>=0 && PVI_INDEX<2)/PVI_DC_POWER/PVI_VALUE",
    "0x01800001",
    "INFO_SERIAL_NUMBER",
    "RSCP_REQ_AUTHENTICATION(RSCP_AUTHENTICATION_USER==\"user@example.com\")",
    "BAT_DATA(BAT_RSOC>50.5)/BAT_DEVICE_NAME",
};
#define NQUERIES (sizeof queries / sizeof queries[0])

static ew_rscp_query compiled[NQUERIES];

static void compile_once(void) {
    static int done;
    if (done)
        return;
    for (size_t i = 0; i < NQUERIES; i++) {
        ew_diag d = {0, 0, NULL};
        int rc = ew_rscp_query_compile(&compiled[i], queries[i], strlen(queries[i]), &d);
        if (rc != EW_OK) {
            fprintf(stderr, "fixed query %zu (%s) does not compile: %s at %zu: %s\n", i, queries[i],
                    ew_errname(rc), d.offset, d.what ? d.what : "");
            abort();
        }
    }
    done = 1;
}

typedef struct match_log {
    int n;
    ew_rscp_value first;
    const uint8_t *area;
    size_t len;
} match_log;

static int on_match(void *user, const ew_rscp_value *v) {
    match_log *m = user;
    FUZZ_CHECK(v->data >= m->area && v->data + v->len <= m->area + m->len);
    FUZZ_CHECK(v->offset + EW_RSCP_TLV_HEADER_LEN + v->len <= m->len);
    FUZZ_CHECK(v->data == m->area + v->offset + EW_RSCP_TLV_HEADER_LEN);
    if (m->n++ == 0)
        m->first = *v;
    return 0;
}

typedef int (*print_fn)(const uint8_t *, size_t, unsigned, unsigned, char *, size_t, size_t *,
                        ew_diag *);

static void check_print(print_fn fn, int json, const uint8_t *area, size_t len, unsigned flags,
                        int tree_rc) {
    size_t w = 0, ws = 0;
    ew_diag d = {0, 0, NULL};
    int rc = fn(area, len, 0, flags, out_big, OUT_CAP, &w, &d);
    FUZZ_CHECK(rc == EW_OK || rc == EW_ERR_NOBUF || rc == EW_ERR_OVERRUN || rc == EW_ERR_DEPTH);
    /* The printer walks with the same iterator as the validator. */
    if (tree_rc >= 0)
        FUZZ_CHECK(rc == EW_OK || rc == EW_ERR_NOBUF);
    else
        FUZZ_CHECK(rc == tree_rc);
    if (rc == EW_ERR_NOBUF) {
        FUZZ_CHECK(w > OUT_CAP);
        return;
    }
    if (rc < 0)
        FUZZ_CHECK(d.code == rc && d.offset <= len && d.what);
    if (w >= OUT_CAP)
        return; /* a fault report that did not fit */
    FUZZ_CHECK(out_big[w] == '\0' && strlen(out_big) == w);
    if (json)
        FUZZ_CHECK(fuzz_json_valid(out_big, w));

    /* A tiny buffer: the same text, cut and NUL terminated. */
    memset(out_small, 0x5A, sizeof out_small);
    int rs = fn(area, len, 0, flags, out_small, SMALL_CAP, &ws, NULL);
    size_t shown = w < SMALL_CAP - 1 ? w : SMALL_CAP - 1;
    FUZZ_CHECK(out_small[shown] == '\0' && memcmp(out_small, out_big, shown) == 0);
    if (rc == EW_OK && w + 1 > SMALL_CAP)
        FUZZ_CHECK(rs == EW_ERR_NOBUF && ws == w + 1);
    else
        FUZZ_CHECK(rs == rc && ws == w);
}

/* ew_rscp_value_format() on every value: snprintf semantics. */
static void check_format(const uint8_t *area, size_t len, unsigned flags) {
    ew_rscp_iter stack[EW_RSCP_DEFAULT_MAX_DEPTH + 1];
    unsigned top = 0;
    ew_rscp_iter_init(&stack[0], area, len, EW_RSCP_DEFAULT_MAX_DEPTH);
    for (;;) {
        ew_rscp_value v;
        int rc = ew_rscp_iter_next(&stack[top], &v, NULL);
        if (rc < 0)
            return;
        if (rc == 0) {
            if (top == 0)
                return;
            top--;
            continue;
        }
        int n = ew_rscp_value_format(&v, flags, out_big, OUT_CAP);
        FUZZ_CHECK(n >= 0 && (size_t)n < OUT_CAP && strlen(out_big) == (size_t)n);
        memset(out_small, 0x5A, sizeof out_small);
        int m = ew_rscp_value_format(&v, flags, out_small, SMALL_CAP);
        size_t shown = (size_t)n < SMALL_CAP - 1 ? (size_t)n : SMALL_CAP - 1;
        FUZZ_CHECK(m == n && out_small[shown] == '\0' && memcmp(out_small, out_big, shown) == 0);
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            if (ew_rscp_iter_enter(&stack[top], &v, &stack[top + 1], NULL) != EW_OK)
                return;
            top++;
        }
    }
}

static void check_area(const uint8_t *area, size_t len) {
    int tree_rc = ew_rscp_validate(area, len, 0, NULL);
    FUZZ_CHECK(tree_rc >= 0 || tree_rc == EW_ERR_OVERRUN || tree_rc == EW_ERR_DEPTH);

    check_print(ew_rscp_print_text, 0, area, len, 0, tree_rc);
    check_print(ew_rscp_print_json, 1, area, len, 0, tree_rc);
    const unsigned all = EW_RSCP_PRINT_TYPES | EW_RSCP_PRINT_IDS | EW_RSCP_PRINT_PRETTY;
    check_print(ew_rscp_print_text, 0, area, len, all, tree_rc);
    check_print(ew_rscp_print_json, 1, area, len, all | EW_RSCP_PRINT_SECRETS, tree_rc);
    check_format(area, len, 0);
    check_format(area, len, all | EW_RSCP_PRINT_SECRETS);

    for (size_t i = 0; i < NQUERIES; i++) {
        match_log m;
        memset(&m, 0, sizeof m);
        m.area = area;
        m.len = len;
        ew_diag d = {0, 0, NULL};
        int n = ew_rscp_query_run(&compiled[i], area, len, 0, on_match, &m, &d);
        FUZZ_CHECK(n >= 0 || n == EW_ERR_OVERRUN || n == EW_ERR_DEPTH);
        if (n >= 0) {
            FUZZ_CHECK(n == m.n);
        } else {
            FUZZ_CHECK(tree_rc < 0 && d.code == n);
            continue;
        }
        ew_rscp_value first;
        int f = ew_rscp_query_first(&compiled[i], area, len, 0, &first, NULL);
        FUZZ_CHECK(f == (n > 0));
        if (f == 1)
            FUZZ_CHECK(first.offset == m.first.offset && first.tag == m.first.tag &&
                       first.data == m.first.data);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    compile_once();

    ew_rscp_frame f;
    ew_diag d = {0, 0, NULL};
    int rc = ew_rscp_frame_decode(data, size, &f, EW_RSCP_DECODE_VALIDATE, &d);
    if (rc >= 0) {
        FUZZ_CHECK((size_t)rc == f.frame_len && f.frame_len <= size);
        FUZZ_CHECK(f.data == data + EW_RSCP_HEADER_LEN);
        FUZZ_CHECK(f.frame_len ==
                   EW_RSCP_HEADER_LEN + (size_t)f.data_len + (f.has_crc ? EW_RSCP_CRC_LEN : 0));
        FUZZ_CHECK(ew_rscp_validate(f.data, f.data_len, 0, NULL) >= 0);
    } else {
        FUZZ_CHECK(rc == EW_ERR_NEED_MORE || d.code == rc);
        FUZZ_CHECK(rc == EW_ERR_NEED_MORE || d.offset <= size);
    }

    /* Strict and final: a complete input either decodes the same way or
     * fails for a reason the flags add. */
    ew_rscp_frame g;
    int rs =
        ew_rscp_frame_decode(data, size, &g, EW_RSCP_DECODE_STRICT | EW_RSCP_DECODE_FINAL, NULL);
    FUZZ_CHECK(rs != EW_ERR_NEED_MORE);
    if (rc >= 0)
        FUZZ_CHECK(rs == rc || rs == EW_ERR_BAD_FIELD);
    if (rc == EW_ERR_NEED_MORE)
        FUZZ_CHECK(rs == EW_ERR_TRUNCATED || rs == EW_ERR_BAD_FIELD);

    if (rc >= 0) {
        check_area(f.data, f.data_len);
    } else if ((rc == EW_ERR_CRC || rc == EW_ERR_OVERRUN || rc == EW_ERR_DEPTH) &&
               size >= EW_RSCP_HEADER_LEN) {
        /* The frame is complete; its value area is still worth printing
         * (what a receiver that ignores CRCs would do). */
        size_t dlen = (size_t)data[16] | (size_t)data[17] << 8;
        FUZZ_CHECK(EW_RSCP_HEADER_LEN + dlen <= size);
        check_area(data + EW_RSCP_HEADER_LEN, dlen);
    }
    return 0;
}
