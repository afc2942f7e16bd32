/* Internal to kernels/: the K-quant table entries of a SIMD set, included
 * after kernels/kquant_search_impl.h by the file that defines its loops
 * (kernels/x86/kquant_avx2.c, kernels/arm/kquant_neon.c). */
#ifndef MVQ_KQUANT_ROWS_H
#define MVQ_KQUANT_ROWS_H

#define SIMD_KQ_ROW(T)                                                                        \
    static void quantize_row_##T##_simd(const float *x, void *y, int64_t n, const float *imatrix) \
    {                                                                                         \
        quantize_row_impl(kq_format_##T.shape, x, y, kq_format_##T.block_bytes, n, imatrix,   \
                          kq_format_##T.store);                                               \
    }
SIMD_KQ_ROW(q2_K)
SIMD_KQ_ROW(q3_K)
SIMD_KQ_ROW(q4_K)
SIMD_KQ_ROW(q5_K)
SIMD_KQ_ROW(q6_K)

static void fill_kquant_quantizers(mvq_kernel_table *t)
{
    t->from_float[MVQ_TYPE_Q2_K] = quantize_row_q2_K_simd;
    t->from_float[MVQ_TYPE_Q3_K] = quantize_row_q3_K_simd;
    t->from_float[MVQ_TYPE_Q4_K] = quantize_row_q4_K_simd;
    t->from_float[MVQ_TYPE_Q5_K] = quantize_row_q5_K_simd;
    t->from_float[MVQ_TYPE_Q6_K] = quantize_row_q6_K_simd;
}

#endif
