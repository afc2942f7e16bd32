/* Internal to quant/methods/: each method file's table entry, for the registry. */
#ifndef MVQ_METHODS_INTERNAL_H
#define MVQ_METHODS_INTERNAL_H

#include <mvquant/methods.h>

extern const mvq_method mvq_method_rtn;
extern const mvq_method mvq_method_gptq;
extern const mvq_method mvq_method_smoothquant;
extern const mvq_method mvq_method_awq;

/* RTN's rounding of one row (rtn.c), for the methods built on it. */
typedef struct mvq_rtn_row {
    mvq_type type;
    int64_t n;
    size_t row_bytes;
    mvq_to_float_fn to_float;
    mvq_from_float_fn quantize;
} mvq_rtn_row;

/* sum_j I_j (a_j - b_j)^2 and sum_j I_j a_j^2 (I = 1 when imp is NULL). */
void mvq_weighted_error(const float *a, const float *b, const float *imp, int64_t n, double *err, double *ref);
/* False when rows of n cannot be quantized to type. */
bool mvq_rtn_row_init(mvq_rtn_row *k, mvq_type type, int64_t n);
/* x into dst as RTN does: the kernels' importance-weighted search (the
 * importance sharpened for the 32-weight types), a careful row trying
 * several weightings.  scratch: 2n floats; cand: one row of the type. */
void mvq_rtn_quantize_row(const mvq_rtn_row *k, const float *x, void *dst, const float *importance, bool careful,
                          float *scratch, void *cand);
/* RTN's whole-tensor quantizer, for the methods that only move scales. */
mvq_status mvq_rtn_quantize(mvq_method_tensor *t, mvq_pool *pool, mvq_error *err);

#endif
