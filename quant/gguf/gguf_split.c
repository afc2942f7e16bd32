/* Split sets as llama.cpp's gguf-split writes them: parts named
 * PREFIX-00001-of-0000N.gguf .. PREFIX-0000N-of-0000N.gguf, each a GGUF file
 * with split.no (its index from 0), split.count and split.tensors.count
 * (the set's tensors); the first part carries the model's metadata.
 * mvq_gguf_open opens a set through its first part, as llama.cpp's loader
 * does, and shows it as one file. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPLIT_SUFFIX_LEN 20 /* "-00001-of-00003.gguf" */

int mvq_gguf_split_path(char *buf, size_t size, const char *prefix, int64_t part, int64_t n_parts)
{
    /* sets have at most 65535 parts (split.count is a u16) */
    return snprintf(buf, size, "%s-%05u-of-%05u.gguf", prefix, (unsigned)(uint16_t)(part + 1),
                    (unsigned)(uint16_t)n_parts);
}

/* The prefix of a part's path, or false when the name is not that part's. */
static bool split_prefix(const char *path, int64_t part, int64_t n_parts, char *prefix, size_t size)
{
    char suffix[48];
    snprintf(suffix, sizeof suffix, "-%05" PRId64 "-of-%05" PRId64 ".gguf", part + 1, n_parts);
    size_t n = strlen(path), s = strlen(suffix);
    if (n <= s || strcmp(path + n - s, suffix) != 0 || n - s >= size)
        return false;
    memcpy(prefix, path, n - s);
    prefix[n - s] = '\0';
    return true;
}

/* split.no and split.count of one file; false when it is no part of a set. */
static bool split_keys(const mvq_gguf *g, uint64_t *no, uint64_t *count)
{
    *no = 0;
    *count = 1;
    if (!mvq_gguf_get_u64(g, MVQ_GGUF_KEY_SPLIT_COUNT, count) || *count <= 1)
        return false;
    if (!mvq_gguf_get_u64(g, MVQ_GGUF_KEY_SPLIT_NO, no))
        *no = UINT64_MAX;
    return true;
}

static mvq_gguf *fail(mvq_gguf *set, mvq_gguf **parts, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        mvq_gguf_close(parts[k]);
    if (set) {
        set->parts = NULL;
        set->n_parts = 0;
        mvq_gguf_close(set);
    } else {
        free(parts);
    }
    return NULL;
}

/* The set's own view: the first part's metadata, every part's tensors. */
static mvq_gguf *join(mvq_gguf **parts, int64_t n_parts, int64_t n_tensors, mvq_error *err)
{
    const mvq_gguf *first = parts[0];
    mvq_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(first->path)) || !(g->arena = mvq_arena_new()) ||
        !(g->kvs = calloc((size_t)first->n_kv + 1, sizeof *g->kvs)) ||
        !(g->tensors = calloc((size_t)n_tensors + 1, sizeof *g->tensors)) ||
        !(g->tensor_part = calloc((size_t)n_tensors + 1, sizeof *g->tensor_part))) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", first->path);
        return fail(g, parts, n_parts);
    }
    g->parts = parts;
    g->n_parts = n_parts;
    g->version = first->version;
    g->alignment = first->alignment;
    g->data_offset = first->data_offset;
    g->size = first->size;
    g->n_kv = first->n_kv;
    memcpy(g->kvs, first->kvs, sizeof *g->kvs * (size_t)first->n_kv);
    for (int64_t i = 0; i < g->n_kv; i++)
        if (mvq_strset_insert(&g->keys, g->kvs[i].key.data, g->kvs[i].key.len) < 0) {
            mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", first->path);
            mvq_gguf_close(g);
            return NULL;
        }
    char shown[80];
    for (int64_t k = 0; k < n_parts; k++)
        for (int64_t i = 0; i < parts[k]->n_tensors; i++) {
            const mvq_gguf_tensor *t = &parts[k]->tensors[i];
            int ins = mvq_strset_insert(&g->names, t->name.data, t->name.len);
            if (ins <= 0) {
                if (ins < 0)
                    mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", first->path);
                else
                    mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tensor '%s' is in more than one part of the split model",
                                  parts[k]->path, mvq_gguf_printable(t->name.data, t->name.len, shown, sizeof shown));
                mvq_gguf_close(g);
                return NULL;
            }
            g->tensor_part[g->n_tensors] = (uint16_t)k;
            g->tensors[g->n_tensors++] = *t;
        }
    return g;
}

mvq_gguf *mvq_gguf_open(const char *path, mvq_error *err)
{
    mvq_gguf *first = mvq_gguf_open_file(path, err);
    uint64_t no, count;
    if (!first || !split_keys(first, &no, &count))
        return first;
    char prefix[4096];
    if (no != 0) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: this is part %" PRIu64 " of a split model of %" PRIu64
                      " files: open the first part (split.no 0)", path, no + 1, count);
        mvq_gguf_close(first);
        return NULL;
    }
    if (count > UINT16_MAX || !split_prefix(path, 0, (int64_t)count, prefix, sizeof prefix)) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: the first part of a split model of %" PRIu64
                      " files must be named PREFIX-00001-of-%05" PRIu64 ".gguf", path, count, count);
        mvq_gguf_close(first);
        return NULL;
    }
    mvq_gguf **parts = calloc((size_t)count, sizeof *parts);
    if (!parts) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
        mvq_gguf_close(first);
        return NULL;
    }
    parts[0] = first;
    int64_t n_tensors = first->n_tensors;
    for (int64_t k = 1; k < (int64_t)count; k++) {
        char part_path[4096 + 64];
        mvq_gguf_split_path(part_path, sizeof part_path, prefix, k, (int64_t)count);
        if (!(parts[k] = mvq_gguf_open_file(part_path, err)))
            return fail(NULL, parts, k);
        uint64_t k_no, k_count;
        if (!split_keys(parts[k], &k_no, &k_count) || k_no != (uint64_t)k || k_count != count) {
            mvq_error_set(err, MVQ_ERR_FORMAT, "%s: expected part %" PRId64 " of %" PRIu64
                          " of %s's split model (split.no %" PRId64 ", split.count %" PRIu64 ")",
                          part_path, k + 1, count, path, k, count);
            return fail(NULL, parts, k + 1);
        }
        n_tensors += parts[k]->n_tensors;
    }
    int64_t expect;
    if (mvq_gguf_get_i64(first, MVQ_GGUF_KEY_SPLIT_TENSORS, &expect) && expect != n_tensors) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s is %" PRId64 ", but the %" PRIu64 " parts hold %" PRId64
                      " tensors", path, MVQ_GGUF_KEY_SPLIT_TENSORS, expect, count, n_tensors);
        return fail(NULL, parts, (int64_t)count);
    }
    return join(parts, (int64_t)count, n_tensors, err);
}

int64_t mvq_gguf_n_parts(const mvq_gguf *g)
{
    return g->n_parts > 0 ? g->n_parts : 1;
}

const mvq_gguf *mvq_gguf_part(const mvq_gguf *g, int64_t k)
{
    if (g->n_parts == 0)
        return k == 0 ? g : NULL;
    return k >= 0 && k < g->n_parts ? g->parts[k] : NULL;
}

int64_t mvq_gguf_tensor_part(const mvq_gguf *g, int64_t i)
{
    return g->tensor_part && i >= 0 && i < g->n_tensors ? g->tensor_part[i] : 0;
}

bool mvq_gguf_is_split_key(const char *key)
{
    return strcmp(key, MVQ_GGUF_KEY_SPLIT_NO) == 0 || strcmp(key, MVQ_GGUF_KEY_SPLIT_COUNT) == 0 ||
           strcmp(key, MVQ_GGUF_KEY_SPLIT_TENSORS) == 0;
}

/* ---- writing a set ---- */

mvq_status mvq_gguf_writers_open(mvq_gguf_writer **w, int64_t n_parts, const char *dst, bool as_parts,
                                 const char *const *inputs, mvq_error *err)
{
    for (int64_t k = 0; k < n_parts; k++)
        w[k] = NULL;
    if (n_parts < 1 || n_parts > UINT16_MAX || (n_parts > 1 && !as_parts))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: cannot split into %" PRId64 " parts", dst, n_parts);
    for (int64_t k = 0; k < n_parts; k++) {
        char path[4096 + 64];
        if (as_parts && mvq_gguf_split_path(path, sizeof path, dst, k, n_parts) >= (int)sizeof path) {
            mvq_gguf_writers_abort(w, k);
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: output name too long", dst);
        }
        if (!(w[k] = mvq_gguf_writer_open(as_parts ? path : dst, inputs, err))) {
            mvq_gguf_writers_abort(w, k);
            return err ? err->status : MVQ_ERR_IO;
        }
    }
    return MVQ_OK;
}

static mvq_status add_int(mvq_gguf_writer *w, const char *key, mvq_gguf_vtype type, int64_t v, mvq_error *err)
{
    mvq_gguf_kv kv = { .key = { strlen(key), key }, .type = type };
    if (type == MVQ_GGUF_INT32)
        kv.v.i64 = v;
    else
        kv.v.u64 = (uint64_t)v;
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

mvq_status mvq_gguf_writers_add_split_keys(mvq_gguf_writer **w, int64_t n_parts, int64_t n_tensors, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    /* llama.cpp reads these with their exact types: u16, u16, i32 */
    for (int64_t k = 0; k < n_parts && st == MVQ_OK; k++) {
        st = add_int(w[k], MVQ_GGUF_KEY_SPLIT_NO, MVQ_GGUF_UINT16, k, err);
        if (st == MVQ_OK)
            st = add_int(w[k], MVQ_GGUF_KEY_SPLIT_COUNT, MVQ_GGUF_UINT16, n_parts, err);
        if (st == MVQ_OK)
            st = add_int(w[k], MVQ_GGUF_KEY_SPLIT_TENSORS, MVQ_GGUF_INT32, n_tensors, err);
    }
    return st;
}

mvq_status mvq_gguf_writers_finish(mvq_gguf_writer **w, int64_t n_parts, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    for (int64_t k = 0; k < n_parts; k++) {
        if (st == MVQ_OK)
            st = mvq_gguf_writer_finish(w[k], err);
        else
            mvq_gguf_writer_abort(w[k]);
        w[k] = NULL;
    }
    return st;
}

void mvq_gguf_writers_abort(mvq_gguf_writer **w, int64_t n_parts)
{
    for (int64_t k = 0; k < n_parts; k++) {
        if (w[k])
            mvq_gguf_writer_abort(w[k]);
        w[k] = NULL;
    }
}
