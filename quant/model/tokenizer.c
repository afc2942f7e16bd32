/* Tokenize and detokenize, and the tokenizer's accessors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "quant/model/tokenizer_internal.h"

/* A piece of the input: raw text, or a USER_DEFINED token found in it. */
typedef struct fragment {
    int32_t token; /* -1 for raw text */
    size_t off, len;
} fragment;

typedef struct fragment_list {
    fragment *items;
    size_t n, cap;
} fragment_list;

static bool fragments_add(fragment_list *l, fragment f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fragment *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return false;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = f;
    return true;
}

/* Splits every raw fragment of *l at each occurrence of token id, leftmost first. */
static bool split_at_token(const mvq_tokenizer *t, const char *text, fragment_list *l, int32_t id)
{
    const char *tok = mvq_tok_text(t, id);
    size_t tok_len = t->text_len[id];
    fragment_list out = {NULL, 0, 0};
    bool ok = true;
    for (size_t i = 0; i < l->n && ok; i++) {
        fragment f = l->items[i];
        while (ok && f.token < 0 && f.len > 0) {
            const char *hit = memmem(text + f.off, f.len, tok, tok_len);
            if (!hit)
                break;
            size_t at = (size_t)(hit - text);
            if (at > f.off)
                ok = fragments_add(&out, (fragment){-1, f.off, at - f.off});
            ok = ok && fragments_add(&out, (fragment){id, at, tok_len});
            f.len -= at + tok_len - f.off;
            f.off = at + tok_len;
        }
        if (ok && (f.token >= 0 || f.len > 0))
            ok = fragments_add(&out, f);
    }
    free(l->items);
    *l = out;
    return ok;
}

/* ' ' becomes U+2581, with one in front when prefix; returns the length. */
static size_t escape_spaces(const char *src, size_t len, bool prefix, char *dst)
{
    static const char lower_block[3] = {'\xe2', '\x96', '\x81'};
    size_t n = 0;
    if (prefix) {
        memcpy(dst, lower_block, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (src[i] == ' ') {
            memcpy(dst + n, lower_block, 3);
            n += 3;
        } else {
            dst[n++] = src[i];
        }
    }
    return n;
}

static mvq_status encode_fragments(const mvq_tokenizer *t, const char *text, const fragment_list *l,
                                   mvq_tokvec *out, mvq_error *err)
{
    size_t longest = 0;
    for (size_t i = 0; i < l->n; i++)
        longest = l->items[i].len > longest ? l->items[i].len : longest;
    char *escaped = malloc(3 * longest + 3);
    if (!escaped)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", longest);
    mvq_status st = MVQ_OK;
    bool prev_special = true; /* llama.cpp: the space prefix goes at the start and after special tokens */
    for (size_t i = 0; i < l->n && st == MVQ_OK; i++) {
        const fragment *f = &l->items[i];
        if (f->token >= 0) {
            st = mvq_tokvec_push(out, f->token, err);
            prev_special = true;
            continue;
        }
        size_t n = escape_spaces(text + f->off, f->len, t->add_space_prefix && prev_special, escaped);
        st = mvq_spm_encode(t, escaped, n, out, err);
        prev_special = false;
    }
    free(escaped);
    return st;
}

mvq_status mvq_tokenize(const mvq_tokenizer *t, const char *text, size_t len, bool add_bos, int32_t **tokens,
                        int64_t *n_tokens, mvq_error *err)
{
    if (!t || !tokens || !n_tokens || (!text && len > 0))
        return mvq_error_set(err, MVQ_ERR_ARG, "tokenize: NULL argument");
    *tokens = NULL;
    *n_tokens = 0;
    mvq_tokvec out = {NULL, 0, 0};
    fragment_list frags = {NULL, 0, 0};
    mvq_status st = MVQ_OK;
    if (add_bos && t->bos >= 0)
        st = mvq_tokvec_push(&out, t->bos, err);
    bool ok = len == 0 || fragments_add(&frags, (fragment){-1, 0, len});
    for (int64_t i = 0; i < t->n_user_defined && ok; i++)
        ok = split_at_token(t, text, &frags, t->user_defined[i]);
    if (!ok && st == MVQ_OK)
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "tokenize: out of memory");
    if (st == MVQ_OK)
        st = encode_fragments(t, text, &frags, &out, err);
    free(frags.items);
    if (st != MVQ_OK) {
        free(out.ids);
        return st;
    }
    *tokens = out.ids;
    *n_tokens = out.n;
    return MVQ_OK;
}

/* Appends token id's text to buf (which has room for its longest piece). */
static size_t piece(const mvq_tokenizer *t, int32_t id, char *buf)
{
    const char *s = mvq_tok_text(t, id);
    size_t n = t->text_len[id], k = 0;
    switch (t->types[id]) {
    case MVQ_TOKEN_NORMAL:
        for (size_t i = 0; i < n; i++) {
            if (i + 2 < n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                buf[k++] = ' ';
                i += 2;
            } else {
                buf[k++] = s[i];
            }
        }
        return k;
    case MVQ_TOKEN_BYTE:
        if (n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x') {
            buf[0] = (char)strtol(s + 3, NULL, 16);
            return 1;
        }
        memcpy(buf, s, n);
        return n;
    case MVQ_TOKEN_USER_DEFINED:
        memcpy(buf, s, n);
        return n;
    default: /* CONTROL, UNKNOWN, UNUSED, UNDEFINED: nothing, as in llama.cpp */
        return 0;
    }
}

mvq_status mvq_detokenize(const mvq_tokenizer *t, const int32_t *tokens, int64_t n_tokens, char **text,
                          size_t *len, mvq_error *err)
{
    if (!t || !text || !len || (!tokens && n_tokens > 0) || n_tokens < 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "detokenize: NULL argument");
    size_t cap = 1;
    for (int64_t i = 0; i < n_tokens; i++) {
        if (tokens[i] < 0 || tokens[i] >= t->n_vocab)
            return mvq_error_set(err, MVQ_ERR_ARG, "detokenize: token %lld is id %d, outside 0..%lld",
                                 (long long)i, tokens[i], (long long)t->n_vocab - 1);
        cap += t->text_len[tokens[i]];
    }
    char *buf = malloc(cap);
    if (!buf)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "detokenize: out of memory for %zu bytes", cap);
    size_t n = 0;
    bool strip_prefix = t->add_space_prefix;
    for (int64_t i = 0; i < n_tokens; i++) {
        size_t k = piece(t, tokens[i], buf + n);
        if (k > 0 && strip_prefix && buf[n] == ' ') {
            memmove(buf + n, buf + n + 1, k - 1);
            k--;
        }
        if (k > 0 || t->types[tokens[i]] == MVQ_TOKEN_NORMAL)
            strip_prefix = false;
        n += k;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return MVQ_OK;
}

int32_t mvq_tokenizer_bos(const mvq_tokenizer *t) { return t->bos; }
int32_t mvq_tokenizer_eos(const mvq_tokenizer *t) { return t->eos; }
int32_t mvq_tokenizer_unk(const mvq_tokenizer *t) { return t->unk; }
bool mvq_tokenizer_wants_bos(const mvq_tokenizer *t) { return t->add_bos; }
bool mvq_tokenizer_wants_eos(const mvq_tokenizer *t) { return t->add_eos; }
int64_t mvq_tokenizer_n_vocab(const mvq_tokenizer *t) { return t->n_vocab; }
const char *mvq_tokenizer_model(const mvq_tokenizer *t) { return t->model; }

const char *mvq_token_text(const mvq_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? mvq_tok_text(t, id) : NULL;
}

float mvq_token_score(const mvq_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? t->scores[id] : 0.0f;
}

mvq_token_type mvq_token_get_type(const mvq_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? (mvq_token_type)t->types[id] : MVQ_TOKEN_UNDEFINED;
}

int32_t mvq_token_id(const mvq_tokenizer *t, const char *text, size_t len)
{
    return mvq_vocab_lookup(t, text, len);
}
