/* mvquant eval: the contextual and parametric probes (and perplexity,
 * split into contextual and closed-book predictions) over several models,
 * the first the reference, as one table: models as rows, tasks as columns,
 * each relative to the first model and summarised per kind of knowledge. */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/eval_cli.h"
#include <mvquant/disrupt.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: mvquant eval MODEL.gguf... [--tasks LIST] [--text FILE] [--items N] [--seed N]\n"
            "                    [--ctx N] [--chunks N] [--copy-len N] [--passkey-len N] [--passkey-pos F]\n"
            "                    [--candidates K] [--disrupt LIST] [--topk K] [--threads N] [--json]\n"
            "                    [--svg FILE]\n"
            "\n"
            "Runs probes of contextual and parametric knowledge on each model (the first, say the\n"
            "F32 original, is the reference) and prints one table: models as rows, tasks as columns,\n"
            "each also relative to the first model, with the contextual and the parametric tasks\n"
            "summarised apart (the mean of those ratios over the tasks the first model does above\n"
            "chance).  Probes are generated from --seed with each model's tokenizer and scored by\n"
            "the model's log-probability of the answer (teacher forcing, no sampling).\n"
            "\n"
            "Tasks (comma-separated; default copy,passkey,passkey:names,recall,ppl):\n"
            "  copy           a span of the --text (copy:random: random tokens) and its repetition;\n"
            "                 top-1 accuracy on the second copy (copy-first: on the first, what the\n"
            "                 text alone lets the model predict)                      (contextual)\n"
            "  passkey        a key of digits in filler text, asked for at the end (passkey:words,\n"
            "                 passkey:names: a key of story words, of names); exact match of the\n"
            "                 greedy answer, and passkey-rank: how often the key outranks K-1 other\n"
            "                 keys (chance 1/K)                                       (contextual)\n"
            "  recall         a name introduced early in a story and needed later; how often it\n"
            "                 outranks the other candidate names (chance 1/K)         (contextual)\n"
            "  facts:FILE     closed-book prompt<TAB>answer lines; exact match        (parametric)\n"
            "  ppl            perplexity of --text as 'mvquant perplexity', and split: ppl:ctx over\n"
            "                 the predictions whose token occurs earlier in its chunk (contextual),\n"
            "                 ppl:closed over the others (closed-book: parametric)\n"
            "\n"
            "  --text FILE       text for copy spans and perplexity (needed by copy and ppl)\n"
            "  --items N         items per probe (default 32)\n"
            "  --seed N          seed of the probes (default 1)\n"
            "  --ctx N           the longest probe, and the perplexity chunk, in tokens (default 256)\n"
            "  --chunks N        perplexity over the first N chunks only\n"
            "  --copy-len N      copy span in tokens (default 24)\n"
            "  --passkey-len N   digits (default 5) or words (default 1) of the key\n"
            "  --passkey-pos F   depth of the key, 0 (start) to 1 (end); default: spread over the items\n"
            "  --candidates K    recall names and passkey keys ranked, the right one included (default 4)\n"
            "  --disrupt LIST    also run each model with the top-k dimensions per head of Q and K\n"
            "                    replaced by their mean (as 'mvquant disrupt'): massive, lowest, random\n"
            "  --topk K          dimensions per head for --disrupt (default 1)\n"
            "  --threads N       worker threads (default: all cores)\n"
            "  --json            one JSON object on stdout instead of the table\n"
            "  --svg FILE        the table as grouped bars relative to the first model (the paper's\n"
            "                    Figure 5)\n");
}

/* One task of --tasks. */
typedef struct eval_task {
    char name[64];
    bool ppl;
    mvq_probe_kind kind;
    bool copy_random;
    mvq_passkey_form form;
    const char *facts; /* a pointer into --tasks' argument */
} eval_task;

#define MAX_TASKS 10 /* at most 2 columns each, except ppl's 3 */
#define MAX_DISRUPT 3

typedef struct eval_args {
    const char *text, *svg;
    char *tasks_arg;
    long items, seed, ctx, chunks, copy_len, passkey_len, candidates, topk, threads;
    double passkey_pos;
    bool json;
    const char **models;
    int n_models;
    eval_task tasks[MAX_TASKS];
    int n_tasks;
    const char *disrupt[MAX_DISRUPT];
    int n_disrupt;
} eval_args;

/* Parses --tasks (modified in place: facts paths point into it); NULL, or the bad task. */
static const char *parse_tasks(char *s, eval_args *a)
{
    a->n_tasks = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (a->n_tasks == MAX_TASKS)
            return t;
        eval_task *k = &a->tasks[a->n_tasks++];
        memset(k, 0, sizeof *k);
        snprintf(k->name, sizeof k->name, "%s", t);
        if (strcmp(t, "ppl") == 0)
            k->ppl = true;
        else if (strcmp(t, "copy") == 0 || strcmp(t, "copy:random") == 0)
            k->kind = MVQ_PROBE_COPY, k->copy_random = t[4] != '\0';
        else if (strcmp(t, "passkey") == 0 || strcmp(t, "passkey:words") == 0 || strcmp(t, "passkey:names") == 0)
            k->kind = MVQ_PROBE_PASSKEY,
            k->form = !t[7] ? MVQ_PASSKEY_DIGITS : t[8] == 'w' ? MVQ_PASSKEY_WORDS : MVQ_PASSKEY_NAMES;
        else if (strcmp(t, "recall") == 0)
            k->kind = MVQ_PROBE_RECALL;
        else if (strncmp(t, "facts:", 6) == 0 && t[6])
            k->kind = MVQ_PROBE_FACTS, k->facts = t + 6, snprintf(k->name, sizeof k->name, "facts");
        else
            return t;
        for (int j = 0; j < a->n_tasks - 1; j++)
            if (strcmp(a->tasks[j].name, k->name) == 0)
                return t; /* given twice: the columns would share a name */
    }
    return a->n_tasks ? NULL : "";
}

static bool parse_disrupt(char *s, eval_args *a)
{
    a->n_disrupt = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (a->n_disrupt == MAX_DISRUPT || (strcmp(t, "massive") && strcmp(t, "lowest") && strcmp(t, "random")))
            return false;
        a->disrupt[a->n_disrupt++] = t;
    }
    return a->n_disrupt > 0;
}

/* 0: parsed; -1: help shown; otherwise the exit code. */
static int parse_args(int argc, char **argv, eval_args *a)
{
    static const struct option longopts[] = {
        {"tasks", required_argument, NULL, 'T'},      {"text", required_argument, NULL, 't'},
        {"items", required_argument, NULL, 'i'},      {"seed", required_argument, NULL, 's'},
        {"ctx", required_argument, NULL, 'c'},        {"chunks", required_argument, NULL, 'n'},
        {"copy-len", required_argument, NULL, 'C'},   {"passkey-len", required_argument, NULL, 'p'},
        {"passkey-pos", required_argument, NULL, 'P'}, {"candidates", required_argument, NULL, 'K'},
        {"disrupt", required_argument, NULL, 'D'},    {"topk", required_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 'j'},    {"json", no_argument, NULL, 'J'},
        {"svg", required_argument, NULL, 'S'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char default_tasks[] = "copy,passkey,passkey:names,recall,ppl";
    memset(a, 0, sizeof *a);
    a->items = 32, a->seed = 1, a->ctx = 256, a->copy_len = 24, a->candidates = 4, a->topk = 1;
    a->passkey_pos = -1;
    a->tasks_arg = default_tasks;
    int c;
    while ((c = cli_getopt("eval", argc, argv, "h", longopts)) != -1) {
        const char *bad = NULL;
        char *end;
        switch (c) {
        case 'T': a->tasks_arg = cli_optarg; break;
        case 't': a->text = cli_optarg; break;
        case 'S': a->svg = cli_optarg; break;
        case 'J': a->json = true; break;
        case 'D': bad = parse_disrupt(cli_optarg, a) ? NULL : "--disrupt"; break;
        case 'i': bad = cli_parse_long(cli_optarg, 1, 100000, &a->items) ? NULL : "--items"; break;
        case 's': bad = cli_parse_long(cli_optarg, 0, LONG_MAX, &a->seed) ? NULL : "--seed"; break;
        case 'c': bad = cli_parse_long(cli_optarg, 32, 1L << 20, &a->ctx) ? NULL : "--ctx"; break;
        case 'n': bad = cli_parse_long(cli_optarg, 1, LONG_MAX, &a->chunks) ? NULL : "--chunks"; break;
        case 'C': bad = cli_parse_long(cli_optarg, 2, 1L << 19, &a->copy_len) ? NULL : "--copy-len"; break;
        case 'p': bad = cli_parse_long(cli_optarg, 1, 32, &a->passkey_len) ? NULL : "--passkey-len"; break;
        case 'K': bad = cli_parse_long(cli_optarg, 2, MVQ_PROBE_MAX_ALTS + 1, &a->candidates) ? NULL : "--candidates"; break;
        case 'k': bad = cli_parse_long(cli_optarg, 1, 1L << 20, &a->topk) ? NULL : "--topk"; break;
        case 'j': bad = cli_parse_long(cli_optarg, 1, 1024, &a->threads) ? NULL : "--threads"; break;
        case 'P':
            errno = 0;
            a->passkey_pos = strtod(cli_optarg, &end);
            bad = errno || *end || end == cli_optarg || !(a->passkey_pos >= 0 && a->passkey_pos <= 1) ? "--passkey-pos"
                                                                                                     : NULL;
            break;
        case 'h': usage(stdout); return -1;
        default: return CLI_EXIT_USAGE;
        }
        if (bad)
            return cli_usage_error("eval", "bad value '%s' for %s", cli_optarg, bad);
    }
    const char *bad_task = parse_tasks(a->tasks_arg, a);
    if (bad_task)
        return cli_usage_error("eval", "bad task '%s' in --tasks (copy, copy:random, passkey, passkey:words, passkey:names, recall, "
                                       "facts:FILE, ppl; each once)", bad_task);
    if (argc - cli_optind < 1)
        return cli_usage_error("eval", "expected at least one MODEL.gguf");
    for (int i = 0; i < a->n_tasks; i++)
        if (!a->text && (a->tasks[i].ppl || (a->tasks[i].kind == MVQ_PROBE_COPY && !a->tasks[i].copy_random)))
            return cli_usage_error("eval", "task %s needs --text FILE", a->tasks[i].name);
    a->models = (const char **)argv + cli_optind;
    a->n_models = argc - cli_optind;
    return 0;
}

/* The table's columns, in the order of the tasks. */
static void make_cols(const eval_args *a, eval_table *t)
{
    t->n_cols = 0;
    for (int i = 0; i < a->n_tasks; i++) {
        const eval_task *k = &a->tasks[i];
        if (k->ppl) {
            static const char *const names[3] = {"ppl", "ppl:ctx", "ppl:closed"};
            static const eval_class cls[3] = {EVAL_SANITY, EVAL_CONTEXTUAL, EVAL_PARAMETRIC};
            for (int j = 0; j < 3; j++) {
                eval_col *c = &t->cols[t->n_cols++];
                snprintf(c->name, sizeof c->name, "%s", names[j]);
                c->cls = cls[j];
                c->lower_better = true;
                c->chance = NAN;
                snprintf(c->chance_note, sizeof c->chance_note, "a uniform guess: the vocabulary size");
            }
        } else {
            eval_col *c = &t->cols[t->n_cols++];
            snprintf(c->name, sizeof c->name, "%s", k->name);
            c->cls = mvq_probe_contextual(k->kind) ? EVAL_CONTEXTUAL : EVAL_PARAMETRIC;
            if (k->kind == MVQ_PROBE_COPY) { /* and the first copy: what the text alone predicts */
                c = &t->cols[t->n_cols++];
                snprintf(c->name, sizeof c->name, "%s-first", k->name);
                c->cls = EVAL_SANITY;
                c->chance = NAN;
                snprintf(c->chance_note, sizeof c->chance_note, "the baseline of %s: no repetition yet", k->name);
            }
            if (k->kind == MVQ_PROBE_PASSKEY) { /* and the key ranked against the other candidates */
                c = &t->cols[t->n_cols++];
                snprintf(c->name, sizeof c->name, "%s-rank", k->name);
                c->cls = EVAL_CONTEXTUAL;
                c->chance = 1.0 / (double)a->candidates;
                snprintf(c->chance_note, sizeof c->chance_note, "1/%ld candidate keys", a->candidates);
            }
        }
    }
}

typedef struct eval_model {
    mvq_model *m;
    mvq_tokenizer *tok;
} eval_model;

static mvq_status make_set(const eval_args *a, const eval_task *k, const eval_model *em, const int32_t *text,
                           int64_t n_text, mvq_probe_set *set, mvq_error *err)
{
    if (k->kind == MVQ_PROBE_FACTS)
        return mvq_probes_read_facts(em->tok, k->facts, a->ctx, set, err);
    mvq_probe_opts o;
    mvq_probe_opts_default(&o);
    o.n_items = a->items, o.seed = (uint64_t)a->seed, o.n_ctx = a->ctx, o.copy_len = a->copy_len;
    o.copy_random = k->copy_random, o.text = text, o.n_text = n_text;
    o.passkey_len = (int)a->passkey_len, o.passkey_pos = a->passkey_pos, o.passkey_form = k->form;
    o.recall_candidates = (int)a->candidates;
    return mvq_probes_make(em->tok, k->kind, &o, set, err);
}

/* All tasks of one row: model em, under the observers given (a disruption or none). */
static mvq_status run_row(const eval_args *a, eval_table *t, eval_row *row, const eval_model *em,
                          const int32_t *text, int64_t n_text, int32_t bos, const mvq_observer *obs, int n_obs,
                          mvq_pool *pool, mvq_error *err)
{
    int col = 0;
    for (int i = 0; i < a->n_tasks; i++) {
        const eval_task *k = &a->tasks[i];
        if (k->ppl) {
            const mvq_eval_opts eo = {
                .n_ctx = a->ctx, .max_chunks = a->chunks, .bos = bos, .observers = obs, .n_observers = n_obs,
            };
            mvq_eval_result r[3];
            mvq_status st = mvq_eval_perplexity_split(em->m, NULL, text, n_text, &eo, pool, r, err);
            if (st != MVQ_OK)
                return st;
            for (int j = 0; j < 3; j++, col++) {
                row->value[col] = r[j].ppl;
                row->logprob[col] = NAN;
                row->tokens_per_s[col] = r[0].tokens_per_s;
                t->cols[col].chance = (double)em->m->hp.n_vocab;
            }
            continue;
        }
        mvq_probe_set set;
        mvq_status st = make_set(a, k, em, text, n_text, &set, err);
        mvq_probe_result r;
        const mvq_probe_score_opts so = {.observers = obs, .n_observers = n_obs};
        if (st == MVQ_OK)
            st = mvq_probes_score(em->m, &set, &so, pool, &r, err);
        if (st == MVQ_OK) {
            row->value[col] = r.score;
            row->logprob[col] = r.logprob;
            row->tokens_per_s[col] = r.tokens_per_s;
            t->cols[col].chance = set.chance;
            snprintf(t->cols[col].chance_note, sizeof t->cols[col].chance_note, "%s", set.chance_note);
            if (k->kind == MVQ_PROBE_COPY || k->kind == MVQ_PROBE_PASSKEY) {
                col++;
                row->value[col] = k->kind == MVQ_PROBE_COPY ? r.base_top1 : r.rank_acc;
                row->logprob[col] = r.logprob;
                row->tokens_per_s[col] = r.tokens_per_s;
            }
        }
        mvq_probe_set_free(&set);
        if (st != MVQ_OK)
            return st;
        col++;
    }
    return MVQ_OK;
}

static mvq_disrupt_target disrupt_target(const char *name)
{
    return strcmp(name, "lowest") == 0 ? MVQ_DISRUPT_LOWEST
           : strcmp(name, "random") == 0 ? MVQ_DISRUPT_RANDOM
                                          : MVQ_DISRUPT_MASSIVE;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Every model, then its disruptions. */
static mvq_status run_all(const eval_args *a, eval_table *t, eval_model *ms, mvq_pool *pool, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    int r = 0;
    for (int i = 0; st == MVQ_OK && i < a->n_models; i++) {
        int32_t *text = NULL;
        int64_t n_text = 0;
        int32_t bos = -1;
        if (a->text)
            st = cli_tokenize_text(ms[i].m, a->text, &text, &n_text, &bos, err);
        if (st == MVQ_OK && a->text && n_text < 2 * a->ctx)
            st = mvq_error_set(err, MVQ_ERR_FORMAT, "%s: %lld token%s of text; a context of %ld needs at least %ld",
                               a->text, (long long)n_text, cli_plural(n_text), a->ctx, 2 * a->ctx);
        for (int d = -1; st == MVQ_OK && d < a->n_disrupt; d++, r++) {
            eval_row *row = &t->rows[r];
            row->path = a->models[i];
            row->disrupt = d < 0 ? NULL : a->disrupt[d];
            if (d < 0)
                snprintf(row->name, sizeof row->name, "%s", base_name(a->models[i]));
            else
                snprintf(row->name, sizeof row->name, "%s %s-%ld", base_name(a->models[i]), a->disrupt[d], a->topk);
            cli_info(1, "eval: %s", row->name);
            mvq_disrupt *dis = NULL;
            mvq_observer obs;
            if (d >= 0) {
                const mvq_disrupt_opts o = {.topk = (int)a->topk, .target = disrupt_target(a->disrupt[d]),
                                            .seed = (uint64_t)a->seed};
                if (!(dis = mvq_disrupt_create(ms[i].m, &o, err))) {
                    st = err->status;
                    break;
                }
                obs = mvq_disrupt_observer(dis);
            }
            st = run_row(a, t, row, &ms[i], text, n_text, bos, dis ? &obs : NULL, dis ? 1 : 0, pool, err);
            mvq_disrupt_free(dis);
        }
        free(text);
    }
    return st;
}

/* Ratios to the first row and the summaries. */
static void relate(eval_table *t)
{
    const eval_row *ref = &t->rows[0];
    for (int c = 0; c < t->n_cols; c++) {
        const eval_col *col = &t->cols[c];
        /* above chance by three standard errors of a score by chance over the items */
        const double p = col->chance, margin = 3 * sqrt(p * (1 - p) / (double)t->n_items);
        t->counted[c] = col->cls != EVAL_SANITY &&
                        (col->lower_better ? ref->value[c] > 0 : ref->value[c] > 0 && ref->value[c] > p + margin);
    }
    for (int r = 0; r < t->n_rows; r++) {
        eval_row *row = &t->rows[r];
        double sum[2] = {0, 0};
        int n[2] = {0, 0};
        for (int c = 0; c < t->n_cols; c++) {
            const double v = row->value[c], v0 = ref->value[c];
            row->rel[c] = t->cols[c].lower_better ? (v > 0 ? v0 / v : NAN) : (v0 > 0 ? v / v0 : NAN);
            if (t->counted[c]) {
                sum[t->cols[c].cls] += row->rel[c];
                n[t->cols[c].cls]++;
            }
        }
        for (int k = 0; k < 2; k++)
            row->summary[k] = n[k] ? sum[k] / n[k] : NAN;
    }
}

static void print_value(const eval_col *c, double v, int width)
{
    if (!isfinite(v))
        printf(" %*s", width, "-");
    else if (c->lower_better)
        printf(" %*.4f", width, v);
    else
        printf(" %*.1f%%", width - 1, 100 * v);
}

static void print_text(const eval_args *a, const eval_table *t)
{
    int w = 5;
    for (int r = 0; r < t->n_rows; r++)
        w = (int)strlen(t->rows[r].name) > w ? (int)strlen(t->rows[r].name) : w;
    printf("tasks (%ld items each, seed %ld, at most %ld tokens):\n", a->items, a->seed, a->ctx);
    for (int c = 0; c < t->n_cols; c++) {
        const eval_col *col = &t->cols[c];
        printf("  %-14s %-10s chance ", col->name,
               col->cls == EVAL_CONTEXTUAL ? "contextual" : col->cls == EVAL_PARAMETRIC ? "parametric" : "sanity");
        if (!isfinite(col->chance))
            printf("- (%s)", col->chance_note);
        else if (col->lower_better)
            printf("PPL %.0f (%s)", col->chance, col->chance_note);
        else
            printf("%.3g%% (%s)", 100 * col->chance, col->chance_note);
        printf("%s\n", t->counted[c] || col->cls == EVAL_SANITY ? "" : "; the first model is not above chance: not summarised");
    }
    int cw[EVAL_MAX_COLS];
    for (int c = 0; c < t->n_cols; c++)
        cw[c] = strlen(t->cols[c].name) > 10 ? (int)strlen(t->cols[c].name) : 10;
    printf("\n%-*s", w, "model");
    for (int c = 0; c < t->n_cols; c++)
        printf(" %*s", cw[c], t->cols[c].name);
    printf(" %10s %10s\n", "contextual", "parametric");
    for (int r = 0; r < t->n_rows; r++) {
        printf("%-*s", w, t->rows[r].name);
        for (int c = 0; c < t->n_cols; c++)
            print_value(&t->cols[c], t->rows[r].value[c], cw[c]);
        for (int k = 0; k < 2; k++)
            if (isfinite(t->rows[r].summary[k]))
                printf(" %10.4f", t->rows[r].summary[k]);
            else
                printf(" %10s", "-");
        printf("\n");
    }
    printf("\nrelative to %s (scores: ratio; perplexities: its PPL / PPL, so lower is worse):\n", t->rows[0].name);
    for (int r = 0; r < t->n_rows; r++) {
        printf("%-*s", w, t->rows[r].name);
        for (int c = 0; c < t->n_cols; c++)
            if (isfinite(t->rows[r].rel[c]))
                printf(" %*.4f", cw[c], t->rows[r].rel[c]);
            else
                printf(" %*s", cw[c], "-");
        printf("\n");
    }
}

static void print_json(const eval_args *a, const eval_table *t)
{
    cli_json j;
    cli_json_init(&j, stdout);
    cli_json_begin_object(&j);
    cli_json_key(&j, "items");
    cli_json_i64(&j, a->items);
    cli_json_key(&j, "seed");
    cli_json_i64(&j, a->seed);
    cli_json_key(&j, "n_ctx");
    cli_json_i64(&j, a->ctx);
    cli_json_key(&j, "tasks");
    cli_json_begin_array(&j);
    static const char *const classes[3] = {"contextual", "parametric", "sanity"};
    for (int c = 0; c < t->n_cols; c++) {
        cli_json_begin_object(&j);
        cli_json_key(&j, "name");
        cli_json_str(&j, t->cols[c].name);
        cli_json_key(&j, "class");
        cli_json_str(&j, classes[t->cols[c].cls]);
        cli_json_key(&j, "metric");
        cli_json_str(&j, t->cols[c].lower_better ? "perplexity" : "fraction");
        cli_json_key(&j, "chance");
        cli_json_f64(&j, t->cols[c].chance);
        cli_json_key(&j, "chance_note");
        cli_json_str(&j, t->cols[c].chance_note);
        cli_json_key(&j, "summarised");
        cli_json_bool(&j, t->counted[c]);
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_key(&j, "models");
    cli_json_begin_array(&j);
    for (int r = 0; r < t->n_rows; r++) {
        const eval_row *row = &t->rows[r];
        cli_json_begin_object(&j);
        cli_json_key(&j, "name");
        cli_json_str(&j, row->name);
        cli_json_key(&j, "path");
        cli_json_str(&j, row->path);
        cli_json_key(&j, "disrupt");
        if (row->disrupt)
            cli_json_str(&j, row->disrupt);
        else
            cli_json_null(&j);
        cli_json_key(&j, "scores");
        cli_json_begin_object(&j);
        for (int c = 0; c < t->n_cols; c++) {
            cli_json_key(&j, t->cols[c].name);
            cli_json_begin_object(&j);
            const struct {
                const char *key;
                double v;
            } f[] = {{"value", row->value[c]}, {"relative", row->rel[c]}, {"logprob", row->logprob[c]},
                     {"tokens_per_s", row->tokens_per_s[c]}};
            for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
                cli_json_key(&j, f[i].key);
                cli_json_f64(&j, f[i].v);
            }
            cli_json_end_object(&j);
        }
        cli_json_end_object(&j);
        cli_json_key(&j, "contextual");
        cli_json_f64(&j, row->summary[0]);
        cli_json_key(&j, "parametric");
        cli_json_f64(&j, row->summary[1]);
        cli_json_end_object(&j);
    }
    cli_json_end_array(&j);
    cli_json_end_object(&j);
    cli_json_finish(&j);
}

/* Opens every model and reads every facts file before the long work. */
static mvq_status open_all(const eval_args *a, eval_model *ms, mvq_error *err)
{
    for (int i = 0; i < a->n_models; i++) {
        if (!(ms[i].m = mvq_model_open(a->models[i], err)))
            return err->status;
        if (!ms[i].m->gguf || !(ms[i].tok = mvq_tokenizer_from_gguf(ms[i].m->gguf, err)))
            return ms[i].m->gguf ? err->status : mvq_error_set(err, MVQ_ERR_FORMAT, "%s: no tokenizer", a->models[i]);
        cli_warn_ctx(a->ctx, &ms[i].m->hp);
    }
    for (int i = 0; i < a->n_tasks; i++)
        if (a->tasks[i].kind == MVQ_PROBE_FACTS && !a->tasks[i].ppl) {
            mvq_probe_set s;
            mvq_status st = mvq_probes_read_facts(ms[0].tok, a->tasks[i].facts, a->ctx, &s, err);
            mvq_probe_set_free(&s);
            if (st != MVQ_OK)
                return st;
        }
    return MVQ_OK;
}

int cmd_eval(int argc, char **argv)
{
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (a.svg && (rc = cli_check_output(a.svg, (const char *const *)a.models)) != CLI_EXIT_OK)
        return rc;
    mvq_error err;
    mvq_error_clear(&err);
    eval_table t;
    memset(&t, 0, sizeof t);
    make_cols(&a, &t);
    t.n_items = a.items;
    t.n_rows = a.n_models * (1 + a.n_disrupt);
    eval_model *ms = calloc((size_t)a.n_models, sizeof *ms);
    t.rows = calloc((size_t)t.n_rows, sizeof *t.rows);
    mvq_pool *pool = NULL;
    mvq_status st = !ms || !t.rows ? mvq_error_set(&err, MVQ_ERR_NOMEM, "out of memory") : mvq_isa_init(&err);
    if (st == MVQ_OK && a.text && cli_check_text(a.text) != CLI_EXIT_OK)
        st = MVQ_ERR_FORMAT, err.msg[0] = '\0';
    if (st == MVQ_OK)
        st = open_all(&a, ms, &err);
    if (st == MVQ_OK && a.n_disrupt && a.topk > ms[0].m->hp.head_dim)
        st = mvq_error_set(&err, MVQ_ERR_ARG, "--topk %ld: beyond the head size %lld of %s", a.topk,
                           (long long)ms[0].m->hp.head_dim, a.models[0]);
    if (st == MVQ_OK && !(pool = mvq_pool_create((int)a.threads)))
        st = mvq_error_set(&err, MVQ_ERR_NOMEM, "cannot start %ld thread%s", a.threads, cli_plural(a.threads));
    if (st == MVQ_OK)
        st = run_all(&a, &t, ms, pool, &err);
    if (st == MVQ_OK) {
        relate(&t);
        if (a.svg)
            st = eval_write_svg(a.svg, &t, "probe scores relative to the first model", &err);
    }
    if (st == MVQ_OK) {
        if (a.json)
            print_json(&a, &t);
        else
            print_text(&a, &t);
    }
    for (int i = 0; ms && i < a.n_models; i++) {
        mvq_tokenizer_free(ms[i].tok);
        mvq_model_free(ms[i].m);
    }
    free(ms);
    free(t.rows);
    mvq_pool_free(pool);
    if (st != MVQ_OK && !err.msg[0])
        return CLI_EXIT_FAIL;
    return st == MVQ_OK ? CLI_EXIT_OK : cli_fail(&err);
}
