/* The tiled quantized GEMM (gemm_q: weights reused across a tile of tokens)
 * against the per-pair path (vec_dot per row and token) and oneDNN's f32
 * sgemm on the same shape, single-threaded (thread CPU time), 32 to 512
 * tokens, the types llama.cpp's numerics run this way; and for F16/BF16
 * weights the dequantized tiles' sgemm against the half GEMMs (gemm_half,
 * gemm_bf16 with one or two activation terms).  The goal of issue 16: each
 * type's batch product at >= 70% of sgemm's FLOP/s. */
#include "config.h"
#include "bench/bench.h"
#include "kernels/matmul.h"

#include <mvquant/kernels.h>
#include <stdio.h>
#include <stdlib.h>

#define N_IN 4096
#define N_OUT 4096

typedef struct qg_variant {
    const char *name;
    mvq_matmul_path path;
    bool exists;
} qg_variant;

typedef struct qg_case {
    mvq_matmul_path path;
    mvq_type type;
    const void *w;
    int64_t n_tok;
    const float *x;
    float *y;
} qg_case;

static void run_case(void *p)
{
    qg_case *c = p;
    mvq_error err;
    if (mvq_matmul_table(mvq_kernels(), c->path, NULL, c->type, c->w, N_OUT, N_IN, c->x, c->n_tok, c->y,
                         &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
}

static double gflops(bench_ctx *ctx, qg_case c)
{
    bench_timing t = bench_time_cpu(ctx, run_case, &c);
    return 2.0 * N_OUT * N_IN * (double)c.n_tok / t.seconds * 1e-9;
}

void bench_qgemm(bench_ctx *ctx)
{
    static const mvq_type types[] = { MVQ_TYPE_Q8_0, MVQ_TYPE_Q4_0, MVQ_TYPE_Q4_K, MVQ_TYPE_Q6_K, MVQ_TYPE_F16, MVQ_TYPE_BF16 };
    static const int64_t tokens[] = { 32, 128, 512 };
    const int n_tokens = bench_quick(ctx) ? 1 : 3;
    const int64_t max_tok = tokens[n_tokens - 1];
    float *wf = bench_alloc(sizeof(float) * N_IN * N_OUT);
    float *x = bench_alloc(sizeof(float) * N_IN * (size_t)max_tok);
    float *y = bench_alloc(sizeof(float) * N_OUT * (size_t)max_tok);
    bench_fill(wf, (size_t)N_IN * N_OUT, 1.0f, 21);
    bench_fill(x, (size_t)N_IN * (size_t)max_tok, 2.0f, 22);
    bool ran = false;
    for (int ti = 0; ti < n_tokens; ti++) {
        char name[64];
        double sgemm = 0;
        for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
            const mvq_type t = types[k];
            const bool half = t == MVQ_TYPE_F16 || t == MVQ_TYPE_BF16;
            snprintf(name, sizeof name, "%s %dx%d x%lld", mvq_type_name(t), N_IN, N_OUT, (long long)tokens[ti]);
            /* block types: the tiled gemm_q; F16/BF16: the dequantized tiles and the half GEMMs */
            const qg_variant variants[] = {
                { "tiled", MVQ_PATH_DOT, !half },
                { "dequant", MVQ_PATH_ONEDNN, half && mvq_onednn_available() },
                { "half", MVQ_PATH_HALF, half && mvq_kernels()->gemm_half[t] },
                { "bf16x1", MVQ_PATH_BF16, t == MVQ_TYPE_BF16 && mvq_kernels()->gemm_bf16 },
                { "bf16x2", MVQ_PATH_BF16_SPLIT, t == MVQ_TYPE_BF16 && mvq_kernels()->gemm_bf16 },
            };
            bool want_any = bench_wants(ctx, "qgemm", name, "pairs");
            for (size_t v = 0; v < sizeof variants / sizeof *variants; v++)
                want_any |= variants[v].exists && bench_wants(ctx, "qgemm", name, variants[v].name);
            if (!want_any)
                continue;
            ran = true;
            if (sgemm == 0 && mvq_onednn_available())
                sgemm = gflops(ctx, (qg_case){ MVQ_PATH_ONEDNN, MVQ_TYPE_F32, wf, tokens[ti], x, y });
            void *w = bench_alloc(mvq_row_size(t, N_IN) * N_OUT);
            mvq_quantize_rows(t, wf, w, N_OUT, N_IN, NULL);
            const double pairs = gflops(ctx, (qg_case){ MVQ_PATH_DOT_PAIRS, t, w, tokens[ti], x, y });
            if (bench_wants(ctx, "qgemm", name, "pairs"))
                bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "pairs", .threads = 1,
                                                .value = pairs, .unit = "GFLOP/s", .alt = sgemm,
                                                .alt_name = "onednn f32" });
            for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
                if (!variants[v].exists || !bench_wants(ctx, "qgemm", name, variants[v].name))
                    continue;
                const double g = gflops(ctx, (qg_case){ variants[v].path, t, w, tokens[ti], x, y });
                bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = variants[v].name,
                                                .threads = 1, .value = g, .unit = "GFLOP/s", .ref = pairs,
                                                .ref_name = "pairs", .alt = sgemm, .alt_name = "onednn f32" });
            }
            free(w);
        }
    }
    if (ran)
        bench_note(ctx, "qgemm: %s table, one thread (thread CPU time); pairs: vec_dot per (row, token); tiled: "
                        "the table's gemm_q (bit-identical; the per-pair loop where it has none); dequant: f16/bf16 "
                        "tiles dequantized, sgemm; half: gemm_half (f32 activations); bf16x1/x2: gemm_bf16 "
                        "(activations in one or two bf16 terms); onednn f32: dnnl_sgemm on the same shape in f32",
                   mvq_kernels()->isa);
    free(wf), free(x), free(y);
}
