/* The probes' throughput: tokens/s of scoring copy, passkey (names) and
 * recall on the two F32 fixture models, one thread, against the plain
 * perplexity pass (mvq_eval_perplexity, n_ctx 256) of the same model and
 * run.  Probes run one pass per sequence and read the logits of the
 * answer only, so the ratio says what their shorter passes cost. */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/probes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct probe_case {
    const mvq_model *m;
    const mvq_probe_set *set;
    const int32_t *tokens;
    int64_t n_tokens, chunks;
    int64_t n_run; /* tokens run by the last call */
} probe_case;

static void run_probe(void *p)
{
    probe_case *c = p;
    mvq_probe_result r;
    mvq_error err;
    if (mvq_probes_score(c->m, c->set, NULL, NULL, &r, &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
    c->n_run = r.n_tokens;
}

static void run_ppl(void *p)
{
    probe_case *c = p;
    mvq_eval_result r;
    mvq_error err;
    const mvq_eval_opts o = {.n_ctx = 256, .max_chunks = c->chunks, .bos = 1};
    if (mvq_eval_perplexity(c->m, NULL, c->tokens, c->n_tokens, &o, NULL, &r, &err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        exit(2);
    }
    c->n_run = r.n_chunks * 256;
}

/* The first bytes of the eval text, tokenized. */
static int32_t *read_text(const mvq_tokenizer *t, int64_t *n)
{
    const char *dir = getenv("MVQ_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/text/tinystories-eval.txt", dir ? dir : "");
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[40000];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int32_t *tokens = NULL;
    mvq_error err;
    if (mvq_tokenize(t, buf, len, true, &tokens, n, &err) != MVQ_OK)
        return NULL;
    return tokens;
}

static void bench_model(bench_ctx *ctx, const char *name)
{
    static const struct {
        const char *variant;
        mvq_probe_kind kind;
        mvq_passkey_form form;
    } probes[] = {{"copy", MVQ_PROBE_COPY, 0}, {"passkey:names", MVQ_PROBE_PASSKEY, MVQ_PASSKEY_NAMES},
                  {"recall", MVQ_PROBE_RECALL, 0}};
    bool wanted = false;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        wanted |= bench_wants(ctx, "probes", name, probes[i].variant);
    if (!wanted)
        return;
    const char *dir = getenv("MVQ_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/%s.gguf", dir ? dir : "", name);
    mvq_error err;
    mvq_model *m = dir ? mvq_model_open(path, &err) : NULL;
    mvq_tokenizer *t = m ? mvq_tokenizer_from_gguf(m->gguf, &err) : NULL;
    int64_t n_text = 0;
    int32_t *text = t ? read_text(t, &n_text) : NULL;
    if (!text) {
        bench_note(ctx, "probes %s skipped: fixtures absent (configure --with-fixtures)", name);
        mvq_tokenizer_free(t);
        mvq_model_free(m);
        return;
    }
    probe_case c = {.m = m, .tokens = text, .n_tokens = n_text, .chunks = bench_quick(ctx) ? 2 : 8};
    const bench_timing tp = bench_time_cpu(ctx, run_ppl, &c);
    const double ref = (double)c.n_run / tp.seconds;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        if (!bench_wants(ctx, "probes", name, probes[i].variant))
            continue;
        mvq_probe_opts o;
        mvq_probe_opts_default(&o);
        o.n_items = bench_quick(ctx) ? 4 : 16;
        o.text = text;
        o.n_text = n_text;
        o.passkey_form = probes[i].form;
        mvq_probe_set set;
        if (mvq_probes_make(t, probes[i].kind, &o, &set, &err) != MVQ_OK) {
            fprintf(stderr, "mvq_bench: %s\n", err.msg);
            exit(2);
        }
        c.set = &set;
        const bench_timing tt = bench_time_cpu(ctx, run_probe, &c);
        bench_report(ctx, &(bench_row){.group = "probes", .name = name, .variant = probes[i].variant, .threads = 1,
                                       .value = (double)c.n_run / tt.seconds, .unit = "tok/s", .ref = ref,
                                       .ref_name = "ppl", .extra = tt.seconds * 1e3 / (double)set.n_items,
                                       .extra_unit = "ms/item"});
        mvq_probe_set_free(&set);
    }
    free(text);
    mvq_tokenizer_free(t);
    mvq_model_free(m);
}

void bench_probes(bench_ctx *ctx)
{
    bench_model(ctx, "stories260K");
    bench_model(ctx, "tinyrope-3M");
}
