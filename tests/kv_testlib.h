/* What the KV-cache tests share (test_kvcache.c, test_kv_channel.c): a
 * fixture model, and the logits of the batched pass and of the decoder
 * under one cache. */
#ifndef MVQ_TEST_KV_TESTLIB_H
#define MVQ_TEST_KV_TESTLIB_H

#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>

#include "quant/model/decode_internal.h"
#include "tests/fixtures.h"

/* models/NAME.gguf, or NULL when the fixtures are absent (the caller skips). */
static inline mvq_model *kv_open_fixture(const char *name)
{
    char path[4096], rel[128];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (!mvq_fixture(rel, path, sizeof path))
        return NULL;
    mvq_error err;
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

/* Tokens 1 + 37 i mod 500 (both fixture models' vocabulary is 512). */
static inline void kv_test_tokens(int32_t *tok, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        tok[i] = (int32_t)(1 + (i * 37) % 500);
}

/* n_tokens rows of logits of the batched pass with cache kv (NULL: f32). */
static inline void kv_batched_logits(const mvq_model *m, const int32_t *tok, int64_t n, const mvq_kv_quant *kv,
                                     float *logits)
{
    mvq_error err;
    if (kv)
        cr_assert_eq(mvq_kv_check(kv, &m->hp, &err), MVQ_OK, "%s", err.msg);
    mvq_forward *f = mvq_forward_create(m, n, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    mvq_forward_set_kv(f, kv);
    cr_assert_eq(mvq_forward_run(f, tok, n, 0, logits, &err), MVQ_OK, "%s", err.msg);
    mvq_forward_free(f);
}

/* The same from the decoder, one token a step. */
static inline void kv_decoder_logits(const mvq_model *m, const int32_t *tok, int64_t n, const mvq_kv_quant *kv,
                                     float *logits)
{
    mvq_error err;
    mvq_decoder *d = mvq_decoder_create(m, n, 1, NULL, &err);
    cr_assert_not_null(d, "%s", err.msg);
    mvq_decoder_set_kv(d, kv);
    for (int64_t t = 0; t < n; t++)
        cr_assert_eq(mvq_decoder_step(d, &tok[t], 1, logits + t * m->hp.n_vocab, &err), MVQ_OK, "%s", err.msg);
    mvq_decoder_free(d);
}

#endif
