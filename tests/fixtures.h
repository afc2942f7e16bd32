/* Where the shared fixtures are: $MVQ_FIXTURES, set by `make check` from
 * ./configure --with-fixtures=DIR (default ../shared/fixtures). */
#ifndef MVQ_TEST_FIXTURES_H
#define MVQ_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
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

#endif
