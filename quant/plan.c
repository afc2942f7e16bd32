/* The quantization plan: one type per tensor, following llama.cpp's preset
 * rules (llama-quant.cpp, build 4748) so that our presets produce the same
 * mixtures as llama-quantize, then the user's overrides, then the fallback
 * for rows that do not fit a type's blocks. */
#include "config.h"
#include <mvquant/quantize.h>

#include "quant/model/model_roles.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const mvq_preset presets[] = {
    { "q4_0", MVQ_FTYPE_Q4_0, MVQ_TYPE_Q4_0, "4.5 bpw, legacy" },
    { "q4_1", MVQ_FTYPE_Q4_1, MVQ_TYPE_Q4_1, "5.0 bpw, legacy" },
    { "q5_0", MVQ_FTYPE_Q5_0, MVQ_TYPE_Q5_0, "5.5 bpw, legacy" },
    { "q5_1", MVQ_FTYPE_Q5_1, MVQ_TYPE_Q5_1, "6.0 bpw, legacy" },
    { "q8_0", MVQ_FTYPE_Q8_0, MVQ_TYPE_Q8_0, "8.5 bpw, near lossless" },
    { "q2_k", MVQ_FTYPE_Q2_K, MVQ_TYPE_Q2_K, "K-quant mixture around 2.6 bpw" },
    { "q3_k_s", MVQ_FTYPE_Q3_K_S, MVQ_TYPE_Q3_K, "K-quant, 3.4 bpw" },
    { "q3_k_m", MVQ_FTYPE_Q3_K_M, MVQ_TYPE_Q3_K, "K-quant mixture, 3.9 bpw" },
    { "q3_k_l", MVQ_FTYPE_Q3_K_L, MVQ_TYPE_Q3_K, "K-quant mixture, 4.3 bpw" },
    { "q4_k_s", MVQ_FTYPE_Q4_K_S, MVQ_TYPE_Q4_K, "K-quant mixture, 4.4 bpw" },
    { "q4_k_m", MVQ_FTYPE_Q4_K_M, MVQ_TYPE_Q4_K, "K-quant mixture, 4.8 bpw (recommended)" },
    { "q5_k_s", MVQ_FTYPE_Q5_K_S, MVQ_TYPE_Q5_K, "K-quant, 5.5 bpw" },
    { "q5_k_m", MVQ_FTYPE_Q5_K_M, MVQ_TYPE_Q5_K, "K-quant mixture, 5.7 bpw" },
    { "q6_k", MVQ_FTYPE_Q6_K, MVQ_TYPE_Q6_K, "K-quant, 6.6 bpw" },
    { "iq4_nl", MVQ_FTYPE_IQ4_NL, MVQ_TYPE_IQ4_NL, "4.5 bpw, non-linear" },
    { "iq4_xs", MVQ_FTYPE_IQ4_XS, MVQ_TYPE_IQ4_XS, "4.25 bpw, non-linear, super-blocks of 256" },
    { "f16", MVQ_FTYPE_F16, MVQ_TYPE_F16, "16 bpw" },
    { "bf16", MVQ_FTYPE_BF16, MVQ_TYPE_BF16, "16 bpw, bfloat16" },
    { "f32", MVQ_FTYPE_ALL_F32, MVQ_TYPE_F32, "32 bpw, unquantized" },
    { NULL, 0, 0, NULL },
};

const mvq_preset *mvq_presets(void)
{
    return presets;
}

const mvq_preset *mvq_preset_find(const char *name)
{
    for (const mvq_preset *p = presets; p->name; p++)
        if (strcasecmp(p->name, name) == 0)
            return p;
    return NULL;
}

/* What the rules need to know about one tensor. */
typedef struct {
    const char *name;
    mvq_tensor_role role;
    int64_t ne0;
    int i_kind, n_kind; /* rank among tensors of its kind, in llama.cpp's (name-sorted) order */
} tensor_ctx;

typedef struct {
    mvq_ftype ftype;
    mvq_type base;
    int64_t n_gqa;
    bool has_output;
    bool has_imatrix;
} model_ctx;

/* llama.cpp's use_more_bits: the first and last eighth, and every third layer between */
static bool use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static mvq_type rule_output(const model_ctx *m, const tensor_ctx *t, mvq_type ty)
{
    if (t->ne0 % MVQ_QK_K != 0)
        return MVQ_TYPE_Q8_0;
    return ty != MVQ_TYPE_Q8_0 ? MVQ_TYPE_Q6_K : ty;
}

static mvq_type rule_attn_v(const model_ctx *m, const tensor_ctx *t, mvq_type ty)
{
    switch (m->ftype) {
    case MVQ_FTYPE_Q2_K: return m->n_gqa >= 4 ? MVQ_TYPE_Q4_K : MVQ_TYPE_Q3_K;
    case MVQ_FTYPE_Q3_K_M: return t->i_kind < 2 ? MVQ_TYPE_Q5_K : MVQ_TYPE_Q4_K;
    case MVQ_FTYPE_Q3_K_L: return MVQ_TYPE_Q5_K;
    case MVQ_FTYPE_IQ4_NL:
    case MVQ_FTYPE_IQ4_XS: return m->n_gqa >= 4 ? MVQ_TYPE_Q5_K : ty;
    case MVQ_FTYPE_Q4_K_M:
    case MVQ_FTYPE_Q5_K_M: return use_more_bits(t->i_kind, t->n_kind) ? MVQ_TYPE_Q6_K : ty;
    case MVQ_FTYPE_Q4_K_S: return t->i_kind < 4 ? MVQ_TYPE_Q5_K : ty;
    default: return ty;
    }
}

static mvq_type rule_ffn_down(const model_ctx *m, const tensor_ctx *t, mvq_type ty)
{
    int i = t->i_kind, n = t->n_kind;
    switch (m->ftype) {
    case MVQ_FTYPE_Q2_K: return MVQ_TYPE_Q3_K;
    case MVQ_FTYPE_Q3_K_M: return i < n / 16 ? MVQ_TYPE_Q5_K : MVQ_TYPE_Q4_K;
    case MVQ_FTYPE_Q3_K_L: return MVQ_TYPE_Q5_K;
    case MVQ_FTYPE_Q4_K_M: return use_more_bits(i, n) ? MVQ_TYPE_Q6_K : ty;
    case MVQ_FTYPE_IQ4_NL:
    case MVQ_FTYPE_IQ4_XS: return i < n / 8 && !m->has_imatrix ? MVQ_TYPE_Q5_K : ty;
    case MVQ_FTYPE_Q5_K_M: return use_more_bits(i, n) ? MVQ_TYPE_Q6_K : ty;
    case MVQ_FTYPE_Q4_K_S: return i < n / 8 ? MVQ_TYPE_Q5_K : ty;
    case MVQ_FTYPE_Q4_0: return m->has_imatrix && i < n / 8 ? MVQ_TYPE_Q4_1 : ty;
    case MVQ_FTYPE_Q5_0: return m->has_imatrix && i < n / 8 ? MVQ_TYPE_Q5_1 : ty;
    default: return ty;
    }
}

static mvq_type rule_attn_output(const model_ctx *m, mvq_type ty)
{
    switch (m->ftype) {
    case MVQ_FTYPE_Q2_K: return MVQ_TYPE_Q3_K;
    case MVQ_FTYPE_Q3_K_M: return MVQ_TYPE_Q4_K;
    case MVQ_FTYPE_Q3_K_L: return MVQ_TYPE_Q5_K;
    default: return ty;
    }
}

/* llama.cpp's llama_tensor_get_type for the presets above */
static mvq_type preset_rules(const model_ctx *m, const tensor_ctx *t)
{
    mvq_type ty = m->base;
    if (t->role.role == MVQ_ROLE_OUTPUT || (!m->has_output && t->role.role == MVQ_ROLE_TOKEN_EMBD))
        return rule_output(m, t, ty);
    if (t->role.rule_attn_v)
        return rule_attn_v(m, t, ty);
    if (t->role.rule_ffn_down)
        return rule_ffn_down(m, t, ty);
    if (t->role.rule_attn_output)
        return rule_attn_output(m, ty);
    return ty;
}

/* llama.cpp's fallback when rows do not divide into the type's blocks */
static mvq_type fallback_type(mvq_type ty, int64_t ne0)
{
    mvq_type f;
    switch (ty) {
    case MVQ_TYPE_Q2_K:
    case MVQ_TYPE_Q3_K:
    case MVQ_TYPE_IQ4_XS: f = MVQ_TYPE_IQ4_NL; break;
    case MVQ_TYPE_Q4_K: f = MVQ_TYPE_Q5_0; break;
    case MVQ_TYPE_Q5_K: f = MVQ_TYPE_Q5_1; break;
    case MVQ_TYPE_Q6_K: f = MVQ_TYPE_Q8_0; break;
    default: f = MVQ_TYPE_F16; break;
    }
    return mvq_row_size(f, ne0) ? f : MVQ_TYPE_F16;
}

/* Which tensors are weights to quantize, as llama.cpp decides. */
static bool is_quantizable(const mvq_gguf_tensor *t, const mvq_tensor_role *role)
{
    if (!role->is_weight || role->role == MVQ_ROLE_NOT_QUANTIZED)
        return false;
    int dims = 0;
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (t->ne[d] > 1)
            dims = (int)d + 1;
    return dims >= 2;
}

/* the kinds llama.cpp ranks by layer: attn_v, ffn_down */
static bool of_kind(const tensor_ctx *t, int kind)
{
    return kind == 0 ? t->role.rule_attn_v : t->role.rule_ffn_down;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rank of each tensor among those of its kind in name order (llama.cpp
 * walks tensors in a name-sorted map and counts as it goes). */
static mvq_status rank_kinds(const mvq_gguf *g, tensor_ctx *ctx, mvq_error *err)
{
    int64_t n = mvq_gguf_n_tensors(g);
    const char **names = malloc(sizeof *names * (size_t)(n ? n : 1));
    if (!names)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory planning tensors", mvq_gguf_path(g));
    for (int k = 0; k < 2; k++) {
        int m = 0;
        for (int64_t i = 0; i < n; i++)
            if (of_kind(&ctx[i], k))
                names[m++] = ctx[i].name;
        qsort(names, (size_t)m, sizeof *names, cmp_names);
        for (int64_t i = 0; i < n; i++) {
            if (!of_kind(&ctx[i], k))
                continue;
            const char **hit = bsearch(&ctx[i].name, names, (size_t)m, sizeof *names, cmp_names);
            ctx[i].i_kind = (int)(hit - names);
            ctx[i].n_kind = m;
        }
    }
    free(names);
    return MVQ_OK;
}

static int64_t arch_u64(const mvq_gguf *g, const char *suffix, int64_t dflt)
{
    const char *arch;
    char key[128];
    uint64_t v;
    if (!mvq_gguf_get_str(g, "general.architecture", &arch))
        return dflt;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return mvq_gguf_get_u64(g, key, &v) ? (int64_t)v : dflt;
}

static mvq_status apply_overrides(const mvq_plan_params *p, const char *name, mvq_tensor_plan *tp,
                                  mvq_error *err)
{
    for (int k = 0; k < p->n_overrides; k++) {
        regex_t re;
        if (regcomp(&re, p->override_regex[k], REG_EXTENDED | REG_NOSUB) != 0)
            return mvq_error_set(err, MVQ_ERR_ARG, "--tensor-type: bad regular expression '%s'",
                                 p->override_regex[k]);
        bool hit = regexec(&re, name, 0, NULL, 0) == 0;
        regfree(&re);
        if (hit) {
            tp->wanted = p->override_type[k];
            tp->overridden = true;
            break;
        }
    }
    return MVQ_OK;
}

mvq_status mvq_plan_make(const mvq_gguf *g, const mvq_plan_params *p, mvq_tensor_plan *out,
                         mvq_error *err)
{
    int64_t n = mvq_gguf_n_tensors(g);
    tensor_ctx *ctx = calloc((size_t)(n ? n : 1), sizeof *ctx);
    if (!ctx)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory planning tensors", mvq_gguf_path(g));
    for (int64_t i = 0; i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        ctx[i].name = t->name.data;
        ctx[i].role = mvq_tensor_role_of(t->name.data);
        ctx[i].ne0 = t->ne[0];
    }
    mvq_status st = rank_kinds(g, ctx, err);
    int64_t heads = arch_u64(g, "attention.head_count", 1);
    int64_t kv_heads = arch_u64(g, "attention.head_count_kv", heads);
    model_ctx m = {
        .ftype = p->ftype,
        .base = p->base,
        .n_gqa = kv_heads > 0 ? heads / kv_heads : 1,
        .has_output = false,
        .has_imatrix = p->has_imatrix,
    };
    for (int64_t i = 0; i < n; i++)
        m.has_output |= ctx[i].role.role == MVQ_ROLE_OUTPUT;
    const mvq_type_traits *base = mvq_type_traits_get(p->base);
    for (int64_t i = 0; st == MVQ_OK && i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        mvq_tensor_plan *tp = &out[i];
        memset(tp, 0, sizeof *tp);
        tp->type = tp->wanted = (mvq_type)t->type;
        if (!is_quantizable(t, &ctx[i].role))
            continue;
        tp->quantize = true;
        tp->wanted = base && base->is_quantized && p->ftype != MVQ_FTYPE_GUESSED ? preset_rules(&m, &ctx[i])
                                                                                : p->base;
        bool is_output = ctx[i].role.role == MVQ_ROLE_OUTPUT;
        bool is_embd = ctx[i].role.role == MVQ_ROLE_TOKEN_EMBD;
        if (is_output && p->output_type >= 0) {
            tp->wanted = (mvq_type)p->output_type;
            tp->overridden = true;
        } else if (is_embd && p->token_embd_type >= 0) {
            tp->wanted = (mvq_type)p->token_embd_type;
            tp->overridden = true;
        }
        st = apply_overrides(p, ctx[i].name, tp, err);
        tp->type = tp->wanted;
        if (!mvq_row_size(tp->type, t->ne[0])) {
            tp->type = fallback_type(tp->type, t->ne[0]);
            tp->fallback = true;
        }
    }
    free(ctx);
    return st;
}
