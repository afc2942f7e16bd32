/* Internal to kernels/: the portable reference kernels (the specification).
 *
 * Every row function takes n, a multiple of its type's block size, so a SIMD
 * kernel handles its tail by calling the reference on the remaining blocks:
 *     mvq_vec_dot_q4_0_q8_0_ref(n - done, &part, x + done/32, y + done/32)
 * The small unpacking helpers (6-bit K-quant scales, IQ4_NL's table,
 * ggml's rounding) are shared with the K-quant quantizers and SIMD code. */
#ifndef MVQ_KERNELS_REF_H
#define MVQ_KERNELS_REF_H

#include <math.h>
#include <string.h>

#include <mvquant/kernels.h>

/* ---- shared helpers ---- */

/* 1/d for a block scale d; 0 when d is 0, or so small (subnormal) that
 * 1/d overflows: x * id must stay finite (an infinite product converted to
 * an integer is undefined; ggml's x86 builds end up with q = 0). */
static inline float mvq_inverse_scale(float d)
{
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    return isfinite(id) ? id : 0.0f;
}

/* Round to nearest, ties to even, as ggml's nearest_int (valid for
 * |f| <= 4194303): adding 1.5*2^23 leaves the integer in the mantissa. */
static inline int mvq_nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The value of f after a round trip through fp16, f first clamped to
 * +-65504: equal to mvq_fp16_to_fp32(mvq_fp32_to_fp16(f)) for every
 * non-NaN float (checked exhaustively), without the conversions.  fp16
 * subnormals are the multiples of 2^-24, which adding and removing 0.5
 * rounds to (ties to even); above, the float's mantissa is rounded to 10
 * bits in place. */
static inline float mvq_round_fp16(float f)
{
    f = f > 65504.0f ? 65504.0f : f < -65504.0f ? -65504.0f : f;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    const uint32_t sign = u & 0x80000000u, mag = u ^ sign;
    if (mag < 0x38800000u) { /* below 2^-14 */
        float m;
        memcpy(&m, &mag, sizeof m);
        m = (m + 0.5f) - 0.5f;
        memcpy(&u, &m, sizeof u);
        u |= sign;
    } else {
        u += 0xFFFu + ((u >> 13) & 1u);
        u &= ~0x1FFFu;
    }
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IQ4_NL's 16 non-linear levels (ggml's kvalues_iq4nl), sorted. */
extern const int8_t mvq_kvalues_iq4nl[16];

/* Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed
 * bytes: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 low nibbles in
 * byte j+4, high 2 bits in the top bits of bytes j-4 and j. */
static inline void mvq_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* The inverse: packs 8 scales and 8 mins (each 0..63) into 12 bytes. */
void mvq_set_scale_min_k4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12]);

/* Q3_K: the 16 signed 6-bit sub-block scales (already minus 32) from the 12
 * packed bytes: low nibbles in bytes 0..7 (j < 8 low half, j >= 8 high
 * half of byte j-8), high 2 bits in bytes 8..11 (byte 8 + j%4, bits 2*(j/4)). */
void mvq_unpack_q3_K_scales(const uint8_t packed[12], int8_t scales[16]);
/* The inverse: scales in -32..31. */
void mvq_pack_q3_K_scales(const int8_t scales[16], uint8_t packed[12]);

/* ---- plain types (ref_float.c) ---- */
void mvq_to_float_f32_ref(const void *x, float *y, int64_t n);
void mvq_from_float_f32_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_to_float_f16_ref(const void *x, float *y, int64_t n);
void mvq_from_float_f16_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_to_float_bf16_ref(const void *x, float *y, int64_t n);
void mvq_from_float_bf16_ref(const float *x, void *y, int64_t n, const float *imatrix);

/* ---- legacy quants and IQ4_NL: dequantize (ref_dequant_legacy.c) ---- */
void mvq_dequantize_row_q4_0_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q4_1_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q5_0_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q5_1_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q8_0_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q8_1_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_iq4_nl_ref(const void *x, float *y, int64_t n);

/* ---- activation quantizers: ggml's reference rounding, bit for bit ----
 * (ref_quant_q8.c).  These are from_float of Q8_0 / Q8_1 / Q8_K when
 * imatrix is NULL; the table's Q8_0 entry searches when given importance. */
void mvq_quantize_row_q8_0_rtn(const float *x, void *y, int64_t n);
void mvq_quantize_row_q8_1_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q8_K_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_dequantize_row_q8_K_ref(const void *x, float *y, int64_t n);

/* ---- the scale search behind the reference weight quantizers ----
 * (ref_search.c)  A block of n weights x with weights w maps
 * to codes 0..n_levels-1 whose levels are values[code] (IQ4_NL) or
 * lo + code (integer grids), times a scale d, plus a minimum m for the
 * affine types.  The search minimises sum w (x - level*d [- m])^2 with d and
 * m rounded to fp16, as dequantization sees them:
 *   1. candidates d_k = extreme / (anchor * (1 + step*k)), k = -K..K, for
 *      each extreme level as anchor (affine: d_k = (max-min)/(nmax*(1+step*k)),
 *      m = min), rounded to fp16, in that order;
 *   2. per candidate: nearest codes at that d (and m) and their error, then
 *      up to `refits` times the weighted least-squares d (and m) for those
 *      codes, rounded to fp16, and nearest codes again, stopping early when
 *      the rounded scale (and minimum) does not change;
 *   3. the lowest error seen wins (the first on ties), then the fp16
 *      neighbours of the winner's d (and m, one at a time) are tried.
 * Sums run over the block in order, in float, without fused multiply-adds,
 * so a SIMD version that puts candidates in lanes reproduces it bit for bit.
 * Candidate k = 0 is ggml's round-to-nearest scale, evaluated with the
 * rounded scale and nearest codes: never worse than ggml's RTN. */
typedef struct mvq_grid {
    const int8_t *values; /* sorted levels, or NULL for the integers lo.. */
    int n_levels;
    int lo;
    int half_steps; /* K (at most 15) */
    float step;     /* relative step of the candidates */
    int refits;     /* least-squares refits per candidate */
} mvq_grid;

/* Returns d (exactly representable in fp16); codes[n]. */
float mvq_search_symmetric(const float *x, const float *w, int n, const mvq_grid *g,
                           uint8_t *codes);
/* mvq_assign_symmetric(lv, ...), the codes at a scale chosen otherwise (as
 * IQ4_XS chooses its sub-blocks'), is declared in search_eval.h: it takes
 * the grid prepared once per row. */
/* Integer levels 0..nmax; *d and *m exactly representable in fp16. */
void mvq_search_affine(const float *x, const float *w, int n, const mvq_grid *g, uint8_t *codes,
                       float *d, float *m);

/* ---- weight quantizers with scale search (ref_quant_legacy.c) ---- */
void mvq_quantize_row_q4_0_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q4_1_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q5_0_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q5_1_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q8_0_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_iq4_nl_ref(const float *x, void *y, int64_t n, const float *imatrix);

/* ---- BF16 and F16 GEMMs (ref_gemm_half.c; mvq_bf16_split is public) ---- */
void mvq_gemm_bf16_ref(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_bf16 *w, size_t w_row,
                       const mvq_bf16 *a, size_t a_row, int parts, float *y, int64_t ldy);
/* t: MVQ_TYPE_F16 or MVQ_TYPE_BF16 */
void mvq_gemm_half_ref(mvq_type t, int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                       const float *x, size_t x_row, float *y, int64_t ldy);

/* ---- TQ2_0, ternary (ref_tq2_0.c) ---- */
void mvq_quantize_row_tq2_0_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_dequantize_row_tq2_0_ref(const void *x, float *y, int64_t n);
void mvq_vec_dot_tq2_0_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_unpack_tq2_0(const mvq_block_tq2_0 *b, int8_t q[256]); /* levels -1, 0, 1 */

/* ---- dot products (ref_dot.c, ref_dot_k.c) ---- */
void mvq_vec_dot_f32_f32_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_f16_f32_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_bf16_f32_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q4_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q4_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q5_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q5_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q8_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_iq4_nl_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q2_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q3_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q4_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q5_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void mvq_vec_dot_q6_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);

/* ---- unpacking of the 32-weight blocks to integer levels ----
 * One block to its 32 integer levels, in weight order: what dequantize
 * multiplies by d, and what the dot products multiply with the activation.
 * Q4_1 / Q5_1 levels are unsigned (0..15, 0..31); the others signed. */
void mvq_unpack_q4_0(const mvq_block_q4_0 *b, int8_t q[32]);
void mvq_unpack_q4_1(const mvq_block_q4_1 *b, int8_t q[32]);
void mvq_unpack_q5_0(const mvq_block_q5_0 *b, int8_t q[32]);
void mvq_unpack_q5_1(const mvq_block_q5_1 *b, int8_t q[32]);
void mvq_unpack_q8_0(const mvq_block_q8_0 *b, int8_t q[32]);
void mvq_unpack_iq4_nl(const mvq_block_iq4_nl *b, int8_t q[32]);
/* K-quants: one super-block to its 256 levels (before the sub-block scale)
 * and the per-16 signed scales (Q3_K: minus 32 applied; Q6_K: as stored) or
 * per-32 scales and mins (Q4_K, Q5_K), per-16 4-bit scale/min (Q2_K). */
void mvq_unpack_q2_K(const mvq_block_q2_K *b, int8_t q[256]);
void mvq_unpack_q3_K(const mvq_block_q3_K *b, int8_t q[256]);
void mvq_unpack_q4_K(const mvq_block_q4_K *b, int8_t q[256]);
void mvq_unpack_q5_K(const mvq_block_q5_K *b, int8_t q[256]);
void mvq_unpack_q6_K(const mvq_block_q6_K *b, int8_t q[256]);

/* ref_int8.c: the W8A8 dot product (w_sum unused). */
int32_t mvq_i8_dot_ref(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum);

#endif
