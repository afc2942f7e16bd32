/* GPTQ's cost: whole-model quantization time of --method gptq (sequential,
 * act-order, refit; its layer-by-layer pass over 1024 calibration tokens
 * in sequences of 256) against RTN on the same file in the same run, at
 * q4_k_m, for tinyrope-3M and a synthetic model of dim 2048, FFN 5632
 * (2 layers; 1 with --quick), with the seconds per layer and the process's
 * peak resident memory after the case.  Both without statistics (no
 * importance, nothing protected): the cost of the method alone.  One run
 * each (a run takes seconds to minutes).  And the factor U of H^-1 alone
 * (its Cholesky and triangular inverse, GPTQ's n^3 part) at n = 1024 to
 * 4096 (Llama-2-7B's attention inputs), blocked against the left-looking
 * reference, on the pool. */
#include "config.h"
#include "bench/bench.h"
#include "quant/methods/gptq_internal.h"

#include <mvquant/methods.h>
#include <mvquant/quantize.h>
#include <mvquant/synth.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define GPTQ_TOKENS 1024

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Seconds to quantize in_path at q4_k_m with method (NULL: RTN); < 0 on failure. */
static double quantize_seconds(bench_ctx *ctx, const char *in_path, const char *out_path, const mvq_method *method,
                               mvq_pool *pool, int64_t *n_layer)
{
    mvq_error err;
    mvq_gguf *in = mvq_gguf_open(in_path, &err);
    mvq_model *m = in ? mvq_model_from_gguf(in, &err) : NULL;
    if (!m) {
        bench_note(ctx, "gptq: %s", err.msg);
        mvq_gguf_close(in);
        return -1;
    }
    *n_layer = m->hp.n_layer;
    int32_t *tokens = bench_alloc(sizeof *tokens * GPTQ_TOKENS);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int64_t i = 0; i < GPTQ_TOKENS; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tokens[i] = (int32_t)(3 + (s >> 33) % (uint64_t)(m->hp.n_vocab - 3));
    }
    const mvq_preset *p = mvq_preset_find("q4_k_m");
    mvq_quantize_opts o = {
        .plan = {.ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1},
        .method = method, .pool = pool, .sequential = true,
        .calib_tokens = tokens, .n_calib_tokens = GPTQ_TOKENS, .calib_ctx = 256,
    };
    mvq_quantize_report rep = {0};
    double t0 = now_s();
    mvq_status st = mvq_quantize_file(in, out_path, &o, &rep, &err);
    double t = now_s() - t0;
    if (st != MVQ_OK)
        bench_note(ctx, "gptq: %s", err.msg);
    mvq_quantize_report_free(&rep);
    free(tokens);
    mvq_model_free(m);
    mvq_gguf_close(in);
    unlink(out_path);
    return st == MVQ_OK ? t : -1;
}

static void bench_model(bench_ctx *ctx, const char *name, const char *path, const char *dir)
{
    if (!bench_wants(ctx, "gptq", name, "gptq"))
        return;
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    mvq_pool *pool = mvq_pool_create(bench_max_threads(ctx));
    int64_t n_layer = 1;
    const double rtn = quantize_seconds(ctx, path, out, NULL, pool, &n_layer);
    const double gptq = rtn >= 0 ? quantize_seconds(ctx, path, out, mvq_method_find("gptq"), pool, &n_layer) : -1;
    if (gptq >= 0) {
        bench_report(ctx, &(bench_row){.group = "gptq", .name = name, .variant = "model", .threads =
                                       mvq_pool_size(pool), .value = gptq, .unit = "s", .lower_is_better = true,
                                       .ref = rtn, .ref_name = "rtn", .extra = peak_mib(), .extra_unit = "MiB peak"});
        bench_report(ctx, &(bench_row){.group = "gptq", .name = name, .variant = "per layer", .threads =
                                       mvq_pool_size(pool), .value = gptq / (double)n_layer, .unit = "s",
                                       .lower_is_better = true, .ref = rtn / (double)n_layer, .ref_name = "rtn"});
    }
    mvq_pool_free(pool);
}

/* A damped x x^T of correlated inputs, as the Hessians GPTQ sees. */
static void fill_hessian(double *h, int64_t n)
{
    const int64_t n_tok = 64;
    float *x = bench_alloc(sizeof *x * (size_t)(n_tok * n));
    bench_fill(x, (size_t)(n_tok * n), 1.0f, 7);
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t j = 1; j < n; j++)
            x[t * n + j] += 0.8f * x[t * n + j - 1];
    memset(h, 0, sizeof *h * (size_t)(n * n));
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                h[i * n + j] += (double)x[t * n + i] * x[t * n + j];
    for (int64_t i = 0; i < n; i++)
        h[i * n + i] += 0.01 * (h[i * n + i] + 1);
    free(x);
}

static void bench_factor(bench_ctx *ctx)
{
    static const int64_t sizes[] = { 1024, 2048, 4096 };
    mvq_pool *pool = mvq_pool_create(bench_max_threads(ctx));
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] - (bench_quick(ctx) ? 1 : 0); k++) {
        const int64_t n = sizes[k];
        char name[64];
        snprintf(name, sizeof name, "factor n=%lld", (long long)n);
        if (!bench_wants(ctx, "gptq", name, "blocked"))
            continue;
        const size_t bytes = sizeof(double) * (size_t)(n * n);
        double *h = bench_alloc(bytes), *work = bench_alloc(bytes), *u = bench_alloc(bytes);
        fill_hessian(h, n);
        double t[2];
        bool ok = true;
        for (int v = 0; v < 2; v++) {
            memcpy(work, h, bytes);
            double t0 = now_s();
            ok &= v ? gptq_inverse_factor(work, n, u, pool) : gptq_inverse_factor_ref(work, n, u, pool);
            t[v] = now_s() - t0;
        }
        if (ok)
            bench_report(ctx, &(bench_row){.group = "gptq", .name = name, .variant = "blocked", .threads =
                                           mvq_pool_size(pool), .value = t[1], .unit = "s", .lower_is_better = true,
                                           .ref = t[0], .ref_name = "left-looking",
                                           .extra = 2.0 * (double)n * (double)n * (double)n / 3.0 / t[1] * 1e-9,
                                           .extra_unit = "GFLOP/s"});
        else
            bench_note(ctx, "gptq %s: not positive definite", name);
        free(h), free(work), free(u);
    }
    mvq_pool_free(pool);
}

void bench_gptq(bench_ctx *ctx)
{
    bench_factor(ctx);
    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/mvq_bench_gptq.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        bench_note(ctx, "gptq skipped: cannot create a folder %s", dir);
        return;
    }
    const char *fix = getenv("MVQ_FIXTURES");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/models/tinyrope-3M.gguf", fix && *fix ? fix : "../shared/fixtures");
    if (access(path, R_OK) == 0)
        bench_model(ctx, "tinyrope-3M q4_k_m", path, dir);
    else
        bench_note(ctx, "gptq tinyrope-3M skipped: %s absent", path);

    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 2048;
    p.n_layers = bench_quick(ctx) ? 1 : 2;
    p.n_heads = 32;
    p.n_kv_heads = 4;
    p.ff = 5632;
    p.vocab = 32000;
    p.ctx = 512;
    char name[64];
    snprintf(name, sizeof name, "synth-2048x%lld ff5632 q4_k_m", (long long)p.n_layers);
    snprintf(path, sizeof path, "%s/synth.gguf", dir);
    mvq_error err;
    if (bench_wants(ctx, "gptq", name, "gptq")) {
        if (mvq_synth_write(path, &p, &err) == MVQ_OK)
            bench_model(ctx, name, path, dir);
        else
            bench_note(ctx, "gptq %s skipped: %s", name, err.msg);
    }
    unlink(path);
    rmdir(dir);
}
