/* What the main job's tests share (test_gates.c, test_pin.c): the
 * calibration test_gates.c judges with, and the CLI's default options. */
#ifndef MVQ_TEST_GATES_TESTLIB_H
#define MVQ_TEST_GATES_TESTLIB_H

#include <criterion/criterion.h>
#include <mvquant.h>

#include "tests/fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

/* Statistics of tokens in sequences of n_ctx, no cache; also saved to
 * stats_out when not NULL. */
static inline mvq_calib *gates_calibrate_tokens(const mvq_model *m, const int32_t *tokens, int64_t n_tokens,
                                                int64_t n_ctx, const char *stats_out, mvq_pool *pool)
{
    mvq_error err;
    mvq_calib_request req;
    mvq_calib_request_default(&req);
    req.tokens = tokens;
    req.n_tokens = n_tokens;
    req.n_ctx = n_ctx;
    req.no_cache = true;
    req.stats_out = stats_out;
    mvq_calib_info info;
    mvq_calib *c = mvq_calib_obtain(m, &req, pool, &info, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* 16384 tokens of the calibration text in sequences of 256, no cache;
 * also saved to stats_out when not NULL. */
static inline mvq_calib *gates_calibrate(mvq_model *m, const char *calib_text, const char *stats_out,
                                         mvq_pool *pool)
{
    mvq_error err;
    int32_t *tokens;
    int64_t n_tokens;
    cr_assert_eq(mvq_calib_text_tokens(m, calib_text, 16384, &tokens, &n_tokens, &err), MVQ_OK, "%s", err.msg);
    mvq_calib *c = gates_calibrate_tokens(m, tokens, n_tokens, 256, stats_out, pool);
    free(tokens);
    return c;
}

/* The CLI's defaults for a preset, with statistics. */
static inline mvq_quantize_opts gates_opts(const char *preset, bool protect, const mvq_calib *calib, mvq_pool *pool)
{
    const mvq_preset *p = mvq_preset_find(preset);
    cr_assert_not_null(p, "preset %s", preset);
    mvq_quantize_opts o = {
        .plan = { .ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1,
                  .has_imatrix = true },
        .protect_massive = protect,
        .massive_type = MVQ_TYPE_Q8_0,
        .massive = { .lambda = 5.0, .topk = 1 },
        .calib = calib,
        .pool = pool,
    };
    return o;
}

/* The fixture model of that name and the two texts (4096-byte buffers), or
 * skips: also with MVQ_TEST_HEAVY=no. */
static inline void gates_fixture_paths(const char *name, char *model, char *calib_text, char *eval_text)
{
    char rel[256];
    if (mvq_heavy_tests_off())
        cr_skip_test(MVQ_HEAVY_SKIP_MSG);
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    if (!mvq_fixture(rel, model, 4096) || !mvq_fixture("text/tinystories-calib.txt", calib_text, 4096) ||
        !mvq_fixture("text/tinystories-eval.txt", eval_text, 4096))
        cr_skip_test("fixtures absent (%s and the texts): configure --with-fixtures=DIR", rel);
}

/* The pin's committed statistics of that model (tests/pin/). */
static inline mvq_calib *gates_pinned_stats(const char *name, const mvq_hparams *hp)
{
    char stats[4096];
    const char *srcdir = getenv("MVQ_SRCDIR");
    snprintf(stats, sizeof stats, "%s/tests/pin/%s.stats.gguf", srcdir ? srcdir : ".", name);
    mvq_error err;
    uint64_t key;
    mvq_calib *c = mvq_calib_load(stats, hp, &key, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

/* An output llama.cpp loads: its loader's rules, and every tensor's recorded hash. */
static inline void gates_check_output(const mvq_gguf *q)
{
    mvq_error err;
    cr_assert_eq(mvq_gguf_check_loader_rules(q, &err), MVQ_OK, "%s", err.msg);
    int64_t checked = 0;
    cr_assert_eq(mvq_gguf_verify_hashes(q, &checked, NULL, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(checked, mvq_gguf_n_tensors(q), "every tensor's hash recorded");
}

/* A test method's quantizer that keeps the rows in f32 (the transforms
 * only), for the folding tests. */
static inline mvq_status gates_keep_f32(mvq_method_tensor *t, mvq_pool *pool, mvq_error *err)
{
    (void)pool;
    if (t->type != MVQ_TYPE_F32)
        return mvq_error_set(err, MVQ_ERR_UNSUPPORTED, "f32 only");
    memcpy(t->dst, t->rows, sizeof(float) * (size_t)(t->n_in * t->n_out));
    t->rel_err = 0;
    t->protected_rel_err = -1;
    return MVQ_OK;
}


typedef struct gates_outcome {
    double kld, kld_err, ppl, same_top;
    uint64_t size, protect_bytes;
    double bpw;                 /* of the tensor data */
    double ppl_ctx, ppl_ctx_err; /* over the contextual predictions (mvq_eval_perplexity_split) */
} gates_outcome;

/* Quantizes in with o into a temporary file, checks what llama.cpp's loader
 * and `mvquant verify` check, and judges it against base over tokens
 * (n_ctx 256; the first max_chunks chunks, <= 0: all): mean KLD, PPL,
 * same top p, the file's size, the contextual predictions' PPL. */
static inline gates_outcome gates_judge_chunks(mvq_gguf *in, mvq_model *base, const mvq_quantize_opts *o,
                                               const int32_t *tokens, int64_t n_tokens, int32_t bos,
                                               int64_t max_chunks, mvq_pool *pool)
{
    char out[] = "/tmp/mvq-gate-XXXXXX.gguf";
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_report rep;
    mvq_error err;
    cr_assert_eq(mvq_quantize_file(in, out, o, &rep, &err), MVQ_OK, "%s", err.msg);

    mvq_gguf *q = mvq_gguf_open(out, &err);
    cr_assert_not_null(q, "%s", err.msg);
    cr_assert_eq(mvq_gguf_check_loader_rules(q, &err), MVQ_OK, "%s", err.msg);
    int64_t checked = 0;
    cr_assert_eq(mvq_gguf_verify_hashes(q, &checked, NULL, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(checked, mvq_gguf_n_tensors(q), "every tensor's hash recorded");
    uint64_t ft = 0, qv = 0;
    cr_assert(mvq_gguf_get_u64(q, "general.file_type", &ft) && ft == (uint64_t)o->plan.ftype);
    cr_assert(mvq_gguf_get_u64(q, "general.quantization_version", &qv) && qv == 2);

    mvq_model *m = mvq_model_from_gguf(q, &err);
    cr_assert_not_null(m, "%s", err.msg);
    mvq_eval_opts eo = { .n_ctx = 256, .max_chunks = max_chunks, .bos = bos };
    mvq_eval_result split[3], r;
    cr_assert_eq(mvq_eval_perplexity_split(m, base, tokens, n_tokens, &eo, pool, split, &err), MVQ_OK, "%s",
                 err.msg);
    r = split[0];
    gates_outcome oc = { r.kld_mean, r.kld_err, r.ppl, r.same_top, mvq_gguf_file_size(q), rep.protect_bytes, rep.bpw,
                         split[1].ppl, split[1].ppl_err };
    mvq_model_free(m);
    mvq_gguf_close(q);
    mvq_quantize_report_free(&rep);
    unlink(out);
    return oc;
}

static inline gates_outcome gates_quantize_and_judge(mvq_gguf *in, mvq_model *base, const mvq_quantize_opts *o,
                                                     const int32_t *tokens, int64_t n_tokens, int32_t bos,
                                                     mvq_pool *pool)
{
    return gates_judge_chunks(in, base, o, tokens, n_tokens, bos, 0, pool);
}

#endif
