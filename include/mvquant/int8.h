/* mvquant: W8A8 matrix products (SmoothQuant's setting): activations
 * quantized per token to symmetric int8 with one scale per row, weights
 * int8 per output channel, int32 accumulation (exact: the kernels of every
 * instruction set give the scalar reference's integers), f32 result.  The
 * weight packing is what an engine stores: row-major int8 rows, a scale
 * and the row's sum per output channel (the sum lets VNNI, which multiplies
 * unsigned by signed bytes, offset the activations by 128 exactly). */
#ifndef MVQUANT_INT8_H
#define MVQUANT_INT8_H

#include <mvquant/kernels.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvq_i8_weights {
    int64_t n_out, n_in; /* n_in <= 65536 */
    int8_t *q;           /* n_out rows of n_in, in [-127, 127] */
    float *scale;        /* per output channel: w[o][i] ~ q[o][i] * scale[o] */
    int32_t *sum;        /* per output channel: sum_i q[o][i] */
} mvq_i8_weights;

/* Quantizes f32 weights (n_out rows of n_in) per output channel:
 * scale = max |w| / 127, q = round(w / scale). */
MVQ_API mvq_status mvq_i8_weights_pack(const float *w, int64_t n_out, int64_t n_in, mvq_i8_weights *out,
                                       mvq_error *err);
MVQ_API void mvq_i8_weights_free(mvq_i8_weights *w);

/* n_rows tokens of n values to int8, symmetric per token (as the weights). */
MVQ_API void mvq_i8_quantize_rows(const float *x, int64_t n_rows, int64_t n, int8_t *q, float *scale);

/* acc[t][o] = sum_i xq[t][i] * w->q[o][i] for n_tok tokens (n_tok 1: a
 * GEMV), threaded over pool (NULL: this thread), with the selected table's
 * i8_dot. */
MVQ_API void mvq_i8_gemm_i32(mvq_pool *pool, const mvq_i8_weights *w, const int8_t *xq, int64_t n_tok,
                             int32_t *acc);
/* y[t][o] = x_scale[t] * w->scale[o] * acc[t][o]. */
MVQ_API void mvq_i8_gemm(mvq_pool *pool, const mvq_i8_weights *w, const int8_t *xq, const float *x_scale,
                         int64_t n_tok, float *y);

#ifdef __cplusplus
}
#endif
#endif
