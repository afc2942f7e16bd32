/* Dequantization of the 32-weight block types, float for float as ggml:
 * y = level * d, or level * d + m for the types with a minimum. */
#include "config.h"

#include "kernels/ref.h"

static void scale_levels(const int8_t q[32], float d, float *y)
{
    for (int j = 0; j < 32; j++)
        y[j] = (float)q[j] * d;
}

/* Two statements, so no compiler fuses them into an fma (ggml rounds twice). */
static void scale_levels_add_min(const int8_t q[32], float d, float m, float *y)
{
    for (int j = 0; j < 32; j++) {
        float t = (float)q[j] * d;
        y[j] = t + m;
    }
}

/* Every 32-weight block starts with its fp16 d (and m for the affine types). */
#define DEQUANTIZE_SYMMETRIC(wtype)                                                  \
    void mvq_dequantize_row_##wtype##_ref(const void *vx, float *y, int64_t n)     \
    {                                                                              \
        const mvq_block_##wtype *x = vx;                                           \
        int8_t q[32];                                                              \
        for (int64_t i = 0; i < n / 32; i++) {                                     \
            mvq_unpack_##wtype(&x[i], q);                                          \
            scale_levels(q, mvq_fp16_to_fp32(x[i].d), y + 32 * i);                 \
        }                                                                          \
    }

#define DEQUANTIZE_AFFINE(wtype)                                                     \
    void mvq_dequantize_row_##wtype##_ref(const void *vx, float *y, int64_t n)     \
    {                                                                              \
        const mvq_block_##wtype *x = vx;                                           \
        int8_t q[32];                                                              \
        for (int64_t i = 0; i < n / 32; i++) {                                     \
            mvq_unpack_##wtype(&x[i], q);                                          \
            scale_levels_add_min(q, mvq_fp16_to_fp32(x[i].d), mvq_fp16_to_fp32(x[i].m), \
                                 y + 32 * i);                                      \
        }                                                                          \
    }

DEQUANTIZE_SYMMETRIC(q4_0)
DEQUANTIZE_SYMMETRIC(q5_0)
DEQUANTIZE_SYMMETRIC(q8_0)
DEQUANTIZE_SYMMETRIC(iq4_nl)
DEQUANTIZE_AFFINE(q4_1)
DEQUANTIZE_AFFINE(q5_1)

void mvq_dequantize_row_q8_1_ref(const void *vx, float *y, int64_t n)
{
    const mvq_block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++)
        scale_levels(x[i].qs, mvq_fp16_to_fp32(x[i].d), y + 32 * i);
}
