/* Calibration statistics on disk: a GGUF file of F32 tensors, so that any
 * GGUF tool can read them.  Means are stored (sum / tokens), with the token
 * count, so that loading restores the sums. */
#include "config.h"
#include "quant/calib/calib_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const input_names[MVQ_CALIB_INPUT_COUNT] = {
    "attn_in", "attn_out", "ffn_in", "ffn_down_in", "output_in"
};
static const char *const qkv_names[3] = { "q", "k", "v" };
enum { STAT_MEAN_SQ, STAT_MEAN_ABS, STAT_MAX_ABS, STAT_COUNT };
static const char *const stat_names[STAT_COUNT] = { "mean_sq", "mean_abs", "max_abs" };

/* Visits every tensor of the file: fn gets its name, shape and a buffer of
 * n floats to fill (save) or read (load). */
typedef mvq_status (*visit_fn)(void *ctx, const char *name, int64_t ne0, int64_t ne1, float *buf, mvq_error *err);

static void input_values(mvq_calib *c, int in, int stat, float *buf, bool to_buf)
{
    int64_t n = mvq_calib_input_layers(c, in) * c->dim[in];
    double tokens = c->n_tokens > 0 ? (double)c->n_tokens : 1.0;
    for (int64_t j = 0; j < n; j++) {
        if (stat == STAT_MAX_ABS) {
            if (to_buf) buf[j] = c->max_abs[in][j];
            else c->max_abs[in][j] = buf[j];
        } else {
            double *sum = stat == STAT_MEAN_SQ ? c->sum_sq[in] : c->sum_abs[in];
            if (to_buf) buf[j] = (float)(sum[j] / tokens);
            else sum[j] = (double)buf[j] * tokens;
        }
    }
}

static void qkv_values(mvq_calib *c, int w, float *buf, bool to_buf)
{
    int64_t n = c->hp.n_layer * c->qkv_heads[w] * c->hp.head_dim;
    for (int64_t j = 0; j < n; j++) {
        if (to_buf) buf[j] = (float)sqrt(c->qkv_sq[w][j]);
        else c->qkv_sq[w][j] = (double)buf[j] * buf[j];
    }
}

static mvq_status visit(mvq_calib *c, bool to_buf, visit_fn fn, void *ctx, mvq_error *err)
{
    size_t most = 0;
    for (int in = 0; in < MVQ_CALIB_INPUT_COUNT; in++)
        if ((size_t)(mvq_calib_input_layers(c, in) * c->dim[in]) > most) most = (size_t)(mvq_calib_input_layers(c, in) * c->dim[in]);
    for (int w = 0; w < 3; w++)
        if ((size_t)(c->hp.n_layer * c->qkv_heads[w] * c->hp.head_dim) > most)
            most = (size_t)(c->hp.n_layer * c->qkv_heads[w] * c->hp.head_dim);
    float *buf = malloc(most * sizeof *buf + 1);
    if (!buf)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory for calibration statistics");
    mvq_status st = MVQ_OK;
    char name[64];
    for (int in = 0; in < MVQ_CALIB_INPUT_COUNT && st == MVQ_OK; in++)
        for (int s = 0; s < STAT_COUNT && st == MVQ_OK; s++) {
            snprintf(name, sizeof name, "stats.%s.%s", input_names[in], stat_names[s]);
            if (to_buf) input_values(c, in, s, buf, true);
            st = fn(ctx, name, c->dim[in], mvq_calib_input_layers(c, in), buf, err);
            if (!to_buf && st == MVQ_OK) input_values(c, in, s, buf, false);
        }
    for (int w = 0; w < 3 && st == MVQ_OK; w++) {
        snprintf(name, sizeof name, "stats.%s.norm", qkv_names[w]);
        if (to_buf) qkv_values(c, w, buf, true);
        st = fn(ctx, name, c->qkv_heads[w] * c->hp.head_dim, c->hp.n_layer, buf, err);
        if (!to_buf && st == MVQ_OK) qkv_values(c, w, buf, false);
    }
    free(buf);
    return st;
}

static mvq_status declare(void *ctx, const char *name, int64_t ne0, int64_t ne1, float *buf, mvq_error *err)
{
    int64_t ne[2] = { ne0, ne1 };
    return mvq_gguf_writer_add_tensor(ctx, name, 2, ne, MVQ_TYPE_F32, (uint64_t)(ne0 * ne1) * 4, err);
}

static mvq_status emit(void *ctx, const char *name, int64_t ne0, int64_t ne1, float *buf, mvq_error *err)
{
    return mvq_gguf_writer_write(ctx, buf, (size_t)(ne0 * ne1) * 4, err);
}

mvq_status mvq_calib_save(const mvq_calib *cc, const char *path, const char *const *inputs, uint64_t key,
                          mvq_error *err)
{
    mvq_calib *c = (mvq_calib *)cc; /* visit() only reads when to_buf */
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, inputs, err);
    if (!w)
        return err ? err->status : MVQ_ERR_IO;
    mvq_status st = mvq_gguf_writer_add_str(w, "general.type", "mvquant-stats", err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u64(w, "mvquant.stats.tokens", (uint64_t)c->n_tokens, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u64(w, "mvquant.stats.tokens_xxh3", c->tokens_hash, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u64(w, "mvquant.stats.key", key, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u64(w, "mvquant.stats.n_layer", (uint64_t)c->hp.n_layer, err);
    if (st == MVQ_OK) st = visit(c, true, declare, w, err);
    if (st == MVQ_OK) st = visit(c, true, emit, w, err);
    if (st != MVQ_OK) {
        mvq_gguf_writer_abort(w);
        return st;
    }
    return mvq_gguf_writer_finish(w, err);
}

static mvq_status load_one(void *ctx, const char *name, int64_t ne0, int64_t ne1, float *buf, mvq_error *err)
{
    const mvq_gguf *g = ctx;
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, name);
    if (!t || t->type != MVQ_TYPE_F32 || t->ne[0] != ne0 || t->ne[1] != ne1)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: statistics tensor %s missing or not F32 [%lld, %lld] "
                             "(made for another model?)", mvq_gguf_path(g), name, (long long)ne0, (long long)ne1);
    memcpy(buf, t->data, (size_t)(ne0 * ne1) * 4);
    return MVQ_OK;
}

mvq_calib *mvq_calib_load(const char *path, const mvq_hparams *hp, uint64_t *key, mvq_error *err)
{
    mvq_gguf *g = mvq_gguf_open(path, err);
    if (!g)
        return NULL;
    uint64_t tokens = 0, k = 0, hash = 0;
    mvq_calib *c = NULL;
    if (!mvq_gguf_get_u64(g, "mvquant.stats.tokens", &tokens)) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: not an mvquant statistics file (no mvquant.stats.tokens)", path);
        goto out;
    }
    mvq_gguf_get_u64(g, "mvquant.stats.key", &k);
    mvq_gguf_get_u64(g, "mvquant.stats.tokens_xxh3", &hash);
    c = mvq_calib_new(hp, err);
    if (!c)
        goto out;
    c->n_tokens = (int64_t)tokens;
    c->tokens_hash = hash;
    if (visit(c, false, load_one, g, err) != MVQ_OK) {
        mvq_calib_free(c);
        c = NULL;
        goto out;
    }
    if (key)
        *key = k;
out:
    mvq_gguf_close(g);
    return c;
}
