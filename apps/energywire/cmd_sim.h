/*
 * The simulated E3/DC device of `energywire sim rscp`, shared with
 * `energywire demo`: the plant options (cmd_sim.c) and a server that serves
 * the ew_e3dc_sim plant model through ew_rscp_server on a libuv loop.
 */
#ifndef EW_CLI_CMD_SIM_H
#define EW_CLI_CMD_SIM_H

#include <energywire/io.h>
#include <energywire/sim.h>

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

/* |start_ms| value meaning "the wall-clock time when the simulator starts". */
#define SIM_START_NOW INT64_MIN

/* The plant and its clock. */
typedef struct sim_plant {
    /* Plant configuration; the caller sets |users|/|nusers| and |rscp_key|. */
    ew_e3dc_sim_config cfg;
    /* Model seconds per wall-clock second (1 = real time). */
    double speed;
    /* Model time at the start, Unix ms, or SIM_START_NOW. */
    int64_t start_ms;
} sim_plant;

/* The defaults of ew_e3dc_sim_config_init(), speed 1, start now. */
void sim_plant_init(sim_plant *p);

/*
 * Takes a plant option at argv[*i] ("--batteries N", "--speed X", ...).
 * Returns 1 when taken (with its value; *i then points at the value), 0 when
 * argv[*i] is not a plant option, -1 after printing a usage error.
 */
int sim_plant_opt(sim_plant *p, int argc, char **argv, int *i);

/* Prints the plant options, one per line, for usage texts. */
void sim_plant_usage(FILE *out);

/* Writes the model time |ms| as "2024-06-15 08:00:00" in the plant's local
 * standard time into |out|. */
void sim_plant_local_time(const sim_plant *p, int64_t ms, char *out, size_t cap);

typedef struct sim_server sim_server;

typedef struct sim_server_opts {
    /* The plant (copied by sim_server_start). */
    const sim_plant *plant;
    /* Numeric listen address and port (0 = any free port). */
    const char *host;
    uint16_t port;
    unsigned max_clients;
    ew_rscp_faults faults;
    /* 1: one stderr line per connection and disconnection, and per refused
     * login. */
    int log_peers;
    /* 1: the library's debug messages too. */
    int verbose;
} sim_server_opts;

/*
 * Creates the simulator (backfilling its history) and starts listening on
 * |loop|.  Prints what went wrong and returns an exit code: EXIT_OK with
 * |*out| set, EXIT_USAGE (a plant setting the simulator refuses, a host that
 * is not a numeric address) or EXIT_FAIL (out of memory, cannot listen).
 */
int sim_server_start(sim_server **out, uv_loop_t *loop, const sim_server_opts *o);

/* The port the server listens on. */
uint16_t sim_server_port(const sim_server *s);

/* The model time now (the simulator's clock: start + elapsed x speed). */
int64_t sim_server_model_time(const sim_server *s);

/* Closes every connection and frees the simulator; the loop must run until
 * the server's handles have closed.  |s| may be NULL. */
void sim_server_stop(sim_server *s);

#endif
