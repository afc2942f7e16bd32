/* AVX2 tiled quantized GEMM.  The 32-value formats by Q8_0: tiles of 2
 * weight rows x 2 tokens, each block unpacked once per tile.  Bit-identical
 * to dot_avx2.c: every (row, token) keeps vec_dot's two accumulators (even
 * and odd blocks) and sees the same float operations in the same order;
 * only the integer work (exact) and the loads are shared.  Only q4_0
 * gains (4096x4096, one thread, 32-512 tokens: 1.2-1.3x the per-pair
 * path); q8_0 measured 0.9-1.0x (its per-pair cost is the sign trick on
 * every pair, not the weights' unpacking) and keeps vec_dot per pair.
 * The K-quants by Q8_K: one row x KT tokens, each super-block unpacked
 * once (bytes and int16 scales to the stack) and dotted with every token as
 * dot_kquants_avx2.c does (the same integer sums, then the same two fmas):
 * 1.2-1.4x the per-pair path at 32-512 tokens (q4_K, q6_K; 8 tokens beat
 * 4 (1.1-1.2x) and 2 (0.95x)). */
#include "config.h"
#include "kernels/x86/kscales_avx2.h"

enum { AR = 2, AT = 2 };

MVQ_INLINE __m256i s_q4_0(const mvq_block_q4_0 *b)
{
    return _mm256_sub_epi8(nibbles_to_bytes_32(b->qs), _mm256_set1_epi8(8));
}

#define DEFINE_GEMM_PAIRS_AVX2(NAME, TYPE, XB, UNPACK)                                                       \
    MVQ_INLINE void NAME##_tile(const int R, const int T, int64_t nb, const char *w, size_t w_row,            \
                                const char *a, size_t a_row, float *y, int64_t ldy)                          \
    {                                                                                                        \
        __m256 acc[AR][AT][2];                                                                               \
        _Pragma("GCC unroll 2") for (int r = 0; r < R; r++)                                                  \
            _Pragma("GCC unroll 2") for (int t = 0; t < T; t++)                                              \
                acc[r][t][0] = acc[r][t][1] = _mm256_setzero_ps();                                           \
        int64_t i = 0;                                                                                       \
        for (; i + 2 <= nb; i += 2) {                                                                        \
            _Pragma("GCC unroll 2") for (int r = 0; r < R; r++) {                                            \
                const XB *xb = (const XB *)(w + (size_t)r * w_row) + i;                                      \
                const __m256i x0 = UNPACK(&xb[0]), x1 = UNPACK(&xb[1]);                                      \
                const __m256i ax0 = _mm256_sign_epi8(x0, x0), ax1 = _mm256_sign_epi8(x1, x1);                \
                const float xd0 = half_to_float(xb[0].d), xd1 = half_to_float(xb[1].d);                      \
                _Pragma("GCC unroll 2") for (int t = 0; t < T; t++) {                                        \
                    const mvq_block_q8_0 *yb = (const mvq_block_q8_0 *)(a + (size_t)t * a_row) + i;          \
                    const __m256i p0 = dot_u8s8_256(ax0, _mm256_sign_epi8(load_256(yb[0].qs), x0));          \
                    const __m256i p1 = dot_u8s8_256(ax1, _mm256_sign_epi8(load_256(yb[1].qs), x1));          \
                    acc[r][t][0] = _mm256_fmadd_ps(_mm256_set1_ps(xd0 * half_to_float(yb[0].d)),             \
                                                   _mm256_cvtepi32_ps(p0), acc[r][t][0]);                    \
                    acc[r][t][1] = _mm256_fmadd_ps(_mm256_set1_ps(xd1 * half_to_float(yb[1].d)),             \
                                                   _mm256_cvtepi32_ps(p1), acc[r][t][1]);                    \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("GCC unroll 2") for (int r = 0; r < R; r++)                                                  \
            _Pragma("GCC unroll 2") for (int t = 0; t < T; t++) {                                            \
                const float summs = 0.0f; /* vec_dot's sum of the (absent) min terms */                     \
                y[t * ldy + r] = hsum_ps_256(_mm256_add_ps(acc[r][t][0], acc[r][t][1])) + summs +            \
                                 mvq_x86_dot_tail(TYPE, i, nb, w + (size_t)r * w_row, a + (size_t)t * a_row); \
            }                                                                                                \
    }                                                                                                        \
    DEFINE_GEMM_32_TILES(NAME, AR, AT)

DEFINE_GEMM_PAIRS_AVX2(gemm_q4_0_q8_0_avx2, MVQ_TYPE_Q4_0, mvq_block_q4_0, s_q4_0)

/* ---- K-quants by Q8_K ---- */

enum { KT = 8 };

/* One super-block, unpacked: group g's 32 unsigned values u[g] and their
 * int16 scales s[g], the coefficients of the bsums, and the float scales. */
typedef struct {
    __m256i u[8], s[8];
    __m256i c16; /* per run of 16: the min (q2/q4/q5_K) or the scale (q3/q6_K) */
    float d, dmin;
} kblock;

MVQ_INLINE void prep_q2_K(const mvq_block_q2_K *x, kblock *k)
{
    const __m128i packed = _mm_loadu_si128((const __m128i *)x->scales);
    const scales16 sc = widen_scales(_mm_and_si128(packed, _mm_set1_epi8(0x0F)), 0);
    k->c16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
    _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
        k->u[g] = crumb_256(load_256(x->qs + 32 * (g / 4)), g % 4);
        k->s[g] = pick_scales(&sc, 2 * g, 2 * g + 1);
    }
    k->d = half_to_float(x->d);
    k->dmin = half_to_float(x->dmin);
}

MVQ_INLINE void prep_q3_K(const mvq_block_q3_K *x, kblock *k)
{
    const scales16 sc = widen_scales(q3_K_scales(x->scales), 1);
    const __m256i hm = load_256(x->hmask);
    k->c16 = sc.w;
    _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++) {
        k->u[g] = _mm256_or_si256(crumb_256(load_256(x->qs + 32 * (g / 4)), g % 4), bit_to_256(hm, g, 2));
        k->s[g] = pick_scales(&sc, 2 * g, 2 * g + 1);
    }
    k->d = half_to_float(x->d);
}

MVQ_INLINE void prep_q45_K(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, kblock *k)
{
    const scales16 sc = widen_scales(k4_scales_mins(packed), 0);
    const __m256i hb = qh ? load_256(qh) : _mm256_setzero_si256();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    k->c16 = q45_K_bsum_mins(&sc);
    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
        const __m256i q = load_256(qs + 32 * j);
        k->u[2 * j] = _mm256_and_si256(q, m4);
        k->u[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if (qh) {
            k->u[2 * j] = _mm256_or_si256(k->u[2 * j], bit_to_256(hb, 2 * j, 4));
            k->u[2 * j + 1] = _mm256_or_si256(k->u[2 * j + 1], bit_to_256(hb, 2 * j + 1, 4));
        }
        k->s[2 * j] = pick_scales(&sc, 2 * j, 2 * j);
        k->s[2 * j + 1] = pick_scales(&sc, 2 * j + 1, 2 * j + 1);
    }
}

MVQ_INLINE void prep_q4_K(const mvq_block_q4_K *x, kblock *k)
{
    prep_q45_K(x->scales, x->qs, NULL, k);
    k->d = half_to_float(x->d);
    k->dmin = half_to_float(x->dmin);
}

MVQ_INLINE void prep_q5_K(const mvq_block_q5_K *x, kblock *k)
{
    prep_q45_K(x->scales, x->qs, x->qh, k);
    k->d = half_to_float(x->d);
    k->dmin = half_to_float(x->dmin);
}

MVQ_INLINE void prep_q6_K(const mvq_block_q6_K *x, kblock *k)
{
    const scales16 sc = widen_scales(_mm_loadu_si128((const __m128i *)x->scales), 1);
    k->c16 = sc.w;
    q6_K_bytes(x, 0, k->u);
    q6_K_bytes(x, 1, k->u + 4);
    _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++)
        k->s[g] = pick_scales(&sc, 2 * g, 2 * g + 1);
    k->d = half_to_float(x->d);
}

MVQ_INLINE __m256i kblock_dot(const kblock *k, const int8_t *q8)
{
    __m256i sum = _mm256_setzero_si256();
    _Pragma("GCC unroll 8") for (int g = 0; g < 8; g++)
        sum = _mm256_add_epi32(sum, group_dot(k->u[g], q8 + 32 * g, k->s[g]));
    return sum;
}

/* One token's share of a super-block, as that type's vec_dot: MIN types
 * two fmas (scales, then -d_y * dmin * mins . bsums); offset types
 * (u = q + 2^SHIFT) subtract the offset's integer sum first. */
#define STEP_MIN                                                                                      \
    do {                                                                                              \
        acc[t] = fma_int(yb->d * k.d, kblock_dot(&k, yb->qs), acc[t]);                                \
        acc[t] = fma_int(-yb->d * k.dmin, bsums_dot(yb->bsums, k.c16), acc[t]);                       \
    } while (0)
#define STEP_OFFSET(SHIFT)                                                                            \
    do {                                                                                              \
        const __m256i sum =                                                                           \
            _mm256_sub_epi32(kblock_dot(&k, yb->qs), _mm256_slli_epi32(bsums_dot(yb->bsums, k.c16), SHIFT)); \
        acc[t] = fma_int(yb->d * k.d, sum, acc[t]);                                                   \
    } while (0)

#define DEFINE_GEMM_K_AVX2(NAME, XB, PREP, STEP)                                                             \
    MVQ_INLINE void NAME##_tile(const int R, const int T, int64_t nb, const char *w, size_t w_row,            \
                                const char *a, size_t a_row, float *y, int64_t ldy)                          \
    {                                                                                                        \
        (void)R, (void)w_row; /* one row per tile */                                                         \
        const XB *x = (const XB *)w;                                                                         \
        __m256 acc[KT];                                                                                      \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                  \
            acc[t] = _mm256_setzero_ps();                                                                    \
        for (int64_t i = 0; i < nb; i++) {                                                                   \
            kblock k;                                                                                        \
            PREP(&x[i], &k);                                                                                 \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                            \
                const mvq_block_q8_K *yb = (const mvq_block_q8_K *)(a + (size_t)t * a_row) + i;              \
                STEP;                                                                                        \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                  \
            y[t * ldy] = hsum_ps_256(acc[t]);                                                                \
    }                                                                                                        \
    DEFINE_GEMM_TILES(NAME, MVQ_QK_K, 1, KT)

DEFINE_GEMM_K_AVX2(gemm_q2_K_q8_K_avx2, mvq_block_q2_K, prep_q2_K, STEP_MIN)
DEFINE_GEMM_K_AVX2(gemm_q3_K_q8_K_avx2, mvq_block_q3_K, prep_q3_K, STEP_OFFSET(2))
DEFINE_GEMM_K_AVX2(gemm_q4_K_q8_K_avx2, mvq_block_q4_K, prep_q4_K, STEP_MIN)
DEFINE_GEMM_K_AVX2(gemm_q5_K_q8_K_avx2, mvq_block_q5_K, prep_q5_K, STEP_MIN)
DEFINE_GEMM_K_AVX2(gemm_q6_K_q8_K_avx2, mvq_block_q6_K, prep_q6_K, STEP_OFFSET(5))

void mvq_gemm_q_init_avx2(mvq_kernel_table *t)
{
    t->gemm_q[MVQ_TYPE_Q4_0] = gemm_q4_0_q8_0_avx2;
    t->gemm_q[MVQ_TYPE_Q2_K] = gemm_q2_K_q8_K_avx2;
    t->gemm_q[MVQ_TYPE_Q3_K] = gemm_q3_K_q8_K_avx2;
    t->gemm_q[MVQ_TYPE_Q4_K] = gemm_q4_K_q8_K_avx2;
    t->gemm_q[MVQ_TYPE_Q5_K] = gemm_q5_K_q8_K_avx2;
    t->gemm_q[MVQ_TYPE_Q6_K] = gemm_q6_K_q8_K_avx2;
}
