/* An output path checked before the long work: the writer's own checks,
 * run now, and a temporary file created and removed beside it. */
#include "config.h"
#include "quant/gguf/gguf_tmpfile.h"

#include <mvquant/gguf.h>

mvq_status mvq_gguf_output_check(const char *dst, const char *const *inputs, mvq_error *err)
{
    mvq_tmpfile t;
    mvq_status st = mvq_tmpfile_open(&t, dst, inputs, err);
    if (st == MVQ_OK)
        mvq_tmpfile_discard(&t);
    return st;
}
