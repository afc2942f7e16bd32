/* The per-channel (KIVI) K cache inside the pass (quant/model/kv_channel.c). */
#ifndef MVQ_MODEL_KV_CHANNEL_H
#define MVQ_MODEL_KV_CHANNEL_H

#include "quant/model/layer_internal.h"
#include <mvquant/kvcache.h>

static inline bool mvq_kv_per_channel(const struct mvq_kv_quant *kv)
{
    return kv && kv->scheme == MVQ_KV_PER_CHANNEL;
}
/* Bits, group and residual make sense for n_head_kv * head_dim channels. */
mvq_status mvq_kv_channel_check(const mvq_kv_quant *kv, const mvq_hparams *hp, mvq_error *err);
/* K bytes per token of layer il (see mvq_kv_token_bytes). */
size_t mvq_kv_channel_token_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il);
/* The decoder's cache of one sequence (rows of kv_dim) has grown to len
 * tokens: quantizes (in place) the tokens that this step flushes. */
mvq_status mvq_kv_channel_step(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il, float *k_cache,
                               int64_t len, mvq_error *err);
/* The batched pass's attention (p->k already F16, p->v already through
 * V's type): the query at position t reads the keys as a decoder holds
 * them at length t + 1, so the two passes give the same logits. */
mvq_status mvq_kv_channel_attention(const mvq_layer_pass *p, int64_t il, int64_t n, mvq_error *err);

#endif
