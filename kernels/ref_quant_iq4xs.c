/* IQ4_XS reference quantizer.  Per super-block of 256:
 *  1. each sub-block of 32 gets its own scale from IQ4_NL's search
 *     (mvq_search_symmetric on the same table, ref_search.c);
 *  2. candidates for the fp16 super-block scale d put the largest of those
 *     scales at -32 or at 31; at each d every sub-block takes the best of
 *     the integers l next to (its scale / d), judged by the exact error of
 *     y = (d * l) * level with nearest levels;
 *  3. d is refitted by weighted least squares to the chosen integers and
 *     levels (rounded to fp16) while that lowers the error, and the fp16
 *     neighbours of the winner are tried.
 * When d is only a few fp16 steps (tiny weights), smaller integers with a
 * larger d are tried as well.
 * Errors are weighted by the importance of each column when given (a
 * sub-block whose importance is all zero searches its scale unweighted).
 * Every error and sum comes from a search evaluator (search_eval.h), so the
 * SIMD tables run this same search with theirs and give the same bytes:
 * stage 1 runs the row's sub-blocks through their whole-search lanes
 * (two super-blocks at a time); stage 2 evaluates a sub-block's three
 * integers as one batch, or, where the evaluators hold blocks in lanes,
 * all eight sub-blocks' in three passes; codes are assigned only to the
 * winning encoding. */
#include "config.h"

#include <float.h>
#include <math.h>

#include "kernels/iq4xs.h"
#include "kernels/kquant_search.h"
#include "kernels/ref.h"
#include "kernels/search_eval.h"

/* the sub-block search: IQ4_NL's levels, breadth as for IQ4_NL */
static const mvq_grid sub_grid = {mvq_kvalues_iq4nl, 16, 0, 2, 0.04f, 2};

#define XS_REFITS 2
/* below 64 steps of fp16's smallest subnormal (2^-24), d itself rounds more
 * coarsely than the sub-block integers: then the scales that put the
 * largest sub-block at l = +-16, +-8, .., +-1 are tried too */
#define XS_FINE_D 0x1p-18f
static const int lifts[] = {-16, 16, -8, 8, -4, 4, -2, 2, -1, 1};

/* One super-block's candidate encoding (its codes are assigned at the end). */
typedef struct {
    float d, err;
    int l[8];
    mvq_sym_pass fit[8];
} xs_state;

typedef struct {
    const mvq_search_evals *e;
    const mvq_levels *lv; /* sub_grid, prepared once per row */
    const float *x, *w;   /* 256 weights, 256 importance weights */
    float s[8];         /* stage 1's scale of each sub-block */
    const mvq_blocks_input *held; /* the sub-blocks in the evaluator's lanes, or NULL */
} xs_problem;

/* The integer nearest (scale / d), within -31..30 (its neighbours are tried). */
static int start_integer(float s, float d)
{
    int l0 = 0;
    if (d != 0.0f) {
        const float r = s / d;
        l0 = mvq_nearest_int(r < -40.0f ? -40.0f : r > 40.0f ? 40.0f : r);
    }
    return l0 < -31 ? -31 : l0 > 30 ? 30 : l0;
}

/* Stage 2 at super-block scale d: each sub-block's best of three integers,
 * f[c][j] the pass of sub-block j at d * (l0[j] - 1 + c). */
static void settle(const xs_problem *p, float d, xs_state *st)
{
    int l0[8];
    mvq_sym_pass f[3][8];
    for (int j = 0; j < 8; j++)
        l0[j] = start_integer(p->s[j], d);
    if (p->held) { /* all 24 passes in three passes of the lanes */
        const int L = p->e->blocks_lanes;
        float cand[3 * MVQ_BLOCKS_LANES_MAX];
        mvq_sym_pass out[3 * MVQ_BLOCKS_LANES_MAX];
        for (int c = 0; c < 3; c++)
            for (int b = 0; b < L; b++)
                cand[c * L + b] = d * (float)(l0[b < 8 ? b : 0] - 1 + c);
        p->e->blocks_sym(p->held, p->lv, cand, 3, out);
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < 8; j++)
                f[c][j] = out[c * L + j];
    } else {
        for (int j = 0; j < 8; j++) {
            const float cand[3] = {d * (float)(l0[j] - 1), d * (float)l0[j], d * (float)(l0[j] + 1)};
            mvq_sym_pass fj[3];
            p->e->sym(p->x + 32 * j, p->w + 32 * j, 32, p->lv, cand, 3, fj);
            for (int c = 0; c < 3; c++)
                f[c][j] = fj[c];
        }
    }
    st->d = d;
    st->err = 0.0f;
    for (int j = 0; j < 8; j++) {
        int b = 0;
        for (int c = 1; c < 3; c++)
            if (f[c][j].err < f[b][j].err)
                b = c;
        st->l[j] = l0[j] - 1 + b;
        st->fit[j] = f[b][j];
        st->err += f[b][j].err;
    }
}

/* Weighted least-squares d for the integers and levels of st. */
static float refit(const xs_state *st)
{
    float num = 0.0f, den = 0.0f;
    for (int j = 0; j < 8; j++) {
        num += (float)st->l[j] * st->fit[j].sxv;
        den += (float)(st->l[j] * st->l[j]) * st->fit[j].svv;
    }
    return den > 0.0f ? kq_fp16_round(num / den) : st->d;
}

static void keep_better(const xs_state *trial, xs_state *best)
{
    if (trial->err < best->err)
        *best = *trial;
}

/* Stages 2 and 3 from the candidate d. */
static void descend(const xs_problem *p, float d, xs_state *trial, xs_state *best)
{
    settle(p, d, trial);
    keep_better(trial, best);
    for (int it = 0; it < XS_REFITS; it++) {
        const float d2 = refit(trial);
        if (d2 == trial->d)
            break;
        settle(p, d2, trial);
        keep_better(trial, best);
    }
}

/* The fp16 value next to d away from (dir 1) or toward (dir -1) zero. */
static float half_step(float d, int dir)
{
    const mvq_half h = mvq_fp32_to_fp16(d);
    const int mag = (h & 0x7fff) + dir;
    return mag < 0 || mag >= 0x7c00 ? d : mvq_fp16_to_fp32((mvq_half)((h & 0x8000) | mag));
}

static bool any_positive(const float *w, int n)
{
    for (int i = 0; i < n; i++)
        if (w[i] > 0.0f)
            return true;
    return false;
}

static void pack(const xs_problem *p, const xs_state *st, mvq_block_iq4_xs *b)
{
    uint8_t codes[256];
    for (int j = 0; j < 8; j++)
        mvq_assign_symmetric(p->lv, p->x + 32 * j, 32, st->d * (float)st->l[j], codes + 32 * j);
    b->d = mvq_fp32_to_fp16(st->d);
    b->scales_h = 0;
    memset(b->scales_l, 0, sizeof b->scales_l);
    for (int j = 0; j < 8; j++) {
        const int ls = st->l[j] + 32;
        b->scales_l[j / 2] |= (uint8_t)((ls & 0xF) << (4 * (j % 2)));
        b->scales_h |= (uint16_t)((ls >> 4) << (2 * j));
        for (int i = 0; i < 16; i++)
            b->qs[16 * j + i] =
                (uint8_t)(codes[32 * j + i] | (codes[32 * j + 16 + i] << 4));
    }
}

/* Stage 1 for nsub consecutive sub-blocks at x: the scale of each, in the
 * evaluators' lanes where they have a whole search (e->sym_blocks), else
 * one sub-block after another.  w[j]: sub-block j's weights (ones where
 * its importance is all zero). */
static void sub_scales(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                       const float *const *w, int nsub, float *s)
{
    uint8_t codes[32 * MVQ_BLOCKS_LANES_MAX]; /* stage 1's codes are not kept */
    int j = 0;
    if (e->sym_blocks)
        for (; j < nsub; j += e->blocks_lanes) {
            const int nb = nsub - j < e->blocks_lanes ? nsub - j : e->blocks_lanes;
            e->sym_blocks(lv, x + 32 * j, w + j, nb, s + j, codes);
        }
    for (; j < nsub; j++)
        s[j] = mvq_search_symmetric_with(e, lv, x + 32 * j, w[j], 32, codes);
}

/* Stages 2 and 3 of one super-block, from its sub-block scales s. */
static void quantize_superblock(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                                const float *w, const float s[8], mvq_block_iq4_xs *b)
{
    xs_problem p = {e, lv, x, w, {0}, NULL};
    mvq_blocks_input held;
    if (e->blocks_load && e->blocks_lanes >= 8) {
        const float *wj[8];
        for (int j = 0; j < 8; j++)
            wj[j] = w + 32 * j;
        e->blocks_load(x, wj, 8, &held);
        p.held = &held;
    }
    float smax = 0.0f;
    for (int j = 0; j < 8; j++) {
        p.s[j] = s[j];
        smax = fabsf(s[j]) > fabsf(smax) ? s[j] : smax;
    }
    xs_state best, trial;
    settle(&p, 0.0f, &best); /* all zero */
    if (smax != 0.0f) {
        const float d0 = kq_fp16_round(smax / -32.0f);
        descend(&p, d0, &trial, &best);
        descend(&p, kq_fp16_round(smax / 31.0f), &trial, &best);
        /* a d of few fp16 steps is coarser than the integers: larger d too */
        for (size_t k = 0; fabsf(d0) < XS_FINE_D && k < sizeof lifts / sizeof lifts[0]; k++)
            descend(&p, kq_fp16_round(smax / (float)lifts[k]), &trial, &best);
        const float d1 = best.d;
        for (int dir = -1; dir <= 1; dir += 2) {
            settle(&p, half_step(d1, dir), &trial);
            keep_better(&trial, &best);
        }
    }
    pack(&p, &best, b);
}

/* Super-blocks per round of stage 1: enough sub-blocks to fill the widest lanes. */
#define XS_ROUND (MVQ_BLOCKS_LANES_MAX / 8)

void mvq_quantize_row_iq4_xs_with(const mvq_search_evals *e, const float *x, void *vy, int64_t n,
                                  const float *imatrix)
{
    float ones[256];
    for (int k = 0; k < 256; k++)
        ones[k] = 1.0f;
    mvq_block_iq4_xs *y = vy;
    mvq_levels lv;
    mvq_levels_init(&lv, &sub_grid);
    const int64_t nsb = n / MVQ_QK_K;
    for (int64_t i = 0; i < nsb; i += XS_ROUND) {
        const int nr = nsb - i < XS_ROUND ? (int)(nsb - i) : XS_ROUND;
        const float *sw[XS_ROUND], *w[8 * XS_ROUND];
        float s[8 * XS_ROUND];
        for (int r = 0; r < nr; r++) {
            /* a super-block whose importance is all zero is unweighted */
            const float *imp = imatrix ? imatrix + MVQ_QK_K * (i + r) : NULL;
            sw[r] = imp && any_positive(imp, 256) ? imp : ones;
            for (int j = 0; j < 8; j++)
                w[8 * r + j] = any_positive(sw[r] + 32 * j, 32) ? sw[r] + 32 * j : ones;
        }
        sub_scales(e, &lv, x + MVQ_QK_K * i, w, 8 * nr, s);
        for (int r = 0; r < nr; r++)
            quantize_superblock(e, &lv, x + MVQ_QK_K * (i + r), sw[r], s + 8 * r, &y[i + r]);
    }
}

void mvq_quantize_row_iq4_xs_ref(const float *x, void *vy, int64_t n, const float *imatrix)
{
    mvq_quantize_row_iq4_xs_with(&mvq_search_evals_ref, x, vy, n, imatrix);
}
