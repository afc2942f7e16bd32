/* The quantization plan against llama-quantize's own Q4_K_M files (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <stdlib.h>
#include <string.h>
#include "tests/fixtures.h"

/* Plans model with the preset and compares every tensor's type with the
 * file llama-quantize wrote from the same model. */
static void same_types_as_llama_quantize(const char *model, const char *reference, const char *preset)
{
    char a[4096], b[4096];
    if (!mvq_fixture(model, a, sizeof a) || !mvq_fixture(reference, b, sizeof b))
        cr_skip_test("fixtures absent (%s, %s): configure --with-fixtures=DIR", model, reference);
    mvq_error err;
    mvq_gguf *in = mvq_gguf_open(a, &err), *ref = mvq_gguf_open(b, &err);
    cr_assert(in && ref, "%s", err.msg);
    const mvq_preset *p = mvq_preset_find(preset);
    cr_assert_not_null(p);
    mvq_plan_params pp = { .ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1 };
    int64_t n = mvq_gguf_n_tensors(in);
    mvq_tensor_plan *plan = calloc((size_t)n, sizeof *plan);
    cr_assert_not_null(plan);
    cr_assert_eq(mvq_plan_make(in, &pp, plan, &err), MVQ_OK, "%s", err.msg);
    for (int64_t i = 0; i < n; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
        const mvq_gguf_tensor *r = mvq_gguf_find_tensor(ref, t->name.data);
        cr_assert_not_null(r, "%s missing from %s", t->name.data, reference);
        cr_expect_eq(plan[i].type, r->type, "%s: planned %s, llama-quantize wrote %s", t->name.data,
                     mvq_type_name(plan[i].type), mvq_type_name(r->type));
    }
    free(plan);
    mvq_gguf_close(in);
    mvq_gguf_close(ref);
}

Test(plan, stories260K_q4_k_m_matches_llama_quantize)
{
    same_types_as_llama_quantize("models/stories260K.gguf", "models/stories260K-Q4_K_M.gguf", "q4_k_m");
}

Test(plan, tinyrope_q4_k_m_matches_llama_quantize)
{
    same_types_as_llama_quantize("models/tinyrope-3M.gguf", "models/tinyrope-3M-Q4_K_M.gguf", "q4_k_m");
}

Test(plan, overrides_and_fallbacks)
{
    char a[4096];
    if (!mvq_fixture("models/stories260K.gguf", a, sizeof a))
        cr_skip_test("fixtures absent: configure --with-fixtures=DIR");
    mvq_error err;
    mvq_gguf *in = mvq_gguf_open(a, &err);
    cr_assert_not_null(in, "%s", err.msg);
    mvq_plan_params pp = { .ftype = MVQ_FTYPE_Q8_0, .base = MVQ_TYPE_Q8_0, .output_type = MVQ_TYPE_F16,
                           .token_embd_type = -1, .n_overrides = 1 };
    pp.override_regex[0] = "attn_(q|k)\\.weight$";
    pp.override_type[0] = MVQ_TYPE_Q6_K;
    int64_t n = mvq_gguf_n_tensors(in);
    mvq_tensor_plan *plan = calloc((size_t)n, sizeof *plan);
    cr_assert_not_null(plan);
    cr_assert_eq(mvq_plan_make(in, &pp, plan, &err), MVQ_OK, "%s", err.msg);
    for (int64_t i = 0; i < n; i++) {
        const char *name = mvq_gguf_tensor_at(in, i)->name.data;
        if (strstr(name, "norm")) {
            cr_expect(!plan[i].quantize, "%s stays as it is", name);
            cr_expect_eq(plan[i].type, MVQ_TYPE_F32);
        } else if (strcmp(name, "output.weight") == 0) {
            cr_expect_eq(plan[i].type, MVQ_TYPE_F16, "--output-tensor-type");
        } else if (strstr(name, "attn_q.weight") || strstr(name, "attn_k.weight")) {
            /* rows of 64 do not fit Q6_K's 256: llama.cpp's fallback is Q8_0 */
            cr_expect_eq(plan[i].wanted, MVQ_TYPE_Q6_K, "%s", name);
            cr_expect_eq(plan[i].type, MVQ_TYPE_Q8_0, "%s", name);
            cr_expect(plan[i].fallback && plan[i].overridden);
        } else if (strstr(name, "ffn_down")) {
            /* rows of 172 fit no block type: F16 */
            cr_expect_eq(plan[i].type, MVQ_TYPE_F16, "%s", name);
            cr_expect(plan[i].fallback);
        } else {
            cr_expect_eq(plan[i].type, MVQ_TYPE_Q8_0, "%s", name);
        }
    }
    pp.override_regex[0] = "attn_(q";
    cr_expect_eq(mvq_plan_make(in, &pp, plan, &err), MVQ_ERR_ARG);
    free(plan);
    cr_expect(strstr(err.msg, "attn_(q") != NULL, "%s", err.msg);
    mvq_gguf_close(in);
}

Test(plan, presets_are_found_case_insensitively)
{
    cr_expect_eq(mvq_preset_find("Q4_K_M")->ftype, MVQ_FTYPE_Q4_K_M);
    cr_expect_eq(mvq_preset_find("q3_k_m")->base, MVQ_TYPE_Q3_K);
    cr_expect_null(mvq_preset_find("q4_k_xl"));
}
