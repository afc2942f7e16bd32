/* The methods' seam: the registry, the whole plan (method, protection,
 * transforms, reasons) and the job applying transforms (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

Test(methods, registry_lists_finds_and_names)
{
    const mvq_method *const *all = mvq_methods();
    cr_assert_not_null(all[0], "at least one method");
    cr_expect_eq(mvq_method_default(), all[0]);
    char list[256];
    mvq_method_list(list, sizeof list);
    for (const mvq_method *const *m = all; *m; m++) {
        cr_expect_eq(mvq_method_find((*m)->name), *m, "%s", (*m)->name);
        cr_expect_not_null((*m)->quantize, "%s quantizes", (*m)->name);
        cr_expect_not_null(strstr(list, (*m)->name), "%s in '%s'", (*m)->name, list);
    }
    cr_expect_null(mvq_method_find("no-such-method"));
    char tiny[4];
    mvq_method_list(tiny, sizeof tiny);
    cr_expect_lt(strlen(tiny), sizeof tiny, "cut, terminated");
}

/* stories260K with the pinned statistics, or skips */
typedef struct fixture {
    mvq_gguf *in;
    mvq_model *m;
    mvq_calib *calib;
} fixture;

static fixture open_fixture(void)
{
    char model[4096], stats[4096];
    if (!mvq_fixture("models/stories260K.gguf", model, sizeof model))
        cr_skip_test("fixture models/stories260K.gguf absent: configure --with-fixtures=DIR");
    const char *srcdir = getenv("MVQ_SRCDIR");
    snprintf(stats, sizeof stats, "%s/tests/pin/stories260K.stats.gguf", srcdir ? srcdir : ".");
    mvq_error err;
    fixture f;
    cr_assert_not_null(f.in = mvq_gguf_open(model, &err), "%s", err.msg);
    cr_assert_not_null(f.m = mvq_model_from_gguf(f.in, &err), "%s", err.msg);
    uint64_t key;
    cr_assert_not_null(f.calib = mvq_calib_load(stats, &f.m->hp, &key, &err), "%s", err.msg);
    return f;
}

static void close_fixture(fixture *f)
{
    mvq_calib_free(f->calib);
    mvq_model_free(f->m);
    mvq_gguf_close(f->in);
}

Test(plan, protection_is_a_rule_of_the_plan)
{
    fixture f = open_fixture();
    mvq_error err;
    mvq_quantize_opts pro = gates_opts("q4_k_m", true, f.calib, NULL);
    mvq_quantize_opts ign = gates_opts("q4_k_m", false, f.calib, NULL);
    mvq_plan *pp = mvq_plan_build(f.in, &pro, &err), *pi = mvq_plan_build(f.in, &ign, &err);
    cr_assert(pp && pi, "%s", err.msg);
    int n_protected = 0;
    uint64_t cost = 0;
    for (int64_t i = 0; i < mvq_plan_n_tensors(pp); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(f.in, i);
        const mvq_tensor_plan *a = mvq_plan_tensor(pp, i), *b = mvq_plan_tensor(pi, i);
        cr_expect_eq(a->method, a->quantize ? mvq_method_default() : NULL, "%s", t->name.data);
        cr_expect_eq(a->n_massive_rows, b->n_massive_rows, "%s: the same rows found either way", t->name.data);
        cr_expect_null(b->protected_rows, "%s: nothing protected when ignoring", t->name.data);
        cr_expect_neq(b->reason, MVQ_PLAN_PROTECTION);
        if (!a->quantize)
            cr_expect_eq(a->reason, MVQ_PLAN_COPY, "%s", t->name.data);
        if (a->n_massive_rows)
            cr_expect_not_null(a->protected_rows, "%s", t->name.data);
        if (a->reason == MVQ_PLAN_PROTECTION) {
            cr_expect(a->is_protected && a->type == MVQ_TYPE_Q8_0, "%s", t->name.data);
            cr_expect(strstr(t->name.data, "attn_q") || strstr(t->name.data, "attn_k"), "%s", t->name.data);
            cost += (mvq_row_size(a->type, t->ne[0]) - mvq_row_size(b->type, t->ne[0])) * (uint64_t)t->ne[1];
            n_protected++;
        } else {
            cr_expect_eq(a->type, b->type, "%s: only protection differs", t->name.data);
        }
    }
    cr_expect_gt(n_protected, 0, "stories260K has massive layers");
    cr_expect_eq(mvq_plan_protect_bytes(pp), cost);
    cr_expect_eq(mvq_plan_protect_bytes(pi), 0);
    cr_expect_str_eq(mvq_plan_reason_name(MVQ_PLAN_PROTECTION), "protection");
    mvq_plan_free(pp);
    mvq_plan_free(pi);
    close_fixture(&f);
}

/* A method of this test (a client of the interface): scales by powers of
 * two, exact in floats, folded into the norms and the ffn_up rows; rows
 * kept in f32. */
static float scale_of(int64_t j)
{
    return (float)(1 << (j % 5)) / 4.0f;
}

static mvq_status fold_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    const mvq_hparams *hp = mvq_calib_hparams(ctx->calib);
    struct { mvq_calib_input input; int64_t n, layers; } kinds[] = {
        { MVQ_CALIB_ATTN_IN, hp->n_embd, hp->n_layer },
        { MVQ_CALIB_FFN_IN, hp->n_embd, hp->n_layer },
        { MVQ_CALIB_FFN_DOWN_IN, hp->n_ff, hp->n_layer },
        { MVQ_CALIB_OUTPUT_IN, hp->n_embd, 1 },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (int64_t l = 0; l < kinds[k].layers; l++) {
            mvq_transform *t = mvq_transform_add(out, l, kinds[k].input, kinds[k].n);
            if (!t)
                return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory");
            for (int64_t j = 0; j < t->n; j++)
                t->scale[j] = scale_of(j + l);
        }
    return MVQ_OK;
}

static const mvq_method fold_method = {
    .name = "fold-test", .about = "test", .needs = 0, .prepare = fold_prepare, .quantize = gates_keep_f32,
};

Test(job, transforms_fold_into_norms_and_leave_the_model_unchanged)
{
    fixture f = open_fixture();
    mvq_error err;
    mvq_pool *pool = mvq_pool_create(2);
    mvq_quantize_opts o = gates_opts("f32", false, f.calib, pool);
    o.method = &fold_method;
    mvq_plan *plan = mvq_plan_build(f.in, &o, &err);
    cr_assert_not_null(plan, "%s", err.msg);
    int rewritten_norms = 0;
    for (int64_t i = 0; i < mvq_plan_n_tensors(plan); i++) {
        const mvq_tensor_plan *tp = mvq_plan_tensor(plan, i);
        const char *name = mvq_gguf_tensor_at(f.in, i)->name.data;
        if (strstr(name, "_norm.weight")) {
            cr_expect_eq(tp->reason, MVQ_PLAN_TRANSFORM, "%s", name);
            cr_expect_not_null(tp->divide_out, "%s", name);
            rewritten_norms++;
        }
        if (strstr(name, "ffn_up"))
            cr_expect(tp->scale_columns && tp->divide_out, "%s: columns and rows", name);
        if (strcmp(name, "token_embd.weight") == 0)
            cr_expect(!tp->scale_columns && !tp->divide_out, "the embedding is untouched");
    }
    cr_expect_eq(rewritten_norms, 2 * f.m->hp.n_layer + 1);
    mvq_plan_free(plan);

    char out[] = "/tmp/mvq-fold-XXXXXX.gguf";
    int fd = mkstemps(out, 5);
    cr_assert(fd >= 0);
    close(fd);
    mvq_quantize_report rep;
    cr_assert_eq(mvq_quantize_file(f.in, out, &o, &rep, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf *q = mvq_gguf_open(out, &err);
    cr_assert_not_null(q, "%s", err.msg);
    const mvq_gguf_tensor *a = mvq_gguf_find_tensor(f.in, "blk.0.attn_norm.weight");
    const mvq_gguf_tensor *b = mvq_gguf_find_tensor(q, "blk.0.attn_norm.weight");
    cr_assert(a && b && a->size == b->size);
    for (int64_t j = 0; j < a->ne[0]; j++)
        cr_expect_eq(((const float *)b->data)[j], ((const float *)a->data)[j] / scale_of(j), "attn_norm[%lld]",
                     (long long)j);
    a = mvq_gguf_find_tensor(f.in, "token_embd.weight");
    b = mvq_gguf_find_tensor(q, "token_embd.weight");
    cr_expect(a && b && memcmp(a->data, b->data, a->size) == 0, "copied byte for byte");

    /* the folded model computes what the original does */
    mvq_model *m = mvq_model_from_gguf(q, &err);
    cr_assert_not_null(m, "%s", err.msg);
    int32_t tokens[128];
    for (int i = 0; i < 128; i++)
        tokens[i] = 1 + (i * 37) % 500;
    mvq_eval_opts eo = { .n_ctx = 64, .bos = -1 };
    mvq_eval_result r;
    cr_assert_eq(mvq_eval_perplexity(m, f.m, tokens, 128, &eo, pool, &r, &err), MVQ_OK, "%s", err.msg);
    cr_expect_lt(r.kld_mean, 1e-9, "KLD %g against the original", r.kld_mean);
    mvq_model_free(m);
    mvq_gguf_close(q);
    mvq_quantize_report_free(&rep);
    unlink(out);
    mvq_pool_free(pool);
    close_fixture(&f);
}

/* Scales of attention outputs cannot fold into attn_v when heads share it. */
static mvq_status gqa_prepare(const mvq_method_context *ctx, mvq_transform_list *out, mvq_error *err)
{
    const mvq_hparams *hp = mvq_calib_hparams(ctx->calib);
    if (!mvq_transform_add(out, 0, MVQ_CALIB_ATTN_OUT, hp->n_head * hp->head_dim))
        return mvq_error_set(err, MVQ_ERR_NOMEM, "out of memory");
    return MVQ_OK;
}

static const mvq_method gqa_method = {
    .name = "gqa-test", .about = "test", .needs = 0, .prepare = gqa_prepare, .quantize = gates_keep_f32,
};

Test(plan, a_transform_that_cannot_fold_is_an_error)
{
    fixture f = open_fixture();
    cr_assert_neq(f.m->hp.n_head, f.m->hp.n_head_kv, "stories260K shares its K/V heads");
    mvq_error err;
    mvq_quantize_opts o = gates_opts("f32", false, f.calib, NULL);
    o.method = &gqa_method;
    cr_expect_null(mvq_plan_build(f.in, &o, &err));
    cr_expect_eq(err.status, MVQ_ERR_ARG, "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "blk.0.attn_v.weight"), "%s", err.msg);
    close_fixture(&f);
}
