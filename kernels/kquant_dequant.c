/* K-quant dequantizers (reference).  The float operations are ggml's, in
 * ggml's order - (d*sc)*q - dmin*m - so the results are bit-identical. */
#include "config.h"
#include "kernels/kquants.h"
#include "kernels/ref.h"

/* y = (d*sc[j])*q - dmin*m[j] over sub-blocks j of len weights. */
static void scale_levels(const int8_t *q, float d, float dmin, const int *sc, const int *m, int len,
                         float *y)
{
    for (int j = 0; j < MVQ_QK_K / len; ++j) {
        const float dl = d * (float)sc[j], ml = dmin * (float)m[j];
        for (int l = 0; l < len; ++l)
            y[j * len + l] = dl * (float)q[j * len + l] - ml;
    }
}

void mvq_dequantize_row_q2_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q2_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b, y += MVQ_QK_K) {
        int8_t q[MVQ_QK_K];
        int sc[16], m[16];
        mvq_unpack_q2_K(&x[b], q);
        for (int j = 0; j < 16; ++j) {
            sc[j] = x[b].scales[j] & 0xF;
            m[j] = x[b].scales[j] >> 4;
        }
        scale_levels(q, mvq_fp16_to_fp32(x[b].d), mvq_fp16_to_fp32(x[b].dmin), sc, m, 16, y);
    }
}

void mvq_dequantize_row_q3_K_ref(const void *vx, float *y, int64_t n)
{
    static const int no_mins[16] = {0};
    const mvq_block_q3_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b, y += MVQ_QK_K) {
        int8_t q[MVQ_QK_K], s8[16];
        int sc[16];
        mvq_unpack_q3_K(&x[b], q);
        mvq_unpack_q3_K_scales(x[b].scales, s8);
        for (int j = 0; j < 16; ++j)
            sc[j] = s8[j];
        scale_levels(q, mvq_fp16_to_fp32(x[b].d), 0.f, sc, no_mins, 16, y);
    }
}

/* Q4_K and Q5_K share the 12-byte scales and mins. */
static void dequantize_k4(const int8_t q[MVQ_QK_K], mvq_half d, mvq_half dmin, const uint8_t scales[12], float *y)
{
    int sc[8], m[8];
    for (int j = 0; j < 8; ++j) {
        uint8_t s, mm;
        mvq_get_scale_min_k4(j, scales, &s, &mm);
        sc[j] = s;
        m[j] = mm;
    }
    scale_levels(q, mvq_fp16_to_fp32(d), mvq_fp16_to_fp32(dmin), sc, m, 32, y);
}

void mvq_dequantize_row_q4_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q4_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b, y += MVQ_QK_K) {
        int8_t q[MVQ_QK_K];
        mvq_unpack_q4_K(&x[b], q);
        dequantize_k4(q, x[b].d, x[b].dmin, x[b].scales, y);
    }
}

void mvq_dequantize_row_q5_K_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q5_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b, y += MVQ_QK_K) {
        int8_t q[MVQ_QK_K];
        mvq_unpack_q5_K(&x[b], q);
        dequantize_k4(q, x[b].d, x[b].dmin, x[b].scales, y);
    }
}

void mvq_dequantize_row_q6_K_ref(const void *vx, float *y, int64_t n)
{
    static const int no_mins[16] = {0};
    const mvq_block_q6_K *x = vx;
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b, y += MVQ_QK_K) {
        int8_t q[MVQ_QK_K];
        int sc[16];
        mvq_unpack_q6_K(&x[b], q);
        for (int j = 0; j < 16; ++j)
            sc[j] = x[b].scales[j];
        scale_levels(q, mvq_fp16_to_fp32(x[b].d), 0.f, sc, no_mins, 16, y);
    }
}
