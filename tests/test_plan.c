/* The quantization plan against llama-quantize's own Q4_K_M files, and the
 * IQ4_XS preset against llama.cpp's rules on a crafted model (Criterion). */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/fixtures.h"
#include "tests/gguf_testlib.h"

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
    cr_expect(strstr(err.msg, "attn_(q") != NULL, "%s", err.msg);
    free(plan);
    mvq_gguf_close(in);
}

Test(plan, presets_are_found_case_insensitively)
{
    cr_expect_eq(mvq_preset_find("Q4_K_M")->ftype, MVQ_FTYPE_Q4_K_M);
    cr_expect_eq(mvq_preset_find("q3_k_m")->base, MVQ_TYPE_Q3_K);
    cr_expect_null(mvq_preset_find("q4_k_xl"));
}

/* ---- the IQ4_XS preset: llama.cpp's LLAMA_FTYPE_MOSTLY_IQ4_XS rules ---- */

/* A llama GGUF of f32 tensors [ne0, 2] (shapes are all the plan reads):
 * output and token_embd, and per layer attn_q, attn_v and ffn_down, with
 * 32 heads over kv_heads; blk.0/blk.1 ffn_up rows of 96 and 100 (blocks of
 * 32 only, none at all). */
enum { PLAN_LAYERS = 16 };

static void write_plan_model(const char *path, uint32_t kv_heads)
{
    char names[3 * PLAN_LAYERS + 4][40];
    int64_t ne0[3 * PLAN_LAYERS + 4];
    int n = 0;
    snprintf(names[n], 40, "output.weight"), ne0[n++] = 512;
    snprintf(names[n], 40, "token_embd.weight"), ne0[n++] = 512;
    for (int l = 0; l < PLAN_LAYERS; l++) {
        snprintf(names[n], 40, "blk.%d.attn_q.weight", l), ne0[n++] = 512;
        snprintf(names[n], 40, "blk.%d.attn_v.weight", l), ne0[n++] = 512;
        snprintf(names[n], 40, "blk.%d.ffn_down.weight", l), ne0[n++] = 1536;
    }
    snprintf(names[n], 40, "blk.0.ffn_up.weight"), ne0[n++] = 96;
    snprintf(names[n], 40, "blk.1.ffn_up.weight"), ne0[n++] = 100;
    gbuf b = {0};
    gb_header(&b, 3, (uint64_t)n, 4);
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_u32(&b, "llama.block_count", PLAN_LAYERS);
    gb_kv_u32(&b, "llama.attention.head_count", 32);
    gb_kv_u32(&b, "llama.attention.head_count_kv", kv_heads);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const int64_t ne[2] = {ne0[i], 2};
        gb_info(&b, names[i], 2, ne, MVQ_TYPE_F32, off);
        off += (uint64_t)(8 * ne0[i] + 31) / 32 * 32;
    }
    gb_pad(&b, 32);
    gb_zeros(&b, (size_t)off);
    cr_assert(write_whole_file(path, b.p, b.n));
    gb_free(&b);
}

/* What llama-quantize gives each tensor of that model for IQ4_XS. */
static mvq_type iq4_xs_rule(const char *name, int64_t ne0, bool gqa4, bool imatrix)
{
    if (strcmp(name, "output.weight") == 0)
        return MVQ_TYPE_Q6_K;
    if (strstr(name, "attn_v.weight") && gqa4)
        return MVQ_TYPE_Q5_K;
    /* the first eighth of ffn_down in name order: blk.0, blk.1 (then blk.10) */
    if (strstr(name, "ffn_down") && !imatrix &&
        (strncmp(name, "blk.0.", 6) == 0 || strncmp(name, "blk.1.", 6) == 0))
        return MVQ_TYPE_Q5_K;
    if (ne0 % 256 != 0) /* llama.cpp's fallback for IQ4_XS rows, then F16 */
        return ne0 % 32 == 0 ? MVQ_TYPE_IQ4_NL : MVQ_TYPE_F16;
    return MVQ_TYPE_IQ4_XS;
}

Test(plan, iq4_xs_follows_llama_cpp_rules)
{
    char dir[4096], path[4200];
    cr_assert(make_temp_dir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    const mvq_preset *p = mvq_preset_find("IQ4_XS");
    cr_assert_not_null(p);
    cr_assert_eq(p->ftype, MVQ_FTYPE_IQ4_XS);
    cr_assert_eq(p->base, MVQ_TYPE_IQ4_XS);
    for (int gqa4 = 0; gqa4 < 2; gqa4++) {
        write_plan_model(path, gqa4 ? 8 : 32);
        mvq_error err;
        mvq_gguf *in = mvq_gguf_open(path, &err);
        cr_assert_not_null(in, "%s", err.msg);
        for (int im = 0; im < 2; im++) {
            mvq_plan_params pp = {.ftype = p->ftype, .base = p->base, .output_type = -1, .token_embd_type = -1,
                                  .has_imatrix = im};
            int64_t n = mvq_gguf_n_tensors(in);
            mvq_tensor_plan plan[3 * PLAN_LAYERS + 4];
            cr_assert_eq(mvq_plan_make(in, &pp, plan, &err), MVQ_OK, "%s", err.msg);
            for (int64_t i = 0; i < n; i++) {
                const mvq_gguf_tensor *t = mvq_gguf_tensor_at(in, i);
                const mvq_type want = iq4_xs_rule(t->name.data, t->ne[0], gqa4, im);
                cr_expect_eq(plan[i].type, want, "%s (n_gqa %d, imatrix %d): planned %s, llama.cpp %s",
                             t->name.data, gqa4 ? 4 : 1, im, mvq_type_name(plan[i].type), mvq_type_name(want));
                cr_expect_eq(plan[i].fallback, t->ne[0] % 256 != 0, "%s fallback", t->name.data);
            }
        }
        mvq_gguf_close(in);
    }
    remove_temp_dir(dir);
}
