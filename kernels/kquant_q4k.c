/* Q4_K and Q5_K reference quantizers: 4- and 5-bit quants with a min, in
 * sub-blocks of 32 whose 6-bit scales and mins share 12 bytes.  The search
 * is in kquant_search.c. */
#include "config.h"
#include "kernels/kquant_search.h"
#include "kernels/kquants.h"
#include "kernels/ref.h"

#include <string.h>

/* y = (d*sc)*q - dmin*m, sc and m 6-bit */
static const kq_shape q4_K_shape = {.sub_len = 32, .qmin = 0, .qmax = 15, .scmin = 0, .scmax = 63, .mmax = 63};
static const kq_shape q5_K_shape = {.sub_len = 32, .qmin = 0, .qmax = 31, .scmin = 0, .scmax = 63, .mmax = 63};

/* The part Q4_K and Q5_K share: d, dmin, 12 bytes of scales and mins, and
 * the low nibbles (element 64*h + 32*k + l: nibble k of qs[32*h + l]). */
static void store_k4(const kq_superblock *sb, mvq_half *d, mvq_half *dmin, uint8_t scales[12],
                     uint8_t qs[128])
{
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
        sc[j] = (uint8_t)sb->sc[j];
        m[j] = sb->m[j];
    }
    *d = mvq_fp32_to_fp16(sb->d);
    *dmin = mvq_fp32_to_fp16(sb->dmin);
    mvq_set_scale_min_k4(sc, m, scales);
    for (int h = 0; h < 4; ++h)
        for (int l = 0; l < 32; ++l)
            qs[32 * h + l] = (uint8_t)((sb->q[64 * h + l] & 0xF) | (sb->q[64 * h + 32 + l] & 0xF) << 4);
}

static void store_q4_K(const kq_superblock *sb, void *block)
{
    mvq_block_q4_K *y = block;
    store_k4(sb, &y->d, &y->dmin, y->scales, y->qs);
}

static void store_q5_K(const kq_superblock *sb, void *block)
{
    mvq_block_q5_K *y = block;
    store_k4(sb, &y->d, &y->dmin, y->scales, y->qs);
    /* the fifth bit of element e in qh[e%32] at bit e/32 */
    for (int l = 0; l < 32; ++l) {
        unsigned bits = 0;
        for (int b = 0; b < 8; ++b)
            bits |= (unsigned)((sb->q[32 * b + l] >> 4) & 1) << b;
        y->qh[l] = (uint8_t)bits;
    }
}

const kq_format kq_format_q4_K = {&q4_K_shape, sizeof(mvq_block_q4_K), store_q4_K};
const kq_format kq_format_q5_K = {&q5_K_shape, sizeof(mvq_block_q5_K), store_q5_K};

void mvq_quantize_row_q4_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(kq_format_q4_K.shape, x, y, kq_format_q4_K.block_bytes, n, imatrix,
                    kq_format_q4_K.store);
}

void mvq_quantize_row_q5_K_ref(const float *x, void *y, int64_t n, const float *imatrix)
{
    kq_quantize_row(kq_format_q5_K.shape, x, y, kq_format_q5_K.block_bytes, n, imatrix,
                    kq_format_q5_K.store);
}
