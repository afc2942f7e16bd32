/* Calibration text from a file, tokenized with the model's tokenizer. */
#include "config.h"
#include <mvquant/calib.h>
#include <mvquant/tokenizer.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_text(const char *path, size_t *len, mvq_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    const bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        mvq_error_set(err, bad ? MVQ_ERR_IO : MVQ_ERR_NOMEM, "%s: %s", path, bad ? "read error" : "out of memory");
        return NULL;
    }
    *len = n;
    return buf;
}

mvq_status mvq_calib_text_tokens(const mvq_model *m, const char *path, int64_t max_tokens, int32_t **tokens,
                                 int64_t *n_tokens, mvq_error *err)
{
    *tokens = NULL;
    *n_tokens = 0;
    if (!m->gguf)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: the model has no file, so no tokenizer", path);
    mvq_tokenizer *tok = mvq_tokenizer_from_gguf(m->gguf, err);
    if (!tok)
        return err ? err->status : MVQ_ERR_FORMAT;
    size_t len = 0;
    char *text = read_text(path, &len, err);
    mvq_status st = text ? MVQ_OK : (err ? err->status : MVQ_ERR_IO);
    if (st == MVQ_OK) {
        const bool add_bos = mvq_tokenizer_wants_bos(tok) && mvq_tokenizer_bos(tok) >= 0;
        st = mvq_tokenize(tok, text, len, add_bos, tokens, n_tokens, err);
    }
    if (st == MVQ_OK && *n_tokens == 0)
        st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: no tokens in the text", path);
    if (st == MVQ_OK && max_tokens > 0 && *n_tokens > max_tokens)
        *n_tokens = max_tokens;
    if (st != MVQ_OK && *tokens) {
        free(*tokens);
        *tokens = NULL;
    }
    free(text);
    mvq_tokenizer_free(tok);
    return st;
}
