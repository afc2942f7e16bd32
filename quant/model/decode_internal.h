/* Internal to quant/: one-token-at-a-time decoding with a KV cache, for
 * text the model writes itself (calibration without a file).  The same
 * arithmetic as the forward pass (its building blocks, the matrix product),
 * so the logits at a position match a prefill of the same tokens. */
#ifndef MVQ_DECODE_INTERNAL_H
#define MVQ_DECODE_INTERNAL_H

#include <mvquant/model.h>

typedef struct mvq_decoder mvq_decoder;

/* Room for batch sequences of max_pos positions; pool may be NULL (single
 * thread). */
mvq_decoder *mvq_decoder_create(const mvq_model *m, int64_t max_pos, int64_t batch, mvq_pool *pool,
                                mvq_error *err);
void mvq_decoder_free(mvq_decoder *d);
/* Forgets the sequences: the next tokens are at position 0. */
void mvq_decoder_reset(mvq_decoder *d);
/* Feeds tokens[b] to sequence b (b < nb <= batch), all at the next
 * position; logits (nb rows of n_vocab, may be NULL) receive the
 * next-token logits.  Sequences >= nb keep no state for this position. */
mvq_status mvq_decoder_step(mvq_decoder *d, const int32_t *tokens, int64_t nb, float *logits, mvq_error *err);
/* Observers at the taps of each step, as mvq_forward_add_observer (rows:
 * the sequences, all at one position; observation.decoding is true). */
mvq_status mvq_decoder_add_observer(mvq_decoder *d, const mvq_observer *o, int *id, mvq_error *err);
void mvq_decoder_remove_observer(mvq_decoder *d, int id);

/* Decodes with a quantized KV cache (NULL: f32); kv must outlive d. */
struct mvq_kv_quant;
void mvq_decoder_set_kv(mvq_decoder *d, const struct mvq_kv_quant *kv);

#endif
