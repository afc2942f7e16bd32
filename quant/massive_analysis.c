/* The massive-value analysis of calibration statistics: every panel (Q, K,
 * V of a layer) detected once.  `mvquant massive` prints it; the job's
 * protection map (protect.c) is made from it, so the two never disagree. */
#include "config.h"
#include <mvquant/massive.h>

#include <stdlib.h>
#include <string.h>

mvq_status mvq_massive_analyse(const mvq_calib *c, const mvq_massive_params *p, int64_t layer_from,
                               int64_t layer_to, mvq_massive_analysis *a, mvq_error *err)
{
    const mvq_hparams *hp = mvq_calib_hparams(c);
    memset(a, 0, sizeof *a);
    if (layer_from < 0 || layer_to >= hp->n_layer || layer_from > layer_to)
        return mvq_error_set(err, MVQ_ERR_ARG, "massive values: layers %lld..%lld outside the model's 0..%lld",
                             (long long)layer_from, (long long)layer_to, (long long)hp->n_layer - 1);
    a->hp = *hp;
    a->layer_from = layer_from;
    a->layer_to = layer_to;
    const int64_t n = (layer_to - layer_from + 1) * 3;
    if (!(a->panels = calloc((size_t)n, sizeof *a->panels)))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory analysing massive values");
    for (int64_t l = layer_from; l <= layer_to; l++)
        for (int w = 0; w < 3; w++) {
            mvq_massive_panel *q = mvq_massive_panel_at(a, l, (mvq_calib_qkv)w);
            q->n_head = (int)mvq_calib_heads(c, (mvq_calib_qkv)w);
            q->head_dim = (int)hp->head_dim;
            const size_t cells = (size_t)q->n_head * (size_t)q->head_dim;
            q->M = malloc(cells * sizeof *q->M);
            q->mask = malloc(cells ? cells : 1);
            q->heads = malloc((size_t)(q->n_head ? q->n_head : 1) * sizeof *q->heads);
            if (!q->M || !q->mask || !q->heads) {
                mvq_massive_analysis_free(a);
                return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory analysing massive values");
            }
            mvq_calib_norms(c, (mvq_calib_qkv)w, l, q->M);
            q->n_massive = mvq_massive_detect(q->M, q->n_head, q->head_dim, (int)hp->n_rot, hp->rope_freq_base,
                                              hp->rope_style == MVQ_ROPE_NEOX, p, q->mask, q->heads);
        }
    return MVQ_OK;
}

void mvq_massive_analysis_free(mvq_massive_analysis *a)
{
    for (int64_t i = 0; a->panels && i < (a->layer_to - a->layer_from + 1) * 3; i++) {
        free(a->panels[i].M);
        free(a->panels[i].mask);
        free(a->panels[i].heads);
    }
    free(a->panels);
    memset(a, 0, sizeof *a);
}
