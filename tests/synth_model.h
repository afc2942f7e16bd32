/* Deterministic random Llama-family models built in memory (no GGUF), for
 * checking the forward pass at chosen shapes and weight types. */
#ifndef MVQ_TEST_SYNTH_MODEL_H
#define MVQ_TEST_SYNTH_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <mvquant.h>

typedef struct synth_shape {
    int64_t dim, layers, heads, kv_heads, head_dim, n_rot, ff, vocab;
    mvq_arch arch;
    bool biases, tied, rope_freqs;
} synth_shape;

typedef struct synth_model {
    mvq_model m;
    void **blobs; /* every allocation, freed together */
    int n_blobs;
} synth_model;

static inline uint64_t synth_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static inline float synth_uniform(uint64_t *s)
{
    return (float)((double)(synth_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static inline void *synth_keep(synth_model *sm, void *p)
{
    sm->blobs = realloc(sm->blobs, (size_t)(sm->n_blobs + 1) * sizeof *sm->blobs);
    sm->blobs[sm->n_blobs++] = p;
    return p;
}

/* An f32 tensor of n_out rows of n_in values around center, spread by scale. */
static inline void synth_tensor(synth_model *sm, mvq_weight *w, const char *name, int64_t n_in, int64_t n_out,
                                float center, float scale, uint64_t *rng)
{
    float *d = synth_keep(sm, malloc((size_t)(n_in * n_out) * sizeof *d));
    for (int64_t i = 0; i < n_in * n_out; i++)
        d[i] = center + scale * synth_uniform(rng);
    w->name = name;
    w->type = MVQ_TYPE_F32;
    w->data = d;
    w->n_in = n_in;
    w->n_out = n_out;
}

static inline void synth_build(synth_model *sm, const synth_shape *s, uint64_t seed)
{
    memset(sm, 0, sizeof *sm);
    uint64_t rng = seed;
    mvq_model *m = &sm->m;
    mvq_hparams *hp = &m->hp;
    hp->arch = s->arch;
    hp->n_vocab = s->vocab;
    hp->n_embd = s->dim;
    hp->n_layer = s->layers;
    hp->n_ff = s->ff;
    hp->n_head = s->heads;
    hp->n_head_kv = s->kv_heads;
    hp->head_dim = s->head_dim;
    hp->n_rot = s->n_rot;
    hp->n_ctx_train = 4096;
    hp->rms_eps = 1e-5;
    hp->rope_freq_base = 10000.0;
    hp->rope_style = s->arch == MVQ_ARCH_QWEN2 ? MVQ_ROPE_NEOX : MVQ_ROPE_NORMAL;
    const int64_t q_dim = s->heads * s->head_dim, kv_dim = s->kv_heads * s->head_dim;
    const int64_t n_in[MVQ_LINEAR_COUNT] = {s->dim, s->dim, s->dim, q_dim, s->dim, s->dim, s->ff};
    const int64_t n_out[MVQ_LINEAR_COUNT] = {q_dim, kv_dim, kv_dim, s->dim, s->ff, s->ff, s->dim};
    synth_tensor(sm, &m->token_embd, "token_embd.weight", s->dim, s->vocab, 0.0f, 1.0f, &rng);
    synth_tensor(sm, &m->output_norm, "output_norm.weight", s->dim, 1, 1.0f, 0.2f, &rng);
    if (s->tied) {
        m->output = m->token_embd;
        m->output_tied = true;
    } else {
        synth_tensor(sm, &m->output, "output.weight", s->dim, s->vocab, 0.0f, 1.7f / sqrtf((float)s->dim), &rng);
    }
    if (s->rope_freqs)
        synth_tensor(sm, &m->rope_freqs, "rope_freqs.weight", s->n_rot / 2, 1, 2.0f, 1.0f, &rng);
    m->layers = synth_keep(sm, calloc((size_t)s->layers, sizeof *m->layers));
    for (int64_t il = 0; il < s->layers; il++) {
        mvq_layer *L = &m->layers[il];
        synth_tensor(sm, &L->attn_norm, "attn_norm.weight", s->dim, 1, 1.0f, 0.2f, &rng);
        synth_tensor(sm, &L->ffn_norm, "ffn_norm.weight", s->dim, 1, 1.0f, 0.2f, &rng);
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
            synth_tensor(sm, &L->linear[i], mvq_linear_name((mvq_linear)i), n_in[i], n_out[i], 0.0f,
                         1.7f / sqrtf((float)n_in[i]), &rng);
            if (s->biases && i <= MVQ_LINEAR_V)
                synth_tensor(sm, &L->bias[i], "bias", n_out[i], 1, 0.0f, 0.5f, &rng);
        }
    }
}

#define SYNTH_MAX_LAYERS 64
#define SYNTH_MAX_MATRICES (2 + MVQ_LINEAR_COUNT * SYNTH_MAX_LAYERS)

/* The 2-D weights (embedding, output unless tied, linears) into ws; returns their count. */
static inline int synth_matrices(mvq_model *m, mvq_weight **ws)
{
    int n = 0;
    ws[n++] = &m->token_embd;
    if (!m->output_tied)
        ws[n++] = &m->output;
    for (int64_t il = 0; il < m->hp.n_layer && il < SYNTH_MAX_LAYERS; il++)
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++)
            ws[n++] = &m->layers[il].linear[i];
    return n;
}

/* Converts every 2-D weight (linears, embedding, output) to type t. */
static inline bool synth_convert(synth_model *sm, mvq_type t)
{
    mvq_model *m = &sm->m;
    mvq_weight *ws[SYNTH_MAX_MATRICES];
    const int n = synth_matrices(m, ws);
    for (int i = 0; i < n; i++) {
        mvq_weight *w = ws[i];
        size_t bytes = mvq_row_size(t, w->n_in) * (size_t)w->n_out;
        if (!bytes)
            return false;
        void *q = synth_keep(sm, malloc(bytes));
        if (mvq_quantize_rows(t, w->data, q, w->n_out, w->n_in, NULL) != bytes)
            return false;
        w->type = t;
        w->data = q;
    }
    if (m->output_tied)
        m->output = m->token_embd;
    return true;
}

/* Replaces every weight by its dequantized f32 copy. */
static inline void synth_dequantize(synth_model *sm)
{
    mvq_model *m = &sm->m;
    mvq_weight *ws[SYNTH_MAX_MATRICES];
    const int n = synth_matrices(m, ws);
    for (int i = 0; i < n; i++) {
        mvq_weight *w = ws[i];
        float *d = synth_keep(sm, malloc((size_t)(w->n_in * w->n_out) * sizeof *d));
        const size_t rs = mvq_row_size(w->type, w->n_in);
        for (int64_t r = 0; r < w->n_out; r++)
            mvq_dequantize_row(w->type, (const char *)w->data + (size_t)r * rs, d + r * w->n_in, w->n_in);
        w->type = MVQ_TYPE_F32;
        w->data = d;
    }
    if (m->output_tied)
        m->output = m->token_embd;
}

static inline void synth_free(synth_model *sm)
{
    for (int i = 0; i < sm->n_blobs; i++)
        free(sm->blobs[i]);
    free(sm->blobs);
}

static inline void synth_tokens(int32_t *tokens, int64_t n, int64_t vocab, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++)
        tokens[i] = (int32_t)(synth_next(&seed) % (uint64_t)vocab);
}

#endif
