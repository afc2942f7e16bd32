/* AVX-512 (VNNI) tiled quantized GEMM: tiles of weight rows x tokens, each
 * weight block unpacked once per tile and dotted with every token's block.
 *
 * Bit-identical to dot_avx512.c / dot_kquants_avx512.c: every (row, token)
 * keeps its own accumulator and sees the same float operations in the same
 * order as that pair's vec_dot (products of exactly converted scales, one
 * fma per step, the same final reduction and tail); only integer work
 * (exact) and the loads are shared.  The legacy offset term off * sum(y)
 * is folded into the multiply-add's start value, which is exact too. */
#include "config.h"
#include "kernels/x86/simd_avx512.h"

/* ---- 32-value formats by Q8_0: R rows x T tokens, two blocks a step ---- */

#ifndef LR
#define LR 4
#endif
#ifndef LT
#define LT 4
#endif

/* a in the low 8 lanes, b in the high 8 */
MVQ_INLINE __m512 halves_ps(float a, float b)
{
    return _mm512_mask_blend_ps((__mmask16)0xFF00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

MVQ_INLINE __m256i u_q4_0(const mvq_block_q4_0 *b) { return nibbles_to_bytes_32(b->qs); }
MVQ_INLINE __m256i u_q8_0(const mvq_block_q8_0 *b)
{
    return _mm256_xor_si256(load_256(b->qs), _mm256_set1_epi8((char)0x80));
}

#define DEFINE_GEMM_PAIRS(NAME, TYPE, XB, UNPACK, OFF)                                                       \
    MVQ_INLINE void NAME##_tile(const int R, const int T, int64_t nb, const char *w, size_t w_row,            \
                                const char *a, size_t a_row, float *y, int64_t ldy)                          \
    {                                                                                                        \
        __m512 acc[LR][LT];                                                                                  \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                                                          \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                                      \
                acc[r][t] = _mm512_setzero_ps();                                                             \
        int64_t i = 0;                                                                                       \
        for (; i + 2 <= nb; i += 2) {                                                                        \
            __m512i q8[LT], start[LT];                                                                       \
            __m512 yd[LT];                                                                                   \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                                                    \
                const mvq_block_q8_0 *yb = (const mvq_block_q8_0 *)(a + (size_t)t * a_row) + i;              \
                q8[t] = join_256(load_256(yb[0].qs), load_256(yb[1].qs));                                    \
                start[t] = _mm512_sub_epi32(                                                                 \
                    _mm512_setzero_si512(),                                                                  \
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)(OFF)), q8[t]));      \
                yd[t] = halves_ps(half_to_float(yb[0].d), half_to_float(yb[1].d));                           \
            }                                                                                                \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) {                                                                    \
                const XB *xb = (const XB *)(w + (size_t)r * w_row) + i;                                      \
                const __m512i u = join_256(UNPACK(&xb[0]), UNPACK(&xb[1]));                                  \
                const __m512 xd = halves_ps(half_to_float(xb[0].d), half_to_float(xb[1].d));                 \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                                  \
                    acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(xd, yd[t]),                                    \
                                                _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start[t], u, q8[t])), \
                                                acc[r][t]);                                                  \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                                                          \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                                                    \
                const float summs = 0.0f; /* vec_dot's sum of the (absent) min terms */                     \
                y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]) + summs +                                   \
                                 mvq_x86_dot_tail(TYPE, i, nb, w + (size_t)r * w_row, a + (size_t)t * a_row); \
            }                                                                                                \
    }                                                                                                        \
    DEFINE_GEMM_32_TILES(NAME, LR, LT)

DEFINE_GEMM_PAIRS(gemm_q4_0_q8_0_avx512, MVQ_TYPE_Q4_0, mvq_block_q4_0, u_q4_0, 8)
DEFINE_GEMM_PAIRS(gemm_q8_0_q8_0_avx512, MVQ_TYPE_Q8_0, mvq_block_q8_0, u_q8_0, 128)

/* ---- K-quants by Q8_K: one row x T tokens per super-block ---- */

#ifndef KT
#define KT 8
#endif

/* One super-block of weights, unpacked: 4 vectors of 64 unsigned values
 * (run r of vector v scaled by s[v]'s lane r), the bsums' coefficients, and
 * the float scales. */
typedef struct {
    __m512i u[4], s[4];
    __m256i c16;  /* per run of 16: the min (q2/q4/q5_K) or the scale (q3/q6_K) */
    float d, dmin;
} kblock;

/* superblock_dot's scale vectors from 16 signed byte scales */
MVQ_INLINE void run_scales(__m128i sc, __m512i s[4])
{
    const __m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc));
    const __m512i lane = _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002,
                                          0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0);
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
        s[v] = _mm512_permutexvar_epi16(_mm512_add_epi16(lane, _mm512_set1_epi16((short)(4 * v))), sc16);
}

MVQ_INLINE __m256i kblock_dot(const kblock *k, const int8_t *q8)
{
    __m512i acc = _mm512_setzero_si512();
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(k->u[v], load_512(q8 + 64 * v)), k->s[v]);
    return add_halves_epi32(acc);
}

MVQ_INLINE void prep_q2_K(const mvq_block_q2_K *x, kblock *k)
{
    const __m128i packed = _mm_loadu_si128((const __m128i *)x->scales);
    run_scales(_mm_and_si128(packed, _mm_set1_epi8(0x0F)), k->s);
    k->c16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
        k->u[v] = crumbs_512(x->qs + 32 * (v / 2), 2 * (v % 2), 2 * (v % 2) + 1);
    k->d = half_to_float(x->d);
    k->dmin = half_to_float(x->dmin);
}

MVQ_INLINE void prep_q3_K(const mvq_block_q3_K *x, kblock *k)
{
    const __m128i sc = q3_K_scales(x->scales);
    run_scales(sc, k->s);
    k->c16 = _mm256_cvtepi8_epi16(sc);
    const __m512i hm = broadcast_256(x->hmask);
    _Pragma("GCC unroll 4") for (int v = 0; v < 4; v++)
        k->u[v] = add_high_bit(crumbs_512(x->qs + 32 * (v / 2), 2 * (v % 2), 2 * (v % 2) + 1), hm, 2 * v,
                               2 * v + 1, 4);
    k->d = half_to_float(x->d);
}

MVQ_INLINE void prep_q45_K(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, kblock *k)
{
    const __m128i sm = k4_scales_mins(packed);
    run_scales(_mm_unpacklo_epi8(sm, sm), k->s);
    k->c16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
    const __m512i hb = qh ? broadcast_256(qh) : _mm512_setzero_si512();
    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
        k->u[j] = _mm512_and_si512(_mm512_srlv_epi16(broadcast_256(qs + 32 * j), halves_epi16(0, 4)),
                                   _mm512_set1_epi8(0x0F));
        if (qh)
            k->u[j] = add_high_bit(k->u[j], hb, 2 * j, 2 * j + 1, 16);
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
    const __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    run_scales(sc, k->s);
    k->c16 = _mm256_cvtepi8_epi16(sc);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(0x30);
    _Pragma("GCC unroll 4") for (int h = 0; h < 2; h++) {
        const __m512i ql = load_512(x->ql + 64 * h);
        const __m512i qh = broadcast_256(x->qh + 32 * h);
        k->u[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                      _mm512_and_si512(_mm512_sllv_epi16(qh, halves_epi16(4, 2)), m2));
        k->u[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_and_si512(_mm512_srlv_epi16(qh, halves_epi16(0, 2)), m2));
    }
    k->d = half_to_float(x->d);
}

/* One token's share of a super-block, as that type's vec_dot does it:
 * MIN types two fmas (scales, then -d_y * dmin * mins . bsums); offset
 * types (u = q + 2^SHIFT) subtract the offset's integer sum first. */
#define STEP_MIN(k, yb, acc)                                                                          \
    do {                                                                                              \
        acc = fma_int((yb)->d * (k).d, kblock_dot(&(k), (yb)->qs), acc);                              \
        acc = fma_int(-(yb)->d * (k).dmin, _mm256_madd_epi16(load_256((yb)->bsums), (k).c16), acc);   \
    } while (0)
#define STEP_OFFSET(SHIFT)                                                                            \
    do {                                                                                              \
        const __m256i sum = _mm256_sub_epi32(                                                         \
            kblock_dot(&k, yb->qs), _mm256_slli_epi32(_mm256_madd_epi16(load_256(yb->bsums), k.c16), SHIFT)); \
        acc[t] = fma_int(yb->d * k.d, sum, acc[t]);                                                   \
    } while (0)
#define STEP_Q2_K STEP_MIN(k, yb, acc[t])
#define STEP_Q4_K STEP_MIN(k, yb, acc[t])
#define STEP_Q5_K STEP_MIN(k, yb, acc[t])
#define STEP_Q3_K STEP_OFFSET(2)
#define STEP_Q6_K STEP_OFFSET(5)

#define DEFINE_GEMM_K(NAME, XB, PREP, STEP)                                                                   \
    MVQ_INLINE void NAME##_tile(const int T, int64_t nb, const XB *x, const char *a, size_t a_row, float *y,   \
                                int64_t ldy)                                                                 \
    {                                                                                                        \
        __m256 acc[KT];                                                                                      \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                                          \
            acc[t] = _mm256_setzero_ps();                                                                    \
        for (int64_t i = 0; i < nb; i++) {                                                                   \
            kblock k;                                                                                        \
            PREP(&x[i], &k);                                                                                 \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                                                    \
                const mvq_block_q8_K *yb = (const mvq_block_q8_K *)(a + (size_t)t * a_row) + i;              \
                STEP;                                                                                        \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                                                          \
            y[t * ldy] = hsum_ps_256(acc[t]);                                                                \
    }                                                                                                        \
    static void NAME(int64_t n, int64_t n_rows, int64_t n_tok, const void *vw, size_t w_row, const void *va, \
                     size_t a_row, float *y, int64_t ldy)                                                    \
    {                                                                                                        \
        const char *w = vw, *a = va;                                                                         \
        const int64_t nb = n / MVQ_QK_K;                                                                     \
        int64_t t = 0;                                                                                       \
        for (; t + KT <= n_tok; t += KT)                                                                     \
            for (int64_t r = 0; r < n_rows; r++)                                                             \
                NAME##_tile(KT, nb, (const XB *)(w + r * w_row), a + t * a_row, a_row, y + t * ldy + r, ldy); \
        const int64_t left = n_tok - t;                                                                      \
        for (int64_t r = 0; r < n_rows && left > 0; r++) {                                                   \
            const XB *x = (const XB *)(w + r * w_row);                                                       \
            int64_t u = t;                                                                                   \
            if (left & 4)                                                                                    \
                NAME##_tile(4, nb, x, a + u * a_row, a_row, y + u * ldy + r, ldy), u += 4;                   \
            if (left & 2)                                                                                    \
                NAME##_tile(2, nb, x, a + u * a_row, a_row, y + u * ldy + r, ldy), u += 2;                   \
            if (left & 1)                                                                                    \
                NAME##_tile(1, nb, x, a + u * a_row, a_row, y + u * ldy + r, ldy);                           \
        }                                                                                                    \
    }

DEFINE_GEMM_K(gemm_q2_K_q8_K_avx512, mvq_block_q2_K, prep_q2_K, STEP_Q2_K)
DEFINE_GEMM_K(gemm_q3_K_q8_K_avx512, mvq_block_q3_K, prep_q3_K, STEP_Q3_K)
DEFINE_GEMM_K(gemm_q4_K_q8_K_avx512, mvq_block_q4_K, prep_q4_K, STEP_Q4_K)
DEFINE_GEMM_K(gemm_q5_K_q8_K_avx512, mvq_block_q5_K, prep_q5_K, STEP_Q5_K)
DEFINE_GEMM_K(gemm_q6_K_q8_K_avx512, mvq_block_q6_K, prep_q6_K, STEP_Q6_K)

void MVQ_X86_FN(mvq_gemm_q_init_avx512)(mvq_kernel_table *t)
{
    t->gemm_q[MVQ_TYPE_Q4_0] = gemm_q4_0_q8_0_avx512;
    t->gemm_q[MVQ_TYPE_Q8_0] = gemm_q8_0_q8_0_avx512;
    t->gemm_q[MVQ_TYPE_Q2_K] = gemm_q2_K_q8_K_avx512;
    t->gemm_q[MVQ_TYPE_Q3_K] = gemm_q3_K_q8_K_avx512;
    t->gemm_q[MVQ_TYPE_Q4_K] = gemm_q4_K_q8_K_avx512;
    t->gemm_q[MVQ_TYPE_Q5_K] = gemm_q5_K_q8_K_avx512;
    t->gemm_q[MVQ_TYPE_Q6_K] = gemm_q6_K_q8_K_avx512;
}
