/* Internal to kernels/: the candidate evaluators behind the scale search of
 * the legacy weight quantizers (ref_search.c runs the search of ref.h; the
 * evaluators compute, for a batch of candidate scales of one block, the sums
 * of one pass of that search).  Each candidate's sums run over the block in
 * order, in float, without fused multiply-adds, exactly as ref.h specifies,
 * so an evaluator that puts candidates in SIMD lanes gives the reference's
 * bytes.  The reference evaluators are in search_eval_ref.c, SIMD ones in
 * kernels/x86/quant_*.c. */
#ifndef MVQ_KERNELS_SEARCH_EVAL_H
#define MVQ_KERNELS_SEARCH_EVAL_H

#include "kernels/ref.h"

/* Table grids (IQ4_NL) have at most this many levels (the x86 lookups of
 * kernels/x86/quant_avx*.c exactly this many). */
#define MVQ_TABLE_LEVELS 16
/* The nearest table level of t by floor(2t), t clamped to [-128, 128]:
 * every midpoint between int8 levels is a multiple of 1/2 in that range. */
#define MVQ_BUCKET_HALF 256

/* A grid prepared for the evaluators (once per row). */
typedef struct mvq_levels {
    const mvq_grid *g;
    float lo, hi;                     /* integer grids: the range of codes + g->lo */
    float level[MVQ_TABLE_LEVELS];    /* table grids: the level of each code */
    float mid[MVQ_TABLE_LEVELS - 1];  /* and the midpoints between neighbours */
    uint8_t bucket[2 * MVQ_BUCKET_HALF + 1];
    float bucket_level[2 * MVQ_BUCKET_HALF + 1]; /* level[bucket[i]] */
} mvq_levels;

void mvq_levels_init(mvq_levels *lv, const mvq_grid *g);

/* Sums of one symmetric pass at scale d (ref.h, step 2): the error, sum w x v
 * and sum w v^2, v the nearest level of each x/d. */
typedef struct {
    float err, sxv, svv;
} mvq_sym_pass;

/* Sums of one affine pass at (d, m): the error, sum w v, sum w v^2 and
 * sum w x v (sum w and sum w x do not depend on the candidate). */
typedef struct {
    float err, sv, svv, sxv;
} mvq_aff_pass;

typedef void (*mvq_sym_eval_fn)(const float *x, const float *w, int n, const mvq_levels *lv,
                                const float *d, int nc, mvq_sym_pass *out);
/* levels 0..lv->hi (lv->lo is 0) */
typedef void (*mvq_aff_eval_fn)(const float *x, const float *w, int n, const mvq_levels *lv,
                                const float *d, const float *m, int nc, mvq_aff_pass *out);

/* The whole symmetric search on an integer grid or a table (IQ4_NL) for
 * nb consecutive blocks of 32 at x (weights w[b]): d[b] and codes[32 b ..],
 * as mvq_search_symmetric_with on each; nb at most MVQ_BLOCKS_LANES_MAX. */
#define MVQ_BLOCKS_LANES_MAX 16
typedef void (*mvq_sym_blocks_fn)(const mvq_levels *lv, const float *x, const float *const *w,
                                  int nb, float *d, uint8_t *codes);

/* The whole affine search on 0..lv->hi for nb blocks: d[b], m[b] and
 * codes, as mvq_search_affine_with on each. */
typedef void (*mvq_aff_blocks_fn)(const mvq_levels *lv, const float *x, const float *const *w,
                                  int nb, float *d, float *m, uint8_t *codes);

/* Blocks of 32 held in lanes for repeated passes (IQ4_XS's stage 2 runs a
 * super-block's eight sub-blocks through some eight rounds of candidates):
 * position j of every block's values, weights and their products, as the
 * evaluator lays them out. */
typedef struct {
    _Alignas(64) unsigned char bytes[3 * 32 * MVQ_BLOCKS_LANES_MAX * sizeof(float)];
} mvq_blocks_input;

/* nb blocks at x (weights w[b]) into in; lanes past nb repeat the first. */
typedef void (*mvq_blocks_load_fn)(const float *x, const float *const *w, int nb,
                                   mvq_blocks_input *in);

/* nc symmetric passes over the loaded blocks: pass c of block b at scale
 * d[c * blocks_lanes + b], its sums at out[c * blocks_lanes + b], as sym
 * gives them for that block and scale alone. */
typedef void (*mvq_blocks_sym_fn)(const mvq_blocks_input *in, const mvq_levels *lv, const float *d,
                                  int nc, mvq_sym_pass *out);

typedef struct mvq_search_evals {
    mvq_sym_eval_fn sym;
    mvq_aff_eval_fn aff;
    mvq_sym_blocks_fn sym_blocks; /* NULL: block by block with sym; else its lanes */
    mvq_aff_blocks_fn aff_blocks; /* NULL: block by block with aff; else its lanes */
    mvq_blocks_load_fn blocks_load; /* NULL, or with blocks_sym: passes over held blocks */
    mvq_blocks_sym_fn blocks_sym;
    int blocks_lanes;             /* blocks per call of the four above */
} mvq_search_evals;

extern const mvq_search_evals mvq_search_evals_ref;

/* The nearest codes[n] of a block at scale d (no search), as the searches
 * assign them to their winner. */
void mvq_assign_symmetric(const mvq_levels *lv, const float *x, int n, float d, uint8_t *codes);

/* The searches of ref.h over a prepared grid, with the given evaluators. */
float mvq_search_symmetric_with(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                                const float *w, int n, uint8_t *codes);
void mvq_search_affine_with(const mvq_search_evals *e, const mvq_levels *lv, const float *x,
                            const float *w, int n, uint8_t *codes, float *d, float *m);

/* The row quantizers of ref_quant_legacy.c with the given evaluators: what
 * the SIMD tables register as from_float of these types. */
void mvq_quantize_row_q4_0_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix);
void mvq_quantize_row_q4_1_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix);
void mvq_quantize_row_q5_0_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix);
void mvq_quantize_row_q5_1_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix);
void mvq_quantize_row_q8_0_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix);
void mvq_quantize_row_iq4_nl_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                  const float *imatrix);
void mvq_quantize_row_iq4_xs_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                  const float *imatrix);

/* Step 1's anchors, the extreme levels, in ref.h's order; the count.  On an
 * integer grid symmetric about zero (Q8_0's -127..127) the second anchor's
 * chains mirror the first's exactly (every scale, code and sum negated or
 * kept, the errors equal), and the first wins ties, so they are skipped:
 * the same bytes at half the cost. */
static inline int mvq_grid_anchors(const mvq_grid *g, int anchors[2])
{
    anchors[0] = g->values ? g->values[0] : g->lo;
    anchors[1] = g->values ? g->values[g->n_levels - 1] : g->lo + g->n_levels - 1;
    return !g->values && anchors[1] == -anchors[0] ? 1 : 2;
}

/* The nearest code of t on a table grid (t = x/d): the number of midpoints
 * at or below t, looked up by floor(2t). */
static inline int mvq_table_code(const mvq_levels *lv, float t)
{
    const float r = (float)(MVQ_BUCKET_HALF / 2);
    t = !(t >= -r) ? -r : t > r ? r : t; /* NaN counts no midpoint */
    const float t2 = 2.0f * t;
    int i = (int)t2;
    i -= (float)i > t2; /* floor */
    return lv->bucket[i + MVQ_BUCKET_HALF];
}

#endif
