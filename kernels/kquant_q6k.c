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
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            int v[4];
            for (int k = 0; k < 4; ++k)
                v[k] = sb->q[128 * h + 32 * k + l] + 32;
            y->ql[64 * h + l] = (uint8_t)((v[0] & 0xF) | (v[2] & 0xF) << 4);
            y->ql[64 * h + 32 + l] = (uint8_t)((v[1] & 0xF) | (v[3] & 0xF) << 4);
            y->qh[32 * h + l] = (uint8_t)(v[0] >> 4 | (v[1] >> 4) << 2 | (v[2] >> 4) << 4 | (v[3] >> 4) << 6);
        }
}

const kq_format kq_format_q6_K = {&q6_K_shape, sizeof(mvq_block_q6_K), store_q6_K};

void mvq_quantize_row_q6_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(kq_format_q6_K.shape, x, y, kq_format_q6_K.block_bytes, n, imatrix,
                    kq_format_q6_K.store);
}
