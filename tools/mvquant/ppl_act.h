/* mvquant perplexity --act int8 / --act-bmm int8 / --protect-massive:
 * the options and the int8 activations they build. */
#ifndef MVQ_TOOLS_PPL_ACT_H
#define MVQ_TOOLS_PPL_ACT_H

#include <mvquant/model.h>
#include <stdio.h>

typedef struct ppl_act {
    const char *act, *act_bmm; /* "int8", or NULL: none */
    bool protect, ignore;      /* the massive Q/K channels under --act-bmm */
    mvq_act_int8 *a;
    int64_t n_kept;
    const char *mask_from; /* "file", "calib" */
} ppl_act;

/* Checks the options (a one-line message in err); calib and topk are the
 * command's --calib and --kv-massive-topk, which pick the massive channels. */
mvq_status ppl_act_setup(ppl_act *p, const mvq_model *m, long n_ctx, int32_t bos, const char *calib, long topk,
                         mvq_pool *pool, mvq_error *err);
void ppl_act_print(const ppl_act *p, const mvq_model *m, FILE *to);
void ppl_act_free(ppl_act *p);

#endif
