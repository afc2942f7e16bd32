/* Small helpers of the GGUF code: value type names and sizes, tensor sizes,
 * an arena for the reader's strings and a string set for duplicate checks. */
#include "config.h"
#include "quant/gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const vtype_names[MVQ_GGUF_VTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};
static const unsigned char vtype_sizes[MVQ_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *mvq_gguf_vtype_name(mvq_gguf_vtype t)
{
    return (unsigned)t < MVQ_GGUF_VTYPE_COUNT ? vtype_names[t] : "?";
}

size_t mvq_gguf_vtype_size(mvq_gguf_vtype t)
{
    return (unsigned)t < MVQ_GGUF_VTYPE_COUNT ? vtype_sizes[t] : 0;
}

bool mvq_gguf_is_pow2(uint64_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

bool mvq_gguf_align_up(uint64_t x, uint64_t a, uint64_t *out)
{
    uint64_t r = x % a;
    if (r == 0) {
        *out = x;
        return true;
    }
    return !__builtin_add_overflow(x, a - r, out);
}

bool mvq_gguf_nelements(uint32_t n_dims, const int64_t *ne, int64_t *out)
{
    int64_t n = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] < 0 || __builtin_mul_overflow(n, ne[i], &n))
            return false;
    }
    *out = n;
    return true;
}

mvq_status mvq_gguf_known_size(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *size,
                               const char **why)
{
    const mvq_type_traits *tt = type < MVQ_TYPE_COUNT ? mvq_type_traits_get((mvq_type)type) : NULL;
    if (!tt || tt->block_size <= 0 || tt->type_size == 0)
        return MVQ_ERR_UNSUPPORTED;
    int64_t ne0 = n_dims > 0 ? ne[0] : 1, rows;
    if (ne0 < 0 || !mvq_gguf_nelements(n_dims > 0 ? n_dims - 1 : 0, ne + 1, &rows)) {
        *why = "negative or overflowing shape";
        return MVQ_ERR_FORMAT;
    }
    if (ne0 % tt->block_size != 0) {
        *why = "ne[0] is not a multiple of the type's block size";
        return MVQ_ERR_FORMAT;
    }
    uint64_t row = (uint64_t)(ne0 / tt->block_size), bytes;
    if (__builtin_mul_overflow(row, (uint64_t)tt->type_size, &row) ||
        __builtin_mul_overflow(row, (uint64_t)rows, &bytes)) {
        *why = "data size overflows";
        return MVQ_ERR_FORMAT;
    }
    *size = bytes;
    return MVQ_OK;
}

/* ---- arena ---- */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
} arena_chunk;

struct mvq_arena {
    arena_chunk *head;
};

mvq_arena *mvq_arena_new(void)
{
    return calloc(1, sizeof(mvq_arena));
}

void *mvq_arena_alloc(mvq_arena *a, size_t size)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        c = malloc(sizeof(arena_chunk) + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

char *mvq_arena_strndup(mvq_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = mvq_arena_alloc(a, len + 1);
    if (p) {
        if (len)
            memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void mvq_arena_free(mvq_arena *a)
{
    if (!a)
        return;
    for (arena_chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

/* ---- string set (open addressing, linear probing) ---- */
static uint64_t str_hash(const char *data, uint64_t len)
{
    return XXH3_64bits(data, (size_t)len);
}

static mvq_gguf_str *strset_find(const mvq_strset *s, const char *data, uint64_t len)
{
    uint64_t mask = s->cap - 1;
    for (uint64_t i = str_hash(data, len) & mask;; i = (i + 1) & mask) {
        mvq_gguf_str *e = &s->slots[i];
        if (!e->data || (e->len == len && memcmp(e->data, data, (size_t)len) == 0))
            return e;
    }
}

static bool strset_grow(mvq_strset *s)
{
    uint64_t cap = s->cap ? s->cap * 2 : 64;
    mvq_gguf_str *old = s->slots;
    uint64_t old_cap = s->cap;
    s->slots = calloc((size_t)cap, sizeof *s->slots);
    if (!s->slots) {
        s->slots = old;
        return false;
    }
    s->cap = cap;
    for (uint64_t i = 0; i < old_cap; i++)
        if (old[i].data)
            *strset_find(s, old[i].data, old[i].len) = old[i];
    free(old);
    return true;
}

int mvq_strset_insert(mvq_strset *s, const char *data, uint64_t len)
{
    if ((s->n + 1) * 2 > s->cap && !strset_grow(s))
        return -1;
    mvq_gguf_str *e = strset_find(s, data, len);
    if (e->data)
        return 0;
    e->data = data;
    e->len = len;
    s->n++;
    return 1;
}

bool mvq_strset_contains(const mvq_strset *s, const char *data, uint64_t len)
{
    return s->cap && strset_find(s, data, len)->data != NULL;
}

void mvq_strset_free(mvq_strset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

const char *mvq_gguf_printable(const char *s, uint64_t len, char *buf, size_t size)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len && n + 1 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (n + 4 >= size && i + 1 < len) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    buf[n] = '\0';
    return buf;
}
