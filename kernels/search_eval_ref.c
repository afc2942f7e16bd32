/* The reference candidate evaluators of the legacy scale search (see
 * search_eval.h).  Candidates are processed EVAL_CHUNK at a time with the
 * block's values in the outer loop: each candidate's sums still run over
 * the block in order, but independent candidates overlap in the pipeline
 * (and in SIMD lanes where the compiler sees them). */
#include "config.h"

#include "kernels/search_eval.h"

#define EVAL_CHUNK 8

void mvq_levels_init(mvq_levels *lv, const mvq_grid *g)
{
    memset(lv, 0, sizeof *lv);
    lv->g = g;
    lv->lo = (float)g->lo;
    lv->hi = (float)(g->lo + g->n_levels - 1);
    if (!g->values)
        return;
    const int nl = g->n_levels;
    for (int k = 0; k < nl; k++)
        lv->level[k] = (float)g->values[k];
    for (int k = 1; k < nl; k++)
        lv->mid[k - 1] = 0.5f * (float)(g->values[k - 1] + g->values[k]);
    /* bucket i holds the code of every t with floor(2t) = i - MVQ_BUCKET_HALF:
     * t >= mid exactly when floor(2t) >= 2*mid, an integer */
    for (int i = 0; i <= 2 * MVQ_BUCKET_HALF; i++) {
        int c = 0;
        for (int k = 0; k < nl - 1; k++)
            c += (float)(i - MVQ_BUCKET_HALF) >= 2.0f * lv->mid[k];
        lv->bucket[i] = (uint8_t)c;
        lv->bucket_level[i] = lv->level[c];
    }
}

/* Nearest integer of t within [lo, hi] as a float: the clamp first, then
 * round to nearest even (as mvq_nearest_int). */
static inline float uniform_level(float t, float lo, float hi)
{
    t = t < lo ? lo : t > hi ? hi : t;
    return (t + 12582912.f) - 12582912.f;
}

static void inverse_scales(const float *d, int nc, float *dd, float *id)
{
    for (int c = 0; c < nc; c++) {
        dd[c] = d[c];
        id[c] = mvq_inverse_scale(d[c]);
    }
}

static void sym_eval_chunk(const float *x, const float *w, int n, const mvq_levels *lv,
                           const float *d, int nc, mvq_sym_pass *out)
{
    float dd[EVAL_CHUNK], id[EVAL_CHUNK];
    float err[EVAL_CHUNK] = {0}, sxv[EVAL_CHUNK] = {0}, svv[EVAL_CHUNK] = {0};
    inverse_scales(d, nc, dd, id);
    const bool table = lv->g->values != NULL;
    for (int j = 0; j < n; j++) {
        const float xj = x[j], wj = w[j];
        for (int c = 0; c < nc; c++) {
            const float t = xj * id[c];
            const float v = table ? lv->level[mvq_table_code(lv, t)] : uniform_level(t, lv->lo, lv->hi);
            const float diff = xj - v * dd[c];
            err[c] += wj * diff * diff;
            sxv[c] += wj * xj * v;
            svv[c] += wj * v * v;
        }
    }
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_sym_pass){err[c], sxv[c], svv[c]};
}

static void sym_eval_ref(const float *x, const float *w, int n, const mvq_levels *lv, const float *d,
                         int nc, mvq_sym_pass *out)
{
    for (int c = 0; c < nc; c += EVAL_CHUNK)
        sym_eval_chunk(x, w, n, lv, d + c, nc - c < EVAL_CHUNK ? nc - c : EVAL_CHUNK, out + c);
}

static void aff_eval_chunk(const float *x, const float *w, int n, const mvq_levels *lv,
                           const float *d, const float *m, int nc, mvq_aff_pass *out)
{
    float dd[EVAL_CHUNK], id[EVAL_CHUNK], mm[EVAL_CHUNK];
    float err[EVAL_CHUNK] = {0}, sv[EVAL_CHUNK] = {0}, svv[EVAL_CHUNK] = {0}, sxv[EVAL_CHUNK] = {0};
    inverse_scales(d, nc, dd, id);
    for (int c = 0; c < nc; c++)
        mm[c] = m[c];
    for (int j = 0; j < n; j++) {
        const float xj = x[j], wj = w[j];
        for (int c = 0; c < nc; c++) {
            const float v = uniform_level((xj - mm[c]) * id[c], 0.0f, lv->hi);
            const float diff = xj - (v * dd[c] + mm[c]);
            err[c] += wj * diff * diff;
            sv[c] += wj * v;
            svv[c] += wj * v * v;
            sxv[c] += wj * xj * v;
        }
    }
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_aff_pass){err[c], sv[c], svv[c], sxv[c]};
}

static void aff_eval_ref(const float *x, const float *w, int n, const mvq_levels *lv, const float *d,
                         const float *m, int nc, mvq_aff_pass *out)
{
    for (int c = 0; c < nc; c += EVAL_CHUNK)
        aff_eval_chunk(x, w, n, lv, d + c, m + c, nc - c < EVAL_CHUNK ? nc - c : EVAL_CHUNK,
                       out + c);
}

const mvq_search_evals mvq_search_evals_ref = {.sym = sym_eval_ref, .aff = aff_eval_ref};
