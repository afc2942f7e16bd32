/* mvquant perplexity: llama.cpp's perplexity (and KL divergence against a
 * base model) on a text file. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/ppl_kv.h"
#include "tools/mvquant/ppl_act.h"
#include <mvquant/model.h>
#include <mvquant/calib.h>
#include <mvquant/tokenizer.h>

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: mvquant perplexity MODEL.gguf --text FILE [--ctx N] [--chunks N] [--threads N]\n"
            "                          [--kl-base BASE.gguf] [--json]\n"
            "                          [--kv-type-k T] [--kv-type-v T] [--kv-protect-massive]\n"
            "                          [--kv-rescale-pairs] [--calib FILE] [--kv-massive-topk N]\n"
            "                          [--kv-scheme S] [--kv-bits N] [--kv-group N] [--kv-residual N]\n"
            "                          [--act int8] [--act-bmm int8] [--protect-massive|--ignore-massive]\n"
            "\n"
            "Perplexity by llama.cpp's method: the whole file tokenized with a leading BOS, cut\n"
            "into disjoint chunks of --ctx tokens (default 512) with BOS first in each, and the\n"
            "predictions of the second half of every chunk scored.  Prints PPL +/- its standard\n"
            "error and the forward pass's tokens per second.\n"
            "\n"
            "  --text FILE       text to evaluate (required)\n"
            "  --ctx N           chunk length in tokens (default 512)\n"
            "  --chunks N        evaluate only the first N chunks\n"
            "  --threads N       worker threads (default: all cores)\n"
            "  --kl-base BASE    also run BASE.gguf (same vocabulary) on the same chunks and report\n"
            "                    the KL divergence of MODEL from it: mean +/- error, median, 99%%,\n"
            "                    99.9%% and max, same top token, PPL ratio, RMS of the change in\n"
            "                    the correct token's probability\n"
            "  --json            one JSON object on stdout instead of text\n"
            "  --kv-type-k T, --kv-type-v T\n"
            "                    quantize MODEL's KV cache (not BASE's) per token: f16, q8_0, q4_0,\n"
            "                    q4_1, q5_0, q5_1, iq4_nl, by llama.cpp's CPU numerics (queries\n"
            "                    rounded to K's dot type); heads smaller than a block are grouped\n"
            "                    across the heads of a token\n"
            "  --kv-protect-massive  keep the massive K channels in F16 beside the quantized rest\n"
            "                    (the file's mvquant.massive keys, or --calib)\n"
            "  --kv-rescale-pairs    scale massive K channels by 1/a and Q's by a (logits unchanged)\n"
            "                    before quantizing; needs --calib\n"
            "  --calib FILE      text whose Q/K norms pick the massive K channels\n"
            "  --kv-massive-topk N   massive K channels per KV head from --calib (default 2)\n"
            "  --kv-scheme S     per-token (default: --kv-type-k) or per-channel: KIVI's K, each\n"
            "                    channel over groups of --kv-group tokens (default 32) in --kv-bits\n"
            "                    (2, 4 (default), 8) with an F16 min and step, the newest tokens in\n"
            "                    F16 until --kv-residual of them (default 128) are flushed\n"
            "  --act int8        W8A8: every block linear's input quantized per token to int8 and\n"
            "                    multiplied with int8 per-channel weights requantized from MODEL's\n"
            "                    weights\n"
            "  --act-bmm int8    Q, K (after RoPE) and V rounded through int8 per token as well\n"
            "  --protect-massive     under --act-bmm, keep the massive Q/K channels (the file's\n"
            "                    mvquant.massive keys, or --calib) out of the scale, in F16\n"
            "  --ignore-massive      under --act-bmm, quantize them with the rest (the default)\n");
}

typedef struct ppl_args {
    const char *model, *text, *base;
    long ctx, chunks, threads;
    bool json;
    ppl_kv kv;
    ppl_act act;
} ppl_args;

/* 0: parsed; -1: help shown; otherwise the exit code. */
static int parse_args(int argc, char **argv, ppl_args *a)
{
    static const struct option longopts[] = {
        {"text", required_argument, NULL, 't'},    {"ctx", required_argument, NULL, 'c'},
        {"chunks", required_argument, NULL, 'n'},  {"threads", required_argument, NULL, 'j'},
        {"kl-base", required_argument, NULL, 'b'}, {"json", no_argument, NULL, 'J'},
        {"kv-type-k", required_argument, NULL, 'K'}, {"kv-type-v", required_argument, NULL, 'V'},
        {"kv-protect-massive", no_argument, NULL, 'P'}, {"kv-rescale-pairs", no_argument, NULL, 'R'},
        {"calib", required_argument, NULL, 'C'},   {"kv-massive-topk", required_argument, NULL, 'T'},
        {"kv-scheme", required_argument, NULL, 'S'}, {"kv-bits", required_argument, NULL, 'B'},
        {"kv-group", required_argument, NULL, 'G'}, {"kv-residual", required_argument, NULL, 'W'},
        {"act", required_argument, NULL, 'A'},     {"act-bmm", required_argument, NULL, 'U'},
        {"protect-massive", no_argument, NULL, 'M'}, {"ignore-massive", no_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->ctx = 512;
    ppl_kv_defaults(&a->kv);
    int c;
    while ((c = cli_getopt("perplexity", argc, argv, "h", longopts)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 't': a->text = cli_optarg; break;
        case 'b': a->base = cli_optarg; break;
        case 'J': a->json = true; break;
        case 'K': a->kv.type_k = cli_optarg; break;
        case 'V': a->kv.type_v = cli_optarg; break;
        case 'P': a->kv.protect = true; break;
        case 'R': a->kv.rescale = true; break;
        case 'C': a->kv.calib = cli_optarg; break;
        case 'S': a->kv.scheme = cli_optarg; break;
        case 'B': bad = cli_parse_long(cli_optarg, 1, 8, &a->kv.bits) ? NULL : "--kv-bits"; break;
        case 'G': bad = cli_parse_long(cli_optarg, 1, 1L << 20, &a->kv.group) ? NULL : "--kv-group"; break;
        case 'W': bad = cli_parse_long(cli_optarg, 0, 1L << 20, &a->kv.residual) ? NULL : "--kv-residual"; break;
        case 'A': a->act.act = cli_optarg; break;
        case 'U': a->act.act_bmm = cli_optarg; break;
        case 'M': a->act.protect = true; break;
        case 'I': a->act.ignore = true; break;
        case 'T': bad = cli_parse_long(cli_optarg, 1, 1L << 16, &a->kv.topk) ? NULL : "--kv-massive-topk"; break;
        case 'c': bad = cli_parse_long(cli_optarg, 4, 1L << 20, &a->ctx) ? NULL : "--ctx"; break;
        case 'n': bad = cli_parse_long(cli_optarg, 1, LONG_MAX, &a->chunks) ? NULL : "--chunks"; break;
        case 'j': bad = cli_parse_long(cli_optarg, 1, 1024, &a->threads) ? NULL : "--threads"; break;
        case 'h': usage(stdout); return -1;
        default: return CLI_EXIT_USAGE;
        }
        if (bad)
            return cli_usage_error("perplexity", "bad value '%s' for %s", cli_optarg, bad);
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("perplexity", "expected one MODEL.gguf, got %d", argc - cli_optind);
    if (!a->text)
        return cli_usage_error("perplexity", "--text FILE is required");
    a->model = argv[cli_optind];
    return 0;
}

static void show_progress(void *user, const mvq_eval_progress *p)
{
    const bool *kl = user;
    fprintf(stderr, "\r[%lld/%lld] PPL %.4f", (long long)p->chunk, (long long)p->n_chunks, p->ppl);
    if (*kl)
        fprintf(stderr, "  KLD %.6f", p->kld_mean);
    fprintf(stderr, "  %.1f s", p->seconds);
    if (p->chunk == p->n_chunks)
        fprintf(stderr, "\n");
}

static void print_text(const ppl_args *a, const mvq_model *m, const mvq_eval_result *r, int threads)
{
    printf("model: %s (%s, %lld layers, dim %lld, vocab %lld)\n", a->model, mvq_arch_name(m->hp.arch),
           (long long)m->hp.n_layer, (long long)m->hp.n_embd, (long long)m->hp.n_vocab);
    printf("tokens: %lld, %lld chunks of %lld, %lld predictions scored\n", (long long)r->n_tokens,
           (long long)r->n_chunks, (long long)r->n_ctx, (long long)r->n_scored);
    printf("PPL = %.4f +/- %.5f\n", r->ppl, r->ppl_err);
    printf("speed: %.0f tokens/s (%.2f s of forward pass, %d thread%s)\n", r->tokens_per_s, r->seconds, threads,
           cli_plural(threads));
    if (!r->has_base)
        return;
    printf("base: %s, PPL = %.4f +/- %.5f\n", a->base, r->base_ppl, r->base_ppl_err);
    printf("PPL(model)/PPL(base) = %.6f +/- %.6f\n", r->ppl_ratio, r->ppl_ratio_err);
    printf("mean KLD = %.6f +/- %.6f\n", r->kld_mean, r->kld_err);
    printf("median KLD = %.6f, 99%% KLD = %.6f, 99.9%% KLD = %.6f, max KLD = %.6f\n", r->kld_median, r->kld_p99,
           r->kld_p999, r->kld_max);
    printf("same top p = %.3f +/- %.3f %%\n", 100 * r->same_top, 100 * r->same_top_err);
    printf("mean dp = %.3f +/- %.3f %%, RMS dp = %.3f +/- %.3f %%\n", 100 * r->dp_mean, 100 * r->dp_mean_err,
           100 * r->dp_rms, 100 * r->dp_rms_err);
}

static void json_num(cli_json *j, const char *key, double v)
{
    cli_json_key(j, key);
    cli_json_f64(j, v);
}

static void json_int(cli_json *j, const char *key, int64_t v)
{
    cli_json_key(j, key);
    cli_json_i64(j, v);
}

static void print_json(const ppl_args *a, const mvq_eval_result *r, int threads)
{
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_key(&j, "model");
    cli_json_str(&j, a->model);
    cli_json_key(&j, "text");
    cli_json_str(&j, a->text);
    json_int(&j, "n_tokens", r->n_tokens);
    json_int(&j, "n_ctx", r->n_ctx);
    json_int(&j, "n_chunks", r->n_chunks);
    json_int(&j, "n_scored", r->n_scored);
    json_num(&j, "ppl", r->ppl);
    json_num(&j, "ppl_err", r->ppl_err);
    json_num(&j, "seconds", r->seconds);
    json_num(&j, "tokens_per_s", r->tokens_per_s);
    json_int(&j, "threads", threads);
    if (r->has_base) {
        cli_json_key(&j, "base");
        cli_json_str(&j, a->base);
        const struct {
            const char *key;
            double v;
        } f[] = {
            {"base_ppl", r->base_ppl},     {"base_ppl_err", r->base_ppl_err}, {"ppl_ratio", r->ppl_ratio},
            {"ppl_ratio_err", r->ppl_ratio_err}, {"kld_mean", r->kld_mean}, {"kld_err", r->kld_err},
            {"kld_median", r->kld_median}, {"kld_p99", r->kld_p99},         {"kld_p999", r->kld_p999},
            {"kld_max", r->kld_max},       {"same_top", 100 * r->same_top}, {"same_top_err", 100 * r->same_top_err},
            {"dp_mean", r->dp_mean},       {"dp_mean_err", r->dp_mean_err}, {"dp_rms", r->dp_rms},
            {"dp_rms_err", r->dp_rms_err}, {"base_seconds", r->base_seconds},
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            json_num(&j, f[i].key, f[i].v);
    }
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

int cmd_perplexity(int argc, char **argv)
{
    ppl_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    mvq_error err;
    mvq_error_clear(&err);
    mvq_model *m = NULL, *base = NULL;
    mvq_pool *pool = NULL;
    int32_t *tokens = NULL;
    int64_t n_tokens = 0;
    int32_t bos = -1;
    mvq_eval_result r;
    mvq_status st = mvq_isa_init(&err);
    if (st == MVQ_OK && !(m = mvq_model_open(a.model, &err)))
        st = err.status;
    if (st == MVQ_OK && a.base && !(base = mvq_model_open(a.base, &err)))
        st = err.status;
    if (st == MVQ_OK && cli_check_text(a.text) != CLI_EXIT_OK)
        st = MVQ_ERR_FORMAT, err.msg[0] = '\0';
    if (st == MVQ_OK)
        cli_warn_ctx(a.ctx, &m->hp);
    if (st == MVQ_OK)
        st = cli_tokenize_text(m, a.text, &tokens, &n_tokens, &bos, &err);
    if (st == MVQ_OK && n_tokens < 2 * a.ctx) /* bad input, not usage: exit 2 */
        st = mvq_error_set(&err, MVQ_ERR_FORMAT, "%s: %lld token%s of text; a context of %ld needs at least %ld",
                           a.text, (long long)n_tokens, cli_plural(n_tokens), a.ctx, 2 * a.ctx);
    if (st == MVQ_OK && !(pool = mvq_pool_create((int)a.threads)))
        st = mvq_error_set(&err, MVQ_ERR_NOMEM, "cannot start %ld thread%s", a.threads, cli_plural(a.threads));
    if (st == MVQ_OK)
        st = ppl_kv_setup(&a.kv, m, a.ctx, bos, pool, &err);
    if (st == MVQ_OK)
        st = ppl_act_setup(&a.act, m, a.ctx, bos, a.kv.calib, a.kv.topk, pool, &err);
    if (st == MVQ_OK) {
        bool kl = base != NULL;
        mvq_eval_opts opts = {
            .n_ctx = a.ctx, .max_chunks = a.chunks, .bos = bos,
            .progress = isatty(STDERR_FILENO) ? show_progress : NULL, .user = &kl,
            .kv = ppl_kv_active(&a.kv) ? &a.kv.kv : NULL, .act = a.act.a,
        };
        st = mvq_eval_perplexity(m, base, tokens, n_tokens, &opts, pool, &r, &err);
    }
    if (st == MVQ_OK) {
        if (a.json)
            print_json(&a, &r, mvq_pool_size(pool));
        else
            print_text(&a, m, &r, mvq_pool_size(pool));
        if (ppl_kv_active(&a.kv))
            ppl_kv_print(&a.kv, m, a.json ? stderr : stdout);
        ppl_act_print(&a.act, m, a.json ? stderr : stdout);
    }
    ppl_kv_free(&a.kv);
    ppl_act_free(&a.act);
    free(tokens);
    mvq_pool_free(pool);
    mvq_model_free(base);
    mvq_model_free(m);
    if (st != MVQ_OK && !err.msg[0])
        return CLI_EXIT_FAIL; /* already reported */
    return st == MVQ_OK ? CLI_EXIT_OK : cli_fail(&err);
}
