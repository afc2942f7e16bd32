/* The job's layer-by-layer path, for a method with mvq_method.layerwise:
 * the calibration tokens go through the model one layer at a time with
 * the method's observer on; after each layer's observations its tensors
 * go through the pipeline (mvq_job_tensor) with the method's state, and
 * their bytes are kept for the writer in the spill file.  Sequential: the
 * layer's quantized matrices compute what the next layer sees, so they
 * stay in memory until the next layer is done. */
#include "config.h"
#include "quant/calib/calib_internal.h"
#include "quant/job_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct pass {
    const mvq_gguf *in;
    const mvq_plan *plan;
    const mvq_quantize_opts *o;
    const bool *rewrite;
    mvq_job_scratch *s;
    mvq_quantize_report *rep;
    mvq_job_layers *out;
    int64_t n_layer;
} pass;

static int64_t tensor_index(const mvq_gguf *in, const char *name)
{
    const mvq_gguf_tensor *t = name ? mvq_gguf_find_tensor(in, name) : NULL;
    for (int64_t i = 0; t && i < mvq_gguf_n_tensors(in); i++)
        if (mvq_gguf_tensor_at(in, i) == t)
            return i;
    return -1;
}

/* The previous layer's bytes, no longer read by the pass, into the spill file. */
static mvq_status spill_held(mvq_job_layers *l, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    for (int k = 0; k < MVQ_LINEAR_COUNT; k++) {
        if (!l->held[k])
            continue;
        const int64_t i = l->held_index[k];
        if (st == MVQ_OK)
            st = mvq_job_spill_put(&l->spill, l->held[k], l->size[i], &l->offset[i], err);
        free(l->held[k]);
        l->held[k] = NULL;
    }
    return st;
}

static mvq_status layer_done(void *user, int64_t layer, mvq_layer *L, mvq_error *err)
{
    pass *p = user;
    const mvq_quantize_opts *o = p->o;
    if (o->layer_progress)
        o->layer_progress(o->user, layer, p->n_layer);
    mvq_status st = spill_held(p->out, err);
    for (int k = 0; k < MVQ_LINEAR_COUNT && st == MVQ_OK; k++) {
        mvq_weight *w = &L->linear[k];
        const int64_t i = tensor_index(p->in, w->name);
        if (i < 0 || !p->rewrite[i])
            continue;
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(p->in, i);
        mvq_tensor_report *tr = &p->rep->tensors[i];
        if ((st = mvq_job_tensor(t, mvq_plan_tensor(p->plan, i), o, p->s, tr, err)) != MVQ_OK)
            return st;
        void *bytes = malloc(tr->bytes ? tr->bytes : 1);
        if (!bytes)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory keeping its %llu bytes", t->name.data,
                                 (unsigned long long)tr->bytes);
        memcpy(bytes, p->s->out, tr->bytes);
        p->out->held[k] = bytes;
        p->out->held_index[k] = i;
        p->out->size[i] = tr->bytes;
        p->out->done[i] = true;
        mvq_gguf_drop_pages(p->in, t->data, t->size);
        if (o->sequential) {
            w->data = bytes;
            w->type = tr->to;
        }
        if (o->progress)
            o->progress(o->user, tr, i, p->rep->n_tensors);
    }
    return st;
}

mvq_status mvq_job_layerwise(const mvq_gguf *in, const mvq_plan *plan, const mvq_quantize_opts *o,
                             const bool *rewrite, const char *dst, mvq_job_scratch *s, mvq_quantize_report *rep,
                             mvq_job_layers *out, mvq_error *err)
{
    const mvq_method *m = o->method ? o->method : mvq_method_default();
    memset(out, 0, sizeof *out);
    out->spill.fd = -1;
    if (!m->layerwise || !o->calib_tokens || o->n_calib_tokens <= 0)
        return MVQ_OK; /* the method finds no statistics: it says so per tensor */
    mvq_model *model = mvq_model_from_gguf(in, err);
    if (!model)
        return err ? err->status : MVQ_ERR_FORMAT;
    mvq_status st = MVQ_OK;
    out->method = m;
    const size_t n = (size_t)(rep->n_tensors ? rep->n_tensors : 1);
    out->n = rep->n_tensors;
    out->done = calloc(n, sizeof *out->done);
    out->offset = calloc(n, sizeof *out->offset);
    out->size = calloc(n, sizeof *out->size);
    if (!out->done || !out->offset || !out->size) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory for the layer-by-layer pass");
        goto done;
    }
    if ((st = mvq_job_spill_open(&out->spill, dst, err)) != MVQ_OK)
        goto done;
    if (!(out->state = m->layerwise->begin(model, o->method_opts, o->pool, err))) {
        st = err ? err->status : MVQ_ERR_NOMEM;
        goto done;
    }
    s->layer_state = out->state;
    pass p = {in, plan, o, rewrite, s, rep, out, model->hp.n_layer};
    const mvq_observer obs = {
        .taps = m->layerwise->taps, .kind = MVQ_OBSERVER_READ, .fn = m->layerwise->observe, .user = out->state,
    };
    const mvq_layerwise_opts lw = {
        .n_ctx = o->calib_ctx > 0 ? o->calib_ctx : mvq_calib_default_ctx(&model->hp),
        .bos = mvq_calib_model_bos(model), .observers = &obs, .n_observers = 1,
        .layer_done = layer_done, .user = &p, .sequential = o->sequential, .release = true,
    };
    st = mvq_forward_layerwise(model, o->calib_tokens, o->n_calib_tokens, &lw, o->pool, err);
    if (st == MVQ_OK)
        st = spill_held(out, err);
done:
    mvq_model_free(model);
    return st;
}

mvq_status mvq_job_layers_read(const mvq_job_layers *l, int64_t i, void *data, size_t size, mvq_error *err)
{
    return mvq_job_spill_get(&l->spill, l->offset[i], data, size, err);
}

void mvq_job_layers_free(mvq_job_layers *l)
{
    for (int k = 0; k < MVQ_LINEAR_COUNT; k++)
        free(l->held[k]);
    free(l->done);
    free(l->offset);
    free(l->size);
    mvq_job_spill_close(&l->spill);
    if (l->state)
        l->method->layerwise->end(l->state);
    memset(l, 0, sizeof *l);
    l->spill.fd = -1;
}
