/* mvquant: tensor types, bit-compatible with ggml / GGUF.
 *
 * Type ids are GGUF's.  Block layouts are ggml's, byte for byte: a row of a
 * quantized tensor is a sequence of blocks along its input columns
 * (GGUF ne[0]), each block holding block_size weights in type_size bytes. */
#ifndef MVQUANT_TYPES_H
#define MVQUANT_TYPES_H

#include <mvquant/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mvq_type {
    MVQ_TYPE_F32 = 0,
    MVQ_TYPE_F16 = 1,
    MVQ_TYPE_Q4_0 = 2,
    MVQ_TYPE_Q4_1 = 3,
    /* 4, 5: Q4_2, Q4_3, removed from ggml */
    MVQ_TYPE_Q5_0 = 6,
    MVQ_TYPE_Q5_1 = 7,
    MVQ_TYPE_Q8_0 = 8,
    MVQ_TYPE_Q8_1 = 9,
    MVQ_TYPE_Q2_K = 10,
    MVQ_TYPE_Q3_K = 11,
    MVQ_TYPE_Q4_K = 12,
    MVQ_TYPE_Q5_K = 13,
    MVQ_TYPE_Q6_K = 14,
    MVQ_TYPE_Q8_K = 15,
    MVQ_TYPE_IQ2_XXS = 16,
    MVQ_TYPE_IQ2_XS = 17,
    MVQ_TYPE_IQ3_XXS = 18,
    MVQ_TYPE_IQ1_S = 19,
    MVQ_TYPE_IQ4_NL = 20,
    MVQ_TYPE_IQ3_S = 21,
    MVQ_TYPE_IQ2_S = 22,
    MVQ_TYPE_IQ4_XS = 23,
    MVQ_TYPE_I8 = 24,
    MVQ_TYPE_I16 = 25,
    MVQ_TYPE_I32 = 26,
    MVQ_TYPE_I64 = 27,
    MVQ_TYPE_F64 = 28,
    MVQ_TYPE_IQ1_M = 29,
    MVQ_TYPE_BF16 = 30,
    /* 31..33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8, removed from ggml */
    MVQ_TYPE_TQ1_0 = 34,
    MVQ_TYPE_TQ2_0 = 35,
    MVQ_TYPE_COUNT = 40
} mvq_type;

typedef uint16_t mvq_half; /* IEEE binary16 bits */
typedef uint16_t mvq_bf16; /* bfloat16 bits */

#define MVQ_QK4_0 32
#define MVQ_QK4_1 32
#define MVQ_QK5_0 32
#define MVQ_QK5_1 32
#define MVQ_QK8_0 32
#define MVQ_QK8_1 32
#define MVQ_QK4_NL 32
#define MVQ_QK_K 256
#define MVQ_K_SCALE_SIZE 12

typedef struct { mvq_half d; uint8_t qs[MVQ_QK4_0 / 2]; } mvq_block_q4_0;
typedef struct { mvq_half d, m; uint8_t qs[MVQ_QK4_1 / 2]; } mvq_block_q4_1;
typedef struct { mvq_half d; uint8_t qh[4]; uint8_t qs[MVQ_QK5_0 / 2]; } mvq_block_q5_0;
typedef struct { mvq_half d, m; uint8_t qh[4]; uint8_t qs[MVQ_QK5_1 / 2]; } mvq_block_q5_1;
typedef struct { mvq_half d; int8_t qs[MVQ_QK8_0]; } mvq_block_q8_0;
/* s = d * sum(qs) */
typedef struct { mvq_half d, s; int8_t qs[MVQ_QK8_1]; } mvq_block_q8_1;
typedef struct { mvq_half d; uint8_t qs[MVQ_QK4_NL / 2]; } mvq_block_iq4_nl;

/* K-quants: super-blocks of 256 */
typedef struct {
    uint8_t scales[MVQ_QK_K / 16]; /* 4-bit scale | 4-bit min per 16 */
    uint8_t qs[MVQ_QK_K / 4];      /* 2-bit quants */
    mvq_half d, dmin;
} mvq_block_q2_K;
typedef struct {
    uint8_t hmask[MVQ_QK_K / 8]; /* high bit */
    uint8_t qs[MVQ_QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];          /* 6-bit scales, packed */
    mvq_half d;
} mvq_block_q3_K;
typedef struct {
    mvq_half d, dmin;
    uint8_t scales[MVQ_K_SCALE_SIZE]; /* 6-bit scales and mins, packed */
    uint8_t qs[MVQ_QK_K / 2];
} mvq_block_q4_K;
typedef struct {
    mvq_half d, dmin;
    uint8_t scales[MVQ_K_SCALE_SIZE];
    uint8_t qh[MVQ_QK_K / 8];
    uint8_t qs[MVQ_QK_K / 2];
} mvq_block_q5_K;
typedef struct {
    uint8_t ql[MVQ_QK_K / 2];
    uint8_t qh[MVQ_QK_K / 4];
    int8_t scales[MVQ_QK_K / 16];
    mvq_half d;
} mvq_block_q6_K;
/* TQ2_0: ternary, weight 128 (c / 32) + 32 l + c % 32 at bits 2l of qs[c]
 * as its level + 1 (0, 1, 2), times d */
typedef struct {
    uint8_t qs[MVQ_QK_K / 4];
    mvq_half d;
} mvq_block_tq2_0;
/* IQ4_XS: 8 sub-blocks of 32 with 6-bit signed scales ls - 32 (low 4 bits
 * in scales_l[j/2] nibble j%2, high 2 bits at bits 2j of scales_h) and 4-bit
 * indices into IQ4_NL's table (sub-block j: qs[16j..16j+15], weights 32j+l
 * in the low nibbles, 32j+16+l in the high ones) */
typedef struct {
    mvq_half d;
    uint16_t scales_h;
    uint8_t scales_l[MVQ_QK_K / 64];
    uint8_t qs[MVQ_QK_K / 2];
} mvq_block_iq4_xs;
/* activation type for the K-quant dot products; bsums[j] = sum(qs[16j..16j+15]) */
typedef struct {
    float d;
    int8_t qs[MVQ_QK_K];
    int16_t bsums[MVQ_QK_K / 16];
} mvq_block_q8_K;

/* Traits of one type.  Types ggml knows but mvquant cannot convert
 * (IQ2_XXS, ...) still have block_size and type_size so GGUF files carrying
 * them can be read and written byte for byte; their function pointers in
 * the kernel table are NULL. */
typedef struct mvq_type_traits {
    const char *name;      /* ggml's name: "q4_K", "f16", ... */
    int64_t block_size;    /* weights per block (1 for plain types) */
    size_t type_size;      /* bytes per block */
    bool is_quantized;
    mvq_type vec_dot_type; /* activation type of vec_dot, e.g. Q8_0 for Q4_0 */
} mvq_type_traits;

/* NULL when t is not a type id ggml defines. */
MVQ_API const mvq_type_traits *mvq_type_traits_get(mvq_type t);
MVQ_API const char *mvq_type_name(mvq_type t); /* "?" when unknown */
/* case-insensitive ggml name ("q4_k", "Q8_0", "bf16") to id; -1 when unknown */
MVQ_API int mvq_type_from_name(const char *name);
/* bytes of a row of n weights; 0 when t is unknown or n not a multiple of its block size */
MVQ_API size_t mvq_row_size(mvq_type t, int64_t n);

MVQ_API float mvq_fp16_to_fp32(mvq_half h);
MVQ_API mvq_half mvq_fp32_to_fp16(float f); /* round to nearest even, as ggml */
MVQ_API float mvq_bf16_to_fp32(mvq_bf16 h);
MVQ_API mvq_bf16 mvq_fp32_to_bf16(float f); /* round to nearest even, NaN kept quiet, as ggml */

#ifdef __cplusplus
}
#endif
#endif
