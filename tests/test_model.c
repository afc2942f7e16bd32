/* Model view from GGUF: hyperparameters, bindings, errors. */
#include <criterion/criterion.h>
#include <mvquant.h>
#include <string.h>

#include "quant/model/model_roles.h"
#include "tests/fixtures.h"

Test(model, stories260K_hyperparameters_and_tensors)
{
    char path[4096];
    if (!mvq_fixture("models/stories260K.gguf", path, sizeof path))
        cr_skip_test("fixture models/stories260K.gguf is absent");
    mvq_error err;
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    const mvq_hparams *hp = &m->hp;
    cr_assert_eq(hp->arch, MVQ_ARCH_LLAMA);
    cr_assert_eq(hp->n_embd, 64);
    cr_assert_eq(hp->n_layer, 5);
    cr_assert_eq(hp->n_head, 8);
    cr_assert_eq(hp->n_head_kv, 4);
    cr_assert_eq(hp->head_dim, 8);
    cr_assert_eq(hp->n_rot, 8);
    cr_assert_eq(hp->n_ff, 172);
    cr_assert_eq(hp->n_vocab, 512);
    cr_assert_float_eq(hp->rope_freq_base, 10000.0, 1e-9);
    cr_assert_eq(hp->rope_style, MVQ_ROPE_NORMAL);
    cr_assert_str_eq(m->layers[4].linear[MVQ_LINEAR_DOWN].name, "blk.4.ffn_down.weight");
    cr_assert_eq(m->layers[4].linear[MVQ_LINEAR_DOWN].n_in, 172);
    cr_assert_null(m->layers[0].bias[MVQ_LINEAR_Q].data);
    /* the weights are the mapping's, not copies */
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(m->gguf, "blk.2.attn_k.weight");
    cr_assert_eq(m->layers[2].linear[MVQ_LINEAR_K].data, t->data);
    mvq_model_free(m);
}

Test(model, tinyrope_q4_k_m_binds_its_quantized_types)
{
    char path[4096];
    if (!mvq_fixture("models/tinyrope-3M-Q4_K_M.gguf", path, sizeof path))
        cr_skip_test("fixture models/tinyrope-3M-Q4_K_M.gguf is absent");
    mvq_error err;
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_eq(m->hp.head_dim, 64);
    cr_assert_eq(m->hp.n_head_kv, 2);
    int quantized = 0;
    for (int64_t il = 0; il < m->hp.n_layer; il++)
        for (int i = 0; i < MVQ_LINEAR_COUNT; i++)
            quantized += m->layers[il].linear[i].type == MVQ_TYPE_Q4_K || m->layers[il].linear[i].type == MVQ_TYPE_Q6_K;
    cr_assert_eq(quantized, 4 * MVQ_LINEAR_COUNT);
    mvq_model_free(m);
}

/* A small GGUF written with the library's writer: every hyperparameter
 * key and tensor of a 1-layer llama, minus what the test leaves out. */
static const char *write_model(const char *arch, const char *skip_key, const char *skip_tensor, bool with_output)
{
    static char path[256];
    snprintf(path, sizeof path, "test_model_%d.gguf", (int)getpid());
    mvq_error err;
    mvq_gguf_writer *w = mvq_gguf_writer_open(path, NULL, &err);
    cr_assert_not_null(w, "%s", err.msg);
    mvq_gguf_writer_add_str(w, "general.architecture", arch, &err);
    const char *keys[] = {"context_length", "embedding_length", "block_count", "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv"};
    const uint32_t vals[] = {64, 32, 1, 48, 4, 2};
    char key[128];
    for (int i = 0; i < 6; i++) {
        if (skip_key && strcmp(skip_key, keys[i]) == 0)
            continue;
        snprintf(key, sizeof key, "%s.%s", arch, keys[i]);
        cr_assert_eq(mvq_gguf_writer_add_u32(w, key, vals[i], &err), MVQ_OK, "%s", err.msg);
    }
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (!skip_key || strcmp(skip_key, "attention.layer_norm_rms_epsilon") != 0)
        mvq_gguf_writer_add_f32(w, key, 1e-5f, &err);
    struct {
        const char *name;
        int64_t ne[2];
    } tensors[] = {
        {"token_embd.weight", {32, 16}},     {"output_norm.weight", {32, 1}},     {"output.weight", {32, 16}},
        {"blk.0.attn_norm.weight", {32, 1}}, {"blk.0.attn_q.weight", {32, 32}},   {"blk.0.attn_k.weight", {32, 16}},
        {"blk.0.attn_v.weight", {32, 16}},   {"blk.0.attn_output.weight", {32, 32}}, {"blk.0.ffn_norm.weight", {32, 1}},
        {"blk.0.ffn_gate.weight", {32, 48}}, {"blk.0.ffn_up.weight", {32, 48}},  {"blk.0.ffn_down.weight", {48, 32}},
    };
    size_t n = sizeof tensors / sizeof tensors[0];
    bool keep[16];
    for (size_t i = 0; i < n; i++) {
        keep[i] = !(skip_tensor && strcmp(skip_tensor, tensors[i].name) == 0) &&
                  (with_output || strcmp(tensors[i].name, "output.weight") != 0);
        if (keep[i])
            cr_assert_eq(mvq_gguf_writer_add_tensor(w, tensors[i].name, tensors[i].ne[1] == 1 ? 1 : 2, tensors[i].ne,
                                                    MVQ_TYPE_F32, (uint64_t)(tensors[i].ne[0] * tensors[i].ne[1] * 4), &err),
                         MVQ_OK, "%s", err.msg);
    }
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        size_t bytes = (size_t)(tensors[i].ne[0] * tensors[i].ne[1]) * 4;
        float *d = calloc(bytes / 4, 4);
        for (size_t k = 0; k < bytes / 4; k++)
            d[k] = 0.01f * (float)(k % 7);
        cr_assert_eq(mvq_gguf_writer_write(w, d, bytes, &err), MVQ_OK, "%s", err.msg);
        free(d);
    }
    cr_assert_eq(mvq_gguf_writer_finish(w, &err), MVQ_OK, "%s", err.msg);
    return path;
}

static mvq_status open_status(const char *path, mvq_error *err)
{
    mvq_model *m = mvq_model_open(path, err);
    mvq_status st = m ? MVQ_OK : err->status;
    mvq_model_free(m);
    unlink(path);
    return st;
}

Test(model, written_file_loads_with_tied_output)
{
    const char *path = write_model("llama", NULL, NULL, false);
    mvq_error err;
    mvq_model *m = mvq_model_open(path, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert(m->output_tied);
    cr_assert_eq(m->output.data, m->token_embd.data);
    cr_assert_eq(m->hp.head_dim, 8);
    cr_assert_eq(m->hp.n_rot, 8, "rope.dimension_count defaults to the head size");
    cr_assert_float_eq(m->hp.rope_freq_base, 10000.0, 1e-9);
    mvq_model_free(m);
    unlink(path);
}

Test(model, unsupported_architecture_is_named)
{
    mvq_error err;
    cr_assert_eq(open_status(write_model("gptneox", NULL, NULL, true), &err), MVQ_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "'gptneox'") && strstr(err.msg, "not supported"), "%s", err.msg);
}

Test(model, missing_key_is_named)
{
    mvq_error err;
    cr_assert_eq(open_status(write_model("qwen2", "feed_forward_length", NULL, true), &err), MVQ_ERR_FORMAT);
    cr_assert(strstr(err.msg, "qwen2.feed_forward_length"), "%s", err.msg);
    cr_assert_eq(open_status(write_model("llama", "attention.layer_norm_rms_epsilon", NULL, true), &err), MVQ_ERR_FORMAT);
    cr_assert(strstr(err.msg, "llama.attention.layer_norm_rms_epsilon"), "%s", err.msg);
}

Test(model, missing_tensor_is_named)
{
    mvq_error err;
    cr_assert_eq(open_status(write_model("mistral", NULL, "blk.0.ffn_up.weight", true), &err), MVQ_ERR_FORMAT);
    cr_assert(strstr(err.msg, "blk.0.ffn_up.weight"), "%s", err.msg);
    /* qwen2 requires the Q/K/V biases */
    cr_assert_eq(open_status(write_model("qwen2", NULL, NULL, true), &err), MVQ_ERR_FORMAT);
    cr_assert(strstr(err.msg, "blk.0.attn_q.bias"), "%s", err.msg);
}

/* Every part that needs a tensor's role asks the model view's one reader of names. */
Test(model, tensor_roles_from_names)
{
    mvq_tensor_role r = mvq_tensor_role_of("blk.12.attn_k.weight");
    cr_expect(r.role == MVQ_ROLE_LINEAR && r.layer == 12 && r.linear == MVQ_LINEAR_K && r.is_weight);
    r = mvq_tensor_role_of("blk.3.ffn_down.weight");
    cr_expect(r.role == MVQ_ROLE_LINEAR && r.linear == MVQ_LINEAR_DOWN && r.rule_ffn_down);
    r = mvq_tensor_role_of("blk.0.attn_v.weight");
    cr_expect(r.linear == MVQ_LINEAR_V && r.rule_attn_v && !r.rule_attn_output);
    r = mvq_tensor_role_of("blk.0.attn_q.bias");
    cr_expect(r.role == MVQ_ROLE_OTHER && r.layer == 0 && r.linear == MVQ_LINEAR_COUNT && !r.is_weight);
    cr_expect_eq(mvq_tensor_role_of("blk.1.attn_norm.weight").role, MVQ_ROLE_ATTN_NORM);
    cr_expect_eq(mvq_tensor_role_of("blk.1.ffn_norm.weight").role, MVQ_ROLE_FFN_NORM);
    cr_expect_eq(mvq_tensor_role_of("blk.1.attn_q_norm.weight").role, MVQ_ROLE_NOT_QUANTIZED);
    cr_expect_eq(mvq_tensor_role_of("output_norm.weight").role, MVQ_ROLE_OUTPUT_NORM);
    cr_expect_eq(mvq_tensor_role_of("output.weight").role, MVQ_ROLE_OUTPUT);
    cr_expect_eq(mvq_tensor_role_of("token_embd.weight").role, MVQ_ROLE_TOKEN_EMBD);
    cr_expect_eq(mvq_tensor_role_of("blk.2.ffn_gate_inp.weight").role, MVQ_ROLE_NOT_QUANTIZED);
    /* llama.cpp's rules catch other architectures' tensors by name parts */
    r = mvq_tensor_role_of("blk.2.ffn_down_exps.weight");
    cr_expect(r.role == MVQ_ROLE_OTHER && r.rule_ffn_down && r.layer == 2);
    cr_expect_eq(mvq_tensor_role_of("blk.x.attn_q.weight").layer, -1);
}
