/* GGUF streaming writer.  Metadata and tensor infos are collected in
 * memory (they are small); the first data write emits the header, the
 * metadata and the infos, then each tensor's data goes straight to the
 * temporary file, padded to the alignment, so a model larger than memory
 * can be written.  Offsets are the running sum of padded sizes in the
 * order tensors were added, as llama.cpp's loader requires. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"
#include "quant/gguf/gguf_tmpfile.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define OUT_BUFFER_SIZE (1u << 20)

typedef struct wtensor {
    const char *name; /* in the arena */
    uint32_t n_dims;
    int64_t ne[MVQ_GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t size, offset;
} wtensor;

typedef struct bytebuf {
    uint8_t *p;
    size_t n, cap;
} bytebuf;

struct mvq_gguf_writer {
    mvq_tmpfile file;
    mvq_arena *arena;
    mvq_error failure; /* sticky: once a call fails, the writer is dead */
    uint64_t alignment;
    /* metadata, serialized as added */
    bytebuf meta;
    uint64_t n_kv;
    mvq_strset keys;
    int64_t alignment_value_pos; /* in meta, -1 when general.alignment was not added */
    /* tensor infos */
    wtensor *tensors;
    int64_t n_tensors, cap_tensors;
    mvq_strset names;
    /* streaming state */
    bool started;
    int64_t cur;
    uint64_t cur_done;
    bytebuf out;
    bool hashing;
    uint64_t hashes_pos; /* file offset of the hash array's elements */
    uint64_t *hashes;
    XXH3_state_t *xxh;
};

static const uint8_t zeros[256];

static mvq_status fail(mvq_gguf_writer *w, mvq_error *err, mvq_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first failure (the writer is unusable afterwards) and copies
 * it to err. */
static mvq_status fail(mvq_gguf_writer *w, mvq_error *err, mvq_status st, const char *fmt, ...)
{
    char msg[sizeof w->failure.msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st != MVQ_ERR_ARG) /* a refused argument leaves the writer usable */
        mvq_error_set(&w->failure, st, "%s", msg);
    return mvq_error_set(err, st, "%s", msg);
}

static mvq_status dead(const mvq_gguf_writer *w, mvq_error *err)
{
    if (w->failure.status == MVQ_OK)
        return MVQ_OK;
    return mvq_error_set(err, w->failure.status, "%s", w->failure.msg);
}

static bool buf_put(bytebuf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->n)
        return false;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap = cap > SIZE_MAX / 2 ? b->n + n : cap * 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return false;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return true;
}

static bool buf_u32(bytebuf *b, uint32_t v) { return buf_put(b, &v, 4); }
static bool buf_u64(bytebuf *b, uint64_t v) { return buf_put(b, &v, 8); }
static bool buf_str(bytebuf *b, const char *s, uint64_t len)
{
    return buf_u64(b, len) && buf_put(b, s, (size_t)len);
}

mvq_gguf_writer *mvq_gguf_writer_open(const char *dst, const char *const *inputs, mvq_error *err)
{
    mvq_gguf_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->arena = mvq_arena_new()) || !(w->xxh = XXH3_createState())) {
        mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", dst ? dst : "(output)");
        if (w) {
            mvq_arena_free(w->arena);
            free(w);
        }
        return NULL;
    }
    if (mvq_tmpfile_open(&w->file, dst, inputs, err) != MVQ_OK) {
        XXH3_freeState(w->xxh);
        mvq_arena_free(w->arena);
        free(w);
        return NULL;
    }
    w->alignment = MVQ_GGUF_DEFAULT_ALIGNMENT;
    w->alignment_value_pos = -1;
    return w;
}

static mvq_status check_open_for_infos(mvq_gguf_writer *w, mvq_error *err)
{
    if (!w)
        return mvq_error_set(err, MVQ_ERR_ARG, "(writer): NULL writer");
    mvq_status st = dead(w, err);
    if (st != MVQ_OK)
        return st;
    if (w->started)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata and tensor infos must come before the data",
                             w->file.dst);
    return MVQ_OK;
}

mvq_status mvq_gguf_writer_set_alignment(mvq_gguf_writer *w, uint64_t alignment, mvq_error *err)
{
    mvq_status st = check_open_for_infos(w, err);
    if (st != MVQ_OK)
        return st;
    if (!mvq_gguf_is_pow2(alignment) || alignment > UINT32_MAX)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: alignment %" PRIu64 " is not a power of two below 2^32",
                             w->file.dst, alignment);
    w->alignment = alignment;
    if (w->alignment_value_pos >= 0) {
        uint32_t v = (uint32_t)alignment;
        memcpy(w->meta.p + w->alignment_value_pos, &v, 4);
    }
    return MVQ_OK;
}

static bool put_value(bytebuf *b, const mvq_gguf_kv *kv)
{
    size_t esize = mvq_gguf_vtype_size(kv->type);
    if (kv->type == MVQ_GGUF_STRING)
        return buf_str(b, kv->v.str.data, kv->v.str.len);
    if (kv->type == MVQ_GGUF_ARRAY) {
        if (!buf_u32(b, kv->arr_type) || !buf_u64(b, kv->arr_n))
            return false;
        if (kv->arr_type == MVQ_GGUF_STRING) {
            for (uint64_t i = 0; i < kv->arr_n; i++)
                if (!buf_str(b, kv->v.strs[i].data, kv->v.strs[i].len))
                    return false;
            return true;
        }
        return buf_put(b, kv->v.arr, (size_t)(kv->arr_n * mvq_gguf_vtype_size(kv->arr_type)));
    }
    /* scalars: the low bytes of the 64-bit union member, little-endian */
    uint8_t bytes[8];
    if (kv->type == MVQ_GGUF_FLOAT32) {
        float f = (float)kv->v.f64;
        memcpy(bytes, &f, 4);
    } else {
        memcpy(bytes, &kv->v.u64, 8);
    }
    return buf_put(b, bytes, esize);
}

/* Whether a scalar's value fits its declared type. */
static bool scalar_fits(const mvq_gguf_kv *kv)
{
    switch (kv->type) {
    case MVQ_GGUF_UINT8: return kv->v.u64 <= UINT8_MAX;
    case MVQ_GGUF_UINT16: return kv->v.u64 <= UINT16_MAX;
    case MVQ_GGUF_UINT32: return kv->v.u64 <= UINT32_MAX;
    case MVQ_GGUF_BOOL: return kv->v.u64 <= 1;
    case MVQ_GGUF_INT8: return kv->v.i64 >= INT8_MIN && kv->v.i64 <= INT8_MAX;
    case MVQ_GGUF_INT16: return kv->v.i64 >= INT16_MIN && kv->v.i64 <= INT16_MAX;
    case MVQ_GGUF_INT32: return kv->v.i64 >= INT32_MIN && kv->v.i64 <= INT32_MAX;
    default: return true;
    }
}

static mvq_status check_kv(mvq_gguf_writer *w, const mvq_gguf_kv *kv, mvq_error *err)
{
    const char *dst = w->file.dst;
    if (!kv || !kv->key.data || kv->key.len == 0)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata key is empty", dst);
    char shown[80];
    const char *key = mvq_gguf_printable(kv->key.data, kv->key.len, shown, sizeof shown);
    if ((unsigned)kv->type >= MVQ_GGUF_VTYPE_COUNT)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' has unknown value type %d", dst, key,
                             (int)kv->type);
    if (kv->type == MVQ_GGUF_ARRAY) {
        if ((unsigned)kv->arr_type >= MVQ_GGUF_VTYPE_COUNT || kv->arr_type == MVQ_GGUF_ARRAY)
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' has a bad array element type %d", dst,
                                 key, (int)kv->arr_type);
        size_t esize = mvq_gguf_vtype_size(kv->arr_type);
        if (esize && kv->arr_n > SIZE_MAX / esize)
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' array too long", dst, key);
        if (kv->arr_n && !(kv->arr_type == MVQ_GGUF_STRING ? (const void *)kv->v.strs : kv->v.arr))
            return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' array has no elements", dst, key);
        for (uint64_t i = 0; kv->arr_type == MVQ_GGUF_BOOL && i < kv->arr_n; i++)
            if (((const uint8_t *)kv->v.arr)[i] > 1)
                return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' bool element is not 0 or 1", dst, key);
    } else if (kv->type == MVQ_GGUF_STRING ? !kv->v.str.data && kv->v.str.len : !scalar_fits(kv)) {
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: metadata '%s' value does not fit type %s", dst, key,
                             mvq_gguf_vtype_name(kv->type));
    }
    bool is_alignment = kv->key.len == 17 && memcmp(kv->key.data, "general.alignment", 17) == 0;
    if (is_alignment && (kv->type != MVQ_GGUF_UINT32 || !mvq_gguf_is_pow2(kv->v.u64)))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: general.alignment must be a uint32 power of two", dst);
    bool is_hashes = kv->key.len == strlen(MVQ_GGUF_KEY_TENSOR_HASHES) &&
                     memcmp(kv->key.data, MVQ_GGUF_KEY_TENSOR_HASHES, (size_t)kv->key.len) == 0;
    if ((is_hashes && w->hashing) || mvq_strset_contains(&w->keys, kv->key.data, kv->key.len))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: duplicate metadata key '%s'", dst, key);
    return MVQ_OK;
}

mvq_status mvq_gguf_writer_add_kv(mvq_gguf_writer *w, const mvq_gguf_kv *kv, mvq_error *err)
{
    mvq_status st = check_open_for_infos(w, err);
    if (st == MVQ_OK)
        st = check_kv(w, kv, err);
    if (st != MVQ_OK)
        return st;
    const char *key = mvq_arena_strndup(w->arena, kv->key.data, (size_t)kv->key.len);
    if (!key || mvq_strset_insert(&w->keys, key, kv->key.len) < 0 || !buf_str(&w->meta, key, kv->key.len) ||
        !buf_u32(&w->meta, kv->type))
        return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", w->file.dst);
    if (strcmp(key, "general.alignment") == 0) {
        w->alignment = kv->v.u64;
        w->alignment_value_pos = (int64_t)w->meta.n;
    }
    if (!put_value(&w->meta, kv))
        return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", w->file.dst);
    w->n_kv++;
    return MVQ_OK;
}

static mvq_status add_scalar(mvq_gguf_writer *w, const char *key, mvq_gguf_vtype t, uint64_t bits,
                             mvq_error *err)
{
    mvq_gguf_kv kv = {.key = {key ? strlen(key) : 0, key}, .type = t};
    kv.v.u64 = bits;
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

mvq_status mvq_gguf_writer_add_u32(mvq_gguf_writer *w, const char *key, uint32_t v, mvq_error *err)
{
    return add_scalar(w, key, MVQ_GGUF_UINT32, v, err);
}

mvq_status mvq_gguf_writer_add_u64(mvq_gguf_writer *w, const char *key, uint64_t v, mvq_error *err)
{
    return add_scalar(w, key, MVQ_GGUF_UINT64, v, err);
}

mvq_status mvq_gguf_writer_add_f32(mvq_gguf_writer *w, const char *key, float v, mvq_error *err)
{
    mvq_gguf_kv kv = {.key = {key ? strlen(key) : 0, key}, .type = MVQ_GGUF_FLOAT32};
    kv.v.f64 = v;
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

mvq_status mvq_gguf_writer_add_str(mvq_gguf_writer *w, const char *key, const char *v, mvq_error *err)
{
    mvq_gguf_kv kv = {.key = {key ? strlen(key) : 0, key}, .type = MVQ_GGUF_STRING};
    kv.v.str.data = v ? v : "";
    kv.v.str.len = v ? strlen(v) : 0;
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

mvq_status mvq_gguf_writer_add_arr(mvq_gguf_writer *w, const char *key, mvq_gguf_vtype arr_type,
                                   const void *elems, uint64_t n, mvq_error *err)
{
    if (arr_type == MVQ_GGUF_STRING)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: use mvq_gguf_writer_add_str_arr for strings",
                             w ? w->file.dst : "(writer)");
    mvq_gguf_kv kv = {.key = {key ? strlen(key) : 0, key}, .type = MVQ_GGUF_ARRAY, .arr_type = arr_type,
                      .arr_n = n};
    kv.v.arr = elems;
    return mvq_gguf_writer_add_kv(w, &kv, err);
}

mvq_status mvq_gguf_writer_add_str_arr(mvq_gguf_writer *w, const char *key, const char *const *strs, uint64_t n,
                                       mvq_error *err)
{
    mvq_gguf_str *v = n ? calloc((size_t)n, sizeof *v) : NULL;
    if (n && (!v || n > SIZE_MAX / sizeof *v)) {
        free(v);
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", w ? w->file.dst : "(writer)");
    }
    for (uint64_t i = 0; i < n; i++) {
        v[i].data = strs[i] ? strs[i] : "";
        v[i].len = strlen(v[i].data);
    }
    mvq_gguf_kv kv = {.key = {key ? strlen(key) : 0, key}, .type = MVQ_GGUF_ARRAY, .arr_type = MVQ_GGUF_STRING,
                      .arr_n = n};
    kv.v.strs = v;
    mvq_status st = mvq_gguf_writer_add_kv(w, &kv, err);
    free(v);
    return st;
}

mvq_status mvq_gguf_writer_add_kvs_from(mvq_gguf_writer *w, const mvq_gguf *g, const char *const *skip,
                                        mvq_error *err)
{
    for (int64_t i = 0; i < mvq_gguf_n_kv(g); i++) {
        const mvq_gguf_kv *kv = mvq_gguf_kv_at(g, i);
        bool skipped = w && w->hashing && strcmp(kv->key.data, MVQ_GGUF_KEY_TENSOR_HASHES) == 0;
        for (size_t s = 0; skip && skip[s] && !skipped; s++)
            skipped = strcmp(kv->key.data, skip[s]) == 0;
        mvq_status st = skipped ? MVQ_OK : mvq_gguf_writer_add_kv(w, kv, err);
        if (st != MVQ_OK)
            return st;
    }
    return MVQ_OK;
}

mvq_status mvq_gguf_writer_reserve_hashes(mvq_gguf_writer *w, mvq_error *err)
{
    mvq_status st = check_open_for_infos(w, err);
    if (st != MVQ_OK)
        return st;
    if (mvq_strset_contains(&w->keys, MVQ_GGUF_KEY_TENSOR_HASHES, strlen(MVQ_GGUF_KEY_TENSOR_HASHES)))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: duplicate metadata key '%s'", w->file.dst,
                             MVQ_GGUF_KEY_TENSOR_HASHES);
    w->hashing = true;
    return MVQ_OK;
}

mvq_status mvq_gguf_writer_add_tensor(mvq_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                                      uint32_t type, uint64_t size, mvq_error *err)
{
    mvq_status st = check_open_for_infos(w, err);
    if (st != MVQ_OK)
        return st;
    const char *dst = w->file.dst;
    size_t len = name ? strlen(name) : 0;
    /* names may come from a file being copied: messages show them printable */
    char shown[80];
    const char *name_shown = mvq_gguf_printable(name ? name : "", len, shown, sizeof shown);
    if (len == 0 || len > MVQ_GGUF_MAX_NAME)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: tensor name '%s' must have 1 to %d bytes", dst, name_shown,
                             MVQ_GGUF_MAX_NAME);
    if (n_dims > MVQ_GGUF_MAX_DIMS || (n_dims && !ne))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: tensor '%s' has %" PRIu32 " dimensions, at most %d", dst,
                             name_shown, n_dims, MVQ_GGUF_MAX_DIMS);
    if (mvq_strset_contains(&w->names, name, len))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: duplicate tensor name '%s'", dst, name_shown);
    wtensor t = {.n_dims = n_dims, .type = type, .size = size};
    for (int d = 0; d < MVQ_GGUF_MAX_DIMS; d++)
        t.ne[d] = (uint32_t)d < n_dims ? ne[d] : 1;
    int64_t nel;
    uint64_t expect;
    const char *why = "";
    if (!mvq_gguf_nelements(n_dims, t.ne, &nel))
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: tensor '%s' has a negative or overflowing shape", dst, name_shown);
    st = mvq_gguf_known_size(type, n_dims, t.ne, &expect, &why);
    if (st == MVQ_ERR_FORMAT)
        return mvq_error_set(err, MVQ_ERR_ARG, "%s: tensor '%s': %s", dst, name_shown, why);
    if (st == MVQ_OK && expect != size)
        return mvq_error_set(err, MVQ_ERR_ARG,
                             "%s: tensor '%s' of type %s: size %" PRIu64 " given, its shape needs %" PRIu64, dst,
                             name_shown, mvq_type_name((mvq_type)type), size, expect);
    if (w->n_tensors == w->cap_tensors) {
        int64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *q = realloc(w->tensors, (size_t)cap * sizeof *q);
        if (!q)
            return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
        w->tensors = q;
        w->cap_tensors = cap;
    }
    if (!(t.name = mvq_arena_strndup(w->arena, name, len)) || mvq_strset_insert(&w->names, t.name, len) < 0)
        return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
    w->tensors[w->n_tensors++] = t;
    return MVQ_OK;
}

/* ---- streaming ---- */

static mvq_status flush_out(mvq_gguf_writer *w, mvq_error *err)
{
    mvq_status st = mvq_tmpfile_write(&w->file, w->out.p, w->out.n, &w->failure);
    w->out.n = 0;
    if (st != MVQ_OK)
        return dead(w, err);
    return MVQ_OK;
}

static mvq_status out(mvq_gguf_writer *w, const void *p, size_t n, mvq_error *err)
{
    if (w->out.n + n > OUT_BUFFER_SIZE) {
        mvq_status st = flush_out(w, err);
        if (st != MVQ_OK)
            return st;
        if (n > OUT_BUFFER_SIZE) {
            if (mvq_tmpfile_write(&w->file, p, n, &w->failure) != MVQ_OK)
                return dead(w, err);
            return MVQ_OK;
        }
    }
    if (n) /* p may be NULL then (no metadata) */
        memcpy(w->out.p + w->out.n, p, n);
    w->out.n += n;
    return MVQ_OK;
}

static mvq_status out_zeros(mvq_gguf_writer *w, uint64_t n, mvq_error *err)
{
    mvq_status st = MVQ_OK;
    while (n > 0 && st == MVQ_OK) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        st = out(w, zeros, k, err);
        n -= k;
    }
    return st;
}

/* Appends the hash array's pair (zeros for now) and remembers where its
 * elements land in the file. */
static bool reserve_hash_pair(mvq_gguf_writer *w)
{
    const char *key = MVQ_GGUF_KEY_TENSOR_HASHES;
    if (!buf_str(&w->meta, key, strlen(key)) || !buf_u32(&w->meta, MVQ_GGUF_ARRAY) ||
        !buf_u32(&w->meta, MVQ_GGUF_UINT64) || !buf_u64(&w->meta, (uint64_t)w->n_tensors))
        return false;
    w->hashes_pos = MVQ_GGUF_HEADER_SIZE + w->meta.n;
    w->n_kv++;
    w->hashes = calloc((size_t)w->n_tensors + 1, sizeof *w->hashes);
    return w->hashes && buf_put(&w->meta, w->hashes, (size_t)w->n_tensors * 8);
}

static mvq_status emit_header(mvq_gguf_writer *w, mvq_error *err)
{
    const char *dst = w->file.dst;
    w->started = true;
    if (!(w->out.p = malloc(OUT_BUFFER_SIZE)))
        return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
    w->out.cap = OUT_BUFFER_SIZE;
    /* llama.cpp reads general.alignment; add it when it is not the default */
    if (w->alignment_value_pos < 0 && w->alignment != MVQ_GGUF_DEFAULT_ALIGNMENT) {
        uint64_t a = w->alignment;
        if (!buf_str(&w->meta, "general.alignment", 17) || !buf_u32(&w->meta, MVQ_GGUF_UINT32) ||
            !buf_u32(&w->meta, (uint32_t)a))
            return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
        w->n_kv++;
    }
    if (w->hashing && !reserve_hash_pair(w))
        return fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
    uint32_t head[2] = {MVQ_GGUF_MAGIC, 3};
    uint64_t counts[2] = {(uint64_t)w->n_tensors, w->n_kv};
    mvq_status st = out(w, head, sizeof head, err);
    if (st == MVQ_OK)
        st = out(w, counts, sizeof counts, err);
    if (st == MVQ_OK)
        st = out(w, w->meta.p, w->meta.n, err);
    uint64_t pos = MVQ_GGUF_HEADER_SIZE + w->meta.n, offset = 0;
    for (int64_t i = 0; i < w->n_tensors && st == MVQ_OK; i++) {
        wtensor *t = &w->tensors[i];
        t->offset = offset;
        bytebuf info = {0};
        bool ok = buf_str(&info, t->name, strlen(t->name)) && buf_u32(&info, t->n_dims) &&
                  buf_put(&info, t->ne, 8u * t->n_dims) && buf_u32(&info, t->type) && buf_u64(&info, t->offset);
        st = ok ? out(w, info.p, info.n, err) : fail(w, err, MVQ_ERR_NOMEM, "%s: out of memory", dst);
        pos += info.n;
        free(info.p);
        uint64_t padded;
        if (st == MVQ_OK && (!mvq_gguf_align_up(t->size, w->alignment, &padded) ||
                             __builtin_add_overflow(offset, padded, &offset)))
            st = fail(w, err, MVQ_ERR_ARG, "%s: tensor sizes overflow", dst);
    }
    uint64_t data_start;
    if (st == MVQ_OK && mvq_gguf_align_up(pos, w->alignment, &data_start))
        st = out_zeros(w, data_start - pos, err);
    return st;
}

/* Pads the finished tensor, records its hash and moves to the next one,
 * skipping tensors without data. */
static mvq_status next_tensor(mvq_gguf_writer *w, mvq_error *err)
{
    while (w->cur < w->n_tensors && w->cur_done == w->tensors[w->cur].size) {
        const wtensor *t = &w->tensors[w->cur];
        uint64_t padded;
        mvq_gguf_align_up(t->size, w->alignment, &padded); /* checked in emit_header */
        mvq_status st = out_zeros(w, padded - t->size, err);
        if (st != MVQ_OK)
            return st;
        if (w->hashing) {
            w->hashes[w->cur] = XXH3_64bits_digest(w->xxh);
            XXH3_64bits_reset(w->xxh);
        }
        w->cur++;
        w->cur_done = 0;
    }
    return MVQ_OK;
}

static mvq_status start(mvq_gguf_writer *w, mvq_error *err)
{
    mvq_status st = dead(w, err);
    if (st != MVQ_OK || w->started)
        return st;
    XXH3_64bits_reset(w->xxh);
    st = emit_header(w, err);
    return st == MVQ_OK ? next_tensor(w, err) : st;
}

mvq_status mvq_gguf_writer_write(mvq_gguf_writer *w, const void *data, size_t size, mvq_error *err)
{
    if (!w)
        return mvq_error_set(err, MVQ_ERR_ARG, "(writer): NULL writer");
    mvq_status st = start(w, err);
    const uint8_t *p = data;
    while (st == MVQ_OK && size > 0) {
        if (w->cur >= w->n_tensors)
            return fail(w, err, MVQ_ERR_ARG, "%s: more tensor data written than the tensor infos declare",
                        w->file.dst);
        const wtensor *t = &w->tensors[w->cur];
        size_t n = t->size - w->cur_done < size ? (size_t)(t->size - w->cur_done) : size;
        st = out(w, p, n, err);
        if (w->hashing)
            XXH3_64bits_update(w->xxh, p, n);
        w->cur_done += n;
        p += n;
        size -= n;
        if (st == MVQ_OK)
            st = next_tensor(w, err);
    }
    return st;
}

static mvq_status write_hashes(mvq_gguf_writer *w, mvq_error *err)
{
    if (!w->hashing || w->n_tensors == 0)
        return MVQ_OK;
    if (mvq_tmpfile_pwrite(&w->file, w->hashes, (size_t)w->n_tensors * 8, w->hashes_pos, &w->failure) != MVQ_OK)
        return dead(w, err);
    return MVQ_OK;
}

static void writer_free(mvq_gguf_writer *w)
{
    XXH3_freeState(w->xxh);
    mvq_strset_free(&w->keys);
    mvq_strset_free(&w->names);
    mvq_arena_free(w->arena);
    free(w->meta.p);
    free(w->out.p);
    free(w->tensors);
    free(w->hashes);
    free(w);
}

mvq_status mvq_gguf_writer_finish(mvq_gguf_writer *w, mvq_error *err)
{
    if (!w)
        return mvq_error_set(err, MVQ_ERR_ARG, "(writer): NULL writer");
    mvq_status st = start(w, err);
    if (st == MVQ_OK && w->cur < w->n_tensors)
        st = fail(w, err, MVQ_ERR_ARG, "%s: incomplete: tensor '%s' has %" PRIu64 " of its %" PRIu64 " bytes",
                  w->file.dst, w->tensors[w->cur].name, w->cur_done, w->tensors[w->cur].size);
    if (st == MVQ_OK)
        st = flush_out(w, err);
    if (st == MVQ_OK)
        st = write_hashes(w, err);
    if (st == MVQ_OK)
        st = mvq_tmpfile_commit(&w->file, err);
    else
        mvq_tmpfile_discard(&w->file);
    writer_free(w);
    return st;
}

void mvq_gguf_writer_abort(mvq_gguf_writer *w)
{
    if (!w)
        return;
    mvq_tmpfile_discard(&w->file);
    writer_free(w);
}
