/* A downstream program, built against the *installed* library the way an
 * engine would (`pkg-config --cflags --libs mvquant`), by `make installcheck`
 * (tests/install.mk).  Not part of the normal build.  Uses only the public
 * API and prints one line per check; exits non-zero on any failure. */
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
    return failures ? 1 : 0;
}
