/* AVX2 dot products of a weight row with its activation row: the 32-value
 * formats by Q8_0/Q8_1, and F16/BF16/F32 by F32.  The K-quants are in
 * dot_kquants_avx2.c.  Each loop covers whole steps of its unroll; the
 * leftover blocks go to the scalar reference through mvq_x86_dot_tail. */
#include "config.h"
#include "kernels/x86/simd_x86.h"

/* d * (integer dot of one block as 8 int32) added to acc */
static inline __m256 fma_block(float d, __m256i dot, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(dot), acc);
}

static void vec_dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q4_0 *x = vx;
    const mvq_block_q8_0 *y = vy;
    const int64_t nb = n / MVQ_QK4_0;
    const __m256i eight = _mm256_set1_epi8(8);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m256i q0 = _mm256_sub_epi8(nibbles_to_bytes_32(x[i].qs), eight);
        const __m256i q1 = _mm256_sub_epi8(nibbles_to_bytes_32(x[i + 1].qs), eight);
        acc0 = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d), dot_s8s8_256(q0, load_256(y[i].qs)), acc0);
        acc1 = fma_block(half_to_float(x[i + 1].d) * half_to_float(y[i + 1].d),
                         dot_s8s8_256(q1, load_256(y[i + 1].qs)), acc1);
    }
    *s = hsum_ps_256(_mm256_add_ps(acc0, acc1)) + mvq_x86_dot_tail(MVQ_TYPE_Q4_0, i, nb, vx, vy);
}

static void vec_dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q4_1 *x = vx;
    const mvq_block_q8_1 *y = vy;
    const int64_t nb = n / MVQ_QK4_1;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = nibbles_to_bytes_32(x[i].qs);
        acc = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d), dot_u8s8_256(q, load_256(y[i].qs)), acc);
        summs += half_to_float(x[i].m) * half_to_float(y[i].s);
    }
    *s = hsum_ps_256(acc) + summs;
}

static void vec_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q5_0 *x = vx;
    const mvq_block_q8_0 *y = vy;
    const int64_t nb = n / MVQ_QK5_0;
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_sub_epi8(q5_bytes_32(x[i].qs, x[i].qh), sixteen);
        acc = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d), dot_s8s8_256(q, load_256(y[i].qs)), acc);
    }
    *s = hsum_ps_256(acc);
}

static void vec_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q5_1 *x = vx;
    const mvq_block_q8_1 *y = vy;
    const int64_t nb = n / MVQ_QK5_1;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = q5_bytes_32(x[i].qs, x[i].qh);
        acc = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d), dot_u8s8_256(q, load_256(y[i].qs)), acc);
        summs += half_to_float(x[i].m) * half_to_float(y[i].s);
    }
    *s = hsum_ps_256(acc) + summs;
}

static void vec_dot_q8_0_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_q8_0 *x = vx;
    const mvq_block_q8_0 *y = vy;
    const int64_t nb = n / MVQ_QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d),
                         dot_s8s8_256(load_256(x[i].qs), load_256(y[i].qs)), acc0);
        acc1 = fma_block(half_to_float(x[i + 1].d) * half_to_float(y[i + 1].d),
                         dot_s8s8_256(load_256(x[i + 1].qs), load_256(y[i + 1].qs)), acc1);
    }
    *s = hsum_ps_256(_mm256_add_ps(acc0, acc1)) + mvq_x86_dot_tail(MVQ_TYPE_Q8_0, i, nb, vx, vy);
}

static void vec_dot_iq4_nl_q8_0_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const mvq_block_iq4_nl *x = vx;
    const mvq_block_q8_0 *y = vy;
    const int64_t nb = n / MVQ_QK4_NL;
    const __m256i levels = iq4nl_levels_256();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i q = _mm256_shuffle_epi8(levels, nibbles_to_bytes_32(x[i].qs));
        acc = fma_block(half_to_float(x[i].d) * half_to_float(y[i].d), dot_s8s8_256(q, load_256(y[i].qs)), acc);
    }
    *s = hsum_ps_256(acc);
}

/* ---- plain types by f32: 32 values a step, the rest by the reference ---- */

static inline __m256 load8_f16(const mvq_half *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load8_bf16(const mvq_bf16 *p)
{
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static inline __m256 load8_f32(const float *p)
{
    return _mm256_loadu_ps(p);
}

#define DEFINE_DOT_PLAIN(NAME, TYPE, ELEM, LOAD8)                                                \
    static void NAME(int64_t n, float *s, const void *vx, const void *vy)                        \
    {                                                                                            \
        const ELEM *x = vx;                                                                      \
        const float *y = vy;                                                                     \
        __m256 acc[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),        \
                          _mm256_setzero_ps() };                                                 \
        int64_t i = 0;                                                                           \
        for (; i + 32 <= n; i += 32)                                                             \
            for (int k = 0; k < 4; k++)                                                          \
                acc[k] = _mm256_fmadd_ps(LOAD8(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]); \
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])); \
        *s = hsum_ps_256(sum) + mvq_x86_dot_tail(TYPE, i, n, vx, vy);                            \
    }

DEFINE_DOT_PLAIN(vec_dot_f32_f32_avx2, MVQ_TYPE_F32, float, load8_f32)
DEFINE_DOT_PLAIN(vec_dot_f16_f32_avx2, MVQ_TYPE_F16, mvq_half, load8_f16)
DEFINE_DOT_PLAIN(vec_dot_bf16_f32_avx2, MVQ_TYPE_BF16, mvq_bf16, load8_bf16)

void mvq_dot_init_avx2(mvq_kernel_table *t)
{
    t->vec_dot[MVQ_TYPE_Q4_0] = vec_dot_q4_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_Q4_1] = vec_dot_q4_1_q8_1_avx2;
    t->vec_dot[MVQ_TYPE_Q5_0] = vec_dot_q5_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_Q5_1] = vec_dot_q5_1_q8_1_avx2;
    t->vec_dot[MVQ_TYPE_Q8_0] = vec_dot_q8_0_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_IQ4_NL] = vec_dot_iq4_nl_q8_0_avx2;
    t->vec_dot[MVQ_TYPE_F32] = vec_dot_f32_f32_avx2;
    t->vec_dot[MVQ_TYPE_F16] = vec_dot_f16_f32_avx2;
    t->vec_dot[MVQ_TYPE_BF16] = vec_dot_bf16_f32_avx2;
    mvq_dot_kquants_init_avx2(t);
}
