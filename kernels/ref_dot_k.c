/* Dot products of the K-quants with Q8_K.  Per super-block of 256: an exact
 * integer sum of (sub-block scale) * (levels . activation), and for Q2_K,
 * Q4_K, Q5_K the minimums through Q8_K's per-16 sums (bsums); then
 * d * isum - dmin * summs in float, accumulated in block order. */
#include "config.h"

#include "kernels/ref.h"

/* sum over sub-blocks of `len` weights of scale[g] * (q . y) */
static int scaled_isum(const int8_t q[256], const int8_t y[256], const int *scale, int len)
{
    int isum = 0;
    for (int g = 0; g < 256 / len; g++) {
        int sum = 0;
        for (int j = 0; j < len; j++)
            sum += q[len * g + j] * y[len * g + j];
        isum += scale[g] * sum;
    }
    return isum;
}

void mvq_vec_dot_q2_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q2_K *x = vx;
    const mvq_block_q8_K *y = vy;
    int8_t q[256];
    int sc[16];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        mvq_unpack_q2_K(&x[i], q);
        int summs = 0;
        for (int g = 0; g < 16; g++) {
            sc[g] = x[i].scales[g] & 0xF;
            summs += (x[i].scales[g] >> 4) * y[i].bsums[g];
        }
        const int isum = scaled_isum(q, y[i].qs, sc, 16);
        const float dall = y[i].d * mvq_fp16_to_fp32(x[i].d);
        const float dmin = y[i].d * mvq_fp16_to_fp32(x[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void mvq_vec_dot_q3_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q3_K *x = vx;
    const mvq_block_q8_K *y = vy;
    int8_t q[256], sc8[16];
    int sc[16];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        mvq_unpack_q3_K(&x[i], q);
        mvq_unpack_q3_K_scales(x[i].scales, sc8);
        for (int g = 0; g < 16; g++)
            sc[g] = sc8[g];
        const int isum = scaled_isum(q, y[i].qs, sc, 16);
        sum += mvq_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

/* Q4_K and Q5_K share the 6-bit scales/mins and the bsums term. */
static float k4_block_dot(const int8_t q[256], const uint8_t scales[12], mvq_half d,
                          mvq_half dmin, const mvq_block_q8_K *y)
{
    int sc[8], summs = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t s6, m6;
        mvq_get_scale_min_k4(j, scales, &s6, &m6);
        sc[j] = s6;
        summs += m6 * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    const int isum = scaled_isum(q, y->qs, sc, 32);
    const float dd = y->d * mvq_fp16_to_fp32(d);
    const float dm = y->d * mvq_fp16_to_fp32(dmin);
    return dd * (float)isum - dm * (float)summs;
}

/* Q4_K and Q5_K rows differ only in their unpacking. */
#define DOT_K4_WITH_Q8_K(wtype)                                                              \
    void mvq_vec_dot_##wtype##_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy) \
    {                                                                                        \
        const mvq_block_##wtype *x = vx;                                                     \
        const mvq_block_q8_K *y = vy;                                                        \
        int8_t q[256];                                                                       \
        float sum = 0.0f;                                                                    \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++) {                                         \
            mvq_unpack_##wtype(&x[i], q);                                                    \
            sum += k4_block_dot(q, x[i].scales, x[i].d, x[i].dmin, &y[i]);                   \
        }                                                                                    \
        *s = sum;                                                                            \
    }

DOT_K4_WITH_Q8_K(q4_K)
DOT_K4_WITH_Q8_K(q5_K)

void mvq_vec_dot_q6_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q6_K *x = vx;
    const mvq_block_q8_K *y = vy;
    int8_t q[256];
    int sc[16];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        mvq_unpack_q6_K(&x[i], q);
        for (int g = 0; g < 16; g++)
            sc[g] = x[i].scales[g];
        const int isum = scaled_isum(q, y[i].qs, sc, 16);
        sum += mvq_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}
