/*
 * RCT over real loopback TCP: the libuv client (ew_rct_client) against the
 * libuv server (ew_rct_server) driving simulator peers, with every fault
 * mode: reads succeed after retries, or fail with the fault's reason, and
 * never hang (every wait is capped by a timer that fails the test).
 */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include <energywire/io_rct.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#define SOC 0x959930BFu    /* battery.soc, FLOAT */
#define SERIAL 0x7924ABD9u /* inverter_sn: STRING */
#define N_READS 12

typedef struct env {
    uv_loop_t loop;
    uv_timer_t cap;
    int capped;
    ew_rct_sim *sim;
    ew_rct_server *srv;
    ew_rct_client *cl;
    unsigned ok, failed, done;
    int errs[N_READS * 4];
    ew_rct_client_state last_state;
    int last_err;
    char last_detail[512];
} env;

static void cap_cb(uv_timer_t *t) {
    ((env *)t->data)->capped = 1;
}

static void on_event(void *user, const ew_rct_conn_event *ev) {
    env *e = user;
    if (ev->type == EW_RCT_EV_RESPONSE) {
        e->ok++;
        e->done++;
        if (ev->id == SOC) {
            assert_int_equal(ev->value.type, EW_RCT_TYPE_FLOAT);
            assert_true(ev->value.f >= 0.0 && ev->value.f <= 1.0);
        }
    } else if (ev->type == EW_RCT_EV_REQUEST_FAILED) {
        if (e->failed < N_READS * 4)
            e->errs[e->failed] = ev->err;
        e->failed++;
        e->done++;
    }
}

static void on_state(void *user, ew_rct_client_state st, int err, const char *detail) {
    env *e = user;
    e->last_state = st;
    e->last_err = err;
    snprintf(e->last_detail, sizeof e->last_detail, "%s", detail);
}

static void env_start(env *e, int interrupt) {
    memset(e, 0, sizeof *e);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->cap);
    e->cap.data = e;
    ew_rct_sim_opts so;
    ew_rct_sim_opts_init(&so);
    so.interrupt_on_second_client = interrupt;
    assert_int_equal(ew_rct_sim_new(&e->sim, &so, NULL), EW_OK);
    ew_rct_server_opts o;
    ew_rct_server_opts_init(&o);
    o.port = 0;
    o.sim = e->sim;
    assert_int_equal(ew_rct_server_new(&e->srv, &e->loop, &o), EW_OK);
    assert_int_equal(ew_rct_server_listen(e->srv), EW_OK);
    assert_true(ew_rct_server_port(e->srv) > 0);
}

static ew_rct_client *client_new(env *e, uint16_t port, int reconnect) {
    ew_rct_client_opts o;
    ew_rct_client_opts_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.reconnect = reconnect;
    o.conn.request_timeout_ms = 100;
    o.conn.max_retries = 4;
    o.conn.offline_after = 0;
    o.connect_timeout_ms = 2000;
    o.on_event = on_event;
    o.on_state = on_state;
    o.user = e;
    ew_rct_client *c;
    assert_int_equal(ew_rct_client_new(&c, &e->loop, &o), EW_OK);
    assert_int_equal(ew_rct_client_start(c), EW_OK);
    return c;
}

/* Runs the loop until |*count| reaches |want| or |cap_ms| passes. */
static void run_until(env *e, const unsigned *count, unsigned want, uint64_t cap_ms) {
    e->capped = 0;
    uv_timer_start(&e->cap, cap_cb, cap_ms, 0);
    while (*count < want && !e->capped)
        uv_run(&e->loop, UV_RUN_ONCE);
    uv_timer_stop(&e->cap);
    assert_false(e->capped);
}

static void env_stop(env *e) {
    ew_rct_client_del(e->cl);
    ew_rct_server_del(e->srv);
    uv_close((uv_handle_t *)&e->cap, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    ew_rct_sim_del(e->sim);
}

/* Submits N_READS reads and waits for all of their final events. */
static void read_batch(env *e, uint32_t id) {
    e->ok = e->failed = e->done = 0;
    for (int i = 0; i < N_READS; i++)
        assert_int_equal(ew_rct_client_submit_read(e->cl, id, NULL), EW_OK);
    run_until(e, &e->done, N_READS, 10000);
}

static void test_clean(void **state) {
    (void)state;
    env e;
    env_start(&e, 0);
    e.cl = client_new(&e, ew_rct_server_port(e.srv), 1);
    read_batch(&e, SOC);
    assert_int_equal(e.ok, N_READS);
    /* A write, read back. */
    uint8_t pl[4];
    size_t n;
    const uint32_t pmax = 0x1D2994EAu; /* power_mng.soc_charge_power: FLOAT */
    assert_int_equal(ew_rct_value_encode_double(EW_RCT_TYPE_FLOAT, 1234.5, pl, sizeof pl, &n),
                     EW_OK);
    e.ok = e.done = 0;
    assert_int_equal(ew_rct_client_submit_write(e.cl, pmax, pl, n, NULL), EW_OK);
    run_until(&e, &e.done, 1, 5000);
    assert_int_equal(e.ok, 1);
    env_stop(&e);
}

/* Every fault mode on every second (interrupt: third) request: all reads
 * succeed after retries.  A frame cut mid-wire swallows the start of the
 * next answer (receivers do not resynchronise on a start token, rct.md
 * §5.2), so it costs two attempts and needs a longer period. */
static void test_faults_retried(void **state) {
    (void)state;
    static const unsigned modes[] = {EW_RCT_SIM_FAULT_TRUNCATE, EW_RCT_SIM_FAULT_BAD_CRC,
                                     EW_RCT_SIM_FAULT_DROP, EW_RCT_SIM_FAULT_INTERRUPT,
                                     EW_RCT_SIM_FAULT_TRUNCATE | EW_RCT_SIM_FAULT_BAD_CRC};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        env e;
        env_start(&e, 0);
        ew_rct_server_set_faults(e.srv, modes[m], modes[m] == EW_RCT_SIM_FAULT_INTERRUPT ? 3 : 2);
        e.cl = client_new(&e, ew_rct_server_port(e.srv), 1);
        read_batch(&e, SOC);
        if (e.ok != N_READS)
            fail_msg("fault 0x%x: %u of %u reads failed", modes[m], e.failed, N_READS);
        read_batch(&e, SERIAL); /* a longer answer */
        if (e.ok != N_READS)
            fail_msg("fault 0x%x: %u string reads failed", modes[m], e.failed);
        env_stop(&e);
    }
}

/* Every answer broken: every read fails, with the fault's reason. */
static void test_faults_always(void **state) {
    (void)state;
    static const struct {
        unsigned fault;
        int err;
    } modes[] = {{EW_RCT_SIM_FAULT_TRUNCATE, EW_ERR_TRUNCATED},
                 {EW_RCT_SIM_FAULT_BAD_CRC, EW_ERR_CRC},
                 {EW_RCT_SIM_FAULT_DROP, EW_ERR_TIMEOUT},
                 {EW_RCT_SIM_FAULT_INTERRUPT, EW_ERR_TIMEOUT}};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        env e;
        env_start(&e, 0);
        ew_rct_server_set_faults(e.srv, modes[m].fault, 1);
        e.cl = client_new(&e, ew_rct_server_port(e.srv), 1);
        e.ok = e.failed = e.done = 0;
        for (int i = 0; i < 3; i++)
            assert_int_equal(ew_rct_client_submit_read(e.cl, SOC, NULL), EW_OK);
        run_until(&e, &e.done, 3, 15000);
        assert_int_equal(e.ok, 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(e.errs[i], modes[m].err);
        assert_int_equal(ew_rct_client_error(e.cl), modes[m].err);
        assert_non_null(strstr(ew_rct_client_error_detail(e.cl), "127.0.0.1:"));
        /* Switched off at runtime: reads work again on the same connection. */
        ew_rct_server_set_faults(e.srv, 0, 0);
        read_batch(&e, SOC);
        assert_int_equal(e.ok, N_READS);
        env_stop(&e);
    }
}

/* Two clients reading long answers while the device cuts answers when the
 * other client asks (rct.md §15): every read ends, most succeed. */
static void test_second_client_interrupt(void **state) {
    (void)state;
    env e;
    env_start(&e, 1);
    e.cl = client_new(&e, ew_rct_server_port(e.srv), 1);
    ew_rct_client *c2 = client_new(&e, ew_rct_server_port(e.srv), 1);
    e.ok = e.failed = e.done = 0;
    for (int i = 0; i < N_READS; i++) {
        assert_int_equal(ew_rct_client_submit_read(e.cl, 0x40FF01B7u, NULL), EW_OK);
        assert_int_equal(ew_rct_client_submit_read(c2, 0x40FF01B7u, NULL), EW_OK);
    }
    run_until(&e, &e.done, 2 * N_READS, 20000);
    assert_true(e.ok > 0);
    for (unsigned i = 0; i < e.failed && i < N_READS * 4; i++)
        assert_true(e.errs[i] == EW_ERR_TIMEOUT || e.errs[i] == EW_ERR_TRUNCATED ||
                    e.errs[i] == EW_ERR_CRC);
    ew_rct_client_del(c2);
    env_stop(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_faults_retried),
        cmocka_unit_test(test_faults_always),
        cmocka_unit_test(test_second_client_interrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
