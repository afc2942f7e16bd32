/* Int8 activations on the reference pass (W8A8): the int8 linear against a
 * double-precision reference of per-token x per-channel quantization, the
 * bmm rounding with kept channels, results independent of the thread
 * count, bad use refused; and the gates on both fixture models (mean KLD
 * against the F32 model): SmoothQuant-smoothed W8A8 below unsmoothed
 * W8A8, and under --act-bmm protecting the massive Q/K channels below
 * ignoring them. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quant/model/act_int8_internal.h"
#include "tests/gates_testlib.h"

/* Under qemu-user a pool's spinning workers starve the caller (its atomics
 * take one exclusive lock): threads are tested natively. */
static bool emulated(void)
{
    const char *emu = getenv("MVQ_EMULATOR");
    return emu && *emu;
}

static char *synth_model(mvq_type type, char *path)
{
    mvq_synth_params p;
    mvq_synth_default(&p);
    p.dim = 128, p.ff = 320, p.n_heads = 4, p.n_kv_heads = 2, p.vocab = 300, p.ctx = 64, p.type = type;
    strcpy(path, "/tmp/mvq-act8-XXXXXX.gguf");
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_error err;
    cr_assert_eq(mvq_synth_write(path, &p, &err), MVQ_OK, "%s", err.msg);
    return path;
}

/* sx = max|x| / 127, q = round(x / sx), in double; tie[i] where x / sx
 * is within 1e-5 of a half (f32 arithmetic may round either way there). */
static double quantize_ref(const float *x, int64_t n, double *q, bool *tie)
{
    double amax = 0;
    for (int64_t i = 0; i < n; i++)
        amax = fmax(amax, fabs((double)x[i]));
    const double s = amax / 127.0;
    for (int64_t i = 0; i < n; i++) {
        const double v = s > 0 ? (double)x[i] / s : 0.0;
        q[i] = round(v);
        tie[i] = fabs(fabs(v - trunc(v)) - 0.5) < 1e-5;
    }
    return s;
}

/* Every linear of layer 1, weights of type (F32, F16), against the reference. */
static void check_linears(mvq_type type)
{
    char path[64];
    mvq_error err;
    mvq_model *m = mvq_model_open(synth_model(type, path), &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_pool *pool = mvq_pool_create(emulated() ? 1 : 3);
    const mvq_act_int8_opts o = {.linears = true};
    mvq_act_int8 *a = mvq_act_int8_create(m, &o, pool, &err);
    cr_assert_not_null(a, "%s", err.msg);
    enum { T = 7 };
    mvq_act_scratch s;
    cr_assert_eq(mvq_act_scratch_init(&s, a, m, T, &err), MVQ_OK, "%s", err.msg);
    for (int which = 0; which < MVQ_LINEAR_COUNT; which++) {
        const mvq_weight *w = &m->layers[1].linear[which];
        float *x = malloc(sizeof *x * (size_t)(T * w->n_in)), *y = malloc(sizeof *y * (size_t)(T * w->n_out));
        float *wf = malloc(sizeof *wf * (size_t)w->n_in);
        double *qx = malloc(sizeof *qx * (size_t)(T * w->n_in)), *qw = malloc(sizeof *qw * (size_t)w->n_in);
        bool *tx = malloc((size_t)(T * w->n_in) * sizeof *tx), *tw = malloc((size_t)w->n_in * sizeof *tw);
        int64_t n_ties = 0;
        double sx[T];
        for (int64_t i = 0; i < T * w->n_in; i++) /* an outlier column as activations have */
            x[i] = sinf(0.37f * (float)i + (float)which) * (i % w->n_in == 5 ? 30.0f : 1.0f);
        for (int t = 0; t < T; t++)
            sx[t] = quantize_ref(x + t * w->n_in, w->n_in, qx + t * w->n_in, tx + t * w->n_in);
        cr_assert_eq(mvq_act_int8_linear(a, &s, pool, 1, (mvq_linear)which, w, NULL, x, T, y, &err), MVQ_OK, "%s",
                     err.msg);
        double worst = 0;
        const size_t row = mvq_row_size(w->type, w->n_in);
        for (int64_t oc = 0; oc < w->n_out; oc++) {
            mvq_dequantize_row(w->type, (const char *)w->data + (size_t)oc * row, wf, w->n_in);
            const double sw = quantize_ref(wf, w->n_in, qw, tw);
            for (int t = 0; t < T; t++) {
                double dot = 0, mag = 0, slack = 0; /* slack: a unit either way at the ties */
                for (int64_t i = 0; i < w->n_in; i++) {
                    const double xa = qx[t * w->n_in + i], wb = qw[i];
                    dot += xa * wb;
                    mag += fabs(xa * wb);
                    const bool ta = tx[t * w->n_in + i], tb = tw[i];
                    slack += (ta ? fabs(wb) : 0) + (tb ? fabs(xa) : 0) + (ta && tb ? 1 : 0);
                    n_ties += ta || tb;
                }
                const double ref = sx[t] * sw * dot;
                const double e = fmax(0, fabs(y[t * w->n_out + oc] - ref) - sx[t] * sw * slack) / (sx[t] * sw * mag);
                worst = fmax(worst, e);
            }
        }
        /* integer sums exact; only the f32 scaling rounds */
        cr_expect_leq(worst, 1e-6, "%s (%s): error %g of the magnitude", mvq_linear_name((mvq_linear)which),
                      mvq_type_name(type), worst);
        cr_log_info("%s (%s): relative error %.3g, %lld products at rounding ties\n",
                    mvq_linear_name((mvq_linear)which), mvq_type_name(type), worst, (long long)n_ties);
        free(x), free(y), free(wf), free(qx), free(qw), free(tx), free(tw);
    }
    mvq_act_scratch_free(&s);
    mvq_act_int8_free(a);
    mvq_pool_free(pool);
    mvq_model_free(m);
    unlink(path);
}

Test(act_int8, linear_is_per_token_times_per_channel_int8_f32_weights)
{
    check_linears(MVQ_TYPE_F32);
}

Test(act_int8, linear_requantizes_f16_weights)
{
    check_linears(MVQ_TYPE_F16);
}

Test(act_int8, bmm_rounding_keeps_the_massive_channels_out_of_the_scale)
{
    float x[16], y[16];
    uint8_t keep[16] = {0};
    for (int i = 0; i < 16; i++)
        x[i] = cosf((float)i);
    x[6] = 50.0f, x[7] = -40.0f;
    keep[6] = keep[7] = 1;
    memcpy(y, x, sizeof x);
    mvq_act_int8_round_row(y, 16, keep);
    cr_assert_eq(y[6], mvq_fp16_to_fp32(mvq_fp32_to_fp16(50.0f)));
    cr_assert_eq(y[7], mvq_fp16_to_fp32(mvq_fp32_to_fp16(-40.0f)));
    double amax = 0;
    for (int i = 0; i < 16; i++)
        if (!keep[i])
            amax = fmax(amax, fabs(x[i]));
    for (int i = 0; i < 16; i++)
        if (!keep[i]) { /* a multiple of the rest's scale, within half a step */
            const double k = y[i] / (amax / 127);
            cr_assert(fabs(k - round(k)) < 1e-3 && fabs(y[i] - x[i]) <= amax / 254 * 1.0001, "%d: %g vs %g", i,
                      y[i], x[i]);
        }
    memcpy(y, x, sizeof x);
    mvq_act_int8_round_row(y, 16, NULL); /* ignored: the step is 50/127, the small values crushed */
    cr_assert_eq(y[6], 50.0f);
    cr_assert(fabsf(y[1] - x[1]) > 0.05f, "%g vs %g", y[1], x[1]);
}

/* Logits of 48 tokens with act (linears and bmm with a mask) on a pool of n threads. */
static float *w8a8_logits(const mvq_model *m, int n_threads, const uint8_t *k_keep)
{
    enum { T = 48 };
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(n_threads);
    const mvq_act_int8_opts o = {.linears = true, .bmm = true, .k_keep = k_keep};
    mvq_act_int8 *a = mvq_act_int8_create(m, &o, pool, &err);
    cr_assert_not_null(a, "%s", err.msg);
    mvq_forward *f = mvq_forward_create(m, T, pool, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(mvq_forward_set_act(f, a, &err), MVQ_OK, "%s", err.msg);
    int32_t tokens[T];
    for (int i = 0; i < T; i++)
        tokens[i] = (int32_t)(1 + (i * 37) % (m->hp.n_vocab - 1));
    float *logits = malloc(sizeof *logits * (size_t)(T * m->hp.n_vocab));
    cr_assert_eq(mvq_forward_run(f, tokens, T, 0, logits, &err), MVQ_OK, "%s", err.msg);
    mvq_forward_free(f);
    mvq_act_int8_free(a);
    mvq_pool_free(pool);
    return logits;
}

Test(act_int8, results_do_not_depend_on_the_thread_count)
{
    if (emulated())
        cr_skip_test("under an emulator: threads are tested natively");
    char path[64];
    mvq_error err;
    mvq_model *m = mvq_model_open(synth_model(MVQ_TYPE_F32, path), &err);
    cr_assert_not_null(m, "%s", err.msg);
    const int64_t kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    uint8_t *keep = calloc((size_t)(m->hp.n_layer * kv_dim), 1);
    for (int64_t c = 0; c < m->hp.n_layer * kv_dim; c += 11)
        keep[c] = 1;
    const int64_t n = 48 * m->hp.n_vocab;
    float *one = w8a8_logits(m, 1, keep), *three = w8a8_logits(m, 3, keep), *plain = w8a8_logits(m, 1, NULL);
    cr_expect_eq(memcmp(one, three, sizeof *one * (size_t)n), 0, "1 and 3 threads: the same logits");
    cr_expect_neq(memcmp(one, plain, sizeof *one * (size_t)n), 0, "the mask changes the logits");
    free(one), free(three), free(plain), free(keep);
    mvq_model_free(m);
    unlink(path);
}

Test(act_int8, refuses_another_model_and_repointed_weights)
{
    char p1[64], p2[64];
    mvq_error err;
    mvq_model *m = mvq_model_open(synth_model(MVQ_TYPE_F32, p1), &err), *other = mvq_model_open(synth_model(MVQ_TYPE_F32, p2), &err);
    cr_assert(m && other);
    const mvq_act_int8_opts o = {.linears = true};
    mvq_act_int8 *a = mvq_act_int8_create(m, &o, NULL, &err);
    cr_assert_not_null(a, "%s", err.msg);
    mvq_forward *f = mvq_forward_create(other, 8, NULL, &err);
    cr_assert_eq(mvq_forward_set_act(f, a, &err), MVQ_ERR_ARG);
    cr_assert(strstr(err.msg, "another model"), "%s", err.msg);
    mvq_forward_free(f);
    f = mvq_forward_create(m, 8, NULL, &err);
    cr_assert_eq(mvq_forward_set_act(f, a, &err), MVQ_OK, "%s", err.msg);
    m->layers[0].linear[MVQ_LINEAR_UP].data = other->layers[0].linear[MVQ_LINEAR_UP].data;
    const int32_t tokens[4] = {1, 5, 9, 12};
    cr_assert_eq(mvq_forward_run(f, tokens, 4, 3, NULL, &err), MVQ_ERR_ARG);
    cr_assert(strstr(err.msg, "ffn_up") && strstr(err.msg, "changed"), "%s", err.msg);
    mvq_forward_free(f);
    mvq_act_int8_free(a);
    mvq_model_free(other);
    mvq_model_free(m);
    unlink(p1);
    unlink(p2);
}

/* ------------------------------------------------------------- gates */

#define GATE_CHUNKS 6
#define CALIB_TOKENS 4096

typedef struct gate_setup {
    mvq_model *m;
    mvq_gguf *in;
    mvq_calib *calib;
    int32_t *etoks;
    int64_t n_etoks;
    mvq_pool *pool;
} gate_setup;

/* Mean KLD of model (with act built from o) against the F32 base. */
static double w8a8_kld(const gate_setup *s, const mvq_model *model, const mvq_act_int8_opts *o, double *ppl)
{
    mvq_error err;
    mvq_act_int8 *a = mvq_act_int8_create(model, o, s->pool, &err);
    cr_assert_not_null(a, "%s", err.msg);
    mvq_eval_opts eo = {.n_ctx = 256, .bos = s->etoks[0], .max_chunks = GATE_CHUNKS, .act = a};
    mvq_eval_result r;
    cr_assert_eq(mvq_eval_perplexity(model, s->m, s->etoks, s->n_etoks, &eo, s->pool, &r, &err), MVQ_OK, "%s",
                 err.msg);
    mvq_act_int8_free(a);
    *ppl = r.ppl;
    return r.kld_mean;
}

/* The model smoothed by --method smoothquant at alpha into F32 (only the folding changes it). */
static mvq_model *smoothed(const gate_setup *s, const char *alpha, char *out, mvq_gguf **g)
{
    mvq_error err;
    mvq_quantize_opts o = gates_opts("f32", false, s->calib, s->pool);
    o.method = mvq_method_find("smoothquant");
    const char *opts[] = {alpha, NULL};
    o.method_opts = opts;
    strcpy(out, "/tmp/mvq-act8-sq-XXXXXX.gguf");
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_report rep;
    cr_assert_eq(mvq_quantize_file(s->in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    mvq_quantize_report_free(&rep);
    *g = mvq_gguf_open(out, &err);
    cr_assert_not_null(*g, "%s", err.msg);
    mvq_model *m = mvq_model_from_gguf(*g, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

static void gate(const char *name, bool gate_smoothing)
{
    char model[4096], calib_text[4096], eval_text[4096], sq_path[64];
    gates_fixture_paths(name, model, calib_text, eval_text);
    mvq_error err;
    gate_setup s = {.pool = mvq_pool_create(2)};
    cr_assert_not_null(s.in = mvq_gguf_open(model, &err), "%s", err.msg);
    cr_assert_not_null(s.m = mvq_model_from_gguf(s.in, &err), "%s", err.msg);
    int32_t *ctoks;
    int64_t n_ctoks;
    cr_assert_eq(mvq_calib_text_tokens(s.m, calib_text, CALIB_TOKENS, &ctoks, &n_ctoks, &err), MVQ_OK, "%s", err.msg);
    s.calib = gates_calibrate_tokens(s.m, ctoks, n_ctoks, 256, NULL, s.pool);
    cr_assert_eq(mvq_calib_text_tokens(s.m, eval_text, 256 * GATE_CHUNKS, &s.etoks, &s.n_etoks, &err), MVQ_OK,
                 "%s", err.msg);

    /* SmoothQuant at its llama default (0.85) against plain W8A8 */
    const mvq_act_int8_opts w8a8 = {.linears = true};
    double ppl_plain, ppl_sq;
    const double plain = w8a8_kld(&s, s.m, &w8a8, &ppl_plain);
    mvq_gguf *sq_gguf;
    mvq_model *sq = smoothed(&s, "alpha=0.85", sq_path, &sq_gguf);
    const double smooth = w8a8_kld(&s, sq, &w8a8, &ppl_sq);
    cr_log_info("%s W8A8, %d chunks: plain KLD %.6f (PPL %.4f), smoothed alpha 0.85 KLD %.6f (PPL %.4f)\n", name,
                GATE_CHUNKS, plain, ppl_plain, smooth, ppl_sq);
    if (gate_smoothing)
        cr_expect_lt(smooth, plain, "%s: smoothed W8A8 KLD %.6f, unsmoothed %.6f", name, smooth, plain);

    /* --act-bmm: the massive K channels (and their Q channels) kept, as --protect-massive picks them */
    const int64_t kv_dim = s.m->hp.n_head_kv * s.m->hp.head_dim;
    uint8_t *keep = calloc((size_t)(s.m->hp.n_layer * kv_dim), 1);
    const mvq_massive_params mp = {.lambda = 5, .topk = 2};
    const int64_t n_kept = mvq_kv_massive_from_calib(s.calib, &mp, keep, NULL);
    cr_assert_gt(n_kept, 0);
    /* with the W8A8 linears (SmoothQuant's full setting), then Q/K/V alone (f32 linears) */
    for (int linears = 1; linears >= 0; linears--) {
        const mvq_act_int8_opts ignore = {.linears = linears, .bmm = true},
                                protect = {.linears = linears, .bmm = true, .k_keep = keep};
        double ppl_i, ppl_p;
        const double k_ignore = w8a8_kld(&s, s.m, &ignore, &ppl_i), k_protect = w8a8_kld(&s, s.m, &protect, &ppl_p);
        cr_log_info("%s %s int8 Q/K/V, %d chunks: ignore KLD %.6f (PPL %.4f), protect (%lld K channels) KLD %.6f "
                    "(PPL %.4f)\n", name, linears ? "W8A8 +" : "f32 linears,", GATE_CHUNKS, k_ignore, ppl_i,
                    (long long)n_kept, k_protect, ppl_p);
        cr_expect_lt(k_protect, k_ignore, "%s%s: protect KLD %.6f, ignore %.6f", name, linears ? " W8A8" : "",
                     k_protect, k_ignore);
    }

    free(keep);
    mvq_model_free(sq);
    mvq_gguf_close(sq_gguf);
    unlink(sq_path);
    free(ctoks);
    free(s.etoks);
    mvq_calib_free(s.calib);
    mvq_model_free(s.m);
    mvq_gguf_close(s.in);
    mvq_pool_free(s.pool);
}

Test(act_int8_gates, stories260K, .timeout = 120)
{
    gate("stories260K", true);
}

/* tinyrope-3M: smoothing is only logged.  Its W8A8 error is small
 * (mean KLD 0.0003) and smoothing at alpha 0.85 moves it either way with
 * the sample: lower over these 6 chunks, higher over 64 chunks (0.000303
 * against 0.000298 unsmoothed; alpha 0.5: 0.000297), so the direction is
 * not a property of the method here.  Protecting the massive channels
 * holds both with the W8A8 linears (a margin of 2 to 3%: their error
 * dominates) and without them (about half the KLD). */
Test(act_int8_gates, tinyrope_3M, .timeout = 120)
{
    gate("tinyrope-3M", false);
}
