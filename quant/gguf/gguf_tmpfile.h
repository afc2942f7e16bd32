/* Internal: the writer's output file.  It is created as a temporary file
 * beside the destination, registered so a signal handler can remove it,
 * and renamed into place only when complete. */
#ifndef MVQ_GGUF_TMPFILE_H
#define MVQ_GGUF_TMPFILE_H

#include <mvquant/common.h>
#include <sys/types.h>

typedef struct mvq_tmpfile {
    int fd;
    int slot;  /* in the signal registry; -1 when none */
    char *dst; /* as the caller gave it, for messages */
    char *tmp;
    mode_t mode;
} mvq_tmpfile;

/* Refuses a dst that is a directory, not a regular file, not writable, or
 * the same file as one of inputs (NULL-terminated, may be NULL). */
mvq_status mvq_tmpfile_open(mvq_tmpfile *t, const char *dst, const char *const *inputs, mvq_error *err);
mvq_status mvq_tmpfile_write(mvq_tmpfile *t, const void *data, size_t size, mvq_error *err);
mvq_status mvq_tmpfile_pwrite(mvq_tmpfile *t, const void *data, size_t size, uint64_t offset, mvq_error *err);
/* fsync, close, rename onto dst; on failure the temporary file is removed.
 * Frees t's strings in every case. */
mvq_status mvq_tmpfile_commit(mvq_tmpfile *t, mvq_error *err);
/* Removes the temporary file and frees t's strings. */
void mvq_tmpfile_discard(mvq_tmpfile *t);

#endif
