/* mvquant: massive-value detection, calibration statistics and the
 * quantization job (the plan: <mvquant/plan.h>; methods: <mvquant/methods.h>). */
#ifndef MVQUANT_QUANTIZE_H
#define MVQUANT_QUANTIZE_H

#include <mvquant/gguf.h>
#include <mvquant/model.h>
#include <mvquant/plan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- massive values (Jin et al., ICML 2025) ----
 * For Q (or K) after RoPE in one layer, M[h][d] = ||Q[:,h,d]||_2 over the
 * tokens.  Dimension d of head h is massive when M[h][d] > lambda * mean_d
 * M[h][.] (lambda = 5 in the paper), or, with topk > 0, when it is among
 * the topk largest of its head. */
typedef struct mvq_massive_params {
    double lambda; /* default 5 */
    int topk;      /* 0: use lambda */
} mvq_massive_params;

/* Where a head dimension sits in RoPE. */
typedef struct mvq_rope_dim {
    int pair;          /* rotation pair index i (theta_i = base^(-2i/n_rot)); -1 if not rotated */
    double freq;       /* theta_i, radians per token; 0 if not rotated */
    double wavelength; /* 2 pi / theta_i tokens; +inf if not rotated */
} mvq_rope_dim;

/* neox: pairs are (i, i + n_rot/2) (qwen2); otherwise adjacent (2i, 2i+1) (llama). */
MVQ_API mvq_rope_dim mvq_rope_dim_info(int d, int n_rot, double base, bool neox);

typedef struct mvq_massive_head {
    int top_dim;          /* argmax_d M[h][d] */
    double top_ratio;     /* M[h][top_dim] / mean_d M[h][.] */
    int n_massive;        /* dimensions flagged in this head */
    double lowfreq_share; /* share of sum_d M[h][d]^2 held by the low-frequency half of the pairs */
} mvq_massive_head;

/* M: n_head rows of head_dim norms.  mask (n_head * head_dim, may be NULL)
 * receives 1 for massive dimensions; heads (n_head, may be NULL) the
 * per-head summary.  Returns the number of massive dimensions. */
MVQ_API int mvq_massive_detect(const float *M, int n_head, int head_dim, int n_rot, double rope_base,
                               bool neox, const mvq_massive_params *p, uint8_t *mask,
                               mvq_massive_head *heads);

/* ---- calibration statistics ----
 * One pass of the forward pass over calibration tokens collects, for the
 * input of every linear layer, per input column: the mean square (llama.cpp's
 * importance matrix), the mean absolute value (AWQ) and the maximum absolute
 * value (SmoothQuant); and for Q and K after RoPE and V (the control), per
 * layer, head and dimension, the sum of squares over the tokens (M[h][d] is
 * its square root). */
typedef enum mvq_calib_input {
    MVQ_CALIB_ATTN_IN = 0,     /* feeds attn_q, attn_k, attn_v   [n_embd] */
    MVQ_CALIB_ATTN_OUT = 1,    /* feeds attn_output    [n_head * head_dim] */
    MVQ_CALIB_FFN_IN = 2,      /* feeds ffn_gate, ffn_up          [n_embd] */
    MVQ_CALIB_FFN_DOWN_IN = 3, /* feeds ffn_down                    [n_ff] */
    MVQ_CALIB_OUTPUT_IN = 4,   /* feeds output (one "layer")      [n_embd] */
    MVQ_CALIB_INPUT_COUNT = 5
} mvq_calib_input;

typedef enum mvq_calib_qkv { MVQ_CALIB_Q = 0, MVQ_CALIB_K = 1, MVQ_CALIB_V = 2 } mvq_calib_qkv;

/* The statistics (opaque: what is collected may grow without breaking
 * the ABI; read them through the accessors below). */
typedef struct mvq_calib mvq_calib;


MVQ_API mvq_calib *mvq_calib_new(const mvq_hparams *hp, mvq_error *err);
MVQ_API void mvq_calib_free(mvq_calib *c);
/* The observer to install on a forward pass (taps: mvq_calib_tap_mask()). */
MVQ_API uint32_t mvq_calib_tap_mask(void);
MVQ_API void mvq_calib_observe(void *calib, const mvq_observation *obs);

typedef struct mvq_calib_opts {
    int64_t n_ctx;  /* sequence length; <= 0: 512, or the training context when shorter */
    int32_t bos;    /* first token of each sequence; < 0: none */
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
} mvq_calib_opts;

/* Runs the model over tokens in sequences of n_ctx (the last one shorter)
 * and accumulates into c. */
MVQ_API mvq_status mvq_calib_run(mvq_calib *c, const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                                 const mvq_calib_opts *opts, mvq_pool *pool, mvq_error *err);

/* Importance weights (mean square per input column) for a 2-D weight named
 * as llama.cpp names them (blk.N.attn_q.weight, output.weight, ...): out
 * receives n_in values; false when no statistic feeds that tensor (or, for
 * an imported importance matrix, it had no entry for it). */
MVQ_API bool mvq_calib_importance(const mvq_calib *c, const char *tensor_name, float *out, int64_t n_in);
/* M[h][d] = sqrt(sum of squares) of Q, K or V of a layer: n_heads * head_dim values. */
MVQ_API void mvq_calib_norms(const mvq_calib *c, mvq_calib_qkv which, int64_t layer, float *out);

/* The hyperparameters the statistics were collected for. */
MVQ_API const mvq_hparams *mvq_calib_hparams(const mvq_calib *c);
/* Tokens observed, and the XXH3-64 of them (0 when unknown). */
MVQ_API int64_t mvq_calib_n_tokens(const mvq_calib *c);
MVQ_API uint64_t mvq_calib_tokens_hash(const mvq_calib *c);
/* Columns of an input (0 for an unknown one), and heads of Q, K or V. */
MVQ_API int64_t mvq_calib_input_dim(const mvq_calib *c, mvq_calib_input input);
MVQ_API int64_t mvq_calib_heads(const mvq_calib *c, mvq_calib_qkv which);

/* One statistic per input column of a layer's input (layer 0 for
 * MVQ_CALIB_OUTPUT_IN): out receives mvq_calib_input_dim(c, input) values;
 * false when the statistics hold none (no tokens, a layer out of range, an
 * imported importance matrix for the other kinds). */
typedef enum mvq_calib_stat {
    MVQ_CALIB_MEAN_SQ = 0,  /* mean x^2: the importance */
    MVQ_CALIB_MEAN_ABS = 1, /* mean |x| (AWQ) */
    MVQ_CALIB_MAX_ABS = 2   /* max |x| (SmoothQuant) */
} mvq_calib_stat;
MVQ_API bool mvq_calib_column_stat(const mvq_calib *c, mvq_calib_input input, int64_t layer, mvq_calib_stat stat,
                                   float *out);

/* Saves as a GGUF file of F32 tensors (mvquant.stats.* metadata), and loads
 * it back, checking it fits the model's hyperparameters. */
MVQ_API mvq_status mvq_calib_save(const mvq_calib *c, const char *path, const char *const *inputs,
                                  uint64_t key, mvq_error *err);
MVQ_API mvq_calib *mvq_calib_load(const char *path, const mvq_hparams *hp, uint64_t *key, mvq_error *err);

/* True when c holds Q/K/V norms (not for statistics imported from a
 * llama.cpp importance matrix, which has importance only). */
MVQ_API bool mvq_calib_has_norms(const mvq_calib *c);

/* Calibration text from a file: read whole, tokenized with the model's
 * tokenizer (BOS first when the model wants it), cut to max_tokens when
 * > 0.  *tokens is malloc'd; the caller frees it. */
MVQ_API mvq_status mvq_calib_text_tokens(const mvq_model *m, const char *path, int64_t max_tokens, int32_t **tokens,
                                         int64_t *n_tokens, mvq_error *err);

/* ---- calibration without a file: text the model writes itself ----
 * Sequences of seq_len tokens, each BOS then tokens sampled from the model
 * (temperature, then nucleus/top-p), with a fixed seed: the same model,
 * parameters and build give the same tokens.  Decoding keeps a KV cache,
 * so the cost is that of one forward pass over the tokens. */
typedef struct mvq_selfgen_params {
    int64_t n_tokens;   /* total, cut from the last sequence (default 4096) */
    int64_t seq_len;    /* tokens per sequence, BOS included (default 256) */
    uint64_t seed;      /* default MVQ_SELFGEN_SEED */
    double temperature; /* default 1.0 */
    double top_p;       /* default 0.95 */
    int32_t bos;        /* < 0: the file's tokenizer.ggml.bos_token_id, else 1 */
    void (*progress)(void *user, int64_t done, int64_t total); /* may be NULL */
    void *user;
} mvq_selfgen_params;
#define MVQ_SELFGEN_SEED 20250101u

MVQ_API void mvq_selfgen_default(mvq_selfgen_params *p);
/* *tokens is malloc'd (n_tokens of them); the caller frees it. */
MVQ_API mvq_status mvq_calib_self_tokens(const mvq_model *m, const mvq_selfgen_params *p, mvq_pool *pool,
                                         int32_t **tokens, int64_t *n_tokens, mvq_error *err);

/* ---- llama.cpp importance matrices ----
 * Its GGUF format (general.type "imatrix": tensors <name>.in_sum2 [n_in,
 * n_mat] and <name>.counts [1, n_mat]; mean square = in_sum2 / counts) or
 * the legacy .dat format (int32 entries; per entry int32 name length, the
 * name, int32 ncall, int32 nval, nval floats = mean square * ncall; a
 * trailer), told apart by the GGUF magic.  Fills the mean squares of the
 * statistics (importance only: no mean |x|, max |x| or Q/K norms); entries
 * for tensors the model does not have, or of another width, are an error
 * naming them. */
MVQ_API mvq_calib *mvq_calib_import_imatrix(const char *path, const mvq_hparams *hp, mvq_error *err);

/* ---- obtaining statistics: from a file, the cache, or a calibration run ----
 * The cache key is the XXH3-64 of the model's tensor data (names, shapes,
 * types, bytes), the calibration tokens (or, for self-generated text, the
 * generation parameters) and the settings (sequence length, BOS, stats
 * format version).  Cache: $MVQ_CACHE_DIR, else $XDG_CACHE_HOME/mvquant,
 * else ~/.cache/mvquant; one file <key>.stats.gguf per key. */
typedef enum mvq_calib_origin {
    MVQ_CALIB_FROM_STATS = 0,   /* --stats FILE */
    MVQ_CALIB_FROM_IMATRIX = 1, /* --imatrix FILE */
    MVQ_CALIB_FROM_CACHE = 2,   /* an earlier run's statistics: calibration skipped */
    MVQ_CALIB_COMPUTED = 3      /* calibrated now (and cached) */
} mvq_calib_origin;

typedef struct mvq_calib_request {
    const char *stats_path;   /* load these; nothing computed */
    const char *imatrix_path; /* import llama.cpp's importance matrix; nothing computed */
    const int32_t *tokens;    /* calibration tokens (the --calib text, tokenized); NULL: self-generated */
    int64_t n_tokens;         /* of tokens; with tokens NULL and > 0: overrides self.n_tokens */
    mvq_selfgen_params self;  /* used when tokens is NULL (mvq_selfgen_default) */
    int64_t n_ctx;            /* sequence length of the calibration pass; <= 0: as mvq_calib_opts */
    bool no_cache;            /* neither read nor write the cache */
    const char *cache_dir;    /* NULL: the default above */
    const char *stats_out;    /* also save the statistics there (any origin) */
    /* phase is "generate" or "calibrate" (may be NULL) */
    void (*progress)(void *user, const char *phase, int64_t done, int64_t total);
    void *user;
} mvq_calib_request;

typedef struct mvq_calib_info {
    mvq_calib_origin origin;
    uint64_t key;          /* cache key (0 for --stats / --imatrix) */
    char cache_path[1024]; /* cache file read or written; "" when none */
    char note[256];        /* a cache that could not be written (not an error), else "" */
    bool self_generated;   /* tokens were generated by the model */
    int64_t n_tokens;      /* calibration tokens behind the statistics */
    uint64_t tokens_hash;  /* their XXH3-64 */
    double seconds;        /* generation + calibration (0 when loaded) */
} mvq_calib_info;

MVQ_API void mvq_calib_request_default(mvq_calib_request *r);
MVQ_API mvq_calib *mvq_calib_obtain(const mvq_model *m, const mvq_calib_request *r, mvq_pool *pool,
                                    mvq_calib_info *info, mvq_error *err);
/* The cache folder (not created here). */
MVQ_API mvq_status mvq_calib_cache_dir(char *buf, size_t size, mvq_error *err);
/* XXH3-64 over every tensor of the model's file: name, type, shape, data. */
MVQ_API uint64_t mvq_model_data_hash(const mvq_model *m);

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
