/* mvquant [--protect-massive | --ignore-massive] [options] IN.gguf OUT.gguf
 * The main job: calibrate, detect massive Q/K dimensions, quantize. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/quantize_llama.h"
#include "tools/mvquant/quantize_budget.h"
#include "tools/mvquant/quantize_report.h"
#include "tools/mvquant/quantize_usage.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <mvquant/methods.h>
#include <mvquant/quantize.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TYPE QUANTIZE_DEFAULT_TYPE


enum {
    OPT_PROTECT = 256, OPT_IGNORE, OPT_MASSIVE_TYPE, OPT_LAMBDA, OPT_TOPK, OPT_TYPE, OPT_TENSOR_TYPE,
    OPT_OUTPUT_TYPE, OPT_EMBD_TYPE, OPT_METHOD, OPT_CALIB, OPT_CALIB_TOKENS, OPT_CTX, OPT_STATS,
    OPT_STATS_OUT, OPT_IMATRIX, OPT_NO_CACHE, OPT_THREADS, OPT_JSON, OPT_NO_CALIB, OPT_ALLOW_REQUANTIZE,
    OPT_LEAVE_OUTPUT, OPT_PURE, OPT_KEEP_SPLIT, OPT_INCLUDE_WEIGHTS, OPT_EXCLUDE_WEIGHTS, OPT_OVERRIDE_KV,
    OPT_SEQUENTIAL, OPT_NO_SEQUENTIAL, OPT_GPTQ_DAMP, OPT_GPTQ_BLOCK, OPT_ACT_ORDER, OPT_NO_ACT_ORDER,
    OPT_GPTQ_REFIT, OPT_NO_GPTQ_REFIT, OPT_SMOOTH_ALPHA, OPT_AWQ_TOKENS, OPT_AWQ_DUO, OPT_AWQ_MASSIVE, OPT_AWQ_NO_CLIP,
    OPT_TARGET_SIZE, OPT_TARGET_BPW, OPT_SAME_SIZE_AS, OPT_PLAN_ONLY,
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
    {"no-calib", no_argument, NULL, OPT_NO_CALIB},
    {"allow-requantize", no_argument, NULL, OPT_ALLOW_REQUANTIZE},
    {"leave-output-tensor", no_argument, NULL, OPT_LEAVE_OUTPUT},
    {"pure", no_argument, NULL, OPT_PURE},
    {"keep-split", no_argument, NULL, OPT_KEEP_SPLIT},
    {"include-weights", required_argument, NULL, OPT_INCLUDE_WEIGHTS},
    {"exclude-weights", required_argument, NULL, OPT_EXCLUDE_WEIGHTS},
    {"override-kv", required_argument, NULL, OPT_OVERRIDE_KV},
    {"sequential", no_argument, NULL, OPT_SEQUENTIAL},
    {"no-sequential", no_argument, NULL, OPT_NO_SEQUENTIAL},
    {"gptq-damp", required_argument, NULL, OPT_GPTQ_DAMP},
    {"gptq-block", required_argument, NULL, OPT_GPTQ_BLOCK},
    {"act-order", no_argument, NULL, OPT_ACT_ORDER},
    {"no-act-order", no_argument, NULL, OPT_NO_ACT_ORDER},
    {"gptq-refit", no_argument, NULL, OPT_GPTQ_REFIT},
    {"no-gptq-refit", no_argument, NULL, OPT_NO_GPTQ_REFIT},
    {"smooth-alpha", required_argument, NULL, OPT_SMOOTH_ALPHA},
    {"awq-tokens", required_argument, NULL, OPT_AWQ_TOKENS},
    {"awq-duo", no_argument, NULL, OPT_AWQ_DUO},
    {"awq-massive", required_argument, NULL, OPT_AWQ_MASSIVE},
    {"awq-no-clip", no_argument, NULL, OPT_AWQ_NO_CLIP},
    {"target-size", required_argument, NULL, OPT_TARGET_SIZE},
    {"target-bpw", required_argument, NULL, OPT_TARGET_BPW},
    {"same-size-as", required_argument, NULL, OPT_SAME_SIZE_AS},
    {"plan-only", no_argument, NULL, OPT_PLAN_ONLY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct args {
    mvq_quantize_opts q;
    const char *type_name, *calib_text, *in, *out;
    mvq_calib_request req;
    int64_t calib_tokens;
    int threads;
    bool json, no_calib, allow_requantize, leave_output, pure;
    bool type_set, massive_type_set, threads_set, ctx_set;
    char out_buf[4096]; /* the output named after the input (IN TYPE) */
    /* the method's options (--gptq-*), as "key=value" */
    char method_opt[4][48];
    const char *method_opts[5];
    const char *method_opt_of[4]; /* the method each option belongs to */
    int n_method_opts;
    llama_opts llama;   /* --include-weights, --exclude-weights, --override-kv */
    budget_opts budget; /* --target-size, --target-bpw, --same-size-as, --plan-only */
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
    if (!cli_parse_long(s, lo, hi, out))
        return cli_usage_error("quantize", "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
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

/* llama-quantize's type words: a preset, one of its aliases, or a type. */
static bool is_type_word(const char *s)
{
    if (mvq_preset_find(s) || strcasecmp(s, "q3_k") == 0 || strcasecmp(s, "q4_k") == 0 ||
        strcasecmp(s, "q5_k") == 0)
        return true;
    int t = mvq_type_from_name(s);
    return t >= 0 && mvq_kernels()->from_float[t] && t != MVQ_TYPE_Q8_1 && t != MVQ_TYPE_Q8_K;
}

static bool is_number(const char *s)
{
    long v;
    return cli_parse_long(s, LONG_MIN, LONG_MAX, &v);
}

/* llama-quantize's aliases Q3_K, Q4_K, Q5_K stand for the _M mixtures. */
static const char *preset_word(const char *s)
{
    static const char *const alias[][2] = { { "q3_k", "q3_k_m" }, { "q4_k", "q4_k_m" }, { "q5_k", "q5_k_m" } };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcasecmp(s, alias[i][0]) == 0)
            return alias[i][1];
    return s;
}

/* IN OUT, IN TYPE [NTHREADS], IN OUT TYPE [NTHREADS] (llama-quantize's
 * forms; IN TYPE writes <IN's folder>/ggml-model-<TYPE>.gguf as it does). */
static int parse_positional(args *a, int n, char **pos)
{
    const char *type = NULL, *threads = NULL;
    if (n < 2 || n > 4)
        return cli_usage_error("quantize", "expected IN.gguf OUT.gguf, IN.gguf TYPE [NTHREADS] or "
                                           "IN.gguf OUT.gguf TYPE [NTHREADS]");
    a->in = pos[0];
    if (is_type_word(pos[1]) && (n == 2 || (n == 3 && is_number(pos[2])))) {
        type = pos[1];
        threads = n == 3 ? pos[2] : NULL;
        const char *slash = strrchr(a->in, '/');
        int dir = slash ? (int)(slash - a->in) + 1 : 0;
        char upper[32];
        size_t i = 0;
        for (; type[i] && i + 1 < sizeof upper; i++)
            upper[i] = (char)toupper((unsigned char)type[i]);
        upper[i] = '\0';
        /* with --keep-split a prefix, as llama-quantize names it */
        snprintf(a->out_buf, sizeof a->out_buf, "%.*sggml-model-%s%s", dir, a->in, upper,
                 a->q.keep_split ? "" : ".gguf");
        a->out = a->out_buf;
    } else {
        if (is_type_word(pos[1]))
            return cli_usage_error("quantize", "'%s' is a type, not an output file: IN.gguf TYPE [NTHREADS] "
                                               "or IN.gguf OUT.gguf TYPE [NTHREADS]", pos[1]);
        a->out = a->q.keep_split ? cli_split_prefix(pos[1], a->out_buf, sizeof a->out_buf) : pos[1];
        if (n >= 3 && !is_type_word(pos[2]))
            return cli_usage_error("quantize", "'%s' is not a type or preset (IN.gguf OUT.gguf TYPE [NTHREADS])",
                                   pos[2]);
        type = n >= 3 ? pos[2] : NULL;
        threads = n == 4 ? pos[3] : NULL;
    }
    if (type) {
        if (a->type_set)
            return cli_usage_error("quantize", "the type is given twice: --type %s and '%s'", a->type_name, type);
        a->type_name = preset_word(type);
    }
    if (threads) {
        long v;
        if (a->threads_set)
            return cli_usage_error("quantize", "the thread count is given twice: --threads and '%s'", threads);
        int rc = parse_long("NTHREADS", threads, 1, 1024, &v);
        if (rc != CLI_EXIT_OK)
            return rc;
        a->threads = (int)v;
    }
    return CLI_EXIT_OK;
}

/* One "key=value" for the method; a key given again takes the last value. */
static int method_opt(args *a, const char *method, const char *key, const char *value)
{
    int k = 0;
    while (k < a->n_method_opts && strncmp(a->method_opt[k], key, strlen(key)) != 0)
        k++;
    if (k == 4)
        return cli_usage_error("quantize", "too many method options");
    snprintf(a->method_opt[k], sizeof a->method_opt[k], "%s=%.30s", key, value);
    a->method_opts[k] = a->method_opt[k];
    a->method_opt_of[k] = method;
    if (k == a->n_method_opts)
        a->n_method_opts++;
    return CLI_EXIT_OK;
}

/* A method option that is a number from 0 to hi. */
static int number_opt(args *a, const char *opt, double hi, const char *method, const char *key)
{
    char *end;
    double x = strtod(cli_optarg, &end);
    if (end == cli_optarg || *end || !(x >= 0 && x <= hi))
        return cli_usage_error("quantize", "%s: '%s' is not a number from 0 to %g", opt, cli_optarg, hi);
    return method_opt(a, method, key, cli_optarg);
}

static int parse_args(args *a, int argc, char **argv)
{
    long v;
    int c, rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (c = cli_getopt("quantize", argc, argv, "h", long_options)) != -1) {
        switch (c) {
        case OPT_PROTECT: a->q.protect_massive = true; break;
        case OPT_IGNORE: a->q.protect_massive = false; break;
        case OPT_MASSIVE_TYPE:
            rc = parse_type("--massive-type", cli_optarg, &a->q.massive_type);
            a->massive_type_set = true;
            break;
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
        case OPT_TYPE: a->type_name = cli_optarg, a->type_set = true; break;
        case OPT_TENSOR_TYPE: {
            char *eq = strrchr(cli_optarg, '=');
            int k = a->q.plan.n_overrides;
            if (!eq || eq == cli_optarg)
                rc = cli_usage_error("quantize", "--tensor-type: expected REGEX=TYPE, got '%s'", cli_optarg);
            else if (k == MVQ_PLAN_MAX_OVERRIDES)
                rc = cli_usage_error("quantize", "--tensor-type: at most %d of them", MVQ_PLAN_MAX_OVERRIDES);
            else if ((rc = parse_type("--tensor-type", eq + 1, &a->q.plan.override_type[k])) == CLI_EXIT_OK) {
                *eq = '\0';
                regex_t re;
                int bad = regcomp(&re, cli_optarg, REG_EXTENDED | REG_NOSUB);
                if (bad) {
                    char why[128];
                    regerror(bad, &re, why, sizeof why);
                    rc = cli_usage_error("quantize", "--tensor-type: bad regular expression '%s': %s", cli_optarg,
                                         why);
                    break;
                }
                regfree(&re);
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
                a->req.n_ctx = v, a->ctx_set = true;
            break;
        case OPT_STATS: a->req.stats_path = cli_optarg; break;
        case OPT_STATS_OUT: a->req.stats_out = cli_optarg; break;
        case OPT_IMATRIX: a->req.imatrix_path = cli_optarg; break;
        case OPT_NO_CACHE: a->req.no_cache = true; break;
        case OPT_THREADS:
            if ((rc = parse_long("--threads", cli_optarg, 1, 1024, &v)) == CLI_EXIT_OK)
                a->threads = (int)v, a->threads_set = true;
            break;
        case OPT_JSON: a->json = true; break;
        case OPT_NO_CALIB: a->no_calib = true; break;
        case OPT_ALLOW_REQUANTIZE: a->allow_requantize = true; break;
        case OPT_LEAVE_OUTPUT: a->leave_output = true; break;
        case OPT_PURE: a->pure = true; break;
        case OPT_KEEP_SPLIT: a->q.keep_split = true; break;
        case OPT_INCLUDE_WEIGHTS: rc = llama_parse_weights(&a->llama, true, cli_optarg); break;
        case OPT_EXCLUDE_WEIGHTS: rc = llama_parse_weights(&a->llama, false, cli_optarg); break;
        case OPT_OVERRIDE_KV: rc = llama_parse_kv(&a->llama, cli_optarg); break;
        case OPT_SEQUENTIAL: a->q.sequential = true; break;
        case OPT_NO_SEQUENTIAL: a->q.sequential = false; break;
        case OPT_GPTQ_DAMP: rc = number_opt(a, "--gptq-damp", 1e6, "gptq", "damp"); break;
        case OPT_GPTQ_BLOCK:
            if ((rc = parse_long("--gptq-block", cli_optarg, 1, 1L << 20, &v)) == CLI_EXIT_OK)
                rc = method_opt(a, "gptq", "block", cli_optarg);
            break;
        case OPT_ACT_ORDER: rc = method_opt(a, "gptq", "act_order", "1"); break;
        case OPT_NO_ACT_ORDER: rc = method_opt(a, "gptq", "act_order", "0"); break;
        case OPT_GPTQ_REFIT: rc = method_opt(a, "gptq", "refit", "1"); break;
        case OPT_NO_GPTQ_REFIT: rc = method_opt(a, "gptq", "refit", "0"); break;
        case OPT_SMOOTH_ALPHA: rc = number_opt(a, "--smooth-alpha", 1, "smoothquant", "alpha"); break;
        case OPT_AWQ_TOKENS:
            if ((rc = parse_long("--awq-tokens", cli_optarg, 16, 1L << 24, &v)) == CLI_EXIT_OK)
                rc = method_opt(a, "awq", "tokens", cli_optarg);
            break;
        case OPT_AWQ_DUO: rc = method_opt(a, "awq", "duo", "1"); break;
        case OPT_AWQ_MASSIVE: rc = number_opt(a, "--awq-massive", 1e6, "awq", "massive"); break;
        case OPT_AWQ_NO_CLIP: rc = method_opt(a, "awq", "clip", "0"); break;
        case OPT_TARGET_SIZE: a->budget.target_size = cli_optarg; break;
        case OPT_SAME_SIZE_AS: a->budget.same_size_as = cli_optarg; break;
        case OPT_PLAN_ONLY: a->budget.plan_only = true; break;
        case OPT_TARGET_BPW: {
            char *end;
            a->budget.target_bpw = strtod(cli_optarg, &end);
            if (end == cli_optarg || *end || !(a->budget.target_bpw > 0 && a->budget.target_bpw <= 32))
                return cli_usage_error("quantize", "--target-bpw %s: bits per weight between 0 and 32", cli_optarg);
            break;
        }
        case 'h': quantize_usage(); return -1;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    if ((rc = parse_positional(a, argc - cli_optind, argv + cli_optind)) != CLI_EXIT_OK)
        return rc;
    if (a->req.stats_path && a->req.imatrix_path)
        return cli_usage_error("quantize", "--stats and --imatrix exclude each other");
    if ((rc = budget_check_args(&a->budget)) != CLI_EXIT_OK)
        return rc;
    if ((rc = llama_install(&a->llama, &a->q)) != CLI_EXIT_OK)
        return rc;
    if (a->no_calib && (a->calib_text || a->req.stats_path || a->req.imatrix_path || a->req.stats_out))
        return cli_usage_error("quantize", "--no-calib excludes --calib, --stats, --imatrix and --stats-out");
    for (int k = 0; k < a->n_method_opts; k++)
        if (strcmp(a->method_opt_of[k], a->q.method->name) != 0)
            return cli_usage_error("quantize", "'%s': an option of --method %s, not of '%s'", a->method_opt[k],
                                   a->method_opt_of[k], a->q.method->name);
    a->method_opts[a->n_method_opts] = NULL;
    a->q.method_opts = a->method_opts;
    return resolve_type(a);
}

static void calib_progress(void *user, const char *phase, int64_t done, int64_t total)
{
    cli_progress(phase, (uint64_t)done, (uint64_t)total);
}

static void tensor_progress(void *user, const mvq_tensor_report *t, int64_t i, int64_t n)
{
    cli_progress_item("quantize", (uint64_t)(i + 1), (uint64_t)n, t->name, mvq_type_name(t->to));
}


/* Adds --tensor-type REGEX=TYPE entries for --leave-output-tensor (first)
 * and --pure (last, after the user's and the output/embedding types). */
static int add_override(mvq_plan_params *p, bool first, const char *re, mvq_type t)
{
    if (p->n_overrides == MVQ_PLAN_MAX_OVERRIDES)
        return cli_usage_error("quantize", "--tensor-type: at most %d of them with --pure and --leave-output-tensor",
                               MVQ_PLAN_MAX_OVERRIDES - 3);
    int at = first ? 0 : p->n_overrides;
    size_t after = (size_t)(p->n_overrides - at);
    memmove(&p->override_regex[at + 1], &p->override_regex[at], sizeof p->override_regex[0] * after);
    memmove(&p->override_type[at + 1], &p->override_type[at], sizeof p->override_type[0] * after);
    p->override_regex[at] = re;
    p->override_type[at] = t;
    p->n_overrides++;
    return CLI_EXIT_OK;
}

static int llama_overrides(args *a, const mvq_gguf *in)
{
    mvq_plan_params *p = &a->q.plan;
    int rc = CLI_EXIT_OK;
    if (a->pure && p->output_type >= 0)
        rc = add_override(p, false, "^output\\.weight$", (mvq_type)p->output_type);
    if (rc == CLI_EXIT_OK && a->pure && p->token_embd_type >= 0)
        rc = add_override(p, false, "^token_embd\\.weight$", (mvq_type)p->token_embd_type);
    if (rc == CLI_EXIT_OK && a->pure)
        rc = add_override(p, false, ".", p->base);
    const mvq_gguf_tensor *out = mvq_gguf_find_tensor(in, "output.weight");
    if (rc == CLI_EXIT_OK && a->leave_output && out)
        rc = add_override(p, true, "^output\\.weight$", (mvq_type)out->type);
    return rc;
}

static bool is_attn_qk(const char *name)
{
    const mvq_linear l = mvq_tensor_linear(name, NULL);
    return l == MVQ_LINEAR_Q || l == MVQ_LINEAR_K;
}

/* Types whose quantizer uses importance weights: every block type.  Q8_0
 * too, unlike llama.cpp's: measured on the fixtures (tinystories-eval, n_ctx
 * 256), its importance-weighted scales lower the mean KLD against F32 from
 * 0.000716 to 0.000637 (stories260K) and 0.000081 to 0.000077 (tinyrope-3M). */
static bool uses_importance(mvq_type t)
{
    const mvq_type_traits *tr = mvq_type_traits_get(t);
    return tr && tr->is_quantized;
}

/* What the plan says before any long work: already quantized input,
 * a --massive-type below a planned type, whether statistics are used. */
static int check_plan(args *a, const mvq_gguf *in, bool *needs_calib)
{
    int64_t n = mvq_gguf_n_tensors(in);
    mvq_tensor_plan *plan = calloc((size_t)(n ? n : 1), sizeof *plan);
    mvq_error err;
    mvq_error_clear(&err);
    if (!plan) {
        cli_error("out of memory planning %s", a->in);
        return CLI_EXIT_FAIL;
    }
    a->q.plan.has_imatrix = !a->no_calib;
    mvq_status st = mvq_plan_make(in, &a->q.plan, plan, &err);
    int rc = st == MVQ_OK ? CLI_EXIT_OK : cli_fail(&err);
    const mvq_gguf_tensor *requant = NULL;
    *needs_calib = a->req.stats_out != NULL;
    for (int64_t i = 0; rc == CLI_EXIT_OK && i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        const mvq_type_traits *from = mvq_type_traits_get((mvq_type)t->type);
        if (!plan[i].quantize)
            continue;
        bool convert = plan[i].type != (mvq_type)t->type;
        if (convert && from && from->is_quantized && !requant)
            requant = t;
        if (convert && uses_importance(plan[i].type))
            *needs_calib = true;
        if (!a->q.protect_massive || !is_attn_qk(t->name.data))
            continue;
        size_t planned = mvq_row_size(plan[i].type, t->ne[0]), raised = mvq_row_size(a->q.massive_type, t->ne[0]);
        if (raised > planned)
            *needs_calib = true;
        else if (a->massive_type_set && raised < planned)
            rc = cli_usage_error("quantize", "--massive-type %s is below the type planned for %s (%s): "
                                             "protection never lowers precision",
                                 mvq_type_name(a->q.massive_type), t->name.data, mvq_type_name(plan[i].type));
    }
    if (rc == CLI_EXIT_OK && requant && !a->allow_requantize) {
        cli_error("%s: already quantized (%s is %s): requantizing loses quality; --allow-requantize to do it anyway",
                  a->in, requant->name.data, mvq_type_name((mvq_type)requant->type));
        rc = CLI_EXIT_FAIL;
    } else if (rc == CLI_EXIT_OK && requant) {
        cli_info(1, "mvquant: %s: requantizing from %s (%s): quality suffers against quantizing from 16 or 32 bits",
                 a->in, mvq_type_name((mvq_type)requant->type), requant->name.data);
    }
    free(plan);
    return rc;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The calibration tokens of --calib (checked as text already): enough of them. */
#define MIN_CALIB_TOKENS 16
static int calib_text_tokens(const args *a, const mvq_model *model, int32_t **tokens, int64_t *n_tokens)
{
    mvq_error err;
    mvq_error_clear(&err);
    if (mvq_calib_text_tokens(model, a->calib_text, a->calib_tokens, tokens, n_tokens, &err) != MVQ_OK) {
        if (err.status == MVQ_ERR_FORMAT && strstr(err.msg, "no tokens")) {
            cli_error("%s: no tokens in the calibration text; calibration needs at least %d", a->calib_text,
                      MIN_CALIB_TOKENS);
            return CLI_EXIT_FAIL;
        }
        return cli_fail(&err);
    }
    if (*n_tokens < MIN_CALIB_TOKENS) {
        cli_error("%s: %lld token%s of calibration text; calibration needs at least %d", a->calib_text,
                  (long long)*n_tokens, cli_plural(*n_tokens), MIN_CALIB_TOKENS);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static void selfgen_progress(void *user, int64_t done, int64_t total)
{
    (void)user;
    cli_progress("generate", (uint64_t)done, (uint64_t)total);
}

/* The tokens a layer-by-layer method's pass runs: --calib's, else text the
 * model writes itself as calibration does. */
static int layerwise_tokens(args *a, const mvq_model *model, mvq_pool *pool, int32_t **tokens, int64_t *n_tokens)
{
    if (*tokens) {
        a->q.calib_tokens = *tokens;
        a->q.n_calib_tokens = *n_tokens;
        a->q.calib_ctx = a->req.n_ctx;
        return CLI_EXIT_OK;
    }
    mvq_selfgen_params self = a->req.self;
    if (a->req.n_ctx > 0)
        self.seq_len = a->req.n_ctx;
    self.progress = selfgen_progress;
    mvq_error err;
    if (mvq_calib_self_tokens(model, &self, pool, tokens, n_tokens, &err) != MVQ_OK) {
        cli_progress_done();
        return cli_fail(&err);
    }
    cli_progress_done();
    a->q.calib_tokens = *tokens;
    a->q.n_calib_tokens = *n_tokens;
    a->q.calib_ctx = self.seq_len;
    return CLI_EXIT_OK;
}

/* The budget's sequences: n_ctx of the calibration pass, at most 256. */
static int64_t budget_ctx(const args *a)
{
    return a->req.n_ctx > 0 && a->req.n_ctx < 256 ? a->req.n_ctx : 256;
}

/* Tokens for the budget's sensitivities: the calibration text's, else two
 * sequences the model writes itself. */
static int budget_tokens(args *a, const mvq_model *model, mvq_pool *pool, int32_t **tokens, int64_t *n_tokens)
{
    if (*tokens && *n_tokens >= 2 * budget_ctx(a))
        return CLI_EXIT_OK;
    free(*tokens);
    *tokens = NULL;
    mvq_selfgen_params self = a->req.self;
    self.n_tokens = 2 * budget_ctx(a);
    self.seq_len = budget_ctx(a);
    mvq_error err;
    if (mvq_calib_self_tokens(model, &self, pool, tokens, n_tokens, &err) != MVQ_OK)
        return cli_fail(&err);
    return CLI_EXIT_OK;
}

int cmd_quantize(int argc, char **argv)
{
    args a = {
        .q = { .method = mvq_method_default(), .protect_massive = true, .massive_type = MVQ_TYPE_Q8_0,
               .sequential = true,
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
    bool needs_calib = false;
    memset(&info, 0, sizeof info);

    /* everything that can be checked is checked before calibrating */
    if (!(in = mvq_gguf_open(a.in, &err))) {
        rc = cli_fail(&err);
        goto out;
    }
    const char *inputs[] = { a.in, a.calib_text, NULL };
    if ((rc = llama_check_outputs(in, a.out, a.q.keep_split, a.calib_text)) != CLI_EXIT_OK)
        goto out;
    if (a.req.stats_out && (rc = cli_check_output(a.req.stats_out, inputs)) != CLI_EXIT_OK)
        goto out;
    if ((rc = llama_overrides(&a, in)) != CLI_EXIT_OK || (rc = check_plan(&a, in, &needs_calib)) != CLI_EXIT_OK)
        goto out;
    if (a.calib_text && (rc = cli_check_text(a.calib_text)) != CLI_EXIT_OK)
        goto out;
    if (budget_wanted(&a.budget)) {
        a.q.plan.has_imatrix = !a.no_calib;
        if ((rc = budget_resolve(&a.budget, in, a.in, &a.q.plan)) != CLI_EXIT_OK)
            goto out;
        if (a.no_calib) {
            rc = cli_usage_error("quantize", "a size budget measures its plan: it excludes --no-calib");
            goto out;
        }
        needs_calib = true;
    }
    if (a.q.method->layerwise || (a.q.method->needs & MVQ_NEED_BLOCK_OUTPUTS) || a.q.method->prepare)
        needs_calib = true; /* its statistics (a transform's too) come from calibration, whatever the plan */
    if (!(pool = mvq_pool_create(a.threads))) {
        cli_error("cannot start %d thread%s", a.threads, cli_plural(a.threads));
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if (a.no_calib) {
        cli_info(1, "no calibration (--no-calib): plain round to nearest, no importance weights, "
                    "no massive-value protection");
        needs_calib = false;
    } else if (!needs_calib) {
        cli_info(1, "no calibration: the %s plan uses no importance weights and protects nothing%s", a.type_name,
                 a.calib_text || a.req.stats_path || a.req.imatrix_path ? " (the calibration input given is not used)"
                                                                        : "");
    } else if (!(model = mvq_model_from_gguf(in, &err))) {
        cli_error("%s; calibration (importance weights, massive-value protection) needs the forward pass: "
                  "--no-calib quantizes with plain round to nearest",
                  err.msg);
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    double calib_seconds = 0;
    if (model) {
        if (a.ctx_set)
            cli_warn_ctx(a.req.n_ctx, &model->hp);
        if (a.calib_text && (rc = calib_text_tokens(&a, model, &tokens, &n_tokens)) != CLI_EXIT_OK)
            goto out;
        a.req.tokens = tokens;
        a.req.n_tokens = n_tokens;
        a.req.progress = calib_progress;
        double t0 = now_seconds();
        if (!(calib = mvq_calib_obtain(model, &a.req, pool, &info, &err))) {
            cli_progress_done();
            rc = cli_fail(&err);
            goto out;
        }
        calib_seconds = now_seconds() - t0;
        cli_progress_done();
        static const char *const origin[] = { "loaded from", "imported from", "from the cache", "computed" };
        cli_info(1, "statistics %s%s%s (%lld token%s%s)", origin[info.origin],
                 info.origin == MVQ_CALIB_COMPUTED ? "" : " ",
                 info.origin == MVQ_CALIB_FROM_STATS     ? a.req.stats_path
                 : info.origin == MVQ_CALIB_FROM_IMATRIX ? a.req.imatrix_path
                 : info.origin == MVQ_CALIB_FROM_CACHE   ? info.cache_path : "",
                 (long long)info.n_tokens, cli_plural(info.n_tokens),
                 info.origin == MVQ_CALIB_FROM_CACHE ? "; calibration skipped" : "");
        if (info.note[0])
            cli_info(1, "%s", info.note);
        if (!mvq_calib_has_norms(calib) && a.q.protect_massive)
            cli_info(1, "no Q/K statistics (importance matrix only): no massive dimensions to protect");
        if ((a.q.method->layerwise || (a.q.method->needs & MVQ_NEED_BLOCK_OUTPUTS)) &&
            (rc = layerwise_tokens(&a, model, pool, &tokens, &n_tokens)) != CLI_EXIT_OK)
            goto out;
    }
    a.q.plan.has_imatrix = calib != NULL;
    a.q.calib = calib;
    a.q.pool = pool;
    a.q.progress = tensor_progress;
    if (budget_wanted(&a.budget) && (rc = budget_tokens(&a, model, pool, &tokens, &n_tokens)) != CLI_EXIT_OK)
        goto out;
    if (budget_wanted(&a.budget) &&
        (rc = budget_plan(&a.budget, in, model, &a.q, tokens, n_tokens, budget_ctx(&a), a.json ? stderr : stdout)) !=
            CLI_EXIT_OK)
        goto out;
    if (a.budget.plan_only)
        goto out;
    mvq_status st = mvq_quantize_file(in, a.out, &a.q, &rep, &err);
    cli_progress_done();
    while (st == MVQ_OK && budget_wanted(&a.budget) && budget_replan(&a.budget, &a.q, rep.file_bytes, &rc)) {
        mvq_quantize_report_free(&rep); /* the header was not as estimated: once more, to the byte */
        st = mvq_quantize_file(in, a.out, &a.q, &rep, &err);
        cli_progress_done();
    }
    if (rc != CLI_EXIT_OK)
        goto out;
    if (st != MVQ_OK) {
        rc = cli_fail(&err);
        goto out;
    }
    const quantize_job_view view = {&a.q, a.in, a.out, a.type_name, a.json};
    quantize_print_report(&view, &rep, calib ? &info : NULL, calib_seconds);
out:
    mvq_quantize_report_free(&rep);
    budget_free(&a.budget);
    mvq_calib_free(calib);
    free(tokens);
    mvq_model_free(model);
    mvq_pool_free(pool);
    mvq_gguf_close(in);
    return rc;
}
