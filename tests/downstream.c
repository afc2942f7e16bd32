/* A downstream program, built against the *installed* library the way an
 * engine would (`pkg-config --cflags --libs mvquant`), by `make installcheck`
 * (tests/install.mk).  Not part of the normal build.  Uses only the public
 * API and prints one line per check; exits non-zero on any failure. */
#include <math.h>
#include <mvquant.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    if (!ok)
        failures++;
}

int main(void)
{
    mvq_error err;
    check(strlen(mvq_version()) > 0, "mvq_version() is set");
    check(mvq_error_set(&err, MVQ_ERR_FORMAT, "x.gguf: %s", "bad") == MVQ_ERR_FORMAT &&
              strcmp(err.msg, "x.gguf: bad") == 0,
          "mvq_error_set fills the message");
    const mvq_type_traits *q8 = mvq_type_traits_get(MVQ_TYPE_Q8_0);
    check(q8 && q8->block_size == 32 && q8->type_size == 34 && mvq_row_size(MVQ_TYPE_Q8_0, 64) == 68,
          "Q8_0 traits: 32 weights in 34 bytes");

    /* a row through the kernels in use: quantize, dequantize, dot */
    float x[64], back[64], dot = 0.0f, want = 0.0f;
    mvq_block_q8_0 q[2];
    for (int i = 0; i < 64; i++)
        x[i] = (float)(i % 13) - 6.0f;
    mvq_quantize_row(MVQ_TYPE_Q8_0, x, q, 64, NULL);
    mvq_dequantize_row(MVQ_TYPE_Q8_0, q, back, 64);
    float worst = 0.0f;
    for (int i = 0; i < 64; i++) {
        worst = fmaxf(worst, fabsf(back[i] - x[i]));
        want += back[i] * back[i];
    }
    check(worst <= 6.0f / 127.0f, "Q8_0 round trip within half a step");
    mvq_vec_dot(MVQ_TYPE_Q8_0, 64, &dot, q, q);
    check(fabsf(dot - want) <= 1e-3f * want, "Q8_0 dot of a row with itself");
    printf("# kernels in use: %s\n", mvq_isa_name(mvq_isa_selected()));
    return failures ? 1 : 0;
}
