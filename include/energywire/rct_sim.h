/*
 * energywire RCT simulator core: a plant model and a request handler that
 * answers RCT request frames the way rct.md describes a device (sans-I/O,
 * part of energywire_sim).  See docs/rct-session.md.
 *
 * The plant model is deterministic from a seed and advanced by the caller's
 * time: PV power by time of day (with seeded clouds), house load, battery
 * power and state of charge integrated over time, and the grid as the
 * balance.  The handler answers READ for every registry object, WRITE to any
 * registry object (later reads return the written value; rct.md §15: the
 * device does no bounds checking), timeseries and event-table queries
 * (rct.md §8), and stays silent for unknown ids, plant frames and frames with
 * a wrong CRC (rct.md §1, §12).  Fault flags make it misbehave like the
 * hardware in rct.md §15.
 */
#ifndef ENERGYWIRE_RCT_SIM_H
#define ENERGYWIRE_RCT_SIM_H

#include <energywire/rct.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ew_rct_sim ew_rct_sim;

typedef struct ew_rct_sim_opts {
    uint64_t seed;
    /* Unix time (s) the model starts at (default 1782000000, a June day). */
    int64_t start_time;
    double pv_peak_w;     /* default 8000 */
    double battery_wh;    /* default 10000 */
    double battery_max_w; /* default 5000 */
    double load_base_w;   /* default 350 */
    double soc_start;     /* 0..1, default 0.5 */
    /* Written values kept (default 64); writes beyond are answered but not
     * kept. */
    unsigned max_writes;
    /* Answer a cut frame when a request arrives from one peer while another
     * peer's answer is still unsent (rct.md §15, "one client at a time"). */
    int interrupt_on_second_client;
} ew_rct_sim_opts;

/* Fills |o| with the defaults. */
EW_API void ew_rct_sim_opts_init(ew_rct_sim_opts *o);

/* Creates a simulator (NULL options: defaults; NULL |mem|: malloc).  Returns
 * `EW_OK`, `EW_ERR_INVAL` or `EW_ERR_NOMEM`. */
EW_API int ew_rct_sim_new(ew_rct_sim **s, const ew_rct_sim_opts *o, const ew_mem *mem);
EW_API void ew_rct_sim_del(ew_rct_sim *s);

/* Advances the model to unix time |t| (s); earlier times are ignored. */
EW_API void ew_rct_sim_step(ew_rct_sim *s, int64_t t);

/*
 * The model's state.  Signs: |grid_w| > 0 imports from the grid;
 * |battery_w| > 0 discharges the battery; pv_w + grid_w + battery_w =
 * load_w.  |soc| is a fraction 0..1, as battery.soc is on the wire.
 */
typedef struct ew_rct_sim_state {
    int64_t time;
    double soc, pv_w, load_w, grid_w, battery_w;
} ew_rct_sim_state;
EW_API void ew_rct_sim_get_state(const ew_rct_sim *s, ew_rct_sim_state *st);

/* Fault flags for ew_rct_sim_handle() (rct.md §15). */
#define EW_RCT_SIM_FAULT_TRUNCATE 0x01u  /* payload cut in half, CRC valid */
#define EW_RCT_SIM_FAULT_BAD_CRC 0x02u   /* payload intact, CRC wrong */
#define EW_RCT_SIM_FAULT_DROP 0x04u      /* no answer */
#define EW_RCT_SIM_FAULT_INTERRUPT 0x08u /* wire bytes cut mid-frame, rest abandoned */

/*
 * Answers the request frame |req| (as ew_rct_rx_feed() returned it) with
 * fault flags |faults|: writes the escaped answer into |out| (|cap| bytes;
 * 1024 is enough for every answer) and sets |*written| (0 = no answer).
 * Returns `EW_OK`, `EW_ERR_NOBUF` or `EW_ERR_INVAL`.
 */
EW_API int ew_rct_sim_handle(ew_rct_sim *s, const ew_rct_frame *req, unsigned faults, uint8_t *out,
                             size_t cap, size_t *written);

/*
 * A peer: one client connection's receiver and send buffer (several may
 * exist at once; all share the model).  ew_rct_sim_peer_recv() takes bytes
 * chunked any way, several frames in one chunk included (rct.md §11 Q15),
 * answers each request with |faults| and returns the bytes consumed (fewer
 * when the send buffer is full: send, then feed the rest).
 */
typedef struct ew_rct_sim_peer ew_rct_sim_peer;
EW_API int ew_rct_sim_peer_new(ew_rct_sim *s, ew_rct_sim_peer **p);
EW_API void ew_rct_sim_peer_del(ew_rct_sim_peer *p);
EW_API size_t ew_rct_sim_peer_recv(ew_rct_sim_peer *p, const uint8_t *in, size_t len,
                                   unsigned faults);
EW_API size_t ew_rct_sim_peer_send_data(ew_rct_sim_peer *p, const uint8_t **out);
EW_API void ew_rct_sim_peer_send_done(ew_rct_sim_peer *p, size_t n);
/* Requests answered by this peer so far. */
EW_API unsigned long ew_rct_sim_peer_requests(const ew_rct_sim_peer *p);

#ifdef __cplusplus
}
#endif

#endif /* ENERGYWIRE_RCT_SIM_H */
