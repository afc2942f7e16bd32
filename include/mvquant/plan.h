/* mvquant: the plan, one whole decision per tensor: the type (preset rule,
 * override, fallback, protection), the method, the transforms folded into
 * it, the rows quantized with most care, and why. */
#ifndef MVQUANT_PLAN_H
#define MVQUANT_PLAN_H

#include <mvquant/gguf.h>
#include <mvquant/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mvq_method;
struct mvq_transform;
struct mvq_quantize_opts;

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
    MVQ_FTYPE_IQ4_XS = 30,
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

/* ---- the types ---- */
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

/* What decided a tensor's fate, the last rule that applied. */
typedef enum mvq_plan_reason {
    MVQ_PLAN_COPY = 0,       /* not a weight to quantize (norms, 1-D tensors): copied as is */
    MVQ_PLAN_PRESET = 1,     /* the preset's rule, or the plain type */
    MVQ_PLAN_OVERRIDE = 2,   /* --tensor-type, the output or the embedding option */
    MVQ_PLAN_FALLBACK = 3,   /* rows did not fit the wanted type's blocks */
    MVQ_PLAN_PROTECTION = 4, /* raised to the massive type: its layer has massive Q/K dimensions */
    MVQ_PLAN_TRANSFORM = 5,  /* not quantized, but a transform folds into it: rewritten */
    MVQ_PLAN_BUDGET = 6      /* chosen by the size budget's solver (<mvquant/budget.h>) */
} mvq_plan_reason;

MVQ_API const char *mvq_plan_reason_name(mvq_plan_reason r); /* "preset", "override", ... */

typedef struct mvq_tensor_plan {
    bool quantize;        /* false: copied as is (norms, 1-D tensors, non-weights) */
    mvq_type type;        /* the type written */
    mvq_type wanted;      /* the type the rules asked for, before any fallback */
    bool fallback;        /* rows did not fit the wanted type's blocks */
    bool overridden;      /* chosen by --tensor-type / output / embedding option */
    /* the rest of the decision (mvq_plan_build; mvq_plan_make leaves it empty) */
    mvq_plan_reason reason;
    bool is_protected;                 /* raised to the massive type */
    const struct mvq_method *method;   /* the quantizer; NULL when not quantized */
    int64_t n_massive_rows;            /* rows producing massive dimensions (attn_q, attn_k) */
    const uint8_t *protected_rows;     /* those rows, when protected: quantized with most care; else NULL */
    const struct mvq_transform *scale_columns; /* its input's columns scaled (W[:, j] * s_j), or NULL */
    const struct mvq_transform *divide_out;    /* its values or rows divided (1 / s), or NULL */
    const struct mvq_clip *clip;               /* its rows clamped after the transforms, or NULL */
    double est_loss;      /* with a size budget: the estimated mean KLD its type adds; else -1 */
} mvq_tensor_plan;

/* Decides a type for every tensor of g (out has mvq_gguf_n_tensors(g)
 * entries), following llama.cpp's rules for the preset, then overrides,
 * then the fallback for rows that do not divide into the type's blocks
 * (K-quants to Q5_0/Q5_1/Q8_0/IQ4_NL as llama.cpp, then F16). */
MVQ_API mvq_status mvq_plan_make(const mvq_gguf *g, const mvq_plan_params *p, mvq_tensor_plan *out,
                                 mvq_error *err);

/* ---- the whole decision ----
 * mvq_plan_make's types, then the method (o->method, else the default),
 * its preparation's transforms, and the protection rule: with
 * o->protect_massive, attn_q and attn_k of layers with massive dimensions
 * are raised to o->massive_type (when that is larger) and their massive
 * rows quantized with most care. */
typedef struct mvq_plan mvq_plan;

MVQ_API mvq_plan *mvq_plan_build(const mvq_gguf *in, const struct mvq_quantize_opts *o, mvq_error *err);
MVQ_API void mvq_plan_free(mvq_plan *p);
MVQ_API int64_t mvq_plan_n_tensors(const mvq_plan *p);
MVQ_API const mvq_tensor_plan *mvq_plan_tensor(const mvq_plan *p, int64_t i);
/* What protection added to the tensor data. */
MVQ_API uint64_t mvq_plan_protect_bytes(const mvq_plan *p);

#ifdef __cplusplus
}
#endif
#endif
