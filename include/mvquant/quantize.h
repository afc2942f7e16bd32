/* mvquant: the quantization job (massive values: <mvquant/massive.h>;
 * calibration: <mvquant/calib.h>; the plan: <mvquant/plan.h>; methods:
 * <mvquant/methods.h>). */
#ifndef MVQUANT_QUANTIZE_H
#define MVQUANT_QUANTIZE_H

#include <mvquant/calib.h>
#include <mvquant/gguf.h>
#include <mvquant/massive.h>
#include <mvquant/model.h>
#include <mvquant/plan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the quantization job ---- */
typedef struct mvq_tensor_report {
    const char *name;      /* into the input file's mapping: valid while it is open */
    mvq_type from, to;
    bool quantized;        /* false: copied byte for byte */
    bool fallback;         /* rows did not fit the wanted type */
    bool is_protected;     /* raised to the massive type */
    uint64_t n_weights, bytes;
    double rel_err;        /* sqrt(sum I (w - q)^2 / sum I w^2), I = importance (1 without) */
    int n_massive_rows;    /* rows producing massive dimensions (attn_q, attn_k) */
    double massive_rel_err; /* rel_err over those rows' outputs; < 0 when none */
    /* a layer-by-layer method (mvq_method_tensor): tr(dW H dW^T) of its
     * passes (< 0: not run), the pass kept, no statistics for it */
    double out_err[2];
    int out_err_kept;
    bool no_stats;
} mvq_tensor_report;

typedef struct mvq_quantize_report {
    int64_t n_tensors;
    mvq_tensor_report *tensors;
    uint64_t n_weights;            /* all tensors */
    uint64_t bytes_in, bytes_out;  /* tensor data */
    uint64_t file_bytes;           /* the output file (all parts of a split set) */
    uint64_t protect_bytes;        /* what protection added to the tensor data */
    double bpw;                    /* bits per weight of the output's tensor data */
    int n_layers_massive;          /* layers whose Q or K has massive dimensions */
    int n_massive_q, n_massive_k;  /* massive dimensions over all layers */
    double seconds;
    int64_t n_files;               /* files written: 1, or the parts with keep_split */
} mvq_quantize_report;

typedef struct mvq_quantize_opts {
    mvq_plan_params plan;
    const struct mvq_method *method; /* NULL: the default (mvq_methods() in <mvquant/methods.h>) */
    bool protect_massive;     /* raise attn_q/attn_k of massive layers to massive_type */
    mvq_type massive_type;    /* default: Q8_0 */
    mvq_massive_params massive;
    const mvq_calib *calib;   /* importance and Q/K norms; NULL: plain RTN, nothing detected */
    mvq_pool *pool;
    /* called after each tensor (may be NULL) */
    void (*progress)(void *user, const mvq_tensor_report *t, int64_t i, int64_t n);
    void *user;
    /* may be NULL: false for tensors to quantize without importance weights
     * (llama-quantize's --include-weights / --exclude-weights) */
    bool (*use_importance)(void *user, const char *tensor_name);
    /* may be NULL: metadata overrides (--override-kv): input keys for which
     * kv_skip is true are not copied; kv_add then writes its own pairs */
    bool (*kv_skip)(void *user, const char *key);
    mvq_status (*kv_add)(void *user, mvq_gguf_writer *w, mvq_error *err);
    /* for a method that quantizes layer by layer (mvq_method.layerwise):
     * the calibration tokens its pass runs (NULL: every tensor rounded to
     * nearest, no_stats in the report), in sequences of calib_ctx (<= 0:
     * as mvq_calib_opts), each starting with the model's BOS as in
     * mvq_calib_obtain */
    const int32_t *calib_tokens;
    int64_t n_calib_tokens, calib_ctx;
    bool sequential;                /* layer l sees the output of the layers already quantized */
    const char *const *method_opts; /* "key=value" for the method, NULL-terminated; may be NULL */
    /* called before each layer of that pass (may be NULL) */
    void (*layer_progress)(void *user, int64_t layer, int64_t n_layer);
    /* the output split as the input is (mvq_gguf_n_parts parts, each
     * tensor in its input's part), out being the parts' prefix: llama-quantize
     * --keep-split (an input of one file gives OUT-00001-of-00001.gguf);
     * false: one file */
    bool keep_split;
    /* a size budget's plan (mvq_budget_plan in <mvquant/budget.h>): per
     * tensor the type chosen (-1: the rules' type) and its estimated loss;
     * NULL: no budget.  With a budget, protection raises no type (the
     * budget paid for it or not); the massive rows still get most care.
     * budget_bytes: the file size aimed at, saved in the metadata */
    const int *budget_types;
    const double *budget_loss;
    uint64_t budget_bytes;
} mvq_quantize_opts;

/* Quantizes in to out (a temporary file renamed into place when complete),
 * writing the report.  Free the report with mvq_quantize_report_free. */
MVQ_API mvq_status mvq_quantize_file(const mvq_gguf *in, const char *out, const mvq_quantize_opts *o,
                                     mvq_quantize_report *rep, mvq_error *err);
MVQ_API void mvq_quantize_report_free(mvq_quantize_report *rep);

#ifdef __cplusplus
}
#endif
#endif
