/* mvquant: calibration statistics: collected by a pass of the model over
 * text (a file, or text the model writes itself), saved and loaded, cached,
 * or imported from a llama.cpp importance matrix. */
#ifndef MVQUANT_CALIB_H
#define MVQUANT_CALIB_H

#include <mvquant/gguf.h>
#include <mvquant/model.h>

#ifdef __cplusplus
extern "C" {
#endif

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
    /* Q and K norms taken before RoPE (for the analysis of where RoPE
     * concentrates them); such statistics are not for protection */
    bool pre_rope;
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
    bool pre_rope;            /* as mvq_calib_opts (part of the cache key) */
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

#ifdef __cplusplus
}
#endif
#endif
