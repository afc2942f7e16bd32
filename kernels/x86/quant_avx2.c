/* AVX2 weight quantizers of the legacy types, IQ4_NL and IQ4_XS: the
 * reference search (kernels/ref_search.c) with its candidates evaluated
 * eight to a vector, and eight blocks searched in lanes
 * (kernels/search_lanes*_simd.h), bit-exact with the scalar reference. */
#include "config.h"
#include "kernels/search_eval.h"
#include "kernels/x86/simd_x86.h"

typedef __m256 vf;
#define VF_LANES 8

static inline vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline vf vf_loadu(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_storeu(float *p, vf a) { _mm256_storeu_ps(p, a); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }

static inline vf vf_round_even(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline vf vf_inverse(vf d)
{
    const vf id = _mm256_div_ps(_mm256_set1_ps(1.0f), d);
    const vf mag = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), id);
    return _mm256_and_ps(_mm256_cmp_ps(mag, _mm256_set1_ps(INFINITY), _CMP_LT_OQ), id);
}

/* IQ4_NL: the nearest of sixteen table levels, as mvq_table_code: the
 * number of midpoints at or below t (a midpoint of two int8 levels is a
 * multiple of 1/2, so t >= mid exactly when floor(2t) >= 2 mid), found by
 * a binary search of four steps, each a compare against midpoints picked
 * in registers (blend, then permutes of eight), not a gather.  NaN
 * compares false everywhere: code 0, the first level. */
typedef struct {
    __m256 mid7, mid3, mid11;
    __m256 mid_odd;  /* mid[2h + 1] at h: step 3's, indexed by code / 2 */
    __m256 mid_even; /* mid[2h] at h: step 4's */
    __m256 level_lo, level_hi;
} vf_table;

static inline void vf_table_init(vf_table *tab, const mvq_levels *lv)
{
    float odd[8], even[8];
    for (int h = 0; h < 8; h++) {
        odd[h] = h < 7 ? lv->mid[2 * h + 1] : INFINITY;
        even[h] = lv->mid[2 * h];
    }
    tab->mid7 = _mm256_set1_ps(lv->mid[7]);
    tab->mid3 = _mm256_set1_ps(lv->mid[3]);
    tab->mid11 = _mm256_set1_ps(lv->mid[11]);
    tab->mid_odd = _mm256_loadu_ps(odd);
    tab->mid_even = _mm256_loadu_ps(even);
    tab->level_lo = _mm256_loadu_ps(lv->level);
    tab->level_hi = _mm256_loadu_ps(lv->level + 8);
}

static inline __m256i vf_table_index(const vf_table *tab, vf t)
{
    const __m256 ge8 = _mm256_cmp_ps(t, tab->mid7, _CMP_GE_OQ);
    __m256i c = _mm256_and_si256(_mm256_castps_si256(ge8), _mm256_set1_epi32(8));
    const __m256 ge4 = _mm256_cmp_ps(t, _mm256_blendv_ps(tab->mid3, tab->mid11, ge8), _CMP_GE_OQ);
    c = _mm256_add_epi32(c, _mm256_and_si256(_mm256_castps_si256(ge4), _mm256_set1_epi32(4)));
    const __m256 m2 = _mm256_permutevar8x32_ps(tab->mid_odd, _mm256_srli_epi32(c, 1));
    const __m256 ge2 = _mm256_cmp_ps(t, m2, _CMP_GE_OQ);
    c = _mm256_add_epi32(c, _mm256_and_si256(_mm256_castps_si256(ge2), _mm256_set1_epi32(2)));
    const __m256 m1 = _mm256_permutevar8x32_ps(tab->mid_even, _mm256_srli_epi32(c, 1));
    const __m256 ge1 = _mm256_cmp_ps(t, m1, _CMP_GE_OQ);
    return _mm256_add_epi32(c, _mm256_and_si256(_mm256_castps_si256(ge1), _mm256_set1_epi32(1)));
}

static inline vf vf_table_level(const vf_table *tab, vf t)
{
    const __m256i c = vf_table_index(tab, t);
    const __m256 lo = _mm256_permutevar8x32_ps(tab->level_lo, c);
    const __m256 hi = _mm256_permutevar8x32_ps(tab->level_hi, c);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
}

/* the code as a float (vf_store_codes writes it) */
static inline vf vf_table_code(const vf_table *tab, vf t)
{
    return _mm256_cvtepi32_ps(vf_table_index(tab, t));
}

/* the masks (all-ones lanes) and bit operations of search_lanes_simd.h */
typedef __m256 vm;

static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline vm vm_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vm vm_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vm vm_le(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline vm vm_ne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
static inline vm vm_and(vm a, vm b) { return _mm256_and_ps(a, b); }
static inline vm vm_or(vm a, vm b) { return _mm256_or_ps(a, b); }
static inline vm vm_andnot(vm a, vm b) { return _mm256_andnot_ps(a, b); }
static inline vm vm_ones(void) { return _mm256_castsi256_ps(_mm256_set1_epi32(-1)); }
static inline vm vm_none(void) { return _mm256_setzero_ps(); }
static inline int vm_any(vm m) { return _mm256_movemask_ps(m) != 0; }
static inline vf vf_select(vm m, vf t, vf f) { return _mm256_blendv_ps(f, t, m); }

static inline vf vf_bits_add(vf a, int k)
{
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), _mm256_set1_epi32(k)));
}

static inline vf vf_with_sign(vf m, vf s)
{
    return _mm256_or_ps(m, _mm256_and_ps(s, _mm256_set1_ps(-0.0f)));
}

/* 8 x 8: pairs of rows interleaved by 32 then 64 bits, then halves swapped */
static inline void vf_transpose(vf r[8])
{
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    __m256 u[8];
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

static inline void vf_store_codes(uint8_t *p, vf c)
{
    const __m256i i = _mm256_cvttps_epi32(c);
    const __m128i h = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(h, h));
}

/* mvq_round_fp16 lane by lane (NaN passes the clamp as in the scalar code) */
static inline vf vf_round_fp16(vf f)
{
    f = _mm256_max_ps(_mm256_set1_ps(-65504.0f), _mm256_min_ps(_mm256_set1_ps(65504.0f), f));
    const __m256i u = _mm256_castps_si256(f);
    const __m256i sign = _mm256_and_si256(u, _mm256_set1_epi32(INT32_MIN));
    const __m256i mag = _mm256_xor_si256(u, sign);
    const __m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x38800000), mag);
    vf m = _mm256_castsi256_ps(mag);
    m = _mm256_sub_ps(_mm256_add_ps(m, _mm256_set1_ps(0.5f)), _mm256_set1_ps(0.5f));
    const __m256i us = _mm256_or_si256(_mm256_castps_si256(m), sign);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 13), _mm256_set1_epi32(1));
    const __m256i ub = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0xFFF)), odd),
                                        _mm256_set1_epi32(~0x1FFF));
    return _mm256_castsi256_ps(_mm256_blendv_epi8(ub, us, small));
}

#define VF_SYM_BLOCKS lanes_search_symmetric
#define VF_AFF_BLOCKS lanes_search_affine
#include "kernels/search_eval_simd.h"
#include "kernels/search_lanes_simd.h"
#include "kernels/search_lanes_affine_simd.h"

const mvq_search_evals mvq_search_evals_avx2 = {.sym = sym_eval_simd,
                                                .aff = aff_eval_simd,
                                                .sym_blocks = lanes_search_symmetric,
                                                .aff_blocks = lanes_search_affine,
                                                .blocks_load = lanes_blocks_load,
                                                .blocks_sym = lanes_blocks_sym,
                                                .blocks_lanes = VF_LANES};

void mvq_quant_init_avx2(mvq_kernel_table *t)
{
    fill_legacy_quantizers(t);
}
