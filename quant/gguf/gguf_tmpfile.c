/* The writer's temporary file: created beside the destination (so the
 * final rename stays within one file system), registered for removal from
 * signal handlers, fsynced and renamed into place when complete. */
#include "config.h"
#include "quant/gguf/gguf_tmpfile.h"

#include <mvquant/gguf.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The registry: fixed storage, so the signal handler only reads flags and
 * calls unlink(), both async-signal-safe. */
#define MAX_OPEN_WRITERS 32
static char reg_paths[MAX_OPEN_WRITERS][PATH_MAX];
static volatile sig_atomic_t reg_used[MAX_OPEN_WRITERS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

void mvq_gguf_writer_cleanup_on_signal(void)
{
    for (int i = 0; i < MAX_OPEN_WRITERS; i++)
        if (__atomic_load_n(&reg_used[i], __ATOMIC_ACQUIRE))
            unlink(reg_paths[i]);
}

static void unregister(int slot)
{
    if (slot >= 0)
        __atomic_store_n(&reg_used[slot], 0, __ATOMIC_RELEASE);
}

/* Creates the file from template and registers it, with the usual
 * termination signals blocked so none lands between the two. */
static int create_registered(char *template, int *slot_out)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_mutex_lock(&reg_lock);
    int slot = -1;
    for (int i = 0; i < MAX_OPEN_WRITERS && slot < 0; i++)
        if (!reg_used[i])
            slot = i;
    int fd = -1;
    if (slot < 0) {
        errno = EMFILE;
    } else if ((fd = mkstemp(template)) >= 0) {
        strcpy(reg_paths[slot], template); /* length checked by the caller */
        __atomic_store_n(&reg_used[slot], 1, __ATOMIC_RELEASE);
    }
    int saved = errno;
    pthread_mutex_unlock(&reg_lock);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    *slot_out = fd >= 0 ? slot : -1;
    return fd;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static mvq_status check_destination(const char *dst, const char *const *inputs, mvq_error *err)
{
    struct stat ds;
    if (stat(dst, &ds) != 0) {
        if (errno == ENOENT)
            return MVQ_OK;
        return mvq_error_set(err, MVQ_ERR_IO, "%s: cannot write here: %s", dst, strerror(errno));
    }
    if (S_ISDIR(ds.st_mode))
        return mvq_error_set(err, MVQ_ERR_IO, "%s: is a directory", dst);
    if (!S_ISREG(ds.st_mode))
        return mvq_error_set(err, MVQ_ERR_IO, "%s: not a regular file, refusing to replace it", dst);
    for (size_t i = 0; inputs && inputs[i]; i++) {
        struct stat is;
        if (stat(inputs[i], &is) == 0 && same_file(&ds, &is))
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: is the input file %s, refusing to overwrite it", dst,
                                 inputs[i]);
    }
    if (access(dst, W_OK) != 0)
        return mvq_error_set(err, MVQ_ERR_IO, "%s: not writable: %s", dst, strerror(errno));
    return MVQ_OK;
}

static mode_t default_mode(void)
{
    mode_t mask = umask(022);
    umask(mask);
    return 0666 & ~mask;
}

mvq_status mvq_tmpfile_open(mvq_tmpfile *t, const char *dst, const char *const *inputs, mvq_error *err)
{
    memset(t, 0, sizeof *t);
    t->fd = t->slot = -1;
    if (!dst || !*dst)
        return mvq_error_set(err, MVQ_ERR_ARG, "(output): no file name given");
    mvq_status st = check_destination(dst, inputs, err);
    if (st != MVQ_OK)
        return st;
    const char *slash = strrchr(dst, '/');
    int dir_len = slash ? (int)(slash - dst) : 1; /* "/x": empty, the root */
    const char *dir = slash ? dst : ".", *base = slash ? slash + 1 : dst;
    if (!*base)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: names a directory, not a file", dst);
    size_t len = (size_t)dir_len + strlen(base) + 16;
    t->dst = strdup(dst);
    t->tmp = malloc(len);
    if (!t->dst || !t->tmp) {
        mvq_tmpfile_discard(t);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
    }
    snprintf(t->tmp, len, "%.*s/.%s.tmp-XXXXXX", dir_len, dir, base);
    if (len > PATH_MAX) {
        mvq_tmpfile_discard(t);
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: path too long", dst);
    }
    t->fd = create_registered(t->tmp, &t->slot);
    if (t->fd < 0) {
        int e = errno;
        char dirbuf[PATH_MAX];
        snprintf(dirbuf, sizeof dirbuf, "%.*s", slash ? (dir_len ? dir_len : 1) : 1, slash ? dst : ".");
        mvq_tmpfile_discard(t);
        return mvq_error_set(err, MVQ_ERR_IO, "%s: cannot create a temporary file in %s: %s", dst, dirbuf,
                             strerror(e));
    }
    t->mode = default_mode();
    return MVQ_OK;
}

mvq_status mvq_tmpfile_write(mvq_tmpfile *t, const void *data, size_t size, mvq_error *err)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(t->fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mvq_error_set(err, MVQ_ERR_IO, "%s: write failed: %s", t->dst,
                                 n < 0 ? strerror(errno) : "no progress");
        p += n;
        size -= (size_t)n;
    }
    return MVQ_OK;
}

mvq_status mvq_tmpfile_pwrite(mvq_tmpfile *t, const void *data, size_t size, uint64_t offset, mvq_error *err)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = pwrite(t->fd, p, size, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mvq_error_set(err, MVQ_ERR_IO, "%s: write failed: %s", t->dst,
                                 n < 0 ? strerror(errno) : "no progress");
        p += n;
        size -= (size_t)n;
        offset += (uint64_t)n;
    }
    return MVQ_OK;
}

/* Makes the rename itself durable; failure here is not worth an error. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1,
             slash ? path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

mvq_status mvq_tmpfile_commit(mvq_tmpfile *t, mvq_error *err)
{
    const char *step = NULL;
    if (fchmod(t->fd, t->mode) != 0)
        step = "cannot set permissions";
    else if (fsync(t->fd) != 0)
        step = "cannot sync";
    int fd = t->fd;
    t->fd = -1;
    if (close(fd) != 0 && !step)
        step = "cannot close";
    if (!step && rename(t->tmp, t->dst) != 0)
        step = "cannot rename into place";
    if (step) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: %s: %s", t->dst, step, strerror(errno));
        mvq_tmpfile_discard(t);
        return MVQ_ERR_IO;
    }
    unregister(t->slot);
    sync_parent_dir(t->dst);
    free(t->dst);
    free(t->tmp);
    t->dst = t->tmp = NULL;
    return MVQ_OK;
}

void mvq_tmpfile_discard(mvq_tmpfile *t)
{
    if (t->fd >= 0)
        close(t->fd);
    if (t->slot >= 0)
        unlink(t->tmp);
    unregister(t->slot);
    free(t->dst);
    free(t->tmp);
    t->fd = t->slot = -1;
    t->dst = t->tmp = NULL;
}
