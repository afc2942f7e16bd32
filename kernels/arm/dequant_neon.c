/* NEON dequantization of the block types to f32, float for float as the
 * reference: level * d, or (level * d) + m as two roundings (never an fma),
 * so the results are bit-exact.  The K-quants' "dl * q - ml" is computed as
 * "dl * q + (-ml)", which IEEE defines as the same operation. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

/* 16 levels to 16 floats (exact) */
static inline void levels16_to_f32(int8x16_t q, float32x4_t f[4])
{
    const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
    f[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
    f[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
    f[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
    f[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}

/* y[0..16) = (float)q * d */
static inline void scale16(int8x16_t q, float d, float *y)
{
    float32x4_t f[4];
    levels16_to_f32(q, f);
    for (int k = 0; k < 4; k++)
        vst1q_f32(y + 4 * k, vmulq_n_f32(f[k], d));
}

/* y[0..16) = ((float)q * d) + m */
static inline void scale16_add(int8x16_t q, float d, float m, float *y)
{
    float32x4_t f[4];
    levels16_to_f32(q, f);
    const float32x4_t mv = vdupq_n_f32(m);
    for (int k = 0; k < 4; k++)
        vst1q_f32(y + 4 * k, vaddq_f32(vmulq_n_f32(f[k], d), mv));
}

#define NEON_DEQUANT_SYMMETRIC(wtype)                                                  \
    static void dequantize_row_##wtype##_neon(const void *vx, float *y, int64_t n)     \
    {                                                                                  \
        const mvq_block_##wtype *x = vx;                                               \
        for (int64_t i = 0; i < n / 32; i++, y += 32) {                                \
            const mvq_neon_q32 q = neon_levels_##wtype(&x[i]);                         \
            const float d = neon_half(x[i].d);                                         \
            scale16(q.val[0], d, y);                                                   \
            scale16(q.val[1], d, y + 16);                                              \
        }                                                                              \
    }

#define NEON_DEQUANT_WITH_MIN(wtype)                                                   \
    static void dequantize_row_##wtype##_neon(const void *vx, float *y, int64_t n)     \
    {                                                                                  \
        const mvq_block_##wtype *x = vx;                                               \
        for (int64_t i = 0; i < n / 32; i++, y += 32) {                                \
            const mvq_neon_q32 q = neon_levels_##wtype(&x[i]);                         \
            const float d = neon_half(x[i].d), m = neon_half(x[i].m);                  \
            scale16_add(q.val[0], d, m, y);                                            \
            scale16_add(q.val[1], d, m, y + 16);                                       \
        }                                                                              \
    }

NEON_DEQUANT_SYMMETRIC(q4_0)
NEON_DEQUANT_SYMMETRIC(q5_0)
NEON_DEQUANT_SYMMETRIC(q8_0)
NEON_DEQUANT_SYMMETRIC(iq4_nl)
NEON_DEQUANT_WITH_MIN(q4_1)
NEON_DEQUANT_WITH_MIN(q5_1)

/* Q2_K: sub-block g of 16 has scale d * (sc & 15) and min dmin * (sc >> 4). */
static void dequantize_row_q2_K_neon(const void *vx, float *y, int64_t n)
{
    const mvq_block_q2_K *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const float d = neon_half(x[i].d), dmin = neon_half(x[i].dmin);
        for (int k = 0; k < 8; k++, y += 32) {
            const mvq_neon_q32 q = neon_levels_q2_K(&x[i], k);
            for (int h = 0; h < 2; h++) {
                const uint8_t sc = x[i].scales[2 * k + h];
                scale16_add(q.val[h], d * (float)(sc & 0xF), -(dmin * (float)(sc >> 4)), y + 16 * h);
            }
        }
    }
}

/* Q3_K / Q6_K: sub-block g of 16 has scale d * sc[g]. */
#define NEON_DEQUANT_K16(wtype)                                                        \
    static void dequantize_row_##wtype##_neon(const void *vx, float *y, int64_t n)     \
    {                                                                                  \
        const mvq_block_##wtype *x = vx;                                               \
        int8_t sc[16];                                                                 \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++) {                                   \
            const float d = neon_half(x[i].d);                                         \
            neon_scales_##wtype(&x[i], sc);                                            \
            for (int k = 0; k < 8; k++, y += 32) {                                     \
                const mvq_neon_q32 q = neon_levels_##wtype(&x[i], k);                  \
                scale16(q.val[0], d * (float)sc[2 * k], y);                            \
                scale16(q.val[1], d * (float)sc[2 * k + 1], y + 16);                   \
            }                                                                          \
        }                                                                              \
    }

NEON_DEQUANT_K16(q3_K)
NEON_DEQUANT_K16(q6_K)

/* Q4_K / Q5_K: sub-block k of 32 has scale d * sc and min dmin * m (6 bits each). */
#define NEON_DEQUANT_K4(wtype)                                                         \
    static void dequantize_row_##wtype##_neon(const void *vx, float *y, int64_t n)     \
    {                                                                                  \
        const mvq_block_##wtype *x = vx;                                               \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++) {                                   \
            const float d = neon_half(x[i].d), dmin = neon_half(x[i].dmin);            \
            for (int k = 0; k < 8; k++, y += 32) {                                     \
                uint8_t s6, m6;                                                        \
                mvq_get_scale_min_k4(k, x[i].scales, &s6, &m6);                        \
                const float dl = d * (float)s6, ml = -(dmin * (float)m6);              \
                const mvq_neon_q32 q = neon_levels_##wtype(&x[i], k);                  \
                scale16_add(q.val[0], dl, ml, y);                                      \
                scale16_add(q.val[1], dl, ml, y + 16);                                 \
            }                                                                          \
        }                                                                              \
    }

NEON_DEQUANT_K4(q4_K)
NEON_DEQUANT_K4(q5_K)

/* IQ4_XS: sub-block j of 32 has scale d * l_j. */
static void dequantize_row_iq4_xs_neon(const void *vx, float *y, int64_t n)
{
    const mvq_block_iq4_xs *x = vx;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const float d = neon_half(x[i].d);
        for (int j = 0; j < 8; j++, y += 32) {
            const float dl = d * (float)mvq_iq4_xs_scale(&x[i], j);
            const mvq_neon_q32 q = neon_iq4_levels(x[i].qs + 16 * j);
            scale16(q.val[0], dl, y);
            scale16(q.val[1], dl, y + 16);
        }
    }
}

void mvq_dequant_init_neon(mvq_kernel_table *t)
{
    t->to_float[MVQ_TYPE_Q4_0] = dequantize_row_q4_0_neon;
    t->to_float[MVQ_TYPE_Q4_1] = dequantize_row_q4_1_neon;
    t->to_float[MVQ_TYPE_Q5_0] = dequantize_row_q5_0_neon;
    t->to_float[MVQ_TYPE_Q5_1] = dequantize_row_q5_1_neon;
    t->to_float[MVQ_TYPE_Q8_0] = dequantize_row_q8_0_neon;
    t->to_float[MVQ_TYPE_IQ4_NL] = dequantize_row_iq4_nl_neon;
    t->to_float[MVQ_TYPE_Q2_K] = dequantize_row_q2_K_neon;
    t->to_float[MVQ_TYPE_Q3_K] = dequantize_row_q3_K_neon;
    t->to_float[MVQ_TYPE_Q4_K] = dequantize_row_q4_K_neon;
    t->to_float[MVQ_TYPE_Q5_K] = dequantize_row_q5_K_neon;
    t->to_float[MVQ_TYPE_Q6_K] = dequantize_row_q6_K_neon;
    t->to_float[MVQ_TYPE_IQ4_XS] = dequantize_row_iq4_xs_neon;
}
