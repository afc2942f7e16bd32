/* Q2_K and Q3_K reference quantizers: 2-bit (with a min) and 3-bit quants
 * in sub-blocks of 16.  The search is in kquant_search.c. */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/kquants.h"
#include "kernels/ref.h"

#include <string.h>

/* y = (d*sc)*q - dmin*m, q in [0,3], sc and m 4-bit */
static const kq_shape q2_K_shape = {.sub_len = 16, .qmin = 0, .qmax = 3, .scmin = 0, .scmax = 15, .mmax = 15};
/* y = (d*sc)*q, q in [-4,3], sc in [-32,31] */
static const kq_shape q3_K_shape = {.sub_len = 16, .qmin = -4, .qmax = 3, .scmin = -32, .scmax = 31, .mmax = 0};

static void store_q2_K(const kq_superblock *sb, void *block)
{
    mvq_block_q2_K *y = block;
    y->d = mvq_fp32_to_fp16(sb->d);
    y->dmin = mvq_fp32_to_fp16(sb->dmin);
    for (int j = 0; j < MVQ_QK_K / 16; ++j)
        y->scales[j] = (uint8_t)(sb->sc[j] | (sb->m[j] << 4));
    uint8_t low2[MVQ_QK_K];
    for (int e = 0; e < MVQ_QK_K; ++e)
        low2[e] = (uint8_t)sb->q[e];
    mvq_k2_pack(y->qs, low2);
}

static void store_q3_K(const kq_superblock *sb, void *block)
{
    mvq_block_q3_K *y = block;
    y->d = mvq_fp32_to_fp16(sb->d);
    int8_t sc[MVQ_QK_K / 16];
    for (int j = 0; j < MVQ_QK_K / 16; ++j)
        sc[j] = (int8_t)sb->sc[j];
    mvq_pack_q3_K_scales(sc, y->scales);
    /* biased quant q+4 in [0,7]: bit 2 goes to hmask[e%32] at bit e/32.
     * Gathered per byte without branches: the bit is data (a coin toss), and
     * a branch on it costs more than the rest of the store. */
    uint8_t low2[MVQ_QK_K];
    for (int e = 0; e < MVQ_QK_K; ++e)
        low2[e] = (uint8_t)((sb->q[e] + 4) & 3);
    for (int l = 0; l < 32; ++l) {
        unsigned bits = 0;
        for (int b = 0; b < 8; ++b)
            bits |= (unsigned)(((sb->q[32 * b + l] + 4) >> 2) & 1) << b;
        y->hmask[l] = (uint8_t)bits;
    }
    mvq_k2_pack(y->qs, low2);
}

const kq_format kq_format_q2_K = {&q2_K_shape, sizeof(mvq_block_q2_K), store_q2_K};
const kq_format kq_format_q3_K = {&q3_K_shape, sizeof(mvq_block_q3_K), store_q3_K};

void mvq_quantize_row_q2_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(kq_format_q2_K.shape, x, y, kq_format_q2_K.block_bytes, n, imatrix,
                    kq_format_q2_K.store);
}

void mvq_quantize_row_q3_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(kq_format_q3_K.shape, x, y, kq_format_q3_K.block_bytes, n, imatrix,
                    kq_format_q3_K.store);
}
