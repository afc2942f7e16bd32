/* NEON weight quantizers, bit-exact with the scalar reference:
 *   - Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (with importance), IQ4_NL: the legacy
 *     search (kernels/ref_search.c) with its candidates four to a vector
 *     (kernels/search_eval_simd.h);
 *   - Q2_K..Q6_K: the K-quant search (kernels/kquant_search_impl.h) with
 *     its 8-lane loops on pairs of vectors.
 * No fused multiply-adds: separate vmulq/vaddq, and GCC does not contract
 * them in ISO C mode. */
#include "config.h"
#include "kernels/arm/neon_impl.h"
#include "kernels/kquant_search.h"
#include "kernels/search_eval.h"

/* ---- legacy: candidates in lanes ---- */

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
    const uint32x4_t zero = vceqzq_f32(d);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vdivq_f32(vdupq_n_f32(1.0f), d)), zero));
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

const mvq_search_evals mvq_search_evals_neon = {sym_eval_simd, aff_eval_simd};

/* ---- K-quants: 8 lanes as two vectors ---- */

typedef struct {
    float32x4_t lo, hi; /* lanes 0..3, 4..7 */
} lanes8;

static inline lanes8 lanes8_zero(void)
{
    return (lanes8){vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
}

/* ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)) */
static inline float lane_sum8(lanes8 a)
{
    const float32x4_t p = vpaddq_f32(a.lo, a.hi);
    const float32x4_t q = vpaddq_f32(p, p);
    return vgetq_lane_f32(q, 0) + vgetq_lane_f32(q, 1);
}

static inline float32x4_t clamp_round(float32x4_t v, float32x4_t lo, float32x4_t hi)
{
    return vrndnq_f32(vminq_f32(hi, vmaxq_f32(lo, v)));
}

static inline float kq_round_fp16(float f)
{
    return mvq_round_fp16(f);
}

static inline void kq_affine_sums(int n, int qmax, const float *x, const float *w, float iscale,
                                  float lo, float *sq, float *sqq, float *sxq)
{
    const float32x4_t vs = vdupq_n_f32(iscale), vlo = vdupq_n_f32(lo);
    const float32x4_t zero = vdupq_n_f32(0.0f), top = vdupq_n_f32((float)qmax);
    lanes8 a = lanes8_zero(), b = a, c = a;
    for (int i = 0; i < n; i += 8)
        for (int h = 0; h < 2; h++) {
            float32x4_t *pa = h ? &a.hi : &a.lo, *pb = h ? &b.hi : &b.lo, *pc = h ? &c.hi : &c.lo;
            const float32x4_t xv = vld1q_f32(x + i + 4 * h);
            const float32x4_t q = clamp_round(vmulq_f32(vs, vsubq_f32(xv, vlo)), zero, top);
            const float32x4_t wq = vmulq_f32(vld1q_f32(w + i + 4 * h), q);
            *pa = vaddq_f32(*pa, wq);
            *pb = vaddq_f32(*pb, vmulq_f32(wq, q));
            *pc = vaddq_f32(*pc, vmulq_f32(wq, xv));
        }
    *sq = lane_sum8(a);
    *sqq = lane_sum8(b);
    *sxq = lane_sum8(c);
}

static inline void kq_sym_sums(int n, float qmin, float qmax, const float *x, const float *w,
                               float iscale, float *sqq, float *sxq)
{
    const float32x4_t vs = vdupq_n_f32(iscale), lo = vdupq_n_f32(qmin), hi = vdupq_n_f32(qmax);
    lanes8 a = lanes8_zero(), b = a;
    for (int i = 0; i < n; i += 8)
        for (int h = 0; h < 2; h++) {
            float32x4_t *pa = h ? &a.hi : &a.lo, *pb = h ? &b.hi : &b.lo;
            const float32x4_t xv = vld1q_f32(x + i + 4 * h);
            const float32x4_t q = clamp_round(vmulq_f32(vs, xv), lo, hi);
            const float32x4_t wq = vmulq_f32(vld1q_f32(w + i + 4 * h), q);
            *pa = vaddq_f32(*pa, vmulq_f32(wq, q));
            *pb = vaddq_f32(*pb, vmulq_f32(wq, xv));
        }
    *sqq = lane_sum8(a);
    *sxq = lane_sum8(b);
}

static inline float kq_sub_error(int n, const float *x, const float *w, float dl, float ml,
                                 float lo, float hi)
{
    const float32x4_t inv = vdupq_n_f32(dl != 0 ? 1.f / dl : 0.f), vdl = vdupq_n_f32(dl);
    const float32x4_t vml = vdupq_n_f32(ml), vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    lanes8 acc = lanes8_zero();
    for (int i = 0; i < n; i += 8)
        for (int h = 0; h < 2; h++) {
            float32x4_t *pacc = h ? &acc.hi : &acc.lo;
            const float32x4_t xv = vld1q_f32(x + i + 4 * h);
            const float32x4_t q = clamp_round(vmulq_f32(vaddq_f32(xv, vml), inv), vlo, vhi);
            const float32x4_t diff = vsubq_f32(vsubq_f32(vmulq_f32(vdl, q), vml), xv);
            *pacc = vaddq_f32(*pacc, vmulq_f32(vmulq_f32(vld1q_f32(w + i + 4 * h), diff), diff));
        }
    return lane_sum8(acc);
}

static inline void kq_sub_quantize(int n, const float *restrict x, const float *restrict w, float dl,
                                   float ml, float lo, float hi, float *restrict q, float sums[4])
{
    const float32x4_t inv = vdupq_n_f32(dl != 0 ? 1.f / dl : 0.f), vdl = vdupq_n_f32(dl);
    const float32x4_t vml = vdupq_n_f32(ml), vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    lanes8 a = lanes8_zero(), b = a, c = a, e = a;
    for (int i = 0; i < n; i += 8)
        for (int h = 0; h < 2; h++) {
            float32x4_t *pa = h ? &a.hi : &a.lo, *pb = h ? &b.hi : &b.lo;
            float32x4_t *pc = h ? &c.hi : &c.lo, *pe = h ? &e.hi : &e.lo;
            const float32x4_t xv = vld1q_f32(x + i + 4 * h), wv = vld1q_f32(w + i + 4 * h);
            const float32x4_t v = clamp_round(vmulq_f32(vaddq_f32(xv, vml), inv), vlo, vhi);
            const float32x4_t diff = vsubq_f32(vsubq_f32(vmulq_f32(vdl, v), vml), xv);
            const float32x4_t wq = vmulq_f32(wv, v);
            vst1q_f32(q + i + 4 * h, v);
            *pa = vaddq_f32(*pa, wq);
            *pb = vaddq_f32(*pb, vmulq_f32(wq, v));
            *pc = vaddq_f32(*pc, vmulq_f32(wq, xv));
            *pe = vaddq_f32(*pe, vmulq_f32(vmulq_f32(wv, diff), diff));
        }
    sums[0] = lane_sum8(a);
    sums[1] = lane_sum8(b);
    sums[2] = lane_sum8(c);
    sums[3] = lane_sum8(e);
}

#include "kernels/kquant_search_impl.h"

/* ---- the table entries ---- */

#define NEON_ROW(T)                                                                          \
    static void quantize_row_##T(const float *x, void *y, int64_t n, const float *imatrix) \
    {                                                                                        \
        mvq_quantize_row_##T##_with(&mvq_search_evals_neon, x, y, n, imatrix);               \
    }
NEON_ROW(q4_0)
NEON_ROW(q4_1)
NEON_ROW(q5_0)
NEON_ROW(q5_1)
NEON_ROW(iq4_nl)

#define NEON_KQ_ROW(T)                                                                        \
    static void quantize_row_##T(const float *x, void *y, int64_t n, const float *imatrix)  \
    {                                                                                         \
        quantize_row_impl(kq_format_##T.shape, x, y, kq_format_##T.block_bytes, n, imatrix,   \
                          kq_format_##T.store);                                               \
    }
NEON_KQ_ROW(q2_K)
NEON_KQ_ROW(q3_K)
NEON_KQ_ROW(q4_K)
NEON_KQ_ROW(q5_K)
NEON_KQ_ROW(q6_K)

/* Q8_0's entry is the activation quantizer's (act_neon.c), which searches
 * with mvq_search_evals_neon when given importance weights. */
void mvq_quant_init_neon(mvq_kernel_table *t)
{
    t->from_float[MVQ_TYPE_Q4_0] = quantize_row_q4_0;
    t->from_float[MVQ_TYPE_Q4_1] = quantize_row_q4_1;
    t->from_float[MVQ_TYPE_Q5_0] = quantize_row_q5_0;
    t->from_float[MVQ_TYPE_Q5_1] = quantize_row_q5_1;
    t->from_float[MVQ_TYPE_IQ4_NL] = quantize_row_iq4_nl;
    t->from_float[MVQ_TYPE_Q2_K] = quantize_row_q2_K;
    t->from_float[MVQ_TYPE_Q3_K] = quantize_row_q3_K;
    t->from_float[MVQ_TYPE_Q4_K] = quantize_row_q4_K;
    t->from_float[MVQ_TYPE_Q5_K] = quantize_row_q5_K;
    t->from_float[MVQ_TYPE_Q6_K] = quantize_row_q6_K;
}
