/* AVX-512 weight quantizers of the legacy types, IQ4_NL and IQ4_XS: the
 * reference search (kernels/ref_search.c) with its candidates evaluated
 * sixteen to a vector, and sixteen blocks searched in lanes
 * (kernels/search_lanes*_simd.h), bit-exact with the scalar reference.
 * Also built over SIMDe. */
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

/* IQ4_NL: the nearest of sixteen table levels, as mvq_table_code: the
 * number of midpoints at or below t (a midpoint of two int8 levels is a
 * multiple of 1/2, so t >= mid exactly when floor(2t) >= 2 mid), found by
 * a binary search of four in-register lookups (permutes, not gathers).
 * NaN compares false everywhere: code 0, the first level. */
typedef struct {
    __m512 mid;   /* the 15 midpoints, then +inf */
    __m512 level; /* the 16 levels */
} vf_table;

static inline void vf_table_init(vf_table *tab, const mvq_levels *lv)
{
    float mid[16];
    for (int k = 0; k < 15; k++)
        mid[k] = lv->mid[k];
    mid[15] = INFINITY;
    tab->mid = _mm512_loadu_ps(mid);
    tab->level = _mm512_loadu_ps(lv->level);
}

static inline __m512i vf_table_index(const vf_table *tab, vf t)
{
    __m512i c = _mm512_setzero_si512();
    for (int step = 8; step >= 1; step /= 2) {
        const vf m = _mm512_permutexvar_ps(_mm512_add_epi32(c, _mm512_set1_epi32(step - 1)), tab->mid);
        c = _mm512_mask_add_epi32(c, _mm512_cmp_ps_mask(t, m, _CMP_GE_OQ), c, _mm512_set1_epi32(step));
    }
    return c;
}

static inline vf vf_table_level(const vf_table *tab, vf t)
{
    return _mm512_permutexvar_ps(vf_table_index(tab, t), tab->level);
}

/* the code as a float (vf_store_codes writes it) */
static inline vf vf_table_code(const vf_table *tab, vf t)
{
    return _mm512_cvtepi32_ps(vf_table_index(tab, t));
}

/* the masks and bit operations of search_lanes_simd.h (F only, no DQ) */
typedef __mmask16 vm;

static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm512_abs_ps(a); }
static inline vm vm_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vm vm_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vm vm_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
static inline vm vm_ne(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
static inline vm vm_and(vm a, vm b) { return (vm)(a & b); }
static inline vm vm_or(vm a, vm b) { return (vm)(a | b); }
static inline vm vm_andnot(vm a, vm b) { return (vm)(~a & b); }
static inline vm vm_ones(void) { return (vm)0xFFFF; }
static inline vm vm_none(void) { return (vm)0; }
static inline int vm_any(vm m) { return m != 0; }
static inline vf vf_select(vm m, vf t, vf f) { return _mm512_mask_blend_ps(m, f, t); }

static inline vf vf_bits_add(vf a, int k)
{
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_set1_epi32(k)));
}

static inline vf vf_with_sign(vf m, vf s)
{
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32(INT32_MIN));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(m), sign));
}

/* quarters of a and b picked by imm (shuffle_i32x4: SIMDe has no f32x4) */
#define QUARTERS(a, b, imm) \
    _mm512_castsi512_ps(_mm512_shuffle_i32x4(_mm512_castps_si512(a), _mm512_castps_si512(b), imm))

/* 16 x 16: pairs of rows interleaved by 32 then 64 bits, then 128-bit
 * quarters recombined twice */
static inline void vf_transpose(vf r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* r[4q + k]: quarter s of it holds rows 4q..4q+3 of column 4s + k */
    for (int k = 0; k < 4; k++) {
        t[k] = QUARTERS(r[k], r[4 + k], 0x88);
        t[4 + k] = QUARTERS(r[k], r[4 + k], 0xDD);
        t[8 + k] = QUARTERS(r[8 + k], r[12 + k], 0x88);
        t[12 + k] = QUARTERS(r[8 + k], r[12 + k], 0xDD);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = QUARTERS(t[k], t[8 + k], 0x88);
        r[8 + k] = QUARTERS(t[k], t[8 + k], 0xDD);
        r[4 + k] = QUARTERS(t[4 + k], t[12 + k], 0x88);
        r[12 + k] = QUARTERS(t[4 + k], t[12 + k], 0xDD);
    }
}

static inline void vf_store_codes(uint8_t *p, vf c)
{
    _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(c)));
}

/* mvq_round_fp16 lane by lane (min/max return their second operand for
 * NaN, so NaN passes the clamp as in the scalar code). */
static inline vf vf_round_fp16(vf f)
{
    f = _mm512_max_ps(_mm512_set1_ps(-65504.0f), _mm512_min_ps(_mm512_set1_ps(65504.0f), f));
    const __m512i u = _mm512_castps_si512(f);
    const __m512i sign = _mm512_and_si512(u, _mm512_set1_epi32(INT32_MIN));
    const __m512i mag = _mm512_xor_si512(u, sign);
    const __mmask16 small = _mm512_cmpgt_epi32_mask(_mm512_set1_epi32(0x38800000), mag);
    vf m = _mm512_castsi512_ps(mag);
    m = _mm512_sub_ps(_mm512_add_ps(m, _mm512_set1_ps(0.5f)), _mm512_set1_ps(0.5f));
    const __m512i us = _mm512_or_si512(_mm512_castps_si512(m), sign);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 13), _mm512_set1_epi32(1));
    const __m512i ub = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0xFFF)), odd),
                                        _mm512_set1_epi32(~0x1FFF));
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(small, ub, us));
}

#define VF_SYM_BLOCKS lanes_search_symmetric
#define VF_AFF_BLOCKS lanes_search_affine
#include "kernels/search_eval_simd.h"
#include "kernels/search_lanes_simd.h"
#include "kernels/search_lanes_affine_simd.h"

const mvq_search_evals MVQ_X86_FN(mvq_search_evals_avx512) = {.sym = sym_eval_simd,
                                                              .aff = aff_eval_simd,
                                                              .sym_blocks = lanes_search_symmetric,
                                                              .aff_blocks = lanes_search_affine,
                                                              .blocks_load = lanes_blocks_load,
                                                              .blocks_sym = lanes_blocks_sym,
                                                              .blocks_lanes = VF_LANES};

void MVQ_X86_FN(mvq_quant_init_avx512)(mvq_kernel_table *t)
{
    fill_legacy_quantizers(t);
}
