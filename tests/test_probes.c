/* The probes (include/mvquant/probes.h): the items are what they claim
 * (the second copy repeats the first, the key sits at its depth and is
 * asked for, the candidates share their prompt), a seed fixes them, bad
 * facts files are refused naming the line, and on the F32 fixture models
 * the scores are well above chance and do not depend on the thread count. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"

typedef struct fixture {
    mvq_model *m;
    mvq_tokenizer *t;
    int32_t *text;
    int64_t n_text;
} fixture;

static void open_fixture(const char *rel, fixture *fx)
{
    char path[4096], text[4096];
    if (!mvq_fixture(rel, path, sizeof path))
        cr_skip_test("fixture %s is absent: configure --with-fixtures=DIR", rel);
    if (!mvq_fixture("text/tinystories-eval.txt", text, sizeof text))
        cr_skip_test("fixture text/tinystories-eval.txt is absent");
    mvq_error err;
    cr_assert_eq(mvq_isa_init(&err), MVQ_OK, "%s", err.msg);
    fx->m = mvq_model_open(path, &err);
    cr_assert_not_null(fx->m, "%s", err.msg);
    fx->t = mvq_tokenizer_from_gguf(fx->m->gguf, &err);
    cr_assert_not_null(fx->t, "%s", err.msg);
    /* the first 40 KB of the eval text is plenty for copy spans */
    FILE *f = fopen(text, "rb");
    cr_assert_not_null(f);
    static char buf[40000];
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_eq(mvq_tokenize(fx->t, buf, n, true, &fx->text, &fx->n_text, &err), MVQ_OK, "%s", err.msg);
}

static void close_fixture(fixture *fx)
{
    free(fx->text);
    mvq_tokenizer_free(fx->t);
    mvq_model_free(fx->m);
}

static mvq_probe_opts opts_for(const fixture *fx, int64_t n_items)
{
    mvq_probe_opts o;
    mvq_probe_opts_default(&o);
    o.n_items = n_items;
    o.text = fx->text;
    o.n_text = fx->n_text;
    return o;
}

static void make(const fixture *fx, mvq_probe_kind kind, const mvq_probe_opts *o, mvq_probe_set *s)
{
    mvq_error err;
    cr_assert_eq(mvq_probes_make(fx->t, kind, o, s, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(s->n_items, o->n_items);
}

/* Whether needle occurs in hay at or after from; its position, or -1. */
static int64_t find(const int32_t *hay, int64_t n, const int32_t *needle, int64_t m, int64_t from)
{
    for (int64_t i = from; i + m <= n; i++)
        if (memcmp(hay + i, needle, (size_t)m * sizeof *hay) == 0)
            return i;
    return -1;
}

Test(probes, copy_items_repeat_their_span_and_the_seed_fixes_them)
{
    fixture fx;
    open_fixture("models/stories260K.gguf", &fx);
    mvq_probe_opts o = opts_for(&fx, 8);
    mvq_probe_set a, b, c;
    make(&fx, MVQ_PROBE_COPY, &o, &a);
    make(&fx, MVQ_PROBE_COPY, &o, &b);
    o.seed = 2;
    make(&fx, MVQ_PROBE_COPY, &o, &c);
    bool differ = false;
    for (int64_t i = 0; i < a.n_items; i++) {
        const mvq_probe_item *it = &a.items[i];
        const int64_t L = o.copy_len;
        cr_assert_eq(it->answer.n_tokens, 1 + 2 * L);
        cr_assert_eq(it->answer.tokens[0], mvq_tokenizer_bos(fx.t));
        cr_assert(memcmp(it->answer.tokens + 1, it->answer.tokens + 1 + L, (size_t)L * sizeof(int32_t)) == 0);
        cr_assert_eq(it->scored_from, 2 + L);
        cr_assert_eq(it->base_from, 2, "the first copy from its second token");
        /* a span of the text */
        cr_assert_geq(find(fx.text, fx.n_text, it->answer.tokens + 1, L, 1), 1);
        cr_assert(memcmp(it->answer.tokens, b.items[i].answer.tokens, (size_t)it->answer.n_tokens * 4) == 0);
        differ |= memcmp(it->answer.tokens, c.items[i].answer.tokens, (size_t)it->answer.n_tokens * 4) != 0;
    }
    cr_assert(differ, "another seed, other spans");
    mvq_probe_set_free(&a);
    mvq_probe_set_free(&b);
    mvq_probe_set_free(&c);
    /* random tokens: NORMAL ones, not in the text's order */
    o.copy_random = true;
    make(&fx, MVQ_PROBE_COPY, &o, &a);
    for (int64_t k = 1; k < a.items[0].answer.n_tokens; k++)
        cr_assert_eq(mvq_token_get_type(fx.t, a.items[0].answer.tokens[k]), MVQ_TOKEN_NORMAL);
    cr_assert_float_eq(a.chance, 1.0 / 253, 1e-12, "stories260K has 253 NORMAL tokens");
    mvq_probe_set_free(&a);
    close_fixture(&fx);
}

Test(probes, passkey_sits_at_its_depth_is_asked_for_and_fits)
{
    fixture fx;
    open_fixture("models/stories260K.gguf", &fx);
    for (int form = 0; form < 3; form++)
        for (int d = 0; d < 2; d++) {
            mvq_probe_opts o = opts_for(&fx, 4);
            o.passkey_form = (mvq_passkey_form)form;
            o.passkey_pos = d;
            mvq_probe_set s;
            make(&fx, MVQ_PROBE_PASSKEY, &o, &s);
            for (int64_t i = 0; i < s.n_items; i++) {
                const mvq_probe_seq *q = &s.items[i].answer;
                cr_assert_leq(q->n_tokens, o.n_ctx);
                cr_assert_gt(q->n_tokens, o.n_ctx * 3 / 4, "filled with filler");
                /* the answer's tokens occur in the prompt: where the key was put */
                const int64_t m = q->n_tokens - q->answer_start;
                const int64_t at = find(q->tokens, q->answer_start, q->tokens + q->answer_start, m, 0);
                cr_assert_geq(at, 0, "form %d: the key is in the prompt", form);
                if (d == 0)
                    cr_assert_lt(at, q->n_tokens / 4, "depth 0: near the start (at %lld)", (long long)at);
                else
                    cr_assert_gt(at, q->n_tokens / 2, "form %d depth 1: near the end (at %lld)", form, (long long)at);
                /* the other keys: same prompt, another answer */
                cr_assert_eq(s.items[i].n_alts, 3);
                for (int a = 0; a < 3; a++) {
                    const mvq_probe_seq *alt = &s.items[i].alts[a];
                    cr_assert_eq(alt->answer_start, q->answer_start);
                    cr_assert(memcmp(alt->tokens, q->tokens, (size_t)q->answer_start * 4) == 0);
                    cr_assert(alt->n_tokens != q->n_tokens ||
                              memcmp(alt->tokens, q->tokens, (size_t)q->n_tokens * 4) != 0);
                }
            }
            if (form == MVQ_PASSKEY_DIGITS)
                cr_assert_float_eq(s.chance, 1e-5, 1e-12);
            mvq_probe_set_free(&s);
        }
    close_fixture(&fx);
}

Test(probes, recall_names_the_child_in_the_prompt_and_ranks_k_candidates)
{
    fixture fx;
    open_fixture("models/stories260K.gguf", &fx);
    mvq_probe_opts o = opts_for(&fx, 8);
    o.recall_candidates = 5;
    mvq_probe_set s;
    make(&fx, MVQ_PROBE_RECALL, &o, &s);
    cr_assert_float_eq(s.chance, 0.2, 1e-12);
    for (int64_t i = 0; i < s.n_items; i++) {
        const mvq_probe_item *it = &s.items[i];
        const mvq_probe_seq *q = &it->answer;
        const int64_t m = q->n_tokens - q->answer_start;
        cr_assert_geq(find(q->tokens, q->answer_start, q->tokens + q->answer_start, m, 0), 0,
                      "the name was introduced");
        cr_assert_eq(it->n_alts, 4);
        for (int a = 0; a < 4; a++) {
            const mvq_probe_seq *alt = &it->alts[a];
            cr_assert(memcmp(alt->tokens, q->tokens, (size_t)q->answer_start * 4) == 0);
            cr_assert_lt(find(alt->tokens, q->answer_start, alt->tokens + alt->answer_start,
                              alt->n_tokens - alt->answer_start, 0), 0, "the other names do not occur before");
        }
    }
    mvq_probe_set_free(&s);
    o.recall_candidates = 1;
    mvq_error err;
    cr_assert_eq(mvq_probes_make(fx.t, MVQ_PROBE_RECALL, &o, &s, &err), MVQ_ERR_ARG);
    close_fixture(&fx);
}

/* Writes text to a temporary file, returns its path (static). */
static const char *temp_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/mvq-probes-XXXXXX");
    const int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(probes, facts_files_are_read_and_bad_ones_refused_naming_the_line)
{
    fixture fx;
    open_fixture("models/stories260K.gguf", &fx);
    mvq_probe_set s;
    mvq_error err;
    const char *p = temp_file("# a comment\n\nOnce upon a\ttime\r\nThe sky is \t blue\n");
    cr_assert_eq(mvq_probes_read_facts(fx.t, p, 256, &s, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(s.n_items, 2);
    char *txt;
    size_t len;
    const mvq_probe_seq *q = &s.items[1].answer;
    cr_assert_eq(mvq_detokenize(fx.t, q->tokens + q->answer_start, q->n_tokens - q->answer_start, &txt, &len, &err),
                 MVQ_OK);
    cr_assert_str_eq(txt, "blue", "the answer after its space (detokenize drops a leading one)");
    free(txt);
    cr_assert(s.chance > 0 && s.chance <= 1.0 / 512, "a uniform guess of the answers' tokens: %g", s.chance);
    mvq_probe_set_free(&s);
    unlink(p);
    static const struct {
        const char *text, *msg;
    } bad[] = {{"Once upon a time\n", ":1: no tab"},     {"ok\tyes\n\tanswer\n", ":2: empty prompt"},
               {"prompt\t\n", ":1: empty answer"},       {"a\tb\tc\n", ":1: more than one tab"},
               {"# only a comment\n", "no prompt<TAB>answer pairs"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = temp_file(bad[i].text);
        cr_assert_eq(mvq_probes_read_facts(fx.t, p, 256, &s, &err), MVQ_ERR_FORMAT, "%s", bad[i].text);
        cr_assert(strstr(err.msg, p) && strstr(err.msg, bad[i].msg), "%s", err.msg);
        cr_assert_null(s.items);
        unlink(p);
    }
    cr_assert_eq(mvq_probes_read_facts(fx.t, "/nonexistent/facts.tsv", 256, &s, &err), MVQ_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/facts.tsv"), "%s", err.msg);
    close_fixture(&fx);
}

/* Scores a probe with one thread and with two: the same numbers. */
static mvq_probe_result score_twice(const fixture *fx, const mvq_probe_set *s)
{
    mvq_error err;
    mvq_probe_result r1, r2;
    mvq_pool *pool = mvq_pool_create(2);
    cr_assert_eq(mvq_probes_score(fx->m, s, NULL, NULL, &r1, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_probes_score(fx->m, s, NULL, pool, &r2, &err), MVQ_OK, "%s", err.msg);
    mvq_pool_free(pool);
    cr_assert_eq(r1.score, r2.score);
    cr_assert_eq(r1.logprob, r2.logprob, "%.17g %.17g", r1.logprob, r2.logprob);
    cr_assert_eq(r1.top1, r2.top1);
    cr_assert_eq(r1.rank_acc, r2.rank_acc);
    cr_assert_eq(r1.n_tokens, r2.n_tokens);
    return r1;
}

/* The gates: on each F32 fixture, copy, recall and the name passkey well
 * above chance (the floors are about half the scores measured on 16 items),
 * and deterministic. */
static void gate(const char *rel, double copy_min, double recall_min, double names_rank_min)
{
    fixture fx;
    open_fixture(rel, &fx);
    mvq_probe_opts o = opts_for(&fx, 16);
    mvq_probe_set s;
    make(&fx, MVQ_PROBE_COPY, &o, &s);
    mvq_probe_result r = score_twice(&fx, &s);
    cr_assert_gt(r.score, copy_min, "%s copy: %.3f (chance %.4f)", rel, r.score, s.chance);
    cr_assert_gt(r.score, r.base_top1 + 0.05, "%s copy: %.3f, the first copy %.3f", rel, r.score, r.base_top1);
    mvq_probe_set_free(&s);

    make(&fx, MVQ_PROBE_RECALL, &o, &s);
    r = score_twice(&fx, &s);
    cr_assert_gt(r.score, recall_min, "%s recall: %.3f (chance %.2f)", rel, r.score, s.chance);
    mvq_probe_set_free(&s);

    o.passkey_form = MVQ_PASSKEY_NAMES;
    o.n_ctx = 128;
    make(&fx, MVQ_PROBE_PASSKEY, &o, &s);
    r = score_twice(&fx, &s);
    cr_assert_gt(r.rank_acc, names_rank_min, "%s passkey:names rank: %.3f (chance 0.25)", rel, r.rank_acc);
    mvq_probe_set_free(&s);
    close_fixture(&fx);
}

Test(probes, stories260K_scores_well_above_chance_and_deterministic)
{
    gate("models/stories260K.gguf", 0.3, 0.6, 0.4);
}

Test(probes, tinyrope_scores_well_above_chance_and_deterministic)
{
    gate("models/tinyrope-3M.gguf", 0.3, 0.5, 0.4);
}
