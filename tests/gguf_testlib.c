/* Helpers for the GGUF tests; see gguf_testlib.h. */
#include "tests/gguf_testlib.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gb_bytes(gbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

void gb_u8(gbuf *b, uint8_t v) { gb_bytes(b, &v, 1); }
void gb_u32(gbuf *b, uint32_t v) { gb_bytes(b, &v, 4); }
void gb_u64(gbuf *b, uint64_t v) { gb_bytes(b, &v, 8); }

void gb_str(gbuf *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_zeros(gbuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gb_u8(b, 0);
}

void gb_pad(gbuf *b, size_t alignment)
{
    gb_zeros(b, (alignment - b->n % alignment) % alignment);
}

void gb_free(gbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void gb_header(gbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gb_u32(b, MVQ_GGUF_MAGIC);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_kv_u32(gbuf *b, const char *key, uint32_t v)
{
    gb_str(b, key);
    gb_u32(b, MVQ_GGUF_UINT32);
    gb_u32(b, v);
}

void gb_kv_str(gbuf *b, const char *key, const char *v)
{
    gb_str(b, key);
    gb_u32(b, MVQ_GGUF_STRING);
    gb_str(b, v);
}

void gb_info(gbuf *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gb_u64(b, (uint64_t)ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

void gb_sample_file(gbuf *b)
{
    static const int64_t ne_a[2] = {8, 2}, ne_b[2] = {32, 2}, ne_c[1] = {16};
    /* sizes: f32 64, q8_0 2 blocks of 34 = 68 (padded to 96), f16 32 */
    static const uint64_t sizes[3] = {64, 68, 32}, offsets[3] = {0, 64, 160};
    gb_header(b, 3, 3, 3);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_u32(b, "llama.block_count", 1);
    gb_str(b, "tokenizer.ggml.tokens");
    gb_u32(b, MVQ_GGUF_ARRAY);
    gb_u32(b, MVQ_GGUF_STRING);
    gb_u64(b, 2);
    gb_str(b, "a");
    gb_str(b, "bc");
    gb_info(b, "a.weight", 2, ne_a, MVQ_TYPE_F32, offsets[0]);
    gb_info(b, "b.weight", 2, ne_b, MVQ_TYPE_Q8_0, offsets[1]);
    gb_info(b, "c.weight", 1, ne_c, MVQ_TYPE_F16, offsets[2]);
    gb_pad(b, 32);
    for (int t = 0; t < 3; t++) {
        for (uint64_t i = 0; i < sizes[t]; i++)
            gb_u8(b, (uint8_t)(i * 7 + (uint64_t)t));
        gb_pad(b, 32);
    }
}

unsigned char *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

bool write_whole_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

bool make_temp_dir(char *buf, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/mvq-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(buf) != NULL;
}

int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

void remove_temp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static bool same_str(mvq_gguf_str a, mvq_gguf_str b)
{
    return a.len == b.len && memcmp(a.data, b.data, (size_t)a.len) == 0;
}

static bool same_kv(const mvq_gguf_kv *a, const mvq_gguf_kv *b)
{
    if (!same_str(a->key, b->key) || a->type != b->type)
        return false;
    switch (a->type) {
    case MVQ_GGUF_STRING: return same_str(a->v.str, b->v.str);
    case MVQ_GGUF_FLOAT32:
    case MVQ_GGUF_FLOAT64: return memcmp(&a->v.f64, &b->v.f64, sizeof(double)) == 0;
    case MVQ_GGUF_ARRAY:
        if (a->arr_type != b->arr_type || a->arr_n != b->arr_n)
            return false;
        if (a->arr_type == MVQ_GGUF_STRING) {
            for (uint64_t i = 0; i < a->arr_n; i++)
                if (!same_str(a->v.strs[i], b->v.strs[i]))
                    return false;
            return true;
        }
        return memcmp(a->v.arr, b->v.arr, (size_t)(a->arr_n * mvq_gguf_vtype_size(a->arr_type))) == 0;
    default: return a->v.u64 == b->v.u64;
    }
}

const char *gguf_compare(const mvq_gguf *a, const mvq_gguf *b)
{
    static char why[256];
    if (mvq_gguf_n_kv(a) != mvq_gguf_n_kv(b))
        return "metadata counts differ";
    for (int64_t i = 0; i < mvq_gguf_n_kv(a); i++) {
        if (!same_kv(mvq_gguf_kv_at(a, i), mvq_gguf_kv_at(b, i))) {
            snprintf(why, sizeof why, "metadata pair %lld ('%s') differs", (long long)i,
                     mvq_gguf_kv_at(a, i)->key.data);
            return why;
        }
    }
    if (mvq_gguf_n_tensors(a) != mvq_gguf_n_tensors(b))
        return "tensor counts differ";
    for (int64_t i = 0; i < mvq_gguf_n_tensors(a); i++) {
        const mvq_gguf_tensor *x = mvq_gguf_tensor_at(a, i), *y = mvq_gguf_tensor_at(b, i);
        bool same = same_str(x->name, y->name) && x->n_dims == y->n_dims && x->type == y->type &&
                    memcmp(x->ne, y->ne, sizeof x->ne) == 0 && x->size == y->size &&
                    memcmp(x->data, y->data, (size_t)x->size) == 0;
        if (!same) {
            snprintf(why, sizeof why, "tensor %lld ('%s') differs", (long long)i, x->name.data);
            return why;
        }
    }
    return NULL;
}
