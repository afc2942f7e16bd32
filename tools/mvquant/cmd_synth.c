/* mvquant synth OUT [options]: write a deterministic random Llama GGUF with
 * planted massive Q/K dimensions and residual channels. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <mvquant/synth.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void synth_usage(void)
{
    mvq_synth_params d;
    mvq_synth_default(&d);
    printf("Usage: mvquant synth OUT.gguf [options]\n"
           "\n"
           "Writes a deterministic random Llama model (llama.cpp's tensor names and\n"
           "metadata, a byte-level SentencePiece vocabulary) in which a few\n"
           "low-frequency RoPE pairs of every head's Q and K rows, and a few residual\n"
           "channels, carry massive values.  Which ones is recorded under\n"
           "mvquant.synth.massive_dims and mvquant.synth.massive_channels.  The same\n"
           "options give the same bytes; memory stays bounded at any size.\n"
           "\n"
           "  --dim D            embedding length (%lld)\n"
           "  --layers L         blocks (%lld)\n"
           "  --heads H          attention heads (%lld)\n"
           "  --kv-heads K       key/value heads, dividing H (%lld)\n"
           "  --ff F             feed-forward length (%lld)\n"
           "  --vocab V          vocabulary size, at least %d (%lld)\n"
           "  --ctx C            context length (%lld)\n"
           "  --type T          type of the 2-D weights: f32 (default), f16 or\n"
           "                     bf16; norms stay f32\n"
           "  --seed S           random seed (%llu)\n"
           "  --rope-base B      RoPE frequency base (%g)\n"
           "  --massive-pairs N  amplified RoPE pairs per head, from the\n"
           "                     low-frequency half (%d)\n"
           "  --massive-gain G   their factor on the W_q and W_k rows (%g)\n"
           "  --channels N       massive residual channels (%d)\n"
           "  --channel-gain G   their factor (%g)\n",
           (long long)d.dim, (long long)d.n_layers, (long long)d.n_heads, (long long)d.n_kv_heads,
           (long long)d.ff, MVQ_SYNTH_MIN_VOCAB, (long long)d.vocab, (long long)d.ctx,
           (unsigned long long)d.seed, (double)d.rope_base, d.n_massive_pairs, (double)d.massive_gain,
           d.n_massive_channels, (double)d.channel_gain);
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, int *out)
{
    int64_t v;
    if (!parse_i64(s, &v) || v > 1 << 20)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v > 0.0f))
        return false;
    *out = v;
    return true;
}

static bool parse_type(const char *s, mvq_type *out)
{
    if (strcasecmp(s, "f32") == 0)
        *out = MVQ_TYPE_F32;
    else if (strcasecmp(s, "f16") == 0)
        *out = MVQ_TYPE_F16;
    else if (strcasecmp(s, "bf16") == 0)
        *out = MVQ_TYPE_BF16;
    else
        return false;
    return true;
}

static bool parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool parse_option(int c, const char *arg, mvq_synth_params *p)
{
    switch (c) {
    case 'd': return parse_i64(arg, &p->dim);
    case 'l': return parse_i64(arg, &p->n_layers);
    case 'H': return parse_i64(arg, &p->n_heads);
    case 'k': return parse_i64(arg, &p->n_kv_heads);
    case 'f': return parse_i64(arg, &p->ff);
    case 'v': return parse_i64(arg, &p->vocab);
    case 'c': return parse_i64(arg, &p->ctx);
    case 't': return parse_type(arg, &p->type);
    case 's': return parse_seed(arg, &p->seed);
    case 'b': return parse_float(arg, &p->rope_base);
    case 'p': return parse_int(arg, &p->n_massive_pairs);
    case 'g': return parse_float(arg, &p->massive_gain);
    case 'C': return parse_int(arg, &p->n_massive_channels);
    case 'G': return parse_float(arg, &p->channel_gain);
    default: return false;
    }
}

static const char *option_name(const struct option *opts, int c)
{
    for (; opts->name; opts++)
        if (opts->val == c)
            return opts->name;
    return "?";
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress((const char *)ctx, done, total);
}

static void print_list(const char *what, const int32_t *v, int n)
{
    printf("%s:", what);
    for (int i = 0; i < n; i++)
        printf(" %d", v[i]);
    printf("%s\n", n ? "" : " none");
}

static void print_summary(const char *out, const mvq_synth_params *p)
{
    int64_t kv = p->dim / p->n_heads * p->n_kv_heads;
    int64_t per_layer = 2 * p->dim * p->dim + 2 * p->dim * kv + 3 * p->dim * p->ff + 2 * p->dim;
    int64_t params = 2 * p->vocab * p->dim + p->n_layers * per_layer + p->dim;
    printf("%s: llama, %lld parameters, dim %lld, %lld layers, %lld heads (%lld KV), ff %lld, vocab %lld, %s\n",
           out, (long long)params, (long long)p->dim, (long long)p->n_layers, (long long)p->n_heads,
           (long long)p->n_kv_heads, (long long)p->ff, (long long)p->vocab, mvq_type_name(p->type));
    int32_t *dims = malloc((size_t)(2 * p->n_massive_pairs + 1) * sizeof *dims);
    int32_t *channels = malloc((size_t)(p->n_massive_channels + 1) * sizeof *channels);
    if (dims && channels) {
        mvq_synth_massive(p, dims, channels);
        print_list("massive Q/K dims (within each head)", dims, 2 * p->n_massive_pairs);
        print_list("massive residual channels", channels, p->n_massive_channels);
    }
    free(dims);
    free(channels);
}

int cmd_synth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dim", required_argument, NULL, 'd'},          {"layers", required_argument, NULL, 'l'},
        {"heads", required_argument, NULL, 'H'},        {"kv-heads", required_argument, NULL, 'k'},
        {"ff", required_argument, NULL, 'f'},           {"vocab", required_argument, NULL, 'v'},
        {"ctx", required_argument, NULL, 'c'},          {"type", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},         {"rope-base", required_argument, NULL, 'b'},
        {"massive-pairs", required_argument, NULL, 'p'}, {"massive-gain", required_argument, NULL, 'g'},
        {"channels", required_argument, NULL, 'C'},     {"channel-gain", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},               {0},
    };
    mvq_synth_params p;
    mvq_synth_default(&p);
    int c;
    while ((c = cli_getopt("synth", argc, argv, "h", opts)) != -1) {
        if (c == 'h') {
            synth_usage();
            return CLI_EXIT_OK;
        }
        if (c == '?')
            return CLI_EXIT_USAGE;
        if (!parse_option(c, cli_optarg, &p))
            return cli_usage_error("synth", "bad value '%s' for --%s", cli_optarg, option_name(opts, c));
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("synth", "expected OUT.gguf, got %d arguments", argc - cli_optind);
    const char *out = argv[cli_optind];
    mvq_error err;
    if (mvq_synth_check(&p, &err) != MVQ_OK) /* the library's message starts with "synth: " */
        return cli_usage_error("synth", "%s", strncmp(err.msg, "synth: ", 7) == 0 ? err.msg + 7 : err.msg);
    p.progress = show_progress;
    p.progress_ctx = (void *)"writing";
    mvq_status st = mvq_synth_write(out, &p, &err);
    cli_progress_done();
    if (st != MVQ_OK)
        return cli_fail(&err);
    if (cli_verbosity >= 1)
        print_summary(out, &p);
    return CLI_EXIT_OK;
}
