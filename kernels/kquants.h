/* Internal to kernels/: the K-quant reference kernels (Q2_K .. Q6_K) and the
 * packing of their sub-block scales, shared by quantizers and dequantizers.
 * Layouts are ggml's, byte for byte (see include/mvquant/types.h). */
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

/* Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes.
 * Bytes 0-3 hold scales 0-3, bytes 4-7 mins 0-3, each with the top two
 * bits of scale (resp. min) j+4 in bits 6-7; bytes 8-11 hold the low
 * nibbles of scale j+4 (bits 0-3) and min j+4 (bits 4-7). */
static inline void mvq_k4_scales_pack(uint8_t s[12], const uint8_t sc[8], const uint8_t m[8])
{
    for (int j = 0; j < 4; ++j) {
        s[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
}

static inline void mvq_k4_scale_min(int j, const uint8_t s[12], uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* Q3_K: sixteen 6-bit scales stored biased by 32 in 12 bytes: the low
 * nibble of scale j in byte j%8 (low half for j < 8, high half after), its
 * top two bits in byte 8 + j%4 at bit 2*(j/4). */
static inline void mvq_k3_scales_pack(uint8_t s[12], const int8_t sc[16])
{
    for (int j = 0; j < 12; ++j)
        s[j] = 0;
    for (int j = 0; j < 16; ++j) {
        int l = sc[j] + 32;
        s[j % 8] |= (uint8_t)((l & 0xF) << (j < 8 ? 0 : 4));
        s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
}

static inline int mvq_k3_scale(int j, const uint8_t s[12])
{
    int low = (s[j % 8] >> (j < 8 ? 0 : 4)) & 0xF;
    int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

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
