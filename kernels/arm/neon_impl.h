/* Internal to kernels/arm/: the family inits the NEON init calls, and the
 * small helpers they share (level extraction, fp16 scales).  Included only
 * by sources built with $(NEON_CFLAGS) (armv8.2-a + dotprod): the dispatch
 * selects the NEON table only when the CPU has ASIMD and ASIMDDP.
 *
 * Kernels reproduce the reference's arithmetic: exact integer sums per block,
 * then the same float operations in the same order, so integer paths and
 * dequantization are bit-exact with the scalar tables. */
#ifndef MVQ_NEON_IMPL_H
#define MVQ_NEON_IMPL_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/iq4xs.h"
#include "kernels/kernel_impl.h"
#include "kernels/ref.h"

void mvq_dot_init_neon(mvq_kernel_table *t);   /* dot_neon.c: legacy + float types */
void mvq_dot_k_init_neon(mvq_kernel_table *t); /* dot_k_neon.c: K-quants */
void mvq_dot_iq4xs_init_neon(mvq_kernel_table *t); /* dot_iq4xs_neon.c */
void mvq_dequant_init_neon(mvq_kernel_table *t);
void mvq_act_init_neon(mvq_kernel_table *t);
void mvq_convert_init_neon(mvq_kernel_table *t); /* F16, BF16 <-> f32 */
void mvq_quant_init_neon(mvq_kernel_table *t);   /* quant_neon.c: legacy weight quantizers */
void mvq_kquant_init_neon(mvq_kernel_table *t);  /* kquant_neon.c: K-quant weight quantizers */
void mvq_int8_init_neon(mvq_kernel_table *t);    /* int8_neon.c: W8A8 */
/* the legacy search's evaluators with candidates in lanes (quant_neon.c) */
extern const struct mvq_search_evals mvq_search_evals_neon;

/* The 32 (or, for a K-quant chunk, 32 consecutive) levels of a block:
 * v[0] weights 0..15, v[1] weights 16..31. */
typedef int8x16x2_t mvq_neon_q32;

/* IEEE binary16 to float: exact (NaN payloads aside) as mvq_fp16_to_fp32. */
static inline float neon_half(mvq_half h)
{
    __fp16 v;
    memcpy(&v, &h, sizeof v);
    return (float)v;
}

/* Low nibbles (weights 0..15) and high nibbles (16..31), minus offset. */
static inline mvq_neon_q32 neon_nibbles(const uint8_t qs[16], int8_t offset)
{
    const uint8x16_t b = vld1q_u8(qs);
    const int8x16_t off = vdupq_n_s8(offset);
    mvq_neon_q32 q;
    q.val[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F))), off);
    q.val[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), off);
    return q;
}

/* 16 where bit j of the little-endian 32-bit qh is set, per weight j. */
static inline uint8x16x2_t neon_fifth_bits(const uint8_t qh[4])
{
    static const uint8_t spread_lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
    static const uint8_t spread_hi[16] = { 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
    static const uint8_t bit[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
    uint32_t h32;
    memcpy(&h32, qh, sizeof h32);
    const uint8x16_t h = vreinterpretq_u8_u32(vdupq_n_u32(h32));
    const uint8x16_t sixteen = vdupq_n_u8(16), mask = vld1q_u8(bit);
    uint8x16x2_t r;
    r.val[0] = vandq_u8(vtstq_u8(vqtbl1q_u8(h, vld1q_u8(spread_lo)), mask), sixteen);
    r.val[1] = vandq_u8(vtstq_u8(vqtbl1q_u8(h, vld1q_u8(spread_hi)), mask), sixteen);
    return r;
}

/* Levels of the 32-weight block types, as mvq_unpack_* in the reference. */
static inline mvq_neon_q32 neon_levels_q4_0(const mvq_block_q4_0 *b)
{
    return neon_nibbles(b->qs, 8);
}

static inline mvq_neon_q32 neon_levels_q4_1(const mvq_block_q4_1 *b)
{
    return neon_nibbles(b->qs, 0);
}

static inline mvq_neon_q32 neon_levels_q5(const uint8_t qs[16], const uint8_t qh[4], int8_t offset)
{
    mvq_neon_q32 q = neon_nibbles(qs, 0);
    const uint8x16x2_t h = neon_fifth_bits(qh);
    const int8x16_t off = vdupq_n_s8(offset);
    q.val[0] = vsubq_s8(vorrq_s8(q.val[0], vreinterpretq_s8_u8(h.val[0])), off);
    q.val[1] = vsubq_s8(vorrq_s8(q.val[1], vreinterpretq_s8_u8(h.val[1])), off);
    return q;
}

static inline mvq_neon_q32 neon_levels_q5_0(const mvq_block_q5_0 *b)
{
    return neon_levels_q5(b->qs, b->qh, 16);
}

static inline mvq_neon_q32 neon_levels_q5_1(const mvq_block_q5_1 *b)
{
    return neon_levels_q5(b->qs, b->qh, 0);
}

static inline mvq_neon_q32 neon_levels_q8_0(const mvq_block_q8_0 *b)
{
    return vld1q_s8_x2(b->qs);
}

/* IQ4_NL's levels of 32 nibbles (low: weights 0..15, high: 16..31), as in
 * an IQ4_NL block or an IQ4_XS sub-block. */
static inline mvq_neon_q32 neon_iq4_levels(const uint8_t qs[16])
{
    const int8x16_t table = vld1q_s8(mvq_kvalues_iq4nl);
    const uint8x16_t v = vld1q_u8(qs);
    mvq_neon_q32 q;
    q.val[0] = vqtbl1q_s8(table, vandq_u8(v, vdupq_n_u8(0x0F)));
    q.val[1] = vqtbl1q_s8(table, vshrq_n_u8(v, 4));
    return q;
}

static inline mvq_neon_q32 neon_levels_iq4_nl(const mvq_block_iq4_nl *b)
{
    return neon_iq4_levels(b->qs);
}

/* K-quants: the levels of chunk k (weights 32k..32k+31) of a super-block,
 * before the sub-block scale, as mvq_unpack_q*_K in the reference. */

/* (bytes[l] >> shift) & mask for l in 0..31: the bit fields of a chunk. */
static inline mvq_neon_q32 neon_bit_field(const uint8_t bytes[32], int shift, uint8_t mask)
{
    const uint8x16x2_t b = vld1q_u8_x2(bytes);
    const int8x16_t right = vdupq_n_s8((int8_t)-shift);
    const uint8x16_t m = vdupq_n_u8(mask);
    mvq_neon_q32 q;
    q.val[0] = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(b.val[0], right), m));
    q.val[1] = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(b.val[1], right), m));
    return q;
}

/* Q2_K / Q3_K low bits: weight 128h + 32s + l in bits 2s of qs[32h + l]. */
static inline mvq_neon_q32 neon_k_two_bits(const uint8_t qs[64], int k)
{
    return neon_bit_field(qs + 32 * (k / 4), 2 * (k % 4), 3);
}

/* 0xFF where bit k of bytes[l] is set, for l in 0..31. */
static inline uint8x16x2_t neon_bit_k(const uint8_t bytes[32], int k)
{
    const uint8x16x2_t b = vld1q_u8_x2(bytes);
    const uint8x16_t m = vdupq_n_u8((uint8_t)(1u << k));
    uint8x16x2_t r;
    r.val[0] = vtstq_u8(b.val[0], m);
    r.val[1] = vtstq_u8(b.val[1], m);
    return r;
}

static inline mvq_neon_q32 neon_levels_q2_K(const mvq_block_q2_K *b, int k)
{
    return neon_k_two_bits(b->qs, k);
}

/* Q3_K: minus 4 where bit k of hmask[l] is clear. */
static inline mvq_neon_q32 neon_levels_q3_K(const mvq_block_q3_K *b, int k)
{
    mvq_neon_q32 q = neon_k_two_bits(b->qs, k);
    const uint8x16x2_t high = neon_bit_k(b->hmask, k);
    const uint8x16_t four = vdupq_n_u8(4);
    q.val[0] = vsubq_s8(q.val[0], vreinterpretq_s8_u8(vbicq_u8(four, high.val[0])));
    q.val[1] = vsubq_s8(q.val[1], vreinterpretq_s8_u8(vbicq_u8(four, high.val[1])));
    return q;
}

/* Q4_K / Q5_K: chunk k is the low (k even) or high nibbles of qs[32(k/2)..]. */
static inline mvq_neon_q32 neon_k_nibbles(const uint8_t qs[128], int k)
{
    return neon_bit_field(qs + 32 * (k / 2), 4 * (k % 2), 0x0F);
}

static inline mvq_neon_q32 neon_levels_q4_K(const mvq_block_q4_K *b, int k)
{
    return neon_k_nibbles(b->qs, k);
}

/* Q5_K: plus 16 where bit k of qh[l] is set. */
static inline mvq_neon_q32 neon_levels_q5_K(const mvq_block_q5_K *b, int k)
{
    mvq_neon_q32 q = neon_k_nibbles(b->qs, k);
    const uint8x16x2_t high = neon_bit_k(b->qh, k);
    const uint8x16_t sixteen = vdupq_n_u8(16);
    q.val[0] = vorrq_s8(q.val[0], vreinterpretq_s8_u8(vandq_u8(high.val[0], sixteen)));
    q.val[1] = vorrq_s8(q.val[1], vreinterpretq_s8_u8(vandq_u8(high.val[1], sixteen)));
    return q;
}

/* Q6_K: weight 128h + 32s + l: nibble s/2 of ql[64h + 32(s&1) + l], high two
 * bits at 2s of qh[32h + l]; minus 32. */
static inline mvq_neon_q32 neon_levels_q6_K(const mvq_block_q6_K *b, int k)
{
    const int h = k / 4, s = k % 4;
    const uint8x16x2_t lo = vld1q_u8_x2(b->ql + 64 * h + 32 * (s & 1));
    const uint8x16x2_t hi = vld1q_u8_x2(b->qh + 32 * h);
    const int8x16_t lshift = vdupq_n_s8((int8_t)(-4 * (s / 2)));
    const int8x16_t hshift = vdupq_n_s8((int8_t)(4 - 2 * s)); /* bits 2s..2s+1 to 4..5 */
    const uint8x16_t nib = vdupq_n_u8(0x0F), top = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    mvq_neon_q32 q;
    for (int i = 0; i < 2; i++) {
        const uint8x16_t l4 = vandq_u8(vshlq_u8(lo.val[i], lshift), nib);
        const uint8x16_t h2 = vandq_u8(vshlq_u8(hi.val[i], hshift), top);
        q.val[i] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l4, h2)), off);
    }
    return q;
}

/* The 16 signed sub-block scales of Q3_K (unpacked, minus 32) and Q6_K. */
static inline void neon_scales_q3_K(const mvq_block_q3_K *b, int8_t sc[16])
{
    mvq_unpack_q3_K_scales(b->scales, sc);
}

static inline void neon_scales_q6_K(const mvq_block_q6_K *b, int8_t sc[16])
{
    memcpy(sc, b->scales, 16);
}

/* Integer dot of 32 levels with 32 activations, as 4 int32 partial sums. */
static inline int32x4_t neon_dot32(mvq_neon_q32 q, const int8_t *y)
{
    const int8x16x2_t a = vld1q_s8_x2(y);
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), q.val[0], a.val[0]), q.val[1], a.val[1]);
}

#endif
