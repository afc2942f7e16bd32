/* Reference weight quantizers of the 32-weight block types: Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0 and IQ4_NL.  Each block's scale (and minimum) comes from
 * the search in ref_search.c, minimising the squared error weighted by the
 * importance of each input column when given. */
#include "config.h"

#include "kernels/search_eval.h"

/* Search breadth per type: K candidates each side of ggml's scale, their
 * relative step, refits per candidate.  Tuned on ggml's goldens: wider
 * searches gain under 1% of error at several times the cost. */
static const mvq_grid grid_q4_0 = {NULL, 16, -8, 2, 0.05f, 2};
static const mvq_grid grid_q5_0 = {NULL, 32, -16, 2, 0.025f, 2};
static const mvq_grid grid_q8_0 = {NULL, 255, -127, 2, 0.004f, 2};
static const mvq_grid grid_q4_1 = {NULL, 16, 0, 2, 0.05f, 3};
static const mvq_grid grid_q5_1 = {NULL, 32, 0, 2, 0.025f, 3};
static const mvq_grid grid_iq4_nl = {mvq_kvalues_iq4nl, 16, 0, 2, 0.04f, 2};

/* The importance of block i's columns, or all ones (unweighted) when there
 * is none or it is all zero there. */
static const float *block_weights(const float *imatrix, int64_t i)
{
    static const float ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                   1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    if (!imatrix)
        return ones;
    const float *w = imatrix + 32 * i;
    for (int j = 0; j < 32; j++)
        if (w[j] > 0.0f)
            return w;
    return ones;
}

/* Packers build their bytes in locals, then copy: with no aliasing to
 * fear, the compiler vectorizes the loops. */
static void pack_nibbles(const uint8_t codes[32], uint8_t qs[16])
{
    uint8_t p[16];
    for (int j = 0; j < 16; j++)
        p[j] = (uint8_t)((codes[j] & 0xF) | ((codes[j + 16] & 0xF) << 4));
    memcpy(qs, p, sizeof p);
}

static void pack_fifth_bits(const uint8_t codes[32], uint8_t qh[4])
{
    uint32_t h = 0;
    for (int j = 0; j < 32; j++)
        h |= (uint32_t)((codes[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; b++)
        qh[b] = (uint8_t)(h >> (8 * b));
}

/* Packers: codes 0..n_levels-1 of one block into its bytes. */
static void pack_q4_0(void *vb, float d, float m, const uint8_t codes[32])
{
    mvq_block_q4_0 *b = vb;
    (void)m;
    b->d = mvq_fp32_to_fp16(d);
    pack_nibbles(codes, b->qs);
}

static void pack_q5_0(void *vb, float d, float m, const uint8_t codes[32])
{
    mvq_block_q5_0 *b = vb;
    (void)m;
    b->d = mvq_fp32_to_fp16(d);
    pack_nibbles(codes, b->qs);
    pack_fifth_bits(codes, b->qh);
}

static void pack_q8_0(void *vb, float d, float m, const uint8_t codes[32])
{
    mvq_block_q8_0 *b = vb;
    (void)m;
    b->d = mvq_fp32_to_fp16(d);
    int8_t q[32];
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)(codes[j] - 127);
    memcpy(b->qs, q, sizeof q);
}

static void pack_q4_1(void *vb, float d, float m, const uint8_t codes[32])
{
    mvq_block_q4_1 *b = vb;
    b->d = mvq_fp32_to_fp16(d);
    b->m = mvq_fp32_to_fp16(m);
    pack_nibbles(codes, b->qs);
}

static void pack_q5_1(void *vb, float d, float m, const uint8_t codes[32])
{
    mvq_block_q5_1 *b = vb;
    b->d = mvq_fp32_to_fp16(d);
    b->m = mvq_fp32_to_fp16(m);
    pack_nibbles(codes, b->qs);
    pack_fifth_bits(codes, b->qh);
}

typedef void (*pack_fn)(void *block, float d, float m, const uint8_t codes[32]);

/* Searches each 32-weight block on its grid (with a minimum when affine)
 * and packs it. */
static void quantize_blocks(const mvq_search_evals *e, const float *x, void *vy, int64_t n,
                            const float *imatrix, const mvq_grid *g, bool affine,
                            size_t block_bytes, pack_fn pack)
{
    uint8_t *y = vy, codes[32 * MVQ_BLOCKS_LANES_MAX];
    mvq_levels lv;
    mvq_levels_init(&lv, g);
    int64_t i = 0;
    const bool lanes = affine ? e->aff_blocks != NULL : e->sym_blocks != NULL;
    if (lanes) {
        const int L = e->blocks_lanes;
        for (; i < n / 32; i += L) {
            const int nb = n / 32 - i < L ? (int)(n / 32 - i) : L;
            const float *w[MVQ_BLOCKS_LANES_MAX];
            float d[MVQ_BLOCKS_LANES_MAX], m[MVQ_BLOCKS_LANES_MAX] = {0};
            for (int b = 0; b < nb; b++)
                w[b] = block_weights(imatrix, i + b);
            if (affine)
                e->aff_blocks(&lv, x + 32 * i, w, nb, d, m, codes);
            else
                e->sym_blocks(&lv, x + 32 * i, w, nb, d, codes);
            for (int b = 0; b < nb; b++)
                pack(y + block_bytes * (size_t)(i + b), d[b], m[b], codes + 32 * b);
        }
    }
    for (; i < n / 32; i++) {
        const float *w = block_weights(imatrix, i);
        float d, m = 0.0f;
        if (affine)
            mvq_search_affine_with(e, &lv, x + 32 * i, w, 32, codes, &d, &m);
        else
            d = mvq_search_symmetric_with(e, &lv, x + 32 * i, w, 32, codes);
        pack(y + block_bytes * (size_t)i, d, m, codes);
    }
}

void mvq_quantize_row_q4_0_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix)
{
    quantize_blocks(e, x, y, n, imatrix, &grid_q4_0, false, sizeof(mvq_block_q4_0), pack_q4_0);
}

void mvq_quantize_row_q5_0_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix)
{
    quantize_blocks(e, x, y, n, imatrix, &grid_q5_0, false, sizeof(mvq_block_q5_0), pack_q5_0);
}

void mvq_quantize_row_iq4_nl_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                  const float *imatrix)
{
    /* same layout as Q4_0: fp16 d, then the codes' nibbles */
    quantize_blocks(e, x, y, n, imatrix, &grid_iq4_nl, false, sizeof(mvq_block_iq4_nl), pack_q4_0);
}

void mvq_quantize_row_q4_1_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix)
{
    quantize_blocks(e, x, y, n, imatrix, &grid_q4_1, true, sizeof(mvq_block_q4_1), pack_q4_1);
}

void mvq_quantize_row_q5_1_with(const mvq_search_evals *e, const float *x, void *y, int64_t n,
                                const float *imatrix)
{
    quantize_blocks(e, x, y, n, imatrix, &grid_q5_1, true, sizeof(mvq_block_q5_1), pack_q5_1);
}

/* Without importance: ggml's round-to-nearest (also the activation path of
 * the Q8_0 dot products, which must match ggml bit for bit).  With
 * importance: the weighted search.  A caller wanting the searched,
 * unweighted quantizer passes importance weights of all ones.  The search
 * is kept because it buys KLD (mean KLD against F32, whole
 * tinystories-eval.txt, ctx 256, search vs ggml's rounding): stories260K
 * 0.000636 vs 0.000719, tinyrope-3M 0.000077 vs 0.000081. */
void mvq_quantize_row_q8_0_with(const mvq_search_evals *e, const float *x, void *vy, int64_t n,
                                const float *imatrix)
{
    if (!imatrix) {
        mvq_quantize_row_q8_0_rtn(x, vy, n);
        return;
    }
    quantize_blocks(e, x, vy, n, imatrix, &grid_q8_0, false, sizeof(mvq_block_q8_0), pack_q8_0);
}

/* The reference: the same with the scalar evaluators. */
#define REF_ROW(T)                                                                   \
    void mvq_quantize_row_##T##_ref(const float *x, void *y, int64_t n, const float *imatrix) \
    {                                                                                \
        mvq_quantize_row_##T##_with(&mvq_search_evals_ref, x, y, n, imatrix);        \
    }
REF_ROW(q4_0)
REF_ROW(q4_1)
REF_ROW(q5_0)
REF_ROW(q5_1)
REF_ROW(q8_0)
REF_ROW(iq4_nl)
