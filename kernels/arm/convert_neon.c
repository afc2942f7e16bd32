/* NEON conversions of F16 and BF16 rows to and from f32, rounding to
 * nearest even as the reference (the hardware conversion for F16, the
 * reference's integer rounding for BF16).  Elements past the last 8 go to
 * the reference. */
#include "config.h"
#include "kernels/arm/neon_impl.h"

static void to_float_f16_neon(const void *vx, float *y, int64_t n)
{
    const uint16_t *x = vx;
    const int64_t done = n - n % 8;
    for (int64_t i = 0; i < done; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
        vst1q_f32(y + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(y + i + 4, vcvt_high_f32_f16(h));
    }
    if (done < n)
        mvq_to_float_f16_ref(x + done, y + done, n - done);
}

static void from_float_f16_neon(const float *x, void *vy, int64_t n, const float *imatrix)
{
    uint16_t *y = vy;
    const int64_t done = n - n % 8;
    for (int64_t i = 0; i < done; i += 8) {
        const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
        vst1q_u16(y + i, vreinterpretq_u16_f16(h));
    }
    if (done < n)
        mvq_from_float_f16_ref(x + done, y + done, n - done, imatrix);
}

static void to_float_bf16_neon(const void *vx, float *y, int64_t n)
{
    const uint16_t *x = vx;
    const int64_t done = n - n % 8;
    for (int64_t i = 0; i < done; i += 8) {
        const uint16x8_t b = vld1q_u16(x + i);
        vst1q_f32(y + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16)));
        vst1q_f32(y + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(b, 16)));
    }
    if (done < n)
        mvq_to_float_bf16_ref(x + done, y + done, n - done);
}

/* (u + 0x7fff + ((u >> 16) & 1)) >> 16; NaN: (u >> 16) | 64 */
static inline uint16x4_t f32_to_bf16x4(float32x4_t f)
{
    const uint32x4_t u = vreinterpretq_u32_f32(f);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), odd), 16);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(64));
    return vmovn_u32(vbslq_u32(nan, quiet, rounded));
}

static void from_float_bf16_neon(const float *x, void *vy, int64_t n, const float *imatrix)
{
    uint16_t *y = vy;
    const int64_t done = n - n % 8;
    for (int64_t i = 0; i < done; i += 8)
        vst1q_u16(y + i, vcombine_u16(f32_to_bf16x4(vld1q_f32(x + i)), f32_to_bf16x4(vld1q_f32(x + i + 4))));
    if (done < n)
        mvq_from_float_bf16_ref(x + done, y + done, n - done, imatrix);
}

void mvq_convert_init_neon(mvq_kernel_table *t)
{
    t->to_float[MVQ_TYPE_F16] = to_float_f16_neon;
    t->from_float[MVQ_TYPE_F16] = from_float_f16_neon;
    t->to_float[MVQ_TYPE_BF16] = to_float_bf16_neon;
    t->from_float[MVQ_TYPE_BF16] = from_float_bf16_neon;
}
