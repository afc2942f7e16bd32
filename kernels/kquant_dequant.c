/* K-quant dequantizers (reference).  The float operations are ggml's, in
 * ggml's order - (d*sc)*q - dmin*m - so the results are bit-identical. */
#include "config.h"
#include "kernels/kquants.h"

void mvq_dequantize_row_q2_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q2_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        const float d = mvq_fp16_to_fp32(x[b].d), dmin = mvq_fp16_to_fp32(x[b].dmin);
        const uint8_t *q = x[b].qs;
        int is = 0;
        /* element 128*h + 32*k + l sits in qs[32*h + l] at bits 2k */
        for (int h = 0; h < 2; ++h, q += 32) {
            for (int k = 0; k < 4; ++k) {
                for (int half = 0; half < 2; ++half, ++is) {
                    const uint8_t sc = x[b].scales[is];
                    const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; ++l)
                        *y++ = dl * (float)((q[16 * half + l] >> (2 * k)) & 3) - ml;
                }
            }
        }
    }
}

void mvq_dequantize_row_q3_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q3_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        const float d = mvq_fp16_to_fp32(x[b].d);
        for (int e = 0; e < MVQ_QK_K; ++e) {
            /* low bits as Q2_K; the high bit of element e in hmask[e%32] bit e/32 */
            int h = e / 128, k = (e / 32) % 4, l = e % 32;
            int low = (x[b].qs[32 * h + l] >> (2 * k)) & 3;
            int high = (x[b].hmask[e % 32] >> (e / 32)) & 1;
            const float dl = d * (float)mvq_k3_scale(e / 16, x[b].scales);
            y[e] = dl * (float)(low - (high ? 0 : 4));
        }
        y += MVQ_QK_K;
    }
}

void mvq_dequantize_row_q4_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q4_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        const float d = mvq_fp16_to_fp32(x[b].d), dmin = mvq_fp16_to_fp32(x[b].dmin);
        /* element 64*h + 32*k + l sits in qs[32*h + l], nibble k */
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            mvq_k4_scale_min(j, x[b].scales, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (j / 2);
            for (int l = 0; l < 32; ++l)
                *y++ = dl * (float)((q[l] >> (4 * (j % 2))) & 0xF) - ml;
        }
    }
}

void mvq_dequantize_row_q5_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q5_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        const float d = mvq_fp16_to_fp32(x[b].d), dmin = mvq_fp16_to_fp32(x[b].dmin);
        /* as Q4_K, plus the fifth bit of sub-block j in qh[l] bit j */
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            mvq_k4_scale_min(j, x[b].scales, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (j / 2);
            for (int l = 0; l < 32; ++l) {
                int v = ((q[l] >> (4 * (j % 2))) & 0xF) | (((x[b].qh[l] >> j) & 1) << 4);
                *y++ = dl * (float)v - ml;
            }
        }
    }
}

void mvq_dequantize_row_q6_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q6_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        const float d = mvq_fp16_to_fp32(x[b].d);
        for (int e = 0; e < MVQ_QK_K; ++e) {
            /* element 128*h + 32*k + l: low nibble k/2 of ql[64*h + 32*(k%2) + l],
             * high two bits at 2k of qh[32*h + l] */
            int h = e / 128, k = (e / 32) % 4, l = e % 32;
            int low = (x[b].ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
            int high = (x[b].qh[32 * h + l] >> (2 * k)) & 3;
            y[e] = d * (float)x[b].scales[e / 16] * (float)((low | (high << 4)) - 32);
        }
        y += MVQ_QK_K;
    }
}
