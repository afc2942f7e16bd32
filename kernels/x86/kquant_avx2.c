/* AVX2 K-quant weight quantizers (Q2_K..Q6_K): the reference search
 * (kernels/kquant_search_impl.h) with its hot loops on 8-lane vectors.  The
 * reference keeps 8 partial sums (lane l: weights i % 8 == l) added as
 * ((0+1)+(2+3))+((4+5)+(6+7)): one vector accumulator and two horizontal
 * adds give exactly those sums. */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/kquants.h"
#include "kernels/x86/simd_x86.h"

/* ((a0+a1)+(a2+a3)) + ((a4+a5)+(a6+a7)) */
static inline float lane_sum_256(__m256 a)
{
    const __m256 h = _mm256_hadd_ps(a, a);
    const __m256 q = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1)));
}

/* the nearest integer (ties to even) of v clamped to [lo, hi], as kq_round(kq_clampf()) */
static inline __m256 clamp_round(__m256 v, __m256 lo, __m256 hi)
{
    v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline float kq_round_fp16(float f)
{
    return mvq_round_fp16(f);
}

static inline void kq_affine_sums(int n, int qmax, const float *x, const float *w, float iscale,
                                  float lo, float *sq, float *sqq, float *sxq)
{
    const __m256 vs = _mm256_set1_ps(iscale), vlo = _mm256_set1_ps(lo);
    const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps((float)qmax);
    __m256 a = zero, b = zero, c = zero;
    for (int i = 0; i < n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256 q = clamp_round(_mm256_mul_ps(vs, _mm256_sub_ps(xv, vlo)), zero, top);
        const __m256 wq = _mm256_mul_ps(_mm256_loadu_ps(w + i), q);
        a = _mm256_add_ps(a, wq);
        b = _mm256_add_ps(b, _mm256_mul_ps(wq, q));
        c = _mm256_add_ps(c, _mm256_mul_ps(wq, xv));
    }
    *sq = lane_sum_256(a);
    *sqq = lane_sum_256(b);
    *sxq = lane_sum_256(c);
}

static inline void kq_sym_sums(int n, float qmin, float qmax, const float *x, const float *w,
                               float iscale, float *sqq, float *sxq)
{
    const __m256 vs = _mm256_set1_ps(iscale), lo = _mm256_set1_ps(qmin), hi = _mm256_set1_ps(qmax);
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256 q = clamp_round(_mm256_mul_ps(vs, xv), lo, hi);
        const __m256 wq = _mm256_mul_ps(_mm256_loadu_ps(w + i), q);
        a = _mm256_add_ps(a, _mm256_mul_ps(wq, q));
        b = _mm256_add_ps(b, _mm256_mul_ps(wq, xv));
    }
    *sqq = lane_sum_256(a);
    *sxq = lane_sum_256(b);
}

static inline float kq_sub_error(int n, const float *x, const float *w, float dl, float ml,
                                 float lo, float hi)
{
    const __m256 inv = _mm256_set1_ps(dl != 0 ? 1.f / dl : 0.f), vdl = _mm256_set1_ps(dl);
    const __m256 vml = _mm256_set1_ps(ml), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256 q = clamp_round(_mm256_mul_ps(_mm256_add_ps(xv, vml), inv), vlo, vhi);
        const __m256 diff = _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(vdl, q), vml), xv);
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(w + i), diff), diff));
    }
    return lane_sum_256(acc);
}

static inline void kq_sub_quantize(int n, const float *restrict x, const float *restrict w, float dl,
                                   float ml, float lo, float hi, float *restrict q, float sums[4])
{
    const __m256 inv = _mm256_set1_ps(dl != 0 ? 1.f / dl : 0.f), vdl = _mm256_set1_ps(dl);
    const __m256 vml = _mm256_set1_ps(ml), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    __m256 a = _mm256_setzero_ps(), b = a, c = a, e = a;
    for (int i = 0; i < n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
        const __m256 v = clamp_round(_mm256_mul_ps(_mm256_add_ps(xv, vml), inv), vlo, vhi);
        const __m256 diff = _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(vdl, v), vml), xv);
        const __m256 wq = _mm256_mul_ps(wv, v);
        _mm256_storeu_ps(q + i, v);
        a = _mm256_add_ps(a, wq);
        b = _mm256_add_ps(b, _mm256_mul_ps(wq, v));
        c = _mm256_add_ps(c, _mm256_mul_ps(wq, xv));
        e = _mm256_add_ps(e, _mm256_mul_ps(_mm256_mul_ps(wv, diff), diff));
    }
    sums[0] = lane_sum_256(a);
    sums[1] = lane_sum_256(b);
    sums[2] = lane_sum_256(c);
    sums[3] = lane_sum_256(e);
}

#include "kernels/kquant_search_impl.h"
#include "kernels/kquant_rows.h"

void mvq_kquant_init_avx2(mvq_kernel_table *t)
{
    fill_kquant_quantizers(t);
}
