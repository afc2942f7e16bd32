/* SentencePiece-style merging, as llama.cpp's llm_tokenizer_spm does it:
 * UTF-8 characters become symbols in a linked list; every adjacent pair
 * whose text is a token goes into a max-heap keyed by that token's score
 * (leftmost first on ties); popping merges the pair when both halves are
 * still as they were, and queues the new neighbours.  Symbols that are not
 * tokens at the end fall back to byte tokens.
 *
 * (llama.cpp also keeps a reverse map to split such symbols back along
 * their merges, but a merged symbol is always a token, so only unmerged
 * characters ever fall back, and they fall back to bytes.) */
#include "config.h"

#include <stdlib.h>

#include "quant/model/tokenizer_internal.h"

typedef struct spm_symbol {
    int32_t prev, next;
    uint32_t start, n; /* bytes of text; n == 0 once merged away */
} spm_symbol;

typedef struct spm_bigram {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_bigram;

typedef struct spm_heap {
    spm_bigram *items;
    size_t n, cap;
} spm_heap;

/* a pops before b */
static bool bigram_before(const spm_bigram *a, const spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static bool heap_push(spm_heap *h, spm_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        spm_bigram *items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return false;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(&b, &h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = b;
    return true;
}

static spm_bigram heap_pop(spm_heap *h)
{
    spm_bigram top = h->items[0];
    spm_bigram last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && bigram_before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!bigram_before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n > 0)
        h->items[i] = last;
    return top;
}

static size_t utf8_len(unsigned char c)
{
    static const uint8_t by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return by_high_nibble[c >> 4];
}

typedef struct spm_session {
    const mvq_tokenizer *t;
    const char *text;
    spm_symbol *sym;
    spm_heap heap;
} spm_session;

static bool try_add_bigram(spm_session *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return true;
    uint32_t size = s->sym[left].n + s->sym[right].n;
    int32_t id = mvq_vocab_lookup(s->t, s->text + s->sym[left].start, size);
    if (id < 0)
        return true;
    spm_bigram b = {s->t->scores[id], left, right, size};
    return heap_push(&s->heap, b);
}

static mvq_status emit_symbol(const spm_session *s, const spm_symbol *sym, mvq_tokvec *out,
                              mvq_error *err)
{
    const char *p = s->text + sym->start;
    int32_t id = mvq_vocab_lookup(s->t, p, sym->n);
    if (id >= 0)
        return mvq_tokvec_push(out, id, err);
    for (uint32_t j = 0; j < sym->n; j++) {
        unsigned char byte = (unsigned char)p[j];
        id = s->t->byte_token[byte] >= 0 ? s->t->byte_token[byte] : s->t->unk;
        if (id < 0)
            return mvq_error_set(err, MVQ_ERR_FORMAT,
                                 "tokenizer: no byte token <0x%02X> and no unknown token", byte);
        mvq_status st = mvq_tokvec_push(out, id, err);
        if (st != MVQ_OK)
            return st;
    }
    return MVQ_OK;
}

mvq_status mvq_spm_encode(const mvq_tokenizer *t, const char *text, size_t len, mvq_tokvec *out,
                          mvq_error *err)
{
    if (len == 0)
        return MVQ_OK;
    if (len > INT32_MAX)
        return mvq_error_set(err, MVQ_ERR_ARG, "tokenizer: text of %zu bytes is too long", len);
    spm_session s = {t, text, malloc(len * sizeof(spm_symbol)), {NULL, 0, 0}};
    if (!s.sym)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);

    int32_t n_sym = 0;
    for (size_t off = 0; off < len; n_sym++) {
        size_t n = utf8_len((unsigned char)text[off]);
        if (n > len - off)
            n = len - off;
        s.sym[n_sym] = (spm_symbol){n_sym - 1, n_sym + 1, (uint32_t)off, (uint32_t)n};
        off += n;
    }
    s.sym[n_sym - 1].next = -1;

    mvq_status st = MVQ_OK;
    bool ok = true;
    for (int32_t i = 1; i < n_sym && ok; i++)
        ok = try_add_bigram(&s, i - 1, i);
    while (ok && s.heap.n > 0) {
        spm_bigram b = heap_pop(&s.heap);
        spm_symbol *left = &s.sym[b.left], *right = &s.sym[b.right];
        /* stale: one side was merged since this pair was queued */
        if (left->n == 0 || right->n == 0 || left->n + right->n != b.size)
            continue;
        left->n += right->n;
        right->n = 0;
        left->next = right->next;
        if (right->next >= 0)
            s.sym[right->next].prev = b.left;
        ok = try_add_bigram(&s, left->prev, b.left) && try_add_bigram(&s, b.left, left->next);
    }
    if (!ok)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "tokenizer: out of memory merging %zu bytes", len);
    for (int32_t i = 0; st == MVQ_OK && i != -1; i = s.sym[i].next)
        st = emit_symbol(&s, &s.sym[i], out, err);
    free(s.heap.items);
    free(s.sym);
    return st;
}
