/* NEON weight quantizers of the legacy types and IQ4_NL (Q8_0 with
 * importance through act_neon.c): the legacy search (kernels/ref_search.c)
 * with its candidates four to a vector (kernels/search_eval_simd.h),
 * bit-exact with the scalar reference.  No fused multiply-adds: separate
 * vmulq/vaddq, which GCC does not contract in ISO C mode. */
#include "config.h"
#include "kernels/arm/neon_impl.h"
#include "kernels/search_eval.h"

typedef float32x4_t vf;
#define VF_LANES 4

static inline vf vf_set1(float a) { return vdupq_n_f32(a); }
static inline vf vf_loadu(const float *p) { return vld1q_f32(p); }
static inline void vf_storeu(float *p, vf a) { vst1q_f32(p, a); }
static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
/* NaN propagates, as the x86 min/max with the NaN second */
static inline vf vf_min(vf a, vf b) { return vminq_f32(a, b); }
static inline vf vf_max(vf a, vf b) { return vmaxq_f32(a, b); }
static inline vf vf_round_even(vf a) { return vrndnq_f32(a); }

static inline vf vf_inverse(vf d)
{
    const vf id = vdivq_f32(vdupq_n_f32(1.0f), d);
    const uint32x4_t finite = vcltq_f32(vabsq_f32(id), vdupq_n_f32(INFINITY));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(id), finite));
}

/* IQ4_NL: the level of t looked up by floor(2t), as mvq_table_code
 * (NaN: the lowest bucket). */
typedef struct {
    const float *bucket_level;
} vf_table;

static inline void vf_table_init(vf_table *tab, const mvq_levels *lv)
{
    tab->bucket_level = lv->bucket_level;
}

static inline vf vf_table_level(const vf_table *tab, vf t)
{
    const vf r = vdupq_n_f32((float)(MVQ_BUCKET_HALF / 2)), neg_r = vnegq_f32(r);
    t = vminq_f32(vbslq_f32(vcgeq_f32(t, neg_r), t, neg_r), r);
    const int32x4_t i = vaddq_s32(vcvtq_s32_f32(vrndmq_f32(vaddq_f32(t, t))), vdupq_n_s32(MVQ_BUCKET_HALF));
    float v[4];
    v[0] = tab->bucket_level[vgetq_lane_s32(i, 0)];
    v[1] = tab->bucket_level[vgetq_lane_s32(i, 1)];
    v[2] = tab->bucket_level[vgetq_lane_s32(i, 2)];
    v[3] = tab->bucket_level[vgetq_lane_s32(i, 3)];
    return vld1q_f32(v);
}

#include "kernels/search_eval_simd.h"

const mvq_search_evals mvq_search_evals_neon = {.sym = sym_eval_simd, .aff = aff_eval_simd};

void mvq_quant_init_neon(mvq_kernel_table *t)
{
    fill_legacy_quantizers(t);
}
