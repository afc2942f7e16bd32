/* Registers the K-quant reference kernels (dequantize, quantize) into the
 * scalar table; their dot products with Q8_K are registered elsewhere. */
#include "config.h"
#include "kernels/kernel_impl.h"
#include "kernels/kquants.h"

void mvq_kquants_init_ref(mvq_kernel_table *t)
{
    t->to_float[MVQ_TYPE_Q2_K] = mvq_dequantize_row_q2_K_ref;
    t->to_float[MVQ_TYPE_Q3_K] = mvq_dequantize_row_q3_K_ref;
    t->to_float[MVQ_TYPE_Q4_K] = mvq_dequantize_row_q4_K_ref;
    t->to_float[MVQ_TYPE_Q5_K] = mvq_dequantize_row_q5_K_ref;
    t->to_float[MVQ_TYPE_Q6_K] = mvq_dequantize_row_q6_K_ref;
    t->from_float[MVQ_TYPE_Q2_K] = mvq_quantize_row_q2_K_ref;
    t->from_float[MVQ_TYPE_Q3_K] = mvq_quantize_row_q3_K_ref;
    t->from_float[MVQ_TYPE_Q4_K] = mvq_quantize_row_q4_K_ref;
    t->from_float[MVQ_TYPE_Q5_K] = mvq_quantize_row_q5_K_ref;
    t->from_float[MVQ_TYPE_Q6_K] = mvq_quantize_row_q6_K_ref;
}
