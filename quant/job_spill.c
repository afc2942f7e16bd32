/* The bytes the layer-by-layer pass has quantized, kept until the writer
 * reaches their tensors (the file's order is not the layers'): in a file
 * beside the output that has no name (O_TMPFILE, else unlinked at once),
 * so a 7B model's few GiB of quantized layers are page cache the kernel
 * may write out, not resident memory, and nothing is left behind. */
#include "config.h"
#include "quant/job_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The folder of dst ("." when it has none) into dir. */
static void folder_of(const char *dst, char *dir, size_t size)
{
    const char *slash = strrchr(dst, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == dst)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - dst), dst);
}

mvq_status mvq_job_spill_open(mvq_job_spill *s, const char *dst, mvq_error *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    folder_of(dst, dir, sizeof dir);
    s->end = 0;
    s->fd = -1;
#ifdef O_TMPFILE
    s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
    if (s->fd < 0) { /* a file system without O_TMPFILE */
        snprintf(path, sizeof path, "%s/.mvquant-layers.XXXXXX", dir);
        if ((s->fd = mkstemp(path)) >= 0)
            unlink(path);
    }
    if (s->fd < 0)
        return mvq_error_set(err, MVQ_ERR_IO, "%s: cannot create a temporary file for the quantized layers: %s", dir,
                             strerror(errno));
    return MVQ_OK;
}

mvq_status mvq_job_spill_put(mvq_job_spill *s, const void *data, size_t size, uint64_t *offset, mvq_error *err)
{
    *offset = s->end;
    for (size_t done = 0; done < size;) {
        const ssize_t n = pwrite(s->fd, (const char *)data + done, size - done, (off_t)(s->end + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mvq_error_set(err, MVQ_ERR_IO, "writing the quantized layers to a temporary file: %s",
                                 n < 0 ? strerror(errno) : "no space");
        done += (size_t)n;
    }
    s->end += size;
    return MVQ_OK;
}

mvq_status mvq_job_spill_get(const mvq_job_spill *s, uint64_t offset, void *data, size_t size, mvq_error *err)
{
    for (size_t done = 0; done < size;) {
        const ssize_t n = pread(s->fd, (char *)data + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mvq_error_set(err, MVQ_ERR_IO, "reading the quantized layers back: %s",
                                 n < 0 ? strerror(errno) : "file shorter than written");
        done += (size_t)n;
    }
    /* read once: its pages are not needed again */
    posix_fadvise(s->fd, (off_t)offset, (off_t)size, POSIX_FADV_DONTNEED);
    return MVQ_OK;
}

void mvq_job_spill_close(mvq_job_spill *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}
