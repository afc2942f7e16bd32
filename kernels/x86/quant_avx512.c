/* AVX-512 weight quantizers of the legacy types and IQ4_NL: the reference
 * search (kernels/ref_search.c) with its candidates evaluated sixteen to a
 * vector, bit-exact with the scalar reference.  Also built over SIMDe. */
#include "config.h"
#include "kernels/search_eval.h"
#include "kernels/x86/simd_avx512.h"

typedef __m512 vf;
#define VF_LANES 16

static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline vf vf_loadu(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_storeu(float *p, vf a) { _mm512_storeu_ps(p, a); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }

static inline vf vf_round_even(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT);
}

static inline vf vf_inverse(vf d)
{
    const vf id = _mm512_div_ps(_mm512_set1_ps(1.0f), d);
    const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(id), _mm512_set1_ps(INFINITY), _CMP_LT_OQ);
    return _mm512_maskz_mov_ps(finite, id);
}

/* IQ4_NL: the level of t looked up by floor(2t), as mvq_table_code
 * (max_ps gives its second operand for NaN: the lowest bucket). */
typedef struct {
    const float *bucket_level;
} vf_table;

static inline void vf_table_init(vf_table *tab, const mvq_levels *lv)
{
    tab->bucket_level = lv->bucket_level;
}

static inline vf vf_table_level(const vf_table *tab, vf t)
{
    const vf r = _mm512_set1_ps((float)(MVQ_BUCKET_HALF / 2));
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_sub_ps(_mm512_setzero_ps(), r)), r);
    const vf t2 = _mm512_roundscale_ps(_mm512_add_ps(t, t), _MM_FROUND_TO_NEG_INF);
    const __m512i i = _mm512_add_epi32(_mm512_cvttps_epi32(t2), _mm512_set1_epi32(MVQ_BUCKET_HALF));
    return _mm512_i32gather_ps(i, tab->bucket_level, 4);
}

#include "kernels/search_eval_simd.h"

const mvq_search_evals MVQ_X86_FN(mvq_search_evals_avx512) = {sym_eval_simd, aff_eval_simd};

void MVQ_X86_FN(mvq_quant_init_avx512)(mvq_kernel_table *t)
{
    fill_legacy_quantizers(t);
}
