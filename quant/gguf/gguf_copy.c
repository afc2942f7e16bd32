/* Whole-file copy through the streaming writer (mvquant copy, tests): one
 * file to one file, a split set merged into one file, or a file split into
 * a set as llama.cpp's gguf-split does. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

/* Data goes out in slices so progress moves on large tensors. */
#define COPY_SLICE (16u << 20)

/* max_tensors <= 0: one output file; else parts of that many tensors. */
static int64_t part_of(int64_t i, int64_t max_tensors)
{
    return max_tensors > 0 ? i / max_tensors : 0;
}

static mvq_status copy_tensors(const mvq_gguf *g, mvq_gguf_writer **w, int64_t max_tensors,
                               mvq_progress_fn progress, void *ctx, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    int64_t n = mvq_gguf_n_tensors(g);
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        total += t->size;
        st = mvq_gguf_writer_add_tensor(w[part_of(i, max_tensors)], t->name.data, t->n_dims, t->ne, t->type, t->size,
                                        err);
    }
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        mvq_gguf_writer *wi = w[part_of(i, max_tensors)];
        for (uint64_t off = 0; off < t->size && st == MVQ_OK; off += COPY_SLICE) {
            size_t len = t->size - off < COPY_SLICE ? (size_t)(t->size - off) : COPY_SLICE;
            const uint8_t *slice = (const uint8_t *)t->data + off;
            st = mvq_gguf_writer_write(wi, slice, len, err);
            mvq_gguf_drop_pages(g, slice, len); /* keeps resident memory to about one slice */
            done += len;
            if (progress)
                progress(ctx, done, total);
        }
    }
    return st;
}

/* The metadata of the first output part, or of every other one.  Recorded
 * hashes are carried only from one file to one file: they list one file's
 * tensors. */
static mvq_status copy_metadata(const mvq_gguf *g, mvq_gguf_writer *w, bool first, bool hashes, bool same_parts,
                                mvq_error *err)
{
    static const char *const split_keys[] = { MVQ_GGUF_KEY_SPLIT_NO, MVQ_GGUF_KEY_SPLIT_COUNT,
                                              MVQ_GGUF_KEY_SPLIT_TENSORS, NULL, NULL };
    const char *skip[sizeof split_keys / sizeof split_keys[0]];
    memcpy(skip, split_keys, sizeof skip);
    if (!same_parts)
        skip[3] = MVQ_GGUF_KEY_TENSOR_HASHES;
    mvq_status st = hashes ? mvq_gguf_writer_reserve_hashes(w, err) : MVQ_OK;
    if (st == MVQ_OK)
        st = mvq_gguf_writer_set_alignment(w, mvq_gguf_alignment(g), err);
    if (st == MVQ_OK && first)
        st = mvq_gguf_writer_add_kvs_from(w, g, skip, err);
    return st;
}

static mvq_status copy_split(const char *src, const char *dst, int64_t max_tensors, bool hashes,
                             mvq_progress_fn progress, void *ctx, mvq_error *err)
{
    mvq_gguf *g = mvq_gguf_open(src, err);
    if (!g)
        return err ? err->status : MVQ_ERR_IO;
    int64_t n = mvq_gguf_n_tensors(g), n_parts = max_tensors > 0 && n > 0 ? (n + max_tensors - 1) / max_tensors : 1;
    const char **inputs = calloc((size_t)mvq_gguf_n_parts(g) + 1, sizeof *inputs);
    mvq_gguf_writer **w = calloc((size_t)n_parts, sizeof *w);
    mvq_status st = inputs && w ? MVQ_OK : mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
    for (int64_t k = 0; st == MVQ_OK && k < mvq_gguf_n_parts(g); k++)
        inputs[k] = mvq_gguf_path(mvq_gguf_part(g, k));
    if (st == MVQ_OK) /* a set of one part is still named as a part */
        st = mvq_gguf_writers_open(w, n_parts, dst, max_tensors > 0, inputs, err);
    for (int64_t k = 0; st == MVQ_OK && k < n_parts; k++)
        st = copy_metadata(g, w[k], k == 0, hashes, n_parts == 1 && max_tensors <= 0 && mvq_gguf_n_parts(g) == 1, err);
    if (st == MVQ_OK && max_tensors > 0)
        st = mvq_gguf_writers_add_split_keys(w, n_parts, n, err);
    if (st == MVQ_OK)
        st = copy_tensors(g, w, n_parts > 1 ? max_tensors : 0, progress, ctx, err);
    if (st == MVQ_OK)
        st = mvq_gguf_writers_finish(w, n_parts, err);
    else if (w)
        mvq_gguf_writers_abort(w, n_parts);
    free(w);
    free(inputs);
    mvq_gguf_close(g);
    return st;
}

mvq_status mvq_gguf_copy(const char *src, const char *dst, bool hashes, mvq_progress_fn progress, void *ctx,
                         mvq_error *err)
{
    return copy_split(src, dst, 0, hashes, progress, ctx, err);
}

mvq_status mvq_gguf_split_copy(const char *src, const char *prefix, int64_t max_tensors, bool hashes,
                               mvq_progress_fn progress, void *ctx, mvq_error *err)
{
    if (max_tensors < 1)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: at least one tensor per part", prefix);
    return copy_split(src, prefix, max_tensors, hashes, progress, ctx, err);
}
