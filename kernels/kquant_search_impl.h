/* Internal to kernels/: the K-quant scale search (see kquant_search.h),
 * shared by the reference (kquant_search.c) and the SIMD quantizers
 * (kernels/x86/kquant_avx2.c).
 *
 * Three stages per super-block:
 *  1. each sub-block gets a float scale (and min) by trying a few inverse
 *     scales and fitting the scale (and min) of each resulting set of quants
 *     in closed form (weighted least squares);
 *  2. d (and dmin) are set from the largest sub-block scale (and min), and
 *     each sub-block's integers are chosen by a coordinate search around the
 *     rounded float values, judged by the exact error after dequantization;
 *  3. d and dmin are refitted by least squares to the chosen quants while
 *     the error falls, then stage 2 runs once more at the final scales.
 * Every candidate is judged by the error the dequantizer's own float
 * operations give, so the result is never worse than the first start.
 *
 * The includer first defines the hot loops over a sub-block of n weights (n
 * a multiple of 8), each keeping 8 partial sums (lane l takes the weights
 * i with i % 8 == l, in order) added as ((0+1)+(2+3))+((4+5)+(6+7)), with
 * q = the nearest integer (ties to even) of v clamped to [lo, hi]:
 *   kq_affine_sums   v = iscale*(x - lo), [0, qmax]: sums of w q, w q q, w q x
 *   kq_sym_sums      v = iscale*x, [qmin, qmax]: sums of w q q, w q x
 *   kq_sub_error     v = (x + ml)/dl: sum of w diff diff, diff = dl*q - ml - x
 *   kq_sub_quantize  the same, storing q, with the sums of kq_affine_sums
 * (products grouped left to right, no fused multiply-adds), and
 *   kq_round_fp16    the value of a float after a round trip through fp16
 *                    (clamped to +-65504). */
#ifndef MVQ_KQUANT_SEARCH_IMPL_H
#define MVQ_KQUANT_SEARCH_IMPL_H

#include <math.h>
#include <string.h>

#include "kernels/kquant_search.h"

#define KQ_MAX_SUB (MVQ_QK_K / 16)
#define KQ_AFFINE_STEPS 6
#define KQ_SYM_STEPS 0
#define KQ_SYM_SIDES 1
#define KQ_REFITS 2
#define KQ_FINAL_SEARCH 1

/* Weighted moments of a sub-block. */
typedef struct {
    float sw, sx, sxx;
} kq_moments;

static kq_moments moments(int n, const float *x, const float *w)
{
    kq_moments m = {0, 0, 0};
    for (int i = 0; i < n; ++i) {
        m.sw += w[i];
        m.sx += w[i] * x[i];
        m.sxx += w[i] * x[i] * x[i];
    }
    return m;
}


/* ---- stage 1: float scale (and min) of one sub-block ---- */

typedef struct {
    float scale; /* affine: >= 0; symmetric: signed */
    float min;   /* affine: y = scale*q - min, min >= 0 */
    float err;
} kq_fit;

/* Best (scale, -min) for fixed quants: weighted least squares of x on
 * (q, 1), with the offset kept <= 0 as the format's mins are. */
static kq_fit fit_affine_given_q(const kq_moments *mo, float sq, float sqq, float sxq)
{
    kq_fit f = {0, 0, INFINITY};
    const float sw = mo->sw, sx = mo->sx, det = sw * sqq - sq * sq;
    float s = 0, b = 1;
    if (det > 1e-6f * sw * sqq) {
        const float inv = 1.f / det;
        s = (sw * sxq - sx * sq) * inv;
        b = (sqq * sx - sq * sxq) * inv;
    }
    if (b > 0) { /* also when all quants are equal */
        b = 0;
        s = sqq > 0 ? sxq / sqq : 0;
    }
    if (!(s > 0))
        return f;
    f.scale = s;
    f.min = -b;
    /* at the least-squares optimum the error is sxx - s*sxq - b*sx */
    f.err = mo->sxx - s * sxq - b * sx;
    return f;
}

/* fits[k] = fit_affine_given_q of candidate k's sums, k < count: here, or
 * (KQ_HAVE_FIT_AFFINE_ALL) by the includer, after this header, with the
 * same float operations. */
#ifdef KQ_HAVE_FIT_AFFINE_ALL
static void kq_fit_affine_all(const kq_moments *mo, int count, const float *sq, const float *sqq,
                              const float *sxq, kq_fit *fits);
#else
static void kq_fit_affine_all(const kq_moments *mo, int count, const float *sq, const float *sqq,
                              const float *sxq, kq_fit *fits)
{
    for (int k = 0; k < count; ++k)
        fits[k] = fit_affine_given_q(mo, sq[k], sqq[k], sxq[k]);
}
#endif

static kq_fit fit_affine_sub(int n, int qmax, const float *x, const float *w, const kq_moments *mop)
{
    const kq_moments mo = *mop;
    float lo = 0, hi = x[0];
    for (int i = 0; i < n; ++i) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    /* all quants 0: the best offset alone */
    kq_fit best = {0, 0, mo.sxx};
    if (mo.sw > 0 && mo.sx < 0) {
        best.min = -mo.sx / mo.sw;
        best.err = mo.sxx - mo.sx * mo.sx / mo.sw;
    }
    if (!(hi > lo))
        return best;
    const int nstep = KQ_AFFINE_STEPS;
    float sq[KQ_AFFINE_STEPS + 1], sqq[KQ_AFFINE_STEPS + 1], sxq[KQ_AFFINE_STEPS + 1];
    for (int k = 0; k <= nstep; ++k) {
        float iscale = ((float)qmax - 1.f + 2.f * (float)k / nstep) / (hi - lo);
        if (n == 16)
            kq_affine_sums(16, qmax, x, w, iscale, lo, &sq[k], &sqq[k], &sxq[k]);
        else
            kq_affine_sums(32, qmax, x, w, iscale, lo, &sq[k], &sqq[k], &sxq[k]);
    }
    kq_fit fits[KQ_AFFINE_STEPS + 1];
    kq_fit_affine_all(&mo, nstep + 1, sq, sqq, sxq, fits);
    for (int k = 0; k <= nstep; ++k)
        if (fits[k].err < best.err)
            best = fits[k];
    /* one Lloyd step: requantize with the best fit and refit */
    if (best.scale > 0) {
        float lsq, lsqq, lsxq;
        kq_affine_sums(n, qmax, x, w, 1.f / best.scale, -best.min, &lsq, &lsqq, &lsxq);
        kq_fit f = fit_affine_given_q(&mo, lsq, lsqq, lsxq);
        if (f.err < best.err)
            best = f;
    }
    return best;
}

static kq_fit fit_symmetric_sub(int n, int qmin, int qmax, const float *x, const float *w,
                                const kq_moments *mop)
{
    const kq_moments mo = *mop;
    kq_fit best = {0, 0, mo.sxx};
    float xm = 0;
    for (int i = 0; i < n; ++i)
        xm = fabsf(x[i]) > fabsf(xm) ? x[i] : xm;
    if (xm == 0)
        return best;
    const int nstep = KQ_SYM_STEPS;
    for (int side = 0; side < KQ_SYM_SIDES; ++side) {
        /* side 0 maps the largest weight to qmin, side 1 to qmax */
        float top = side == 0 ? -(float)qmin : (float)qmax;
        float sign = side == 0 ? -1.f : 1.f;
        for (int k = -nstep; k <= nstep; ++k) {
            float iscale = sign * (top + (nstep ? 0.8f * (float)k / (float)nstep : 0.f)) / xm;
            float sqq, sxq;
            if (n == 16)
                kq_sym_sums(16, (float)qmin, (float)qmax, x, w, iscale, &sqq, &sxq);
            else
                kq_sym_sums(32, (float)qmin, (float)qmax, x, w, iscale, &sqq, &sxq);
            if (!(sqq > 0))
                continue;
            float s = sxq / sqq;
            float err = mo.sxx - sxq * s;
            if (err < best.err) {
                best.scale = s;
                best.err = err;
            }
        }
    }
    return best;
}

/* ---- stages 2 and 3: integers, quants and super-block scales ---- */

/* A candidate encoding of a super-block, with its quants and, per
 * sub-block, the weighted sums over them that the refit of d needs. */
typedef struct {
    float d, dmin;
    int sc[KQ_MAX_SUB], m[KQ_MAX_SUB];
    float q[MVQ_QK_K];
    float sq[KQ_MAX_SUB], sqq[KQ_MAX_SUB], sqx[KQ_MAX_SUB];
    float e[KQ_MAX_SUB]; /* error per sub-block */
    float err;           /* their sum, in order */
    /* sub-block j kept its integers in the last integer search, at these
     * d and dmin: searching it again would keep them again */
    uint8_t stable[KQ_MAX_SUB];
} kq_state;

/* What stays fixed while one super-block is searched. */
typedef struct {
    const kq_shape *sh;
    int nsub;
    const float *x, *w;
    kq_moments mo[KQ_MAX_SUB];
} kq_problem;

/* Quants, sums and error of sub-block j of st at its d, dmin, sc, m. */
static void sub_settle(const kq_problem *p, kq_state *st, int j)
{
    const int n = p->sh->sub_len, o = j * n;
    float sums[4];
    const float dl = st->d * (float)st->sc[j], ml = st->dmin * (float)st->m[j];
    const float lo = (float)p->sh->qmin, hi = (float)p->sh->qmax;
    /* constant lengths let the compiler unroll the short loops */
    if (n == 16)
        kq_sub_quantize(16, p->x + o, p->w + o, dl, ml, lo, hi, st->q + o, sums);
    else
        kq_sub_quantize(32, p->x + o, p->w + o, dl, ml, lo, hi, st->q + o, sums);
    st->sq[j] = sums[0];
    st->sqq[j] = sums[1];
    st->sqx[j] = sums[2];
    st->e[j] = sums[3];
}

static void sum_errors(const kq_problem *p, kq_state *st)
{
    st->err = 0;
    for (int j = 0; j < p->nsub; ++j)
        st->err += st->e[j];
}

/* Settles every sub-block (at new d, dmin: nothing is stable). */
static void settle(const kq_problem *p, kq_state *st)
{
    for (int j = 0; j < p->nsub; ++j) {
        sub_settle(p, st, j);
        st->stable[j] = 0;
    }
    sum_errors(p, st);
}

static inline __attribute__((always_inline)) float error_at(const kq_problem *p, int j, float d, float dmin, int sc, int m)
{
    const kq_shape *sh = p->sh;
    if (sc < sh->scmin || sc > sh->scmax || m < 0 || m > sh->mmax)
        return INFINITY;
    int o = j * sh->sub_len;
    const float dl = d * (float)sc, ml = dmin * (float)m, lo = (float)sh->qmin, hi = (float)sh->qmax;
    if (sh->sub_len == 16)
        return kq_sub_error(16, p->x + o, p->w + o, dl, ml, lo, hi);
    return kq_sub_error(32, p->x + o, p->w + o, dl, ml, lo, hi);
}

/* Stage 2: for each sub-block, coordinate search from its integers in st:
 * the best of sc +- 1, then of m +- 1 at that scale; then settles st.
 * When st is already settled at its integers, their errors are known, the
 * stable sub-blocks are skipped (the search would keep their integers), and
 * only the sub-blocks whose integers change are settled again.  Sub-blocks
 * are independent: each step runs over all of them, so that their
 * evaluations overlap. */
static void choose_integers(const kq_problem *p, kq_state *st, int settled)
{
    int todo[KQ_MAX_SUB], nt = 0;
    for (int j = 0; j < p->nsub; ++j)
        if (!settled || !st->stable[j])
            todo[nt++] = j;
    /* Unsettled: settling every sub-block at its integers gives their
     * errors (the same float operations as error_at), and the sub-blocks
     * that keep their integers need no second settle. */
    if (!settled) {
        for (int i = 0; i < nt; ++i)
            sub_settle(p, st, todo[i]);
        settled = 1;
    }
    int sc0[KQ_MAX_SUB], m0[KQ_MAX_SUB];
    float best[KQ_MAX_SUB], lower[KQ_MAX_SUB], upper[KQ_MAX_SUB];
    for (int i = 0; i < nt; ++i) {
        const int j = todo[i];
        sc0[i] = st->sc[j];
        m0[i] = st->m[j];
        best[i] = st->e[j];
    }
    for (int i = 0; i < nt; ++i) {
        lower[i] = error_at(p, todo[i], st->d, st->dmin, sc0[i] - 1, m0[i]);
        upper[i] = error_at(p, todo[i], st->d, st->dmin, sc0[i] + 1, m0[i]);
    }
    for (int i = 0; i < nt; ++i) {
        const int j = todo[i];
        if (lower[i] < best[i]) {
            best[i] = lower[i];
            st->sc[j] = sc0[i] - 1;
        }
        if (upper[i] < best[i]) {
            best[i] = upper[i];
            st->sc[j] = sc0[i] + 1;
        }
    }
    if (st->dmin != 0) {
        for (int i = 0; i < nt; ++i) {
            lower[i] = error_at(p, todo[i], st->d, st->dmin, st->sc[todo[i]], m0[i] - 1);
            upper[i] = error_at(p, todo[i], st->d, st->dmin, st->sc[todo[i]], m0[i] + 1);
        }
        for (int i = 0; i < nt; ++i) {
            const int j = todo[i];
            if (lower[i] < best[i]) {
                best[i] = lower[i];
                st->m[j] = m0[i] - 1;
            }
            if (upper[i] < best[i]) {
                best[i] = upper[i];
                st->m[j] = m0[i] + 1;
            }
        }
    }
    for (int i = 0; i < nt; ++i) {
        const int j = todo[i];
        const int kept = st->sc[j] == sc0[i] && st->m[j] == m0[i];
        if (!kept)
            sub_settle(p, st, j);
        st->stable[j] = (uint8_t)kept;
    }
    sum_errors(p, st);
}

/* Stage 3: least squares of sum w*(d*sc*q - dmin*m - x)^2 over d and dmin
 * for st's quants, rounded to fp16. */
static void refit_super_scales(const kq_problem *p, const kq_state *st, float *d, float *dmin)
{
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int j = 0; j < p->nsub; ++j) {
        double sc = st->sc[j], m = st->m[j];
        saa += sc * sc * st->sqq[j];
        sab += sc * m * st->sq[j];
        sbb += m * m * p->mo[j].sw;
        sax += sc * st->sqx[j];
        sbx += m * p->mo[j].sx;
    }
    double det = saa * sbb - sab * sab;
    double nd = st->d, ndmin = st->dmin;
    if (sbb > 0 && det > 1e-12 * saa * sbb) {
        nd = (sax * sbb - sab * sbx) / det;
        ndmin = (sab * sax - saa * sbx) / det;
    }
    if (sbb == 0 || ndmin < 0) {
        ndmin = sbb == 0 ? st->dmin : 0;
        nd = saa > 0 ? (sax + ndmin * sab) / saa : st->d;
    }
    *d = kq_round_fp16((float)nd);
    *dmin = kq_round_fp16((float)ndmin);
}

/* Refits d and dmin while that lowers the error (integers kept, quants
 * re-rounded), then searches the integers once more at the final scales. */
static void refine(const kq_problem *p, kq_state *best, kq_state *trial)
{
    for (int iter = 0; iter < KQ_REFITS; ++iter) {
        *trial = *best;
        refit_super_scales(p, best, &trial->d, &trial->dmin);
        if (trial->d == best->d && trial->dmin == best->dmin)
            break;
        settle(p, trial);
        if (!(trial->err < best->err))
            break;
        *best = *trial;
    }
    if (KQ_FINAL_SEARCH) {
        *trial = *best;
        choose_integers(p, trial, 1);
        if (trial->err < best->err)
            *best = *trial;
    }
}

/* Stages 2 and 3 from super-block scales d, dmin (rounded to fp16 here)
 * and the float sub-block scales s and mins mn. */
static void search_from(const kq_problem *p, const float *s, const float *mn, float d, float dmin,
                        kq_state *best, kq_state *trial)
{
    const kq_shape *sh = p->sh;
    best->d = kq_round_fp16(d);
    best->dmin = kq_round_fp16(dmin);
    for (int j = 0; j < p->nsub; ++j) {
        best->sc[j] = best->d != 0 ? (int)kq_round(kq_clampf(s[j] / best->d, (float)sh->scmin, (float)sh->scmax)) : 0;
        best->m[j] = best->dmin != 0 ? (int)kq_round(kq_clampf(mn[j] / best->dmin, 0.f, (float)sh->mmax)) : 0;
    }
    choose_integers(p, best, 0);
    refine(p, best, trial);
}

/* fp16 has 11 significant bits only from 2^-14 up.  A subnormal d whose
 * step (2^-24) is coarser than the steps of the sub-block integers loses
 * more than it gains from the wide integers: then a larger d with smaller
 * integers is tried too. */
#define KQ_FP16_MIN_NORMAL 6.103515625e-05f
#define KQ_FP16_STEP_MIN 5.9604645e-08f

static float lift_subnormal(float d, float top, int range)
{
    float a = fabsf(d), t = fabsf(top);
    if (a == 0 || a * (float)range >= 2 * KQ_FP16_STEP_MIN * (float)range * (float)range)
        return d;
    float lifted = t < KQ_FP16_MIN_NORMAL ? t : KQ_FP16_MIN_NORMAL;
    return d < 0 ? -lifted : lifted;
}

/* Runs stages 2 and 3 from the natural start (the largest scale on the end
 * of the integer range) and, where lift_subnormal says so, a lifted one;
 * writes the better. */
static void search_starts(const kq_problem *p, const float *s, const float *mn, float d, float dmin,
                          float stop, float mntop, kq_superblock *out)
{
    kq_state st[3];
    kq_state *best = &st[0], *trial = &st[1], *other = &st[2];
    search_from(p, s, mn, d, dmin, best, trial);
    int range = p->sh->scmax > p->sh->mmax ? p->sh->scmax : p->sh->mmax;
    float d2 = lift_subnormal(d, stop, range), dmin2 = lift_subnormal(dmin, mntop, range);
    if (d2 != d || dmin2 != dmin) {
        search_from(p, s, mn, d2, dmin2, other, trial);
        if (other->err < best->err)
            best = other;
    }
    memset(out, 0, sizeof *out);
    out->d = best->d;
    out->dmin = best->dmin;
    for (int j = 0; j < p->nsub; ++j) {
        out->sc[j] = (int16_t)best->sc[j];
        out->m[j] = (uint8_t)best->m[j];
    }
    for (int i = 0; i < MVQ_QK_K; ++i)
        out->q[i] = (int8_t)best->q[i];
}

/* ---- the two families ---- */

static void problem_init(kq_problem *p, const kq_shape *sh, const float *x, const float *w, float *ones)
{
    if (!w) {
        for (int i = 0; i < MVQ_QK_K; ++i)
            ones[i] = 1.f;
        w = ones;
    }
    p->sh = sh;
    p->nsub = MVQ_QK_K / sh->sub_len;
    p->x = x;
    p->w = w;
    for (int j = 0; j < p->nsub; ++j)
        p->mo[j] = moments(sh->sub_len, x + j * sh->sub_len, w + j * sh->sub_len);
}

static void search_affine(const kq_shape *sh, const float *x, const float *w, kq_superblock *out)
{
    float ones[MVQ_QK_K];
    kq_problem p;
    problem_init(&p, sh, x, w, ones);
    float s[KQ_MAX_SUB], mn[KQ_MAX_SUB], smax = 0, mnmax = 0;
    for (int j = 0; j < p.nsub; ++j) {
        int o = j * sh->sub_len;
        kq_fit f = fit_affine_sub(sh->sub_len, sh->qmax, x + o, p.w + o, &p.mo[j]);
        s[j] = f.scale;
        mn[j] = f.min;
        smax = s[j] > smax ? s[j] : smax;
        mnmax = mn[j] > mnmax ? mn[j] : mnmax;
    }
    search_starts(&p, s, mn, smax / (float)sh->scmax, mnmax / (float)sh->mmax, smax, mnmax, out);
}

static void search_symmetric(const kq_shape *sh, const float *x, const float *w, kq_superblock *out)
{
    float ones[MVQ_QK_K];
    kq_problem p;
    problem_init(&p, sh, x, w, ones);
    float s[KQ_MAX_SUB], mn[KQ_MAX_SUB] = {0}, smax = 0;
    for (int j = 0; j < p.nsub; ++j) {
        int o = j * sh->sub_len;
        kq_fit f = fit_symmetric_sub(sh->sub_len, sh->qmin, sh->qmax, x + o, p.w + o, &p.mo[j]);
        s[j] = f.scale;
        smax = fabsf(s[j]) > fabsf(smax) ? s[j] : smax;
    }
    /* the largest scale takes the end of the range with the extra level */
    search_starts(&p, s, mn, smax / (float)sh->scmin, 0.f, -smax, 0.f, out);
}

static void quantize_row_impl(const kq_shape *sh, const float *x, void *y, size_t block_bytes,
                              int64_t n, const float *imatrix, kq_store_fn store)
{
    for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {
        kq_superblock sb;
        const float *w = imatrix ? imatrix + b * MVQ_QK_K : NULL;
        if (sh->mmax > 0)
            search_affine(sh, x + b * MVQ_QK_K, w, &sb);
        else
            search_symmetric(sh, x + b * MVQ_QK_K, w, &sb);
        store(&sb, (unsigned char *)y + b * block_bytes);
    }
}

#endif
