/* Internal to quant/: shared pieces of the calibration statistics. */
#ifndef MVQ_CALIB_INTERNAL_H
#define MVQ_CALIB_INTERNAL_H

#include <mvquant/quantize.h>

/* Which statistic (mvq_calib_input) feeds a 2-D weight named as llama.cpp
 * names them, and of which layer (0 for output.weight); -1 when none. */
int mvq_calib_tensor_input(const char *name, int64_t *layer);

/* The statistic (mvq_calib_input) a tap observes; -1 for the attention taps. */
int mvq_calib_tap_input(mvq_tap tap);

/* The file's tokenizer.ggml.bos_token_id when it is a token, else -1:
 * what the calibration pass starts each sequence with. */
int32_t mvq_calib_model_bos(const mvq_model *m);

/* 512, or the training context when shorter. */
int64_t mvq_calib_default_ctx(const mvq_hparams *hp);

#endif
