/* AWQ's gates on the fixture models (Criterion): at q4_k_m, q4_0 and
 * q3_k_m, --method awq writes the same tensor types and size as RTN and a
 * lower mean KL divergence against the F32 model on tinystories-eval.txt
 * (n_ctx 256); every output passes the loader's rules and its recorded
 * hashes; the massive dimensions found on an AWQ output are the original
 * model's (the scales change the Q/K projections' inputs, not their outputs).
 * At q4_0 AWQ's clipping search is compared with AWQ without it.
 * AWQ with and without importance is compared in make bench-quality, not here;
 * on tinyrope-3M AWQ is not below RTN (see its test) and is not judged.
 *
 * To stay in the CI budget: the plan and RTN use the pin's committed
 * statistics (16384 tokens, tests/pin/); stories260K is judged on the first
 * 64 chunks of the evaluation text with AWQ's search on 2048 tokens,
 * tinyrope-3M on 24 chunks with the search on 512 tokens (the same chunks
 * for both methods); the full table is make bench-quality's
 * (bench/awq_table.sh). */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

typedef struct setting {
    const char *name;
    mvq_gguf *in;
    mvq_model *base;
    mvq_calib *calib;
    int32_t *etoks, *ctoks;
    int64_t n_etoks, n_ctoks, chunks;
    const char *awq_tokens; /* "tokens=N" */
    mvq_pool *pool;
} setting;

typedef struct judged {
    double kld, ppl, same_top;
    uint64_t tensor_bytes;
    mvq_type types[512];
} judged;

static setting open_setting(const char *name, int64_t chunks, const char *awq_tokens)
{
    char model[4096], calib_text[4096], eval_text[4096];
    gates_fixture_paths(name, model, calib_text, eval_text);
    mvq_error err;
    setting s = {.name = name, .chunks = chunks, .awq_tokens = awq_tokens, .pool = mvq_pool_create(2)};
    cr_assert_not_null(s.in = mvq_gguf_open(model, &err), "%s", err.msg);
    cr_assert_not_null(s.base = mvq_model_from_gguf(s.in, &err), "%s", err.msg);
    s.calib = gates_pinned_stats(name, &s.base->hp);
    cr_assert_eq(mvq_calib_text_tokens(s.base, eval_text, chunks > 0 ? chunks * 256 : 0, &s.etoks, &s.n_etoks, &err),
                 MVQ_OK, "%s", err.msg);
    cr_assert_eq(mvq_calib_text_tokens(s.base, calib_text, 16384, &s.ctoks, &s.n_ctoks, &err), MVQ_OK, "%s",
                 err.msg);
    return s;
}

static void close_setting(setting *s)
{
    free(s->etoks);
    free(s->ctoks);
    mvq_calib_free(s->calib);
    mvq_model_free(s->base);
    mvq_gguf_close(s->in);
    mvq_pool_free(s->pool);
}

static bool no_importance(void *user, const char *name)
{
    (void)user, (void)name;
    return false;
}

/* The massive dimensions (top 1 per head) of Q and K found on m by a calibration pass. */
static void massive_dims(const setting *s, const mvq_model *m, uint8_t *mask, int64_t n_mask)
{
    mvq_calib *c = gates_calibrate_tokens(m, s->ctoks, 4096, 256, NULL, s->pool);
    const mvq_hparams *hp = &m->hp;
    const mvq_massive_params p = {.lambda = 5.0, .topk = 1};
    float *M = malloc(sizeof *M * (size_t)(hp->n_head * hp->head_dim));
    int64_t at = 0;
    for (int64_t l = 0; l < hp->n_layer; l++)
        for (int which = MVQ_CALIB_Q; which <= MVQ_CALIB_K; which++) {
            const int64_t heads = which == MVQ_CALIB_Q ? hp->n_head : hp->n_head_kv;
            cr_assert_leq(at + heads * hp->head_dim, n_mask);
            mvq_calib_norms(c, (mvq_calib_qkv)which, l, M);
            mvq_massive_detect(M, (int)heads, (int)hp->head_dim, (int)hp->n_rot, hp->rope_freq_base,
                               hp->rope_style == MVQ_ROPE_NEOX, &p, mask + at, NULL);
            at += heads * hp->head_dim;
        }
    free(M);
    mvq_calib_free(c);
}

static judged run(const setting *s, const char *preset, bool awq, bool importance, uint8_t *massive, int64_t n_mask,
                  const char *awq_opt)
{
    char out[] = "/tmp/mvq-awq-gate-XXXXXX.gguf";
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_opts o = gates_opts(preset, false, s->calib, s->pool);
    const char *const opts[] = {s->awq_tokens, awq_opt, NULL};
    if (awq) {
        cr_assert_not_null(o.method = mvq_method_find("awq"));
        o.calib_tokens = s->ctoks;
        o.n_calib_tokens = s->n_ctoks;
        o.calib_ctx = 256;
        o.method_opts = opts;
    }
    if (!importance)
        o.use_importance = no_importance;
    mvq_quantize_report rep;
    mvq_error err;
    cr_assert_eq(mvq_quantize_file(s->in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    judged j = {.tensor_bytes = rep.bytes_out};
    cr_assert_leq(rep.n_tensors, 512);
    for (int64_t i = 0; i < rep.n_tensors; i++)
        j.types[i] = rep.tensors[i].to;
    mvq_gguf *q = mvq_gguf_open(out, &err);
    cr_assert_not_null(q, "%s", err.msg);
    gates_check_output(q);
    cr_assert_eq(mvq_gguf_n_tensors(q), mvq_gguf_n_tensors(s->in), "no tensor added");
    mvq_model *m = mvq_model_from_gguf(q, &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_eval_opts eo = {.n_ctx = 256, .bos = s->etoks[0], .max_chunks = s->chunks};
    mvq_eval_result r;
    cr_assert_eq(mvq_eval_perplexity(m, s->base, s->etoks, s->n_etoks, &eo, s->pool, &r, &err), MVQ_OK, "%s",
                 err.msg);
    j.kld = r.kld_mean, j.ppl = r.ppl, j.same_top = r.same_top;
    if (massive)
        massive_dims(s, m, massive, n_mask);
    mvq_model_free(m);
    mvq_gguf_close(q);
    mvq_quantize_report_free(&rep);
    unlink(out);
    return j;
}

static void gates(setting *s, bool judge_kld)
{
    static const char *const presets[] = {"q4_k_m", "q4_0", "q3_k_m"};
    const mvq_hparams *hp = &s->base->hp;
    const int64_t n_mask = hp->n_layer * (hp->n_head + hp->n_head_kv) * hp->head_dim;
    uint8_t *orig = calloc((size_t)n_mask, 1), *found = calloc((size_t)n_mask, 1);
    massive_dims(s, s->base, orig, n_mask);
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        const judged rtn = run(s, presets[p], false, true, NULL, 0, NULL);
        const judged awq = run(s, presets[p], true, true, p == 0 ? found : NULL, n_mask, NULL);
        cr_log_info("%s %s: RTN KLD %.6f PPL %.4f top %.4f | AWQ KLD %.6f PPL %.4f top %.4f\n", s->name, presets[p],
                    rtn.kld, rtn.ppl, rtn.same_top, awq.kld, awq.ppl, awq.same_top);
        if (judge_kld)
            cr_expect_lt(awq.kld, rtn.kld, "%s %s: AWQ's mean KLD %.6f not below RTN's %.6f", s->name, presets[p],
                         awq.kld, rtn.kld);
        cr_expect_eq(awq.tensor_bytes, rtn.tensor_bytes, "%s %s: the same size", s->name, presets[p]);
        cr_expect_eq(memcmp(awq.types, rtn.types, sizeof rtn.types), 0, "%s %s: the same types", s->name, presets[p]);
        /* the clipping search, on stories260K at q4_0 (where it buys the most:
         * 0.0570 against 0.0623 on 128 chunks; on tinyrope-3M it is within
         * +-2.5% either way, logged only) */
        if (p == 1) {
            const judged plain = run(s, presets[p], true, true, NULL, 0, "clip=0");
            cr_log_info("%s %s: AWQ without clipping KLD %.6f\n", s->name, presets[p], plain.kld);
            if (judge_kld)
                cr_expect_lt(awq.kld, plain.kld, "%s %s: AWQ's KLD with clipping %.6f not below without %.6f",
                             s->name, presets[p], awq.kld, plain.kld);
        }
    }
    cr_expect_eq(memcmp(orig, found, (size_t)n_mask), 0, "%s: the AWQ output's massive dimensions are the model's",
                 s->name);
    free(orig);
    free(found);
}

Test(awq_gates, stories260K, .timeout = 1800)
{
    setting s = open_setting("stories260K", 64, "tokens=2048");
    gates(&s, true);
    close_setting(&s);
}

Test(awq_gates, tinyrope_3M, .timeout = 1800)
{
    /* AWQ does not beat the importance-weighted RTN on tinyrope-3M: on the
     * whole evaluation text it ties or loses by about 1-5% (make bench-quality's
     * table), so here its figures are logged, not judged; the rest holds */
    setting s = open_setting("tinyrope-3M", 24, "tokens=512");
    gates(&s, false);
    close_setting(&s);
}
