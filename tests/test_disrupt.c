/* mvquant disrupt's library side: the chosen columns really hold their
 * mean, disrupting nothing changes nothing, the contextual/other split,
 * and the seed paper's figures on the fixture models. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixtures.h"
#include "tests/synth_model.h"

/* qwen2: NEOX RoPE (d rotates with d + 8) */
static const synth_shape shape = {.dim = 64, .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 16, .n_rot = 16,
                                  .ff = 96, .vocab = 40, .arch = MVQ_ARCH_QWEN2};

#define N_TOK 12

/* Copies of the Q and K of layer 1 as the pass goes on with them. */
typedef struct captured {
    float q[N_TOK * 64], k[N_TOK * 32], q0[N_TOK * 64];
} captured;

static void capture(void *user, const mvq_observation *obs)
{
    captured *c = user;
    if (obs->layer == 1 && obs->tap == MVQ_TAP_Q)
        memcpy(c->q, obs->data, sizeof c->q);
    if (obs->layer == 1 && obs->tap == MVQ_TAP_K)
        memcpy(c->k, obs->data, sizeof c->k);
    if (obs->layer == 0 && obs->tap == MVQ_TAP_Q)
        memcpy(c->q0, obs->data, sizeof c->q0);
}

static void run_captured(synth_model *sm, const int32_t *tokens, mvq_disrupt *d, captured *c)
{
    mvq_error err;
    mvq_forward *f = mvq_forward_create(&sm->m, N_TOK, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    if (d) {
        const mvq_observer o = mvq_disrupt_observer(d);
        cr_assert_eq(mvq_forward_add_observer(f, &o, NULL, &err), MVQ_OK, "%s", err.msg);
    }
    const mvq_observer rd = {.taps = MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K), .kind = MVQ_OBSERVER_READ,
                             .fn = capture, .user = c};
    cr_assert_eq(mvq_forward_add_observer(f, &rd, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_forward_run(f, tokens, N_TOK, N_TOK, NULL, &err), MVQ_OK, "%s", err.msg);
    mvq_forward_free(f);
}

/* Head h of x (n_heads heads of 16): the top-2 columns by norm must hold
 * the mean of the undisturbed column, the others be untouched. */
static void check_head(const float *orig, const float *got, int n_heads, int h, const mvq_disrupt *d, mvq_tap tap)
{
    const int stride = n_heads * 16;
    double norm[16];
    for (int j = 0; j < 16; j++) {
        norm[j] = 0;
        for (int t = 0; t < N_TOK; t++)
            norm[j] += (double)orig[t * stride + h * 16 + j] * orig[t * stride + h * 16 + j];
    }
    int first = 0, second = -1;
    for (int j = 1; j < 16; j++)
        if (norm[j] > norm[first])
            first = j;
    for (int j = 0; j < 16; j++)
        if (j != first && (second < 0 || norm[j] > norm[second]))
            second = j;
    for (int j = 0; j < 16; j++) {
        const bool hit = j == first || j == second;
        cr_assert_eq(mvq_disrupt_hits(d, tap, 1, h, j), hit ? 1 : 0, "%s head %d dim %d", mvq_tap_name(tap), h, j);
        double mean = 0;
        for (int t = 0; t < N_TOK; t++)
            mean += orig[t * stride + h * 16 + j];
        mean /= N_TOK;
        for (int t = 0; t < N_TOK; t++) {
            const float g = got[t * stride + h * 16 + j], o = orig[t * stride + h * 16 + j];
            if (hit)
                cr_assert_float_eq(g, mean, 1e-6 * (1 + fabs(mean)), "head %d dim %d row %d: %g, mean %g", h, j,
                                   t, g, mean);
            else
                cr_assert_eq(memcmp(&g, &o, sizeof g), 0, "head %d dim %d row %d changed", h, j, t);
        }
    }
}

Test(disrupt, chosen_columns_hold_their_mean_and_the_rest_is_untouched)
{
    synth_model sm;
    synth_build(&sm, &shape, 11);
    int32_t tokens[N_TOK];
    synth_tokens(tokens, N_TOK, shape.vocab, 12);
    const unsigned char layers[2] = {0, 1};
    const mvq_disrupt_opts o = {.layers = layers, .topk = 2, .mode = MVQ_DISRUPT_MEAN};
    mvq_error err;
    mvq_disrupt *d = mvq_disrupt_create(&sm.m, &o, &err);
    cr_assert_not_null(d, "%s", err.msg);
    static captured before, after;
    run_captured(&sm, tokens, NULL, &before);
    run_captured(&sm, tokens, d, &after);
    /* layer 1's Q is computed before its K is disrupted: its input is undisturbed */
    cr_assert_eq(memcmp(before.q0, after.q0, sizeof before.q0), 0, "layer 0 is not disrupted");
    for (int h = 0; h < 4; h++)
        check_head(before.q, after.q, 4, h, d, MVQ_TAP_Q);
    for (int h = 0; h < 2; h++)
        check_head(before.k, after.k, 2, h, d, MVQ_TAP_K);
    cr_assert_eq(mvq_disrupt_passes(d, MVQ_TAP_Q, 1), 1);
    cr_assert_eq(mvq_disrupt_passes(d, MVQ_TAP_Q, 0), 0);
    cr_assert_eq(mvq_disrupt_passes(d, MVQ_TAP_V, 1), 0);
    mvq_disrupt_free(d);
    synth_free(&sm);
}

Test(disrupt, controls_choose_the_lowest_and_random_non_massive_dims)
{
    /* 3 rows of 8 dims; norms grow with the index except dim 2, the largest */
    float x[3 * 8];
    for (int t = 0; t < 3; t++)
        for (int j = 0; j < 8; j++)
            x[t * 8 + j] = (float)(j == 2 ? 100 : j + 1) * (t % 2 ? -1.0f : 1.0f);
    int dims[8];
    mvq_disrupt_opts o = {.topk = 2, .target = MVQ_DISRUPT_MASSIVE};
    cr_assert_eq(mvq_disrupt_choose(x, 3, 8, 8, &o, 0, dims), 2);
    cr_assert(dims[0] == 2 && dims[1] == 7);
    o.target = MVQ_DISRUPT_LOWEST;
    cr_assert_eq(mvq_disrupt_choose(x, 3, 8, 8, &o, 0, dims), 2);
    cr_assert(dims[0] == 0 && dims[1] == 1);
    o.target = MVQ_DISRUPT_RANDOM;
    int seen[8] = {0};
    for (uint64_t slot = 0; slot < 64; slot++) {
        int again[8];
        cr_assert_eq(mvq_disrupt_choose(x, 3, 8, 8, &o, slot, dims), 2);
        cr_assert_eq(mvq_disrupt_choose(x, 3, 8, 8, &o, slot, again), 2);
        cr_assert(dims[0] == again[0] && dims[1] == again[1], "the same seed and slot, the same choice");
        cr_assert(dims[0] < dims[1]);
        for (int i = 0; i < 2; i++) {
            cr_assert(dims[i] != 2 && dims[i] != 7, "random control hit massive dim %d", dims[i]);
            seen[dims[i]]++;
        }
    }
    for (int j = 0; j < 8; j++)
        cr_assert(j == 2 || j == 7 || seen[j] > 0, "dim %d never drawn in 64 slots", j);
    /* the lambda rule: M > 3 x mean of the norms picks dim 2 only */
    o = (mvq_disrupt_opts){.lambda = 3.0, .target = MVQ_DISRUPT_MASSIVE};
    cr_assert_eq(mvq_disrupt_choose(x, 3, 8, 8, &o, 0, dims), 1);
    cr_assert_eq(dims[0], 2);
}

Test(disrupt, disrupting_nothing_reproduces_the_baseline_bit_for_bit)
{
    synth_model sm;
    synth_build(&sm, &shape, 13);
    int32_t tokens[96];
    synth_tokens(tokens, 96, shape.vocab, 14);
    mvq_error err;
    const mvq_disrupt_opts o = {.topk = 0};
    mvq_disrupt *d = mvq_disrupt_create(&sm.m, &o, &err);
    cr_assert_not_null(d, "%s", err.msg);
    const mvq_observer obs = mvq_disrupt_observer(d);
    const mvq_eval_opts plain = {.n_ctx = 16, .bos = 1};
    mvq_eval_opts eo = plain;
    eo.observers = &obs;
    eo.n_observers = 1;
    mvq_eval_result ref, split[3];
    cr_assert_eq(mvq_eval_perplexity(&sm.m, &sm.m, tokens, 96, &plain, NULL, &ref, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_eval_perplexity_split(&sm.m, &sm.m, tokens, 96, &eo, NULL, split, &err), MVQ_OK, "%s",
                 err.msg);
    cr_assert_eq(mvq_disrupt_passes(d, MVQ_TAP_Q, 0), 6, "the observer saw the 6 chunks");
    cr_assert_eq(split[0].ppl, ref.ppl);
    cr_assert_eq(split[0].ppl, split[0].base_ppl);
    cr_assert_eq(split[0].kld_mean, 0.0);
    cr_assert_eq(split[0].same_top, 1.0);
    cr_assert_eq(split[0].n_scored, 6 * 7);
    /* contextual: the target's id occurs at positions 1..j of its chunk */
    int64_t ctx = 0;
    for (int c = 0; c < 6; c++)
        for (int j = 8; j < 15; j++) {
            bool seen = false;
            for (int i = 1; i <= j; i++)
                seen |= tokens[c * 16 + i] == tokens[c * 16 + j + 1];
            ctx += seen;
        }
    cr_assert_eq(split[1].n_scored, ctx);
    cr_assert_eq(split[2].n_scored, 42 - ctx);
    cr_assert(ctx > 0 && ctx < 42, "both kinds present (%lld contextual)", (long long)ctx);
    /* the classes' mean NLLs weigh back to the whole */
    const double whole = log(split[0].ppl) * 42, parts = log(split[1].ppl) * ctx + log(split[2].ppl) * (42 - ctx);
    cr_assert_float_eq(whole, parts, 1e-9 * fabs(whole));
    cr_assert_eq(split[1].kld_mean, 0.0);
    mvq_disrupt_free(d);
    synth_free(&sm);
}

Test(disrupt, norms_before_rope_keep_the_pair_norms_of_those_after)
{
    synth_model sm;
    synth_build(&sm, &shape, 15);
    int32_t tokens[40];
    synth_tokens(tokens, 40, shape.vocab, 16);
    static double pre[3][2 * 64], post[3][2 * 64];
    double *const sq_pre[3] = {pre[0], pre[1], pre[2]}, *const sq_post[3] = {post[0], post[1], post[2]};
    mvq_error err;
    cr_assert_eq(mvq_qkv_norms_pass(&sm.m, tokens, 40, 20, 1, true, NULL, sq_pre, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_qkv_norms_pass(&sm.m, tokens, 40, 20, 1, false, NULL, sq_post, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(memcmp(pre[2], post[2], 2 * 32 * sizeof(double)), 0, "V is the same either way");
    bool moved = false;
    /* NEOX rotates d with d + 8 in each head of 16: the pair's summed square is kept */
    for (int w = 0; w < 2; w++)
        for (int j = 0; j < 2 * (w ? 32 : 64); j++) {
            if (j % 16 >= 8)
                continue;
            const double a = pre[w][j] + pre[w][j + 8], b = post[w][j] + post[w][j + 8];
            cr_assert_float_eq(a, b, 1e-4 * a, "%s %d: %g vs %g", w ? "K" : "Q", j, a, b);
            moved |= fabs(pre[w][j] - post[w][j]) > 1e-3 * a;
        }
    cr_assert(moved, "RoPE moved some norm within its pairs");
    synth_free(&sm);
}

/* ------------------------------------------------------------- fixtures */

typedef struct fixture {
    mvq_model *m;
    int32_t *tokens;
    int64_t n;
    int32_t bos;
} fixture;

static fixture open_fixture(const char *name)
{
    char path[4096], rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (!mvq_fixture(rel, path, sizeof path))
        cr_skip_test("fixture %s is absent: configure --with-fixtures=DIR", rel);
    char text[4096];
    if (!mvq_fixture("text/tinystories-eval.txt", text, sizeof text))
        cr_skip_test("fixture text/tinystories-eval.txt is absent");
    mvq_error err;
    fixture fx = {0};
    fx.m = mvq_model_open(path, &err);
    cr_assert_not_null(fx.m, "%s", err.msg);
    mvq_tokenizer *tok = mvq_tokenizer_from_gguf(fx.m->gguf, &err);
    cr_assert_not_null(tok, "%s", err.msg);
    fx.bos = mvq_tokenizer_bos(tok);
    mvq_tokenizer_free(tok);
    cr_assert_eq(mvq_calib_text_tokens(fx.m, text, 0, &fx.tokens, &fx.n, &err), MVQ_OK, "%s", err.msg);
    return fx;
}

/* One disruption on the first max_chunks chunks (0: all), against the undisturbed model when with_base. */
static void disrupted(const fixture *fx, uint32_t taps, int topk, mvq_disrupt_target target, int64_t max_chunks,
                      bool with_base, mvq_pool *pool, mvq_eval_result r[3])
{
    const mvq_disrupt_opts o = {.taps = taps, .topk = topk, .mode = MVQ_DISRUPT_MEAN, .target = target, .seed = 1};
    mvq_error err;
    mvq_disrupt *d = mvq_disrupt_create(fx->m, &o, &err);
    cr_assert_not_null(d, "%s", err.msg);
    const mvq_observer obs = mvq_disrupt_observer(d);
    const mvq_eval_opts eo = {.n_ctx = 256, .bos = fx->bos, .max_chunks = max_chunks, .observers = &obs,
                              .n_observers = 1};
    cr_assert_eq(mvq_eval_perplexity_split(fx->m, with_base ? fx->m : NULL, fx->tokens, fx->n, &eo, pool, r, &err),
                 MVQ_OK, "%s", err.msg);
    mvq_disrupt_free(d);
}

static void near(double got, double want, const char *what)
{
    cr_assert(fabs(got - want) <= 0.005 * fabs(want), "%s: %.4f, the reference %.4f (0.5%%)", what, got, want);
}

#define QK (MVQ_TAP_BIT(MVQ_TAP_Q) | MVQ_TAP_BIT(MVQ_TAP_K))

/* The reference figures of an independent implementation (issue 13), whole file. */
Test(disrupt, stories260K_reproduces_the_reference_figures, .timeout = 600)
{
    if (mvq_heavy_tests_off())
        cr_skip_test(MVQ_HEAVY_SKIP_MSG);
    fixture fx = open_fixture("stories260K");
    mvq_pool *pool = mvq_pool_create(2);
    mvq_eval_result r[3], low[3], v[3];
    disrupted(&fx, QK, 1, MVQ_DISRUPT_MASSIVE, 0, true, pool, r);
    cr_assert_eq(r[0].n_chunks, 382);
    cr_log_info("stories260K: baseline %.4f (%.4f / %.4f), massive %.4f (%.4f / %.4f), KLD %.4f, top-1 %.2f%%",
                r[0].base_ppl, r[1].base_ppl, r[2].base_ppl, r[0].ppl, r[1].ppl, r[2].ppl, r[0].kld_mean,
                100 * r[0].same_top);
    near(r[0].base_ppl, 4.1627, "baseline PPL");
    near(r[1].base_ppl, 3.8217, "baseline contextual PPL");
    near(r[2].base_ppl, 5.5418, "baseline other PPL");
    near(r[0].ppl, 14.9235, "massive PPL");
    near(r[1].ppl, 13.6093, "massive contextual PPL");
    near(r[2].ppl, 20.3196, "massive other PPL");
    near(r[0].kld_mean, 1.3041, "massive mean KLD");
    near(100 * r[0].same_top, 45.95, "massive top-1 agreement %");
    disrupted(&fx, QK, 1, MVQ_DISRUPT_LOWEST, 0, false, pool, low);
    near(low[0].ppl, 11.6956, "lowest control PPL");
    near(low[1].ppl, 10.5193, "lowest control contextual PPL");
    near(low[2].ppl, 16.6788, "lowest control other PPL");
    disrupted(&fx, MVQ_TAP_BIT(MVQ_TAP_V), 1, MVQ_DISRUPT_MASSIVE, 0, false, pool, v);
    near(v[0].ppl, 4.8199, "V top-1 PPL");
    mvq_pool_free(pool);
    free(fx.tokens);
    mvq_model_free(fx.m);
}

/* Head size 64: the lowest-norm control is harmless, the top-4 massive dims are not (first 24 chunks). */
Test(disrupt, tinyrope_massive_dims_matter_and_the_lowest_do_not, .timeout = 600)
{
    if (mvq_heavy_tests_off())
        cr_skip_test(MVQ_HEAVY_SKIP_MSG);
    fixture fx = open_fixture("tinyrope-3M");
    mvq_pool *pool = mvq_pool_create(2);
    mvq_eval_result r[3], low[3];
    disrupted(&fx, QK, 4, MVQ_DISRUPT_MASSIVE, 24, true, pool, r);
    disrupted(&fx, QK, 4, MVQ_DISRUPT_LOWEST, 24, false, pool, low);
    cr_log_info("tinyrope-3M, 24 chunks: baseline %.4f, top-4 massive %.4f (x%.3f), top-4 lowest %.4f (x%.3f)",
                r[0].base_ppl, r[0].ppl, r[0].ppl_ratio, low[0].ppl, low[0].ppl / r[0].base_ppl);
    cr_assert(fabs(low[0].ppl / r[0].base_ppl - 1) < 0.01, "lowest control moved PPL by %.2f%%",
              100 * (low[0].ppl / r[0].base_ppl - 1));
    cr_assert(r[0].ppl_ratio > 1.10, "top-4 massive raised PPL only x%.4f", r[0].ppl_ratio);
    mvq_pool_free(pool);
    free(fx.tokens);
    mvq_model_free(fx.m);
}
