/*
 * energywire-bench: the loop workloads (bench_loop.c), which run the I/O
 * layer end to end against the in-process E3/DC simulator over loopback TCP.
 *
 *   W9   poll round trips of one ew_rscp_client, one request in flight:
 *        round trips/s and latency percentiles.
 *   W10  the simulator serving 200 clients at 5 Hz: the server thread's CPU
 *        share of one core.
 *
 * Their figures (latency, CPU share) do not fit bench_row, so they keep a
 * report of their own, which bench.c prints after the codec rows.
 */
#ifndef EW_BENCH_LOOP_H
#define EW_BENCH_LOOP_H

#include <stdint.h>

#include "bench.h"

typedef enum bench_loop_kind {
    BENCH_LOOP_LATENCY = 1, /* W9: ops/s, MB/s, p50/p99; target >= ops/s */
    BENCH_LOOP_CPU = 2      /* W10: ops/s, cpu_pct; target <= cpu_pct */
} bench_loop_kind;

typedef struct bench_loop_row {
    char key[32];        /* JSON key: "W9", "W9_2threads", "W10" */
    const char *what;    /* short description for the table */
    const char *threads; /* how the work was spread: "1 shared", "2" */
    bench_loop_kind kind;
    double target; /* LATENCY: minimum ops/s; CPU: maximum cpu_pct */
    double ops_per_s;
    double mb_per_s; /* LATENCY: 10^6 bytes of ciphertext, both ways */
    double p50_ms, p99_ms;
    double cpu_pct;        /* CPU: server thread, % of one core */
    double client_cpu_pct; /* CPU: the clients' thread (for information) */
    uint64_t ops;          /* round trips / polls in the reported repeat */
    uint64_t late;         /* CPU: ticks whose previous poll was still unanswered */
    double seconds;        /* its duration */
} bench_loop_row;

#define BENCH_LOOP_MAX_ROWS 4

typedef struct bench_loop_report {
    bench_loop_row rows[BENCH_LOOP_MAX_ROWS];
    int nrows;
} bench_loop_report;

/*
 * Workload |id| ("W9" or "W10"): verifies every answer, measures, appends
 * rows to |rep|.  |quick| shortens W10's wall time (W9 follows
 * o->min_time).  Returns 0, or -1 after bench_fail().
 */
int bench_loop_run(const char *id, const bench_opts *o, int quick, bench_loop_report *rep);

/* Appends `, "W9": {...}` members for every row to an open JSON object on
 * stdout (|first|: no leading comma before the first member). */
void bench_loop_print_json(const bench_loop_report *rep, int first);

/* The rows as a table with targets and verdicts, and their descriptions. */
void bench_loop_print_table(const bench_loop_report *rep);

#endif
