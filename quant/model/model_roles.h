/* Internal to quant/: what a tensor is, from its name, for every part that
 * must know (plan rules, protection, calibration statistics, transforms).
 * The one place that reads llama.cpp's tensor names. */
#ifndef MVQ_MODEL_ROLES_H
#define MVQ_MODEL_ROLES_H

#include <mvquant/model.h>

typedef enum mvq_role {
    MVQ_ROLE_OTHER = 0,
    MVQ_ROLE_TOKEN_EMBD,    /* token_embd.weight */
    MVQ_ROLE_OUTPUT,        /* output.weight */
    MVQ_ROLE_OUTPUT_NORM,   /* output_norm.weight */
    MVQ_ROLE_ATTN_NORM,     /* blk.N.attn_norm.weight */
    MVQ_ROLE_FFN_NORM,      /* blk.N.ffn_norm.weight */
    MVQ_ROLE_LINEAR,        /* blk.N.<linear>.weight: .linear says which */
    MVQ_ROLE_NOT_QUANTIZED  /* never quantized, as llama.cpp: other norms, routers, position embeddings */
} mvq_role;

typedef struct mvq_tensor_role {
    mvq_role role;
    int64_t layer;      /* the block; -1 outside blocks */
    mvq_linear linear;  /* with MVQ_ROLE_LINEAR; else MVQ_LINEAR_COUNT */
    /* llama.cpp's preset rules match name parts, so that they also catch
     * tensors of other architectures ("ffn_down" in ffn_down_exps too) */
    bool rule_attn_v, rule_attn_output, rule_ffn_down;
    bool is_weight; /* the name ends in "weight": llama.cpp quantizes only those */
} mvq_tensor_role;

mvq_tensor_role mvq_tensor_role_of(const char *name);

#endif
