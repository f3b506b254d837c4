/*
 * E3/DC simulator plant model: configuration and logins, allocation
 * failures, energy balance and state-of-charge bounds at every step over
 * whole days in every season, PV at night, determinism (same seed and time
 * give the same state however the way there was stepped), the history
 * database (days add up to months, everything adds up to the live energy
 * counters, the database balance holds, old buckets are dropped).
 */
#include "testutil.h"

#include <energywire/sim.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unix ms of a UTC date and time (no clock or libc time zone use). */
static int64_t utc_ms(int y, unsigned m, unsigned d, unsigned hh, unsigned mm) {
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + (int64_t)doe - 719468;
    return ((days * 24 + hh) * 60 + mm) * 60000;
}

static ew_e3dc_sim *make(ew_e3dc_sim_config *cfg) {
    ew_e3dc_sim *s = NULL;
    assert_int_equal(ew_e3dc_sim_new(&s, cfg, NULL), EW_OK);
    assert_non_null(s);
    return s;
}

static void check_balance(const ew_e3dc_sim_model *m) {
    double lhs = m->pv_w + m->add_w + m->grid_w;
    double rhs = m->house_w + m->wallbox_w + m->battery_w;
    if (fabs(lhs - rhs) > 1e-6)
        fail_msg("balance broken at %lld: pv %f add %f grid %f house %f wb %f bat %f",
                 (long long)m->time_ms, m->pv_w, m->add_w, m->grid_w, m->house_w, m->wallbox_w,
                 m->battery_w);
    assert_true(m->pv_w >= 0 && m->add_w >= 0 && m->house_w >= 0 && m->wallbox_w >= 0);
    assert_true(m->soc_pct >= 0.0 && m->soc_pct <= 100.0);
    double t = 0;
    for (unsigned i = 0; i < m->ntrackers; i++) {
        assert_true(m->tracker_w[i] >= 0);
        t += m->tracker_w[i];
    }
    assert_true(fabs(t - m->pv_w) < 1e-6);
}

/* ---- configuration ------------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    assert_int_equal(c.batteries, 1);
    assert_int_equal(c.pv_trackers, 2);
    assert_int_equal(c.wallboxes, 1);
    assert_int_equal(c.history_days, 400);
    assert_int_equal(c.pm_root_index, 0);
    assert_true(c.pv_peak_w == 9500.0);
    assert_int_equal(c.start_time_ms, INT64_C(1700000000000));
    c.history_days = 2; /* keep the test fast */
    ew_e3dc_sim *s = make(&c);
    assert_int_equal(ew_e3dc_sim_time(s), INT64_C(1700000000000));
    assert_string_equal(ew_e3dc_sim_rscp_key(s), "my-rscp-key");
    ew_e3dc_sim_model m;
    ew_e3dc_sim_get_model(s, &m);
    assert_int_equal(m.time_ms, INT64_C(1700000000000));
    assert_int_equal(m.nwallboxes, 1);
    assert_int_equal(m.nswitches, 3);
    assert_int_equal(m.ntrackers, 2);
    check_balance(&m);
    ew_e3dc_sim_power_settings ps;
    ew_e3dc_sim_get_power_settings(s, &ps);
    assert_int_equal(ps.max_charge_w, 4500);
    assert_int_equal(ps.max_discharge_w, 4500);
    assert_int_equal(ps.limits_used, 0);
    ew_e3dc_sim_del(s);

    /* NULL configuration: everything default (400 days of history). */
    assert_int_equal(ew_e3dc_sim_new(&s, NULL, NULL), EW_OK);
    ew_e3dc_sim_del(s);
    ew_e3dc_sim_del(NULL);
}

static void test_logins(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 0;
    ew_e3dc_sim *s = make(&c);
    const char *u = "user@example.com", *p = "secret-portal-password";
    assert_int_equal(ew_e3dc_sim_check_login(s, u, strlen(u), p, strlen(p)), 10);
    assert_int_equal(
        ew_e3dc_sim_check_login(s, "installer@example.com", 21, "installer-password", 18), 20);
    assert_int_equal(ew_e3dc_sim_check_login(s, u, strlen(u), p, strlen(p) - 1), 0);
    assert_int_equal(ew_e3dc_sim_check_login(s, u, strlen(u) - 1, p, strlen(p)), 0);
    assert_int_equal(ew_e3dc_sim_check_login(s, u, strlen(u), "", 0), 0);
    assert_int_equal(ew_e3dc_sim_check_login(s, NULL, 0, NULL, 0), 0);
    assert_int_equal(ew_e3dc_sim_check_login(s, "installer@example.com", 21, p, strlen(p)), 0);
    ew_e3dc_sim_del(s);

    /* Own users; a password with the name's bytes does not cross over. */
    const ew_e3dc_sim_user users[] = {{"a", "b", 10}, {"root", "pw", 60}, {"x", "", 30}};
    c.users = users;
    c.nusers = 3;
    s = make(&c);
    assert_int_equal(ew_e3dc_sim_check_login(s, "root", 4, "pw", 2), 60);
    assert_int_equal(ew_e3dc_sim_check_login(s, "a", 1, "b", 1), 10);
    assert_int_equal(ew_e3dc_sim_check_login(s, "x", 1, "", 0), 30);
    assert_int_equal(ew_e3dc_sim_check_login(s, "a", 1, "pw", 2), 0);
    assert_int_equal(
        ew_e3dc_sim_check_login(s, "user@example.com", 16, "secret-portal-password", 22), 0);
    ew_e3dc_sim_del(s);
}

static void test_invalid_config(void **state) {
    (void)state;
    ew_e3dc_sim *s = (ew_e3dc_sim *)&s;
    ew_e3dc_sim_config c;
    assert_int_equal(ew_e3dc_sim_new(NULL, NULL, NULL), EW_ERR_INVAL);
#define BAD(stmt)                                                                                  \
    do {                                                                                           \
        ew_e3dc_sim_config_init(&c);                                                               \
        c.history_days = 0;                                                                        \
        stmt;                                                                                      \
        assert_int_equal(ew_e3dc_sim_new(&s, &c, NULL), EW_ERR_INVAL);                             \
        assert_null(s);                                                                            \
    } while (0)
    BAD(c.pv_trackers = 0);
    BAD(c.pv_trackers = EW_E3DC_SIM_MAX_TRACKERS + 1);
    BAD(c.pvi_phases = 2);
    BAD(c.batteries = EW_E3DC_SIM_MAX_BATTERIES + 1);
    BAD(c.wallboxes = EW_E3DC_SIM_MAX_WALLBOXES + 1);
    BAD(c.dcbs = 0);
    BAD(c.cells_series = EW_E3DC_SIM_MAX_CELLS + 1);
    BAD(c.sensors = 0);
    BAD(c.pm_root_index = 8);
    BAD({
        c.pm_root_index = 7;
        c.ext_peak_w = 1000;
    });
    BAD(c.history_days = EW_E3DC_SIM_MAX_HISTORY_DAYS + 1);
    BAD(c.pv_peak_w = -1);
    BAD(c.bat_capacity_wh = NAN);
    BAD(c.initial_soc_pct = 101);
    BAD(c.car_capacity_wh = 0);
    BAD(c.derate_fraction = 0);
    BAD(c.utc_offset_s = 15 * 3600);
    BAD(c.nusers = EW_E3DC_SIM_MAX_USERS + 1);
    BAD(c.users = NULL);
    BAD(c.nswitches = EW_E3DC_SIM_MAX_SWITCHES + 1);
    BAD(c.serial_number = "0123456789012345678901234567890123456789012345678901234567890123");
    const ew_e3dc_sim_user bad_level[] = {{"a", "b", 0}};
    BAD({
        c.users = bad_level;
        c.nusers = 1;
    });
    const ew_e3dc_sim_user no_name[] = {{NULL, "b", 10}};
    BAD({
        c.users = no_name;
        c.nusers = 1;
    });
#undef BAD
    /* An allocator without functions. */
    ew_mem mem = {NULL, NULL, NULL, NULL};
    ew_e3dc_sim_config_init(&c);
    assert_int_equal(ew_e3dc_sim_new(&s, &c, &mem), EW_ERR_INVAL);
}

/* ---- allocation failures ------------------------------------------------- */

typedef struct failmem {
    int fail_at; /* 1-based allocation that fails; 0 = none */
    int count;
    int live;
} failmem;

static void *fm_malloc(size_t n, void *user) {
    failmem *f = user;
    if (++f->count == f->fail_at)
        return NULL;
    f->live++;
    return malloc(n);
}

static void *fm_realloc(void *p, size_t n, void *user) {
    (void)user;
    return realloc(p, n);
}

static void fm_free(void *p, void *user) {
    failmem *f = user;
    if (p)
        f->live--;
    free(p);
}

static void test_failmalloc(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 1;
    for (int n = 1;; n++) {
        failmem f = {n, 0, 0};
        ew_mem mem = {fm_malloc, fm_realloc, fm_free, &f};
        ew_e3dc_sim *s = NULL;
        int rc = ew_e3dc_sim_new(&s, &c, &mem);
        if (rc == EW_OK) {
            assert_true(n > 2); /* two allocations, both checked */
            assert_int_equal(f.live, 2);
            ew_e3dc_sim_del(s);
            assert_int_equal(f.live, 0);
            break;
        }
        assert_int_equal(rc, EW_ERR_NOMEM);
        assert_null(s);
        assert_int_equal(f.live, 0);
    }
}

/* ---- balance and bounds --------------------------------------------------- */

/* Steps a whole day in |step_ms| steps and checks every step. */
static void run_day(ew_e3dc_sim_config *c, int64_t step_ms, double *soc_min, double *soc_max) {
    ew_e3dc_sim *s = make(c);
    ew_e3dc_sim_model m;
    int64_t t = c->start_time_ms;
    *soc_min = 100;
    *soc_max = 0;
    ew_e3dc_sim_get_model(s, &m);
    double wh0 = m.battery_wh, in0 = m.bat_charge_wh, out0 = m.bat_discharge_wh;
    for (int64_t k = 0; k * step_ms <= 86400000; k++) {
        assert_int_equal(ew_e3dc_sim_step(s, t + k * step_ms), EW_OK);
        ew_e3dc_sim_get_model(s, &m);
        check_balance(&m);
        /* The battery stores exactly what went in minus what came out: the
         * power was never more than a full or empty battery could take. */
        double stored = m.battery_wh - wh0;
        double flow = (m.bat_charge_wh - in0) - (m.bat_discharge_wh - out0);
        if (fabs(stored - flow) > 1e-6 * (1.0 + m.bat_charge_wh - in0))
            fail_msg("battery energy %f Wh, flows %f Wh", stored, flow);
        if (m.soc_pct >= 100.0)
            assert_true(m.battery_w <= 0);
        if (m.soc_pct <= 0.0)
            assert_true(m.battery_w >= 0);
        assert_true(m.battery_w <= m.charge_limit_w + 1e-9);
        assert_true(-m.battery_w <= m.discharge_limit_w + 1e-9);
        assert_true(m.charge_limit_w <= c->bat_max_charge_w);
        if (m.soc_pct < *soc_min)
            *soc_min = m.soc_pct;
        if (m.soc_pct > *soc_max)
            *soc_max = m.soc_pct;
        /* Export never exceeds the feed-in limit while PV is curtailed. */
        if (m.pv_derated)
            assert_true(-m.grid_w <= c->derate_fraction * c->pv_peak_w + 1e-6);
    }
    ew_e3dc_sim_del(s);
}

static void test_balance_every_step(void **state) {
    (void)state;
    static const struct {
        int y;
        unsigned m, d;
        uint64_t seed;
    } days[] = {{2024, 1, 15, 1}, {2024, 4, 20, 2}, {2024, 6, 21, 3}, {2024, 9, 7, 4}};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        ew_e3dc_sim_config c;
        ew_e3dc_sim_config_init(&c);
        c.history_days = 1;
        c.seed = days[i].seed;
        c.start_time_ms = utc_ms(days[i].y, days[i].m, days[i].d, 0, 0);
        double lo, hi;
        run_day(&c, 997, &lo, &hi);

        /* A small battery, an additional source and two wallboxes in mixed
         * mode: the SOC runs into both ends and stays inside. */
        c.bat_capacity_wh = 1500;
        c.bat_max_charge_w = 3000;
        c.bat_max_discharge_w = 2000;
        c.ext_peak_w = 2000;
        c.wallboxes = 2;
        c.batteries = 2;
        run_day(&c, 1000, &lo, &hi);
        if (days[i].m == 6) {
            assert_true(hi > 99.999);
            assert_true(lo < 0.001);
        }
    }
}

static void test_pv_zero_at_night(void **state) {
    (void)state;
    /* The 15th of every month, every 10 minutes: nothing between 22:00 and
     * 03:00 local time (CET = UTC+1), something during the day. */
    for (unsigned mo = 1; mo <= 12; mo++) {
        ew_e3dc_sim_config c;
        ew_e3dc_sim_config_init(&c);
        c.history_days = 0;
        c.ext_peak_w = 3000;
        c.seed = mo;
        c.start_time_ms = utc_ms(2024, mo, 15, 0, 0);
        ew_e3dc_sim *s = make(&c);
        ew_e3dc_sim_model m;
        double day_pv = 0, day_add = 0;
        for (int64_t k = 0; k < 144; k++) {
            int64_t t = c.start_time_ms + k * 600000;
            ew_e3dc_sim_step(s, t);
            ew_e3dc_sim_get_model(s, &m);
            int64_t local_min = ((t / 60000) + 60) % 1440;
            if (local_min >= 22 * 60 || local_min < 3 * 60) {
                assert_true(m.pv_w == 0.0);
                assert_true(m.add_w == 0.0);
                for (unsigned i = 0; i < m.ntrackers; i++)
                    assert_true(m.tracker_w[i] == 0.0);
            }
            day_pv += m.pv_w;
            day_add += m.add_w;
        }
        assert_true(day_pv > 0);
        assert_true(day_add > 0);
        ew_e3dc_sim_del(s);
    }
}

/* ---- determinism ------------------------------------------------------------ */

static void test_deterministic(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 3;
    c.start_time_ms = utc_ms(2024, 5, 4, 8, 0) + 123; /* off the second grid */
    ew_e3dc_sim *a = make(&c), *b = make(&c), *d = make(&c);
    int64_t end = c.start_time_ms + 3 * 3600000 + 456;
    /* a: one second at a time; b: one jump; d: odd pieces. */
    for (int64_t t = c.start_time_ms; t < end; t += 1000)
        ew_e3dc_sim_step(a, t);
    ew_e3dc_sim_step(a, end);
    ew_e3dc_sim_step(b, end);
    uint64_t rnd = 42;
    for (int64_t t = c.start_time_ms; t < end;) {
        t += (int64_t)(tu_rand(&rnd) % 20000);
        ew_e3dc_sim_step(d, t < end ? t : end);
    }
    ew_e3dc_sim_model ma, mb, md;
    ew_e3dc_sim_get_model(a, &ma);
    ew_e3dc_sim_get_model(b, &mb);
    ew_e3dc_sim_get_model(d, &md);
    assert_true(fabs(ma.battery_wh - mb.battery_wh) < 1e-6);
    assert_true(fabs(ma.battery_wh - md.battery_wh) < 1e-6);
    assert_true(fabs(ma.pv_wh - mb.pv_wh) < 1e-6 && fabs(ma.pv_wh - md.pv_wh) < 1e-6);
    assert_true(fabs(ma.grid_import_wh - md.grid_import_wh) < 1e-6);
    assert_true(fabs(ma.wallbox_wh - md.wallbox_wh) < 1e-6);
    assert_true(ma.pv_w == mb.pv_w && ma.house_w == md.house_w && ma.battery_w == md.battery_w);

    /* Two creations with the same configuration agree exactly. */
    ew_e3dc_sim *e = make(&c);
    ew_e3dc_sim_step(e, end);
    ew_e3dc_sim_model me;
    ew_e3dc_sim_get_model(e, &me);
    assert_memory_equal(&me, &mb, sizeof me);

    /* Another seed gives another plant. */
    c.seed = 2;
    ew_e3dc_sim *f = make(&c);
    ew_e3dc_sim_step(f, end);
    ew_e3dc_sim_model mf;
    ew_e3dc_sim_get_model(f, &mf);
    assert_true(mf.house_wh != mb.house_wh);

    /* Time does not run backwards. */
    assert_int_equal(ew_e3dc_sim_step(a, end - 1), EW_ERR_RANGE);
    assert_int_equal(ew_e3dc_sim_time(a), end);
    assert_int_equal(ew_e3dc_sim_step(a, end), EW_OK);
    ew_e3dc_sim_del(a);
    ew_e3dc_sim_del(b);
    ew_e3dc_sim_del(d);
    ew_e3dc_sim_del(e);
    ew_e3dc_sim_del(f);
}

/* ---- history --------------------------------------------------------------- */

static void check_db_balance(const ew_e3dc_sim_energy *e) {
    double in = e->pv_wh + e->add_wh + e->grid_import_wh + e->bat_discharge_wh;
    double out = e->consumption_wh + e->grid_export_wh + e->bat_charge_wh;
    assert_true(fabs(in - out) <= 1e-6 * (in > 1 ? in : 1));
    assert_true(fabs(e->consumption_wh - e->house_wh - e->wallbox_wh) <= 1e-6 * (in > 1 ? in : 1));
}

static void test_history(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.ext_peak_w = 1500;
    c.start_time_ms = utc_ms(2024, 7, 10, 13, 7);
    ew_e3dc_sim *s = make(&c); /* 400 days backfilled */

    /* Everything in the database = the energy totals of the model. */
    ew_e3dc_sim_model m;
    ew_e3dc_sim_energy all;
    ew_e3dc_sim_get_model(s, &m);
    int n = ew_e3dc_sim_history(s, 0, INT64_C(4000000000), &all);
    assert_true(n >= 400 * 96);
    assert_true(fabs(all.pv_wh - m.pv_wh) < 1e-6 * m.pv_wh);
    assert_true(fabs(all.house_wh - m.house_wh) < 1e-6 * m.house_wh);
    assert_true(fabs(all.grid_import_wh - m.grid_import_wh) < 1e-6 * m.grid_import_wh + 1e-6);
    assert_true(fabs(all.grid_export_wh - m.grid_export_wh) < 1e-6 * m.grid_export_wh + 1e-6);
    assert_true(fabs(all.bat_charge_wh - m.bat_charge_wh) < 1e-6 * m.bat_charge_wh + 1e-6);
    assert_true(fabs(all.wallbox_wh - m.wallbox_wh) < 1e-6 * m.wallbox_wh + 1e-6);
    assert_true(fabs(all.add_wh - m.add_wh) < 1e-6 * m.add_wh + 1e-6);
    assert_true(all.seconds > 400 * 86400.0);
    check_db_balance(&all);
    /* A year of plausible numbers for 9.5 kWp. */
    assert_true(all.pv_wh > 5e6 && all.pv_wh < 2e7);
    assert_true(all.house_wh > 2e6);

    /* Each month of 2024 up to June: the days add up to the month. */
    for (unsigned mo = 1; mo <= 6; mo++) {
        int64_t a = utc_ms(2024, mo, 1, 0, 0) / 1000, b = utc_ms(2024, mo + 1, 1, 0, 0) / 1000;
        ew_e3dc_sim_energy month, day, sum;
        memset(&sum, 0, sizeof sum);
        ew_e3dc_sim_history(s, a, b - a, &month);
        double soc_s = 0;
        for (int64_t t = a; t < b; t += 86400) {
            assert_int_equal(ew_e3dc_sim_history(s, t, 86400, &day), 96);
            check_db_balance(&day);
            sum.pv_wh += day.pv_wh;
            sum.consumption_wh += day.consumption_wh;
            sum.grid_import_wh += day.grid_import_wh;
            sum.grid_export_wh += day.grid_export_wh;
            sum.bat_charge_wh += day.bat_charge_wh;
            sum.bat_discharge_wh += day.bat_discharge_wh;
            sum.seconds += day.seconds;
            soc_s += day.soc_avg_pct * day.seconds;
        }
        assert_true(fabs(sum.pv_wh - month.pv_wh) <= 1e-9 * month.pv_wh);
        assert_true(fabs(sum.consumption_wh - month.consumption_wh) <= 1e-9 * month.consumption_wh);
        assert_true(fabs(sum.grid_import_wh - month.grid_import_wh) <= 1e-6);
        assert_true(fabs(sum.grid_export_wh - month.grid_export_wh) <= 1e-6);
        assert_true(fabs(sum.bat_charge_wh - month.bat_charge_wh) <= 1e-6);
        assert_true(fabs(sum.bat_discharge_wh - month.bat_discharge_wh) <= 1e-6);
        assert_true(fabs(soc_s / sum.seconds - month.soc_avg_pct) < 1e-9);
        assert_true(month.seconds == (double)(b - a));
        /* More sun in June than in January. */
        if (mo == 6) {
            ew_e3dc_sim_energy jan;
            ew_e3dc_sim_history(s, utc_ms(2024, 1, 1, 0, 0) / 1000, 31 * 86400, &jan);
            assert_true(month.pv_wh > 1.5 * jan.pv_wh);
        }
    }

    /* Live steps go into the database as they happen. */
    ew_e3dc_sim_energy before, after;
    int64_t day0 = utc_ms(2024, 7, 10, 0, 0) / 1000;
    ew_e3dc_sim_history(s, day0, 86400, &before);
    double pv0 = m.pv_wh, imp0 = m.grid_import_wh;
    ew_e3dc_sim_step(s, c.start_time_ms + 2 * 3600000 + 500);
    ew_e3dc_sim_get_model(s, &m);
    ew_e3dc_sim_history(s, day0, 86400, &after);
    assert_true(fabs((after.pv_wh - before.pv_wh) - (m.pv_wh - pv0)) < 1e-6);
    assert_true(fabs((after.grid_import_wh - before.grid_import_wh) - (m.grid_import_wh - imp0)) <
                1e-6);
    assert_true(after.pv_wh > before.pv_wh); /* July afternoon */

    /* Ranges outside the data hold nothing. */
    assert_int_equal(ew_e3dc_sim_history(s, c.start_time_ms / 1000 + 86400, 86400, &after), 0);
    assert_int_equal(ew_e3dc_sim_history(s, 0, 86400, &after), 0);
    assert_int_equal(ew_e3dc_sim_history(s, day0, 0, &after), 0);
    ew_e3dc_sim_del(s);
}

static void test_history_ring(void **state) {
    (void)state;
    ew_e3dc_sim_config c;
    ew_e3dc_sim_config_init(&c);
    c.history_days = 1;
    c.start_time_ms = utc_ms(2024, 3, 1, 0, 0);
    ew_e3dc_sim *s = make(&c);
    ew_e3dc_sim_energy e;
    int64_t t0 = c.start_time_ms / 1000;
    assert_int_equal(ew_e3dc_sim_history(s, t0 - 86400, 86400, &e), 96);
    /* Four days later only the last three days (1 + 2 spare) are kept. */
    ew_e3dc_sim_step(s, c.start_time_ms + 4 * 86400000);
    assert_int_equal(ew_e3dc_sim_history(s, t0 - 86400, 2 * 86400, &e), 0);
    assert_int_equal(ew_e3dc_sim_history(s, t0 + 86400, 3 * 86400, &e), 3 * 96);
    assert_int_equal(ew_e3dc_sim_history(s, t0, 86400, &e), 0);
    /* A jump longer than the ring clears it and keeps going. */
    ew_e3dc_sim_step(s, c.start_time_ms + 10 * 86400000 + 3600000);
    assert_int_equal(ew_e3dc_sim_history(s, t0 + 6 * 86400, 86400, &e), 0);
    assert_int_equal(ew_e3dc_sim_history(s, t0 + 7 * 86400, 86400, &e), 92);
    assert_int_equal(ew_e3dc_sim_history(s, t0 + 8 * 86400, 86400, &e), 96);
    assert_int_equal(ew_e3dc_sim_history(s, t0 + 10 * 86400, 86400, &e), 4);
    ew_e3dc_sim_del(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),           cmocka_unit_test(test_logins),
        cmocka_unit_test(test_invalid_config),     cmocka_unit_test(test_failmalloc),
        cmocka_unit_test(test_balance_every_step), cmocka_unit_test(test_pv_zero_at_night),
        cmocka_unit_test(test_deterministic),      cmocka_unit_test(test_history),
        cmocka_unit_test(test_history_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
