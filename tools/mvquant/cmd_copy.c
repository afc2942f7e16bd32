/* mvquant copy IN OUT [--hashes]: rewrite a GGUF file through the
 * streaming writer (metadata and tensors unchanged, layout normalised to
 * llama.cpp's rules), optionally recording each tensor's hash. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>

static void copy_usage(void)
{
    printf("Usage: mvquant copy IN OUT [--hashes]\n"
           "\n"
           "Rewrites IN to OUT through mvquant's streaming writer: same metadata and\n"
           "tensor data, offsets laid out as llama.cpp expects.  OUT is written to a\n"
           "temporary file beside it and renamed into place when complete; OUT may\n"
           "not be IN (also through a link).\n"
           "\n"
           "  --hashes  record each tensor's XXH3-64 under mvquant.tensor_hashes\n"
           "            (check later with 'mvquant verify OUT')\n");
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress((const char *)ctx, done, total);
}

int cmd_copy(int argc, char **argv)
{
    static const struct option opts[] = {{"hashes", no_argument, NULL, 'H'}, {"help", no_argument, NULL, 'h'}, {0}};
    bool hashes = false;
    int c;
    while ((c = cli_getopt("copy", argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'H': hashes = true; break;
        case 'h': copy_usage(); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (argc - cli_optind != 2)
        return cli_usage_error("copy", "expected IN and OUT, got %d arguments", argc - cli_optind);
    const char *in = argv[cli_optind], *out = argv[cli_optind + 1];
    mvq_error err;
    mvq_status st = mvq_gguf_copy(in, out, hashes, show_progress, "copying", &err);
    cli_progress_done();
    if (st != MVQ_OK)
        return cli_fail(&err);
    cli_info(2, "%s: written%s", out, hashes ? ", tensor hashes recorded" : "");
    return CLI_EXIT_OK;
}
