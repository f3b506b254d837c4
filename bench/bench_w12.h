/* energywire-bench W12: capture decoding throughput (bench_w12.c). */
#ifndef EW_BENCH_W12_H
#define EW_BENCH_W12_H

#include "bench.h"

/*
 * Builds a pcap of RSCP poll traffic in memory (~100 MB, or ~2 MB with
 * |quick|) from the W1 request and W2 answer of the workload file
 * |workloads|, verifies one decoding pass, measures, and appends the row
 * "W12" to |rep| (MB/s of capture, ops/s = decoded frames per second).
 * Returns 0, or -1 after bench_fail().
 */
int bench_w12_run(const char *workloads, int quick, const bench_opts *o, bench_report *rep);

#endif
