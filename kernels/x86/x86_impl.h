/* Internal to kernels/x86/: the family inits each instruction set's init
 * calls, and the shared tail of the dot products.  Functions of the AVX-512
 * sources go through MVQ_X86_FN(): the SIMDe test build renames them with a
 * _simde suffix (see simd_x86.h). */
#ifndef MVQ_X86_IMPL_H
#define MVQ_X86_IMPL_H

#include "kernels/kernel_impl.h"

/* Scalar reference dot over blocks [from, nb) of a row of type t (x) and its
 * vec_dot_type (y): the SIMD loops leave their leftover blocks to it. */
float mvq_x86_dot_tail(mvq_type t, int64_t from, int64_t nb, const void *x, const void *y);

/* The legacy scale search's candidate evaluators (kernels/search_eval.h)
 * with candidates in lanes (quant_avx2.c, quant_avx512.c). */
struct mvq_search_evals;
extern const struct mvq_search_evals mvq_search_evals_avx2;
extern const struct mvq_search_evals mvq_search_evals_avx512;
extern const struct mvq_search_evals mvq_search_evals_avx512_simde;

void mvq_quant_init_avx2(mvq_kernel_table *t);
/* K-quant weight quantizers (kquant_avx2.c) */
void mvq_kquant_init_avx2(mvq_kernel_table *t);
void mvq_quant_init_avx512(mvq_kernel_table *t);
void mvq_quant_init_avx512_simde(mvq_kernel_table *t);
void mvq_kquant_init_avx512(mvq_kernel_table *t);
void mvq_kquant_init_avx512_simde(mvq_kernel_table *t);
void mvq_dot_init_avx2(mvq_kernel_table *t);
void mvq_dot_kquants_init_avx2(mvq_kernel_table *t);
void mvq_dot_iq4xs_init_avx2(mvq_kernel_table *t);
void mvq_dot_tq2_0_init_avx2(mvq_kernel_table *t);
void mvq_dequant_init_avx2(mvq_kernel_table *t);
void mvq_act_init_avx2(mvq_kernel_table *t);
void mvq_int8_init_avx2(mvq_kernel_table *t);
void mvq_int8_init_avx512(mvq_kernel_table *t);
void mvq_int8_init_avx512_simde(mvq_kernel_table *t);

void mvq_dot_init_avx512(mvq_kernel_table *t);
void mvq_dot_kquants_init_avx512(mvq_kernel_table *t);
void mvq_dot_iq4xs_init_avx512(mvq_kernel_table *t);
void mvq_dequant_init_avx512(mvq_kernel_table *t);
void mvq_act_init_avx512(mvq_kernel_table *t);
void mvq_dot_init_avx512_simde(mvq_kernel_table *t);
void mvq_dot_kquants_init_avx512_simde(mvq_kernel_table *t);
void mvq_dot_iq4xs_init_avx512_simde(mvq_kernel_table *t);
void mvq_dequant_init_avx512_simde(mvq_kernel_table *t);
void mvq_act_init_avx512_simde(mvq_kernel_table *t);
/* tiled quantized GEMMs (gemm_q_*.c) */
void mvq_gemm_q_init_avx2(mvq_kernel_table *t);
void mvq_gemm_q_init_avx512(mvq_kernel_table *t);
/* the F16/BF16 GEMMs on f32 activations (gemm_half_*.c) */
void mvq_gemm_half_init_avx2(mvq_kernel_table *t);
void mvq_gemm_half_init_avx512(mvq_kernel_table *t);
void mvq_gemm_half_init_avx512_simde(mvq_kernel_table *t);
/* the BF16 GEMM (gemm_bf16_avx512.c): only where the CPU has AVX-512 BF16 */
void mvq_gemm_bf16_init_avx512(mvq_kernel_table *t);
void mvq_gemm_bf16_init_avx512_simde(mvq_kernel_table *t);
void mvq_gemm_q_init_avx512_simde(mvq_kernel_table *t);
/* the AVX-512 table's entries built over SIMDe (tests only) */
void mvq_kernels_init_avx512_simde(mvq_kernel_table *t);

#endif
