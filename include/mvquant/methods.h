/* mvquant: quantization methods behind one interface, and their registry.
 *
 * A method is a name, the calibration statistics it reads, an optional
 * preparation over the whole model that returns cross-tensor transforms,
 * and a tensor quantizer.  The job hands every tensor the plan quantizes to
 * its method as f32 rows with the transforms already applied; it knows no
 * method by name.  Adding one: a file in quant/methods/ and a line in
 * quant/methods/registry.c. */
#ifndef MVQUANT_METHODS_H
#define MVQUANT_METHODS_H

#include <mvquant/quantize.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The statistics a method reads: what calibration must collect for it. */
typedef enum mvq_stat_need {
    MVQ_NEED_IMPORTANCE = 1u << 0,    /* mean x^2 per input column */
    MVQ_NEED_MEAN_ABS = 1u << 1,      /* mean |x| per input column (AWQ) */
    MVQ_NEED_MAX_ABS = 1u << 2,       /* max |x| per input column (SmoothQuant) */
    MVQ_NEED_HESSIAN = 1u << 3,       /* the input's x x^T (GPTQ) */
    MVQ_NEED_QKV_NORMS = 1u << 4,     /* ||Q||, ||K||, ||V|| per head dimension */
    MVQ_NEED_BLOCK_OUTPUTS = 1u << 5  /* a layer's outputs, for a block loss */
} mvq_stat_need;

/* Per-column scales s of one linear input of a layer.  The linears that
 * input feeds get W[:, j] * s_j; the tensor producing it gets 1 / s_j: the
 * norm before it (attn_norm, ffn_norm, output_norm) on its values, or, for
 * the inputs of attn_output and ffn_down, the linear before (attn_v,
 * ffn_up) on its rows.  Before rounding, the model computes the same. */
typedef struct mvq_transform {
    int64_t layer;         /* block; the output head's input has layer 0 */
    mvq_calib_input input; /* whose columns */
    int64_t n;             /* columns */
    float *scale;          /* n values, malloc'd, owned by the list */
} mvq_transform;

/* A weight clipping of one linear of a layer (AWQ's clipping search):
 * after its transforms, W[r][j] is clamped to +-max[r * n_groups + j /
 * group] before rounding.  Unlike the scales it changes what the model
 * computes; the search keeps it only where it lowers the output error. */
typedef struct mvq_clip {
    int64_t layer;
    mvq_linear linear;
    int64_t n_out, n_in, group, n_groups;
    float *max; /* n_out * n_groups values, malloc'd, owned by the list */
} mvq_clip;

typedef struct mvq_transform_list {
    int64_t n;
    mvq_transform *items; /* malloc'd */
    int64_t n_clips;
    mvq_clip *clips;      /* malloc'd */
} mvq_transform_list;

/* Appends a transform of n columns with all scales 1 (for the caller to
 * fill): NULL when out of memory. */
MVQ_API mvq_transform *mvq_transform_add(mvq_transform_list *l, int64_t layer, mvq_calib_input input, int64_t n);
/* Appends a clipping of a linear of n_out rows of n_in with groups of
 * group columns, every maximum +infinity (no clipping): NULL when out of
 * memory or group is not positive. */
MVQ_API mvq_clip *mvq_clip_add(mvq_transform_list *l, int64_t layer, mvq_linear linear, int64_t n_out, int64_t n_in,
                               int64_t group);
MVQ_API void mvq_transform_list_free(mvq_transform_list *l);

/* One tensor handed to a method's quantizer. */
typedef struct mvq_method_tensor {
    const char *name;
    const float *rows;             /* n_out rows of n_in values, transforms applied */
    int64_t n_in, n_out;
    mvq_type type;                 /* the type to write (the plan's) */
    const float *importance;       /* n_in mean squares of the input, or NULL */
    const uint8_t *protected_rows; /* n_out flags: rows to quantize with most care; NULL: none */
    const mvq_calib *calib;        /* the statistics the method needs; NULL without calibration */
    void *dst;                     /* receives n_out rows of type */
    /* filled by the quantizer */
    double rel_err;                /* sqrt(sum I (w - q)^2 / sum I w^2), I = importance (1 without) */
    double protected_rel_err;      /* the same over the protected rows; < 0 when none */
    /* for a method with layerwise (below): its state (begin's), else NULL */
    void *layer_state;
    /* filled by such a method: tr(dW H dW^T) of its passes (< 0: not
     * run), the pass kept, and whether it had no statistics for this
     * tensor (and rounded to nearest) */
    double out_err[2];
    int out_err_kept;
    bool no_stats;
} mvq_method_tensor;

/* Optional part of a method that quantizes layer by layer, each layer
 * with statistics of its own inputs (GPTQ).  When the job has calibration
 * tokens (mvq_quantize_opts.calib_tokens), it runs them through the model
 * one layer at a time (mvq_forward_layerwise) with the method's observer,
 * and after each layer's observations hands that layer's tensors to
 * quantize with t->layer_state set; with mvq_quantize_opts.sequential the
 * quantized layer computes what the next layer sees, else the model's own.
 * The output matrix follows the last layer; every other tensor (the
 * embedding) is quantized after the pass, layer_state still set, for the
 * method to find that it has no statistics for it. */
typedef struct mvq_method_layerwise {
    uint32_t taps; /* MVQ_TAP_BIT(...) the observer wants */
    /* the state of one job; opts: "key=value" strings, NULL-terminated
     * (mvq_quantize_opts.method_opts; may be NULL) */
    void *(*begin)(const mvq_model *m, const char *const *opts, mvq_pool *pool, mvq_error *err);
    mvq_observe_fn observe; /* user: begin's state */
    void (*end)(void *state);
} mvq_method_layerwise;

/* What a method's preparation sees: the input, its statistics, the plan's
 * decisions so far (types after protection; n_tensors entries in the
 * file's order), and the job's options (pool, method_opts, calibration
 * tokens, protect_massive). */
typedef struct mvq_method_context {
    const mvq_gguf *in;
    const mvq_calib *calib;
    const mvq_tensor_plan *tensors;
    int64_t n_tensors;
    const mvq_quantize_opts *opts;
} mvq_method_context;

typedef struct mvq_method {
    const char *name;  /* what --method takes */
    const char *about; /* one line for --help */
    uint32_t needs;    /* mvq_stat_need bits */
    /* Optional (NULL: no transforms): looks at the whole model and its
     * statistics before any tensor is written, appending to out. */
    mvq_status (*prepare)(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err);
    /* Quantizes t->rows into t->dst, rows split over the pool (may be NULL). */
    mvq_status (*quantize)(mvq_method_tensor *t, mvq_pool *pool, mvq_error *err);
    /* Optional (NULL: quantize sees the one-pass statistics of o->calib) */
    const mvq_method_layerwise *layerwise;
} mvq_method;

/* SmoothQuant's migration scales for one input: s_j = max|X_j|^alpha /
 * max(max|W_j|, 1e-5)^(1 - alpha), clamped >= 1e-5 (x_max: the input's
 * largest |x| per column; w_max: the largest |W[:, j]| over the linears it
 * feeds); all 1 when x_max is all 0 (no such statistics).  The model
 * divides the input by s and multiplies those columns by s. */
MVQ_API mvq_status mvq_smoothquant_scales(const float *x_max, const float *w_max, int64_t n, double alpha,
                                          float *scale, mvq_error *err);
/* Its default alpha: 0.85 for llama and mistral (the reference's for
 * Llama-2 and Llama-3), 0.5 elsewhere. */
MVQ_API double mvq_smoothquant_default_alpha(const mvq_hparams *hp);
/* The scales of every layer's attn_norm -> attn_q/k/v and ffn_norm ->
 * ffn_gate/up, from c's max |x|, appended to out. */
MVQ_API mvq_status mvq_smoothquant_transforms(const mvq_model *m, const mvq_calib *c, double alpha,
                                              mvq_transform_list *out, mvq_error *err);

/* The registered methods, NULL-terminated; the first is the default. */
MVQ_API const mvq_method *const *mvq_methods(void);
/* NULL when no method has that name (case-sensitive). */
MVQ_API const mvq_method *mvq_method_find(const char *name);
MVQ_API const mvq_method *mvq_method_default(void);
/* The registered names, comma-separated, for messages (cut to size). */
MVQ_API void mvq_method_list(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
