/* The main job's gates on the fixture models (Criterion): quantized at
 * q4_k_m with the calibration text, the mean KL divergence against the F32
 * model on tinystories-eval.txt (n_ctx 256) must be no worse than
 * llama.cpp's Q4_K_M with an importance matrix, at no more than its size
 * plus 1%, and --protect-massive must beat --ignore-massive. */
#include <criterion/criterion.h>
#include <mvquant.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fixtures.h"
#include "tests/gates_testlib.h"

typedef gates_outcome outcome;

static outcome quantize_and_judge(mvq_gguf *in, mvq_model *base, const mvq_calib *calib, bool protect,
                                  const int32_t *tokens, int64_t n_tokens, int32_t bos, mvq_pool *pool)
{
    mvq_quantize_opts o = gates_opts("q4_k_m", protect, calib, pool);
    return gates_quantize_and_judge(in, base, &o, tokens, n_tokens, bos, pool);
}

static void gate(const char *name, uint64_t llama_size, double llama_kld_imatrix)
{
    char model[4096], calib_text[4096], eval_text[4096];
    gates_fixture_paths(name, model, calib_text, eval_text);
    mvq_error err;
    mvq_gguf *in = mvq_gguf_open(model, &err);
    cr_assert_not_null(in, "%s", err.msg);
    mvq_model *base = mvq_model_from_gguf(in, &err);
    cr_assert_not_null(base, "%s", err.msg);
    mvq_pool *pool = mvq_pool_create(2);

    int32_t *etoks;
    int64_t n_etoks;
    cr_assert_eq(mvq_calib_text_tokens(base, eval_text, 0, &etoks, &n_etoks, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(n_etoks, 97820);
    mvq_calib *calib = gates_calibrate(base, calib_text, NULL, pool);

    int32_t bos = etoks[0];
    outcome ign = quantize_and_judge(in, base, calib, false, etoks, n_etoks, bos, pool);
    outcome pro = quantize_and_judge(in, base, calib, true, etoks, n_etoks, bos, pool);
    cr_log_info("%s q4_k_m: ignore %llu bytes, KLD %.6f +/- %.6f, PPL %.4f; protect %llu bytes (+%llu), "
                "KLD %.6f +/- %.6f, PPL %.4f; llama.cpp %llu bytes, KLD %.6f",
                name, (unsigned long long)ign.size, ign.kld, ign.kld_err, ign.ppl, (unsigned long long)pro.size,
                (unsigned long long)pro.protect_bytes, pro.kld, pro.kld_err, pro.ppl,
                (unsigned long long)llama_size, llama_kld_imatrix);
    cr_expect(ign.size <= llama_size + llama_size / 100, "%s: %llu bytes, llama.cpp's Q4_K_M %llu (+1%%)", name,
              (unsigned long long)ign.size, (unsigned long long)llama_size);
    cr_expect(ign.kld <= llama_kld_imatrix, "%s --ignore-massive: mean KLD %.6f, llama.cpp with imatrix %.6f", name,
              ign.kld, llama_kld_imatrix);
    cr_expect(pro.kld < ign.kld, "%s: --protect-massive KLD %.6f not below --ignore-massive %.6f", name, pro.kld,
              ign.kld);
    cr_expect(pro.size == ign.size + pro.protect_bytes, "the report states what protection cost");
    mvq_calib_free(calib);
    free(etoks);
    mvq_pool_free(pool);
    mvq_model_free(base);
    mvq_gguf_close(in);
}

Test(gates, stories260K_q4_k_m, .timeout = 1200)
{
    gate("stories260K", 304096, 0.014366);
}

Test(gates, tinyrope_q4_k_m, .timeout = 1800)
{
    gate("tinyrope-3M", 2091936, 0.003094);
}
