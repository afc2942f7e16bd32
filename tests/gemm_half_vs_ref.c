/* Every table's F16 and BF16 GEMMs (gemm_half, gemm_bf16) against the
 * double-precision reference (kernels/ref_gemm_half.c): row lengths that hit
 * every tail of the 16- and 32-value steps, row and token counts that hit
 * every tile edge, y rows wider than the tile (nothing outside written).
 * The kernels sum in f32 in their own order, so the bound is on f32
 * rounding: |y - ref| <= (n/4 + 32) 2^-24 sum |w a|.
 * Then the product through the pool (mvq_matmul_table on the half paths):
 * the same bits at 1, 2 and 3 threads, and within the activations'
 * rounding of the f32 product (BF16 one term: 2^-8 sum |w x|, two terms:
 * 2^-16; gemm_half exact).  And mvq_bf16_split itself.  Table-driven, plain TAP:
 * a new instruction set adds nothing here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>

#include "kernels/matmul.h"
#include "kernels/ref.h"
#include "tests/rng.h"
#include "tests/tap.h"
#include "tests/upper_state.h"

#ifdef MVQ_TEST_SIMDE
#include "kernels/x86/x86_impl.h"
#endif

enum { MAX_N = 300, MAX_ROWS = 13, MAX_TOK = 14, LDY_PAD = 3 };
static const float SENTINEL = -12345.0f;

static float random_value(int64_t i)
{
    const float scale = ldexpf(1.0f, (int)((i / 16) % 9) - 4);
    return rnd_unit() * scale * (rnd() % 61 == 0 ? 40.0f : 1.0f);
}

/* sum_i |w_i a_i| over all parts, in double: the scale of the rounding bound */
static double abs_sum_bf16(int64_t n, const mvq_bf16 *w, const mvq_bf16 *a, int parts)
{
    double s = 0;
    for (int p = 0; p < parts; p++)
        for (int64_t i = 0; i < n; i++)
            s += fabs((double)mvq_bf16_to_fp32(w[i]) * (double)mvq_bf16_to_fp32(a[p * n + i]));
    return s;
}

static float widen(mvq_type t, uint16_t h)
{
    return t == MVQ_TYPE_BF16 ? mvq_bf16_to_fp32(h) : mvq_fp16_to_fp32(h);
}

static uint16_t narrow(mvq_type t, float f)
{
    return t == MVQ_TYPE_BF16 ? mvq_fp32_to_bf16(f) : mvq_fp32_to_fp16(f);
}

static double abs_sum_half(mvq_type ty, int64_t n, const uint16_t *w, const float *x)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)widen(ty, w[i]) * (double)x[i]);
    return s;
}

static double f32_bound(int64_t n, double abs_sum)
{
    return ((double)n / 4 + 32) * ldexp(1.0, -24) * abs_sum;
}

/* y (n_tok rows of ldy) against want (ldy as well): within bound[t*ldy+r]
 * inside the tile, untouched outside it */
static int compare(const float *y, const float *want, const double *bound, int64_t nr, int64_t nt, int64_t ldy,
                   const char *what, int64_t n, char *why, size_t wn)
{
    for (int64_t t = 0; t < nt; t++)
        for (int64_t r = 0; r < ldy; r++) {
            const int64_t k = t * ldy + r;
            const int ok = r < nr ? fabs((double)y[k] - (double)want[k]) <= bound[k] : y[k] == SENTINEL;
            if (!ok) {
                snprintf(why, wn, "%s n=%lld rows %lld tokens %lld: y[%lld][%lld] = %.9g, reference %.9g", what,
                         (long long)n, (long long)nr, (long long)nt, (long long)t, (long long)r, y[k],
                         r < nr ? want[k] : SENTINEL);
                return 0;
            }
        }
    return 1;
}

static const int64_t n_list[] = { 1, 7, 15, 16, 17, 31, 32, 33, 47, 64, 95, 257, MAX_N };
static const int64_t rows_list[] = { 1, 2, 3, 4, 5, 7, 8, 9, 13 };
static const int64_t tok_list[] = { 1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 14 };
#define COUNT(a) (sizeof(a) / sizeof *(a))

static int check_bf16_kernel(mvq_gemm_bf16_fn gemm, int parts, char *why, size_t wn)
{
    mvq_bf16 *w = malloc(sizeof *w * MAX_ROWS * (MAX_N + 1)), *a = malloc(sizeof *a * MAX_TOK * (2 * MAX_N + 3));
    float *x = malloc(sizeof *x * MAX_N);
    float *y = malloc(sizeof *y * MAX_TOK * (MAX_ROWS + LDY_PAD)), *want = malloc(sizeof *want * MAX_TOK * (MAX_ROWS + LDY_PAD));
    double *bound = malloc(sizeof *bound * MAX_TOK * (MAX_ROWS + LDY_PAD));
    int ok = 1;
    for (size_t ni = 0; ni < COUNT(n_list) && ok; ni++) {
        const int64_t n = n_list[ni];
        /* rows n + 1 values apart, tokens 2n + 3: strides that are not the row length */
        const size_t w_row = (size_t)(n + 1) * sizeof *w, a_row = (size_t)(parts * n + 3) * sizeof *a;
        for (int64_t r = 0; r < MAX_ROWS; r++)
            for (int64_t i = 0; i < n; i++)
                w[r * (n + 1) + i] = mvq_fp32_to_bf16(random_value(i));
        for (int64_t t = 0; t < MAX_TOK; t++) {
            for (int64_t i = 0; i < n; i++)
                x[i] = random_value(i);
            mvq_bf16_split(x, a + t * (parts * n + 3), n, parts);
        }
        for (size_t ri = 0; ri < COUNT(rows_list) && ok; ri++)
            for (size_t ti = 0; ti < COUNT(tok_list) && ok; ti++) {
                const int64_t nr = rows_list[ri], nt = tok_list[ti], ldy = nr + LDY_PAD;
                for (int64_t k = 0; k < nt * ldy; k++)
                    y[k] = want[k] = SENTINEL;
                gemm(n, nr, nt, w, w_row, a, a_row, parts, y, ldy);
                if (upper_state_dirty() == 1) {
                    snprintf(why, wn, "n=%lld rows %lld tokens %lld: %s", (long long)n, (long long)nr,
                             (long long)nt, UPPER_STATE_WHY);
                    ok = 0;
                    break;
                }
                mvq_gemm_bf16_ref(n, nr, nt, w, w_row, a, a_row, parts, want, ldy);
                for (int64_t t = 0; t < nt; t++)
                    for (int64_t r = 0; r < nr; r++)
                        bound[t * ldy + r] = f32_bound(n, abs_sum_bf16(n, w + r * (n + 1), a + t * (parts * n + 3), parts));
                ok = compare(y, want, bound, nr, nt, ldy, parts == 1 ? "bf16" : "bf16 x2", n, why, wn);
            }
    }
    free(w), free(a), free(x), free(y), free(want), free(bound);
    return ok;
}

static int check_half_kernel(mvq_gemm_half_fn gemm, mvq_type ty, char *why, size_t wn)
{
    uint16_t *w = malloc(sizeof *w * MAX_ROWS * (MAX_N + 1));
    float *x = malloc(sizeof *x * MAX_TOK * (MAX_N + 5));
    float *y = malloc(sizeof *y * MAX_TOK * (MAX_ROWS + LDY_PAD)), *want = malloc(sizeof *want * MAX_TOK * (MAX_ROWS + LDY_PAD));
    double *bound = malloc(sizeof *bound * MAX_TOK * (MAX_ROWS + LDY_PAD));
    int ok = 1;
    for (size_t ni = 0; ni < COUNT(n_list) && ok; ni++) {
        const int64_t n = n_list[ni];
        const size_t w_row = (size_t)(n + 1) * sizeof *w, x_row = (size_t)(n + 5) * sizeof *x;
        for (int64_t r = 0; r < MAX_ROWS; r++)
            for (int64_t i = 0; i < n; i++)
                w[r * (n + 1) + i] = narrow(ty, random_value(i));
        for (int64_t t = 0; t < MAX_TOK; t++)
            for (int64_t i = 0; i < n; i++)
                x[t * (n + 5) + i] = random_value(i);
        for (size_t ri = 0; ri < COUNT(rows_list) && ok; ri++)
            for (size_t ti = 0; ti < COUNT(tok_list) && ok; ti++) {
                const int64_t nr = rows_list[ri], nt = tok_list[ti], ldy = nr + LDY_PAD;
                for (int64_t k = 0; k < nt * ldy; k++)
                    y[k] = want[k] = SENTINEL;
                gemm(n, nr, nt, w, w_row, x, x_row, y, ldy);
                if (upper_state_dirty() == 1) {
                    snprintf(why, wn, "n=%lld rows %lld tokens %lld: %s", (long long)n, (long long)nr,
                             (long long)nt, UPPER_STATE_WHY);
                    ok = 0;
                    break;
                }
                mvq_gemm_half_ref(ty, n, nr, nt, w, w_row, x, x_row, want, ldy);
                for (int64_t t = 0; t < nt; t++)
                    for (int64_t r = 0; r < nr; r++)
                        bound[t * ldy + r] = f32_bound(n, abs_sum_half(ty, n, w + r * (n + 1), x + t * (n + 5)));
                ok = compare(y, want, bound, nr, nt, ldy, mvq_type_name(ty), n, why, wn);
            }
    }
    free(w), free(x), free(y), free(want), free(bound);
    return ok;
}

/* Through the pool: the same bits at 1, 2 and 3 threads, and within the
 * activations' rounding (rel * sum |w x|, plus f32 sums) of the exact f32 product. */
static int check_path(const mvq_kernel_table *kt, mvq_matmul_path path, mvq_type t, double rel, char *why, size_t wn)
{
    const int64_t n_in = 320, n_out = 70, n_tok = 23;
    float *wf = malloc(sizeof *wf * (size_t)(n_out * n_in)), *x = malloc(sizeof *x * (size_t)(n_tok * n_in));
    float *y1 = malloc(sizeof *y1 * (size_t)(n_tok * n_out)), *y = malloc(sizeof *y * (size_t)(n_tok * n_out));
    uint16_t *w = malloc(sizeof *w * (size_t)(n_out * n_in));
    for (int64_t i = 0; i < n_out * n_in; i++) {
        const float v = random_value(i);
        w[i] = narrow(t, v);
        wf[i] = widen(t, w[i]);
    }
    for (int64_t i = 0; i < n_tok * n_in; i++)
        x[i] = random_value(i);
    int ok = mvq_matmul_table(kt, path, NULL, t, w, n_out, n_in, x, n_tok, y1, NULL) == MVQ_OK;
    if (!ok)
        snprintf(why, wn, "the product failed");
    for (int64_t tk = 0; tk < n_tok && ok; tk++)
        for (int64_t o = 0; o < n_out && ok; o++) {
            double s = 0, a = 0;
            for (int64_t i = 0; i < n_in; i++) {
                s += (double)wf[o * n_in + i] * x[tk * n_in + i];
                a += fabs((double)wf[o * n_in + i] * x[tk * n_in + i]);
            }
            const double err = fabs(y1[tk * n_out + o] - s), lim = rel * a + f32_bound(n_in, a);
            if (err > lim) {
                snprintf(why, wn, "y[%lld][%lld] = %.9g, exact %.9g (error %.3g > %.3g)", (long long)tk,
                         (long long)o, y1[tk * n_out + o], s, err, lim);
                ok = 0;
            }
        }
    for (int nth = 2; nth <= 3 && ok; nth++) {
        mvq_pool *pool = mvq_pool_create(nth);
        ok = mvq_matmul_table(kt, path, pool, t, w, n_out, n_in, x, n_tok, y, NULL) == MVQ_OK &&
             memcmp(y1, y, sizeof *y * (size_t)(n_tok * n_out)) == 0;
        if (!ok)
            snprintf(why, wn, "%d threads: not the bits of one thread", nth);
        mvq_pool_free(pool);
    }
    free(wf), free(x), free(y1), free(y), free(w);
    return ok;
}

static void check_table(const char *name, const mvq_kernel_table *kt)
{
    char why[240] = "";
    if (kt->gemm_bf16) {
        for (int parts = 1; parts <= 2; parts++) {
            int ok = check_bf16_kernel(kt->gemm_bf16, parts, why, sizeof why);
            tap_ok(ok, "%s gemm_bf16 (%d term%s) within f32 rounding of the reference%s%s", name, parts,
                   parts > 1 ? "s" : "", ok ? "" : ": ", why);
        }
        int ok = check_path(kt, MVQ_PATH_BF16, MVQ_TYPE_BF16, ldexp(1.0, -8), why, sizeof why);
        tap_ok(ok, "%s bf16 product (one term): thread-independent, within bf16 rounding%s%s", name, ok ? "" : ": ", why);
        ok = check_path(kt, MVQ_PATH_BF16_SPLIT, MVQ_TYPE_BF16, ldexp(1.0, -16), why, sizeof why);
        tap_ok(ok, "%s bf16 product (two terms): thread-independent, within 2^-16%s%s", name, ok ? "" : ": ", why);
    } else {
        tap_skip("%s: no bf16 GEMM (needs AVX-512 BF16)", name);
    }
    for (int ti = 0; ti < 2; ti++) {
        const mvq_type ty = ti ? MVQ_TYPE_BF16 : MVQ_TYPE_F16;
        if (!kt->gemm_half[ty]) {
            tap_skip("%s: no %s GEMM on f32 activations", name, mvq_type_name(ty));
            continue;
        }
        int ok = check_half_kernel(kt->gemm_half[ty], ty, why, sizeof why);
        tap_ok(ok, "%s gemm_half %s within f32 rounding of the reference%s%s", name, mvq_type_name(ty), ok ? "" : ": ",
               why);
        ok = check_path(kt, MVQ_PATH_HALF, ty, 0, why, sizeof why);
        tap_ok(ok, "%s %s product on f32 activations: thread-independent, within f32 rounding%s%s", name,
               mvq_type_name(ty), ok ? "" : ": ", why);
    }
}

/* mvq_bf16_split: the first term is the rounding to bf16, two terms hold
 * x to 2^-17 |x|, and values that are not finite keep a zero remainder */
static void check_split(void)
{
    enum { N = 4096 };
    float x[N];
    mvq_bf16 s[2 * N];
    for (int i = 0; i < N; i++)
        x[i] = random_value(i) * ldexpf(1.0f, (i % 61) - 30);
    x[0] = INFINITY, x[1] = -INFINITY, x[2] = NAN, x[3] = 3.4e38f, x[4] = 0.0f, x[5] = -0.0f;
    mvq_bf16_split(x, s, N, 2);
    int ok = 1;
    for (int i = 0; i < N && ok; i++) {
        const float hi = mvq_bf16_to_fp32(s[i]), lo = mvq_bf16_to_fp32(s[N + i]);
        if (s[i] != mvq_fp32_to_bf16(x[i]))
            ok = 0;
        else if (!isfinite(hi))
            ok = lo == 0.0f;
        else
            ok = fabs((double)x[i] - (double)hi - (double)lo) <= ldexp(fabs((double)x[i]), -17);
        if (!ok)
            tap_ok(0, "bf16 split of %.9g: %.9g + %.9g", x[i], hi, lo);
    }
    mvq_bf16 one[N];
    mvq_bf16_split(x, one, N, 1);
    ok = ok && memcmp(one, s, sizeof one) == 0;
    tap_ok(ok, "bf16 split: the first term rounds to nearest even, two terms within 2^-17, inf and nan kept");
}

int main(void)
{
    check_split();
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
