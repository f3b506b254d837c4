/*
 * energywire-bench W11 (bench_w11.c): one EP node holding many concurrent
 * TLS 1.3 sessions on loopback, every peer publishing SupplyParameters at
 * 10 Hz and the node publishing back at 10 Hz.  Reports the session set-up
 * rate, the node thread's CPU share of one core and the messages received
 * per second.  Its figures do not fit bench_row, so it keeps a report of
 * its own, which bench.c prints after the other rows.
 */
#ifndef EW_BENCH_W11_H
#define EW_BENCH_W11_H

#include <stdint.h>

#include "bench.h"

typedef struct bench_w11_report {
    int done;                         /* 1 when W11 ran */
    unsigned sessions;                /* concurrent sessions held by the node */
    double setup_s;                   /* first dial to all sessions active on both sides */
    double handshakes_per_s;          /* sessions / setup_s (TCP + TLS 1.3 + EP handshake) */
    double seconds;                   /* the measurement */
    double cpu_pct;                   /* node thread, % of one core (getrusage RUSAGE_THREAD) */
    double cpu_user_pct, cpu_sys_pct; /* its user and kernel parts */
    double peers_cpu_pct;             /* the peers' thread (for information) */
    double msgs_per_s;                /* frames received by the node */
    double msgs_tx_per_s;             /* frames the node sent */
    double target_cpu_pct;            /* <= this is the target */
    uint64_t lost;                    /* sessions closed or failed during the run (must be 0) */
} bench_w11_report;

/*
 * Runs W11 (|quick|: 100 sessions and a 1 s measurement instead of 1,000
 * and 5 s).  Checks its own result (every session up, none lost, messages
 * within 10 % of sessions x 10 Hz).  Returns 0, or -1 after bench_fail().
 */
int bench_w11_run(const bench_opts *o, int quick, bench_w11_report *rep);

/* Appends `"W11": {...}` to an open JSON object on stdout (|first|: no
 * leading comma). */
void bench_w11_print_json(const bench_w11_report *rep, int first);

/* W11 as a short table with its target and verdict. */
void bench_w11_print_table(const bench_w11_report *rep);

#endif
