/* Internal to kernels/x86/kquant_avx*.c: the symmetric K-quant search
 * (Q3_K, Q6_K: sixteen sub-blocks of 16) with the sub-blocks of one
 * super-block in sixteen lanes.  The hot loops of kquant_avx*.c vectorize
 * one sub-block at a time and reduce across lanes at every call (five to a
 * dozen calls per sub-block); here each step of kquant_search_impl.h's
 * search_symmetric runs for every sub-block at once: every sum keeps the
 * reference's eight partial sums (lane l: weights i % 8 == l, in order)
 * and adds them as ((0+1)+(2+3))+((4+5)+(6+7)), each lane's arithmetic that
 * of the reference, so the bytes are the reference's.  The steps that span
 * sub-blocks (the largest scale, the error total, the super-block refit)
 * stay scalar, as the reference's.  Included after kquant_search_impl.h,
 * whose state and refit it uses.
 *
 * The includer defines a vector V16 of sixteen floats (one __m512, or two
 * __m256) and a mask M16 of as many lanes, and
 *   V16 v_set1(float), v_zero(void), v_loadu(const float *p),
 *   void v_storeu(float *, V16), V16 v_from_i32(const int32_t *p),
 *   V16 v_column(const float *p)      p[16 l] in lane l,
 *   v_add, v_sub, v_mul, v_div, v_min, v_max (the _ps semantics), v_abs,
 *   V16 v_round(V16)                 nearest integer, ties to even,
 *   M16 m_gt, m_lt, m_le, m_ge (ordered), m_ne (unordered: true with NaN),
 *   M16 m_and, m_or, m_not, m_all(void), m_none(void), int m_any(M16),
 *   V16 v_blend(M16 m, V16 f, V16 t)  m ? t : f,  V16 v_maskz(M16 m, V16 v)  m ? v : 0. */
#ifndef MVQ_KQUANT_SYM16_X86_H
#define MVQ_KQUANT_SYM16_X86_H

#define S16 16 /* weights per sub-block = sub-blocks per super-block = lanes */
/* local arrays that vectors are stored to (see VF_TMP, search_lanes_simd.h) */
#define S16_TMP _Alignas(64)

/* One super-block, transposed: x[i] holds weight i of every sub-block. */
typedef struct {
    const kq_shape *sh;
    V16 x[S16], w[S16];
    V16 lo, hi; /* the quant range */
    kq_problem kp; /* the moments, for refit_super_scales */
} s16_problem;

typedef struct {
    float d, err;
    V16 sc;    /* the sub-block scales (integers) */
    V16 q[S16];
    V16 sq, sqq, sqx, e;
    M16 stable;
} s16_state;

/* ((a0+a1)+(a2+a3))+((a4+a5)+(a6+a7)) */
MVQ_INLINE V16 s16_tree(const V16 *a)
{
    return v_add(v_add(v_add(a[0], a[1]), v_add(a[2], a[3])),
                         v_add(v_add(a[4], a[5]), v_add(a[6], a[7])));
}

/* the reference's partial sum l after term i: (0 + t_l) + t_{l+8} */
MVQ_INLINE void s16_acc(V16 *a, int i, V16 t)
{
    a[i & 7] = v_add(i < 8 ? v_zero() : a[i & 7], t);
}

MVQ_INLINE V16 s16_round(V16 v, V16 lo, V16 hi)
{
    return v_round(v_min(hi, v_max(lo, v)));
}

/* 1/dl, 0 where dl is 0 (NaN: 1/NaN, as the reference's dl != 0) */
MVQ_INLINE V16 s16_inverse(V16 dl)
{
    return v_maskz(m_ne(dl, v_zero()), v_div(v_set1(1.f), dl));
}

static void s16_load(s16_problem *p, const kq_shape *sh, const float *x, const float *w)
{
    p->sh = sh;
    p->lo = v_set1((float)sh->qmin);
    p->hi = v_set1((float)sh->qmax);
    V16 sw = v_zero(), sx = sw, sxx = sw;
    for (int i = 0; i < S16; i++) {
        p->x[i] = v_column(x + i);
        p->w[i] = w ? v_column(w + i) : v_set1(1.f);
        /* moments(): plain sums in order */
        const V16 wx = v_mul(p->w[i], p->x[i]);
        sw = v_add(sw, p->w[i]);
        sx = v_add(sx, wx);
        sxx = v_add(sxx, v_mul(wx, p->x[i]));
    }
    S16_TMP float tsw[S16], tsx[S16], tsxx[S16];
    v_storeu(tsw, sw);
    v_storeu(tsx, sx);
    v_storeu(tsxx, sxx);
    p->kp.sh = sh;
    p->kp.nsub = S16;
    p->kp.x = x;
    p->kp.w = NULL;
    for (int j = 0; j < S16; j++)
        p->kp.mo[j] = (kq_moments){tsw[j], tsx[j], tsxx[j]};
}

/* fit_symmetric_sub of every sub-block (one side, one step): the scales */
static V16 s16_fit(const s16_problem *p)
{
    const kq_shape *sh = p->sh;
    const V16 zero = v_zero();
    V16 xm = zero;
    for (int i = 0; i < S16; i++) {
        xm = v_blend(m_gt(v_abs(p->x[i]), v_abs(xm)), xm, p->x[i]);
    }
    const float top = -(float)sh->qmin, sign = -1.f;
    const V16 iscale = v_div(v_set1(sign * (top + 0.f)), xm);
    V16 a[8], b[8];
    for (int i = 0; i < S16; i++) {
        const V16 q = s16_round(v_mul(iscale, p->x[i]), p->lo, p->hi);
        const V16 wq = v_mul(p->w[i], q);
        s16_acc(a, i, v_mul(wq, q));
        s16_acc(b, i, v_mul(wq, p->x[i]));
    }
    const V16 sqq = s16_tree(a), sxq = s16_tree(b);
    S16_TMP float tsxx[S16];
    for (int j = 0; j < S16; j++)
        tsxx[j] = p->kp.mo[j].sxx;
    const V16 s = v_div(sxq, sqq);
    const V16 err = v_sub(v_loadu(tsxx), v_mul(sxq, s));
    const M16 ok = m_and(m_ne(xm, zero), m_and(m_gt(sqq, zero), m_lt(err, v_loadu(tsxx))));
    return v_maskz(ok, s);
}

/* kq_sub_quantize of the lanes in m at dl = d*sc, into st */
static void s16_settle(const s16_problem *p, s16_state *st, M16 m)
{
    const V16 dl = v_mul(v_set1(st->d), st->sc), inv = s16_inverse(dl);
    const V16 ml = v_zero(); /* dmin*m: 0 in the symmetric types */
    V16 a[8], b[8], c[8], e[8];
    for (int i = 0; i < S16; i++) {
        const V16 x = p->x[i], w = p->w[i];
        const V16 v = s16_round(v_mul(v_add(x, ml), inv), p->lo, p->hi);
        const V16 diff = v_sub(v_sub(v_mul(dl, v), ml), x);
        const V16 wq = v_mul(w, v);
        st->q[i] = v_blend(m, st->q[i], v);
        s16_acc(a, i, wq);
        s16_acc(b, i, v_mul(wq, v));
        s16_acc(c, i, v_mul(wq, x));
        s16_acc(e, i, v_mul(v_mul(w, diff), diff));
    }
    st->sq = v_blend(m, st->sq, s16_tree(a));
    st->sqq = v_blend(m, st->sqq, s16_tree(b));
    st->sqx = v_blend(m, st->sqx, s16_tree(c));
    st->e = v_blend(m, st->e, s16_tree(e));
}

/* kq_sub_error at scales sc (INFINITY outside the format's range) */
static V16 s16_error(const s16_problem *p, float d, const V16 *sc_p)
{
    const V16 sc = *sc_p;
    const V16 dl = v_mul(v_set1(d), sc), inv = s16_inverse(dl);
    const V16 ml = v_zero();
    V16 a[8];
    for (int i = 0; i < S16; i++) {
        const V16 x = p->x[i];
        const V16 v = s16_round(v_mul(v_add(x, ml), inv), p->lo, p->hi);
        const V16 diff = v_sub(v_sub(v_mul(dl, v), ml), x);
        s16_acc(a, i, v_mul(v_mul(p->w[i], diff), diff));
    }
    const M16 in = m_and(m_ge(sc, v_set1((float)p->sh->scmin)), m_le(sc, v_set1((float)p->sh->scmax)));
    return v_blend(in, v_set1(INFINITY), s16_tree(a));
}

/* sum_errors: in sub-block order */
static void s16_sum_errors(s16_state *st)
{
    S16_TMP float e[S16];
    v_storeu(e, st->e);
    st->err = 0;
    for (int j = 0; j < S16; j++)
        st->err += e[j];
}

/* choose_integers: sc +- 1 for every sub-block not stable (all, unless
 * settled); the others would keep their integers. */
static void s16_choose(const s16_problem *p, s16_state *st, int settled)
{
    if (!settled)
        s16_settle(p, st, m_all());
    const M16 todo = settled ? m_not(st->stable) : m_all();
    if (m_any(todo)) {
        const V16 one = v_set1(1.f), sc0 = st->sc;
        const V16 below = v_sub(sc0, one), above = v_add(sc0, one);
        const V16 lower = s16_error(p, st->d, &below);
        const V16 upper = s16_error(p, st->d, &above);
        V16 best = st->e, sc = sc0;
        const M16 lo_wins = m_lt(lower, best);
        best = v_blend(lo_wins, best, lower);
        sc = v_blend(lo_wins, sc, v_sub(sc0, one));
        const M16 up_wins = m_lt(upper, best);
        sc = v_blend(up_wins, sc, v_add(sc0, one));
        const M16 changed = m_and(todo, m_or(lo_wins, up_wins));
        st->sc = v_blend(todo, st->sc, sc);
        if (m_any(changed))
            s16_settle(p, st, changed);
        st->stable = m_not(changed);
    }
    s16_sum_errors(st);
}

/* refit_super_scales of the reference on st's sums */
static float s16_refit(const s16_problem *p, const s16_state *st)
{
    S16_TMP kq_state k;
    S16_TMP float sc[S16];
    v_storeu(sc, st->sc);
    v_storeu(k.sq, st->sq);
    v_storeu(k.sqq, st->sqq);
    v_storeu(k.sqx, st->sqx);
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
    S16_TMP int sc[S16];
    for (int j = 0; j < S16; j++)
        sc[j] = best->d != 0 ? (int)kq_round(kq_clampf(s[j] / best->d, (float)sh->scmin, (float)sh->scmax)) : 0;
    best->sc = v_from_i32(sc);
    s16_choose(p, best, 0);
    s16_state trial;
    for (int iter = 0; iter < KQ_REFITS; ++iter) {
        trial = *best;
        trial.d = s16_refit(p, best);
        if (trial.d == best->d)
            break;
        s16_settle(p, &trial, m_all());
        trial.stable = m_none();
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
    S16_TMP float s[S16];
    float smax = 0;
    v_storeu(s, s16_fit(&p));
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
    S16_TMP float sc[S16], q[S16][S16];
    v_storeu(sc, best->sc);
    for (int i = 0; i < S16; i++)
        v_storeu(q[i], best->q[i]);
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
#undef S16_TMP

#endif
