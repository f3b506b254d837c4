/*
 * libFuzzer target: the query language.
 *
 * The input is query text.  When it compiles, the query runs over a fixed
 * value tree (built once: a poll answer with battery and inverter
 * containers, every value type, unknown tags and deep nesting) and over cut
 * copies of it.  Checked: the compiled query stays within its limits, errors
 * carry a diagnostic inside the text, matches are views into the tree and
 * query_run and query_first agree.
 */
#include "fuzz_util.h"

static uint8_t tree[4096];
static size_t tree_len;

static uint32_t tag(const char *name) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_name(name, strlen(name));
    if (!t) {
        fprintf(stderr, "fuzz_rscp_query: tag %s is not in the registry\n", name);
        abort();
    }
    return t->id;
}

static void add_bat(ew_rscp_builder *b, uint16_t index, float rsoc, const char *name) {
    ew_rscp_builder_open(b, tag("BAT_DATA"));
    ew_rscp_builder_add_uint16(b, tag("BAT_INDEX"), index);
    ew_rscp_builder_add_float32(b, tag("BAT_RSOC"), rsoc);
    ew_rscp_builder_add_float32(b, tag("BAT_MODULE_VOLTAGE"), 52.5f);
    ew_rscp_builder_add_uint32(b, tag("BAT_CHARGE_CYCLES"), 311u + index);
    ew_rscp_builder_add_string(b, tag("BAT_DEVICE_NAME"), name);
    ew_rscp_builder_add_uchar8(b, tag("BAT_TRAINING_MODE"), 0);
    ew_rscp_builder_open(b, tag("BAT_DCB_INFO"));
    ew_rscp_builder_add_uint16(b, tag("BAT_DCB_INDEX"), 0);
    ew_rscp_builder_add_uint32(b, tag("BAT_DCB_CYCLE_COUNT"), 200);
    ew_rscp_builder_add_error(b, tag("BAT_DCB_SERIALNO"), EW_RSCP_ERR_NOT_AVAILABLE);
    ew_rscp_builder_close(b);
    ew_rscp_builder_close(b);
}

static void add_pvi(ew_rscp_builder *b, uint16_t index, float power) {
    ew_rscp_builder_open(b, tag("PVI_DATA"));
    ew_rscp_builder_add_uint16(b, tag("PVI_INDEX"), index);
    ew_rscp_builder_add_bool(b, tag("PVI_ON_GRID"), index == 0);
    for (uint16_t string = 0; string < 2; string++) {
        ew_rscp_builder_open(b, tag("PVI_DC_POWER"));
        ew_rscp_builder_add_uint16(b, tag("PVI_INDEX"), string);
        ew_rscp_builder_add_float32(b, tag("PVI_VALUE"), power + string);
        ew_rscp_builder_close(b);
    }
    ew_rscp_builder_close(b);
}

static void build_tree_once(void) {
    if (tree_len)
        return;
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, tree, sizeof tree);
    ew_rscp_builder_add_int32(&b, tag("EMS_POWER_PV"), 4687);
    ew_rscp_builder_add_int32(&b, tag("EMS_POWER_GRID"), -1936);
    ew_rscp_builder_add_float32(&b, tag("EMS_AUTARKY"), 100.0f);
    ew_rscp_builder_add_float32(&b, tag("EMS_SELF_CONSUMPTION"), 58.75f);
    ew_rscp_builder_add_uchar8(&b, tag("EMS_BAT_SOC"), 77);
    ew_rscp_builder_add_uint32(&b, tag("EMS_STATUS"), 0x13);
    ew_rscp_builder_add_bool(&b, tag("EMS_POWER_LIMITS_USED"), 1);
    ew_rscp_timestamp ts = {1700000000, 123000000};
    ew_rscp_builder_add_timestamp(&b, tag("INFO_UTC_TIME"), ts);
    ew_rscp_builder_add_string(&b, tag("INFO_SERIAL_NUMBER"), "S10-741234567890");
    ew_rscp_builder_add_string(&b, tag("INFO_SW_RELEASE"), "S10_2024_01");
    ew_rscp_builder_add_string(&b, tag("INFO_MAC_ADDRESS"), "");
    ew_rscp_builder_add_int64(&b, tag("EMS_ERROR_CODE"), -5);
    add_bat(&b, 0, 77.5f, "BAT-A \"main\"");
    add_bat(&b, 1, 12.25f, "BAT-B");
    add_pvi(&b, 0, 2500.0f);
    add_pvi(&b, 1, 180.5f);
    /* Unknown tags and types, a raw Int32 with a wrong length, 64-bit edges. */
    ew_rscp_builder_add_uint64(&b, 0x7F800001u, UINT64_MAX);
    ew_rscp_builder_add_int64(&b, 0x7F800002u, INT64_MIN);
    ew_rscp_builder_add_double64(&b, 0x7F800003u, -0.1);
    ew_rscp_builder_add_raw(&b, 0x7F800004u, 0x42, "\x01\x02", 2);
    ew_rscp_builder_add_raw(&b, tag("EMS_POWER_HOME"), EW_RSCP_TYPE_INT32, "\x01\x02", 2);
    ew_rscp_builder_add_bytes(&b, 0x7F800005u, "\x00\xFF", 2);
    ew_rscp_builder_add_bitfield(&b, 0x7F800006u, "\x0F", 1);
    ew_rscp_builder_add_char8(&b, 0x7F800007u, -128);
    ew_rscp_builder_add_int16(&b, 0x7F800008u, -32768);
    ew_rscp_builder_add_error(&b, 0x7F800009u, 0xFFFFFFFFu);
    ew_rscp_builder_add_none(&b, 0x7F80000Au);
    /* Containers nested past the default depth limit. */
    for (int i = 0; i < EW_RSCP_DEFAULT_MAX_DEPTH + 2; i++)
        ew_rscp_builder_open(&b, tag("DB_HISTORY_DATA_DAY"));
    ew_rscp_builder_add_float32(&b, tag("DB_BAT_POWER_IN"), 1.5f);
    for (int i = 0; i < EW_RSCP_DEFAULT_MAX_DEPTH + 2; i++)
        ew_rscp_builder_close(&b);
    int rc = ew_rscp_builder_finish(&b, &tree_len);
    if (rc != EW_OK) {
        fprintf(stderr, "fuzz_rscp_query: building the tree: %s\n", ew_errname(rc));
        abort();
    }
}

typedef struct matches {
    int n;
    size_t first_offset;
    const uint8_t *area;
    size_t len;
} matches;

static int on_match(void *user, const ew_rscp_value *v) {
    matches *m = user;
    FUZZ_CHECK(v->offset + EW_RSCP_TLV_HEADER_LEN + v->len <= m->len);
    FUZZ_CHECK(v->data == m->area + v->offset + EW_RSCP_TLV_HEADER_LEN);
    if (m->n++ == 0)
        m->first_offset = v->offset;
    return 0;
}

static int stop_at_first(void *user, const ew_rscp_value *v) {
    (void)v;
    ++*(int *)user;
    return 1;
}

static void run_over(const ew_rscp_query *q, const uint8_t *area, size_t len, unsigned depth) {
    matches m;
    memset(&m, 0, sizeof m);
    m.area = area;
    m.len = len;
    ew_diag d = {0, 0, NULL};
    int n = ew_rscp_query_run(q, area, len, depth, on_match, &m, &d);
    FUZZ_CHECK(n >= 0 || n == EW_ERR_OVERRUN || n == EW_ERR_DEPTH);
    if (n < 0) {
        FUZZ_CHECK(d.code == n && d.offset <= len && d.what);
        return;
    }
    FUZZ_CHECK(n == m.n);
    FUZZ_CHECK(ew_rscp_query_run(q, area, len, depth, NULL, NULL, NULL) == n);
    ew_rscp_value first;
    int f = ew_rscp_query_first(q, area, len, depth, &first, NULL);
    FUZZ_CHECK(f == (n > 0));
    if (f == 1)
        FUZZ_CHECK(first.offset == m.first_offset);
    int calls = 0;
    int s = ew_rscp_query_run(q, area, len, depth, stop_at_first, &calls, NULL);
    FUZZ_CHECK(calls == (n > 0) && s >= 0 && s <= n);
}

/* Independent count of the matches of |q| from step |k| on, ignoring
 * conditions (plain TLV reading; the fixed tree is known to be valid). */
static int count_paths(const uint8_t *area, size_t len, const ew_rscp_query *q, unsigned k) {
    int n = 0;
    size_t at = 0;
    while (len - at >= EW_RSCP_TLV_HEADER_LEN) {
        const uint8_t *p = area + at;
        uint32_t t =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        size_t vlen = (size_t)p[5] | (size_t)p[6] << 8;
        FUZZ_CHECK(vlen <= len - at - EW_RSCP_TLV_HEADER_LEN);
        if (t == q->steps[k].tag) {
            if (k + 1 == q->nsteps)
                n++;
            else if (p[4] == EW_RSCP_TYPE_CONTAINER)
                n += count_paths(p + EW_RSCP_TLV_HEADER_LEN, vlen, q, k + 1);
        }
        at += EW_RSCP_TLV_HEADER_LEN + vlen;
    }
    FUZZ_CHECK(at == len);
    return n;
}

/* Conditions only filter: without them there are at least as many matches,
 * and exactly as many as an independent walk finds. */
static void check_semantics(const ew_rscp_query *q) {
    ew_rscp_query bare = *q;
    unsigned nconds = 0;
    for (unsigned i = 0; i < bare.nsteps; i++) {
        nconds += bare.steps[i].ncond;
        bare.steps[i].ncond = 0;
    }
    int all = ew_rscp_query_run(&bare, tree, tree_len, EW_RSCP_MAX_DEPTH_LIMIT, NULL, NULL, NULL);
    FUZZ_CHECK(all == count_paths(tree, tree_len, q, 0));
    int n = ew_rscp_query_run(q, tree, tree_len, EW_RSCP_MAX_DEPTH_LIMIT, NULL, NULL, NULL);
    FUZZ_CHECK(n >= 0 && n <= all);
    if (nconds == 0)
        FUZZ_CHECK(n == all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    build_tree_once();

    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    int rc = ew_rscp_query_compile(&q, (const char *)data, size, &d);
    if (rc != EW_OK) {
        FUZZ_CHECK(rc == EW_ERR_SYNTAX || rc == EW_ERR_NOT_FOUND || rc == EW_ERR_TOO_BIG);
        FUZZ_CHECK(d.code == rc && d.offset <= size && d.what != NULL);
        return 0;
    }
    FUZZ_CHECK(q.nsteps >= 1 && q.nsteps <= EW_RSCP_QUERY_MAX_STEPS);
    for (unsigned i = 0; i < q.nsteps; i++) {
        FUZZ_CHECK(q.steps[i].ncond <= EW_RSCP_QUERY_MAX_CONDS);
        for (unsigned k = 0; k < q.steps[i].ncond; k++) {
            const ew_rscp_query_cond *c = &q.steps[i].cond[k];
            FUZZ_CHECK(c->op >= EW_RSCP_OP_EQ && c->op <= EW_RSCP_OP_GE);
            if (c->kind == EW_RSCP_LIT_STRING)
                FUZZ_CHECK(c->slen <= EW_RSCP_QUERY_MAX_STRING);
        }
    }

    check_semantics(&q);
    run_over(&q, tree, tree_len, 0);
    run_over(&q, tree, tree_len, EW_RSCP_MAX_DEPTH_LIMIT);
    run_over(&q, tree, tree_len, 2);
    /* Cut copies: every length from the text's hash, so runs meet overruns
     * at different places. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    size_t cut = h % tree_len;
    uint8_t *copy = malloc(cut ? cut : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, tree, cut);
    run_over(&q, copy, cut, 0);
    free(copy);
    return 0;
}
