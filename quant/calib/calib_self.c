/* Calibration text without a file: sequences the model writes itself from
 * BOS, sampled with a fixed seed (temperature, then top-p). */
#include "config.h"
#include "quant/model/decode_internal.h"
#include "quant/calib/calib_internal.h"

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

/* Sequences decoded together: all of them, within a KV cache of about
 * 1 GiB and at most 16.  From the shapes only, so the text does not depend
 * on the machine's threads. */
static int64_t batch_size(const mvq_model *m, int64_t n_seq, int64_t seq_len)
{
    const double per_seq = 2.0 * (double)m->hp.n_layer * (double)seq_len * (double)(m->hp.n_head_kv * m->hp.head_dim) * 4;
    int64_t b = (int64_t)((double)(1u << 30) / per_seq);
    b = b < 1 ? 1 : b > 16 ? 16 : b;
    return b < n_seq ? b : n_seq;
}

/* Writes n_seq sequences of seq_len tokens at out, seq_len apart; each has its own random stream. */
static mvq_status generate(mvq_decoder *d, const mvq_model *m, const mvq_selfgen_params *p, int32_t bos,
                           int64_t first_seq, int64_t n_seq, int32_t *out, float *logits, candidate *cand,
                           mvq_error *err)
{
    const int64_t n_vocab = m->output.n_out, L = p->seq_len;
    uint64_t rng[16];
    int32_t feed[16];
    for (int64_t b = 0; b < n_seq; b++) {
        rng[b] = p->seed ^ (0x632be59bd9b4e019ull * (uint64_t)(first_seq + b + 1));
        out[b * L] = bos;
    }
    mvq_decoder_reset(d);
    for (int64_t pos = 0; pos + 1 < L; pos++) {
        for (int64_t b = 0; b < n_seq; b++)
            feed[b] = out[b * L + pos];
        mvq_status st = mvq_decoder_step(d, feed, n_seq, logits, err);
        if (st != MVQ_OK)
            return st;
        for (int64_t b = 0; b < n_seq; b++)
            out[b * L + pos + 1] = sample(logits + b * n_vocab, n_vocab, p->temperature, p->top_p, cand, &rng[b]);
    }
    return MVQ_OK;
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
    const int64_t n_seq = (p.n_tokens + p.seq_len - 1) / p.seq_len, B = batch_size(m, n_seq, p.seq_len);
    int32_t *out = malloc((size_t)(n_seq * p.seq_len) * sizeof *out);
    float *logits = malloc((size_t)(B * n_vocab) * sizeof *logits);
    candidate *cand = malloc((size_t)n_vocab * sizeof *cand);
    mvq_decoder *d = out && logits && cand ? mvq_decoder_create(m, p.seq_len, B, pool, err) : NULL;
    mvq_status st = MVQ_OK;
    if (!d)
        st = out && logits && cand ? (err ? err->status : MVQ_ERR_NOMEM)
                                   : mvq_error_set(err, MVQ_ERR_NOMEM, "self-generated calibration: out of memory");
    for (int64_t s = 0; st == MVQ_OK && s < n_seq; s += B) {
        const int64_t nb = n_seq - s < B ? n_seq - s : B;
        st = generate(d, m, &p, bos, s, nb, out + s * p.seq_len, logits, cand, err);
        if (st == MVQ_OK && p.progress) {
            const int64_t done = (s + nb) * p.seq_len;
            p.progress(p.user, done < p.n_tokens ? done : p.n_tokens, p.n_tokens);
        }
    }
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
