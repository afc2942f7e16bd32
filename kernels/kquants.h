/* Internal to kernels/: the K-quant reference kernels (Q2_K .. Q6_K).
 * Layouts are ggml's, byte for byte (see include/mvquant/types.h); the
 * unpacking of quants and scales is shared with the dot products
 * (kernels/ref.h), the packing of the 2-bit planes lives here. */
#ifndef MVQ_KQUANTS_H
#define MVQ_KQUANTS_H

#include <stdint.h>
#include <mvquant/types.h>

void mvq_dequantize_row_q2_K_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q3_K_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q4_K_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q5_K_ref(const void *x, float *y, int64_t n);
void mvq_dequantize_row_q6_K_ref(const void *x, float *y, int64_t n);

/* imatrix: NULL, or n importance weights (one per column) */
void mvq_quantize_row_q2_K_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q3_K_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q4_K_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q5_K_ref(const float *x, void *y, int64_t n, const float *imatrix);
void mvq_quantize_row_q6_K_ref(const float *x, void *y, int64_t n, const float *imatrix);

/* Q2_K and Q3_K: 2-bit planes; element 128*h + 32*k + l goes to
 * qs[32*h + l] at bits 2k. */
static inline void mvq_k2_pack(uint8_t qs[64], const uint8_t low2[256])
{
    for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 32; ++l) {
            const uint8_t *v = low2 + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(v[0] | (v[32] << 2) | (v[64] << 4) | (v[96] << 6));
        }
}

#endif
