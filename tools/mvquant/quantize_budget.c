/* The main job's size budget: the target resolved and checked before
 * calibrating, then the measured plan, printed, and handed to the job. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/quantize_budget.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static uint64_t n_elements(const mvq_gguf_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= (uint64_t)t->ne[d];
    return n;
}

static uint64_t n_weights(const mvq_gguf *in)
{
    uint64_t n = 0;
    for (int64_t i = 0; i < mvq_gguf_n_tensors(in); i++)
        n += n_elements(mvq_gguf_tensor_at(in, i));
    return n;
}

int budget_check_args(const budget_opts *b)
{
    int given = (b->target_size != NULL) + (b->same_size_as != NULL) + (b->target_bpw > 0);
    if (given > 1)
        return cli_usage_error("quantize", "--target-size, --target-bpw and --same-size-as exclude each other");
    if (b->plan_only && !given)
        return cli_usage_error("quantize", "--plan-only prints a budget's plan: give --target-size, --target-bpw "
                                           "or --same-size-as");
    return CLI_EXIT_OK;
}

/* A preset's fixed-rule size for this model: its tensors' bytes and the header. */
static int preset_size(const mvq_gguf *in, const mvq_preset *p, uint64_t *out)
{
    mvq_plan_params pp = {.ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1,
                          .has_imatrix = true };
    mvq_error err;
    int64_t n = mvq_gguf_n_tensors(in);
    mvq_tensor_plan *tp = calloc((size_t)(n ? n : 1), sizeof *tp);
    if (!tp) {
        cli_error("out of memory planning %s", mvq_gguf_path(in));
        return CLI_EXIT_FAIL;
    }
    if (mvq_plan_make(in, &pp, tp, &err) != MVQ_OK) {
        free(tp);
        return cli_fail(&err);
    }
    uint64_t align = mvq_gguf_alignment(in), sum = mvq_budget_header_estimate(in);
    for (int64_t i = 0; i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        uint64_t rows = t->ne[0] ? n_elements(t) / (uint64_t)t->ne[0] : 0;
        uint64_t bytes = tp[i].quantize ? mvq_row_size(tp[i].type, t->ne[0]) * rows : t->size;
        sum += align ? (bytes + align - 1) / align * align : bytes;
    }
    free(tp);
    *out = sum;
    return CLI_EXIT_OK;
}

static const mvq_preset *preset_named(const char *s)
{
    static const char *const alias[][2] = { { "q3_k", "q3_k_m" }, { "q4_k", "q4_k_m" }, { "q5_k", "q5_k_m" } };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcasecmp(s, alias[i][0]) == 0)
            s = alias[i][1];
    return mvq_preset_find(s);
}

static int parse_target(budget_opts *b, const mvq_gguf *in, const char *in_path)
{
    if (b->same_size_as) {
        struct stat sb;
        if (stat(b->same_size_as, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            cli_error("%s: cannot read its size (%s)", b->same_size_as, errno ? strerror(errno) : "not a file");
            return CLI_EXIT_FAIL;
        }
        b->file_target = (uint64_t)sb.st_size;
        return CLI_EXIT_OK;
    }
    if (b->target_bpw > 0) {
        uint64_t n = n_weights(in);
        b->by_bpw = true;
        b->data_target = (uint64_t)(b->target_bpw * (double)n / 8.0);
        b->file_target = b->data_target + b->header;
        return CLI_EXIT_OK;
    }
    const char *s = b->target_size;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end == '%' && end[1] == '\0' && v > 0 && v <= 100) {
        b->file_target = (uint64_t)((double)mvq_gguf_file_size(in) * v / 100.0);
        return CLI_EXIT_OK;
    }
    unsigned long long bytes = strtoull(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0 && s[0] != '-') {
        b->file_target = bytes;
        return CLI_EXIT_OK;
    }
    const mvq_preset *p = preset_named(s);
    if (!p)
        return cli_usage_error("quantize", "--target-size %s: not a byte count, a percentage (of %s) or a preset", s,
                               in_path);
    return preset_size(in, p, &b->file_target);
}

int budget_resolve(budget_opts *b, const mvq_gguf *in, const char *in_path, const mvq_plan_params *pp)
{
    mvq_error err;
    b->header = mvq_budget_header_estimate(in);
    int rc = parse_target(b, in, in_path);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!b->by_bpw)
        b->data_target = b->file_target > b->header ? b->file_target - b->header : 0;
    if (mvq_budget_ladder_for(in, pp, b->data_target, &b->est, &err) != MVQ_OK)
        return cli_fail(&err);
    uint64_t lo = mvq_budget_min_bytes(&b->est);
    if (b->data_target < lo) {
        cli_error("%s: a budget of %llu bytes is below the smallest file the types allow (about %llu bytes, "
                  "%.2f bits per weight)",
                  in_path, (unsigned long long)b->file_target, (unsigned long long)(lo + b->header),
                  8.0 * (double)lo / (double)(n_weights(in) ? n_weights(in) : 1));
        return CLI_EXIT_FAIL;
    }
    uint64_t hi = mvq_budget_max_bytes(&b->est);
    if (b->data_target > hi) {
        cli_info(1, "%s: a budget of %llu bytes is above the largest plan (%llu bytes): every tensor at its "
                    "largest type",
                 in_path, (unsigned long long)b->file_target, (unsigned long long)(hi + b->header));
        b->data_target = hi;
    }
    int64_t n = mvq_gguf_n_tensors(in);
    b->types = calloc((size_t)(n ? n : 1), sizeof *b->types);
    b->loss = calloc((size_t)(n ? n : 1), sizeof *b->loss);
    if (!b->types || !b->loss) {
        cli_error("out of memory planning %s", in_path);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static void print_plan(const budget_opts *b, const mvq_gguf *in, const mvq_quantize_opts *q, FILE *f)
{
    double total = 0;
    uint64_t data = b->est.fixed_bytes;
    fprintf(f, "budget plan (%s massive values): %-28s %-7s %10s %12s  %s\n",
            q->protect_massive ? "protect" : "ignore", "tensor", "type", "bytes", "est. loss", "why");
    for (int64_t i = 0; i < b->est.n; i++) {
        const mvq_budget_tensor *bt = &b->est.t[i];
        if (!bt->planned)
            continue;
        int k = 0;
        while (k < bt->n && (int)bt->type[k] != b->types[i])
            k++;
        if (k == bt->n)
            continue;
        total += b->loss[i];
        data += bt->bytes[k];
        fprintf(f, "  %-40s %-7s %10llu %12.3e  ", mvq_gguf_tensor_at(in, i)->name.data, mvq_type_name(bt->type[k]),
                (unsigned long long)bt->bytes[k], b->loss[i]);
        if (bt->n < 2)
            fprintf(f, "budget: the only type its rows fit\n");
        else
            fprintf(f, "budget: 1 of %d types (KLD %.3g per unit error at %s)\n", bt->n, bt->sensitivity,
                    mvq_type_name(bt->probe));
    }
    fprintf(f, "budget: %llu bytes aimed at; tensor data %llu bytes (%llu fixed), header about %llu; "
               "estimated loss %.6f; planned in %.2f s\n",
            (unsigned long long)b->file_target, (unsigned long long)data, (unsigned long long)b->est.fixed_bytes,
            (unsigned long long)b->header, total, b->seconds);
}

static int solve(budget_opts *b, mvq_quantize_opts *q)
{
    mvq_error err;
    if (mvq_budget_plan(&b->est, b->data_target, b->types, b->loss, &err) != MVQ_OK)
        return cli_fail(&err);
    q->budget_types = b->types;
    q->budget_loss = b->loss;
    q->budget_bytes = b->file_target;
    return CLI_EXIT_OK;
}

int budget_plan(budget_opts *b, const mvq_gguf *in, const mvq_model *model, mvq_quantize_opts *q,
                const int32_t *tokens, int64_t n_tokens, int64_t n_ctx, FILE *f)
{
    mvq_error err;
    if (n_tokens > 2 * n_ctx)
        n_tokens = 2 * n_ctx; /* two sequences: enough to rank the tensors, cheap */
    if (mvq_budget_measure(in, model, q, tokens, n_tokens, n_ctx, &b->est, &err) != MVQ_OK)
        return cli_fail(&err);
    b->seconds = b->est.seconds;
    int rc = solve(b, q);
    if (rc == CLI_EXIT_OK && f)
        print_plan(b, in, q, f);
    return rc;
}

bool budget_replan(budget_opts *b, mvq_quantize_opts *q, uint64_t file_bytes, int *rc)
{
    uint64_t data = b->est.fixed_bytes;
    for (int64_t i = 0; i < b->est.n; i++)
        for (int k = 0; b->est.t[i].planned && k < b->est.t[i].n; k++)
            data += (int)b->est.t[i].type[k] == b->types[i] ? b->est.t[i].bytes[k] : 0;
    uint64_t header = file_bytes > data ? file_bytes - data : 0;
    bool over = file_bytes > b->file_target, short_of = file_bytes < b->file_target - b->file_target / 200;
    if (b->by_bpw || header == b->header || !(over || short_of))
        return false;
    b->header = header;
    b->data_target = b->file_target > header ? b->file_target - header : 0;
    *rc = solve(b, q);
    return *rc == CLI_EXIT_OK;
}

void budget_free(budget_opts *b)
{
    mvq_budget_estimate_free(&b->est);
    free(b->types);
    free(b->loss);
}
