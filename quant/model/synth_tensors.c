/* The tensors of a synthetic Llama model, in llama.cpp's names and shapes,
 * generated one row at a time from a per-tensor random stream. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant/gguf.h>

#include "quant/model/synth_internal.h"

typedef enum tensor_kind { EMBD, NORM, ATTN_Q, ATTN_K, PLAIN, FFN_DOWN } tensor_kind;

typedef struct tensor_spec {
    char name[MVQ_GGUF_MAX_NAME + 1];
    int64_t ne0, ne1; /* columns (fan-in), rows; ne1 == 1 for norms */
    tensor_kind kind;
} tensor_spec;

/* What the row generator needs besides the spec. */
typedef struct synth_ctx {
    const mvq_synth_params *p;
    int64_t head_dim;
    uint8_t *massive_dim;     /* head_dim flags */
    uint8_t *massive_channel; /* dim flags */
    float *row;
    uint16_t *half; /* the row as F16 or BF16 */
    uint64_t done, total; /* bytes of tensor data, for progress */
} synth_ctx;

static int64_t list_tensors(const mvq_synth_params *p, tensor_spec *out)
{
    int64_t hd = p->dim / p->n_heads, kv = hd * p->n_kv_heads, n = 0;
#define ADD(kind_, ne0_, ne1_, ...)                                                                         \
    do {                                                                                                    \
        if (out) {                                                                                          \
            snprintf(out[n].name, sizeof out[n].name, __VA_ARGS__);                                         \
            out[n].ne0 = (ne0_);                                                                            \
            out[n].ne1 = (ne1_);                                                                            \
            out[n].kind = (kind_);                                                                          \
        }                                                                                                   \
        n++;                                                                                                \
    } while (0)
    ADD(EMBD, p->dim, p->vocab, "token_embd.weight");
    for (int64_t l = 0; l < p->n_layers; l++) {
        ADD(NORM, p->dim, 1, "blk.%lld.attn_norm.weight", (long long)l);
        ADD(ATTN_Q, p->dim, p->dim, "blk.%lld.attn_q.weight", (long long)l);
        ADD(ATTN_K, p->dim, kv, "blk.%lld.attn_k.weight", (long long)l);
        ADD(PLAIN, p->dim, kv, "blk.%lld.attn_v.weight", (long long)l);
        ADD(PLAIN, p->dim, p->dim, "blk.%lld.attn_output.weight", (long long)l);
        ADD(NORM, p->dim, 1, "blk.%lld.ffn_norm.weight", (long long)l);
        ADD(PLAIN, p->dim, p->ff, "blk.%lld.ffn_gate.weight", (long long)l);
        ADD(FFN_DOWN, p->ff, p->dim, "blk.%lld.ffn_down.weight", (long long)l);
        ADD(PLAIN, p->dim, p->ff, "blk.%lld.ffn_up.weight", (long long)l);
    }
    ADD(NORM, p->dim, 1, "output_norm.weight");
    ADD(PLAIN, p->dim, p->vocab, "output.weight");
#undef ADD
    return n;
}

static mvq_type type_of(const synth_ctx *c, const tensor_spec *t)
{
    return t->kind == NORM ? MVQ_TYPE_F32 : c->p->type;
}

/* Row r of tensor t into c->row: uniform, variance 1/fan-in (1 for the
 * embedding), norms near 1, with the planted massive values. */
static void generate_row(const synth_ctx *c, const tensor_spec *t, int64_t r, mvq_synth_rng *rng)
{
    float scale = t->kind == EMBD ? sqrtf(3.0f) : sqrtf(3.0f / (float)t->ne0);
    for (int64_t i = 0; i < t->ne0; i++) {
        float u = mvq_synth_uniform(rng);
        c->row[i] = t->kind == NORM ? 1.0f + 0.1f * u : scale * u;
    }
    float row_gain = 1.0f;
    if ((t->kind == ATTN_Q || t->kind == ATTN_K) && c->massive_dim[r % c->head_dim])
        row_gain = c->p->massive_gain;
    if (t->kind == FFN_DOWN && c->massive_channel[r])
        row_gain = c->p->channel_gain;
    if (row_gain != 1.0f)
        for (int64_t i = 0; i < t->ne0; i++)
            c->row[i] *= row_gain;
    /* the embedding carries the massive channels into the residual stream;
     * the norms damp them (as trained models' small norm weights there do),
     * so they stay outliers at the linear layers' inputs without drowning
     * every other column */
    float column_gain = t->kind == EMBD   ? c->p->channel_gain
                        : t->kind == NORM ? 1.0f / sqrtf(c->p->channel_gain)
                                          : 1.0f;
    if (column_gain != 1.0f)
        for (int64_t i = 0; i < t->ne0; i++)
            if (c->massive_channel[i])
                c->row[i] *= column_gain;
}

static mvq_status write_tensor(synth_ctx *c, mvq_gguf_writer *w, const tensor_spec *t, int64_t index,
                               mvq_error *err)
{
    /* an independent stream per tensor: the same weights for f32, f16 and bf16 */
    mvq_synth_rng rng = {c->p->seed * 0x2545f4914f6cdd1dull + (uint64_t)(index + 1) * 0x9e3779b97f4a7c15ull};
    mvq_type type = type_of(c, t);
    bool half = type == MVQ_TYPE_F16 || type == MVQ_TYPE_BF16;
    for (int64_t r = 0; r < t->ne1; r++) {
        generate_row(c, t, r, &rng);
        const void *data = c->row;
        size_t size = (size_t)t->ne0 * sizeof(float);
        if (half) {
            for (int64_t i = 0; i < t->ne0; i++)
                c->half[i] = type == MVQ_TYPE_F16 ? mvq_fp32_to_fp16(c->row[i]) : mvq_fp32_to_bf16(c->row[i]);
            data = c->half;
            size = (size_t)t->ne0 * sizeof *c->half;
        }
        mvq_status st = mvq_gguf_writer_write(w, data, size, err);
        if (st != MVQ_OK)
            return st;
        c->done += size;
        if (c->p->progress && (r % 256 == 255 || r == t->ne1 - 1))
            c->p->progress(c->p->progress_ctx, c->done, c->total);
    }
    return MVQ_OK;
}

static mvq_status write_all(synth_ctx *c, mvq_gguf_writer *w, const tensor_spec *specs, int64_t n,
                            mvq_error *err)
{
    mvq_status st = MVQ_OK;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const tensor_spec *t = &specs[i];
        int64_t ne[2] = {t->ne0, t->ne1};
        mvq_type type = type_of(c, t);
        uint64_t size = mvq_row_size(type, t->ne0) * (uint64_t)t->ne1;
        st = mvq_gguf_writer_add_tensor(w, t->name, t->ne1 == 1 ? 1 : 2, ne, (uint32_t)type, size, err);
        c->total += size;
    }
    for (int64_t i = 0; i < n && st == MVQ_OK; i++)
        st = write_tensor(c, w, &specs[i], i, err);
    return st;
}

mvq_status mvq_synth_write_tensors(mvq_gguf_writer *w, const mvq_synth_params *p, const int32_t *dims,
                                   const int32_t *channels, mvq_error *err)
{
    int64_t n = list_tensors(p, NULL);
    int64_t widest = p->dim > p->ff ? p->dim : p->ff;
    synth_ctx c = {p, p->dim / p->n_heads, calloc((size_t)(p->dim / p->n_heads), 1), calloc((size_t)p->dim, 1),
                   malloc((size_t)widest * sizeof(float)), malloc((size_t)widest * sizeof(uint16_t)), 0, 0};
    tensor_spec *specs = malloc((size_t)n * sizeof *specs);
    mvq_status st;
    if (!c.massive_dim || !c.massive_channel || !c.row || !c.half || !specs) {
        st = mvq_error_set(err, MVQ_ERR_NOMEM, "synth: out of memory");
    } else {
        for (int i = 0; i < 2 * p->n_massive_pairs; i++)
            c.massive_dim[dims[i]] = 1;
        for (int i = 0; i < p->n_massive_channels; i++)
            c.massive_channel[channels[i]] = 1;
        list_tensors(p, specs);
        st = write_all(&c, w, specs, n, err);
    }
    free(specs);
    free(c.massive_dim);
    free(c.massive_channel);
    free(c.row);
    free(c.half);
    return st;
}
