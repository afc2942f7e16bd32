/* Messages, exit codes, option parsing and progress for the CLI. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>
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

void cli_progress(const char *what, uint64_t done, uint64_t total)
{
    if (cli_verbosity < 1 || !isatty(STDERR_FILENO))
        return;
    unsigned pct = total ? (unsigned)(done * 100.0 / (double)total) : 100;
    fprintf(stderr, "\r%s %3u%%", what, pct);
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
