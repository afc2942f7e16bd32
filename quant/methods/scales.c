/* What the methods that fold per-column scales into the model share
 * (SmoothQuant, AWQ): their options, and a linear's rows as f32. */
#include "config.h"
#include "quant/methods/scales_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mvq_status mvq_scale_opts_parse(const char *method, const char *const *opts, const mvq_scale_opt *spec, int n_spec,
                                mvq_error *err)
{
    for (; opts && *opts; opts++) {
        const char *eq = strchr(*opts, '=');
        const size_t klen = eq ? (size_t)(eq - *opts) : strlen(*opts);
        int k = 0;
        while (k < n_spec && !(strlen(spec[k].key) == klen && !strncmp(*opts, spec[k].key, klen)))
            k++;
        if (k == n_spec) {
            char keys[160] = "";
            for (int i = 0; i < n_spec; i++)
                snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", i ? ", " : "", spec[i].key);
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: unknown option '%.40s' (%s)", method, *opts, keys);
        }
        char *end;
        errno = 0;
        double x = eq ? strtod(eq + 1, &end) : 0;
        if (!eq || errno || end == eq + 1 || *end || !(x >= spec[k].lo && x <= spec[k].hi))
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: bad value in '%.60s' (%g to %g)", method, *opts, spec[k].lo,
                                 spec[k].hi);
        *spec[k].value = x;
    }
    return MVQ_OK;
}

float *mvq_weight_f32(const mvq_weight *w, mvq_error *err)
{
    float *rows = w->data ? malloc(sizeof *rows * (size_t)(w->n_in * w->n_out)) : NULL;
    if (!rows) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory reading its rows as f32", w->name ? w->name : "?");
        return NULL;
    }
    const size_t row = mvq_row_size(w->type, w->n_in);
    for (int64_t r = 0; r < w->n_out; r++)
        mvq_dequantize_row(w->type, (const char *)w->data + (size_t)r * row, rows + r * w->n_in, w->n_in);
    return rows;
}

int mvq_scale_group_linears(mvq_calib_input input, mvq_linear out[3])
{
    switch (input) {
    case MVQ_CALIB_ATTN_IN: out[0] = MVQ_LINEAR_Q, out[1] = MVQ_LINEAR_K, out[2] = MVQ_LINEAR_V; return 3;
    case MVQ_CALIB_ATTN_OUT: out[0] = MVQ_LINEAR_O; return 1;
    case MVQ_CALIB_FFN_IN: out[0] = MVQ_LINEAR_GATE, out[1] = MVQ_LINEAR_UP; return 2;
    case MVQ_CALIB_FFN_DOWN_IN: out[0] = MVQ_LINEAR_DOWN; return 1;
    default: return 0;
    }
}
