/* The quantized KV cache: the per-token quantizers with a massive-channel
 * mask, the decoder and the batched pass agreeing under the same cache,
 * and the gates on the fixture models (KLD against the F32 cache). */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kv_testlib.h"

Test(kv_quant, kept_channels_are_f16_and_the_rest_quantized_without_them)
{
    float x[64], y[64], zeroed[64], plain[64];
    uint8_t keep[64] = {0}, q[64 * 4], qz[64 * 4];
    mvq_half kept[64];
    for (int i = 0; i < 64; i++)
        x[i] = sinf((float)i * 0.7f);
    keep[5] = keep[33] = 1;
    x[5] = 40.0f, x[33] = -25.0f; /* massive: would set their blocks' scales */
    const mvq_type types[] = {MVQ_TYPE_Q4_0, MVQ_TYPE_Q8_0, MVQ_TYPE_Q4_1, MVQ_TYPE_Q5_0, MVQ_TYPE_Q5_1,
                              MVQ_TYPE_IQ4_NL, MVQ_TYPE_F16};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        mvq_kv_quantize_token(types[k], x, 64, keep, q, kept);
        mvq_kv_dequantize_token(types[k], q, kept, keep, 64, y);
        cr_assert_eq(y[5], mvq_fp16_to_fp32(mvq_fp32_to_fp16(40.0f)));
        cr_assert_eq(y[33], mvq_fp16_to_fp32(mvq_fp32_to_fp16(-25.0f)));
        memcpy(zeroed, x, sizeof x);
        zeroed[5] = zeroed[33] = 0.0f;
        mvq_quantize_row(types[k], zeroed, qz, 64, NULL);
        cr_assert_eq(memcmp(q, qz, mvq_row_size(types[k], 64)), 0, "%s: the rest as a plain row",
                     mvq_type_name(types[k]));
        /* and the rest is closer than quantizing the massive channels with it */
        mvq_kv_quantize_token(types[k], x, 64, NULL, q, kept);
        mvq_kv_dequantize_token(types[k], q, NULL, NULL, 64, plain);
        double e_keep = 0, e_plain = 0;
        for (int i = 0; i < 64; i++) {
            e_keep += (y[i] - x[i]) * (y[i] - x[i]);
            e_plain += (plain[i] - x[i]) * (plain[i] - x[i]);
        }
        cr_assert(e_keep <= e_plain, "%s: %g > %g", mvq_type_name(types[k]), e_keep, e_plain);
    }
}

Test(kv_quant, checks_types_and_blocks)
{
    mvq_hparams hp = {.n_layer = 1, .n_head = 8, .n_head_kv = 4, .head_dim = 8, .n_rot = 8};
    mvq_error err;
    mvq_kv_quant kv = {.type_k = MVQ_TYPE_Q4_0, .type_v = MVQ_TYPE_Q8_0};
    cr_assert_eq(mvq_kv_check(&kv, &hp, &err), MVQ_OK, "%s", err.msg); /* 4 heads of 8: one block */
    cr_assert(mvq_kv_grouped(&kv, &hp));
    cr_assert_eq(mvq_kv_token_bytes(&kv, &hp, 0, 0), sizeof(mvq_block_q4_0));
    hp.n_head_kv = 2, hp.n_head = 4;
    cr_assert_eq(mvq_kv_check(&kv, &hp, &err), MVQ_ERR_ARG);
    cr_assert(strstr(err.msg, "whole number") != NULL, "%s", err.msg);
    kv.type_k = MVQ_TYPE_Q4_K;
    cr_assert_eq(mvq_kv_check(&kv, &hp, &err), MVQ_ERR_ARG);
    cr_assert(strstr(err.msg, "not a cache type") != NULL, "%s", err.msg);
    hp.head_dim = 64;
    kv = (mvq_kv_quant){.type_k = MVQ_TYPE_Q4_0, .type_v = MVQ_TYPE_F32};
    cr_assert_eq(mvq_kv_check(&kv, &hp, &err), MVQ_OK, "%s", err.msg);
    cr_assert_not(mvq_kv_grouped(&kv, &hp));
}

/* The decoder, one token at a time with the cache quantized as it goes,
 * gives the logits of the batched pass with the same cache. */
Test(kv_quant, decoder_matches_the_batched_pass)
{
    mvq_model *m = kv_open_fixture("stories260K");
    if (!m)
        cr_skip_test("fixtures absent (models/stories260K.gguf): configure --with-fixtures=DIR");
    cr_assert_eq(mvq_isa_init(NULL), MVQ_OK);
    const int64_t T = 24, V = m->hp.n_vocab;
    int32_t tok[24];
    kv_test_tokens(tok, T);
    const mvq_kv_quant kv = {.type_k = MVQ_TYPE_Q4_0, .type_v = MVQ_TYPE_Q8_0};
    float *lf = malloc((size_t)(T * V) * sizeof *lf), *ld = malloc((size_t)(T * V) * sizeof *ld);
    float *l32 = malloc((size_t)(T * V) * sizeof *l32);
    kv_batched_logits(m, tok, T, NULL, l32);
    kv_batched_logits(m, tok, T, &kv, lf);
    kv_decoder_logits(m, tok, T, &kv, ld);
    double max_diff = 0, max_quant = 0;
    for (int64_t i = 0; i < T * V; i++) {
        max_diff = fmax(max_diff, fabs(ld[i] - lf[i]));
        max_quant = fmax(max_quant, fabs(lf[i] - l32[i]));
    }
    cr_assert(max_diff < 1e-3, "decoder vs batched pass: %g", max_diff);
    cr_assert(max_quant > 1e-3, "the cache changed nothing (%g)", max_quant);
    free(lf);
    free(ld);
    free(l32);
    mvq_model_free(m);
}

static mvq_eval_result judge(const mvq_model *m, const int32_t *tok, int64_t n, int32_t bos, int64_t chunks,
                             const mvq_kv_quant *kv, mvq_pool *pool)
{
    mvq_eval_opts o = {.n_ctx = 256, .max_chunks = chunks, .bos = bos, .kv = kv};
    mvq_eval_result r;
    mvq_error err;
    if (kv)
        cr_assert_eq(mvq_kv_check(kv, &m->hp, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_eval_perplexity(m, m, tok, n, &o, pool, &r, &err), MVQ_OK, "%s", err.msg);
    return r;
}

/* tinyrope-3M, 12 chunks of 256: q8_0 K and V within 1% PPL of the F32
 * cache; at 4-bit K and V, the massive K channels in F16 (2 per KV head
 * from 4096 calibration tokens) beat plain q4_0 K in mean KLD. */
Test(kv_gates, tinyrope)
{
    if (mvq_heavy_tests_off())
        cr_skip_test(MVQ_HEAVY_SKIP_MSG);
    char eval_text[4096], calib_text[4096];
    mvq_model *m = kv_open_fixture("tinyrope-3M");
    if (!m || !mvq_fixture("text/tinystories-eval.txt", eval_text, sizeof eval_text) ||
        !mvq_fixture("text/tinystories-calib.txt", calib_text, sizeof calib_text))
        cr_skip_test("fixtures absent (models/tinyrope-3M.gguf and the texts): configure --with-fixtures=DIR");
    cr_assert_eq(mvq_isa_init(NULL), MVQ_OK);
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    int32_t *tok, *ctok;
    int64_t n, nc;
    const int32_t bos = 1;
    cr_assert_eq(mvq_calib_text_tokens(m, eval_text, 0, &tok, &n, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_calib_text_tokens(m, calib_text, 4096, &ctok, &nc, &err), MVQ_OK, "%s", err.msg);
    mvq_calib *c = mvq_calib_new(&m->hp, &err);
    cr_assert_not_null(c, "%s", err.msg);
    const mvq_calib_opts co = {.n_ctx = 256, .bos = bos};
    cr_assert_eq(mvq_calib_run(c, m, ctok, nc, &co, pool, &err), MVQ_OK, "%s", err.msg);
    const int64_t kv_dim = m->hp.n_head_kv * m->hp.head_dim, nk = m->hp.n_layer * kv_dim;
    uint8_t *keep = calloc((size_t)nk, 1);
    const mvq_massive_params mp = {.lambda = 5, .topk = 2};
    cr_assert_eq(mvq_kv_massive_from_calib(c, &mp, keep, NULL), 2 * m->hp.n_head_kv * m->hp.n_layer);

    const int64_t chunks = 12;
    const mvq_eval_result f32 = judge(m, tok, n, bos, chunks, NULL, pool);
    const mvq_kv_quant q8 = {.type_k = MVQ_TYPE_Q8_0, .type_v = MVQ_TYPE_Q8_0};
    const mvq_kv_quant q4 = {.type_k = MVQ_TYPE_Q4_0, .type_v = MVQ_TYPE_Q4_0};
    const mvq_kv_quant q4p = {.type_k = MVQ_TYPE_Q4_0, .type_v = MVQ_TYPE_Q4_0, .k_keep = keep};
    const mvq_eval_result r8 = judge(m, tok, n, bos, chunks, &q8, pool);
    const mvq_eval_result r4 = judge(m, tok, n, bos, chunks, &q4, pool);
    const mvq_eval_result r4p = judge(m, tok, n, bos, chunks, &q4p, pool);
    cr_log_info("tinyrope KV: f32 PPL %.4f; q8_0 %.4f KLD %.6f; q4_0 %.4f KLD %.6f; q4_0 + massive K in F16 %.4f "
                "KLD %.6f", f32.ppl, r8.ppl, r8.kld_mean, r4.ppl, r4.kld_mean, r4p.ppl, r4p.kld_mean);
    cr_assert(fabs(r8.ppl / f32.ppl - 1) < 0.01, "q8_0 cache PPL %.4f vs %.4f", r8.ppl, f32.ppl);
    cr_assert(r4.kld_mean > 0, "q4_0 cache changed nothing");
    cr_assert(r4p.kld_mean < r4.kld_mean, "massive K in F16: KLD %.6f, plain q4_0 %.6f", r4p.kld_mean,
              r4.kld_mean);
    free(keep);
    mvq_calib_free(c);
    free(tok);
    free(ctok);
    mvq_pool_free(pool);
    mvq_model_free(m);
}
