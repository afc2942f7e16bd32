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

#define KQ_HAVE_FIT_AFFINE_ALL
#include "kernels/kquant_search_impl.h"

/* fit_affine_given_q of eight candidates, one to a lane, without branches
 * (AVX compares and blends: SIMDe has no 8-lane masks) */
static void fit_affine_8(const kq_moments *mo, const float *psq, const float *psqq, const float *psxq,
                         float *scale, float *min, float *err)
{
    const __m256 zero = _mm256_setzero_ps(), sw = _mm256_set1_ps(mo->sw), sx = _mm256_set1_ps(mo->sx);
    const __m256 sq = _mm256_loadu_ps(psq), sqq = _mm256_loadu_ps(psqq), sxq = _mm256_loadu_ps(psxq);
    const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sw, sqq), _mm256_mul_ps(sq, sq));
    const __m256 lim = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(1e-6f), sw), sqq);
    const __m256 solved = _mm256_cmp_ps(det, lim, _CMP_GT_OQ);
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.f), det);
    __m256 s = _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(sw, sxq), _mm256_mul_ps(sx, sq)), inv);
    __m256 b = _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(sqq, sx), _mm256_mul_ps(sq, sxq)), inv);
    s = _mm256_blendv_ps(zero, s, solved);
    b = _mm256_blendv_ps(_mm256_set1_ps(1.f), b, solved);
    /* a positive offset: the best scale through the origin instead */
    const __m256 positive = _mm256_cmp_ps(b, zero, _CMP_GT_OQ);
    const __m256 some = _mm256_cmp_ps(sqq, zero, _CMP_GT_OQ);
    const __m256 s0 = _mm256_and_ps(some, _mm256_div_ps(sxq, sqq));
    s = _mm256_blendv_ps(s, s0, positive);
    b = _mm256_blendv_ps(b, zero, positive);
    const __m256 ok = _mm256_cmp_ps(s, zero, _CMP_GT_OQ);
    const __m256 e = _mm256_sub_ps(_mm256_sub_ps(_mm256_set1_ps(mo->sxx), _mm256_mul_ps(s, sxq)),
                                   _mm256_mul_ps(b, sx));
    _mm256_storeu_ps(scale, _mm256_and_ps(ok, s));
    _mm256_storeu_ps(min, _mm256_and_ps(ok, _mm256_xor_ps(b, _mm256_set1_ps(-0.f))));
    _mm256_storeu_ps(err, _mm256_blendv_ps(_mm256_set1_ps(INFINITY), e, ok));
}

static void kq_fit_affine_all(const kq_moments *mo, int count, const float *sq, const float *sqq,
                              const float *sxq, kq_fit *fits)
{
    float a[8] = {0}, b[8] = {0}, c[8] = {0}, scale[8], min[8], err[8];
    memcpy(a, sq, sizeof *sq * (size_t)count);
    memcpy(b, sqq, sizeof *sqq * (size_t)count);
    memcpy(c, sxq, sizeof *sxq * (size_t)count);
    fit_affine_8(mo, a, b, c, scale, min, err);
    for (int k = 0; k < count; ++k)
        fits[k] = (kq_fit){scale[k], min[k], err[k]};
}
#include "kernels/kquant_rows.h"
/* the operations of kquant_sym16_x86.h: one vector, mask registers */
typedef __m512 V16;
typedef __mmask16 M16;
MVQ_INLINE V16 v_set1(float a) { return _mm512_set1_ps(a); }
MVQ_INLINE V16 v_zero(void) { return _mm512_setzero_ps(); }
MVQ_INLINE V16 v_loadu(const float *p) { return _mm512_loadu_ps(p); }
MVQ_INLINE void v_storeu(float *p, V16 a) { _mm512_storeu_ps(p, a); }
MVQ_INLINE V16 v_from_i32(const int32_t *p) { return _mm512_cvtepi32_ps(_mm512_loadu_si512(p)); }
MVQ_INLINE V16 v_column(const float *p)
{
    return _mm512_i32gather_ps(_mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                                  _mm512_set1_epi32(16)), p, 4);
}
MVQ_INLINE V16 v_add(V16 a, V16 b) { return _mm512_add_ps(a, b); }
MVQ_INLINE V16 v_sub(V16 a, V16 b) { return _mm512_sub_ps(a, b); }
MVQ_INLINE V16 v_mul(V16 a, V16 b) { return _mm512_mul_ps(a, b); }
MVQ_INLINE V16 v_div(V16 a, V16 b) { return _mm512_div_ps(a, b); }
MVQ_INLINE V16 v_min(V16 a, V16 b) { return _mm512_min_ps(a, b); }
MVQ_INLINE V16 v_max(V16 a, V16 b) { return _mm512_max_ps(a, b); }
MVQ_INLINE V16 v_abs(V16 a) { return _mm512_abs_ps(a); }
MVQ_INLINE V16 v_round(V16 a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT); }
MVQ_INLINE M16 m_gt(V16 a, V16 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
MVQ_INLINE M16 m_lt(V16 a, V16 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
MVQ_INLINE M16 m_le(V16 a, V16 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
MVQ_INLINE M16 m_ge(V16 a, V16 b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
MVQ_INLINE M16 m_ne(V16 a, V16 b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
MVQ_INLINE M16 m_and(M16 a, M16 b) { return (M16)(a & b); }
MVQ_INLINE M16 m_or(M16 a, M16 b) { return (M16)(a | b); }
MVQ_INLINE M16 m_not(M16 a) { return (M16)~a; }
MVQ_INLINE M16 m_all(void) { return (M16)0xFFFF; }
MVQ_INLINE M16 m_none(void) { return (M16)0; }
MVQ_INLINE int m_any(M16 m) { return m != 0; }
MVQ_INLINE V16 v_blend(M16 m, V16 f, V16 t) { return _mm512_mask_blend_ps(m, f, t); }
MVQ_INLINE V16 v_maskz(M16 m, V16 v) { return _mm512_maskz_mov_ps(m, v); }
#include "kernels/x86/kquant_sym16_x86.h"

void MVQ_X86_FN(mvq_kquant_init_avx512)(mvq_kernel_table *t)
{
    fill_kquant_quantizers(t);
    /* the symmetric types: sub-blocks in lanes (kquant_sym16_x86.h) */
    t->from_float[MVQ_TYPE_Q3_K] = quantize_row_q3_K_lanes;
    t->from_float[MVQ_TYPE_Q6_K] = quantize_row_q6_K_lanes;
}
