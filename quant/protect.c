/* Which layers and rows carry massive values, for --protect-massive. */
#include "config.h"
#include "quant/quant_internal.h"

#include <stdlib.h>
#include <string.h>

mvq_status mvq_massive_map_build(mvq_massive_map *mm, const mvq_calib *c, const mvq_massive_params *p,
                                 mvq_error *err)
{
    const mvq_hparams *hp = mvq_calib_hparams(c);
    memset(mm, 0, sizeof *mm);
    if (hp->n_layer <= 0)
        return MVQ_OK;
    mvq_massive_analysis a;
    mvq_status st = mvq_massive_analyse(c, p, 0, hp->n_layer - 1, &a, err);
    if (st != MVQ_OK)
        return st;
    mm->n_layer = hp->n_layer;
    mm->head_dim = hp->head_dim;
    mm->n_q = hp->n_head * hp->head_dim;
    mm->n_k = hp->n_head_kv * hp->head_dim;
    mm->q = calloc((size_t)(mm->n_layer * mm->n_q), 1);
    mm->k = calloc((size_t)(mm->n_layer * mm->n_k), 1);
    mm->layer_count = calloc((size_t)mm->n_layer, sizeof(int));
    if (!mm->q || !mm->k || !mm->layer_count) {
        mvq_massive_analysis_free(&a);
        mvq_massive_map_free(mm);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory detecting massive values");
    }
    for (int64_t l = 0; l < mm->n_layer; l++) {
        const mvq_massive_panel *q = mvq_massive_panel_at(&a, l, MVQ_CALIB_Q), *k = mvq_massive_panel_at(&a, l, MVQ_CALIB_K);
        memcpy(mm->q + l * mm->n_q, q->mask, (size_t)mm->n_q);
        memcpy(mm->k + l * mm->n_k, k->mask, (size_t)mm->n_k);
        mm->layer_count[l] = q->n_massive + k->n_massive;
    }
    mvq_massive_analysis_free(&a);
    return MVQ_OK;
}

void mvq_massive_map_free(mvq_massive_map *mm)
{
    free(mm->q);
    free(mm->k);
    free(mm->layer_count);
    memset(mm, 0, sizeof *mm);
}

/* The dimension RoPE rotates together with d. */
static int64_t rope_partner(int64_t d, int64_t n_rot, bool neox)
{
    if (d >= n_rot)
        return d;
    if (neox)
        return d < n_rot / 2 ? d + n_rot / 2 : d - n_rot / 2;
    return d ^ 1;
}

int mvq_massive_rows(const mvq_massive_map *mm, const mvq_hparams *hp, int64_t layer, mvq_linear linear,
                     uint8_t *rows, int64_t n_out)
{
    if (!mm->q || layer < 0 || layer >= mm->n_layer)
        return 0;
    const uint8_t *mask;
    if (linear == MVQ_LINEAR_Q && n_out == mm->n_q)
        mask = mm->q + layer * mm->n_q;
    else if (linear == MVQ_LINEAR_K && n_out == mm->n_k)
        mask = mm->k + layer * mm->n_k;
    else
        return 0;
    bool neox = hp->rope_style == MVQ_ROPE_NEOX;
    memset(rows, 0, (size_t)n_out);
    int count = 0;
    for (int64_t r = 0; r < n_out; r++) {
        if (!mask[r])
            continue;
        int64_t head = r / mm->head_dim, d = r % mm->head_dim;
        int64_t partner = head * mm->head_dim + rope_partner(d, hp->n_rot, neox);
        count += !rows[r] + (partner != r && !rows[partner]);
        rows[r] = rows[partner] = 1;
    }
    return count;
}
