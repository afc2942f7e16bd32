/* Messages, exit codes, option parsing and progress for the CLI. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include <mvquant/calib.h>
#include <mvquant/tokenizer.h>

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_verbosity = 1;
char *cli_optarg;
int cli_optind;

static void vprint(const char *prefix, const char *fmt, va_list ap)
{
    fflush(stdout);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint("mvquant: ", fmt, ap);
    va_end(ap);
}

void cli_info(int level, const char *fmt, ...)
{
    if (cli_verbosity < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprint("", fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mvquant%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'mvquant%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int cli_exit_code(mvq_status st)
{
    return st == MVQ_OK ? CLI_EXIT_OK : st == MVQ_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int cli_fail(const mvq_error *err)
{
    cli_error("%s", err->msg);
    return cli_exit_code(err->status == MVQ_OK ? MVQ_ERR_IO : err->status);
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    if (cli_optind == 0) {
        optind = 0; /* GNU getopt: full reinitialisation */
        opterr = 0;
    }
    char spec[64];
    snprintf(spec, sizeof spec, ":%s", shortopts); /* ':' reports a missing argument apart */
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    cli_optarg = optarg;
    cli_optind = optind;
    if (c == '?' || c == ':') {
        const char *arg = argv[optind - 1];
        if (c == ':')
            cli_usage_error(cmd, "option '%s' needs a value", arg);
        else if (optopt && strncmp(arg, "--", 2) != 0)
            cli_usage_error(cmd, "unknown option '-%c'", optopt);
        else
            cli_usage_error(cmd, "unknown option '%s'", arg);
        return '?';
    }
    return c;
}

static bool progress_shown;
static char progress_what[32];
static struct timespec progress_t0;

static bool progress_wanted(void)
{
    return cli_verbosity >= 1 && isatty(STDERR_FILENO);
}

/* ", 1:05 left" from the time since this phase began, once 1% is done. */
static void time_left(char *buf, size_t size, const char *what, uint64_t done, uint64_t total)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!progress_shown || strncmp(progress_what, what, sizeof progress_what - 1) != 0) {
        snprintf(progress_what, sizeof progress_what, "%s", what);
        progress_t0 = now;
    }
    double elapsed = (double)(now.tv_sec - progress_t0.tv_sec) + (double)(now.tv_nsec - progress_t0.tv_nsec) * 1e-9;
    buf[0] = '\0';
    if (total && done && done < total && done * 100 >= total && elapsed > 0.5) {
        long left = (long)(elapsed * (double)(total - done) / (double)done + 0.5);
        snprintf(buf, size, ", %ld:%02ld left", left / 60, left % 60);
    }
}

void cli_progress(const char *what, uint64_t done, uint64_t total)
{
    if (!progress_wanted())
        return;
    char left[48];
    time_left(left, sizeof left, what, done, total);
    unsigned pct = total ? (unsigned)(done * 100.0 / (double)total) : 100;
    fprintf(stderr, "\r\033[K%s %3u%%%s", what, pct, left);
    fflush(stderr);
    progress_shown = true;
}

void cli_progress_item(const char *what, uint64_t i, uint64_t n, const char *name, const char *type)
{
    if (!progress_wanted())
        return;
    char left[48];
    time_left(left, sizeof left, what, i, n);
    size_t len = strlen(name);
    fprintf(stderr, "\r\033[K%s %llu/%llu ", what, (unsigned long long)i, (unsigned long long)n);
    cli_print_name(stderr, name, len > 40 ? 40 : len, 0);
    fprintf(stderr, " %s%s", type, left);
    fflush(stderr);
    progress_shown = true;
}

void cli_progress_done(void)
{
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress_shown = false;
    }
}

void cli_print_name(FILE *f, const char *s, size_t n, int width)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    for (size_t i = n; (int)i < width; i++)
        fputc(' ', f);
}

bool cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

const char *cli_plural(long long n)
{
    return n == 1 ? "" : "s";
}

const char *cli_split_prefix(const char *path, char *buf, size_t size)
{
    size_t n = strlen(path);
    if (n <= 5 || strcmp(path + n - 5, ".gguf") != 0 || n - 5 >= size)
        return path;
    memcpy(buf, path, n - 5);
    buf[n - 5] = '\0';
    return buf;
}

int cli_check_output(const char *path, const char *const *inputs)
{
    mvq_error err;
    mvq_error_clear(&err);
    if (mvq_gguf_output_check(path, inputs, &err) == MVQ_OK)
        return CLI_EXIT_OK;
    return cli_fail(&err);
}

/* Length of the UTF-8 sequence at p (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : p[0] >= 0xe0 && p[0] < 0xf0 ? 3
               : p[0] >= 0xf0 && p[0] < 0xf5 ? 4 : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

int cli_check_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    unsigned char buf[65536 + 4];
    size_t keep = 0, n;
    uint64_t at = 0;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (n = fread(buf + keep, 1, sizeof buf - 4 - keep, f)) > 0) {
        n += keep;
        size_t i = 0;
        while (i < n) {
            size_t len = buf[i] ? utf8_len(buf + i, n - i) : 0;
            if (!len && buf[i] && n - i < 4 && !feof(f))
                break; /* a sequence cut by the buffer: read on */
            if (!len) {
                cli_error("%s: not a text file (%s at byte %llu)", path, buf[i] ? "invalid UTF-8" : "a NUL byte",
                          (unsigned long long)(at + i));
                rc = CLI_EXIT_FAIL;
                break;
            }
            i += len;
        }
        keep = n - i;
        memmove(buf, buf + i, keep);
        at += i;
    }
    if (rc == CLI_EXIT_OK && keep) {
        cli_error("%s: not a text file (invalid UTF-8 at byte %llu)", path, (unsigned long long)at);
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_EXIT_OK && ferror(f)) {
        cli_error("%s: read error", path);
        rc = CLI_EXIT_FAIL;
    }
    fclose(f);
    return rc;
}

void cli_warn_ctx(long long n_ctx, const mvq_hparams *hp)
{
    if (hp->n_ctx_train > 0 && n_ctx > hp->n_ctx_train)
        cli_info(1, "mvquant: warning: --ctx %lld is beyond the model's training context (%s.context_length = %lld)",
                 n_ctx, mvq_arch_name(hp->arch), (long long)hp->n_ctx_train);
}

mvq_status cli_tokenize_text(const mvq_model *m, const char *path, int32_t **tokens, int64_t *n_tokens,
                             int32_t *bos, mvq_error *err)
{
    mvq_tokenizer *tok = mvq_tokenizer_from_gguf(m->gguf, err);
    if (!tok)
        return err->status;
    *bos = mvq_tokenizer_wants_bos(tok) && mvq_tokenizer_bos(tok) >= 0 ? mvq_tokenizer_bos(tok) : -1;
    mvq_tokenizer_free(tok);
    return mvq_calib_text_tokens(m, path, 0, tokens, n_tokens, err);
}
