/* AVX-512 K-quant weight quantizers (Q2_K..Q6_K): the reference search
 * (kernels/kquant_search_impl.h) with its hot loops on 16-lane vectors,
 * bit-exact with the scalar reference.  Also built over SIMDe.
 *
 * The reference keeps 8 partial sums (lane l: weights i % 8 == l, added in
 * the order of i) and adds them as ((0+1)+(2+3))+((4+5)+(6+7)).  Here the
 * terms of 16 weights are computed in one vector, then folded into the 8
 * partial sums in that order (low half first), and up to four sets of 8
 * partial sums are added up together, two to a vector. */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/kquants.h"
#include "kernels/x86/simd_avx512.h"

MVQ_INLINE __m256 low_256(__m512 v)
{
    return _mm512_castps512_ps256(v);
}

MVQ_INLINE __m256 high_256(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

MVQ_INLINE __m512 join_ps(__m256 lo, __m256 hi)
{
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                                               _mm256_castps_pd(hi), 1));
}

/* acc + (the terms of weights 0..7, then 8..15 of t): the reference's
 * lane-by-lane order.  acc starts at +0 as the reference's sums do. */
MVQ_INLINE __m256 fold(__m256 acc, __m512 t)
{
    return _mm256_add_ps(_mm256_add_ps(acc, low_256(t)), high_256(t));
}

/* ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)) of both halves: in lanes 0 and 8 */
MVQ_INLINE __m512 lane_sums_2(__m512 v)
{
    v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m512i i = _mm512_castps_si512(v);
    return _mm512_add_ps(v, _mm512_castsi512_ps(_mm512_shuffle_i32x4(i, i, _MM_SHUFFLE(2, 3, 0, 1))));
}

MVQ_INLINE void lane_sum_pair(__m256 a, __m256 b, float *sa, float *sb)
{
    const __m512 s = lane_sums_2(join_ps(a, b));
    *sa = _mm_cvtss_f32(_mm512_castps512_ps128(s));
    *sb = _mm_cvtss_f32(_mm512_extractf32x4_ps(s, 2));
}

MVQ_INLINE float lane_sum_one(__m256 a)
{
    const __m256 h = _mm256_hadd_ps(a, a);
    const __m256 q = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1)));
}

/* the nearest integer (ties to even) of v clamped to [lo, hi] */
MVQ_INLINE __m512 clamp_round(__m512 v, __m512 lo, __m512 hi)
{
    v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT);
}

static inline float kq_round_fp16(float f)
{
    return mvq_round_fp16(f);
}

static inline void kq_affine_sums(int n, int qmax, const float *x, const float *w, float iscale,
                                  float lo, float *sq, float *sqq, float *sxq)
{
    const __m512 vs = _mm512_set1_ps(iscale), vlo = _mm512_set1_ps(lo);
    const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps((float)qmax);
    __m256 a = _mm256_setzero_ps(), b = a, c = a;
    for (int i = 0; i < n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        const __m512 q = clamp_round(_mm512_mul_ps(vs, _mm512_sub_ps(xv, vlo)), zero, top);
        const __m512 wq = _mm512_mul_ps(_mm512_loadu_ps(w + i), q);
        a = fold(a, wq);
        b = fold(b, _mm512_mul_ps(wq, q));
        c = fold(c, _mm512_mul_ps(wq, xv));
    }
    lane_sum_pair(a, b, sq, sqq);
    *sxq = lane_sum_one(c);
}

static inline void kq_sym_sums(int n, float qmin, float qmax, const float *x, const float *w,
                               float iscale, float *sqq, float *sxq)
{
    const __m512 vs = _mm512_set1_ps(iscale), lo = _mm512_set1_ps(qmin), hi = _mm512_set1_ps(qmax);
    __m256 a = _mm256_setzero_ps(), b = a;
    for (int i = 0; i < n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        const __m512 q = clamp_round(_mm512_mul_ps(vs, xv), lo, hi);
        const __m512 wq = _mm512_mul_ps(_mm512_loadu_ps(w + i), q);
        a = fold(a, _mm512_mul_ps(wq, q));
        b = fold(b, _mm512_mul_ps(wq, xv));
    }
    lane_sum_pair(a, b, sqq, sxq);
}

static inline float kq_sub_error(int n, const float *x, const float *w, float dl, float ml,
                                 float lo, float hi)
{
    const __m512 inv = _mm512_set1_ps(dl != 0 ? 1.f / dl : 0.f), vdl = _mm512_set1_ps(dl);
    const __m512 vml = _mm512_set1_ps(ml), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        const __m512 q = clamp_round(_mm512_mul_ps(_mm512_add_ps(xv, vml), inv), vlo, vhi);
        const __m512 diff = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(vdl, q), vml), xv);
        acc = fold(acc, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(w + i), diff), diff));
    }
    return lane_sum_one(acc);
}

static inline void kq_sub_quantize(int n, const float *restrict x, const float *restrict w, float dl,
                                   float ml, float lo, float hi, float *restrict q, float sums[4])
{
    const __m512 inv = _mm512_set1_ps(dl != 0 ? 1.f / dl : 0.f), vdl = _mm512_set1_ps(dl);
    const __m512 vml = _mm512_set1_ps(ml), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    __m256 a = _mm256_setzero_ps(), b = a, c = a, e = a;
    for (int i = 0; i < n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i), wv = _mm512_loadu_ps(w + i);
        const __m512 v = clamp_round(_mm512_mul_ps(_mm512_add_ps(xv, vml), inv), vlo, vhi);
        const __m512 diff = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(vdl, v), vml), xv);
        const __m512 wq = _mm512_mul_ps(wv, v);
        _mm512_storeu_ps(q + i, v);
        a = fold(a, wq);
        b = fold(b, _mm512_mul_ps(wq, v));
        c = fold(c, _mm512_mul_ps(wq, xv));
        e = fold(e, _mm512_mul_ps(_mm512_mul_ps(wv, diff), diff));
    }
    lane_sum_pair(a, b, &sums[0], &sums[1]);
    lane_sum_pair(c, e, &sums[2], &sums[3]);
}

#include "kernels/kquant_search_impl.h"
#include "kernels/kquant_rows.h"

void MVQ_X86_FN(mvq_kquant_init_avx512)(mvq_kernel_table *t)
{
    fill_kquant_quantizers(t);
}
