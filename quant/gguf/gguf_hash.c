/* XXH3-64 of tensor data, and the check of hashes the writer recorded. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <inttypes.h>
#include <string.h>
#include <xxhash.h>


/* In slices, dropping each from memory after use: verifying a model
 * larger than memory keeps little of it resident. */
#define HASH_SLICE (16u << 20)

static uint64_t hash_streaming(const mvq_gguf *g, const mvq_gguf_tensor *t, XXH3_state_t *state)
{
    if (!state || !g)
        return XXH3_64bits(t->data, (size_t)t->size);
    XXH3_64bits_reset(state);
    for (uint64_t off = 0; off < t->size; off += HASH_SLICE) {
        size_t len = t->size - off < HASH_SLICE ? (size_t)(t->size - off) : HASH_SLICE;
        const uint8_t *slice = (const uint8_t *)t->data + off;
        XXH3_64bits_update(state, slice, len);
        mvq_gguf_drop_pages(g, slice, len);
    }
    return XXH3_64bits_digest(state);
}

uint64_t mvq_gguf_tensor_hash(const mvq_gguf *g, const mvq_gguf_tensor *t)
{
    XXH3_state_t *state = g ? XXH3_createState() : NULL;
    uint64_t h = hash_streaming(g, t, state);
    XXH3_freeState(state);
    return h;
}

mvq_status mvq_gguf_verify_hashes(const mvq_gguf *g, int64_t *n_checked, mvq_gguf_hash_mismatch_fn on_mismatch,
                                  void *ctx, mvq_error *err)
{
    if (mvq_gguf_n_parts(g) > 1) { /* each part records its own tensors' hashes */
        int64_t total = 0;
        for (int64_t k = 0; k < mvq_gguf_n_parts(g); k++) {
            int64_t n_part = 0;
            mvq_status st = mvq_gguf_verify_hashes(mvq_gguf_part(g, k), &n_part, on_mismatch, ctx, err);
            total += n_part;
            if (n_checked)
                *n_checked = total;
            if (st != MVQ_OK)
                return st;
        }
        return MVQ_OK;
    }
    const char *path = mvq_gguf_path(g);
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, MVQ_GGUF_KEY_TENSOR_HASHES);
    int64_t n = mvq_gguf_n_tensors(g), bad = 0;
    const char *first_bad = NULL;
    if (n_checked)
        *n_checked = 0;
    if (!kv)
        return MVQ_OK;
    if (kv->type != MVQ_GGUF_ARRAY || kv->arr_type != MVQ_GGUF_UINT64 || kv->arr_n != (uint64_t)n)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s is not an array of %" PRId64 " uint64 (one per tensor)",
                             path, MVQ_GGUF_KEY_TENSOR_HASHES, n);
    XXH3_state_t *state = XXH3_createState(); /* NULL: hash in one go */
    for (int64_t i = 0; i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        uint64_t recorded, actual = hash_streaming(g, t, state);
        memcpy(&recorded, (const uint8_t *)kv->v.arr + 8 * i, 8); /* may be unaligned in the mapping */
        if (recorded != actual) {
            if (!bad++)
                first_bad = t->name.data;
            if (on_mismatch)
                on_mismatch(ctx, t, recorded, actual);
        }
    }
    XXH3_freeState(state);
    if (n_checked)
        *n_checked = n;
    if (bad) {
        char shown[80];
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %" PRId64 " of %" PRId64 " tensor hashes differ (first: '%s')",
                             path, bad, n, mvq_gguf_printable(first_bad, strlen(first_bad), shown, sizeof shown));
    }
    return MVQ_OK;
}
