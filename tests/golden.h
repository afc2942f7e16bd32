/* Reader of ggml's golden quantization vectors
 * (../shared/fixtures/golden/ggml/NAME.bin, format in FORMAT.md there). */
#ifndef MVQ_TEST_GOLDEN_H
#define MVQ_TEST_GOLDEN_H

#include <stddef.h>
#include <stdint.h>

#define MVQ_GOLDEN_NO_DOT 0xFFFFFFFFu

typedef struct mvq_golden {
    uint32_t type;         /* GGUF type id of the quantized rows */
    uint32_t nrows, n_per_row, row_bytes;
    float *input;          /* nrows * n_per_row */
    float *importance;     /* n_per_row, or NULL */
    uint8_t *quantized;    /* nrows * row_bytes: ggml_quantize_chunk's output */
    float *dequantized;    /* nrows * n_per_row: ggml's to_float of quantized */
    float *activation;     /* n_per_row */
    uint32_t vec_dot_type; /* MVQ_GOLDEN_NO_DOT when none */
    uint32_t act_bytes;
    uint8_t *activation_quantized; /* act_bytes */
    float *dot;                    /* nrows: ggml's vec_dot per row */
} mvq_golden;

/* The file names (without .bin) recorded, NULL-terminated: "q4_0",
 * "q4_0-imatrix", ... */
extern const char *const mvq_golden_names[];

/* Path of golden NAME under the fixtures, or NULL when absent (skip). */
const char *mvq_golden_path(const char *name, char *buf, size_t size);

/* Reads a golden file; 0 on success, else -1 with a one-line reason in err. */
int mvq_golden_load(const char *path, mvq_golden *g, char *err, size_t err_size);
void mvq_golden_free(mvq_golden *g);

/* sum over rows and columns of importance[col] * (x - y)^2 (importance NULL:
 * 1), in double. */
double mvq_golden_sq_error(const float *x, const float *y, uint32_t nrows, uint32_t n_per_row,
                           const float *importance);

#endif
