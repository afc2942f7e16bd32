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

/* An open file, or a split set (llama.cpp's gguf-split: NAME-00001-of-0000N.gguf
 * ...): then the metadata are the first part's, the tensors all parts' in
 * part order, and each part stays open as a file of its own. */
struct mvq_gguf {
    char *path;
    const uint8_t *base;
    size_t size;
    bool mapped;
    uint32_t version;
    uint64_t alignment, data_offset;
    int64_t n_kv, n_tensors;
    mvq_gguf_kv *kvs;
    mvq_gguf_tensor *tensors;
    mvq_arena *arena;
    mvq_strset keys, names;
    /* a split set: n_parts files (0 for one file), the part of each tensor */
    int64_t n_parts;
    mvq_gguf **parts;
    uint16_t *tensor_part;
};

/* One file, split keys or not (mvq_gguf_open opens a whole set). */
mvq_gguf *mvq_gguf_open_file(const char *path, mvq_error *err);

#endif
