/* The optimized forward pass against the double-precision reference, on
 * in-memory synthetic models and the fixture models; quantized weights
 * against dequantize-then-f32; the observation hooks. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "quant/model/model_internal.h"
#include "tests/fixtures.h"
#include "tests/synth_model.h"

/* ||a - b|| / ||b|| over n values */
static double rel_error_fd(const float *a, const double *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

static double rel_error_ff(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

/* Runs the optimized pass (2 threads) and the reference on n tokens; returns the relative error. */
static double forward_vs_reference(const mvq_model *m, const int32_t *tokens, int64_t n)
{
    const int64_t V = m->hp.n_vocab;
    float *logits = malloc((size_t)(n * V) * sizeof *logits);
    double *ref = malloc((size_t)(n * V) * sizeof *ref);
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    mvq_forward *f = mvq_forward_create(m, n, pool, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, n, 0, logits, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_reference(m, tokens, n, ref, &err), MVQ_OK, "%s", err.msg);
    double e = rel_error_fd(logits, ref, n * V);
    mvq_forward_free(f);
    mvq_pool_free(pool);
    free(logits);
    free(ref);
    return e;
}

static double synth_vs_reference(const synth_shape *s, int64_t n_tokens, uint64_t seed)
{
    synth_model sm;
    synth_build(&sm, s, seed);
    int32_t *tokens = malloc((size_t)n_tokens * sizeof *tokens);
    synth_tokens(tokens, n_tokens, s->vocab, seed ^ 0x55);
    double e = forward_vs_reference(&sm.m, tokens, n_tokens);
    free(tokens);
    synth_free(&sm);
    return e;
}

Test(forward, gqa_llama_matches_double_reference)
{
    synth_shape s = {.dim = 64, .layers = 3, .heads = 8, .kv_heads = 4, .head_dim = 8, .n_rot = 8, .ff = 172,
                     .vocab = 97, .arch = MVQ_ARCH_LLAMA};
    double e = synth_vs_reference(&s, 40, 1);
    cr_log_info("gqa llama: relative error %.3g", e);
    cr_assert_leq(e, 1e-5, "relative error %.3g", e);
}

Test(forward, mha_wide_heads_matches_double_reference)
{
    synth_shape s = {.dim = 256, .layers = 2, .heads = 4, .kv_heads = 4, .head_dim = 64, .n_rot = 64, .ff = 512,
                     .vocab = 300, .arch = MVQ_ARCH_MISTRAL};
    double e = synth_vs_reference(&s, 70, 2);
    cr_log_info("mha: relative error %.3g", e);
    cr_assert_leq(e, 1e-5, "relative error %.3g", e);
}

Test(forward, qwen2_biases_neox_tied_matches_double_reference)
{
    synth_shape s = {.dim = 128, .layers = 2, .heads = 4, .kv_heads = 1, .head_dim = 32, .n_rot = 32, .ff = 256,
                     .vocab = 150, .arch = MVQ_ARCH_QWEN2, .biases = true, .tied = true};
    double e = synth_vs_reference(&s, 50, 3);
    cr_log_info("qwen2: relative error %.3g", e);
    cr_assert_leq(e, 1e-5, "relative error %.3g", e);
}

Test(forward, partial_rope_and_freq_factors_match_double_reference)
{
    synth_shape s = {.dim = 96, .layers = 2, .heads = 3, .kv_heads = 3, .head_dim = 32, .n_rot = 16, .ff = 160,
                     .vocab = 64, .arch = MVQ_ARCH_LLAMA, .rope_freqs = true};
    double e = synth_vs_reference(&s, 33, 4);
    cr_assert_leq(e, 1e-5, "relative error %.3g", e);
}

Test(forward, logits_from_a_later_row_equal_the_full_run)
{
    synth_shape s = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16, .ff = 128,
                     .vocab = 50, .arch = MVQ_ARCH_LLAMA};
    synth_model sm;
    synth_build(&sm, &s, 9);
    int32_t tokens[24];
    synth_tokens(tokens, 24, s.vocab, 10);
    float full[24 * 50], tail[12 * 50];
    mvq_error err;
    mvq_forward *f = mvq_forward_create(&sm.m, 32, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, 24, 0, full, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, 24, 12, tail, &err), MVQ_OK, "%s", err.msg);
    for (int i = 0; i < 12 * 50; i++)
        cr_assert_float_eq(tail[i], full[12 * 50 + i], 1e-6f * (1 + fabsf(full[12 * 50 + i])));
    /* a token outside the vocabulary and a batch over max_tokens are errors */
    tokens[3] = 50;
    cr_assert_eq(mvq_forward_run(f, tokens, 24, 0, full, &err), MVQ_ERR_ARG);
    cr_assert(strstr(err.msg, "vocabulary") != NULL, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, 33, 0, full, &err), MVQ_ERR_ARG);
    mvq_forward_free(f);
    synth_free(&sm);
}

/* Quantized weights through the kernels against their dequantized f32
 * copies: the only difference left is the on-the-fly quantization of the
 * activations, bounded per type. */
static void quantized_vs_dequantized(mvq_type t, double tol)
{
    synth_shape s = {.dim = 256, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 64, .n_rot = 64, .ff = 512,
                     .vocab = 256, .arch = MVQ_ARCH_LLAMA};
    synth_model q, d;
    synth_build(&q, &s, 21);
    synth_build(&d, &s, 21);
    cr_assert(synth_convert(&q, t), "cannot quantize to %s", mvq_type_name(t));
    cr_assert(synth_convert(&d, t));
    synth_dequantize(&d);
    int32_t tokens[48];
    synth_tokens(tokens, 48, s.vocab, 22);
    float *lq = malloc(48 * 256 * sizeof *lq), *ld = malloc(48 * 256 * sizeof *ld);
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    mvq_forward *fq = mvq_forward_create(&q.m, 48, pool, &err), *fd = mvq_forward_create(&d.m, 48, pool, &err);
    cr_assert(fq && fd, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(fq, tokens, 48, 0, lq, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(fd, tokens, 48, 0, ld, &err), MVQ_OK, "%s", err.msg);
    double e = rel_error_ff(lq, ld, 48 * 256);
    cr_log_info("%s weights vs dequantized f32: relative error %.3g", mvq_type_name(t), e);
    cr_assert_leq(e, tol, "%s: relative error %.3g > %.3g", mvq_type_name(t), e, tol);
    /* Block types multiply with quantized activations, so some error shows that their path ran.
     * F16 weights widen exactly to the dequantized ones: without oneDNN both runs take the same
     * f32 product and agree bit for bit, so zero error is right there. */
    /* BF16 weights widen exactly too, but on a CPU with AVX-512 BF16 the activations are rounded to
     * bf16 (as llama.cpp does), in both numerics */
    const bool bf16_dot = t == MVQ_TYPE_BF16 && mvq_kernels()->gemm_bf16;
    if ((t != MVQ_TYPE_F16 && t != MVQ_TYPE_BF16) || bf16_dot)
        cr_assert_gt(e, 0.0, "%s: the quantized path was not taken", mvq_type_name(t));
    /* the fast numerics multiply dequantized weights with f32 activations (for batches, with oneDNN) */
    mvq_forward_set_numerics(fq, MVQ_NUMERICS_FAST);
    cr_assert_eq(mvq_forward_run(fq, tokens, 48, 0, lq, &err), MVQ_OK, "%s", err.msg);
    double e_fast = rel_error_ff(lq, ld, 48 * 256);
    cr_log_info("%s weights, fast numerics: relative error %.3g", mvq_type_name(t), e_fast);
    cr_assert_leq(e_fast, mvq_onednn_available() && !bf16_dot ? 1e-5 : tol, "%s fast: relative error %.3g",
                  mvq_type_name(t), e_fast);
    mvq_forward_free(fq);
    mvq_forward_free(fd);
    mvq_pool_free(pool);
    free(lq);
    free(ld);
    synth_free(&q);
    synth_free(&d);
}

Test(forward, f16_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_F16, 2e-3); }
/* bf16 activations (AVX-512 BF16): 8 significant bits, as q8 activations; measured 0.0039 */
Test(forward, bf16_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_BF16, 1e-2); }
Test(forward, q8_0_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_Q8_0, 3e-2); }
Test(forward, q4_0_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_Q4_0, 3e-2); }
Test(forward, q4_k_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_Q4_K, 3e-2); }
Test(forward, q6_k_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_Q6_K, 3e-2); }
Test(forward, iq4_xs_weights_match_dequantized) { quantized_vs_dequantized(MVQ_TYPE_IQ4_XS, 3e-2); }

static void fixture_vs_reference(const char *rel)
{
    char path[4096];
    if (!mvq_fixture(rel, path, sizeof path))
        cr_skip_test("fixture %s is absent (configure --with-fixtures)", rel);
    mvq_error err;
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    int32_t tokens[64];
    synth_tokens(tokens, 64, m->hp.n_vocab, 7);
    tokens[0] = 1;
    double e = forward_vs_reference(m, tokens, 64);
    cr_log_info("%s: relative error %.3g", rel, e);
    cr_assert_leq(e, 1e-5, "%s: relative error %.3g", rel, e);
    mvq_model_free(m);
}

Test(forward, stories260K_matches_double_reference) { fixture_vs_reference("models/stories260K.gguf"); }
Test(forward, tinyrope_matches_double_reference) { fixture_vs_reference("models/tinyrope-3M.gguf"); }

/* Models written by mvq_synth_write (GGUF with planted massive values),
 * loaded through the model view: the pass against the reference. */
static void synth_file_vs_reference(int64_t dim, int64_t heads, int64_t kv_heads, int64_t ff, int64_t layers)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = dim;
    p.n_heads = heads;
    p.n_kv_heads = kv_heads;
    p.ff = ff;
    p.n_layers = layers;
    p.seed = (uint64_t)(dim * 131 + heads * 17 + kv_heads);
    char path[128];
    snprintf(path, sizeof path, "test_forward_synth_%d.gguf", (int)getpid());
    mvq_error err;
    cr_assert_eq(mvq_synth_write(path, &p, &err), MVQ_OK, "%s", err.msg);
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    int32_t tokens[64];
    synth_tokens(tokens, 64, m->hp.n_vocab, 3);
    double e = forward_vs_reference(m, tokens, 64);
    cr_log_info("synth dim %lld heads %lld/%lld: relative error %.3g", (long long)dim, (long long)heads,
                (long long)kv_heads, e);
    cr_assert_leq(e, 1e-5, "synth dim %lld heads %lld/%lld: relative error %.3g", (long long)dim, (long long)heads,
                  (long long)kv_heads, e);
    mvq_model_free(m);
    unlink(path);
}

Test(forward, synth_gqa_matches_double_reference) { synth_file_vs_reference(256, 4, 2, 768, 2); }
Test(forward, synth_mha_matches_double_reference) { synth_file_vs_reference(512, 8, 8, 1024, 2); }
Test(forward, synth_mqa_matches_double_reference) { synth_file_vs_reference(256, 2, 1, 512, 1); }

/* The logits of a prefill are the same bits at 1, 2 and 3 threads: F32 weights (oneDNN's
 * products, when built with it) and quantized ones, in both numerics. */
static void logits_at_threads(const mvq_model *m, const int32_t *tokens, int64_t n, int nth,
                              mvq_forward_numerics numerics, float *logits)
{
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(nth);
    mvq_forward *f = mvq_forward_create(m, n, pool, &err);
    cr_assert_not_null(f, "%s", err.msg);
    mvq_forward_set_numerics(f, numerics);
    cr_assert_eq(mvq_forward_run(f, tokens, n, 0, logits, &err), MVQ_OK, "%s", err.msg);
    mvq_forward_free(f);
    mvq_pool_free(pool);
}

Test(forward, logits_do_not_depend_on_the_thread_count)
{
    synth_shape s = {.dim = 256, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 64, .n_rot = 64, .ff = 768,
                     .vocab = 256, .arch = MVQ_ARCH_LLAMA};
    enum { N = 40 };
    int32_t tokens[N];
    synth_tokens(tokens, N, s.vocab, 31);
    const mvq_type types[] = {MVQ_TYPE_F32, MVQ_TYPE_Q4_K};
    float *one = malloc((size_t)N * 256 * sizeof *one), *many = malloc((size_t)N * 256 * sizeof *many);
    for (int ti = 0; ti < 2; ti++) {
        synth_model sm;
        synth_build(&sm, &s, 30);
        if (types[ti] != MVQ_TYPE_F32)
            cr_assert(synth_convert(&sm, types[ti]));
        for (int numerics = 0; numerics < 2; numerics++) {
            logits_at_threads(&sm.m, tokens, N, 1, (mvq_forward_numerics)numerics, one);
            for (int nth = 2; nth <= 3; nth++) {
                logits_at_threads(&sm.m, tokens, N, nth, (mvq_forward_numerics)numerics, many);
                cr_assert(memcmp(one, many, (size_t)N * 256 * sizeof *one) == 0,
                          "%s, numerics %d: the logits at %d threads differ from one thread's",
                          mvq_type_name(types[ti]), numerics, nth);
            }
        }
        synth_free(&sm);
    }
    free(one);
    free(many);
}
