/*
 * energywire device simulators: plant models and request handlers.
 *
 * Sans-I/O like the codecs: nothing here opens a socket, reads a clock or
 * prints.  Time is an input (`ew_e3dc_sim_step()`), requests come in as RSCP
 * value areas and answers go out through an `ew_rscp_builder`.  A server layer
 * (TCP, encryption, authentication) wraps this core; see `energywire sim rscp`.
 *
 * E3/DC (RSCP) simulator
 * ----------------------
 * The plant model (DESIGN.md "plant model") is deterministic for a given
 * seed and sequence of step times: PV follows the sun over the day and the
 * year, the house load has a daily pattern plus noise, the battery state of
 * charge is integrated over time within the power limits the client writes,
 * the wallbox charges a car that comes and goes, and the grid is the balance.
 * Its energy flows fill a history database of 15-minute buckets that answers
 * DB_REQ_HISTORY_DATA_* (the history before the start time is backfilled by
 * running the same model at init).
 *
 * Sign conventions (rscp.md §9.1): battery power + = charging, − =
 * discharging; grid power + = import (purchase), − = export (feed-in); every
 * other power is >= 0.  Energies are Wh, state of charge % (0..100).
 *
 * Example (a server loop; error handling left out):
 *
 *     ew_e3dc_sim_config cfg;
 *     ew_e3dc_sim *sim;
 *     ew_e3dc_sim_config_init(&cfg);
 *     cfg.start_time_ms = now_ms;
 *     ew_e3dc_sim_new(&sim, &cfg, NULL);
 *     ...
 *     ew_e3dc_sim_step(sim, now_ms);                  // before each request
 *     ew_rscp_builder_init_frame(&b, out, sizeof out);
 *     ew_e3dc_sim_handle(sim, frame.data, frame.data_len, conn_level, &b);
 *     ew_rscp_builder_finish_frame(&b, ts, 1, &n);
 */
#ifndef ENERGYWIRE_SIM_H
#define ENERGYWIRE_SIM_H

#include <energywire/ew.h>
#include <energywire/rscp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the configuration (everything the simulator allocates is bounded). */
#define EW_E3DC_SIM_MAX_USERS 8
#define EW_E3DC_SIM_MAX_BATTERIES 8
#define EW_E3DC_SIM_MAX_DCBS 16
#define EW_E3DC_SIM_MAX_CELLS 32
#define EW_E3DC_SIM_MAX_SENSORS 16
#define EW_E3DC_SIM_MAX_TRACKERS 8
#define EW_E3DC_SIM_MAX_WALLBOXES 8
#define EW_E3DC_SIM_MAX_SWITCHES 16
#define EW_E3DC_SIM_MAX_HISTORY_DAYS 1830
/* Longest text setting (serial number, names, passwords), bytes without NUL. */
#define EW_E3DC_SIM_MAX_TEXT 63

/*
 * Largest value area of one answer frame.  pye3dc reads an answer with one
 * recv(32768) (rscp.md §5.5, §11.2): 18-byte header + area + 4-byte CRC,
 * zero-padded to 32 bytes, must stay within 32768, so the area may hold
 * 32768 - 22 = 32746 bytes.
 */
#define EW_E3DC_SIM_ANSWER_MAX 32746

/* SET_POWER modes (rscp.md §9.8). */
#define EW_E3DC_SIM_POWER_AUTO 0
#define EW_E3DC_SIM_POWER_IDLE 1
#define EW_E3DC_SIM_POWER_DISCHARGE 2
#define EW_E3DC_SIM_POWER_CHARGE 3
#define EW_E3DC_SIM_POWER_GRID_CHARGE 4
/* A SET_POWER request holds for this long unless repeated (rscp.md §8, §9.8). */
#define EW_E3DC_SIM_SET_POWER_HOLD_MS 30000

/* One login the simulator accepts (rscp.md §7). */
typedef struct ew_e3dc_sim_user {
    const char *name;
    const char *password;
    /* User level reported on success: 10 USER, 20 INSTALLER, ... (rscp.md §7.2). */
    int level;
} ew_e3dc_sim_user;

/* One smart switch (home automation actuator, rscp.md §9.10). */
typedef struct ew_e3dc_sim_switch {
    const char *name;
    /* HA_DATAPOINT_TYPE as reported; the meaning of the numbers is not
     * documented by any peer, the simulator only echoes it. */
    uint32_t type;
    /* Load the switch adds to the house consumption while on, W. */
    double power_w;
    /* Initial state (non-zero = on). */
    int on;
} ew_e3dc_sim_switch;

/*
 * Simulator configuration.  Initialise with ew_e3dc_sim_config_init() (the
 * defaults are listed there), then change what you need.  Pointers (strings,
 * lists) are read by ew_e3dc_sim_new() only; the simulator keeps copies.
 */
typedef struct ew_e3dc_sim_config {
    /* Logins; default: "user@example.com" / "secret-portal-password" level
     * 10 and "installer@example.com" / "installer-password" level 20. */
    const ew_e3dc_sim_user *users;
    size_t nusers;
    /* RSCP key string; not used by the core, kept for the server layer
     * (ew_e3dc_sim_rscp_key()).  Default "my-rscp-key". */
    const char *rscp_key;
    /* Seed of every random choice (weather, house load, car trips).  Default 1. */
    uint64_t seed;
    /* Model time at creation, Unix ms (UTC).  Default 1700000000000
     * (2023-11-14T22:13:20Z, the time of the test vectors). */
    int64_t start_time_ms;
    /* Local standard time minus UTC in seconds (no daylight saving); sets the
     * daily patterns, idle periods and INFO_TIME.  Default 3600 (CET). */
    int32_t utc_offset_s;
    /* INFO_TIME_ZONE text.  Default "Europe/Berlin". */
    const char *time_zone;

    /* Identity (rscp.md §9.2).  NULL serial: "S10-741234567890" (pye3dc
     * model S10E_Compact) when pm_root_index is 0, "S10-501234567890"
     * (S10_Mini) when it is 6. */
    const char *serial_number;
    const char *sw_release;      /* default "S10_2024_06" */
    const char *mac_address;     /* default "00:11:22:33:44:55" */
    const char *production_date; /* default "KW22 2022" */
    const char *ip_address;      /* default "192.168.178.50" */

    /* PV generator: installed peak power (W, default 9500) split over
     * |pv_trackers| DC strings (default 2, 1..8) with east-to-west facing;
     * the inverter feeds |pvi_phases| phases (1 or 3, default 3). */
    double pv_peak_w;
    unsigned pv_trackers;
    unsigned pvi_phases;
    /* Feed-in limit as a fraction of the peak power (EMS_DERATE_AT_PERCENT_VALUE);
     * export above it curtails PV.  Default 0.7; 1 or more disables it. */
    double derate_fraction;
    /* Additional AC source (a second PV inverter behind its own meter,
     * EMS_POWER_ADD), peak W.  Default 0 = none. */
    double ext_peak_w;

    /* House load without wallbox: base W (default 250) plus the daily
     * pattern, noise and appliances on top. */
    double house_base_w;

    /* Battery: |batteries| strings (default 1, 0..8) of |dcbs| modules
     * (default 3) with |cells_series| cells (default 14) and |sensors|
     * temperature sensors (default 4) each.  Capacity and power limits are for
     * all strings together: default 10000 Wh, 4500 W charge, 4500 W
     * discharge.  Initial SOC default 50 %, before the history backfill. */
    unsigned batteries;
    unsigned dcbs;
    unsigned cells_series;
    unsigned sensors;
    double bat_capacity_wh;
    double bat_max_charge_w;
    double bat_max_discharge_w;
    double initial_soc_pct;

    /* Index of the root (grid) power meter: 0 (default), or 6 as on S10 Mini
     * and Quattroporte (rscp.md §9.2, §9.5).  With an additional source an
     * ADDITIONAL_PRODUCTION meter follows at index + 1. */
    unsigned pm_root_index;

    /* Wallboxes (default 1, 0..8), each with a car of |car_capacity_wh|
     * (default 60000, half full at the start of the history) that leaves on
     * weekday mornings and comes back in the evening.  A wallbox starts in
     * sun mode, one phase, 16 A, schuko off. */
    unsigned wallboxes;
    double car_capacity_wh;

    /* Smart switches; default three: "Garden pump" (type 1, 400 W, off),
     * "Heat pump boost" (type 1, 2000 W, off), "Garage light" (type 2, 60 W,
     * on).  Set |nswitches| to 0 for none. */
    const ew_e3dc_sim_switch *switches;
    size_t nswitches;

    /* Days of history backfilled before |start_time_ms| (default 400, at
     * most EW_E3DC_SIM_MAX_HISTORY_DAYS).  The database keeps this many days
     * (plus two) as time goes on. */
    unsigned history_days;
} ew_e3dc_sim_config;

/* Fills |cfg| with the defaults documented in the struct. */
EW_API void ew_e3dc_sim_config_init(ew_e3dc_sim_config *cfg);

/* The simulator: plant model, settings written by clients, history. */
typedef struct ew_e3dc_sim ew_e3dc_sim;

/*
 * Creates a simulator from |cfg| (NULL = all defaults) and backfills its
 * history.  |mem| is the allocator (NULL = malloc); two blocks are allocated,
 * the larger one 80 bytes per 15 minutes of history (≈ 3 MB for 400
 * days).  Returns `EW_OK` with |*out| set, or one of: `EW_ERR_INVAL` (a count,
 * index or text outside the limits above, a negative power), `EW_ERR_NOMEM`.
 */
EW_API int ew_e3dc_sim_new(ew_e3dc_sim **out, const ew_e3dc_sim_config *cfg, const ew_mem *mem);

/* Frees |sim| (NULL is fine). */
EW_API void ew_e3dc_sim_del(ew_e3dc_sim *sim);

/*
 * Advances the model to |unix_time_ms|, integrating from the previous time in
 * cells of one second aligned to the Unix epoch: the powers of a cell are
 * decided at its start from the state then (and again after a write that
 * changes them), and the battery is never driven past empty or full inside a
 * cell, so the state at a given time does not depend on how the way there
 * was cut into steps.  Returns `EW_OK`, or `EW_ERR_RANGE` when the time lies
 * before the model time (nothing changes).
 */
EW_API int ew_e3dc_sim_step(ew_e3dc_sim *sim, int64_t unix_time_ms);

/* The model time, Unix ms. */
EW_API int64_t ew_e3dc_sim_time(const ew_e3dc_sim *sim);

/* The configured RSCP key string (for the server layer), NUL-terminated. */
EW_API const char *ew_e3dc_sim_rscp_key(const ew_e3dc_sim *sim);

/*
 * Checks a login against the configured users (the session calls this for
 * RSCP_REQ_AUTHENTICATION, rscp.md §7).  |user|/|password| are |ulen|/|plen|
 * bytes, no NUL needed.  Returns the user's level (> 0), or 0 when no user
 * matches.  The comparison does not stop at the first differing byte.
 */
EW_API int ew_e3dc_sim_check_login(const ew_e3dc_sim *sim, const char *user, size_t ulen,
                                   const char *password, size_t plen);

/*
 * Answers the requests of one frame.  |req_area| is the frame's value area
 * (|req_len| bytes).  For each top-level request value exactly one top-level
 * answer value is appended to |resp|, in the same order (rscp.md §2.5,
 * §11.4), with the answer tags and types of rscp.md §9; unknown requests get
 * `request | 0x00800000` with type Error (rscp.md §4.1, §6): 7 UNKNOWN_TAG
 * for tags the registry does not list as a request, 6 NOT_AVAILABLE for
 * known requests the simulator does not model or for absent devices.
 * Writes change the model at once.
 *
 * |user_level| is the level of the connection: 0 (not authenticated) answers
 * every request with Error 2 ACCESS_DENIED (rscp.md §7.3, §11.6).  The session
 * handles RSCP_REQ_AUTHENTICATION itself; if one reaches this function it is
 * answered from ew_e3dc_sim_check_login() without changing |user_level|.
 *
 * |resp| is a builder the caller initialised (frame or bare values) and
 * finishes; it may already hold values.  The answers appended by one call
 * stay within EW_E3DC_SIM_ANSWER_MAX bytes.
 *
 * Returns the number of answers appended, or one of: `EW_ERR_OVERRUN`/
 * `EW_ERR_DEPTH` (the request area is malformed; nothing appended),
 * `EW_ERR_TOO_BIG` (the answers did not fit EW_E3DC_SIM_ANSWER_MAX: every
 * answer that would have crossed the limit was replaced by its tag with Error
 * 5 OUT_OF_BOUNDS, so |resp| still holds one well-formed answer per request
 * and can be sent; only when even those Errors exceed the limit, which takes
 * thousands of requests in one frame, nothing is appended), `EW_ERR_INVAL`
 * (NULL arguments), or the builder's sticky error (nothing is appended when
 * |resp| arrives with one).
 */
EW_API int ew_e3dc_sim_handle(ew_e3dc_sim *sim, const uint8_t *req_area, size_t req_len,
                              int user_level, ew_rscp_builder *resp);

/* Live state of one wallbox. */
typedef struct ew_e3dc_sim_wallbox_state {
    int plugged;   /* a car is connected */
    int charging;  /* power is flowing */
    int cancelled; /* charging cancelled by the user (toggle) */
    int sun_mode;  /* 1 = sun only, 0 = mixed (full power) */
    int phases;    /* 1 or 3 */
    int max_current_a;
    int schuko_on;
    double power_w;                         /* drawn now */
    double solar_w;                         /* share of |power_w| covered by PV */
    double car_soc_pct;                     /* state of charge of the connected car */
    double energy_solar_wh, energy_grid_wh; /* totals since creation (incl. backfill) */
} ew_e3dc_sim_wallbox_state;

/*
 * The plant model's live values, for tests and the demo view.  Powers are
 * those of the current one-second cell.  The balance
 * pv_w + add_w + grid_w = house_w + wallbox_w + battery_w holds within
 * 1e-6 W (float rounding; the integers RSCP reports balance exactly).
 */
typedef struct ew_e3dc_sim_model {
    int64_t time_ms;
    double pv_w;      /* DC PV production after curtailment, >= 0 */
    double add_w;     /* additional source, >= 0 */
    double house_w;   /* house consumption without wallboxes, >= 0 */
    double wallbox_w; /* all wallboxes, >= 0 */
    double wallbox_solar_w;
    double battery_w;            /* + charging, − discharging */
    double grid_w;               /* + import, − export */
    double soc_pct;              /* 0..100 */
    double battery_wh;           /* stored energy */
    double autarky_pct;          /* share of consumption not bought, 0..100 */
    double self_consumption_pct; /* share of production not sold, 0..100 */
    double charge_limit_w;       /* effective limits now (settings, hardware) */
    double discharge_limit_w;
    double tracker_w[EW_E3DC_SIM_MAX_TRACKERS];
    unsigned ntrackers;
    int pv_derated;      /* PV curtailed to keep export at the feed-in limit */
    int set_power_mode;  /* manual mode in force, EW_E3DC_SIM_POWER_* (AUTO when none) */
    int32_t set_power_w; /* its value */
    int manual_charge_active;
    double manual_charge_wh; /* energy charged by the current/last manual charge */
    uint32_t sys_status;     /* EMS_SYS_STATUS bits (rscp.md §9.1) */
    uint32_t ems_status;     /* EMS_STATUS bits */
    ew_e3dc_sim_wallbox_state wallbox[EW_E3DC_SIM_MAX_WALLBOXES];
    unsigned nwallboxes;
    int switch_on[EW_E3DC_SIM_MAX_SWITCHES];
    unsigned nswitches;
    /* Energy totals since the start of the history backfill, Wh. */
    double pv_wh, add_wh, house_wh, wallbox_wh, bat_charge_wh, bat_discharge_wh, grid_import_wh,
        grid_export_wh;
} ew_e3dc_sim_model;

/* Copies the live state into |out|. */
EW_API void ew_e3dc_sim_get_model(const ew_e3dc_sim *sim, ew_e3dc_sim_model *out);

/* Power settings as written by EMS_REQ_SET_POWER_SETTINGS (rscp.md §9.7). */
typedef struct ew_e3dc_sim_power_settings {
    int limits_used;
    uint32_t max_charge_w;
    uint32_t max_discharge_w;
    uint32_t discharge_start_w;
    int powersave;
    int weather_regulated;
    int32_t weather_forecast_mode;
} ew_e3dc_sim_power_settings;

EW_API void ew_e3dc_sim_get_power_settings(const ew_e3dc_sim *sim, ew_e3dc_sim_power_settings *out);

/* Energy sums of the history database over a time range. */
typedef struct ew_e3dc_sim_energy {
    double pv_wh;  /* DB_DC_POWER */
    double add_wh; /* DB_PM_0_POWER */
    double house_wh;
    double wallbox_wh;       /* DB_PM_1_POWER */
    double consumption_wh;   /* DB_CONSUMPTION = house + wallbox */
    double bat_charge_wh;    /* DB_BAT_POWER_IN */
    double bat_discharge_wh; /* DB_BAT_POWER_OUT */
    double grid_import_wh;   /* DB_GRID_POWER_OUT (purchase) */
    double grid_export_wh;   /* DB_GRID_POWER_IN (feed-in) */
    double soc_avg_pct;      /* time-weighted mean, DB_BAT_CHARGE_LEVEL */
    double seconds;          /* time covered by data */
} ew_e3dc_sim_energy;

/*
 * Sums the 15-minute buckets that start in [|start_s|, |start_s| +
 * |span_s|) (Unix seconds) into |out|, as DB_REQ_HISTORY_DATA_* does.
 * Returns the number of buckets with data (0 when the range holds none).
 */
EW_API int ew_e3dc_sim_history(const ew_e3dc_sim *sim, int64_t start_s, int64_t span_s,
                               ew_e3dc_sim_energy *out);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_SIM_H */
