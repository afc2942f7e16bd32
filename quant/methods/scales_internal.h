/* Internal to quant/methods/: the pieces SmoothQuant and AWQ share. */
#ifndef MVQ_SCALES_INTERNAL_H
#define MVQ_SCALES_INTERNAL_H

#include "quant/methods/methods_internal.h"

/* One numeric "key=value" method option, from lo to hi. */
typedef struct mvq_scale_opt {
    const char *key;
    double lo, hi;
    double *value; /* holds the default; receives the value given */
} mvq_scale_opt;

/* Parses opts against spec: unknown keys and bad values are errors naming the method. */
mvq_status mvq_scale_opts_parse(const char *method, const char *const *opts, const mvq_scale_opt *spec, int n_spec,
                                mvq_error *err);
/* The rows of w as f32 (n_out rows of n_in, malloc'd), NULL when out of memory. */
float *mvq_weight_f32(const mvq_weight *w, mvq_error *err);
/* The linears an input of a layer feeds (up to 3). */
int mvq_scale_group_linears(mvq_calib_input input, mvq_linear out[3]);

#endif
