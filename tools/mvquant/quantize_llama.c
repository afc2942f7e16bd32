/* llama-quantize's --include-weights, --exclude-weights, --override-kv and
 * --keep-split, with its meanings: names match as substrings; an int
 * override is written as UINT32 and a float as FLOAT32, as llama.cpp writes
 * them; split outputs are named as llama-quantize names them. */
#include "config.h"
#include "tools/mvquant/quantize_llama.h"

#include "tools/mvquant/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int llama_parse_weights(llama_opts *l, bool include, const char *name)
{
    int *n = include ? &l->n_include : &l->n_exclude;
    if (!*name)
        return cli_usage_error("quantize", "--%s-weights: empty tensor name", include ? "include" : "exclude");
    if (*n == LLAMA_MAX_NAMES)
        return cli_usage_error("quantize", "--%s-weights: at most %d of them", include ? "include" : "exclude",
                               LLAMA_MAX_NAMES);
    (include ? l->include : l->exclude)[(*n)++] = name;
    return CLI_EXIT_OK;
}

/* Keys the job writes itself. */
static bool reserved_key(const char *key)
{
    return strcmp(key, "general.file_type") == 0 || strcmp(key, "general.quantization_version") == 0 ||
           strcmp(key, "general.alignment") == 0 || strncmp(key, "mvquant.", 8) == 0;
}

int llama_parse_kv(llama_opts *l, const char *arg)
{
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || eq == arg || !colon)
        return cli_usage_error("quantize", "--override-kv: expected KEY=TYPE:VALUE, got '%s'", arg);
    if (l->n_kv == LLAMA_MAX_KV)
        return cli_usage_error("quantize", "--override-kv: at most %d of them", LLAMA_MAX_KV);
    llama_kv *kv = &l->kv[l->n_kv];
    memset(kv, 0, sizeof *kv);
    if ((size_t)(eq - arg) >= sizeof kv->key)
        return cli_usage_error("quantize", "--override-kv: key longer than %zu bytes", sizeof kv->key - 1);
    memcpy(kv->key, arg, (size_t)(eq - arg));
    if (reserved_key(kv->key))
        return cli_usage_error("quantize", "--override-kv: %s is written by mvquant itself", kv->key);
    for (int i = 0; i < l->n_kv; i++)
        if (strcmp(l->kv[i].key, kv->key) == 0)
            return cli_usage_error("quantize", "--override-kv: %s given twice", kv->key);
    const char *type = eq + 1, *value = colon + 1;
    size_t tlen = (size_t)(colon - type);
    char *end;
    errno = 0;
    if (tlen == 3 && strncmp(type, "int", 3) == 0) {
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < 0 || v > UINT32_MAX)
            return cli_usage_error("quantize", "--override-kv %s: '%s' is not an int from 0 to %u", kv->key, value,
                                   (unsigned)UINT32_MAX);
        kv->type = MVQ_GGUF_UINT32;
        kv->u32 = (uint32_t)v;
    } else if (tlen == 5 && strncmp(type, "float", 5) == 0) {
        double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v))
            return cli_usage_error("quantize", "--override-kv %s: '%s' is not a float", kv->key, value);
        kv->type = MVQ_GGUF_FLOAT32;
        kv->f32 = (float)v;
    } else if (tlen == 4 && strncmp(type, "bool", 4) == 0) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
            return cli_usage_error("quantize", "--override-kv %s: '%s' is not true or false", kv->key, value);
        kv->type = MVQ_GGUF_BOOL;
        kv->b = strcmp(value, "true") == 0;
    } else if (tlen == 3 && strncmp(type, "str", 3) == 0) {
        kv->type = MVQ_GGUF_STRING;
        kv->str = value;
    } else {
        return cli_usage_error("quantize", "--override-kv %s: type '%.*s' is not int, float, bool or str", kv->key,
                               (int)tlen, type);
    }
    l->n_kv++;
    return CLI_EXIT_OK;
}

static bool contains_any(const char *name, const char *const *parts, int n)
{
    for (int i = 0; i < n; i++)
        if (strstr(name, parts[i]))
            return true;
    return false;
}

static bool use_importance(void *user, const char *name)
{
    const llama_opts *l = user;
    if (l->n_include)
        return contains_any(name, l->include, l->n_include);
    return !contains_any(name, l->exclude, l->n_exclude);
}

static bool kv_skip(void *user, const char *key)
{
    const llama_opts *l = user;
    for (int i = 0; i < l->n_kv; i++)
        if (strcmp(l->kv[i].key, key) == 0)
            return true;
    return false;
}

static mvq_status kv_add(void *user, mvq_gguf_writer *w, mvq_error *err)
{
    const llama_opts *l = user;
    mvq_status st = MVQ_OK;
    for (int i = 0; st == MVQ_OK && i < l->n_kv; i++) {
        const llama_kv *kv = &l->kv[i];
        switch (kv->type) {
        case MVQ_GGUF_UINT32: st = mvq_gguf_writer_add_u32(w, kv->key, kv->u32, err); break;
        case MVQ_GGUF_FLOAT32: st = mvq_gguf_writer_add_f32(w, kv->key, kv->f32, err); break;
        case MVQ_GGUF_STRING: st = mvq_gguf_writer_add_str(w, kv->key, kv->str, err); break;
        default: {
            mvq_gguf_kv b = { .key = { strlen(kv->key), kv->key }, .type = MVQ_GGUF_BOOL, .v.u64 = kv->b };
            st = mvq_gguf_writer_add_kv(w, &b, err);
            break;
        }
        }
    }
    return st;
}

int llama_install(llama_opts *l, mvq_quantize_opts *q)
{
    if (l->n_include && l->n_exclude)
        return cli_usage_error("quantize", "--include-weights and --exclude-weights exclude each other");
    q->user = l;
    if (l->n_include || l->n_exclude)
        q->use_importance = use_importance;
    if (l->n_kv) {
        q->kv_skip = kv_skip;
        q->kv_add = kv_add;
    }
    return CLI_EXIT_OK;
}

int llama_check_outputs(const mvq_gguf *in, const char *out, bool keep_split, const char *extra)
{
    const int64_t n_in = mvq_gguf_n_parts(in), n_out = keep_split ? n_in : 1;
    const char **inputs = calloc((size_t)n_in + 2, sizeof *inputs);
    if (!inputs) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    for (int64_t k = 0; k < n_in; k++)
        inputs[k] = mvq_gguf_path(mvq_gguf_part(in, k));
    inputs[n_in] = extra;
    int rc = CLI_EXIT_OK;
    for (int64_t k = 0; k < n_out && rc == CLI_EXIT_OK; k++) {
        char part[4096 + 64];
        if (keep_split && mvq_gguf_split_path(part, sizeof part, out, k, n_out) >= (int)sizeof part) {
            cli_error("%s: output name too long", out);
            rc = CLI_EXIT_FAIL;
        } else {
            rc = cli_check_output(keep_split ? part : out, inputs);
        }
    }
    free(inputs);
    return rc;
}
