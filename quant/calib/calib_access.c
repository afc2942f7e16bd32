/* Reading the opaque statistics: what the methods, the plan and the CLI
 * see of a mvq_calib. */
#include "config.h"
#include "quant/calib/calib_internal.h"

const mvq_hparams *mvq_calib_hparams(const mvq_calib *c)
{
    return &c->hp;
}

int64_t mvq_calib_n_tokens(const mvq_calib *c)
{
    return c->n_tokens;
}

uint64_t mvq_calib_tokens_hash(const mvq_calib *c)
{
    return c->tokens_hash;
}

int64_t mvq_calib_input_dim(const mvq_calib *c, mvq_calib_input input)
{
    return (unsigned)input < MVQ_CALIB_INPUT_COUNT ? c->dim[input] : 0;
}

int64_t mvq_calib_heads(const mvq_calib *c, mvq_calib_qkv which)
{
    return (unsigned)which < 3 ? c->qkv_heads[which] : 0;
}

bool mvq_calib_column_stat(const mvq_calib *c, mvq_calib_input input, int64_t layer, mvq_calib_stat stat,
                           float *out)
{
    if ((unsigned)input >= MVQ_CALIB_INPUT_COUNT || c->n_tokens <= 0 || layer < 0 ||
        layer >= mvq_calib_input_layers(c, input))
        return false;
    const int64_t n = c->dim[input];
    const double tokens = (double)c->n_tokens;
    bool any = false;
    for (int64_t j = 0; j < n; j++) {
        const int64_t at = layer * n + j;
        switch (stat) {
        case MVQ_CALIB_MEAN_SQ:
            out[j] = (float)(c->sum_sq[input][at] / tokens);
            break;
        case MVQ_CALIB_MEAN_ABS:
            out[j] = (float)(c->sum_abs[input][at] / tokens);
            break;
        case MVQ_CALIB_MAX_ABS:
            out[j] = c->max_abs[input][at];
            break;
        default:
            return false;
        }
        any |= out[j] != 0.0f;
    }
    return any; /* all zero: an imported matrix has only the importance */
}
