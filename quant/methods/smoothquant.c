/* SmoothQuant (Xiao et al., 2022): per-column migration of the activation
 * range into the weights, s_j = max|X_j|^alpha / max|W_j|^(1 - alpha),
 * folded into attn_norm -> attn_q/k/v and ffn_norm -> ffn_gate/up (not
 * attn_output or ffn_down, as the reference), then RTN.  Weight-only here;
 * the scales are public for a pass that also quantizes activations.
 * Options: alpha (default 0.85 for llama and mistral, the reference's
 * choice for Llama-2/3; 0.5 elsewhere). */
#include "config.h"
#include "quant/methods/scales_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double mvq_smoothquant_default_alpha(const mvq_hparams *hp)
{
    return hp->arch == MVQ_ARCH_LLAMA || hp->arch == MVQ_ARCH_MISTRAL ? 0.85 : 0.5;
}

/* One group: the largest |W[:, j]| over its linears, then the scales. */
static mvq_status group_scales(const mvq_model *m, const mvq_calib *c, double alpha, int64_t layer,
                               mvq_calib_input input, mvq_transform_list *out, mvq_error *err)
{
    mvq_linear lin[3];
    const int n_lin = mvq_scale_group_linears(input, lin);
    const int64_t n = mvq_calib_input_dim(c, input);
    float *w_max = calloc((size_t)n, sizeof *w_max), *x_max = malloc(sizeof *x_max * (size_t)n);
    if (!w_max || !x_max) {
        free(w_max);
        free(x_max);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "smoothquant: out of memory");
    }
    if (!mvq_calib_column_stat(c, input, layer, MVQ_CALIB_MAX_ABS, x_max))
        memset(x_max, 0, sizeof *x_max * (size_t)n); /* none: no migration */
    for (int k = 0; k < n_lin; k++) {
        const mvq_weight *w = &m->layers[layer].linear[lin[k]];
        if (w->n_in != n) {
            free(w_max);
            free(x_max);
            return mvq_error_set(err, MVQ_ERR_FORMAT, "smoothquant: %s has %lld columns, its input %lld",
                                 w->name ? w->name : "?", (long long)w->n_in, (long long)n);
        }
        float *rows = mvq_weight_f32(w, err);
        if (!rows) {
            free(w_max);
            free(x_max);
            return MVQ_ERR_NOMEM;
        }
        for (int64_t r = 0; r < w->n_out; r++)
            for (int64_t j = 0; j < n; j++)
                w_max[j] = fmaxf(w_max[j], fabsf(rows[r * n + j]));
        free(rows);
    }
    mvq_transform *t = mvq_transform_add(out, layer, input, n);
    if (!t) {
        free(w_max);
        free(x_max);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "smoothquant: out of memory");
    }
    mvq_status st = mvq_smoothquant_scales(x_max, w_max, n, alpha, t->scale, err);
    free(w_max);
    free(x_max);
    return st;
}

mvq_status mvq_smoothquant_scales(const float *x_max, const float *w_max, int64_t n, double alpha, float *scale,
                                  mvq_error *err)
{
    if (!(alpha >= 0 && alpha <= 1))
        return mvq_error_set(err, MVQ_ERR_ARG, "smoothquant: alpha %g is not from 0 to 1", alpha);
    bool seen = false;
    for (int64_t j = 0; j < n; j++)
        seen |= x_max[j] > 0;
    for (int64_t j = 0; j < n; j++) {
        /* no activation statistics (an imported importance matrix): no migration */
        double s = seen ? pow(x_max[j], alpha) / pow(fmax(w_max[j], 1e-5), 1 - alpha) : 1.0;
        scale[j] = (float)fmax(s, 1e-5);
    }
    return MVQ_OK;
}

mvq_status mvq_smoothquant_transforms(const mvq_model *m, const mvq_calib *c, double alpha, mvq_transform_list *out,
                                      mvq_error *err)
{
    static const mvq_calib_input inputs[] = { MVQ_CALIB_ATTN_IN, MVQ_CALIB_FFN_IN };
    for (int64_t l = 0; l < m->hp.n_layer; l++)
        for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
            mvq_status st = group_scales(m, c, alpha, l, inputs[k], out, err);
            if (st != MVQ_OK)
                return st;
        }
    return MVQ_OK;
}

static mvq_status smooth_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    mvq_model *m = mvq_model_from_gguf(ctx->in, err);
    if (!m)
        return err ? err->status : MVQ_ERR_FORMAT;
    double alpha = mvq_smoothquant_default_alpha(&m->hp);
    const mvq_scale_opt spec[] = { { "alpha", 0, 1, &alpha } };
    mvq_status st = mvq_scale_opts_parse("smoothquant", ctx->opts ? ctx->opts->method_opts : NULL, spec, 1, err);
    if (st == MVQ_OK)
        st = mvq_smoothquant_transforms(m, ctx->calib, alpha, out, err);
    mvq_model_free(m);
    return st;
}

const mvq_method mvq_method_smoothquant = {
    .name = "smoothquant",
    .about = "SmoothQuant's per-column scales (--smooth-alpha) folded into the norms, then rtn",
    .needs = MVQ_NEED_IMPORTANCE | MVQ_NEED_MAX_ABS,
    .prepare = smooth_prepare,
    .quantize = mvq_rtn_quantize,
};
