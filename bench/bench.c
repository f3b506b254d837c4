/*
 * energywire-bench: codec throughput on the fixed workloads of
 * bench/rscp_workloads.json, so that the numbers can be set side by side with
 * the other RSCP clients measured on the same inputs.
 *
 *   energywire-bench [--json] [--quick] [--impl portable|aesni|auto]
 *                    [--workloads FILE] [ID...]
 *
 * IDs are W1, W2, W3 (RSCP codec, bench_rscp.c), W4, W5, W6 (RCT codec,
 * bench_rct.c), W7, W8 (EP codec, bench_ep.c) and W9, W10 (client and
 * simulator over loopback TCP, bench_loop.c), W11 (EP node with 1,000 TLS
 * sessions, bench_w11.c; "W11" reports sessions, handshakes_per_s, cpu_pct
 * and msgs_per_s), W12 (capture decoding,
 * bench_w12.c, when energywire_capture is built); default: all.  --json prints
 * one JSON object, {"W1": {"ops_per_s": N, "MB_per_s": M}, ...}, where W9
 * adds "p99_ms" and "p50_ms" and W10 reports "cpu_pct"; otherwise a table.  Every
 * workload checks its own result first; on a mismatch nothing is printed on
 * stdout and the exit status is 1.  Exit status 2 is a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_loop.h"
#include "bench_w11.h"

/* W11 (bench_w11.c) keeps a report of its own, printed after the loop rows. */
static bench_w11_report w11rep;

#ifdef EW_BENCH_W12
#include "bench_w12.h" /* W12, capture decoding: needs energywire_capture */
#endif

#ifndef EW_BENCH_WORKLOADS
#define EW_BENCH_WORKLOADS "bench/rscp_workloads.json"
#endif
#ifndef EW_BENCH_RCT_WORKLOADS
#define EW_BENCH_RCT_WORKLOADS "bench/rct_workloads.json"
#endif
#ifndef EW_BENCH_EP_VECTORS
#define EW_BENCH_EP_VECTORS "tests/vectors/ep/generated-vectors.json"
#endif

void bench_fail(const char *fmt, ...) {
    va_list ap;
    fputs("energywire-bench: FAIL: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int timed(bench_run_fn fn, void *ctx, uint64_t iters, double *secs) {
    double t0 = now_s();
    if (fn(ctx, iters) != 0)
        return -1;
    *secs = now_s() - t0;
    if (*secs < 1e-9)
        *secs = 1e-9;
    return 0;
}

int bench_measure(bench_run_fn fn, void *ctx, double bytes_per_op, const bench_opts *o,
                  bench_result *r) {
    /* Calibrate: grow the count until a run takes a good fraction of the
     * target, then scale up to the target (these runs also warm caches). */
    uint64_t iters = 1;
    double t;
    for (;;) {
        if (timed(fn, ctx, iters, &t) != 0)
            return -1;
        if (t >= o->min_time * 0.2 || iters >= (UINT64_C(1) << 40))
            break;
        double grow = (o->min_time * 0.3) / t;
        if (grow > 100)
            grow = 100;
        if (grow < 2)
            grow = 2;
        iters = (uint64_t)((double)iters * grow) + 1;
    }
    if (t < o->min_time)
        iters = (uint64_t)((double)iters * o->min_time / t * 1.05) + 1;

    double best = 0;
    for (int i = 0; i < o->repeats; i++) {
        if (timed(fn, ctx, iters, &t) != 0)
            return -1;
        if (i == 0 || t < best)
            best = t;
    }
    r->iters = iters;
    r->seconds = best;
    r->ops_per_s = (double)iters / best;
    r->mb_per_s = r->ops_per_s * bytes_per_op / 1e6;
    return 0;
}

/* ---- output ----------------------------------------------------------- */

/* "1234567.8" -> "1,234,568" */
static void fmt_grouped(double x, char *out, size_t cap) {
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", x);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        out[o++] = digits[i];
        size_t rest = n - i - 1;
        if (rest && rest % 3 == 0 && o + 2 < cap)
            out[o++] = ',';
    }
    out[o] = '\0';
}

static void print_json(const bench_report *rep, const bench_loop_report *lrep) {
    fputc('{', stdout);
    for (int i = 0; i < rep->nrows; i++) {
        const bench_row *r = &rep->rows[i];
        printf("%s\"%s\": {\"ops_per_s\": %.1f, \"MB_per_s\": %.3f}", i ? ", " : "", r->key,
               r->res.ops_per_s, r->res.mb_per_s);
    }
    bench_loop_print_json(lrep, rep->nrows == 0);
    bench_w11_print_json(&w11rep, rep->nrows == 0 && lrep->nrows == 0);
    fputs("}\n", stdout);
}

static void print_table(const bench_report *rep, const bench_loop_report *lrep, const char *impl,
                        int aesni, const bench_opts *o) {
    printf("energywire-bench %s: cipher %s (AES-NI %s), best of %d repeats of >= %.2f s\n\n",
           EW_VERSION_STRING, impl, aesni ? "available" : "not available", o->repeats, o->min_time);
    if (rep->nrows == 0) {
        bench_loop_print_table(lrep);
        bench_w11_print_table(&w11rep);
        return;
    }
    printf("%-20s %-9s %14s %10s  %-22s %s\n", "workload", "cipher", "ops/s", "MB/s", "target", "");
    for (int i = 0; i < rep->nrows; i++) {
        const bench_row *r = &rep->rows[i];
        char ops[40], target[64];
        fmt_grouped(r->res.ops_per_s, ops, sizeof ops);
        const char *verdict = "";
        if (r->target > 0) {
            char t[40];
            fmt_grouped(r->target, t, sizeof t);
            snprintf(target, sizeof target, ">= %s %s", t, r->target_is_mb ? "MB/s" : "ops/s");
            double got = r->target_is_mb ? r->res.mb_per_s : r->res.ops_per_s;
            verdict = got >= r->target ? "met" : "BELOW TARGET";
        } else {
            snprintf(target, sizeof target, "-");
        }
        printf("%-20s %-9s %14s %10.1f  %-22s %s\n", r->key, r->impl, ops, r->res.mb_per_s, target,
               verdict);
    }
    printf("\n");
    for (int i = 0; i < rep->nrows; i++)
        printf("  %-20s %s\n", rep->rows[i].key, rep->rows[i].what);
    printf("\nOne op: W1/W2 one frame, W3 one 4 MiB pass (64 messages of 64 KiB), W4-W8 one\n"
           "frame. MB = 10^6 bytes of ciphertext (W1-W3) or wire frame (W4-W8) handled.\n"
           "W12: one op = one decoded frame, MB = 10^6 bytes of capture file.\n");
    bench_loop_print_table(lrep);
    bench_w11_print_table(&w11rep);
}

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: energywire-bench [--json] [--quick] [--impl portable|aesni|auto]\n"
            "                        [--workloads FILE] [ID...]\n"
            "  ID          W1 W2 W3 W4 W5 W6 W7 W8 W9 W10 W11 W12 (default: all)\n"
            "  --json      print one JSON object instead of a table\n"
            "  --quick     very short runs (smoke test); results are still verified\n"
            "  --impl X    cipher implementation (default auto: AES-NI when available;\n"
            "              W3 is then also measured with the portable cipher)\n"
            "  --workloads FILE  workload definitions (default %s)\n",
            EW_BENCH_WORKLOADS);
}

#define N_IDS 10
#define N_CODEC_IDS 3 /* W1-W3 run in bench_rscp.c, W4-W6 in bench_rct.c, */
#define N_RCT_IDS 6   /* W7-W8 in bench_ep.c, the rest in bench_loop.c */
#define N_EP_IDS 8

static int id_index(const char *s) {
    static const char *const ids[N_IDS] = {"W1", "W2", "W3", "W4", "W5",
                                           "W6", "W7", "W8", "W9", "W10"};
    for (int i = 0; i < N_IDS; i++)
        if ((s[0] == 'W' || s[0] == 'w') && strcmp(s + 1, ids[i] + 1) == 0)
            return i;
    return -1;
}

int main(int argc, char **argv) {
    static const char *const ids[N_IDS] = {"W1", "W2", "W3", "W4", "W5",
                                           "W6", "W7", "W8", "W9", "W10"};
    int json = 0, quick = 0, explicit_impl = 0;
    int want[N_IDS] = {0}, any = 0, want_w12 = 0, want_w11 = 0;
    ew_rscp_cipher_impl impl = EW_RSCP_CIPHER_AUTO;
    const char *workloads = EW_BENCH_WORKLOADS;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--impl") == 0 || strcmp(a, "--workloads") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "energywire-bench: %s needs an argument\n", a);
                usage(stderr);
                return 2;
            }
            const char *v = argv[++i];
            if (a[2] == 'w') {
                workloads = v;
            } else if (strcmp(v, "portable") == 0) {
                impl = EW_RSCP_CIPHER_PORTABLE;
                explicit_impl = 1;
            } else if (strcmp(v, "aesni") == 0) {
                impl = EW_RSCP_CIPHER_AESNI;
                explicit_impl = 1;
            } else if (strcmp(v, "auto") == 0) {
                impl = EW_RSCP_CIPHER_AUTO;
            } else {
                fprintf(stderr, "energywire-bench: unknown cipher implementation '%s'\n", v);
                usage(stderr);
                return 2;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "W11") == 0 || strcmp(a, "w11") == 0) {
            want_w11 = 1;
            any = 1;
        } else if (strcmp(a, "W12") == 0 || strcmp(a, "w12") == 0) {
            want_w12 = 1;
            any = 1;
        } else if (a[0] != '-' && id_index(a) >= 0) {
            want[id_index(a)] = 1;
            any = 1;
        } else {
            fprintf(stderr, "energywire-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!any) {
        for (int i = 0; i < N_IDS; i++)
            want[i] = 1;
        want_w12 = 1;
        want_w11 = 1;
    }
    if (impl == EW_RSCP_CIPHER_AESNI && !ew_rscp_cipher_aesni_available()) {
        fprintf(stderr, "energywire-bench: --impl aesni: this CPU or build has no AES-NI\n");
        return 2;
    }

    bench_opts o = {quick ? 0.005 : 0.6, quick ? 1 : 3};
    /* Both implementations for W3 unless one was asked for explicitly. */
    bench_rscp *b = bench_rscp_new(workloads, impl, !explicit_impl);
    if (!b)
        return 1;
    bench_rct *rb = bench_rct_new(EW_BENCH_RCT_WORKLOADS);
    if (!rb) {
        bench_rscp_del(b);
        return 1;
    }
    bench_ep *eb = bench_ep_new(EW_BENCH_EP_VECTORS);
    if (!eb) {
        bench_rct_del(rb);
        bench_rscp_del(b);
        return 1;
    }
    bench_report rep;
    bench_loop_report lrep;
    memset(&rep, 0, sizeof rep);
    memset(&lrep, 0, sizeof lrep);
    for (int i = 0; i < N_IDS; i++) {
        if (!want[i])
            continue;
        int rc = i < N_CODEC_IDS ? bench_rscp_run(b, ids[i], &o, &rep)
                 : i < N_RCT_IDS ? bench_rct_run(rb, ids[i], &o, &rep)
                 : i < N_EP_IDS  ? bench_ep_run(eb, ids[i], &o, &rep)
                                 : bench_loop_run(ids[i], &o, quick, &lrep);
        if (rc != 0) {
            bench_ep_del(eb);
            bench_rct_del(rb);
            bench_rscp_del(b);
            return 1;
        }
    }
    if (want_w11 && bench_w11_run(&o, quick, &w11rep) != 0) {
        bench_ep_del(eb);
        bench_rct_del(rb);
        bench_rscp_del(b);
        return 1;
    }
#ifdef EW_BENCH_W12
    if (want_w12 && bench_w12_run(workloads, quick, &o, &rep) != 0) {
        bench_ep_del(eb);
        bench_rct_del(rb);
        bench_rscp_del(b);
        return 1;
    }
#else
    if (want_w12 && any)
        fprintf(stderr, "energywire-bench: W12 skipped: built without energywire_capture\n");
#endif
    if (json)
        print_json(&rep, &lrep);
    else
        print_table(&rep, &lrep, bench_rscp_impl_name(b), ew_rscp_cipher_aesni_available(), &o);
    bench_ep_del(eb);
    bench_rct_del(rb);
    bench_rscp_del(b);
    return fflush(stdout) == 0 ? 0 : 1;
}
