/* Calibration text without a file: sequences the model writes itself from
 * BOS, sampled with a fixed seed (temperature, then top-p). */
#include "config.h"
#include "quant/decode_internal.h"
#include <mvquant/quantize.h>

#include <math.h>
#include <stdlib.h>

void mvq_selfgen_default(mvq_selfgen_params *p)
{
    *p = (mvq_selfgen_params){
        .n_tokens = 4096, .seq_len = 256, .seed = MVQ_SELFGEN_SEED, .temperature = 1.0, .top_p = 0.95, .bos = -1,
    };
}

/* splitmix64: small, fast, the same on every platform. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *state)
{
    return (double)(next_u64(state) >> 11) * 0x1.0p-53;
}

typedef struct candidate {
    double p;
    int32_t id;
} candidate;

/* Highest probability first; ties by id, so the order is total. */
static int by_probability(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Softmax of logits / temperature, cut to the smallest set of most likely
 * tokens whose mass reaches top_p, sampled from that set. */
static int32_t sample(const float *logits, int64_t n_vocab, double temperature, double top_p, candidate *c,
                      uint64_t *rng)
{
    double mx = -INFINITY;
    for (int64_t i = 0; i < n_vocab; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) {
        c[i].id = (int32_t)i;
        c[i].p = exp(((double)logits[i] - mx) / temperature);
        sum += c[i].p;
    }
    qsort(c, (size_t)n_vocab, sizeof *c, by_probability);
    int64_t keep = 0;
    double mass = 0.0;
    while (keep < n_vocab && (keep == 0 || mass < top_p * sum))
        mass += c[keep++].p;
    double u = next_unit(rng) * mass;
    for (int64_t i = 0; i < keep; i++) {
        u -= c[i].p;
        if (u < 0.0)
            return c[i].id;
    }
    return c[keep - 1].id;
}

static int32_t model_bos(const mvq_model *m, int32_t bos)
{
    int64_t id;
    if (bos >= 0)
        return bos;
    if (m->gguf && mvq_gguf_get_i64(m->gguf, "tokenizer.ggml.bos_token_id", &id) && id >= 0 &&
        id < m->hp.n_vocab)
        return (int32_t)id;
    return 1;
}

mvq_status mvq_calib_self_tokens(const mvq_model *m, const mvq_selfgen_params *params, mvq_pool *pool,
                                 int32_t **tokens, int64_t *n_tokens, mvq_error *err)
{
    mvq_selfgen_params p;
    mvq_selfgen_default(&p);
    if (params)
        p = *params;
    if (p.n_tokens <= 0 || p.seq_len < 2 || !(p.temperature > 0) || !(p.top_p > 0 && p.top_p <= 1))
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "self-generated calibration: bad parameters (tokens %lld, length %lld, "
                             "temperature %g, top-p %g)",
                             (long long)p.n_tokens, (long long)p.seq_len, p.temperature, p.top_p);
    const int32_t bos = model_bos(m, p.bos);
    const int64_t n_vocab = m->output.n_out;
    int32_t *out = malloc((size_t)p.n_tokens * sizeof *out);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    candidate *cand = malloc((size_t)n_vocab * sizeof *cand);
    mvq_decoder *d = out && logits && cand ? mvq_decoder_create(m, p.seq_len, pool, err) : NULL;
    mvq_status st = MVQ_OK;
    if (!d) {
        st = out && logits && cand ? (err ? err->status : MVQ_ERR_NOMEM)
                                   : mvq_error_set(err, MVQ_ERR_NOMEM, "self-generated calibration: out of memory");
        goto done;
    }
    uint64_t rng = p.seed;
    for (int64_t at = 0; at < p.n_tokens && st == MVQ_OK; at++) {
        const int64_t pos = at % p.seq_len;
        if (pos == 0) {
            mvq_decoder_reset(d);
            out[at] = bos;
            continue;
        }
        /* logits for position pos come from feeding the token before it */
        st = mvq_decoder_step(d, out[at - 1], logits, err);
        if (st == MVQ_OK)
            out[at] = sample(logits, n_vocab, p.temperature, p.top_p, cand, &rng);
        if (p.progress && (pos == p.seq_len - 1 || at == p.n_tokens - 1))
            p.progress(p.user, at + 1, p.n_tokens);
    }
done:
    mvq_decoder_free(d);
    free(logits);
    free(cand);
    if (st != MVQ_OK) {
        free(out);
        return st;
    }
    *tokens = out;
    *n_tokens = p.n_tokens;
    return MVQ_OK;
}
