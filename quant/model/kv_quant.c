/* The quantized KV cache: per-token rows of K and V stored in a cache type
 * by its from_float kernel (as llama.cpp's CPU cache is), the massive K
 * channels kept in F16 or rescaled against Q, and the queries rounded to
 * the K type's dot-product type as llama.cpp's flash attention does before
 * its vec_dot.  The pass keeps the values f32 (quantized then dequantized
 * in place): the same values a stored cache yields. */
#include "config.h"
#include "quant/model/kv_channel.h"
#include "quant/model/layer_internal.h"
#include "quant/model/model_internal.h"
#include <mvquant/kvcache.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_cache_type(mvq_type t)
{
    switch (t) {
    case MVQ_TYPE_F32: case MVQ_TYPE_F16: case MVQ_TYPE_Q8_0: case MVQ_TYPE_Q4_0: case MVQ_TYPE_Q4_1:
    case MVQ_TYPE_Q5_0: case MVQ_TYPE_Q5_1: case MVQ_TYPE_IQ4_NL:
        return true;
    default:
        return false;
    }
}

mvq_status mvq_kv_check(const mvq_kv_quant *kv, const mvq_hparams *hp, mvq_error *err)
{
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    const mvq_type t[2] = {kv->type_k, kv->type_v};
    if (mvq_kv_per_channel(kv)) {
        mvq_status st = mvq_kv_channel_check(kv, hp, err);
        if (st != MVQ_OK)
            return st;
    }
    for (int i = 0; i < 2; i++) {
        if (!is_cache_type(t[i]))
            return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: %s is not a cache type (f16, q8_0, q4_0, q4_1, q5_0, "
                                 "q5_1, iq4_nl)", mvq_type_name(t[i]));
        const int64_t bs = mvq_type_traits_get(t[i])->block_size;
        if (kv_dim % bs)
            return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: a token's %s row of %lld values is not a whole number "
                                 "of %s blocks of %lld", i ? "V" : "K", (long long)kv_dim, mvq_type_name(t[i]),
                                 (long long)bs);
    }
    return MVQ_OK;
}

bool mvq_kv_grouped(const mvq_kv_quant *kv, const mvq_hparams *hp)
{
    return hp->head_dim % mvq_type_traits_get(kv->type_k)->block_size != 0;
}

size_t mvq_kv_token_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int which, int64_t il)
{
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    if (!which && mvq_kv_per_channel(kv))
        return mvq_kv_channel_token_bytes(kv, hp, il);
    size_t b = mvq_row_size(which ? kv->type_v : kv->type_k, kv_dim);
    if (!which && kv->k_keep)
        for (int64_t c = 0; c < kv_dim; c++)
            b += kv->k_keep[il * kv_dim + c] ? sizeof(mvq_half) : 0;
    return b;
}

void mvq_kv_quantize_token(mvq_type t, const float *x, int64_t n, const uint8_t *keep, void *q, mvq_half *kept)
{
    if (!keep) {
        mvq_quantize_row(t, x, q, n, NULL);
        return;
    }
    float *rest = malloc((size_t)n * sizeof *rest);
    if (!rest) { /* cannot happen for cache rows in practice; keep nothing rather than fail */
        mvq_quantize_row(t, x, q, n, NULL);
        return;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        rest[i] = keep[i] ? 0.0f : x[i];
        if (keep[i])
            kept[m++] = mvq_fp32_to_fp16(x[i]);
    }
    mvq_quantize_row(t, rest, q, n, NULL);
    free(rest);
}

void mvq_kv_dequantize_token(mvq_type t, const void *q, const mvq_half *kept, const uint8_t *keep, int64_t n,
                             float *y)
{
    mvq_dequantize_row(t, q, y, n);
    for (int64_t i = 0, m = 0; keep && i < n; i++)
        if (keep[i])
            y[i] = mvq_fp16_to_fp32(kept[m++]);
}

int64_t mvq_kv_massive_from_file(const mvq_model *m, uint8_t *k_keep)
{
    const mvq_hparams *hp = &m->hp;
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    int64_t n = 0;
    bool any = false;
    memset(k_keep, 0, (size_t)(hp->n_layer * kv_dim));
    for (int64_t l = 0; m->gguf && l < hp->n_layer; l++) {
        char key[96];
        snprintf(key, sizeof key, "mvquant.massive.blk.%lld.k", (long long)l);
        const mvq_gguf_kv *kv = mvq_gguf_find_kv(m->gguf, key);
        if (!kv || kv->type != MVQ_GGUF_ARRAY || kv->arr_type != MVQ_GGUF_INT32)
            continue;
        any = true;
        const int32_t *dims = kv->v.arr;
        for (uint64_t i = 0; i < kv->arr_n; i++)
            if (dims[i] >= 0 && dims[i] < kv_dim && !k_keep[l * kv_dim + dims[i]]) {
                k_keep[l * kv_dim + dims[i]] = 1;
                n++;
            }
    }
    return any ? n : -1;
}

int64_t mvq_kv_massive_from_calib(const mvq_calib *c, const mvq_massive_params *p, uint8_t *k_keep, float *k_scale)
{
    const mvq_hparams *hp = mvq_calib_hparams(c);
    const int64_t hd = hp->head_dim, kv_dim = hp->n_head_kv * hd;
    float *M = malloc((size_t)kv_dim * sizeof *M);
    if (!M)
        return 0;
    int64_t n = 0;
    for (int64_t l = 0; l < hp->n_layer; l++) {
        uint8_t *mask = k_keep + l * kv_dim;
        mvq_calib_norms(c, MVQ_CALIB_K, l, M);
        n += mvq_massive_detect(M, (int)hp->n_head_kv, (int)hd, (int)hp->n_rot, hp->rope_freq_base,
                                hp->rope_style == MVQ_ROPE_NEOX, p, mask, NULL);
        for (int64_t h = 0; k_scale && h < hp->n_head_kv; h++) {
            double mean = 0.0;
            for (int64_t d = 0; d < hd; d++)
                mean += M[h * hd + d] / (double)hd;
            for (int64_t d = 0; d < hd; d++) {
                const int64_t i = h * hd + d;
                k_scale[l * kv_dim + i] = mask[i] && mean > 0 && M[i] > mean ? (float)(M[i] / mean) : 1.0f;
            }
        }
    }
    free(M);
    return n;
}

/* x (n values) through t and back, channels with keep held in F16. */
static void round_trip(mvq_type t, float *x, int64_t n, const uint8_t *keep, void *q, mvq_half *kept)
{
    mvq_kv_quantize_token(t, x, n, keep, q, kept);
    mvq_kv_dequantize_token(t, q, kept, keep, n, x);
}

mvq_status mvq_kv_apply(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il, float *q, float *k, float *v,
                        int64_t n, mvq_error *err)
{
    const int64_t hd = hp->head_dim, kv_dim = hp->n_head_kv * hd, q_dim = hp->n_head * hd;
    const int64_t group = hp->n_head / hp->n_head_kv;
    const uint8_t *keep = kv->k_keep ? kv->k_keep + il * kv_dim : NULL;
    const float *scale = kv->k_scale ? kv->k_scale + il * kv_dim : NULL;
    const mvq_type qt = mvq_type_traits_get(kv->type_k)->vec_dot_type;
    /* the dot product's query type, per head; grouped blocks leave Q in f32 */
    const bool round_q = kv->type_k != MVQ_TYPE_F32 && !mvq_kv_grouped(kv, hp) &&
                         hd % mvq_type_traits_get(qt)->block_size == 0;
    void *buf = malloc(mvq_row_size(MVQ_TYPE_F32, kv_dim) + 64);
    mvq_half *kept = malloc((size_t)kv_dim * sizeof *kept);
    if (!buf || !kept) {
        free(buf);
        free(kept);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "KV cache: out of memory");
    }
    for (int64_t t = 0; t < n; t++) {
        float *qt_row = q + t * q_dim, *kt_row = k + t * kv_dim;
        for (int64_t c = 0; scale && c < kv_dim; c++) {
            if (scale[c] == 1.0f)
                continue;
            kt_row[c] /= scale[c];
            for (int64_t j = 0; j < group; j++)
                qt_row[((c / hd) * group + j) * hd + c % hd] *= scale[c];
        }
        if (mvq_kv_per_channel(kv)) /* held in F16 until flushed (quant/model/kv_channel.c) */
            for (int64_t c = 0; c < kv_dim; c++)
                kt_row[c] = mvq_fp16_to_fp32(mvq_fp32_to_fp16(kt_row[c]));
        else if (kv->type_k != MVQ_TYPE_F32)
            round_trip(kv->type_k, kt_row, kv_dim, keep, buf, kept);
        if (kv->type_v != MVQ_TYPE_F32)
            round_trip(kv->type_v, v + t * kv_dim, kv_dim, NULL, buf, kept);
        for (int64_t h = 0; round_q && h < hp->n_head; h++)
            round_trip(qt, qt_row + h * hd, hd, keep ? keep + (h / group) * hd : NULL, buf, kept);
    }
    free(buf);
    free(kept);
    return MVQ_OK;
}
