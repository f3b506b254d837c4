/*
 * Internals of the E3/DC simulator shared by the plant model
 * (e3dc_model.c) and the RSCP request handler (e3dc_handle.c).
 */
#ifndef EW_SIM_E3DC_SIM_INT_H
#define EW_SIM_E3DC_SIM_INT_H

#include <energywire/sim.h>

#include <stdint.h>

#define EW_SIM_TEXT (EW_E3DC_SIM_MAX_TEXT + 1)
/* Live cells are one second; the history backfill uses one minute.  Both
 * divide the 15-minute bucket, so a cell never spans two buckets. */
#define EW_SIM_CELL_MS 1000
#define EW_SIM_BACKFILL_CELL_MS 60000
#define EW_SIM_BUCKET_MS 900000
#define EW_SIM_BUCKET_S 900
#define EW_SIM_PHASE_V 230.0

/* One 15-minute bucket of the history database (energies in Wh). */
typedef struct ew_sim_bucket {
    double pv, add, house, wb, bat_in, bat_out, grid_imp, grid_exp;
    double soc_s; /* state of charge (%) integrated over the seconds below */
    double secs;  /* seconds of model time that went into this bucket */
} ew_sim_bucket;

typedef struct ew_sim_idle {
    uint8_t active;
    uint8_t start_h, start_m, end_h, end_m;
} ew_sim_idle;

typedef struct ew_sim_wallbox {
    int away; /* the car is out (schedule) */
    int cancelled;
    int sun_mode;
    int phases;
    int max_current_a;
    int schuko;
    double car_wh;
    double power_w, solar_w;
    double e_solar_wh, e_grid_wh;
    double phase_wh[3];
} ew_sim_wallbox;

/* Local calendar values of an instant. */
typedef struct ew_sim_local {
    int64_t day; /* days since 1970-01-01 in local standard time */
    double hour; /* 0 <= hour < 24 */
    int wday;    /* 0 = Monday .. 6 = Sunday */
    int doy;     /* 0-based day of year */
    int year;
    unsigned month, mday;
} ew_sim_local;

struct ew_e3dc_sim {
    ew_mem mem;
    int have_mem;

    /* Copies of the configuration (strings live in the arrays below). */
    ew_e3dc_sim_config cfg;
    unsigned nusers;
    char user_name[EW_E3DC_SIM_MAX_USERS][EW_SIM_TEXT];
    char user_pw[EW_E3DC_SIM_MAX_USERS][EW_SIM_TEXT];
    int user_level[EW_E3DC_SIM_MAX_USERS];
    char rscp_key[EW_SIM_TEXT];
    char time_zone[EW_SIM_TEXT];
    char serial[EW_SIM_TEXT];
    char sw_release[EW_SIM_TEXT];
    char mac[EW_SIM_TEXT];
    char production_date[EW_SIM_TEXT];
    char ip[EW_SIM_TEXT];
    unsigned nswitches;
    char sw_name[EW_E3DC_SIM_MAX_SWITCHES][EW_SIM_TEXT];
    uint32_t sw_type[EW_E3DC_SIM_MAX_SWITCHES];
    double sw_power[EW_E3DC_SIM_MAX_SWITCHES];
    int sw_on[EW_E3DC_SIM_MAX_SWITCHES];

    /* Model time and the cell whose powers are in force. */
    int64_t t_ms;
    int64_t install_ms;
    int cell_valid;
    int64_t cell_start_ms, cell_len_ms;

    /* Powers of the current cell, W. */
    double tracker_w[EW_E3DC_SIM_MAX_TRACKERS];
    double pv_w, add_w, house_w, wb_w, wb_solar_w, bat_w, grid_w;
    double charge_limit_w, discharge_limit_w;
    int pv_derated, charge_idle, discharge_idle, weather_wait, sp_in_force;

    /* State. */
    double bat_wh;
    ew_sim_wallbox wb[EW_E3DC_SIM_MAX_WALLBOXES];

    /* Settings written by clients. */
    ew_e3dc_sim_power_settings ps;
    int btc_mode; /* EMS_BATTERY_TO_CAR_MODE */
    int bbc_mode; /* EMS_BATTERY_BEFORE_CAR_MODE */
    int sp_mode;  /* last EMS_REQ_SET_POWER */
    int32_t sp_value_w;
    int64_t sp_at_ms;
    int mc_active; /* manual charge */
    double mc_target_wh, mc_done_wh;
    int64_t mc_starts;
    int64_t mc_last_start_ms;
    ew_sim_idle idle[2][7]; /* [0 charge | 1 discharge][day, 0 = Monday] */

    /* Energy totals (Wh) and other counters since the backfill start. */
    double pv_wh, add_wh, house_wh, wb_wh, bat_in_wh, bat_out_wh, imp_wh, exp_wh;
    double tracker_wh[EW_E3DC_SIM_MAX_TRACKERS];
    double pvi_ac_wh[3], pvi_ac_grid_wh[3];
    double pm_imp_wh[3], pm_exp_wh[3];
    double bat_discharge_s;

    /* History ring: bucket number n (= floor(ms / 15 min)) lives at
     * hist[n % hcap]; buckets h_first..h_last are valid. */
    ew_sim_bucket *hist;
    size_t hcap;
    int64_t h_first, h_last;
};

/* Model services used by the handler. */
void ew_sim_local_time(const ew_e3dc_sim *s, int64_t t_ms, ew_sim_local *l);
/* Recomputes the powers of the current cell after a write. */
void ew_sim_changed(ew_e3dc_sim *s);
/* Phase split of the live powers (root meter and inverter AC side). */
void ew_sim_phase_powers(const ew_e3dc_sim *s, double grid_l[3], double inv_l[3], double add_l[3]);
/* Cell temperature of a battery module sensor and cell voltage, derived
 * from the live state. */
double ew_sim_cell_temp_c(const ew_e3dc_sim *s, unsigned bat, unsigned dcb, unsigned sensor);
double ew_sim_cell_voltage(const ew_e3dc_sim *s, unsigned bat, unsigned dcb, unsigned cell);
double ew_sim_noise(const ew_e3dc_sim *s, uint32_t stream, int64_t k);
int64_t ew_sim_floor_div(int64_t a, int64_t b);

#endif
