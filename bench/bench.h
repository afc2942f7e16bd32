/* mvq_bench: one harness, one file per family of benchmarks.
 *
 * Adding a family: write bench/bench_NAME.c with
 *     void bench_NAME(bench_ctx *ctx);
 * add one line BENCH_FAMILY(NAME, "what it measures") to bench/families.def
 * and the file to bench/local.mk.  Inside, for each case:
 *     if (!bench_wants(ctx, "group", "case", "variant")) skip it;
 *     bench_timing t = bench_time(ctx, fn, arg);   (median of repetitions;
 *                                                   bench_time_cpu when single-threaded)
 *     bench_report(ctx, &(bench_row){ ... });
 * The harness prints the table (or JSON) and writes the CSV. */
#ifndef MVQ_BENCH_H
#define MVQ_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_ctx bench_ctx;

/* One measured figure.  ref is the scalar reference (or F32, or whatever
 * the family compares against) measured in the same run, alt a second
 * comparison (oneDNN for the f32 products); 0 when there is none. */
typedef struct bench_row {
    const char *group;   /* "quantize", "vec_dot", "gemm", "forward", ... */
    const char *name;    /* the case: "q4_K", "q4_0 4096x11008", ... */
    const char *variant; /* "scalar", "avx2", "onednn", "imatrix/avx2", ... */
    int threads;         /* 0 when not applicable */
    double value;
    const char *unit;    /* "Mw/s", "GB/s", "cyc/32", "GFLOP/s", "tok/s", "MiB" */
    bool lower_is_better;
    double ref;          /* same unit as value; 0: none */
    const char *ref_name;
    double alt;
    const char *alt_name;
    double extra;        /* an optional second figure of the same case */
    const char *extra_unit;
} bench_row;

typedef struct bench_timing {
    double seconds; /* median seconds per call */
    double ticks;   /* median time-stamp ticks per call (rdtsc / cntvct), 0 when none */
    int reps, inner;
} bench_timing;

/* Options the families may read. */
bool bench_quick(const bench_ctx *ctx);
int bench_max_threads(const bench_ctx *ctx);

/* Whether "group/name/variant" matches --filter (always true without one). */
bool bench_wants(const bench_ctx *ctx, const char *group, const char *name, const char *variant);

/* Calls fn(arg) after a warm-up, in repetitions of enough calls to last a
 * few milliseconds each; returns the medians of wall time. */
bench_timing bench_time(bench_ctx *ctx, void (*fn)(void *arg), void *arg);
/* The same for work done on the calling thread alone, timed by that
 * thread's CPU time, so that other load on the machine does not inflate it
 * (ticks = CPU time x the time-stamp rate).  A case that got less than 80%
 * of a core is counted and reported under the table. */
bench_timing bench_time_cpu(bench_ctx *ctx, void (*fn)(void *arg), void *arg);

void bench_report(bench_ctx *ctx, const bench_row *row);

/* A note under the table (what was skipped and why). */
void bench_note(bench_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name of the time-stamp counter, for units: "cyc" (rdtsc) or "tick". */
const char *bench_tick_name(void);

/* 64-byte aligned, zeroed; exits with a message when memory runs out. */
void *bench_alloc(size_t bytes);
/* Deterministic pseudo-random floats, uniform in [-scale, scale). */
void bench_fill(float *v, size_t n, float scale, uint64_t seed);

#define BENCH_FAMILY(name, what) void bench_##name(bench_ctx *ctx);
#include "bench/families.def"
#undef BENCH_FAMILY

#endif
