/* The whole plan: mvq_plan_make's types, then the method and its
 * transforms, then the protection rule, tensor by tensor, with the reason. */
#include "config.h"
#include "quant/plan_internal.h"
#include "quant/model/model_roles.h"

#include <stdlib.h>
#include <string.h>

struct mvq_plan {
    int64_t n;
    mvq_tensor_plan *tensors;
    uint8_t **rows; /* per tensor: massive-row flags, or NULL */
    mvq_massive_map massive;
    mvq_transform_list transforms;
    uint64_t protect_bytes;
};

const char *mvq_plan_reason_name(mvq_plan_reason r)
{
    static const char *const names[] = { "copy", "preset", "override", "fallback", "protection", "transform", "budget" };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

int64_t mvq_plan_n_tensors(const mvq_plan *p)
{
    return p->n;
}

const mvq_tensor_plan *mvq_plan_tensor(const mvq_plan *p, int64_t i)
{
    return i >= 0 && i < p->n ? &p->tensors[i] : NULL;
}

uint64_t mvq_plan_protect_bytes(const mvq_plan *p)
{
    return p->protect_bytes;
}

const mvq_massive_map *mvq_plan_massive(const mvq_plan *p)
{
    return &p->massive;
}

void mvq_plan_free(mvq_plan *p)
{
    if (!p)
        return;
    for (int64_t i = 0; p->rows && i < p->n; i++)
        free(p->rows[i]);
    free(p->rows);
    free(p->tensors);
    mvq_massive_map_free(&p->massive);
    mvq_transform_list_free(&p->transforms);
    free(p);
}

static int64_t rows_of(const mvq_gguf_tensor *t)
{
    int64_t n = 1;
    for (uint32_t d = 1; d < t->n_dims; d++)
        n *= t->ne[d];
    return n;
}

/* Protection, a rule of the plan: attn_q/attn_k of a layer with massive
 * dimensions go up to the massive type (when that is larger), and their
 * massive rows get the most careful quantization. */
static mvq_status protect(mvq_plan *p, const mvq_gguf *in, const struct mvq_quantize_opts *o, int64_t i,
                          const mvq_tensor_role *role, mvq_error *err)
{
    const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
    mvq_tensor_plan *tp = &p->tensors[i];
    const mvq_massive_map *mm = &p->massive;
    bool qk = role->role == MVQ_ROLE_LINEAR && (role->linear == MVQ_LINEAR_Q || role->linear == MVQ_LINEAR_K);
    if (!tp->quantize || !qk || !mm->q || role->layer >= mm->n_layer)
        return MVQ_OK;
    int64_t n_out = rows_of(t);
    if (o->protect_massive && !o->budget_types && mm->layer_count[role->layer] > 0) {
        size_t planned = mvq_row_size(tp->type, t->ne[0]), raised = mvq_row_size(o->massive_type, t->ne[0]);
        if (raised && raised > planned) {
            p->protect_bytes += (raised - planned) * (uint64_t)t->ne[1];
            tp->type = o->massive_type;
            tp->is_protected = true;
            tp->reason = MVQ_PLAN_PROTECTION;
        }
    }
    if (!(p->rows[i] = malloc((size_t)n_out)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning %s", t->name.data);
    tp->n_massive_rows = mvq_massive_rows(mm, mvq_calib_hparams(o->calib), role->layer, role->linear, p->rows[i], n_out);
    if (o->protect_massive && tp->n_massive_rows)
        tp->protected_rows = p->rows[i];
    return MVQ_OK;
}

/* A transform must land on both sides, or the model would change: the
 * columns of a linear, and the tensor producing its input (not there:
 * attn_v under grouped-query attention, an output tied to the embedding). */
static mvq_status check_transforms_land(const mvq_plan *p, const mvq_method *method, mvq_error *err)
{
    for (int64_t k = 0; k < p->transforms.n; k++) {
        const mvq_transform *t = &p->transforms.items[k];
        bool scaled = false, divided = false;
        for (int64_t i = 0; i < p->n; i++) {
            scaled |= p->tensors[i].scale_columns == t;
            divided |= p->tensors[i].divide_out == t;
        }
        if (!scaled || !divided)
            return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                                 "method %s: a transform of layer %lld (input %d) has no %s to fold into",
                                 method->name, (long long)t->layer, (int)t->input,
                                 scaled ? "tensor producing its input" : "linear reading it");
    }
    return MVQ_OK;
}

mvq_plan *mvq_plan_build(const mvq_gguf *in, const struct mvq_quantize_opts *o, mvq_error *err)
{
    mvq_plan *p = calloc(1, sizeof *p);
    int64_t n = mvq_gguf_n_tensors(in);
    if (p) {
        p->n = n;
        p->tensors = calloc((size_t)(n ? n : 1), sizeof *p->tensors);
        p->rows = calloc((size_t)(n ? n : 1), sizeof *p->rows);
    }
    if (!p || !p->tensors || !p->rows) {
        mvq_plan_free(p);
        mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning %s", mvq_gguf_path(in));
        return NULL;
    }
    const mvq_method *method = mvq_job_method(o);
    mvq_status st = mvq_plan_make(in, &o->plan, p->tensors, err);
    if (st == MVQ_OK && o->calib && mvq_calib_has_norms(o->calib))
        st = mvq_massive_map_build(&p->massive, o->calib, &o->massive, err);
    for (int64_t i = 0; st == MVQ_OK && i < n; i++) {
        mvq_tensor_plan *tp = &p->tensors[i];
        mvq_tensor_role role = mvq_tensor_role_of(mvq_gguf_tensor_at(in, i)->name.data);
        tp->reason = !tp->quantize ? MVQ_PLAN_COPY
                     : tp->fallback ? MVQ_PLAN_FALLBACK
                     : tp->overridden ? MVQ_PLAN_OVERRIDE : MVQ_PLAN_PRESET;
        tp->method = tp->quantize ? method : NULL;
        tp->est_loss = -1;
        if (tp->quantize && o->budget_types && o->budget_types[i] >= 0) {
            tp->type = (mvq_type)o->budget_types[i];
            tp->fallback = false;
            tp->reason = MVQ_PLAN_BUDGET;
            tp->est_loss = o->budget_loss ? o->budget_loss[i] : -1;
        }
        st = protect(p, in, o, i, &role, err);
    }
    /* the method prepares with the types protection chose (AWQ searches its
     * scales with the type each linear gets) */
    if (st == MVQ_OK && method->prepare && o->calib) {
        const mvq_method_context ctx = { .in = in, .calib = o->calib, .tensors = p->tensors, .n_tensors = n, .opts = o };
        st = method->prepare(&ctx, &p->transforms, err);
    }
    for (int64_t i = 0; st == MVQ_OK && i < n; i++) {
        mvq_tensor_role role = mvq_tensor_role_of(mvq_gguf_tensor_at(in, i)->name.data);
        st = mvq_plan_transforms(in, i, &role, &p->transforms, &p->tensors[i], err);
    }
    if (st == MVQ_OK)
        st = check_transforms_land(p, method, err);
    if (st != MVQ_OK) {
        mvq_plan_free(p);
        return NULL;
    }
    return p;
}
