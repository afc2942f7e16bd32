/* Building the tokenizer from a GGUF file's tokenizer.ggml.* metadata,
 * with llama.cpp's defaults for what is absent. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/gguf/gguf_internal.h"
#include "quant/model/tokenizer_internal.h"

/* An optional array of n elements of type want; NULL when absent. */
static mvq_status optional_array(const mvq_gguf *g, const char *key, mvq_gguf_vtype want, int64_t n,
                                 const void **out, mvq_error *err)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    *out = NULL;
    if (!kv)
        return MVQ_OK;
    if (kv->type != MVQ_GGUF_ARRAY || kv->arr_type != want)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s is not an array of %s", mvq_gguf_path(g), key,
                             mvq_gguf_vtype_name(want));
    if (kv->arr_n != (uint64_t)n)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s has %llu entries for %lld tokens",
                             mvq_gguf_path(g), key, (unsigned long long)kv->arr_n, (long long)n);
    *out = kv->v.arr;
    return MVQ_OK;
}

static bool get_bool(const mvq_gguf *g, const char *key, bool dflt)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    return kv && kv->type == MVQ_GGUF_BOOL ? kv->v.u64 != 0 : dflt;
}

/* llama.cpp keeps the default when the stored id is out of range. */
static int32_t special_id(const mvq_gguf *g, const char *key, int32_t dflt, int64_t n_vocab)
{
    uint64_t v;
    if (mvq_gguf_get_u64(g, key, &v) && v < (uint64_t)n_vocab)
        return (int32_t)v;
    return dflt < n_vocab ? dflt : -1;
}

static mvq_status copy_texts(mvq_tokenizer *t, const mvq_gguf *g, const mvq_gguf_str *strs, mvq_error *err)
{
    uint64_t total = 0;
    for (int64_t i = 0; i < t->n_vocab; i++) {
        if (strs[i].len > UINT32_MAX / 2)
            return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: token %lld is %llu bytes long", mvq_gguf_path(g),
                                 (long long)i, (unsigned long long)strs[i].len);
        total += strs[i].len + 1;
    }
    t->blob = malloc(total ? total : 1);
    t->text_off = malloc((size_t)t->n_vocab * sizeof *t->text_off);
    t->text_len = malloc((size_t)t->n_vocab * sizeof *t->text_len);
    if (!t->blob || !t->text_off || !t->text_len)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory for the vocabulary", mvq_gguf_path(g));
    uint64_t off = 0;
    for (int64_t i = 0; i < t->n_vocab; i++) {
        memcpy(t->blob + off, strs[i].data, strs[i].len);
        t->blob[off + strs[i].len] = '\0';
        t->text_off[i] = off;
        t->text_len[i] = (uint32_t)strs[i].len;
        off += strs[i].len + 1;
    }
    return MVQ_OK;
}

static mvq_status copy_scores_and_types(mvq_tokenizer *t, const mvq_gguf *g, mvq_error *err)
{
    const void *scores, *types;
    mvq_status st = optional_array(g, "tokenizer.ggml.scores", MVQ_GGUF_FLOAT32, t->n_vocab, &scores, err);
    if (st == MVQ_OK)
        st = optional_array(g, "tokenizer.ggml.token_type", MVQ_GGUF_INT32, t->n_vocab, &types, err);
    if (st != MVQ_OK)
        return st;
    t->scores = calloc((size_t)t->n_vocab, sizeof *t->scores);
    t->types = malloc((size_t)t->n_vocab);
    if (!t->scores || !t->types)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory for the vocabulary", mvq_gguf_path(g));
    if (scores)
        memcpy(t->scores, scores, (size_t)t->n_vocab * sizeof(float));
    for (int64_t i = 0; i < t->n_vocab; i++) {
        int32_t type = MVQ_TOKEN_NORMAL; /* llama.cpp's default without token types */
        if (types)
            memcpy(&type, (const char *)types + 4 * i, 4);
        t->types[i] = type >= MVQ_TOKEN_NORMAL && type <= MVQ_TOKEN_BYTE ? (uint8_t)type : MVQ_TOKEN_UNDEFINED;
    }
    return MVQ_OK;
}

static void find_byte_tokens(mvq_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        char one = (char)b;
        int32_t id = mvq_vocab_lookup(t, hex, 6);
        t->byte_token[b] = id >= 0 ? id : mvq_vocab_lookup(t, &one, 1);
    }
}

static int by_text_length_desc(const void *a, const void *b, void *arg)
{
    const mvq_tokenizer *t = arg;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text_len[x] != t->text_len[y])
        return t->text_len[x] > t->text_len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static mvq_status collect_user_defined(mvq_tokenizer *t, const mvq_gguf *g, mvq_error *err)
{
    for (int64_t i = 0; i < t->n_vocab; i++)
        t->n_user_defined += t->types[i] == MVQ_TOKEN_USER_DEFINED && t->text_len[i] > 0;
    if (t->n_user_defined == 0)
        return MVQ_OK;
    t->user_defined = malloc((size_t)t->n_user_defined * sizeof *t->user_defined);
    if (!t->user_defined)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory for the vocabulary", mvq_gguf_path(g));
    int64_t k = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->types[i] == MVQ_TOKEN_USER_DEFINED && t->text_len[i] > 0)
            t->user_defined[k++] = i;
    qsort_r(t->user_defined, (size_t)k, sizeof *t->user_defined, by_text_length_desc, t);
    return MVQ_OK;
}

static mvq_status check_model(const mvq_gguf *g, const char **model, mvq_error *err)
{
    if (!mvq_gguf_get_str(g, "tokenizer.ggml.model", model))
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: no tokenizer (tokenizer.ggml.model is missing)",
                             mvq_gguf_path(g));
    if (strcmp(*model, "llama") != 0) {
        char shown[80]; /* the name comes from the file: one line, control bytes shown as '?' */
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "%s: unsupported tokenizer model '%s' (mvquant supports 'llama')", mvq_gguf_path(g),
                             mvq_gguf_printable(*model, strlen(*model), shown, sizeof shown));
    }
    return MVQ_OK;
}

static mvq_status load(mvq_tokenizer *t, const mvq_gguf *g, mvq_error *err)
{
    const char *model;
    mvq_status st = check_model(g, &model, err);
    if (st != MVQ_OK)
        return st;
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!kv || kv->type != MVQ_GGUF_ARRAY || kv->arr_type != MVQ_GGUF_STRING || kv->arr_n == 0 ||
        kv->arr_n > INT32_MAX)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tokenizer.ggml.tokens is missing or not a string array",
                             mvq_gguf_path(g));
    t->n_vocab = (int64_t)kv->arr_n;
    t->model = strdup(model);
    if (!t->model)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", mvq_gguf_path(g));
    if ((st = copy_texts(t, g, kv->v.strs, err)) != MVQ_OK ||
        (st = copy_scores_and_types(t, g, err)) != MVQ_OK || (st = mvq_vocab_index_build(t, err)) != MVQ_OK ||
        (st = collect_user_defined(t, g, err)) != MVQ_OK)
        return st;
    find_byte_tokens(t);
    t->bos = special_id(g, "tokenizer.ggml.bos_token_id", 1, t->n_vocab);
    t->eos = special_id(g, "tokenizer.ggml.eos_token_id", 2, t->n_vocab);
    t->unk = special_id(g, "tokenizer.ggml.unknown_token_id", 0, t->n_vocab);
    t->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", true);
    t->add_eos = get_bool(g, "tokenizer.ggml.add_eos_token", false);
    t->add_space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", true);
    return MVQ_OK;
}

mvq_tokenizer *mvq_tokenizer_from_gguf(const mvq_gguf *g, mvq_error *err)
{
    if (!g) {
        mvq_error_set(err, MVQ_ERR_ARG, "tokenizer: no GGUF file given");
        return NULL;
    }
    mvq_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", mvq_gguf_path(g));
        return NULL;
    }
    if (load(t, g, err) != MVQ_OK) {
        mvq_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void mvq_tokenizer_free(mvq_tokenizer *t)
{
    if (!t)
        return;
    mvq_vocab_index_free(&t->index);
    free(t->user_defined);
    free(t->types);
    free(t->scores);
    free(t->text_len);
    free(t->text_off);
    free(t->blob);
    free(t->model);
    free(t);
}
