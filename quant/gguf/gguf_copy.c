/* Whole-file copy through the streaming writer (mvquant copy, tests). */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

/* Data goes out in slices so progress moves on large tensors. */
#define COPY_SLICE (16u << 20)

static mvq_status copy_tensors(const mvq_gguf *g, mvq_gguf_writer *w, mvq_progress_fn progress, void *ctx,
                               mvq_error *err)
{
    mvq_status st = MVQ_OK;
    int64_t n = mvq_gguf_n_tensors(g);
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        total += t->size;
        st = mvq_gguf_writer_add_tensor(w, t->name.data, t->n_dims, t->ne, t->type, t->size, err);
    }
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        for (uint64_t off = 0; off < t->size && st == MVQ_OK; off += COPY_SLICE) {
            size_t len = t->size - off < COPY_SLICE ? (size_t)(t->size - off) : COPY_SLICE;
            const uint8_t *slice = (const uint8_t *)t->data + off;
            st = mvq_gguf_writer_write(w, slice, len, err);
            mvq_gguf_drop_pages(g, slice, len); /* keeps resident memory to about one slice */
            done += len;
            if (progress)
                progress(ctx, done, total);
        }
    }
    return st;
}

mvq_status mvq_gguf_copy(const char *src, const char *dst, bool hashes, mvq_progress_fn progress, void *ctx,
                         mvq_error *err)
{
    mvq_gguf *g = mvq_gguf_open(src, err);
    if (!g)
        return err ? err->status : MVQ_ERR_IO;
    const char *inputs[] = {src, NULL};
    mvq_gguf_writer *w = mvq_gguf_writer_open(dst, inputs, err);
    mvq_status st = w ? MVQ_OK : (err ? err->status : MVQ_ERR_IO);
    if (st == MVQ_OK && hashes)
        st = mvq_gguf_writer_reserve_hashes(w, err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_set_alignment(w, mvq_gguf_alignment(g), err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_kvs_from(w, g, NULL, err);
    if (st == MVQ_OK)
        st = copy_tensors(g, w, progress, ctx, err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_finish(w, err);
    else
        mvq_gguf_writer_abort(w);
    mvq_gguf_close(g);
    return st;
}
