/* GGUF reader: memory-maps a file (or takes a caller's buffer) and parses
 * the header, metadata and tensor infos.  Every count, length, size and
 * offset read from the file is checked against the bytes that remain before
 * it is used, so a hostile file gives one error line, never a crash. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


/* A position in the file being parsed, and where errors go. */
typedef struct cursor {
    const uint8_t *base;
    uint64_t pos, size;
    const char *name;
    mvq_error *err;
} cursor;

/* Smallest encodings, to bound counts by the bytes left: a pair is a key
 * length, a type and a one-byte value; a tensor info a name length,
 * n_dims, type and offset. */
/* Names from the file, made safe for a one-line message. */
#define SHOW(s) mvq_gguf_printable((s).data, (s).len, (char[80]){0}, 80)

#define MIN_KV_BYTES 13u
#define MIN_INFO_BYTES 24u

static uint64_t remaining(const cursor *c)
{
    return c->size - c->pos;
}

static bool need(cursor *c, uint64_t n, const char *what)
{
    if (n <= remaining(c))
        return true;
    mvq_error_set(c->err, MVQ_ERR_FORMAT,
                  "%s: truncated: %s at offset %" PRIu64 " needs %" PRIu64 " bytes, %" PRIu64 " remain",
                  c->name, what, c->pos, n, remaining(c));
    return false;
}

static bool read_bytes(cursor *c, void *out, uint64_t n, const char *what)
{
    if (!need(c, n, what))
        return false;
    memcpy(out, c->base + c->pos, (size_t)n);
    c->pos += n;
    return true;
}

static bool read_u32(cursor *c, uint32_t *v, const char *what)
{
    return read_bytes(c, v, 4, what);
}

static bool read_u64(cursor *c, uint64_t *v, const char *what)
{
    return read_bytes(c, v, 8, what);
}

static bool nomem(cursor *c)
{
    mvq_error_set(c->err, MVQ_ERR_NOMEM, "%s: out of memory while reading", c->name);
    return false;
}

/* A length-prefixed string, copied NUL-terminated into the arena. */
static bool read_str(cursor *c, mvq_arena *a, mvq_gguf_str *s, const char *what)
{
    uint64_t len;
    if (!read_u64(c, &len, what) || !need(c, len, what))
        return false;
    char *copy = mvq_arena_strndup(a, (const char *)c->base + c->pos, (size_t)len);
    if (!copy)
        return nomem(c);
    s->len = len;
    s->data = copy;
    c->pos += len;
    return true;
}

static bool read_count(cursor *c, uint64_t *n, uint64_t min_each, const char *what)
{
    if (!read_u64(c, n, what))
        return false;
    if (*n > remaining(c) / min_each) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT,
                      "%s: truncated or corrupt: %s is %" PRIu64 ", more than the %" PRIu64 " bytes left could hold",
                      c->name, what, *n, remaining(c));
        return false;
    }
    return true;
}

static bool check_vtype(cursor *c, uint32_t t, const char *key)
{
    if (t < MVQ_GGUF_VTYPE_COUNT)
        return true;
    mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: metadata '%s' has unknown value type %" PRIu32, c->name,
                  key, t);
    return false;
}

static bool read_scalar(cursor *c, mvq_gguf_kv *kv)
{
    size_t n = mvq_gguf_vtype_size(kv->type);
    uint8_t b[8] = {0};
    if (!read_bytes(c, b, n, "metadata value"))
        return false;
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    float f32;
    switch (kv->type) {
    case MVQ_GGUF_UINT8: memcpy(&u8, b, 1); kv->v.u64 = u8; break;
    case MVQ_GGUF_INT8: memcpy(&i8, b, 1); kv->v.i64 = i8; break;
    case MVQ_GGUF_UINT16: memcpy(&u16, b, 2); kv->v.u64 = u16; break;
    case MVQ_GGUF_INT16: memcpy(&i16, b, 2); kv->v.i64 = i16; break;
    case MVQ_GGUF_UINT32: memcpy(&u32, b, 4); kv->v.u64 = u32; break;
    case MVQ_GGUF_INT32: memcpy(&i32, b, 4); kv->v.i64 = i32; break;
    case MVQ_GGUF_FLOAT32: memcpy(&f32, b, 4); kv->v.f64 = f32; break;
    case MVQ_GGUF_UINT64: memcpy(&kv->v.u64, b, 8); break;
    case MVQ_GGUF_INT64: memcpy(&kv->v.i64, b, 8); break;
    case MVQ_GGUF_FLOAT64: memcpy(&kv->v.f64, b, 8); break;
    case MVQ_GGUF_BOOL:
        if (b[0] > 1) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: metadata '%s': bool value %u is not 0 or 1", c->name,
                          SHOW(kv->key), b[0]);
            return false;
        }
        kv->v.u64 = b[0];
        break;
    default: break;
    }
    return true;
}

static bool read_array(cursor *c, mvq_arena *a, mvq_gguf_kv *kv)
{
    uint32_t t;
    if (!read_u32(c, &t, "array element type") || !check_vtype(c, t, SHOW(kv->key)))
        return false;
    if (t == MVQ_GGUF_ARRAY) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: metadata '%s': arrays of arrays are not supported",
                      c->name, SHOW(kv->key));
        return false;
    }
    kv->arr_type = (mvq_gguf_vtype)t;
    size_t esize = mvq_gguf_vtype_size(kv->arr_type);
    if (!read_count(c, &kv->arr_n, esize ? esize : 8, "array length"))
        return false;
    if (kv->arr_type != MVQ_GGUF_STRING) {
        kv->v.arr = c->base + c->pos;
        if (kv->arr_type == MVQ_GGUF_BOOL) {
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                if (c->base[c->pos + i] > 1) {
                    mvq_error_set(c->err, MVQ_ERR_FORMAT,
                                  "%s: metadata '%s': bool element %" PRIu64 " is not 0 or 1", c->name,
                                  SHOW(kv->key), i);
                    return false;
                }
            }
        }
        c->pos += kv->arr_n * esize; /* bounded by read_count */
        return true;
    }
    /* arr_n <= remaining / 8, so this multiplication cannot overflow a
     * size_t that can address the file. */
    mvq_gguf_str *strs = mvq_arena_alloc(a, (size_t)kv->arr_n * sizeof *strs + 1);
    if (!strs)
        return nomem(c);
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (!read_str(c, a, &strs[i], "string array element"))
            return false;
    kv->v.strs = strs;
    return true;
}

static bool read_alignment(cursor *c, const mvq_gguf_kv *kv, uint64_t *alignment)
{
    if (kv->type != MVQ_GGUF_UINT32) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: general.alignment has type %s, expected uint32", c->name,
                      mvq_gguf_vtype_name(kv->type));
        return false;
    }
    if (!mvq_gguf_is_pow2(kv->v.u64)) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: general.alignment %" PRIu64 " is not a power of two",
                      c->name, kv->v.u64);
        return false;
    }
    *alignment = kv->v.u64;
    return true;
}

static bool read_kvs(cursor *c, mvq_gguf *g)
{
    for (int64_t i = 0; i < g->n_kv; i++) {
        mvq_gguf_kv *kv = &g->kvs[i];
        uint32_t t;
        if (!read_str(c, g->arena, &kv->key, "metadata key") || !read_u32(c, &t, "metadata value type") ||
            !check_vtype(c, t, SHOW(kv->key)))
            return false;
        int ins = mvq_strset_insert(&g->keys, kv->key.data, kv->key.len);
        if (ins < 0)
            return nomem(c);
        if (ins == 0) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: duplicate metadata key '%s'", c->name, SHOW(kv->key));
            return false;
        }
        kv->type = (mvq_gguf_vtype)t;
        bool ok = t == MVQ_GGUF_ARRAY    ? read_array(c, g->arena, kv)
                  : t == MVQ_GGUF_STRING ? read_str(c, g->arena, &kv->v.str, "metadata string value")
                                         : read_scalar(c, kv);
        if (!ok)
            return false;
        if (strcmp(kv->key.data, "general.alignment") == 0 && !read_alignment(c, kv, &g->alignment))
            return false;
    }
    return true;
}

static bool read_infos(cursor *c, mvq_gguf *g)
{
    for (int64_t i = 0; i < g->n_tensors; i++) {
        mvq_gguf_tensor *t = &g->tensors[i];
        if (!read_str(c, g->arena, &t->name, "tensor name") || !read_u32(c, &t->n_dims, "tensor n_dims"))
            return false;
        if (t->n_dims > MVQ_GGUF_MAX_DIMS) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: tensor '%s' has %" PRIu32 " dimensions, at most %d",
                          c->name, SHOW(t->name), t->n_dims, MVQ_GGUF_MAX_DIMS);
            return false;
        }
        for (int d = 0; d < MVQ_GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (!read_bytes(c, &t->ne[d], 8, "tensor dimension"))
                return false;
        if (!read_u32(c, &t->type, "tensor type") || !read_u64(c, &t->offset, "tensor offset"))
            return false;
        int64_t nel;
        if (!mvq_gguf_nelements(t->n_dims, t->ne, &nel)) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: tensor '%s' has a negative or overflowing shape",
                          c->name, SHOW(t->name));
            return false;
        }
        int ins = mvq_strset_insert(&g->names, t->name.data, t->name.len);
        if (ins < 0)
            return nomem(c);
        if (ins == 0) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: duplicate tensor name '%s'", c->name, SHOW(t->name));
            return false;
        }
    }
    return true;
}

static int cmp_offset(const void *a, const void *b)
{
    const mvq_gguf_tensor *x = *(const mvq_gguf_tensor *const *)a, *y = *(const mvq_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sizes of the types we do not know: the gap to the next tensor's offset
 * in offset order, the last one reaching the end of the file. */
static bool size_unknown_types(cursor *c, mvq_gguf *g, uint64_t data_size)
{
    mvq_gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order)
        return nomem(c);
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = &g->tensors[i];
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_offset);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        mvq_gguf_tensor *t = order[i];
        const char *why;
        mvq_status st = mvq_gguf_known_size(t->type, t->n_dims, t->ne, &t->size, &why);
        if (st == MVQ_ERR_FORMAT) {
            mvq_error_set(c->err, st, "%s: tensor '%s' (type %" PRIu32 "): %s", c->name, SHOW(t->name), t->type,
                          why);
            free(order);
            return false;
        }
        if (st == MVQ_ERR_UNSUPPORTED) {
            uint64_t end = data_size;
            for (int64_t j = i + 1; j < g->n_tensors; j++)
                if (order[j]->offset > t->offset) {
                    end = order[j]->offset;
                    break;
                }
            t->size = end > t->offset ? end - t->offset : 0;
        }
    }
    free(order);
    return true;
}

static bool place_tensors(cursor *c, mvq_gguf *g)
{
    if (g->n_tensors == 0)
        return true;
    if (g->data_offset > c->size) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT,
                      "%s: truncated: data section starts at %" PRIu64 ", past the end of the file (%" PRIu64
                      " bytes)",
                      c->name, g->data_offset, c->size);
        return false;
    }
    uint64_t data_size = c->size - g->data_offset;
    if (!size_unknown_types(c, g, data_size))
        return false;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        mvq_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT,
                          "%s: tensor '%s' offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                          c->name, SHOW(t->name), t->offset, g->alignment);
            return false;
        }
        if (t->offset > data_size || t->size > data_size - t->offset) {
            mvq_error_set(c->err, MVQ_ERR_FORMAT,
                          "%s: tensor '%s' data (%" PRIu64 " bytes at offset %" PRIu64
                          ") runs past the end of the file",
                          c->name, SHOW(t->name), t->size, g->data_offset + t->offset);
            return false;
        }
        t->data = c->base + g->data_offset + t->offset;
    }
    return true;
}

static bool parse(cursor *c, mvq_gguf *g)
{
    uint32_t magic;
    uint64_t n_tensors, n_kv;
    if (!read_u32(c, &magic, "magic"))
        return false;
    if (magic != MVQ_GGUF_MAGIC) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: not a GGUF file (bad magic %#010" PRIx32 ")", c->name, magic);
        return false;
    }
    if (!read_u32(c, &g->version, "version"))
        return false;
    if (g->version != 2 && g->version != 3) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: unsupported GGUF version %" PRIu32 " (2 and 3 are read)",
                      c->name, g->version);
        return false;
    }
    if (!read_u64(c, &n_tensors, "tensor count") || !read_u64(c, &n_kv, "metadata count"))
        return false;
    if (n_kv > remaining(c) / MIN_KV_BYTES || n_tensors > remaining(c) / MIN_INFO_BYTES) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT,
                      "%s: truncated or corrupt: %" PRIu64 " metadata pairs and %" PRIu64
                      " tensors cannot fit in the %" PRIu64 " bytes left",
                      c->name, n_kv, n_tensors, remaining(c));
        return false;
    }
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->kvs = calloc((size_t)n_kv + 1, sizeof *g->kvs);
    g->tensors = calloc((size_t)n_tensors + 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors)
        return nomem(c);
    if (!read_kvs(c, g) || !read_infos(c, g))
        return false;
    if (!mvq_gguf_align_up(c->pos, g->alignment, &g->data_offset)) {
        mvq_error_set(c->err, MVQ_ERR_FORMAT, "%s: data section offset overflows", c->name);
        return false;
    }
    return place_tensors(c, g);
}

static mvq_gguf *parse_new(const uint8_t *base, size_t size, const char *name, mvq_error *err)
{
    mvq_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(name)) || !(g->arena = mvq_arena_new())) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", name);
        mvq_gguf_close(g);
        return NULL;
    }
    g->base = base;
    g->size = size;
    g->alignment = MVQ_GGUF_DEFAULT_ALIGNMENT;
    cursor c = {base, 0, size, name, err};
    if (!parse(&c, g)) {
        mvq_gguf_close(g);
        return NULL;
    }
    return g;
}

mvq_gguf *mvq_gguf_open_memory(const void *buf, size_t size, const char *name, mvq_error *err)
{
    if (!name)
        name = "(memory)";
    if (!buf && size) {
        mvq_error_set(err, MVQ_ERR_ARG, "%s: NULL buffer", name);
        return NULL;
    }
    return parse_new(buf, size, name, err);
}

mvq_gguf *mvq_gguf_open_file(const char *path, mvq_error *err)
{
    if (!path) {
        mvq_error_set(err, MVQ_ERR_ARG, "(null): no file name given");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        mvq_error_set(err, MVQ_ERR_IO, "%s: too large to map", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            mvq_error_set(err, MVQ_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    close(fd);
    mvq_gguf *g = parse_new(map, size, path, err);
    if (!g) {
        if (map)
            munmap(map, size);
        return NULL;
    }
    g->mapped = map != NULL;
    return g;
}

void mvq_gguf_close(mvq_gguf *g)
{
    if (!g)
        return;
    for (int64_t k = 0; k < g->n_parts; k++)
        mvq_gguf_close(g->parts[k]);
    free(g->parts);
    free(g->tensor_part);
    if (g->mapped)
        munmap((void *)g->base, g->size);
    mvq_strset_free(&g->keys);
    mvq_strset_free(&g->names);
    mvq_arena_free(g->arena);
    free(g->kvs);
    free(g->tensors);
    free(g->path);
    free(g);
}

const char *mvq_gguf_path(const mvq_gguf *g) { return g->path; }
uint32_t mvq_gguf_version(const mvq_gguf *g) { return g->version; }
uint64_t mvq_gguf_alignment(const mvq_gguf *g) { return g->alignment; }
uint64_t mvq_gguf_data_offset(const mvq_gguf *g) { return g->data_offset; }
uint64_t mvq_gguf_file_size(const mvq_gguf *g) { return g->size; }
int64_t mvq_gguf_n_kv(const mvq_gguf *g) { return g->n_kv; }
int64_t mvq_gguf_n_tensors(const mvq_gguf *g) { return g->n_tensors; }

const mvq_gguf_kv *mvq_gguf_kv_at(const mvq_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const mvq_gguf_tensor *mvq_gguf_tensor_at(const mvq_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

/* Linear scans: lookups by name are rare next to the parse, and the sets
 * only say whether a name is present. */
const mvq_gguf_kv *mvq_gguf_find_kv(const mvq_gguf *g, const char *key)
{
    if (!key || !mvq_strset_contains(&g->keys, key, strlen(key)))
        return NULL;
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kvs[i].key.data, key) == 0 && g->kvs[i].key.len == strlen(key))
            return &g->kvs[i];
    return NULL;
}

const mvq_gguf_tensor *mvq_gguf_find_tensor(const mvq_gguf *g, const char *name)
{
    if (!name || !mvq_strset_contains(&g->names, name, strlen(name)))
        return NULL;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name.data, name) == 0 && g->tensors[i].name.len == strlen(name))
            return &g->tensors[i];
    return NULL;
}

void mvq_gguf_drop_pages(const mvq_gguf *g, const void *p, size_t n)
{
    for (int64_t k = 0; k < g->n_parts; k++)
        mvq_gguf_drop_pages(g->parts[k], p, n);
    uintptr_t lo = (uintptr_t)g->base, hi = lo + g->size, a = (uintptr_t)p, b;
    if (!g->mapped || a < lo || a > hi || __builtin_add_overflow(a, n, &b) || b > hi)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    a = (a + page - 1) / page * page; /* whole pages inside the range only */
    b = b / page * page;
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

static bool is_signed_int(mvq_gguf_vtype t)
{
    return t == MVQ_GGUF_INT8 || t == MVQ_GGUF_INT16 || t == MVQ_GGUF_INT32 || t == MVQ_GGUF_INT64;
}

static bool is_unsigned_int(mvq_gguf_vtype t)
{
    return t == MVQ_GGUF_UINT8 || t == MVQ_GGUF_UINT16 || t == MVQ_GGUF_UINT32 || t == MVQ_GGUF_UINT64;
}

bool mvq_gguf_get_u64(const mvq_gguf *g, const char *key, uint64_t *out)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    if (kv && is_unsigned_int(kv->type)) {
        *out = kv->v.u64;
        return true;
    }
    if (kv && is_signed_int(kv->type) && kv->v.i64 >= 0) {
        *out = (uint64_t)kv->v.i64;
        return true;
    }
    return false;
}

bool mvq_gguf_get_i64(const mvq_gguf *g, const char *key, int64_t *out)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    if (kv && is_signed_int(kv->type)) {
        *out = kv->v.i64;
        return true;
    }
    if (kv && is_unsigned_int(kv->type) && kv->v.u64 <= INT64_MAX) {
        *out = (int64_t)kv->v.u64;
        return true;
    }
    return false;
}

bool mvq_gguf_get_f64(const mvq_gguf *g, const char *key, double *out)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    if (!kv || (kv->type != MVQ_GGUF_FLOAT32 && kv->type != MVQ_GGUF_FLOAT64))
        return false;
    *out = kv->v.f64;
    return true;
}

bool mvq_gguf_get_str(const mvq_gguf *g, const char *key, const char **out)
{
    const mvq_gguf_kv *kv = mvq_gguf_find_kv(g, key);
    if (!kv || kv->type != MVQ_GGUF_STRING)
        return false;
    *out = kv->v.str.data;
    return true;
}
