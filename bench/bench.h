/*
 * energywire-bench: shared declarations of the timing harness (bench.c) and
 * the RSCP workloads (bench_rscp.c).  The command-line interface follows the
 * shared benchmark README: `energywire-bench [--json] [ID...]`.
 */
#ifndef EW_BENCH_H
#define EW_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <energywire/rscp.h>

/* Runs |iters| iterations of a workload.  Returns 0, or -1 after reporting
 * what went wrong with bench_fail(). */
typedef int (*bench_run_fn)(void *ctx, uint64_t iters);

/* How long to measure: each repeat runs at least |min_time| seconds and the
 * best of |repeats| is reported. */
typedef struct bench_opts {
    double min_time;
    int repeats;
} bench_opts;

typedef struct bench_result {
    double ops_per_s;
    double mb_per_s; /* 10^6 bytes per second */
    uint64_t iters;  /* iterations per repeat */
    double seconds;  /* duration of the best repeat */
} bench_result;

/*
 * Calibrates the iteration count for |fn| so that one repeat lasts at least
 * o->min_time, then runs o->repeats repeats and stores the best in |r|.
 * |bytes_per_op| converts operations into MB/s.  Returns 0, or -1 when a run
 * failed (it has reported why).
 */
int bench_measure(bench_run_fn fn, void *ctx, double bytes_per_op, const bench_opts *o,
                  bench_result *r);

/* Prints "energywire-bench: FAIL: <message>" to stderr. */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line of the report. */
typedef struct bench_row {
    char key[32];     /* JSON key: "W1", "W3_encrypt_portable" */
    const char *what; /* short description for the table */
    const char *impl; /* cipher implementation ("aesni", "portable") */
    int target_is_mb; /* target is in MB/s (else ops/s) */
    double target;    /* the goal; 0 = none */
    bench_result res;
} bench_row;

#define BENCH_MAX_ROWS 12

typedef struct bench_report {
    bench_row rows[BENCH_MAX_ROWS];
    int nrows;
} bench_report;

/* The RSCP workloads and their inputs (bench/rscp_workloads.json). */
typedef struct bench_rscp bench_rscp;

/*
 * Loads the workload file |path| and prepares the ciphers: |impl| is the
 * implementation for W1, W2 and W3; with |both| and an AES-NI main cipher, W3
 * also runs with the portable one.  Returns NULL after bench_fail().
 */
bench_rscp *bench_rscp_new(const char *path, ew_rscp_cipher_impl impl, int both);
void bench_rscp_del(bench_rscp *b);

/* Name of the implementation W1/W2/W3 run with ("aesni", "portable"). */
const char *bench_rscp_impl_name(const bench_rscp *b);

/* Workload |id| ("W1", "W2", "W3"): verifies, measures, appends rows to
 * |rep|.  Returns 0, or -1 after bench_fail(). */
int bench_rscp_run(bench_rscp *b, const char *id, const bench_opts *o, bench_report *rep);

/* The RCT workloads W4-W6 and their inputs (bench/rct_workloads.json,
 * bench_rct.c). */
typedef struct bench_rct bench_rct;

/* Loads the workload file |path|.  Returns NULL after bench_fail(). */
bench_rct *bench_rct_new(const char *path);
void bench_rct_del(bench_rct *b);

/* Workload |id| ("W4", "W5", "W6"): verifies, measures, appends a row to
 * |rep|.  Returns 0, or -1 after bench_fail(). */
int bench_rct_run(bench_rct *b, const char *id, const bench_opts *o, bench_report *rep);

/* The EP workloads W7, W8 (bench_ep.c) on the full Supply frame of
 * tests/vectors/ep/generated-vectors.json. */
typedef struct bench_ep bench_ep;

/* Loads the vector file |path|.  Returns NULL after bench_fail(). */
bench_ep *bench_ep_new(const char *path);
void bench_ep_del(bench_ep *b);

/* Workload |id| ("W7", "W8"): verifies, measures, appends a row to |rep|.
 * Returns 0, or -1 after bench_fail(). */
int bench_ep_run(bench_ep *b, const char *id, const bench_opts *o, bench_report *rep);

#endif
