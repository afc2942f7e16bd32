/* Matrix products on LLM-sized weights: GEMV (one token) and GEMM (a batch),
 * 4096x4096 and 4096x11008 (n_in x n_out, as GGUF's ne), 1..--threads
 * threads, every type with a dot product on every supported set, in GFLOP/s
 * against the scalar reference of the same run; f32 also against oneDNN. */
#include "config.h"
#include "bench/bench.h"
#include "kernels/matmul.h"

#include <mvquant/kernels.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_TOKENS 32
#define GEMM_TOKENS_QUICK 8
#define BAND 64 /* rows quantized once, then repeated down the matrix */
/* The scalar reference of a GEMM runs at well under 1 GFLOP/s: it is
 * measured on the first 1/SCALAR_GEMM_ROWS_DIV of the output rows (same
 * rows, tokens and per-row work, so the same GFLOP/s, in a fraction of the
 * time). */
#define SCALAR_GEMM_ROWS_DIV 8

typedef struct mm_case {
    const mvq_kernel_table *kt;
    mvq_matmul_path path;
    mvq_pool *pool;
    mvq_type type;
    const void *w;
    int64_t n_out, n_in, n_tok;
    const float *x;
    float *y;
} mm_case;

static void run_matmul(void *p)
{
    mm_case *c = p;
    mvq_error err;
    if (mvq_matmul_table(c->kt, c->path, c->pool, c->type, c->w, c->n_out, c->n_in, c->x,
                         c->n_tok, c->y, &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
}

static double gflops(bench_ctx *ctx, mm_case *c)
{
    bench_timing t = mvq_pool_size(c->pool) == 1 ? bench_time_cpu(ctx, run_matmul, c)
                                                 : bench_time(ctx, run_matmul, c);
    return 2.0 * (double)c->n_out * (double)c->n_in * (double)c->n_tok / t.seconds * 1e-9;
}

static bool can_multiply(const mvq_kernel_table *kt, mvq_type t)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    return tr && kt->vec_dot[t] && kt->from_float[t] && tr->vec_dot_type < MVQ_TYPE_COUNT &&
           (tr->vec_dot_type == MVQ_TYPE_F32 || kt->from_float[tr->vec_dot_type]);
}

/* n_out rows of type t: a band quantized by the fastest table, repeated. */
static void *make_weights(mvq_type t, int64_t n_out, int64_t n_in, const float *band_src)
{
    size_t row = mvq_row_size(t, n_in);
    char *w = bench_alloc(row * (size_t)n_out);
    mvq_quantize_rows(t, band_src, w, BAND, n_in, NULL);
    for (int64_t r = BAND; r < n_out; r += BAND) {
        int64_t rows = n_out - r < BAND ? n_out - r : BAND;
        memcpy(w + (size_t)r * row, w, (size_t)rows * row);
    }
    return w;
}

typedef struct mm_shape {
    int64_t n_in, n_out;
} mm_shape;

static bool wants_any(bench_ctx *ctx, const char *name)
{
    static const char *const groups[] = { "gemv", "gemm" };
    for (int g = 0; g < 2; g++) {
        if (bench_wants(ctx, groups[g], name, "onednn"))
            return true;
        for (int isa = 0; isa < MVQ_ISA_COUNT; isa++)
            if (mvq_kernels_for_isa((mvq_isa)isa) &&
                bench_wants(ctx, groups[g], name, mvq_isa_name((mvq_isa)isa)))
                return true;
    }
    return false;
}

/* One type, shape, mode and thread count on every set (scalar first), and
 * through oneDNN: F32 always, other types (dequantized tiles, with the
 * fastest table's dequantizer) in batches. */
static void bench_one(bench_ctx *ctx, mm_case c, const char *group, const char *name)
{
    double onednn = 0;
    if (mvq_onednn_available() && (c.type == MVQ_TYPE_F32 || c.n_tok > 1) &&
        mvq_kernels()->to_float[c.type]) {
        mm_case d = c;
        d.kt = mvq_kernels();
        d.path = MVQ_PATH_ONEDNN;
        onednn = gflops(ctx, &d);
    }
    bool wants_scalar = bench_wants(ctx, group, name, "scalar");
    double ref = 0;
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        const mvq_kernel_table *kt = mvq_kernels_for_isa((mvq_isa)isa);
        const char *variant = mvq_isa_name((mvq_isa)isa);
        if (!kt || !can_multiply(kt, c.type) ||
            (isa != MVQ_ISA_SCALAR && !bench_wants(ctx, group, name, variant)))
            continue;
        c.kt = kt;
        c.path = MVQ_PATH_DOT;
        mm_case m = c;
        if (isa == MVQ_ISA_SCALAR && c.n_tok > 1)
            m.n_out = c.n_out / SCALAR_GEMM_ROWS_DIV;
        double v = gflops(ctx, &m);
        if (isa == MVQ_ISA_SCALAR)
            ref = v;
        if (isa != MVQ_ISA_SCALAR || wants_scalar)
            bench_report(ctx, &(bench_row){ .group = group, .name = name, .variant = variant,
                                            .threads = mvq_pool_size(c.pool), .value = v,
                                            .unit = "GFLOP/s", .ref = ref, .ref_name = "scalar",
                                            .alt = onednn, .alt_name = "onednn" });
    }
    if (onednn > 0 && bench_wants(ctx, group, name, "onednn"))
        bench_report(ctx, &(bench_row){ .group = group, .name = name, .variant = "onednn",
                                        .threads = mvq_pool_size(c.pool), .value = onednn,
                                        .unit = "GFLOP/s", .ref = ref, .ref_name = "scalar" });
}

void bench_matmul(bench_ctx *ctx)
{
    static const mm_shape shapes[] = { { 4096, 4096 }, { 4096, 11008 } };
    int n_shapes = bench_quick(ctx) ? 1 : 2;
    int64_t gemm_tokens = bench_quick(ctx) ? GEMM_TOKENS_QUICK : GEMM_TOKENS;
    int64_t max_in = 4096, max_out = shapes[n_shapes - 1].n_out;

    float *band = bench_alloc(sizeof(float) * BAND * (size_t)max_in);
    float *x = bench_alloc(sizeof(float) * (size_t)(gemm_tokens * max_in));
    float *y = bench_alloc(sizeof(float) * (size_t)(gemm_tokens * max_out));
    bench_fill(band, BAND * (size_t)max_in, 1.0f, 11);
    bench_fill(x, (size_t)(gemm_tokens * max_in), 2.0f, 12);
    int max_threads = bench_max_threads(ctx);
    mvq_pool **pools = calloc((size_t)max_threads + 1, sizeof *pools);
    for (int n = 1; n <= max_threads; n++)
        pools[n] = mvq_pool_create(n);

    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    bool ran = false;
    for (int s = 0; s < n_shapes; s++) {
        for (int t = 0; t < MVQ_TYPE_COUNT; t++) {
            const mvq_type_traits *tr = mvq_type_traits_get((mvq_type)t);
            if (!tr || !can_multiply(ref, (mvq_type)t) || shapes[s].n_in % tr->block_size)
                continue;
            char name[64];
            snprintf(name, sizeof name, "%s %lldx%lld", tr->name, (long long)shapes[s].n_in,
                     (long long)shapes[s].n_out);
            if (!wants_any(ctx, name))
                continue;
            ran = true;
            void *w = make_weights((mvq_type)t, shapes[s].n_out, shapes[s].n_in, band);
            for (int mode = 0; mode < 2; mode++)
                for (int n = 1; n <= max_threads; n++) {
                    mm_case c = { .pool = pools[n], .type = (mvq_type)t, .w = w,
                                  .n_out = shapes[s].n_out, .n_in = shapes[s].n_in,
                                  .n_tok = mode ? gemm_tokens : 1, .x = x, .y = y };
                    bench_one(ctx, c, mode ? "gemm" : "gemv", name);
                }
            free(w);
        }
    }
    if (ran)
        bench_note(ctx, "gemm: batches of %lld tokens; weights: a band of %d quantized rows repeated; "
               "isa variants: activations quantized + vec_dot; onednn: sgemm (non-f32: on "
               "dequantized tiles; auto from %d tokens, f16/bf16 from %d); scalar gemm measured on "
               "1/%d of the rows", (long long)gemm_tokens, BAND, MVQ_DEQUANT_GEMM_MIN_TOKENS,
               MVQ_DEQUANT_GEMM_MIN_TOKENS_HALF, SCALAR_GEMM_ROWS_DIV);
    for (int n = 1; n <= max_threads; n++)
        mvq_pool_free(pools[n]);
    free(pools), free(band), free(x), free(y);
}
