/* Internal to quant/: the one transformer layer (attention with RoPE and
 * GQA, SwiGLU MLP, RMSNorms) that the batched forward pass, the
 * token-by-token decoder and the layer-by-layer calibration driver run,
 * with the observer list called at its taps. */
#ifndef MVQ_LAYER_INTERNAL_H
#define MVQ_LAYER_INTERNAL_H

#include <mvquant/model.h>

/* The observers of one pass, in a fixed array: no allocation on the way. */
typedef struct mvq_observers {
    int n, next_id;
    uint32_t mask; /* union of the observers' taps */
    mvq_observer list[MVQ_MAX_OBSERVERS];
    int id[MVQ_MAX_OBSERVERS];
} mvq_observers;

mvq_status mvq_observers_add(mvq_observers *s, const mvq_observer *o, int *id, mvq_error *err);
void mvq_observers_remove(mvq_observers *s, int id);
static inline bool mvq_observers_want(const mvq_observers *s, mvq_tap tap)
{
    return (s->mask & MVQ_TAP_BIT(tap)) != 0;
}
/* Modifying observers first, then readers, each in the order added. */
void mvq_observers_emit(const mvq_observers *s, const mvq_observation *o);

/* f32 copies of the vectors (norms, biases): per layer attn_norm,
 * ffn_norm, then a bias per linear (NULL when absent); output_norm last. */
enum { MVQ_VEC_ATTN_NORM = 0, MVQ_VEC_FFN_NORM = 1, MVQ_VEC_BIAS0 = 2, MVQ_VEC_PER_LAYER = 2 + MVQ_LINEAR_COUNT };
typedef struct mvq_layer_vectors {
    float **vec;
    float *data;
} mvq_layer_vectors;
mvq_status mvq_layer_vectors_init(mvq_layer_vectors *lv, const mvq_model *m, mvq_error *err);
void mvq_layer_vectors_free(mvq_layer_vectors *lv);
static inline float *const *mvq_layer_vecs(const mvq_layer_vectors *lv, int64_t il)
{
    return lv->vec + il * MVQ_VEC_PER_LAYER;
}

/* RoPE tables for positions 0..n_pos-1 (the model's frequency factors
 * applied); *cos_t and *sin_t are malloc'd. */
mvq_status mvq_layer_rope_tables(const mvq_model *m, int64_t n_pos, float **cos_t, float **sin_t, mvq_error *err);

/* Which matrix-product path a linear takes. */
typedef enum mvq_linear_policy {
    MVQ_POLICY_LLAMA_CPP = 0, /* quantized weights by their dot product (MVQ_NUMERICS_LLAMA_CPP) */
    MVQ_POLICY_FAST = 1,      /* mvq_matmul's choice (MVQ_NUMERICS_FAST) */
    MVQ_POLICY_DECODE = 2     /* under 4 rows by the dot product, as oneDNN costs more to start */
} mvq_linear_policy;

/* y = x W^T (+ bias) for n rows. */
mvq_status mvq_layer_linear(mvq_pool *pool, mvq_linear_policy policy, const mvq_weight *w, const float *bias,
                            const float *x, int64_t n, float *y, mvq_error *err);

/* Scratch and context of one layer run over n rows (x: n rows of n_embd,
 * updated in place).  Batched: rows are positions 0..n-1 of one sequence
 * (kt and scores as mvq_attention wants).  Cached (k_cache set): rows are
 * n sequences each at position pos; their K and V go to the cache of this
 * layer ([sequence][max_pos][kv_dim]) and they attend to positions 0..pos. */
typedef struct mvq_layer_pass {
    const mvq_model *m;
    mvq_pool *pool;
    mvq_linear_policy policy;
    const mvq_layer_vectors *vec;
    const float *rope_cos, *rope_sin;
    float *xn, *q, *k, *v, *att, *gate, *up, *tmp, *kt, *scores;
    float *k_cache, *v_cache;
    int64_t pos, max_pos;
    const mvq_observers *obs;
    const int32_t *tokens; /* of the rows, for observations */
    const struct mvq_kv_quant *kv; /* quantized KV cache; NULL: f32 */
    const mvq_act_int8 *act;       /* int8 activations (quant/model/act_int8.c); NULL: none */
    const struct mvq_act_scratch *act_scratch;
} mvq_layer_pass;

/* Layer il with the weights L (the model's, or a replacement). */
mvq_status mvq_layer_run(const mvq_layer_pass *p, const mvq_layer *L, int64_t il, float *x, int64_t n,
                         mvq_error *err);
/* A pass ready to run any layer of m over up to n_ctx tokens of one
 * sequence, observed by no one (pass.obs may be pointed elsewhere). */
typedef struct mvq_layer_runner {
    mvq_layer_pass pass;
    float *scratch;
    mvq_layer_vectors vec;
    float *rope_cos, *rope_sin;
    mvq_observers none;
} mvq_layer_runner;
mvq_status mvq_layer_runner_init(mvq_layer_runner *r, const mvq_model *m, int64_t n_ctx, mvq_pool *pool,
                                 mvq_error *err);
void mvq_layer_runner_free(mvq_layer_runner *r);

/* Observes data at tap as a pass of p would. */
void mvq_layer_observe(const mvq_layer_pass *p, mvq_tap tap, int64_t il, float *data, int64_t n, int64_t n_heads,
                       int64_t head_dim);

/* The quantized cache on n rows of Q, K (after RoPE) and V of layer il:
 * K and V rows through their cache types, Q through K's dot type
 * (quant/model/kv_quant.c). */
mvq_status mvq_kv_apply(const struct mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il, float *q, float *k,
                        float *v, int64_t n, mvq_error *err);

#endif
