/* Where the shared fixtures are: $MVQ_FIXTURES, set by `make check` from
 * ./configure --with-fixtures=DIR (default ../shared/fixtures). */
#ifndef MVQ_TEST_FIXTURES_H
#define MVQ_TEST_FIXTURES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Full path of a file under the fixtures folder in buf, or NULL when the
 * fixtures or that file are absent (the caller skips, saying so). */
static inline const char *mvq_fixture(const char *rel, char *buf, size_t size)
{
    const char *dir = getenv("MVQ_FIXTURES");
    if (!dir || !*dir)
        return NULL;
    snprintf(buf, size, "%s/%s", dir, rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Whether the fixture-scale tests (whole-file perplexity, the quality gates:
 * minutes each) are to skip: MVQ_TEST_HEAVY=no, as CI's sanitizer stage sets
 * it, since the native stage runs them once and they reach no code that the
 * smaller tests leave out. */
static inline bool mvq_heavy_tests_off(void)
{
    const char *v = getenv("MVQ_TEST_HEAVY");
    return v && strcmp(v, "no") == 0;
}
#define MVQ_HEAVY_SKIP_MSG "fixture-scale test: skipped with MVQ_TEST_HEAVY=no (it runs in the native stage)"

#endif
