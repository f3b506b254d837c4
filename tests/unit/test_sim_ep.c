/*
 * EP peer model (ew_ep_sim_*): pure, no network.  Two models are wired to
 * each other through the real codec (each side's parameters are encoded,
 * decoded and fed to the other), with a fake model clock: a vehicle charging
 * at a charger, the vehicle stopping at its target, a home battery feeding a
 * vehicle and switching to demand, voltage bounds that do not match, a lost
 * or silent peer, and option checks.
 */
#include "testutil.h"

#include <energywire/ep_sim.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static const uint32_t kinds[3] = {EW_EP_MSG_SUPPLY, EW_EP_MSG_DEMAND, EW_EP_MSG_STORAGE};

/* Encodes |m| as the wire payload and decodes it again, as a peer sees it. */
static void through_wire(const ew_ep_msg *m, uint8_t *buf, size_t cap, ew_ep_msg *out) {
    size_t n = 0;
    assert_int_equal(ew_ep_msg_encode(m, buf, cap, &n), EW_OK);
    assert_int_equal(ew_ep_msg_decode(m->type, buf, n, 0, out, NULL), EW_OK);
    assert_int_equal(out->warnings, 0);
}

/* Every kind |from| publishes now goes to |to|. */
static void send_all(ew_ep_sim *from, ew_ep_sim *to, uint64_t now) {
    uint8_t buf[1024];
    for (int k = 0; k < 3; k++) {
        ew_ep_msg m, rx;
        if (!ew_ep_sim_params(from, kinds[k], &m))
            continue;
        through_wire(&m, buf, sizeof buf, &rx);
        ew_ep_sim_on_msg(to, &rx, now);
    }
}

/* Runs both models from |t0| to |t1| with an exchange every |dt| ms. */
static void run(ew_ep_sim *a, ew_ep_sim *b, uint64_t t0, uint64_t t1, uint64_t dt) {
    for (uint64_t t = t0; t <= t1; t += dt) {
        ew_ep_sim_step(a, t);
        ew_ep_sim_step(b, t);
        send_all(a, b, t);
        send_all(b, a, t);
    }
}

static void mk(ew_ep_sim *s, ew_ep_sim_role role, double soc) {
    ew_ep_sim_opts o;
    ew_ep_sim_opts_init(&o, role);
    if (soc >= 0)
        o.soc_pct = soc;
    assert_int_equal(ew_ep_sim_init(s, &o, 0), EW_OK);
}

static void test_roles(void **state) {
    (void)state;
    assert_int_equal(ew_ep_sim_role_parse("charger"), EW_EP_SIM_CHARGER);
    assert_int_equal(ew_ep_sim_role_parse("vehicle"), EW_EP_SIM_VEHICLE);
    assert_int_equal(ew_ep_sim_role_parse("battery"), EW_EP_SIM_BATTERY);
    assert_int_equal(ew_ep_sim_role_parse("router"), 0);
    assert_int_equal(ew_ep_sim_role_parse(NULL), 0);
    assert_string_equal(ew_ep_sim_role_name(EW_EP_SIM_VEHICLE), "vehicle");
    assert_null(ew_ep_sim_role_name(9));

    ew_ep_sim c, v, b;
    ew_ep_msg m;
    mk(&c, EW_EP_SIM_CHARGER, -1);
    mk(&v, EW_EP_SIM_VEHICLE, -1);
    mk(&b, EW_EP_SIM_BATTERY, 70);
    /* What each device publishes on its own. */
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_SUPPLY, &m), 1);
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_DEMAND, &m), 0);
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_STORAGE, &m), 0);
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_SUPPLY, &m), 0);
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_DEMAND, &m), 1);
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_STORAGE, &m), 1);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_SUPPLY, &m), 1); /* 70 % > 50 % */
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_DEMAND, &m), 0);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_STORAGE, &m), 1);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_PING, &m), 0);
    assert_false(ew_ep_sim_transfer(&c));
    assert_false(ew_ep_sim_transfer(&v));
}

static void test_charger_supply_fields(void **state) {
    (void)state;
    ew_ep_sim c;
    ew_ep_msg m, rx;
    uint8_t buf[1024];
    mk(&c, EW_EP_SIM_CHARGER, -1);
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_SUPPLY, &m), 1);
    through_wire(&m, buf, sizeof buf, &rx);
    unsigned want = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(2) | EW_EP_HAS(3) | EW_EP_HAS(5) |
                    EW_EP_HAS(6) | EW_EP_HAS(7);
    assert_int_equal(rx.present, want);
    assert_true(rx.u.supply.voltage_limit.min.value == 200);
    assert_true(rx.u.supply.voltage_limit.max.value == 920);
    assert_true(rx.u.supply.current_limit.max.value == 32);
    assert_true(rx.u.supply.power_limit.value == 11000);
    assert_true(rx.u.supply.power_limit.is_int);
    assert_true(rx.u.supply.current.value == 0); /* nothing delivered yet */
    assert_int_equal(rx.u.supply.power_mix.count, 3);
    assert_int_equal(rx.u.supply.isolation.state, 1);
    /* The text form names the fields as the codec does. */
    char line[512];
    ew_ep_msg_format(&rx, 0, line, sizeof line);
    assert_non_null(strstr(line, "power-limit=11000 W"));
}

static void test_vehicle_at_charger(void **state) {
    (void)state;
    ew_ep_sim c, v;
    ew_ep_sim_state cs, vs;
    ew_ep_msg m;
    mk(&c, EW_EP_SIM_CHARGER, -1);
    mk(&v, EW_EP_SIM_VEHICLE, 20);
    run(&c, &v, 0, 1000, 100);
    assert_true(ew_ep_sim_transfer(&c));
    assert_true(ew_ep_sim_transfer(&v));
    ew_ep_sim_get_state(&c, &cs);
    ew_ep_sim_get_state(&v, &vs);
    /* The vehicle could take 50 kW; the charger offers 11 kW. */
    assert_true(vs.power_w == 11000);
    assert_true(cs.power_w == -11000);
    assert_int_equal(vs.peer_has, EW_EP_SIM_HAS_SUPPLY);
    assert_int_equal(cs.peer_has, EW_EP_SIM_HAS_DEMAND | EW_EP_SIM_HAS_STORAGE);
    /* The vehicle's demand is limited to the offer. */
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_DEMAND, &m), 1);
    assert_true(m.u.demand.power_limit.value == 11000);
    assert_true(m.u.demand.current.value == 27.5);
    assert_true(m.present & EW_EP_HAS(5)); /* duration while charging */
    /* The charger reports what it delivers. */
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_SUPPLY, &m), 1);
    assert_true(m.u.supply.voltage.value == 400);
    assert_true(m.u.supply.current.value == 27.5);

    /* One hour at 11 kW into 60 kWh: +18.33 points. */
    run(&c, &v, 1000, 3601000, 1000);
    ew_ep_sim_get_state(&v, &vs);
    ew_ep_sim_get_state(&c, &cs);
    assert_true(fabs(vs.soc_pct - (20 + 1100.0 / 60.0)) < 0.05);
    assert_true(fabs(cs.energy_wh - 11000) < 10);
    assert_true(fabs(vs.energy_wh - cs.energy_wh) < 10);
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_STORAGE, &m), 1);
    assert_true(fabs(m.u.storage.soc.value - vs.soc_pct) < 0.01);
    assert_true(m.u.storage.capacity.value == 60000);
    assert_true(m.present & EW_EP_HAS(2));
    /* Time left to 80 %: 41.67 points of 60 kWh at 11 kW = 2.27 h. */
    double left = (80 - vs.soc_pct) / 100 * 60000 / 11000 * 3600000;
    assert_true(fabs(m.u.storage.soc_target_time.value - left) < 2000);
}

static void test_vehicle_stops_at_target(void **state) {
    (void)state;
    ew_ep_sim c, v;
    ew_ep_sim_state vs, cs;
    ew_ep_msg m;
    mk(&c, EW_EP_SIM_CHARGER, -1);
    mk(&v, EW_EP_SIM_VEHICLE, 79);
    /* 1 % of 60 kWh at 11 kW is 196 s; run 10 min with big steps. */
    run(&c, &v, 0, 600000, 5000);
    ew_ep_sim_get_state(&v, &vs);
    ew_ep_sim_get_state(&c, &cs);
    assert_true(vs.soc_pct == 80); /* not past the target */
    assert_false(vs.transfer);
    assert_false(cs.transfer);
    assert_true(cs.power_w == 0);
    assert_true(fabs(vs.energy_wh - 600) < 60);
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_DEMAND, &m), 1);
    assert_true(m.u.demand.current.value == 0);
    assert_true(m.u.demand.power_limit.value == 0);
    assert_false(m.present & EW_EP_HAS(5));
    /* The charger's measured current is back to zero. */
    assert_int_equal(ew_ep_sim_params(&c, EW_EP_MSG_SUPPLY, &m), 1);
    assert_true(m.u.supply.current.value == 0);
}

static void test_charger_follows_demand(void **state) {
    (void)state;
    ew_ep_sim c;
    ew_ep_sim_state cs;
    mk(&c, EW_EP_SIM_CHARGER, -1);
    ew_ep_msg d;
    memset(&d, 0, sizeof d);
    d.type = EW_EP_MSG_DEMAND;
    d.present = EW_EP_HAS(0) | EW_EP_HAS(1);
    d.u.demand.voltage = ew_ep_num_int(400);
    d.u.demand.current = ew_ep_num_int(10);
    ew_ep_sim_on_msg(&c, &d, 0);
    ew_ep_sim_get_state(&c, &cs);
    assert_true(cs.power_w == -4000);
    /* A power limit below V x I wins. */
    d.present |= EW_EP_HAS(4);
    d.u.demand.power_limit = ew_ep_num_int(2500);
    ew_ep_sim_on_msg(&c, &d, 100);
    ew_ep_sim_get_state(&c, &cs);
    assert_true(cs.power_w == -2500);
    /* More than the charger can give: capped by its 32 A at 400 V. */
    d.present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(4);
    d.u.demand.current = ew_ep_num_int(100);
    d.u.demand.power_limit = ew_ep_num_int(40000);
    ew_ep_sim_on_msg(&c, &d, 200);
    ew_ep_sim_get_state(&c, &cs);
    assert_true(cs.power_w == -11000);
    /* Reverse demand (negative current) is not simulated. */
    d.present = EW_EP_HAS(0) | EW_EP_HAS(1);
    d.u.demand.current = ew_ep_num_int(-10);
    ew_ep_sim_on_msg(&c, &d, 300);
    assert_false(ew_ep_sim_transfer(&c));
    /* A voltage outside the supply bounds: no transfer. */
    d.u.demand.voltage = ew_ep_num_int(1000);
    d.u.demand.current = ew_ep_num_int(10);
    ew_ep_sim_on_msg(&c, &d, 400);
    assert_false(ew_ep_sim_transfer(&c));
    d.u.demand.voltage = ew_ep_num_int(400);
    ew_ep_sim_on_msg(&c, &d, 500);
    assert_true(ew_ep_sim_transfer(&c));
    /* Messages that are not parameters change nothing. */
    ew_ep_msg p;
    memset(&p, 0, sizeof p);
    p.type = EW_EP_MSG_SESSION;
    ew_ep_sim_on_msg(&c, &p, 600);
    assert_true(ew_ep_sim_transfer(&c));
    /* The session ended. */
    ew_ep_sim_peer_lost(&c, 700);
    assert_false(ew_ep_sim_transfer(&c));
    ew_ep_sim_get_state(&c, &cs);
    assert_int_equal(cs.peer_has, 0);
}

static void test_voltage_mismatch(void **state) {
    (void)state;
    ew_ep_sim c, v;
    ew_ep_sim_opts o;
    ew_ep_sim_opts_init(&o, EW_EP_SIM_VEHICLE);
    o.voltage_v = 950; /* above the charger's 920 V */
    assert_int_equal(ew_ep_sim_init(&v, &o, 0), EW_OK);
    mk(&c, EW_EP_SIM_CHARGER, -1);
    run(&c, &v, 0, 2000, 100);
    assert_false(ew_ep_sim_transfer(&v));
    assert_false(ew_ep_sim_transfer(&c));
    ew_ep_msg m;
    assert_int_equal(ew_ep_sim_params(&v, EW_EP_MSG_DEMAND, &m), 1);
    assert_true(m.u.demand.power_limit.value == 0);
}

static void test_stale_peer(void **state) {
    (void)state;
    ew_ep_sim c, v;
    mk(&c, EW_EP_SIM_CHARGER, -1);
    mk(&v, EW_EP_SIM_VEHICLE, 20);
    run(&c, &v, 0, 1000, 100);
    assert_true(ew_ep_sim_transfer(&v));
    /* The charger goes silent: after the default 1000 ms the vehicle
     * forgets its offer. */
    ew_ep_sim_step(&v, 1900);
    assert_true(ew_ep_sim_transfer(&v));
    ew_ep_sim_step(&v, 2100);
    assert_false(ew_ep_sim_transfer(&v));
    ew_ep_sim_state vs;
    ew_ep_sim_get_state(&v, &vs);
    assert_int_equal(vs.peer_has, 0);
    /* Time does not run backwards. */
    ew_ep_sim_step(&v, 500);
    ew_ep_sim_get_state(&v, &vs);
    assert_int_equal(vs.now_ms, 2100);
}

static void test_battery(void **state) {
    (void)state;
    ew_ep_sim b, v, c;
    ew_ep_sim_state bs, vs;
    ew_ep_msg m;
    /* A battery at 70 % feeds a vehicle at its 5 kW. */
    mk(&b, EW_EP_SIM_BATTERY, 70);
    mk(&v, EW_EP_SIM_VEHICLE, 20);
    run(&b, &v, 0, 1000, 100);
    ew_ep_sim_get_state(&b, &bs);
    ew_ep_sim_get_state(&v, &vs);
    assert_true(bs.supplying);
    assert_true(bs.power_w == -5000);
    assert_true(vs.power_w == 5000);
    /* 10 kWh from 70 % down to 45 %: 2500 Wh, 30 min at 5 kW.  At 45 % the
     * battery turns to demand and stops supplying. */
    run(&b, &v, 1000, 3600000, 1000);
    ew_ep_sim_get_state(&b, &bs);
    ew_ep_sim_get_state(&v, &vs);
    assert_false(bs.supplying);
    assert_true(bs.demanding);
    assert_true(fabs(bs.soc_pct - 45) < 0.1);
    assert_false(bs.transfer);
    assert_false(vs.transfer);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_SUPPLY, &m), 0);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_DEMAND, &m), 1);
    assert_true(fabs(vs.soc_pct - (20 + 2500.0 / 600.0)) < 0.1);

    /* At a charger it charges at its own 5 kW, back to supply at 55 %. */
    mk(&c, EW_EP_SIM_CHARGER, -1);
    run(&b, &c, 3600000, 3602000, 100);
    ew_ep_sim_get_state(&b, &bs);
    assert_true(bs.power_w == 5000);
    run(&b, &c, 3602000, 3600000 * 3, 1000);
    ew_ep_sim_get_state(&b, &bs);
    assert_true(bs.supplying);
    assert_false(bs.transfer); /* two suppliers: nothing flows */
    assert_true(fabs(bs.soc_pct - 55) < 0.1);
    assert_int_equal(ew_ep_sim_params(&b, EW_EP_MSG_STORAGE, &m), 1);
    assert_true(m.u.storage.soc_target.value == 50);
}

static void test_battery_floor(void **state) {
    (void)state;
    ew_ep_sim b;
    ew_ep_sim_opts o;
    ew_ep_sim_opts_init(&o, EW_EP_SIM_BATTERY);
    o.soc_pct = 12;
    o.soc_target_pct = 5; /* supplies until its 10 % floor */
    o.hysteresis_pct = 1;
    assert_int_equal(ew_ep_sim_init(&b, &o, 0), EW_OK);
    ew_ep_msg d;
    memset(&d, 0, sizeof d);
    d.type = EW_EP_MSG_DEMAND;
    d.present = EW_EP_HAS(4);
    d.u.demand.power_limit = ew_ep_num_int(2000);
    for (uint64_t t = 0; t <= 7200000; t += 1000)
        ew_ep_sim_on_msg(&b, &d, t);
    ew_ep_sim_state bs;
    ew_ep_sim_get_state(&b, &bs);
    assert_true(bs.soc_pct == 10);
    assert_false(bs.transfer);
}

static void test_opts(void **state) {
    (void)state;
    ew_ep_sim s;
    ew_ep_sim_opts o;
    assert_int_equal(ew_ep_sim_init(&s, NULL, 5), EW_OK);
    assert_int_equal(ew_ep_sim_transfer(&s), 0);
    assert_int_equal(ew_ep_sim_init(NULL, NULL, 0), EW_ERR_INVAL);
    ew_ep_sim_opts_init(&o, EW_EP_SIM_VEHICLE);
    o.role = (ew_ep_sim_role)7;
    assert_int_equal(ew_ep_sim_init(&s, &o, 0), EW_ERR_INVAL);
    ew_ep_sim_opts_init(&o, EW_EP_SIM_VEHICLE);
    o.soc_pct = 101;
    assert_int_equal(ew_ep_sim_init(&s, &o, 0), EW_ERR_INVAL);
    ew_ep_sim_opts_init(&o, EW_EP_SIM_BATTERY);
    o.capacity_wh = 0;
    assert_int_equal(ew_ep_sim_init(&s, &o, 0), EW_ERR_INVAL);
    ew_ep_sim_opts_init(&o, EW_EP_SIM_CHARGER);
    o.power_max_w = NAN;
    assert_int_equal(ew_ep_sim_init(&s, &o, 0), EW_ERR_INVAL);
    ew_ep_sim_opts_init(&o, EW_EP_SIM_CHARGER);
    o.voltage_min_v = 1000;
    assert_int_equal(ew_ep_sim_init(&s, &o, 0), EW_ERR_INVAL);
    /* NULL arguments are harmless. */
    ew_ep_msg m;
    ew_ep_sim_step(NULL, 1);
    ew_ep_sim_on_msg(NULL, &m, 1);
    ew_ep_sim_peer_lost(NULL, 1);
    assert_int_equal(ew_ep_sim_params(NULL, EW_EP_MSG_SUPPLY, &m), 0);
    assert_int_equal(ew_ep_sim_transfer(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_charger_supply_fields),
        cmocka_unit_test(test_vehicle_at_charger),
        cmocka_unit_test(test_vehicle_stops_at_target),
        cmocka_unit_test(test_charger_follows_demand),
        cmocka_unit_test(test_voltage_mismatch),
        cmocka_unit_test(test_stale_peer),
        cmocka_unit_test(test_battery),
        cmocka_unit_test(test_battery_floor),
        cmocka_unit_test(test_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
