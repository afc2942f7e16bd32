/* mvquant perplexity --kv-type-k/--kv-type-v/--kv-protect-massive. */
#include "config.h"
#include "tools/mvquant/ppl_kv.h"
#include <mvquant/quantize.h>

#include <stdlib.h>
#include <string.h>

static mvq_status parse_type(const char *name, mvq_type *t, mvq_error *err)
{
    if (!name) {
        *t = MVQ_TYPE_F32;
        return MVQ_OK;
    }
    const int id = mvq_type_from_name(name);
    if (id < 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: unknown type '%s'", name);
    *t = (mvq_type)id;
    return MVQ_OK;
}

void ppl_kv_defaults(ppl_kv *a)
{
    a->topk = 2;
    a->bits = 4;
    a->group = 32;
    a->residual = 128;
}

bool ppl_kv_active(const ppl_kv *a)
{
    return a->kv.scheme != MVQ_KV_PER_TOKEN || a->kv.type_k != MVQ_TYPE_F32 || a->kv.type_v != MVQ_TYPE_F32 || a->kv.k_keep || a->kv.k_scale;
}

static mvq_status from_calib(ppl_kv *a, const mvq_model *m, long n_ctx, int32_t bos, mvq_pool *pool,
                             mvq_error *err)
{
    int32_t *tokens = NULL;
    int64_t n = 0;
    mvq_calib *c = mvq_calib_new(&m->hp, err);
    if (!c)
        return err->status;
    mvq_status st = mvq_calib_text_tokens(m, a->calib, 0, &tokens, &n, err);
    const mvq_calib_opts o = {.n_ctx = n_ctx, .bos = bos};
    if (st == MVQ_OK)
        st = mvq_calib_run(c, m, tokens, n, &o, pool, err);
    if (st == MVQ_OK) {
        const mvq_massive_params p = {.lambda = 5, .topk = (int)a->topk};
        a->n_kept = mvq_kv_massive_from_calib(c, &p, a->keep, a->scale);
        a->mask_from = "calib";
    }
    free(tokens);
    mvq_calib_free(c);
    return st;
}

mvq_status ppl_kv_setup(ppl_kv *a, const mvq_model *m, long n_ctx, int32_t bos, mvq_pool *pool, mvq_error *err)
{
    const mvq_hparams *hp = &m->hp;
    const int64_t n = hp->n_layer * hp->n_head_kv * hp->head_dim;
    mvq_status st = parse_type(a->type_k, &a->kv.type_k, err);
    a->n_ctx = n_ctx;
    if (a->scheme && strcmp(a->scheme, "per-token") && strcmp(a->scheme, "per-channel"))
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: unknown --kv-scheme '%s' (per-token, per-channel)",
                             a->scheme);
    if (a->scheme && !strcmp(a->scheme, "per-channel"))
        a->kv = (mvq_kv_quant){.type_k = a->kv.type_k, .scheme = MVQ_KV_PER_CHANNEL, .k_bits = (int)a->bits,
                               .group = a->group, .residual = a->residual};
    if (st == MVQ_OK)
        st = parse_type(a->type_v, &a->kv.type_v, err);
    if (st == MVQ_OK)
        st = mvq_kv_check(&a->kv, hp, err);
    if (st != MVQ_OK || (!a->protect && !a->rescale))
        return st;
    a->keep = calloc((size_t)n, 1);
    a->scale = malloc((size_t)n * sizeof *a->scale);
    if (!a->keep || !a->scale)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "KV cache: out of memory");
    /* the file's own massive dims unless calibration text is given (rescaling needs the norms) */
    if (!a->calib && !a->rescale && (a->n_kept = mvq_kv_massive_from_file(m, a->keep)) >= 0)
        a->mask_from = "file";
    else if (!a->calib)
        return mvq_error_set(err, MVQ_ERR_ARG, "KV cache: %s needs --calib FILE%s",
                             a->rescale ? "--kv-rescale-pairs" : "--kv-protect-massive",
                             a->rescale ? "" : " (the model has no mvquant.massive keys)");
    else if ((st = from_calib(a, m, n_ctx, bos, pool, err)) != MVQ_OK)
        return st;
    if (a->rescale)
        a->kv.k_scale = a->scale;
    if (a->protect)
        a->kv.k_keep = a->keep;
    return MVQ_OK;
}

/* Per-channel K: its format, and the bits per value of the keys the scored
 * predictions read (positions n_ctx/2 .. n_ctx-2, the F16 residual counted). */
static void print_channel(const ppl_kv *a, const mvq_model *m, FILE *to)
{
    const mvq_hparams *hp = &m->hp;
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    size_t tok = 0, res = 0;
    for (int64_t l = 0; l < hp->n_layer; l++) {
        tok += mvq_kv_token_bytes(&a->kv, hp, 0, l);
        res += mvq_kv_residual_bytes(&a->kv, hp, l);
    }
    double bits = 0;
    int64_t n = 0;
    for (int64_t p = a->n_ctx / 2; p < a->n_ctx - 1; p++, n++) {
        const int64_t len = p + 1, nq = mvq_kv_channel_quantized(&a->kv, len);
        bits += (8.0 * (double)tok * (double)nq + 16.0 * (double)(hp->n_layer * kv_dim * (len - nq))) /
                (double)(hp->n_layer * kv_dim * len);
    }
    fprintf(to, "KV cache: K per channel (KIVI), %d bits, groups of %lld tokens, F16 residual of up to %lld "
            "tokens (%zu bytes)\n", a->kv.k_bits, (long long)a->kv.group,
            (long long)((a->kv.residual ? a->kv.residual : a->kv.group) - 1), res);
    if (n)
        fprintf(to, "KV cache: K as the scored predictions read it (n_ctx %ld): %.3f bits per value, F16 residual "
                "included\n", a->n_ctx, bits / (double)n);
}

void ppl_kv_print(const ppl_kv *a, const mvq_model *m, FILE *to)
{
    const mvq_hparams *hp = &m->hp;
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim;
    size_t bk = 0, bv = 0;
    for (int64_t l = 0; l < hp->n_layer; l++) {
        bk += mvq_kv_token_bytes(&a->kv, hp, 0, l);
        bv += mvq_kv_token_bytes(&a->kv, hp, 1, l);
    }
    const double per = (double)(hp->n_layer * kv_dim);
    fprintf(to, "KV cache: K %s, V %s%s%s, %zu bytes per token (K %.3f, V %.3f bits per value)\n",
            a->kv.scheme == MVQ_KV_PER_CHANNEL ? "per-channel" : mvq_type_name(a->kv.type_k),
            mvq_type_name(a->kv.type_v), mvq_kv_grouped(&a->kv, hp) ?
            ", blocks across the heads of a token (heads smaller than a block), queries in f32" : "",
            a->rescale ? ", massive K pairs rescaled against Q" : "", bk + bv, 8.0 * (double)bk / per,
            8.0 * (double)bv / per);
    if (a->kv.scheme == MVQ_KV_PER_CHANNEL)
        print_channel(a, m, to);
    if (a->mask_from)
        fprintf(to, "KV cache: %lld massive K channels (from the %s)%s\n", (long long)a->n_kept,
                a->mask_from[0] == 'f' ? "file's mvquant.massive keys" : "calibration text",
                a->protect ? " kept in F16" : "");
}

void ppl_kv_free(ppl_kv *a)
{
    free(a->keep);
    free(a->scale);
}
