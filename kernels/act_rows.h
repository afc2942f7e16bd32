/* Internal to kernels/: the row loops of the activation quantizers (Q8_0,
 * Q8_1, Q8_K), shared by kernels/x86/act_avx2.c, act_avx512.c and
 * kernels/arm/act_neon.c.  The includer first defines
 *   float quantize_block32(const float *x, int8_t *qs, int *sum)
 *       one block of 32 at scale amax/127: returns d, sets qs and their sum
 *   void quantize_block_q8_K(const float *x, mvq_block_q8_K *y)
 *   uint16_t float_to_half(float)   the reference's rounding to fp16
 * bit-exact with the scalar reference, and ACT_SEARCH_EVALS, the evaluators
 * of the weight search (kernels/search_eval.h) Q8_0 runs with importance. */
#ifndef MVQ_ACT_ROWS_H
#define MVQ_ACT_ROWS_H

/* Q8_0 is also a weight type: with importance weights the reference searches. */
static void quantize_row_q8_0(const float *x, void *vy, int64_t n, const float *imatrix)
{
    if (imatrix) {
        mvq_quantize_row_q8_0_with(ACT_SEARCH_EVALS, x, vy, n, imatrix);
        return;
    }
    mvq_block_q8_0 *y = vy;
    int sum;
    for (int64_t i = 0; i < n / MVQ_QK8_0; i++)
        y[i].d = float_to_half(quantize_block32(x + i * MVQ_QK8_0, y[i].qs, &sum));
}

static void quantize_row_q8_1(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_block_q8_1 *y = vy;
    int sum;
    for (int64_t i = 0; i < n / MVQ_QK8_1; i++) {
        const float d = quantize_block32(x + i * MVQ_QK8_1, y[i].qs, &sum);
        y[i].d = float_to_half(d);
        y[i].s = float_to_half((float)sum * d);
    }
}

static void quantize_row_q8_K(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / MVQ_QK_K; i++)
        quantize_block_q8_K(x + i * MVQ_QK_K, y + i);
}

static void fill_act(mvq_kernel_table *t)
{
    t->from_float[MVQ_TYPE_Q8_0] = quantize_row_q8_0;
    t->from_float[MVQ_TYPE_Q8_1] = quantize_row_q8_1;
    t->from_float[MVQ_TYPE_Q8_K] = quantize_row_q8_K;
}

#endif
