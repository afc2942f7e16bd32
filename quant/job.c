/* The quantization job: plan, protect, then stream every tensor of the
 * input through the quantizer into the GGUF writer, one at a time. */
#include "config.h"
#include "quant/quant_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const method_names[MVQ_METHOD_COUNT] = { "rtn" };

const char *mvq_method_name(mvq_method m)
{
    return (unsigned)m < MVQ_METHOD_COUNT ? method_names[m] : "?";
}

int mvq_method_from_name(const char *name)
{
    for (int i = 0; i < MVQ_METHOD_COUNT; i++)
        if (strcmp(name, method_names[i]) == 0)
            return i;
    return -1;
}

void mvq_quantize_report_free(mvq_quantize_report *rep)
{
    if (rep) {
        free(rep->tensors);
        memset(rep, 0, sizeof *rep);
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool copied_key(const char *key)
{
    return strcmp(key, "general.file_type") != 0 && strcmp(key, "general.quantization_version") != 0 &&
           strcmp(key, "general.alignment") != 0 && strncmp(key, "mvquant.", 8) != 0;
}

static mvq_status write_metadata(mvq_gguf_writer *w, const mvq_gguf *in, const mvq_quantize_opts *o,
                                 const mvq_massive_map *mm, mvq_error *err)
{
    mvq_status st = mvq_gguf_writer_set_alignment(w, mvq_gguf_alignment(in), err);
    for (int64_t i = 0; st == MVQ_OK && i < mvq_gguf_n_kv(in); i++) {
        const mvq_gguf_kv *kv = mvq_gguf_kv_at(in, i);
        if (copied_key(kv->key.data) && !(o->kv_skip && o->kv_skip(o->user, kv->key.data)))
            st = mvq_gguf_writer_add_kv(w, kv, err);
    }
    if (st == MVQ_OK && o->kv_add)
        st = o->kv_add(o->user, w, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u32(w, "general.quantization_version", 2, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u32(w, "general.file_type", (uint32_t)o->plan.ftype, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_str(w, "mvquant.version", mvq_version(), err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_str(w, "mvquant.method", mvq_method_name(o->method), err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_str(w, "mvquant.massive.mode", o->protect_massive ? "protect" : "ignore", err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_f32(w, "mvquant.massive.lambda", (float)o->massive.lambda, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u32(w, "mvquant.massive.topk", (uint32_t)o->massive.topk, err);
    if (o->calib) {
        if (st == MVQ_OK)
            st = mvq_gguf_writer_add_u64(w, "mvquant.calib.tokens", (uint64_t)o->calib->n_tokens, err);
        if (st == MVQ_OK)
            st = mvq_gguf_writer_add_u64(w, "mvquant.calib.tokens_xxh3", o->calib->tokens_hash, err);
    }
    /* massive dimensions per layer: head * head_dim + d */
    int32_t *dims = mm->q ? malloc(sizeof *dims * (size_t)(mm->n_q > mm->n_k ? mm->n_q : mm->n_k)) : NULL;
    for (int64_t l = 0; dims && st == MVQ_OK && l < mm->n_layer; l++) {
        for (int which = 0; which < 2 && st == MVQ_OK; which++) {
            const uint8_t *mask = which ? mm->k + l * mm->n_k : mm->q + l * mm->n_q;
            int64_t n = which ? mm->n_k : mm->n_q, m = 0;
            for (int64_t d = 0; d < n; d++)
                if (mask[d])
                    dims[m++] = (int32_t)d;
            char key[96];
            snprintf(key, sizeof key, "mvquant.massive.blk.%lld.%s", (long long)l, which ? "k" : "q");
            st = mvq_gguf_writer_add_arr(w, key, MVQ_GGUF_INT32, dims, (uint64_t)m, err);
        }
    }
    free(dims);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_reserve_hashes(w, err);
    return st;
}

/* Raises attn_q/attn_k of layers with massive dimensions to the massive type. */
static void protect_plan(const mvq_gguf *in, const mvq_quantize_opts *o, const mvq_massive_map *mm,
                         mvq_tensor_plan *plan, mvq_quantize_report *rep)
{
    for (int64_t i = 0; i < mvq_gguf_n_tensors(in); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        long layer;
        char kind[16];
        if (!plan[i].quantize || sscanf(t->name.data, "blk.%ld.%15[a-z_].weight", &layer, kind) != 2 ||
            (strcmp(kind, "attn_q") != 0 && strcmp(kind, "attn_k") != 0) || layer < 0 ||
            layer >= mm->n_layer || mm->layer_count[layer] == 0)
            continue;
        size_t planned = mvq_row_size(plan[i].type, t->ne[0]), raised = mvq_row_size(o->massive_type, t->ne[0]);
        if (!raised || raised <= planned)
            continue;
        rep->protect_bytes += (raised - planned) * (uint64_t)t->ne[1];
        plan[i].type = o->massive_type;
        rep->tensors[i].is_protected = true;
    }
}

static mvq_status quantize_one(const mvq_gguf_tensor *t, const mvq_tensor_plan *tp, const mvq_quantize_opts *o,
                               const mvq_massive_map *mm, mvq_tensor_report *tr, void *buf, float *imp,
                               uint8_t *rows, mvq_error *err)
{
    int64_t n_in = t->ne[0], n_out = (int64_t)(tr->n_weights / (uint64_t)n_in);
    bool has_imp = o->calib && (!o->use_importance || o->use_importance(o->user, t->name.data)) &&
                   mvq_calib_importance(o->calib, t->name.data, imp, n_in);
    int careful = o->protect_massive && o->calib ? mvq_massive_rows(mm, &o->calib->hp, t->name.data, rows, n_out) : 0;
    mvq_tensor_job job = {
        .src = t->data, .src_type = (mvq_type)t->type, .dst_type = tp->type,
        .n_in = n_in, .n_out = n_out, .imatrix = has_imp ? imp : NULL,
        .careful = careful ? rows : NULL, .dst = buf,
    };
    mvq_status st = mvq_quantize_tensor(&job, o->pool, err);
    if (st != MVQ_OK)
        return mvq_error_set(err, st, "%s: %.400s", t->name.data, err ? err->msg : "");
    tr->rel_err = job.rel_err;
    tr->n_massive_rows = careful;
    tr->massive_rel_err = job.careful_rel_err;
    if (!careful && o->calib) {
        /* report the massive rows' error under --ignore-massive too */
        int n = mvq_massive_rows(mm, &o->calib->hp, t->name.data, rows, n_out);
        tr->n_massive_rows = n;
    }
    return MVQ_OK;
}

mvq_status mvq_quantize_file(const mvq_gguf *in, const char *out, const mvq_quantize_opts *o,
                             mvq_quantize_report *rep, mvq_error *err)
{
    double t0 = now_seconds();
    int64_t n = mvq_gguf_n_tensors(in);
    memset(rep, 0, sizeof *rep);
    rep->n_tensors = n;
    rep->tensors = calloc((size_t)(n ? n : 1), sizeof *rep->tensors);
    mvq_tensor_plan *plan = calloc((size_t)(n ? n : 1), sizeof *plan);
    mvq_massive_map mm = { 0 };
    mvq_gguf_writer *w = NULL;
    void *buf = NULL;
    float *imp = NULL;
    uint8_t *rows = NULL;
    mvq_status st = MVQ_OK;
    if (!rep->tensors || !plan) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning %s", out);
        goto done;
    }
    if ((st = mvq_plan_make(in, &o->plan, plan, err)) != MVQ_OK)
        goto done;
    if (o->calib && mvq_calib_has_norms(o->calib) &&
        (st = mvq_massive_map_build(&mm, o->calib, &o->massive, err)) != MVQ_OK)
        goto done;
    for (int64_t l = 0; l < mm.n_layer; l++)
        rep->n_layers_massive += mm.layer_count[l] > 0;
    for (int64_t i = 0; i < mm.n_layer * mm.n_q; i++)
        rep->n_massive_q += mm.q[i];
    for (int64_t i = 0; i < mm.n_layer * mm.n_k; i++)
        rep->n_massive_k += mm.k[i];
    if (o->protect_massive && mm.q)
        protect_plan(in, o, &mm, plan, rep);

    /* sizes, and the largest buffers one tensor needs */
    size_t most = 0;
    int64_t widest = 1, tallest = 1;
    const char *inputs[] = { mvq_gguf_path(in), NULL };
    if (!(w = mvq_gguf_writer_open(out, inputs, err))) {
        st = err ? err->status : MVQ_ERR_IO;
        goto done;
    }
    if ((st = write_metadata(w, in, o, &mm, err)) != MVQ_OK)
        goto done;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        mvq_tensor_report *tr = &rep->tensors[i];
        bool convert = plan[i].quantize && plan[i].type != (mvq_type)t->type;
        uint64_t rows_n = 1;
        for (uint32_t d = 1; d < t->n_dims; d++)
            rows_n *= (uint64_t)t->ne[d];
        tr->name = t->name.data;
        tr->from = (mvq_type)t->type;
        tr->to = convert ? plan[i].type : (mvq_type)t->type;
        tr->quantized = convert;
        tr->fallback = plan[i].fallback;
        tr->n_weights = rows_n * (uint64_t)t->ne[0];
        tr->bytes = convert ? mvq_row_size(tr->to, t->ne[0]) * rows_n : t->size;
        tr->massive_rel_err = -1;
        rep->n_weights += tr->n_weights;
        rep->bytes_in += t->size;
        rep->bytes_out += tr->bytes;
        if (convert && tr->bytes > most)
            most = tr->bytes;
        if (t->ne[0] > widest)
            widest = t->ne[0];
        if ((int64_t)rows_n > tallest)
            tallest = (int64_t)rows_n;
        st = mvq_gguf_writer_add_tensor(w, t->name.data, t->n_dims, t->ne, tr->to, tr->bytes, err);
    }
    buf = malloc(most ? most : 1);
    imp = malloc(sizeof *imp * (size_t)widest);
    rows = malloc((size_t)tallest);
    if (st == MVQ_OK && (!buf || !imp || !rows))
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory quantizing into %s", out);
    /* the input's pages stay resident once read (calibration read them all):
     * dropped here and after each tensor, memory stays at about one tensor */
    for (int64_t i = 0; i < n; i++)
        mvq_gguf_drop_pages(in, mvq_gguf_tensor_at(in, i)->data, mvq_gguf_tensor_at(in, i)->size);
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        mvq_tensor_report *tr = &rep->tensors[i];
        if (tr->quantized) {
            st = quantize_one(t, &plan[i], o, &mm, tr, buf, imp, rows, err);
            if (st == MVQ_OK)
                st = mvq_gguf_writer_write(w, buf, tr->bytes, err);
        } else {
            st = mvq_gguf_writer_write(w, t->data, t->size, err);
        }
        mvq_gguf_drop_pages(in, t->data, t->size);
        if (st == MVQ_OK && o->progress)
            o->progress(o->user, tr, i, n);
    }
    if (st == MVQ_OK) {
        st = mvq_gguf_writer_finish(w, err);
        w = NULL;
        struct stat sb;
        if (st == MVQ_OK && stat(out, &sb) == 0)
            rep->file_bytes = (uint64_t)sb.st_size;
    }
    rep->bpw = rep->n_weights ? 8.0 * (double)rep->bytes_out / (double)rep->n_weights : 0;
    rep->seconds = now_seconds() - t0;
done:
    if (w)
        mvq_gguf_writer_abort(w);
    free(buf);
    free(imp);
    free(rows);
    free(plan);
    mvq_massive_map_free(&mm);
    return st;
}
