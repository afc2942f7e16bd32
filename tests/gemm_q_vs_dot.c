/* Every table's tiled quantized GEMM (gemm_q) against the same table's
 * vec_dot per (row, token): bit for bit, over shapes that hit every tail of
 * the row and token tiles and of the block loops, with y rows wider than
 * the tile (nothing outside it written).  Then the product through the pool
 * (mvq_matmul_table, MVQ_PATH_DOT) against the per-pair path at 1, 2 and 3
 * threads: the same bits.  Table-driven (plain TAP, so it also runs under
 * qemu-aarch64): a new instruction set adds nothing here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>

#include "kernels/matmul.h"
#include "tests/rng.h"
#include "tests/tap.h"
#include "tests/upper_state.h"

#ifdef MVQ_TEST_SIMDE
#include "kernels/x86/x86_impl.h"
#endif

enum { MAX_BLOCKS = 5, MAX_ROWS = 21, MAX_TOK = 19, LDY_PAD = 3 };

static void random_floats(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float scale = ldexpf(1.0f, (int)((i / 32) % 9) - 4);
        x[i] = rnd_unit() * scale * (rnd() % 61 == 0 ? 40.0f : 1.0f);
    }
}

/* n_rows rows of n values of type t, quantized by the reference from random floats */
static void *random_rows(mvq_type t, int64_t rows, int64_t n, float *tmp)
{
    const mvq_kernel_table *ref = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    const size_t row = mvq_row_size(t, n);
    char *buf = malloc(row * (size_t)rows + 64);
    for (int64_t r = 0; r < rows; r++) {
        random_floats(tmp, n);
        ref->from_float[t](tmp, buf + (size_t)r * row, n, NULL);
    }
    return buf;
}

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int check_kernel(const mvq_kernel_table *kt, mvq_type t, char *why, size_t wn)
{
    static const int64_t rows_list[] = { 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 21 };
    static const int64_t tok_list[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 19 };
    const mvq_type at = mvq_type_traits_get(t)->vec_dot_type;
    const int64_t bs = mvq_type_traits_get(t)->block_size;
    float *tmp = malloc(MAX_BLOCKS * 256 * sizeof(float));
    float *y = malloc((size_t)MAX_TOK * (MAX_ROWS + LDY_PAD) * sizeof(float));
    int ok = 1;
    for (int64_t nb = 1; nb <= MAX_BLOCKS && ok; nb += (bs == 32 ? 1 : 2)) {
        const int64_t n = nb * bs;
        char *w = random_rows(t, MAX_ROWS, n, tmp), *a = random_rows(at, MAX_TOK, n, tmp);
        const size_t w_row = mvq_row_size(t, n), a_row = mvq_row_size(at, n);
        for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list && ok; ri++)
            for (size_t ti = 0; ti < sizeof tok_list / sizeof *tok_list && ok; ti++) {
                const int64_t nr = rows_list[ri], nt = tok_list[ti], ldy = nr + LDY_PAD;
                for (int64_t i = 0; i < nt * ldy; i++)
                    y[i] = -12345.0f;
                kt->gemm_q[t](n, nr, nt, w, w_row, a, a_row, y, ldy);
                if (upper_state_dirty() == 1) {
                    snprintf(why, wn, "n=%lld rows %lld tokens %lld: %s", (long long)n, (long long)nr,
                             (long long)nt, UPPER_STATE_WHY);
                    ok = 0;
                }
                for (int64_t tk = 0; tk < nt && ok; tk++)
                    for (int64_t r = 0; r < ldy && ok; r++) {
                        float want = -12345.0f;
                        if (r < nr)
                            kt->vec_dot[t](n, &want, w + (size_t)r * w_row, a + (size_t)tk * a_row);
                        if (!same_bits(y[tk * ldy + r], want)) {
                            snprintf(why, wn, "n=%lld rows %lld tokens %lld: y[%lld][%lld] = %.9g, vec_dot %.9g",
                                     (long long)n, (long long)nr, (long long)nt, (long long)tk, (long long)r,
                                     y[tk * ldy + r], want);
                            ok = 0;
                        }
                    }
            }
        free(w);
        free(a);
    }
    free(tmp);
    free(y);
    return ok;
}

/* Through the pool: the GEMM path equals the per-pair path at any thread count. */
static int check_threads(const mvq_kernel_table *kt, mvq_type t, char *why, size_t wn)
{
    const int64_t n_in = 512, n_out = 72, n_tok = 21;
    float *w_f = malloc((size_t)(n_out * n_in) * sizeof(float));
    float *x = malloc((size_t)(n_tok * n_in) * sizeof(float));
    float *want = malloc((size_t)(n_tok * n_out) * sizeof(float));
    float *got = malloc((size_t)(n_tok * n_out) * sizeof(float));
    random_floats(x, n_tok * n_in);
    char *w = random_rows(t, n_out, n_in, w_f);
    int ok = mvq_matmul_table(kt, MVQ_PATH_DOT_PAIRS, NULL, t, w, n_out, n_in, x, n_tok, want, NULL) == MVQ_OK;
    for (int nth = 1; nth <= 3 && ok; nth++) {
        mvq_pool *pool = mvq_pool_create(nth);
        ok = mvq_matmul_table(kt, MVQ_PATH_DOT, pool, t, w, n_out, n_in, x, n_tok, got, NULL) == MVQ_OK &&
             memcmp(want, got, (size_t)(n_tok * n_out) * sizeof(float)) == 0;
        if (!ok)
            snprintf(why, wn, "%d threads: differs from the per-pair product", nth);
        mvq_pool_free(pool);
    }
    free(w_f), free(x), free(want), free(got), free(w);
    return ok;
}

static void check_table(const char *name, const mvq_kernel_table *kt)
{
    int found = 0;
    for (int t = 0; t < MVQ_TYPE_COUNT; t++) {
        if (!kt->gemm_q[t])
            continue;
        found++;
        char why[200] = "";
        int ok = check_kernel(kt, (mvq_type)t, why, sizeof why);
        tap_ok(ok, "%s gemm_q %s equals its vec_dot per pair%s%s", name, mvq_type_name((mvq_type)t),
               ok ? "" : ": ", why);
        ok = check_threads(kt, (mvq_type)t, why, sizeof why);
        tap_ok(ok, "%s %s product through the pool equals the per-pair one%s%s", name,
               mvq_type_name((mvq_type)t), ok ? "" : ": ", why);
    }
    if (!found)
        tap_skip("%s: no tiled quantized GEMM in this table (the product calls vec_dot per pair)", name);
}

int main(void)
{
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        if (!mvq_isa_compiled((mvq_isa)isa))
            continue;
        if (!mvq_isa_supported((mvq_isa)isa)) {
            tap_skip("%s: this CPU cannot run it", mvq_isa_name((mvq_isa)isa));
            continue;
        }
        check_table(mvq_isa_name((mvq_isa)isa), mvq_kernels_for_isa((mvq_isa)isa));
    }
#ifdef MVQ_TEST_SIMDE
    /* the AVX-512 sources over SIMDe's emulation: their logic on any CPU */
    static mvq_kernel_table emulated;
    emulated = *mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    mvq_kernels_init_avx512_simde(&emulated);
    check_table("avx512 (SIMDe emulation)", &emulated);
#endif
    return tap_done();
}
