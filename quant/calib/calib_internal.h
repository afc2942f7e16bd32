/* Internal to quant/: shared pieces of the calibration statistics. */
#ifndef MVQ_CALIB_INTERNAL_H
#define MVQ_CALIB_INTERNAL_H

#include <mvquant/calib.h>

/* The statistics behind the opaque mvq_calib. */
struct mvq_calib {
    mvq_hparams hp;
    int64_t n_tokens;                          /* tokens observed */
    int64_t dim[MVQ_CALIB_INPUT_COUNT];        /* columns of each input */
    /* [layer][column]; OUTPUT_IN has one layer */
    double *sum_sq[MVQ_CALIB_INPUT_COUNT];
    double *sum_abs[MVQ_CALIB_INPUT_COUNT];
    float *max_abs[MVQ_CALIB_INPUT_COUNT];
    /* [layer][head][dim]: sum over tokens of the square, after RoPE */
    double *qkv_sq[3];
    int64_t qkv_heads[3];                      /* n_head, n_head_kv, n_head_kv */
    uint64_t tokens_hash;                      /* XXH3-64 of the calibration tokens */
};

/* Layers of an input's statistics: n_layer, or 1 for MVQ_CALIB_OUTPUT_IN. */
int64_t mvq_calib_input_layers(const mvq_calib *c, int in);

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
