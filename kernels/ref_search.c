/* The scale search of the reference weight quantizers (see kernels/ref.h
 * for the algorithm; SIMD versions must follow it step for step). */
#include "config.h"

#include <float.h>
#include <math.h>

#include "kernels/ref.h"

#define MAX_HALF_STEPS 15

static float round_fp16(float f)
{
    if (f > 65504.0f)
        f = 65504.0f;
    if (f < -65504.0f)
        f = -65504.0f;
    return mvq_fp16_to_fp32(mvq_fp32_to_fp16(f));
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

/* Codes of a block at scale d (and minimum m): the nearest level of each
 * x/d, clamped to the grid.  The clamp comes first, in float, so the
 * integer conversion never overflows. */
static int nearest_uniform(float t, float lo, float hi)
{
    t = t < lo ? lo : t > hi ? hi : t;
    return mvq_nearest_int(t);
}

/* Table levels: the number of midpoints between neighbours at or below t
 * (a tie goes to the upper level). */
static int nearest_in_table(float t, const float *mid, int n_mid)
{
    int c = 0;
    for (int k = 0; k < n_mid; k++)
        c += t >= mid[k];
    return c;
}

/* ---- symmetric: y = level * d ---- */

typedef struct {
    float err, sxv, svv; /* error; sum w x v; sum w v^2 */
} sym_pass;

static sym_pass sym_assign(const float *x, const float *w, int n, const mvq_grid *g, float d,
                           uint8_t *codes)
{
    const float id = mvq_inverse_scale(d);
    float level[256], mid[255];
    const int nl = g->n_levels;
    for (int k = 0; k < nl && g->values; k++)
        level[k] = (float)g->values[k];
    for (int k = 1; k < nl && g->values; k++)
        mid[k - 1] = 0.5f * (float)(g->values[k - 1] + g->values[k]);
    const float lo = (float)g->lo, hi = (float)(g->lo + nl - 1);
    sym_pass r = {0.0f, 0.0f, 0.0f};
    for (int j = 0; j < n; j++) {
        const float t = x[j] * id;
        int c;
        float v;
        if (g->values) {
            c = nearest_in_table(t, mid, nl - 1);
            v = level[c];
        } else {
            const int q = nearest_uniform(t, lo, hi);
            c = q - g->lo;
            v = (float)q;
        }
        const float diff = x[j] - v * d;
        codes[j] = (uint8_t)c;
        r.err += w[j] * diff * diff;
        r.sxv += w[j] * x[j] * v;
        r.svv += w[j] * v * v;
    }
    return r;
}

mvq_sym_fit mvq_assign_symmetric(const float *x, const float *w, int n, const mvq_grid *g, float d,
                                 uint8_t *codes)
{
    const sym_pass p = sym_assign(x, w, n, g, d, codes);
    return (mvq_sym_fit){p.err, p.sxv, p.svv};
}

float mvq_search_symmetric(const float *x, const float *w, int n, const mvq_grid *g,
                           uint8_t *codes)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    uint8_t tmp[256];
    float best_d = 0.0f, best_err = FLT_MAX;
    if (amax > 0.0f) {
        const int anchors[2] = {g->values ? g->values[0] : g->lo,
                                g->values ? g->values[g->n_levels - 1] : g->lo + g->n_levels - 1};
        const int K = g->half_steps < MAX_HALF_STEPS ? g->half_steps : MAX_HALF_STEPS;
        for (int a = 0; a < 2; a++)
            for (int k = -K; k <= K; k++) {
                float d = round_fp16(max / ((float)anchors[a] * (1.0f + g->step * (float)k)));
                sym_pass p = sym_assign(x, w, n, g, d, tmp);
                for (int it = 0;; it++) {
                    if (p.err < best_err) {
                        best_err = p.err;
                        best_d = d;
                    }
                    if (it == g->refits || !(p.svv > 0.0f))
                        break;
                    const float refit = round_fp16(p.sxv / p.svv);
                    if (refit == d)
                        break; /* converged: the same codes again */
                    d = refit;
                    p = sym_assign(x, w, n, g, d, tmp);
                }
            }
        const float d1 = best_d;
        for (int dir = -1; dir <= 1; dir += 2) {
            const float d = fp16_neighbour(d1, dir);
            sym_pass p = sym_assign(x, w, n, g, d, tmp);
            if (p.err < best_err) {
                best_err = p.err;
                best_d = d;
            }
        }
    }
    sym_assign(x, w, n, g, best_d, codes);
    return best_d;
}

/* ---- affine: y = level * d + m, levels 0..n_levels-1 ---- */

typedef struct {
    float err, sw, sv, svv, sx, sxv;
} aff_pass;

static aff_pass aff_assign(const float *x, const float *w, int n, int nmax, float d, float m,
                           uint8_t *codes)
{
    const float id = mvq_inverse_scale(d);
    aff_pass r = {0};
    for (int j = 0; j < n; j++) {
        const int c = nearest_uniform((x[j] - m) * id, 0.0f, (float)nmax);
        const float v = (float)c;
        const float t = v * d;
        const float y = t + m;
        const float diff = x[j] - y;
        codes[j] = (uint8_t)c;
        r.err += w[j] * diff * diff;
        r.sw += w[j];
        r.sv += w[j] * v;
        r.svv += w[j] * v * v;
        r.sx += w[j] * x[j];
        r.sxv += w[j] * x[j] * v;
    }
    return r;
}

typedef struct {
    float d, m, err;
} aff_best;

static void aff_try(const float *x, const float *w, int n, int nmax, float d, float m,
                    uint8_t *tmp, aff_best *best, aff_pass *out)
{
    aff_pass p = aff_assign(x, w, n, nmax, d, m, tmp);
    if (p.err < best->err) {
        best->err = p.err;
        best->d = d;
        best->m = m;
    }
    if (out)
        *out = p;
}

/* One candidate: nearest codes at (d, m), then least-squares refits. */
static void aff_descend(const float *x, const float *w, int n, int nmax, float d, float m,
                        int refits, uint8_t *tmp, aff_best *best)
{
    aff_pass p;
    aff_try(x, w, n, nmax, d, m, tmp, best, &p);
    for (int it = 0; it < refits; it++) {
        const float det = p.sw * p.svv - p.sv * p.sv;
        if (!(det > 0.0f))
            break;
        const float d2 = round_fp16((p.sw * p.sxv - p.sx * p.sv) / det);
        const float m2 = round_fp16((p.svv * p.sx - p.sv * p.sxv) / det);
        if (d2 == d && m2 == m)
            break; /* converged */
        d = d2;
        m = m2;
        aff_try(x, w, n, nmax, d, m, tmp, best, &p);
    }
}

void mvq_search_affine(const float *x, const float *w, int n, const mvq_grid *g, uint8_t *codes,
                       float *d_out, float *m_out)
{
    const int nmax = g->n_levels - 1;
    float min = x[0], max = x[0];
    for (int j = 1; j < n; j++) {
        min = x[j] < min ? x[j] : min;
        max = x[j] > max ? x[j] : max;
    }
    uint8_t tmp[256];
    const float m0 = round_fp16(min);
    aff_best best = {0.0f, m0, FLT_MAX};
    aff_try(x, w, n, nmax, 0.0f, m0, tmp, &best, NULL);
    if (max > min) {
        const int K = g->half_steps < MAX_HALF_STEPS ? g->half_steps : MAX_HALF_STEPS;
        for (int k = -K; k <= K; k++) {
            const float d = round_fp16((max - min) / ((float)nmax * (1.0f + g->step * (float)k)));
            aff_descend(x, w, n, nmax, d, m0, g->refits, tmp, &best);
        }
        /* The offset is multimodal when an outlier fixes the step (the
         * refits keep its phase): shift the winner's levels by quarter steps. */
        const float d1 = best.d, m1 = best.m;
        for (int q = -1; q <= 2; q++)
            if (q != 0)
                aff_descend(x, w, n, nmax, d1, round_fp16(m1 + d1 * 0.25f * (float)q), g->refits,
                            tmp, &best);
        const float d2 = best.d, m2 = best.m;
        for (int dir = -1; dir <= 1; dir += 2) {
            aff_try(x, w, n, nmax, fp16_neighbour(d2, dir), m2, tmp, &best, NULL);
            aff_try(x, w, n, nmax, d2, fp16_neighbour(m2, dir), tmp, &best, NULL);
        }
    }
    aff_assign(x, w, n, nmax, best.d, best.m, codes);
    *d_out = best.d;
    *m_out = best.m;
}
