/* GPTQ's gates on the fixture models (Criterion): at q4_k_m, q4_0 and
 * q3_k_m, massive values ignored and protected, --method gptq (sequential,
 * act-order, refit) writes the same tensor types as RTN and a lower mean
 * KL divergence against the F32 model on tinystories-eval.txt (n_ctx 256),
 * every output passes the loader's rules and its recorded hashes, and the
 * rows producing massive dimensions come out with lower error protected
 * than ignored.
 *
 * To stay in the CI budget: RTN and the plan use the pin's committed
 * statistics (16384 tokens, tests/pin/), GPTQ's layer-by-layer pass 4096
 * tokens of the calibration text, and each configuration is judged on the
 * first 32 chunks of the evaluation text (the same chunks for both
 * methods); the full table is in make bench's note. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

#define EVAL_CHUNKS 32
#define GPTQ_TOKENS 4096

typedef struct setting {
    mvq_gguf *in;
    mvq_model *base;
    mvq_calib *calib;
    int32_t *etoks, *ctoks;
    int64_t n_etoks, n_ctoks;
    mvq_pool *pool;
} setting;

typedef struct judged {
    double kld, ppl, same_top;
    uint64_t tensor_bytes;
    mvq_type types[512];
    double massive_err; /* sum over the protected plan's massive rows of I (w - q)^2 */
} judged;

static setting open_setting(const char *name)
{
    char model[4096], calib_text[4096], eval_text[4096];
    gates_fixture_paths(name, model, calib_text, eval_text);
    mvq_error err;
    setting s = {.pool = mvq_pool_create(2)};
    cr_assert_not_null(s.in = mvq_gguf_open(model, &err), "%s", err.msg);
    cr_assert_not_null(s.base = mvq_model_from_gguf(s.in, &err), "%s", err.msg);
    s.calib = gates_pinned_stats(name, &s.base->hp);
    cr_assert_eq(mvq_calib_text_tokens(s.base, eval_text, EVAL_CHUNKS * 256, &s.etoks, &s.n_etoks, &err), MVQ_OK,
                 "%s", err.msg);
    cr_assert_eq(mvq_calib_text_tokens(s.base, calib_text, GPTQ_TOKENS, &s.ctoks, &s.n_ctoks, &err), MVQ_OK, "%s",
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

/* sum over the massive rows of attn_q/attn_k (as the protecting plan
 * marks them) of I (w - q)^2, I the importance */
static double massive_rows_error(const setting *s, const mvq_plan *pro, const mvq_gguf *q)
{
    double sum = 0;
    for (int64_t i = 0; i < mvq_plan_n_tensors(pro); i++) {
        const mvq_tensor_plan *tp = mvq_plan_tensor(pro, i);
        if (!tp->protected_rows)
            continue;
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(s->in, i), *u = mvq_gguf_find_tensor(q, t->name.data);
        cr_assert_not_null(u);
        const int64_t n = t->ne[0];
        float *w = malloc(sizeof *w * (size_t)n), *d = malloc(sizeof *d * (size_t)n), *imp = malloc(sizeof *imp * (size_t)n);
        cr_assert(mvq_calib_importance(s->calib, t->name.data, imp, n));
        for (int64_t r = 0; r < t->ne[1]; r++) {
            if (!tp->protected_rows[r])
                continue;
            mvq_dequantize_row((mvq_type)t->type, (const char *)t->data + mvq_row_size((mvq_type)t->type, n) * (size_t)r, w, n);
            mvq_dequantize_row((mvq_type)u->type, (const char *)u->data + mvq_row_size((mvq_type)u->type, n) * (size_t)r, d, n);
            for (int64_t j = 0; j < n; j++)
                sum += (double)imp[j] * ((double)w[j] - d[j]) * ((double)w[j] - d[j]);
        }
        free(w);
        free(d);
        free(imp);
    }
    return sum;
}

static judged run(const setting *s, const char *preset, bool protect, bool gptq, const mvq_plan *pro)
{
    char out[] = "/tmp/mvq-gptq-gate-XXXXXX.gguf";
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_opts o = gates_opts(preset, protect, s->calib, s->pool);
    if (gptq) {
        o.method = mvq_method_find("gptq");
        cr_assert_not_null(o.method);
        o.calib_tokens = s->ctoks;
        o.n_calib_tokens = s->n_ctoks;
        o.calib_ctx = 256;
        o.sequential = true;
    }
    mvq_quantize_report rep;
    mvq_error err;
    cr_assert_eq(mvq_quantize_file(s->in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    judged j = {.tensor_bytes = rep.bytes_out};
    cr_assert_leq(rep.n_tensors, 512);
    for (int64_t i = 0; i < rep.n_tensors; i++) {
        j.types[i] = rep.tensors[i].to;
        if (gptq && rep.tensors[i].quantized && strcmp(rep.tensors[i].name, "token_embd.weight") != 0 &&
            mvq_type_traits_get(rep.tensors[i].to)->block_size > 1)
            cr_expect_geq(rep.tensors[i].out_err[0], 0, "%s %s: GPTQ ran", preset, rep.tensors[i].name);
    }
    mvq_gguf *q = mvq_gguf_open(out, &err);
    cr_assert_not_null(q, "%s", err.msg);
    gates_check_output(q);
    j.massive_err = massive_rows_error(s, pro, q);
    mvq_model *m = mvq_model_from_gguf(q, &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_eval_opts eo = {.n_ctx = 256, .bos = s->etoks[0], .max_chunks = EVAL_CHUNKS};
    mvq_eval_result r;
    cr_assert_eq(mvq_eval_perplexity(m, s->base, s->etoks, s->n_etoks, &eo, s->pool, &r, &err), MVQ_OK, "%s",
                 err.msg);
    j.kld = r.kld_mean, j.ppl = r.ppl, j.same_top = r.same_top;
    mvq_model_free(m);
    mvq_gguf_close(q);
    mvq_quantize_report_free(&rep);
    unlink(out);
    return j;
}

static void gates(const char *name)
{
    static const char *const presets[] = {"q4_k_m", "q4_0", "q3_k_m"};
    setting s = open_setting(name);
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        mvq_error err;
        mvq_quantize_opts po = gates_opts(presets[p], true, s.calib, s.pool);
        mvq_plan *pro = mvq_plan_build(s.in, &po, &err);
        cr_assert_not_null(pro, "%s", err.msg);
        judged g[2];
        for (int protect = 0; protect < 2; protect++) {
            const judged rtn = run(&s, presets[p], protect, false, pro);
            g[protect] = run(&s, presets[p], protect, true, pro);
            const char *mode = protect ? "protect" : "ignore";
            cr_log_info("%s %s %s: RTN KLD %.6f PPL %.4f top %.4f | GPTQ KLD %.6f PPL %.4f top %.4f", name,
                        presets[p], mode, rtn.kld, rtn.ppl, rtn.same_top, g[protect].kld, g[protect].ppl,
                        g[protect].same_top);
            cr_expect_lt(g[protect].kld, rtn.kld, "%s %s %s: GPTQ's mean KLD %.6f not below RTN's %.6f", name,
                         presets[p], mode, g[protect].kld, rtn.kld);
            cr_expect_eq(g[protect].tensor_bytes, rtn.tensor_bytes, "%s %s %s: the same size", name, presets[p],
                         mode);
            cr_expect_eq(memcmp(g[protect].types, rtn.types, sizeof rtn.types), 0, "%s %s %s: the same types", name,
                         presets[p], mode);
        }
        cr_expect_lt(g[1].massive_err, g[0].massive_err, "%s %s: massive rows' error %g protected, %g ignored", name,
                     presets[p], g[1].massive_err, g[0].massive_err);
        mvq_plan_free(pro);
    }
    close_setting(&s);
}

Test(gptq_gates, stories260K, .timeout = 1800)
{
    gates("stories260K");
}

Test(gptq_gates, tinyrope_3M, .timeout = 2400)
{
    gates("tinyrope-3M");
}
