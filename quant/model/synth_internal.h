/* Internals of the synthetic model writer (quant/synth*.c). */
#ifndef MVQ_SYNTH_INTERNAL_H
#define MVQ_SYNTH_INTERNAL_H

#include <mvquant/synth.h>
#include <mvquant/tokenizer.h>

/* The byte-level SentencePiece-style vocabulary of a synthetic model. */
typedef struct mvq_synth_vocab {
    int64_t n;
    char *blob;          /* the texts, NUL-terminated */
    const char **texts;  /* n pointers into blob */
    float *scores;       /* n */
    int32_t *types;      /* n mvq_token_type */
} mvq_synth_vocab;

mvq_status mvq_synth_vocab_build(int64_t n, mvq_synth_vocab *v, mvq_error *err);
void mvq_synth_vocab_free(mvq_synth_vocab *v);

struct mvq_gguf_writer;
/* Adds the tensor infos, then generates and writes each tensor row by row.
 * dims: the massive dims within a head; channels: the massive channels. */
mvq_status mvq_synth_write_tensors(struct mvq_gguf_writer *w, const mvq_synth_params *p, const int32_t *dims,
                                   const int32_t *channels, mvq_error *err);

/* splitmix64: small, fast, and the same on every platform. */
typedef struct mvq_synth_rng {
    uint64_t state;
} mvq_synth_rng;

static inline uint64_t mvq_synth_next(mvq_synth_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1), exactly representable (24 random bits) */
static inline float mvq_synth_uniform(mvq_synth_rng *r)
{
    return (float)(mvq_synth_next(r) >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

#endif
