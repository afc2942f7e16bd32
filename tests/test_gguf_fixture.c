/* The GGUF reader and writer on files written by llama.cpp (the shared
 * fixtures): exact contents, byte-identical round trips, and every
 * truncation of the header region failing cleanly. */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/fixtures.h"
#include "tests/gguf_testlib.h"

static mvq_gguf *open_fixture(const char *rel, char *path, size_t size)
{
    if (!mvq_fixture(rel, path, size))
        cr_skip_test("fixture %s not found (configure --with-fixtures=DIR)", rel);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(path, &err);
    cr_assert_not_null(g, "%s", err.msg);
    return g;
}

/* stories260K's tensors in file order: 3 global, then 9 per block. */
static void expected_tensor(int i, char *name, size_t n, int64_t ne[2], uint32_t *n_dims)
{
    static const struct {
        const char *name;
        int64_t ne0, ne1;
    } global[3] = {{"token_embd.weight", 64, 512}, {"output_norm.weight", 64, 0}, {"output.weight", 64, 512}},
      block[9] = {{"attn_q.weight", 64, 64},     {"attn_k.weight", 64, 32},     {"attn_v.weight", 64, 32},
                  {"attn_output.weight", 64, 64}, {"attn_norm.weight", 64, 0},   {"ffn_gate.weight", 64, 172},
                  {"ffn_down.weight", 172, 64},   {"ffn_up.weight", 64, 172},   {"ffn_norm.weight", 64, 0}};
    if (i < 3) {
        snprintf(name, n, "%s", global[i].name);
        ne[0] = global[i].ne0;
        ne[1] = global[i].ne1;
    } else {
        snprintf(name, n, "blk.%d.%s", (i - 3) / 9, block[(i - 3) % 9].name);
        ne[0] = block[(i - 3) % 9].ne0;
        ne[1] = block[(i - 3) % 9].ne1;
    }
    *n_dims = ne[1] ? 2 : 1;
    if (!ne[1])
        ne[1] = 1;
}

Test(gguf_fixture, stories260K_contents)
{
    char path[1024];
    mvq_gguf *g = open_fixture("models/stories260K.gguf", path, sizeof path);
    cr_assert_eq(mvq_gguf_version(g), 3);
    cr_assert_eq(mvq_gguf_file_size(g), 1185376);
    cr_assert_eq(mvq_gguf_alignment(g), 32);
    cr_assert_eq(mvq_gguf_data_offset(g), 14176);
    cr_assert_eq(mvq_gguf_n_kv(g), 19);
    cr_assert_eq(mvq_gguf_n_tensors(g), 48);
    uint64_t expect_offset = 0;
    for (int i = 0; i < 48; i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        char name[64];
        int64_t ne[2];
        uint32_t n_dims;
        expected_tensor(i, name, sizeof name, ne, &n_dims);
        cr_assert_str_eq(t->name.data, name, "tensor %d", i);
        cr_assert_eq(t->n_dims, n_dims, "%s", name);
        cr_assert_eq(t->ne[0], ne[0], "%s", name);
        cr_assert_eq(t->ne[1], ne[1], "%s", name);
        cr_assert_eq(t->type, MVQ_TYPE_F32, "%s", name);
        cr_assert_eq(t->size, (uint64_t)(ne[0] * ne[1] * 4), "%s", name);
        cr_assert_eq(t->offset, expect_offset, "%s", name);
        expect_offset += t->size; /* all multiples of 32 here */
        cr_assert_eq(mvq_gguf_find_tensor(g, name), t);
    }
    uint64_t u;
    const char *s;
    double d;
    cr_assert(mvq_gguf_get_str(g, "general.architecture", &s));
    cr_assert_str_eq(s, "llama");
    cr_assert(mvq_gguf_get_str(g, "tokenizer.ggml.model", &s));
    cr_assert_str_eq(s, "llama");
    static const struct {
        const char *key;
        uint64_t v;
    } u32s[] = {{"llama.context_length", 128},       {"llama.embedding_length", 64},
                {"llama.feed_forward_length", 172},  {"llama.attention.head_count", 8},
                {"llama.attention.head_count_kv", 4}, {"llama.block_count", 5},
                {"llama.rope.dimension_count", 8},   {"tokenizer.ggml.bos_token_id", 1},
                {"tokenizer.ggml.eos_token_id", 2},  {"tokenizer.ggml.padding_token_id", UINT32_MAX}};
    for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
        cr_assert(mvq_gguf_get_u64(g, u32s[i].key, &u), "%s", u32s[i].key);
        cr_assert_eq(u, u32s[i].v, "%s", u32s[i].key);
        cr_assert_eq(mvq_gguf_find_kv(g, u32s[i].key)->type, MVQ_GGUF_UINT32);
    }
    cr_assert(mvq_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &d));
    cr_assert_eq((float)d, 1e-5f);
    const mvq_gguf_kv *tokens = mvq_gguf_find_kv(g, "tokenizer.ggml.tokens");
    cr_assert_eq(tokens->arr_type, MVQ_GGUF_STRING);
    cr_assert_eq(tokens->arr_n, 512);
    cr_assert_str_eq(tokens->v.strs[1].data, "<s>");
    cr_assert_str_eq(tokens->v.strs[13].data, "<0x0A>");
    const mvq_gguf_kv *types = mvq_gguf_find_kv(g, "tokenizer.ggml.token_type");
    cr_assert_eq(types->arr_type, MVQ_GGUF_INT32);
    cr_assert_eq(types->arr_n, 512);
    mvq_error err;
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf_close(g);
}

Test(gguf_fixture, stories260K_Q4_K_M_types)
{
    char path[1024];
    mvq_gguf *g = open_fixture("models/stories260K-Q4_K_M.gguf", path, sizeof path);
    int count[MVQ_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++)
        count[mvq_gguf_tensor_at(g, i)->type]++;
    cr_assert_eq(mvq_gguf_n_tensors(g), 48);
    cr_assert_eq(count[MVQ_TYPE_Q5_0], 29);
    cr_assert_eq(count[MVQ_TYPE_Q8_0], 3);
    cr_assert_eq(count[MVQ_TYPE_F16], 5);
    cr_assert_eq(count[MVQ_TYPE_F32], 11);
    const mvq_gguf_tensor *t = mvq_gguf_find_tensor(g, "blk.4.ffn_gate.weight");
    cr_assert_eq(t->type, MVQ_TYPE_Q5_0);
    cr_assert_eq(t->size, 172 * 2 * 22); /* 172 rows of two 22-byte blocks */
    mvq_error err;
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf_close(g);
}

/* Copies through the writer; the result has identical metadata and tensor
 * data, and (llama.cpp lays files out as our writer does) identical bytes. */
static void check_round_trip(const char *rel)
{
    char path[1024], dir[256], out[512];
    mvq_gguf *src = open_fixture(rel, path, sizeof path);
    cr_assert(make_temp_dir(dir, sizeof dir));
    snprintf(out, sizeof out, "%s/copy.gguf", dir);
    mvq_error err;
    cr_assert_eq(mvq_gguf_copy(path, out, false, NULL, NULL, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf *dst = mvq_gguf_open(out, &err);
    cr_assert_not_null(dst, "%s", err.msg);
    const char *diff = gguf_compare(src, dst);
    cr_assert_null(diff, "%s: %s", rel, diff);
    size_t na, nb;
    unsigned char *a = read_whole_file(path, &na), *b = read_whole_file(out, &nb);
    cr_assert(a && b);
    cr_assert_eq(na, nb, "%s: %zu bytes became %zu", rel, na, nb);
    cr_assert(memcmp(a, b, na) == 0, "%s: bytes differ", rel);
    free(a);
    free(b);
    mvq_gguf_close(dst);
    mvq_gguf_close(src);
    remove_temp_dir(dir);
}

Test(gguf_fixture, stories260K_round_trip) { check_round_trip("models/stories260K.gguf"); }
Test(gguf_fixture, stories260K_Q4_K_M_round_trip) { check_round_trip("models/stories260K-Q4_K_M.gguf"); }
Test(gguf_fixture, tinyrope_Q4_K_M_round_trip) { check_round_trip("models/tinyrope-3M-Q4_K_M.gguf"); }

Test(gguf_fixture, every_truncation_of_the_header_region)
{
    char path[1024];
    if (!mvq_fixture("models/stories260K.gguf", path, sizeof path))
        cr_skip_test("fixture models/stories260K.gguf not found");
    size_t n;
    unsigned char *bytes = read_whole_file(path, &n);
    cr_assert_not_null(bytes);
    /* every byte of header, metadata and infos, then each tensor boundary
     * and the middle of each tensor */
    size_t cuts = 0;
    for (size_t cut = 0; cut < n; cut = cut < 14176 + 8 ? cut + 1 : cut + 2048) {
        mvq_error err;
        mvq_gguf *g = mvq_gguf_open_memory(bytes, cut, "cut.gguf", &err);
        cr_assert_null(g, "a prefix of %zu bytes opened", cut);
        cr_assert_eq(err.status, MVQ_ERR_FORMAT);
        cr_assert(strncmp(err.msg, "cut.gguf: ", 10) == 0 && !strchr(err.msg, '\n'), "%s", err.msg);
        cuts++;
    }
    cr_assert_gt(cuts, 14000);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open_memory(bytes, n, "whole.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    for (int64_t i = 0; i < mvq_gguf_n_tensors(g); i++) {
        const mvq_gguf_tensor *t = mvq_gguf_tensor_at(g, i);
        size_t at[2] = {(size_t)(mvq_gguf_data_offset(g) + t->offset + 1),
                        (size_t)(mvq_gguf_data_offset(g) + t->offset + t->size - 1)};
        for (int k = 0; k < 2; k++) {
            cr_assert_null(mvq_gguf_open_memory(bytes, at[k], "cut.gguf", &err), "cut in %s opened", t->name.data);
            cr_assert_not_null(strstr(err.msg, "runs past the end of the file"), "%s", err.msg);
        }
    }
    mvq_gguf_close(g);
    free(bytes);
}
