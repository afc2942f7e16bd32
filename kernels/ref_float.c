/* Rows of the plain float types: F32 (a copy), F16 and BF16 (conversions
 * rounding to nearest even, as ggml).  Importance weights do not apply. */
#include "config.h"

#include "kernels/ref.h"

void mvq_to_float_f32_ref(const void *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

void mvq_from_float_f32_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    (void)imatrix;
    memcpy(y, x, (size_t)n * sizeof(float));
}

void mvq_to_float_f16_ref(const void *vx, float *y, int64_t n)
{
    const mvq_half *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = mvq_fp16_to_fp32(x[i]);
}

void mvq_from_float_f16_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_half *y = vy;
    (void)imatrix;
    for (int64_t i = 0; i < n; i++)
        y[i] = mvq_fp32_to_fp16(x[i]);
}

void mvq_to_float_bf16_ref(const void *vx, float *y, int64_t n)
{
    const mvq_bf16 *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = mvq_bf16_to_fp32(x[i]);
}

void mvq_from_float_bf16_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_bf16 *y = vy;
    (void)imatrix;
    for (int64_t i = 0; i < n; i++)
        y[i] = mvq_fp32_to_bf16(x[i]);
}
