/* mvquant massive: where the massive values of a model's queries and keys
 * are (Jin et al., ICML 2025), layer by layer and head by head. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/massive_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: mvquant massive MODEL.gguf [--text FILE] [--calib-tokens N] [--ctx N]\n"
            "                       [--lambda L] [--topk K] [--layers A-B] [--json] [--svg OUT.svg]\n"
            "                       [--stats FILE] [--no-cache] [--threads N] [--pre-rope]\n"
            "\n"
            "Runs the model over calibration tokens and, for Q and K after RoPE (and V, as the\n"
            "control), computes per layer, head h and dimension d the L2 norm over the tokens\n"
            "M[h,d].  Dimension d of head h is massive when it is among the K largest of its\n"
            "head (--topk K, default 1: the rule of the main job and of the paper's code), or,\n"
            "with --lambda L, when M[h,d] > L x mean over d of M[h,.] (the paper's text: L = 5).\n"
            "Prints per layer, for Q, K and V, the count of massive dimensions and per\n"
            "head the top dimension, its ratio to the head's mean, its RoPE pair, the pair's\n"
            "frequency (radians per token) and wavelength (tokens), and the share of the head's\n"
            "squared norm held by the low-frequency half of the pairs; then a summary.\n"
            "\n"
            "  --text FILE        calibration text, tokenized with the model's tokenizer.  Without\n"
            "                     it the model writes its own: sequences from BOS sampled at\n"
            "                     temperature 1.0, top-p 0.95, seed %u\n"
            "  --calib-tokens N   calibration tokens to use (default 2048)\n"
            "  --ctx N            window length in tokens, BOS first (default 512, or the\n"
            "                     context length the file records when shorter)\n"
            "  --topk K           flag the K largest dimensions per head (default 1; 0: --lambda)\n"
            "  --lambda L         flag by the ratio rule instead, with threshold L (5 in the paper)\n"
            "  --layers A-B       only these layers (or one: --layers A)\n"
            "  --svg OUT.svg      also draw the heatmaps of M for Q, K and V per layer\n"
            "  --svg-shared-scale one colour scale per column across the layers (default:\n"
            "                     one per panel)\n"
            "  --stats FILE       statistics saved by 'mvquant --stats-out' instead of a run\n"
            "  --no-cache         neither read nor write the statistics cache ($MVQ_CACHE_DIR,\n"
            "                     else $XDG_CACHE_HOME/mvquant, else ~/.cache/mvquant)\n"
            "  --threads N        worker threads (default: all cores)\n"
            "  --pre-rope         Q and K norms taken before RoPE, to see where RoPE\n"
            "                     concentrates them (needs a run: excludes --stats)\n"
            "  --json             one JSON object on stdout instead of text\n",
            (unsigned)MVQ_SELFGEN_SEED);
}

typedef struct massive_args {
    const char *model, *text, *svg, *stats;
    bool svg_shared_scale;
    long calib_tokens, ctx, topk, threads, layer_from, layer_to;
    double lambda;
    bool json, no_cache, pre_rope;
} massive_args;

static bool parse_layers(const char *s, long *from, long *to)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10), b = a;
    if (errno || end == s || a < 0)
        return false;
    if (*end == '-') {
        const char *rest = end + 1;
        b = strtol(rest, &end, 10);
        if (errno || end == rest || b < a)
            return false;
    }
    if (*end)
        return false;
    *from = a;
    *to = b;
    return true;
}

/* The figure's title: the file's name without folder and .gguf, and its
 * general.name beside it where that says more than the architecture (the
 * converters often write just "llama"). */
static const char *model_title(const mvq_model *m, const char *path)
{
    static char buf[512];
    const char *base = strrchr(path, '/'), *name, *arch;
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
        n -= 5;
    int k = snprintf(buf, sizeof buf, "%.*s", (int)(n < 200 ? n : 200), base);
    if (mvq_gguf_get_str(m->gguf, "general.name", &name) && *name &&
        !(mvq_gguf_get_str(m->gguf, "general.architecture", &arch) && strcmp(name, arch) == 0))
        snprintf(buf + k, sizeof buf - (size_t)k, " (%.200s)", name);
    return buf;
}

/* 0: parsed; -1: help shown; otherwise the exit code. */
static int parse_args(int argc, char **argv, massive_args *a)
{
    static const struct option longopts[] = {
        {"text", required_argument, NULL, 't'},   {"calib-tokens", required_argument, NULL, 'n'},
        {"ctx", required_argument, NULL, 'c'},    {"lambda", required_argument, NULL, 'l'},
        {"topk", required_argument, NULL, 'k'},   {"layers", required_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'J'},         {"svg", required_argument, NULL, 's'},
        {"svg-shared-scale", no_argument, NULL, 'G'},
        {"stats", required_argument, NULL, 'S'},  {"no-cache", no_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {"pre-rope", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->calib_tokens = 2048;
    a->lambda = 5.0;
    a->topk = 1; /* as the main job */
    a->layer_from = 0;
    a->layer_to = -1;
    int c;
    while ((c = cli_getopt("massive", argc, argv, "h", longopts)) != -1) {
        const char *bad = NULL;
        char *end;
        switch (c) {
        case 't': a->text = cli_optarg; break;
        case 's': a->svg = cli_optarg; break;
        case 'G': a->svg_shared_scale = true; break;
        case 'S': a->stats = cli_optarg; break;
        case 'J': a->json = true; break;
        case 'C': a->no_cache = true; break;
        case 'P': a->pre_rope = true; break;
        case 'n': bad = cli_parse_long(cli_optarg, 1, 1L << 30, &a->calib_tokens) ? NULL : "--calib-tokens"; break;
        case 'c': bad = cli_parse_long(cli_optarg, 2, 1L << 20, &a->ctx) ? NULL : "--ctx"; break;
        case 'k': bad = cli_parse_long(cli_optarg, 0, 1024, &a->topk) ? NULL : "--topk"; break;
        case 'j': bad = cli_parse_long(cli_optarg, 1, 1024, &a->threads) ? NULL : "--threads"; break;
        case 'L': bad = parse_layers(cli_optarg, &a->layer_from, &a->layer_to) ? NULL : "--layers"; break;
        case 'l':
            errno = 0;
            a->lambda = strtod(cli_optarg, &end);
            bad = errno || *end || end == cli_optarg || !(a->lambda > 0 && a->lambda < 1e6) ? "--lambda" : NULL;
            a->topk = 0;
            break;
        case 'h': usage(stdout); return -1;
        default: return CLI_EXIT_USAGE;
        }
        if (bad)
            return cli_usage_error("massive", "bad value '%s' for %s", cli_optarg, bad);
    }
    if (argc - cli_optind != 1)
        return cli_usage_error("massive", "expected one MODEL.gguf, got %d", argc - cli_optind);
    if (a->text && a->stats)
        return cli_usage_error("massive", "--text and --stats exclude each other");
    if (a->pre_rope && a->stats)
        return cli_usage_error("massive", "--pre-rope takes the norms in a run over text: it excludes --stats");
    a->model = argv[cli_optind];
    return 0;
}

static void show_progress(void *user, const char *phase, int64_t done, int64_t total)
{
    (void)user;
    cli_progress(phase, (uint64_t)done, (uint64_t)total);
}

static const char *const qkv_label[3] = {"Q", "K", "V"};

/* Across the chosen layers, for one of Q, K, V. */
typedef struct summary {
    int n_massive, layers_with, n_heads, low_half;
    double ratio_min, ratio_max, ratio_sum;
    int pair_votes_best, pair_best;
} summary;

static summary summarize(const mvq_massive_analysis *a, int w)
{
    summary s = {.ratio_min = INFINITY, .ratio_max = 0, .pair_best = -1};
    const int n_pairs = (int)(a->hp.n_rot / 2);
    int *votes = calloc((size_t)(n_pairs + 1), sizeof *votes);
    for (int64_t l = a->layer_from; l <= a->layer_to; l++) {
        const mvq_massive_panel *p = mvq_massive_panel_at(a, l, w);
        s.n_massive += p->n_massive;
        s.layers_with += p->n_massive > 0;
        for (int h = 0; h < p->n_head; h++) {
            const mvq_massive_head *hd = &p->heads[h];
            mvq_rope_dim r = mvq_rope_dim_info(hd->top_dim, (int)a->hp.n_rot, a->hp.rope_freq_base,
                                               a->hp.rope_style == MVQ_ROPE_NEOX);
            s.n_heads++;
            s.low_half += r.pair < 0 || r.pair >= n_pairs / 2;
            s.ratio_min = fmin(s.ratio_min, hd->top_ratio);
            s.ratio_max = fmax(s.ratio_max, hd->top_ratio);
            s.ratio_sum += hd->top_ratio;
            if (votes && r.pair >= 0 && ++votes[r.pair] > s.pair_votes_best) {
                s.pair_votes_best = votes[r.pair];
                s.pair_best = r.pair;
            }
        }
    }
    free(votes);
    return s;
}

static mvq_rope_dim rope_of(const mvq_hparams *hp, int d)
{
    return mvq_rope_dim_info(d, (int)hp->n_rot, hp->rope_freq_base, hp->rope_style == MVQ_ROPE_NEOX);
}

static void print_calibration(FILE *f, const massive_args *args, const mvq_calib_info *info)
{
    static const char *const origin[] = {"loaded from --stats", "imported", "from the statistics cache "
                                         "(calibration skipped)", "computed"};
    fprintf(f, "calibration: %lld tokens of %s, windows of %ld, %s", (long long)info->n_tokens,
            args->stats ? args->stats : args->text ? args->text : "self-generated text", args->ctx,
            origin[info->origin]);
    if (info->origin == MVQ_CALIB_COMPUTED)
        fprintf(f, " in %.1f s", info->seconds);
    fprintf(f, "\n");
}

static void print_text(const massive_args *args, const mvq_massive_analysis *a, const mvq_calib_info *info)
{
    const mvq_hparams *hp = &a->hp;
    printf("model: %s (%s, %lld layers, %lld heads, %lld KV heads, head dim %lld, RoPE %s over %lld dims, base %g)\n",
           args->model, mvq_arch_name(hp->arch), (long long)hp->n_layer, (long long)hp->n_head,
           (long long)hp->n_head_kv, (long long)hp->head_dim, hp->rope_style == MVQ_ROPE_NEOX ? "neox" : "normal",
           (long long)hp->n_rot, hp->rope_freq_base);
    print_calibration(stdout, args, info);
    printf("norms: Q and K %s RoPE, V as the control\n", args->pre_rope ? "before" : "after");
    if (args->topk > 0)
        printf("rule: the %ld largest dimension%s of each head (--topk; --lambda L for the ratio rule)\n", args->topk,
               cli_plural(args->topk));
    else
        printf("rule: massive when M[h,d] > %g x mean over d of M[h,.]\n", args->lambda);
    for (int64_t l = a->layer_from; l <= a->layer_to; l++) {
        printf("\nlayer %lld: massive dims Q %d, K %d, V %d\n", (long long)l, mvq_massive_panel_at(a, l, 0)->n_massive,
               mvq_massive_panel_at(a, l, 1)->n_massive, mvq_massive_panel_at(a, l, 2)->n_massive);
        printf("  %-4s %4s %7s %7s %7s %5s %11s %11s %8s\n", "", "head", "massive", "top_dim", "ratio", "pair",
               "freq", "wavelength", "low_half");
        for (int w = 0; w < 3; w++) {
            const mvq_massive_panel *p = mvq_massive_panel_at(a, l, w);
            for (int h = 0; h < p->n_head; h++) {
                const mvq_massive_head *hd = &p->heads[h];
                mvq_rope_dim r = rope_of(hp, hd->top_dim);
                printf("  %-4s %4d %7d %7d %7.2f %5d %11.4g %11.1f %8.3f\n", h == 0 ? qkv_label[w] : "", h,
                       hd->n_massive, hd->top_dim, hd->top_ratio, r.pair, r.freq, r.wavelength, hd->lowfreq_share);
            }
        }
    }
    printf("\nsummary over layers %lld-%lld\n", (long long)a->layer_from, (long long)a->layer_to);
    for (int w = 0; w < 3; w++) {
        summary s = summarize(a, w);
        printf("  %s: %d massive dims in %d layers; top dim in the low-frequency half in %d of %d heads; "
               "ratio %.2f-%.2f (mean %.2f); most frequent top pair %d (%d heads)\n",
               qkv_label[w], s.n_massive, s.layers_with, s.low_half, s.n_heads, s.ratio_min, s.ratio_max,
               s.n_heads ? s.ratio_sum / s.n_heads : 0.0, s.pair_best, s.pair_votes_best);
    }
}

static void json_panel(cli_json *j, const mvq_hparams *hp, const mvq_massive_panel *p)
{
    cli_json_begin_object(j);
    cli_json_key(j, "n_massive");
    cli_json_i64(j, p->n_massive);
    cli_json_key(j, "heads");
    cli_json_begin_array(j);
    for (int h = 0; h < p->n_head; h++) {
        const mvq_massive_head *hd = &p->heads[h];
        mvq_rope_dim r = rope_of(hp, hd->top_dim);
        double mean = 0;
        for (int d = 0; d < p->head_dim; d++)
            mean += p->M[h * p->head_dim + d];
        cli_json_begin_object(j);
        cli_json_key(j, "head");
        cli_json_i64(j, h);
        cli_json_key(j, "top_dim");
        cli_json_i64(j, hd->top_dim);
        cli_json_key(j, "ratio");
        cli_json_f64(j, hd->top_ratio);
        cli_json_key(j, "pair");
        cli_json_i64(j, r.pair);
        cli_json_key(j, "freq");
        cli_json_f64(j, r.freq);
        cli_json_key(j, "wavelength");
        cli_json_f64(j, r.wavelength);
        cli_json_key(j, "lowfreq_share");
        cli_json_f64(j, hd->lowfreq_share);
        cli_json_key(j, "mean");
        cli_json_f64(j, mean / p->head_dim);
        cli_json_key(j, "M");
        cli_json_begin_array(j);
        for (int d = 0; d < p->head_dim; d++)
            cli_json_f32(j, p->M[h * p->head_dim + d]);
        cli_json_end_array(j);
        cli_json_key(j, "massive_dims");
        cli_json_begin_array(j);
        for (int d = 0; d < p->head_dim; d++)
            if (p->mask[h * p->head_dim + d])
                cli_json_i64(j, d);
        cli_json_end_array(j);
        cli_json_end_object(j);
    }
    cli_json_end_array(j);
    cli_json_end_object(j);
}

static void print_json(const massive_args *args, const mvq_massive_analysis *a, const mvq_calib_info *info)
{
    static const char *const origin[] = {"stats", "imatrix", "cache", "computed"};
    static const char *const keys[3] = {"q", "k", "v"};
    const mvq_hparams *hp = &a->hp;
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_key(&j, "model");
    cli_json_str(&j, args->model);
    const struct {
        const char *key;
        int64_t v;
    } ints[] = {{"n_layer", hp->n_layer}, {"n_head", hp->n_head}, {"n_head_kv", hp->n_head_kv},
                {"head_dim", hp->head_dim}, {"n_rot", hp->n_rot}, {"calib_tokens", info->n_tokens},
                {"ctx", args->ctx}, {"topk", args->topk}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        cli_json_key(&j, ints[i].key);
        cli_json_i64(&j, ints[i].v);
    }
    cli_json_key(&j, "rope_base");
    cli_json_f64(&j, hp->rope_freq_base);
    cli_json_key(&j, "pre_rope");
    cli_json_bool(&j, args->pre_rope);
    cli_json_key(&j, "lambda");
    cli_json_f64(&j, args->lambda);
    cli_json_key(&j, "calibration");
    cli_json_str(&j, args->stats ? args->stats : args->text ? args->text : "self-generated");
    cli_json_key(&j, "statistics");
    cli_json_str(&j, origin[info->origin]);
    cli_json_key(&j, "layers");
    cli_json_begin_array(&j);
    for (int64_t l = a->layer_from; l <= a->layer_to; l++) {
        cli_json_begin_object(&j);
        cli_json_key(&j, "layer");
        cli_json_i64(&j, l);
        for (int w = 0; w < 3; w++) {
            cli_json_key(&j, keys[w]);
            json_panel(&j, hp, mvq_massive_panel_at(a, l, w));
        }
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_key(&j, "summary");
    cli_json_begin_object(&j);
    for (int w = 0; w < 3; w++) {
        summary s = summarize(a, w);
        cli_json_key(&j, keys[w]);
        cli_json_begin_object(&j);
        const struct {
            const char *key;
            double v;
        } f[] = {{"n_massive", s.n_massive}, {"layers_with_massive", s.layers_with}, {"heads", s.n_heads},
                 {"top_in_low_half", s.low_half}, {"ratio_min", s.ratio_min}, {"ratio_max", s.ratio_max},
                 {"ratio_mean", s.n_heads ? s.ratio_sum / s.n_heads : 0.0}, {"top_pair", s.pair_best},
                 {"top_pair_heads", s.pair_votes_best}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
            cli_json_key(&j, f[i].key);
            cli_json_f64(&j, f[i].v);
        }
        cli_json_end_object(&j);
    }
    cli_json_end_object(&j);
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

static mvq_calib *obtain(const massive_args *args, const mvq_model *m, mvq_pool *pool, mvq_calib_info *info,
                         mvq_error *err)
{
    mvq_calib_request r;
    mvq_calib_request_default(&r);
    r.stats_path = args->stats;
    r.n_ctx = args->ctx;
    r.n_tokens = args->calib_tokens;
    r.no_cache = args->no_cache;
    r.progress = show_progress;
    r.pre_rope = args->pre_rope;
    int32_t *tokens = NULL;
    if (args->text) {
        if (mvq_calib_text_tokens(m, args->text, args->calib_tokens, &tokens, &r.n_tokens, err) != MVQ_OK)
            return NULL;
        r.tokens = tokens;
    }
    mvq_calib *c = mvq_calib_obtain(m, &r, pool, info, err);
    cli_progress_done();
    free(tokens);
    if (c && info->note[0])
        cli_info(1, "%s", info->note);
    if (c && info->origin == MVQ_CALIB_FROM_CACHE)
        cli_info(1, "statistics from the cache %s (%lld token%s; calibration skipped)", info->cache_path,
                 (long long)info->n_tokens, cli_plural(info->n_tokens));
    if (c && !mvq_calib_has_norms(c)) {
        mvq_error_set(err, MVQ_ERR_FORMAT, "%s: the statistics hold no Q/K/V norms", args->stats);
        mvq_calib_free(c);
        return NULL;
    }
    return c;
}

int cmd_massive(int argc, char **argv)
{
    massive_args args;
    int rc = parse_args(argc, argv, &args);
    if (rc)
        return rc < 0 ? 0 : rc;
    mvq_error err;
    mvq_error_clear(&err);
    mvq_model *m = NULL;
    mvq_pool *pool = NULL;
    mvq_calib *c = NULL;
    mvq_calib_info info;
    mvq_massive_analysis a = {0};
    const char *inputs[] = { args.model, args.text, args.stats, NULL };
    if (args.svg && (rc = cli_check_output(args.svg, inputs)) != CLI_EXIT_OK)
        return rc; /* before the calibration, not after */
    mvq_status st = mvq_isa_init(&err);
    if (st == MVQ_OK && args.text && cli_check_text(args.text) != CLI_EXIT_OK)
        return CLI_EXIT_FAIL;
    if (st == MVQ_OK && !(m = mvq_model_open(args.model, &err)))
        st = err.status;
    if (st == MVQ_OK && args.ctx > 0 && !args.stats)
        cli_warn_ctx(args.ctx, &m->hp);
    if (st == MVQ_OK && (args.layer_to >= m->hp.n_layer || args.layer_from >= m->hp.n_layer)) {
        const long long last = (long long)m->hp.n_layer - 1;
        mvq_model_free(m);
        return cli_usage_error("massive", "--layers: the model has layers 0-%lld", last);
    }
    if (st == MVQ_OK && !(pool = mvq_pool_create((int)args.threads)))
        st = mvq_error_set(&err, MVQ_ERR_NOMEM, "cannot start %ld thread%s", args.threads, cli_plural(args.threads));
    if (st == MVQ_OK && args.ctx == 0) /* as the library's default */
        args.ctx = m->hp.n_ctx_train > 0 && m->hp.n_ctx_train < 512 ? (long)m->hp.n_ctx_train : 512;
    if (st == MVQ_OK && !(c = obtain(&args, m, pool, &info, &err)))
        st = err.status;
    if (st == MVQ_OK) {
        const mvq_massive_params mp = {.lambda = args.lambda, .topk = (int)args.topk};
        st = mvq_massive_analyse(c, &mp, args.layer_from, args.layer_to >= 0 ? args.layer_to : m->hp.n_layer - 1,
                                 &a, &err);
    }
    if (st == MVQ_OK && args.svg)
        st = massive_write_svg(args.svg, &a, model_title(m, args.model), args.svg_shared_scale, &err);
    if (st == MVQ_OK) {
        if (args.json)
            print_json(&args, &a, &info);
        else
            print_text(&args, &a, &info);
    }
    mvq_massive_analysis_free(&a);
    mvq_calib_free(c);
    mvq_pool_free(pool);
    mvq_model_free(m);
    return st == MVQ_OK ? CLI_EXIT_OK : cli_fail(&err);
}
