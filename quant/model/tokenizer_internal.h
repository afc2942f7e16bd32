/* Internals shared by the tokenizer's files (quant/tokenizer*.c). */
#ifndef MVQ_TOKENIZER_INTERNAL_H
#define MVQ_TOKENIZER_INTERNAL_H

#include <mvquant/tokenizer.h>

/* Text to id: open addressing over FNV-1a hashes of the token texts. */
typedef struct mvq_vocab_index {
    int32_t *slots; /* token id, -1 when empty */
    uint64_t mask;  /* capacity - 1, capacity a power of two */
} mvq_vocab_index;

struct mvq_tokenizer {
    char *model;           /* "llama" */
    int64_t n_vocab;
    char *blob;            /* all token texts, each NUL-terminated */
    uint64_t *text_off;    /* n_vocab offsets into blob */
    uint32_t *text_len;    /* n_vocab lengths (without the NUL) */
    float *scores;         /* n_vocab */
    uint8_t *types;        /* n_vocab mvq_token_type */
    mvq_vocab_index index;
    int32_t byte_token[256]; /* <0xXX> (else the one-byte token), -1 when neither */
    int32_t *user_defined;   /* USER_DEFINED ids, longest text first */
    int64_t n_user_defined;
    int32_t bos, eos, unk;
    bool add_bos, add_eos, add_space_prefix;
};

/* A growing list of token ids. */
typedef struct mvq_tokvec {
    int32_t *ids;
    int64_t n, cap;
} mvq_tokvec;

mvq_status mvq_tokvec_push(mvq_tokvec *v, int32_t id, mvq_error *err);

/* Builds t->index over t's texts (later ids win on duplicate texts, as in
 * llama.cpp); frees with mvq_vocab_index_free. */
mvq_status mvq_vocab_index_build(mvq_tokenizer *t, mvq_error *err);
void mvq_vocab_index_free(mvq_vocab_index *ix);
int32_t mvq_vocab_lookup(const mvq_tokenizer *t, const char *text, size_t len);

static inline const char *mvq_tok_text(const mvq_tokenizer *t, int32_t id)
{
    return t->blob + t->text_off[id];
}

/* llama.cpp's SentencePiece merge over text that is already escaped
 * (U+2581 for spaces, prefix added); appends ids to out. */
mvq_status mvq_spm_encode(const mvq_tokenizer *t, const char *text, size_t len, mvq_tokvec *out,
                          mvq_error *err);

#endif
