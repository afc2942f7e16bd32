/* The scalar reference table: every entry the portable code implements. */
#include "config.h"

#include "kernels/kernel_impl.h"
#include "kernels/iq4xs.h"
#include "kernels/ref.h"

static void set(mvq_kernel_table *t, mvq_type type, mvq_to_float_fn to, mvq_from_float_fn from,
                mvq_vec_dot_fn dot)
{
    t->to_float[type] = to;
    t->from_float[type] = from;
    t->vec_dot[type] = dot;
}

void mvq_kernels_init_scalar(mvq_kernel_table *t)
{
    t->isa = "scalar";
    t->i8_dot = mvq_i8_dot_ref;
    set(t, MVQ_TYPE_F32, mvq_to_float_f32_ref, mvq_from_float_f32_ref, mvq_vec_dot_f32_f32_ref);
    set(t, MVQ_TYPE_F16, mvq_to_float_f16_ref, mvq_from_float_f16_ref, mvq_vec_dot_f16_f32_ref);
    set(t, MVQ_TYPE_BF16, mvq_to_float_bf16_ref, mvq_from_float_bf16_ref, mvq_vec_dot_bf16_f32_ref);
    set(t, MVQ_TYPE_Q4_0, mvq_dequantize_row_q4_0_ref, mvq_quantize_row_q4_0_ref,
        mvq_vec_dot_q4_0_q8_0_ref);
    set(t, MVQ_TYPE_Q4_1, mvq_dequantize_row_q4_1_ref, mvq_quantize_row_q4_1_ref,
        mvq_vec_dot_q4_1_q8_1_ref);
    set(t, MVQ_TYPE_Q5_0, mvq_dequantize_row_q5_0_ref, mvq_quantize_row_q5_0_ref,
        mvq_vec_dot_q5_0_q8_0_ref);
    set(t, MVQ_TYPE_Q5_1, mvq_dequantize_row_q5_1_ref, mvq_quantize_row_q5_1_ref,
        mvq_vec_dot_q5_1_q8_1_ref);
    set(t, MVQ_TYPE_Q8_0, mvq_dequantize_row_q8_0_ref, mvq_quantize_row_q8_0_ref,
        mvq_vec_dot_q8_0_q8_0_ref);
    set(t, MVQ_TYPE_Q8_1, mvq_dequantize_row_q8_1_ref, mvq_quantize_row_q8_1_ref, NULL);
    set(t, MVQ_TYPE_IQ4_NL, mvq_dequantize_row_iq4_nl_ref, mvq_quantize_row_iq4_nl_ref,
        mvq_vec_dot_iq4_nl_q8_0_ref);
    set(t, MVQ_TYPE_IQ4_XS, mvq_dequantize_row_iq4_xs_ref, mvq_quantize_row_iq4_xs_ref,
        mvq_vec_dot_iq4_xs_q8_K_ref);
    set(t, MVQ_TYPE_TQ2_0, mvq_dequantize_row_tq2_0_ref, mvq_quantize_row_tq2_0_ref,
        mvq_vec_dot_tq2_0_q8_K_ref);
    set(t, MVQ_TYPE_Q8_K, mvq_dequantize_row_q8_K_ref, mvq_quantize_row_q8_K_ref, NULL);
    /* K-quants: the dot products here, quantize/dequantize registered below */
    t->vec_dot[MVQ_TYPE_Q2_K] = mvq_vec_dot_q2_K_q8_K_ref;
    t->vec_dot[MVQ_TYPE_Q3_K] = mvq_vec_dot_q3_K_q8_K_ref;
    t->vec_dot[MVQ_TYPE_Q4_K] = mvq_vec_dot_q4_K_q8_K_ref;
    t->vec_dot[MVQ_TYPE_Q5_K] = mvq_vec_dot_q5_K_q8_K_ref;
    t->vec_dot[MVQ_TYPE_Q6_K] = mvq_vec_dot_q6_K_q8_K_ref;
    mvq_kquants_init_ref(t);
}
