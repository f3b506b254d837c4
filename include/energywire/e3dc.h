/*
 * energywire E3/DC API: typed requests and answers on top of the RSCP codec.
 *
 * Sans-I/O and allocation-free.  For every operation there is
 *
 *   int ew_e3dc_req_<op>(ew_rscp_builder *b, ...);
 *       appends the request value(s) to a builder, so one request frame may
 *       carry several operations (rscp.md §2.5);
 *
 *   int ew_e3dc_parse_<op>(const uint8_t *area, size_t len, <struct> *out,
 *                          ew_diag *d);
 *       finds the answer by tag among the top-level values of a frame's value
 *       area (|area|, |len|: ew_rscp_frame.data / .data_len), so answers to
 *       several operations may share one frame, and decodes it into a C
 *       struct that owns copies of everything (strings are copied into
 *       fixed, NUL-terminated arrays and truncated safely), so results
 *       outlive the frame.
 *
 * Conventions
 *
 * - Units are SI and part of the field name: power_w (W), energy_wh (Wh),
 *   voltage_v (V), current_a (A), capacity_ah (Ah), temp_c (°C), soc_pct and
 *   other _pct fields from 0 to 100, times in Unix seconds (UTC).
 * - Signs: battery power + = charging, - = discharging; grid power + = import
 *   from the grid, - = export (feed-in); PV and additional-generator power
 *   + = production (EMS_POWER_ADD is reported negative by the device and is
 *   negated here, as pye3dc does; rscp.md §9.1).
 * - Every result struct has a |present| bit set (bit N = field N of the
 *   struct's EW_E3DC_<STRUCT>_<FIELD> enum; test with EW_E3DC_HAS()).  A
 *   field whose bit is clear was not in the answer, or the device refused it.
 * - A refusal by the device (an RSCP Error value, rscp.md §6) is never an
 *   `ew_err`: it is reported in the struct's |error| member (code and tag of
 *   the first Error value met; |whole| when the entire answer was an Error).
 *   Parsers return `EW_OK` in that case.
 * - Parsers return an `ew_err` only when the answer is malformed or missing:
 *   `EW_ERR_PROTO` (|d|->what names the tag, e.g. "missing EMS_POWER_PV" or
 *   "unexpected type of BAT_RSOC"), or a codec error from walking the area
 *   (`EW_ERR_OVERRUN`, `EW_ERR_DEPTH`), or `EW_ERR_INVAL` (NULL arguments).
 *   After an error the contents of |*out| are unspecified.
 * - Alternative value types reported by different peers (rscp.md §9
 *   "disputed": UInt32 vs UChar8 status words, Bool vs UChar8 flags, UInt32
 *   vs Int32 powers, Float32 vs integer numbers) are all accepted.  A value
 *   of type None where a number is expected counts as absent.
 * - Request builders return `EW_OK` or the builder's sticky error, plus
 *   `EW_ERR_INVAL` / `EW_ERR_RANGE` for arguments outside what the protocol
 *   can carry (nothing is appended then).  Running out of buffer is reported
 *   by ew_rscp_builder_finish_frame() as `EW_ERR_NOBUF`.
 *
 * Example (one frame with the poll and the status requests):
 *
 *   ew_rscp_builder b;
 *   ew_rscp_builder_init_frame(&b, buf, sizeof buf);
 *   ew_e3dc_req_poll(&b);
 *   ew_e3dc_req_status(&b);
 *   ew_rscp_builder_finish_frame(&b, now, 1, &n);
 *   ... send, receive the answer frame |f| ...
 *   ew_e3dc_poll p;
 *   if (ew_e3dc_parse_poll(f.data, f.data_len, &p, &d) == EW_OK &&
 *       EW_E3DC_HAS(&p, EW_E3DC_POLL_PV))
 *       use(p.pv_power_w);
 *
 * Every result struct also has a JSON writer and a text writer
 * (ew_e3dc_<struct>_json / _text, see the end of this header).
 */
#ifndef ENERGYWIRE_E3DC_H
#define ENERGYWIRE_E3DC_H

#include <energywire/rscp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */
/* ------------------------------------------------------------------------ */

/* Fixed bounds of the result structs.  Answers with more entries are
 * truncated; the |*_total| members say how many the device sent. */
#define EW_E3DC_MAX_BATTERIES 8     /* battery strings probed and counted */
#define EW_E3DC_MAX_DCB 32          /* DCB modules per battery string */
#define EW_E3DC_MAX_CELLS 64        /* cell voltages / temperature sensors per DCB */
#define EW_E3DC_MAX_PVIS 8          /* PV inverters probed and counted */
#define EW_E3DC_MAX_TRACKERS 4      /* DC strings (MPP trackers) per inverter */
#define EW_E3DC_MAX_PHASES 3        /* AC phases per inverter */
#define EW_E3DC_MAX_PVI_TEMPS 8     /* temperature sensors per inverter */
#define EW_E3DC_MAX_PMS 8           /* power meters probed and counted */
#define EW_E3DC_MAX_WALLBOXES 8     /* wallboxes probed and counted */
#define EW_E3DC_MAX_SWITCHES 32     /* home-automation switches */
#define EW_E3DC_MAX_IDLE_PERIODS 14 /* 7 days x {charge, discharge} */
#define EW_E3DC_MAX_SPECS 32        /* EMS_SYS_SPEC entries */
#define EW_E3DC_MAX_HISTORY 366     /* DB_VALUE_CONTAINER buckets */

/* Two results are large because of these bounds: ew_e3dc_history (about
 * 41 KiB) and ew_e3dc_battery (about 29 KiB); keep them off small stacks.
 * All others are below 5 KiB. */

/* String capacities (bytes including the NUL). */
#define EW_E3DC_STR 64
#define EW_E3DC_SHORT_STR 32

/* Tests bit |bit| of |obj|->present. */
#define EW_E3DC_HAS(obj, bit) ((((obj)->present) >> (bit)) & 1u)

/* ------------------------------------------------------------------------ */
/* Common result members                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Device refusals met while parsing (rscp.md §6).  |code| is 0 when there
 * were none; otherwise it is the code of the first Error value (e.g. 6 =
 * RSCP_ERR_NOT_AVAILABLE, 0xFFFFFFFF = invalid time for history requests)
 * and |tag| its tag.  |whole| is 1 when the answer itself was an Error (the
 * device refused the entire request), 0 when only parts were refused.
 */
typedef struct ew_e3dc_error {
    uint32_t code;
    uint32_t tag;
    unsigned count;
    int whole;
} ew_e3dc_error;

/*
 * Answer to a command whose reply is a single value: switch commands,
 * EMS_REQ_SET_POWER, idle-period and battery-to-car settings, manual charge
 * start, wallbox commands.
 */
typedef struct ew_e3dc_result {
    /* Tag of the answer value that was found. */
    uint32_t tag;
    /* 1 when the device accepted the command: the answer is not an Error and,
     * where the answer is a verdict (Bool, "1 = ok"), the verdict is yes.
     * Each ew_e3dc_parse_* function documents its rule. */
    int ok;
    /* The answer's integer value (the echo, the Bool, the result code) when
     * |has_value|. */
    int has_value;
    int64_t value;
    ew_e3dc_error error;
} ew_e3dc_result;

/* ------------------------------------------------------------------------ */
/* Models (rscp.md §9.2)                                                     */
/* ------------------------------------------------------------------------ */

typedef enum ew_e3dc_model {
    EW_E3DC_MODEL_NA = 0, /* unknown serial number scheme */
    EW_E3DC_MODEL_S10E,
    EW_E3DC_MODEL_S10E_COMPACT,
    EW_E3DC_MODEL_S10_MINI,
    EW_E3DC_MODEL_QUATTROPORTE,
    EW_E3DC_MODEL_S10E_PRO,
    EW_E3DC_MODEL_S10E_PRO_COMPACT,
    EW_E3DC_MODEL_S10X
} ew_e3dc_model;

/*
 * Derives the model from a serial number (|len| bytes at |serial|) as pye3dc
 * does (rscp.md §9.2): when the first character is not a digit, the first 4
 * characters are a prefix ("S10-", "Q10-", "P10-", "H20-") and are skipped;
 * then "4" or "72" = S10E, "74" = S10E_Compact, "5" = S10_Mini,
 * "6" = Quattroporte, "70" = S10E_Pro, "75" = S10E_Pro_Compact, "8" = S10X,
 * anything else NA.  |*number_off| (may be NULL) receives the offset where the
 * number starts (0 or 4).
 */
EW_API ew_e3dc_model ew_e3dc_model_from_serial(const char *serial, size_t len, size_t *number_off);

/* "S10E", "S10E_Compact", ..., "NA" (pye3dc's names; static, never NULL). */
EW_API const char *ew_e3dc_model_name(ew_e3dc_model m);

/*
 * The power-meter index of the grid-connection ("root") meter that pye3dc
 * assumes for a model: 6 for S10_Mini and Quattroporte, 0 for every other
 * model (rscp.md §9.2, §9.5).  The assumption is not verified on devices:
 * pass |override| >= 0 to use another index (it is returned as is), or -1 for
 * the model default.  ew_e3dc_parse_topology() finds the real root meter by
 * its PM_TYPE when the device reports it.
 */
EW_API unsigned ew_e3dc_root_pm_index(ew_e3dc_model m, int override);

/* ------------------------------------------------------------------------ */
/* poll (rscp.md §9.1)                                                       */
/* ------------------------------------------------------------------------ */

enum {
    EW_E3DC_POLL_TIME,
    EW_E3DC_POLL_SOC,
    EW_E3DC_POLL_PV,
    EW_E3DC_POLL_ADD,
    EW_E3DC_POLL_BATTERY,
    EW_E3DC_POLL_HOUSE,
    EW_E3DC_POLL_GRID,
    EW_E3DC_POLL_WALLBOX,
    EW_E3DC_POLL_SELF_CONSUMPTION,
    EW_E3DC_POLL_AUTARKY,
    EW_E3DC_POLL_NFIELDS
};

typedef struct ew_e3dc_poll {
    ew_rscp_timestamp time;      /* INFO_UTC_TIME, UTC */
    int64_t soc_pct;             /* EMS_BAT_SOC */
    int64_t pv_power_w;          /* EMS_POWER_PV, + = production */
    int64_t add_power_w;         /* -EMS_POWER_ADD, + = production */
    int64_t battery_power_w;     /* EMS_POWER_BAT, + = charging */
    int64_t house_power_w;       /* EMS_POWER_HOME */
    int64_t grid_power_w;        /* EMS_POWER_GRID, + = import */
    int64_t wallbox_power_w;     /* EMS_POWER_WB_ALL */
    double self_consumption_pct; /* EMS_SELF_CONSUMPTION */
    double autarky_pct;          /* EMS_AUTARKY */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_poll;

/*
 * Adds pye3dc's ten poll() requests as ten top-level None values, in
 * pye3dc's order: INFO_REQ_UTC_TIME, EMS_REQ_BAT_SOC, _POWER_PV, _POWER_ADD,
 * _POWER_BAT, _POWER_HOME, _POWER_GRID, _POWER_WB_ALL, _SELF_CONSUMPTION,
 * _AUTARKY.
 */
EW_API int ew_e3dc_req_poll(ew_rscp_builder *b);

/*
 * Decodes the ten poll answers.  All ten must be present (as a value or as
 * an Error); a missing one is `EW_ERR_PROTO`.
 */
EW_API int ew_e3dc_parse_poll(const uint8_t *area, size_t len, ew_e3dc_poll *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* System status (rscp.md §9.1 "Status words")                               */
/* ------------------------------------------------------------------------ */

/* EMS_SYS_STATUS bits as pye3dc names them (rscp.md §9.1). */
typedef struct ew_e3dc_sys_status_bits {
    int dcdc_alive;                    /* bit 0 */
    int power_meter_alive;             /* bit 1 */
    int battery_module_alive;          /* bit 2 */
    int pv_module_alive;               /* bit 3 */
    int pv_inverter_inited;            /* bit 4 */
    int server_connection_alive;       /* bit 5 */
    int pv_derated;                    /* bit 6 */
    int ems_alive;                     /* bit 7 */
    unsigned ac_coupling_mode;         /* bits 8-9 */
    int ac_mode_blocked;               /* bit 10 */
    int sys_conf_checked;              /* bit 11 */
    int emergency_power_started;       /* bit 12 */
    int emergency_power_override;      /* bit 13 */
    int wallbox_alive;                 /* bit 14 */
    int power_save_enabled;            /* bit 15 */
    int charge_idle_period_active;     /* bit 16 */
    int discharge_idle_period_active;  /* bit 17 */
    int wait_for_weather_breakthrough; /* bit 18 */
    int rescue_battery_enabled;        /* bit 19 */
    int emergency_reserve_reached;     /* bit 20 */
    int soc_sync_requested;            /* bit 21 */
} ew_e3dc_sys_status_bits;

/* Splits the raw EMS_SYS_STATUS word |raw| into |out|. */
EW_API void ew_e3dc_sys_status_decode(uint32_t raw, ew_e3dc_sys_status_bits *out);

/*
 * Name of bit |bit| of the status word in the JSON spelling
 * ("dcdc_alive", ...; bits 8 and 9 are both "ac_coupling_mode"), or NULL for
 * bits 22..31.
 */
EW_API const char *ew_e3dc_sys_status_bit_name(unsigned bit);

enum { EW_E3DC_STATUS_EMS, EW_E3DC_STATUS_SYS, EW_E3DC_STATUS_NFIELDS };

typedef struct ew_e3dc_status {
    int64_t ems_status;           /* EMS_STATUS, raw (UInt32 or UChar8; meaning undocumented) */
    uint32_t sys_status;          /* EMS_SYS_STATUS, raw bit set */
    ew_e3dc_sys_status_bits bits; /* |sys_status| decoded */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_status;

/* Adds EMS_REQ_STATUS and EMS_REQ_SYS_STATUS (two top-level None values). */
EW_API int ew_e3dc_req_status(ew_rscp_builder *b);

/*
 * Decodes both status answers; both must be present.  The answer tag of
 * EMS_REQ_SYS_STATUS is unknown (rscp.md §9.1, §12): accepted are
 * EMS_SYS_STATUS 0x0100009E and 0x01800098 (request | response bit) when it
 * carries an integer rather than the EMS_GET_SYS_SPECS container.
 */
EW_API int ew_e3dc_parse_status(const uint8_t *area, size_t len, ew_e3dc_status *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* System information (rscp.md §9.2)                                         */
/* ------------------------------------------------------------------------ */

typedef struct ew_e3dc_sys_spec {
    int64_t index;
    char name[EW_E3DC_SHORT_STR + 16];
    /* Value: EMS_SYS_SPEC_VALUE_INT in |value|, or VALUE_STRING in |text|. */
    int is_string;
    int64_t value;
    char text[EW_E3DC_STR];
} ew_e3dc_sys_spec;

enum {
    EW_E3DC_SYSINFO_DERATE_PCT,
    EW_E3DC_SYSINFO_DERATE_POWER,
    EW_E3DC_SYSINFO_PEAK_POWER,
    EW_E3DC_SYSINFO_EXT_SRC,
    EW_E3DC_SYSINFO_MAC,
    EW_E3DC_SYSINFO_SERIAL,
    EW_E3DC_SYSINFO_SPECS,
    /* Derived from |specs| by name. */
    EW_E3DC_SYSINFO_BAT_CAPACITY,
    EW_E3DC_SYSINFO_MAX_AC_POWER,
    EW_E3DC_SYSINFO_MAX_BAT_CHARGE,
    EW_E3DC_SYSINFO_MAX_BAT_DISCHARGE,
    EW_E3DC_SYSINFO_START_DISCHARGE_DEFAULT,
    EW_E3DC_SYSINFO_NFIELDS
};

/* The static information pye3dc reads when it connects. */
typedef struct ew_e3dc_sysinfo {
    double derate_pct;              /* EMS_DERATE_AT_PERCENT_VALUE x 100 (sent as a fraction) */
    double derate_power_w;          /* EMS_DERATE_AT_POWER_VALUE */
    int64_t installed_peak_power_w; /* EMS_INSTALLED_PEAK_POWER, Wp */
    int ext_src_available;          /* EMS_EXT_SRC_AVAILABLE */
    char mac[EW_E3DC_SHORT_STR];    /* INFO_MAC_ADDRESS */
    char serial[EW_E3DC_STR];       /* INFO_SERIAL_NUMBER as sent */
    /* Derived from |serial| (present with EW_E3DC_SYSINFO_SERIAL). */
    char serial_prefix[8]; /* "S10-" etc., or "" */
    ew_e3dc_model model;
    unsigned root_pm_index; /* ew_e3dc_root_pm_index(model, -1) */
    /* EMS_GET_SYS_SPECS */
    unsigned nspecs, nspecs_total;
    ew_e3dc_sys_spec specs[EW_E3DC_MAX_SPECS];
    /* Convenience copies of the specs pye3dc uses. */
    int64_t installed_battery_capacity_wh; /* installedBatteryCapacity */
    int64_t max_ac_power_w;                /* maxAcPower */
    int64_t max_bat_charge_power_w;        /* maxBatChargePower */
    int64_t max_bat_discharge_power_w;     /* maxBatDischargPower (E3/DC's spelling) */
    int64_t start_discharge_default_w;     /* startDischargeDefault */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_sysinfo;

/*
 * Adds pye3dc's static requests (get_system_info_static), in its order:
 * EMS_REQ_DERATE_AT_PERCENT_VALUE, EMS_REQ_DERATE_AT_POWER_VALUE,
 * EMS_REQ_INSTALLED_PEAK_POWER, EMS_REQ_EXT_SRC_AVAILABLE,
 * INFO_REQ_MAC_ADDRESS, INFO_REQ_SERIAL_NUMBER, EMS_REQ_GET_SYS_SPECS.
 */
EW_API int ew_e3dc_req_sysinfo(ew_rscp_builder *b);

/*
 * Decodes the seven answers (all required).  EMS_GET_SYS_SPECS (0x01800098,
 * not request | 0x00800000) holds one EMS_SYS_SPEC container per spec;
 * EMS_SYS_SPEC_INDEX may come as Int32 or UInt32.
 */
EW_API int ew_e3dc_parse_sysinfo(const uint8_t *area, size_t len, ew_e3dc_sysinfo *out, ew_diag *d);

enum {
    EW_E3DC_SYSDYN_SW_RELEASE,
    EW_E3DC_SYSDYN_PRODUCTION_DATE,
    EW_E3DC_SYSDYN_IP_ADDRESS,
    EW_E3DC_SYSDYN_TIME_ZONE,
    EW_E3DC_SYSDYN_LOCAL_TIME,
    EW_E3DC_SYSDYN_UTC_TIME,
    EW_E3DC_SYSDYN_UTC_OFFSET, /* derived from the two times */
    EW_E3DC_SYSDYN_NFIELDS
};

/* Information that changes with firmware updates and the clock. */
typedef struct ew_e3dc_sysinfo_dyn {
    char sw_release[EW_E3DC_STR];            /* INFO_SW_RELEASE, e.g. "H20_2023_024" */
    char production_date[EW_E3DC_SHORT_STR]; /* INFO_PRODUCTION_DATE, e.g. "KW22 2022" */
    char ip_address[EW_E3DC_SHORT_STR + 16]; /* INFO_IP_ADDRESS */
    char time_zone[EW_E3DC_STR];             /* INFO_TIME_ZONE, e.g. "Europe/Berlin" */
    ew_rscp_timestamp local_time;            /* INFO_TIME: wall-clock time coded as if UTC */
    ew_rscp_timestamp utc_time;              /* INFO_UTC_TIME */
    /* local_time - utc_time rounded to 15 minutes: the device's UTC offset
     * (how rscp2mqtt derives it, rscp.md §9.2). */
    int64_t utc_offset_s;
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_sysinfo_dyn;

/*
 * Adds INFO_REQ_SW_RELEASE (pye3dc's get_system_info), INFO_REQ_PRODUCTION_DATE,
 * INFO_REQ_IP_ADDRESS, INFO_REQ_TIME_ZONE, INFO_REQ_TIME, INFO_REQ_UTC_TIME.
 */
EW_API int ew_e3dc_req_sysinfo_dyn(ew_rscp_builder *b);

/* Decodes the six answers; only INFO_SW_RELEASE is required, the others are
 * optional (firmware differences). */
EW_API int ew_e3dc_parse_sysinfo_dyn(const uint8_t *area, size_t len, ew_e3dc_sysinfo_dyn *out,
                                     ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Smart switches (rscp.md §9.10)                                            */
/* ------------------------------------------------------------------------ */

enum {
    EW_E3DC_SWITCH_ID,
    EW_E3DC_SWITCH_TYPE,
    EW_E3DC_SWITCH_NAME,
    EW_E3DC_SWITCH_STATE,
    EW_E3DC_SWITCH_MODE,
    EW_E3DC_SWITCH_NFIELDS
};

typedef struct ew_e3dc_switch {
    int64_t id;             /* HA_DATAPOINT_INDEX: pass to ew_e3dc_req_switch_set() */
    int64_t type;           /* HA_DATAPOINT_TYPE */
    char name[EW_E3DC_STR]; /* HA_DATAPOINT_NAME */
    int64_t state;          /* HA_DATAPOINT_STATE */
    int64_t mode;           /* HA_DATAPOINT_MODE */
    uint64_t present;
} ew_e3dc_switch;

enum { EW_E3DC_SWITCHES_LIST, EW_E3DC_SWITCHES_STATES, EW_E3DC_SWITCHES_NFIELDS };

typedef struct ew_e3dc_switches {
    unsigned n, total;
    ew_e3dc_switch sw[EW_E3DC_MAX_SWITCHES];
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_switches;

/* Adds HA_REQ_DATAPOINT_LIST and HA_REQ_ACTUATOR_STATES (pye3dc poll_switches). */
EW_API int ew_e3dc_req_switches(ew_rscp_builder *b);

/*
 * Decodes HA_DATAPOINT_LIST and HA_ACTUATOR_STATES; at least one of them must
 * be present.  Entry i of the state list belongs to entry i of the datapoint
 * list (pye3dc pairs them by position, rscp.md §9.10); the state entries'
 * container tag is not checked.
 */
EW_API int ew_e3dc_parse_switches(const uint8_t *area, size_t len, ew_e3dc_switches *out,
                                  ew_diag *d);

/* Adds HA_REQ_COMMAND_ACTUATOR{HA_DATAPOINT_INDEX UInt16 |id|,
 * HA_REQ_COMMAND "on"|"off"} (pye3dc set_switch_onoff).  |id| must fit UInt16. */
EW_API int ew_e3dc_req_switch_set(ew_rscp_builder *b, unsigned id, int on);

/* Decodes HA_COMMAND_ACTUATOR (Bool): |ok| = the Bool is true. */
EW_API int ew_e3dc_parse_switch_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                    ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Idle periods (rscp.md §9.8)                                               */
/* ------------------------------------------------------------------------ */

#define EW_E3DC_IDLE_CHARGE 0
#define EW_E3DC_IDLE_DISCHARGE 1

typedef struct ew_e3dc_idle_period {
    unsigned type; /* EW_E3DC_IDLE_CHARGE or _DISCHARGE */
    unsigned day;  /* 0..6 (the device's weekday numbering; pye3dc documents only the range) */
    int active;
    unsigned start_hour, start_minute;
    unsigned end_hour, end_minute;
} ew_e3dc_idle_period;

typedef struct ew_e3dc_idle_periods {
    unsigned n, total;
    ew_e3dc_idle_period p[EW_E3DC_MAX_IDLE_PERIODS];
    ew_e3dc_error error;
} ew_e3dc_idle_periods;

/* Adds EMS_REQ_GET_IDLE_PERIODS. */
EW_API int ew_e3dc_req_idle_periods(ew_rscp_builder *b);

/*
 * Decodes EMS_GET_IDLE_PERIODS: one EMS_IDLE_PERIOD container per period with
 * TYPE, DAY, ACTIVE, START{HOUR, MINUTE}, END{HOUR, MINUTE}; a period missing
 * any of them is `EW_ERR_PROTO`.
 */
EW_API int ew_e3dc_parse_idle_periods(const uint8_t *area, size_t len, ew_e3dc_idle_periods *out,
                                      ew_diag *d);

/*
 * Adds EMS_REQ_SET_IDLE_PERIODS with the |n| periods at |p| (each as
 * EMS_IDLE_PERIOD{TYPE UChar8, DAY UChar8, ACTIVE Bool, START{HOUR, MINUTE
 * UChar8}, END{...}}, exactly as pye3dc builds it).  Returns `EW_ERR_RANGE`
 * for a type > 1, day > 6, hour > 23, minute > 59, an end not after the start
 * (pye3dc refuses these too), or n > EW_E3DC_MAX_IDLE_PERIODS.
 */
EW_API int ew_e3dc_req_idle_periods_set(ew_rscp_builder *b, const ew_e3dc_idle_period *p, size_t n);

/* Decodes EMS_SET_IDLE_PERIODS (UChar8): |ok| = the value is 1. */
EW_API int ew_e3dc_parse_idle_periods_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                          ew_diag *d);

/* ------------------------------------------------------------------------ */
/* History database (rscp.md §9.6)                                           */
/* ------------------------------------------------------------------------ */

typedef enum ew_e3dc_history_kind {
    EW_E3DC_HISTORY_DAY = 0,
    EW_E3DC_HISTORY_WEEK,
    EW_E3DC_HISTORY_MONTH,
    EW_E3DC_HISTORY_YEAR
} ew_e3dc_history_kind;

/* Request flags. */
/* Send the three time parameters as UInt64 seconds, as pye3dc does, instead
 * of the default Timestamp (see ew_e3dc_req_history()). */
#define EW_E3DC_HISTORY_UINT64 0x01u
/* Send the start as DB_REQ_HISTORY_UTC_TIME_START (rscp2mqtt) instead of
 * DB_REQ_HISTORY_TIME_START. */
#define EW_E3DC_HISTORY_UTC_START 0x02u

enum {
    EW_E3DC_HIST_GRAPH_INDEX,
    EW_E3DC_HIST_BAT_CHARGE,
    EW_E3DC_HIST_BAT_DISCHARGE,
    EW_E3DC_HIST_PV,
    EW_E3DC_HIST_GRID_EXPORT,
    EW_E3DC_HIST_GRID_IMPORT,
    EW_E3DC_HIST_CONSUMPTION,
    EW_E3DC_HIST_PM0,
    EW_E3DC_HIST_PM1,
    EW_E3DC_HIST_BAT_SOC,
    EW_E3DC_HIST_BAT_CYCLES,
    EW_E3DC_HIST_CONSUMED_PRODUCTION,
    EW_E3DC_HIST_AUTARKY,
    EW_E3DC_HIST_NFIELDS
};

/* One sum or bucket.  The DB "POWER" tags carry energies over the period
 * (rscp.md §9.6), hence _wh. */
typedef struct ew_e3dc_history_values {
    double graph_index;             /* DB_GRAPH_INDEX */
    double bat_charge_wh;           /* DB_BAT_POWER_IN */
    double bat_discharge_wh;        /* DB_BAT_POWER_OUT */
    double pv_wh;                   /* DB_DC_POWER */
    double grid_export_wh;          /* DB_GRID_POWER_IN (feed-in) */
    double grid_import_wh;          /* DB_GRID_POWER_OUT (purchase) */
    double consumption_wh;          /* DB_CONSUMPTION */
    double pm0_wh;                  /* DB_PM_0_POWER */
    double pm1_wh;                  /* DB_PM_1_POWER */
    double bat_soc_pct;             /* DB_BAT_CHARGE_LEVEL */
    double bat_cycles;              /* DB_BAT_CYCLE_COUNT */
    double consumed_production_pct; /* DB_CONSUMED_PRODUCTION */
    double autarky_pct;             /* DB_AUTARKY */
    uint64_t present;
} ew_e3dc_history_values;

typedef struct ew_e3dc_history {
    ew_e3dc_history_kind kind;  /* which DB_HISTORY_DATA_* answered */
    ew_e3dc_history_values sum; /* DB_SUM_CONTAINER: the whole span */
    unsigned nvalues, nvalues_total;
    ew_e3dc_history_values values[EW_E3DC_MAX_HISTORY]; /* DB_VALUE_CONTAINERs in order */
    ew_e3dc_error error;
} ew_e3dc_history;

/*
 * Adds DB_REQ_HISTORY_DATA_<kind>{TIME_START, TIME_INTERVAL, TIME_SPAN}.
 *
 * |start_s| is Unix seconds.  The device's history is bucketed by local
 * days, so callers convert a local calendar date to Unix seconds themselves,
 * with an explicit time zone (pye3dc uses local midnight via mktime; rscp2mqtt
 * uses the device's UTC offset, see ew_e3dc_sysinfo_dyn.utc_offset_s): this
 * layer has no clock and no time-zone database.  |interval_s| is the length of
 * one bucket, |span_s| the whole period (pye3dc uses interval = span = the
 * period, e.g. 86400 for a day).
 *
 * Encoding (rscp.md §9.6, disputed): by default the three parameters are
 * Timestamp values (seconds, 0 ns), the type in E3/DC's tag list and what
 * E3/DC's example client (rscp2mqtt) and easy-rscp send; with
 * EW_E3DC_HISTORY_UINT64 they are UInt64 seconds as pye3dc sends them.
 * Devices accept both.
 *
 * Returns `EW_ERR_INVAL` for an unknown kind or flag, `EW_ERR_RANGE` for
 * |interval_s| or |span_s| of 0 or a negative |start_s| with
 * EW_E3DC_HISTORY_UINT64.
 */
EW_API int ew_e3dc_req_history(ew_rscp_builder *b, ew_e3dc_history_kind kind, int64_t start_s,
                               uint64_t interval_s, uint64_t span_s, unsigned flags);

/*
 * Decodes the first DB_HISTORY_DATA_{DAY,WEEK,MONTH,YEAR} answer.  It must hold
 * a DB_SUM_CONTAINER (found by tag; pye3dc expects it first); the
 * DB_VALUE_CONTAINERs are optional and assumed to mirror the sum container
 * (rscp.md §9.6 "shape unknown").  A top-level Error (0xFFFFFFFF for an invalid
 * time or span, 6 for a period without data) is reported in |error|.
 */
EW_API int ew_e3dc_parse_history(const uint8_t *area, size_t len, ew_e3dc_history *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Power settings (rscp.md §9.7)                                             */
/* ------------------------------------------------------------------------ */

enum {
    EW_E3DC_PS_LIMITS_USED,
    EW_E3DC_PS_MAX_CHARGE,
    EW_E3DC_PS_MAX_DISCHARGE,
    EW_E3DC_PS_DISCHARGE_START,
    EW_E3DC_PS_POWERSAVE,
    EW_E3DC_PS_WEATHER_REGULATED,
    EW_E3DC_PS_WEATHER_FORECAST_MODE,
    EW_E3DC_PS_NFIELDS
};

/*
 * The EMS power settings.  Read by ew_e3dc_parse_power_settings(); written
 * by ew_e3dc_req_set_power_settings(), where |present| names the fields to
 * send.
 */
typedef struct ew_e3dc_power_settings {
    int limits_used;                 /* EMS_POWER_LIMITS_USED */
    int64_t max_charge_power_w;      /* EMS_MAX_CHARGE_POWER */
    int64_t max_discharge_power_w;   /* EMS_MAX_DISCHARGE_POWER */
    int64_t discharge_start_power_w; /* EMS_DISCHARGE_START_POWER */
    int powersave;                   /* EMS_POWERSAVE_ENABLED */
    int weather_regulated_charge;    /* EMS_WEATHER_REGULATED_CHARGE_ENABLED */
    int64_t weather_forecast_mode;   /* EMS_WEATHER_FORECAST_MODE (undocumented) */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_power_settings;

/* Adds EMS_REQ_GET_POWER_SETTINGS. */
EW_API int ew_e3dc_req_power_settings(ew_rscp_builder *b);

/* Decodes EMS_GET_POWER_SETTINGS; children are optional (see |present|). */
EW_API int ew_e3dc_parse_power_settings(const uint8_t *area, size_t len,
                                        ew_e3dc_power_settings *out, ew_diag *d);

/*
 * Adds EMS_REQ_SET_POWER_SETTINGS holding exactly the fields named in
 * |chg|->present, nothing else.  This is the write half of a
 * read-modify-write: fields the caller did not name are never sent, so the
 * device keeps their current values (pye3dc's set_power_limits() instead
 * sends all three limits and fills unnamed ones with system defaults, which
 * silently resets them; we do not).  The intended sequence is
 *
 *   1. ew_e3dc_req_power_settings() / _parse_power_settings() -> |cur|
 *   2. fill |chg| with the user's changes and their present bits
 *   3. ew_e3dc_power_settings_merge(&cur, &chg, &expected) to show or check
 *      the resulting state
 *   4. ew_e3dc_req_set_power_settings(&chg) / ew_e3dc_parse_power_settings_set()
 *   5. optionally re-read and compare with |expected|.
 *
 * Types and order follow pye3dc (byte-identical to its frames): LIMITS_USED
 * Bool, MAX_DISCHARGE_POWER, MAX_CHARGE_POWER, DISCHARGE_START_POWER UInt32,
 * POWERSAVE_ENABLED and WEATHER_REGULATED_CHARGE_ENABLED UChar8, then
 * WEATHER_FORECAST_MODE Int32.  Returns `EW_ERR_INVAL` when no field is
 * named, `EW_ERR_RANGE` for a power outside 0..4294967295 or a forecast mode
 * outside Int32.
 */
EW_API int ew_e3dc_req_set_power_settings(ew_rscp_builder *b, const ew_e3dc_power_settings *chg);

/*
 * Copies |cur| to |out| and overwrites the fields named in |chg|->present:
 * the state expected after writing |chg|.  |out|->present is the union.
 * |out| may alias |cur|.
 */
EW_API void ew_e3dc_power_settings_merge(const ew_e3dc_power_settings *cur,
                                         const ew_e3dc_power_settings *chg,
                                         ew_e3dc_power_settings *out);

/* Shorthands for pye3dc's set_powersave() and set_weather_regulated_charge():
 * EMS_REQ_SET_POWER_SETTINGS with the one UChar8 flag. */
EW_API int ew_e3dc_req_set_powersave(ew_rscp_builder *b, int on);
EW_API int ew_e3dc_req_set_weather_regulated(ew_rscp_builder *b, int on);

/* Result codes of EMS_RES_* (rscp.md §9.7, pye3dc's reading). */
#define EW_E3DC_RES_OK 0
#define EW_E3DC_RES_ADJUSTED 1
#define EW_E3DC_RES_REJECTED (-1)

typedef struct ew_e3dc_power_settings_result {
    /* Per field (EW_E3DC_PS_*): the EMS_RES_* code when its bit is in
     * |present|. */
    int64_t res[EW_E3DC_PS_NFIELDS];
    uint64_t present;
    /* pye3dc's summary: -1 if any field was rejected, else 1 if any was
     * adjusted, else 0. */
    int overall;
    ew_e3dc_error error;
} ew_e3dc_power_settings_result;

/* Decodes EMS_SET_POWER_SETTINGS: one EMS_RES_<field> (Char8) per field sent,
 * located by tag. */
EW_API int ew_e3dc_parse_power_settings_set(const uint8_t *area, size_t len,
                                            ew_e3dc_power_settings_result *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Manual charge/discharge control, manual charge (rscp.md §9.8)             */
/* ------------------------------------------------------------------------ */

typedef enum ew_e3dc_power_mode {
    EW_E3DC_POWER_AUTO = 0,
    EW_E3DC_POWER_IDLE = 1,
    EW_E3DC_POWER_DISCHARGE = 2,
    EW_E3DC_POWER_CHARGE = 3,
    EW_E3DC_POWER_GRID_CHARGE = 4
} ew_e3dc_power_mode;

/* "auto", "idle", "discharge", "charge", "grid_charge", or NULL. */
EW_API const char *ew_e3dc_power_mode_name(int mode);

/*
 * Adds EMS_REQ_SET_POWER{EMS_REQ_SET_POWER_MODE UChar8 |mode|,
 * EMS_REQ_SET_POWER_VALUE Int32 |value_w|}.  The EMS falls back to automatic
 * operation unless the request is repeated at least every 30 s (rscp.md
 * §9.8); repeating is the caller's job.  Returns `EW_ERR_INVAL` for an
 * unknown mode, `EW_ERR_RANGE` for a negative value or a non-zero value with
 * EW_E3DC_POWER_AUTO / _IDLE.
 */
EW_API int ew_e3dc_req_set_power(ew_rscp_builder *b, ew_e3dc_power_mode mode, int32_t value_w);

/* Decodes EMS_SET_POWER (the device echoes the value, Int32): |ok| = not an
 * Error; |value| = the echo. */
EW_API int ew_e3dc_parse_set_power(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                   ew_diag *d);

/* Adds EMS_REQ_START_MANUAL_CHARGE UInt32 |energy_wh| (grid charging of that
 * energy). */
EW_API int ew_e3dc_req_manual_charge_start(ew_rscp_builder *b, uint32_t energy_wh);

/* Decodes EMS_START_MANUAL_CHARGE (Bool): |ok| = true. */
EW_API int ew_e3dc_parse_manual_charge_start(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                             ew_diag *d);

enum {
    EW_E3DC_MC_ACTIVE,
    EW_E3DC_MC_START_COUNTER,
    EW_E3DC_MC_ENERGY,
    EW_E3DC_MC_LAST_START,
    EW_E3DC_MC_NFIELDS
};

typedef struct ew_e3dc_manual_charge {
    int active;                   /* EMS_MANUAL_CHARGE_ACTIVE */
    int64_t start_counter;        /* EMS_MANUAL_CHARGE_START_COUNTER */
    double energy_wh;             /* EMS_MANUAL_CHARGE_ENERGY_COUNTER */
    ew_rscp_timestamp last_start; /* EMS_MANUAL_CHARGE_LASTSTART, UTC */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_manual_charge;

/* Adds EMS_REQ_GET_MANUAL_CHARGE. */
EW_API int ew_e3dc_req_manual_charge(ew_rscp_builder *b);

/* Decodes EMS_GET_MANUAL_CHARGE (children optional). */
EW_API int ew_e3dc_parse_manual_charge(const uint8_t *area, size_t len, ew_e3dc_manual_charge *out,
                                       ew_diag *d);

/* Adds EMS_REQ_BATTERY_TO_CAR_MODE (None). */
EW_API int ew_e3dc_req_battery_to_car(ew_rscp_builder *b);

/* Decodes EMS_BATTERY_TO_CAR_MODE (UChar8): |value| = the mode (1 = the
 * wallbox may use the battery), |ok| = not an Error. */
EW_API int ew_e3dc_parse_battery_to_car(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                        ew_diag *d);

/* Adds EMS_REQ_SET_BATTERY_TO_CAR_MODE UChar8 (|on| ? 1 : 0). */
EW_API int ew_e3dc_req_battery_to_car_set(ew_rscp_builder *b, int on);

/* Decodes EMS_SET_BATTERY_TO_CAR_MODE (UChar8, the device echoes the mode):
 * |ok| = not an Error, |value| = the echo (pye3dc also requires it to equal
 * the mode sent; compare it yourself). */
EW_API int ew_e3dc_parse_battery_to_car_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                            ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Batteries (rscp.md §9.3)                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Battery items.  Each is one BAT_REQ_<item> None request (and the bit in
 * ew_e3dc_battery.present); DEVICE_STATE is one request whose container fills
 * the three DEVICE_* bits below it.  Requests are emitted in this order.
 */
enum {
    EW_E3DC_BAT_RSOC,
    EW_E3DC_BAT_DEVICE_STATE,
    EW_E3DC_BAT_DEVICE_CONNECTED,  /* from DEVICE_STATE; not requestable */
    EW_E3DC_BAT_DEVICE_WORKING,    /* from DEVICE_STATE; not requestable */
    EW_E3DC_BAT_DEVICE_IN_SERVICE, /* from DEVICE_STATE; not requestable */
    EW_E3DC_BAT_DCB_COUNT,
    EW_E3DC_BAT_RSOC_REAL,
    EW_E3DC_BAT_ASOC,
    EW_E3DC_BAT_CHARGE_CYCLES,
    EW_E3DC_BAT_CURRENT,
    EW_E3DC_BAT_MODULE_VOLTAGE,
    EW_E3DC_BAT_TERMINAL_VOLTAGE,
    EW_E3DC_BAT_MAX_BAT_VOLTAGE,
    EW_E3DC_BAT_EOD_VOLTAGE,
    EW_E3DC_BAT_MAX_CHARGE_CURRENT,
    EW_E3DC_BAT_MAX_DISCHARGE_CURRENT,
    EW_E3DC_BAT_MAX_DCB_CELL_TEMP,
    EW_E3DC_BAT_MIN_DCB_CELL_TEMP,
    EW_E3DC_BAT_DESIGN_CAPACITY,
    EW_E3DC_BAT_FCC,
    EW_E3DC_BAT_RC,
    EW_E3DC_BAT_USABLE_CAPACITY,
    EW_E3DC_BAT_USABLE_REMAINING_CAPACITY,
    EW_E3DC_BAT_DEVICE_NAME,
    EW_E3DC_BAT_STATUS_CODE,
    EW_E3DC_BAT_ERROR_CODE,
    EW_E3DC_BAT_READY_FOR_SHUTDOWN,
    EW_E3DC_BAT_TRAINING_MODE,
    EW_E3DC_BAT_TOTAL_USE_TIME,
    EW_E3DC_BAT_TOTAL_DISCHARGE_TIME,
    EW_E3DC_BAT_NFIELDS
};

/* Every requestable battery item (what pye3dc's get_battery_data asks for,
 * except BAT_REQ_INTERNALS whose answer shape is unknown). */
#define EW_E3DC_BAT_ALL                                                                            \
    (((1ull << EW_E3DC_BAT_NFIELDS) - 1) &                                                         \
     ~((1ull << EW_E3DC_BAT_DEVICE_CONNECTED) | (1ull << EW_E3DC_BAT_DEVICE_WORKING) |             \
       (1ull << EW_E3DC_BAT_DEVICE_IN_SERVICE)))

/* DCB parts, requested per DCB with the DCB index as UInt16 value. */
#define EW_E3DC_DCB_PART_INFO 0x01u     /* BAT_REQ_DCB_INFO */
#define EW_E3DC_DCB_PART_TEMPS 0x02u    /* BAT_REQ_DCB_ALL_CELL_TEMPERATURES */
#define EW_E3DC_DCB_PART_VOLTAGES 0x04u /* BAT_REQ_DCB_ALL_CELL_VOLTAGES */
#define EW_E3DC_DCB_PART_ALL 0x07u

enum {
    EW_E3DC_DCB_INDEX,
    EW_E3DC_DCB_SOC,
    EW_E3DC_DCB_SOH,
    EW_E3DC_DCB_VOLTAGE,
    EW_E3DC_DCB_VOLTAGE_AVG30S,
    EW_E3DC_DCB_CURRENT,
    EW_E3DC_DCB_CURRENT_AVG30S,
    EW_E3DC_DCB_CYCLE_COUNT,
    EW_E3DC_DCB_DESIGN_CAPACITY,
    EW_E3DC_DCB_DESIGN_VOLTAGE,
    EW_E3DC_DCB_FULL_CHARGE_CAPACITY,
    EW_E3DC_DCB_REMAINING_CAPACITY,
    EW_E3DC_DCB_MAX_CHARGE_VOLTAGE,
    EW_E3DC_DCB_MAX_CHARGE_CURRENT,
    EW_E3DC_DCB_MAX_DISCHARGE_CURRENT,
    EW_E3DC_DCB_END_OF_DISCHARGE,
    EW_E3DC_DCB_CHARGE_HIGH_TEMP,
    EW_E3DC_DCB_CHARGE_LOW_TEMP,
    EW_E3DC_DCB_NR_SENSOR,
    EW_E3DC_DCB_NR_SERIES_CELL,
    EW_E3DC_DCB_NR_PARALLEL_CELL,
    EW_E3DC_DCB_STATUS,
    EW_E3DC_DCB_WARNING,
    EW_E3DC_DCB_ALARM,
    EW_E3DC_DCB_ERROR,
    EW_E3DC_DCB_MANUFACTURE_DATE,
    EW_E3DC_DCB_FW_VERSION,
    EW_E3DC_DCB_PCB_VERSION,
    EW_E3DC_DCB_PROTOCOL_VERSION,
    EW_E3DC_DCB_DEVICE_NAME,
    EW_E3DC_DCB_MANUFACTURE_NAME,
    EW_E3DC_DCB_SERIAL_NO,
    EW_E3DC_DCB_SERIAL_CODE,
    EW_E3DC_DCB_TEMPS,    /* cell temperatures arrived */
    EW_E3DC_DCB_VOLTAGES, /* cell voltages arrived */
    EW_E3DC_DCB_NFIELDS
};

/* One DCB (battery module).  Fields from BAT_DCB_INFO unless noted. */
typedef struct ew_e3dc_dcb {
    int64_t index; /* BAT_DCB_INDEX */
    double soc_pct, soh_pct;
    double voltage_v, voltage_avg30s_v;
    double current_a, current_avg30s_a;
    int64_t cycle_count;
    double design_capacity_ah, design_voltage_v;
    double full_charge_capacity_ah, remaining_capacity_ah;
    double max_charge_voltage_v, max_charge_current_a, max_discharge_current_a;
    double end_of_discharge_v;
    double charge_high_temp_c, charge_low_temp_c;
    int64_t nr_sensor, nr_series_cell, nr_parallel_cell;
    int64_t status, warning, alarm, error_bits; /* BAT_DCB_STATUS/WARNING/ALARM/ERROR */
    int64_t manufacture_date, fw_version, pcb_version, protocol_version;
    char device_name[EW_E3DC_SHORT_STR];
    char manufacture_name[EW_E3DC_SHORT_STR];
    char serial_no[EW_E3DC_SHORT_STR]; /* BAT_DCB_SERIALNO (a number on some systems) */
    char serial_code[EW_E3DC_SHORT_STR];
    /* BAT_DCB_ALL_CELL_TEMPERATURES / _VOLTAGES, in the order sent (pye3dc
     * uses the first NR_SENSOR / NR_SERIES_CELL of them). */
    unsigned ntemps, ntemps_total;
    float temps_c[EW_E3DC_MAX_CELLS];
    unsigned nvoltages, nvoltages_total;
    float voltages_v[EW_E3DC_MAX_CELLS];
    uint64_t present;
} ew_e3dc_dcb;

typedef struct ew_e3dc_battery {
    int64_t index; /* BAT_INDEX */
    double rsoc_pct;
    int device_connected, device_working, device_in_service;
    int64_t dcb_count;
    double rsoc_real_pct, asoc_pct;
    int64_t charge_cycles;
    double current_a;
    double module_voltage_v, terminal_voltage_v, max_bat_voltage_v, eod_voltage_v;
    double max_charge_current_a, max_discharge_current_a;
    double max_dcb_cell_temp_c, min_dcb_cell_temp_c;
    double design_capacity_ah, fcc_ah, rc_ah, usable_capacity_ah, usable_remaining_capacity_ah;
    char device_name[EW_E3DC_STR];
    int64_t status_code, error_code; /* UInt32 on devices (rscp.md §9.3) */
    int ready_for_shutdown;
    int64_t training_mode;
    int64_t total_use_time, total_discharge_time; /* raw; unit unknown */
    uint64_t present;
    /* DCBs that answered, identified by BAT_DCB_INDEX, in order of arrival. */
    unsigned ndcbs, ndcbs_total;
    ew_e3dc_dcb dcbs[EW_E3DC_MAX_DCB];
    ew_e3dc_error error;
} ew_e3dc_battery;

/*
 * Adds BAT_REQ_DATA{BAT_INDEX UInt16 |index|, one None request per item bit
 * in |items| (EW_E3DC_BAT_*; bits of non-requestable items are ignored), then
 * for each DCB d in |dcb_first| .. |dcb_first| + |dcb_count| - 1 the parts in
 * |dcb_parts| with d as UInt16 value, in pye3dc's order: ALL_CELL_TEMPERATURES,
 * ALL_CELL_VOLTAGES, DCB_INFO}.  pye3dc sends one frame per DCB; several DCBs
 * in one request are fine for the protocol but make large answers.  Returns
 * `EW_ERR_RANGE` for |index| > 65535, |dcb_count| > EW_E3DC_MAX_DCB or DCB
 * indexes beyond 65535, `EW_ERR_INVAL` when nothing is requested.
 */
EW_API int ew_e3dc_req_battery(ew_rscp_builder *b, unsigned index, uint64_t items,
                               unsigned dcb_parts, unsigned dcb_first, unsigned dcb_count);

/*
 * Decodes the BAT_DATA answer for battery |index|: the BAT_DATA container
 * whose BAT_INDEX equals |index|; when no container matches and the area
 * holds exactly one BAT_DATA, that one is taken if it is an Error (a battery
 * that does not exist: Error 6, rscp.md §6, §11.7) or has no BAT_INDEX.
 * Items the answer does not contain have their present bit clear; Error
 * children are reported in |error| (an Error for BAT_DCB_INFO carries no DCB
 * index, so it is recorded on the battery).
 */
EW_API int ew_e3dc_parse_battery(const uint8_t *area, size_t len, unsigned index,
                                 ew_e3dc_battery *out, ew_diag *d);

/* ------------------------------------------------------------------------ */
/* PV inverters (rscp.md §9.4)                                               */
/* ------------------------------------------------------------------------ */

/* Request parts. */
#define EW_E3DC_PVI_PART_INFO 0x01u     /* the scalar items pye3dc's get_pvi_data asks for */
#define EW_E3DC_PVI_PART_TRACKERS 0x02u /* DC power, voltage, current, energy per tracker */
#define EW_E3DC_PVI_PART_PHASES 0x04u   /* AC values per phase */
#define EW_E3DC_PVI_PART_TEMPS 0x08u    /* PVI_REQ_TEMPERATURE per sensor */

enum {
    EW_E3DC_PVI_TYPE,
    EW_E3DC_PVI_SERIAL,
    EW_E3DC_PVI_VERSION,
    EW_E3DC_PVI_ON_GRID,
    EW_E3DC_PVI_STATE,
    EW_E3DC_PVI_LAST_ERROR,
    EW_E3DC_PVI_COS_PHI, /* group */
    EW_E3DC_PVI_COS_PHI_VALUE,
    EW_E3DC_PVI_COS_PHI_ACTIVE,
    EW_E3DC_PVI_COS_PHI_EXCITED,
    EW_E3DC_PVI_VOLTAGE_MONITORING, /* group */
    EW_E3DC_PVI_VM_THRESHOLD_TOP,
    EW_E3DC_PVI_VM_THRESHOLD_BOTTOM,
    EW_E3DC_PVI_VM_SLOPE_UP,
    EW_E3DC_PVI_VM_SLOPE_DOWN,
    EW_E3DC_PVI_POWER_MODE,
    EW_E3DC_PVI_SYSTEM_MODE,
    EW_E3DC_PVI_FREQUENCY, /* group */
    EW_E3DC_PVI_FREQUENCY_UNDER,
    EW_E3DC_PVI_FREQUENCY_OVER,
    EW_E3DC_PVI_MAX_TEMP,
    EW_E3DC_PVI_MIN_TEMP,
    EW_E3DC_PVI_AC_MAX_APPARENT_POWER,
    EW_E3DC_PVI_DEVICE_STATE, /* group */
    EW_E3DC_PVI_DEVICE_CONNECTED,
    EW_E3DC_PVI_DEVICE_WORKING,
    EW_E3DC_PVI_DEVICE_IN_SERVICE,
    EW_E3DC_PVI_MAX_PHASE_COUNT,
    EW_E3DC_PVI_MAX_STRING_COUNT,
    EW_E3DC_PVI_USED_STRING_COUNT,
    EW_E3DC_PVI_TEMPERATURE_COUNT,
    EW_E3DC_PVI_NFIELDS
};

enum {
    EW_E3DC_TRK_POWER,
    EW_E3DC_TRK_VOLTAGE,
    EW_E3DC_TRK_CURRENT,
    EW_E3DC_TRK_ENERGY,
    EW_E3DC_TRK_NFIELDS
};

/* One DC string / MPP tracker: PVI_DC_* containers with that PVI_INDEX. */
typedef struct ew_e3dc_pvi_tracker {
    int64_t index;
    double power_w, voltage_v, current_a, energy_wh;
    uint64_t present;
} ew_e3dc_pvi_tracker;

enum {
    EW_E3DC_PH_POWER,
    EW_E3DC_PH_VOLTAGE,
    EW_E3DC_PH_CURRENT,
    EW_E3DC_PH_APPARENT_POWER,
    EW_E3DC_PH_REACTIVE_POWER,
    EW_E3DC_PH_ENERGY,
    EW_E3DC_PH_ENERGY_GRID_CONSUMPTION,
    EW_E3DC_PH_NFIELDS
};

/* One AC phase: PVI_AC_* containers with that PVI_INDEX. */
typedef struct ew_e3dc_pvi_phase {
    int64_t index;
    double power_w, voltage_v, current_a;
    double apparent_power_va, reactive_power_var;
    double energy_wh, energy_grid_consumption_wh;
    uint64_t present;
} ew_e3dc_pvi_phase;

typedef struct ew_e3dc_pvi_temp {
    int64_t index;
    double temp_c;
} ew_e3dc_pvi_temp;

typedef struct ew_e3dc_pvi {
    int64_t index; /* PVI_INDEX */
    int64_t type;  /* PVI_TYPE: 1 SOLU, 2 KACO, 3 E3DC_E, 4 E3DC_MINI */
    char serial[EW_E3DC_STR];
    char version[EW_E3DC_STR]; /* PVI_VERSION/PVI_VERSION_MAIN */
    int on_grid;
    char state[EW_E3DC_STR];
    char last_error[EW_E3DC_STR];
    double cos_phi;
    int cos_phi_active;
    int64_t cos_phi_excited;
    double vm_threshold_top_v, vm_threshold_bottom_v, vm_slope_up, vm_slope_down;
    int64_t power_mode, system_mode;
    double frequency_under_hz, frequency_over_hz;
    double max_temp_c, min_temp_c;   /* Float32, or a container with PVI_VALUE */
    double ac_max_apparent_power_va; /* container {PVI_INDEX, PVI_VALUE} */
    int device_connected, device_working, device_in_service;
    int64_t max_phase_count, max_string_count, used_string_count, temperature_count;
    uint64_t present;
    unsigned ntrackers, ntrackers_total;
    ew_e3dc_pvi_tracker trackers[EW_E3DC_MAX_TRACKERS];
    unsigned nphases, nphases_total;
    ew_e3dc_pvi_phase phases[EW_E3DC_MAX_PHASES];
    unsigned ntemps, ntemps_total;
    ew_e3dc_pvi_temp temps[EW_E3DC_MAX_PVI_TEMPS];
    ew_e3dc_error error;
} ew_e3dc_pvi;

/* "SOLU", "KACO", "E3DC_E", "E3DC_MINI" for PVI_TYPE 1..4, else NULL. */
EW_API const char *ew_e3dc_pvi_type_name(int64_t type);

/*
 * Adds PVI_REQ_DATA{PVI_INDEX UInt16 |index|, ...} with the parts in |parts|:
 * INFO = pye3dc's scalar items; TRACKERS = for t < |ntrackers|:
 * PVI_REQ_DC_POWER, _DC_VOLTAGE, _DC_CURRENT, _DC_STRING_ENERGY_ALL with t;
 * PHASES = for p < |nphases|: PVI_REQ_AC_POWER, _VOLTAGE, _CURRENT,
 * _APPARENTPOWER, _REACTIVEPOWER, _ENERGY_ALL, _ENERGY_GRID_CONSUMPTION with p;
 * TEMPS = PVI_REQ_TEMPERATURE with s < |ntemps|.  Per-item indexes are sent as
 * UInt16, as pye3dc does (documented UChar8; rscp.md §9.4).  Returns
 * `EW_ERR_RANGE` when a count exceeds its EW_E3DC_MAX_* or |index| > 65535,
 * `EW_ERR_INVAL` when nothing is requested.
 */
EW_API int ew_e3dc_req_pvi(ew_rscp_builder *b, unsigned index, unsigned parts, unsigned ntrackers,
                           unsigned nphases, unsigned ntemps);

/*
 * Decodes the PVI_DATA answer for inverter |index| (matched like
 * ew_e3dc_parse_battery()).  Per-item answers are containers {PVI_INDEX,
 * PVI_VALUE} and are filed by that index.  An inverter that does not exist
 * answers without PVI_TYPE (rscp.md §11.7): check EW_E3DC_PVI_TYPE.
 */
EW_API int ew_e3dc_parse_pvi(const uint8_t *area, size_t len, unsigned index, ew_e3dc_pvi *out,
                             ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Power meters (rscp.md §9.5)                                               */
/* ------------------------------------------------------------------------ */

enum {
    EW_E3DC_PM_POWER_L1,
    EW_E3DC_PM_POWER_L2,
    EW_E3DC_PM_POWER_L3,
    EW_E3DC_PM_VOLTAGE_L1,
    EW_E3DC_PM_VOLTAGE_L2,
    EW_E3DC_PM_VOLTAGE_L3,
    EW_E3DC_PM_ENERGY_L1,
    EW_E3DC_PM_ENERGY_L2,
    EW_E3DC_PM_ENERGY_L3,
    EW_E3DC_PM_MAX_PHASE_POWER,
    EW_E3DC_PM_ACTIVE_PHASES,
    EW_E3DC_PM_TYPE,
    EW_E3DC_PM_MODE,
    EW_E3DC_PM_NFIELDS
};

/* PM_TYPE values (pye3dc's names, rscp.md §9.5). */
#define EW_E3DC_PM_TYPE_ROOT 1

typedef struct ew_e3dc_pm {
    int64_t index; /* PM_INDEX */
    double power_l1_w, power_l2_w, power_l3_w;
    double voltage_l1_v, voltage_l2_v, voltage_l3_v;
    double energy_l1_wh, energy_l2_wh, energy_l3_wh;
    double max_phase_power_w;
    int64_t active_phases; /* bit mask, bit 0 = L1 */
    int64_t type;          /* PM_TYPE, see ew_e3dc_pm_type_name() */
    int64_t mode;
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_pm;

/* "UNDEFINED", "ROOT", "ADDITIONAL", ... for PM_TYPE 0..11, else NULL. */
EW_API const char *ew_e3dc_pm_type_name(int64_t type);

/*
 * Adds PM_REQ_DATA{PM_INDEX UInt16 |index|, the 13 None requests of pye3dc's
 * get_powermeter_data in its order}.  For the grid meter pass
 * ew_e3dc_root_pm_index() (model default 0 or 6, or the user's override).
 */
EW_API int ew_e3dc_req_pm(ew_rscp_builder *b, unsigned index);

/* Decodes the PM_DATA answer for meter |index| (matched like
 * ew_e3dc_parse_battery()).  A meter that does not exist answers without
 * PM_TYPE (rscp.md §11.7). */
EW_API int ew_e3dc_parse_pm(const uint8_t *area, size_t len, unsigned index, ew_e3dc_pm *out,
                            ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Wallbox (rscp.md §9.9)                                                    */
/* ------------------------------------------------------------------------ */

enum {
    EW_E3DC_WB_ALG, /* the status fields below it come from WB_EXTERN_DATA_ALG */
    EW_E3DC_WB_SOC,
    EW_E3DC_WB_PHASES,
    EW_E3DC_WB_SUN_MODE,
    EW_E3DC_WB_CHARGING_CANCELED,
    EW_E3DC_WB_CHARGING_ACTIVE,
    EW_E3DC_WB_PLUG_LOCKED,
    EW_E3DC_WB_PLUGGED,
    EW_E3DC_WB_MAX_CURRENT,
    EW_E3DC_WB_SCHUKO_ON,
    EW_E3DC_WB_SUN,          /* sun_power_w, sun_energy_wh */
    EW_E3DC_WB_NET,          /* net_power_w, net_energy_wh */
    EW_E3DC_WB_ENERGY_TOTAL, /* both SUN and NET */
    EW_E3DC_WB_APP_SOFTWARE,
    EW_E3DC_WB_KEY_STATE,
    EW_E3DC_WB_BATTERY_TO_CAR,
    EW_E3DC_WB_NFIELDS
};

typedef struct ew_e3dc_wallbox {
    int64_t index; /* WB_INDEX */
    /* WB_EXTERN_DATA of WB_EXTERN_DATA_ALG (6 bytes, pye3dc's reading): */
    int64_t soc;           /* byte 0 (meaning not explained) */
    int64_t phases;        /* byte 1 */
    int sun_mode;          /* byte 2 & 0x80 */
    int charging_canceled; /* byte 2 & 0x40 */
    int charging_active;   /* byte 2 & 0x20 */
    int plug_locked;       /* byte 2 & 0x10 */
    int plugged;           /* byte 2 & 0x08 */
    int64_t max_current_a; /* byte 3 */
    int schuko_on;         /* byte 5 != 0 */
    /* WB_EXTERN_DATA_SUN / _NET: Int16 power (bytes 0-1), Int32 energy (2-5) */
    int64_t sun_power_w, sun_energy_wh;
    int64_t net_power_w, net_energy_wh;
    int64_t total_energy_wh; /* sun + net */
    int64_t app_software;    /* WB_APP_SOFTWARE */
    int64_t key_state;       /* WB_KEY_STATE */
    int64_t battery_to_car;  /* EMS_BATTERY_TO_CAR_MODE, when in the same frame */
    uint8_t alg[6];          /* the raw status bytes */
    uint64_t present;
    ew_e3dc_error error;
} ew_e3dc_wallbox;

/*
 * Adds WB_REQ_DATA{WB_INDEX UChar8 |index|, WB_REQ_EXTERN_DATA_ALG, _SUN,
 * _NET, WB_REQ_APP_SOFTWARE, WB_REQ_KEY_STATE} and, as a second top-level
 * request, EMS_REQ_BATTERY_TO_CAR_MODE (pye3dc's get_wallbox_data).
 */
EW_API int ew_e3dc_req_wallbox(ew_rscp_builder *b, unsigned index);

/*
 * Decodes WB_DATA for wallbox |index| (matched by WB_INDEX like
 * ew_e3dc_parse_battery()) and EMS_BATTERY_TO_CAR_MODE when the area holds it.
 * A WB_EXTERN_DATA shorter than 6 bytes is `EW_ERR_PROTO`.
 */
EW_API int ew_e3dc_parse_wallbox(const uint8_t *area, size_t len, unsigned index,
                                 ew_e3dc_wallbox *out, ew_diag *d);

typedef enum ew_e3dc_wb_cmd {
    EW_E3DC_WB_SET_SUN_MODE,    /* |value| != 0: sun mode, 0: mixed mode */
    EW_E3DC_WB_SET_SCHUKO,      /* |value| != 0: on */
    EW_E3DC_WB_SET_MAX_CURRENT, /* |value| = A, 1..255 (the wallbox clips) */
    EW_E3DC_WB_TOGGLE_CHARGING, /* |value| ignored */
    EW_E3DC_WB_TOGGLE_PHASES    /* |value| ignored: toggles 1 <-> 3 phases */
} ew_e3dc_wb_cmd;

/*
 * Adds WB_REQ_DATA{WB_INDEX UChar8 |index|, <set> {WB_EXTERN_DATA ByteArray(6),
 * WB_EXTERN_DATA_LEN UChar8 6}} with one byte set, as pye3dc's
 * sendWallboxRequest (rscp.md §9.9): sun mode byte 0 = 1 on / 2 off, toggle
 * phases byte 3 = 1, toggle charging byte 4 = 1, schuko byte 5 = 0/1, all via
 * WB_REQ_SET_EXTERN; max current byte 2 = A via WB_REQ_SET_PARAM_1.  Returns
 * `EW_ERR_INVAL` for an unknown command, `EW_ERR_RANGE` for |index| > 255 or
 * a current outside 1..255.
 */
EW_API int ew_e3dc_req_wallbox_set(ew_rscp_builder *b, unsigned index, ew_e3dc_wb_cmd cmd,
                                   unsigned value);

/*
 * Decodes the answer to ew_e3dc_req_wallbox_set(): the first WB_DATA holding
 * WB_SET_EXTERN, WB_SET_PARAM_1 or WB_SET_PARAM_2 (|tag| says which).  |ok| =
 * that value is not an Error, whatever its type (WB_SET_EXTERN is None in the
 * tag lists; this is pye3dc's test, the value is not interpreted).  A
 * top-level WB_DATA Error refuses the whole command.
 */
EW_API int ew_e3dc_parse_wallbox_set(const uint8_t *area, size_t len, ew_e3dc_result *out,
                                     ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Topology discovery (rscp.md §9.3-§9.5, §9.9, §11.7)                       */
/* ------------------------------------------------------------------------ */

#define EW_E3DC_TOPO_BATTERIES 0x01u
#define EW_E3DC_TOPO_PVIS 0x02u
#define EW_E3DC_TOPO_PMS 0x04u
#define EW_E3DC_TOPO_WALLBOXES 0x08u
#define EW_E3DC_TOPO_ALL 0x0Fu

typedef struct ew_e3dc_topology {
    unsigned probed; /* EW_E3DC_TOPO_* parts found in the answer */
    unsigned nbatteries;
    struct {
        unsigned index;
        int64_t dcb_count;
    } batteries[EW_E3DC_MAX_BATTERIES];
    unsigned npvis;
    struct {
        unsigned index;
        int64_t type;
        int64_t trackers; /* PVI_USED_STRING_COUNT, -1 when not reported */
        int64_t phases;   /* PVI_AC_MAX_PHASE_COUNT, -1 when not reported */
    } pvis[EW_E3DC_MAX_PVIS];
    unsigned ntrackers; /* sum of the reported tracker counts */
    unsigned npms;
    struct {
        unsigned index;
        int64_t type;
    } pms[EW_E3DC_MAX_PMS];
    /* Index of the first meter reporting PM_TYPE 1 (ROOT), or -1. */
    int root_pm_index;
    unsigned nwallboxes;
    unsigned wallboxes[EW_E3DC_MAX_WALLBOXES];
} ew_e3dc_topology;

/*
 * Adds probe requests for the parts in |parts|, for indexes 0 .. 7 each, in
 * this order (pye3dc's get_batteries / get_pvis / get_powermeters, batched):
 *   BAT_REQ_DATA{BAT_INDEX i, BAT_REQ_DCB_COUNT}                       x 8
 *   PVI_REQ_DATA{PVI_INDEX i, PVI_REQ_TYPE, PVI_REQ_USED_STRING_COUNT,
 *                PVI_REQ_AC_MAX_PHASE_COUNT}                             x 8
 *   PM_REQ_DATA{PM_INDEX i, PM_REQ_TYPE}                                 x 8
 *   WB_REQ_DATA{WB_INDEX i, WB_REQ_EXTERN_DATA_ALG}                      x 8
 * (all 32 fit in one small frame).  Returns `EW_ERR_INVAL` when |parts| is 0
 * or has unknown bits.
 */
EW_API int ew_e3dc_req_topology(ew_rscp_builder *b, unsigned parts);

/*
 * Counts the devices from the probe answers.  The k-th answer of a kind
 * belongs to the k-th probe (rscp.md §11.4: same order); an index child, when
 * present, overrides the position.  A device exists when:
 *   battery  - BAT_DATA is a container with a numeric BAT_DCB_COUNT (a
 *              top-level BAT_DATA Error, e.g. 6, means no battery, §11.7);
 *   inverter - PVI_DATA holds a PVI_TYPE that is not an Error (§11.7);
 *   meter    - PM_DATA holds a PM_TYPE that is not an Error (§11.7);
 *   wallbox  - WB_DATA holds a WB_EXTERN_DATA_ALG container (a top-level
 *              WB_DATA Error or a missing / Error ALG means no wallbox; the
 *              device behaviour is not documented, this is our rule).
 * Returns `EW_ERR_PROTO` when the area holds none of the four answer tags.
 */
EW_API int ew_e3dc_parse_topology(const uint8_t *area, size_t len, ew_e3dc_topology *out,
                                  ew_diag *d);

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */
/* ------------------------------------------------------------------------ */

/* Writer flags. */
#define EW_E3DC_JSON_PRETTY 0x01u /* JSON: newlines and two-space indentation */

/*
 * Each result struct has two writers:
 *
 *   int ew_e3dc_<struct>_json(const <struct> *v, unsigned flags, char *out,
 *                             size_t cap, size_t *written);
 *   int ew_e3dc_<struct>_text(...same...);
 *
 * _json writes one JSON object whose keys are the struct's field names
 * (units in the names, SI units; absent fields are null; timestamps are ISO
 * 8601 UTC strings; the device error is {"code","name","tag","count",
 * "whole"} or null).  _text writes "label: value unit" lines for humans,
 * leaving absent fields out.  Output is NUL terminated when |cap| > 0.
 * |*written| receives the text length (without the NUL).  Returns `EW_OK`,
 * `EW_ERR_NOBUF` (|*written| = the size needed including the NUL; a
 * truncated, NUL-terminated prefix was written), or `EW_ERR_INVAL` (|v| NULL).
 */
#define EW_E3DC_WRITERS(name, type)                                                                \
    EW_API int ew_e3dc_##name##_json(const type *v, unsigned flags, char *out, size_t cap,         \
                                     size_t *written);                                             \
    EW_API int ew_e3dc_##name##_text(const type *v, unsigned flags, char *out, size_t cap,         \
                                     size_t *written)

EW_E3DC_WRITERS(result, ew_e3dc_result);
EW_E3DC_WRITERS(poll, ew_e3dc_poll);
EW_E3DC_WRITERS(status, ew_e3dc_status);
EW_E3DC_WRITERS(sysinfo, ew_e3dc_sysinfo);
EW_E3DC_WRITERS(sysinfo_dyn, ew_e3dc_sysinfo_dyn);
EW_E3DC_WRITERS(switches, ew_e3dc_switches);
EW_E3DC_WRITERS(idle_periods, ew_e3dc_idle_periods);
EW_E3DC_WRITERS(history, ew_e3dc_history);
EW_E3DC_WRITERS(power_settings, ew_e3dc_power_settings);
EW_E3DC_WRITERS(power_settings_result, ew_e3dc_power_settings_result);
EW_E3DC_WRITERS(manual_charge, ew_e3dc_manual_charge);
EW_E3DC_WRITERS(battery, ew_e3dc_battery);
EW_E3DC_WRITERS(pvi, ew_e3dc_pvi);
EW_E3DC_WRITERS(pm, ew_e3dc_pm);
EW_E3DC_WRITERS(wallbox, ew_e3dc_wallbox);
EW_E3DC_WRITERS(topology, ew_e3dc_topology);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_E3DC_H */
