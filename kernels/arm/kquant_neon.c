/* NEON K-quant weight quantizers (Q2_K..Q6_K): the reference search
 * (kernels/kquant_search_impl.h) with its 8-lane loops on pairs of
 * vectors, bit-exact with the scalar reference (no fused multiply-adds). */
#include "config.h"
#include "kernels/arm/neon_impl.h"
#include "kernels/kquant_search.h"

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
#include "kernels/kquant_rows.h"

void mvq_kquant_init_neon(mvq_kernel_table *t)
{
    fill_kquant_quantizers(t);
}
