/* AWQ's clipping search (quant/methods/awq_clip.c) against explicit sums
 * over the sample's tokens, and the job applying a clipping (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/methods/awq_internal.h"
#include "tests/gates_testlib.h"

static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

Test(awq_clip, gram_blocks_are_the_sums_over_tokens)
{
    enum { T = 37, N = 70 }; /* a last group of 6 */
    static float x[T * N];
    uint64_t seed = 7;
    for (int i = 0; i < T * N; i++)
        x[i] = (float)uniform(&seed);
    awq_gram g;
    cr_assert_eq(awq_gram_init(&g, N, NULL), MVQ_OK);
    awq_gram_add(&g, x, 20);
    awq_gram_add(&g, x + 20 * N, T - 20);
    cr_assert_eq(g.n_groups, 3);
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < AWQ_CLIP_GROUP && b * AWQ_CLIP_GROUP + i < N; i++)
            for (int j = 0; j <= i; j++) {
                double want = 0;
                for (int t = 0; t < T; t++)
                    want += (double)x[t * N + b * AWQ_CLIP_GROUP + i] * x[t * N + b * AWQ_CLIP_GROUP + j];
                cr_assert_float_eq(g.g[(b * AWQ_CLIP_GROUP + i) * AWQ_CLIP_GROUP + j], want, 1e-9);
            }
    awq_gram_reset(&g);
    cr_assert_eq(g.g[0], 0.0);
    awq_gram_free(&g);
}

/* sum_t sum_g (x_t,g / s . (q_g - w'_g))^2 of one row w' = w s (q: w'
 * clamped to max, quantized to type), by a pass over the tokens: each
 * group's own output error, as the search (and the reference) measure it. */
static double sample_err(mvq_type type, const float *x, int64_t T, int64_t n, const float *w, const float *s,
                         const float *max, void *q, float *deq, float *c)
{
    const mvq_kernel_table *k = mvq_kernels();
    for (int64_t j = 0; j < n; j++) {
        const float v = w[j] * s[j], m = max ? max[j / AWQ_CLIP_GROUP] : INFINITY;
        c[j] = v > m ? m : v < -m ? -m : v;
    }
    k->from_float[type](c, q, n, NULL);
    k->to_float[type](q, deq, n);
    double e = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t j0 = 0; j0 < n; j0 += AWQ_CLIP_GROUP) {
            double y = 0;
            for (int64_t j = j0; j < j0 + AWQ_CLIP_GROUP && j < n; j++)
                y += (double)x[t * n + j] / s[j] * ((double)deq[j] - (double)w[j] * s[j]);
            e += y * y;
        }
    return e;
}

/* Rows with an outlier weight per group whose input is nearly silent: a
 * range clipped there costs little and gives the others finer steps. */
static void check_search(mvq_type type, int64_t n)
{
    enum { T = 160, ROWS = 12 };
    float *x = malloc(sizeof *x * (size_t)(T * n)), *w = malloc(sizeof *w * (size_t)(ROWS * n));
    float *s = malloc(sizeof *s * (size_t)n), *deq = malloc(sizeof *deq * (size_t)n), *c = malloc(sizeof *c * (size_t)n);
    void *q = malloc(mvq_row_size(type, n));
    uint64_t seed = 11;
    for (int64_t j = 0; j < n; j++)
        s[j] = (float)(1.0 + 0.5 * uniform(&seed));
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < n; j++)
            x[t * n + j] = (float)uniform(&seed) * (j % AWQ_CLIP_GROUP == 5 ? 0.01f : 1.0f);
    for (int64_t r = 0; r < ROWS; r++)
        for (int64_t j = 0; j < n; j++)
            w[r * n + j] = (float)uniform(&seed) * (j % AWQ_CLIP_GROUP == 5 ? 6.0f : 1.0f);
    awq_gram g;
    cr_assert_eq(awq_gram_init(&g, n, NULL), MVQ_OK);
    awq_gram_add(&g, x, T);
    mvq_transform_list l = { 0 };
    mvq_clip *clip = mvq_clip_add(&l, 0, MVQ_LINEAR_DOWN, ROWS, n, AWQ_CLIP_GROUP);
    cr_assert_not_null(clip);
    const mvq_tensor_plan tp = { .quantize = true, .type = type };
    const awq_clip_in in = { .tp = &tp, .w = w, .n_out = ROWS, .n_in = n, .col_scale = s, .gram = &g };
    double gain = -1;
    mvq_error err;
    cr_assert_eq(awq_clip_search(&in, NULL, clip, &gain, &err), MVQ_OK, "%s", err.msg);
    double before = 0, after = 0;
    int64_t clipped = 0;
    for (int64_t r = 0; r < ROWS; r++) {
        const float *max = clip->max + r * clip->n_groups;
        const double e0 = sample_err(type, x, T, n, w + r * n, s, NULL, q, deq, c);
        const double e1 = sample_err(type, x, T, n, w + r * n, s, max, q, deq, c);
        cr_expect_leq(e1, e0 * (1 + 1e-9), "%s row %lld: clipped %g, plain %g", mvq_type_name(type), (long long)r, e1,
                      e0);
        for (int64_t b = 0; b < clip->n_groups; b++)
            clipped += isfinite(max[b]);
        before += e0, after += e1;
    }
    cr_expect_gt(clipped, 0, "%s: the outliers' groups are clipped", mvq_type_name(type));
    cr_expect_float_eq(gain, 1 - after / before, 1e-6, "%s: gain %g, from the sums %g", mvq_type_name(type), gain,
                       1 - after / before);
    cr_log_info("%s: %lld of %lld groups clipped, sample error -%.1f%%\n", mvq_type_name(type), (long long)clipped,
                (long long)(ROWS * clip->n_groups), 100 * gain);
    mvq_transform_list_free(&l);
    awq_gram_free(&g);
    free(x), free(w), free(s), free(deq), free(c), free(q);
}

Test(awq_clip, search_never_loses_on_the_sample_and_clips_outliers)
{
    check_search(MVQ_TYPE_Q4_0, 96);
    check_search(MVQ_TYPE_Q4_K, 256);
    check_search(MVQ_TYPE_Q3_K, 256);
}

/* A method whose preparation clips ffn_down of layer 0 at 0.01 and keeps
 * F32: the job must hand the method the clamped rows. */
static mvq_status clip_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(ctx->in, "blk.0.ffn_down.weight");
    cr_assert_not_null(t);
    mvq_clip *c = mvq_clip_add(out, 0, MVQ_LINEAR_DOWN, t->ne[1], t->ne[0], 4);
    if (!c)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "test: out of memory");
    for (int64_t i = 0; i < c->n_out * c->n_groups; i++)
        c->max[i] = i % 2 ? 0.01f : INFINITY;
    return MVQ_OK;
}

static const mvq_method clip_method = {
    .name = "clip-test", .about = "test", .needs = 0, .prepare = clip_prepare, .quantize = gates_keep_f32,
};

Test(awq_clip, the_job_clamps_the_rows_it_quantizes)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 64;
    p.ff = 128;
    p.n_heads = 2;
    p.n_kv_heads = 2;
    p.vocab = MVQ_SYNTH_MIN_VOCAB;
    p.n_layers = 1;
    mvq_error err;
    char in_path[] = "/tmp/mvq-clip-in-XXXXXX.gguf", out_path[] = "/tmp/mvq-clip-out-XXXXXX.gguf";
    close(mkstemps(in_path, 5));
    close(mkstemps(out_path, 5));
    cr_assert_eq(mvq_synth_write(in_path, &p, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf *in = mvq_gguf_open(in_path, &err);
    cr_assert_not_null(in, "%s", err.msg);
    mvq_quantize_opts o = gates_opts("f32", false, NULL, NULL);
    o.method = &clip_method;
    mvq_model *m = mvq_model_from_gguf(in, &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_calib *calib = gates_calibrate_tokens(m, (const int32_t[]){ 1, 5, 9, 13, 17, 21, 25, 29 }, 8, 8, NULL, NULL);
    o.calib = calib; /* a preparation runs with statistics only */
    mvq_quantize_report rep;
    cr_assert_eq(mvq_quantize_file(in, out_path, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf *q = mvq_gguf_open(out_path, &err);
    cr_assert_not_null(q, "%s", err.msg);
    const mvq_gguf_tensor *a = mvq_gguf_find_tensor(in, "blk.0.ffn_down.weight");
    const mvq_gguf_tensor *b = mvq_gguf_find_tensor(q, "blk.0.ffn_down.weight");
    cr_assert(a && b && a->type == MVQ_TYPE_F32 && b->type == MVQ_TYPE_F32);
    const float *wa = a->data, *wb = b->data;
    int64_t changed = 0;
    for (int64_t i = 0; i < a->ne[0] * a->ne[1]; i++) {
        const bool odd = (i % a->ne[0]) / 4 % 2;
        const float want = odd ? fmaxf(-0.01f, fminf(0.01f, wa[i])) : wa[i];
        cr_assert_eq(wb[i], want, "weight %lld: %g, want %g", (long long)i, wb[i], want);
        changed += wb[i] != wa[i];
    }
    cr_expect_gt(changed, 0, "the clipping changed weights");
    const mvq_gguf_tensor *u = mvq_gguf_find_tensor(q, "blk.0.ffn_up.weight");
    cr_assert(u && memcmp(u->data, mvq_gguf_find_tensor(in, "blk.0.ffn_up.weight")->data, u->size) == 0,
              "other tensors untouched");
    mvq_gguf_close(q);
    mvq_quantize_report_free(&rep);
    mvq_calib_free(calib);
    mvq_model_free(m);
    mvq_gguf_close(in);
    unlink(in_path);
    unlink(out_path);
}
