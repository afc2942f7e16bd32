/* Names of the observation taps and which linear layers they feed. */
#include "config.h"
#include <mvquant/model.h>

static const char *const tap_names[MVQ_TAP_COUNT] = {
    "residual", "attn_in", "q_pre_rope", "k_pre_rope", "q", "k",
    "v",        "attn_out", "ffn_in",    "ffn_down_in", "output_in",
};

const char *mvq_tap_name(mvq_tap tap)
{
    return (unsigned)tap < MVQ_TAP_COUNT ? tap_names[tap] : "?";
}

int mvq_tap_linears(mvq_tap tap, mvq_linear out[3])
{
    switch (tap) {
    case MVQ_TAP_ATTN_IN:
        out[0] = MVQ_LINEAR_Q;
        out[1] = MVQ_LINEAR_K;
        out[2] = MVQ_LINEAR_V;
        return 3;
    case MVQ_TAP_ATTN_OUT:
        out[0] = MVQ_LINEAR_O;
        return 1;
    case MVQ_TAP_FFN_IN:
        out[0] = MVQ_LINEAR_GATE;
        out[1] = MVQ_LINEAR_UP;
        return 2;
    case MVQ_TAP_FFN_DOWN_IN:
        out[0] = MVQ_LINEAR_DOWN;
        return 1;
    default:
        return 0;
    }
}

mvq_tap mvq_linear_input_tap(mvq_linear which)
{
    switch (which) {
    case MVQ_LINEAR_Q:
    case MVQ_LINEAR_K:
    case MVQ_LINEAR_V:
        return MVQ_TAP_ATTN_IN;
    case MVQ_LINEAR_O:
        return MVQ_TAP_ATTN_OUT;
    case MVQ_LINEAR_GATE:
    case MVQ_LINEAR_UP:
        return MVQ_TAP_FFN_IN;
    default:
        return MVQ_TAP_FFN_DOWN_IN;
    }
}
