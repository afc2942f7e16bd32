/* mvquant copy IN OUT [--hashes]: rewrite a GGUF file through the
 * streaming writer (metadata and tensors unchanged, layout normalised to
 * llama.cpp's rules), optionally recording each tensor's hash. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>
#include <inttypes.h>

/* Data goes out in slices so progress can be shown on large tensors. */
#define COPY_SLICE (64u << 20)

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

static mvq_status copy_tensors(const mvq_gguf *g, mvq_gguf_writer *w, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    int64_t n = mvq_gguf_n_tensors(g);
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < n; i++)
        total += mvq_gguf_tensor_at(g, i)->size;
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        st = mvq_gguf_writer_add_tensor(w, t->name.data, t->n_dims, t->ne, t->type, t->size, err);
    }
    for (int64_t i = 0; i < n && st == MVQ_OK; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        for (uint64_t off = 0; off < t->size && st == MVQ_OK; off += COPY_SLICE) {
            size_t len = t->size - off < COPY_SLICE ? (size_t)(t->size - off) : COPY_SLICE;
            st = mvq_gguf_writer_write(w, (const uint8_t *)t->data + off, len, err);
            done += len;
            cli_progress("copying", done, total);
        }
    }
    cli_progress_done();
    return st;
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
    mvq_gguf *g = mvq_gguf_open(in, &err);
    if (!g)
        return cli_fail(&err);
    const char *inputs[] = {in, NULL};
    mvq_gguf_writer *w = mvq_gguf_writer_open(out, inputs, &err);
    if (!w) {
        mvq_gguf_close(g);
        return cli_fail(&err);
    }
    mvq_status st = hashes ? mvq_gguf_writer_reserve_hashes(w, &err) : MVQ_OK;
    if (st == MVQ_OK)
        st = mvq_gguf_writer_set_alignment(w, mvq_gguf_alignment(g), &err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_add_kvs_from(w, g, NULL, &err);
    if (st == MVQ_OK)
        st = copy_tensors(g, w, &err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_finish(w, &err);
    else
        mvq_gguf_writer_abort(w);
    int64_t n_tensors = mvq_gguf_n_tensors(g);
    mvq_gguf_close(g);
    if (st != MVQ_OK)
        return cli_fail(&err);
    cli_info(2, "%s: written (%" PRId64 " tensors%s)", out, n_tensors, hashes ? ", hashes recorded" : "");
    return CLI_EXIT_OK;
}
