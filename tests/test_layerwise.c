/* The layer-by-layer driver: the one-pass statistics bit for bit, and a
 * replaced layer feeding the next one in sequential mode. */
#include "tests/calib_testlib.h"

#include <string.h>

/* Statistics of the one-pass forward pass over windows of n_ctx, bos first. */
static mvq_calib *one_pass(const mvq_model *m, const int32_t *tokens, int64_t n, int64_t n_ctx, mvq_pool *pool)
{
    mvq_error err;
    mvq_calib *c = mvq_calib_new(&m->hp, &err);
    mvq_forward *f = mvq_forward_create(m, n_ctx, pool, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const mvq_observer o = {.taps = mvq_calib_tap_mask(), .kind = MVQ_OBSERVER_READ, .fn = mvq_calib_observe, .user = c};
    cr_assert_eq(mvq_forward_add_observer(f, &o, NULL, &err), MVQ_OK, "%s", err.msg);
    int32_t *seq = malloc((size_t)n_ctx * sizeof *seq);
    for (int64_t at = 0; at < n; at += n_ctx) {
        const int64_t len = n - at < n_ctx ? n - at : n_ctx;
        memcpy(seq, tokens + at, (size_t)len * sizeof *seq);
        seq[0] = 1;
        cr_assert_eq(mvq_forward_run(f, seq, len, len, NULL, &err), MVQ_OK, "%s", err.msg);
    }
    free(seq);
    mvq_forward_free(f);
    return c;
}

static mvq_calib *layerwise(const mvq_model *m, const int32_t *tokens, int64_t n, mvq_layerwise_opts *lw,
                            mvq_pool *pool)
{
    mvq_error err;
    mvq_calib *c = mvq_calib_new(&m->hp, &err);
    const mvq_observer o = {.taps = mvq_calib_tap_mask(), .kind = MVQ_OBSERVER_READ, .fn = mvq_calib_observe, .user = c};
    lw->observers = &o;
    lw->n_observers = 1;
    lw->bos = 1;
    cr_assert_eq(mvq_forward_layerwise(m, tokens, n, lw, pool, &err), MVQ_OK, "%s", err.msg);
    return c;
}

/* Same sums in the same order: equal to the last bit.  from_layer skips the layers before it. */
static void expect_same(const mvq_calib *a, const mvq_calib *b, int64_t from_layer, bool want_equal, const char *what)
{
    bool equal = a->n_tokens == b->n_tokens;
    for (int i = 0; i < MVQ_CALIB_INPUT_COUNT; i++) {
        const int64_t layers = i == MVQ_CALIB_OUTPUT_IN ? 1 : a->hp.n_layer;
        const int64_t skip = i == MVQ_CALIB_OUTPUT_IN ? 0 : from_layer * a->dim[i];
        const size_t n = (size_t)(layers * a->dim[i] - skip);
        equal &= memcmp(a->sum_sq[i] + skip, b->sum_sq[i] + skip, n * sizeof(double)) == 0;
        equal &= memcmp(a->sum_abs[i] + skip, b->sum_abs[i] + skip, n * sizeof(double)) == 0;
        equal &= memcmp(a->max_abs[i] + skip, b->max_abs[i] + skip, n * sizeof(float)) == 0;
    }
    for (int w = 0; w < 3; w++) {
        const int64_t per = a->qkv_heads[w] * a->hp.head_dim;
        equal &= memcmp(a->qkv_sq[w] + from_layer * per, b->qkv_sq[w] + from_layer * per,
                        (size_t)((a->hp.n_layer - from_layer) * per) * sizeof(double)) == 0;
    }
    cr_expect_eq(equal, want_equal, "%s", what);
}

Test(layerwise, statistics_equal_the_one_pass_ones)
{
    const char *names[2] = {"stories260K", "tinyrope-3M"};
    mvq_pool *pool = mvq_pool_create(2);
    for (int i = 0; i < 2; i++) {
        mvq_model *m = fixture_model(names[i]);
        int64_t n;
        int32_t *tokens = fixture_calib_tokens(m, 300, &n);
        mvq_calib *want = one_pass(m, tokens, n, 128, pool);
        mvq_layerwise_opts lw = {.n_ctx = 128, .release = true};
        mvq_calib *got = layerwise(m, tokens, n, &lw, pool);
        expect_same(want, got, 0, true, "layer by layer, pages released: the one-pass statistics");
        /* and through the public calibration entry */
        mvq_calib *run = mvq_calib_new(&m->hp, NULL);
        mvq_calib_opts opts = {.n_ctx = 128, .bos = 1};
        cr_assert_eq(mvq_calib_run(run, m, tokens, n, &opts, pool, NULL), MVQ_OK);
        expect_same(want, run, 0, true, "mvq_calib_run: the one-pass statistics");
        mvq_calib_free(want);
        mvq_calib_free(got);
        mvq_calib_free(run);
        free(tokens);
        mvq_model_free(m);
    }
    mvq_pool_free(pool);
}

typedef struct replace {
    int64_t layer, calls;
    mvq_weight zero_o; /* attn_output of that layer, all zeros */
} replace;

static mvq_status replace_o(void *user, int64_t layer, mvq_layer *w, mvq_error *err)
{
    (void)err;
    replace *r = user;
    r->calls++;
    if (layer == r->layer)
        w->linear[MVQ_LINEAR_O] = r->zero_o;
    return MVQ_OK;
}

Test(layerwise, sequential_feeds_the_replaced_layer_forward)
{
    mvq_model *m = fixture_model("stories260K");
    int64_t n;
    int32_t *tokens = fixture_calib_tokens(m, 200, &n);
    const mvq_weight *o = &m->layers[0].linear[MVQ_LINEAR_O];
    float *zeros = calloc((size_t)(o->n_in * o->n_out), sizeof *zeros);
    replace r = {.layer = 0, .zero_o = {.name = o->name, .type = MVQ_TYPE_F32, .data = zeros, .n_in = o->n_in, .n_out = o->n_out}};

    /* what it must equal: the one-pass statistics of a model whose layer 0 has that attn_output */
    mvq_model edited = *m;
    edited.layers = malloc((size_t)m->hp.n_layer * sizeof *edited.layers);
    memcpy(edited.layers, m->layers, (size_t)m->hp.n_layer * sizeof *edited.layers);
    edited.layers[0].linear[MVQ_LINEAR_O] = r.zero_o;
    edited.owns_gguf = false;
    mvq_calib *orig = one_pass(m, tokens, n, 64, NULL), *want = one_pass(&edited, tokens, n, 64, NULL);

    mvq_layerwise_opts lw = {.n_ctx = 64, .sequential = true, .layer_done = replace_o, .user = &r};
    mvq_calib *got = layerwise(m, tokens, n, &lw, NULL);
    cr_expect_eq(r.calls, m->hp.n_layer, "called once per layer");
    expect_same(want, got, 1, true, "layers after the replaced one see its output");
    expect_same(orig, got, 1, false, "... which differs from the original's");
    /* layer 0 itself was observed with its own weights, up to its attn_output's input */
    cr_expect_eq(memcmp(orig->sum_sq[MVQ_CALIB_ATTN_OUT], got->sum_sq[MVQ_CALIB_ATTN_OUT],
                        (size_t)got->dim[MVQ_CALIB_ATTN_OUT] * sizeof(double)), 0);

    lw = (mvq_layerwise_opts){.n_ctx = 64, .layer_done = replace_o, .user = &r};
    mvq_calib *plain = layerwise(m, tokens, n, &lw, NULL);
    expect_same(orig, plain, 0, true, "not sequential: the replacement changes nothing downstream");
    mvq_calib_free(orig);
    mvq_calib_free(want);
    mvq_calib_free(got);
    mvq_calib_free(plain);
    free(edited.layers);
    free(zeros);
    free(tokens);
    mvq_model_free(m);
}
