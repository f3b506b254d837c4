/*
 * E3/DC simulator request handler (rscp.md §9, §11): pye3dc's exact
 * requests from tests/vectors/rscp/session_pye3dc_poll.json, every request
 * shape of §9 with the answer tag and type the tag registry declares and the
 * exact fixed sizes, the alternative request types of §11.8, errors (unknown
 * tags, absent devices, unauthenticated connections, malformed input), writes
 * that the model and later reads reflect, the history database through RSCP,
 * and the 32 KiB answer limit.
 */
#include "testutil.h"

#include <energywire/rscp.h>
#include <energywire/rscp_tags.h>
#include <energywire/sim.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------- */

static int64_t utc_ms(int y, unsigned m, unsigned d, unsigned hh, unsigned mm) {
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + (int64_t)doe - 719468;
    return ((days * 24 + hh) * 60 + mm) * 60000;
}

static ew_e3dc_sim *make_cfg(ew_e3dc_sim_config *c) {
    ew_e3dc_sim *s = NULL;
    assert_int_equal(ew_e3dc_sim_new(&s, c, NULL), EW_OK);
    return s;
}

/* A simulator with little history (fast), at |t_ms|. */
static ew_e3dc_sim *make_at(int64_t t_ms) {
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 2;
    c.start_time_ms = t_ms;
    return make_cfg(&c);
}

typedef struct req {
    uint8_t buf[40000];
    ew_rscp_builder b;
    size_t len;
} req;

static req *req_new(void) {
    req *r = calloc(1, sizeof *r);
    assert_non_null(r);
    ew_rscp_builder_init(&r->b, r->buf, sizeof r->buf);
    return r;
}

static void req_done(req *r) {
    assert_int_equal(ew_rscp_builder_finish(&r->b, &r->len), EW_OK);
}

typedef struct answer {
    uint8_t buf[70000];
    size_t len;
    int rc;
} answer;

static void check_values(ew_rscp_iter *it, unsigned depth);

/* Every answer value: a tag the registry knows, the type it declares, the
 * exact size of fixed-size types (rscp.md §3.2, §11.5). */
static void check_answer_area(const uint8_t *p, size_t n) {
    ew_rscp_iter it;
    assert_true(ew_rscp_validate(p, n, 0, NULL) >= 0);
    ew_rscp_iter_init(&it, p, n, 0);
    check_values(&it, 0);
}

static void check_values(ew_rscp_iter *it, unsigned depth) {
    ew_rscp_value v;
    int rc;
    while ((rc = ew_rscp_iter_next(it, &v, NULL)) > 0) {
        int fixed = ew_rscp_type_fixed_size(v.type);
        if (v.type == EW_RSCP_TYPE_ERROR) {
            assert_int_equal(v.len, 4);
            continue;
        }
        const ew_rscp_tag_info *t = ew_rscp_tag_by_id(v.tag);
        if (!t)
            fail_msg("answer tag 0x%08x is not in the registry", (unsigned)v.tag);
        /* The one documented exception: a failed login is Int32 (§7.2). */
        if (t->type >= 0 && !(v.tag == EW_RSCP_TAG_RSCP_AUTHENTICATION && v.type == 6))
            if (t->type != v.type)
                fail_msg("%s answered as %s, registry says %s", t->name, ew_rscp_type_name(v.type),
                         ew_rscp_type_name(t->type));
        if (fixed >= 0)
            assert_int_equal(v.len, fixed);
        if (v.type == EW_RSCP_TYPE_CONTAINER) {
            ew_rscp_iter child;
            assert_int_equal(ew_rscp_iter_enter(it, &v, &child, NULL), EW_OK);
            check_values(&child, depth + 1);
        }
    }
    assert_int_equal(rc, 0);
}

static answer *run_level(ew_e3dc_sim *s, const uint8_t *p, size_t n, int level) {
    answer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    ew_rscp_builder b;
    ew_rscp_builder_init(&b, a->buf, sizeof a->buf);
    a->rc = ew_e3dc_sim_handle(s, p, n, level, &b);
    assert_int_equal(ew_rscp_builder_finish(&b, &a->len), EW_OK);
    assert_true(a->len <= EW_E3DC_SIM_ANSWER_MAX);
    check_answer_area(a->buf, a->len);
    return a;
}

static answer *run(ew_e3dc_sim *s, req *r) {
    answer *a = run_level(s, r->buf, r->len, 10);
    free(r);
    return a;
}

/* The |i|-th top-level value of the answer. */
static ew_rscp_value nth(const answer *a, int i) {
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, a->buf, a->len, 0);
    for (int k = 0; k <= i; k++)
        if (ew_rscp_iter_next(&it, &v, NULL) != 1)
            fail_msg("answer has no value %d", i);
    return v;
}

static int count_top(const answer *a) {
    ew_rscp_iter it;
    ew_rscp_value v;
    int n = 0;
    ew_rscp_iter_init(&it, a->buf, a->len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) == 1)
        n++;
    return n;
}

/* First value at |path| (query language), 1 found / 0 not. */
static int q(const answer *a, const char *path, ew_rscp_value *v) {
    ew_rscp_query qq;
    ew_diag d;
    if (ew_rscp_query_compile(&qq, path, strlen(path), &d) != EW_OK)
        fail_msg("bad path %s", path);
    return ew_rscp_query_first(&qq, a->buf, a->len, 0, v, &d) == 1;
}

static double qnum(const answer *a, const char *path) {
    ew_rscp_value v;
    double d;
    int64_t i;
    if (!q(a, path, &v))
        fail_msg("%s not in the answer", path);
    if (ew_rscp_value_get_i64(&v, &i) == EW_OK)
        return (double)i;
    if (ew_rscp_value_get_double(&v, &d) != EW_OK)
        fail_msg("%s is not a number (type %d)", path, v.type);
    return d;
}

static uint32_t err_code(const ew_rscp_value *v) {
    uint32_t code = 0;
    assert_int_equal(v->type, EW_RSCP_TYPE_ERROR);
    assert_int_equal(ew_rscp_value_get_error(v, &code), EW_OK);
    return code;
}

/* Children of a container value, in order. */
static int children(const answer *a, const ew_rscp_value *c, ew_rscp_value *out, int max) {
    ew_rscp_iter it;
    ew_rscp_value v;
    int n = 0;
    (void)a;
    assert_int_equal(c->type, EW_RSCP_TYPE_CONTAINER);
    ew_rscp_iter_init(&it, c->data, c->len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) == 1) {
        assert_true(n < max);
        out[n++] = v;
    }
    return n;
}

static ew_rscp_value one(ew_e3dc_sim *s, uint32_t tag, answer **keep) {
    req *r = req_new();
    ew_rscp_builder_add_none(&r->b, tag);
    req_done(r);
    answer *a = run(s, r);
    assert_int_equal(a->rc, 1);
    ew_rscp_value v = nth(a, 0);
    *keep = a;
    return v;
}

static int64_t one_int(ew_e3dc_sim *s, uint32_t tag) {
    answer *a;
    ew_rscp_value v = one(s, tag, &a);
    int64_t x;
    assert_int_equal(ew_rscp_value_get_i64(&v, &x), EW_OK);
    free(a);
    return x;
}

/* ---- pye3dc's session ---------------------------------------------------------- */

static void test_pye3dc_session(void **state) {
    (void)state;
    json_t *j = tu_load_json("rscp/session_pye3dc_poll.json");
    json_t *ex = json_object_get(j, "exchanges");
    ew_e3dc_sim *s = make_at(INT64_C(1700000000000));
    int level = 0, requests = 0;
    size_t n = json_array_size(ex);
    for (size_t i = 0; i + 1 < n; i += 2) {
        json_t *c2s = json_array_get(ex, i), *s2c = json_array_get(ex, i + 1);
        assert_string_equal(tu_str(c2s, "direction"), "client_to_server");
        assert_string_equal(tu_str(s2c, "direction"), "server_to_client");
        size_t flen;
        uint8_t *frame = tu_unhex(tu_str(c2s, "frame_hex"), &flen);
        ew_rscp_frame f;
        assert_int_equal(ew_rscp_frame_decode(frame, flen, &f, EW_RSCP_DECODE_FINAL, NULL),
                         (int)flen);
        answer *a = run_level(s, f.data, f.data_len, level);
        assert_int_equal(a->rc, 1);
        assert_int_equal(count_top(a), 1);
        ew_rscp_value v = nth(a, 0);
        /* The mock's answer names the tag and type pye3dc decoded. */
        json_t *want = json_object_get(s2c, "decoded_first_value");
        const char *want_tag = json_string_value(json_array_get(want, 0));
        const char *want_type = json_string_value(json_array_get(want, 1));
        const ew_rscp_tag_info *t = ew_rscp_tag_by_id(v.tag);
        assert_non_null(t);
        assert_string_equal(ew_rscp_tag_short_name(t), want_tag);
        assert_int_equal(v.type, ew_rscp_type_from_name(want_type, strlen(want_type)));
        if (v.tag == EW_RSCP_TAG_RSCP_AUTHENTICATION) {
            int64_t lv;
            assert_int_equal(ew_rscp_value_get_i64(&v, &lv), EW_OK);
            assert_int_equal(lv, 10);
            level = (int)lv; /* what the session would record */
        } else {
            requests++;
        }
        if (v.tag == EW_RSCP_TAG_INFO_SERIAL_NUMBER) {
            /* pye3dc strips "S10-" and picks the model from the digits:
             * 74... = S10E_Compact, root power meter 0 (rscp.md §9.2). */
            assert_int_equal(v.len, 16);
            assert_memory_equal(v.data, "S10-74", 6);
        }
        if (v.tag == EW_RSCP_TAG_EMS_GET_SYS_SPECS) {
            /* The five specs pye3dc reads, each with an Int32 value. */
            const char *names[] = {"installedBatteryCapacity", "maxAcPower", "maxBatChargePower",
                                   "maxBatDischargPower", "startDischargeDefault"};
            for (size_t k = 0; k < 5; k++) {
                char path[160];
                snprintf(path, sizeof path,
                         "EMS_GET_SYS_SPECS/EMS_SYS_SPEC(EMS_SYS_SPEC_NAME==\"%s\")/"
                         "EMS_SYS_SPEC_VALUE_INT",
                         names[k]);
                assert_true(qnum(a, path) > 0);
            }
        }
        if (v.tag == EW_RSCP_TAG_INFO_UTC_TIME) {
            ew_rscp_timestamp ts;
            assert_int_equal(ew_rscp_value_get_timestamp(&v, &ts), EW_OK);
            assert_int_equal(ts.seconds, 1700000000);
        }
        free(a);
        free(frame);
    }
    assert_int_equal(requests, 17); /* 7 static + 10 poll */
    ew_e3dc_sim_del(s);
    json_decref(j);
}

/* ---- scalar requests of §9 -------------------------------------------------------- */

static void test_scalar_requests(void **state) {
    (void)state;
    static const struct {
        uint32_t req, ans;
        int type;
    } tab[] = {
        {EW_RSCP_TAG_EMS_REQ_POWER_PV, EW_RSCP_TAG_EMS_POWER_PV, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_BAT, EW_RSCP_TAG_EMS_POWER_BAT, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_HOME, EW_RSCP_TAG_EMS_POWER_HOME, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_GRID, EW_RSCP_TAG_EMS_POWER_GRID, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_ADD, EW_RSCP_TAG_EMS_POWER_ADD, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_WB_ALL, EW_RSCP_TAG_EMS_POWER_WB_ALL, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_POWER_WB_SOLAR, EW_RSCP_TAG_EMS_POWER_WB_SOLAR, EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_BAT_SOC, EW_RSCP_TAG_EMS_BAT_SOC, EW_RSCP_TYPE_UCHAR8},
        {EW_RSCP_TAG_EMS_REQ_AUTARKY, EW_RSCP_TAG_EMS_AUTARKY, EW_RSCP_TYPE_FLOAT32},
        {EW_RSCP_TAG_EMS_REQ_SELF_CONSUMPTION, EW_RSCP_TAG_EMS_SELF_CONSUMPTION,
         EW_RSCP_TYPE_FLOAT32},
        {EW_RSCP_TAG_EMS_REQ_STATUS, EW_RSCP_TAG_EMS_STATUS, EW_RSCP_TYPE_UINT32},
        {EW_RSCP_TAG_EMS_REQ_SYS_STATUS, EW_RSCP_TAG_EMS_SYS_STATUS, EW_RSCP_TYPE_UINT32},
        {EW_RSCP_TAG_EMS_REQ_INSTALLED_PEAK_POWER, EW_RSCP_TAG_EMS_INSTALLED_PEAK_POWER,
         EW_RSCP_TYPE_UINT32},
        {EW_RSCP_TAG_EMS_REQ_DERATE_AT_PERCENT_VALUE, EW_RSCP_TAG_EMS_DERATE_AT_PERCENT_VALUE,
         EW_RSCP_TYPE_FLOAT32},
        {EW_RSCP_TAG_EMS_REQ_DERATE_AT_POWER_VALUE, EW_RSCP_TAG_EMS_DERATE_AT_POWER_VALUE,
         EW_RSCP_TYPE_FLOAT32},
        {EW_RSCP_TAG_EMS_REQ_EXT_SRC_AVAILABLE, EW_RSCP_TAG_EMS_EXT_SRC_AVAILABLE,
         EW_RSCP_TYPE_CHAR8},
        {EW_RSCP_TAG_EMS_REQ_BALANCED_PHASES, EW_RSCP_TAG_EMS_BALANCED_PHASES, EW_RSCP_TYPE_UCHAR8},
        {EW_RSCP_TAG_EMS_REQ_USED_CHARGE_LIMIT, EW_RSCP_TAG_EMS_USED_CHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_BAT_CHARGE_LIMIT, EW_RSCP_TAG_EMS_BAT_CHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_DCDC_CHARGE_LIMIT, EW_RSCP_TAG_EMS_DCDC_CHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_USER_CHARGE_LIMIT, EW_RSCP_TAG_EMS_USER_CHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_USED_DISCHARGE_LIMIT, EW_RSCP_TAG_EMS_USED_DISCHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_BAT_DISCHARGE_LIMIT, EW_RSCP_TAG_EMS_BAT_DISCHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_DCDC_DISCHARGE_LIMIT, EW_RSCP_TAG_EMS_DCDC_DISCHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_USER_DISCHARGE_LIMIT, EW_RSCP_TAG_EMS_USER_DISCHARGE_LIMIT,
         EW_RSCP_TYPE_INT32},
        {EW_RSCP_TAG_EMS_REQ_REMAINING_BAT_CHARGE_POWER, EW_RSCP_TAG_EMS_REMAINING_BAT_CHARGE_POWER,
         EW_RSCP_TYPE_UINT32},
        {EW_RSCP_TAG_EMS_REQ_REMAINING_BAT_DISCHARGE_POWER,
         EW_RSCP_TAG_EMS_REMAINING_BAT_DISCHARGE_POWER, EW_RSCP_TYPE_UINT32},
        {EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS, EW_RSCP_TAG_EMS_GET_SYS_SPECS, EW_RSCP_TYPE_CONTAINER},
        {EW_RSCP_TAG_EMS_REQ_GET_POWER_SETTINGS, EW_RSCP_TAG_EMS_GET_POWER_SETTINGS,
         EW_RSCP_TYPE_CONTAINER},
        {EW_RSCP_TAG_EMS_REQ_GET_MANUAL_CHARGE, EW_RSCP_TAG_EMS_GET_MANUAL_CHARGE,
         EW_RSCP_TYPE_CONTAINER},
        {EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS, EW_RSCP_TAG_EMS_GET_IDLE_PERIODS,
         EW_RSCP_TYPE_CONTAINER},
        {EW_RSCP_TAG_EMS_REQ_BATTERY_TO_CAR_MODE, EW_RSCP_TAG_EMS_BATTERY_TO_CAR_MODE,
         EW_RSCP_TYPE_UCHAR8},
        {EW_RSCP_TAG_EMS_REQ_BATTERY_BEFORE_CAR_MODE, EW_RSCP_TAG_EMS_BATTERY_BEFORE_CAR_MODE,
         EW_RSCP_TYPE_UCHAR8},
        {EW_RSCP_TAG_INFO_REQ_SERIAL_NUMBER, EW_RSCP_TAG_INFO_SERIAL_NUMBER, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_PRODUCTION_DATE, EW_RSCP_TAG_INFO_PRODUCTION_DATE,
         EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_MAC_ADDRESS, EW_RSCP_TAG_INFO_MAC_ADDRESS, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_IP_ADDRESS, EW_RSCP_TAG_INFO_IP_ADDRESS, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_SUBNET_MASK, EW_RSCP_TAG_INFO_SUBNET_MASK, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_GATEWAY, EW_RSCP_TAG_INFO_GATEWAY, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_DNS, EW_RSCP_TAG_INFO_DNS, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_DHCP_STATUS, EW_RSCP_TAG_INFO_DHCP_STATUS, EW_RSCP_TYPE_BOOL},
        {EW_RSCP_TAG_INFO_REQ_TIME, EW_RSCP_TAG_INFO_TIME, EW_RSCP_TYPE_TIMESTAMP},
        {EW_RSCP_TAG_INFO_REQ_UTC_TIME, EW_RSCP_TAG_INFO_UTC_TIME, EW_RSCP_TYPE_TIMESTAMP},
        {EW_RSCP_TAG_INFO_REQ_TIME_ZONE, EW_RSCP_TAG_INFO_TIME_ZONE, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_INFO_REQ_SW_RELEASE, EW_RSCP_TAG_INFO_SW_RELEASE, EW_RSCP_TYPE_CSTRING},
        {EW_RSCP_TAG_RSCP_REQ_USER_LEVEL, EW_RSCP_TAG_RSCP_USER_LEVEL, EW_RSCP_TYPE_UCHAR8},
        {EW_RSCP_TAG_HA_REQ_DATAPOINT_LIST, EW_RSCP_TAG_HA_DATAPOINT_LIST, EW_RSCP_TYPE_CONTAINER},
        {EW_RSCP_TAG_HA_REQ_ACTUATOR_STATES, EW_RSCP_TAG_HA_ACTUATOR_STATES,
         EW_RSCP_TYPE_CONTAINER},
    };
    const size_t n = sizeof tab / sizeof tab[0];
    ew_e3dc_sim *s = make_at(utc_ms(2024, 6, 1, 11, 0));

    /* One per frame, as pye3dc sends them. */
    for (size_t i = 0; i < n; i++) {
        answer *a;
        ew_rscp_value v = one(s, tab[i].req, &a);
        if (v.tag != tab[i].ans || v.type != tab[i].type)
            fail_msg("request 0x%08x: answer 0x%08x type %d", (unsigned)tab[i].req, (unsigned)v.tag,
                     v.type);
        free(a);
    }
    /* All in one frame, answered in request order (rscp.md §2.5). */
    req *r = req_new();
    for (size_t i = 0; i < n; i++)
        ew_rscp_builder_add_none(&r->b, tab[i].req);
    req_done(r);
    answer *a = run(s, r);
    assert_int_equal(a->rc, (int)n);
    assert_int_equal(count_top(a), (int)n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(nth(a, (int)i).tag, tab[i].ans);
    free(a);

    /* Values that follow from the configuration. */
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_INSTALLED_PEAK_POWER), 9500);
    assert_int_equal(one_int(s, EW_RSCP_TAG_RSCP_REQ_USER_LEVEL), 10);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_EXT_SRC_AVAILABLE), 0);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_POWER_ADD), 0);
    answer *k;
    ew_rscp_value v = one(s, EW_RSCP_TAG_EMS_REQ_DERATE_AT_POWER_VALUE, &k);
    double d;
    ew_rscp_value_get_double(&v, &d);
    assert_true(fabs(d - 6650.0) < 0.01);
    free(k);
    /* INFO_TIME is local time (UTC + 1 h by default). */
    ew_rscp_timestamp t1, t2;
    v = one(s, EW_RSCP_TAG_INFO_REQ_UTC_TIME, &k);
    ew_rscp_value_get_timestamp(&v, &t1);
    free(k);
    v = one(s, EW_RSCP_TAG_INFO_REQ_TIME, &k);
    ew_rscp_value_get_timestamp(&v, &t2);
    free(k);
    assert_int_equal(t1.seconds, utc_ms(2024, 6, 1, 11, 0) / 1000);
    assert_int_equal(t2.seconds - t1.seconds, 3600);
    ew_e3dc_sim_del(s);
}

/* The integers of a poll balance exactly: pv + add + grid = house + wb + bat. */
static void test_poll_balance(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 1;
    c.ext_peak_w = 1200;
    c.start_time_ms = utc_ms(2024, 8, 3, 4, 0);
    ew_e3dc_sim *s = make_cfg(&c);
    static const uint32_t poll[] = {
        EW_RSCP_TAG_EMS_REQ_POWER_PV,     EW_RSCP_TAG_EMS_REQ_POWER_ADD,
        EW_RSCP_TAG_EMS_REQ_POWER_GRID,   EW_RSCP_TAG_EMS_REQ_POWER_HOME,
        EW_RSCP_TAG_EMS_REQ_POWER_WB_ALL, EW_RSCP_TAG_EMS_REQ_POWER_BAT,
        EW_RSCP_TAG_EMS_REQ_BAT_SOC,      EW_RSCP_TAG_EMS_REQ_POWER_WB_SOLAR,
    };
    for (int k = 0; k < 200; k++) {
        ew_e3dc_sim_step(s, c.start_time_ms + (int64_t)k * 137000);
        req *r = req_new();
        ew_rscp_req_tags(&r->b, poll, 8);
        req_done(r);
        answer *a = run(s, r);
        int64_t x[8];
        for (int i = 0; i < 8; i++)
            assert_int_equal(ew_rscp_value_get_i64((ew_rscp_value[]){nth(a, i)}, &x[i]), EW_OK);
        /* POWER_ADD is reported negative (rscp.md §9.1). */
        assert_true(x[1] <= 0);
        assert_int_equal(x[0] - x[1] + x[2], x[3] + x[4] + x[5]);
        assert_true(x[6] >= 0 && x[6] <= 100);
        assert_true(x[7] >= 0 && x[7] <= x[4]);
        ew_e3dc_sim_model m;
        ew_e3dc_sim_get_model(s, &m);
        assert_true(fabs((double)x[0] - m.pv_w) <= 0.5);
        assert_true(fabs((double)x[5] - m.battery_w) <= 0.5);
        assert_true(llabs(x[6] - (int64_t)lround(m.soc_pct)) == 0);
        free(a);
    }
    ew_e3dc_sim_del(s);
}

/* ---- battery (§9.3) --------------------------------------------------------------- */

static const uint32_t pye3dc_bat_items[] = {
    EW_RSCP_TAG_BAT_REQ_ASOC,
    EW_RSCP_TAG_BAT_REQ_CHARGE_CYCLES,
    EW_RSCP_TAG_BAT_REQ_CURRENT,
    EW_RSCP_TAG_BAT_REQ_DCB_COUNT,
    EW_RSCP_TAG_BAT_REQ_DESIGN_CAPACITY,
    EW_RSCP_TAG_BAT_REQ_DEVICE_NAME,
    EW_RSCP_TAG_BAT_REQ_DEVICE_STATE,
    EW_RSCP_TAG_BAT_REQ_EOD_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_ERROR_CODE,
    EW_RSCP_TAG_BAT_REQ_FCC,
    EW_RSCP_TAG_BAT_REQ_MAX_BAT_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_MAX_CHARGE_CURRENT,
    EW_RSCP_TAG_BAT_REQ_MAX_DISCHARGE_CURRENT,
    EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_TEMPERATURE,
    EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_TEMPERATURE,
    EW_RSCP_TAG_BAT_REQ_INTERNALS,
    EW_RSCP_TAG_BAT_REQ_MODULE_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_RC,
    EW_RSCP_TAG_BAT_REQ_READY_FOR_SHUTDOWN,
    EW_RSCP_TAG_BAT_REQ_RSOC,
    EW_RSCP_TAG_BAT_REQ_RSOC_REAL,
    EW_RSCP_TAG_BAT_REQ_STATUS_CODE,
    EW_RSCP_TAG_BAT_REQ_TERMINAL_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_TOTAL_USE_TIME,
    EW_RSCP_TAG_BAT_REQ_TOTAL_DISCHARGE_TIME,
    EW_RSCP_TAG_BAT_REQ_TRAINING_MODE,
    EW_RSCP_TAG_BAT_REQ_USABLE_CAPACITY,
    EW_RSCP_TAG_BAT_REQ_USABLE_REMAINING_CAPACITY,
    /* beyond pye3dc */
    EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_CURRENT,
    EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_CURRENT,
    EW_RSCP_TAG_BAT_REQ_DESIGN_VOLTAGE,
    EW_RSCP_TAG_BAT_REQ_CHARGE_HIGH_TEMP,
    EW_RSCP_TAG_BAT_REQ_CHARGE_LOW_TEMP,
    EW_RSCP_TAG_BAT_REQ_FIRMWARE_VERSION,
    EW_RSCP_TAG_BAT_REQ_UPDATE_STATUS,
    EW_RSCP_TAG_BAT_REQ_TIME_LAST_RESPONSE,
    EW_RSCP_TAG_BAT_REQ_MANUFACTURER_NAME,
};

static void test_battery(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 2;
    c.batteries = 2;
    c.dcbs = 3;
    c.cells_series = 14;
    c.sensors = 4;
    c.start_time_ms = utc_ms(2024, 3, 5, 19, 0);
    ew_e3dc_sim *s = make_cfg(&c);
    const size_t nitems = sizeof pye3dc_bat_items / sizeof pye3dc_bat_items[0];

    for (unsigned bat = 0; bat < 2; bat++) {
        req *r = req_new();
        assert_int_equal(ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_BAT_REQ_DATA, EW_RSCP_TAG_BAT_INDEX,
                                             bat, pye3dc_bat_items, nitems),
                         EW_OK);
        req_done(r);
        answer *a = run(s, r);
        ew_rscp_value top = nth(a, 0), ch[64];
        assert_int_equal(top.tag, EW_RSCP_TAG_BAT_DATA);
        int n = children(a, &top, ch, 64);
        /* BAT_INDEX first, then one answer per item, in order, none an Error. */
        assert_int_equal(n, (int)nitems + 1);
        assert_int_equal(ch[0].tag, EW_RSCP_TAG_BAT_INDEX);
        assert_int_equal(ch[0].type, EW_RSCP_TYPE_UINT16);
        for (size_t i = 0; i < nitems; i++) {
            assert_int_equal(ch[i + 1].tag, pye3dc_bat_items[i] | EW_RSCP_TAG_RESPONSE_BIT);
            assert_true(ch[i + 1].type != EW_RSCP_TYPE_ERROR);
        }
        assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DCB_COUNT"), 3);
        ew_e3dc_sim_model m;
        ew_e3dc_sim_get_model(s, &m);
        assert_true(fabs(qnum(a, "BAT_DATA/BAT_RSOC") - m.soc_pct) < 0.01);
        assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DEVICE_STATE/BAT_DEVICE_CONNECTED"), 1);
        assert_true(qnum(a, "BAT_DATA/BAT_MODULE_VOLTAGE") > 42 * 3.0);
        assert_true(q(a, "BAT_DATA/BAT_INTERNALS/BAT_INTERNAL_CURRENT_AVG30", &top));
        /* Status and error codes are UInt32, not Bitfield (rscp.md §9.3). */
        assert_true(q(a, "BAT_DATA/BAT_STATUS_CODE", &top));
        assert_int_equal(top.type, EW_RSCP_TYPE_UINT32);
        free(a);

        /* pye3dc's per-DCB request; the index also as UChar8 and UInt32
         * (rscp.md §11.8). */
        for (unsigned dcb = 0; dcb < 3; dcb++) {
            r = req_new();
            ew_rscp_builder_open(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
            ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_INDEX, (uint16_t)bat);
            ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_TEMPERATURES,
                                       (uint16_t)dcb);
            ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_VOLTAGES,
                                       (uint8_t)dcb);
            ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_INFO, dcb);
            ew_rscp_builder_close(&r->b);
            req_done(r);
            a = run(s, r);
            assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DCB_INFO/BAT_DCB_INDEX"), (int)dcb);
            assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DCB_INFO/BAT_DCB_NR_SENSOR"), 4);
            assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DCB_INFO/BAT_DCB_NR_SERIES_CELL"), 14);
            assert_int_equal((int)qnum(a, "BAT_DATA/BAT_DCB_ALL_CELL_VOLTAGES/BAT_DCB_INDEX"),
                             (int)dcb);
            ew_rscp_value inner, cells[64];
            assert_true(q(a, "BAT_DATA/BAT_DCB_ALL_CELL_TEMPERATURES/BAT_DATA", &inner));
            assert_int_equal(children(a, &inner, cells, 64), 4);
            for (int i = 0; i < 4; i++)
                assert_int_equal(cells[i].tag, EW_RSCP_TAG_BAT_DCB_CELL_TEMPERATURE);
            assert_true(q(a, "BAT_DATA/BAT_DCB_ALL_CELL_VOLTAGES/BAT_DATA", &inner));
            assert_int_equal(children(a, &inner, cells, 64), 14);
            double sum = 0, cv;
            for (int i = 0; i < 14; i++) {
                assert_int_equal(ew_rscp_value_get_double(&cells[i], &cv), EW_OK);
                assert_true(cv > 3.0 && cv < 4.3);
                sum += cv;
            }
            assert_true(fabs(sum - qnum(a, "BAT_DATA/BAT_DCB_INFO/BAT_DCB_VOLTAGE")) < 0.01);
            free(a);
        }
    }

    /* A DCB that does not exist: per-child Error 6; others still answered. */
    req *r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_INDEX, 0);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_INFO, 3);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_BAT_REQ_RSOC);
    ew_rscp_builder_add_none(&r->b, 0x03000FFFu);                       /* not in any list */
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_BAT_REQ_SPECIFICATION); /* known, not modelled */
    ew_rscp_builder_close(&r->b);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value top = nth(a, 0), ch[8];
    assert_int_equal(children(a, &top, ch, 8), 5);
    assert_int_equal(ch[1].tag, EW_RSCP_TAG_BAT_DCB_INFO);
    assert_int_equal(err_code(&ch[1]), EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(ch[2].tag, EW_RSCP_TAG_BAT_RSOC);
    assert_int_equal(ch[2].type, EW_RSCP_TYPE_FLOAT32);
    assert_int_equal(ch[3].tag, 0x03800FFFu);
    assert_int_equal(err_code(&ch[3]), EW_RSCP_ERR_UNKNOWN_TAG);
    assert_int_equal(ch[4].tag, EW_RSCP_TAG_BAT_SPECIFICATION);
    assert_int_equal(err_code(&ch[4]), EW_RSCP_ERR_NOT_AVAILABLE);
    free(a);

    /* A battery that does not exist: top-level BAT_DATA Error 6 (§11.7),
     * as pye3dc's get_batteries() probes 0..7; the index as UChar8 too. */
    for (unsigned bat = 2; bat < 8; bat++) {
        r = req_new();
        ew_rscp_builder_open(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
        ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_BAT_INDEX, (uint8_t)bat);
        ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_COUNT);
        ew_rscp_builder_close(&r->b);
        req_done(r);
        a = run(s, r);
        top = nth(a, 0);
        assert_int_equal(top.tag, EW_RSCP_TAG_BAT_DATA);
        assert_int_equal(err_code(&top), EW_RSCP_ERR_NOT_AVAILABLE);
        free(a);
    }
    /* No index at all, or not a container: Error 3. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_BAT_REQ_RSOC);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_FORMAT);
    top = nth(a, 1);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_FORMAT);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- PV inverter (§9.4) ------------------------------------------------------------- */

static void test_pvi(void **state) {
    (void)state;
    ew_e3dc_sim *s = make_at(utc_ms(2024, 6, 20, 10, 30));
    static const uint32_t items[] = {
        EW_RSCP_TAG_PVI_REQ_AC_MAX_PHASE_COUNT,
        EW_RSCP_TAG_PVI_REQ_TEMPERATURE_COUNT,
        EW_RSCP_TAG_PVI_REQ_DC_MAX_STRING_COUNT,
        EW_RSCP_TAG_PVI_REQ_USED_STRING_COUNT,
        EW_RSCP_TAG_PVI_REQ_TYPE,
        EW_RSCP_TAG_PVI_REQ_SERIAL_NUMBER,
        EW_RSCP_TAG_PVI_REQ_VERSION,
        EW_RSCP_TAG_PVI_REQ_ON_GRID,
        EW_RSCP_TAG_PVI_REQ_STATE,
        EW_RSCP_TAG_PVI_REQ_LAST_ERROR,
        EW_RSCP_TAG_PVI_REQ_COS_PHI,
        EW_RSCP_TAG_PVI_REQ_VOLTAGE_MONITORING,
        EW_RSCP_TAG_PVI_REQ_POWER_MODE,
        EW_RSCP_TAG_PVI_REQ_SYSTEM_MODE,
        EW_RSCP_TAG_PVI_REQ_FREQUENCY_UNDER_OVER,
        EW_RSCP_TAG_PVI_REQ_MAX_TEMPERATURE,
        EW_RSCP_TAG_PVI_REQ_MIN_TEMPERATURE,
        EW_RSCP_TAG_PVI_REQ_AC_MAX_APPARENTPOWER,
        EW_RSCP_TAG_PVI_REQ_DEVICE_STATE,
    };
    const size_t n = sizeof items / sizeof items[0];
    req *r = req_new();
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_PVI_REQ_DATA, EW_RSCP_TAG_PVI_INDEX, 0, items, n);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value top = nth(a, 0), ch[32];
    assert_int_equal(top.tag, EW_RSCP_TAG_PVI_DATA);
    assert_int_equal(children(a, &top, ch, 32), (int)n + 1);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ch[i + 1].tag, items[i] | EW_RSCP_TAG_RESPONSE_BIT);
        assert_true(ch[i + 1].type != EW_RSCP_TYPE_ERROR);
    }
    assert_int_equal((int)qnum(a, "PVI_DATA/PVI_TYPE"), 3);
    assert_int_equal((int)qnum(a, "PVI_DATA/PVI_USED_STRING_COUNT"), 2);
    assert_int_equal((int)qnum(a, "PVI_DATA/PVI_AC_MAX_PHASE_COUNT"), 3);
    assert_true(qnum(a, "PVI_DATA/PVI_AC_MAX_APPARENTPOWER/PVI_VALUE") > 0);
    ew_rscp_value v;
    assert_true(q(a, "PVI_DATA/PVI_VERSION/PVI_VERSION_MAIN", &v));
    int ntemp = (int)qnum(a, "PVI_DATA/PVI_TEMPERATURE_COUNT");
    free(a);

    /* Per tracker (UInt16 as pye3dc sends, UChar8, UInt32): the powers add
     * up to EMS_POWER_PV. */
    ew_e3dc_sim_model m;
    ew_e3dc_sim_get_model(s, &m);
    double dc = 0;
    for (int t = 0; t < 2; t++) {
        r = req_new();
        ew_rscp_builder_open(&r->b, EW_RSCP_TAG_PVI_REQ_DATA);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_INDEX, 0);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_REQ_DC_POWER, (uint16_t)t);
        ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_PVI_REQ_DC_VOLTAGE, (uint8_t)t);
        ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_PVI_REQ_DC_CURRENT, (uint32_t)t);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_REQ_DC_STRING_ENERGY_ALL, (uint16_t)t);
        ew_rscp_builder_close(&r->b);
        req_done(r);
        a = run(s, r);
        assert_int_equal((int)qnum(a, "PVI_DATA/PVI_DC_POWER/PVI_INDEX"), t);
        double p = qnum(a, "PVI_DATA/PVI_DC_POWER/PVI_VALUE");
        double u = qnum(a, "PVI_DATA/PVI_DC_VOLTAGE/PVI_VALUE");
        double i = qnum(a, "PVI_DATA/PVI_DC_CURRENT/PVI_VALUE");
        assert_true(fabs(p - m.tracker_w[t]) < 0.01);
        assert_true(fabs(u * i - p) < 0.01 * p + 0.01);
        assert_true(qnum(a, "PVI_DATA/PVI_DC_STRING_ENERGY_ALL/PVI_VALUE") > 0);
        dc += p;
        free(a);
    }
    assert_true(fabs(dc - m.pv_w) < 0.1);
    /* Per phase; the AC side is the hybrid inverter's output pv − battery. */
    double ac = 0;
    for (int ph = 0; ph < 3; ph++) {
        static const uint32_t acitems[] = {
            EW_RSCP_TAG_PVI_REQ_AC_POWER,
            EW_RSCP_TAG_PVI_REQ_AC_VOLTAGE,
            EW_RSCP_TAG_PVI_REQ_AC_CURRENT,
            EW_RSCP_TAG_PVI_REQ_AC_APPARENTPOWER,
            EW_RSCP_TAG_PVI_REQ_AC_REACTIVEPOWER,
            EW_RSCP_TAG_PVI_REQ_AC_ENERGY_ALL,
            EW_RSCP_TAG_PVI_REQ_AC_ENERGY_GRID_CONSUMPTION,
        };
        r = req_new();
        ew_rscp_builder_open(&r->b, EW_RSCP_TAG_PVI_REQ_DATA);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_INDEX, 0);
        for (size_t i = 0; i < 7; i++)
            ew_rscp_builder_add_uint16(&r->b, acitems[i], (uint16_t)ph);
        ew_rscp_builder_close(&r->b);
        req_done(r);
        a = run(s, r);
        top = nth(a, 0);
        assert_int_equal(children(a, &top, ch, 32), 8);
        for (size_t i = 0; i < 7; i++)
            assert_int_equal(ch[i + 1].type, EW_RSCP_TYPE_CONTAINER);
        ac += qnum(a, "PVI_DATA/PVI_AC_POWER/PVI_VALUE");
        free(a);
    }
    assert_true(fabs(ac - (m.pv_w - m.battery_w)) < 0.1);
    /* Temperatures by index; beyond the count, a tracker or phase that does
     * not exist: per-child Error 6. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_PVI_REQ_DATA);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_INDEX, 0);
    for (int i = 0; i <= ntemp; i++)
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_REQ_TEMPERATURE, (uint16_t)i);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_REQ_DC_POWER, 2);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_PVI_REQ_AC_POWER, 3);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    int nc = children(a, &top, ch, 32);
    assert_int_equal(nc, ntemp + 4);
    for (int i = 0; i < ntemp; i++) {
        assert_int_equal(ch[1 + i].tag, EW_RSCP_TAG_PVI_TEMPERATURE);
        assert_int_equal(ch[1 + i].type, EW_RSCP_TYPE_CONTAINER);
    }
    assert_int_equal(err_code(&ch[1 + ntemp]), EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(err_code(&ch[2 + ntemp]), EW_RSCP_ERR_NOT_AVAILABLE);
    assert_int_equal(err_code(&ch[3 + ntemp]), EW_RSCP_ERR_NOT_AVAILABLE);
    free(a);

    /* Inverter indexes 1..7 (pye3dc's get_pvis() probe): PVI_DATA without
     * PVI_TYPE (§11.7). */
    static const uint32_t probe[] = {EW_RSCP_TAG_PVI_REQ_TYPE,
                                     EW_RSCP_TAG_PVI_REQ_USED_STRING_COUNT,
                                     EW_RSCP_TAG_PVI_REQ_AC_MAX_PHASE_COUNT};
    for (int idx = 0; idx < 8; idx++) {
        r = req_new();
        ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_PVI_REQ_DATA, EW_RSCP_TAG_PVI_INDEX, idx, probe, 3);
        req_done(r);
        a = run(s, r);
        assert_int_equal(nth(a, 0).tag, EW_RSCP_TAG_PVI_DATA);
        assert_int_equal(q(a, "PVI_DATA/PVI_TYPE", &v), idx == 0);
        assert_int_equal((int)qnum(a, "PVI_DATA/PVI_INDEX"), idx);
        free(a);
    }
    ew_e3dc_sim_del(s);
}

/* ---- power meters (§9.5) ------------------------------------------------------------- */

static const uint32_t pye3dc_pm_items[] = {
    EW_RSCP_TAG_PM_REQ_POWER_L1,      EW_RSCP_TAG_PM_REQ_POWER_L2,
    EW_RSCP_TAG_PM_REQ_POWER_L3,      EW_RSCP_TAG_PM_REQ_VOLTAGE_L1,
    EW_RSCP_TAG_PM_REQ_VOLTAGE_L2,    EW_RSCP_TAG_PM_REQ_VOLTAGE_L3,
    EW_RSCP_TAG_PM_REQ_ENERGY_L1,     EW_RSCP_TAG_PM_REQ_ENERGY_L2,
    EW_RSCP_TAG_PM_REQ_ENERGY_L3,     EW_RSCP_TAG_PM_REQ_MAX_PHASE_POWER,
    EW_RSCP_TAG_PM_REQ_ACTIVE_PHASES, EW_RSCP_TAG_PM_REQ_TYPE,
    EW_RSCP_TAG_PM_REQ_MODE,
};

static void check_meters(ew_e3dc_sim *s, unsigned root, int extra) {
    const size_t n = sizeof pye3dc_pm_items / sizeof pye3dc_pm_items[0];
    for (unsigned idx = 0; idx < 8; idx++) {
        req *r = req_new();
        ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_PM_REQ_DATA, EW_RSCP_TAG_PM_INDEX, idx,
                            pye3dc_pm_items, n);
        req_done(r);
        answer *a = run(s, r);
        ew_rscp_value top = nth(a, 0), ch[32], v;
        assert_int_equal(top.tag, EW_RSCP_TAG_PM_DATA);
        int is_root = idx == root, is_extra = extra && idx == root + 1;
        assert_int_equal(q(a, "PM_DATA/PM_TYPE", &v), is_root || is_extra);
        if (is_root || is_extra) {
            assert_int_equal(children(a, &top, ch, 32), (int)n + 1);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(ch[i + 1].tag, pye3dc_pm_items[i] | EW_RSCP_TAG_RESPONSE_BIT);
            assert_int_equal((int)qnum(a, "PM_DATA/PM_TYPE"), is_root ? 1 : 3);
            assert_int_equal((int)qnum(a, "PM_DATA/PM_ACTIVE_PHASES"), 7);
            double sum = qnum(a, "PM_DATA/PM_POWER_L1") + qnum(a, "PM_DATA/PM_POWER_L2") +
                         qnum(a, "PM_DATA/PM_POWER_L3");
            ew_e3dc_sim_model m;
            ew_e3dc_sim_get_model(s, &m);
            /* Root meter = grid; additional meter = −add (like POWER_ADD). */
            assert_true(fabs(sum - (is_root ? m.grid_w : -m.add_w)) < 1e-6);
        } else {
            assert_int_equal(children(a, &top, ch, 32), 1);
        }
        free(a);
    }
}

static void test_power_meters(void **state) {
    (void)state;
    ew_e3dc_sim *s = make_at(utc_ms(2024, 5, 12, 12, 0));
    check_meters(s, 0, 0);
    ew_e3dc_sim_del(s);

    /* S10 Mini / Quattroporte layout: root meter at 6 (rscp.md §9.2), an
     * additional production meter at 7, one phase inverter. */
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 1;
    c.pm_root_index = 6;
    c.ext_peak_w = 2000;
    c.pvi_phases = 1;
    c.start_time_ms = utc_ms(2024, 5, 12, 12, 0);
    s = make_cfg(&c);
    check_meters(s, 6, 1);
    answer *a;
    ew_rscp_value v = one(s, EW_RSCP_TAG_INFO_REQ_SERIAL_NUMBER, &a);
    assert_memory_equal(v.data, "S10-5", 5); /* pye3dc: S10_Mini, meter 6 */
    free(a);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_EXT_SRC_AVAILABLE), 1);
    assert_true(one_int(s, EW_RSCP_TAG_EMS_REQ_POWER_ADD) < 0); /* midday */
    ew_e3dc_sim_del(s);
}

/* ---- history (§9.6) ----------------------------------------------------------------- */

typedef enum { T_U64, T_TS, T_I32, T_UTC } db_types;

static req *db_req(uint32_t tag, int64_t start, int64_t interval, int64_t span, db_types how) {
    req *r = req_new();
    ew_rscp_builder_open(&r->b, tag);
    int64_t v[3] = {start, interval, span};
    uint32_t t[3] = {how == T_UTC ? EW_RSCP_TAG_DB_REQ_HISTORY_UTC_TIME_START
                                  : EW_RSCP_TAG_DB_REQ_HISTORY_TIME_START,
                     EW_RSCP_TAG_DB_REQ_HISTORY_TIME_INTERVAL,
                     EW_RSCP_TAG_DB_REQ_HISTORY_TIME_SPAN};
    for (int i = 0; i < 3; i++) {
        if (how == T_U64)
            ew_rscp_builder_add_uint64(&r->b, t[i], (uint64_t)v[i]);
        else if (how == T_I32)
            ew_rscp_builder_add_int32(&r->b, t[i], (int32_t)v[i]);
        else
            ew_rscp_builder_add_timestamp(&r->b, t[i], (ew_rscp_timestamp){v[i], 0});
    }
    ew_rscp_builder_close(&r->b);
    req_done(r);
    return r;
}

static double db_field(const answer *a, const char *outer, const char *field) {
    char path[128];
    snprintf(path, sizeof path, "%s/DB_SUM_CONTAINER/%s", outer, field);
    return qnum(a, path);
}

static void test_history_db(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c); /* 400 days */
    c.start_time_ms = utc_ms(2024, 7, 2, 9, 0);
    ew_e3dc_sim *s = make_cfg(&c);

    /* pye3dc's get_db_data("MONTH") for May 2024 (UInt64 parameters,
     * interval = span), against the sum of its days in every encoding. */
    int64_t may = utc_ms(2024, 5, 1, 0, 0) / 1000;
    answer *a =
        run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may, 31 * 86400, 31 * 86400, T_U64));
    ew_rscp_value top = nth(a, 0), ch[256];
    assert_int_equal(top.tag, EW_RSCP_TAG_DB_HISTORY_DATA_DAY);
    assert_int_equal(children(a, &top, ch, 256), 2);
    assert_int_equal(ch[0].tag, EW_RSCP_TAG_DB_SUM_CONTAINER); /* pye3dc reads child [0] */
    assert_int_equal(ch[1].tag, EW_RSCP_TAG_DB_VALUE_CONTAINER);
    static const char *fields[] = {"DB_DC_POWER",       "DB_CONSUMPTION",  "DB_GRID_POWER_IN",
                                   "DB_GRID_POWER_OUT", "DB_BAT_POWER_IN", "DB_BAT_POWER_OUT",
                                   "DB_PM_1_POWER"};
    double month[7], days[7] = {0};
    for (int f = 0; f < 7; f++)
        month[f] = db_field(a, "DB_HISTORY_DATA_DAY", fields[f]);
    assert_true(month[0] > 100000); /* a sunny month on 9.5 kWp */
    double soc = db_field(a, "DB_HISTORY_DATA_DAY", "DB_BAT_CHARGE_LEVEL");
    double aut = db_field(a, "DB_HISTORY_DATA_DAY", "DB_AUTARKY");
    assert_true(soc > 0 && soc < 100 && aut > 0 && aut <= 100);
    /* The database balance: DC + PM_0 + GRID_OUT + BAT_OUT = CONSUMPTION +
     * GRID_IN + BAT_IN. */
    double in =
        month[0] + db_field(a, "DB_HISTORY_DATA_DAY", "DB_PM_0_POWER") + month[3] + month[5];
    double out = month[1] + month[2] + month[4];
    assert_true(fabs(in - out) < 1e-4 * in);
    free(a);
    for (int d = 0; d < 31; d++) {
        db_types how = (db_types)(d % 4);
        a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may + d * 86400, 86400, 86400, how));
        for (int f = 0; f < 7; f++)
            days[f] += db_field(a, "DB_HISTORY_DATA_DAY", fields[f]);
        free(a);
    }
    for (int f = 0; f < 7; f++)
        if (fabs(days[f] - month[f]) > 1e-5 * month[f] + 0.01)
            fail_msg("%s: days %f month %f", fields[f], days[f], month[f]);

    /* The MONTH request with daily values: 31 value containers that add up
     * to the sum; rscp2mqtt's DAY shape (interval 86400, span 86399). */
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_MONTH, may, 86400, 31 * 86400, T_TS));
    top = nth(a, 0);
    assert_int_equal(top.tag, EW_RSCP_TAG_DB_HISTORY_DATA_MONTH);
    int nv = children(a, &top, ch, 256);
    assert_int_equal(nv, 32);
    double vsum = 0;
    for (int i = 1; i < nv; i++) {
        ew_rscp_value vals[16];
        assert_int_equal(children(a, &ch[i], vals, 16), 13);
        assert_int_equal(vals[0].tag, EW_RSCP_TAG_DB_GRAPH_INDEX);
        double gi, dcp;
        ew_rscp_value_get_double(&vals[0], &gi);
        assert_true(gi == (double)(i - 1));
        assert_int_equal(vals[3].tag, EW_RSCP_TAG_DB_DC_POWER);
        ew_rscp_value_get_double(&vals[3], &dcp);
        vsum += dcp;
    }
    assert_true(fabs(vsum - month[0]) < 1e-5 * month[0]);
    free(a);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may, 86400, 86399, T_TS));
    top = nth(a, 0);
    assert_int_equal(children(a, &top, ch, 256), 2);
    free(a);
    /* WEEK and YEAR (interval = span) answer with their own tags. */
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_WEEK, may, 7 * 86400, 7 * 86400, T_TS));
    assert_int_equal(nth(a, 0).tag, EW_RSCP_TAG_DB_HISTORY_DATA_WEEK);
    free(a);
    int64_t y2024 = utc_ms(2024, 1, 1, 0, 0) / 1000;
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_YEAR, y2024, 366 * 86400, 366 * 86400, T_TS));
    assert_int_equal(nth(a, 0).tag, EW_RSCP_TAG_DB_HISTORY_DATA_YEAR);
    assert_true(db_field(a, "DB_HISTORY_DATA_YEAR", "DB_DC_POWER") > month[0]);
    free(a);

    /* Today so far follows the live model. */
    ew_e3dc_sim_model m0, m1;
    int64_t today = utc_ms(2024, 7, 2, 0, 0) / 1000;
    ew_e3dc_sim_get_model(s, &m0);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, today, 86400, 86400, T_U64));
    double pv0 = db_field(a, "DB_HISTORY_DATA_DAY", "DB_DC_POWER");
    free(a);
    ew_e3dc_sim_step(s, c.start_time_ms + 3600000);
    ew_e3dc_sim_get_model(s, &m1);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, today, 86400, 86400, T_U64));
    double pv1 = db_field(a, "DB_HISTORY_DATA_DAY", "DB_DC_POWER");
    free(a);
    assert_true(fabs((pv1 - pv0) - (m1.pv_wh - m0.pv_wh)) < 0.01 + 1e-6 * pv1);

    /* Errors: zero span or interval → 0xFFFFFFFF; too many value
     * containers → 0xFFFFFFFF; no data in range → 6; missing parameter → 3. */
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may, 86400, 0, T_U64));
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_INVALID_TIME);
    free(a);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may, 0, 86400, T_U64));
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_INVALID_TIME);
    free(a);
    /* An interval far longer than the span: one value container. */
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, may, INT64_MAX, 86400, T_U64));
    top = nth(a, 0);
    assert_int_equal(children(a, &top, ch, 256), 2);
    free(a);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_YEAR, y2024, 3600, 366 * 86400, T_TS));
    top = nth(a, 0);
    assert_int_equal(top.tag, EW_RSCP_TAG_DB_HISTORY_DATA_YEAR);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_INVALID_TIME);
    free(a);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, utc_ms(2020, 1, 1, 0, 0) / 1000, 86400,
                      86400, T_U64));
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_NOT_AVAILABLE);
    free(a);
    a = run(s, db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, today + 2 * 86400, 86400, 86400, T_U64));
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_NOT_AVAILABLE);
    free(a);
    req *r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY);
    ew_rscp_builder_add_uint64(&r->b, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_START, (uint64_t)may);
    ew_rscp_builder_add_uint64(&r->b, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_SPAN, 86400);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_FORMAT);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- power settings (§9.7) ------------------------------------------------------------ */

static answer *get_settings(ew_e3dc_sim *s) {
    req *r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_POWER_SETTINGS);
    req_done(r);
    return run(s, r);
}

static void test_power_settings(void **state) {
    (void)state;
    ew_e3dc_sim *s = make_at(utc_ms(2024, 6, 10, 10, 0));
    answer *a = get_settings(s);
    ew_rscp_value top = nth(a, 0), ch[16];
    static const uint32_t order[] = {
        EW_RSCP_TAG_EMS_POWER_LIMITS_USED,     EW_RSCP_TAG_EMS_MAX_CHARGE_POWER,
        EW_RSCP_TAG_EMS_MAX_DISCHARGE_POWER,   EW_RSCP_TAG_EMS_DISCHARGE_START_POWER,
        EW_RSCP_TAG_EMS_POWERSAVE_ENABLED,     EW_RSCP_TAG_EMS_WEATHER_REGULATED_CHARGE_ENABLED,
        EW_RSCP_TAG_EMS_WEATHER_FORECAST_MODE,
    };
    assert_int_equal(children(a, &top, ch, 16), 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(ch[i].tag, order[i]);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_POWERSAVE_ENABLED"), 1);
    free(a);

    /* pye3dc's set_power_limits(True, 3000, 2500, 100). */
    req *r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_SETTINGS);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_EMS_POWER_LIMITS_USED, 1);
    ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_MAX_DISCHARGE_POWER, 2500);
    ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_MAX_CHARGE_POWER, 3000);
    ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_DISCHARGE_START_POWER, 100);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    assert_int_equal(top.tag, EW_RSCP_TAG_EMS_SET_POWER_SETTINGS);
    assert_int_equal(children(a, &top, ch, 16), 4);
    assert_int_equal(ch[0].tag, EW_RSCP_TAG_EMS_RES_POWER_LIMITS_USED);
    assert_int_equal(ch[1].tag, EW_RSCP_TAG_EMS_RES_MAX_DISCHARGE_POWER);
    assert_int_equal(ch[2].tag, EW_RSCP_TAG_EMS_RES_MAX_CHARGE_POWER);
    assert_int_equal(ch[3].tag, EW_RSCP_TAG_EMS_RES_DISCHARGE_START_POWER);
    for (int i = 0; i < 4; i++) {
        int64_t res;
        assert_int_equal(ch[i].type, EW_RSCP_TYPE_CHAR8);
        ew_rscp_value_get_i64(&ch[i], &res);
        assert_int_equal(res, 0);
    }
    free(a);
    a = get_settings(s);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_POWER_LIMITS_USED"), 1);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_MAX_CHARGE_POWER"), 3000);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_MAX_DISCHARGE_POWER"), 2500);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_DISCHARGE_START_POWER"), 100);
    /* Untouched fields keep their values. */
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_POWERSAVE_ENABLED"), 1);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_WEATHER_REGULATED_CHARGE_ENABLED"),
                     0);
    free(a);
    ew_e3dc_sim_model m;
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.charge_limit_w == 3000 && m.discharge_limit_w == 2500);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_USED_CHARGE_LIMIT), 3000);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_USER_DISCHARGE_LIMIT), 2500);
    /* The model keeps to them for an hour of June sun. */
    for (int k = 0; k < 3600; k += 5) {
        ew_e3dc_sim_step(s, utc_ms(2024, 6, 10, 10, 0) + k * 1000);
        ew_e3dc_sim_get_model(s, &m);
        assert_true(m.battery_w <= 3000 + 1e-9 && m.battery_w >= -2500 - 1e-9);
    }

    /* set_powersave(False) as UChar8, weather as Bool, powers as Int32, a
     * value above the hardware limit (clamped, result 1), a negative one
     * (rejected, -1), an unknown child (Error 7). */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_SETTINGS);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_POWERSAVE_ENABLED, 0);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_EMS_WEATHER_REGULATED_CHARGE_ENABLED, 1);
    ew_rscp_builder_add_int32(&r->b, EW_RSCP_TAG_EMS_MAX_CHARGE_POWER, 9000);
    ew_rscp_builder_add_int32(&r->b, EW_RSCP_TAG_EMS_MAX_DISCHARGE_POWER, -5);
    ew_rscp_builder_add_int32(&r->b, EW_RSCP_TAG_EMS_WEATHER_FORECAST_MODE, 2);
    ew_rscp_builder_add_uint32(&r->b, 0x010001FFu, 1);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    assert_int_equal(children(a, &top, ch, 16), 6);
    int64_t res[5];
    for (int i = 0; i < 5; i++)
        ew_rscp_value_get_i64(&ch[i], &res[i]);
    assert_int_equal(ch[0].tag, EW_RSCP_TAG_EMS_RES_POWERSAVE_ENABLED);
    assert_int_equal(res[0], 0);
    assert_int_equal(ch[1].tag, EW_RSCP_TAG_EMS_RES_WEATHER_REGULATED_CHARGE_ENABLED);
    assert_int_equal(res[1], 0);
    assert_int_equal(res[2], 1);
    assert_int_equal(res[3], -1);
    assert_int_equal(ch[4].tag, EW_RSCP_TAG_EMS_RES_WEATHER_FORECAST_MODE);
    assert_int_equal(ch[4].type, EW_RSCP_TYPE_INT32);
    assert_int_equal(res[4], 0);
    assert_int_equal(ch[5].tag, 0x018001FFu);
    assert_int_equal(err_code(&ch[5]), EW_RSCP_ERR_UNKNOWN_TAG);
    free(a);
    ew_e3dc_sim_power_settings ps;
    ew_e3dc_sim_get_power_settings(s, &ps);
    assert_int_equal(ps.powersave, 0);
    assert_int_equal(ps.weather_regulated, 1);
    assert_int_equal(ps.max_charge_w, 4500);    /* clamped to the hardware */
    assert_int_equal(ps.max_discharge_w, 2500); /* rejected: unchanged */
    assert_int_equal(ps.discharge_start_w, 100);
    assert_int_equal(ps.weather_forecast_mode, 2);
    assert_int_equal(ps.limits_used, 1);

    /* set_power_limits(False): only the flag. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_SETTINGS);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_EMS_POWER_LIMITS_USED, 0);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    free(run(s, r));
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.charge_limit_w == 4500 && m.discharge_limit_w == 4500);
    a = get_settings(s);
    assert_int_equal((int)qnum(a, "EMS_GET_POWER_SETTINGS/EMS_MAX_DISCHARGE_POWER"), 2500);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- manual control (§9.8) --------------------------------------------------------------- */

static int32_t set_power(ew_e3dc_sim *s, int mode, int64_t value, int as_uint32) {
    req *r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_MODE, (uint8_t)mode);
    if (as_uint32)
        ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_VALUE, (uint32_t)value);
    else
        ew_rscp_builder_add_int32(&r->b, EW_RSCP_TAG_EMS_REQ_SET_POWER_VALUE, (int32_t)value);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value v = nth(a, 0);
    int64_t x = -1;
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_SET_POWER);
    if (v.type == EW_RSCP_TYPE_ERROR) {
        free(a);
        return INT32_MIN;
    }
    assert_int_equal(v.type, EW_RSCP_TYPE_INT32);
    ew_rscp_value_get_i64(&v, &x);
    free(a);
    return (int32_t)x;
}

static void test_set_power(void **state) {
    (void)state;
    int64_t t0 = utc_ms(2024, 2, 7, 1, 0); /* night: no PV */
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 0;
    c.initial_soc_pct = 60;
    c.start_time_ms = t0;
    ew_e3dc_sim *s = make_cfg(&c);
    ew_e3dc_sim_model m;
    /* Grid charging at 3000 W (value as UInt32, rscp.md §11.8). */
    assert_int_equal(set_power(s, 4, 3000, 1), 3000);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.battery_w == 3000);
    assert_int_equal(m.set_power_mode, 4);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_POWER_BAT), 3000);
    ew_e3dc_sim_step(s, t0 + 29000);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.battery_w == 3000);
    /* Not repeated for 30 s: back to normal operation (rscp.md §9.8). */
    ew_e3dc_sim_step(s, t0 + 31000);
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(m.set_power_mode, 0);
    assert_true(m.battery_w <= 0);
    /* Repeated every 20 s it holds. */
    for (int k = 0; k < 10; k++) {
        ew_e3dc_sim_step(s, t0 + 40000 + k * 20000);
        assert_int_equal(set_power(s, 2, 1500, 0), 1500);
        ew_e3dc_sim_step(s, t0 + 40000 + k * 20000 + 19000);
        ew_e3dc_sim_get_model(s, &m);
        assert_true(m.battery_w == -1500);
        assert_true(fabs(m.grid_w - (m.house_w + m.wallbox_w - 1500)) < 1e-6);
    }
    /* Idle; the value is clamped to the hardware; at night "charge" (from
     * PV only) has nothing to charge with. */
    assert_int_equal(set_power(s, 1, 2000, 0), 0);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.battery_w == 0);
    assert_int_equal(set_power(s, 2, 99999, 0), 4500);
    assert_int_equal(set_power(s, 3, 1000, 0), 1000);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.battery_w == 0);
    assert_int_equal(set_power(s, 0, 0, 0), 0);
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(m.set_power_mode, 0);
    /* Bad mode: Error 3. */
    assert_int_equal(set_power(s, 5, 100, 0), INT32_MIN);

    /* Manual charge of 500 Wh: starts, runs, ends by itself. */
    req *r = req_new();
    ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_REQ_START_MANUAL_CHARGE, 500);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value v = nth(a, 0);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_START_MANUAL_CHARGE);
    assert_int_equal(v.type, EW_RSCP_TYPE_BOOL);
    assert_int_equal(v.data[0], 1);
    free(a);
    r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_MANUAL_CHARGE);
    req_done(r);
    a = run(s, r);
    assert_int_equal((int)qnum(a, "EMS_GET_MANUAL_CHARGE/EMS_MANUAL_CHARGE_ACTIVE"), 1);
    assert_int_equal((int)qnum(a, "EMS_GET_MANUAL_CHARGE/EMS_MANUAL_CHARGE_START_COUNTER"), 1);
    free(a);
    int64_t t = ew_e3dc_sim_time(s);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.battery_w == 4500);
    ew_e3dc_sim_step(s, t + 3600000);
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(m.manual_charge_active, 0);
    assert_true(fabs(m.manual_charge_wh - 500.0) < 1e-6);
    r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_MANUAL_CHARGE);
    req_done(r);
    a = run(s, r);
    assert_int_equal((int)qnum(a, "EMS_GET_MANUAL_CHARGE/EMS_MANUAL_CHARGE_ACTIVE"), 0);
    assert_true(fabs(qnum(a, "EMS_GET_MANUAL_CHARGE/EMS_MANUAL_CHARGE_ENERGY_COUNTER") - 500) <
                1e-6);
    free(a);

    /* Battery to car: echoed as sent (pye3dc compares). */
    r = req_new();
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_REQ_SET_BATTERY_TO_CAR_MODE, 1);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_BATTERY_TO_CAR_MODE);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_REQ_SET_BATTERY_BEFORE_CAR_MODE, 1);
    req_done(r);
    a = run(s, r);
    assert_int_equal(a->rc, 3);
    v = nth(a, 0);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_SET_BATTERY_TO_CAR_MODE);
    assert_int_equal(v.type, EW_RSCP_TYPE_UCHAR8);
    assert_int_equal(v.data[0], 1);
    v = nth(a, 1);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_BATTERY_TO_CAR_MODE);
    assert_int_equal(v.data[0], 1);
    free(a);
    ew_e3dc_sim_del(s);
}

static void test_idle_periods(void **state) {
    (void)state;
    /* 2024-05-08 is a Wednesday (day 2 when 0 = Monday); 10:00 local. */
    int64_t t0 = utc_ms(2024, 5, 8, 9, 0);
    ew_e3dc_sim *s = make_at(t0);
    answer *a;
    req *r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS);
    req_done(r);
    a = run(s, r);
    ew_rscp_value top = nth(a, 0), ch[16];
    assert_int_equal(children(a, &top, ch, 16), 14);
    free(a);

    /* pye3dc's set_idle_periods shape: charge idle on Wednesday 08:00-12:00. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_IDLE_PERIODS);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_TYPE, 0);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_DAY, 2);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_ACTIVE, 1);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_START);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_HOUR, 8);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_MINUTE, 0);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_END);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_HOUR, 12);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_MINUTE, 0);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    ew_rscp_value v = nth(a, 0);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_SET_IDLE_PERIODS);
    assert_int_equal(v.type, EW_RSCP_TYPE_UCHAR8);
    assert_int_equal(v.data[0], 1);
    free(a);

    /* Read back; the model stops charging; status bits say so. */
    r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_SYS_STATUS);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_STATUS);
    req_done(r);
    a = run(s, r);
    assert_int_equal((int)qnum(a,
                               "EMS_GET_IDLE_PERIODS/EMS_IDLE_PERIOD(EMS_IDLE_PERIOD_TYPE==0 && "
                               "EMS_IDLE_PERIOD_DAY==2)/EMS_IDLE_PERIOD_END/EMS_IDLE_PERIOD_HOUR"),
                     12);
    assert_int_equal((int)qnum(a, "EMS_GET_IDLE_PERIODS/EMS_IDLE_PERIOD(EMS_IDLE_PERIOD_TYPE==0 "
                                  "&& EMS_IDLE_PERIOD_DAY==2)/EMS_IDLE_PERIOD_ACTIVE"),
                     1);
    assert_int_equal((int)qnum(a, "EMS_GET_IDLE_PERIODS/EMS_IDLE_PERIOD(EMS_IDLE_PERIOD_TYPE==0 "
                                  "&& EMS_IDLE_PERIOD_DAY==3)/EMS_IDLE_PERIOD_ACTIVE"),
                     0);
    uint32_t sys = (uint32_t)qnum(a, "EMS_SYS_STATUS");
    uint32_t ems = (uint32_t)qnum(a, "EMS_STATUS");
    assert_true(sys & (1u << 16));
    assert_true(ems & 32u);
    free(a);
    ew_e3dc_sim_model m;
    for (int k = 0; k < 3600; k += 10) {
        ew_e3dc_sim_step(s, t0 + k * 1000);
        ew_e3dc_sim_get_model(s, &m);
        assert_true(m.battery_w <= 0);
    }
    /* 12:00 local: charging allowed again. */
    ew_e3dc_sim_step(s, utc_ms(2024, 5, 8, 11, 0));
    ew_e3dc_sim_get_model(s, &m);
    assert_false(m.sys_status & (1u << 16));

    /* An invalid period (day 9): answer 0, nothing changes. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_REQ_SET_IDLE_PERIODS);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_TYPE, 1);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_DAY, 1);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_ACTIVE, 1);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_TYPE, 0);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_DAY, 9);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    v = nth(a, 0);
    assert_int_equal(v.data[0], 0);
    free(a);
    r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS);
    req_done(r);
    a = run(s, r);
    assert_int_equal((int)qnum(a, "EMS_GET_IDLE_PERIODS/EMS_IDLE_PERIOD(EMS_IDLE_PERIOD_TYPE==1 "
                                  "&& EMS_IDLE_PERIOD_DAY==1)/EMS_IDLE_PERIOD_ACTIVE"),
                     0);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- wallbox (§9.9) ---------------------------------------------------------------------- */

static answer *wb_set(ew_e3dc_sim *s, uint32_t what, int byte, uint8_t value) {
    uint8_t d[6] = {0, 0, 0, 0, 0, 0};
    d[byte] = value;
    req *r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_WB_REQ_DATA);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_INDEX, 0);
    ew_rscp_builder_open(&r->b, what);
    ew_rscp_builder_add_bytes(&r->b, EW_RSCP_TAG_WB_EXTERN_DATA, d, 6);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_EXTERN_DATA_LEN, 6);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    answer *a = run(s, r);
    /* pye3dc's success test: WB_DATA whose last child is the matching
     * response tag and not an Error. */
    ew_rscp_value top = nth(a, 0), ch[8];
    assert_int_equal(top.tag, EW_RSCP_TAG_WB_DATA);
    int n = children(a, &top, ch, 8);
    assert_int_equal(ch[n - 1].tag, what | EW_RSCP_TAG_RESPONSE_BIT);
    assert_true(ch[n - 1].type != EW_RSCP_TYPE_ERROR);
    return a;
}

static void wb_alg(ew_e3dc_sim *s, uint8_t out[6]) {
    static const uint32_t items[] = {
        EW_RSCP_TAG_WB_REQ_EXTERN_DATA_ALG, EW_RSCP_TAG_WB_REQ_EXTERN_DATA_SUN,
        EW_RSCP_TAG_WB_REQ_EXTERN_DATA_NET, EW_RSCP_TAG_WB_REQ_APP_SOFTWARE,
        EW_RSCP_TAG_WB_REQ_KEY_STATE,
    };
    req *r = req_new();
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_WB_REQ_DATA, EW_RSCP_TAG_WB_INDEX, 0, items, 5);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value top = nth(a, 0), ch[8], v;
    assert_int_equal(children(a, &top, ch, 8), 6);
    assert_int_equal(ch[0].tag, EW_RSCP_TAG_WB_INDEX);
    assert_int_equal(ch[0].type, EW_RSCP_TYPE_UCHAR8);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ch[i + 1].tag, items[i] | EW_RSCP_TAG_RESPONSE_BIT);
    assert_true(q(a, "WB_DATA/WB_EXTERN_DATA_ALG/WB_EXTERN_DATA", &v));
    assert_int_equal(v.type, EW_RSCP_TYPE_BYTEARRAY);
    assert_int_equal(v.len, 6);
    memcpy(out, v.data, 6);
    assert_int_equal((int)qnum(a, "WB_DATA/WB_EXTERN_DATA_ALG/WB_EXTERN_DATA_LEN"), 6);
    /* SUN + NET power = wallbox power (Int16 in bytes 0..1). */
    ew_e3dc_sim_model m;
    ew_e3dc_sim_get_model(s, &m);
    assert_true(q(a, "WB_DATA/WB_EXTERN_DATA_SUN/WB_EXTERN_DATA", &v));
    int sun = (int16_t)(v.data[0] | v.data[1] << 8);
    assert_true(q(a, "WB_DATA/WB_EXTERN_DATA_NET/WB_EXTERN_DATA", &v));
    int net = (int16_t)(v.data[0] | v.data[1] << 8);
    assert_true(abs(sun + net - (int)lround(m.wallbox_w)) <= 1);
    free(a);
}

static void test_wallbox(void **state) {
    (void)state;
    /* Sunday 2024-06-16 21:00 local: weekend trips end by 17:00. */
    int64_t t0 = utc_ms(2024, 6, 16, 20, 0);
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 2;
    c.car_capacity_wh = 200000; /* never full during the test */
    c.start_time_ms = t0;
    ew_e3dc_sim *s = make_cfg(&c);
    uint8_t alg[6];
    ew_e3dc_sim_model m;
    wb_alg(s, alg);
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(!!(alg[2] & 0x08), m.wallbox[0].plugged);
    assert_int_equal(alg[2] & 0x80, 0x80); /* starts in sun mode */
    assert_int_equal(alg[1], 1);
    assert_int_equal(alg[3], 16);
    assert_int_equal(alg[5], 0);
    assert_true(m.wallbox[0].plugged); /* 22:00 local: the car is back */

    /* Sun mode off (byte 0 = 2): mixed mode charges at full power. */
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 0, 2));
    wb_alg(s, alg);
    assert_int_equal(alg[2] & 0x80, 0);
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(m.wallbox[0].sun_mode, 0);
    assert_true(m.wallbox[0].charging);
    assert_true(fabs(m.wallbox_w - 16 * 230.0) < 1e-6);
    assert_int_equal(alg[2] & 0x20, 0x20);
    /* The battery does not feed the car (battery-to-car off). */
    assert_true(-m.battery_w <= m.house_w + 1e-6);
    /* Schuko on, then a sun-mode request leaves it on. */
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 5, 1));
    wb_alg(s, alg);
    assert_int_equal(alg[5], 1);
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 0, 2));
    wb_alg(s, alg);
    assert_int_equal(alg[5], 1);
    /* Toggle phases: 1 -> 3; max current 10 A via SET_PARAM_1 byte 2. */
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 3, 1));
    answer *a = wb_set(s, EW_RSCP_TAG_WB_REQ_SET_PARAM_1, 2, 10);
    assert_int_equal(nth(a, 0).tag, EW_RSCP_TAG_WB_DATA);
    free(a);
    wb_alg(s, alg);
    assert_int_equal(alg[1], 3);
    assert_int_equal(alg[3], 10);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(fabs(m.wallbox_w - 3 * 10 * 230.0) < 1e-6);
    /* Toggle charging: cancelled, no power; toggle again: charging. */
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 4, 1));
    wb_alg(s, alg);
    assert_int_equal(alg[2] & 0x40, 0x40);
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.wallbox_w == 0);
    free(wb_set(s, EW_RSCP_TAG_WB_REQ_SET_EXTERN, 4, 1));
    ew_e3dc_sim_get_model(s, &m);
    assert_true(m.wallbox_w > 0);
    assert_int_equal(one_int(s, EW_RSCP_TAG_EMS_REQ_POWER_WB_ALL), (int64_t)lround(m.wallbox_w));
    /* Battery-to-car on: the battery may now cover the car as well. */
    req *r = req_new();
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_EMS_REQ_SET_BATTERY_TO_CAR_MODE, 1);
    req_done(r);
    free(run(s, r));
    ew_e3dc_sim_get_model(s, &m);
    if (m.soc_pct > 1)
        assert_true(-m.battery_w > m.house_w);

    /* Direct wallbox requests (typed setters). */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_WB_REQ_DATA);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_INDEX, 0);
    ew_rscp_builder_add_bool(&r->b, EW_RSCP_TAG_WB_REQ_SET_SUN_MODE_ACTIVE, 1);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_REQ_SET_NUMBER_PHASES, 1);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_REQ_SET_MAX_CHARGE_CURRENT, 40);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_SUN_MODE_ACTIVE);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_NUMBER_PHASES);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_MAX_CHARGE_CURRENT);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_PM_POWER_L1);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_ENERGY_ALL);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_SOC);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_WB_REQ_PARAM_1);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_REQ_SET_NUMBER_PHASES, 2);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    assert_int_equal((int)qnum(a, "WB_DATA/WB_SET_MAX_CHARGE_CURRENT"), 32);
    assert_int_equal((int)qnum(a, "WB_DATA/WB_SUN_MODE_ACTIVE"), 1);
    assert_int_equal((int)qnum(a, "WB_DATA/WB_NUMBER_PHASES"), 1);
    assert_int_equal((int)qnum(a, "WB_DATA/WB_MAX_CHARGE_CURRENT"), 32);
    assert_true(qnum(a, "WB_DATA/WB_ENERGY_ALL") > 0);
    ew_rscp_value top = nth(a, 0), ch[16];
    int n = children(a, &top, ch, 16);
    assert_int_equal(n, 12);
    assert_int_equal(ch[10].tag, EW_RSCP_TAG_WB_RSP_PARAM_1);
    assert_int_equal(err_code(&ch[11]), EW_RSCP_ERR_FORMAT); /* 2 phases */
    free(a);

    /* No second wallbox: WB_DATA Error 6; bad SET_EXTERN data: Error 3. */
    r = req_new();
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_WB_REQ_DATA, EW_RSCP_TAG_WB_INDEX, 1,
                        (const uint32_t[]){EW_RSCP_TAG_WB_REQ_EXTERN_DATA_ALG}, 1);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_WB_REQ_DATA);
    ew_rscp_builder_add_uchar8(&r->b, EW_RSCP_TAG_WB_INDEX, 0);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_WB_REQ_SET_EXTERN);
    ew_rscp_builder_add_bytes(&r->b, EW_RSCP_TAG_WB_EXTERN_DATA, "\1\2", 2);
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    top = nth(a, 0);
    assert_int_equal(top.tag, EW_RSCP_TAG_WB_DATA);
    assert_int_equal(err_code(&top), EW_RSCP_ERR_NOT_AVAILABLE);
    assert_true(q(a, "WB_DATA/WB_SET_EXTERN", &top));
    assert_int_equal(err_code(&top), EW_RSCP_ERR_FORMAT);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- smart switches (§9.10) ---------------------------------------------------------------- */

static void test_switches(void **state) {
    (void)state;
    int64_t t0 = utc_ms(2024, 10, 1, 18, 0);
    ew_e3dc_sim *s = make_at(t0);
    req *r = req_new();
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_HA_REQ_DATAPOINT_LIST);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_HA_REQ_ACTUATOR_STATES);
    req_done(r);
    answer *a = run(s, r);
    ew_rscp_value l1 = nth(a, 0), l2 = nth(a, 1), d1[8], d2[8], f[8];
    assert_int_equal(children(a, &l1, d1, 8), 3);
    assert_int_equal(children(a, &l2, d2, 8), 3);
    for (int i = 0; i < 3; i++) {
        /* Same order in both lists: pye3dc pairs them by position. */
        assert_int_equal(d1[i].tag, EW_RSCP_TAG_HA_DATAPOINT);
        int n = children(a, &d1[i], f, 8);
        assert_true(n >= 3);
        int64_t idx;
        ew_rscp_value_get_i64(&f[0], &idx);
        assert_int_equal(idx, i);
        n = children(a, &d2[i], f, 8);
        ew_rscp_value_get_i64(&f[0], &idx);
        assert_int_equal(idx, i);
    }
    assert_true(
        q(a, "HA_DATAPOINT_LIST/HA_DATAPOINT(HA_DATAPOINT_INDEX==1)/HA_DATAPOINT_NAME", &l1));
    assert_int_equal(l1.len, strlen("Heat pump boost"));
    assert_memory_equal(l1.data, "Heat pump boost", l1.len);
    assert_int_equal(
        (int)qnum(a, "HA_ACTUATOR_STATES/HA_DATAPOINT(HA_DATAPOINT_INDEX==2)/HA_DATAPOINT_STATE"),
        1);
    free(a);

    /* pye3dc's set_switch_onoff(1, True): the state and the house load follow. */
    ew_e3dc_sim_model m0, m1;
    ew_e3dc_sim_get_model(s, &m0);
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND_ACTUATOR);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_HA_DATAPOINT_INDEX, 1);
    ew_rscp_builder_add_string(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND, "on");
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_HA_REQ_ACTUATOR_STATES);
    req_done(r);
    a = run(s, r);
    ew_rscp_value v = nth(a, 0);
    assert_int_equal(v.tag, EW_RSCP_TAG_HA_COMMAND_ACTUATOR);
    assert_int_equal(v.type, EW_RSCP_TYPE_BOOL);
    assert_int_equal(v.data[0], 1);
    assert_int_equal(
        (int)qnum(a, "HA_ACTUATOR_STATES/HA_DATAPOINT(HA_DATAPOINT_INDEX==1)/HA_DATAPOINT_STATE"),
        1);
    free(a);
    ew_e3dc_sim_get_model(s, &m1);
    assert_true(fabs(m1.house_w - m0.house_w - 2000.0) < 1e-6);
    assert_int_equal(m1.switch_on[1], 1);

    /* Unknown index: Error 6; unknown command: false; no index: Error 3. */
    r = req_new();
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND_ACTUATOR);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_HA_DATAPOINT_INDEX, 9);
    ew_rscp_builder_add_string(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND, "off");
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND_ACTUATOR);
    ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_HA_DATAPOINT_INDEX, 0);
    ew_rscp_builder_add_string(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND, "dim");
    ew_rscp_builder_close(&r->b);
    ew_rscp_builder_open(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND_ACTUATOR);
    ew_rscp_builder_add_string(&r->b, EW_RSCP_TAG_HA_REQ_COMMAND, "off");
    ew_rscp_builder_close(&r->b);
    req_done(r);
    a = run(s, r);
    v = nth(a, 0);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_NOT_AVAILABLE);
    v = nth(a, 1);
    assert_int_equal(v.data[0], 0);
    v = nth(a, 2);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_FORMAT);
    free(a);
    ew_e3dc_sim_del(s);
}

/* ---- errors and authentication ------------------------------------------------------------- */

static void test_errors(void **state) {
    (void)state;
    ew_e3dc_sim *s = make_at(INT64_C(1700000000000));
    req *r = req_new();
    ew_rscp_builder_add_none(&r->b, 0x7F000001u);                       /* unknown namespace */
    ew_rscp_builder_add_none(&r->b, 0x01000FFFu);                       /* unknown EMS tag */
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_REQ_STORED_ERRORS); /* known, not modelled */
    ew_rscp_builder_add_none(&r->b, EW_RSCP_TAG_EMS_POWER_PV);          /* an answer tag */
    ew_rscp_builder_add_none(&r->b, 0xF800A0FFu);                       /* service namespace */
    ew_rscp_builder_add_uint32(&r->b, EW_RSCP_TAG_EMS_REQ_POWER_PV, 7); /* payload ignored */
    req_done(r);
    answer *a = run(s, r);
    assert_int_equal(a->rc, 6);
    ew_rscp_value v = nth(a, 0);
    assert_int_equal(v.tag, 0x7F800001u);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_UNKNOWN_TAG);
    v = nth(a, 1);
    assert_int_equal(v.tag, 0x01800FFFu);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_UNKNOWN_TAG);
    v = nth(a, 2);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_STORED_ERRORS);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_NOT_AVAILABLE);
    v = nth(a, 3);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_POWER_PV);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_UNKNOWN_TAG);
    v = nth(a, 4);
    assert_int_equal(v.tag, 0xF808A0FFu);
    v = nth(a, 5);
    assert_int_equal(v.tag, EW_RSCP_TAG_EMS_POWER_PV);
    assert_int_equal(v.type, EW_RSCP_TYPE_INT32);
    free(a);

    /* Not authenticated: Error 2 for everything (rscp.md §7.3, §11.6). */
    static const uint32_t some[] = {EW_RSCP_TAG_EMS_REQ_POWER_PV, EW_RSCP_TAG_INFO_REQ_UTC_TIME,
                                    EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS, 0x7F000001u};
    r = req_new();
    ew_rscp_req_tags(&r->b, some, 4);
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_BAT_REQ_DATA, EW_RSCP_TAG_BAT_INDEX, 0, some, 1);
    req_done(r);
    a = run_level(s, r->buf, r->len, 0);
    free(r);
    assert_int_equal(a->rc, 5);
    static const uint32_t want[] = {EW_RSCP_TAG_EMS_POWER_PV, EW_RSCP_TAG_INFO_UTC_TIME,
                                    EW_RSCP_TAG_EMS_GET_SYS_SPECS, 0x7F800001u,
                                    EW_RSCP_TAG_BAT_DATA};
    for (int i = 0; i < 5; i++) {
        v = nth(a, i);
        assert_int_equal(v.tag, want[i]);
        assert_int_equal(err_code(&v), EW_RSCP_ERR_ACCESS_DENIED);
    }
    free(a);

    /* A login that reaches the handler: UChar8 level, or Int32 0 (§7.2). */
    for (int good = 0; good < 2; good++) {
        r = req_new();
        ew_rscp_req_auth(&r->b, "user@example.com", good ? "secret-portal-password" : "wrong");
        req_done(r);
        a = run_level(s, r->buf, r->len, 0);
        free(r);
        assert_int_equal(ew_rscp_auth_level(a->buf, a->len, NULL), good ? 10 : EW_ERR_AUTH);
        v = nth(a, 0);
        assert_int_equal(v.type, good ? EW_RSCP_TYPE_UCHAR8 : EW_RSCP_TYPE_INT32);
        free(a);
    }

    /* Malformed request areas: nothing appended. */
    static const uint8_t bad[] = {0x01, 0x00, 0x00, 0x01, 0x00, 0x05, 0x00};
    answer *b = run_level(s, bad, sizeof bad, 10);
    assert_int_equal(b->rc, EW_ERR_OVERRUN);
    assert_int_equal(b->len, 0);
    free(b);
    /* An empty frame: no answers. */
    b = run_level(s, NULL, 0, 10);
    assert_int_equal(b->rc, 0);
    assert_int_equal(b->len, 0);
    free(b);
    /* Bad arguments. */
    ew_rscp_builder bb;
    uint8_t tmp[8];
    ew_rscp_builder_init(&bb, tmp, sizeof tmp);
    assert_int_equal(ew_e3dc_sim_handle(NULL, bad, 0, 10, &bb), EW_ERR_INVAL);
    assert_int_equal(ew_e3dc_sim_handle(s, NULL, 3, 10, &bb), EW_ERR_INVAL);
    assert_int_equal(ew_e3dc_sim_handle(s, bad, 0, 10, NULL), EW_ERR_INVAL);
    /* A small caller buffer is the caller's business: the builder reports
     * the size it needs. */
    static const uint32_t specs[] = {EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS};
    r = req_new();
    ew_rscp_req_tags(&r->b, specs, 1);
    req_done(r);
    assert_int_equal(ew_e3dc_sim_handle(s, r->buf, r->len, 10, &bb), 1);
    size_t need;
    assert_int_equal(ew_rscp_builder_finish(&bb, &need), EW_ERR_NOBUF);
    assert_true(need > sizeof tmp);
    free(r);
    ew_e3dc_sim_del(s);
}

/* Every §9 request of this file in one frame, and frames that do not fit. */
static void test_answer_limit(void **state) {
    (void)state;
    ew_e3dc_sim *s = make_at(utc_ms(2024, 4, 2, 12, 0));
    req *r = req_new();
    const size_t nbat = sizeof pye3dc_bat_items / sizeof pye3dc_bat_items[0];
    static const uint32_t scalars[] = {
        EW_RSCP_TAG_INFO_REQ_UTC_TIME,        EW_RSCP_TAG_EMS_REQ_BAT_SOC,
        EW_RSCP_TAG_EMS_REQ_POWER_PV,         EW_RSCP_TAG_EMS_REQ_POWER_ADD,
        EW_RSCP_TAG_EMS_REQ_POWER_BAT,        EW_RSCP_TAG_EMS_REQ_POWER_HOME,
        EW_RSCP_TAG_EMS_REQ_POWER_GRID,       EW_RSCP_TAG_EMS_REQ_POWER_WB_ALL,
        EW_RSCP_TAG_EMS_REQ_SELF_CONSUMPTION, EW_RSCP_TAG_EMS_REQ_AUTARKY,
        EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS,    EW_RSCP_TAG_EMS_REQ_GET_POWER_SETTINGS,
        EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS, EW_RSCP_TAG_HA_REQ_DATAPOINT_LIST,
        EW_RSCP_TAG_HA_REQ_ACTUATOR_STATES,   EW_RSCP_TAG_EMS_REQ_GET_MANUAL_CHARGE,
    };
    ew_rscp_req_tags(&r->b, scalars, sizeof scalars / sizeof scalars[0]);
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_BAT_REQ_DATA, EW_RSCP_TAG_BAT_INDEX, 0, pye3dc_bat_items,
                        nbat);
    for (unsigned d = 0; d < 3; d++) {
        ew_rscp_builder_open(&r->b, EW_RSCP_TAG_BAT_REQ_DATA);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_INDEX, 0);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_TEMPERATURES,
                                   (uint16_t)d);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_VOLTAGES, (uint16_t)d);
        ew_rscp_builder_add_uint16(&r->b, EW_RSCP_TAG_BAT_REQ_DCB_INFO, (uint16_t)d);
        ew_rscp_builder_close(&r->b);
    }
    ew_rscp_req_indexed(&r->b, EW_RSCP_TAG_PM_REQ_DATA, EW_RSCP_TAG_PM_INDEX, 0, pye3dc_pm_items,
                        sizeof pye3dc_pm_items / sizeof pye3dc_pm_items[0]);
    req_done(r);
    int expect = (int)(sizeof scalars / sizeof scalars[0]) + 5;
    answer *a = run(s, r);
    assert_int_equal(a->rc, expect);
    assert_true(a->len < 16384);
    free(a);

    /* One DB answer with 192 quarter-hour values fits (~29 KB); a second one
     * in the same frame would cross 32 KiB and becomes Error 5 OUT_OF_BOUNDS. */
    int64_t start = utc_ms(2024, 4, 2, 12, 0) / 1000 - 2 * 86400;
    req *one_db = db_req(EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY, start, 900, 192 * 900, T_TS);
    a = run_level(s, one_db->buf, one_db->len, 10);
    assert_int_equal(a->rc, 1);
    assert_int_equal(nth(a, 0).type, EW_RSCP_TYPE_CONTAINER);
    assert_true(a->len > 25000);
    free(a);
    r = req_new();
    memcpy(r->buf, one_db->buf, one_db->len);
    memcpy(r->buf + one_db->len, one_db->buf, one_db->len);
    r->len = 2 * one_db->len;
    static const uint32_t tail[] = {EW_RSCP_TAG_EMS_REQ_POWER_PV};
    ew_rscp_builder b2;
    ew_rscp_builder_init(&b2, r->buf + r->len, sizeof r->buf - r->len);
    ew_rscp_req_tags(&b2, tail, 1);
    size_t tl;
    ew_rscp_builder_finish(&b2, &tl);
    r->len += tl;
    a = run_level(s, r->buf, r->len, 10);
    assert_int_equal(a->rc, EW_ERR_TOO_BIG);
    assert_int_equal(count_top(a), 3);
    assert_int_equal(nth(a, 0).type, EW_RSCP_TYPE_CONTAINER);
    ew_rscp_value v = nth(a, 1);
    assert_int_equal(v.tag, EW_RSCP_TAG_DB_HISTORY_DATA_DAY);
    assert_int_equal(err_code(&v), EW_RSCP_ERR_OUT_OF_BOUNDS);
    assert_int_equal(nth(a, 2).tag, EW_RSCP_TAG_EMS_POWER_PV);
    free(a);
    free(r);
    free(one_db);

    /* Thousands of requests whose Error answers alone exceed the limit:
     * nothing is kept. */
    r = req_new();
    for (int i = 0; i < 4000; i++)
        ew_rscp_builder_add_none(&r->b, 0x7F000001u);
    req_done(r);
    a = run_level(s, r->buf, r->len, 10);
    free(r);
    assert_int_equal(a->rc, EW_ERR_TOO_BIG);
    assert_int_equal(a->len, 0);
    free(a);
    ew_e3dc_sim_del(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pye3dc_session),
        cmocka_unit_test(test_scalar_requests),
        cmocka_unit_test(test_poll_balance),
        cmocka_unit_test(test_battery),
        cmocka_unit_test(test_pvi),
        cmocka_unit_test(test_power_meters),
        cmocka_unit_test(test_history_db),
        cmocka_unit_test(test_power_settings),
        cmocka_unit_test(test_set_power),
        cmocka_unit_test(test_idle_periods),
        cmocka_unit_test(test_wallbox),
        cmocka_unit_test(test_switches),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_answer_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
