/* The kernel table in use (mvq_kernels(); MVQ_ISA picks another) against
 * ggml's golden vectors: dequantization exact, activation quantization
 * exact, dot products within float rounding, and our quantizers' error no
 * worse than ggml's.  Plain TAP, so it also runs under qemu-aarch64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>

#include "golden.h"
#include "tap.h"

/* Relative bound of the dot products: ggml sums blocks in another order
 * (and in SIMD lanes); the error of float accumulation over a row of 512
 * is far below 1e-5 of the sum of the absolute products. */
#define DOT_REL_BOUND 1e-5

static const char *missing(const char *what)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s not in the %s table on this build", what, mvq_kernels()->isa);
    return buf;
}

static void check_dequantize(const char *name, const mvq_golden *g)
{
    mvq_to_float_fn to_float = mvq_kernels()->to_float[g->type];
    if (!to_float) {
        tap_skip("%s: dequantize: %s", name, missing("to_float"));
        return;
    }
    const size_t nv = (size_t)g->nrows * g->n_per_row;
    float *y = malloc(nv * sizeof *y);
    for (uint32_t r = 0; r < g->nrows; r++)
        to_float(g->quantized + (size_t)r * g->row_bytes, y + (size_t)r * g->n_per_row,
                 g->n_per_row);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < nv; i++)
        if (memcmp(&y[i], &g->dequantized[i], sizeof(float)) != 0 && bad++ == 0)
            first = i;
    tap_ok(bad == 0, "%s: dequantize reproduces ggml's floats exactly", name);
    if (bad)
        tap_diag("%zu of %zu differ; first at %zu: ours %.9g ggml %.9g", bad, nv, first, y[first],
                 g->dequantized[first]);
    free(y);
}

static void check_activation(const char *name, const mvq_golden *g)
{
    mvq_from_float_fn from_float = mvq_kernels()->from_float[g->vec_dot_type];
    if (!from_float) {
        tap_skip("%s: activation quantization: %s", name, missing("from_float"));
        return;
    }
    const size_t size = mvq_row_size(g->vec_dot_type, g->n_per_row);
    uint8_t *q = calloc(1, size ? size : 1);
    from_float(g->activation, q, g->n_per_row, NULL);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < size && size == g->act_bytes; i++)
        if (q[i] != g->activation_quantized[i] && bad++ == 0)
            first = i;
    tap_ok(size == g->act_bytes && bad == 0, "%s: activation to %s reproduces ggml's bytes", name,
           mvq_type_name(g->vec_dot_type));
    if (bad)
        tap_diag("%zu of %zu bytes differ, first at %zu", bad, size, first);
    free(q);
}

static void check_dot(const char *name, const mvq_golden *g)
{
    mvq_vec_dot_fn dot = mvq_kernels()->vec_dot[g->type];
    if (!dot) {
        tap_skip("%s: vec_dot: %s", name, missing("vec_dot"));
        return;
    }
    double worst = 0.0;
    int bad = 0;
    for (uint32_t r = 0; r < g->nrows; r++) {
        float s = 0.0f;
        dot(g->n_per_row, &s, g->quantized + (size_t)r * g->row_bytes, g->activation_quantized);
        double mag = 0.0;
        for (uint32_t j = 0; j < g->n_per_row; j++)
            mag += fabs((double)g->dequantized[(size_t)r * g->n_per_row + j] * g->activation[j]);
        const double err = fabs((double)s - (double)g->dot[r]);
        const double rel = mag > 0.0 ? err / mag : err;
        if (rel > worst)
            worst = rel;
        if (!(rel <= DOT_REL_BOUND) && bad++ == 0)
            tap_diag("row %u: ours %.9g ggml %.9g", r, s, g->dot[r]);
    }
    tap_ok(bad == 0, "%s: vec_dot with %s within %.0e of sum |products| (worst %.2e)", name,
           mvq_type_name(g->vec_dot_type), DOT_REL_BOUND, worst);
}

static void check_quantizer(const char *name, const mvq_golden *g)
{
    const mvq_kernel_table *t = mvq_kernels();
    if (!t->from_float[g->type] || !t->to_float[g->type]) {
        tap_skip("%s: quantizer error: %s", name,
                 missing(t->from_float[g->type] ? "to_float" : "from_float"));
        return;
    }
    const size_t nv = (size_t)g->nrows * g->n_per_row;
    uint8_t *q = malloc((size_t)g->nrows * g->row_bytes);
    float *y = malloc(nv * sizeof *y);
    int rows_worse = 0;
    for (uint32_t r = 0; r < g->nrows; r++) {
        const float *x = g->input + (size_t)r * g->n_per_row;
        float *yr = y + (size_t)r * g->n_per_row;
        uint8_t *qr = q + (size_t)r * g->row_bytes;
        t->from_float[g->type](x, qr, g->n_per_row, g->importance);
        t->to_float[g->type](qr, yr, g->n_per_row);
        const double ours = mvq_golden_sq_error(x, yr, 1, g->n_per_row, g->importance);
        const double ggml = mvq_golden_sq_error(x, g->dequantized + (size_t)r * g->n_per_row, 1,
                                                g->n_per_row, g->importance);
        rows_worse += ours > ggml;
    }
    const double ours = mvq_golden_sq_error(g->input, y, g->nrows, g->n_per_row, g->importance);
    const double ggml =
        mvq_golden_sq_error(g->input, g->dequantized, g->nrows, g->n_per_row, g->importance);
    tap_ok(ours <= ggml, "%s: quantizer %serror no worse than ggml's (ours/ggml %.4f)", name,
           g->importance ? "weighted " : "", ggml > 0 ? ours / ggml : 0.0);
    tap_diag("%s: error ours %.6g ggml %.6g; rows where ours is worse: %d of %u", name, ours,
             ggml, rows_worse, g->nrows);
    free(q);
    free(y);
}

int main(void)
{
    tap_diag("kernel table in use: %s", mvq_kernels()->isa);
    for (int i = 0; mvq_golden_names[i]; i++) {
        const char *name = mvq_golden_names[i];
        char path[1024], err[1200];
        if (!mvq_golden_path(name, path, sizeof path)) {
            tap_skip("%s: golden file absent (fixtures not found, set MVQ_FIXTURES)", name);
            continue;
        }
        mvq_golden g;
        if (mvq_golden_load(path, &g, err, sizeof err) != 0) {
            tap_ok(0, "%s: load: %s", name, err);
            continue;
        }
        tap_ok(mvq_row_size(g.type, g.n_per_row) == g.row_bytes, "%s: %s row of %u is %u bytes",
               name, mvq_type_name(g.type), g.n_per_row, g.row_bytes);
        check_dequantize(name, &g);
        if (g.vec_dot_type != MVQ_GOLDEN_NO_DOT) {
            check_activation(name, &g);
            check_dot(name, &g);
        }
        check_quantizer(name, &g);
        mvq_golden_free(&g);
    }
    return tap_done();
}
