/* The massive values of the fixture models as ../shared/README.md measures
 * them (256 calibration tokens, one window, Q and K after RoPE), and the
 * planted ones of a synthetic model found exactly. */
#include "tests/calib_testlib.h"

#include <math.h>
#include <string.h>

typedef struct layer_view {
    float M[3][1024];
    mvq_massive_head heads[3][16];
    uint8_t mask[3][1024];
    int n_head[3], n_massive[3];
} layer_view;

static void view_layer(const mvq_calib *c, int64_t l, const mvq_massive_params *p, layer_view *v)
{
    const mvq_hparams *hp = mvq_calib_hparams(c);
    for (int w = 0; w < 3; w++) {
        v->n_head[w] = (int)mvq_calib_heads(c, (mvq_calib_qkv)w);
        cr_assert_leq(v->n_head[w] * hp->head_dim, 1024);
        mvq_calib_norms(c, (mvq_calib_qkv)w, l, v->M[w]);
        v->n_massive[w] = mvq_massive_detect(v->M[w], v->n_head[w], (int)hp->head_dim, (int)hp->n_rot,
                                             hp->rope_freq_base, false, p, v->mask[w], v->heads[w]);
    }
}

/* argmax over d of sqrt(sum over heads of M[h][d]^2): where the layer as a whole peaks */
static int layer_peak(const layer_view *v, int w, int head_dim)
{
    int best = 0;
    double best_v = -1;
    for (int d = 0; d < head_dim; d++) {
        double s = 0;
        for (int h = 0; h < v->n_head[w]; h++)
            s += (double)v->M[w][h * head_dim + d] * v->M[w][h * head_dim + d];
        if (s > best_v) {
            best_v = s;
            best = d;
        }
    }
    return best;
}

static void log_layer(const char *model, int64_t l, const layer_view *v)
{
    char line[512];
    for (int w = 0; w < 3; w++) {
        int at = snprintf(line, sizeof line, "%s layer %lld %c:", model, (long long)l, "QKV"[w]);
        for (int h = 0; h < v->n_head[w] && at < (int)sizeof line - 24; h++)
            at += snprintf(line + at, sizeof line - (size_t)at, " d%d %.2fx", v->heads[w][h].top_dim,
                           v->heads[w][h].top_ratio);
        cr_log_info("%s", line);
    }
}

Test(massive_models, stories260K_qk_peak_in_the_lowest_frequency_pair)
{
    mvq_model *m = fixture_model("stories260K");
    mvq_calib *c = fixture_calibrated(m, 256, 256);
    const mvq_massive_params p = {5.0, 0};
    const int hd = (int)m->hp.head_dim;
    for (int64_t l = 0; l < m->hp.n_layer; l++) {
        layer_view v;
        view_layer(c, l, &p, &v);
        log_layer("stories260K", l, &v);
        for (int w = MVQ_CALIB_Q; w <= MVQ_CALIB_K; w++) {
            const int peak = layer_peak(&v, w, hd);
            cr_expect(peak == 6 || peak == 7, "layer %lld %c peaks at dim %d, not in pair 3", (long long)l, "QK"[w],
                      peak);
            int in_pair = 0;
            double most = 0;
            for (int h = 0; h < v.n_head[w]; h++) {
                const mvq_massive_head *x = &v.heads[w][h];
                most = fmax(most, x->top_ratio);
                if (x->top_dim >= 6) {
                    in_pair++;
                    cr_expect(x->top_ratio >= 1.9 && x->top_ratio <= 3.9, "layer %lld %c head %d: %.2fx",
                              (long long)l, "QK"[w], h, x->top_ratio);
                    cr_expect_gt(x->lowfreq_share, 0.6);
                }
            }
            cr_expect_geq(4 * in_pair, 3 * v.n_head[w], "layer %lld %c: %d of %d heads peak in pair 3",
                          (long long)l, "QK"[w], in_pair, v.n_head[w]);
            cr_expect(most >= 2.6 && most <= 3.9, "layer %lld %c: strongest head %.2fx", (long long)l, "QK"[w],
                      most);
            /* head size 8: two dims sharing the peak cannot reach 5x the mean */
            cr_expect_eq(v.n_massive[w], 0);
        }
        for (int h = 0; h < v.n_head[MVQ_CALIB_V]; h++)
            cr_expect(v.heads[MVQ_CALIB_V][h].top_ratio >= 1.0 && v.heads[MVQ_CALIB_V][h].top_ratio <= 1.55,
                      "layer %lld V head %d: %.2fx", (long long)l, h, v.heads[MVQ_CALIB_V][h].top_ratio);
    }
    mvq_calib_free(c);
    mvq_model_free(m);
}

Test(massive_models, tinyrope_qk_peak_at_dims_28_to_35)
{
    mvq_model *m = fixture_model("tinyrope-3M");
    mvq_calib *c = fixture_calibrated(m, 256, 256);
    const mvq_massive_params p = {5.0, 0};
    const int hd = (int)m->hp.head_dim;
    int heads = 0, heads_in_band = 0;
    for (int64_t l = 0; l < m->hp.n_layer; l++) {
        layer_view v;
        view_layer(c, l, &p, &v);
        log_layer("tinyrope-3M", l, &v);
        /* layer 1 is the quiet one */
        const double lo = l == 1 ? 1.35 : 2.1, hi = l == 1 ? 1.65 : 4.4;
        for (int w = MVQ_CALIB_Q; w <= MVQ_CALIB_K; w++) {
            const int peak = layer_peak(&v, w, hd);
            cr_expect(peak >= 28 && peak <= 35, "layer %lld %c peaks at dim %d", (long long)l, "QK"[w], peak);
            for (int h = 0; h < v.n_head[w]; h++) {
                const mvq_massive_head *x = &v.heads[w][h];
                cr_expect(x->top_ratio >= lo && x->top_ratio <= hi, "layer %lld %c head %d: %.2fx", (long long)l,
                          "QK"[w], h, x->top_ratio);
                heads++;
                heads_in_band += x->top_dim >= 28 && x->top_dim <= 35;
            }
        }
        for (int h = 0; h < v.n_head[MVQ_CALIB_V]; h++)
            cr_expect(v.heads[MVQ_CALIB_V][h].top_ratio >= 1.15 && v.heads[MVQ_CALIB_V][h].top_ratio <= 1.8,
                      "layer %lld V head %d: %.2fx", (long long)l, h, v.heads[MVQ_CALIB_V][h].top_ratio);
    }
    /* all but one head (layer 0's second K head peaks at dim 1, at 2.1x) */
    cr_expect_geq(heads_in_band, heads - 1, "%d of %d Q/K heads peak at dims 28-35", heads_in_band, heads);
    mvq_calib_free(c);
    mvq_model_free(m);
}

Test(massive_models, synth_planted_dims_found_exactly)
{
    char *dir = temp_dir("synth");
    char path[256];
    snprintf(path, sizeof path, "%s/synth.gguf", dir);
    mvq_synth_params sp;
    mvq_synth_default(&sp);
    mvq_error err;
    cr_assert_eq(mvq_synth_write(path, &sp, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_isa_init(&err), MVQ_OK);
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    /* the planted dims, as the file records them */
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(m->gguf, "mvquant.synth.massive_dims");
    cr_assert_not_null(kv);
    cr_assert_eq(kv->type, MVQ_GGUF_ARRAY);
    cr_assert_eq(kv->arr_type, MVQ_GGUF_INT32);
    cr_assert(kv->arr_n > 0 && kv->arr_n <= 16);
    int32_t planted[16];
    memcpy(planted, kv->v.arr, kv->arr_n * sizeof *planted);
    const int hd = (int)m->hp.head_dim;
    uint8_t want[1024] = {0};
    for (uint64_t i = 0; i < kv->arr_n; i++)
        want[planted[i]] = 1;

    /* calibrated on the model's own text, as without --calib */
    mvq_calib_request r;
    mvq_calib_request_default(&r);
    r.n_tokens = 256;
    r.n_ctx = 128;
    r.no_cache = true;
    mvq_calib_info info;
    mvq_calib *c = mvq_calib_obtain(m, &r, NULL, &info, &err);
    cr_assert_not_null(c, "%s", err.msg);
    const mvq_massive_params rules[2] = {{5.0, 0}, {5.0, (int)kv->arr_n}};
    for (int rule = 0; rule < 2; rule++)
        for (int64_t l = 0; l < m->hp.n_layer; l++) {
            layer_view v;
            view_layer(c, l, &rules[rule], &v);
            if (rule == 0)
                log_layer("synth", l, &v);
            for (int w = MVQ_CALIB_Q; w <= MVQ_CALIB_K; w++) {
                cr_expect_eq(v.n_massive[w], v.n_head[w] * (int)kv->arr_n);
                for (int h = 0; h < v.n_head[w]; h++)
                    for (int d = 0; d < hd; d++)
                        cr_expect_eq(v.mask[w][h * hd + d], want[d], "rule %d layer %lld %c head %d dim %d: %s",
                                     rule, (long long)l, "QK"[w], h, d, want[d] ? "missed" : "extra");
            }
            if (rule == 0)
                cr_expect_eq(v.n_massive[MVQ_CALIB_V], 0, "layer %lld: V has none", (long long)l);
        }
    mvq_calib_free(c);
    mvq_model_free(m);
    remove_tree(dir);
}
