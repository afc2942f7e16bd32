/* mvquant copy IN OUT [--hashes] [--split-max-tensors N]: rewrite a GGUF
 * file through the streaming writer (metadata and tensors unchanged, layout
 * normalised to llama.cpp's rules), optionally recording each tensor's
 * hash; split sets merged, or a file split, as llama.cpp's gguf-split does. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>

static void copy_usage(void)
{
    printf("Usage: mvquant copy IN OUT [--hashes] [--split-max-tensors N]\n"
           "\n"
           "Rewrites IN to OUT through mvquant's streaming writer: same metadata and\n"
           "tensor data, offsets laid out as llama.cpp expects.  OUT is written to a\n"
           "temporary file beside it and renamed into place when complete; OUT may\n"
           "not be IN (also through a link).\n"
           "\n"
           "IN may be the first part of a split model (PREFIX-00001-of-0000N.gguf): the\n"
           "parts are merged into OUT (as gguf-split --merge).\n"
           "\n"
           "  --hashes     record each tensor's XXH3-64 under mvquant.tensor_hashes\n"
           "               (check later with 'mvquant verify OUT')\n"
           "  --split-max-tensors N\n"
           "               write a split model instead, OUT-00001-of-0000K.gguf ...,\n"
           "               at most N tensors per part, the metadata in the first (as\n"
           "               gguf-split --split-max-tensors); a trailing .gguf of OUT is\n"
           "               dropped\n");
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress((const char *)ctx, done, total);
}

int cmd_copy(int argc, char **argv)
{
    static const struct option opts[] = {{"hashes", no_argument, NULL, 'H'},
                                         {"split-max-tensors", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    bool hashes = false;
    long max_tensors = 0;
    int c;
    while ((c = cli_getopt("copy", argc, argv, "h", opts)) != -1) {
        switch (c) {
        case 'H': hashes = true; break;
        case 'S':
            if (!cli_parse_long(cli_optarg, 1, 65535, &max_tensors))
                return cli_usage_error("copy", "--split-max-tensors: '%s' is not a number from 1 to 65535", cli_optarg);
            break;
        case 'h': copy_usage(); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (argc - cli_optind != 2)
        return cli_usage_error("copy", "expected IN and OUT, got %d arguments", argc - cli_optind);
    const char *in = argv[cli_optind], *out = argv[cli_optind + 1];
    mvq_error err;
    char prefix[4096];
    if (max_tensors)
        out = cli_split_prefix(out, prefix, sizeof prefix);
    mvq_status st = max_tensors ? mvq_gguf_split_copy(in, out, max_tensors, hashes, show_progress, "copying", &err)
                                : mvq_gguf_copy(in, out, hashes, show_progress, "copying", &err);
    cli_progress_done();
    if (st != MVQ_OK)
        return cli_fail(&err);
    cli_info(2, "%s%s: written%s", out, max_tensors ? "-*.gguf" : "", hashes ? ", tensor hashes recorded" : "");
    return CLI_EXIT_OK;
}
