/* Token text to id lookup for the tokenizer, and the growing id list. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "quant/model/tokenizer_internal.h"

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

mvq_status mvq_vocab_index_build(mvq_tokenizer *t, mvq_error *err)
{
    uint64_t cap = 16;
    while (cap < (uint64_t)t->n_vocab * 2)
        cap <<= 1;
    t->index.slots = malloc(cap * sizeof *t->index.slots);
    if (!t->index.slots)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "tokenizer: out of memory for a %lld-token index",
                             (long long)t->n_vocab);
    memset(t->index.slots, 0xff, cap * sizeof *t->index.slots);
    t->index.mask = cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = mvq_tok_text(t, id);
        size_t n = t->text_len[id];
        uint64_t i = fnv1a(s, n) & t->index.mask;
        for (;; i = (i + 1) & t->index.mask) {
            int32_t other = t->index.slots[i];
            if (other < 0) {
                t->index.slots[i] = id;
                break;
            }
            if (t->text_len[other] == n && memcmp(mvq_tok_text(t, other), s, n) == 0) {
                t->index.slots[i] = id; /* the later id wins */
                break;
            }
        }
    }
    return MVQ_OK;
}

void mvq_vocab_index_free(mvq_vocab_index *ix)
{
    free(ix->slots);
    ix->slots = NULL;
}

int32_t mvq_vocab_lookup(const mvq_tokenizer *t, const char *text, size_t len)
{
    for (uint64_t i = fnv1a(text, len) & t->index.mask;; i = (i + 1) & t->index.mask) {
        int32_t id = t->index.slots[i];
        if (id < 0)
            return -1;
        if (t->text_len[id] == len && memcmp(mvq_tok_text(t, id), text, len) == 0)
            return id;
    }
}

mvq_status mvq_tokvec_push(mvq_tokvec *v, int32_t id, mvq_error *err)
{
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *ids = realloc(v->ids, (size_t)cap * sizeof *ids);
        if (!ids)
            return mvq_error_set(err, MVQ_ERR_NOMEM, "tokenizer: out of memory for %lld tokens",
                                 (long long)cap);
        v->ids = ids;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return MVQ_OK;
}
