/* mvquant: massive values in attention queries and keys (Jin et al., ICML
 * 2025): where a head dimension sits in RoPE, and which dimensions of a
 * layer's Q/K norms are massive. */
#ifndef MVQUANT_MASSIVE_H
#define MVQUANT_MASSIVE_H

#include <mvquant/calib.h>
#include <mvquant/common.h>
#include <mvquant/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- massive values (Jin et al., ICML 2025) ----
 * For Q (or K) after RoPE in one layer, M[h][d] = ||Q[:,h,d]||_2 over the
 * tokens.  Dimension d of head h is massive when M[h][d] > lambda * mean_d
 * M[h][.] (lambda = 5 in the paper), or, with topk > 0, when it is among
 * the topk largest of its head. */
typedef struct mvq_massive_params {
    double lambda; /* default 5 */
    int topk;      /* 0: use lambda */
} mvq_massive_params;

/* Where a head dimension sits in RoPE. */
typedef struct mvq_rope_dim {
    int pair;          /* rotation pair index i (theta_i = base^(-2i/n_rot)); -1 if not rotated */
    double freq;       /* theta_i, radians per token; 0 if not rotated */
    double wavelength; /* 2 pi / theta_i tokens; +inf if not rotated */
} mvq_rope_dim;

/* neox: pairs are (i, i + n_rot/2) (qwen2); otherwise adjacent (2i, 2i+1) (llama). */
MVQ_API mvq_rope_dim mvq_rope_dim_info(int d, int n_rot, double base, bool neox);

typedef struct mvq_massive_head {
    int top_dim;          /* argmax_d M[h][d] */
    double top_ratio;     /* M[h][top_dim] / mean_d M[h][.] */
    int n_massive;        /* dimensions flagged in this head */
    double lowfreq_share; /* share of sum_d M[h][d]^2 held by the low-frequency half of the pairs */
} mvq_massive_head;

/* M: n_head rows of head_dim norms.  mask (n_head * head_dim, may be NULL)
 * receives 1 for massive dimensions; heads (n_head, may be NULL) the
 * per-head summary.  Returns the number of massive dimensions. */
MVQ_API int mvq_massive_detect(const float *M, int n_head, int head_dim, int n_rot, double rope_base,
                               bool neox, const mvq_massive_params *p, uint8_t *mask,
                               mvq_massive_head *heads);

/* ---- the analysis of calibration statistics (mvquant massive, and the
 * job's protection) ---- */

/* Q, K or V of one layer: M[h][d] and what detection found. */
typedef struct mvq_massive_panel {
    int n_head, head_dim;
    float *M;                /* n_head * head_dim norms */
    uint8_t *mask;           /* 1 for massive dimensions */
    mvq_massive_head *heads; /* per head */
    int n_massive;
} mvq_massive_panel;

typedef struct mvq_massive_analysis {
    mvq_hparams hp;
    int64_t layer_from, layer_to; /* inclusive */
    mvq_massive_panel *panels;    /* [(layer - layer_from) * 3 + mvq_calib_qkv] */
} mvq_massive_analysis;

static inline mvq_massive_panel *mvq_massive_panel_at(const mvq_massive_analysis *a, int64_t layer,
                                                      mvq_calib_qkv which)
{
    return &a->panels[(layer - a->layer_from) * 3 + which];
}

/* Detection on Q, K and V of layers layer_from..layer_to of c's norms
 * (which must hold norms: mvq_calib_has_norms). */
MVQ_API mvq_status mvq_massive_analyse(const mvq_calib *c, const mvq_massive_params *p, int64_t layer_from,
                                       int64_t layer_to, mvq_massive_analysis *a, mvq_error *err);
MVQ_API void mvq_massive_analysis_free(mvq_massive_analysis *a);

#ifdef __cplusplus
}
#endif
#endif
