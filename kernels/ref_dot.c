/* Dot products of a weight row with an activation row: the float types with
 * f32 (accumulated in double, as ggml's scalar code), and the 32-weight
 * block types with Q8_0 / Q8_1 (an exact integer sum per block, scaled and
 * accumulated in float in block order, as ggml's scalar code). */
#include "config.h"

#include "kernels/ref.h"

void mvq_vec_dot_f32_f32_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * (double)y[i];
    *s = (float)sum;
}

void mvq_vec_dot_f16_f32_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_half *x = vx;
    const float *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)mvq_fp16_to_fp32(x[i]) * (double)y[i];
    *s = (float)sum;
}

void mvq_vec_dot_bf16_f32_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_bf16 *x = vx;
    const float *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)mvq_bf16_to_fp32(x[i]) * (double)y[i];
    *s = (float)sum;
}

static int dot32(const int8_t *a, const int8_t *b)
{
    int sum = 0;
    for (int j = 0; j < 32; j++)
        sum += a[j] * b[j];
    return sum;
}

/* Symmetric weight types with Q8_0: sum of sumi * (d_x * d_y). */
#define DOT_WITH_Q8_0(wtype)                                                                  \
    void mvq_vec_dot_##wtype##_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)  \
    {                                                                                         \
        const mvq_block_##wtype *x = vx;                                                      \
        const mvq_block_q8_0 *y = vy;                                                         \
        int8_t q[32];                                                                         \
        float sum = 0.0f;                                                                     \
        for (int64_t i = 0; i < n / 32; i++) {                                                \
            mvq_unpack_##wtype(&x[i], q);                                                     \
            const int sumi = dot32(q, y[i].qs);                                               \
            sum += (float)sumi * (mvq_fp16_to_fp32(x[i].d) * mvq_fp16_to_fp32(y[i].d));       \
        }                                                                                     \
        *s = sum;                                                                             \
    }

/* Weight types with a minimum, with Q8_1: (d_x*d_y)*sumi + m_x*s_y, where
 * s_y = d_y * sum(q_y) carries the minimum's share. */
#define DOT_WITH_Q8_1(wtype)                                                                  \
    void mvq_vec_dot_##wtype##_q8_1_ref(int64_t n, float *s, const void *vx, const void *vy)  \
    {                                                                                         \
        const mvq_block_##wtype *x = vx;                                                      \
        const mvq_block_q8_1 *y = vy;                                                         \
        int8_t q[32];                                                                         \
        float sum = 0.0f;                                                                     \
        for (int64_t i = 0; i < n / 32; i++) {                                                \
            mvq_unpack_##wtype(&x[i], q);                                                     \
            const int sumi = dot32(q, y[i].qs);                                               \
            sum += (mvq_fp16_to_fp32(x[i].d) * mvq_fp16_to_fp32(y[i].d)) * (float)sumi +      \
                   mvq_fp16_to_fp32(x[i].m) * mvq_fp16_to_fp32(y[i].s);                       \
        }                                                                                     \
        *s = sum;                                                                             \
    }

DOT_WITH_Q8_0(q4_0)
DOT_WITH_Q8_0(q5_0)
DOT_WITH_Q8_0(q8_0)
DOT_WITH_Q8_0(iq4_nl)
DOT_WITH_Q8_1(q4_1)
DOT_WITH_Q8_1(q5_1)
