/* mvquant: the quantization plan (which type each tensor gets), massive-value
 * detection and the quantization job. */
#ifndef MVQUANT_QUANTIZE_H
#define MVQUANT_QUANTIZE_H

#include <mvquant/gguf.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- presets: llama.cpp's file types (general.file_type values) ---- */
typedef enum mvq_ftype {
    MVQ_FTYPE_ALL_F32 = 0,
    MVQ_FTYPE_F16 = 1,
    MVQ_FTYPE_Q4_0 = 2,
    MVQ_FTYPE_Q4_1 = 3,
    MVQ_FTYPE_Q8_0 = 7,
    MVQ_FTYPE_Q5_0 = 8,
    MVQ_FTYPE_Q5_1 = 9,
    MVQ_FTYPE_Q2_K = 10,
    MVQ_FTYPE_Q3_K_S = 11,
    MVQ_FTYPE_Q3_K_M = 12,
    MVQ_FTYPE_Q3_K_L = 13,
    MVQ_FTYPE_Q4_K_S = 14,
    MVQ_FTYPE_Q4_K_M = 15,
    MVQ_FTYPE_Q5_K_S = 16,
    MVQ_FTYPE_Q5_K_M = 17,
    MVQ_FTYPE_Q6_K = 18,
    MVQ_FTYPE_IQ4_NL = 25,
    MVQ_FTYPE_BF16 = 32,
    MVQ_FTYPE_GUESSED = 1024 /* plain --type not among the presets */
} mvq_ftype;

typedef struct mvq_preset {
    const char *name;  /* "q4_k_m" */
    mvq_ftype ftype;
    mvq_type base;     /* type of most 2-D weights */
    const char *about; /* one line for --help */
} mvq_preset;

/* NULL-terminated table of presets; lookup is case-insensitive. */
MVQ_API const mvq_preset *mvq_presets(void);
MVQ_API const mvq_preset *mvq_preset_find(const char *name);

/* ---- the plan ---- */
#define MVQ_PLAN_MAX_OVERRIDES 32

typedef struct mvq_plan_params {
    mvq_ftype ftype;          /* preset rules to apply (or MVQ_FTYPE_GUESSED: none) */
    mvq_type base;            /* default type of 2-D weights */
    int output_type;          /* -1: preset's rule */
    int token_embd_type;      /* -1: preset's rule */
    bool has_imatrix;         /* some llama.cpp rules depend on it */
    int n_overrides;          /* --tensor-type REGEX=TYPE, first match wins */
    const char *override_regex[MVQ_PLAN_MAX_OVERRIDES];
    mvq_type override_type[MVQ_PLAN_MAX_OVERRIDES];
} mvq_plan_params;

typedef struct mvq_tensor_plan {
    bool quantize;        /* false: copied as is (norms, 1-D tensors, non-weights) */
    mvq_type type;        /* the type written */
    mvq_type wanted;      /* the type the rules asked for, before any fallback */
    bool fallback;        /* rows did not fit the wanted type's blocks */
    bool overridden;      /* chosen by --tensor-type / output / embedding option */
} mvq_tensor_plan;

/* Decides a type for every tensor of g (out has mvq_gguf_n_tensors(g)
 * entries), following llama.cpp's rules for the preset, then overrides,
 * then the fallback for rows that do not divide into the type's blocks
 * (K-quants to Q5_0/Q5_1/Q8_0/IQ4_NL as llama.cpp, then F16). */
MVQ_API mvq_status mvq_plan_make(const mvq_gguf *g, const mvq_plan_params *p, mvq_tensor_plan *out,
                                 mvq_error *err);

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

#ifdef __cplusplus
}
#endif
#endif
