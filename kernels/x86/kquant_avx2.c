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

/* the operations of kquant_sym16_x86.h: pairs of vectors, lane masks */
typedef struct {
    __m256 a, b;
} V16;
typedef V16 M16;
#define V16_OP1(name, expr)                                                                   \
    static inline V16 name(V16 x) { return (V16){expr(x.a), expr(x.b)}; }
#define V16_OP2(name, fn)                                                                     \
    static inline V16 name(V16 x, V16 y) { return (V16){fn(x.a, y.a), fn(x.b, y.b)}; }
#define V16_CMP(name, pred)                                                                   \
    static inline M16 name(V16 x, V16 y) { return (M16){_mm256_cmp_ps(x.a, y.a, pred), _mm256_cmp_ps(x.b, y.b, pred)}; }
static inline __m256 abs_256(__m256 a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline __m256 round_256(__m256 a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline __m256 not_256(__m256 a) { return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(-1))); }
static inline V16 v_set1(float f) { return (V16){_mm256_set1_ps(f), _mm256_set1_ps(f)}; }
static inline V16 v_zero(void) { return (V16){_mm256_setzero_ps(), _mm256_setzero_ps()}; }
static inline V16 v_loadu(const float *p) { return (V16){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
static inline void v_storeu(float *p, V16 v) { _mm256_storeu_ps(p, v.a), _mm256_storeu_ps(p + 8, v.b); }
static inline V16 v_from_i32(const int32_t *p)
{
    return (V16){_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)p)),
                 _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(p + 8)))};
}
static inline V16 v_column(const float *p)
{
    const __m256i i = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    return (V16){_mm256_i32gather_ps(p, i, 4), _mm256_i32gather_ps(p + 128, i, 4)};
}
V16_OP2(v_add, _mm256_add_ps)
V16_OP2(v_sub, _mm256_sub_ps)
V16_OP2(v_mul, _mm256_mul_ps)
V16_OP2(v_div, _mm256_div_ps)
V16_OP2(v_min, _mm256_min_ps)
V16_OP2(v_max, _mm256_max_ps)
V16_OP1(v_abs, abs_256)
V16_OP1(v_round, round_256)
V16_CMP(m_gt, _CMP_GT_OQ)
V16_CMP(m_lt, _CMP_LT_OQ)
V16_CMP(m_le, _CMP_LE_OQ)
V16_CMP(m_ge, _CMP_GE_OQ)
V16_CMP(m_ne, _CMP_NEQ_UQ)
V16_OP2(m_and, _mm256_and_ps)
V16_OP2(m_or, _mm256_or_ps)
V16_OP1(m_not, not_256)
static inline M16 m_all(void) { return (M16){_mm256_castsi256_ps(_mm256_set1_epi32(-1)), _mm256_castsi256_ps(_mm256_set1_epi32(-1))}; }
static inline M16 m_none(void) { return v_zero(); }
static inline int m_any(M16 m) { return _mm256_movemask_ps(_mm256_or_ps(m.a, m.b)) != 0; }
static inline V16 v_blend(M16 m, V16 f, V16 t) { return (V16){_mm256_blendv_ps(f.a, t.a, m.a), _mm256_blendv_ps(f.b, t.b, m.b)}; }
static inline V16 v_maskz(M16 m, V16 v) { return (V16){_mm256_and_ps(m.a, v.a), _mm256_and_ps(m.b, v.b)}; }
#undef V16_OP1
#undef V16_OP2
#undef V16_CMP
#include "kernels/x86/kquant_sym16_x86.h"

void mvq_kquant_init_avx2(mvq_kernel_table *t)
{
    fill_kquant_quantizers(t);
    /* the symmetric types: sub-blocks in lanes (kquant_sym16_x86.h) */
    t->from_float[MVQ_TYPE_Q3_K] = quantize_row_q3_K_lanes;
    t->from_float[MVQ_TYPE_Q6_K] = quantize_row_q6_K_lanes;
}
