/* mvquant: a quantized KV cache in llama.cpp's cache types (its -ctk/-ctv:
 * f16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl), per token along the head
 * dimension, with the massive K channels either ignored, kept in F16 beside
 * the quantized rest, or flattened by Q<->K pair rescaling (K channel times
 * 1/a, the same channel of the queries that read it times a: every logit
 * unchanged in exact arithmetic).  The per-token quantizers are public for
 * engines; the forward pass and the evaluation can run with such a cache. */
#ifndef MVQUANT_KVCACHE_H
#define MVQUANT_KVCACHE_H

#include <mvquant/model.h>
#include <mvquant/calib.h>
#include <mvquant/massive.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvq_kv_quant {
    mvq_type type_k, type_v; /* MVQ_TYPE_F32: that half is not quantized */
    /* [n_layer][n_head_kv * head_dim], may be NULL: */
    const uint8_t *k_keep;   /* 1: K channel kept in F16 (the quantized row holds 0 there) */
    const float *k_scale;    /* a per K channel: K * (1/a) before quantizing, Q * a (1: none) */
} mvq_kv_quant;

/* Checks that the types are cache types and that a token's K/V row
 * (n_head_kv * head_dim values) is a whole number of blocks.  Heads
 * smaller than a block (stories260K's 8) are grouped: a block spans the
 * heads of one token, and the queries then stay in f32 (no per-head block
 * to quantize them to), where llama.cpp refuses. */
MVQ_API mvq_status mvq_kv_check(const mvq_kv_quant *kv, const mvq_hparams *hp, mvq_error *err);
/* True when the blocks of kv's K type span heads (see mvq_kv_check). */
MVQ_API bool mvq_kv_grouped(const mvq_kv_quant *kv, const mvq_hparams *hp);
/* Cache bytes per token of layer il: K (which = 0) or V (1), kept
 * channels at 2 bytes each. */
MVQ_API size_t mvq_kv_token_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int which, int64_t il);

/* One token's row of n values (a multiple of t's block) into q
 * (mvq_row_size(t, n) bytes) by t's from_float kernel; channels with
 * keep[i] (keep may be NULL) are zero in q and go, in order, to kept as F16. */
MVQ_API void mvq_kv_quantize_token(mvq_type t, const float *x, int64_t n, const uint8_t *keep, void *q,
                                   mvq_half *kept);
MVQ_API void mvq_kv_dequantize_token(mvq_type t, const void *q, const mvq_half *kept, const uint8_t *keep,
                                     int64_t n, float *y);

/* K channels to keep: the file's mvquant.massive.blk.N.k keys (returns
 * how many are set, -1 when the file has none). */
MVQ_API int64_t mvq_kv_massive_from_file(const mvq_model *m, uint8_t *k_keep);
/* From calibration norms of K (mvq_massive_detect with p per KV head);
 * k_scale (may be NULL) receives, for the kept channels, a = M_K[d] /
 * mean_d M_K[head] (so the rescaled channel sits at its head's mean), 1
 * elsewhere.  Returns the number kept. */
MVQ_API int64_t mvq_kv_massive_from_calib(const mvq_calib *c, const mvq_massive_params *p, uint8_t *k_keep,
                                          float *k_scale);

/* The forward pass with this cache (NULL: f32); kv must outlive f. */
MVQ_API void mvq_forward_set_kv(mvq_forward *f, const mvq_kv_quant *kv);

#ifdef __cplusplus
}
#endif
#endif
