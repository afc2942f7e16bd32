/* Scale searches for the K-quant reference quantizers (see kquant_search.h).
 *
 * Three stages per super-block:
 *  1. each sub-block gets its best float scale (and min) by trying a grid of
 *     inverse scales, fitting the scale (and min) of each resulting set of
 *     quants in closed form (weighted least squares);
 *  2. d (and dmin) are set from the largest sub-block scale (and min), and
 *     each sub-block's integers are chosen among the neighbours of the
 *     rounded float values by their exact error after dequantization;
 *  3. d and dmin are refitted by least squares to the chosen integers and
 *     stage 2's choice is repeated while the total error falls. */
#include "config.h"
#include "kernels/kquant_search.h"

#include <math.h>
#include <string.h>

#define KQ_MAX_SUB (MVQ_QK_K / 16)
#define KQ_FP16_MAX 65504.f

float kq_fp16_round(float f)
{
    f = kq_clampf(f, -KQ_FP16_MAX, KQ_FP16_MAX);
    return mvq_fp16_to_fp32(mvq_fp32_to_fp16(f));
}

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
    double sw = mo->sw, sx = mo->sx, det = sw * sqq - (double)sq * sq;
    double s = 0, b = 1;
    if (det > 1e-9 * sw * sqq) {
        s = (sw * sxq - sx * sq) / det;
        b = (sqq * sx - (double)sq * sxq) / det;
    }
    if (b > 0) { /* also when all quants are equal */
        b = 0;
        s = sqq > 0 ? sxq / (double)sqq : 0;
    }
    if (!(s > 0))
        return f;
    f.scale = (float)s;
    f.min = (float)-b;
    f.err = (float)(mo->sxx - 2 * s * sxq - 2 * b * sx + s * s * sqq + 2 * s * b * sq + b * b * sw);
    return f;
}

static void affine_sums(int n, int qmax, const float *x, const float *w, float iscale, float lo,
                        float *sq, float *sqq, float *sxq)
{
    float a = 0, b = 0, c = 0;
    for (int i = 0; i < n; ++i) {
        float q = kq_round(kq_clampf(iscale * (x[i] - lo), 0.f, (float)qmax));
        float wq = w[i] * q;
        a += wq;
        b += wq * q;
        c += wq * x[i];
    }
    *sq = a;
    *sqq = b;
    *sxq = c;
}

static kq_fit fit_affine_sub(int n, int qmax, const float *x, const float *w)
{
    kq_moments mo = moments(n, x, w);
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
    const int nstep = 16;
    for (int k = 0; k <= nstep; ++k) {
        float iscale = ((float)qmax - 1.f + 2.f * (float)k / nstep) / (hi - lo);
        float sq, sqq, sxq;
        affine_sums(n, qmax, x, w, iscale, lo, &sq, &sqq, &sxq);
        kq_fit f = fit_affine_given_q(&mo, sq, sqq, sxq);
        if (f.err < best.err)
            best = f;
    }
    /* one Lloyd step: requantize with the best fit and refit */
    if (best.scale > 0) {
        float sq, sqq, sxq;
        affine_sums(n, qmax, x, w, 1.f / best.scale, -best.min, &sq, &sqq, &sxq);
        kq_fit f = fit_affine_given_q(&mo, sq, sqq, sxq);
        if (f.err < best.err)
            best = f;
    }
    return best;
}

static kq_fit fit_symmetric_sub(int n, int qmin, int qmax, const float *x, const float *w)
{
    kq_moments mo = moments(n, x, w);
    kq_fit best = {0, 0, mo.sxx};
    float xm = 0;
    for (int i = 0; i < n; ++i)
        xm = fabsf(x[i]) > fabsf(xm) ? x[i] : xm;
    if (xm == 0)
        return best;
    const int nstep = 8;
    for (int side = 0; side < 2; ++side) {
        /* side 0 maps the largest weight to qmin, side 1 to qmax */
        float top = side == 0 ? -(float)qmin : (float)qmax;
        float sign = side == 0 ? -1.f : 1.f;
        for (int k = -nstep; k <= nstep; ++k) {
            float iscale = sign * (top + 0.1f * (float)k) / xm;
            float sqq = 0, sxq = 0;
            for (int i = 0; i < n; ++i) {
                float q = kq_round(kq_clampf(iscale * x[i], (float)qmin, (float)qmax));
                sqq += w[i] * q * q;
                sxq += w[i] * q * x[i];
            }
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

/* ---- stage 2: integers of one sub-block for a given d (and dmin) ---- */

/* Exact weighted error of a sub-block at dl = d*sc, ml = dmin*m, with each
 * quant the nearest level; quants written to q when not NULL. */
static float sub_error(int n, const float *x, const float *w, float dl, float ml, int qmin,
                       int qmax, int8_t *q)
{
    float inv = dl != 0 ? 1.f / dl : 0.f;
    float err = 0;
    for (int i = 0; i < n; ++i) {
        float l = kq_round(kq_clampf((x[i] + ml) * inv, (float)qmin, (float)qmax));
        float diff = dl * l - ml - x[i];
        err += w[i] * diff * diff;
        if (q)
            q[i] = (int8_t)l;
    }
    return err;
}

/* Best sc (and m) within +-1 of (sc0, m0) for one sub-block; returns its
 * error and leaves the choice in *sc, *m and the quants in q. */
static float choose_sub_integers(const kq_shape *sh, const float *x, const float *w, float d,
                                 float dmin, int sc0, int m0, int16_t *sc, uint8_t *m, int8_t *q)
{
    float best = INFINITY;
    int bsc = sc0, bm = m0;
    int mlo = m0 > 0 ? m0 - 1 : 0, mhi = m0 < sh->mmax ? m0 + 1 : sh->mmax;
    if (dmin == 0)
        mlo = mhi = m0;
    for (int s = sc0 - 1; s <= sc0 + 1; ++s) {
        if (s < sh->scmin || s > sh->scmax)
            continue;
        float dl = d * (float)s;
        for (int mm = mlo; mm <= mhi; ++mm) {
            float err = sub_error(sh->sub_len, x, w, dl, dmin * (float)mm, sh->qmin, sh->qmax, NULL);
            if (err < best) {
                best = err;
                bsc = s;
                bm = mm;
            }
        }
    }
    *sc = (int16_t)bsc;
    *m = (uint8_t)bm;
    return sub_error(sh->sub_len, x, w, d * (float)bsc, dmin * (float)bm, sh->qmin, sh->qmax, q);
}

/* Stage 2 over the whole super-block, around the integers in centre. */
static float choose_all_integers(const kq_shape *sh, const float *x, const float *w,
                                 const kq_superblock *centre, kq_superblock *out)
{
    int nsub = MVQ_QK_K / sh->sub_len;
    float total = 0;
    for (int j = 0; j < nsub; ++j) {
        int o = j * sh->sub_len;
        total += choose_sub_integers(sh, x + o, w + o, out->d, out->dmin, centre->sc[j],
                                     centre->m[j], &out->sc[j], &out->m[j], out->q + o);
    }
    return total;
}

/* ---- stage 3: least-squares refit of d (and dmin) ---- */

static void refit_super_scales(const kq_shape *sh, const float *x, const float *w,
                               const kq_superblock *sb, float *d, float *dmin)
{
    /* minimise sum w*(d*A - dmin*B - x)^2 with A = sc*q, B = m */
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int i = 0; i < MVQ_QK_K; ++i) {
        int j = i / sh->sub_len;
        double a = (double)sb->sc[j] * sb->q[i], b = sb->m[j];
        saa += w[i] * a * a;
        sab += w[i] * a * b;
        sbb += w[i] * b * b;
        sax += w[i] * a * x[i];
        sbx += w[i] * b * x[i];
    }
    double det = saa * sbb - sab * sab;
    double nd = sb->d, ndmin = sb->dmin;
    if (sbb > 0 && det > 1e-12 * saa * sbb) {
        nd = (sax * sbb - sab * sbx) / det;
        ndmin = (sab * sax - saa * sbx) / det;
    }
    if (sbb == 0 || ndmin < 0) {
        ndmin = sbb == 0 ? sb->dmin : 0;
        nd = saa > 0 ? (sax + ndmin * sab) / saa : sb->d;
    }
    *d = kq_fp16_round((float)nd);
    *dmin = kq_fp16_round((float)ndmin);
}

static float refine(const kq_shape *sh, const float *x, const float *w, kq_superblock *best,
                    float best_err)
{
    kq_superblock trial;
    memset(&trial, 0, sizeof trial);
    for (int iter = 0; iter < 4; ++iter) {
        refit_super_scales(sh, x, w, best, &trial.d, &trial.dmin);
        if (trial.d == best->d && trial.dmin == best->dmin)
            break;
        float err = choose_all_integers(sh, x, w, best, &trial);
        if (!(err < best_err))
            break;
        best_err = err;
        *best = trial;
    }
    return best_err;
}

/* Stages 2 and 3 from super-block scales d, dmin (rounded to fp16 here)
 * and the float sub-block scales s and mins mn; returns the error. */
static float search_from(const kq_shape *sh, const float *x, const float *w, const float *s,
                         const float *mn, float d, float dmin, kq_superblock *out)
{
    int nsub = MVQ_QK_K / sh->sub_len;
    kq_superblock centre;
    memset(&centre, 0, sizeof centre);
    memset(out, 0, sizeof *out);
    out->d = kq_fp16_round(d);
    out->dmin = kq_fp16_round(dmin);
    for (int j = 0; j < nsub; ++j) {
        if (out->d != 0)
            centre.sc[j] = (int16_t)kq_round(kq_clampf(s[j] / out->d, (float)sh->scmin, (float)sh->scmax));
        if (out->dmin != 0)
            centre.m[j] = (uint8_t)kq_round(kq_clampf(mn[j] / out->dmin, 0.f, (float)sh->mmax));
    }
    float err = choose_all_integers(sh, x, w, &centre, out);
    return refine(sh, x, w, out, err);
}

/* fp16 keeps 11 significant bits only from 2^-14 up: a super-block scale
 * below that is coarse, and a larger one with smaller integers can win. */
#define KQ_FP16_MIN_NORMAL 6.103515625e-05f

static float lift_subnormal(float d, float top)
{
    float a = fabsf(d), t = fabsf(top);
    if (a == 0 || a >= KQ_FP16_MIN_NORMAL)
        return d;
    float lifted = t < KQ_FP16_MIN_NORMAL ? t : KQ_FP16_MIN_NORMAL;
    return d < 0 ? -lifted : lifted;
}

/* Tries the natural start (largest scale on the end of the integer range)
 * and, when that leaves d or dmin subnormal in fp16, a lifted one. */
static void search_starts(const kq_shape *sh, const float *x, const float *w, const float *s,
                          const float *mn, float d, float dmin, float stop, float mntop,
                          kq_superblock *out)
{
    float err = search_from(sh, x, w, s, mn, d, dmin, out);
    float d2 = lift_subnormal(d, stop), dmin2 = lift_subnormal(dmin, mntop);
    if (d2 == d && dmin2 == dmin)
        return;
    kq_superblock other;
    if (search_from(sh, x, w, s, mn, d2, dmin2, &other) < err)
        *out = other;
}

/* ---- the two families ---- */

static const float *unit_weights(const float *w, float *ones)
{
    if (w)
        return w;
    for (int i = 0; i < MVQ_QK_K; ++i)
        ones[i] = 1.f;
    return ones;
}

void kq_search_affine(const kq_shape *sh, const float *x, const float *w, kq_superblock *out)
{
    float ones[MVQ_QK_K];
    w = unit_weights(w, ones);
    int nsub = MVQ_QK_K / sh->sub_len;
    float s[KQ_MAX_SUB], mn[KQ_MAX_SUB], smax = 0, mnmax = 0;
    for (int j = 0; j < nsub; ++j) {
        kq_fit f = fit_affine_sub(sh->sub_len, sh->qmax, x + j * sh->sub_len, w + j * sh->sub_len);
        s[j] = f.scale;
        mn[j] = f.min;
        smax = s[j] > smax ? s[j] : smax;
        mnmax = mn[j] > mnmax ? mn[j] : mnmax;
    }
    search_starts(sh, x, w, s, mn, smax / (float)sh->scmax, mnmax / (float)sh->mmax, smax, mnmax, out);
}

void kq_search_symmetric(const kq_shape *sh, const float *x, const float *w, kq_superblock *out)
{
    float ones[MVQ_QK_K];
    w = unit_weights(w, ones);
    int nsub = MVQ_QK_K / sh->sub_len;
    float s[KQ_MAX_SUB], mn[KQ_MAX_SUB] = {0}, smax = 0;
    for (int j = 0; j < nsub; ++j) {
        kq_fit f = fit_symmetric_sub(sh->sub_len, sh->qmin, sh->qmax, x + j * sh->sub_len,
                                     w + j * sh->sub_len);
        s[j] = f.scale;
        smax = fabsf(s[j]) > fabsf(smax) ? s[j] : smax;
    }
    /* the largest scale takes the end of the range with the extra level */
    search_starts(sh, x, w, s, mn, smax / (float)sh->scmin, 0.f, -smax, 0.f, out);
}
