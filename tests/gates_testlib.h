/* What the main job's tests share (test_gates.c, test_pin.c): the
 * calibration test_gates.c judges with, and the CLI's default options. */
#ifndef MVQ_TEST_GATES_TESTLIB_H
#define MVQ_TEST_GATES_TESTLIB_H

#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdlib.h>

/* 16384 tokens of the calibration text in sequences of 256, no cache;
 * also saved to stats_out when not NULL. */
static inline mvq_calib *gates_calibrate(mvq_model *m, const char *calib_text, const char *stats_out,
                                         mvq_pool *pool)
{
    mvq_error err;
    int32_t *tokens;
    int64_t n_tokens;
    cr_assert_eq(mvq_calib_text_tokens(m, calib_text, 16384, &tokens, &n_tokens, &err), MVQ_OK, "%s", err.msg);
    mvq_calib_request req;
    mvq_calib_request_default(&req);
    req.tokens = tokens;
    req.n_tokens = n_tokens;
    req.n_ctx = 256;
    req.no_cache = true;
    req.stats_out = stats_out;
    mvq_calib_info info;
    mvq_calib *c = mvq_calib_obtain(m, &req, pool, &info, &err);
    cr_assert_not_null(c, "%s", err.msg);
    free(tokens);
    return c;
}

/* The CLI's defaults for a preset, with statistics. */
static inline mvq_quantize_opts gates_opts(const char *preset, bool protect, const mvq_calib *calib, mvq_pool *pool)
{
    const mvq_preset *p = mvq_preset_find(preset);
    cr_assert_not_null(p, "preset %s", preset);
    mvq_quantize_opts o = {
        .plan = { .ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1,
                  .has_imatrix = true },
        .protect_massive = protect,
        .massive_type = MVQ_TYPE_Q8_0,
        .massive = { .lambda = 5.0, .topk = 1 },
        .calib = calib,
        .pool = pool,
    };
    return o;
}

#endif
