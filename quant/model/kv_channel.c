/* KIVI's K cache (Liu et al. 2024): K quantized per channel over groups of
 * G tokens, asymmetric (min and step in F16), the newest tokens held in
 * F16 until R of them have gathered and are flushed as R / G groups, as
 * KIVI's own cache does.  Per-channel groups put a massive channel in
 * groups of its own instead of letting it set every token's scale. */
#include "config.h"
#include "quant/model/kv_channel.h"
#include "quant/model/model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t kept_count(const uint8_t *keep, int64_t n)
{
    int64_t k = 0;
    for (int64_t c = 0; keep && c < n; c++)
        k += keep[c] != 0;
    return k;
}

size_t mvq_kv_channel_bytes(int bits, int64_t g, int64_t n, const uint8_t *keep)
{
    const int64_t nk = kept_count(keep, n), nq = n - nk;
    return (size_t)(nq * (2 * (int64_t)sizeof(mvq_half) + g * bits / 8) + nk * g * (int64_t)sizeof(mvq_half));
}

void mvq_kv_quantize_channels(int bits, const float *x, int64_t g, int64_t n, const uint8_t *keep, void *q)
{
    const int64_t nk = kept_count(keep, n), nq = n - nk, code_bytes = g * bits / 8;
    const int levels = (1 << bits) - 1;
    mvq_half *dm = q;
    uint8_t *codes = (uint8_t *)(dm + 2 * nq);
    mvq_half *kept = (mvq_half *)(codes + nq * code_bytes);
    int64_t j = 0, kk = 0;
    for (int64_t c = 0; c < n; c++) {
        if (keep && keep[c]) {
            for (int64_t t = 0; t < g; t++)
                kept[t * nk + kk] = mvq_fp32_to_fp16(x[t * n + c]);
            kk++;
            continue;
        }
        float lo = x[c], hi = x[c];
        for (int64_t t = 1; t < g; t++) {
            lo = fminf(lo, x[t * n + c]);
            hi = fmaxf(hi, x[t * n + c]);
        }
        /* codes from the stored (F16) minimum and step, so they fit what is read back */
        const float m = mvq_fp16_to_fp32(mvq_fp32_to_fp16(lo));
        const float d = mvq_fp16_to_fp32(mvq_fp32_to_fp16((hi - m) / (float)levels));
        const float id = d > 0 ? 1.0f / d : 0.0f;
        dm[2 * j] = mvq_fp32_to_fp16(d);
        dm[2 * j + 1] = mvq_fp32_to_fp16(m);
        uint8_t *cj = codes + j * code_bytes;
        memset(cj, 0, (size_t)code_bytes);
        for (int64_t t = 0; t < g; t++) {
            const float r = floorf((x[t * n + c] - m) * id + 0.5f);
            const int v = r < 0 ? 0 : r > (float)levels ? levels : (int)r;
            cj[t * bits / 8] |= (uint8_t)(v << (t * bits % 8));
        }
        j++;
    }
}

void mvq_kv_dequantize_channels(int bits, const void *q, int64_t g, int64_t n, const uint8_t *keep, float *y)
{
    const int64_t nk = kept_count(keep, n), nq = n - nk, code_bytes = g * bits / 8;
    const int mask = (1 << bits) - 1;
    const mvq_half *dm = q;
    const uint8_t *codes = (const uint8_t *)(dm + 2 * nq);
    const mvq_half *kept = (const mvq_half *)(codes + nq * code_bytes);
    int64_t j = 0, kk = 0;
    for (int64_t c = 0; c < n; c++) {
        if (keep && keep[c]) {
            for (int64_t t = 0; t < g; t++)
                y[t * n + c] = mvq_fp16_to_fp32(kept[t * nk + kk]);
            kk++;
            continue;
        }
        const float d = mvq_fp16_to_fp32(dm[2 * j]), m = mvq_fp16_to_fp32(dm[2 * j + 1]);
        const uint8_t *cj = codes + j * code_bytes;
        for (int64_t t = 0; t < g; t++)
            y[t * n + c] = m + d * (float)((cj[t * bits / 8] >> (t * bits % 8)) & mask);
        j++;
    }
}

static int64_t flush_size(const mvq_kv_quant *kv)
{
    return kv->residual > 0 ? kv->residual : kv->group;
}

int64_t mvq_kv_channel_quantized(const mvq_kv_quant *kv, int64_t len)
{
    const int64_t r = flush_size(kv);
    return r > 0 ? len / r * r : 0;
}

mvq_status mvq_kv_channel_check(const mvq_kv_quant *kv, const mvq_hparams *hp, mvq_error *err)
{
    (void)hp;
    if (kv->type_k != MVQ_TYPE_F32)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: per-channel K has its own format (%d bits per channel "
                             "and group), not the cache type %s", kv->k_bits, mvq_type_name(kv->type_k));
    if (kv->k_bits != 2 && kv->k_bits != 4 && kv->k_bits != 8)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: per-channel K takes 2, 4 or 8 bits, not %d", kv->k_bits);
    if (kv->group < 8 || kv->group % 8)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: per-channel group of %lld tokens is not a positive "
                             "multiple of 8", (long long)kv->group);
    if (kv->residual < 0 || kv->residual % kv->group)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: the F16 residual of %lld tokens is not a multiple of "
                             "the group (%lld)", (long long)kv->residual, (long long)kv->group);
    return MVQ_OK;
}

size_t mvq_kv_channel_token_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il)
{
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    const uint8_t *keep = kv->k_keep ? kv->k_keep + il * kv_dim : NULL;
    const size_t b = mvq_kv_channel_bytes(kv->k_bits, kv->group, kv_dim, keep);
    return (b + (size_t)kv->group - 1) / (size_t)kv->group;
}

size_t mvq_kv_residual_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il)
{
    (void)il;
    if (kv->scheme != MVQ_KV_PER_CHANNEL)
        return 0;
    return (size_t)((flush_size(kv) - 1) * hp->n_head_kv * hp->head_dim) * sizeof(mvq_half);
}

/* Tokens [from, to) of rows (kv_dim each), whole groups, through the quantizer in place. */
static mvq_status flush(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il, float *rows, int64_t from,
                        int64_t to, mvq_error *err)
{
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim, g = kv->group;
    const uint8_t *keep = kv->k_keep ? kv->k_keep + il * kv_dim : NULL;
    void *q = malloc(mvq_kv_channel_bytes(kv->k_bits, g, kv_dim, keep));
    if (!q)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "KV cache: out of memory");
    for (int64_t t = from; t + g <= to; t += g) {
        mvq_kv_quantize_channels(kv->k_bits, rows + t * kv_dim, g, kv_dim, keep, q);
        mvq_kv_dequantize_channels(kv->k_bits, q, g, kv_dim, keep, rows + t * kv_dim);
    }
    free(q);
    return MVQ_OK;
}

mvq_status mvq_kv_channel_step(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il, float *k_cache,
                               int64_t len, mvq_error *err)
{
    const int64_t before = mvq_kv_channel_quantized(kv, len - 1), now = mvq_kv_channel_quantized(kv, len);
    return now > before ? flush(kv, hp, il, k_cache, before, now, err) : MVQ_OK;
}

/* Queries t0..t1-1, which all read the keys as seen holds them, split
 * over the pool; each thread has its stride of scores. */
typedef struct segment {
    const mvq_layer_pass *p;
    const float *seen;
    int64_t t0, t1, stride;
} segment;

static void attend_segment(void *arg, int ith, int nth)
{
    const segment *s = arg;
    const mvq_hparams *hp = &s->p->m->hp;
    const int64_t q_dim = hp->n_head * hp->head_dim;
    for (int64_t t = s->t0 + ith; t < s->t1; t += nth)
        mvq_attention_cached(s->p->q + t * q_dim, s->seen, s->p->v, t + 1, hp->n_head, hp->n_head_kv, hp->head_dim,
                             s->p->scores + ith * s->stride, s->p->att + t * q_dim);
}

mvq_status mvq_kv_channel_attention(const mvq_layer_pass *p, int64_t il, int64_t n, mvq_error *err)
{
    const mvq_hparams *hp = &p->m->hp;
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    const size_t bytes = (size_t)(n * kv_dim) * sizeof(float);
    float *kq = malloc(bytes ? bytes : 1), *seen = malloc(bytes ? bytes : 1);
    mvq_status st = kq && seen ? MVQ_OK : mvq_error_set(err, MVQ_ERR_NOMEM, "KV cache: out of memory");
    if (st == MVQ_OK) {
        memcpy(kq, p->k, bytes);
        memcpy(seen, p->k, bytes);
        st = flush(p->kv, hp, il, kq, 0, mvq_kv_channel_quantized(p->kv, n), err);
    }
    /* seen: the keys as the decoder holds them at length t + 1, quantized
     * a flush at a time as t grows; the queries between flushes share it */
    for (int64_t t0 = 0; st == MVQ_OK && t0 < n;) {
        const int64_t nq = mvq_kv_channel_quantized(p->kv, t0 + 1);
        memcpy(seen, kq, (size_t)(nq * kv_dim) * sizeof(float));
        int64_t t1 = t0 + 1;
        while (t1 < n && mvq_kv_channel_quantized(p->kv, t1 + 1) == nq)
            t1++;
        segment s = {.p = p, .seen = seen, .t0 = t0, .t1 = t1, .stride = mvq_attention_kt_stride(n)};
        mvq_pool_run(p->pool, attend_segment, &s);
        t0 = t1;
    }
    free(kq);
    free(seen);
    return st;
}
