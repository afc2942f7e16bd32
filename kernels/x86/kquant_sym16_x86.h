/* Internal to kernels/x86/kquant_avx512.c: the symmetric K-quant search
 * (Q3_K, Q6_K: sixteen sub-blocks of 16) with the sub-blocks of one
 * super-block in the sixteen lanes.  The hot loops of kquant_avx512.c
 * vectorize one sub-block at a time and reduce across lanes at every call
 * (five to a dozen calls per sub-block); here each step of
 * kquant_search_impl.h's search_symmetric runs for every sub-block at once:
 * every sum keeps the reference's eight partial sums (lane l: weights
 * i % 8 == l, in order) and adds them as ((0+1)+(2+3))+((4+5)+(6+7)), each
 * lane's arithmetic that of the reference, so the bytes are the
 * reference's.  The steps that span sub-blocks (the largest scale, the
 * error total, the super-block refit) stay scalar, as the reference's.
 * Included after kquant_search_impl.h, whose state and refit it uses. */
#ifndef MVQ_KQUANT_SYM16_AVX512_H
#define MVQ_KQUANT_SYM16_AVX512_H

#define S16 16 /* weights per sub-block = sub-blocks per super-block = lanes */

/* One super-block, transposed: x[i] holds weight i of every sub-block. */
typedef struct {
    const kq_shape *sh;
    __m512 x[S16], w[S16];
    __m512 lo, hi; /* the quant range */
    kq_problem kp; /* the moments, for refit_super_scales */
} s16_problem;

typedef struct {
    float d, err;
    __m512 sc;    /* the sub-block scales (integers) */
    __m512 q[S16];
    __m512 sq, sqq, sqx, e;
    __mmask16 stable;
} s16_state;

/* ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)) */
MVQ_INLINE __m512 s16_tree(const __m512 *a)
{
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3])),
                         _mm512_add_ps(_mm512_add_ps(a[4], a[5]), _mm512_add_ps(a[6], a[7])));
}

/* the reference's partial sum l after term i: (0 + t_l) + t_{l+8} */
MVQ_INLINE void s16_acc(__m512 *a, int i, __m512 t)
{
    a[i & 7] = _mm512_add_ps(i < 8 ? _mm512_setzero_ps() : a[i & 7], t);
}

MVQ_INLINE __m512 s16_round(__m512 v, __m512 lo, __m512 hi)
{
    return _mm512_roundscale_ps(_mm512_min_ps(hi, _mm512_max_ps(lo, v)), _MM_FROUND_TO_NEAREST_INT);
}

/* 1/dl, 0 where dl is 0 (NaN: 1/NaN, as the reference's dl != 0) */
MVQ_INLINE __m512 s16_inverse(__m512 dl)
{
    const __mmask16 nz = _mm512_cmp_ps_mask(dl, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    return _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.f), dl);
}

static void s16_load(s16_problem *p, const kq_shape *sh, const float *x, const float *w)
{
    static const int32_t idx[S16] = {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240};
    const __m512i vi = _mm512_loadu_si512(idx);
    p->sh = sh;
    p->lo = _mm512_set1_ps((float)sh->qmin);
    p->hi = _mm512_set1_ps((float)sh->qmax);
    __m512 sw = _mm512_setzero_ps(), sx = sw, sxx = sw;
    for (int i = 0; i < S16; i++) {
        p->x[i] = _mm512_i32gather_ps(vi, x + i, 4);
        p->w[i] = w ? _mm512_i32gather_ps(vi, w + i, 4) : _mm512_set1_ps(1.f);
        /* moments(): plain sums in order */
        const __m512 wx = _mm512_mul_ps(p->w[i], p->x[i]);
        sw = _mm512_add_ps(sw, p->w[i]);
        sx = _mm512_add_ps(sx, wx);
        sxx = _mm512_add_ps(sxx, _mm512_mul_ps(wx, p->x[i]));
    }
    float tsw[S16], tsx[S16], tsxx[S16];
    _mm512_storeu_ps(tsw, sw);
    _mm512_storeu_ps(tsx, sx);
    _mm512_storeu_ps(tsxx, sxx);
    p->kp.sh = sh;
    p->kp.nsub = S16;
    p->kp.x = x;
    p->kp.w = NULL;
    for (int j = 0; j < S16; j++)
        p->kp.mo[j] = (kq_moments){tsw[j], tsx[j], tsxx[j]};
}

/* fit_symmetric_sub of every sub-block (one side, one step): the scales */
static __m512 s16_fit(const s16_problem *p)
{
    const kq_shape *sh = p->sh;
    const __m512 zero = _mm512_setzero_ps();
    __m512 xm = zero;
    for (int i = 0; i < S16; i++) {
        const __mmask16 gt = _mm512_cmp_ps_mask(_mm512_abs_ps(p->x[i]), _mm512_abs_ps(xm), _CMP_GT_OQ);
        xm = _mm512_mask_blend_ps(gt, xm, p->x[i]);
    }
    const float top = -(float)sh->qmin, sign = -1.f;
    const __m512 iscale = _mm512_div_ps(_mm512_set1_ps(sign * (top + 0.f)), xm);
    __m512 a[8], b[8];
    for (int i = 0; i < S16; i++) {
        const __m512 q = s16_round(_mm512_mul_ps(iscale, p->x[i]), p->lo, p->hi);
        const __m512 wq = _mm512_mul_ps(p->w[i], q);
        s16_acc(a, i, _mm512_mul_ps(wq, q));
        s16_acc(b, i, _mm512_mul_ps(wq, p->x[i]));
    }
    const __m512 sqq = s16_tree(a), sxq = s16_tree(b);
    float tsxx[S16];
    for (int j = 0; j < S16; j++)
        tsxx[j] = p->kp.mo[j].sxx;
    const __m512 s = _mm512_div_ps(sxq, sqq);
    const __m512 err = _mm512_sub_ps(_mm512_loadu_ps(tsxx), _mm512_mul_ps(sxq, s));
    const __mmask16 ok = _mm512_cmp_ps_mask(xm, zero, _CMP_NEQ_UQ) &
                         _mm512_cmp_ps_mask(sqq, zero, _CMP_GT_OQ) &
                         _mm512_cmp_ps_mask(err, _mm512_loadu_ps(tsxx), _CMP_LT_OQ);
    return _mm512_maskz_mov_ps(ok, s);
}

/* kq_sub_quantize of the lanes in m at dl = d*sc, into st */
static void s16_settle(const s16_problem *p, s16_state *st, __mmask16 m)
{
    const __m512 dl = _mm512_mul_ps(_mm512_set1_ps(st->d), st->sc), inv = s16_inverse(dl);
    const __m512 ml = _mm512_setzero_ps(); /* dmin*m: 0 in the symmetric types */
    __m512 a[8], b[8], c[8], e[8];
    for (int i = 0; i < S16; i++) {
        const __m512 x = p->x[i], w = p->w[i];
        const __m512 v = s16_round(_mm512_mul_ps(_mm512_add_ps(x, ml), inv), p->lo, p->hi);
        const __m512 diff = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(dl, v), ml), x);
        const __m512 wq = _mm512_mul_ps(w, v);
        st->q[i] = _mm512_mask_mov_ps(st->q[i], m, v);
        s16_acc(a, i, wq);
        s16_acc(b, i, _mm512_mul_ps(wq, v));
        s16_acc(c, i, _mm512_mul_ps(wq, x));
        s16_acc(e, i, _mm512_mul_ps(_mm512_mul_ps(w, diff), diff));
    }
    st->sq = _mm512_mask_mov_ps(st->sq, m, s16_tree(a));
    st->sqq = _mm512_mask_mov_ps(st->sqq, m, s16_tree(b));
    st->sqx = _mm512_mask_mov_ps(st->sqx, m, s16_tree(c));
    st->e = _mm512_mask_mov_ps(st->e, m, s16_tree(e));
}

/* kq_sub_error at scales sc (INFINITY outside the format's range) */
static __m512 s16_error(const s16_problem *p, float d, __m512 sc)
{
    const __m512 dl = _mm512_mul_ps(_mm512_set1_ps(d), sc), inv = s16_inverse(dl);
    const __m512 ml = _mm512_setzero_ps();
    __m512 a[8];
    for (int i = 0; i < S16; i++) {
        const __m512 x = p->x[i];
        const __m512 v = s16_round(_mm512_mul_ps(_mm512_add_ps(x, ml), inv), p->lo, p->hi);
        const __m512 diff = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(dl, v), ml), x);
        s16_acc(a, i, _mm512_mul_ps(_mm512_mul_ps(p->w[i], diff), diff));
    }
    const __mmask16 in = _mm512_cmp_ps_mask(sc, _mm512_set1_ps((float)p->sh->scmin), _CMP_GE_OQ) &
                         _mm512_cmp_ps_mask(sc, _mm512_set1_ps((float)p->sh->scmax), _CMP_LE_OQ);
    return _mm512_mask_blend_ps(in, _mm512_set1_ps(INFINITY), s16_tree(a));
}

/* sum_errors: in sub-block order */
static void s16_sum_errors(s16_state *st)
{
    float e[S16];
    _mm512_storeu_ps(e, st->e);
    st->err = 0;
    for (int j = 0; j < S16; j++)
        st->err += e[j];
}

/* choose_integers: sc +- 1 for every sub-block not stable (all, unless
 * settled); the others would keep their integers. */
static void s16_choose(const s16_problem *p, s16_state *st, int settled)
{
    if (!settled)
        s16_settle(p, st, 0xFFFF);
    const __mmask16 todo = settled ? (__mmask16)~st->stable : (__mmask16)0xFFFF;
    if (todo) {
        const __m512 one = _mm512_set1_ps(1.f), sc0 = st->sc;
        const __m512 lower = s16_error(p, st->d, _mm512_sub_ps(sc0, one));
        const __m512 upper = s16_error(p, st->d, _mm512_add_ps(sc0, one));
        __m512 best = st->e, sc = sc0;
        const __mmask16 lo_wins = _mm512_cmp_ps_mask(lower, best, _CMP_LT_OQ);
        best = _mm512_mask_blend_ps(lo_wins, best, lower);
        sc = _mm512_mask_blend_ps(lo_wins, sc, _mm512_sub_ps(sc0, one));
        const __mmask16 up_wins = _mm512_cmp_ps_mask(upper, best, _CMP_LT_OQ);
        sc = _mm512_mask_blend_ps(up_wins, sc, _mm512_add_ps(sc0, one));
        const __mmask16 changed = todo & (lo_wins | up_wins);
        st->sc = _mm512_mask_blend_ps(todo, st->sc, sc);
        if (changed)
            s16_settle(p, st, changed);
        st->stable = (__mmask16)~changed;
    }
    s16_sum_errors(st);
}

/* refit_super_scales of the reference on st's sums */
static float s16_refit(const s16_problem *p, const s16_state *st)
{
    kq_state k;
    float sc[S16];
    _mm512_storeu_ps(sc, st->sc);
    _mm512_storeu_ps(k.sq, st->sq);
    _mm512_storeu_ps(k.sqq, st->sqq);
    _mm512_storeu_ps(k.sqx, st->sqx);
    for (int j = 0; j < S16; j++) {
        k.sc[j] = (int)sc[j];
        k.m[j] = 0;
    }
    k.d = st->d;
    k.dmin = 0;
    float d, dmin;
    refit_super_scales(&p->kp, &k, &d, &dmin);
    return d;
}

/* search_from and refine, symmetric: from super-block scale d */
static void s16_search_from(const s16_problem *p, const float *s, float d, s16_state *best)
{
    const kq_shape *sh = p->sh;
    memset(best, 0, sizeof *best);
    best->d = kq_round_fp16(d);
    int sc[S16];
    for (int j = 0; j < S16; j++)
        sc[j] = best->d != 0 ? (int)kq_round(kq_clampf(s[j] / best->d, (float)sh->scmin, (float)sh->scmax)) : 0;
    best->sc = _mm512_cvtepi32_ps(_mm512_loadu_si512(sc));
    s16_choose(p, best, 0);
    s16_state trial;
    for (int iter = 0; iter < KQ_REFITS; ++iter) {
        trial = *best;
        trial.d = s16_refit(p, best);
        if (trial.d == best->d)
            break;
        s16_settle(p, &trial, 0xFFFF);
        trial.stable = 0;
        s16_sum_errors(&trial);
        if (!(trial.err < best->err))
            break;
        *best = trial;
    }
    if (KQ_FINAL_SEARCH) {
        trial = *best;
        s16_choose(p, &trial, 1);
        if (trial.err < best->err)
            *best = trial;
    }
}

/* search_symmetric and search_starts for one super-block */
static void s16_search(const kq_shape *sh, const float *x, const float *w, kq_superblock *out)
{
    s16_problem p;
    s16_load(&p, sh, x, w);
    float s[S16], smax = 0;
    _mm512_storeu_ps(s, s16_fit(&p));
    for (int j = 0; j < S16; ++j)
        smax = fabsf(s[j]) > fabsf(smax) ? s[j] : smax;
    const float d = smax / (float)sh->scmin;
    s16_state st[2], *best = &st[0];
    s16_search_from(&p, s, d, best);
    const int range = sh->scmax > sh->mmax ? sh->scmax : sh->mmax;
    const float d2 = lift_subnormal(d, -smax, range);
    if (d2 != d) {
        s16_search_from(&p, s, d2, &st[1]);
        if (st[1].err < best->err)
            best = &st[1];
    }
    memset(out, 0, sizeof *out);
    out->d = best->d;
    out->dmin = 0;
    float sc[S16], q[S16][S16];
    _mm512_storeu_ps(sc, best->sc);
    for (int i = 0; i < S16; i++)
        _mm512_storeu_ps(q[i], best->q[i]);
    for (int j = 0; j < S16; ++j) {
        out->sc[j] = (int16_t)sc[j];
        for (int i = 0; i < S16; i++)
            out->q[S16 * j + i] = (int8_t)q[i][j];
    }
}

#define S16_ROW(T)                                                                            \
    static void quantize_row_##T##_lanes(const float *x, void *y, int64_t n, const float *imatrix) \
    {                                                                                         \
        for (int64_t b = 0; b < n / MVQ_QK_K; ++b) {                                         \
            kq_superblock sb;                                                                 \
            s16_search(kq_format_##T.shape, x + b * MVQ_QK_K,                                \
                       imatrix ? imatrix + b * MVQ_QK_K : NULL, &sb);                         \
            kq_format_##T.store(&sb, (unsigned char *)y + b * kq_format_##T.block_bytes);     \
        }                                                                                     \
    }
S16_ROW(q3_K)
S16_ROW(q6_K)

#undef S16_ROW
#undef S16

#endif
