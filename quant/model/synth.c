/* Synthetic Llama models: parameters, the planted massive values, and the
 * metadata; the tensors themselves are in synth_tensors.c. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mvquant/gguf.h>

#include "quant/model/synth_internal.h"

void mvq_synth_default(mvq_synth_params *p)
{
    *p = (mvq_synth_params){
        .dim = 256, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .ff = 768, .vocab = 512, .ctx = 256,
        .type = MVQ_TYPE_F32, .seed = 42, .rope_base = 10000.0f, .rms_eps = 1e-5f,
        .n_massive_pairs = 2, .massive_gain = 10.0f, .n_massive_channels = 2, .channel_gain = 20.0f,
    };
}

mvq_status mvq_synth_check(const mvq_synth_params *p, mvq_error *err)
{
    if (p->dim <= 0 || p->n_layers <= 0 || p->n_heads <= 0 || p->n_kv_heads <= 0 || p->ff <= 0 || p->ctx <= 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: dim, layers, heads, kv-heads, ff and ctx must be positive");
    if (p->dim > (1 << 20) || p->ff > (1 << 22) || p->n_layers > 4096 || p->ctx > INT32_MAX)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: dim, ff, layers or ctx out of range");
    if (p->dim % p->n_heads != 0 || (p->dim / p->n_heads) % 2 != 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: dim %lld is not an even head size times %lld heads",
                             (long long)p->dim, (long long)p->n_heads);
    if (p->n_heads % p->n_kv_heads != 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: %lld heads are not a multiple of %lld KV heads",
                             (long long)p->n_heads, (long long)p->n_kv_heads);
    if (p->vocab < MVQ_SYNTH_MIN_VOCAB || p->vocab > INT32_MAX / 16)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: vocabulary of %lld tokens (need at least %d)",
                             (long long)p->vocab, MVQ_SYNTH_MIN_VOCAB);
    if (p->type != MVQ_TYPE_F32 && p->type != MVQ_TYPE_F16 && p->type != MVQ_TYPE_BF16)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: type %s (only f32, f16 and bf16)", mvq_type_name(p->type));
    int64_t low_pairs = p->dim / p->n_heads / 4; /* the upper half of the RoPE pairs */
    if (p->n_massive_pairs < 0 || p->n_massive_pairs > low_pairs)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: %d massive pairs, but a head of %lld has %lld low-frequency pairs",
                             p->n_massive_pairs, (long long)(p->dim / p->n_heads), (long long)low_pairs);
    if (p->n_massive_channels < 0 || p->n_massive_channels > p->dim)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: %d massive channels out of %lld", p->n_massive_channels,
                             (long long)p->dim);
    if (!(p->massive_gain > 0.0f) || !(p->channel_gain > 0.0f) || !(p->rope_base > 0.0f) || !(p->rms_eps > 0.0f))
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: gains, RoPE base and eps must be positive");
    return MVQ_OK;
}

static int by_value(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* k distinct values of first .. first+n-1, sorted (partial Fisher-Yates). */
static void choose(mvq_synth_rng *rng, int32_t first, int64_t n, int k, int32_t *out)
{
    int32_t *pool = malloc((size_t)n * sizeof *pool);
    for (int64_t i = 0; i < n; i++)
        pool[i] = first + (int32_t)i;
    for (int i = 0; i < k; i++) {
        int64_t j = i + (int64_t)(mvq_synth_next(rng) % (uint64_t)(n - i));
        int32_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
        out[i] = pool[i];
    }
    free(pool);
    qsort(out, (size_t)k, sizeof *out, by_value);
}

void mvq_synth_massive(const mvq_synth_params *p, int32_t *dims, int32_t *channels)
{
    mvq_synth_rng rng = {p->seed ^ 0x6d61737369766521ull}; /* "massive!" */
    int64_t n_pairs = p->dim / p->n_heads / 2;
    int32_t pairs[64];
    int k = p->n_massive_pairs;
    int32_t *pair = k <= 64 ? pairs : malloc((size_t)k * sizeof *pair);
    choose(&rng, (int32_t)(n_pairs - n_pairs / 2), n_pairs / 2, k, pair);
    for (int i = 0; i < k; i++) {
        dims[2 * i] = 2 * pair[i];
        dims[2 * i + 1] = 2 * pair[i] + 1;
    }
    if (pair != pairs)
        free(pair);
    choose(&rng, 0, p->dim, p->n_massive_channels, channels);
}

static mvq_status add_bool(mvq_gguf_writer *w, const char *key, bool v, mvq_error *err)
{
    mvq_gguf_kv kv = {.key = {strlen(key), key}, .type = MVQ_GGUF_BOOL, .v.u64 = v};
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

/* llama.cpp's general.file_type: ALL_F32, MOSTLY_F16, MOSTLY_BF16 */
static uint32_t file_type_of(mvq_type t) { return t == MVQ_TYPE_F16 ? 1 : t == MVQ_TYPE_BF16 ? 32 : 0; }

static mvq_status add_hparams(mvq_gguf_writer *w, const mvq_synth_params *p, mvq_error *err)
{
    mvq_status st;
    if ((st = mvq_gguf_writer_add_str(w, "general.architecture", "llama", err)) ||
        (st = mvq_gguf_writer_add_str(w, "general.name", "mvquant-synth", err)) ||
        (st = mvq_gguf_writer_add_u32(w, "general.file_type", file_type_of(p->type), err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.vocab_size", (uint32_t)p->vocab, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.context_length", (uint32_t)p->ctx, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)p->dim, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)p->ff, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.block_count", (uint32_t)p->n_layers, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)p->n_heads, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)p->n_kv_heads, err)) ||
        (st = mvq_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", p->rms_eps, err)) ||
        (st = mvq_gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)(p->dim / p->n_heads), err)) ||
        (st = mvq_gguf_writer_add_f32(w, "llama.rope.freq_base", p->rope_base, err)))
        return st;
    return MVQ_OK;
}

static mvq_status add_tokenizer(mvq_gguf_writer *w, const mvq_synth_params *p, mvq_error *err)
{
    mvq_synth_vocab v;
    mvq_status st = mvq_synth_vocab_build(p->vocab, &v, err);
    if (st != MVQ_OK)
        return st;
    if ((st = mvq_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", v.texts, (uint64_t)v.n, err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_arr(w, "tokenizer.ggml.scores", MVQ_GGUF_FLOAT32, v.scores, (uint64_t)v.n, err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", MVQ_GGUF_INT32, v.types, (uint64_t)v.n, err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1, err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2, err)) == MVQ_OK &&
        (st = mvq_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0, err)) == MVQ_OK &&
        (st = add_bool(w, "tokenizer.ggml.add_bos_token", true, err)) == MVQ_OK)
        st = add_bool(w, "tokenizer.ggml.add_eos_token", false, err);
    mvq_synth_vocab_free(&v);
    return st;
}

static mvq_status add_synth_keys(mvq_gguf_writer *w, const mvq_synth_params *p, const int32_t *dims,
                                 const int32_t *channels, mvq_error *err)
{
    mvq_status st;
    if ((st = mvq_gguf_writer_add_u64(w, "mvquant.synth.seed", p->seed, err)) ||
        (st = mvq_gguf_writer_add_arr(w, "mvquant.synth.massive_dims", MVQ_GGUF_INT32, dims,
                                      (uint64_t)(2 * p->n_massive_pairs), err)) ||
        (st = mvq_gguf_writer_add_f32(w, "mvquant.synth.massive_gain", p->massive_gain, err)) ||
        (st = mvq_gguf_writer_add_arr(w, "mvquant.synth.massive_channels", MVQ_GGUF_INT32, channels,
                                      (uint64_t)p->n_massive_channels, err)) ||
        (st = mvq_gguf_writer_add_f32(w, "mvquant.synth.channel_gain", p->channel_gain, err)))
        return st;
    return MVQ_OK;
}

mvq_status mvq_synth_write(const char *path, const mvq_synth_params *p, mvq_error *err)
{
    mvq_status st = mvq_synth_check(p, err);
    if (st != MVQ_OK)
        return st;
    int32_t *dims = malloc((size_t)(2 * p->n_massive_pairs + 1) * sizeof *dims);
    int32_t *channels = malloc((size_t)(p->n_massive_channels + 1) * sizeof *channels);
    if (!dims || !channels) {
        free(dims);
        free(channels);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    }
    mvq_synth_massive(p, dims, channels);
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, NULL, err);
    if (!w)
        st = err ? err->status : MVQ_ERR_IO;
    if (w && ((st = add_hparams(w, p, err)) != MVQ_OK || (st = add_tokenizer(w, p, err)) != MVQ_OK ||
              (st = add_synth_keys(w, p, dims, channels, err)) != MVQ_OK ||
              (st = mvq_synth_write_tensors(w, p, dims, channels, err)) != MVQ_OK))
        mvq_gguf_writer_abort(w);
    else if (w)
        st = mvq_gguf_writer_finish(w, err);
    free(dims);
    free(channels);
    return st;
}
