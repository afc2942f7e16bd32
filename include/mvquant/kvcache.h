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

/* How K is grouped for quantization. */
typedef enum mvq_kv_scheme {
    MVQ_KV_PER_TOKEN = 0,   /* a token's row in type_k's blocks (llama.cpp) */
    MVQ_KV_PER_CHANNEL = 1, /* KIVI: each channel over groups of tokens (see mvq_kv_quantize_channels) */
} mvq_kv_scheme;

typedef struct mvq_kv_quant {
    mvq_type type_k, type_v; /* MVQ_TYPE_F32: that half is not quantized (type_k: F32 under per-channel) */
    /* [n_layer][n_head_kv * head_dim], may be NULL: */
    const uint8_t *k_keep;   /* 1: K channel kept in F16 (the quantized row holds 0 there) */
    const float *k_scale;    /* a per K channel: K * (1/a) before quantizing, Q * a (1: none) */
    /* MVQ_KV_PER_CHANNEL only (zero-initialised: per token).  K is held in
     * F16 and flushed residual tokens at a time, once residual tokens have
     * gathered, as residual / group groups of group tokens of k_bits;
     * residual 0 means group (tokens wait only for their group). */
    mvq_kv_scheme scheme;
    int k_bits;       /* 2, 4 or 8 */
    int64_t group;    /* G: tokens per group, a multiple of 8 */
    int64_t residual; /* R: a multiple of G, or 0 */
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
 * channels at 2 bytes each; per-channel K: a group's bytes over G
 * (rounded up), the F16 residual not counted (mvq_kv_residual_bytes). */
MVQ_API size_t mvq_kv_token_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int which, int64_t il);
/* Per-channel K: the most the F16 residual of layer il holds, (R - 1)
 * tokens at 2 bytes a value (0 per token). */
MVQ_API size_t mvq_kv_residual_bytes(const mvq_kv_quant *kv, const mvq_hparams *hp, int64_t il);

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

/* KIVI's K quantizer (per channel, asymmetric): a group of g tokens x n
 * channels (x[t * n + c], token-major as a cache holds it), each channel's
 * g values quantized to bits (2, 4 or 8; g * bits a multiple of 8) with an
 * F16 minimum m and step d: y = m + d * code, code in [0, 2^bits - 1].
 * Layout of q: the non-kept channels' (d, m) F16 pairs, then their codes
 * (g * bits / 8 bytes each, token t at bit t * bits, low bits first), then
 * the kept channels (keep may be NULL) as F16, token-major. */
MVQ_API size_t mvq_kv_channel_bytes(int bits, int64_t g, int64_t n, const uint8_t *keep);
MVQ_API void mvq_kv_quantize_channels(int bits, const float *x, int64_t g, int64_t n, const uint8_t *keep,
                                      void *q);
MVQ_API void mvq_kv_dequantize_channels(int bits, const void *q, int64_t g, int64_t n, const uint8_t *keep,
                                        float *y);
/* Per-channel K: how many of the first len tokens are quantized (the rest
 * are the F16 residual): len rounded down to a multiple of R (G if R is 0). */
MVQ_API int64_t mvq_kv_channel_quantized(const mvq_kv_quant *kv, int64_t len);

/* The forward pass with this cache (NULL: f32); kv must outlive f. */
MVQ_API void mvq_forward_set_kv(mvq_forward *f, const mvq_kv_quant *kv);

#ifdef __cplusplus
}
#endif
#endif
