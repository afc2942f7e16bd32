/* NEON dot products of the K-quants with Q8_K.  Per super-block: the exact
 * integer sum of sub-block scale * (levels . activation) with vdotq_s32, the
 * minimums through Q8_K's bsums, then the reference's float operations in
 * the reference's order, so results are bit-exact with the scalar table. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

/* acc += sc0 * (first 16 levels . y) + sc1 * (last 16 . y + 16): two
 * sub-blocks of 16 (Q2_K, Q3_K, Q6_K). */
static inline int32x4_t acc_pair16(int32x4_t acc, mvq_neon_q32 q, const int8_t *y, int sc0, int sc1)
{
    const int8x16x2_t a = vld1q_s8_x2(y);
    acc = vmlaq_n_s32(acc, vdotq_s32(vdupq_n_s32(0), q.val[0], a.val[0]), sc0);
    return vmlaq_n_s32(acc, vdotq_s32(vdupq_n_s32(0), q.val[1], a.val[1]), sc1);
}

/* sum over 16 groups of mins[g] * bsums[g] */
static inline int mins_dot_bsums16(int16x8_t m0, int16x8_t m1, const int16_t bsums[16])
{
    const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t s = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
    s = vmlal_high_s16(s, m0, b0);
    s = vmlal_s16(s, vget_low_s16(m1), vget_low_s16(b1));
    s = vmlal_high_s16(s, m1, b1);
    return vaddvq_s32(s);
}

static void vec_dot_q2_K_q8_K_neon(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q2_K *x = vx;
    const mvq_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++) {
        const uint8_t *sc = x[i].scales;
        int32x4_t acc = vdupq_n_s32(0);
        for (int k = 0; k < 8; k++)
            acc = acc_pair16(acc, neon_levels_q2_K(&x[i], k), y[i].qs + 32 * k, sc[2 * k] & 0xF,
                             sc[2 * k + 1] & 0xF);
        const int isum = vaddvq_s32(acc);
        const uint8x16_t mins = vshrq_n_u8(vld1q_u8(sc), 4);
        const int summs = mins_dot_bsums16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins))),
                                           vreinterpretq_s16_u16(vmovl_high_u8(mins)), y[i].bsums);
        const float dall = y[i].d * neon_half(x[i].d);
        const float dmin = y[i].d * neon_half(x[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

/* Q3_K / Q6_K: 16 signed scales, no minimum: sum += d_x * d_y * isum. */
#define NEON_DOT_K16(wtype)                                                                    \
    static void vec_dot_##wtype##_q8_K_neon(int64_t n, float *s, const void *vx, const void *vy) \
    {                                                                                          \
        const mvq_block_##wtype *x = vx;                                                       \
        const mvq_block_q8_K *y = vy;                                                          \
        int8_t sc[16];                                                                         \
        float sum = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++) {                                           \
            neon_scales_##wtype(&x[i], sc);                                                    \
            int32x4_t acc = vdupq_n_s32(0);                                                    \
            for (int k = 0; k < 8; k++)                                                        \
                acc = acc_pair16(acc, neon_levels_##wtype(&x[i], k), y[i].qs + 32 * k, sc[2 * k], \
                                 sc[2 * k + 1]);                                               \
            sum += neon_half(x[i].d) * y[i].d * (float)vaddvq_s32(acc);                        \
        }                                                                                      \
        *s = sum;                                                                              \
    }

NEON_DOT_K16(q3_K)
NEON_DOT_K16(q6_K)

/* Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; the mins meet
 * the activation through bsums[2j] + bsums[2j+1]. */
static inline float k4_superblock(int32x4_t acc_by_scale, const uint8_t scales[12], mvq_half d,
                                  mvq_half dmin, const mvq_block_q8_K *y)
{
    int16_t m[8];
    for (int j = 0; j < 8; j++) {
        uint8_t s6, m6;
        mvq_get_scale_min_k4(j, scales, &s6, &m6);
        m[j] = m6;
    }
    const int16x8_t pairs = vpaddq_s16(vld1q_s16(y->bsums), vld1q_s16(y->bsums + 8));
    const int16x8_t mins = vld1q_s16(m);
    int32x4_t t = vmull_s16(vget_low_s16(mins), vget_low_s16(pairs));
    t = vmlal_high_s16(t, mins, pairs);
    const int summs = vaddvq_s32(t);
    const float dd = y->d * neon_half(d);
    const float dm = y->d * neon_half(dmin);
    return dd * (float)vaddvq_s32(acc_by_scale) - dm * (float)summs;
}

#define NEON_DOT_K4(wtype)                                                                     \
    static void vec_dot_##wtype##_q8_K_neon(int64_t n, float *s, const void *vx, const void *vy) \
    {                                                                                          \
        const mvq_block_##wtype *x = vx;                                                       \
        const mvq_block_q8_K *y = vy;                                                          \
        float sum = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / MVQ_QK_K; i++) {                                           \
            int32x4_t acc = vdupq_n_s32(0);                                                    \
            for (int k = 0; k < 8; k++) {                                                      \
                uint8_t s6, m6;                                                                \
                mvq_get_scale_min_k4(k, x[i].scales, &s6, &m6);                                \
                acc = vmlaq_n_s32(acc, neon_dot32(neon_levels_##wtype(&x[i], k), y[i].qs + 32 * k), s6); \
            }                                                                                  \
            sum += k4_superblock(acc, x[i].scales, x[i].d, x[i].dmin, &y[i]);                 \
        }                                                                                      \
        *s = sum;                                                                              \
    }

NEON_DOT_K4(q4_K)
NEON_DOT_K4(q5_K)

void mvq_dot_k_init_neon(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q2_K] = vec_dot_q2_K_q8_K_neon;
    t->vec_dot[MVQ_TYPE_Q3_K] = vec_dot_q3_K_q8_K_neon;
    t->vec_dot[MVQ_TYPE_Q4_K] = vec_dot_q4_K_q8_K_neon;
    t->vec_dot[MVQ_TYPE_Q5_K] = vec_dot_q5_K_q8_K_neon;
    t->vec_dot[MVQ_TYPE_Q6_K] = vec_dot_q6_K_q8_K_neon;
}
