/* W8A8 (plain TAP, also under qemu-aarch64): the threaded GEMM and GEMV
 * give, on every instruction set this CPU runs, the int32 products of a
 * plain loop, and f32 results within the quantization error of the float
 * product. */
#include <mvquant.h>

#include <math.h>
#include <stdlib.h>

#include "tests/rng.h"
#include "tests/tap.h"

int main(void)
{
    enum { N_OUT = 37, N_IN = 300, N_TOK = 5 };
    static float w[N_OUT * N_IN], x[N_TOK * N_IN], y[N_TOK * N_OUT], xs[N_TOK];
    static int8_t xq[N_TOK * N_IN];
    static int32_t acc[N_TOK * N_OUT];
    for (int i = 0; i < N_OUT * N_IN; i++)
        w[i] = rnd_unit() * (i % N_IN == 7 ? 8.0f : 1.0f);
    for (int i = 0; i < N_TOK * N_IN; i++)
        x[i] = rnd_unit();
    mvq_i8_weights pw;
    mvq_error err;
    tap_ok(mvq_i8_weights_pack(w, N_OUT, N_IN, &pw, &err) == MVQ_OK, "pack %d x %d", N_OUT, N_IN);
    tap_ok(mvq_i8_weights_pack(w, N_OUT, 70000, &(mvq_i8_weights){0}, &err) == MVQ_ERR_ARG,
           "rows over 65536 refused: %s", err.msg);
    mvq_i8_quantize_rows(x, N_TOK, N_IN, xq, xs);
    int32_t sum_ok = 1;
    for (int o = 0; o < N_OUT; o++) {
        int32_t s = 0;
        for (int i = 0; i < N_IN; i++)
            s += pw.q[o * N_IN + i];
        sum_ok &= s == pw.sum[o];
    }
    tap_ok(sum_ok, "packed row sums");
    /* threads natively; under qemu-user a pool's spinning workers starve
     * the caller (its atomics take one exclusive lock), so one thread */
    const char *emu = getenv("MVQ_EMULATOR");
    mvq_pool *pool = mvq_pool_create(emu && *emu ? 1 : 3);
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        if (!mvq_isa_supported((mvq_isa)isa)) {
            tap_skip("%s: not run by this CPU or build", mvq_isa_name((mvq_isa)isa));
            continue;
        }
        mvq_isa_force((mvq_isa)isa, NULL);
        for (int n_tok = 1; n_tok <= N_TOK; n_tok += N_TOK - 1) {
            mvq_i8_gemm_i32(pool, &pw, xq, n_tok, acc);
            int exact = 1;
            for (int t = 0; t < n_tok; t++)
                for (int o = 0; o < N_OUT; o++) {
                    int32_t s = 0;
                    for (int i = 0; i < N_IN; i++)
                        s += (int32_t)xq[t * N_IN + i] * pw.q[o * N_IN + i];
                    exact &= s == acc[t * N_OUT + o];
                }
            tap_ok(exact, "%s %s: int32 products exact", mvq_isa_name((mvq_isa)isa), n_tok == 1 ? "GEMV" : "GEMM");
            mvq_i8_gemm(pool, &pw, xq, xs, n_tok, y);
            double worst = 0;
            for (int t = 0; t < n_tok; t++)
                for (int o = 0; o < N_OUT; o++) {
                    double ref = 0, mag = 0;
                    for (int i = 0; i < N_IN; i++) {
                        ref += (double)x[t * N_IN + i] * w[o * N_IN + i];
                        mag += fabs((double)x[t * N_IN + i] * w[o * N_IN + i]);
                    }
                    worst = fmax(worst, fabs(y[t * N_OUT + o] - ref) / mag);
                }
            tap_ok(worst < 0.02, "%s: f32 result within 2%% of sum |x w| (worst %.4f)", mvq_isa_name((mvq_isa)isa),
                   worst);
        }
    }
    mvq_pool_free(pool);
    mvq_i8_weights_free(&pw);
    return tap_done();
}
