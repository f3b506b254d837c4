/*
 * E3/DC simulator: the plant model (DESIGN.md "plant model").
 *
 * Everything random comes from a counter-based generator (splitmix64 of the
 * seed, a stream number and a counter such as the day or the 15-minute slot),
 * so a value depends only on the seed and the instant it describes, never on
 * how often the model was stepped.  Powers are decided per cell (one second
 * live, one minute during the history backfill) aligned to the Unix epoch and
 * integrated exactly over the cell; see ew_e3dc_sim_step().
 */
#include "sim/e3dc_sim_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Noise streams (one per kind of random choice). */
enum {
    ST_WEATHER = 1,
    ST_WEATHER2,
    ST_CLOUD,
    ST_HOUSE,
    ST_APPL,
    ST_APPL_START,
    ST_APPL_LEN,
    ST_APPL_POWER,
    ST_FRIDGE,
    ST_CAR = 64 /* + 8 per wallbox */
};

static const ew_e3dc_sim_user default_users[] = {
    {"user@example.com", "secret-portal-password", 10},
    {"installer@example.com", "installer-password", 20},
};

static const ew_e3dc_sim_switch default_switches[] = {
    {"Garden pump", 1, 400.0, 0},
    {"Heat pump boost", 1, 2000.0, 0},
    {"Garage light", 2, 60.0, 1},
};

void ew_e3dc_sim_config_init(ew_e3dc_sim_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->users = default_users;
    cfg->nusers = sizeof default_users / sizeof default_users[0];
    cfg->rscp_key = "my-rscp-key";
    cfg->seed = 1;
    cfg->start_time_ms = INT64_C(1700000000000);
    cfg->utc_offset_s = 3600;
    cfg->time_zone = "Europe/Berlin";
    cfg->serial_number = NULL;
    cfg->sw_release = "S10_2024_06";
    cfg->mac_address = "00:11:22:33:44:55";
    cfg->production_date = "KW22 2022";
    cfg->ip_address = "192.168.178.50";
    cfg->pv_peak_w = 9500.0;
    cfg->pv_trackers = 2;
    cfg->pvi_phases = 3;
    cfg->derate_fraction = 0.7;
    cfg->ext_peak_w = 0.0;
    cfg->house_base_w = 250.0;
    cfg->batteries = 1;
    cfg->dcbs = 3;
    cfg->cells_series = 14;
    cfg->sensors = 4;
    cfg->bat_capacity_wh = 10000.0;
    cfg->bat_max_charge_w = 4500.0;
    cfg->bat_max_discharge_w = 4500.0;
    cfg->initial_soc_pct = 50.0;
    cfg->pm_root_index = 0;
    cfg->wallboxes = 1;
    cfg->car_capacity_wh = 60000.0;
    cfg->switches = default_switches;
    cfg->nswitches = sizeof default_switches / sizeof default_switches[0];
    cfg->history_days = 400;
}

/* ---- small helpers ------------------------------------------------------ */

int64_t ew_sim_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t floor_mod(int64_t a, int64_t b) {
    return a - ew_sim_floor_div(a, b) * b;
}

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

static double mind(double a, double b) {
    return a < b ? a : b;
}

static double maxd(double a, double b) {
    return a > b ? a : b;
}

/* splitmix64 finaliser. */
static uint64_t mix64(uint64_t x) {
    x += UINT64_C(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* Uniform [0, 1) from (seed, stream, k): the simulator's random numbers. */
double ew_sim_noise(const ew_e3dc_sim *s, uint32_t stream, int64_t k) {
    uint64_t x = mix64(s->cfg.seed ^ mix64(((uint64_t)stream << 40) ^ (uint64_t)k));
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* Smooth value noise in [0, 1] with knots every |period_s| seconds. */
static double vnoise(const ew_e3dc_sim *s, uint32_t stream, double t_s, double period_s) {
    double x = t_s / period_s;
    double fl = floor(x);
    double f = x - fl;
    int64_t k = (int64_t)fl;
    f = f * f * (3.0 - 2.0 * f);
    return ew_sim_noise(s, stream, k) * (1.0 - f) + ew_sim_noise(s, stream, k + 1) * f;
}

/* Gregorian calendar from days since 1970-01-01 (H. Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int64_t days_from_civil(int y, unsigned m, unsigned d) {
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void ew_sim_local_time(const ew_e3dc_sim *s, int64_t t_ms, ew_sim_local *l) {
    int64_t lt = t_ms + (int64_t)s->cfg.utc_offset_s * 1000;
    l->day = ew_sim_floor_div(lt, 86400000);
    l->hour = (double)(lt - l->day * 86400000) / 3600000.0;
    l->wday = (int)floor_mod(l->day + 3, 7); /* 1970-01-01 was a Thursday */
    civil_from_days(l->day, &l->year, &l->month, &l->mday);
    l->doy = (int)(l->day - days_from_civil(l->year, 1, 1));
}

/* ---- plant -------------------------------------------------------------- */

/* Season: +1 at the summer solstice, -1 at the winter solstice. */
static double season_of(const ew_sim_local *l) {
    return sin(2.0 * PI * ((double)l->doy - 80.0) / 365.25);
}

/* Cloudiness of the day times passing clouds: 0.02..1. */
static double weather_factor(const ew_e3dc_sim *s, const ew_sim_local *l, double t_s) {
    double u = ew_sim_noise(s, ST_WEATHER, l->day);
    double v = ew_sim_noise(s, ST_WEATHER2, l->day);
    double base, var;
    if (u < 0.35) { /* clear */
        base = 0.92 + 0.08 * v;
        var = 0.05;
    } else if (u < 0.7) { /* broken clouds */
        base = 0.55 + 0.35 * v;
        var = 0.55;
    } else { /* overcast */
        base = 0.12 + 0.22 * v;
        var = 0.25;
    }
    return clampd(base * (1.0 - var * vnoise(s, ST_CLOUD, t_s, 420.0)), 0.02, 1.0);
}

/*
 * PV of each tracker and of the additional source.  A simple bell between
 * sunrise and sunset (day length 8..16 h over the year, solar noon at 12:00
 * local standard time); trackers face from east to west, which moves their
 * peak by up to ±1.2 h.
 */
static void pv_now(const ew_e3dc_sim *s, int64_t t_ms, const ew_sim_local *l, double *tracker,
                   double *add) {
    unsigned n = s->cfg.pv_trackers;
    double decl = season_of(l);
    double daylen = 12.0 + 4.0 * decl;
    double rise = 12.0 - daylen / 2.0;
    for (unsigned i = 0; i < n; i++)
        tracker[i] = 0.0;
    *add = 0.0;
    if (l->hour <= rise || l->hour >= rise + daylen)
        return;
    double p = (l->hour - rise) / daylen;
    double amp = (0.45 + 0.55 * (decl + 1.0) / 2.0) * weather_factor(s, l, (double)t_ms / 1000.0);
    for (unsigned i = 0; i < n; i++) {
        double facing = n > 1 ? -1.0 + 2.0 * (double)i / (double)(n - 1) : 0.0;
        double peak_at = 0.5 + 0.1 * facing;
        double q = pow(p, log(0.5) / log(peak_at));
        tracker[i] = s->cfg.pv_peak_w / (double)n * amp * pow(sin(PI * q), 1.3);
    }
    *add = s->cfg.ext_peak_w * amp * pow(sin(PI * p), 1.3);
}

static double gauss(double x, double mu, double sigma) {
    double z = (x - mu) / sigma;
    return exp(-0.5 * z * z);
}

/* House load: base + daily pattern, noise, appliances, fridge, switches. */
static double house_now(const ew_e3dc_sim *s, int64_t t_ms, const ew_sim_local *l) {
    double h = l->hour, base = s->cfg.house_base_w;
    int weekend = l->wday >= 5;
    double t_s = (double)t_ms / 1000.0;
    double load = base;
    load += weekend ? 550.0 * gauss(h, 8.5, 1.2) : 650.0 * gauss(h, 6.75, 0.6);
    load += (weekend ? 500.0 : 250.0) * gauss(h, 12.5, 1.0);
    load += 850.0 * gauss(h, 19.0, 1.6);
    load -= 0.25 * base * gauss(h, 3.5, 2.0);
    load *= 1.15 - 0.15 * season_of(l);
    load *= 0.85 + 0.3 * vnoise(s, ST_HOUSE, t_s, 150.0);
    /* At most one appliance (kettle, oven, washing machine) per 15 minutes. */
    int64_t slot = ew_sim_floor_div(t_ms, EW_SIM_BUCKET_MS);
    double into = (double)(t_ms - slot * EW_SIM_BUCKET_MS) / 1000.0;
    double prob = (h >= 6.0 && h < 23.0) ? 0.12 : 0.02;
    if (ew_sim_noise(s, ST_APPL, slot) < prob) {
        double start = 300.0 * ew_sim_noise(s, ST_APPL_START, slot);
        double len = 120.0 + 480.0 * ew_sim_noise(s, ST_APPL_LEN, slot);
        if (into >= start && into < start + len)
            load += 800.0 + 1700.0 * ew_sim_noise(s, ST_APPL_POWER, slot);
    }
    if (vnoise(s, ST_FRIDGE, t_s, 600.0) > 0.5)
        load += 90.0;
    for (unsigned i = 0; i < s->nswitches; i++)
        if (s->sw_on[i])
            load += s->sw_power[i];
    return maxd(load, 0.0);
}

/* Is the car of wallbox |w| out at local time |l|? */
static int car_away(const ew_e3dc_sim *s, unsigned w, const ew_sim_local *l) {
    uint32_t st = ST_CAR + 8 * w;
    double depart, back;
    if (l->wday < 5) {
        depart = 7.25 + 0.75 * ew_sim_noise(s, st, l->day);
        back = 16.75 + 1.5 * ew_sim_noise(s, st + 1, l->day);
    } else {
        if (ew_sim_noise(s, st + 2, l->day) >= 0.5)
            return 0;
        depart = 10.0 + 2.0 * ew_sim_noise(s, st, l->day);
        back = depart + 2.0 + 3.0 * ew_sim_noise(s, st + 1, l->day);
    }
    return l->hour >= depart && l->hour < back;
}

static int idle_active(const ew_e3dc_sim *s, int type, const ew_sim_local *l) {
    const ew_sim_idle *p = &s->idle[type][l->wday];
    if (!p->active)
        return 0;
    int now = (int)(l->hour * 60.0);
    int a = p->start_h * 60 + p->start_m, b = p->end_h * 60 + p->end_m;
    return now >= a && now < b;
}

/* Decides the powers of the cell that contains s->t_ms (length |len_ms|). */
static void compute_cell(ew_e3dc_sim *s, int64_t len_ms) {
    const ew_e3dc_sim_config *c = &s->cfg;
    int64_t t = s->t_ms;
    int64_t start = ew_sim_floor_div(t, len_ms) * len_ms;
    double rem_s = (double)(start + len_ms - t) / 1000.0;
    ew_sim_local l;
    ew_sim_local_time(s, t, &l);

    double tracker[EW_E3DC_SIM_MAX_TRACKERS], add;
    pv_now(s, t, &l, tracker, &add);
    double pv_raw = 0.0;
    for (unsigned i = 0; i < c->pv_trackers; i++)
        pv_raw += tracker[i];
    double house = house_now(s, t, &l);
    double supply = pv_raw + add;
    double soc = c->bat_capacity_wh > 0 ? 100.0 * s->bat_wh / c->bat_capacity_wh : 0.0;

    /* Limits: hardware, narrowed by the user's power settings (rscp.md §9.7). */
    double hw_chg = c->batteries ? c->bat_max_charge_w : 0.0;
    double hw_dis = c->batteries ? c->bat_max_discharge_w : 0.0;
    double chg_lim = hw_chg, dis_lim = hw_dis;
    if (s->ps.limits_used) {
        chg_lim = mind(chg_lim, (double)s->ps.max_charge_w);
        dis_lim = mind(dis_lim, (double)s->ps.max_discharge_w);
    }
    s->charge_limit_w = chg_lim;
    s->discharge_limit_w = dis_lim;
    s->charge_idle = idle_active(s, 0, &l);
    s->discharge_idle = idle_active(s, 1, &l);

    /* Wallboxes: the car comes and goes; sun mode takes only the surplus. */
    double wb_total = 0.0;
    for (unsigned w = 0; w < c->wallboxes; w++) {
        ew_sim_wallbox *b = &s->wb[w];
        int away = car_away(s, w, &l);
        if (b->away && !away) /* back from a trip: the car used energy */
            b->car_wh =
                maxd(0.1 * c->car_capacity_wh,
                     b->car_wh - (6000.0 + 12000.0 * ew_sim_noise(s, ST_CAR + 8 * w + 3, l.day)));
        b->away = away;
        double p = 0.0;
        if (!away && !b->cancelled && b->car_wh < c->car_capacity_wh - 1e-6) {
            double min_w = 6.0 * b->phases * EW_SIM_PHASE_V;
            double max_w = (double)b->max_current_a * b->phases * EW_SIM_PHASE_V;
            if (b->sun_mode) {
                double avail = supply - house - wb_total;
                if (s->bbc_mode && soc < 90.0)
                    avail -= chg_lim;
                p = avail >= min_w ? mind(avail, max_w) : 0.0;
            } else {
                p = max_w;
            }
            p = mind(p, (c->car_capacity_wh - b->car_wh) * 3600.0 / rem_s);
        }
        b->power_w = p;
        wb_total += p;
    }

    /* Battery: manual modes first, then the normal regulation. */
    double surplus = supply - house - wb_total;
    double bat = 0.0;
    s->weather_wait = 0;
    s->sp_in_force =
        s->sp_mode != EW_E3DC_SIM_POWER_AUTO && t - s->sp_at_ms < EW_E3DC_SIM_SET_POWER_HOLD_MS;
    double derate_w = c->derate_fraction < 1.0 ? c->derate_fraction * c->pv_peak_w : 0.0;
    if (s->sp_in_force) {
        double v = s->sp_value_w > 0 ? (double)s->sp_value_w : 0.0;
        switch (s->sp_mode) {
        case EW_E3DC_SIM_POWER_DISCHARGE:
            bat = -mind(v, hw_dis);
            break;
        case EW_E3DC_SIM_POWER_CHARGE: /* DC systems: limited to PV (rscp.md §9.8) */
            bat = mind(mind(v, hw_chg), supply);
            break;
        case EW_E3DC_SIM_POWER_GRID_CHARGE:
            bat = mind(v, hw_chg);
            break;
        default: /* idle */
            bat = 0.0;
            break;
        }
    } else if (s->mc_active) {
        bat = mind(hw_chg, maxd(0.0, s->mc_target_wh - s->mc_done_wh) * 3600.0 / rem_s);
    } else if (surplus > 0.0) {
        bat = s->charge_idle ? 0.0 : mind(surplus, chg_lim);
        /* Weather-regulated charging: in the morning keep room for the midday
         * peak and store only what the feed-in limit would cut. */
        if (s->ps.weather_regulated && derate_w > 0.0 && l.hour < 12.0 && soc >= 40.0) {
            double allowed = maxd(0.0, surplus - derate_w);
            if (allowed < bat) {
                bat = allowed;
                s->weather_wait = 1;
            }
        }
    } else {
        double need = -surplus;
        if (!s->btc_mode) /* the battery does not feed the car */
            need = mind(need, maxd(0.0, house - supply));
        if (s->ps.limits_used && need < (double)s->ps.discharge_start_w)
            need = 0.0;
        if (s->discharge_idle)
            need = 0.0;
        bat = -mind(need, dis_lim);
    }
    /* Never past full or empty within this cell. */
    if (c->batteries && c->bat_capacity_wh > 0) {
        double max_in = (c->bat_capacity_wh - s->bat_wh) * 3600.0 / rem_s;
        double max_out = s->bat_wh * 3600.0 / rem_s;
        bat = clampd(bat, -maxd(max_out, 0.0), maxd(max_in, 0.0));
    } else {
        bat = 0.0;
    }

    /* Grid is the balance; export above the feed-in limit curtails PV.  A
     * residue of float rounding (the battery took exactly the surplus) is
     * no import or export. */
    double grid = house + wb_total + bat - supply;
    if (fabs(grid) < 1e-6)
        grid = 0.0;
    double pv = pv_raw;
    s->pv_derated = 0;
    if (derate_w > 0.0 && grid < -derate_w && pv_raw > 0.0) {
        double cut = mind(-grid - derate_w, pv_raw);
        pv = pv_raw - cut;
        grid += cut;
        s->pv_derated = cut > 1e-9;
    }
    double scale = pv_raw > 0.0 ? pv / pv_raw : 0.0;
    for (unsigned i = 0; i < c->pv_trackers; i++)
        s->tracker_w[i] = tracker[i] * scale;

    /* Solar share of the wallboxes, in wallbox order. */
    double solar_left = maxd(0.0, pv + add - house);
    double wb_solar = 0.0;
    for (unsigned w = 0; w < c->wallboxes; w++) {
        ew_sim_wallbox *b = &s->wb[w];
        b->solar_w = mind(b->power_w, solar_left);
        solar_left -= b->solar_w;
        wb_solar += b->solar_w;
    }

    s->pv_w = pv;
    s->add_w = add;
    s->house_w = house;
    s->wb_w = wb_total;
    s->wb_solar_w = wb_solar;
    s->bat_w = bat;
    s->grid_w = grid;
    s->cell_valid = 1;
    s->cell_start_ms = start;
    s->cell_len_ms = len_ms;
}

static void ensure_cell(ew_e3dc_sim *s, int64_t len_ms) {
    if (!s->cell_valid || s->cell_len_ms != len_ms || s->t_ms < s->cell_start_ms ||
        s->t_ms >= s->cell_start_ms + s->cell_len_ms)
        compute_cell(s, len_ms);
}

void ew_sim_changed(ew_e3dc_sim *s) {
    s->cell_valid = 0;
    ensure_cell(s, EW_SIM_CELL_MS);
}

/* ---- history ------------------------------------------------------------ */

static void history_reach(ew_e3dc_sim *s, int64_t n) {
    if (n <= s->h_last)
        return;
    int64_t from = s->h_last + 1;
    if (n - from >= (int64_t)s->hcap)
        from = n - (int64_t)s->hcap + 1;
    for (int64_t k = from; k <= n; k++)
        memset(&s->hist[(size_t)floor_mod(k, (int64_t)s->hcap)], 0, sizeof(ew_sim_bucket));
    s->h_last = n;
    if (s->h_last - s->h_first + 1 > (int64_t)s->hcap)
        s->h_first = s->h_last - (int64_t)s->hcap + 1;
}

/* ---- integration -------------------------------------------------------- */

void ew_sim_phase_powers(const ew_e3dc_sim *s, double grid_l[3], double inv_l[3], double add_l[3]) {
    static const double house_share[3] = {0.40, 0.35, 0.25};
    double wb_l[3] = {0.0, 0.0, 0.0};
    for (unsigned w = 0; w < s->cfg.wallboxes; w++) {
        const ew_sim_wallbox *b = &s->wb[w];
        if (b->phases == 1) {
            wb_l[0] += b->power_w;
        } else {
            for (int i = 0; i < 3; i++)
                wb_l[i] += b->power_w / 3.0;
        }
    }
    double inv = s->pv_w - s->bat_w; /* hybrid inverter: battery on the DC side */
    for (int i = 0; i < 3; i++) {
        if (s->cfg.pvi_phases == 1)
            inv_l[i] = i == 0 ? inv : 0.0;
        else
            inv_l[i] = inv / 3.0;
        add_l[i] = s->add_w / 3.0;
        grid_l[i] = s->house_w * house_share[i] + wb_l[i] - inv_l[i] - add_l[i];
    }
}

/* Applies the current cell's powers for |dt_ms| (within the cell). */
static void integrate(ew_e3dc_sim *s, int64_t dt_ms) {
    const ew_e3dc_sim_config *c = &s->cfg;
    double h = (double)dt_ms / 3600000.0, sec = (double)dt_ms / 1000.0;
    double soc0 = c->bat_capacity_wh > 0 ? 100.0 * s->bat_wh / c->bat_capacity_wh : 0.0;

    s->bat_wh = clampd(s->bat_wh + s->bat_w * h, 0.0, c->bat_capacity_wh);
    double soc1 = c->bat_capacity_wh > 0 ? 100.0 * s->bat_wh / c->bat_capacity_wh : 0.0;
    double bin = s->bat_w > 0 ? s->bat_w * h : 0.0, bout = s->bat_w < 0 ? -s->bat_w * h : 0.0;
    double imp = s->grid_w > 0 ? s->grid_w * h : 0.0, exp_ = s->grid_w < 0 ? -s->grid_w * h : 0.0;
    s->pv_wh += s->pv_w * h;
    s->add_wh += s->add_w * h;
    s->house_wh += s->house_w * h;
    s->wb_wh += s->wb_w * h;
    s->bat_in_wh += bin;
    s->bat_out_wh += bout;
    s->imp_wh += imp;
    s->exp_wh += exp_;
    if (s->bat_w < 0)
        s->bat_discharge_s += sec;
    for (unsigned i = 0; i < c->pv_trackers; i++)
        s->tracker_wh[i] += s->tracker_w[i] * h;
    if (s->mc_active) {
        s->mc_done_wh += bin;
        if (s->mc_done_wh >= s->mc_target_wh - 1e-6)
            s->mc_active = 0;
    }
    for (unsigned w = 0; w < c->wallboxes; w++) {
        ew_sim_wallbox *b = &s->wb[w];
        b->car_wh = mind(b->car_wh + b->power_w * h, c->car_capacity_wh);
        b->e_solar_wh += b->solar_w * h;
        b->e_grid_wh += (b->power_w - b->solar_w) * h;
        for (int i = 0; i < 3; i++)
            b->phase_wh[i] += (b->phases == 1 ? (i == 0 ? b->power_w : 0.0) : b->power_w / 3.0) * h;
    }
    double grid_l[3], inv_l[3], add_l[3];
    ew_sim_phase_powers(s, grid_l, inv_l, add_l);
    for (int i = 0; i < 3; i++) {
        if (inv_l[i] >= 0)
            s->pvi_ac_wh[i] += inv_l[i] * h;
        else
            s->pvi_ac_grid_wh[i] -= inv_l[i] * h;
        if (grid_l[i] >= 0)
            s->pm_imp_wh[i] += grid_l[i] * h;
        else
            s->pm_exp_wh[i] -= grid_l[i] * h;
    }

    int64_t n = ew_sim_floor_div(s->t_ms, EW_SIM_BUCKET_MS);
    history_reach(s, n);
    ew_sim_bucket *bk = &s->hist[(size_t)floor_mod(n, (int64_t)s->hcap)];
    bk->pv += s->pv_w * h;
    bk->add += s->add_w * h;
    bk->house += s->house_w * h;
    bk->wb += s->wb_w * h;
    bk->bat_in += bin;
    bk->bat_out += bout;
    bk->grid_imp += imp;
    bk->grid_exp += exp_;
    bk->soc_s += (soc0 + soc1) / 2.0 * sec;
    bk->secs += sec;
}

static void advance(ew_e3dc_sim *s, int64_t target_ms, int64_t len_ms) {
    while (s->t_ms < target_ms) {
        ensure_cell(s, len_ms);
        int64_t end = s->cell_start_ms + s->cell_len_ms;
        if (end > target_ms)
            end = target_ms;
        integrate(s, end - s->t_ms);
        s->t_ms = end;
    }
    ensure_cell(s, len_ms);
}

int ew_e3dc_sim_step(ew_e3dc_sim *sim, int64_t unix_time_ms) {
    if (!sim)
        return EW_ERR_INVAL;
    if (unix_time_ms < sim->t_ms)
        return EW_ERR_RANGE;
    advance(sim, unix_time_ms, EW_SIM_CELL_MS);
    return EW_OK;
}

int64_t ew_e3dc_sim_time(const ew_e3dc_sim *sim) {
    return sim->t_ms;
}

/* ---- creation ----------------------------------------------------------- */

static int copy_text(char *dst, const char *src, const char *def) {
    if (!src)
        src = def;
    size_t n = strlen(src);
    if (n > EW_E3DC_SIM_MAX_TEXT)
        return EW_ERR_INVAL;
    memcpy(dst, src, n + 1);
    return EW_OK;
}

static void *sim_alloc(const ew_mem *mem, size_t n) {
    return mem ? mem->malloc_fn(n, mem->user) : malloc(n);
}

static void sim_free(const ew_mem *mem, void *p) {
    if (!p)
        return;
    if (mem)
        mem->free_fn(p, mem->user);
    else
        free(p);
}

static int check_config(const ew_e3dc_sim_config *c) {
    if (c->nusers > EW_E3DC_SIM_MAX_USERS || (c->nusers && !c->users))
        return EW_ERR_INVAL;
    if (c->nswitches > EW_E3DC_SIM_MAX_SWITCHES || (c->nswitches && !c->switches))
        return EW_ERR_INVAL;
    if (c->pv_trackers < 1 || c->pv_trackers > EW_E3DC_SIM_MAX_TRACKERS)
        return EW_ERR_INVAL;
    if (c->pvi_phases != 1 && c->pvi_phases != 3)
        return EW_ERR_INVAL;
    if (c->batteries > EW_E3DC_SIM_MAX_BATTERIES || c->wallboxes > EW_E3DC_SIM_MAX_WALLBOXES)
        return EW_ERR_INVAL;
    if (c->dcbs < 1 || c->dcbs > EW_E3DC_SIM_MAX_DCBS || c->cells_series < 1 ||
        c->cells_series > EW_E3DC_SIM_MAX_CELLS || c->sensors < 1 ||
        c->sensors > EW_E3DC_SIM_MAX_SENSORS)
        return EW_ERR_INVAL;
    /* pye3dc probes power meters 0..7 (rscp.md §9.5); the additional meter
     * sits at root + 1. */
    if (c->pm_root_index > (c->ext_peak_w > 0 ? 6u : 7u))
        return EW_ERR_INVAL;
    if (c->history_days > EW_E3DC_SIM_MAX_HISTORY_DAYS)
        return EW_ERR_INVAL;
    if (c->utc_offset_s < -14 * 3600 || c->utc_offset_s > 14 * 3600)
        return EW_ERR_INVAL;
    /* NaN fails every comparison below, so it is rejected too. */
    if (!(c->pv_peak_w >= 0 && c->pv_peak_w <= 1e6 && c->ext_peak_w >= 0 && c->ext_peak_w <= 1e6 &&
          c->house_base_w >= 0 && c->house_base_w <= 1e5 && c->bat_capacity_wh >= 0 &&
          c->bat_capacity_wh <= 1e7 && c->bat_max_charge_w >= 0 && c->bat_max_charge_w <= 1e6 &&
          c->bat_max_discharge_w >= 0 && c->bat_max_discharge_w <= 1e6 && c->initial_soc_pct >= 0 &&
          c->initial_soc_pct <= 100 && c->car_capacity_wh > 0 && c->car_capacity_wh <= 1e6 &&
          c->derate_fraction > 0 && c->derate_fraction <= 10))
        return EW_ERR_INVAL;
    for (size_t i = 0; i < c->nusers; i++)
        if (!c->users[i].name || !c->users[i].password || c->users[i].level <= 0 ||
            c->users[i].level > 255)
            return EW_ERR_INVAL;
    for (size_t i = 0; i < c->nswitches; i++)
        if (!(c->switches[i].power_w >= 0 && c->switches[i].power_w <= 1e5))
            return EW_ERR_INVAL;
    return EW_OK;
}

int ew_e3dc_sim_new(ew_e3dc_sim **out, const ew_e3dc_sim_config *cfg, const ew_mem *mem) {
    ew_e3dc_sim_config defaults;
    if (!out)
        return EW_ERR_INVAL;
    *out = NULL;
    if (!cfg) {
        ew_e3dc_sim_config_init(&defaults);
        cfg = &defaults;
    }
    if (mem && (!mem->malloc_fn || !mem->free_fn))
        return EW_ERR_INVAL;
    int rc = check_config(cfg);
    if (rc < 0)
        return rc;

    ew_e3dc_sim *s = sim_alloc(mem, sizeof *s);
    if (!s)
        return EW_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    if (mem) {
        s->mem = *mem;
        s->have_mem = 1;
    }
    s->cfg = *cfg;
    const char *serial_def = cfg->pm_root_index == 6 ? "S10-501234567890" : "S10-741234567890";
    rc = copy_text(s->rscp_key, cfg->rscp_key, "my-rscp-key");
    if (!rc)
        rc = copy_text(s->time_zone, cfg->time_zone, "Europe/Berlin");
    if (!rc)
        rc = copy_text(s->serial, cfg->serial_number, serial_def);
    if (!rc)
        rc = copy_text(s->sw_release, cfg->sw_release, "S10_2024_06");
    if (!rc)
        rc = copy_text(s->mac, cfg->mac_address, "00:11:22:33:44:55");
    if (!rc)
        rc = copy_text(s->production_date, cfg->production_date, "KW22 2022");
    if (!rc)
        rc = copy_text(s->ip, cfg->ip_address, "192.168.178.50");
    s->nusers = (unsigned)cfg->nusers;
    for (unsigned i = 0; !rc && i < s->nusers; i++) {
        rc = copy_text(s->user_name[i], cfg->users[i].name, "");
        if (!rc)
            rc = copy_text(s->user_pw[i], cfg->users[i].password, "");
        s->user_level[i] = cfg->users[i].level;
    }
    s->nswitches = (unsigned)cfg->nswitches;
    for (unsigned i = 0; !rc && i < s->nswitches; i++) {
        rc = copy_text(s->sw_name[i], cfg->switches[i].name, "");
        s->sw_type[i] = cfg->switches[i].type;
        s->sw_power[i] = cfg->switches[i].power_w;
        s->sw_on[i] = cfg->switches[i].on != 0;
    }
    /* The copies own the strings; the pointers of the caller's config must
     * not be used after this function returns. */
    s->cfg.users = NULL;
    s->cfg.switches = NULL;
    s->cfg.rscp_key = s->cfg.time_zone = s->cfg.serial_number = s->cfg.sw_release = NULL;
    s->cfg.mac_address = s->cfg.production_date = s->cfg.ip_address = NULL;
    if (rc) {
        sim_free(mem, s);
        return rc;
    }

    /* History ring: the configured days plus two, so that today and
     * yesterday are whole even at the oldest end. */
    s->hcap = ((size_t)cfg->history_days + 2) * (86400 / EW_SIM_BUCKET_S);
    s->hist = sim_alloc(mem, s->hcap * sizeof(ew_sim_bucket));
    if (!s->hist) {
        sim_free(mem, s);
        return EW_ERR_NOMEM;
    }

    /* Settings as a fresh installation has them. */
    s->ps.limits_used = 0;
    s->ps.max_charge_w = (uint32_t)cfg->bat_max_charge_w;
    s->ps.max_discharge_w = (uint32_t)cfg->bat_max_discharge_w;
    s->ps.discharge_start_w = 65;
    s->ps.powersave = 1;
    s->ps.weather_regulated = 0;
    s->ps.weather_forecast_mode = 0;
    for (int ty = 0; ty < 2; ty++)
        for (int d = 0; d < 7; d++) {
            s->idle[ty][d].active = 0;
            s->idle[ty][d].start_h = 0;
            s->idle[ty][d].start_m = 0;
            s->idle[ty][d].end_h = 0;
            s->idle[ty][d].end_m = 0;
        }
    for (unsigned w = 0; w < cfg->wallboxes; w++) {
        ew_sim_wallbox *b = &s->wb[w];
        b->sun_mode = 1;
        b->phases = 1; /* sun mode starts at 6 A, 1.4 kW on one phase */
        b->max_current_a = 16;
        b->schuko = 0;
        b->car_wh = 0.5 * cfg->car_capacity_wh;
    }

    /* Backfill: run the model over the history period at one-minute cells,
     * starting at a bucket boundary with the initial state of charge. */
    int64_t t0 = cfg->start_time_ms - (int64_t)cfg->history_days * 86400000;
    t0 = ew_sim_floor_div(t0, EW_SIM_BUCKET_MS) * EW_SIM_BUCKET_MS;
    s->t_ms = s->install_ms = t0;
    s->bat_wh = cfg->bat_capacity_wh * cfg->initial_soc_pct / 100.0;
    s->sp_at_ms = INT64_MIN / 2;
    s->h_first = s->h_last = ew_sim_floor_div(t0, EW_SIM_BUCKET_MS);
    memset(&s->hist[(size_t)floor_mod(s->h_first, (int64_t)s->hcap)], 0, sizeof(ew_sim_bucket));
    ew_sim_local l;
    ew_sim_local_time(s, t0, &l);
    for (unsigned w = 0; w < cfg->wallboxes; w++)
        s->wb[w].away = car_away(s, w, &l);
    advance(s, cfg->start_time_ms, EW_SIM_BACKFILL_CELL_MS);
    s->cell_valid = 0;
    ensure_cell(s, EW_SIM_CELL_MS);
    *out = s;
    return EW_OK;
}

void ew_e3dc_sim_del(ew_e3dc_sim *sim) {
    if (!sim)
        return;
    ew_mem mem = sim->mem;
    const ew_mem *m = sim->have_mem ? &mem : NULL;
    sim_free(m, sim->hist);
    sim_free(m, sim);
}

const char *ew_e3dc_sim_rscp_key(const ew_e3dc_sim *sim) {
    return sim->rscp_key;
}

/* Compares without stopping at the first difference. */
static int same_text(const char *a, const char *b, size_t blen) {
    size_t alen = strlen(a);
    unsigned diff = (unsigned)(alen != blen);
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned)((unsigned char)(i < alen ? a[i] : 0) ^ (unsigned char)b[i]);
    return diff == 0;
}

int ew_e3dc_sim_check_login(const ew_e3dc_sim *sim, const char *user, size_t ulen,
                            const char *password, size_t plen) {
    int level = 0;
    if (!sim || (!user && ulen) || (!password && plen))
        return 0;
    for (unsigned i = 0; i < sim->nusers; i++) {
        int ok = same_text(sim->user_name[i], user ? user : "", ulen) &
                 same_text(sim->user_pw[i], password ? password : "", plen);
        if (ok && !level)
            level = sim->user_level[i];
    }
    return level;
}

/* ---- read access -------------------------------------------------------- */

void ew_e3dc_sim_get_model(const ew_e3dc_sim *s, ew_e3dc_sim_model *m) {
    const ew_e3dc_sim_config *c = &s->cfg;
    memset(m, 0, sizeof *m);
    m->time_ms = s->t_ms;
    m->pv_w = s->pv_w;
    m->add_w = s->add_w;
    m->house_w = s->house_w;
    m->wallbox_w = s->wb_w;
    m->wallbox_solar_w = s->wb_solar_w;
    m->battery_w = s->bat_w;
    m->grid_w = s->grid_w;
    m->battery_wh = s->bat_wh;
    m->soc_pct = c->bat_capacity_wh > 0 ? 100.0 * s->bat_wh / c->bat_capacity_wh : 0.0;
    double cons = s->house_w + s->wb_w, prod = s->pv_w + s->add_w;
    m->autarky_pct = cons > 0 ? clampd(100.0 * (1.0 - maxd(s->grid_w, 0.0) / cons), 0, 100) : 100;
    m->self_consumption_pct =
        prod > 0 ? clampd(100.0 * (1.0 - maxd(-s->grid_w, 0.0) / prod), 0, 100) : 0.0;
    m->charge_limit_w = s->charge_limit_w;
    m->discharge_limit_w = s->discharge_limit_w;
    m->ntrackers = c->pv_trackers;
    for (unsigned i = 0; i < c->pv_trackers; i++)
        m->tracker_w[i] = s->tracker_w[i];
    m->pv_derated = s->pv_derated;
    int in_force = s->sp_mode != EW_E3DC_SIM_POWER_AUTO &&
                   s->t_ms - s->sp_at_ms < EW_E3DC_SIM_SET_POWER_HOLD_MS;
    m->set_power_mode = in_force ? s->sp_mode : EW_E3DC_SIM_POWER_AUTO;
    m->set_power_w = in_force ? s->sp_value_w : 0;
    m->manual_charge_active = s->mc_active;
    m->manual_charge_wh = s->mc_done_wh;

    /* EMS_SYS_STATUS bits as pye3dc names them (rscp.md §9.1). */
    uint32_t st = (1u << 0) | (1u << 1) | (c->batteries ? 1u << 2 : 0) | (1u << 3) | (1u << 4) |
                  (1u << 5) | (1u << 7) | (1u << 11);
    if (s->pv_derated)
        st |= 1u << 6;
    if (c->wallboxes)
        st |= 1u << 14;
    if (s->ps.powersave)
        st |= 1u << 15;
    if (s->charge_idle)
        st |= 1u << 16;
    if (s->discharge_idle)
        st |= 1u << 17;
    if (s->weather_wait)
        st |= 1u << 18;
    m->sys_status = st;
    /* EMS_STATUS bits as rscp2mqtt reads them: 1 charging lock, 2
     * discharging lock, 4 emergency power available, 8 charging throttled,
     * 16 feed-in limit active, 32/64 charge/discharge idle time. */
    uint32_t es = 4;
    int sp_idle = in_force && s->sp_mode == EW_E3DC_SIM_POWER_IDLE;
    if (s->charge_idle || sp_idle || (in_force && s->sp_mode == EW_E3DC_SIM_POWER_DISCHARGE))
        es |= 1;
    if (s->discharge_idle || sp_idle ||
        (in_force &&
         (s->sp_mode == EW_E3DC_SIM_POWER_CHARGE || s->sp_mode == EW_E3DC_SIM_POWER_GRID_CHARGE)))
        es |= 2;
    if (s->ps.limits_used && s->charge_limit_w < c->bat_max_charge_w)
        es |= 8;
    if (s->pv_derated)
        es |= 16;
    if (s->charge_idle)
        es |= 32;
    if (s->discharge_idle)
        es |= 64;
    m->ems_status = es;

    m->nwallboxes = c->wallboxes;
    for (unsigned w = 0; w < c->wallboxes; w++) {
        const ew_sim_wallbox *b = &s->wb[w];
        ew_e3dc_sim_wallbox_state *o = &m->wallbox[w];
        o->plugged = !b->away;
        o->charging = b->power_w > 0;
        o->cancelled = b->cancelled;
        o->sun_mode = b->sun_mode;
        o->phases = b->phases;
        o->max_current_a = b->max_current_a;
        o->schuko_on = b->schuko;
        o->power_w = b->power_w;
        o->solar_w = b->solar_w;
        o->car_soc_pct = 100.0 * b->car_wh / c->car_capacity_wh;
        o->energy_solar_wh = b->e_solar_wh;
        o->energy_grid_wh = b->e_grid_wh;
    }
    m->nswitches = s->nswitches;
    for (unsigned i = 0; i < s->nswitches; i++)
        m->switch_on[i] = s->sw_on[i];
    m->pv_wh = s->pv_wh;
    m->add_wh = s->add_wh;
    m->house_wh = s->house_wh;
    m->wallbox_wh = s->wb_wh;
    m->bat_charge_wh = s->bat_in_wh;
    m->bat_discharge_wh = s->bat_out_wh;
    m->grid_import_wh = s->imp_wh;
    m->grid_export_wh = s->exp_wh;
}

void ew_e3dc_sim_get_power_settings(const ew_e3dc_sim *sim, ew_e3dc_sim_power_settings *out) {
    *out = sim->ps;
}

int ew_e3dc_sim_history(const ew_e3dc_sim *s, int64_t start_s, int64_t span_s,
                        ew_e3dc_sim_energy *out) {
    memset(out, 0, sizeof *out);
    if (span_s <= 0)
        return 0;
    /* Buckets whose start lies in [start, start + span). */
    int64_t k0 = -ew_sim_floor_div(-start_s, EW_SIM_BUCKET_S);
    int64_t k1 = -ew_sim_floor_div(-(start_s + span_s), EW_SIM_BUCKET_S);
    if (k0 < s->h_first)
        k0 = s->h_first;
    if (k1 > s->h_last + 1)
        k1 = s->h_last + 1;
    double soc_s = 0.0;
    int n = 0;
    for (int64_t k = k0; k < k1; k++) {
        const ew_sim_bucket *b = &s->hist[(size_t)floor_mod(k, (int64_t)s->hcap)];
        if (b->secs <= 0.0)
            continue;
        n++;
        out->pv_wh += b->pv;
        out->add_wh += b->add;
        out->house_wh += b->house;
        out->wallbox_wh += b->wb;
        out->bat_charge_wh += b->bat_in;
        out->bat_discharge_wh += b->bat_out;
        out->grid_import_wh += b->grid_imp;
        out->grid_export_wh += b->grid_exp;
        soc_s += b->soc_s;
        out->seconds += b->secs;
    }
    out->consumption_wh = out->house_wh + out->wallbox_wh;
    out->soc_avg_pct = out->seconds > 0 ? soc_s / out->seconds : 0.0;
    return n;
}

/* ---- derived battery values ---------------------------------------------- */

double ew_sim_cell_voltage(const ew_e3dc_sim *s, unsigned bat, unsigned dcb, unsigned cell) {
    const ew_e3dc_sim_config *c = &s->cfg;
    double soc = c->bat_capacity_wh > 0 ? s->bat_wh / c->bat_capacity_wh : 0.0;
    /* NMC-like open-circuit curve plus a small IR term and a fixed per-cell
     * spread of a few millivolts. */
    double ocv = 3.30 + 0.75 * soc + 0.08 * sin(PI * soc);
    double strings = c->batteries ? (double)c->batteries : 1.0;
    double v_nom = (double)(c->dcbs * c->cells_series) * 3.7;
    double current = v_nom > 0 ? s->bat_w / strings / v_nom : 0.0;
    int64_t id = ((int64_t)bat << 24) | ((int64_t)dcb << 12) | cell;
    return ocv + 0.0015 * current + 0.006 * (ew_sim_noise(s, 200, id) - 0.5);
}

double ew_sim_cell_temp_c(const ew_e3dc_sim *s, unsigned bat, unsigned dcb, unsigned sensor) {
    ew_sim_local l;
    ew_sim_local_time(s, s->t_ms, &l);
    /* Room temperature with the seasons, warmer under load. */
    double room = 19.0 + 4.0 * season_of(&l);
    double load = s->cfg.bat_max_charge_w > 0 ? fabs(s->bat_w) / s->cfg.bat_max_charge_w : 0.0;
    int64_t id = ((int64_t)bat << 24) | ((int64_t)dcb << 12) | sensor;
    return room + 4.0 * load + 1.5 * ew_sim_noise(s, 201, id);
}
