/* The half-precision GEMMs' specification: for BF16, activations split
 * into bf16 terms; each output the sum in double of exact products.  The
 * SIMD kernels (kernels/x86/gemm_bf16_avx512.c, gemm_half_*.c) sum in
 * f32 and are tested against these within a bound on f32 rounding
 * (tests/gemm_half_vs_ref.c). */
#include "config.h"
#include "kernels/ref.h"

#include <math.h>

void mvq_bf16_split(const float *x, mvq_bf16 *out, int64_t n, int parts)
{
    for (int64_t i = 0; i < n; i++) {
        const mvq_bf16 hi = mvq_fp32_to_bf16(x[i]);
        out[i] = hi;
        if (parts < 2)
            continue;
        /* x - hi is exact in f32: hi is x rounded to fewer bits */
        const float h = mvq_bf16_to_fp32(hi);
        out[n + i] = isfinite(h) && isfinite(x[i]) ? mvq_fp32_to_bf16(x[i] - h) : 0;
    }
}

void mvq_gemm_bf16_ref(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_bf16 *w, size_t w_row,
                       const mvq_bf16 *a, size_t a_row, int parts, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < n_tok; t++) {
        const mvq_bf16 *at = (const mvq_bf16 *)((const char *)a + (size_t)t * a_row);
        for (int64_t r = 0; r < n_rows; r++) {
            const mvq_bf16 *wr = (const mvq_bf16 *)((const char *)w + (size_t)r * w_row);
            double s = 0;
            for (int p = 0; p < parts; p++)
                for (int64_t i = 0; i < n; i++)
                    s += (double)mvq_bf16_to_fp32(wr[i]) * (double)mvq_bf16_to_fp32(at[(int64_t)p * n + i]);
            y[t * ldy + r] = (float)s;
        }
    }
}

void mvq_gemm_half_ref(mvq_type t, int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                       const float *x, size_t x_row, float *y, int64_t ldy)
{
    for (int64_t k = 0; k < n_tok; k++) {
        const float *xk = (const float *)((const char *)x + (size_t)k * x_row);
        for (int64_t r = 0; r < n_rows; r++) {
            const uint16_t *wr = (const uint16_t *)((const char *)w + (size_t)r * w_row);
            double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += (double)(t == MVQ_TYPE_BF16 ? mvq_bf16_to_fp32(wr[i]) : mvq_fp16_to_fp32(wr[i])) * (double)xk[i];
            y[k * ldy + r] = (float)s;
        }
    }
}
