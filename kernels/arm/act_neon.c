/* NEON quantization of activations to Q8_0, Q8_1 and Q8_K, bit-exact with
 * the reference: the same max, the same single division, the same multiply
 * per value and the same rounding (vcvtaq: halves away from zero, as
 * roundf; vcvtnq: halves to even, as the reference's nearest_int). */
#include "config.h"
#include "kernels/arm/neon_impl.h"
#include "kernels/search_eval.h"

#include <math.h>

/* 4 x int32x4 (in element order) to 16 int8, saturating (values fit). */
static inline int8x16_t narrow16(const int32x4_t q[4])
{
    const int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
    const int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
    return vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
}

/* One block of 32 with scale amax/127 into qs; returns d, *sum = sum(qs). */
static inline float quantize_block32(const float *x, int8_t *qs, int *sum)
{
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(x + 4 * k);
        amax = vmaxnmq_f32(amax, vabsq_f32(v[k])); /* NaN ignored, as fmaxf */
    }
    const float d = vmaxnmvq_f32(amax) / 127.0f;
    const float id = mvq_inverse_scale(d);
    int32x4_t q[8];
    int32x4_t acc = vdupq_n_s32(0);
    for (int k = 0; k < 8; k++) {
        q[k] = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
        acc = vaddq_s32(acc, q[k]);
    }
    vst1q_s8(qs, narrow16(q));
    vst1q_s8(qs + 16, narrow16(q + 4));
    *sum = vaddvq_s32(acc);
    return d;
}

/* Q8_K: scale -127/max where max is the first value of largest magnitude;
 * rounded to nearest even and capped at 127. */
static void quantize_block_q8_K(const float *x, mvq_block_q8_K *y)
{
    float32x4_t amax4 = vdupq_n_f32(0.0f);
    for (int j = 0; j < MVQ_QK_K; j += 4)
        amax4 = vmaxnmq_f32(amax4, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxnmvq_f32(amax4);
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    int first = 0;
    for (int j = 0; j < MVQ_QK_K; j += 4)
        if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + j)), vdupq_n_f32(amax)))) {
            for (first = j; fabsf(x[first]) != amax; first++)
                ;
            break;
        }
    const float iscale = -127.0f / x[first];
    const int32x4_t cap = vdupq_n_s32(127);
    for (int j = 0; j < MVQ_QK_K; j += 16) {
        int32x4_t q[4];
        for (int k = 0; k < 4; k++)
            q[k] = vminq_s32(cap, vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale)));
        vst1q_s8(y->qs + j, narrow16(q));
        y->bsums[j / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
    }
    y->d = 1.0f / iscale;
}

static inline uint16_t float_to_half(float f)
{
    return mvq_fp32_to_fp16(f);
}

#define ACT_SEARCH_EVALS (&mvq_search_evals_neon)
#include "kernels/act_rows.h"

void mvq_act_init_neon(mvq_kernel_table *t)
{
    fill_act(t);
}
