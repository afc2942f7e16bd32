/* Replays the fuzzers' regression inputs (tests/fuzz-regressions/HARNESS/)
 * through the same entry points, without libFuzzer, on every `make check`.
 * A broken invariant aborts (the log names the file being replayed); a
 * clean pass prints one TAP line per file. */
#include "config.h"
#include "tests/fuzz/fuzz.h"
#include "tests/tap.h"

#include <dirent.h>
#include <string.h>

typedef struct harness {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} harness;

static const harness harnesses[] = {
    {"gguf", mvq_fuzz_gguf},
    {"tokenizer", mvq_fuzz_tokenizer},
    {"dequant", mvq_fuzz_dequant},
};

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap = cap ? 2 * cap : 4096);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *size = n;
    return buf;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

static void replay_dir(const harness *h, const char *srcdir)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/fuzz-regressions/%s", srcdir, h->name);
    struct dirent **files;
    int n = scandir(dir, &files, not_hidden, by_name);
    if (n < 0) {
        tap_ok(0, "%s: cannot list %s", h->name, dir);
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[8192];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]->d_name);
        printf("# replaying %s\n", path);
        fflush(stdout);
        uint8_t *data = read_file(path, &size);
        if (data) {
            /* an exact-size copy, as libFuzzer passes it */
            uint8_t *exact = malloc(size ? size : 1);
            memcpy(exact, data, size);
            h->run(exact, size);
            free(exact);
        }
        tap_ok(data != NULL, "%s: %s", h->name, files[i]->d_name);
        free(data);
        free(files[i]);
    }
    free(files);
    h->run(NULL, 0); /* the empty input, as libFuzzer tries first */
    tap_ok(1, "%s: empty input", h->name);
}

int main(void)
{
    const char *srcdir = getenv("MVQ_SRCDIR");
    for (size_t i = 0; i < sizeof harnesses / sizeof harnesses[0]; i++)
        replay_dir(&harnesses[i], srcdir && *srcdir ? srcdir : ".");
    return tap_done();
}
