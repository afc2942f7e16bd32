/* Internal to kernels/: the candidate evaluators of the legacy scale
 * search (kernels/search_eval.h) with candidates in SIMD lanes, shared by
 * kernels/x86/quant_avx*.c and kernels/arm/quant_neon.c.  Per candidate
 * the sums run over the block in order with the reference's float
 * operations (no fused multiply-adds), so the lanes give the reference's
 * sums bit for bit.
 *
 * The includer first defines the vector type vf of VF_LANES floats, a type
 * vf_table (IQ4_NL's levels prepared for lookups) and
 *   vf vf_set1(float), vf_loadu(const float *), void vf_storeu(float *, vf),
 *   vf_add, vf_sub, vf_mul, vf_min, vf_max (the *_ps semantics),
 *   vf vf_round_even(vf)      nearest integer, ties to even,
 *   vf vf_inverse(vf d)       mvq_inverse_scale(d) in each lane: 1/d, and 0
 *                             where that is not finite (d 0, subnormal or NaN),
 *   void vf_table_init(vf_table *, const mvq_levels *),
 *   vf vf_table_level(const vf_table *, vf t)   the nearest level of t
 *                             (NaN: the first), as mvq_table_code. */
#ifndef MVQ_SEARCH_EVAL_SIMD_H
#define MVQ_SEARCH_EVAL_SIMD_H

#include "kernels/search_eval.h"

#define MVQ_EVAL_INLINE static inline __attribute__((always_inline))

/* Candidates per pass over the block: two vectors of them, so that their
 * independent sums overlap, or one when few are left. */
#define EVAL_WIDTH (2 * VF_LANES)

/* Up to EVAL_WIDTH candidates in buf; the missing lanes repeat the first. */
MVQ_EVAL_INLINE void pad_lanes(const float *src, int nc, float buf[EVAL_WIDTH])
{
    for (int c = 0; c < EVAL_WIDTH; c++)
        buf[c] = src[c < nc ? c : 0];
}

/* ---- symmetric ---- */

typedef struct {
    vf d, id, err, sxv, svv;
} sym_lanes;

MVQ_EVAL_INLINE sym_lanes sym_start(const float *d)
{
    sym_lanes a;
    a.d = vf_loadu(d);
    a.id = vf_inverse(a.d);
    a.err = a.sxv = a.svv = vf_set1(0.0f);
    return a;
}

MVQ_EVAL_INLINE void sym_step(sym_lanes *a, vf xj, vf wj, vf wx, vf lo, vf hi, const vf_table *tab,
                              int table)
{
    const vf t = vf_mul(xj, a->id);
    const vf v = table ? vf_table_level(tab, t) : vf_round_even(vf_min(hi, vf_max(lo, t)));
    const vf diff = vf_sub(xj, vf_mul(v, a->d));
    a->err = vf_add(a->err, vf_mul(vf_mul(wj, diff), diff));
    a->sxv = vf_add(a->sxv, vf_mul(wx, v));
    a->svv = vf_add(a->svv, vf_mul(vf_mul(wj, v), v));
}

MVQ_EVAL_INLINE void sym_finish(const sym_lanes *a, int nc, mvq_sym_pass *out)
{
    float e[VF_LANES], s[VF_LANES], q[VF_LANES];
    vf_storeu(e, a->err);
    vf_storeu(s, a->sxv);
    vf_storeu(q, a->svv);
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_sym_pass){e[c], s[c], q[c]};
}

/* nc <= EVAL_WIDTH candidates; two: nc > VF_LANES */
MVQ_EVAL_INLINE void sym_eval_width(const float *x, const float *w, int n, const mvq_levels *lv,
                                    const vf_table *tab, const float *d, int nc,
                                    mvq_sym_pass *out, int table, int two)
{
    float buf[EVAL_WIDTH];
    pad_lanes(d, nc, buf);
    sym_lanes a = sym_start(buf), b = sym_start(buf + VF_LANES);
    const vf lo = vf_set1(lv->lo), hi = vf_set1(lv->hi);
    for (int j = 0; j < n; j++) {
        const vf xj = vf_set1(x[j]), wj = vf_set1(w[j]), wx = vf_set1(w[j] * x[j]);
        sym_step(&a, xj, wj, wx, lo, hi, tab, table);
        if (two)
            sym_step(&b, xj, wj, wx, lo, hi, tab, table);
    }
    sym_finish(&a, nc < VF_LANES ? nc : VF_LANES, out);
    if (two)
        sym_finish(&b, nc - VF_LANES, out + VF_LANES);
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
        if (table && m > VF_LANES)
            sym_eval_width(x, w, n, lv, &tab, d + c, m, out + c, 1, 1);
        else if (table)
            sym_eval_width(x, w, n, lv, &tab, d + c, m, out + c, 1, 0);
        else if (m > VF_LANES)
            sym_eval_width(x, w, n, lv, NULL, d + c, m, out + c, 0, 1);
        else
            sym_eval_width(x, w, n, lv, NULL, d + c, m, out + c, 0, 0);
    }
}

/* ---- affine ---- */

typedef struct {
    vf d, m, id, err, sv, svv, sxv;
} aff_lanes;

MVQ_EVAL_INLINE aff_lanes aff_start(const float *d, const float *m)
{
    aff_lanes a;
    a.d = vf_loadu(d);
    a.m = vf_loadu(m);
    a.id = vf_inverse(a.d);
    a.err = a.sv = a.svv = a.sxv = vf_set1(0.0f);
    return a;
}

MVQ_EVAL_INLINE void aff_step(aff_lanes *a, vf xj, vf wj, vf wx, vf hi)
{
    const vf t = vf_mul(vf_sub(xj, a->m), a->id);
    const vf v = vf_round_even(vf_min(hi, vf_max(vf_set1(0.0f), t)));
    const vf diff = vf_sub(xj, vf_add(vf_mul(v, a->d), a->m));
    const vf wv = vf_mul(wj, v);
    a->err = vf_add(a->err, vf_mul(vf_mul(wj, diff), diff));
    a->sv = vf_add(a->sv, wv);
    a->svv = vf_add(a->svv, vf_mul(wv, v));
    a->sxv = vf_add(a->sxv, vf_mul(wx, v));
}

MVQ_EVAL_INLINE void aff_finish(const aff_lanes *a, int nc, mvq_aff_pass *out)
{
    float e[VF_LANES], s[VF_LANES], q[VF_LANES], r[VF_LANES];
    vf_storeu(e, a->err);
    vf_storeu(s, a->sv);
    vf_storeu(q, a->svv);
    vf_storeu(r, a->sxv);
    for (int c = 0; c < nc; c++)
        out[c] = (mvq_aff_pass){e[c], s[c], q[c], r[c]};
}

MVQ_EVAL_INLINE void aff_eval_width(const float *x, const float *w, int n, const mvq_levels *lv,
                                    const float *d, const float *m, int nc, mvq_aff_pass *out,
                                    int two)
{
    float bd[EVAL_WIDTH], bm[EVAL_WIDTH];
    pad_lanes(d, nc, bd);
    pad_lanes(m, nc, bm);
    aff_lanes a = aff_start(bd, bm), b = aff_start(bd + VF_LANES, bm + VF_LANES);
    const vf hi = vf_set1(lv->hi);
    for (int j = 0; j < n; j++) {
        const vf xj = vf_set1(x[j]), wj = vf_set1(w[j]), wx = vf_set1(w[j] * x[j]);
        aff_step(&a, xj, wj, wx, hi);
        if (two)
            aff_step(&b, xj, wj, wx, hi);
    }
    aff_finish(&a, nc < VF_LANES ? nc : VF_LANES, out);
    if (two)
        aff_finish(&b, nc - VF_LANES, out + VF_LANES);
}

static void aff_eval_simd(const float *x, const float *w, int n, const mvq_levels *lv,
                          const float *d, const float *m, int nc, mvq_aff_pass *out)
{
    for (int c = 0; c < nc; c += EVAL_WIDTH) {
        const int k = nc - c < EVAL_WIDTH ? nc - c : EVAL_WIDTH;
        if (k > VF_LANES)
            aff_eval_width(x, w, n, lv, d + c, m + c, k, out + c, 1);
        else
            aff_eval_width(x, w, n, lv, d + c, m + c, k, out + c, 0);
    }
}

/* ---- the table entries: the legacy row quantizers with these evaluators
 * (Q8_0's entry is the activation quantizer's, which runs the search with
 * the includer's exported evaluators when given importance weights) ---- */

#ifdef VF_SYM_BLOCKS /* the includer's whole-search lanes, defined after this header */
static void VF_SYM_BLOCKS(const mvq_levels *lv, const float *x, const float *const *w, int nb,
                          float *d, uint8_t *codes);
static void VF_AFF_BLOCKS(const mvq_levels *lv, const float *x, const float *const *w, int nb,
                          float *d, float *m, uint8_t *codes);
static void lanes_blocks_load(const float *x, const float *const *w, int nb, mvq_blocks_input *held);
static void lanes_blocks_sym(const mvq_blocks_input *held, const mvq_levels *lv, const float *d,
                             int nc, mvq_sym_pass *out);
static const mvq_search_evals simd_evals = {.sym = sym_eval_simd,
                                            .aff = aff_eval_simd,
                                            .sym_blocks = VF_SYM_BLOCKS,
                                            .aff_blocks = VF_AFF_BLOCKS,
                                            .blocks_load = lanes_blocks_load,
                                            .blocks_sym = lanes_blocks_sym,
                                            .blocks_lanes = VF_LANES};
#else
static const mvq_search_evals simd_evals = {.sym = sym_eval_simd, .aff = aff_eval_simd};
#endif

#define SIMD_LEGACY_ROW(T)                                                                    \
    static void quantize_row_##T##_simd(const float *x, void *y, int64_t n, const float *imatrix) \
    {                                                                                         \
        mvq_quantize_row_##T##_with(&simd_evals, x, y, n, imatrix);                           \
    }
SIMD_LEGACY_ROW(q4_0)
SIMD_LEGACY_ROW(q4_1)
SIMD_LEGACY_ROW(q5_0)
SIMD_LEGACY_ROW(q5_1)
SIMD_LEGACY_ROW(iq4_nl)
SIMD_LEGACY_ROW(iq4_xs)

static void fill_legacy_quantizers(mvq_kernel_table *t)
{
    t->from_float[MVQ_TYPE_Q4_0] = quantize_row_q4_0_simd;
    t->from_float[MVQ_TYPE_Q4_1] = quantize_row_q4_1_simd;
    t->from_float[MVQ_TYPE_Q5_0] = quantize_row_q5_0_simd;
    t->from_float[MVQ_TYPE_Q5_1] = quantize_row_q5_1_simd;
    t->from_float[MVQ_TYPE_IQ4_NL] = quantize_row_iq4_nl_simd;
    t->from_float[MVQ_TYPE_IQ4_XS] = quantize_row_iq4_xs_simd;
}

#endif
