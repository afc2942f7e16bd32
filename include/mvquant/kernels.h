/* mvquant: quantize, dequantize, dot-product and matrix-product kernels.
 *
 * Each instruction set fills a table of function pointers (mvq_kernel_table).
 * The portable scalar table is the specification; faster tables override its
 * entries and are tested against it.  The table in use is chosen once, at
 * first use: the fastest set the CPU supports, unless the environment
 * variable MVQ_ISA (scalar|avx2|avx512|neon) or mvq_isa_force() says
 * otherwise. */
#ifndef MVQUANT_KERNELS_H
#define MVQUANT_KERNELS_H

#include <mvquant/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y[0..n) = dequantized x; n is a multiple of the type's block size. */
typedef void (*mvq_to_float_fn)(const void *x, float *y, int64_t n);
/* Quantize n weights (a multiple of the block size).  imatrix, when not NULL,
 * holds n importance weights, one per input column (llama.cpp's importance
 * matrix: mean square of the activation feeding that column); the search
 * minimises the squared error weighted by them. */
typedef void (*mvq_from_float_fn)(const float *x, void *y, int64_t n, const float *imatrix);
/* *s = dot(x, y) over n weights; x in the weight type, y in its vec_dot_type. */
typedef void (*mvq_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

/* sum_i x[i] * w[i] of int8 vectors, exactly in int32 (n <= 65536);
 * w_sum = sum_i w[i], for kernels that offset x to unsigned. */
typedef int32_t (*mvq_i8_dot_fn)(int64_t n, const int8_t *x, const int8_t *w, int32_t w_sum);
/* Tiled quantized GEMM: y[t * ldy + r] = the same table's vec_dot of weight
 * row r (rows w_row bytes apart) with activation row t (a_row bytes apart,
 * in the vec_dot_type), for r < n_rows, t < n_tok; bit for bit what vec_dot
 * gives, but each weight block is loaded once per tile of tokens. */
typedef void (*mvq_gemm_q_fn)(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                              const void *a, size_t a_row, float *y, int64_t ldy);
/* BF16 GEMM: y[t * ldy + r] = sum over p < parts, i < n of w_r[i] * a_t[p * n + i],
 * for r < n_rows, t < n_tok: weight row r at w + r * w_row bytes, activation
 * row t at a + t * a_row bytes, holding `parts` runs of n bf16 values whose
 * sum is the f32 activation (mvq_bf16_split).  Products are exact; sums in
 * f32, in an order of the kernel's own (compare with a tolerance). */
typedef void (*mvq_gemm_bf16_fn)(int64_t n, int64_t n_rows, int64_t n_tok, const mvq_bf16 *w, size_t w_row,
                                 const mvq_bf16 *a, size_t a_row, int parts, float *y, int64_t ldy);

/* F16/BF16 GEMM on f32 activations: y[t * ldy + r] = sum over i < n of
 * w_r[i] * x_t[i], the weights widened exactly to f32 (x_t at x + t * x_row
 * bytes; otherwise the layout of mvq_gemm_bf16_fn); sums in f32, in an
 * order of the kernel's own. */
typedef void (*mvq_gemm_half_fn)(int64_t n, int64_t n_rows, int64_t n_tok, const void *w, size_t w_row,
                                 const float *x, size_t x_row, float *y, int64_t ldy);

typedef struct mvq_kernel_table {
    const char *isa;                            /* "scalar", "avx2", ... */
    mvq_to_float_fn to_float[MVQ_TYPE_COUNT];
    mvq_from_float_fn from_float[MVQ_TYPE_COUNT];
    mvq_vec_dot_fn vec_dot[MVQ_TYPE_COUNT];
    mvq_i8_dot_fn i8_dot; /* W8A8 (mvquant/int8.h) */
    /* NULL where the set has none: the product then calls vec_dot per pair */
    mvq_gemm_q_fn gemm_q[MVQ_TYPE_COUNT];
    /* NULL where the CPU has no bf16 dot product (AVX-512 BF16) */
    mvq_gemm_bf16_fn gemm_bf16;
    /* F16 and BF16 entries only; NULL where the set has none */
    mvq_gemm_half_fn gemm_half[MVQ_TYPE_COUNT];
} mvq_kernel_table;

/* x[0..n) as `parts` (1 or 2) runs of n bf16 in out: the first rounds x to
 * nearest even (llama.cpp's activations for BF16 weights), the second the
 * remainder, so two parts hold 16 significant bits (error <= 2^-17 |x|).
 * Not finite values keep a zero remainder. */
MVQ_API void mvq_bf16_split(const float *x, mvq_bf16 *out, int64_t n, int parts);

typedef enum mvq_isa {
    MVQ_ISA_SCALAR = 0,
    MVQ_ISA_AVX2 = 1,   /* + FMA, F16C */
    MVQ_ISA_AVX512 = 2, /* F, BW, VL; VNNI used when present */
    MVQ_ISA_NEON = 3,   /* dotprod used when present */
    MVQ_ISA_COUNT = 4
} mvq_isa;

MVQ_API const char *mvq_isa_name(mvq_isa isa);
MVQ_API int mvq_isa_from_name(const char *name); /* -1 when unknown */
MVQ_API bool mvq_isa_compiled(mvq_isa isa);      /* built into this library */
MVQ_API bool mvq_isa_supported(mvq_isa isa);     /* compiled and the CPU runs it */
MVQ_API mvq_isa mvq_isa_selected(void);
/* Chooses the set now (the fastest supported, or MVQ_ISA when set) and
 * reports a bad MVQ_ISA as an error; programs call it at start-up.  Without
 * it the choice happens at first use and a bad MVQ_ISA is ignored. */
MVQ_API mvq_status mvq_isa_init(mvq_error *err);
/* Force a set for the whole process (tests, benchmarks).  Fails with a clear
 * message when the set is not compiled in or the CPU lacks it. */
MVQ_API mvq_status mvq_isa_force(mvq_isa isa, mvq_error *err);

/* The table in use, and the table of a given set (NULL when unsupported),
 * so tests and benchmarks can compare paths side by side. */
MVQ_API const mvq_kernel_table *mvq_kernels(void);
MVQ_API const mvq_kernel_table *mvq_kernels_for_isa(mvq_isa isa);

/* Conveniences over the table in use. */
MVQ_API void mvq_dequantize_row(mvq_type t, const void *x, float *y, int64_t n);
MVQ_API void mvq_quantize_row(mvq_type t, const float *x, void *y, int64_t n, const float *imatrix);
MVQ_API void mvq_vec_dot(mvq_type t, int64_t n, float *s, const void *x, const void *y);
/* nrows rows of n_per_row; returns bytes written, 0 when the type cannot be
 * quantized to or n_per_row is not a multiple of its block size. */
MVQ_API size_t mvq_quantize_rows(mvq_type t, const float *src, void *dst, int64_t nrows,
                                 int64_t n_per_row, const float *imatrix);

/* A fixed pool of worker threads; matrix products split their rows over it. */
typedef struct mvq_pool mvq_pool;
MVQ_API mvq_pool *mvq_pool_create(int n_threads); /* <= 0: number of cores */
MVQ_API void mvq_pool_free(mvq_pool *pool);
MVQ_API int mvq_pool_size(const mvq_pool *pool);
/* Runs fn(arg, i, n) for i in [0, n) on the pool's threads (the caller is one
 * of them) and returns when all are done.  n is the pool's size; each i runs
 * exactly once, but one thread may run several (a late worker's share is
 * taken by whoever is free).  One caller at a time; fn must not call
 * mvq_pool_run on the same pool. */
MVQ_API void mvq_pool_run(mvq_pool *pool, void (*fn)(void *arg, int ith, int nth), void *arg);

/* y[t][o] = sum_i w[o][i] * x[t][i] for t < n_tok, o < n_out.
 * w: n_out rows of n_in weights of type wtype (GGUF ne = [n_in, n_out]);
 * x: n_tok rows of n_in f32; y: n_tok rows of n_out f32.
 * Activations are quantized on the fly to the weight type's vec_dot_type.
 * n_tok == 1 is a GEMV.  Batches of 4 tokens or more on F16 and BF16
 * weights take the table's GEMMs where it has them (AVX2, AVX-512): on
 * CPUs with AVX-512 BF16, BF16 weights take gemm_bf16, which rounds the
 * activations to bf16 as llama.cpp does for BF16 weights; otherwise
 * gemm_half on f32 activations (with oneDNN: below 256 tokens).  When
 * built with oneDNN, F32 weights go through its sgemm, and so do other
 * batches (16 tokens or more; F16/BF16: 4) on weight tiles dequantized
 * once (f32 activations, no quantization).
 * pool may be NULL (the caller alone); small products run on the caller.
 * Errors: MVQ_ERR_ARG (bad shape, n_in not a multiple of the block size),
 * MVQ_ERR_UNSUPPORTED (no dot product for the type), MVQ_ERR_NOMEM. */
MVQ_API mvq_status mvq_matmul(mvq_pool *pool, mvq_type wtype, const void *w, int64_t n_out,
                              int64_t n_in, const float *x, int64_t n_tok, float *y,
                              mvq_error *err);

#ifdef __cplusplus
}
#endif
#endif
