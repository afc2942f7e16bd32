/* NEON dot products of the 32-weight block types with Q8_0 / Q8_1 (exact
 * integer sums with vdotq_s32, then the reference's float operations in
 * block order: bit-exact), and of F32 / F16 / BF16 rows with f32 (float
 * accumulators; the elements past the last 16 go to the reference). */
#include "config.h"
#include "kernels/arm/neon_impl.h"

/* Symmetric weight types with Q8_0: sum += sumi * (d_x * d_y). */
#define NEON_DOT_WITH_Q8_0(wtype)                                                              \
    static void vec_dot_##wtype##_q8_0_neon(int64_t n, float *s, const void *vx, const void *vy) \
    {                                                                                          \
        const mvq_block_##wtype *x = vx;                                                       \
        const mvq_block_q8_0 *y = vy;                                                          \
        float sum = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / 32; i++) {                                                 \
            const int sumi = vaddvq_s32(neon_dot32(neon_levels_##wtype(&x[i]), y[i].qs));      \
            sum += (float)sumi * (neon_half(x[i].d) * neon_half(y[i].d));                      \
        }                                                                                      \
        *s = sum;                                                                              \
    }

/* Weight types with a minimum, with Q8_1: (d_x*d_y)*sumi + m_x*s_y. */
#define NEON_DOT_WITH_Q8_1(wtype)                                                              \
    static void vec_dot_##wtype##_q8_1_neon(int64_t n, float *s, const void *vx, const void *vy) \
    {                                                                                          \
        const mvq_block_##wtype *x = vx;                                                       \
        const mvq_block_q8_1 *y = vy;                                                          \
        float sum = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / 32; i++) {                                                 \
            const int sumi = vaddvq_s32(neon_dot32(neon_levels_##wtype(&x[i]), y[i].qs));      \
            sum += (neon_half(x[i].d) * neon_half(y[i].d)) * (float)sumi +                     \
                   neon_half(x[i].m) * neon_half(y[i].s);                                      \
        }                                                                                      \
        *s = sum;                                                                              \
    }

NEON_DOT_WITH_Q8_0(q4_0)
NEON_DOT_WITH_Q8_0(q5_0)
NEON_DOT_WITH_Q8_0(q8_0)
NEON_DOT_WITH_Q8_0(iq4_nl)
NEON_DOT_WITH_Q8_1(q4_1)
NEON_DOT_WITH_Q8_1(q5_1)

/* Float rows: 16 products per step into four accumulators; the remainder
 * (n % 16 elements) by the reference, added once at the end. */
typedef float32x4_t (*load4_fn)(const void *x, int64_t i);

static inline float32x4_t load4_f32(const void *x, int64_t i)
{
    return vld1q_f32((const float *)x + i);
}

static inline float32x4_t load4_f16(const void *x, int64_t i)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)x + i)));
}

static inline float32x4_t load4_bf16(const void *x, int64_t i)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)x + i), 16));
}

static inline float dot_float_rows(int64_t n, const void *x, const float *y, load4_fn load,
                                   mvq_vec_dot_fn ref, size_t x_elem_size)
{
    float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };
    const int64_t done = n - n % 16;
    for (int64_t i = 0; i < done; i += 16)
        for (int k = 0; k < 4; k++)
            acc[k] = vfmaq_f32(acc[k], load(x, i + 4 * k), vld1q_f32(y + i + 4 * k));
    float tail = 0.0f;
    if (done < n)
        ref(n - done, &tail, (const char *)x + done * x_elem_size, y + done);
    return vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]))) + tail;
}

static void vec_dot_f32_f32_neon(int64_t n, float *s, const void *x, const void *y)
{
    *s = dot_float_rows(n, x, y, load4_f32, mvq_vec_dot_f32_f32_ref, sizeof(float));
}

static void vec_dot_f16_f32_neon(int64_t n, float *s, const void *x, const void *y)
{
    *s = dot_float_rows(n, x, y, load4_f16, mvq_vec_dot_f16_f32_ref, sizeof(mvq_half));
}

static void vec_dot_bf16_f32_neon(int64_t n, float *s, const void *x, const void *y)
{
    *s = dot_float_rows(n, x, y, load4_bf16, mvq_vec_dot_bf16_f32_ref, sizeof(mvq_bf16));
}

void mvq_dot_init_neon(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q4_0] = vec_dot_q4_0_q8_0_neon;
    t->vec_dot[MVQ_TYPE_Q5_0] = vec_dot_q5_0_q8_0_neon;
    t->vec_dot[MVQ_TYPE_Q8_0] = vec_dot_q8_0_q8_0_neon;
    t->vec_dot[MVQ_TYPE_IQ4_NL] = vec_dot_iq4_nl_q8_0_neon;
    t->vec_dot[MVQ_TYPE_Q4_1] = vec_dot_q4_1_q8_1_neon;
    t->vec_dot[MVQ_TYPE_Q5_1] = vec_dot_q5_1_q8_1_neon;
    t->vec_dot[MVQ_TYPE_F32] = vec_dot_f32_f32_neon;
    t->vec_dot[MVQ_TYPE_F16] = vec_dot_f16_f32_neon;
    t->vec_dot[MVQ_TYPE_BF16] = vec_dot_bf16_f32_neon;
}
