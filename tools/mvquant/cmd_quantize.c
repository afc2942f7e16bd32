/* mvquant [--protect-massive | --ignore-massive] [options] IN.gguf OUT.gguf
 * The main job: calibrate, detect massive Q/K dimensions, quantize. */
#include "config.h"
#include "tools/mvquant/cli.h"

#include <getopt.h>
#include <mvquant/methods.h>
#include <mvquant/quantize.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TYPE "q4_k_m"

static void usage(void)
{
    printf("Usage: mvquant [--protect-massive | --ignore-massive] [OPTIONS] IN.gguf OUT.gguf\n"
           "       mvquant quantize [OPTIONS] IN.gguf OUT.gguf\n"
           "\n"
           "Quantizes IN into OUT, a GGUF file llama.cpp loads.  Calibration finds the\n"
           "input statistics of every linear layer (importance weights for the scale\n"
           "search) and the massive dimensions of the attention queries and keys.\n"
           "\n"
           "Massive values:\n"
           "  --protect-massive     (default) in layers where Q or K has massive dimensions,\n"
           "                        quantize attn_q and attn_k at --massive-type, and the rows\n"
           "                        producing those dimensions with the best error found\n"
           "  --ignore-massive      the same plan without that care, for comparison\n"
           "  --massive-type TYPE   type of protected attn_q/attn_k (default q8_0)\n"
           "  --lambda L            massive when M[h,d] > L * mean_d M[h,.] (default 5)\n"
           "  --massive-topk K      instead, the K largest dimensions of each head\n"
           "                        (default 1, as the paper's code; 0 uses --lambda)\n"
           "\n"
           "Types:\n"
           "  --type TYPE           a preset (llama.cpp's mixtures) or one type for all 2-D\n"
           "                        weights (default " DEFAULT_TYPE ")\n"
           "  --tensor-type RE=TYPE tensors whose name matches the extended regular\n"
           "                        expression RE get TYPE (repeatable; first match wins)\n"
           "  --output-tensor-type TYPE, --token-embedding-type TYPE\n"
           "  Presets:");
    for (const mvq_preset *p = mvq_presets(); p->name; p++)
        printf("%s %s", p == mvq_presets() ? "" : ",", p->name);
    printf("\n  Types: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K iq4_nl\n"
           "         iq4_xs\n"
           "  Rows that do not divide into a type's blocks fall back as llama.cpp does\n"
           "  (q4_K->q5_0, q5_K->q5_1, q6_K->q8_0, q2_K/q3_K/iq4_xs->iq4_nl), then f16.\n"
           "\n"
           "Method:\n"
           "  --method NAME         how tensors are quantized (default: the first):\n");
    for (const mvq_method *const *m = mvq_methods(); *m; m++)
        printf("    %-19s %s\n", (*m)->name, (*m)->about);
    printf("\n"
           "Calibration:\n"
           "  --calib FILE          calibration text, tokenized with the model's tokenizer\n"
           "  --calib-tokens N      tokens of it to use (default 16384)\n"
           "  --ctx N               sequence length of the calibration pass (default 512,\n"
           "                        at most the model's training context)\n"
           "                        Without --calib: %lld tokens the model writes itself from\n"
           "                        BOS (temperature 1, top-p 0.95, fixed seed).\n"
           "  --stats FILE          use saved statistics (no calibration)\n"
           "  --stats-out FILE      save the statistics (a GGUF file of F32 tensors)\n"
           "  --imatrix FILE        use a llama.cpp importance matrix (GGUF or .dat);\n"
           "                        no massive-value detection then\n"
           "  --no-cache            neither read nor write the statistics cache\n"
           "                        ($MVQ_CACHE_DIR, else $XDG_CACHE_HOME/mvquant)\n"
           "\n"
           "Other:\n"
           "  --threads N           worker threads (default: the number of cores)\n"
           "  --json                print the report as JSON on stdout\n"
           "  -h, --help            this help\n",
           (long long)4096);
}

enum {
    OPT_PROTECT = 256, OPT_IGNORE, OPT_MASSIVE_TYPE, OPT_LAMBDA, OPT_TOPK, OPT_TYPE, OPT_TENSOR_TYPE,
    OPT_OUTPUT_TYPE, OPT_EMBD_TYPE, OPT_METHOD, OPT_CALIB, OPT_CALIB_TOKENS, OPT_CTX, OPT_STATS,
    OPT_STATS_OUT, OPT_IMATRIX, OPT_NO_CACHE, OPT_THREADS, OPT_JSON,
};

static const struct option long_options[] = {
    {"protect-massive", no_argument, NULL, OPT_PROTECT},
    {"ignore-massive", no_argument, NULL, OPT_IGNORE},
    {"massive-type", required_argument, NULL, OPT_MASSIVE_TYPE},
    {"lambda", required_argument, NULL, OPT_LAMBDA},
    {"massive-topk", required_argument, NULL, OPT_TOPK},
    {"type", required_argument, NULL, OPT_TYPE},
    {"tensor-type", required_argument, NULL, OPT_TENSOR_TYPE},
    {"output-tensor-type", required_argument, NULL, OPT_OUTPUT_TYPE},
    {"token-embedding-type", required_argument, NULL, OPT_EMBD_TYPE},
    {"method", required_argument, NULL, OPT_METHOD},
    {"calib", required_argument, NULL, OPT_CALIB},
    {"calib-tokens", required_argument, NULL, OPT_CALIB_TOKENS},
    {"ctx", required_argument, NULL, OPT_CTX},
    {"stats", required_argument, NULL, OPT_STATS},
    {"stats-out", required_argument, NULL, OPT_STATS_OUT},
    {"imatrix", required_argument, NULL, OPT_IMATRIX},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct args {
    mvq_quantize_opts q;
    const char *type_name, *calib_text, *in, *out;
    mvq_calib_request req;
    int64_t calib_tokens;
    int threads;
    bool json;
} args;

/* A type name for --massive-type and the per-tensor options: one that we can quantize to. */
static int parse_type(const char *opt, const char *s, mvq_type *out)
{
    int t = mvq_type_from_name(s);
    if (t < 0 || !mvq_kernels()->from_float[t] || t == MVQ_TYPE_Q8_1 || t == MVQ_TYPE_Q8_K)
        return cli_usage_error("quantize", "%s: unknown or unsupported type '%s'", opt, s);
    *out = (mvq_type)t;
    return CLI_EXIT_OK;
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return cli_usage_error("quantize", "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
    *out = v;
    return CLI_EXIT_OK;
}

static int resolve_type(args *a)
{
    const mvq_preset *p = mvq_preset_find(a->type_name);
    if (p) {
        a->q.plan.ftype = p->ftype;
        a->q.plan.base = p->base;
        return CLI_EXIT_OK;
    }
    mvq_type t;
    if (parse_type("--type", a->type_name, &t) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    a->q.plan.ftype = MVQ_FTYPE_GUESSED;
    a->q.plan.base = t;
    return CLI_EXIT_OK;
}

static int parse_args(args *a, int argc, char **argv)
{
    long v;
    int c, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (c = cli_getopt("quantize", argc, argv, "h", long_options)) != -1) {
        switch (c) {
        case OPT_PROTECT: a->q.protect_massive = true; break;
        case OPT_IGNORE: a->q.protect_massive = false; break;
        case OPT_MASSIVE_TYPE: rc = parse_type("--massive-type", cli_optarg, &a->q.massive_type); break;
        case OPT_LAMBDA:
            a->q.massive.lambda = strtod(cli_optarg, NULL);
            a->q.massive.topk = 0;
            if (!(a->q.massive.lambda > 1.0 && a->q.massive.lambda < 1e6))
                rc = cli_usage_error("quantize", "--lambda: '%s' is not a number above 1", cli_optarg);
            break;
        case OPT_TOPK:
            if ((rc = parse_long("--massive-topk", cli_optarg, 0, 1024, &v)) == CLI_EXIT_OK)
                a->q.massive.topk = (int)v;
            break;
        case OPT_TYPE: a->type_name = cli_optarg; break;
        case OPT_TENSOR_TYPE: {
            char *eq = strrchr(cli_optarg, '=');
            int k = a->q.plan.n_overrides;
            if (!eq || eq == cli_optarg)
                rc = cli_usage_error("quantize", "--tensor-type: expected REGEX=TYPE, got '%s'", cli_optarg);
            else if (k == MVQ_PLAN_MAX_OVERRIDES)
                rc = cli_usage_error("quantize", "--tensor-type: at most %d of them", MVQ_PLAN_MAX_OVERRIDES);
            else if ((rc = parse_type("--tensor-type", eq + 1, &a->q.plan.override_type[k])) == CLI_EXIT_OK) {
                *eq = '\0';
                a->q.plan.override_regex[k] = cli_optarg;
                a->q.plan.n_overrides++;
            }
            break;
        }
        case OPT_OUTPUT_TYPE: {
            mvq_type t;
            if ((rc = parse_type("--output-tensor-type", cli_optarg, &t)) == CLI_EXIT_OK)
                a->q.plan.output_type = (int)t;
            break;
        }
        case OPT_EMBD_TYPE: {
            mvq_type t;
            if ((rc = parse_type("--token-embedding-type", cli_optarg, &t)) == CLI_EXIT_OK)
                a->q.plan.token_embd_type = (int)t;
            break;
        }
        case OPT_METHOD: {
            char names[256];
            mvq_method_list(names, sizeof names);
            if (!(a->q.method = mvq_method_find(cli_optarg)))
                rc = cli_usage_error("quantize", "--method: unknown method '%s' (registered: %s)", cli_optarg, names);
            break;
        }
        case OPT_CALIB: a->calib_text = cli_optarg; break;
        case OPT_CALIB_TOKENS:
            if ((rc = parse_long("--calib-tokens", cli_optarg, 16, 1L << 30, &v)) == CLI_EXIT_OK)
                a->calib_tokens = v;
            break;
        case OPT_CTX:
            if ((rc = parse_long("--ctx", cli_optarg, 2, 1L << 20, &v)) == CLI_EXIT_OK)
                a->req.n_ctx = v;
            break;
        case OPT_STATS: a->req.stats_path = cli_optarg; break;
        case OPT_STATS_OUT: a->req.stats_out = cli_optarg; break;
        case OPT_IMATRIX: a->req.imatrix_path = cli_optarg; break;
        case OPT_NO_CACHE: a->req.no_cache = true; break;
        case OPT_THREADS:
            if ((rc = parse_long("--threads", cli_optarg, 1, 1024, &v)) == CLI_EXIT_OK)
                a->threads = (int)v;
            break;
        case OPT_JSON: a->json = true; break;
        case 'h': usage(); return -1;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if (argc - cli_optind != 2)
        return cli_usage_error("quantize", "expected IN.gguf OUT.gguf");
    a->in = argv[cli_optind];
    a->out = argv[cli_optind + 1];
    if (a->req.stats_path && a->req.imatrix_path)
        return cli_usage_error("quantize", "--stats and --imatrix exclude each other");
    return resolve_type(a);
}

static void calib_progress(void *user, const char *phase, int64_t done, int64_t total)
{
    cli_progress(phase, (uint64_t)done, (uint64_t)total);
}

static void tensor_progress(void *user, const mvq_tensor_report *t, int64_t i, int64_t n)
{
    cli_progress("quantize", (uint64_t)(i + 1), (uint64_t)n);
}

static void print_report(const args *a, const mvq_quantize_report *r, const mvq_calib_info *ci)
{
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "input"); cli_json_str(&j, a->in);
        cli_json_key(&j, "output"); cli_json_str(&j, a->out);
        cli_json_key(&j, "type"); cli_json_str(&j, a->type_name);
        cli_json_key(&j, "method"); cli_json_str(&j, a->q.method->name);
        cli_json_key(&j, "massive"); cli_json_str(&j, a->q.protect_massive ? "protect" : "ignore");
        cli_json_key(&j, "massive_type"); cli_json_str(&j, mvq_type_name(a->q.massive_type));
        cli_json_key(&j, "lambda"); cli_json_f64(&j, a->q.massive.lambda);
        cli_json_key(&j, "topk"); cli_json_i64(&j, a->q.massive.topk);
        cli_json_key(&j, "calibration_tokens"); cli_json_i64(&j, ci ? ci->n_tokens : 0);
        cli_json_key(&j, "layers_with_massive"); cli_json_i64(&j, r->n_layers_massive);
        cli_json_key(&j, "massive_q"); cli_json_i64(&j, r->n_massive_q);
        cli_json_key(&j, "massive_k"); cli_json_i64(&j, r->n_massive_k);
        cli_json_key(&j, "tensors");
        cli_json_begin_array(&j);
        for (int64_t i = 0; i < r->n_tensors; i++) {
            const mvq_tensor_report *t = &r->tensors[i];
            cli_json_begin_object(&j);
            cli_json_key(&j, "name"); cli_json_str(&j, t->name);
            cli_json_key(&j, "from"); cli_json_str(&j, mvq_type_name(t->from));
            cli_json_key(&j, "type"); cli_json_str(&j, mvq_type_name(t->to));
            cli_json_key(&j, "bytes"); cli_json_u64(&j, t->bytes);
            cli_json_key(&j, "quantized"); cli_json_bool(&j, t->quantized);
            cli_json_key(&j, "fallback"); cli_json_bool(&j, t->fallback);
            cli_json_key(&j, "protected"); cli_json_bool(&j, t->is_protected);
            if (t->quantized) {
                cli_json_key(&j, "rel_err"); cli_json_f64(&j, t->rel_err);
            }
            if (t->n_massive_rows) {
                cli_json_key(&j, "massive_rows"); cli_json_i64(&j, t->n_massive_rows);
                cli_json_key(&j, "massive_rel_err"); cli_json_f64(&j, t->massive_rel_err);
            }
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_key(&j, "weights"); cli_json_u64(&j, r->n_weights);
        cli_json_key(&j, "bytes_in"); cli_json_u64(&j, r->bytes_in);
        cli_json_key(&j, "bytes_out"); cli_json_u64(&j, r->bytes_out);
        cli_json_key(&j, "file_bytes"); cli_json_u64(&j, r->file_bytes);
        cli_json_key(&j, "protect_bytes"); cli_json_u64(&j, r->protect_bytes);
        cli_json_key(&j, "bpw"); cli_json_f64(&j, r->bpw);
        cli_json_key(&j, "seconds"); cli_json_f64(&j, r->seconds);
        cli_json_end_object(&j);
        cli_json_finish(&j);
        return;
    }
    printf("%-28s %-7s %-7s %10s %9s  %s\n", "tensor", "from", "to", "bytes", "rel.err", "massive rows (rel.err)");
    for (int64_t i = 0; i < r->n_tensors; i++) {
        const mvq_tensor_report *t = &r->tensors[i];
        cli_print_name(stdout, t->name, strlen(t->name), 28);
        printf(" %-7s %-7s %10llu ", mvq_type_name(t->from), mvq_type_name(t->to), (unsigned long long)t->bytes);
        if (t->quantized)
            printf("%9.5f", t->rel_err);
        else
            printf("%9s", "copied");
        if (t->n_massive_rows)
            printf("  %d", t->n_massive_rows);
        if (t->n_massive_rows && t->massive_rel_err >= 0)
            printf(" (%.5f)", t->massive_rel_err);
        printf("%s%s\n", t->is_protected ? "  protected" : "", t->fallback ? "  fallback" : "");
    }
    printf("\n%s -> %s: %llu weights, %.3f bits per weight, %llu bytes (tensor data %llu -> %llu)\n", a->in, a->out,
           (unsigned long long)r->n_weights, r->bpw, (unsigned long long)r->file_bytes,
           (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
    printf("massive values: %s; %d layers with massive Q/K dimensions (%d in Q, %d in K); "
           "protection cost %llu bytes (%.2f%%)\n",
           a->q.protect_massive ? "protected" : "ignored", r->n_layers_massive, r->n_massive_q, r->n_massive_k,
           (unsigned long long)r->protect_bytes,
           r->bytes_out ? 100.0 * (double)r->protect_bytes / (double)(r->bytes_out - r->protect_bytes) : 0.0);
    printf("elapsed %.2f s\n", r->seconds);
}

int cmd_quantize(int argc, char **argv)
{
    args a = {
        .q = { .method = mvq_method_default(), .protect_massive = true, .massive_type = MVQ_TYPE_Q8_0,
               .massive = { .lambda = 5.0, .topk = 1 },
               .plan = { .output_type = -1, .token_embd_type = -1 } },
        .type_name = DEFAULT_TYPE,
        .calib_tokens = 16384,
    };
    mvq_calib_request_default(&a.req);
    int rc = parse_args(&a, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;

    mvq_error err;
    mvq_gguf *in = NULL;
    mvq_model *model = NULL;
    mvq_pool *pool = NULL;
    mvq_calib *calib = NULL;
    int32_t *tokens = NULL;
    int64_t n_tokens = 0;
    mvq_calib_info info;
    mvq_quantize_report rep = { 0 };
    memset(&info, 0, sizeof info);

    if (!(in = mvq_gguf_open(a.in, &err))) {
        rc = cli_fail(&err);
        goto out;
    }
    if (!(pool = mvq_pool_create(a.threads))) {
        cli_error("cannot start %d threads", a.threads);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    model = mvq_model_from_gguf(in, &err);
    if (!model) {
        if (a.calib_text || a.req.stats_path || a.req.imatrix_path || cli_verbosity > 1)
            cli_info(1, "%s; quantizing without calibration", err.msg);
        else
            cli_info(1, "mvquant: %s: cannot run this model (%s): plain round to nearest, no massive-value detection",
                     a.in, err.msg);
    } else {
        if (a.calib_text && mvq_calib_text_tokens(model, a.calib_text, a.calib_tokens, &tokens, &n_tokens, &err)) {
            rc = cli_fail(&err);
            goto out;
        }
        a.req.tokens = tokens;
        a.req.n_tokens = n_tokens;
        a.req.progress = calib_progress;
        if (!(calib = mvq_calib_obtain(model, &a.req, pool, &info, &err))) {
            cli_progress_done();
            rc = cli_fail(&err);
            goto out;
        }
        cli_progress_done();
        static const char *const origin[] = { "loaded from", "imported from", "cached in", "computed" };
        cli_info(1, "statistics %s%s%s (%lld tokens%s)", origin[info.origin],
                 info.origin == MVQ_CALIB_COMPUTED ? "" : " ",
                 info.origin == MVQ_CALIB_FROM_STATS     ? a.req.stats_path
                 : info.origin == MVQ_CALIB_FROM_IMATRIX ? a.req.imatrix_path
                 : info.origin == MVQ_CALIB_FROM_CACHE   ? info.cache_path : "",
                 (long long)info.n_tokens,
                 info.origin == MVQ_CALIB_FROM_CACHE ? "; calibration skipped" : "");
        if (info.note[0])
            cli_info(1, "%s", info.note);
        if (!mvq_calib_has_norms(calib) && a.q.protect_massive)
            cli_info(1, "no Q/K statistics (importance matrix only): no massive dimensions to protect");
        a.q.plan.has_imatrix = true;
    }
    a.q.calib = calib;
    a.q.pool = pool;
    a.q.progress = tensor_progress;
    mvq_status st = mvq_quantize_file(in, a.out, &a.q, &rep, &err);
    cli_progress_done();
    if (st != MVQ_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    print_report(&a, &rep, calib ? &info : NULL);
out:
    mvq_quantize_report_free(&rep);
    mvq_calib_free(calib);
    free(tokens);
    mvq_model_free(model);
    mvq_pool_free(pool);
    mvq_gguf_close(in);
    return rc;
}
