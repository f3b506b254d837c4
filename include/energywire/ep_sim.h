/*
 * energywire EP peer model (library energywire_sim): the device behind a
 * simulated EnergyNet peer, sans-I/O.
 *
 * The model is fed the peer's Supply/Demand/Storage messages and a time (ms,
 * the caller's model clock) and produces the own parameter messages to
 * publish.  It never touches a socket, a clock or stdout; `energywire sim
 * ep` (docs/cli-sim.md) drives it from an EP node.  Three devices:
 *
 *  - charger: publishes Supply (voltage and current bounds, power limit,
 *    source mix, isolation, measured voltage and current).  Its delivered
 *    power follows the peer's Demand, capped by its own power limit.
 *  - vehicle: publishes Demand and Storage.  It limits its demand to what
 *    the peer's Supply offers; its state of charge rises while charging and
 *    the demand drops to zero at the target.
 *  - battery: a home battery.  Publishes Storage, plus Supply above its
 *    switch-over state of charge and Demand below it (with hysteresis).
 *
 * Agreement (ep.md §5.6 leaves transfer control to the application; this
 * is ours): a side that publishes Supply delivers when the peer publishes a
 * Demand with positive power; a side that publishes Demand takes energy
 * when the peer publishes Supply whose voltage bounds hold its voltage.  The
 * agreed power is the smaller of the demand and the supply limits (power
 * limit, and current limit times voltage).  A transfer is active while the
 * agreed power is above zero; the caller passes that to
 * ew_ep_conn_set_transfer() (ep.md §5.5 "ongoing energy transfer").
 *
 * Power sign in ew_ep_sim_state: |power_w| > 0 means energy flows into this
 * device (charging), < 0 out of it (supplying).
 */
#ifndef ENERGYWIRE_EP_SIM_H
#define ENERGYWIRE_EP_SIM_H

#include <energywire/ep.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ew_ep_sim_role {
    EW_EP_SIM_CHARGER = 1,
    EW_EP_SIM_VEHICLE = 2,
    EW_EP_SIM_BATTERY = 3
} ew_ep_sim_role;

/* Returns "charger", "vehicle", "battery", or NULL. */
EW_API const char *ew_ep_sim_role_name(int role);
/* Parses a role name; returns the role or 0 when unknown. */
EW_API int ew_ep_sim_role_parse(const char *name);

typedef struct ew_ep_sim_opts {
    ew_ep_sim_role role;
    /* Own voltage: the vehicle's or battery's battery voltage, the charger's
     * nominal output (default 400 V for all three). */
    double voltage_v;
    /* Supply voltage bounds, published by a supplier and checked against
     * the peer's demanded voltage (defaults: charger 200..920 V, battery
     * 300..500 V). */
    double voltage_min_v, voltage_max_v;
    /* Most current (A) and power (W) this device supplies or takes
     * (defaults: charger 32 A, 11000 W; vehicle 125 A, 50000 W; battery
     * 25 A, 5000 W). */
    double current_max_a, power_max_w;
    /* Storage: capacity in Wh (vehicle 60000, battery 10000), state of
     * charge at the start and target in % (vehicle 20 -> 80, battery 50;
     * for the battery the target is the switch-over point). */
    double capacity_wh, soc_pct, soc_target_pct;
    /* Battery: width of the band around the switch-over point (default 5
     * points) and the lowest and highest state of charge it goes to
     * (defaults 10 and 95). */
    double hysteresis_pct, soc_min_pct, soc_max_pct;
    /* The peer's Supply, Demand or Storage is forgotten when no message of
     * that kind arrived for this long (model ms; default 1000; 0 = never):
     * a peer that stops publishing a kind no longer offers or asks for it
     * (ep.md §5.5: parameters are sent constantly while they hold). */
    uint64_t peer_stale_ms;
} ew_ep_sim_opts;

/* Fills |o| with the defaults of |role|. */
EW_API void ew_ep_sim_opts_init(ew_ep_sim_opts *o, ew_ep_sim_role role);

/* What the model last saw of the peer.  Units as on the wire. */
typedef struct ew_ep_sim_peer {
    unsigned has;                                            /* EW_EP_SIM_HAS_* */
    double sup_vmin, sup_vmax, sup_imin, sup_imax, sup_pmax; /* Supply */
    unsigned sup_present;
    double dem_v, dem_i, dem_vmax, dem_imax, dem_pmax; /* Demand */
    unsigned dem_present;
    double soc, soc_target, capacity; /* Storage */
    unsigned sto_present;
    uint64_t seen_ms[3]; /* last Supply, Demand, Storage (model ms) */
} ew_ep_sim_peer;

#define EW_EP_SIM_HAS_SUPPLY 0x1u
#define EW_EP_SIM_HAS_DEMAND 0x2u
#define EW_EP_SIM_HAS_STORAGE 0x4u

/* The model: a struct the caller owns.  Fields are private; read them with
 * ew_ep_sim_get_state(). */
typedef struct ew_ep_sim {
    ew_ep_sim_opts o;
    ew_ep_sim_peer peer;
    uint64_t now_ms;
    int started;
    double soc_pct;
    double power_w; /* agreed, signed as in ew_ep_sim_state */
    double energy_wh;
    int battery_supplying; /* battery mode: 1 supply, 0 demand */
    ew_ep_mix_entry mix[3];
} ew_ep_sim;

/*
 * Prepares |s| with options |o| (NULL: the charger's defaults) at model
 * time |now_ms|.  Returns `EW_OK` or `EW_ERR_INVAL` (unknown role, a limit
 * that is not positive, a state of charge outside 0..100, no capacity for
 * a vehicle or battery).
 *
 * Example:
 *
 *     ew_ep_sim_opts o;
 *     ew_ep_sim_opts_init(&o, EW_EP_SIM_VEHICLE);
 *     ew_ep_sim s;
 *     ew_ep_sim_init(&s, &o, 0);
 *     ew_ep_sim_on_msg(&s, &peer_supply, 0);        // from the session
 *     ew_ep_sim_step(&s, 1000);
 *     ew_ep_msg m;
 *     if (ew_ep_sim_params(&s, EW_EP_MSG_DEMAND, &m))
 *         ew_ep_conn_set_params(c, &m);
 *     ew_ep_conn_set_transfer(c, ew_ep_sim_transfer(&s), conn_now_ms);
 */
EW_API int ew_ep_sim_init(ew_ep_sim *s, const ew_ep_sim_opts *o, uint64_t now_ms);

/*
 * Takes a message from the peer at model time |now_ms| (the model first
 * advances to it).  Supply, Demand and Storage replace what was known of
 * that kind, field by field as present; other types are ignored.  Nothing
 * of |m| is kept (views may go away).
 */
EW_API void ew_ep_sim_on_msg(ew_ep_sim *s, const ew_ep_msg *m, uint64_t now_ms);

/* Forgets the peer (its session ended): the transfer stops. */
EW_API void ew_ep_sim_peer_lost(ew_ep_sim *s, uint64_t now_ms);

/* Advances the model to |now_ms| (earlier times are ignored): integrates
 * the state of charge and the energy at the agreed power, then agrees
 * again. */
EW_API void ew_ep_sim_step(ew_ep_sim *s, uint64_t now_ms);

/*
 * Fills |m| with the own parameters of |type| (EW_EP_MSG_SUPPLY, _DEMAND or
 * _STORAGE).  Views in |m| point into |s| and stay valid until the next
 * call on |s|.  Returns 1 when the device publishes that type now, 0 when
 * it does not (the caller then stops publishing it).
 */
EW_API int ew_ep_sim_params(ew_ep_sim *s, uint32_t type, ew_ep_msg *m);

/* 1 while a transfer is active (agreed power above zero). */
EW_API int ew_ep_sim_transfer(const ew_ep_sim *s);

typedef struct ew_ep_sim_state {
    uint64_t now_ms;
    int transfer;
    double power_w;   /* > 0 into this device, < 0 out of it */
    double soc_pct;   /* vehicle, battery; 0 for a charger */
    double energy_wh; /* energy moved since the start, always >= 0 */
    int supplying;    /* 1 when the device publishes Supply now */
    int demanding;    /* 1 when it publishes Demand now */
    unsigned peer_has;
} ew_ep_sim_state;
EW_API void ew_ep_sim_get_state(const ew_ep_sim *s, ew_ep_sim_state *st);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_EP_SIM_H */
