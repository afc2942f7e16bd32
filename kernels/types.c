/* Type traits (one table indexed by GGUF type id) and half/bfloat16 conversion. */
#include "config.h"
#include <mvquant/types.h>

#include <strings.h>
#include <string.h>

#define PLAIN(nm, sz) { nm, 1, sz, false, MVQ_TYPE_COUNT }
#define QUANT(nm, bs, sz, vdt) { nm, bs, sz, true, vdt }

/* Sizes are ggml's block sizes; the static asserts below pin the structs we
 * read and write to them.  vec_dot_type MVQ_TYPE_COUNT: no dot product. */
static const mvq_type_traits traits[MVQ_TYPE_COUNT] = {
    [MVQ_TYPE_F32] = { "f32", 1, 4, false, MVQ_TYPE_F32 },
    [MVQ_TYPE_F16] = { "f16", 1, 2, false, MVQ_TYPE_F32 },
    [MVQ_TYPE_BF16] = { "bf16", 1, 2, false, MVQ_TYPE_F32 },
    [MVQ_TYPE_Q4_0] = QUANT("q4_0", MVQ_QK4_0, sizeof(mvq_block_q4_0), MVQ_TYPE_Q8_0),
    [MVQ_TYPE_Q4_1] = QUANT("q4_1", MVQ_QK4_1, sizeof(mvq_block_q4_1), MVQ_TYPE_Q8_1),
    [MVQ_TYPE_Q5_0] = QUANT("q5_0", MVQ_QK5_0, sizeof(mvq_block_q5_0), MVQ_TYPE_Q8_0),
    [MVQ_TYPE_Q5_1] = QUANT("q5_1", MVQ_QK5_1, sizeof(mvq_block_q5_1), MVQ_TYPE_Q8_1),
    [MVQ_TYPE_Q8_0] = QUANT("q8_0", MVQ_QK8_0, sizeof(mvq_block_q8_0), MVQ_TYPE_Q8_0),
    [MVQ_TYPE_Q8_1] = QUANT("q8_1", MVQ_QK8_1, sizeof(mvq_block_q8_1), MVQ_TYPE_COUNT),
    [MVQ_TYPE_Q2_K] = QUANT("q2_K", MVQ_QK_K, sizeof(mvq_block_q2_K), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_Q3_K] = QUANT("q3_K", MVQ_QK_K, sizeof(mvq_block_q3_K), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_Q4_K] = QUANT("q4_K", MVQ_QK_K, sizeof(mvq_block_q4_K), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_Q5_K] = QUANT("q5_K", MVQ_QK_K, sizeof(mvq_block_q5_K), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_Q6_K] = QUANT("q6_K", MVQ_QK_K, sizeof(mvq_block_q6_K), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_Q8_K] = QUANT("q8_K", MVQ_QK_K, sizeof(mvq_block_q8_K), MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ4_NL] = QUANT("iq4_nl", MVQ_QK4_NL, sizeof(mvq_block_iq4_nl), MVQ_TYPE_Q8_0),
    [MVQ_TYPE_IQ4_XS] = QUANT("iq4_xs", MVQ_QK_K, sizeof(mvq_block_iq4_xs), MVQ_TYPE_Q8_K),
    /* known to ggml, carried through byte for byte, not converted by us */
    [MVQ_TYPE_IQ2_XXS] = QUANT("iq2_xxs", 256, 66, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ2_XS] = QUANT("iq2_xs", 256, 74, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ3_XXS] = QUANT("iq3_xxs", 256, 98, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ1_S] = QUANT("iq1_s", 256, 50, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ3_S] = QUANT("iq3_s", 256, 110, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ2_S] = QUANT("iq2_s", 256, 82, MVQ_TYPE_COUNT),
    [MVQ_TYPE_IQ1_M] = QUANT("iq1_m", 256, 56, MVQ_TYPE_COUNT),
    [MVQ_TYPE_TQ1_0] = QUANT("tq1_0", 256, 54, MVQ_TYPE_COUNT),
    [MVQ_TYPE_TQ2_0] = QUANT("tq2_0", MVQ_QK_K, sizeof(mvq_block_tq2_0), MVQ_TYPE_Q8_K),
    [MVQ_TYPE_I8] = PLAIN("i8", 1),
    [MVQ_TYPE_I16] = PLAIN("i16", 2),
    [MVQ_TYPE_I32] = PLAIN("i32", 4),
    [MVQ_TYPE_I64] = PLAIN("i64", 8),
    [MVQ_TYPE_F64] = PLAIN("f64", 8),
};

_Static_assert(sizeof(mvq_block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(mvq_block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(mvq_block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(mvq_block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(mvq_block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(mvq_block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(mvq_block_iq4_nl) == 18, "iq4_nl block");
_Static_assert(sizeof(mvq_block_q2_K) == 84, "q2_K block");
_Static_assert(sizeof(mvq_block_tq2_0) == 66, "tq2_0 block");
_Static_assert(sizeof(mvq_block_q3_K) == 110, "q3_K block");
_Static_assert(sizeof(mvq_block_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(mvq_block_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(mvq_block_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(mvq_block_q8_K) == 292, "q8_K block");
_Static_assert(sizeof(mvq_block_iq4_xs) == 136, "iq4_xs block");

const mvq_type_traits *mvq_type_traits_get(mvq_type t)
{
    if ((unsigned)t >= MVQ_TYPE_COUNT || !traits[t].name)
        return NULL;
    return &traits[t];
}

const char *mvq_type_name(mvq_type t)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    return tr ? tr->name : "?";
}

int mvq_type_from_name(const char *name)
{
    for (int t = 0; t < MVQ_TYPE_COUNT; t++)
        if (traits[t].name && strcasecmp(traits[t].name, name) == 0)
            return t;
    return -1;
}

size_t mvq_row_size(mvq_type t, int64_t n)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    if (!tr || n < 0 || n % tr->block_size != 0)
        return 0;
    return (size_t)(n / tr->block_size) * tr->type_size;
}

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float mvq_fp16_to_fp32(mvq_half h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24 is exact in f32 */
        float v = (float)mant * 0x1p-24f;
        return f32_from_bits(f32_bits(v) | sign);
    }
    if (exp == 31) /* inf or NaN */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

mvq_half mvq_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN stays NaN (quiet) */
        return (mvq_half)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
    if (x >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (mvq_half)(sign | 0x7c00);
    if (x < 0x38800000u) { /* below 2^-14: subnormal half.  Adding 0.5f
                              puts the value's 2^-24 units in the low bits,
                              rounded to nearest even by the FPU. */
        float v = f32_from_bits(x) + 0.5f;
        return (mvq_half)(sign | (f32_bits(v) - 0x3f000000u));
    }
    /* normal: rebias the exponent (-112) and round to nearest even */
    x += 0xc8000fffu + ((x >> 13) & 1);
    return (mvq_half)(sign | (x >> 13));
}

float mvq_bf16_to_fp32(mvq_bf16 h)
{
    return f32_from_bits((uint32_t)h << 16);
}

mvq_bf16 mvq_fp32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet */
        return (mvq_bf16)((x >> 16) | 64);
    return (mvq_bf16)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}
