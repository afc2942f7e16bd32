/* The tiled quantized GEMM (gemm_q: weights reused across a tile of tokens)
 * against the per-pair path (vec_dot per row and token) and oneDNN's f32
 * sgemm on the same shape, single-threaded (thread CPU time), 32 to 512
 * tokens, the types llama.cpp's numerics run this way.  The goal of issue
 * 16: the tiled GEMM at >= 70% of sgemm's FLOP/s. */
#include "config.h"
#include "bench/bench.h"
#include "kernels/matmul.h"

#include <mvquant/kernels.h>
#include <stdio.h>
#include <stdlib.h>

#define N_IN 4096
#define N_OUT 4096

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
            snprintf(name, sizeof name, "%s %dx%d x%lld", mvq_type_name(t), N_IN, N_OUT, (long long)tokens[ti]);
            const bool want_pairs = bench_wants(ctx, "qgemm", name, "pairs"),
                       want_tiled = bench_wants(ctx, "qgemm", name, "tiled");
            if (!want_pairs && !want_tiled)
                continue;
            ran = true;
            if (sgemm == 0 && mvq_onednn_available())
                sgemm = gflops(ctx, (qg_case){ MVQ_PATH_ONEDNN, MVQ_TYPE_F32, wf, tokens[ti], x, y });
            void *w = bench_alloc(mvq_row_size(t, N_IN) * N_OUT);
            mvq_quantize_rows(t, wf, w, N_OUT, N_IN, NULL);
            double pairs = gflops(ctx, (qg_case){ MVQ_PATH_DOT_PAIRS, t, w, tokens[ti], x, y });
            double tiled = gflops(ctx, (qg_case){ MVQ_PATH_DOT, t, w, tokens[ti], x, y });
            if (t == MVQ_TYPE_F16 || t == MVQ_TYPE_BF16) {
                const double dq = gflops(ctx, (qg_case){ MVQ_PATH_ONEDNN, t, w, tokens[ti], x, y });
                bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "dequant", .threads = 1,
                                                .value = dq, .unit = "GFLOP/s", .ref = pairs,
                                                .ref_name = "pairs", .alt = sgemm, .alt_name = "onednn f32" });
                if (mvq_kernels()->gemm_half[t]) {
                    const double h = gflops(ctx, (qg_case){ MVQ_PATH_HALF, t, w, tokens[ti], x, y });
                    bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "half", .threads = 1,
                                                    .value = h, .unit = "GFLOP/s", .ref = dq,
                                                    .ref_name = "dequant", .alt = sgemm, .alt_name = "onednn f32" });
                }
                if (t == MVQ_TYPE_BF16 && mvq_kernels()->gemm_bf16) {
                    const double b1 = gflops(ctx, (qg_case){ MVQ_PATH_BF16, t, w, tokens[ti], x, y });
                    const double b2 = gflops(ctx, (qg_case){ MVQ_PATH_BF16_SPLIT, t, w, tokens[ti], x, y });
                    bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "bf16x1", .threads = 1,
                                                    .value = b1, .unit = "GFLOP/s", .ref = dq,
                                                    .ref_name = "dequant", .alt = sgemm, .alt_name = "onednn f32" });
                    bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "bf16x2", .threads = 1,
                                                    .value = b2, .unit = "GFLOP/s", .ref = dq,
                                                    .ref_name = "dequant", .alt = sgemm, .alt_name = "onednn f32" });
                }
            }
            if (want_pairs)
                bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "pairs", .threads = 1,
                                                .value = pairs, .unit = "GFLOP/s", .alt = sgemm,
                                                .alt_name = "onednn f32" });
            if (want_tiled)
                bench_report(ctx, &(bench_row){ .group = "qgemm", .name = name, .variant = "tiled", .threads = 1,
                                                .value = tiled, .unit = "GFLOP/s", .ref = pairs,
                                                .ref_name = "pairs", .alt = sgemm, .alt_name = "onednn f32" });
            free(w);
        }
    }
    if (ran)
        bench_note(ctx, "qgemm: %s table, one thread (thread CPU time); pairs: vec_dot per (row, token); tiled: "
                        "the table's gemm_q (bit-identical; the per-pair loop where it has none); onednn f32: "
                        "dnnl_sgemm on the same shape in f32",
                   mvq_kernels()->isa);
    free(wf), free(x), free(y);
}
