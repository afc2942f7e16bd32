/* mvquant verify FILE: recompute the tensor hashes the writer recorded and
 * check llama.cpp's loader rules; exit 2 on any problem. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>
#include <inttypes.h>

static void verify_usage(void)
{
    printf("Usage: mvquant verify FILE\n"
           "\n"
           "Recomputes the XXH3-64 of every tensor recorded under mvquant.tensor_hashes\n"
           "(see 'mvquant copy --hashes') and checks llama.cpp's loader rules: offsets\n"
           "are the running sum of padded sizes, names at most 63 bytes and unique,\n"
           "ne[0] divisible by the block size.  Exit status 2 on any mismatch.\n");
}

static void report_mismatch(void *ctx, const mvq_gguf_tensor *t, uint64_t recorded, uint64_t actual)
{
    fprintf(stderr, "mvquant: %s: tensor '", (const char *)ctx);
    cli_print_name(stderr, t->name.data, (size_t)t->name.len, 0);
    fprintf(stderr, "': hash mismatch (recorded %016" PRIx64 ", data %016" PRIx64 ")\n", recorded, actual);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    while ((c = cli_getopt("verify", argc, argv, "h", opts)) != -1) {
        if (c == 'h') {
            verify_usage();
            return CLI_EXIT_OK;
        }
        return CLI_EXIT_USAGE;
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("verify", "expected one FILE, got %d", argc - cli_optind);
    const char *path = argv[cli_optind];
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(path, &err);
    if (!g)
        return cli_fail(&err);
    int rc = CLI_EXIT_OK;
    if (mvq_gguf_check_loader_rules(g, &err) != MVQ_OK)
        rc = cli_fail(&err);
    int64_t checked = 0;
    if (mvq_gguf_verify_hashes(g, &checked, report_mismatch, (void *)path, &err) != MVQ_OK)
        rc = cli_fail(&err);
    if (rc == CLI_EXIT_OK) {
        if (checked)
            printf("%s: ok: %" PRId64 " tensor hashes match; llama.cpp loader rules hold\n", path, checked);
        else
            printf("%s: ok: llama.cpp loader rules hold; no tensor hashes recorded\n", path);
    }
    mvq_gguf_close(g);
    return rc;
}
