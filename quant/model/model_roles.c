/* Tensor roles from llama.cpp's names (see model_roles.h). */
#include "config.h"
#include "quant/model/model_roles.h"

#include <stdlib.h>
#include <string.h>

static bool ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && strcmp(s + n - m, end) == 0;
}

/* "blk.N." prefix: N, and where the rest starts; -1 when absent */
static int64_t block_of(const char *name, const char **rest)
{
    if (strncmp(name, "blk.", 4) != 0 || name[4] < '0' || name[4] > '9')
        return -1;
    char *end;
    long long l = strtoll(name + 4, &end, 10);
    if (*end != '.')
        return -1;
    *rest = end + 1;
    return (int64_t)l;
}

mvq_tensor_role mvq_tensor_role_of(const char *name)
{
    mvq_tensor_role r = { .role = MVQ_ROLE_OTHER, .layer = -1, .linear = MVQ_LINEAR_COUNT };
    r.rule_attn_v = strstr(name, "attn_v.weight") != NULL;
    r.rule_attn_output = strstr(name, "attn_output.weight") != NULL;
    r.rule_ffn_down = strstr(name, "ffn_down") != NULL;
    r.is_weight = ends_with(name, "weight");
    if (strcmp(name, "token_embd.weight") == 0)
        r.role = MVQ_ROLE_TOKEN_EMBD;
    else if (strcmp(name, "output.weight") == 0)
        r.role = MVQ_ROLE_OUTPUT;
    else if (strcmp(name, "output_norm.weight") == 0)
        r.role = MVQ_ROLE_OUTPUT_NORM;
    if (r.role != MVQ_ROLE_OTHER)
        return r;
    if (strstr(name, "_norm.weight") || strstr(name, "ffn_gate_inp.weight") ||
        strcmp(name, "position_embd.weight") == 0 || strcmp(name, "token_types.weight") == 0)
        r.role = MVQ_ROLE_NOT_QUANTIZED;
    const char *rest;
    int64_t layer = block_of(name, &rest);
    if (layer < 0)
        return r;
    r.layer = layer;
    if (strcmp(rest, "attn_norm.weight") == 0) {
        r.role = MVQ_ROLE_ATTN_NORM;
        return r;
    }
    if (strcmp(rest, "ffn_norm.weight") == 0) {
        r.role = MVQ_ROLE_FFN_NORM;
        return r;
    }
    for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
        const char *ln = mvq_linear_name((mvq_linear)i);
        size_t n = strlen(ln);
        if (strncmp(rest, ln, n) == 0 && strcmp(rest + n, ".weight") == 0) {
            r.role = MVQ_ROLE_LINEAR;
            r.linear = (mvq_linear)i;
        }
    }
    return r;
}

mvq_linear mvq_tensor_linear(const char *name, int64_t *layer)
{
    const mvq_tensor_role r = mvq_tensor_role_of(name);
    const bool linear = r.role == MVQ_ROLE_LINEAR;
    if (layer)
        *layer = linear ? r.layer : -1;
    return linear ? r.linear : MVQ_LINEAR_COUNT;
}
