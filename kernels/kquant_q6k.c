/* Q6_K reference quantizer: 6-bit quants in sub-blocks of 16 with int8
 * scales.  The search is in kquant_search.c. */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/kquants.h"

#include <string.h>

/* y = (d*sc)*q, q in [-32,31], sc in [-128,127] */
static const kq_shape q6_K_shape = {.sub_len = 16, .qmin = -32, .qmax = 31, .scmin = -128, .scmax = 127, .mmax = 0};

static void store_q6_K(const kq_superblock *sb, void *block)
{
    mvq_block_q6_K *y = block;
    y->d = mvq_fp32_to_fp16(sb->d);
    for (int j = 0; j < MVQ_QK_K / 16; ++j)
        y->scales[j] = (int8_t)sb->sc[j];
    /* biased quant q+32, element 128*h + 32*k + l: low nibble in
     * ql[64*h + 32*(k%2) + l] at bit 4*(k/2), top two bits in
     * qh[32*h + l] at bit 2k */
    memset(y->ql, 0, sizeof y->ql);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < MVQ_QK_K; ++e) {
        int h = e / 128, k = (e / 32) % 4, l = e % 32;
        int v = sb->q[e] + 32;
        y->ql[64 * h + 32 * (k % 2) + l] |= (uint8_t)((v & 0xF) << (4 * (k / 2)));
        y->qh[32 * h + l] |= (uint8_t)((v >> 4) << (2 * k));
    }
}

void mvq_quantize_row_q6_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(&q6_K_shape, x, y, sizeof(mvq_block_q6_K), n, imatrix, store_q6_K);
}
