/* Fuzzing the dequantizers: arbitrary blocks, in buffers of exactly their
 * size (the sanitizers catch any read or write past them), through every
 * kernel set the CPU runs.  Checks: each set gives the reference's floats
 * bit for bit (NaN for NaN), and no NaN or infinity comes out of blocks
 * whose scales are finite where the format cannot make one.  A second mode
 * quantizes arbitrary finite floats (with an importance matrix or not) and
 * dequantizes them back: the result must be finite too. */
#include "config.h"
#include "tests/fuzz/fuzz.h"

#include <float.h>
#include <math.h>
#include <mvquant/kernels.h>
#include <stddef.h>
#include <string.h>

#define MAX_BLOCKS 8

/* Where a type keeps its scales: up to two fp16 fields (or one f32 for
 * Q8_K).  Plain float types (F32, F16, BF16) are finite where their
 * values are. */
typedef struct scale_fields {
    mvq_type type;
    int n_half;
    size_t half_at[2];
    bool f32_scale;
} scale_fields;

/* Byte 0 of an input picks its entry by index: new types go at the end
 * (and the regression inputs' byte 0 follows the count, see make-seeds.sh). */
static const scale_fields fields[] = {
    {MVQ_TYPE_Q4_0, 1, {offsetof(mvq_block_q4_0, d)}, false},
    {MVQ_TYPE_Q4_1, 2, {offsetof(mvq_block_q4_1, d), offsetof(mvq_block_q4_1, m)}, false},
    {MVQ_TYPE_Q5_0, 1, {offsetof(mvq_block_q5_0, d)}, false},
    {MVQ_TYPE_Q5_1, 2, {offsetof(mvq_block_q5_1, d), offsetof(mvq_block_q5_1, m)}, false},
    {MVQ_TYPE_Q8_0, 1, {offsetof(mvq_block_q8_0, d)}, false},
    {MVQ_TYPE_Q8_1, 1, {offsetof(mvq_block_q8_1, d)}, false},
    {MVQ_TYPE_IQ4_NL, 1, {offsetof(mvq_block_iq4_nl, d)}, false},
    {MVQ_TYPE_Q2_K, 2, {offsetof(mvq_block_q2_K, d), offsetof(mvq_block_q2_K, dmin)}, false},
    {MVQ_TYPE_Q3_K, 1, {offsetof(mvq_block_q3_K, d)}, false},
    {MVQ_TYPE_Q4_K, 2, {offsetof(mvq_block_q4_K, d), offsetof(mvq_block_q4_K, dmin)}, false},
    {MVQ_TYPE_Q5_K, 2, {offsetof(mvq_block_q5_K, d), offsetof(mvq_block_q5_K, dmin)}, false},
    {MVQ_TYPE_Q6_K, 1, {offsetof(mvq_block_q6_K, d)}, false},
    {MVQ_TYPE_Q8_K, 0, {0}, true},
    {MVQ_TYPE_F32, 0, {0}, false},
    {MVQ_TYPE_F16, 0, {0}, false},
    {MVQ_TYPE_BF16, 0, {0}, false},
    {MVQ_TYPE_IQ4_XS, 1, {offsetof(mvq_block_iq4_xs, d)}, false},
    {MVQ_TYPE_TQ2_0, 1, {offsetof(mvq_block_tq2_0, d)}, false},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static float value_at(mvq_type t, const uint8_t *p)
{
    uint16_t h;
    float f;
    switch (t) {
    case MVQ_TYPE_F32: memcpy(&f, p, 4); return f;
    case MVQ_TYPE_F16: memcpy(&h, p, 2); return mvq_fp16_to_fp32(h);
    default: memcpy(&h, p, 2); return mvq_bf16_to_fp32(h);
    }
}

/* Whether the format promises finite output for weight i of blocks x. */
static bool promises_finite(const scale_fields *f, const uint8_t *x, size_t type_size, int64_t i, int64_t bs)
{
    const uint8_t *block = x + (size_t)(i / bs) * type_size;
    if (bs == 1)
        return isfinite(value_at(f->type, block));
    for (int k = 0; k < f->n_half; k++) {
        uint16_t h;
        memcpy(&h, block + f->half_at[k], 2);
        if (!isfinite(mvq_fp16_to_fp32(h)))
            return false;
    }
    if (f->f32_scale) { /* d * q is finite for every |q| <= 128 only while |d| * 128 is */
        float d;
        memcpy(&d, block, 4);
        return isfinite(d) && fabsf(d) <= FLT_MAX / 128.0f;
    }
    return true;
}

static bool same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_dequant(const scale_fields *f, const uint8_t *data, size_t size)
{
    const mvq_type_traits *tr = mvq_type_traits_get(f->type);
    size_t nb = size / tr->type_size;
    if (nb == 0)
        return;
    if (nb > MAX_BLOCKS)
        nb = MAX_BLOCKS;
    int64_t n = (int64_t)nb * tr->block_size;
    uint8_t *x = malloc(nb * tr->type_size); /* exact sizes: ASan sees one byte too far */
    float *ref = malloc((size_t)n * sizeof *ref), *y = malloc((size_t)n * sizeof *y);
    memcpy(x, data, nb * tr->type_size);
    const mvq_kernel_table *scalar = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    scalar->to_float[f->type](x, ref, n);
    for (int64_t i = 0; i < n; i++)
        if (promises_finite(f, x, tr->type_size, i, tr->block_size))
            FUZZ_REQUIRE(isfinite(ref[i]), "%s weight %lld is %g from finite scales", tr->name, (long long)i,
                         ref[i]);
    for (int isa = 1; isa < MVQ_ISA_COUNT; isa++) {
        const mvq_kernel_table *k = mvq_kernels_for_isa((mvq_isa)isa);
        if (!k || !k->to_float[f->type])
            continue;
        k->to_float[f->type](x, y, n);
        for (int64_t i = 0; i < n; i++)
            FUZZ_REQUIRE(same_float(y[i], ref[i]), "%s %s weight %lld: %.9g, reference %.9g", k->isa, tr->name,
                         (long long)i, y[i], ref[i]);
    }
    free(x);
    free(ref);
    free(y);
}

/* Floats from bytes, made finite and of a size fp16 scales can carry. */
static void finite_floats(const uint8_t *data, size_t size, float *out, int64_t n, float limit)
{
    for (int64_t i = 0; i < n; i++) {
        float v = 0;
        if ((size_t)(i + 1) * 4 <= size)
            memcpy(&v, data + 4 * i, 4);
        out[i] = isfinite(v) ? fmaxf(-limit, fminf(limit, v)) : 0.0f;
    }
}

static void check_round_trip(const scale_fields *f, const uint8_t *data, size_t size, bool imatrix)
{
    const mvq_type_traits *tr = mvq_type_traits_get(f->type);
    const mvq_kernel_table *scalar = mvq_kernels_for_isa(MVQ_ISA_SCALAR);
    if (!scalar->from_float[f->type])
        return;
    int64_t n = tr->block_size * (tr->block_size == 1 ? 64 : (tr->block_size >= 256 ? 1 : 4));
    float *x = malloc((size_t)n * sizeof *x), *w = malloc((size_t)n * sizeof *w), *y = malloc((size_t)n * sizeof *y);
    finite_floats(data, size, x, n, 1.0e4f);
    size_t used = (size_t)n * 4 < size ? (size_t)n * 4 : size;
    finite_floats(data + used, size - used, w, n, 1.0e4f);
    for (int64_t i = 0; i < n; i++)
        w[i] = fabsf(w[i]);
    void *q = malloc(mvq_row_size(f->type, n));
    for (int isa = 0; isa < MVQ_ISA_COUNT; isa++) {
        const mvq_kernel_table *k = mvq_kernels_for_isa((mvq_isa)isa);
        if (!k || !k->from_float[f->type])
            continue;
        k->from_float[f->type](x, q, n, imatrix ? w : NULL);
        scalar->to_float[f->type](q, y, n);
        for (int64_t i = 0; i < n; i++)
            FUZZ_REQUIRE(isfinite(y[i]), "%s %s%s: weight %lld (%g) comes back as %g", k->isa, tr->name,
                         imatrix ? " with imatrix" : "", (long long)i, x[i], y[i]);
    }
    free(q);
    free(x);
    free(w);
    free(y);
}

int mvq_fuzz_dequant(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const scale_fields *f = &fields[(data[0] & 0x3f) % N_FIELDS];
    switch (data[0] >> 6) {
    case 0:
    case 1: check_dequant(f, data + 1, size - 1); break;
    case 2: check_round_trip(f, data + 1, size - 1, false); break;
    default: check_round_trip(f, data + 1, size - 1, true); break;
    }
    return 0;
}
