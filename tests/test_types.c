/* Type traits, half and bfloat16 conversion, dispatch (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

Test(types, traits_match_ggml_sizes)
{
    static const struct { int t; const char *name; int64_t bs; size_t ts; } want[] = {
        { MVQ_TYPE_F32, "f32", 1, 4 },       { MVQ_TYPE_F16, "f16", 1, 2 },
        { MVQ_TYPE_BF16, "bf16", 1, 2 },     { MVQ_TYPE_Q4_0, "q4_0", 32, 18 },
        { MVQ_TYPE_Q4_1, "q4_1", 32, 20 },   { MVQ_TYPE_Q5_0, "q5_0", 32, 22 },
        { MVQ_TYPE_Q5_1, "q5_1", 32, 24 },   { MVQ_TYPE_Q8_0, "q8_0", 32, 34 },
        { MVQ_TYPE_Q8_1, "q8_1", 32, 36 },   { MVQ_TYPE_Q2_K, "q2_K", 256, 84 },
        { MVQ_TYPE_Q3_K, "q3_K", 256, 110 }, { MVQ_TYPE_Q4_K, "q4_K", 256, 144 },
        { MVQ_TYPE_Q5_K, "q5_K", 256, 176 }, { MVQ_TYPE_Q6_K, "q6_K", 256, 210 },
        { MVQ_TYPE_Q8_K, "q8_K", 256, 292 }, { MVQ_TYPE_IQ4_NL, "iq4_nl", 32, 18 },
        { MVQ_TYPE_IQ4_XS, "iq4_xs", 256, 136 },
        { MVQ_TYPE_TQ2_0, "tq2_0", 256, 66 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const mvq_type_traits *tr = mvq_type_traits_get(want[i].t);
        cr_assert_not_null(tr, "type %d", want[i].t);
        cr_expect_str_eq(tr->name, want[i].name);
        cr_expect_eq(tr->block_size, want[i].bs, "%s block size", want[i].name);
        cr_expect_eq(tr->type_size, want[i].ts, "%s type size", want[i].name);
        cr_expect_eq(mvq_type_from_name(want[i].name), want[i].t);
    }
    cr_expect_null(mvq_type_traits_get(4));
    cr_expect_null(mvq_type_traits_get(MVQ_TYPE_COUNT));
    cr_expect_eq(mvq_type_from_name("Q4_K"), MVQ_TYPE_Q4_K);
    cr_expect_eq(mvq_type_from_name("q9_9"), -1);
    cr_expect_eq(mvq_row_size(MVQ_TYPE_Q4_K, 4096), 16 * 144);
    cr_expect_eq(mvq_row_size(MVQ_TYPE_Q4_K, 100), 0, "row not a multiple of the block");
    cr_expect_eq(mvq_row_size(MVQ_TYPE_F16, 7), 14);
}

Test(types, fp16_round_trips_every_half)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = mvq_fp16_to_fp32((mvq_half)h);
        mvq_half back = mvq_fp32_to_fp16(f);
        if (isnan(f))
            cr_assert(((back & 0x7c00) == 0x7c00) && (back & 0x3ff), "NaN %#x stays NaN", h);
        else
            cr_assert_eq(back, h, "half %#x -> %g -> %#x", h, f, back);
    }
}

#if defined(__FLT16_MAX__)
/* The compiler's _Float16 conversion rounds to nearest even in hardware or
 * libgcc: an independent reference for ours. */
Test(types, fp32_to_fp16_matches_compiler_rounding)
{
    srand(1234);
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
        /* mostly around the half range, sometimes anywhere */
        if (i % 4)
            u = (u & 0x807fffffu) | ((uint32_t)(100 + rand() % 60) << 23);
        float f = from_bits(u);
        if (isnan(f))
            continue;
        _Float16 c = (_Float16)f;
        uint16_t want;
        memcpy(&want, &c, 2);
        cr_assert_eq(mvq_fp32_to_fp16(f), want, "%a: ours %#x, compiler %#x", f, mvq_fp32_to_fp16(f), want);
    }
}
#endif

Test(types, bf16_rounds_to_nearest_even)
{
    cr_expect_eq(mvq_fp32_to_bf16(1.0f), 0x3f80);
    cr_expect_eq(mvq_fp32_to_bf16(from_bits(0x3f808000u)), 0x3f80, "tie to even (down)");
    cr_expect_eq(mvq_fp32_to_bf16(from_bits(0x3f818000u)), 0x3f82, "tie to even (up)");
    cr_expect_eq(mvq_fp32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    cr_expect(isnan(mvq_bf16_to_fp32(mvq_fp32_to_bf16(NAN))));
    cr_expect_eq(bits(mvq_bf16_to_fp32(0xc0a0)), 0xc0a00000u);
}

Test(dispatch, scalar_always_there_and_forcing_checks_the_cpu)
{
    cr_assert(mvq_isa_supported(MVQ_ISA_SCALAR));
    const mvq_kernel_table *s = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    cr_assert_not_null(s);
    cr_expect_str_eq(s->isa, "scalar");
    mvq_error err;
    for (int i = 0; i < MVQ_ISA_COUNT; i++) {
        mvq_status st = mvq_isa_force((mvq_isa)i, &err);
        if (mvq_isa_supported((mvq_isa)i)) {
            cr_expect_eq(st, MVQ_OK, "%s: %s", mvq_isa_name(i), err.msg);
            cr_expect_eq(mvq_isa_selected(), i);
            cr_expect_str_eq(mvq_kernels()->isa, mvq_isa_name(i));
        } else {
            cr_expect_neq(st, MVQ_OK, "forcing unsupported %s must fail", mvq_isa_name(i));
            cr_expect(strstr(err.msg, mvq_isa_name(i)) != NULL, "message names the set: %s", err.msg);
            cr_expect_null(mvq_kernels_for_isa((mvq_isa)i));
        }
    }
    cr_expect_eq(mvq_isa_from_name("AVX2"), MVQ_ISA_AVX2);
    cr_expect_eq(mvq_isa_from_name("sse9"), -1);
}
