/* The methods that fold activation-aware scales into the model
 * (smoothquant, awq): before rounding, the folded model computes what the
 * original does, on both fixture models and a synthetic GQA model (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

#define CALIB_TOKENS 2048

static char *temp_path(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mvq-awq-XXXXXX.gguf");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    close(fd);
    return path;
}

/* Calibration tokens: the fixture text's, else (text NULL) a fixed sequence. */
static int32_t *calib_tokens(const mvq_model *m, const char *text, int64_t *n)
{
    mvq_error err;
    int32_t *tokens = NULL;
    if (text) {
        cr_assert_eq(mvq_calib_text_tokens(m, text, CALIB_TOKENS, &tokens, n, &err), MVQ_OK, "%s", err.msg);
        return tokens;
    }
    *n = CALIB_TOKENS;
    tokens = malloc(sizeof *tokens * CALIB_TOKENS);
    for (int64_t i = 0; i < *n; i++)
        tokens[i] = (int32_t)(3 + (i * 7919) % (m->hp.n_vocab - 3));
    return tokens;
}

/* sqrt(sum (a - b)^2 / sum b^2) of the logits of 96 tokens. */
static double logits_rel_err(const mvq_model *a, const mvq_model *b, mvq_pool *pool)
{
    enum { T = 96 };
    mvq_error err;
    int64_t V = b->hp.n_vocab;
    int32_t tokens[T];
    for (int i = 0; i < T; i++)
        tokens[i] = (int32_t)(1 + (i * 37) % (V - 1));
    float *la = malloc(sizeof *la * (size_t)(T * V)), *lb = malloc(sizeof *lb * (size_t)(T * V));
    mvq_forward *fa = mvq_forward_create(a, T, pool, &err), *fb = mvq_forward_create(b, T, pool, &err);
    cr_assert(fa && fb && la && lb);
    cr_assert_eq(mvq_forward_run(fa, tokens, T, 0, la, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(fb, tokens, T, 0, lb, &err), MVQ_OK, "%s", err.msg);
    double e = 0, r = 0;
    for (int64_t i = 0; i < T * V; i++) {
        double d = (double)la[i] - lb[i];
        e += d * d;
        r += (double)lb[i] * lb[i];
    }
    mvq_forward_free(fa);
    mvq_forward_free(fb);
    free(la);
    free(lb);
    return sqrt(e / r);
}

/* A client of the interface: AWQ's scales, searched for a Q4_K_M plan
 * (as awq's preparation would), given to an F32 job, so that only the
 * folding changes the model. */
static mvq_status awq_fold_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    mvq_quantize_opts o = *ctx->opts;
    o.plan = gates_opts("q4_k_m", false, ctx->calib, NULL).plan;
    mvq_tensor_plan *tensors = calloc((size_t)ctx->n_tensors, sizeof *tensors);
    cr_assert_eq(mvq_plan_make(ctx->in, &o.plan, tensors, err), MVQ_OK, "%s", err->msg);
    for (int64_t i = 0; i < ctx->n_tensors; i++)
        tensors[i].method = tensors[i].quantize ? mvq_method_find("awq") : NULL;
    mvq_method_context c = *ctx;
    c.tensors = tensors;
    c.opts = &o;
    mvq_status st = mvq_method_find("awq")->prepare(&c, out, err);
    free(tensors);
    cr_expect_gt(out->n, 0, "awq chose scales other than 1");
    int v_to_o = 0;
    for (int64_t k = 0; k < out->n; k++)
        v_to_o += out->items[k].input == MVQ_CALIB_ATTN_OUT;
    cr_log_info("awq: %lld transforms, %d of them attn_v -> attn_output, %lld clippings\n", (long long)out->n, v_to_o,
                (long long)out->n_clips);
    /* a clipping changes the model by design (tests/test_awq_clip.c): only the scales here */
    for (int64_t k = 0; k < out->n_clips; k++)
        free(out->clips[k].max);
    free(out->clips);
    out->clips = NULL;
    out->n_clips = 0;
    return st;
}

static const mvq_method awq_fold = {
    .name = "awq-fold-test", .about = "test", .needs = 0, .prepare = awq_fold_prepare, .quantize = gates_keep_f32,
};

/* Quantizes path with the method in F32 (the transforms only), checks that
 * the norms changed and the logits did not. */
static void check_folding(const char *path, const char *text, const char *method, const char *const *method_opts)
{
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    mvq_gguf *in = mvq_gguf_open(path, &err);
    cr_assert_not_null(in, "%s", err.msg);
    mvq_model *m = mvq_model_from_gguf(in, &err);
    cr_assert_not_null(m, "%s", err.msg);
    int64_t n_tokens;
    int32_t *tokens = calib_tokens(m, text, &n_tokens);
    mvq_calib *calib = gates_calibrate_tokens(m, tokens, n_tokens, 128, NULL, pool);
    mvq_quantize_opts o = gates_opts("f32", false, calib, pool);
    o.method = strcmp(method, awq_fold.name) == 0 ? &awq_fold : mvq_method_find(method);
    cr_assert_not_null(o.method, "%s registered", method);
    o.method_opts = method_opts;
    o.calib_tokens = tokens;
    o.n_calib_tokens = n_tokens;
    o.calib_ctx = 128;
    const char *out = temp_path();
    mvq_quantize_report rep;
    cr_assert_eq(mvq_quantize_file(in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf *q = mvq_gguf_open(out, &err);
    cr_assert_not_null(q, "%s", err.msg);
    mvq_model *qm = mvq_model_from_gguf(q, &err);
    cr_assert_not_null(qm, "%s", err.msg);
    const mvq_gguf_tensor *a = mvq_gguf_find_tensor(in, "blk.0.attn_norm.weight");
    const mvq_gguf_tensor *b = mvq_gguf_find_tensor(q, "blk.0.attn_norm.weight");
    cr_assert(a && b && a->size == b->size);
    cr_expect_neq(memcmp(a->data, b->data, a->size), 0, "%s: the scales are folded into attn_norm", method);
    double rel = logits_rel_err(qm, m, pool);
    cr_expect_leq(rel, 1e-5, "%s on %s: logits' relative error %g", method, path, rel);
    cr_log_info("%s on %s: folded logits' relative error %.3g\n", method, path, rel);
    mvq_model_free(qm);
    mvq_gguf_close(q);
    unlink(out);
    mvq_quantize_report_free(&rep);
    mvq_calib_free(calib);
    free(tokens);
    mvq_model_free(m);
    mvq_gguf_close(in);
    mvq_pool_free(pool);
}

static void check_fixture(const char *model, const char *method)
{
    char path[4096], text[4096];
    if (!mvq_fixture(model, path, sizeof path) || !mvq_fixture("text/tinystories-calib.txt", text, sizeof text))
        cr_skip_test("fixtures %s, text/tinystories-calib.txt absent: configure --with-fixtures=DIR", model);
    static const char *const sample[] = { "tokens=256", NULL }; /* awq: a short search */
    check_folding(path, text, method, strcmp(method, awq_fold.name) == 0 ? sample : NULL);
}

/* A small synthetic model with planted outliers, with grouped-query
 * attention or (kv_heads 4) without. */
static void check_synth(const char *method, int64_t kv_heads)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 128;
    p.ff = 256;
    p.n_heads = 4;
    p.n_kv_heads = kv_heads;
    p.vocab = 300;
    mvq_error err;
    const char *path = temp_path();
    cr_assert_eq(mvq_synth_write(path, &p, &err), MVQ_OK, "%s", err.msg);
    char keep[64];
    snprintf(keep, sizeof keep, "%s", path);
    static const char *const sample[] = { "tokens=256", NULL };
    check_folding(keep, NULL, method, strcmp(method, awq_fold.name) == 0 ? sample : NULL);
    unlink(keep);
}

Test(smoothquant, folding_is_exact_on_stories260K)
{
    check_fixture("models/stories260K.gguf", "smoothquant");
}

Test(smoothquant, folding_is_exact_on_tinyrope)
{
    check_fixture("models/tinyrope-3M.gguf", "smoothquant");
}

Test(smoothquant, folding_is_exact_on_a_gqa_synth_model)
{
    check_synth("smoothquant", 2);
}

Test(awq, folding_is_exact_on_stories260K)
{
    check_fixture("models/stories260K.gguf", awq_fold.name);
}

Test(awq, folding_is_exact_on_tinyrope)
{
    check_fixture("models/tinyrope-3M.gguf", awq_fold.name);
}

Test(awq, folding_is_exact_on_synth_models_with_and_without_gqa)
{
    check_synth(awq_fold.name, 2);
    check_synth(awq_fold.name, 4); /* attn_v -> attn_output scales too */
}

Test(smoothquant, scales_follow_the_formula)
{
    const float x_max[4] = { 4.0f, 1.0f, 0.0f, 9.0f }, w_max[4] = { 1.0f, 0.25f, 2.0f, 0.0f };
    float s[4];
    mvq_error err;
    cr_assert_eq(mvq_smoothquant_scales(x_max, w_max, 4, 0.5, s, &err), MVQ_OK);
    cr_expect_float_eq(s[0], 2.0f, 1e-6f);
    cr_expect_float_eq(s[1], 2.0f, 1e-6f);
    cr_expect_float_eq(s[2], 1e-5f, 1e-9f, "clamped");
    cr_expect_float_eq(s[3], (float)(3.0 / sqrt(1e-5)), 1e-1f, "the weight maximum clamped");
    cr_expect_neq(mvq_smoothquant_scales(x_max, w_max, 4, 1.5, s, &err), MVQ_OK, "alpha outside [0, 1]");
    const float none[2] = { 0, 0 };
    cr_assert_eq(mvq_smoothquant_scales(none, w_max, 2, 0.85, s, &err), MVQ_OK);
    cr_expect(s[0] == 1.0f && s[1] == 1.0f, "no statistics: no migration");
}
