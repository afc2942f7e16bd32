/* The scale search of the reference weight quantizers (see kernels/ref.h
 * for the algorithm).  The search is run in rounds: every candidate whose
 * scale is known is evaluated in one batch (search_eval.h), each chain of
 * refits advancing one step per round; the winner is then chosen by
 * scanning the passes in the order ref.h lists them, so the result is the
 * same whatever evaluator (scalar or SIMD lanes) computed the sums. */
#include "config.h"

#include <float.h>
#include <math.h>

#include "kernels/search_eval.h"

#define MAX_HALF_STEPS 15
#define MAX_CHAINS (2 * (2 * MAX_HALF_STEPS + 1))
#define MAX_REFITS 4

static float round_fp16(float f)
{
    return mvq_round_fp16(f);
}

/* The fp16 value next to d (exactly representable) away from / toward zero. */
static float fp16_neighbour(float d, int dir)
{
    mvq_half h = mvq_fp32_to_fp16(d);
    int mag = h & 0x7fff;
    mag += dir;
    if (mag < 0 || mag >= 0x7c00)
        return d;
    return mvq_fp16_to_fp32((mvq_half)((h & 0x8000) | mag));
}

static int half_steps(const mvq_grid *g)
{
    return g->half_steps < MAX_HALF_STEPS ? g->half_steps : MAX_HALF_STEPS;
}

static int refits(const mvq_grid *g)
{
    return g->refits < MAX_REFITS ? g->refits : MAX_REFITS;
}

/* Codes of a block at (d, m): the nearest level of each (x - m)/d, clamped
 * to the grid (the clamp first, in float, so the conversion never
 * overflows). */
static void assign_codes(const mvq_levels *lv, const float *x, int n, float d, float m,
                         uint8_t *codes)
{
    const float id = mvq_inverse_scale(d);
    for (int j = 0; j < n; j++) {
        const float t = (x[j] - m) * id;
        if (lv->g->values) {
            codes[j] = (uint8_t)mvq_table_code(lv, t);
        } else {
            const float c = t < lv->lo ? lv->lo : t > lv->hi ? lv->hi : t;
            codes[j] = (uint8_t)(mvq_nearest_int(c) - lv->g->lo);
        }
    }
}

/* The lowest error seen, the first on ties. */
typedef struct {
    float d, m, err;
} best_pass;

static void consider(best_pass *b, float err, float d, float m)
{
    if (err < b->err) {
        b->err = err;
        b->d = d;
        b->m = m;
    }
}

/* ---- symmetric: y = level * d ---- */

void mvq_assign_symmetric(const mvq_levels *lv, const float *x, int n, float d, uint8_t *codes)
{
    assign_codes(lv, x, n, d, 0.0f, codes);
}

float mvq_search_symmetric_with(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                                const float *w, int n, uint8_t *codes)
{
    const mvq_grid *g = lv->g;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    best_pass best = {0.0f, 0.0f, FLT_MAX};
    if (amax > 0.0f) {
        int anchors[2];
        const int n_anchors = mvq_grid_anchors(g, anchors);
        const int K = half_steps(g), R = refits(g);
        /* chain c's pass r: scale seen[c][r]; live[] the chains still going */
        float seen_d[MAX_CHAINS][MAX_REFITS + 1], seen_err[MAX_CHAINS][MAX_REFITS + 1];
        int len[MAX_CHAINS], live[MAX_CHAINS], nc = 0;
        float d[MAX_CHAINS];
        mvq_sym_pass p[MAX_CHAINS];
        for (int a = 0; a < n_anchors; a++)
            for (int k = -K; k <= K; k++) {
                d[nc] = round_fp16(max / ((float)anchors[a] * (1.0f + g->step * (float)k)));
                live[nc] = nc;
                len[nc++] = 0;
            }
        for (int n_live = nc; n_live > 0;) {
            e->sym(x, w, n, lv, d, n_live, p);
            int still = 0;
            for (int i = 0; i < n_live; i++) {
                const int c = live[i], r = len[c]++;
                seen_d[c][r] = d[i];
                seen_err[c][r] = p[i].err;
                if (r == R || !(p[i].svv > 0.0f))
                    continue;
                const float refit = round_fp16(p[i].sxv / p[i].svv);
                if (refit == d[i])
                    continue; /* converged: the same codes again */
                live[still] = c;
                d[still++] = refit;
            }
            n_live = still;
        }
        for (int c = 0; c < nc; c++)
            for (int r = 0; r < len[c]; r++)
                consider(&best, seen_err[c][r], seen_d[c][r], 0.0f);
        const float d1 = best.d;
        d[0] = fp16_neighbour(d1, -1);
        d[1] = fp16_neighbour(d1, 1);
        e->sym(x, w, n, lv, d, 2, p);
        for (int i = 0; i < 2; i++)
            consider(&best, p[i].err, d[i], 0.0f);
    }
    assign_codes(lv, x, n, best.d, 0.0f, codes);
    return best.d;
}

/* ---- affine: y = level * d + m, levels 0..n_levels-1 ---- */

/* Chains of least-squares refits from the starts (d[i], m[i]), advanced
 * together; every pass is considered in ref.h's order (chain by chain). */
static void affine_chains(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                          const float *w, int n, float sw, float sx, float *d, float *m, int nc,
                          best_pass *best)
{
    const int R = refits(lv->g);
    float seen_d[MAX_CHAINS][MAX_REFITS + 1], seen_m[MAX_CHAINS][MAX_REFITS + 1];
    float seen_err[MAX_CHAINS][MAX_REFITS + 1];
    int len[MAX_CHAINS], live[MAX_CHAINS];
    mvq_aff_pass p[MAX_CHAINS];
    for (int c = 0; c < nc; c++) {
        live[c] = c;
        len[c] = 0;
    }
    for (int n_live = nc; n_live > 0;) {
        e->aff(x, w, n, lv, d, m, n_live, p);
        int still = 0;
        for (int i = 0; i < n_live; i++) {
            const int c = live[i], r = len[c]++;
            seen_d[c][r] = d[i];
            seen_m[c][r] = m[i];
            seen_err[c][r] = p[i].err;
            if (r == R)
                continue;
            const float det = sw * p[i].svv - p[i].sv * p[i].sv;
            if (!(det > 0.0f))
                continue;
            const float d2 = round_fp16((sw * p[i].sxv - sx * p[i].sv) / det);
            const float m2 = round_fp16((p[i].svv * sx - p[i].sv * p[i].sxv) / det);
            if (d2 == d[i] && m2 == m[i])
                continue; /* converged */
            live[still] = c;
            d[still] = d2;
            m[still++] = m2;
        }
        n_live = still;
    }
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < len[c]; r++)
            consider(best, seen_err[c][r], seen_d[c][r], seen_m[c][r]);
}

void mvq_search_affine_with(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                            const float *w, int n, uint8_t *codes, float *d_out, float *m_out)
{
    const mvq_grid *g = lv->g;
    const int nmax = g->n_levels - 1;
    float min = x[0], max = x[0], sw = 0.0f, sx = 0.0f;
    for (int j = 1; j < n; j++) {
        min = x[j] < min ? x[j] : min;
        max = x[j] > max ? x[j] : max;
    }
    for (int j = 0; j < n; j++) {
        sw += w[j];
        sx += w[j] * x[j];
    }
    const float m0 = round_fp16(min);
    best_pass best = {0.0f, m0, FLT_MAX};
    float d[MAX_CHAINS], m[MAX_CHAINS];
    mvq_aff_pass p[4];
    d[0] = 0.0f;
    m[0] = m0;
    e->aff(x, w, n, lv, d, m, 1, p);
    consider(&best, p[0].err, 0.0f, m0);
    if (max > min) {
        const int K = half_steps(g);
        int nc = 0;
        for (int k = -K; k <= K; k++, nc++) {
            d[nc] = round_fp16((max - min) / ((float)nmax * (1.0f + g->step * (float)k)));
            m[nc] = m0;
        }
        affine_chains(e, lv, x, w, n, sw, sx, d, m, nc, &best);
        /* The offset is multimodal when an outlier fixes the step (the
         * refits keep its phase): shift the winner's levels by quarter steps. */
        const float d1 = best.d, m1 = best.m;
        static const int shifts[3] = {-1, 1, 2};
        for (int i = 0; i < 3; i++) {
            d[i] = d1;
            m[i] = round_fp16(m1 + d1 * 0.25f * (float)shifts[i]);
        }
        affine_chains(e, lv, x, w, n, sw, sx, d, m, 3, &best);
        const float d2 = best.d, m2 = best.m;
        for (int dir = -1, i = 0; dir <= 1; dir += 2, i += 2) {
            d[i] = fp16_neighbour(d2, dir);
            m[i] = m2;
            d[i + 1] = d2;
            m[i + 1] = fp16_neighbour(m2, dir);
        }
        e->aff(x, w, n, lv, d, m, 4, p);
        for (int i = 0; i < 4; i++)
            consider(&best, p[i].err, d[i], m[i]);
    }
    assign_codes(lv, x, n, best.d, best.m, codes);
    *d_out = best.d;
    *m_out = best.m;
}

float mvq_search_symmetric(const float *x, const float *w, int n, const mvq_grid *g, uint8_t *codes)
{
    mvq_levels lv;
    mvq_levels_init(&lv, g);
    return mvq_search_symmetric_with(&mvq_search_evals_ref, &lv, x, w, n, codes);
}

void mvq_search_affine(const float *x, const float *w, int n, const mvq_grid *g, uint8_t *codes,
                       float *d, float *m)
{
    mvq_levels lv;
    mvq_levels_init(&lv, g);
    mvq_search_affine_with(&mvq_search_evals_ref, &lv, x, w, n, codes, d, m);
}
