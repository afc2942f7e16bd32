/* mvquant perplexity's int8 activations: W8A8 linears and, with
 * --act-bmm, Q/K/V per token in int8, the massive channels picked as
 * --kv-protect-massive picks them (ppl_kv). */
#include "config.h"
#include "tools/mvquant/ppl_act.h"
#include "tools/mvquant/ppl_kv.h"

#include <stdlib.h>
#include <string.h>

static mvq_status parse_kind(const char *opt, const char *v, bool *on, mvq_error *err)
{
    *on = v != NULL;
    if (v && strcmp(v, "int8") != 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: unknown activation type '%s' (int8)", opt, v);
    return MVQ_OK;
}

mvq_status ppl_act_setup(ppl_act *p, const mvq_model *m, long n_ctx, int32_t bos, const char *calib, long topk,
                         mvq_pool *pool, mvq_error *err)
{
    mvq_act_int8_opts o = {0};
    mvq_status st = parse_kind("--act", p->act, &o.linears, err);
    if (st == MVQ_OK)
        st = parse_kind("--act-bmm", p->act_bmm, &o.bmm, err);
    if (st != MVQ_OK)
        return st;
    if (p->protect && p->ignore)
        return mvq_error_set(err, MVQ_ERR_ARG, "--protect-massive and --ignore-massive exclude each other");
    if ((p->protect || p->ignore) && !o.bmm)
        return mvq_error_set(err, MVQ_ERR_ARG, "--%s-massive needs --act-bmm int8",
                             p->protect ? "protect" : "ignore");
    if (!o.linears && !o.bmm)
        return MVQ_OK;
    ppl_kv mask = {.calib = calib, .topk = topk, .protect = true};
    if (p->protect) {
        const mvq_hparams *hp = &m->hp;
        uint8_t *probe = malloc((size_t)(hp->n_layer * hp->n_head_kv * hp->head_dim));
        const bool in_file = probe && mvq_kv_massive_from_file(m, probe) >= 0;
        free(probe);
        if (!calib && !in_file)
            return mvq_error_set(err, MVQ_ERR_ARG, "--protect-massive needs --calib FILE (%s has no mvquant.massive "
                                 "keys)", m->gguf ? "the model" : "a model in memory");
        if ((st = ppl_kv_setup(&mask, m, n_ctx, bos, pool, err)) != MVQ_OK) {
            ppl_kv_free(&mask);
            return st;
        }
        o.k_keep = mask.keep;
        p->n_kept = mask.n_kept;
        p->mask_from = mask.mask_from;
    }
    p->a = mvq_act_int8_create(m, &o, pool, err);
    ppl_kv_free(&mask);
    return p->a ? MVQ_OK : err->status;
}

void ppl_act_print(const ppl_act *p, const mvq_model *m, FILE *to)
{
    if (!p->a)
        return;
    if (p->act)
        fprintf(to, "activations: int8 per token into int8 per-channel weights (W8A8), %lld linears repacked "
                "(%.2f MiB)\n", (long long)(m->hp.n_layer * MVQ_LINEAR_COUNT),
                (double)mvq_act_int8_weight_bytes(p->a) / (1024.0 * 1024.0));
    if (!p->act_bmm)
        return;
    if (p->mask_from)
        fprintf(to, "attention: Q, K, V int8 per token, %lld massive K channels (from the %s) and their Q channels "
                "kept in F16\n", (long long)p->n_kept,
                p->mask_from[0] == 'f' ? "file's mvquant.massive keys" : "calibration text");
    else
        fprintf(to, "attention: Q, K, V int8 per token, massive channels in the scale\n");
}

void ppl_act_free(ppl_act *p)
{
    mvq_act_int8_free(p->a);
    p->a = NULL;
}
