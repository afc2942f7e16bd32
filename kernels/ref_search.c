/* The scale search of the reference weight quantizers (see kernels/ref.h
 * for the algorithm; SIMD versions must follow it step for step). */
#include "config.h"

#include <float.h>
#include <math.h>

#include "kernels/ref.h"

#define MAX_CANDIDATES 64

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

static int level_of(const mvq_grid *g, int code)
{
    return g->values ? g->values[code] : g->lo + code;
}

/* The code whose level is nearest t (ties to the upper level). */
static int nearest_code(const mvq_grid *g, float t)
{
    if (!g->values) {
        int c = mvq_nearest_int(fminf(fmaxf(t, -4194303.f), 4194303.f)) - g->lo;
        return c < 0 ? 0 : c >= g->n_levels ? g->n_levels - 1 : c;
    }
    const float t2 = t + t;
    int c = 0;
    for (int k = 1; k < g->n_levels; k++)
        c += t2 >= (float)(g->values[k - 1] + g->values[k]);
    return c;
}

static float weight_at(const float *w, int j)
{
    return w ? w[j] : 1.0f;
}

/* ---- symmetric: y = level * d ---- */

typedef struct {
    float err, sxv, svv; /* error; sum w x v; sum w v^2 */
} sym_pass;

static sym_pass sym_assign(const float *x, const float *w, int n, const mvq_grid *g, float d,
                           uint8_t *codes)
{
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    sym_pass r = {0.0f, 0.0f, 0.0f};
    for (int j = 0; j < n; j++) {
        const int c = nearest_code(g, x[j] * id);
        const float v = (float)level_of(g, c);
        const float wj = weight_at(w, j);
        const float diff = x[j] - v * d;
        codes[j] = (uint8_t)c;
        r.err += wj * diff * diff;
        r.sxv += wj * x[j] * v;
        r.svv += wj * v * v;
    }
    return r;
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
    if (amax == 0.0f) {
        sym_assign(x, w, n, g, 0.0f, codes);
        return 0.0f;
    }

    float cand[MAX_CANDIDATES];
    int nc = 0;
    const int anchors[2] = {level_of(g, 0), level_of(g, g->n_levels - 1)};
    for (int a = 0; a < 2; a++)
        for (int k = -g->half_steps; k <= g->half_steps && nc < MAX_CANDIDATES; k++)
            cand[nc++] = round_fp16(max / ((float)anchors[a] * (1.0f + g->step * (float)k)));

    uint8_t tmp[256];
    float best_d = 0.0f, best_err = FLT_MAX;
    for (int c = 0; c < nc; c++) {
        sym_pass a = sym_assign(x, w, n, g, cand[c], tmp);
        if (a.err < best_err) {
            best_err = a.err;
            best_d = cand[c];
        }
        if (a.svv > 0.0f) {
            const float d = round_fp16(a.sxv / a.svv);
            sym_pass b = sym_assign(x, w, n, g, d, tmp);
            if (b.err < best_err) {
                best_err = b.err;
                best_d = d;
            }
        }
    }
    for (int dir = -1; dir <= 1; dir += 2) {
        const float d = fp16_neighbour(best_d, dir);
        sym_pass a = sym_assign(x, w, n, g, d, tmp);
        if (a.err < best_err) {
            best_err = a.err;
            best_d = d;
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
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    aff_pass r = {0};
    for (int j = 0; j < n; j++) {
        int c = mvq_nearest_int(fminf(fmaxf((x[j] - m) * id, -1.0f), (float)nmax));
        c = c < 0 ? 0 : c > nmax ? nmax : c;
        const float v = (float)c;
        const float t = v * d;
        const float y = t + m;
        const float wj = weight_at(w, j);
        const float diff = x[j] - y;
        codes[j] = (uint8_t)c;
        r.err += wj * diff * diff;
        r.sw += wj;
        r.sv += wj * v;
        r.svv += wj * v * v;
        r.sx += wj * x[j];
        r.sxv += wj * x[j] * v;
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

void mvq_search_affine(const float *x, const float *w, int n, const mvq_grid *g, uint8_t *codes,
                       float *d_out, float *m_out)
{
    const int nmax = g->n_levels - 1;
    float min = x[0], max = x[0];
    for (int j = 1; j < n; j++) {
        min = fminf(min, x[j]);
        max = fmaxf(max, x[j]);
    }
    uint8_t tmp[256];
    aff_best best = {0.0f, round_fp16(min), FLT_MAX};
    aff_try(x, w, n, nmax, 0.0f, best.m, tmp, &best, NULL);
    if (max > min) {
        const float m0 = round_fp16(min);
        for (int k = -g->half_steps; k <= g->half_steps; k++) {
            const float d0 = round_fp16((max - min) / ((float)nmax * (1.0f + g->step * (float)k)));
            aff_pass p;
            aff_try(x, w, n, nmax, d0, m0, tmp, &best, &p);
            const float det = p.sw * p.svv - p.sv * p.sv;
            if (det > 0.0f) {
                const float d = round_fp16((p.sw * p.sxv - p.sx * p.sv) / det);
                const float m = round_fp16((p.svv * p.sx - p.sv * p.sxv) / det);
                aff_try(x, w, n, nmax, d, m, tmp, &best, NULL);
            }
        }
        const float d1 = best.d, m1 = best.m;
        for (int dir = -1; dir <= 1; dir += 2) {
            aff_try(x, w, n, nmax, fp16_neighbour(d1, dir), m1, tmp, &best, NULL);
            aff_try(x, w, n, nmax, d1, fp16_neighbour(m1, dir), tmp, &best, NULL);
        }
    }
    aff_assign(x, w, n, nmax, best.d, best.m, codes);
    *d_out = best.d;
    *m_out = best.m;
}
