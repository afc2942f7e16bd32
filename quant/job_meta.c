/* The job's metadata: the input's keys, then what mvquant adds. */
#include "config.h"
#include "quant/job_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool copied_key(const char *key)
{
    return strcmp(key, "general.file_type") != 0 && strcmp(key, "general.quantization_version") != 0 &&
           strcmp(key, "general.alignment") != 0 && strncmp(key, "mvquant.", 8) != 0 &&
           !mvq_gguf_is_split_key(key); /* the output's own, when split */
}

/* The size budget's plan: the size aimed at, and each tensor's estimated
 * loss (-1 for those the budget did not plan; the types are the tensors'). */
static mvq_status mvq_job_write_budget(mvq_gguf_writer *w, const mvq_gguf *in, const mvq_quantize_opts *o,
                                       mvq_error *err)
{
    int64_t n = mvq_gguf_n_tensors(in);
    float *loss = malloc(sizeof *loss * (size_t)(n ? n : 1));
    if (!loss)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory writing the budget's plan");
    for (int64_t i = 0; i < n; i++)
        loss[i] = o->budget_types[i] >= 0 && o->budget_loss ? (float)o->budget_loss[i] : -1.0f;
    mvq_status st = mvq_gguf_writer_add_u64(w, "mvquant.budget.bytes", o->budget_bytes, err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_arr(w, "mvquant.budget.est_loss", MVQ_GGUF_FLOAT32, loss, (uint64_t)n, err);
    free(loss);
    return st;
}

mvq_status mvq_job_write_metadata(mvq_gguf_writer *w, const mvq_gguf *in, const mvq_quantize_opts *o,
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
    if (st == MVQ_OK) st = mvq_gguf_writer_add_str(w, "mvquant.method", mvq_job_method(o)->name, err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_str(w, "mvquant.massive.mode", o->protect_massive ? "protect" : "ignore", err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_f32(w, "mvquant.massive.lambda", (float)o->massive.lambda, err);
    if (st == MVQ_OK) st = mvq_gguf_writer_add_u32(w, "mvquant.massive.topk", (uint32_t)o->massive.topk, err);
    if (o->calib) {
        if (st == MVQ_OK)
            st = mvq_gguf_writer_add_u64(w, "mvquant.calib.tokens", (uint64_t)mvq_calib_n_tokens(o->calib), err);
        if (st == MVQ_OK)
            st = mvq_gguf_writer_add_u64(w, "mvquant.calib.tokens_xxh3", mvq_calib_tokens_hash(o->calib), err);
    }
    if (st == MVQ_OK && o->budget_types)
        st = mvq_job_write_budget(w, in, o, err);
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
