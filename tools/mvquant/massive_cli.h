/* mvquant massive: the analysis the command prints, and its SVG figure. */
#ifndef MVQ_MASSIVE_CLI_H
#define MVQ_MASSIVE_CLI_H

#include <mvquant/quantize.h>

/* Q, K or V of one layer: M[h][d] and what detection found. */
typedef struct massive_panel {
    int n_head, head_dim;
    float *M;                /* n_head * head_dim norms */
    uint8_t *mask;           /* 1 for massive dimensions */
    mvq_massive_head *heads; /* per head */
    int n_massive;
} massive_panel;

typedef struct massive_analysis {
    mvq_hparams hp;
    int64_t layer_from, layer_to; /* inclusive */
    massive_panel *panels;        /* [(layer - layer_from) * 3 + mvq_calib_qkv] */
} massive_analysis;

static inline massive_panel *massive_panel_at(const massive_analysis *a, int64_t layer, int which)
{
    return &a->panels[(layer - a->layer_from) * 3 + which];
}

/* The paper's figure: per layer, heatmaps of M for Q, K and V (heads x
 * head dimension) with colour scales and labels.  Written to a temporary
 * file beside path, renamed into place when complete. */
/* The heatmaps as an SVG figure titled title; shared_scale: one colour scale
 * per column (Q, K, V) across the layers drawn, else one per panel. */
mvq_status massive_write_svg(const char *path, const massive_analysis *a, const char *title, bool shared_scale,
                             mvq_error *err);

#endif
