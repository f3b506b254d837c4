/*
 * E3/DC simulator: the RSCP request handler.
 *
 * One answer value per request value, same order (rscp.md §2.5, §11.4); the
 * answer tags and value types are those of rscp.md §9, which agree with the
 * types data/rscp_tags.csv declares (the unit tests check every answer against
 * the registry).  Where rscp.md leaves a shape open the choice is marked
 * "decision" with the section it concerns.
 */
#include "sim/e3dc_sim_int.h"

#include <energywire/rscp_tags.h>

#include <math.h>
#include <string.h>

#define RESP_BIT EW_RSCP_TAG_RESPONSE_BIT

typedef struct hctx {
    ew_e3dc_sim *s;
    ew_rscp_builder *b;
    int level;
} hctx;

/* Rounded live powers.  The grid value is derived from the rounded others so
 * that the integers the client sees balance exactly (rscp.md §9.1 signs). */
typedef struct live {
    int32_t pv, add, house, wb, wb_solar, bat, grid;
    uint8_t soc;
} live;

static int32_t round_w(double w) {
    if (w > 2e9)
        return INT32_C(2000000000);
    if (w < -2e9)
        return INT32_C(-2000000000);
    return (int32_t)lround(w);
}

static void live_of(const ew_e3dc_sim *s, live *o) {
    o->pv = round_w(s->pv_w);
    o->add = round_w(s->add_w);
    o->house = round_w(s->house_w);
    o->wb = round_w(s->wb_w);
    o->wb_solar = round_w(s->wb_solar_w);
    o->bat = round_w(s->bat_w);
    o->grid = o->house + o->wb + o->bat - o->pv - o->add;
    double soc = s->cfg.bat_capacity_wh > 0 ? 100.0 * s->bat_wh / s->cfg.bat_capacity_wh : 0.0;
    long r = lround(soc);
    o->soc = (uint8_t)(r < 0 ? 0 : r > 100 ? 100 : r);
}

/* ---- tags and errors ----------------------------------------------------- */

/* Answer tag of a request (rscp.md §4.1): request | 0x00800000, except the
 * known pairs that do not follow the rule. */
static uint32_t answer_tag(uint32_t req) {
    if (req == EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS)
        return EW_RSCP_TAG_EMS_GET_SYS_SPECS;
    /* Decision (rscp.md §9.1, §12): EMS_REQ_SYS_STATUS is answered with
     * EMS_SYS_STATUS 0x0100009E, the only tag of that name in any list
     * (req | bit would be EMS_GET_SYS_SPECS). */
    if (req == EW_RSCP_TAG_EMS_REQ_SYS_STATUS)
        return EW_RSCP_TAG_EMS_SYS_STATUS;
    /* Service namespaces 0xF0..0xFE mark answers with bit 19 (rscp.md §4.1). */
    if ((req >> 24) >= 0xF0 && (req >> 24) <= 0xFE)
        return req | 0x00080000u;
    return req | RESP_BIT;
}

/* Error code for a request the simulator does not answer (rscp.md §6):
 * NOT_AVAILABLE for requests the registry knows (a feature this plant does
 * not have), UNKNOWN_TAG for everything else. */
static uint32_t unsupported_code(uint32_t tag) {
    const ew_rscp_tag_info *t = ew_rscp_tag_by_id(tag);
    if (t && !(tag & RESP_BIT) && strstr(t->name, "_REQ_"))
        return EW_RSCP_ERR_NOT_AVAILABLE;
    return EW_RSCP_ERR_UNKNOWN_TAG;
}

static void add_err(hctx *h, uint32_t tag, uint32_t code) {
    ew_rscp_builder_add_error(h->b, tag, code);
}

static void unsupported(hctx *h, uint32_t req_tag) {
    add_err(h, answer_tag(req_tag), unsupported_code(req_tag));
}

/* ---- reading request values ----------------------------------------------- */

/*
 * Reads a number from any integer type, Bool, a Timestamp (its seconds, the
 * way DB time parameters are sent, rscp.md §9.6) or a float (rounded).  This
 * is how the alternative request types of rscp.md §11.8 are accepted.
 */
static int num(const ew_rscp_value *v, int64_t *out) {
    if (v->type == EW_RSCP_TYPE_TIMESTAMP) {
        ew_rscp_timestamp ts;
        if (ew_rscp_value_get_timestamp(v, &ts) != EW_OK)
            return EW_ERR_INVAL;
        *out = ts.seconds;
        return EW_OK;
    }
    if (ew_rscp_value_get_i64(v, out) == EW_OK)
        return EW_OK;
    uint64_t u;
    if (ew_rscp_value_get_u64(v, &u) == EW_OK) {
        *out = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
        return EW_OK;
    }
    double d;
    if (ew_rscp_value_get_double(v, &d) == EW_OK && d > -9e18 && d < 9e18) {
        *out = (int64_t)llround(d);
        return EW_OK;
    }
    return EW_ERR_INVAL;
}

/* Index carried by a per-item request (DCB, tracker, phase, sensor).
 * Decision (rscp.md §9.3/§9.4): a None request means index 0, as pye3dc
 * sends PVI_REQ_AC_MAX_APPARENTPOWER without one. */
static int item_index(const ew_rscp_value *v, int64_t *out) {
    if (v->type == EW_RSCP_TYPE_NONE) {
        *out = 0;
        return EW_OK;
    }
    return num(v, out);
}

/* First child of container |v| with |tag|; 1 found, 0 not. */
static int find_child(const ew_rscp_iter *parent, const ew_rscp_value *v, uint32_t tag,
                      ew_rscp_value *out) {
    ew_rscp_iter it;
    if (ew_rscp_iter_enter(parent, v, &it, NULL) != EW_OK)
        return 0;
    while (ew_rscp_iter_next(&it, out, NULL) > 0)
        if (out->tag == tag)
            return 1;
    return 0;
}

/* ---- small answer helpers -------------------------------------------------- */

static void add_text(hctx *h, uint32_t tag, const char *s) {
    ew_rscp_builder_add_string(h->b, tag, s);
}

static void add_f32(hctx *h, uint32_t tag, double v) {
    ew_rscp_builder_add_float32(h->b, tag, (float)v);
}

static void add_u32(hctx *h, uint32_t tag, double v) {
    double r = floor(v + 0.5);
    ew_rscp_builder_add_uint32(h->b, tag,
                               r <= 0              ? 0u
                               : r >= 4294967295.0 ? UINT32_MAX
                                                   : (uint32_t)r);
}

static void add_i32(hctx *h, uint32_t tag, double v) {
    ew_rscp_builder_add_int32(h->b, tag, round_w(v));
}

static ew_rscp_timestamp ts_of_ms(int64_t ms) {
    ew_rscp_timestamp ts;
    ts.seconds = ew_sim_floor_div(ms, 1000);
    ts.nanoseconds = (uint32_t)(ms - ts.seconds * 1000) * 1000000u;
    return ts;
}

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* A little deterministic jitter on measured quantities (voltages,
 * frequencies): smooth in time, in [-1, 1]. */
static double jitter(const ew_e3dc_sim *s, uint32_t stream) {
    int64_t k = ew_sim_floor_div(s->t_ms, 5000);
    double f = (double)(s->t_ms - k * 5000) / 5000.0;
    double a = ew_sim_noise(s, stream, k), b = ew_sim_noise(s, stream, k + 1);
    return 2.0 * (a + (b - a) * f) - 1.0;
}

/* ---- EMS scalars (rscp.md §9.1, §9.2) -------------------------------------- */

static double max_ac_w(const ew_e3dc_sim *s) {
    return s->cfg.pvi_phases == 1 ? 4600.0 : 12000.0;
}

static void answer_sys_specs(hctx *h) {
    const ew_e3dc_sim_config *c = &h->s->cfg;
    double chg = c->batteries ? c->bat_max_charge_w : 0.0;
    double dis = c->batteries ? c->bat_max_discharge_w : 0.0;
    /* The names easy-rscp lists, with E3/DC's spelling maxBatDischargPower
     * (rscp.md §9.2). */
    const struct {
        const char *name;
        double value;
    } spec[] = {
        {"hybridModeSupported", 1},
        {"installedBatteryCapacity", c->batteries ? c->bat_capacity_wh : 0.0},
        {"maxAcPower", max_ac_w(h->s)},
        {"maxBatChargePower", chg},
        {"maxBatDischargPower", dis},
        {"maxChargePower", chg},
        {"maxDischargePower", dis},
        {"maxFbcChargePower", chg},
        {"maxFbcDischargePower", dis},
        {"maxPvPower", c->pv_peak_w},
        {"maxStartChargePower", chg},
        {"maxStartDischargePower", dis},
        {"minStartChargePower", 65},
        {"minStartDischargePower", 65},
        {"recommendedMinChargeLimit", 300},
        {"recommendedMinDischargeLimit", 300},
        {"startChargeDefault", 65},
        {"startDischargeDefault", 65},
    };
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_GET_SYS_SPECS);
    for (size_t i = 0; i < sizeof spec / sizeof spec[0]; i++) {
        ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_SYS_SPEC);
        ew_rscp_builder_add_int32(h->b, EW_RSCP_TAG_EMS_SYS_SPEC_INDEX, (int32_t)i);
        add_text(h, EW_RSCP_TAG_EMS_SYS_SPEC_NAME, spec[i].name);
        add_i32(h, EW_RSCP_TAG_EMS_SYS_SPEC_VALUE_INT, spec[i].value);
        ew_rscp_builder_close(h->b);
    }
    ew_rscp_builder_close(h->b);
}

/* ---- power settings (rscp.md §9.7) ------------------------------------------ */

static void answer_get_power_settings(hctx *h) {
    const ew_e3dc_sim_power_settings *p = &h->s->ps;
    ew_rscp_builder *b = h->b;
    ew_rscp_builder_open(b, EW_RSCP_TAG_EMS_GET_POWER_SETTINGS);
    ew_rscp_builder_add_bool(b, EW_RSCP_TAG_EMS_POWER_LIMITS_USED, p->limits_used);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_EMS_MAX_CHARGE_POWER, p->max_charge_w);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_EMS_MAX_DISCHARGE_POWER, p->max_discharge_w);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_EMS_DISCHARGE_START_POWER, p->discharge_start_w);
    ew_rscp_builder_add_uchar8(b, EW_RSCP_TAG_EMS_POWERSAVE_ENABLED, (uint8_t)p->powersave);
    ew_rscp_builder_add_uchar8(b, EW_RSCP_TAG_EMS_WEATHER_REGULATED_CHARGE_ENABLED,
                               (uint8_t)p->weather_regulated);
    ew_rscp_builder_add_int32(b, EW_RSCP_TAG_EMS_WEATHER_FORECAST_MODE, p->weather_forecast_mode);
    ew_rscp_builder_close(b);
}

/* Sets a power (W) within 0..|hw|: 0 accepted, 1 accepted but clamped, -1
 * rejected (not a number or negative), the EMS_RES_* codes of §9.7. */
static int8_t set_power_value(const ew_rscp_value *v, double hw, uint32_t *dst) {
    int64_t x;
    if (num(v, &x) != EW_OK || x < 0)
        return -1;
    if ((double)x > hw) {
        *dst = (uint32_t)hw;
        return 1;
    }
    *dst = (uint32_t)x;
    return 0;
}

static int8_t set_flag(const ew_rscp_value *v, int *dst) {
    int64_t x;
    if (num(v, &x) != EW_OK || x < 0)
        return -1;
    *dst = x != 0;
    return 0;
}

static void answer_set_power_settings(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (v->type != EW_RSCP_TYPE_CONTAINER || ew_rscp_iter_enter(it, v, &ci, NULL) != EW_OK) {
        add_err(h, EW_RSCP_TAG_EMS_SET_POWER_SETTINGS, EW_RSCP_ERR_FORMAT);
        return;
    }
    double hw_chg = s->cfg.batteries ? s->cfg.bat_max_charge_w : 0.0;
    double hw_dis = s->cfg.batteries ? s->cfg.bat_max_discharge_w : 0.0;
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_SET_POWER_SETTINGS);
    while (ew_rscp_iter_next(&ci, &c, NULL) > 0) {
        int8_t r;
        switch (c.tag) {
        case EW_RSCP_TAG_EMS_POWER_LIMITS_USED:
            r = set_flag(&c, &s->ps.limits_used);
            break;
        case EW_RSCP_TAG_EMS_MAX_CHARGE_POWER:
            r = set_power_value(&c, hw_chg, &s->ps.max_charge_w);
            break;
        case EW_RSCP_TAG_EMS_MAX_DISCHARGE_POWER:
            r = set_power_value(&c, hw_dis, &s->ps.max_discharge_w);
            break;
        case EW_RSCP_TAG_EMS_DISCHARGE_START_POWER:
            r = set_power_value(&c, hw_dis, &s->ps.discharge_start_w);
            break;
        case EW_RSCP_TAG_EMS_POWERSAVE_ENABLED:
            r = set_flag(&c, &s->ps.powersave);
            break;
        case EW_RSCP_TAG_EMS_WEATHER_REGULATED_CHARGE_ENABLED:
            r = set_flag(&c, &s->ps.weather_regulated);
            break;
        case EW_RSCP_TAG_EMS_WEATHER_FORECAST_MODE: {
            int64_t x;
            int32_t res = -1;
            if (num(&c, &x) == EW_OK && x >= INT32_MIN && x <= INT32_MAX) {
                s->ps.weather_forecast_mode = (int32_t)x;
                res = 0;
            }
            /* EMS_RES_WEATHER_FORECAST_MODE is Int32 (rscp.md §9.7). */
            ew_rscp_builder_add_int32(h->b, EW_RSCP_TAG_EMS_RES_WEATHER_FORECAST_MODE, res);
            continue;
        }
        default:
            /* Decision (rscp.md §9.7): a child outside the list gets its
             * response-space tag with Error UNKNOWN_TAG. */
            add_err(h, c.tag | RESP_BIT, EW_RSCP_ERR_UNKNOWN_TAG);
            continue;
        }
        /* EMS_RES_<name> = child | 0x00800000, Char8 (rscp.md §9.7). */
        ew_rscp_builder_add_char8(h->b, c.tag | RESP_BIT, r);
    }
    ew_rscp_builder_close(h->b);
    ew_sim_changed(s);
}

/* ---- manual control (rscp.md §9.8) ------------------------------------------- */

static void answer_set_power(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    ew_rscp_value c;
    int64_t mode, value = 0;
    if (v->type != EW_RSCP_TYPE_CONTAINER ||
        !find_child(it, v, EW_RSCP_TAG_EMS_REQ_SET_POWER_MODE, &c) || num(&c, &mode) != EW_OK ||
        mode < 0 || mode > 4) {
        add_err(h, EW_RSCP_TAG_EMS_SET_POWER, EW_RSCP_ERR_FORMAT);
        return;
    }
    if (find_child(it, v, EW_RSCP_TAG_EMS_REQ_SET_POWER_VALUE, &c) && num(&c, &value) != EW_OK) {
        add_err(h, EW_RSCP_TAG_EMS_SET_POWER, EW_RSCP_ERR_FORMAT);
        return;
    }
    double hw = 0.0;
    if (mode == EW_E3DC_SIM_POWER_DISCHARGE)
        hw = s->cfg.batteries ? s->cfg.bat_max_discharge_w : 0.0;
    else if (mode >= EW_E3DC_SIM_POWER_CHARGE)
        hw = s->cfg.batteries ? s->cfg.bat_max_charge_w : 0.0;
    /* Modes 0 and 1 carry no power; others are clamped to 0..hardware. */
    double applied = mode <= EW_E3DC_SIM_POWER_IDLE ? 0.0 : clampd((double)value, 0.0, hw);
    s->sp_mode = (int)mode;
    s->sp_value_w = (int32_t)applied;
    s->sp_at_ms = s->t_ms;
    ew_sim_changed(s);
    /* Decision (rscp.md §9.8, §12): EMS_SET_POWER echoes the value now in
     * force (after clamping), Int32. */
    ew_rscp_builder_add_int32(h->b, EW_RSCP_TAG_EMS_SET_POWER, s->sp_value_w);
}

static void answer_start_manual_charge(hctx *h, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    int64_t wh;
    if (num(v, &wh) != EW_OK || wh < 0 || !s->cfg.batteries) {
        ew_rscp_builder_add_bool(h->b, EW_RSCP_TAG_EMS_START_MANUAL_CHARGE, 0);
        return;
    }
    if (wh == 0) { /* zero stops a running manual charge */
        s->mc_active = 0;
    } else {
        s->mc_active = 1;
        s->mc_target_wh = (double)wh;
        s->mc_done_wh = 0.0;
        s->mc_starts++;
        s->mc_last_start_ms = s->t_ms;
    }
    ew_sim_changed(s);
    ew_rscp_builder_add_bool(h->b, EW_RSCP_TAG_EMS_START_MANUAL_CHARGE, 1);
}

static void answer_get_manual_charge(hctx *h) {
    ew_e3dc_sim *s = h->s;
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_GET_MANUAL_CHARGE);
    ew_rscp_builder_add_bool(h->b, EW_RSCP_TAG_EMS_MANUAL_CHARGE_ACTIVE, s->mc_active);
    /* Decision (rscp.md §9.8): START_COUNTER counts the manual charges
     * started, ENERGY_COUNTER is the energy of the current or last one. */
    ew_rscp_builder_add_int64(h->b, EW_RSCP_TAG_EMS_MANUAL_CHARGE_START_COUNTER, s->mc_starts);
    ew_rscp_builder_add_double64(h->b, EW_RSCP_TAG_EMS_MANUAL_CHARGE_ENERGY_COUNTER, s->mc_done_wh);
    ew_rscp_builder_add_timestamp(h->b, EW_RSCP_TAG_EMS_MANUAL_CHARGE_LASTSTART,
                                  ts_of_ms(s->mc_starts ? s->mc_last_start_ms : 0));
    ew_rscp_builder_close(h->b);
}

static void add_hm(hctx *h, uint32_t tag, uint8_t hh, uint8_t mm) {
    ew_rscp_builder_open(h->b, tag);
    ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_HOUR, hh);
    ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_MINUTE, mm);
    ew_rscp_builder_close(h->b);
}

static void answer_get_idle_periods(hctx *h) {
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_GET_IDLE_PERIODS);
    for (int ty = 0; ty < 2; ty++)
        for (int d = 0; d < 7; d++) {
            const ew_sim_idle *p = &h->s->idle[ty][d];
            ew_rscp_builder_open(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD);
            ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_TYPE, (uint8_t)ty);
            ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_DAY, (uint8_t)d);
            ew_rscp_builder_add_bool(h->b, EW_RSCP_TAG_EMS_IDLE_PERIOD_ACTIVE, p->active);
            add_hm(h, EW_RSCP_TAG_EMS_IDLE_PERIOD_START, p->start_h, p->start_m);
            add_hm(h, EW_RSCP_TAG_EMS_IDLE_PERIOD_END, p->end_h, p->end_m);
            ew_rscp_builder_close(h->b);
        }
    ew_rscp_builder_close(h->b);
}

/* Reads {HOUR, MINUTE}; missing parts keep their value. */
static int read_hm(const ew_rscp_iter *parent, const ew_rscp_value *v, uint8_t *hh, uint8_t *mm) {
    ew_rscp_value c;
    int64_t x;
    if (v->type != EW_RSCP_TYPE_CONTAINER)
        return 0;
    if (find_child(parent, v, EW_RSCP_TAG_EMS_IDLE_PERIOD_HOUR, &c)) {
        if (num(&c, &x) != EW_OK || x < 0 || x > 23)
            return 0;
        *hh = (uint8_t)x;
    }
    if (find_child(parent, v, EW_RSCP_TAG_EMS_IDLE_PERIOD_MINUTE, &c)) {
        if (num(&c, &x) != EW_OK || x < 0 || x > 59)
            return 0;
        *mm = (uint8_t)x;
    }
    return 1;
}

/*
 * Decision (rscp.md §9.8): every EMS_IDLE_PERIOD must name TYPE (0/1) and
 * DAY (0 = Monday .. 6); ACTIVE, START and END are optional and keep their
 * value when left out.  The set is applied only when every period is valid
 * (answer 1), otherwise nothing changes (answer 0).
 */
static void answer_set_idle_periods(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    ew_rscp_iter ci, pi;
    ew_rscp_value p, c;
    ew_sim_idle next[2][7];
    int ok = 1;
    if (v->type != EW_RSCP_TYPE_CONTAINER || ew_rscp_iter_enter(it, v, &ci, NULL) != EW_OK) {
        add_err(h, EW_RSCP_TAG_EMS_SET_IDLE_PERIODS, EW_RSCP_ERR_FORMAT);
        return;
    }
    memcpy(next, s->idle, sizeof next);
    while (ok && ew_rscp_iter_next(&ci, &p, NULL) > 0) {
        int64_t ty = -1, day = -1, x = 0;
        if (p.tag != EW_RSCP_TAG_EMS_IDLE_PERIOD || p.type != EW_RSCP_TYPE_CONTAINER ||
            ew_rscp_iter_enter(&ci, &p, &pi, NULL) != EW_OK) {
            ok = 0;
            break;
        }
        if (find_child(&ci, &p, EW_RSCP_TAG_EMS_IDLE_PERIOD_TYPE, &c))
            num(&c, &ty);
        if (find_child(&ci, &p, EW_RSCP_TAG_EMS_IDLE_PERIOD_DAY, &c))
            num(&c, &day);
        if (ty < 0 || ty > 1 || day < 0 || day > 6) {
            ok = 0;
            break;
        }
        ew_sim_idle *dst = &next[ty][day];
        while (ew_rscp_iter_next(&pi, &c, NULL) > 0) {
            if (c.tag == EW_RSCP_TAG_EMS_IDLE_PERIOD_ACTIVE) {
                if (num(&c, &x) != EW_OK)
                    ok = 0;
                dst->active = x != 0;
            } else if (c.tag == EW_RSCP_TAG_EMS_IDLE_PERIOD_START) {
                ok &= read_hm(&pi, &c, &dst->start_h, &dst->start_m);
            } else if (c.tag == EW_RSCP_TAG_EMS_IDLE_PERIOD_END) {
                ok &= read_hm(&pi, &c, &dst->end_h, &dst->end_m);
            }
        }
    }
    if (ok) {
        memcpy(s->idle, next, sizeof next);
        ew_sim_changed(s);
    }
    ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_EMS_SET_IDLE_PERIODS, ok ? 1 : 0);
}

/* SET_BATTERY_TO_CAR_MODE and SET_BATTERY_BEFORE_CAR_MODE: UChar8 echoed
 * (pye3dc compares the answer with what it sent, rscp.md §9.8). */
static void answer_set_mode(hctx *h, const ew_rscp_value *v, uint32_t ans, int *dst) {
    int64_t x;
    if (num(v, &x) != EW_OK || x < 0 || x > 255) {
        add_err(h, ans, EW_RSCP_ERR_FORMAT);
        return;
    }
    *dst = (int)x;
    ew_sim_changed(h->s);
    ew_rscp_builder_add_uchar8(h->b, ans, (uint8_t)x);
}

/* ---- battery (rscp.md §9.3) ---------------------------------------------------- */

typedef struct batv {
    double voltage, current, v_nom, cap_ah, soh, fcc, rc, soc;
    double tmin, tmax, vmin, vmax;
} batv;

static double dcb_soh(const ew_e3dc_sim *s, unsigned bat, unsigned dcb) {
    return 94.0 + 4.0 * ew_sim_noise(s, 210, ((int64_t)bat << 16) | dcb);
}

static void bat_values(const ew_e3dc_sim *s, unsigned bat, batv *o) {
    const ew_e3dc_sim_config *c = &s->cfg;
    double n = (double)c->batteries;
    o->v_nom = (double)(c->dcbs * c->cells_series) * 3.7;
    o->voltage = 0.0;
    o->vmin = 1e9;
    o->vmax = -1e9;
    o->soh = 0.0;
    for (unsigned d = 0; d < c->dcbs; d++) {
        o->soh += dcb_soh(s, bat, d) / (double)c->dcbs;
        for (unsigned k = 0; k < c->cells_series; k++) {
            double cv = ew_sim_cell_voltage(s, bat, d, k);
            o->voltage += cv;
            o->vmin = cv < o->vmin ? cv : o->vmin;
            o->vmax = cv > o->vmax ? cv : o->vmax;
        }
    }
    o->tmin = 1e9;
    o->tmax = -1e9;
    for (unsigned d = 0; d < c->dcbs; d++)
        for (unsigned k = 0; k < c->sensors; k++) {
            double t = ew_sim_cell_temp_c(s, bat, d, k);
            o->tmin = t < o->tmin ? t : o->tmin;
            o->tmax = t > o->tmax ? t : o->tmax;
        }
    o->current = o->voltage > 0 ? s->bat_w / n / o->voltage : 0.0;
    o->cap_ah = c->bat_capacity_wh / n / o->v_nom;
    o->soc = c->bat_capacity_wh > 0 ? 100.0 * s->bat_wh / c->bat_capacity_wh : 0.0;
    o->fcc = o->cap_ah * o->soh / 100.0;
    o->rc = o->fcc * o->soc / 100.0;
}

static void add_device_state(hctx *h, uint32_t tag, uint32_t connected, uint32_t working,
                             uint32_t in_service) {
    ew_rscp_builder_open(h->b, tag);
    ew_rscp_builder_add_bool(h->b, connected, 1);
    ew_rscp_builder_add_bool(h->b, working, 1);
    ew_rscp_builder_add_bool(h->b, in_service, 0);
    ew_rscp_builder_close(h->b);
}

static void answer_dcb_info(hctx *h, unsigned bat, unsigned d, const batv *bv) {
    const ew_e3dc_sim *s = h->s;
    const ew_e3dc_sim_config *c = &s->cfg;
    ew_rscp_builder *b = h->b;
    double series = (double)c->cells_series, v = 0.0;
    for (unsigned k = 0; k < c->cells_series; k++)
        v += ew_sim_cell_voltage(s, bat, d, k);
    double soh = dcb_soh(s, bat, d);
    double fcc = bv->cap_ah * soh / 100.0;
    double n = (double)c->batteries;
    uint32_t serial = (uint32_t)(100000 + 1000 * bat + d);
    char code[EW_SIM_TEXT];
    size_t sl = strlen(s->serial);
    /* Serial code: "DCB" + the system serial's digits + bat + dcb (bounded). */
    memcpy(code, "DCB-", 4);
    size_t o = 4;
    for (size_t i = 0; i < sl && o < 40; i++)
        if (s->serial[i] >= '0' && s->serial[i] <= '9')
            code[o++] = s->serial[i];
    code[o++] = '-';
    code[o++] = (char)('0' + bat % 10);
    code[o++] = (char)('A' + d % 26);
    code[o] = 0;

    ew_rscp_builder_open(b, EW_RSCP_TAG_BAT_DCB_INFO);
    ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_BAT_DCB_INDEX, (uint16_t)d);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_MAX_CHARGE_VOLTAGE, series * 4.2);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_MAX_CHARGE_CURRENT, c->bat_max_charge_w / n / bv->v_nom);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_END_OF_DISCHARGE, series * 3.0);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_MAX_DISCHARGE_CURRENT, c->bat_max_discharge_w / n / bv->v_nom);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_FULL_CHARGE_CAPACITY, fcc);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_REMAINING_CAPACITY, fcc * bv->soc / 100.0);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_SOC, bv->soc);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_SOH, soh);
    add_u32(h, EW_RSCP_TAG_BAT_DCB_CYCLE_COUNT,
            c->bat_capacity_wh > 0 ? floor(s->bat_out_wh / c->bat_capacity_wh) : 0);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_CURRENT, bv->current);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_VOLTAGE, v);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_CURRENT_AVG_30S, bv->current);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_VOLTAGE_AVG_30S, v);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_DESIGN_CAPACITY, bv->cap_ah);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_DESIGN_VOLTAGE, series * 3.7);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_CHARGE_LOW_TEMPERATURE, 0.0);
    add_f32(h, EW_RSCP_TAG_BAT_DCB_CHARGE_HIGH_TEMPERATURE, 45.0);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_MANUFACTURE_DATE, 1653955200u);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_SERIALNO, serial);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_PROTOCOL_VERSION, 2);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_FW_VERSION, 0x0205);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_DATA_TABLE_VERSION, 1);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_PCB_VERSION, 3);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_NR_SERIES_CELL, c->cells_series);
    ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_BAT_DCB_NR_PARALLEL_CELL, 4);
    add_text(h, EW_RSCP_TAG_BAT_DCB_MANUFACTURE_NAME, "energywire sim");
    add_text(h, EW_RSCP_TAG_BAT_DCB_DEVICE_NAME, "SIM-DCB");
    add_text(h, EW_RSCP_TAG_BAT_DCB_SERIALCODE, code);
    ew_rscp_builder_add_uchar8(b, EW_RSCP_TAG_BAT_DCB_NR_SENSOR, (uint8_t)c->sensors);
    ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_BAT_DCB_STATUS, 0);
    ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_BAT_DCB_WARNING, 0);
    ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_BAT_DCB_ALARM, 0);
    ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_BAT_DCB_ERROR, 0);
    ew_rscp_builder_add_uint64(b, EW_RSCP_TAG_BAT_DCB_LAST_MESSAGE_TIMESTAMP,
                               (uint64_t)(s->t_ms > 0 ? s->t_ms : 0));
    ew_rscp_builder_close(b);
}

/* BAT_DCB_ALL_CELL_TEMPERATURES / _VOLTAGES: {BAT_DCB_INDEX, BAT_DATA{n x
 * value}} (rscp.md §9.3; pye3dc reads the inner BAT_DATA by position). */
static void answer_dcb_cells(hctx *h, unsigned bat, unsigned d, int temps) {
    const ew_e3dc_sim_config *c = &h->s->cfg;
    uint32_t outer =
        temps ? EW_RSCP_TAG_BAT_DCB_ALL_CELL_TEMPERATURES : EW_RSCP_TAG_BAT_DCB_ALL_CELL_VOLTAGES;
    unsigned n = temps ? c->sensors : c->cells_series;
    ew_rscp_builder_open(h->b, outer);
    ew_rscp_builder_add_uint16(h->b, EW_RSCP_TAG_BAT_DCB_INDEX, (uint16_t)d);
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_BAT_DATA);
    for (unsigned k = 0; k < n; k++) {
        if (temps)
            add_f32(h, EW_RSCP_TAG_BAT_DCB_CELL_TEMPERATURE, ew_sim_cell_temp_c(h->s, bat, d, k));
        else
            add_f32(h, EW_RSCP_TAG_BAT_DCB_CELL_VOLTAGE, ew_sim_cell_voltage(h->s, bat, d, k));
    }
    ew_rscp_builder_close(h->b);
    ew_rscp_builder_close(h->b);
}

static void answer_bat_item(hctx *h, unsigned bat, const batv *bv, const ew_rscp_value *c) {
    const ew_e3dc_sim *s = h->s;
    const ew_e3dc_sim_config *cf = &s->cfg;
    ew_rscp_builder *b = h->b;
    uint32_t ans = c->tag | RESP_BIT;
    double n = (double)cf->batteries;
    switch (c->tag) {
    case EW_RSCP_TAG_BAT_REQ_RSOC:
    case EW_RSCP_TAG_BAT_REQ_RSOC_REAL:
        add_f32(h, ans, bv->soc);
        break;
    case EW_RSCP_TAG_BAT_REQ_ASOC:
        add_f32(h, ans, bv->soh);
        break;
    case EW_RSCP_TAG_BAT_REQ_MODULE_VOLTAGE:
        add_f32(h, ans, bv->voltage);
        break;
    case EW_RSCP_TAG_BAT_REQ_TERMINAL_VOLTAGE:
        add_f32(h, ans, bv->voltage - 0.002 * fabs(bv->current));
        break;
    case EW_RSCP_TAG_BAT_REQ_CURRENT:
        add_f32(h, ans, bv->current);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_BAT_VOLTAGE:
        add_f32(h, ans, (double)(cf->dcbs * cf->cells_series) * 4.2);
        break;
    case EW_RSCP_TAG_BAT_REQ_EOD_VOLTAGE:
        add_f32(h, ans, (double)(cf->dcbs * cf->cells_series) * 3.0);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_CHARGE_CURRENT:
        add_f32(h, ans, cf->bat_max_charge_w / n / bv->v_nom);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_DISCHARGE_CURRENT:
        add_f32(h, ans, cf->bat_max_discharge_w / n / bv->v_nom);
        break;
    case EW_RSCP_TAG_BAT_REQ_CHARGE_CYCLES:
        add_u32(h, ans, cf->bat_capacity_wh > 0 ? floor(s->bat_out_wh / cf->bat_capacity_wh) : 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_STATUS_CODE:
    case EW_RSCP_TAG_BAT_REQ_ERROR_CODE:
        /* UInt32, not the documented Bitfield (rscp.md §9.3). */
        ew_rscp_builder_add_uint32(b, ans, 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_DEVICE_NAME:
        add_text(h, ans, "SIM-BAT");
        break;
    case EW_RSCP_TAG_BAT_REQ_MANUFACTURER_NAME:
        add_text(h, ans, "energywire sim");
        break;
    case EW_RSCP_TAG_BAT_REQ_DCB_COUNT:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)cf->dcbs);
        break;
    case EW_RSCP_TAG_BAT_REQ_FCC:
    case EW_RSCP_TAG_BAT_REQ_USABLE_CAPACITY:
        add_f32(h, ans, bv->fcc);
        break;
    case EW_RSCP_TAG_BAT_REQ_RC:
    case EW_RSCP_TAG_BAT_REQ_USABLE_REMAINING_CAPACITY:
        add_f32(h, ans, bv->rc);
        break;
    case EW_RSCP_TAG_BAT_REQ_DESIGN_CAPACITY:
        add_f32(h, ans, bv->cap_ah);
        break;
    case EW_RSCP_TAG_BAT_REQ_DESIGN_VOLTAGE:
        add_f32(h, ans, bv->v_nom);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_TEMPERATURE:
        add_f32(h, ans, bv->tmax);
        break;
    case EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_TEMPERATURE:
        add_f32(h, ans, bv->tmin);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_VOLTAGE:
        add_f32(h, ans, bv->vmax);
        break;
    case EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_VOLTAGE:
        add_f32(h, ans, bv->vmin);
        break;
    case EW_RSCP_TAG_BAT_REQ_MAX_DCB_CELL_CURRENT:
    case EW_RSCP_TAG_BAT_REQ_MIN_DCB_CELL_CURRENT:
        add_f32(h, ans, bv->current); /* DCBs in series carry the same current */
        break;
    case EW_RSCP_TAG_BAT_REQ_CHARGE_HIGH_TEMP:
        add_f32(h, ans, 45.0);
        break;
    case EW_RSCP_TAG_BAT_REQ_CHARGE_LOW_TEMP:
        ew_rscp_builder_add_int32(b, ans, 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_READY_FOR_SHUTDOWN:
        ew_rscp_builder_add_bool(b, ans, 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_TRAINING_MODE:
        ew_rscp_builder_add_uchar8(b, ans, 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_FIRMWARE_VERSION:
        ew_rscp_builder_add_uint16(b, ans, 0x0312);
        break;
    case EW_RSCP_TAG_BAT_REQ_UPDATE_STATUS:
        ew_rscp_builder_add_uint16(b, ans, 0);
        break;
    case EW_RSCP_TAG_BAT_REQ_TIME_LAST_RESPONSE:
        ew_rscp_builder_add_uint64(b, ans, (uint64_t)(s->t_ms > 0 ? s->t_ms : 0));
        break;
    case EW_RSCP_TAG_BAT_REQ_TOTAL_USE_TIME:
        /* Decision (rscp.md §9.3): seconds since the simulated installation
         * (the start of the history). */
        add_i32(h, ans, (double)(s->t_ms - s->install_ms) / 1000.0);
        break;
    case EW_RSCP_TAG_BAT_REQ_TOTAL_DISCHARGE_TIME:
        add_i32(h, ans, s->bat_discharge_s);
        break;
    case EW_RSCP_TAG_BAT_REQ_DEVICE_STATE:
        add_device_state(h, EW_RSCP_TAG_BAT_DEVICE_STATE, EW_RSCP_TAG_BAT_DEVICE_CONNECTED,
                         EW_RSCP_TAG_BAT_DEVICE_WORKING, EW_RSCP_TAG_BAT_DEVICE_IN_SERVICE);
        break;
    case EW_RSCP_TAG_BAT_REQ_INTERNALS: {
        /* Decision (rscp.md §9.3): BAT_INTERNALS holds the BAT_INTERNAL_*
         * Double64 values (A, V). */
        double mcc = cf->bat_max_charge_w / n / bv->v_nom;
        double mdc = cf->bat_max_discharge_w / n / bv->v_nom;
        ew_rscp_builder_open(b, EW_RSCP_TAG_BAT_INTERNALS);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_CURRENT_AVG30, bv->current);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MTV_AVG30, bv->voltage);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_CHARGE_CURRENT, mcc);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_DISCHARGE_CURRENT, mdc);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_CHARGE_CURR_PER_DCB, mcc);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_DISCHARGE_CURR_PER_DCB, mdc);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_CHARGE_CURR_DATA_LOG, mcc);
        ew_rscp_builder_add_double64(b, EW_RSCP_TAG_BAT_INTERNAL_MAX_DISCHARGE_CURR_DATA_LOG, mdc);
        ew_rscp_builder_close(b);
        break;
    }
    case EW_RSCP_TAG_BAT_REQ_DCB_INFO:
    case EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_TEMPERATURES:
    case EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_VOLTAGES: {
        int64_t d;
        /* Any integer type carries the DCB index (rscp.md §9.3, §11.8). */
        if (item_index(c, &d) != EW_OK) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        if (d < 0 || d >= (int64_t)cf->dcbs) {
            add_err(h, ans, EW_RSCP_ERR_NOT_AVAILABLE);
            break;
        }
        if (c->tag == EW_RSCP_TAG_BAT_REQ_DCB_INFO)
            answer_dcb_info(h, bat, (unsigned)d, bv);
        else
            answer_dcb_cells(h, bat, (unsigned)d,
                             c->tag == EW_RSCP_TAG_BAT_REQ_DCB_ALL_CELL_TEMPERATURES);
        break;
    }
    default:
        unsupported(h, c->tag);
        break;
    }
}

static int read_index(const ew_rscp_iter *it, const ew_rscp_value *v, uint32_t index_tag,
                      int64_t *idx) {
    ew_rscp_value c;
    if (v->type != EW_RSCP_TYPE_CONTAINER || !find_child(it, v, index_tag, &c))
        return EW_ERR_INVAL;
    return num(&c, idx);
}

static void answer_bat(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    int64_t idx;
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (read_index(it, v, EW_RSCP_TAG_BAT_INDEX, &idx) != EW_OK) {
        add_err(h, EW_RSCP_TAG_BAT_DATA, EW_RSCP_ERR_FORMAT);
        return;
    }
    /* Absent battery: top-level BAT_DATA with Error 6 (rscp.md §6, §11.7). */
    if (idx < 0 || idx >= (int64_t)h->s->cfg.batteries) {
        add_err(h, EW_RSCP_TAG_BAT_DATA, EW_RSCP_ERR_NOT_AVAILABLE);
        return;
    }
    batv bv;
    bat_values(h->s, (unsigned)idx, &bv);
    ew_rscp_iter_enter(it, v, &ci, NULL);
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_BAT_DATA);
    ew_rscp_builder_add_uint16(h->b, EW_RSCP_TAG_BAT_INDEX, (uint16_t)idx);
    while (ew_rscp_iter_next(&ci, &c, NULL) > 0)
        if (c.tag != EW_RSCP_TAG_BAT_INDEX)
            answer_bat_item(h, (unsigned)idx, &bv, &c);
    ew_rscp_builder_close(h->b);
}

/* ---- PV inverter (rscp.md §9.4) ----------------------------------------------- */

static double tracker_voltage(const ew_e3dc_sim *s, unsigned i) {
    double pmax = s->cfg.pv_peak_w / (double)s->cfg.pv_trackers;
    double p = s->tracker_w[i];
    if (p <= 0.5 || pmax <= 0)
        return 0.0;
    return 300.0 + 250.0 * pow(clampd(p / pmax, 0.0, 1.0), 0.2) + 3.0 * jitter(s, 310 + i);
}

static double inverter_temp(const ew_e3dc_sim *s, unsigned sensor) {
    double load = s->cfg.pv_peak_w > 0 ? s->pv_w / s->cfg.pv_peak_w : 0.0;
    return 24.0 + 18.0 * load + 2.0 * (double)sensor + 0.5 * jitter(s, 320 + sensor);
}

#define PVI_TEMP_SENSORS 2

/* Per-item answer {PVI_INDEX = item, PVI_VALUE Float32} (rscp.md §9.4). */
static void add_pvi_value(hctx *h, uint32_t tag, int64_t index, double value) {
    ew_rscp_builder_open(h->b, tag);
    ew_rscp_builder_add_uint16(h->b, EW_RSCP_TAG_PVI_INDEX, (uint16_t)index);
    add_f32(h, EW_RSCP_TAG_PVI_VALUE, value);
    ew_rscp_builder_close(h->b);
}

static void answer_pvi_item(hctx *h, const ew_rscp_value *c) {
    const ew_e3dc_sim *s = h->s;
    const ew_e3dc_sim_config *cf = &s->cfg;
    ew_rscp_builder *b = h->b;
    uint32_t ans = c->tag | RESP_BIT;
    int64_t k = 0;
    unsigned phases = cf->pvi_phases, trackers = cf->pv_trackers;
    switch (c->tag) {
    case EW_RSCP_TAG_PVI_REQ_DC_POWER:
    case EW_RSCP_TAG_PVI_REQ_DC_VOLTAGE:
    case EW_RSCP_TAG_PVI_REQ_DC_CURRENT:
    case EW_RSCP_TAG_PVI_REQ_DC_MAX_POWER:
    case EW_RSCP_TAG_PVI_REQ_DC_MAX_VOLTAGE:
    case EW_RSCP_TAG_PVI_REQ_DC_MIN_VOLTAGE:
    case EW_RSCP_TAG_PVI_REQ_DC_MAX_CURRENT:
    case EW_RSCP_TAG_PVI_REQ_DC_MIN_CURRENT:
    case EW_RSCP_TAG_PVI_REQ_DC_STRING_ENERGY_ALL: {
        if (item_index(c, &k) != EW_OK) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        if (k < 0 || k >= (int64_t)trackers) {
            add_err(h, ans, EW_RSCP_ERR_NOT_AVAILABLE);
            break;
        }
        unsigned i = (unsigned)k;
        double v = tracker_voltage(s, i), p = s->tracker_w[i], val;
        switch (c->tag) {
        case EW_RSCP_TAG_PVI_REQ_DC_POWER:
            val = p;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_VOLTAGE:
            val = v;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_CURRENT:
            val = v > 0 ? p / v : 0.0;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_MAX_POWER:
            val = cf->pv_peak_w / (double)trackers;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_MAX_VOLTAGE:
            val = 1000.0;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_MIN_VOLTAGE:
            val = 160.0;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_MAX_CURRENT:
            val = 12.5;
            break;
        case EW_RSCP_TAG_PVI_REQ_DC_MIN_CURRENT:
            val = 0.0;
            break;
        default:
            val = s->tracker_wh[i];
            break;
        }
        add_pvi_value(h, ans, k, val);
        break;
    }
    case EW_RSCP_TAG_PVI_REQ_AC_POWER:
    case EW_RSCP_TAG_PVI_REQ_AC_VOLTAGE:
    case EW_RSCP_TAG_PVI_REQ_AC_CURRENT:
    case EW_RSCP_TAG_PVI_REQ_AC_APPARENTPOWER:
    case EW_RSCP_TAG_PVI_REQ_AC_REACTIVEPOWER:
    case EW_RSCP_TAG_PVI_REQ_AC_ENERGY_ALL:
    case EW_RSCP_TAG_PVI_REQ_AC_ENERGY_GRID_CONSUMPTION:
    case EW_RSCP_TAG_PVI_REQ_AC_MAX_APPARENTPOWER:
    case EW_RSCP_TAG_PVI_REQ_AC_FREQUENCY: {
        if (item_index(c, &k) != EW_OK) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        if (k < 0 || k >= (int64_t)phases) {
            add_err(h, ans, EW_RSCP_ERR_NOT_AVAILABLE);
            break;
        }
        double grid_l[3], inv_l[3], add_l[3], val;
        ew_sim_phase_powers(s, grid_l, inv_l, add_l);
        double p = inv_l[k];
        double volt = EW_SIM_PHASE_V + 2.0 * jitter(s, 330 + (uint32_t)k);
        switch (c->tag) {
        case EW_RSCP_TAG_PVI_REQ_AC_POWER:
            val = p;
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_VOLTAGE:
            val = volt;
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_CURRENT:
            val = fabs(p) / volt;
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_APPARENTPOWER:
            val = fabs(p) * 1.002;
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_REACTIVEPOWER:
            val = fabs(p) * 0.06;
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_ENERGY_ALL:
            val = s->pvi_ac_wh[k];
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_ENERGY_GRID_CONSUMPTION:
            val = s->pvi_ac_grid_wh[k];
            break;
        case EW_RSCP_TAG_PVI_REQ_AC_MAX_APPARENTPOWER:
            val = max_ac_w(s) / (double)phases;
            break;
        default:
            val = 50.0 + 0.02 * jitter(s, 340);
            break;
        }
        add_pvi_value(h, ans, k, val);
        break;
    }
    case EW_RSCP_TAG_PVI_REQ_TEMPERATURE:
        if (item_index(c, &k) != EW_OK)
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
        else if (k < 0 || k >= PVI_TEMP_SENSORS)
            add_err(h, ans, EW_RSCP_ERR_NOT_AVAILABLE);
        else
            add_pvi_value(h, ans, k, inverter_temp(s, (unsigned)k));
        break;
    case EW_RSCP_TAG_PVI_REQ_MAX_TEMPERATURE:
        /* Float32 as every tag list says (rscp.md §9.4: pye3dc's container
         * reading then reports null). */
        add_f32(h, ans, inverter_temp(s, PVI_TEMP_SENSORS - 1));
        break;
    case EW_RSCP_TAG_PVI_REQ_MIN_TEMPERATURE:
        add_f32(h, ans, inverter_temp(s, 0));
        break;
    case EW_RSCP_TAG_PVI_REQ_TEMPERATURE_COUNT:
        ew_rscp_builder_add_uchar8(b, ans, PVI_TEMP_SENSORS);
        break;
    case EW_RSCP_TAG_PVI_REQ_AC_MAX_PHASE_COUNT:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)phases);
        break;
    case EW_RSCP_TAG_PVI_REQ_DC_MAX_STRING_COUNT:
    case EW_RSCP_TAG_PVI_REQ_USED_STRING_COUNT:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)trackers);
        break;
    case EW_RSCP_TAG_PVI_REQ_TYPE:
        /* pye3dc's names: 3 E3DC_E, 4 E3DC_MINI (rscp.md §9.4). */
        ew_rscp_builder_add_uchar8(b, ans, phases == 1 ? 4 : 3);
        break;
    case EW_RSCP_TAG_PVI_REQ_SERIAL_NUMBER:
        add_text(h, ans, "PVI-SIM-0001");
        break;
    case EW_RSCP_TAG_PVI_REQ_VERSION:
        ew_rscp_builder_open(b, EW_RSCP_TAG_PVI_VERSION);
        add_text(h, EW_RSCP_TAG_PVI_VERSION_MAIN, "1.2.3");
        add_text(h, EW_RSCP_TAG_PVI_VERSION_PIC, "0.9");
        ew_rscp_builder_close(b);
        break;
    case EW_RSCP_TAG_PVI_REQ_ON_GRID:
        ew_rscp_builder_add_bool(b, ans, 1);
        break;
    case EW_RSCP_TAG_PVI_REQ_STATE:
        add_text(h, ans, s->pv_w > 0 ? "RUNNING" : "STANDBY");
        break;
    case EW_RSCP_TAG_PVI_REQ_LAST_ERROR:
        add_text(h, ans, "");
        break;
    case EW_RSCP_TAG_PVI_REQ_COS_PHI:
        ew_rscp_builder_open(b, EW_RSCP_TAG_PVI_COS_PHI);
        add_f32(h, EW_RSCP_TAG_PVI_COS_PHI_VALUE, 1.0);
        ew_rscp_builder_add_bool(b, EW_RSCP_TAG_PVI_COS_PHI_IS_AKTIV, 0);
        ew_rscp_builder_add_uchar8(b, EW_RSCP_TAG_PVI_COS_PHI_EXCITED, 0);
        ew_rscp_builder_close(b);
        break;
    case EW_RSCP_TAG_PVI_REQ_VOLTAGE_MONITORING:
        ew_rscp_builder_open(b, EW_RSCP_TAG_PVI_VOLTAGE_MONITORING);
        add_f32(h, EW_RSCP_TAG_PVI_VOLTAGE_MONITORING_THRESHOLD_TOP, 253.0);
        add_f32(h, EW_RSCP_TAG_PVI_VOLTAGE_MONITORING_THRESHOLD_BOTTOM, 195.5);
        add_f32(h, EW_RSCP_TAG_PVI_VOLTAGE_MONITORING_SLOPE_UP, 0.1);
        add_f32(h, EW_RSCP_TAG_PVI_VOLTAGE_MONITORING_SLOPE_DOWN, 0.1);
        ew_rscp_builder_close(b);
        break;
    case EW_RSCP_TAG_PVI_REQ_FREQUENCY_UNDER_OVER:
        ew_rscp_builder_open(b, EW_RSCP_TAG_PVI_FREQUENCY_UNDER_OVER);
        add_f32(h, EW_RSCP_TAG_PVI_FREQUENCY_UNDER, 47.5);
        add_f32(h, EW_RSCP_TAG_PVI_FREQUENCY_OVER, 51.5);
        ew_rscp_builder_close(b);
        break;
    case EW_RSCP_TAG_PVI_REQ_POWER_MODE:
    case EW_RSCP_TAG_PVI_REQ_SYSTEM_MODE:
        ew_rscp_builder_add_uchar8(b, ans, 1);
        break;
    case EW_RSCP_TAG_PVI_REQ_DEVICE_STATE:
        add_device_state(h, EW_RSCP_TAG_PVI_DEVICE_STATE, EW_RSCP_TAG_PVI_DEVICE_CONNECTED,
                         EW_RSCP_TAG_PVI_DEVICE_WORKING, EW_RSCP_TAG_PVI_DEVICE_IN_SERVICE);
        break;
    default:
        unsupported(h, c->tag);
        break;
    }
}

static void answer_pvi(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    int64_t idx;
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (read_index(it, v, EW_RSCP_TAG_PVI_INDEX, &idx) != EW_OK) {
        add_err(h, EW_RSCP_TAG_PVI_DATA, EW_RSCP_ERR_FORMAT);
        return;
    }
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_PVI_DATA);
    ew_rscp_builder_add_uint16(h->b, EW_RSCP_TAG_PVI_INDEX, (uint16_t)(idx < 0 ? 0 : idx));
    /* The plant has one inverter.  Decision (rscp.md §9.4, §11.7): another
     * index gets PVI_DATA with only PVI_INDEX, so PVI_TYPE is missing, which
     * is how pye3dc's get_pvis() decides that no inverter is there (a per-child
     * Error would carry the PVI_TYPE tag and look present). */
    if (idx == 0) {
        ew_rscp_iter_enter(it, v, &ci, NULL);
        while (ew_rscp_iter_next(&ci, &c, NULL) > 0)
            if (c.tag != EW_RSCP_TAG_PVI_INDEX)
                answer_pvi_item(h, &c);
    }
    ew_rscp_builder_close(h->b);
}

/* ---- power meters (rscp.md §9.5) ------------------------------------------------ */

static void answer_pm_item(hctx *h, int root, const ew_rscp_value *c) {
    const ew_e3dc_sim *s = h->s;
    ew_rscp_builder *b = h->b;
    uint32_t ans = c->tag | RESP_BIT;
    double grid_l[3], inv_l[3], add_l[3];
    ew_sim_phase_powers(s, grid_l, inv_l, add_l);
    switch (c->tag) {
    case EW_RSCP_TAG_PM_REQ_POWER_L1:
    case EW_RSCP_TAG_PM_REQ_POWER_L2:
    case EW_RSCP_TAG_PM_REQ_POWER_L3: {
        unsigned i = (unsigned)(c->tag - EW_RSCP_TAG_PM_REQ_POWER_L1);
        /* Decision (rscp.md §9.5): the additional meter reports production
         * as negative power, like EMS_POWER_ADD. */
        ew_rscp_builder_add_double64(b, ans, root ? grid_l[i] : -add_l[i]);
        break;
    }
    case EW_RSCP_TAG_PM_REQ_VOLTAGE_L1:
    case EW_RSCP_TAG_PM_REQ_VOLTAGE_L2:
    case EW_RSCP_TAG_PM_REQ_VOLTAGE_L3: {
        unsigned i = (unsigned)(c->tag - EW_RSCP_TAG_PM_REQ_VOLTAGE_L1);
        add_f32(h, ans, EW_SIM_PHASE_V + 2.5 * jitter(s, 350 + i));
        break;
    }
    case EW_RSCP_TAG_PM_REQ_ENERGY_L1:
    case EW_RSCP_TAG_PM_REQ_ENERGY_L2:
    case EW_RSCP_TAG_PM_REQ_ENERGY_L3: {
        unsigned i = (unsigned)(c->tag - EW_RSCP_TAG_PM_REQ_ENERGY_L1);
        /* Decision (rscp.md §9.5): energy counters count imported energy
         * (root) or produced energy (additional meter), Wh. */
        ew_rscp_builder_add_double64(b, ans, root ? s->pm_imp_wh[i] : s->add_wh / 3.0);
        break;
    }
    case EW_RSCP_TAG_PM_REQ_MAX_PHASE_POWER:
        ew_rscp_builder_add_double64(b, ans, 63.0 * EW_SIM_PHASE_V);
        break;
    case EW_RSCP_TAG_PM_REQ_ACTIVE_PHASES:
        ew_rscp_builder_add_uchar8(b, ans, 7);
        break;
    case EW_RSCP_TAG_PM_REQ_TYPE:
        /* 1 ROOT, 3 ADDITIONAL_PRODUCTION (pye3dc's names, rscp.md §9.5). */
        ew_rscp_builder_add_uint16(b, ans, root ? 1 : 3);
        break;
    case EW_RSCP_TAG_PM_REQ_MODE:
        ew_rscp_builder_add_uchar8(b, ans, 1);
        break;
    case EW_RSCP_TAG_PM_REQ_DEVICE_ID:
        ew_rscp_builder_add_uint32(b, ans, root ? 0x5001u : 0x5002u);
        break;
    case EW_RSCP_TAG_PM_REQ_ERROR_CODE:
        ew_rscp_builder_add_uchar8(b, ans, 0);
        break;
    case EW_RSCP_TAG_PM_REQ_FIRMWARE_VERSION:
        ew_rscp_builder_add_uchar8(b, ans, 12);
        break;
    case EW_RSCP_TAG_PM_REQ_DEVICE_STATE:
        add_device_state(h, EW_RSCP_TAG_PM_DEVICE_STATE, EW_RSCP_TAG_PM_DEVICE_CONNECTED,
                         EW_RSCP_TAG_PM_DEVICE_WORKING, EW_RSCP_TAG_PM_DEVICE_IN_SERVICE);
        break;
    default:
        unsupported(h, c->tag);
        break;
    }
}

static void answer_pm(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    const ew_e3dc_sim_config *cf = &h->s->cfg;
    int64_t idx;
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (read_index(it, v, EW_RSCP_TAG_PM_INDEX, &idx) != EW_OK) {
        add_err(h, EW_RSCP_TAG_PM_DATA, EW_RSCP_ERR_FORMAT);
        return;
    }
    int root = idx == (int64_t)cf->pm_root_index;
    int extra = cf->ext_peak_w > 0 && idx == (int64_t)cf->pm_root_index + 1;
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_PM_DATA);
    ew_rscp_builder_add_uint16(h->b, EW_RSCP_TAG_PM_INDEX, (uint16_t)(idx < 0 ? 0 : idx));
    /* No meter at this index: PM_DATA with only PM_INDEX, so PM_TYPE is
     * missing (rscp.md §9.5, §11.7). */
    if (root || extra) {
        ew_rscp_iter_enter(it, v, &ci, NULL);
        while (ew_rscp_iter_next(&ci, &c, NULL) > 0)
            if (c.tag != EW_RSCP_TAG_PM_INDEX)
                answer_pm_item(h, root, &c);
    }
    ew_rscp_builder_close(h->b);
}

/* ---- wallbox (rscp.md §9.9) ------------------------------------------------------ */

static void add_extern(hctx *h, uint32_t tag, const uint8_t data[6]) {
    ew_rscp_builder_open(h->b, tag);
    ew_rscp_builder_add_bytes(h->b, EW_RSCP_TAG_WB_EXTERN_DATA, data, 6);
    ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_WB_EXTERN_DATA_LEN, 6);
    ew_rscp_builder_close(h->b);
}

/* Power (Int16) and energy (Int32) as SUN/NET/ALL carry them (rscp.md §9.9). */
static void pack_power_energy(uint8_t d[6], double w, double wh) {
    double pw = clampd(floor(w + 0.5), -32768.0, 32767.0);
    double e = clampd(floor(wh + 0.5), 0.0, 2147483647.0);
    uint16_t p16 = (uint16_t)(int16_t)pw;
    uint32_t e32 = (uint32_t)e;
    d[0] = (uint8_t)p16;
    d[1] = (uint8_t)(p16 >> 8);
    for (int i = 0; i < 4; i++)
        d[2 + i] = (uint8_t)(e32 >> (8 * i));
}

static void alg_bytes(const ew_e3dc_sim *s, const ew_sim_wallbox *w, uint8_t d[6]) {
    memset(d, 0, 6);
    /* Decision (rscp.md §9.9, "byte 0 reported as soc"): the car's state of
     * charge in %. */
    d[0] = (uint8_t)clampd(floor(100.0 * w->car_wh / s->cfg.car_capacity_wh + 0.5), 0, 100);
    d[1] = (uint8_t)w->phases;
    d[2] = (uint8_t)((w->sun_mode ? 0x80 : 0) | (w->cancelled ? 0x40 : 0) |
                     (w->power_w > 0 ? 0x20 : 0) | (!w->away ? 0x10 | 0x08 : 0));
    d[3] = (uint8_t)w->max_current_a;
    d[5] = (uint8_t)(w->schuko ? 1 : 0);
}

/* The 6-byte WB_EXTERN_DATA of a SET_EXTERN / SET_PARAM_1 container. */
static int read_extern(const ew_rscp_iter *it, const ew_rscp_value *v, uint8_t d[6]) {
    ew_rscp_value c;
    ew_bytes bytes;
    if (v->type != EW_RSCP_TYPE_CONTAINER || !find_child(it, v, EW_RSCP_TAG_WB_EXTERN_DATA, &c))
        return 0;
    ew_rscp_value_get_bytes(&c, &bytes);
    if (bytes.len != 6)
        return 0;
    memcpy(d, bytes.ptr, 6);
    return 1;
}

static int clamp_current(int64_t a) {
    return a < 6 ? 6 : a > 32 ? 32 : (int)a;
}

static void answer_wb_item(hctx *h, unsigned wi, const ew_rscp_iter *it, const ew_rscp_value *c) {
    ew_e3dc_sim *s = h->s;
    ew_sim_wallbox *w = &s->wb[wi];
    ew_rscp_builder *b = h->b;
    uint32_t ans = c->tag | RESP_BIT;
    uint8_t d[6];
    int64_t x;
    switch (c->tag) {
    case EW_RSCP_TAG_WB_REQ_EXTERN_DATA_ALG:
        alg_bytes(s, w, d);
        add_extern(h, ans, d);
        break;
    case EW_RSCP_TAG_WB_REQ_EXTERN_DATA_SUN:
        pack_power_energy(d, w->solar_w, w->e_solar_wh);
        add_extern(h, ans, d);
        break;
    case EW_RSCP_TAG_WB_REQ_EXTERN_DATA_NET:
        pack_power_energy(d, w->power_w - w->solar_w, w->e_grid_wh);
        add_extern(h, ans, d);
        break;
    case EW_RSCP_TAG_WB_REQ_EXTERN_DATA_ALL:
        pack_power_energy(d, w->power_w, w->e_solar_wh + w->e_grid_wh);
        add_extern(h, ans, d);
        break;
    case EW_RSCP_TAG_WB_REQ_PARAM_1:
        /* Decision (rscp.md §9.9): PARAM_1 mirrors what SET_PARAM_1 writes,
         * the maximum current in byte 2. */
        memset(d, 0, 6);
        d[2] = (uint8_t)w->max_current_a;
        add_extern(h, EW_RSCP_TAG_WB_RSP_PARAM_1, d);
        break;
    case EW_RSCP_TAG_WB_REQ_SET_EXTERN:
        if (!read_extern(it, c, d)) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        /* pye3dc sets one byte and leaves the others 0 (rscp.md §9.9): byte 0
         * sun mode (1 on, 2 off), byte 3 = 1 toggles the phases, byte 4 = 1
         * toggles charging.  Decision: byte 5 (schuko) is applied only when
         * bytes 0, 3 and 4 are 0, otherwise every sun-mode request would
         * also switch the schuko off. */
        if (d[0] == 1)
            w->sun_mode = 1;
        else if (d[0] == 2)
            w->sun_mode = 0;
        if (d[3] == 1)
            w->phases = w->phases == 1 ? 3 : 1;
        if (d[4] == 1)
            w->cancelled = !w->cancelled;
        if (!d[0] && !d[3] && !d[4])
            w->schuko = d[5] != 0;
        ew_sim_changed(s);
        /* WB_SET_EXTERN is None in the tag lists; pye3dc only checks that
         * the last child of WB_DATA has this tag and is not an Error. */
        ew_rscp_builder_add_none(b, ans);
        break;
    case EW_RSCP_TAG_WB_REQ_SET_PARAM_1:
        if (!read_extern(it, c, d)) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        if (d[2])
            w->max_current_a = clamp_current(d[2]);
        ew_sim_changed(s);
        /* Decision (rscp.md §9.9): WB_SET_PARAM_1 (a Container in the lists)
         * echoes the parameter block now in force. */
        memset(d, 0, 6);
        d[2] = (uint8_t)w->max_current_a;
        add_extern(h, ans, d);
        break;
    case EW_RSCP_TAG_WB_REQ_APP_SOFTWARE:
        ew_rscp_builder_add_uchar8(b, ans, 61);
        break;
    case EW_RSCP_TAG_WB_REQ_KEY_STATE:
        ew_rscp_builder_add_uint32(b, ans, 0);
        break;
    case EW_RSCP_TAG_WB_REQ_ENERGY_ALL:
        add_u32(h, ans, w->e_solar_wh + w->e_grid_wh);
        break;
    case EW_RSCP_TAG_WB_REQ_ENERGY_SOLAR:
        add_u32(h, ans, w->e_solar_wh);
        break;
    case EW_RSCP_TAG_WB_REQ_SOC:
        ew_rscp_builder_add_uint16(
            b, ans,
            (uint16_t)clampd(floor(100.0 * w->car_wh / s->cfg.car_capacity_wh + 0.5), 0, 100));
        break;
    case EW_RSCP_TAG_WB_REQ_DEVICE_NAME: {
        char name[16] = "Wallbox 0";
        name[8] = (char)('0' + wi % 10);
        add_text(h, ans, name);
        break;
    }
    case EW_RSCP_TAG_WB_REQ_PM_POWER_L1:
    case EW_RSCP_TAG_WB_REQ_PM_POWER_L2:
    case EW_RSCP_TAG_WB_REQ_PM_POWER_L3: {
        unsigned i = (unsigned)(c->tag - EW_RSCP_TAG_WB_REQ_PM_POWER_L1);
        double p = w->phases == 1 ? (i == 0 ? w->power_w : 0.0) : w->power_w / 3.0;
        ew_rscp_builder_add_double64(b, ans, p);
        break;
    }
    case EW_RSCP_TAG_WB_REQ_PM_ENERGY_L1:
    case EW_RSCP_TAG_WB_REQ_PM_ENERGY_L2:
    case EW_RSCP_TAG_WB_REQ_PM_ENERGY_L3:
        ew_rscp_builder_add_double64(b, ans, w->phase_wh[c->tag - EW_RSCP_TAG_WB_REQ_PM_ENERGY_L1]);
        break;
    case EW_RSCP_TAG_WB_REQ_PM_ACTIVE_PHASES:
        ew_rscp_builder_add_uchar8(b, ans, w->phases == 1 ? 1 : 7);
        break;
    case EW_RSCP_TAG_WB_REQ_PM_MAX_PHASE_POWER:
        ew_rscp_builder_add_double64(b, ans, 32.0 * EW_SIM_PHASE_V);
        break;
    case EW_RSCP_TAG_WB_REQ_SUN_MODE_ACTIVE:
        ew_rscp_builder_add_bool(b, ans, w->sun_mode);
        break;
    case EW_RSCP_TAG_WB_REQ_NUMBER_PHASES:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)w->phases);
        break;
    case EW_RSCP_TAG_WB_REQ_ABORT_CHARGING:
        ew_rscp_builder_add_bool(b, ans, w->cancelled);
        break;
    case EW_RSCP_TAG_WB_REQ_SCHUKO_AVAILABLE:
        ew_rscp_builder_add_bool(b, ans, 1);
        break;
    case EW_RSCP_TAG_WB_REQ_MAX_CHARGE_CURRENT:
        ew_rscp_builder_add_int32(b, ans, w->max_current_a);
        break;
    case EW_RSCP_TAG_WB_REQ_MIN_CHARGE_CURRENT:
    case EW_RSCP_TAG_WB_REQ_LOWER_CURRENT_LIMIT:
        ew_rscp_builder_add_int32(b, ans, 6);
        break;
    case EW_RSCP_TAG_WB_REQ_UPPER_CURRENT_LIMIT:
        ew_rscp_builder_add_int32(b, ans, 32);
        break;
    case EW_RSCP_TAG_WB_REQ_SET_SUN_MODE_ACTIVE:
    case EW_RSCP_TAG_WB_REQ_SET_ABORT_CHARGING:
        if (num(c, &x) != EW_OK) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        if (c->tag == EW_RSCP_TAG_WB_REQ_SET_SUN_MODE_ACTIVE)
            w->sun_mode = x != 0;
        else
            w->cancelled = x != 0;
        ew_sim_changed(s);
        ew_rscp_builder_add_bool(b, ans, x != 0);
        break;
    case EW_RSCP_TAG_WB_REQ_SET_NUMBER_PHASES:
        if (num(c, &x) != EW_OK || (x != 1 && x != 3)) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        w->phases = (int)x;
        ew_sim_changed(s);
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)x);
        break;
    case EW_RSCP_TAG_WB_REQ_SET_MAX_CHARGE_CURRENT:
        if (num(c, &x) != EW_OK) {
            add_err(h, ans, EW_RSCP_ERR_FORMAT);
            break;
        }
        w->max_current_a = clamp_current(x);
        ew_sim_changed(s);
        ew_rscp_builder_add_int32(b, ans, w->max_current_a);
        break;
    default:
        unsupported(h, c->tag);
        break;
    }
}

static void answer_wb(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    int64_t idx;
    ew_rscp_iter ci;
    ew_rscp_value c;
    if (read_index(it, v, EW_RSCP_TAG_WB_INDEX, &idx) != EW_OK) {
        add_err(h, EW_RSCP_TAG_WB_DATA, EW_RSCP_ERR_FORMAT);
        return;
    }
    /* Decision (rscp.md §9.9): an absent wallbox is answered like an absent
     * battery, WB_DATA with Error 6. */
    if (idx < 0 || idx >= (int64_t)h->s->cfg.wallboxes) {
        add_err(h, EW_RSCP_TAG_WB_DATA, EW_RSCP_ERR_NOT_AVAILABLE);
        return;
    }
    ew_rscp_iter_enter(it, v, &ci, NULL);
    ew_rscp_builder_open(h->b, EW_RSCP_TAG_WB_DATA);
    ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_WB_INDEX, (uint8_t)idx);
    while (ew_rscp_iter_next(&ci, &c, NULL) > 0)
        if (c.tag != EW_RSCP_TAG_WB_INDEX)
            answer_wb_item(h, (unsigned)idx, &ci, &c);
    ew_rscp_builder_close(h->b);
}

/* ---- history database (rscp.md §9.6) ----------------------------------------------- */

/* More value containers than this would not fit the 32 KiB answer. */
#define DB_MAX_VALUES 192

static void add_db_values(hctx *h, uint32_t tag, float index, const ew_e3dc_sim_energy *e) {
    double prod = e->pv_wh + e->add_wh;
    double cons = e->consumption_wh;
    double cap = h->s->cfg.bat_capacity_wh;
    ew_rscp_builder_open(h->b, tag);
    add_f32(h, EW_RSCP_TAG_DB_GRAPH_INDEX, index);
    add_f32(h, EW_RSCP_TAG_DB_BAT_POWER_IN, e->bat_charge_wh);
    add_f32(h, EW_RSCP_TAG_DB_BAT_POWER_OUT, e->bat_discharge_wh);
    add_f32(h, EW_RSCP_TAG_DB_DC_POWER, e->pv_wh);
    add_f32(h, EW_RSCP_TAG_DB_GRID_POWER_IN, e->grid_export_wh);
    add_f32(h, EW_RSCP_TAG_DB_GRID_POWER_OUT, e->grid_import_wh);
    add_f32(h, EW_RSCP_TAG_DB_CONSUMPTION, cons);
    add_f32(h, EW_RSCP_TAG_DB_PM_0_POWER, e->add_wh);
    add_f32(h, EW_RSCP_TAG_DB_PM_1_POWER, e->wallbox_wh);
    add_f32(h, EW_RSCP_TAG_DB_BAT_CHARGE_LEVEL, e->soc_avg_pct);
    add_f32(h, EW_RSCP_TAG_DB_BAT_CYCLE_COUNT, cap > 0 ? e->bat_discharge_wh / cap : 0.0);
    add_f32(h, EW_RSCP_TAG_DB_CONSUMED_PRODUCTION,
            prod > 0 ? clampd(100.0 * (prod - e->grid_export_wh) / prod, 0, 100) : 0.0);
    add_f32(h, EW_RSCP_TAG_DB_AUTARKY,
            cons > 0 ? clampd(100.0 * (cons - e->grid_import_wh) / cons, 0, 100) : 0.0);
    ew_rscp_builder_close(h->b);
}

/*
 * Decisions (rscp.md §9.6): TIME_START and UTC_TIME_START are both read as
 * Unix seconds (pye3dc sends the epoch of local midnight); a bucket belongs
 * to the range when its start lies in [start, start + span); the answer has
 * the sum container first and then ceil(span / interval) value containers
 * (DB_GRAPH_INDEX 0, 1, ...; the sum's index is 0).  DB_CONSUMPTION is house
 * plus wallboxes, DB_PM_0_POWER the additional source, DB_PM_1_POWER the
 * wallboxes, so DC + PM_0 + GRID_OUT + BAT_OUT = CONSUMPTION + GRID_IN +
 * BAT_IN.  Missing parameters give Error 3, zero or negative interval/span
 * or more than DB_MAX_VALUES value containers Error 0xFFFFFFFF, a range
 * without any data Error 6.
 */
static void answer_db(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    uint32_t ans = v->tag | RESP_BIT;
    ew_rscp_value c;
    int64_t start, interval, span;
    int have_start = 0;
    if (v->type == EW_RSCP_TYPE_CONTAINER) {
        if (find_child(it, v, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_START, &c))
            have_start = num(&c, &start) == EW_OK;
        else if (find_child(it, v, EW_RSCP_TAG_DB_REQ_HISTORY_UTC_TIME_START, &c))
            have_start = num(&c, &start) == EW_OK;
    }
    if (!have_start || !find_child(it, v, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_INTERVAL, &c) ||
        num(&c, &interval) != EW_OK ||
        !find_child(it, v, EW_RSCP_TAG_DB_REQ_HISTORY_TIME_SPAN, &c) || num(&c, &span) != EW_OK) {
        add_err(h, ans, EW_RSCP_ERR_FORMAT);
        return;
    }
    /* ceil(span / interval) without overflow for any interval. */
    int64_t nv = interval > 0 ? span / interval + (span % interval != 0) : 0;
    if (interval <= 0 || span <= 0 || span > INT64_C(1) << 40 || start < -(INT64_C(1) << 40) ||
        start > INT64_C(1) << 40 || nv > DB_MAX_VALUES) {
        add_err(h, ans, EW_RSCP_ERR_INVALID_TIME);
        return;
    }
    ew_e3dc_sim_energy sum;
    if (ew_e3dc_sim_history(h->s, start, span, &sum) == 0) {
        add_err(h, ans, EW_RSCP_ERR_NOT_AVAILABLE);
        return;
    }
    ew_rscp_builder_open(h->b, ans);
    add_db_values(h, EW_RSCP_TAG_DB_SUM_CONTAINER, 0.0f, &sum);
    for (int64_t i = 0; i < nv; i++) {
        ew_e3dc_sim_energy e;
        int64_t a = start + i * interval;
        int64_t len = (interval > start + span - a) ? start + span - a : interval;
        ew_e3dc_sim_history(h->s, a, len, &e);
        add_db_values(h, EW_RSCP_TAG_DB_VALUE_CONTAINER, (float)i, &e);
    }
    ew_rscp_builder_close(h->b);
}

/* ---- home automation (rscp.md §9.10) -------------------------------------------------- */

static void answer_ha_list(hctx *h, int states) {
    const ew_e3dc_sim *s = h->s;
    ew_rscp_builder *b = h->b;
    ew_rscp_builder_open(b,
                         states ? EW_RSCP_TAG_HA_ACTUATOR_STATES : EW_RSCP_TAG_HA_DATAPOINT_LIST);
    /* Both lists in the same order: pye3dc pairs them by position.
     * Decision (rscp.md §9.10): the per-switch container of the state list
     * is HA_DATAPOINT too. */
    for (unsigned i = 0; i < s->nswitches; i++) {
        ew_rscp_builder_open(b, EW_RSCP_TAG_HA_DATAPOINT);
        ew_rscp_builder_add_uint16(b, EW_RSCP_TAG_HA_DATAPOINT_INDEX, (uint16_t)i);
        if (states) {
            ew_rscp_builder_add_char8(b, EW_RSCP_TAG_HA_DATAPOINT_STATE, s->sw_on[i] ? 1 : 0);
            ew_rscp_builder_add_char8(b, EW_RSCP_TAG_HA_DATAPOINT_MODE, 0);
            ew_rscp_builder_add_char8(b, EW_RSCP_TAG_HA_DATAPOINT_STATE_VALUE, s->sw_on[i] ? 1 : 0);
            ew_rscp_builder_add_char8(b, EW_RSCP_TAG_HA_DATAPOINT_SUPPLY_QUALITY, 100);
            ew_rscp_builder_add_char8(b, EW_RSCP_TAG_HA_DATAPOINT_SIGNAL_QUALITY, 90);
        } else {
            ew_rscp_builder_add_uint32(b, EW_RSCP_TAG_HA_DATAPOINT_TYPE, s->sw_type[i]);
            add_text(h, EW_RSCP_TAG_HA_DATAPOINT_NAME, s->sw_name[i]);
        }
        ew_rscp_builder_close(b);
    }
    ew_rscp_builder_close(b);
}

static int text_is(const ew_bytes *t, const char *lit) {
    size_t n = strlen(lit);
    if (t->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)t->ptr[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != lit[i])
            return 0;
    }
    return 1;
}

/* Decision (rscp.md §9.10): an unknown switch index gets Error 6, a missing
 * index or command Error 3, a command other than "on"/"off" (any case) the
 * Bool false. */
static void answer_ha_command(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    ew_rscp_value c;
    int64_t idx;
    ew_bytes cmd;
    if (v->type != EW_RSCP_TYPE_CONTAINER ||
        !find_child(it, v, EW_RSCP_TAG_HA_DATAPOINT_INDEX, &c) || num(&c, &idx) != EW_OK ||
        !find_child(it, v, EW_RSCP_TAG_HA_REQ_COMMAND, &c) || c.type != EW_RSCP_TYPE_CSTRING) {
        add_err(h, EW_RSCP_TAG_HA_COMMAND_ACTUATOR, EW_RSCP_ERR_FORMAT);
        return;
    }
    if (idx < 0 || idx >= (int64_t)s->nswitches) {
        add_err(h, EW_RSCP_TAG_HA_COMMAND_ACTUATOR, EW_RSCP_ERR_NOT_AVAILABLE);
        return;
    }
    ew_rscp_value_get_bytes(&c, &cmd);
    int on = text_is(&cmd, "on"), off = text_is(&cmd, "off");
    if (on || off) {
        s->sw_on[idx] = on;
        ew_sim_changed(s);
    }
    ew_rscp_builder_add_bool(h->b, EW_RSCP_TAG_HA_COMMAND_ACTUATOR, on || off);
}

/* ---- authentication (rscp.md §7) -------------------------------------------------------- */

static void answer_auth(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_rscp_value c;
    ew_bytes user = {NULL, 0}, pw = {NULL, 0};
    if (v->type == EW_RSCP_TYPE_CONTAINER) {
        if (find_child(it, v, EW_RSCP_TAG_RSCP_AUTHENTICATION_USER, &c))
            ew_rscp_value_get_bytes(&c, &user);
        if (find_child(it, v, EW_RSCP_TAG_RSCP_AUTHENTICATION_PASSWORD, &c))
            ew_rscp_value_get_bytes(&c, &pw);
    }
    int level = ew_e3dc_sim_check_login(h->s, (const char *)user.ptr, user.len,
                                        (const char *)pw.ptr, pw.len);
    /* Success: UChar8 level; failure: Int32 0 as devices send it (§7.2). */
    if (level > 0)
        ew_rscp_builder_add_uchar8(h->b, EW_RSCP_TAG_RSCP_AUTHENTICATION, (uint8_t)level);
    else
        ew_rscp_builder_add_int32(h->b, EW_RSCP_TAG_RSCP_AUTHENTICATION, 0);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static void answer_one(hctx *h, const ew_rscp_iter *it, const ew_rscp_value *v) {
    ew_e3dc_sim *s = h->s;
    const ew_e3dc_sim_config *cf = &s->cfg;
    ew_rscp_builder *b = h->b;
    uint32_t ans = answer_tag(v->tag);
    live lv;

    if (v->tag == EW_RSCP_TAG_RSCP_REQ_AUTHENTICATION) {
        answer_auth(h, it, v);
        return;
    }
    /* Unauthenticated: nothing but Error 2 (rscp.md §7.3, §11.6). */
    if (h->level <= 0) {
        add_err(h, ans, EW_RSCP_ERR_ACCESS_DENIED);
        return;
    }
    live_of(s, &lv);
    switch (v->tag) {
    case EW_RSCP_TAG_RSCP_REQ_USER_LEVEL:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)(h->level > 255 ? 255 : h->level));
        break;

    /* EMS live values (rscp.md §9.1) */
    case EW_RSCP_TAG_EMS_REQ_POWER_PV:
        ew_rscp_builder_add_int32(b, ans, lv.pv);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_BAT:
        ew_rscp_builder_add_int32(b, ans, lv.bat);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_HOME:
        ew_rscp_builder_add_int32(b, ans, lv.house);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_GRID:
        ew_rscp_builder_add_int32(b, ans, lv.grid);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_ADD:
        /* Additional generators are reported negative (pye3dc negates). */
        ew_rscp_builder_add_int32(b, ans, -lv.add);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_WB_ALL:
        ew_rscp_builder_add_int32(b, ans, lv.wb);
        break;
    case EW_RSCP_TAG_EMS_REQ_POWER_WB_SOLAR:
        ew_rscp_builder_add_int32(b, ans, lv.wb_solar);
        break;
    case EW_RSCP_TAG_EMS_REQ_BAT_SOC:
        ew_rscp_builder_add_uchar8(b, ans, lv.soc);
        break;
    case EW_RSCP_TAG_EMS_REQ_AUTARKY:
    case EW_RSCP_TAG_EMS_REQ_SELF_CONSUMPTION: {
        /* Decision (rscp.md §9.1): instantaneous shares of the live powers. */
        double cons = s->house_w + s->wb_w, prod = s->pv_w + s->add_w, val;
        if (v->tag == EW_RSCP_TAG_EMS_REQ_AUTARKY)
            val = cons > 0 ? clampd(100.0 * (1.0 - (s->grid_w > 0 ? s->grid_w : 0) / cons), 0, 100)
                           : 100.0;
        else
            val = prod > 0 ? clampd(100.0 * (1.0 - (s->grid_w < 0 ? -s->grid_w : 0) / prod), 0, 100)
                           : 0.0;
        add_f32(h, ans, val);
        break;
    }
    case EW_RSCP_TAG_EMS_REQ_STATUS:
    case EW_RSCP_TAG_EMS_REQ_SYS_STATUS: {
        ew_e3dc_sim_model m;
        ew_e3dc_sim_get_model(s, &m);
        /* Both UInt32 (rscp.md §9.1: go-rscp observed UInt32 for EMS_STATUS). */
        ew_rscp_builder_add_uint32(
            b, ans, v->tag == EW_RSCP_TAG_EMS_REQ_STATUS ? m.ems_status : m.sys_status);
        break;
    }
    case EW_RSCP_TAG_EMS_REQ_BALANCED_PHASES:
        ew_rscp_builder_add_uchar8(b, ans, 7);
        break;
    case EW_RSCP_TAG_EMS_REQ_USED_CHARGE_LIMIT:
        add_i32(h, ans, s->charge_limit_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_BAT_CHARGE_LIMIT:
    case EW_RSCP_TAG_EMS_REQ_DCDC_CHARGE_LIMIT:
        add_i32(h, ans, cf->batteries ? cf->bat_max_charge_w : 0.0);
        break;
    case EW_RSCP_TAG_EMS_REQ_USER_CHARGE_LIMIT:
        add_i32(h, ans, s->ps.max_charge_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_USED_DISCHARGE_LIMIT:
        add_i32(h, ans, s->discharge_limit_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_BAT_DISCHARGE_LIMIT:
    case EW_RSCP_TAG_EMS_REQ_DCDC_DISCHARGE_LIMIT:
        add_i32(h, ans, cf->batteries ? cf->bat_max_discharge_w : 0.0);
        break;
    case EW_RSCP_TAG_EMS_REQ_USER_DISCHARGE_LIMIT:
        add_i32(h, ans, s->ps.max_discharge_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_REMAINING_BAT_CHARGE_POWER:
        add_u32(h, ans, s->charge_limit_w - (s->bat_w > 0 ? s->bat_w : 0.0));
        break;
    case EW_RSCP_TAG_EMS_REQ_REMAINING_BAT_DISCHARGE_POWER:
        add_u32(h, ans, s->discharge_limit_w - (s->bat_w < 0 ? -s->bat_w : 0.0));
        break;

    /* System information (rscp.md §9.2) */
    case EW_RSCP_TAG_EMS_REQ_INSTALLED_PEAK_POWER:
        add_u32(h, ans, cf->pv_peak_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_DERATE_AT_PERCENT_VALUE:
        /* A fraction (pye3dc multiplies by 100). */
        add_f32(h, ans, cf->derate_fraction < 1.0 ? cf->derate_fraction : 1.0);
        break;
    case EW_RSCP_TAG_EMS_REQ_DERATE_AT_POWER_VALUE:
        add_f32(h, ans, (cf->derate_fraction < 1.0 ? cf->derate_fraction : 1.0) * cf->pv_peak_w);
        break;
    case EW_RSCP_TAG_EMS_REQ_EXT_SRC_AVAILABLE:
        ew_rscp_builder_add_char8(b, ans, cf->ext_peak_w > 0 ? 1 : 0);
        break;
    case EW_RSCP_TAG_EMS_REQ_GET_SYS_SPECS:
        answer_sys_specs(h);
        break;
    case EW_RSCP_TAG_INFO_REQ_SERIAL_NUMBER:
        add_text(h, ans, s->serial);
        break;
    case EW_RSCP_TAG_INFO_REQ_PRODUCTION_DATE:
        add_text(h, ans, s->production_date);
        break;
    case EW_RSCP_TAG_INFO_REQ_MAC_ADDRESS:
        add_text(h, ans, s->mac);
        break;
    case EW_RSCP_TAG_INFO_REQ_IP_ADDRESS:
        add_text(h, ans, s->ip);
        break;
    case EW_RSCP_TAG_INFO_REQ_SUBNET_MASK:
        add_text(h, ans, "255.255.255.0");
        break;
    case EW_RSCP_TAG_INFO_REQ_GATEWAY:
    case EW_RSCP_TAG_INFO_REQ_DNS:
        add_text(h, ans, "192.168.178.1");
        break;
    case EW_RSCP_TAG_INFO_REQ_DHCP_STATUS:
        ew_rscp_builder_add_bool(b, ans, 1);
        break;
    case EW_RSCP_TAG_INFO_REQ_UTC_TIME:
        ew_rscp_builder_add_timestamp(b, ans, ts_of_ms(s->t_ms));
        break;
    case EW_RSCP_TAG_INFO_REQ_TIME:
        /* Local time written as if it were UTC; rscp2mqtt derives the
         * device's offset from INFO_TIME - INFO_UTC_TIME (rscp.md §9.2). */
        ew_rscp_builder_add_timestamp(b, ans, ts_of_ms(s->t_ms + (int64_t)cf->utc_offset_s * 1000));
        break;
    case EW_RSCP_TAG_INFO_REQ_TIME_ZONE:
        add_text(h, ans, s->time_zone);
        break;
    case EW_RSCP_TAG_INFO_REQ_SW_RELEASE:
        add_text(h, ans, s->sw_release);
        break;

    /* Settings and manual control (rscp.md §9.7, §9.8) */
    case EW_RSCP_TAG_EMS_REQ_GET_POWER_SETTINGS:
        answer_get_power_settings(h);
        break;
    case EW_RSCP_TAG_EMS_REQ_SET_POWER_SETTINGS:
        answer_set_power_settings(h, it, v);
        break;
    case EW_RSCP_TAG_EMS_REQ_SET_POWER:
        answer_set_power(h, it, v);
        break;
    case EW_RSCP_TAG_EMS_REQ_START_MANUAL_CHARGE:
        answer_start_manual_charge(h, v);
        break;
    case EW_RSCP_TAG_EMS_REQ_GET_MANUAL_CHARGE:
        answer_get_manual_charge(h);
        break;
    case EW_RSCP_TAG_EMS_REQ_GET_IDLE_PERIODS:
        answer_get_idle_periods(h);
        break;
    case EW_RSCP_TAG_EMS_REQ_SET_IDLE_PERIODS:
        answer_set_idle_periods(h, it, v);
        break;
    case EW_RSCP_TAG_EMS_REQ_BATTERY_TO_CAR_MODE:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)s->btc_mode);
        break;
    case EW_RSCP_TAG_EMS_REQ_SET_BATTERY_TO_CAR_MODE:
        answer_set_mode(h, v, ans, &s->btc_mode);
        break;
    case EW_RSCP_TAG_EMS_REQ_BATTERY_BEFORE_CAR_MODE:
        ew_rscp_builder_add_uchar8(b, ans, (uint8_t)s->bbc_mode);
        break;
    case EW_RSCP_TAG_EMS_REQ_SET_BATTERY_BEFORE_CAR_MODE:
        answer_set_mode(h, v, ans, &s->bbc_mode);
        break;

    /* Devices */
    case EW_RSCP_TAG_BAT_REQ_DATA:
        answer_bat(h, it, v);
        break;
    case EW_RSCP_TAG_PVI_REQ_DATA:
        answer_pvi(h, it, v);
        break;
    case EW_RSCP_TAG_PM_REQ_DATA:
        answer_pm(h, it, v);
        break;
    case EW_RSCP_TAG_WB_REQ_DATA:
        answer_wb(h, it, v);
        break;
    case EW_RSCP_TAG_DB_REQ_HISTORY_DATA_DAY:
    case EW_RSCP_TAG_DB_REQ_HISTORY_DATA_WEEK:
    case EW_RSCP_TAG_DB_REQ_HISTORY_DATA_MONTH:
    case EW_RSCP_TAG_DB_REQ_HISTORY_DATA_YEAR:
        answer_db(h, it, v);
        break;
    case EW_RSCP_TAG_HA_REQ_DATAPOINT_LIST:
        answer_ha_list(h, 0);
        break;
    case EW_RSCP_TAG_HA_REQ_ACTUATOR_STATES:
        answer_ha_list(h, 1);
        break;
    case EW_RSCP_TAG_HA_REQ_COMMAND_ACTUATOR:
        answer_ha_command(h, it, v);
        break;
    default:
        unsupported(h, v->tag);
        break;
    }
}

/* Drops what the builder wrote after |mark| (same nesting level). */
static void rewind_builder(ew_rscp_builder *b, size_t mark, unsigned depth) {
    b->len = mark;
    b->depth = depth;
    b->err = EW_OK;
}

int ew_e3dc_sim_handle(ew_e3dc_sim *sim, const uint8_t *req_area, size_t req_len, int user_level,
                       ew_rscp_builder *resp) {
    if (!sim || !resp || (!req_area && req_len))
        return EW_ERR_INVAL;
    if (resp->err)
        return resp->err;
    int rc = ew_rscp_validate(req_area, req_len, 0, NULL);
    if (rc < 0)
        return rc;

    hctx h = {sim, resp, user_level};
    size_t base = resp->len;
    unsigned depth = resp->depth;
    int n = 0, too_big = 0;
    ew_rscp_iter it;
    ew_rscp_value v;
    ew_rscp_iter_init(&it, req_area, req_len, 0);
    while (ew_rscp_iter_next(&it, &v, NULL) > 0) {
        size_t mark = resp->len;
        answer_one(&h, &it, &v);
        if (resp->err == EW_ERR_TOO_BIG || resp->len - base > EW_E3DC_SIM_ANSWER_MAX) {
            /* Keep one answer per request (rscp.md §11.4) within 32 KiB
             * (§11.2): the oversized one becomes an Error. */
            rewind_builder(resp, mark, depth);
            add_err(&h, answer_tag(v.tag), EW_RSCP_ERR_OUT_OF_BOUNDS);
            too_big = 1;
        }
        if (resp->err)
            return resp->err;
        n++;
    }
    if (too_big) {
        /* Even the Error answers may not fit when a frame holds thousands
         * of requests: then nothing is kept. */
        if (resp->len - base > EW_E3DC_SIM_ANSWER_MAX)
            rewind_builder(resp, base, depth);
        return EW_ERR_TOO_BIG;
    }
    return n;
}
