/* Calibration statistics on the fixture models: what the hooks saw, the
 * importance of every weight, the file round trip, the cache. */
#include "tests/calib_testlib.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* What the statistics must equal: sums over the same windows, gathered by
 * an observer of our own. */
typedef struct expected {
    const mvq_hparams *hp;
    double *sq[MVQ_TAP_COUNT], *ab[MVQ_TAP_COUNT];
    float *mx[MVQ_TAP_COUNT];
    int64_t dim[MVQ_TAP_COUNT], tokens;
} expected;

static void gather(void *user, const mvq_observation *o)
{
    expected *e = user;
    const int64_t layers = e->hp->n_layer + 1;
    if (!e->sq[o->tap]) {
        e->dim[o->tap] = o->dim;
        e->sq[o->tap] = calloc((size_t)(layers * o->dim), sizeof(double));
        e->ab[o->tap] = calloc((size_t)(layers * o->dim), sizeof(double));
        e->mx[o->tap] = calloc((size_t)(layers * o->dim), sizeof(float));
    }
    for (int64_t t = 0; t < o->n_tokens; t++)
        for (int64_t j = 0; j < o->dim; j++) {
            const double x = o->data[t * o->dim + j];
            const int64_t at = o->layer * o->dim + j;
            e->sq[o->tap][at] += x * x;
            e->ab[o->tap][at] += fabs(x);
            e->mx[o->tap][at] = fmaxf(e->mx[o->tap][at], fabsf(o->data[t * o->dim + j]));
        }
    if (o->tap == MVQ_TAP_ATTN_IN && o->layer == 0)
        e->tokens += o->n_tokens;
}

static void expected_free(expected *e)
{
    for (int t = 0; t < MVQ_TAP_COUNT; t++) {
        free(e->sq[t]);
        free(e->ab[t]);
        free(e->mx[t]);
    }
}

/* 300 tokens in windows of 128: two full windows and one of 44, BOS first in each. */
static void run_both(const mvq_model *m, const int32_t *tokens, int64_t n, mvq_calib *c, expected *e)
{
    mvq_error err;
    mvq_calib_opts opts = {.n_ctx = 128, .bos = 1};
    cr_assert_eq(mvq_calib_run(c, m, tokens, n, &opts, NULL, &err), MVQ_OK, "%s", err.msg);
    mvq_forward *f = mvq_forward_create(m, 128, NULL, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const mvq_observer o = {.taps = MVQ_TAP_ALL, .kind = MVQ_OBSERVER_READ, .fn = gather, .user = e};
    cr_assert_eq(mvq_forward_add_observer(f, &o, NULL, &err), MVQ_OK, "%s", err.msg);
    int32_t seq[128];
    for (int64_t at = 0; at < n; at += 128) {
        const int64_t len = n - at < 128 ? n - at : 128;
        memcpy(seq, tokens + at, (size_t)len * sizeof *seq);
        seq[0] = 1;
        cr_assert_eq(mvq_forward_run(f, seq, len, len, NULL, &err), MVQ_OK, "%s", err.msg);
    }
    mvq_forward_free(f);
}

static void expect_close(double got, double want, double rel, const char *what, int64_t j)
{
    cr_expect(fabs(got - want) <= rel * fabs(want) + 1e-12, "%s[%lld]: %.9g, expected %.9g", what, (long long)j, got,
              want);
}

Test(calib, statistics_are_what_the_hooks_saw)
{
    mvq_model *m = fixture_model("stories260K");
    int64_t n;
    int32_t *tokens = fixture_calib_tokens(m, 300, &n);
    mvq_error err;
    mvq_calib *c = mvq_calib_new(&m->hp, &err);
    cr_assert_not_null(c, "%s", err.msg);
    expected e = {.hp = &m->hp};
    run_both(m, tokens, n, c, &e);
    cr_assert_eq(c->n_tokens, 300);
    cr_assert_eq(e.tokens, 300);

    /* importance = mean square of the input, for every linear layer of every block */
    const struct {
        const char *suffix;
        mvq_tap tap;
        int input;
    } feeds[] = {
        {"attn_q", MVQ_TAP_ATTN_IN, MVQ_CALIB_ATTN_IN},     {"attn_k", MVQ_TAP_ATTN_IN, MVQ_CALIB_ATTN_IN},
        {"attn_v", MVQ_TAP_ATTN_IN, MVQ_CALIB_ATTN_IN},     {"attn_output", MVQ_TAP_ATTN_OUT, MVQ_CALIB_ATTN_OUT},
        {"ffn_gate", MVQ_TAP_FFN_IN, MVQ_CALIB_FFN_IN},     {"ffn_up", MVQ_TAP_FFN_IN, MVQ_CALIB_FFN_IN},
        {"ffn_down", MVQ_TAP_FFN_DOWN_IN, MVQ_CALIB_FFN_DOWN_IN},
    };
    float imp[512];
    char name[64];
    for (int64_t l = 0; l < m->hp.n_layer; l++)
        for (size_t i = 0; i < sizeof feeds / sizeof feeds[0]; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, feeds[i].suffix);
            const int64_t dim = e.dim[feeds[i].tap];
            cr_assert(mvq_calib_importance(c, name, imp, dim), "%s", name);
            for (int64_t j = 0; j < dim; j++) {
                const int64_t at = l * dim + j;
                expect_close(imp[j], e.sq[feeds[i].tap][at] / 300.0, 1e-6, name, j);
                expect_close(c->sum_abs[feeds[i].input][at], e.ab[feeds[i].tap][at], 1e-9, "sum_abs", j);
                cr_expect_eq(c->max_abs[feeds[i].input][at], e.mx[feeds[i].tap][at], "max_abs %s[%lld]", name,
                             (long long)j);
            }
        }
    cr_assert(mvq_calib_importance(c, "output.weight", imp, m->hp.n_embd));
    for (int64_t j = 0; j < m->hp.n_embd; j++)
        expect_close(imp[j], e.sq[MVQ_TAP_OUTPUT_IN][m->hp.n_layer * m->hp.n_embd + j] / 300.0, 1e-6, "output", j);

    /* M[h][d] = L2 norm over the tokens of Q, K (after RoPE) and V */
    const mvq_tap qkv[3] = {MVQ_TAP_Q, MVQ_TAP_K, MVQ_TAP_V};
    float M[512];
    for (int w = 0; w < 3; w++)
        for (int64_t l = 0; l < m->hp.n_layer; l++) {
            mvq_calib_norms(c, (mvq_calib_qkv)w, l, M);
            const int64_t dim = e.dim[qkv[w]];
            cr_assert_eq(dim, c->qkv_heads[w] * m->hp.head_dim);
            for (int64_t j = 0; j < dim; j++)
                expect_close(M[j], sqrt(e.sq[qkv[w]][l * dim + j]), 1e-6, "M", j);
        }
    cr_expect(mvq_calib_has_norms(c));
    expected_free(&e);
    mvq_calib_free(c);
    free(tokens);
    mvq_model_free(m);
}

Test(calib, importance_for_every_2d_weight_by_name)
{
    mvq_model *m = fixture_model("tinyrope-3M");
    mvq_calib *c = fixture_calibrated(m, 64, 64);
    float *imp = malloc(4096 * sizeof *imp);
    int weights = 0;
    for (int64_t i = 0; i < mvq_gguf_n_tensors(m->gguf); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(m->gguf, i);
        if (t->n_dims != 2)
            continue;
        const bool embedding = strcmp(t->name.data, "token_embd.weight") == 0;
        const bool found = mvq_calib_importance(c, t->name.data, imp, t->ne[0]);
        cr_expect_eq(found, !embedding, "%s: importance %s", t->name.data, found ? "found" : "missing");
        for (int64_t j = 0; found && j < t->ne[0]; j++)
            cr_expect(isfinite(imp[j]) && imp[j] > 0, "%s[%lld] = %g", t->name.data, (long long)j, imp[j]);
        cr_expect(!mvq_calib_importance(c, t->name.data, imp, t->ne[0] + 1), "%s: wrong width accepted",
                  t->name.data);
        weights += found;
    }
    cr_expect_eq(weights, 7 * m->hp.n_layer + 1, "every linear layer and the output");
    cr_expect(!mvq_calib_importance(c, "blk.99.attn_q.weight", imp, m->hp.n_embd));
    cr_expect(!mvq_calib_importance(c, "blk.0.attn_norm.weight", imp, m->hp.n_embd));
    free(imp);
    mvq_calib_free(c);
    mvq_model_free(m);
}

static void expect_same_stats(const mvq_calib *a, const mvq_calib *b)
{
    cr_assert_eq(a->n_tokens, b->n_tokens);
    cr_expect_eq(a->tokens_hash, b->tokens_hash);
    for (int in = 0; in < MVQ_CALIB_INPUT_COUNT; in++) {
        const int64_t n = (in == MVQ_CALIB_OUTPUT_IN ? 1 : a->hp.n_layer) * a->dim[in];
        for (int64_t j = 0; j < n; j++) {
            expect_close(b->sum_sq[in][j], a->sum_sq[in][j], 1e-6, "sum_sq", j);
            expect_close(b->sum_abs[in][j], a->sum_abs[in][j], 1e-6, "sum_abs", j);
            cr_expect_eq(b->max_abs[in][j], a->max_abs[in][j]);
        }
    }
    for (int w = 0; w < 3; w++)
        for (int64_t j = 0; j < a->hp.n_layer * a->qkv_heads[w] * a->hp.head_dim; j++)
            expect_close(b->qkv_sq[w][j], a->qkv_sq[w][j], 1e-6, "qkv_sq", j);
}

Test(calib, save_and_load_round_trip)
{
    mvq_model *m = fixture_model("stories260K");
    mvq_calib *c = fixture_calibrated(m, 200, 128);
    mvq_error err;
    cr_expect_neq(c->tokens_hash, 0);
    char *dir = temp_dir("calib");
    char path[256];
    snprintf(path, sizeof path, "%s/stats.gguf", dir);
    cr_assert_eq(mvq_calib_save(c, path, NULL, 0x1234abcdull, &err), MVQ_OK, "%s", err.msg);
    uint64_t key = 0;
    mvq_calib *back = mvq_calib_load(path, &m->hp, &key, &err);
    cr_assert_not_null(back, "%s", err.msg);
    cr_expect_eq(key, 0x1234abcdull);
    expect_same_stats(c, back);
    /* a file of F32 tensors that any GGUF reader opens */
    mvq_gguf *g = mvq_gguf_open(path, &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_expect_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_OK, "%s", err.msg);
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, "stats.q.norm");
    cr_assert_not_null(t);
    cr_expect_eq(t->type, MVQ_TYPE_F32);
    cr_expect_eq(t->ne[0], m->hp.n_head * m->hp.head_dim);
    cr_expect_eq(t->ne[1], m->hp.n_layer);
    mvq_gguf_close(g);
    /* statistics of another model are refused, naming the file */
    mvq_model *other = fixture_model("tinyrope-3M");
    cr_expect_null(mvq_calib_load(path, &other->hp, NULL, &err));
    cr_expect(strstr(err.msg, "stats.gguf") != NULL, "%s", err.msg);
    cr_expect_null(mvq_calib_load("/nonexistent/stats.gguf", &m->hp, NULL, &err));
    mvq_model_free(other);
    mvq_calib_free(back);
    mvq_calib_free(c);
    remove_tree(dir);
    mvq_model_free(m);
}

static bool exists(const char *path)
{
    struct stat st;
    return path[0] && stat(path, &st) == 0;
}

Test(calib, cache_skips_a_second_run_with_the_same_inputs)
{
    mvq_model *m = fixture_model("stories260K");
    int64_t n;
    int32_t *tokens = fixture_calib_tokens(m, 200, &n);
    char *dir = temp_dir("cache");
    mvq_error err;
    mvq_calib_request r;
    mvq_calib_request_default(&r);
    r.tokens = tokens;
    r.n_tokens = n;
    r.n_ctx = 128;
    r.cache_dir = dir;
    mvq_calib_info info;
    mvq_calib *first = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(first, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    cr_expect_str_empty(info.note);
    cr_expect(exists(info.cache_path), "cache file %s", info.cache_path);
    cr_expect_eq(info.n_tokens, 200);
    const uint64_t key = info.key;

    mvq_calib *second = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(second, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_FROM_CACHE, "the second run calibrates again");
    cr_expect_eq(info.key, key);
    expect_same_stats(first, second);

    /* another setting or other tokens: another key */
    r.n_ctx = 64;
    mvq_calib *third = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(third, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    cr_expect_neq(info.key, key);
    r.n_ctx = 128;
    r.n_tokens = 199;
    mvq_calib_free(third);
    third = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    r.n_tokens = 200;

    /* --stats-out, and --stats reading it back without calibrating */
    char out[256];
    snprintf(out, sizeof out, "%s/out.stats.gguf", dir);
    r.stats_out = out;
    mvq_calib_free(third);
    third = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(third, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_FROM_CACHE);
    cr_expect(exists(out));
    mvq_calib_request again;
    mvq_calib_request_default(&again);
    again.stats_path = out;
    mvq_calib *loaded = mvq_calib_obtain(m, &again, NULL, &info, &err);
    cr_assert_not_null(loaded, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_FROM_STATS);
    expect_same_stats(first, loaded);

    /* no cache: computed, nothing written; an unusable cache is a note, not a failure */
    r.stats_out = NULL;
    r.no_cache = true;
    mvq_calib_free(third);
    third = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    cr_expect_str_empty(info.cache_path);
    r.no_cache = false;
    r.cache_dir = "/proc/mvq-no-such-cache";
    mvq_calib_free(third);
    third = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(third, "%s", err.msg);
    cr_expect_eq(info.origin, MVQ_CALIB_COMPUTED);
    cr_expect_str_not_empty(info.note);

    mvq_calib_free(loaded);
    mvq_calib_free(third);
    mvq_calib_free(second);
    mvq_calib_free(first);
    remove_tree(dir);
    free(tokens);
    mvq_model_free(m);
}

Test(calib, cache_folder_from_the_environment)
{
    char buf[1024];
    mvq_error err;
    setenv("MVQ_CACHE_DIR", "/tmp/own-cache", 1);
    cr_assert_eq(mvq_calib_cache_dir(buf, sizeof buf, &err), MVQ_OK);
    cr_expect_str_eq(buf, "/tmp/own-cache");
    unsetenv("MVQ_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    cr_assert_eq(mvq_calib_cache_dir(buf, sizeof buf, &err), MVQ_OK);
    cr_expect_str_eq(buf, "/tmp/xdg/mvquant");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/someone", 1);
    cr_assert_eq(mvq_calib_cache_dir(buf, sizeof buf, &err), MVQ_OK);
    cr_expect_str_eq(buf, "/home/someone/.cache/mvquant");
}
