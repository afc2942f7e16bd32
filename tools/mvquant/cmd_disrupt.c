/* mvquant disrupt: the seed paper's experiment.  Replaces the massive
 * dimensions of Q and K (or controls: the lowest-norm or random ones) by
 * their mean over each chunk and measures what the model loses against
 * the undisturbed model, split into contextual and other predictions. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include <mvquant/disrupt.h>
#include <mvquant/quantize.h>
#include <mvquant/tokenizer.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: mvquant disrupt MODEL.gguf --text FILE [--ctx N] [--chunks N] [--threads N]\n"
            "                       [--which q,k,v] [--layers LIST] [--topk K | --lambda L] [--pre-rope]\n"
            "                       [--mode mean|zero|max] [--control lowest,random] [--seed N] [--json]\n"
            "\n"
            "In the batched pass of each chunk, for every head of the chosen layers, takes the norms\n"
            "M[h,d] = ||X[:,h,d]||_2 of Q and/or K after RoPE over all the chunk's tokens (BOS\n"
            "included), and replaces the top-k dimensions by the column's mean over those tokens.\n"
            "Chunks and scoring are those of 'mvquant perplexity'; the undisturbed model runs on the\n"
            "same chunks.  Prints PPL, mean KLD and top-1 agreement against it, each also for the\n"
            "contextual predictions (the target's id occurs earlier in its chunk, BOS excluded) and\n"
            "the others, with ratios to the baseline, and which dimensions were hit per layer.\n"
            "\n"
            "  --text FILE       text to evaluate (required)\n"
            "  --ctx N           chunk length in tokens (default 512)\n"
            "  --chunks N        evaluate only the first N chunks\n"
            "  --threads N       worker threads (default: all cores)\n"
            "  --which LIST      q, k and/or v, comma-separated (default q,k)\n"
            "  --layers LIST     layers disrupted: 'all' (default) or indices and ranges, '0,2-3'\n"
            "  --topk K          dimensions per head (default 1)\n"
            "  --lambda L        instead: the dimensions with M[h,d] > L * mean_d M[h,d]\n"
            "  --pre-rope        norms taken and values replaced before RoPE (Q and K)\n"
            "  --mode MODE       replacement: mean (default), zero, or max (the column's largest value)\n"
            "  --control LIST    also run controls on as many dimensions per head: lowest (the\n"
            "                    lowest-norm ones), random (random non-massive ones, from --seed)\n"
            "  --seed N          seed of the random control (default 1)\n"
            "  --json            one JSON object on stdout instead of text\n");
}

typedef struct disrupt_args {
    const char *model, *text, *layers;
    long ctx, chunks, threads, topk, seed;
    double lambda;
    bool q, k, v, pre_rope, lowest, random, json;
    mvq_disrupt_mode mode;
} disrupt_args;

/* Sets a's flags from a comma-separated list of names; false on an unknown one. */
static bool parse_list(const char *s, const char *const *names, bool *const *flags, int n)
{
    for (int i = 0; i < n; i++)
        *flags[i] = false;
    while (*s) {
        const size_t len = strcspn(s, ",");
        int i = 0;
        while (i < n && !(strlen(names[i]) == len && strncmp(s, names[i], len) == 0))
            i++;
        if (i == n)
            return false;
        *flags[i] = true;
        s += len + (s[len] == ',');
    }
    return true;
}

static bool parse_mode(const char *s, mvq_disrupt_mode *mode)
{
    static const char *const names[] = {"mean", "zero", "max"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *mode = (mvq_disrupt_mode)i;
            return true;
        }
    return false;
}

/* 0: parsed; -1: help shown; otherwise the exit code. */
static int parse_args(int argc, char **argv, disrupt_args *a)
{
    static const struct option longopts[] = {
        {"text", required_argument, NULL, 't'},    {"ctx", required_argument, NULL, 'c'},
        {"chunks", required_argument, NULL, 'n'},  {"threads", required_argument, NULL, 'j'},
        {"which", required_argument, NULL, 'w'},   {"layers", required_argument, NULL, 'L'},
        {"topk", required_argument, NULL, 'k'},    {"lambda", required_argument, NULL, 'l'},
        {"pre-rope", no_argument, NULL, 'P'},      {"mode", required_argument, NULL, 'm'},
        {"control", required_argument, NULL, 'C'}, {"seed", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'J'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const taps[] = {"q", "k", "v"}, *const controls[] = {"lowest", "random"};
    memset(a, 0, sizeof *a);
    a->ctx = 512;
    a->topk = 1;
    a->seed = 1;
    a->q = a->k = true;
    int c;
    while ((c = cli_getopt("disrupt", argc, argv, "h", longopts)) != -1) {
        const char *bad = NULL;
        char *end;
        switch (c) {
        case 't': a->text = cli_optarg; break;
        case 'L': a->layers = cli_optarg; break;
        case 'P': a->pre_rope = true; break;
        case 'J': a->json = true; break;
        case 'w': bad = parse_list(cli_optarg, taps, (bool *const[]){&a->q, &a->k, &a->v}, 3) && (a->q || a->k || a->v)
                            ? NULL : "--which"; break;
        case 'C': bad = parse_list(cli_optarg, controls, (bool *const[]){&a->lowest, &a->random}, 2)
                            ? NULL : "--control"; break;
        case 'm': bad = parse_mode(cli_optarg, &a->mode) ? NULL : "--mode"; break;
        case 'c': bad = cli_parse_long(cli_optarg, 4, 1L << 20, &a->ctx) ? NULL : "--ctx"; break;
        case 'n': bad = cli_parse_long(cli_optarg, 1, LONG_MAX, &a->chunks) ? NULL : "--chunks"; break;
        case 'j': bad = cli_parse_long(cli_optarg, 1, 1024, &a->threads) ? NULL : "--threads"; break;
        case 'k': bad = cli_parse_long(cli_optarg, 0, 1L << 20, &a->topk) ? NULL : "--topk"; break;
        case 's': bad = cli_parse_long(cli_optarg, 0, LONG_MAX, &a->seed) ? NULL : "--seed"; break;
        case 'l':
            errno = 0;
            a->lambda = strtod(cli_optarg, &end);
            bad = errno || *end || end == cli_optarg || !(a->lambda > 0 && a->lambda < 1e6) ? "--lambda" : NULL;
            break;
        case 'h': usage(stdout); return -1;
        default: return CLI_EXIT_USAGE;
        }
        if (bad)
            return cli_usage_error("disrupt", "bad value '%s' for %s", cli_optarg, bad);
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("disrupt", "expected one MODEL.gguf, got %d", argc - cli_optind);
    if (!a->text)
        return cli_usage_error("disrupt", "--text FILE is required");
    a->model = argv[cli_optind];
    return 0;
}

/* The layer flags of "all" or "0,2-3" for n layers; false when malformed or out of range. */
static bool parse_layers(const char *s, int64_t n, unsigned char *flags)
{
    memset(flags, s ? 0 : 1, (size_t)n);
    if (!s || strcmp(s, "all") == 0) {
        memset(flags, 1, (size_t)n);
        return true;
    }
    while (*s) {
        char *end;
        errno = 0;
        long from = strtol(s, &end, 10), to = from;
        if (errno || end == s || from < 0)
            return false;
        if (*end == '-') {
            s = end + 1;
            to = strtol(s, &end, 10);
            if (errno || end == s || to < from)
                return false;
        }
        if (to >= n || (*end && *end != ','))
            return false;
        for (long l = from; l <= to; l++)
            flags[l] = 1;
        s = end + (*end == ',');
    }
    return true;
}

/* One disruption and its results (all, contextual, other). */
typedef struct disrupt_run {
    const char *name;
    mvq_disrupt_target target;
    mvq_disrupt *d;
    mvq_eval_result r[3];
} disrupt_run;

static const char *const class_names[3] = {"all", "contextual", "other"};

static uint32_t chosen_taps(const disrupt_args *a)
{
    uint32_t t = 0;
    if (a->q)
        t |= MVQ_TAP_BIT(a->pre_rope ? MVQ_TAP_Q_PRE_ROPE : MVQ_TAP_Q);
    if (a->k)
        t |= MVQ_TAP_BIT(a->pre_rope ? MVQ_TAP_K_PRE_ROPE : MVQ_TAP_K);
    if (a->v)
        t |= MVQ_TAP_BIT(MVQ_TAP_V);
    return t;
}

/* The dimensions of one head hit in any pass, most often first (at most 8): writes them and returns their count. */
static int head_hits(const mvq_disrupt *d, mvq_tap tap, int64_t l, int64_t h, int64_t head_dim, int *dims,
                     int64_t *counts)
{
    int n = 0;
    for (int64_t dim = 0; dim < head_dim; dim++) {
        const int64_t c = mvq_disrupt_hits(d, tap, l, h, dim);
        if (c == 0)
            continue;
        int i = n < 8 ? n++ : 8;
        if (i == 8 && c <= counts[7])
            continue;
        if (i == 8)
            i = 7;
        while (i > 0 && counts[i - 1] < c)
            dims[i] = dims[i - 1], counts[i] = counts[i - 1], i--;
        dims[i] = (int)dim, counts[i] = c;
    }
    return n;
}

/* The heads of tap t at layer l when that tap was disrupted there (0 otherwise), and its passes. */
static int64_t disrupted_heads(const disrupt_run *run, const mvq_hparams *hp, uint32_t taps, int64_t l, int t,
                               int64_t *passes)
{
    *passes = mvq_disrupt_passes(run->d, (mvq_tap)t, l);
    if (!(taps & MVQ_TAP_BIT(t)) || *passes == 0)
        return 0;
    return t == MVQ_TAP_Q || t == MVQ_TAP_Q_PRE_ROPE ? hp->n_head : hp->n_head_kv;
}

static void print_hits(const disrupt_run *run, const mvq_hparams *hp, uint32_t taps)
{
    printf("dimensions hit (%s), per layer and head, with the share of chunks when not all:\n", run->name);
    for (int64_t l = 0; l < hp->n_layer; l++)
        for (int t = 0; t < MVQ_TAP_COUNT; t++) {
            int64_t passes;
            const int64_t heads = disrupted_heads(run, hp, taps, l, t, &passes);
            if (heads == 0)
                continue;
            printf("  layer %2lld %-10s", (long long)l, mvq_tap_name((mvq_tap)t));
            for (int64_t h = 0; h < heads; h++) {
                int dims[8];
                int64_t counts[8];
                const int n = head_hits(run->d, (mvq_tap)t, l, h, hp->head_dim, dims, counts);
                printf(" h%lld:", (long long)h);
                for (int i = 0; i < n; i++) {
                    printf("%s%d", i ? "," : "", dims[i]);
                    if (counts[i] < passes)
                        printf("(%.0f%%)", 100.0 * (double)counts[i] / (double)passes);
                }
                if (n == 0)
                    printf("-");
            }
            printf("\n");
        }
}

static void print_text(const disrupt_args *a, const mvq_model *m, const disrupt_run *runs, int n_runs)
{
    const mvq_eval_result *b = runs[0].r;
    printf("model: %s (%lld layers, %lld heads of %lld)\n", a->model, (long long)m->hp.n_layer,
           (long long)m->hp.n_head, (long long)m->hp.head_dim);
    printf("tokens: %lld, %lld chunks of %lld, %lld predictions scored (%lld contextual, %lld other)\n",
           (long long)b[0].n_tokens, (long long)b[0].n_chunks, (long long)b[0].n_ctx, (long long)b[0].n_scored,
           (long long)b[1].n_scored, (long long)b[2].n_scored);
    printf("disrupted: %s%s%s%s, layers %s, ", a->q ? "q " : "", a->k ? "k " : "", a->v ? "v " : "",
           a->pre_rope ? "before RoPE" : "(q, k after RoPE)", a->layers ? a->layers : "all");
    if (a->lambda > 0)
        printf("M > %g x mean per head", a->lambda);
    else
        printf("top-%ld per head", a->topk);
    printf(", replaced by the column's %s\n\n", a->mode == MVQ_DISRUPT_MEAN ? "mean" : a->mode == MVQ_DISRUPT_ZERO ? "zero" : "max");
    printf("%-9s %10s %8s %10s %8s %10s %8s %9s %8s\n", "run", "PPL", "ratio", "ctx PPL", "ratio", "other PPL",
           "ratio", "mean KLD", "top-1 %");
    printf("%-9s %10.4f %8.4f %10.4f %8.4f %10.4f %8.4f %9.6f %8.2f\n", "baseline", b[0].base_ppl, 1.0,
           b[1].base_ppl, 1.0, b[2].base_ppl, 1.0, 0.0, 100.0);
    for (int i = 0; i < n_runs; i++) {
        const mvq_eval_result *r = runs[i].r;
        printf("%-9s %10.4f %8.4f %10.4f %8.4f %10.4f %8.4f %9.6f %8.2f\n", runs[i].name, r[0].ppl, r[0].ppl_ratio,
               r[1].ppl, r[1].ppl_ratio, r[2].ppl, r[2].ppl_ratio, r[0].kld_mean, 100 * r[0].same_top);
    }
    printf("%-9s %10s %8s %10s %8s %10s %8s %9s %8s\n", "", "", "", "ctx KLD", "top-1 %", "other KLD", "top-1 %", "",
           "");
    for (int i = 0; i < n_runs; i++) {
        const mvq_eval_result *r = runs[i].r;
        printf("%-9s %10s %8s %10.6f %8.2f %10.6f %8.2f\n", runs[i].name, "", "", r[1].kld_mean,
               100 * r[1].same_top, r[2].kld_mean, 100 * r[2].same_top);
    }
    printf("\n");
    for (int i = 0; i < n_runs; i++)
        print_hits(&runs[i], &m->hp, chosen_taps(a));
}

static void json_result(cli_json *j, const mvq_eval_result *r, bool base)
{
    cli_json_begin_object(j);
    cli_json_key(j, "n_scored");
    cli_json_i64(j, r->n_scored);
    const struct {
        const char *key;
        double v;
    } f[] = {{"ppl", base ? r->base_ppl : r->ppl},   {"ppl_err", base ? r->base_ppl_err : r->ppl_err},
             {"ppl_ratio", base ? 1.0 : r->ppl_ratio}, {"ppl_ratio_err", base ? 0.0 : r->ppl_ratio_err},
             {"kld_mean", base ? 0.0 : r->kld_mean}, {"kld_err", base ? 0.0 : r->kld_err},
             {"same_top", base ? 100.0 : 100 * r->same_top}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        cli_json_key(j, f[i].key);
        cli_json_f64(j, f[i].v);
    }
    cli_json_end_object(j);
}

static void json_hits(cli_json *j, const disrupt_run *run, const mvq_hparams *hp, uint32_t taps)
{
    cli_json_key(j, "hits");
    cli_json_begin_array(j);
    for (int64_t l = 0; l < hp->n_layer; l++)
        for (int t = 0; t < MVQ_TAP_COUNT; t++) {
            int64_t passes;
            const int64_t heads = disrupted_heads(run, hp, taps, l, t, &passes);
            if (heads == 0)
                continue;
            cli_json_begin_object(j);
            cli_json_key(j, "layer");
            cli_json_i64(j, l);
            cli_json_key(j, "tap");
            cli_json_str(j, mvq_tap_name((mvq_tap)t));
            cli_json_key(j, "passes");
            cli_json_i64(j, passes);
            cli_json_key(j, "heads");
            cli_json_begin_array(j);
            for (int64_t h = 0; h < heads; h++) {
                cli_json_begin_array(j);
                for (int64_t d = 0; d < hp->head_dim; d++) {
                    const int64_t c = mvq_disrupt_hits(run->d, (mvq_tap)t, l, h, d);
                    if (c == 0)
                        continue;
                    cli_json_begin_array(j);
                    cli_json_i64(j, d);
                    cli_json_i64(j, c);
                    cli_json_end_array(j);
                }
                cli_json_end_array(j);
            }
            cli_json_end_array(j);
            cli_json_end_object(j);
        }
    cli_json_end_array(j);
}

static void print_json(const disrupt_args *a, const mvq_model *m, const disrupt_run *runs, int n_runs)
{
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_key(&j, "model");
    cli_json_str(&j, a->model);
    cli_json_key(&j, "text");
    cli_json_str(&j, a->text);
    cli_json_key(&j, "n_ctx");
    cli_json_i64(&j, runs[0].r[0].n_ctx);
    cli_json_key(&j, "n_chunks");
    cli_json_i64(&j, runs[0].r[0].n_chunks);
    cli_json_key(&j, "pre_rope");
    cli_json_bool(&j, a->pre_rope);
    cli_json_key(&j, "runs");
    cli_json_begin_array(&j);
    for (int i = -1; i < n_runs; i++) {
        const disrupt_run *run = &runs[i < 0 ? 0 : i];
        cli_json_begin_object(&j);
        cli_json_key(&j, "name");
        cli_json_str(&j, i < 0 ? "baseline" : run->name);
        for (int k = 0; k < 3; k++) {
            cli_json_key(&j, class_names[k]);
            json_result(&j, &run->r[k], i < 0);
        }
        if (i >= 0)
            json_hits(&j, run, &m->hp, chosen_taps(a));
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

static mvq_status run_all(const disrupt_args *a, const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                          int32_t bos, mvq_pool *pool, disrupt_run *runs, int n_runs, mvq_error *err)
{
    unsigned char *layers = malloc((size_t)m->hp.n_layer + 1);
    if (!layers)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory");
    mvq_status st = MVQ_OK;
    if (!parse_layers(a->layers, m->hp.n_layer, layers))
        st = mvq_error_set(err, MVQ_ERR_ARG, "--layers '%s': not 'all' nor layers of 0..%lld", a->layers,
                           (long long)m->hp.n_layer - 1);
    for (int i = 0; st == MVQ_OK && i < n_runs; i++) {
        const mvq_disrupt_opts o = {
            .taps = chosen_taps(a), .layers = layers, .topk = (int)(a->lambda > 0 ? 0 : a->topk),
            .lambda = a->lambda, .mode = a->mode, .target = runs[i].target, .seed = (uint64_t)a->seed,
        };
        if (!(runs[i].d = mvq_disrupt_create(m, &o, err))) {
            st = err->status;
            break;
        }
        const mvq_observer obs = mvq_disrupt_observer(runs[i].d);
        const mvq_eval_opts eo = {
            .n_ctx = a->ctx, .max_chunks = a->chunks, .bos = bos, .observers = &obs, .n_observers = 1,
        };
        cli_info(1, "disrupt: %s run", runs[i].name);
        st = mvq_eval_perplexity_split(m, m, tokens, n_tokens, &eo, pool, runs[i].r, err);
    }
    free(layers);
    return st;
}

int cmd_disrupt(int argc, char **argv)
{
    disrupt_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    disrupt_run runs[3] = {{.name = "massive", .target = MVQ_DISRUPT_MASSIVE}};
    int n_runs = 1;
    if (a.lowest)
        runs[n_runs++] = (disrupt_run){.name = "lowest", .target = MVQ_DISRUPT_LOWEST};
    if (a.random)
        runs[n_runs++] = (disrupt_run){.name = "random", .target = MVQ_DISRUPT_RANDOM};
    mvq_error err;
    mvq_error_clear(&err);
    mvq_model *m = NULL;
    mvq_pool *pool = NULL;
    int32_t *tokens = NULL;
    int64_t n_tokens = 0;
    int32_t bos = -1;
    mvq_status st = mvq_isa_init(&err);
    if (st == MVQ_OK && !(m = mvq_model_open(a.model, &err)))
        st = err.status;
    if (st == MVQ_OK && cli_check_text(a.text) != CLI_EXIT_OK)
        st = MVQ_ERR_FORMAT, err.msg[0] = '\0';
    if (st == MVQ_OK)
        cli_warn_ctx(a.ctx, &m->hp);
    if (st == MVQ_OK && a.topk > m->hp.head_dim)
        st = mvq_error_set(&err, MVQ_ERR_ARG, "--topk %ld: beyond the head size %lld of %s", a.topk,
                           (long long)m->hp.head_dim, a.model);
    if (st == MVQ_OK)
        st = cli_tokenize_text(m, a.text, &tokens, &n_tokens, &bos, &err);
    if (st == MVQ_OK && n_tokens < 2 * a.ctx)
        st = mvq_error_set(&err, MVQ_ERR_FORMAT, "%s: %lld token%s of text; a context of %ld needs at least %ld",
                           a.text, (long long)n_tokens, cli_plural(n_tokens), a.ctx, 2 * a.ctx);
    if (st == MVQ_OK && !(pool = mvq_pool_create((int)a.threads)))
        st = mvq_error_set(&err, MVQ_ERR_NOMEM, "cannot start %ld thread%s", a.threads, cli_plural(a.threads));
    if (st == MVQ_OK)
        st = run_all(&a, m, tokens, n_tokens, bos, pool, runs, n_runs, &err);
    if (st == MVQ_OK) {
        if (a.json)
            print_json(&a, m, runs, n_runs);
        else
            print_text(&a, m, runs, n_runs);
    }
    for (int i = 0; i < n_runs; i++)
        mvq_disrupt_free(runs[i].d);
    free(tokens);
    mvq_pool_free(pool);
    mvq_model_free(m);
    if (st != MVQ_OK && !err.msg[0])
        return CLI_EXIT_FAIL;
    return st == MVQ_OK ? CLI_EXIT_OK : cli_fail(&err);
}
