/* Internal to quant/gguf_*.c: helpers shared by the GGUF reader, writer,
 * rules check and hashing. */
#ifndef MVQ_GGUF_INTERNAL_H
#define MVQ_GGUF_INTERNAL_H

#include <mvquant/gguf.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mvquant's GGUF code assumes a little-endian host"
#endif

/* GGUF's fixed header: magic, version, n_tensors, n_kv. */
#define MVQ_GGUF_HEADER_SIZE 24u

/* x rounded up to a multiple of a (a power of two); false on overflow. */
bool mvq_gguf_align_up(uint64_t x, uint64_t a, uint64_t *out);
bool mvq_gguf_is_pow2(uint64_t a);

/* Product of ne[0..n_dims); false when negative or overflowing int64. */
bool mvq_gguf_nelements(uint32_t n_dims, const int64_t *ne, int64_t *out);

/* Data size of a tensor of a type mvquant knows.  Returns MVQ_OK and sets
 * *size; MVQ_ERR_UNSUPPORTED when the type is unknown (size then comes from
 * the file's layout); MVQ_ERR_FORMAT with *why set when ne[0] is not a
 * multiple of the block size or the size overflows. */
mvq_status mvq_gguf_known_size(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *size,
                               const char **why);

/* A name from a file made safe for a one-line message: control bytes
 * become '?', long names are cut with "...".  Returns buf. */
const char *mvq_gguf_printable(const char *s, uint64_t len, char *buf, size_t size);

/* A bump allocator: many small allocations freed together. */
typedef struct mvq_arena mvq_arena;
mvq_arena *mvq_arena_new(void);
void *mvq_arena_alloc(mvq_arena *a, size_t size); /* NULL when out of memory */
/* NUL-terminated copy of len bytes. */
char *mvq_arena_strndup(mvq_arena *a, const char *s, size_t len);
void mvq_arena_free(mvq_arena *a);

/* A set of byte strings (keys, tensor names) for duplicate checks in O(1);
 * it stores the caller's pointers, which must stay valid. */
typedef struct mvq_strset {
    uint64_t cap, n;
    mvq_gguf_str *slots; /* data == NULL: empty */
} mvq_strset;
/* 1: inserted, 0: already present, -1: out of memory */
int mvq_strset_insert(mvq_strset *s, const char *data, uint64_t len);
bool mvq_strset_contains(const mvq_strset *s, const char *data, uint64_t len);
void mvq_strset_free(mvq_strset *s);

#endif
