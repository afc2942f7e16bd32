/* Internal to quant/: the forward pass's building blocks and the
 * double-precision reference it is checked against. */
#ifndef MVQ_MODEL_INTERNAL_H
#define MVQ_MODEL_INTERNAL_H

#include <mvquant/model.h>

/* y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, for n_rows rows of dim. */
void mvq_rmsnorm_rows(const float *x, float *y, const float *w, int64_t n_rows, int64_t dim, float eps);

/* cos/sin of the RoPE angles for positions 0..n_pos-1 and pairs
 * 0..n_rot/2-1: theta = pos * base^(-2i/n_rot) / freq_factor[i]
 * (freq_factors may be NULL).  Each table holds n_pos * n_rot/2 values. */
void mvq_rope_tables(int64_t n_pos, int64_t n_rot, double base, const float *freq_factors, float *cos_t,
                     float *sin_t);
/* Rotates n_tokens rows of n_heads * head_dim values in place (token t at position t). */
void mvq_rope_apply(float *x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t n_rot,
                    mvq_rope_style style, const float *cos_t, const float *sin_t);

/* gate[i] = silu(gate[i]) * up[i] */
void mvq_swiglu(float *gate, const float *up, int64_t n);

/* Causal grouped-query attention, f32 softmax, over n_tokens rows.
 * q: [n_tokens x n_head*head_dim]; k, v: [n_tokens x n_head_kv*head_dim];
 * out: [n_tokens x n_head*head_dim].  kt: scratch of
 * n_head_kv*head_dim*mvq_attention_kt_stride(n_tokens) floats; scores: scratch
 * of mvq_attention_kt_stride(n_tokens) floats per pool thread. */
typedef struct mvq_attention_args {
    const float *q, *k, *v;
    float *out, *kt, *scores;
    int64_t n_tokens, n_head, n_head_kv, head_dim;
} mvq_attention_args;
void mvq_attention(mvq_pool *pool, const mvq_attention_args *a);
/* Keys per row of the transposed K: n_tokens rounded up to a multiple of 4. */
static inline int64_t mvq_attention_kt_stride(int64_t n_tokens)
{
    return (n_tokens + 3) & ~(int64_t)3;
}

/* Attention of one query row (n_head heads) to n_keys cached keys and
 * values ([n_keys x n_head_kv*head_dim]): the token-by-token decoder's
 * arithmetic (scalar softmax, sum in double).  scores: n_keys floats. */
void mvq_attention_cached(const float *q, const float *kc, const float *vc, int64_t n_keys, int64_t n_head,
                          int64_t n_head_kv, int64_t head_dim, float *scores, float *att);

/* The whole pass in double precision, straight from the definitions
 * (weights dequantized to f32 then widened): logits for every token,
 * n_tokens rows of n_vocab.  Slow; for tests. */
mvq_status mvq_forward_reference(const mvq_model *m, const int32_t *tokens, int64_t n_tokens, double *logits,
                                 mvq_error *err);

#endif
