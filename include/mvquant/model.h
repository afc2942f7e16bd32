/* mvquant: Llama-family model view, forward pass with observation hooks,
 * and evaluation (perplexity, KL divergence).
 *
 * A model is a view over a GGUF file: hyperparameters from the `<arch>.*`
 * keys and pointers to the tensors inside the mapping (no copy).  The
 * forward pass runs a causal prefill over a batch of tokens, with every
 * weight type of the kernel library (by default activations quantized on
 * the fly to the weight type's dot-product type, as llama.cpp does), multithreaded on
 * an mvq_pool.  Observation hooks let calibration and analysis see the
 * activations at fixed points (taps) of each layer. */
#ifndef MVQUANT_MODEL_H
#define MVQUANT_MODEL_H

#include <mvquant/common.h>
#include <mvquant/gguf.h>
#include <mvquant/kernels.h>
#include <mvquant/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- model */

typedef enum mvq_arch {
    MVQ_ARCH_LLAMA = 0,
    MVQ_ARCH_MISTRAL = 1,
    MVQ_ARCH_QWEN2 = 2, /* Q/K/V biases, NEOX RoPE */
    MVQ_ARCH_COUNT = 3
} mvq_arch;

typedef enum mvq_rope_style {
    MVQ_ROPE_NORMAL = 0, /* llama.cpp mode 0: rotates adjacent pairs (x[2i], x[2i+1]) */
    MVQ_ROPE_NEOX = 2    /* llama.cpp mode 2: rotates (x[i], x[i + n_rot/2]) */
} mvq_rope_style;

typedef struct mvq_hparams {
    mvq_arch arch;
    int64_t n_vocab;     /* rows of token_embd */
    int64_t n_embd;      /* <arch>.embedding_length */
    int64_t n_layer;     /* <arch>.block_count */
    int64_t n_ff;        /* <arch>.feed_forward_length */
    int64_t n_head;      /* <arch>.attention.head_count */
    int64_t n_head_kv;   /* <arch>.attention.head_count_kv (default n_head) */
    int64_t head_dim;    /* <arch>.attention.key_length (default n_embd / n_head) */
    int64_t n_rot;       /* <arch>.rope.dimension_count (default head_dim) */
    int64_t n_ctx_train; /* <arch>.context_length */
    double rms_eps;      /* <arch>.attention.layer_norm_rms_epsilon */
    double rope_freq_base; /* <arch>.rope.freq_base (default 10000) */
    mvq_rope_style rope_style;
} mvq_hparams;

/* One tensor as the forward pass uses it, in GGUF layout: n_out rows of n_in
 * values (ne[0] = n_in); vectors have n_out = 1.  data points into the
 * mapping, or into caller memory for models built or modified in memory
 * (a quantizer may point a weight at a candidate and run the pass). */
typedef struct mvq_weight {
    const char *name; /* GGUF tensor name; NULL when absent */
    mvq_type type;
    const void *data; /* NULL when absent (optional tensors) */
    int64_t n_in, n_out;
} mvq_weight;

/* The linear layers of a block, in the order llama.cpp applies them. */
typedef enum mvq_linear {
    MVQ_LINEAR_Q = 0,    /* attn_q:      n_embd -> n_head * head_dim */
    MVQ_LINEAR_K = 1,    /* attn_k:      n_embd -> n_head_kv * head_dim */
    MVQ_LINEAR_V = 2,    /* attn_v:      n_embd -> n_head_kv * head_dim */
    MVQ_LINEAR_O = 3,    /* attn_output: n_head * head_dim -> n_embd */
    MVQ_LINEAR_GATE = 4, /* ffn_gate:    n_embd -> n_ff */
    MVQ_LINEAR_UP = 5,   /* ffn_up:      n_embd -> n_ff */
    MVQ_LINEAR_DOWN = 6, /* ffn_down:    n_ff -> n_embd */
    MVQ_LINEAR_COUNT = 7
} mvq_linear;

typedef struct mvq_layer {
    mvq_weight attn_norm, ffn_norm;       /* n_embd vectors */
    mvq_weight linear[MVQ_LINEAR_COUNT];  /* indexed by mvq_linear */
    mvq_weight bias[MVQ_LINEAR_COUNT];    /* optional ("blk.N.attn_q.bias", ...); data NULL when absent */
} mvq_layer;

typedef struct mvq_model {
    mvq_hparams hp;
    mvq_weight token_embd;  /* n_vocab rows of n_embd */
    mvq_weight output_norm; /* n_embd */
    mvq_weight output;      /* n_vocab rows of n_embd; == token_embd when tied */
    bool output_tied;       /* output.weight absent: the embedding is reused */
    mvq_weight rope_freqs;  /* optional per-pair frequency divisors (n_rot/2), llama 3 style */
    mvq_layer *layers;      /* hp.n_layer of them */
    const mvq_gguf *gguf;   /* the file viewed; NULL for models built in memory */
    bool owns_gguf;         /* mvq_model_free closes gguf */
} mvq_model;

/* Opens path and builds the view; the model owns the file handle. */
MVQ_API mvq_model *mvq_model_open(const char *path, mvq_error *err);
/* Builds a view over an open file, which must outlive the model.
 * Unsupported architectures, missing keys or tensors, inconsistent shapes
 * and weight types the kernels cannot read are errors naming the file and
 * the key or tensor. */
MVQ_API mvq_model *mvq_model_from_gguf(const mvq_gguf *g, mvq_error *err);
MVQ_API void mvq_model_free(mvq_model *m);

MVQ_API const char *mvq_arch_name(mvq_arch arch);        /* "llama", "mistral", "qwen2" */
MVQ_API const char *mvq_linear_name(mvq_linear which);   /* "attn_q", ..., "ffn_down" */
/* Which linear of which block a tensor is, from its llama.cpp name
 * ("blk.3.attn_q.weight": MVQ_LINEAR_Q, *layer 3); MVQ_LINEAR_COUNT (and
 * *layer -1) for any other tensor.  layer may be NULL. */
MVQ_API mvq_linear mvq_tensor_linear(const char *name, int64_t *layer);

/* --------------------------------------------------- observation hooks */

/* The points of a layer where activations can be observed.  Each one is the
 * input of some linear layers (see mvq_tap_linears) or an attention tensor.
 * Rows are tokens of the batch (row-major, n_tokens x dim). */
typedef enum mvq_tap {
    MVQ_TAP_RESIDUAL = 0,   /* residual stream entering the layer          [n_embd] */
    MVQ_TAP_ATTN_IN = 1,    /* after attn_norm: input of attn_q/k/v         [n_embd] */
    MVQ_TAP_Q_PRE_ROPE = 2, /* Q (bias added), before RoPE       [n_head x head_dim] */
    MVQ_TAP_K_PRE_ROPE = 3, /* K (bias added), before RoPE    [n_head_kv x head_dim] */
    MVQ_TAP_Q = 4,          /* Q after RoPE                      [n_head x head_dim] */
    MVQ_TAP_K = 5,          /* K after RoPE                   [n_head_kv x head_dim] */
    MVQ_TAP_V = 6,          /* V (bias added)                 [n_head_kv x head_dim] */
    MVQ_TAP_ATTN_OUT = 7,   /* attention output: input of attn_output [n_head x head_dim] */
    MVQ_TAP_FFN_IN = 8,     /* after ffn_norm: input of ffn_gate/up         [n_embd] */
    MVQ_TAP_FFN_DOWN_IN = 9, /* silu(gate) * up: input of ffn_down            [n_ff] */
    MVQ_TAP_OUTPUT_IN = 10, /* after output_norm: input of output; layer = n_layer [n_embd] */
    MVQ_TAP_COUNT = 11
} mvq_tap;

#define MVQ_TAP_BIT(tap) (1u << (tap))
#define MVQ_TAP_ALL ((1u << MVQ_TAP_COUNT) - 1u)
/* The inputs of every linear layer (calibration statistics). */
#define MVQ_TAP_LINEAR_INPUTS \
    (MVQ_TAP_BIT(MVQ_TAP_ATTN_IN) | MVQ_TAP_BIT(MVQ_TAP_ATTN_OUT) | MVQ_TAP_BIT(MVQ_TAP_FFN_IN) | \
     MVQ_TAP_BIT(MVQ_TAP_FFN_DOWN_IN) | MVQ_TAP_BIT(MVQ_TAP_OUTPUT_IN))

typedef struct mvq_observation {
    mvq_tap tap;
    int64_t layer;    /* 0 .. n_layer-1; n_layer for MVQ_TAP_OUTPUT_IN */
    float *data;      /* n_tokens rows of dim values */
    int64_t n_tokens; /* rows: the batch's tokens, positions 0 .. n_tokens-1 */
    int64_t dim;      /* = n_heads * head_dim */
    int64_t n_heads;  /* heads for Q/K/V/attention output taps; 1 otherwise */
    int64_t head_dim; /* dim of one head; = dim when n_heads is 1 */
    const int32_t *tokens; /* the batch */
    int64_t pos;      /* position of row 0 */
    /* false: the rows are one sequence, row t at position pos + t (a batched
     * pass); true: each row is another sequence, all at position pos (the
     * token-by-token decoder) */
    bool decoding;
} mvq_observation;

/* Called on the thread that runs the pass, once per tap and layer, in the
 * order of the computation.  The data is valid during the call only.  A
 * MODIFY observer may change it in place (ablation, activation or KV-cache
 * quantization): the pass goes on with the changed values. */
typedef void (*mvq_observe_fn)(void *user, const mvq_observation *obs);

typedef enum mvq_observer_kind {
    MVQ_OBSERVER_READ = 0,  /* looks only (statistics) */
    MVQ_OBSERVER_MODIFY = 1 /* may change obs->data */
} mvq_observer_kind;

/* One observer of a pass: its taps (MVQ_TAP_BIT(...) | ...), kind, function and context. */
typedef struct mvq_observer {
    uint32_t taps;
    mvq_observer_kind kind;
    mvq_observe_fn fn;
    void *user;
} mvq_observer;

/* Observers on one pass at once, at most. */
#define MVQ_MAX_OBSERVERS 8

MVQ_API const char *mvq_tap_name(mvq_tap tap); /* "attn_in", "q", "k_pre_rope", ... */
/* The linear layers of a block fed by tap (e.g. ATTN_IN: Q, K, V): writes up
 * to 3 of them to out and returns their count (0 for attention taps and for
 * OUTPUT_IN, whose consumer is the model's output matrix). */
MVQ_API int mvq_tap_linears(mvq_tap tap, mvq_linear out[3]);
/* The tap that observes the input of a linear layer. */
MVQ_API mvq_tap mvq_linear_input_tap(mvq_linear which);

/* --------------------------------------------------------- forward pass */

typedef struct mvq_forward mvq_forward;

/* Scratch for batches of up to max_tokens tokens (max_tokens may exceed
 * the training context).  pool may be NULL (single thread); it must
 * outlive the forward context.  Norm vectors and biases are converted to
 * f32 here: changing them in the model later has no effect; the matrices
 * are read at each run. */
MVQ_API mvq_forward *mvq_forward_create(const mvq_model *model, int64_t max_tokens, mvq_pool *pool,
                                        mvq_error *err);
MVQ_API void mvq_forward_free(mvq_forward *f);

/* Adds an observer (copied; its user context must outlive its use) and
 * writes its id (> 0, may be NULL) for mvq_forward_remove_observer.  At each
 * tap the MODIFY observers run first, then the READ ones, each kind in the
 * order added: readers see the values the pass goes on with.  Taps no
 * observer asks for cost nothing.  Errors: no function, an unknown kind,
 * more than MVQ_MAX_OBSERVERS. */
MVQ_API mvq_status mvq_forward_add_observer(mvq_forward *f, const mvq_observer *o, int *id, mvq_error *err);
/* Removes the observer of that id (unknown ids: nothing). */
MVQ_API void mvq_forward_remove_observer(mvq_forward *f, int id);

/* How the products with non-F32 weights are computed. */
typedef enum mvq_forward_numerics {
    /* the default: activations quantized on the fly to the weight type's
     * dot-product type (Q8_0, Q8_K, ...), as llama.cpp does, so perplexity
     * and KL divergence of quantized files match llama.cpp's */
    MVQ_NUMERICS_LLAMA_CPP = 0,
    /* whatever mvq_matmul finds fastest (for batches: weight tiles
     * dequantized to f32 and f32 activations), slightly more exact;
     * F16/BF16 weights take mvq_matmul's path in both numerics */
    MVQ_NUMERICS_FAST = 1
} mvq_forward_numerics;
MVQ_API void mvq_forward_set_numerics(mvq_forward *f, mvq_forward_numerics numerics);

/* Causal prefill of tokens[0..n_tokens) at positions 0..n_tokens-1.
 * logits, when not NULL, receives n_tokens - first_logit rows of n_vocab:
 * the next-token logits after tokens first_logit .. n_tokens-1 (only those
 * rows go through the output matrix).  With logits NULL the output matrix
 * is skipped (calibration); OUTPUT_IN is still observed for all tokens. */
MVQ_API mvq_status mvq_forward_run(mvq_forward *f, const int32_t *tokens, int64_t n_tokens,
                                   int64_t first_logit, float *logits, mvq_error *err);

/* ------------------------------------------------------ layer by layer */

/* Called once per layer, after the observers have seen all of layer's
 * activations over the calibration set.  It may point weights' linear
 * matrices at other data (the quantized layer, say); with sequential set,
 * those compute the output that layer + 1 receives.  The data must stay
 * valid until the driver returns; norms and biases are not re-read. */
typedef mvq_status (*mvq_layer_done_fn)(void *user, int64_t layer, mvq_layer *weights, mvq_error *err);

typedef struct mvq_layerwise_opts {
    int64_t n_ctx; /* sequence length; <= 0: 512, or the training context when shorter */
    int32_t bos;   /* first token of each sequence; < 0: none */
    const mvq_observer *observers; /* n_observers of them, as mvq_forward_add_observer */
    int n_observers;
    mvq_layer_done_fn layer_done; /* may be NULL */
    void *user;
    /* each layer runs twice: observed with the model's weights, then again
     * with those layer_done left, for the output fed forward */
    bool sequential;
    /* drops each layer's pages of the model's mapping once it is done, so
     * the resident memory stays near one layer (they are read back if used again) */
    bool release;
    void (*progress)(void *user, int64_t done, int64_t total); /* tokens x layers, scaled to tokens */
} mvq_layerwise_opts;

/* Runs tokens in sequences of n_ctx (the last one shorter, bos first in
 * each) through the model one layer at a time: all sequences through layer
 * l, then layer l + 1, holding the residual stream of the whole set
 * (n_tokens x n_embd floats) and one sequence's scratch.  The observers
 * see exactly what mvq_forward_run shows them for each sequence (MVQ_TAP_
 * OUTPUT_IN included, no logits), in layer order rather than sequence
 * order; with the default weights the activations are bit for bit those
 * of mvq_forward_run. */
MVQ_API mvq_status mvq_forward_layerwise(const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                                         const mvq_layerwise_opts *opts, mvq_pool *pool, mvq_error *err);

/* ------------------------------------------------------------ evaluation */

typedef struct mvq_eval_progress {
    int64_t chunk, n_chunks; /* chunks done so far, of n_chunks */
    double ppl;              /* running perplexity */
    double kld_mean;         /* running mean KL divergence (0 without a base) */
    double seconds;          /* elapsed */
} mvq_eval_progress;

typedef struct mvq_eval_opts {
    int64_t n_ctx;      /* chunk length (default 512 when <= 0) */
    int64_t max_chunks; /* <= 0: all */
    int32_t bos;        /* replaces the first token of each chunk; < 0: none */
    /* called after each chunk (may be NULL), from the pool's threads but
     * never two at a time */
    void (*progress)(void *user, const mvq_eval_progress *p);
    void *user;
    const struct mvq_kv_quant *kv; /* the model's KV cache (not the base's); NULL: f32 */
    /* installed on the model's passes (not the base's), as
     * mvq_forward_add_observer; with several worker threads they run
     * concurrently, on different chunks */
    const mvq_observer *observers;
    int n_observers;
    const struct mvq_act_int8 *act; /* int8 activations on the model's passes (not the base's); NULL: none */
} mvq_eval_opts;

typedef struct mvq_eval_result {
    int64_t n_tokens;   /* tokens given */
    int64_t n_ctx, n_chunks;
    int64_t n_scored;   /* predictions scored: n_chunks * (n_ctx - 1 - n_ctx/2) */
    double ppl, ppl_err; /* exp(mean NLL) and its standard error, as llama.cpp */
    double seconds;      /* wall time of the evaluation; with a base, the model's share of it */
    double tokens_per_s; /* n_chunks * n_ctx / seconds */
    /* against the base model (has_base): */
    bool has_base;
    double base_ppl, base_ppl_err, base_seconds;
    double ppl_ratio, ppl_ratio_err; /* PPL(model)/PPL(base), error with the covariance */
    double kld_mean, kld_err;        /* mean KL(base || model) and its standard error */
    double kld_median, kld_p99, kld_p999, kld_max;
    double same_top, same_top_err;   /* fraction where both rank the same token first */
    double dp_rms, dp_rms_err;       /* RMS of p_model(correct) - p_base(correct) */
    double dp_mean, dp_mean_err;
} mvq_eval_result;

/* llama.cpp's perplexity method over an already tokenized text (with its
 * leading BOS): disjoint chunks of n_ctx tokens, bos replacing the first
 * token of each, scoring the predictions of the second half of each chunk
 * (n_ctx - 1 - n_ctx/2 per chunk).  With base not NULL, both models run on
 * the same chunks and the KL divergence statistics are filled in (exact,
 * in double; llama.cpp stores the base in 16 bits).  Needs at least
 * 2 * n_ctx tokens.  With a pool of N threads and at least N chunks, each
 * thread runs whole chunks on its own (no synchronisation inside a pass);
 * the result does not depend on the thread count. */
MVQ_API mvq_status mvq_eval_perplexity(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                                       int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool,
                                       mvq_eval_result *out, mvq_error *err);

/* The same, with the statistics also split by kind of prediction:
 * out[0] all of them (exactly mvq_eval_perplexity's result), out[1] the
 * contextual ones (the target's id occurs earlier in its chunk, at
 * positions 1 .. j when predicting position j + 1: the chunk's first
 * token, replaced by bos, excluded), out[2] the others. */
MVQ_API mvq_status mvq_eval_perplexity_split(const mvq_model *model, const mvq_model *base, const int32_t *tokens,
                                             int64_t n_tokens, const mvq_eval_opts *opts, mvq_pool *pool,
                                             mvq_eval_result out[3], mvq_error *err);


/* ------------------------------------------- int8 activations (W8A8) */

/* SmoothQuant's W8A8 setting on the reference pass: every linear of the
 * blocks (attn_q/k/v/output, ffn_gate/up/down; not the embedding or the
 * output matrix, as SmoothQuant keeps them) takes its input quantized per
 * token to symmetric int8 and multiplies int8 per-output-channel weights,
 * requantized from the model's weights (any type: dequantized, then
 * mvq_i8_weights_pack) once, by mvq_i8_gemm.  With bmm, Q and K (after
 * RoPE) and V are rounded through int8 per token as well (one scale per
 * token over all heads, as SmoothQuant's fake-quantized batched products);
 * the attention then computes in f32 on the rounded values.  The channels
 * of keep (massive Q/K channels) stay out of the per-token scale, held in
 * F16 beside the int8 rest. */
typedef struct mvq_act_int8 mvq_act_int8;
typedef struct mvq_act_int8_opts {
    bool linears; /* the W8A8 linears */
    bool bmm;     /* Q, K, V per token through int8 */
    /* [n_layer][n_head_kv * head_dim], may be NULL: K channels (and the
     * same channels of the query heads reading them) kept in F16 under bmm */
    const uint8_t *k_keep;
} mvq_act_int8_opts;

/* Packs m's block linears (with o->linears) over pool (may be NULL); m
 * must outlive the result, and its weights must not be repointed. */
MVQ_API mvq_act_int8 *mvq_act_int8_create(const mvq_model *m, const mvq_act_int8_opts *o, mvq_pool *pool,
                                          mvq_error *err);
MVQ_API void mvq_act_int8_free(mvq_act_int8 *a);
/* Bytes of the packed int8 weights (q, scales, sums). */
MVQ_API size_t mvq_act_int8_weight_bytes(const mvq_act_int8 *a);
/* Rounds x (n values) through int8 as the bmm setting does: scale = max
 * |x_i| / 127 over the channels without keep[i] (keep may be NULL), those
 * to round(x / scale) * scale, the kept ones to F16. */
MVQ_API void mvq_act_int8_round_row(float *x, int64_t n, const uint8_t *keep);
/* The forward pass with int8 activations (NULL: none); a must be made
 * for f's model and outlive f.  Allocates the int8 scratch. */
MVQ_API mvq_status mvq_forward_set_act(mvq_forward *f, const mvq_act_int8 *a, mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
