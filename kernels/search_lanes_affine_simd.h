/* Internal to kernels/: the whole affine scale search of ref.h (Q4_1,
 * Q5_1: y = level * d + m, levels 0..nmax) for VF_LANES blocks at once,
 * one block per lane, as search_lanes_simd.h does for the symmetric grids.
 * The candidates-in-lanes evaluator filled five or three of the lanes per
 * pass and left the refits scalar; here every step of
 * mvq_search_affine_with (ref_search.c) is a lane-wise float operation in
 * the reference's order, so each lane gives the scalar reference's bytes.
 * Included after search_lanes_simd.h, whose operations and helpers
 * (lanes_load, lanes_codes, lanes_fp16_neighbour) it uses, and
 * vm vm_or(vm, vm). */
#ifndef MVQ_SEARCH_LANES_AFFINE_SIMD_H
#define MVQ_SEARCH_LANES_AFFINE_SIMD_H

typedef struct {
    vf err, sv, svv, sxv;
} lanes_aff_sums;

/* Passes at nv (1 or 2) (scale, minimum) vectors, overlapped: as aff_step;
 * with sums 0 the error alone.  nv and sums are constants where called. */
MVQ_EVAL_INLINE void lanes_aff_pass_nv(const lanes_input *in, vf hi, const vf *d, const vf *m,
                                       int nv, int sums, lanes_aff_sums *out)
{
    vf id[2], err[2], sv[2], svv[2], sxv[2];
    const vf zero = vf_set1(0.0f);
    for (int k = 0; k < nv; k++) {
        id[k] = vf_inverse(d[k]);
        err[k] = sv[k] = svv[k] = sxv[k] = zero;
    }
    for (int j = 0; j < LANES_BLOCK; j++) {
        const vf xj = in->x[j], wj = in->w[j], wx = in->wx[j];
        for (int k = 0; k < nv; k++) {
            const vf t = vf_mul(vf_sub(xj, m[k]), id[k]);
            const vf v = vf_round_even(vf_min(hi, vf_max(zero, t)));
            const vf diff = vf_sub(xj, vf_add(vf_mul(v, d[k]), m[k]));
            err[k] = vf_add(err[k], vf_mul(vf_mul(wj, diff), diff));
            if (sums) {
                const vf wv = vf_mul(wj, v);
                sv[k] = vf_add(sv[k], wv);
                svv[k] = vf_add(svv[k], vf_mul(wv, v));
                sxv[k] = vf_add(sxv[k], vf_mul(wx, v));
            }
        }
    }
    for (int k = 0; k < nv; k++)
        out[k] = (lanes_aff_sums){err[k], sv[k], svv[k], sxv[k]};
}

static void lanes_aff_pass(const lanes_input *in, const vf *hi_p, const vf *d, const vf *m, int nv,
                           int sums, lanes_aff_sums *out)
{
    const vf hi = *hi_p;
    if (nv == 2 && sums)
        lanes_aff_pass_nv(in, hi, d, m, 2, 1, out);
    else if (nv == 2)
        lanes_aff_pass_nv(in, hi, d, m, 2, 0, out);
    else if (sums)
        lanes_aff_pass_nv(in, hi, d, m, 1, 1, out);
    else
        lanes_aff_pass_nv(in, hi, d, m, 1, 0, out);
}

/* The best pass so far: the lowest error, the first on ties (consider()). */
typedef struct {
    vf err, d, m;
} lanes_aff_best;

MVQ_EVAL_INLINE void lanes_aff_consider(lanes_aff_best *b, vm live, vf err, vf d, vf m)
{
    const vm better = vm_and(live, vm_lt(err, b->err));
    b->err = vf_select(better, err, b->err);
    b->d = vf_select(better, d, b->d);
    b->m = vf_select(better, m, b->m);
}

/* affine_chains of ref_search.c: nc chains from (d[c], m[c]) where live[c],
 * refitted by least squares until R refits, a singular system or no change;
 * every pass considered chain by chain, round by round. */
static void lanes_aff_chains(const lanes_input *in, const vf *hi, const vf *sw_p, const vf *sx_p, int R,
                             vf *cur_d, vf *cur_m, vm *live, int nc, lanes_aff_best *best)
{
    const vf sw = *sw_p, sx = *sx_p;
    enum { MAXC = 2 * LANES_MAX_HALF_STEPS + 1 };
    vf seen_d[MAXC][LANES_MAX_REFITS + 1], seen_m[MAXC][LANES_MAX_REFITS + 1];
    vf seen_err[MAXC][LANES_MAX_REFITS + 1];
    vm seen_live[MAXC][LANES_MAX_REFITS + 1];
    const vf zero = vf_set1(0.0f);
    int rounds = 0;
    for (int r = 0; r <= R; r++) {
        int act[MAXC], na = 0;
        for (int c = 0; c < nc; c++) {
            seen_live[c][r] = vm_none();
            if (vm_any(live[c]))
                act[na++] = c;
        }
        if (na == 0)
            break;
        rounds = r + 1;
        for (int i = 0; i < na; i += 2) {
            const int nv = na - i < 2 ? 1 : 2;
            vf dv[2], mv[2];
            lanes_aff_sums s[2];
            for (int k = 0; k < nv; k++) {
                dv[k] = cur_d[act[i + k]];
                mv[k] = cur_m[act[i + k]];
            }
            lanes_aff_pass(in, hi, dv, mv, nv, r < R, s);
            for (int k = 0; k < nv; k++) {
                const int c = act[i + k];
                seen_d[c][r] = cur_d[c];
                seen_m[c][r] = cur_m[c];
                seen_err[c][r] = s[k].err;
                seen_live[c][r] = live[c];
                if (r == R) {
                    live[c] = vm_none();
                    continue;
                }
                const vf det = vf_sub(vf_mul(sw, s[k].svv), vf_mul(s[k].sv, s[k].sv));
                const vf d2 = vf_round_fp16(vf_div(vf_sub(vf_mul(sw, s[k].sxv), vf_mul(sx, s[k].sv)), det));
                const vf m2 = vf_round_fp16(vf_div(vf_sub(vf_mul(s[k].svv, sx), vf_mul(s[k].sv, s[k].sxv)), det));
                /* on, unless converged (d and m both unchanged; NaN moves) */
                live[c] = vm_and(live[c], vm_and(vm_gt(det, zero),
                                                 vm_or(vm_ne(d2, cur_d[c]), vm_ne(m2, cur_m[c]))));
                cur_d[c] = d2;
                cur_m[c] = m2;
            }
        }
    }
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < rounds; r++) {
            if (!vm_any(seen_live[c][r]))
                break;
            lanes_aff_consider(best, seen_live[c][r], seen_err[c][r], seen_d[c][r], seen_m[c][r]);
        }
}

/* nb (1..VF_LANES) consecutive blocks of 32 at x, weights w[b], on the
 * grid 0..lv->hi: d[b], m[b] and codes[32 b + j], as
 * mvq_search_affine_with on each. */
static void lanes_search_affine(const mvq_levels *lv, const float *x, const float *const *w, int nb,
                                float *d_out, float *m_out, uint8_t *codes)
{
    const mvq_grid *g = lv->g;
    lanes_input in;
    lanes_load(x, w, nb, &in);
    const vf zero = vf_set1(0.0f), hi = vf_set1(lv->hi);
    vf min = in.x[0], max = in.x[0], sw = zero, sx = zero;
    for (int j = 1; j < LANES_BLOCK; j++) {
        min = vf_select(vm_lt(in.x[j], min), in.x[j], min);
        max = vf_select(vm_gt(in.x[j], max), in.x[j], max);
    }
    for (int j = 0; j < LANES_BLOCK; j++) {
        sw = vf_add(sw, in.w[j]);
        sx = vf_add(sx, in.wx[j]);
    }
    const vf m0 = vf_round_fp16(min);
    lanes_aff_best best = {vf_set1(FLT_MAX), zero, m0};
    lanes_aff_sums s[2];
    lanes_aff_pass(&in, &hi, &zero, &m0, 1, 0, s);
    lanes_aff_consider(&best, vm_ones(), s[0].err, zero, m0);
    const vm spread = vm_gt(max, min);
    if (vm_any(spread)) {
        const int K = g->half_steps < LANES_MAX_HALF_STEPS ? g->half_steps : LANES_MAX_HALF_STEPS;
        const int R = g->refits < LANES_MAX_REFITS ? g->refits : LANES_MAX_REFITS;
        const vf range = vf_sub(max, min);
        vf cd[2 * LANES_MAX_HALF_STEPS + 1], cm[2 * LANES_MAX_HALF_STEPS + 1];
        vm live[2 * LANES_MAX_HALF_STEPS + 1];
        int nc = 0;
        for (int k = -K; k <= K; k++, nc++) {
            const float den = (float)(g->n_levels - 1) * (1.0f + g->step * (float)k);
            cd[nc] = vf_round_fp16(vf_div(range, vf_set1(den)));
            cm[nc] = m0;
            live[nc] = spread;
        }
        lanes_aff_chains(&in, &hi, &sw, &sx, R, cd, cm, live, nc, &best);
        /* the winner's levels shifted by quarter steps (ref_search.c) */
        static const int shifts[3] = {-1, 1, 2};
        const vf d1 = best.d, m1 = best.m;
        for (int i = 0; i < 3; i++) {
            cd[i] = d1;
            cm[i] = vf_round_fp16(vf_add(m1, vf_mul(vf_mul(d1, vf_set1(0.25f)), vf_set1((float)shifts[i]))));
            live[i] = spread;
        }
        lanes_aff_chains(&in, &hi, &sw, &sx, R, cd, cm, live, 3, &best);
        /* the fp16 neighbours of d, then of m, toward zero then away */
        const vf d2 = best.d, m2 = best.m;
        for (int dir = -1; dir <= 1; dir += 2) {
            const vf nd[2] = {lanes_fp16_neighbour(d2, dir), d2};
            const vf nm[2] = {m2, lanes_fp16_neighbour(m2, dir)};
            lanes_aff_pass(&in, &hi, nd, nm, 2, 0, s);
            for (int k = 0; k < 2; k++)
                lanes_aff_consider(&best, spread, s[k].err, nd[k], nm[k]);
        }
    }
    VF_TMP float td[VF_LANES], tm[VF_LANES];
    vf_storeu(td, best.d);
    vf_storeu(tm, best.m);
    for (int b = 0; b < nb; b++) {
        d_out[b] = td[b];
        m_out[b] = tm[b];
    }
    const lanes_grid lg = {.lo = zero, .hi = hi};
    lanes_codes(x, nb, &best.d, &best.m, &lg, codes);
}

#endif
