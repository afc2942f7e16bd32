/* The vocabulary of synthetic models: specials, byte tokens, single
 * characters, then letter strings with and without the U+2581 word prefix,
 * shortest first, so every merged token splits into two shorter ones. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/model/synth_internal.h"

#define WORD_PREFIX "\xe2\x96\x81" /* U+2581, SentencePiece's space */

/* English letters, most frequent first: common strings come early. */
static const char letters[] = "etaoinshrdlcumwfgypbvkjxqz";

typedef struct vocab_builder {
    mvq_synth_vocab *v;
    int64_t want;
    size_t used; /* bytes of blob */
    size_t *offsets;
} vocab_builder;

static bool full(const vocab_builder *b)
{
    return b->v->n == b->want;
}

static void add(vocab_builder *b, const char *text, mvq_token_type type)
{
    if (full(b))
        return;
    size_t len = strlen(text);
    memcpy(b->v->blob + b->used, text, len + 1);
    int64_t id = b->v->n++;
    b->offsets[id] = b->used;
    b->used += len + 1;
    b->v->types[id] = type;
    /* SentencePiece scores: earlier pieces are merged first */
    b->v->scores[id] = type == MVQ_TOKEN_NORMAL ? -(float)id : 0.0f;
}

/* All strings of len letters, odometer order over letters[], with the word
 * prefix and (from 2 letters on) without it. */
static void add_letter_strings(vocab_builder *b, int len)
{
    int digit[8] = {0};
    char word[3 + 8 + 1];
    while (!full(b)) {
        memcpy(word, WORD_PREFIX, 3);
        for (int i = 0; i < len; i++)
            word[3 + i] = letters[digit[i]];
        word[3 + len] = '\0';
        if (len >= 2)
            add(b, word + 3, MVQ_TOKEN_NORMAL);
        add(b, word, MVQ_TOKEN_NORMAL);
        int i = len - 1;
        while (i >= 0 && ++digit[i] == 26)
            digit[i--] = 0;
        if (i < 0)
            return;
    }
}

mvq_status mvq_synth_vocab_build(int64_t n, mvq_synth_vocab *v, mvq_error *err)
{
    memset(v, 0, sizeof *v);
    if (n < MVQ_SYNTH_MIN_VOCAB || n > INT32_MAX / 16)
        return mvq_error_set(err, MVQ_ERR_ARG, "synth: vocabulary of %lld tokens (need %d to %d)",
                             (long long)n, MVQ_SYNTH_MIN_VOCAB, INT32_MAX / 16);
    /* no token is longer than 3 + 7 bytes plus its NUL */
    vocab_builder b = {v, n, 0, malloc((size_t)n * sizeof(size_t))};
    v->blob = malloc((size_t)n * 16);
    v->texts = malloc((size_t)n * sizeof *v->texts);
    v->scores = malloc((size_t)n * sizeof *v->scores);
    v->types = malloc((size_t)n * sizeof *v->types);
    if (!b.offsets || !v->blob || !v->texts || !v->scores || !v->types) {
        free(b.offsets);
        mvq_synth_vocab_free(v);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "synth: out of memory for %lld tokens", (long long)n);
    }
    add(&b, "<unk>", MVQ_TOKEN_UNKNOWN);
    add(&b, "<s>", MVQ_TOKEN_CONTROL);
    add(&b, "</s>", MVQ_TOKEN_CONTROL);
    for (int byte = 0; byte < 256; byte++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", byte);
        add(&b, hex, MVQ_TOKEN_BYTE);
    }
    add(&b, WORD_PREFIX, MVQ_TOKEN_NORMAL);
    for (char c = '!'; c <= '~'; c++)
        add(&b, (char[]){c, '\0'}, MVQ_TOKEN_NORMAL);
    for (int len = 1; len <= 7 && !full(&b); len++)
        add_letter_strings(&b, len);
    for (int64_t i = 0; i < v->n; i++)
        v->texts[i] = v->blob + b.offsets[i];
    free(b.offsets);
    return MVQ_OK;
}

void mvq_synth_vocab_free(mvq_synth_vocab *v)
{
    free(v->blob);
    free(v->texts);
    free(v->scores);
    free(v->types);
    memset(v, 0, sizeof *v);
}
