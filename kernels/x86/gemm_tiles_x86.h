/* Internal to kernels/x86/: the tile grid of the half-precision GEMMs
 * (gemm_half_*.c, gemm_bf16_avx512.c), written once for every vector width.
 *
 * A tile is R weight rows x T tokens (R <= TR, T <= TT) with one
 * accumulator vector per (row, token); each step of STEP values loads every
 * row and every token once.  Each pair owns its accumulator over the whole
 * row and ends in the same reduction, so its result does not depend on the
 * tile it falls in, nor on how the product is split between threads.
 *
 * The includer defines, before including:
 *   TR, TT, STEP              the tile and the values per step,
 *   GT_ACC                    the accumulator vector type, GT_ZERO() its zero,
 *   GT_W, GT_X                the loaded weight and activation vector types,
 *   GT_W_T, GT_X_T            the element types of weights and activations,
 *   GT_LOAD_W(p), GT_LOAD_X(p)  one step's vector from p,
 *   GT_MADD(acc, w, x)        acc plus the products of w and x,
 *   GT_REDUCE(acc)            the float sum of acc's lanes,
 *   GT_PREFIX                 a prefix for this instance's functions.
 * It gets static GT_PREFIX##grid(n, n_rows, n_tok, w, w_row, x, x_row,
 * parts, y, ldy), where activation row t holds `parts` runs of n values
 * (summed), and undefines GT_LOAD_W and GT_PREFIX, so a source may define
 * them again and include it for another weight type. */

#define GT_CAT2(a, b) a##b
#define GT_CAT(a, b) GT_CAT2(a, b)
#define GT_FN(name) GT_CAT(GT_PREFIX, name)

MVQ_INLINE const void *GT_FN(row_at)(const void *base, size_t stride, int64_t i)
{
    return (const char *)base + (size_t)i * stride;
}

/* the last m < STEP values, zeros after them */
MVQ_INLINE GT_W GT_FN(load_w_tail)(const GT_W_T *p, int64_t m)
{
    GT_W_T buf[STEP] = { 0 };
    memcpy(buf, p, (size_t)m * sizeof *p);
    return GT_LOAD_W(buf);
}

MVQ_INLINE GT_X GT_FN(load_x_tail)(const GT_X_T *p, int64_t m)
{
    GT_X_T buf[STEP] = { 0 };
    memcpy(buf, p, (size_t)m * sizeof *p);
    return GT_LOAD_X(buf);
}

MVQ_INLINE void GT_FN(tile)(const int R, const int T, int64_t n, const GT_W_T *w, size_t w_row, const GT_X_T *x,
                        size_t x_row, int parts, float *y, int64_t ldy)
{
    GT_ACC acc[TR][TT];
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            acc[r][t] = GT_ZERO();
    const int64_t n_full = n / STEP * STEP;
    for (int p = 0; p < parts; p++) {
        const int64_t off = (int64_t)p * n;
        for (int64_t i = 0; i < n_full; i += STEP) {
            GT_W wv[TR];
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                wv[r] = GT_LOAD_W((const GT_W_T *)GT_FN(row_at)(w, w_row, r) + i);
            _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
                const GT_X xv = GT_LOAD_X((const GT_X_T *)GT_FN(row_at)(x, x_row, t) + off + i);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    acc[r][t] = GT_MADD(acc[r][t], wv[r], xv);
            }
        }
        if (n_full < n) {
            GT_W wv[TR];
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                wv[r] = GT_FN(load_w_tail)((const GT_W_T *)GT_FN(row_at)(w, w_row, r) + n_full, n - n_full);
            _Pragma("GCC unroll 6") for (int t = 0; t < T; t++) {
                const GT_X xv = GT_FN(load_x_tail)((const GT_X_T *)GT_FN(row_at)(x, x_row, t) + off + n_full, n - n_full);
                _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
                    acc[r][t] = GT_MADD(acc[r][t], wv[r], xv);
            }
        }
    }
    _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)
        _Pragma("GCC unroll 6") for (int t = 0; t < T; t++)
            y[t * ldy + r] = GT_REDUCE(acc[r][t]);
}

/* every tile shape up to TR x TT, so the edges run with constant bounds too */
static void GT_FN(any_tile)(int rows, int toks, int64_t n, const GT_W_T *w, size_t w_row, const GT_X_T *x,
                        size_t x_row, int parts, float *y, int64_t ldy)
{
#define GT_CASE(R, T)                                                                                           \
    case (R) * 8 + (T):                                                                                         \
        if ((R) <= TR && (T) <= TT)                                                                             \
            GT_FN(tile)((R) <= TR ? (R) : TR, (T) <= TT ? (T) : TT, n, w, w_row, x, x_row, parts, y, ldy);          \
        break;
#define GT_ROW(R) GT_CASE(R, 1) GT_CASE(R, 2) GT_CASE(R, 3) GT_CASE(R, 4) GT_CASE(R, 5) GT_CASE(R, 6)
    switch (rows * 8 + toks) {
        GT_ROW(1)
        GT_ROW(2)
        GT_ROW(3)
        GT_ROW(4)
    default: break;
    }
#undef GT_ROW
#undef GT_CASE
}

static void GT_FN(grid)(int64_t n, int64_t n_rows, int64_t n_tok, const GT_W_T *w, size_t w_row, const GT_X_T *x,
                    size_t x_row, int parts, float *y, int64_t ldy)
{
    for (int64_t t = 0; t < n_tok; t += TT) {
        const int toks = n_tok - t < TT ? (int)(n_tok - t) : TT;
        for (int64_t r = 0; r < n_rows; r += TR) {
            const int rows = n_rows - r < TR ? (int)(n_rows - r) : TR;
            GT_FN(any_tile)(rows, toks, n, GT_FN(row_at)(w, w_row, r), w_row, GT_FN(row_at)(x, x_row, t), x_row, parts,
                        y + t * ldy + r, ldy);
        }
    }
}

#undef GT_FN
#undef GT_CAT
#undef GT_CAT2
#undef GT_LOAD_W
#undef GT_PREFIX
