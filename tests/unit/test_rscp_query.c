/*
 * RSCP path/filter queries: the examples of rscp_lib's get_tag_by_path (the
 * seed), every operator with every literal kind, several conditions, several
 * matches, nothing found, syntax errors with their offsets, unknown tags,
 * the step/condition/string limits, depth limits and malformed input.
 * Inputs are built with the ew_rscp_builder_* API.
 */
#include "testutil.h"

#include <energywire/rscp.h>
#include <energywire/rscp_tags.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

typedef struct tree {
    uint8_t buf[4096];
    size_t len;
} tree;

static void ok(int rc) {
    assert_int_equal(rc, EW_OK);
}

static void finish(ew_rscp_builder *b, tree *t) {
    ok(ew_rscp_builder_finish(b, &t->len));
}

static void compile_ok(ew_rscp_query *q, const char *text) {
    ew_diag d = {0, 0, NULL};
    int rc = ew_rscp_query_compile(q, text, strlen(text), &d);
    if (rc != EW_OK)
        fail_msg("compiling \"%s\": %s at %zu: %s", text, ew_errname(rc), d.offset,
                 d.what ? d.what : "");
}

/* Collects the integer (or, failing that, double) value of every match. */
typedef struct matches {
    int n;
    double v[64];
    size_t offset[64];
    int stop_after; /* 0 = never */
} matches;

static int collect(void *user, const ew_rscp_value *v) {
    matches *m = user;
    int64_t i;
    double f;
    if (ew_rscp_value_get_i64(v, &i) == EW_OK)
        f = (double)i;
    else if (ew_rscp_value_get_double(v, &f) != EW_OK)
        f = -999999.0;
    assert_true(m->n < 64);
    m->offset[m->n] = v->offset;
    m->v[m->n++] = f;
    return m->stop_after && m->n >= m->stop_after;
}

/* Runs |text| over |t| and compares the matched values with |want|. */
static void expect(const tree *t, const char *text, const double *want, int nwant) {
    ew_rscp_query q;
    compile_ok(&q, text);
    matches m = {0};
    ew_diag d = {0, 0, NULL};
    int rc = ew_rscp_query_run(&q, t->buf, t->len, 0, collect, &m, &d);
    if (rc != nwant || m.n != nwant)
        fail_msg("\"%s\": %d matches (callback %d), want %d", text, rc, m.n, nwant);
    for (int i = 0; i < nwant; i++)
        if (m.v[i] != want[i])
            fail_msg("\"%s\": match %d is %g, want %g", text, i, m.v[i], want[i]);
}

#define EXPECT(t, text, ...)                                                                       \
    do {                                                                                           \
        static const double want_[] = {__VA_ARGS__};                                               \
        expect(t, text, want_, (int)(sizeof want_ / sizeof want_[0]));                             \
    } while (0)
#define EXPECT_NONE(t, text) expect(t, text, NULL, 0)

static void expect_error(const char *text, int code, size_t offset, const char *what) {
    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    int rc = ew_rscp_query_compile(&q, text, strlen(text), &d);
    if (rc != code || d.code != code || d.offset != offset || !d.what ||
        (what && strcmp(d.what, what) != 0))
        fail_msg("\"%s\": got %s at %zu (%s), want %s at %zu (%s)", text, ew_errname(rc), d.offset,
                 d.what ? d.what : "-", ew_errname(code), offset, what ? what : "any");
}

/*
 * A PVI answer as rscp.md §9.4 describes it, twice (inverters 0 and 1), plus
 * two EMS values:
 *   PVI_DATA { PVI_INDEX 0,
 *              PVI_DC_POWER { PVI_INDEX 0, PVI_VALUE 1234.5 },
 *              PVI_DC_POWER { PVI_INDEX 1, PVI_VALUE 567.25 },
 *              PVI_DC_VOLTAGE { PVI_INDEX 0, PVI_VALUE 400 } }
 *   PVI_DATA { PVI_INDEX 1, PVI_DC_POWER { PVI_INDEX 0, PVI_VALUE 99 } }
 *   EMS_POWER_PV 4687, EMS_BAT_SOC 77
 */
static void build_pvi(tree *t) {
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t->buf, sizeof t->buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DATA));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DC_POWER));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_PVI_VALUE, 1234.5f));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DC_POWER));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 1));
    ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_PVI_VALUE, 567.25f));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DC_VOLTAGE));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_PVI_VALUE, 400.0f));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DATA));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 1));
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DC_POWER));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_PVI_VALUE, 99.0f));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_add_int32(&b, EW_RSCP_TAG_EMS_POWER_PV, 4687));
    ok(ew_rscp_builder_add_uchar8(&b, EW_RSCP_TAG_EMS_BAT_SOC, 77));
    finish(&b, t);
}

/*
 * Five battery containers BAT_DATA with, for i = 0..4: BAT_INDEX UInt16 i,
 * BAT_RSOC Float32 10 i + 0.5, BAT_DEVICE_NAME CString names[i],
 * BAT_READY_FOR_SHUTDOWN Bool i odd, BAT_CHARGE_CYCLES UInt32 100 i.
 */
static const char *const bat_names[5] = {"alpha", "beta", "gamma", "delta", "beta2"};

static void build_bats(tree *t) {
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t->buf, sizeof t->buf);
    for (int i = 0; i < 5; i++) {
        ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_BAT_DATA));
        ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_BAT_INDEX, (uint16_t)i));
        ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_BAT_RSOC, 10.0f * (float)i + 0.5f));
        ok(ew_rscp_builder_add_string(&b, EW_RSCP_TAG_BAT_DEVICE_NAME, bat_names[i]));
        ok(ew_rscp_builder_add_bool(&b, EW_RSCP_TAG_BAT_READY_FOR_SHUTDOWN, i % 2));
        ok(ew_rscp_builder_add_uint32(&b, EW_RSCP_TAG_BAT_CHARGE_CYCLES, 100u * (uint32_t)i));
        ok(ew_rscp_builder_close(&b));
    }
    finish(&b, t);
}

/* ---- the seed's examples ---------------------------------------------------- */

static void test_seed_examples(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    /* Direct child, nested path, filtered container (rscp_lib README). */
    EXPECT(&t, "TAG_EMS_BAT_SOC", 77);
    EXPECT(&t, "TAG_PVI_DATA/TAG_PVI_INDEX", 0, 1);
    EXPECT(&t, "TAG_PVI_DATA(TAG_PVI_INDEX==0)/TAG_PVI_DC_POWER/TAG_PVI_VALUE", 1234.5, 567.25);
    EXPECT(&t, "TAG_PVI_DATA(TAG_PVI_INDEX==1)/TAG_PVI_DC_POWER/TAG_PVI_VALUE", 99);
    /* Chained filters (rscp_lib's docstring). */
    EXPECT(&t, "TAG_PVI_DATA(TAG_PVI_INDEX==0)/TAG_PVI_DC_POWER(TAG_PVI_INDEX==1)/TAG_PVI_VALUE",
           567.25);
    /* The same without TAG_, in lower case, and by hex id. */
    EXPECT(&t, "pvi_data(pvi_index==0)/pvi_dc_power(PVI_INDEX==1)/Pvi_Value", 567.25);
    EXPECT(&t, "0x02840000(0x02040001==1)/0x028DC001/0x02040005", 99);

    /* The seed's exact text returns the container; query_first gives the
     * first match in document order. */
    ew_rscp_query q;
    compile_ok(&q, "TAG_PVI_DATA(TAG_PVI_INDEX==0)/TAG_PVI_DC_POWER");
    assert_int_equal(q.nsteps, 2);
    assert_int_equal(q.steps[0].tag, 0x02840000u);
    assert_int_equal(q.steps[0].ncond, 1);
    assert_int_equal(q.steps[0].cond[0].tag, 0x02040001u);
    assert_int_equal(q.steps[0].cond[0].op, EW_RSCP_OP_EQ);
    assert_int_equal(q.steps[0].cond[0].kind, EW_RSCP_LIT_INT);
    assert_int_equal(q.steps[0].cond[0].i, 0);
    assert_int_equal(q.steps[1].tag, 0x028DC001u);
    assert_int_equal(q.steps[1].ncond, 0);
    ew_rscp_value v;
    ew_diag d = {0, 0, NULL};
    assert_int_equal(ew_rscp_query_first(&q, t.buf, t.len, 0, &v, &d), 1);
    assert_int_equal(v.tag, EW_RSCP_TAG_PVI_DC_POWER);
    assert_int_equal(v.type, EW_RSCP_TYPE_CONTAINER);
    assert_int_equal(v.depth, 1);
    assert_int_equal(v.offset, 7 + 9); /* after PVI_DATA's header and PVI_INDEX */
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 0, NULL, NULL, &d), 2);
}

static void test_multiple_matches_and_stop(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    EXPECT(&t, "PVI_DATA/PVI_DC_POWER/PVI_VALUE", 1234.5, 567.25, 99);
    EXPECT(&t, "PVI_DATA/PVI_DC_POWER/PVI_INDEX", 0, 1, 0);

    ew_rscp_query q;
    compile_ok(&q, "PVI_DATA/PVI_DC_POWER/PVI_VALUE");
    matches m = {0};
    m.stop_after = 2;
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 0, collect, &m, NULL), 2);
    assert_int_equal(m.n, 2);
    assert_true(m.offset[0] < m.offset[1]);
}

static void test_not_found(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    EXPECT_NONE(&t, "EMS_POWER_GRID");
    EXPECT_NONE(&t, "PVI_DATA(PVI_INDEX==2)/PVI_DC_POWER");
    EXPECT_NONE(&t, "PVI_DATA/PVI_DC_CURRENT");
    EXPECT_NONE(&t, "PVI_DC_POWER"); /* not at the top level */
    /* A step below a value that is not a container. */
    EXPECT_NONE(&t, "EMS_BAT_SOC/EMS_BAT_SOC");
    /* A condition on a value that has no children, or on an absent child. */
    EXPECT_NONE(&t, "EMS_BAT_SOC(EMS_BAT_SOC==77)");
    EXPECT_NONE(&t, "PVI_DATA(PVI_TYPE==1)");
    EXPECT_NONE(&t, "PVI_DATA(PVI_TYPE!=1)");
    /* An unknown tag given as hex compiles and simply matches nothing. */
    EXPECT_NONE(&t, "0x12345678");

    ew_rscp_query q;
    compile_ok(&q, "EMS_POWER_GRID");
    ew_rscp_value v;
    assert_int_equal(ew_rscp_query_first(&q, t.buf, t.len, 0, &v, NULL), 0);
    /* An empty area. */
    assert_int_equal(ew_rscp_query_run(&q, NULL, 0, 0, NULL, NULL, NULL), 0);
}

/* ---- operators and literal kinds ---------------------------------------------- */

static void test_integer_ops(void **state) {
    (void)state;
    tree t;
    build_bats(&t);
    EXPECT(&t, "BAT_DATA(BAT_INDEX==2)/BAT_INDEX", 2);
    EXPECT(&t, "BAT_DATA(BAT_INDEX!=2)/BAT_INDEX", 0, 1, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_INDEX<2)/BAT_INDEX", 0, 1);
    EXPECT(&t, "BAT_DATA(BAT_INDEX<=2)/BAT_INDEX", 0, 1, 2);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>2)/BAT_INDEX", 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>=2)/BAT_INDEX", 2, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>-1)/BAT_INDEX", 0, 1, 2, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_INDEX==+3)/BAT_INDEX", 3);
    EXPECT(&t, "BAT_DATA(BAT_CHARGE_CYCLES==0x64)/BAT_INDEX", 1);
    EXPECT(&t, "BAT_DATA(BAT_CHARGE_CYCLES>=0X12C)/BAT_INDEX", 3, 4);
    /* Integer literal against a Float32 value: as double. */
    EXPECT(&t, "BAT_DATA(BAT_RSOC>20)/BAT_INDEX", 2, 3, 4);
    EXPECT_NONE(&t, "BAT_DATA(BAT_RSOC==20)/BAT_INDEX");
}

static void test_integer_extremes(void **state) {
    (void)state;
    tree t;
    ew_rscp_builder b;
    /* EMS_MANUAL_CHARGE_START_COUNTER is Int64 in the CSV, DB_REQ_HISTORY_TIME_START
     * UInt64 (tlv_types.json); the types are what matters here. */
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_EMS_GET_MANUAL_CHARGE));
    ok(ew_rscp_builder_add_int64(&b, EW_RSCP_TAG_EMS_MANUAL_CHARGE_START_COUNTER, INT64_MIN));
    ok(ew_rscp_builder_add_uint64(&b, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_START, UINT64_MAX));
    ok(ew_rscp_builder_add_int32(&b, EW_RSCP_TAG_EMS_POWER_GRID, -5));
    ok(ew_rscp_builder_add_char8(&b, EW_RSCP_TAG_EMS_RES_POWERSAVE_ENABLED, -1));
    ok(ew_rscp_builder_close(&b));
    finish(&b, &t);

    static const struct {
        const char *cond;
        int match;
    } cases[] = {
        {"EMS_MANUAL_CHARGE_START_COUNTER==-9223372036854775808", 1},
        {"EMS_MANUAL_CHARGE_START_COUNTER==-0x8000000000000000", 1},
        {"EMS_MANUAL_CHARGE_START_COUNTER<-9223372036854775807", 1},
        {"EMS_MANUAL_CHARGE_START_COUNTER>-9223372036854775808", 0},
        /* UInt64 above INT64_MAX: larger than every integer literal. */
        {"DB_REQ_HISTORY_TIME_START>9223372036854775807", 1},
        {"DB_REQ_HISTORY_TIME_START==9223372036854775807", 0},
        {"DB_REQ_HISTORY_TIME_START!=-1", 1},
        {"DB_REQ_HISTORY_TIME_START<0", 0},
        {"DB_REQ_HISTORY_TIME_START>=0x7fffffffffffffff", 1},
        /* ... and compared as double with a real literal. */
        {"DB_REQ_HISTORY_TIME_START>1.8e19", 1},
        {"DB_REQ_HISTORY_TIME_START<1.9e19", 1},
        {"EMS_POWER_GRID==-5", 1},
        {"EMS_POWER_GRID==-0x5", 1},
        {"EMS_POWER_GRID<-4", 1},
        {"EMS_POWER_GRID>=-4", 0},
        {"EMS_POWER_GRID==-5.0", 1},
        {"EMS_POWER_GRID>-5.5", 1},
        {"EMS_RES_POWERSAVE_ENABLED==-1", 1},
        {"EMS_RES_POWERSAVE_ENABLED==255", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "EMS_GET_MANUAL_CHARGE(%s)/EMS_POWER_GRID", cases[i].cond);
        if (cases[i].match)
            EXPECT(&t, text, -5);
        else
            EXPECT_NONE(&t, text);
    }
}

static void test_real_ops(void **state) {
    (void)state;
    tree t;
    build_bats(&t);
    EXPECT(&t, "BAT_DATA(BAT_RSOC==20.5)/BAT_INDEX", 2);
    EXPECT(&t, "BAT_DATA(BAT_RSOC!=20.5)/BAT_INDEX", 0, 1, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_RSOC<10)/BAT_INDEX", 0);
    EXPECT(&t, "BAT_DATA(BAT_RSOC<=10.5)/BAT_INDEX", 0, 1);
    EXPECT(&t, "BAT_DATA(BAT_RSOC>30.25)/BAT_INDEX", 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_RSOC>=3.05e1)/BAT_INDEX", 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_RSOC<.6)/BAT_INDEX", 0);
    EXPECT(&t, "BAT_DATA(BAT_RSOC>-1e-3)/BAT_INDEX", 0, 1, 2, 3, 4);
    /* Real literal against integers: as double. */
    EXPECT(&t, "BAT_DATA(BAT_INDEX<1.5)/BAT_INDEX", 0, 1);
    EXPECT(&t, "BAT_DATA(BAT_INDEX==2.0)/BAT_INDEX", 2);
    EXPECT(&t, "BAT_DATA(BAT_INDEX==2.)/BAT_INDEX", 2);
    EXPECT(&t, "BAT_DATA(BAT_CHARGE_CYCLES>=2.5E2)/BAT_INDEX", 3, 4);

    /* A Float32 compares with the literal rounded to float, so that 0.1
     * matches the 0.1f a device sends; Double64 keeps double precision. */
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PM_DATA));
    ok(ew_rscp_builder_add_float32(&b, EW_RSCP_TAG_PM_VOLTAGE_L1, 0.1f));
    ok(ew_rscp_builder_add_double64(&b, EW_RSCP_TAG_PM_POWER_L1, 0.1));
    ok(ew_rscp_builder_add_double64(&b, EW_RSCP_TAG_PM_POWER_L2, 1234.5625));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PM_INDEX, 6));
    ok(ew_rscp_builder_close(&b));
    finish(&b, &t);
    EXPECT(&t, "PM_DATA(PM_VOLTAGE_L1==0.1)/PM_INDEX", 6);
    EXPECT(&t, "PM_DATA(PM_VOLTAGE_L1>=0.1 && PM_VOLTAGE_L1<=0.1)/PM_INDEX", 6);
    EXPECT_NONE(&t, "PM_DATA(PM_VOLTAGE_L1==0.1000001)/PM_INDEX");
    EXPECT(&t, "PM_DATA(PM_POWER_L1==0.1)/PM_INDEX", 6);
    EXPECT_NONE(&t, "PM_DATA(PM_POWER_L1==0.10000000149011612)/PM_INDEX");
    EXPECT(&t, "PM_DATA(PM_POWER_L2==1234.5625)/PM_INDEX", 6);
    EXPECT(&t, "PM_DATA(PM_POWER_L2==12345625e-4)/PM_INDEX", 6);
    EXPECT(&t, "PM_DATA(PM_POWER_L2>1234)/PM_INDEX", 6);
    /* Float32 limits: a literal beyond FLT_MAX stays a double. */
    EXPECT(&t, "PM_DATA(PM_VOLTAGE_L1<1e300)/PM_INDEX", 6);
    EXPECT(&t, "PM_DATA(PM_VOLTAGE_L1>-1e300)/PM_INDEX", 6);
}

static void test_real_literal_parsing(void **state) {
    (void)state;
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        {"0.1", 0.1},
        {"1234.5625", 1234.5625},
        {"58.75", 58.75},
        {"-2.5e2", -250.0},
        {"1e-3", 1e-3},
        {"+.5", 0.5},
        {"5.", 5.0},
        {"0.0", 0.0},
        {"000123.4500", 123.45},
        {"1e22", 1e22},
        {"9007199254740993.0", 9007199254740992.0},
        {"1e-320", 1e-320},
        {"1E+2", 100.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "EMS_BAT_SOC(EMS_BAT_SOC==%s)", cases[i].text);
        ew_rscp_query q;
        compile_ok(&q, text);
        assert_int_equal(q.steps[0].cond[0].kind, EW_RSCP_LIT_REAL);
        if (q.steps[0].cond[0].f != cases[i].want)
            fail_msg("%s parsed as %.17g", cases[i].text, q.steps[0].cond[0].f);
    }

    /* Longer literals: within one unit in the last place of strtod's result. */
    uint64_t seed = 42;
    for (int i = 0; i < 2000; i++) {
        uint64_t r = tu_rand(&seed);
        double x;
        uint64_t bits = (r & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(900 + r % 250) << 52);
        memcpy(&x, &bits, sizeof x);
        char lit[64], text[128];
        snprintf(lit, sizeof lit, "%.17g", x);
        if (!strchr(lit, '.') && !strchr(lit, 'e'))
            strcat(lit, ".0");
        snprintf(text, sizeof text, "EMS_BAT_SOC(EMS_BAT_SOC==%s)", lit);
        ew_rscp_query q;
        compile_ok(&q, text);
        double got = q.steps[0].cond[0].f, want = strtod(lit, NULL);
        if (got != want && got != nextafter(want, 0) && got != nextafter(want, 2 * want))
            fail_msg("%s parsed as %.17g, strtod gives %.17g", lit, got, want);
    }
}

static void test_integer_literal_parsing(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"0", 0},
        {"-0", 0},
        {"+7", 7},
        {"007", 7},
        {"0x7fffffffffffffff", INT64_MAX},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"-0x8000000000000000", INT64_MIN},
        {"0xFFFFFFFF", 0xFFFFFFFFll},
        {"-0x10", -16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "EMS_BAT_SOC(EMS_BAT_SOC!=%s)", cases[i].text);
        ew_rscp_query q;
        compile_ok(&q, text);
        assert_int_equal(q.steps[0].cond[0].kind, EW_RSCP_LIT_INT);
        assert_int_equal(q.steps[0].cond[0].op, EW_RSCP_OP_NE);
        if (q.steps[0].cond[0].i != cases[i].want)
            fail_msg("%s parsed as %lld", cases[i].text, (long long)q.steps[0].cond[0].i);
    }
    expect_error("EMS_BAT_SOC(EMS_BAT_SOC==9223372036854775808)", EW_ERR_SYNTAX, 25,
                 "integer literal out of range");
    expect_error("EMS_BAT_SOC(EMS_BAT_SOC==-9223372036854775809)", EW_ERR_SYNTAX, 25,
                 "integer literal out of range");
    expect_error("EMS_BAT_SOC(EMS_BAT_SOC==0x8000000000000000)", EW_ERR_SYNTAX, 25,
                 "integer literal out of range");
    expect_error("EMS_BAT_SOC(EMS_BAT_SOC==0x10000000000000000)", EW_ERR_SYNTAX, 25,
                 "integer literal out of range");
    expect_error("EMS_BAT_SOC(EMS_BAT_SOC==99999999999999999999999)", EW_ERR_SYNTAX, 25,
                 "integer literal out of range");
}

static void test_string_ops(void **state) {
    (void)state;
    tree t;
    build_bats(&t);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME==\"beta\")/BAT_INDEX", 1);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME!=\"beta\")/BAT_INDEX", 0, 2, 3, 4);
    /* memcmp order; a prefix sorts first ("beta" < "beta2"). */
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME<\"beta\")/BAT_INDEX", 0);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME<=\"beta\")/BAT_INDEX", 0, 1);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME>\"beta\")/BAT_INDEX", 2, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME>=\"delta\")/BAT_INDEX", 2, 3);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME>\"\")/BAT_INDEX", 0, 1, 2, 3, 4);
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME==\"Beta\")/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME==\"bet\")/BAT_INDEX");
    /* Strings compare only with CString values (even for !=). */
    EXPECT_NONE(&t, "BAT_DATA(BAT_INDEX!=\"1\")/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME!=1)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME!=true)/BAT_INDEX");

    /* Escapes, an empty string and bytes beyond ASCII. */
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_BAT_DATA));
    ok(ew_rscp_builder_add_string(&b, EW_RSCP_TAG_BAT_DEVICE_NAME, "a\"b\\c"));
    ok(ew_rscp_builder_add_cstring(&b, EW_RSCP_TAG_INFO_SERIAL_NUMBER, "", 0));
    ok(ew_rscp_builder_add_string(&b, EW_RSCP_TAG_INFO_PRODUCTION_DATE,
                                  "Gr\xC3\xBC\xC3\x9F"
                                  "e"));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_BAT_INDEX, 9));
    ok(ew_rscp_builder_close(&b));
    finish(&b, &t);
    EXPECT(&t, "BAT_DATA(BAT_DEVICE_NAME==\"a\\\"b\\\\c\")/BAT_INDEX", 9);
    EXPECT(&t, "BAT_DATA(INFO_SERIAL_NUMBER==\"\")/BAT_INDEX", 9);
    EXPECT(&t, "BAT_DATA(INFO_SERIAL_NUMBER<\"a\")/BAT_INDEX", 9);
    EXPECT(&t,
           "BAT_DATA(INFO_PRODUCTION_DATE==\"Gr\xC3\xBC\xC3\x9F"
           "e\")/BAT_INDEX",
           9);
    EXPECT(&t, "BAT_DATA(INFO_PRODUCTION_DATE>\"Gr\x7F\")/BAT_INDEX", 9);

    /* The longest string literal: EW_RSCP_QUERY_MAX_STRING - 1 bytes. */
    char text[256], lit[EW_RSCP_QUERY_MAX_STRING + 1];
    memset(lit, 'x', sizeof lit);
    lit[EW_RSCP_QUERY_MAX_STRING - 1] = '\0';
    snprintf(text, sizeof text, "BAT_DATA(BAT_DEVICE_NAME==\"%s\")", lit);
    ew_rscp_query q;
    compile_ok(&q, text);
    assert_int_equal(q.steps[0].cond[0].kind, EW_RSCP_LIT_STRING);
    assert_int_equal(q.steps[0].cond[0].slen, EW_RSCP_QUERY_MAX_STRING - 1);
    assert_string_equal(q.steps[0].cond[0].s, lit);
    lit[EW_RSCP_QUERY_MAX_STRING - 1] = 'x';
    lit[EW_RSCP_QUERY_MAX_STRING] = '\0';
    snprintf(text, sizeof text, "BAT_DATA(BAT_DEVICE_NAME==\"%s\")", lit);
    expect_error(text, EW_ERR_TOO_BIG, 26, NULL);
}

static void test_bool_ops(void **state) {
    (void)state;
    tree t;
    build_bats(&t);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN==true)/BAT_INDEX", 1, 3);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN==false)/BAT_INDEX", 0, 2, 4);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN!=TRUE)/BAT_INDEX", 0, 2, 4);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN<true)/BAT_INDEX", 0, 2, 4);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN<=False)/BAT_INDEX", 0, 2, 4);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN>false)/BAT_INDEX", 1, 3);
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN>=false)/BAT_INDEX", 0, 1, 2, 3, 4);
    /* Bool literal against integers (non-zero is true)... */
    EXPECT(&t, "BAT_DATA(BAT_INDEX==true)/BAT_INDEX", 1, 2, 3, 4);
    EXPECT(&t, "BAT_DATA(BAT_CHARGE_CYCLES==false)/BAT_INDEX", 0);
    /* ... and integer literals against Bool. */
    EXPECT(&t, "BAT_DATA(BAT_READY_FOR_SHUTDOWN==1)/BAT_INDEX", 1, 3);
    /* Not against floats or strings. */
    EXPECT_NONE(&t, "BAT_DATA(BAT_RSOC!=true)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME==false)/BAT_INDEX");
}

/* Error and raw values never compare. */
static void test_uncomparable_values(void **state) {
    (void)state;
    tree t;
    ew_rscp_builder b;
    static const uint8_t three[3] = {1, 2, 3};
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_BAT_DATA));
    ok(ew_rscp_builder_add_error(&b, EW_RSCP_TAG_BAT_RSOC, EW_RSCP_ERR_NOT_AVAILABLE));
    /* Int32 with 3 bytes: raw, refused by the getters. */
    ok(ew_rscp_builder_add_raw(&b, EW_RSCP_TAG_BAT_CHARGE_CYCLES, EW_RSCP_TYPE_INT32, three, 3));
    ok(ew_rscp_builder_add_bytes(&b, EW_RSCP_TAG_BAT_DEVICE_NAME, "abc", 3));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_BAT_INDEX, 3));
    ok(ew_rscp_builder_close(&b));
    finish(&b, &t);
    EXPECT_NONE(&t, "BAT_DATA(BAT_RSOC==6)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_RSOC!=6)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_CHARGE_CYCLES!=0)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_CHARGE_CYCLES!=0.5)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_CHARGE_CYCLES!=false)/BAT_INDEX");
    EXPECT_NONE(&t, "BAT_DATA(BAT_DEVICE_NAME==\"abc\")/BAT_INDEX"); /* a ByteArray */
    EXPECT(&t, "BAT_DATA(BAT_INDEX==3)/BAT_INDEX", 3);
}

/* ---- several conditions ------------------------------------------------------ */

static void test_conjunctions(void **state) {
    (void)state;
    tree t;
    build_bats(&t);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>=1 && BAT_INDEX<=3)/BAT_INDEX", 1, 2, 3);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>=1,BAT_INDEX<=3)/BAT_INDEX", 1, 2, 3);
    EXPECT(&t, "BAT_DATA(BAT_INDEX>=1 && BAT_INDEX<=3, BAT_READY_FOR_SHUTDOWN==true)/BAT_INDEX", 1,
           3);
    EXPECT(&t,
           "BAT_DATA(BAT_INDEX>=1&&BAT_INDEX<=3&&BAT_READY_FOR_SHUTDOWN==true&&"
           "BAT_DEVICE_NAME==\"delta\")/BAT_INDEX",
           3);
    EXPECT_NONE(&t, "BAT_DATA(BAT_INDEX==1 && BAT_INDEX==2)/BAT_INDEX");
    /* One condition on an absent child makes the whole step fail. */
    EXPECT_NONE(&t, "BAT_DATA(BAT_INDEX==1 && BAT_FCC>0)/BAT_INDEX");

    /* A condition holds when any child with the tag satisfies it (rscp_lib). */
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DATA));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 1));
    ok(ew_rscp_builder_add_uchar8(&b, EW_RSCP_TAG_PVI_TYPE, 3));
    ok(ew_rscp_builder_close(&b));
    finish(&b, &t);
    EXPECT(&t, "PVI_DATA(PVI_INDEX==1)/PVI_TYPE", 3);
    EXPECT(&t, "PVI_DATA(PVI_INDEX==0, PVI_INDEX==1)/PVI_TYPE", 3);
    EXPECT(&t, "PVI_DATA(PVI_INDEX!=0)/PVI_TYPE", 3);
    EXPECT_NONE(&t, "PVI_DATA(PVI_INDEX==2)/PVI_TYPE");
    /* The last step may carry the filter and return the container. */
    EXPECT(&t, "PVI_DATA(PVI_TYPE==3)", -999999.0);
}

static void test_whitespace(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    EXPECT(&t, "  PVI_DATA ( PVI_INDEX == 0 ) / PVI_DC_POWER ( PVI_INDEX >= 1 ) / PVI_VALUE  ",
           567.25);
    EXPECT(&t, "PVI_DATA(\tPVI_INDEX\t==\t1\t)/PVI_DC_POWER/PVI_VALUE\n", 99);
}

/* ---- syntax errors ------------------------------------------------------------ */

static void test_syntax_errors(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int code;
        size_t offset;
        const char *what;
    } cases[] = {
        {"", EW_ERR_SYNTAX, 0, "empty query"},
        {"  ", EW_ERR_SYNTAX, 2, "empty query"},
        {"/EMS_BAT_SOC", EW_ERR_SYNTAX, 0, "empty path step"},
        {"PVI_DATA//PVI_INDEX", EW_ERR_SYNTAX, 9, "empty path step"},
        {"PVI_DATA/", EW_ERR_SYNTAX, 9, "empty path step"},
        {"PVI_DATA/ ", EW_ERR_SYNTAX, 10, "empty path step"},
        {"PVI_DATA(PVI_INDEX==0", EW_ERR_SYNTAX, 21, "expected ')' after condition"},
        {"PVI_DATA(PVI_INDEX==0 PVI_TYPE==1)", EW_ERR_SYNTAX, 22, "expected ')' after condition"},
        {"PVI_DATA(PVI_INDEX==0 & PVI_TYPE==1)", EW_ERR_SYNTAX, 22, "expected ')' after condition"},
        {"PVI_DATA(PVI_INDEX==0 || PVI_TYPE==1)", EW_ERR_SYNTAX, 22,
         "expected ')' after condition"},
        {"PVI_DATA(PVI_INDEX==0,)", EW_ERR_SYNTAX, 22, "expected a tag name in condition"},
        {"PVI_DATA(PVI_INDEX 0)", EW_ERR_SYNTAX, 19, "expected a comparison operator"},
        {"PVI_DATA(PVI_INDEX=0)", EW_ERR_SYNTAX, 18, "expected a comparison operator"},
        {"PVI_DATA(PVI_INDEX=<0)", EW_ERR_SYNTAX, 18, "expected a comparison operator"},
        {"PVI_DATA(PVI_INDEX!0)", EW_ERR_SYNTAX, 18, "expected a comparison operator"},
        {"PVI_DATA(PVI_INDEX)", EW_ERR_SYNTAX, 18, "expected a comparison operator"},
        {"PVI_DATA(PVI_INDEX==)", EW_ERR_SYNTAX, 20,
         "expected a literal: number, \"string\", true or false"},
        {"PVI_DATA(PVI_INDEX==maybe)", EW_ERR_SYNTAX, 20,
         "expected a literal: number, \"string\", true or false"},
        {"PVI_DATA(PVI_INDEX==PVI_TYPE)", EW_ERR_SYNTAX, 20,
         "expected a literal: number, \"string\", true or false"},
        {"PVI_DATA(PVI_INDEX==", EW_ERR_SYNTAX, 20,
         "expected a literal: number, \"string\", true or false"},
        {"PVI_DATA(PVI_INDEX==12ab)", EW_ERR_SYNTAX, 20, "invalid number"},
        {"PVI_DATA(PVI_INDEX==1.2.3)", EW_ERR_SYNTAX, 20, "invalid number"},
        {"PVI_DATA(PVI_INDEX==-)", EW_ERR_SYNTAX, 20, "invalid number"},
        {"PVI_DATA(PVI_INDEX==.)", EW_ERR_SYNTAX, 20, "invalid number"},
        {"PVI_DATA(PVI_INDEX==0x)", EW_ERR_SYNTAX, 20, "expected hex digits after 0x"},
        {"PVI_DATA(PVI_INDEX==0x1g)", EW_ERR_SYNTAX, 20, "invalid number"},
        {"PVI_DATA(PVI_INDEX==1e)", EW_ERR_SYNTAX, 20, "invalid number: exponent has no digits"},
        {"PVI_DATA(PVI_INDEX==1e999)", EW_ERR_SYNTAX, 20, "real literal out of range"},
        {"PVI_DATA(PVI_INDEX==\"abc)", EW_ERR_SYNTAX, 20, "unterminated string literal"},
        {"PVI_DATA(PVI_INDEX==\"a\\nb\")", EW_ERR_SYNTAX, 22,
         "unknown escape in string literal (only \\\" and \\\\)"},
        {"PVI_DATA()", EW_ERR_SYNTAX, 9, "expected a tag name in condition"},
        {"PVI_DATA(==0)", EW_ERR_SYNTAX, 9, "expected a tag name in condition"},
        {"PVI_DATA)", EW_ERR_SYNTAX, 8, "expected '/', '(' or end of query"},
        {"PVI_DATA PVI_INDEX", EW_ERR_SYNTAX, 9, "expected '/', '(' or end of query"},
        {"PVI_DATA-1", EW_ERR_SYNTAX, 8, "expected '/', '(' or end of query"},
        {"PVI_DATA(PVI_INDEX==0)x", EW_ERR_SYNTAX, 22, "expected '/' or end of query"},
        {"PVI_DATA(PVI_INDEX==0)(PVI_INDEX==1)", EW_ERR_SYNTAX, 22, "expected '/' or end of query"},
        {"(PVI_INDEX==0)", EW_ERR_SYNTAX, 0, "expected a tag name"},
        {"123", EW_ERR_SYNTAX, 0, "expected a tag name or 0x hex id"},
        {"0x", EW_ERR_SYNTAX, 0, "hex tag id needs 1 to 8 hex digits"},
        {"0x123456789", EW_ERR_SYNTAX, 0, "hex tag id needs 1 to 8 hex digits"},
        {"PVI_DATA/0x12G4", EW_ERR_SYNTAX, 13, "invalid hex digit in tag id"},
        {"PVI_DATA(0xZ==1)", EW_ERR_SYNTAX, 11, "invalid hex digit in tag id"},
        /* A name ends at the first byte that cannot be part of one. */
        {"EMS_BAT_S\xC3\xB6"
         "C",
         EW_ERR_NOT_FOUND, 0, "unknown tag name"},
        {"EMS_BAT_SOC\xC3\xB6", EW_ERR_SYNTAX, 11, "expected '/', '(' or end of query"},
        /* Unknown names: EW_ERR_NOT_FOUND at the name. */
        {"NO_SUCH_TAG", EW_ERR_NOT_FOUND, 0, "unknown tag name"},
        {"NO_SUCH_TAG/PVI_INDEX", EW_ERR_NOT_FOUND, 0, "unknown tag name"},
        {"PVI_DATA/NO_SUCH_TAG", EW_ERR_NOT_FOUND, 9, "unknown tag name"},
        {"PVI_DATA(NO_SUCH_TAG==1)", EW_ERR_NOT_FOUND, 9, "unknown tag name"},
        {"PVI_DATA(PVI_INDEX==1, TAG_NOPE==1)", EW_ERR_NOT_FOUND, 23, "unknown tag name"},
        {"TAG_", EW_ERR_NOT_FOUND, 0, "unknown tag name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].text, cases[i].code, cases[i].offset, cases[i].what);

    /* |len| bounds the text: what follows is not read. */
    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    assert_int_equal(ew_rscp_query_compile(&q, "EMS_BAT_SOC/garbage(", 11, &d), EW_OK);
    assert_int_equal(q.nsteps, 1);
    assert_int_equal(ew_rscp_query_compile(&q, "PVI_DATA(PVI_INDEX==0)", 21, &d), EW_ERR_SYNTAX);
    assert_int_equal(d.offset, 21);
    assert_string_equal(d.what, "expected ')' after condition");
    /* Bad arguments. */
    assert_int_equal(ew_rscp_query_compile(NULL, "A", 1, &d), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_query_compile(&q, NULL, 1, &d), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_query_compile(&q, NULL, 0, NULL), EW_ERR_SYNTAX);
}

static void test_limits(void **state) {
    (void)state;
    char text[1024];
    size_t n = 0, offset17 = 0;
    for (int i = 0; i < EW_RSCP_QUERY_MAX_STEPS + 1; i++) {
        if (i == EW_RSCP_QUERY_MAX_STEPS)
            offset17 = n + 1;
        n += (size_t)snprintf(text + n, sizeof text - n, "%sEMS_BAT_SOC", i ? "/" : "");
    }
    /* 16 steps compile; the 17th is too many. */
    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    size_t len16 = offset17 - 1;
    assert_int_equal(ew_rscp_query_compile(&q, text, len16, &d), EW_OK);
    assert_int_equal(q.nsteps, EW_RSCP_QUERY_MAX_STEPS);
    expect_error(text, EW_ERR_TOO_BIG, offset17, "too many path steps");

    /* 4 conditions compile; a 5th is too many. */
    compile_ok(&q, "BAT_DATA(BAT_INDEX>0, BAT_INDEX>1, BAT_INDEX>2, BAT_INDEX>3)");
    assert_int_equal(q.steps[0].ncond, EW_RSCP_QUERY_MAX_CONDS);
    assert_int_equal(q.steps[0].cond[3].i, 3);
    expect_error("BAT_DATA(BAT_INDEX>0, BAT_INDEX>1, BAT_INDEX>2, BAT_INDEX>3, BAT_INDEX>4)",
                 EW_ERR_TOO_BIG, 61, "too many conditions in one step");

    /* A 16-step path that matches 16 nested containers (the deepest value
     * at depth 15) within the default depth limit. */
    tree t;
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, t.buf, sizeof t.buf);
    for (int i = 0; i < EW_RSCP_QUERY_MAX_STEPS - 1; i++)
        ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_BAT_DATA));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_BAT_DATA, 5));
    for (int i = 0; i < EW_RSCP_QUERY_MAX_STEPS - 1; i++)
        ok(ew_rscp_builder_close(&b));
    finish(&b, &t);
    n = 0;
    for (int i = 0; i < EW_RSCP_QUERY_MAX_STEPS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%sBAT_DATA", i ? "/" : "");
    EXPECT(&t, text, 5);
}

/* ---- malformed input and depth limits ------------------------------------------ */

static void test_depth_limit(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    compile_ok(&q, "PVI_DATA/PVI_DC_POWER/PVI_VALUE");
    /* PVI_VALUE sits at depth 2: a limit of 2 is enough, 1 is not. */
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 2, NULL, NULL, &d), 3);
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 1, NULL, NULL, &d), EW_ERR_DEPTH);
    assert_int_equal(d.code, EW_ERR_DEPTH);
    assert_int_equal(d.offset, 7 + 9); /* the first PVI_DC_POWER */
    /* Conditions look one level down too. */
    compile_ok(&q, "PVI_DATA/PVI_DC_POWER(PVI_INDEX==0)");
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 1, NULL, NULL, &d), EW_ERR_DEPTH);
    compile_ok(&q, "PVI_DATA(PVI_INDEX==0)");
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 1, NULL, NULL, &d), 1);
    ew_rscp_value v;
    assert_int_equal(ew_rscp_query_first(&q, t.buf, t.len, 1, &v, &d), 1);
    assert_int_equal(v.offset, 0);
}

static void test_malformed_input(void **state) {
    (void)state;
    tree t;
    build_pvi(&t);
    ew_rscp_query q;
    ew_diag d = {0, 0, NULL};
    compile_ok(&q, "EMS_BAT_SOC");
    /* Cut inside the last value's header: found only after the error. */
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len - 3, 0, NULL, NULL, &d), EW_ERR_OVERRUN);
    assert_int_equal(d.code, EW_ERR_OVERRUN);
    assert_int_equal(d.offset, t.len - 8);

    /* A container length that runs past the data, found while checking a
     * condition. */
    uint8_t buf[64];
    ew_rscp_builder b;
    size_t n;
    ew_rscp_builder_init(&b, buf, sizeof buf);
    ok(ew_rscp_builder_open(&b, EW_RSCP_TAG_PVI_DATA));
    ok(ew_rscp_builder_add_uint16(&b, EW_RSCP_TAG_PVI_INDEX, 0));
    ok(ew_rscp_builder_close(&b));
    ok(ew_rscp_builder_finish(&b, &n));
    buf[7 + 5] = 0x40; /* PVI_INDEX's length field: 64 bytes */
    compile_ok(&q, "PVI_DATA(PVI_INDEX==0)");
    memset(&d, 0, sizeof d);
    assert_int_equal(ew_rscp_query_run(&q, buf, n, 0, NULL, NULL, &d), EW_ERR_OVERRUN);
    assert_int_equal(d.offset, 7);
    ew_rscp_value v;
    assert_int_equal(ew_rscp_query_first(&q, buf, n, 0, &v, &d), EW_ERR_OVERRUN);

    /* Bad arguments. */
    assert_int_equal(ew_rscp_query_run(NULL, buf, n, 0, NULL, NULL, &d), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_query_run(&q, NULL, 3, 0, NULL, NULL, &d), EW_ERR_INVAL);
    assert_int_equal(ew_rscp_query_first(&q, buf, n, 0, NULL, &d), EW_ERR_INVAL);
    q.nsteps = EW_RSCP_QUERY_MAX_STEPS + 1;
    assert_int_equal(ew_rscp_query_run(&q, buf, n, 0, NULL, NULL, &d), EW_ERR_INVAL);
    compile_ok(&q, "PVI_DATA(PVI_INDEX==0, PVI_INDEX==1)");
    q.steps[0].ncond = EW_RSCP_QUERY_MAX_CONDS + 1;
    assert_int_equal(ew_rscp_query_run(&q, buf, n, 0, NULL, NULL, &d), EW_ERR_INVAL);
    compile_ok(&q, "PVI_DATA(PVI_INDEX==\"x\")");
    q.steps[0].cond[0].slen = EW_RSCP_QUERY_MAX_STRING + 1;
    assert_int_equal(ew_rscp_query_run(&q, buf, n, 0, NULL, NULL, &d), EW_ERR_INVAL);
    /* A zeroed query matches nothing. */
    memset(&q, 0, sizeof q);
    assert_int_equal(ew_rscp_query_run(&q, t.buf, t.len, 0, NULL, NULL, &d), 0);
}

/* The seed's path over the poll answer of tests/vectors/rscp/tlv_types.json's
 * BAT_DATA container case. */
static void test_vector_container(void **state) {
    (void)state;
    json_t *root = tu_load_json("rscp/tlv_types.json");
    const json_t *cases = json_object_get(root, "cases");
    size_t i;
    const json_t *c;
    int seen = 0;
    json_array_foreach(cases, i, c) {
        if (strcmp(tu_str(c, "type"), "Container") != 0 || strcmp(tu_str(c, "tag"), "TAG_BAT_DATA"))
            continue;
        size_t n;
        uint8_t *bytes = tu_unhex(tu_str(c, "encoded_hex"), &n);
        ew_rscp_query q;
        compile_ok(&q, "TAG_BAT_DATA(TAG_BAT_INDEX==0)/TAG_BAT_INDEX");
        ew_rscp_value v;
        assert_int_equal(ew_rscp_query_first(&q, bytes, n, 0, &v, NULL), 1);
        assert_int_equal(v.tag, EW_RSCP_TAG_BAT_INDEX);
        assert_int_equal(v.depth, 1);
        free(bytes);
        seen++;
    }
    assert_true(seen > 0);
    json_decref(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_examples),
        cmocka_unit_test(test_multiple_matches_and_stop),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_integer_ops),
        cmocka_unit_test(test_integer_extremes),
        cmocka_unit_test(test_real_ops),
        cmocka_unit_test(test_real_literal_parsing),
        cmocka_unit_test(test_integer_literal_parsing),
        cmocka_unit_test(test_string_ops),
        cmocka_unit_test(test_bool_ops),
        cmocka_unit_test(test_uncomparable_values),
        cmocka_unit_test(test_conjunctions),
        cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_malformed_input),
        cmocka_unit_test(test_vector_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
