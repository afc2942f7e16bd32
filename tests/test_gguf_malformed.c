/* The GGUF reader on malformed input: each case gives one error line
 * naming the file and the problem, never a crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/gguf_testlib.h"

/* Opens b's bytes; asserts failure with status FORMAT, one line starting
 * with the name, containing phrase. */
static void expect_bad(const gbuf *b, const char *phrase)
{
    mvq_error err;
    mvq_error_clear(&err);
    mvq_gguf *g = mvq_gguf_open_memory(b->p, b->n, "bad.gguf", &err);
    cr_assert_null(g, "opened a file that should fail with '%s'", phrase);
    cr_assert_eq(err.status, MVQ_ERR_FORMAT, "status %d for '%s': %s", err.status, phrase, err.msg);
    cr_assert(strncmp(err.msg, "bad.gguf: ", 10) == 0, "message does not name the file: %s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "message has several lines: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, phrase), "expected '%s' in: %s", phrase, err.msg);
}

static const int64_t ne_8x2[2] = {8, 2};

/* A header with one pair and one f32 [8,2] tensor at offset 0 (64 bytes). */
static void one_tensor_file(gbuf *b, uint64_t offset)
{
    gb_header(b, 3, 1, 1);
    gb_kv_u32(b, "llama.block_count", 1);
    gb_info(b, "t", 2, ne_8x2, MVQ_TYPE_F32, offset);
    gb_pad(b, 32);
    gb_zeros(b, 64);
}

Test(gguf_malformed, sample_file_is_valid)
{
    gbuf b = {0};
    gb_sample_file(&b);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open_memory(b.p, b.n, "sample.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_n_tensors(g), 3);
    cr_assert_eq(mvq_gguf_find_tensor(g, "b.weight")->size, 68);
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_OK, "%s", err.msg);
    mvq_gguf_close(g);
    b.p[4] = 2; /* version 2 has the same layout */
    g = mvq_gguf_open_memory(b.p, b.n, "v2.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_version(g), 2);
    cr_assert_eq(mvq_gguf_n_tensors(g), 3);
    mvq_gguf_close(g);
    gb_free(&b);
}

Test(gguf_malformed, every_truncation_of_a_small_file)
{
    gbuf b = {0};
    gb_sample_file(&b);
    for (size_t cut = 0; cut < b.n; cut++) {
        gbuf t = {b.p, cut, cut};
        mvq_error err;
        mvq_gguf *g = mvq_gguf_open_memory(t.p, t.n, "bad.gguf", &err);
        cr_assert_null(g, "prefix of %zu of %zu bytes opened", cut, b.n);
        cr_assert_eq(err.status, MVQ_ERR_FORMAT, "cut %zu: %s", cut, err.msg);
        cr_assert_null(strchr(err.msg, '\n'));
        cr_assert(strstr(err.msg, "truncated") || strstr(err.msg, "past the end"),
                  "cut %zu: %s", cut, err.msg);
    }
    gb_free(&b);
}

Test(gguf_malformed, bad_magic_and_version)
{
    gbuf b = {0};
    gb_u32(&b, 0x46554746);
    gb_u32(&b, 3);
    gb_u64(&b, 0);
    gb_u64(&b, 0);
    expect_bad(&b, "not a GGUF file");
    gb_free(&b);
    for (uint32_t v = 0; v < 6; v++) {
        if (v == 2 || v == 3)
            continue;
        gb_header(&b, v, 0, 0);
        expect_bad(&b, "unsupported GGUF version");
        gb_free(&b);
    }
}

Test(gguf_malformed, absurd_counts)
{
    gbuf b = {0};
    gb_header(&b, 3, 0, UINT64_MAX);
    expect_bad(&b, "cannot fit in the");
    gb_free(&b);
    gb_header(&b, 3, (uint64_t)1 << 62, 0);
    expect_bad(&b, "cannot fit in the");
    gb_free(&b);
    gb_header(&b, 3, 1000, 1000);
    gb_zeros(&b, 100);
    expect_bad(&b, "cannot fit in the");
    gb_free(&b);
}

Test(gguf_malformed, absurd_lengths)
{
    gbuf b = {0};
    /* key length */
    gb_header(&b, 3, 0, 1);
    gb_u64(&b, UINT64_MAX);
    gb_zeros(&b, 16);
    expect_bad(&b, "truncated: metadata key");
    gb_free(&b);
    /* string value length */
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, MVQ_GGUF_STRING);
    gb_u64(&b, UINT64_MAX - 3);
    gb_zeros(&b, 16);
    expect_bad(&b, "truncated: metadata string value");
    gb_free(&b);
    /* array lengths, scalar and string */
    uint32_t types[2] = {MVQ_GGUF_UINT64, MVQ_GGUF_STRING};
    for (int i = 0; i < 2; i++) {
        gb_header(&b, 3, 0, 1);
        gb_str(&b, "k");
        gb_u32(&b, MVQ_GGUF_ARRAY);
        gb_u32(&b, types[i]);
        gb_u64(&b, UINT64_MAX / 4);
        gb_zeros(&b, 64);
        expect_bad(&b, "array length");
        gb_free(&b);
    }
    /* tensor name length */
    gb_header(&b, 3, 1, 0);
    gb_u64(&b, (uint64_t)1 << 40);
    gb_zeros(&b, 40);
    expect_bad(&b, "truncated: tensor name");
    gb_free(&b);
}

Test(gguf_malformed, bad_alignment)
{
    uint32_t bad[3] = {0, 3, 48};
    gbuf b = {0};
    for (int i = 0; i < 3; i++) {
        gb_header(&b, 3, 0, 1);
        gb_kv_u32(&b, "general.alignment", bad[i]);
        expect_bad(&b, "is not a power of two");
        gb_free(&b);
    }
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, MVQ_GGUF_UINT64);
    gb_u64(&b, 32);
    expect_bad(&b, "general.alignment has type uint64");
    gb_free(&b);
}

Test(gguf_malformed, unknown_value_types)
{
    gbuf b = {0};
    uint32_t bad[3] = {13, 1000, UINT32_MAX};
    for (int i = 0; i < 3; i++) {
        gb_header(&b, 3, 0, 1);
        gb_str(&b, "k");
        gb_u32(&b, bad[i]);
        gb_zeros(&b, 16);
        expect_bad(&b, "unknown value type");
        gb_free(&b);
        gb_header(&b, 3, 0, 1);
        gb_str(&b, "k");
        gb_u32(&b, MVQ_GGUF_ARRAY);
        gb_u32(&b, bad[i]);
        gb_u64(&b, 1);
        gb_zeros(&b, 16);
        expect_bad(&b, "unknown value type");
        gb_free(&b);
    }
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "k");
    gb_u32(&b, MVQ_GGUF_ARRAY);
    gb_u32(&b, MVQ_GGUF_ARRAY);
    gb_u64(&b, 1);
    gb_zeros(&b, 16);
    expect_bad(&b, "arrays of arrays");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "flag");
    gb_u32(&b, MVQ_GGUF_BOOL);
    gb_u8(&b, 2);
    expect_bad(&b, "not 0 or 1");
    gb_free(&b);
}

Test(gguf_malformed, duplicate_key)
{
    gbuf b = {0};
    gb_header(&b, 3, 0, 3);
    gb_kv_u32(&b, "a", 1);
    gb_kv_str(&b, "b", "x");
    gb_kv_u32(&b, "a", 2);
    expect_bad(&b, "duplicate metadata key 'a'");
    gb_free(&b);
}

Test(gguf_malformed, duplicate_tensor_name)
{
    gbuf b = {0};
    gb_header(&b, 3, 2, 0);
    gb_info(&b, "w", 2, ne_8x2, MVQ_TYPE_F32, 0);
    gb_info(&b, "w", 2, ne_8x2, MVQ_TYPE_F32, 64);
    gb_pad(&b, 32);
    gb_zeros(&b, 128);
    expect_bad(&b, "duplicate tensor name 'w'");
    gb_free(&b);
}

Test(gguf_malformed, tensor_data_past_end_of_file)
{
    gbuf b = {0};
    one_tensor_file(&b, 0);
    b.n -= 1; /* the last byte of the data */
    expect_bad(&b, "runs past the end of the file");
    gb_free(&b);
    one_tensor_file(&b, 1u << 20);
    expect_bad(&b, "runs past the end of the file");
    gb_free(&b);
    one_tensor_file(&b, UINT64_MAX - 31); /* offset + size overflows */
    expect_bad(&b, "runs past the end of the file");
    gb_free(&b);
}

Test(gguf_malformed, misaligned_offset)
{
    gbuf b = {0};
    one_tensor_file(&b, 4);
    expect_bad(&b, "is not a multiple of the alignment 32");
    gb_free(&b);
}

Test(gguf_malformed, bad_shapes)
{
    gbuf b = {0};
    int64_t ne5[5] = {1, 1, 1, 1, 1};
    gb_header(&b, 3, 1, 0);
    gb_info(&b, "t", 5, ne5, MVQ_TYPE_F32, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 32);
    expect_bad(&b, "has 5 dimensions");
    gb_free(&b);
    int64_t neg[2] = {8, -1}, huge[3] = {INT64_MAX / 2, 4, 1};
    const int64_t *shapes[2] = {neg, huge};
    for (int i = 0; i < 2; i++) {
        gb_header(&b, 3, 1, 0);
        gb_info(&b, "t", i == 0 ? 2 : 3, shapes[i], MVQ_TYPE_F32, 0);
        gb_pad(&b, 32);
        gb_zeros(&b, 32);
        expect_bad(&b, "negative or overflowing shape");
        gb_free(&b);
    }
    int64_t ne33[1] = {33};
    gb_header(&b, 3, 1, 0);
    gb_info(&b, "q", 1, ne33, MVQ_TYPE_Q4_0, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 64);
    expect_bad(&b, "not a multiple of the type's block size");
    gb_free(&b);
    /* f32 of 2^62 elements: the byte count overflows */
    int64_t big[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
    gb_header(&b, 3, 1, 0);
    gb_info(&b, "f", 2, big, MVQ_TYPE_F32, 0);
    gb_pad(&b, 32);
    expect_bad(&b, "overflows");
    gb_free(&b);
}

Test(gguf_malformed, names_are_sanitized_in_messages)
{
    gbuf b = {0};
    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "evil\nkey\x1b[2J", 1);
    gb_kv_u32(&b, "evil\nkey\x1b[2J", 2);
    expect_bad(&b, "duplicate metadata key 'evil?key?[2J'");
    gb_free(&b);
}

Test(gguf_malformed, loader_rules_beyond_the_reader)
{
    /* a gap between tensors: safe to read, but not what llama.cpp expects */
    gbuf b = {0};
    gb_header(&b, 3, 2, 0);
    gb_info(&b, "a", 2, ne_8x2, MVQ_TYPE_F32, 0);
    gb_info(&b, "b", 2, ne_8x2, MVQ_TYPE_F32, 96);
    gb_pad(&b, 32);
    gb_zeros(&b, 160);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open_memory(b.p, b.n, "gap.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_ERR_FORMAT);
    cr_assert_str_eq(err.msg, "gap.gguf: tensor 'b' is at offset 96, llama.cpp expects 64 (the running sum of "
                              "padded sizes in file order)");
    mvq_gguf_close(g);
    gb_free(&b);
    /* a 64-byte name */
    char name[65];
    memset(name, 'n', 64);
    name[64] = '\0';
    gb_header(&b, 3, 1, 0);
    gb_info(&b, name, 2, ne_8x2, MVQ_TYPE_F32, 0);
    gb_pad(&b, 32);
    gb_zeros(&b, 64);
    g = mvq_gguf_open_memory(b.p, b.n, "long.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "has 64 bytes, llama.cpp allows 1 to 63"), "%s", err.msg);
    mvq_gguf_close(g);
    gb_free(&b);
}

Test(gguf_malformed, unknown_types_take_the_gap)
{
    gbuf b = {0};
    int64_t ne[1] = {10};
    gb_header(&b, 3, 3, 0);
    gb_info(&b, "u1", 1, ne, 200, 0);
    gb_info(&b, "f", 2, ne_8x2, MVQ_TYPE_F32, 96);
    gb_info(&b, "u2", 1, ne, 31, 160);
    gb_pad(&b, 32);
    gb_zeros(&b, 200);
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open_memory(b.p, b.n, "unk.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_find_tensor(g, "u1")->size, 96);
    cr_assert_eq(mvq_gguf_find_tensor(g, "f")->size, 64);
    cr_assert_eq(mvq_gguf_find_tensor(g, "u2")->size, 40); /* to the end of the file */
    mvq_gguf_close(g);
    gb_free(&b);
}

Test(gguf_malformed, open_errors_on_files)
{
    mvq_error err;
    cr_assert_null(mvq_gguf_open("/nonexistent/x.gguf", &err));
    cr_assert_eq(err.status, MVQ_ERR_IO);
    cr_assert_str_eq(err.msg, "/nonexistent/x.gguf: cannot open: No such file or directory");
    cr_assert_null(mvq_gguf_open("/", &err));
    cr_assert_str_eq(err.msg, "/: is a directory");
    char dir[256], path[300];
    cr_assert(make_temp_dir(dir, sizeof dir));
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    cr_assert(write_whole_file(path, "", 0));
    cr_assert_null(mvq_gguf_open(path, &err));
    cr_assert_eq(err.status, MVQ_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "truncated: magic"), "%s", err.msg);
    remove_temp_dir(dir);
}
