/* Internal to kernels/: the scale searches shared by the K-quant reference
 * quantizers (kquant_q*k.c).
 *
 * A K-quant super-block of 256 weights is cut into sub-blocks of 16 or 32,
 * each with a small integer scale (and, for the affine types, an integer
 * min) relative to the super-block's fp16 scale d (and dmin):
 *   affine    (Q2_K, Q4_K, Q5_K): y = (d*sc)*q - dmin*m,  q in [0, qmax]
 *   symmetric (Q3_K, Q6_K):       y = (d*sc)*q,          q in [qmin, qmax]
 * The searches below choose d, dmin, the sub-block integers and the quants
 * so that the weighted squared error sum w*(y - x)^2, computed with the very
 * float operations of the dequantizer, is as small as they can find. */
#ifndef MVQ_KQUANT_SEARCH_H
#define MVQ_KQUANT_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <mvquant/types.h>

/* Round to nearest (ties to even) for |v| < 2^22, without a libm call. */
static inline float kq_round(float v)
{
    return (v + 12582912.f) - 12582912.f;
}

static inline float kq_clampf(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* Shape of one K-quant type for the searches. */
typedef struct kq_shape {
    int sub_len;  /* weights per sub-block: 16 or 32 */
    int qmin;     /* quant range */
    int qmax;
    int scmin;    /* sub-block scale range */
    int scmax;
    int mmax;     /* sub-block min range [0, mmax]; 0 for symmetric types */
} kq_shape;

/* The result for one super-block of MVQ_QK_K weights. */
typedef struct kq_superblock {
    float d, dmin;               /* already representable in fp16 */
    int8_t q[MVQ_QK_K];          /* quants, in [qmin, qmax] */
    int16_t sc[MVQ_QK_K / 16];   /* sub-block scales */
    uint8_t m[MVQ_QK_K / 16];    /* sub-block mins (affine types) */
} kq_superblock;

/* Packs one searched super-block into its block of the type. */
typedef void (*kq_store_fn)(const kq_superblock *sb, void *block);

/* Quantizes a row of n weights (a multiple of MVQ_QK_K) into blocks of
 * block_bytes: the affine search when the shape has mins, else the
 * symmetric one; imatrix NULL or n weights. */
void kq_quantize_row(const kq_shape *shape, const float *x, void *y, size_t block_bytes, int64_t n,
                     const float *imatrix, kq_store_fn store);

/* One K-quant type for the row quantizers (kquant_q*.c): its shape, block
 * size and packer; the SIMD quantizers run the search on these too. */
typedef struct kq_format {
    const kq_shape *shape;
    size_t block_bytes;
    kq_store_fn store;
} kq_format;

extern const kq_format kq_format_q2_K, kq_format_q3_K, kq_format_q4_K, kq_format_q5_K,
    kq_format_q6_K;

/* Value of a float after a round trip through fp16. */
float kq_fp16_round(float f);

#endif
