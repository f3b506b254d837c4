/*
 * The device behind a simulated EP peer (include/energywire/ep_sim.h).
 *
 * EP defines the status messages but no request/accept/stop exchange and no
 * rule to match a Demand against a Supply (ep.md §5.6).  The model uses the
 * rule documented in ep_sim.h: the agreed power is the smaller of what the
 * consumer demands and what the supplier offers, and a transfer is active
 * while that is above zero.  Both ends compute it from the same two messages,
 * so they agree without a further exchange.
 */
#include <energywire/ep_sim.h>

#include <math.h>
#include <string.h>

const char *ew_ep_sim_role_name(int role) {
    switch (role) {
    case EW_EP_SIM_CHARGER:
        return "charger";
    case EW_EP_SIM_VEHICLE:
        return "vehicle";
    case EW_EP_SIM_BATTERY:
        return "battery";
    default:
        return NULL;
    }
}

int ew_ep_sim_role_parse(const char *name) {
    for (int r = EW_EP_SIM_CHARGER; name && r <= EW_EP_SIM_BATTERY; r++)
        if (!strcmp(name, ew_ep_sim_role_name(r)))
            return r;
    return 0;
}

void ew_ep_sim_opts_init(ew_ep_sim_opts *o, ew_ep_sim_role role) {
    memset(o, 0, sizeof *o);
    o->role = role;
    o->voltage_min_v = 200;
    o->voltage_max_v = 920;
    o->hysteresis_pct = 5;
    o->soc_min_pct = 10;
    o->soc_max_pct = 95;
    o->peer_stale_ms = 1000;
    switch (role) {
    case EW_EP_SIM_VEHICLE:
        o->voltage_v = 400;
        o->current_max_a = 125;
        o->power_max_w = 50000;
        o->capacity_wh = 60000;
        o->soc_pct = 20;
        o->soc_target_pct = 80;
        break;
    case EW_EP_SIM_BATTERY:
        o->voltage_v = 400;
        o->voltage_min_v = 300;
        o->voltage_max_v = 500;
        o->current_max_a = 25;
        o->power_max_w = 5000;
        o->capacity_wh = 10000;
        o->soc_pct = 50;
        o->soc_target_pct = 50;
        break;
    default:
        o->voltage_v = 400;
        o->current_max_a = 32;
        o->power_max_w = 11000;
        break;
    }
}

static int supplying(const ew_ep_sim *s) {
    return s->o.role == EW_EP_SIM_CHARGER ||
           (s->o.role == EW_EP_SIM_BATTERY && s->battery_supplying);
}

static int demanding(const ew_ep_sim *s) {
    return s->o.role == EW_EP_SIM_VEHICLE ||
           (s->o.role == EW_EP_SIM_BATTERY && !s->battery_supplying);
}

/* What the device could take now, before looking at the peer (W). */
static double own_demand_w(const ew_ep_sim *s) {
    double full = s->o.role == EW_EP_SIM_VEHICLE ? s->o.soc_target_pct : s->o.soc_max_pct;
    if (s->soc_pct >= full)
        return 0;
    return fmin(s->o.power_max_w, s->o.current_max_a * s->o.voltage_v);
}

/* What the device could deliver now at |volts| (W). */
static double own_supply_w(const ew_ep_sim *s, double volts) {
    if (s->o.role == EW_EP_SIM_BATTERY && s->soc_pct <= s->o.soc_min_pct)
        return 0;
    return fmin(s->o.power_max_w, s->o.current_max_a * volts);
}

/* The most the peer's Supply offers at our voltage (W); 0 when it offers
 * nothing we can use (voltage outside its bounds, no limits given). */
static double peer_offer_w(const ew_ep_sim *s) {
    const ew_ep_sim_peer *p = &s->peer;
    double v = s->o.voltage_v;
    if (!(p->has & EW_EP_SIM_HAS_SUPPLY))
        return 0;
    if ((p->sup_present & EW_EP_HAS(0)) && (v < p->sup_vmin || v > p->sup_vmax))
        return 0;
    double offer = INFINITY;
    if (p->sup_present & EW_EP_HAS(2))
        offer = p->sup_pmax;
    if (p->sup_present & EW_EP_HAS(1))
        offer = fmin(offer, p->sup_imax * v);
    return isinf(offer) || offer < 0 ? 0 : offer;
}

/* The peer's demanded voltage, or our own when it gave none. */
static double peer_volts(const ew_ep_sim *s) {
    return (s->peer.dem_present & EW_EP_HAS(0)) && s->peer.dem_v > 0 ? s->peer.dem_v
                                                                     : s->o.voltage_v;
}

/* The power the peer's Demand asks for (W); a reverse demand (negative
 * current, ep.md §4.5) is not simulated and counts as none. */
static double peer_demand_w(const ew_ep_sim *s) {
    const ew_ep_sim_peer *p = &s->peer;
    if (!(p->has & EW_EP_SIM_HAS_DEMAND))
        return 0;
    double want = INFINITY;
    if (p->dem_present & EW_EP_HAS(4))
        want = p->dem_pmax;
    if (p->dem_present & EW_EP_HAS(1))
        want = fmin(want, peer_volts(s) * p->dem_i);
    return isinf(want) || want < 0 ? 0 : want;
}

static void agree(ew_ep_sim *s) {
    double p = 0;
    if (supplying(s) && (s->peer.has & EW_EP_SIM_HAS_DEMAND)) {
        double v = peer_volts(s);
        if (v >= s->o.voltage_min_v && v <= s->o.voltage_max_v)
            p = -fmin(peer_demand_w(s), own_supply_w(s, v));
    } else if (demanding(s) && (s->peer.has & EW_EP_SIM_HAS_SUPPLY)) {
        p = fmin(own_demand_w(s), peer_offer_w(s));
    }
    /* Below 1 W nothing is switched on. */
    s->power_w = fabs(p) < 1 ? 0 : p;
}

/* Drops the peer's kinds that were not refreshed in time. */
static void expire(ew_ep_sim *s) {
    ew_ep_sim_peer *p = &s->peer;
    if (!s->o.peer_stale_ms)
        return;
    for (unsigned k = 0; k < 3; k++) {
        if ((p->has & (1u << k)) && s->now_ms - p->seen_ms[k] > s->o.peer_stale_ms) {
            p->has &= ~(1u << k);
            if (k == 0)
                p->sup_present = 0;
            else if (k == 1)
                p->dem_present = 0;
            else
                p->sto_present = 0;
        }
    }
}

int ew_ep_sim_init(ew_ep_sim *s, const ew_ep_sim_opts *o, uint64_t now_ms) {
    ew_ep_sim_opts def;
    if (!s)
        return EW_ERR_INVAL;
    if (!o) {
        ew_ep_sim_opts_init(&def, EW_EP_SIM_CHARGER);
        o = &def;
    }
    if (!ew_ep_sim_role_name(o->role) || !(o->voltage_v > 0) || !(o->current_max_a > 0) ||
        !(o->power_max_w > 0) || !(o->voltage_min_v <= o->voltage_max_v))
        return EW_ERR_INVAL;
    if (o->role != EW_EP_SIM_CHARGER &&
        (!(o->capacity_wh > 0) || !(o->soc_pct >= 0 && o->soc_pct <= 100) ||
         !(o->soc_target_pct >= 0 && o->soc_target_pct <= 100) || !(o->hysteresis_pct >= 0) ||
         !(o->soc_min_pct >= 0 && o->soc_min_pct <= o->soc_max_pct && o->soc_max_pct <= 100)))
        return EW_ERR_INVAL;
    memset(s, 0, sizeof *s);
    s->o = *o;
    s->now_ms = now_ms;
    s->started = 1;
    s->soc_pct = o->role == EW_EP_SIM_CHARGER ? 0 : o->soc_pct;
    s->battery_supplying = s->soc_pct > o->soc_target_pct;
    return EW_OK;
}

void ew_ep_sim_step(ew_ep_sim *s, uint64_t now_ms) {
    if (!s || !s->started)
        return;
    if (now_ms > s->now_ms) {
        double h = (double)(now_ms - s->now_ms) / 3600000.0;
        s->now_ms = now_ms;
        s->energy_wh += fabs(s->power_w) * h;
        if (s->o.role != EW_EP_SIM_CHARGER && s->power_w != 0) {
            double soc = s->soc_pct + s->power_w * h / s->o.capacity_wh * 100.0;
            /* A big step (a fast model clock) must not run past the point
             * where the device would have stopped. */
            double hi = s->o.role == EW_EP_SIM_VEHICLE ? fmax(s->o.soc_target_pct, s->soc_pct)
                                                       : s->o.soc_max_pct;
            double lo = s->o.role == EW_EP_SIM_BATTERY ? fmin(s->o.soc_min_pct, s->soc_pct) : 0;
            s->soc_pct = fmin(hi, fmax(lo, soc));
        }
        if (s->o.role == EW_EP_SIM_BATTERY) {
            double t = s->o.soc_target_pct, hy = s->o.hysteresis_pct;
            if (s->battery_supplying && s->soc_pct <= t - hy)
                s->battery_supplying = 0;
            else if (!s->battery_supplying && s->soc_pct >= t + hy)
                s->battery_supplying = 1;
        }
    }
    expire(s);
    agree(s);
}

void ew_ep_sim_on_msg(ew_ep_sim *s, const ew_ep_msg *m, uint64_t now_ms) {
    if (!s || !m || !s->started)
        return;
    ew_ep_sim_step(s, now_ms);
    ew_ep_sim_peer *p = &s->peer;
    unsigned pr = m->present;
    switch (m->type) {
    case EW_EP_MSG_SUPPLY: {
        const ew_ep_supply *u = &m->u.supply;
        p->has |= EW_EP_SIM_HAS_SUPPLY;
        p->seen_ms[0] = s->now_ms;
        p->sup_present |= pr & (EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(2));
        if (pr & EW_EP_HAS(0)) {
            p->sup_vmin = u->voltage_limit.min.value;
            p->sup_vmax = u->voltage_limit.max.value;
        }
        if (pr & EW_EP_HAS(1)) {
            p->sup_imin = u->current_limit.min.value;
            p->sup_imax = u->current_limit.max.value;
        }
        if (pr & EW_EP_HAS(2))
            p->sup_pmax = u->power_limit.value;
        break;
    }
    case EW_EP_MSG_DEMAND: {
        const ew_ep_demand *u = &m->u.demand;
        p->has |= EW_EP_SIM_HAS_DEMAND;
        p->seen_ms[1] = s->now_ms;
        p->dem_present |= pr & 0x1fu;
        if (pr & EW_EP_HAS(0))
            p->dem_v = u->voltage.value;
        if (pr & EW_EP_HAS(1))
            p->dem_i = u->current.value;
        if (pr & EW_EP_HAS(2))
            p->dem_vmax = u->voltage_limit.value;
        if (pr & EW_EP_HAS(3))
            p->dem_imax = u->current_limit.value;
        if (pr & EW_EP_HAS(4))
            p->dem_pmax = u->power_limit.value;
        break;
    }
    case EW_EP_MSG_STORAGE: {
        const ew_ep_storage *u = &m->u.storage;
        p->has |= EW_EP_SIM_HAS_STORAGE;
        p->seen_ms[2] = s->now_ms;
        p->sto_present |= pr & 0xfu;
        if (pr & EW_EP_HAS(0))
            p->soc = u->soc.value;
        if (pr & EW_EP_HAS(1))
            p->soc_target = u->soc_target.value;
        if (pr & EW_EP_HAS(3))
            p->capacity = u->capacity.value;
        break;
    }
    default:
        return;
    }
    agree(s);
}

void ew_ep_sim_peer_lost(ew_ep_sim *s, uint64_t now_ms) {
    if (!s || !s->started)
        return;
    ew_ep_sim_step(s, now_ms);
    memset(&s->peer, 0, sizeof s->peer);
    agree(s);
}

/* A number rounded to |step|, written as an integer when it is one. */
static ew_ep_number rnum(double v, double step) {
    double r = round(v / step) * step;
    if (r == 0)
        r = 0; /* no -0.0 on the wire */
    if (fabs(r) < 9e15 && r == floor(r))
        return ew_ep_num_int((int64_t)r);
    return ew_ep_num(r);
}

static ew_ep_bounds bounds(int vtype, double lo, double hi, double step) {
    ew_ep_bounds b;
    b.vtype = vtype;
    b.min = rnum(lo, step);
    b.max = rnum(hi, step);
    return b;
}

int ew_ep_sim_params(ew_ep_sim *s, uint32_t type, ew_ep_msg *m) {
    if (!s || !m || !s->started)
        return 0;
    memset(m, 0, sizeof *m);
    m->type = type;
    double pw = fabs(s->power_w);
    switch (type) {
    case EW_EP_MSG_SUPPLY: {
        if (!supplying(s))
            return 0;
        ew_ep_supply *u = &m->u.supply;
        double v = pw > 0 ? peer_volts(s) : 0;
        u->voltage_limit = bounds(EW_EP_VT_VOLTAGE, s->o.voltage_min_v, s->o.voltage_max_v, 0.1);
        u->current_limit = bounds(EW_EP_VT_CURRENT, 0, s->o.current_max_a, 0.1);
        u->power_limit = rnum(own_supply_w(s, s->o.voltage_v), 1);
        u->voltage = rnum(v, 0.1);
        u->current = rnum(v > 0 ? pw / v : 0, 0.1);
        m->present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(2) | EW_EP_HAS(5) | EW_EP_HAS(6);
        if (s->o.role == EW_EP_SIM_CHARGER) {
            /* A grid charger with a rooftop share; an isolation monitor that
             * reads well above the 100 Ω/V guidance at 1000 V. */
            s->mix[0].source = 0x09; /* LocalSolar */
            s->mix[0].amount = ew_ep_num_int(40);
            s->mix[1].source = 0x01; /* Wind */
            s->mix[1].amount = ew_ep_num_int(35);
            s->mix[2].source = 0x05; /* Gas */
            s->mix[2].amount = ew_ep_num_int(25);
            u->power_mix.items = s->mix;
            u->power_mix.count = 3;
            u->isolation.state = 1;
            u->isolation.has_negative = u->isolation.has_positive = 1;
            u->isolation.negative_ohms = ew_ep_num_int(500000);
            u->isolation.positive_ohms = ew_ep_num_int(500000);
            m->present |= EW_EP_HAS(3) | EW_EP_HAS(7);
        }
        return 1;
    }
    case EW_EP_MSG_DEMAND: {
        if (!demanding(s))
            return 0;
        ew_ep_demand *u = &m->u.demand;
        double v = s->o.voltage_v;
        double want = own_demand_w(s);
        /* Never ask for more than the peer offers (ep.md §6.1: each side
         * consumes the other's parameters). */
        if (s->peer.has & EW_EP_SIM_HAS_SUPPLY)
            want = fmin(want, peer_offer_w(s));
        u->voltage = rnum(v, 0.1);
        u->current = rnum(want / v, 0.1);
        u->voltage_limit = rnum(s->o.role == EW_EP_SIM_BATTERY ? s->o.voltage_max_v : v * 1.1, 0.1);
        u->current_limit = rnum(s->o.current_max_a, 0.1);
        u->power_limit = rnum(want, 1);
        m->present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(2) | EW_EP_HAS(3) | EW_EP_HAS(4);
        double full = s->o.role == EW_EP_SIM_VEHICLE ? s->o.soc_target_pct : s->o.soc_max_pct;
        if (s->power_w > 0 && s->soc_pct < full) {
            double ms = (full - s->soc_pct) / 100.0 * s->o.capacity_wh / s->power_w * 3600000.0;
            u->duration = rnum(ms, 1000);
            m->present |= EW_EP_HAS(5);
        }
        return 1;
    }
    case EW_EP_MSG_STORAGE: {
        if (s->o.role == EW_EP_SIM_CHARGER)
            return 0;
        ew_ep_storage *u = &m->u.storage;
        u->soc = rnum(s->soc_pct, 0.01);
        u->soc_target = rnum(s->o.soc_target_pct, 0.01);
        u->capacity = rnum(s->o.capacity_wh, 1);
        m->present = EW_EP_HAS(0) | EW_EP_HAS(1) | EW_EP_HAS(3);
        double gap = s->o.soc_target_pct - s->soc_pct;
        if ((s->power_w > 0 && gap > 0) || (s->power_w < 0 && gap < 0)) {
            double ms = fabs(gap) / 100.0 * s->o.capacity_wh / pw * 3600000.0;
            u->soc_target_time = rnum(ms, 1000);
            m->present |= EW_EP_HAS(2);
        }
        return 1;
    }
    default:
        return 0;
    }
}

int ew_ep_sim_transfer(const ew_ep_sim *s) {
    return s && s->power_w != 0;
}

void ew_ep_sim_get_state(const ew_ep_sim *s, ew_ep_sim_state *st) {
    memset(st, 0, sizeof *st);
    if (!s)
        return;
    st->now_ms = s->now_ms;
    st->transfer = s->power_w != 0;
    st->power_w = s->power_w;
    st->soc_pct = s->soc_pct;
    st->energy_wh = s->energy_wh;
    st->supplying = supplying(s);
    st->demanding = demanding(s);
    st->peer_has = s->peer.has;
}
