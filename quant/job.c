/* The quantization job, a pipeline that knows no method: the plan decides
 * every tensor; each one the plan changes is rewritten (mvq_job_tensor),
 * every other copied byte for byte, one tensor at a time into the writer. */
#include "config.h"
#include "quant/job_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

static void count_massive(const mvq_massive_map *mm, mvq_quantize_report *rep)
{
    for (int64_t l = 0; l < mm->n_layer; l++)
        rep->n_layers_massive += mm->layer_count[l] > 0;
    for (int64_t i = 0; i < mm->n_layer * mm->n_q; i++)
        rep->n_massive_q += mm->q[i];
    for (int64_t i = 0; i < mm->n_layer * mm->n_k; i++)
        rep->n_massive_k += mm->k[i];
}

/* The report's line for tensor i, as planned; whether it is rewritten. */
static bool plan_report(const mvq_gguf_tensor *t, const mvq_tensor_plan *tp, mvq_tensor_report *tr)
{
    bool convert = tp->quantize && tp->type != (mvq_type)t->type;
    bool rewrite = convert || tp->scale_columns || tp->divide_out || tp->clip;
    uint64_t rows = 1;
    for (uint32_t d = 1; d < t->n_dims; d++)
        rows *= (uint64_t)t->ne[d];
    tr->name = t->name.data;
    tr->from = (mvq_type)t->type;
    tr->to = convert ? tp->type : (mvq_type)t->type;
    tr->quantized = convert;
    tr->fallback = tp->fallback;
    tr->is_protected = tp->is_protected;
    tr->n_weights = rows * (uint64_t)t->ne[0];
    tr->bytes = rewrite ? mvq_row_size(tr->to, t->ne[0]) * rows : t->size;
    tr->massive_rel_err = -1;
    tr->out_err[0] = tr->out_err[1] = -1;
    return rewrite;
}

/* The output part tensor i goes to. */
static int64_t part_of(const mvq_gguf *in, int64_t i, int64_t n_parts)
{
    return n_parts > 1 ? mvq_gguf_tensor_part(in, i) : 0;
}

static mvq_status scratch_alloc(mvq_job_scratch *s, uint64_t most_weights, size_t most_bytes, int64_t widest)
{
    s->rows = malloc(sizeof *s->rows * (size_t)(most_weights ? most_weights : 1));
    s->importance = malloc(sizeof *s->importance * (size_t)widest);
    s->out = malloc(most_bytes ? most_bytes : 1);
    return s->rows && s->importance && s->out ? MVQ_OK : MVQ_ERR_NOMEM;
}

static void scratch_free(mvq_job_scratch *s)
{
    free(s->rows);
    free(s->importance);
    free(s->out);
}

mvq_status mvq_quantize_file(const mvq_gguf *in, const char *out, const mvq_quantize_opts *o,
                             mvq_quantize_report *rep, mvq_error *err)
{
    double t0 = now_seconds();
    int64_t n = mvq_gguf_n_tensors(in);
    memset(rep, 0, sizeof *rep);
    rep->n_tensors = n;
    rep->tensors = calloc((size_t)(n ? n : 1), sizeof *rep->tensors);
    /* one output file, or with keep_split one part per part of the input
     * (named as parts even for an input of one file, as llama-quantize does) */
    const int64_t n_parts = o->keep_split ? mvq_gguf_n_parts(in) : 1;
    mvq_gguf_writer **w = calloc((size_t)n_parts, sizeof *w);
    const char **inputs = calloc((size_t)mvq_gguf_n_parts(in) + 1, sizeof *inputs);
    bool opened = false;
    mvq_job_scratch scratch = { 0 };
    bool *rewrite = calloc((size_t)(n ? n : 1), sizeof *rewrite);
    mvq_plan *plan = NULL;
    mvq_job_layers layers = {.spill.fd = -1};
    mvq_status st = MVQ_OK;
    if (!rep->tensors || !rewrite || !w || !inputs) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory planning %s", out);
        goto done;
    }
    if (!(plan = mvq_plan_build(in, o, err))) {
        st = err ? err->status : MVQ_ERR_NOMEM;
        goto done;
    }
    const mvq_massive_map *mm = mvq_plan_massive(plan);
    count_massive(mm, rep);
    rep->protect_bytes = mvq_plan_protect_bytes(plan);

    for (int64_t k = 0; k < mvq_gguf_n_parts(in); k++)
        inputs[k] = mvq_gguf_path(mvq_gguf_part(in, k));
    if ((st = mvq_gguf_writers_open(w, n_parts, out, o->keep_split, inputs, err)) != MVQ_OK)
        goto done;
    opened = true;
    st = mvq_job_write_metadata(w[0], in, o, mm, err);
    for (int64_t k = 1; k < n_parts && st == MVQ_OK; k++) {
        st = mvq_gguf_writer_set_alignment(w[k], mvq_gguf_alignment(in), err);
        if (st == MVQ_OK)
            st = mvq_gguf_writer_reserve_hashes(w[k], err);
    }
    if (st == MVQ_OK && n_parts > 1)
        st = mvq_gguf_writers_add_split_keys(w, n_parts, n, err);
    /* sizes, and the largest buffers one tensor needs */
    uint64_t most_weights = 0;
    size_t most_bytes = 0;
    int64_t widest = 1;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        mvq_tensor_report *tr = &rep->tensors[i];
        rewrite[i] = plan_report(t, mvq_plan_tensor(plan, i), tr);
        rep->n_weights += tr->n_weights;
        rep->bytes_in += t->size;
        rep->bytes_out += tr->bytes;
        if (rewrite[i] && tr->bytes > most_bytes)
            most_bytes = tr->bytes;
        if (rewrite[i] && tr->n_weights > most_weights)
            most_weights = tr->n_weights;
        if (t->ne[0] > widest)
            widest = t->ne[0];
        st = mvq_gguf_writer_add_tensor(w[part_of(in, i, n_parts)], t->name.data, t->n_dims, t->ne, tr->to, tr->bytes, err);
    }
    if (st == MVQ_OK && scratch_alloc(&scratch, most_weights, most_bytes, widest) != MVQ_OK)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory quantizing into %s", out);
    /* the input's pages stay resident once read (calibration read them all):
     * dropped here and after each tensor, memory stays at about one tensor */
    for (int64_t i = 0; i < n; i++)
        mvq_gguf_drop_pages(in, mvq_gguf_tensor_at(in, i)->data, mvq_gguf_tensor_at(in, i)->size);
    /* a method that quantizes layer by layer does its layers' tensors now */
    if (st == MVQ_OK)
        st = mvq_job_layerwise(in, plan, o, rewrite, out, &scratch, rep, &layers, err);
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        mvq_tensor_report *tr = &rep->tensors[i];
        if (layers.done && layers.done[i]) {
            st = mvq_job_layers_read(&layers, i, scratch.out, tr->bytes, err);
            if (st == MVQ_OK)
                st = mvq_gguf_writer_write(w[part_of(in, i, n_parts)], scratch.out, tr->bytes, err);
            continue; /* its progress was shown during the pass */
        }
        if (rewrite[i]) {
            st = mvq_job_tensor(t, mvq_plan_tensor(plan, i), o, &scratch, tr, err);
            if (st == MVQ_OK)
                st = mvq_gguf_writer_write(w[part_of(in, i, n_parts)], scratch.out, tr->bytes, err);
        } else {
            st = mvq_gguf_writer_write(w[part_of(in, i, n_parts)], t->data, t->size, err);
        }
        mvq_gguf_drop_pages(in, t->data, t->size);
        if (st == MVQ_OK && o->progress)
            o->progress(o->user, tr, i, n);
    }
    if (st == MVQ_OK) {
        st = mvq_gguf_writers_finish(w, n_parts, err);
        opened = false;
        rep->n_files = st == MVQ_OK ? n_parts : 0;
        for (int64_t k = 0; st == MVQ_OK && k < n_parts; k++) {
            char part[4096 + 64];
            struct stat sb;
            if (o->keep_split)
                mvq_gguf_split_path(part, sizeof part, out, k, n_parts);
            if (stat(o->keep_split ? part : out, &sb) == 0)
                rep->file_bytes += (uint64_t)sb.st_size;
        }
    }
    rep->bpw = rep->n_weights ? 8.0 * (double)rep->bytes_out / (double)rep->n_weights : 0;
    rep->seconds = now_seconds() - t0;
done:
    if (opened)
        mvq_gguf_writers_abort(w, n_parts);
    free(w);
    mvq_job_layers_free(&layers);
    free(inputs);
    scratch_free(&scratch);
    free(rewrite);
    mvq_plan_free(plan);
    return st;
}
