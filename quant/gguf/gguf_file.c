/* A whole file written as the GGUF writer writes one: into a temporary
 * file beside the destination (removed on a signal), fsynced and renamed
 * into place, so a reader never sees half of it.  For the figures and
 * reports the CLI writes. */
#include "config.h"
#include "quant/gguf/gguf_tmpfile.h"

#include <mvquant/gguf.h>

mvq_status mvq_write_file(const char *path, const void *data, size_t size, const char *const *inputs,
                          mvq_error *err)
{
    mvq_tmpfile t;
    mvq_status st = mvq_tmpfile_open(&t, path, inputs, err);
    if (st != MVQ_OK)
        return st;
    if ((st = mvq_tmpfile_write(&t, data, size, err)) != MVQ_OK) {
        mvq_tmpfile_discard(&t);
        return st;
    }
    return mvq_tmpfile_commit(&t, err);
}
