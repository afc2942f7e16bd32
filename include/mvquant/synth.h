/* mvquant: deterministic synthetic Llama models, written as GGUF.
 *
 * The file looks like one llama.cpp's converter writes (architecture
 * "llama", its tensor names and metadata keys, a SentencePiece-style
 * byte-level vocabulary: <unk>, <s>, </s>, the 256 <0xXX> tokens, "▁" and
 * the printable ASCII characters, then merged letter strings), with weights
 * drawn uniformly at random (variance 1/fan-in) from the seed, and two
 * planted features of trained models:
 *  - massive Q/K dimensions: in every layer and head, the rows of attn_q and
 *    attn_k for a few low-frequency RoPE pairs (dims 2p, 2p+1 of the head,
 *    p in the upper half of the pairs) are scaled by massive_gain, so Q and
 *    K carry values about that many times larger there (after RoPE too);
 *  - massive residual channels: a few columns of token_embd and rows of
 *    ffn_down are scaled by channel_gain, and the norm weights of those
 *    channels by 1/sqrt(channel_gain) (so the linear layers see outlier
 *    input columns, sqrt(channel_gain) times the others, that do not
 *    drown the Q/K signal).
 * Which ones is stored in the file, for tests of their detection:
 *   mvquant.synth.massive_dims     INT32 array, dims within a head (sorted)
 *   mvquant.synth.massive_channels INT32 array, residual channels (sorted)
 *   mvquant.synth.seed, mvquant.synth.massive_gain, mvquant.synth.channel_gain
 *
 * Tensors are generated and written one row at a time through the streaming
 * GGUF writer, so memory stays bounded at any model size.  The same
 * parameters give the same bytes on every platform. */
#ifndef MVQUANT_SYNTH_H
#define MVQUANT_SYNTH_H

#include <mvquant/gguf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvq_synth_params {
    int64_t dim, n_layers, n_heads, n_kv_heads, ff, vocab, ctx;
    mvq_type type;          /* of the 2-D weights: F32, F16 or BF16 (norms stay F32) */
    uint64_t seed;
    float rope_base, rms_eps;
    int n_massive_pairs;    /* RoPE pairs per head amplified in W_q and W_k */
    float massive_gain;
    int n_massive_channels; /* residual channels with large activations */
    float channel_gain;
    mvq_progress_fn progress; /* optional: bytes of tensor data written so far */
    void *progress_ctx;
} mvq_synth_params;

#define MVQ_SYNTH_MIN_VOCAB 259 /* <unk> <s> </s> + 256 byte tokens */

/* dim 256, 2 layers, 4 heads, 2 KV heads, ff 768, vocab 512, ctx 256, F32,
 * seed 42, RoPE base 10000, eps 1e-5, 2 massive pairs at gain 10, 2 massive
 * channels at gain 20. */
MVQ_API void mvq_synth_default(mvq_synth_params *p);

/* Checks the shapes (dim divisible by heads, even head size, heads by KV
 * heads, vocab >= MVQ_SYNTH_MIN_VOCAB, ...). */
MVQ_API mvq_status mvq_synth_check(const mvq_synth_params *p, mvq_error *err);

/* The massive dims (within a head, sorted) and channels the parameters
 * choose; each array needs room for 2 * n_massive_pairs and
 * n_massive_channels entries.  p must pass mvq_synth_check. */
MVQ_API void mvq_synth_massive(const mvq_synth_params *p, int32_t *dims, int32_t *channels);

/* Writes the model to path (through a temporary file renamed into place). */
MVQ_API mvq_status mvq_synth_write(const char *path, const mvq_synth_params *p, mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
