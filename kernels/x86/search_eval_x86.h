/* Internal to kernels/x86/: the candidate evaluators of the legacy scale
 * search (kernels/search_eval.h) with candidates in SIMD lanes, shared by
 * quant_avx2.c and quant_avx512.c.  Per candidate the sums run over the
 * block in order with the reference's float operations (no fused
 * multiply-adds), so the lanes give the reference's sums bit for bit.
 *
 * The includer first defines the vector type vf of VF_LANES floats, a type
 * vf_table (IQ4_NL's levels prepared for lookups) and
 *   vf vf_set1(float), vf_loadu(const float *), void vf_storeu(float *, vf),
 *   vf_add, vf_sub, vf_mul, vf_min, vf_max (the *_ps semantics),
 *   vf vf_round_even(vf)      nearest integer, ties to even,
 *   vf vf_inverse(vf d)       1/d, and 0 where d is 0,
 *   void vf_table_init(vf_table *, const mvq_levels *),
 *   vf vf_table_level(const vf_table *, vf t)   the nearest level of t
 *                             (NaN: the first), as mvq_table_code. */
#ifndef MVQ_SEARCH_EVAL_X86_H
#define MVQ_SEARCH_EVAL_X86_H

#include "kernels/search_eval.h"

/* Candidate vectors per pass over the block: independent sums overlap. */
#define EVAL_GROUPS 2
#define EVAL_WIDTH (EVAL_GROUPS * VF_LANES)

/* Loads up to EVAL_WIDTH candidates; the missing lanes repeat the first. */
static inline void load_lanes(const float *src, int nc, vf out[EVAL_GROUPS])
{
    float buf[EVAL_WIDTH];
    for (int c = 0; c < EVAL_WIDTH; c++)
        buf[c] = src[c < nc ? c : 0];
    for (int g = 0; g < EVAL_GROUPS; g++)
        out[g] = vf_loadu(buf + g * VF_LANES);
}

/* The lanes of the groups of v, in candidate order. */
static inline void store_lanes(const vf v[EVAL_GROUPS], float buf[EVAL_WIDTH])
{
    for (int g = 0; g < EVAL_GROUPS; g++)
        vf_storeu(buf + g * VF_LANES, v[g]);
}

static inline __attribute__((always_inline)) void
sym_eval_width(const float *x, const float *w, int n, const mvq_levels *lv, const vf_table *tab,
               const float *d, int nc, mvq_sym_pass *out, int table)
{
    vf vd[EVAL_GROUPS], id[EVAL_GROUPS], err[EVAL_GROUPS], sxv[EVAL_GROUPS], svv[EVAL_GROUPS];
    load_lanes(d, nc, vd);
    for (int g = 0; g < EVAL_GROUPS; g++) {
        id[g] = vf_inverse(vd[g]);
        err[g] = sxv[g] = svv[g] = vf_set1(0.0f);
    }
    const vf lo = vf_set1(lv->lo), hi = vf_set1(lv->hi);
    for (int j = 0; j < n; j++) {
        const vf xj = vf_set1(x[j]), wj = vf_set1(w[j]), wx = vf_set1(w[j] * x[j]);
        for (int g = 0; g < EVAL_GROUPS; g++) {
            const vf t = vf_mul(xj, id[g]);
            const vf v = table ? vf_table_level(tab, t) : vf_round_even(vf_min(hi, vf_max(lo, t)));
            const vf diff = vf_sub(xj, vf_mul(v, vd[g]));
            err[g] = vf_add(err[g], vf_mul(vf_mul(wj, diff), diff));
            sxv[g] = vf_add(sxv[g], vf_mul(wx, v));
            svv[g] = vf_add(svv[g], vf_mul(vf_mul(wj, v), v));
        }
    }
    float e[EVAL_WIDTH], a[EVAL_WIDTH], b[EVAL_WIDTH];
    store_lanes(err, e);
    store_lanes(sxv, a);
    store_lanes(svv, b);
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_sym_pass){e[c], a[c], b[c]};
}

static void sym_eval_simd(const float *x, const float *w, int n, const mvq_levels *lv,
                          const float *d, int nc, mvq_sym_pass *out)
{
    vf_table tab = {0};
    const int table = lv->g->values != NULL;
    if (table)
        vf_table_init(&tab, lv);
    for (int c = 0; c < nc; c += EVAL_WIDTH) {
        const int m = nc - c < EVAL_WIDTH ? nc - c : EVAL_WIDTH;
        if (table)
            sym_eval_width(x, w, n, lv, &tab, d + c, m, out + c, 1);
        else
            sym_eval_width(x, w, n, lv, NULL, d + c, m, out + c, 0);
    }
}

static void aff_eval_width(const float *x, const float *w, int n, const mvq_levels *lv,
                           const float *d, const float *m, int nc, mvq_aff_pass *out)
{
    vf vd[EVAL_GROUPS], vm[EVAL_GROUPS], id[EVAL_GROUPS];
    vf err[EVAL_GROUPS], sv[EVAL_GROUPS], svv[EVAL_GROUPS], sxv[EVAL_GROUPS];
    load_lanes(d, nc, vd);
    load_lanes(m, nc, vm);
    for (int g = 0; g < EVAL_GROUPS; g++) {
        id[g] = vf_inverse(vd[g]);
        err[g] = sv[g] = svv[g] = sxv[g] = vf_set1(0.0f);
    }
    const vf zero = vf_set1(0.0f), hi = vf_set1(lv->hi);
    for (int j = 0; j < n; j++) {
        const vf xj = vf_set1(x[j]), wj = vf_set1(w[j]), wx = vf_set1(w[j] * x[j]);
        for (int g = 0; g < EVAL_GROUPS; g++) {
            const vf t = vf_mul(vf_sub(xj, vm[g]), id[g]);
            const vf v = vf_round_even(vf_min(hi, vf_max(zero, t)));
            const vf diff = vf_sub(xj, vf_add(vf_mul(v, vd[g]), vm[g]));
            const vf wv = vf_mul(wj, v);
            err[g] = vf_add(err[g], vf_mul(vf_mul(wj, diff), diff));
            sv[g] = vf_add(sv[g], wv);
            svv[g] = vf_add(svv[g], vf_mul(wv, v));
            sxv[g] = vf_add(sxv[g], vf_mul(wx, v));
        }
    }
    float e[EVAL_WIDTH], a[EVAL_WIDTH], b[EVAL_WIDTH], c2[EVAL_WIDTH];
    store_lanes(err, e);
    store_lanes(sv, a);
    store_lanes(svv, b);
    store_lanes(sxv, c2);
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_aff_pass){e[c], a[c], b[c], c2[c]};
}

static void aff_eval_simd(const float *x, const float *w, int n, const mvq_levels *lv,
                          const float *d, const float *m, int nc, mvq_aff_pass *out)
{
    for (int c = 0; c < nc; c += EVAL_WIDTH)
        aff_eval_width(x, w, n, lv, d + c, m + c, nc - c < EVAL_WIDTH ? nc - c : EVAL_WIDTH,
                       out + c);
}

#endif
