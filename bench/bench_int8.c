/* W8A8 products on LLM-sized weights: our int8 GEMV/GEMM (per instruction
 * set, activations already int8, int32 products scaled to f32) against
 * oneDNN's s8s8->s32 gemm and against the Q8_0 x Q8_0 dot path of the same
 * shapes, in GOPS (2 n_out n_in n_tok per second), same run. */
#include "config.h"
#include "bench/bench.h"
#include "kernels/matmul.h"

#include <mvquant/int8.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef MVQ_HAVE_ONEDNN
#include <dlfcn.h>
#include <dnnl.h>
#endif

typedef struct i8_case {
    mvq_pool *pool;
    const mvq_i8_weights *w;
    const int8_t *xq;
    const float *xs, *x;
    const void *wq8;
    int64_t n_tok;
    float *y;
    int32_t *acc;
} i8_case;

static void run_i8(void *p)
{
    const i8_case *c = p;
    mvq_i8_gemm(c->pool, c->w, c->xq, c->xs, c->n_tok, c->y);
}

static void run_q8(void *p)
{
    const i8_case *c = p;
    mvq_error err;
    if (mvq_matmul_table(mvq_kernels(), MVQ_PATH_DOT, c->pool, MVQ_TYPE_Q8_0, c->wq8, c->w->n_out, c->w->n_in, c->x,
                         c->n_tok, c->y, &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
}

#ifdef MVQ_HAVE_ONEDNN
static void run_onednn(void *p)
{
    const i8_case *c = p;
    const int32_t co = 0;
    /* row-major: acc[n_tok x n_out] = xq[n_tok x n_in] w^T */
    dnnl_gemm_s8s8s32('N', 'T', 'F', c->n_tok, c->w->n_out, c->w->n_in, 1.0f, c->xq, c->w->n_in, 0, c->w->q,
                      c->w->n_in, 0, 0.0f, c->acc, c->w->n_out, &co);
}

static void onednn_threads(int n)
{
    void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    void (*fn)(int);
    if (set) {
        memcpy(&fn, &set, sizeof fn);
        fn(n);
    }
}
#endif

static double gops(bench_ctx *ctx, void (*fn)(void *), i8_case *c)
{
    bench_timing t = mvq_pool_size(c->pool) == 1 ? bench_time_cpu(ctx, fn, c) : bench_time(ctx, fn, c);
    return 2.0 * (double)c->w->n_out * (double)c->w->n_in * (double)c->n_tok / t.seconds * 1e-9;
}

void bench_int8(bench_ctx *ctx)
{
    static const int64_t shapes[][2] = { { 4096, 4096 }, { 4096, 11008 } };
    const int n_shapes = bench_quick(ctx) ? 1 : 2;
    const int64_t max_tok = bench_quick(ctx) ? 8 : 32, n_in = 4096, max_out = shapes[n_shapes - 1][1];
    float *wf = bench_alloc(sizeof(float) * (size_t)(max_out * n_in));
    float *x = bench_alloc(sizeof(float) * (size_t)(max_tok * n_in));
    float *y = bench_alloc(sizeof(float) * (size_t)(max_tok * max_out)), *xs = bench_alloc(sizeof(float) * 64);
    int8_t *xq = bench_alloc((size_t)(max_tok * n_in));
    int32_t *acc = bench_alloc(sizeof(int32_t) * (size_t)(max_tok * max_out));
    void *wq8 = bench_alloc(mvq_row_size(MVQ_TYPE_Q8_0, n_in) * (size_t)max_out);
    bench_fill(wf, (size_t)(max_out * n_in), 1.0f, 21);
    bench_fill(x, (size_t)(max_tok * n_in), 2.0f, 22);
    mvq_i8_quantize_rows(x, max_tok, n_in, xq, xs);
    const mvq_isa selected = mvq_isa_selected();
    const int max_threads = bench_max_threads(ctx);
    for (int s = 0; s < n_shapes; s++) {
        mvq_i8_weights w;
        if (mvq_i8_weights_pack(wf, shapes[s][1], n_in, &w, NULL) != MVQ_OK)
            exit(2);
        mvq_quantize_rows(MVQ_TYPE_Q8_0, wf, wq8, shapes[s][1], n_in, NULL);
        char name[64];
        snprintf(name, sizeof name, "s8 %lldx%lld", (long long)n_in, (long long)shapes[s][1]);
        for (int mode = 0; mode < 2; mode++)
            for (int n = 1; n <= max_threads; n++) {
                const char *group = mode ? "int8 gemm" : "int8 gemv";
                mvq_pool *pool = mvq_pool_create(n);
                i8_case c = { .pool = pool, .w = &w, .xq = xq, .xs = xs, .x = x, .wq8 = wq8,
                              .n_tok = mode ? max_tok : 1, .y = y, .acc = acc };
                double alt = 0, q8 = 0;
#ifdef MVQ_HAVE_ONEDNN
                onednn_threads(n);
                alt = gops(ctx, run_onednn, &c);
#endif
                q8 = gops(ctx, run_q8, &c);
                for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
                    if (!mvq_isa_supported((mvq_isa)isa) || !bench_wants(ctx, group, name, mvq_isa_name((mvq_isa)isa)))
                        continue;
                    mvq_isa_force((mvq_isa)isa, NULL);
                    const double v = gops(ctx, run_i8, &c);
                    bench_report(ctx, &(bench_row){ .group = group, .name = name, .variant = mvq_isa_name((mvq_isa)isa),
                                                    .threads = n, .value = v, .unit = "GOPS", .ref = q8,
                                                    .ref_name = "q8_0xq8_0", .alt = alt, .alt_name = "onednn s8s8s32" });
                }
                mvq_isa_force(selected, NULL);
                mvq_pool_free(pool);
            }
        mvq_i8_weights_free(&w);
    }
    bench_note(ctx, "int8: activations quantized beforehand (ours and oneDNN's); q8_0xq8_0: mvq_matmul's dot path, "
               "activation quantization included; gemm: %lld tokens", (long long)max_tok);
    free(wf), free(x), free(y), free(xs), free(xq), free(acc), free(wq8);
}
