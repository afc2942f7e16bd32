/* llama.cpp's loader rules, checked on an open file.  The reader already
 * refuses what would make reading unsafe (bounds, duplicates, misaligned
 * offsets, ne[0] against the block size of known types); this adds what
 * llama.cpp requires on top. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <inttypes.h>

mvq_status mvq_gguf_check_loader_rules(const mvq_gguf *g, mvq_error *err)
{
    if (mvq_gguf_n_parts(g) > 1) { /* each part is a file llama.cpp loads */
        for (int64_t k = 0; k < mvq_gguf_n_parts(g); k++) {
            mvq_status st = mvq_gguf_check_loader_rules(mvq_gguf_part(g, k), err);
            if (st != MVQ_OK)
                return st;
        }
        return MVQ_OK;
    }
    const char *path = mvq_gguf_path(g);
    uint64_t alignment = mvq_gguf_alignment(g), expect = 0;
    char shown[80];
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        const char *name = mvq_gguf_printable(t->name.data, t->name.len, shown, sizeof shown);
        if (t->name.len == 0 || t->name.len > MVQ_GGUF_MAX_NAME)
            return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tensor name '%s' has %" PRIu64 " bytes, llama.cpp allows 1 to %d",
                                 path, name, t->name.len, MVQ_GGUF_MAX_NAME);
        if (t->offset != expect)
            return mvq_error_set(err, MVQ_ERR_FORMAT,
                                 "%s: tensor '%s' is at offset %" PRIu64 ", llama.cpp expects %" PRIu64
                                 " (the running sum of padded sizes in file order)",
                                 path, name, t->offset, expect);
        uint64_t padded;
        if (!mvq_gguf_align_up(t->size, alignment, &padded) || __builtin_add_overflow(expect, padded, &expect))
            return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tensor sizes overflow", path);
        for (uint32_t d = t->n_dims; d < MVQ_GGUF_MAX_DIMS; d++)
            if (t->ne[d] != 1)
                return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tensor '%s': unused dimension %" PRIu32 " is not 1",
                                     path, name, d);
        const mvq_type_traits *tt = t->type < MVQ_TYPE_COUNT ? mvq_type_traits_get((mvq_type)t->type) : NULL;
        if (tt && tt->block_size > 0 && t->ne[0] % tt->block_size != 0)
            return mvq_error_set(err, MVQ_ERR_FORMAT,
                                 "%s: tensor '%s': ne[0] = %" PRId64 " is not a multiple of %s's block size %" PRId64,
                                 path, name, t->ne[0], tt->name, tt->block_size);
    }
    return MVQ_OK;
}
