/* mvquant perplexity's quantized KV cache: the options, the massive K
 * channels (file keys or calibration), memory per token. */
#ifndef MVQ_TOOLS_PPL_KV_H
#define MVQ_TOOLS_PPL_KV_H

#include <mvquant/kvcache.h>
#include <stdio.h>

typedef struct ppl_kv {
    const char *type_k, *type_v, *calib; /* NULL: f32 / none */
    bool protect, rescale;
    long topk;
    mvq_kv_quant kv;
    uint8_t *keep;
    float *scale;
    int64_t n_kept;
    const char *mask_from; /* "file", "calib" */
    const char *scheme;    /* --kv-scheme: per-token (NULL) or per-channel */
    long bits, group, residual, n_ctx;
} ppl_kv;

/* The options' defaults (KIVI's: 4-bit K, groups of 32, an F16 residual of 128). */
void ppl_kv_defaults(ppl_kv *a);

/* Fills a->kv for model m (a->kv stays all f32 when no option is given). */
mvq_status ppl_kv_setup(ppl_kv *a, const mvq_model *m, long n_ctx, int32_t bos, mvq_pool *pool, mvq_error *err);
bool ppl_kv_active(const ppl_kv *a);
/* The cache scheme and its memory per token (all layers, K + V). */
void ppl_kv_print(const ppl_kv *a, const mvq_model *m, FILE *to);
void ppl_kv_free(ppl_kv *a);

#endif
