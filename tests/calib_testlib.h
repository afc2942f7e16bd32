/* Helpers of the calibration and massive-value tests: fixture models and
 * text (skipping, saying so, when absent), temporary folders. */
#ifndef MVQ_TEST_CALIB_TESTLIB_H
#define MVQ_TEST_CALIB_TESTLIB_H

#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>

#include "tests/fixtures.h"
#include "quant/calib/calib_internal.h" /* the tests read the raw sums */

/* Opens fixtures/models/NAME.gguf or skips the test. */
static inline mvq_model *fixture_model(const char *name)
{
    char rel[128], buf[1024];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    const char *path = mvq_fixture(rel, buf, sizeof buf);
    if (!path)
        cr_skip_test("fixture %s absent (set MVQ_FIXTURES / configure --with-fixtures)", rel);
    mvq_error err;
    cr_assert_eq(mvq_isa_init(&err), MVQ_OK, "%s", err.msg);
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

/* The first max tokens of the calibration text (BOS first), or skips. */
static inline int32_t *fixture_calib_tokens(const mvq_model *m, int64_t max, int64_t *n)
{
    char buf[1024];
    const char *path = mvq_fixture("text/tinystories-calib.txt", buf, sizeof buf);
    if (!path)
        cr_skip_test("fixture text/tinystories-calib.txt absent");
    int32_t *tokens = NULL;
    mvq_error err;
    cr_assert_eq(mvq_calib_text_tokens(m, path, max, &tokens, n, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(*n, max, "the calibration text has %lld tokens", (long long)*n);
    return tokens;
}

/* Statistics of the first max tokens of the calibration text, in windows of n_ctx. */
static inline mvq_calib *fixture_calibrated(const mvq_model *m, int64_t max, int64_t n_ctx)
{
    int64_t n;
    int32_t *tokens = fixture_calib_tokens(m, max, &n);
    mvq_error err;
    mvq_calib *c = mvq_calib_new(&m->hp, &err);
    cr_assert_not_null(c, "%s", err.msg);
    mvq_calib_opts opts = {.n_ctx = n_ctx, .bos = 1};
    cr_assert_eq(mvq_calib_run(c, m, tokens, n, &opts, NULL, &err), MVQ_OK, "%s", err.msg);
    free(tokens);
    return c;
}

/* A fresh folder under /tmp (caller frees the string, remove_tree removes it). */
static inline char *temp_dir(const char *what)
{
    char *dir = malloc(64);
    snprintf(dir, 64, "/tmp/mvq-%s-XXXXXX", what);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static inline void remove_tree(char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
    free(dir);
}

#endif
