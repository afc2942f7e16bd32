/* Massive-value detection and RoPE dimension facts (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <math.h>

Test(massive, rope_pairs_llama_and_neox)
{
    mvq_rope_dim a = mvq_rope_dim_info(7, 8, 10000.0, false);
    cr_expect_eq(a.pair, 3);
    cr_expect_float_eq(a.freq, pow(10000.0, -6.0 / 8.0), 1e-12);
    cr_expect_float_eq(a.wavelength, 2 * M_PI / a.freq, 1e-9);
    mvq_rope_dim b = mvq_rope_dim_info(35, 64, 10000.0, false);
    cr_expect_eq(b.pair, 17);
    /* the shared README: pairs 14..17 of 64 dims have wavelengths of about 350 to 840 tokens */
    cr_expect(b.wavelength > 800 && b.wavelength < 900, "pair 17 wavelength %g", b.wavelength);
    cr_expect(mvq_rope_dim_info(28, 64, 10000.0, false).wavelength > 340);
    mvq_rope_dim c = mvq_rope_dim_info(40, 64, 10000.0, true);
    cr_expect_eq(c.pair, 8, "neox pairs d with d + n_rot/2");
    mvq_rope_dim u = mvq_rope_dim_info(70, 64, 10000.0, false);
    cr_expect_eq(u.pair, -1);
    cr_expect(isinf(u.wavelength));
}

Test(massive, lambda_rule_flags_exactly_the_planted_dims)
{
    enum { H = 3, D = 16 };
    float M[H * D];
    for (int i = 0; i < H * D; i++)
        M[i] = 1.0f + 0.01f * (i % 7);
    M[0 * D + 14] = 200.0f;                      /* head 0: one huge dim */
    M[1 * D + 12] = 100.0f, M[1 * D + 13] = 90.0f; /* head 1: a pair */
    /* head 2: nothing above 5x */
    M[2 * D + 3] = 4.0f;
    uint8_t mask[H * D];
    mvq_massive_head heads[H];
    mvq_massive_params p = { 5.0, 0 };
    int n = mvq_massive_detect(M, H, D, D, 10000.0, false, &p, mask, heads);
    cr_assert_eq(n, 3);
    for (int i = 0; i < H * D; i++) {
        int want = i == 14 || i == D + 12 || i == D + 13;
        cr_expect_eq(mask[i], want, "dim %d", i);
    }
    cr_expect_eq(heads[0].top_dim, 14);
    cr_expect(heads[0].top_ratio > 10);
    cr_expect_eq(heads[1].n_massive, 2);
    cr_expect_eq(heads[2].n_massive, 0);
    cr_expect_eq(heads[2].top_dim, 3);
    cr_expect(heads[0].lowfreq_share > 0.99, "dim 14 of 16 is a low-frequency pair");
    cr_expect(heads[2].lowfreq_share < 0.6);
}

Test(massive, topk_takes_the_largest_per_head)
{
    float M[2 * 8] = { 1, 2, 3, 9, 1, 1, 1, 8, /* head 0 */ 5, 5, 5, 5, 5, 5, 5, 6 };
    uint8_t mask[16];
    mvq_massive_params p = { 5.0, 2 };
    cr_assert_eq(mvq_massive_detect(M, 2, 8, 8, 10000.0, false, &p, mask, NULL), 4);
    cr_expect(mask[3] && mask[7] && mask[15] && mask[8], "ties resolved to the lower index");
    cr_expect(!mask[2] && !mask[9]);
}
