/* mvquant: tokenizer built from a GGUF file's tokenizer.ggml.* metadata.
 *
 * tokenizer.ggml.model = "llama": SentencePiece-style BPE as llama.cpp runs
 * it (its llm_tokenizer_spm): the whole text, with a space prepended when
 * tokenizer.ggml.add_space_prefix (default true) and every ' ' written as
 * U+2581, is split into UTF-8 characters that are merged pairwise, highest
 * tokenizer.ggml.scores first (leftmost on ties), while the merged text is a
 * token; what remains unknown falls back to <0xXX> byte tokens.
 * USER_DEFINED tokens are matched in the raw text first, as llama.cpp does
 * without special-token parsing.  The result is llama.cpp's, id for id.
 *
 * Other tokenizer models (gpt2, bert, ...) are refused with an error naming
 * them. */
#ifndef MVQUANT_TOKENIZER_H
#define MVQUANT_TOKENIZER_H

#include <mvquant/gguf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mvq_tokenizer mvq_tokenizer;

/* GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them. */
typedef enum mvq_token_type {
    MVQ_TOKEN_UNDEFINED = 0,
    MVQ_TOKEN_NORMAL = 1,
    MVQ_TOKEN_UNKNOWN = 2,
    MVQ_TOKEN_CONTROL = 3,
    MVQ_TOKEN_USER_DEFINED = 4,
    MVQ_TOKEN_UNUSED = 5,
    MVQ_TOKEN_BYTE = 6
} mvq_token_type;

/* Builds the tokenizer from g's metadata (copies what it needs: g may be
 * closed afterwards).  NULL with err filled when the metadata is missing,
 * malformed or of an unsupported tokenizer model. */
MVQ_API mvq_tokenizer *mvq_tokenizer_from_gguf(const mvq_gguf *g, mvq_error *err);
MVQ_API void mvq_tokenizer_free(mvq_tokenizer *t);

/* Tokenizes len bytes of text (any bytes; need not be NUL-terminated).
 * add_bos puts the BOS token first (when the vocabulary has one).
 * On success *tokens is malloc'd (the caller frees it; may be NULL when
 * *n_tokens is 0). */
MVQ_API mvq_status mvq_tokenize(const mvq_tokenizer *t, const char *text, size_t len, bool add_bos,
                                int32_t **tokens, int64_t *n_tokens, mvq_error *err);

/* Text of tokens: NORMAL pieces with U+2581 back to ' ', BYTE tokens as their
 * byte, USER_DEFINED as written; CONTROL, UNKNOWN, UNUSED and UNDEFINED
 * tokens give nothing (llama.cpp's token_to_piece without special tokens).
 * The space that tokenize's add_space_prefix put before the text is dropped
 * from the first piece that has text (llama.cpp keeps it when the pieces
 * start with BOS), so with the 256 byte tokens in the vocabulary
 * detokenize(tokenize(s)) == s for any s without USER_DEFINED tokens in it,
 * except invalid UTF-8 whose truncated sequence swallows part of an escaped
 * space.  On success *text is malloc'd and
 * NUL-terminated, *len excludes the NUL.  Ids out of range are an error. */
MVQ_API mvq_status mvq_detokenize(const mvq_tokenizer *t, const int32_t *tokens, int64_t n_tokens,
                                  char **text, size_t *len, mvq_error *err);

/* -1 when the vocabulary has none. */
MVQ_API int32_t mvq_tokenizer_bos(const mvq_tokenizer *t);
MVQ_API int32_t mvq_tokenizer_eos(const mvq_tokenizer *t);
MVQ_API int32_t mvq_tokenizer_unk(const mvq_tokenizer *t);
/* Whether the model asks for BOS / EOS (tokenizer.ggml.add_bos_token,
 * add_eos_token; for "llama" the defaults are true and false). */
MVQ_API bool mvq_tokenizer_wants_bos(const mvq_tokenizer *t);
MVQ_API bool mvq_tokenizer_wants_eos(const mvq_tokenizer *t);
MVQ_API int64_t mvq_tokenizer_n_vocab(const mvq_tokenizer *t);
/* "llama" */
MVQ_API const char *mvq_tokenizer_model(const mvq_tokenizer *t);
/* The token's text as stored in the vocabulary (U+2581 for spaces);
 * NULL when id is out of range. */
MVQ_API const char *mvq_token_text(const mvq_tokenizer *t, int32_t id);
MVQ_API float mvq_token_score(const mvq_tokenizer *t, int32_t id);           /* 0 when out of range */
MVQ_API mvq_token_type mvq_token_get_type(const mvq_tokenizer *t, int32_t id); /* UNDEFINED when out of range */
/* The id of a token text (exact bytes), -1 when absent. */
MVQ_API int32_t mvq_token_id(const mvq_tokenizer *t, const char *text, size_t len);

#ifdef __cplusplus
}
#endif
#endif
