/* mvquant: the command-line tool.  main() parses the global options,
 * finds the subcommand in the table below and returns its exit code: the
 * one exit path.  Each subcommand lives in its own cmd_*.c file. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

/* One line per subcommand. */
static const cli_command commands[] = {
    {"inspect", cmd_inspect, "show a GGUF file's header, metadata, tensors and bits per weight"},
    {"verify", cmd_verify, "recompute recorded tensor hashes and check llama.cpp's loader rules"},
    {"copy", cmd_copy, "rewrite a GGUF file through the streaming writer, optionally recording hashes"},
    {"quantize", cmd_quantize, "quantize a model (also: mvquant [OPTIONS] IN.gguf OUT.gguf)"},
    {"perplexity", cmd_perplexity, "perplexity of a model on a text, and KL divergence against a base model"},
    {"synth", cmd_synth, "write a deterministic random Llama model with planted massive values"},
    {"disrupt", cmd_disrupt, "replace the massive Q/K dimensions by their mean and measure the loss"},
    {"massive", cmd_massive, "find the massive dimensions of Q and K per layer and head; SVG heatmaps"},
    {"eval", cmd_eval, "contextual and parametric probes over several models: one table, relative to the first"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mvquant [-v|-q] [--protect-massive | --ignore-massive] [OPTIONS] IN.gguf OUT.gguf\n"
            "       mvquant [-v|-q] [OPTIONS] IN.gguf [OUT.gguf] TYPE [NTHREADS]   (as llama-quantize)\n"
            "       mvquant [-v|-q] COMMAND [ARGS...]\n"
            "       mvquant --help | --version\n"
            "\n"
            "Quantize GGUF language models (bit-compatible with llama.cpp), protecting the\n"
            "massive values of attention queries and keys ('mvquant quantize --help').\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "  %-12s %s\n"
            "\n"
            "Options:\n"
            "  -v, --verbose  more messages on stderr (repeat for more)\n"
            "  -q, --quiet    errors only on stderr\n"
            "  -h, --help     this help ('mvquant COMMAND --help' for a command's options)\n"
            "  -V, --version  version, SIMD kernel sets compiled in and the one selected\n"
            "\n"
            "Exit status:\n"
            "  0  success\n"
            "  1  usage error: unknown command or option, bad option value, an output\n"
            "     that is one of the inputs\n"
            "  2  bad input or I/O error: unreadable or malformed file, text that is not\n"
            "     text or too short, a model that cannot be run or is already quantized,\n"
            "     failed write, failed verification\n",
            "help", "show a command's help: mvquant help COMMAND");
}

static void version(void)
{
    printf("mvquant %s\nSIMD kernels compiled:", mvq_version());
    for (int i = 0; i < MVQ_ISA_COUNT; i++)
        if (mvq_isa_compiled((mvq_isa)i))
            printf(" %s", mvq_isa_name((mvq_isa)i));
    printf("\nSIMD kernels selected: %s\n", mvq_isa_name(mvq_isa_selected()));
}

/* Removes the writers' temporary files, then dies of the same signal. */
static void on_fatal_signal(int sig)
{
    mvq_gguf_writer_cleanup_on_signal();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* a file size limit shows as a failed write (EFBIG), not a kill */
    signal(SIGXFSZ, SIG_IGN);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The main job needs no command word: mvquant [OPTIONS] IN.gguf OUT.gguf */
static bool looks_like_model(const char *arg)
{
    size_t n = strlen(arg);
    return !find_command(arg) && (strchr(arg, '/') || (n > 5 && strcmp(arg + n - 5, ".gguf") == 0));
}

static int run_quantize(int argc, char **argv)
{
    char **args = malloc(sizeof *args * (size_t)(argc + 2));
    if (!args) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    args[0] = "quantize";
    memcpy(args + 1, argv, sizeof *args * (size_t)argc);
    args[argc + 1] = NULL;
    cli_optind = 0;
    int rc = cmd_quantize(argc + 1, args);
    free(args);
    return rc;
}

static int run_command(int argc, char **argv)
{
    if (strcmp(argv[0], "help") == 0) {
        if (argc < 2) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
            printf("Usage: mvquant help [COMMAND]\n"
                   "\n"
                   "Shows mvquant's help, or COMMAND's (as 'mvquant COMMAND --help').\n");
            return CLI_EXIT_OK;
        }
        if (argc > 2)
            return cli_usage_error("help", "expected one COMMAND, got %d", argc - 1);
        char *help_argv[] = {argv[1], "--help", NULL};
        return run_command(2, help_argv);
    }
    const cli_command *cmd = find_command(argv[0]);
    if (!cmd)
        return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
    cli_optind = 0;
    return cmd->run(argc, argv);
}

static int run(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            version();
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--verbose") == 0) {
            cli_verbosity++;
        } else if (strcmp(a, "--quiet") == 0) {
            cli_verbosity = 0;
        } else if (a[1] == 'v' || a[1] == 'q') {
            for (const char *p = a + 1; *p; p++) {
                if (*p != 'v' && *p != 'q')
                    return cli_usage_error(NULL, "unknown option '%s'", a);
                cli_verbosity = *p == 'v' ? cli_verbosity + 1 : 0;
            }
        } else if (strncmp(a, "--", 2) == 0) {
            break; /* the main job's options: mvquant --protect-massive IN OUT */
        } else {
            return cli_usage_error(NULL, "unknown option '%s'", a);
        }
    }
    if (i < argc && (argv[i][0] == '-' || looks_like_model(argv[i])))
        return run_quantize(argc - i, argv + i);
    if (i == argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return run_command(argc - i, argv + i);
}

int main(int argc, char **argv)
{
    install_signal_handlers();
    int rc = run(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("error writing to standard output");
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_FAIL;
    }
    return rc;
}
