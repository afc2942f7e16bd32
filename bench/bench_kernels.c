/* Per type and per instruction set the CPU runs: quantize (M weights/s, with
 * and without importance weights), dequantize (GB/s written), vec_dot
 * (time-stamp cycles per 32 values, and GB/s of weights read), each against
 * the scalar reference of the same run. */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/kernels.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW 4096 /* a multiple of every block size */

typedef struct kernel_case {
    const mvq_kernel_table *kt;
    mvq_type type, act_type;
    const float *src;
    const float *imatrix; /* NULL: without importance */
    void *q;              /* n weights in type */
    float *out;
    const void *act;      /* one activation row in act_type */
    int64_t n;
    float sink;
} kernel_case;

static void run_quantize(void *p)
{
    kernel_case *c = p;
    size_t row = mvq_row_size(c->type, ROW);
    for (int64_t r = 0; r < c->n / ROW; r++)
        c->kt->from_float[c->type](c->src + r * ROW, (char *)c->q + (size_t)r * row, ROW,
                                   c->imatrix);
}

static void run_dequantize(void *p)
{
    kernel_case *c = p;
    c->kt->to_float[c->type](c->q, c->out, c->n);
}

static void run_vec_dot(void *p)
{
    kernel_case *c = p;
    float s;
    c->kt->vec_dot[c->type](ROW, &s, c->q, c->act);
    c->sink += s;
}

typedef struct measured {
    double value, extra;
} measured;

/* One figure of one type on every supported set, scalar first (the ref). */
typedef measured (*measure_fn)(bench_ctx *ctx, kernel_case *c);

static measured measure_quantize(bench_ctx *ctx, kernel_case *c)
{
    bench_timing t = bench_time_cpu(ctx, run_quantize, c);
    return (measured){ (double)c->n / t.seconds * 1e-6, 0 };
}

static measured measure_dequantize(bench_ctx *ctx, kernel_case *c)
{
    bench_timing t = bench_time_cpu(ctx, run_dequantize, c);
    return (measured){ (double)c->n * sizeof(float) / t.seconds * 1e-9, 0 };
}

static measured measure_vec_dot(bench_ctx *ctx, kernel_case *c)
{
    bench_timing t = bench_time_cpu(ctx, run_vec_dot, c);
    return (measured){ t.ticks / (ROW / 32.0), (double)mvq_row_size(c->type, ROW) / t.seconds * 1e-9 };
}

typedef struct figure {
    const char *group;
    const char *unit;
    bool lower_is_better;
    const char *extra_unit; /* NULL: none */
    bool with_imatrix;
    measure_fn measure;
} figure;

static bool has_kernel(const mvq_kernel_table *kt, const figure *f, mvq_type t, mvq_type at)
{
    if (f->measure == measure_quantize)
        return kt->from_float[t] != NULL;
    if (f->measure == measure_dequantize)
        return kt->to_float[t] != NULL && kt->from_float[t] != NULL;
    return kt->vec_dot[t] && kt->from_float[t] && at < MVQ_TYPE_COUNT &&
           (at == MVQ_TYPE_F32 || kt->from_float[at]);
}

/* Prepares c for table kt: weights (and the activation row) quantized by kt. */
static void prepare(kernel_case *c, const mvq_kernel_table *kt, void *act_buf, const float *act_src)
{
    c->kt = kt;
    if (kt->from_float[c->type]) {
        c->imatrix = NULL;
        run_quantize(c);
    }
    if (c->act_type == MVQ_TYPE_F32)
        c->act = act_src;
    else if (c->act_type < MVQ_TYPE_COUNT && kt->from_float[c->act_type]) {
        kt->from_float[c->act_type](act_src, act_buf, ROW, NULL);
        c->act = act_buf;
    }
}

static void bench_figure(bench_ctx *ctx, const figure *f, mvq_type t, kernel_case *c,
                         void *act_buf, const float *act_src, const float *imatrix)
{
    const char *tname = mvq_type_name(t);
    char scalar_variant[64], variant[64];
    snprintf(scalar_variant, sizeof scalar_variant, "%sscalar", f->with_imatrix ? "imatrix/" : "");
    bool any = false;
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        snprintf(variant, sizeof variant, "%s%s", f->with_imatrix ? "imatrix/" : "",
                 mvq_isa_name((mvq_isa)isa));
        any |= mvq_kernels_for_isa((mvq_isa)isa) && bench_wants(ctx, f->group, tname, variant);
    }
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    if (!any || !has_kernel(ref, f, t, c->act_type))
        return;

    double ref_value = 0;
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        const mvq_kernel_table *kt = mvq_kernels_for_isa((mvq_isa)isa);
        snprintf(variant, sizeof variant, "%s%s", f->with_imatrix ? "imatrix/" : "",
                 mvq_isa_name((mvq_isa)isa));
        /* the scalar figure is needed as the reference of the others */
        if (!kt || !has_kernel(kt, f, t, c->act_type) ||
            (isa != MVQ_ISA_SCALAR && !bench_wants(ctx, f->group, tname, variant)))
            continue;
        prepare(c, kt, act_buf, act_src);
        c->imatrix = f->with_imatrix ? imatrix : NULL;
        measured m = f->measure(ctx, c);
        if (isa == MVQ_ISA_SCALAR)
            ref_value = m.value;
        if (isa == MVQ_ISA_SCALAR && !bench_wants(ctx, f->group, tname, scalar_variant))
            continue;
        bench_report(ctx, &(bench_row){ .group = f->group, .name = tname, .variant = variant,
                                        .threads = 1, .value = m.value, .unit = f->unit,
                                        .lower_is_better = f->lower_is_better, .ref = ref_value,
                                        .ref_name = "scalar", .extra = m.extra,
                                        .extra_unit = f->extra_unit });
    }
}

void bench_kernels(bench_ctx *ctx)
{
    char cyc_unit[16];
    snprintf(cyc_unit, sizeof cyc_unit, "%s/32", bench_tick_name());
    const figure figures[] = {
        { "quantize", "Mw/s", false, NULL, false, measure_quantize },
        { "quantize", "Mw/s", false, NULL, true, measure_quantize },
        { "dequant", "GB/s", false, NULL, false, measure_dequantize },
        { "vec_dot", cyc_unit, true, "GB/s", false, measure_vec_dot },
    };
    int64_t n = bench_quick(ctx) ? 16 * ROW : 64 * ROW;
    float *src = bench_alloc(sizeof(float) * (size_t)n);
    float *out = bench_alloc(sizeof(float) * (size_t)n);
    float *imatrix = bench_alloc(sizeof(float) * ROW);
    float *act_src = bench_alloc(sizeof(float) * ROW);
    bench_fill(src, (size_t)n, 1.0f, 1);
    bench_fill(act_src, ROW, 2.0f, 2);
    bench_fill(imatrix, ROW, 1.0f, 3);
    for (int i = 0; i < ROW; i++) /* positive, spread over two decades like real statistics */
        imatrix[i] = 0.01f + imatrix[i] * imatrix[i];
    void *q = bench_alloc(sizeof(float) * (size_t)n);   /* room for any type */
    void *act_buf = bench_alloc(sizeof(float) * ROW);

    for (size_t fi = 0; fi < sizeof figures / sizeof figures[0]; fi++) {
        for (int t = 0; t < MVQ_TYPE_COUNT; t++) {
            const mvq_type_traits *tr = mvq_type_traits_get((mvq_type)t);
            if (!tr || ROW % tr->block_size != 0)
                continue;
            kernel_case c = { .type = (mvq_type)t, .act_type = tr->vec_dot_type, .src = src,
                              .q = q, .out = out, .n = n };
            bench_figure(ctx, &figures[fi], (mvq_type)t, &c, act_buf, act_src, imatrix);
        }
    }
    free(src), free(out), free(imatrix), free(act_src), free(q), free(act_buf);
}
