/* Internal to kernels/: the whole symmetric scale search of ref.h on
 * integer grids (Q4_0, Q5_0, Q8_0) and IQ4_NL's table for VF_LANES blocks
 * at once, one block per lane.  The evaluators of search_eval_simd.h put
 * one block's candidates in lanes and leave the bookkeeping (refits,
 * convergence, the winner, fp16 rounding) scalar and branchy: that was a
 * third of the time, and most passes filled few lanes.  Here every step
 * of ref_search.c is a lane-wise float operation in the reference's order,
 * so each lane gives the scalar reference's bytes:
 *   - chains advance in rounds, a lane's chain stopping where the
 *     reference's would (mask), and passes no lane needs are skipped;
 *   - the winner is chosen by scanning the passes in ref.h's order with a
 *     strict less-than, as consider() does.
 *
 * The includer defines, beyond search_eval_simd.h's operations:
 *   a mask type vm and
 *   vf vf_div(vf, vf), vf vf_abs(vf),
 *   vm vm_gt(vf a, vf b)   a > b (false with NaN), vm vm_lt(vf a, vf b),
 *   vm vm_ne(vf a, vf b)   !(a == b) (true with NaN),
 *   vm vm_le(vf a, vf b)   a <= b (false with NaN),
 *   vm vm_and(vm, vm), vm vm_andnot(vm a, vm b) (b and not a),
 *   vm vm_ones(void), vm vm_none(void), int vm_any(vm),
 *   vf vf_select(vm m, vf t, vf f)   m ? t : f per lane,
 *   vf vf_round_fp16(vf)   mvq_round_fp16 in each lane,
 *   vf vf_bits_add(vf a, int k)   the float whose bits are a's plus k,
 *   vf vf_with_sign(vf m, vf s)   m (non-negative) with the sign bit of s,
 *   void vf_transpose(vf r[VF_LANES])   r as a VF_LANES x VF_LANES matrix,
 *                             transposed in place (lane l of r[k] <- lane k of r[l]),
 *   void vf_store_codes(uint8_t *p, vf c)   VF_LANES integers 0..255 as bytes,
 *   vf vf_table_code(const vf_table *, vf t)   the code of vf_table_level's
 *                             level, as a float (table grids have
 *                             MVQ_TABLE_LEVELS levels). */
#ifndef MVQ_SEARCH_LANES_SIMD_H
#define MVQ_SEARCH_LANES_SIMD_H

#include <float.h>

#include "kernels/search_eval.h"

#define LANES_BLOCK 32
/* Local arrays that vectors are stored to, aligned as vf by type: GCC may
 * align a plain float array to the vector on its own and store to it with
 * an aligned move, which AddressSanitizer's fake stack (use after return)
 * does not honour; an array aligned by type is realigned as a vf is. */
#define VF_TMP _Alignas(sizeof(vf))
/* Functions that are not inlined take vectors by pointer, never by value:
 * GCC 12 gives a local function with vector arguments no vzeroupper at
 * its return, and its caller, taking the call to have cleaned up, returns
 * to baseline code with the upper halves dirty, which slowed the SSE code
 * after it six-fold (tests/upper_state.h checks every entry). */
#define LANES_MAX_HALF_STEPS 15
#define LANES_MAX_CHAINS (2 * (2 * LANES_MAX_HALF_STEPS + 1))
#define LANES_MAX_REFITS 4

/* The blocks transposed: position j of every lane's block. */
typedef struct {
    vf x[LANES_BLOCK], w[LANES_BLOCK], wx[LANES_BLOCK];
} lanes_input;

typedef struct {
    vf err, sxv, svv;
} lanes_sums;

/* Rows of 32 at p + off[l] (lane l), transposed: out[j] holds position j. */
MVQ_EVAL_INLINE void lanes_transpose_rows(const float *p, const size_t *off, vf *out)
{
    for (int h = 0; h < LANES_BLOCK; h += VF_LANES) {
        vf r[VF_LANES];
        for (int l = 0; l < VF_LANES; l++)
            r[l] = vf_loadu(p + off[l] + h);
        vf_transpose(r);
        for (int k = 0; k < VF_LANES; k++)
            out[h + k] = r[k];
    }
}

/* The blocks of x (weights w[b]) transposed into in; lanes past nb repeat
 * the first block.  The weights are the row's importance (one block after
 * another, as x), one array shared by every block, or a mix (some blocks'
 * importance is all zero): the last gathered lane by lane. */
static void lanes_load(const float *x, const float *const *w, int nb, lanes_input *in)
{
    size_t off[VF_LANES];
    int along = 1, shared = 1;
    for (int l = 0; l < VF_LANES; l++) {
        const int b = l < nb ? l : 0;
        off[l] = (size_t)LANES_BLOCK * (size_t)b;
        along &= (uintptr_t)w[b] == (uintptr_t)w[0] + sizeof(float) * off[l];
        shared &= w[b] == w[0];
    }
    lanes_transpose_rows(x, off, in->x);
    if (along)
        lanes_transpose_rows(w[0], off, in->w);
    for (int j = 0; j < LANES_BLOCK; j++) {
        if (shared) {
            in->w[j] = vf_set1(w[0][j]);
        } else if (!along) {
            VF_TMP float t[VF_LANES];
            for (int l = 0; l < VF_LANES; l++)
                t[l] = w[l < nb ? l : 0][j];
            in->w[j] = vf_loadu(t);
        }
        in->wx[j] = vf_mul(in->w[j], in->x[j]);
    }
}

/* The grid as the passes see it: integers lo..hi, or a table. */
typedef struct {
    vf lo, hi;
    vf_table tab;
    int table;
} lanes_grid;

MVQ_EVAL_INLINE vf lanes_level(const lanes_grid *g, vf t, int table)
{
    return table ? vf_table_level(&g->tab, t) : vf_round_even(vf_min(g->hi, vf_max(g->lo, t)));
}

/* Passes at nv (1 or 2) scale vectors, overlapped: as sym_step; with sums
 * 0 the error alone (the passes no refit follows).  nv, sums and table are
 * constants where called (lanes_pass), so the sums stay in registers. */
MVQ_EVAL_INLINE void lanes_pass_nv(const lanes_input *in, const lanes_grid *g, const vf *d, int nv,
                                   int sums, int table, lanes_sums *out)
{
    vf id[2], err[2], sxv[2], svv[2];
    for (int k = 0; k < nv; k++) {
        id[k] = vf_inverse(d[k]);
        err[k] = sxv[k] = svv[k] = vf_set1(0.0f);
    }
    for (int j = 0; j < LANES_BLOCK; j++) {
        const vf xj = in->x[j], wj = in->w[j], wx = in->wx[j];
        for (int k = 0; k < nv; k++) {
            const vf v = lanes_level(g, vf_mul(xj, id[k]), table);
            const vf diff = vf_sub(xj, vf_mul(v, d[k]));
            err[k] = vf_add(err[k], vf_mul(vf_mul(wj, diff), diff));
            if (sums) {
                sxv[k] = vf_add(sxv[k], vf_mul(wx, v));
                svv[k] = vf_add(svv[k], vf_mul(vf_mul(wj, v), v));
            }
        }
    }
    for (int k = 0; k < nv; k++)
        out[k] = (lanes_sums){err[k], sxv[k], svv[k]};
}

#define LANES_PASS_CASES(table)                                       \
    if (nv == 2 && sums)                                              \
        lanes_pass_nv(in, g, d, 2, 1, table, out);                    \
    else if (nv == 2)                                                 \
        lanes_pass_nv(in, g, d, 2, 0, table, out);                    \
    else if (sums)                                                    \
        lanes_pass_nv(in, g, d, 1, 1, table, out);                    \
    else                                                              \
        lanes_pass_nv(in, g, d, 1, 0, table, out);

static void lanes_pass(const lanes_input *in, const lanes_grid *g, const vf *d, int nv, int sums,
                       lanes_sums *out)
{
    if (g->table) {
        LANES_PASS_CASES(1)
    } else {
        LANES_PASS_CASES(0)
    }
}

/* The codes of block b (lane b) at scales d (offset m), as assign_codes:
 * the block's own values, not the transposed ones, so no transpose back. */
static void lanes_codes(const float *x, int nb, const vf *d, const vf *m, const lanes_grid *g,
                        uint8_t *codes)
{
    VF_TMP float id[VF_LANES], mm[VF_LANES];
    vf_storeu(id, vf_inverse(*d));
    vf_storeu(mm, *m);
    for (int b = 0; b < nb; b++) {
        const vf ib = vf_set1(id[b]), mb = vf_set1(mm[b]);
        for (int j = 0; j < LANES_BLOCK; j += VF_LANES) {
            const vf t = vf_mul(vf_sub(vf_loadu(x + LANES_BLOCK * b + j), mb), ib);
            const vf c = g->table ? vf_table_code(&g->tab, t) : vf_sub(lanes_level(g, t, 0), g->lo);
            vf_store_codes(codes + LANES_BLOCK * b + j, c);
        }
    }
}

/* fp16_neighbour of ref_search.c for fp16 values d: one fp16 step away
 * from zero (dir 1) or toward it (-1), d itself past 0 or 65504.  At and
 * below 2^-14 the step is 2^-24 (subnormal spacing, exact in float);
 * above, one unit of the fp16 mantissa, bit 13 of the float's. */
MVQ_EVAL_INLINE vf lanes_fp16_neighbour(vf d, int dir)
{
    const vf a = vf_abs(d);
    const vm sub = vm_le(a, vf_set1(6.103515625e-05f));
    const vf small = vf_add(a, vf_set1((float)dir * 5.9604644775390625e-08f));
    const vf n = vf_select(sub, small, vf_bits_add(a, dir * (1 << 13)));
    const vm ok = dir < 0 ? vm_gt(a, vf_set1(0.0f)) : vm_lt(a, vf_set1(65504.0f));
    return vf_select(ok, vf_with_sign(n, d), d);
}

/* Consider a pass (where live): the lowest error so far, the first on ties. */
MVQ_EVAL_INLINE void lanes_consider(vf *best_err, vf *best_d, vm live, vf err, vf d)
{
    const vm better = vm_and(live, vm_lt(err, *best_err));
    *best_err = vf_select(better, err, *best_err);
    *best_d = vf_select(better, d, *best_d);
}

/* ---- passes over held blocks (mvq_blocks_load_fn, mvq_blocks_sym_fn) ---- */

_Static_assert(sizeof(lanes_input) <= sizeof(mvq_blocks_input), "held blocks fit the storage");

static void lanes_blocks_load(const float *x, const float *const *w, int nb, mvq_blocks_input *held)
{
    lanes_load(x, w, nb, (lanes_input *)(void *)held->bytes);
}

static void lanes_blocks_sym(const mvq_blocks_input *held, const mvq_levels *lv, const float *d,
                             int nc, mvq_sym_pass *out)
{
    const lanes_input *in = (const lanes_input *)(const void *)held->bytes;
    lanes_grid lg = {.lo = vf_set1(lv->lo), .hi = vf_set1(lv->hi), .table = lv->g->values != NULL};
    if (lg.table)
        vf_table_init(&lg.tab, lv);
    for (int c = 0; c < nc; c += 2) {
        const int nv = nc - c < 2 ? 1 : 2;
        vf dv[2];
        lanes_sums s[2];
        for (int k = 0; k < nv; k++)
            dv[k] = vf_loadu(d + (c + k) * VF_LANES);
        lanes_pass(in, &lg, dv, nv, 1, s);
        for (int k = 0; k < nv; k++) {
            VF_TMP float e[VF_LANES], sx[VF_LANES], sv[VF_LANES];
            vf_storeu(e, s[k].err);
            vf_storeu(sx, s[k].sxv);
            vf_storeu(sv, s[k].svv);
            for (int b = 0; b < VF_LANES; b++)
                out[(c + k) * VF_LANES + b] = (mvq_sym_pass){e[b], sx[b], sv[b]};
        }
    }
}

/* nb (1..VF_LANES) consecutive blocks of 32 at x, weights w[b]: scales d[b]
 * and codes[32 b + j], as mvq_search_symmetric_with on each. */
static void lanes_search_symmetric(const mvq_levels *lv, const float *x, const float *const *w,
                                   int nb, float *d_out, uint8_t *codes)
{
    const mvq_grid *g = lv->g;
    lanes_input in;
    lanes_load(x, w, nb, &in);
    const vf zero = vf_set1(0.0f);
    vf amax = zero, max = zero;
    for (int j = 0; j < LANES_BLOCK; j++) {
        const vf a = vf_abs(in.x[j]);
        const vm gt = vm_gt(a, amax);
        amax = vf_select(gt, a, amax);
        max = vf_select(gt, in.x[j], max);
    }
    lanes_grid lg = {.lo = vf_set1(lv->lo), .hi = vf_set1(lv->hi), .table = g->values != NULL};
    if (lg.table)
        vf_table_init(&lg.tab, lv);
    int anchors[2];
    const int n_anchors = mvq_grid_anchors(g, anchors);
    const int K = g->half_steps < LANES_MAX_HALF_STEPS ? g->half_steps : LANES_MAX_HALF_STEPS;
    const int R = g->refits < LANES_MAX_REFITS ? g->refits : LANES_MAX_REFITS;
    vf cur[LANES_MAX_CHAINS];
    vm live[LANES_MAX_CHAINS];
    vf seen_d[LANES_MAX_CHAINS][LANES_MAX_REFITS + 1], seen_err[LANES_MAX_CHAINS][LANES_MAX_REFITS + 1];
    vm seen_live[LANES_MAX_CHAINS][LANES_MAX_REFITS + 1];
    int nc = 0;
    for (int a = 0; a < n_anchors; a++)
        for (int k = -K; k <= K; k++, nc++) {
            const float den = (float)anchors[a] * (1.0f + g->step * (float)k);
            cur[nc] = vf_round_fp16(vf_div(max, vf_set1(den)));
            live[nc] = vm_ones();
        }
    int rounds = 0;
    for (int r = 0; r <= R; r++) {
        int act[LANES_MAX_CHAINS], na = 0;
        for (int c = 0; c < nc; c++) {
            seen_live[c][r] = vm_none(); /* none, unless run */
            if (vm_any(live[c]))
                act[na++] = c;
        }
        if (na == 0)
            break;
        rounds = r + 1;
        for (int i = 0; i < na; i += 2) {
            const int nv = na - i < 2 ? 1 : 2;
            vf dv[2];
            lanes_sums s[2];
            for (int k = 0; k < nv; k++)
                dv[k] = cur[act[i + k]];
            lanes_pass(&in, &lg, dv, nv, r < R, s);
            for (int k = 0; k < nv; k++) {
                const int c = act[i + k];
                seen_d[c][r] = cur[c];
                seen_err[c][r] = s[k].err;
                seen_live[c][r] = live[c];
                if (r == R) {
                    live[c] = vm_none();
                    continue;
                }
                const vf refit = vf_round_fp16(vf_div(s[k].sxv, s[k].svv));
                live[c] = vm_and(live[c], vm_and(vm_gt(s[k].svv, zero), vm_ne(refit, cur[c])));
                cur[c] = refit;
            }
        }
    }
    vf best_err = vf_set1(FLT_MAX), best_d = zero;
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < rounds; r++) {
            if (!vm_any(seen_live[c][r])) /* and no later round either */
                break;
            lanes_consider(&best_err, &best_d, seen_live[c][r], seen_err[c][r], seen_d[c][r]);
        }
    vf nd[2] = {lanes_fp16_neighbour(best_d, -1), lanes_fp16_neighbour(best_d, 1)};
    lanes_sums s[2];
    lanes_pass(&in, &lg, nd, 2, 0, s);
    for (int k = 0; k < 2; k++)
        lanes_consider(&best_err, &best_d, vm_ones(), s[k].err, nd[k]);
    best_d = vf_select(vm_gt(amax, zero), best_d, zero);
    VF_TMP float td[VF_LANES];
    vf_storeu(td, best_d);
    for (int b = 0; b < nb; b++)
        d_out[b] = td[b];
    lanes_codes(x, nb, &best_d, &zero, &lg, codes);
}

#endif
