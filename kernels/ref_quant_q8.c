/* The activation quantizers Q8_0, Q8_1 and Q8_K, reproducing ggml's
 * reference rounding bit for bit (the dot products' other operand), and
 * Q8_K's dequantization. */
#include "config.h"

#include <math.h>

#include "kernels/ref.h"

static float block_amax(const float *x, int n)
{
    float amax = 0.0f;
    for (int j = 0; j < n; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    return amax;
}

/* ggml: d = amax/127, q = roundf(x * (1/d)) (ties away from zero). */
static float q8_block(const float *x, int8_t q[32])
{
    const float d = block_amax(x, 32) / 127.0f;
    const float id = mvq_inverse_scale(d);
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)roundf(x[j] * id);
    return d;
}

void mvq_quantize_row_q8_0_rtn(const float *x, void *vy, int64_t n)
{
    mvq_block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / 32; i++)
        y[i].d = mvq_fp32_to_fp16(q8_block(x + 32 * i, y[i].qs));
}

void mvq_quantize_row_q8_1_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_block_q8_1 *y = vy;
    (void)imatrix;
    for (int64_t i = 0; i < n / 32; i++) {
        const float d = q8_block(x + 32 * i, y[i].qs);
        int sum = 0;
        for (int j = 0; j < 32; j++)
            sum += y[i].qs[j];
        y[i].d = mvq_fp32_to_fp16(d);
        y[i].s = mvq_fp32_to_fp16((float)sum * d);
    }
}

/* ggml: the signed value of largest magnitude maps to -127 exactly
 * (iscale = -127/max), rounding ties to even; d = 1/iscale. */
void mvq_quantize_row_q8_K_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_block_q8_K *y = vy;
    (void)imatrix;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++, x += MVQ_QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < MVQ_QK_K; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < MVQ_QK_K; j++) {
            int v = mvq_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < MVQ_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

void mvq_dequantize_row_q8_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q8_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++)
        for (int j = 0; j < MVQ_QK_K; j++)
            y[MVQ_QK_K * i + j] = x[i].d * (float)x[i].qs[j];
}
