/* The GGUF writer and reader together: every metadata type, several tensor
 * types and alignments, recorded hashes, and the writer's refusals and
 * failures (no file left behind). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/gguf_testlib.h"

static char dir[256];

static void setup(void)
{
    cr_assert(make_temp_dir(dir, sizeof dir));
}

static void teardown(void)
{
    remove_temp_dir(dir);
}

TestSuite(gguf_roundtrip, .init = setup, .fini = teardown);

static const char *in_dir(const char *name)
{
    static char path[2][512];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", dir, name);
    return path[which];
}

static mvq_gguf_writer *open_writer(const char *name)
{
    mvq_error err;
    mvq_gguf_writer *w = mvq_gguf_writer_open(in_dir(name), NULL, &err);
    cr_assert_not_null(w, "%s", err.msg);
    return w;
}

static mvq_gguf *open_reader(const char *name)
{
    mvq_error err;
    mvq_gguf *g = mvq_gguf_open(in_dir(name), &err);
    cr_assert_not_null(g, "%s", err.msg);
    return g;
}

#define OK(call)                                                                                              \
    do {                                                                                                      \
        mvq_error e_ = {0};                                                                                       \
        mvq_status s_ = (call);                                                                               \
        cr_assert_eq(s_, MVQ_OK, "%s: %s", #call, e_.msg);                                                    \
    } while (0)
#define E (&e_)

/* ---- metadata ---- */

static const uint8_t a_u8[3] = {0, 1, 255};
static const int8_t a_i8[3] = {-128, 0, 127};
static const uint16_t a_u16[3] = {0, 1, 65535};
static const int16_t a_i16[3] = {-32768, -1, 32767};
static const uint32_t a_u32[3] = {0, 7, UINT32_MAX};
static const int32_t a_i32[3] = {INT32_MIN, -5, INT32_MAX};
static const float a_f32[3] = {-1.5f, 0.0f, 3.4e38f};
static const uint8_t a_bool[3] = {1, 0, 1};
static const uint64_t a_u64[3] = {0, 1, UINT64_MAX};
static const int64_t a_i64[3] = {INT64_MIN, -1, INT64_MAX};
static const double a_f64[3] = {-2.5, 1e-300, 1e300};
static const void *const arrays[MVQ_GGUF_VTYPE_COUNT] = {
    a_u8, a_i8, a_u16, a_i16, a_u32, a_i32, a_f32, a_bool, NULL, NULL, a_u64, a_i64, a_f64,
};
static const char *const strs[4] = {"", "plain", "ünïcödé ✓", "quote \" backslash \\ newline \n"};

static void add_every_type(mvq_gguf_writer *w)
{
    mvq_gguf_kv kv;
    char key[32];
    for (int t = 0; t < MVQ_GGUF_VTYPE_COUNT; t++) {
        if (t == MVQ_GGUF_STRING || t == MVQ_GGUF_ARRAY)
            continue;
        memset(&kv, 0, sizeof kv);
        snprintf(key, sizeof key, "scalar.%s", mvq_gguf_vtype_name(t));
        kv.key.data = key;
        kv.key.len = strlen(key);
        kv.type = (mvq_gguf_vtype)t;
        /* the last element of each array: the type's extreme value */
        switch (t) {
        case MVQ_GGUF_INT8: kv.v.i64 = a_i8[0]; break;
        case MVQ_GGUF_INT16: kv.v.i64 = a_i16[0]; break;
        case MVQ_GGUF_INT32: kv.v.i64 = a_i32[0]; break;
        case MVQ_GGUF_INT64: kv.v.i64 = a_i64[0]; break;
        case MVQ_GGUF_FLOAT32: kv.v.f64 = a_f32[2]; break;
        case MVQ_GGUF_FLOAT64: kv.v.f64 = a_f64[1]; break;
        case MVQ_GGUF_BOOL: kv.v.u64 = 1; break;
        case MVQ_GGUF_UINT8: kv.v.u64 = 255; break;
        case MVQ_GGUF_UINT16: kv.v.u64 = 65535; break;
        case MVQ_GGUF_UINT32: kv.v.u64 = UINT32_MAX; break;
        default: kv.v.u64 = UINT64_MAX; break;
        }
        OK(mvq_gguf_writer_add_kv(w, &kv, E));
        snprintf(key, sizeof key, "array.%s", mvq_gguf_vtype_name(t));
        OK(mvq_gguf_writer_add_arr(w, key, (mvq_gguf_vtype)t, arrays[t], 3, E));
    }
    OK(mvq_gguf_writer_add_str(w, "scalar.string", "héllo\tworld", E));
    OK(mvq_gguf_writer_add_str_arr(w, "array.string", strs, 4, E));
    OK(mvq_gguf_writer_add_arr(w, "array.empty", MVQ_GGUF_INT32, NULL, 0, E));
    OK(mvq_gguf_writer_add_u32(w, "u32", 42, E));
    OK(mvq_gguf_writer_add_u64(w, "u64", (uint64_t)1 << 40, E));
    OK(mvq_gguf_writer_add_f32(w, "f32", 0.25f, E));
}

static void check_every_type(const mvq_gguf *g)
{
    char key[32];
    for (int t = 0; t < MVQ_GGUF_VTYPE_COUNT; t++) {
        if (t == MVQ_GGUF_STRING || t == MVQ_GGUF_ARRAY)
            continue;
        snprintf(key, sizeof key, "array.%s", mvq_gguf_vtype_name(t));
        const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
        cr_assert_not_null(kv, "%s missing", key);
        cr_assert_eq(kv->type, MVQ_GGUF_ARRAY);
        cr_assert_eq(kv->arr_type, (mvq_gguf_vtype)t);
        cr_assert_eq(kv->arr_n, 3);
        cr_assert(memcmp(kv->v.arr, arrays[t], 3 * mvq_gguf_vtype_size(t)) == 0, "%s differs", key);
        snprintf(key, sizeof key, "scalar.%s", mvq_gguf_vtype_name(t));
        kv = mvq_gguf_find_kv(g, key);
        cr_assert_not_null(kv, "%s missing", key);
        cr_assert_eq(kv->type, (mvq_gguf_vtype)t);
    }
    int64_t i;
    uint64_t u;
    double d;
    const char *s;
    cr_assert(mvq_gguf_get_i64(g, "scalar.int8", &i) && i == -128);
    cr_assert(mvq_gguf_get_i64(g, "scalar.int16", &i) && i == -32768);
    cr_assert(mvq_gguf_get_i64(g, "scalar.int32", &i) && i == INT32_MIN);
    cr_assert(mvq_gguf_get_i64(g, "scalar.int64", &i) && i == INT64_MIN);
    cr_assert(mvq_gguf_get_u64(g, "scalar.uint8", &u) && u == 255);
    cr_assert(mvq_gguf_get_u64(g, "scalar.uint16", &u) && u == 65535);
    cr_assert(mvq_gguf_get_u64(g, "scalar.uint32", &u) && u == UINT32_MAX);
    cr_assert(mvq_gguf_get_u64(g, "scalar.uint64", &u) && u == UINT64_MAX);
    cr_assert(!mvq_gguf_get_i64(g, "scalar.uint64", &i), "UINT64_MAX does not fit an int64");
    cr_assert(!mvq_gguf_get_u64(g, "scalar.int8", &u), "-128 does not fit a uint64");
    cr_assert(mvq_gguf_get_i64(g, "scalar.uint8", &i) && i == 255);
    cr_assert(mvq_gguf_get_f64(g, "scalar.float32", &d) && d == (double)3.4e38f);
    cr_assert(mvq_gguf_get_f64(g, "scalar.float64", &d) && d == 1e-300);
    cr_assert(mvq_gguf_find_kv(g, "scalar.bool")->v.u64 == 1);
    cr_assert(mvq_gguf_get_str(g, "scalar.string", &s));
    cr_assert_str_eq(s, "héllo\tworld");
    cr_assert(!mvq_gguf_get_str(g, "u32", &s), "a uint32 is not a string");
    cr_assert(mvq_gguf_get_u64(g, "u32", &u) && u == 42);
    cr_assert(mvq_gguf_get_u64(g, "u64", &u) && u == (uint64_t)1 << 40);
    cr_assert(mvq_gguf_get_f64(g, "f32", &d) && d == 0.25);
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, "array.string");
    cr_assert_eq(kv->arr_type, MVQ_GGUF_STRING);
    cr_assert_eq(kv->arr_n, 4);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(kv->v.strs[k].len, strlen(strs[k]));
        cr_assert_str_eq(kv->v.strs[k].data, strs[k]);
    }
    cr_assert_eq(mvq_gguf_find_kv(g, "array.empty")->arr_n, 0);
    cr_assert_null(mvq_gguf_find_kv(g, "absent"));
}

/* ---- tensors ---- */

typedef struct spec {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint64_t size;
} spec;

static const spec specs[] = {
    {"f32.weight", 2, {4, 3, 1, 1}, MVQ_TYPE_F32, 48},
    {"f16.weight", 1, {16, 1, 1, 1}, MVQ_TYPE_F16, 32},
    {"q4_0.weight", 2, {64, 2, 1, 1}, MVQ_TYPE_Q4_0, 4 * 18},
    {"q8_0.weight", 3, {32, 1, 3, 1}, MVQ_TYPE_Q8_0, 3 * 34},
    {"q4_K.weight", 2, {256, 2, 1, 1}, MVQ_TYPE_Q4_K, 2 * 144},
    {"bf16.4d", 4, {2, 2, 2, 2}, MVQ_TYPE_BF16, 32},
    {"empty", 2, {0, 5, 1, 1}, MVQ_TYPE_F32, 0},
    {"unknown.type200", 1, {7, 1, 1, 1}, 200, 4096},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static uint8_t data_byte(size_t t, uint64_t i)
{
    return (uint8_t)(i * 131 + t * 17 + 1);
}

/* Writes every spec's tensor, in pieces of chunk bytes (0: one call each). */
static void write_tensors(mvq_gguf_writer *w, size_t chunk)
{
    for (size_t t = 0; t < N_SPECS; t++)
        OK(mvq_gguf_writer_add_tensor(w, specs[t].name, specs[t].n_dims, specs[t].ne, specs[t].type, specs[t].size,
                                      E));
    for (size_t t = 0; t < N_SPECS; t++) {
        uint8_t buf[4096];
        for (uint64_t i = 0; i < specs[t].size; i++)
            buf[i] = data_byte(t, i);
        size_t step = chunk ? chunk : sizeof buf;
        for (uint64_t off = 0; off < specs[t].size; off += step) {
            size_t n = specs[t].size - off < step ? (size_t)(specs[t].size - off) : step;
            OK(mvq_gguf_writer_write(w, buf + off, n, E));
        }
    }
}

static void check_tensors(const mvq_gguf *g, uint64_t alignment)
{
    cr_assert_eq(mvq_gguf_n_tensors(g), (int64_t)N_SPECS);
    cr_assert_eq(mvq_gguf_alignment(g), alignment);
    cr_assert_eq(mvq_gguf_data_offset(g) % alignment, 0);
    for (size_t t = 0; t < N_SPECS; t++) {
        const mvq_gguf_tensor *x = mvq_gguf_tensor_at(g, (int64_t)t);
        cr_assert_str_eq(x->name.data, specs[t].name);
        cr_assert_eq(x->n_dims, specs[t].n_dims);
        cr_assert(memcmp(x->ne, specs[t].ne, sizeof x->ne) == 0, "%s shape", specs[t].name);
        cr_assert_eq(x->type, specs[t].type);
        cr_assert_eq(x->offset % alignment, 0, "%s offset %llu", specs[t].name, (unsigned long long)x->offset);
        /* unknown types are sized by the gap, which includes padding */
        cr_assert(x->size == specs[t].size || (specs[t].type == 200 && x->size >= specs[t].size), "%s size %llu",
                  specs[t].name, (unsigned long long)x->size);
        for (uint64_t i = 0; i < specs[t].size; i++)
            cr_assert_eq(((const uint8_t *)x->data)[i], data_byte(t, i), "%s byte %llu", specs[t].name,
                         (unsigned long long)i);
    }
    mvq_error err;
    cr_assert_eq(mvq_gguf_check_loader_rules(g, &err), MVQ_OK, "%s", err.msg);
}

Test(gguf_roundtrip, every_metadata_type)
{
    mvq_gguf_writer *w = open_writer("meta.gguf");
    add_every_type(w);
    OK(mvq_gguf_writer_finish(w, E));
    mvq_gguf *g = open_reader("meta.gguf");
    cr_assert_eq(mvq_gguf_version(g), 3);
    cr_assert_eq(mvq_gguf_n_kv(g), 2 * 11 + 6);
    cr_assert_eq(mvq_gguf_n_tensors(g), 0);
    check_every_type(g);
    mvq_gguf_close(g);
}

Test(gguf_roundtrip, tensors_at_several_alignments)
{
    const uint64_t alignments[] = {1, 8, 32, 64, 4096};
    for (size_t a = 0; a < sizeof alignments / sizeof alignments[0]; a++) {
        char name[32];
        snprintf(name, sizeof name, "align%llu.gguf", (unsigned long long)alignments[a]);
        mvq_gguf_writer *w = open_writer(name);
        add_every_type(w);
        OK(mvq_gguf_writer_set_alignment(w, alignments[a], E));
        write_tensors(w, a % 2 ? 5 : 0); /* odd pieces exercise partial writes */
        OK(mvq_gguf_writer_finish(w, E));
        mvq_gguf *g = open_reader(name);
        check_every_type(g);
        check_tensors(g, alignments[a]);
        uint64_t align_kv;
        cr_assert_eq(mvq_gguf_get_u64(g, "general.alignment", &align_kv), alignments[a] != 32,
                     "general.alignment is written when not the default");
        mvq_gguf_close(g);
    }
}

Test(gguf_roundtrip, alignment_from_metadata_pair)
{
    mvq_gguf_writer *w = open_writer("a.gguf");
    OK(mvq_gguf_writer_add_u32(w, "general.alignment", 16, E));
    write_tensors(w, 0);
    OK(mvq_gguf_writer_finish(w, E));
    mvq_gguf *g = open_reader("a.gguf");
    check_tensors(g, 16);
    cr_assert_eq(mvq_gguf_n_kv(g), 1);
    mvq_gguf_close(g);
}

Test(gguf_roundtrip, copy_keeps_everything)
{
    mvq_gguf_writer *w = open_writer("src.gguf");
    add_every_type(w);
    OK(mvq_gguf_writer_set_alignment(w, 64, E));
    write_tensors(w, 0);
    OK(mvq_gguf_writer_finish(w, E));
    OK(mvq_gguf_copy(in_dir("src.gguf"), in_dir("dst.gguf"), false, NULL, NULL, E));
    size_t na, nb;
    unsigned char *a = read_whole_file(in_dir("src.gguf"), &na), *b = read_whole_file(in_dir("dst.gguf"), &nb);
    cr_assert(a && b && na == nb && memcmp(a, b, na) == 0, "copy is not byte-identical");
    free(a);
    free(b);
}

Test(gguf_roundtrip, recorded_hashes_verify_and_catch_corruption)
{
    mvq_gguf_writer *w = open_writer("h.gguf");
    OK(mvq_gguf_writer_add_str(w, "general.name", "hashed", E));
    OK(mvq_gguf_writer_reserve_hashes(w, E));
    write_tensors(w, 3);
    OK(mvq_gguf_writer_finish(w, E));
    mvq_gguf *g = open_reader("h.gguf");
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, MVQ_GGUF_KEY_TENSOR_HASHES);
    cr_assert_not_null(kv);
    cr_assert_eq(kv->arr_type, MVQ_GGUF_UINT64);
    cr_assert_eq(kv->arr_n, N_SPECS);
    uint64_t first;
    memcpy(&first, kv->v.arr, 8);
    cr_assert_eq(first, mvq_gguf_tensor_hash(NULL, mvq_gguf_tensor_at(g, 0)));
    cr_assert_eq(first, mvq_gguf_tensor_hash(g, mvq_gguf_tensor_at(g, 0)), "streamed hash equals one-shot");
    int64_t checked = -1;
    mvq_error err;
    cr_assert_eq(mvq_gguf_verify_hashes(g, &checked, NULL, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(checked, (int64_t)N_SPECS);
    uint64_t corrupt_at = mvq_gguf_data_offset(g) + mvq_gguf_find_tensor(g, "q4_0.weight")->offset + 5;
    mvq_gguf_close(g);

    size_t n;
    unsigned char *bytes = read_whole_file(in_dir("h.gguf"), &n);
    bytes[corrupt_at] ^= 0x40;
    g = mvq_gguf_open_memory(bytes, n, "corrupt.gguf", &err);
    cr_assert_not_null(g, "%s", err.msg);
    cr_assert_eq(mvq_gguf_verify_hashes(g, &checked, NULL, NULL, &err), MVQ_ERR_FORMAT);
    cr_assert_str_eq(err.msg, "corrupt.gguf: 1 of 8 tensor hashes differ (first: 'q4_0.weight')");
    mvq_gguf_close(g);
    free(bytes);

    /* a copy with --hashes replaces recorded hashes instead of duplicating the key */
    OK(mvq_gguf_copy(in_dir("h.gguf"), in_dir("h2.gguf"), true, NULL, NULL, E));
    g = open_reader("h2.gguf");
    cr_assert_eq(mvq_gguf_verify_hashes(g, &checked, NULL, NULL, &err), MVQ_OK, "%s", err.msg);
    cr_assert_eq(checked, (int64_t)N_SPECS);
    mvq_gguf_close(g);
}

Test(gguf_roundtrip, files_without_hashes_verify_as_unchecked)
{
    mvq_gguf_writer *w = open_writer("n.gguf");
    write_tensors(w, 0);
    OK(mvq_gguf_writer_finish(w, E));
    mvq_gguf *g = open_reader("n.gguf");
    int64_t checked = -1;
    mvq_error err;
    cr_assert_eq(mvq_gguf_verify_hashes(g, &checked, NULL, NULL, &err), MVQ_OK);
    cr_assert_eq(checked, 0);
    mvq_gguf_close(g);
}

/* ---- refusals and failures ---- */

static void expect_refused(mvq_status st, const mvq_error *err, const char *phrase)
{
    cr_assert_neq(st, MVQ_OK, "accepted; expected '%s'", phrase);
    cr_assert_not_null(strstr(err->msg, phrase), "expected '%s' in: %s", phrase, err->msg);
    cr_assert_null(strchr(err->msg, '\n'));
}

Test(gguf_roundtrip, writer_refuses_bad_metadata_and_infos)
{
    mvq_gguf_writer *w = open_writer("bad.gguf");
    mvq_error err;
    OK(mvq_gguf_writer_add_u32(w, "k", 1, E));
    expect_refused(mvq_gguf_writer_add_u32(w, "k", 2, &err), &err, "duplicate metadata key 'k'");
    expect_refused(mvq_gguf_writer_add_str(w, "", "x", &err), &err, "metadata key is empty");
    expect_refused(mvq_gguf_writer_set_alignment(w, 48, &err), &err, "not a power of two");
    expect_refused(mvq_gguf_writer_add_u64(w, "general.alignment", 32, &err), &err, "must be a uint32");
    mvq_gguf_kv kv = {.key = {1, "x"}, .type = MVQ_GGUF_UINT8};
    kv.v.u64 = 256;
    expect_refused(mvq_gguf_writer_add_kv(w, &kv, &err), &err, "does not fit type uint8");
    kv.type = (mvq_gguf_vtype)13;
    expect_refused(mvq_gguf_writer_add_kv(w, &kv, &err), &err, "unknown value type 13");
    int64_t ne[2] = {32, 2}, ne33[1] = {33};
    OK(mvq_gguf_writer_add_tensor(w, "t", 2, ne, MVQ_TYPE_F32, 256, E));
    expect_refused(mvq_gguf_writer_add_tensor(w, "t", 2, ne, MVQ_TYPE_F32, 256, &err), &err,
                   "duplicate tensor name 't'");
    char long_name[65];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    expect_refused(mvq_gguf_writer_add_tensor(w, long_name, 2, ne, MVQ_TYPE_F32, 256, &err), &err,
                   "must have 1 to 63 bytes");
    long_name[63] = '\0';
    OK(mvq_gguf_writer_add_tensor(w, long_name, 2, ne, MVQ_TYPE_F32, 256, E));
    expect_refused(mvq_gguf_writer_add_tensor(w, "s", 2, ne, MVQ_TYPE_F32, 255, &err), &err,
                   "size 255 given, its shape needs 256");
    expect_refused(mvq_gguf_writer_add_tensor(w, "q", 1, ne33, MVQ_TYPE_Q4_0, 18, &err), &err,
                   "not a multiple of the type's block size");
    expect_refused(mvq_gguf_writer_add_tensor(w, "d", 5, ne, MVQ_TYPE_F32, 256, &err), &err, "at most 4");
    static uint8_t data[600];
    OK(mvq_gguf_writer_write(w, data, 100, E));
    expect_refused(mvq_gguf_writer_add_u32(w, "late", 1, &err), &err, "must come before the data");
    expect_refused(mvq_gguf_writer_write(w, data, 600, &err), &err, "more tensor data written");
    mvq_gguf_writer_abort(w);
    cr_assert_eq(count_dir_entries(dir), 0, "abort leaves no file");
}

Test(gguf_roundtrip, incomplete_data_leaves_no_file)
{
    mvq_gguf_writer *w = open_writer("inc.gguf");
    int64_t ne[1] = {64};
    OK(mvq_gguf_writer_add_tensor(w, "t", 1, ne, MVQ_TYPE_F32, 256, E));
    static uint8_t data[100];
    OK(mvq_gguf_writer_write(w, data, 100, E));
    cr_assert_eq(count_dir_entries(dir), 1, "the temporary file exists while writing");
    mvq_error err;
    expect_refused(mvq_gguf_writer_finish(w, &err), &err, "incomplete: tensor 't' has 100 of its 256 bytes");
    cr_assert_eq(count_dir_entries(dir), 0);
}

Test(gguf_roundtrip, refuses_to_overwrite_an_input)
{
    mvq_gguf_writer *w = open_writer("in.gguf");
    OK(mvq_gguf_writer_finish(w, E));
    char in[512], sym[512], hard[512];
    snprintf(in, sizeof in, "%s", in_dir("in.gguf"));
    snprintf(sym, sizeof sym, "%s", in_dir("sym.gguf"));
    snprintf(hard, sizeof hard, "%s", in_dir("hard.gguf"));
    cr_assert_eq(symlink(in, sym), 0);
    cr_assert_eq(link(in, hard), 0);
    const char *inputs[] = {"/nonexistent", in, NULL};
    const char *dsts[] = {in, sym, hard};
    for (int i = 0; i < 3; i++) {
        mvq_error err;
        cr_assert_null(mvq_gguf_writer_open(dsts[i], inputs, &err), "%s accepted", dsts[i]);
        cr_assert_eq(err.status, MVQ_ERR_ARG);
        cr_assert_not_null(strstr(err.msg, "refusing to overwrite it"), "%s", err.msg);
    }
    const char *via_link[] = {sym, NULL};
    mvq_error err;
    cr_assert_null(mvq_gguf_writer_open(hard, via_link, &err));
    cr_assert_eq(count_dir_entries(dir), 3, "no temporary file left");
    cr_assert_null(mvq_gguf_writer_open(dir, NULL, &err));
    cr_assert_str_eq(strstr(err.msg, ": ") + 2, "is a directory");
    cr_assert_null(mvq_gguf_writer_open("/dev/null", NULL, &err));
    cr_assert_not_null(strstr(err.msg, "not a regular file"), "%s", err.msg);
    cr_assert_null(mvq_gguf_writer_open("/nonexistent/dir/x.gguf", NULL, &err));
    cr_assert_eq(err.status, MVQ_ERR_IO);
}

/* mvq_write_file: any file, written and refused as the writer does. */
Test(gguf_roundtrip, whole_files_are_written_in_place_or_not_at_all)
{
    char path[512];
    snprintf(path, sizeof path, "%s", in_dir("figure.svg"));
    static const char text[] = "<svg/>\n";
    OK(mvq_write_file(path, text, sizeof text - 1, NULL, E));
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    char back[32] = {0};
    cr_expect_eq(fread(back, 1, sizeof back, f), sizeof text - 1);
    fclose(f);
    cr_expect_str_eq(back, text);
    cr_expect_eq(count_dir_entries(dir), 1, "no temporary file left");
    const char *inputs[] = {path, NULL};
    mvq_error err;
    expect_refused(mvq_write_file(path, "x", 1, inputs, &err), &err, "refusing to overwrite it");
    cr_expect_eq(mvq_write_file("/nonexistent/dir/x.svg", "x", 1, NULL, &err), MVQ_ERR_IO);
    cr_expect_eq(count_dir_entries(dir), 1);
}

Test(gguf_roundtrip, write_failure_leaves_no_file)
{
    /* a file size limit makes writes fail with EFBIG, like a full disk */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {65536, 65536};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    mvq_gguf_writer *w = open_writer("big.gguf");
    int64_t ne[2] = {1024, 1024};
    OK(mvq_gguf_writer_add_tensor(w, "t", 2, ne, MVQ_TYPE_F32, 4u << 20, E));
    static uint8_t data[1 << 20];
    mvq_status st = MVQ_OK;
    mvq_error err;
    for (int i = 0; i < 4 && st == MVQ_OK; i++)
        st = mvq_gguf_writer_write(w, data, sizeof data, &err);
    if (st == MVQ_OK)
        st = mvq_gguf_writer_finish(w, &err);
    else
        mvq_gguf_writer_abort(w);
    cr_assert_eq(st, MVQ_ERR_IO);
    cr_assert_not_null(strstr(err.msg, "big.gguf: write failed: File too large"), "%s", err.msg);
    cr_assert_eq(count_dir_entries(dir), 0, "no file left behind");
}

Test(gguf_roundtrip, signal_cleanup_removes_temporary_files)
{
    mvq_gguf_writer *a = open_writer("a.gguf"), *b = open_writer("b.gguf");
    cr_assert_eq(count_dir_entries(dir), 2);
    mvq_gguf_writer_cleanup_on_signal();
    cr_assert_eq(count_dir_entries(dir), 0);
    mvq_gguf_writer_abort(a);
    mvq_gguf_writer_abort(b);
    /* slots are reused after abort */
    for (int i = 0; i < 100; i++)
        mvq_gguf_writer_abort(open_writer("c.gguf"));
    cr_assert_eq(count_dir_entries(dir), 0);
}
