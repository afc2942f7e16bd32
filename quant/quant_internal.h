/* Internal to quant/: pieces of the quantization job. */
#ifndef MVQ_QUANT_INTERNAL_H
#define MVQ_QUANT_INTERNAL_H

#include <mvquant/quantize.h>

/* Massive dimensions of every layer, from the calibration norms. */
typedef struct mvq_massive_map {
    int64_t n_layer, head_dim;
    int64_t n_q, n_k;   /* n_head * head_dim, n_head_kv * head_dim */
    uint8_t *q, *k;     /* [layer][n_q] and [layer][n_k]: 1 for massive dims */
    int *layer_count;   /* massive dims (Q + K) per layer */
} mvq_massive_map;

mvq_status mvq_massive_map_build(mvq_massive_map *mm, const mvq_calib *c, const mvq_massive_params *p,
                                 mvq_error *err);
void mvq_massive_map_free(mvq_massive_map *mm);
/* Rows of a layer's linear that produce massive dimensions (with their
 * RoPE partner dims, since the rotation mixes the two): rows[n_out] set to
 * 1.  Returns the count, 0 when it is not attn_q/attn_k or the layer has none. */
int mvq_massive_rows(const mvq_massive_map *mm, const mvq_hparams *hp, int64_t layer, mvq_linear linear,
                     uint8_t *rows, int64_t n_out);

/* Quantizes one tensor's rows on the pool.  src rows are of src_type (any
 * type with a to_float kernel); dst receives rows of dst_type.  imatrix (n_in
 * values) may be NULL.  Rows flagged in careful get the best of several
 * weightings.  Fills rel_err and, when careful is not NULL, careful_rel_err. */
typedef struct mvq_tensor_job {
    const void *src;
    mvq_type src_type, dst_type;
    int64_t n_in, n_out;
    const float *imatrix;
    const uint8_t *careful;
    void *dst;
    double rel_err, careful_rel_err;
} mvq_tensor_job;

mvq_status mvq_quantize_tensor(mvq_tensor_job *job, mvq_pool *pool, mvq_error *err);

#endif
