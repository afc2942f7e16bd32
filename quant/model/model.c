/* Model view over a GGUF file: hyperparameters and tensor bindings. */
#include "config.h"
#include <mvquant/model.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const arch_names[MVQ_ARCH_COUNT] = {"llama", "mistral", "qwen2"};

const char *mvq_arch_name(mvq_arch arch)
{
    return (unsigned)arch < MVQ_ARCH_COUNT ? arch_names[arch] : "?";
}

static const char *const linear_names[MVQ_LINEAR_COUNT] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
};

const char *mvq_linear_name(mvq_linear which)
{
    return (unsigned)which < MVQ_LINEAR_COUNT ? linear_names[which] : "?";
}

/* Reads a required (or defaulted) integer hyperparameter "<arch>.<key>". */
static bool get_hparam_int(const mvq_gguf *g, const char *arch, const char *key, int64_t dflt,
                           int64_t *out, mvq_error *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    uint64_t v;
    if (mvq_gguf_get_u64(g, full, &v)) {
        if (v == 0 || v > (1ull << 31)) {
            mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s = %llu is out of range", mvq_gguf_path(g), full,
                          (unsigned long long)v);
            return false;
        }
        *out = (int64_t)v;
        return true;
    }
    if (mvq_gguf_find_kv(g, full)) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s is not a positive integer", mvq_gguf_path(g), full);
        return false;
    }
    if (dflt < 0) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: missing key %s", mvq_gguf_path(g), full);
        return false;
    }
    *out = dflt;
    return true;
}

static bool get_hparam_float(const mvq_gguf *g, const char *arch, const char *key, double dflt, bool required,
                             double *out, mvq_error *err)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (mvq_gguf_get_f64(g, full, out))
        return true;
    if (mvq_gguf_find_kv(g, full) || required) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %s %s", mvq_gguf_path(g), full,
                      required && !mvq_gguf_find_kv(g, full) ? "is missing" : "is not a number");
        return false;
    }
    *out = dflt;
    return true;
}

static mvq_status read_hparams(const mvq_gguf *g, mvq_hparams *hp, const char **arch_out, mvq_error *err)
{
    const char *path = mvq_gguf_path(g);
    const char *arch;
    if (!mvq_gguf_get_str(g, "general.architecture", &arch))
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: missing key general.architecture", path);
    int found = -1;
    for (int i = 0; i < MVQ_ARCH_COUNT; i++)
        if (strcmp(arch, arch_names[i]) == 0)
            found = i;
    if (found < 0)
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED,
                             "%s: architecture '%s' is not supported (llama, mistral, qwen2 are)", path, arch);
    memset(hp, 0, sizeof *hp);
    hp->arch = (mvq_arch)found;
    hp->rope_style = hp->arch == MVQ_ARCH_QWEN2 ? MVQ_ROPE_NEOX : MVQ_ROPE_NORMAL;
    *arch_out = arch;

    if (!get_hparam_int(g, arch, "embedding_length", -1, &hp->n_embd, err) ||
        !get_hparam_int(g, arch, "block_count", -1, &hp->n_layer, err) ||
        !get_hparam_int(g, arch, "feed_forward_length", -1, &hp->n_ff, err) ||
        !get_hparam_int(g, arch, "context_length", -1, &hp->n_ctx_train, err) ||
        !get_hparam_int(g, arch, "attention.head_count", -1, &hp->n_head, err) ||
        !get_hparam_int(g, arch, "attention.head_count_kv", hp->n_head, &hp->n_head_kv, err))
        return err ? err->status : MVQ_ERR_FORMAT;
    if (hp->n_embd % hp->n_head != 0)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: embedding_length %lld is not a multiple of head_count %lld",
                             path, (long long)hp->n_embd, (long long)hp->n_head);
    if (!get_hparam_int(g, arch, "attention.key_length", hp->n_embd / hp->n_head, &hp->head_dim, err) ||
        !get_hparam_int(g, arch, "rope.dimension_count", hp->head_dim, &hp->n_rot, err))
        return err ? err->status : MVQ_ERR_FORMAT;
    if (!get_hparam_float(g, arch, "attention.layer_norm_rms_epsilon", 0, true, &hp->rms_eps, err) ||
        !get_hparam_float(g, arch, "rope.freq_base", 10000.0, false, &hp->rope_freq_base, err))
        return err ? err->status : MVQ_ERR_FORMAT;
    if (hp->n_head % hp->n_head_kv != 0)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: head_count %lld is not a multiple of head_count_kv %lld",
                             path, (long long)hp->n_head, (long long)hp->n_head_kv);
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: rope.dimension_count %lld does not fit head size %lld",
                             path, (long long)hp->n_rot, (long long)hp->head_dim);
    if (!(hp->rms_eps >= 0) || !(hp->rope_freq_base > 0))
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: bad rms epsilon or rope base", path);
    return MVQ_OK;
}

/* Binds a tensor by name, checking its shape [n_in, n_out] and that the
 * kernels can read its type.  Absent optional tensors leave w empty. */
static mvq_status bind(const mvq_gguf *g, mvq_weight *w, const char *name, int64_t n_in, int64_t n_out,
                       bool optional, mvq_error *err)
{
    const char *path = mvq_gguf_path(g);
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, name);
    memset(w, 0, sizeof *w);
    if (!t)
        return optional ? MVQ_OK : mvq_error_set(err, MVQ_ERR_FORMAT, "%s: missing tensor %s", path, name);
    int64_t ne2 = t->n_dims >= 3 ? t->ne[2] * t->ne[3] : 1;
    if (t->ne[0] != n_in || t->ne[1] != n_out || ne2 != 1)
        return mvq_error_set(err, MVQ_ERR_FORMAT, "%s: tensor %s has shape [%lld, %lld], expected [%lld, %lld]",
                             path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)n_in,
                             (long long)n_out);
    const mvq_type_traits *tr = mvq_type_traits_get((mvq_type)t->type);
    const mvq_kernel_table *k = mvq_kernels();
    if (!tr || t->type >= MVQ_TYPE_COUNT || !k->to_float[t->type])
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "%s: tensor %s has type %s, which the kernels cannot read",
                             path, name, tr ? tr->name : "unknown");
    w->name = t->name.data;
    w->type = (mvq_type)t->type;
    w->data = t->data;
    w->n_in = n_in;
    w->n_out = n_out;
    return MVQ_OK;
}

static mvq_status bind_layer(const mvq_gguf *g, const mvq_hparams *hp, int64_t il, mvq_layer *L, mvq_error *err)
{
    const int64_t q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int64_t n_in[MVQ_LINEAR_COUNT] = {hp->n_embd, hp->n_embd, hp->n_embd, q_dim,
                                            hp->n_embd, hp->n_embd, hp->n_ff};
    const int64_t n_out[MVQ_LINEAR_COUNT] = {q_dim, kv_dim, kv_dim, hp->n_embd, hp->n_ff, hp->n_ff, hp->n_embd};
    char name[96];
    mvq_status st;
#define BIND(w, suffix, ni, no, opt)                                          \
    do {                                                                      \
        snprintf(name, sizeof name, "blk.%lld.%s", (long long)il, suffix);   \
        if ((st = bind(g, w, name, ni, no, opt, err)) != MVQ_OK)              \
            return st;                                                        \
    } while (0)
    BIND(&L->attn_norm, "attn_norm.weight", hp->n_embd, 1, false);
    BIND(&L->ffn_norm, "ffn_norm.weight", hp->n_embd, 1, false);
    for (int i = 0; i < MVQ_LINEAR_COUNT; i++) {
        char suffix[48];
        snprintf(suffix, sizeof suffix, "%s.weight", linear_names[i]);
        BIND(&L->linear[i], suffix, n_in[i], n_out[i], false);
        snprintf(suffix, sizeof suffix, "%s.bias", linear_names[i]);
        bool required = hp->arch == MVQ_ARCH_QWEN2 && i <= MVQ_LINEAR_V;
        BIND(&L->bias[i], suffix, n_out[i], 1, !required);
    }
#undef BIND
    return MVQ_OK;
}

mvq_model *mvq_model_from_gguf(const mvq_gguf *g, mvq_error *err)
{
    mvq_model *m = calloc(1, sizeof *m);
    if (!m) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", mvq_gguf_path(g));
        return NULL;
    }
    m->gguf = g;
    const char *arch;
    mvq_hparams *hp = &m->hp;
    if (read_hparams(g, hp, &arch, err) != MVQ_OK)
        goto fail;
    const mvq_gguf_tensor *emb = mvq_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: missing tensor token_embd.weight", mvq_gguf_path(g));
        goto fail;
    }
    hp->n_vocab = emb->ne[1];
    if (bind(g, &m->token_embd, "token_embd.weight", hp->n_embd, hp->n_vocab, false, err) != MVQ_OK ||
        bind(g, &m->output_norm, "output_norm.weight", hp->n_embd, 1, false, err) != MVQ_OK ||
        bind(g, &m->output, "output.weight", hp->n_embd, hp->n_vocab, true, err) != MVQ_OK ||
        bind(g, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 1, true, err) != MVQ_OK)
        goto fail;
    if (!m->output.data) {
        m->output = m->token_embd;
        m->output_tied = true;
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", mvq_gguf_path(g));
        goto fail;
    }
    for (int64_t il = 0; il < hp->n_layer; il++)
        if (bind_layer(g, hp, il, &m->layers[il], err) != MVQ_OK)
            goto fail;
    return m;
fail:
    free(m->layers);
    free(m);
    return NULL;
}

mvq_model *mvq_model_open(const char *path, mvq_error *err)
{
    mvq_gguf *g = mvq_gguf_open(path, err);
    if (!g)
        return NULL;
    mvq_model *m = mvq_model_from_gguf(g, err);
    if (!m) {
        mvq_gguf_close(g);
        return NULL;
    }
    m->owns_gguf = true;
    return m;
}

void mvq_model_free(mvq_model *m)
{
    if (!m)
        return;
    if (m->owns_gguf)
        mvq_gguf_close((mvq_gguf *)m->gguf);
    free(m->layers);
    free(m);
}
