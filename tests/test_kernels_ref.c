/* Edge cases of the scalar reference kernels (Criterion): all-zero and tiny
 * blocks, finite outputs, fp16/bf16 special values, one block against many,
 * dot products against dequantized floats, the activation quantizers'
 * invariants and the importance-weighted search. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mvquant.h>

#include "kernels/kernel_impl.h"
#include "kernels/ref.h"

static mvq_kernel_table ref;

static void init_ref(void)
{
    memset(&ref, 0, sizeof ref);
    mvq_kernels_init_scalar(&ref);
}

TestSuite(kernels_ref, .init = init_ref);

/* The weight types this part quantizes (the K-quants come separately). */
static const mvq_type weight_types[] = {MVQ_TYPE_Q4_0, MVQ_TYPE_Q4_1, MVQ_TYPE_Q5_0,
                                        MVQ_TYPE_Q5_1, MVQ_TYPE_Q8_0, MVQ_TYPE_IQ4_NL};
#define N_WEIGHT_TYPES (sizeof weight_types / sizeof weight_types[0])

/* Deterministic Gaussian-ish values (sum of uniforms) with rare outliers. */
static void fill_random(float *x, int n, unsigned seed, float scale)
{
    for (int i = 0; i < n; i++) {
        float s = 0.0f;
        for (int k = 0; k < 4; k++) {
            seed = seed * 1664525u + 1013904223u;
            s += (float)(seed >> 8) / 16777216.0f - 0.5f;
        }
        x[i] = s * 1.7f * scale * ((seed & 127) == 0 ? 20.0f : 1.0f);
    }
}

static void *alloc_row(mvq_type t, int n)
{
    return calloc(1, mvq_row_size(t, n) + 64);
}

static double sq_error(const float *x, const float *y, int n, const float *w)
{
    double e = 0.0;
    for (int i = 0; i < n; i++)
        e += (w ? w[i] : 1.0) * ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return e;
}

Test(kernels_ref, scalar_table_fills_every_entry_it_owns)
{
    const mvq_type all[] = {MVQ_TYPE_F32, MVQ_TYPE_F16, MVQ_TYPE_BF16, MVQ_TYPE_Q4_0,
                            MVQ_TYPE_Q4_1, MVQ_TYPE_Q5_0, MVQ_TYPE_Q5_1, MVQ_TYPE_Q8_0,
                            MVQ_TYPE_IQ4_NL, MVQ_TYPE_IQ4_XS, MVQ_TYPE_TQ2_0};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        cr_expect_not_null(ref.to_float[all[i]], "%s to_float", mvq_type_name(all[i]));
        cr_expect_not_null(ref.from_float[all[i]], "%s from_float", mvq_type_name(all[i]));
        cr_expect_not_null(ref.vec_dot[all[i]], "%s vec_dot", mvq_type_name(all[i]));
    }
    for (int t = MVQ_TYPE_Q2_K; t <= MVQ_TYPE_Q6_K; t++)
        cr_expect_not_null(ref.vec_dot[t], "%s vec_dot", mvq_type_name(t));
    cr_expect_not_null(ref.from_float[MVQ_TYPE_Q8_1]);
    cr_expect_not_null(ref.from_float[MVQ_TYPE_Q8_K]);
    cr_expect_str_eq(ref.isa, "scalar");
}

Test(kernels_ref, all_zero_blocks_stay_zero)
{
    float x[256] = {0}, y[256], w[256];
    for (int i = 0; i < 256; i++)
        w[i] = 1.0f + (float)(i % 7);
    for (size_t k = 0; k < N_WEIGHT_TYPES; k++)
        for (int imp = 0; imp < 2; imp++) {
            const mvq_type t = weight_types[k];
            void *q = alloc_row(t, 256);
            ref.from_float[t](x, q, 256, imp ? w : NULL);
            memset(y, 0xff, sizeof y);
            ref.to_float[t](q, y, 256);
            for (int i = 0; i < 256; i++)
                cr_assert_eq(y[i], 0.0f, "%s%s: y[%d] = %g", mvq_type_name(t),
                             imp ? " (importance)" : "", i, y[i]);
            free(q);
        }
    mvq_block_q8_K k8;
    memset(&k8, 0x55, sizeof k8);
    ref.from_float[MVQ_TYPE_Q8_K](x, &k8, 256, NULL);
    cr_expect_eq(k8.d, 0.0f);
    for (int g = 0; g < 16; g++)
        cr_expect_eq(k8.bsums[g], 0, "bsums of a zero block are zero");
}

Test(kernels_ref, tiny_values_quantize_to_finite_small_errors)
{
    static const float scales[] = {1e-3f, 1e-6f, 1e-8f, 1e-30f, 1e-40f};
    float x[64], y[64];
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        fill_random(x, 64, 7u + (unsigned)s, scales[s]);
        float amax = 0.0f;
        for (int i = 0; i < 64; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        for (size_t k = 0; k < N_WEIGHT_TYPES; k++) {
            const mvq_type t = weight_types[k];
            void *q = alloc_row(t, 64);
            ref.from_float[t](x, q, 64, NULL);
            ref.to_float[t](q, y, 64);
            for (int i = 0; i < 64; i++) {
                cr_assert(isfinite(y[i]), "%s at %g: y[%d] not finite", mvq_type_name(t),
                          scales[s], i);
                /* fp16 scales cannot go below 2^-24: then everything rounds to 0 at worst */
                cr_assert_leq(fabsf(y[i] - x[i]), 2.0f * amax + 1e-7f, "%s at %g: y[%d]",
                              mvq_type_name(t), scales[s], i);
            }
            free(q);
        }
    }
}

Test(kernels_ref, finite_inputs_give_finite_outputs)
{
    enum { N = 2048 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *w = malloc(N * sizeof *w);
    fill_random(x, N, 99, 1000.0f);
    x[5] = 60000.0f;
    x[6] = -60000.0f;
    x[40] = 3.0e-39f;
    fill_random(w, N, 5, 1.0f);
    for (int i = 0; i < N; i++)
        w[i] = w[i] * w[i];
    for (size_t k = 0; k < N_WEIGHT_TYPES; k++)
        for (int imp = 0; imp < 2; imp++) {
            const mvq_type t = weight_types[k];
            void *q = alloc_row(t, N);
            ref.from_float[t](x, q, N, imp ? w : NULL);
            ref.to_float[t](q, y, N);
            for (int i = 0; i < N; i++)
                cr_assert(isfinite(y[i]), "%s: y[%d] = %g from %g", mvq_type_name(t), i, y[i],
                          x[i]);
            free(q);
        }
    free(x);
    free(y);
    free(w);
}

Test(kernels_ref, fp16_row_round_trip_of_special_values)
{
    const float in[] = {0.0f, -0.0f, INFINITY, -INFINITY, 65504.0f, -65504.0f, 0x1p-24f,
                        0x1p-14f, 1.0f, 65519.0f, 65520.0f, 0x1p-25f, 0x1.8p-25f, 1.0009765625f};
    const float want[] = {0.0f, -0.0f, INFINITY, -INFINITY, 65504.0f, -65504.0f, 0x1p-24f,
                          0x1p-14f, 1.0f, 65504.0f, INFINITY, 0.0f, 0x1p-24f, 1.0009765625f};
    enum { N = sizeof in / sizeof in[0] };
    mvq_half h[N + 1];
    float out[N + 1];
    ref.from_float[MVQ_TYPE_F16](in, h, N, NULL);
    ref.to_float[MVQ_TYPE_F16](h, out, N);
    for (int i = 0; i < N; i++) {
        cr_expect_eq(out[i], want[i], "%a -> %a, want %a", in[i], out[i], want[i]);
        cr_expect_eq(signbit(out[i]) != 0, signbit(want[i]) != 0, "sign of %a", in[i]);
    }
    const float nan_in = NAN;
    ref.from_float[MVQ_TYPE_F16](&nan_in, h, 1, NULL);
    ref.to_float[MVQ_TYPE_F16](h, out, 1);
    cr_expect(isnan(out[0]), "NaN stays NaN through f16");
    mvq_bf16 b[2];
    const float bin[2] = {NAN, 1.00390625f}; /* halfway between two bf16: to even (1.0) */
    ref.from_float[MVQ_TYPE_BF16](bin, b, 2, NULL);
    ref.to_float[MVQ_TYPE_BF16](b, out, 2);
    cr_expect(isnan(out[0]), "NaN stays NaN through bf16");
    cr_expect_eq(out[1], 1.0f);
}

/* One block through each function equals the first block of many. */
Test(kernels_ref, one_block_matches_first_of_many)
{
    enum { N = 256 * 6 };
    float *x = malloc(N * sizeof *x), *y1 = malloc(N * sizeof *y1), *yn = malloc(N * sizeof *yn);
    fill_random(x, N, 1234, 1.0f);
    for (size_t k = 0; k < N_WEIGHT_TYPES; k++) {
        const mvq_type t = weight_types[k];
        const size_t bs = mvq_row_size(t, 32);
        uint8_t *q1 = alloc_row(t, N), *qn = alloc_row(t, N);
        ref.from_float[t](x, q1, 32, NULL);
        ref.from_float[t](x, qn, N, NULL);
        cr_assert_eq(memcmp(q1, qn, bs), 0, "%s: first block differs", mvq_type_name(t));
        ref.to_float[t](q1, y1, 32);
        ref.to_float[t](qn, yn, N);
        cr_assert_eq(memcmp(y1, yn, 32 * sizeof(float)), 0, "%s", mvq_type_name(t));
        free(q1);
        free(qn);
    }
    free(x);
    free(y1);
    free(yn);
}

/* The quantized dot product equals the float dot of the dequantized rows,
 * up to float rounding; and over many blocks the sum of per-block dots. */
Test(kernels_ref, dot_products_match_dequantized_floats)
{
    enum { N = 256 * 4 };
    float *x = malloc(N * sizeof *x), *a = malloc(N * sizeof *a);
    float *xd = malloc(N * sizeof *xd), *ad = malloc(N * sizeof *ad);
    fill_random(x, N, 11, 1.0f);
    fill_random(a, N, 12, 3.0f);
    for (size_t k = 0; k < N_WEIGHT_TYPES; k++) {
        const mvq_type t = weight_types[k];
        const mvq_type at = mvq_type_traits_get(t)->vec_dot_type;
        uint8_t *q = alloc_row(t, N), *qa = alloc_row(at, N);
        ref.from_float[t](x, q, N, NULL);
        ref.from_float[at](a, qa, N, NULL);
        ref.to_float[t](q, xd, N);
        ref.to_float[at](qa, ad, N);
        double want = 0.0, mag = 0.0;
        for (int i = 0; i < N; i++) {
            want += (double)xd[i] * ad[i];
            mag += fabs((double)xd[i] * ad[i]);
        }
        /* Q8_1 carries d*sum(q) rounded to fp16: allow that rounding times the minimum */
        double s_round = 0.0;
        if (at == MVQ_TYPE_Q8_1)
            for (int b = 0; b < N / 32; b++) {
                const mvq_half *xm = (const mvq_half *)(q + b * mvq_row_size(t, 32));
                const mvq_block_q8_1 *yb = (const mvq_block_q8_1 *)qa + b;
                s_round += fabs((double)mvq_fp16_to_fp32(xm[1]) * mvq_fp16_to_fp32(yb->s)) * 0x1p-11;
            }
        float got = 0.0f, parts = 0.0f;
        ref.vec_dot[t](N, &got, q, qa);
        for (int b = 0; b < N / 32; b++) {
            float s;
            ref.vec_dot[t](32, &s, q + b * mvq_row_size(t, 32), qa + b * mvq_row_size(at, 32));
            parts += s;
        }
        cr_expect_leq(fabs(got - want), 1e-5 * mag + s_round, "%s: %g vs %g", mvq_type_name(t), got, want);
        cr_expect_eq(got, parts, "%s: block order accumulation", mvq_type_name(t));
        free(q);
        free(qa);
    }
    float f[64], g[64];
    fill_random(f, 64, 3, 1.0f);
    fill_random(g, 64, 4, 1.0f);
    double want = 0.0;
    for (int i = 0; i < 64; i++)
        want += (double)f[i] * g[i];
    float got;
    ref.vec_dot[MVQ_TYPE_F32](64, &got, f, g);
    cr_expect_eq(got, (float)want);
    free(x);
    free(a);
    free(xd);
    free(ad);
}

Test(kernels_ref, activation_quantizers_keep_their_invariants)
{
    float a[512];
    fill_random(a, 512, 77, 2.0f);
    mvq_block_q8_1 b1[16];
    ref.from_float[MVQ_TYPE_Q8_1](a, b1, 512, NULL);
    for (int i = 0; i < 16; i++) {
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            cr_assert(b1[i].qs[j] >= -127 && b1[i].qs[j] <= 127);
            sum += b1[i].qs[j];
        }
        const float d = mvq_fp16_to_fp32(b1[i].d);
        cr_expect_leq(fabsf(mvq_fp16_to_fp32(b1[i].s) - d * (float)sum),
                      1e-3f * fabsf(d * (float)sum) + 1e-6f, "q8_1 s = d * sum");
    }
    mvq_block_q8_K bk[2];
    ref.from_float[MVQ_TYPE_Q8_K](a, bk, 512, NULL);
    for (int i = 0; i < 2; i++) {
        int has_127 = 0;
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += bk[i].qs[16 * g + j];
            cr_expect_eq(bk[i].bsums[g], sum, "q8_K bsums[%d]", g);
        }
        for (int j = 0; j < 256; j++)
            has_127 |= bk[i].qs[j] == -127 || bk[i].qs[j] == 127;
        cr_expect(has_127, "the largest value maps to +-127");
    }
}

Test(kernels_ref, exactly_representable_blocks_have_zero_error)
{
    float x[32], y[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)((j % 16) - 8) * 0.25f; /* q4_0 levels times 0.25 */
    mvq_block_q4_0 b4;
    ref.from_float[MVQ_TYPE_Q4_0](x, &b4, 32, NULL);
    ref.to_float[MVQ_TYPE_Q4_0](&b4, y, 32);
    cr_expect_eq(sq_error(x, y, 32, NULL), 0.0);
    for (int j = 0; j < 32; j++)
        x[j] = 0.5f + (float)(j % 32) * 0.125f; /* q5_1: min 0.5, step 0.125 */
    mvq_block_q5_1 b5;
    ref.from_float[MVQ_TYPE_Q5_1](x, &b5, 32, NULL);
    ref.to_float[MVQ_TYPE_Q5_1](&b5, y, 32);
    cr_expect_eq(sq_error(x, y, 32, NULL), 0.0);
    for (int j = 0; j < 32; j++)
        x[j] = (float)mvq_kvalues_iq4nl[j % 16] / 64.0f;
    mvq_block_iq4_nl bn;
    ref.from_float[MVQ_TYPE_IQ4_NL](x, &bn, 32, NULL);
    ref.to_float[MVQ_TYPE_IQ4_NL](&bn, y, 32);
    cr_expect_eq(sq_error(x, y, 32, NULL), 0.0);
}

/* With importance the search minimises the weighted error: never worse than
 * round-to-nearest under the same weights (Q8_0: RTN is the unweighted path). */
Test(kernels_ref, weighted_search_beats_round_to_nearest)
{
    enum { N = 1024 };
    float x[N], w[N], y_rtn[N], y_w[N];
    fill_random(x, N, 21, 1.0f);
    fill_random(w, N, 22, 1.0f);
    for (int i = 0; i < N; i++)
        w[i] = w[i] * w[i] + (i % 9 == 0 ? 10.0f : 0.0f);
    mvq_block_q8_0 q[N / 32];
    ref.from_float[MVQ_TYPE_Q8_0](x, q, N, NULL);
    ref.to_float[MVQ_TYPE_Q8_0](q, y_rtn, N);
    ref.from_float[MVQ_TYPE_Q8_0](x, q, N, w);
    ref.to_float[MVQ_TYPE_Q8_0](q, y_w, N);
    for (int b = 0; b < N / 32; b++)
        cr_expect_leq(sq_error(x + 32 * b, y_w + 32 * b, 32, w + 32 * b),
                      sq_error(x + 32 * b, y_rtn + 32 * b, 32, w + 32 * b), "block %d", b);
    /* and for the 4-bit types the weights move the error where they say */
    mvq_block_q4_0 q4[N / 32];
    ref.from_float[MVQ_TYPE_Q4_0](x, q4, N, NULL);
    ref.to_float[MVQ_TYPE_Q4_0](q4, y_rtn, N);
    ref.from_float[MVQ_TYPE_Q4_0](x, q4, N, w);
    ref.to_float[MVQ_TYPE_Q4_0](q4, y_w, N);
    cr_expect_lt(sq_error(x, y_w, N, w), sq_error(x, y_rtn, N, w));
}

Test(kernels_ref, k_quant_scale_packing_round_trips)
{
    uint8_t sc[8], m[8], packed[12];
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)(j * 9 % 64);
        m[j] = (uint8_t)(63 - j * 7);
    }
    mvq_set_scale_min_k4(sc, m, packed);
    for (int j = 0; j < 8; j++) {
        uint8_t s2, m2;
        mvq_get_scale_min_k4(j, packed, &s2, &m2);
        cr_expect_eq(s2, sc[j]);
        cr_expect_eq(m2, m[j]);
    }
    int8_t s3[16], back[16];
    uint8_t p3[12];
    for (int j = 0; j < 16; j++)
        s3[j] = (int8_t)(j * 5 % 64 - 32);
    mvq_pack_q3_K_scales(s3, p3);
    mvq_unpack_q3_K_scales(p3, back);
    cr_expect_eq(memcmp(s3, back, 16), 0);
}
